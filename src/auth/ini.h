/*
 * The AWS shared config and credentials files: INI parsing and profile lookup.
 * Thread rule: each object belongs to one thread; loading reads the environment.
 */
#ifndef DSQL_AUTH_INI_H
#define DSQL_AUTH_INI_H

#include <stdbool.h>
#include <stddef.h>

#include "dsql/common.h"

/* Files larger than this are refused. */
#define DSQL__INI_MAX_BYTES (1u << 20)

typedef struct dsql__ini_entry {
    char *section; /* profile name ("default", "prod" for [profile prod] in config) */
    char *key;     /* NULL for the section header itself */
    char *value;   /* wiped on free: may be a secret */
} dsql__ini_entry;

typedef struct dsql__ini {
    dsql__ini_entry *e;
    size_t n, cap;
    char *path;   /* the file, for messages */
    bool present; /* the file existed */
} dsql__ini;

#define DSQL__INI_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0, NULL, false                                                                    \
    }

/*
 * Parses text. config_file: sections are `[default]` and `[profile NAME]` (other
 * sections such as [sso-session x] are skipped); otherwise `[NAME]` as is. Comments start
 * with # or ; at the start of a line or after whitespace. Indented lines below a key with
 * an empty value are sub-properties and are skipped. A malformed line is DSQL_EPARSE
 * naming path and line.
 */
int dsql__ini_parse(dsql__ini *ini, const char *text, size_t len, bool config_file,
                    dsql_error *err);

/* Loads path; a missing file is not an error (ini->present stays false). */
int dsql__ini_load(dsql__ini *ini, const char *path, bool config_file, dsql_error *err);

/* The value of key in section (the last one wins), or NULL. */
const char *dsql__ini_get(const dsql__ini *ini, const char *section, const char *key);
bool dsql__ini_has_section(const dsql__ini *ini, const char *section);
void dsql__ini_free(dsql__ini *ini);

/* Both shared files, as the SDKs read them: a key in the credentials file wins over the
 * same key of the same profile in the config file. */
typedef struct dsql__aws_files {
    dsql__ini config;
    dsql__ini credentials;
} dsql__aws_files;

#define DSQL__AWS_FILES_INIT                                                                       \
    {                                                                                              \
        DSQL__INI_INIT, DSQL__INI_INIT                                                             \
    }

/* Loads AWS_CONFIG_FILE (default ~/.aws/config) and AWS_SHARED_CREDENTIALS_FILE
 * (default ~/.aws/credentials); "~/" in either is the home directory. */
int dsql__aws_files_load(dsql__aws_files *f, dsql_error *err);
const char *dsql__aws_files_get(const dsql__aws_files *f, const char *profile, const char *key);
bool dsql__aws_files_has_profile(const dsql__aws_files *f, const char *profile);
void dsql__aws_files_free(dsql__aws_files *f);

/* The profile to use: explicit (if not NULL/empty), else AWS_PROFILE, else "default". */
const char *dsql__profile_name(const char *explicit_profile);

#endif
