# A freed large block's file is let go of at once, in the process and in a
# fork child that empties the block cache: otherwise the child would hold
# the file - and its disk - for its whole life.
. tests/lib/common.sh
# 32 MiB is cached (OOMSHIELD_CACHE default 64M): the child drops it.
out=$(run_shim "$P/forkheld" "$T" 32 cached) || fail "cached block: $out"
# 96 MiB is not cached: free() frees it.
out=$(run_shim "$P/forkheld" "$T" 96) || fail "freed block: $out"
assert_dir_empty "$T"
exit 0
