# Composition with another preloaded allocator: small blocks go to jemalloc,
# large ones to us, and free/realloc/malloc_usable_size reach the owner.
. tests/lib/common.sh
jemalloc_or_skip
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K OOMSHIELD_DIR="$T" LD_PRELOAD="$LIB $je" \
	timeout 120 "$P/core" all || fail "core under shim+jemalloc"
# small blocks really are jemalloc's: its stats hook answers
out=$(MALLOC_CONF=stats_print:true LD_PRELOAD="$LIB $je" OOMSHIELD_DIR="$T" "$P/toucher" malloc 4 2>&1)
case "$out" in *"jemalloc statistics"*) ;; *) fail "jemalloc not in use" ;; esac
# Debian's jemalloc defines operator new/delete itself, so C++ new goes to
# it directly; the data must still be right (no EXPECT_SHIM here).
out=$(OOMSHIELD_DIR="$T" LD_PRELOAD="$LIB $je" "$P/cxx") || fail "cxx under shim+jemalloc: $out"
assert_dir_empty "$T"
