# OOMSHIELD_DEFRAG_DRY_RUN=1: says what it would do, writes nothing.
. tests/lib/common.sh
. tests/lib/defrag.sh
need_defrag
mkroot "$FRAG"
OOMSHIELD_DEFRAG_DRY_RUN=1 OOMSHIELD_DEFRAG_MIN_GAP_MS=20 OOMSHIELD_DROP_CACHES_AFTER=2 \
	protect "$T/a.log" sleep 60
poll 10 '[ "$(lines "$T/a.log" "would drop caches")" -ge 2 ]' ||
	fail "no dry-run lines; log: $(cat "$T/a.log")"
cleanup
assert_empty "$R/proc/sys/vm/compact_memory" "$R/proc/sys/vm/drop_caches"
[ -e "$R/run/oomshield-defrag.lock" ] && fail "dry run created the lock file"
assert_dir_empty "$D"
exit 0
