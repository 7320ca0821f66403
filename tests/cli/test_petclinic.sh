#!/usr/bin/env bash
# The pet-clinic and retry examples against the throwaway server: the exact lines (twice
# in a row, and with --sync), a row changed behind the example's back, and environments
# that are only half set.
set -uo pipefail
: "${DSQL_BINARY_DIR:?}" "${PGPORT:?run through make test}"
bin=$DSQL_BINARY_DIR/bin
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Own databases, so no other test's tables are touched.
db=petclinic_test_$$
baddb=petclinic_bad_$$
psql -qX -d postgres -c "CREATE DATABASE $db" -c "CREATE DATABASE $baddb" >/dev/null || exit 1
cleanup() { psql -qX -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS $baddb" >/dev/null 2>&1; }
trap cleanup EXIT

check_run() { # name, args...
    local name=$1
    shift
    local out rc
    out=$(PGDATABASE=$db "$bin/petclinic" "$@" 2>&1)
    rc=$?
    if [ $rc -ne 0 ]; then
        bad "$name: exit $rc" "$out"
        return
    fi
    # The whole output, line for line, with each (version 4) UUID in place of <uuid>.
    if ! petclinic_output_ok "$out"; then
        bad "$name: output differs" "$out"
        return
    fi
    local owner john
    owner=$(sed -n 's/^Pet1 ID: .*, Owner ID: \(.*\)$/\1/p' <<<"$out")
    john=$(sed -n 's/^John ID: \([^,]*\),.*/\1/p' <<<"$out")
    if [ "$owner" != "$john" ]; then
        bad "$name: Pet1's owner $owner is not John $john" "$out"
        return
    fi
    ok "$name"
}
check_run "petclinic prints the sample's lines"
check_run "petclinic twice in a row"
check_run "petclinic --sync" --sync
n=$(psql -qtAX -d "$db" -c 'SELECT count(*) FROM "vetSpecialties"')
[ "$n" = 3 ] && ok "three vet-specialty links stored" || bad "vetSpecialties holds $n rows, not 3"

# The whole seed flow after connect: the drops (one pipeline), the creates (one pipeline)
# and the flow (one batch): 3 round trips, 32 statements.
out=$(PGDATABASE=$db "$bin/petclinic" --stats 2>&1 >/dev/null)
[ "$out" = "petclinic: round_trips=3 statements=32" ] && ok "the seed flow in 3 round trips" ||
    bad "petclinic --stats" "$out"

# -v logs the SQL (to stderr), like the sample's logging: console.log.
out=$(PGDATABASE=$db "$bin/petclinic" -v 2>&1 >/dev/null)
# The flow is one batch: BEGIN, 4 creates, the bulk create, 2 creates, 2 sets of 3
# statements, 7 finds, COMMIT in one pipeline.
if grep -q '^Executing: DROP TABLE IF EXISTS "owner" CASCADE' <<<"$out" &&
    grep '^Executing pipeline of 22 statements in one round trip: BEGIN ISOLATION LEVEL REPEATABLE READ; INSERT INTO "owner" ' <<<"$out" |
    grep -q '; SELECT "id", "name", "birthDate", "ownerId" FROM "pet" WHERE .*; COMMIT (' ; then
    ok "petclinic -v logs each statement"
else
    bad "petclinic -v" "$out"
fi

# A row changed behind the example's back: a trigger (installed by an event trigger as the
# example creates its tables) stores every owner's city as Othertown.
psql -qX -d "$baddb" >/dev/null <<'SQL' || exit 1
CREATE FUNCTION move_owner() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN NEW.city := 'Othertown'; RETURN NEW; END $$;
CREATE FUNCTION add_move_trigger() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
             WHERE command_tag = 'CREATE TABLE' AND object_identity = 'public.owner') THEN
    CREATE TRIGGER move BEFORE INSERT ON public.owner FOR EACH ROW EXECUTE FUNCTION move_owner();
  END IF;
END $$;
CREATE EVENT TRIGGER add_move ON ddl_command_end EXECUTE FUNCTION add_move_trigger();
SQL
out=$(PGDATABASE=$baddb "$bin/petclinic" 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -qx 'Incorrect query result, expected: "Anytown", actual: Othertown' <<<"$out"; then
    ok "a changed row fails with the sample's message"
else
    bad "changed row: exit $rc" "$out"
fi

# Half-set environments are refused with a clear message before anything runs.
out=$(CLUSTER_USER=admin PGDATABASE=$db "$bin/petclinic" 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q 'CLUSTER_USER is set but CLUSTER_ENDPOINT is not' <<<"$out"; then
    ok "CLUSTER_USER without CLUSTER_ENDPOINT"
else
    bad "CLUSTER_USER without CLUSTER_ENDPOINT: exit $rc" "$out"
fi
out=$(env -u AWS_REGION -u AWS_DEFAULT_REGION AWS_CONFIG_FILE=/nonexistent \
    CLUSTER_ENDPOINT=abcdefghijklmnopqrstuvwxyz "$bin/petclinic" 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q 'no AWS region found' <<<"$out"; then
    ok "a bare cluster id without a region"
else
    bad "bare cluster id without a region: exit $rc" "$out"
fi
out=$("$bin/petclinic" --bogus 2>&1)
[ $? -eq 2 ] && grep -q '^usage: petclinic' <<<"$out" && ok "unknown flag" || bad "unknown flag" "$out"

# The retry example: DDL retried, a failing statement not retried.
out=$(PGDATABASE=$db "$bin/retry" 2>&1)
rc=$?
want='ok: CREATE TABLE IF NOT EXISTS abc (id UUID NOT NULL) (retries allowed: 0)
ok: DROP TABLE IF EXISTS abc (retries allowed: 0)
expected failure, not retried: dsql_pool_query: table "abc" does not exist [SQLSTATE 42P01]
ok: CREATE TABLE IF NOT EXISTS abc (id UUID NOT NULL) (retries allowed: 3)
ok: DROP TABLE IF EXISTS abc (retries allowed: 3)'
if [ $rc -eq 0 ] && [ "$out" = "$want" ]; then
    ok "retry example"
else
    bad "retry example: exit $rc" "$out"
fi
exit $fail
