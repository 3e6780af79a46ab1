/* oomshield-check - can this binary be protected by liboomshield.so?
 *
 *   oomshield-check [--json] [--lib SHIM] BINARY...
 *
 * For each binary: linkage, ELF class/machine against the shim's,
 * secure-exec (setuid/setgid/file capabilities), which interposed functions
 * the binary and its DT_NEEDED libraries import (libraries resolved the way
 * ld.so does it), whether the executable carries its own allocator, and
 * whether it is a Go binary.  Then one verdict line.
 * Exit: 0 every binary can be protected, 1 at least one cannot, 2 error
 * (usage, missing/non-ELF/corrupt input).  An error never stops the other
 * binaries from being checked.
 *
 * Invariant: input files are only read (mapped private) and every byte of
 * them goes through oc_inspect(), which is bounds-checked and fuzzed.  This
 * program runs nothing else.
 */
#include "elfinfo.h"
#include "../shim/names.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef OMS_VERSION
#define OMS_VERSION "unknown"
#endif

/* The shim this checker was built with shares its compiler flags, so the
 * checker's own class and machine are the shim's unless --lib says else. */
#if defined(__x86_64__)
#define SELF_MACHINE EM_X86_64
#elif defined(__i386__)
#define SELF_MACHINE EM_386
#elif defined(__aarch64__)
#define SELF_MACHINE EM_AARCH64
#elif defined(__arm__)
#define SELF_MACHINE EM_ARM
#elif defined(__riscv)
#define SELF_MACHINE EM_RISCV
#elif defined(__powerpc64__)
#define SELF_MACHINE EM_PPC64
#elif defined(__s390x__)
#define SELF_MACHINE EM_S390
#else
#define SELF_MACHINE EM_NONE
#endif
#define SELF_CLASS (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32)

#define MAX_OBJS 256

enum { ST_OK, ST_NOTE, ST_FAIL };

struct check {
	const char *name;
	int status;
	char text[600];
};

struct obj {
	char name[OC_NAME_MAX];   /* as in DT_NEEDED, or the path given */
	char path[PATH_MAX];      /* resolved file; "" if not found */
	int loader;               /* index of the object that needs it */
	struct oc_info info;
};

struct report {
	char file[PATH_MAX];
	int verdict;              /* 0 can, 1 cannot, 2 error */
	char error[300];
	struct check checks[8];
	int n_checks;
	struct obj *objs;         /* objs[0] is the binary */
	int n_objs;
	unsigned imports_all;
};

static int shim_class = SELF_CLASS, shim_machine = SELF_MACHINE;
static const char *prog = "oomshield-check";

/* Copy a string, truncated to cap - 1 bytes (no format-truncation noise). */
static void scopy(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* ---- files ---------------------------------------------------------- */

/* Map `path` privately and inspect it.  Returns 0, or -1 with err set. */
static int inspect_file(const char *path, struct oc_info *info, char *err, size_t errlen)
{
	/* O_NONBLOCK: a fifo named by a path or a DT_NEEDED must not hang us;
	 * it is refused below as not a regular file. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		scopy(err, errlen, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		scopy(err, errlen, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "empty file, not an ELF file");
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		snprintf(err, errlen, "file too large");
		close(fd);
		return -1;
	}
	size_t size = (size_t)st.st_size;
	/* Writable private mapping: libelf may byte-swap in place. */
	char *img = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (img == MAP_FAILED) {
		snprintf(err, errlen, "cannot map: %s", strerror(errno));
		return -1;
	}
	int r = oc_inspect(img, size, info, err, errlen);
	munmap(img, size);
	return r;
}

/* ---- library resolution, after glibc's elf/dl-load.c ----------------- */

static const char *triplet_of(int machine, int cls)
{
	switch (machine) {
	case EM_X86_64: return cls == ELFCLASS64 ? "x86_64-linux-gnu" : "x86_64-linux-gnux32";
	case EM_386: return "i386-linux-gnu";
	case EM_AARCH64: return "aarch64-linux-gnu";
	case EM_ARM: return "arm-linux-gnueabihf";
	case EM_RISCV: return "riscv64-linux-gnu";
	case EM_PPC64: return "powerpc64le-linux-gnu";
	case EM_S390: return "s390x-linux-gnu";
	default: return NULL;
	}
}

/* /etc/ld.so.cache, new format ("glibc-ld.so.cache1.1"), possibly behind
 * the old libc5-era format.  Only names and paths are used; the class and
 * machine of each candidate are checked on the file itself. */
static char *cache;
static size_t cache_size;
static const char *cache_base;    /* start of the new-format header */
static uint32_t cache_n;

#define CACHE_MAGIC_NEW "glibc-ld.so.cache1.1"
#define CACHE_MAGIC_OLD "ld.so-1.7.0"

static void cache_load(void)
{
	int fd = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || st.st_size < 48 || st.st_size > (64 << 20)) {
		close(fd);
		return;
	}
	cache_size = (size_t)st.st_size;
	cache = malloc(cache_size);
	if (!cache || read(fd, cache, cache_size) != (ssize_t)cache_size) {
		free(cache);
		cache = NULL;
		close(fd);
		return;
	}
	close(fd);
	size_t off = 0;
	if (memcmp(cache, CACHE_MAGIC_OLD, sizeof CACHE_MAGIC_OLD - 1) == 0) {
		uint32_t nold;
		memcpy(&nold, cache + 12, 4);
		off = 16 + (size_t)nold * 12;
		off = (off + 7) & ~(size_t)7;
	}
	if (off + 48 > cache_size ||
	    memcmp(cache + off, CACHE_MAGIC_NEW, sizeof CACHE_MAGIC_NEW - 1) != 0)
		return;
	cache_base = cache + off;
	memcpy(&cache_n, cache_base + 20, 4);
	if (cache_n > (cache_size - off - 48) / 24)
		cache_n = 0;
}

static const char *cache_str(uint32_t o)
{
	size_t avail = cache_size - (size_t)(cache_base - cache);
	if (o >= avail || !memchr(cache_base + o, 0, avail - o))
		return NULL;
	return cache_base + o;
}

static int try_path(const char *path, int cls, int machine, struct oc_info *info)
{
	char err[300];
	if (access(path, F_OK) != 0)
		return 0;
	if (inspect_file(path, info, err, sizeof err) < 0)
		return 0;
	/* ld.so skips files of the wrong class or machine and keeps looking. */
	return info->elf_class == cls && info->machine == machine;
}

/* Expand $ORIGIN in one search-path element. */
static void expand(const char *elem, size_t len, const char *origin, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < cap;) {
		size_t skip = 0;
		if (!strncmp(elem + i, "$ORIGIN", 7) && i + 7 <= len)
			skip = 7;
		else if (!strncmp(elem + i, "${ORIGIN}", 9) && i + 9 <= len)
			skip = 9;
		if (skip) {
			o += (size_t)snprintf(out + o, cap - o, "%s", origin);
			if (o >= cap)
				o = cap - 1;
			i += skip;
		} else {
			out[o++] = elem[i++];
		}
	}
	out[o] = 0;
}

static int search_list(const char *list, const char *origin, const char *name, int cls,
		       int machine, char *found, struct oc_info *info)
{
	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char dir[PATH_MAX], path[PATH_MAX];
		expand(p, len, origin, dir, sizeof dir);
		/* An empty element means the current directory, as in ld.so. */
		int n = snprintf(path, sizeof path, "%s/%s", *dir ? dir : ".", name);
		if (n > 0 && (size_t)n < sizeof path && try_path(path, cls, machine, info)) {
			scopy(found, PATH_MAX, path);
			return 1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static void origin_of(const char *path, char *out)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		scopy(real, sizeof real, path);
	char *slash = strrchr(real, '/');
	if (slash == real)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	else
		snprintf(real, sizeof real, ".");
	scopy(out, PATH_MAX, real);
}

static int resolve(struct obj *objs, int loader, const char *name, int secure, char *found,
		   struct oc_info *info)
{
	const struct oc_info *li = &objs[loader].info, *exe = &objs[0].info;
	int cls = exe->elf_class, machine = exe->machine;
	char origin[PATH_MAX];
	origin_of(objs[loader].path, origin);

	if (strchr(name, '/')) {
		scopy(found, PATH_MAX, name);
		return try_path(name, cls, machine, info);
	}
	if (!li->has_runpath) {
		/* DT_RPATH of the loader, then of each object up the chain. */
		for (int i = loader; i >= 0; i = i ? objs[i].loader : -1) {
			char o[PATH_MAX];
			origin_of(objs[i].path, o);
			if (objs[i].info.has_rpath && !objs[i].info.has_runpath &&
			    search_list(objs[i].info.rpath, o, name, cls, machine, found, info))
				return 1;
			if (i == 0)
				break;
		}
	}
	const char *llp = getenv("LD_LIBRARY_PATH");
	if (!secure && llp && search_list(llp, origin, name, cls, machine, found, info))
		return 1;
	if (li->has_runpath && search_list(li->runpath, origin, name, cls, machine, found, info))
		return 1;
	for (uint32_t i = 0; cache_base && i < cache_n; i++) {
		uint32_t key, value;
		memcpy(&key, cache_base + 48 + (size_t)i * 24 + 4, 4);
		memcpy(&value, cache_base + 48 + (size_t)i * 24 + 8, 4);
		const char *k = cache_str(key), *v = cache_str(value);
		if (k && v && !strcmp(k, name) && try_path(v, cls, machine, info)) {
			scopy(found, PATH_MAX, v);
			return 1;
		}
	}
	const char *t = triplet_of(machine, cls);
	char defaults[512];
	snprintf(defaults, sizeof defaults, "/lib/%s:/usr/lib/%s:%s:/lib:/usr/lib", t ? t : "lib",
		 t ? t : "lib", cls == ELFCLASS64 ? "/lib64:/usr/lib64" : "/lib32:/usr/lib32");
	return search_list(defaults, origin, name, cls, machine, found, info);
}

/* Breadth-first over DT_NEEDED, like the loader's load order. */
static void load_libraries(struct report *r, int secure)
{
	for (int i = 0; i < r->n_objs; i++) {
		struct oc_info *in = &r->objs[i].info;
		if (!r->objs[i].path[0])
			continue;
		int n = in->n_needed < OC_MAX_NEEDED ? in->n_needed : OC_MAX_NEEDED;
		for (int k = 0; k < n && r->n_objs < MAX_OBJS; k++) {
			const char *name = in->needed[k];
			int seen = 0;
			for (int j = 1; j < r->n_objs; j++)
				if (!strcmp(r->objs[j].name, name))
					seen = 1;
			if (seen)
				continue;
			struct obj *o = &r->objs[r->n_objs];
			memset(o, 0, sizeof *o);
			scopy(o->name, sizeof o->name, name);
			o->loader = i;
			char found[PATH_MAX];
			if (resolve(r->objs, i, name, secure, found, &o->info))
				scopy(o->path, sizeof o->path, found);
			else
				memset(&o->info, 0, sizeof o->info);
			r->n_objs++;
		}
	}
}

/* ---- the checks ----------------------------------------------------- */

static struct check *add(struct report *r, const char *name, int status, const char *fmt, ...)
{
	struct check *c = &r->checks[r->n_checks++];
	va_list ap;
	c->name = name;
	c->status = status;
	va_start(ap, fmt);
	vsnprintf(c->text, sizeof c->text, fmt, ap);
	va_end(ap);
	return c;
}

static void fn_list(unsigned mask, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = 0;
	for (int i = 0; i < OC_NFN && o < cap; i++)
		if (mask & (1u << i))
			o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? ", " : "", oc_fn_names[i]);
}

/* " (make ...)": how to build the shim for that target, or "". */
static const char *build_hint(int machine, int cls)
{
	switch (machine) {
	case EM_386: return " (make ARCH=i386)";
	case EM_ARM: return " (make CROSS=arm-linux-gnueabihf-)";
	case EM_AARCH64: return " (make CROSS=aarch64-linux-gnu-)";
	case EM_X86_64: return cls == ELFCLASS64 ? " (make, on x86-64)" : "";
	default: return "";
	}
}

static const char *class_name(int cls)
{
	return cls == ELFCLASS64 ? "ELF64" : cls == ELFCLASS32 ? "ELF32" : "ELF?";
}

static void check_binary(const char *path, struct report *r)
{
	memset(r, 0, sizeof *r);
	scopy(r->file, sizeof r->file, path);
	r->objs = calloc(MAX_OBJS, sizeof *r->objs);
	if (!r->objs) {
		snprintf(r->error, sizeof r->error, "out of memory");
		r->verdict = 2;
		return;
	}
	struct obj *exe = &r->objs[0];
	struct oc_info *in = &exe->info;
	scopy(exe->name, sizeof exe->name, path);
	scopy(exe->path, sizeof exe->path, path);
	r->n_objs = 1;
	if (inspect_file(path, in, r->error, sizeof r->error) < 0) {
		r->verdict = 2;
		return;
	}

	char m1[32], m2[32], buf[400];
	int is_program = in->has_interp;
	const char *interp_base = oms_base_name(in->interp);
	if (in->has_interp)
		add(r, "linkage", ST_OK, "dynamically linked (interpreter %s)", in->interp);
	else if (!in->has_dynamic)
		add(r, "linkage", ST_FAIL, "statically linked: no dynamic loader runs, so LD_PRELOAD "
		    "has no effect");
	else if (in->is_pie)
		add(r, "linkage", ST_FAIL, "static-pie: it relocates itself without the dynamic "
		    "loader, so LD_PRELOAD has no effect");
	else
		add(r, "linkage", ST_FAIL, "a shared library, not a program: check the program "
		    "that loads it");

	if (in->has_interp && (!strncmp(interp_base, "ld-musl", 7) ||
			       !strncmp(interp_base, "ld-uClibc", 9)))
		add(r, "libc", ST_FAIL, "its loader is %s, not glibc's: liboomshield.so needs "
		    "glibc and would stop the program from starting", in->interp);

	const char *mn = oc_machine_name(in->machine, m1, sizeof m1);
	const char *sn = oc_machine_name(shim_machine, m2, sizeof m2);
	if (in->elf_class == shim_class && in->machine == shim_machine)
		add(r, "class", ST_OK, "%s %s, the same as the shim", class_name(in->elf_class), mn);
	else
		add(r, "class", ST_FAIL, "%s %s, but the shim is %s %s: it needs a shim built for "
		    "%s %s%s", class_name(in->elf_class), mn, class_name(shim_class), sn,
		    class_name(in->elf_class), mn, build_hint(in->machine, in->elf_class));

	struct stat st;
	int secure = 0;
	if (stat(path, &st) == 0) {
		char caps[64];
		int setuid = (st.st_mode & S_ISUID) != 0;
		/* setgid without group-execute is mandatory locking, not setgid. */
		int setgid = (st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP);
		int hascaps = getxattr(path, "security.capability", caps, sizeof caps) > 0;
		secure = setuid || setgid || hascaps;
		if (secure) {
			snprintf(buf, sizeof buf, "%s%s%s", setuid ? "setuid, " : "",
				 setgid ? "setgid, " : "", hascaps ? "file capabilities, " : "");
			buf[strlen(buf) - 2] = 0;
			add(r, "secure-exec", ST_FAIL, "%s: the loader runs it in secure-execution "
			    "mode and ignores LD_PRELOAD paths with a slash; the shim would ignore "
			    "OOMSHIELD_* settings", buf);
		}
		else
			add(r, "secure-exec", ST_OK, "not setuid, not setgid, no file capabilities");
	}

	if (in->is_go)
		add(r, "go", ST_FAIL, "a Go binary: the Go runtime allocates with raw mmap system "
		    "calls, which no preloaded library sees");

	if (is_program) {
		unsigned own = in->defines & OC_ALLOC_CORE;
		fn_list(own, buf, sizeof buf);
		if (own)
			add(r, "allocator", ST_FAIL, "the executable defines its own %s: its symbols "
			    "come before any preloaded library", buf);
		else if (!in->has_sections)
			add(r, "allocator", ST_NOTE, "no section headers: cannot tell whether the "
			    "executable defines malloc");
		else
			add(r, "allocator", ST_OK, "the executable does not define malloc, free, "
			    "calloc or realloc");

		load_libraries(r, secure);
		unsigned all = in->imports, provided = 0;
		int users = 0, missing = 0;
		char miss[300] = "", prov[300] = "";
		for (int i = 1; i < r->n_objs; i++) {
			struct obj *o = &r->objs[i];
			if (!o->path[0]) {
				size_t l = strlen(miss);
				if (l < sizeof miss - 2)
					snprintf(miss + l, sizeof miss - l, "%s%s", l ? ", " : "", o->name);
				missing++;
				continue;
			}
			if (o->info.imports)
				users++;
			all |= o->info.imports;
			if (o->info.exports & OC_ALLOC_CORE) {
				provided |= o->info.exports;
				size_t l = strlen(prov);
				if (l < sizeof prov - 2)
					snprintf(prov + l, sizeof prov - l, "%s%s", l ? ", " : "", o->name);
			}
		}
		/* Libraries past the limits were not read: no FAIL from what
		 * was not seen. */
		int partial = r->n_objs >= MAX_OBJS;
		for (int i = 0; i < r->n_objs; i++)
			partial |= r->objs[i].info.n_needed > OC_MAX_NEEDED;
		r->imports_all = all;
		fn_list(all, buf, sizeof buf);
		if (!in->has_sections && !in->imports)
			add(r, "imports", ST_NOTE, "no section headers: cannot read the binary's "
			    "imported symbols");
		else if (all || provided) {
			char head[520];
			if (all)
				snprintf(head, sizeof head, "%s (by the binary%s and %d of %d libraries)",
					 buf, in->imports ? "" : " (none)", users, r->n_objs - 1);
			else
				snprintf(head, sizeof head, "none imported directly");
			add(r, "imports", ST_OK, "%s%s%s", head, provided ? "; malloc defined by " : "",
			    provided ? prov : "");
		}
		else if (partial)
			add(r, "imports", ST_NOTE, "none of the libraries read uses malloc or mmap, "
			    "but there are more than %d (or %d in all) and the rest were not read",
			    OC_MAX_NEEDED, MAX_OBJS);
		else
			add(r, "imports", ST_FAIL, "neither the binary nor its libraries use malloc or "
			    "mmap through the dynamic linker: the shim would see nothing");
		if (missing)
			add(r, "libraries", ST_NOTE, "not found: %s (the program may not start)", miss);
		for (int i = 1; i < r->n_objs; i++)
			if (oms_is_sanitizer(oms_base_name(r->objs[i].name))) {
				add(r, "sanitizer", ST_FAIL, "needs %s, a sanitizer runtime that "
				    "replaces malloc: the shim would stand aside (and ASan refuses "
				    "to start behind a preloaded library)", r->objs[i].name);
				break;
			}
	}
	if (in->has_interp && in->elf_class == shim_class && in->machine == shim_machine &&
	    access(in->interp, F_OK) != 0) {
		add(r, "linkage", ST_NOTE, "the loader %s is not on this machine: the program "
		    "cannot start here", in->interp);
	}

	for (int i = 0; i < r->n_checks; i++)
		if (r->checks[i].status == ST_FAIL)
			r->verdict = 1;
}

/* ---- output --------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;   /* allowed range of the second byte */
	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef) {
		n = 3;
		if (*p == 0xe0)
			lo = 0xa0;
		else if (*p == 0xed)
			hi = 0x9f;
	} else if (*p >= 0xf0 && *p <= 0xf4) {
		n = 4;
		if (*p == 0xf0)
			lo = 0x90;
		else if (*p == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* File names are bytes, JSON is UTF-8: a byte that is not part of a valid
 * sequence becomes U+FFFD, so the output always parses. */
static void json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n;
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p++);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p++);
		else if (*p < 0x80)
			putchar(*p++);
		else if ((n = utf8_len(p))) {
			fwrite(p, 1, n, stdout);
			p += n;
		} else {
			fputs("\\ufffd", stdout);
			p++;
		}
	}
	putchar('"');
}

static const char *first_fail(const struct report *r)
{
	for (int i = 0; i < r->n_checks; i++)
		if (r->checks[i].status == ST_FAIL)
			return r->checks[i].name;
	return "";
}

static void print_text(const struct report *r)
{
	if (r->verdict == 2) {
		fprintf(stderr, "%s: %s: %s\n", prog, r->file, r->error);
		return;
	}
	static const char *const tag[] = {"ok  ", "note", "FAIL"};
	printf("%s:\n", r->file);
	for (int i = 0; i < r->n_checks; i++)
		printf("  %s  %-11s %s\n", tag[r->checks[i].status], r->checks[i].name,
		       r->checks[i].text);
	if (r->verdict == 0)
		printf("verdict: %s: can be protected\n", r->file);
	else
		printf("verdict: %s: cannot be protected (%s)\n", r->file, first_fail(r));
}

static void print_json(const struct report *r, int first)
{
	static const char *const verdicts[] = {"protectable", "unprotectable", "error"};
	static const char *const st[] = {"ok", "note", "fail"};
	char m[32];
	printf("%s{\"file\": ", first ? "" : ",\n ");
	json_str(r->file);
	printf(", \"verdict\": \"%s\", \"exit\": %d", verdicts[r->verdict], r->verdict);
	if (r->verdict == 2) {
		/* On stderr too, as documented: stdout stays one JSON array. */
		fprintf(stderr, "%s: %s: %s\n", prog, r->file, r->error);
		printf(", \"error\": ");
		json_str(r->error);
		printf("}");
		return;
	}
	const struct oc_info *in = &r->objs[0].info;
	printf(", \"reason\": ");
	json_str(first_fail(r));
	printf(", \"class\": %d, \"machine\": ", in->elf_class == ELFCLASS64 ? 64 : 32);
	json_str(oc_machine_name(in->machine, m, sizeof m));
	printf(", \"interp\": ");
	json_str(in->interp);
	printf(", \"go\": %s, \"imports\": [", in->is_go ? "true" : "false");
	for (int i = 0, n = 0; i < OC_NFN; i++)
		if (r->imports_all & (1u << i)) {
			printf("%s", n++ ? ", " : "");
			json_str(oc_fn_names[i]);
		}
	printf("], \"libraries\": [");
	for (int i = 1; i < r->n_objs; i++) {
		printf("%s{\"name\": ", i > 1 ? ", " : "");
		json_str(r->objs[i].name);
		printf(", \"path\": ");
		if (r->objs[i].path[0])
			json_str(r->objs[i].path);
		else
			printf("null");
		printf("}");
	}
	printf("], \"checks\": [");
	for (int i = 0; i < r->n_checks; i++) {
		printf("%s{\"name\": \"%s\", \"status\": \"%s\", \"detail\": ", i ? ", " : "",
		       r->checks[i].name, st[r->checks[i].status]);
		json_str(r->checks[i].text);
		printf("}");
	}
	printf("]}");
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTION]... BINARY...\n"
		"Tell whether each BINARY can be protected by oomshield (liboomshield.so).\n"
		"\n"
		"Checks linkage, ELF class and machine, setuid/setgid/file capabilities,\n"
		"imports of the interposed allocation functions (in the binary and the\n"
		"libraries it needs), a built-in allocator, and Go binaries.\n"
		"\n"
		"      --json       print a JSON array, one object per BINARY\n"
		"      --lib SHIM   compare class and machine with this liboomshield.so\n"
		"                   (default: the shim built with this checker)\n"
		"  -h, --help       display this help and exit\n"
		"      --version    output version information and exit\n"
		"\n"
		"Exit status:\n"
		" 0  every BINARY can be protected\n"
		" 1  at least one BINARY cannot be protected\n"
		" 2  usage error, or a BINARY is missing, not ELF, truncated or corrupt\n"
		"\n"
		"Full documentation: man oomshield-check\n", prog);
}

int main(int argc, char **argv)
{
	enum { OPT_JSON = 256, OPT_LIB, OPT_VERSION };
	static const struct option longopts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"lib", required_argument, NULL, OPT_LIB},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	int json = 0, c;
	const char *lib = NULL;
	/* getopt's messages start with argv[0]: make it our name, not a path. */
	argv[0] = (char *)prog;
	/* glibc permutes: options may follow the BINARY operands, up to "--". */
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = 1;
			break;
		case OPT_LIB:
			lib = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("oomshield-check (oomshield) %s\n", OMS_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try '%s --help' for more information.\n", prog);
			return 2;
		}
	}
	int i = optind;
	if (i >= argc) {
		fprintf(stderr, "%s: missing BINARY\nTry '%s --help' for more information.\n", prog,
			prog);
		return 2;
	}
	if (lib) {
		struct oc_info li;
		char err[300];
		if (inspect_file(lib, &li, err, sizeof err) < 0) {
			fprintf(stderr, "%s: --lib %s: %s\n", prog, lib, err);
			return 2;
		}
		shim_class = li.elf_class;
		shim_machine = li.machine;
	}
	cache_load();
	int worst = 0, first = 1;
	if (json)
		printf("[");
	for (; i < argc; i++) {
		struct report r;
		check_binary(argv[i], &r);
		if (json)
			print_json(&r, first);
		else
			print_text(&r);
		first = 0;
		if (r.verdict > worst)
			worst = r.verdict;
		free(r.objs);
	}
	if (json)
		printf("]\n");
	free(cache);
	return worst;
}
