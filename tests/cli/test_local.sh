#!/usr/bin/env bash
# The programs against dsql-local, the local Aurora DSQL endpoint make test starts (the
# CLUSTER_* environment of scripts/with-dsql-local.sh): the pet-clinic example, dsql ping
# and dsql psql exactly as against a cluster; and dsql-local's own command line.
set -uo pipefail
DSQL_CLI_VIA_LOCAL=1
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${DSQL_BINARY_DIR:?}" "${DSQL_CLI:?}"
if [ -z "${DSQL_LOCAL_PORT:-}" ]; then
    echo "skipped: dsql-local is not running (run through make test)"
    exit 0
fi
bin=$DSQL_BINARY_DIR/bin
local_bin=$bin/dsql-local
# Only what a cluster run has: the endpoint, its region, the credentials, the CA.
cluster_env() {
    env -u PGHOST -u PGHOSTADDR -u PGPORT -u PGUSER -u PGDATABASE -u PGSSLMODE -u PGPASSWORD "$@"
}

for args in "" "--sync"; do
    out=$(cluster_env "$bin/petclinic" $args 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && petclinic_output_ok "$out"; then
        ok "petclinic $args through dsql-local"
    else
        bad "petclinic $args through dsql-local: exit $rc" "$out"
    fi
done

check "dsql ping through dsql-local" 0 '^server: +PostgreSQL 16\.15' cluster_env "$DSQL_CLI" ping
check "dsql ping: TLS verify-full" 0 '^tls: +on \(TLSv1\.[23], ' cluster_env "$DSQL_CLI" ping
# Several endpoints (a multi-Region cluster): each is pinged and reported in turn.
two="localhost:$DSQL_LOCAL_PORT,localhost:$DSQL_LOCAL_PORT"
check "dsql ping: both endpoints of a list" 0 "^endpoint 2 of 2: localhost:$DSQL_LOCAL_PORT \(us-east-1\)$" \
    cluster_env CLUSTER_ENDPOINT="$two" "$DSQL_CLI" ping --count 1
check "dsql ping: the first is preferred" 0 "^endpoint 1 of 2: localhost:$DSQL_LOCAL_PORT \(us-east-1\), preferred$" \
    cluster_env CLUSTER_ENDPOINT="$two" "$DSQL_CLI" ping --count 1
out=$(cluster_env CLUSTER_ENDPOINT="$two" "$DSQL_CLI" ping --count 1 2>&1)
if [ "$(grep -c '^server: *PostgreSQL 16\.15' <<<"$out")" -eq 2 ]; then
    ok "dsql ping: a server line per endpoint"
else
    bad "dsql ping: a server line per endpoint" "$out"
fi
down="localhost:$DSQL_LOCAL_PORT,localhost:1"
check "dsql ping: an endpoint down fails the ping" 1 "^dsql ping: 1 of 2 endpoints failed$" \
    cluster_env CLUSTER_ENDPOINT="$down" "$DSQL_CLI" ping --count 1
check "dsql ping: and says why" 1 "^dsql ping: could not connect: localhost:1 as admin: .*refused" \
    cluster_env CLUSTER_ENDPOINT="$down" "$DSQL_CLI" ping --count 1
check "dsql ping: the other endpoint still reported" 1 "^rtt: +SELECT 1 x1: " \
    cluster_env CLUSTER_ENDPOINT="$down" "$DSQL_CLI" ping --count 1
# A region per endpoint; the local Region's endpoint preferred. The second endpoint is the
# same dsql-local (region us-east-1): its us-west-2 token is refused.
check "dsql ping: a token per endpoint's region" 1 "^dsql ping: could not connect: .*access denied.*region 'us-west-2'" \
    cluster_env CLUSTER_ENDPOINT="$two" CLUSTER_REGION=us-east-1,us-west-2 "$DSQL_CLI" ping --count 1
check "dsql ping: AWS_REGION picks the preferred endpoint" 1 "^endpoint 2 of 2: localhost:$DSQL_LOCAL_PORT \(us-west-2\), preferred$" \
    cluster_env CLUSTER_ENDPOINT="$two" CLUSTER_REGION=us-east-1,us-west-2 AWS_REGION=us-west-2 "$DSQL_CLI" ping --count 1
check "dsql ping: mismatched lists" 2 "^dsql ping: config: 3 regions for 2 endpoints" \
    cluster_env CLUSTER_ENDPOINT="$two" CLUSTER_REGION=us-east-1,us-west-2,eu-west-1 "$DSQL_CLI" ping
check "dsql psql as admin with an IAM token" 0 '^admin$' \
    cluster_env "$DSQL_CLI" psql -- -X -A -t -c 'select current_user'
check "dsql psql: DSQL's refusal" 1 'ERROR:  unsupported statement: Truncate' \
    cluster_env "$DSQL_CLI" psql -- -X -v ON_ERROR_STOP=1 -c 'TRUNCATE pet'
check "a token for another region is refused" 2 'access denied' \
    cluster_env CLUSTER_REGION=eu-west-1 "$DSQL_CLI" psql -- -X -c 'select 1'

# dsql-local's command line and control socket.
check "dsql-local --help" 0 '^usage: dsql-local --backend' "$local_bin" --help
check "dsql-local: flag without its value" 2 '^dsql-local: --backend needs a value$' \
    "$local_bin" --backend
check "dsql-local ctl: stats" 0 '^ok injected=[0-9]+ sessions=[0-9]+ open=[0-9]+' \
    "$local_bin" ctl "$DSQL_LOCAL_CONTROL" stats
check "dsql-local ctl: a bad value is named" 1 '^error: unknown command or bad value: occ 2$' \
    "$local_bin" ctl "$DSQL_LOCAL_CONTROL" occ 2
check "dsql-local ctl: no such socket" 2 '^dsql-local ctl: cannot reach /nonexistent/sock: ' \
    "$local_bin" ctl /nonexistent/sock stats
exit $fail
