/*
 * Column types: which PostgreSQL types DSQL cannot store, the serial family, array columns,
 * the length caps of varchar and char, and bare numeric. A type is one of PostgreSQL's own
 * only when it is unqualified or in pg_catalog; anything else is the user's (a domain) and
 * passes. Names are printed as PostgreSQL prints them (format_type), as DSQL does:
 * "datatype smallint not supported, ...".
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rules/internal.h"

/* PostgreSQL's internal names and how it prints them. */
static const struct {
    const char *name, *display;
} display_names[] = {
    {"int2", "smallint"},
    {"int4", "integer"},
    {"int8", "bigint"},
    {"float4", "real"},
    {"float8", "double precision"},
    {"bool", "boolean"},
    {"varchar", "character varying"},
    {"bpchar", "character"},
    {"timestamptz", "timestamp with time zone"},
    {"timestamp", "timestamp without time zone"},
    {"timetz", "time with time zone"},
    {"time", "time without time zone"},
    {"varbit", "bit varying"},
};

/* Types DSQL cannot store in a column. Recorded on a cluster: money, cidr, line, path,
 * tsvector, tsrange, pg_lsn; the rest belong to the same families (docs/rules.md). */
static const char *const refused[] = {
    "money", /* monetary */
    "cidr",
    "inet",
    "macaddr",
    "macaddr8", /* network */
    "point",
    "line",
    "lseg",
    "box", /* geometric */
    "path",
    "polygon",
    "circle", /* geometric */
    "tsvector",
    "tsquery", /* text search */
    "xml",
    "bit",
    "varbit", /* xml, bits */
    "int4range",
    "int8range",
    "numrange",
    "tsrange", /* ranges */
    "tstzrange",
    "daterange", /* ranges */
    "int4multirange",
    "int8multirange",
    "nummultirange",
    "tsmultirange", /* multiranges */
    "tstzmultirange",
    "datemultirange", /* multiranges */
    "pg_lsn",
    "pg_snapshot",
    "txid_snapshot",
    "jsonpath", /* system */
};

static const char *const serials[] = {"serial",  "serial4",     "bigserial",
                                      "serial8", "smallserial", "serial2"};

const char *dsql__rules_str(const PgQuery__Node *n)
{
    if (n && n->node_case == PG_QUERY__NODE__NODE_STRING)
        return n->string->sval;
    return NULL;
}

/* A numeric literal's text as an integer; digits beyond int64 saturate (a cache or a length
 * that large is only ever compared with small bounds). */
static bool text_int(const char *s, long long *out)
{
    int64_t v;
    size_t len = strlen(s);
    if (dsql__strtoi64(s, len, INT64_MIN, INT64_MAX, &v)) {
        *out = (long long)v;
        return true;
    }
    if (len == 0 || strspn(s, "0123456789") != len)
        return false;
    *out = INT64_MAX;
    return true;
}

bool dsql__rules_int(const PgQuery__Node *n, long long *out)
{
    if (!n)
        return false;
    if (n->node_case == PG_QUERY__NODE__NODE_INTEGER) {
        *out = n->integer->ival;
        return true;
    }
    if (n->node_case == PG_QUERY__NODE__NODE_A_CONST) {
        const PgQuery__AConst *k = n->a_const;
        if (k->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
            *out = k->ival->ival;
            return true;
        }
        if (k->val_case == PG_QUERY__A__CONST__VAL_FVAL)
            return text_int(k->fval->fval, out);
        return false;
    }
    if (n->node_case == PG_QUERY__NODE__NODE_FLOAT) /* an integer too big for int32 */
        return text_int(n->float_->fval, out);
    return false;
}

/* The type's own name when it is PostgreSQL's (unqualified or pg_catalog.x), else NULL.
 * *qualified says whether pg_catalog was written (the serial family is never qualified). */
static const char *builtin_name(const PgQuery__TypeName *tn, bool *qualified)
{
    *qualified = false;
    if (tn->n_names == 1)
        return dsql__rules_str(tn->names[0]);
    if (tn->n_names == 2) {
        const char *schema = dsql__rules_str(tn->names[0]);
        if (schema && strcmp(schema, "pg_catalog") == 0) {
            *qualified = true;
            return dsql__rules_str(tn->names[1]);
        }
    }
    return NULL;
}

static bool listed(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

const char *dsql__rules_type_display(const PgQuery__TypeName *tn, char *buf, size_t size)
{
    bool q;
    const char *name = builtin_name(tn, &q);
    const char *shown = NULL;
    if (name) {
        shown = name;
        for (size_t i = 0; i < DSQL__ARRAY_LEN(display_names); i++)
            if (strcmp(name, display_names[i].name) == 0)
                shown = display_names[i].display;
    } else {
        /* Someone's own type: its name as written, qualified. */
        size_t used = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < tn->n_names; i++) {
            const char *part = dsql__rules_str(tn->names[i]);
            int w = snprintf(buf + used, size - used, "%s%s", i ? "." : "", part ? part : "?");
            if (w < 0 || (size_t)w >= size - used)
                break;
            used += (size_t)w;
        }
        shown = buf;
    }
    if (shown != buf)
        snprintf(buf, size, "%s%s", shown, tn->n_array_bounds ? "[]" : "");
    else if (tn->n_array_bounds && strlen(buf) + 3 <= size)
        strcat(buf, "[]");
    return buf;
}

bool dsql__rules_type_is_bigint(const PgQuery__TypeName *tn)
{
    bool q;
    const char *name = builtin_name(tn, &q);
    return name && tn->n_array_bounds == 0 && strcmp(name, "int8") == 0;
}

void dsql__rules_check_type(dsql__rules_ctx *c, const PgQuery__TypeName *tn)
{
    if (!tn)
        return;
    bool qualified;
    const char *name = builtin_name(tn, &qualified);
    if (!name)
        return;
    char shown[160];
    if (!qualified && listed(name, serials, DSQL__ARRAY_LEN(serials))) {
        /* serial is grammar sugar PostgreSQL expands; DSQL's catalog has no such type. */
        char rw[96];
        snprintf(rw, sizeof rw, "bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536)");
        size_t from = dsql__rules_offset(c, tn->location);
        size_t t = dsql__rules_tok_at(c->scan, from);
        size_t to = t < c->scan->n ? (size_t)c->scan->tok[t]->end : from;
        char *text = dsql__rules_splice(c, from, to, rw);
        dsql__rules_find_rw(c, DSQL_RULE_SERIAL, tn->location, name, text);
        return;
    }
    if (tn->n_array_bounds > 0) {
        dsql__rules_find(c, DSQL_RULE_ARRAY_COLUMN, tn->location,
                         dsql__rules_type_display(tn, shown, sizeof shown));
        return;
    }
    if (listed(name, refused, DSQL__ARRAY_LEN(refused))) {
        dsql__rules_find(c, DSQL_RULE_COLUMN_TYPE, tn->location,
                         dsql__rules_type_display(tn, shown, sizeof shown));
        return;
    }
    long long n;
    bool has_len = tn->n_typmods >= 1 && dsql__rules_int(tn->typmods[0], &n);
    if (strcmp(name, "varchar") == 0 && has_len && n > 65535)
        dsql__rules_find(c, DSQL_RULE_VARCHAR_LENGTH, tn->location, NULL);
    else if (strcmp(name, "bpchar") == 0 && has_len && n > 4096)
        dsql__rules_find(c, DSQL_RULE_CHAR_LENGTH, tn->location, NULL);
    else if (strcmp(name, "numeric") == 0 && tn->n_typmods == 0)
        dsql__rules_find(c, DSQL_RULE_BARE_NUMERIC, tn->location, NULL);
}
