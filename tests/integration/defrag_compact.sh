# A fragmented zone: the protected program's thread writes 1 to the fake
# compact_memory; with a per-node compact file it writes that one instead.
. tests/lib/common.sh
. tests/lib/defrag.sh
need_defrag
mkroot "$FRAG"
protect "$T/a.log" sleep 60
poll 10 '[ "$(content "$R/proc/sys/vm/compact_memory")" = 1 ]' ||
	fail "no compaction requested; log: $(cat "$T/a.log")"
grep -q "memory fragmented (node 0 zone Normal safety level 2 < 9" "$T/a.log" || fail "no warning logged"
[ -s "$R/run/oomshield-defrag.lock" ] || fail "no lock file under the fake /run"
cleanup
assert_dir_empty "$D"

# NUMA: node0/compact exists, so compact_memory is left alone.
rm -rf "$R"
mkroot "$FRAG"
mkdir -p "$R/sys/devices/system/node/node0"
: > "$R/sys/devices/system/node/node0/compact"
protect "$T/b.log" sleep 60
poll 10 '[ "$(content "$R/sys/devices/system/node/node0/compact")" = 1 ]' ||
	fail "node0/compact not written; log: $(cat "$T/b.log")"
cleanup
assert_empty "$R/proc/sys/vm/compact_memory" "$R/proc/sys/vm/drop_caches"
assert_dir_empty "$D"
exit 0
