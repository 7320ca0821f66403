#!/usr/bin/env bash
# The servers the integration, white-box, dsql-local and CLI tests need, as CTest fixtures,
# so that `ctest -L integration` (or any selection) works on its own from a fresh build:
#
#   servers.sh start     FIXTURES_SETUP: a throwaway PostgreSQL and dsql-local in front of
#                        it (scripts/with-dsql-local.sh), left running; their environment
#                        is written to $DSQL_TEST_SERVERS_DIR/env
#   servers.sh stop      FIXTURES_CLEANUP: stops them
#   servers.sh run CMD   runs one test in the servers' environment
#
# When the caller already provides the servers (make test runs ctest under
# scripts/with-dsql-local.sh; scripts/with-localpg.sh for PostgreSQL alone: LOCALPG_PORT
# is set), start and stop do nothing and run keeps the caller's environment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
dir=${DSQL_TEST_SERVERS_DIR:?run through ctest (DSQL_TEST_SERVERS_DIR)}
DSQL_BINARY_DIR=${DSQL_BINARY_DIR:-$(dirname "$dir")}
# The variables a test reads: the endpoint's, the PostgreSQL behind it, the control socket.
vars=(CLUSTER_ENDPOINT CLUSTER_REGION CLUSTER_USER AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
      PGHOST PGPORT PGUSER PGDATABASE PGSSLMODE PGSSLROOTCERT
      DSQL_LOCAL_CONTROL DSQL_LOCAL_PORT DSQL_LOCAL_BIN DSQL_LOCAL_PID)

provided() { [ -n "${LOCALPG_PORT:-}" ]; }

# Ends a running holder (below): scripts/with-dsql-local.sh then stops both servers.
stop_servers() {
    local holder runner
    holder=$(cat "$dir/holder.pid" 2>/dev/null || true)
    runner=$(cat "$dir/runner.pid" 2>/dev/null || true)
    [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
    if [ -n "$runner" ] && kill -0 "$runner" 2>/dev/null; then
        # bounded: the servers stop in a few seconds
        timeout 60 tail --pid="$runner" -f /dev/null || {
            echo "servers: scripts/with-dsql-local.sh (pid $runner) did not stop within 60 s" >&2
            return 1
        }
    fi
    rm -f "$dir/holder.pid" "$dir/runner.pid" "$dir/env"
}

case ${1:-} in
start)
    if provided; then
        echo "servers: the caller's (PostgreSQL on port $LOCALPG_PORT${DSQL_LOCAL_PORT:+, dsql-local on port $DSQL_LOCAL_PORT})"
        exit 0
    fi
    mkdir -p "$dir"
    stop_servers # an earlier run's, if it was interrupted
    bin=$DSQL_BINARY_DIR/bin/dsql-local
    if [ ! -x "$bin" ]; then
        echo "servers: $bin is not built (cmake --build $DSQL_BINARY_DIR --target dsql-local)" >&2
        exit 1
    fi
    # Detached, its output in a file: ctest waits for the pipes of what a test starts.
    LOCALPG_DIR=$dir/pg DSQL_LOCAL_BIN=$bin setsid "$repo/scripts/with-dsql-local.sh" \
        bash "$0" hold >"$dir/servers.log" 2>&1 </dev/null &
    echo $! >"$dir/runner.pid"
    for _ in $(seq 1 1200); do # 60 s
        [ -s "$dir/env" ] && break
        if ! kill -0 "$(cat "$dir/runner.pid")" 2>/dev/null; then
            echo "servers: they did not start:" >&2
            cat "$dir/servers.log" >&2
            exit 1
        fi
        sleep 0.05
    done
    if [ ! -s "$dir/env" ]; then
        echo "servers: not ready within 60 s:" >&2
        cat "$dir/servers.log" >&2
        stop_servers || true
        exit 1
    fi
    . "$dir/env"
    echo "servers: PostgreSQL on port $LOCALPG_PORT, dsql-local on port $DSQL_LOCAL_PORT"
    ;;
hold)
    # Run by scripts/with-dsql-local.sh, with the servers' environment: writes it down and
    # holds them up until stop (at most 2 hours, should the cleanup never come).
    umask 077 # the endpoint's throwaway credentials
    {
        for v in "${vars[@]}" $(compgen -e LOCALPG_); do
            printf 'export %s=%q\n' "$v" "${!v}"
        done
        echo "unset PGHOSTADDR PGPASSWORD AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE"
    } >"$dir/env.tmp"
    echo $$ >"$dir/holder.pid"
    mv "$dir/env.tmp" "$dir/env"
    exec sleep 7200
    ;;
stop)
    if provided; then
        exit 0
    fi
    stop_servers
    ;;
run)
    shift
    if ! provided && [ -s "$dir/env" ]; then
        . "$dir/env"
    fi
    . "$repo/scripts/test-env.sh"
    exec "$@"
    ;;
*)
    echo "usage: servers.sh start|stop|run COMMAND [ARGS...]" >&2
    exit 2
    ;;
esac
