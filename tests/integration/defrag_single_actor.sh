# Several protected processes on one machine (one fake root): one of them
# compacts per OOMSHIELD_DEFRAG_MIN_GAP_MS, the others count it as done.
# With a one-hour gap each process decides exactly once, so the outcome is
# exact: one "compacting" line in total, N-1 "another process" lines.
. tests/lib/common.sh
. tests/lib/defrag.sh
need_defrag
mkroot "$FRAG"
N=4
for i in $(seq $N); do
	OOMSHIELD_DEFRAG_MIN_GAP_MS=3600000 LOGLEVEL=debug protect "$T/p$i.log" sleep 60
done
decided() {
	k=0
	for i in $(seq $N); do
		grep -qE "; compacting$|another process compacted" "$T/p$i.log" 2>/dev/null && k=$((k + 1))
	done
	[ $k -eq $N ]
}
poll 10 decided || fail "not every process decided; logs: $(cat "$T"/p*.log | grep -v tick: | tail -20)"
cleanup
acted=$(cat "$T"/p*.log | grep -c "; compacting$")
yielded=$(cat "$T"/p*.log | grep -c "another process compacted")
[ "$acted" -eq 1 ] || fail "$acted processes compacted, expected 1"
[ "$yielded" -eq $((N - 1)) ] || fail "$yielded processes yielded, expected $((N - 1))"
[ "$(content "$R/proc/sys/vm/compact_memory")" = 1 ] || fail "compact_memory not written"
assert_dir_empty "$D"
exit 0
