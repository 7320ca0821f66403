/*
 * libdsql auth: AWS credentials, the credential chain, and Aurora DSQL IAM auth tokens.
 *
 * A token is a SigV4 query-presigned URL (without scheme) for
 * `GET https://<host>/?Action=DbConnect|DbConnectAdmin`, service `dsql`. Minting one is
 * pure computation (no network call); only fetching credentials may reach the network.
 *
 * Thread rule: a dsql_credentials_provider is thread-safe (it may be shared by a pool and
 * any number of threads; concurrent callers of an expired cache wait for one refresh
 * instead of stampeding the source). A dsql_credentials value belongs to one thread at a
 * time (dsql_token_generate from several threads with the same value is safe, but only
 * one of them at a time uses its memo). Everything else here is a pure function.
 */
#ifndef DSQL_AUTH_H
#define DSQL_AUTH_H
/* Declarations, comments and macro tables are aligned by hand: */
/* clang-format off */

#include <stdbool.h>
#include <time.h>

#include "dsql/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Token lifetime bounds and default, in seconds. */
#define DSQL_TOKEN_EXPIRES_DEFAULT 900
#define DSQL_TOKEN_EXPIRES_MAX     604800

/**
 * A set of AWS credentials. The strings are owned by the struct (malloc'd copies);
 * release them with dsql_credentials_clear(), which wipes the secrets first.
 *
 * dsql_credentials_set() also gives the value a private memo for the token signer
 * (priv_): the signing key of the last date, region and service, and the session token's
 * URI encoding, so that minting many tokens with one value skips that work. The memo is
 * as secret as the credentials and lives exactly as long as their strings:
 * dsql_credentials_clear() (and the next dsql_credentials_set()) wipes and frees it.
 * The public fields may still be changed directly (the signer checks them against the
 * memo before every use), but a value must not be copied by assignment: make copies with
 * dsql_credentials_set(&copy, c.access_key_id, c.secret_access_key, c.session_token, ...).
 */
typedef struct dsql_credentials {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /**< NULL for long-term credentials */
    time_t expiration;   /**< when temporary credentials expire; 0 = never */
    char source[32];     /**< which source supplied them: "environment", "profile", ... */
    void *priv_;         /**< private to the library (the signer's memo); NULL or set by it */
} dsql_credentials;

#define DSQL_CREDENTIALS_INIT {NULL, NULL, NULL, 0, {0}, NULL}

/**
 * Sets creds to copies of the given strings (session_token may be NULL), replacing
 * (and wiping) what it held, memo included; creds gets a new, empty memo. Returns
 * DSQL_EINVAL when a key is NULL or empty.
 * Borrows: the strings (copied) (during the call only).
 * Owns: creds owns the copies.
 * Free with: dsql_credentials_clear(creds).
 */
DSQL_API int dsql_credentials_set(dsql_credentials *creds, const char *access_key_id,
                                  const char *secret_access_key, const char *session_token,
                                  time_t expiration, dsql_error *err);

/**
 * Wipes and frees the strings of creds and its memo, and resets it to
 * DSQL_CREDENTIALS_INIT. NULL is a no-op.
 * Free with: this call frees what creds owns; the struct itself stays the caller's.
 */
DSQL_API void dsql_credentials_clear(dsql_credentials *creds);

/** An opaque, thread-safe, caching source of credentials. */
typedef struct dsql_credentials_provider dsql_credentials_provider;

/**
 * A custom credentials callback: fill *out with dsql_credentials_set() and return DSQL_OK,
 * or return an error status (and fill err). Set out->expiration for temporary
 * credentials so the provider refreshes them ahead of time. Called with no lock held
 * by at most one thread at a time per provider.
 */
typedef int (*dsql_credentials_fn)(void *ctx, dsql_credentials *out, dsql_error *err);

/**
 * The default chain, in the AWS SDKs' order: environment, web identity, shared
 * credentials/config files (profile = `profile` argument, else AWS_PROFILE, else
 * "default"; static keys, credential_process, role_arn + source_profile), container
 * credentials, EC2 instance metadata (IMDSv2). The first source that is configured
 * decides; a configured source that fails is an error naming the source.
 * A non-NULL, non-empty `profile` is what the caller asked for: the chain then uses that
 * profile only (as `aws --profile` does), and a missing profile is an error.
 * The environment is read, and the files are parsed, at each refresh (not here), so a
 * provider may be created before the configuration is in place.
 * *out is a new provider: free it with dsql_credentials_provider_free(). `profile` is
 * copied.
 * Borrows: profile (copied) (during the call only).
 * Owns: *out is new.
 * Free with: dsql_credentials_provider_free(*out).
 */
DSQL_API int dsql_credentials_provider_default(const char *profile,
                                               dsql_credentials_provider **out,
                                               dsql_error *err);

/** A provider that always returns copies of the given static credentials.
 * Borrows: the strings (copied) (during the call only).
 * Owns: *out is new.
 * Free with: dsql_credentials_provider_free(*out). */
DSQL_API int dsql_credentials_provider_static(const char *access_key_id,
                                              const char *secret_access_key,
                                              const char *session_token,
                                              dsql_credentials_provider **out, dsql_error *err);

/** A provider backed by the application's own callback (results cached until expiration).
 * Borrows: ctx, until the provider is freed.
 * Owns: *out is new.
 * Free with: dsql_credentials_provider_free(*out). */
DSQL_API int dsql_credentials_provider_custom(dsql_credentials_fn fn, void *ctx,
                                              dsql_credentials_provider **out, dsql_error *err);

/**
 * Sends the provider's warnings (entries of the AWS shared files that are ignored, as the
 * AWS SDKs ignore them) and retries of its HTTP sources to fn (NULL: nowhere, the
 * default). Never to stderr, and never with a secret. ctx is borrowed until the
 * provider is freed or another hook is set. The connection layer sets dsql_config.log on
 * the providers it makes. A NULL provider is a no-op.
 * Borrows: ctx, until the provider is freed or another hook is set.
 * Owns: nothing is handed out.
 */
DSQL_API void dsql_credentials_provider_set_log(dsql_credentials_provider *provider,
                                                dsql_log_fn fn, void *ctx);

/** Frees a provider (wiping cached secrets). NULL is a no-op.
 * Free with: this call frees provider; the ctx it borrowed stays the caller's. */
DSQL_API void dsql_credentials_provider_free(dsql_credentials_provider *provider);

/**
 * Gets current credentials: from the cache while they are valid for more than a few
 * minutes, otherwise from the source. *out receives copies the caller owns
 * (dsql_credentials_clear()), with a memo of their own.
 * Borrows: provider (during the call only).
 * Owns: *out receives new copies, owned by the caller.
 * Free with: dsql_credentials_clear(out).
 */
DSQL_API int dsql_credentials_provider_get(dsql_credentials_provider *provider,
                                           dsql_credentials *out, dsql_error *err);

/** Which token to mint. */
typedef enum dsql_token_action {
    DSQL_TOKEN_DB_CONNECT = 0,      /**< Action=DbConnect: any user other than admin */
    DSQL_TOKEN_DB_CONNECT_ADMIN = 1 /**< Action=DbConnectAdmin: the user "admin" */
} dsql_token_action;

/** The inputs of a token. */
typedef struct dsql_token_params {
    const char *hostname;     /**< full endpoint host name (no scheme, no port) */
    const char *region;       /**< signing region; NULL = from the host name */
    dsql_token_action action;
    long expires_in;          /**< seconds, 1..604800; 0 = DSQL_TOKEN_EXPIRES_DEFAULT */
    time_t signing_time;      /**< 0 = now; set for reproducible tokens */
    void *reserved_[2];       /**< room for fields added later: zero */
} dsql_token_params;

#define DSQL_TOKEN_PARAMS_INIT {0} /* DbConnect, defaults */

/**
 * Mints an auth token for params with creds. *token is a new NUL-terminated string;
 * release it with dsql_token_free() (which wipes it). The output matches the official
 * AWS signer byte for byte. creds' strings are only read; its memo (see dsql_credentials)
 * is updated, so minting again with the same value is faster.
 * Borrows: params, creds (creds' memo is updated) (during the call only).
 * Owns: *token is new.
 * Free with: dsql_token_free(*token).
 */
DSQL_API int dsql_token_generate(const dsql_token_params *params, const dsql_credentials *creds,
                                 char **token, dsql_error *err);

/** Wipes and frees a token. NULL is a no-op.
 * Free with: this call wipes and frees token. */
DSQL_API void dsql_token_free(char *token);

/**
 * Resolves an endpoint: `host_or_id` is a full DSQL host name or a bare 26-character
 * cluster id. The region is taken, in order, from `region` (if not NULL/empty), the
 * host name, AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region` in the AWS
 * config file (profile as in dsql_credentials_provider_default). A bare id is expanded to
 * `<id>.dsql.<region>.on.aws`. *host_out and *region_out are new strings (free()).
 * No region found: DSQL_ECONFIG with a message naming every place looked at.
 * Borrows: the strings (during the call only).
 * Owns: *host_out and *region_out are new.
 * Free with: free() each.
 */
DSQL_API int dsql_endpoint_resolve(const char *host_or_id, const char *region,
                                   const char *profile, char **host_out, char **region_out,
                                   dsql_error *err);

/**
 * The region embedded in a DSQL host name (`...dsql[^.]*.<region>.on.aws`), copied into
 * buf (size bufsize). Returns true if the host carries one.
 * Borrows: host (during the call only); the region is copied into the caller's buf.
 * Owns: nothing is handed out.
 */
DSQL_API bool dsql_region_from_host(const char *host, char *buf, size_t bufsize);

/** True when host looks like an Aurora DSQL endpoint (or a bare cluster id).
 * Borrows: host (during the call only).
 * Owns: nothing is handed out. */
DSQL_API bool dsql_is_dsql_host(const char *host);

#ifdef __cplusplus
}
#endif

/* clang-format on */
#endif
