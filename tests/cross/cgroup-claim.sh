#!/bin/sh
# cgroup-claim.sh LIMIT_MIB EXPECT PROG ARGS... - the headline claim for a
# target: PROG (a target program, run natively or under qemu-user) is
# OOM-killed in a memory cgroup of LIMIT_MIB without the shim, and under
# the shim completes and prints a line starting with EXPECT.
# Under qemu-user the emulator and its guest are one process, so the
# cgroup limits the emulated program (and qemu's own few MiB).
# Env: B, LIB, TRIPLET (see lib.sh); CLAIM_DIR backing dir (default: $T).
# Exit: 0 shown, 77 cannot run here (reason printed), 1 the claim failed.
. "$(dirname "$0")/lib.sh"
limit=$1 expect=$2; shift 2
[ -x "$1" ] || skip "$1 not built"
cg_make $((limit << 20)) || skip "cgroup claim skipped: $CG_WHY"
trap 'cg_drop; rm -rf "$T"' EXIT INT TERM
dir=${CLAIM_DIR:-$T/dir}
mkdir -p "$dir"
prog=$(basename "$1")
echo "== $TRIPLET: $prog $(echo "$@" | cut -d" " -f2-) in a memory cgroup of $limit MiB, no swap"
t0=$(ms)
out=$(cg_run sh "$RUNNER" "$TRIPLET" "$@" 2>&1)
rc=$?
echo "-- plain:     exit $rc after $(( $(ms) - t0 )) ms ${out:+($(printf '%s' "$out" | tail -n 1))}"
if [ $rc -le 128 ]; then
	echo "   NOT killed: the cgroup does not limit it here; nothing to show"
	exit 1
fi
t0=$(ms)
out=$(cg_run env GUEST_LD_PRELOAD="$LIB" OOMSHIELD_DIR="$dir" OOMSHIELD_STATS=1 \
	sh "$RUNNER" "$TRIPLET" "$@" 2>"$T/err")
rc=$?
echo "-- protected: exit $rc after $(( $(ms) - t0 )) ms: $out"
grep 'stats:' "$T/err" | sed 's/^/   /'
case "$out" in "$expect"*) ;; *) echo "   the protected run did not complete"; tail -5 "$T/err"; exit 1 ;; esac
[ $rc -eq 0 ] || exit 1
[ -z "$(ls -A "$dir" 2>/dev/null)" ] || { echo "   files left in $dir"; exit 1; }
echo "== survived with verified data"
