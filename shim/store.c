/* store.c - see store.h. */
#include "store.h"
#include "config.h"
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* fallocate past RLIMIT_FSIZE raises SIGXFSZ, which kills the program by
 * default.  Refuse before asking the kernel. */
static int within_fsize_limit(uint64_t end)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    end > (uint64_t)rl.rlim_cur) {
		errno = EFBIG;
		return 0;
	}
	return 1;
}

uint64_t oms_store_keep(uint64_t fs_size)
{
	if (oms_cfg.keep_pct < 0)
		return oms_cfg.keep;
	uint64_t k = fs_size / 100 * (uint64_t)oms_cfg.keep_pct;
	return k < oms_cfg.keep ? k : oms_cfg.keep;
}

uint64_t oms_store_room(int fd)
{
	uint64_t room = oms_os.disk_free(fd);
	if (room == UINT64_MAX)
		return room;
	uint64_t k = oms_store_keep(oms_os.disk_size(fd));
	return room > k ? room - k : 0;
}

/* `keep`: leave OOMSHIELD_DISK_KEEP free, for a new reservation; a range
 * that was ours a moment ago (oms_store_zero_fd) only has to fit: were it
 * refused, that range would have to become anonymous memory. */
static int reserve(int fd, uint64_t off, uint64_t len, int keep)
{
	if (!within_fsize_limit(off + len))
		return -1;
	/* What cannot fit is refused before fallocate takes the disk's last
	 * free blocks for a moment (other programs would see it full), and
	 * the blocks kept for root stay free. */
	if (len > (keep ? oms_store_room(fd) : oms_os.disk_free(fd))) {
		errno = ENOSPC;
		return -1;
	}
	int r;
	do
		r = oms_os.fallocate(fd, 0, (off_t)off, (off_t)len);
	while (r < 0 && errno == EINTR);
	return r;
}

int oms_store_reserve(int fd, uint64_t off, uint64_t len)
{
	return reserve(fd, off, len, 1);
}

int oms_store_create(struct oms_block *b, uint64_t size)
{
	int fd = oms_os.open_tmpfile(oms_cfg.dir);
	if (fd < 0)
		return -1;
	struct stat st;
	if (oms_os.fstat(fd, &st) < 0 || oms_store_reserve(fd, 0, size) < 0) {
		int e = errno;
		oms_os.close(fd);
		errno = e;
		return -1;
	}
	b->fd = fd;
	b->dev = st.st_dev;
	b->ino = st.st_ino;
	return fd;
}

int oms_store_fd_ok(struct oms_block *b)
{
	struct stat st;
	if (b->fd < 0)
		return 0;
	if (oms_os.fstat(b->fd, &st) == 0 && st.st_dev == b->dev && st.st_ino == b->ino)
		return 1;
	b->fd = -1; /* closed, or now the program's: never touch it again */
	oms_os_fd_forget();
	return 0;
}

int oms_store_grow(struct oms_block *b, uint64_t old_size, uint64_t new_size)
{
	if (!oms_store_fd_ok(b)) {
		errno = EBADF;
		return -1;
	}
	return oms_store_reserve(b->fd, old_size, new_size - old_size);
}

int oms_store_shrink(struct oms_block *b, uint64_t size)
{
	if (!oms_store_fd_ok(b))
		return -1;
	return oms_os.ftruncate(b->fd, (off_t)size);
}

int oms_store_zero_fd(int fd, uint64_t off, uint64_t len)
{
	/* ZERO_RANGE turns the range into unwritten extents: it reads zero,
	 * its page cache is dropped (the memory a DONTNEED frees), and its
	 * disk stays allocated.  A punch would give the disk back, and the
	 * program's next write there could then find the disk full: SIGBUS. */
	if (oms_os.fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			     (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP)
		return -1;
	/* A filesystem without it: punch, then reserve again.  If the disk
	 * filled in between, the range is a hole now: -1 tells the caller not
	 * to let the program write there through the shared mapping. */
	if (oms_os.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			     (off_t)len) < 0)
		return -1;
	return reserve(fd, off, len, 0);
}

int oms_store_zero(struct oms_block *b, uint64_t off, uint64_t len)
{
	if (!oms_store_fd_ok(b)) {
		errno = EBADF;
		return -1;
	}
	return oms_store_zero_fd(b->fd, off, len);
}

void oms_store_close(struct oms_block *b)
{
	if (oms_store_fd_ok(b))
		oms_os.close(b->fd);
	b->fd = -1;
}
