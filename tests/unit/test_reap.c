/* test_reap.c - handing the last unmap of a large freed block to the thread
 * (shim/reap.c), driven by hand here: no thread runs in this test.
 * After oms_reap_unmap the block's range is free, but one MADV_DONTFORK
 * page elsewhere keeps the file until a drain; a fork child never has it;
 * with no thread taking hand-overs, for a small block, or on a disk without
 * room to spare, the unmap is immediate. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "big.h"
#include "os.h"
#include "reap.h"
#include "unit_util.h"

#define MiB ((size_t)1 << 20)

/* A file-backed block as the shim makes one.  *ino identifies the file in
 * /proc/self/maps; *fd stays open, as free() closes it after the unmap. */
static char *block(size_t len, ino_t *ino, int *fd)
{
	*fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	ck_assert_int_ge(*fd, 0);
	ck_assert_int_eq(ftruncate(*fd, (off_t)len), 0);
	struct stat st;
	ck_assert_int_eq(fstat(*fd, &st), 0);
	*ino = st.st_ino;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p, 1, oms_page);
	return p;
}

static int mapped(const void *p, size_t len)
{
	for (size_t o = 0; o < len; o += oms_page) {
		unsigned char v;
		if (mincore((char *)p + o, oms_page, &v) == 0)
			return 1;
	}
	return 0;
}

/* Some mapping of ours still holds the file (its inode is mapped). */
static int file_held(ino_t ino)
{
	char line[512], want[32];
	int held = 0;
	snprintf(want, sizeof want, " %lu ", (unsigned long)ino);
	FILE *f = fopen("/proc/self/maps", "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f))
		if (strstr(line, want))
			held = 1;
	fclose(f);
	return held;
}

/* Room for four blocks of len on /tmp, else the hand-over is refused. */
static int room_for(size_t len)
{
	struct statvfs sv;
	return statvfs("/tmp", &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize / 4 >= len;
}

static void setup(void)
{
	oms_page = (size_t)sysconf(_SC_PAGESIZE);
	oms_reap_fork_child(); /* closed, empty */
}

START_TEST(handed_over_the_range_is_free_and_one_page_holds_the_file)
{
	if (!room_for(32 * MiB)) {
		skip_case("reap hand-over", "/tmp has no room for 4 x 32 MiB");
		return;
	}
	ino_t ino;
	int fd;
	char *p = block(32 * MiB, &ino, &fd);
	oms_reap_open(1);
	oms_reap_unmap(p, 32 * MiB, fd);
	close(fd);
	ck_assert(!mapped(p, 32 * MiB)); /* as after glibc's free */
	ck_assert(file_held(ino));
	/* A fork child never has the page: it would keep the file alive. */
	if (under_qemu()) {
		skip_case("reap fork child", "qemu-user may not pass MADV_DONTFORK to the kernel");
	} else {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			_exit(file_held(ino) ? 1 : 0);
		int st;
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the fork child inherited the page");
	}
	ck_assert_int_eq(oms_reap_drain(), 1);
	ck_assert(!file_held(ino));
	ck_assert_int_eq(oms_reap_drain(), 0);
	oms_reap_open(0);
}
END_TEST

START_TEST(closing_frees_what_is_pending)
{
	if (!room_for(16 * MiB)) {
		skip_case("reap close", "/tmp has no room for 4 x 16 MiB");
		return;
	}
	ino_t ino;
	int fd;
	char *p = block(16 * MiB, &ino, &fd);
	oms_reap_open(1);
	oms_reap_unmap(p, 16 * MiB, fd);
	close(fd);
	ck_assert(file_held(ino));
	oms_reap_open(0); /* the thread leaving its sleep */
	ck_assert(!file_held(ino));
}
END_TEST

START_TEST(without_the_thread_small_or_without_room_the_unmap_is_immediate)
{
	ino_t ino;
	int fd;
	char *p = block(32 * MiB, &ino, &fd);
	oms_reap_unmap(p, 32 * MiB, fd); /* not open */
	close(fd);
	ck_assert(!mapped(p, 32 * MiB));
	ck_assert(!file_held(ino));
	oms_reap_open(1);
	p = block(OMS_REAP_MIN - oms_page, &ino, &fd);
	oms_reap_unmap(p, OMS_REAP_MIN - oms_page, fd);
	close(fd);
	ck_assert(!file_held(ino));
	p = block(32 * MiB, &ino, &fd);
	oms_reap_unmap(p, 32 * MiB, -1); /* the fd was lost: no way to ask */
	close(fd);
	ck_assert(!file_held(ino));
	ck_assert_int_eq(oms_reap_drain(), 0);
	oms_reap_open(0);
}
END_TEST

START_TEST(full_slots_fall_back_to_an_immediate_unmap)
{
	enum { N = 12 };
	if (!room_for(16 * MiB * (N + 4))) {
		skip_case("reap full slots", "/tmp has no room for 16 x 16 MiB");
		return;
	}
	ino_t ino[N];
	oms_reap_open(1);
	for (int i = 0; i < N; i++) {
		int fd;
		char *p = block(16 * MiB, &ino[i], &fd);
		oms_reap_unmap(p, 16 * MiB, fd);
		close(fd);
	}
	int pending = 0;
	for (int i = 0; i < N; i++)
		pending += file_held(ino[i]);
	ck_assert_int_eq(pending, 8);
	ck_assert_int_eq(oms_reap_drain(), pending);
	for (int i = 0; i < N; i++)
		ck_assert(!file_held(ino[i]));
	oms_reap_open(0);
}
END_TEST

/* The thread's sleep ends at its deadline even while hand-overs keep
 * coming; with nothing handed over it is a plain sleep. */
START_TEST(sleep_ends_on_time)
{
	struct timespec t0, t, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t = t0;
	t.tv_nsec += 50 * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	oms_reap_sleep_until(&t);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_int_ge(ms, 49);
	ck_assert_int_lt(ms, 5000);
}
END_TEST

/* Hand-overs every 30 ms, each taking the thread 50 ms to free: the
 * sleep must still end at its deadline (the tick is due). */
static int (*real_munmap)(void *, size_t);
static int slow_munmap(void *a, size_t n)
{
	if (n == oms_page) {
		struct timespec d = {0, 50 * 1000000L};
		nanosleep(&d, NULL);
	}
	return real_munmap(a, n);
}
static int sleeper_done;
static void *sleeper(void *arg)
{
	oms_reap_sleep_until(arg);
	__atomic_store_n(&sleeper_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(sleep_ends_on_time_while_hand_overs_keep_coming)
{
	if (!room_for(16 * MiB)) {
		skip_case("reap starvation", "/tmp has no room for 4 x 16 MiB");
		return;
	}
	real_munmap = oms_os.munmap;
	oms_os.munmap = slow_munmap;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t = t0;
	t.tv_sec += 1;
	pthread_t th;
	sleeper_done = 0;
	ck_assert_int_eq(pthread_create(&th, NULL, sleeper, &t), 0);
	long ms = 0;
	while (!__atomic_load_n(&sleeper_done, __ATOMIC_ACQUIRE) && ms < 4000) {
		ino_t ino;
		int fd;
		char *p = block(16 * MiB, &ino, &fd);
		oms_reap_unmap(p, 16 * MiB, fd);
		close(fd);
		struct timespec d = {0, 30 * 1000000L}, now;
		nanosleep(&d, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (long)(now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
	}
	ck_assert_msg(__atomic_load_n(&sleeper_done, __ATOMIC_ACQUIRE), "the sleep overran its deadline by 3 s");
	pthread_join(th, NULL);
	ck_assert_int_lt(ms, 2000);
	oms_os.munmap = real_munmap;
	oms_reap_drain();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reap");
	TCase *tc = tcase_create("hand-over");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, handed_over_the_range_is_free_and_one_page_holds_the_file);
	tcase_add_test(tc, closing_frees_what_is_pending);
	tcase_add_test(tc, without_the_thread_small_or_without_room_the_unmap_is_immediate);
	tcase_add_test(tc, full_slots_fall_back_to_an_immediate_unmap);
	tcase_add_test(tc, sleep_ends_on_time);
	tcase_add_test(tc, sleep_ends_on_time_while_hand_overs_keep_coming);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
