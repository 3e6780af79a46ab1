/* test_advise.c - the adaptive read-around policy (shim/advise.c): when a
 * busy tick shows read-around wasted, go MADV_RANDOM; probe NORMAL with a
 * doubling backoff while faulting continues; a useful probe stays NORMAL. */
#include <check.h>
#include <sys/mman.h>

#include "advise.h"
#include "big.h"

#define MiB ((uint64_t)1 << 20)

/* One tick of random access with 8 MiB read-around: few pages touched. */
static const struct oms_advise_sample wasteful = {.majflt = 100, .minflt = 100, .read_bytes = 800 * MiB};
/* Sequential reading with read-around: most of what is read is touched. */
static const struct oms_advise_sample sequential = {.majflt = 50, .minflt = 6000, .read_bytes = 300 * MiB};
/* Random access under MADV_RANDOM: page-sized reads, many faults. */
static const struct oms_advise_sample random_faults = {.majflt = 20000, .minflt = 20000, .read_bytes = 80 * MiB};
static const struct oms_advise_sample idle = {0, 0, 0, 0};

static int step(struct oms_advise_sample s)
{
	int m = oms_advise_step(s);
	oms_advise_mode = m; /* what apply() would publish */
	return m;
}

static void setup(void)
{
	oms_page = 4096;
	oms_advise_mode = MADV_NORMAL;
	oms_advise_reset();
}

START_TEST(stays_normal_when_read_around_pays)
{
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(step(sequential), MADV_NORMAL);
	ck_assert_int_eq(step(idle), MADV_NORMAL);
	/* a little waste on an idle disk is not judged */
	struct oms_advise_sample small = {.majflt = 1, .minflt = 0, .read_bytes = 2 * MiB};
	ck_assert_int_eq(step(small), MADV_NORMAL);
}
END_TEST

START_TEST(goes_random_on_waste_and_probes_with_backoff)
{
	ck_assert_int_eq(step(wasteful), MADV_RANDOM);
	/* first probe after 2 busy ticks */
	ck_assert_int_eq(step(random_faults), MADV_RANDOM);
	ck_assert_int_eq(step(random_faults), MADV_NORMAL);
	/* the probe was wasteful: back to RANDOM, next probe after 4 */
	ck_assert_int_eq(step(wasteful), MADV_RANDOM);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(step(random_faults), MADV_RANDOM);
	ck_assert_int_eq(step(random_faults), MADV_NORMAL);
	ck_assert_int_eq(step(wasteful), MADV_RANDOM);
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(step(random_faults), MADV_RANDOM);
	ck_assert_int_eq(step(random_faults), MADV_NORMAL);
}
END_TEST

START_TEST(idle_ticks_do_not_count_towards_a_probe)
{
	ck_assert_int_eq(step(wasteful), MADV_RANDOM);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(step(idle), MADV_RANDOM);
	ck_assert_int_eq(step(random_faults), MADV_RANDOM);
	ck_assert_int_eq(step(random_faults), MADV_NORMAL);
}
END_TEST

START_TEST(useful_probe_returns_to_normal_and_resets_backoff)
{
	ck_assert_int_eq(step(wasteful), MADV_RANDOM);
	ck_assert_int_eq(step(random_faults), MADV_RANDOM);
	ck_assert_int_eq(step(random_faults), MADV_NORMAL); /* probe */
	ck_assert_int_eq(step(sequential), MADV_NORMAL);    /* it paid: stay */
	ck_assert_int_eq(step(sequential), MADV_NORMAL);
	/* waste again: the backoff starts from 2 again */
	ck_assert_int_eq(step(wasteful), MADV_RANDOM);
	ck_assert_int_eq(step(random_faults), MADV_RANDOM);
	ck_assert_int_eq(step(random_faults), MADV_NORMAL);
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

START_TEST(backoff_is_bounded)
{
	ck_assert_int_eq(step(wasteful), MADV_RANDOM);
	int probes = 0;
	for (int i = 0; i < 400; i++) {
		if (step(random_faults) == MADV_NORMAL) {
			probes++;
			ck_assert_int_eq(step(wasteful), MADV_RANDOM);
		}
	}
	/* backoff 2,4,8,16,32,32,...: at least 400/33 probes */
	ck_assert_int_ge(probes, 400 / 33);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("advise");
	TCase *tc = tcase_create("policy");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, stays_normal_when_read_around_pays);
	tcase_add_test(tc, goes_random_on_waste_and_probes_with_backoff);
	tcase_add_test(tc, idle_ticks_do_not_count_towards_a_probe);
	tcase_add_test(tc, useful_probe_returns_to_normal_and_resets_backoff);
	tcase_add_test(tc, thresholds_are_per_second);
	tcase_add_test(tc, backoff_is_bounded);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
