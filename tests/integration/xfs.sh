# OOMSHIELD_DIR on XFS (with reflink, where fork used to clone each backing
# file; that left later writes needing unreserved disk, a SIGBUS on a full
# disk, so fork freezes copy-on-write here too).  The whole malloc and mmap
# semantics suites must hold there: private memory after fork,
# MADV_WIPEONFORK wiping the child's copy only, DONTNEED reading zero.
# Needs root for a loop mount and mkfs.xfs (Debian xfsprogs).
. tests/lib/common.sh
grep -qw xfs /proc/filesystems || modprobe xfs 2>/dev/null || true
grep -qw xfs /proc/filesystems || skip "this kernel has no XFS"
loop_mount xfs 1024 || skip "$LOOP_WHY (xfsprogs)"
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K OOMSHIELD_STATS=1 OOMSHIELD_LOG_FILE="$T/log" \
	OOMSHIELD_DIR="$T/mnt" LD_PRELOAD="$LIB" "$P/core" all || fail "core semantics on XFS"
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K OOMSHIELD_STATS=1 OOMSHIELD_LOG_FILE="$T/log" \
	OOMSHIELD_DIR="$T/mnt" LD_PRELOAD="$LIB" timeout 300 "$P/maps" all || fail "mmap semantics on XFS"
grep -q 'forks_cow=[1-9]' "$T/log" || fail "no fork froze the memory: $(grep stats: "$T/log" | tail -2)"
[ -z "$(ls -A "$T/mnt")" ] || fail "files left on XFS: $(ls -A "$T/mnt")"
loop_umount || fail "cannot unmount the XFS image"
rm -f "$T/log"
assert_dir_empty "$T"
exit 0
