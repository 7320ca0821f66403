#!/usr/bin/env bash
# Smoke test of one petclinic implementation: the workload at N = 20, every check
# included, in a database of its own on the throwaway server.
#   test_petclinic.sh PROGRAM
set -uo pipefail
prog=${1:?usage: test_petclinic.sh PROGRAM}
: "${PGPORT:?run through make test (needs the throwaway server)}"
db="dsql_t_$(basename "$prog")"
PGOPTIONS="-c client_min_messages=warning" psql -XqAt -d postgres -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$db\"" \
    -c "CREATE DATABASE \"$db\"" || exit 1
out=$(PGDATABASE=$db "$prog" -n 20 --rtt-ms 0 2>&1)
rc=$?
psql -XqAt -d postgres -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1
printf '%s\n' "$out"
phases=$(grep -cE '^bench=[a-z]+ phase=[a-zA-Z.+]+ ops=[0-9]+ ms=[0-9.]+ rtt_ms=0 round_trips=[0-9]+$' <<<"$out")
if [ $rc -ne 0 ] || [ "$phases" -ne 8 ] ||
    ! grep -qE '^bench=[a-z]+ total_ms=[0-9.]+ peak_rss_kb=[0-9]+ rtt_ms=0 n=20$' <<<"$out"; then
    echo "FAIL: exit $rc, $phases phase lines (want 8) and a total line"
    exit 1
fi
echo "ok   $(basename "$prog"): 8 phases, every check passed"
