# Every malloc-family semantic under the shim (threshold 64K): entry points
# above and below the threshold, realloc crossings, calloc on reused space,
# malloc(0), alignment, errno, fork isolation, fork under thread churn,
# threads, growth, usable size, closed/dup2'ed fds, cfree of old binaries,
# glibc's __libc_malloc family.
# Nothing left behind.
. tests/lib/common.sh
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K run_shim timeout 120 "$P/core" all || fail "core semantics"
assert_dir_empty "$T"
