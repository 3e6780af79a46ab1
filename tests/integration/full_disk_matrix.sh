# The full-disk matrix (issue 20): "a full disk is a fallback now, never a
# SIGBUS later" on every path that gives disk back or shares extents.
# tests/progs/diskfill runs each scenario: it goes through the path
# (DONTNEED, FREE, the block cache, partial munmap then regrowth, fork,
# growth, ...), fills the small disk itself at the critical moment, then
# writes every page it holds.  Each scenario runs plainly and under the shim
# with OOMSHIELD_DIR on the small disk, on ext4 and on XFS (reflink: fork
# clones the backing files there).  The shim run must exit 0 with the same
# stdout; a SIGBUS is reported as such.
# Needs root (loop mounts); XFS needs mkfs.xfs (xfsprogs), else it is
# skipped with the reason printed.
# Narrow it down to reproduce: DISKMATRIX_FS="xfs" DISKMATRIX_ONLY="fork-mmap cache"
# (scenario names: $B/tests/progs/diskfill -l).
. tests/lib/common.sh
[ "$(id -u)" = 0 ] || skip "needs root for loop mounts of ext4 and XFS images"
ulimit -c 0
D=$P/diskfill
MNT=$T/mnt
# About 100 MiB free on each: room for the 64 MiB fork cases, and few
# 1 MiB blocks to fill it with (page faults are what this test spends its
# time on).  ext4 keeps 5% for root, which the program (root) may write
# into: at 128 MiB that is 6.4 MiB, less than any hole a scenario
# rewrites.  XFS makes no filesystem below 300 MiB: a ballast file takes
# the rest.
SIZE_ext4=128 BALLAST_ext4=0
SIZE_xfs=320 BALLAST_xfs=140
# Every scenario with a file filling the disk; the paths of the issue's
# reproducer also with the shim filling it through 1 MiB mallocs.
MALLOC_FILLED="dontneed mmap-dontneed cache-calloc fork-mmap"

# Why the shim run differs, or "ok".  $1 exit status, $2 stdout, $3 stderr,
# $4 the plain run's stdout (empty for the plain run itself).
verdict() {
	case $1 in
	0) v=ok ;;
	135) v=SIGBUS ;;
	*) if [ "$1" -gt 128 ]; then v="signal $(($1 - 128))"; else v="exit $1"; fi ;;
	esac
	grep -q "child: FAILED: killed by SIGBUS" "$2" && v="$v, child SIGBUS"
	if [ "$v" = ok ] && [ -n "$4" ]; then
		cmp -s "$2" "$4" || v="output differs"
	fi
	if [ "$v" = ok ] && [ -n "$4" ] && ! grep -q "^note: [^:]*: backed" "$3"; then
		v="not in a file (the case proves nothing)"
	fi
	echo "$v"
}

# run_case FS FILL SCENARIO: one row of the table; returns 1 if either run
# is not ok.
run_case() {
	"$D" "$MNT" "$2" "$3" >"$T/plain.out" 2>"$T/plain.err"
	prc=$?
	rm -f "$MNT"/diskfill.*
	sync -f "$MNT" # XFS frees deleted inodes' blocks in the background
	env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$MNT" "$D" "$MNT" "$2" "$3" \
		>"$T/shim.out" 2>"$T/shim.err"
	src=$?
	rm -f "$MNT"/diskfill.*
	sync -f "$MNT"
	pv=$(verdict $prc "$T/plain.out" "$T/plain.err" "")
	sv=$(verdict $src "$T/shim.out" "$T/shim.err" "$T/plain.out")
	left=$(ls -A "$MNT" | grep -v '^lost+found$' | grep -v '^ballast$')
	[ -z "$left" ] || sv="$sv, files left: $left"
	row=$(printf '%-5s %-6s %-20s %-8s %s' "$1" "$2" "$3" "$pv" "$sv")
	echo "$row"
	[ "$pv" = ok ] && [ "$sv" = ok ] && return 0
	{
		echo "$row"
		[ "$pv" = ok ] || { echo "  plain stdout:"; sed 's/^/    /' "$T/plain.out"; sed 's/^/    /' "$T/plain.err"; }
		echo "  shim: last step: $(grep '^note:' "$T/shim.err" | tail -n 1)"
		diff "$T/plain.out" "$T/shim.out" | grep '^[<>]' | head -n 6 | sed 's/^/    /'
		grep -v '^note:' "$T/shim.err" | head -n 4 | sed 's/^/    /'
	} >>"$T/details"
	return 1
}

bad=0 ran=0
: >"$T/details"
printf '%-5s %-6s %-20s %-8s %s\n' fs fill scenario plain shim
for fs in ${DISKMATRIX_FS:-ext4 xfs}; do
	if [ "$fs" = xfs ]; then
		grep -qw xfs /proc/filesystems || modprobe xfs 2>/dev/null || true
		grep -qw xfs /proc/filesystems || { echo "xfs: skipped: this kernel has no XFS"; continue; }
	fi
	eval size=\$SIZE_$fs ballast=\$BALLAST_$fs
	loop_mount "$fs" "$size" || { echo "$fs: skipped: $LOOP_WHY"; continue; }
	trap 'umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null' EXIT
	[ "$ballast" = 0 ] || fallocate -l "${ballast}M" "$MNT/ballast" || fail "no ballast on $fs"
	for s in ${DISKMATRIX_ONLY:-$("$D" -l)}; do
		for fill in file malloc; do
			[ "$fill" = file ] || case " $MALLOC_FILLED " in *" $s "*) ;; *) continue ;; esac
			run_case "$fs" "$fill" "$s" || bad=$((bad + 1))
			ran=$((ran + 1))
		done
	done
	rm -f "$MNT/ballast"
	loop_umount || fail "cannot unmount the $fs image"
done
[ $ran -gt 0 ] || skip "no filesystem could be mounted (see above)"
if [ $bad -gt 0 ]; then
	cat "$T/details"
	fail "$bad of $ran cases broke (table above)"
fi
rm -f "$T/plain.out" "$T/plain.err" "$T/shim.out" "$T/shim.err" "$T/details"
assert_dir_empty "$T"
