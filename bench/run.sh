#!/usr/bin/env bash
# bench/run.sh BUILD_DIR — what `make bench` runs (through scripts/with-localpg.sh, so the
# throwaway server's PG* environment is exported).
#
# Runs petclinic-N in every implementation — each petclinic_* program built in
# BUILD_DIR/bench (libpq, libdsql) and Sequelize (bench/sequelize) — at each emulated
# round-trip time, then the token-minting comparison, and writes bench/results/:
# results.md, results.png, machine.txt and raw/ (every program's output).
#
# Builds nothing except `npm ci` in bench/sequelize. Knobs (environment):
#   BENCH_N        workload size (default 1000)
#   BENCH_RTT_MS   emulated round-trip times in ms (default "0 2"); 0 connects directly,
#                  anything else goes through bench/rttproxy
#   BENCH_REPEAT   runs of each implementation at RTT 0, interleaved; the report takes the
#                  median per phase (default 5: without latency the numbers are noisy);
#                  also the rounds of token minting (each signer once a round)
#   BENCH_REPEAT_RTT  the same through the proxy (default 1: latency-bound, stable)
#   BENCH_OUT      results directory (default bench/results)
#   BENCH_SEED_HALF_RTT_MS  half-RTTs of the seed-flow runs (default "0 2 5")
#   BENCH_REPEAT_SEED  runs of the seed flow per implementation and half-RTT (default 3)
#   BENCH_SEED_QUERIES=1  every implementation finds a pet and its owner with the seed's
#                  two queries (by default libdsql and libpq do it in one statement)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: bench/run.sh BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd) || { echo "bench: no build directory $1" >&2; exit 2; }
n=${BENCH_N:-1000}
rtts=${BENCH_RTT_MS:-0 2}
repeat=${BENCH_REPEAT:-5}
repeat_rtt=${BENCH_REPEAT_RTT:-1}
out=${BENCH_OUT:-$here/results}
raw=$out/raw
: "${PGPORT:?bench: run through make bench (needs the throwaway server)}"

die() { echo "bench: $*" >&2; exit 1; }
[[ "$n" =~ ^[0-9]+$ ]] && (( n >= 10 )) || die "BENCH_N must be a whole number >= 10, not '$n'"
for r in $rtts; do
    [[ "$r" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BENCH_RTT_MS must list numbers of milliseconds, not '$r'"
done
[ -n "${rtts// /}" ] || die "BENCH_RTT_MS is empty"
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a whole number >= 1, not '$repeat'"
[[ "$repeat_rtt" =~ ^[1-9][0-9]*$ ]] ||
    die "BENCH_REPEAT_RTT must be a whole number >= 1, not '$repeat_rtt'"
[ -x "$build/bench/rttproxy" ] || die "$build/bench/rttproxy is missing (build first: make bench)"
programs=()
for p in "$build"/bench/petclinic_*; do
    [ -x "$p" ] && programs+=("$p")
done
(( ${#programs[@]} > 0 )) || die "no petclinic_* program in $build/bench (build first: make bench)"

# ---- Sequelize and the JS signer: npm ci when node_modules is missing or stale ----
seq=$here/sequelize
if [ ! -f "$seq/node_modules/.package-lock.json" ] ||
    [ "$seq/package-lock.json" -nt "$seq/node_modules/.package-lock.json" ]; then
    echo "bench: npm ci in bench/sequelize"
    (cd "$seq" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
fi

mkdir -p "$raw"
rm -f "$raw"/*.log "$raw"/*.err "$out/results.md" "$out/results.png"

# ---- the machine ----
pkgver() { node -p "require('$seq/node_modules/$1/package.json').version"; }
cc_id=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt" | head -n1)
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
    echo "nproc: $(nproc)"
    echo "memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel: $(uname -srm)"
    echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "postgresql: $(psql -XAtc 'show server_version' 2>/dev/null || echo unknown) (throwaway server: scripts/localpg.sh, TLS verify-full, fsync off)"
    echo "libpq: $(pkg-config --modversion libpq 2>/dev/null || echo unknown)"
    echo "compiler: $("${cc_id:-cc}" --version | head -n1), $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt") build"
    echo "node: $(node --version)"
    echo "sequelize: $(pkgver sequelize), pg: $(pkgver pg), @aws-sdk/dsql-signer: $(pkgver @aws-sdk/dsql-signer)"
    echo "n: $n"
    echo "rtt_ms: $rtts"
    echo "runs: $repeat at RTT 0, $repeat_rtt through the proxy (median per phase)"
} >"$out/machine.txt"
sed 's/^/  /' "$out/machine.txt"

# ---- the latency proxy ----
proxy_pid=
stop_proxy() {
    if [ -n "$proxy_pid" ]; then
        kill -TERM "$proxy_pid" 2>/dev/null || true
        wait "$proxy_pid" 2>/dev/null || true
        proxy_pid=
    fi
}
trap stop_proxy EXIT
server_port=$PGPORT
start_proxy() { # rtt_ms; sets PGPORT to the proxy's port
    local rtt=$1 port= i
    # Created first: the loop below may read it before the proxy's shell has opened it.
    : >"$raw/rttproxy-rtt$rtt.out"
    "$build/bench/rttproxy" --target "127.0.0.1:$server_port" --rtt-ms "$rtt" \
        --max-seconds 1800 >"$raw/rttproxy-rtt$rtt.out" 2>"$raw/rttproxy-rtt$rtt.err" &
    proxy_pid=$!
    for ((i = 0; i < 100; i++)); do
        port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$raw/rttproxy-rtt$rtt.out")
        [ -n "$port" ] && break
        kill -0 "$proxy_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] || die "rttproxy did not start: $(cat "$raw/rttproxy-rtt$rtt.err")"
    export PGPORT=$port
}

# ---- the workload ----
failed=()
run_one() { # impl, rtt, run number, command...
    local impl=$1 rtt=$2 k=$3 t0 rc=0
    shift 3
    local log=$raw/$impl-rtt$rtt-run$k.log err=$raw/$impl-rtt$rtt-run$k.err
    t0=$EPOCHREALTIME
    local extra=()
    [ "${BENCH_SEED_QUERIES:-0}" = 1 ] && [ "$impl" != sequelize ] && extra=(--seed-queries)
    "$@" -n "$n" --rtt-ms "$rtt" "${extra[@]}" >"$log" 2>"$err" || rc=$?
    printf 'bench: %-10s rtt %-4s ms  run %d  %6.1f s' "$impl" "$rtt" "$k" \
        "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')"
    if [ $rc -ne 0 ]; then
        printf '  FAILED (exit %d)\n' $rc
        sed 's/^/    /' "$err" | tail -n 5
        failed+=("$impl at rtt $rtt ms (run $k)")
    else
        printf '\n'
    fi
}

# Runs are interleaved (every implementation once, then again) so that a slow spell of
# the machine does not fall on one implementation only.
echo "bench: petclinic-$n at RTT ${rtts// /, } ms"
for rtt in $rtts; do
    runs=$repeat
    if [ "$rtt" != 0 ]; then
        start_proxy "$rtt"
        runs=$repeat_rtt
    fi
    # The order rotates every round, so that no implementation always runs right after
    # the same one (the Node run leaves the server and the machine busy for a moment).
    entries=("${programs[@]}" sequelize)
    for ((k = 1; k <= runs; k++)); do
        for ((j = 0; j < ${#entries[@]}; j++)); do
            e=${entries[$(((j + k) % ${#entries[@]}))]}
            if [ "$e" = sequelize ]; then
                run_one sequelize "$rtt" $k node "$seq/petclinic.js"
            else
                run_one "${e##*/petclinic_}" "$rtt" $k "$e"
            fi
        done
    done
    stop_proxy
    export PGPORT=$server_port
done

# ---- the seed's flow: whole process, round trips ----
# examples/petclinic (libdsql: the flow as one batch after the schema) and
# bench/sequelize/seed.js (the seed as written), each a whole process through the proxy at
# each half-RTT of BENCH_SEED_HALF_RTT_MS (default "0 2 5"; the proxy's RTT is twice it),
# BENCH_REPEAT_SEED runs each (default 3, the median kept). Recorded per run: the process's
# wall time, the round trips after connect (libdsql: its pool's counter; Sequelize: the
# queries pg sent) and every round trip on the wire as the proxy counts them (connect,
# TLS and close included). It drops and creates the seed's tables: it runs after the
# workload.
seed_halves=${BENCH_SEED_HALF_RTT_MS:-0 2 5}
seed_repeat=${BENCH_REPEAT_SEED:-3}
[[ "$seed_repeat" =~ ^[1-9][0-9]*$ ]] ||
    die "BENCH_REPEAT_SEED must be a whole number >= 1, not '$seed_repeat'"
seed_out=$raw/seed.txt
: >"$seed_out"
run_seed() { # impl, half-rtt, run, command...
    local impl=$1 half=$2 k=$3 t0 t1 rc=0 flow wire conns
    shift 3
    local log=$raw/seed-$impl-half$half-run$k
    start_proxy "$(awk -v h="$half" 'BEGIN { print 2 * h }')"
    t0=$EPOCHREALTIME
    "$@" >"$log.out" 2>"$log.err" || rc=$?
    t1=$EPOCHREALTIME
    local perr=$raw/rttproxy-rtt$(awk -v h="$half" 'BEGIN { print 2 * h }').err
    stop_proxy
    export PGPORT=$server_port
    if [ $rc -ne 0 ]; then
        failed+=("seed flow $impl at half-RTT $half ms (run $k)")
        sed 's/^/    /' "$log.err" | tail -n 5
        return
    fi
    flow=$(sed -n 's/.*round_trips=\([0-9]*\).*/\1/p' "$log.out" "$log.err" | head -n1)
    wire=$(sed -n 's/.* \([0-9]*\) round trips$/\1/p' "$perr")
    conns=$(sed -n 's/^rttproxy: \([0-9]*\) connections.*/\1/p' "$perr")
    printf '%s %s %s %.1f %s %s %s\n' "$impl" "$half" "$k" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) * 1000 }')" "${flow:-?}" \
        "${wire:-?}" "${conns:-?}" >>"$seed_out"
    printf 'bench: seed flow %-10s half-RTT %-3s ms  run %d  %s\n' "$impl" "$half" "$k" \
        "$(tail -n1 "$seed_out" | awk '{ printf "%.1f ms, %s round trips after connect, %s on the wire", $4, $5, $6 }')"
}
if [ -x "$build/bin/petclinic" ]; then
    for half in $seed_halves; do
        for ((k = 1; k <= seed_repeat; k++)); do
            run_seed libdsql "$half" $k "$build/bin/petclinic" --stats
            run_seed sequelize "$half" $k node "$seq/seed.js"
        done
    done
else
    echo "bench: $build/bin/petclinic is missing: the seed flow is skipped" >&2
fi

# ---- token minting ----
# Each signer BENCH_REPEAT times, interleaved (libdsql, JS, libdsql, JS, ...), so that a
# busy spell of the machine does not fall on one side only; the report takes the median
# of each and their ratio.
echo "bench: token minting, $repeat rounds"
for ((k = 1; k <= repeat; k++)); do
    tl=$raw/tokens-libdsql-run$k tj=$raw/tokens-js-run$k
    if [ -x "$build/bench/bench_token" ]; then
        "$build/bench/bench_token" >"$tl.log" 2>"$tl.err" ||
            failed+=("libdsql token minting (round $k)")
    else
        # A build tree without bench_token (e.g. an older one): the report says so.
        echo "bench=libdsql tokens_per_sec=n/a reason=bench_token_not_built" >"$tl.log"
    fi
    node "$seq/token_bench.js" >"$tj.log" 2>"$tj.err" || failed+=("JS signer token minting (round $k)")
    printf 'bench: tokens  round %d  libdsql %s  js-signer %s per second\n' "$k" \
        "$(sed -n 's/^bench=libdsql tokens_per_sec=\([^ ]*\).*/\1/p' "$tl.log")" \
        "$(sed -n 's/^bench=js-signer tokens_per_sec=\([^ ]*\).*/\1/p' "$tj.log")"
done

# ---- the DSQL rules module: cost per statement (dsql-local and dsql lint use it) ----
rules_log=$raw/rules.log
if [ -x "$build/bench/bench_rules" ]; then
    echo "bench: DSQL rules analysis"
    "$build/bench/bench_rules" >"$rules_log" 2>"$raw/rules.err" || failed+=("rules analysis")
else
    echo "bench=rules reason=bench_rules_not_built" >"$rules_log"
fi

# ---- the report ----
node "$here/report.js" "$out" || die "report generation failed"
gnuplot "$out/results.gp" || die "gnuplot failed"
{
    echo
    echo "## SQL analysis by the DSQL rules module"
    echo
    echo "A corpus of 20 statements (reads, writes, DDL, refused ones) analysed one text at a"
    echo "time (scan, parse, classify, findings; result freed), against PostgreSQL's bare parser"
    echo "(pg_query_parse_protobuf) on the same texts, and as one multi-statement text:"
    echo
    echo '```'
    cat "$rules_log"
    echo '```'
} >>"$out/results.md"
# The seed's flow: medians per implementation and half-RTT.
if [ -s "$seed_out" ]; then
    {
        echo
        echo "## The seed's flow, whole process"
        echo
        echo "examples/petclinic (libdsql, the flow as one batch) and bench/sequelize/seed.js (the"
        echo "seed as written), each a whole process through the latency proxy; median of"
        echo "$seed_repeat runs. Round trips after connect: libdsql's pool counter, the queries"
        echo "Sequelize sent; on the wire: every client turn the proxy saw, connection set-up,"
        echo "TLS and close included."
        echo
        echo "| half-RTT | implementation | wall time | round trips after connect | on the wire | connections | vs Sequelize |"
        echo "|---:|---|---:|---:|---:|---:|---:|"
        for half in $seed_halves; do
            for impl in libdsql sequelize; do
                awk -v i="$impl" -v h="$half" '$1 == i && $2 == h' "$seed_out" | sort -k4,4n |
                    awk '{ a[NR] = $0 } END { if (NR) print a[int((NR + 1) / 2)] }'
            done | awk -v h="$half" '
                { impl[NR] = $1; ms[NR] = $4; flow[NR] = $5; wire[NR] = $6; conns[NR] = $7
                  if ($1 == "sequelize") seq = $4 }
                END { for (r = 1; r <= NR; r++)
                        printf "| %s ms | %s | %.0f ms | %s | %s | %s | %s |\n", h, impl[r], ms[r],
                               flow[r], wire[r], conns[r],
                               seq ? sprintf("%.2fx", ms[r] / seq) : "n/a" }'
        done
    } >>"$out/results.md"
fi
echo "bench: wrote $out/results.md and $out/results.png"
echo
cat "$out/results.md"

if (( ${#failed[@]} > 0 )); then
    echo "bench: FAILED: ${failed[*]}" >&2
    exit 1
fi
