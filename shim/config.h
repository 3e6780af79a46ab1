/* config.h - OOMSHIELD_* settings, read once at start-up.
 *
 * Every setting is one row of the table in config.c: its name, kind,
 * field below, default, range and what a bad value says.  The fields are
 * listed here; the defaults and parsing live in the table only.
 *
 * Parsing never allocates and never fails the program: a bad value is
 * logged once (variable, value - sanitized: control bytes escaped, long
 * values cut, see oms_log_clean - and what is used instead) and the
 * default is kept.  In a secure-execution process (AT_SECURE: setuid, setgid, file
 * capabilities) every OOMSHIELD_* variable is ignored.
 */
#ifndef OMS_CONFIG_H
#define OMS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define OMS_PATH_MAX 512

enum oms_metric { OMS_METRIC_EXTFRAG, OMS_METRIC_UNUSABLE };

struct oms_config {
	int disable;              /* OOMSHIELD_DISABLE=1 or --only mismatch */
	int secure;               /* AT_SECURE: env ignored, no /proc writes */
	char dir[OMS_PATH_MAX];   /* OOMSHIELD_DIR */
	int dir_ok;               /* dir usable for backing files */
	size_t threshold;         /* OOMSHIELD_THRESHOLD */
	uint64_t max;             /* OOMSHIELD_MAX, 0 = no limit */
	/* OOMSHIELD_DISK_KEEP: free space left to others on OOMSHIELD_DIR's
	 * filesystem.  keep_pct >= 0: that percent of its size, at most
	 * `keep` bytes; keep_pct < 0: `keep` bytes (store.c). */
	uint64_t keep;
	int keep_pct;
	int log_level;            /* OOMSHIELD_LOG */
	char log_file[OMS_PATH_MAX];
	int stats;                /* OOMSHIELD_STATS */
	char proc_root[OMS_PATH_MAX]; /* OOMSHIELD_PROC_ROOT, "" = real */
	int mmap;                 /* OOMSHIELD_MMAP: redirect anonymous mmap */
	size_t cache;             /* OOMSHIELD_CACHE: bytes of freed blocks kept */
	int huge;                 /* OOMSHIELD_HUGEPAGE: 0, 1, -1 unset (huge.c) */
	int thread;               /* OOMSHIELD_THREAD: 0 = no background thread */
	int heap;                 /* OOMSHIELD_HEAP: the allocator's heap too (heap.c) */
	/* DefragTick */
	int defrag;               /* OOMSHIELD_DEFRAG: 0 = no DefragTick job */
	int defrag_dry_run;       /* OOMSHIELD_DEFRAG_DRY_RUN */
	unsigned defrag_interval_ms;
	int frag_index_milli;     /* OOMSHIELD_FRAG_INDEX * 1000 */
	int safe_level;           /* OOMSHIELD_SAFE_LEVEL */
	unsigned defrag_min_gap_ms;
	unsigned drop_caches_after; /* 0 = never */
	char zone[32];            /* OOMSHIELD_ZONE, "auto" */
	int metric;               /* enum oms_metric */
};

extern struct oms_config oms_cfg;

/* The threshold in force, read on every malloc-family call: 0 until the
 * shim is ready (alloc.c sets it once), SIZE_MAX when disabled. */
extern size_t oms_threshold;

/* OOMSHIELD_DISK_KEEP's default: 1 % of the filesystem, at most 256 MiB:
 * enough that others never find it full because of us, little enough that
 * a nearly full disk still protects. */
#define OMS_KEEP_PCT 1
#define OMS_KEEP_CAP ((uint64_t)256 << 20)

/* Smallest threshold: backing blocks are placed on 64 KiB boundaries. */
#define OMS_GRANULE ((size_t)65536)

/* Fill `c` with defaults, then apply the environment seen through
 * `get` (getenv-like; NULL = the process environment).  Logs bad values. */
void oms_config_load(struct oms_config *c, const char *(*get)(const char *));

/* The settings' names, in table order: up to cap into out; returns how
 * many there are (tests check that the README and the launcher know
 * them all). */
size_t oms_config_names(const char **out, size_t cap);

/* "64K", "1M", "2GiB", "4096" -> bytes.  0 on success, -1 if malformed or
 * out of range.  Suffixes are binary (K = 1024). */
int oms_config_parse_size(const char *s, uint64_t *out);

/* Non-negative decimal integer with an upper bound; 0/-1. */
int oms_config_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* "0.500" -> 500; accepts 0..1 with up to 3 decimals; 0/-1. */
int oms_config_parse_milli(const char *s, int *out);

/* Basename of /proc/self/exe matches one of the comma-separated names. */
int oms_config_exe_matches(const char *list, const char *exe_path);

#endif
