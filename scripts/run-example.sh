#!/usr/bin/env bash
# `make run`: the pet-clinic example, then the retry example, against
#   - a real Aurora DSQL cluster when CLUSTER_ENDPOINT is set (IAM auth; CLUSTER_REGION or
#     REGION when the host name carries no region; CLUSTER_USER, default admin), or
#   - else dsql-local, the local Aurora DSQL endpoint (IAM tokens, TLS, DSQL's rules), in
#     front of a throwaway PostgreSQL, both started for the run and stopped after it.
# Prints which target it runs against, then the examples' lines. Extra arguments go to
# the pet-clinic example (--sync, -v).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run-example.sh BUILD_DIR [petclinic args...]}
shift
bin=$build/bin

run_examples() {
    "$bin/petclinic" "$@"
    echo "-- retry example --"
    "$bin/retry"
}

if [ -n "${CLUSTER_ENDPOINT:-}" ]; then
    # Nothing of a local server may leak into a cluster run.
    unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGSSLMODE PGSSLROOTCERT PGOPTIONS
    echo "== target: Aurora DSQL cluster ${CLUSTER_ENDPOINT} (user ${CLUSTER_USER:-admin}, IAM auth, TLS verify-full) =="
    run_examples "$@"
    exit
fi
for v in CLUSTER_USER CLUSTER_REGION; do
    if [ -n "${!v:-}" ]; then
        echo "make run: $v is set but CLUSTER_ENDPOINT is not; set CLUSTER_ENDPOINT to run against a cluster, or unset $v" >&2
        exit 2
    fi
done
export LOCALPG_DIR=${LOCALPG_DIR:-$(cd "$here/.." && pwd)/build/localpg-run}
export DSQL_LOCAL_BIN=${DSQL_LOCAL_BIN:-$build/bin/dsql-local}
# with-dsql-local.sh exports CLUSTER_ENDPOINT=localhost:<port> and fresh credentials: the
# examples run exactly as against a cluster.
DSQL_RUN_BIN=$bin exec "$here/with-dsql-local.sh" bash -c '
    unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGSSLMODE PGOPTIONS
    echo "== target: dsql-local on ${CLUSTER_ENDPOINT} (no CLUSTER_ENDPOINT set; a local Aurora DSQL endpoint: IAM auth, TLS verify-full) =="
    "$DSQL_RUN_BIN/petclinic" "$@"
    echo "-- retry example --"
    "$DSQL_RUN_BIN/retry"' run-example "$@"
