# A healthy buddyinfo (every order has a free block): many ticks, no write.
# OOMSHIELD_DROP_CACHES_AFTER=1 and no gap would act on the first bad tick.
. tests/lib/common.sh
. tests/lib/defrag.sh
need_defrag
mkroot "$IDLE"
OOMSHIELD_DEFRAG_MIN_GAP_MS=0 OOMSHIELD_DROP_CACHES_AFTER=1 LOGLEVEL=debug protect "$T/a.log" sleep 60
poll 10 '[ "$(lines "$T/a.log" "defrag: tick:")" -ge 25 ]' ||
	fail "the thread did not tick 25 times; log: $(tail -5 "$T/a.log")"
cleanup
assert_empty "$R/proc/sys/vm/compact_memory" "$R/proc/sys/vm/drop_caches"
grep -q "(fragmented)" "$T/a.log" && fail "healthy zone seen as fragmented"
grep -q "watching node 0 zone DMA32" "$T/a.log" || fail "auto did not pick the largest zone"
[ -e "$R/run/oomshield-defrag.lock" ] && fail "lock file created without any action"
assert_dir_empty "$D"
exit 0
