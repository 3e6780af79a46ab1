# common.sh - sourced by integration tests.  Gives: run_shim (run a command
# under the shim with the test's private backing dir), skip, fail, and the
# memory-cgroup helpers cg_make / cg_run / cg_drop (v1 and v2).
P=$B/tests/progs
# Keep every protected test process away from the real /proc/sys/vm files:
# the DefragTick thread reads (and as root would write) them.  Tests of the
# thread point this at their own fake tree.
export OOMSHIELD_PROC_ROOT="$T/no-proc"
skip() { echo "$*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
run_shim() { env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$T" "$@"; }
# jemalloc_or_skip: sets je to Debian's libjemalloc.so.2, or skips the test.
jemalloc_or_skip() {
	for d in /usr/lib/*-linux-gnu /usr/lib /lib/*-linux-gnu; do
		[ -e "$d/libjemalloc.so.2" ] && je=$d/libjemalloc.so.2 && return 0
	done
	skip "libjemalloc2 is not installed (apt-get install libjemalloc2)"
}

# The directory holding no file of ours: O_TMPFILE files have no name, so
# anything visible here is a leak.
assert_dir_empty() {
	left=$(ls -A "$1")
	[ -z "$left" ] || fail "files left behind in $1: $left"
}

# loop_mount FSTYPE SIZE_MIB [MOUNT_OPTIONS]: a fresh filesystem of ours at
# $T/mnt (from the image $T/fs.img), unmounted when the script exits; or
# return 1 with the reason in LOOP_WHY.
loop_mount() {
	[ "$(id -u)" = 0 ] || { LOOP_WHY="needs root for a loop mount"; return 1; }
	command -v "mkfs.$1" >/dev/null || { LOOP_WHY="mkfs.$1 missing"; return 1; }
	truncate -s "${2}M" "$T/fs.img"
	case $1 in
	xfs) mkfs.xfs -q -m reflink=1 "$T/fs.img" ;;
	*) "mkfs.$1" -q -F "$T/fs.img" ;;
	esac >/dev/null 2>&1 || { LOOP_WHY="mkfs.$1 failed"; return 1; }
	mkdir -p "$T/mnt"
	mount -o "loop${3:+,$3}" "$T/fs.img" "$T/mnt" 2>/dev/null ||
		{ LOOP_WHY="loop mount of $1 not possible here"; return 1; }
	trap 'umount "$T/mnt" 2>/dev/null' EXIT
}
# loop_umount: undo loop_mount (for scripts that check $T is empty after).
loop_umount() { umount "$T/mnt" && trap - EXIT && rm -f "$T/fs.img" && rmdir "$T/mnt"; }

CG=
cg_make() { # LIMIT_BYTES -> sets CG, or returns 1 with CG_WHY
	[ "$(id -u)" = 0 ] || { CG_WHY="needs root for a memory cgroup"; return 1; }
	name=oms-test-$$-$(date +%s%N)
	if [ -w /sys/fs/cgroup/memory ]; then
		CG=/sys/fs/cgroup/memory/$name
		mkdir "$CG" 2>/dev/null || { CG_WHY="cannot mkdir $CG"; return 1; }
		echo "$1" > "$CG/memory.limit_in_bytes" || { rmdir "$CG"; CG_WHY="cannot set v1 limit"; return 1; }
		[ -e "$CG/memory.memsw.limit_in_bytes" ] && echo "$1" > "$CG/memory.memsw.limit_in_bytes" 2>/dev/null
		return 0
	fi
	if [ -e /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
		grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
			echo +memory > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
		CG=/sys/fs/cgroup/$name
		mkdir "$CG" 2>/dev/null || { CG_WHY="cannot mkdir $CG"; return 1; }
		echo "$1" > "$CG/memory.max" || { rmdir "$CG"; CG_WHY="cannot set memory.max"; return 1; }
		echo 0 > "$CG/memory.swap.max" 2>/dev/null
		return 0
	fi
	CG_WHY="no memory cgroup controller (neither v1 /sys/fs/cgroup/memory nor v2 memory.max)"
	return 1
}
# cg_run CMD... : run CMD inside $CG; its exit status is returned.
cg_run() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@"; }
cg_drop() {
	[ -n "$CG" ] || return 0
	# Processes are gone when we get here; rmdir may need a moment for the
	# kernel to release the css, so retry briefly.
	i=0; while ! rmdir "$CG" 2>/dev/null && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
	CG=
}
