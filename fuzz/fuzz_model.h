/* A model with one attribute of every type, nullable scalars included, shared by the model
 * layer's fuzz targets. */
#ifndef DSQL_FUZZ_MODEL_H
#define DSQL_FUZZ_MODEL_H

#include "dsql/dsql.h"

typedef struct fz_row {
    dsql_uuid id;
    char *s, *t, *c, *num, *d, *tm, *ts, *tstz, *iv, *js, *jsb;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
    bool b;
    bool has_i32, has_f64, has_b;
    dsql_bytes by;
} fz_row;

static const dsql_attr fz_attrs[] = {
    DSQL_ATTR(fz_row, id, DSQL_UUID, .primary_key = true),
    DSQL_ATTR(fz_row, s, DSQL_STRING(12)),
    DSQL_ATTR(fz_row, t, DSQL_TEXT, .column = "a \"quoted\" column"),
    DSQL_ATTR(fz_row, c, DSQL_CHAR(4)),
    DSQL_ATTR(fz_row, num, DSQL_NUMERIC(10, 3)),
    DSQL_ATTR(fz_row, d, DSQL_DATEONLY),
    DSQL_ATTR(fz_row, tm, DSQL_TIME),
    DSQL_ATTR(fz_row, ts, DSQL_TIMESTAMP),
    DSQL_ATTR(fz_row, tstz, DSQL_TIMESTAMPTZ),
    DSQL_ATTR(fz_row, iv, DSQL_INTERVAL),
    DSQL_ATTR(fz_row, js, DSQL_JSON),
    DSQL_ATTR(fz_row, jsb, DSQL_JSONB),
    DSQL_ATTR(fz_row, i16, DSQL_SMALLINT),
    DSQL_ATTR(fz_row, i32, DSQL_INTEGER, DSQL_HAS(fz_row, has_i32)),
    DSQL_ATTR(fz_row, i64, DSQL_BIGINT),
    DSQL_ATTR(fz_row, f32, DSQL_REAL),
    DSQL_ATTR(fz_row, f64, DSQL_DOUBLE, DSQL_HAS(fz_row, has_f64)),
    DSQL_ATTR(fz_row, b, DSQL_BOOLEAN, DSQL_HAS(fz_row, has_b)),
    DSQL_ATTR(fz_row, by, DSQL_BYTEA),
};
DSQL_MODEL(fz_model, fz_row, "fuzz; DROP TABLE x", fz_attrs);

#define FZ_NATTRS (sizeof fz_attrs / sizeof fz_attrs[0])

#endif
