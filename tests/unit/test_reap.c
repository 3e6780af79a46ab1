/* test_reap.c - handing the last unmap of a large freed block to the thread
 * (shim/reap.c), driven by hand here: no thread runs in this test.
 * After oms_reap_unmap the block is gone but for one MADV_DONTFORK page
 * that keeps the file; drain frees it; a fork child never has it; with no
 * thread taking hand-overs, or for a small block, the unmap is immediate. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "big.h"
#include "reap.h"
#include "unit_util.h"

#define MiB ((size_t)1 << 20)

/* A file-backed block as the shim makes one; the fd is closed, as free()
 * closes it before the unmap.  *ino identifies the file in /proc/self/maps. */
static char *block(size_t len, ino_t *ino)
{
	int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)len), 0);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	*ino = st.st_ino;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	close(fd);
	memset(p, 1, oms_page);
	return p;
}

static int mapped(const void *p)
{
	unsigned char v;
	return mincore((void *)p, oms_page, &v) == 0;
}

/* The file is still held by some mapping of ours (its inode is mapped). */
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

static void setup(void)
{
	oms_page = (size_t)sysconf(_SC_PAGESIZE);
	oms_reap_fork_child(); /* closed, empty */
}

START_TEST(handed_over_keeps_one_dontfork_page_until_drained)
{
	ino_t ino;
	char *p = block(32 * MiB, &ino);
	oms_reap_open(1);
	oms_reap_unmap(p, 32 * MiB);
	ck_assert(!mapped(p + oms_page));
	ck_assert(!mapped(p + 32 * MiB - oms_page));
	ck_assert(mapped(p));
	ck_assert(file_held(ino));
	/* A fork child never has the page: it would keep the file alive. */
	if (under_qemu()) {
		skip_case("reap fork child", "qemu-user does not emulate MADV_DONTFORK");
	} else {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			_exit(mapped(p) ? 1 : 0);
		int st;
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the fork child inherited the page");
	}
	ck_assert_int_eq(oms_reap_drain(), 1);
	ck_assert(!mapped(p));
	ck_assert(!file_held(ino));
	ck_assert_int_eq(oms_reap_drain(), 0);
	oms_reap_open(0);
}
END_TEST

START_TEST(closing_frees_what_is_pending)
{
	ino_t ino;
	char *p = block(16 * MiB, &ino);
	oms_reap_open(1);
	oms_reap_unmap(p, 16 * MiB);
	ck_assert(mapped(p));
	oms_reap_open(0); /* the thread's last act before it returns */
	ck_assert(!mapped(p));
	ck_assert(!file_held(ino));
}
END_TEST

START_TEST(without_the_thread_or_when_small_the_unmap_is_immediate)
{
	ino_t ino;
	char *p = block(32 * MiB, &ino);
	oms_reap_unmap(p, 32 * MiB); /* not open */
	ck_assert(!mapped(p));
	ck_assert(!file_held(ino));
	p = block(OMS_REAP_MIN - oms_page, &ino);
	oms_reap_open(1);
	oms_reap_unmap(p, OMS_REAP_MIN - oms_page);
	ck_assert(!mapped(p));
	ck_assert(!file_held(ino));
	ck_assert_int_eq(oms_reap_drain(), 0);
	oms_reap_open(0);
}
END_TEST

START_TEST(full_slots_fall_back_to_an_immediate_unmap)
{
	enum { N = 12 };
	char *p[N];
	ino_t ino[N];
	oms_reap_open(1);
	for (int i = 0; i < N; i++) {
		p[i] = block(16 * MiB, &ino[i]);
		oms_reap_unmap(p[i], 16 * MiB);
	}
	int pending = 0;
	for (int i = 0; i < N; i++)
		pending += mapped(p[i]);
	ck_assert_int_gt(pending, 0);
	ck_assert_int_lt(pending, N);
	ck_assert_int_eq(oms_reap_drain(), pending);
	for (int i = 0; i < N; i++)
		ck_assert(!file_held(ino[i]));
	oms_reap_open(0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reap");
	TCase *tc = tcase_create("hand-over");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, handed_over_keeps_one_dontfork_page_until_drained);
	tcase_add_test(tc, closing_frees_what_is_pending);
	tcase_add_test(tc, without_the_thread_or_when_small_the_unmap_is_immediate);
	tcase_add_test(tc, full_slots_fall_back_to_an_immediate_unmap);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
