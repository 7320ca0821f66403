/*
 * libdsql models: the caller's own C structs, described once by static const tables,
 * with create / bulk create / find / count / update / destroy, a where builder, and
 * rows hydrated straight into the caller's struct type.
 *
 * A model is declared in a few lines:
 *
 *     typedef struct owner {
 *         dsql_uuid id;
 *         char *name, *city, *telephone;   // NULL pointer = SQL NULL
 *         struct pet *pets; size_t n_pets; // filled by includes (dsql/assoc.h)
 *     } owner;
 *
 *     static const dsql_attr owner_attrs[] = {
 *         DSQL_ATTR(owner, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
 *         DSQL_ATTR(owner, name, DSQL_STRING(30), .not_null = true),
 *         DSQL_ATTR(owner, city, DSQL_STRING(80), .not_null = true),
 *         DSQL_ATTR(owner, telephone, DSQL_STRING(20)),
 *     };
 *     DSQL_MODEL(owner_model, owner, "owner", owner_attrs);
 *
 * C representation of each type (one each):
 *   DSQL_UUID                  dsql_uuid (text form; all-zero / "" = NULL)
 *   DSQL_STRING(n), DSQL_TEXT, DSQL_CHAR(n), DSQL_NUMERIC(p,s), DSQL_DATEONLY, DSQL_TIME,
 *   DSQL_TIMESTAMP, DSQL_TIMESTAMPTZ, DSQL_INTERVAL, DSQL_JSON, DSQL_JSONB
 *                              char * (NUL-terminated UTF-8 text; NULL = SQL NULL)
 *   DSQL_SMALLINT int16_t, DSQL_INTEGER int32_t, DSQL_BIGINT int64_t, DSQL_REAL float,
 *   DSQL_DOUBLE double, DSQL_BOOLEAN bool
 *                              (nullable: name a bool member with DSQL_HAS(T, has_x);
 *                               has_x false = SQL NULL; without DSQL_HAS never NULL)
 *   DSQL_BYTEA                 dsql_bytes (data NULL = SQL NULL; may hold NUL bytes)
 *
 * Memory: rows the library returns live in a dsql_result (their strings and arrays too);
 * dsql_result_free() releases them all. Structs the caller passes in stay the caller's;
 * the library never frees or keeps them.
 *
 * Thread rule: descriptors are const and shared freely. Calls on a pool are thread-safe;
 * calls on a connection use it from one thread at a time.
 */
#ifndef DSQL_MODEL_H
#define DSQL_MODEL_H
/* Declarations, comments and macro tables are aligned by hand: */
/* clang-format off */

#include <math.h> /* INFINITY, for DSQL_CHECK_MIN / _MAX */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dsql/common.h"
#include "dsql/conn.h"
#include "dsql/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- values with a fixed C shape ---- */

/** A UUID in canonical text form (36 characters + NUL), e.g. "0f1e...". "" = NULL. */
typedef struct dsql_uuid {
    char str[37];
} dsql_uuid;

/** Fills out with a random (version 4) UUID. NULL is a no-op.
 * Owns: out is the caller's and holds no heap memory.
 * Owns: nothing is handed out. */
DSQL_API void dsql_uuid_v4(dsql_uuid *out);

/** Parses text (any case, with hyphens) into canonical lower-case form. DSQL_EPARSE on
 * malformed input, naming it.
 * Borrows: text (during the call only).
 * Owns: out is the caller's and holds no heap memory. */
DSQL_API int dsql_uuid_parse(const char *text, dsql_uuid *out, dsql_error *err);

/** True when u holds no UUID (SQL NULL).
 * Borrows: u (during the call only).
 * Owns: nothing is handed out. */
DSQL_API bool dsql_uuid_is_null(const dsql_uuid *u);

/** Binary data. data == NULL means SQL NULL. */
typedef struct dsql_bytes {
    unsigned char *data;
    size_t len;
} dsql_bytes;

/* ---- attribute types ---- */

typedef enum dsql_type_id {
    DSQL_T_UUID = 1,
    DSQL_T_STRING,      /* varchar(n): n counts characters */
    DSQL_T_TEXT,
    DSQL_T_CHAR,        /* char(n) */
    DSQL_T_SMALLINT,
    DSQL_T_INTEGER,
    DSQL_T_BIGINT,
    DSQL_T_REAL,
    DSQL_T_DOUBLE,
    DSQL_T_NUMERIC,     /* numeric(p,s), exact, as text */
    DSQL_T_BOOLEAN,
    DSQL_T_DATEONLY,    /* date, "YYYY-MM-DD" */
    DSQL_T_TIME,        /* time without time zone, "HH:MM:SS[.ffffff]" */
    DSQL_T_TIMESTAMP,   /* timestamp without time zone */
    DSQL_T_TIMESTAMPTZ, /* timestamp with time zone (server in UTC) */
    DSQL_T_INTERVAL,
    DSQL_T_BYTEA,
    DSQL_T_JSON,
    DSQL_T_JSONB
} dsql_type_id;

/**
 * An attribute's SQL type as a value: DSQL_UUID, DSQL_STRING(80), DSQL_NUMERIC(10, 2), ...
 * Each is an integer constant expression, so it sits in static tables, and can be stored
 * (`dsql_type t = DSQL_STRING(80);`), compared and passed to a function like any number;
 * DSQL_TYPE_ID / _LENGTH / _PRECISION / _SCALE take it apart. A bare dsql_type_id
 * (DSQL_T_TEXT) is also a dsql_type, with no length, precision or scale. Arguments out of
 * what the fields hold (a length beyond +-8,388,607, a precision or scale beyond int16_t)
 * make a type that the model check refuses, naming the attribute; the limits Aurora DSQL
 * sets (varchar 65,535, char 4,096, numeric precision 1,000) are checked there too.
 */
typedef uint64_t dsql_type;

/* Layout: bits 0-7 the dsql_type_id, 8-31 length (24-bit two's complement), 32-47
 * precision, 48-63 scale (16-bit two's complement each). */
#define DSQL__T_OUT_OF_RANGE 0xFFu
#define DSQL__FITS(v_, bits_)                                                                  \
    ((v_) >= -(INT64_C(1) << ((bits_)-1)) && (v_) < (INT64_C(1) << ((bits_)-1)))
#define DSQL__FIELD(v_, bits_, at_)                                                            \
    (((dsql_type)(int64_t)(v_) & ((UINT64_C(1) << (bits_)) - 1)) << (at_))
#define DSQL__SIGNED(t_, bits_, at_)                                                           \
    ((int32_t)((((t_) >> (at_)) & ((UINT64_C(1) << (bits_)) - 1)) ^                           \
               (UINT64_C(1) << ((bits_)-1))) -                                                 \
     (int32_t)(INT32_C(1) << ((bits_)-1)))
/** A type from its parts (what the named macros below expand to). */
#define DSQL_TYPE(id_, length_, precision_, scale_)                                            \
    ((dsql_type)((DSQL__FITS((int64_t)(length_), 24) && DSQL__FITS((int64_t)(precision_), 16) &&  \
                  DSQL__FITS((int64_t)(scale_), 16))                                           \
                     ? (DSQL__FIELD(id_, 8, 0) | DSQL__FIELD(length_, 24, 8) |                  \
                        DSQL__FIELD(precision_, 16, 32) | DSQL__FIELD(scale_, 16, 48))          \
                     : (dsql_type)DSQL__T_OUT_OF_RANGE))
#define DSQL_TYPE_ID(t_)        ((dsql_type_id)((dsql_type)(t_) & 0xFFu))
#define DSQL_TYPE_LENGTH(t_)    ((int32_t)DSQL__SIGNED((dsql_type)(t_), 24, 8))
#define DSQL_TYPE_PRECISION(t_) ((int16_t)DSQL__SIGNED((dsql_type)(t_), 16, 32))
#define DSQL_TYPE_SCALE(t_)     ((int16_t)DSQL__SIGNED((dsql_type)(t_), 16, 48))

#define DSQL_UUID          ((dsql_type)DSQL_T_UUID)
#define DSQL_STRING(n)     DSQL_TYPE(DSQL_T_STRING, (n), 0, 0)
#define DSQL_TEXT          ((dsql_type)DSQL_T_TEXT)
#define DSQL_CHAR(n)       DSQL_TYPE(DSQL_T_CHAR, (n), 0, 0)
#define DSQL_SMALLINT      ((dsql_type)DSQL_T_SMALLINT)
#define DSQL_INTEGER       ((dsql_type)DSQL_T_INTEGER)
#define DSQL_BIGINT        ((dsql_type)DSQL_T_BIGINT)
#define DSQL_REAL          ((dsql_type)DSQL_T_REAL)
#define DSQL_DOUBLE        ((dsql_type)DSQL_T_DOUBLE)
#define DSQL_NUMERIC(p, s) DSQL_TYPE(DSQL_T_NUMERIC, 0, (p), (s))
/* DSQL_NUMERIC(0, 0) is numeric(18,6): what Aurora DSQL stores a bare `numeric` as (12
 * digits before the point, 6 after). It is declared that way everywhere, so a value that
 * would not survive (more decimals, more digits) is refused before any round trip instead
 * of being rounded or overflowing on the server. */
#define DSQL_NUMERIC_DEFAULT_PRECISION 18
#define DSQL_NUMERIC_DEFAULT_SCALE     6
#define DSQL_BOOLEAN       ((dsql_type)DSQL_T_BOOLEAN)
#define DSQL_DATEONLY      ((dsql_type)DSQL_T_DATEONLY)
#define DSQL_TIME          ((dsql_type)DSQL_T_TIME)
#define DSQL_TIMESTAMP     ((dsql_type)DSQL_T_TIMESTAMP)
#define DSQL_TIMESTAMPTZ   ((dsql_type)DSQL_T_TIMESTAMPTZ)
#define DSQL_INTERVAL      ((dsql_type)DSQL_T_INTERVAL)
#define DSQL_BYTEA         ((dsql_type)DSQL_T_BYTEA)
#define DSQL_JSON          ((dsql_type)DSQL_T_JSON)
#define DSQL_JSONB         ((dsql_type)DSQL_T_JSONB)

/** The designated fields a type sets in a dsql_attr, for an attribute written out by hand
 * without DSQL_ATTR: {.name = "id", .offset = ..., .size = ..., DSQL_TYPE_FIELDS(DSQL_UUID)}. */
#define DSQL_TYPE_FIELDS(t_)                                                                   \
    .type = DSQL_TYPE_ID(t_), .length = DSQL_TYPE_LENGTH(t_),                                  \
    .precision = DSQL_TYPE_PRECISION(t_), .scale = DSQL_TYPE_SCALE(t_)

/* ---- validators (Sequelize's validate: {...}) ---- */

/** What a dsql_check tests. Each runs on a value about to be written (insert, upsert,
 * save, an update's DSQL_SET) before anything is sent; a NULL value is never checked (NOT
 * NULL says whether it may be NULL). */
typedef enum dsql_check_kind {
    DSQL_CK_NONE = 0,
    DSQL_CK_LEN,         /**< text: characters (UTF-8) in [lo, hi]; bytea: bytes */
    DSQL_CK_RANGE,       /**< number (integer, real, double, numeric): value in [lo, hi] */
    DSQL_CK_PATTERN,     /**< text: matches the POSIX extended regular expression pattern
                              (searched: anchor it with ^...$ to match the whole value) */
    DSQL_CK_NOT_PATTERN, /**< text: does not match pattern */
    DSQL_CK_IS_IN,       /**< text: byte for byte one of list[0 .. n_list) */
    DSQL_CK_NOT_IN,      /**< text: none of list */
    DSQL_CK_EMAIL,       /**< text: an e-mail address local@domain.tld (ASCII) */
    DSQL_CK_URL,         /**< text: an http, https or ftp URL with a host */
    DSQL_CK_NOT_EMPTY,   /**< text: not "" and not only white space; bytea: not empty */
    DSQL_CK_FN           /**< fn(value, ctx, why, cap) returns 0 (fine) or not (refused;
                              it may write a reason into why) */
} dsql_check_kind;

/** A custom check: v is the value about to be written (never NULL-valued); return 0 to
 * accept, anything else to refuse, after writing the reason into why[0 .. cap) (it goes
 * into the error message: never write a secret there). Must be thread-safe. */
typedef int (*dsql_check_fn)(const dsql_value *v, void *ctx, char *why, size_t cap);

/** One validator of an attribute. Build with the DSQL_CHECK_* macros. */
typedef struct dsql_check {
    dsql_check_kind kind;
    double lo, hi;              /**< LEN, RANGE: bounds, both included (+-INFINITY: none) */
    const char *pattern;        /**< PATTERN, NOT_PATTERN */
    const char *const *list;    /**< IS_IN, NOT_IN */
    size_t n_list;
    dsql_check_fn fn;           /**< FN */
    void *ctx;                  /**< FN: passed to fn */
    const char *message;        /**< replaces the check's own explanation in the error
                                     (e.g. "must be a valid phone number"); NULL = built-in */
    const void *reserved_[2];   /**< zero */
} dsql_check;

#define DSQL_CHECK_LEN(min_, max_)   {.kind = DSQL_CK_LEN, .lo = (min_), .hi = (max_)}
#define DSQL_CHECK_RANGE(lo_, hi_)   {.kind = DSQL_CK_RANGE, .lo = (lo_), .hi = (hi_)}
#define DSQL_CHECK_MIN(lo_)          {.kind = DSQL_CK_RANGE, .lo = (lo_), .hi = INFINITY}
#define DSQL_CHECK_MAX(hi_)          {.kind = DSQL_CK_RANGE, .lo = -INFINITY, .hi = (hi_)}
#define DSQL_CHECK_PATTERN(re_)      {.kind = DSQL_CK_PATTERN, .pattern = (re_)}
#define DSQL_CHECK_NOT_PATTERN(re_)  {.kind = DSQL_CK_NOT_PATTERN, .pattern = (re_)}
#define DSQL_CHECK_IS_IN(array_)                                                               \
    {.kind = DSQL_CK_IS_IN, .list = (array_), .n_list = sizeof(array_) / sizeof((array_)[0])}
#define DSQL_CHECK_NOT_IN(array_)                                                              \
    {.kind = DSQL_CK_NOT_IN, .list = (array_), .n_list = sizeof(array_) / sizeof((array_)[0])}
#define DSQL_CHECK_EMAIL             {.kind = DSQL_CK_EMAIL}
#define DSQL_CHECK_URL               {.kind = DSQL_CK_URL}
#define DSQL_CHECK_NOT_EMPTY         {.kind = DSQL_CK_NOT_EMPTY}
#define DSQL_CHECK_FN(fn_, ctx_)     {.kind = DSQL_CK_FN, .fn = (fn_), .ctx = (ctx_)}
/** A check with its own message, from its designated fields:
 * DSQL_CHECK_MSG("must be a company address", .kind = DSQL_CK_PATTERN,
 *                .pattern = "@example\\.com$"). */
#define DSQL_CHECK_MSG(msg_, ...)    {__VA_ARGS__, .message = (msg_)}

/** An attribute's validators: DSQL_ATTR(T, m, DSQL_STRING(80), DSQL_CHECKS(email_checks)),
 * with `static const dsql_check email_checks[] = {DSQL_CHECK_EMAIL};`. */
#define DSQL_CHECKS(array_)                                                                    \
    .checks = (array_), .n_checks = sizeof(array_) / sizeof((array_)[0])

/** One attribute (column) of a model. Build with DSQL_ATTR / DSQL_ATTR_AS. */
typedef struct dsql_attr {
    const char *name;        /**< attribute name (used in where/order); the field's name by
                                  default */
    const char *column;      /**< column name when it differs from name; NULL = name */
    size_t offset;           /**< offsetof the member in the struct */
    size_t size;             /**< sizeof the member (checked against the type) */
    dsql_type_id type;
    int32_t length;          /**< STRING(n) / CHAR(n): characters */
    int16_t precision, scale;/**< NUMERIC(p, s); precision 0 = numeric(18,6) */
    size_t has_offset;       /**< offsetof(has_x) + 1 for nullable scalars; 0 = none */
    bool primary_key;
    bool not_null;
    bool unique;
    bool default_uuid_v4;    /**< client-side UUIDv4 when the value is NULL at create */
    const char *default_sql; /**< server default, an SQL expression written by the model's
                                  author (never caller data), e.g. "now()": a NULL member
                                  is inserted as DEFAULT (a scalar needs DSQL_HAS to be
                                  NULL) */
    dsql_value default_value;/**< client-side constant default when the value is NULL */
    int timestamp;           /**< DSQL_CREATED_AT / DSQL_UPDATED_AT: kept by the library */
    bool version;            /**< DSQL_VERSION: the row's optimistic version */
    const dsql_check *checks;/**< validators of the values written (DSQL_CHECKS) */
    size_t n_checks;
    bool secret;             /**< DSQL_SECRET: values never shown in a log line or error */
    const void *reserved_[2];/**< room for fields added later: zero (the macros leave it so) */
} dsql_attr;

/* A secret attribute (a password hash, a token, a card number): its values are sent as
 * parameters like any other, but the SQL log shows them as <redacted> even with
 * dsql_config.log_parameters on, wherever the library binds them (inserts, saves, upserts,
 * an update's assignments, where conditions, dsql_exec_named from a row), and no error
 * message quotes them (neither the library's validation errors nor the server's, from
 * which their text is cut). */
#define DSQL_SECRET .secret = true

/* Timestamps the library keeps (Sequelize's timestamps: true), on a DSQL_TIMESTAMPTZ or
 * DSQL_TIMESTAMP attribute. The server's now() (the transaction's start) is written on
 * every insert (both) and every update, save and association change of the row (updated
 * only) — whatever the row's member holds, so a stale copy never overwrites them; the row
 * returned by a call that returns rows carries them. Assigning one yourself is
 * DSQL_EINVAL. At most one of each per model. */
#define DSQL_CREATED_AT .timestamp = 1
#define DSQL_UPDATED_AT .timestamp = 2

/* Soft delete (Sequelize's paranoid: true), on a nullable DSQL_TIMESTAMPTZ or DSQL_TIMESTAMP
 * attribute: the model is then paranoid. dsql_delete and dsql_delete_row mark rows (the
 * server's now()) instead of deleting them; finds, counts, aggregates, includes and
 * updates skip marked rows unless the query says .with_deleted; dsql_restore unmarks;
 * dsql_delete_force deletes. NULL at insert; an upsert that updates a marked row unmarks
 * it. Assigning it yourself is DSQL_EINVAL. One per model. */
#define DSQL_DELETED_AT .timestamp = 3

/* Optimistic versioning across requests (Sequelize's version: true), on a DSQL_INTEGER or
 * DSQL_BIGINT attribute: 0 at insert, one more at every write of the row (update, save,
 * counter, association change, upsert's update); dsql_save writes only when the row still
 * has the version it was read with — else DSQL_ESTALE and nothing written — and moves the
 * row's member to the new version. Assigning it yourself is DSQL_EINVAL. One per model. */
#define DSQL_VERSION .version = true

/* Client-side constant defaults usable in static tables (compound literals are not). */
#define DSQL_DEFAULT_STR(text_)  .default_value = {.kind = DSQL_V_TEXT, .u.s = (text_)}
#define DSQL_DEFAULT_INT(int_)   .default_value = {.kind = DSQL_V_INT, .u.i = (int_)}
#define DSQL_DEFAULT_DBL(dbl_)   .default_value = {.kind = DSQL_V_DOUBLE, .u.d = (dbl_)}
#define DSQL_DEFAULT_BOOL(bool_) .default_value = {.kind = DSQL_V_BOOL, .u.b = (bool_)}

/** Names the bool member that says a nullable scalar attribute has a value. */
#define DSQL_HAS(T, member) .has_offset = offsetof(T, member) + 1

/**
 * An attribute whose name is the struct member's name. The third argument is its type (a
 * dsql_type: DSQL_UUID, DSQL_STRING(30), ...); designated fields may follow:
 * .primary_key, .not_null, .unique, .default_uuid_v4, .column, DSQL_HAS(T, has_x) ...
 */
#define DSQL_ATTR(T, member, ...)                                                              \
    DSQL__ATTR(#member, offsetof(T, member), sizeof(((T *)0)->member), __VA_ARGS__, )

/** An attribute with an explicit attribute name (e.g. C member birth_date, attribute
 * "birthDate"). */
#define DSQL_ATTR_AS(T, member, attr_name, ...)                                                \
    DSQL__ATTR((attr_name), offsetof(T, member), sizeof(((T *)0)->member), __VA_ARGS__, )

#define DSQL__ATTR(name_, offset_, size_, type_, ...)                                          \
    {.name = name_, .offset = (offset_), .size = (size_), DSQL_TYPE_FIELDS(type_), __VA_ARGS__}

/** An index over attributes (by attribute name). */
typedef struct dsql_index {
    const char *name;                /**< index name; NULL = "<table>_<cols>_idx" */
    const char *const *attrs;
    size_t n_attrs;
    bool unique;
} dsql_index;

#define DSQL_INDEX(idx_name, is_unique, ...)                                                   \
    {.name = (idx_name), .attrs = (const char *const[]){__VA_ARGS__},                          \
     .n_attrs = sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *),             \
     .unique = (is_unique)}

#define DSQL_MODEL_MAGIC 0x644d646cu

/**
 * What a row read by a find remembers: which attributes the find loaded and their values
 * as read. A model that declares a member of this type (DSQL_ROW_STATE) gets Sequelize's
 * rule for dsql_save: only the attributes that changed are written, and never one the row
 * did not load. The library fills it when it hydrates a row; a row the program builds has
 * it zeroed (= a new row: every attribute is the program's). It points into the result the
 * row came from: valid until dsql_result_free(), like the row's strings.
 */
typedef struct dsql_row_state {
    const void *loaded_; /**< private */
} dsql_row_state;

/** A model: a table and the struct that holds one of its rows. */
/* ---- hooks (Sequelize's hooks) ---- */

/** When a model's hook is called. The before hooks run before anything is sent (and
 * before validation, so a row they change is validated as sent); a non-zero return vetoes
 * the call: DSQL_EVETO, nothing written. The after hooks run once the write has committed
 * (or, inside the caller's transaction, once its statement succeeded); their return value
 * is ignored. A hook is never called for a call that failed before its event. */
typedef enum dsql_hook_event {
    DSQL_HOOK_BEFORE_CREATE = 1, /**< dsql_create, find-or-create's insert: row */
    DSQL_HOOK_AFTER_CREATE,      /**< row: as stored (server defaults included) */
    DSQL_HOOK_BEFORE_SAVE,       /**< dsql_create and dsql_save (after the _CREATE / _UPDATE
                                      hook): row */
    DSQL_HOOK_AFTER_SAVE,
    DSQL_HOOK_BEFORE_UPDATE,     /**< dsql_save: row */
    DSQL_HOOK_AFTER_UPDATE,
    DSQL_HOOK_BEFORE_UPSERT,     /**< dsql_upsert: row */
    DSQL_HOOK_AFTER_UPSERT,
    DSQL_HOOK_BEFORE_DESTROY,    /**< dsql_delete_row: row */
    DSQL_HOOK_AFTER_DESTROY,
    DSQL_HOOK_BEFORE_BULK_CREATE,/**< dsql_bulk_create: rows, n_rows */
    DSQL_HOOK_AFTER_BULK_CREATE, /**< affected: the rows inserted */
    DSQL_HOOK_BEFORE_BULK_UPDATE,/**< dsql_update, dsql_update_returning, dsql_increment:
                                      assigns, n_assigns, where */
    DSQL_HOOK_AFTER_BULK_UPDATE, /**< affected: the rows updated */
    DSQL_HOOK_BEFORE_BULK_DESTROY,/**< dsql_delete: where */
    DSQL_HOOK_AFTER_BULK_DESTROY /**< affected: the rows deleted (or marked, when paranoid) */
} dsql_hook_event;

/** What a hook is told. Pointers are borrowed for the call. */
typedef struct dsql_hook {
    dsql_hook_event event;
    const struct dsql_model *model;
    dsql_db *db;                 /**< the handle the call was given (a hook may run its own
                                      statements on it; they are not part of the call's
                                      transaction unless db is a connection in a
                                      transaction) */
    void *row;                   /**< one-row events: the caller's row; a before hook may
                                      change it */
    void *rows;                  /**< BULK_CREATE: the caller's array (changeable before) */
    size_t n_rows;
    const struct dsql_assign *assigns; /**< BULK_UPDATE */
    size_t n_assigns;
    const struct dsql_where *where; /**< BULK_UPDATE, BULK_DESTROY */
    uint64_t affected;           /**< AFTER_BULK_*: rows written */
    void *ctx;                   /**< the model's hook_ctx */
    char *why;                   /**< a vetoing before hook may write its reason here (it
                                      goes into the error: never a secret) */
    size_t why_cap;
    const void *reserved_[2];
} dsql_hook;

/** A model's hook: one function for every event (switch on h->event). Before events:
 * return 0 to go on, non-zero to veto. Must be thread-safe when the model is used from
 * several threads. */
typedef int (*dsql_hook_fn)(dsql_hook *h);

/** A model-level validator (Sequelize's model validate): the whole row about to be
 * inserted or saved, after the attributes' checks; return 0 to accept, non-zero to refuse
 * (DSQL_EVALIDATION) after writing the reason into why[0 .. cap). */
typedef int (*dsql_row_check_fn)(const void *row, char *why, size_t cap);

/* ---- scopes (Sequelize's scopes and defaultScope) ---- */

/** A named, reusable part of a find: its where is ANDed with the query's, its includes
 * added, its attributes, order and limit used when the query has none of its own. A
 * model's scope named DSQL_DEFAULT_SCOPE applies to every read of the model — finds,
 * counts, find-and-count-all, lazy loads, aggregates (their where only) — unless the query
 * says .unscoped; the others when a query names them (DSQL_USE_SCOPES). Not applied: to
 * the model when it is included in another's find, and to writes: an update or delete
 * reaches what its own where says. The fields have the names of dsql_query's, so
 * DSQL_ORDER_BY, DSQL_INCLUDES and DSQL_ATTRIBUTES work in one. */
typedef struct dsql_scope {
    const char *name;
    const struct dsql_where *where;
    const struct dsql_order *order;
    size_t n_order;
    const char *const *attributes;
    size_t n_attributes;
    const struct dsql_include *include;
    size_t n_include;
    int64_t limit;
    const void *reserved_[2];
} dsql_scope;

#define DSQL_DEFAULT_SCOPE "default"

typedef struct dsql_model {
    uint32_t magic;
    const char *name;        /**< the struct's name, for messages */
    const char *table;
    const char *schema;      /**< NULL = the connection's search_path */
    size_t struct_size;
    const dsql_attr *attrs;
    size_t n_attrs;
    const dsql_index *indexes;
    size_t n_indexes;
    size_t state_offset;     /**< offsetof(the dsql_row_state member) + 1; 0 = none */
    dsql_row_check_fn validate; /**< model-level validator (DSQL_VALIDATE_ROW); NULL = none */
    dsql_hook_fn hook;       /**< the model's hooks (DSQL_HOOKS); NULL = none */
    void *hook_ctx;          /**< passed to hook as h->ctx */
    const dsql_scope *scopes;/**< named query parts (DSQL_SCOPES) */
    size_t n_scopes;
    const void *reserved_[4];/**< room for fields added later: zero (the macros leave it so) */
} dsql_model;

/** Defines `const dsql_model var` for struct type T over table `table` (attrs: an array). */
#define DSQL_MODEL(var, T, table_name, attrs_array)                                            \
    const dsql_model var = {.magic = DSQL_MODEL_MAGIC, .name = #T, .table = (table_name),      \
                            .struct_size = sizeof(T), .attrs = (attrs_array),                  \
                            .n_attrs = sizeof(attrs_array) / sizeof((attrs_array)[0])}

/** Same with an array of dsql_index. */
#define DSQL_MODEL_INDEXED(var, T, table_name, attrs_array, index_array)                       \
    DSQL_MODEL_WITH(var, T, table_name, attrs_array, DSQL_INDEXES(index_array))

/**
 * The general form: DSQL_MODEL plus designated fields, e.g.
 *   DSQL_MODEL_WITH(pet_model, pet, "pet", pet_attrs, DSQL_ROW_STATE(pet, state),
 *                   DSQL_INDEXES(pet_indexes));
 */
#define DSQL_MODEL_WITH(var, T, table_name, attrs_array, ...)                                  \
    const dsql_model var = {.magic = DSQL_MODEL_MAGIC, .name = #T, .table = (table_name),      \
                            .struct_size = sizeof(T), .attrs = (attrs_array),                  \
                            .n_attrs = sizeof(attrs_array) / sizeof((attrs_array)[0]),         \
                            __VA_ARGS__}
/** Names T's dsql_row_state member (see dsql_row_state). */
#define DSQL_ROW_STATE(T, member) .state_offset = offsetof(T, member) + 1
/** The model's scopes (an array of dsql_scope). */
#define DSQL_SCOPES(scope_array)                                                               \
    .scopes = (scope_array), .n_scopes = sizeof(scope_array) / sizeof((scope_array)[0])
/** The model's row-level validator (a dsql_row_check_fn). */
#define DSQL_VALIDATE_ROW(fn_) .validate = (fn_)
/** The model's hook function and the context it is given. */
#define DSQL_HOOKS(fn_, ctx_) .hook = (fn_), .hook_ctx = (ctx_)
/** The model's indexes (an array of dsql_index). */
#define DSQL_INDEXES(index_array)                                                              \
    .indexes = (index_array), .n_indexes = sizeof(index_array) / sizeof((index_array)[0])

/**
 * Checks a descriptor once: member sizes match their types, one primary key at most,
 * names unique and non-empty, indexes name real attributes. Every call below runs it
 * too (cheaply); call it at start-up to fail early. DSQL_EINVAL names the problem.
 * Borrows: m (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_model_check(const dsql_model *m, dsql_error *err);

/** The attribute named name (attribute name, or column name), or NULL.
 * Owns: m owns the attribute returned (a static table).
 * Free with: nothing. */
DSQL_API const dsql_attr *dsql_model_attr(const dsql_model *m, const char *name);

/**
 * Validates a row before any round trip: NOT NULL, string length in characters (valid
 * UTF-8 required), CHAR(n), UUID / date / time / timestamp syntax, numeric precision and
 * scale, JSON syntax. DSQL_EVALIDATION; the message names model, attribute and problem,
 * e.g. `owner.name: 31 characters, longer than STRING(30)`.
 * Borrows: m, row (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_validate(const dsql_model *m, const void *row, dsql_error *err);

/* ---- where clauses ---- */

typedef enum dsql_op {
    DSQL_OP_EQ = 1, DSQL_OP_NE, DSQL_OP_LT, DSQL_OP_LTE, DSQL_OP_GT, DSQL_OP_GTE,
    DSQL_OP_IN, DSQL_OP_NOT_IN, DSQL_OP_LIKE, DSQL_OP_ILIKE, DSQL_OP_IS_NULL,
    DSQL_OP_NOT_NULL, DSQL_OP_BETWEEN, DSQL_OP_AND, DSQL_OP_OR, DSQL_OP_NOT
} dsql_op;

/**
 * A condition tree. Build with the macros below; they create compound literals, valid in
 * the enclosing block. attr is an attribute name of the model queried (or of the
 * included model the clause is attached to). Values are always sent as parameters.
 */
typedef struct dsql_where {
    dsql_op op;
    const char *attr;
    const dsql_value *values;          /* IN / NOT IN: n values; BETWEEN: 2; others: 1 */
    size_t n_values;
    const struct dsql_where *const *children; /* AND / OR: n; NOT: 1 */
    size_t n_children;
    const char *const *path; /* JSON / JSONB attribute: compare the value at this path
                                (object keys; "[n]" is array element n) instead of the
                                column: DSQL_JSON_EQ(...) */
    size_t n_path;
} dsql_where;

#define DSQL__VALUES(...) (const dsql_value[]){__VA_ARGS__}
#define DSQL__NVALUES(...) (sizeof((const dsql_value[]){__VA_ARGS__}) / sizeof(dsql_value))
/* Variadic so that a braced DSQL_STATIC_* value (its commas) passes as one value. */
#define DSQL__CMP(o, a, ...)                                                                   \
    (&(const dsql_where){.op = (o), .attr = (a), .values = DSQL__VALUES(__VA_ARGS__),         \
                         .n_values = 1})
#define DSQL_EQ(a, ...)    DSQL__CMP(DSQL_OP_EQ, a, __VA_ARGS__)
#define DSQL_NE(a, ...)    DSQL__CMP(DSQL_OP_NE, a, __VA_ARGS__)
#define DSQL_LT(a, ...)    DSQL__CMP(DSQL_OP_LT, a, __VA_ARGS__)
#define DSQL_LTE(a, ...)   DSQL__CMP(DSQL_OP_LTE, a, __VA_ARGS__)
#define DSQL_GT(a, ...)    DSQL__CMP(DSQL_OP_GT, a, __VA_ARGS__)
#define DSQL_GTE(a, ...)   DSQL__CMP(DSQL_OP_GTE, a, __VA_ARGS__)
#define DSQL_LIKE(a, ...)  DSQL__CMP(DSQL_OP_LIKE, a, __VA_ARGS__)
#define DSQL_ILIKE(a, ...) DSQL__CMP(DSQL_OP_ILIKE, a, __VA_ARGS__)
/**
 * Conditions on the value inside a JSON / JSONB attribute, at a path of object keys
 * ("[n]" is array element n): DSQL_JSON_EQ("meta", DSQL_PATH("audio", "codec"),
 * DSQL_STR("aac")) is ("meta" -> $1::text ->> $2::text) = $3. The value found is compared
 * as text with text values, as a number (numeric) with integer and double values, as a
 * boolean with bool values; a missing key or a JSON null is NULL (DSQL_JSON_IS_NULL).
 */
/* The path argument must be DSQL_PATH(...) (or an array: its size gives the steps); it
 * is not passed through another macro, whose argument splitting would cut it at its commas. */
#define DSQL_PATH(...) ((const char *const[]){__VA_ARGS__})
#define DSQL_JSON_EQ(a, path_, ...)                                                            \
    (&(const dsql_where){.op = DSQL_OP_EQ, .attr = (a), .path = (path_),                             \
                         .n_path = sizeof(path_) / sizeof(const char *),                       \
                         .values = DSQL__VALUES(__VA_ARGS__), .n_values = 1})
#define DSQL_JSON_NE(a, path_, ...)                                                            \
    (&(const dsql_where){.op = DSQL_OP_NE, .attr = (a), .path = (path_),                             \
                         .n_path = sizeof(path_) / sizeof(const char *),                       \
                         .values = DSQL__VALUES(__VA_ARGS__), .n_values = 1})
#define DSQL_JSON_LT(a, path_, ...)                                                            \
    (&(const dsql_where){.op = DSQL_OP_LT, .attr = (a), .path = (path_),                             \
                         .n_path = sizeof(path_) / sizeof(const char *),                       \
                         .values = DSQL__VALUES(__VA_ARGS__), .n_values = 1})
#define DSQL_JSON_LTE(a, path_, ...)                                                            \
    (&(const dsql_where){.op = DSQL_OP_LTE, .attr = (a), .path = (path_),                             \
                         .n_path = sizeof(path_) / sizeof(const char *),                       \
                         .values = DSQL__VALUES(__VA_ARGS__), .n_values = 1})
#define DSQL_JSON_GT(a, path_, ...)                                                            \
    (&(const dsql_where){.op = DSQL_OP_GT, .attr = (a), .path = (path_),                             \
                         .n_path = sizeof(path_) / sizeof(const char *),                       \
                         .values = DSQL__VALUES(__VA_ARGS__), .n_values = 1})
#define DSQL_JSON_GTE(a, path_, ...)                                                            \
    (&(const dsql_where){.op = DSQL_OP_GTE, .attr = (a), .path = (path_),                             \
                         .n_path = sizeof(path_) / sizeof(const char *),                       \
                         .values = DSQL__VALUES(__VA_ARGS__), .n_values = 1})
#define DSQL_JSON_LIKE(a, path_, ...)                                                            \
    (&(const dsql_where){.op = DSQL_OP_LIKE, .attr = (a), .path = (path_),                             \
                         .n_path = sizeof(path_) / sizeof(const char *),                       \
                         .values = DSQL__VALUES(__VA_ARGS__), .n_values = 1})
#define DSQL_JSON_IN(a, path_, ...)                                                            \
    (&(const dsql_where){.op = DSQL_OP_IN, .attr = (a), .path = (path_),                       \
                         .n_path = sizeof(path_) / sizeof(const char *),                       \
                         .values = DSQL__VALUES(__VA_ARGS__),                                  \
                         .n_values = DSQL__NVALUES(__VA_ARGS__)})
#define DSQL_JSON_IS_NULL(a, path_)                                                            \
    (&(const dsql_where){.op = DSQL_OP_IS_NULL, .attr = (a), .path = (path_),                  \
                         .n_path = sizeof(path_) / sizeof(const char *)})
#define DSQL_JSON_NOT_NULL(a, path_)                                                           \
    (&(const dsql_where){.op = DSQL_OP_NOT_NULL, .attr = (a), .path = (path_),                 \
                         .n_path = sizeof(path_) / sizeof(const char *)})
#define DSQL_IS_NULL(a)  (&(const dsql_where){.op = DSQL_OP_IS_NULL, .attr = (a)})
#define DSQL_NOT_NULL(a) (&(const dsql_where){.op = DSQL_OP_NOT_NULL, .attr = (a)})
#define DSQL_BETWEEN(a, lo, hi)                                                                \
    (&(const dsql_where){.op = DSQL_OP_BETWEEN, .attr = (a), .values = DSQL__VALUES(lo, hi),   \
                         .n_values = 2})
/** DSQL_IN("name", DSQL_STR("a"), DSQL_STR("b")) */
#define DSQL_IN(a, ...)                                                                        \
    (&(const dsql_where){.op = DSQL_OP_IN, .attr = (a), .values = DSQL__VALUES(__VA_ARGS__),   \
                         .n_values = DSQL__NVALUES(__VA_ARGS__)})
#define DSQL_NOT_IN(a, ...)                                                                    \
    (&(const dsql_where){.op = DSQL_OP_NOT_IN, .attr = (a),                                    \
                         .values = DSQL__VALUES(__VA_ARGS__),                                  \
                         .n_values = DSQL__NVALUES(__VA_ARGS__)})
/** IN over a run-time array of n values. An empty list (n == 0) matches no row; NOT IN an
 * empty list matches every row. */
#define DSQL_IN_ARRAY(a, vals, n)                                                              \
    (&(const dsql_where){.op = DSQL_OP_IN, .attr = (a), .values = (vals), .n_values = (n)})
#define DSQL_NOT_IN_ARRAY(a, vals, n)                                                          \
    (&(const dsql_where){.op = DSQL_OP_NOT_IN, .attr = (a), .values = (vals), .n_values = (n)})
#define DSQL__WHERES(...) (const dsql_where *const[]){__VA_ARGS__}
#define DSQL__NWHERES(...) (sizeof(DSQL__WHERES(__VA_ARGS__)) / sizeof(const dsql_where *))
#define DSQL_AND(...)                                                                          \
    (&(const dsql_where){.op = DSQL_OP_AND, .children = DSQL__WHERES(__VA_ARGS__),             \
                         .n_children = DSQL__NWHERES(__VA_ARGS__)})
#define DSQL_OR(...)                                                                           \
    (&(const dsql_where){.op = DSQL_OP_OR, .children = DSQL__WHERES(__VA_ARGS__),              \
                         .n_children = DSQL__NWHERES(__VA_ARGS__)})
#define DSQL_NOT(w)                                                                            \
    (&(const dsql_where){.op = DSQL_OP_NOT, .children = DSQL__WHERES(w), .n_children = 1})

/* ---- queries ---- */

typedef enum dsql_nulls { DSQL_NULLS_DEFAULT = 0, DSQL_NULLS_FIRST, DSQL_NULLS_LAST } dsql_nulls;

struct dsql_assoc;

/** One ORDER BY term: an attribute of the queried model, or of an included association.
 * With a limit or offset and a to-many include, the limit picks parent rows by their own
 * attributes, so the first term must be the queried model's (DSQL_EINVAL otherwise). */
typedef struct dsql_order {
    const char *attr;
    bool desc;
    dsql_nulls nulls;
    const struct dsql_assoc *assoc; /**< NULL = the queried model; else an included one */
} dsql_order;

#define DSQL_ASC(a)  {.attr = (a)}
#define DSQL_DESC(a) {.attr = (a), .desc = true}

/** Eager loading of an association (dsql/assoc.h): joined into the same statement. */
typedef struct dsql_include {
    const struct dsql_assoc *assoc;
    const dsql_where *where;           /**< on the included model's attributes; filters
                                            the included rows (it joins in ON); add
                                            .required to drop parents without a match */
    bool required;                     /**< INNER JOIN (parents without a match dropped);
                                            default LEFT JOIN */
    const dsql_order *order;           /**< order of the included rows within each parent */
    size_t n_order;
    const struct dsql_include *include;/**< nested includes of the included model */
    size_t n_include;
    const char *const *attributes;     /**< the included model's attributes to select;
                                            NULL = all (its primary key and the key that
                                            ties it to its parent are always selected); as
                                            for the query's own list, its model needs
                                            DSQL_ROW_STATE or the query read_only */
    size_t n_attributes;
} dsql_include;

/** What to find. All members optional; a zeroed query matches every row. */
typedef struct dsql_query {
    const dsql_where *where;
    const dsql_order *order;
    size_t n_order;
    int64_t limit;                     /**< 0 = no limit; applies to parent rows */
    int64_t offset;
    const char *const *attributes;     /**< attribute names to select; NULL = all (the
                                            primary key is always selected) */
    size_t n_attributes;
    const dsql_include *include;
    size_t n_include;
    bool read_only;                    /**< the rows will not be saved: allows an attribute
                                            list on a model without DSQL_ROW_STATE (whose
                                            rows could not tell dsql_save which attributes
                                            they lack) */
    bool with_deleted;                 /**< paranoid models (DSQL_DELETED_AT): also the rows
                                            marked deleted, of the model and its includes */
    const char *const *scopes;         /**< the model's scopes to apply, by name, in order
                                            (DSQL_USE_SCOPES) */
    size_t n_scopes;
    bool unscoped;                     /**< without the model's default scope */
    const void *reserved_[4];          /**< room for fields added later: zero */
} dsql_query;

/** Array literal helpers: .order = DSQL_ORDER(DSQL_ASC("name")), .n_order = 1 — or use
 * DSQL_ORDER_BY(...) which sets both. */
#define DSQL_ORDER_BY(...)                                                                     \
    .order = (const dsql_order[]){__VA_ARGS__},                                                \
    .n_order = sizeof((const dsql_order[]){__VA_ARGS__}) / sizeof(dsql_order)
#define DSQL_INCLUDES(...)                                                                     \
    .include = (const dsql_include[]){__VA_ARGS__},                                            \
    .n_include = sizeof((const dsql_include[]){__VA_ARGS__}) / sizeof(dsql_include)
#define DSQL_USE_SCOPES(...)                                                                   \
    .scopes = (const char *const[]){__VA_ARGS__},                                              \
    .n_scopes = sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)
#define DSQL_ATTRIBUTES(...)                                                                   \
    .attributes = (const char *const[]){__VA_ARGS__},                                          \
    .n_attributes = sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

/** Rows of a model result: the array of hydrated structs (n in *n), owned by res.
 * Owns: res owns the array and every string in it.
 * Free with: nothing (it goes with dsql_result_free(res)). */
DSQL_API void *dsql_result_models(const dsql_result *res, size_t *n);

/* ---- CRUD. db is a dsql_pool * or a dsql_conn * (see dsql_db in dsql/pool.h) ----
 *
 * Aurora DSQL's row cap: one transaction modifies at most 3,000 rows (rows that ON DELETE
 * actions delete or update included). Each call below says what it does about it. On a
 * pool or an idle connection a call owns its transaction(s): past the cap it either works
 * in chunks of up to 3,000 rows, each its own transaction (bulk create, destroy, update),
 * or stays one atomic transaction that the server refuses whole, nothing changed. On a
 * connection inside the caller's transaction nothing can be split: every call finds out
 * first, in that transaction, how many rows it would modify and refuses (DSQL_ELIMIT,
 * nothing written, the transaction still usable) what would take the transaction past
 * 3,000, counting the rows its statements reported modified so far. That check runs on
 * every server, so a program that passes on PostgreSQL (which has no cap) passes on DSQL.
 */

/**
 * Inserts row. Fills defaults into the caller's row first (client-side UUIDv4 for
 * default_uuid_v4 attributes that are NULL, constant defaults), validates, then INSERTs
 * with RETURNING. stored (may be NULL) receives a result whose one model row is the row
 * as stored (server defaults included); free it with dsql_result_free(). One statement,
 * atomic; in the caller's transaction DSQL_ELIMIT (nothing sent) when that transaction has
 * no row left under the cap.
 * Borrows: db, m (during the call only); row is written to (defaults).
 * Owns: *stored (if stored is not NULL) is new.
 * Free with: dsql_result_free(*stored).
 */
DSQL_API int dsql_create(dsql_db *db, const dsql_model *m, void *row, dsql_result **stored,
                         dsql_error *err);

/** What an insert does with a row whose unique key is taken already. */
typedef enum dsql_conflict_action {
    DSQL_CONFLICT_ERROR = 0, /**< the insert fails (DSQL_ECONSTRAINT, 23505): the default */
    DSQL_CONFLICT_IGNORE,    /**< the row is skipped (ON CONFLICT DO NOTHING) */
    DSQL_CONFLICT_UPDATE     /**< the row there takes the new values (ON CONFLICT (key) DO
                                  UPDATE SET ...): an upsert */
} dsql_conflict_action;

/** ON CONFLICT, described: the key conflicts are on, and what an update takes. */
typedef struct dsql_conflict {
    dsql_conflict_action action;
    const char *const *target; /**< the attributes of a unique key: the primary key, a unique
                                    attribute or a unique index (all its attributes). NULL =
                                    the primary key (IGNORE: any unique key) */
    size_t n_target;
    const char *const *update; /**< UPDATE: the attributes taken from the new row; NULL =
                                    every attribute outside the target */
    size_t n_update;
} dsql_conflict;

/**
 * Inserts row, or when a row with the same unique key exists, updates that row from it:
 * one INSERT ... ON CONFLICT (key) DO UPDATE SET ... (Sequelize's upsert). c NULL: the
 * primary key, every other attribute updated; c->action must be DSQL_CONFLICT_UPDATE or
 * DSQL_CONFLICT_IGNORE. Defaults are filled and the row validated as dsql_create does.
 * stored (may be NULL) receives the row as stored — empty when IGNORE skipped it.
 * Borrows: db, m, c (during the call only); row is written to (defaults).
 * Owns: *stored (if stored is not NULL) is new.
 * Free with: dsql_result_free(*stored).
 */
DSQL_API int dsql_upsert(dsql_db *db, const dsql_model *m, void *row, const dsql_conflict *c,
                         dsql_result **stored, dsql_error *err);

/** Progress of a bulk operation: called after each chunk lands. */
typedef void (*dsql_progress_fn)(size_t done, size_t total, void *ctx);

typedef struct dsql_bulk_options {
    size_t chunk_rows;           /**< rows per chunk; default (and maximum) 3000 */
    size_t chunk_bytes;          /**< parameter bytes per chunk; default (and max) 4 MiB */
    dsql_progress_fn progress;
    void *progress_ctx;
    dsql_conflict on_conflict;   /**< rows whose key is taken: an error (default), skipped
                                      (ignoreDuplicates), or updated (updateOnDuplicate);
                                      two rows of one chunk with the same key and UPDATE
                                      are the server's error (21000) */
    void *reserved_[4];          /**< room for fields added later: zero */
} dsql_bulk_options;

#define DSQL_BULK_OPTIONS_INIT {0}

/** What landed when a bulk operation fails part way: rows [0, rows_done) landed
 * (chunks_done whole chunks); rows from rows_done on did not — except after
 * DSQL_EUNKNOWN_OUTCOME, when the failed chunk's rows (named in the message) may or may
 * not have landed. */
typedef struct dsql_bulk_report {
    size_t chunks_done, chunks_total;
    size_t rows_done, rows_total;
} dsql_bulk_report;

/**
 * Inserts n rows (an array of the model's structs) as multi-row INSERTs, one chunk per
 * retried transaction, chunks under DSQL's 3,000-row / 10 MiB transaction limits. Fills
 * defaults into the caller's rows. Every row is validated before the first chunk is sent.
 * On failure after some chunks landed: DSQL_EPARTIAL (or the chunk's own error status
 * when none landed) with report saying exactly which rows landed. A connection lost while
 * a chunk was in flight leaves that chunk's outcome unknown: DSQL_EUNKNOWN_OUTCOME, the
 * message naming its rows, report counting only the chunks before it. Each chunk is one
 * INSERT in autocommit; on a connection inside a transaction the chunks share that
 * transaction instead (a failure then aborts it: nothing landed), and more rows than the
 * transaction has left under the cap are refused before anything is sent (DSQL_ELIMIT).
 * Borrows: db, m, opts (during the call only); rows are written to (defaults).
 * Owns: report is the caller's and holds no heap memory.
 */
DSQL_API int dsql_bulk_create(dsql_db *db, const dsql_model *m, void *rows, size_t n,
                              const dsql_bulk_options *opts, dsql_bulk_report *report,
                              dsql_error *err);

/**
 * All rows matching q (NULL = all rows). *rows: the array of *n hydrated structs, owned
 * by *res (dsql_result_free()). With includes, one SQL statement fetches everything.
 * An attribute list (q->attributes) on a model without DSQL_ROW_STATE needs
 * q->read_only: a row missing attributes could otherwise be saved over them.
 * Borrows: db, m, q (during the call only).
 * Owns: *res is new and owns *rows (the structs and every string in them).
 * Free with: dsql_result_free(*res).
 */
DSQL_API int dsql_find_all(dsql_db *db, const dsql_model *m, const dsql_query *q, void *rows,
                           size_t *n, dsql_result **res, dsql_error *err);

/** The first row matching q; DSQL_ENOTFOUND when none. *row owned by *res.
 * Borrows: db, m, q (during the call only).
 * Owns: *res is new and owns *row (the struct and its strings).
 * Free with: dsql_result_free(*res). */
DSQL_API int dsql_find_one(dsql_db *db, const dsql_model *m, const dsql_query *q, void *row,
                           dsql_result **res, dsql_error *err);

/** The row whose primary key is pk; q may add includes/attributes (its where must be
 * NULL). DSQL_ENOTFOUND when none; DSQL_EINVAL when the model has no primary key.
 * Borrows: db, m, pk, q (during the call only).
 * Owns: *res is new and owns *row (the struct and its strings).
 * Free with: dsql_result_free(*res). */
DSQL_API int dsql_find_by_pk(dsql_db *db, const dsql_model *m, dsql_value pk,
                             const dsql_query *q, void *row, dsql_result **res,
                             dsql_error *err);

/** Number of rows matching where (NULL = all).
 * Borrows: db, m, where (during the call only).
 * Owns: nothing is handed out. */
DSQL_API int dsql_count(dsql_db *db, const dsql_model *m, const dsql_where *where,
                        int64_t *count, dsql_error *err);

/** What an assignment does with its value. */
typedef enum dsql_assign_op {
    DSQL_ASSIGN_SET = 0, /**< attr = value */
    DSQL_ASSIGN_ADD,     /**< attr = attr + value (a numeric attribute; NULL stays NULL) */
    DSQL_ASSIGN_SUB      /**< attr = attr - value */
} dsql_assign_op;

/* ---- aggregates ---- */

/** An aggregate function. */
typedef enum dsql_agg_fn {
    DSQL_AGG_COUNT = 1,      /**< count(*) (attr NULL) or count(attr): rows, non-NULL values */
    DSQL_AGG_COUNT_DISTINCT, /**< count(DISTINCT attr) */
    DSQL_AGG_SUM,            /**< sum(attr): numeric attributes */
    DSQL_AGG_MIN,            /**< min(attr) */
    DSQL_AGG_MAX,            /**< max(attr) */
    DSQL_AGG_AVG             /**< avg(attr): numeric attributes; exact decimal text */
} dsql_agg_fn;

/** One aggregate of dsql_aggregate. */
typedef struct dsql_agg {
    dsql_agg_fn fn;
    const char *attr; /**< attribute name; NULL only for count(*) */
} dsql_agg;

#define DSQL_AGG(fn_, attr_) {.fn = (fn_), .attr = (attr_)}

/** A condition on an aggregate's value (HAVING): aggs[agg] op value. */
typedef struct dsql_having {
    size_t agg;      /**< index into the query's aggs */
    dsql_op op;      /**< DSQL_OP_EQ, _NE, _LT, _LTE, _GT or _GTE */
    dsql_value value;
} dsql_having;

/** What dsql_aggregate computes. */
typedef struct dsql_aggregate_query {
    const dsql_where *where;           /**< the rows aggregated; NULL = all */
    const char *const *group_by;       /**< attributes to group by; none = one row */
    size_t n_group_by;
    const dsql_agg *aggs;              /**< at least one */
    size_t n_aggs;
    const dsql_having *having;         /**< ANDed conditions on the aggregates */
    size_t n_having;
    int64_t limit;                     /**< groups returned, in group order; 0 = all */
    bool with_deleted;                 /**< a paranoid model's rows marked deleted too */
    const char *const *scopes;         /**< the model's scopes whose wheres apply, by name */
    size_t n_scopes;
    bool unscoped;                     /**< without the model's default scope */
    const struct dsql_assoc *const *join; /**< associations of the model LEFT JOINed (up to
                                            8), so that group_by and aggs may name their
                                            targets' attributes as "alias.attr" (e.g.
                                            "owner.city"); rows without a match group
                                            under NULL; a to-many join repeats the model's
                                            rows once per match, as SQL does */
    size_t n_join;
    const void *reserved_[4];          /**< room for fields added later: zero */
} dsql_aggregate_query;

/**
 * Aggregates (Sequelize's count / sum / min / max and findAll with group and having): one
 * SELECT of the group attributes then the aggregates, GROUP BY and ORDER BY the group
 * attributes, HAVING the conditions. *res holds one row per group; its columns are named
 * by attribute (group) and "<fn>_<attr>" or "count" (aggregates: count_distinct_name,
 * sum_weight, ...). Read values with dsql_result_int / _double / _text (sums and averages
 * of NUMERIC attributes come as exact text). Unknown attributes, a sum of text, an empty
 * aggregate list: DSQL_EINVAL before anything is sent.
 * Borrows: db, m, q (during the call only).
 * Owns: *res is new.
 * Free with: dsql_result_free(*res).
 */
DSQL_API int dsql_aggregate(dsql_db *db, const dsql_model *m, const dsql_aggregate_query *q,
                            dsql_result **res, dsql_error *err);

/**
 * A page of rows and the number of all rows matching (Sequelize's findAndCountAll): the
 * count and the find (q's where, order, limit, offset, includes) as one read-only
 * transaction in one round trip, so the total and the page are of the same snapshot.
 * *rows / *n / *res as dsql_find_all; *total: the rows of m matching q's where. Required
 * includes (inner joins) are refused (DSQL_EINVAL): they would drop rows the total counts.
 * Borrows: db, m, q (during the call only).
 * Owns: *res is new and owns *rows (the structs and every string in them).
 * Free with: dsql_result_free(*res).
 */
DSQL_API int dsql_find_and_count_all(dsql_db *db, const dsql_model *m, const dsql_query *q,
                                     void *rows, size_t *n, int64_t *total, dsql_result **res,
                                     dsql_error *err);

/** One assignment of an UPDATE. */
typedef struct dsql_assign {
    const char *attr;
    dsql_value value;
    dsql_assign_op op; /**< DSQL_ASSIGN_SET unless built with DSQL_INCREMENT / _DECREMENT */
} dsql_assign;

#define DSQL_SET(a, v)       {.attr = (a), .value = v}
/** attr = attr + v, computed by the server in the UPDATE itself (an atomic counter). */
#define DSQL_INCREMENT(a, v) {.attr = (a), .value = v, .op = DSQL_ASSIGN_ADD}
/** attr = attr - v, likewise. */
#define DSQL_DECREMENT(a, v) {.attr = (a), .value = v, .op = DSQL_ASSIGN_SUB}

/**
 * UPDATE ... SET assigns WHERE where. Values are validated against their attributes.
 * where must not be NULL (use DSQL_NOT_NULL on the key to mean "all rows" on purpose).
 * *affected (if not NULL) receives the number of rows changed.
 * On a pool or an idle connection: one statement, atomic. When the server refuses it for
 * the row cap (Aurora DSQL, more than 3,000 rows; nothing changed) and the model has a
 * primary key, the rows are updated in chunks of up to 3,000 in key order, each its own
 * transaction: then not atomic as a whole, and a chunk failing after others committed is
 * DSQL_EPARTIAL (*affected: the rows updated). Without a primary key the refusal is the
 * error (DSQL_ELIMIT). In the caller's transaction: one statement that changes nothing and
 * fails with DSQL_ELIMIT when the rows it matches would take the transaction past the cap.
 * Borrows: db, m, assigns, where (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_update(dsql_db *db, const dsql_model *m, const dsql_assign *assigns,
                         size_t n_assigns, const dsql_where *where, uint64_t *affected,
                         dsql_error *err);

/**
 * dsql_update that also hands back the rows as updated (Sequelize's returning: true): one
 * UPDATE ... RETURNING, so the values are the ones this statement wrote, counters
 * included. *rows / *n as dsql_find_all, owned by *res (dsql_result_free). Atomic, never
 * chunked: more rows than one Aurora DSQL transaction may modify (3,000, fewer in the
 * caller's transaction when it has written already) is DSQL_ELIMIT with nothing changed.
 * Borrows: db, m, assigns, where (during the call only).
 * Owns: *res is new and owns *rows (the structs and every string in them).
 * Free with: dsql_result_free(*res).
 */
DSQL_API int dsql_update_returning(dsql_db *db, const dsql_model *m, const dsql_assign *assigns,
                                   size_t n_assigns, const dsql_where *where, void *rows,
                                   size_t *n, dsql_result **res, dsql_error *err);

/**
 * Atomic counters (Sequelize's increment / decrement): one UPDATE that adds each delta to
 * its attribute on the server (`SET n = n + $1, ...`; DSQL_DECREMENT subtracts), on the
 * rows matching where, returning them with their new values as dsql_update_returning.
 * Concurrent increments never lose one another: each is computed from the row's value at
 * write time, and on Aurora DSQL a conflicting one is retried on a pool like any write.
 * Every delta must be DSQL_ASSIGN_ADD or DSQL_ASSIGN_SUB on a numeric attribute.
 * Borrows: db, m, deltas, where (during the call only).
 * Owns: *res is new and owns *rows (when rows is not NULL).
 * Free with: dsql_result_free(*res).
 */
DSQL_API int dsql_increment(dsql_db *db, const dsql_model *m, const dsql_assign *deltas,
                            size_t n_deltas, const dsql_where *where, void *rows, size_t *n,
                            dsql_result **res, dsql_error *err);

/**
 * Saves row by its primary key (one UPDATE). With attrs: the named attributes. Without
 * (NULL, 0): for a row a find read into a model with DSQL_ROW_STATE, the loaded attributes
 * whose values changed since (none changed: nothing is sent); otherwise every non-key
 * attribute. An attribute the row's find did not load is never written: naming one is
 * DSQL_EINVAL. DSQL_ENOTFOUND when no row has that key. After a save the row's state
 * counts the saved values as read. One statement, atomic (none when nothing changed); in
 * the caller's transaction DSQL_ELIMIT (nothing sent) when that transaction has no row
 * left under the cap.
 * Borrows: db, m, row, attrs (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_save(dsql_db *db, const dsql_model *m, void *row,
                       const char *const *attrs, size_t n_attrs, dsql_error *err);

/**
 * DELETE ... WHERE where (must not be NULL; see dsql_update). *affected receives the rows
 * of m's table deleted (rows its foreign keys' ON DELETE actions reach are not counted).
 * On a pool or an idle connection: chunks of up to 3,000 rows by primary key, each one
 * statement, its own transaction (DSQL has no TRUNCATE and caps rows per transaction); a
 * chunk the server refuses because ON DELETE CASCADE took it past the cap deleted nothing
 * and is run again with half as many rows, down to one (one row that alone cascades past
 * the cap is DSQL_ELIMIT). A chunk failing after others were deleted is DSQL_EPARTIAL
 * (*affected: the rows of the committed chunks); a connection lost with a chunk in flight
 * is DSQL_EUNKNOWN_OUTCOME (that chunk may or may not have deleted). Without a primary key:
 * one DELETE, refused whole (DSQL_ELIMIT, nothing deleted) past the cap.
 * In the caller's transaction: a DELETE that counts first the rows it would modify, with
 * those its ON DELETE CASCADE / SET NULL / SET DEFAULT actions reach (the foreign keys
 * read from the catalog when any with such an action references the table: two or three
 * statements more), and deletes nothing, DSQL_ELIMIT, when they would take the
 * transaction past the cap. One statement when it deletes rows and no such key exists.
 * Borrows: db, m, where (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_delete(dsql_db *db, const dsql_model *m, const dsql_where *where,
                         uint64_t *affected, dsql_error *err);

/**
 * Deletes one row by its primary key (Sequelize's instance.destroy()): the model's
 * BEFORE_DESTROY / AFTER_DESTROY hooks see row. DSQL_ENOTFOUND when no row has that key.
 * One statement, atomic; in the caller's transaction it is checked against the row cap
 * as dsql_delete is (ON DELETE CASCADE rows included).
 * Borrows: db, m, row (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_delete_row(dsql_db *db, const dsql_model *m, void *row, dsql_error *err);

/**
 * dsql_delete that deletes rows even of a paranoid model (Sequelize's force: true), marked
 * or not; on other models the same as dsql_delete. Calls the bulk-destroy hooks.
 * Borrows: db, m, where (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_delete_force(dsql_db *db, const dsql_model *m, const dsql_where *where,
                               uint64_t *affected, dsql_error *err);

/**
 * Unmarks the marked rows of a paranoid model matching where (Sequelize's restore): one
 * UPDATE ... SET deleted = NULL, chunked past the row cap as dsql_update is. *affected: the
 * rows restored. DSQL_EINVAL for a model without DSQL_DELETED_AT.
 * Borrows: db, m, where (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_restore(dsql_db *db, const dsql_model *m, const dsql_where *where,
                          uint64_t *affected, dsql_error *err);

/**
 * dsql_delete that hands back the rows as they were (Sequelize's destroy with returning:
 * true): one DELETE ... RETURNING (on a paranoid model, the UPDATE that marks them).
 * *rows / *n as dsql_find_all, owned by *res (dsql_result_free). Atomic, never chunked:
 * more rows than one Aurora DSQL transaction may modify (3,000 with the rows ON DELETE
 * CASCADE reaches; fewer in the caller's transaction when it has written already) is
 * DSQL_ELIMIT with nothing deleted. Calls the bulk-destroy hooks.
 * Borrows: db, m, where (during the call only).
 * Owns: *res is new and owns *rows (the structs and every string in them).
 * Free with: dsql_result_free(*res).
 */
DSQL_API int dsql_delete_returning(dsql_db *db, const dsql_model *m, const dsql_where *where,
                                   void *rows, size_t *n, dsql_result **res, dsql_error *err);

/** The former name of dsql_delete (it deletes rows; it frees nothing). Removed in 0.3.
 * Owns, Borrows, Free with: as dsql_delete. */
DSQL_DEPRECATED("renamed dsql_delete")
DSQL_API int dsql_destroy(dsql_db *db, const dsql_model *m, const dsql_where *where,
                          uint64_t *affected, dsql_error *err);

/**
 * Finds the row matching where, or creates one when none matches — safely under OCC (find
 * and insert in one retried transaction; no PL/pgSQL). The row created is `defaults` (a
 * row of the model; its client-side defaults are filled in) with every equality of where
 * put in, as Sequelize does: DSQL_EQ conditions at the top level or under DSQL_AND (not
 * under OR / NOT); where wins over defaults. The caller's defaults struct gets only its
 * defaults filled, never the where's values (an IS NULL condition counts as an equality
 * with NULL). *row / *res as dsql_find_one; *created (if not NULL) says which happened.
 * The find and the insert are one transaction (in the caller's transaction they join it,
 * and the insert is DSQL_ELIMIT, not sent, when that transaction has no row left).
 * Borrows: db, m, where (during the call only); defaults is written to (its defaults).
 * Owns: *res is new and owns *row (the struct and its strings).
 * Free with: dsql_result_free(*res).
 */
DSQL_API int dsql_find_or_create(dsql_db *db, const dsql_model *m, const dsql_where *where,
                                 void *defaults, void *row, dsql_result **res, bool *created,
                                 dsql_error *err);

/** A raw SELECT whose columns are hydrated into m's structs by column name (columns
 * without an attribute are ignored). An attribute without a column is DSQL_EINVAL unless
 * the model has DSQL_ROW_STATE (its rows then know what they lack, and dsql_save never
 * writes it): a row missing an attribute could otherwise be saved over it.
 * Borrows: db, m, sql, params (during the call only).
 * Owns: *res is new and owns *rows (the structs and every string in them).
 * Free with: dsql_result_free(*res). */
DSQL_API int dsql_query_models(dsql_db *db, const dsql_model *m, const char *sql,
                               const dsql_value *params, size_t nparams, void *rows,
                               size_t *n, dsql_result **res, dsql_error *err);

/* ---- raw SQL with named parameters (Sequelize's replacements / bind objects) ---- */

/** One named parameter: `:name` in the SQL text takes value. */
typedef struct dsql_named {
    const char *name;  /**< without the colon; matched exactly (case counts) */
    dsql_value value;  /**< borrowed for the call; DSQL_SECRET_STR & co. stay secret */
} dsql_named;

/**
 * Where the values of a statement's :name parameters come from: a list of pairs, a row
 * of a model (:attr takes the row's member for attribute attr, as a create would send it;
 * a DSQL_SECRET attribute stays secret), or both (a name found in both is DSQL_EINVAL).
 * Every pointer is borrowed for the call. Build with DSQL_NAMED / DSQL_BIND_ROW:
 *   &(dsql_bind){DSQL_NAMED({"city", DSQL_STR("Anytown")}, {"n", DSQL_INT(3)})}
 *   &(dsql_bind){DSQL_BIND_ROW(&owner_model, &john)}
 */
typedef struct dsql_bind {
    const dsql_named *params;  /**< pairs, each used by the statement (an unused one is
                                    DSQL_EINVAL: a misspelt name never binds nothing) */
    size_t n_params;
    const struct dsql_model *model; /**< the row's model; NULL with a row in
                                    dsql_query_models_named = the model queried */
    const void *row;           /**< a row of model (the attributes the statement does not
                                    name are ignored) */
    const void *reserved_[2];  /**< room for fields added later: zero */
} dsql_bind;

#define DSQL_BIND_INIT {0}

/** .params and .n_params of a dsql_bind from pair literals {"name", value}. */
#define DSQL_NAMED(...)                                                                        \
    .params = (const dsql_named[]){__VA_ARGS__},                                               \
    .n_params = sizeof((const dsql_named[]){__VA_ARGS__}) / sizeof(dsql_named)
/** .model and .row of a dsql_bind. */
#define DSQL_BIND_ROW(model_, row_) .model = (model_), .row = (row_)

/**
 * dsql_exec with named parameters: each `:name` of sql becomes a $n parameter (the same
 * name used twice is one parameter) bound from b (NULL = nothing to bind), and the
 * statement runs as dsql_exec runs it (one round trip, the same retries; *res may be
 * NULL). The text is scanned as PostgreSQL reads it, so a colon inside a string constant
 * ('..', E'..', $tag$..$tag$), a quoted identifier or a comment is not a parameter, nor is
 * the :: cast. Refused with DSQL_EINVAL before anything is sent, naming the culprit: a
 * name with no value (no such pair, or no such attribute of b->model), a pair the
 * statement does not use, a name in both the pairs and the row's model, a ':' followed by
 * no name, a $n in the same statement, an unterminated string, identifier or comment.
 * The rewrite costs one pass over the text per call (no cache: docs/api.md).
 * Borrows: db, sql, b (during the call only).
 * Owns: *res (if res is not NULL) is new.
 * Free with: dsql_result_free(*res).
 */
DSQL_API int dsql_exec_named(dsql_db *db, const char *sql, const dsql_bind *b,
                             dsql_result **res, dsql_error *err);

/** dsql_query_models with named parameters bound from b, as dsql_exec_named binds them
 * (b->row without b->model is a row of m).
 * Borrows: db, m, sql, b (during the call only).
 * Owns: *res is new and owns *rows (the structs and every string in them).
 * Free with: dsql_result_free(*res). */
DSQL_API int dsql_query_models_named(dsql_db *db, const dsql_model *m, const char *sql,
                                     const dsql_bind *b, void *rows, size_t *n,
                                     dsql_result **res, dsql_error *err);

/* In C, each call above takes a pool, a connection or a dsql_db (see DSQL_DB). */
#if !defined(__cplusplus) && !defined(DSQL_BUILDING)
#define dsql_create(db, ...) (dsql_create)(DSQL_DB(db), __VA_ARGS__)
#define dsql_aggregate(db, ...) (dsql_aggregate)(DSQL_DB(db), __VA_ARGS__)
#define dsql_find_and_count_all(db, ...) (dsql_find_and_count_all)(DSQL_DB(db), __VA_ARGS__)
#define dsql_upsert(db, ...) (dsql_upsert)(DSQL_DB(db), __VA_ARGS__)
#define dsql_bulk_create(db, ...) (dsql_bulk_create)(DSQL_DB(db), __VA_ARGS__)
#define dsql_find_all(db, ...) (dsql_find_all)(DSQL_DB(db), __VA_ARGS__)
#define dsql_find_one(db, ...) (dsql_find_one)(DSQL_DB(db), __VA_ARGS__)
#define dsql_find_by_pk(db, ...) (dsql_find_by_pk)(DSQL_DB(db), __VA_ARGS__)
#define dsql_count(db, ...) (dsql_count)(DSQL_DB(db), __VA_ARGS__)
#define dsql_update(db, ...) (dsql_update)(DSQL_DB(db), __VA_ARGS__)
#define dsql_update_returning(db, ...) (dsql_update_returning)(DSQL_DB(db), __VA_ARGS__)
#define dsql_increment(db, ...) (dsql_increment)(DSQL_DB(db), __VA_ARGS__)
#define dsql_save(db, ...) (dsql_save)(DSQL_DB(db), __VA_ARGS__)
#define dsql_delete(db, ...) (dsql_delete)(DSQL_DB(db), __VA_ARGS__)
#define dsql_delete_row(db, ...) (dsql_delete_row)(DSQL_DB(db), __VA_ARGS__)
#define dsql_delete_force(db, ...) (dsql_delete_force)(DSQL_DB(db), __VA_ARGS__)
#define dsql_delete_returning(db, ...) (dsql_delete_returning)(DSQL_DB(db), __VA_ARGS__)
#define dsql_restore(db, ...) (dsql_restore)(DSQL_DB(db), __VA_ARGS__)
#define dsql_destroy(db, ...) (dsql_destroy)(DSQL_DB(db), __VA_ARGS__)
#define dsql_find_or_create(db, ...) (dsql_find_or_create)(DSQL_DB(db), __VA_ARGS__)
#define dsql_query_models(db, ...) (dsql_query_models)(DSQL_DB(db), __VA_ARGS__)
#define dsql_exec_named(db, ...) (dsql_exec_named)(DSQL_DB(db), __VA_ARGS__)
#define dsql_query_models_named(db, ...) (dsql_query_models_named)(DSQL_DB(db), __VA_ARGS__)
#endif

#ifdef __cplusplus
}
#endif

/* clang-format on */
#endif
