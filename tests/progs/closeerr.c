/* closeerr.c - a program that closes its stderr and opens a data file,
 * which gets fd 2, then makes large allocations (the shim may want to log
 * a fallback) and exits (the shim may print its stats line).  The data
 * file must hold exactly what the program wrote.  Usage: closeerr FILE */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	close(2);
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd != 2)
		return 3;
	char *a = malloc(4 << 20), *b = malloc(4 << 20), *c = malloc(4 << 20);
	if (!a || !b || !c)
		return 4;
	memset(a, 1, 4 << 20);
	memset(b, 2, 4 << 20);
	memset(c, 3, 4 << 20);
	if (write(fd, "data\n", 5) != 5)
		return 5;
	free(a);
	free(b);
	free(c);
	return 0;
}
