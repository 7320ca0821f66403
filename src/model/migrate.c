/*
 * The migration runner (dsql/migrate.h): claims, resuming, and each statement run the way
 * Aurora DSQL accepts it (the table itself and status: migrate_table.c).
 *
 * Exactly once, without locks: a runner claims a migration by inserting its row (or by
 * moving a failed row to running); DSQL's optimistic concurrency lets one of two racing
 * writers commit, the other sees the row and waits. Progress (the next statement, and the
 * checksum of the statements done) is written in the same transaction as each group of
 * DML, guarded by the claim's owner, so a group commits exactly when its progress does and
 * a runner that lost its claim writes nothing. DDL cannot share a transaction with that
 * write (DSQL's rule): its progress follows it, and the claim is checked right before it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "model/migrate.h"

static void progress(const dsql__mig_runner *r, const char *fmt, ...) DSQL_PRINTF(2, 3);
static void progress(const dsql__mig_runner *r, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (r->o->on_progress)
        r->o->on_progress(line, r->o->ctx);
    dsql__conn_log(r->conn, DSQL_LOG_INFO, "migrate: %s", line);
}

/* The same inside the caller's transaction (its runner retries). */
static int q_tx(dsql_conn *conn, const char *sql, int n, const char *const *vals, PGresult **out,
                dsql_error *err)
{
    return dsql__conn_exec(conn, sql, n, vals, NULL, NULL, NULL, 0, out, err);
}

/* ---- claims ---- */

static void make_owner(char *out, size_t size)
{
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    unsigned char rnd[6] = {0};
    RAND_bytes(rnd, sizeof rnd);
    snprintf(out, size, "%.60s:%ld:%02x%02x%02x%02x%02x%02x", host, (long)getpid(), rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5]);
}

/* A statement on this runner's row, guarded by the claim; *won: one row changed. */
static int claim_update(dsql__mig_runner *r, const char *sql, int n, const char *const *v,
                        bool *won, dsql_error *err)
{
    PGresult *res = NULL;
    int rc = dsql__mig_q(r, sql, n, v, &res, err);
    *won = !rc && dsql__mig_affected(res) == 1;
    PQclear(res);
    return rc;
}

/* The claim still ours: touched, or DSQL_ESTALE. */
static int heartbeat(dsql__mig_runner *r, dsql_error *err)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE %s SET heartbeat_at = now() WHERE version = $1 AND owner = $2", r->table);
    const char *v[] = {r->m->version, r->owner};
    bool won = false;
    int rc = claim_update(r, sql, 2, v, &won, err);
    if (!rc && !won)
        rc = dsql_error_set(err, DSQL_ESTALE,
                            "migration %s (%s): this runner's claim was taken over by another "
                            "runner (no progress for longer than the lease); stopped before the "
                            "next statement",
                            r->m->version, r->m->name);
    return rc;
}

/* Progress after statement k (DDL and OTHER: in autocommit, after the statement). */
static int record_step(dsql__mig_runner *r, dsql_conn *conn, size_t k, bool in_tx, dsql_error *err)
{
    char prefix[65], step[24], sql[256];
    int rc = dsql__mig_prefix(r->steps, k, prefix, err);
    if (rc)
        return rc;
    snprintf(step, sizeof step, "%zu", k);
    snprintf(sql, sizeof sql,
             "UPDATE %s SET step = $1, prefix = $2, heartbeat_at = now() "
             "WHERE version = $3 AND owner = $4",
             r->table);
    const char *v[] = {step, prefix, r->m->version, r->owner};
    PGresult *res = NULL;
    rc = in_tx ? q_tx(conn, sql, 4, v, &res, err) : dsql__mig_q(r, sql, 4, v, &res, err);
    if (!rc && dsql__mig_affected(res) != 1)
        rc = dsql_error_set(err, DSQL_ESTALE,
                            "migration %s (%s): this runner's claim was taken over by another "
                            "runner while statement %zu ran; %s",
                            r->m->version, r->m->name, k,
                            in_tx ? "its transaction was rolled back" : "stopped here");
    PQclear(res);
    return rc;
}

/* ---- running statements ---- */

typedef struct dml_body {
    dsql__mig_runner *r;
    size_t first, count; /* statements [first, first + count) */
    bool backfill;
    uint64_t rows;
    char **texts;
} dml_body;

static int dml_fn(dsql_conn *conn, void *ctx, dsql_error *err)
{
    dml_body *b = ctx;
    b->rows = 0;
    for (size_t i = 0; i < b->count; i++) {
        PGresult *res = NULL;
        int rc = dsql__conn_exec(conn, b->texts[i], 0, NULL, NULL, NULL, NULL, 0, &res, err);
        b->rows += rc ? 0 : dsql__mig_affected(res);
        PQclear(res);
        if (rc)
            return rc;
    }
    /* A backfill run writes nothing else: its transaction keeps the whole row cap for the
     * statement, which runs again until it changes nothing (a run done twice is harmless).
     * A group records its progress with its rows, so it commits exactly once. */
    if (b->backfill)
        return DSQL_OK;
    return record_step(b->r, conn, b->first + b->count, true, err);
}

static const char *text_of(const dsql__mig_runner *r, size_t i, char **pg)
{
    if (r->is_dsql)
        return r->steps[i].sql;
    *pg = dsql__mig_sql_pg(&r->steps[i]);
    return *pg;
}

static int run_dml(dsql__mig_runner *r, size_t first, size_t count, bool backfill, dsql_error *err)
{
    char *texts[64];
    if (count > DSQL__ARRAY_LEN(texts)) { /* a long run of DML: in pieces of 64 */
        int rc = run_dml(r, first, DSQL__ARRAY_LEN(texts), false, err);
        return rc ? rc
                  : run_dml(r, first + DSQL__ARRAY_LEN(texts), count - DSQL__ARRAY_LEN(texts),
                            false, err);
    }
    int rc = DSQL_OK;
    size_t made = 0;
    for (; made < count; made++) {
        char *pg = NULL;
        const char *t = text_of(r, first + made, &pg);
        texts[made] = pg ? pg : strdup(t ? t : "");
        if (!texts[made]) {
            rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
            break;
        }
    }
    dml_body b = {.r = r, .first = first, .count = count, .backfill = backfill, .texts = texts};
    if (!rc && !backfill) {
        rc = dsql_conn_transaction(r->conn, dml_fn, &b, NULL, NULL, err);
        if (rc == DSQL_ELIMIT && count > 1 && dsql__is_row_limit(err)) {
            /* together past the row cap: nothing committed, so one transaction each */
            progress(r, "%zu DML statements together pass the row cap: one transaction each",
                     count);
            for (size_t i = 0; i < made; i++)
                free(texts[i]);
            for (size_t i = 0; i < count; i++)
                if ((rc = run_dml(r, first + i, 1, false, err)))
                    return rc;
            return DSQL_OK;
        }
        if (!rc) {
            r->rep->rows += b.rows;
            r->rep->transactions++;
            r->rep->statements += count;
        } else if (rc == DSQL_ELIMIT && dsql__is_row_limit(err)) {
            char m[sizeof err->message];
            snprintf(m, sizeof m,
                     "%.160s (over 2,999 rows in one statement - the cap is 3,000 a transaction, "
                     "one of them the migration's progress record: make it a backfill, "
                     "'-- dsql:backfill' before it, each run bounded by LIMIT <= 3000 and changing "
                     "no row once done; see docs/migrations.md)",
                     err->message);
            snprintf(err->message, sizeof err->message, "%s", m);
        }
    }
    if (!rc && backfill) {
        uint64_t max = r->o->max_chunks ? r->o->max_chunks : DSQL__MIG_DEFAULT_MAX_CHUNKS,
                 total = 0;
        for (uint64_t run = 1;; run++) {
            if (run > max) {
                rc = dsql_error_set(err, DSQL_ELIMIT,
                                    "backfill still changing rows after %llu runs (%llu rows): "
                                    "does each run exclude the rows done before? (max_chunks)",
                                    (unsigned long long)max, (unsigned long long)total);
                break;
            }
            if ((rc = dsql_conn_transaction(r->conn, dml_fn, &b, NULL, NULL, err)) ||
                (rc = heartbeat(r, err)))
                break;
            r->rep->transactions++;
            total += b.rows;
            if (b.rows == 0)
                break;
            if (run % 10 == 0)
                progress(r, "backfill: %llu rows in %llu transactions", (unsigned long long)total,
                         (unsigned long long)run);
        }
        if (!rc) {
            r->rep->rows += total;
            r->rep->statements++;
            progress(r, "backfill done: %llu rows", (unsigned long long)total);
            rc = record_step(r, r->conn, first + 1, false, err);
        }
    }
    for (size_t i = 0; i < made; i++)
        free(texts[i]);
    return rc;
}

static int run_alone(dsql__mig_runner *r, size_t i, dsql_step_kind kind, dsql_error *err)
{
    int rc = heartbeat(r, err);
    if (rc)
        return rc;
    char *pg = NULL;
    const char *t = text_of(r, i, &pg);
    if (!t)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    if (kind == DSQL_STEP_DDL) {
        rc = dsql__ddl_run(r->conn, t, err);
    } else {
        PGresult *res = NULL;
        rc = dsql__exec_retry(r->conn, t, NULL, &res, err);
        PQclear(res);
    }
    free(pg);
    if (rc)
        return rc;
    r->rep->statements++;
    r->rep->transactions++;
    return record_step(r, r->conn, i + 1, false, err);
}

/* Runs statements [from, n) of the part, group by group. *failed_at: the statement (0-based)
 * of the failure. */
static int run_steps(dsql__mig_runner *r, size_t from, size_t *failed_at, dsql_error *err)
{
    dsql_migrate_group *groups = calloc(r->n ? r->n : 1, sizeof *groups);
    if (!groups)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    size_t ng = 0;
    int rc = dsql_migration_plan(r->m, r->down, groups, r->n, &ng, err);
    for (size_t g = 0; !rc && g < ng; g++) {
        dsql_migrate_group grp = groups[g];
        if (grp.first + grp.count <= from)
            continue;
        if (grp.first < from) { /* resuming inside a DML group: its rest */
            grp.count -= from - grp.first;
            grp.first = from;
        }
        *failed_at = grp.first;
        char range[48];
        if (grp.count > 1)
            snprintf(range, sizeof range, "statements %zu-%zu", grp.first + 1,
                     grp.first + grp.count);
        else
            snprintf(range, sizeof range, "statement %zu", grp.first + 1);
        progress(r, "%s %s_%s: %s of %zu: %s%s", r->down ? "reverting" : "applying", r->m->version,
                 r->m->name, range, r->n,
                 grp.kind == DSQL_STEP_DDL   ? "DDL"
                 : grp.kind == DSQL_STEP_DML ? "DML"
                                             : "other",
                 grp.backfill    ? " (backfill)"
                 : grp.count > 1 ? ", one transaction"
                                 : "");
        if (grp.kind == DSQL_STEP_DML)
            rc = run_dml(r, grp.first, grp.count, grp.backfill, err);
        else
            rc = run_alone(r, grp.first, grp.kind, err);
        if (rc && grp.kind == DSQL_STEP_DML && grp.count > 1) {
            /* which statement: the row's step says how far the group got */
            dsql__mig_row w;
            dsql_error e2 = DSQL_ERROR_INIT;
            if (!dsql__mig_read_row(r, r->m->version, &w, &e2) && w.found && w.step >= grp.first)
                *failed_at = w.step;
        }
    }
    free(groups);
    return rc;
}

/* ---- one migration ---- */

/* Records the failure (best effort: the connection may be gone) and names the statement. */
static int failed(dsql__mig_runner *r, size_t k, int rc, dsql_error *err)
{
    const dsql_migration_step *s = &r->steps[k < r->n ? k : r->n - 1];
    char where[256];
    if (s->line && r->m->source)
        snprintf(where, sizeof where, " (%s:%u)", r->m->source, s->line);
    else
        where[0] = '\0';
    if (err)
        dsql__err_prefix(err, "migration %s (%s): %s statement %zu of %zu%s", r->m->version,
                         r->m->name, r->down ? "down" : "up", k + 1, r->n, where);
    if (r->rep) {
        snprintf(r->rep->failed_version, sizeof r->rep->failed_version, "%s", r->m->version);
        r->rep->failed_step = k + 1;
    }
    if (rc == DSQL_ESTALE)
        return rc; /* not ours to record */
    char prefix[65], step[24], sql[320];
    dsql_error e = DSQL_ERROR_INIT;
    if (dsql__mig_prefix(r->steps, k, prefix, &e))
        return rc;
    snprintf(step, sizeof step, "%zu", k);
    snprintf(sql, sizeof sql,
             "UPDATE %s SET state = $1, step = $2, prefix = $3, error = $4, owner = NULL, "
             "heartbeat_at = now() WHERE version = $5 AND owner = $6",
             r->table);
    char msg[1001];
    snprintf(msg, sizeof msg, "%s", err ? err->message : dsql_status_name(rc));
    const char *v[] = {r->down ? DSQL__MIG_ST_REVERT_FAILED : DSQL__MIG_ST_FAILED,
                       step,
                       prefix,
                       msg,
                       r->m->version,
                       r->owner};
    /* The connection may be what failed: a pool lends another one for the record. */
    PGresult *res = NULL;
    dsql_conn *used = r->conn, *spare = NULL;
    if (!dsql_conn_ok(r->conn) && dsql__db_pool(r->db) &&
        dsql__db_acquire(r->db, &spare, &e) == DSQL_OK)
        r->conn = spare;
    bool recorded = dsql_conn_ok(r->conn) && dsql__mig_q(r, sql, 6, v, &res, &e) == DSQL_OK &&
                    dsql__mig_affected(res) == 1;
    PQclear(res);
    if (spare)
        dsql__db_release(r->db, spare);
    r->conn = used;
    if (!recorded && err) {
        size_t len = strlen(err->message);
        snprintf(err->message + len, sizeof err->message - len,
                 "; the failure could not be recorded (%.60s): the migration stays claimed by "
                 "this runner until its lease ends (run up with a short lease once no runner "
                 "is on it)",
                 e.message[0] ? e.message : "the connection is gone");
    }
    return rc;
}

/* Waits while another runner holds the row; *w: the row as last read. */
static int wait_other(dsql__mig_runner *r, dsql__mig_row *w, dsql_error *err)
{
    int64_t wait_ms = r->o->wait_ms ? r->o->wait_ms : DSQL__MIG_DEFAULT_WAIT_MS;
    int64_t lease = r->o->lease_ms ? r->o->lease_ms : DSQL__MIG_DEFAULT_LEASE_MS;
    int64_t deadline = dsql__mono_ms() + wait_ms, delay = 100;
    bool said = false;
    for (;;) {
        bool busy =
            !strcmp(w->state, DSQL__MIG_ST_RUNNING) || !strcmp(w->state, DSQL__MIG_ST_REVERTING);
        if (!w->found || !busy || w->idle_ms > lease)
            return DSQL_OK;
        if (!said) {
            progress(r, "%s_%s is being %s by another runner (%s): waiting", w->version, w->name,
                     strcmp(w->state, DSQL__MIG_ST_RUNNING) ? "reverted" : "applied", w->owner);
            said = true;
        }
        int64_t left = deadline - dsql__mono_ms();
        if (left <= 0)
            return dsql_error_set(err, DSQL_ETIMEOUT,
                                  "migration %s (%s) is being %s by runner %s (statement %zu, last "
                                  "progress %lld s ago); waited %lld s for it. Run again later; a "
                                  "runner that died is taken over once its claim is older than "
                                  "the lease (%lld s)",
                                  w->version, w->name,
                                  strcmp(w->state, DSQL__MIG_ST_RUNNING) ? "reverted" : "applied",
                                  w->owner, w->step + 1, (long long)(w->idle_ms / 1000),
                                  (long long)(wait_ms / 1000), (long long)(lease / 1000));
        dsql__sleep_ms(delay < left ? delay : left);
        delay = delay * 2 > 2000 ? 2000 : delay * 2;
        int rc = dsql__mig_read_row(r, r->m->version, w, err);
        if (rc)
            return rc;
    }
}

static int check_prefix(dsql__mig_runner *r, const dsql__mig_row *w, dsql_error *err)
{
    if (w->step > r->n)
        return dsql_error_set(err, DSQL_EINVAL,
                              "migration %s (%s): it stopped after statement %zu, but its %s part "
                              "now has %zu statements: the statements that ran must stay as they "
                              "were",
                              r->m->version, r->m->name, w->step, r->down ? "down" : "up", r->n);
    char prefix[65];
    int rc = dsql__mig_prefix(r->steps, w->step, prefix, err);
    if (rc)
        return rc;
    if (strcmp(prefix, w->prefix))
        return dsql_error_set(err, DSQL_EINVAL,
                              "migration %s (%s): statements 1 to %zu of its %s part ran before it "
                              "stopped at statement %zu, and they have changed since: they cannot "
                              "run again (DDL commits as it runs). Restore them as they were and "
                              "fix statement %zu or later, or write a new migration",
                              r->m->version, r->m->name, w->step, r->down ? "down" : "up",
                              w->step + 1, w->step + 1);
    return DSQL_OK;
}

/* r->m's row, once no live runner other than this one holds it. */
static int read_free_row(dsql__mig_runner *r, dsql__mig_row *w, int64_t lease, dsql_error *err)
{
    const dsql_migration *m = r->m;
    int rc = dsql__mig_read_row(r, m->version, w, err);
    if (rc)
        return rc;
    bool was_busy = w->found && !strcmp(w->state, DSQL__MIG_ST_RUNNING) && w->idle_ms <= lease;
    if ((rc = wait_other(r, w, err)))
        return rc;
    if (was_busy && !strcmp(w->state, DSQL__MIG_ST_FAILED))
        return dsql_error_set(err, DSQL_ESERVER,
                              "migration %s (%s) failed in the runner that applied it while "
                              "this one waited, at statement %zu: %s. Fix it and run up again: "
                              "it resumes there",
                              m->version, m->name, w->step + 1, w->error);
    return DSQL_OK;
}

/* No row yet: inserts one held by this runner. Another runner's insert first: DSQL_OK,
 * *won false (its row is read again). */
static int claim_new(dsql__mig_runner *r, const char *sum, const char *prefix0, dsql__mig_row *w,
                     bool *won, dsql_error *err)
{
    const dsql_migration *m = r->m;
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s (version, name, checksum, state, step, prefix, owner, "
             "claimed_at, heartbeat_at) VALUES ($1, $2, $3, 'running', 0, $4, $5, now(), "
             "now())",
             r->table);
    const char *v[] = {m->version, m->name, sum, prefix0, r->owner};
    dsql_error e = DSQL_ERROR_INIT;
    int rc = claim_update(r, sql, 5, v, won, &e);
    if (rc == DSQL_ECONSTRAINT || rc == DSQL_ECONFLICT) {
        *won = false;
        return DSQL_OK;
    }
    if (rc) {
        if (err)
            *err = e;
        return rc;
    }
    w->step = 0;
    return DSQL_OK;
}

/* Applied already: nothing to do, unless its statements changed since. */
static int check_applied(dsql__mig_runner *r, const dsql__mig_row *w, const char *sum,
                         dsql_error *err)
{
    const dsql_migration *m = r->m;
    if (strcmp(w->checksum, sum))
        return dsql_error_set(err, DSQL_EINVAL,
                              "migration %s (%s) is applied, but its statements changed "
                              "since (checksum %.12s... recorded, %.12s... now): an applied "
                              "migration must not change; write a new migration for the "
                              "change",
                              m->version, m->name, w->checksum, sum);
    r->rep->already++;
    return DSQL_OK;
}

/* Failed before: claimed again, to resume at the statement that failed. */
static int claim_failed(dsql__mig_runner *r, const dsql__mig_row *w, bool *won, dsql_error *err)
{
    const dsql_migration *m = r->m;
    int rc = check_prefix(r, w, err);
    if (rc)
        return rc;
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE %s SET state = 'running', owner = $1, claimed_at = now(), "
             "heartbeat_at = now() WHERE version = $2 AND state = 'failed'",
             r->table);
    const char *v[] = {r->owner, m->version};
    if ((rc = claim_update(r, sql, 2, v, won, err)))
        return rc;
    if (*won) {
        r->rep->resumed++;
        progress(r, "resuming %s_%s at statement %zu of %zu (failed there before: %s)", m->version,
                 m->name, w->step + 1, r->n, w->error);
    }
    return DSQL_OK;
}

/* Held by a runner silent for longer than the lease: taken over where it stopped. */
static int claim_stale(dsql__mig_runner *r, const dsql__mig_row *w, bool *won, dsql_error *err)
{
    const dsql_migration *m = r->m;
    int rc = check_prefix(r, w, err);
    if (rc)
        return rc;
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE %s SET owner = $1, claimed_at = now(), heartbeat_at = now() "
             "WHERE version = $2 AND state = 'running' AND owner = $3",
             r->table);
    const char *v[] = {r->owner, m->version, w->owner};
    if ((rc = claim_update(r, sql, 3, v, won, err)))
        return rc;
    if (*won)
        progress(r,
                 "taking over %s_%s from runner %s (no progress for %lld s) at "
                 "statement %zu",
                 m->version, m->name, w->owner, (long long)(w->idle_ms / 1000), w->step + 1);
    return DSQL_OK;
}

/* Claimed: runs the up statements from w->step on and records the migration as applied. */
static int apply_claimed(dsql__mig_runner *r, const dsql__mig_row *w, const char *sum,
                         dsql_error *err)
{
    const dsql_migration *m = r->m;
    int64_t t0 = dsql__mono_ms();
    size_t at = w->step;
    int rc = run_steps(r, w->step, &at, err);
    if (rc)
        return failed(r, at, rc, err);
    char dur[24], step[24];
    snprintf(dur, sizeof dur, "%lld", (long long)(dsql__mono_ms() - t0));
    snprintf(step, sizeof step, "%zu", r->n);
    char full[65];
    if ((rc = dsql__mig_prefix(m->up, m->n_up, full, err)))
        return rc;
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE %s SET state = 'applied', step = $1, prefix = $2, owner = NULL, "
             "error = NULL, applied_at = now(), duration_ms = $3, heartbeat_at = now(), "
             "checksum = $4, name = $5 WHERE version = $6 AND owner = $7",
             r->table);
    const char *v[] = {step, full, dur, sum, m->name, m->version, r->owner};
    bool won = false;
    if ((rc = claim_update(r, sql, 7, v, &won, err)))
        return failed(r, r->n - 1, rc, err);
    if (!won)
        return dsql_error_set(err, DSQL_ESTALE,
                              "migration %s (%s): this runner's claim was taken over before it "
                              "could record the migration as applied",
                              m->version, m->name);
    r->rep->applied++;
    progress(r, "applied %s_%s (%zu statement%s, %s ms)", m->version, m->name, r->n,
             r->n == 1 ? "" : "s", dur);
    return DSQL_OK;
}

/* Applies one migration (claim, run, record); one found applied already counts in
 * r->rep->already. */
static int up_one(dsql__mig_runner *r, const dsql_migration *m, dsql_error *err)
{
    r->m = m;
    r->steps = m->up;
    r->n = m->n_up;
    r->down = false;
    char sum[65], prefix0[65];
    int rc = dsql_migration_checksum(m, sum, err);
    if (!rc)
        rc = dsql__mig_prefix(m->up, 0, prefix0, err);
    if (rc)
        return rc;
    int64_t lease = r->o->lease_ms ? r->o->lease_ms : DSQL__MIG_DEFAULT_LEASE_MS;
    for (int round = 0;; round++) {
        if (round > 20)
            return dsql_error_set(err, DSQL_ECONFLICT,
                                  "migration %s (%s): could not claim it after %d attempts",
                                  m->version, m->name, round);
        dsql__mig_row w;
        if ((rc = read_free_row(r, &w, lease, err)))
            return rc;
        bool won = false;
        if (!w.found)
            rc = claim_new(r, sum, prefix0, &w, &won, err);
        else if (!strcmp(w.state, DSQL__MIG_ST_APPLIED))
            return check_applied(r, &w, sum, err);
        else if (!strcmp(w.state, DSQL__MIG_ST_FAILED))
            rc = claim_failed(r, &w, &won, err);
        else if (!strcmp(w.state, DSQL__MIG_ST_RUNNING) && w.idle_ms > lease)
            rc = claim_stale(r, &w, &won, err);
        else
            return dsql_error_set(err, DSQL_EINVAL,
                                  "migration %s (%s) is in state '%s' (statement %zu%s%s): revert "
                                  "it with down before applying it again",
                                  m->version, m->name, w.state, w.step + 1, *w.error ? ": " : "",
                                  w.error);
        if (rc)
            return rc;
        if (won)
            return apply_claimed(r, &w, sum, err);
    }
}

static int down_one(dsql__mig_runner *r, const dsql_migration *m, dsql_error *err)
{
    r->m = m;
    r->steps = m->down;
    r->n = m->n_down;
    r->down = true;
    char prefix0[65];
    int rc = dsql__mig_prefix(m->down, 0, prefix0, err);
    if (rc)
        return rc;
    for (int round = 0;; round++) {
        if (round > 20)
            return dsql_error_set(err, DSQL_ECONFLICT,
                                  "migration %s (%s): could not claim it after %d attempts",
                                  m->version, m->name, round);
        dsql__mig_row w;
        if ((rc = dsql__mig_read_row(r, m->version, &w, err)) || (rc = wait_other(r, &w, err)))
            return rc;
        if (!w.found)
            return DSQL_OK; /* reverted by another runner meanwhile */
        bool won = false;
        char sql[512];
        size_t from = 0;
        if (!strcmp(w.state, DSQL__MIG_ST_APPLIED)) {
            snprintf(sql, sizeof sql,
                     "UPDATE %s SET state = 'reverting', step = 0, prefix = $1, owner = $2, "
                     "claimed_at = now(), heartbeat_at = now(), error = NULL "
                     "WHERE version = $3 AND state = 'applied'",
                     r->table);
            const char *v[] = {prefix0, r->owner, m->version};
            rc = claim_update(r, sql, 3, v, &won, err);
        } else if (!strcmp(w.state, DSQL__MIG_ST_REVERT_FAILED) ||
                   !strcmp(w.state, DSQL__MIG_ST_REVERTING)) {
            if ((rc = check_prefix(r, &w, err)))
                return rc;
            snprintf(sql, sizeof sql,
                     "UPDATE %s SET state = 'reverting', owner = $1, claimed_at = now(), "
                     "heartbeat_at = now() WHERE version = $2 AND state = $3 AND "
                     "coalesce(owner, '') = $4",
                     r->table);
            const char *v[] = {r->owner, m->version, w.state, w.owner};
            rc = claim_update(r, sql, 4, v, &won, err);
            from = w.step;
            if (won)
                progress(r, "resuming the revert of %s_%s at statement %zu of %zu", m->version,
                         m->name, from + 1, r->n);
        } else {
            return dsql_error_set(err, DSQL_EINVAL,
                                  "migration %s (%s) is in state '%s' (statement %zu%s%s): it can "
                                  "be reverted once applied; run up first",
                                  m->version, m->name, w.state, w.step + 1, *w.error ? ": " : "",
                                  w.error);
        }
        if (rc)
            return rc;
        if (!won)
            continue;
        size_t at = from;
        if ((rc = run_steps(r, from, &at, err)))
            return failed(r, at, rc, err);
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE version = $1 AND owner = $2", r->table);
        const char *v[] = {m->version, r->owner};
        if ((rc = claim_update(r, sql, 2, v, &won, err)))
            return failed(r, r->n - 1, rc, err);
        r->rep->applied++;
        progress(r, "reverted %s_%s (%zu statement%s)", m->version, m->name, r->n,
                 r->n == 1 ? "" : "s");
        return DSQL_OK;
    }
}

/* ---- the calls ---- */

typedef int (*run_fn)(dsql__mig_runner *r, const dsql_migration **s, size_t n, dsql_error *err);

static int with_runner(dsql_db *db, const char *fn, const dsql_migration *migs, size_t n,
                       const dsql_migrate_options *opts, dsql_migrate_report *report, run_fn run,
                       dsql_error *err)
{
    static const dsql_migrate_options defaults = DSQL_MIGRATE_OPTIONS_INIT;
    dsql_migrate_report scratch;
    dsql__mig_runner r = {
        .db = db, .o = opts ? opts : &defaults, .rep = report ? report : &scratch};
    memset(r.rep, 0, sizeof *r.rep);
    int rc = dsql_migrations_check(migs, n, err);
    if (!rc)
        rc = dsql__mig_table_name(r.o, r.table, sizeof r.table, err);
    if (!rc && r.o->target && strcmp(r.o->target, "0") && !dsql__mig_version_ok(r.o->target))
        rc = dsql_error_set(err, DSQL_EINVAL, "target version '%s' must be 1 to %d digits",
                            r.o->target, DSQL__MIG_VERSION_MAX);
    if (rc) {
        dsql__err_prefix(err, "%s", fn);
        return rc;
    }
    if (dsql__db_in_transaction(db))
        return dsql_error_set(err, DSQL_EINVAL,
                              "%s: the connection is inside a transaction; migrations make their "
                              "own (each DDL statement alone)",
                              fn);
    const dsql_migration **s = dsql__mig_sorted(migs, n, err);
    if (!s)
        return DSQL_ENOMEM;
    if ((rc = dsql__db_acquire(db, &r.conn, err))) {
        free(s);
        return rc;
    }
    make_owner(r.owner, sizeof r.owner);
    rc = dsql__server_is_dsql(r.conn, &r.is_dsql, err);
    if (!rc)
        rc = run(&r, s, n, err);
    dsql__db_release(db, r.conn);
    free(s);
    return rc;
}

static int up_run(dsql__mig_runner *r, const dsql_migration **s, size_t n, dsql_error *err)
{
    int rc = dsql__mig_ensure_table(r, err);
    /* an applied migration that changed stops the run before anything is sent */
    for (size_t i = 0; !rc && i < n; i++) {
        dsql__mig_row w;
        char sum[65];
        if ((rc = dsql__mig_read_row(r, s[i]->version, &w, err)) ||
            (rc = dsql_migration_checksum(s[i], sum, err)))
            break;
        if (w.found && !strcmp(w.state, DSQL__MIG_ST_APPLIED) && strcmp(w.checksum, sum))
            rc = dsql_error_set(err, DSQL_EINVAL,
                                "migration %s (%s) is applied, but its statements changed since "
                                "(checksum %.12s... recorded, %.12s... now): an applied migration "
                                "must not change; write a new migration for the change",
                                s[i]->version, s[i]->name, w.checksum, sum);
    }
    for (size_t i = 0; !rc && i < n; i++) {
        if (r->o->target && dsql__mig_version_cmp(s[i]->version, r->o->target) > 0)
            break;
        rc = up_one(r, s[i], err);
    }
    return rc;
}

static int down_run(dsql__mig_runner *r, const dsql_migration **s, size_t n, dsql_error *err)
{
    bool exists = false;
    int rc = dsql__mig_table_exists(r, &exists, err);
    if (rc || !exists)
        return rc;
    char sql[768];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s", DSQL__MIG_ROW_COLUMNS, r->table);
    PGresult *res = NULL;
    if ((rc = dsql__mig_q(r, sql, 0, NULL, &res, err))) {
        PQclear(res);
        return rc;
    }
    /* what to revert: applied (or half-reverted) rows above the target, newest first */
    int nrows = PQntuples(res);
    const dsql_migration **todo = calloc((size_t)nrows + 1, sizeof *todo);
    size_t nt = 0;
    if (!todo)
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < nrows; i++) {
        dsql__mig_row w;
        dsql__mig_row_from(res, i, &w);
        if (!strcmp(w.state, DSQL__MIG_ST_FAILED) || !strcmp(w.state, DSQL__MIG_ST_RUNNING))
            continue;
        if (r->o->target && dsql__mig_version_cmp(w.version, r->o->target) <= 0)
            continue;
        const dsql_migration *m = NULL;
        for (size_t k = 0; k < n && !m; k++)
            if (!dsql__mig_version_cmp(s[k]->version, w.version))
                m = s[k];
        if (!m)
            rc = dsql_error_set(err, DSQL_EINVAL,
                                "migration %s (%s) is applied, but no definition of it was given: "
                                "cannot revert it",
                                w.version, w.name);
        else if (!m->n_down)
            rc =
                dsql_error_set(err, DSQL_EINVAL,
                               "migration %s (%s) has no down part: it cannot be reverted (nothing "
                               "was reverted)",
                               m->version, m->name);
        else
            todo[nt++] = m;
    }
    PQclear(res);
    if (!rc && nt) {
        qsort(todo, nt, sizeof *todo, dsql__mig_by_version);
        size_t count = r->o->target ? nt : 1;
        for (size_t i = 0; !rc && i < count; i++)
            rc = down_one(r, todo[nt - 1 - i], err);
    }
    free(todo);
    return rc;
}

int dsql_migrate_up(dsql_db *db, const dsql_migration *migrations, size_t n,
                    const dsql_migrate_options *opts, dsql_migrate_report *report, dsql_error *err)
{
    return dsql__api_ret(
        "dsql_migrate_up",
        with_runner(db, "dsql_migrate_up", migrations, n, opts, report, up_run, err), err);
}

static int migrate_down_call(dsql_db *db, const dsql_migration *migrations, size_t n,
                             const dsql_migrate_options *opts, dsql_migrate_report *report,
                             dsql_error *err)
{
    return with_runner(db, "dsql_migrate_down", migrations, n, opts, report, down_run, err);
}

int dsql_migrate_down(dsql_db *db, const dsql_migration *migrations, size_t n,
                      const dsql_migrate_options *opts, dsql_migrate_report *report,
                      dsql_error *err)
{
    return dsql__api_ret("dsql_migrate_down",
                         migrate_down_call(db, migrations, n, opts, report, err), err);
}
