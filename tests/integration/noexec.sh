# OOMSHIELD_DIR on a filesystem mounted noexec (a common hardening of
# /var/tmp): mprotect(PROT_EXEC) on redirected memory - a JIT's pattern -
# must still succeed, as on anonymous memory.  Needs root for a loop mount.
. tests/lib/common.sh
[ "$(id -u)" = 0 ] || skip "needs root to loop-mount a noexec filesystem"
command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 missing"
img=$T/fs.img
dd if=/dev/zero of="$img" bs=1M count=0 seek=64 2>/dev/null
mkfs.ext4 -q -F "$img" >/dev/null 2>&1 || skip "mkfs.ext4 failed"
mkdir "$T/mnt"
mount -o loop,noexec "$img" "$T/mnt" 2>/dev/null || skip "loop mount not possible here"
trap 'umount "$T/mnt" 2>/dev/null' EXIT
"$P/maps" exec || fail "exec test fails without the shim"
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K OOMSHIELD_DIR="$T/mnt" LD_PRELOAD="$LIB" "$P/maps" exec ||
	fail "mprotect(PROT_EXEC) on redirected memory in a noexec directory"
[ -z "$(ls -A "$T/mnt" | grep -v lost+found)" ] || fail "files left on the noexec disk"
exit 0
