/* test_os.c - kept files (shim/os.c): a file the shim's thread reads again
 * and again is opened once, above the fd floor, and read through that fd;
 * it is re-read at every read (a rewritten file shows its new text), never
 * read through a number the program has taken over, and a fork child reads
 * its own /proc/self, not its parent's.  Check forks each test. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os.h"
#include "unit_util.h"

static char root[128];
static char file[256];

static void put(const char *text)
{
	int fd = open(file, O_WRONLY | O_TRUNC); /* in place, as a test's printf > file */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void setup(void)
{
	unit_dir_create(root, sizeof root, "os");
	snprintf(file, sizeof file, "%s/proc", root);
	ck_assert_int_eq(mkdir(file, 0700), 0);
	snprintf(file, sizeof file, "%s/proc/buddyinfo", root);
	close(open(file, O_WRONLY | O_CREAT, 0600));
	oms_os_reset();
	oms_os_root = root;
}

static void teardown(void)
{
	unlink(file);
	char d[160];
	snprintf(d, sizeof d, "%s/proc", root);
	rmdir(d);
	unit_dir_remove(root);
}

/* The lowest free fd: what the program's next open() gets. */
static int lowest(void)
{
	int fd = open("/dev/null", O_RDONLY);
	close(fd);
	return fd;
}

START_TEST(kept_is_reread_and_takes_no_low_fd)
{
	char buf[64];
	put("one\n");
	ck_assert_int_eq(oms_os_keep("/proc/buddyinfo", O_RDONLY), 0);
	int low = lowest();
	int own;
	int fd = oms_os_open_kept("/proc/buddyinfo", O_RDONLY, &own);
	ck_assert_int_eq(own, 0);
	ck_assert_int_ge(fd, 3);
	ck_assert_int_ne(fd, low);
	ck_assert_int_eq(oms_os.read_file("/proc/buddyinfo", buf, sizeof buf), 4);
	ck_assert_str_eq(buf, "one\n");
	put("three\n");
	ck_assert_int_eq(oms_os.read_file("/proc/buddyinfo", buf, sizeof buf), 6);
	ck_assert_str_eq(buf, "three\n");
	/* The read opened nothing: the program's next fd is unchanged. */
	ck_assert_int_eq(lowest(), low);
	/* Kept once: keeping again adds no fd. */
	ck_assert_int_eq(oms_os_keep("/proc/buddyinfo", O_RDONLY), 0);
	ck_assert_int_eq(lowest(), low);
	ck_assert_int_eq(oms_os_open_kept("/proc/buddyinfo", O_RDONLY, &own), fd);
}
END_TEST

/* A daemon closes every fd and opens its own files: the number we kept is
 * the program's now, and must be neither read nor replaced. */
START_TEST(kept_number_taken_over)
{
	char buf[64];
	put("ours\n");
	ck_assert_int_eq(oms_os_keep("/proc/buddyinfo", O_RDONLY), 0);
	int own;
	int fd = oms_os_open_kept("/proc/buddyinfo", O_RDONLY, &own);
	ck_assert_int_eq(own, 0);
	close(fd);
	int mine = open("/dev/zero", O_RDONLY);
	ck_assert_int_ge(mine, 0);
	ck_assert_int_eq(dup2(mine, fd), fd);
	close(mine);
	ck_assert_int_eq(oms_os.read_file("/proc/buddyinfo", buf, sizeof buf), 5);
	ck_assert_str_eq(buf, "ours\n");
	int fd2 = oms_os_open_kept("/proc/buddyinfo", O_RDONLY, &own);
	ck_assert_int_eq(own, 1); /* opened afresh, not the program's fd */
	ck_assert_int_ne(fd2, fd);
	close(fd2);
	/* Kept again: a new number; the program's fd still reads /dev/zero. */
	ck_assert_int_eq(oms_os_keep("/proc/buddyinfo", O_RDONLY), 0);
	ck_assert_int_ne(oms_os_open_kept("/proc/buddyinfo", O_RDONLY, &own), fd);
	ck_assert_int_eq(own, 0);
	char z = 1;
	ck_assert_int_eq(read(fd, &z, 1), 1);
	ck_assert_int_eq(z, 0);
	close(fd);
}
END_TEST

static pid_t stat_pid(int fd)
{
	char b[64] = "";
	ck_assert_int_gt(pread(fd, b, sizeof b - 1, 0), 0);
	return (pid_t)atoi(b);
}

/* /proc/self is never under OOMSHIELD_PROC_ROOT, and a fork child's
 * inherited fd reads its parent: not used until kept again, onto the same
 * number. */
START_TEST(self_files_follow_fork)
{
	ck_assert_int_eq(oms_os_keep("/proc/self/stat", O_RDONLY), 0);
	int own;
	int fd = oms_os_open_kept("/proc/self/stat", O_RDONLY, &own);
	ck_assert_int_eq(own, 0);
	ck_assert_int_eq(stat_pid(fd), getpid());
	pid_t pid = fork();
	if (pid == 0) {
		int f = oms_os_open_kept("/proc/self/stat", O_RDONLY, &own);
		int ok = own == 1 && f != fd && stat_pid(f) == getpid();
		close(f);
		ok = ok && stat_pid(fd) == getppid(); /* the parent's, still */
		ok = ok && oms_os_keep("/proc/self/stat", O_RDONLY) == 0;
		f = oms_os_open_kept("/proc/self/stat", O_RDONLY, &own);
		ok = ok && own == 0 && f == fd && stat_pid(f) == getpid();
		_exit(ok ? 0 : 1);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
	ck_assert_int_eq(stat_pid(fd), getpid());
}
END_TEST

/* A missing file is not kept and costs no fd; it is read once it exists. */
START_TEST(missing_file)
{
	char buf[64];
	unlink(file);
	int low = lowest();
	ck_assert_int_eq(oms_os_keep("/proc/buddyinfo", O_RDONLY), -1);
	ck_assert_int_eq(lowest(), low);
	ck_assert_int_eq(oms_os.read_file("/proc/buddyinfo", buf, sizeof buf), -1);
	close(open(file, O_WRONLY | O_CREAT, 0600));
	put("late\n");
	ck_assert_int_eq(oms_os.read_file("/proc/buddyinfo", buf, sizeof buf), 5);
	ck_assert_str_eq(buf, "late\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("os");
	TCase *tc = tcase_create("kept files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, kept_is_reread_and_takes_no_low_fd);
	tcase_add_test(tc, kept_number_taken_over);
	tcase_add_test(tc, self_files_follow_fork);
	tcase_add_test(tc, missing_file);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
