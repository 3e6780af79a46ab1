#!/usr/bin/env bats
# status.bats - `oomshield status PID` on a live protected process, and its
# failures.  The process (progs/holder.c) allocates 8 MiB, says "ready",
# then blocks on a fifo until the test closes it: readiness is polled with
# a deadline, never assumed after a sleep.

load helpers

setup_file() {
	cc_prog holder
}

setup() {
	need_lib
	need_tool "$STATUS"
	D=$(backing_dir)
	PID=
}

teardown() {
	exec 7>&- 2>/dev/null || true
	[ -n "$PID" ] && wait "$PID" 2>/dev/null || true
	rm -rf "$D"
}

# start_holder [LAUNCHER-OPTIONS...]: run holder under the launcher; sets PID.
start_holder() {
	mkfifo "$D/in"
	# fd 3 is bats' own: the background process must not keep it open.
	# HOLD: holder's arguments (MiB in one block, MiB of small objects).
	"$OOMSHIELD" -d "$D" -t 1M "$@" -- "$BATS_FILE_TMPDIR/holder" ${HOLD:-8} <"$D/in" >"$D/out" 3>&- &
	PID=$!
	exec 7>"$D/in"
	wait_for "$D/out" '^ready'
}

# start_env VAR=VALUE...: run holder with the library preloaded directly and
# these settings, which the launcher would refuse or canonicalise; sets PID.
start_env() {
	mkfifo "$D/in"
	env LD_PRELOAD="$LIB" OOMSHIELD_THREAD=0 "$@" "$BATS_FILE_TMPDIR/holder" 8 \
		<"$D/in" >"$D/out" 2>"$D/err" 3>&- &
	PID=$!
	exec 7>"$D/in"
	wait_for "$D/out" '^ready'
}

stop_holder() {
	exec 7>&-
	wait "$PID"
	PID=
	rm -f "$D/in" "$D/out" "$D/err"
}

field() {   # field LABEL: the value printed after a status label
	printf '%s\n' "$output" | sed -n "s/^  $1  *//p"
}

@test "status of a protected process: regions, bytes, RSS, dirty, dir, free space" {
	start_holder --no-thread
	run "$STATUS" "$PID"
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "PID $PID (holder): protected by $LIB" ]
	[[ "$(field 'backing directory')" == "$D ("*" free)" ]]
	# The 8 MiB block at least; the shim may hold more (redirected mmaps).
	regions=$(field 'file-backed regions')
	[[ "$regions" =~ ^([0-9]+)\ in\ ([0-9]+)\ files$ ]]
	[ "${BASH_REMATCH[1]}" -ge 1 ] && [ "${BASH_REMATCH[2]}" -ge 1 ]
	bytes=$(field mapped | sed 's/.*(\([0-9]*\) bytes)/\1/')
	[ "$bytes" -ge $((8 << 20)) ]
	# Every page was written: resident and dirty are not zero.
	[ "$(field 'resident in RAM')" != "0 B" ]
	[ "$(field dirty)" != "0 B" ]
	[ "$(field 'DefragTick thread')" = "not running" ]
}

@test "coverage: small objects in the brk heap are named as not protected, with a hint" {
	# 8 MiB in one block (protected) and 24 MiB of 1000-byte objects (not).
	HOLD="8 24" start_holder --no-thread
	run "$STATUS" "$PID"
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	cov=$(field coverage)
	[[ "$cov" =~ ^([0-9]+)%\ of\ the\ .*\ is\ protected ]]
	# 8 of about 32 MiB: between 15 and 40 %.
	[ "${BASH_REMATCH[1]}" -ge 15 ] && [ "${BASH_REMATCH[1]}" -le 40 ]
	[[ "$(field 'not protected')" =~ brk\ heap\ 2[0-9]\.[0-9]\ MiB ]]
	[[ "$(field hint)" == *"--heap"* ]]
}

@test "coverage: with --heap the small objects are protected too" {
	[ -n "$(find /usr/lib /lib -name 'libjemalloc.so.2' 2>/dev/null | head -1)" ] ||
		skip "libjemalloc2 is not installed"
	HOLD="8 24" start_holder --no-thread --heap
	run "$STATUS" "$PID"
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[[ "$(field coverage)" =~ ^(9[0-9]|100)% ]]
	[[ "$(field 'not protected')" != *"brk heap"* ]]
	[ -z "$(field hint)" ]
}

@test "a process whose library was replaced on disk is still protected" {
	# make install or a rebuild while the process runs: maps says "(deleted)"
	cp "$LIB" "$D/liboomshield.so"
	LIB="$D/liboomshield.so" start_env OOMSHIELD_DIR="$D"
	rm "$D/liboomshield.so"
	run "$STATUS" "$PID"
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "PID $PID (holder): protected by $D/liboomshield.so"* ]]
	stop_holder
}

@test "oomshield status PID runs the same tool" {
	start_holder --no-thread
	run "$STATUS" "$PID"
	# Free space, residency and dirtiness move with the rest of the machine
	# between two snapshots; everything else must be identical.
	direct=$(printf '%s\n' "$output" | grep -viE 'free|resident|dirty')
	run "$OOMSHIELD" status "$PID"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | grep -viE 'free|resident|dirty')" = "$direct" ]
	[ -n "$direct" ]
}

@test "the DefragTick thread is seen while it runs" {
	grep -q oomshield-dfrag "$LIB" || skip "this shim has no DefragTick thread"
	start_holder
	deadline=$(( $(date +%s) + 20 ))
	until run "$STATUS" "$PID" && [[ "$(field 'DefragTick thread')" == "running (TID "* ]]; do
		[ "$(date +%s)" -lt "$deadline" ] || { printf '%s\n' "$output"; false; }
		sleep 0.05
	done
}

@test "a symlinked or non-canonical OOMSHIELD_DIR: the regions are found" {
	ln -s "$D" "$D/link"
	for dir in "$D/link" "$D/link/" "/$D" "$D/." "$D//"; do
		start_env OOMSHIELD_DIR="$dir"
		run "$STATUS" "$PID"
		echo "OOMSHIELD_DIR=$dir"
		printf '%s\n' "$output"
		[ "$status" -eq 0 ]
		[[ "$(field 'file-backed regions')" =~ ^[1-9][0-9]*\ in\ [1-9] ]]
		[[ "$(field 'backing directory')" == "$D ("*" free)" ]]
		stop_holder
	done
}

inactive() {   # inactive REASON: the status of $PID says so, exit 1
	run --separate-stderr "$STATUS" "$PID"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "oomshield-status: PID $PID (holder): liboomshield.so loaded but inactive: $1" ]
}

@test "--only excluding the program: loaded but inactive, exit 1" {
	start_holder --no-thread --only=somethingelse,other
	inactive "OOMSHIELD_ONLY=somethingelse,other does not name holder"
	# The launcher passes the status on.
	run "$OOMSHIELD" status "$PID"
	[ "$status" -eq 1 ]
}

@test "OOMSHIELD_DISABLE=1: loaded but inactive, exit 1" {
	start_env OOMSHIELD_DIR="$D" OOMSHIELD_DISABLE=1
	inactive "OOMSHIELD_DISABLE=1"
}

@test "a backing directory on tmpfs, or missing: loaded but inactive, exit 1" {
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] || skip "/dev/shm is not tmpfs here"
	start_env OOMSHIELD_DIR=/dev/shm
	inactive "backing directory /dev/shm is on tmpfs, which is RAM"
	stop_holder
	start_env OOMSHIELD_DIR="$D/gone"
	inactive "backing directory $D/gone does not exist"
}

@test "--only naming the program: active, exit 0, even before a region exists" {
	start_holder --no-thread --only=holder -t 64M
	run "$STATUS" "$PID"
	[ "$status" -eq 0 ]
	[ "$(field 'file-backed regions')" = "0 in 0 files" ]
}

@test "a PID that does not exist: exit 1, clear message" {
	# Find a free PID: above pid_max cannot exist.
	max=$(cat /proc/sys/kernel/pid_max)
	run --separate-stderr "$STATUS" $((max + 1))
	[ "$status" -eq 1 ]
	[ "$stderr" = "oomshield-status: no process with PID $((max + 1))" ]
}

@test "an unprotected process: exit 1, clear message" {
	mkfifo "$D/in"
	cat <"$D/in" >/dev/null 3>&- &
	PID=$!
	exec 7>"$D/in"
	# cat has opened the fifo once our open returned; its comm may still
	# be the shell's for an instant, so poll until the exec happened.
	deadline=$(( $(date +%s) + 20 ))
	until [ "$(cat /proc/$PID/comm)" = cat ]; do
		[ "$(date +%s)" -lt "$deadline" ]
		sleep 0.05
	done
	run --separate-stderr "$STATUS" "$PID"
	[ "$status" -eq 1 ]
	[ "$stderr" = "oomshield-status: PID $PID (cat) is not protected: liboomshield.so is not loaded" ]
}

@test "usage errors: exit 2" {
	run "$STATUS"
	[ "$status" -eq 2 ]
	run "$STATUS" abc
	[ "$status" -eq 2 ]
	[[ "$output" == *"'abc' is not a process id"* ]]
	run "$STATUS" 1 2
	[ "$status" -eq 2 ]
	run "$STATUS" --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "Usage: oomshield-status PID" ]]
}
