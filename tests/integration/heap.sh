# Whole-heap mode (issue 16): with OOMSHIELD_HEAP=1 and jemalloc preloaded
# after the shim, small objects live in the backing files.  Checked: the
# objects really are file-backed (EXPECT_HEAP), output byte-identical to a
# plain run, purged pages read zero (calloc), fork keeps private copies,
# thread churn, OOMSHIELD_MAX and a full backing disk fall back without a
# SIGBUS, a sparse NORESERVE reservation stays one, one warning without
# jemalloc, and programs of small objects survive a memory-cgroup limit of
# a third of their peak that kills them plainly.
. tests/lib/common.sh
jemalloc_or_skip
H=$P/heapobj
heap() { env OOMSHIELD_HEAP=1 OOMSHIELD_DIR="${DIR:-$T}" LD_PRELOAD="$LIB $je" "$@"; }
same() { # name cmd...: plain and heap-mode stdout identical, heap mode silent
	name=$1; shift
	"$@" > "$T/plain" 2>/dev/null || fail "$name: plain run failed"
	EXPECT_HEAP=${EXPECT:-1} heap "$@" > "$T/heap" 2> "$T/err" || fail "$name: heap run failed ($?): $(tail -3 "$T/err")"
	cmp -s "$T/plain" "$T/heap" || fail "$name: output differs: $(cat "$T/plain") / $(cat "$T/heap")"
	[ -n "${ERR_OK-}" ] || [ ! -s "$T/err" ] || fail "$name: heap mode wrote to stderr: $(head -3 "$T/err")"
}
same list $H list 300000
same purge $H purge 32
same purge-decay env MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0 $H purge 32
same fork $H fork 32
same churn $H churn 8 6
same nodemap $P/nodemap umap 200000
EXPECT=0 ERR_OK=1 OOMSHIELD_MAX=4M same max $H list 300000
rm -f "$T/plain" "$T/heap" "$T/err"

# Without jemalloc: one warning, the program runs as before.
out=$(OOMSHIELD_HEAP=1 run_shim $H list 1000 2> "$T/err")
[ "$out" = "$($H list 1000)" ] || fail "no jemalloc: output differs"
[ "$(wc -l < "$T/err")" = 1 ] && grep -q 'OOMSHIELD_HEAP=1 but no jemalloc' "$T/err" ||
	fail "no jemalloc: want one warning line, got: $(cat "$T/err")"
rm -f "$T/err"

# The launcher puts jemalloc right after the library (quoted when the
# entry goes through ld.so's $LIB, i.e. once a second build exists).
case $(tools/oomshield --heap -n -- $H list 1 | grep '^export LD_PRELOAD=') in
*liboomshield.so:*libjemalloc.so.2 | *liboomshield.so:*libjemalloc.so.2\') ;;
*) fail "oomshield --heap: $(tools/oomshield --heap -n -- $H list 1)" ;;
esac

if loop_mount ext4 64; then
	# A sparse NORESERVE area larger than a quarter of the free disk stays
	# a reservation; a small one is placed.
	[ "$(DIR=$T/mnt heap $H sparse 1)" = "sparse 1 file-backed 0" ] || fail "sparse 1 GiB was placed"
	# Purged extents keep their disk: refilled after the disk is full, no
	# SIGBUS; then a heap larger than the disk falls back.
	DIR=$T/mnt heap $H refill 24 "$T/mnt/filler" > "$T/out" 2>/dev/null ||
		fail "refill on a full disk: exit $?"
	[ "$(cat "$T/out")" = "refill 24 MiB bad 0" ] || fail "refill: $(cat "$T/out")"
	[ "$(DIR=$T/mnt heap $H list 1200000)" = "$($H list 1200000)" ] || fail "heap larger than the disk"
	[ -z "$(ls -A "$T/mnt" | grep -v lost+found)" ] || fail "files left on the disk: $(ls -A "$T/mnt")"
	loop_umount
	rm -f "$T/out"
else
	echo "note: full-disk cases skipped: $LOOP_WHY"
fi

# Under a memory-cgroup limit of a third of the peak (RSS peaks: nodemap
# map 1000000 about 75 MiB, heapobj list 1000000 about 125 MiB): killed
# plainly, identical output in heap mode.
cg_case() { # name limit_mib cmd...
	name=$1 lim=$2; shift 2
	"$@" > "$T/want" || fail "$name: plain run without a limit failed"
	cg_make $((lim << 20)) || skip "heap-mode cases passed; cgroup cases: $CG_WHY"
	cg_run "$@" > /dev/null 2>&1 && { cg_drop; fail "$name: not killed plainly under $lim MiB"; }
	cg_drop
	cg_make $((lim << 20)) || skip "cgroup: $CG_WHY"
	heap timeout 300 sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@" > "$T/got" 2> "$T/err"
	rc=$?
	cg_drop
	[ $rc = 0 ] || fail "$name: heap mode under $lim MiB: exit $rc $(tail -2 "$T/err")"
	cmp -s "$T/want" "$T/got" || fail "$name: output differs under the limit"
}
cg_case nodemap-map 24 $P/nodemap map 1000000
cg_case heapobj-list 40 $H list 1000000
# Coverage in the stats line: the anonymous memory left to RAM and swap.
# 600,000 nodes of 16-200 bytes are about 70 MiB of heap: plainly all of it
# is anonymous, under --heap almost none (jemalloc's own metadata).
unprot() { sed -n 's/.*unprotected=anon=\([0-9]*\)K,swap=\([0-9]*\)K.*/\1 \2/p' "$T/err"; }
env OOMSHIELD_STATS=1 OOMSHIELD_DIR="$T" LD_PRELOAD="$LIB" $H list 600000 > /dev/null 2> "$T/err" ||
	fail "stats: plain-malloc run failed"
set -- $(unprot)
[ $# = 2 ] && [ "$1" -ge 40000 ] || fail "stats: no anonymous heap counted without --heap: $(cat "$T/err")"
OOMSHIELD_STATS=1 heap $H list 600000 > /dev/null 2> "$T/err" || fail "stats: heap run failed"
set -- $(unprot)
[ $# = 2 ] && [ "$1" -lt 10000 ] || fail "stats: the heap counted as not protected under --heap: $(cat "$T/err")"
rm -f "$T/want" "$T/got" "$T/err"
assert_dir_empty "$T"
