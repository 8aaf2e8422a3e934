#!/usr/bin/env bash
# fuzz.sh: run every fuzz target of the project for FUZZTIME (default 20s)
# each. A crasher is written by go test under the package's
# testdata/fuzz/FuzzXxx/ and stays there as a regression case.
#
# Go's fuzzing coordinator sometimes ends a short run with "context
# deadline exceeded" when a worker is slow to answer at the deadline on a
# busy machine; that run found nothing (no crasher is written), so the
# target is run once more. A second such failure, or any crasher, fails.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20s}
status=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

fuzz_once() { # pkg target
	go test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" "$1" 2>&1 | tee "$out"
	return "${PIPESTATUS[0]}"
}

for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
	for t in $targets; do
		echo "fuzz: $pkg $t ($fuzztime)"
		if fuzz_once "$pkg" "$t"; then
			continue
		fi
		crashers=$(git status --porcelain -- "$dir/testdata/fuzz/$t" 2>/dev/null || true)
		if grep -q 'context deadline exceeded' "$out" && [ -z "$crashers" ]; then
			echo "fuzz: $t: the coordinator timed out with no crasher; running it once more"
			fuzz_once "$pkg" "$t" && continue
		fi
		status=1
	done
done
exit $status
