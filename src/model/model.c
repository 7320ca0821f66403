/* Model descriptors: the type table, the descriptor check, attribute lookup, NULL-ness. */
#include <stdio.h>
#include <string.h>

#include "model/internal.h"

/* One row per dsql_type_id: declaration name, SQL name, C representation, member size. */
static const struct type_info {
    const char *name;
    const char *sql;
    const char *c_type;
    size_t size;
} types[] = {
    [DSQL_T_UUID] = {"UUID", "uuid", "dsql_uuid", sizeof(dsql_uuid)},
    [DSQL_T_STRING] = {"STRING", "varchar", "char *", sizeof(char *)},
    [DSQL_T_TEXT] = {"TEXT", "text", "char *", sizeof(char *)},
    [DSQL_T_CHAR] = {"CHAR", "char", "char *", sizeof(char *)},
    [DSQL_T_SMALLINT] = {"SMALLINT", "smallint", "int16_t", sizeof(int16_t)},
    [DSQL_T_INTEGER] = {"INTEGER", "integer", "int32_t", sizeof(int32_t)},
    [DSQL_T_BIGINT] = {"BIGINT", "bigint", "int64_t", sizeof(int64_t)},
    [DSQL_T_REAL] = {"REAL", "real", "float", sizeof(float)},
    [DSQL_T_DOUBLE] = {"DOUBLE", "double precision", "double", sizeof(double)},
    [DSQL_T_NUMERIC] = {"NUMERIC", "numeric", "char *", sizeof(char *)},
    [DSQL_T_BOOLEAN] = {"BOOLEAN", "boolean", "bool", sizeof(bool)},
    [DSQL_T_DATEONLY] = {"DATEONLY", "date", "char *", sizeof(char *)},
    [DSQL_T_TIME] = {"TIME", "time", "char *", sizeof(char *)},
    [DSQL_T_TIMESTAMP] = {"TIMESTAMP", "timestamp", "char *", sizeof(char *)},
    [DSQL_T_TIMESTAMPTZ] = {"TIMESTAMPTZ", "timestamptz", "char *", sizeof(char *)},
    [DSQL_T_INTERVAL] = {"INTERVAL", "interval", "char *", sizeof(char *)},
    [DSQL_T_BYTEA] = {"BYTEA", "bytea", "dsql_bytes", sizeof(dsql_bytes)},
    [DSQL_T_JSON] = {"JSON", "json", "char *", sizeof(char *)},
    [DSQL_T_JSONB] = {"JSONB", "jsonb", "char *", sizeof(char *)},
};

static bool type_known(dsql_type_id t)
{
    return (size_t)t < DSQL__ARRAY_LEN(types) && types[t].name;
}

size_t dsql__type_size(dsql_type_id t)
{
    return type_known(t) ? types[t].size : 0;
}

bool dsql__type_is_text(dsql_type_id t)
{
    switch (t) {
    case DSQL_T_STRING:
    case DSQL_T_TEXT:
    case DSQL_T_CHAR:
    case DSQL_T_NUMERIC:
    case DSQL_T_DATEONLY:
    case DSQL_T_TIME:
    case DSQL_T_TIMESTAMP:
    case DSQL_T_TIMESTAMPTZ:
    case DSQL_T_INTERVAL:
    case DSQL_T_JSON:
    case DSQL_T_JSONB:
        return true;
    default:
        return false;
    }
}

bool dsql__type_is_scalar(dsql_type_id t)
{
    switch (t) {
    case DSQL_T_SMALLINT:
    case DSQL_T_INTEGER:
    case DSQL_T_BIGINT:
    case DSQL_T_REAL:
    case DSQL_T_DOUBLE:
    case DSQL_T_BOOLEAN:
        return true;
    default:
        return false;
    }
}

void dsql__numeric_ps(const dsql_attr *a, int *precision, int *scale)
{
    /* Aurora DSQL stores a bare `numeric` as numeric(18,6); the library never declares a
     * bare one, so both servers keep exactly what the model says. */
    *precision = a->precision > 0 ? a->precision : DSQL_NUMERIC_DEFAULT_PRECISION;
    *scale = a->precision > 0 ? a->scale : DSQL_NUMERIC_DEFAULT_SCALE;
}

const char *dsql__type_name(const dsql_attr *a, char *buf, size_t cap)
{
    int p, s;
    if (!type_known(a->type)) {
        snprintf(buf, cap, "type #%d", (int)a->type);
    } else if (a->type == DSQL_T_STRING || a->type == DSQL_T_CHAR) {
        snprintf(buf, cap, "%s(%d)", types[a->type].name, (int)a->length);
    } else if (a->type == DSQL_T_NUMERIC && a->precision == DSQL__NUMERIC_ANY) {
        snprintf(buf, cap, "NUMERIC");
    } else if (a->type == DSQL_T_NUMERIC) {
        dsql__numeric_ps(a, &p, &s);
        snprintf(buf, cap, "NUMERIC(%d,%d)", p, s);
    } else {
        snprintf(buf, cap, "%s", types[a->type].name);
    }
    return buf;
}

const char *dsql__sql_type(const dsql_attr *a, char *buf, size_t cap)
{
    int p, s;
    if (!type_known(a->type))
        snprintf(buf, cap, "?");
    else if ((a->type == DSQL_T_STRING && a->length > 0) || a->type == DSQL_T_CHAR)
        snprintf(buf, cap, "%s(%d)", types[a->type].sql, (int)a->length);
    else if (a->type == DSQL_T_NUMERIC && (dsql__numeric_ps(a, &p, &s), true))
        snprintf(buf, cap, "numeric(%d,%d)", p, s);
    else
        snprintf(buf, cap, "%s", types[a->type].sql);
    return buf;
}

/* ---- the check ---- */

#define NUMERIC_MAX_PRECISION 1000 /* PostgreSQL's limit for numeric(p, s) */

static int attr_fail(dsql_error *err, const dsql_model *m, const dsql_attr *a, const char *what)
{
    return dsql_error_set(err, DSQL_EINVAL, "model %s: attribute \"%s\": %s", m->name,
                          a->name ? a->name : "(null)", what);
}

/* A scalar member always holds a value (0 and false are values): without a presence flag
 * nothing says "unset", so a default could never apply and would silently be ignored. */
static int check_default_applies(const dsql_model *m, const dsql_attr *a, dsql_error *err)
{
    if (!dsql__type_is_scalar(a->type) || a->has_offset ||
        (a->default_value.kind == DSQL_V_NULL && !a->default_sql))
        return DSQL_OK;
    char buf[200], tn[48];
    snprintf(buf, sizeof buf,
             "a default needs a presence flag (DSQL_HAS(T, has_x)) on this %s member to tell "
             "\"unset\" from %s; without one it would never apply",
             dsql__type_name(a, tn, sizeof tn), a->type == DSQL_T_BOOLEAN ? "false" : "0");
    return attr_fail(err, m, a, buf);
}

static int check_default(const dsql_model *m, const dsql_attr *a, dsql_error *err)
{
    if (a->default_uuid_v4 && a->type != DSQL_T_UUID)
        return attr_fail(err, m, a, ".default_uuid_v4 needs a UUID attribute");
    if (a->default_value.kind == DSQL_V_NULL)
        return check_default_applies(m, a, err);
    if (a->default_uuid_v4)
        return attr_fail(err, m, a, "both .default_uuid_v4 and a constant default");
    /* The default is stored in the member itself, so it must have the member's shape. */
    dsql_value_kind k = a->default_value.kind;
    bool fits = a->type == DSQL_T_UUID || dsql__type_is_text(a->type) ? k == DSQL_V_TEXT
                : a->type == DSQL_T_REAL || a->type == DSQL_T_DOUBLE
                    ? k == DSQL_V_DOUBLE || k == DSQL_V_INT
                : a->type == DSQL_T_BOOLEAN ? k == DSQL_V_BOOL
                : a->type == DSQL_T_BYTEA   ? false
                                            : k == DSQL_V_INT;
    if (!fits) {
        char buf[96], tn[48];
        snprintf(buf, sizeof buf, "a constant default of this kind does not fit the member (%s)",
                 dsql__type_name(a, tn, sizeof tn));
        return attr_fail(err, m, a, buf);
    }
    dsql_error e;
    if (dsql__value_check(m, a, &a->default_value, DSQL__USE_STORE, &e)) {
        return dsql_error_set(err, DSQL_EINVAL, "model %s: attribute \"%s\": bad default: %s",
                              m->name, a->name, e.message);
    }
    return check_default_applies(m, a, err);
}

static int check_attr(const dsql_model *m, const dsql_attr *a, dsql_error *err)
{
    char buf[128];
    if (!a->name || !*a->name)
        return dsql_error_set(err, DSQL_EINVAL, "model %s: attribute #%zu has no name", m->name,
                              dsql__attr_index(m, a));
    if (a->column && !*a->column)
        return attr_fail(err, m, a, "empty .column name");
    if (a->type == (dsql_type_id)DSQL__T_OUT_OF_RANGE)
        return attr_fail(err, m, a,
                         "type arguments out of range (a length within +-8388607, a "
                         "precision and scale within int16_t)");
    if (!type_known(a->type))
        return attr_fail(err, m, a,
                         "no type, or an unknown one (start with DSQL_UUID, "
                         "DSQL_STRING(n), ...)");
    const struct type_info *ti = &types[a->type];
    if (a->size != ti->size) {
        snprintf(buf, sizeof buf, "member is %zu bytes, %s needs %s (%zu bytes)", a->size, ti->name,
                 ti->c_type, ti->size);
        return attr_fail(err, m, a, buf);
    }
    if (a->offset > m->struct_size || m->struct_size - a->offset < a->size)
        return attr_fail(err, m, a, "member lies outside the struct");
    if (a->type == DSQL_T_CHAR && (a->length <= 0 || a->length > DSQL__CHAR_MAX)) {
        snprintf(buf, sizeof buf, "CHAR(n) needs 0 < n <= %d (Aurora DSQL's limit)",
                 DSQL__CHAR_MAX);
        return attr_fail(err, m, a, buf);
    }
    if (a->type == DSQL_T_STRING && (a->length < 0 || a->length > DSQL__VARCHAR_MAX)) {
        snprintf(buf, sizeof buf,
                 "STRING(n) needs 0 <= n <= %d (0 = no limit; Aurora DSQL's "
                 "limit)",
                 DSQL__VARCHAR_MAX);
        return attr_fail(err, m, a, buf);
    }
    if (a->type == DSQL_T_NUMERIC && (a->precision < 0 || a->precision > NUMERIC_MAX_PRECISION ||
                                      a->scale < 0 || a->scale > a->precision)) {
        snprintf(buf, sizeof buf, "NUMERIC(%d,%d): need 0 <= scale <= precision <= %d",
                 (int)a->precision, (int)a->scale, NUMERIC_MAX_PRECISION);
        return attr_fail(err, m, a, buf);
    }
    if (a->has_offset) {
        if (!dsql__type_is_scalar(a->type))
            return attr_fail(err, m, a,
                             "DSQL_HAS is for scalar types; text, UUID and BYTEA members "
                             "hold NULL themselves");
        size_t ho = a->has_offset - 1;
        if (ho > m->struct_size || m->struct_size - ho < sizeof(bool))
            return attr_fail(err, m, a, "DSQL_HAS member lies outside the struct");
        if (ho < a->offset + a->size && a->offset < ho + sizeof(bool))
            return attr_fail(err, m, a, "DSQL_HAS member overlaps the value member");
    }
    return check_default(m, a, err);
}

static bool overlaps(size_t o1, size_t n1, size_t o2, size_t n2)
{
    return o1 < o2 + n2 && o2 < o1 + n1;
}

/* The model's own fields, before any attribute is read. */
static int check_model_fields(const dsql_model *m, dsql_error *err)
{
    if (!m)
        return dsql_error_set(err, DSQL_EINVAL, "model is NULL");
    if (m->magic != DSQL_MODEL_MAGIC)
        return dsql_error_set(err, DSQL_EINVAL,
                              "not a model descriptor (bad magic; declare it with DSQL_MODEL)");
    if (!m->name || !*m->name)
        return dsql_error_set(err, DSQL_EINVAL, "model has no name");
    if (!m->table || !*m->table)
        return dsql_error_set(err, DSQL_EINVAL, "model %s: no table name", m->name);
    if (!m->attrs || m->n_attrs == 0)
        return dsql_error_set(err, DSQL_EINVAL, "model %s: no attributes", m->name);
    if (m->struct_size == 0)
        return dsql_error_set(err, DSQL_EINVAL, "model %s: struct size is 0", m->name);
    if (m->n_attrs > DSQL__COLUMNS_MAX)
        return dsql_error_set(err, DSQL_EINVAL,
                              "model %s: %zu attributes, more than the %d columns a table may "
                              "have on Aurora DSQL",
                              m->name, m->n_attrs, DSQL__COLUMNS_MAX);
    size_t so = m->state_offset ? m->state_offset - 1 : 0;
    if (m->state_offset && (so > m->struct_size || m->struct_size - so < sizeof(dsql_row_state) ||
                            so % _Alignof(dsql_row_state) != 0))
        return dsql_error_set(err, DSQL_EINVAL,
                              "model %s: the dsql_row_state member lies outside the struct "
                              "(declare it with DSQL_ROW_STATE(T, member))",
                              m->name);
    return DSQL_OK;
}

/* Attribute i against those declared before it: names, columns and struct memory. */
static int check_attr_unique(const dsql_model *m, size_t i, dsql_error *err)
{
    const dsql_attr *a = &m->attrs[i];
    for (size_t j = 0; j < i; j++) {
        const dsql_attr *b = &m->attrs[j];
        if (!strcmp(a->name, b->name))
            return dsql_error_set(err, DSQL_EINVAL, "model %s: attribute \"%s\" is declared twice",
                                  m->name, a->name);
        if (!strcmp(dsql__attr_column(a), dsql__attr_column(b)))
            return dsql_error_set(err, DSQL_EINVAL,
                                  "model %s: attributes \"%s\" and \"%s\" both use column "
                                  "\"%s\"",
                                  m->name, b->name, a->name, dsql__attr_column(a));
        if (overlaps(a->offset, a->size, b->offset, b->size))
            return dsql_error_set(err, DSQL_EINVAL,
                                  "model %s: attributes \"%s\" and \"%s\" share struct "
                                  "memory (same member twice?)",
                                  m->name, b->name, a->name);
    }
    return DSQL_OK;
}

/* Each attribute alone, then against the row state and the others; *pk gets the primary
 * key (NULL when there is none). */
static int check_attrs(const dsql_model *m, const dsql_attr **pk, dsql_error *err)
{
    size_t so = m->state_offset ? m->state_offset - 1 : 0;
    *pk = NULL;
    for (size_t i = 0; i < m->n_attrs; i++) {
        const dsql_attr *a = &m->attrs[i];
        int rc = check_attr(m, a, err);
        if (rc || (rc = dsql__checks_declared(m, a, err)))
            return rc;
        if (m->state_offset && overlaps(a->offset, a->size, so, sizeof(dsql_row_state)))
            return dsql_error_set(err, DSQL_EINVAL,
                                  "model %s: attribute \"%s\" shares struct memory with the "
                                  "dsql_row_state member",
                                  m->name, a->name);
        if (a->primary_key) {
            if (*pk)
                return dsql_error_set(err, DSQL_EINVAL,
                                      "model %s: two primary keys (\"%s\" and \"%s\"); "
                                      "one attribute at most",
                                      m->name, (*pk)->name, a->name);
            *pk = a;
        }
        if ((rc = check_attr_unique(m, i, err)))
            return rc;
    }
    return DSQL_OK;
}

static int check_version(const dsql_model *m, const dsql_attr *a, int *versions, dsql_error *err)
{
    if (a->type != DSQL_T_INTEGER && a->type != DSQL_T_BIGINT)
        return dsql_error_set(err, DSQL_EINVAL,
                              "model %s: attribute \"%s\": a version must be "
                              "DSQL_INTEGER or DSQL_BIGINT",
                              m->name, a->name);
    if (a->primary_key || a->timestamp || a->default_sql || a->default_value.kind != DSQL_V_NULL)
        return dsql_error_set(err, DSQL_EINVAL,
                              "model %s: attribute \"%s\": a version has no default "
                              "and is not a key or a timestamp (the library writes it)",
                              m->name, a->name);
    if ((*versions)++)
        return dsql_error_set(err, DSQL_EINVAL, "model %s: two DSQL_VERSION attributes", m->name);
    return DSQL_OK;
}

/* seen[] counts the kept timestamps of each kind met so far. */
static int check_timestamp(const dsql_model *m, const dsql_attr *a, int seen[4], dsql_error *err)
{
    if (a->timestamp < DSQL__TS_CREATED || a->timestamp > DSQL__TS_DELETED)
        return dsql_error_set(err, DSQL_EINVAL,
                              "model %s: attribute \"%s\": timestamp %d is none of "
                              "DSQL_CREATED_AT, DSQL_UPDATED_AT and DSQL_DELETED_AT",
                              m->name, a->name, a->timestamp);
    if (a->timestamp == DSQL__TS_DELETED && a->not_null)
        return dsql_error_set(err, DSQL_EINVAL,
                              "model %s: attribute \"%s\": DSQL_DELETED_AT is NULL on every "
                              "row not deleted: it cannot be NOT NULL",
                              m->name, a->name);
    if (a->type != DSQL_T_TIMESTAMP && a->type != DSQL_T_TIMESTAMPTZ)
        return dsql_error_set(err, DSQL_EINVAL,
                              "model %s: attribute \"%s\": a kept timestamp must be "
                              "DSQL_TIMESTAMPTZ or DSQL_TIMESTAMP",
                              m->name, a->name);
    if (a->primary_key || a->default_sql || a->default_value.kind != DSQL_V_NULL)
        return dsql_error_set(err, DSQL_EINVAL,
                              "model %s: attribute \"%s\": a kept timestamp has no default "
                              "and is not a key (the library writes it)",
                              m->name, a->name);
    if (seen[a->timestamp]++)
        return dsql_error_set(err, DSQL_EINVAL, "model %s: two %s attributes", m->name,
                              a->timestamp == DSQL__TS_CREATED   ? "DSQL_CREATED_AT"
                              : a->timestamp == DSQL__TS_UPDATED ? "DSQL_UPDATED_AT"
                                                                 : "DSQL_DELETED_AT");
    return DSQL_OK;
}

/* The columns the library writes itself: one version at most, one timestamp of each kind. */
static int check_kept_columns(const dsql_model *m, dsql_error *err)
{
    int seen[4] = {0, 0, 0, 0}, versions = 0;
    for (size_t i = 0; i < m->n_attrs; i++) {
        const dsql_attr *a = &m->attrs[i];
        int rc;
        if (a->version && (rc = check_version(m, a, &versions, err)))
            return rc;
        if (a->timestamp && (rc = check_timestamp(m, a, seen, err)))
            return rc;
    }
    return DSQL_OK;
}

/* The declared indexes, and the table's index count against Aurora DSQL's limit. */
static int check_indexes(const dsql_model *m, const dsql_attr *pk, dsql_error *err)
{
    if (m->n_indexes && !m->indexes)
        return dsql_error_set(err, DSQL_EINVAL, "model %s: %zu indexes announced, none given",
                              m->name, m->n_indexes);
    /* Every index the table gets counts: the primary key's, each unique attribute's, and
     * the declared ones. */
    size_t n_idx = m->n_indexes + (pk ? 1 : 0);
    for (size_t i = 0; i < m->n_attrs; i++)
        n_idx += m->attrs[i].unique && !m->attrs[i].primary_key;
    if (n_idx > DSQL__INDEXES_MAX)
        return dsql_error_set(err, DSQL_EINVAL,
                              "model %s: the table would have %zu indexes (primary key, unique "
                              "attributes and declared indexes), more than the %d Aurora DSQL "
                              "allows per table",
                              m->name, n_idx, DSQL__INDEXES_MAX);
    for (size_t i = 0; i < m->n_indexes; i++) {
        const dsql_index *ix = &m->indexes[i];
        if (!ix->attrs || ix->n_attrs == 0)
            return dsql_error_set(err, DSQL_EINVAL, "model %s: index #%zu names no attribute",
                                  m->name, i);
        if (ix->n_attrs > DSQL__INDEX_KEY_MAX)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "model %s: index #%zu has %zu key columns, more than the %d "
                                  "Aurora DSQL allows",
                                  m->name, i, ix->n_attrs, DSQL__INDEX_KEY_MAX);
        for (size_t k = 0; k < ix->n_attrs; k++) {
            if (!ix->attrs[k] || !dsql__model_attr(m, ix->attrs[k]))
                return dsql_error_set(err, DSQL_EINVAL,
                                      "model %s: index #%zu names unknown attribute \"%s\"",
                                      m->name, i, ix->attrs[k] ? ix->attrs[k] : "(null)");
        }
    }
    return DSQL_OK;
}

int dsql__model_check(const dsql_model *m, dsql_error *err)
{
    const dsql_attr *pk = NULL;
    int rc = check_model_fields(m, err);
    if (rc || (rc = check_attrs(m, &pk, err)) || (rc = check_kept_columns(m, err)) ||
        (rc = dsql__scopes_declared(m, err)))
        return rc;
    return check_indexes(m, pk, err);
}

int dsql_model_check(const dsql_model *m, dsql_error *err)
{
    return dsql__api_ret("dsql_model_check", dsql__model_check(m, err), err);
}

/* ---- lookup ---- */

const dsql_attr *dsql__model_attr(const dsql_model *m, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < m->n_attrs; i++)
        if (!strcmp(m->attrs[i].name, name))
            return &m->attrs[i];
    for (size_t i = 0; i < m->n_attrs; i++)
        if (m->attrs[i].column && !strcmp(m->attrs[i].column, name))
            return &m->attrs[i];
    return NULL;
}

const dsql_attr *dsql_model_attr(const dsql_model *m, const char *name)
{
    if (!m || m->magic != DSQL_MODEL_MAGIC || !m->attrs)
        return NULL;
    return dsql__model_attr(m, name);
}

int dsql__attr_lookup(const dsql_model *m, const char *name, const char *what,
                      const dsql_attr **out, dsql_error *err)
{
    const dsql_attr *a = dsql__model_attr(m, name);
    if (!a) {
        char pv[DSQL__PREVIEW_MAX];
        if (!name)
            return dsql_error_set(err, DSQL_EINVAL, "%s%smodel %s: attribute name is NULL",
                                  what ? what : "", what ? ": " : "", m->name);
        return dsql_error_set(err, DSQL_EINVAL, "%s%smodel %s has no attribute %s",
                              what ? what : "", what ? ": " : "", m->name,
                              dsql__preview(name, strlen(name), pv, sizeof pv));
    }
    *out = a;
    return DSQL_OK;
}

const dsql_attr *dsql__deleted_attr(const dsql_model *m)
{
    for (size_t i = 0; i < m->n_attrs; i++)
        if (m->attrs[i].timestamp == DSQL__TS_DELETED)
            return &m->attrs[i];
    return NULL;
}

bool dsql__append_alive(dsql__strbuf *sql, const dsql_model *m, const char *alias, const char *sep,
                        bool marked)
{
    const dsql_attr *d = dsql__deleted_attr(m);
    if (!d)
        return false;
    dsql__sb_append(sql, sep);
    if (alias)
        dsql__sql_column(sql, alias, d);
    else
        dsql__sql_ident(sql, dsql__attr_column(d));
    dsql__sb_append(sql, marked ? " IS NOT NULL" : " IS NULL");
    return true;
}

int dsql__append_where_alive(dsql__strbuf *sql, dsql__params *p, const dsql_model *m,
                             const char *qual, const dsql_where *where, bool filter, bool marked,
                             dsql_error *err)
{
    const char *sep = " WHERE ";
    if (where) {
        bool paranoid = dsql__deleted_attr(m) != NULL; /* an AND may follow: keep where whole */
        dsql__sb_append(sql, paranoid ? " WHERE (" : " WHERE ");
        int rc = dsql__build_where(sql, p, m, qual, where, err);
        if (rc)
            return rc;
        if (paranoid)
            dsql__sb_append_c(sql, ')');
        sep = " AND ";
    }
    if (filter)
        dsql__append_alive(sql, m, qual, sep, marked);
    return DSQL_OK;
}

const dsql_attr *dsql__model_pk(const dsql_model *m)
{
    for (size_t i = 0; i < m->n_attrs; i++)
        if (m->attrs[i].primary_key)
            return &m->attrs[i];
    return NULL;
}

/* ---- NULL-ness of members ---- */

bool dsql__attr_is_null(const dsql_attr *a, const void *row)
{
    const void *p = DSQL__CMEMBER(row, a);
    if (a->has_offset && !*((const bool *)((const char *)row + a->has_offset - 1)))
        return true;
    switch (a->type) {
    case DSQL_T_UUID:
        return ((const dsql_uuid *)p)->str[0] == '\0';
    case DSQL_T_BYTEA:
        return ((const dsql_bytes *)p)->data == NULL;
    default:
        if (dsql__type_is_text(a->type))
            return *(char *const *)p == NULL;
        return false;
    }
}

void dsql__attr_set_null(const dsql_attr *a, void *row)
{
    memset(DSQL__MEMBER(row, a), 0, a->size);
    if (a->has_offset)
        *((bool *)((char *)row + a->has_offset - 1)) = false;
}
