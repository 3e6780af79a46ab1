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

# Packages of the build machine's architecture go in one apt-get call;
# foreign-architecture ones one by one, since one that cannot be had (its
# index mid-sync on the mirror, or a version behind the native package it
# must match) must not stop the others.  Whatever is missing is skipped by
# the make targets with a reason.
# Not gcc-multilib/g++-multilib: in Debian 12 those metapackages Conflict
# with every gcc-*-linux-gnu* cross compiler.  gcc-12-multilib and
# g++-12-multilib (what they pull in, what `gcc -m32` needs) do not.
gccv=$(gcc -dumpversion 2>/dev/null | cut -d. -f1)
gccv=${gccv:-12}
base="gcc-$gccv-multilib g++-$gccv-multilib qemu-user
gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf"
foreign="check:i386 libsubunit-dev:i386 check:armhf libsubunit-dev:armhf"
if [ "$mode" != quick ]; then
	base="$base gcc-aarch64-linux-gnu g++-aarch64-linux-gnu"
	foreign="$foreign check:arm64 libsubunit-dev:arm64"
fi
# Tried only when something above is missing: the i386 libelf often cannot
# be had (it must match the native libelf1's version); it only costs the
# i386 oomshield-check.
optional="libelf-dev:i386"

missing() { # prints the packages of "$@" that are not installed
	for p in "$@"; do
		dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed || echo "$p"
	done
}
todo=$(missing $base)
otodo=$(missing $foreign)
[ -z "$todo$otodo" ] && [ $need_update = 0 ] && { echo "deps.sh: all cross packages present"; exit 0; }

apt_get() { # retry while another apt holds the lock
	i=0
	while ! apt-get -o DPkg::Lock::Timeout=120 "$@"; do
		i=$((i + 1)); [ $i -ge 3 ] && return 1; sleep 5
	done
}
apt-get -o DPkg::Lock::Timeout=120 update -qq >/dev/null 2>&1 ||
	echo "deps.sh: apt-get update reported errors (a foreign index mid-sync?); installing from the lists it has"
status=0
if [ -n "$todo" ]; then
	echo "deps.sh: installing" $todo
	apt_get install -y -qq --no-install-recommends $todo || status=1
fi
for p in $otodo $(missing $optional); do
	apt_get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 ||
		echo "deps.sh: $p could not be installed (the cross targets skip what needs it)"
done
[ $status = 0 ] || echo "deps.sh: some packages failed to install; the cross targets skip what they lack"
exit 0
