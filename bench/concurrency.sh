#!/usr/bin/env bash
# bench/concurrency.sh BUILD_DIR — per-operation cost with 1-16 threads, server local:
# libdsql's pool (max 5, and max = threads) against hand-written libpq with one connection
# per thread, for a point read and a one-insert transaction. BENCH_CONC_THREADS (default
# "1 2 4 8 16"), BENCH_CONC_SECONDS per run (default 1). Run with the throwaway
# PostgreSQL's environment (scripts/with-localpg.sh; bench/run.sh calls it). Prints a
# Markdown table; raw lines go to BENCH_OUT/raw/concurrency.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: bench/concurrency.sh BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
threads=${BENCH_CONC_THREADS:-1 2 4 8 16}
secs=${BENCH_CONC_SECONDS:-1}
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
echo "| op | threads | libpq (conn per thread): ops/s, p50/p99 us, CPU us/op | libdsql pool 5 | vs libpq | libdsql pool = threads | vs libpq |"
echo "|---|---|---|---|---|---|---|"
for op in read tx; do
    for t in $threads; do
        clear() { psql -XqAt -c "DELETE FROM bench_conc_w" >/dev/null; }
        clear
        lp=$("$prog" --client libpq --op $op --threads "$t" --seconds "$secs")
        clear
        d5=$("$prog" --client libdsql --op $op --threads "$t" --pool 5 --seconds "$secs")
        clear
        dt=$("$prog" --client libdsql --op $op --threads "$t" --pool "$t" --seconds "$secs")
        printf '%s\n%s\n%s\n' "$lp" "$d5" "$dt" >>"$raw/concurrency.txt"
        cell() { printf '%s, %s/%s, %s' "$(field ops_per_sec "$1")" "$(field p50_us "$1")" \
            "$(field p99_us "$1")" "$(field cpu_us_per_op "$1")"; }
        ratio() { awk -v a="$(field ops_per_sec "$1")" -v b="$(field ops_per_sec "$lp")" \
            'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }
        echo "| $op | $t | $(cell "$lp") | $(cell "$d5") | $(ratio "$d5") | $(cell "$dt") | $(ratio "$dt") |"
    done
done
psql -XqAt -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null
echo
echo "Server local (no added latency), ${secs} s per run; ops/s of all threads; CPU: the"
echo "client process's user + system time per operation. libdsql's pool serves threads"
echo "beyond its max by queueing them (pool 5 with 8 or 16 threads)."
