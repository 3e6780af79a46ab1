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

# The real /proc, as a user runs it (no OOMSHIELD_PROC_ROOT): the thread
# reads and parses the kernel's own buddyinfo (or the debugfs index) every
# tick.  A dry run writes nothing, as root or not.
[ -r /proc/buddyinfo ] && [ -n "$(cat /proc/buddyinfo)" ] ||
	skip "real-/proc case: /proc/buddyinfo not readable here"
env -u OOMSHIELD_PROC_ROOT LD_PRELOAD="$LIB" OOMSHIELD_DIR="$D" OOMSHIELD_DEFRAG_DRY_RUN=1 \
	OOMSHIELD_DEFRAG_INTERVAL_MS=20 OOMSHIELD_LOG=debug OOMSHIELD_LOG_FILE="$T/real.log" \
	sleep 60 &
PIDS="$PIDS $!"
poll 10 '[ "$(lines "$T/real.log" "defrag: tick: node ")" -ge 3 ] 2>/dev/null' ||
	fail "no ticks on the real /proc; log: $(cat "$T/real.log")"
grep -q "cannot read\|no readable line" "$T/real.log" && fail "real /proc unreadable: $(cat "$T/real.log")"
cleanup
assert_dir_empty "$D"
exit 0
