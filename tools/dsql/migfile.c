/* Migration files (migfile.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "cli.h"
#include "lint.h"
#include "migfile.h"
#include "rules/rules.h"

#define MARK_UP       "-- migrate:up"
#define MARK_DOWN     "-- migrate:down"
#define MARK_BACKFILL "-- dsql:backfill"

/* A comment token is the marker when its text, trailing blanks aside, is exactly it. */
static bool comment_is(const char *text, size_t start, size_t end, const char *mark)
{
    while (end > start && isspace((unsigned char)text[end - 1]))
        end--;
    return end - start == strlen(mark) && !memcmp(text + start, mark, end - start);
}

static unsigned line_of(const char *text, size_t off)
{
    unsigned line = 1;
    for (size_t i = 0; i < off; i++)
        line += text[i] == '\n';
    return line;
}

/* Comments of the file, by PostgreSQL's scanner: [start, end) of each, up to max. */
typedef struct span {
    size_t start, end;
} span;

static size_t comments(const char *text, span *out, size_t max)
{
    PgQueryScanResult res = pg_query_scan(text);
    size_t n = 0;
    if (!res.error) {
        PgQuery__ScanResult *sr =
            pg_query__scan_result__unpack(NULL, res.pbuf.len, (const uint8_t *)res.pbuf.data);
        for (size_t i = 0; sr && i < sr->n_tokens && n < max; i++) {
            const PgQuery__ScanToken *t = sr->tokens[i];
            if (t->token == PG_QUERY__TOKEN__SQL_COMMENT || t->token == PG_QUERY__TOKEN__C_COMMENT)
                out[n++] = (span){(size_t)t->start, (size_t)t->end};
        }
        if (sr)
            pg_query__scan_result__free_unpacked(sr, NULL);
    }
    pg_query_free_scan_result(res);
    return n;
}

/* Splits the file into its parts; false with the error printed. */
static bool find_parts(cli_migfile *f)
{
    enum { MAX_COMMENTS = 100000 };
    span *c = malloc(MAX_COMMENTS * sizeof *c);
    if (!c) {
        cli_error("migrate", "out of memory");
        return false;
    }
    size_t n = comments(f->text, c, MAX_COMMENTS);
    size_t up = (size_t)-1, down = (size_t)-1;
    size_t up_end = 0, down_end = 0;
    for (size_t i = 0; i < n; i++) {
        bool is_up = comment_is(f->text, c[i].start, c[i].end, MARK_UP);
        bool is_down = comment_is(f->text, c[i].start, c[i].end, MARK_DOWN);
        if ((is_up && up != (size_t)-1) || (is_down && down != (size_t)-1)) {
            cli_error("migrate", "%s:%u: '%s' a second time", f->path, line_of(f->text, c[i].start),
                      is_up ? MARK_UP : MARK_DOWN);
            free(c);
            return false;
        }
        if (is_up) {
            up = c[i].start;
            up_end = c[i].end;
        }
        if (is_down) {
            down = c[i].start;
            down_end = c[i].end;
        }
    }
    free(c);
    if (up != (size_t)-1 && down != (size_t)-1 && down < up) {
        cli_error("migrate", "%s: '%s' must come before '%s'", f->path, MARK_UP, MARK_DOWN);
        return false;
    }
    f->has_down = down != (size_t)-1;
    /* without "-- migrate:up" the up part starts at the top of the file */
    f->up_start = up == (size_t)-1 ? 0 : up_end;
    f->up_end = f->has_down ? down : f->len;
    f->down_start = f->has_down ? down_end : f->len;
    f->down_end = f->len;
    f->up_line = line_of(f->text, f->up_start);
    f->down_line = line_of(f->text, f->down_start);
    return true;
}

/* The statements of text[start, end) as steps (texts copied into *owned). */
static bool make_steps(cli_migfile *f, size_t start, size_t end, dsql_migration_step **out,
                       size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    const char *part = f->text + start;
    size_t len = end - start;
    dsql_rules_result *r = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    if (dsql_rules_analyze(part, len, &r, &err)) {
        cli_error("migrate", "%s: %s", f->path, cli_err_text(err.message));
        return false;
    }
    size_t n = dsql_rules_count(r);
    dsql_migration_step *steps = calloc(n ? n : 1, sizeof *steps);
    span *c = NULL;
    size_t nc = 0;
    char *copy = NULL;
    if (steps && (copy = strndup(part, len))) {
        c = malloc(4096 * sizeof *c);
        if (c)
            nc = comments(copy, c, 4096);
    }
    free(copy);
    bool ok = steps && c;
    size_t prev_end = 0;
    for (size_t i = 0; ok && i < n; i++) {
        const dsql_rules_stmt *s = dsql_rules_stmt_at(r, i);
        dsql_migration_step *st = &steps[i];
        st->sql = strndup(part + s->offset, s->length);
        st->sql_pg = s->rewritten ? strdup(s->forward) : NULL;
        ok = st->sql && (!s->rewritten || st->sql_pg);
        st->kind = s->kind == DSQL_RULES_DDL   ? DSQL_STEP_DDL
                   : s->kind == DSQL_RULES_DML ? DSQL_STEP_DML
                                               : DSQL_STEP_OTHER;
        st->line = s->line + line_of(f->text, start) - 1;
        for (size_t k = 0; k < nc; k++)
            if (c[k].start >= prev_end && c[k].end <= s->offset &&
                comment_is(part, c[k].start, c[k].end, MARK_BACKFILL))
                st->flags |= DSQL_STEP_BACKFILL;
        prev_end = s->offset + s->length;
    }
    free(c);
    dsql_rules_result_free(r);
    if (!ok) {
        cli_error("migrate", "out of memory");
        for (size_t i = 0; steps && i < n; i++) {
            free((char *)steps[i].sql);
            free((char *)steps[i].sql_pg);
        }
        free(steps);
        return false;
    }
    *out = steps;
    *n_out = n;
    return true;
}

/* Versions as numbers: leading zeros aside, the longer is larger. */
static int version_cmp(const char *a, const char *b)
{
    while (*a == '0' && a[1])
        a++;
    while (*b == '0' && b[1])
        b++;
    size_t la = strlen(a), lb = strlen(b);
    return la != lb ? (la < lb ? -1 : 1) : strcmp(a, b);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int sql_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 4 && !strcmp(d->d_name + n - 4, ".sql");
}

/* VERSION_NAME.sql: version digits, name [A-Za-z0-9_-]+. */
static bool split_name(const char *file, char **version, char **name)
{
    size_t n = strlen(file) - 4, v = 0;
    while (v < n && isdigit((unsigned char)file[v]))
        v++;
    if (v == 0 || v > 32 || v + 1 >= n || file[v] != '_')
        return false;
    for (size_t i = v + 1; i < n; i++)
        if (!isalnum((unsigned char)file[i]) && file[i] != '_' && file[i] != '-')
            return false;
    *version = strndup(file, v);
    *name = strndup(file + v + 1, n - v - 1);
    return *version && *name;
}

bool cli_migset_load(const char *dir, bool names_only, cli_migset *set)
{
    memset(set, 0, sizeof *set);
    struct dirent **names = NULL;
    int nn = scandir(dir, &names, sql_file, by_name);
    if (nn < 0) {
        if (errno == ENOENT && names_only)
            return true;
        cli_error("migrate", "%s: cannot read the migrations directory: %s", dir, strerror(errno));
        return false;
    }
    bool ok = true;
    set->migs = calloc((size_t)nn + 1, sizeof *set->migs);
    set->files = calloc((size_t)nn + 1, sizeof *set->files);
    if (!set->migs || !set->files) {
        cli_error("migrate", "out of memory");
        ok = false;
    }
    for (int i = 0; ok && i < nn; i++) {
        dsql_migration *m = &set->migs[set->n];
        cli_migfile *f = &set->files[set->n];
        char *version = NULL, *name = NULL;
        size_t plen = strlen(dir) + strlen(names[i]->d_name) + 2;
        f->path = malloc(plen);
        if (!f->path) {
            cli_error("migrate", "out of memory");
            ok = false;
            break;
        }
        snprintf(f->path, plen, "%s/%s", dir, names[i]->d_name);
        set->n++;
        if (!split_name(names[i]->d_name, &version, &name)) {
            free(version);
            free(name);
            cli_error("migrate",
                      "%s: a migration file is named VERSION_NAME.sql (VERSION: 1 to 32 "
                      "digits, NAME: letters, digits, '_' and '-'), e.g. "
                      "20260101120000_create_users.sql",
                      f->path);
            ok = false;
            break;
        }
        m->version = version;
        m->name = name;
        m->source = f->path;
        if (names_only)
            continue;
        char why[256];
        if (!cli_read_file(f->path, &f->text, &f->len, why, sizeof why)) {
            cli_error("migrate", "%s: cannot read: %s", f->path, why);
            ok = false;
            break;
        }
        if (memchr(f->text, '\0', f->len)) {
            cli_error("migrate", "%s: holds a NUL byte: not a SQL text", f->path);
            ok = false;
            break;
        }
        dsql_migration_step *up = NULL, *down = NULL;
        ok = find_parts(f) && make_steps(f, f->up_start, f->up_end, &up, &m->n_up) &&
             (!f->has_down || make_steps(f, f->down_start, f->down_end, &down, &m->n_down));
        m->up = up;
        m->down = down;
        if (ok && !m->n_up) {
            cli_error("migrate", "%s: no statement in its up part", f->path);
            ok = false;
        }
    }
    for (int i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    /* in version order (insertion sort: a directory holds few files) */
    for (size_t i = 1; ok && i < set->n; i++)
        for (size_t j = i; j > 0 && version_cmp(set->migs[j - 1].version, set->migs[j].version) > 0;
             j--) {
            dsql_migration m = set->migs[j];
            set->migs[j] = set->migs[j - 1];
            set->migs[j - 1] = m;
            cli_migfile f = set->files[j];
            set->files[j] = set->files[j - 1];
            set->files[j - 1] = f;
        }
    for (size_t i = 1; ok && i < set->n; i++)
        if (!version_cmp(set->migs[i].version, set->migs[i - 1].version)) {
            cli_error("migrate", "%s and %s have the same version", set->files[i - 1].path,
                      set->files[i].path);
            ok = false;
        }
    if (!ok)
        cli_migset_free(set);
    return ok;
}

static void free_steps(const dsql_migration_step *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free((char *)s[i].sql);
        free((char *)s[i].sql_pg);
    }
    free((void *)s);
}

void cli_migset_free(cli_migset *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free((char *)set->migs[i].version);
        free((char *)set->migs[i].name);
        free_steps(set->migs[i].up, set->migs[i].n_up);
        free_steps(set->migs[i].down, set->migs[i].n_down);
        free(set->files[i].path);
        free(set->files[i].text);
    }
    free(set->migs);
    free(set->files);
    memset(set, 0, sizeof *set);
}
