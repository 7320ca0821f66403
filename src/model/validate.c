/* Validation before any round trip: NOT NULL, UTF-8 and length in characters, UUID and
 * calendar syntax, numeric precision and scale, JSON syntax. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "model/internal.h"

/* ---- UTF-8 ---- */

size_t dsql__utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    if (c < 0x80)
        return c ? 1 : 0;
    size_t n;
    unsigned min, cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

long dsql__utf8_chars(const char *s, size_t len, size_t *bad)
{
    const unsigned char *p = (const unsigned char *)s;
    long chars = 0;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80 && p[i]) {
            i++;
            chars++;
            continue;
        }
        size_t n = dsql__utf8_seq(p + i, len - i);
        if (!n) {
            if (bad)
                *bad = i;
            return -1;
        }
        i += n;
        chars++;
    }
    return chars;
}

const char *dsql__key_preview(const dsql_value *v, char *buf, size_t cap)
{
    if (v->kind == DSQL_V_TEXT && v->u.s)
        return dsql__preview(v->u.s, strlen(v->u.s), buf, cap);
    if (v->kind == DSQL_V_INT)
        snprintf(buf, cap, "%lld", (long long)v->u.i);
    else
        snprintf(buf, cap, "that key");
    return buf;
}

const char *dsql__preview(const char *s, size_t len, char *buf, size_t cap)
{
    enum { MAX_CHARS = 24 };
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, i = 0;
    int chars = 0;
    if (cap < 16) {
        if (cap)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    while (i < len && chars < MAX_CHARS && o + 12 < cap) {
        size_t n = p[i] >= 0x80 ? dsql__utf8_seq(p + i, len - i) : 1;
        if (n > 1) {
            memcpy(buf + o, p + i, n);
            o += n;
            i += n;
        } else if (p[i] < 0x20 || p[i] == 0x7f || p[i] >= 0x80) {
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", p[i]);
            i++;
        } else {
            if (p[i] == '"' || p[i] == '\\')
                buf[o++] = '\\';
            buf[o++] = (char)p[i++];
        }
        chars++;
    }
    buf[o++] = '"';
    if (i < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* ---- calendar ---- */

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool is_infinity(const char *s, size_t len)
{
    if (len && (*s == '-' || *s == '+')) {
        s++;
        len--;
    }
    return len == 8 && !strncasecmp(s, "infinity", 8);
}

/* y is an astronomical year (1 BC = 0, 2 BC = -1): the proleptic Gregorian calendar. */
static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* PostgreSQL's range: 4714 BC (its lower bound, which begins in November) to 5874897 for a
 * date, to 294276 for a timestamp. */
#define DATE_MAX_YEAR      5874897
#define TIMESTAMP_MAX_YEAR 294276
#define BC_MAX_YEAR        4714

/* A date as PostgreSQL writes one in ISO style, YYYY-MM-DD (4 to 7 year digits), at the
 * start of s: a real calendar date of a year from 1 to max_year (BC when bc, up to 4714
 * BC). Returns the length used, 0 if bad. */
static size_t parse_date(const char *s, size_t len, bool bc, int max_year)
{
    size_t yl = 0;
    while (yl < len && yl < 8 && s[yl] >= '0' && s[yl] <= '9')
        yl++;
    int y, mo, d;
    if (yl < 4 || yl > 7 || len < yl + 6 || s[yl] != '-' || s[yl + 3] != '-')
        return 0;
    if (!digits(s, yl, &y) || !digits(s + yl + 1, 2, &mo) || !digits(s + yl + 4, 2, &d))
        return 0;
    if (y < 1 || y > (bc ? BC_MAX_YEAR : max_year) || mo < 1 || mo > 12 || d < 1 ||
        d > days_in_month(bc ? 1 - y : y, mo))
        return 0;
    return yl + 6;
}

/* Strips PostgreSQL's " BC" suffix (it ends the whole value) from *len. */
static bool strip_bc(const char *s, size_t *len)
{
    if (*len > 3 && !strncmp(s + *len - 3, " BC", 3)) {
        *len -= 3;
        return true;
    }
    return false;
}

/* HH:MM[:SS[.ffffff]]; 24:00[:00[.0...]] allowed. Returns the length used, 0 if bad. */
static size_t parse_time(const char *s, size_t len)
{
    int h, mi, sec = 0;
    bool frac_nonzero = false;
    if (len < 5 || s[2] != ':' || !digits(s, 2, &h) || !digits(s + 3, 2, &mi))
        return 0;
    size_t i = 5;
    if (i < len && s[i] == ':') {
        if (len - i < 3 || !digits(s + i + 1, 2, &sec))
            return 0;
        i += 3;
        if (i < len && s[i] == '.') {
            size_t f = ++i;
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                frac_nonzero |= s[i] != '0';
                i++;
            }
            if (i == f || i - f > 6)
                return 0;
        }
    }
    if (h == 24)
        return mi == 0 && sec == 0 && !frac_nonzero ? i : 0;
    return h < 24 && mi < 60 && sec < 60 ? i : 0;
}

/* Z, UTC, or [+-]HH[[:]MM[[:]SS]], optionally after one space. */
static bool parse_zone(const char *s, size_t len)
{
    if (len && *s == ' ') {
        s++;
        len--;
    }
    if ((len == 1 && (*s == 'Z' || *s == 'z')) || (len == 3 && !strncasecmp(s, "UTC", 3)))
        return true;
    if (len < 3 || (*s != '+' && *s != '-'))
        return false;
    int h, m = 0, sec = 0;
    if (!digits(s + 1, 2, &h) || h > 15)
        return false;
    size_t i = 3;
    for (int part = 0; part < 2 && i < len; part++) {
        if (s[i] == ':')
            i++;
        int v;
        if (len - i < 2 || !digits(s + i, 2, &v) || v > 59)
            return false;
        if (part == 0)
            m = v;
        else
            sec = v;
        i += 2;
    }
    (void)m;
    (void)sec;
    return i == len;
}

bool dsql__check_date(const char *s, size_t len)
{
    if (is_infinity(s, len))
        return true;
    bool bc = strip_bc(s, &len);
    return parse_date(s, len, bc, DATE_MAX_YEAR) == len;
}

bool dsql__check_time(const char *s, size_t len)
{
    return len >= 5 && parse_time(s, len) == len;
}

bool dsql__check_timestamp(const char *s, size_t len, bool with_zone)
{
    if (is_infinity(s, len))
        return true;
    bool bc = strip_bc(s, &len);
    size_t i = parse_date(s, len, bc, TIMESTAMP_MAX_YEAR);
    if (!i)
        return false;
    if (i < len && (s[i] == 'T' || s[i] == 't' || s[i] == ' ') && len - i > 1 && s[i + 1] >= '0' &&
        s[i + 1] <= '9') {
        size_t t = parse_time(s + i + 1, len - i - 1);
        if (!t)
            return false;
        i += 1 + t;
    }
    if (i == len)
        return true;
    return with_zone && parse_zone(s + i, len - i);
}

/* ---- numeric ---- */

/* Checks numeric text; on failure writes the problem into why (without the value). */
static bool check_numeric(const dsql_attr *a, const char *s, size_t len, char *why, size_t cap)
{
    size_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    if ((len - i == 3 && !strncasecmp(s + i, "nan", 3) && i == 0))
        return true;
    if ((len - i == 8 && !strncasecmp(s + i, "infinity", 8)) ||
        (len - i == 3 && !strncasecmp(s + i, "inf", 3))) {
        if (a->precision == DSQL__NUMERIC_ANY)
            return true;
        int prec, scale;
        dsql__numeric_ps(a, &prec, &scale);
        snprintf(why, cap, "Infinity does not fit a NUMERIC(%d,%d)", prec, scale);
        return false;
    }
    size_t i0 = i;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t int_len = i - i0, f0 = i, frac_len = 0;
    if (i < len && s[i] == '.') {
        f0 = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        frac_len = i - f0;
    }
    long exp = 0;
    if (int_len + frac_len == 0)
        goto syntax;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool neg = false;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            neg = s[i++] == '-';
        size_t e0 = i;
        while (i < len && s[i] >= '0' && s[i] <= '9' && i - e0 < 7)
            exp = exp * 10 + (s[i++] - '0');
        if (i == e0 || (i < len && s[i] >= '0' && s[i] <= '9'))
            goto syntax;
        if (neg)
            exp = -exp;
    }
    if (i != len)
        goto syntax;
    /* The power of ten of the first and last non-zero digits decides what fits. */
    long point = (long)int_len + exp, hi = 0, lo = 0;
    bool nonzero = false;
    for (size_t k = 0; k < int_len + frac_len; k++) {
        char c = k < int_len ? s[i0 + k] : s[f0 + k - int_len];
        if (c != '0') {
            long pw = point - 1 - (long)k;
            if (!nonzero)
                hi = pw;
            lo = pw;
            nonzero = true;
        }
    }
    if (!nonzero)
        return true;
    long need_int = hi >= 0 ? hi + 1 : 0, need_frac = lo < 0 ? -lo : 0;
    int prec, scale;
    dsql__numeric_ps(a, &prec, &scale);
    /* A comparison takes any number of PostgreSQL's numeric range. */
    long max_int = a->precision == DSQL__NUMERIC_ANY ? 131072 : prec - scale;
    long max_frac = a->precision == DSQL__NUMERIC_ANY ? 16383 : scale;
    if (need_int > max_int) {
        snprintf(why, cap, "%ld digits before the point, the NUMERIC's precision allows %ld",
                 need_int, max_int);
        return false;
    }
    if (need_frac > max_frac) {
        snprintf(why, cap,
                 "%ld digits after the point, the NUMERIC's scale allows %ld (it would be "
                 "rounded)",
                 need_frac, max_frac);
        return false;
    }
    return true;
syntax:
    snprintf(why, cap, "not a number (digits, an optional point and exponent, or NaN)");
    return false;
}

/* ---- per attribute ---- */

static int bad_value(dsql_error *err, const dsql_model *m, const dsql_attr *a, const char *s,
                     size_t len, const char *problem)
{
    char pv[DSQL__PREVIEW_MAX], tn[48];
    return dsql_error_set(err, DSQL_EVALIDATION, "%s.%s: %s %s (%s)", m->name, a->name,
                          a->secret ? "<redacted>" : dsql__preview(s, len, pv, sizeof pv), problem,
                          dsql__type_name(a, tn, sizeof tn));
}

int dsql__validate_text(const dsql_model *m, const dsql_attr *a, const char *s, size_t len,
                        dsql_error *err)
{
    char tn[48], why[160];
    size_t bad = 0;
    if (len > DSQL__VALUE_MAX || (a->type == DSQL_T_STRING && len > DSQL__VARCHAR_MAX)) {
        size_t max = a->type == DSQL_T_STRING ? DSQL__VARCHAR_MAX : DSQL__VALUE_MAX;
        return dsql_error_set(err, DSQL_EVALIDATION,
                              "%s.%s: %zu bytes, more than the %zu bytes Aurora DSQL stores in "
                              "a %s value",
                              m->name, a->name, len, max, dsql__type_name(a, tn, sizeof tn));
    }
    switch (a->type) {
    case DSQL_T_UUID:
        if (!dsql__check_uuid(s, len))
            return bad_value(err, m, a, s, len, "is not a UUID");
        return DSQL_OK;
    case DSQL_T_DATEONLY:
        if (!dsql__check_date(s, len))
            return bad_value(err, m, a, s, len, "is not a date YYYY-MM-DD on the calendar");
        return DSQL_OK;
    case DSQL_T_TIME:
        if (!dsql__check_time(s, len))
            return bad_value(err, m, a, s, len, "is not a time HH:MM[:SS[.ffffff]]");
        return DSQL_OK;
    case DSQL_T_TIMESTAMP:
        if (!dsql__check_timestamp(s, len, false))
            return bad_value(err, m, a, s, len,
                             "is not a timestamp YYYY-MM-DD[ HH:MM[:SS[.ffffff]]] without zone");
        return DSQL_OK;
    case DSQL_T_TIMESTAMPTZ:
        if (!dsql__check_timestamp(s, len, true))
            return bad_value(err, m, a, s, len,
                             "is not a timestamp YYYY-MM-DD[ HH:MM[:SS[.ffffff]]][Z|+HH:MM]");
        return DSQL_OK;
    case DSQL_T_NUMERIC:
        if (!check_numeric(a, s, len, why, sizeof why))
            return bad_value(err, m, a, s, len, why);
        return DSQL_OK;
    case DSQL_T_JSON:
    case DSQL_T_JSONB: {
        const char *jwhy = NULL;
        if (!dsql__check_json(s, len, a->type == DSQL_T_JSONB, &jwhy)) {
            snprintf(why, sizeof why, "is not valid JSON: %s", jwhy ? jwhy : "syntax error");
            return bad_value(err, m, a, s, len, why);
        }
        return DSQL_OK;
    }
    default:
        break;
    }
    /* Text: valid UTF-8, length in characters. */
    long chars = dsql__utf8_chars(s, len, &bad);
    if (chars < 0)
        return dsql_error_set(err, DSQL_EVALIDATION,
                              "%s.%s: not valid UTF-8 (bad byte 0x%02x at offset %zu)", m->name,
                              a->name, (unsigned char)s[bad], bad);
    if ((a->type == DSQL_T_STRING || a->type == DSQL_T_CHAR) && a->length > 0 && chars > a->length)
        return dsql_error_set(err, DSQL_EVALIDATION, "%s.%s: %ld characters, longer than %s",
                              m->name, a->name, chars, dsql__type_name(a, tn, sizeof tn));
    /* char(n) is stored padded with spaces to n characters, in at most 4,096 bytes. */
    if (a->type == DSQL_T_CHAR && len + (size_t)(a->length - chars) > DSQL__CHAR_MAX)
        return dsql_error_set(err, DSQL_EVALIDATION,
                              "%s.%s: %zu bytes once padded to %d characters, more than the %d "
                              "bytes Aurora DSQL stores in a %s value",
                              m->name, a->name, len + (size_t)(a->length - chars), (int)a->length,
                              DSQL__CHAR_MAX, dsql__type_name(a, tn, sizeof tn));
    if (a->type == DSQL_T_INTERVAL && len == 0)
        return bad_value(err, m, a, s, len, "is not an interval");
    return DSQL_OK;
}

static bool null_allowed(const dsql_attr *a)
{
    return !(a->not_null || a->primary_key);
}

static bool has_default(const dsql_attr *a)
{
    return a->default_sql || a->default_uuid_v4 || a->default_value.kind != DSQL_V_NULL;
}

int dsql__validate_attr(const dsql_model *m, const dsql_attr *a, const void *row, bool allow_null,
                        dsql_error *err)
{
    if (dsql__attr_is_null(a, row)) {
        if (allow_null || null_allowed(a))
            return DSQL_OK;
        return dsql_error_set(err, DSQL_EVALIDATION, "%s.%s: NULL, but the attribute is %s",
                              m->name, a->name, a->primary_key ? "the primary key" : "NOT NULL");
    }
    const void *p = DSQL__CMEMBER(row, a);
    if (a->type == DSQL_T_UUID) {
        const char *s = ((const dsql_uuid *)p)->str;
        size_t n = strnlen(s, sizeof(dsql_uuid));
        if (n == sizeof(dsql_uuid))
            return dsql_error_set(err, DSQL_EVALIDATION, "%s.%s: dsql_uuid is not NUL-terminated",
                                  m->name, a->name);
        return dsql__validate_text(m, a, s, n, err);
    }
    if (dsql__type_is_text(a->type)) {
        const char *s = *(char *const *)p;
        return dsql__validate_text(m, a, s, strlen(s), err);
    }
    if (a->type == DSQL_T_BYTEA) {
        const dsql_bytes *b = p;
        if (b->len > DSQL__VALUE_MAX)
            return dsql_error_set(err, DSQL_EVALIDATION,
                                  "%s.%s: %zu bytes, more than the %d bytes Aurora DSQL stores in "
                                  "a BYTEA value",
                                  m->name, a->name, b->len, DSQL__VALUE_MAX);
    }
    return DSQL_OK; /* scalars: the C type holds only valid values */
}

/* A row about to be written: NULL is fine where a default will fill it. */
static int validate_call(const dsql_model *m, const void *row, dsql_error *err)
{
    int rc = dsql__model_check(m, err);
    if (rc)
        return rc;
    if (!row)
        return dsql_error_set(err, DSQL_EINVAL, "%s: row is NULL", m->name);
    for (size_t i = 0; i < m->n_attrs; i++) {
        const dsql_attr *a = &m->attrs[i];
        rc = dsql__validate_attr(m, a, row, has_default(a), err);
        if (rc)
            return rc;
    }
    return dsql__checks_row(m, row, err);
}

int dsql_validate(const dsql_model *m, const void *row, dsql_error *err)
{
    return dsql__api_ret("dsql_validate", validate_call(m, row, err), err);
}
