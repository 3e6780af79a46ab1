# Issue 17: on ext4, fork freezes the parent's file-backed memory (large
# malloc blocks, redirected anonymous mmaps) into copy-on-write MAP_PRIVATE
# views of their files; once no child can see it (the child exec'd or
# exited), it is mapped MAP_SHARED of its file again, every write kept,
# the program's other threads held still meanwhile (shim/forkback.c,
# shim/stop.c).  tests/progs/forkback prints
# "ok MODE shared=S" (S = 1: the buffer is a shared file mapping at the end).
#   a. no cgroup: every mode x {malloc, mmap} switches back (shared=1):
#      "threads" with a second thread writing through the switch (a lost
#      write fails its check: without the hold, 6 runs of 8 did) and six
#      more blocked in read, nanosleep, epoll_wait, sigtimedwait, semop and
#      recv with a timeout that must not notice (no EINTR); a child
#      that closes every descriptor still sees its snapshot; also without
#      the ticker thread (OOMSHIELD_THREAD=0), and under strace -f and
#      valgrind, where the threads cannot be held: no switch, data right.
#      No file left, stdout clean.
#   b. headline style: the buffer is larger than a memory-cgroup limit;
#      after fork + exec/exit/loop/prefork/threads/orphan the program (the
#      parent, or the surviving child) rewrites it
#      and completes under the shim; plainly, exec is OOM-killed.
# Backing files on ext4: $T if it is ext4, else a loop-mounted ext4 image.
. tests/lib/common.sh
FB=$P/forkback
[ -x "$FB" ] || fail "$FB not built (make tests)"
fstype() { df -T "$1" 2>/dev/null | awk 'NR == 2 {print $2}'; }
if [ "$(fstype "$T")" = ext4 ]; then
	D=$T/back
	mkdir "$D" || fail "cannot mkdir $D"
else
	# Room for case b's 256 MiB buffer plus the race mode's second block.
	loop_mount ext4 640 || skip "$T is on $(fstype "$T"), not ext4, and no ext4 image: $LOOP_WHY"
	D=$T/mnt
fi
[ "$(fstype "$D")" = ext4 ] || skip "backing dir $D is $(fstype "$D"), not ext4"
left() { ls -A "$D" | grep -v '^lost+found$'; }
# A failure leaves neither a cgroup nor the mount behind.
trap 'cg_drop; [ "$D" = "$T/mnt" ] && umount "$T/mnt" 2>/dev/null' EXIT

# fb NAME WANT MODE SIZE KIND [VAR=VAL...]: run forkback under the shim with
# the settings given; stdout must be exactly WANT, stderr empty, and the
# stats line of the forking process (forks_cow > 0) says whether it
# switched back (forks_back > 0) as WANT's shared= says.
fb() {
	name=$1 want=$2 mode=$3 size=$4 kind=$5
	shift 5
	rm -f "$T/log"
	# Through a pipe: its end comes when the last process holding stdout
	# has gone (orphan: the child outlives the parent).
	{
		env "$@" LD_PRELOAD="$LIB" OOMSHIELD_DIR="$D" OOMSHIELD_STATS=1 OOMSHIELD_LOG_FILE="$T/log" \
			timeout 60 "$FB" "$mode" "$size" "$kind" 2> "$T/err"
		echo $? > "$T/rc"
	} | cat > "$T/out"
	rc=$(cat "$T/rc")
	[ $rc = 0 ] || fail "$name: exit $rc: $(head -3 "$T/out") $(tail -3 "$T/err")"
	[ "$(cat "$T/out")" = "$want" ] || fail "$name: stdout '$(cat "$T/out")', want '$want'"
	[ ! -s "$T/err" ] || fail "$name: stderr: $(head -3 "$T/err")"
	st=$(grep 'stats:.*forks_cow=[1-9]' "$T/log")
	[ "$(printf '%s\n' "$st" | grep -c .)" = 1 ] || fail "$name: want one stats line of the forking process: $(cat "$T/log")"
	case $want in
	*shared=1) case $st in *" forks_back=0 "*) fail "$name: no switch counted: $st" ;; esac ;;
	*shared=0) case $st in *" forks_back=0 "*) ;; *) fail "$name: a switch counted: $st" ;; esac ;;
	esac
	[ -z "$(left)" ] || fail "$name: files left in $D: $(left)"
}

# ---- a. no cgroup ---------------------------------------------------------
for kind in malloc mmap; do
	# daemon: a live child that closed every descriptor keeps its
	# snapshot (a close-on-exec pipe as the sign of exec would not).
	# grandchild: the child forks one (no exec) and exits: the parent
	# must not switch while it lives.  orphan: the parent exits first,
	# the child is the survivor and switches back.
	# rawfork: a child made without fork handlers (syscall(SYS_fork))
	# while memory is frozen holds it frozen too.
	# flood: ignored signals queued while threads are held must not turn
	# into EINTR in another thread.
	# sigchld: a blocked SIGCHLD read from a signalfd survives the switch.
	for mode in exec exit loop prefork daemon grandchild rawfork orphan race threads flood sigchld; do
		fb "$mode/$kind" "ok $mode shared=1" "$mode" 64 "$kind" OOMSHIELD_THRESHOLD=64K
	done
	# No ticker thread: the wait wrapper (exec) and the next large malloc
	# (race: reaped by a raw wait4) test the canary themselves.
	fb "exec/$kind/nothread" "ok exec shared=1" exec 64 "$kind" OOMSHIELD_THREAD=0
	fb "race/$kind/nothread" "ok race shared=1" race 64 "$kind" OOMSHIELD_THREAD=0
	fb "threads/$kind/nothread" "ok threads shared=1" threads 64 "$kind" OOMSHIELD_THREAD=0
done
# Threads that cannot be held still: a tracer has them (strace -f; ptrace
# refused), or valgrind (which would abort the program at the helper's
# clone).  No switch, no abort, the data right, nothing on stderr.
tracer_case() { # name cmd...
	name=$1; shift
	env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$D" OOMSHIELD_THRESHOLD=64K timeout 300 "$@" \
		> "$T/out" 2> "$T/err" || fail "$name: exit $?: $(head -3 "$T/out") $(tail -3 "$T/err")"
	[ "$(cat "$T/out")" = "ok threads shared=0" ] || fail "$name: stdout '$(cat "$T/out")'"
	[ ! -s "$T/err" ] || fail "$name: stderr: $(head -3 "$T/err")"
	[ -z "$(left)" ] || fail "$name: files left in $D: $(left)"
}
if command -v strace > /dev/null; then
	tracer_case threads/strace strace -f -o /dev/null "$FB" threads 64 mmap
else
	echo "note: strace case skipped: no strace"
fi
if command -v valgrind > /dev/null; then
	# (valgrind itself fails epoll_wait with EINTR: not those blockers)
	tracer_case threads/valgrind env FORKBACK_BLOCKERS=0 valgrind -q --error-exitcode=9 "$FB" threads 16 mmap
else
	echo "note: valgrind case skipped: no valgrind"
fi
rm -f "$T/out" "$T/err" "$T/log" "$T/rc"

# ---- b. under a memory cgroup ---------------------------------------------
# 256 MiB rewritten after the fork under a 64 MiB limit, a quarter.
# prefork: parent and live child each write a sixteenth while both views
# exist (private pages no file can hold: 32 MiB), then the child exits and
# the parent rewrites everything.
# "threads": a second thread rewrites its half without pause through the
# fork, the exec and the switch (held still by ptrace for the switch).
SIZE=256
cg_make $((64 << 20)) || skip "case a passed; cgroup cases: $CG_WHY"
cg_run "$FB" exec "$SIZE" malloc > "$T/out" 2>&1
rc=$?
cg_drop
[ $rc -gt 128 ] || fail "plain exec/malloc under 64 MiB: exit $rc ($(cat "$T/out")), want OOM-killed"
cg_make $((64 << 20)) || skip "cgroup: $CG_WHY"
cg_run "$FB" exec "$SIZE" mmap > "$T/out" 2>&1
rc=$?
cg_drop
[ $rc -gt 128 ] || fail "plain exec/mmap under 64 MiB: exit $rc ($(cat "$T/out")), want OOM-killed"

for kind in malloc mmap; do
	for mode in exec exit loop prefork threads orphan; do
		lim=64
		cg_make $((lim << 20)) || skip "cgroup: $CG_WHY"
		{
			cg_run env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$D" timeout 120 "$FB" "$mode" "$SIZE" "$kind" \
				2> "$T/err"
			echo $? > "$T/rc"
		} | cat > "$T/out"
		rc=$(cat "$T/rc")
		cg_drop
		[ $rc = 0 ] || fail "$mode/$kind under $lim MiB: exit $rc: $(head -3 "$T/out") $(tail -3 "$T/err")"
		[ "$(cat "$T/out")" = "ok $mode shared=1" ] || fail "$mode/$kind under $lim MiB: '$(cat "$T/out")'"
		[ ! -s "$T/err" ] || fail "$mode/$kind under $lim MiB: stderr: $(head -3 "$T/err")"
		[ -z "$(left)" ] || fail "$mode/$kind under $lim MiB: files left in $D: $(left)"
	done
done
rm -f "$T/out" "$T/err" "$T/rc"
if [ "$D" = "$T/mnt" ]; then loop_umount || fail "cannot unmount the ext4 image"; else rmdir "$D"; fi
assert_dir_empty "$T"
exit 0
