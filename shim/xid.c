/* xid.c - the exported set*id family: thin wrappers that keep the
 * background thread (ticker.c) out of the program's credential changes.
 *
 * glibc runs a set*id call on every thread and aborts the process when one
 * thread's call fails.  Capabilities are per thread: a program that keeps
 * them across setresuid (PR_SET_KEEPCAPS) and raises CAP_SETGID again in
 * its own thread only (setpriv, privilege-dropping daemons) would see our
 * thread's setresgid fail.  So, when the calling thread's capabilities
 * differ from our thread's, the thread is stopped and joined before the
 * call and started again after it, with the new credentials
 * (oms_ticker_pause/resume).  The real functions come from the next
 * library, looked up at first use.  Only ticker.c's pause_mu is held
 * across the call (sleep_mu is taken under it, and the thread joined,
 * inside pause), so that two such calls do not interleave; errno is the
 * real call's.  A log file not yet opened (log.c opens it at the first
 * line) is opened before the call, while the credentials that were meant
 * to open it still hold.
 */
#include "log.h"
#include "next.h"
#include "ticker.h"

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* Calls the next `name` with the given arguments, the thread paused. */
#define XID_WRAP(name, call_args) \
	do {                                                                    \
		static void *slot;                                              \
		__typeof__(name) *fn = (__typeof__(name) *)oms_next_lazy(&slot, #name);\
		if (!fn) {                                                      \
			errno = ENOSYS;                                         \
			return -1;                                              \
		}                                                               \
		int cs_;                                                        \
		/* not a cancellation point, as glibc's own is not */          \
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs_);           \
		oms_log_open_now(); /* while it still may */                   \
		int paused_ = oms_ticker_pause();                               \
		int ret_ = fn call_args;                                        \
		int e_ = errno;                                                 \
		oms_ticker_resume(paused_);                                     \
		pthread_setcancelstate(cs_, NULL);                              \
		errno = e_;                                                     \
		return ret_;                                                    \
	} while (0)

EXPORT int setuid(uid_t u)
{
	XID_WRAP(setuid, (u));
}

EXPORT int setgid(gid_t g)
{
	XID_WRAP(setgid, (g));
}

EXPORT int seteuid(uid_t u)
{
	XID_WRAP(seteuid, (u));
}

EXPORT int setegid(gid_t g)
{
	XID_WRAP(setegid, (g));
}

EXPORT int setreuid(uid_t r, uid_t e)
{
	XID_WRAP(setreuid, (r, e));
}

EXPORT int setregid(gid_t r, gid_t e)
{
	XID_WRAP(setregid, (r, e));
}

EXPORT int setresuid(uid_t r, uid_t e, uid_t s)
{
	XID_WRAP(setresuid, (r, e, s));
}

EXPORT int setresgid(gid_t r, gid_t e, gid_t s)
{
	XID_WRAP(setresgid, (r, e, s));
}

EXPORT int setgroups(size_t n, const gid_t *list)
{
	XID_WRAP(setgroups, (n, list));
}

/* glibc's initgroups calls its own setgroups, not ours. */
EXPORT int initgroups(const char *user, gid_t group)
{
	XID_WRAP(initgroups, (user, group));
}
