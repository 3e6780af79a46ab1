/* test_defrag.c - the DefragTick state machine, one tick's I/O, the
 * system-wide single actor and the thread (shim/defrag.c).
 *
 * The I/O tests replace oms_os.read_file / write_file / now_ms with fakes
 * (a table of files, a list of writes, a clock); the lock file and the
 * thread tests use a temporary folder as OOMSHIELD_PROC_ROOT.  Check runs
 * each test in its own process, so global state never leaks between them. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "defrag.h"
#include "ticker.h"
#include "log.h"
#include "os.h"
#include "unit_util.h"

/* ---- fixtures and fakes ---- */

static const char FRAG_BUDDY[] =     /* extfrag 0.750 at order 2: level 2 */
	"Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 \n"
	"Node 0, zone   Normal 100000     50      0      0      0      0      0      0      0      0      0 \n";
static const char IDLE_BUDDY[] =
	"Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 \n"
	"Node 0, zone    DMA32      2      2      4      2      5      4      3      3      4      2    752 \n"
	"Node 0, zone   Normal    269    279    675    705    431    258    134    140    103     62    308 \n";
static const char PARTIAL_BUDDY[] = /* extfrag all -1.000, unusable 0.992 from order 1 */
	"Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 \n"
	"Node 0, zone    DMA32  76001      2      0      1      1      2      1      0      0      2    565 \n"
	"Node 0, zone   Normal 2650814    268     44     60     27     11      7      6      1      2     16 \n";
static const char NUMA_ZONEINFO[] =
	"Node 0, zone   Normal\n  pages free 1\n        managed  4000000\n"
	"Node 1, zone   Normal\n  pages free 1\n        managed  4000000\n";
static const char NUMA_BUDDY_N1_FRAG[] =
	"Node 0, zone   Normal 10 10 10 10 10 10 10 10 10 10 10\n"
	"Node 1, zone   Normal 100000 50 0 0 0 0 0 0 0 0 0\n";

#define MAXF 16
static struct { const char *path, *text; int err; } files[MAXF];
static int nfiles;
static struct { char path[128], text[8]; } writes[64];
static int nwrites, write_calls;
static struct { const char *path; int err; } wfail[MAXF];
static int nwfail;
static uint64_t clock_ms = 100000;
static int reads_of_buddy;

static void file(const char *path, const char *text)
{
	files[nfiles].path = path;
	files[nfiles].text = text;
	files[nfiles++].err = 0;
}

static void file_err(const char *path, int err)
{
	files[nfiles].path = path;
	files[nfiles].text = NULL;
	files[nfiles++].err = err;
}

static void write_fails(const char *path, int err)
{
	wfail[nwfail].path = path;
	wfail[nwfail++].err = err;
}

static ssize_t fake_read(const char *path, char *buf, size_t cap)
{
	if (!strcmp(path, "/proc/buddyinfo"))
		reads_of_buddy++;
	for (int i = 0; i < nfiles; i++) {
		if (strcmp(files[i].path, path))
			continue;
		if (files[i].err) {
			errno = files[i].err;
			return -1;
		}
		size_t n = strlen(files[i].text);
		if (n > cap - 1)
			n = cap - 1;
		memcpy(buf, files[i].text, n);
		buf[n] = '\0';
		return (ssize_t)n;
	}
	errno = ENOENT;
	return -1;
}

/* Writable: the two /proc/sys/vm files, and node files only when listed
 * as files (like sysfs, where they exist or not). */
static int fake_write(const char *path, const char *text)
{
	write_calls++;
	for (int i = 0; i < nwfail; i++)
		if (!strcmp(wfail[i].path, path) || !strcmp(wfail[i].path, "*")) {
			errno = wfail[i].err;
			return -1;
		}
	int exists = !strcmp(path, "/proc/sys/vm/compact_memory") ||
		     !strcmp(path, "/proc/sys/vm/drop_caches");
	for (int i = 0; i < nfiles; i++)
		if (!strcmp(files[i].path, path))
			exists = 1;
	if (!exists) {
		errno = ENOENT;
		return -1;
	}
	ck_assert_int_lt(nwrites, 64);
	snprintf(writes[nwrites].path, sizeof writes[0].path, "%s", path);
	snprintf(writes[nwrites].text, sizeof writes[0].text, "%s", text);
	nwrites++;
	return 0;
}

static uint64_t clock_step; /* added after every reading: a clock that runs */

static uint64_t fake_now(void)
{
	uint64_t t = clock_ms;
	clock_ms += clock_step;
	return t;
}

static char root[256], dir[256], logpath[300];

static const char *no_env(const char *name)
{
	(void)name;
	return NULL;
}

static void rm_rf(const char *path)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

static void setup(void)
{
	oms_config_load(&oms_cfg, no_env);
	snprintf(root, sizeof root, "/tmp/oms-defrag-root.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(dir, sizeof dir, "/tmp/oms-defrag-dir.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char run[300];
	snprintf(run, sizeof run, "%s/run", root);
	ck_assert_int_eq(mkdir(run, 0755), 0);
	strcpy(oms_cfg.proc_root, root);
	oms_os_root = oms_cfg.proc_root;
	strcpy(oms_cfg.dir, dir);
	snprintf(logpath, sizeof logpath, "%s/log", dir);
	oms_log_level = OMS_LOG_DEBUG;
	oms_log_open(logpath);
	oms_os.read_file = fake_read;
	oms_os.write_file = fake_write;
	oms_os.now_ms = fake_now;
	nfiles = nwrites = write_calls = nwfail = reads_of_buddy = 0;
	clock_ms = 100000;
	clock_step = 0;
	oms_defrag_reset();
}

static void teardown(void)
{
	oms_os_reset();
	rm_rf(root);
	rm_rf(dir);
}

/* A fresh case inside one test. */
static void again(void)
{
	teardown();
	setup();
}

/* Lines of the log holding `needle`. */
static int log_count(const char *needle)
{
	FILE *f = fopen(logpath, "r");
	char line[1024];
	int n = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static unsigned tick_at(uint64_t t)
{
	clock_ms = t;
	return oms_defrag_tick();
}

/* ---- the state machine, pure ---- */

static struct oms_defrag_state S;

static void policy(unsigned gap, unsigned drop_after)
{
	oms_config_load(&oms_cfg, no_env);
	oms_cfg.defrag_min_gap_ms = gap;
	oms_cfg.drop_caches_after = drop_after;
	oms_defrag_state_init(&S);
}

/* Step, and report every asked action as achieved. */
static unsigned run(uint64_t t, int level, int frag)
{
	unsigned a = oms_defrag_step(&S, t, level, frag, frag ? 1 : 0);
	if (a)
		oms_defrag_done(&S, a, t);
	return a;
}

START_TEST(sm_pending_and_gap)
{
	policy(5000, 20);
	ck_assert_uint_eq(run(1000, 11, 0), 0);           /* healthy: nothing owed */
	ck_assert_uint_eq(run(2000, 3, 1), OMS_DEFRAG_COMPACT); /* first chance */
	ck_assert_int_eq(S.pending, 0);
	ck_assert_uint_eq(run(3000, 3, 1), 0);            /* within the gap */
	ck_assert_int_eq(S.pending, 1);
	ck_assert_uint_eq(run(6999, 3, 1), 0);
	ck_assert_uint_eq(run(7000, 3, 1), OMS_DEFRAG_COMPACT); /* exactly 5 s later */
	/* The seed keeps a pending compaction through recovery. */
	ck_assert_uint_eq(run(8000, 3, 1), 0);
	ck_assert_uint_eq(run(9000, 11, 0), 0);
	ck_assert_uint_eq(S.fragged, 0);
	ck_assert_uint_eq(run(12000, 11, 0), OMS_DEFRAG_COMPACT);
	ck_assert_uint_eq(run(20000, 11, 0), 0);          /* and then nothing */
	ck_assert_uint_eq(S.compactions, 3);
	ck_assert_uint_eq(S.ticks, 9);
	ck_assert_uint_eq(S.frag_ticks, 5);
	ck_assert_int_eq(S.min_level, 3);
}
END_TEST

START_TEST(sm_drop_after_20)
{
	/* The seed's cadence: a tick a second, compaction every 5 s. */
	policy(5000, 20);
	unsigned drops_at[4], nd = 0, compacts = 0;
	for (unsigned i = 1; i <= 45; i++) {
		unsigned a = run(i * 1000ull, 2, 1);
		if (a & OMS_DEFRAG_COMPACT)
			compacts++;
		if (a & OMS_DEFRAG_DROP) {
			ck_assert(a & OMS_DEFRAG_COMPACT); /* drop, then compact */
			drops_at[nd++] = i;
			ck_assert_uint_eq(S.fragged, 0);   /* the count is reset */
		}
	}
	/* Compactions at ticks 1, 6, 11, 16, 21, 26, ...; the count reaches
	 * 20 at tick 20, acted on at 21; then 20 more ticks to tick 41. */
	ck_assert_uint_eq(nd, 2);
	ck_assert_uint_eq(drops_at[0], 21);
	ck_assert_uint_eq(drops_at[1], 41);
	ck_assert_uint_eq(compacts, 9);
	ck_assert_uint_eq(S.drops, 2);
}
END_TEST

START_TEST(sm_recovery_resets_count)
{
	policy(5000, 20);
	for (unsigned i = 1; i <= 19; i++)
		run(i * 1000ull, 2, 1);
	ck_assert_uint_eq(S.fragged, 19);
	run(20000, 11, 0);
	ck_assert_uint_eq(S.fragged, 0);
	for (unsigned i = 21; i <= 39; i++)
		ck_assert(!(run(i * 1000ull, 2, 1) & OMS_DEFRAG_DROP));
	ck_assert_uint_eq(S.drops, 0);
}
END_TEST

START_TEST(sm_drop_never)
{
	policy(0, 0);
	for (unsigned i = 1; i <= 100; i++)
		ck_assert_uint_eq(run(i, 1, 1), OMS_DEFRAG_COMPACT); /* gap 0: every tick */
	ck_assert_uint_eq(S.drops, 0);
}
END_TEST

START_TEST(sm_inert_and_failure_backoff)
{
	policy(5000, 1);
	S.inert = 1;
	for (unsigned i = 1; i <= 50; i++)
		ck_assert_uint_eq(run(i * 1000ull, 0, 1), 0);
	ck_assert_uint_eq(S.frag_ticks, 50);
	ck_assert_int_eq(S.min_level, 0);
	/* A failed attempt (done with nothing achieved) still waits a gap. */
	policy(5000, 0);
	ck_assert_uint_eq(oms_defrag_step(&S, 1000, 1, 1, 1), OMS_DEFRAG_COMPACT);
	oms_defrag_done(&S, 0, 1000);
	ck_assert_int_eq(S.pending, 1);
	ck_assert_uint_eq(oms_defrag_step(&S, 2000, 1, 1, 1), 0);
	ck_assert_uint_eq(oms_defrag_step(&S, 6000, 1, 1, 1), OMS_DEFRAG_COMPACT);
	/* NOCOUNT: done, but not by us. */
	oms_defrag_done(&S, OMS_DEFRAG_COMPACT | OMS_DEFRAG_NOCOUNT, 6000);
	ck_assert_int_eq(S.pending, 0);
	ck_assert_uint_eq(S.compactions, 0);
}
END_TEST

/* ---- one tick, against fake files ---- */

static int wrote(const char *path, const char *text)
{
	int n = 0;
	for (int i = 0; i < nwrites; i++)
		if (!strcmp(writes[i].path, path) && !strcmp(writes[i].text, text))
			n++;
	return n;
}

#define COMPACT "/proc/sys/vm/compact_memory"
#define DROP "/proc/sys/vm/drop_caches"
#define NODE0 "/sys/devices/system/node/node0/compact"
#define NODE1 "/sys/devices/system/node/node1/compact"

START_TEST(tick_fragmented_compacts)
{
	file("/proc/buddyinfo", FRAG_BUDDY);
	ck_assert_uint_eq(tick_at(100000), OMS_DEFRAG_COMPACT);
	ck_assert_int_eq(nwrites, 1);
	ck_assert_int_eq(wrote(COMPACT, "1"), 1);
	/* Within the 5 s gap: nothing; after it: again. */
	for (uint64_t t = 101000; t < 105000; t += 1000)
		ck_assert_uint_eq(tick_at(t), 0);
	ck_assert_int_eq(nwrites, 1);
	ck_assert_uint_eq(tick_at(105000), OMS_DEFRAG_COMPACT);
	ck_assert_int_eq(wrote(COMPACT, "1"), 2);
	ck_assert_int_eq(log_count("compacting"), 2);
	struct oms_defrag_state s;
	oms_defrag_snapshot(&s);
	ck_assert_uint_eq(s.ticks, 6);
	ck_assert_uint_eq(s.compactions, 2);
	ck_assert_int_eq(s.min_level, 2);
	/* The zone list came from buddyinfo (no zoneinfo): Normal, the
	 * zone with the most free pages, not DMA. */
	ck_assert_int_eq(log_count("node 0 zone Normal safety level 2 < 9"), 2);
}
END_TEST

START_TEST(tick_healthy_writes_nothing)
{
	file("/proc/buddyinfo", IDLE_BUDDY);
	file("/proc/zoneinfo", NUMA_ZONEINFO);
	for (uint64_t t = 0; t < 100; t++)
		ck_assert_uint_eq(tick_at(100000 + t * 1000), 0);
	ck_assert_int_eq(write_calls, 0);
	struct oms_defrag_state s;
	oms_defrag_snapshot(&s);
	ck_assert_uint_eq(s.ticks, 100);
	ck_assert_uint_eq(s.frag_ticks, 0);
	ck_assert_int_eq(s.min_level, 11);
}
END_TEST

START_TEST(tick_drop_then_compact)
{
	oms_cfg.drop_caches_after = 3;
	oms_cfg.defrag_min_gap_ms = 0;
	file("/proc/buddyinfo", FRAG_BUDDY);
	ck_assert_uint_eq(tick_at(1000), OMS_DEFRAG_COMPACT);
	ck_assert_uint_eq(tick_at(2000), OMS_DEFRAG_COMPACT);
	ck_assert_uint_eq(tick_at(3000), OMS_DEFRAG_COMPACT | OMS_DEFRAG_DROP);
	ck_assert_int_eq(nwrites, 4);
	ck_assert_str_eq(writes[2].path, DROP); /* the cache goes first */
	ck_assert_str_eq(writes[2].text, "3");
	ck_assert_str_eq(writes[3].path, COMPACT);
	ck_assert_uint_eq(tick_at(4000), OMS_DEFRAG_COMPACT); /* count was reset */
	ck_assert_int_eq(log_count("dropping the page cache"), 1);
}
END_TEST

START_TEST(tick_dry_run)
{
	oms_cfg.defrag_dry_run = 1;
	oms_cfg.drop_caches_after = 2;
	oms_cfg.defrag_min_gap_ms = 1000;
	file("/proc/buddyinfo", FRAG_BUDDY);
	for (uint64_t t = 1; t <= 10; t++)
		tick_at(t * 1000);
	ck_assert_int_eq(write_calls, 0);
	ck_assert_int_eq(log_count("dry run"), 10);
	ck_assert_int_eq(log_count("would drop caches"), 5);
	char lock[400];
	snprintf(lock, sizeof lock, "%s/run/oomshield-defrag.lock", root);
	ck_assert_int_ne(access(lock, F_OK), 0); /* not even the lock file */
	struct oms_defrag_state s;
	oms_defrag_snapshot(&s);
	ck_assert_uint_eq(s.compactions, 0);
}
END_TEST

START_TEST(tick_no_root)
{
	/* compact_memory is mode 0200 root: EACCES for everyone else. */
	oms_cfg.drop_caches_after = 2;
	file("/proc/buddyinfo", FRAG_BUDDY);
	write_fails("*", EACCES);
	for (uint64_t t = 1; t <= 200; t++)
		tick_at(t * 1000);
	ck_assert_int_eq(write_calls, 1);
	ck_assert_int_eq(log_count("cannot write"), 1);
	ck_assert_int_eq(log_count("monitoring only"), 1);
	struct oms_defrag_state s;
	oms_defrag_snapshot(&s);
	ck_assert_uint_eq(s.ticks, 200); /* still monitoring */
	ck_assert_uint_eq(s.frag_ticks, 200);
}
END_TEST

START_TEST(tick_eperm_erofs_on_node_file)
{
	int errs[2] = {EPERM, EROFS};
	for (int i = 0; i < 2; i++) {
		again();
		file("/proc/buddyinfo", FRAG_BUDDY);
		file(NODE0, "");
		write_fails(NODE0, errs[i]);
		for (uint64_t t = 1; t <= 30; t++)
			tick_at(t * 1000);
		ck_assert_int_eq(write_calls, 1);
		ck_assert_int_eq(log_count("monitoring only"), 1);
	}
}
END_TEST

START_TEST(tick_transient_failure_backs_off)
{
	file("/proc/buddyinfo", FRAG_BUDDY);
	write_fails(COMPACT, EIO);
	for (uint64_t t = 0; t < 20; t++)
		tick_at(100000 + t * 1000);
	/* Ticks 0, 5, 10, 15: one attempt per gap (the first also tries the
	 * missing node file), one log line. */
	ck_assert_int_eq(write_calls, 5);
	ck_assert_int_eq(log_count("compaction request failed"), 1);
}
END_TEST

START_TEST(tick_secure_never_writes)
{
	oms_cfg.secure = 1;
	file("/proc/buddyinfo", FRAG_BUDDY);
	for (uint64_t t = 1; t <= 30; t++)
		tick_at(t * 1000);
	ck_assert_int_eq(write_calls, 0);
	struct oms_defrag_state s;
	oms_defrag_snapshot(&s);
	ck_assert_uint_eq(s.frag_ticks, 30);
}
END_TEST

START_TEST(tick_node_file_preferred)
{
	file("/proc/buddyinfo", NUMA_BUDDY_N1_FRAG);
	file("/proc/zoneinfo", NUMA_ZONEINFO);
	file(NODE0, "");
	file(NODE1, "");
	ck_assert_uint_eq(tick_at(100000), OMS_DEFRAG_COMPACT);
	/* Only the node that needs it, and not the global file. */
	ck_assert_int_eq(nwrites, 1);
	ck_assert_int_eq(wrote(NODE1, "1"), 1);
	ck_assert_int_eq(log_count("node 1 zone Normal safety level 2 < 9"), 1);
}
END_TEST

START_TEST(tick_node_file_missing_falls_back)
{
	file("/proc/buddyinfo", NUMA_BUDDY_N1_FRAG);
	file("/proc/zoneinfo", NUMA_ZONEINFO);
	ck_assert_uint_eq(tick_at(100000), OMS_DEFRAG_COMPACT);
	ck_assert_int_eq(nwrites, 1);
	ck_assert_int_eq(wrote(COMPACT, "1"), 1);
	/* Remembered: the next compaction goes straight to the global file. */
	int calls = write_calls;
	ck_assert_uint_eq(tick_at(105000), OMS_DEFRAG_COMPACT);
	ck_assert_int_eq(write_calls, calls + 1);
}
END_TEST

START_TEST(tick_zone_setting)
{
	/* Watching DMA of the fragmented buddyinfo: DMA is healthy. */
	strcpy(oms_cfg.zone, "DMA");
	file("/proc/buddyinfo", FRAG_BUDDY);
	for (uint64_t t = 1; t <= 10; t++)
		ck_assert_uint_eq(tick_at(t * 1000), 0);
	ck_assert_int_eq(write_calls, 0);
	/* A zone that does not exist: idle, said once. */
	again();
	strcpy(oms_cfg.zone, "HighMem");
	file("/proc/buddyinfo", FRAG_BUDDY);
	file("/proc/zoneinfo", NUMA_ZONEINFO);
	for (uint64_t t = 1; t <= 10; t++)
		ck_assert_uint_eq(tick_at(t * 1000), 0);
	ck_assert_int_eq(log_count("OOMSHIELD_ZONE=HighMem"), 1);
	ck_assert_int_eq(reads_of_buddy, 0);
}
END_TEST

START_TEST(tick_debugfs_preferred)
{
	/* Healthy buddyinfo, but debugfs says order 4 is fragmented. */
	file("/proc/buddyinfo", IDLE_BUDDY);
	file("/sys/kernel/debug/extfrag/extfrag_index",
	     "Node 0, zone      DMA -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 \n"
	     "Node 0, zone    DMA32 -1.000 -1.000 -1.000 -1.000  0.900  0.950  0.970  0.980  0.990  0.995  0.999 \n"
	     "Node 0, zone   Normal -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 \n");
	ck_assert_uint_eq(tick_at(100000), OMS_DEFRAG_COMPACT);
	ck_assert_int_eq(reads_of_buddy, 1); /* zone choice only: no zoneinfo */
	ck_assert_int_eq(log_count("zone DMA32 safety level 4 < 9"), 1);
}
END_TEST

START_TEST(tick_debugfs_unreadable_uses_buddyinfo)
{
	file("/proc/buddyinfo", FRAG_BUDDY);
	file("/proc/zoneinfo", NUMA_ZONEINFO);
	file_err("/sys/kernel/debug/extfrag/extfrag_index", EACCES);
	ck_assert_uint_eq(tick_at(100000), OMS_DEFRAG_COMPACT);
	ck_assert_uint_eq(tick_at(101000), 0);
	ck_assert_int_eq(reads_of_buddy, 2);
	ck_assert_int_eq(log_count("computing the index from /proc/buddyinfo"), 1);
}
END_TEST

START_TEST(tick_metric_switch)
{
	/* The fixture that motivates the second metric: extfrag says fine. */
	file("/proc/buddyinfo", PARTIAL_BUDDY);
	for (uint64_t t = 1; t <= 10; t++)
		ck_assert_uint_eq(tick_at(t * 1000), 0);
	again();
	oms_cfg.metric = OMS_METRIC_UNUSABLE;
	file("/proc/buddyinfo", PARTIAL_BUDDY);
	ck_assert_uint_eq(tick_at(1000), OMS_DEFRAG_COMPACT);
	ck_assert_int_eq(log_count("zone Normal safety level 1 < 9"), 1);
	/* And from debugfs' unusable_index when it is there. */
	again();
	oms_cfg.metric = OMS_METRIC_UNUSABLE;
	file("/proc/buddyinfo", IDLE_BUDDY);
	file("/sys/kernel/debug/extfrag/unusable_index",
	     "Node 0, zone    DMA32 0.000 0.115 0.115 0.115 0.115 0.115 0.116 0.116 0.616 0.616 0.617 \n");
	ck_assert_uint_eq(tick_at(1000), OMS_DEFRAG_COMPACT);
	ck_assert_int_eq(log_count("zone DMA32 safety level 8 < 9"), 1);
}
END_TEST

START_TEST(tick_unreadable_and_garbage)
{
	file_err("/proc/buddyinfo", EACCES);
	for (uint64_t t = 1; t <= 20; t++)
		ck_assert_uint_eq(tick_at(t * 1000), 0);
	ck_assert_int_eq(write_calls, 0);
	ck_assert_int_eq(log_count("cannot read"), 1);
	again();
	file("/proc/buddyinfo", "garbage\nNode 0, zone Normal 1 2 x\n\n");
	file("/proc/zoneinfo", "Node 0, zone   Normal\n        managed  4000000\n");
	for (uint64_t t = 1; t <= 20; t++)
		ck_assert_uint_eq(tick_at(t * 1000), 0);
	ck_assert_int_eq(write_calls, 0);
	ck_assert_int_eq(log_count("no readable line"), 1);
	struct oms_defrag_state s;
	oms_defrag_snapshot(&s);
	ck_assert_uint_eq(s.ticks, 0); /* idle: no check happened */
	again();
	file("/proc/buddyinfo", "");
	for (uint64_t t = 1; t <= 5; t++)
		ck_assert_uint_eq(tick_at(t * 1000), 0);
	ck_assert_int_eq(log_count("defrag:"), 1);
}
END_TEST

START_TEST(tick_large_file_grows_buffer)
{
	/* A zoneinfo larger than the first 64 KiB buffer: the watched zone
	 * sits at the end. */
	static char big[300000];
	size_t n = 0;
	while (n < sizeof big - 2000)
		n += (size_t)snprintf(big + n, sizeof big - n, "Node 0, zone DMA\n        managed  1\n"
				      "  pagesets\n    cpu: %zu\n              count: 0\n", n);
	snprintf(big + n, sizeof big - n, "Node 0, zone Normal\n        managed  99\n");
	file("/proc/zoneinfo", big);
	file("/proc/buddyinfo", FRAG_BUDDY);
	ck_assert_uint_eq(tick_at(1000), OMS_DEFRAG_COMPACT);
	ck_assert_int_eq(log_count("watching node 0 zone Normal"), 1);
}
END_TEST

/* ---- the single actor ---- */

static void lock_file_path(char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/run/oomshield-defrag.lock", root);
}

START_TEST(actor_stamp_written)
{
	char p[400], b[64];
	lock_file_path(p, sizeof p);
	file("/proc/buddyinfo", FRAG_BUDDY);
	ck_assert_uint_eq(tick_at(123456), OMS_DEFRAG_COMPACT);
	ck_assert_str_eq(oms_defrag_lock_path(), p);
	int fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ssize_t n = read(fd, b, sizeof b - 1);
	close(fd);
	ck_assert_int_eq(n, 21);
	b[n] = '\0';
	ck_assert_str_eq(b, "00000000000000123456\n");
	/* Nothing in OOMSHIELD_DIR but our test log. */
	char q[400];
	snprintf(q, sizeof q, "%s/.oomshield-defrag.lock", dir);
	ck_assert_int_ne(access(q, F_OK), 0);
}
END_TEST

static void put_stamp(uint64_t t)
{
	char p[400], b[32];
	lock_file_path(p, sizeof p);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	int n = snprintf(b, sizeof b, "%020llu\n", (unsigned long long)t);
	ck_assert_int_eq(write(fd, b, (size_t)n), n);
	close(fd);
}

START_TEST(actor_recent_stamp_yields)
{
	file("/proc/buddyinfo", FRAG_BUDDY);
	put_stamp(99000); /* another process compacted 1 s ago */
	ck_assert_uint_eq(tick_at(100000), 0);
	ck_assert_int_eq(write_calls, 0);
	/* That counts as done here too: no retry until our own gap ends. */
	for (uint64_t t = 101000; t < 105000; t += 1000)
		ck_assert_uint_eq(tick_at(t), 0);
	ck_assert_uint_eq(tick_at(105000), OMS_DEFRAG_COMPACT);
	ck_assert_int_eq(log_count("another process compacted"), 1);
}
END_TEST

START_TEST(actor_old_or_future_stamp_acts)
{
	file("/proc/buddyinfo", FRAG_BUDDY);
	put_stamp(95000); /* exactly one gap ago */
	ck_assert_uint_eq(tick_at(100000), OMS_DEFRAG_COMPACT);
	again();
	file("/proc/buddyinfo", FRAG_BUDDY);
	put_stamp(900000000); /* from a previous boot */
	ck_assert_uint_eq(tick_at(100000), OMS_DEFRAG_COMPACT);
}
END_TEST

/* The tick read the clock at 100000; by the time it holds the lock another
 * process has compacted and left a later stamp.  That is not a stamp from
 * an earlier boot: yield. */
START_TEST(actor_stamp_newer_than_the_tick_yields)
{
	file("/proc/buddyinfo", FRAG_BUDDY);
	put_stamp(100200);
	clock_step = 300;
	ck_assert_uint_eq(tick_at(100000), 0);
	ck_assert_int_eq(write_calls, 0);
	ck_assert_int_eq(log_count("another process compacted"), 1);
}
END_TEST

START_TEST(actor_lock_held_yields)
{
	/* Another process in the middle of its compaction holds the lock.
	 * OFD locks conflict between open file descriptions, even in one
	 * process, which is what lets this test stand in for it. */
	char p[400];
	lock_file_path(p, sizeof p);
	int fd = open(p, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	ck_assert_int_eq(fcntl(fd, F_OFD_SETLK, &fl), 0);
	file("/proc/buddyinfo", FRAG_BUDDY);
	ck_assert_uint_eq(tick_at(100000), 0);
	ck_assert_int_eq(write_calls, 0);
	close(fd);
	ck_assert_uint_eq(tick_at(105000), OMS_DEFRAG_COMPACT);
}
END_TEST

START_TEST(actor_falls_back_to_dir)
{
	char run[300], q[400];
	snprintf(run, sizeof run, "%s/run", root);
	ck_assert_int_eq(rmdir(run), 0);
	file("/proc/buddyinfo", FRAG_BUDDY);
	ck_assert_uint_eq(tick_at(100000), OMS_DEFRAG_COMPACT);
	snprintf(q, sizeof q, "%s/.oomshield-defrag.lock", dir);
	ck_assert_str_eq(oms_defrag_lock_path(), q);
	ck_assert_int_eq(access(q, F_OK), 0);
}
END_TEST

/* Not root, on the real /proc: the kernel would refuse compact_memory, so
 * the thread never tries and never creates a lock file anywhere. */
START_TEST(not_root_never_acts)
{
	if (geteuid() != 0) {
		skip_case("not_root_never_acts", "needs root to drop to another uid");
		return;
	}
	file("/proc/buddyinfo", FRAG_BUDDY);
	pid_t pid = fork();
	if (pid == 0) {
		oms_cfg.proc_root[0] = '\0'; /* reads are still the fakes */
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		char q[400];
		snprintf(q, sizeof q, "%s/.oomshield-defrag.lock", dir);
		for (uint64_t t = 100000; t < 200000; t += 1000)
			if (tick_at(t))
				_exit(4);
		struct oms_defrag_state s;
		oms_defrag_snapshot(&s);
		_exit(write_calls == 0 && s.inert && access(q, F_OK) != 0 ? 0 : 5);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
	/* Said once quietly (info), and once as a warning when it matters:
	 * the zone is fragmented and nothing will be done about it. */
	ck_assert_int_eq(log_count("info: defrag: not running as root"), 1);
	ck_assert_int_eq(log_count("warn: defrag: memory fragmented"), 1);
	ck_assert_int_eq(log_count("compaction needs uid 0; monitoring only"), 1);
	ck_assert_int_eq(log_count("compacting"), 0);
}
END_TEST

START_TEST(actor_refuses_symlink)
{
	/* A lock path that is a symlink (an attack in a shared folder) is
	 * never followed; with no usable lock the process acts alone. */
	char run[300], p[400], target[400], q[400];
	snprintf(run, sizeof run, "%s/run", root);
	ck_assert_int_eq(rmdir(run), 0);
	snprintf(target, sizeof target, "%s/victim", root);
	int fd = open(target, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "precious", 8), 8);
	close(fd);
	snprintf(q, sizeof q, "%s/.oomshield-defrag.lock", dir);
	ck_assert_int_eq(symlink(target, q), 0);
	file("/proc/buddyinfo", FRAG_BUDDY);
	ck_assert_uint_eq(tick_at(100000), OMS_DEFRAG_COMPACT);
	ck_assert_str_eq(oms_defrag_lock_path(), "");
	char b[16] = {0};
	fd = open(target, O_RDONLY);
	ck_assert_int_eq(read(fd, b, sizeof b - 1), 8);
	close(fd);
	ck_assert_str_eq(b, "precious");
	(void)p;
}
END_TEST

START_TEST(stats_text)
{
	char b[200];
	ck_assert_int_eq(oms_defrag_stats(b, sizeof b), 0); /* never started */
	ck_assert_str_eq(b, "");
}
END_TEST

/* ---- the thread, with real files under a temporary root ---- */

static void put(const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof p, "%s%s", root, rel);
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static int content_is(const char *rel, const char *want)
{
	char p[512], b[64];
	snprintf(p, sizeof p, "%s%s", root, rel);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, b, sizeof b - 1);
	close(fd);
	b[n < 0 ? 0 : n] = '\0';
	return !strcmp(b, want);
}

/* Bounded poll: up to 10 s. */
static int wait_for(const char *rel, const char *want)
{
	for (int i = 0; i < 1000; i++) {
		if (content_is(rel, want))
			return 1;
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* Read each DefragTick thread's SigBlk in /proc (1), or not (0: under
 * qemu-user the file shows the mask qemu gives its host thread, not the
 * guest thread's; assert_thread_blocks_signals tests the guest's). */
static int check_sigblk = 1;
static pid_t named_tid; /* tid of the last DefragTick thread count_tasks saw */

static int count_tasks(int *named)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	*named = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		n++;
		char p[300], comm[32] = {0};
		snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(p, "r");
		if (f && fgets(comm, sizeof comm, f) && !strcmp(comm, OMS_TICKER_THREAD_NAME "\n")) {
			(*named)++;
			named_tid = (pid_t)atoi(e->d_name);
			/* Every signal blocked in the thread. */
			char sp[300], line[256];
			snprintf(sp, sizeof sp, "/proc/self/task/%s/status", e->d_name);
			FILE *st = check_sigblk ? fopen(sp, "r") : NULL;
			while (st && fgets(line, sizeof line, st))
				if (!strncmp(line, "SigBlk:", 7)) {
					/* All but what cannot be blocked (SIGKILL,
					 * SIGSTOP) and glibc's two internal signals. */
					unsigned long long m = strtoull(line + 7, NULL, 16);
					for (int sig = 1; sig <= 64; sig++)
						if (sig != SIGKILL && sig != SIGSTOP && sig != 32 && sig != 33)
							ck_assert_msg(m >> (sig - 1) & 1, "signal %d open: %s", sig, line);
				}
			if (st)
				fclose(st);
		}
		if (f)
			fclose(f);
	}
	closedir(d);
	return n;
}

/* Tasks of this process before any DefragTick thread: 1 natively (Check
 * runs each test in a fresh single-threaded child); under qemu-user the
 * emulator's own thread (its RCU thread) is listed too. */
static int tasks_before(void)
{
	int named;
	int n = count_tasks(&named);
	ck_assert_int_eq(named, 0);
	if (!under_qemu())
		ck_assert_int_eq(n, 1);
	return n;
}

/* Signals sent to the DefragTick thread itself (tgkill) stay pending there:
 * no handler runs.  Had the thread let one in, the handler would run in it
 * at once.  Unlike SigBlk this also holds under qemu-user, which emulates
 * the guest's per-thread masks. */
static volatile sig_atomic_t handled;
static void note_signal(int sig)
{
	handled = sig;
}

static void assert_thread_blocks_signals(pid_t tid)
{
	static const int sigs[] = {SIGHUP, SIGINT, SIGUSR1, SIGUSR2, SIGPIPE, SIGTERM, SIGCHLD, SIGWINCH};
	struct sigaction sa = {.sa_handler = note_signal};
	sigemptyset(&sa.sa_mask);
	ck_assert_int_gt(tid, 0);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		ck_assert_int_eq(sigaction(sigs[i], &sa, NULL), 0);
		ck_assert_int_eq(tgkill(getpid(), tid, sigs[i]), 0);
	}
	struct timespec ts = {0, 200000000};
	nanosleep(&ts, NULL);
	ck_assert_msg(handled == 0, "signal %d reached the DefragTick thread", (int)handled);
}

/* qemu-user 7.2 aborts a child that starts a thread after a fork made while
 * another thread existed ("cpu == current_cpu",
 * "qemu_plugin_vcpu_init_hook").  1 if the emulator running us does. */
static void *wait_on_pipe(void *fd)
{
	char c;
	ssize_t r = read(*(int *)fd, &c, 1);
	(void)r;
	return NULL;
}

static void *nothing(void *arg)
{
	return arg;
}

static int fork_with_thread_breaks_child_threads(void)
{
	int fds[2];
	pthread_t t;
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, wait_on_pipe, &fds[0]), 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) { /* qemu's abort message, on both */
			dup2(null, 1);
			dup2(null, 2);
		}
		pthread_t u;
		_exit(pthread_create(&u, NULL, nothing, NULL) == 0 && pthread_join(u, NULL) == 0 ? 0 : 2);
	}
	close(fds[1]);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	close(fds[0]);
	ck_assert_int_gt(pid, 0);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void defrag_job(void)
{
	oms_defrag_tick();
}

/* What init.c does for DefragTick, with no other job. */
static void start_defrag(void)
{
	oms_ticker_reset();
	oms_defrag_init();
	ck_assert_int_eq(oms_ticker_add("DefragTick", oms_cfg.defrag_interval_ms, NULL, defrag_job), 0);
	oms_ticker_start();
}

static void real_root_setup(void)
{
	oms_os_reset();
	oms_cfg.defrag_interval_ms = 10;
	oms_cfg.defrag_min_gap_ms = 50;
	oms_cfg.drop_caches_after = 3;
	put("/proc/buddyinfo", FRAG_BUDDY);
	put("/proc/sys/vm/compact_memory", "");
	put("/proc/sys/vm/drop_caches", "");
}

START_TEST(thread_runs_and_acts)
{
	real_root_setup();
	if (under_qemu()) {
		check_sigblk = 0;
		skip_case("thread_runs_and_acts (SigBlk part)",
			  "under qemu-user /proc/self/task/*/status shows qemu's host signal mask, "
			  "not the guest thread's; tgkill checks the guest's instead");
	}
	int base = tasks_before();
	sigset_t before, after;
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	start_defrag();
	oms_ticker_start(); /* idempotent */
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	ck_assert_int_eq(sigismember(&after, SIGINT), sigismember(&before, SIGINT));
	ck_assert_int_eq(sigismember(&after, SIGTERM), 0);
	ck_assert(wait_for("/proc/sys/vm/compact_memory", "1"));
	ck_assert(wait_for("/proc/sys/vm/drop_caches", "3"));
	int named;
	ck_assert_int_eq(count_tasks(&named), base + 1);
	ck_assert_int_eq(named, 1);
	assert_thread_blocks_signals(named_tid);
	char b[200];
	ck_assert_int_gt(oms_defrag_stats(b, sizeof b), 0);
	ck_assert_ptr_nonnull(strstr(b, " ticks="));
	ck_assert_ptr_nonnull(strstr(b, " drops="));
	ck_assert_ptr_null(strstr(b, " drops=0 "));
	/* Truncation is safe and reported as such. */
	ck_assert_int_eq(oms_defrag_stats(b, 8), 7);
}
END_TEST

START_TEST(thread_off)
{
	real_root_setup();
	oms_cfg.defrag = 0;
	int base = tasks_before();
	oms_ticker_reset();
	oms_ticker_start(); /* no job: no thread */
	int named;
	ck_assert_int_eq(count_tasks(&named), base);
	ck_assert_int_eq(named, 0);
}
END_TEST

START_TEST(thread_restarts_in_fork_child)
{
	if (under_qemu() && fork_with_thread_breaks_child_threads()) {
		skip_case("thread_restarts_in_fork_child",
			  "this qemu-user aborts a child that starts a thread after a fork with "
			  "another thread alive (cpu == current_cpu); not a shim bug");
		return;
	}
	real_root_setup();
	start_defrag();
	pid_t pid;
	oms_ticker_atfork_prepare();
	oms_defrag_atfork_prepare();
	pid = fork();
	if (pid == 0) {
		oms_defrag_atfork_child();
		oms_ticker_atfork_child();
		/* Single-threaded after the fork handler (it may exec or call
		 * unshare next), and a poke within the interval starts nothing. */
		int named = 0;
		oms_ticker_poke();
		if (count_tasks(&named) != 1 || named)
			_exit(2);
		/* A child that goes on allocating gets its own thread, and it
		 * acts. */
		for (int i = 0; i < 1000 && !named; i++) {
			struct timespec ts = {0, 10000000};
			nanosleep(&ts, NULL);
			oms_ticker_poke();
			count_tasks(&named);
		}
		/* Fresh statistics, and they move: the thread ticks. */
		struct oms_defrag_state s;
		for (int i = 0; i < 1000; i++) {
			oms_defrag_snapshot(&s);
			if (s.ticks >= 3)
				break;
			struct timespec ts = {0, 10000000};
			nanosleep(&ts, NULL);
		}
		_exit(named == 1 && s.ticks >= 3 ? 0 : 1);
	}
	oms_defrag_atfork_parent();
	oms_ticker_atfork_parent();
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("defrag");
	TCase *sm = tcase_create("state machine");
	tcase_add_test(sm, sm_pending_and_gap);
	tcase_add_test(sm, sm_drop_after_20);
	tcase_add_test(sm, sm_recovery_resets_count);
	tcase_add_test(sm, sm_drop_never);
	tcase_add_test(sm, sm_inert_and_failure_backoff);
	suite_add_tcase(s, sm);

	TCase *io = tcase_create("tick");
	tcase_add_checked_fixture(io, setup, teardown);
	tcase_add_test(io, tick_fragmented_compacts);
	tcase_add_test(io, tick_healthy_writes_nothing);
	tcase_add_test(io, tick_drop_then_compact);
	tcase_add_test(io, tick_dry_run);
	tcase_add_test(io, tick_no_root);
	tcase_add_test(io, tick_eperm_erofs_on_node_file);
	tcase_add_test(io, tick_transient_failure_backs_off);
	tcase_add_test(io, tick_secure_never_writes);
	tcase_add_test(io, tick_node_file_preferred);
	tcase_add_test(io, tick_node_file_missing_falls_back);
	tcase_add_test(io, tick_zone_setting);
	tcase_add_test(io, tick_debugfs_preferred);
	tcase_add_test(io, tick_debugfs_unreadable_uses_buddyinfo);
	tcase_add_test(io, tick_metric_switch);
	tcase_add_test(io, tick_unreadable_and_garbage);
	tcase_add_test(io, tick_large_file_grows_buffer);
	tcase_add_test(io, actor_stamp_written);
	tcase_add_test(io, actor_recent_stamp_yields);
	tcase_add_test(io, actor_old_or_future_stamp_acts);
	tcase_add_test(io, actor_stamp_newer_than_the_tick_yields);
	tcase_add_test(io, actor_lock_held_yields);
	tcase_add_test(io, actor_falls_back_to_dir);
	tcase_add_test(io, actor_refuses_symlink);
	tcase_add_test(io, not_root_never_acts);
	tcase_add_test(io, stats_text);
	suite_add_tcase(s, io);

	TCase *th = tcase_create("thread");
	tcase_add_checked_fixture(th, setup, teardown);
	tcase_set_timeout(th, 30);
	tcase_add_test(th, thread_runs_and_acts);
	tcase_add_test(th, thread_off);
	tcase_add_test(th, thread_restarts_in_fork_child);
	suite_add_tcase(s, th);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
