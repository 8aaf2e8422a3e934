#!/usr/bin/env bash
# services.sh: make sure the PostgreSQL and Redis that the tests use run on
# 127.0.0.1 (5432 and 6379), installing them with apt-get when missing and
# running as root, then print the variables the tests read:
#
#   eval "$(./scripts/services.sh)"
#
# sets SPACETIME_TEST_DATABASE_URL and SPACETIME_TEST_REDIS_URL. Progress
# goes to stderr; only the exports go to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "services: $*" >&2; }

install_debs() {
	if [ "$(id -u)" -ne 0 ]; then
		say "missing $* (run as root to install it, or: sudo apt-get install $*)"
		return 1
	fi
	say "installing $*"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
	install_debs postgresql postgresql-client
fi
if ! pg_up; then
	say "starting PostgreSQL"
	pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start >&2 || true
	for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
	pg_up || { say "PostgreSQL does not answer on 127.0.0.1:5432"; exit 1; }
fi
# The tests connect as postgres with password postgres: that works under
# trust auth as it is, and under a fresh install's password auth once the
# password is set over the local socket.
if [ "$(id -u)" -eq 0 ]; then
	su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null 2>&1 || true
	su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'test'\"" 2>/dev/null | grep -q 1 ||
		su postgres -c "createdb test" >&2 || true
fi

if ! command -v redis-server >/dev/null; then
	install_debs redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
	say "starting Redis"
	redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
	for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi

echo "export SPACETIME_TEST_DATABASE_URL='postgres://postgres:postgres@127.0.0.1:5432/test?sslmode=disable'"
echo "export SPACETIME_TEST_REDIS_URL='redis://127.0.0.1:6379/0'"
