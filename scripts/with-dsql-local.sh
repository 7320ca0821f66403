#!/usr/bin/env bash
# Runs a command against a local Aurora DSQL endpoint: starts a throwaway PostgreSQL and
# dsql-local in front of it, runs the command with the environment a client needs, stops
# both whatever happens, and exits with the command's status.
#
#   scripts/with-dsql-local.sh COMMAND [ARGS...]
#
# The command sees:
#   CLUSTER_ENDPOINT=localhost:<port>  CLUSTER_REGION=us-east-1  CLUSTER_USER=admin
#   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY   the endpoint's credentials (fresh per run)
#   PGHOST PGPORT PGUSER PGDATABASE PGSSLMODE=verify-full PGSSLROOTCERT   for plain
#     PostgreSQL clients (no PGPASSWORD: a client mints a token, e.g. with
#     `dsql generate-db-connect-admin-auth-token --hostname localhost --region us-east-1`)
#   DSQL_LOCAL_CONTROL   the fault-injection control socket (dsql-local ctl)
#   DSQL_LOCAL_PORT      the endpoint's port; DSQL_LOCAL_PID its process
#   LOCALPG_*            the PostgreSQL behind it, for tests that need its internals
#
# Knobs: LOCALPG_DIR (where the throwaway server lives), DSQL_LOCAL_BIN (the program),
# DSQL_LOCAL_ARGS (extra options), DSQL_LOCAL_LOG (its log file).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
if [ $# -lt 1 ]; then
    echo "usage: with-dsql-local.sh COMMAND [ARGS...]" >&2
    exit 2
fi
bin=${DSQL_LOCAL_BIN:-}
if [ -z "$bin" ]; then
    for b in "$repo/build/release/bin/dsql-local" "$repo/build/debug/bin/dsql-local"; do
        if [ -x "$b" ]; then bin=$b; break; fi
    done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "with-dsql-local: dsql-local is not built (make build, or set DSQL_LOCAL_BIN)" >&2
    exit 2
fi
export LOCALPG_DIR=${LOCALPG_DIR:-$repo/build/localpg-dsql}
state=$LOCALPG_DIR/dsql-local
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    "$here/localpg.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$here/localpg.sh" start
eval "$("$here/localpg.sh" env)"
mkdir -p "$state"
rm -f "$state/port" "$state/control.sock"
# Credentials of this run's endpoint: clients sign their tokens with them.
akid="AKIALOCALDSQL$(openssl rand -hex 4 | tr a-f A-F)"
secret=$(openssl rand -base64 30 | tr -d '\n/+=' | cut -c1-40)
log=${DSQL_LOCAL_LOG:-$state/dsql-local.log}
# shellcheck disable=SC2086
DSQL_LOCAL_ACCESS_KEY_ID=$akid DSQL_LOCAL_SECRET_ACCESS_KEY=$secret \
    "$bin" --backend "$LOCALPG_SOCKET_DIR:$LOCALPG_PORT" \
    --tls-cert "$LOCALPG_SOCKET_DIR/tls/server.crt" --tls-key "$LOCALPG_SOCKET_DIR/tls/server.key" \
    --hostname localhost --region us-east-1 --port-file "$state/port" \
    --control "$state/control.sock" ${DSQL_LOCAL_ARGS:-} >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
    [ -s "$state/port" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "with-dsql-local: dsql-local did not start:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.05
done
if [ ! -s "$state/port" ]; then
    echo "with-dsql-local: dsql-local did not start within 10 s" >&2
    exit 1
fi
port=$(cat "$state/port")
unset PGHOSTADDR PGPASSWORD AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE
export CLUSTER_ENDPOINT="localhost:$port" CLUSTER_REGION=us-east-1 CLUSTER_USER=admin
export AWS_ACCESS_KEY_ID=$akid AWS_SECRET_ACCESS_KEY=$secret
export PGHOST=localhost PGPORT=$port PGUSER=admin PGDATABASE=postgres
export PGSSLMODE=verify-full PGSSLROOTCERT=$LOCALPG_CA
export DSQL_LOCAL_CONTROL=$state/control.sock DSQL_LOCAL_PORT=$port DSQL_LOCAL_BIN=$bin DSQL_LOCAL_PID=$pid
echo "dsql-local: listening on localhost:$port in front of PostgreSQL on port $LOCALPG_PORT" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
