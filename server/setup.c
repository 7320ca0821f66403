/*
 * The objects that make the backend PostgreSQL answer as Aurora DSQL does, installed once
 * per database (as the backend superuser) the first time a session uses it:
 *  - every user table gets two triggers (added to new tables by an event trigger): one per
 *    row, counting the rows a transaction modifies (cascaded rows included) and failing the
 *    statement that passes 3,000 with DSQL's 54000, and adding up the bytes written (past
 *    10 MiB the transaction fails at COMMIT); one per statement, marking the transaction as
 *    having DML;
 *  - an event trigger before every DDL statement: one DDL per transaction, never with DML;
 *  - sys.jobs, sys.wait_for_job(job_id), and the functions that run CREATE INDEX ASYNC and
 *    ALTER TABLE ASYNC as jobs (a failed build leaves an invalid index, as on DSQL);
 *  - the text search configurations dropped (DSQL has none).
 * Transaction-local settings carry the counts, so nothing outlives a transaction. Only the
 * sessions dsql-local opens (started with dsql_local.enforce=on) are held to DSQL's rules:
 * connections straight to PostgreSQL (setup, tests' own checks) are not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "server.h"

static const char *const setup_sql[] = {
    "SET client_min_messages = warning;\n",
    "SET dsql_local.internal = 'on';\n",
    "CREATE SCHEMA IF NOT EXISTS dsql_local;\n",
    "CREATE SCHEMA IF NOT EXISTS sys;\n",
    "GRANT USAGE ON SCHEMA dsql_local, sys TO PUBLIC;\n",
    "CREATE TABLE IF NOT EXISTS sys.jobs (job_id text PRIMARY KEY, status text NOT NULL, "
    "  details text, object_name text, start_time timestamptz NOT NULL DEFAULT now(), "
    "  update_time timestamptz NOT NULL DEFAULT now());\n",
    "GRANT SELECT, INSERT ON sys.jobs TO PUBLIC;\n",
    "CREATE TABLE IF NOT EXISTS dsql_local.size_marker (x int);\n",
    "GRANT INSERT ON dsql_local.size_marker TO PUBLIC;\n"
    /* raise: what a statement DSQL refuses is rewritten into */
    "CREATE OR REPLACE FUNCTION dsql_local.raise(code text, msg text, hint text DEFAULT NULL) "
    "RETURNS void LANGUAGE plpgsql AS $f$ BEGIN "
    "  IF hint IS NULL THEN RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg; "
    "  ELSE RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg, HINT = hint; END IF; "
    "END $f$;\n"
    /* the row cap and the transaction size */
    "CREATE OR REPLACE FUNCTION dsql_local.count_row() RETURNS trigger LANGUAGE plpgsql AS $f$ "
    "DECLARE n bigint; b bigint; BEGIN "
    "  IF coalesce(current_setting('dsql_local.enforce', true), '') <> 'on' "
    "     OR current_setting('dsql_local.internal', true) = 'on' THEN RETURN NULL; END IF; "
    "  n := coalesce(nullif(current_setting('dsql_local.rows', true), ''), '0')::bigint + 1; "
    "  PERFORM set_config('dsql_local.rows', n::text, true); "
    "  IF n > 3000 THEN "
    "    RAISE EXCEPTION USING ERRCODE = '54000', MESSAGE = 'transaction row limit exceeded'; "
    "  END IF; "
    "  IF TG_OP <> 'DELETE' THEN "
    "    b := coalesce(nullif(current_setting('dsql_local.bytes', true), ''), '0')::bigint "
    "         + pg_column_size(NEW); "
    "    PERFORM set_config('dsql_local.bytes', b::text, true); "
    "    IF b > 10485760 AND coalesce(current_setting('dsql_local.big', true), '') <> 'on' THEN "
    "      PERFORM set_config('dsql_local.big', 'on', true); "
    "      INSERT INTO dsql_local.size_marker VALUES (1); "
    "    END IF; "
    "  END IF; "
    "  RETURN NULL; END $f$;\n",
    "CREATE OR REPLACE FUNCTION dsql_local.too_big() RETURNS trigger LANGUAGE plpgsql AS $f$ "
    "BEGIN RAISE EXCEPTION USING ERRCODE = '54000', "
    "  MESSAGE = 'transaction size limit 10mb exceeded'; END $f$;\n",
    "DO $d$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'dsql_local_too_big') "
    "THEN CREATE CONSTRAINT TRIGGER dsql_local_too_big AFTER INSERT ON dsql_local.size_marker "
    "  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION dsql_local.too_big(); "
    "END IF; END $d$;\n"
    /* DDL and DML in one transaction */
    "CREATE OR REPLACE FUNCTION dsql_local.note_dml() RETURNS trigger LANGUAGE plpgsql AS $f$ "
    "BEGIN "
    "  IF coalesce(current_setting('dsql_local.enforce', true), '') <> 'on' "
    "     OR current_setting('dsql_local.internal', true) = 'on' THEN RETURN NULL; END IF; "
    "  IF current_setting('dsql_local.ddl', true) = 'on' THEN "
    "    RAISE EXCEPTION USING ERRCODE = '0A000', "
    "      MESSAGE = 'ddl and dml are not supported in the same transaction'; END IF; "
    "  PERFORM set_config('dsql_local.dml', 'on', true); RETURN NULL; END $f$;\n",
    "CREATE OR REPLACE FUNCTION dsql_local.on_ddl_start() RETURNS event_trigger "
    "LANGUAGE plpgsql AS $f$ BEGIN "
    "  IF coalesce(current_setting('dsql_local.enforce', true), '') <> 'on' "
    "     OR current_setting('dsql_local.internal', true) = 'on' THEN RETURN; END IF; "
    "  IF current_setting('dsql_local.dml', true) = 'on' THEN "
    "    RAISE EXCEPTION USING ERRCODE = '0A000', "
    "      MESSAGE = 'ddl and dml are not supported in the same transaction'; END IF; "
    "  IF current_setting('dsql_local.ddl', true) = 'on' THEN "
    "    RAISE EXCEPTION USING ERRCODE = '0A000', "
    "      MESSAGE = 'multiple ddl statements not supported in a transaction'; END IF; "
    "  PERFORM set_config('dsql_local.ddl', 'on', true); END $f$;\n"
    /* every user table is instrumented */
    "CREATE OR REPLACE FUNCTION dsql_local.instrument(t regclass) RETURNS void "
    "LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $f$ "
    "DECLARE ns text; BEGIN "
    "  SELECT n.nspname INTO ns FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "   WHERE c.oid = t; "
    "  IF ns IN ('dsql_local', 'sys', 'pg_catalog', 'information_schema') THEN RETURN; END IF; "
    "  IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = t AND tgname = 'dsql_local_rows') "
    "  THEN RETURN; END IF; "
    "  PERFORM set_config('dsql_local.internal', 'on', true); "
    "  EXECUTE format('CREATE TRIGGER dsql_local_rows AFTER INSERT OR UPDATE OR DELETE ON %s "
    "    FOR EACH ROW EXECUTE FUNCTION dsql_local.count_row()', t); "
    "  EXECUTE format('CREATE TRIGGER dsql_local_dml AFTER INSERT OR UPDATE OR DELETE ON %s "
    "    FOR EACH STATEMENT EXECUTE FUNCTION dsql_local.note_dml()', t); "
    "  PERFORM set_config('dsql_local.internal', 'off', true); END $f$;\n",
    "CREATE OR REPLACE FUNCTION dsql_local.on_ddl_end() RETURNS event_trigger "
    "LANGUAGE plpgsql AS $f$ DECLARE r record; BEGIN "
    "  FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands() "
    "    WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP "
    "    PERFORM dsql_local.instrument(r.objid::regclass); END LOOP; END $f$;\n",
    "DO $d$ BEGIN "
    "  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'dsql_local_ddl_start') "
    "  THEN CREATE EVENT TRIGGER dsql_local_ddl_start ON ddl_command_start "
    "    EXECUTE FUNCTION dsql_local.on_ddl_start(); END IF; "
    "  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'dsql_local_ddl_end') "
    "  THEN CREATE EVENT TRIGGER dsql_local_ddl_end ON ddl_command_end "
    "    WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION dsql_local.on_ddl_end(); END IF; "
    "END $d$;\n",
    "SELECT dsql_local.instrument(c.oid) FROM pg_class c JOIN pg_namespace n "
    "  ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
    "  AND n.nspname NOT IN ('dsql_local', 'sys', 'pg_catalog', 'information_schema') "
    "  AND n.nspname NOT LIKE 'pg_toast%';\n"
    /* asynchronous jobs: the transaction rules (0A000) fail the statement; for CREATE INDEX
     * ASYNC what the statement names (the table, the columns) is checked at once too, and
     * what the build finds in the data (duplicate keys, bad values) fails the job; ALTER
     * TABLE ASYNC answers with a job whatever the job then finds (a VALIDATE CONSTRAINT of
     * a constraint that is not there: a failed job), as DSQL does. Failures are recorded
     * in sys.jobs with their message */
    "CREATE OR REPLACE FUNCTION dsql_local.job_id() RETURNS text LANGUAGE sql AS $f$ "
    "  SELECT string_agg(substr('abcdefghijklmnopqrstuvwxyz234567', "
    "    (floor(random() * 32))::int + 1, 1), '') FROM generate_series(1, 26) $f$;\n",
    "CREATE OR REPLACE FUNCTION dsql_local.mark_invalid(idx text, tbl text) RETURNS void "
    "LANGUAGE plpgsql SECURITY DEFINER AS $f$ BEGIN "
    "  PERFORM set_config('dsql_local.internal', 'on', true); "
    "  EXECUTE format('CREATE INDEX %I ON %s ((NULL::int)) WHERE false', idx, tbl); "
    "  UPDATE pg_index SET indisvalid = false "
    "   WHERE indexrelid = (quote_ident(idx))::regclass; "
    "  PERFORM set_config('dsql_local.internal', 'off', true); END $f$;\n",
    "CREATE OR REPLACE FUNCTION dsql_local.create_index_async(stmt text, idx text, tbl text) "
    "RETURNS text LANGUAGE plpgsql AS $f$ DECLARE id text := dsql_local.job_id(); BEGIN "
    "  BEGIN "
    "    EXECUTE stmt; "
    "    INSERT INTO sys.jobs (job_id, status, object_name) VALUES (id, 'completed', idx); "
    "  EXCEPTION WHEN unique_violation OR data_exception OR program_limit_exceeded "
    "    OR object_not_in_prerequisite_state THEN "
    "    INSERT INTO sys.jobs (job_id, status, details, object_name) "
    "      VALUES (id, 'failed', SQLERRM, idx); "
    "    IF idx <> '' THEN PERFORM dsql_local.mark_invalid(idx, tbl); END IF; "
    "  END; RETURN id; END $f$;\n",
    "CREATE OR REPLACE FUNCTION dsql_local.run_job(stmt text, obj text) RETURNS text "
    "LANGUAGE plpgsql AS $f$ DECLARE id text := dsql_local.job_id(); BEGIN "
    "  BEGIN "
    "    EXECUTE stmt; "
    "    INSERT INTO sys.jobs (job_id, status, object_name) VALUES (id, 'completed', obj); "
    "  EXCEPTION WHEN feature_not_supported THEN RAISE; "
    "  WHEN OTHERS THEN "
    "    INSERT INTO sys.jobs (job_id, status, details, object_name) "
    "      VALUES (id, 'failed', SQLERRM, obj); "
    "  END; RETURN id; END $f$;\n",
    "CREATE OR REPLACE PROCEDURE sys.wait_for_job(job text, INOUT wait_for_job boolean "
    "DEFAULT NULL) LANGUAGE plpgsql AS $f$ BEGIN "
    "  SELECT status = 'completed' INTO wait_for_job FROM sys.jobs WHERE job_id = job; "
    "  IF NOT FOUND THEN RAISE EXCEPTION USING ERRCODE = '42704', "
    "    MESSAGE = format('job %s does not exist', job); END IF; END $f$;\n",
    "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA dsql_local TO PUBLIC;\n",
    "GRANT EXECUTE ON ALL PROCEDURES IN SCHEMA sys TO PUBLIC;\n"
    /* DSQL has no text search configurations */
    "DO $d$ DECLARE r record; BEGIN FOR r IN SELECT cfgname FROM pg_ts_config c "
    "  JOIN pg_namespace n ON n.oid = c.cfgnamespace WHERE n.nspname = 'pg_catalog' LOOP "
    "  BEGIN EXECUTE format('DROP TEXT SEARCH CONFIGURATION pg_catalog.%I CASCADE', r.cfgname); "
    "  EXCEPTION WHEN OTHERS THEN NULL; END; "
    "END LOOP; END $d$;\n",
};

/* The database's oid on the backend, 0 when it cannot be read (then the emulation is
 * installed again: the statements are idempotent). Called with install_mu held. */
static unsigned database_oid(const char *database)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!dl.install_pg || PQstatus(dl.install_pg) != CONNECTION_OK) {
            PQfinish(dl.install_pg);
            char port[16];
            snprintf(port, sizeof port, "%d", dl.cfg.backend_port);
            const char *keys[] = {"host", "port", "dbname", "user", "application_name", NULL};
            const char *vals[] = {dl.cfg.backend_host, port, "postgres", dl.cfg.admin_user,
                                  "dsql-local setup",  NULL};
            dl.install_pg = PQconnectdbParams(keys, vals, 0);
        }
        const char *params[] = {database};
        PGresult *r = PQexecParams(dl.install_pg, "SELECT oid FROM pg_database WHERE datname = $1",
                                   1, NULL, params, NULL, NULL, 0);
        unsigned oid = 0;
        bool answered = PQresultStatus(r) == PGRES_TUPLES_OK;
        if (answered && PQntuples(r) == 1)
            oid = (unsigned)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        if (answered)
            return oid;
        PQfinish(dl.install_pg); /* a lost session: once more, on a new one */
        dl.install_pg = NULL;
    }
    return 0;
}

bool dl_setup_database(const char *database, char *why, size_t cap)
{
    pthread_mutex_lock(&dl.install_mu);
    unsigned oid = database_oid(database);
    for (size_t i = 0; oid && i < dl.n_installed; i++) {
        if (!strcmp(dl.installed[i].name, database) && dl.installed[i].oid == oid) {
            pthread_mutex_unlock(&dl.install_mu);
            return true;
        }
    }
    char port[16];
    snprintf(port, sizeof port, "%d", dl.cfg.backend_port);
    const char *keys[] = {"host", "port", "dbname", "user", "application_name", NULL};
    const char *vals[] = {dl.cfg.backend_host, port, database, dl.cfg.admin_user,
                          "dsql-local setup",  NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 0);
    bool ok = PQstatus(pg) == CONNECTION_OK;
    if (ok) {
        for (size_t i = 0; ok && i < sizeof setup_sql / sizeof setup_sql[0]; i++) {
            PGresult *r = PQexec(pg, setup_sql[i]);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
            if (!ok)
                snprintf(why, cap, "installing the emulation in database %s failed: %s", database,
                         PQresultErrorMessage(r));
            PQclear(r);
        }
    } else {
        snprintf(why, cap, "cannot reach the backend database %s: %s", database,
                 PQerrorMessage(pg));
    }
    PQfinish(pg);
    if (ok && oid) {
        size_t i = 0;
        while (i < dl.n_installed && strcmp(dl.installed[i].name, database) != 0)
            i++;
        if (i < dl.n_installed) {
            dl.installed[i].oid = oid;
        } else {
            struct dl_installed *n = realloc(dl.installed, (dl.n_installed + 1) * sizeof *n);
            if (n) {
                dl.installed = n;
                dl.installed[i].name = strdup(database);
                dl.installed[i].oid = oid;
                if (dl.installed[i].name)
                    dl.n_installed++;
            }
        }
    }
    pthread_mutex_unlock(&dl.install_mu);
    return ok;
}
