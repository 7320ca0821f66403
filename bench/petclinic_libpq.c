/*
 * petclinic-N in hand-written libpq: the floor the other implementations are measured
 * against. What a careful C programmer would write: a tiny pool (max 5, min 0, idle
 * 10 s; the workload is sequential, so one connection does the work), named prepared
 * statements (PQprepare once per connection, then PQexecPrepared), client-side UUIDv4
 * (libuuid), text results copied straight out of the PGresult. One statement per round
 * trip, except the vet's transaction (BEGIN, INSERT, DELETE, INSERT, COMMIT) and the
 * page with its total (BEGIN, count, page, COMMIT), which go out in pipeline mode as one
 * round trip each. The counter counts what goes over the wire:
 * each PQexec/PQprepare/PQexecPrepared, and each pipeline, is one round trip.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <uuid/uuid.h>

#include "petclinic.h"

#define POOL_MAX     5
#define POOL_IDLE_MS 10000

enum {
    ST_INS_OWNER,
    ST_INS_PET,
    ST_INS_VET,
    ST_DEL_LINKS,
    ST_PET_BY_NAME,
    ST_OWNER_BY_ID,
    ST_VET_WITH_SPECIALTIES,
    ST_SPECIALTY_BY_PK,
    ST_OWNER_WITH_PETS,
    ST_PET_WITH_OWNER,
    ST_ROOM_INCREMENT,
    ST_UPSERT_OWNER,
    ST_COUNT_OWNERS_IN_CITY,
    ST_OWNERS_IN_CITY_PAGE,
    ST_INS_LINKS, /* ST_INS_LINKS + k - 1 inserts k links in one statement */
    N_STMTS = ST_INS_LINKS + PC_MAX_LINKS
};

static const char *const fixed_sql[ST_INS_LINKS] = {
    [ST_INS_OWNER] = "INSERT INTO owner (id, name, city, telephone) VALUES ($1, $2, $3, $4)",
    [ST_INS_PET] = "INSERT INTO pet (id, name, \"birthDate\", \"ownerId\") VALUES ($1, $2, $3, $4)",
    [ST_INS_VET] = "INSERT INTO vet (id, name) VALUES ($1, $2)",
    [ST_DEL_LINKS] = "DELETE FROM \"vetSpecialties\" WHERE \"vetId\" = $1",
    [ST_PET_BY_NAME] =
        "SELECT id, name, \"birthDate\", \"ownerId\" FROM pet WHERE name = $1 LIMIT 1",
    [ST_OWNER_BY_ID] = "SELECT id, name, city, telephone FROM owner WHERE id = $1 LIMIT 1",
    [ST_VET_WITH_SPECIALTIES] =
        "SELECT v.id, v.name, s.name FROM (SELECT id, name FROM vet WHERE name = $1 LIMIT 1) v "
        "LEFT JOIN (\"vetSpecialties\" vs JOIN specialty s ON s.name = vs.\"specialtyId\") "
        "ON vs.\"vetId\" = v.id ORDER BY s.name",
    [ST_SPECIALTY_BY_PK] = "SELECT name FROM specialty WHERE name = $1",
    [ST_OWNER_WITH_PETS] =
        "SELECT o.id, o.name, o.city, o.telephone, p.id, p.name, p.\"birthDate\", p.\"ownerId\" "
        "FROM (SELECT id, name, city, telephone FROM owner WHERE name = $1 LIMIT 1) o "
        "LEFT JOIN pet p ON p.\"ownerId\" = o.id",
    [ST_PET_WITH_OWNER] =
        "SELECT p.id, p.name, p.\"birthDate\", p.\"ownerId\", o.id, o.name, o.city, o.telephone "
        "FROM (SELECT id, name, \"birthDate\", \"ownerId\" FROM pet WHERE name = $1 LIMIT 1) p "
        "LEFT JOIN owner o ON o.id = p.\"ownerId\"",
    [ST_ROOM_INCREMENT] =
        "UPDATE \"roomVisits\" SET visits = visits + $1 WHERE room = $2 RETURNING visits",
    [ST_UPSERT_OWNER] = "INSERT INTO owner (id, name, city, telephone) VALUES ($1, $2, $3, $4) "
                        "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "
                        "city = EXCLUDED.city, telephone = EXCLUDED.telephone "
                        "RETURNING id, name, city, telephone",
    [ST_COUNT_OWNERS_IN_CITY] = "SELECT count(*) FROM owner WHERE city = $1",
    [ST_OWNERS_IN_CITY_PAGE] = "SELECT id, name, city, telephone FROM owner "
                               "WHERE city = $1 "
                               "ORDER BY name LIMIT $2 OFFSET $3",
};

typedef struct conn {
    PGconn *pg;
    bool prepared[N_STMTS];
    int64_t idle_since_ms;
} conn;

typedef struct bench {
    conn *idle[POOL_MAX]; /* LIFO: the most recently used connection is reused first */
    size_t n_idle;
    size_t n_open;
    char *sql[N_STMTS]; /* statement text, fixed_sql plus the generated link inserts */
    long long round_trips;
} bench;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq messages end in a newline; keep them on one line. */
static void set_err(char *err, const char *what, const char *msg)
{
    snprintf(err, PC_ERR_SIZE, "%.80s: %.400s", what, msg);
    for (char *p = err; *p; p++)
        if (*p == '\n')
            *p = (p[1] ? ' ' : '\0');
}

static void set_result_err(char *err, const char *what, const PGresult *res, PGconn *pg)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char msg[PC_ERR_SIZE];
    snprintf(msg, sizeof(msg), "%s%s%s", res ? PQresultErrorMessage(res) : PQerrorMessage(pg),
             state ? " SQLSTATE " : "", state ? state : "");
    set_err(err, what, msg);
}

/* DROP TABLE IF EXISTS notices are expected; the output stays the result lines. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void new_uuid(char out[PC_UUID_SIZE])
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

/* ---- the pool ---- */

static void conn_close(bench *b, conn *c)
{
    PQfinish(c->pg);
    free(c);
    b->n_open--;
}

static conn *pool_acquire(bench *b, char *err)
{
    int64_t now = mono_ms();
    /* min 0: connections idle for longer than the idle timeout are closed. */
    for (size_t i = 0; i < b->n_idle;) {
        if (now - b->idle[i]->idle_since_ms > POOL_IDLE_MS) {
            conn_close(b, b->idle[i]);
            b->idle[i] = b->idle[--b->n_idle];
        } else {
            i++;
        }
    }
    if (b->n_idle > 0)
        return b->idle[--b->n_idle];
    if (b->n_open == POOL_MAX) {
        /* The workload is sequential: every connection is back before the next acquire. */
        set_err(err, "pool", "all 5 connections are in use");
        return NULL;
    }
    conn *c = calloc(1, sizeof(*c));
    if (!c) {
        set_err(err, "pool", "out of memory");
        return NULL;
    }
    c->pg = PQconnectdb(""); /* the PG* environment */
    if (PQstatus(c->pg) != CONNECTION_OK) {
        set_err(err, "connect", PQerrorMessage(c->pg));
        PQfinish(c->pg);
        free(c);
        return NULL;
    }
    PQsetNoticeProcessor(c->pg, ignore_notice, NULL);
    b->n_open++;
    return c;
}

/* A connection whose session is broken is closed rather than reused. */
static void pool_release(bench *b, conn *c)
{
    if (PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        conn_close(b, c);
        return;
    }
    c->idle_since_ms = mono_ms();
    b->idle[b->n_idle++] = c;
}

/* ---- statements ---- */

static void st_name(int st, char name[16])
{
    snprintf(name, 16, "s%d", st);
}

/* Prepares statement `st` on this connection the first time it is used there. */
static bool prepare(bench *b, conn *c, int st, int nparams, char *err)
{
    if (c->prepared[st])
        return true;
    char name[16];
    st_name(st, name);
    b->round_trips++;
    PGresult *res = PQprepare(c->pg, name, b->sql[st], nparams, NULL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        set_result_err(err, "prepare", res, c->pg);
    PQclear(res);
    c->prepared[st] = ok;
    return ok;
}

/* Runs prepared statement `st`. Returns the result (PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK) or NULL with err set. */
static PGresult *exec_st(bench *b, conn *c, int st, int nparams, const char *const *params,
                         char *err)
{
    char name[16];
    if (!prepare(b, c, st, nparams, err))
        return NULL;
    st_name(st, name);
    b->round_trips++;
    PGresult *res = PQexecPrepared(c->pg, name, nparams, params, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        set_result_err(err, "execute", res, c->pg);
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Runs a statement that returns no rows and must affect `want` rows (-1: any). */
static int exec_cmd(bench *b, conn *c, int st, int nparams, const char *const *params, long want,
                    char *err)
{
    PGresult *res = exec_st(b, c, st, nparams, params, err);
    if (!res)
        return PC_ERROR;
    long got = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    if (want >= 0 && got != want) {
        snprintf(err, PC_ERR_SIZE, "expected %ld rows affected, got %ld", want, got);
        return PC_ERROR;
    }
    return PC_OK;
}

static int exec_simple(bench *b, conn *c, const char *sql, char *err)
{
    b->round_trips++;
    PGresult *res = PQexec(c->pg, sql);
    int rc = PC_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        set_result_err(err, sql, res, c->pg);
        rc = PC_ERROR;
    }
    PQclear(res);
    return rc;
}

/* Copies column `col` of row `row`; NULL gives "" and *is_null (when given) = true. */
static bool get(const PGresult *res, int row, int col, char *dst, size_t n, bool *not_null,
                char *err)
{
    bool null = PQgetisnull(res, row, col);
    if (not_null)
        *not_null = !null;
    if (!pc_copy(dst, n, null ? "" : PQgetvalue(res, row, col))) {
        snprintf(err, PC_ERR_SIZE, "column %s: value longer than %zu bytes", PQfname(res, col),
                 n - 1);
        return false;
    }
    return true;
}

/* ---- the implementation ---- */

static void bench_close(void *ctx)
{
    bench *b = ctx;
    if (!b)
        return;
    while (b->n_idle > 0)
        conn_close(b, b->idle[--b->n_idle]);
    for (int i = 0; i < N_STMTS; i++)
        free(b->sql[i]);
    free(b);
}

static void *bench_open(char *err)
{
    bench *b = calloc(1, sizeof(*b));
    if (!b)
        goto oom;
    for (int i = 0; i < ST_INS_LINKS; i++)
        if (!(b->sql[i] = strdup(fixed_sql[i])))
            goto oom;
    /* INSERT ... VALUES ($1, $2, $3), ($4, $2, $5), ...: $2 is the vet id. */
    for (int k = 1; k <= PC_MAX_LINKS; k++) {
        char sql[1024];
        size_t len = (size_t)snprintf(
            sql, sizeof(sql),
            "INSERT INTO \"vetSpecialties\" (id, \"vetId\", \"specialtyId\") VALUES ");
        for (int j = 0; j < k; j++)
            len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s($%d, $2, $%d)", j ? ", " : "",
                                    j == 0 ? 1 : 2 * j + 2, j == 0 ? 3 : 2 * j + 3);
        if (!(b->sql[ST_INS_LINKS + k - 1] = strdup(sql)))
            goto oom;
    }
    return b;
oom:
    bench_close(b);
    set_err(err, "open", "out of memory");
    return NULL;
}

static long long bench_round_trips(void *ctx)
{
    return ((bench *)ctx)->round_trips;
}

static int reset_schema(void *ctx, char *err)
{
    bench *b = ctx;
    conn *c = pool_acquire(b, err);
    if (!c)
        return PC_ERROR;
    int rc = PC_OK;
    for (size_t i = 0; pc_schema_sql[i] && rc == PC_OK; i++)
        rc = exec_simple(b, c, pc_schema_sql[i], err);
    if (rc == PC_OK)
        rc = exec_simple(b, c, pc_seed_sql, err);
    pool_release(b, c);
    return rc;
}

static int owner_create(void *ctx, pc_owner *o, char *err)
{
    bench *b = ctx;
    conn *c = pool_acquire(b, err);
    if (!c)
        return PC_ERROR;
    new_uuid(o->id);
    const char *params[4] = {o->id, o->name, o->city, o->has_telephone ? o->telephone : NULL};
    int rc = exec_cmd(b, c, ST_INS_OWNER, 4, params, 1, err);
    pool_release(b, c);
    return rc;
}

static int pet_create(void *ctx, pc_pet *p, char *err)
{
    bench *b = ctx;
    conn *c = pool_acquire(b, err);
    if (!c)
        return PC_ERROR;
    new_uuid(p->id);
    const char *params[4] = {p->id, p->name, p->birth_date, p->has_owner ? p->owner_id : NULL};
    int rc = exec_cmd(b, c, ST_INS_PET, 4, params, 1, err);
    pool_release(b, c);
    return rc;
}

/* One INSERT with a VALUES row per name, sent unprepared (it runs once). */
static int specialty_bulk_create(void *ctx, const char *const *names, size_t n, char *err)
{
    bench *b = ctx;
    if (n == 0)
        return PC_OK;
    size_t cap = 64 + n * 16;
    char *sql = malloc(cap);
    if (!sql) {
        set_err(err, "specialty.bulkCreate", "out of memory");
        return PC_ERROR;
    }
    size_t len = (size_t)snprintf(sql, cap, "INSERT INTO specialty (name) VALUES ");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(sql + len, cap - len, "%s($%zu)", i ? ", " : "", i + 1);
    conn *c = pool_acquire(b, err);
    if (!c) {
        free(sql);
        return PC_ERROR;
    }
    b->round_trips++;
    PGresult *res = PQexecParams(c->pg, sql, (int)n, NULL, names, NULL, NULL, 0);
    int rc = PC_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        set_result_err(err, "specialty.bulkCreate", res, c->pg);
        rc = PC_ERROR;
    } else if (strtoul(PQcmdTuples(res), NULL, 10) != n) {
        snprintf(err, PC_ERR_SIZE, "specialty.bulkCreate: expected %zu rows, got %s", n,
                 PQcmdTuples(res));
        rc = PC_ERROR;
    }
    PQclear(res);
    pool_release(b, c);
    free(sql);
    return rc;
}

/* Reads the result of one pipelined statement: want PGRES_COMMAND_OK and, when want_rows
 * >= 0, that many rows affected. The first failure is kept in err. */
static int pipeline_result(conn *c, const char *what, long want_rows, int rc, char *err)
{
    PGresult *res = PQgetResult(c->pg);
    if (rc == PC_OK) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            set_result_err(err, what, res, c->pg);
            rc = PC_ERROR;
        } else if (want_rows >= 0 && strtol(PQcmdTuples(res), NULL, 10) != want_rows) {
            snprintf(err, PC_ERR_SIZE, "%s: expected %ld rows affected, got %s", what, want_rows,
                     PQcmdTuples(res));
            rc = PC_ERROR;
        }
    }
    PQclear(res);
    PQclear(PQgetResult(c->pg)); /* the NULL that ends each statement's results */
    return rc;
}

/*
 * BEGIN; INSERT vet; DELETE its old links; INSERT the new links (one statement); COMMIT —
 * sent together in libpq's pipeline mode, so the transaction costs one round trip. After
 * a failure the server skips the rest up to the sync; a transaction left open is rolled
 * back.
 */
static int vet_create_set(void *ctx, pc_vet *v, char *err)
{
    bench *b = ctx;
    size_t k = v->n_specialties;
    if (k == 0 || k > PC_MAX_LINKS) {
        snprintf(err, PC_ERR_SIZE, "vet.create+set: 1 to %d specialties, not %zu", PC_MAX_LINKS, k);
        return PC_ERROR;
    }
    int links = ST_INS_LINKS + (int)k - 1;
    conn *c = pool_acquire(b, err);
    if (!c)
        return PC_ERROR;
    if (!prepare(b, c, ST_INS_VET, 2, err) || !prepare(b, c, ST_DEL_LINKS, 1, err) ||
        !prepare(b, c, links, (int)(2 * k + 1), err)) {
        pool_release(b, c);
        return PC_ERROR;
    }
    new_uuid(v->id);
    char link_ids[PC_MAX_LINKS][PC_UUID_SIZE];
    const char *vet_params[2] = {v->id, v->name};
    const char *link_params[2 * PC_MAX_LINKS + 1];
    link_params[1] = v->id;
    for (size_t j = 0; j < k; j++) {
        new_uuid(link_ids[j]);
        /* $1 id0, $2 vet, $3 spec0, then pairs (id, spec) from $4 on. */
        link_params[j == 0 ? 0 : 2 * j + 1] = link_ids[j];
        link_params[j == 0 ? 2 : 2 * j + 2] = v->specialties[j];
    }
    char vet_st[16], del_st[16], links_st[16];
    st_name(ST_INS_VET, vet_st);
    st_name(ST_DEL_LINKS, del_st);
    st_name(links, links_st);

    int rc = PC_OK;
    b->round_trips++;
    if (!PQenterPipelineMode(c->pg) ||
        !PQsendQueryParams(c->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQsendQueryPrepared(c->pg, vet_st, 2, vet_params, NULL, NULL, 0) ||
        !PQsendQueryPrepared(c->pg, del_st, 1, vet_params, NULL, NULL, 0) ||
        !PQsendQueryPrepared(c->pg, links_st, (int)(2 * k + 1), link_params, NULL, NULL, 0) ||
        !PQsendQueryParams(c->pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQpipelineSync(c->pg)) {
        set_err(err, "vet.create+set: send", PQerrorMessage(c->pg));
        conn_close(b, c); /* its state is unknown: drop it */
        return PC_ERROR;
    }
    rc = pipeline_result(c, "BEGIN", -1, rc, err);
    rc = pipeline_result(c, "INSERT vet", 1, rc, err);
    rc = pipeline_result(c, "DELETE old links", -1, rc, err);
    rc = pipeline_result(c, "INSERT links", (long)k, rc, err);
    rc = pipeline_result(c, "COMMIT", -1, rc, err);
    PGresult *sync = PQgetResult(c->pg);
    if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC && rc == PC_OK) {
        set_result_err(err, "vet.create+set: pipeline sync", sync, c->pg);
        rc = PC_ERROR;
    }
    PQclear(sync);
    PQexitPipelineMode(c->pg);
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        char ignored[PC_ERR_SIZE];
        exec_simple(b, c, "ROLLBACK", ignored);
    }
    pool_release(b, c);
    return rc;
}

static int pet_find_by_name(void *ctx, const char *name, pc_pet *out, char *err)
{
    bench *b = ctx;
    conn *c = pool_acquire(b, err);
    if (!c)
        return PC_ERROR;
    PGresult *res = exec_st(b, c, ST_PET_BY_NAME, 1, &name, err);
    pool_release(b, c);
    if (!res)
        return PC_ERROR;
    int rc = PC_NOTFOUND;
    if (PQntuples(res) > 0) {
        rc = get(res, 0, 0, out->id, sizeof(out->id), NULL, err) &&
                     get(res, 0, 1, out->name, sizeof(out->name), NULL, err) &&
                     get(res, 0, 2, out->birth_date, sizeof(out->birth_date), NULL, err) &&
                     get(res, 0, 3, out->owner_id, sizeof(out->owner_id), &out->has_owner, err)
                 ? PC_OK
                 : PC_ERROR;
    }
    PQclear(res);
    return rc;
}

/* Columns first..first+3 of a row: id, name, city, telephone. */
static bool get_owner(const PGresult *res, int row, int first, pc_owner *o, char *err)
{
    return get(res, row, first, o->id, sizeof(o->id), NULL, err) &&
           get(res, row, first + 1, o->name, sizeof(o->name), NULL, err) &&
           get(res, row, first + 2, o->city, sizeof(o->city), NULL, err) &&
           get(res, row, first + 3, o->telephone, sizeof(o->telephone), &o->has_telephone, err);
}

static int owner_find_by_id(void *ctx, const char *id, pc_owner *out, char *err)
{
    bench *b = ctx;
    conn *c = pool_acquire(b, err);
    if (!c)
        return PC_ERROR;
    PGresult *res = exec_st(b, c, ST_OWNER_BY_ID, 1, &id, err);
    pool_release(b, c);
    if (!res)
        return PC_ERROR;
    int rc = PC_NOTFOUND;
    if (PQntuples(res) > 0)
        rc = get_owner(res, 0, 0, out, err) ? PC_OK : PC_ERROR;
    PQclear(res);
    return rc;
}

/* The pet and its owner in one statement (a join): one round trip. */
static int pet_find_with_owner(void *ctx, const char *name, pc_pet *pout, pc_owner *oout, char *err)
{
    bench *b = ctx;
    conn *c = pool_acquire(b, err);
    if (!c)
        return PC_ERROR;
    PGresult *res = exec_st(b, c, ST_PET_WITH_OWNER, 1, &name, err);
    pool_release(b, c);
    if (!res)
        return PC_ERROR;
    int rc = PC_NOTFOUND;
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 4))
        rc =
            get(res, 0, 0, pout->id, sizeof(pout->id), NULL, err) &&
                    get(res, 0, 1, pout->name, sizeof(pout->name), NULL, err) &&
                    get(res, 0, 2, pout->birth_date, sizeof(pout->birth_date), NULL, err) &&
                    get(res, 0, 3, pout->owner_id, sizeof(pout->owner_id), &pout->has_owner, err) &&
                    get_owner(res, 0, 4, oout, err)
                ? PC_OK
                : PC_ERROR;
    PQclear(res);
    return rc;
}

static int vet_find_with_specialties(void *ctx, const char *name, pc_vet *out, char *err)
{
    bench *b = ctx;
    conn *c = pool_acquire(b, err);
    if (!c)
        return PC_ERROR;
    PGresult *res = exec_st(b, c, ST_VET_WITH_SPECIALTIES, 1, &name, err);
    pool_release(b, c);
    if (!res)
        return PC_ERROR;
    int rows = PQntuples(res), rc = rows > 0 ? PC_OK : PC_NOTFOUND;
    if (rc == PC_OK && (!get(res, 0, 0, out->id, sizeof(out->id), NULL, err) ||
                        !get(res, 0, 1, out->name, sizeof(out->name), NULL, err)))
        rc = PC_ERROR;
    out->n_specialties = 0;
    for (int r = 0; rc == PC_OK && r < rows; r++) {
        if (PQgetisnull(res, r, 2))
            continue; /* the vet has no specialty: one row of NULLs from the LEFT JOIN */
        if (out->n_specialties == PC_MAX_LINKS) {
            snprintf(err, PC_ERR_SIZE, "more than %d specialties", PC_MAX_LINKS);
            rc = PC_ERROR;
            break;
        }
        if (!get(res, r, 2, out->specialties[out->n_specialties++], PC_SPECIALTY_SIZE, NULL, err))
            rc = PC_ERROR;
    }
    PQclear(res);
    return rc;
}

static int specialty_find_by_pk(void *ctx, const char *name, char *out, char *err)
{
    bench *b = ctx;
    conn *c = pool_acquire(b, err);
    if (!c)
        return PC_ERROR;
    PGresult *res = exec_st(b, c, ST_SPECIALTY_BY_PK, 1, &name, err);
    pool_release(b, c);
    if (!res)
        return PC_ERROR;
    int rc = PC_NOTFOUND;
    if (PQntuples(res) > 0)
        rc = get(res, 0, 0, out, PC_SPECIALTY_SIZE, NULL, err) ? PC_OK : PC_ERROR;
    PQclear(res);
    return rc;
}

static int owner_find_with_pets(void *ctx, const char *name, pc_owner_pets *out, char *err)
{
    bench *b = ctx;
    conn *c = pool_acquire(b, err);
    if (!c)
        return PC_ERROR;
    PGresult *res = exec_st(b, c, ST_OWNER_WITH_PETS, 1, &name, err);
    pool_release(b, c);
    if (!res)
        return PC_ERROR;
    int rows = PQntuples(res), rc = rows > 0 ? PC_OK : PC_NOTFOUND;
    if (rc == PC_OK && !get_owner(res, 0, 0, &out->owner, err))
        rc = PC_ERROR;
    out->n_pets = 0;
    for (int r = 0; rc == PC_OK && r < rows; r++) {
        if (PQgetisnull(res, r, 4))
            continue; /* an owner without pets */
        if (out->n_pets == PC_MAX_PETS) {
            snprintf(err, PC_ERR_SIZE, "more than %d pets", PC_MAX_PETS);
            rc = PC_ERROR;
            break;
        }
        pc_pet *p = &out->pets[out->n_pets++];
        if (!get(res, r, 4, p->id, sizeof(p->id), NULL, err) ||
            !get(res, r, 5, p->name, sizeof(p->name), NULL, err) ||
            !get(res, r, 6, p->birth_date, sizeof(p->birth_date), NULL, err) ||
            !get(res, r, 7, p->owner_id, sizeof(p->owner_id), &p->has_owner, err))
            rc = PC_ERROR;
    }
    PQclear(res);
    return rc;
}

/* One UPDATE ... RETURNING: the server adds to the row's value, the new value comes back. */
static int room_increment(void *ctx, int room, int by, long long *visits, char *err)
{
    bench *b = ctx;
    conn *c = pool_acquire(b, err);
    if (!c)
        return PC_ERROR;
    char by_s[16], room_s[16];
    snprintf(by_s, sizeof(by_s), "%d", by);
    snprintf(room_s, sizeof(room_s), "%d", room);
    const char *params[2] = {by_s, room_s};
    PGresult *res = exec_st(b, c, ST_ROOM_INCREMENT, 2, params, err);
    pool_release(b, c);
    if (!res)
        return PC_ERROR;
    int rc = PC_NOTFOUND;
    if (PQntuples(res) > 0) {
        char *end;
        *visits = strtoll(PQgetvalue(res, 0, 0), &end, 10);
        rc = PC_OK;
        if (*end || end == PQgetvalue(res, 0, 0)) {
            snprintf(err, PC_ERR_SIZE, "visits: not a number: %.40s", PQgetvalue(res, 0, 0));
            rc = PC_ERROR;
        }
    }
    PQclear(res);
    return rc;
}

/* One INSERT ... ON CONFLICT (id) DO UPDATE ... RETURNING. */
static int owner_upsert(void *ctx, pc_owner *o, char *err)
{
    bench *b = ctx;
    conn *c = pool_acquire(b, err);
    if (!c)
        return PC_ERROR;
    if (!o->id[0])
        new_uuid(o->id);
    const char *params[4] = {o->id, o->name, o->city, o->has_telephone ? o->telephone : NULL};
    PGresult *res = exec_st(b, c, ST_UPSERT_OWNER, 4, params, err);
    pool_release(b, c);
    if (!res)
        return PC_ERROR;
    int rc = PC_ERROR;
    if (PQntuples(res) != 1)
        snprintf(err, PC_ERR_SIZE, "owner.upsert: expected 1 row back, got %d", PQntuples(res));
    else
        rc = get_owner(res, 0, 0, o, err) ? PC_OK : PC_ERROR;
    PQclear(res);
    return rc;
}

/* Reads the result of one pipelined statement that returns rows: the PGresult (to
 * PQclear), or NULL with the first failure kept in err. */
static PGresult *pipeline_rows(conn *c, const char *what, int *rc, char *err)
{
    PGresult *res = PQgetResult(c->pg);
    PQclear(PQgetResult(c->pg)); /* the NULL that ends the statement's results */
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    if (*rc == PC_OK) {
        set_result_err(err, what, res, c->pg);
        *rc = PC_ERROR;
    }
    PQclear(res);
    return NULL;
}

/*
 * The page and its total in one round trip and one snapshot: BEGIN ISOLATION LEVEL
 * REPEATABLE READ; SELECT count(*); SELECT the page; COMMIT, in pipeline mode. (A window
 * count, count(*) OVER () on the page's rows, is one statement too, but gives no total
 * for a page past the end and makes the server count before it can stop at the limit.)
 */
static int owner_find_and_count(void *ctx, const char *city, int limit, int offset, pc_owner *page,
                                size_t *n, long long *total, char *err)
{
    bench *b = ctx;
    *n = 0;
    if (limit < 0 || limit > PC_PAGE_SIZE) {
        snprintf(err, PC_ERR_SIZE, "owner.findAndCountAll: limit %d past %d", limit, PC_PAGE_SIZE);
        return PC_ERROR;
    }
    conn *c = pool_acquire(b, err);
    if (!c)
        return PC_ERROR;
    if (!prepare(b, c, ST_COUNT_OWNERS_IN_CITY, 1, err) ||
        !prepare(b, c, ST_OWNERS_IN_CITY_PAGE, 3, err)) {
        pool_release(b, c);
        return PC_ERROR;
    }
    char limit_s[16], offset_s[16], count_st[16], page_st[16];
    snprintf(limit_s, sizeof(limit_s), "%d", limit);
    snprintf(offset_s, sizeof(offset_s), "%d", offset);
    st_name(ST_COUNT_OWNERS_IN_CITY, count_st);
    st_name(ST_OWNERS_IN_CITY_PAGE, page_st);
    const char *params[3] = {city, limit_s, offset_s};

    b->round_trips++;
    if (!PQenterPipelineMode(c->pg) ||
        !PQsendQueryParams(c->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL, NULL, NULL,
                           NULL, 0) ||
        !PQsendQueryPrepared(c->pg, count_st, 1, params, NULL, NULL, 0) ||
        !PQsendQueryPrepared(c->pg, page_st, 3, params, NULL, NULL, 0) ||
        !PQsendQueryParams(c->pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQpipelineSync(c->pg)) {
        set_err(err, "owner.findAndCountAll: send", PQerrorMessage(c->pg));
        conn_close(b, c); /* its state is unknown: drop it */
        return PC_ERROR;
    }
    int rc = pipeline_result(c, "BEGIN", -1, PC_OK, err);
    PGresult *count = pipeline_rows(c, "count", &rc, err);
    PGresult *rows = pipeline_rows(c, "page", &rc, err);
    rc = pipeline_result(c, "COMMIT", -1, rc, err);
    PGresult *sync = PQgetResult(c->pg);
    if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC && rc == PC_OK) {
        set_result_err(err, "owner.findAndCountAll: pipeline sync", sync, c->pg);
        rc = PC_ERROR;
    }
    PQclear(sync);
    PQexitPipelineMode(c->pg);
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        char ignored[PC_ERR_SIZE];
        exec_simple(b, c, "ROLLBACK", ignored);
    }
    pool_release(b, c);
    if (rc == PC_OK) {
        char *end;
        const char *t = PQntuples(count) == 1 ? PQgetvalue(count, 0, 0) : "";
        *total = strtoll(t, &end, 10);
        if (*end || end == t) {
            snprintf(err, PC_ERR_SIZE, "owner.findAndCountAll: no count");
            rc = PC_ERROR;
        }
    }
    if (rc == PC_OK && PQntuples(rows) > limit) {
        snprintf(err, PC_ERR_SIZE, "owner.findAndCountAll: %d rows for a limit of %d",
                 PQntuples(rows), limit);
        rc = PC_ERROR;
    }
    for (int r = 0; rc == PC_OK && r < PQntuples(rows); r++)
        if (!get_owner(rows, r, 0, &page[r], err))
            rc = PC_ERROR;
    if (rc == PC_OK)
        *n = (size_t)PQntuples(rows);
    PQclear(count);
    PQclear(rows);
    return rc;
}

static const pc_impl libpq_impl = {
    .name = "libpq",
    .open = bench_open,
    .reset_schema = reset_schema,
    .owner_create = owner_create,
    .pet_create = pet_create,
    .specialty_bulk_create = specialty_bulk_create,
    .vet_create_set = vet_create_set,
    .pet_find_by_name = pet_find_by_name,
    .owner_find_by_id = owner_find_by_id,
    .pet_find_with_owner = pet_find_with_owner,
    .vet_find_with_specialties = vet_find_with_specialties,
    .specialty_find_by_pk = specialty_find_by_pk,
    .owner_find_with_pets = owner_find_with_pets,
    .room_increment = room_increment,
    .owner_upsert = owner_upsert,
    .owner_find_and_count = owner_find_and_count,
    .round_trips = bench_round_trips,
    .close = bench_close,
};

int main(int argc, char **argv)
{
    return pc_run(&libpq_impl, argc, argv);
}
