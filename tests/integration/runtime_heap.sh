# A runtime that reserves its heap PROT_NONE and commits it page by page
# with mprotect (node's V8; issue 16, item 4): at the default threshold its
# heap pages live in the backing files, its output is unchanged, and under
# a memory-cgroup limit of a third of its peak it completes where it is
# OOM-killed plainly.
. tests/lib/common.sh
node=$(command -v node || command -v nodejs) || skip "node is not installed (apt-get install nodejs)"
cat > "$T/map.js" <<'EOF'
const m = new Map(), n = +process.argv[2];
for (let i = 0; i < n; i++) m.set('k' + i, {a: i, b: 'v' + i});
let s = 0;
for (const [k, v] of m) s += v.a + k.length;
console.log(m.size, s);
console.error('maxrss_kb', process.resourceUsage().maxRSS);
EOF
N=600000
"$node" "$T/map.js" $N > "$T/plain" 2> "$T/perr" || fail "plain run failed: $(tail -3 "$T/perr")"
peak=$(sed -n 's/^maxrss_kb //p' "$T/perr")
[ -n "$peak" ] || fail "no peak from the plain run: $(cat "$T/perr")"
OOMSHIELD_STATS=1 OOMSHIELD_LOG_FILE="$T/log" run_shim "$node" "$T/map.js" $N > "$T/shim" 2>/dev/null ||
	fail "protected run failed: $(cat "$T/log")"
cmp -s "$T/plain" "$T/shim" || fail "output differs: $(cat "$T/plain") / $(cat "$T/shim")"
# V8's heap pages are 256 KiB, committed one by one: hundreds of them ours.
blocks=$(sed -n 's/.*stats: blocks=\([0-9]*\) .*/\1/p' "$T/log")
[ "${blocks:-0}" -ge 100 ] || fail "the heap's pages were not redirected: $(grep stats: "$T/log")"
# What stays outside the files (code, stacks, V8's own tables) must fit.
unprot=$(sed -n 's/.*unprotected=anon=\([0-9]*\)K.*/\1/p' "$T/log")
rm -f "$T/log" "$T/shim" "$T/perr"
lim=$((peak / 3 / 1024))
[ $((unprot / 1024 + 16)) -le $lim ] ||
	skip "output and redirection passed; this node keeps $((unprot / 1024)) MiB outside its heap, too much for a limit of a third of its $((peak / 1024)) MiB peak"
cg_make $((lim << 20)) || skip "output and redirection passed; cgroup case: $CG_WHY"
cg_run "$node" "$T/map.js" $N > "$T/out" 2>/dev/null
rc=$?
cg_drop
[ $rc = 137 ] || fail "plain node under $lim MiB (peak $((peak / 1024)) MiB) was not OOM-killed: rc $rc"
cg_make $((lim << 20)) || fail "cannot make the cgroup again: $CG_WHY"
OOMSHIELD_LOG_FILE="$T/log" cg_run timeout 300 env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$T" \
	"$node" "$T/map.js" $N > "$T/out" 2>/dev/null
rc=$?
cg_drop
[ $rc = 0 ] || fail "protected node under $lim MiB failed: rc $rc: $(tail -3 "$T/log" 2>/dev/null)"
cmp -s "$T/plain" "$T/out" || fail "output under the limit differs"
rm -f "$T/plain" "$T/out" "$T/map.js" "$T/log"
assert_dir_empty "$T"
