#!/usr/bin/env bash
# check-alerts.sh: validate the shipped Prometheus files with promtool:
# `promtool check rules` on deploy/prometheus/alerts.yaml, `promtool test
# rules` on its unit tests (alerts_test.yaml) and `promtool check config`
# on prometheus.yml. promtool comes from the Debian package `prometheus`,
# installed here when missing and running as root; otherwise the script
# says what is missing and fails.
set -euo pipefail
cd "$(dirname "$0")/../deploy/prometheus"

if ! command -v promtool >/dev/null; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "check-alerts: promtool is missing (run as root, or: sudo apt-get install --no-install-recommends prometheus)" >&2
		exit 1
	fi
	echo "check-alerts: installing promtool (Debian package prometheus)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

echo "== promtool check rules"
promtool check rules alerts.yaml
echo "== promtool test rules"
promtool test rules alerts_test.yaml
echo "== promtool check config"
promtool check config prometheus.yml
