/*
 * Fuzz target: where-clause building (src/model/where.c) from hostile attribute names and
 * values. The input is decoded into a condition tree (ops, attribute names - known ones
 * and arbitrary bytes - and values of every kind). Invariant: whatever the input, the SQL
 * text holds no caller string: outside quoted identifiers, which must each be a column of
 * the model, only parameters ($n), keywords, operators, parentheses and spaces appear; and
 * every $n is below the parameter count.
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_model.h"
#include "model/internal.h"

#define MAX_NODES  64
#define MAX_VALUES 256

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static unsigned take(reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

/* A string from the input: a length byte, then that many bytes (copied, NUL-terminated). */
static char *take_str(reader *r, char **owned, size_t *nowned)
{
    size_t len = take(r) % 24;
    if (len > r->n)
        len = r->n;
    char *s = fuzz_strndup(r->p, len);
    r->p += len;
    r->n -= len;
    owned[(*nowned)++] = s;
    return s;
}

typedef struct builder {
    reader r;
    dsql_where nodes[MAX_NODES];
    const dsql_where *kids[MAX_NODES * 4];
    dsql_value values[MAX_VALUES];
    char *owned[MAX_NODES * 4 + MAX_VALUES];
    size_t nnodes, nkids, nvalues, nowned;
} builder;

static dsql_value make_value(builder *b)
{
    switch (take(&b->r) % 6) {
    case 0:
        return DSQL_NULL;
    case 1:
        return DSQL_STR(take_str(&b->r, b->owned, &b->nowned));
    case 2: {
        int64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = (int64_t)((uint64_t)v << 8 | take(&b->r));
        return DSQL_INT(v);
    }
    case 3: {
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits = bits << 8 | take(&b->r);
        double d;
        memcpy(&d, &bits, sizeof d);
        return DSQL_DBL(d);
    }
    case 4:
        return DSQL_BOOL(take(&b->r) & 1);
    default: {
        char *s = take_str(&b->r, b->owned, &b->nowned);
        return DSQL_BYTES(s, strlen(s));
    }
    }
}

static const char *make_attr(builder *b)
{
    unsigned k = take(&b->r);
    if (k < 200)
        return fz_attrs[k % FZ_NATTRS].name;
    if (k < 250)
        return take_str(&b->r, b->owned, &b->nowned);
    return k == 250 ? NULL : "";
}

static const dsql_where *make_node(builder *b, int depth)
{
    if (b->nnodes == MAX_NODES)
        return NULL;
    dsql_where *w = &b->nodes[b->nnodes++];
    memset(w, 0, sizeof *w);
    w->op = (dsql_op)(take(&b->r) % 18); /* 0 and 17 are out of range on purpose */
    if (w->op == DSQL_OP_AND || w->op == DSQL_OP_OR || w->op == DSQL_OP_NOT) {
        size_t n = depth > 6 ? 0 : take(&b->r) % 4;
        if (b->nkids + n > DSQL__ARRAY_LEN(b->kids))
            n = 0;
        const dsql_where **kids = &b->kids[b->nkids];
        b->nkids += n;
        for (size_t i = 0; i < n; i++)
            kids[i] = make_node(b, depth + 1);
        w->children = (const dsql_where *const *)kids;
        w->n_children = n;
        return w;
    }
    w->attr = make_attr(b);
    size_t n = take(&b->r) % 5;
    if (b->nvalues + n > MAX_VALUES)
        n = 0;
    w->values = n ? &b->values[b->nvalues] : NULL;
    for (size_t i = 0; i < n; i++)
        b->values[b->nvalues + i] = make_value(b);
    b->nvalues += n;
    w->n_values = n;
    return w;
}

static bool is_column(const char *s, size_t len)
{
    for (size_t i = 0; i < FZ_NATTRS; i++) {
        const char *col = dsql__attr_column(&fz_attrs[i]);
        if (strlen(col) == len && memcmp(col, s, len) == 0)
            return true;
    }
    return false;
}

/* The check of the invariant described at the top. */
static void check_sql(const char *sql, int nparams)
{
    static const char *const words[] = {"AND",  "OR",    "NOT",     "IN",   "IS",    "NULL",
                                        "LIKE", "ILIKE", "BETWEEN", "TRUE", "FALSE", "x"};
    for (const char *p = sql; *p;) {
        if (*p == '"') {
            char col[128];
            size_t n = 0;
            for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
                if (*p == '"')
                    p++;
                fuzz_assert(n < sizeof col, "identifier too long in: %s", sql);
                col[n++] = *p;
            }
            fuzz_assert(*p == '"', "unterminated identifier in: %s", sql);
            p++;
            fuzz_assert(is_column(col, n) || (n == 1 && col[0] == 'x'),
                        "identifier \"%.*s\" is no column of the model in: %s", (int)n, col, sql);
        } else if (*p == '$') {
            long v = strtol(p + 1, (char **)&p, 10);
            fuzz_assert(v >= 1 && v <= nparams, "$%ld out of range (%d params) in: %s", v, nparams,
                        sql);
        } else if (isalpha((unsigned char)*p)) {
            const char *s = p;
            while (isalpha((unsigned char)*p) || *p == '_')
                p++;
            bool known = false;
            for (size_t i = 0; i < DSQL__ARRAY_LEN(words) && !known; i++)
                known = strlen(words[i]) == (size_t)(p - s) &&
                        memcmp(words[i], s, (size_t)(p - s)) == 0;
            fuzz_assert(known, "unexpected word '%.*s' in: %s", (int)(p - s), s, sql);
        } else {
            fuzz_assert(strchr(" ()=<>!,.", *p) != NULL, "unexpected byte 0x%02x in: %s",
                        (unsigned char)*p, sql);
            p++;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    builder *b = calloc(1, sizeof *b);
    if (!b)
        abort();
    b->r = (reader){data, size};
    const dsql_where *w = make_node(b, 0);
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    dsql_error err;
    int rc = dsql__build_where(&sb, &p, &fz_model, (take(&b->r) & 1) ? "x" : NULL, w, &err);
    if (rc == DSQL_OK && !sb.oom)
        check_sql(dsql__sb_str(&sb), p.n);
    else if (rc != DSQL_OK)
        fuzz_assert(err.message[0], "a failure must say why");
    dsql__sb_free(&sb);
    dsql__params_free(&p);
    for (size_t i = 0; i < b->nowned; i++)
        free(b->owned[i]);
    free(b);
    return 0;
}
