/*
 * libdsql connections: configuration, connecting (IAM token per connection, TLS
 * verify-full), typed parameterized queries, results, pipelined batches and statistics.
 *
 * Thread rule: a dsql_config is plain data owned by the caller. A dsql_conn and a
 * dsql_result are used by one thread at a time. Pools (dsql/pool.h) are thread-safe.
 */
#ifndef DSQL_CONN_H
#define DSQL_CONN_H
/* Declarations, comments and macro tables are aligned by hand: */
/* clang-format off */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dsql/auth.h"
#include "dsql/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How a connection authenticates. */
typedef enum dsql_auth_mode {
    DSQL_AUTH_AUTO = 0,     /**< IAM for DSQL endpoints (and when region is set), else password */
    DSQL_AUTH_IAM = 1,      /**< a fresh SigV4 token as password for every physical connection */
    DSQL_AUTH_PASSWORD = 2  /**< `password` (or PGPASSWORD / .pgpass / trust), plain PostgreSQL */
} dsql_auth_mode;

/**
 * Connection settings. Strings are borrowed: they must stay valid until the call that
 * takes the config (dsql_conn_open, dsql_pool_open) returns; the library copies what it
 * keeps. Strings filled by dsql_config_parse() / dsql_config_from_env() are owned by
 * the config and released by dsql_config_clear().
 * Start from DSQL_CONFIG_INIT; NULL/0 means "the default" for every field.
 */
typedef struct dsql_config {
    const char *host;             /**< DSQL endpoint, bare cluster id, or PostgreSQL host;
                                       several endpoints of one multi-Region cluster
                                       comma-separated, each optionally host:port (see
                                       docs/connections.md, Multi-Region clusters) */
    const char *hostaddr;         /**< numeric address to connect to instead of resolving host
                                       (TLS and the token still use host) */
    int port;                     /**< default 5432 */
    const char *database;         /**< default "postgres" */
    const char *user;             /**< default "admin" */
    const char *password;         /**< password mode only */
    dsql_auth_mode auth;
    const char *region;           /**< signing region; default: from host, env, profile.
                                       With several endpoints: one region per endpoint,
                                       comma-separated, or one for the endpoints whose
                                       host name does not name theirs */
    const char *profile;          /**< AWS profile for the default credential chain */
    dsql_credentials_provider *credentials; /**< borrowed; NULL = default chain */
    long expires_in;              /**< token lifetime in seconds; default 900 */
    const char *schema;           /**< search_path, sent in the startup options; NULL =
                                       none (admin) */
    const char *application_name; /**< prefix: "myapp" gives "myapp:libdsql/<version>" */
    const char *sslmode;          /**< default "verify-full" */
    const char *sslrootcert;      /**< default: system bundle (libpq < 16) / "system" */
    int connect_timeout_s;        /**< default 10 */
    dsql_log_fn log;              /**< optional logging callback */
    void *log_ctx;
    void *owned_;                 /**< private: strings owned by the config */
    time_t signing_time;          /**< IAM: fixed signing time for reproducible tokens
                                       (tests); 0 = now, which is what programs want */
    int statement_cache;          /**< prepared statements kept per connection (an LRU
                                       keyed by SQL text): 0 = default 256, -1 = off, at
                                       most 65536. See docs/connections.md */
    int query_timeout_ms;         /**< the longest wait for the server once connected: each
                                       round trip (a statement, a pipeline, COMMIT) must be
                                       answered within it, or the call fails with
                                       DSQL_ETIMEOUT (DSQL_EUNKNOWN_OUTCOME when a write or
                                       COMMIT was in flight), the server is asked to cancel
                                       the statement and the connection is closed. DDL and
                                       CALL (index builds, CALL sys.wait_for_job) get at
                                       least 330 s. 0 = default 60000; at most 86400000
                                       (24 h) */
    const char *local_region;     /**< several endpoints: the Region this program runs in;
                                       the endpoint in it is preferred (new connections go
                                       there while it is healthy). NULL = AWS_REGION, then
                                       AWS_DEFAULT_REGION; no endpoint in it = the first */
    int log_parameters;           /**< the SQL log (log, at DSQL_LOG_DEBUG) also shows each
                                       statement's parameter values: 0 = off (the default:
                                       values often hold personal data); 1 = on, each value
                                       shown up to DSQL_LOG_VALUE_MAX bytes; a larger number
                                       = on, values shown up to that many bytes (at most
                                       1048576). Values marked secret (DSQL_SECRET_STR,
                                       DSQL_VALUE_SECRET, a model attribute's DSQL_SECRET)
                                       are always shown as <redacted>. See docs/api.md */
    void *reserved_[6];           /**< room for fields added later without changing the
                                       struct's size: zero (DSQL_CONFIG_INIT) */
} dsql_config;

/** Bytes of each parameter value the SQL log shows with log_parameters = 1; longer values
 * are cut (the line then gives their full size). At most DSQL_LOG_PARAMS_LISTED values of
 * one statement are listed. */
#define DSQL_LOG_VALUE_MAX    64
#define DSQL_LOG_PARAMS_LISTED 100

/** Default and maximum of dsql_config.query_timeout_ms. */
#define DSQL_QUERY_TIMEOUT_DEFAULT_MS 60000
#define DSQL_QUERY_TIMEOUT_MAX_MS     86400000

#define DSQL_CONFIG_INIT {0}

/**
 * Fills cfg from a conninfo-style string: space-separated `keyword=value` pairs, values
 * optionally single-quoted with \\ and \' escapes. Keywords: host hostaddr port dbname
 * (or database) user password auth (iam|password|auto) region profile expires_in schema
 * application_name sslmode sslrootcert connect_timeout statement_cache (-1 = off, 0 =
 * default, or a capacity) query_timeout_ms local_region log_parameters (off, on, or the
 * bytes of each value shown). host (and region, hostaddr) may list several endpoints,
 * comma-separated. Unknown keywords, bad numbers
 * and unterminated quotes are DSQL_EPARSE errors naming the keyword. Fields not named
 * keep their value.
 * Borrows: conninfo (during the call only).
 * Owns: cfg owns the strings it fills.
 * Free with: dsql_config_clear(cfg).
 */
DSQL_API int dsql_config_parse(dsql_config *cfg, const char *conninfo, dsql_error *err);

/**
 * Fills unset fields of cfg from the environment: CLUSTER_ENDPOINT (several endpoints of a
 * multi-Region cluster comma-separated, each optionally host:port), CLUSTER_REGION (or
 * REGION; a comma-separated list gives one per endpoint), CLUSTER_USER, AWS_PROFILE, DSQL_QUERY_TIMEOUT_MS,
 * DSQL_LOG_PARAMETERS (off, on or a number of bytes, as the log_parameters keyword) (a
 * host taken from
 * CLUSTER_ENDPOINT also sets
 * auth to DSQL_AUTH_IAM when it was DSQL_AUTH_AUTO, whatever the host name looks like);
 * with no CLUSTER_ENDPOINT, the PG* variables
 * (PGHOST, PGHOSTADDR, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE, PGSSLROOTCERT,
 * PGCONNECT_TIMEOUT, PGAPPNAME; DSQL_QUERY_TIMEOUT_MS and DSQL_LOG_PARAMETERS too) select a
 * plain PostgreSQL.
 * Half-set environments are DSQL_ECONFIG errors.
 * Owns: cfg owns the strings it fills.
 * Free with: dsql_config_clear(cfg).
 */
DSQL_API int dsql_config_from_env(dsql_config *cfg, dsql_error *err);

/** Frees strings owned by cfg and resets it to DSQL_CONFIG_INIT. NULL is a no-op.
 * Free with: this call frees what cfg owns; strings the caller set stay the caller's. */
DSQL_API void dsql_config_clear(dsql_config *cfg);

/** One physical connection. Opaque. */
typedef struct dsql_conn dsql_conn;

/**
 * Opens one connection (minting a fresh token in IAM mode; "waking up" and connection
 * limit refusals are retried with backoff for up to connect_timeout_s, an expired token
 * signature is re-signed once). With several endpoints, the preferred one is tried first,
 * then the others in order when it cannot be reached (each within connect_timeout_s; the
 * error then names every endpoint's failure). cfg is only read during the call. *out is a new
 * connection: close it with dsql_conn_close(). Most programs use a pool (dsql/pool.h)
 * instead.
 * Borrows: cfg (during the call only: copied); its credentials provider, until conn closes.
 * Owns: *out is new.
 * Free with: dsql_conn_close(*out).
 */
DSQL_API int dsql_conn_open(const dsql_config *cfg, dsql_conn **out, dsql_error *err);

/** The former name of dsql_conn_open (paired with dsql_conn_close, as dsql_pool_open is
 * with dsql_pool_close). Removed in 0.3.
 * Owns, Borrows, Free with: as dsql_conn_open. */
DSQL_DEPRECATED("renamed dsql_conn_open")
DSQL_API int dsql_connect(const dsql_config *cfg, dsql_conn **out, dsql_error *err);

/** Closes a connection opened with dsql_conn_open() (never one acquired from a pool:
 * release those). NULL is a no-op.
 * Free with: this call closes and frees conn (never a pooled one: dsql_pool_release). */
DSQL_API void dsql_conn_close(dsql_conn *conn);

/** True when the connection is usable (not broken).
 * Borrows: conn (during the call only).
 * Owns: nothing is handed out. */
DSQL_API bool dsql_conn_ok(const dsql_conn *conn);

/**
 * The underlying libpq connection, for what libdsql does not wrap. Borrowed: valid until
 * the connection is closed or released to its pool. Do not change its state (no
 * transaction left open, no settings).
 * Owns: conn owns the libpq connection it returns.
 * Free with: nothing (it goes with conn).
 */
struct pg_conn;
DSQL_API struct pg_conn *dsql_conn_pg(dsql_conn *conn);

/** Per-connection counters (never reset). */
typedef struct dsql_conn_stats {
    uint64_t statements;  /**< statements sent */
    uint64_t round_trips; /**< network round trips waited for (a pipeline counts once) */
    uint64_t prepared;    /**< statements the statement cache prepared on the server (each
                               Parse rode in the round trip of the statement's run) */
    uint64_t cache_hits;  /**< statements run from a cached prepared statement (no parse or
                               plan on the server), failed ones included */
    uint64_t deallocated; /**< evicted prepared statements closed on the server (each
                               DEALLOCATE rode in a later round trip) */
} dsql_conn_stats;

/** Copies conn's counters into *stats (zeroes for NULL).
 * Borrows: conn (during the call only); counters are copied into the caller's *stats.
 * Owns: nothing is handed out. */
DSQL_API void dsql_conn_get_stats(const dsql_conn *conn, dsql_conn_stats *stats);

/* ---- values (statement parameters, and model where-clauses) ---- */

typedef enum dsql_value_kind {
    DSQL_V_NULL = 0,
    DSQL_V_TEXT,   /**< NUL-terminated UTF-8 text (also used for uuid, numeric, dates) */
    DSQL_V_INT,    /**< int64_t */
    DSQL_V_DOUBLE, /**< double (NaN and infinities included) */
    DSQL_V_BOOL,
    DSQL_V_BYTES   /**< binary (bytea), may contain NUL bytes */
} dsql_value_kind;

/** dsql_value.flags: the value is a secret (a password, a token, a card number). The SQL
 * log never shows it (it reads <redacted>, even with log_parameters on), and when the
 * statement fails its text is cut out of the error's message, detail and hint (the server
 * may quote a value there, e.g. "Key (k)=(...) already exists"). */
#define DSQL_VALUE_SECRET 0x1u

/** A typed value. Borrowed pointers: valid for the duration of the call it is passed to. */
typedef struct dsql_value {
    dsql_value_kind kind;
    uint32_t flags;       /**< DSQL_VALUE_SECRET, or 0 (the constructors below leave it 0);
                               the padding after kind, so the struct's size and the place
                               of u are what they were */
    union {
        const char *s;
        int64_t i;
        double d;
        bool b;
        struct {
            const void *data;
            size_t len;
        } bytes;
    } u;
} dsql_value;

/* Value constructors. (Type names such as DSQL_TEXT and DSQL_DOUBLE belong to model
 * attribute declarations, dsql/model.h; values use these shorter names.) */
#define DSQL_NULL        ((dsql_value){.kind = DSQL_V_NULL})
#define DSQL_STR(str)    ((dsql_value){.kind = DSQL_V_TEXT, .u.s = (str)})
#define DSQL_INT(n)      ((dsql_value){.kind = DSQL_V_INT, .u.i = (int64_t)(n)})
#define DSQL_DBL(x)      ((dsql_value){.kind = DSQL_V_DOUBLE, .u.d = (double)(x)})
#define DSQL_BOOL(x)     ((dsql_value){.kind = DSQL_V_BOOL, .u.b = (bool)(x)})
/* The same as braced initializers, constant expressions for static tables (a scope's
 * where: static const dsql_scope s[] = {{.name = "x", .where = DSQL_EQ("a",
 * DSQL_STATIC_INT(1))}}), where the compound literals above are not constants. */
#define DSQL_STATIC_NULL   {.kind = DSQL_V_NULL}
#define DSQL_STATIC_STR(str_) {.kind = DSQL_V_TEXT, .u.s = (str_)}
#define DSQL_STATIC_INT(n_) {.kind = DSQL_V_INT, .u.i = (int64_t)(n_)}
#define DSQL_STATIC_DBL(x_) {.kind = DSQL_V_DOUBLE, .u.d = (double)(x_)}
#define DSQL_STATIC_BOOL(x_) {.kind = DSQL_V_BOOL, .u.b = (bool)(x_)}
#define DSQL_BYTES(p, n) ((dsql_value){.kind = DSQL_V_BYTES, .u.bytes = {(p), (n)}})
/* The same, marked secret (DSQL_VALUE_SECRET): never shown in a log line or an error. Any
 * other value is marked by setting .flags = DSQL_VALUE_SECRET. */
#define DSQL_SECRET_STR(str)                                                                   \
    ((dsql_value){.kind = DSQL_V_TEXT, .flags = DSQL_VALUE_SECRET, .u.s = (str)})
#define DSQL_SECRET_BYTES(p, n)                                                                \
    ((dsql_value){.kind = DSQL_V_BYTES, .flags = DSQL_VALUE_SECRET, .u.bytes = {(p), (n)}})

/* ---- results ---- */

/**
 * A query result. Owns every byte it hands out (values, and for model queries the
 * hydrated structs and their strings); dsql_result_free() releases it all.
 */
typedef struct dsql_result dsql_result;

/** Frees res and everything it handed out. NULL is a no-op.
 * Free with: this call frees res and every row and string it handed out. */
DSQL_API void dsql_result_free(dsql_result *res);
/** Number of rows (0 for NULL or a command without rows).
 * Borrows: res (during the call only).
 * Owns: nothing is handed out. */
DSQL_API size_t dsql_result_rows(const dsql_result *res);
/** Number of columns.
 * Borrows: res (during the call only).
 * Owns: nothing is handed out. */
DSQL_API size_t dsql_result_cols(const dsql_result *res);
/** Rows affected by INSERT/UPDATE/DELETE (0 for others).
 * Borrows: res (during the call only).
 * Owns: nothing is handed out. */
DSQL_API uint64_t dsql_result_affected(const dsql_result *res);
/** Column name, or NULL when out of range. Valid until dsql_result_free().
 * Owns: res owns the string.
 * Free with: nothing (it goes with dsql_result_free(res)). */
DSQL_API const char *dsql_result_col_name(const dsql_result *res, size_t col);
/** Column index by name, or -1.
 * Borrows: res, name (during the call only).
 * Owns: nothing is handed out. */
DSQL_API int dsql_result_col_index(const dsql_result *res, const char *name);
/** True for SQL NULL (and out of range).
 * Borrows: res (during the call only).
 * Owns: nothing is handed out. */
DSQL_API bool dsql_result_is_null(const dsql_result *res, size_t row, size_t col);
/** Text form of a value ("" for NULL or out of range). Valid until dsql_result_free().
 * Owns: res owns the string.
 * Free with: nothing (it goes with dsql_result_free(res)). */
DSQL_API const char *dsql_result_text(const dsql_result *res, size_t row, size_t col);
/** Typed getters: DSQL_EINVAL for NULL or out of range, DSQL_EPARSE when the text does
 * not convert (naming the column).
 * Borrows: res (during the call only).
 * Owns: nothing is handed out. */
DSQL_API int dsql_result_int(const dsql_result *res, size_t row, size_t col, int64_t *out,
                             dsql_error *err);
DSQL_API int dsql_result_double(const dsql_result *res, size_t row, size_t col, double *out,
                                dsql_error *err);
DSQL_API int dsql_result_bool(const dsql_result *res, size_t row, size_t col, bool *out,
                              dsql_error *err);
/**
 * A bytea value (text-format hex, as returned by PostgreSQL) decoded into *data / *len.
 * The bytes belong to res: valid until dsql_result_free(). DSQL_EINVAL for NULL or out of
 * range, DSQL_EPARSE when the text is not bytea.
 * Owns: res owns *data.
 * Free with: nothing (it goes with dsql_result_free(res)).
 */
DSQL_API int dsql_result_bytes(const dsql_result *res, size_t row, size_t col,
                               const void **data, size_t *len, dsql_error *err);

/* ---- statements ---- */

/**
 * Runs one parameterized statement ($1..$n) on conn, in one round trip. *res (if res is
 * not NULL) receives a new result (dsql_result_free()). Server errors are classified
 * (DSQL_ECONFLICT for 40001/OC000/OC001, DSQL_ECONSTRAINT for class 23, DSQL_ELIMIT for
 * 54000, DSQL_EUNSUPPORTED for 0A000, DSQL_EUNAVAILABLE for XX000 "server unavailable",
 * DSQL_ECONNLOST when the connection dropped, DSQL_ETIMEOUT when no answer came within
 * query_timeout_ms (the connection is then closed), else DSQL_ESERVER) with SQLSTATE,
 * message, detail and hint in err. A connection that
 * drops, times out or meets a transient fault under a statement that may write (anything
 * but SELECT, SHOW, VALUES, SET, BEGIN/COMMIT/ROLLBACK ...) outside a transaction is
 * DSQL_EUNKNOWN_OUTCOME: the write may have been applied.
 * Borrows: conn, sql, params (during the call only).
 * Owns: *res (if res is not NULL) is new.
 * Free with: dsql_result_free(*res).
 */
DSQL_API int dsql_conn_query(dsql_conn *conn, const char *sql, const dsql_value *params,
                             size_t nparams, dsql_result **res, dsql_error *err);

/** One statement of a pipelined batch. */
typedef struct dsql_stmt {
    const char *sql;
    const dsql_value *params;
    size_t nparams;
} dsql_stmt;

/**
 * Sends n statements in libpq pipeline mode and waits once: one network round trip for
 * the whole batch, bounded by query_timeout_ms. With one Sync for the batch, the server
 * runs it as one transaction when conn is not inside one already: two DDL statements, or
 * DDL with DML, are DSQL_EUNSUPPORTED before anything is sent (Aurora DSQL's rule).
 * results (if not NULL) is an array of n slots that receive a new dsql_result each (NULL
 * for statements after a failure). On the first failing statement, the error names its
 * index; later statements are not run.
 * Borrows: conn, stmts (during the call only).
 * Owns: the n results put into results[] are new.
 * Free with: dsql_result_free() each.
 */
DSQL_API int dsql_conn_pipeline(dsql_conn *conn, const dsql_stmt *stmts, size_t n,
                                dsql_result **results, dsql_error *err);

#ifdef __cplusplus
}
#endif

/* clang-format on */
#endif
