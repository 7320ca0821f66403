/* Migration files for `dsql migrate`: a directory of VERSION_NAME.sql files, each with an
 * up part and an optional down part (docs/migrations.md), read into the library's
 * dsql_migration definitions with the DSQL rules module (statements split and classified by
 * PostgreSQL's parser). */
#ifndef DSQL_CLI_MIGFILE_H
#define DSQL_CLI_MIGFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "dsql/dsql.h"

typedef struct cli_migfile {
    char *path; /* dir/VERSION_NAME.sql */
    char *text; /* the file */
    size_t len;
    size_t up_start, up_end, down_start, down_end; /* byte ranges of the parts */
    unsigned up_line, down_line;                   /* their first lines */
    bool has_down;
} cli_migfile;

typedef struct cli_migset {
    dsql_migration *migs; /* in version order */
    cli_migfile *files;   /* files[i] holds migs[i]'s text */
    size_t n;
} cli_migset;

/* Reads every VERSION_NAME.sql of dir. false with the error printed ("dsql migrate: ...")
 * for a directory that cannot be read, a file name that does not follow the pattern, two
 * files with one version, a part marker given twice, an empty up part. names_only (for
 * create): only the names are read, and a missing directory is an empty set. */
bool cli_migset_load(const char *dir, bool names_only, cli_migset *set);
void cli_migset_free(cli_migset *set);

#endif
