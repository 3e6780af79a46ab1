# A protected program checked by valgrind's memcheck reports no error and no
# leak of ours (the DefragTick thread is stopped and reaped at exit), and
# its redirected mmap memory behaves under valgrind as without it.  In a
# fork child the background thread is gone but glibc keeps its stack and
# TLS in its stack cache, reachable only through an interior pointer:
# valgrind calls that "possibly lost", as for any program that forks with
# a second thread, so only definite leaks count.
. tests/lib/common.sh
command -v valgrind >/dev/null || skip "valgrind is not installed"
vgopts="-q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9"
vg() { valgrind $vgopts "$@"; }
if ! vg "$P/maps" zero munmap mremap fork > "$T/plain" 2>&1; then
	grep -q 'Cannot continue' "$T/plain" &&
		skip "valgrind cannot run these binaries here: $(grep -m1 -i 'valgrind: .*[a-z]' "$T/plain")"
	fail "plain run under valgrind: $(tail -5 "$T/plain")"
fi
OOMSHIELD_THRESHOLD=64K run_shim valgrind $vgopts \
	"$P/maps" zero munmap mremap fork > "$T/shim" 2>&1 ||
	fail "protected run under valgrind: rc $?: $(grep -v '^ok' "$T/shim" | head -20)"
grep -q '^ok   fork' "$T/shim" || fail "maps did not run: $(tail -5 "$T/shim")"
rm -f "$T/plain" "$T/shim"
assert_dir_empty "$T"
