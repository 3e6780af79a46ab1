# The thread itself: named, absent with OOMSHIELD_THREAD=0 (present with
# OOMSHIELD_DEFRAG=0, which drops only DefragTick's job), restarted in a
# fork child that does not exec, never takes the program's signals, and
# never keeps a process alive whose main() ended with pthread_exit().
. tests/lib/common.sh
. tests/lib/defrag.sh
need_defrag
PROG=$B/tests/progs/defrag_prog
[ -x "$PROG" ] || skip "$PROG not built"
mkroot "$IDLE"
run() { env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$D" OOMSHIELD_PROC_ROOT="$R" "$@"; }

# The shell counts its own threads with a glob: no child process involved.
n=$(run sh -c 'set -- /proc/$$/task/*; echo $#')
[ "$n" = 2 ] || fail "expected the program's thread + DefragTick, found $n tasks"
n=$(OOMSHIELD_THREAD=0 run sh -c 'set -- /proc/$$/task/*; echo $#')
[ "$n" = 1 ] || fail "OOMSHIELD_THREAD=0 still has $n tasks"
n=$(OOMSHIELD_DEFRAG=0 run sh -c 'set -- /proc/$$/task/*; echo $#')
[ "$n" = 2 ] || fail "OOMSHIELD_DEFRAG=0: expected the thread for read-around, found $n tasks"
n=$(OOMSHIELD_DISABLE=1 run sh -c 'set -- /proc/$$/task/*; echo $#')
[ "$n" = 1 ] || fail "OOMSHIELD_DISABLE=1 still has $n tasks"
# The thread names itself as it starts: poll, from inside the process.
names=$(run sh -c 'i=0; while [ $i -lt 200 ]; do
	grep -qx oomshield-dfrag /proc/$$/task/*/comm && exit 0; i=$((i + 1)); sleep 0.05
done; cat /proc/$$/task/*/comm')
[ -z "$names" ] || fail "no thread named oomshield-dfrag: $names"

# sigwait: SIGUSR1 must reach the program's sigwait, not kill the process.
protect "$T/s.log" "$PROG" sigwait > "$T/s.out"
pid=$LAST
poll 10 'grep -q ready "$T/s.out"' || fail "sigwait program did not start"
kill -USR1 $pid
poll 10 '! kill -0 $pid 2>/dev/null' || fail "sigwait program still running after SIGUSR1"
wait $pid; rc=$?
[ $rc -eq 0 ] || fail "sigwait program exited $rc (signal taken by the wrong thread?)"
grep -q "got SIGUSR1" "$T/s.out" || fail "sigwait did not see SIGUSR1"

# pthread_exit from main: when the program has no thread left, it exits,
# within a tick or two (the thread looks at /proc/self/stat only once the
# leader has gone, which it asks the kernel every tick).
INTERVAL=1000 protect "$T/p.log" "$PROG" pthread_exit > "$T/p.out"
pid=$LAST
poll 5 '! kill -0 $pid 2>/dev/null' || fail "process kept alive by the DefragTick thread"
wait $pid; rc=$?
[ $rc -eq 0 ] || fail "pthread_exit program exited $rc"
# ... but not while a program thread still runs.
INTERVAL=1000 protect "$T/w.log" "$PROG" pthread_exit_worker > "$T/w.out"
pid=$LAST
poll 5 '! kill -0 $pid 2>/dev/null' || fail "process with a finished worker kept alive"
wait $pid; rc=$?
[ $rc -eq 0 ] || fail "pthread_exit_worker program exited $rc"
grep -qx "worker done" "$T/w.out" || fail "the worker was cut short: $(cat "$T/w.out")"
# A leader gone by a raw exit syscall, which no library sees.
protect "$T/x.log" "$PROG" sysexit > "$T/x.out"
pid=$LAST
poll 10 '! kill -0 $pid 2>/dev/null' || fail "process kept alive after a raw exit of main"
wait $pid; rc=$?
[ $rc -eq 0 ] || fail "sysexit program exited $rc"

# Right after fork the child is single-threaded (it may exec, or call
# unshare(CLONE_NEWUSER), which a multi-threaded process cannot).
out=$(run "$PROG" forkcount) || fail "forkcount failed: $out"
[ "$out" = "child-tasks 1" ] || fail "a fork child starts multi-threaded: $out"

# fork without exec: the child that goes on working runs its own thread.
protect "$T/f.log" "$PROG" fork > "$T/f.out"
poll 10 'grep -q "^child " "$T/f.out"' || fail "fork program did not start"
child=$(sed -n 's/^child //p' "$T/f.out")
PIDS="$PIDS $child"
poll 10 'grep -qx oomshield-dfrag /proc/$child/task/*/comm 2>/dev/null' ||
	fail "fork child has no DefragTick thread: $(cat /proc/$child/task/*/comm)"
cleanup

# The thread maps nothing after start-up: a mapping made at a tick could
# land in a hole the program has just unmapped and means to reuse (mremap
# in place, MAP_FIXED_NOREPLACE).  Compare the process's mappings before
# the first tick (1 s after start: time enough for the snapshot) and after
# three.
# The program has finished its own start-up (it maps things too) when it
# prints "ready"; it then waits for SIGUSR1.
INTERVAL=1000 LOGLEVEL=debug protect "$T/m.log" "$PROG" sigwait > "$T/m.out"
pid=$LAST
poll 10 'grep -q ready "$T/m.out"' || fail "sigwait program did not start"
[ "$(ls /proc/$pid/task | wc -l)" = 2 ] || fail "protected program has no DefragTick thread"
before=$(cut -d' ' -f1 /proc/$pid/maps)
ticks0=$(lines "$T/m.log" 'tick:')
poll 10 '[ "$(lines "$T/m.log" "tick:")" -ge 3 ]' || fail "no DefragTick ticks logged: $(cat "$T/m.log")"
after=$(cut -d' ' -f1 /proc/$pid/maps)
if [ "$ticks0" = 0 ]; then
	[ "$before" = "$after" ] || fail "the DefragTick thread mapped memory at a tick: $(printf '%s\n' "$before" "$after" | sort | uniq -u)"
else
	echo "note: first tick came before the snapshot; mapping check not judged"
fi
cleanup
assert_dir_empty "$D"
exit 0
