/* config.c - see config.h.
 *
 * Runs once, from the first call into the shim (which may come before our
 * constructor) on a single thread; nothing here allocates.  Writes only
 * `oms_cfg` before the shim is published as ready, so no lock is needed.
 */
#include "config.h"
#include "log.h"
#include "names.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/auxv.h>
#include <sys/statfs.h>
#include <unistd.h>

size_t oms_threshold;
struct oms_config oms_cfg;

int oms_config_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int oms_config_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	if (!s || *s < '0' || *s > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	unsigned shift = 0;
	switch (*p) {
	case '\0': break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: return -1;
	}
	if (shift) {
		p++;
		/* "K", "KB", "KiB" all mean 1024: that is what users of such
		 * tools write, and the difference is never what they meant. */
		if (*p == 'i' && p[1] == 'B')
			p += 2;
		else if (*p == 'B' || *p == 'b')
			p++;
	}
	if (*p)
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

int oms_config_parse_milli(const char *s, int *out)
{
	int v = 0, digits = 0;
	if (!s || *s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > 1)
			return -1;
	}
	v *= 1000;
	if (*s == '.') {
		int scale = 100;
		for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
			if (digits >= 3)
				return -1;
			v += (*s - '0') * scale;
			scale /= 10;
		}
		if (digits == 0)
			return -1;
	}
	if (*s || v > 1000)
		return -1;
	*out = v;
	return 0;
}

int oms_config_exe_matches(const char *list, const char *exe_path)
{
	return exe_path && oms_list_has(list, oms_base_name(exe_path));
}

static const char *env_get(const char *name)
{
	return secure_getenv(name);
}

/* ---- the settings ---- */

enum kind {
	K_BOOL,    /* int: 0 or 1 (oms_switch_value) */
	K_TRI,     /* int: 0 or 1, unset keeps the default (-1) */
	K_UINT,    /* unsigned or int, lo..hi */
	K_SIZE,    /* size_t or uint64_t, lo..hi; below lo: clamped up */
	K_MILLI,   /* int, thousandths 0..1000 */
	K_STR,     /* char[size] */
	K_ABSPATH, /* char[size], must start with '/' */
	K_LOG,     /* int, one of level_names */
	K_METRIC,  /* int, enum oms_metric */
	K_KEEP,    /* uint64_t keep + int keep_pct: a size, or "N%" */
	K_ONLY,    /* not stored: a mismatch disables the shim */
};

/* One OOMSHIELD_* setting: where it is stored, its default and range, and
 * what a bad value says.  `what` completes "NAME=VALUE: "; `instead`, when
 * set, replaces "using <current value>".  K_UINT's `what` is built from
 * lo and hi.  Order matters: the log level first (it governs every later
 * warning), then the log file, then as before. */
struct setting {
	const char *name;
	enum kind kind;
	size_t off, size;
	uint64_t def;     /* numbers */
	const char *sdef; /* strings */
	uint64_t lo, hi;
	const char *what, *instead;
	int nonempty;     /* an empty value counts as unset */
};

#define AT(f) offsetof(struct oms_config, f), sizeof(((struct oms_config *)0)->f)
#define NUM(v) (uint64_t)(v), NULL
#define STR(s) 0, s

static const char *const level_names[] = {"off", "error", "warn", "info", "debug"};

static const struct setting settings[] = {
	{"OOMSHIELD_LOG", K_LOG, AT(log_level), NUM(OMS_LOG_WARN), 0, 0,
	 "not one of off, error, warn, info, debug", "using warn", 0},
	{"OOMSHIELD_LOG_FILE", K_ABSPATH, AT(log_file), STR(""), 0, 0,
	 "not an absolute path", "logging to stderr", 1},
	{"OOMSHIELD_DISABLE", K_BOOL, AT(disable), NUM(0), 0, 1, NULL, NULL, 0},
	{"OOMSHIELD_STATS", K_BOOL, AT(stats), NUM(0), 0, 1, NULL, NULL, 0},
	{"OOMSHIELD_MMAP", K_BOOL, AT(mmap), NUM(1), 0, 1, NULL, NULL, 0},
	{"OOMSHIELD_HEAP", K_BOOL, AT(heap), NUM(0), 0, 1, NULL, NULL, 0},
	{"OOMSHIELD_ONLY", K_ONLY, 0, 0, NUM(0), 0, 0, NULL, NULL, 1},
	{"OOMSHIELD_DIR", K_ABSPATH, AT(dir), STR("/var/tmp"), 0, 0,
	 "not an absolute path", NULL, 0},
	{"OOMSHIELD_THRESHOLD", K_SIZE, AT(threshold), NUM(1u << 20), OMS_GRANULE, SIZE_MAX / 2,
	 "not a size (e.g. 64K, 1M)", NULL, 0},
	{"OOMSHIELD_MAX", K_SIZE, AT(max), NUM(0), 0, UINT64_MAX,
	 "not a size (e.g. 512M, 2G)", "using no limit", 0},
	{"OOMSHIELD_DISK_KEEP", K_KEEP, AT(keep), NUM(OMS_KEEP_CAP), 0, 0,
	 "not a size or a percentage (e.g. 0, 512M, 5%)", NULL, 0},
	{"OOMSHIELD_CACHE", K_SIZE, AT(cache), NUM((size_t)64 << 20), 0, SIZE_MAX / 2,
	 "not a size (e.g. 0, 64M)", NULL, 0},
	{"OOMSHIELD_HUGEPAGE", K_TRI, AT(huge), NUM(-1), 0, 1,
	 "not a boolean (0 or 1)", "ignored", 0},
	{"OOMSHIELD_PROC_ROOT", K_STR, AT(proc_root), STR(""), 0, 0, NULL, NULL, 0},
	{"OOMSHIELD_THREAD", K_BOOL, AT(thread), NUM(1), 0, 1, NULL, NULL, 0},
	{"OOMSHIELD_DEFRAG", K_BOOL, AT(defrag), NUM(1), 0, 1, NULL, NULL, 0},
	{"OOMSHIELD_DEFRAG_DRY_RUN", K_BOOL, AT(defrag_dry_run), NUM(0), 0, 1, NULL, NULL, 0},
	{"OOMSHIELD_DEFRAG_INTERVAL_MS", K_UINT, AT(defrag_interval_ms), NUM(1000), 10, 3600000,
	 NULL, NULL, 0},
	{"OOMSHIELD_DEFRAG_MIN_GAP_MS", K_UINT, AT(defrag_min_gap_ms), NUM(5000), 0, 86400000,
	 NULL, NULL, 0},
	{"OOMSHIELD_DROP_CACHES_AFTER", K_UINT, AT(drop_caches_after), NUM(20), 0, 1000000,
	 NULL, NULL, 0},
	{"OOMSHIELD_SAFE_LEVEL", K_UINT, AT(safe_level), NUM(9), 0, 64, NULL, NULL, 0},
	{"OOMSHIELD_FRAG_INDEX", K_MILLI, AT(frag_index_milli), NUM(500), 0, 1000,
	 "not a number from 0 to 1 (e.g. 0.500)", "using 0.500", 0},
	{"OOMSHIELD_ZONE", K_STR, AT(zone), STR("auto"), 0, 0, NULL, NULL, 0},
	{"OOMSHIELD_DEFRAG_METRIC", K_METRIC, AT(metric), NUM(OMS_METRIC_EXTFRAG), 0, 0,
	 "not extfrag or unusable", "using extfrag", 0},
};

/* Integers of any width the table stores, through memcpy: no aliasing. */
static void store(void *at, size_t size, uint64_t v)
{
	if (size == sizeof(uint64_t)) {
		uint64_t x = v;
		memcpy(at, &x, size);
	} else if (size == sizeof(uint32_t)) {
		uint32_t x = (uint32_t)v;
		memcpy(at, &x, size);
	}
}

static uint64_t load(const void *at, size_t size)
{
	if (size == sizeof(uint64_t)) {
		uint64_t x;
		memcpy(&x, at, size);
		return x;
	}
	uint32_t x;
	memcpy(&x, at, sizeof x);
	return x;
}

static void bad(const struct setting *s, const char *v, const char *what, const char *instead)
{
	char clean[OMS_LOG_VALUE_MAX];
	oms_log_clean(clean, sizeof clean, v);
	oms_warn("%s=%s: %s; %s", s->name, clean, what, instead);
}

static void copy_str(char *dst, size_t cap, const char *src, const char *var)
{
	size_t n = strlen(src);
	if (n >= cap) {
		oms_warn("%s: value longer than %zu bytes; using the default", var, cap - 1);
		return;
	}
	memcpy(dst, src, n + 1);
}

static void apply(struct oms_config *c, const struct setting *s, const char *v)
{
	char *at = (char *)c + s->off;
	char instead[96], what[96];
	uint64_t x = s->size ? load(at, s->size) : 0, y;
	int m;
	if (s->instead)
		snprintf(instead, sizeof instead, "%s", s->instead);
	else if (s->kind == K_BOOL || s->kind == K_MILLI || s->kind == K_TRI)
		snprintf(instead, sizeof instead, "using %d", (int)x);
	else if (s->kind == K_ABSPATH || s->kind == K_STR)
		snprintf(instead, sizeof instead, "using %s", at);
	else
		snprintf(instead, sizeof instead, "using %llu", (unsigned long long)x);
	switch (s->kind) {
	case K_BOOL:
	case K_TRI:
		if ((m = oms_switch_value(v)) >= 0)
			store(at, s->size, (uint64_t)m);
		else
			bad(s, v, s->what ? s->what : "not a boolean (0 or 1)", instead);
		break;
	case K_UINT:
		if (oms_config_parse_uint(v, UINT64_MAX / 16, &y) < 0 || y < s->lo || y > s->hi) {
			snprintf(what, sizeof what, "not a whole number from %llu to %llu",
				 (unsigned long long)s->lo, (unsigned long long)s->hi);
			bad(s, v, what, instead);
		} else
			store(at, s->size, y);
		break;
	case K_SIZE:
		if (oms_config_parse_size(v, &y) < 0 || y > s->hi) {
			bad(s, v, s->what, instead);
		} else if (y < s->lo) {
			snprintf(what, sizeof what, "below the %lluK minimum",
				 (unsigned long long)(s->lo >> 10));
			snprintf(instead, sizeof instead, "using %llu", (unsigned long long)s->lo);
			bad(s, v, what, instead);
			store(at, s->size, s->lo);
		} else
			store(at, s->size, y);
		break;
	case K_MILLI:
		if (oms_config_parse_milli(v, &m) < 0)
			bad(s, v, s->what, instead);
		else
			store(at, s->size, (uint64_t)m);
		break;
	case K_ABSPATH:
		if (v[0] != '/') {
			bad(s, v, s->what, instead);
			break;
		}
		/* fall through */
	case K_STR:
		copy_str(at, s->size, v, s->name);
		break;
	case K_LOG:
		for (m = 0; m < 5 && strcmp(v, level_names[m]); m++)
			;
		if (m < 5)
			store(at, s->size, (uint64_t)m);
		else
			bad(s, v, s->what, instead);
		break;
	case K_METRIC:
		if (!strcmp(v, "extfrag"))
			c->metric = OMS_METRIC_EXTFRAG;
		else if (!strcmp(v, "unusable"))
			c->metric = OMS_METRIC_UNUSABLE;
		else
			bad(s, v, s->what, instead);
		break;
	case K_KEEP: {
		size_t n = strlen(v);
		char pct[16];
		int is_pct = n >= 2 && n <= sizeof pct && v[n - 1] == '%';
		if (is_pct) {
			memcpy(pct, v, n - 1);
			pct[n - 1] = '\0';
		}
		if (is_pct && oms_config_parse_uint(pct, 100, &y) == 0) {
			c->keep_pct = (int)y;
			c->keep = UINT64_MAX;
		} else if (oms_config_parse_size(v, &y) == 0) {
			c->keep_pct = -1;
			c->keep = y;
		} else
			bad(s, v, s->what, "using 1% of the filesystem, at most 256M");
		break;
	}
	case K_ONLY: {
		const char *exe = (const char *)getauxval(AT_EXECFN);
		if (!oms_config_exe_matches(v, exe) && !oms_config_exe_matches(v, program_invocation_name)) {
			c->disable = 1;
			c->defrag = 0;
		}
		break;
	}
	}
}

size_t oms_config_names(const char **out, size_t cap)
{
	size_t n = sizeof settings / sizeof settings[0];
	for (size_t i = 0; i < n && i < cap; i++)
		out[i] = settings[i].name;
	return n;
}

/* The backing directory must exist, be writable and not live in RAM. */
static int check_dir(const char *dir)
{
	struct statfs sf;
	char clean[OMS_LOG_VALUE_MAX];
	oms_log_clean(clean, sizeof clean, dir);
	if (statfs(dir, &sf) < 0) {
		oms_warn("OOMSHIELD_DIR=%s: %s; large blocks stay in ordinary memory", clean,
			 strerrordesc_np(errno));
		return 0;
	}
	if ((unsigned long)sf.f_type == TMPFS_MAGIC || (unsigned long)sf.f_type == RAMFS_MAGIC) {
		oms_warn("OOMSHIELD_DIR=%s: on tmpfs/ramfs, which is RAM and protects nothing; "
			 "large blocks stay in ordinary memory", clean);
		return 0;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		oms_warn("OOMSHIELD_DIR=%s: not writable (%s); large blocks stay in ordinary memory",
			 clean, strerrordesc_np(errno));
		return 0;
	}
	return 1;
}

void oms_config_load(struct oms_config *c, const char *(*get)(const char *))
{
	memset(c, 0, sizeof *c);
	for (const struct setting *s = settings; s < settings + sizeof settings / sizeof *s; s++)
		if (s->sdef)
			copy_str((char *)c + s->off, s->size, s->sdef, s->name);
		else if (s->size)
			store((char *)c + s->off, s->size, s->def);
	c->keep_pct = OMS_KEEP_PCT;
	if (!get) {
		get = env_get;
		c->secure = getauxval(AT_SECURE) != 0;
	}
	oms_log_level = c->log_level;
	/* secure_getenv returns NULL for everything here: defaults only, and
	 * the DefragTick job never writes to /proc. */
	if (c->secure && (getenv("OOMSHIELD_DIR") || getenv("OOMSHIELD_THRESHOLD")))
		oms_warn("secure-execution process: OOMSHIELD_* settings ignored");
	for (const struct setting *s = settings; s < settings + sizeof settings / sizeof *s; s++) {
		const char *v = get(s->name);
		if (!v || (s->nonempty && !*v))
			continue;
		apply(c, s, v);
		if (s->kind == K_LOG)
			oms_log_level = c->log_level;
		if (s->off == offsetof(struct oms_config, log_file) && get == env_get)
			oms_log_open(c->log_file);
	}
	if (c->disable)
		c->defrag = c->thread = 0;
	c->dir_ok = !c->disable && check_dir(c->dir);
}
