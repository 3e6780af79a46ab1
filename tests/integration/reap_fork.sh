# A freed large block's file is let go of: by the DefragTick thread in the
# process (shim/reap.c), and at once in a fork child that empties the
# block cache.  The child's fork handler must free what it drops itself:
# handed to a thread the child does not have, it would hold the file - and
# its disk - for the child's whole life.
. tests/lib/common.sh
# 32 MiB is cached (OOMSHIELD_CACHE default 64M): the child drops it.
out=$(run_shim "$P/forkheld" "$T" 32 cached) || fail "cached block: $out"
# 96 MiB is not cached: free() hands it to the thread.
out=$(run_shim "$P/forkheld" "$T" 96) || fail "handed-over block: $out"
assert_dir_empty "$T"
exit 0
