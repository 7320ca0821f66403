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

/* What kind of section an entry belongs to. */
typedef enum dsql__ini_kind {
    DSQL__INI_PROFILE = 0, /* [default], [profile NAME] in config; [NAME] in credentials */
    DSQL__INI_SERVICES = 1 /* [services NAME] (config file only) */
} dsql__ini_kind;

typedef struct dsql__ini_entry {
    char *section;      /* profile name ("default", "prod" for [profile prod] in config) */
    char *key;          /* lower case; NULL for the section header itself */
    char *value;        /* wiped on free: may be a secret. Continuation and sub-property lines
                           follow the first line's value, each after a '\n', trimmed. */
    unsigned line;      /* where the key (or header) is, for messages */
    unsigned char kind; /* dsql__ini_kind */
    bool plain_default; /* from a [default] header in the config file */
} dsql__ini_entry;

typedef struct dsql__ini {
    dsql__ini_entry *e;
    size_t n, cap;
    char *path;   /* the file, for messages */
    bool present; /* the file existed */
    /* Warnings (ignored sections and keys) go here when set; never anywhere else. */
    dsql_log_fn log;
    void *log_ctx;
} dsql__ini;

#define DSQL__INI_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0, NULL, false, NULL, NULL                                                        \
    }

/*
 * Parses text as the AWS SDKs parse the shared files (their common parser tests are the
 * reference). config_file: profiles are `[default]` and `[profile NAME]`, `[services NAME]`
 * sections are kept, `[sso-session NAME]` and other prefixed sections are skipped, and
 * `[profile default]` replaces `[default]` when both exist; credentials file: `[NAME]`.
 * A line starting with # or ; is a comment; so is # or ; after whitespace in a value and
 * anywhere after a section header. A line starting with a space or tab continues the
 * value of the key before it ("\n" + the trimmed line); under a key with an empty value
 * such lines are sub-properties (`name = value`). Key names are case-insensitive (stored
 * in lower case). Profile and key names outside [A-Za-z0-9_-/.%@:+], `[profile x]` in the
 * credentials file and `[x]` without "profile " in the config file are ignored with a
 * warning through ini->log. A malformed line (a key before any section, a header
 * without ']', a line without '=', a continuation with nothing to continue) is
 * DSQL_EPARSE naming path, line and profile.
 */
int dsql__ini_parse(dsql__ini *ini, const char *text, size_t len, bool config_file,
                    dsql_error *err);

/* Loads path; a missing file is not an error (ini->present stays false). */
int dsql__ini_load(dsql__ini *ini, const char *path, bool config_file, dsql_error *err);

/* The value of key (lower case) in profile section (the last one wins), or NULL. */
const char *dsql__ini_get(const dsql__ini *ini, const char *section, const char *key);
/* The same for a section of another kind. */
const char *dsql__ini_get_kind(const dsql__ini *ini, dsql__ini_kind kind, const char *section,
                               const char *key);
/* The value of sub-property sub (case-insensitive) in a value holding sub-properties
 * ("\nname = value" lines), copied into buf (trimmed). NULL when absent or too long. */
const char *dsql__ini_sub(const char *value, const char *sub, char *buf, size_t size);
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
 * (default ~/.aws/credentials); "~/" in either is the home directory. Warnings go to log
 * (may be NULL: none). */
int dsql__aws_files_load(dsql__aws_files *f, dsql_log_fn log, void *log_ctx, dsql_error *err);
const char *dsql__aws_files_get(const dsql__aws_files *f, const char *profile, const char *key);
bool dsql__aws_files_has_profile(const dsql__aws_files *f, const char *profile);
/* Where the value dsql__aws_files_get returns was set: "<path> line <n>" into buf (empty
 * when the key is not set). Returns buf. */
const char *dsql__aws_files_at(const dsql__aws_files *f, const char *profile, const char *key,
                               char *buf, size_t size);
void dsql__aws_files_free(dsql__aws_files *f);

/*
 * The endpoint URL configured for a service, as the SDKs resolve it: none when
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true (or, that variable unset,
 * ignore_configured_endpoint_urls = true in the profile); else AWS_ENDPOINT_URL_<ENV_ID>,
 * AWS_ENDPOINT_URL, the service's endpoint_url in the [services NAME] section the
 * profile's `services` names, the profile's endpoint_url. env_id: "STS"; key: "sts".
 * f may be NULL (the environment only). *url: a new string, or NULL (the default
 * endpoint); *from: where it came from, for messages.
 */
int dsql__configured_endpoint(const dsql__aws_files *f, const char *profile, const char *env_id,
                              const char *key, char **url, const char **from, dsql_error *err);

/* Attempts per call of an AWS service client (STS): AWS_MAX_ATTEMPTS, else max_attempts
 * of the profile (f may be NULL), else 0 (the default). A value that is not a whole number
 * from 1 to 10 is DSQL_ECONFIG naming where it came from. */
int dsql__max_attempts(const dsql__aws_files *f, const char *profile, int *out, dsql_error *err);

/* The profile to use: explicit (if not NULL/empty), else AWS_PROFILE, else "default". */
const char *dsql__profile_name(const char *explicit_profile);

#endif
