#!/usr/bin/env bash
# dsql ping against the throwaway server: success with verify-full, and clear failures.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${DSQL_CLI:?}" "${PGPORT:?run through make test}"
ca=$PGSSLROOTCERT
base="host=localhost hostaddr=127.0.0.1 port=$PGPORT dbname=postgres user=postgres"

check "verify-full with the generated CA" 0 '^tls: +on \(TLSv1\.[23], ' \
    "$DSQL_CLI" ping "$base sslmode=verify-full sslrootcert=$ca"
check "reports the server version" 0 '^server: +PostgreSQL [0-9]+' \
    "$DSQL_CLI" ping "$base sslmode=verify-full sslrootcert=$ca"
check "reports round trips" 0 '^rtt: +SELECT 1 x3: min [0-9.]+ ms, avg [0-9.]+ ms, max [0-9.]+ ms$' \
    "$DSQL_CLI" ping --count 3 "$base sslmode=verify-full sslrootcert=$ca"
check "PG* environment" 0 '^tls: +on' "$DSQL_CLI" ping
check "TLS off is reported" 0 '^tls: +off$' "$DSQL_CLI" ping "$base sslmode=disable"
check "wrong host name in certificate" 1 'could not connect: .*(does not match|server certificate)' \
    "$DSQL_CLI" ping "host=wrong.example hostaddr=127.0.0.1 port=$PGPORT user=postgres sslmode=verify-full sslrootcert=$ca"
check "missing CA file" 1 'could not connect: .*root certificate file.*does not exist' \
    "$DSQL_CLI" ping "$base sslmode=verify-full sslrootcert=/nonexistent/ca.crt"
# A port that nothing listens on.
closed=1  # tcpmux: nothing listens there on a test machine
check "closed port" 1 'could not connect: .*(Connection refused|connection to server)' \
    "$DSQL_CLI" ping "host=127.0.0.1 port=$closed user=postgres sslmode=disable connect_timeout=5"
check "bad --count" 2 '--count must be a whole number' "$DSQL_CLI" ping --count 0
check "too many arguments" 2 'at most one CONNINFO' "$DSQL_CLI" ping a b
check "unknown option, named as dsql's" 2 "^dsql ping: unknown option '--bogus' \(see --help\)$" \
    "$DSQL_CLI" ping --bogus
check "flag without its value" 2 '^dsql ping: --host needs a value$' "$DSQL_CLI" ping --host
check "help" 0 '^usage: dsql ping' "$DSQL_CLI" ping --help
exit $fail
