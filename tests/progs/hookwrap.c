/* hookwrap.c - a program with the classic malloc wrapper of tracing and
 * hook code: its own malloc family forwarding to glibc's __libc_* names.
 * The shim interposes __libc_* too; if those called the interposable
 * malloc, this program's malloc would come back to itself without end.
 * Prints "ok <n>" after allocating, growing and freeing big and small
 * blocks, counting the calls that went through its wrappers. */
#include <stdio.h>
#include <string.h>

void *__libc_malloc(size_t);
void __libc_free(void *);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);

static unsigned long calls;

void *malloc(size_t n)
{
	calls++;
	return __libc_malloc(n);
}

void free(void *p)
{
	__libc_free(p);
}

void *calloc(size_t n, size_t size)
{
	calls++;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	calls++;
	return __libc_realloc(p, n);
}

int main(void)
{
	unsigned long sum = 0;
	for (size_t n = 100; n <= (8u << 20); n *= 4) {
		unsigned char *p = malloc(n), *z = calloc(1, n);
		if (!p || !z)
			return 1;
		memset(p, 5, n);
		p = realloc(p, 2 * n);
		if (!p)
			return 1;
		sum += p[n - 1] + z[n - 1];
		free(p);
		free(z);
	}
	char *s = strdup("x");
	free(s);
	printf("ok %lu %d\n", sum, calls >= 3 * 9);
	return 0;
}
