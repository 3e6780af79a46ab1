# A program that drops privileges the way setpriv does (capabilities kept
# across setresuid and raised again in one thread, then setresgid) must not
# be aborted by glibc because of the DefragTick thread (nor be cancelled in
# setuid, nor lose the thread to a vfork child's setgid), and the thread runs
# again afterwards.  Then setpriv itself.
. tests/lib/common.sh
[ "$(id -u)" = 0 ] || skip "needs root to change user and group ids"
out=$("$P/setxid") || fail "plain run failed: $out"
out=$(EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K run_shim "$P/setxid" 2>"$T/err") ||
	fail "protected run: rc $?, '$out', $(cat "$T/err")"
[ "$out" = ok ] || fail "protected run printed '$out'"
command -v setpriv >/dev/null || skip "the test program passed; setpriv (util-linux) is missing"
run_shim setpriv --reuid=65534 --regid=65534 --clear-groups /bin/true 2>"$T/err" ||
	fail "setpriv under the shim: rc $?, $(cat "$T/err")"
run_shim setpriv --reuid=65534 --init-groups /bin/true 2>"$T/err" ||
	fail "setpriv --init-groups under the shim: rc $?, $(cat "$T/err")"
rm -f "$T/err"
assert_dir_empty "$T"
