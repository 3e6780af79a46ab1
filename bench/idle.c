/* idle.c - row 8: an idle process.  Prints "ready", then blocks reading
 * stdin until EOF.  The driver reads its VmRSS meanwhile. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	char b[64];
	printf("ready\n");
	fflush(stdout);
	while (read(0, b, sizeof b) > 0)
		;
	return 0;
}
