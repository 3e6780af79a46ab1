# Programs nobody here wrote, unmodified, threshold 64K: output must be
# byte-identical to a plain run.
. tests/lib/common.sh
same() { # name cmd...: compare stdout of plain and protected runs; with
	# REDIRECTED=1, the protected run must really have used backing files
	name=$1; shift
	"$@" > "$T/plain" 2>/dev/null || fail "$name: plain run failed"
	# The stats go to a log file: sort and friends close stderr at exit.
	rm -f "$T/log"
	OOMSHIELD_THRESHOLD=64K OOMSHIELD_STATS=1 OOMSHIELD_LOG_FILE="$T/log" run_shim "$@" \
		> "$T/shim" 2>"$T/err" || fail "$name: protected run failed: $(tail -3 "$T/err")"
	cmp -s "$T/plain" "$T/shim" || fail "$name: output differs"
	[ "${REDIRECTED:-0}" = 0 ] || grep -q 'stats: blocks=[1-9]' "$T/log" ||
		fail "$name: nothing was redirected: $(grep stats: "$T/log")"
}
awk 'BEGIN { srand(7); for (i = 0; i < 600000; i++) printf "%08d line %d %s\n", int(rand() * 1e8), i, (i % 7 ? "x" : "yy") }' > "$T/in"
REDIRECTED=1 same sort sort -S 64M "$T/in"
same sort-n sort -n -r -k3 "$T/in"
REDIRECTED=1 same xz sh -c "xz -9 -c '$T/in' | xz -d -c | md5sum"
same xz-lzma sh -c "xz -6e -T1 -c '$T/in' | md5sum"
same gzip sh -c "gzip -c '$T/in' | md5sum"
same awk awk '{ a[$1 % 100000] += length($0) } END { n = 0; for (k in a) n += a[k]; print n }' "$T/in"
py=/usr/bin/python3
[ -x $py ] || skip "native programs passed; /usr/bin/python3 missing for the python suite"
REDIRECTED=1 same python $py -c "
import hashlib, zlib
b = bytearray(40 << 20)
for i in range(0, len(b), 4096): b[i] = i % 251
d = {i: str(i) * 3 for i in range(300000)}
l = sorted(d.values(), key=lambda s: s[::-1])
print(hashlib.sha256(bytes(b)).hexdigest(), len(zlib.compress(bytes(b))), l[:3], l[-1])
"
rm -f "$T/in" "$T/plain" "$T/shim" "$T/err" "$T/log"
$py -c 'import test.regrtest' 2>/dev/null ||
	skip "native programs and python passed; python's test suite is not installed (libpython3.11-testsuite)"
OOMSHIELD_THRESHOLD=64K run_shim timeout 900 $py -m test -q test_bytes test_array test_mmap test_zlib > "$T/pt" 2>&1 ||
	fail "python test suite under the shim: $(tail -15 "$T/pt")"
grep -q "SUCCESS" "$T/pt" || fail "python test suite: no SUCCESS: $(tail -5 "$T/pt")"
rm -f "$T/pt"
assert_dir_empty "$T"
