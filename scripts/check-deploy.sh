#!/usr/bin/env bash
# check-deploy.sh: the checks of deploy/ that need tools other than Go (the
# Go tests in deploy/ check the manifests, the Dockerfile, the unit and the
# dashboard against each other and the binary):
#
#   1. systemd-analyze verify on deploy/systemd/spacetime.service, through
#      a copy whose ExecStart names a freshly built binary (verify refuses
#      a unit whose binary is missing, and /opt/spacetime is not here);
#      any warning fails. Then systemd-analyze security --offline must
#      rate the unit's exposure 2.0 or lower. Skipped, saying so, where
#      systemd-analyze is missing.
#   2. promtool check rules on every query of deploy/grafana/dashboard.json
#      (Grafana's $__rate_interval and $instance filled in), so a PromQL
#      typo fails here rather than as an empty panel.
#   3. promtool check config on the Kubernetes scrape config shown in
#      deploy/kubernetes/README.md, with the alert rules (skipped, saying
#      so, by a promtool without Kubernetes discovery, such as Debian's).
#
# promtool and jq are installed from Debian when missing and running as
# root (as scripts/check-alerts.sh does); otherwise the script fails
# naming what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

need() { # need COMMAND DEBIAN-PACKAGE
	command -v "$1" >/dev/null && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "check-deploy: $1 is missing (run as root, or: sudo apt-get install --no-install-recommends $2)" >&2
		exit 1
	fi
	echo "check-deploy: installing $1 (Debian package $2)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

unit=deploy/systemd/spacetime.service
echo "== systemd-analyze verify $unit"
if command -v systemd-analyze >/dev/null; then
	go build -o "$tmp/spacetime" ./cmd/spacetime
	exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
	[ -n "$exec_start" ] || { echo "check-deploy: no ExecStart in $unit" >&2; exit 1; }
	sed "s#^ExecStart=$exec_start #ExecStart=$tmp/spacetime #" "$unit" >"$tmp/spacetime.service"
	grep -q "^ExecStart=$tmp/spacetime serve" "$tmp/spacetime.service" ||
		{ echo "check-deploy: could not point ExecStart at the built binary" >&2; exit 1; }
	out=$(systemd-analyze verify "$tmp/spacetime.service" 2>&1) || { echo "$out" >&2; exit 1; }
	if [ -n "$out" ]; then
		echo "$out" >&2
		echo "check-deploy: systemd-analyze verify warns about $unit" >&2
		exit 1
	fi
	echo "ok (ExecStart $exec_start verified as $tmp/spacetime)"
	echo "== systemd-analyze security --offline $unit"
	if ! systemd-analyze security --offline=yes --threshold=20 "$tmp/spacetime.service" >"$tmp/security.txt" 2>&1; then
		cat "$tmp/security.txt" >&2
		echo "check-deploy: exposure above 2.0" >&2
		exit 1
	fi
	tail -n 1 "$tmp/security.txt"
else
	echo "skipped: systemd-analyze is not installed here (the Go test TestSystemdUnit still checks the hardening)"
fi

need promtool prometheus
need jq jq

echo "== promtool check rules: the dashboard's queries"
{
	echo "groups:"
	echo "  - name: dashboard"
	echo "    rules:"
	jq -r '.panels[] | select(.targets) | .targets[].expr' deploy/grafana/dashboard.json |
		sed -e 's/\$__rate_interval/5m/g' -e 's/\$instance/.*/g' |
		awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); printf "      - record: dashboard:query_%d\n        expr: \"%s\"\n", NR, $0 }'
} >"$tmp/dashboard-rules.yaml"
queries=$(grep -c 'record:' "$tmp/dashboard-rules.yaml")
[ "$queries" -gt 0 ] || { echo "check-deploy: no queries found in the dashboard" >&2; exit 1; }
promtool check rules "$tmp/dashboard-rules.yaml"
echo "$queries dashboard queries parse"

echo "== promtool check config: the Kubernetes scrape config of deploy/kubernetes/README.md"
cp deploy/prometheus/alerts.yaml "$tmp/alerts.yaml"
awk '/^# prometheus-k8s.yml/ { on = 1 } on && /^```/ { exit } on { print }' deploy/kubernetes/README.md >"$tmp/prometheus.yml"
grep -q "job_name: spacetime" "$tmp/prometheus.yml" ||
	{ echo "check-deploy: no scrape config block (# prometheus-k8s.yml) in deploy/kubernetes/README.md" >&2; exit 1; }
if out=$(promtool check config "$tmp/prometheus.yml" 2>&1); then
	echo "$out"
elif grep -q "field kubernetes_sd_configs not found" <<<"$out"; then
	# Debian builds Prometheus without Kubernetes service discovery.
	echo "skipped: this promtool ($(promtool --version 2>&1 | head -n 1)) has no Kubernetes service discovery"
else
	echo "$out" >&2
	exit 1
fi
