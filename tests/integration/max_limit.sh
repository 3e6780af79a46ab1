# OOMSHIELD_MAX caps the bytes kept in files; beyond it, ordinary memory.
. tests/lib/common.sh
err=$(OOMSHIELD_STATS=1 OOMSHIELD_MAX=10M OOMSHIELD_THRESHOLD=1M run_shim "$P/hold" 32 8 </dev/null 2>&1 >/dev/null)
case "$err" in *"blocks=2 "*"max=6"*) ;; *) fail "expected 2 blocks in files and 6 over the max: $err" ;; esac
[ "$(printf '%s\n' "$err" | grep -c 'OOMSHIELD_MAX reached')" -eq 1 ] || fail "max not logged once: $err"
