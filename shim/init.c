/* init.c - constructor, destructor and fork handlers; the one place that
 * knows which jobs the background thread runs.
 *
 * The constructor initialises eagerly (the malloc wrappers also do it
 * lazily, for calls that come before it), registers the fork handlers and
 * the ticker's jobs, and starts the thread.  The destructor stops the
 * thread and prints the stats line: calls that arrive after it (other
 * libraries' destructors, atexit handlers) still find every structure
 * intact.
 *
 * The jobs, in the order they run at a tick (ticker.h):
 *   read-around   advise.c, every OOMSHIELD_DEFRAG_INTERVAL_MS, every
 *                 200 ms while the program pages (oms_advise_wanted_ms);
 *   huge give-up  huge.c, right after read-around, on its sample;
 *   cache decay   big.c, every interval;
 *   fork switch-back  forkback.c, every interval, every 50 ms while
 *                 memory frozen at a fork waits: tests the canary and,
 *                 alone, switches back with the program's threads held
 *                 still (stop.c); without the thread the program's large
 *                 calls and wait* test and switch;
 *   DefragTick    defrag.c, every interval, last: a compaction may block
 *                 for seconds.
 * OOMSHIELD_DEFRAG=0 leaves DefragTick out; OOMSHIELD_THREAD=0 starts no
 * thread, so no job runs (read-around then stays the kernel's: see
 * docs/bench.md 29).  Read-around, give-up and decay concern only our
 * files: without a usable OOMSHIELD_DIR they are not registered.
 *
 * Fork handlers take the locks in the order given in block.h: ticker.c's
 * fork_mu, defrag.c's fork_mu, oms_map_lock, oms_lock, then forkback.c's
 * fb_mu; they release in reverse.
 */
#include "advise.h"
#include "alloc.h"
#include "big.h"
#include "config.h"
#include "defrag.h"
#include "forkback.h"
#include "heap.h"
#include "huge.h"
#include "log.h"
#include "next.h"
#include "os.h"
#include "region.h"
#include "start.h"
#include "stats.h"
#include "ticker.h"

#include <pthread.h>

static void prepare(void)
{
	oms_ticker_atfork_prepare();
	oms_defrag_atfork_prepare();
	oms_region_fork_prepare();
	oms_big_fork_prepare();
	oms_forkback_prepare(); /* last: it looks at what the others froze */
}

static void parent(void)
{
	oms_forkback_parent();
	oms_big_fork_parent();
	oms_region_fork_parent();
	oms_defrag_atfork_parent();
	oms_ticker_atfork_parent();
}

static void child(void)
{
	oms_forkback_child();
	oms_huge_fork_child(); /* with oms_lock still held */
	oms_big_fork_child();
	oms_region_fork_child();
	oms_advise_reset();
	oms_defrag_atfork_child();
	oms_ticker_atfork_child();
}

static void defrag_job(void)
{
	oms_defrag_tick();
}

/* The jobs; 1 if the thread has any. */
static int add_jobs(void)
{
	unsigned every = oms_cfg.defrag_interval_ms;
	int n = 0;
	unsigned maj, min;
	if (oms_cfg.dir_ok && oms_os_dir_dev(oms_cfg.dir, &maj, &min) == 0)
		oms_advise_room(maj, min);
	if (oms_cfg.dir_ok) {
		n += oms_ticker_add("read-around", every, oms_advise_wanted_ms, oms_advise_tick) == 0;
		n += oms_ticker_add("huge give-up", every, oms_advise_wanted_ms, oms_huge_job) == 0;
		n += oms_ticker_add("cache decay", every, NULL, oms_big_cache_tick) == 0;
	}
	if (oms_cfg.dir_ok)
		n += oms_ticker_add("fork switch-back", every, oms_forkback_wanted_ms,
				    oms_forkback_job) == 0;
	if (oms_cfg.defrag) {
		oms_defrag_init();
		n += oms_ticker_add("DefragTick", every, NULL, defrag_job) == 0;
	}
	return n > 0;
}

__attribute__((constructor)) static void oms_ctor(void)
{
	oms_start();
	const char *san = oms_next_sanitizer();
	if (san) {
		/* oms_start stood aside; the runtime is up now, so the settings
		 * (where to log) can be read for this one line - unless they
		 * turn the shim off anyway. */
		oms_next_aside();
		oms_log_capture_stderr();
		oms_config_load(&oms_cfg, NULL);
		if (!oms_cfg.disable)
			oms_warn("%s replaces malloc in this program (a sanitizer build): it runs "
				 "unprotected", san);
		oms_cfg.disable = 1;
		oms_cfg.defrag = 0;
		oms_cfg.thread = 0;
		oms_cfg.dir_ok = 0;
		return;
	}
	pthread_atfork(prepare, parent, child);
	oms_advise_hook(oms_region_ranges, oms_huge_watch);
	oms_heap_start();
	if (!oms_cfg.disable && oms_cfg.dir_ok) {
		oms_os_fd_prepare(); /* before any thread of ours exists */
		oms_forkback_init(); /* before main can have made holes */
	}
	if (oms_cfg.thread && add_jobs()) {
		if (oms_cfg.dir_ok)
			oms_advise_start(); /* only with the thread that can undo it */
		oms_ticker_start();
	}
	/* Large folios only with the thread running: its job gives them up. */
	if (oms_cfg.dir_ok && oms_ticker_started())
		oms_huge_start();
	else if (oms_cfg.huge == 1 && oms_cfg.dir_ok)
		oms_warn("OOMSHIELD_HUGEPAGE=1 needs the background thread (%s): blocks keep 4 KiB pages",
			 oms_cfg.thread ? "it could not start" : "OOMSHIELD_THREAD=0 here");
}

__attribute__((destructor)) static void oms_dtor(void)
{
	oms_ticker_stop();
	char df[256] = "";
	oms_defrag_stats(df, sizeof df);
	oms_stats_print(df);
}
