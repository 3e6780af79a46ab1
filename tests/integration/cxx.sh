# C++ operator new/delete reach the shim through libstdc++.
. tests/lib/common.sh
out=$(EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=1M run_shim "$P/cxx") || fail "cxx: $out"
[ "$out" = ok ] || fail "cxx printed '$out'"
