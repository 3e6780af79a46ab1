# A secure-execution process (setuid) ignores every OOMSHIELD_* variable:
# a setuid-root copy of a test program, run by an unprivileged user with the
# library installed the only way the loader accepts in that mode (a system
# directory, setuid bit, no slash in LD_PRELOAD).  OOMSHIELD_DIR points at a
# missing directory: if it were honoured, the blocks would not be in files.
. tests/lib/common.sh
[ "$(id -u)" = 0 ] || skip "needs root to make a setuid binary and a system-directory library"
command -v setpriv >/dev/null || skip "setpriv (util-linux) is missing"
libdir=
for d in /usr/lib/$(basename "$B") /usr/lib64 /lib64 /usr/lib; do
	[ -d "$d" ] && [ -w "$d" ] && libdir=$d && break
done
[ -n "$libdir" ] || skip "no writable system library directory"
name=liboomshield-test-$$.so
mkdir -p "$T/bin" && chmod 755 "$T" "$T/bin"
cp "$P/cxx" "$T/bin/cxx" && chmod 4755 "$T/bin/cxx"
cp "$LIB" "$libdir/$name" && chmod 4755 "$libdir/$name"
trap 'rm -f "$libdir/$name"' EXIT
# The path must be traversable by the unprivileged user.
case "$T" in /var/tmp/*) ;; *) skip "scratch dir not under /var/tmp" ;; esac
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env LD_PRELOAD=$name EXPECT_SHIM=1 \
	OOMSHIELD_DIR=/nonexistent OOMSHIELD_LOG=debug "$T/bin/cxx" 2>"$T/err")
rc=$?
[ $rc -eq 0 ] && [ "$out" = ok ] || fail "setuid run: rc $rc, '$out', $(cat "$T/err")"
grep -q nonexistent "$T/err" && fail "OOMSHIELD_DIR was read in a secure process: $(cat "$T/err")"
# and the same binary without the setuid bit does honour it
chmod 0755 "$T/bin/cxx"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env LD_PRELOAD="$libdir/$name" EXPECT_SHIM=1 \
	OOMSHIELD_DIR=/nonexistent "$T/bin/cxx" 2>"$T/err") && fail "non-secure run ignored OOMSHIELD_DIR"
grep -q nonexistent "$T/err" || fail "no warning about the missing dir: $(cat "$T/err")"
rm -rf "$T/bin" "$T/err"
exit 0
