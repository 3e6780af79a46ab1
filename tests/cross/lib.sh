# lib.sh - sourced by tests/cross/*.sh.  Needs B (build dir of the target),
# LIB (its liboomshield.so, absolute) and TRIPLET.  Gives everything in
# tests/lib/common.sh (skip, fail, cg_make, cg_run, cg_drop) plus:
#   tgt PROG ARGS...      run a target program (natively or under qemu)
#   tgt_shim PROG ARGS... the same with the shim preloaded into the program
#                         (and OOMSHIELD_DIR=$T/d unless already set)
#   ms                    milliseconds since the epoch
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
: "${TRIPLET:?}" "${B:?}" "${LIB:?}"
T=$(mktemp -d /var/tmp/oms-cross.XXXXXX)   # always our own: callers remove it
mkdir -p "$T/d"
. "$ROOT/tests/lib/common.sh"
RUNNER="$HERE/qemu-run.sh"
tgt() { sh "$RUNNER" "$TRIPLET" "$@"; }
export TRIPLET B LIB
tgt_shim() { env GUEST_LD_PRELOAD="$LIB" OOMSHIELD_DIR="${OOMSHIELD_DIR:-$T/d}" sh "$RUNNER" "$TRIPLET" "$@"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
