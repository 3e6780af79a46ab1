/* names.h - how OOMSHIELD_* values are read as program names and switches,
 * and which loaded libraries make the shim stand aside.  Shared by the shim
 * and the tools (oomshield-status, oomshield-check), so that a tool judges
 * a process exactly as the shim in it does.  Header-only and
 * dependency-free: the tool links no shim object. */
#ifndef OMS_NAMES_H
#define OMS_NAMES_H

#include <string.h>

static inline const char *oms_base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

/* `name` is one of the comma-separated names in `list` (exact, non-empty). */
static inline int oms_list_has(const char *list, const char *name)
{
	size_t nlen = strlen(name);
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == nlen && len && memcmp(p, name, len) == 0)
			return 1;
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

/* `base` (a file name without directory) is a sanitizer runtime that
 * replaces malloc: the shim stands aside where one is loaded (next.c), and
 * oomshield-check fails a program that needs one.  Byte by byte, no libc:
 * in the shim this runs before the runtime's string interceptors exist. */
static inline int oms_is_sanitizer(const char *base)
{
	static const char *const runtimes[] = {
		"libasan.so", "libtsan.so", "liblsan.so", "libhwasan.so", "libmsan.so",
		"libclang_rt.asan", "libclang_rt.tsan", "libclang_rt.lsan",
		"libclang_rt.hwasan", "libclang_rt.msan", "libclang_rt.memprof",
	};
	for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++) {
		const char *s = base, *p = runtimes[i];
		while (*p && *s == *p)
			s++, p++;
		if (!*p)
			return 1;
	}
	return 0;
}

/* A switch's value: 1 on, 0 off, -1 neither. */
static inline int oms_switch_value(const char *v)
{
	if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "true"))
		return 1;
	if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "false"))
		return 0;
	return -1;
}

#endif
