# Anonymous mmap semantics on 64 MiB redirected mappings: fresh zero pages,
# partial munmap, mremap (in place, MAYMOVE, shrink, FIXED), madvise
# (DONTNEED/FREE read zero, DONTFORK, WIPEONFORK), mprotect, MAP_FIXED over
# ours, fork, mlock, thousands of mappings, requests the kernel refuses
# (unaligned or zero-length mremap), MREMAP_DONTUNMAP, DONTNEED on locked
# memory, DONTNEED_LOCKED, locked or RLIMIT_AS-tight reuse of freed blocks, DONTDUMP and
# WIPEONFORK across forks, many forks, mremap of a frozen region a DONTNEED
# split, PROT_NONE reservations made writable by mprotect; pass-through of everything that
# must not be redirected; disk use back to zero.  Also run plain, to prove
# the test itself holds for ordinary anonymous memory.
. tests/lib/common.sh
"$P/maps" all || fail "maps semantics fail even without the shim"
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K run_shim timeout 300 "$P/maps" all || fail "maps semantics under the shim"
# Past OOMSHIELD_MAX a MAYMOVE growth moves to anonymous memory, not ENOMEM.
EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K OOMSHIELD_MAX=100M run_shim "$P/maps" mremapmax || fail "mremap growth past OOMSHIELD_MAX"
# Reservations past OOMSHIELD_MAX: the commits that do not fit stay anonymous.
OOMSHIELD_MAX=4M run_shim "$P/maps" resv 2>/dev/null || fail "reservations past OOMSHIELD_MAX"
# Requests the kernel refuses are not fallbacks: no count, no log line.
err=$(EXPECT_SHIM=1 OOMSHIELD_THRESHOLD=64K OOMSHIELD_STATS=1 run_shim "$P/maps" mremapbad 2>&1 >/dev/null) ||
	fail "mremapbad: $err"
case "$err" in *"cannot place"*|*"max=[1-9]"*) fail "a refused request counted as a fallback: $err" ;; esac
case "$err" in *"fallbacks=nospc=0,fbig=0,max=0,"*) ;; *) fail "no clean stats line: $err" ;; esac
assert_dir_empty "$T"
