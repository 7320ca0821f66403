/* Private to the rules module. */
#ifndef DSQL_RULES_INTERNAL_H
#define DSQL_RULES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "rules/rules.h"

typedef struct dsql__token {
    size_t start, len;
} dsql__token;

/* The index of the first byte at or after i that is neither white space nor a comment. */
size_t dsql__rules_skip_space(const char *s, size_t n, size_t i);
/* Tokens of s[0, n) (comments and white space skipped; literals and quoted identifiers
 * whole), at most max. Returns the count. */
size_t dsql__rules_tokens(const char *s, size_t n, dsql__token *out, size_t max);
/* True when token t of s is word (case-insensitive). */
bool dsql__rules_tok_is(const char *s, const dsql__token *t, const char *word);
/* Blanks DSQL's syntax that PostgreSQL 15 does not parse (ASYNC, column STORAGE) in
 * s[0, n), in place; *is_async says whether it was an ASYNC form. True if anything
 * changed. */
bool dsql__rules_prepass(char *s, size_t n, bool *is_async);

#endif
