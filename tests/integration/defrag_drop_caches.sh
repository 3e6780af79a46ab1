# After OOMSHIELD_DROP_CACHES_AFTER fragmented ticks, 3 goes to drop_caches
# (before the compaction), and the count starts again.
. tests/lib/common.sh
. tests/lib/defrag.sh
need_defrag
mkroot "$FRAG"
OOMSHIELD_DEFRAG_MIN_GAP_MS=50 OOMSHIELD_DROP_CACHES_AFTER=4 protect "$T/a.log" sleep 60
poll 10 '[ "$(content "$R/proc/sys/vm/drop_caches")" = 3 ]' ||
	fail "drop_caches not written; log: $(cat "$T/a.log")"
[ "$(content "$R/proc/sys/vm/compact_memory")" = 1 ] || fail "compact_memory not written"
grep -q "persistent fragmentation" "$T/a.log" || fail "no drop_caches warning"
# The drop happens with a compaction, in that order, and never alone.
awk '/dropping the page cache/ { d = NR } /compacting/ && d && NR == d + 1 { ok = 1 } END { exit !ok }' \
	"$T/a.log" || fail "drop_caches not followed by a compaction: $(cat "$T/a.log")"
cleanup
assert_dir_empty "$D"
exit 0
