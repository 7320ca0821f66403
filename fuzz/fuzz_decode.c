/* Fuzz target: decoding the server's text form of a value into every C member type
 * (src/model/types.c). Input: one byte choosing the attribute, then the text. Invariants:
 * a decoded value reads back (as a parameter) without a crash, a NULL result only comes
 * from a NULL input, and a scalar without a presence flag refuses NULL. */
#include <string.h>

#include "fuzz.h"
#include "fuzz_model.h"
#include "model/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const dsql_attr *a = &fz_attrs[data[0] % FZ_NATTRS];
    char *text = fuzz_strndup(data + 1, size - 1);
    if (strlen(text) != size - 1) { /* the server's text never holds a NUL byte */
        free(text);
        return 0;
    }
    fz_row row;
    memset(&row, 0, sizeof row);
    dsql__arena arena = DSQL__ARENA_INIT;
    dsql_error err;
    if (dsql__attr_decode(&fz_model, a, &row, text, size - 1, &arena, &err) == DSQL_OK) {
        fuzz_assert(!dsql__attr_is_null(a, &row), "attribute %s decoded %zu bytes as NULL", a->name,
                    size - 1);
        dsql__params p = DSQL__PARAMS_INIT;
        fuzz_assert(dsql__params_add_attr(&p, a, &row) == 1, "decoded %s is no parameter", a->name);
        dsql__params_free(&p);
        (void)dsql__validate_attr(&fz_model, a, &row, true, &err);
    } else {
        fuzz_assert(err.status == DSQL_EPARSE, "decode of %s failed with %d, not DSQL_EPARSE",
                    a->name, err.status);
    }
    /* A NULL decodes as NULL for every attribute that can hold one, and is refused (never
     * turned into 0 or false) by a scalar without a presence flag. */
    memset(&row, 0xA5, sizeof row);
    int nrc = dsql__attr_decode(&fz_model, a, &row, NULL, 0, &arena, &err);
    if (!dsql__type_is_scalar(a->type) || a->has_offset) {
        fuzz_assert(nrc == DSQL_OK, "NULL of %s refused", a->name);
        fuzz_assert(dsql__attr_is_null(a, &row), "NULL of %s reads as a value", a->name);
    } else {
        fuzz_assert(nrc == DSQL_EPARSE, "NULL of %s (no presence flag) accepted", a->name);
    }
    dsql__arena_free(&arena);
    free(text);
    return 0;
}
