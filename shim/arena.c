/* arena.c - see arena.h. */
#include "arena.h"
#include "config.h"
#include "debug.h"
#include "os.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

/* Each fork retires the current arena while frozen pieces
 * still use it, so a program that keeps its memory and forks often needs
 * one arena per fork; the descriptor budget (os.c) bounds them too. */
#define OMS_MAX_ARENAS 256
static struct oms_arena arenas[OMS_MAX_ARENAS];
static struct oms_arena *cur;

int oms_arena_fd_ok(struct oms_arena *a)
{
	struct stat st;
	if (!a || a->fd < 0)
		return 0;
	if (oms_os.fstat(a->fd, &st) == 0 && st.st_dev == a->dev && st.st_ino == a->ino)
		return 1;
	a->fd = -1; /* the program closed it or reused the number */
	oms_os_fd_forget();
	return 0;
}

struct oms_arena *oms_arena_current(void)
{
	if (cur && !cur->retired && oms_arena_fd_ok(cur))
		return cur;
	if (cur && cur->refs == 0 && cur->fd < 0)
		cur->top = 0;
	struct oms_arena *a = NULL;
	for (int i = 0; i < OMS_MAX_ARENAS && !a; i++)
		if (arenas[i].refs == 0 && &arenas[i] != cur && arenas[i].fd <= 0)
			a = &arenas[i];
	if (!a) {
		errno = EMFILE;
		return NULL;
	}
	struct stat st;
	int fd = oms_os.open_tmpfile(oms_cfg.dir);
	if (fd < 0)
		return NULL;
	if (oms_os.fstat(fd, &st) < 0) {
		oms_os.close(fd);
		return NULL;
	}
	struct oms_ext *keep = a->ext;
	size_t keep_cap = a->cap_ext;
	memset(a, 0, sizeof *a);
	a->ext = keep;
	a->cap_ext = keep_cap;
	a->fd = fd;
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	cur = a;
	return a;
}

void oms_arena_unref(struct oms_arena *a)
{
	if (a && --a->refs == 0 && (a != cur || a->retired) && a->fd >= 0) {
		if (oms_arena_fd_ok(a))
			oms_os.close(a->fd);
		a->fd = 0; /* free slot (0 is never one of ours: fds sit high) */
		if (a == cur)
			cur = NULL;
	}
}

uint64_t oms_arena_alloc(struct oms_arena *a, uint64_t len)
{
	for (size_t i = 0; i < a->next; i++)
		if (a->ext[i].len >= len) {
			uint64_t off = a->ext[i].off;
			a->ext[i].off += len;
			a->ext[i].len -= len;
			if (!a->ext[i].len) {
				memmove(&a->ext[i], &a->ext[i + 1], (a->next - i - 1) * sizeof *a->ext);
				a->next--;
			}
			return off;
		}
	uint64_t off = a->top;
	a->top += len;
	return off;
}

/* Claim exactly [off, off+len) if it is free (to grow a mapping in place). */
int oms_arena_take(struct oms_arena *a, uint64_t off, uint64_t len)
{
	if (off == a->top) {
		a->top += len;
		return 0;
	}
	for (size_t i = 0; i < a->next; i++) {
		struct oms_ext *e = &a->ext[i];
		if (e->off <= off && off + len <= e->off + e->len) {
			if (e->off + e->len == off + len && e->off == off) {
				memmove(e, e + 1, (a->next - i - 1) * sizeof *e);
				a->next--;
			} else if (e->off == off) {
				e->off += len;
				e->len -= len;
			} else if (off + len == e->off + e->len) {
				e->len -= len;
			} else {
				if (a->next == a->cap_ext &&
				    oms_os_grow_array((void **)&a->ext, &a->cap_ext, sizeof *a->ext) < 0)
					return -1;
				e = &a->ext[i];
				memmove(e + 2, e + 1, (a->next - i - 1) * sizeof *e);
				a->next++;
				e[1].off = off + len;
				e[1].len = e->off + e->len - (off + len);
				e->len = off - e->off;
			}
			return 0;
		}
	}
	return -1;
}

/* Return a punched range to the allocator. */
void oms_arena_free(struct oms_arena *a, uint64_t off, uint64_t len)
{
	if (a->retired)
		return;
	size_t i = 0;
	while (i < a->next && a->ext[i].off < off)
		i++;
	if (i > 0 && a->ext[i - 1].off + a->ext[i - 1].len == off) {
		a->ext[i - 1].len += len;
		i--;
	} else {
		if (a->next == a->cap_ext &&
		    oms_os_grow_array((void **)&a->ext, &a->cap_ext, sizeof *a->ext) < 0)
			return; /* offset space leaks; the disk is already freed */
		memmove(&a->ext[i + 1], &a->ext[i], (a->next - i) * sizeof *a->ext);
		a->ext[i] = (struct oms_ext){off, len};
		a->next++;
	}
	if (i + 1 < a->next && a->ext[i].off + a->ext[i].len == a->ext[i + 1].off) {
		a->ext[i].len += a->ext[i + 1].len;
		memmove(&a->ext[i + 1], &a->ext[i + 2], (a->next - i - 2) * sizeof *a->ext);
		a->next--;
	}
	if (a->ext[a->next - 1].off + a->ext[a->next - 1].len == a->top) {
		a->top = a->ext[a->next - 1].off;
		a->next--;
	}
}

int oms_arena_punch(struct oms_arena *a, uint64_t off, uint64_t len)
{
	if (!oms_arena_fd_ok(a))
		return -1;
	return oms_os.fallocate(a->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				(off_t)len);
}

int oms_arena_zero(struct oms_arena *a, uint64_t off, uint64_t len)
{
	if (!oms_arena_fd_ok(a))
		return -1;
	return oms_store_zero_fd(a->fd, off, len);
}

int oms_arena_is_current(const struct oms_arena *a)
{
	return a == cur;
}

int oms_arena_retired_current(void)
{
	return cur && cur->retired;
}

void oms_arena_fork_child(void)
{
	if (cur)
		cur->retired = 1;
	for (int i = 0; i < OMS_MAX_ARENAS; i++) {
		struct oms_arena *a = &arenas[i];
		if (a->refs == 0 && a->fd > 0) { /* nothing of the child's in it */
			if (oms_arena_fd_ok(a))
				oms_os.close(a->fd);
			a->fd = 0;
		}
	}
	if (cur && cur->fd <= 0)
		cur = NULL;
}

void oms_arena_debug_begin(void)
{
	for (int i = 0; i < OMS_MAX_ARENAS; i++)
		arenas[i].seen = 0;
}

void oms_arena_debug_end(void)
{
	for (int i = 0; i < OMS_MAX_ARENAS; i++)
		OMS_ASSERT(arenas[i].seen == arenas[i].refs);
}
