/* UUIDs: version-4 generation, parsing into canonical text, syntax checks. */
#include <string.h>

#if defined(__linux__)
#include <sys/random.h>
#endif

#include <openssl/rand.h>
#include <uuid/uuid.h>

#include "model/internal.h"

/* 16 random bytes: the kernel's generator (one cheap system call), else OpenSSL's, else
 * libuuid's. libuuid first would cost about eight times as much per UUID: it reseeds the C
 * library's generator on every call. */
static void random16(unsigned char u[16])
{
#if defined(__linux__)
    if (getrandom(u, 16, 0) == 16)
        return;
#endif
    if (RAND_bytes(u, 16) == 1)
        return;
    uuid_generate_random(u);
}

void dsql_uuid_v4(dsql_uuid *out)
{
    static const char hex[] = "0123456789abcdef";
    if (!out)
        return;
    unsigned char u[16];
    random16(u);
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char *o = out->str;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[u[i] >> 4];
        *o++ = hex[u[i] & 15];
    }
    *o = '\0';
}

bool dsql_uuid_is_null(const dsql_uuid *u)
{
    return !u || u->str[0] == '\0';
}

/*
 * Reads the 32 hex digits of a UUID written as 8-4-4-4-12 (hyphens), as 32 digits, or
 * either of those in braces — the forms PostgreSQL accepts that people actually use.
 * digits receives them lower-cased. False when s is none of those.
 */
static bool uuid_digits(const char *s, size_t len, char digits[32])
{
    if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
        s++;
        len -= 2;
    }
    bool hyphens;
    if (len == 36)
        hyphens = true;
    else if (len == 32)
        hyphens = false;
    else
        return false;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (hyphens && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-')
                return false;
            continue;
        }
        int v = dsql__hexval(s[i]);
        if (v < 0)
            return false;
        digits[k++] = "0123456789abcdef"[v];
    }
    return k == 32;
}

bool dsql__check_uuid(const char *s, size_t len)
{
    char d[32];
    return uuid_digits(s, len, d);
}

static int uuid_parse_call(const char *text, dsql_uuid *out, dsql_error *err)
{
    char d[32];
    if (!text)
        return dsql_error_set(err, DSQL_EPARSE, "UUID text is NULL");
    size_t len = strlen(text);
    if (!uuid_digits(text, len, d)) {
        char pv[DSQL__PREVIEW_MAX];
        return dsql_error_set(err, DSQL_EPARSE,
                              "%s is not a UUID (expected 8-4-4-4-12 hexadecimal digits)",
                              dsql__preview(text, len, pv, sizeof pv));
    }
    if (out) {
        char *o = out->str;
        for (int i = 0; i < 32; i++) {
            if (i == 8 || i == 12 || i == 16 || i == 20)
                *o++ = '-';
            *o++ = d[i];
        }
        *o = '\0';
    }
    return DSQL_OK;
}

int dsql_uuid_parse(const char *text, dsql_uuid *out, dsql_error *err)
{
    return dsql__api_ret("dsql_uuid_parse", uuid_parse_call(text, out, err), err);
}
