/* Named parameters: the :name scanner (every lexical case, the exact SQL it rewrites to,
 * the errors it gives), the parameter values of the SQL log and secrets cut out of errors. */
#include <string.h>

#include "testutil.h"
#include "conn/internal.h"

/* Rewrites sql and checks the result and the names, in $n order ("a,b"). */
static void rewrites(const char *sql, const char *want, const char *names)
{
    dsql__named_sql ns;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql__named_parse(sql, "t", &ns, &err);
    if (rc)
        print_error("%s: %s\n", sql, err.message);
    assert_int_equal(rc, DSQL_OK);
    assert_string_equal(ns.sql, want);
    char got[256] = "";
    for (size_t k = 0; k < ns.n; k++) {
        if (k)
            strcat(got, ",");
        strncat(got, ns.names[k].name, ns.names[k].len);
    }
    assert_string_equal(got, names);
    dsql__named_free(&ns);
}

static void refused(const char *sql, const char *message)
{
    dsql__named_sql ns;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql__named_parse(sql, "t", &ns, &err), DSQL_EINVAL);
    assert_int_equal(err.status, DSQL_EINVAL);
    assert_string_equal(err.message, message);
    assert_null(ns.sql);
    assert_null(ns.names);
    assert_int_equal(ns.n, 0);
}

static void test_plain_names(void **state)
{
    (void)state;
    rewrites("SELECT 1", "SELECT 1", "");
    rewrites("", "", "");
    rewrites("SELECT * FROM owner WHERE city = :city AND name = :name",
             "SELECT * FROM owner WHERE city = $1 AND name = $2", "city,name");
    /* the same name twice is one parameter */
    rewrites("SELECT :a, :b, :a, :A", "SELECT $1, $2, $1, $3", "a,b,A");
    rewrites("UPDATE t SET x=:x_1,y=:_y WHERE(id=:id)", "UPDATE t SET x=$1,y=$2 WHERE(id=$3)",
             "x_1,_y,id");
    rewrites("SELECT :name9+:b2", "SELECT $1+$2", "name9,b2");
    rewrites("SELECT :\xc3\xa9t\xc3\xa9", "SELECT $1", "\xc3\xa9t\xc3\xa9");
    rewrites(":first", "$1", "first");
    rewrites("SELECT a:b", "SELECT a$1", "b"); /* right after a word */
}

static void test_strings(void **state)
{
    (void)state;
    rewrites("SELECT ':no', :yes", "SELECT ':no', $1", "yes");
    rewrites("SELECT 'it''s :no', :yes", "SELECT 'it''s :no', $1", "yes");
    rewrites("SELECT '', :a, ''''", "SELECT '', $1, ''''", "a");
    /* standard strings: a backslash is a plain character, the quote after it ends them */
    rewrites("SELECT 'a\\', :b", "SELECT 'a\\', $1", "b");
    /* E'...': backslash escapes, \' included */
    rewrites("SELECT E'a\\' :no', :b", "SELECT E'a\\' :no', $1", "b");
    rewrites("SELECT e'\\\\', :b", "SELECT e'\\\\', $1", "b");
    rewrites("SELECT E'x'':no\\n', :b", "SELECT E'x'':no\\n', $1", "b");
    /* a word ending in e is not an E string */
    rewrites("SELECT some'x\\', :b", "SELECT some'x\\', $1", "b");
    /* B'', X'', N'', U&'' are plain quoted constants */
    rewrites("SELECT B'101', X':f', N':n', U&':u', :z", "SELECT B'101', X':f', N':n', U&':u', $1",
             "z");
}

static void test_dollar_quotes(void **state)
{
    (void)state;
    rewrites("SELECT $$:no$$, :yes", "SELECT $$:no$$, $1", "yes");
    rewrites("SELECT $tag$ :no $$ :no2 $tag$, :yes", "SELECT $tag$ :no $$ :no2 $tag$, $1", "yes");
    rewrites("SELECT $a$x$b$:no$b$y$a$, :c", "SELECT $a$x$b$:no$b$y$a$, $1", "c");
    rewrites("SELECT $_t1$':no$_t1$, :c", "SELECT $_t1$':no$_t1$, $1", "c");
    /* $ inside a word is part of it, not a quote */
    rewrites("SELECT a$b, :c", "SELECT a$b, $1", "c");
}

static void test_identifiers_and_comments(void **state)
{
    (void)state;
    rewrites("SELECT \":no\", \"a\"\":no\", :yes FROM \"t:x\"",
             "SELECT \":no\", \"a\"\":no\", $1 FROM \"t:x\"", "yes");
    rewrites("SELECT 1 -- :no ' \" $$\n, :yes", "SELECT 1 -- :no ' \" $$\n, $1", "yes");
    rewrites("SELECT 1 -- :no at the end", "SELECT 1 -- :no at the end", "");
    rewrites("SELECT /* :no ' */ :yes", "SELECT /* :no ' */ $1", "yes");
    rewrites("SELECT /* a /* nested :no */ still :no */ :yes",
             "SELECT /* a /* nested :no */ still :no */ $1", "yes");
    rewrites("SELECT 1 - -:a, 2/:b, 3*/**/:c", "SELECT 1 - -$1, 2/$2, 3*/**/$3", "a,b,c");
}

static void test_casts_and_operators(void **state)
{
    (void)state;
    rewrites("SELECT x::int, :y::text, '1'::numeric(10,2)",
             "SELECT x::int, $1::text, '1'::numeric(10,2)", "y");
    rewrites("SELECT :a::int::text", "SELECT $1::int::text", "a");
    rewrites("SELECT x :: int", "SELECT x :: int", "");
    rewrites("SELECT f(a := :v)", "SELECT f(a := $1)", "v");
    rewrites("SELECT a[1:2], b[:n:3], c[ : 4]", "SELECT a[1:2], b[$1:3], c[ : 4]", "n");
}

static void test_errors(void **state)
{
    (void)state;
    refused("SELECT :", "t: ':' at byte 8 is followed by the end of the statement, not a "
                        "parameter name (a name starts with a letter or '_'; write '::' for a "
                        "cast); nothing was sent");
    refused("SELECT : a", "t: ':' at byte 8 is followed by white space, not a parameter name (a "
                          "name starts with a letter or '_'; write '::' for a cast); nothing "
                          "was sent");
    refused("SELECT :1", "t: ':' at byte 8 is followed by '1', not a parameter name (a name "
                         "starts with a letter or '_'; write '::' for a cast); nothing was sent");
    refused("SELECT :a, $1", "t: $1 at byte 12 is a positional parameter; named (:name) and "
                             "positional ($1..$n) parameters do not mix in one statement: name "
                             "every parameter; nothing was sent");
    refused("SELECT $12", "t: $12 at byte 8 is a positional parameter; named (:name) and "
                          "positional ($1..$n) parameters do not mix in one statement: name "
                          "every parameter; nothing was sent");
    refused("SELECT 'abc :a", "t: a string constant at byte 8 is not terminated, so the "
                              "parameters after it cannot be told from text; nothing was sent");
    refused("SELECT E'a\\' :a", "t: a string constant at byte 9 is not terminated, so the "
                                "parameters after it cannot be told from text; nothing was "
                                "sent");
    refused("SELECT \"a :a", "t: a quoted identifier at byte 8 is not terminated, so the "
                             "parameters after it cannot be told from text; nothing was sent");
    refused("SELECT /* /* */ :a", "t: a /* comment at byte 8 is not terminated, so the "
                                  "parameters after it cannot be told from text; nothing was "
                                  "sent");
    refused("SELECT $x$ :a $y$", "t: a dollar-quoted string at byte 8 is not terminated, so the "
                                 "parameters after it cannot be told from text; nothing was "
                                 "sent");
    /* $1 inside text is text */
    rewrites("SELECT '$1', $$ $2 $$, \"$3\", :a", "SELECT '$1', $$ $2 $$, \"$3\", $1", "a");
    dsql__named_sql ns;
    dsql_error err;
    assert_int_equal(dsql__named_parse(NULL, "t", &ns, &err), DSQL_EINVAL);
    assert_string_equal(err.message, "t: SQL text is NULL");
}

static void test_many_names(void **state)
{
    (void)state;
    /* More names than the first allocation holds, each twice. */
    char sql[4096] = "SELECT ", want[4096] = "SELECT ", names[2048] = "";
    for (int i = 0; i < 40; i++) {
        char a[32];
        snprintf(a, sizeof a, "%s:p%d, :p%d", i ? ", " : "", i, i);
        strcat(sql, a);
        snprintf(a, sizeof a, "%s$%d, $%d", i ? ", " : "", i + 1, i + 1);
        strcat(want, a);
        snprintf(a, sizeof a, "%sp%d", i ? "," : "", i);
        strcat(names, a);
    }
    rewrites(sql, want, names);
}

/* ---- the log's parameter values ---- */

static void test_param_values(void **state)
{
    (void)state;
    const char *values[] = {"it's", NULL, "42", "hunter2", "\x01\xff", "a\nb\\c\t\x7f", "true"};
    int lengths[] = {0, 0, 0, 0, 2, 0, 0};
    int formats[] = {0, 0, 0, 0, 1, 0, 0};
    uint8_t flags[] = {0, 0, DSQL__PF_BARE, DSQL__PF_SECRET, 0, 0, DSQL__PF_BARE};
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__sb_append_param_values(&sb, 7, values, lengths, formats, flags, 64);
    assert_string_equal(dsql__sb_str(&sb), " [$1 = 'it''s', $2 = NULL, $3 = 42, $4 = <redacted>, "
                                           "$5 = '\\x01ff', $6 = 'a\\nb\\\\c\\t\\x7f', $7 = true]");
    /* cut past the limit, never inside a UTF-8 sequence; bytes too */
    dsql__sb_reset(&sb);
    const char *long_values[] = {"abcdefghij", "ab\xc3\xa9z", "\x01\x02\x03\x04\x05"};
    int long_lengths[] = {0, 0, 5};
    int long_formats[] = {0, 0, 1};
    dsql__sb_append_param_values(&sb, 3, long_values, long_lengths, long_formats, NULL, 3);
    assert_string_equal(dsql__sb_str(&sb),
                        " [$1 = 'abc'... (10 bytes), $2 = 'ab'... (5 bytes), $3 = '\\x010203'... "
                        "(5 bytes)]");
    /* a secret secret-flagged value is never shown, whatever its kind */
    dsql__sb_reset(&sb);
    uint8_t secret_bytes[] = {0, 0, DSQL__PF_SECRET};
    dsql__sb_append_param_values(&sb, 3, long_values, long_lengths, long_formats, secret_bytes,
                                 100);
    assert_string_equal(dsql__sb_str(&sb), " [$1 = 'abcdefghij', $2 = 'ab\xc3\xa9z', $3 = "
                                           "<redacted>]");
    /* no parameters: nothing */
    dsql__sb_reset(&sb);
    dsql__sb_append_param_values(&sb, 0, NULL, NULL, NULL, NULL, 64);
    assert_string_equal(dsql__sb_str(&sb), "");
    /* past DSQL_LOG_PARAMS_LISTED values: the rest counted */
    dsql__sb_reset(&sb);
    const char *many[DSQL_LOG_PARAMS_LISTED + 5];
    for (size_t i = 0; i < DSQL__ARRAY_LEN(many); i++)
        many[i] = "x";
    dsql__sb_append_param_values(&sb, (int)DSQL__ARRAY_LEN(many), many, NULL, NULL, NULL, 64);
    const char *s = dsql__sb_str(&sb);
    assert_non_null(strstr(s, ", $100 = 'x', ... 5 more]"));
    assert_null(strstr(s, "$101"));
    dsql__sb_free(&sb);
}

static void test_error_redaction(void **state)
{
    (void)state;
    const char *values[] = {"s3cr3t-value", "public", "\xde\xad\xbe\xef", "multi\nline  x"};
    int lengths[] = {0, 0, 4, 0};
    int formats[] = {0, 0, 1, 0};
    uint8_t flags[] = {DSQL__PF_SECRET, 0, DSQL__PF_SECRET, DSQL__PF_SECRET};
    dsql_error e = DSQL_ERROR_INIT;
    dsql_error_set(&e, DSQL_ECONSTRAINT,
                   "duplicate key value: s3cr3t-value and public and s3cr3t-value");
    snprintf(e.detail, sizeof e.detail, "Key (k)=(\\xdeadbeef) already exists; multi line x.");
    snprintf(e.hint, sizeof e.hint, "nothing secret");
    dsql__error_redact_params(&e, 4, values, lengths, formats, flags);
    assert_string_equal(e.message, "duplicate key value: <redacted> and public and <redacted>");
    assert_string_equal(e.detail, "Key (k)=(<redacted>) already exists; <redacted>.");
    assert_string_equal(e.hint, "nothing secret");
    /* a message cut short in the middle of the secret loses that tail too */
    dsql_error full = DSQL_ERROR_INIT;
    memset(full.detail, 'a', 230);
    memcpy(full.detail + 230, "s3cr", 5);
    dsql__error_redact_params(&full, 1, values, lengths, formats, flags);
    assert_null(strstr(full.detail, "s3cr"));
    assert_non_null(strstr(full.detail, "aaaa<redacted>"));
    /* nothing flagged: nothing changed */
    dsql_error plain = DSQL_ERROR_INIT;
    dsql_error_set(&plain, DSQL_ESERVER, "s3cr3t-value");
    dsql__error_redact_params(&plain, 1, values, lengths, formats, NULL);
    assert_string_equal(plain.message, "s3cr3t-value");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_names),         cmocka_unit_test(test_strings),
        cmocka_unit_test(test_dollar_quotes),       cmocka_unit_test(test_identifiers_and_comments),
        cmocka_unit_test(test_casts_and_operators), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_many_names),          cmocka_unit_test(test_param_values),
        cmocka_unit_test(test_error_redaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
