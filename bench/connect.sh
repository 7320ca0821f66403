#!/usr/bin/env bash
# bench/connect.sh BUILD_DIR — round trips from TCP connect to the first query's answer,
# for libdsql and hand-written libpq, against dsql-local (IAM token, TLS) and the plain
# PostgreSQL behind it (password, TLS), each behind bench/rttproxy at BENCH_CONNECT_RTT_MS
# (default 20) of round-trip time: PostgreSQL with trust auth and with SCRAM. Run through scripts/with-dsql-local.sh (bench/local.sh
# calls it). Prints a Markdown table on stdout; raw lines go to BENCH_OUT/raw/connect-*.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: bench/connect.sh BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
rtt=${BENCH_CONNECT_RTT_MS:-20}
count=${BENCH_CONNECT_COUNT:-10}
out=${BENCH_OUT:-$here/results}
raw=$out/raw
: "${DSQL_LOCAL_PORT:?bench/connect.sh: run through scripts/with-dsql-local.sh}"
die() { echo "bench: $*" >&2; exit 1; }
[[ "$rtt" =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNECT_RTT_MS must be a whole number >= 1, not '$rtt'"
[[ "$count" =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNECT_COUNT must be a whole number >= 1, not '$count'"
mkdir -p "$raw"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

proxy() { # target port, rtt -> the proxy's port
    local f=$raw/connect-proxy-$1-$2.out
    "$build/bench/rttproxy" --target "127.0.0.1:$1" --rtt-ms "$2" --max-seconds 600 >"$f" 2>&1 &
    pids+=($!)
    local port=
    for _ in $(seq 100); do
        port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$f")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || die "rttproxy did not start: $(cat "$f")"
    echo "$port"
}
# The same path at 0 ms and at $rtt ms: the difference, over $rtt, is the round trips (what
# the client and server compute, TLS and SCRAM included, cancels out).
declare -A port
for r in 0 "$rtt"; do
    port[pg$r]=$(proxy "$LOCALPG_PORT" "$r")
    port[dsql$r]=$(proxy "$DSQL_LOCAL_PORT" "$r")
done
tls="sslmode=verify-full sslrootcert=$LOCALPG_CA"
token=$("$build/bin/dsql" generate-db-connect-admin-auth-token --hostname localhost \
    --region us-east-1 --expires-in 3600)

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
conninfo() { # server client rtt
    local base="host=localhost hostaddr=127.0.0.1 dbname=postgres $tls"
    case $1 in
    postgresql-trust) echo "$base port=${port[pg$3]} user=postgres" ;;
    postgresql-scram) echo "$base port=${port[pg$3]} user=dsql_pw password=dsql-pw-secret" ;;
    dsql-local)
        if [ "$2" = libpq ]; then
            echo "$base port=${port[dsql$3]} user=admin password=$token"
        else
            echo "$base port=${port[dsql$3]} user=admin auth=iam region=us-east-1"
        fi ;;
    esac
}
run() { # client server -> a table row
    local client=$1 server=$2 l0 lr
    l0=$("$build/bench/bench_connect" --client "$client" --rtt-ms 1 --count "$count" \
        "$(conninfo "$server" "$client" 0)")
    lr=$("$build/bench/bench_connect" --client "$client" --rtt-ms "$rtt" --count "$count" \
        "$(conninfo "$server" "$client" "$rtt")")
    printf '%s\n%s\n' "$l0" "$lr" >>"$raw/connect-$client-$server.txt"
    awk -v c="$client" -v s="$server" -v r="$rtt" \
        -v c0="$(field connect_ms_p50 "$l0")" -v q0="$(field first_query_ms_p50 "$l0")" \
        -v cr="$(field connect_ms_p50 "$lr")" -v qr="$(field first_query_ms_p50 "$lr")" \
        'BEGIN { printf "| %s | %s | %.1f | %.1f | %.2f ms / %.2f ms | %.1f ms / %.1f ms |\n", c, s, (cr - c0) / r, (qr - q0) / r, c0, q0, cr, qr }'
}
echo "| client | server | round trips to connected | to first answer | at 0 ms: connected / answer | at $rtt ms RTT |"
echo "|---|---|---|---|---|---|"
for server in postgresql-trust postgresql-scram dsql-local; do
    for client in libpq libdsql; do
        run $client $server
    done
done
echo
echo "Round trips: (median at $rtt ms RTT - median at 0 ms) / $rtt, $count connections each,"
echo "both through bench/rttproxy (which delays bytes, not the TCP handshake). libpq"
echo "$(pkg-config --modversion libpq 2>/dev/null || echo '?'): direct TLS (sslnegotiation=direct, one round trip less) needs libpq 17."
