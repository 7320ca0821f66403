/*
 * The model layer's internal interface, shared by its files (CRUD, hydration, SQL
 * building, schema, associations). Not installed.
 */
#ifndef DSQL_MODEL_INTERNAL_H
#define DSQL_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

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
} dsql__params;

#define DSQL__PARAMS_INIT {NULL, NULL, NULL, 0, 0, false, DSQL__ARENA_INIT}

/* Appends one parameter and returns its 1-based number ($n), or 0 after a failure.
 * value NULL = SQL NULL; format 0 = text (len ignored), 1 = binary (len bytes). */
int dsql__params_add(dsql__params *p, const char *value, int len, int format);
/* Appends a copy of text (owned by the list). */
int dsql__params_add_copy(dsql__params *p, const char *text, size_t len);
/* Appends a dsql_value (ints/doubles/bools rendered as text; bytes binary). */
int dsql__params_add_value(dsql__params *p, const dsql_value *v);
void dsql__params_reset(dsql__params *p);
void dsql__params_free(dsql__params *p);

#endif
