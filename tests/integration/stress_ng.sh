# stress-ng's mmap, mremap, madvise and fork stressors with --verify, under
# the shim with a 64K threshold, for a bounded time.
. tests/lib/common.sh
command -v stress-ng >/dev/null || skip "stress-ng is not installed (apt-get install stress-ng)"
OOMSHIELD_THRESHOLD=64K run_shim timeout 120 stress-ng --mmap 2 --mmap-bytes 8M --mremap 1 --mremap-bytes 64M \
	--madvise 1 --fork 1 --verify -t 15s --metrics-brief > "$T/log" 2>&1 ||
	fail "stress-ng failed: $(tail -20 "$T/log")"
grep -qi "fail\|error" "$T/log" && ! grep -q "successful run completed" "$T/log" && fail "$(tail -20 "$T/log")"
grep -q "successful run completed" "$T/log" || fail "no successful run: $(tail -10 "$T/log")"
rm -f "$T/log"
assert_dir_empty "$T"
