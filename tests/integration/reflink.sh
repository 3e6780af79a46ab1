# OOMSHIELD_DIR on a filesystem with reflink (XFS): fork clones each backing
# file for the child (FICLONE), so both processes stay file-backed.  The
# whole malloc and mmap semantics suites must hold there too: private
# memory after fork, MADV_WIPEONFORK wiping the child's copy only.  Needs
# root for a loop mount and mkfs.xfs (Debian xfsprogs).
. tests/lib/common.sh
[ "$(id -u)" = 0 ] || skip "needs root to loop-mount an XFS image"
command -v mkfs.xfs >/dev/null || skip "mkfs.xfs missing (apt-get install xfsprogs)"
grep -qw xfs /proc/filesystems || modprobe xfs 2>/dev/null || true
grep -qw xfs /proc/filesystems || skip "this kernel has no XFS"
img=$T/fs.img
truncate -s 1G "$img"
mkfs.xfs -q -m reflink=1 "$img" >/dev/null 2>&1 || skip "mkfs.xfs failed"
mkdir "$T/mnt"
mount -o loop "$img" "$T/mnt" 2>/dev/null || skip "loop mount not possible here"
trap 'umount "$T/mnt" 2>/dev/null' EXIT
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K OOMSHIELD_STATS=1 OOMSHIELD_LOG_FILE="$T/log" \
	OOMSHIELD_DIR="$T/mnt" LD_PRELOAD="$LIB" "$P/core" all || fail "core semantics on XFS"
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K OOMSHIELD_STATS=1 OOMSHIELD_LOG_FILE="$T/log" \
	OOMSHIELD_DIR="$T/mnt" LD_PRELOAD="$LIB" timeout 300 "$P/maps" all || fail "mmap semantics on XFS"
grep -q 'forks_reflink=[1-9]' "$T/log" || fail "no fork took the reflink path: $(grep stats: "$T/log" | tail -2)"
[ -z "$(ls -A "$T/mnt")" ] || fail "files left on XFS: $(ls -A "$T/mnt")"
umount "$T/mnt"
trap - EXIT
rm -f "$img" "$T/log"
rmdir "$T/mnt"
assert_dir_empty "$T"
exit 0
