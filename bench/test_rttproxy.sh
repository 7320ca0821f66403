#!/usr/bin/env bash
# Smoke test of bench/rttproxy against the throwaway server: psql's SELECT 1 and TLS
# verify-full pass through it, and `dsql ping` sees at least the emulated round trip.
#   test_rttproxy.sh RTTPROXY DSQL_CLI
set -uo pipefail
proxy=${1:?usage: test_rttproxy.sh RTTPROXY DSQL_CLI}
cli=${2:?usage: test_rttproxy.sh RTTPROXY DSQL_CLI}
: "${PGPORT:?run through make test (needs the throwaway server)}"
fail=0
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

report() { # name, ok(0/1), details
    if [ "$2" -eq 0 ]; then
        echo "ok   $1"
    else
        echo "FAIL $1: $3"
        fail=1
    fi
}

# Bad input is refused with a message naming it.
out=$("$proxy" --target 127.0.0.1:1 --rtt-ms fast 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -q -- "--rtt-ms must be a number of milliseconds.*'fast'" <<<"$out"
report "bad --rtt-ms is refused" $? "exit $rc, output: $out"
out=$("$proxy" --rtt-ms 1 2>&1)
rc=$?
[ $rc -eq 2 ] && grep -q '^usage: rttproxy' <<<"$out"
report "missing --target is refused" $? "exit $rc, output: $out"

rtt=20
"$proxy" --target "127.0.0.1:$PGPORT" --rtt-ms $rtt --max-seconds 60 >"$tmp/out" 2>"$tmp/err" &
pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$tmp/out")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ]
report "prints the port it listens on" $? "stdout: $(cat "$tmp/out")"

ci="host=localhost hostaddr=127.0.0.1 port=$port dbname=postgres user=postgres sslmode=verify-full sslrootcert=$PGSSLROOTCERT"
out=$(psql "$ci" -XAtc 'select 1' 2>&1)
[ "$out" = 1 ]
report "psql SELECT 1 through the proxy (TLS verify-full)" $? "got: $out"

out=$(psql "$ci" -XAt -c "select string_agg(i::text, ',') from generate_series(1, 20000) i" 2>&1)
[ "$(tr ',' '\n' <<<"$out" | wc -l)" -eq 20000 ] && [ "${out##*,}" = 20000 ]
report "a 100 kB result arrives whole and in order" $? "got ${#out} bytes"

# The delay is a lower bound, never an upper one: min over 3 pings >= the emulated RTT.
out=$("$cli" ping --count 3 "$ci" 2>&1)
min=$(sed -n 's/^rtt: .* min \([0-9.]*\) ms.*/\1/p' <<<"$out")
[ -n "$min" ] && awk -v m="$min" -v r=$rtt 'BEGIN { exit !(m >= r) }'
report "dsql ping through the proxy sees >= $rtt ms" $? "output: $out"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] && grep -Eq '^rttproxy: [1-9][0-9]* connections, [0-9]+ chunks, [0-9]+ bytes forwarded, [0-9]+ round trips$' "$tmp/err"
report "stops cleanly on SIGTERM with its statistics" $? "exit $rc, stderr: $(cat "$tmp/err")"
exit $fail
