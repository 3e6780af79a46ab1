/* defrag_prog.c - programs that the DefragTick thread must not disturb.
 *   defrag_prog pthread_exit   main ends with pthread_exit(): the process
 *                              must still exit once no program thread is left
 *   defrag_prog sigwait        SIGUSR1 blocked in main, taken with sigwait():
 *                              the thread must never receive it
 *   defrag_prog fork           forks; the child (no exec) prints its pid and
 *                              pauses, the parent waits for it
 * Each prints "ready" (and the child's pid for fork) on stdout when set. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(mode, "pthread_exit")) {
		printf("ready\n");
		pthread_exit(NULL);
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
			pause();
			_exit(0);
		}
		printf("ready\n");
		int st;
		waitpid(pid, &st, 0);
		return 0;
	}
	fprintf(stderr, "usage: defrag_prog pthread_exit|sigwait|fork\n");
	return 2;
}
