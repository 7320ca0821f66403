# Sourced by the test runners (scripts/run-tests.sh, tests/servers.sh): under
# scripts/with-dsql-local.sh the CLUSTER_* variables name the local DSQL endpoint, which
# the library's tests go through; the PG* variables are pointed back at the PostgreSQL
# behind it, for the tests' own superuser checks and proxies.
if [ -n "${DSQL_LOCAL_PORT:-}" ]; then
    export PGHOST=localhost PGHOSTADDR=127.0.0.1 PGPORT=$LOCALPG_PORT PGUSER=postgres
    export PGDATABASE=postgres PGSSLMODE=verify-full PGSSLROOTCERT=$LOCALPG_CA
fi
# The sanitizers' settings: leaks reported, the first UBSan finding fatal.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
