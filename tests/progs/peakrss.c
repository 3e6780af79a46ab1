/* peakrss.c - run a command and write its peak resident set (KiB, the
 * largest of it and its children, from wait4) to FILE.  The command's
 * stdout and stderr pass through and its exit status is ours; a command
 * killed by a signal gives 128 + the signal, as a shell would.  For tests
 * that set a memory-cgroup limit from a program's own peak.
 * Usage: peakrss FILE CMD [ARG]... */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: peakrss FILE CMD [ARG]...\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return 2;
	struct rusage ru;
	if (getrusage(RUSAGE_CHILDREN, &ru) != 0)
		return 2;
	FILE *f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%ld\n", ru.ru_maxrss) < 0 || fclose(f) != 0)
		return 2;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
