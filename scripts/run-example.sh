#!/usr/bin/env bash
# What `make run` runs once the throwaway server is up: the main example against the
# configured target. Until the pet-clinic example exists it pings the server.
set -euo pipefail
build=${1:?usage: run-example.sh BUILD_DIR}
echo "== target: throwaway PostgreSQL on ${PGHOST}:${PGPORT} (TLS verify-full) =="
exec "$build/bin/dsql" ping
