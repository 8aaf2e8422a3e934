#!/usr/bin/env bash
# bench.sh: every benchmark of the project, on loopback, as `make bench`
# runs it (docs/benchmarks.md explains each figure):
#
#   go test -bench   every package with benchmarks (-benchmem)
#   bench engine     10k and 100k particles at 90 Hz
#   bench telemetry  100 and 500 subscribers at 90 Hz, and 500 + 1 stalled
#   bench http       wrk against the full server, the API without its
#                    security layer and bare net/http (ratios within the run)
#   bench soak       a short soak of the guide's KPIs at 300 req/s
#
# Results: $BENCH_OUT (default bench-results/) gets one file per step, then
# results.json (everything, machine-readable) and summary.md (for people).
# QUICK=1 makes a smoke run of about two minutes with short runs; a full
# run takes about eight. PostgreSQL and Redis (scripts/services.sh) let
# the store and Redis limiter benchmarks run; wrk is installed with
# apt-get when missing and running as root.
#
# A step that fails is recorded and the others still run; the script then
# exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=${QUICK:-0}
out=${BENCH_OUT:-bench-results}
bin=bin/spacetime

./scripts/deps.sh go || exit 1
if services=$(./scripts/services.sh); then
	eval "$services"
else
	echo "bench: PostgreSQL or Redis unavailable: the store and Redis benchmarks will skip" >&2
fi
if ! command -v wrk >/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "bench: installing wrk"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk
	else
		echo "bench: wrk is missing (sudo apt-get install wrk): the HTTP step will fail" >&2
	fi
fi

version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
go build -ldflags "-X github.com/spacetime-vr/spacetime/internal/buildinfo.version=$version" -o "$bin" ./cmd/spacetime || exit 1

if [ "$quick" = 1 ]; then
	benchtime=100ms engine_s=1 tele_s=2 http_s=2 http_runs=1 soak_min=0.25
else
	benchtime=1s engine_s=3 tele_s=5 http_s=10 http_runs=3 soak_min=1
fi

mkdir -p "$out"
# The results are this machine's: never committed.
[ -e "$out/.gitignore" ] || echo '*' >"$out/.gitignore"
rm -f "$out"/*.json "$out"/*.txt "$out"/*.err "$out"/steps.tsv "$out"/summary.md
failed=0

# step NAME OUTFILE CMD...: runs CMD with stdout into $out/OUTFILE and
# stderr into $out/NAME.err (also shown), and records its status and time.
step() {
	local name=$1 file=$2
	shift 2
	echo "== $name: $*"
	local start end rc
	start=$(date +%s.%N)
	"$@" >"$out/$file" 2> >(tee "$out/$name.err" >&2)
	rc=$?
	end=$(date +%s.%N)
	printf '%s\t%d\t%.1f\n' "$name" "$rc" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" >>"$out/steps.tsv"
	if [ $rc -ne 0 ]; then
		echo "bench: $name failed (exit $rc); see $out/$name.err" >&2
		failed=1
	fi
}

pkgs=$(grep -rl --include='*_test.go' '^func Benchmark' cmd internal | xargs -n1 dirname | sort -u | sed 's|^|./|')
# shellcheck disable=SC2086 # one argument per package
step go-bench go-bench.txt go test -run '^$' -bench . -benchmem -benchtime "$benchtime" -timeout 30m $pkgs

step engine-10k engine-10k.json "$bin" bench engine --particles 10000 --seconds "$engine_s" --json
step engine-100k engine-100k.json "$bin" bench engine --particles 100000 --seconds "$engine_s" --json

step telemetry-100 telemetry-100.json "$bin" bench telemetry --clients 100 --rate 90 --seconds "$tele_s" --json
step telemetry-500 telemetry-500.json "$bin" bench telemetry --clients 500 --rate 90 --seconds "$tele_s" --json
step telemetry-500-stalled telemetry-500-stalled.json "$bin" bench telemetry --clients 500 --stalled 1 --rate 90 --seconds "$tele_s" --json

step http http.json "$bin" bench http --seconds "$http_s" --runs "$http_runs" --json

step soak soak.json "$bin" bench soak --minutes "$soak_min" --json

report_flags=()
[ "$quick" = 1 ] && report_flags+=(--quick)
"$bin" bench report --dir "$out" "${report_flags[@]}" || failed=1
echo
cat "$out/summary.md"
exit $failed
