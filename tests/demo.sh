#!/bin/sh
# demo.sh - the headline: a program that touches 4x its memory-cgroup limit
# is OOM-killed without the shim and completes with verified data under it.
# Used by `make demo` and by the integration test headline_cgroup.sh.
# Env: B (build dir), LIB (liboomshield.so), T (scratch dir, optional),
#      DEMO_LIMIT_MIB (256), DEMO_MODE (malloc | mmap), DEMO_DIR (/var/tmp).
# Exit: 0 shown, 77 cannot run here (reason printed), 1 the claim failed.
B=${B:-build/$(gcc -print-multiarch)}
LIB=${LIB:-$PWD/$B/liboomshield.so}
if [ -z "${T:-}" ]; then
	T=$(mktemp -d /var/tmp/oms-demo.XXXXXX)
	own_t=$T
fi
. "$(dirname "$0")/lib/common.sh"
limit=${DEMO_LIMIT_MIB:-256}
mode=${DEMO_MODE:-malloc}
size=$((limit * 4))
dir=${DEMO_DIR:-$T}
trap 'cg_drop; [ -n "${own_t:-}" ] && rm -rf "$own_t"' EXIT
trap 'exit 130' INT TERM
cg_make $((limit << 20)) || skip "headline demo skipped: $CG_WHY"

echo "== a program that touches $size MiB ($mode) in a memory cgroup limited to $limit MiB"
echo "-- without oomshield:"
cg_run "$P/toucher" "$mode" "$size"
rc=$?
if [ $rc -eq 137 ] || [ $rc -gt 128 ]; then
	echo "   killed (exit $rc): the OOM killer took it, as expected"
else
	echo "   exit $rc: it was NOT killed - the cgroup does not limit it; cannot show anything"
	exit 1
fi
echo "-- with oomshield (backing files in $dir):"
start=$(date +%s%N)
out=$(cg_run env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$dir" OOMSHIELD_STATS=1 "$P/toucher" "$mode" "$size")
rc=$?
end=$(date +%s%N)
echo "   exit $rc: $out ($(( (end - start) / 1000000 )) ms)"
case "$out" in "ok $size MiB sum "*) ;; *) echo "   the protected run did not complete"; exit 1 ;; esac
[ $rc -eq 0 ] || exit 1
echo "== survived with verified data"
