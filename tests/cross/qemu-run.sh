#!/bin/sh
# qemu-run.sh TRIPLET PROG [ARGS...] - run a test program built for TRIPLET:
# natively for x86 triplets, under qemu-user (qemu-arm, qemu-aarch64) for
# ARM ones.  The program's environment is this script's, except that
# LD_PRELOAD is handed to the emulated program with qemu's -E (set in
# qemu's own environment it would be preloaded into the x86 qemu binary).
# GUEST_LD_PRELOAD, if set, is used instead of LD_PRELOAD: callers that are
# themselves x86 processes (this script is one) set it to keep ld.so from
# printing "wrong ELF class" for every host process on the way.
#
# Sysroot: the cross toolchain's libc (libc6-<arch>-cross, /usr/TRIPLET/lib)
# and the multiarch libc6:<arch> that Check for the target pulls in may be
# different Debian revisions of glibc; an ld.so of one with the libc of the
# other crashes in pthread_create.  So the guest's ld.so comes from the
# -L prefix and LD_LIBRARY_PATH pins libc (and libstdc++) to the same
# directory; Check and subunit still come from /usr/lib/TRIPLET.
# OMS_UNDER_QEMU=1 is set in the guest's environment (and unset for native
# runs): the Check unit tests skip, with a printed reason, the few checks
# that see the emulator instead of the shim (tests/unit/unit_util.h).
# Exit: the program's status; 127 with a reason if qemu is missing.
t=$1; shift
case $t in
x86_64-*|i386-*|i686-*|"")
	unset OMS_UNDER_QEMU
	[ -n "${GUEST_LD_PRELOAD-}" ] && { LD_PRELOAD=$GUEST_LD_PRELOAD; export LD_PRELOAD; }
	unset GUEST_LD_PRELOAD
	exec "$@" ;;
arm-*|armv7*) q=qemu-arm ;;
aarch64-*) q=qemu-aarch64 ;;
*) q=qemu-${t%%-*} ;;
esac
command -v "$q" >/dev/null 2>&1 || { echo "qemu-run.sh: $q not installed (apt-get install qemu-user)" >&2; exit 127; }
set -- -L "/usr/$t" -E "LD_LIBRARY_PATH=/usr/$t/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
	-E OMS_UNDER_QEMU=1 "$@"
pre=${GUEST_LD_PRELOAD:-${LD_PRELOAD-}}
unset LD_PRELOAD GUEST_LD_PRELOAD
[ -n "$pre" ] && set -- -E "LD_PRELOAD=$pre" "$@"
exec "$q" "$@"
