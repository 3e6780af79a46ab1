/* wait.c - the exported wait family: thin wrappers.  After the real call
 * returns, memory frozen at fork may go back into its files (forkback.h):
 * a parent that forks, execs a helper and waits for it gets its protection
 * back right there, on its own thread.  The real functions come from the
 * next library, looked up at first use; errno and the result are the real
 * call's.  Nothing here runs before the call, so a wait that blocks
 * blocks exactly as before.
 */
#include "forkback.h"
#include "next.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#define EXPORT __attribute__((visibility("default")))

#define WAIT_WRAP(type, name, proto_args, call_args)                              \
	EXPORT type name proto_args                                               \
	{                                                                         \
		static void *slot;                                                \
		type (*fn) proto_args = (type (*) proto_args)oms_next_lazy(&slot, #name);\
		if (!fn) {                                                        \
			errno = ENOSYS;                                           \
			return -1;                                                \
		}                                                                 \
		type r = fn call_args;                                            \
		if (__atomic_load_n(&oms_forkback_armed, __ATOMIC_RELAXED))       \
			oms_forkback_after_wait(); /* keeps errno */              \
		return r;                                                         \
	}

WAIT_WRAP(pid_t, wait, (int *st), (st))
WAIT_WRAP(pid_t, waitpid, (pid_t pid, int *st, int opt), (pid, st, opt))
WAIT_WRAP(pid_t, wait3, (int *st, int opt, struct rusage *ru), (st, opt, ru))
WAIT_WRAP(pid_t, wait4, (pid_t pid, int *st, int opt, struct rusage *ru), (pid, st, opt, ru))
WAIT_WRAP(int, waitid, (idtype_t t, id_t id, siginfo_t *in, int opt), (t, id, in, opt))
