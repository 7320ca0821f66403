#!/usr/bin/env bash
# Runs every test of the sanitizer build, then the ThreadSanitizer-labelled tests of the
# TSan build. Expects the throwaway PostgreSQL's environment (scripts/with-localpg.sh).
set -uo pipefail
debug=${1:?usage: run-tests.sh DEBUG_BUILD [TSAN_BUILD [RELEASE_BUILD]]}
tsan=${2:-}
release=${3:-}
jobs=${CTEST_JOBS:-2}
rc=0
# Under scripts/with-dsql-local.sh the CLUSTER_* variables name the local DSQL endpoint,
# which the library's tests go through; the PG* variables are pointed back at the
# PostgreSQL behind it, for the tests' own superuser checks and proxies. (A real Aurora
# DSQL cluster's test, tests/integration/test_dsql_cluster.c, is run by the Makefile in the
# caller's own environment; here it skips.)
unset DSQL_TEST_CLUSTER_ENDPOINT DSQL_TEST_CLUSTER_REGION DSQL_TEST_CLUSTER_USER
if [ -n "${DSQL_LOCAL_PORT:-}" ]; then
    export PGHOST=localhost PGHOSTADDR=127.0.0.1 PGPORT=$LOCALPG_PORT PGUSER=postgres
    export PGDATABASE=postgres PGSSLMODE=verify-full PGSSLROOTCERT=$LOCALPG_CA
    echo "make test: the library's tests go through dsql-local on localhost:$DSQL_LOCAL_PORT"
else
    unset CLUSTER_ENDPOINT CLUSTER_REGION CLUSTER_USER REGION
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$debug" --output-on-failure -j "$jobs" || rc=1
if [ -n "$tsan" ] && [ -d "$tsan" ]; then
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
    # -L tsan: only the tests meant for ThreadSanitizer; no tests at all is not a failure.
    ctest --test-dir "$tsan" --output-on-failure -L tsan --no-tests=ignore || rc=1
fi
# The examples of the Release build (no sanitizer) under valgrind, through dsql-local:
# no invalid access, no definite leak at exit.
if [ -n "$release" ] && [ -n "${DSQL_LOCAL_PORT:-}" ] && command -v valgrind >/dev/null; then
    for ex in petclinic retry; do
        log=$release/valgrind-$ex.log
        if env -u PGHOST -u PGHOSTADDR -u PGPORT -u PGUSER -u PGDATABASE -u PGSSLMODE \
            PGSSLROOTCERT="$LOCALPG_CA" valgrind --quiet --leak-check=full \
            --errors-for-leak-kinds=definite --show-leak-kinds=definite --error-exitcode=3 \
            "$release/bin/$ex" >"$log" 2>&1; then
            echo "make test: $ex under valgrind: no error, no leak"
        else
            echo "make test: $ex under valgrind FAILED:" >&2
            tail -n 30 "$log" >&2
            rc=1
        fi
    done
fi
if [ $rc -ne 0 ]; then
    echo "make test: FAILED" >&2
else
    echo "make test: all tests passed"
fi
exit $rc
