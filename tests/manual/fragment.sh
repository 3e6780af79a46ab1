#!/bin/sh
# fragment.sh - manual, root only, NOT run by CI: fragments this machine's
# memory for real, then runs a protected program against the real /proc
# and shows buddyinfo before, fragmented, and after the DefragTick thread
# has acted.  This writes the real /proc/sys/vm/compact_memory (unless
# DRY=1): it costs every user of the machine a few seconds of compaction.
#
#   sudo sh tests/manual/fragment.sh [MiB]      (default: half of MemAvailable)
#   env: LIB=path/liboomshield.so  METRIC=unusable|extfrag (unusable)
#        DRY=1 (dry run: detect and log only)  SECS=20 (how long to watch)
#        ZONE=auto|Normal|DMA32... (auto = the zone with the most managed pages)
#
# Why METRIC=unusable by default: freeing every other page leaves a few
# high-order blocks intact, so the seed's extfrag index stays -1.000
# ("a suitable block exists") even with 99 % of free memory unusable; see
# tests/fixtures/proc/README.md and docs/defrag.md.
set -e
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "fragment.sh: needs root (compact_memory is root-only)"; exit 1; }
LIB=${LIB:-$(ls "$PWD"/build/*/liboomshield.so 2>/dev/null | head -n 1)}
[ -f "$LIB" ] || { echo "fragment.sh: build the library first (make)"; exit 1; }
MIB=${1:-$(awk '/MemAvailable/ { print int($2 / 1024 / 2) }' /proc/meminfo)}
SECS=${SECS:-20}
W=$(mktemp -d)
trap 'kill $FP 2>/dev/null; rm -rf "$W"' EXIT
${CC:-cc} -O2 -o "$W/fragment" tests/manual/fragment.c

echo "== buddyinfo before"
cat /proc/buddyinfo
"$W/fragment" "$MIB" > "$W/out" &
FP=$!
n=0
until grep -q ready "$W/out"; do
	n=$((n + 1)); [ $n -lt 1200 ] || { echo "fragment helper did not finish"; exit 1; }
	sleep 0.1
done
cat "$W/out"
echo "== buddyinfo fragmented"
cat /proc/buddyinfo

echo "== protected 'sh -c sleep' for ${SECS}s (OOMSHIELD_DEFRAG_METRIC=${METRIC:-unusable}${DRY:+, dry run})"
env LD_PRELOAD="$LIB" OOMSHIELD_LOG=info OOMSHIELD_STATS=1 \
	OOMSHIELD_DEFRAG_METRIC="${METRIC:-unusable}" OOMSHIELD_DEFRAG_DRY_RUN="${DRY:-0}" \
	OOMSHIELD_ZONE="${ZONE:-auto}" \
	OOMSHIELD_LOG_FILE="$W/log" sh -c "sleep $SECS"
cat "$W/log"
echo "== buddyinfo after (helper still holding its pages)"
cat /proc/buddyinfo
