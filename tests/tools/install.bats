#!/usr/bin/env bats
# install.bats - make install / uninstall-tools honour PREFIX and DESTDIR;
# the installed launcher finds the installed library in the multiarch
# libdir, and the man pages are where man looks for them.

load helpers

setup() {
	need_lib
	command -v make >/dev/null || skip "make not installed"
	# The installed launcher must find the installed library by itself.
	unset OOMSHIELD_LIB
	P=$BATS_TEST_TMPDIR/prefix
	D=$(backing_dir)
	# Run make quietly from the top of the tree; MAKEFLAGS from an outer
	# make check must not leak in (jobserver, -n, ...).
	# ARCH (from make check-tools) keeps an ARCH=i386 run on its own tree.
	mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT" ${ARCH:+ARCH=$ARCH} "$@" >/dev/null; }
}

teardown() {
	rm -rf "$D"
}

@test "make install PREFIX=...: library, tools, man pages; launcher works from there" {
	need_native
	mk install PREFIX="$P"
	[ -f "$P/lib/$TRIPLET/liboomshield.so" ]
	for t in oomshield oomshield-check oomshield-status; do
		[ -x "$P/bin/$t" ]
	done
	[ -f "$P/share/man/man1/oomshield.1" ]
	[ -f "$P/share/man/man1/oomshield-check.1" ]
	[ -f "$P/share/man/man7/oomshield.7" ]
	! grep -q '@[A-Z]*@' "$P/bin/oomshield"
	run "$P/bin/oomshield" -n -d "$D" true
	[[ "$output" == *"export LD_PRELOAD=$P/lib/$TRIPLET/liboomshield.so"* ]]
	run "$P/bin/oomshield" --version
	[[ "$output" == "oomshield (oomshield) "[0-9]* ]]
	# Copied elsewhere, the installed launcher still finds its library.
	cp "$P/bin/oomshield" "$BATS_TEST_TMPDIR/elsewhere"
	run "$BATS_TEST_TMPDIR/elsewhere" -d "$D" -t 1M -- cat /proc/self/maps
	[[ "$output" == *"$P/lib/$TRIPLET/liboomshield.so"* ]]
	run "$P/bin/oomshield" -d "$D" --check -- /bin/true
	[ "$status" -eq 0 ]
	if command -v man >/dev/null; then
		MANPATH="$P/share/man" run man -w oomshield-check
		[ "$output" = "$P/share/man/man1/oomshield-check.1" ]
	fi
}

@test "make install DESTDIR=...: files staged under DESTDIR, paths without it" {
	S=$BATS_TEST_TMPDIR/stage
	mk install DESTDIR="$S" PREFIX=/usr
	[ -f "$S/usr/lib/$TRIPLET/liboomshield.so" ]
	[ -x "$S/usr/bin/oomshield" ]
	grep -q "^_oms_libdir='/usr/lib/$TRIPLET'\$" "$S/usr/bin/oomshield"
	! grep -q "$S" "$S/usr/bin/oomshield"
}

@test "make uninstall-tools removes exactly what install-tools added" {
	mk install PREFIX="$P"
	mk uninstall-tools PREFIX="$P"
	[ ! -e "$P/bin/oomshield" ]
	[ ! -e "$P/bin/oomshield-check" ]
	[ ! -e "$P/bin/oomshield-status" ]
	[ -z "$(find "$P/share/man" -type f)" ]
	# The library is the top-level uninstall's business.
	[ -f "$P/lib/$TRIPLET/liboomshield.so" ]
}

@test "make install, then make ARCH=i386 install-lib: one launcher for both targets" {
	need_native
	[ -f "$ROOT/build/i386-linux-gnu/liboomshield.so" ] ||
		skip "no 32-bit build at build/i386-linux-gnu (make ARCH=i386)"
	cc_out where32 where -m32 2>/dev/null || skip "cannot build -m32 (gcc-multilib not installed)"
	"$BATS_FILE_TMPDIR/where32" >/dev/null 2>&1 || skip "this kernel cannot run 32-bit x86 programs (no IA32 emulation)"
	cc_out where where
	mk install PREFIX="$P"
	# B: make check-tools exports the native build folder.
	B=$ROOT/build/i386-linux-gnu mk ARCH=i386 install-lib PREFIX="$P"
	[ -f "$P/lib/i386-linux-gnu/liboomshield.so" ]
	# install-lib installs the library alone: the tools stay native.
	[ "$(od -An -tu1 -j4 -N1 "$P/bin/oomshield-status" | tr -d ' ')" = 2 ]
	run "$P/bin/oomshield" -n -d "$D" -- "$BATS_FILE_TMPDIR/where32"
	[[ "$output" == *"export LD_PRELOAD='$P/\$LIB/liboomshield.so'"* ]]
	run "$P/bin/oomshield" -d "$D" -- "$BATS_FILE_TMPDIR/where32"
	[ "$status" -eq 0 ]
	[ "$output" = file ]
	run "$P/bin/oomshield" -d "$D" -- "$BATS_FILE_TMPDIR/where"
	[ "$status" -eq 0 ]
	[ "$output" = file ]
}
