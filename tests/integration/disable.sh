# OOMSHIELD_DISABLE=1 passes everything through; the program is unchanged.
. tests/lib/common.sh
OOMSHIELD_DISABLE=1 OOMSHIELD_THRESHOLD=64K run_shim "$P/core" entry realloc calloc fork || fail "disabled shim changed behaviour"
EXPECT_SHIM=1 OOMSHIELD_DISABLE=1 OOMSHIELD_THRESHOLD=64K run_shim "$P/core" entry 2>/dev/null && fail "blocks were file-backed while disabled"
exit 0
