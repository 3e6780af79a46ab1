/* init.c - constructor, destructor and fork handlers.
 *
 * The constructor initialises eagerly (the malloc wrappers also do it
 * lazily, for calls that come before it), registers the fork handlers and
 * starts the DefragTick thread.  The destructor only prints the stats line:
 * calls that arrive after it (other libraries' destructors, atexit
 * handlers) still find every structure intact.
 *
 * Fork handlers take the locks in the order given in block.h:
 * DefragTick's, oms_map_lock, then oms_lock; they release in reverse.
 */
#include "advise.h"
#include "alloc.h"
#include "big.h"
#include "config.h"
#include "heap.h"
#include "huge.h"
#include "log.h"
#include "next.h"
#include "os.h"
#include "region.h"
#include "stats.h"

#include <pthread.h>

/* Weak: present when the DefragTick module is linked in. */
void oms_defrag_start(void) __attribute__((weak));
void oms_defrag_atfork_prepare(void) __attribute__((weak));
void oms_defrag_atfork_parent(void) __attribute__((weak));
void oms_defrag_atfork_child(void) __attribute__((weak));
int oms_defrag_started(void) __attribute__((weak));
void oms_defrag_stop(void) __attribute__((weak));

static void prepare(void)
{
	if (oms_defrag_atfork_prepare)
		oms_defrag_atfork_prepare();
	oms_region_fork_prepare();
	oms_big_fork_prepare();
}

static void parent(void)
{
	oms_big_fork_parent();
	oms_region_fork_parent();
	if (oms_defrag_atfork_parent)
		oms_defrag_atfork_parent();
}

static void child(void)
{
	oms_huge_fork_child(); /* with oms_lock still held */
	oms_big_fork_child();
	oms_region_fork_child();
	oms_advise_reset();
	if (oms_defrag_atfork_child)
		oms_defrag_atfork_child();
}

__attribute__((constructor)) static void oms_ctor(void)
{
	oms_init();
	const char *san = oms_next_sanitizer();
	if (san) {
		/* oms_init stood aside; the runtime is up now, so the settings
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
		oms_cfg.dir_ok = 0;
		return;
	}
	pthread_atfork(prepare, parent, child);
	oms_heap_start();
	if (!oms_cfg.disable && oms_cfg.dir_ok)
		oms_os_fd_prepare(); /* before any thread of ours exists */
	if (oms_cfg.defrag && oms_defrag_start) {
		oms_advise_start(); /* only with the thread that can undo it */
		oms_defrag_start();
	}
	/* Large folios only with the thread running: it gives them up. */
	if (oms_cfg.dir_ok && oms_defrag_started && oms_defrag_started())
		oms_huge_start();
	else if (oms_cfg.huge == 1 && oms_cfg.dir_ok)
		oms_warn("OOMSHIELD_HUGEPAGE=1 needs the DefragTick thread (%s): blocks keep 4 KiB pages",
			 oms_cfg.defrag ? "it could not start" : "OOMSHIELD_DEFRAG=0 here");
}

__attribute__((destructor)) static void oms_dtor(void)
{
	if (oms_defrag_stop)
		oms_defrag_stop();
	oms_stats_print();
}
