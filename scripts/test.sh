#!/usr/bin/env bash
# test.sh: the project's whole test suite, as CI runs it. Installs what is
# missing first (scripts/deps.sh), then checks formatting, vets, runs every
# test under the race detector and gives each fuzz target a short run.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh go
# The web client's build (embedded by the binary the tests build) and the
# Chromium its end-to-end test drives.
./scripts/deps.sh web chromium
# PostgreSQL and Redis for the store and limiter tests; CI never skips them.
eval "$(./scripts/services.sh)"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './web/node_modules/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== web client unit tests"
npm --prefix web test --silent

echo "== go vet"
go vet ./...
go vet -tags release ./...

echo "== go test -race"
go test -race -timeout 20m -count=1 -skip '^TestSoak$' ./...

# The soak checks the guide's KPIs (90 fps, API latency) for a minute
# (SPACETIME_SOAK_MINUTES): alone, not beside the parallel race tests
# that would take the two cores from the engine it measures.
echo "== soak"
go test -race -timeout 20m -count=1 -run '^TestSoak$' ./cmd/spacetime

echo "== release build"
go build -tags release -o /dev/null ./cmd/spacetime

echo "== Prometheus alert rules"
./scripts/check-alerts.sh
./scripts/check-deploy.sh # systemd-analyze verify, the dashboard's PromQL

echo "== fuzz (short)"
FUZZTIME=${FUZZTIME:-5s} ./scripts/fuzz.sh
