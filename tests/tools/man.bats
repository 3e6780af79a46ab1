#!/usr/bin/env bats
# man.bats - the man pages render without a single groff/man warning, and
# oomshield(1) documents every OOMSHIELD_* variable the shim reads and
# every option the launcher's --help lists.

load helpers

setup() {
	command -v man >/dev/null || skip "man (package man-db) is not installed"
	MAN=$ROOT/tools/man
}

render() {   # render PAGE: text at 80 columns on stdout, warnings in $D/err
	MANWIDTH=80 man --warnings -l "$1" 2>"$BATS_TEST_TMPDIR/err"
}

@test "oomshield.1, oomshield-check.1, oomshield.7 render with no warnings" {
	for page in oomshield.1 oomshield-check.1 oomshield.7; do
		out=$(render "$MAN/$page")
		echo "$page: $(cat "$BATS_TEST_TMPDIR/err")"
		[ ! -s "$BATS_TEST_TMPDIR/err" ]
		[[ "$out" == *NAME* && "$out" == *DESCRIPTION* ]]
		# Nothing runs past the 80 columns asked for.
		! printf '%s\n' "$out" | awk 'length > 80 { bad = 1 } END { exit !bad }'
	done
}

@test "oomshield.1 documents every OOMSHIELD_* variable of shim/config.c" {
	out=$(render "$MAN/oomshield.1")
	vars=$(grep -oh 'OOMSHIELD_[A-Z][A-Z_]*' "$ROOT"/shim/config.c | sort -u)
	[ -n "$vars" ]
	for v in $vars; do
		printf '%s\n' "$out" | grep -q -- "^       $v\$" || { echo "undocumented: $v"; false; }
	done
}

@test "oomshield.1 documents every option of oomshield --help" {
	out=$(render "$MAN/oomshield.1")
	opts=$("$OOMSHIELD" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
	for o in $opts; do
		[[ "$out" == *"$o"* ]] || { echo "undocumented option: $o"; false; }
	done
}

@test "oomshield.7 names every limit: static, setuid, raw syscalls, tmpfs, RTLD_DEEPBIND, Go" {
	out=$(render "$MAN/oomshield.7")
	for w in "Static binaries" "setuid" "Raw system calls" "tmpfs" "RTLD_DEEPBIND" "Go"; do
		[[ "$out" == *"$w"* ]] || { echo "missing: $w"; false; }
	done
}

@test "the man pages carry the Makefile's VERSION" {
	ver=$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")
	for page in oomshield.1 oomshield-check.1 oomshield.7; do
		grep -q "^\.TH .* \"oomshield $ver\" " "$MAN/$page" || { echo "$page: not $ver"; false; }
	done
}

@test "oomshield.1 says that --max 0 and OOMSHIELD_MAX=0 mean no limit" {
	# One line of text: no hyphenation breaks, no line breaks.
	out=$(render "$MAN/oomshield.1" | sed -z 's/‐\n *//g' | tr -s ' \n' '  ')
	opt=${out#*--max=SIZE }
	opt=${opt%%--no-mmap*}
	[[ "$opt" == *"0 means no limit"* ]] || { echo "--max: $opt"; false; }
	var=${out#*ENVIRONMENT}
	var=${var#* OOMSHIELD_MAX }
	var=${var%%OOMSHIELD_LOG*}
	[[ "$var" == *"0 means no limit"* ]] || { echo "OOMSHIELD_MAX: $var"; false; }
}
