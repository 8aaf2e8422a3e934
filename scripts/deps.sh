#!/usr/bin/env bash
# deps.sh KIND...: install what the named kinds of work need and are missing.
#   go        Go modules of go.mod
#   web       Node.js and npm (Debian nodejs npm when missing), the web
#             client's npm packages (npm ci when web/node_modules is missing
#             or older than web/package-lock.json), then its build into
#             web/dist (npm run build), which the Go binary embeds
#   chromium  Debian chromium, for the browser end-to-end test
# Debian packages are installed only when running as root; otherwise the
# script says what is missing and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=0
need_debs() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
		return 1
	fi
	if [ $apt_updated -eq 0 ]; then
		apt-get update -qq
		apt_updated=1
	fi
	echo "deps: installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

for kind in "$@"; do
	case "$kind" in
	go)
		command -v go >/dev/null || { echo "deps: Go is not installed (https://go.dev/dl, 1.26 or newer)" >&2; exit 1; }
		go mod download
		;;
	web)
		if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
			need_debs nodejs npm
		fi
		# npm ci rewrites node_modules/.package-lock.json: it dates the install.
		if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
			echo "deps: npm ci (web)"
			npm --prefix web ci --no-audit --no-fund
		fi
		npm --prefix web run --silent build
		;;
	chromium)
		need_debs chromium
		;;
	*)
		echo "deps: unknown kind $kind" >&2
		exit 2
		;;
	esac
done
