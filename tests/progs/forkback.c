/* forkback.c - memory frozen at fork goes back into its file once the
 * child has exec'd or exited (issue 17), with every write kept.
 * Usage: forkback MODE SIZE_MIB malloc|mmap
 *   exec     fork + exec true, waitpid, rewrite everything
 *   exit     fork + _exit, waitpid, rewrite
 *   loop     50 x (fork + exec true, write a slice while it runs, waitpid)
 *   daemon   a live child that closes every descriptor but its two pipe
 *            ends (as daemons do); the parent then calls waitpid(WNOHANG)
 *            and a large malloc (chances to switch) and rewrites
 *            everything: the child must still see the memory as it was
 *            at the fork, and the parent's memory must stay private
 *   grandchild  the child forks a grandchild (no exec) and exits; the
 *            parent reaps it and rewrites everything (chances to switch)
 *            while the grandchild, which must still see the memory as at
 *            the fork, lives; then the grandchild exits
 *   rawfork  while a fork has the memory frozen, a second child made by
 *            syscall(SYS_fork) (no fork handlers) lives on after the first
 *            has been reaped: no switch while it lives, it sees the memory
 *            as at the fork
 *   flood    a thread in epoll_wait, a child that sends SIGWINCH (left at
 *            its default: ignored) to us without pause, and 50 rounds of
 *            write + fork + _exit + waitpid: epoll_wait never fails with
 *            EINTR (holding threads queues ignored signals)
 *   sigchld  SIGCHLD blocked and read from a signalfd (an event loop): a
 *            child exits, the memory is switched back, and the signalfd
 *            still holds the SIGCHLD (nothing ate it)
 *   orphan   the parent exits at once; the child, the survivor, writes a
 *            page at a time and makes large calls until it is switched
 *            back, then rewrites everything (stdout is the child's)
 *   prefork  a live child: exact fork semantics both ways; then the child
 *            exits and the parent rewrites everything
 *   threads  a second thread rewrites half the buffer round after round
 *            through fork + exec + waitpid (the switch holds it still) and
 *            after, the main thread the other half; a third sleeps in
 *            read() and nanosleep() meanwhile and must not notice
 *   race     fork + _exit reaped by a raw wait4 (no wrapper: no switch);
 *            then writes into the frozen memory, each followed by a large
 *            malloc, until one of them switches
 * Prints "ok MODE shared=S" (S: 1 if the buffer is MAP_SHARED of its file
 * at the end) or a FAIL line and exits 1. */
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/sem.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static unsigned char *buf;
static size_t len, pg = 4096;

static void fill(size_t a, size_t z, unsigned round)
{
	for (size_t o = a; o < z; o += pg)
		memset(buf + o, (int)((o / pg * 7 + round) & 0xff), pg);
}

static int check(size_t a, size_t z, unsigned round)
{
	for (size_t o = a; o < z; o += pg) {
		unsigned char want = (unsigned char)((o / pg * 7 + round) & 0xff);
		if (buf[o] != want || buf[o + pg - 1] != want) {
			printf("FAIL: page %zu holds %u, wants %u (round %u)\n", o / pg, buf[o], want,
			       round);
			return 0;
		}
	}
	return 1;
}

/* 1 if the mapping holding buf is shared, 0 private, -1 not found. */
static int shared(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int r = -1;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perm[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) == 3 && lo <= (uintptr_t)buf &&
		    (uintptr_t)buf < hi)
			r = perm[3] == 's';
	}
	if (f)
		fclose(f);
	return r;
}

static void run_true(void)
{
	pid_t c = fork();
	if (c == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	waitpid(c, NULL, 0);
}

static int gate[2];
static int stop_writing, writer_round;

/* The second thread: rewrites the second half round after round, through
 * the fork, the exec, the wait and the switch, until told to stop. */
static void *writer(void *arg)
{
	(void)arg;
	unsigned r = 10;
	for (;; r++) {
		fill(len / 2, len, r);
		__atomic_store_n(&writer_round, (int)r, __ATOMIC_RELEASE);
		if (__atomic_load_n(&stop_writing, __ATOMIC_ACQUIRE))
			return NULL;
	}
}

/* More threads, held still for the switch inside a blocking call: read()
 * on a pipe and a 500 ms nanosleep() (the kernel restarts these), and
 * epoll_wait(), sigtimedwait(), semop() and recv() with SO_RCVTIMEO (which
 * return EINTR after a stop unless restarted, signal(7)).  Each waits for
 * the main thread to release it after the switch, and must then succeed. */
static int sleeper_bad, napping, efd, semid, sp[2];
static const char *bad_call;
static void bad(const char *what)
{
	bad_call = what;
	sleeper_bad = 1;
}

static void *reader(void *arg)
{
	(void)arg;
	char x;
	if (read(gate[0], &x, 1) != 1)
		bad("read");
	return NULL;
}

static void *napper(void *arg)
{
	(void)arg;
	struct timespec t = {0, 500 * 1000000L}, a, z;
	clock_gettime(CLOCK_MONOTONIC, &a);
	__atomic_store_n(&napping, 1, __ATOMIC_RELEASE);
	if (nanosleep(&t, NULL) != 0)
		bad("nanosleep: EINTR");
	clock_gettime(CLOCK_MONOTONIC, &z);
	if ((z.tv_sec - a.tv_sec) * 1000 + (z.tv_nsec - a.tv_nsec) / 1000000 < 499)
		bad("nanosleep: woke early");
	return NULL;
}

static void *epoller(void *arg)
{
	(void)arg;
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0 || epoll_wait(ep, &ev, 1, -1) != 1)
		bad("epoll_wait");
	close(ep);
	return NULL;
}

static void *sigwaiter(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	struct timespec t = {30, 0};
	if (sigtimedwait(&set, NULL, &t) != SIGUSR2)
		bad("sigtimedwait");
	return NULL;
}

static void *semwaiter(void *arg)
{
	(void)arg;
	struct sembuf op = {0, -1, 0};
	if (semop(semid, &op, 1) != 0)
		bad("semop");
	return NULL;
}

static int flood_eintr;
static void *flood_epoller(void *arg)
{
	(void)arg;
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0)
		return NULL;
	for (;;) {
		int r = epoll_wait(ep, &ev, 1, -1);
		if (r == 1)
			break;
		if (r < 0 && errno == EINTR)
			flood_eintr++;
	}
	close(ep);
	return NULL;
}

static void *receiver(void *arg)
{
	(void)arg;
	struct timeval tv = {30, 0};
	char x;
	if (setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
	    recv(sp[0], &x, 1, 0) != 1)
		bad("recv");
	return NULL;
}

/* grandchild, rawfork: a relative that shares the frozen memory lives on
 * after the reaped child.  The parent makes chances to switch and
 * rewrites everything: it must stay private (the relative, told by `go`,
 * checks it still sees round 1 and answers on `done`).  Then, the relative
 * gone, the parent is switched back and rewrites again.  1 if all held. */
static int outlived_by(int go, int done, pid_t reap, const char *who)
{
	int ok = 1;
	void *volatile q = malloc(len);
	free(q);
	fill(0, len, 2);
	int live_shared = shared();
	char v = 0;
	if (write(go, "x", 1) != 1 || read(done, &v, 1) != 1)
		return 0;
	if (reap > 0)
		waitpid(reap, NULL, 0);
	if (v != 'y') {
		printf("FAIL: the %s saw the parent's writes\n", who);
		ok = 0;
	}
	if (live_shared != 0) {
		printf("FAIL: shared=%d while the %s lives\n", live_shared, who);
		ok = 0;
	}
	ok = ok && check(0, len, 2);
	for (int i = 0; i < 200000 && shared() != 1; i++) {
		void *volatile r = malloc(len); /* until switched back */
		free(r);
	}
	fill(0, len, 3);
	return ok && check(0, len, 3);
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	const char *mode = argv[1];
	len = (size_t)atol(argv[2]) << 20;
	if (!strcmp(argv[3], "mmap")) {
		buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED)
			return 3;
	} else if (!(buf = malloc(len)))
		return 3;
	fill(0, len, 1);
	int ok = 1;
	if (!strcmp(mode, "exec")) {
		run_true();
		fill(0, len, 2);
		ok = check(0, len, 2);
	} else if (!strcmp(mode, "exit")) {
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		waitpid(c, NULL, 0);
		fill(0, len, 2);
		ok = check(0, len, 2);
	} else if (!strcmp(mode, "loop")) {
		size_t slice = len / 50 / pg * pg;
		for (int i = 0; i < 50; i++) {
			pid_t c = fork();
			if (c == 0) {
				execl("/bin/true", "true", (char *)NULL);
				_exit(127);
			}
			fill((size_t)i * slice, (size_t)(i + 1) * slice, 2); /* while it runs */
			waitpid(c, NULL, 0);
		}
		fill(50 * slice, len, 2);
		ok = check(0, len, 2);
		fill(0, len, 4);
		ok = ok && check(0, len, 4);
	} else if (!strcmp(mode, "daemon")) {
		int go[2], done[2];
		if (pipe(go) || pipe(done))
			return 4;
		pid_t c = fork();
		if (c == 0) {
			for (int fd = 3; fd < 65536; fd++)
				if (fd != go[0] && fd != done[1])
					close(fd);
			char x;
			if (write(done[1], "x", 1) != 1 || read(go[0], &x, 1) != 1)
				_exit(7);
			_exit(check(0, len, 1) ? 0 : 6);
		}
		char x;
		if (read(done[0], &x, 1) != 1)
			return 4;
		waitpid(c, NULL, WNOHANG); /* the child lives: no switch */
		void *volatile q = malloc(len);
		free(q);
		fill(0, len, 2);
		int live_shared = shared();
		int st;
		if (write(go[1], "x", 1) != 1 || waitpid(c, &st, 0) != c)
			return 4;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("FAIL: the child saw the parent's writes (status %d)\n", st);
			ok = 0;
		}
		if (live_shared != 0) {
			printf("FAIL: shared=%d while the child lives\n", live_shared);
			ok = 0;
		}
		ok = ok && check(0, len, 2);
		fill(0, len, 3);
		ok = ok && check(0, len, 3);
	} else if (!strcmp(mode, "grandchild")) {
		int go[2], done[2];
		if (pipe(go) || pipe(done))
			return 4;
		pid_t c = fork();
		if (c == 0) {
			if (fork() != 0)
				_exit(0);
			char x, v; /* the grandchild */
			if (read(go[0], &x, 1) != 1)
				_exit(7);
			v = check(0, len, 1) ? 'y' : 'n'; /* as at the fork */
			_exit(write(done[1], &v, 1) == 1 ? 0 : 7);
		}
		waitpid(c, NULL, 0); /* the child has gone, the grandchild lives */
		ok = outlived_by(go[1], done[0], -1, "grandchild");
	} else if (!strcmp(mode, "rawfork")) {
		int go[2], done[2], hold[2];
		if (pipe(go) || pipe(done) || pipe(hold))
			return 4;
		pid_t c = fork();
		if (c == 0) {
			char x;
			_exit(read(hold[0], &x, 1) == 1 ? 0 : 7);
		}
		pid_t r = (pid_t)syscall(SYS_fork); /* frozen now: no handlers */
		if (r == 0) {
			char x, v;
			if (read(go[0], &x, 1) != 1)
				_exit(7);
			v = check(0, len, 1) ? 'y' : 'n';
			_exit(write(done[1], &v, 1) == 1 ? 0 : 7);
		}
		if (write(hold[1], "x", 1) != 1)
			return 4;
		waitpid(c, NULL, 0); /* the first child has gone, the raw one lives */
		ok = outlived_by(go[1], done[0], r, "raw child");
	} else if (!strcmp(mode, "flood")) {
		/* The sender must not share the frozen memory (a forked one
		 * would keep it frozen): a shell, spawned. */
		char cmd[96];
		snprintf(cmd, sizeof cmd, "while :; do kill -s WINCH %d || exit; done", (int)getpid());
		char *argv_sh[] = {"sh", "-c", cmd, NULL};
		pid_t k;
		if (posix_spawn(&k, "/bin/sh", NULL, NULL, argv_sh, environ))
			return 4;
		efd = eventfd(0, 0);
		pthread_t t;
		if (efd < 0 || pthread_create(&t, NULL, flood_epoller, NULL))
			return 4;
		for (int i = 0; i < 50; i++) {
			fill((size_t)i * pg, (size_t)(i + 1) * pg, 2);
			pid_t c = fork();
			if (c == 0)
				_exit(0);
			waitpid(c, NULL, 0);
		}
		kill(k, SIGKILL);
		waitpid(k, NULL, 0);
		uint64_t one = 1;
		if (write(efd, &one, sizeof one) != sizeof one)
			return 4;
		pthread_join(t, NULL);
		if (flood_eintr) {
			printf("FAIL: epoll_wait failed %d times with EINTR\n", flood_eintr);
			ok = 0;
		}
		ok = ok && check(0, 50 * pg, 2) && check(50 * pg, len, 1);
	} else if (!strcmp(mode, "sigchld")) {
		sigset_t chld;
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		pthread_sigmask(SIG_BLOCK, &chld, NULL);
		int sfd = signalfd(-1, &chld, SFD_CLOEXEC);
		if (sfd < 0)
			return 4;
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		for (int i = 0; i < 200000 && shared() != 1; i++) {
			void *volatile q = malloc(len); /* until switched back */
			free(q);
		}
		struct pollfd pf = {.fd = sfd, .events = POLLIN};
		if (poll(&pf, 1, 0) != 1) {
			printf("FAIL: the SIGCHLD the program waits for is gone\n");
			ok = 0;
		}
		waitpid(c, NULL, 0);
		fill(0, len, 3);
		ok = ok && check(0, len, 3);
	} else if (!strcmp(mode, "orphan")) {
		int gone[2];
		if (pipe(gone))
			return 4;
		pid_t c = fork();
		if (c < 0)
			return 4;
		if (c > 0)
			_exit(0); /* no stats line, no output: the child speaks */
		close(gone[1]);
		char x;
		if (read(gone[0], &x, 1) != 0) /* EOF: the parent has gone */
			return 4;
		ok = check(0, len, 1);
		size_t i = 0;
		for (; i < 200000 && shared() != 1; i++) {
			size_t o = i % (len / pg) * pg;
			fill(o, o + pg, 2);
			void *volatile q = malloc(len); /* volatile: not elided */
			free(q);
		}
		ok = ok && check(0, i < len / pg ? i * pg : len, 2);
		fill(0, len, 3);
		ok = ok && check(0, len, 3);
	} else if (!strcmp(mode, "prefork")) {
		int go[2], done[2];
		if (pipe(go) || pipe(done))
			return 4;
		pid_t c = fork();
		if (c == 0) {
			char x;
			if (read(go[0], &x, 1) != 1) /* the parent has written by now */
				_exit(5);
			int r = check(0, len, 1) ? 0 : 6; /* as at the fork */
			fill(0, len / 16, 9);                /* never seen by the parent */
			if (write(done[1], "x", 1) != 1 || read(go[0], &x, 1) != 1)
				_exit(7);
			_exit(r);
		}
		fill(0, len / 16, 2);
		char x;
		if (write(go[1], "x", 1) != 1 || read(done[0], &x, 1) != 1)
			return 4;
		ok = check(0, len / 16, 2) && check(len / 16, len, 1);
		int live_shared = shared();
		if (write(go[1], "x", 1) != 1)
			return 4;
		int st;
		waitpid(c, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("FAIL: child status %d\n", st);
			ok = 0;
		}
		if (live_shared != 0) {
			printf("FAIL: shared=%d while the child lives\n", live_shared);
			ok = 0;
		}
		fill(0, len, 3);
		ok = ok && check(0, len, 3);
	} else if (!strcmp(mode, "threads")) {
		pthread_t w, z, y, blk[4];
		void *(*blockers[4])(void *) = {epoller, sigwaiter, semwaiter, receiver};
		sigset_t usr2;
		sigemptyset(&usr2);
		sigaddset(&usr2, SIGUSR2);
		pthread_sigmask(SIG_BLOCK, &usr2, NULL); /* for sigtimedwait */
		efd = eventfd(0, 0);
		semid = semget(IPC_PRIVATE, 1, 0600);
		if (pipe(gate) || efd < 0 || semid < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp))
			return 4;
		/* FORKBACK_BLOCKERS=0: not these four (valgrind itself makes
		 * epoll_wait fail with EINTR). */
		int nblk = getenv("FORKBACK_BLOCKERS") ? 0 : 4;
		for (int i = 0; i < nblk; i++)
			pthread_create(&blk[i], NULL, blockers[i], NULL);
		pthread_create(&z, NULL, reader, NULL);
		pthread_create(&y, NULL, napper, NULL);
		pthread_create(&w, NULL, writer, NULL);
		usleep(100000); /* not synchronisation: lets the blockers block (a
				   late one just tests less) */
		while (__atomic_load_n(&writer_round, __ATOMIC_ACQUIRE) < 11 ||
		       !__atomic_load_n(&napping, __ATOMIC_ACQUIRE))
			sched_yield(); /* it writes in the private view */
		run_true(); /* the switch, with the writer held still */
		/* Its round in flight straddles the switch: the part written
		 * before must have been carried into the file. */
		__atomic_store_n(&stop_writing, 1, __ATOMIC_RELEASE);
		uint64_t one = 1;
		struct sembuf up = {0, 1, 0};
		if (write(gate[1], "x", 1) != 1 || write(efd, &one, sizeof one) != sizeof one ||
		    semop(semid, &up, 1) != 0 || write(sp[1], "x", 1) != 1 ||
		    (nblk && pthread_kill(blk[1], SIGUSR2) != 0))
			return 4;
		for (unsigned r = 2; r < 5; r++)
			fill(0, len / 2, r);
		pthread_join(w, NULL);
		pthread_join(z, NULL);
		pthread_join(y, NULL);
		for (int i = 0; i < nblk; i++)
			pthread_join(blk[i], NULL);
		semctl(semid, 0, IPC_RMID);
		ok = check(0, len / 2, 4) &&
		     check(len / 2, len, (unsigned)__atomic_load_n(&writer_round, __ATOMIC_ACQUIRE));
		if (sleeper_bad) {
			printf("FAIL: a held thread saw the stop (%s)\n", bad_call);
			ok = 0;
		}
	} else if (!strcmp(mode, "race")) {
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		syscall(SYS_wait4, c, NULL, 0, NULL); /* not the wrapper */
		int before = shared();
		/* Write private pages, then make a large call, until one runs the
		 * switch (at once without the thread; once the thread has seen
		 * the pipe's EOF with it): the last write must be in the file. */
		unsigned r = 2;
		for (int i = 0; i < 200000 && shared() != 1; i++) {
			r = 2 + (unsigned)i % 200;
			fill(0, len, r);
			void *q = malloc(len);
			/* Keep the pair: without the barrier the compiler drops
			 * an unused malloc + free, and no call reaches the shim. */
			__asm__ volatile("" : : "r"(q) : "memory");
			free(q);
		}
		ok = check(0, len, r);
		if (before != 0) {
			printf("FAIL: shared=%d before the switch\n", before);
			ok = 0;
		}
	} else {
		return 2;
	}
	if (!ok)
		return 1;
	printf("ok %s shared=%d\n", mode, shared());
	return 0;
}
