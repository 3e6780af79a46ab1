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
	CHECK(prctl(PR_SET_KEEPCAPS, 1) == 0);
	CHECK(setresuid(65534, 65534, 65534) == 0);
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	CHECK(syscall(SYS_capget, &h, d) == 0);
	d[0].effective |= 1u << CAP_SETGID; /* permitted was kept */
	CHECK(syscall(SYS_capset, &h, d) == 0);
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
	char *e = getenv("EXPECT_SHIM");
	if (e && atoi(e))
		CHECK(dfrag_threads() == 1);
	if (!failures)
		printf("ok\n");
	return failures ? 1 : 0;
}
