#!/bin/sh
# Runs each Check unit-test binary given as an argument; Check prints its own
# "Checks: N, Failures: F" line per binary.  Exit status: 1 if any failed.
status=0
for t in "$@"; do
	"$t" || status=1
done
exit $status
