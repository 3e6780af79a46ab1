# Every malloc-family semantic under the shim (threshold 64K): entry points
# above and below the threshold, realloc crossings, calloc on reused space,
# malloc(0), alignment, errno, fork isolation, fork under thread churn,
# threads, growth, usable size, closed/dup2'ed fds, cfree of old binaries,
# glibc's __libc_malloc family.
# Nothing left behind.
. tests/lib/common.sh
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K run_shim timeout 120 "$P/core" all || fail "core semantics"
assert_dir_empty "$T"
# A program whose own malloc forwards to __libc_malloc: same output, no
# endless recursion through the shim's __libc_* (SIGSEGV before the fix).
"$P/hookwrap" > "$T/plain" || fail "hookwrap: plain run failed"
OOMSHIELD_THRESHOLD=64K run_shim timeout 60 "$P/hookwrap" > "$T/shim" || fail "hookwrap: rc $? under the shim (124: it never ended)"
cmp -s "$T/plain" "$T/shim" || fail "hookwrap: output differs: $(cat "$T/plain") / $(cat "$T/shim")"
rm -f "$T/plain" "$T/shim"
assert_dir_empty "$T"
