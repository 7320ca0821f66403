#!/usr/bin/env bash
# Runs every test of the sanitizer build, then the ThreadSanitizer-labelled tests of the
# TSan build. Expects the throwaway PostgreSQL's environment (scripts/with-localpg.sh).
set -uo pipefail
debug=${1:?usage: run-tests.sh DEBUG_BUILD [TSAN_BUILD [RELEASE_BUILD]]}
tsan=${2:-}
release=${3:-}
jobs=${CTEST_JOBS:-2}
rc=0
# The servers' environment and the sanitizers' settings (scripts/test-env.sh). (A real Aurora DSQL cluster's test,
# tests/integration/test_dsql_cluster.c, is run by the Makefile in the caller's own
# environment; here it skips.)
unset DSQL_TEST_CLUSTER_ENDPOINT DSQL_TEST_CLUSTER_REGION DSQL_TEST_CLUSTER_USER
. "$(dirname "$0")/test-env.sh"
if [ -n "${DSQL_LOCAL_PORT:-}" ]; then
    echo "make test: the library's tests go through dsql-local on localhost:$DSQL_LOCAL_PORT"
else
    unset CLUSTER_ENDPOINT CLUSTER_REGION CLUSTER_USER REGION
fi
ctest --test-dir "$debug" --output-on-failure -j "$jobs" || rc=1
if [ -n "$tsan" ] && [ -d "$tsan" ]; then
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
