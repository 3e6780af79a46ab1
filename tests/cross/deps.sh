#!/bin/sh
# deps.sh - install what `make check-cross-quick` / `make check-cross` use:
# gcc-multilib for ARCH=i386, Check and libelf for i386 through multiarch,
# the Debian ARM cross compilers, qemu-user, and (where the archive has
# them) Check for armhf/arm64.  Idempotent: adds architectures and installs
# packages only when missing; runs apt-get update only when it must.
# Needs root (it says so and exits 0 without it: the targets then skip).
# Env: CROSS_DEPS=quick   only what check-cross-quick needs (i386 + armhf)
set -u
[ "$(id -u)" = 0 ] || { echo "deps.sh: not root, installing nothing (cross targets will skip)"; exit 0; }
command -v apt-get >/dev/null || { echo "deps.sh: no apt-get, installing nothing"; exit 0; }
export DEBIAN_FRONTEND=noninteractive

mode=${CROSS_DEPS:-full}
arches="i386 armhf"
[ "$mode" = quick ] || arches="$arches arm64"

need_update=0
for a in $arches; do
	if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
		dpkg --add-architecture "$a"
		need_update=1
	fi
done

# Packages every run needs; the others are optional (a foreign Check or
# libelf that cannot be co-installed only costs the unit tests or the
# checker tool for that target).
# Not gcc-multilib/g++-multilib: in Debian 12 those metapackages Conflict
# with every gcc-*-linux-gnu* cross compiler.  gcc-12-multilib and
# g++-12-multilib (what they pull in, what `gcc -m32` needs) do not.
gccv=$(gcc -dumpversion 2>/dev/null | cut -d. -f1)
gccv=${gccv:-12}
base="gcc-$gccv-multilib g++-$gccv-multilib qemu-user
check:i386 libsubunit-dev:i386
gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf"
opt="libelf-dev:i386 check:armhf libsubunit-dev:armhf"
if [ "$mode" != quick ]; then
	base="$base gcc-aarch64-linux-gnu g++-aarch64-linux-gnu"
	opt="$opt check:arm64 libsubunit-dev:arm64"
fi

missing() { # prints the packages of "$@" that are not installed
	for p in "$@"; do
		dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed || echo "$p"
	done
}
todo=$(missing $base)
otodo=$(missing $opt)
[ -z "$todo$otodo" ] && [ $need_update = 0 ] && { echo "deps.sh: all cross packages present"; exit 0; }

apt_get() { # retry while another apt holds the lock
	i=0
	while ! apt-get -o DPkg::Lock::Timeout=120 "$@"; do
		i=$((i + 1)); [ $i -ge 3 ] && return 1; sleep 5
	done
}
apt_get update -qq || echo "deps.sh: apt-get update failed; trying with the lists we have"
status=0
if [ -n "$todo" ]; then
	echo "deps.sh: installing" $todo
	apt_get install -y -qq --no-install-recommends $todo || status=1
fi
for p in $otodo; do   # one by one: one that conflicts must not stop the others
	apt_get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 ||
		echo "deps.sh: optional $p could not be installed (the cross targets skip what needs it)"
done
[ $status = 0 ] || echo "deps.sh: some packages failed to install; the cross targets skip what they lack"
exit 0
