/* ownmalloc.c - an executable that brings its own malloc/free (a bump
 * allocator): its symbols win over any preload, so it cannot be protected. */
#include <stddef.h>
#include <unistd.h>

static char arena[1 << 20];
static size_t used;

void *malloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (n > sizeof arena - used)
		return NULL;
	used += n;
	return arena + used - n;
}

void free(void *p)
{
	(void)p;
}

int main(void)
{
	char *p = malloc(64);
	return write(1, p ? "ok\n" : "no\n", 3) != 3;
}
