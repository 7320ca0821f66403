#!/usr/bin/env bash
# Smoke test of one petclinic implementation: the workload at N = 20, every check
# included, in a database of its own on the throwaway server. For petclinic_libdsql it
# also checks the round trips: one per operation in every phase, as the hand-written
# floor sends (whose first use of a statement adds its prepare).
#   test_petclinic.sh PROGRAM [ARGS...]   (ARGS go to the program, e.g. --seed-queries)
set -uo pipefail
prog=${1:?usage: test_petclinic.sh PROGRAM [ARGS...]}
: "${PGPORT:?run through make test (needs the throwaway server)}"
want_phases=11
db="dsql_t_$(basename "$prog")"
PGOPTIONS="-c client_min_messages=warning" psql -XqAt -d postgres -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$db\"" \
    -c "CREATE DATABASE \"$db\"" || exit 1
out=$(PGDATABASE=$db "$prog" -n 20 --rtt-ms 0 "${@:2}" 2>&1)
rc=$?
psql -XqAt -d postgres -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1
printf '%s\n' "$out"
phases=$(grep -cE '^bench=[a-z]+ phase=[a-zA-Z.+]+ ops=[0-9]+ ms=[0-9.]+ rtt_ms=0 round_trips=[0-9]+$' <<<"$out")
if [ $rc -ne 0 ] || [ "$phases" -ne $want_phases ] ||
    ! grep -qE '^bench=[a-z]+ total_ms=[0-9.]+ peak_rss_kb=[0-9]+ rtt_ms=0 n=20$' <<<"$out"; then
    echo "FAIL: exit $rc, $phases phase lines (want $want_phases) and a total line"
    exit 1
fi
if [ "$(basename "$prog")" = petclinic_libdsql ]; then
    extra=$(awk '/^bench=libdsql phase=/ {
                     for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
                     if (f["round_trips"] != f["ops"])
                         printf "%s: %s round trips for %s operations; ", f["phase"], f["round_trips"], f["ops"]
                 }' <<<"$out")
    if [ -n "$extra" ]; then
        echo "FAIL: more than one round trip per operation: $extra"
        exit 1
    fi
fi
echo "ok   $(basename "$prog"): $want_phases phases, every check passed"
