/* store.h - backing files: one unlinked file per block in OOMSHIELD_DIR.
 *
 * A file is created unnamed (O_TMPFILE, or mkstemp + unlink at once), so it
 * disappears with its last mapping and fd: nothing is left behind after an
 * exit, a crash or SIGKILL.  Disk blocks are reserved with fallocate before
 * memory is handed out, so a full disk is a fallback now and never a SIGBUS
 * later.  No locks; callers pass everything in.
 */
#ifndef OMS_STORE_H
#define OMS_STORE_H

#include <stdint.h>
#include <sys/types.h>

#include "block.h"

/* A new file of `size` reserved bytes; fd (O_CLOEXEC, high) or -1 with
 * errno.  Records the file's identity in b->dev/b->ino. */
int oms_store_create(struct oms_block *b, uint64_t size);

/* fallocate [off, off+len) of fd, refusing (EFBIG) what would pass
 * RLIMIT_FSIZE: the kernel would answer that with SIGXFSZ; and refusing
 * (ENOSPC) what would leave less free than OOMSHIELD_DISK_KEEP. */
int oms_store_reserve(int fd, uint64_t off, uint64_t len);

/* The bytes OOMSHIELD_DISK_KEEP leaves free on a filesystem of fs_size
 * bytes (0: unknown, then a percentage keeps nothing). */
uint64_t oms_store_keep(uint64_t fs_size);

/* What new reservations may take on fd's filesystem: the space free to
 * ordinary users less OOMSHIELD_DISK_KEEP; UINT64_MAX if unknown. */
uint64_t oms_store_room(int fd);

/* Reserve [old, new) at the end of b's file; 0 or -1 with errno. */
int oms_store_grow(struct oms_block *b, uint64_t old_size, uint64_t new_size);

/* Give the disk blocks past `size` back; 0 or -1. */
int oms_store_shrink(struct oms_block *b, uint64_t size);

/* [off, off+len) of the file reads zero, its pages leave the page cache,
 * and its disk stays reserved (what MADV_DONTNEED must give on our
 * memory).  0, or -1 with errno: then the range may be a hole, and the
 * caller must not let the program write it through a shared mapping. */
int oms_store_zero_fd(int fd, uint64_t off, uint64_t len);
int oms_store_zero(struct oms_block *b, uint64_t off, uint64_t len);

/* b->fd still names the file we created (the program did not close it or
 * dup2 another file over it).  Marks the fd lost (-1) if not. */
int oms_store_fd_ok(struct oms_block *b);

/* Close b's fd if it is still ours. */
void oms_store_close(struct oms_block *b);

#endif
