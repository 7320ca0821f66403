#!/usr/bin/env bash
# The CTest fixture's script (tests/servers.sh) with servers of its own: start leaves a
# PostgreSQL and dsql-local running and writes their environment (mode 600); run hands it
# to a test; stop ends both and removes it. With the caller's servers (LOCALPG_PORT set),
# start and stop touch nothing.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${DSQL_CLI:?}" "${DSQL_BINARY_DIR:?run through ctest}"
servers=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/servers.sh
dir=$(mktemp -d "$DSQL_BINARY_DIR/test-servers-own.XXXXXX")
own=(env -u LOCALPG_PORT -u DSQL_LOCAL_PORT "DSQL_TEST_SERVERS_DIR=$dir")
# (a stop that fails leaves the directory: its pid files name what is left running)
trap '"${own[@]}" bash "$servers" stop >/dev/null 2>&1 && rm -rf "$dir"' EXIT

check "start" 0 '^servers: PostgreSQL on port [0-9]+, dsql-local on port [0-9]+$' \
    "${own[@]}" bash "$servers" start
if [ "$(stat -c %a "$dir/env" 2>/dev/null)" = 600 ]; then
    ok "the environment is written, for its owner only"
else
    bad "the environment is written, for its owner only" "$(ls -l "$dir")"
fi
# shellcheck disable=SC1091
pg_port=$(. "$dir/env" && echo "$LOCALPG_PORT")
local_port=$(. "$dir/env" && echo "$DSQL_LOCAL_PORT")
local_pid=$(. "$dir/env" && echo "$DSQL_LOCAL_PID")
# run: the PG* variables name the PostgreSQL behind the endpoint, as under make test.
check "run: the test sees both servers" 0 "^$pg_port $local_port localhost:$local_port\$" \
    "${own[@]}" bash "$servers" run bash -c 'echo "$PGPORT $DSQL_LOCAL_PORT $CLUSTER_ENDPOINT"'
check "run: the PostgreSQL answers" 0 '^tls: +on' "${own[@]}" bash "$servers" run "$DSQL_CLI" ping
check "stop" 0 '' "${own[@]}" bash "$servers" stop
if kill -0 "$local_pid" 2>/dev/null || [ -e "$dir/env" ] ||
    LOCALPG_DIR=$dir/pg "$DSQL_SOURCE_DIR/scripts/localpg.sh" env >/dev/null 2>&1; then
    bad "stop: both servers gone, the environment removed" "$(ls -l "$dir")"
else
    ok "stop: both servers gone, the environment removed"
fi
check "the caller's servers: start does nothing" 0 "^servers: the caller's \(PostgreSQL on port 1\)$" \
    env -u DSQL_LOCAL_PORT LOCALPG_PORT=1 "DSQL_TEST_SERVERS_DIR=$dir" bash "$servers" start
if [ -e "$dir/runner.pid" ]; then
    bad "the caller's servers: nothing started"
else
    ok "the caller's servers: nothing started"
fi
exit $fail
