/*
 * Private to the conn layer (not for the model layer: use internal.h).
 *
 * A dsql__spec is a dsql_config resolved once (defaults applied, endpoint and auth
 * mode decided, every string copied) so that a pool can open connections long after
 * the caller's config is gone. A dsql_conn carries the bookkeeping its pool needs.
 */
#ifndef DSQL_CONN_PRIVATE_H
#define DSQL_CONN_PRIVATE_H

#include <locale.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "conn/internal.h"

/* Counters a spec's connects feed (a pool's, or a throwaway one for dsql_conn_open). */
typedef struct dsql__connect_stats {
    atomic_uint_fast64_t connects;    /* physical connections opened */
    atomic_uint_fast64_t token_mints; /* IAM tokens minted */
    atomic_uint_fast64_t failures;    /* connect attempts that failed */
} dsql__connect_stats;

/* The most bytes of one parameter value the SQL log shows (dsql_config.log_parameters). */
#define DSQL__LOG_PARAMS_MAX 1048576

/* One endpoint a spec's connections may go to. */
typedef struct dsql__endpoint {
    char *host;     /* endpoint (resolved in IAM mode); NULL = libpq default */
    char *hostaddr; /* NULL = resolve host */
    char port[8];
    char *region; /* IAM: signing region (the token is minted for host and region) */
} dsql__endpoint;

/* Endpoints of one multi-Region cluster a config may name. */
#define DSQL__MAX_ENDPOINTS 8

typedef struct dsql__spec {
    bool iam;
    dsql__endpoint ep[DSQL__MAX_ENDPOINTS];
    size_t nep;       /* at least 1 */
    size_t preferred; /* the local Region's endpoint, else 0 */
    char *database;
    char *user;
    char *password; /* password mode only; wiped on free */
    dsql_token_action action;
    long expires_in;
    time_t signing_time;
    dsql_credentials_provider *credentials; /* borrowed or owned (owns_credentials) */
    bool owns_credentials;
    char *options; /* startup options ("-c search_path=..."), NULL = none */
    char *schema;
    char *application_name;
    char *sslmode;
    char *sslrootcert; /* NULL when sslmode does not verify */
    bool sslnegotiation_direct;
    int connect_timeout_s;
    dsql_log_fn log;
    void *log_ctx;
    int statement_cache;      /* capacity per connection; 0 = off */
    int64_t query_timeout_ms; /* bound of every wait for the server once connected */
    int log_params;           /* bytes of each parameter value the SQL log shows; 0 = none */
} dsql__spec;

/* ---- IAM (iam.c) ---- */

/* True when an AUTO config means IAM: a DSQL endpoint or an explicit region. */
bool dsql__config_wants_iam(const dsql_config *cfg);
/* IAM part of dsql__spec_init: every endpoint's host and region (the hosts and regions
 * split from the config are in spec->ep already, as given), credentials, token action. */
int dsql__spec_init_iam(dsql__spec *spec, const dsql_config *cfg, dsql_error *err);
/* Releases what dsql__spec_init_iam acquired (the credentials provider). */
void dsql__spec_free_iam(dsql__spec *spec);
/* Mints the password of one connection attempt to endpoint ep (its host and region).
 * *token: dsql__token_free(). */
int dsql__spec_mint_token(const dsql__spec *spec, const dsql__endpoint *ep, char **token,
                          dsql_error *err);
void dsql__token_free(char *token);

/* Resolves cfg into spec (zeroed on entry). On failure spec needs no free. */
int dsql__spec_init(dsql__spec *spec, const dsql_config *cfg, dsql_error *err);
void dsql__spec_free(dsql__spec *spec);

/* ---- statement cache (stmt_cache.c) ----
 *
 * Per connection: SQL text -> a named prepared statement on the server ("dsql_<n>"),
 * a hash map plus an LRU list. Lives and dies with the physical connection. Only DML and
 * queries are cached (SELECT, INSERT, UPDATE, DELETE, WITH, VALUES, TABLE, MERGE), never
 * transaction control, DDL or session commands. A statement is prepared on its second
 * run (the first runs unnamed, so one-off statements never occupy the server); the Parse
 * goes out in the same pipeline as its Bind/Execute, so a miss still costs one round
 * trip. Evicted statements are closed with DEALLOCATE, piggy-backed (in a sync segment
 * of its own) on the next round trip the connection makes outside a transaction. */

typedef enum dsql__stmt_state {
    DSQL__STMT_NEW = 0, /* seen, not prepared on the server yet */
    DSQL__STMT_PARSING, /* Parse sent, its answer not read yet */
    DSQL__STMT_READY,   /* prepared on the server */
    DSQL__STMT_DEAD     /* dropped from the cache during a batch; freed after it */
} dsql__stmt_state;

typedef struct dsql__stmt dsql__stmt;
struct dsql__stmt {
    dsql__stmt *hnext;       /* hash chain; graveyard link once dead */
    dsql__stmt *prev, *next; /* LRU list, most recent first */
    uint64_t hash;
    uint64_t id;   /* server name dsql_<id> once a Parse was sent */
    char name[24]; /* "dsql_<id>", written with id */
    uint32_t uses; /* successful unnamed runs so far */
    int nparams;
    dsql__stmt_state state;
    size_t len;
    char sql[];
};

typedef struct dsql__stmt_cache {
    int capacity; /* entries kept; 0 = cache off */
    size_t count;
    size_t nbuckets; /* power of two; 0 until the first entry */
    dsql__stmt **buckets;
    dsql__stmt *head, *tail; /* LRU */
    dsql__stmt *graveyard;   /* dropped during the current batch */
    size_t nparsing;         /* entries in state PARSING */
    uint64_t next_id;
    uint64_t *pending; /* ids to DEALLOCATE at the next idle round trip */
    size_t npending, pending_cap;
    size_t bytes;       /* SQL text held */
    bool proven;        /* a Parse has succeeded on this connection */
    bool disabled;      /* the server refused named statements: all run unnamed */
    bool no_deallocate; /* the server refused DEALLOCATE: evicted statements stay */
    size_t orphans;     /* statements left on the server because of that */
} dsql__stmt_cache;

/* What one statement does about the cache. */
typedef enum dsql__stmt_action {
    DSQL__RUN_UNNAMED = 0, /* unnamed statement (PQexecParams semantics) */
    DSQL__RUN_PREPARE,     /* Parse into entry's name, then Bind/Execute it */
    DSQL__RUN_CACHED       /* Bind/Execute the entry's prepared statement */
} dsql__stmt_action;

#define DSQL__STMT_DEFAULT_CAPACITY 256
#define DSQL__STMT_MAX_CAPACITY     65536
#define DSQL__STMT_MAX_SQL          32768     /* longer statements are not cached */
#define DSQL__STMT_MAX_BYTES        (1 << 20) /* SQL text kept per connection */

void dsql__stmt_cache_init(dsql__stmt_cache *c, int capacity);
void dsql__stmt_cache_free(dsql__stmt_cache *c);
/* Forgets every entry and pending DEALLOCATE (after DISCARD ALL / DEALLOCATE ALL). */
void dsql__stmt_cache_reset(dsql__stmt_cache *c);
/* Decides how sql runs; *entry (for PREPARE / CACHED) stays valid until the end of the
 * batch (dsql__stmt_cache_end_batch). Marks a PREPARE entry PARSING and names it. Until a
 * Parse has succeeded on the connection, statements are prepared only when may_prove
 * (autocommit, alone: a refused Parse there can be re-run unnamed without disturbing a
 * transaction or a batch). */
dsql__stmt_action dsql__stmt_cache_plan(dsql__stmt_cache *c, const char *sql, int nparams,
                                        bool may_prove, dsql__stmt **entry);
/* The server refused named statements (0A000 at the first Parse): everything runs unnamed
 * from now on. */
void dsql__stmt_cache_disable(dsql__stmt_cache *c);
/* The server name for id ("dsql_<id>"). */
void dsql__stmt_name(uint64_t id, char buf[24]);
/* After a batch: the Parse of e succeeded (READY) or not (dropped). */
void dsql__stmt_parsed(dsql__stmt_cache *c, dsql__stmt *e, bool ok);
/* After a successful unnamed run of a cacheable statement. */
void dsql__stmt_ran_unnamed(dsql__stmt *e);
/* Drops e (its prepared statement failed as stale or missing); `exists` = the server
 * still holds it (so it is deallocated later). Safe to call twice in one batch. */
void dsql__stmt_drop(dsql__stmt_cache *c, dsql__stmt *e, bool exists);
/* Ends a batch: frees dropped entries, evicts down to capacity. */
void dsql__stmt_cache_end_batch(dsql__stmt_cache *c);
/* The DEALLOCATE refused by the server: stop deallocating on this connection. */
void dsql__stmt_cache_refuse_deallocate(dsql__stmt_cache *c);
/* True for statements the cache may prepare: SELECT INSERT UPDATE DELETE WITH VALUES TABLE
 * MERGE (sqltext.c). */
bool dsql__sql_cacheable(const char *sql);
/* True when sql is DISCARD ALL or DEALLOCATE [PREPARE] ALL (the cache must be reset once
 * it ran). */
bool dsql__sql_drops_statements(const char *sql);
/* True for statements that commit nothing by themselves: queries, DML, BEGIN / START. */
bool dsql__sql_commits_nothing(const char *sql);
/* False for statements that change nothing in autocommit (SELECT, SHOW, VALUES, BEGIN,
 * SET, ...; leading comments skipped); true for anything that may write. A connection
 * lost under an autocommit write is reported as DSQL_EUNKNOWN_OUTCOME. */
bool dsql__sql_may_write(const char *sql);

struct dsql_conn {
    dsql_db db; /* first: a dsql_conn * is a dsql_db * (kind DSQL__MAGIC_CONN) */
    PGconn *pg;
    dsql_log_fn log;
    void *log_ctx;
    int log_params; /* bytes of each parameter value the SQL log shows; 0 = values not shown */
    dsql_conn_stats stats;
    dsql__stmt_cache stmts;
    bool broken;              /* set once the connection is known to be unusable */
    int last_error_status;    /* status of the last failed statement (0 = none yet) */
    int64_t query_timeout_ms; /* each round trip must end within this */
    int64_t round_trip_ms;    /* the bound of the current round trip */
    int64_t deadline_ms;      /* monotonic end of the current round trip */
    bool timed_out;           /* broken because the server missed a deadline */
    size_t ep;                /* index of its endpoint in the spec */
    uint64_t tx_rows;         /* rows the open transaction's statements reported modified
                                 (INSERT/UPDATE/DELETE/MERGE tags; 0 outside one) */
    bool begin_pending;       /* the runner's transaction is open but its BEGIN not yet sent:
                                 it rides in front of the first statement, in the same round
                                 trip (dsql__conn_tx_status reports it as open) */
    /* pool bookkeeping (zero for a standalone connection) */
    struct dsql_pool *pool;
    int64_t created_ms;
    int64_t expires_ms; /* retire at or after this monotonic time; 0 = never */
    int64_t idle_since_ms;
    dsql_conn_stats stats_at_acquire;
    struct dsql_conn *prev, *next; /* idle list */
    unsigned home_slot;            /* 1 + the pool's home slot of the thread it was lent to
                                      last; 0 = none */
};

/* The connection's transaction status as the library sees it: PQtransactionStatus, or
 * PQTRANS_INTRANS while a runner's BEGIN waits to go out with the first statement. */
static inline PGTransactionStatusType dsql__conn_tx_status(const dsql_conn *conn)
{
    return conn->begin_pending ? PQTRANS_INTRANS : PQtransactionStatus(conn->pg);
}

/*
 * Opens one physical connection to endpoint ep of spec, retrying while the server says it
 * is waking up or over its connection rate / count (53400 / 53300) until deadline_ms
 * (monotonic), and re-signing once when the server says the token's signature expired.
 * With several endpoints, a refused TCP connect and an unavailable answer end the call at
 * once (another endpoint is tried instead of waiting for this one).
 */
int dsql__connect(const dsql__spec *spec, size_t ep, int64_t deadline_ms,
                  dsql__connect_stats *stats, dsql_conn **out, dsql_error *err);

/* True when a failed connect (its status) says the endpoint is unreachable or impaired -
 * worth trying another endpoint - rather than that the request is wrong (auth, config). */
bool dsql__connect_failure_is_endpoint(int status);

/* "host:port" of ep, for messages. */
void dsql__endpoint_name(const dsql__endpoint *ep, char *buf, size_t size);

/* Runs SELECT 1 on a fresh conn within timeout_ms: is the endpoint answering? */
int dsql__conn_verify(dsql_conn *conn, int64_t timeout_ms, dsql_error *err);

/* Frees conn and its PGconn (no logging). */
void dsql__conn_free(dsql_conn *conn);

/* Zero-round-trip liveness check: reads anything the server sent while the connection
 * sat idle (a termination notice, EOF). False when the connection is unusable. */
bool dsql__conn_alive(dsql_conn *conn);

/* Ends whatever transaction conn is in (ROLLBACK). False when it could not. */
bool dsql__conn_reset_tx(dsql_conn *conn);

/* dsql_conn_pipeline, also telling which statement failed (*failed_index = n when none
 * did, or when the batch could not even be sent completely: then the index is where
 * sending stopped). */
int dsql__conn_pipeline(dsql_conn *conn, const dsql_stmt *stmts, size_t n, dsql_result **results,
                        size_t *failed_index, dsql_error *err);

/* Marks conn broken when its libpq connection is. Returns conn->broken. */
bool dsql__conn_check_broken(dsql_conn *conn);

/* ---- transactions (tx.c) ---- */

/* Turns e into DSQL_EUNKNOWN_OUTCOME: "<what>: the transaction may or may not have
 * committed ... (<the cause>)". Returns the status. */
int dsql__commit_unknown(dsql_error *e, const char *what);

/* ---- SQL text (sqltext.c): what a statement is, read from its first keyword ---- */

/* (dsql__sql_kind_of and dsql__sql_keyword: conn/internal.h, the migration runner uses
 * them too) */

/* True for statements that may take long by design: DDL (an index built synchronously on
 * PostgreSQL, a table rewritten) and CALL (CALL sys.wait_for_job waits for an Aurora DSQL
 * index build). Their round trips are bounded by DSQL__LONG_WAIT_MS at least. */
bool dsql__sql_waits_long(const char *sql);

/* Refuses, before anything is sent, n statements that are to run as one transaction but
 * break Aurora DSQL's rule for DDL: at most one DDL statement, and never DDL with DML
 * (DSQL_EUNSUPPORTED naming the statements; `what` names the call). */
int dsql__check_one_transaction(const dsql_stmt *stmts, size_t n, const char *what,
                                dsql_error *err);

/* ---- bounded waits (wait.c) ----
 * The connection is in non-blocking mode; these are the only places that wait for its
 * socket. A missed deadline marks the connection broken and is DSQL_ETIMEOUT. */

/* The least bound of a round trip that runs DDL or CALL: Aurora DSQL ends every transaction
 * at 5 minutes itself (54000), and a little more covers the answer's way back. */
#define DSQL__LONG_WAIT_MS 330000

/* Starts a round trip: its deadline is query_timeout_ms from now, or DSQL__LONG_WAIT_MS
 * when that is longer and the round trip carries a statement that waits long by design. */
void dsql__conn_start_round_trip(dsql_conn *conn, bool long_wait);
/* Sends everything libpq has buffered, reading what arrives meanwhile. */
int dsql__conn_flush(dsql_conn *conn, dsql_error *err);
/* Waits until a result can be read without blocking. */
int dsql__conn_await(dsql_conn *conn, dsql_error *err);
/* dsql__conn_await then PQgetResult; NULL with *rc set on a missed deadline or a lost
 * connection, NULL with *rc == 0 at the end of a query's results. */
PGresult *dsql__conn_next_result(dsql_conn *conn, int *rc, dsql_error *err);
/* Drives PQconnectPoll on a started connection until it is made (1), fails (-1) or the
 * deadline passes (0). */
int dsql__connect_poll(PGconn *pg, int64_t deadline_ms);

/* ---- classification (classify.c) ---- */

/* Status for a server SQLSTATE and message (40001/OC00x, 23xxx, 54xxx, 0A000, ...). */
int dsql__classify_sqlstate(const char *sqlstate, const char *message);

/* How a failed connect should be handled. */
typedef enum dsql__connect_failure {
    DSQL__CF_FATAL = 0,     /* report it */
    DSQL__CF_RETRY,         /* waking up / rate or count limit: back off and retry */
    DSQL__CF_RESIGN,        /* signature expired: mint a new token once */
    DSQL__CF_ACCESS_DENIED, /* IAM rejected the token: policy or region problem */
    DSQL__CF_REFUSED,       /* TCP connect refused: retried only by a pool that connected
                               before (a restart), reported at once otherwise */
    DSQL__CF_UNAVAILABLE    /* the server answered "server unavailable": retried with
                               backoff on one endpoint, another endpoint tried otherwise */
} dsql__connect_failure;

dsql__connect_failure dsql__classify_connect(const char *message);

/* Copies a libpq message into buf as one line (no trailing newline, tabs and newlines
 * turned into spaces). */
void dsql__one_line(char *buf, size_t size, const char *msg);

/* ---- numbers in the C locale (exec.c) ---- */

/* ---- logging (log.c) ---- */

void dsql__log(dsql_log_fn fn, void *ctx, dsql_log_level level, const char *fmt, ...)
    DSQL_PRINTF(4, 5);
void dsql__logv(dsql_log_fn fn, void *ctx, dsql_log_level level, const char *fmt, va_list ap)
    DSQL_PRINTF(4, 0);

/* Appends sql to sb with the literal after any PASSWORD keyword masked, so statements
 * such as ALTER ROLE ... PASSWORD '...' never put a secret in a log line. */
void dsql__sb_append_sql_redacted(dsql__strbuf *sb, const char *sql);

/* ---- pool (pool.c) ---- */

/* The pool's spec logger. */
void dsql__pool_logger(dsql_pool *pool, dsql_log_fn *fn, void **ctx);

/* True when the pool has several endpoints (a multi-Region cluster): a statement that got
 * no answer before COMMIT is then retried on a fresh connection, which may go to another
 * endpoint. */
bool dsql__pool_multi(dsql_pool *pool);

/* Counts one transaction attempt / retry in the pool's statistics. */
void dsql__pool_count_tx(dsql_pool *pool, bool retry);

/* A thread running a transaction body with a connection of a pool (on its stack while the
 * body runs, on a list of the thread's own). While it is registered, the same thread
 * acquiring from the same pool is DSQL_EMISUSE: the statements would run outside the
 * transaction, and with every connection lent the acquire would wait for the one the
 * thread itself holds. */
typedef struct dsql__body_mark {
    const dsql_pool *pool;
    struct dsql__body_mark *next;
} dsql__body_mark;

void dsql__pool_body_enter(dsql_pool *pool, dsql__body_mark *mark);
void dsql__pool_body_leave(dsql_pool *pool, dsql__body_mark *mark);

/* The connection of one attempt of a retried unit (a transaction, a pipelined
 * transaction, a statement): the one *held from the attempt before, else a new acquire.
 * Aurora DSQL's transient fault (XX000 "server unavailable") is retried on the same
 * connection, so after an attempt that met it dsql__pool_attempt_done keeps the connection
 * in *held (when it is healthy and outside any transaction) instead of releasing it; the
 * unit releases what is still held once the retry loop ends. */
int dsql__pool_attempt_conn(dsql_pool *pool, dsql_conn **held, dsql_conn **conn, dsql_error *err);
void dsql__pool_attempt_done(dsql_pool *pool, dsql_conn **held, dsql_conn *conn, int rc,
                             bool retryable);

/* Checks opts (NULL = all defaults) and fills out with every value resolved: the
 * defaults for 0 fields (max 5, min 0, acquire 30000, idle 10000, lifetime 55 min).
 * DSQL_EINVAL naming the option otherwise. */
int dsql__pool_options_resolve(const dsql_pool_options *opts, dsql_pool_options *out,
                               dsql_error *err);

/* When a connection created at created_ms retires: max_lifetime_ms minus a jitter of
 * unit (in [0, 1)) times 10 % of it. */
int64_t dsql__pool_lifetime_deadline(int64_t created_ms, int64_t max_lifetime_ms, double unit);

#endif
