#!/bin/sh
# Integration tests: each tests/integration/*.sh runs real programs under the
# shim.  Contract for a test script: exit 0 = pass, 77 = skip (after printing
# the reason on its last line), anything else = fail.  Scripts get $B (build
# folder), $LIB (absolute path of liboomshield.so) and $T (a private scratch
# folder that is removed afterwards).
# Run one test:  B=build/x86_64-linux-gnu LIB=$PWD/build/.../liboomshield.so sh tests/run-integration.sh NAME
pass=0 fail=0 skip=0
dir=$(dirname "$0")/integration
[ $# -gt 0 ] && only=" $* " || only=
for t in "$dir"/*.sh; do
	name=$(basename "$t" .sh)
	case "$only" in ""|*" $name "*) ;; *) continue ;; esac
	T=$(mktemp -d /var/tmp/oms-test.XXXXXX)
	out=$(cd "$(dirname "$0")/.." && B="$B" LIB="$LIB" T="$T" sh "$t" 2>&1)
	rc=$?
	rm -rf "$T"
	case $rc in
	0) pass=$((pass + 1)); echo "ok   $name" ;;
	77) skip=$((skip + 1)); echo "skip $name: $(printf '%s\n' "$out" | tail -n 1)" ;;
	*) fail=$((fail + 1)); echo "FAIL $name (exit $rc)"; printf '%s\n' "$out" | tail -n 30 | sed 's/^/    /' ;;
	esac
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
