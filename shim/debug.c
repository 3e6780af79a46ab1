/* debug.c - the failure path of OMS_ASSERT (debug.h); empty in a release
 * build. */
#include "debug.h"

#ifdef OMS_DEBUG
#include <stdio.h> /* snprintf only: no stream is used */
#include <stdlib.h>
#include <unistd.h>

void oms_assert_fail(const char *cond, const char *file, int line)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "oomshield[%d]: invariant broken: %s (%s:%d)\n",
			 (int)getpid(), cond, file, line);
	if (n > 0)
		(void)!write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
	abort();
}
#else
typedef int oms_debug_unused; /* ISO C forbids an empty translation unit */
#endif
