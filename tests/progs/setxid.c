/* setxid.c - privilege dropping the way setpriv does it: keep the
 * capabilities across setresuid (PR_SET_KEEPCAPS), raise CAP_SETGID again
 * in this thread only, then setresgid and setgroups.  glibc repeats those
 * calls on every thread of the process and aborts if one fails, so a
 * helper thread with other credentials would kill the program.  Then the
 * protected memory must still work.  Needs root; exits 77 without it.
 * With EXPECT_SHIM=1 the DefragTick thread must be running again after. */
#include "oms_test.h"

#include <dirent.h>
#include <grp.h>
#include <pthread.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static int dfrag_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d))) {
		char path[300], comm[64] = "";
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (f && fgets(comm, sizeof comm, f) && !strncmp(comm, "oomshield-dfrag", 15))
			n++;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

static int cap_effective(int cap, int on)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		return -1;
	if (on)
		d[0].effective |= 1u << cap;
	else
		d[0].effective &= ~(1u << cap);
	return (int)syscall(SYS_capset, &h, d); /* this thread only */
}

static int reached;

/* With a cancel pending, setuid must return: it is no cancellation point.
 * This thread's capabilities differ from the others' (one dropped), so
 * the shim has its own thread to stop here. */
static void *cancel_me(void *arg)
{
	(void)arg;
	CHECK(cap_effective(CAP_SYS_ADMIN, 0) == 0);
	pthread_cancel(pthread_self());
	CHECK(setuid(getuid()) == 0);
	reached = 1;
	pthread_testcancel();
	return NULL;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("setxid: needs root\n");
		return 77;
	}
	size_t n = (size_t)8 << 20;
	unsigned char *big = malloc(n);
	CHECK(big != NULL);
	fill(big, n, 0x3c);
	char *e = getenv("EXPECT_SHIM");
	int shim = e && atoi(e);
	/* a vfork child's set*id must leave the parent's thread alone */
	for (int i = 0; i < 50; i++) {
		pid_t pid = vfork();
		if (pid == 0) {
			setgid(getgid());
			_exit(0);
		}
		int st = -1;
		CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	}
	if (shim)
		CHECK(dfrag_threads() == 1);
	pthread_t t;
	void *res = NULL;
	CHECK(pthread_create(&t, NULL, cancel_me, NULL) == 0 && pthread_join(t, &res) == 0);
	CHECK(reached && res == PTHREAD_CANCELED);
	if (shim)
		CHECK(dfrag_threads() == 1);
	CHECK(prctl(PR_SET_KEEPCAPS, 1) == 0);
	CHECK(setresuid(65534, 65534, 65534) == 0);
	CHECK(cap_effective(CAP_SETGID, 1) == 0); /* permitted was kept */
	CHECK(initgroups("nobody", 65534) == 0);
	CHECK(setresgid(65534, 65534, 65534) == 0);
	CHECK(setgroups(0, NULL) == 0);
	CHECK(getuid() == 65534 && getgid() == 65534);
	CHECK(verify(big, n, 0x3c));
	unsigned char *more = realloc(big, 2 * n);
	CHECK(more != NULL && verify(more, n, 0x3c));
	free(more);
	char *fresh = calloc(1, n);
	CHECK(fresh != NULL && all_zero(fresh, n));
	free(fresh);
	if (shim)
		CHECK(dfrag_threads() == 1);
	if (!failures)
		printf("ok\n");
	return failures ? 1 : 0;
}
