/* Growable strings and small memory helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/util.h"

bool dsql__sb_reserve(dsql__strbuf *sb, size_t extra)
{
    if (sb->oom)
        return false;
    if (extra > SIZE_MAX - sb->len - 1) {
        sb->oom = true;
        return false;
    }
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return true;
    size_t cap = sb->cap ? sb->cap : 256; /* most strings built here are SQL statements */
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(sb->data, cap);
    if (!p) {
        sb->oom = true;
        return false;
    }
    sb->data = p;
    sb->cap = cap;
    return true;
}

void dsql__sb_append_n(dsql__strbuf *sb, const char *s, size_t n)
{
    if (sb->len + n >= sb->cap && !dsql__sb_reserve(sb, n)) /* cap > len + n: room */
        return;
    if (sb->oom)
        return;
    if (n)
        memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void dsql__sb_append(dsql__strbuf *sb, const char *s)
{
    dsql__sb_append_n(sb, s, strlen(s));
}

void dsql__sb_append_c(dsql__strbuf *sb, char c)
{
    if (sb->len + 1 >= sb->cap && !dsql__sb_reserve(sb, 1))
        return;
    if (sb->oom)
        return;
    sb->data[sb->len++] = c;
    sb->data[sb->len] = '\0';
}

void dsql__sb_append_param(dsql__strbuf *sb, const char *prefix, long long n)
{
    if (prefix)
        dsql__sb_append(sb, prefix);
    char buf[24];
    buf[0] = '$';
    dsql__sb_append_n(sb, buf, 1 + dsql__i64toa(n, buf + 1));
}

void dsql__sb_appendf(dsql__strbuf *sb, const char *fmt, ...)
{
    if (sb->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->oom = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        dsql__sb_append_n(sb, small, (size_t)n);
        return;
    }
    if (!dsql__sb_reserve(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void dsql__sb_reset(dsql__strbuf *sb)
{
    sb->len = 0;
    if (sb->data)
        sb->data[0] = '\0';
}

const char *dsql__sb_str(const dsql__strbuf *sb)
{
    if (sb->oom)
        return NULL;
    return sb->data ? sb->data : "";
}

char *dsql__sb_detach(dsql__strbuf *sb)
{
    char *p = NULL;
    if (!sb->oom)
        p = sb->data ? sb->data : dsql__strdup("");
    else
        free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
    sb->oom = false;
    return p;
}

void dsql__sb_free(dsql__strbuf *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
    sb->oom = false;
}

/* A wipe the compiler may not remove. glibc's explicit_bzero runs at memset's speed (a
 * token of 1.4 KiB in a few nanoseconds, where OPENSSL_cleanse stores 8 bytes a turn). */
static void wipe(void *p, size_t n)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 25))
    explicit_bzero(p, n);
#else
    OPENSSL_cleanse(p, n);
#endif
}

void dsql__sb_free_secret(dsql__strbuf *sb)
{
    if (sb->data)
        wipe(sb->data, sb->cap);
    dsql__sb_free(sb);
}

char *dsql__strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

void dsql__wipe(void *p, size_t n)
{
    if (p && n)
        wipe(p, n);
}

void dsql__free_secret(char *s)
{
    if (!s)
        return;
    wipe(s, strlen(s));
    free(s);
}
