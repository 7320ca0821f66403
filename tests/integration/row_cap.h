/*
 * Aurora DSQL's row cap, emulated on the throwaway PostgreSQL for the tests that need it
 * (header-only): a row trigger on each table counts the rows the transaction modifies in a
 * transaction-local setting and fails the statement that takes the count past 3,000 with
 * DSQL's SQLSTATE and message (54000 "transaction row limit exceeded"). Rows deleted by ON
 * DELETE CASCADE fire the trigger of their own table, so they count too, as on DSQL.
 */
#ifndef DSQL_TEST_ROW_CAP_H
#define DSQL_TEST_ROW_CAP_H

#include <libpq-fe.h>

#include "conn_util.h"

/* Installs the counting trigger on table (quoted as given) in pg's database. */
static inline void row_cap_install(PGconn *pg, const char *table)
{
    pg_ok(pg, "CREATE OR REPLACE FUNCTION dsql_test_row_cap() RETURNS trigger LANGUAGE plpgsql "
              "AS $f$ DECLARE n int; BEGIN "
              "n := coalesce(nullif(current_setting('dsql_test.rows', true), ''), '0')::int + 1; "
              "PERFORM set_config('dsql_test.rows', n::text, true); "
              "IF n > 3000 THEN RAISE EXCEPTION 'transaction row limit exceeded' "
              "USING ERRCODE = '54000'; END IF; RETURN NULL; END $f$");
    char sql[512];
    snprintf(sql, sizeof sql,
             "CREATE TRIGGER dsql_test_row_cap AFTER INSERT OR UPDATE OR DELETE ON \"%s\" "
             "FOR EACH ROW EXECUTE FUNCTION dsql_test_row_cap()",
             table);
    pg_ok(pg, sql);
}

#endif
