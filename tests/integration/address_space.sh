# A 32-bit program under the shim can still allocate (nearly) all the
# address space it gets without it: the shim reserves no large ranges.
# Meaningful for 32-bit builds (make check ARCH=i386, the ARM suites).
. tests/lib/common.sh
read -r bits plain <<EOT
$("$P/aspace")
EOT
[ "$bits" = 32 ] || skip "a 64-bit build: address space is not scarce (run make check ARCH=i386)"
read -r bits shim <<EOT
$(run_shim "$P/aspace" 2>"$T/err")
EOT
[ -n "$shim" ] || fail "aspace failed under the shim: $(cat "$T/err")"
echo "address space: plain $plain MiB, under the shim $shim MiB"
[ "$shim" -ge $((plain * 9 / 10)) ] || fail "the shim took address space: $shim MiB of $plain MiB"
rm -f "$T/err"
assert_dir_empty "$T"
exit 0
