/*
 * libdsql common definitions: export macro, status codes, the error record, logging.
 *
 * Thread rule: everything here is either a constant or operates only on the caller's
 * own dsql_error, so it is safe from any thread.
 */
#ifndef DSQL_COMMON_H
#define DSQL_COMMON_H
/* Declarations, comments and macro tables are aligned by hand: */
/* clang-format off */

#include <stdarg.h>
#include <stddef.h>

#include "dsql/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(DSQL_BUILDING) && defined(__GNUC__)
#define DSQL_API __attribute__((visibility("default")))
#else
#define DSQL_API
#endif

#if defined(__GNUC__)
#define DSQL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define DSQL_PRINTF(fmt, args)
#endif

/* A name kept for one release after it was replaced: using it warns, naming the new one
 * (CHANGELOG.md lists them). The library itself does not warn about defining them. */
#if defined(__GNUC__) && !defined(DSQL_BUILDING)
#define DSQL_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define DSQL_DEPRECATED(msg)
#endif

/**
 * Result codes. Every fallible call returns an int: DSQL_OK (0) on success, otherwise
 * one of these. Values are part of the ABI and are never renumbered; new codes are only
 * appended.
 */
typedef enum dsql_status {
    DSQL_OK = 0,
    DSQL_EINVAL = 1,           /**< an argument or input value is invalid */
    DSQL_ENOMEM = 2,           /**< out of memory */
    DSQL_EIO = 3,              /**< file or socket I/O failed */
    DSQL_ECONFIG = 4,          /**< configuration incomplete or inconsistent */
    DSQL_ECREDENTIALS = 5,     /**< no AWS credentials, or a credential source failed */
    DSQL_EAUTH = 6,            /**< the server rejected authentication */
    DSQL_ECONNECT = 7,         /**< could not connect (network, TLS, server down) */
    DSQL_ETIMEOUT = 8,         /**< an operation did not finish in time */
    DSQL_ESERVER = 9,          /**< the server reported an error (see sqlstate) */
    DSQL_ECONFLICT = 10,       /**< optimistic-concurrency conflict (40001, OC000/OC001) */
    DSQL_EUNKNOWN_OUTCOME = 11,/**< connection lost with a COMMIT, or an autocommit write,
                                     in flight: it may or may not have applied */
    DSQL_ENOTFOUND = 12,       /**< no row matched */
    DSQL_EVALIDATION = 13,     /**< a model value failed validation before any round trip */
    DSQL_ECONSTRAINT = 14,     /**< a constraint was violated (SQLSTATE class 23) */
    DSQL_ELIMIT = 15,          /**< a service quota was exceeded (SQLSTATE 54000) */
    DSQL_EUNSUPPORTED = 16,    /**< feature not supported (SQLSTATE 0A000) */
    DSQL_ECLOSED = 17,         /**< the handle (pool, connection) is closed */
    DSQL_EHTTP = 18,           /**< an HTTP credential endpoint failed */
    DSQL_EPARSE = 19,          /**< malformed input: file, JSON, XML, conninfo, value */
    DSQL_ECONNLOST = 20,       /**< the connection was lost during a statement */
    DSQL_EPARTIAL = 21,        /**< a chunked operation landed only in part */
    DSQL_EINTERNAL = 22,       /**< a bug in libdsql; please report it */
    DSQL_EMISUSE = 23,         /**< the caller used the API wrongly (a call the program's
                                     logic must change, not the data: e.g. acquiring from a
                                     pool inside a transaction body that holds one of its
                                     connections) */
    DSQL_EUNAVAILABLE = 24,    /**< a transient service fault (Aurora DSQL's XX000 "server
                                     unavailable"), still there after the retries */
    DSQL_ESTALE = 25,          /**< a save of a versioned row (DSQL_VERSION) that changed
                                     since it was read: nothing was written */
    DSQL_EVETO = 26,           /**< a model's before hook refused the call: nothing was
                                    written */
    DSQL_EABORTED = 27         /**< an operation of an atomic batch that did not apply
                                    because another operation of the batch failed (its
                                    transaction rolled back, or it never ran) */
} dsql_status;

/**
 * The error record. Fixed-size buffers, so it never needs freeing and can live on the
 * stack. Every fallible call takes a `dsql_error *err` last; it may be NULL.
 * On success the record is left untouched; on failure it is overwritten entirely.
 * Messages never contain secret keys, session tokens or auth tokens.
 */
typedef struct dsql_error {
    int status;          /**< a dsql_status */
    char sqlstate[6];    /**< the server's SQLSTATE, or "" when the error is not the server's */
    char message[512];   /**< what failed, in words a user can act on */
    char detail[256];    /**< the server's DETAIL, or "" */
    char hint[256];      /**< the server's HINT, or "" */
} dsql_error;

/** A zeroed dsql_error, for `dsql_error err = DSQL_ERROR_INIT;`. */
#define DSQL_ERROR_INIT {0, {0}, {0}, {0}, {0}}

/** The name of a status, such as "DSQL_ETIMEOUT"; never NULL ("DSQL_E?" if unknown).
 * Owns: the string is static.
 * Free with: nothing. */
DSQL_API const char *dsql_status_name(int status);

/** A short description of a status, such as "operation timed out"; never NULL.
 * Owns: the string is static.
 * Free with: nothing. */
DSQL_API const char *dsql_strerror(int status);

/** Resets an error record to DSQL_ERROR_INIT. NULL is a no-op.
 * Owns: err is the caller's and holds no heap memory.
 * Free with: nothing. */
DSQL_API void dsql_error_clear(dsql_error *err);

/**
 * Fills err (if not NULL) with status and a printf-style message, clearing sqlstate,
 * detail and hint. Returns status, so `return dsql_error_set(err, DSQL_EINVAL, ...);`
 * works. Useful to callbacks (custom credential providers, transaction bodies) that
 * report their own failures.
 * Borrows: fmt and its arguments (formatted into err's buffers) (during the call only).
 * Free with: nothing (err holds no heap memory).
 */
DSQL_API int dsql_error_set(dsql_error *err, int status, const char *fmt, ...) DSQL_PRINTF(3, 4);

/** Log levels passed to a dsql_log_fn. */
typedef enum dsql_log_level {
    DSQL_LOG_DEBUG = 0,
    DSQL_LOG_INFO = 1,
    DSQL_LOG_WARN = 2,
    DSQL_LOG_ERROR = 3
} dsql_log_level;

/**
 * Logging callback, like Sequelize's `logging:` option: SQL text with its timing,
 * retries, connects and retirements arrive here as one line each (no trailing newline).
 * The message is only valid during the call. Called from whichever thread did the work;
 * the callback must be thread-safe if the pool is shared. Never receives secrets.
 */
typedef void (*dsql_log_fn)(dsql_log_level level, const char *message, void *ctx);

/**
 * A ready-made dsql_log_fn that writes each message as one line to stderr (the
 * counterpart of Sequelize's `logging: console.log`): `cfg.log = dsql_log_stderr;`.
 * ctx is ignored. Lines from several threads never interleave within a line.
 * Borrows: message (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API void dsql_log_stderr(dsql_log_level level, const char *message, void *ctx);

/** The library's version string, e.g. "0.2.0".
 * Owns: the string is static.
 * Free with: nothing. */
DSQL_API const char *dsql_version(void);

#ifdef __cplusplus
}
#endif

/* clang-format on */
#endif
