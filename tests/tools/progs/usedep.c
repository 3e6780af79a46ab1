/* usedep.c - uses libdep.so found through RUNPATH $ORIGIN/lib. */
#include <stddef.h>

void *dep_alloc(size_t n);

int main(void)
{
	return dep_alloc(16) == NULL;
}
