# defrag.sh - sourced by tests/integration/defrag_*.sh, after common.sh.
# Builds a fake /proc, /sys and /run under $R (the shim reaches them through
# OOMSHIELD_PROC_ROOT) and polls files with a deadline: nothing here sleeps
# for a fixed time and then asserts.
R=$T/root
D=$T/dir          # OOMSHIELD_DIR: must stay empty
PIDS=
FRAG='Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 
Node 0, zone   Normal 100000     50      0      0      0      0      0      0      0      0      0 '
IDLE='Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 
Node 0, zone    DMA32      2      2      4      2      5      4      3      3      4      2    752 
Node 0, zone   Normal    269    279    675    705    431    258    134    140    103     62    308 '

mkroot() { # BUDDYINFO_TEXT
	mkdir -p "$R/proc/sys/vm" "$R/run" "$D"
	printf '%s\n' "$1" > "$R/proc/buddyinfo"
	: > "$R/proc/sys/vm/compact_memory"
	: > "$R/proc/sys/vm/drop_caches"
}

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	PIDS=
}
trap cleanup EXIT

# protect LOGFILE CMD... : start CMD under the shim in the background.
protect() {
	log=$1; shift
	env LD_PRELOAD="$LIB" OOMSHIELD_DIR="$D" OOMSHIELD_PROC_ROOT="$R" \
		OOMSHIELD_DEFRAG_INTERVAL_MS="${INTERVAL:-20}" OOMSHIELD_LOG="${LOGLEVEL:-info}" \
		OOMSHIELD_LOG_FILE="$log" "$@" &
	PIDS="$PIDS $!"
	LAST=$!
}

# poll SECONDS SHELL-CONDITION : true as soon as the condition holds.
poll() {
	n=$(($1 * 20)); shift
	while [ $n -gt 0 ]; do
		eval "$@" && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

content() { cat "$1" 2>/dev/null; }
lines() { grep -c -- "$2" "$1" 2>/dev/null || true; }

assert_empty() { # FILE...: the shim wrote nothing there
	for f; do [ -s "$f" ] && fail "$f was written: $(cat "$f")"; done; return 0
}

# The library must contain the DefragTick module.
need_defrag() {
	[ -f "$LIB" ] || skip "no library at $LIB"
	grep -q oomshield-dfrag "$LIB" || skip "library built without shim/defrag.c"
}
