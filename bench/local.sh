#!/usr/bin/env bash
# bench/local.sh BUILD_DIR — make bench's dsql-local phase (run through
# scripts/with-dsql-local.sh): what the local endpoint costs.
#
#   1. petclinic-N with libdsql straight to PostgreSQL (password auth, TLS) and through
#      dsql-local (IAM token, TLS, DSQL's rules applied to every statement), interleaved
#      BENCH_REPEAT times; the median total and per phase, and their ratio.
#   2. dsql-local's memory per idle session: its resident set with no session and with
#      BENCH_LOCAL_SESSIONS (default 100) idle sessions open.
#   3. The round trips of a new connection (bench/connect.sh).
#
# Writes BENCH_OUT/local.md (default bench/results) and raw/local-*.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: bench/local.sh BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
n=${BENCH_N:-1000}
repeat=${BENCH_REPEAT:-5}
sessions=${BENCH_LOCAL_SESSIONS:-100}
out=${BENCH_OUT:-$here/results}
raw=$out/raw
: "${DSQL_LOCAL_PORT:?bench/local.sh: run through scripts/with-dsql-local.sh}"
die() { echo "bench: $*" >&2; exit 1; }
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a whole number >= 1, not '$repeat'"
[[ "$sessions" =~ ^[1-9][0-9]*$ ]] ||
    die "BENCH_LOCAL_SESSIONS must be a whole number >= 1, not '$sessions'"
prog=$build/bench/petclinic_libdsql
[ -x "$prog" ] || die "$prog is missing (build first: make bench)"
mkdir -p "$raw"

direct() {
    env -u CLUSTER_ENDPOINT -u CLUSTER_REGION -u CLUSTER_USER PGHOST=localhost \
        PGHOSTADDR=127.0.0.1 PGPORT="$LOCALPG_PORT" PGUSER=postgres PGDATABASE=postgres \
        PGSSLMODE=verify-full PGSSLROOTCERT="$LOCALPG_CA" "$@"
}
through() {
    env -u PGHOST -u PGHOSTADDR -u PGPORT -u PGUSER -u PGDATABASE -u PGSSLMODE "$@"
}

echo "bench: petclinic-$n with libdsql, straight to PostgreSQL and through dsql-local, $repeat rounds"
for ((k = 1; k <= repeat; k++)); do
    for how in direct through; do
        log=$raw/local-$how-run$k.log
        $how "$prog" -n "$n" >"$log" 2>"$raw/local-$how-run$k.err" ||
            die "$how run $k failed: $(tail -n 3 "$raw/local-$how-run$k.err")"
        printf 'bench: %-8s run %d  %s ms\n' "$how" "$k" \
            "$(sed -n 's/.*total_ms=\([0-9.]*\).*/\1/p' "$log")"
    done
done

# The median of a list of numbers (one per line).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
phases=$(sed -n 's/^bench=[^ ]* phase=\([^ ]*\) .*/\1/p' "$raw/local-direct-run1.log")
{
    echo "# dsql-local: what the local endpoint costs"
    echo
    echo "petclinic-$n with libdsql, median of $repeat interleaved runs each: straight to the"
    echo "PostgreSQL behind dsql-local (password auth, TLS) and through dsql-local (IAM token"
    echo "verified, TLS, every statement parsed and checked against DSQL's rules)."
    echo
    echo "| phase | direct ms | through dsql-local ms | ratio |"
    echo "|---|---:|---:|---:|"
    for p in $phases total; do
        if [ "$p" = total ]; then
            pat='s/.*total_ms=\([0-9.]*\).*/\1/p'
        else
            pat="s/^bench=[^ ]* phase=$p .* ms=\\([0-9.]*\\).*/\\1/p"
        fi
        d=$(cat "$raw"/local-direct-run*.log | sed -n "$pat" | median)
        t=$(cat "$raw"/local-through-run*.log | sed -n "$pat" | median)
        printf '| %s | %.1f | %.1f | %.2fx |\n' "$p" "$d" "$t" "$(awk -v a="$d" -v b="$t" 'BEGIN { print b / a }')"
    done
} >"$out/local.md"

# ---- memory per idle session ----
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$DSQL_LOCAL_PID/status"; }
token=$("$build/bin/dsql" generate-db-connect-admin-auth-token --hostname localhost --region us-east-1)
before=$(rss)
pids=()
for ((i = 0; i < sessions; i++)); do
    PGPASSWORD=$token psql -X -q -h localhost -p "$DSQL_LOCAL_PORT" -U admin -d postgres \
        -c 'SELECT pg_sleep(8)' >/dev/null 2>&1 &
    pids+=($!)
done
open=0
for _ in $(seq 1 100); do
    open=$("$DSQL_LOCAL_BIN" ctl "$DSQL_LOCAL_CONTROL" stats | sed -n 's/.* open=\([0-9]*\).*/\1/p')
    [ "${open:-0}" -ge "$sessions" ] && break
    sleep 0.1
done
sleep 0.5
during=$(rss)
wait "${pids[@]}" || true
per=$(awk -v a="$before" -v b="$during" -v n="$sessions" 'BEGIN { printf "%.0f", (b - a) / n }')
{
    echo
    echo "dsql-local's resident memory: $before KiB with no session, $during KiB with $open of"
    echo "$sessions sessions open (each waiting in a statement): $per KiB per session (one"
    echo "thread, its TLS state and two buffers each)."
} >>"$out/local.md"
{
    echo
    echo "New connections, TCP connect to the first answer (bench/connect.sh):"
    echo
    "$here/connect.sh" "$build"
} >>"$out/local.md"
echo "bench: wrote $out/local.md"
cat "$out/local.md"
