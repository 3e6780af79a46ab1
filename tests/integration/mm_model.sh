# Randomized model check of the mmap family (tests/progs/mmmodel.c): random
# mmap, MAP_FIXED overlays, munmap, mremap (in place, MAYMOVE, FIXED,
# DONTUNMAP), madvise, mprotect, writes and forks over regions of 64 KiB to
# 4 MiB, each checked against a model of every page.  Each seed runs plainly
# (which checks the model itself) and under the shim with a 64 KiB
# threshold, so that the regions live in our files; both must pass and
# print the same transcript, and no file may be left behind.
#   MM_SEED=N        one seed            MM_OPS=N   operations per seed
#   MM_SEEDS="1 2"   these seeds
#   MM_AVOID=shrink,multi,hint,holes,split,close,wipe,none  skip op kinds of
#                    known failures, to look past them (see mmmodel.c)
# Reproduce a failure: $B/tests/progs/mmmodel SEED OPS (plainly or under the
# shim); cut the transcript and run `mmmodel replay FILE` to reduce it.
. tests/lib/common.sh
ops=${MM_OPS:-2000}
seeds=${MM_SEEDS:-${MM_SEED:-$(seq 1 10)}}
prog=$P/mmmodel
[ -x "$prog" ] || fail "$prog is not built"
bad=0
for s in $seeds; do
	"$prog" "$s" "$ops" > "$T/plain.out" 2> "$T/plain.err"
	rc=$?
	if [ $rc -ne 0 ]; then
		tail -n 3 "$T/plain.out" "$T/plain.err"
		echo "FAIL: seed $s without the shim (rc $rc): the model or the kernel is wrong;" \
			"reproduce: ${MM_AVOID:+MM_AVOID=$MM_AVOID }$prog $s $ops"
		bad=1
		continue
	fi
	mkdir "$T/d"
	env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$T/d" OOMSHIELD_THRESHOLD=64K \
		"$prog" "$s" "$ops" > "$T/shim.out" 2> "$T/shim.err"
	rc=$?
	# the shim's own files: none may outlive the program
	left=$(ls -A "$T/d" 2>/dev/null)
	rmdir "$T/d" 2>/dev/null
	if [ $rc -ne 0 ] || ! cmp -s "$T/plain.out" "$T/shim.out" || [ -n "$left" ]; then
		grep -m 1 MISMATCH "$T/shim.out" || diff "$T/plain.out" "$T/shim.out" | head -n 6
		grep -v MISMATCH "$T/shim.err" | tail -n 3
		[ -n "$left" ] && echo "files left behind: $left"
		echo "FAIL: seed $s under the shim (rc $rc); reproduce:" \
			"${MM_AVOID:+MM_AVOID=$MM_AVOID }LD_PRELOAD=$LIB OOMSHIELD_THRESHOLD=64K OOMSHIELD_DIR=DIR $prog $s $ops"
		bad=1
		continue
	fi
	echo "ok seed $s: $(tail -n 1 "$T/shim.out")"
done
rm -f "$T/plain.out" "$T/plain.err" "$T/shim.out" "$T/shim.err"
[ $bad -eq 0 ] || exit 1
assert_dir_empty "$T"
