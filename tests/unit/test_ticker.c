/* test_ticker.c - the background thread (shim/ticker.c): it runs the jobs
 * registered with it, each on its own period, early when a job asks for
 * quicker ticks, in registration order; it starts nothing without jobs,
 * and oms_ticker_stop joins it.  Check forks each test. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "ticker.h"
#include "unit_util.h"

#define HOUR 3600000u

static int runs[4];
static int order[64], norder;

static void note(int j)
{
	int n = __atomic_fetch_add(&norder, 1, __ATOMIC_RELAXED);
	if (n < 64)
		order[n] = j;
	__atomic_fetch_add(&runs[j], 1, __ATOMIC_RELAXED);
}

static void job0(void) { note(0); }
static void job1(void) { note(1); }
static void job2(void) { note(2); }
static unsigned fast10(void) { return 10; }

static int tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Poll (bounded: 10 s) until job j has run `want` times. */
static int wait_runs(int j, int want)
{
	for (int i = 0; i < 1000; i++) {
		if (__atomic_load_n(&runs[j], __ATOMIC_RELAXED) >= want)
			return 1;
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

START_TEST(no_jobs_no_thread)
{
	int base = tasks();
	oms_ticker_reset();
	oms_ticker_start();
	ck_assert_int_eq(oms_ticker_started(), 0);
	ck_assert_int_eq(tasks(), base);
	ck_assert_int_eq(oms_ticker_pause(), -1); /* nothing to pause */
	oms_ticker_resume(-1);
}
END_TEST

START_TEST(table_full)
{
	oms_ticker_reset();
	for (int i = 0; i < OMS_TICKER_MAX_JOBS; i++)
		ck_assert_int_eq(oms_ticker_add("j", HOUR, NULL, job0), 0);
	ck_assert_int_eq(oms_ticker_add("one too many", HOUR, NULL, job0), -1);
	ck_assert_int_eq(oms_ticker_add("no function", HOUR, NULL, NULL), -1);
	oms_ticker_reset();
}
END_TEST

/* Job 0 has an hour's period but asks for 10 ms ticks: it runs early, and
 * alone.  Job 1 (an hour, no hurry) never runs; job 2 (20 ms) runs on its
 * own period. */
START_TEST(periods_and_fast)
{
	int base = tasks();
	oms_ticker_reset();
	ck_assert_int_eq(oms_ticker_add("fast", HOUR, fast10, job0), 0);
	ck_assert_int_eq(oms_ticker_add("hourly", HOUR, NULL, job1), 0);
	ck_assert_int_eq(oms_ticker_add("20 ms", 20, NULL, job2), 0);
	oms_ticker_start();
	ck_assert_int_eq(oms_ticker_started(), 1);
	ck_assert_int_eq(tasks(), base + 1);
	ck_assert(wait_runs(0, 5));
	ck_assert(wait_runs(2, 3));
	oms_ticker_stop();
	ck_assert_int_eq(tasks(), base); /* joined */
	ck_assert_int_eq(runs[1], 0);
	/* No run of job 1 was ever ordered; 0 and 2 interleave freely. */
	for (int i = 0; i < norder && i < 64; i++)
		ck_assert_int_ne(order[i], 1);
}
END_TEST

/* Jobs due at the same tick run in registration order. */
START_TEST(same_period_in_order)
{
	oms_ticker_reset();
	ck_assert_int_eq(oms_ticker_add("first", 10, NULL, job0), 0);
	ck_assert_int_eq(oms_ticker_add("second", 10, NULL, job1), 0);
	oms_ticker_start();
	ck_assert(wait_runs(1, 4));
	oms_ticker_stop();
	int n = norder < 64 ? norder : 64;
	for (int i = 0; i + 1 < n; i += 2) {
		ck_assert_int_eq(order[i], 0);
		ck_assert_int_eq(order[i + 1], 1);
	}
}
END_TEST

/* A fork child has no thread until it is poked a period after the fork. */
START_TEST(fork_child_deferred)
{
	if (under_qemu())
		return; /* qemu-user: a thread after fork with a thread alive aborts */
	oms_ticker_reset();
	ck_assert_int_eq(oms_ticker_add("20 ms", 20, NULL, job2), 0);
	oms_ticker_start();
	oms_ticker_atfork_prepare();
	pid_t pid = fork();
	if (pid == 0) {
		oms_ticker_atfork_child();
		if (tasks() != 1)
			_exit(2);
		runs[2] = 0;
		oms_ticker_poke(); /* within the period: nothing */
		if (tasks() != 1)
			_exit(3);
		for (int i = 0; i < 1000 && tasks() == 1; i++) {
			struct timespec ts = {0, 5000000};
			nanosleep(&ts, NULL);
			oms_ticker_poke();
		}
		_exit(tasks() == 2 && wait_runs(2, 2) ? 0 : 4);
	}
	oms_ticker_atfork_parent();
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
	oms_ticker_stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ticker");
	TCase *tc = tcase_create("ticker");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, no_jobs_no_thread);
	tcase_add_test(tc, table_full);
	tcase_add_test(tc, periods_and_fast);
	tcase_add_test(tc, same_period_in_order);
	tcase_add_test(tc, fork_child_deferred);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
