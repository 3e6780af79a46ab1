/* defrag_prog.c - programs that the DefragTick thread must not disturb.
 *   defrag_prog pthread_exit   main ends with pthread_exit(): the process
 *                              must still exit once no program thread is left
 *   defrag_prog pthread_exit_worker  the same, while a worker still runs
 *                              for 300 ms and then prints "worker done"
 *   defrag_prog sysexit        main ends with a raw exit syscall, which no
 *                              library sees
 *   defrag_prog sigwait        SIGUSR1 blocked in main, taken with sigwait():
 *                              the thread must never receive it
 *   defrag_prog fork           forks; the child (no exec) prints its pid,
 *                              keeps making large allocations until its
 *                              DefragTick thread appears (10 s at most),
 *                              then pauses; the parent waits for it
 *   defrag_prog forkcount      forks; the child prints how many threads it
 *                              has right after fork (what it would have
 *                              when it calls unshare() or exec), and exits
 * Each prints "ready" (and the child's pid for fork) on stdout when set. */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void *worker(void *arg)
{
	(void)arg;
	struct timespec t = {0, 300 * 1000 * 1000};
	nanosleep(&t, NULL);
	printf("worker done\n");
	return NULL;
}

static int tasks(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(mode, "pthread_exit")) {
		printf("ready\n");
		pthread_exit(NULL);
	}
	if (!strcmp(mode, "pthread_exit_worker")) {
		pthread_t t;
		if (pthread_create(&t, NULL, worker, NULL))
			return 2;
		printf("ready\n");
		pthread_exit(NULL);
	}
	if (!strcmp(mode, "sysexit")) {
		printf("ready\n");
		for (;;)
			syscall(SYS_exit, 0);
	}
	if (!strcmp(mode, "sigwait")) {
		sigset_t s;
		int sig = 0;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &s, NULL);
		printf("ready\n");
		if (sigwait(&s, &sig) != 0 || sig != SIGUSR1)
			return 2;
		printf("got SIGUSR1\n");
		return 0;
	}
	if (!strcmp(mode, "fork")) {
		pid_t pid = fork();
		if (pid < 0)
			return 2;
		if (pid == 0) {
			printf("child %d\n", (int)getpid());
			/* A child that goes on working: large blocks, now and then. */
			struct timespec ms5 = {0, 5000000};
			for (int i = 0; i < 2000 && tasks() < 2; i++) {
				char *volatile p = malloc(4 << 20);
				if (p)
					p[0] = 1;
				free(p);
				nanosleep(&ms5, NULL);
			}
			pause();
			_exit(0);
		}
		printf("ready\n");
		int st;
		waitpid(pid, &st, 0);
		return 0;
	}
	if (!strcmp(mode, "forkcount")) {
		pid_t pid = fork();
		if (pid < 0)
			return 2;
		if (pid == 0) {
			printf("child-tasks %d\n", tasks());
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
	}
	fprintf(stderr, "usage: defrag_prog pthread_exit|pthread_exit_worker|sysexit|sigwait|fork|forkcount\n");
	return 2;
}
