#!/usr/bin/env bash
# Smoke test of bench_concurrency against the throwaway server: every client (libpq,
# libdsql's pool, libdsql with one connection per thread) runs both operations with two
# threads for a moment and prints its line; a pool smaller than the thread count queues
# the others; bad arguments are refused with exit status 2.
#   test_concurrency.sh BENCH_CONCURRENCY
set -uo pipefail
prog=${1:?usage: test_concurrency.sh BENCH_CONCURRENCY}
: "${PGPORT:?run through make test (needs the throwaway server)}"
db=dsql_t_bench_concurrency
fail=0
report() { # name, ok(0/1), details
    if [ "$2" -eq 0 ]; then
        echo "ok   $1"
    else
        echo "FAIL $1: $3"
        fail=1
    fi
}
PGOPTIONS="-c client_min_messages=warning" psql -XqAt -d postgres -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" || exit 1
psql -XqAt -d "$db" -v ON_ERROR_STOP=1 \
    -c "CREATE TABLE bench_conc (id int PRIMARY KEY, name text)" \
    -c "INSERT INTO bench_conc SELECT i, 'name' || i FROM generate_series(1, 1000) i" \
    -c "CREATE TABLE bench_conc_w (id bigint PRIMARY KEY, name text)" >/dev/null || exit 1
# As in make bench, every client talks to the same PostgreSQL (the PG* variables), not
# to the local Aurora DSQL endpoint the other tests use.
unset CLUSTER_ENDPOINT CLUSTER_REGION CLUSTER_USER
export PGDATABASE=$db
num='[0-9]+(\.[0-9]+)?'
for client in libpq libdsql libdsql-conn; do
    for op in read tx; do
        before=$(psql -XqAt -c "SELECT count(*) FROM bench_conc_w")
        out=$("$prog" --client "$client" --op "$op" --threads 2 --seconds 0.3 2>&1)
        rc=$?
        after=$(psql -XqAt -c "SELECT count(*) FROM bench_conc_w")
        want="^bench=concurrency client=$client op=$op threads=2 pool=2 ops=[1-9][0-9]* "
        want+="ops_per_sec=$num p50_us=[0-9]+ p99_us=[0-9]+ cpu_us_per_op=$num ctxsw_per_op=$num\$"
        [ $rc -eq 0 ] && grep -qE "$want" <<<"$out"
        report "$client $op: one line with every field" $? "exit $rc: $out"
        if [ "$op" = tx ]; then
            # Every timed transaction committed its row (a few more may finish after).
            ops=$(sed -n 's/.* ops=\([0-9]*\) .*/\1/p' <<<"$out")
            [ -n "$ops" ] && [ $((after - before)) -ge "$ops" ]
            report "$client tx: the rows are there" $? "$((after - before)) rows for ${ops:-?} operations"
        fi
    done
done

out=$("$prog" --client libdsql --op read --threads 3 --pool 1 --seconds 0.3 2>&1)
rc=$?
[ $rc -eq 0 ] && grep -qE '^bench=concurrency client=libdsql op=read threads=3 pool=1 ops=[1-9]' <<<"$out"
report "a pool of 1 serves 3 threads" $? "exit $rc: $out"

bad() { # name, want message, args...
    local name=$1 want=$2
    shift 2
    out=$("$prog" "$@" 2>&1)
    rc=$?
    [ $rc -eq 2 ] && grep -qF -- "$want" <<<"$out" && grep -qF "usage: bench_concurrency" <<<"$out"
    report "refused: $name" $? "exit $rc: $out"
}
bad "unknown client" "bench_concurrency: threads and pool from 1 to 64" --client libpg --op read \
    --threads 2
bad "no threads" "bench_concurrency: threads and pool from 1 to 64" --client libpq --op read \
    --threads 0
bad "unknown operation" "bench_concurrency: threads and pool from 1 to 64" --client libdsql \
    --op write --threads 2
bad "stray argument" "bench_concurrency: threads and pool from 1 to 64" --client libdsql \
    --op read --threads 2 extra

psql -XqAt -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
exit $fail
