#!/usr/bin/env bash
# dsql psql and the connection flags shared with dsql ping, against the throwaway server.
# IAM checks use static credentials and a fixed signing time, so the token psql receives can
# be compared with the one `dsql generate-db-connect-auth-token` prints, and set as a SCRAM
# password of a real role (a member of dsql_scram) to log in with it. The host is a
# DSQL-looking name reached through --hostaddr; its certificate cannot match that name, so
# those runs use --sslmode require (TLS without the name check).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Compares the PGPASSWORD the fake psql saw with a token, printing neither.
check_token() { # name, token
    if [ -n "$2" ] && [ "$(grep '^PGPASSWORD=' "$tmp/env")" = "PGPASSWORD=$2" ]; then
        ok "$1"
    else
        bad "$1 (PGPASSWORD differs from the expected token)"
    fi
}
: "${DSQL_CLI:?}" "${PGPORT:?run through make test}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cluster=abcdefghijklmnopqrstuvwxy0.dsql.us-east-1.on.aws
when=2026-11-25T17:00:00Z
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION
export AWS_CONFIG_FILE=$tmp/none AWS_SHARED_CREDENTIALS_FILE=$tmp/none
v=$("$DSQL_CLI" --version | awk '{print $2}')

# ---- real psql, plain PostgreSQL ----
check "psql through the PG* environment" 0 "^postgres\|libdsql/$v\|t$" \
    "$DSQL_CLI" psql -- -X -A -t -c \
    "select current_user, current_setting('application_name'), ssl from pg_stat_ssl where pid = pg_backend_pid()"
check "psql with flags: password user, schema, application name" 0 \
    "^dsql_pw\|\"my schema\", public\|cli:libdsql/$v$" \
    env PGPASSWORD="$LOCALPG_PW_PASSWORD" "$DSQL_CLI" psql --user "$LOCALPG_PW_USER" \
    --schema 'my schema' --application-name cli -- -X -A -t -c \
    "select current_user, current_setting('search_path') || ', public', current_setting('application_name')"
check "psql exit status passes through" 1 'ERROR: +division by zero' \
    "$DSQL_CLI" psql -- -X -v ON_ERROR_STOP=1 -c 'select 1/0'

# ---- IAM: what psql receives (a fake psql on PATH prints its environment) ----
mkdir "$tmp/bin"
cat >"$tmp/bin/psql" <<'EOF'
#!/usr/bin/env bash
env | grep -E '^PG' | sort > "$FAKE_PSQL_OUT"
printf '%s\n' "$@" > "$FAKE_PSQL_OUT.args"
EOF
chmod +x "$tmp/bin/psql"
export FAKE_PSQL_OUT=$tmp/env
admin_token=$("$DSQL_CLI" generate-db-connect-admin-auth-token --hostname "$cluster" --signing-time "$when")
user_token=$("$DSQL_CLI" generate-db-connect-auth-token --hostname "$cluster" --signing-time "$when")

out=$(env -u PGSSLROOTCERT PATH="$tmp/bin:$PATH" "$DSQL_CLI" psql --host "$cluster" \
    --signing-time "$when" -- -c 'select 1' 2>&1)
rc=$?
if [ $rc -ne 0 ] || grep -q 'X-Amz' <<<"$out"; then
    bad "psql IAM admin run: exit $rc, output: $out"
fi
check_token "admin: PGPASSWORD is the DbConnectAdmin token" "$admin_token"
check "admin: verify-full with the system bundle" 0 '^PGSSLMODE=verify-full$' cat "$tmp/env"
check "admin: system CA bundle (libpq < 16)" 0 '^PGSSLROOTCERT=/etc/ssl/certs/ca-certificates.crt$' cat "$tmp/env"
check "admin: host, user, database, port" 0 "^PGHOST=$cluster$" cat "$tmp/env"
check "admin: user admin" 0 '^PGUSER=admin$' cat "$tmp/env"
check "admin: no search_path option" 1 '' grep -q '^PGOPTIONS=' "$tmp/env"
check "admin: application_name" 0 "^PGAPPNAME=libdsql/$v$" cat "$tmp/env"
check "psql arguments passed through" 0 '^select 1$' cat "$tmp/env.args"
# PGSSLROOTCERT names the CA to trust instead (a cluster reached through a TLS proxy).
env PGSSLROOTCERT=/tmp/my-ca.pem PATH="$tmp/bin:$PATH" "$DSQL_CLI" psql --host "$cluster" \
    --signing-time "$when" >/dev/null 2>&1
check "admin: PGSSLROOTCERT is the CA to trust" 0 '^PGSSLROOTCERT=/tmp/my-ca.pem$' cat "$tmp/env"

PATH=$tmp/bin:$PATH "$DSQL_CLI" psql --host "$cluster" --user app --schema myschema \
    --signing-time "$when" >/dev/null 2>&1
check_token "user: PGPASSWORD is the DbConnect token" "$user_token"
check "user: schema in PGOPTIONS" 0 '^PGOPTIONS=-c search_path=myschema$' cat "$tmp/env"
check "user: PGUSER" 0 '^PGUSER=app$' cat "$tmp/env"
check "CLUSTER_* environment" 0 '^PGUSER=envuser$' env CLUSTER_ENDPOINT="$cluster" \
    CLUSTER_USER=envuser PATH="$tmp/bin:$PATH" sh -c "\"$DSQL_CLI\" psql && cat \"$tmp/env\""

# ---- IAM for real: the token as the SCRAM password of a role ----
role=cli_iam_$$
if psql -X -q -v ON_ERROR_STOP=1 -c "CREATE ROLE $role LOGIN IN ROLE dsql_scram PASSWORD '$user_token'" \
    >/dev/null 2>&1; then
    check "psql logs in with the IAM token" 0 "^$role$" \
        "$DSQL_CLI" psql --host "$cluster" --hostaddr 127.0.0.1 --port "$PGPORT" --user "$role" \
        --sslmode require --signing-time "$when" -- -X -A -t -c 'select current_user'
    check "ping logs in with the IAM token" 0 '^tls: +on \(TLSv1\.[23], ' \
        "$DSQL_CLI" ping --host "$cluster" --hostaddr 127.0.0.1 --port "$PGPORT" --user "$role" \
        --sslmode require --signing-time "$when"
    check "a token signed at another time is refused" 1 'password authentication failed' \
        "$DSQL_CLI" ping --host "$cluster" --hostaddr 127.0.0.1 --port "$PGPORT" --user "$role" \
        --sslmode require --signing-time 2026-11-25T17:00:01Z
    psql -X -q -c "DROP ROLE $role" >/dev/null 2>&1
else
    bad "could not create role $role"
fi

# ---- bad input ----
check "bad port flag" 2 "flag connection string, keyword 'port': port must be a number" \
    "$DSQL_CLI" psql --port abc
check "unknown flag" 2 "^dsql psql: unknown option '--colour' \\(see --help\\)$" "$DSQL_CLI" psql --colour blue
check "stray argument" 2 "unexpected argument 'b' \(put psql's arguments after --\)" \
    "$DSQL_CLI" psql 'host=a' b
check "malformed conninfo" 2 "unknown keyword 'colour'" "$DSQL_CLI" ping 'host=x colour=blue'
check "IAM without TLS" 2 "would let the IAM token travel unencrypted" \
    "$DSQL_CLI" ping --host "$cluster" --sslmode disable
check "missing region" 2 'no AWS region found' "$DSQL_CLI" ping --host db.internal --auth iam
check "bad signing time" 2 '--signing-time must be a UTC time' \
    "$DSQL_CLI" psql --host "$cluster" --signing-time yesterday
check "psql help" 0 '^usage: dsql psql' "$DSQL_CLI" psql --help
check "psql: unknown option, named as dsql's" 2 "^dsql psql: unknown option '--bogus'" \
    "$DSQL_CLI" psql --bogus
check "psql: flag without its value" 2 '^dsql psql: --schema needs a value$' \
    "$DSQL_CLI" psql --schema
check "ping help lists the connection flags" 0 '--region REGION' "$DSQL_CLI" ping --help
exit $fail
