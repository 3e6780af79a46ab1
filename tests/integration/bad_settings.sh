# A bad value never stops the program: one line naming the variable, the
# value and what is used instead; output unchanged; memory falls back.
. tests/lib/common.sh
want=$("$P/toucher" malloc 4)
check() { # VAR=VALUE expected-substring
	err=$(env "$1" LD_PRELOAD="$LIB" "$P/toucher" malloc 4 2>&1 >"$T/out") || fail "$1: program failed: $err"
	[ "$(cat "$T/out")" = "$want" ] || fail "$1: output changed"
	case "$err" in *"$2"*) ;; *) fail "$1: expected '$2' in: $err" ;; esac
	[ "$(printf '%s\n' "$err" | grep -c oomshield)" -eq 1 ] || fail "$1: expected one line, got: $err"
}
check OOMSHIELD_THRESHOLD=lots "OOMSHIELD_THRESHOLD=lots: not a size"
check OOMSHIELD_THRESHOLD=1K "below the 64K minimum"
check OOMSHIELD_MAX=-3 "OOMSHIELD_MAX=-3: not a size"
check OOMSHIELD_LOG=loud "OOMSHIELD_LOG=loud"
check OOMSHIELD_DIR=relative/dir "not an absolute path"
check OOMSHIELD_DIR=/nonexistent/oms "OOMSHIELD_DIR=/nonexistent/oms"
check OOMSHIELD_DISABLE=maybe "not a boolean"
check OOMSHIELD_DEFRAG_INTERVAL_MS=soon "OOMSHIELD_DEFRAG_INTERVAL_MS=soon"
check OOMSHIELD_FRAG_INDEX=2.5 "OOMSHIELD_FRAG_INDEX=2.5"
check OOMSHIELD_HUGEPAGE=maybe "OOMSHIELD_HUGEPAGE=maybe: not a boolean"
check OOMSHIELD_THREAD=maybe "OOMSHIELD_THREAD=maybe: not a boolean"
# A value with a newline stays on one line (check counts them), escaped.
check "OOMSHIELD_THRESHOLD=$(printf '2M\nwarn: forged')" 'OOMSHIELD_THRESHOLD=2M\x0awarn: forged: not a size'
# A relative log file would land wherever the program runs: refused, on
# stderr, and nothing created.
mkdir "$T/cwd"
Pabs=$(cd "$P" && pwd)
(cd "$T/cwd" && P=$Pabs check OOMSHIELD_LOG_FILE=rel/shim.log "OOMSHIELD_LOG_FILE=rel/shim.log: not an absolute path; logging to stderr") || exit 1
[ -z "$(ls -A "$T/cwd")" ] || fail "a relative OOMSHIELD_LOG_FILE created: $(ls -A "$T/cwd")"
# An absolute one is created only when there is something to log.
out=$(OOMSHIELD_LOG_FILE="$T/quiet.log" LD_PRELOAD="$LIB" "$P/toucher" malloc 4 2>&1) || fail "quiet run failed"
[ "$out" = "$want" ] || fail "quiet run: output changed"
[ ! -e "$T/quiet.log" ] || fail "OOMSHIELD_LOG_FILE created though nothing was logged: $(cat "$T/quiet.log")"
OOMSHIELD_LOG_FILE="$T/loud.log" OOMSHIELD_MAX=lots LD_PRELOAD="$LIB" "$P/toucher" malloc 4 >/dev/null 2>"$T/loud.err" ||
	fail "loud run failed"
[ "$(grep -c 'OOMSHIELD_MAX=lots' "$T/loud.log")" = 1 ] || fail "the warning did not reach the log file"
[ ! -s "$T/loud.err" ] || fail "stderr used with a log file: $(cat "$T/loud.err")"
if [ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
	check OOMSHIELD_DIR=/dev/shm "tmpfs/ramfs"
fi
# a missing dir: blocks fall back to ordinary memory, not file-backed
OOMSHIELD_DIR=/nonexistent EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K LD_PRELOAD="$LIB" \
	"$P/core" entry 2>/dev/null && fail "blocks file-backed with a missing dir"
OOMSHIELD_DIR=/nonexistent OOMSHIELD_THRESHOLD=64K LD_PRELOAD="$LIB" "$P/core" all 2>/dev/null ||
	fail "semantics broken with a missing dir"
exit 0
