/*
 * Named parameters: `:name` placeholders rewritten into `$n`, by a scanner that knows what
 * is not code in PostgreSQL's lexical grammar (string constants, dollar quotes, quoted
 * identifiers, comments, the :: cast), so a colon inside any of those is left alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/private.h"

#define NAMES_MAX 65535 /* the protocol's parameters per statement */

static bool name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool name_char(unsigned char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

typedef struct scan {
    const char *sql;
    size_t len;
    const char *fn;
    dsql__strbuf out;
    dsql__named_sql *ns;
    size_t cap;
    size_t copied; /* sql[copied, i) is still to copy */
    dsql_error *err;
} scan;

/* The end of a '...' constant starting at quote i (after its closing quote); backslash:
 * an E'...' constant, where \ escapes the next byte. 0 when it is not terminated. */
static size_t string_end(const scan *s, size_t i, bool backslash)
{
    for (size_t j = i + 1; j < s->len; j++) {
        if (backslash && s->sql[j] == '\\' && j + 1 < s->len) {
            j++;
        } else if (s->sql[j] == '\'') {
            if (j + 1 < s->len && s->sql[j + 1] == '\'')
                j++;
            else
                return j + 1;
        }
    }
    return 0;
}

/* The end of a "..." identifier starting at i; 0 when not terminated. */
static size_t ident_end(const scan *s, size_t i)
{
    for (size_t j = i + 1; j < s->len; j++) {
        if (s->sql[j] == '"') {
            if (j + 1 < s->len && s->sql[j + 1] == '"')
                j++;
            else
                return j + 1;
        }
    }
    return 0;
}

/* The end of a comment opened at i (slash-star, nested as PostgreSQL nests them); 0 when
 * not terminated. */
static size_t comment_end(const scan *s, size_t i)
{
    int depth = 0;
    for (size_t j = i; j + 1 < s->len; j++) {
        if (s->sql[j] == '/' && s->sql[j + 1] == '*') {
            depth++;
            j++;
        } else if (s->sql[j] == '*' && s->sql[j + 1] == '/') {
            j++;
            if (--depth == 0)
                return j + 1;
        }
    }
    return 0;
}

/* At a '$' at i (not inside an identifier): the length of a dollar-quote opening tag
 * ($$ or $tag$), or 0 when there is none. */
static size_t dollar_tag(const scan *s, size_t i)
{
    size_t j = i + 1;
    if (j < s->len && name_start((unsigned char)s->sql[j])) {
        while (j < s->len && name_char((unsigned char)s->sql[j]))
            j++;
    }
    return j < s->len && s->sql[j] == '$' ? j + 1 - i : 0;
}

static int add_name(scan *s, size_t at, size_t len)
{
    dsql__named_sql *ns = s->ns;
    const char *name = s->sql + at;
    size_t k = 0;
    while (k < ns->n && !(ns->names[k].len == len && !memcmp(ns->names[k].name, name, len)))
        k++;
    if (k == ns->n) {
        if (ns->n == NAMES_MAX)
            return dsql_error_set(s->err, DSQL_EINVAL,
                                  "%s: more than %d distinct parameter names: the protocol "
                                  "allows %d parameters per statement",
                                  s->fn, NAMES_MAX, NAMES_MAX);
        if (ns->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 8;
            void *grown = realloc(ns->names, cap * sizeof *ns->names);
            if (!grown)
                return dsql_error_set(s->err, DSQL_ENOMEM, "out of memory");
            ns->names = grown;
            s->cap = cap;
        }
        ns->names[k] = (struct dsql__named_ref){.name = name, .len = len, .pos = at - 1};
        ns->n++;
    }
    dsql__sb_appendf(&s->out, "$%zu", k + 1);
    return DSQL_OK;
}

static int unterminated(const scan *s, const char *what, size_t at)
{
    return dsql_error_set(s->err, DSQL_EINVAL,
                          "%s: %s at byte %zu is not terminated, so the parameters after it "
                          "cannot be told from text; nothing was sent",
                          s->fn, what, at + 1);
}

/* Copies sql[copied, i) to the output. */
static void flush_to(scan *s, size_t i)
{
    dsql__sb_append_n(&s->out, s->sql + s->copied, i - s->copied);
    s->copied = i;
}

/* At a '$' at *i: a positional parameter (an error), a dollar-quoted string (skipped), or
 * a lone '$'. */
static int at_dollar(scan *s, size_t *i)
{
    const char *sql = s->sql;
    size_t at = *i, tag = dollar_tag(s, at);
    if (sql[at + 1] >= '0' && sql[at + 1] <= '9') {
        size_t d = at + 1;
        while (sql[d] >= '0' && sql[d] <= '9')
            d++;
        return dsql_error_set(s->err, DSQL_EINVAL,
                              "%s: $%.*s at byte %zu is a positional parameter; named "
                              "(:name) and positional ($1..$n) parameters do not mix in "
                              "one statement: name every parameter; nothing was sent",
                              s->fn, (int)(d - at - 1 > 10 ? 10 : d - at - 1), sql + at + 1,
                              at + 1);
    }
    if (!tag) {
        (*i)++;
        return DSQL_OK;
    }
    for (const char *q = strchr(sql + at + tag, '$'); q; q = strchr(q + 1, '$'))
        if (!strncmp(q, sql + at, tag)) {
            *i = (size_t)(q - sql) + tag;
            return DSQL_OK;
        }
    return unterminated(s, "a dollar-quoted string", at);
}

/* At a word's first character at *i: the word skipped, or an E'...' constant. */
static int at_word(scan *s, size_t *i)
{
    const char *sql = s->sql;
    size_t j = *i;
    while (j < s->len && (name_char((unsigned char)sql[j]) || sql[j] == '$'))
        j++;
    unsigned char c = (unsigned char)sql[*i];
    if (j == *i + 1 && (c == 'E' || c == 'e') && sql[j] == '\'') {
        size_t end = string_end(s, j, true);
        *i = end;
        return end ? DSQL_OK : unterminated(s, "a string constant", j);
    }
    *i = j;
    return DSQL_OK;
}

/* A ':' at i followed by `next`, which is not a parameter name. */
static int bad_colon(const scan *s, size_t i, unsigned char next)
{
    char what[32];
    if (!next)
        snprintf(what, sizeof what, "the end of the statement");
    else if (next == ' ' || next == '\n' || next == '\t' || next == '\r')
        snprintf(what, sizeof what, "white space");
    else if (next < 0x7f && next > 0x20)
        snprintf(what, sizeof what, "'%c'", next);
    else
        snprintf(what, sizeof what, "the byte 0x%02x", next);
    return dsql_error_set(s->err, DSQL_EINVAL,
                          "%s: ':' at byte %zu is followed by %s, not a parameter "
                          "name (a name starts with a letter or '_'; write '::' for a "
                          "cast); nothing was sent",
                          s->fn, i + 1, what);
}

/* At a ':' at *i: a :name (rewritten to its $n), the :: cast, :=, an array slice inside
 * brackets, or an error. */
static int at_colon(scan *s, size_t *i, int brackets)
{
    const char *sql = s->sql;
    unsigned char next = (unsigned char)sql[*i + 1];
    if (next == ':' || next == '=') {
        *i += 2; /* the :: cast (its type name is copied as a word), := */
        return DSQL_OK;
    }
    if (name_start(next)) {
        size_t j = *i + 1;
        while (j < s->len && name_char((unsigned char)sql[j]))
            j++;
        flush_to(s, *i);
        int rc = add_name(s, *i + 1, j - *i - 1);
        *i = s->copied = j;
        return rc;
    }
    if (brackets > 0) {
        (*i)++; /* an array slice, a[1:2] */
        return DSQL_OK;
    }
    return bad_colon(s, *i, next);
}

int dsql__named_parse(const char *sql, const char *fn, dsql__named_sql *out, dsql_error *err)
{
    memset(out, 0, sizeof *out);
    if (!sql)
        return dsql_error_set(err, DSQL_EINVAL, "%s: SQL text is NULL", fn);
    scan s = {.sql = sql, .len = strlen(sql), .fn = fn, .ns = out, .err = err};
    s.out = (dsql__strbuf)DSQL__STRBUF_INIT;
    if (!dsql__sb_reserve(&s.out, s.len + 16))
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    int brackets = 0, rc = DSQL_OK;
    size_t i = 0;
    while (i < s.len && !rc) {
        unsigned char c = (unsigned char)sql[i];
        size_t end;
        if (c == '-' && sql[i + 1] == '-') {
            i += strcspn(sql + i, "\n");
        } else if (c == '/' && sql[i + 1] == '*') {
            if (!(end = comment_end(&s, i)))
                rc = unterminated(&s, "a /* comment", i);
            i = end;
        } else if (c == '\'') {
            if (!(end = string_end(&s, i, false)))
                rc = unterminated(&s, "a string constant", i);
            i = end;
        } else if (c == '"') {
            if (!(end = ident_end(&s, i)))
                rc = unterminated(&s, "a quoted identifier", i);
            i = end;
        } else if (c == '$') {
            rc = at_dollar(&s, &i);
        } else if (name_start(c)) {
            rc = at_word(&s, &i);
        } else if (c == ':') {
            rc = at_colon(&s, &i, brackets);
        } else {
            if (c == '[')
                brackets++;
            else if (c == ']' && brackets > 0)
                brackets--;
            i++;
        }
    }
    if (!rc) {
        flush_to(&s, i);
        if (s.out.oom)
            rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    }
    if (rc) {
        dsql__sb_free(&s.out);
        dsql__named_free(out);
        return rc;
    }
    out->sql = dsql__sb_detach(&s.out);
    return DSQL_OK;
}

void dsql__named_free(dsql__named_sql *ns)
{
    if (!ns)
        return;
    free(ns->sql);
    free(ns->names);
    memset(ns, 0, sizeof *ns);
}
