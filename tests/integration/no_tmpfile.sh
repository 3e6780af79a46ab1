# A directory whose filesystem refuses O_TMPFILE (EOPNOTSUPP, simulated with
# a seccomp filter): the shim falls back to mkstemp + an immediate unlink.
# Blocks are still file-backed, data intact, and no name is left behind.
. tests/lib/common.sh
"$P/notmpfile" true || skip "seccomp filters are not available here"
mkdir "$T/d"
want=$("$P/toucher" malloc 16)
got=$(OOMSHIELD_STATS=1 OOMSHIELD_LOG_FILE="$T/log" "$P/notmpfile" env LD_PRELOAD="$LIB" \
	OOMSHIELD_DIR="$T/d" "$P/toucher" malloc 16 2>"$T/err") ||
	fail "program failed without O_TMPFILE: $(cat "$T/err" "$T/log")"
[ "$got" = "$want" ] || fail "output changed without O_TMPFILE"
grep -q 'stats: blocks=1 .*fallbacks=nospc=0,fbig=0,max=0,mfile=0,nodir=0,map=0,other=0' "$T/log" ||
	fail "the block was not file-backed: $(cat "$T/log")"
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K "$P/notmpfile" env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$T/d" \
	"$P/core" entry realloc calloc fork || fail "core semantics without O_TMPFILE"
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K "$P/notmpfile" env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$T/d" \
	"$P/maps" zero munmap fork || fail "mmap semantics without O_TMPFILE"
[ -z "$(ls -A "$T/d")" ] || fail "named files left behind: $(ls -A "$T/d")"
rm -f "$T/err" "$T/log"
rmdir "$T/d"
assert_dir_empty "$T"
exit 0
