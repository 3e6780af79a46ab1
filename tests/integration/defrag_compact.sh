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

# Without a log file the warnings go to stderr, never to the program's
# stdout; the exit stats line counts the compaction and the lowest level.
rm -rf "$R"
mkroot "$FRAG"
mkfifo "$T/hold.in"
env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$D" OOMSHIELD_PROC_ROOT="$R" OOMSHIELD_DEFRAG_INTERVAL_MS=20 \
	OOMSHIELD_STATS=1 "$B/tests/progs/hold" 1 < "$T/hold.in" > "$T/c.out" 2> "$T/c.err" &
pid=$!
PIDS="$PIDS $pid"
exec 8> "$T/hold.in"
poll 10 '[ "$(content "$R/proc/sys/vm/compact_memory")" = 1 ]' ||
	fail "no compaction with the log on stderr: $(cat "$T/c.err")"
exec 8>&-
wait $pid || fail "hold failed: $(cat "$T/c.err")"
[ "$(cat "$T/c.out")" = "ready $pid" ] || fail "the shim wrote to the program's stdout: $(cat "$T/c.out")"
grep -q 'memory fragmented' "$T/c.err" || fail "no warning on stderr: $(cat "$T/c.err")"
grep -q 'compactions=1 .*min_level=2' "$T/c.err" || fail "stats line: $(cat "$T/c.err")"
assert_dir_empty "$D"
exit 0
