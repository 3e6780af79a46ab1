#!/bin/sh
# run.sh [BATS-ARGS...] - run the tool tests in TAP (readable in any log,
# streamed as they run), then bats' summary line: "N tests, F failures, S
# skipped" (the pretty formatter's wording, without its terminal escapes).
# Exit status is bats' own.
dir=$(dirname "$0")
{ bats --tap "$@" "$dir"; echo "#bats-exit $?"; } | awk '
	/^#bats-exit / { rc = $2; next }
	{ print; fflush() }
	/^ok / { n++; if ($0 ~ / # skip/) s++ }
	/^not ok / { n++; f++ }
	END {
		line = sprintf("%d tests, %d failures", n, f)
		if (s) line = line sprintf(", %d skipped", s)
		print line
		exit rc
	}'
