/* refill.c - a program that frees a large buffer and then writes a file of
 * the same size on the same (small) disk, ROUNDS times.  A free() that has
 * not given the disk back yet would make the write fail.
 * Usage: refill DIR SIZE_MIB ROUNDS; exit 0, or 1 with the round that
 * failed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	size_t n = (size_t)atol(argv[2]) << 20;
	int rounds = atoi(argv[3]);
	char path[4096];
	snprintf(path, sizeof path, "%s/refill.dat", argv[1]);
	for (int r = 0; r < rounds; r++) {
		char *p = malloc(n);
		if (!p)
			return 3;
		memset(p, r + 1, n);
		free(p);
		int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
		if (fd < 0)
			return 3;
		int e = posix_fallocate(fd, 0, (off_t)n);
		close(fd);
		unlink(path);
		if (e) {
			fprintf(stderr, "refill: round %d: %s\n", r, strerror(e));
			return 1;
		}
	}
	printf("ok\n");
	return 0;
}
