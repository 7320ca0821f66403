#!/usr/bin/env bash
# `make soak`: the bank workload (tests/local/test_bank_soak_tsan.c) for SOAK_SECONDS under
# faults injected by dsql-local, then its figures. Run through scripts/with-dsql-local.sh.
#   scripts/soak.sh BUILD_DIR
# Knobs: SOAK_SECONDS (default 300), SOAK_THREADS (default 8), SOAK_REPORT (default
# build/soak-report.txt; the figures are appended).
set -euo pipefail
build=${1:?usage: soak.sh BUILD_DIR}
: "${DSQL_LOCAL_PORT:?soak.sh: run through scripts/with-dsql-local.sh}"
seconds=${SOAK_SECONDS:-300}
threads=${SOAK_THREADS:-8}
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "soak: SOAK_SECONDS must be a whole number >= 1, not '$seconds'" >&2; exit 2; }
[[ "$threads" =~ ^[1-9][0-9]*$ ]] && (( threads <= 64 )) ||
    { echo "soak: SOAK_THREADS must be a whole number from 1 to 64, not '$threads'" >&2; exit 2; }
report=${SOAK_REPORT:-$(pwd)/build/soak-report.txt}
# The test's own checks talk to the PostgreSQL behind dsql-local.
export PGHOST=localhost PGHOSTADDR=127.0.0.1 PGPORT=$LOCALPG_PORT PGUSER=postgres
export PGDATABASE=postgres PGSSLMODE=verify-full PGSSLROOTCERT=$LOCALPG_CA
export DSQL_SOAK_SECONDS=$seconds DSQL_SOAK_THREADS=$threads DSQL_SOAK_REPORT=$report
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
echo "soak: $seconds s, $threads threads, faults from dsql-local; figures appended to $report"
"$build/tests/test_bank_soak_tsan"
