# The JVM reserves its heap PROT_NONE and commits it with mmap(MAP_FIXED,
# PROT_READ|PROT_WRITE) inside the reservation (issue 16, item 4): those
# commits live in the backing files, the output is unchanged, and under a
# memory-cgroup limit of a third of its peak a HashMap program completes
# where it is OOM-killed plainly.
. tests/lib/common.sh
command -v java >/dev/null && command -v javac >/dev/null ||
	skip "no java/javac (apt-get install default-jdk-headless)"
cat > "$T/J.java" <<'EOF'
import java.util.*;
public class J {
	public static void main(String[] a) {
		int n = Integer.parseInt(a[0]);
		HashMap<Integer, String> m = new HashMap<>();
		for (int i = 0; i < n; i++) m.put(i, "v" + i);
		long s = 0;
		for (var e : m.entrySet()) s += e.getKey() + e.getValue().length();
		System.out.println(m.size() + " " + s);
	}
}
EOF
javac -d "$T" "$T/J.java" 2>"$T/err" || skip "javac cannot build the test program: $(tail -1 "$T/err")"
N=3000000
# A fixed heap size: the JVM sizes its heap from the cgroup limit otherwise.
J="java -Xmx1g -Xms64m -cp $T J $N"
$J > "$T/plain" 2> "$T/err" || fail "plain run failed: $(tail -3 "$T/err")"
OOMSHIELD_STATS=1 OOMSHIELD_LOG_FILE="$T/log" run_shim $J > "$T/shim" 2>/dev/null ||
	fail "protected run failed: $(cat "$T/log")"
cmp -s "$T/plain" "$T/shim" || fail "output differs: $(cat "$T/plain") / $(cat "$T/shim")"
# The heap is committed in large parts: hundreds of MiB of it ours, and
# what stays anonymous is the JVM's own (code, metaspace, stacks).
bytes=$(sed -n 's/.*stats: blocks=[0-9]* bytes=\([0-9]*\) .*/\1/p' "$T/log")
[ "${bytes:-0}" -ge $((200 << 20)) ] || fail "the heap was not redirected: $(grep stats: "$T/log")"
rm -f "$T/log" "$T/shim" "$T/err"
cg_make $((150 << 20)) || skip "output and redirection passed; cgroup case: $CG_WHY"
cg_run $J > "$T/out" 2>/dev/null
rc=$?
cg_drop
[ $rc = 137 ] || fail "plain java under 150 MiB was not OOM-killed: rc $rc"
cg_make $((150 << 20)) || fail "cannot make the cgroup again: $CG_WHY"
OOMSHIELD_LOG_FILE="$T/log" cg_run timeout 300 env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$T" $J \
	> "$T/out" 2>/dev/null
rc=$?
cg_drop
[ $rc = 0 ] || fail "protected java under 150 MiB failed: rc $rc: $(tail -3 "$T/log" 2>/dev/null)"
cmp -s "$T/plain" "$T/out" || fail "output under the limit differs"
rm -rf "$T/plain" "$T/out" "$T/J.java" "$T/J.class" "$T/log" "$T"/hsperfdata_* 2>/dev/null
assert_dir_empty "$T"
