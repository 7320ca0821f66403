/*
 * The model layer's internal interface, shared by its files (CRUD, hydration, SQL
 * building, schema, associations). Not installed.
 */
#ifndef DSQL_MODEL_INTERNAL_H
#define DSQL_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "conn/internal.h"
#include "dsql/assoc.h"
#include "dsql/model.h"
#include "dsql/schema.h"
#include "util/util.h"

/* ---- SQL text ---- */

/* Appends ident as a quoted identifier ("a""b"). */
void dsql__sql_ident(dsql__strbuf *sb, const char *ident);

/* Appends the model's table, schema-qualified when the model names a schema. */
void dsql__sql_table(dsql__strbuf *sb, const dsql_model *m);

/* The column name of an attribute (its .column, else its .name). */
static inline const char *dsql__attr_column(const dsql_attr *a)
{
    return a->column ? a->column : a->name;
}

/* ---- statement parameters ----
 * A growing list of libpq parameters. Text values point either to caller memory that
 * outlives the statement or into the list's arena. */
typedef struct dsql__params {
    const char **values;
    int *lengths;
    int *formats;
    int n;
    int cap;
    bool oom; /* out of memory, or more than libpq's 65535 parameters */
    dsql__arena arena;
    bool too_many;  /* oom because of the 65535-parameter limit */
    uint8_t *flags; /* DSQL__PF_* of each parameter: what the log and errors may show */
} dsql__params;

#define DSQL__PARAMS_INIT                                                                          \
    {                                                                                              \
        NULL, NULL, NULL, 0, 0, false, DSQL__ARENA_INIT, false, NULL                               \
    }

/* Appends one parameter and returns its 1-based number ($n), or 0 after a failure.
 * value NULL = SQL NULL; format 0 = text (len ignored), 1 = binary (len bytes). */
int dsql__params_add(dsql__params *p, const char *value, int len, int format);
/* Appends a copy of text (owned by the list). */
int dsql__params_add_copy(dsql__params *p, const char *text, size_t len);
/* Appends a dsql_value (ints/doubles/bools rendered as text; bytes binary); a value marked
 * DSQL_VALUE_SECRET stays secret. */
int dsql__params_add_value(dsql__params *p, const dsql_value *v);
/* Marks parameter $k (1-based, as the add functions return it) secret: the log shows it as
 * <redacted>, errors never quote it. No-op for k == 0. */
void dsql__params_mark_secret(dsql__params *p, int k);
void dsql__params_reset(dsql__params *p);
/* The parameters as dsql_values (for dsql_pipeline_tx), in p's arena; NULL on oom. */
dsql_value *dsql__params_as_values(dsql__params *p);
/* The error for a parameter list that stopped growing (p->oom): DSQL_EINVAL naming the
 * protocol's 65535-parameter limit when that is why, else DSQL_ENOMEM. */
int dsql__params_error(const dsql__params *p, dsql_error *err);
void dsql__params_free(dsql__params *p);

/* ---- descriptors (model.c) ---- */

/* The member of a row an attribute describes. */
#define DSQL__MEMBER(row, a)  ((void *)((char *)(row) + (a)->offset))
#define DSQL__CMEMBER(row, a) ((const void *)((const char *)(row) + (a)->offset))

/* Full descriptor check (what dsql_model_check does); every public call runs it. The
 * message names the model and the attribute, e.g. `model pet: attribute "age": member is
 * 8 bytes, INTEGER needs int32_t (4 bytes)`. */
int dsql__model_check(const dsql_model *m, dsql_error *err);

/* The attribute named name (attribute name first, then column name), or NULL. */
const dsql_attr *dsql__model_attr(const dsql_model *m, const char *name);

/* Same, failing with DSQL_EINVAL `<what>: model owner has no attribute "nme"` (what may
 * be NULL; name may be NULL). */
int dsql__attr_lookup(const dsql_model *m, const char *name, const char *what,
                      const dsql_attr **out, dsql_error *err);

/* The primary-key attribute, or NULL when the model has none. */
const dsql_attr *dsql__model_pk(const dsql_model *m);

/* Index of a (an element of m->attrs). */
static inline size_t dsql__attr_index(const dsql_model *m, const dsql_attr *a)
{
    return (size_t)(a - m->attrs);
}

/* The type as written in a declaration: "STRING(30)", "NUMERIC(10,2)", "UUID". buf
 * should hold 32 bytes. Returns buf. */
const char *dsql__type_name(const dsql_attr *a, char *buf, size_t cap);
/* The precision and scale a NUMERIC attribute is stored with: its own, or for
 * DSQL_NUMERIC(0,0) the numeric(18,6) Aurora DSQL gives a bare numeric. */
void dsql__numeric_ps(const dsql_attr *a, int *precision, int *scale);
/* Precision of a NUMERIC that takes any number PostgreSQL's numeric holds (comparisons). */
#define DSQL__NUMERIC_ANY (-1)

/* The SQL type: "uuid", "varchar(30)", "numeric(10,2)", "timestamptz". buf: 32 bytes. */
const char *dsql__sql_type(const dsql_attr *a, char *buf, size_t cap);

/* The member size a type needs (sizeof its C representation). */
size_t dsql__type_size(dsql_type_id t);

/* True for types held as char * (text). */
bool dsql__type_is_text(dsql_type_id t);

/* True for types held as scalars (ints, floats, bool): they may have a has_x flag. */
bool dsql__type_is_scalar(dsql_type_id t);
/* SMALLINT, INTEGER, BIGINT, REAL, DOUBLE, NUMERIC: what a counter moves and SUM / AVG add. */
bool dsql__type_is_number(dsql_type_id t);
/* " = ", " <> ", " < ", " <= ", " > ", " >= " for the six comparisons; NULL for any other. */
const char *dsql__op_compare_sql(dsql_op op);

/* True when the row's member for a holds SQL NULL (NULL pointer, empty uuid, bytes with
 * NULL data, has_x false). */
bool dsql__attr_is_null(const dsql_attr *a, const void *row);

/* Sets the row's member for a to SQL NULL (zero value, has_x false). */
void dsql__attr_set_null(const dsql_attr *a, void *row);

/* ---- values (types.c) ---- */

/* The row's member for a as a dsql_value (borrowed: text and bytes point into row).
 * UUIDs and text types give DSQL_V_TEXT, integers DSQL_V_INT, floats DSQL_V_DOUBLE,
 * booleans DSQL_V_BOOL, bytea DSQL_V_BYTES, NULL members DSQL_V_NULL. */
dsql_value dsql__attr_value(const dsql_attr *a, const void *row);

/* Appends v, a value compared with something of attribute a (a path inside it), as a
 * parameter: secret when a is. Returns its $n, or 0 on failure (p->oom). */
int dsql__params_add_for(dsql__params *p, const dsql_attr *a, const dsql_value *v);

/* Appends the row's member for a as a parameter (borrowed from row where possible);
 * returns its $n, or 0 on failure (p->oom). */
int dsql__params_add_attr(dsql__params *p, const dsql_attr *a, const void *row);

/* How a dsql_value is used, which decides how strictly it is checked. */
typedef enum dsql__use {
    DSQL__USE_COMPARE = 0, /* compared with a column: kind and syntax must fit the type */
    DSQL__USE_STORE,       /* stored into the column: full validation (length, precision) */
    DSQL__USE_PATTERN      /* LIKE / ILIKE pattern: text, on a text attribute */
} dsql__use;

/*
 * Checks that v fits attribute a of m for the given use: DSQL_EINVAL for a kind that does
 * not fit the type (`owner.age: expected an INTEGER value, got text "abc"`), DSQL_EVALIDATION
 * for a value that fails the type's rules (length, calendar date, range). NULL (DSQL_V_NULL
 * or a NULL text) passes here; callers decide what NULL means.
 */
int dsql__value_check(const dsql_model *m, const dsql_attr *a, const dsql_value *v, dsql__use use,
                      dsql_error *err);

/* dsql__value_check, then appends v as a parameter. Returns its $n, or 0 with err set. */
int dsql__params_add_checked(dsql__params *p, const dsql_model *m, const dsql_attr *a,
                             const dsql_value *v, dsql__use use, dsql_error *err);

/*
 * Decodes the text form of a value sent by the server into the row's member for a.
 * text NULL = SQL NULL. Text types point straight at text (no copy): it must live as long
 * as the row (it is the PGresult's memory, kept by the result). bytea is decoded into
 * arena. DSQL_EPARSE naming model and attribute when the text does not fit the type.
 */
int dsql__attr_decode(const dsql_model *m, const dsql_attr *a, void *row, const char *text,
                      size_t len, dsql__arena *arena, dsql_error *err);

/* ---- row state (rowstate.c) ---- */

typedef struct dsql__row_record dsql__row_record;

/* For a model with a dsql_row_state member: records in arena which attributes were loaded
 * (col[k] >= 0) and a snapshot of row, and points row's state at it. No-op otherwise. */
int dsql__row_track(const dsql_model *m, void *row, const int *col, dsql__arena *arena,
                    dsql_error *err);
/* The record of a row read by a find, or NULL (*out) for a row the program built or a model
 * without state; DSQL_EINVAL when the state is not a record of this model. */
int dsql__row_record_of(const dsql_model *m, const void *row, const dsql__row_record **out,
                        dsql_error *err);
/* Whether attribute k was loaded; whether a's value differs from the snapshot. */
bool dsql__row_loaded(const dsql__row_record *r, size_t k);
bool dsql__row_changed(const dsql__row_record *r, const dsql_attr *a, const void *row);
/* Takes row's value of a as the snapshot's (after a successful save). */
void dsql__row_saved(const dsql__row_record *r, const dsql_attr *a, const void *row);

/* ---- validation (validate.c) ---- */

/* Validates the row's member for a (NOT NULL unless allow_null, then the type's rules).
 * DSQL_EVALIDATION naming model, attribute and problem. */
int dsql__validate_attr(const dsql_model *m, const dsql_attr *a, const void *row, bool allow_null,
                        dsql_error *err);

/* Validates text (len bytes, NUL-terminated) against a's type rules (not NULL-ness). */
int dsql__validate_text(const dsql_model *m, const dsql_attr *a, const char *text, size_t len,
                        dsql_error *err);

/* Number of characters in valid UTF-8 text, or -1 when it is not valid UTF-8 (the byte
 * offset of the first bad byte goes to *bad when bad is not NULL). */
long dsql__utf8_chars(const char *s, size_t len, size_t *bad);
/* Length of the valid UTF-8 sequence at p (avail bytes there), 0 when invalid or NUL. */
size_t dsql__utf8_seq(const unsigned char *p, size_t avail);

/* Syntax checks, true when valid (dates are real calendar dates). */
bool dsql__check_uuid(const char *s, size_t len);
bool dsql__check_date(const char *s, size_t len);
bool dsql__check_time(const char *s, size_t len);
bool dsql__check_timestamp(const char *s, size_t len, bool with_zone);
/* JSON syntax (RFC 8259, UTF-8); jsonb additionally rejects \u0000 as PostgreSQL does.
 * On failure *why says what is wrong (a static string). */
bool dsql__check_json(const char *s, size_t len, bool jsonb, const char **why);

/* A short, printable preview of a value for error messages: at most ~24 characters in
 * double quotes, control and invalid bytes as \xNN, "..." when cut. Returns buf. */
const char *dsql__preview(const char *s, size_t len, char *buf, size_t cap);
#define DSQL__PREVIEW_MAX 128

/* A key value for a message: text previewed as dsql__preview, integers as digits, other
 * kinds "that key". Returns buf. */
const char *dsql__key_preview(const dsql_value *v, char *buf, size_t cap);

/* ---- associations (assoc_check.c) ---- */

/* The attribute of a key: which model holds it and the attribute itself. */
typedef struct dsql__assoc_keys {
    const dsql_attr *source_key;  /* on source: has-one/has-many/belongs-to-many */
    const dsql_attr *target_key;  /* on target: belongs-to/belongs-to-many */
    const dsql_attr *foreign_key; /* on source (belongs-to), target (has-*), through (btm) */
    const dsql_attr *other_key;   /* on through (belongs-to-many) */
} dsql__assoc_keys;

/* dsql_assoc_check, and the resolved key attributes (keys may be NULL). */
int dsql__assoc_resolve(const dsql_assoc *a, dsql__assoc_keys *keys, dsql_error *err);

/* True for has-many and belongs-to-many (array member plus count). */
static inline bool dsql__assoc_to_many(const dsql_assoc *a)
{
    return a->kind == DSQL_ASSOC_HAS_MANY || a->kind == DSQL_ASSOC_BELONGS_TO_MANY;
}

/* ---- SQL building (where.c, select.c) ---- */

/*
 * Appends condition w over model m: columns as "alias"."column" when alias is not NULL,
 * else "column"; values checked against their attributes and added to p as $n. EQ/NE
 * with a NULL value become IS [NOT] NULL. DSQL_EINVAL / DSQL_EVALIDATION naming the
 * attribute (unknown attribute, type mismatch, empty IN list, bad tree).
 */
int dsql__build_where(dsql__strbuf *sb, dsql__params *p, const dsql_model *m, const char *alias,
                      const dsql_where *w, dsql_error *err);

/* Appends a column reference: "alias"."column" or "column". */
void dsql__sql_column(dsql__strbuf *sb, const char *alias, const dsql_attr *a);

#define DSQL__MAX_INCLUDES 32 /* included associations in one query, nested ones counted */

/* One model in a SELECT: the queried one (node 0) or an included association. */
typedef struct dsql__node {
    const dsql_model *m;
    const dsql_assoc *assoc;   /* how the node hangs off its parent; NULL for the root */
    const dsql_include *inc;   /* NULL for the root */
    dsql__assoc_keys keys;     /* resolved keys of assoc */
    int parent;                /* parent node index; -1 for the root */
    const char *alias;         /* SQL alias: table name for the root, "pets", "pets->visits" */
    const char *through_alias; /* belongs-to-many: alias of the join model */
    int *col;                  /* per attribute of m: result column, or -1 when not selected */
    int *through_col;          /* belongs-to-many with a through member: per attribute of the
                                  join model, its result column; NULL otherwise */
    int key_col;               /* result column of m's primary key; -1 when none */
    int match_col;             /* non-NULL exactly when a joined row matched; root: -1 */
    bool to_many_below;        /* a to-many include hangs below this node */
} dsql__node;

/* What a built SELECT returns, for the hydrator. */
typedef struct dsql__plan {
    dsql__node nodes[1 + DSQL__MAX_INCLUDES];
    size_t n_nodes;
    int ncols;
    dsql__arena arena; /* aliases and column maps */
} dsql__plan;

#define DSQL__PLAN_INIT                                                                            \
    {                                                                                              \
        .n_nodes = 0                                                                               \
    }

/* ---- scopes (scope.c) ---- */

#define DSQL__SCOPES_MAX 8 /* scopes applied to one query, the default one included */

/* A query with its model's scopes applied (storage for dsql__scope_apply). */
typedef struct dsql__scoped {
    dsql_query q;
    dsql_where and_node;
    const dsql_where *wheres[DSQL__SCOPES_MAX + 1];
    dsql_include inc[DSQL__MAX_INCLUDES];
} dsql__scoped;

/* q (NULL = none) with m's default scope (unless q->unscoped) and the scopes q names
 * applied: *out is q itself when there is nothing to apply, else out->q. For a count the
 * scopes' includes, attributes, order and limit are left out. DSQL_EINVAL naming an
 * unknown scope, or too many scopes or includes. */
int dsql__scope_apply(const dsql_model *m, const dsql_query *q, bool count, dsql__scoped *s,
                      const dsql_query **out, dsql_error *err);

/* The model's scope table itself (names set and unique). Part of dsql__model_check. */
int dsql__scopes_declared(const dsql_model *m, dsql_error *err);

/* A SELECT to build. */
typedef struct dsql__select {
    const dsql_model *m;
    const dsql_query *q;             /* NULL = every row, every attribute */
    const dsql_where *extra;         /* ANDed with q->where (primary key, association key) */
    int64_t limit;                   /* > 0: overrides q->limit (find_one: 1) */
    bool count;                      /* SELECT count(*) (where only) */
    const dsql_attr *count_distinct; /* with count: count(DISTINCT this attribute of m) */
    /* Lazy loading (dsql_get_associated): the rows of m = via->target associated with
     * via_row, a row of via->source. Adds the key condition (and for belongs-to-many the
     * join through via->through). */
    const dsql_assoc *via;
    const void *via_row;
} dsql__select;

/*
 * Builds one SELECT (sql, parameters in p) and the plan the hydrator follows. With
 * includes: LEFT [INNER when required] JOINs; when a limit or offset meets a to-many
 * include, the parents are limited in a subquery first. Checks the model, the query, the
 * associations. plan must be freed with dsql__plan_free (also on failure).
 */
int dsql__build_select(const dsql__select *s, dsql__strbuf *sql, dsql__params *p, dsql__plan *plan,
                       dsql_error *err);
void dsql__plan_free(dsql__plan *plan);

/* A plan for m alone with every attribute in declaration order as columns 0..n-1 (the
 * shape of INSERT ... RETURNING). */
void dsql__plan_model(dsql__plan *plan, const dsql_model *m);

/* ---- hydration (hydrate.c) ---- */

/*
 * Hydrates res->pg following plan: res->rows becomes an array of res->nrows structs of
 * the plan's root model (in res->arena), included associations filled into their members
 * (to-many: arrays with counts; to-one: pointers), parents merged by primary key, joined
 * duplicates dropped. Text members point into res->pg.
 */
int dsql__hydrate(dsql_result *res, const dsql__plan *plan, dsql_error *err);

/* Same for a raw SELECT: columns matched to m's attributes by column name (then
 * attribute name); other columns ignored. */
int dsql__hydrate_by_name(dsql_result *res, const dsql_model *m, dsql_error *err);

/* Stores p into the caller's row pointer: out is the address of a `T *` variable, taken
 * as void * so callers need no cast; written with memcpy, which is defined whatever T is
 * (a store through a void ** into a T * would not be). NULL out: nothing. */
static inline void dsql__put_ptr(void *out, const void *p)
{
    if (out)
        memcpy(out, &p, sizeof p);
}

/* ---- kept timestamps ---- */

#define DSQL__TS_CREATED 1
#define DSQL__TS_UPDATED 2
#define DSQL__TS_DELETED 3

/* Internal assignment ops of the soft-delete attribute (never accepted from a caller):
 * col = now() (mark) and col = NULL (restore). */
#define DSQL__ASSIGN_MARK   0x7001
#define DSQL__ASSIGN_UNMARK 0x7002

/* UPDATE m SET assigns WHERE where (crud.c), without hooks: chunked past the row cap on a
 * pool, tallied in the caller's transaction; rows in *res when res is not NULL. On a
 * paranoid model it reaches the rows not marked deleted (marked ones for a restore). */
int dsql__update_exec(dsql_db *db, const char *fn, const dsql_model *m, const dsql_assign *assigns,
                      size_t n_assigns, const dsql_where *where, uint64_t *affected,
                      dsql_result **res, dsql_error *err);

/* The UPDATE of dsql_update, built only (no cap check, no chunking): "UPDATE t SET assigns
 * WHERE (where)" with a paranoid model's condition on its marked rows. */
int dsql__build_update(dsql__strbuf *sql, dsql__params *p, const dsql_model *m,
                       const dsql_assign *assigns, size_t n_assigns, const dsql_where *where,
                       dsql_error *err);

/* Builds the statements of dsql_set_associated(a, source_row, targets[0..n)) - one
 * transaction - and hands each to add(ctx, sql, params, nparams) (borrowed for the call).
 * *rows: the rows known to be modified (the source row and the links added; the links a set
 * removes are not known before it runs). Nothing is sent. */
int dsql__assoc_set_build(const dsql_assoc *a, const void *source_row, const void *const *targets,
                          size_t n,
                          int (*add)(void *ctx, const char *sql, const dsql_value *params,
                                     size_t nparams, dsql_error *err),
                          void *ctx, uint64_t *rows, dsql_error *err);

/* " WHERE where" (parenthesised on a paranoid model) and, with filter, a paranoid model's
 * "AND deleted IS [NOT] NULL" (marked: IS NOT NULL); where NULL: the filter alone, if
 * any. The where's error is returned unprefixed. */
int dsql__append_where_alive(dsql__strbuf *sql, dsql__params *p, const dsql_model *m,
                             const char *qual, const dsql_where *where, bool filter, bool marked,
                             dsql_error *err);

/* m's DSQL_DELETED_AT attribute, or NULL when m is not paranoid. */
const dsql_attr *dsql__deleted_attr(const dsql_model *m);

/* For a paranoid model: appends "<sep>alias.col IS NULL" (IS NOT NULL when marked) and
 * returns true; else appends nothing and returns false. */
bool dsql__append_alive(dsql__strbuf *sql, const dsql_model *m, const char *alias, const char *sep,
                        bool marked);

/* Appends ", col = now()" for each DSQL_UPDATED_AT attribute of m (first: no comma). */
void dsql__append_touch(dsql__strbuf *sql, const dsql_model *m, bool first);

/* ---- running statements ---- */

/* Rows one Aurora DSQL transaction may modify; bulk writes are chunked under it. */
#define DSQL__ROW_CAP 3000

/* Aurora DSQL's storage limits the model layer checks before any round trip. */
#define DSQL__COLUMNS_MAX   255     /* columns per table */
#define DSQL__INDEXES_MAX   24      /* indexes per table, the primary key's included */
#define DSQL__INDEX_KEY_MAX 8       /* key columns per index */
#define DSQL__VARCHAR_MAX   65535   /* varchar(n): n, and a value's bytes */
#define DSQL__CHAR_MAX      4096    /* char(n) */
#define DSQL__VALUE_MAX     1048576 /* bytes of one column value */

/* ---- the row cap inside the caller's transaction (rowcap.c) ---- */

/* Rows the caller's transaction on db may still modify under the cap (db inside a
 * transaction; 3,000 otherwise). */
uint64_t dsql__tx_room(dsql_db *db);

/* DSQL_ELIMIT: subject ("dsql_update: item") would take the caller's transaction on db past
 * the cap. what: why, e.g. "more than 3000 rows match" (NULL: no row at all is left); tail
 * ends the message ("nothing was changed: ..."). */
int dsql__tx_refuse(dsql_db *db, dsql_error *err, const char *subject, const char *what,
                    const char *tail);

/* When db is inside a transaction: DSQL_ELIMIT (nothing sent) unless `rows` more rows fit
 * under the cap. fn and m name the call in the message. */
int dsql__tx_reserve(dsql_db *db, uint64_t rows, const char *fn, const dsql_model *m,
                     dsql_error *err);

/* True when where matches at most one row of m: an equality with a non-NULL value on the
 * primary key or a unique attribute, alone or ANDed with anything. */
bool dsql__where_one_row(const dsql_model *m, const dsql_where *w);

/* The alias of the tallied table's row, for cost expressions. */
#define DSQL__TALLY_ROW   "dsql_r"
#define DSQL__TALLY_ALIAS "\"dsql_r\""

/* Appends "(SELECT coalesce(sum(cost), 0) FROM (SELECT cost ... FROM t AS "dsql_r" WHERE
 * (where) LIMIT room + 1) ...)": the rows a write of the rows where matches modifies,
 * counted over at most room + 1 of them. cost: an SQL expression per row over "dsql_r"
 * ("1", or dsql__delete_cost's). A failure to build where goes to *where_rc and err. */
void dsql__append_tally(dsql__strbuf *sql, dsql__params *p, const dsql_model *m,
                        const dsql_where *where, const char *cost, uint64_t room, int *where_rc,
                        dsql_error *err);

/* Runs the tally alone on db: *count (at most what room + 1 rows cost). */
int dsql__tally(dsql_db *db, const dsql_model *m, const dsql_where *where, const char *cost,
                uint64_t room, uint64_t *count, dsql_error *err);

/* Appends "NOT EXISTS (...)": true when no foreign key whose ON DELETE action modifies rows
 * (CASCADE, SET NULL, SET DEFAULT) references m's table (in its schema, or the current
 * one). Lets a DELETE skip reading the catalog in the usual case. */
void dsql__append_no_delete_actions(dsql__strbuf *sql, dsql__params *p, const dsql_model *m);

/* The rows deleting one row of m modifies, as an SQL expression over "dsql_r": 1 plus the
 * rows its foreign keys' ON DELETE actions reach (CASCADE counted through further cascades,
 * SET NULL / SET DEFAULT as the rows updated), read from the catalog on db. */
int dsql__delete_cost(dsql_db *db, const dsql_model *m, dsql__strbuf *out, dsql_error *err);

/* Runs sql with p on db (see dsql__db_exec): the one path of every model statement. */
static inline int dsql__run(dsql_db *db, const dsql__strbuf *sql, const dsql__params *p,
                            PGresult **out, dsql_error *err)
{
    if (p->oom)
        return dsql__params_error(p, err);
    if (sql->oom)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    return dsql__db_exec(db, dsql__sb_str(sql), p->n, p->values, p->lengths, p->formats, p->flags,
                         out, err);
}

/* Builds s, runs it on db and hydrates the rows: *out (dsql_result_free) holds
 * (*out)->rows / (*out)->nrows. The whole of a find, for every caller. */
int dsql__find(dsql_db *db, const dsql__select *s, dsql_result **out, dsql_error *err);

/* Hands a RETURNING call's rows out: on success *res (an empty result when the statement
 * returned none) and its rows in *rows / *n; on failure *res freed and NULL. Returns rc. */
int dsql__rows_out(int rc, dsql_result **res, void *rows, size_t *n, dsql_error *err);

/* " RETURNING" every attribute's column, in declaration order. */
void dsql__append_returning(dsql__strbuf *sql, const dsql_model *m);

/* A RETURNING result as m's rows in *res (takes pg, also on failure). */
int dsql__hydrated(PGresult *pg, const dsql_model *m, dsql_result **res, dsql_error *err);

/* Runs a count(*) select (s->count set): *count. */
int dsql__count(dsql_db *db, const dsql__select *s, int64_t *count, dsql_error *err);

/* Fills client-side defaults into row's NULL members: a fresh UUIDv4 for
 * .default_uuid_v4, the constant .default_value (text members then point at the
 * descriptor's constant string). */
void dsql__fill_defaults(const dsql_model *m, void *row);

/* INSERT INTO t (every column) VALUES (...), ... for rows [0, n) of an array of m's
 * structs (NULL members with a server default are sent as DEFAULT), RETURNING every
 * column when returning. Parameters borrow from rows. */
void dsql__build_insert(dsql__strbuf *sql, dsql__params *p, const dsql_model *m, const void *rows,
                        size_t n, const dsql_conflict *conflict, bool returning);
/* Checks an ON CONFLICT description against m (the target a unique key, the update's
 * attributes known and outside it). DSQL_EINVAL naming what is wrong. */
int dsql__conflict_check(const dsql_model *m, const dsql_conflict *c, const char *fn,
                         dsql_error *err);

/* Validates a row about to be inserted: NULL is allowed where the column has a server
 * default (.default_sql, sent as DEFAULT); then its attributes' checks and the model's
 * validator (dsql__checks_row). */
int dsql__validate_insert(const dsql_model *m, const void *row, dsql_error *err);

/* ---- validators (check.c) ---- */

/* Checks a's dsql_check table itself (kinds fit the type, bounds, a pattern, a list):
 * DSQL_EINVAL naming model, attribute and check. Part of dsql__model_check. */
int dsql__checks_declared(const dsql_model *m, const dsql_attr *a, dsql_error *err);

/* Runs a's checks on v (a value about to be stored; NULL passes): DSQL_EVALIDATION naming
 * model, attribute and check (never the value), DSQL_EINVAL for a pattern that does not
 * compile. */
int dsql__checks_run(const dsql_model *m, const dsql_attr *a, const dsql_value *v, dsql_error *err);

/* Every attribute's checks on the row's members (kept timestamps and versions skipped),
 * then the model's validator. */
int dsql__checks_row(const dsql_model *m, const void *row, dsql_error *err);

/* The model's row validator alone (DSQL_EVALIDATION when it refuses). */
int dsql__row_validator(const dsql_model *m, const void *row, dsql_error *err);

/* ---- hooks (hooks.c) ---- */

/* Calls m's hook for event e with h's event-specific fields (the rest is filled in).
 * A before event the hook refuses is DSQL_EVETO naming the model, the event and the hook's
 * reason; after events never fail (err may be NULL). No hook: DSQL_OK. */
int dsql__hook_call(const dsql_model *m, dsql_db *db, dsql_hook_event e, dsql_hook *h,
                    dsql_error *err);
bool dsql__hook_is_before(dsql_hook_event e);

#endif
