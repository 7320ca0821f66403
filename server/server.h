/*
 * dsql-local: a local endpoint that behaves like an Aurora DSQL cluster endpoint, in front
 * of a PostgreSQL. One thread per client session; the PostgreSQL wire protocol relayed
 * message by message, with what DSQL does differently applied on the way: TLS only, IAM
 * token authentication, DSQL's refusals (the rules module), its errors and identity, the
 * row cap and DDL rules (enforced inside PostgreSQL by objects this server installs),
 * asynchronous index jobs, connection and transaction age caps, and fault injection.
 */
#ifndef DSQL_LOCAL_SERVER_H
#define DSQL_LOCAL_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "dsql/dsql.h"

/* ---- configuration ---- */

typedef struct dl_config {
    char listen_addr[64];
    int listen_port;    /* 0 = any free port */
    char *port_file;    /* write the port here once listening */
    char *backend_host; /* TCP host, or a directory holding the unix socket */
    int backend_port;
    char *admin_user; /* backend superuser, for installing the emulation objects */
    char *tls_cert, *tls_key;
    char *hostname; /* the endpoint's name: tokens must be signed for it (SNI too) */
    char *region;
    char *access_key_id, *secret_access_key, *session_token;
    _Atomic int max_conn_age_s; /* DSQL: 3600 (also set through the control socket) */
    _Atomic int max_tx_age_s;   /* DSQL: 300 (also set through the control socket) */
    int clock_skew_s;           /* tolerated signing-time skew: 300 */
    char *server_version;       /* what clients see: "16.15" */
    char *control_path;         /* unix socket of the control interface; NULL = none */
    int verbose;
} dl_config;

/* ---- fault injection (faults.c), changed at run time through the control socket ---- */

typedef struct dl_faults {
    pthread_mutex_t mu;
    double occ_rate, oc001_rate, unavailable_rate, drop_rate;
    int latency_ms;
    int refuse_n;         /* refuse this many new connections */
    char refuse_state[6]; /* 53300 / 53400 / XX000 (server unavailable) */
    int drop_before_commit_n, drop_after_commit_n, drop_mid_result_n;
    bool stall_all;        /* every session stops relaying (sockets stay open) */
    int stall_next_n;      /* the next n statements stall their session */
    atomic_ulong injected; /* faults injected so far */
    atomic_ulong sessions, sessions_now, statements;
} dl_faults;

extern dl_faults dl_fault;

void dl_faults_init(void);
/* A random number in [0, 1). */
double dl_random(void);
/* Takes one unit of a counted fault (true when one was left). */
bool dl_take(int *counter);
/* Applies one control command line; writes the answer (one line) into out. */
void dl_control(const char *line, char *out, size_t cap);

/* ---- the server ---- */

typedef struct dl_server {
    dl_config cfg;
    SSL_CTX *tls;
    int listen_fd;
    pthread_mutex_t mu;
    struct dl_session *sessions; /* live sessions, for cancel requests and kill-all */
    /* the databases the emulation objects are installed in, by name and oid (a database
     * dropped and created again under its name is a new one); install_pg is a backend
     * session (database postgres) that looks the oids up */
    struct dl_installed {
        char *name;
        unsigned oid;
    } * installed;
    size_t n_installed;
    struct pg_conn *install_pg;
    pthread_mutex_t install_mu;
} dl_server;

extern dl_server dl;

/* Logging (to stderr) */
void dl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dl_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- buffered endpoints (io.c) ---- */

typedef struct dl_buf {
    char *data;
    size_t len, cap, off; /* unread bytes: data[off, len) */
} dl_buf;

typedef struct dl_end {
    int fd;
    SSL *ssl; /* client side after TLS; NULL = plain */
    dl_buf in;
    bool eof;
} dl_end;

bool dl_buf_reserve(dl_buf *b, size_t extra);
void dl_buf_free(dl_buf *b);
void dl_buf_compact(dl_buf *b);
/* Reads what is available (non-blocking): >0 bytes, 0 = nothing now, -1 = closed/error. */
int dl_read(dl_end *e);
/* Writes all of data, waiting at most timeout_ms for the peer to take it. */
bool dl_write(dl_end *e, const void *data, size_t n, int timeout_ms);
/* Waits until e has a whole protocol message buffered (typed or not), up to timeout_ms.
 * Returns its length (header included) or 0 on timeout, -1 on EOF/error. */
long dl_need_message(dl_end *e, bool typed, int timeout_ms);

/* ---- protocol helpers ---- */

uint32_t dl_get32(const void *p);
void dl_put32(void *p, uint32_t v);
/* Appends a complete message of type t with body to b. */
bool dl_msg(dl_buf *b, char t, const void *body, size_t n);
/* An ErrorResponse (severity ERROR or FATAL) with code, message and an optional hint. */
bool dl_error_msg(dl_buf *b, const char *severity, const char *code, const char *message,
                  const char *hint);

/* ---- sessions (session.c) ---- */

/* The TLS context: the certificate chain and key, ALPN "postgresql", SNI recorded. */
SSL_CTX *dl_tls_context(const char *cert, const char *key, char *why, size_t cap);

typedef struct dl_session dl_session;
void *dl_session_main(void *arg); /* arg: the accepted client fd (intptr) */
/* Sends a cancel request for the session with this key. */
void dl_cancel(uint32_t pid, uint32_t key);
/* Drops every live session (a server restart, seen from the clients). */
int dl_kill_all(void);

/* ---- IAM (iam.c) ---- */

typedef enum dl_auth {
    DL_AUTH_OK = 0,
    DL_AUTH_DENIED, /* anything wrong: no hint of which part */
    DL_AUTH_EXPIRED /* X-Amz-Date + X-Amz-Expires is past: "Signature expired" */
} dl_auth;

/* Verifies token for user (admin: DbConnectAdmin, else DbConnect), signed for host. */
dl_auth dl_verify_token(const char *token, const char *user, const char *host, time_t now);

/* ---- statements (rewrite.c) ---- */

/* What to send for one simple Query or Parse: the text PostgreSQL runs (malloc'd), or NULL
 * when the text passes unchanged. nparams: the parameters a Parse announced (kept, so its
 * Bind still fits a refusal). info says what the text holds. */
typedef struct dl_stmt_info {
    bool ddl, commit, dml, begin, read;
    int nparams; /* the parameters the text uses ($n at most) or declares, the larger */
} dl_stmt_info;

typedef struct dl_tx_state {
    bool in_tx;
    time_t tx_start;
    unsigned long schema_version; /* of the database when the transaction began */
    const char *database;
} dl_tx_state;

char *dl_rewrite(const char *sql, int nparams, const dl_tx_state *tx, dl_stmt_info *info);

/* For the execution (Bind) of a statement prepared earlier, of the kind info describes:
 * the statement that raises the error DSQL would answer now (the transaction's limits, the
 * injected fault rates), with nparams parameters so the client's Bind still fits; NULL when
 * none. Free with free(). */
char *dl_fault_statement(const dl_stmt_info *info, const dl_tx_state *tx, int nparams);

/* Schema versions per database (OC001). */
unsigned long dl_schema_version(const char *database);
void dl_schema_bump(const char *database);

/* ---- the emulation objects (setup.c) ---- */

/* Installs (once per database per run) the objects that make PostgreSQL answer as DSQL:
 * the row cap and DDL rules, sys.jobs, sys.wait_for_job, the job functions. */
bool dl_setup_database(const char *database, char *why, size_t cap);

#endif
