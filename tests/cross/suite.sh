#!/bin/sh
# suite.sh [smoke|full] - the tests of one foreign target, run through
# qemu-run.sh (natively for i386).  The integration scripts in
# tests/integration run host programs (sh, env, sort, python3, sleep) under
# the shim, so they cannot run for ARM as they are; this runs their test
# programs the same way they do, one check per line:
#   smoke: toucher, cxx and a pthread_exit from main under the shim, core's
#          entry/realloc/calloc subset
#   full:  + Check unit tests, every core semantic, stats, OOMSHIELD_MAX,
#          SIGKILL leaves no file, the cgroup headline under qemu (256 MiB,
#          1024 MiB touched) and the simulated seed box.
# Env: B, LIB, TRIPLET (lib.sh).  Last line: "cross: N passed, N failed, N skipped".
. "$(dirname "$0")/lib.sh"
mode=${1:-full}
pass=0 failn=0 skipn=0
trap 'rm -rf "$T"' EXIT
ok() { pass=$((pass + 1)); echo "ok   $TRIPLET $1"; }
bad() { failn=$((failn + 1)); echo "FAIL $TRIPLET $1"; [ -s "$T/log" ] && tail -n 15 "$T/log" | sed 's/^/    /'; }
skp() { skipn=$((skipn + 1)); echo "skip $TRIPLET $1: $2"; }
t() { # NAME CMD... : one check; output in $T/log
	name=$1; shift
	if "$@" > "$T/log" 2>&1; then ok "$name"; else bad "$name (exit $?)"; fi
}
clean_dir() { [ -z "$(ls -A "$T/d")" ] || { echo "files left: $(ls -A "$T/d")"; return 1; }; }
mkdir -p "$T/d"
P=$B/tests/progs

# Each check is a function run by t; tgt/tgt_shim come from lib.sh.
toucher_shim() {
	[ "$(OOMSHIELD_STATS=1 tgt_shim "$P/toucher" malloc 64 2>"$T/err")" = "$want" ] &&
		grep -q "stats: blocks=1 " "$T/err" || { cat "$T/err"; return 1; }
}
cxx() { out=$(EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=1M tgt_shim "$P/cxx") && [ "$out" = ok ] || { echo "$out"; return 1; }; }
core() { OOMSHIELD_DIR="$T/d" EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K tgt_shim "$P/core" "$@"; }
core_nodefrag() { OOMSHIELD_THREAD=0 core "$@"; }
# main() ends with pthread_exit while a worker runs: the process ends when
# the worker does, never before.  Under qemu-user the DefragTick thread
# must not open the faked /proc/self/stat then (qemu aborted: exit 127).
pexit() {
	timeout 30 env OOMSHIELD_DEFRAG_DRY_RUN=1 GUEST_LD_PRELOAD="$LIB" OOMSHIELD_DIR="$T/d" \
		sh "$RUNNER" "$TRIPLET" "$P/defrag_prog" pthread_exit_worker > "$T/out" || {
		echo "exit $?"; cat "$T/out"; return 1; }
	[ "$(cat "$T/out")" = "$(printf 'ready\nworker done')" ] || { cat "$T/out"; return 1; }
}
max_limit() {
	err=$(OOMSHIELD_STATS=1 OOMSHIELD_MAX=10M OOMSHIELD_THRESHOLD=1M tgt_shim "$P/hold" 32 8 </dev/null 2>&1 >/dev/null)
	case "$err" in *"blocks=2 "*"max=6"*) ;; *) echo "$err"; return 1 ;; esac
}

want=$(tgt "$P/toucher" malloc 64) || { echo "toucher does not run plain for $TRIPLET: $want"; exit 1; }
t toucher-shim toucher_shim
t cxx cxx
t pthread-exit pexit
if [ "$mode" = smoke ]; then
	t core-smoke core entry realloc calloc zero align
else
	# Check unit tests (CK_FORK as Check's default: each test in a child).
	for u in "$B"/tests/unit/test_*; do
		[ -x "$u" ] || { skp unit "no unit tests built (Check for $TRIPLET missing?)"; break; }
		t "unit/$(basename "$u")" tgt "$u"
		# Cases (or parts) a unit test skipped under qemu, with the reason
		# it printed: "skip CASE: WHY".
		grep '^skip [^:]*: ' "$T/log" > "$T/skips"
		while IFS= read -r l; do
			l=${l#skip }
			skp "unit/$(basename "$u")/${l%%: *}" "${l#*: }"
		done < "$T/skips"
	done
	for s in entry realloc calloc zero align errno threads growth usable fds; do
		t "core/$s" core "$s"
	done
	# qemu-user 7.2 aborts ("cpu == current_cpu", "qemu_plugin_vcpu_init_hook")
	# when a guest forks while another guest thread exists: DefragTick is one.
	# Native targets run fork with the thread; under qemu without it.
	case $TRIPLET in
	x86_64-*|i?86-*) t core/fork core fork forkthreads ;;
	*) t "core/fork (OOMSHIELD_THREAD=0: qemu-user fork+thread bug)" core_nodefrag fork forkthreads ;;
	esac
	t max-limit max_limit
	t no-files-left clean_dir
	t headline-256M sh "$HERE/cgroup-claim.sh" 256 "ok 1024 MiB" "$P/toucher" malloc 1024
	t seedbox sh "$HERE/seedbox.sh"
	[ -x "$B/tests/cross/churn" ] &&
		t churn-2G-256M sh "$HERE/cgroup-claim.sh" 256 "ok churn" "$B/tests/cross/churn" 2048
fi
t no-files-left-end clean_dir
echo "cross: $pass passed, $failn failed, $skipn skipped"
[ $failn -eq 0 ]
