#!/usr/bin/env bash
# Runs every test of the sanitizer build, then the ThreadSanitizer-labelled tests of the
# TSan build. Expects the throwaway PostgreSQL's environment (scripts/with-localpg.sh).
set -uo pipefail
debug=${1:?usage: run-tests.sh DEBUG_BUILD [TSAN_BUILD]}
tsan=${2:-}
jobs=${CTEST_JOBS:-2}
rc=0
# A configured Aurora DSQL cluster is for tests/integration/test_dsql_cluster.c only (it
# skips without one); every other test targets the throwaway PostgreSQL, so the cluster's
# variables are handed over under their own names and hidden from the rest.
export DSQL_TEST_CLUSTER_ENDPOINT=${CLUSTER_ENDPOINT:-}
export DSQL_TEST_CLUSTER_REGION=${CLUSTER_REGION:-${REGION:-}}
export DSQL_TEST_CLUSTER_USER=${CLUSTER_USER:-}
unset CLUSTER_ENDPOINT CLUSTER_REGION CLUSTER_USER REGION
if [ -n "$DSQL_TEST_CLUSTER_ENDPOINT" ]; then
    echo "make test: also testing against the Aurora DSQL cluster $DSQL_TEST_CLUSTER_ENDPOINT"
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$debug" --output-on-failure -j "$jobs" || rc=1
if [ -n "$tsan" ] && [ -d "$tsan" ]; then
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
    # -L tsan: only the tests meant for ThreadSanitizer; no tests at all is not a failure.
    ctest --test-dir "$tsan" --output-on-failure -L tsan --no-tests=ignore || rc=1
fi
if [ $rc -ne 0 ]; then
    echo "make test: FAILED" >&2
else
    echo "make test: all tests passed"
fi
exit $rc
