#!/usr/bin/env bash
# bench/concurrency.sh BUILD_DIR — per-operation cost with 1-16 threads, server local and at 2 ms RTT:
# libdsql's pool (max 5, and max = threads) against libdsql with one connection per thread
# (the pool's own cost) and hand-written libpq with one connection per thread, for a point
# read and a one-insert transaction. BENCH_CONC_THREADS (default
# "1 2 4 8 16"), BENCH_CONC_SECONDS per run (default 2), BENCH_CONC_RTT_MS (default "0 2":
# the server local, then behind bench/rttproxy at 2 ms round trip, 1 ms each way). Run with the throwaway
# PostgreSQL's environment (scripts/with-localpg.sh; bench/run.sh calls it). Prints a
# Markdown table; raw lines go to BENCH_OUT/raw/concurrency.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: bench/concurrency.sh BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
threads=${BENCH_CONC_THREADS:-1 2 4 8 16}
secs=${BENCH_CONC_SECONDS:-2}
rtts=${BENCH_CONC_RTT_MS:-0 2}
out=${BENCH_OUT:-$here/results}
raw=$out/raw
: "${PGPORT:?bench/concurrency.sh: run with the throwaway server (scripts/with-localpg.sh)}"
prog=$build/bench/bench_concurrency
[ -x "$prog" ] || { echo "bench: $prog is missing (build first: make bench)" >&2; exit 1; }
mkdir -p "$raw"
: >"$raw/concurrency.txt"
db=dsql_bench_conc
psql -XqAt -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
psql -XqAt -d "$db" -c "CREATE TABLE bench_conc (id int PRIMARY KEY, name text)" \
    -c "INSERT INTO bench_conc SELECT i, 'name' || i FROM generate_series(1, 1000) i" \
    -c "CREATE TABLE bench_conc_w (id bigint PRIMARY KEY, name text)" >/dev/null
# libdsql reads the same server from the environment (password or trust, TLS as PG*).
export PGDATABASE=$db
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
server_port=$PGPORT
for rtt in $rtts; do
    if [ "$rtt" != 0 ]; then
        f=$raw/concurrency-proxy-$rtt.out
        "$build/bench/rttproxy" --target "127.0.0.1:$server_port" --rtt-ms "$rtt" \
            --max-seconds 1800 >"$f" 2>&1 &
        pids+=($!)
        port=
        for _ in $(seq 100); do
            port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$f")
            [ -n "$port" ] && break
            sleep 0.1
        done
        [ -n "$port" ] || { echo "bench: rttproxy did not start: $(cat "$f")" >&2; exit 1; }
        export PGPORT=$port PGHOSTADDR=127.0.0.1
    fi
    echo
    echo "RTT $rtt ms:"
    echo
    echo "| op | threads | libpq (conn per thread): ops/s, p50/p99 us, CPU us/op | libdsql conn per thread | vs libpq | libdsql pool 5 | vs libpq | libdsql pool = threads | vs libpq | pool = threads vs libdsql conn per thread |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for op in read tx; do
        for t in $threads; do
            clear() { PGPORT=$server_port psql -XqAt -c "DELETE FROM bench_conc_w" >/dev/null; }
            clear
            lp=$("$prog" --client libpq --op $op --threads "$t" --seconds "$secs")
            clear
            d5=$("$prog" --client libdsql --op $op --threads "$t" --pool 5 --seconds "$secs")
            clear
            dt=$("$prog" --client libdsql --op $op --threads "$t" --pool "$t" --seconds "$secs")
            clear
            dc=$("$prog" --client libdsql-conn --op $op --threads "$t" --seconds "$secs")
            printf 'rtt_ms=%s %s\nrtt_ms=%s %s\nrtt_ms=%s %s\nrtt_ms=%s %s\n' "$rtt" "$lp" \
                "$rtt" "$dc" "$rtt" "$d5" "$rtt" "$dt" >>"$raw/concurrency.txt"
            cell() { printf '%s, %s/%s, %s' "$(field ops_per_sec "$1")" "$(field p50_us "$1")" \
                "$(field p99_us "$1")" "$(field cpu_us_per_op "$1")"; }
            ratio() { awk -v a="$(field ops_per_sec "$1")" -v b="$(field ops_per_sec "${2:-$lp}")" \
                'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }
            echo "| $op | $t | $(cell "$lp") | $(cell "$dc") | $(ratio "$dc") | $(cell "$d5") | $(ratio "$d5") | $(cell "$dt") | $(ratio "$dt") | $(ratio "$dt" "$dc") |"
        done
    done
done
export PGPORT=$server_port
psql -XqAt -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null
echo
echo "${secs} s per run; ops/s of all threads; CPU: the"
echo "client process's user + system time per operation. Every thread opens its connection"
echo "(or one of the pool's) before the timing starts. libdsql's pool serves threads beyond"
echo "its max by queueing them (pool 5 with 8 or 16 threads)."
