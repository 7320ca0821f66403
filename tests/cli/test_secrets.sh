#!/usr/bin/env bash
# No secret in any output: the programs' error paths (refused tokens, unreachable servers,
# timeouts, bad configuration, -v logging) run with a secret key and a session token that
# are easy to find, and their whole output is searched for the secret key, the session
# token and a token's signature.
set -uo pipefail
DSQL_CLI_VIA_LOCAL=1
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${DSQL_BINARY_DIR:?}" "${DSQL_CLI:?}"
bin=$DSQL_BINARY_DIR/bin
secret=SECRETKEYSHOULDNEVERBESEEN0123456789abcd
session=SESSIONTOKENSHOULDNEVERBESEEN0123456789
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cluster=abcdefghijklmnopqrstuvwxy0.dsql.us-east-1.on.aws

run() { # name, expected exit, command... (output appended to $out)
    local name=$1 want=$2
    shift 2
    local o rc
    o=$(env AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=$secret \
        AWS_SESSION_TOKEN=$session AWS_EC2_METADATA_DISABLED=true "$@" 2>&1)
    rc=$?
    printf '%s\n' "$o" >>"$out"
    if [ "$rc" -ne "$want" ]; then
        bad "$name: exit $rc (want $want)" "$o"
    else
        ok "$name"
    fi
}

# Unreachable and refused, with -v logging where the program has it.
run "ping: nothing listens" 1 "$DSQL_CLI" ping --host "$cluster" --hostaddr 127.0.0.1 --port 1 \
    --connect-timeout 5
run "psql: no psql found" 127 env PATH=/nonexistent "$DSQL_CLI" psql --host "$cluster"
run "petclinic -v: nothing listens" 1 env CLUSTER_ENDPOINT="$cluster" PGHOSTADDR=127.0.0.1 \
    PGPORT=1 "$bin/petclinic" -v
if [ -n "${DSQL_LOCAL_PORT:-}" ]; then
    # dsql-local refuses the token (signed with another secret): access denied.
    run "ping: token refused" 1 env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u PGHOSTADDR \
        "$DSQL_CLI" ping --host localhost --port "$DSQL_LOCAL_PORT" --region us-east-1
    run "petclinic -v: token refused" 1 env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE \
        -u PGHOSTADDR "$bin/petclinic" -v
    run "retry -v: token refused" 1 env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE \
        -u PGHOSTADDR "$bin/retry" -v
fi
run "bad region" 2 "$DSQL_CLI" ping --host "$cluster" --region 'no such region'
[ -s "$out" ] || bad "no output captured"
for s in "$secret" "$session" "X-Amz-Signature" "X-Amz-Security-Token"; do
    if grep -q -- "$s" "$out"; then
        bad "'$s' appears in the output" "$(grep -- "$s" "$out" | head -n 3)"
    else
        ok "'${s:0:24}' appears nowhere"
    fi
done
exit $fail
