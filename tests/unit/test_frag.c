/* test_frag.c - parsers and the kernel's index arithmetic (shim/frag.c).
 *
 * The fixtures are real kernel output (tests/fixtures/proc, copied from
 * ../shared/fixtures/proc so that a clean clone has them); OMS_FIXTURES
 * overrides their folder. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "frag.h"

static const char *fixture_dir(void)
{
	const char *d = getenv("OMS_FIXTURES");
	return d && *d ? d : "tests/fixtures/proc";
}

static char *slurp(const char *name)
{
	static char buf[4][1 << 16];
	static int next;
	char path[512];
	snprintf(path, sizeof path, "%s/%s", fixture_dir(), name);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "fixture %s missing (run from the repository root)", path);
	char *b = buf[next++ & 3];
	size_t n = fread(b, 1, sizeof buf[0] - 1, f);
	b[n] = '\0';
	fclose(f);
	return b;
}

static int parse_buddy(const char *s, struct oms_frag_zone *z)
{
	return oms_frag_parse_buddy(s, strlen(s), z);
}

static int parse_index(const char *s, struct oms_frag_zone *z)
{
	return oms_frag_parse_index(s, strlen(s), z);
}

static void buddy(struct oms_frag_zone *z, const char *counts)
{
	char line[512];
	snprintf(line, sizeof line, "Node 0, zone   Normal %s", counts);
	ck_assert_int_eq(parse_buddy(line, z), 0);
}

START_TEST(seed_dma_line)
{
	/* The seed's ARM box: 14 orders, all RAM in DMA. */
	struct oms_frag_zone z;
	const char *l = "Node 0, zone      DMA -1.000 -1.000 -1.000 -1.000 0.852 0.926 0.963 "
			"0.982 0.991 0.996 0.998 0.999 1.000 1.000";
	ck_assert_int_eq(parse_index(l, &z), 0);
	ck_assert_int_eq(z.node, 0);
	ck_assert_str_eq(z.name, "DMA");
	ck_assert_int_eq(z.norders, 14);
	ck_assert_int_eq(z.milli[0], -1000);
	ck_assert_int_eq(z.milli[4], 852);
	ck_assert_int_eq(z.milli[12], 1000);
	ck_assert_int_eq(z.milli[13], 1000);
	ck_assert_int_eq(oms_frag_level(z.milli, z.norders, 500), 4);
	ck_assert_int_eq(oms_frag_level(z.milli, z.norders, 900), 5);
	ck_assert_int_eq(oms_frag_level(z.milli, z.norders, 1000), 12);
}
END_TEST

START_TEST(odd_negative_values)
{
	/* One order-3 block is all that is free: what the kernel prints. */
	struct oms_frag_zone z, b;
	const char *l = "Node 0, zone   Normal -1.000 -1.000 -1.000 -1.000  0.-500  0.-250  0.-125 "
			" 0.-62  0.-31  0.-15  0.-07 \n";
	static const int want[11] = {-1000, -1000, -1000, -1000, -500, -250, -125, -62, -31, -15, -7};
	ck_assert_int_eq(parse_index(l, &z), 0);
	ck_assert_int_eq(z.norders, 11);
	for (int o = 0; o < 11; o++)
		ck_assert_int_eq(z.milli[o], want[o]);
	/* Negative means "fails for lack of memory", below any threshold. */
	ck_assert_int_eq(oms_frag_level(z.milli, z.norders, 500), 11);
	ck_assert_int_eq(oms_frag_level(z.milli, z.norders, 0), 11);

	buddy(&b, "0 0 0 1 0 0 0 0 0 0 0");
	for (int o = 0; o < 11; o++)
		ck_assert_int_eq(oms_frag_extfrag(b.nr_free, b.norders, o), want[o]);
}
END_TEST

START_TEST(old_kernel_format)
{
	/* "%d.%03d " without padding, as kernels before 4.x printed. */
	struct oms_frag_zone z;
	ck_assert_int_eq(parse_index("Node 1, zone Normal -1.000 0.-500 0.660 1.000 ", &z), 0);
	ck_assert_int_eq(z.node, 1);
	ck_assert_int_eq(z.norders, 4);
	ck_assert_int_eq(z.milli[1], -500);
	ck_assert_int_eq(z.milli[2], 660);
	ck_assert_int_eq(z.milli[3], 1000);
}
END_TEST

START_TEST(empty_zone)
{
	/* No free block at all: extfrag prints 0.000, unusable 1.000. */
	struct oms_frag_zone z;
	buddy(&z, "0 0 0 0 0 0 0 0 0 0 0");
	for (int o = 0; o < 11; o++) {
		ck_assert_int_eq(oms_frag_extfrag(z.nr_free, z.norders, o), 0);
		ck_assert_int_eq(oms_frag_unusable(z.nr_free, z.norders, o), 1000);
	}
	struct oms_frag_zone p;
	ck_assert_int_eq(parse_index("Node 0, zone   Normal  0.000  0.000  0.000  0.000", &p), 0);
	ck_assert_int_eq(p.norders, 4);
	ck_assert_int_eq(p.milli[3], 0);
	ck_assert_int_eq(oms_frag_level(p.milli, p.norders, 500), 4);
}
END_TEST

START_TEST(readme_hand_computed)
{
	/* fixtures README: "Normal 100 50 0 0 ..." -> -1.000 -1.000 0.660 0.827 */
	struct oms_frag_zone z;
	buddy(&z, "100 50 0 0 0 0 0 0 0 0 0");
	ck_assert_int_eq(oms_frag_extfrag(z.nr_free, 11, 0), -1000);
	ck_assert_int_eq(oms_frag_extfrag(z.nr_free, 11, 1), -1000);
	ck_assert_int_eq(oms_frag_extfrag(z.nr_free, 11, 2), 660); /* 1000-(1000+200000/4)/150 */
	ck_assert_int_eq(oms_frag_extfrag(z.nr_free, 11, 3), 827); /* 1000-(1000+200000/8)/150 */
	ck_assert_int_eq(oms_frag_extfrag(z.nr_free, 11, 10), 1000 - (1000 + 200000 / 1024) / 150);
	oms_frag_compute(&z, OMS_METRIC_EXTFRAG);
	ck_assert_int_eq(oms_frag_level(z.milli, z.norders, 500), 2);
	/* unusable: 200 free pages, order 1 usable = 50 blocks * 2 = 100 */
	ck_assert_int_eq(oms_frag_unusable(z.nr_free, 11, 0), 0);
	ck_assert_int_eq(oms_frag_unusable(z.nr_free, 11, 1), 500);
	ck_assert_int_eq(oms_frag_unusable(z.nr_free, 11, 2), 1000);
	ck_assert_uint_eq(oms_frag_free_pages(&z), 200);
}
END_TEST

/* Every zone of a buddyinfo fixture, computed, equals the index file the
 * kernel printed in the same instant. */
static void check_pair(const char *buddyfile, const char *indexfile, int metric)
{
	const char *bpos = slurp(buddyfile), *ipos = slurp(indexfile), *bl, *il;
	size_t blen, ilen;
	int zones = 0;
	while ((bl = oms_frag_next_line(&bpos, &blen))) {
		il = oms_frag_next_line(&ipos, &ilen);
		ck_assert_ptr_nonnull(il);
		struct oms_frag_zone b, i;
		ck_assert_int_eq(oms_frag_parse_buddy(bl, blen, &b), 0);
		ck_assert_int_eq(oms_frag_parse_index(il, ilen, &i), 0);
		ck_assert_int_eq(b.node, i.node);
		ck_assert_str_eq(b.name, i.name);
		ck_assert_int_eq(b.norders, 11);
		ck_assert_int_eq(i.norders, 11);
		oms_frag_compute(&b, metric);
		for (int o = 0; o < 11; o++)
			ck_assert_msg(b.milli[o] == i.milli[o], "%s zone %s order %d: computed %d, kernel %d",
				      buddyfile, b.name, o, b.milli[o], i.milli[o]);
		zones++;
	}
	ck_assert_int_eq(zones, 3);
}

START_TEST(fixture_pairs)
{
	check_pair("buddyinfo.x86_64.idle", "extfrag_index.x86_64.idle", OMS_METRIC_EXTFRAG);
	check_pair("buddyinfo.x86_64.frag-partial", "extfrag_index.x86_64.frag-partial", OMS_METRIC_EXTFRAG);
	check_pair("buddyinfo.x86_64.frag-partial", "unusable_index.x86_64.frag-partial", OMS_METRIC_UNUSABLE);
}
END_TEST

START_TEST(fixture_levels)
{
	/* The point of the second metric: extfrag calls frag-partial safe,
	 * unusable sees 99 % of Normal's free memory unusable at order 1. */
	const char *pos = slurp("buddyinfo.x86_64.frag-partial"), *l;
	size_t len;
	struct oms_frag_zone z;
	while ((l = oms_frag_next_line(&pos, &len))) {
		ck_assert_int_eq(oms_frag_parse_buddy(l, len, &z), 0);
		if (strcmp(z.name, "Normal"))
			continue;
		oms_frag_compute(&z, OMS_METRIC_EXTFRAG);
		ck_assert_int_eq(oms_frag_level(z.milli, z.norders, 500), 11);
		oms_frag_compute(&z, OMS_METRIC_UNUSABLE);
		ck_assert_int_eq(z.milli[1], 992);
		ck_assert_int_eq(oms_frag_level(z.milli, z.norders, 500), 1);
	}
	pos = slurp("buddyinfo.x86_64.idle");
	while ((l = oms_frag_next_line(&pos, &len))) {
		ck_assert_int_eq(oms_frag_parse_buddy(l, len, &z), 0);
		oms_frag_compute(&z, OMS_METRIC_UNUSABLE);
		ck_assert_int_eq(oms_frag_level(z.milli, z.norders, 500), 11);
	}
}
END_TEST

START_TEST(malformed)
{
	struct oms_frag_zone z;
	static const char *const bad_buddy[] = {
		"",
		"Node",
		"Node 0, zone",
		"Node 0, zone   Normal",
		"Node 0, zone   Normal   ",
		"Node x, zone Normal 1 2",
		"Node 0 zone Normal 1 2",
		"Node 0, zone Normal 1 2x 3",
		"Node 0, zone Normal 1 -2",
		"Node 0, zone Normal 1 2.0",
		"Node 0, zone Normal 99999999999999999999999",
		"Node 0, zone AVeryLongZoneName 1 2",
		"node 0, zone Normal 1",
		"Node 0, zona Normal 1",
		"Node 0, zone Normal 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 "
		"24 25 26 27 28 29 30 31 32 33",
		"garbage",
	};
	for (size_t i = 0; i < sizeof bad_buddy / sizeof *bad_buddy; i++)
		ck_assert_msg(parse_buddy(bad_buddy[i], &z) == -1, "accepted: %s", bad_buddy[i]);
	static const char *const bad_index[] = {
		"Node 0, zone DMA",
		"Node 0, zone DMA 0.5",
		"Node 0, zone DMA 0.5000",
		"Node 0, zone DMA 2.000",
		"Node 0, zone DMA 1.001",
		"Node 0, zone DMA -1.001",
		"Node 0, zone DMA -2.000",
		"Node 0, zone DMA 0.-1000",
		"Node 0, zone DMA --1.000",
		"Node 0, zone DMA -0.-50",
		"Node 0, zone DMA 1.-50",
		"Node 0, zone DMA 0.-",
		"Node 0, zone DMA 0,500",
		"Node 0, zone DMA .500",
		"Node 0, zone DMA 0.500-1.000",
		"Node 0, zone DMA 12",
	};
	for (size_t i = 0; i < sizeof bad_index / sizeof *bad_index; i++)
		ck_assert_msg(parse_index(bad_index[i], &z) == -1, "accepted: %s", bad_index[i]);
	/* The longest legal line: 32 orders. */
	ck_assert_int_eq(parse_buddy("Node 0, zone Normal 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 "
				     "17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32", &z), 0);
	ck_assert_int_eq(z.norders, 32);
	/* Tabs, CR and a missing trailing newline are fine. */
	ck_assert_int_eq(parse_buddy("Node\t3,\tzone\tDMA32\t1\t2\r", &z), 0);
	ck_assert_int_eq(z.node, 3);
	ck_assert_int_eq(z.norders, 2);
	/* A line is bounded by its length, not by a NUL. */
	const char *two = "Node 0, zone DMA 5 6\nNode 0, zone DMA32 7";
	ck_assert_int_eq(oms_frag_parse_buddy(two, 20, &z), 0);
	ck_assert_int_eq(z.norders, 2);
	ck_assert_uint_eq(z.nr_free[1], 6);
}
END_TEST

START_TEST(milli_tokens)
{
	static const struct { const char *s; int v; } ok[] = {
		{"-1.000", -1000}, {"0.000", 0}, {"0.001", 1}, {"0.500", 500}, {"0.999", 999},
		{"1.000", 1000}, {"0.-500", -500}, {"0.-07", -7}, {"0.-62", -62}, {"0.-999", -999},
		{"-0.500", -500},
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		int v = 12345;
		const char *e = oms_frag_parse_milli(ok[i].s, ok[i].s + strlen(ok[i].s), &v);
		ck_assert_msg(e == ok[i].s + strlen(ok[i].s), "%s not consumed", ok[i].s);
		ck_assert_int_eq(v, ok[i].v);
	}
	/* Stops at the end it is given. */
	int v;
	const char *s = "0.5009";
	ck_assert_ptr_eq(oms_frag_parse_milli(s, s + 5, &v), s + 5);
	ck_assert_int_eq(v, 500);
}
END_TEST

START_TEST(unusable_formula)
{
	/* Fixture DMA: 0..0 1 1 3 at orders 8, 9, 10: 3840 free pages. */
	struct oms_frag_zone z;
	buddy(&z, "0 0 0 0 0 0 0 0 1 1 3");
	ck_assert_uint_eq(oms_frag_free_pages(&z), 3840);
	ck_assert_int_eq(oms_frag_unusable(z.nr_free, 11, 8), 0);
	ck_assert_int_eq(oms_frag_unusable(z.nr_free, 11, 9), 66);  /* (3840-7*512)*1000/3840 */
	ck_assert_int_eq(oms_frag_unusable(z.nr_free, 11, 10), 200);
	/* Huge counts do not overflow 64-bit arithmetic (also under -m32). */
	buddy(&z, "4000000000 0 0 0 0 0 0 0 0 0 1");
	ck_assert_int_eq(oms_frag_unusable(z.nr_free, 11, 1), 999);
	ck_assert_int_eq(oms_frag_extfrag(z.nr_free, 11, 10), -1000);
}
END_TEST

START_TEST(pick_zoneinfo_fixture)
{
	struct oms_frag_watch w[8];
	const char *zi = slurp("zoneinfo.x86_64");
	/* managed: DMA 3840, DMA32 772918, Normal 360448, Movable 0, Device 0 */
	ck_assert_int_eq(oms_frag_pick_zoneinfo(zi, "auto", w, 8), 1);
	ck_assert_int_eq(w[0].node, 0);
	ck_assert_str_eq(w[0].name, "DMA32");
	ck_assert_uint_eq(w[0].pages, 772918);
	ck_assert_int_eq(oms_frag_pick_zoneinfo(zi, "Normal", w, 8), 1);
	ck_assert_str_eq(w[0].name, "Normal");
	ck_assert_int_eq(oms_frag_pick_zoneinfo(zi, "normal", w, 8), 1);
	ck_assert_str_eq(w[0].name, "Normal");
	ck_assert_int_eq(oms_frag_pick_zoneinfo(zi, "DMA", w, 8), 1);
	ck_assert_str_eq(w[0].name, "DMA");
	ck_assert_int_eq(oms_frag_pick_zoneinfo(zi, "Movable", w, 8), 0); /* no memory */
	ck_assert_int_eq(oms_frag_pick_zoneinfo(zi, "HighMem", w, 8), 0);
	ck_assert_int_eq(oms_frag_pick_zoneinfo("", "auto", w, 8), 0);
	ck_assert_int_eq(oms_frag_pick_zoneinfo("garbage\n\n  managed 5\n", "auto", w, 8), 0);
}
END_TEST

START_TEST(pick_zoneinfo_numa)
{
	const char *zi =
		"Node 0, zone      DMA\n  pages free     3840\n        managed  3840\n"
		"  pagesets\n    cpu: 0\n              count: 0\n"
		"Node 0, zone   Normal\n  per-node stats\n      nr_inactive_anon 10\n"
		"  pages free     100\n        managed  4000000\n"
		"Node 1, zone   Normal\n  pages free     5\n        managed  100\n"
		"Node 1, zone  Movable\n  pages free     5\n        managed  8000000\n"
		"Node 2, zone   Normal\n        managed  0\n";
	struct oms_frag_watch w[8];
	ck_assert_int_eq(oms_frag_pick_zoneinfo(zi, "auto", w, 8), 2);
	ck_assert_int_eq(w[0].node, 0);
	ck_assert_str_eq(w[0].name, "Normal");
	ck_assert_int_eq(w[1].node, 1);
	ck_assert_str_eq(w[1].name, "Movable");
	ck_assert_int_eq(oms_frag_pick_zoneinfo(zi, "Normal", w, 8), 2);
	ck_assert_str_eq(w[1].name, "Normal");
	ck_assert_uint_eq(w[1].pages, 100);
	/* At most `max` nodes. */
	ck_assert_int_eq(oms_frag_pick_zoneinfo(zi, "auto", w, 1), 1);
	ck_assert_int_eq(w[0].node, 0);
}
END_TEST

START_TEST(pick_buddy_fallback)
{
	struct oms_frag_watch w[4];
	ck_assert_int_eq(oms_frag_pick_buddy(slurp("buddyinfo.x86_64.idle"), "auto", w, 4), 1);
	ck_assert_str_eq(w[0].name, "DMA32");
	ck_assert_int_eq(oms_frag_pick_buddy(slurp("buddyinfo.x86_64.frag-partial"), "auto", w, 4), 1);
	ck_assert_str_eq(w[0].name, "Normal");
	/* A named zone is eligible even with nothing free. */
	ck_assert_int_eq(oms_frag_pick_buddy("Node 0, zone DMA 0 0\nNode 0, zone Normal 5 5\n", "DMA",
					     w, 4), 1);
	ck_assert_str_eq(w[0].name, "DMA");
}
END_TEST

START_TEST(next_line_split)
{
	const char *pos = "a\n\nbc", *l;
	size_t len;
	ck_assert_ptr_nonnull(l = oms_frag_next_line(&pos, &len));
	ck_assert_uint_eq(len, 1);
	ck_assert_ptr_nonnull(l = oms_frag_next_line(&pos, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_nonnull(l = oms_frag_next_line(&pos, &len));
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(l[0], 'b');
	ck_assert_ptr_null(oms_frag_next_line(&pos, &len));
	pos = NULL;
	ck_assert_ptr_null(oms_frag_next_line(&pos, &len));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("frag");
	TCase *tc = tcase_create("frag");
	tcase_add_test(tc, seed_dma_line);
	tcase_add_test(tc, odd_negative_values);
	tcase_add_test(tc, old_kernel_format);
	tcase_add_test(tc, empty_zone);
	tcase_add_test(tc, readme_hand_computed);
	tcase_add_test(tc, fixture_pairs);
	tcase_add_test(tc, fixture_levels);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, milli_tokens);
	tcase_add_test(tc, unusable_formula);
	tcase_add_test(tc, pick_zoneinfo_fixture);
	tcase_add_test(tc, pick_zoneinfo_numa);
	tcase_add_test(tc, pick_buddy_fallback);
	tcase_add_test(tc, next_line_split);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
