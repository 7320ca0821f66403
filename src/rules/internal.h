/*
 * The rules module's private interface: the result's layout and the helpers its files
 * share. Not for the module's users (they include rules/rules.h).
 */
#ifndef DSQL_RULES_INTERNAL_H
#define DSQL_RULES_INTERNAL_H

#include "rules/rules.h"
#include "util/util.h"

#define DSQL__RULES_MAGIC 0x6452756cu /* "dRul" */

struct dsql_rules_result {
    uint32_t magic;
    dsql__arena arena; /* every string and array below */
    char *text;        /* the input, copied, NUL-terminated */
    size_t len;
    dsql_rules_stmt *stmts;
    size_t n;
    const dsql_rules_finding *syntax_error;
};

#endif
