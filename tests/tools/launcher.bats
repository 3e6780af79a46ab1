#!/usr/bin/env bats
# launcher.bats - tools/oomshield: options, validation, LD_PRELOAD
# composition, exec semantics (PID, status, signals), PATH lookup, --only,
# --check and the dry run.  The command is usually `env` or `sh -c`, so what
# the launcher exported is what the test sees.

load helpers

setup_file() {
	cc_prog where
	cc_prog plain
	cc_out plain-static plain -static 2>/dev/null || true
	gcc -shared -fPIC -o "$BATS_FILE_TMPDIR/libother.so" -x c /dev/null
}

setup() {
	need_lib
	D=$(backing_dir)
	unset LD_PRELOAD OOMSHIELD_DIR OOMSHIELD_THRESHOLD OOMSHIELD_MAX OOMSHIELD_LOG \
		OOMSHIELD_LOG_FILE OOMSHIELD_STATS OOMSHIELD_ONLY OOMSHIELD_DEFRAG \
		OOMSHIELD_DEFRAG_DRY_RUN OOMSHIELD_MMAP OOMSHIELD_DISABLE OOMSHIELD_THREAD
}

teardown() {
	rm -rf "$D"
}

# env of the command as run by the launcher, one variable per line.
# check_script NAME TEXT: write an executable script (TEXT as printf's
# format) to $D/NAME and run it through `oomshield --check`.
check_script() {
	printf "$2" >"$D/$1"
	chmod +x "$D/$1"
	run "$OOMSHIELD" -d "$D" --check -- "$D/$1"
}

oenv() {
	"$OOMSHIELD" -d "$D" "$@" -- env
}

# ---- help and version ---------------------------------------------------

@test "--help: GNU usage text, exit 0, fits 80 columns" {
	run "$OOMSHIELD" --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "Usage: oomshield [OPTION]... [--] COMMAND [ARG]..." ]]
	[[ "$output" == *"--threshold=SIZE"* ]]
	[[ "$output" == *"Full documentation"* ]]
	! printf '%s\n' "$output" | awk 'length > 79 { bad = 1 } END { exit !bad }'
	run "$OOMSHIELD" -h
	[ "$status" -eq 0 ]
}

@test "--version: program, package and version on one line" {
	run "$OOMSHIELD" --version
	[ "$status" -eq 0 ]
	ver=$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")
	[ "$output" = "oomshield (oomshield) $ver" ]
}

# ---- each option sets its variable ---------------------------------------

@test "-d/--dir/-dDIR/--dir=DIR set OOMSHIELD_DIR to an absolute path" {
	for form in "-d $D" "--dir $D" "-d$D" "--dir=$D"; do
		run "$OOMSHIELD" $form -- env
		[ "$status" -eq 0 ]
		[[ "$output" == *"OOMSHIELD_DIR=$D"* ]]
	done
	cd "$D/.."
	run "$OOMSHIELD" -d "${D##*/}" -- env
	[ "$status" -eq 0 ]
	[[ "$output" == *"OOMSHIELD_DIR=$D"* ]]
}

@test "-t/--threshold set OOMSHIELD_THRESHOLD; every size form is accepted" {
	for v in 64K 64k 64KiB 64KB 1M 1m 2MiB 2G 1T 65536 0064K; do
		run oenv -t "$v"
		[ "$status" -eq 0 ]
		[[ "$output" == *"OOMSHIELD_THRESHOLD=$v"* ]]
	done
	run oenv --threshold=4M
	[[ "$output" == *"OOMSHIELD_THRESHOLD=4M"* ]]
	run oenv -t8M
	[[ "$output" == *"OOMSHIELD_THRESHOLD=8M"* ]]
}

@test "--max sets OOMSHIELD_MAX" {
	run oenv --max 512M
	[ "$status" -eq 0 ]
	[[ "$output" == *"OOMSHIELD_MAX=512M"* ]]
	run oenv --max=2G
	[[ "$output" == *"OOMSHIELD_MAX=2G"* ]]
}

@test "--cache sets OOMSHIELD_CACHE" {
	run oenv --cache 0
	[ "$status" -eq 0 ]
	[[ "$output" == *"OOMSHIELD_CACHE=0"* ]]
	run oenv --cache=128M
	[[ "$output" == *"OOMSHIELD_CACHE=128M"* ]]
}

@test "--disk-keep sets OOMSHIELD_DISK_KEEP to a size or a percentage" {
	run oenv --disk-keep 0
	[ "$status" -eq 0 ]
	[[ "$output" == *"OOMSHIELD_DISK_KEEP=0"* ]]
	run oenv --disk-keep=512M
	[[ "$output" == *"OOMSHIELD_DISK_KEEP=512M"* ]]
	run oenv --disk-keep 10%
	[[ "$output" == *"OOMSHIELD_DISK_KEEP=10%"* ]]
	run oenv --disk-keep=100%
	[[ "$output" == *"OOMSHIELD_DISK_KEEP=100%"* ]]
	run oenv --disk-keep 005%
	[[ "$output" == *"OOMSHIELD_DISK_KEEP=005%"* ]]
}

@test "--log accepts each level and sets OOMSHIELD_LOG" {
	for l in off error warn info debug; do
		run oenv --log "$l"
		[ "$status" -eq 0 ]
		[[ "$output" == *"OOMSHIELD_LOG=$l"* ]]
	done
}

@test "--log-file: a relative path is made absolute, as the command may chdir" {
	need_native
	mkdir "$D/sub"
	cd "$D"
	run "$OOMSHIELD" -d "$D" --log-file sub/log -- sh -c 'cd / && env'
	[ "$status" -eq 0 ]
	[[ "$output" == *"OOMSHIELD_LOG_FILE=$D/sub/log"$'\n'* ]]
	run "$OOMSHIELD" -n -d "$D" --log-file ./sub/../log -- true
	[[ "$output" == *"export OOMSHIELD_LOG_FILE=$D/log"$'\n'* ]]
	# Both the shell and the program it starts after cd / log to the file.
	run env OOMSHIELD_THRESHOLD=bogus "$OOMSHIELD" -d "$D" --log-file sub/log2 -- \
		sh -c 'cd / && exec true'
	[ "$status" -eq 0 ]
	[ "$(grep -c OOMSHIELD_THRESHOLD "$D/sub/log2")" -eq 2 ]
}

@test "--log-file sets OOMSHIELD_LOG_FILE; the shim appends to it" {
	need_native
	run oenv --log-file "$D/log"
	[ "$status" -eq 0 ]
	[[ "$output" == *"OOMSHIELD_LOG_FILE=$D/log"* ]]
	# A bad setting makes the shim log a line: it must land in the file.
	run env OOMSHIELD_THRESHOLD=bogus "$OOMSHIELD" -d "$D" --log-file "$D/log" -- true
	[ "$status" -eq 0 ]
	grep -q OOMSHIELD_THRESHOLD "$D/log"
}

@test "flags: --stats --no-defrag --no-thread --defrag-dry-run --no-mmap --hugepage" {
	run oenv --stats --no-defrag --defrag-dry-run --no-mmap --hugepage
	[ "$status" -eq 0 ]
	[[ "$output" == *"OOMSHIELD_STATS=1"* ]]
	[[ "$output" == *"OOMSHIELD_DEFRAG=0"* ]]
	[[ "$output" != *"OOMSHIELD_THREAD="* ]]
	[[ "$output" == *"OOMSHIELD_DEFRAG_DRY_RUN=1"* ]]
	[[ "$output" == *"OOMSHIELD_MMAP=0"* ]]
	[[ "$output" == *"OOMSHIELD_HUGEPAGE=1"* ]]
	run oenv --hugepage=1
	[ "$status" -ne 0 ]
	run oenv --no-thread
	[ "$status" -eq 0 ]
	[[ "$output" == *"OOMSHIELD_THREAD=0"* ]]
	[[ "$output" != *"OOMSHIELD_DEFRAG="* ]]
	run oenv --no-thread=0
	[ "$status" -ne 0 ]
}

@test "--stats: the shim prints its summary line at exit, to stderr" {
	run --separate-stderr "$OOMSHIELD" -d "$D" -t 1M --stats -- "$BATS_FILE_TMPDIR/where" 4
	[ "$status" -eq 0 ]
	[ "$output" = file ]
	[[ "$stderr" == *stats* ]]
}

@test "--only sets OOMSHIELD_ONLY" {
	run oenv --only ls,cat
	[ "$status" -eq 0 ]
	[[ "$output" == *"OOMSHIELD_ONLY=ls,cat"* ]]
}

@test "without options only LD_PRELOAD and OOMSHIELD_DIR change" {
	need_native
	# Only entries with shell-variable names: /bin/sh (dash) drops others,
	# such as bash's exported functions (documented in oomshield(1)).
	valid() { grep -E '^[A-Za-z_][A-Za-z0-9_]*=' | grep -v -e '^LD_PRELOAD=' -e '^OOMSHIELD_DIR=' -e '^_=' | sort; }
	base=$(env | valid)
	out=$(OOMSHIELD_DIR=$D "$OOMSHIELD" env | valid)
	[ "$base" = "$out" ]
}

@test "inherited variables named like the launcher's own reach the command unchanged" {
	need_native
	# sh exports what came from the environment: any name the script
	# assigned itself would be changed for the command.
	local names="prog libdir bindir version self root triplet l lib h st sets v dry check
		opt val set_val opt_dir dir_opt b d dir what fstype absdir have e path checker
		target first out rc isset a num suf sh rest interp new_LD_PRELOAD
		new_OOMSHIELD_DIR new_OOMSHIELD_THRESHOLD new_OOMSHIELD_MAX"
	local assigns=() n
	for n in $names; do assigns+=("$n=inherited $n"); done
	valid() { grep -E '^[A-Za-z_][A-Za-z0-9_]*=' | grep -v -e '^LD_PRELOAD=' -e '^OOMSHIELD_' -e '^_=' | sort; }
	base=$(env "${assigns[@]}" env | valid)
	[[ "$base" == *"version=inherited version"* ]]
	out=$(env "${assigns[@]}" "$OOMSHIELD" -d "$D" -t 1M --max 1G --log-file "$D/log" -- env | valid)
	[ "$base" = "$out" ]
	if [ -x "$CHECK" ]; then
		# A script, so that its shebang is parsed too.
		printf '#!/usr/bin/env sh\nexec env\n' >"$D/s"
		chmod +x "$D/s"
		out=$(env "${assigns[@]}" "$OOMSHIELD" -d "$D" --check -- "$D/s" | valid)
		[ "$base" = "$out" ]
	fi
}

# ---- bad options: exit 2 and one line naming the option ------------------

bad() {   # bad EXPECTED-SUBSTRING ARGS...
	local want=$1
	shift
	run --separate-stderr "$OOMSHIELD" "$@" -- true
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	[[ "$stderr" == "oomshield: "*"$want"* ]]
}

@test "bad sizes: exit 2 naming --threshold/--max" {
	bad "-t '12X'" -t 12X
	bad "--threshold '1.5M'" --threshold 1.5M
	bad "-t '1K': below the 64K minimum" -t 1K
	bad "-t '65535': below the 64K minimum" -t 65535
	bad "--threshold '': not a size" --threshold=
	bad "--max 'lots'" --max lots
	bad "--max '-1'" --max -1
	bad "--cache 'some'" --cache some
	bad "--disk-keep '101%': not a size or a percentage" --disk-keep 101%
	bad "--disk-keep '5 %'" --disk-keep "5 %"
	bad "--disk-keep '%'" --disk-keep %
	bad "--disk-keep '1000%'" --disk-keep 1000%
	bad "--disk-keep '5%%'" --disk-keep 5%%
	bad "--max '99999999999999999999'" --max 99999999999999999999
	bad "--max '9999999999T'" --max 9999999999T
	bad "--max '1MM'" --max 1MM
}

@test "bad --dir: missing, a file, tmpfs" {
	bad "-d '$D/nope': no such directory" -d "$D/nope"
	touch "$D/f"
	bad "--dir '$D/f': no such directory" --dir "$D/f"
	if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
		bad "-d '/dev/shm': on tmpfs" -d /dev/shm
	else
		skip "/dev/shm is not tmpfs here"
	fi
}

@test "bad --dir: not writable (as an unprivileged user)" {
	command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch to user nobody"
	chmod 0555 "$D"
	chmod o+rx "$BATS_FILE_TMPDIR" 2>/dev/null || true
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$OOMSHIELD" -d "$D" -- true
	[ "$status" -eq 2 ] || skip "user nobody cannot run $OOMSHIELD here ($stderr)"
	[[ "$stderr" == "oomshield: -d '$D': not writable" ]]
}

@test "default directory is validated too (OOMSHIELD_DIR from the environment)" {
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] || skip "/dev/shm is not tmpfs here"
	run --separate-stderr env OOMSHIELD_DIR=/dev/shm "$OOMSHIELD" -- true
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"OOMSHIELD_DIR '/dev/shm': on tmpfs"* ]]
}

@test "bad --log, --log-file, --only" {
	bad "--log 'loud': not one of off, error, warn, info, debug" -d "$D" --log loud
	bad "--log-file '$D/no/such/log': cannot create it" -d "$D" --log-file "$D/no/such/log"
	bad "--log-file '$D': not a writable file" -d "$D" --log-file "$D"
	bad "--log-file: empty file name" -d "$D" --log-file ""
	bad "--only 'a,,b'" -d "$D" --only a,,b
	bad "--only ',a'" -d "$D" --only ,a
	bad "--only '/bin/ls'" -d "$D" --only /bin/ls
	bad "--only ''" -d "$D" --only ""
}

@test "combined short flags: -nd DIR is -n -d DIR" {
	run "$OOMSHIELD" -nd "$D" -- true
	[ "$status" -eq 0 ]
	[[ "$output" == *"export OOMSHIELD_DIR=$D"$'\n'* ]]
	[[ "$output" == *"exec true" ]]
	run "$OOMSHIELD" -nt 2M -d "$D" true
	[ "$status" -eq 0 ]
	[[ "$output" == *"export OOMSHIELD_THRESHOLD=2M"* ]]
	run "$OOMSHIELD" -nd"$D" true
	[[ "$output" == *"export OOMSHIELD_DIR=$D"$'\n'* ]]
	run "$OOMSHIELD" -nh
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "Usage: oomshield "* ]]
	bad "unrecognized option '-x'" -d "$D" -nx
}

@test "unknown options, missing arguments, arguments to flags" {
	bad "unrecognized option '--frobnicate'" --frobnicate
	bad "unrecognized option '-x'" -x
	bad "option '--stats' doesn't allow an argument" --stats=1
	bad "unrecognized option '--frobnicate=1'" --frobnicate=1
	bad "unrecognized option '--=x'" --=x
	run --separate-stderr "$OOMSHIELD" -t
	[ "$status" -eq 2 ]
	[[ "$stderr" == "oomshield: option '-t' requires an argument"* ]]
	run --separate-stderr "$OOMSHIELD" -d "$D"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "oomshield: missing COMMAND"* ]]
}

# ---- LD_PRELOAD ------------------------------------------------------------

@test "LD_PRELOAD: set to the library when empty" {
	run oenv
	[[ "$output" == *"LD_PRELOAD=$LIB"$'\n'* || "$output" == *"LD_PRELOAD=$LIB" ]]
}

@test "from the source tree the launcher finds build/<native triplet>/" {
	native=$(gcc -print-multiarch 2>/dev/null)
	[ "$B" = "$ROOT/build/$native" ] || skip "testing a $TRIPLET build, not the native $native one"
	# The path itself, or build/$LIB/ when other targets are built too.
	run env -u OOMSHIELD_LIB "$OOMSHIELD" -d "$D" -- cat /proc/self/maps
	[[ "$output" == *" $ROOT/build/$native/liboomshield.so"* ]]
	# Through a symlink elsewhere, too.
	ln -s "$OOMSHIELD" "$D/oms"
	run env -u OOMSHIELD_LIB "$D/oms" -d "$D" -- cat /proc/self/maps
	[[ "$output" == *" $ROOT/build/$native/liboomshield.so"* ]]
}

# ---- one launcher, programs of several targets ----------------------------

@test "a 32-bit program, and a 64-bit script's 32-bit child, get the 32-bit build" {
	need_native
	[ -f "$ROOT/build/i386-linux-gnu/liboomshield.so" ] ||
		skip "no 32-bit build at build/i386-linux-gnu (make ARCH=i386)"
	[ -f "$ROOT/build/lib/i386-linux-gnu/liboomshield.so" ] ||
		skip "build/lib/ has no link to the 32-bit build (rebuild it: make ARCH=i386)"
	cc_out where32 where -m32 2>/dev/null || skip "cannot build -m32 (gcc-multilib not installed)"
	"$BATS_FILE_TMPDIR/where32" >/dev/null 2>&1 || skip "this kernel cannot run 32-bit x86 programs (no IA32 emulation)"
	unset OOMSHIELD_LIB
	run "$OOMSHIELD" -d "$D" -- "$BATS_FILE_TMPDIR/where32"
	[ "$status" -eq 0 ]
	[ "$output" = file ]
	run "$OOMSHIELD" -d "$D" -- "$BATS_FILE_TMPDIR/where"
	[ "$status" -eq 0 ]
	[ "$output" = file ]
	# Both builds, through ld.so's $LIB token: each exec picks its own.
	run "$OOMSHIELD" -n -d "$D" -- "$BATS_FILE_TMPDIR/where32"
	[[ "$output" == *"export LD_PRELOAD='$ROOT/build/\$LIB/liboomshield.so'"* ]]
	printf '#!/bin/sh\n"%s"\n"%s"\n' "$BATS_FILE_TMPDIR/where" "$BATS_FILE_TMPDIR/where32" >"$D/both"
	chmod +x "$D/both"
	run "$OOMSHIELD" -d "$D" -- "$D/both"
	[ "$status" -eq 0 ]
	[ "$output" = $'file\nfile' ]
	# Run twice (nested), the entry is not added twice.
	run "$OOMSHIELD" -d "$D" -- "$OOMSHIELD" -d "$D" -- env
	[ "$(grep '^LD_PRELOAD=' <<<"$output")" = "LD_PRELOAD=$ROOT/build/\$LIB/liboomshield.so" ]
}

@test "no build for the program's target: one warning, the program runs plain" {
	need_native
	cc_out where32 where -m32 2>/dev/null || skip "cannot build -m32 (gcc-multilib not installed)"
	"$BATS_FILE_TMPDIR/where32" >/dev/null 2>&1 || skip "this kernel cannot run 32-bit x86 programs (no IA32 emulation)"
	# A tree with the native build only.
	local t=$BATS_TEST_TMPDIR/tree
	mkdir -p "$t/tools" "$t/build/$TRIPLET" "$t/build/lib"
	cp "$OOMSHIELD" "$t/tools/"
	cp "$LIB" "$B/oomshield-check" "$t/build/$TRIPLET/"
	ln -s "../$TRIPLET" "$t/build/lib/$TRIPLET"
	unset OOMSHIELD_LIB
	run --separate-stderr "$t/tools/oomshield" -d "$D" -- "$BATS_FILE_TMPDIR/where32"
	[ "$status" -eq 0 ]
	[ "$output" = anon ]
	[ "$stderr" = "oomshield: warning: $BATS_FILE_TMPDIR/where32 is a 32-bit x86 program, and there is no liboomshield.so for it (build one: make ARCH=i386); running it unprotected" ]
	# Nothing in LD_PRELOAD for ld.so to complain about.
	run --separate-stderr "$t/tools/oomshield" -n -d "$D" -- "$BATS_FILE_TMPDIR/where32"
	[[ "$output" != *LD_PRELOAD* ]]
	# --check refuses it instead, in the checker's words.
	if [ -x "$B/oomshield-check" ]; then
		run "$t/tools/oomshield" -d "$D" --check -- "$BATS_FILE_TMPDIR/where32"
		[ "$status" -eq 1 ]
		[[ "$output" == *"ELF32 i386, but the shim is ELF64 x86-64"* ]]
	fi
	# The native program is still protected, by its absolute path.
	run "$t/tools/oomshield" -n -d "$D" -- "$BATS_FILE_TMPDIR/where"
	[[ "$output" == *"export LD_PRELOAD=$(cd "$t/build/$TRIPLET" && pwd -P)/liboomshield.so"* ]]
}

@test "an ASan or musl program: one warning, run plain (ld.so or ASan would stop it)" {
	need_native
	[ -x "$CHECK" ] || skip "oomshield-check not built: the launcher cannot tell"
	local ran=
	if gcc $CFLAGS_T -fsanitize=address -o "$D/asan" "$PROGS/where.c" 2>/dev/null; then
		run --separate-stderr "$OOMSHIELD" -d "$D" -- "$D/asan"
		[ "$status" -eq 0 ]
		[ "$output" = anon ]
		[[ "$stderr" == "oomshield: warning: $D/asan cannot take the library: needs libasan.so"*"; running it unprotected" ]]
		# Run plain also when an outer launcher left the library in LD_PRELOAD.
		run --separate-stderr "$OOMSHIELD" -d "$D" -- "$OOMSHIELD" -d "$D" -- "$D/asan"
		[ "$status" -eq 0 ]
		[ "$output" = anon ]
		ran=1
	fi
	if musl-gcc -O2 -o "$D/musl" "$PROGS/where.c" 2>/dev/null; then
		run --separate-stderr "$OOMSHIELD" -d "$D" -- "$D/musl"
		[ "$status" -eq 0 ]
		[ "$output" = anon ]
		[[ "$stderr" == "oomshield: warning: $D/musl cannot take the library: its loader is /lib/ld-musl-"*", not glibc's"*"; running it unprotected" ]]
		ran=1
	fi
	[ -n "$ran" ] || skip "neither -fsanitize=address nor musl-gcc (musl-tools) builds here"
	# Compilers carry musl's loader name in their specs: still protected.
	run --separate-stderr "$OOMSHIELD" -d "$D" -- gcc --version
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

@test "ASan preloaded already: the library is not put before it" {
	need_native
	local asan
	asan=$(gcc -print-file-name=libasan.so)
	[ -f "$asan" ] || skip "libasan not installed"
	run --separate-stderr env LD_PRELOAD="$asan" "$OOMSHIELD" -d "$D" -- "$BATS_FILE_TMPDIR/where"
	[ "$status" -eq 0 ]
	[ "$output" = anon ]
	[[ "$stderr" == *"runs with $asan in LD_PRELOAD, which must come first; running it unprotected" ]]
}

@test "under bash as sh: no word about the NUL bytes of an ELF command" {
	need_native
	run --separate-stderr bash "$OOMSHIELD" -d "$D" -- "$BATS_FILE_TMPDIR/where"
	[ "$status" -eq 0 ]
	[ "$output" = file ]
	[ -z "$stderr" ]
}

@test "OOMSHIELD_LIB selects another library; a missing one is exit 2" {
	run env OOMSHIELD_LIB="$D/nope/liboomshield.so" "$OOMSHIELD" -d "$D" true
	[ "$status" -eq 2 ]
	[[ "$output" == "oomshield: $D/nope/liboomshield.so not found"* ]]
}

@test "LD_PRELOAD: prepended to an existing value, which is kept whole" {
	need_native
	other=$BATS_FILE_TMPDIR/libother.so
	LD_PRELOAD="$other" run oenv
	[[ "$output" == *"LD_PRELOAD=$LIB:$other"* ]]
	LD_PRELOAD="$other $other" run oenv
	[[ "$output" == *"LD_PRELOAD=$LIB:$other $other"* ]]
	# Both libraries really are loaded, ours first.
	LD_PRELOAD="$other" run "$OOMSHIELD" -d "$D" -- cat /proc/self/maps
	[ "$status" -eq 0 ]
	[[ "$output" == *liboomshield.so* && "$output" == *libother.so* ]]
}

@test "LD_PRELOAD: never added twice, also through nested launchers" {
	LD_PRELOAD="$LIB" run oenv
	[[ "$output" == *"LD_PRELOAD=$LIB"* ]]
	[[ "$output" != *"liboomshield.so:"* && "$output" != *"liboomshield.so "* ]]
	run "$OOMSHIELD" -d "$D" -- "$OOMSHIELD" -d "$D" -- "$OOMSHIELD" -d "$D" -- env
	[ "$(printf '%s\n' "$output" | grep '^LD_PRELOAD=' | grep -o liboomshield.so | wc -l)" -eq 1 ]
	# The same file by another name (a symlink) counts as present.
	ln -s "$LIB" "$D/link.so"
	LD_PRELOAD="$D/link.so" run oenv
	[ "$(printf '%s\n' "$output" | grep '^LD_PRELOAD=')" = "LD_PRELOAD=$D/link.so" ]
}

@test "LD_PRELOAD: a stale liboomshield.so elsewhere does not keep this one out" {
	other=$BATS_FILE_TMPDIR/libother.so
	mkdir "$D/old"
	cp "$other" "$D/old/liboomshield.so"
	LD_PRELOAD="$other:$D/old/liboomshield.so" run --separate-stderr oenv
	[[ "$output" == *"LD_PRELOAD=$LIB:$other:$D/old/liboomshield.so"* ]]
	# And the command really is protected.
	LD_PRELOAD="$D/old/liboomshield.so" run --separate-stderr \
		"$OOMSHIELD" -d "$D" -t 1M -- "$BATS_FILE_TMPDIR/where" 4
	[ "$output" = file ]
}

# ---- exec semantics ------------------------------------------------------------

@test "exit status passes through" {
	need_native
	run "$OOMSHIELD" -d "$D" -- sh -c 'exit 42'
	[ "$status" -eq 42 ]
	run "$OOMSHIELD" -d "$D" -- false
	[ "$status" -eq 1 ]
}

@test "death by signal passes through (SIGTERM, SIGKILL)" {
	need_native
	"$OOMSHIELD" -d "$D" -- sh -c 'kill -TERM $$' &
	wait $! && rc=0 || rc=$?
	[ "$rc" -eq $((128 + 15)) ]
	"$OOMSHIELD" -d "$D" -- sh -c 'kill -KILL $$' &
	wait $! && rc=0 || rc=$?
	[ "$rc" -eq $((128 + 9)) ]
}

@test "exec: the command keeps the launcher's PID; stdin and stdout pass" {
	need_native
	"$OOMSHIELD" -d "$D" -- sh -c 'echo $$' >"$D/pid" &
	pid=$!
	wait "$pid"
	[ "$(cat "$D/pid")" = "$pid" ]
	run sh -c 'printf "a\nb\n" | "$OOMSHIELD" -d "$0" -- cat' "$D"
	[ "$output" = "$(printf 'a\nb')" ]
}

@test "arguments reach the command unchanged" {
	need_native
	run "$OOMSHIELD" -d "$D" -- printf '[%s]' "a b" "" "*" '$HOME' "-t" "--"
	[ "$status" -eq 0 ]
	[ "$output" = '[a b][][*][$HOME][-t][--]' ]
}

@test "PATH lookup; not found is 127, not executable is 126" {
	need_native
	mkdir "$D/bin"
	printf '#!/bin/sh\necho mine "$@"\n' >"$D/bin/mycmd"
	chmod +x "$D/bin/mycmd"
	PATH="$D/bin:$PATH" run "$OOMSHIELD" -d "$D" mycmd x
	[ "$status" -eq 0 ]
	[ "$output" = "mine x" ]
	run -127 --separate-stderr "$OOMSHIELD" -d "$D" -- no-such-command-oms
	[ "$status" -eq 127 ]
	[[ "$stderr" == "oomshield: no-such-command-oms: command not found" ]]
	printf 'x\n' >"$D/noexec"
	run --separate-stderr "$OOMSHIELD" -d "$D" -- "$D/noexec"
	[ "$status" -eq 126 ]
}

@test "options stop at the command; -- allows a command named like an option" {
	need_native
	run "$OOMSHIELD" -d "$D" echo -t 1K --bogus
	[ "$status" -eq 0 ]
	[ "$output" = "-t 1K --bogus" ]
}

# ---- protection really happens -------------------------------------------------

@test "a large block of the command lives in a backing file" {
	run "$OOMSHIELD" -d "$D" -t 1M -- "$BATS_FILE_TMPDIR/where" 4
	[ "$status" -eq 0 ]
	[ "$output" = file ]
	run "$BATS_FILE_TMPDIR/where" 4
	[ "$output" = anon ]
}

@test "--only: listed programs protected, others not, through a shell" {
	need_native
	W=$BATS_FILE_TMPDIR/where
	run "$OOMSHIELD" -d "$D" -t 1M --only where -- "$W" 4
	[ "$output" = file ]
	run "$OOMSHIELD" -d "$D" -t 1M --only ls,cat -- "$W" 4
	[ "$output" = anon ]
	run "$OOMSHIELD" -d "$D" -t 1M --only=cat,where -- sh -c '"$0" 4' "$W"
	[ "$output" = file ]
	# The shell in between is not protected: it maps the library but is
	# disabled, so its own large block would stay anonymous.  Checked
	# through a copy of `where` renamed, which is not in the list.
	cp "$W" "$D/other"
	run "$OOMSHIELD" -d "$D" -t 1M --only=where -- sh -c '"$0" 4; "$1" 4' "$W" "$D/other"
	[ "$output" = "$(printf 'file\nanon')" ]
}

# ---- dry run and --check -----------------------------------------------------

@test "-n/--dry-run prints the environment and command, runs nothing" {
	need_native
	for n in -n --dry-run; do
		run "$OOMSHIELD" $n -d "$D" -t 2M --stats -- touch "$D/made by dry run"
		[ "$status" -eq 0 ]
		[ ! -e "$D/made by dry run" ]
		[[ "$output" == *"export LD_PRELOAD=$LIB"* ]]
		[[ "$output" == *"export OOMSHIELD_DIR=$D"* ]]
		[[ "$output" == *"export OOMSHIELD_THRESHOLD=2M"* ]]
		[[ "$output" == *"export OOMSHIELD_STATS=1"* ]]
		[[ "$output" == *"exec touch '$D/made by dry run'" ]]
	done
	# The output is a script that does what the launcher would have done.
	run "$OOMSHIELD" -n -d "$D" -- sh -c 'echo "$OOMSHIELD_DIR"'
	printf '%s\n' "$output" >"$D/replay.sh"
	run sh "$D/replay.sh"
	[ "$output" = "$D" ]
}

@test "--check: protectable command runs; a static one is refused with the verdict" {
	need_tool "$CHECK"
	run "$OOMSHIELD" -d "$D" --check -- "$BATS_FILE_TMPDIR/plain"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	[ -x "$BATS_FILE_TMPDIR/plain-static" ] || skip "no static glibc (libc6-dev's libc.a) to link -static"
	run --separate-stderr "$OOMSHIELD" -d "$D" --check -- "$BATS_FILE_TMPDIR/plain-static"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" == *"verdict: "*"cannot be protected (linkage)"* ]]
	[[ "$stderr" == *"oomshield: refusing to run"* ]]
}

@test "--check on a script checks its interpreter" {
	need_tool "$CHECK"
	check_script s.sh '#!/bin/sh\necho script ran\n'
	[ "$status" -eq 0 ]
	[ "$output" = "script ran" ]
	check_script e.sh '#!/usr/bin/env sh\necho env script ran\n'
	[ "$output" = "env script ran" ]
}

@test "--check: env's options in the shebang are skipped" {
	need_tool "$CHECK"
	need_native
	env -S true 2>/dev/null || skip "this env has no -S"
	check_script s.sh '#!/usr/bin/env -S sh -e\necho env -S script ran\n'
	[ "$status" -eq 0 ]
	[ "$output" = "env -S script ran" ]
	# -u takes the next word; NAME=VALUE is not the command either.
	check_script u.sh '#!/usr/bin/env -S -u HOME A=1 sh\necho "A=$A ran"\n'
	[ "$status" -eq 0 ]
	[ "$output" = "A=1 ran" ]
}

@test "--check: a checker error is exit 2 and says it could not inspect" {
	need_tool "$CHECK"
	# An interpreter that is not ELF: the checker cannot judge it.
	printf '#!/bin/sh\nexec sh "$@"\n' >"$D/interp"
	printf '#!%s\necho ran\n' "$D/interp" >"$D/t.sh"
	chmod +x "$D/interp" "$D/t.sh"
	run --separate-stderr "$OOMSHIELD" -d "$D" --check -- "$D/t.sh"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[[ "$stderr" == *"oomshield-check: $D/interp: not an ELF file"* ]]
	[[ "$stderr" == *"oomshield: refusing to run $D/t.sh: oomshield-check could not inspect $D/interp" ]]
	[[ "$stderr" != *"cannot be protected"* ]]
}
