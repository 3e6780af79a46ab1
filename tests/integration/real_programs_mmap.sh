# Real programs whose own allocators use mmap, threshold 64K so that their
# arenas are redirected: python3's test suite including fork-heavy
# multiprocessing, and node building and hashing a large Buffer.
. tests/lib/common.sh
py=/usr/bin/python3
if [ -x $py ] && $py -c 'import test.regrtest' 2>/dev/null; then
	OOMSHIELD_THRESHOLD=64K run_shim timeout 1200 $py -m test -q test_mmap test_bytes test_array \
		test_multiprocessing_fork > "$T/pt" 2>&1 || fail "python tests under the shim: $(tail -20 "$T/pt")"
	grep -q SUCCESS "$T/pt" || fail "python: $(tail -5 "$T/pt")"
	rm -f "$T/pt"
	pydone=1
fi
node=$(command -v node || command -v nodejs)
if [ -n "$node" ]; then
	js='const c=require("crypto");const b=Buffer.alloc(200<<20);for(let i=0;i<b.length;i+=4096)b[i]=i%251;console.log(c.createHash("sha256").update(b).digest("hex"), b.length)'
	want=$($node -e "$js") || fail "node plain failed"
	got=$(OOMSHIELD_THRESHOLD=64K run_shim $node -e "$js") || fail "node under the shim failed"
	[ "$want" = "$got" ] || fail "node output differs: $want vs $got"
fi
assert_dir_empty "$T"
[ -n "$pydone" ] || skip "node passed; python's test suite is not installed (libpython3.11-testsuite)"
[ -n "$node" ] || skip "python passed; node is not installed"
exit 0
