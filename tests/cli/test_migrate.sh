#!/usr/bin/env bash
# dsql migrate, run as a user runs it, on plain PostgreSQL and through dsql-local (the local
# Aurora DSQL endpoint, when make test runs one): create, status, up --dry-run (the plan),
# up refused by lint findings, a failing migration resumed after the fix, two runners at
# once, down, and bad input (exit 2).
set -uo pipefail
DSQL_CLI_VIA_LOCAL=1
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${DSQL_CLI:?}" "${PGPORT:?run through make test}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# The two servers: plain PostgreSQL (the PG* environment), and the local DSQL endpoint (the
# CLUSTER_* environment only, as against a real cluster).
plain() { env -u CLUSTER_ENDPOINT -u CLUSTER_REGION -u CLUSTER_USER "$@"; }
viadsql() { env -u PGHOST -u PGHOSTADDR -u PGPORT -u PGUSER -u PGDATABASE -u PGSSLMODE "$@"; }
targets=(plain)
[ -n "${DSQL_LOCAL_PORT:-}" ] && [ -n "${CLUSTER_ENDPOINT:-}" ] && targets+=(viadsql)
db=dsql_t_cli_migrate
psql_admin() { plain psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@" >/dev/null; }

# ---- no server needed ----
check "no subcommand" 2 '^usage: dsql migrate create NAME' "$DSQL_CLI" migrate
check "unknown subcommand" 2 "^dsql migrate: unknown subcommand 'sideways' \(create, status, up, down\)$" \
    "$DSQL_CLI" migrate sideways
check "create: a bad name" 2 "^dsql migrate: create: NAME 'a b' must be 1 to 150 letters" \
    "$DSQL_CLI" migrate create 'a b'
check "--to: not a version" 2 "^dsql migrate: --to: 'v2' is not a version \(1 to 32 digits\)$" \
    "$DSQL_CLI" migrate up --to v2
check "--force is for up" 2 '^dsql migrate: down: --force is for up$' "$DSQL_CLI" migrate down --force
check "--wait: a bad value" 2 "^dsql migrate: --wait must be a whole number of seconds from 1 to 86400, not '0'$" \
    "$DSQL_CLI" migrate up --wait 0
out=$("$DSQL_CLI" migrate create add_users --dir made)
rc=$?
if [ $rc -eq 0 ] && [[ $out =~ ^made/[0-9]{14}_add_users\.sql$ ]] && grep -qx -- '-- migrate:up' "$out" &&
    grep -qx -- '-- migrate:down' "$out"; then
    ok "create writes DIR/<UTC time>_NAME.sql with both parts"
else
    bad "create: exit $rc" "$out"
fi
first=$out
out=$("$DSQL_CLI" migrate create second --dir made)
v1=$(basename "$first" | cut -d_ -f1)
v2=$(basename "$out" | cut -d_ -f1)
if [ "$v2" -gt "$v1" ]; then ok "create: a later version than every file there"; else bad "create: $v1 then $v2"; fi
mkdir badnames && echo 'SELECT 1;' >badnames/first.sql
check "a file not named VERSION_NAME.sql" 2 '^dsql migrate: badnames/first.sql: a migration file is named VERSION_NAME.sql' \
    "$DSQL_CLI" migrate status --dir badnames
mkdir twice && printf -- '-- migrate:up\nSELECT 1;\n-- migrate:up\nSELECT 2;\n' >twice/1_x.sql
check "a marker twice" 2 "^dsql migrate: twice/1_x.sql:3: '-- migrate:up' a second time$" \
    "$DSQL_CLI" migrate status --dir twice

mkdir txctl && printf -- '-- migrate:up\nBEGIN;\nCREATE TABLE a (x int);\nCOMMIT;\n' >txctl/1_tx.sql
check "BEGIN in a migration: refused before connecting" 2 \
    '^dsql migrate: migration 1 \(tx\): txctl/1_tx.sql:line 2: transaction control \(BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...\) in a migration: the runner makes the transactions itself' \
    "$DSQL_CLI" migrate up --dir txctl --host 192.0.2.1 --connect-timeout 1
mkdir bfddl && printf -- '-- migrate:up\n-- dsql:backfill\nCREATE TABLE a (x int);\n' >bfddl/1_bf.sql
check "a backfill marker before DDL: refused" 2 \
    'bfddl/1_bf.sql:line 3: a backfill must be a DML statement' "$DSQL_CLI" migrate status --dir bfddl

# ---- the migrations ----
write_migrations() {
rm -rf migrations
mkdir migrations
cat >migrations/20260101000000_users.sql <<'SQL'
-- migrate:up
CREATE TABLE users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name varchar(40) NOT NULL,
                    flag int);
CREATE INDEX ASYNC users_name ON users (name);
INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, 2500) g;
INSERT INTO users (name) SELECT 'v' || g FROM generate_series(1, 1000) g;
-- dsql:backfill
UPDATE users SET flag = 1 WHERE id IN (SELECT id FROM users WHERE flag IS NULL LIMIT 1000);

-- migrate:down
DROP TABLE users;
SQL
cat >migrations/20260102000000_orders.sql <<'SQL'
-- migrate:up
CREATE TABLE orders (id uuid PRIMARY KEY, user_id uuid NOT NULL);
INSERT INTO order_missing VALUES (1);
CREATE INDEX ASYNC orders_user ON orders (user_id);
-- migrate:down
DROP TABLE orders;
SQL
}
plan='apply 20260101000000_users (migrations/20260101000000_users.sql): 5 statements
  transaction 1: DDL, its own transaction
    1. line 2: CREATE TABLE users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), na...
  transaction 2: DDL, its own transaction
    2. line 4: CREATE INDEX ASYNC users_name ON users (name)
       then waits for its job (sys.wait_for_job); on PostgreSQL runs without ASYNC
  transaction 3: DML, one transaction
    3. line 5: INSERT INTO users (name) SELECT '"'"'u'"'"' || g FROM generate_series(1, 2500) g
    4. line 6: INSERT INTO users (name) SELECT '"'"'v'"'"' || g FROM generate_series(1, 1000) g
  transaction 4: backfill: transactions until no row changes
    5. line 8: UPDATE users SET flag = 1 WHERE id IN (SELECT id FROM users WHERE fla...
apply 20260102000000_orders (migrations/20260102000000_orders.sql): 3 statements
  transaction 1: DDL, its own transaction
    1. line 2: CREATE TABLE orders (id uuid PRIMARY KEY, user_id uuid NOT NULL)
  transaction 2: DML, one transaction
    2. line 3: INSERT INTO order_missing VALUES (1)
  transaction 3: DDL, its own transaction
    3. line 4: CREATE INDEX ASYNC orders_user ON orders (user_id)
       then waits for its job (sys.wait_for_job); on PostgreSQL runs without ASYNC
(dry run: nothing was sent)'

for t in "${targets[@]}"; do
    write_migrations
    psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    m() { "$t" "$DSQL_CLI" migrate "$@" --dbname "$db"; }
    check "$t: status, all pending" 0 '^20260102000000   orders +pending +- +-  $' m status
    out=$(m up --dry-run 2>&1)
    if [ "$out" = "$plan" ]; then ok "$t: up --dry-run prints the plan"; else bad "$t: up --dry-run" "$out"; fi
    check "$t: up --dry-run sent nothing" 0 '^20260101000000   users +pending ' m status

    # the second migration fails at its statement 2; the first is applied
    out=$(m up 2>&1)
    rc=$?
    want='dsql migrate: up: migration 20260102000000 (orders): up statement 2 of 3 (migrations/20260102000000_orders.sql:3): relation "order_missing" does not exist
dsql migrate: 20260102000000 is recorded as failed at statement 2; fix it and run `dsql migrate up` again: it resumes there'
    if [ $rc -eq 1 ] && grep -q '^dsql migrate: applied 20260101000000_users (5 statements, ' <<<"$out" &&
        [ "$(grep -v '^dsql migrate: \(applying\|applied\|backfill\|2 DML\)' <<<"$out")" = "$want" ]; then
        ok "$t: up: the failing statement named, the migration recorded as failed"
    else
        bad "$t: up: exit $rc" "$out"
    fi
    check "$t: status: failed at statement 2 (exit 1)" 1 \
        '^20260102000000   orders +failed +- +-  at statement 2: migration 20260102000000 \(orders\): up statement 2 of 3' \
        m status
    count=$(plain psql -X -A -t -d "$db" -c 'SELECT count(*), count(flag) FROM users')
    if [ "$count" = "3500|3500" ]; then ok "$t: rows inserted and backfilled once"; else bad "$t: users: $count"; fi

    # a change before the failed statement is refused; the fix alone resumes at statement 2
    sed -i 's/user_id uuid NOT NULL)/user_id uuid)/' migrations/20260102000000_orders.sql
    check "$t: an earlier statement changed: refused" 1 \
        'statements 1 to 1 of its up part ran before it stopped at statement 2, and they have changed since' m up
    sed -i 's/user_id uuid)/user_id uuid NOT NULL)/; s/INSERT INTO order_missing VALUES (1)/INSERT INTO users (name) VALUES ($$o$$)/' \
        migrations/20260102000000_orders.sql
    check "$t: the fix: resumed" 0 '^dsql migrate: applied 1 migration \(2 statements, 2 transactions, 1 rows changed\), 1 already applied, resumed a failed one$' m up
    check "$t: status: applied (exit 0)" 0 '^20260102000000   orders +applied +20[0-9-]+T[0-9:]+Z +[0-9]+ ms  $' m status

    # lint findings stop up; --dry-run shows them and the plan
    printf -- '-- migrate:up\nTRUNCATE users;\n' >migrations/20260103000000_wipe.sql
    check "$t: up refuses lint findings" 1 \
        "^dsql migrate: up: 1 finding of dsql lint in the migrations to apply \(above\): Aurora DSQL would refuse them" m up
    check "$t: the finding: file, line, rule" 1 \
        '^migrations/20260103000000_wipe.sql:2:1: error\[truncate\]: unsupported statement: Truncate \(SQLSTATE 0A000\)$' m up
    check "$t: nothing was applied" 0 '^20260103000000   wipe +pending' m status
    printf -- '-- migrate:up\n-- dsql:backfill\nDELETE FROM users WHERE id IN (SELECT id FROM users LIMIT 1000);\n' \
        >migrations/20260103000000_wipe.sql
    check "$t: the DSQL-safe rewrite applies" 0 '^dsql migrate: backfill done: 3501 rows$' m up

    # an applied file that changed
    echo 'SELECT 1;' >>migrations/20260101000000_users.sql
    check "$t: an applied migration changed: refused" 1 \
        'migration 20260101000000 \(users\) is applied, but its statements changed since' m up
    check "$t: status shows it changed (exit 1)" 1 '^20260101000000   users +changed .*its file changed after it was applied$' m status
    sed -i '$d' migrations/20260101000000_users.sql

    # down
    check "$t: down --dry-run: no down part" 1 \
        '^dsql migrate: down: migrations/20260103000000_wipe.sql has no down part: it cannot be reverted$' m down --dry-run
    check "$t: down: no down part, refused" 1 'migration 20260103000000 \(wipe\) has no down part: it cannot be reverted' m down
    rm migrations/20260103000000_wipe.sql
    psql_admin -d "$db" -c "DELETE FROM dsql_migrations WHERE version = '20260103000000'"
    check "$t: down --dry-run: the last one" 0 '^revert 20260102000000_orders \(migrations/20260102000000_orders.sql\): 1 statement of its down part$' m down --dry-run
    check "$t: down: the last one" 0 '^dsql migrate: reverted 1 migration \(1 statement\)$' m down
    check "$t: down --to 0: the rest" 0 '^dsql migrate: reverted 1 migration \(1 statement\)$' m down --to 0
    check "$t: all pending again" 0 '^20260101000000   users +pending' m status

    # two runners at once: each migration applied once
    mkdir -p two
    printf -- '-- migrate:up\nCREATE TABLE runs (id uuid PRIMARY KEY, m int);\nSELECT pg_sleep(0.3);\n' >two/1_a.sql
    printf -- '-- migrate:up\nINSERT INTO runs VALUES (gen_random_uuid(), 2);\nSELECT pg_sleep(0.2);\n' >two/2_b.sql
    printf -- '-- migrate:up\nINSERT INTO runs VALUES (gen_random_uuid(), 3);\n' >two/3_c.sql
    m up --dir two >a.out 2>&1 &
    pa=$!
    m up --dir two >b.out 2>&1 &
    pb=$!
    wait $pa
    ra=$?
    wait $pb
    rb=$?
    runs=$(plain psql -X -A -t -d "$db" -c 'SELECT count(*) FROM runs')
    applied=$(cat a.out b.out | sed -n 's/^dsql migrate: applied \([0-9]\) migrations\{0,1\} .*/\1/p' | awk '{s += $1} END {print s + 0}')
    if [ $ra -eq 0 ] && [ $rb -eq 0 ] && [ "$runs" = 2 ] && [ "$applied" = 3 ]; then
        ok "$t: two runners at once: each migration applied once"
    else
        bad "$t: two runners: exits $ra $rb, runs $runs, applied $applied" "$(cat a.out b.out)"
    fi
    rm -rf two
    psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done
exit $fail
