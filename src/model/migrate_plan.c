/*
 * Migrations without a server: checking definitions, their checksums, the text a
 * statement runs as on plain PostgreSQL, and how statements are grouped into transactions
 * (dsql/migrate.h). The runner (migrate.c) follows this plan.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "model/migrate.h"

const char *dsql_migration_state_name(dsql_migration_state state)
{
    switch (state) {
    case DSQL_MIGRATION_PENDING:
        return "pending";
    case DSQL_MIGRATION_APPLIED:
        return "applied";
    case DSQL_MIGRATION_CHANGED:
        return "changed";
    case DSQL_MIGRATION_FAILED:
        return "failed";
    case DSQL_MIGRATION_RUNNING:
        return "running";
    case DSQL_MIGRATION_REVERTING:
        return "reverting";
    case DSQL_MIGRATION_UNKNOWN:
        return "unknown";
    }
    return "unknown";
}

bool dsql__mig_version_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n < 1 || n > DSQL__MIG_VERSION_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)v[i]))
            return false;
    return true;
}

int dsql__mig_version_cmp(const char *a, const char *b)
{
    while (*a == '0' && a[1])
        a++;
    while (*b == '0' && b[1])
        b++;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

dsql_step_kind dsql__mig_kind(const dsql_migration_step *s)
{
    if (s->kind != DSQL_STEP_AUTO)
        return s->kind;
    switch (dsql__sql_kind_of(s->sql)) {
    case DSQL__SQL_DDL:
        return DSQL_STEP_DDL;
    case DSQL__SQL_DML:
        return DSQL_STEP_DML;
    default:
        return DSQL_STEP_OTHER;
    }
}

/* The next word of s at *i (comments and white space skipped): its bounds, or false. */
static bool next_word(const char *s, size_t *i, size_t *start, size_t *end)
{
    size_t p = *i;
    for (;;) {
        while (isspace((unsigned char)s[p]))
            p++;
        if (s[p] == '-' && s[p + 1] == '-')
            p += strcspn(s + p, "\n");
        else if (s[p] == '/' && s[p + 1] == '*') {
            const char *e = strstr(s + p + 2, "*/");
            p = e ? (size_t)(e - s) + 2 : strlen(s);
        } else
            break;
    }
    if (!isalpha((unsigned char)s[p]))
        return false;
    *start = p;
    while (isalnum((unsigned char)s[p]) || s[p] == '_')
        p++;
    *end = p;
    *i = p;
    return true;
}

static bool word_is(const char *s, size_t start, size_t end, const char *w)
{
    return end - start == strlen(w) && !strncasecmp(s + start, w, end - start);
}

char *dsql__mig_sql_pg(const dsql_migration_step *s)
{
    if (s->sql_pg)
        return strdup(s->sql_pg);
    char *out = strdup(s->sql);
    if (!out)
        return NULL;
    /* CREATE [UNIQUE] INDEX ASYNC ... / ALTER TABLE ASYNC ...: DSQL's own word, blanked */
    size_t i = 0, a, b;
    if (!next_word(out, &i, &a, &b))
        return out;
    bool create = word_is(out, a, b, "CREATE"), alter = word_is(out, a, b, "ALTER");
    if (!create && !alter)
        return out;
    if (!next_word(out, &i, &a, &b))
        return out;
    if (create && word_is(out, a, b, "UNIQUE") && !next_word(out, &i, &a, &b))
        return out;
    if (!word_is(out, a, b, create ? "INDEX" : "TABLE"))
        return out;
    if (next_word(out, &i, &a, &b) && word_is(out, a, b, "ASYNC"))
        memset(out + a, ' ', b - a);
    return out;
}

/* Statements that make or end transactions: the runner makes them itself. */
static bool makes_transactions(const char *sql)
{
    static const char *const kws[] = {"BEGIN", "START",     "COMMIT",  "END",    "ROLLBACK",
                                      "ABORT", "SAVEPOINT", "RELEASE", "PREPARE"};
    char kw[12];
    dsql__sql_keyword(sql, kw, sizeof kw);
    for (size_t i = 0; i < DSQL__ARRAY_LEN(kws); i++)
        if (!strcmp(kw, kws[i]))
            return true;
    return false;
}

static int check_part(const dsql_migration *m, const dsql_migration_step *steps, size_t n,
                      const char *part, dsql_error *err)
{
    const char *src = m->source ? m->source : "";
    for (size_t i = 0; i < n; i++) {
        const dsql_migration_step *s = &steps[i];
        char where[256];
        if (s->line)
            snprintf(where, sizeof where, "%s%sline %u", src, *src ? ":" : "", s->line);
        else
            snprintf(where, sizeof where, "%s%s%s part, statement %zu", src, *src ? ": " : "", part,
                     i + 1);
        if (!s->sql || !*s->sql)
            return dsql_error_set(err, DSQL_EINVAL, "migration %s (%s): %s: an empty statement",
                                  m->version, m->name, where);
        if (s->kind > DSQL_STEP_OTHER)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "migration %s (%s): %s: kind %d is not a "
                                  "dsql_step_kind",
                                  m->version, m->name, where, (int)s->kind);
        if (s->flags & ~DSQL_STEP_BACKFILL)
            return dsql_error_set(err, DSQL_EINVAL, "migration %s (%s): %s: unknown flags 0x%x",
                                  m->version, m->name, where, s->flags);
        if (makes_transactions(s->sql))
            return dsql_error_set(err, DSQL_EINVAL,
                                  "migration %s (%s): %s: transaction control (BEGIN, COMMIT, "
                                  "ROLLBACK, SAVEPOINT, ...) in a migration: the runner makes the "
                                  "transactions itself (each DDL statement alone, DML grouped "
                                  "under the row cap); remove it",
                                  m->version, m->name, where);
        if ((s->flags & DSQL_STEP_BACKFILL) && dsql__mig_kind(s) != DSQL_STEP_DML)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "migration %s (%s): %s: a backfill must be a DML statement "
                                  "(UPDATE, DELETE, INSERT ... SELECT) that changes at most "
                                  "3,000 rows a run and none once done",
                                  m->version, m->name, where);
    }
    return DSQL_OK;
}

static int migrations_check_call(const dsql_migration *migrations, size_t n, dsql_error *err)
{
    if (n && !migrations)
        return dsql_error_set(err, DSQL_EINVAL, "migrations: NULL array of %zu", n);
    for (size_t i = 0; i < n; i++) {
        const dsql_migration *m = &migrations[i];
        if (!dsql__mig_version_ok(m->version))
            return dsql_error_set(err, DSQL_EINVAL,
                                  "migration %zu%s%s: version '%s' must be 1 to %d digits (a "
                                  "number, e.g. a UTC time 20260101120000)",
                                  i + 1, m->source ? " in " : "", m->source ? m->source : "",
                                  m->version ? m->version : "(null)", DSQL__MIG_VERSION_MAX);
        if (!m->name || !*m->name || strlen(m->name) > DSQL__MIG_NAME_MAX)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "migration %s: a name of 1 to %d bytes is needed", m->version,
                                  DSQL__MIG_NAME_MAX);
        if (!m->up || !m->n_up)
            return dsql_error_set(err, DSQL_EINVAL, "migration %s (%s): no up statement",
                                  m->version, m->name);
        if (m->n_down && !m->down)
            return dsql_error_set(err, DSQL_EINVAL, "migration %s (%s): down is NULL", m->version,
                                  m->name);
        for (size_t j = 0; j < i; j++)
            if (dsql__mig_version_cmp(migrations[j].version, m->version) == 0)
                return dsql_error_set(
                    err, DSQL_EINVAL, "migrations %s (%s) and %s (%s) have the same version",
                    migrations[j].version, migrations[j].name, m->version, m->name);
        int rc = check_part(m, m->up, m->n_up, "up", err);
        if (!rc)
            rc = check_part(m, m->down, m->n_down, "down", err);
        if (rc)
            return rc;
    }
    return DSQL_OK;
}

int dsql_migrations_check(const dsql_migration *migrations, size_t n, dsql_error *err)
{
    return dsql__api_ret("dsql_migrations_check", migrations_check_call(migrations, n, err), err);
}

/* ---- checksums ---- */

static bool hash_steps(EVP_MD_CTX *ctx, const dsql_migration_step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char head[32];
        int len = snprintf(head, sizeof head, "%d:%u:", (int)steps[i].kind, steps[i].flags);
        /* the statement's length first, so no two lists of statements hash alike */
        char size[24];
        int slen = snprintf(size, sizeof size, "%zu:", strlen(steps[i].sql));
        if (!EVP_DigestUpdate(ctx, head, (size_t)len) ||
            !EVP_DigestUpdate(ctx, size, (size_t)slen) ||
            !EVP_DigestUpdate(ctx, steps[i].sql, strlen(steps[i].sql)))
            return false;
    }
    return true;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static int digest(const dsql_migration_step *a, size_t na, const dsql_migration_step *b, size_t nb,
                  char out[65], dsql_error *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned int dl = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && hash_steps(ctx, a, na) &&
              (!b || (EVP_DigestUpdate(ctx, "\ndown\n", 6) && hash_steps(ctx, b, nb))) &&
              EVP_DigestFinal_ex(ctx, d, &dl) && dl == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return dsql_error_set(err, DSQL_ENOMEM, "computing a migration checksum failed");
    hex(d, 32, out);
    return DSQL_OK;
}

static int migration_checksum_call(const dsql_migration *m, char out[65], dsql_error *err)
{
    if (!m || !out)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_migration_checksum: NULL argument");
    static const dsql_migration_step none[1];
    return digest(m->up, m->n_up, m->down ? m->down : none, m->n_down, out, err);
}

int dsql_migration_checksum(const dsql_migration *m, char out[65], dsql_error *err)
{
    return dsql__api_ret("dsql_migration_checksum", migration_checksum_call(m, out, err), err);
}

int dsql__mig_prefix(const dsql_migration_step *steps, size_t k, char out[65], dsql_error *err)
{
    return digest(steps, k, NULL, 0, out, err);
}

/* ---- the plan ---- */

static int migration_plan_call(const dsql_migration *m, bool down, dsql_migrate_group *groups,
                               size_t cap, size_t *n_groups, dsql_error *err)
{
    if (!m || !n_groups || (cap && !groups))
        return dsql_error_set(err, DSQL_EINVAL, "dsql_migration_plan: NULL argument");
    const dsql_migration_step *steps = down ? m->down : m->up;
    size_t n = down ? m->n_down : m->n_up, g = 0;
    for (size_t i = 0; i < n;) {
        dsql_migrate_group grp = {.first = i, .count = 1, .kind = dsql__mig_kind(&steps[i])};
        grp.backfill = (steps[i].flags & DSQL_STEP_BACKFILL) != 0;
        if (grp.kind == DSQL_STEP_DML && !grp.backfill)
            while (i + grp.count < n && dsql__mig_kind(&steps[i + grp.count]) == DSQL_STEP_DML &&
                   !(steps[i + grp.count].flags & DSQL_STEP_BACKFILL))
                grp.count++;
        if (g >= cap)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "dsql_migration_plan: room for %zu groups, more are needed", cap);
        groups[g++] = grp;
        i += grp.count;
    }
    *n_groups = g;
    return DSQL_OK;
}

int dsql_migration_plan(const dsql_migration *m, bool down, dsql_migrate_group *groups, size_t cap,
                        size_t *n_groups, dsql_error *err)
{
    return dsql__api_ret("dsql_migration_plan",
                         migration_plan_call(m, down, groups, cap, n_groups, err), err);
}
