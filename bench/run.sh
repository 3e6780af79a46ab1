#!/bin/bash
# run.sh - `make bench`: the benchmarks of issue 6, side by side with their
# baselines in one run.  Each timing is a ratio shim/baseline measured in
# interleaved rounds (A B A B ...); the table gives median, min and max.
#
# Env: B (build dir), LIB (liboomshield.so, absolute), BENCH_QUICK=1 (short
#      run for CI: smaller sizes, fewer rounds, exit 0 whatever the timings),
#      BENCH_DIR (/var/tmp: backing files, swap file, dd target),
#      BENCH_ONLY="1 3 6a" (run only these rows; for experiments).
# Out: a table on stdout, $B/bench/results.csv, $B/bench/pressure.png and the
#      raw samples under $B/bench/.
# Exit: 1 if a benchmark program crashed or produced wrong data, else 0.
#      Timings never fail the run (targets are reported, not enforced).
# Root is needed for rows 5-xfs, 6a and 6b (loop mount, cgroup, swapon); they
# are skipped with a printed reason otherwise.  The swap file, the cgroups
# and the loop mount are always removed, also on failure or Ctrl-C.
set -u
B=${B:?B not set}
LIB=${LIB:?LIB not set}
Q=${BENCH_QUICK:-}
[ "$Q" = 0 ] && Q=
DIR=${BENCH_DIR:-/var/tmp}
ONLY=${BENCH_ONLY:-}
OUT=$B/bench
BIN=$OUT
CSV=$OUT/results.csv
T=$(mktemp -d "$DIR/oms-bench.XXXXXX") || exit 1
. tests/lib/common.sh
# Benchmarks other than row 7 keep the DefragTick thread off the real /proc
# (common.sh points OOMSHIELD_PROC_ROOT at a directory of ours, empty of
# /proc).  Only the kernel's THP setting is copied there, for runs that ask
# for large folios (OOMSHIELD_HUGEPAGE=1 make bench).
if [ -r /sys/kernel/mm/transparent_hugepage/enabled ]; then
	mkdir -p "$OOMSHIELD_PROC_ROOT/sys/kernel/mm/transparent_hugepage" &&
		cp /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/hpage_pmd_size \
			"$OOMSHIELD_PROC_ROOT/sys/kernel/mm/transparent_hugepage/" 2>/dev/null
fi
SHIM=(env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$DIR")
START=$(date +%s)
BAD=0      # a program crashed or produced wrong data
SWAP=      # swap file while it is on
MNT=       # loop mount for the reflink path
BG=()      # background pids of ours

cleanup() {
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
	if [ -n "$SWAP" ]; then swapoff "$SWAP" 2>/dev/null; rm -f "$SWAP"; SWAP=; fi
	cg_drop
	if [ -n "$MNT" ]; then umount "$MNT" 2>/dev/null; MNT=; fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

want() { [ -z "$ONLY" ] || case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
q() { if [ -n "$Q" ]; then echo "$1"; else echo "$2"; fi; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
note() { echo "   $*"; }
bad() { echo "   FAIL: $*"; BAD=1; }

# ---- results -------------------------------------------------------------
# stats "v1 v2 ..." -> "median min max"
stats() { tr ' ' '\n' <<<"$1" | grep . | sort -g |
	awk '{a[NR]=$1} END {if (!NR) {print "- - -"; exit}
		m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
		printf "%.3g %.3g %.3g\n", m, a[1], a[NR]}'; }
ROWS=()
FMT='%-8s| %-42s| %-22s| %-7s| %6s| %6s| %6s| %-7s| %-5s'
printf 'row,workload,baseline,unit,median,min,max,target,met,rounds,notes\n' >"$CSV.tmp"
# result ID WORKLOAD BASELINE UNIT "values" CMP LIMIT NOTES
# CMP: le (median <= LIMIT meets), ge, - (report only)
result() {
	local id=$1 wl=$2 base=$3 unit=$4 vals=$5 cmp=$6 lim=$7 notes=${8:-}
	local n; n=$(wc -w <<<"$vals")
	read -r med mn mx <<<"$(stats "$vals")"
	local target=- met=-
	case $cmp in
	le) target="<= $lim" ;;
	ge) target=">= $lim" ;;
	esac
	if [ "$cmp" != - ]; then
		if [ "$med" = - ]; then met=no
		elif awk -v m="$med" -v l="$lim" -v c="$cmp" 'BEGIN {exit !((c == "le") ? m <= l : m >= l)}'; then met=yes
		else met=no; fi
		[ -n "$Q" ] && met="($met)"
	fi
	ROWS+=("$(printf "$FMT" "$id" "$wl" "$base" "$unit" "$med" "$mn" "$mx" "$target" "$met")")
	printf '%s,"%s","%s",%s,%s,%s,%s,"%s",%s,%s,"%s"\n' "$id" "$wl" "$base" "$unit" "$med" "$mn" "$mx" \
		"$target" "$met" "$n" "$notes" >>"$CSV.tmp"
	printf '   => %s %s: median %s (min %s, max %s) target %s: %s\n' "$id" "$unit" "$med" "$mn" "$mx" "$target" "$met"
	[ -n "$notes" ] && echo "      $notes"
}
skiprow() { # ID WORKLOAD REASON
	ROWS+=("$(printf '%-8s| %-42s| skipped: %s' "$1" "$2" "$3")")
	printf '%s,"%s",,,,,,,skipped,0,"%s"\n' "$1" "$2" "$3" >>"$CSV.tmp"
	echo "   skipped: $3"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.4f", a / b; else print "nan"}'; }

# run_prog VAR CMD... : stdout of CMD into VAR; bad() if it failed.
run_prog() {
	local __v=$1 __o __rc; shift
	__o=$("$@" 2>"$T/err"); __rc=$?
	if [ $__rc -ne 0 ]; then bad "$* exited $__rc: $(head -c 300 "$T/err")"; __o=; fi
	printf -v "$__v" '%s' "$__o"
	return $__rc
}

echo "oomshield benchmarks$( [ -n "$Q" ] && echo ' (BENCH_QUICK=1: small sizes, few rounds, timings not judged)')"
settings=$(env | grep '^OOMSHIELD_' | grep -v '^OOMSHIELD_PROC_ROOT=' | tr '\n' ' ')
[ -n "$settings" ] && echo "shim settings: $settings"
echo "machine: $(nproc) cores, $(free -h | awk '/Mem:/ {print $2}') RAM, kernel $(uname -r), $DIR on $(df -T "$DIR" | awk 'NR==2 {print $2 " " $1}')"
echo

# ---- row 7 runs in the background over the whole run -----------------------
R7_SECS=$(q 5 60)
R7_IV=$(q 100 1000)
R7_PID=
if want 7; then
	# The real /proc (read only: dry run never writes compact_memory).
	env -u OOMSHIELD_PROC_ROOT LD_PRELOAD="$LIB" OOMSHIELD_DIR="$DIR" OOMSHIELD_DEFRAG_DRY_RUN=1 \
		OOMSHIELD_DEFRAG_INTERVAL_MS="$R7_IV" sleep $((R7_SECS + 30)) &
	R7_PID=$!
	BG+=("$R7_PID")
	R7_T0=$(ms)
	# Read the thread's CPU time at R7_SECS seconds, whatever runs then.
	(
		sleep "$R7_SECS"
		for t in /proc/"$R7_PID"/task/*; do
			[ "$(cat "$t/comm" 2>/dev/null)" = oomshield-dfrag ] || continue
			st=$(sed 's/.*) //' "$t/stat")
			set -- $st
			# after "comm) ": field 3 is $1, so utime (14) is ${12}, stime (15) ${13}
			rt=$(awk -F: '/se.sum_exec_runtime/ {gsub(/ /, "", $2); print $2}' "$t/sched" 2>/dev/null)
			echo "${12} ${13} ${rt:-} $(( $(date +%s%N) / 1000000 ))"
		done >"$T/row7"
		kill "$R7_PID" 2>/dev/null
	) &
	BG+=("$!")
	R7_READER=$!
fi

# ---- row 1: small-allocation churn ----------------------------------------
if want 1; then
	echo "== 1 small-allocation churn: 2 threads, malloc/calloc/realloc/free 8-1024 B"
	# The ratio is of CPU time (user + system): on a shared machine other
	# tenants stretch wall time far more than the 3 % being measured.
	ops=$(q 300000 1000000); rounds=$(q 3 15); v=; w=
	for r in $(seq "$rounds"); do
		run_prog a "$BIN/churn" "$ops" 2 || continue
		run_prog b "${SHIM[@]}" "$BIN/churn" "$ops" 2 || continue
		v+=" $(ratio "${b#* }" "${a#* }")"; w+=" $(ratio "${b% *}" "${a% *}")"
	done
	note "cpu-time ratios: $v"
	note "wall-time ratios: $w"
	result 1 "small churn, 2 threads, 8-1024 B" "same binary, no shim" "x cpu" "$v" le 1.03 \
		"$ops ops/thread; ratio of process CPU time; wall-time ratio median $(stats "$w" | cut -d' ' -f1) (min $(stats "$w" | cut -d' ' -f2), max $(stats "$w" | cut -d' ' -f3))"
fi

# ---- row 2: real programs ---------------------------------------------------
if want 2; then
	echo "== 2 real programs: python3 dict/list build+sort; sort of a generated file"
	rounds=$(q 2 5)
	n=$(q 100000 400000)
	cat >"$T/py.py" <<EOF
import random
random.seed(7)
d = {}
for i in range($n):
    d['k%012x' % random.getrandbits(48)] = [i, str(i)]
l = sorted(d.items())
l.sort(key=lambda kv: kv[1][0])
s = sum(v[0] for k, v in l[:1000])
print(len(l), s)
EOF
	v=; want_out=
	for r in $(seq "$rounds"); do
		t0=$(ms); run_prog a /usr/bin/python3 "$T/py.py" || continue; t1=$(ms)
		run_prog b "${SHIM[@]}" /usr/bin/python3 "$T/py.py" || continue; t2=$(ms)
		[ "$a" = "$b" ] || bad "python3 output differs under the shim: '$a' vs '$b'"
		v+=" $(ratio $((t2 - t1)) $((t1 - t0)))"
	done
	note "python ratios: $v (plain run $((t1 - t0)) ms)"
	result 2py "python3 dict+list build, sort" "plain run" "x time" "$v" le 1.01 "$n entries"
	mb=$(q 5 50)
	# Random lines of text, about $mb MB.
	awk -v n=$((mb * 1024 * 1024 / 32)) 'BEGIN {srand(3); for (i = 0; i < n; i++)
		printf "%08x %s %d\n", int(rand() * 4294967295), substr("abcdefghijklmnopqrstuvwxyz", 1 + int(rand() * 20)), i}' >"$T/sort.in"
	v=
	for r in $(seq "$rounds"); do
		t0=$(ms); LC_ALL=C sort "$T/sort.in" >"$T/sort.a" || bad "sort failed"; t1=$(ms)
		LC_ALL=C "${SHIM[@]}" sort "$T/sort.in" >"$T/sort.b" || bad "sort failed under the shim"; t2=$(ms)
		cmp -s "$T/sort.a" "$T/sort.b" || bad "sort output differs under the shim"
		v+=" $(ratio $((t2 - t1)) $((t1 - t0)))"
	done
	note "sort ratios: $v (plain run $((t1 - t0)) ms, input $(($(stat -c %s "$T/sort.in") >> 20)) MiB)"
	result 2sort "sort of a ${mb} MB file" "plain run" "x time" "$v" le 1.01 "LC_ALL=C sort"
	rm -f "$T/sort.in" "$T/sort.a" "$T/sort.b"
fi

# ---- row 3: large-block churn ----------------------------------------------
if want 3; then
	echo "== 3 large-block churn: malloc, touch every page, free; repeated"
	rounds=$(q 2 5)
	for spec in 1:$(q 60 300):1.5 8:$(q 10 40):- 64:$(q 2 5):1.1; do
		IFS=: read -r mib reps lim <<<"$spec"
		v=
		for r in $(seq "$rounds"); do
			run_prog a "$BIN/bigchurn" $((mib * 1024)) "$reps" || continue
			run_prog b "${SHIM[@]}" "$BIN/bigchurn" $((mib * 1024)) "$reps" || continue
			v+=" $(ratio "$b" "$a")"
		done
		note "$mib MiB: glibc $(awk -v a="$a" -v n="$reps" 'BEGIN {printf "%.3f", a / n}') ms/block, shim $(awk -v a="$b" -v n="$reps" 'BEGIN {printf "%.3f", a / n}') ms/block; ratios $v"
		if [ "$lim" = - ]; then cmp=-; else cmp=le; fi
		result "3-$mib" "large churn ${mib} MiB x $reps" "glibc" "x time" "$v" "$cmp" "$lim" \
			"glibc $(awk -v a="$a" -v n="$reps" 'BEGIN {printf "%.3f", a / n}') ms/block, shim $(awk -v a="$b" -v n="$reps" 'BEGIN {printf "%.3f", a / n}') ms/block"
	done
fi

# ---- row 4: realloc growth -------------------------------------------------
if want 4; then
	echo "== 4 realloc growth: 1 MiB -> max in 64 KiB steps, touching the new part"
	rounds=$(q 2 3); max=$(q 128 1024); v=
	for r in $(seq "$rounds"); do
		run_prog a "$BIN/regrow" "$max" || continue
		run_prog b "${SHIM[@]}" "$BIN/regrow" "$max" || continue
		v+=" $(ratio "$b" "$a")"
	done
	note "ratios: $v (last: glibc $a ms, shim $b ms)"
	result 4 "realloc 1 MiB -> $max MiB, 64 KiB steps" "glibc (mremap)" "x time" "$v" le 1.2 "glibc $a ms, shim $b ms"
fi

# ---- row 5: fork ------------------------------------------------------------
# forkb prints "fork_ms rewrite_ms": fork + child exit + wait, then the parent
# rewriting every page.  DIR: backing directory (ext4 here, or the loop fs).
fork_row() { # ID DIR LABEL
	local id=$1 dir=$2 label=$3 rounds mib v= w= a b fa ra fb rb
	rounds=$(q 2 3); mib=$(q 128 1024)
	for r in $(seq "$rounds"); do
		run_prog a "$BIN/forkb" "$mib" || continue
		run_prog b env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$dir" OOMSHIELD_STATS=1 "$BIN/forkb" "$mib" || continue
		read -r fa ra <<<"$a"; read -r fb rb <<<"$b"
		v+=" $(ratio "$fb" "$fa")"; w+=" $(ratio "$rb" "$ra")"
	done
	local path; path=$(grep -o 'forks[^,]*' "$T/err" | head -1)
	note "$label: fork ratios $v; parent rewrite after fork ratios $w (last: glibc fork $fa ms rewrite $ra ms; shim fork $fb ms rewrite $rb ms) ${path}"
	result "$id" "fork, $mib MiB, $label" "glibc, anonymous" "x time" "$v" - - \
		"glibc fork $fa ms; shim fork $fb ms; parent rewrite of all pages after fork: x$(stats "$w" | cut -d' ' -f1) (glibc $ra ms, shim $rb ms)"
}
if want 5; then
	echo "== 5 fork with a large block, the child writes one page and exits"
	fork_row 5-ext4 "$DIR" "$(df -T "$DIR" | awk 'NR==2 {print $2}') (copy-on-write remap)"
	why=
	if [ "$(id -u)" != 0 ]; then why="needs root to mount a loop image"
	else
		for fs in xfs btrfs; do
			command -v mkfs.$fs >/dev/null || continue
			img=$T/$fs.img
			truncate -s $(q 1 3)G "$img"
			case $fs in
			xfs) mkfs.xfs -q -m reflink=1 "$img" >/dev/null 2>&1 ;;
			btrfs) mkfs.btrfs -q "$img" >/dev/null 2>&1 ;;
			esac || { rm -f "$img"; why="mkfs.$fs failed"; continue; }
			mkdir -p "$T/mnt"
			if mount -o loop "$img" "$T/mnt" 2>"$T/err"; then
				MNT=$T/mnt
				chmod 1777 "$MNT"
				fork_row 5-$fs "$MNT" "$fs (copy-on-write remap)"
				umount "$MNT"; MNT=
				rm -f "$img"; why=
				break
			fi
			why="mount -o loop of a $fs image failed: $(head -c 200 "$T/err")"
			rm -f "$img"
		done
		[ -z "$why" ] || true
		command -v mkfs.xfs >/dev/null || command -v mkfs.btrfs >/dev/null ||
			why="neither mkfs.xfs nor mkfs.btrfs installed (apt-get install xfsprogs)"
	fi
	[ -n "$why" ] && skiprow 5-xfs "fork on XFS/Btrfs" "$why"
fi

# ---- row 5x: fork + exec, then the switch back (issue 17) ---------------------
# forkx prints "forkexec_ms rewrite_ms": fork + exec /bin/true + waitpid of a
# process with a written block, then the parent rewriting every page.  On
# ext4 the shim's fork freezes the block copy-on-write and its waitpid
# wrapper maps it shared of its file again, so the rewrite goes to the file.
if want 5x; then
	echo "== 5x fork + exec /bin/true + waitpid with a large block, then the switch back and a rewrite"
	fs=$(df -T "$DIR" | awk 'NR==2 {print $2}')
	if [ "$fs" != ext4 ]; then skiprow 5x "fork+exec then switch back" "$DIR is $fs, not ext4"
	else
		rounds=$(q 2 5); mib=$(q 64 256); v=; w=; x=; back=0
		for r in $(seq "$rounds"); do
			run_prog a "$BIN/forkx" "$mib" || continue
			run_prog b env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$DIR" OOMSHIELD_STATS=1 "$BIN/forkx" "$mib" || continue
			grep 'forks_cow=[1-9]' "$T/err" | grep -q 'forks_back=[1-9]' && back=$((back + 1))
			read -r fa ra <<<"$a"; read -r fb rb <<<"$b"
			v+=" $(ratio "$(awk -v f="$fb" -v r="$rb" 'BEGIN {print f + r}')" "$(awk -v f="$fa" -v r="$ra" 'BEGIN {print f + r}')")"
			w+=" $(ratio "$fb" "$fa")"; x+=" $(ratio "$rb" "$ra")"
		done
		note "total ratios $v; fork+exec+wait ratios $w; rewrite ratios $x (last: glibc $fa + $ra ms, shim $fb + $rb ms); switched back in $back of $rounds shim runs"
		result 5x "fork+exec $mib MiB, switch back, rewrite" "glibc, anonymous" "x time" "$v" - - \
			"fork+exec+waitpid x$(stats "$w" | cut -d' ' -f1) (glibc $fa ms, shim $fb ms, switch back included); rewrite of every page after x$(stats "$x" | cut -d' ' -f1) (glibc $ra ms, shim $rb ms); switched back (forks_back) in $back of $rounds runs"
	fi
fi

# ---- rows 6a/6b: memory pressure ------------------------------------------
LIM=$(q 64 256)                      # cgroup limit, MiB
SEQ=$((LIM * 4))                     # 6a data, MiB
RND=$((LIM * 3 / 2))                 # 6b working set, MiB
OPS=$(q 5000 100000)                 # 6b random updates
TMO=$(q 12 90)                       # seconds before a run counts as too slow
PR_ROUNDS=$(q 1 3)
PR_ROUNDS_B=$(q 1 2)                 # 6b: the protected run may take TMO

# Sample the cgroup's charged memory every 100 ms into FILE until killed.
sampler() { # FILE
	local f=$1 t0 u
	t0=$(date +%s%N)
	: >"$f"
	while :; do
		u=$(cat "$CG_USAGE" 2>/dev/null) || break
		echo "$(( ($(date +%s%N) - t0) / 1000000 )) $u" >>"$f"
		sleep 0.1
	done
}
swap_on() {
	SWAP=$DIR/oms-bench-swap.$$
	{ fallocate -l 2G "$SWAP" || dd if=/dev/zero of="$SWAP" bs=1M count=2048 status=none; } &&
		chmod 600 "$SWAP" && mkswap "$SWAP" >/dev/null && swapon "$SWAP" ||
		{ rm -f "$SWAP"; SWAP=; return 1; }
}
swap_off() { [ -z "$SWAP" ] || { swapoff "$SWAP"; rm -f "$SWAP"; SWAP=; }; }
# KiB written to block devices so far, swap included (/proc/vmstat pgpgout).
written_kb() { awk '$1 == "pgpgout" {print $2}' /proc/vmstat; }
# in_cg KIND SAMPLEFILE CMD... : run CMD in a fresh cgroup of LIM MiB; KIND
# is plain, shim or swap (swap: the cgroup may use swap).  Sets RC, MS, OUTP
# and WR_KB, what the machine wrote meanwhile (the run's write-back or swap-out:
# our files are unlinked, so what is dirty at exit is dropped, not written).
in_cg() {
	local kind=$1 sf=$2 sp w0; shift 2
	w0=$(written_kb)
	cg_make $((LIM << 20)) || { RC=-1; OUTP=; MS=0; return 1; }
	if [ "$kind" = swap ]; then
		if [ -e "$CG/memory.memsw.limit_in_bytes" ]; then echo -1 >"$CG/memory.memsw.limit_in_bytes"
		else echo max >"$CG/memory.swap.max" 2>/dev/null; fi
	fi
	if [ -e "$CG/memory.usage_in_bytes" ]; then CG_USAGE=$CG/memory.usage_in_bytes
	else CG_USAGE=$CG/memory.current; fi
	sp=
	if [ -n "$sf" ]; then sampler "$sf" & sp=$!; BG+=("$sp"); fi
	local t0; t0=$(ms)
	OUTP=$(cg_run timeout -s KILL "$TMO" "$@" 2>"$T/err"); RC=$?
	MS=$(( $(ms) - t0 ))
	[ -n "$sp" ] && { sleep 0.2; kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null; }
	cg_drop
	WR_KB=$(( $(written_kb) - w0 ))
	return 0
}
pr_status() { # after in_cg: "ok", "killed", "too slow" or "failed"
	if [ "$RC" = 0 ]; then echo ok
	elif [ "$RC" = 137 ] && [ "$MS" -ge $((TMO * 1000 - 500)) ]; then echo "too slow (> ${TMO} s)"
	elif [ "$RC" = 137 ] || [ "$RC" -gt 128 ]; then echo killed
	else echo "failed (exit $RC: $(head -c 200 "$T/err"))"; fi
}

pressure_why=
if [ "$(id -u)" != 0 ]; then pressure_why="needs root for a memory cgroup and swapon"
elif ! cg_make $((LIM << 20)); then pressure_why=$CG_WHY
else
	cg_drop
	if ! command -v swapon >/dev/null; then pressure_why="swapon not found"
	elif [ -n "$(tail -n +2 /proc/swaps)" ]; then pressure_why="swap is already on here: the no-swap runs would not be what they say"
	elif ! swap_on; then pressure_why="cannot make a swap file in $DIR (swapon refused)"
	else swap_off; fi
	case $(df -T "$DIR" | awk 'NR==2 {print $2}') in
	tmpfs|ramfs) pressure_why="$DIR is in RAM" ;;
	esac
fi

if want 6a; then
	echo "== 6a pressure, sequential: write then verify $SEQ MiB under a $LIM MiB cgroup limit"
	if [ -n "$pressure_why" ]; then skiprow 6a "pressure, sequential" "$pressure_why"
	else
		in_cg plain "$OUT/6a-plain.dat" "$BIN/pressure" seq "$SEQ"
		plain=$(pr_status); note "plain, limited, no swap: $plain after $MS ms"
		va=; vb=; vw=; vp=; raw=; shim_ms=; swap_ms=; wa=; wb=
		for r in $(seq "$PR_ROUNDS"); do
			sync
			t0=$(ms)
			dd if=/dev/zero of="$T/dd" bs=1M count="$SEQ" conv=fdatasync status=none || bad "dd failed"
			dms=$(( $(ms) - t0 )); rm -f "$T/dd"
			sf=; [ "$r" = 1 ] && sf=$OUT/6a-shim.dat
			in_cg shim "$sf" "${SHIM[@]}" "$BIN/pressure" seq "$SEQ"; st=$(pr_status)
			[ "$st" = ok ] || [ "$st" = "too slow (> ${TMO} s)" ] || bad "6a protected run: $st"
			sms=$MS; [ "$st" = ok ] || sms=$((TMO * 1000)); sph=$OUTP; swr=$WR_KB
			swap_on || { bad "swapon failed"; break; }
			sf=; [ "$r" = 1 ] && sf=$OUT/6a-swap.dat
			in_cg swap "$sf" "$BIN/pressure" seq "$SEQ"; wst=$(pr_status); wms=$MS
			swap_off
			wa+=" $(ratio "$swr" $((SEQ * 1024)))"; wb+=" $(ratio "$WR_KB" $((SEQ * 1024)))"
			[ "$wst" = ok ] || { note "swap run $r: $wst"; wms=$((TMO * 1000)); }
			# A run that failed to run at all is no timing of anything.
			case "$st $wst" in *failed*) note "round $r: no ratio (a run failed)"; continue ;; esac
			note "round $r: dd $dms ms ($(( SEQ * 1000 / (dms ? dms : 1) )) MiB/s), shim $sms ms [$st, phases ${sph:-}], swap $wms ms [$wst, phases ${OUTP:-}]"
			# speed ratio: (SEQ / shim time) / (SEQ / dd time)
			va+=" $(ratio "$dms" "$sms")"; vb+=" $(ratio "$sms" "$wms")"
			[ "$st" = ok ] && vw+=" $(ratio "$dms" "$(cut -d' ' -f2 <<<"$sph")")"
			# The program's own clock stops before free(): without the
			# teardown (closing the file frees its blocks; on a discard
			# mount that waits for the disk - docs/bench.md 18).
			[ "$st" = ok ] && vp+=" $(ratio "$dms" "$(cut -d' ' -f1 <<<"$sph")")"
			raw+=" $dms"; shim_ms+=" $sms"; swap_ms+=" $wms"
		done
		result 6a-raw "pressure seq ${SEQ}M under ${LIM}M: speed" "dd conv=fdatasync" "x speed" "$va" ge 0.7 \
			"speed = $SEQ MiB / (write + verify time); write phase alone: x$(stats "$vw" | cut -d' ' -f1) of dd; write+verify without the teardown: x$(stats "$vp" | cut -d' ' -f1); dd ms:$raw; shim ms:$shim_ms; plain without swap: $plain"
		result 6a-swap "pressure seq ${SEQ}M under ${LIM}M: time" "plain + 2G swap file" "x time" "$vb" le 1.0 \
			"swap ms:$swap_ms; written / data: shim x$(stats "$wa" | cut -d' ' -f1), swap x$(stats "$wb" | cut -d' ' -f1)"
	fi
fi

if want 6b; then
	echo "== 6b pressure, random: $OPS random record updates over $RND MiB under a $LIM MiB limit"
	if [ -n "$pressure_why" ]; then skiprow 6b "pressure, random" "$pressure_why"
	else
		in_cg plain "$OUT/6b-plain.dat" "$BIN/pressure" rand "$RND" "$OPS"
		plain=$(pr_status); note "plain, limited, no swap: $plain after $MS ms"
		v=; shim_ms=; swap_ms=; capped=; wa=; wb=
		for r in $(seq "$PR_ROUNDS_B"); do
			sf=; [ "$r" = 1 ] && sf=$OUT/6b-shim.dat
			in_cg shim "$sf" "${SHIM[@]}" "$BIN/pressure" rand "$RND" "$OPS"; st=$(pr_status)
			[ "$st" = ok ] || [ "$st" = "too slow (> ${TMO} s)" ] || bad "6b protected run: $st"
			sms=$MS; [ "$st" = ok ] || { sms=$((TMO * 1000)); capped=1; }; sph=$OUTP; swr=$WR_KB
			swap_on || { bad "swapon failed"; break; }
			sf=; [ "$r" = 1 ] && sf=$OUT/6b-swap.dat
			in_cg swap "$sf" "$BIN/pressure" rand "$RND" "$OPS"; wst=$(pr_status); wms=$MS
			swap_off
			wa+=" $(ratio "$swr" $((RND * 1024)))"; wb+=" $(ratio "$WR_KB" $((RND * 1024)))"
			[ "$wst" = ok ] || { note "swap run $r: $wst"; wms=$((TMO * 1000)); }
			case "$st $wst" in *failed*) note "round $r: no ratio (a run failed)"; continue ;; esac
			note "round $r: shim $sms ms [$st, phases ${sph:-}], swap $wms ms [$wst, phases ${OUTP:-}]"
			v+=" $(ratio "$sms" "$wms")"; shim_ms+=" $sms"; swap_ms+=" $wms"
		done
		result 6b "pressure random ${RND}M under ${LIM}M" "plain + 2G swap file" "x time" "$v" le 1.0 \
			"shim ms:$shim_ms; swap ms:$swap_ms; written / working set: shim x$(stats "$wa" | cut -d' ' -f1), swap x$(stats "$wb" | cut -d' ' -f1); plain without swap: $plain$( [ -n "$capped" ] && echo "; LOWER BOUND: the protected run was stopped at $TMO s")"
	fi
fi

# ---- the picture --------------------------------------------------------------
if { want 6a || want 6b; } && [ -z "$pressure_why" ]; then
	if command -v gnuplot >/dev/null; then
		for f in "$OUT"/6?-*.dat; do [ -s "$f" ] || echo "0 0" >"$f"; done
		gnuplot <<EOF 2>"$T/err" || note "gnuplot failed: $(head -c 300 "$T/err")"
set terminal pngcairo size 1400,560 font "sans,11" noenhanced
set output "$OUT/pressure.png"
set multiplot layout 1,2 title "oomshield under a ${LIM} MiB memory cgroup: memory charged to the cgroup, sampled every 100 ms"
set xlabel "seconds"
set ylabel "MiB"
set grid
set key bottom right
set yrange [0:$((LIM * 13 / 10))]
set title "6a: write + verify ${SEQ} MiB sequentially"
plot "$OUT/6a-plain.dat" u (\$1/1000):(\$2/1048576) w lp lw 2 pt 2 ps 2 lc rgb "#d62728" t "plain, no swap (OOM-killed)", \
     "$OUT/6a-swap.dat" u (\$1/1000):(\$2/1048576) w l lw 2 lc rgb "#1f77b4" t "plain + swap file", \
     "$OUT/6a-shim.dat" u (\$1/1000):(\$2/1048576) w l lw 2 lc rgb "#2ca02c" t "oomshield", \
     $LIM w l dt 2 lc rgb "black" t "limit"
set title "6b: ${OPS} random updates over ${RND} MiB (runs are stopped at ${TMO} s)"
plot "$OUT/6b-plain.dat" u (\$1/1000):(\$2/1048576) w lp lw 2 pt 2 ps 2 lc rgb "#d62728" t "plain, no swap (OOM-killed)", \
     "$OUT/6b-swap.dat" u (\$1/1000):(\$2/1048576) w l lw 2 lc rgb "#1f77b4" t "plain + swap file", \
     "$OUT/6b-shim.dat" u (\$1/1000):(\$2/1048576) w l lw 2 lc rgb "#2ca02c" t "oomshield", \
     $LIM w l dt 2 lc rgb "black" t "limit"
unset multiplot
EOF
		[ -s "$OUT/pressure.png" ] && note "picture: $OUT/pressure.png"
	else
		note "no picture: gnuplot not installed (apt-get install gnuplot-nox)"
	fi
fi

# ---- row 8: idle RSS ---------------------------------------------------------
rss_of() { # CMD... -> VmRSS in KiB of an idle process
	local fifo=$T/fifo pid i
	rm -f "$fifo"; mkfifo "$fifo"
	"$@" <"$fifo" >"$T/idle.out" &
	pid=$!
	exec 3>"$fifo"
	for i in $(seq 100); do grep -q ready "$T/idle.out" 2>/dev/null && break; sleep 0.02; done
	sleep 0.2
	awk '/VmRSS/ {print $2}' /proc/$pid/status
	exec 3>&-
	wait "$pid" || bad "idle program exited $?"
}
if want 8; then
	echo "== 8 idle protected process: VmRSS"
	v=; rounds=$(q 2 5)
	for r in $(seq "$rounds"); do
		a=$(rss_of "$BIN/idle"); b=$(rss_of "${SHIM[@]}" "$BIN/idle")
		v+=" $((b - a))"
	done
	note "deltas KiB: $v (last: plain $a KiB, protected $b KiB)"
	result 8 "idle process RSS" "plain process" "+KiB" "$v" le 512 "plain $a KiB, protected $b KiB"
fi

# ---- rows 16: whole-heap mode (OOMSHIELD_HEAP=1 + jemalloc) --------------------
JE=
for d in /usr/lib/*-linux-gnu /lib/*-linux-gnu; do
	[ -e "$d/libjemalloc.so.2" ] && JE=$d/libjemalloc.so.2 && break
done
NM=$B/tests/progs/nodemap
HEAP=(env OOMSHIELD_HEAP=1 LD_PRELOAD="$LIB $JE" OOMSHIELD_DIR="$DIR")
heap_why=
[ -n "$JE" ] || heap_why="libjemalloc2 is not installed"
[ -x "$NM" ] || heap_why="$NM not built (make tests)"
if want 16a; then
	NMN=$(q 200000 1000000)
	echo "== 16a small objects without pressure: unordered_map of $NMN nodes (inserts, walk, erases, lookups)"
	if [ -n "$heap_why" ]; then skiprow 16a "small objects, no pressure" "$heap_why"
	else
		vg=; vj=; raw=
		for r in $(seq "$(q 2 5)"); do
			t0=$(ms); run_prog o1 "$NM" umap "$NMN"; g=$(( $(ms) - t0 ))
			t0=$(ms); run_prog o2 env LD_PRELOAD="$JE" "$NM" umap "$NMN"; j=$(( $(ms) - t0 ))
			t0=$(ms); run_prog o3 "${HEAP[@]}" "$NM" umap "$NMN"; h=$(( $(ms) - t0 ))
			[ "$o1" = "$o3" ] && [ "$o2" = "$o3" ] || bad "16a: heap-mode output differs"
			vg+=" $(ratio "$h" "$g")"; vj+=" $(ratio "$h" "$j")"; raw+=" $g/$j/$h"
		done
		result 16a "small objects (umap $NMN), no pressure" "plain glibc" "x time" "$vg" le 1.25 \
			"ms glibc/jemalloc/heap:$raw"
		result 16a-je "small objects (umap $NMN), no pressure" "plain jemalloc" "x time" "$vj" - -
	fi
fi
if want 16b; then
	NMN=$(q 300000 1000000)
	# About a third of the plain peak (RSS 23 / 75 MiB); quick: 10 MiB, as
	# under 10 MiB ext4 can find the cgroup full of pages that its own
	# page_mkwrite (GFP_NOFS) cannot reclaim (docs/bench.md 34).
	OLDLIM=$LIM; LIM=$(q 10 24)
	echo "== 16b small objects under a $LIM MiB limit: map of $NMN nodes, --heap against a swap file"
	if [ -n "$heap_why" ]; then skiprow 16b "small objects under pressure" "$heap_why"
	elif [ -n "$pressure_why" ]; then skiprow 16b "small objects under pressure" "$pressure_why"
	else
		in_cg plain "" "$NM" map "$NMN"; plain=$(pr_status)
		v=; shim_ms=; swap_ms=
		for r in $(seq "$PR_ROUNDS"); do
			in_cg shim "" "${HEAP[@]}" "$NM" map "$NMN"; st=$(pr_status); sms=$MS; sout=$OUTP
			[ "$st" = ok ] || { bad "16b heap run: $st"; sms=$((TMO * 1000)); }
			swap_on || { bad "swapon failed"; break; }
			in_cg swap "" "$NM" map "$NMN"; wst=$(pr_status); wms=$MS
			swap_off
			[ "$wst" = ok ] || { note "swap run $r: $wst"; wms=$((TMO * 1000)); }
			[ "$st" != ok ] || [ "$wst" != ok ] || [ "$sout" = "$OUTP" ] || bad "16b: heap-mode output differs"
			v+=" $(ratio "$sms" "$wms")"; shim_ms+=" $sms"; swap_ms+=" $wms"
		done
		result 16b "small objects (map $NMN) under ${LIM}M" "plain + 2G swap file" "x time" "$v" le 1.0 \
			"heap ms:$shim_ms; swap ms:$swap_ms; plain without swap: $plain"
	fi
	LIM=$OLDLIM
fi
if want 16c; then
	echo "== 16c idle process with --heap: VmRSS"
	if [ -z "$JE" ]; then skiprow 16c "idle RSS, heap mode" "libjemalloc2 is not installed"
	else
		v=
		for r in $(seq "$(q 2 5)"); do
			a=$(rss_of "$BIN/idle"); b=$(rss_of "${HEAP[@]}" "$BIN/idle")
			v+=" $((b - a))"
		done
		result 16c "idle process RSS, heap mode" "plain process" "+KiB" "$v" - - "plain $a KiB, heap mode $b KiB"
	fi
fi

# ---- rows 19: program shapes under pressure (issue 19) ---------------------------
# Each shape (bench/shapes.c) at a size whose plain peak is about 1.4x the
# limit: killed plainly under the limit, no pressure under twice the limit.
# Per row: the shim against a swap file under the same limit (target <= 1),
# against the plain program under twice the limit (target <= 3), and what
# the machine wrote against the shape's working set (its plain peak RSS).
SL=$(q 32 64)                        # the shapes' cgroup limit, MiB
SH=$BIN/shapes
PK=$B/tests/progs/peakrss
shape_row() { # ID SHAPE MIB LABEL RUNNER...
	local id=$1 shape=$2 mib=$3 label=$4; shift 4
	local OLDLIM=$LIM OLDTMO=$TMO
	LIM=$SL; TMO=$(q 20 120)
	echo "== $id $label: shapes $shape $mib under a $LIM MiB limit, shim against a swap file"
	if [ -n "$pressure_why" ]; then skiprow "$id" "$label" "$pressure_why"
	elif [ ! -x "$PK" ]; then skiprow "$id" "$label" "$PK not built (make tests)"
	elif [ "$shape" = objs ] && [ -n "$heap_why" ]; then skiprow "$id" "$label" "$heap_why"
	else
		run_prog want_out "$PK" "$T/peak" "$SH" "$shape" "$mib"
		local peak; peak=$(cat "$T/peak" 2>/dev/null || echo 0)
		in_cg plain "$OUT/$id-plain.dat" "$SH" "$shape" "$mib"
		local plain; plain=$(pr_status); note "plain under $LIM MiB, no swap: $plain after $MS ms (peak plain $((peak >> 10)) MiB)"
		local v= v2= wa= wb= shim_ms= swap_ms= two_ms= died=0 capped= r st sms swr wst wms sf
		for r in $(seq "$(q 1 2)"); do
			LIM=$((SL * 2)) in_cg plain "" "$SH" "$shape" "$mib"; local tms=$MS
			[ "$(pr_status)" = ok ] || { bad "$id: plain under $((SL * 2)) MiB: $(pr_status)"; continue; }
			sf=; [ "$r" = 1 ] && sf=$OUT/$id-shim.dat
			in_cg shim "$sf" "$@" "$SH" "$shape" "$mib"; st=$(pr_status); sms=$MS; swr=$WR_KB
			[ "$st" = ok ] || [ "$st" = "too slow (> ${TMO} s)" ] || bad "$id protected run: $st"
			[ "$st" != ok ] || [ "$OUTP" = "$want_out" ] || bad "$id: protected output differs: $OUTP / $want_out"
			[ "$st" = ok ] || { sms=$((TMO * 1000)); capped="; LOWER BOUND: a protected run was stopped at $TMO s"; }
			swap_on || { bad "swapon failed"; break; }
			sf=; [ "$r" = 1 ] && sf=$OUT/$id-swap.dat
			in_cg swap "$sf" "$SH" "$shape" "$mib"; wst=$(pr_status); wms=$MS
			swap_off
			note "round $r: shim $sms ms [$st, wrote $((swr >> 10)) MiB], swap $wms ms [$wst, wrote $((WR_KB >> 10)) MiB], plain under $((SL * 2)) MiB $tms ms"
			case "$st $wst" in *failed*) continue ;; esac
			# A swap run that was killed has no time to compare with.
			case $wst in
			ok) v+=" $(ratio "$sms" "$wms")" ;;
			killed) died=$((died + 1)) ;;
			*) v+=" $(ratio "$sms" $((TMO * 1000)))" ;;
			esac
			v2+=" $(ratio "$sms" "$tms")"
			wa+=" $(ratio "$swr" "$peak")"; wb+=" $(ratio "$WR_KB" "$peak")"
			shim_ms+=" $sms"; swap_ms+=" $wms"; two_ms+=" $tms"
		done
		result "$id" "$label $mib under ${LIM}M" "plain + 2G swap file" "x time" "$v" le 1.0 \
			"shim ms:$shim_ms; swap ms:$swap_ms; plain without swap: $plain$( [ "$died" != 0 ] && echo "; swap OOM-killed in $died round(s), not counted: there the shim's time against plain with room is row $id-2l")$capped"
		result "$id-2l" "$label $mib under ${LIM}M" "plain under $((SL * 2))M" "x time" "$v2" le 3.0 "plain ms:$two_ms$capped"
		local wcmp=- wlim=-; [ "$shape" = lz ] && wcmp=le wlim=3
		result "$id-wa" "$label: written / working set" "swap: x$(stats "$wb" | cut -d' ' -f1)" "x bytes" "$wa" $wcmp $wlim \
			"working set = plain peak RSS $((peak >> 10)) MiB; swap written / working set:$wb"
	fi
	LIM=$OLDLIM; TMO=$OLDTMO
}
want 19a && shape_row 19a sort $((SL * 45 / 100)) "sort-like" "${SHIM[@]}"
want 19b && shape_row 19b lz $((SL * 2 / 15)) "compressor-like" "${SHIM[@]}"
want 19c && shape_row 19c objs "$SL" "interpreter heap" "${HEAP[@]}"
want 19d && shape_row 19d tile $((SL * 4 / 3)) "image tiler" "${SHIM[@]}"
if { want 19a || want 19b || want 19c || want 19d; } && [ -z "$pressure_why" ] && command -v gnuplot >/dev/null; then
	# A row not run this time (BENCH_ONLY) is drawn empty, not left to
	# fail gnuplot on a missing file.
	for id in 19a 19b 19c 19d; do
		for k in plain shim swap; do [ -s "$OUT/$id-$k.dat" ] || echo "0 0" >"$OUT/$id-$k.dat"; done
	done
	{
		echo 'set terminal pngcairo size 1400,1000 font "sans,11" noenhanced'
		echo "set output \"$OUT/shapes.png\""
		echo "set multiplot layout 2,2 title \"issue 19's program shapes under a $SL MiB memory cgroup: memory charged, every 100 ms\""
		echo 'set xlabel "seconds"; set ylabel "MiB"; set grid; set key bottom right'
		echo "set yrange [0:$((SL * 13 / 10))]"
		for s in "19a sort-like" "19b compressor-like" "19c interpreter heap (--heap)" "19d image tiler"; do
			id=${s%% *}
			echo "set title \"$s\""
			echo "plot \"$OUT/$id-plain.dat\" u (\$1/1000):(\$2/1048576) w lp lw 2 pt 2 ps 2 lc rgb \"#d62728\" t \"plain, no swap\", \\"
			echo "  \"$OUT/$id-swap.dat\" u (\$1/1000):(\$2/1048576) w l lw 2 lc rgb \"#1f77b4\" t \"plain + swap file\", \\"
			echo "  \"$OUT/$id-shim.dat\" u (\$1/1000):(\$2/1048576) w l lw 2 lc rgb \"#2ca02c\" t \"oomshield\", \\"
			echo "  $SL w l dt 2 lc rgb \"black\" t \"limit\""
		done
		echo 'unset multiplot'
	} | gnuplot 2>"$T/err" || note "gnuplot failed: $(head -c 300 "$T/err")"
	[ -s "$OUT/shapes.png" ] && note "picture: $OUT/shapes.png"
fi

# ---- row 7: collect ------------------------------------------------------------
if want 7; then
	echo "== 7 DefragTick thread's own CPU (${R7_SECS} s, a tick every ${R7_IV} ms, real /proc, dry run)"
	wait "$R7_READER" 2>/dev/null
	if [ -s "$T/row7" ]; then
		read -r ut st rt t1 <"$T/row7"
		el=$((t1 - R7_T0))
		ticks=$((el / R7_IV))
		hz=$(getconf CLK_TCK)
		# Precise run time from /proc/.../sched (ms) when the kernel has it;
		# else utime+stime in clock ticks (1/$hz s resolution).
		if [ -n "$rt" ]; then cpu_ms=$rt; src="se.sum_exec_runtime"
		else cpu_ms=$(awk -v u="$ut" -v s="$st" -v h="$hz" 'BEGIN {print (u + s) * 1000 / h}'); src="utime+stime"; fi
		pct=$(awk -v c="$cpu_ms" -v e="$el" 'BEGIN {printf "%.5f", c * 100 / e}')
		per=$(awk -v c="$cpu_ms" -v n="$ticks" 'BEGIN {printf "%.1f", c * 1000 / n}')
		tot60=$(awk -v c="$cpu_ms" -v e="$el" 'BEGIN {printf "%.2f", c * 60000 / e}')
		note "$ticks ticks in $el ms: $cpu_ms ms CPU ($src), utime+stime $((ut + st)) ticks of 1/$hz s; $per us/tick; $tot60 ms per 60 s"
		result 7 "DefragTick CPU, tick every ${R7_IV} ms" "-" "% core" "$pct" le 0.01 \
			"$per us per tick; $tot60 ms CPU per 60 s; $ticks ticks; source $src"
	else
		bad "row 7: no thread named oomshield-dfrag found in the protected sleep"
		skiprow 7 "DefragTick CPU" "thread not found"
	fi
fi

mv "$CSV.tmp" "$CSV"
echo
echo "== results ($(( $(date +%s) - START )) s)$( [ -n "$Q" ] && echo ', QUICK mode: timings not judged')"
printf "$FMT\n" row workload baseline unit median min max target met
printf '%s\n' "${ROWS[@]}"
echo "csv: $CSV"
[ "$BAD" = 0 ] || { echo "FAILED: a benchmark program crashed or produced wrong data (see above)"; exit 1; }
exit 0
