/* Values per type: a row's member as a parameter, a caller's dsql_value checked against
 * an attribute, and the server's text decoded into a member. One switch per direction. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/internal.h"

/* ---- member -> value ---- */

dsql_value dsql__attr_value(const dsql_attr *a, const void *row)
{
    dsql_value v = {.kind = DSQL_V_NULL};
    if (dsql__attr_is_null(a, row))
        return v;
    const void *p = DSQL__CMEMBER(row, a);
    switch (a->type) {
    case DSQL_T_UUID:
        v.kind = DSQL_V_TEXT;
        v.u.s = ((const dsql_uuid *)p)->str;
        break;
    case DSQL_T_SMALLINT:
        v.kind = DSQL_V_INT;
        v.u.i = *(const int16_t *)p;
        break;
    case DSQL_T_INTEGER:
        v.kind = DSQL_V_INT;
        v.u.i = *(const int32_t *)p;
        break;
    case DSQL_T_BIGINT:
        v.kind = DSQL_V_INT;
        v.u.i = *(const int64_t *)p;
        break;
    case DSQL_T_REAL:
        v.kind = DSQL_V_DOUBLE;
        v.u.d = *(const float *)p;
        break;
    case DSQL_T_DOUBLE:
        v.kind = DSQL_V_DOUBLE;
        v.u.d = *(const double *)p;
        break;
    case DSQL_T_BOOLEAN:
        v.kind = DSQL_V_BOOL;
        v.u.b = *(const bool *)p;
        break;
    case DSQL_T_BYTEA:
        v.kind = DSQL_V_BYTES;
        v.u.bytes.data = ((const dsql_bytes *)p)->data;
        v.u.bytes.len = ((const dsql_bytes *)p)->len;
        break;
    default: /* every text type */
        v.kind = DSQL_V_TEXT;
        v.u.s = *(char *const *)p;
        break;
    }
    return v;
}

int dsql__params_add_for(dsql__params *p, const dsql_attr *a, const dsql_value *v)
{
    int k = dsql__params_add_value(p, v);
    if (a->secret)
        dsql__params_mark_secret(p, k);
    return k;
}

int dsql__params_add_attr(dsql__params *p, const dsql_attr *a, const void *row)
{
    if (a->type == DSQL_T_REAL && !dsql__attr_is_null(a, row)) {
        char buf[32]; /* float's own shortest text, not the double's */
        size_t n = dsql__ftoa(*(const float *)DSQL__CMEMBER(row, a), buf, sizeof buf);
        int k = dsql__params_add_copy(p, buf, n);
        if (k)
            p->flags[k - 1] = DSQL__PF_BARE | (a->secret ? DSQL__PF_SECRET : 0);
        return k;
    }
    dsql_value v = dsql__attr_value(a, row);
    if (a->secret)
        v.flags |= DSQL_VALUE_SECRET;
    return dsql__params_add_value(p, &v);
}

/* ---- caller's value -> checked against an attribute ---- */

static const char *kind_name(dsql_value_kind k)
{
    switch (k) {
    case DSQL_V_NULL:
        return "NULL";
    case DSQL_V_TEXT:
        return "text";
    case DSQL_V_INT:
        return "an integer";
    case DSQL_V_DOUBLE:
        return "a double";
    case DSQL_V_BOOL:
        return "a bool";
    case DSQL_V_BYTES:
        return "bytes";
    }
    return "an unknown kind of value";
}

static int mismatch(const dsql_model *m, const dsql_attr *a, const dsql_value *v, dsql_error *err)
{
    char tn[48], shown[DSQL__PREVIEW_MAX + 8] = "";
    if (a->secret) {
        snprintf(shown, sizeof shown, " <redacted>");
    } else if (v->kind == DSQL_V_TEXT) {
        char pv[DSQL__PREVIEW_MAX];
        snprintf(shown, sizeof shown, " %s", dsql__preview(v->u.s, strlen(v->u.s), pv, sizeof pv));
    } else if (v->kind == DSQL_V_INT) {
        snprintf(shown, sizeof shown, " %" PRId64, v->u.i);
    } else if (v->kind == DSQL_V_BOOL) {
        snprintf(shown, sizeof shown, " %s", v->u.b ? "true" : "false");
    }
    const char *tname = dsql__type_name(a, tn, sizeof tn);
    return dsql_error_set(err, DSQL_EINVAL, "%s.%s: expected %s %s value, got %s%s", m->name,
                          a->name, strchr("AEIO", tname[0]) ? "an" : "a", tname, kind_name(v->kind),
                          shown);
}

static int out_of_range(const dsql_model *m, const dsql_attr *a, const char *shown, dsql_error *err)
{
    char tn[48];
    return dsql_error_set(err, DSQL_EVALIDATION, "%s.%s: %s is out of range for %s", m->name,
                          a->name, a->secret ? "<redacted>" : shown,
                          dsql__type_name(a, tn, sizeof tn));
}

static int check_int(const dsql_model *m, const dsql_attr *a, const dsql_value *v, dsql_error *err)
{
    int64_t lo = a->type == DSQL_T_SMALLINT  ? INT16_MIN
                 : a->type == DSQL_T_INTEGER ? INT32_MIN
                                             : INT64_MIN;
    int64_t hi = a->type == DSQL_T_SMALLINT  ? INT16_MAX
                 : a->type == DSQL_T_INTEGER ? INT32_MAX
                                             : INT64_MAX;
    char shown[DSQL__PREVIEW_MAX];
    if (v->kind == DSQL_V_INT) {
        if (v->u.i >= lo && v->u.i <= hi)
            return DSQL_OK;
        snprintf(shown, sizeof shown, "%" PRId64, v->u.i);
        return out_of_range(m, a, shown, err);
    }
    if (v->kind != DSQL_V_TEXT)
        return mismatch(m, a, v, err);
    int64_t x;
    size_t len = strlen(v->u.s);
    if (dsql__strtoi64(v->u.s, len, lo, hi, &x))
        return DSQL_OK;
    if (dsql__strtoi64(v->u.s, len, INT64_MIN, INT64_MAX, &x))
        return out_of_range(m, a, dsql__preview(v->u.s, len, shown, sizeof shown), err);
    return mismatch(m, a, v, err);
}

int dsql__value_check(const dsql_model *m, const dsql_attr *a, const dsql_value *v, dsql__use use,
                      dsql_error *err)
{
    if (v->kind == DSQL_V_NULL || (v->kind == DSQL_V_TEXT && !v->u.s))
        return DSQL_OK;
    if ((v->flags & DSQL_VALUE_SECRET) && !a->secret) {
        dsql_attr hidden = *a; /* a secret value: its errors never quote it */
        hidden.secret = true;
        return dsql__value_check(m, &hidden, v, use, err);
    }
    if (use == DSQL__USE_PATTERN) {
        if (a->type != DSQL_T_STRING && a->type != DSQL_T_TEXT && a->type != DSQL_T_CHAR) {
            char tn[48];
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s.%s: LIKE/ILIKE needs a STRING, TEXT or CHAR attribute, "
                                  "not %s",
                                  m->name, a->name, dsql__type_name(a, tn, sizeof tn));
        }
        if (v->kind != DSQL_V_TEXT)
            return mismatch(m, a, v, err);
    }
    switch (a->type) {
    case DSQL_T_SMALLINT:
    case DSQL_T_INTEGER:
    case DSQL_T_BIGINT:
        return check_int(m, a, v, err);
    case DSQL_T_REAL:
    case DSQL_T_DOUBLE: {
        double d;
        if (v->kind == DSQL_V_DOUBLE || v->kind == DSQL_V_INT)
            return DSQL_OK;
        if (v->kind == DSQL_V_TEXT && dsql__strtod(v->u.s, strlen(v->u.s), &d))
            return DSQL_OK;
        return mismatch(m, a, v, err);
    }
    case DSQL_T_BOOLEAN:
        return v->kind == DSQL_V_BOOL ? DSQL_OK : mismatch(m, a, v, err);
    case DSQL_T_BYTEA:
        return v->kind == DSQL_V_BYTES || v->kind == DSQL_V_TEXT ? DSQL_OK : mismatch(m, a, v, err);
    case DSQL_T_NUMERIC: {
        char buf[40];
        const char *s = v->u.s;
        size_t len;
        if (v->kind == DSQL_V_INT) {
            len = (size_t)snprintf(buf, sizeof buf, "%" PRId64, v->u.i);
            s = buf;
        } else if (v->kind == DSQL_V_DOUBLE) {
            len = dsql__dtoa(v->u.d, buf, sizeof buf);
            s = buf;
        } else if (v->kind == DSQL_V_TEXT) {
            len = strlen(s);
        } else {
            return mismatch(m, a, v, err);
        }
        if (use == DSQL__USE_STORE)
            return dsql__validate_text(m, a, s, len, err);
        dsql_attr loose = *a; /* a comparison needs a number, not one that fits */
        loose.precision = loose.scale = DSQL__NUMERIC_ANY;
        return dsql__validate_text(m, &loose, s, len, err);
    }
    default:
        break;
    }
    /* UUID, text, calendar and JSON types take text. */
    if (v->kind != DSQL_V_TEXT)
        return mismatch(m, a, v, err);
    size_t len = strlen(v->u.s);
    if (use != DSQL__USE_STORE &&
        (a->type == DSQL_T_STRING || a->type == DSQL_T_CHAR || a->type == DSQL_T_TEXT)) {
        size_t bad = 0;
        if (dsql__utf8_chars(v->u.s, len, &bad) < 0)
            return dsql_error_set(err, DSQL_EVALIDATION,
                                  "%s.%s: not valid UTF-8 (bad byte 0x%02x at offset %zu)", m->name,
                                  a->name, (unsigned char)v->u.s[bad], bad);
        return DSQL_OK;
    }
    return dsql__validate_text(m, a, v->u.s, len, err);
}

int dsql__params_add_checked(dsql__params *p, const dsql_model *m, const dsql_attr *a,
                             const dsql_value *v, dsql__use use, dsql_error *err)
{
    int rc = dsql__value_check(m, a, v, use, err);
    if (rc)
        return 0;
    int n;
    if (a->type == DSQL_T_BYTEA && v->kind == DSQL_V_TEXT && v->u.s) {
        dsql_value b = DSQL_BYTES(v->u.s, strlen(v->u.s));
        n = dsql__params_add_value(p, &b);
    } else if (a->type == DSQL_T_REAL && v->kind == DSQL_V_DOUBLE) {
        char buf[32];
        size_t len = dsql__ftoa((float)v->u.d, buf, sizeof buf);
        n = dsql__params_add_copy(p, buf, len);
        if (n)
            p->flags[n - 1] = DSQL__PF_BARE;
    } else {
        n = dsql__params_add_value(p, v);
    }
    if (!n)
        dsql__params_error(p, err);
    else if (a->secret || (v->flags & DSQL_VALUE_SECRET))
        dsql__params_mark_secret(p, n);
    return n;
}

/* ---- server text -> member ---- */

static int bad_text(const dsql_model *m, const dsql_attr *a, const char *text, size_t len,
                    dsql_error *err)
{
    char pv[DSQL__PREVIEW_MAX], tn[48];
    return dsql_error_set(err, DSQL_EPARSE, "%s.%s: the server sent %s, not a %s value", m->name,
                          a->name,
                          a->secret ? "<redacted>" : dsql__preview(text, len, pv, sizeof pv),
                          dsql__type_name(a, tn, sizeof tn));
}

/* bytea text output: hex (\x...), or the older escape format. False when malformed or
 * out of memory (*oom says which). */
static bool decode_bytea(const char *s, size_t len, dsql__arena *arena, dsql_bytes *out, bool *oom)
{
    const unsigned char *p = (const unsigned char *)s;
    if (len >= 2 && p[0] == '\\' && p[1] == 'x') {
        if ((len - 2) % 2)
            return false;
        size_t n = (len - 2) / 2;
        unsigned char *d = dsql__arena_alloc(arena, n);
        if (!d)
            return !(*oom = true);
        for (size_t i = 0; i < n; i++) {
            int hi = dsql__hexval(p[2 + 2 * i]), lo = dsql__hexval(p[3 + 2 * i]);
            if (hi < 0 || lo < 0)
                return false;
            d[i] = (unsigned char)(hi << 4 | lo);
        }
        out->data = d;
        out->len = n;
        return true;
    }
    unsigned char *d = dsql__arena_alloc(arena, len);
    if (!d)
        return !(*oom = true);
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        if (p[i] != '\\') {
            d[n++] = p[i++];
        } else if (i + 1 < len && p[i + 1] == '\\') {
            d[n++] = '\\';
            i += 2;
        } else if (i + 3 < len && p[i + 1] >= '0' && p[i + 1] <= '3' && p[i + 2] >= '0' &&
                   p[i + 2] <= '7' && p[i + 3] >= '0' && p[i + 3] <= '7') {
            d[n++] =
                (unsigned char)((p[i + 1] - '0') * 64 + (p[i + 2] - '0') * 8 + (p[i + 3] - '0'));
            i += 4;
        } else {
            return false;
        }
    }
    out->data = d;
    out->len = n;
    return true;
}

int dsql__attr_decode(const dsql_model *m, const dsql_attr *a, void *row, const char *text,
                      size_t len, dsql__arena *arena, dsql_error *err)
{
    if (!text) {
        /* A scalar without a presence flag has no way to hold NULL: 0 or false would be an
         * invented value that passes validation and is written back. */
        if (dsql__type_is_scalar(a->type) && !a->has_offset) {
            char tn[48];
            return dsql_error_set(err, DSQL_EPARSE,
                                  "%s.%s: the server sent NULL, and the %s member has no presence "
                                  "flag to hold it (declare DSQL_HAS(T, has_x), or make the "
                                  "column NOT NULL)",
                                  m->name, a->name, dsql__type_name(a, tn, sizeof tn));
        }
        dsql__attr_set_null(a, row);
        return DSQL_OK;
    }
    void *p = DSQL__MEMBER(row, a);
    int64_t i;
    switch (a->type) {
    case DSQL_T_UUID:
        if (len != 36)
            return bad_text(m, a, text, len, err);
        memcpy(((dsql_uuid *)p)->str, text, 36);
        ((dsql_uuid *)p)->str[36] = '\0';
        break;
    case DSQL_T_SMALLINT:
        if (!dsql__strtoi64(text, len, INT16_MIN, INT16_MAX, &i))
            return bad_text(m, a, text, len, err);
        *(int16_t *)p = (int16_t)i;
        break;
    case DSQL_T_INTEGER:
        if (!dsql__strtoi64(text, len, INT32_MIN, INT32_MAX, &i))
            return bad_text(m, a, text, len, err);
        *(int32_t *)p = (int32_t)i;
        break;
    case DSQL_T_BIGINT:
        if (!dsql__strtoi64(text, len, INT64_MIN, INT64_MAX, &i))
            return bad_text(m, a, text, len, err);
        *(int64_t *)p = i;
        break;
    case DSQL_T_REAL:
        if (!dsql__strtof(text, len, (float *)p))
            return bad_text(m, a, text, len, err);
        break;
    case DSQL_T_DOUBLE:
        if (!dsql__strtod(text, len, (double *)p))
            return bad_text(m, a, text, len, err);
        break;
    case DSQL_T_BOOLEAN:
        if (len == 1 && (text[0] == 't' || text[0] == 'f'))
            *(bool *)p = text[0] == 't';
        else
            return bad_text(m, a, text, len, err);
        break;
    case DSQL_T_BYTEA: {
        bool oom = false;
        if (!decode_bytea(text, len, arena, (dsql_bytes *)p, &oom))
            return oom ? dsql_error_set(err, DSQL_ENOMEM, "out of memory decoding %s.%s", m->name,
                                        a->name)
                       : bad_text(m, a, text, len, err);
        break;
    }
    default: /* text types point into the server's result: no copy */
        *(char **)p = (char *)text;
        break;
    }
    if (a->has_offset)
        *((bool *)((char *)row + a->has_offset - 1)) = true;
    return DSQL_OK;
}

bool dsql__type_is_number(dsql_type_id t)
{
    switch (t) {
    case DSQL_T_SMALLINT:
    case DSQL_T_INTEGER:
    case DSQL_T_BIGINT:
    case DSQL_T_REAL:
    case DSQL_T_DOUBLE:
    case DSQL_T_NUMERIC:
        return true;
    default:
        return false;
    }
}
