/*
 * Raw SQL with named parameters (dsql_exec_named, dsql_query_models_named) from pairs and
 * from a model row, on the local DSQL endpoint and on plain PostgreSQL; bad names refused
 * before anything is sent; parameter values in the SQL log only when asked, secrets
 * (DSQL_SECRET attributes, DSQL_SECRET_STR values) never in a log line or an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"

#define DB     "dsql_t_raw_named"
#define SECRET "hunter2-s3cr3t"

typedef struct account {
    int64_t id;
    char *email;
    char *token; /* secret, unique */
    int32_t pin; /* secret */
    bool has_pin;
    int32_t logins;
} account;

static const dsql_attr account_attrs[] = {
    DSQL_ATTR(account, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(account, email, DSQL_STRING(80), .not_null = true),
    DSQL_ATTR(account, token, DSQL_TEXT, .unique = true, DSQL_SECRET),
    DSQL_ATTR(account, pin, DSQL_INTEGER, DSQL_HAS(account, has_pin), DSQL_SECRET),
    DSQL_ATTR(account, logins, DSQL_INTEGER, .not_null = true),
};
static DSQL_MODEL(account_model, account, "account", account_attrs);

/* A secret JSON document, compared on a path. */
typedef struct vault {
    int64_t id;
    char *doc;
} vault;

static const dsql_attr vault_attrs[] = {
    DSQL_ATTR(vault, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(vault, doc, DSQL_JSONB, DSQL_SECRET),
};
static DSQL_MODEL(vault_model, vault, "vault", vault_attrs);

/* [0]: the local DSQL endpoint under make test (else the throwaway PostgreSQL); [1]: plain
 * PostgreSQL. Both log parameter values; `quiet` is a pool with the default (off). */
static dsql_pool *pools[2], *quiet;
static log_capture logs[2], quiet_logs;
static const char *const where_name[2] = {"dsql-local", "PostgreSQL"};

static int setup(void **state)
{
    (void)state;
    admin_exec("DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    admin_exec("CREATE DATABASE " DB);
    setenv("PGDATABASE", DB, 1);
    for (int i = 0; i < 2; i++)
        cap_init(&logs[i]);
    cap_init(&quiet_logs);
    pools[0] = TEST_POOL(.database = DB, .logs = &logs[0], .log_parameters = 1);
    pools[1] = TEST_POOL(.plain = true, .database = DB, .logs = &logs[1], .log_parameters = 1);
    quiet = TEST_POOL(.database = DB, .logs = &quiet_logs);
    dsql_error err;
    assert_dsql_ok(dsql_create_table(pools[0], &account_model, &err), err);
    assert_dsql_ok(dsql_create_table(pools[0], &vault_model, &err), err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        dsql_pool_close(pools[i]);
        cap_free(&logs[i]);
    }
    dsql_pool_close(quiet);
    cap_free(&quiet_logs);
    setenv("PGDATABASE", "postgres", 1);
    admin_exec("DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    return 0;
}

static void reset(void)
{
    admin_exec("DELETE FROM account");
    admin_exec("INSERT INTO account VALUES (1, 'ann@example.com', 'tok-ann', 1234, 3), "
               "(2, 'bob@example.com', 'tok-bob', NULL, 0)");
}

/* The last log line containing needle, its duration replaced by "T ms" (exact lines
 * otherwise); "" when none. */
static const char *log_line(log_capture *c, const char *needle)
{
    static char line[2048];
    line[0] = '\0';
    pthread_mutex_lock(&c->mu);
    const char *hit = NULL;
    for (const char *p = c->text; p && (p = strstr(p, needle)); p++)
        hit = p;
    if (hit) {
        const char *start = hit, *end = strchr(hit, '\n');
        while (start > c->text && start[-1] != '\n')
            start--;
        size_t n = end ? (size_t)(end - start) : strlen(start);
        if (n >= sizeof line)
            n = sizeof line - 1;
        memcpy(line, start, n);
        line[n] = '\0';
    }
    pthread_mutex_unlock(&c->mu);
    char *ms = strstr(line, " ms");
    if (ms) {
        char *d = ms;
        while (d > line && (d[-1] == '.' || (d[-1] >= '0' && d[-1] <= '9')))
            d--;
        memmove(d + 1, ms, strlen(ms) + 1);
        *d = 'T';
    }
    return line;
}

static void from_pairs(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        reset();
        dsql_error err;
        dsql_result *res;
        assert_dsql_ok(
            dsql_exec_named(
                pools[i],
                "INSERT INTO account (id, email, token, logins) VALUES (:id, :email, "
                ":token, :n) -- not :this",
                &(dsql_bind){DSQL_NAMED({"email", DSQL_STR("cy@example.com")}, {"id", DSQL_INT(3)},
                                        {"n", DSQL_INT(7)}, {"token", DSQL_SECRET_STR(SECRET)})},
                &res, &err),
            err);
        assert_int_equal(dsql_result_affected(res), 1);
        dsql_result_free(res);
        assert_int_equal(admin_long("SELECT logins FROM account WHERE token = '" SECRET "'"), 7);

        /* :email twice is one parameter; text, a cast and a comment left alone */
        account *rows;
        size_t n;
        assert_dsql_ok(dsql_query_models_named(
                           pools[i], &account_model,
                           "SELECT *, ':email' AS note FROM account /* :no */ WHERE email = :email "
                           "OR email = upper(:email) OR logins::text = :logins ORDER BY id",
                           &(dsql_bind){DSQL_NAMED({"email", DSQL_STR("bob@example.com")},
                                                   {"logins", DSQL_STR("3")})},
                           &rows, &n, &res, &err),
                       err);
        assert_int_equal(n, 2);
        assert_int_equal(rows[0].id, 1);
        assert_string_equal(rows[0].email, "ann@example.com");
        assert_int_equal(rows[1].id, 2);
        assert_string_equal(rows[1].token, "tok-bob");
        assert_false(rows[1].has_pin);
        dsql_result_free(res);
        print_message("%s: from pairs ok\n", where_name[i]);
    }
}

static void from_a_row(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        reset();
        dsql_error err;
        dsql_result *res;
        account ann = {.id = 1, .email = "ann@new.example.com", .logins = 4};
        assert_dsql_ok(dsql_exec_named(pools[i],
                                       "UPDATE account SET email = :email, logins = :logins + 1 "
                                       "WHERE id = :id",
                                       &(dsql_bind){DSQL_BIND_ROW(&account_model, &ann)}, &res,
                                       &err),
                       err);
        assert_int_equal(dsql_result_affected(res), 1);
        dsql_result_free(res);
        assert_int_equal(admin_long("SELECT logins FROM account WHERE id = 1 AND email = "
                                    "'ann@new.example.com'"),
                         5);
        /* a row of the model queried (no .model), and a secret attribute bound from it */
        account probe = {.token = "tok-bob"};
        account *rows;
        size_t n;
        assert_dsql_ok(dsql_query_models_named(pools[i], &account_model,
                                               "SELECT * FROM account WHERE token = :token",
                                               &(dsql_bind){.row = &probe}, &rows, &n, &res, &err),
                       err);
        assert_int_equal(n, 1);
        assert_int_equal(rows[0].id, 2);
        assert_string_equal(rows[0].email, "bob@example.com");
        dsql_result_free(res);
        /* the column name binds too (attribute and column are the same here); no name at all
         * with a row is fine */
        assert_dsql_ok(dsql_exec_named(pools[i], "SELECT 1",
                                       &(dsql_bind){DSQL_BIND_ROW(&account_model, &probe)}, NULL,
                                       &err),
                       err);
    }
}

/* Refused before anything is sent, with the exact message. */
static void refused(dsql_pool *pool, const char *sql, const dsql_bind *b, const char *message)
{
    dsql_error err = DSQL_ERROR_INIT;
    pool_counters c = pool_counters_of(pool);
    dsql_result *res = (dsql_result *)1;
    assert_int_equal(dsql_exec_named(pool, sql, b, &res, &err), DSQL_EINVAL);
    assert_null(res);
    assert_string_equal(err.message, message);
    assert_sent(pool, c, 0, 0);
}

static void bad_names_refused_before_sending(void **state)
{
    (void)state;
    account ann = {.id = 1, .email = "x"};
    for (int i = 0; i < 2; i++) {
        dsql_pool *p = pools[i];
        refused(p, "SELECT :a, :b", &(dsql_bind){DSQL_NAMED({"a", DSQL_INT(1)})},
                "dsql_exec_named: :b (byte 12) has no value: no pair named \"b\" was given; "
                "nothing was sent");
        refused(p, "SELECT :a", NULL,
                "dsql_exec_named: :a (byte 8) has no value: no pair named \"a\" was given; "
                "nothing was sent");
        refused(p, "SELECT :a", &(dsql_bind){DSQL_NAMED({"a", DSQL_INT(1)}, {"limt", DSQL_INT(5)})},
                "dsql_exec_named: the pair \"limt\" is not used: the statement has no :limt (a "
                "misspelt name?); nothing was sent");
        refused(p, "SELECT * FROM account WHERE id = :id AND mail = :mail",
                &(dsql_bind){DSQL_BIND_ROW(&account_model, &ann)},
                "dsql_exec_named: :mail (byte 49): model account has no attribute \"mail\" to "
                "bind from; nothing was sent");
        refused(p, "SELECT :id, :x",
                &(dsql_bind){DSQL_NAMED({"y", DSQL_INT(1)}), DSQL_BIND_ROW(&account_model, &ann)},
                "dsql_exec_named: :x (byte 13) is neither a pair of the list nor an attribute of "
                "model account; nothing was sent");
        refused(p, "SELECT :id",
                &(dsql_bind){DSQL_NAMED({"id", DSQL_INT(1)}), DSQL_BIND_ROW(&account_model, &ann)},
                "dsql_exec_named: :id (byte 8) is both a pair of the list and an attribute of "
                "model account: which value is meant? Rename the pair; nothing was sent");
        refused(p, "SELECT * FROM account WHERE id = : id", NULL,
                "dsql_exec_named: ':' at byte 34 is followed by white space, not a parameter "
                "name (a name starts with a letter or '_'; write '::' for a cast); nothing was "
                "sent");
        refused(p, "SELECT :a, $2", &(dsql_bind){DSQL_NAMED({"a", DSQL_INT(1)})},
                "dsql_exec_named: $2 at byte 12 is a positional parameter; named (:name) and "
                "positional ($1..$n) parameters do not mix in one statement: name every "
                "parameter; nothing was sent");
        refused(p, "SELECT :a", &(dsql_bind){DSQL_NAMED({"a", DSQL_INT(1)}, {"a", DSQL_INT(2)})},
                "dsql_exec_named: pairs 0 and 1 are both named \"a\"");
        refused(p, "SELECT :a", &(dsql_bind){DSQL_NAMED({":a", DSQL_INT(1)})},
                "dsql_exec_named: pair 0 is named \":a\": give the name without its colon");
        refused(p, "SELECT :a", &(dsql_bind){.row = &ann},
                "dsql_exec_named: a row to bind from but no model for it");
        refused(p, "SELECT 'x", NULL,
                "dsql_exec_named: a string constant at byte 8 is not terminated, so the "
                "parameters after it cannot be told from text; nothing was sent");
        dsql_error err;
        account *rows;
        size_t n;
        dsql_result *res;
        assert_int_equal(dsql_query_models_named(p, &account_model,
                                                 "SELECT * FROM account "
                                                 "WHERE id = :idd",
                                                 &(dsql_bind){.row = &ann}, &rows, &n, &res, &err),
                         DSQL_EINVAL);
        assert_string_equal(err.message, "dsql_query_models_named: :idd (byte 34): model account "
                                         "has no attribute \"idd\" to bind from; nothing was "
                                         "sent");
    }
}

/* Raw statements: a pair's secret value, positional values, long values cut. */
static void log_raw(int i)
{
    dsql_error err;
    assert_dsql_ok(
        dsql_exec_named(pools[i],
                        "UPDATE account SET token = :token WHERE email = :email "
                        "AND logins >= :min",
                        &(dsql_bind){DSQL_NAMED({"min", DSQL_INT(0)}, {"email", DSQL_STR("it's@x")},
                                                {"token", DSQL_SECRET_STR(SECRET)})},
                        NULL, &err),
        err);
    assert_string_equal(log_line(&logs[i], "UPDATE account SET token"),
                        "Executing: UPDATE account SET token = $1 WHERE email = $2 AND "
                        "logins >= $3 (3 params, T ms) [$1 = <redacted>, $2 = 'it''s@x', "
                        "$3 = 0]");
    assert_dsql_ok(
        dsql_exec(pools[i], "SELECT $1::text, $2::int, $3::bool, $4::bytea, $5",
                  (const dsql_value[]){DSQL_STR("plain\nvalue"), DSQL_INT(-7), DSQL_BOOL(true),
                                       DSQL_BYTES("\x01\xfe", 2), DSQL_NULL},
                  5, NULL, &err),
        err);
    assert_string_equal(log_line(&logs[i], "SELECT $1::text, $2::int"),
                        "Executing: SELECT $1::text, $2::int, $3::bool, $4::bytea, $5 (5 "
                        "params, T ms) [$1 = 'plain\\nvalue', $2 = -7, $3 = true, $4 = "
                        "'\\x01fe', $5 = NULL]");
    /* long values cut at 64 bytes, with their size */
    char big[201];
    memset(big, 'z', 200);
    big[200] = '\0';
    assert_dsql_ok(dsql_exec(pools[i], "SELECT length($1)", (const dsql_value[]){DSQL_STR(big)}, 1,
                             NULL, &err),
                   err);
    assert_string_equal(log_line(&logs[i], "SELECT length($1)"),
                        "Executing: SELECT length($1) (1 param, T ms) "
                        "[$1 = 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz'"
                        "... (200 bytes)]");
}

/* The model layer: insert, where and update assignments of secret attributes, and a row
 * bound by name. */
static void log_model(int i)
{
    dsql_error err;
    account cy = {
        .id = 3, .email = "cy@x", .token = SECRET "-2", .pin = 9876, .has_pin = true, .logins = 1};
    assert_dsql_ok(dsql_create(pools[i], &account_model, &cy, NULL, &err), err);
    assert_string_equal(log_line(&logs[i], "INSERT INTO \"account\""),
                        "Executing: INSERT INTO \"account\" (\"id\", \"email\", \"token\", "
                        "\"pin\", \"logins\") VALUES ($1, $2, $3, $4, $5) (5 params, T ms) "
                        "[$1 = 3, "
                        "$2 = 'cy@x', $3 = <redacted>, $4 = <redacted>, $5 = 1]");
    account *row;
    dsql_result *res;
    assert_dsql_ok(
        dsql_find_one(pools[i], &account_model,
                      &(dsql_query){.where = DSQL_AND(DSQL_EQ("token", DSQL_STR(SECRET "-2")),
                                                      DSQL_EQ("pin", DSQL_INT(9876)))},
                      &row, &res, &err),
        err);
    assert_int_equal(row->id, 3);
    dsql_result_free(res);
    assert_non_null(strstr(log_line(&logs[i], "WHERE (\"token\" = $1 AND"),
                           "[$1 = <redacted>, $2 = <redacted>, $3 = 1]"));
    uint64_t affected;
    dsql_assign set[] = {DSQL_SET("token", DSQL_STR(SECRET "-3")),
                         DSQL_SET("email", DSQL_STR("cy@y"))};
    assert_dsql_ok(
        dsql_update(pools[i], &account_model, set, 2, DSQL_EQ("id", DSQL_INT(3)), &affected, &err),
        err);
    assert_int_equal(affected, 1);
    assert_non_null(strstr(log_line(&logs[i], "UPDATE \"account\" SET"),
                           "[$1 = <redacted>, $2 = 'cy@y', $3 = 3]"));
    /* a row bound by name: its secret attribute stays secret */
    assert_dsql_ok(dsql_exec_named(pools[i],
                                   "SELECT count(*) FROM account WHERE pin = :pin "
                                   "AND token = :token",
                                   &(dsql_bind){DSQL_BIND_ROW(&account_model, &cy)}, NULL, &err),
                   err);
    assert_string_equal(log_line(&logs[i], "SELECT count(*) FROM account WHERE pin"),
                        "Executing: SELECT count(*) FROM account WHERE pin = $1 AND token = "
                        "$2 (2 params, T ms) [$1 = <redacted>, $2 = <redacted>]");
}

/* A path inside a secret JSON attribute: its values are secret, the path is not. */
static void log_json_path(int i)
{
    dsql_error err;
    dsql_result *res;
    char doc[64], pin[32], want[160];
    snprintf(pin, sizeof pin, SECRET "-4%d", i);
    snprintf(doc, sizeof doc, "{\"pin\": \"%s\"}", pin);
    vault v = {.id = i + 1, .doc = doc};
    assert_dsql_ok(dsql_create(pools[i], &vault_model, &v, NULL, &err), err);
    snprintf(want, sizeof want,
             "Executing: INSERT INTO \"vault\" (\"id\", \"doc\") VALUES ($1, $2) (2 params, "
             "T ms) [$1 = %d, $2 = <redacted>]",
             i + 1);
    assert_string_equal(log_line(&logs[i], "INSERT INTO \"vault\""), want);
    size_t nv;
    vault *vs;
    assert_dsql_ok(
        dsql_find_all(pools[i], &vault_model,
                      &(dsql_query){.where = DSQL_JSON_EQ("doc", DSQL_PATH("pin"), DSQL_STR(pin))},
                      &vs, &nv, &res, &err),
        err);
    assert_int_equal(nv, 1);
    assert_int_equal(vs[0].id, i + 1);
    dsql_result_free(res);
    assert_non_null(
        strstr(log_line(&logs[i], "FROM \"vault\" WHERE"), "[$1 = 'pin', $2 = <redacted>]"));
}

/* A pipeline lists each statement's values. */
static void log_pipeline(int i)
{
    dsql_error err;
    dsql_stmt st[] = {
        {"SELECT $1::text AS pipe_probe", (const dsql_value[]){DSQL_SECRET_STR(SECRET)}, 1},
        {"SELECT $1::int + 1", (const dsql_value[]){DSQL_INT(41)}, 1}};
    assert_dsql_ok(dsql_pipeline_tx(pools[i], st, 2, NULL, NULL, &err), err);
    assert_string_equal(log_line(&logs[i], "pipe_probe"),
                        "Executing pipeline of 4 statements in one round trip: BEGIN "
                        "ISOLATION LEVEL REPEATABLE READ; SELECT $1::text AS pipe_probe [$1 "
                        "= <redacted>]; SELECT $1::int + 1 [$1 = 41]; COMMIT (T ms)");
}

static void values_logged_only_when_asked_secrets_never(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        reset();
        log_raw(i);
        log_model(i);
        log_json_path(i);
        log_pipeline(i);
        assert_false(cap_has(&logs[i], SECRET));
        assert_false(cap_has(&logs[i], "9876"));
    }
    /* off by default: the statement, no values */
    dsql_error err;
    assert_dsql_ok(dsql_exec_named(quiet, "SELECT :who::text AS quiet_probe",
                                   &(dsql_bind){DSQL_NAMED({"who", DSQL_STR("nobody")})}, NULL,
                                   &err),
                   err);
    assert_string_equal(log_line(&quiet_logs, "quiet_probe"),
                        "Executing: SELECT $1::text AS quiet_probe (1 param, T ms)");
    assert_false(cap_has(&quiet_logs, "nobody"));
}

static void secrets_never_in_errors(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        reset();
        dsql_error err;
        /* the server quotes the value it could not read: cut out */
        assert_int_equal(dsql_exec(pools[i], "SELECT $1::int",
                                   (const dsql_value[]){DSQL_SECRET_STR(SECRET)}, 1, NULL, &err),
                         DSQL_ESERVER);
        assert_string_equal(err.sqlstate, "22P02");
        assert_string_equal(err.message,
                            "dsql_exec: invalid input syntax for type integer: \"<redacted>\"");
        /* a unique key's DETAIL names the value: cut out (the same value, through a model
         * attribute marked secret) */
        account dup = {.id = 9, .email = "dup@x", .token = "tok-ann", .logins = 0};
        assert_int_equal(dsql_create(pools[i], &account_model, &dup, NULL, &err), DSQL_ECONSTRAINT);
        assert_string_equal(err.sqlstate, "23505");
        assert_null(strstr(err.message, "tok-ann"));
        assert_null(strstr(err.detail, "tok-ann"));
        assert_string_equal(err.detail, "Key (token)=(<redacted>) already exists.");
        assert_dsql_ok(dsql_exec_named(pools[i], "UPDATE account SET token = :t WHERE id = 2",
                                       &(dsql_bind){DSQL_NAMED({"t", DSQL_SECRET_STR(SECRET)})},
                                       NULL, &err),
                       err);
        assert_int_equal(dsql_exec_named(pools[i],
                                         "INSERT INTO account (id, email, token, logins) VALUES "
                                         "(10, 'x', :t, 0)",
                                         &(dsql_bind){DSQL_NAMED({"t", DSQL_SECRET_STR(SECRET)})},
                                         NULL, &err),
                         DSQL_ECONSTRAINT);
        assert_string_equal(err.detail, "Key (token)=(<redacted>) already exists.");
        /* the library's own checks never quote a secret attribute's value */
        account *row;
        dsql_result *res;
        assert_int_equal(dsql_find_one(pools[i], &account_model,
                                       &(dsql_query){.where = DSQL_EQ("pin", DSQL_STR(SECRET))},
                                       &row, &res, &err),
                         DSQL_EINVAL);
        assert_string_equal(
            err.message,
            "dsql_find_one: where: account.pin: expected an INTEGER value, got text <redacted>");
        assert_int_equal(dsql_find_one(pools[i], &account_model,
                                       &(dsql_query){.where = DSQL_EQ("pin", DSQL_INT(1))}, &row,
                                       &res, &err),
                         DSQL_ENOTFOUND);
        /* a secret value where a plain attribute is compared: not quoted either */
        assert_int_equal(
            dsql_find_one(pools[i], &account_model,
                          &(dsql_query){.where = DSQL_EQ("logins", DSQL_SECRET_STR(SECRET))}, &row,
                          &res, &err),
            DSQL_EINVAL);
        assert_string_equal(
            err.message,
            "dsql_find_one: where: account.logins: expected an INTEGER value, got text "
            "<redacted>");
        assert_false(cap_has(&logs[i], SECRET));
        assert_false(cap_has(&logs[i], "tok-ann"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(from_pairs),
        cmocka_unit_test(from_a_row),
        cmocka_unit_test(bad_names_refused_before_sending),
        cmocka_unit_test(values_logged_only_when_asked_secrets_never),
        cmocka_unit_test(secrets_never_in_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
