#!/bin/sh
# seedbox.sh - the seed's setting, as closely as this machine allows:
#   - a 512 MB box without swap: a memory cgroup of 512 MiB (memsw too on v1,
#     memory.swap.max=0 on v2);
#   - the rest of the system: HOGS processes (default 4 x 88 MiB = 352 MiB)
#     holding touched anonymous memory in the same cgroup, started first.
#     200 MB alone fits in 512 MB; the seed's box also ran other things.
#     Several smaller processes rather than one 350 MB one, so that the OOM
#     killer's choice is the realistic one: the biggest process is the
#     seed's program, and that is the one it kills (with one big hog it
#     would kill the hog and the program would finish by luck).  The hogs
#     are native programs (they need no emulation, and qemu would add its
#     own memory to each);
#   - tests/progs/seedbox: a plain C program that mallocs 200 MB, builds a
#     table in it, modifies it, writes it to a file and verifies it; run
#     for the target (armhf under qemu-user by default).
# It shows the plain program killed and the protected one finishing, with
# the hogs alive in both cases.
# Env: B, LIB, TRIPLET (lib.sh); SEEDBOX_LIMIT_MIB (512), SEEDBOX_MB (200),
#      HOGS (4), HOG_MIB (88), SEEDBOX_DIR (backing dir; default under T).
# Exit: 0 shown, 77 cannot run here (reason printed), 1 the claim failed.
. "$(dirname "$0")/lib.sh"
limit=${SEEDBOX_LIMIT_MIB:-512} mb=${SEEDBOX_MB:-200} hogs=${HOGS:-4} hogmib=${HOG_MIB:-88}
PROG=$B/tests/progs/seedbox HOG=$B/tests/cross/hog
[ -x "$PROG" ] || skip "$PROG not built"
[ -x "$HOG" ] || skip "$HOG not built"
cg_make $((limit << 20)) || skip "seed box skipped: $CG_WHY"
mkfifo "$T/hold"
HPIDS=
cleanup() {
	exec 9>&- 2>/dev/null
	# everything still in the cgroup is ours: the hogs, or a stray child
	[ -n "$CG" ] && for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	cg_drop
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
exec 9<>"$T/hold"          # keeps the hogs' stdin open until cleanup
i=0
while [ $i -lt "$hogs" ]; do
	cg_run "$HOG" "$hogmib" < "$T/hold" > "$T/hog$i" 9>&- &
	i=$((i + 1))
done
i=0
until [ "$(cat "$T"/hog* 2>/dev/null | grep -c ready)" -eq "$hogs" ]; do
	i=$((i + 1)); [ $i -gt 300 ] && fail "the hogs did not start"
	sleep 0.1
done
HPIDS=$(sed -n 's/^ready //p' "$T"/hog*)
hogs_alive() { for p in $HPIDS; do kill -0 "$p" 2>/dev/null || return 1; done; }
used() { cat "$CG/memory.usage_in_bytes" "$CG/memory.current" 2>/dev/null | head -n 1; }
echo "== seed box ($TRIPLET): $limit MiB, no swap; the rest of the system holds $hogs x $hogmib MiB" \
	"($(( $(used) >> 20 )) MiB in use); seedbox builds, modifies and writes out $mb MB"
mkdir -p "$T/out" "$T/dir"
t0=$(ms)
out=$(cg_run sh "$RUNNER" "$TRIPLET" "$PROG" "$T/out/table" "$mb" 2>&1)
rc=$?
echo "-- plain:     exit $rc after $(( $(ms) - t0 )) ms ${out:+($(printf '%s' "$out" | tail -n 1))}"
hogs_alive || { echo "   the OOM killer took a hog instead: nothing to show"; exit 1; }
[ $rc -gt 128 ] || { echo "   NOT killed: the box is not under pressure here"; exit 1; }
rm -f "$T/out/table"
t0=$(ms)
out=$(cg_run env GUEST_LD_PRELOAD="$LIB" OOMSHIELD_DIR="${SEEDBOX_DIR:-$T/dir}" OOMSHIELD_STATS=1 \
	sh "$RUNNER" "$TRIPLET" "$PROG" "$T/out/table" "$mb" 2>"$T/err")
rc=$?
echo "-- protected: exit $rc after $(( $(ms) - t0 )) ms: $out"
grep 'stats:' "$T/err" | sed 's/^/   /'
hogs_alive || { echo "   a hog was killed during the protected run"; exit 1; }
case "$out" in "ok seedbox"*) ;; *) echo "   the protected run did not finish"; tail -5 "$T/err"; exit 1 ;; esac
[ $rc -eq 0 ] || exit 1
[ -z "$(ls -A "${SEEDBOX_DIR:-$T/dir}")" ] || { echo "   files left in the backing dir"; exit 1; }
echo "== the seed's program finished with its table verified; the rest of the system untouched"
