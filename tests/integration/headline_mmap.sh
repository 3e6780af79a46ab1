# The headline, second program: 4x the memory-cgroup limit through
# anonymous mmap.  Killed without the shim, completes under it.
. tests/lib/common.sh
DEMO_MODE=mmap sh tests/demo.sh
