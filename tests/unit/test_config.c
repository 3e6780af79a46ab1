/* test_config.c - configuration parsing (shim/config.c).
 *
 * Covers oms_config_parse_size (suffixes, case, overflow, junk),
 * oms_config_parse_uint bounds, oms_config_parse_milli, oms_config_exe_matches,
 * and oms_config_load through an injected getenv (a small name=value table):
 * defaults, every OOMSHIELD_* value applied, bad values keeping the default
 * with exactly one warning line each (fd 2 is captured), the 64K threshold
 * clamp, unusable directories (tmpfs, missing) and OOMSHIELD_DISABLE.
 * Check runs each test in its own process, so global state never leaks. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "unit_util.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

/* ---- oms_config_parse_size ---- */

static uint64_t size_of(const char *s)
{
	uint64_t v = 12345;
	ck_assert_msg(oms_config_parse_size(s, &v) == 0, "\"%s\" rejected", s);
	return v;
}

static void size_bad(const char *s)
{
	uint64_t v = 12345;
	ck_assert_msg(oms_config_parse_size(s, &v) == -1, "\"%s\" accepted as %llu", s,
		      (unsigned long long)v);
}

START_TEST(size_plain_bytes)
{
	ck_assert_uint_eq(size_of("0"), 0);
	ck_assert_uint_eq(size_of("4096"), 4096);
	ck_assert_uint_eq(size_of("000123"), 123);
	ck_assert_uint_eq(size_of("18446744073709551615"), UINT64_MAX);
}
END_TEST

START_TEST(size_suffixes)
{
	ck_assert_uint_eq(size_of("64K"), 65536);
	ck_assert_uint_eq(size_of("1M"), 1048576);
	ck_assert_uint_eq(size_of("3G"), 3ull << 30);
	ck_assert_uint_eq(size_of("2T"), 2ull << 40);
	ck_assert_uint_eq(size_of("0K"), 0);
}
END_TEST

START_TEST(size_long_suffixes)
{
	ck_assert_uint_eq(size_of("1KiB"), 1024);
	ck_assert_uint_eq(size_of("2MiB"), 2u << 20);
	ck_assert_uint_eq(size_of("1GiB"), 1u << 30);
	ck_assert_uint_eq(size_of("1TiB"), 1ull << 40);
	ck_assert_uint_eq(size_of("1KB"), 1024);
	ck_assert_uint_eq(size_of("5MB"), 5u << 20);
}
END_TEST

START_TEST(size_lowercase)
{
	ck_assert_uint_eq(size_of("64k"), 65536);
	ck_assert_uint_eq(size_of("1m"), 1u << 20);
	ck_assert_uint_eq(size_of("1g"), 1u << 30);
	ck_assert_uint_eq(size_of("1t"), 1ull << 40);
	ck_assert_uint_eq(size_of("1kb"), 1024);
	ck_assert_uint_eq(size_of("1mb"), 1u << 20);
}
END_TEST

START_TEST(size_overflow)
{
	size_bad("99999999999999999999");
	size_bad("18446744073709551616");
	size_bad("20000000000T");
	size_bad("16777216T"); /* 2^24 << 40 == 2^64 */
	ck_assert_uint_eq(size_of("16777215T"), 16777215ull << 40);
	size_bad("17179869184G"); /* 2^34 << 30 == 2^64 */
}
END_TEST

START_TEST(size_malformed)
{
	size_bad("");
	size_bad("1X");
	size_bad("-1");
	size_bad(" 1");
	size_bad("1 ");
	size_bad("1.5M");
	size_bad("K");
	size_bad("1Ki");
	size_bad("1KBB");
	size_bad("1MiBx");
	size_bad("0x10");
	ck_assert_int_eq(oms_config_parse_size(NULL, &(uint64_t){0}), -1);
}
END_TEST

/* ---- oms_config_parse_uint ---- */

static int puint(const char *s, uint64_t max, uint64_t *out)
{
	*out = 777;
	return oms_config_parse_uint(s, max, out);
}

START_TEST(uint_bounds)
{
	uint64_t v;
	ck_assert_int_eq(puint("0", 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(puint("10", 10, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(puint("11", 10, &v), -1);
	ck_assert_int_eq(puint("100", 99, &v), -1);
	ck_assert_int_eq(puint("99", 99, &v), 0);
	ck_assert_uint_eq(v, 99);
	ck_assert_int_eq(puint("18446744073709551615", UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(puint("18446744073709551616", UINT64_MAX, &v), -1);
}
END_TEST

START_TEST(uint_malformed)
{
	uint64_t v;
	ck_assert_int_eq(puint("", 100, &v), -1);
	ck_assert_int_eq(puint("-1", 100, &v), -1);
	ck_assert_int_eq(puint("+1", 100, &v), -1);
	ck_assert_int_eq(puint(" 1", 100, &v), -1);
	ck_assert_int_eq(puint("1a", 100, &v), -1);
	ck_assert_int_eq(puint("1K", 100, &v), -1);
	ck_assert_int_eq(oms_config_parse_uint(NULL, 100, &v), -1);
}
END_TEST

/* A single digit larger than the bound: `max - d` wraps around in
 * config.c and the digit is accepted. */
START_TEST(uint_single_digit_over_bound)
{
	uint64_t v;
	ck_assert_int_eq(puint("5", 5, &v), 0);
	ck_assert_uint_eq(v, 5);
	ck_assert_msg(puint("7", 5, &v) == -1, "\"7\" accepted with max 5 (got %llu)",
		      (unsigned long long)v);
	ck_assert_msg(puint("1", 0, &v) == -1, "\"1\" accepted with max 0");
}
END_TEST

/* ---- oms_config_parse_milli ---- */

static int milli(const char *s)
{
	int v = -42;
	ck_assert_msg(oms_config_parse_milli(s, &v) == 0, "\"%s\" rejected", s);
	return v;
}

static void milli_bad(const char *s)
{
	int v = -42;
	ck_assert_msg(oms_config_parse_milli(s, &v) == -1, "\"%s\" accepted as %d", s, v);
}

START_TEST(milli_values)
{
	ck_assert_int_eq(milli("0.500"), 500);
	ck_assert_int_eq(milli("0.5"), 500);
	ck_assert_int_eq(milli("0.05"), 50);
	ck_assert_int_eq(milli("0.001"), 1);
	ck_assert_int_eq(milli("1"), 1000);
	ck_assert_int_eq(milli("1.000"), 1000);
	ck_assert_int_eq(milli("1.0"), 1000);
	ck_assert_int_eq(milli("0"), 0);
	ck_assert_int_eq(milli("0.000"), 0);
}
END_TEST

START_TEST(milli_rejected)
{
	milli_bad("1.5");
	milli_bad("1.001");
	milli_bad("2");
	milli_bad("10");
	milli_bad("0.1234");
	milli_bad(".5");
	milli_bad("0.");
	milli_bad("");
	milli_bad("-0.5");
	milli_bad("0.5x");
	milli_bad("0,5");
}
END_TEST

/* ---- oms_config_exe_matches ---- */

START_TEST(exe_list)
{
	ck_assert_int_eq(oms_config_exe_matches("sort", "sort"), 1);
	ck_assert_int_eq(oms_config_exe_matches("python3,sort,xz", "sort"), 1);
	ck_assert_int_eq(oms_config_exe_matches("python3,sort,xz", "xz"), 1);
	ck_assert_int_eq(oms_config_exe_matches("python3,sort,xz", "python3"), 1);
	ck_assert_int_eq(oms_config_exe_matches("python3,sort,xz", "gzip"), 0);
	ck_assert_int_eq(oms_config_exe_matches("", "sort"), 0);
	ck_assert_int_eq(oms_config_exe_matches("sort", NULL), 0);
}
END_TEST

START_TEST(exe_basename)
{
	ck_assert_int_eq(oms_config_exe_matches("sort", "/usr/bin/sort"), 1);
	ck_assert_int_eq(oms_config_exe_matches("xz,sort", "./build/sort"), 1);
	ck_assert_int_eq(oms_config_exe_matches("bin", "/usr/bin/sort"), 0);
	ck_assert_int_eq(oms_config_exe_matches("/usr/bin/sort", "/usr/bin/sort"), 0);
}
END_TEST

START_TEST(exe_empty_entries)
{
	ck_assert_int_eq(oms_config_exe_matches(",,sort,", "/usr/bin/sort"), 1);
	ck_assert_int_eq(oms_config_exe_matches("xz,,sort", "sort"), 1);
	/* An empty entry never matches an empty basename. */
	ck_assert_int_eq(oms_config_exe_matches(",,", "/usr/bin/"), 0);
	ck_assert_int_eq(oms_config_exe_matches("a,,b", "/"), 0);
}
END_TEST

START_TEST(exe_no_partial)
{
	ck_assert_int_eq(oms_config_exe_matches("sor", "/usr/bin/sort"), 0);
	ck_assert_int_eq(oms_config_exe_matches("sorted", "sort"), 0);
	ck_assert_int_eq(oms_config_exe_matches("ort", "sort"), 0);
	ck_assert_int_eq(oms_config_exe_matches("xsort,sortx", "sort"), 0);
	ck_assert_int_eq(oms_config_exe_matches("Sort", "sort"), 0);
}
END_TEST

/* ---- oms_config_load with an injected getter ---- */

static const char *const *env_table; /* name, value, name, value, ..., NULL */

static const char *fake_get(const char *name)
{
	for (const char *const *p = env_table; p && *p; p += 2)
		if (!strcmp(p[0], name))
			return p[1];
	return NULL;
}

static char log_buf[16384];

/* Load `c` from `table` and return what was logged. */
static const char *load(struct oms_config *c, const char *const *table)
{
	struct capture cap;
	env_table = table;
	memset(c, 0x5a, sizeof *c); /* load must not rely on a zeroed struct */
	capture_begin(&cap);
	oms_config_load(c, fake_get);
	return capture_end(&cap, log_buf, sizeof log_buf);
}

/* /var/tmp as config.c judges it: exists, not tmpfs/ramfs, writable. */
static int var_tmp_usable(void)
{
	struct statfs sf;
	return statfs("/var/tmp", &sf) == 0 && (unsigned long)sf.f_type != TMPFS_MAGIC &&
	       (unsigned long)sf.f_type != 0x858458f6 && access("/var/tmp", W_OK | X_OK) == 0;
}

static void assert_defaults(const struct oms_config *c)
{
	ck_assert_int_eq(c->disable, 0);
	ck_assert_int_eq(c->secure, 0);
	ck_assert_str_eq(c->dir, "/var/tmp");
	ck_assert_uint_eq(c->threshold, 1u << 20);
	ck_assert_uint_eq(c->max, 0);
	ck_assert_int_eq(c->log_level, OMS_LOG_WARN);
	ck_assert_str_eq(c->log_file, "");
	ck_assert_int_eq(c->stats, 0);
	ck_assert_str_eq(c->proc_root, "");
	ck_assert_int_eq(c->mmap, 1);
	ck_assert_int_eq(c->defrag, 1);
	ck_assert_int_eq(c->thread, 1);
	ck_assert_int_eq(c->defrag_dry_run, 0);
	ck_assert_uint_eq(c->defrag_interval_ms, 1000);
	ck_assert_int_eq(c->frag_index_milli, 500);
	ck_assert_int_eq(c->safe_level, 9);
	ck_assert_uint_eq(c->defrag_min_gap_ms, 5000);
	ck_assert_uint_eq(c->drop_caches_after, 20);
	ck_assert_str_eq(c->zone, "auto");
	ck_assert_int_eq(c->metric, OMS_METRIC_EXTFRAG);
	ck_assert_int_eq(c->keep_pct, 1);
	ck_assert_uint_eq(c->keep, 256u << 20);
}

START_TEST(load_defaults)
{
	static const char *const none[] = {NULL};
	struct oms_config c;
	const char *log = load(&c, none);
	assert_defaults(&c);
	ck_assert_int_eq(c.dir_ok, var_tmp_usable());
	ck_assert_int_eq(oms_log_level, OMS_LOG_WARN);
	ck_assert_str_eq(log, "");
}
END_TEST

START_TEST(load_valid_values)
{
	char dir[] = "/var/tmp/oms-unit-cfg-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	const char *const table[] = {
		"OOMSHIELD_DIR", dir,
		"OOMSHIELD_THRESHOLD", "2MiB",
		"OOMSHIELD_MAX", "512M",
		"OOMSHIELD_LOG", "debug",
		"OOMSHIELD_LOG_FILE", "/tmp/oms-unit-never-opened.log",
		"OOMSHIELD_STATS", "1",
		"OOMSHIELD_MMAP", "off",
		"OOMSHIELD_PROC_ROOT", "/tmp/fakeproc",
		"OOMSHIELD_DEFRAG_DRY_RUN", "yes",
		"OOMSHIELD_DEFRAG_INTERVAL_MS", "250",
		"OOMSHIELD_DEFRAG_MIN_GAP_MS", "0",
		"OOMSHIELD_DROP_CACHES_AFTER", "0",
		"OOMSHIELD_SAFE_LEVEL", "3",
		"OOMSHIELD_FRAG_INDEX", "0.750",
		"OOMSHIELD_ZONE", "Normal",
		"OOMSHIELD_DEFRAG_METRIC", "unusable",
		"OOMSHIELD_DISK_KEEP", "10%",
		NULL,
	};
	struct oms_config c;
	const char *log = load(&c, table);
	rmdir(dir);
	ck_assert_int_eq(c.keep_pct, 10);
	ck_assert_uint_eq(c.keep, UINT64_MAX); /* a percentage given is not capped */
	ck_assert_str_eq(c.dir, dir);
	ck_assert_int_eq(c.dir_ok, 1);
	ck_assert_uint_eq(c.threshold, 2u << 20);
	ck_assert_uint_eq(c.max, 512u << 20);
	ck_assert_int_eq(c.log_level, OMS_LOG_DEBUG);
	ck_assert_int_eq(oms_log_level, OMS_LOG_DEBUG);
	ck_assert_str_eq(c.log_file, "/tmp/oms-unit-never-opened.log");
	ck_assert_int_eq(access("/tmp/oms-unit-never-opened.log", F_OK), -1);
	ck_assert_int_eq(c.stats, 1);
	ck_assert_int_eq(c.mmap, 0);
	ck_assert_str_eq(c.proc_root, "/tmp/fakeproc");
	ck_assert_int_eq(c.defrag, 1);
	ck_assert_int_eq(c.defrag_dry_run, 1);
	ck_assert_uint_eq(c.defrag_interval_ms, 250);
	ck_assert_uint_eq(c.defrag_min_gap_ms, 0);
	ck_assert_uint_eq(c.drop_caches_after, 0);
	ck_assert_int_eq(c.safe_level, 3);
	ck_assert_int_eq(c.frag_index_milli, 750);
	ck_assert_str_eq(c.zone, "Normal");
	ck_assert_int_eq(c.metric, OMS_METRIC_UNUSABLE);
	ck_assert_int_eq(c.disable, 0);
	ck_assert_str_eq(log, "");
}
END_TEST

START_TEST(load_booleans)
{
	static const char *const t1[] = {"OOMSHIELD_STATS", "true", "OOMSHIELD_DEFRAG", "no",
					 "OOMSHIELD_MMAP", "0", NULL};
	struct oms_config c;
	ck_assert_str_eq(load(&c, t1), "");
	ck_assert_int_eq(c.stats, 1);
	ck_assert_int_eq(c.defrag, 0);
	ck_assert_int_eq(c.mmap, 0);
	static const char *const t2[] = {"OOMSHIELD_STATS", "on", "OOMSHIELD_DEFRAG", "false",
					 NULL};
	ck_assert_str_eq(load(&c, t2), "");
	ck_assert_int_eq(c.stats, 1);
	ck_assert_int_eq(c.defrag, 0);
}
END_TEST

/* OOMSHIELD_DISK_KEEP takes a size or a whole percentage. */
START_TEST(load_disk_keep)
{
	static const char *const bytes[] = {"OOMSHIELD_DISK_KEEP", "512M", NULL};
	static const char *const zero[] = {"OOMSHIELD_DISK_KEEP", "0", NULL};
	static const char *const pct0[] = {"OOMSHIELD_DISK_KEEP", "0%", NULL};
	static const char *const all[] = {"OOMSHIELD_DISK_KEEP", "0100%", NULL};
	struct oms_config c;
	ck_assert_str_eq(load(&c, bytes), "");
	ck_assert_int_eq(c.keep_pct, -1);
	ck_assert_uint_eq(c.keep, 512u << 20);
	ck_assert_str_eq(load(&c, zero), "");
	ck_assert_int_eq(c.keep_pct, -1);
	ck_assert_uint_eq(c.keep, 0);
	ck_assert_str_eq(load(&c, pct0), "");
	ck_assert_int_eq(c.keep_pct, 0);
	ck_assert_str_eq(load(&c, all), "");
	ck_assert_int_eq(c.keep_pct, 100);
	static const char *const bad[] = {"%", "5 %", "-1%", "101%", "5%%", "x%", "5 M", "",
					  "0000000000000005%", NULL};
	for (const char *const *v = bad; *v; v++) {
		const char *const t[] = {"OOMSHIELD_DISK_KEEP", *v, NULL};
		const char *log = load(&c, t);
		ck_assert_msg(count_substr(log, "OOMSHIELD_DISK_KEEP=") == 1, "%s: %s", *v, log);
		ck_assert_int_eq(c.keep_pct, 1);
		ck_assert_uint_eq(c.keep, 256u << 20);
	}
}
END_TEST

/* Each bad value: default kept, one line naming variable=value. */
static const char *const bad_table[] = {
	"OOMSHIELD_LOG", "loud",
	"OOMSHIELD_DISABLE", "maybe",
	"OOMSHIELD_STATS", "2",
	"OOMSHIELD_MMAP", "perhaps",
	"OOMSHIELD_DIR", "relative/dir",
	"OOMSHIELD_THRESHOLD", "12Q",
	"OOMSHIELD_MAX", "lots",
	"OOMSHIELD_DEFRAG", "sometimes",
	"OOMSHIELD_DEFRAG_DRY_RUN", "x",
	"OOMSHIELD_DEFRAG_INTERVAL_MS", "5",
	"OOMSHIELD_DEFRAG_MIN_GAP_MS", "-1",
	"OOMSHIELD_DROP_CACHES_AFTER", "abc",
	"OOMSHIELD_SAFE_LEVEL", "65",
	"OOMSHIELD_FRAG_INDEX", "1.5",
	"OOMSHIELD_DEFRAG_METRIC", "best",
	"OOMSHIELD_DISK_KEEP", "101%",
	NULL,
};

START_TEST(load_bad_values_keep_defaults)
{
	struct oms_config c;
	load(&c, bad_table);
	assert_defaults(&c);
	ck_assert_int_eq(c.dir_ok, var_tmp_usable());
}
END_TEST

START_TEST(load_bad_values_logged_once)
{
	struct oms_config c;
	const char *log = load(&c, bad_table);
	int n = 0;
	for (const char *const *p = bad_table; *p; p += 2, n++) {
		char needle[128];
		snprintf(needle, sizeof needle, "%s=%s:", p[0], p[1]);
		ck_assert_msg(count_substr(log, needle) == 1, "\"%s\" logged %d times in:\n%s",
			      needle, count_substr(log, needle), log);
	}
	ck_assert_int_eq(count_lines(log), n);
	ck_assert_int_eq(count_substr(log, "using "), n);
	ck_assert_int_eq(count_substr(log, "oomshield["), n);
}
END_TEST

START_TEST(load_bad_threshold_says_what_is_used)
{
	static const char *const t[] = {"OOMSHIELD_THRESHOLD", "99999999999999999999", NULL};
	struct oms_config c;
	const char *log = load(&c, t);
	ck_assert_uint_eq(c.threshold, 1u << 20);
	ck_assert_int_eq(count_substr(log, "OOMSHIELD_THRESHOLD=99999999999999999999:"), 1);
	ck_assert_int_eq(count_substr(log, "using 1048576"), 1);
	ck_assert_int_eq(count_lines(log), 1);
}
END_TEST

START_TEST(load_threshold_clamped)
{
	static const char *const t1[] = {"OOMSHIELD_THRESHOLD", "4K", NULL};
	struct oms_config c;
	const char *log = load(&c, t1);
	ck_assert_uint_eq(c.threshold, 65536);
	ck_assert_int_eq(count_substr(log, "OOMSHIELD_THRESHOLD=4K:"), 1);
	ck_assert_int_eq(count_substr(log, "65536"), 1);
	ck_assert_int_eq(count_lines(log), 1);

	static const char *const t2[] = {"OOMSHIELD_THRESHOLD", "0", NULL};
	log = load(&c, t2);
	ck_assert_uint_eq(c.threshold, 65536);
	ck_assert_int_eq(count_lines(log), 1);

	static const char *const t3[] = {"OOMSHIELD_THRESHOLD", "64K", NULL};
	log = load(&c, t3);
	ck_assert_uint_eq(c.threshold, 65536);
	ck_assert_str_eq(log, "");

	static const char *const t4[] = {"OOMSHIELD_THRESHOLD", "65535", NULL};
	load(&c, t4);
	ck_assert_uint_eq(c.threshold, 65536);
}
END_TEST

START_TEST(load_log_off_silences_warnings)
{
	static const char *const t[] = {"OOMSHIELD_LOG", "off", "OOMSHIELD_THRESHOLD", "bad",
					NULL};
	struct oms_config c;
	const char *log = load(&c, t);
	ck_assert_int_eq(c.log_level, OMS_LOG_OFF);
	ck_assert_uint_eq(c.threshold, 1u << 20);
	ck_assert_str_eq(log, "");
}
END_TEST

START_TEST(load_dir_on_tmpfs)
{
	struct statfs sf;
	ck_assert_msg(statfs("/dev/shm", &sf) == 0 && (unsigned long)sf.f_type == TMPFS_MAGIC,
		      "precondition: /dev/shm is tmpfs");
	static const char *const t[] = {"OOMSHIELD_DIR", "/dev/shm", NULL};
	struct oms_config c;
	const char *log = load(&c, t);
	ck_assert_str_eq(c.dir, "/dev/shm");
	ck_assert_int_eq(c.dir_ok, 0);
	ck_assert_int_eq(count_substr(log, "OOMSHIELD_DIR=/dev/shm:"), 1);
	ck_assert_int_eq(count_substr(log, "tmpfs"), 1);
	ck_assert_int_eq(count_lines(log), 1);
}
END_TEST

START_TEST(load_dir_missing)
{
	static const char *const t[] = {"OOMSHIELD_DIR", "/var/tmp/oms-unit-no-such-dir/x", NULL};
	struct oms_config c;
	const char *log = load(&c, t);
	ck_assert_str_eq(c.dir, "/var/tmp/oms-unit-no-such-dir/x");
	ck_assert_int_eq(c.dir_ok, 0);
	ck_assert_int_eq(count_substr(log, "OOMSHIELD_DIR=/var/tmp/oms-unit-no-such-dir/x:"), 1);
	ck_assert_int_eq(count_lines(log), 1);
}
END_TEST

START_TEST(load_dir_too_long)
{
	/* OMS_PATH_MAX - 1 characters fit; one more does not. */
	char longdir[OMS_PATH_MAX + 1];
	memset(longdir, 'd', sizeof longdir);
	longdir[0] = '/';
	longdir[OMS_PATH_MAX - 1] = '\0';
	const char *const t[] = {"OOMSHIELD_DIR", longdir, NULL};
	struct oms_config c;
	load(&c, t);
	ck_assert_str_eq(c.dir, longdir);
	ck_assert_int_eq(c.dir_ok, 0);

	longdir[OMS_PATH_MAX - 1] = 'd';
	longdir[OMS_PATH_MAX] = '\0';
	const char *log = load(&c, t);
	ck_assert_str_eq(c.dir, "/var/tmp");
	ck_assert_int_eq(count_substr(log, "OOMSHIELD_DIR"), 1);
	ck_assert_int_eq(count_lines(log), 1);
}
END_TEST

START_TEST(load_disable)
{
	static const char *const t[] = {"OOMSHIELD_DISABLE", "1", NULL};
	struct oms_config c;
	const char *log = load(&c, t);
	ck_assert_int_eq(c.disable, 1);
	ck_assert_int_eq(c.defrag, 0);
	ck_assert_int_eq(c.dir_ok, 0);
	ck_assert_str_eq(log, "");
}
END_TEST

START_TEST(load_disable_overrides_defrag)
{
	static const char *const t[] = {"OOMSHIELD_DEFRAG", "1", "OOMSHIELD_DISABLE", "yes", NULL};
	struct oms_config c;
	load(&c, t);
	ck_assert_int_eq(c.disable, 1);
	ck_assert_int_eq(c.defrag, 0);
}
END_TEST

START_TEST(load_only_matching_program)
{
	/* This binary is test_config: listed -> stays enabled. */
	static const char *const t1[] = {"OOMSHIELD_ONLY", "sort,test_config", NULL};
	struct oms_config c;
	load(&c, t1);
	ck_assert_int_eq(c.disable, 0);
	ck_assert_int_eq(c.defrag, 1);
	static const char *const t2[] = {"OOMSHIELD_ONLY", "sort,xz,test_conf", NULL};
	load(&c, t2);
	ck_assert_int_eq(c.disable, 1);
	ck_assert_int_eq(c.defrag, 0);
	ck_assert_int_eq(c.dir_ok, 0);
}
END_TEST

START_TEST(load_process_environment)
{
	/* NULL getter: the real environment through secure_getenv. */
	ck_assert_int_eq(setenv("OOMSHIELD_THRESHOLD", "3M", 1), 0);
	ck_assert_int_eq(setenv("OOMSHIELD_MAX", "1G", 1), 0);
	struct oms_config c;
	oms_config_load(&c, NULL);
	ck_assert_int_eq(c.secure, 0);
	ck_assert_uint_eq(c.threshold, 3u << 20);
	ck_assert_uint_eq(c.max, 1u << 30);
}
END_TEST


/* OOMSHIELD_DEFRAG=0 leaves the thread; OOMSHIELD_THREAD=0 leaves DefragTick's
 * setting alone (init.c starts no thread then); DISABLE clears both. */
START_TEST(load_thread_and_defrag_apart)
{
	static const char *const d0[] = {"OOMSHIELD_DEFRAG", "0", NULL};
	static const char *const t0[] = {"OOMSHIELD_THREAD", "0", NULL};
	static const char *const tbad[] = {"OOMSHIELD_THREAD", "maybe", NULL};
	static const char *const off[] = {"OOMSHIELD_DISABLE", "1", NULL};
	struct oms_config c;
	ck_assert_str_eq(load(&c, d0), "");
	ck_assert_int_eq(c.defrag, 0);
	ck_assert_int_eq(c.thread, 1);
	ck_assert_str_eq(load(&c, t0), "");
	ck_assert_int_eq(c.thread, 0);
	ck_assert_int_eq(c.defrag, 1);
	const char *log = load(&c, tbad);
	ck_assert_int_eq(c.thread, 1);
	ck_assert_int_eq(count_substr(log, "OOMSHIELD_THREAD=maybe: not a boolean (0 or 1); using 1"), 1);
	load(&c, off);
	ck_assert_int_eq(c.thread, 0);
	ck_assert_int_eq(c.defrag, 0);
}
END_TEST

/* A value is logged sanitized: control bytes escaped, a long one cut, so
 * that one warning stays one line of bounded length. */
START_TEST(load_bad_value_sanitized)
{
	static char longv[600];
	memset(longv, 'x', sizeof longv - 1);
	static const char *const t[] = {"OOMSHIELD_THRESHOLD", "1M\nwarn: forged line\x1b[2J",
					"OOMSHIELD_ZONE", "a\\b", "OOMSHIELD_MAX", longv, NULL};
	struct oms_config c;
	const char *log = load(&c, t);
	ck_assert_int_eq(count_lines(log), 2); /* ZONE is just a string */
	ck_assert_int_eq(count_substr(log, "OOMSHIELD_THRESHOLD=1M\\x0awarn: forged line\\x1b[2J: not a size"), 1);
	ck_assert_int_eq(count_substr(log, "OOMSHIELD_MAX=xxxx"), 1);
	ck_assert_int_eq(count_substr(log, "xxx...: not a size"), 1);
	const char *l2 = strstr(log, "OOMSHIELD_MAX=");
	ck_assert_ptr_nonnull(l2);
	ck_assert_int_lt((int)(strchr(l2, '\n') - l2), 200);
	ck_assert_str_eq(c.zone, "a\\b");
}
END_TEST

START_TEST(clean_escapes_and_cuts)
{
	char b[16];
	ck_assert_str_eq(oms_log_clean(b, sizeof b, "plain"), "plain");
	ck_assert_str_eq(oms_log_clean(b, sizeof b, "a\nb\tc\\"), "a\\x0ab\\x09c\\\\");
	ck_assert_str_eq(oms_log_clean(b, sizeof b, "0123456789abcde"), "0123456789abcde");
	ck_assert_str_eq(oms_log_clean(b, sizeof b, "0123456789abcdef"), "0123456789ab...");
	ck_assert_str_eq(oms_log_clean(b, sizeof b, "\n\n\n\n"), "\\x0a\\x0a\\x0a...");
	ck_assert_str_eq(oms_log_clean(b, sizeof b, ""), "");
	ck_assert_str_eq(oms_log_clean(b, sizeof b, "caf\xc3\xa9"), "caf\xc3\xa9"); /* UTF-8 stays */
}
END_TEST

/* A relative OOMSHIELD_LOG_FILE would be created relative to whatever
 * directory the program runs in: refused, once, and stderr kept. */
START_TEST(load_log_file_relative_refused)
{
	static const char *const t[] = {"OOMSHIELD_LOG_FILE", "../../etc/x.log", NULL};
	static const char *const ok[] = {"OOMSHIELD_LOG_FILE", "/tmp/oms-abs.log", NULL};
	struct oms_config c;
	const char *log = load(&c, t);
	ck_assert_int_eq(count_lines(log), 1);
	ck_assert_int_eq(count_substr(log, "OOMSHIELD_LOG_FILE=../../etc/x.log: not an absolute path; "
					   "logging to stderr"), 1);
	ck_assert_str_eq(c.log_file, "");
	ck_assert_str_eq(load(&c, ok), "");
	ck_assert_str_eq(c.log_file, "/tmp/oms-abs.log");
}
END_TEST

/* The log file is created at the first line, not before. */
START_TEST(log_file_created_at_first_line)
{
	char dir[] = "/tmp/oms-logfile.XXXXXX", path[128];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/shim.log", dir);
	oms_log_level = OMS_LOG_WARN;
	oms_log_open(path);
	oms_info("below the level: not a line");
	ck_assert_int_ne(access(path, F_OK), 0);
	oms_warn("first line");
	oms_warn("second line");
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	char b[256];
	size_t n = fread(b, 1, sizeof b - 1, f);
	fclose(f);
	b[n] = '\0';
	ck_assert_int_eq(count_lines(b), 2);
	ck_assert_int_eq(count_substr(b, "warn: first line"), 1);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* Every setting in the table is documented in the README's table and known
 * to the launcher's --dry-run list. */
static char *slurp(const char *rel)
{
	static char buf[2][1 << 18];
	static int which;
	char path[512];
	const char *src = __FILE__; /* tests/unit/test_config.c from the top */
	const char *cut = strstr(src, "tests/unit/");
	snprintf(path, sizeof path, "%.*s%s", cut ? (int)(cut - src) : 0, src, rel);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	char *b = buf[which++ & 1];
	size_t n = fread(b, 1, sizeof buf[0] - 1, f);
	fclose(f);
	b[n] = '\0';
	return b;
}

START_TEST(table_documented)
{
	const char *names[64];
	size_t n = oms_config_names(names, 64);
	ck_assert_uint_ge(n, 20);
	ck_assert_uint_le(n, 64);
	const char *readme = slurp("README.md");
	const char *launcher = slurp("tools/oomshield");
	for (size_t i = 0; i < n; i++) {
		char row[80];
		snprintf(row, sizeof row, "| `%s` |", names[i]);
		ck_assert_msg(strstr(readme, row), "README.md has no row for %s", names[i]);
		int found = 0;
		size_t len = strlen(names[i]);
		for (const char *p = launcher; !found && (p = strstr(p, names[i])); p += len)
			found = p[len] != '_' && (p[len] < 'A' || p[len] > 'Z');
		ck_assert_msg(found, "tools/oomshield does not know %s", names[i]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *parse = tcase_create("parse");
	tcase_add_test(parse, size_plain_bytes);
	tcase_add_test(parse, size_suffixes);
	tcase_add_test(parse, size_long_suffixes);
	tcase_add_test(parse, size_lowercase);
	tcase_add_test(parse, size_overflow);
	tcase_add_test(parse, size_malformed);
	tcase_add_test(parse, uint_bounds);
	tcase_add_test(parse, uint_malformed);
	tcase_add_test(parse, uint_single_digit_over_bound);
	tcase_add_test(parse, milli_values);
	tcase_add_test(parse, milli_rejected);
	tcase_add_test(parse, exe_list);
	tcase_add_test(parse, exe_basename);
	tcase_add_test(parse, exe_empty_entries);
	tcase_add_test(parse, exe_no_partial);
	suite_add_tcase(s, parse);

	TCase *ld = tcase_create("load");
	tcase_add_test(ld, load_defaults);
	tcase_add_test(ld, load_valid_values);
	tcase_add_test(ld, load_booleans);
	tcase_add_test(ld, load_disk_keep);
	tcase_add_test(ld, load_bad_values_keep_defaults);
	tcase_add_test(ld, load_bad_values_logged_once);
	tcase_add_test(ld, load_bad_threshold_says_what_is_used);
	tcase_add_test(ld, load_threshold_clamped);
	tcase_add_test(ld, load_log_off_silences_warnings);
	tcase_add_test(ld, load_dir_on_tmpfs);
	tcase_add_test(ld, load_dir_missing);
	tcase_add_test(ld, load_dir_too_long);
	tcase_add_test(ld, load_disable);
	tcase_add_test(ld, load_disable_overrides_defrag);
	tcase_add_test(ld, load_only_matching_program);
	tcase_add_test(ld, load_process_environment);
	tcase_add_test(ld, load_thread_and_defrag_apart);
	tcase_add_test(ld, load_bad_value_sanitized);
	tcase_add_test(ld, clean_escapes_and_cuts);
	tcase_add_test(ld, load_log_file_relative_refused);
	tcase_add_test(ld, log_file_created_at_first_line);
	tcase_add_test(ld, table_documented);
	suite_add_tcase(s, ld);

	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK); /* the tests rely on a fresh process each */
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
