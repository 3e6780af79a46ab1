# The shim grows the fd table past its descriptor floor in the constructor,
# while the process is single-threaded.  Growing it later, once threads
# share the table, costs an RCU grace period in the kernel (10-15 ms
# measured for the first file-backed block); bench row 3 shows the effect.
. tests/lib/common.sh
lim=$(ulimit -n)
[ "$lim" = unlimited ] || [ "$lim" -gt 1024 ] || skip "RLIMIT_NOFILE $lim is small: the shim keeps its fds low and the table as it is"
size=$(run_shim sh -c 'sed -n "s/^FDSize:[[:space:]]*//p" /proc/$$/status')
[ -n "$size" ] || fail "no FDSize in /proc/self/status"
[ "$size" -gt 512 ] || fail "fd table not grown in the constructor: FDSize $size"
plain=$(sh -c 'sed -n "s/^FDSize:[[:space:]]*//p" /proc/$$/status')
size=$(OOMSHIELD_DISABLE=1 run_shim sh -c 'sed -n "s/^FDSize:[[:space:]]*//p" /proc/$$/status')
[ "$size" = "$plain" ] || fail "OOMSHIELD_DISABLE=1 still grew the fd table ($size, plain $plain)"
exit 0
