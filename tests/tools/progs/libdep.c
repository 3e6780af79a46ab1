/* libdep.c - a shared library that allocates, for the RUNPATH/$ORIGIN
 * resolution test of oomshield-check. */
#include <stdlib.h>

void *dep_alloc(size_t n)
{
	return calloc(1, n);
}
