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

/* ---- parameter values (dsql_config.log_parameters) ---- */

/* A cut at max bytes of s that does not split a UTF-8 sequence. */
static size_t utf8_cut(const unsigned char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && (s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* One text value as a quoted literal on one line: ' doubled, \ and control characters
 * escaped. */
static void append_quoted(dsql__strbuf *sb, const char *s, size_t n)
{
    dsql__sb_append_c(sb, '\'');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\'')
            dsql__sb_append(sb, "''");
        else if (c == '\\')
            dsql__sb_append(sb, "\\\\");
        else if (c == '\n')
            dsql__sb_append(sb, "\\n");
        else if (c == '\r')
            dsql__sb_append(sb, "\\r");
        else if (c == '\t')
            dsql__sb_append(sb, "\\t");
        else if (c < 0x20 || c == 0x7f)
            dsql__sb_appendf(sb, "\\x%02x", c);
        else
            dsql__sb_append_c(sb, (char)c);
    }
    dsql__sb_append_c(sb, '\'');
}

void dsql__sb_append_param_values(dsql__strbuf *sb, int n, const char *const *values,
                                  const int *lengths, const int *formats, const uint8_t *pflags,
                                  int max)
{
    if (n <= 0 || !values)
        return;
    static const char hex[] = "0123456789abcdef";
    size_t cut = max > 0 ? (size_t)max : DSQL_LOG_VALUE_MAX;
    dsql__sb_append(sb, " [");
    for (int i = 0; i < n; i++) {
        if (i == DSQL_LOG_PARAMS_LISTED) {
            dsql__sb_appendf(sb, ", ... %d more", n - i);
            break;
        }
        dsql__sb_appendf(sb, "%s$%d = ", i ? ", " : "", i + 1);
        uint8_t f = pflags ? pflags[i] : 0;
        const char *v = values[i];
        if (!v) {
            dsql__sb_append(sb, "NULL");
        } else if (f & DSQL__PF_SECRET) {
            dsql__sb_append(sb, "<redacted>");
        } else if (formats && formats[i]) {
            /* bytea, as PostgreSQL writes it: '\x' and two hex digits a byte */
            size_t len = lengths ? (size_t)lengths[i] : 0, shown = len < cut ? len : cut;
            dsql__sb_append(sb, "'\\x");
            for (size_t k = 0; k < shown; k++) {
                unsigned char c = (unsigned char)v[k];
                char two[3] = {hex[c >> 4], hex[c & 15], '\0'};
                dsql__sb_append(sb, two);
            }
            dsql__sb_append_c(sb, '\'');
            if (shown < len)
                dsql__sb_appendf(sb, "... (%zu bytes)", len);
        } else {
            size_t len = strlen(v), shown = utf8_cut((const unsigned char *)v, len, cut);
            if (f & DSQL__PF_BARE)
                dsql__sb_append_n(sb, v, shown);
            else
                append_quoted(sb, v, shown);
            if (shown < len)
                dsql__sb_appendf(sb, "... (%zu bytes)", len);
        }
    }
    dsql__sb_append_c(sb, ']');
}

/* ---- secrets out of error messages ---- */

/* Replaces every occurrence of needle in field (a NUL-terminated buffer of cap bytes) with
 * <redacted>; when the field is (nearly: whitespace may have been collapsed) full, its end
 * may have cut an occurrence short, so a tail that begins the needle goes too. */
static void cut_out(char *field, size_t cap, const char *needle, size_t nlen)
{
    static const char mark[] = "<redacted>";
    if (!nlen || !*field)
        return;
    dsql__strbuf out = DSQL__STRBUF_INIT;
    const char *p = field;
    bool changed = false;
    size_t flen = strlen(field);
    while (*p) {
        size_t left = flen - (size_t)(p - field);
        if (left >= nlen && !memcmp(p, needle, nlen)) {
            dsql__sb_append(&out, mark);
            p += nlen;
            changed = true;
            continue;
        }
        if (flen + 32 >= cap && left < nlen && !memcmp(p, needle, left)) {
            dsql__sb_append(&out, mark);
            changed = true;
            break;
        }
        dsql__sb_append_c(&out, *p++);
    }
    if (changed && !out.oom)
        snprintf(field, cap, "%s", dsql__sb_str(&out));
    else if (changed)
        field[0] = '\0'; /* no memory to rewrite it: drop the text rather than leak it */
    dsql__sb_free_secret(&out);
}

void dsql__error_redact_params(dsql_error *err, int n, const char *const *values,
                               const int *lengths, const int *formats, const uint8_t *pflags)
{
    if (!err || !pflags || !values)
        return;
    for (int i = 0; i < n; i++) {
        if (!(pflags[i] & DSQL__PF_SECRET) || !values[i])
            continue;
        /* The value as the error would show it: one line (dsql__one_line's spacing), or
         * for bytea its hex text. Longer than the message it cannot be whole there. */
        dsql__strbuf text = DSQL__STRBUF_INIT;
        size_t room = sizeof err->message;
        if (formats && formats[i]) {
            static const char hex[] = "0123456789abcdef";
            size_t len = lengths ? (size_t)lengths[i] : 0;
            dsql__sb_append(&text, "\\x");
            for (size_t k = 0; k < len && k < room; k++) {
                unsigned char c = (unsigned char)values[i][k];
                char two[3] = {hex[c >> 4], hex[c & 15], '\0'};
                dsql__sb_append(&text, two);
            }
        } else {
            size_t len = strnlen(values[i], room);
            if (dsql__sb_reserve(&text, len + 1)) {
                dsql__one_line(text.data, len + 1, values[i]);
                text.len = strlen(text.data);
            }
        }
        if (!text.oom && text.len) {
            cut_out(err->message, sizeof err->message, text.data, text.len);
            cut_out(err->detail, sizeof err->detail, text.data, text.len);
            cut_out(err->hint, sizeof err->hint, text.data, text.len);
        } else if (text.oom) {
            err->detail[0] = err->hint[0] = '\0';
        }
        dsql__sb_free_secret(&text);
    }
}
