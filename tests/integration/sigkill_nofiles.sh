# SIGKILL while holding file-backed blocks leaves no file behind.
. tests/lib/common.sh
mkfifo "$T/in" "$T/out"
OOMSHIELD_THRESHOLD=1M run_shim "$P/hold" 64 8 < "$T/in" > "$T/out" &
pid=$!
exec 3> "$T/in"           # hold stdin open until we kill it
read -r word hpid < "$T/out" || fail "hold did not start"
[ "$word" = ready ] || fail "hold said '$word'"
n=$(grep -c 'rw-s .*(deleted)' /proc/$hpid/maps)
[ "$n" -ge 8 ] || fail "expected 8 file-backed blocks, saw $n"
kill -KILL "$hpid"
wait $pid 2>/dev/null
exec 3>&-
rm -f "$T/in" "$T/out"
assert_dir_empty "$T"
