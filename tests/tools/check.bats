#!/usr/bin/env bats
# check.bats - oomshield-check on binaries built here or found on the
# system, and on crafted broken files.  Every verdict is checked both by
# exit status and by the reason named in the verdict line.

load helpers

setup_file() {
	local t=$BATS_FILE_TMPDIR
	cc_prog plain
	cc_prog ownmalloc
	cc_prog gofake
	cc_out plain-static plain -static 2>/dev/null || true
	cc_out plain32 plain -m32 2>/dev/null || true
	gcc -nostdlib -fPIE -pie -o "$t/nolibc" "$PROGS/nolibc.c" 2>/dev/null || true
	gcc $CFLAGS_T -fsanitize=address -o "$t/plain-asan" "$PROGS/plain.c" 2>/dev/null || true
	musl-gcc -O2 -o "$t/plain-musl" "$PROGS/plain.c" 2>/dev/null || true
	# A library found only through RUNPATH or RPATH with $ORIGIN.
	mkdir -p "$t/app/lib"
	gcc $CFLAGS_T -shared -fPIC -o "$t/app/lib/libdep.so" "$PROGS/libdep.c"
	gcc $CFLAGS_T -o "$t/app/runpath" "$PROGS/usedep.c" -L"$t/app/lib" -ldep \
		-Wl,--enable-new-dtags,-rpath,'$ORIGIN/lib'
	gcc $CFLAGS_T -o "$t/app/rpath" "$PROGS/usedep.c" -L"$t/app/lib" -ldep \
		-Wl,--disable-new-dtags,-rpath,'$ORIGIN/lib'
	gcc $CFLAGS_T -o "$t/app/nopath" "$PROGS/usedep.c" -L"$t/app/lib" -ldep
	gcc $CFLAGS_T -c -o "$t/plain.o" "$PROGS/plain.c"
}

setup() {
	need_tool "$CHECK"
	T=$BATS_FILE_TMPDIR
}

# jget EXPR: evaluate a Python expression over d, the first object of the
# JSON array in $output (from the last `run`).
jget() {
	python3 -c 'import json, sys; d = json.loads(sys.argv[2])[0]; print(eval(sys.argv[1]))' "$1" "$output"
}

verdict_is() {   # verdict_is EXIT [REASON]
	echo "status=$status"
	printf '%s\n' "$output"
	[ "$status" -eq "$1" ]
	if [ "$1" -eq 0 ]; then
		[[ "${lines[-1]}" == "verdict: "*": can be protected" ]]
	else
		[[ "${lines[-1]}" == "verdict: "*": cannot be protected ($2)" ]]
	fi
}

# ---- usage -----------------------------------------------------------------

@test "--help, --version, usage errors" {
	run "$CHECK" --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "Usage: oomshield-check [OPTION]... BINARY..." ]]
	run "$CHECK" --version
	[[ "$output" == "oomshield-check (oomshield) "* ]]
	run "$CHECK"
	[ "$status" -eq 2 ]
	run "$CHECK" --bogus /bin/ls
	[ "$status" -eq 2 ]
	[[ "$output" == *"unrecognized option '--bogus'"* ]]
	run "$CHECK" --lib
	[ "$status" -eq 2 ]
}

# ---- real binaries -----------------------------------------------------------

@test "a dynamic C program can be protected" {
	run "$CHECK" "$T/plain"
	verdict_is 0
	[[ "$output" == *"dynamically linked (interpreter "* ]]
	[[ "$output" == *"imports     malloc, free"* ]]
}

@test "/bin/ls can be protected; its libraries resolve through ld.so.cache" {
	[ -x /bin/ls ] || skip "no /bin/ls"
	run "$CHECK" /bin/ls
	verdict_is 0
	run "$CHECK" --json /bin/ls
	[ "$(jget 'all(l["path"] for l in d["libraries"])')" = True ]
	[ "$(jget '[l["name"] for l in d["libraries"]].count("libc.so.6")')" = 1 ]
}

@test "a -static program cannot: linkage" {
	[ -x "$T/plain-static" ] || skip "cannot link -static (libc6-dev's libc.a missing)"
	run "$CHECK" "$T/plain-static"
	verdict_is 1 linkage
	[[ "$output" == *"statically linked"* ]]
}

@test "a -m32 program cannot use the 64-bit shim: class; it can with a 32-bit one" {
	[ -x "$T/plain32" ] || skip "cannot build -m32 (gcc-multilib not installed)"
	[ "$(getconf LONG_BIT)" = 64 ] || skip "this checker is not 64-bit"
	run "$CHECK" "$T/plain32"
	verdict_is 1 class
	[[ "$output" == *"ELF32 i386, but the shim is ELF64 x86-64"* ]]
	# --lib compares with a given shim file; any 32-bit x86 object will do.
	run "$CHECK" --lib "$T/plain32" "$T/plain32"
	verdict_is 0
	run "$CHECK" --json --lib "$T/plain32" "$T/plain32"
	[ "$(jget 'all(l["path"] for l in d["libraries"])')" = True ]
}

@test "a sanitizer build cannot: sanitizer, naming the runtime" {
	[ -x "$T/plain-asan" ] || skip "cannot build with -fsanitize=address (libasan missing)"
	run "$CHECK" "$T/plain-asan"
	verdict_is 1 sanitizer
	[[ "$output" == *"needs libasan.so"*"a sanitizer runtime that replaces malloc"* ]]
}

@test "a musl program cannot: libc, naming musl's loader" {
	[ -x "$T/plain-musl" ] || skip "musl-gcc not installed (package musl-tools)"
	run "$CHECK" "$T/plain-musl"
	verdict_is 1 libc
	[[ "$output" == *"its loader is /lib/ld-musl-"*", not glibc's"* ]]
}

@test "a program whose loader is missing here: a note says it cannot start" {
	gcc $CFLAGS_T -Wl,--dynamic-linker=/nonexistent/ld-linux.so.2 -o "$T/noloader" "$PROGS/plain.c"
	run "$CHECK" "$T/noloader"
	verdict_is 0
	[[ "$output" == *"note  linkage     the loader /nonexistent/ld-linux.so.2 is not on this machine"* ]]
}

@test "more needed libraries than are read: a note, not a FAIL from the unread ones" {
	local d=$BATS_TEST_TMPDIR/many libs=() i
	mkdir -p "$d"
	gcc -shared -fPIC -o "$d/libnone.so" -x c /dev/null
	for i in $(seq 1 66); do
		ln -s libnone.so "$d/libn$i.so"
		libs+=("-ln$i")
	done
	# libc.so.6, where strdup's malloc lives, comes last: past the 64 read.
	printf '#include <string.h>\nint main(int c, char **v) { return strdup(v[0]) == 0; }\n' >"$d/m.c"
	gcc -fno-builtin -o "$d/m" "$d/m.c" -Wl,--no-as-needed -L"$d" "${libs[@]}" -Wl,-rpath,"$d" -lc
	[ "$(readelf -d "$d/m" | grep -c NEEDED)" -gt 64 ] || skip "the linker dropped needed entries"
	run "$CHECK" "$d/m"
	verdict_is 0
	[[ "$output" == *"note  imports     none of the libraries read uses malloc or mmap, but there are more than 64"* ]]
}

@test "a 32-bit shim, if built (make ARCH=i386), accepts the -m32 program" {
	[ -x "$T/plain32" ] || skip "cannot build -m32 (gcc-multilib not installed)"
	lib32=$ROOT/build/i386-linux-gnu/liboomshield.so
	[ -f "$lib32" ] || skip "no 32-bit shim at $lib32 (make ARCH=i386)"
	run "$CHECK" --lib "$lib32" "$T/plain32"
	verdict_is 0
}

@test "a setuid copy cannot: secure-exec" {
	cp "$T/plain" "$T/suid"
	chmod u+s "$T/suid"
	run "$CHECK" "$T/suid"
	verdict_is 1 secure-exec
	[[ "$output" == *"setuid: the loader runs it in secure-execution mode"* ]]
}

@test "a setgid copy cannot; setgid without group-execute is not setgid" {
	cp "$T/plain" "$T/sgid"
	chmod g+s "$T/sgid"
	run "$CHECK" "$T/sgid"
	verdict_is 1 secure-exec
	[[ "$output" == *"setgid: "* ]]
	chmod g-x "$T/sgid"
	run "$CHECK" "$T/sgid"
	verdict_is 0
}

@test "file capabilities (security.capability) cannot: secure-exec" {
	cp "$T/plain" "$T/capped"
	# struct vfs_cap_data, revision 2, effective, CAP_NET_BIND_SERVICE.
	python3 -c 'import os, struct, sys; os.setxattr(sys.argv[1], "security.capability", struct.pack("<5I", 0x02000001, 1 << 10, 0, 0, 0))' "$T/capped" 2>/dev/null ||
		skip "cannot set security.capability here (needs root and xattr support)"
	run "$CHECK" "$T/capped"
	verdict_is 1 secure-exec
	[[ "$output" == *"file capabilities"* ]]
}

@test "a program defining its own malloc cannot: allocator" {
	run "$CHECK" "$T/ownmalloc"
	verdict_is 1 allocator
	[[ "$output" == *"defines its own malloc, free"* ]]
}

@test "a Go binary (.go.buildinfo) cannot: go" {
	run "$CHECK" "$T/gofake"
	verdict_is 1 go
	[[ "$output" == *"raw mmap system calls"* ]]
}

@test "a dynamic program that uses no library cannot: imports" {
	[ -x "$T/nolibc" ] || skip "cannot link a -nostdlib PIE here"
	run "$CHECK" "$T/nolibc"
	verdict_is 1 imports
}

@test "a shared library is not a program" {
	run "$CHECK" "$T/app/lib/libdep.so"
	verdict_is 1 linkage
	[[ "$output" == *"a shared library, not a program"* ]]
}

# ---- library resolution like ld.so --------------------------------------------

@test "RUNPATH \$ORIGIN/lib resolves; libdep's calloc counts as an import" {
	run "$CHECK" --json "$T/app/runpath"
	[ "$status" -eq 0 ]
	[ "$(jget '[l["path"] for l in d["libraries"] if l["name"] == "libdep.so"][0]')" = "$T/app/lib/libdep.so" ]
	[ "$(jget '"calloc" in d["imports"]')" = True ]
}

@test "a library found only through /etc/ld.so.cache resolves to the cached path" {
	[ "$TRIPLET" = x86_64-linux-gnu ] || skip "the ld.so.cache pick below is written for x86-64"
	command -v ldconfig >/dev/null || skip "no ldconfig to pick a cached library"
	# The test may run programs; the checker itself reads the cache file.
	pick=$(ldconfig -p | awk -F' => ' '/x86-64/ {
		n = split($2, p, "/"); d = substr($2, 1, length($2) - length(p[n]) - 1)
		if (d !~ /^\/(usr\/)?lib(64|\/x86_64-linux-gnu)?$/ && $2 ~ /\.so\.[0-9]/) { print $2; exit } }')
	[ -n "$pick" ] || skip "every x86-64 library in ld.so.cache is in a default directory"
	gcc $CFLAGS_T -o "$T/cached" "$PROGS/plain.c" -Wl,--no-as-needed,--allow-shlib-undefined "$pick" ||
		skip "cannot link against $pick"
	run "$CHECK" --json "$T/cached"
	[ "$(jget "any(l['path'] == '$pick' for l in d['libraries'])")" = True ]
}

@test "RPATH \$ORIGIN/lib resolves" {
	run "$CHECK" --json "$T/app/rpath"
	[ "$status" -eq 0 ]
	[ "$(jget '[l["path"] for l in d["libraries"] if l["name"] == "libdep.so"][0]')" = "$T/app/lib/libdep.so" ]
}

@test "LD_LIBRARY_PATH is searched; a missing library is a note, not a crash" {
	LD_LIBRARY_PATH="$T/app/lib" run "$CHECK" --json "$T/app/nopath"
	[ "$(jget '[l["path"] for l in d["libraries"] if l["name"] == "libdep.so"][0]')" = "$T/app/lib/libdep.so" ]
	run "$CHECK" "$T/app/nopath"
	verdict_is 0
	[[ "$output" == *"note  libraries   not found: libdep.so"* ]]
}

# ---- output and exit status ---------------------------------------------------

@test "--json: one valid object per binary, errors included" {
	run --separate-stderr "$CHECK" --json "$T/plain" /nonexistent "$T/ownmalloc"
	[ "$status" -eq 2 ]
	python3 -c 'import json, sys
a = json.loads(sys.argv[1])
assert [o["verdict"] for o in a] == ["protectable", "error", "unprotectable"], a
assert a[1]["error"] == "No such file or directory"
assert a[2]["reason"] == "allocator"
assert {c["name"] for c in a[0]["checks"]} >= {"linkage", "class", "secure-exec", "allocator", "imports"}
' "$output"
	# The error is on stderr too, as for text output.
	[ "$stderr" = "oomshield-check: /nonexistent: No such file or directory" ]
}

@test "--json is valid UTF-8 whatever the file names: bad bytes become U+FFFD" {
	# Invalid UTF-8, then valid UTF-8 with control characters.
	bad=$T/$(printf 'n\xffx')
	odd=$T/$(printf 'caf\xc3\xa9\001\177')
	cp "$T/plain" "$bad"
	cp "$T/plain" "$odd"
	"$CHECK" --json "$bad" "$odd" "$bad-missing" >"$T/utf8.json" || [ $? -eq 2 ]
	python3 -c 'import json, sys
raw = open(sys.argv[1], "rb").read()
a = json.loads(raw)   # bytes: decoded as strict UTF-8
assert a[0]["file"].endswith("/n\ufffdx"), a[0]["file"]
assert a[1]["file"].endswith("/caf\u00e9\u0001\u007f"), a[1]["file"]
assert b"\\u007f" in raw and b"\x7f" not in raw
assert a[2]["file"].endswith("/n\ufffdx-missing") and a[2]["verdict"] == "error"
' "$T/utf8.json"
}

@test "options may follow the BINARY operands; after -- every word is one" {
	run "$CHECK" "$T/plain" --json
	[ "$status" -eq 0 ]
	[ "$(jget 'd["verdict"]')" = protectable ]
	run "$CHECK" "$T/plain" --lib "$T/plain" --json "$T/ownmalloc"
	[ "$status" -eq 1 ]
	python3 -c 'import json, sys; assert len(json.loads(sys.argv[1])) == 2' "$output"
	run --separate-stderr "$CHECK" "$T/plain" -- --json
	[ "$status" -eq 2 ]
	[ "$stderr" = "oomshield-check: --json: No such file or directory" ]
	[[ "$output" == "$T/plain:"* ]]
	run --separate-stderr "$CHECK" --json=1 "$T/plain"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "oomshield-check: option '--json' doesn't allow an argument"* ]]
}

@test "several binaries: every one is reported; the exit status is the worst" {
	run "$CHECK" "$T/plain" "$T/ownmalloc"
	[ "$status" -eq 1 ]
	[ "$(printf '%s\n' "$output" | grep -c '^verdict: ')" -eq 2 ]
	run --separate-stderr "$CHECK" "$T/ownmalloc" /nonexistent "$T/plain"
	[ "$status" -eq 2 ]
	[ "$(printf '%s\n' "$output" | grep -c '^verdict: ')" -eq 2 ]
}

# ---- bad input: a clear message and exit 2, never a crash -------------------------

broken() {   # broken FILE EXPECTED-MESSAGE
	run --separate-stderr "$CHECK" "$1"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[[ "$stderr" == "oomshield-check: $1: "*"$2"* ]]
}

# patch FILE OFFSET HEX-BYTES: overwrite bytes in place.
patch() {
	printf "$(printf '%s' "$3" | sed 's/../\\x&/g')" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

@test "missing file, directory, fifo, device" {
	broken "$T/does-not-exist" "No such file or directory"
	broken "$T/app" "is a directory"
	mkfifo "$T/fifo"
	broken "$T/fifo" "not a regular file"
	broken /dev/null "not a regular file"
}

@test "empty file, text file, script" {
	: >"$T/empty"
	broken "$T/empty" "empty file, not an ELF file"
	printf 'hello\n' >"$T/text"
	broken "$T/text" "not an ELF file"
	printf '#!/bin/sh\necho hi\n' >"$T/script"
	broken "$T/script" "not an ELF file"
}

@test "truncated ELF header; truncated body" {
	head -c 20 "$T/plain" >"$T/trunc-hdr"
	broken "$T/trunc-hdr" "truncated ELF header (20 of 64 bytes)"
	head -c 3 "$T/plain" >"$T/trunc-magic"
	broken "$T/trunc-magic" "not an ELF file"
	head -c 2000 "$T/plain" >"$T/trunc-body"
	broken "$T/trunc-body" "truncated"
}

@test "garbage program headers" {
	# Program header table far beyond the end of the file (e_phoff).
	cp "$T/plain" "$T/phoff"
	patch "$T/phoff" 32 00ffffffffffff00
	broken "$T/phoff" "corrupt program header"
	# Every program header overwritten with 0x41 bytes.
	cp "$T/plain" "$T/phgarbage"
	head -c 1000 /dev/zero | tr '\0' 'A' | dd of="$T/phgarbage" bs=1 seek=64 count=$((56 * 13)) conv=notrunc status=none
	broken "$T/phgarbage" "corrupt"
	# A huge e_phnum.
	cp "$T/plain" "$T/phnum"
	patch "$T/phnum" 56 ffff
	broken "$T/phnum" "corrupt"
}

@test "garbage section headers, unknown class, relocatable object" {
	cp "$T/plain" "$T/shoff"
	patch "$T/shoff" 40 00ffffffffffff00
	broken "$T/shoff" "corrupt"
	cp "$T/plain" "$T/badclass"
	patch "$T/badclass" 4 07
	broken "$T/badclass" "unknown class 7"
	broken "$T/plain.o" "not an executable or shared library"
}

@test "random bytes after an ELF magic never crash it" {
	for i in 1 2 3 4 5 6 7 8 9 10; do
		{ printf '\177ELF\002\001\001'; head -c 4000 /dev/urandom; } >"$T/rand$i"
		run "$CHECK" "$T/rand$i"
		# 0, 1 or 2, but never a signal (>= 128).
		[ "$status" -le 2 ]
	done
}
