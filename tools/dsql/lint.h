/* The linter shared by `dsql lint` and `dsql migrate up`: SQL text read with the DSQL rules
 * module (src/rules), every finding reported as file:line:column, rule id, DSQL's message
 * and, where one exists, the DSQL-safe rewrite. */
#ifndef DSQL_CLI_LINT_H
#define DSQL_CLI_LINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "dsql/dsql.h"

typedef struct cli_lint {
    bool json;       /* collect findings as JSON (cli_lint_json) instead of printing */
    bool warnings;   /* also report warnings (accepted by DSQL, but not as PostgreSQL runs it) */
    bool one_query;  /* the text is sent as ONE simple-protocol Query (an implicit transaction
                        when it holds several statements), not statement by statement */
    FILE *out;       /* text findings go here */
    cJSON *findings; /* JSON mode: the array of findings (owned) */
    size_t n_findings, n_refused, n_warnings, n_statements, n_files;
} cli_lint;

/* Lints text[0, len) named name (a file name, "<stdin>"); first_line is the line number of
 * its first byte in that file (a part of a migration file starts further down). Each
 * statement is judged on its own and in the order the text runs it (DSQL's transaction
 * rules across BEGIN ... COMMIT). DSQL_OK (findings are counted in l, not errors),
 * DSQL_EINVAL for a text the parser cannot take (a NUL byte), DSQL_ENOMEM. */
int cli_lint_text(cli_lint *l, const char *name, const char *text, size_t len, unsigned first_line,
                  dsql_error *err);

/* Frees what l holds (the JSON array). */
void cli_lint_clear(cli_lint *l);

/* Reads a whole file ("-": standard input) into *out (NUL-terminated, *len bytes). false
 * with errno's words in why on failure. Free *out with free(). */
bool cli_read_file(const char *path, char **out, size_t *len, char *why, size_t why_size);

#endif
