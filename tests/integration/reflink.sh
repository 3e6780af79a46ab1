# OOMSHIELD_DIR on a filesystem with reflink (XFS): fork clones each backing
# file for the child (FICLONE), so both processes stay file-backed.  The
# whole malloc and mmap semantics suites must hold there too: private
# memory after fork, MADV_WIPEONFORK wiping the child's copy only.  Needs
# root for a loop mount and mkfs.xfs (Debian xfsprogs).
. tests/lib/common.sh
grep -qw xfs /proc/filesystems || modprobe xfs 2>/dev/null || true
grep -qw xfs /proc/filesystems || skip "this kernel has no XFS"
loop_mount xfs 1024 || skip "$LOOP_WHY (xfsprogs)"
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K OOMSHIELD_STATS=1 OOMSHIELD_LOG_FILE="$T/log" \
	OOMSHIELD_DIR="$T/mnt" LD_PRELOAD="$LIB" "$P/core" all || fail "core semantics on XFS"
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K OOMSHIELD_STATS=1 OOMSHIELD_LOG_FILE="$T/log" \
	OOMSHIELD_DIR="$T/mnt" LD_PRELOAD="$LIB" timeout 300 "$P/maps" all || fail "mmap semantics on XFS"
grep -q 'forks_reflink=[1-9]' "$T/log" || fail "no fork took the reflink path: $(grep stats: "$T/log" | tail -2)"
[ -z "$(ls -A "$T/mnt")" ] || fail "files left on XFS: $(ls -A "$T/mnt")"
loop_umount || fail "cannot unmount the XFS image"
rm -f "$T/log"
assert_dir_empty "$T"
exit 0
