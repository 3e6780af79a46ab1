# A sanitizer build (TSan, LSan) brings a runtime that replaces malloc and
# intercepts the libc calls the shim makes. Before it has initialised those
# calls jump to a null pointer: TSan programs died with SIGSEGV under the
# shim. The shim must stand aside: the same output as a plain run, exit 0,
# and one warning line.
. tests/lib/common.sh
src=tests/progs/sanprog.c
ran=
for san in thread leak; do
	bin=$T/san-$san
	gcc -O1 -g -fsanitize=$san -o "$bin" "$src" -lpthread 2>/dev/null || continue
	"$bin" > "$T/plain" 2>"$T/plain.err" || { rm -f "$bin"; continue; }  # runtime unusable here
	run_shim "$bin" > "$T/shim" 2>"$T/err" || fail "-fsanitize=$san: rc $? under the shim: $(tail -3 "$T/err")"
	cmp -s "$T/plain" "$T/shim" || fail "-fsanitize=$san: output differs"
	grep -q 'replaces malloc in this program (a sanitizer build): it runs unprotected' "$T/err" ||
		fail "-fsanitize=$san: no warning: $(cat "$T/err")"
	[ "$(grep -c . "$T/err")" = 1 ] || fail "-fsanitize=$san: more than one line on stderr: $(cat "$T/err")"
	ran="$ran $san"
	rm -f "$bin" "$T/plain" "$T/plain.err" "$T/shim" "$T/err"
done
[ -n "$ran" ] || skip "no sanitizer runtime usable here (gcc -fsanitize=thread/leak failed to build or run)"
echo "stood aside for:$ran"
assert_dir_empty "$T"
