# Real programs made of small objects (issue 16), installed from Debian and
# unmodified: jq sorting a JSON document, sqlite3 building an index, a
# CPython dict of lists; with OMS_SLOW=1 also a Perl hash and mawk arrays.
# Each is run plainly once to learn its peak; under a memory-cgroup limit
# of a third of that peak it is OOM-killed plainly and, under --heap,
# completes with byte-identical output.  The inputs are small because a
# random walk over three times the memory it may keep is about one 4 KiB
# read per access: the run times are printed (docs/bench.md, experiment
# 34).  perl and mawk need limits under 10 MiB to finish within minutes,
# where the kernel's cgroup reclaim has OOM-killed a run now and then
# with only clean file pages charged (experiment 34), so they are opt-in.
. tests/lib/common.sh
jemalloc_or_skip
cg_make $((64 << 20)) || skip "cgroup: $CG_WHY"
cg_drop

words() { # LINES KEYS
	awk -v n=$1 -v k=$2 'BEGIN { srand(7); for (i = 0; i < n; i++)
		printf "w%d %d x%d\n", int(rand() * k), i, int(rand() * 1000) }'
}
awk 'BEGIN { srand(11); printf "["; for (i = 0; i < 50000; i++)
	printf "%s{\"k\":%d,\"name\":\"n%d\",\"v\":[%d,%d]}", (i ? "," : ""), int(rand() * 1e9), i, i, i % 7
	print "]" }' > "$T/doc.json"

# The read-around window of the disk under $T (4 MiB when it has no block
# queue to ask, as the shim assumes).
dev=$(stat -c '%Hd:%Ld' "$T")
ra_kb=$(cat /sys/dev/block/$dev/queue/read_ahead_kb 2>/dev/null ||
	cat /sys/dev/block/$dev/../queue/read_ahead_kb 2>/dev/null || echo 4096)

ran=0
case_() { # what cmd...: plain peak, killed plainly at a third, same output under --heap
	what=$1; shift
	command -v "$1" > /dev/null || { echo "note: $what: $1 is not installed, case skipped"; return; }
	$P/peakrss "$T/peak" "$@" > "$T/want" 2> "$T/err" || fail "$what: plain run failed: $(tail -2 "$T/err")"
	lim=$(($(cat "$T/peak") / 3 / 1024))
	cg_make $((lim << 20)) || fail "$what: cannot make a cgroup: $CG_WHY"
	cg_run "$@" > /dev/null 2>&1
	rc=$?
	cg_drop
	[ $rc = 137 ] || fail "$what: plainly under $lim MiB (a third of its peak) not OOM-killed: rc $rc"
	cg_make $((lim << 20)) || fail "$what: cannot make the cgroup again: $CG_WHY"
	t0=$(date +%s)
	# The real /sys this time (the cgroup's limit and the disk's
	# read-ahead decide read-around), so no DefragTick.
	OOMSHIELD_HEAP=1 OOMSHIELD_DIR="$T" OOMSHIELD_LOG_FILE="$T/log" OOMSHIELD_LOG=info \
		OOMSHIELD_STATS=1 OOMSHIELD_DEFRAG=0 OOMSHIELD_PROC_ROOT= \
		cg_run timeout 600 env LD_PRELOAD="$LIB $je" "$@" > "$T/got" 2>/dev/null
	rc=$?
	cg_drop
	[ $rc = 0 ] || fail "$what: --heap under $lim MiB failed: rc $rc: $(tail -3 "$T/log" 2>/dev/null)"
	cmp -s "$T/want" "$T/got" || fail "$what: output under the limit differs: $(head -c 200 "$T/want") / $(head -c 200 "$T/got")"
	grep -q 'stats: blocks=[1-9]' "$T/log" || fail "$what: nothing went to the backing files: $(grep stats: "$T/log")"
	# Eight read-around windows must fit in the cgroup, or read-around
	# stays off: one window could fill it (docs/bench.md 34).
	if [ $((ra_kb * 8)) -gt $((lim * 1024)) ]; then
		grep -q 'read-around stays off' "$T/log" ||
			fail "$what: read-around allowed with ${ra_kb} KiB windows under $lim MiB: $(grep -i read-around "$T/log" | head -3)"
	else
		grep -q 'read-around stays off' "$T/log" && fail "$what: read-around kept off under $lim MiB with ${ra_kb} KiB windows"
	fi
	echo "note: $what: peak $(($(cat "$T/peak") / 1024)) MiB; under $lim MiB killed plainly, --heap done in $(($(date +%s) - t0)) s"
	rm -f "$T/want" "$T/got" "$T/log" "$T/err" "$T/peak"
	ran=$((ran + 1))
}
case_ jq jq -c 'sort_by(.k) | map(.name) | length, .[0], .[-1]' "$T/doc.json"
case_ sqlite3 sqlite3 :memory: 'create table t(a, b);
	with recursive c(x) as (select 1 union all select x + 1 from c where x < 750000)
	insert into t select (x * 7919) % 750019, hex((x * 2654435761) % 4294967296) from c;
	create index i on t(b); select count(*), sum(a) from t where b > "35";'
words 330000 220000 > "$T/words"
case_ python3 /usr/bin/python3 -c '
import sys
d = {}
for line in open(sys.argv[1]):
    f = line.split(); d.setdefault(f[0], []).append(int(f[1]))
print(len(d), sum(len(v) for v in d.values()))' "$T/words"
if [ "${OMS_SLOW:-0}" = 1 ]; then
	words 150000 100000 > "$T/words"
	case_ perl perl -e 'my %h; while (<>) { my @f = split; $h{$f[0]} .= $f[2] }
		my $t = 0; for my $k (sort keys %h) { $t += length($h{$k}) }
		print scalar(keys %h), " $t\n"' "$T/words"
	case_ mawk mawk '{ c[$1]++; s[$1] = s[$1] $3 } END { for (k in c) { n++; t += length(s[k]) }; print n, t }' "$T/words"
else
	echo "note: perl and mawk cases not run (1-2 min each, under 10 MiB): OMS_SLOW=1 runs them"
fi
[ $ran -gt 0 ] || skip "none of jq, sqlite3, python3 is installed"
rm -f "$T/words" "$T/doc.json"
assert_dir_empty "$T"
