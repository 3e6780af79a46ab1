# The shim never writes to the program's stdout, whatever it logs.
. tests/lib/common.sh
out=$(OOMSHIELD_LOG=debug OOMSHIELD_STATS=1 OOMSHIELD_THRESHOLD=garbage run_shim echo hi 2>/dev/null)
[ "$out" = hi ] || fail "stdout was '$out'"
out=$(OOMSHIELD_LOG=debug OOMSHIELD_STATS=1 run_shim "$P/toucher" malloc 8 2>/dev/null)
[ "$out" = "$("$P/toucher" malloc 8)" ] || fail "toucher stdout '$out'"
# and the stats line does arrive, on stderr
err=$(OOMSHIELD_STATS=1 run_shim "$P/toucher" malloc 8 2>&1 >/dev/null)
case "$err" in *"stats: blocks=1 "*) ;; *) fail "no stats line on stderr: $err" ;; esac
# Nor into a file the program opened on fd 2 after closing its stderr: a
# fallback warning (past OOMSHIELD_MAX) and the stats line stay unwritten.
mkdir "$T/d"
OOMSHIELD_LOG=debug OOMSHIELD_STATS=1 OOMSHIELD_MAX=5M env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$T/d" \
	"$P/closeerr" "$T/data" || fail "closeerr failed"
[ "$(cat "$T/data")" = data ] || fail "the shim wrote into the program's file on fd 2: $(cat "$T/data")"
rm -f "$T/data"
rmdir "$T/d"
assert_dir_empty "$T"
