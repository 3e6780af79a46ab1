# A protected program checked by valgrind's memcheck reports no error and no
# leak of ours (the DefragTick thread is stopped and reaped at exit), and
# its redirected mmap memory behaves under valgrind as without it.
. tests/lib/common.sh
command -v valgrind >/dev/null || skip "valgrind is not installed"
vg() { valgrind -q --leak-check=full --error-exitcode=9 "$@"; }
if ! vg "$P/maps" zero munmap mremap fork > "$T/plain" 2>&1; then
	grep -q 'Cannot continue' "$T/plain" &&
		skip "valgrind cannot run these binaries here: $(grep -m1 -i 'valgrind: .*[a-z]' "$T/plain")"
	fail "plain run under valgrind: $(tail -5 "$T/plain")"
fi
OOMSHIELD_THRESHOLD=64K run_shim valgrind -q --leak-check=full --error-exitcode=9 \
	"$P/maps" zero munmap mremap fork > "$T/shim" 2>&1 ||
	fail "protected run under valgrind: rc $?: $(grep -v '^ok' "$T/shim" | head -20)"
grep -q '^ok   fork' "$T/shim" || fail "maps did not run: $(tail -5 "$T/shim")"
rm -f "$T/plain" "$T/shim"
assert_dir_empty "$T"
