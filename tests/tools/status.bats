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
	"$OOMSHIELD" -d "$D" -t 1M "$@" -- "$BATS_FILE_TMPDIR/holder" 8 <"$D/in" >"$D/out" 3>&- &
	PID=$!
	exec 7>"$D/in"
	wait_for "$D/out" '^ready'
}

field() {   # field LABEL: the value printed after a status label
	printf '%s\n' "$output" | sed -n "s/^  $1  *//p"
}

@test "status of a protected process: regions, bytes, RSS, dirty, dir, free space" {
	start_holder --no-defrag
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

@test "oomshield status PID runs the same tool" {
	start_holder --no-defrag
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

@test "--only excluding the program: library loaded, no regions" {
	start_holder --no-defrag --only=somethingelse
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
