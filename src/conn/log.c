/* Logging: one line per event through the caller's callback; secrets never reach it. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conn/private.h"

void dsql__logv(dsql_log_fn fn, void *ctx, dsql_log_level level, const char *fmt, va_list ap)
{
    if (!fn)
        return;
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        fn(level, small, ctx);
        return;
    }
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    if (dsql__sb_reserve(&sb, (size_t)n + 1)) {
        vsnprintf(sb.data, (size_t)n + 1, fmt, ap);
        fn(level, sb.data, ctx);
    } else {
        fn(level, small, ctx); /* truncated beats nothing */
    }
    dsql__sb_free(&sb);
}

void dsql__log(dsql_log_fn fn, void *ctx, dsql_log_level level, const char *fmt, ...)
{
    if (!fn)
        return;
    va_list ap;
    va_start(ap, fmt);
    dsql__logv(fn, ctx, level, fmt, ap);
    va_end(ap);
}

void dsql__conn_log(dsql_conn *conn, dsql_log_level level, const char *fmt, ...)
{
    if (!conn || !conn->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    dsql__logv(conn->log, conn->log_ctx, level, fmt, ap);
    va_end(ap);
}

static bool word_at(const char *p, const char *start, const char *word)
{
    size_t n = strlen(word);
    if (p > start && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (toupper((unsigned char)p[i]) != word[i])
            return false;
    return !isalnum((unsigned char)p[n]) && p[n] != '_';
}

void dsql__sb_append_sql_redacted(dsql__strbuf *sb, const char *sql)
{
    const char *p = sql;
    while (*p) {
        if (word_at(p, sql, "PASSWORD")) {
            const char *q = p + 8;
            while (isspace((unsigned char)*q))
                q++;
            /* 'literal', E'literal' or $$literal$$ */
            if (*q == 'E' || *q == 'e')
                q += q[1] == '\'' ? 1 : 0;
            if (*q == '\'' || (*q == '$' && q[1] == '$')) {
                dsql__sb_append_n(sb, p, (size_t)(q - p));
                if (*q == '\'') {
                    q++;
                    while (*q && !(*q == '\'' && q[1] != '\'')) {
                        if (*q == '\\' && q[1])
                            q++;
                        else if (*q == '\'' && q[1] == '\'')
                            q++;
                        q++;
                    }
                    if (*q)
                        q++;
                } else {
                    const char *end = strstr(q + 2, "$$");
                    q = end ? end + 2 : q + strlen(q);
                }
                dsql__sb_append(sb, "'***'");
                p = q;
                continue;
            }
        }
        dsql__sb_append_c(sb, *p++);
    }
}
