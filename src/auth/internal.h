/*
 * The auth layer's internal interface: the provider core (cache, single refresher) and
 * the credential sources it wraps. Not installed.
 *
 * A source is a fetch function: it gets fresh credentials from one place (environment,
 * files, a process, an HTTP endpoint) or fails with an error whose message starts with
 * the source's name. Providers add caching and thread safety around one fetch function.
 */
#ifndef DSQL_AUTH_INTERNAL_H
#define DSQL_AUTH_INTERNAL_H

#include <stdbool.h>
#include <time.h>

#include "dsql/auth.h"
#include "util/util.h"

/* Credentials are refreshed this long before they expire, plus a random jitter of up to
 * DSQL__REFRESH_JITTER_S (so that many processes started together do not refresh
 * together). Cached credentials are never handed out once fewer than DSQL__EXPIRY_MARGIN_S
 * remain: a token minted from them must still be good when the connection opens. */
#define DSQL__REFRESH_AHEAD_S  300
#define DSQL__REFRESH_JITTER_S 60
#define DSQL__EXPIRY_MARGIN_S  60

/* Where a provider's warnings and retries are logged (fn NULL: nowhere). */
struct dsql__auth_log {
    dsql_log_fn fn;
    void *ctx;
};
typedef struct dsql__auth_log dsql__auth_log;

/* Logs one line at level through lg (NULL or no fn: nothing). Never pass a secret. */
void dsql__auth_log_msg(const dsql__auth_log *lg, dsql_log_level level, const char *fmt, ...)
    DSQL_PRINTF(3, 4);

/* ---- provider core (provider.c) ---- */
typedef struct dsql__provider_ops {
    /* Fetches fresh credentials into *out (empty on entry). Called by one thread at a
     * time per provider, with no lock held. log: the provider's log hook. */
    int (*fetch)(void *impl, const dsql__auth_log *log, dsql_credentials *out, dsql_error *err);
    /* Frees impl (wiping any secret it holds). May be NULL. */
    void (*free)(void *impl);
} dsql__provider_ops;

/* A new provider around ops/impl; on failure impl is freed with ops->free. */
int dsql__provider_new(const dsql__provider_ops *ops, void *impl, dsql_credentials_provider **out,
                       dsql_error *err);

/* Makes the next get refresh (as if the refresh time had come); the cached credentials
 * keep their expiration. For tests. */
void dsql__provider_force_refresh(dsql_credentials_provider *p);

/* When the provider's cache is due for a refresh (0: never, or nothing cached). For
 * tests. */
time_t dsql__provider_refresh_at(dsql_credentials_provider *p);

/* Copies src into dst (replacing and wiping what dst held). */
int dsql__credentials_copy(dsql_credentials *dst, const dsql_credentials *src, dsql_error *err);

/* Sets out->source to name (truncated to fit). */
void dsql__credentials_source(dsql_credentials *out, const char *name);

/* Fails (DSQL_ECREDENTIALS, naming source) when creds expired at or before now. */
int dsql__credentials_check_fresh(const dsql_credentials *creds, const char *source,
                                  dsql_error *err);

/* ---- small helpers (misc.c) ---- */
/* getenv that treats "" and blank values as unset. */
const char *dsql__env(const char *name);
/* True for "true"/"1"/"yes"/"on" (any case). */
bool dsql__env_true(const char *name);
/* Whether host fits DNS's limits: labels of 1 to 63 bytes, at most 253 bytes in all (a
 * trailing dot aside). When not, why (a sentence fragment) goes to buf. */
bool dsql__dns_name_ok(const char *host, char *why, size_t size);
/* A plausible region name: non-empty, letters, digits and '-' only. */
bool dsql__valid_region(const char *r);
/* Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)" into *out. */
bool dsql__parse_iso8601(const char *s, time_t *out);
/* Formats t as "YYYY-MM-DDTHH:MM:SSZ". */
void dsql__format_iso8601(time_t t, char buf[32]);
/* Reads a whole regular file (at most max bytes). On failure fills err with a message
 * naming what (e.g. "web identity token file") and path. *data must be freed with
 * dsql__free_secret when it may hold a secret. */
int dsql__read_file(const char *path, size_t max, const char *what, char **data, size_t *len,
                    dsql_error *err);
/* The home directory (HOME, else the password database) into buf. False if unknown or
 * too long. */
bool dsql__home(char *buf, size_t size);

/* ---- credentials in JSON (creds_json.c) ---- */
typedef enum dsql__json_format {
    DSQL__JSON_PROCESS,   /* credential_process: Version 1, SessionToken, Expiration optional */
    DSQL__JSON_CONTAINER, /* container endpoint: Token and Expiration */
    DSQL__JSON_IMDS       /* instance metadata: as container, plus Code "Success" */
} dsql__json_format;

/* Parses credentials out of JSON text into *out; errors start with `what`. Expired
 * credentials are an error. Never puts a value of the JSON in a message except Code. */
int dsql__creds_from_json(const char *text, size_t len, dsql__json_format fmt, const char *what,
                          dsql_credentials *out, dsql_error *err);

/* ---- sources ---- */
/* Environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 * AWS_CREDENTIAL_EXPIRATION. *configured says whether either key variable is set. */
int dsql__fetch_env(dsql_credentials *out, bool *configured, dsql_error *err);

/* How the chain uses a profile of the shared files. */
typedef enum dsql__profile_use {
    DSQL__PROFILE_DEFAULT, /* "default": decides only when it has credentials */
    DSQL__PROFILE_NAMED,   /* AWS_PROFILE: must exist; without credentials the chain goes on
                              (its settings, such as the metadata endpoint, still apply) */
    DSQL__PROFILE_ONLY     /* the caller's profile argument: this profile and nothing else */
} dsql__profile_use;

/* A profile of the shared files. *configured says whether this source decides. */
int dsql__fetch_profile(const char *profile, dsql__profile_use use, const dsql__auth_log *log,
                        dsql_credentials *out, bool *configured, dsql_error *err);

/* credential_process: runs command with /bin/sh -c and reads its JSON from stdout. */
int dsql__fetch_process(const char *command, const char *what, dsql_credentials *out,
                        dsql_error *err);

/* STS (provider_sts.c). region: signing region and default endpoint region (NULL: from
 * AWS_REGION / AWS_DEFAULT_REGION, else us-east-1). duration_s 0: STS default. */
typedef struct dsql__sts_role {
    const char *role_arn;
    const char *session_name; /* NULL: "libdsql-<unix time>" */
    const char *external_id;  /* AssumeRole only; may be NULL */
    long duration_s;
    const char *region;       /* the profile's region (the environment's wins), or NULL */
    const char *endpoint_url; /* dsql__configured_endpoint's, or NULL: the default one */
    int max_attempts;         /* dsql__max_attempts's; 0: the default */
    const dsql__auth_log *log;
} dsql__sts_role;

/* AssumeRole, a SigV4-signed POST with the source credentials. */
int dsql__sts_assume_role(const dsql_credentials *source, const dsql__sts_role *role,
                          const char *what, dsql_credentials *out, dsql_error *err);
/* AssumeRoleWithWebIdentity, unsigned, with the token read from token_file. */
int dsql__sts_assume_role_web_identity(const char *token_file, const dsql__sts_role *role,
                                       const char *what, dsql_credentials *out, dsql_error *err);
/* The STS endpoint URL from the environment alone (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS,
 * AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL), else https://sts.<region>.amazonaws.com
 * (.com.cn in China). New string. The sources use dsql__configured_endpoint, which also
 * reads the shared config file. */
char *dsql__sts_endpoint(const char *region);

/* Web identity from the environment: AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN,
 * AWS_ROLE_SESSION_NAME. */
int dsql__fetch_web_identity_env(const dsql__auth_log *log, dsql_credentials *out, bool *configured,
                                 dsql_error *err);

/* Container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI with
 * AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE). */
int dsql__fetch_container(const dsql__auth_log *log, dsql_credentials *out, bool *configured,
                          dsql_error *err);
/* The URL the container source would use (relative_base replaces http://169.254.170.2 for
 * tests; NULL = the real one). New string in *url. */
int dsql__container_url(const char *relative_base, char **url, dsql_error *err);
/* As dsql__fetch_container with another base for relative URIs (tests). */
int dsql__fetch_container_base(const char *relative_base, const dsql__auth_log *log,
                               dsql_credentials *out, bool *configured, dsql_error *err);

/* EC2 instance metadata (IMDSv2). The endpoint: AWS_EC2_METADATA_SERVICE_ENDPOINT, else
 * ec2_metadata_service_endpoint of profile in the config file, else the address for
 * AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE or the profile's ec2_metadata_service_endpoint_mode
 * (IPv4, the default, or IPv6); ec2_metadata_v1_disabled likewise. *configured: an
 * endpoint was named (so this source decides). */
int dsql__fetch_imds(const dsql__auth_log *log, const char *profile, dsql_credentials *out,
                     bool *configured, dsql_error *err);

#endif
