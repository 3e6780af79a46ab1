/* start.c - the shim's one-time start: the page size, where to log, the
 * settings, and the threshold that opens the large-allocation paths.
 *
 * Called by every path that may be first (a malloc before our constructor
 * ran, an allocator preloaded after us mapping memory from its own
 * constructor), so it sits below them all.  init_state: 0 not started, 1
 * in progress (other threads spin), 2 done; in_init guards the recursion
 * through a malloc made while starting.  No lock: the state is atomic.
 */
#include "start.h"
#include "config.h"
#include "log.h"
#include "next.h"
#include "os.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>

static int init_state;
static __thread int in_init;

void oms_start(void)
{
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 2 || in_init)
		return;
	if (!oms_next_resolve())
		return; /* inside dlsym: the bootstrap arena serves */
	int expect = 0;
	if (!__atomic_compare_exchange_n(&init_state, &expect, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2)
			sched_yield();
		return;
	}
	if (oms_next_sanitizer()) {
		/* Stand aside, before any libc call the runtime intercepts;
		 * the constructor says so once the runtime is up. */
		oms_cfg.disable = 1;
		__atomic_store_n(&oms_threshold, SIZE_MAX, __ATOMIC_RELEASE);
		__atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
		return;
	}
	int e = errno;
	in_init = 1;
	long pg = sysconf(_SC_PAGESIZE);
	if (pg > 0)
		oms_page = (size_t)pg;
	oms_log_capture_stderr(); /* before the first line (a bad setting) */
	oms_config_load(&oms_cfg, NULL);
	oms_os_root = oms_cfg.proc_root;
	in_init = 0;
	errno = e;
	__atomic_store_n(&oms_threshold, oms_cfg.disable ? SIZE_MAX : oms_cfg.threshold,
			 __ATOMIC_RELEASE);
	__atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
}

int oms_start_done(void)
{
	return __atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 2;
}

int oms_starting(void)
{
	return in_init;
}
