/*
 * A small SQL lexer for what PostgreSQL 15's grammar does not know but Aurora DSQL
 * accepts: `CREATE [UNIQUE] INDEX ASYNC`, `ALTER TABLE ASYNC`, and a column's
 * `STORAGE <mode>` in CREATE TABLE / ADD COLUMN (PostgreSQL 16). Those tokens are blanked
 * out (replaced by spaces, so every byte offset stays the same) before the statement goes
 * to PostgreSQL's parser. Comments, string literals (also E'' and $tag$), and quoted
 * identifiers are skipped whole, so a word inside them never counts.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "rules/internal.h"

/* Advances over white space and comments. */
size_t dsql__rules_skip_space(const char *s, size_t n, size_t i)
{
    for (;;) {
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
        } else if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
            int depth = 1;
            i += 2;
            while (i < n && depth) {
                if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
                    depth++;
                    i += 2;
                } else if (i + 1 < n && s[i] == '*' && s[i + 1] == '/') {
                    depth--;
                    i += 2;
                } else {
                    i++;
                }
            }
        } else {
            return i;
        }
    }
}

/* The end of the token starting at i (not space). */
static size_t token_end(const char *s, size_t n, size_t i)
{
    char c = s[i];
    bool escapes = (c == 'E' || c == 'e') && i + 1 < n && s[i + 1] == '\'';
    if (escapes)
        i++, c = '\'';
    if (c == '\'' || c == '"') {
        for (i++; i < n; i++) {
            if (escapes && s[i] == '\\') {
                i++;
                continue;
            }
            if (s[i] == c) {
                if (i + 1 < n && s[i + 1] == c) {
                    i++;
                    continue;
                }
                return i + 1;
            }
        }
        return n;
    }
    if (c == '$') {
        size_t t = i + 1;
        while (t < n && (isalnum((unsigned char)s[t]) || s[t] == '_'))
            t++;
        if (t < n && s[t] == '$') {
            size_t tag = t + 1 - i;
            for (size_t k = t + 1; k + tag <= n; k++)
                if (!memcmp(s + k, s + i, tag))
                    return k + tag;
            return n;
        }
        while (i + 1 < n && isdigit((unsigned char)s[i + 1]))
            i++;
        return i + 1;
    }
    if (isalpha((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80) {
        while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '$' ||
                         (unsigned char)s[i] >= 0x80))
            i++;
        return i;
    }
    if (isdigit((unsigned char)c)) {
        while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '.'))
            i++;
        return i;
    }
    return i + 1;
}

size_t dsql__rules_tokens(const char *s, size_t n, dsql__token *out, size_t max)
{
    size_t k = 0;
    for (size_t i = dsql__rules_skip_space(s, n, 0); i < n && k < max;
         i = dsql__rules_skip_space(s, n, i)) {
        size_t e = token_end(s, n, i);
        out[k].start = i;
        out[k].len = e - i;
        k++;
        i = e;
    }
    return k;
}

bool dsql__rules_tok_is(const char *s, const dsql__token *t, const char *word)
{
    size_t n = strlen(word);
    return t->len == n && !strncasecmp(s + t->start, word, n);
}

static void blank(char *s, const dsql__token *t)
{
    memset(s + t->start, ' ', t->len);
}

bool dsql__rules_prepass(char *s, size_t n, bool *is_async)
{
    dsql__token tk[4096];
    size_t nt = dsql__rules_tokens(s, n, tk, sizeof tk / sizeof tk[0]);
    bool changed = false;
    *is_async = false;
    if (nt >= 3 && dsql__rules_tok_is(s, &tk[0], "CREATE")) {
        size_t i = 1;
        if (dsql__rules_tok_is(s, &tk[i], "UNIQUE"))
            i++;
        if (i + 1 < nt && dsql__rules_tok_is(s, &tk[i], "INDEX") &&
            dsql__rules_tok_is(s, &tk[i + 1], "ASYNC")) {
            blank(s, &tk[i + 1]);
            *is_async = changed = true;
        }
    }
    if (nt >= 3 && dsql__rules_tok_is(s, &tk[0], "ALTER") &&
        dsql__rules_tok_is(s, &tk[1], "TABLE") && dsql__rules_tok_is(s, &tk[2], "ASYNC")) {
        blank(s, &tk[2]);
        *is_async = changed = true;
    }
    /* STORAGE <mode> in a column definition (not ALTER COLUMN ... SET STORAGE). */
    bool table_stmt = nt >= 2 && (dsql__rules_tok_is(s, &tk[0], "CREATE") ||
                                  dsql__rules_tok_is(s, &tk[0], "ALTER"));
    for (size_t i = 1; table_stmt && i + 1 < nt; i++) {
        static const char *const modes[] = {"PLAIN", "EXTERNAL", "EXTENDED", "MAIN", "DEFAULT"};
        if (!dsql__rules_tok_is(s, &tk[i], "STORAGE") || dsql__rules_tok_is(s, &tk[i - 1], "SET"))
            continue;
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
            if (dsql__rules_tok_is(s, &tk[i + 1], modes[m])) {
                blank(s, &tk[i]);
                blank(s, &tk[i + 1]);
                changed = true;
                break;
            }
    }
    return changed;
}
