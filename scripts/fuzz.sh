#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) into build/fuzz and runs each for
# FUZZ_SECONDS (default 60). Fails on the first crash, leak or violated invariant, leaving
# the input under build/fuzz/crashes/<target>/ (add it to fuzz/corpus/<target>/ with the fix).
#   scripts/fuzz.sh [TARGET...]     (default: every fuzz/fuzz_*.c)
# Inputs a run finds go to build/fuzz/corpus/<target>/ (seeded from the committed corpus);
# FUZZ_MERGE=1 minimises them back into fuzz/corpus/<target>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
jobs=${JOBS:-2}
build=$root/build/fuzz
if ! command -v clang >/dev/null; then
    echo "fuzz: clang is needed (Debian: apt-get install clang)" >&2
    exit 2
fi
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DDSQL_FUZZ=ON \
    -DDSQL_SANITIZE=address,undefined -DDSQL_BUILD_TESTS=OFF -DDSQL_BUILD_EXAMPLES=OFF \
    -DDSQL_BUILD_BENCH=OFF >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$root"/fuzz/fuzz_*.c; do
        t=$(basename "$f" .c)
        targets+=("${t#fuzz_}")
    done
fi
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}" >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export AWS_EC2_METADATA_DISABLED=true
printf '%-12s %12s %10s %8s %s\n' target executions exec/s corpus result
rc=0
for t in "${targets[@]}"; do
    work=$build/corpus/$t crashes=$build/crashes/$t log=$build/$t.log
    mkdir -p "$work" "$crashes"
    set +e
    "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "$root/fuzz/corpus/$t" \
        >"$log" 2>&1
    status=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    size=$(find "$work" -type f | wc -l)
    if [ $status -eq 0 ]; then
        result=ok
    else
        result="FAILED (log: $log; input: $(ls -t "$crashes" | head -1))"
        rc=1
    fi
    printf '%-12s %12s %10s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$size" "$result"
    if [ "${FUZZ_MERGE:-0}" = 1 ] && [ $status -eq 0 ]; then
        "$build/fuzz/fuzz_$t" -merge=1 "$root/fuzz/corpus/$t" "$work" >/dev/null 2>&1
    fi
done
exit $rc
