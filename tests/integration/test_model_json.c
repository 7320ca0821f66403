/*
 * JSON attributes: JSONB and JSON columns written and read as text, conditions on a path
 * inside the value (keys and array elements; compared as text, number or boolean by the
 * value's kind), the statement's exact text, and bad paths refused before sending.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"

#define DB "dsql_t_json"

typedef struct track {
    int64_t id;
    char *meta; /* jsonb */
    char *raw;  /* json */
} track;

static const dsql_attr track_attrs[] = {
    DSQL_ATTR(track, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(track, meta, DSQL_JSONB),
    DSQL_ATTR(track, raw, DSQL_JSON),
};
static DSQL_MODEL(track_model, track, "track", track_attrs);

static dsql_pool *pool;
static log_capture logs;

static int setup(void **state)
{
    (void)state;
    pool = model_db_open(DB, &logs);
    dsql_error err;
    assert_dsql_ok(dsql_create_table(pool, &track_model, &err), err);
    track rows[4] = {
        {.id = 1,
         .meta = "{\"audio\": {\"codec\": \"aac\", \"kbps\": 128}, \"tags\": [\"live\", \"pop\"], "
                 "\"explicit\": false}",
         .raw = "{\"b\": 1, \"a\": 2}"},
        {.id = 2,
         .meta = "{\"audio\": {\"codec\": \"flac\", \"kbps\": 900}, \"tags\": [\"jazz\"], "
                 "\"explicit\": true}",
         .raw = "[1, 2]"},
        {.id = 3, .meta = "{\"audio\": {\"codec\": \"aac\", \"kbps\": 96.5}, \"a'b\": \"q\"}"},
        {.id = 4, .meta = "{\"audio\": null}"},
    };
    assert_dsql_ok(dsql_bulk_create(pool, &track_model, rows, 4, NULL, NULL, &err), err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    model_db_close(DB, pool, &logs);
    return 0;
}

static const char *ids(const dsql_where *w)
{
    static char out[64];
    dsql_error err;
    track *rows;
    size_t n;
    dsql_result *res;
    if (dsql_find_all(pool, &track_model, &(dsql_query){.where = w, DSQL_ORDER_BY(DSQL_ASC("id"))},
                      &rows, &n, &res, &err))
        fail_msg("dsql_find_all: %s", err.message);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%lld", i ? "," : "",
                 (long long)rows[i].id);
    dsql_result_free(res);
    return out;
}

static void values_round_trip(void **state)
{
    (void)state;
    dsql_error err;
    track *t;
    dsql_result *res;
    assert_dsql_ok(dsql_find_by_pk(pool, &track_model, DSQL_INT(1), NULL, &t, &res, &err), err);
    /* jsonb is stored normalised, json as written. */
    assert_string_equal(t->meta, "{\"tags\": [\"live\", \"pop\"], \"audio\": {\"kbps\": 128, "
                                 "\"codec\": \"aac\"}, \"explicit\": false}");
    assert_string_equal(t->raw, "{\"b\": 1, \"a\": 2}");
    dsql_result_free(res);
}

static void conditions_on_a_path(void **state)
{
    (void)state;
    size_t mark = logs.len;
    assert_string_equal(ids(DSQL_JSON_EQ("meta", DSQL_PATH("audio", "codec"), DSQL_STR("aac"))),
                        "1,3");
    assert_true(strstr(logs.text + mark, "WHERE ((\"meta\" -> $1::text ->> $2::text) = $3)") !=
                NULL);
    /* Numbers compare as numbers: 96.5 < 128 < 900 (as text "900" < "96.5"). */
    assert_string_equal(ids(DSQL_JSON_GT("meta", DSQL_PATH("audio", "kbps"), DSQL_INT(100))),
                        "1,2");
    assert_string_equal(ids(DSQL_JSON_LT("meta", DSQL_PATH("audio", "kbps"), DSQL_DBL(100))), "3");
    assert_string_equal(ids(DSQL_JSON_EQ("meta", DSQL_PATH("explicit"), DSQL_BOOL(true))), "2");
    /* Array elements. */
    assert_string_equal(ids(DSQL_JSON_EQ("meta", DSQL_PATH("tags", "[1]"), DSQL_STR("pop"))), "1");
    assert_string_equal(ids(DSQL_JSON_EQ("meta", DSQL_PATH("tags", "[0]"), DSQL_STR("jazz"))), "2");
    /* Missing keys and JSON null are NULL. */
    assert_string_equal(ids(DSQL_JSON_IS_NULL("meta", DSQL_PATH("audio", "codec"))), "4");
    assert_string_equal(ids(DSQL_JSON_NOT_NULL("meta", DSQL_PATH("tags"))), "1,2");
    assert_string_equal(
        ids(DSQL_JSON_IN("meta", DSQL_PATH("audio", "codec"), DSQL_STR("flac"), DSQL_STR("opus"))),
        "2");
    assert_string_equal(ids(DSQL_JSON_LIKE("meta", DSQL_PATH("audio", "codec"), DSQL_STR("a%"))),
                        "1,3");
    /* A key is a parameter, quotes and all. */
    assert_string_equal(ids(DSQL_JSON_EQ("meta", DSQL_PATH("a'b"), DSQL_STR("q"))), "3");
    /* On a JSON (not JSONB) column too, combined with other conditions. */
    assert_string_equal(
        ids(DSQL_AND(DSQL_JSON_EQ("raw", DSQL_PATH("a"), DSQL_INT(2)), DSQL_GT("id", DSQL_INT(0)))),
        "1");
    assert_string_equal(ids(DSQL_JSON_EQ("raw", DSQL_PATH("[1]"), DSQL_INT(2))), "2");
    /* A count and an update take path conditions too. */
    dsql_error err;
    int64_t count;
    assert_dsql_ok(dsql_count(pool, &track_model,
                              DSQL_JSON_EQ("meta", DSQL_PATH("audio", "codec"), DSQL_STR("aac")),
                              &count, &err),
                   err);
    assert_int_equal(count, 2);
    uint64_t n;
    dsql_assign set[] = {DSQL_SET("raw", DSQL_STR("{\"seen\": true}"))};
    assert_dsql_ok(dsql_update(pool, &track_model, set, 1,
                               DSQL_JSON_EQ("meta", DSQL_PATH("explicit"), DSQL_BOOL(false)), &n,
                               &err),
                   err);
    assert_int_equal(n, 1);
    assert_int_equal(admin_long("SELECT count(*) FROM track WHERE raw::text = '{\"seen\": true}'"),
                     1);
}

static void bad_paths_are_refused_before_sending(void **state)
{
    (void)state;
    dsql_error err;
    track *rows;
    size_t n;
    dsql_result *res;
    size_t mark = logs.len;
    struct {
        const dsql_where *w;
        const char *msg;
    } cases[] = {
        {DSQL_JSON_EQ("id", DSQL_PATH("a"), DSQL_INT(1)),
         "dsql_find_all: where: track.id: a path applies to a JSON or JSONB attribute"},
        {DSQL_JSON_EQ("meta", DSQL_PATH("a"), DSQL_NULL),
         "dsql_find_all: where: track.meta: a path compares with text, a number or a bool (use "
         "DSQL_JSON_IS_NULL for NULL)"},
        {DSQL_JSON_IN("meta", DSQL_PATH("a"), DSQL_STR("x"), DSQL_INT(1)),
         "dsql_find_all: where: track.meta: the values of one path condition must be of one kind"},
        {DSQL_JSON_LIKE("meta", DSQL_PATH("a"), DSQL_INT(1)),
         "dsql_find_all: where: track.meta: LIKE on a path takes a text pattern"},
        {&(const dsql_where){.op = DSQL_OP_EQ,
                             .attr = "meta",
                             .n_path = 1,
                             .values = (const dsql_value[]){DSQL_STR("x")},
                             .n_values = 1},
         "dsql_find_all: where: track.meta: a path of 1 to 32 steps, given 0"},
        {&(const dsql_where){.op = DSQL_OP_BETWEEN,
                             .attr = "meta",
                             .path = DSQL_PATH("a"),
                             .n_path = 1,
                             .values = (const dsql_value[]){DSQL_INT(1), DSQL_INT(2)},
                             .n_values = 2},
         "dsql_find_all: where: track.meta: BETWEEN on a path: use DSQL_JSON_GTE and "
         "DSQL_JSON_LTE"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(dsql_find_all(pool, &track_model, &(dsql_query){.where = cases[i].w},
                                       &rows, &n, &res, &err),
                         DSQL_EINVAL);
        assert_string_equal(err.message, cases[i].msg);
    }
    assert_true(logs.len == mark || !strstr(logs.text + mark, "SELECT"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_round_trip),
        cmocka_unit_test(conditions_on_a_path),
        cmocka_unit_test(bad_paths_are_refused_before_sending),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
