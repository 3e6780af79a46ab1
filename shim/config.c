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
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/auxv.h>
#include <sys/statfs.h>
#include <unistd.h>

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

static void copy_str(char *dst, size_t cap, const char *src, const char *var)
{
	size_t n = strlen(src);
	if (n >= cap) {
		oms_warn("%s: value longer than %zu bytes; using the default", var, cap - 1);
		return;
	}
	memcpy(dst, src, n + 1);
}

static void get_bool(const char *(*get)(const char *), const char *var, int *out)
{
	const char *v = get(var);
	if (!v)
		return;
	int b = oms_switch_value(v);
	if (b >= 0)
		*out = b;
	else
		oms_warn("%s=%s: not a boolean (0 or 1); using %d", var, v, *out);
}

static void get_uint(const char *(*get)(const char *), const char *var,
		     uint64_t lo, uint64_t hi, unsigned *out)
{
	const char *v = get(var);
	uint64_t x;
	if (!v)
		return;
	if (oms_config_parse_uint(v, UINT64_MAX / 16, &x) < 0 || x < lo || x > hi)
		oms_warn("%s=%s: not a whole number from %llu to %llu; using %u", var, v,
			 (unsigned long long)lo, (unsigned long long)hi, *out);
	else
		*out = (unsigned)x;
}

/* The backing directory must exist, be writable and not live in RAM. */
static int check_dir(const char *dir)
{
	struct statfs sf;
	if (statfs(dir, &sf) < 0) {
		oms_warn("OOMSHIELD_DIR=%s: %s; large blocks stay in ordinary memory", dir,
			 strerrordesc_np(errno));
		return 0;
	}
	if ((unsigned long)sf.f_type == TMPFS_MAGIC || (unsigned long)sf.f_type == RAMFS_MAGIC) {
		oms_warn("OOMSHIELD_DIR=%s: on tmpfs/ramfs, which is RAM and protects nothing; "
			 "large blocks stay in ordinary memory", dir);
		return 0;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		oms_warn("OOMSHIELD_DIR=%s: not writable (%s); large blocks stay in ordinary memory",
			 dir, strerrordesc_np(errno));
		return 0;
	}
	return 1;
}

void oms_config_load(struct oms_config *c, const char *(*get)(const char *))
{
	memset(c, 0, sizeof *c);
	strcpy(c->dir, "/var/tmp");
	c->threshold = 1u << 20;
	c->log_level = OMS_LOG_WARN;
	c->mmap = 1;
	c->cache = (size_t)64 << 20;
	c->huge = -1;
	c->defrag = 1;
	c->defrag_interval_ms = 1000;
	c->frag_index_milli = 500;
	c->safe_level = 9;
	c->defrag_min_gap_ms = 5000;
	c->drop_caches_after = 20;
	strcpy(c->zone, "auto");
	c->metric = OMS_METRIC_EXTFRAG;

	if (!get) {
		get = env_get;
		c->secure = getauxval(AT_SECURE) != 0;
	}
	oms_log_level = c->log_level;
	if (c->secure) {
		/* secure_getenv returns NULL for everything here: defaults only,
		 * and the DefragTick thread never writes to /proc. */
		if (getenv("OOMSHIELD_DIR") || getenv("OOMSHIELD_THRESHOLD"))
			oms_warn("secure-execution process: OOMSHIELD_* settings ignored");
	}

	const char *v;
	if ((v = get("OOMSHIELD_LOG"))) {
		static const char *const names[] = {"off", "error", "warn", "info", "debug"};
		int found = -1;
		for (int i = 0; i < 5; i++)
			if (!strcmp(v, names[i]))
				found = i;
		if (found < 0)
			oms_warn("OOMSHIELD_LOG=%s: not one of off, error, warn, info, debug; using warn", v);
		else
			c->log_level = found;
		oms_log_level = c->log_level;
	}
	if ((v = get("OOMSHIELD_LOG_FILE")) && *v) {
		copy_str(c->log_file, sizeof c->log_file, v, "OOMSHIELD_LOG_FILE");
		if (get == env_get)
			oms_log_open(c->log_file);
	}
	get_bool(get, "OOMSHIELD_DISABLE", &c->disable);
	get_bool(get, "OOMSHIELD_STATS", &c->stats);
	get_bool(get, "OOMSHIELD_MMAP", &c->mmap);
	get_bool(get, "OOMSHIELD_HEAP", &c->heap);
	if ((v = get("OOMSHIELD_ONLY")) && *v) {
		const char *exe = (const char *)getauxval(AT_EXECFN);
		if (!oms_config_exe_matches(v, exe) &&
		    !oms_config_exe_matches(v, program_invocation_name)) {
			c->disable = 1;
			c->defrag = 0;
		}
	}
	if ((v = get("OOMSHIELD_DIR"))) {
		if (v[0] != '/')
			oms_warn("OOMSHIELD_DIR=%s: not an absolute path; using %s", v, c->dir);
		else
			copy_str(c->dir, sizeof c->dir, v, "OOMSHIELD_DIR");
	}
	if ((v = get("OOMSHIELD_THRESHOLD"))) {
		uint64_t x;
		if (oms_config_parse_size(v, &x) < 0 || x > SIZE_MAX / 2)
			oms_warn("OOMSHIELD_THRESHOLD=%s: not a size (e.g. 64K, 1M); using %zu", v,
				 c->threshold);
		else if (x < OMS_GRANULE) {
			oms_warn("OOMSHIELD_THRESHOLD=%s: below the 64K minimum; using 65536", v);
			c->threshold = OMS_GRANULE;
		} else
			c->threshold = (size_t)x;
	}
	if ((v = get("OOMSHIELD_MAX"))) {
		uint64_t x;
		if (oms_config_parse_size(v, &x) < 0)
			oms_warn("OOMSHIELD_MAX=%s: not a size (e.g. 512M, 2G); using no limit", v);
		else
			c->max = x;
	}
	if ((v = get("OOMSHIELD_CACHE"))) {
		uint64_t x;
		if (oms_config_parse_size(v, &x) < 0 || x > SIZE_MAX / 2)
			oms_warn("OOMSHIELD_CACHE=%s: not a size (e.g. 0, 64M); using %zu", v, c->cache);
		else
			c->cache = (size_t)x;
	}
	if ((v = get("OOMSHIELD_HUGEPAGE"))) {
		int b = oms_switch_value(v);
		if (b >= 0)
			c->huge = b;
		else
			oms_warn("OOMSHIELD_HUGEPAGE=%s: not a boolean (0 or 1); ignored", v);
	}
	if ((v = get("OOMSHIELD_PROC_ROOT")))
		copy_str(c->proc_root, sizeof c->proc_root, v, "OOMSHIELD_PROC_ROOT");

	get_bool(get, "OOMSHIELD_DEFRAG", &c->defrag);
	get_bool(get, "OOMSHIELD_DEFRAG_DRY_RUN", &c->defrag_dry_run);
	get_uint(get, "OOMSHIELD_DEFRAG_INTERVAL_MS", 10, 3600000, &c->defrag_interval_ms);
	get_uint(get, "OOMSHIELD_DEFRAG_MIN_GAP_MS", 0, 86400000, &c->defrag_min_gap_ms);
	get_uint(get, "OOMSHIELD_DROP_CACHES_AFTER", 0, 1000000, &c->drop_caches_after);
	{
		unsigned lvl = (unsigned)c->safe_level;
		get_uint(get, "OOMSHIELD_SAFE_LEVEL", 0, 64, &lvl);
		c->safe_level = (int)lvl;
	}
	if ((v = get("OOMSHIELD_FRAG_INDEX"))) {
		int m;
		if (oms_config_parse_milli(v, &m) < 0)
			oms_warn("OOMSHIELD_FRAG_INDEX=%s: not a number from 0 to 1 (e.g. 0.500); using 0.500", v);
		else
			c->frag_index_milli = m;
	}
	if ((v = get("OOMSHIELD_ZONE")))
		copy_str(c->zone, sizeof c->zone, v, "OOMSHIELD_ZONE");
	if ((v = get("OOMSHIELD_DEFRAG_METRIC"))) {
		if (!strcmp(v, "extfrag"))
			c->metric = OMS_METRIC_EXTFRAG;
		else if (!strcmp(v, "unusable"))
			c->metric = OMS_METRIC_UNUSABLE;
		else
			oms_warn("OOMSHIELD_DEFRAG_METRIC=%s: not extfrag or unusable; using extfrag", v);
	}
	if (c->disable)
		c->defrag = 0;
	c->dir_ok = !c->disable && check_dir(c->dir);
}
