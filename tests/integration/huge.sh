# Large folios on request.  OOMSHIELD_HUGEPAGE=1 (or the program asking
# glibc with glibc.malloc.hugetlb=1): blocks of 2 MiB or more start on a
# 2 MiB boundary with MADV_HUGEPAGE, also after realloc moves them, and the
# data is right; a block the program advised itself keeps its advice.
# By default nothing changes.  A kernel whose THP is "never" gets one
# clear line.  Under a memory cgroup, random paging makes
# the shim give large folios up (MADV_NOHUGEPAGE) with every record intact.
. tests/lib/common.sh
H=$P/hugeprog
thp=$T/fake/sys/kernel/mm/transparent_hugepage
mkdir -p "$thp"
echo 2097152 >"$thp/hpage_pmd_size"
echo "always [madvise] never" >"$thp/enabled"
export OOMSHIELD_PROC_ROOT=$T/fake
mkdir "$T/data"
run_shim() { env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$T/data" "$@"; }
[ -r /sys/kernel/mm/transparent_hugepage/enabled ] ||
	skip "this kernel has no transparent huge pages (/sys/kernel/mm/transparent_hugepage)"
grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled &&
	skip "transparent huge pages are 'never' on this machine: MADV_HUGEPAGE is refused"

expect() { # WHAT OUTPUT PATTERN
	case "$2" in $3) ;; *) fail "$1: expected '$3', got '$2'" ;; esac
}
out=$(run_shim "$H" flags 8) || fail "default: program failed"
expect "default" "$out" "*hg=0*"
out=$(OOMSHIELD_HUGEPAGE=0 GLIBC_TUNABLES=glibc.malloc.hugetlb=1 run_shim "$H" flags 8) ||
	fail "knob 0: program failed"
expect "OOMSHIELD_HUGEPAGE=0 beats the tunable" "$out" "*hg=0*"
out=$(OOMSHIELD_HUGEPAGE=1 run_shim "$H" flags 8 2>"$T/err") || fail "knob 1: program failed"
expect "OOMSHIELD_HUGEPAGE=1" "$out" "aligned=1 hg=1 *"
[ -s "$T/err" ] && fail "OOMSHIELD_HUGEPAGE=1 logged: $(cat "$T/err")"
echo "large folios here: FilePmdMapped ${out##*pmd_kb=} kB of 8192 (0 where the filesystem has none)"
out=$(GLIBC_TUNABLES=glibc.malloc.hugetlb=1 run_shim "$H" flags 8) || fail "tunable: program failed"
expect "glibc.malloc.hugetlb=1" "$out" "aligned=1 hg=1 *"
out=$(OOMSHIELD_HUGEPAGE=1 run_shim "$H" flags 1) || fail "1 MiB: program failed"
expect "a block below 2 MiB" "$out" "*hg=0*"
out=$(OOMSHIELD_HUGEPAGE=1 run_shim "$H" grow 40) || fail "realloc growth: wrong data or failure"
expect "realloc growth" "$out" "aligned=1 hg=1 *"
out=$(OOMSHIELD_HUGEPAGE=1 run_shim "$H" own 4) || fail "the program's own advice: program failed"
expect "the program's own MADV_NOHUGEPAGE, then realloc" "$out" "*hg=0 nh=1*"

echo "always madvise [never]" >"$thp/enabled"
out=$(OOMSHIELD_HUGEPAGE=1 run_shim "$H" flags 8 2>"$T/err") || fail "THP never: program failed"
expect "THP never" "$out" "*hg=0*"
grep -q "OOMSHIELD_HUGEPAGE=1: no transparent huge pages here (they are 'never')" "$T/err" ||
	fail "THP never: no clear line: $(cat "$T/err")"
[ "$(grep -c oomshield "$T/err")" = 1 ] || fail "THP never: more than one line: $(cat "$T/err")"
# asked through glibc's tunable only: glibc says nothing there, nor do we
out=$(GLIBC_TUNABLES=glibc.malloc.hugetlb=1 run_shim "$H" flags 8 2>"$T/err") ||
	fail "THP never, tunable: program failed"
[ -s "$T/err" ] && fail "THP never, tunable only: a line on stderr: $(cat "$T/err")"
echo "always [madvise] never" >"$thp/enabled"

# Giving up: 96 MiB of records touched at random under a 48 MiB limit
# (48 groups of 2 MiB: random refaults of 2 MiB each hit many of them).
cg_make $((48 << 20)) || skip "$CG_WHY (the rest passed)"
out=$(cg_run timeout 120 env OOMSHIELD_HUGEPAGE=1 OOMSHIELD_LOG=debug LD_PRELOAD="$LIB" \
	OOMSHIELD_DIR="$T/data" "$H" rand 96 60 2>"$T/err"); rc=$?
cg_drop
[ $rc = 0 ] || fail "random paging under the limit: exit $rc: $(tail -n 5 "$T/err")"
expect "random paging" "$out" "*nh=1*"
grep -q "random paging (.*): 4 KiB pages from now on" "$T/err" ||
	fail "no give-up line: $(grep -v read-around "$T/err" | tail -n 5)"
echo "gave up: $(grep -o 'random paging.*' "$T/err")"
assert_dir_empty "$T/data"
exit 0
