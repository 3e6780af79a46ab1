# OOMSHIELD_DIR on a filesystem mounted noexec (a common hardening of
# /var/tmp): mprotect(PROT_EXEC) on redirected memory - a JIT's pattern -
# must still succeed, as on anonymous memory.  Needs root for a loop mount.
. tests/lib/common.sh
loop_mount ext4 64 noexec || skip "$LOOP_WHY"
"$P/maps" exec || fail "exec test fails without the shim"
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K OOMSHIELD_DIR="$T/mnt" LD_PRELOAD="$LIB" "$P/maps" exec ||
	fail "mprotect(PROT_EXEC) on redirected memory in a noexec directory"
[ -z "$(ls -A "$T/mnt" | grep -v lost+found)" ] || fail "files left on the noexec disk"
exit 0
