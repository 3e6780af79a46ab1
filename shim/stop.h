/* stop.h - hold every other thread of the process still, invisibly, for
 * the fork switch-back of a multi-threaded program (forkback.h).
 *
 * Why ptrace.  The switch copies private pages into a file and maps the
 * file over them; a write another thread makes in between would be lost.
 * A signal could stop the threads, but the program would see it: its
 * nanosleep, poll, epoll_wait or select would return EINTR, and a handler
 * of its own could be run or blocked.  A ptrace stop (PTRACE_SEIZE, then
 * PTRACE_INTERRUPT) is what debuggers and CRIU use: the thread stops where
 * it is, a syscall it was in restarts transparently when it is let go
 * (nanosleep with the time left; the few calls that would fail with EINTR
 * instead are restarted by stop.c), its parent is not told, and a signal
 * that arrives meanwhile is handed back on PTRACE_DETACH.  A thread cannot
 * trace its own thread group, so a helper does: a clone() child that
 * shares our memory (CLONE_VM), sends no SIGCHLD (invisible to the
 * program's wait() without __WALL) and is not traced itself
 * (CLONE_UNTRACED, so strace -f does not follow it).
 *
 * Signals.  While a thread is traced, or while the thread that stands for
 * the process (the leader) blocks a signal, the kernel queues signals the
 * program ignores (SIGCHLD, SIGWINCH at their default) instead of dropping
 * them, and one would wake another thread in epoll_wait with EINTR.  So
 * the leader is held last and let go first, forkback.c blocks its own
 * signals only once the others are held, and drains the ignored ones
 * before anyone runs again (oms_os_drain_ignored).  The helper dies with
 * the program (PR_SET_PDEATHSIG) and the caller notices the helper's death
 * (CLONE_CHILD_CLEARTID): a seccomp filter that kills on ptrace costs a
 * failed try, not a hang.
 *
 * When it cannot: the process is already traced (a debugger, strace),
 * ptrace is refused (Yama ptrace_scope >= 1 - the helper is our child, not
 * our ancestor -, seccomp, a process made non-dumpable, a setuid program),
 * more than OMS_STOP_MAX threads, valgrind (which aborts a program at such
 * a clone), qemu-user (which refuses it), or an architecture other than
 * x86-64 and i386 (stop.c must know its registers to undo the EINTR a few
 * calls would see).  Then oms_stop_others fails
 * and nothing was changed: every thread it had stopped runs again.
 *
 * The helper runs on a stack of its own but with the caller's TLS: it
 * makes only raw syscalls (syscall(2) may set the caller's errno, which
 * both functions restore) and never calls malloc, stdio or a lock.  A
 * thread that does not stop within OMS_STOP_WAIT_MS (stuck in the kernel)
 * makes the stop fail rather than hold the others for long.
 * One stop at a time: the caller serialises (forkback.c's `switching`).
 */
#ifndef OMS_STOP_H
#define OMS_STOP_H

#include <sys/types.h>

#define OMS_STOP_MAX 1024
#define OMS_STOP_WAIT_MS 200

/* Stop every thread of this process but the caller and `keep` (0: none).
 * 0 when all are stopped (then oms_stop_resume must follow), -1 with
 * errno otherwise (nothing stopped). */
int oms_stop_others(pid_t keep);
/* Let them all go, each with the signal that arrived while it was held. */
void oms_stop_resume(void);

#endif
