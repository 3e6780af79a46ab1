/* test_advise.c - the adaptive read-around policy (shim/advise.c): a busy
 * NORMAL tick that wasted what it read goes MADV_RANDOM; in RANDOM, pages
 * that became resident in long runs mean a sequential read-back and go
 * NORMAL, scattered ones stay RANDOM.  The sampler is run on real memory:
 * mincore() sees what a test touched. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "advise.h"
#include "big.h"
#include "os.h"

#define MiB ((uint64_t)1 << 20)

/* One tick of random access with 8 MiB read-around: few pages touched,
 * every fault a read-around of its own. */
static const struct oms_advise_sample wasteful = {.majflt = 100, .minflt = 100, .read_bytes = 800 * MiB};
/* Sequential reading with read-around: most of what is read is touched. */
static const struct oms_advise_sample sequential = {.majflt = 50, .minflt = 6000, .read_bytes = 300 * MiB};
/* The same with large folios mapped 2 MiB at a time: few faults of any
 * kind, so "touched" is far below what was read - yet nothing missed. */
static const struct oms_advise_sample sequential_pmd = {.majflt = 1, .minflt = 40, .read_bytes = 300 * MiB};
/* RANDOM mode: page-sized reads; where the new pages lie decides. */
static const struct oms_advise_sample random_scattered = {
	.majflt = 20000, .minflt = 20000, .read_bytes = 80 * MiB, .new_pages = 400, .new_runs = 380};
static const struct oms_advise_sample random_in_runs = {
	.majflt = 20000, .minflt = 100, .read_bytes = 80 * MiB, .new_pages = 600, .new_runs = 3};
static const struct oms_advise_sample idle = {0};

static int step(struct oms_advise_sample s)
{
	int m = oms_advise_step(s);
	oms_advise_mode = m; /* what apply() would publish */
	return m;
}

static void setup(void)
{
	oms_page = (size_t)sysconf(_SC_PAGESIZE);
	oms_advise_mode = MADV_NORMAL;
	oms_advise_reset();
}

START_TEST(stays_normal_when_read_around_pays)
{
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(step(sequential), MADV_NORMAL);
		ck_assert_int_eq(step(sequential_pmd), MADV_NORMAL);
	}
	ck_assert_int_eq(step(idle), MADV_NORMAL);
	/* a little waste on an idle disk is not judged */
	struct oms_advise_sample small = {.majflt = 1, .minflt = 0, .read_bytes = 2 * MiB};
	ck_assert_int_eq(step(small), MADV_NORMAL);
}
END_TEST

START_TEST(goes_random_on_waste_and_stays_while_access_is_scattered)
{
	ck_assert_int_eq(step(wasteful), MADV_RANDOM);
	for (int i = 0; i < 100; i++) /* no blind probes of NORMAL */
		ck_assert_int_eq(step(random_scattered), MADV_RANDOM);
	ck_assert_int_eq(step(idle), MADV_RANDOM);
}
END_TEST

START_TEST(runs_of_new_pages_turn_read_around_back_on)
{
	ck_assert_int_eq(step(wasteful), MADV_RANDOM);
	ck_assert_int_eq(step(random_in_runs), MADV_NORMAL);
	ck_assert_int_eq(step(sequential), MADV_NORMAL);
	ck_assert_int_eq(step(wasteful), MADV_RANDOM);
	/* too few new pages is no evidence either way */
	struct oms_advise_sample few = random_in_runs;
	few.new_pages = 20;
	few.new_runs = 1;
	ck_assert_int_eq(step(few), MADV_RANDOM);
}
END_TEST

START_TEST(thresholds_are_per_second)
{
	/* 2 MiB read in a 200 ms tick is 10 MiB/s: busy, and wasted */
	struct oms_advise_sample fast = {.majflt = 1, .minflt = 1, .read_bytes = 2 * MiB, .ms = 200};
	ck_assert_int_eq(step(fast), MADV_RANDOM);
	setup();
	/* the same 2 MiB over a whole second is not busy enough to judge */
	fast.ms = 1000;
	ck_assert_int_eq(step(fast), MADV_NORMAL);
}
END_TEST

/* The sampler on a real mapping: what the test touches is what mincore
 * reports as newly resident. */
START_TEST(sampler_counts_new_pages_and_their_runs)
{
	size_t pg = oms_page, len = 8 * MiB, npages = len / pg;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	struct oms_range r = {p, len};
	uint64_t nw, runs;
	oms_advise_sample_pages(&r, 1, &nw, &runs); /* first look: no history */
	ck_assert_uint_eq(nw, 0);
	/* a sequential stretch */
	for (size_t i = 0; i < 200; i++)
		p[(npages / 8 + i) * pg] = 1;
	oms_advise_sample_pages(&r, 1, &nw, &runs);
	ck_assert_uint_eq(nw, 200); /* small mapping: the windows tile it */
	ck_assert_uint_eq(runs, 1);
	/* scattered pages, each with an untouched page either side */
	for (size_t i = 0; i < 100; i++)
		p[(npages / 2 + i * 8) * pg] = 1;
	oms_advise_sample_pages(&r, 1, &nw, &runs);
	ck_assert_uint_eq(nw, 100);
	ck_assert_uint_eq(runs, 100);
	/* a sequential reader filling the holes between resident pages: one
	 * run, however many of its pages were already there */
	for (size_t i = 0; i < 800; i++)
		p[(npages / 2 + i) * pg] = 2;
	oms_advise_sample_pages(&r, 1, &nw, &runs);
	ck_assert_uint_eq(nw, 800 - 100);
	ck_assert_uint_eq(runs, 1);
	/* nothing new */
	oms_advise_sample_pages(&r, 1, &nw, &runs);
	ck_assert_uint_eq(nw, 0);
	/* another set of mappings: the windows move, no history yet */
	struct oms_range half = {p, len / 2};
	p[1 * pg] = 1;
	oms_advise_sample_pages(&half, 1, &nw, &runs);
	ck_assert_uint_eq(nw, 0);
	/* a range that is gone: nothing counted, no crash */
	munmap(p, len);
	oms_advise_sample_pages(&half, 1, &nw, &runs);
	ck_assert_uint_eq(nw, 0);
}
END_TEST

START_TEST(sampler_spreads_windows_over_large_mappings)
{
	/* 256 MiB reserved, not touched: 128 windows of at most 128 pages
	 * cover a part of it, spread evenly.  A sequential stretch as long
	 * as the spacing between windows always crosses one. */
	size_t pg = oms_page, len = 256 * MiB, npages = len / pg;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	struct oms_range r[2] = {{p, len / 4}, {p + len / 4, len - len / 4}};
	uint64_t nw, runs;
	oms_advise_sample_pages(r, 2, &nw, &runs);
	size_t stretch = npages / 128;
	for (size_t i = 0; i < stretch; i++)
		p[(npages / 3 + i) * pg] = 1;
	oms_advise_sample_pages(r, 2, &nw, &runs);
	ck_assert_uint_ge(nw, 32);
	ck_assert_uint_le(nw, 128);
	ck_assert_uint_eq(runs, 1);
	munmap(p, len);
}
END_TEST

/* len bytes of address space, untouched, and the sampler's first look. */
static unsigned char *first_look(size_t len, struct oms_range *r)
{
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	/* 4 KiB pages: where anonymous THP is "always", a huge page would
	 * spill a touched chunk into a neighbour's window. */
	madvise(p, len, MADV_NOHUGEPAGE);
	*r = (struct oms_range){p, len};
	uint64_t nw, runs;
	oms_advise_sample_pages(r, 1, &nw, &runs);
	return p;
}

/* Sample again; the spread of what became resident. */
static void spread(const struct oms_range *r, unsigned *hit, unsigned *adj)
{
	uint64_t nw, runs;
	oms_advise_sample_pages(r, 1, &nw, &runs);
	oms_advise_spread(hit, adj);
}

/* Make [c * 2 MiB, (c + 1) * 2 MiB) of p resident, as a folio refault. */
static void touch_chunk(unsigned char *p, size_t c)
{
	for (size_t o = 0; o < 2 * MiB; o += oms_page)
		p[c * 2 * MiB + o] = 1;
}

START_TEST(sampler_tells_a_forward_reader_from_scattered_folios)
{
	/* 256 MiB: 128 windows, one every 2 MiB.  Whole 2 MiB chunks made
	 * resident, as large-folio refaults do: in a row, each group after
	 * the first follows one that gained pages too; scattered, none does. */
	struct oms_range r;
	unsigned hit, adj;
	unsigned char *p = first_look(256 * MiB, &r);
	oms_advise_spread(&hit, &adj);
	ck_assert_uint_eq(hit, 0);
	for (size_t c = 10; c < 30; c++)
		touch_chunk(p, c);
	spread(&r, &hit, &adj);
	ck_assert_uint_ge(hit, 19);
	ck_assert_uint_le(hit, 21);
	ck_assert_uint_eq(adj, hit - 1);
	for (size_t c = 40; c < 128; c += 5)
		touch_chunk(p, c);
	spread(&r, &hit, &adj);
	ck_assert_uint_ge(hit, 17);
	ck_assert_uint_eq(adj, 0);
	/* a failed sample reports nothing */
	munmap(p, 256 * MiB);
	spread(&r, &hit, &adj);
	ck_assert_uint_eq(hit, 0);
	ck_assert_uint_eq(adj, 0);
}
END_TEST

START_TEST(sampler_spread_with_windows_far_apart)
{
	/* 1 GiB: one window every 8 MiB, so groups that follow each other in
	 * window order are neighbours even though 8 MiB lie between them. */
	struct oms_range r;
	unsigned hit, adj;
	unsigned char *p = first_look(1024 * MiB, &r);
	for (size_t o = 100 * MiB; o < 180 * MiB; o += oms_page) /* a reader going forward */
		p[o] = 1;
	spread(&r, &hit, &adj);
	ck_assert_uint_ge(hit, 9);
	ck_assert_uint_le(hit - adj, 1);
	for (size_t c = 200; c < 512; c += 13) /* 2 MiB chunks far apart */
		touch_chunk(p, c);
	spread(&r, &hit, &adj);
	ck_assert_uint_ge(hit, 4);
	ck_assert_uint_eq(adj, 0);
	munmap(p, 1024 * MiB);
}
END_TEST

/* The probe: NORMAL that keeps reading and faulting is tried RANDOM after
 * 2 busy ticks; a try the windows send back to NORMAL doubles the wait (up
 * to 64), a try that holds for 3 ticks resets it. */
static int tries_after(struct oms_advise_probe *p)
{
	for (int t = 1; t <= 200; t++)
		if (oms_advise_probe_step(p, MADV_NORMAL, MADV_NORMAL, 1) == MADV_RANDOM)
			return t;
	return 0;
}

START_TEST(probe_backs_off_when_sequential_and_resets_when_it_holds)
{
	struct oms_advise_probe p = {0};
	/* Not busy, or not faulting: never tried. */
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(oms_advise_probe_step(&p, MADV_NORMAL, MADV_NORMAL, 0), MADV_NORMAL);
	unsigned want[] = {2, 4, 8, 16, 32, 64, 64};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		ck_assert_int_eq(tries_after(&p), (int)want[i]);
		/* RANDOM: the first tick primes the windows, the second finds
		 * long runs - the reader is sequential. */
		ck_assert_int_eq(oms_advise_probe_step(&p, MADV_RANDOM, MADV_RANDOM, 1), MADV_RANDOM);
		ck_assert_int_eq(oms_advise_probe_step(&p, MADV_RANDOM, MADV_NORMAL, 1), MADV_NORMAL);
	}
	/* A quiet tick in between starts the count again. */
	for (int i = 0; i < 63; i++)
		oms_advise_probe_step(&p, MADV_NORMAL, MADV_NORMAL, 1);
	oms_advise_probe_step(&p, MADV_NORMAL, MADV_NORMAL, 0);
	ck_assert_int_eq(tries_after(&p), 64);
	/* This try holds: scattered pages, RANDOM for 3 ticks. */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(oms_advise_probe_step(&p, MADV_RANDOM, MADV_RANDOM, 1), MADV_RANDOM);
	/* Later the program reads sequentially: back to NORMAL by the windows,
	 * and the next try comes after the minimum again. */
	ck_assert_int_eq(oms_advise_probe_step(&p, MADV_RANDOM, MADV_NORMAL, 1), MADV_NORMAL);
	ck_assert_int_eq(tries_after(&p), 2);
}
END_TEST

START_TEST(probe_leaves_the_waste_rule_alone)
{
	struct oms_advise_probe p = {0};
	/* Idle ticks during a try prove nothing: they neither end it nor
	 * count toward it holding, so a failed try still backs off. */
	for (int i = 0; i < 2; i++)
		oms_advise_probe_step(&p, MADV_NORMAL, MADV_NORMAL, 1);
	ck_assert_int_eq(p.ticks, 1); /* tried */
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(oms_advise_probe_step(&p, MADV_RANDOM, MADV_RANDOM, 0), MADV_RANDOM);
	ck_assert_int_eq(oms_advise_probe_step(&p, MADV_RANDOM, MADV_NORMAL, 1), MADV_NORMAL);
	ck_assert_int_eq(tries_after(&p), 4);
	p = (struct oms_advise_probe){0};
	/* The waste rule went RANDOM by itself: no try, no back-off. */
	ck_assert_int_eq(oms_advise_probe_step(&p, MADV_NORMAL, MADV_RANDOM, 1), MADV_RANDOM);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(oms_advise_probe_step(&p, MADV_RANDOM, MADV_RANDOM, 1), MADV_RANDOM);
	ck_assert_int_eq(oms_advise_probe_step(&p, MADV_RANDOM, MADV_NORMAL, 1), MADV_NORMAL);
	ck_assert_int_eq(tries_after(&p), 2);
}
END_TEST

/* A fake /proc and /sys for the room check: path -> text. */
static const char *const *fake_files;
static ssize_t fake_read(const char *path, char *buf, size_t cap)
{
	for (const char *const *f = fake_files; f && f[0]; f += 2)
		if (!strcmp(f[0], path)) {
			snprintf(buf, cap, "%s", f[1]);
			return (ssize_t)strlen(buf);
		}
	errno = ENOENT;
	return -1;
}

START_TEST(room_reads_the_v1_hierarchical_limit)
{
	static const char *const files[] = {
		"/proc/self/cgroup", "12:cpu,cpuacct:/other\n5:blkio,memory:/oms/t\n0::/\n",
		"/sys/fs/cgroup/memory/oms/t/memory.stat",
		"cache 0\nhierarchical_memsw_limit 999\nhierarchical_memory_limit 10485760\n", NULL};
	fake_files = files;
	oms_os.read_file = fake_read;
	ck_assert_uint_eq(oms_advise_cgroup_limit(), 10 * MiB);
}
END_TEST

START_TEST(room_reads_v2_limits_up_to_the_root)
{
	static const char *const files[] = {
		"/proc/self/cgroup", "0::/a/b/\n", "/sys/fs/cgroup/a/b/memory.max", "max\n",
		"/sys/fs/cgroup/a/memory.max", "67108864\n", "/sys/fs/cgroup/memory.max", "134217728\n", NULL};
	fake_files = files;
	oms_os.read_file = fake_read;
	ck_assert_uint_eq(oms_advise_cgroup_limit(), 64 * MiB);
	static const char *const none[] = {"/proc/self/cgroup", "0::/a\n", "/sys/fs/cgroup/a/memory.max", "max\n", NULL};
	fake_files = none;
	ck_assert_uint_eq(oms_advise_cgroup_limit(), 0);
}
END_TEST

START_TEST(room_unknown_or_unlimited_is_no_limit)
{
	static const char *const v1_none[] = {
		"/proc/self/cgroup", "4:memory:/\n", "/sys/fs/cgroup/memory/memory.stat",
		"hierarchical_memory_limit 9223372036854771712\n", NULL};
	fake_files = v1_none;
	oms_os.read_file = fake_read;
	ck_assert_uint_eq(oms_advise_cgroup_limit(), 0);
	static const char *const no_memory[] = {"/proc/self/cgroup", "3:memoryx:/a\n2:cpu:/b\n", NULL};
	fake_files = no_memory;
	ck_assert_uint_eq(oms_advise_cgroup_limit(), 0);
	fake_files = NULL;
	ck_assert_uint_eq(oms_advise_cgroup_limit(), 0);
	ck_assert_uint_eq(oms_advise_window(8, 1), 0);
	ck_assert_int_eq(oms_advise_room(8, 1), 1);
}
END_TEST

START_TEST(room_keeps_read_around_off_in_a_small_cgroup)
{
	/* A partition (254:1) has its disk's queue one up. */
	static const char *const small[] = {
		"/proc/self/cgroup", "0::/t\n", "/sys/fs/cgroup/t/memory.max", "10485760\n",
		"/sys/dev/block/254:1/../queue/read_ahead_kb", "8192\n", NULL};
	fake_files = small;
	oms_os.read_file = fake_read;
	ck_assert_uint_eq(oms_advise_window(254, 1), 8 * MiB);
	ck_assert_int_eq(oms_advise_room(254, 1), 0);
	/* 8 windows fit in 64 MiB; a whole disk has its own queue. */
	static const char *const fits[] = {
		"/proc/self/cgroup", "0::/t\n", "/sys/fs/cgroup/t/memory.max", "67108864\n",
		"/sys/dev/block/254:0/queue/read_ahead_kb", "8192\n", NULL};
	fake_files = fits;
	ck_assert_int_eq(oms_advise_room(254, 0), 1);
	static const char *const tight[] = {
		"/proc/self/cgroup", "0::/t\n", "/sys/fs/cgroup/t/memory.max", "67104768\n",
		"/sys/dev/block/254:0/queue/read_ahead_kb", "8192\n", NULL};
	fake_files = tight;
	ck_assert_int_eq(oms_advise_room(254, 0), 0);
	fake_files = NULL;
	ck_assert_int_eq(oms_advise_room(254, 0), 1); /* back on: nothing known */
}
END_TEST

START_TEST(room_finds_the_memory_line_wherever_it_is)
{
	/* Hybrid: the unified line first, v1's memory after it, no final
	 * newline; the path is not mounted as such (a container): the
	 * mount's own memory.stat. */
	static const char *const files[] = {
		"/proc/self/cgroup", "0::/user.slice\n7:memory:/docker/abc",
		"/sys/fs/cgroup/memory/memory.stat", "hierarchical_memory_limit 16777216\n", NULL};
	fake_files = files;
	oms_os.read_file = fake_read;
	ck_assert_uint_eq(oms_advise_cgroup_limit(), 16 * MiB);
	/* A window that cannot be read is taken to be 4 MiB: off under 32 MiB. */
	ck_assert_int_eq(oms_advise_room(0, 42), 0);
	ck_assert_int_eq(oms_advise_allowed(MADV_NORMAL), MADV_RANDOM);
	ck_assert_int_eq(oms_advise_allowed(MADV_RANDOM), MADV_RANDOM);
	static const char *const roomy[] = {
		"/proc/self/cgroup", "7:memory:/a\n", "/sys/fs/cgroup/memory/a/memory.stat",
		"hierarchical_memory_limit 33554432\n", NULL};
	fake_files = roomy;
	ck_assert_int_eq(oms_advise_room(0, 42), 1);
	ck_assert_int_eq(oms_advise_allowed(MADV_NORMAL), MADV_NORMAL);
}
END_TEST

START_TEST(room_ignores_a_cut_off_line)
{
	/* 8 KiB of other controllers, then the memory line cut off by the
	 * 8 KiB read right after "/kubepods": that piece names another cgroup
	 * (an ancestor, with its own limit), so nothing is known. */
	static char text[9000];
	size_t n = 0;
	for (int i = 0; i < 63; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "9:cpu:/%0120d\n", 0);
	n += (size_t)snprintf(text + n, sizeof text - n, "9:cpu:/%0101d\n", 0);
	ck_assert_uint_eq(n, 8191 - strlen("5:memory:/kubepods"));
	snprintf(text + n, sizeof text - n, "5:memory:/kubepods/burstable/pod1234/abcdef\n");
	static const char *files[] = {"/proc/self/cgroup", text, "/sys/fs/cgroup/memory/kubepods/memory.stat",
				      "hierarchical_memory_limit 1048576\n", NULL};
	fake_files = files;
	oms_os.read_file = fake_read;
	ck_assert_uint_eq(oms_advise_cgroup_limit(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("advise");
	TCase *tc = tcase_create("policy");
	tcase_add_checked_fixture(tc, setup, oms_os_reset);
	tcase_add_test(tc, stays_normal_when_read_around_pays);
	tcase_add_test(tc, goes_random_on_waste_and_stays_while_access_is_scattered);
	tcase_add_test(tc, runs_of_new_pages_turn_read_around_back_on);
	tcase_add_test(tc, thresholds_are_per_second);
	tcase_add_test(tc, sampler_counts_new_pages_and_their_runs);
	tcase_add_test(tc, sampler_spreads_windows_over_large_mappings);
	tcase_add_test(tc, sampler_tells_a_forward_reader_from_scattered_folios);
	tcase_add_test(tc, sampler_spread_with_windows_far_apart);
	tcase_add_test(tc, probe_backs_off_when_sequential_and_resets_when_it_holds);
	tcase_add_test(tc, probe_leaves_the_waste_rule_alone);
	tcase_add_test(tc, room_reads_the_v1_hierarchical_limit);
	tcase_add_test(tc, room_reads_v2_limits_up_to_the_root);
	tcase_add_test(tc, room_unknown_or_unlimited_is_no_limit);
	tcase_add_test(tc, room_keeps_read_around_off_in_a_small_cgroup);
	tcase_add_test(tc, room_finds_the_memory_line_wherever_it_is);
	tcase_add_test(tc, room_ignores_a_cut_off_line);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
