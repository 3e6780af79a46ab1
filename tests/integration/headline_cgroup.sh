# The headline: 4x the memory-cgroup limit, through malloc.  OOM-killed
# without the shim, completes with verified data under it.
. tests/lib/common.sh
DEMO_MODE=malloc sh tests/demo.sh
