/* plain.c - an ordinary dynamic C program that allocates: protectable. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	char *p = malloc(1 << 20);
	puts(p ? "ok" : "fail");
	free(p);
	return 0;
}
