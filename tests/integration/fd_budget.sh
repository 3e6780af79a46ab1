# The shim never crowds a program out of its fd table.  Under Debian's
# default soft limit (1024 fds) a program holding 1100 large blocks can
# still open files: the shim uses at most a quarter of the table, at the
# top, and serves further blocks from ordinary memory (cause "mfile").
. tests/lib/common.sh
PY=/usr/bin/python3
[ -x $PY ] || skip "no $PY"
mkdir "$T/d"
E=$T/err
out=$( (ulimit -n 1024 && OOMSHIELD_THRESHOLD=64K OOMSHIELD_STATS=1 env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$T/d" $PY -c '
import os
blocks = [bytearray(100000) for _ in range(1100)]
for i, b in enumerate(blocks):
    b[0] = i & 255
fds = [open("/dev/null") for _ in range(300)]
ok = all(b[0] == i & 255 for i, b in enumerate(blocks))
print("ok" if ok else "bad", min(f.fileno() for f in fds))
') 2>"$E")
[ "${out%% *}" = ok ] || fail "program failed under a 1024-fd limit: $out $(cat "$E")"
[ "${out#ok }" -lt 512 ] || fail "the program's fds were pushed up: lowest $out"
grep -q 'mfile=[1-9]' "$E" || fail "no block fell back for the fd budget: $(cat "$E")"
grep -q 'blocks=[1-9]' "$E" || fail "no block was redirected at all: $(cat "$E")"
assert_dir_empty "$T/d"
exit 0
