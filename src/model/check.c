/* Validators: the dsql_check tables of attributes and the model-level row check, run on
 * the values about to be written before anything is sent. Errors name the model, the
 * attribute and the check, never the value (it may be a secret). */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

/* ---- compiled patterns, kept for the life of the process ---- */

#define PATTERN_CACHE_MAX 128

static struct {
    char *text;
    regex_t re;
} pattern_cache[PATTERN_CACHE_MAX];
static size_t pattern_count;
static pthread_mutex_t pattern_lock = PTHREAD_MUTEX_INITIALIZER;

/* The compiled form of pattern: from the cache, or compiled into *tmp (the caller frees it
 * when *tmp_used) once the cache is full. NULL with why set when it does not compile. */
static const regex_t *pattern_get(const char *pattern, regex_t *tmp, bool *tmp_used, char *why,
                                  size_t cap)
{
    *tmp_used = false;
    pthread_mutex_lock(&pattern_lock);
    for (size_t i = 0; i < pattern_count; i++) {
        if (!strcmp(pattern_cache[i].text, pattern)) {
            const regex_t *re = &pattern_cache[i].re;
            pthread_mutex_unlock(&pattern_lock);
            return re;
        }
    }
    regex_t *re = pattern_count < PATTERN_CACHE_MAX ? &pattern_cache[pattern_count].re : tmp;
    int rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        regerror(rc, re, why, cap);
        pthread_mutex_unlock(&pattern_lock);
        return NULL;
    }
    if (re == tmp) {
        *tmp_used = true;
    } else {
        char *copy = strdup(pattern);
        if (!copy) {
            regfree(re);
            snprintf(why, cap, "out of memory");
            pthread_mutex_unlock(&pattern_lock);
            return NULL;
        }
        pattern_cache[pattern_count++].text = copy;
    }
    pthread_mutex_unlock(&pattern_lock);
    return re;
}

/* ---- the forms: e-mail and URL ---- */

static bool is_atext(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* A DNS host name of letters, digits and hyphens: labels of 1-63, not starting or ending
 * with a hyphen, 253 characters at most; with a top-level label of two letters at least
 * (or an xn-- one) when need_tld. */
static bool is_hostname(const char *s, size_t n, bool need_tld)
{
    if (n == 0 || n > 253)
        return false;
    size_t labels = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            unsigned char c = (unsigned char)s[i];
            if (!isalnum(c) && c != '-')
                return false;
            continue;
        }
        size_t len = i - start;
        if (len == 0 || len > 63 || s[start] == '-' || s[i - 1] == '-')
            return false;
        labels++;
        if (i == n && need_tld) {
            bool alpha = len >= 2;
            for (size_t k = start; k < i && alpha; k++)
                alpha = isalpha((unsigned char)s[k]) != 0;
            if (!alpha && !(len > 4 && !strncmp(s + start, "xn--", 4)))
                return false;
        }
        start = i + 1;
    }
    return !need_tld || labels >= 2;
}

static bool is_email(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (!at || n > 254)
        return false;
    size_t local = (size_t)(at - s);
    if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.')
        return false;
    for (size_t i = 0; i < local; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' ? s[i + 1] == '.' : !is_atext(c))
            return false;
    }
    return is_hostname(at + 1, n - local - 1, true);
}

static bool is_ipv4(const char *s, size_t n)
{
    int parts = 0;
    size_t i = 0;
    while (i < n) {
        size_t d = 0;
        unsigned v = 0;
        while (i < n && isdigit((unsigned char)s[i]) && d < 4) {
            v = v * 10 + (unsigned)(s[i++] - '0');
            d++;
        }
        if (d == 0 || d > 3 || v > 255 || (d > 1 && s[i - d] == '0'))
            return false;
        parts++;
        if (i < n && (s[i++] != '.' || i == n))
            return false;
    }
    return parts == 4;
}

static bool is_url(const char *s, size_t n)
{
    static const char *const schemes[] = {"http://", "https://", "ftp://"};
    size_t skip = 0;
    for (size_t i = 0; i < DSQL__ARRAY_LEN(schemes) && !skip; i++) {
        size_t k = strlen(schemes[i]);
        if (n > k && !strncasecmp(s, schemes[i], k))
            skip = k;
    }
    if (!skip)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f)
            return false;
    }
    const char *h = s + skip, *end = s + n;
    const char *stop = h;
    while (stop < end && *stop != '/' && *stop != '?' && *stop != '#')
        stop++;
    const char *at = NULL; /* user info */
    for (const char *q = h; q < stop; q++)
        if (*q == '@')
            at = q;
    if (at)
        h = at + 1;
    const char *port = NULL, *hend = stop;
    if (h < stop && *h == '[') {
        const char *close = memchr(h, ']', (size_t)(stop - h));
        if (!close || close == h + 1)
            return false;
        for (const char *q = h + 1; q < close; q++)
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
                return false;
        if (close + 1 < stop && close[1] != ':')
            return false;
        port = close + 1 < stop ? close + 1 : NULL;
    } else {
        port = memchr(h, ':', (size_t)(stop - h));
        hend = port ? port : stop;
        size_t hn = (size_t)(hend - h);
        if (!is_ipv4(h, hn) && !(hn == 9 && !strncasecmp(h, "localhost", 9)) &&
            !is_hostname(h, hn, true))
            return false;
    }
    if (port) {
        long v = 0;
        size_t d = 0;
        for (const char *q = port + 1; q < stop; q++, d++) {
            if (!isdigit((unsigned char)*q) || d >= 5)
                return false;
            v = v * 10 + (*q - '0');
        }
        if (d == 0 || v < 1 || v > 65535)
            return false;
    }
    return true;
}

/* ---- one check ---- */

static const char *kind_name(dsql_check_kind k)
{
    switch (k) {
    case DSQL_CK_LEN:
        return "length";
    case DSQL_CK_RANGE:
        return "range";
    case DSQL_CK_PATTERN:
        return "pattern";
    case DSQL_CK_NOT_PATTERN:
        return "not-pattern";
    case DSQL_CK_IS_IN:
        return "is-in";
    case DSQL_CK_NOT_IN:
        return "not-in";
    case DSQL_CK_EMAIL:
        return "email";
    case DSQL_CK_URL:
        return "url";
    case DSQL_CK_NOT_EMPTY:
        return "not-empty";
    case DSQL_CK_FN:
        return "custom";
    default:
        return "?";
    }
}

static bool text_type(dsql_type_id t)
{
    return t == DSQL_T_STRING || t == DSQL_T_TEXT || t == DSQL_T_CHAR;
}

static bool number_type(dsql_type_id t)
{
    return t == DSQL_T_SMALLINT || t == DSQL_T_INTEGER || t == DSQL_T_BIGINT || t == DSQL_T_REAL ||
           t == DSQL_T_DOUBLE || t == DSQL_T_NUMERIC;
}

static void format_bound(double d, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.17g", d);
}

static int check_fail(dsql_error *err, const dsql_model *m, const dsql_attr *a, const dsql_check *c,
                      const char *why)
{
    return dsql_error_set(err, DSQL_EVALIDATION, "%s.%s: %s (%s check)", m->name, a->name,
                          c->message ? c->message : why, kind_name(c->kind));
}

static int check_len(const dsql_model *m, const dsql_attr *a, const dsql_check *c,
                     const dsql_value *v, dsql_error *err)
{
    double len;
    const char *unit = "characters";
    if (v->kind == DSQL_V_BYTES) {
        len = (double)v->u.bytes.len;
        unit = "bytes";
    } else {
        size_t bad = 0;
        long chars = dsql__utf8_chars(v->u.s, strlen(v->u.s), &bad);
        if (chars < 0)
            return check_fail(err, m, a, c, "not valid UTF-8");
        len = (double)chars;
    }
    if (len >= c->lo && len <= c->hi)
        return DSQL_OK;
    char why[160], lo[32], hi[32];
    format_bound(c->lo, lo, sizeof lo);
    format_bound(c->hi, hi, sizeof hi);
    if (isinf(c->hi))
        snprintf(why, sizeof why, "%.0f %s, fewer than %s", len, unit, lo);
    else
        snprintf(why, sizeof why, "%.0f %s, not between %s and %s", len, unit, lo, hi);
    return check_fail(err, m, a, c, why);
}

static int check_range(const dsql_model *m, const dsql_attr *a, const dsql_check *c,
                       const dsql_value *v, dsql_error *err)
{
    long double x;
    if (v->kind == DSQL_V_INT) {
        x = (long double)v->u.i;
    } else if (v->kind == DSQL_V_DOUBLE) {
        x = v->u.d;
    } else if (v->kind == DSQL_V_TEXT) {
        char *end = NULL;
        x = strtold(v->u.s, &end);
        if (end == v->u.s)
            return check_fail(err, m, a, c, "not a number");
    } else {
        return check_fail(err, m, a, c, "not a number");
    }
    if (!isnan(x) && x >= (long double)c->lo && x <= (long double)c->hi)
        return DSQL_OK;
    char why[160], lo[32], hi[32];
    format_bound(c->lo, lo, sizeof lo);
    format_bound(c->hi, hi, sizeof hi);
    if (isinf(c->lo) && c->lo < 0)
        snprintf(why, sizeof why, "more than %s", hi);
    else if (isinf(c->hi))
        snprintf(why, sizeof why, "less than %s", lo);
    else
        snprintf(why, sizeof why, "not between %s and %s", lo, hi);
    return check_fail(err, m, a, c, why);
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

static int run_one(const dsql_model *m, const dsql_attr *a, const dsql_check *c,
                   const dsql_value *v, dsql_error *err)
{
    const char *s = v->kind == DSQL_V_TEXT ? v->u.s : "";
    switch (c->kind) {
    case DSQL_CK_LEN:
        return check_len(m, a, c, v, err);
    case DSQL_CK_RANGE:
        return check_range(m, a, c, v, err);
    case DSQL_CK_PATTERN:
    case DSQL_CK_NOT_PATTERN: {
        char why[200];
        regex_t tmp;
        bool tmp_used;
        const regex_t *re = pattern_get(c->pattern, &tmp, &tmp_used, why, sizeof why);
        if (!re)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "%s.%s: the check's pattern does not "
                                  "compile: %s",
                                  m->name, a->name, why);
        bool match = regexec(re, s, 0, NULL, 0) == 0;
        if (tmp_used)
            regfree(&tmp);
        if (match == (c->kind == DSQL_CK_PATTERN))
            return DSQL_OK;
        return check_fail(err, m, a, c,
                          match ? "matches a refused pattern" : "does not match the pattern");
    }
    case DSQL_CK_IS_IN:
    case DSQL_CK_NOT_IN: {
        bool found = false;
        for (size_t i = 0; i < c->n_list && !found; i++)
            found = c->list[i] && !strcmp(c->list[i], s);
        if (found == (c->kind == DSQL_CK_IS_IN))
            return DSQL_OK;
        if (found)
            return check_fail(err, m, a, c, "one of the refused values");
        char why[200];
        snprintf(why, sizeof why, "not one of the %zu allowed values", c->n_list);
        return check_fail(err, m, a, c, why);
    }
    case DSQL_CK_EMAIL:
        return is_email(s, strlen(s)) ? DSQL_OK : check_fail(err, m, a, c, "not an e-mail address");
    case DSQL_CK_URL:
        return is_url(s, strlen(s)) ? DSQL_OK
                                    : check_fail(err, m, a, c, "not an http(s) or ftp URL");
    case DSQL_CK_NOT_EMPTY:
        if (v->kind == DSQL_V_BYTES ? v->u.bytes.len > 0 : !blank(s))
            return DSQL_OK;
        return check_fail(err, m, a, c, "empty");
    case DSQL_CK_FN: {
        char why[256] = "";
        if (c->fn(v, c->ctx, why, sizeof why) == 0)
            return DSQL_OK;
        why[sizeof why - 1] = '\0';
        return check_fail(err, m, a, c, why[0] ? why : "refused");
    }
    default:
        return dsql_error_set(err, DSQL_EINTERNAL, "%s.%s: check kind %d", m->name, a->name,
                              (int)c->kind);
    }
}

/* ---- the entry points ---- */

int dsql__checks_declared(const dsql_model *m, const dsql_attr *a, dsql_error *err)
{
    if (a->n_checks && !a->checks)
        return dsql_error_set(err, DSQL_EINVAL,
                              "model %s: attribute \"%s\": %zu checks but "
                              "no array (declare them with DSQL_CHECKS)",
                              m->name, a->name, a->n_checks);
    for (size_t i = 0; i < a->n_checks; i++) {
        const dsql_check *c = &a->checks[i];
        const char *bad = NULL;
        switch (c->kind) {
        case DSQL_CK_LEN:
            if (!text_type(a->type) && a->type != DSQL_T_BYTEA)
                bad = "a length check needs a STRING, TEXT, CHAR or BYTEA attribute";
            else if (isnan(c->lo) || isnan(c->hi) || c->lo < 0 || c->lo > c->hi)
                bad = "a length check needs 0 <= min <= max";
            break;
        case DSQL_CK_RANGE:
            if (!number_type(a->type))
                bad = "a range check needs a numeric attribute";
            else if (isnan(c->lo) || isnan(c->hi) || c->lo > c->hi)
                bad = "a range check needs lo <= hi";
            break;
        case DSQL_CK_PATTERN:
        case DSQL_CK_NOT_PATTERN:
            if (!text_type(a->type))
                bad = "a pattern check needs a STRING, TEXT or CHAR attribute";
            else if (!c->pattern)
                bad = "a pattern check without a pattern";
            break;
        case DSQL_CK_IS_IN:
        case DSQL_CK_NOT_IN:
            if (!text_type(a->type))
                bad = "an is-in check needs a STRING, TEXT or CHAR attribute";
            else if (!c->list || c->n_list == 0)
                bad = "an is-in check without a list";
            break;
        case DSQL_CK_EMAIL:
        case DSQL_CK_URL:
            if (!text_type(a->type))
                bad = "an email or url check needs a STRING, TEXT or CHAR attribute";
            break;
        case DSQL_CK_NOT_EMPTY:
            if (!text_type(a->type) && a->type != DSQL_T_BYTEA)
                bad = "a not-empty check needs a STRING, TEXT, CHAR or BYTEA attribute";
            break;
        case DSQL_CK_FN:
            if (!c->fn)
                bad = "a custom check without a function";
            break;
        default:
            return dsql_error_set(err, DSQL_EINVAL,
                                  "model %s: attribute \"%s\": check #%zu has kind %d, which is "
                                  "none of DSQL_CK_*",
                                  m->name, a->name, i, (int)c->kind);
        }
        if (bad)
            return dsql_error_set(err, DSQL_EINVAL, "model %s: attribute \"%s\": check #%zu: %s",
                                  m->name, a->name, i, bad);
    }
    return DSQL_OK;
}

int dsql__checks_run(const dsql_model *m, const dsql_attr *a, const dsql_value *v, dsql_error *err)
{
    if (v->kind == DSQL_V_NULL || (v->kind == DSQL_V_TEXT && !v->u.s))
        return DSQL_OK;
    for (size_t i = 0; i < a->n_checks; i++) {
        int rc = run_one(m, a, &a->checks[i], v, err);
        if (rc)
            return rc;
    }
    return DSQL_OK;
}

int dsql__checks_row(const dsql_model *m, const void *row, dsql_error *err)
{
    for (size_t i = 0; i < m->n_attrs; i++) {
        const dsql_attr *a = &m->attrs[i];
        if (!a->n_checks || a->timestamp || a->version) /* written by the library */
            continue;
        dsql_value v = dsql__attr_value(a, row);
        int rc = dsql__checks_run(m, a, &v, err);
        if (rc)
            return rc;
    }
    return dsql__row_validator(m, row, err);
}

int dsql__row_validator(const dsql_model *m, const void *row, dsql_error *err)
{
    if (m->validate) {
        char why[256] = "";
        if (m->validate(row, why, sizeof why)) {
            why[sizeof why - 1] = '\0';
            return dsql_error_set(err, DSQL_EVALIDATION, "%s: %s (the model's validator)", m->name,
                                  why[0] ? why : "refused");
        }
    }
    return DSQL_OK;
}
