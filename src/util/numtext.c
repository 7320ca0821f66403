/* Numbers to and from text in the C locale (the server's spelling), whatever the
 * application's LC_NUMERIC says. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale = (locale_t)0; /* set once, then only read */

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static locale_t enter_c(void)
{
    pthread_once(&c_locale_once, c_locale_init);
    return c_locale ? uselocale(c_locale) : (locale_t)0;
}

static void leave_c(locale_t old)
{
    if (old)
        uselocale(old);
}

static size_t special(double d, char *buf, size_t cap)
{
    const char *s = isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity";
    return (size_t)snprintf(buf, cap, "%s", s);
}

size_t dsql__dtoa(double d, char *buf, size_t cap)
{
    if (!isfinite(d))
        return special(d, buf, cap);
    locale_t old = enter_c();
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    leave_c(old);
    return n > 0 ? (size_t)n : 0;
}

size_t dsql__ftoa(float f, char *buf, size_t cap)
{
    if (!isfinite(f))
        return special(f, buf, cap);
    locale_t old = enter_c();
    int n = 0;
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(buf, cap, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    leave_c(old);
    return n > 0 ? (size_t)n : 0;
}

/* Copies s into buf as a C string when it looks like a decimal number or a special
 * value; false otherwise. */
static bool number_text(const char *s, size_t len, char *buf, size_t cap)
{
    if (len == 0 || len >= cap)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return true;
}

static int special_value(const char *buf, double *out)
{
    if (!strcasecmp(buf, "nan")) {
        *out = NAN;
        return 1;
    }
    if (!strcasecmp(buf, "infinity") || !strcasecmp(buf, "+infinity")) {
        *out = INFINITY;
        return 1;
    }
    if (!strcasecmp(buf, "-infinity")) {
        *out = -INFINITY;
        return 1;
    }
    /* Only decimal notation: strtod would also take hex floats and "inf" spellings. */
    for (const char *p = buf; *p; p++)
        if (!strchr("0123456789+-.eE", *p))
            return -1;
    return 0;
}

bool dsql__strtof(const char *s, size_t len, float *out)
{
    char buf[512];
    double d;
    if (!number_text(s, len, buf, sizeof buf))
        return false;
    int sp = special_value(buf, &d);
    if (sp < 0)
        return false;
    if (sp > 0) {
        *out = (float)d;
        return true;
    }
    locale_t old = enter_c();
    char *end;
    errno = 0;
    float f = strtof(buf, &end);
    int e = errno;
    leave_c(old);
    if (end != buf + len || (e == ERANGE && isinf(f)))
        return false;
    *out = f;
    return true;
}

bool dsql__strtod(const char *s, size_t len, double *out)
{
    char buf[512];
    if (!number_text(s, len, buf, sizeof buf))
        return false;
    int sp = special_value(buf, out);
    if (sp)
        return sp > 0;
    locale_t old = enter_c();
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    int e = errno;
    leave_c(old);
    if (end != buf + len || (e == ERANGE && isinf(d)))
        return false;
    *out = d;
    return true;
}

bool dsql__strtoi64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == len)
        return false;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned dgt = (unsigned)(s[i] - '0');
        if (v > (limit - dgt) / 10)
            return false;
        v = v * 10 + dgt;
    }
    int64_t r = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    if (r < min || r > max)
        return false;
    *out = r;
    return true;
}

size_t dsql__i64toa(int64_t v, char *buf)
{
    char tmp[24];
    size_t n = 0;
    /* Work on the magnitude as unsigned, so INT64_MIN needs no special case. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

int dsql__hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
