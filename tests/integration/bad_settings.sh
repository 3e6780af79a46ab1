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
if [ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
	check OOMSHIELD_DIR=/dev/shm "tmpfs/ramfs"
fi
# a missing dir: blocks fall back to ordinary memory, not file-backed
OOMSHIELD_DIR=/nonexistent EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K LD_PRELOAD="$LIB" \
	"$P/core" entry 2>/dev/null && fail "blocks file-backed with a missing dir"
OOMSHIELD_DIR=/nonexistent OOMSHIELD_THRESHOLD=64K LD_PRELOAD="$LIB" "$P/core" all 2>/dev/null ||
	fail "semantics broken with a missing dir"
exit 0
