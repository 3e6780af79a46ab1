#!/bin/sh
# vm-cgroup.sh - the issue 19 shapes under cgroup v1 and under cgroup v2, in
# one VM kernel (docs/bench.md 42).  Not part of `make bench`: it needs
# root, about 400 MB of Debian packages and, without KVM, a TCG VM that is
# 5-20x slower than the host, so only ratios inside one boot mean anything.
#
#   bench/vm-cgroup.sh v1|v2 SHAPE:MIB:LIMIT_MIB[,...] [ROUNDS]
#   e.g. B=build/x86_64-linux-gnu bench/vm-cgroup.sh v2 lz:2:16,sort:7:16
#   WBPS=41943040 (v2 only): the protected runs' cgroup gets io.max wbps
#   on the disk, the administrator's write cap of docs/bench.md 38.
#   DR=80 DBR=70: the VM's vm.dirty_ratio and vm.dirty_background_ratio.
#
# Per shape and round: plain under twice the limit, the shim (objs: with
# --heap) and a swap file under the limit, each under `timeout 300`.  One
# line per run, "RESULT cg= kind= lim= ... s= wroteMB= out=", on stdout.
# The disk's read-ahead is set to 8192 KiB, as on the machine of the
# README's figures.
set -eu
B=${B:-build/x86_64-linux-gnu}
cg=$1 shapes=$2 rounds=${3:-1}
W=${VMDIR:-/var/tmp/oms-vm}
for p in qemu-system-x86 linux-image-amd64 busybox-static; do
	dpkg -s $p >/dev/null 2>&1 || apt-get install -y --no-install-recommends $p >/dev/null
done
kver=$(ls /boot/vmlinuz-* | sort -V | tail -1 | sed 's|/boot/vmlinuz-||')
rm -rf "$W/root"; mkdir -p "$W"/root/bin "$W"/root/lib/x86_64-linux-gnu "$W"/root/lib64 "$W"/root/proc \
	"$W"/root/sys "$W"/root/dev "$W"/root/tmp "$W"/root/var/tmp "$W"/root/run
cp /bin/busybox "$W/root/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$W/root/bin/$a"; done
cp /lib64/ld-linux-x86-64.so.2 "$W/root/lib64/"
for l in libc.so.6 libgcc_s.so.1 libm.so.6 libstdc++.so.6; do cp "/lib/x86_64-linux-gnu/$l" "$W/root/lib/x86_64-linux-gnu/"; done
cp /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 "$W/root/lib/x86_64-linux-gnu/"
cp "$B/bench/shapes" "$B/liboomshield.so" "$W/root/bin/"
cat > "$W/root/init" <<'EOF'
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
mount -o remount,rw /
CG=$(sed -n 's/.*cg=\(v[12]\).*/\1/p' /proc/cmdline)
SHAPES=$(sed -n 's/.*shapes=\([a-z,0-9:]*\).*/\1/p' /proc/cmdline)
WBPS=$(sed -n 's/.*wbps=\([0-9]*\).*/\1/p' /proc/cmdline)
DR=$(sed -n 's/.* dr=\([0-9]*\).*/\1/p' /proc/cmdline); DBR=$(sed -n 's/.* dbr=\([0-9]*\).*/\1/p' /proc/cmdline)
[ -n "$DR" ] && echo "$DR" > /proc/sys/vm/dirty_ratio
[ -n "$DBR" ] && echo "$DBR" > /proc/sys/vm/dirty_background_ratio
ROUNDS=$(sed -n 's/.*rounds=\([0-9]*\).*/\1/p' /proc/cmdline); [ -n "$ROUNDS" ] || ROUNDS=1
echo 8192 > /sys/block/vda/queue/read_ahead_kb
mkdir -p /sys/fs/cgroup
if [ "$CG" = v1 ]; then
	mount -t tmpfs none /sys/fs/cgroup; mkdir /sys/fs/cgroup/memory; mount -t cgroup -o memory none /sys/fs/cgroup/memory
	R=/sys/fs/cgroup/memory
else
	mount -t cgroup2 none /sys/fs/cgroup; echo "+memory +io" > /sys/fs/cgroup/cgroup.subtree_control; R=/sys/fs/cgroup
fi
[ -e /swapf ] || { dd if=/dev/zero of=/swapf bs=1M count=512 2>/dev/null; chmod 600 /swapf; mkswap /swapf >/dev/null; }
up() { awk '{printf "%d", $1 * 100}' /proc/uptime; }
po() { awk '$1 == "pgpgout" {print $2}' /proc/vmstat; }
run() { # KIND LIM_MIB CMD...
	local kind=$1 lim=$2 c w0 w1 t0 t1 rc mf; shift 2
	N=$((N + 1)); c=$R/r$N; mkdir $c || echo "mkdir $c failed"
	if [ "$CG" = v1 ]; then echo $((lim << 20)) > $c/memory.limit_in_bytes
		if [ "$kind" = swap ]; then echo -1 > $c/memory.memsw.limit_in_bytes; else echo $((lim << 20)) > $c/memory.memsw.limit_in_bytes; fi
	else echo $((lim << 20)) > $c/memory.max
		if [ "$kind" = swap ]; then echo max > $c/memory.swap.max; else echo 0 > $c/memory.swap.max; fi
		# v2's write cap on the backing disk, for the protected runs only
		[ -n "$WBPS" ] && [ "$kind" != plain ] && [ "$kind" != swap ] &&
			echo "$(cat /sys/block/vda/dev) wbps=$WBPS" > $c/io.max
	fi
	[ "$kind" = swap ] && swapon /swapf
	sync; echo 3 > /proc/sys/vm/drop_caches
	w0=$(po); t0=$(up)
	case $kind in
	shim) sh -c 'echo $$ > "$0/cgroup.procs"; exec timeout -s KILL 300 env LD_PRELOAD=/bin/liboomshield.so OOMSHIELD_DIR=/var/tmp "$@"' $c "$@" > /tmp/out 2>/tmp/err ;;
	heap) sh -c 'echo $$ > "$0/cgroup.procs"; exec timeout -s KILL 300 env LD_PRELOAD="/bin/liboomshield.so /lib/x86_64-linux-gnu/libjemalloc.so.2" OOMSHIELD_HEAP=1 OOMSHIELD_DIR=/var/tmp "$@"' $c "$@" > /tmp/out 2>/tmp/err ;;
	*) sh -c 'echo $$ > "$0/cgroup.procs"; exec timeout -s KILL 300 "$@"' $c "$@" > /tmp/out 2>/tmp/err ;;
	esac
	rc=$?
	t1=$(up); w1=$(po)
	mf=$(awk '$1 == "pgmajfault" {print $2}' $c/memory.stat)
	[ "$kind" = swap ] && swapoff /swapf
	for p in $(cat $c/cgroup.procs); do kill -9 $p; done 2>/dev/null; sleep 1; rmdir $c 2>/dev/null
	echo "RESULT cg=$CG kind=$kind lim=$lim cmd=$* rc=$rc s=$(( (t1 - t0) / 100 )).$(( (t1 - t0) % 100 )) wroteMB=$(( (w1 - w0) / 1024 )) majflt=$mf out=$(cat /tmp/out) err=$(head -c 160 /tmp/err | tr '\n' ' ')"
}
N=0
echo "BOOT cg=$CG wbps=$WBPS dirty_ratio=$(cat /proc/sys/vm/dirty_ratio) dirty_background_ratio=$(cat /proc/sys/vm/dirty_background_ratio) shapes=$SHAPES kernel=$(uname -r)"
for spec in $(echo $SHAPES | tr ',' ' '); do
	shape=${spec%%:*} rest=${spec#*:}; mib=${rest%%:*} lim=${rest#*:}
	for r in $(seq $ROUNDS); do
		run plain $((lim * 2)) shapes $shape $mib
		if [ $shape = objs ]; then run heap $lim shapes $shape $mib; else run shim $lim shapes $shape $mib; fi
		run swap $lim shapes $shape $mib
	done
done
echo "DONE"
sync
poweroff -f
EOF
sed -i '1i #!/bin/sh' "$W/root/init"
chmod +x "$W/root/init"
rm -f "$W/root.img"; truncate -s 3G "$W/root.img"; mkfs.ext4 -q -d "$W/root" -F "$W/root.img"
qemu-system-x86_64 -accel tcg,thread=multi -smp 2 -m 1024 -nographic -no-reboot \
	-kernel "/boot/vmlinuz-$kver" -initrd "/boot/initrd.img-$kver" \
	-drive file="$W/root.img",format=raw,if=virtio,cache=writeback \
	-append "console=ttyS0 root=/dev/vda rw init=/init quiet cg=$cg shapes=$shapes rounds=$rounds${WBPS:+ wbps=$WBPS}${DR:+ dr=$DR}${DBR:+ dbr=$DBR}" |
	tr -d '\r' | grep -E '^(BOOT|RESULT|DONE|mkdir)'
