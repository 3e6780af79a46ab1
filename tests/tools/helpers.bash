# helpers.bash - shared set-up for the tool tests (loaded by every .bats).
bats_require_minimum_version 1.5.0
#
# make check-tools exports B (absolute build folder), LIB and TRIPLET; run
# by hand (bats tests/tools) they are derived from the native compiler.
# Helper programs are compiled once per file into $BATS_FILE_TMPDIR.

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd -P)
: "${TRIPLET:=$(gcc -print-multiarch 2>/dev/null || gcc -dumpmachine)}"
: "${B:=$ROOT/build/$TRIPLET}"
: "${LIB:=$B/liboomshield.so}"
OOMSHIELD=$ROOT/tools/oomshield
CHECK=$B/oomshield-check
STATUS=$B/oomshield-status
PROGS=$ROOT/tests/tools/progs
export ROOT B LIB TRIPLET OOMSHIELD CHECK STATUS PROGS
# The launcher preloads exactly the library under test (which may be the
# one of make ARCH=i386, not the native one it would find by itself).
export OOMSHIELD_LIB=$LIB

# Test programs are built for the shim's target (make ARCH=i386: -m32).
CFLAGS_T="-O2 -std=c11 -Wall -Wextra -Werror ${ARCHFLAGS-}"

# cc_prog NAME [FLAGS...]: tests/tools/progs/NAME.c -> $BATS_FILE_TMPDIR/NAME
cc_prog() {
	local name=$1
	shift
	gcc $CFLAGS_T "$@" -o "$BATS_FILE_TMPDIR/$name" "$PROGS/$name.c"
}

# cc_out OUT NAME [FLAGS...]: tests/tools/progs/NAME.c -> $BATS_FILE_TMPDIR/OUT
cc_out() {
	local out=$1 name=$2
	shift 2
	gcc $CFLAGS_T "$@" -o "$BATS_FILE_TMPDIR/$out" "$PROGS/$name.c"
}

need_lib() {
	[ -f "$LIB" ] || skip "liboomshield.so not built at $LIB (run make)"
}

# Tests that run the system's own programs (sh, cat, printf) under the shim
# need a shim of the native target: with make ARCH=i386 the loader would
# refuse the 32-bit library for 64-bit programs, with a message on stderr.
need_native() {
	local native
	native=$(gcc -print-multiarch 2>/dev/null || gcc -dumpmachine)
	[ "$TRIPLET" = "$native" ] ||
		skip "runs native ($native) system programs, but the shim under test is $TRIPLET"
}

need_tool() {
	[ -x "$1" ] || skip "$1 not built (run make; a cross or ARCH=i386 build needs libelf for that target)"
}

# A backing directory on a real disk, private to one test.
backing_dir() {
	mktemp -d /var/tmp/oms-tools-test.XXXXXX
}

# wait_for FILE PATTERN [SECONDS]: poll until FILE has a line matching
# PATTERN, or fail after the deadline (default 20 s).  No fixed sleeps.
wait_for() {
	local file=$1 pat=$2 deadline=$(( $(date +%s) + ${3:-20} ))
	while ! grep -q -- "$pat" "$file" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "timed out waiting for '$pat' in $file" >&2
			return 1
		fi
		sleep 0.05
	done
}

# The DefragTick thread must never touch the real /proc/sys/vm files from a
# test: point it at a root that does not exist, where it idles quietly.
export OOMSHIELD_PROC_ROOT=/nonexistent/oomshield-tools-test-proc-root
