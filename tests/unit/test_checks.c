/* Validators (dsql_check) and the model-level validator, through dsql_validate: each
 * built-in with refused and accepted values, the exact messages (which never hold the
 * value), custom checks, and descriptors whose checks do not fit their attribute. */
#include <string.h>

#include "testutil.h"
#include "model/internal.h"

typedef struct acct {
    dsql_uuid id;
    char *email;
    char *name;
    char *role;
    int32_t age;
    bool has_age;
    char *site;
    char *code;
    char *balance;
    double ratio;
    dsql_bytes key;
} acct;

static int even_length(const dsql_value *v, void *ctx, char *why, size_t cap)
{
    int *calls = ctx;
    (*calls)++;
    if (strlen(v->u.s) % 2 == 0)
        return 0;
    snprintf(why, cap, "has an odd number of characters");
    return 1;
}

static int calls;
static const char *const roles[] = {"admin", "vet", "clerk"};
static const char *const reserved_names[] = {"Root", "System"};
static const dsql_check email_checks[] = {DSQL_CHECK_EMAIL};
static const dsql_check name_checks[] = {DSQL_CHECK_LEN(2, 12), DSQL_CHECK_PATTERN("^[A-Z]"),
                                         DSQL_CHECK_NOT_IN(reserved_names)};
static const dsql_check role_checks[] = {DSQL_CHECK_IS_IN(roles)};
static const dsql_check age_checks[] = {DSQL_CHECK_RANGE(0, 150)};
static const dsql_check site_checks[] = {DSQL_CHECK_URL};
static const dsql_check code_checks[] = {DSQL_CHECK_NOT_EMPTY, DSQL_CHECK_FN(even_length, &calls),
                                         DSQL_CHECK_MSG("must not look like a card number",
                                                        .kind = DSQL_CK_NOT_PATTERN,
                                                        .pattern = "^[0-9]{16}$")};
static const dsql_check balance_checks[] = {DSQL_CHECK_MIN(0)};
static const dsql_check ratio_checks[] = {DSQL_CHECK_MAX(1)};
static const dsql_check key_checks[] = {DSQL_CHECK_LEN(4, 4)};

static const dsql_attr acct_attrs[] = {
    DSQL_ATTR(acct, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(acct, email, DSQL_STRING(80), DSQL_CHECKS(email_checks)),
    DSQL_ATTR(acct, name, DSQL_STRING(40), DSQL_CHECKS(name_checks)),
    DSQL_ATTR(acct, role, DSQL_STRING(10), DSQL_CHECKS(role_checks)),
    DSQL_ATTR(acct, age, DSQL_INTEGER, DSQL_HAS(acct, has_age), DSQL_CHECKS(age_checks)),
    DSQL_ATTR(acct, site, DSQL_TEXT, DSQL_CHECKS(site_checks)),
    DSQL_ATTR(acct, code, DSQL_TEXT, DSQL_CHECKS(code_checks)),
    DSQL_ATTR(acct, balance, DSQL_NUMERIC(10, 2), DSQL_CHECKS(balance_checks)),
    DSQL_ATTR(acct, ratio, DSQL_DOUBLE, DSQL_CHECKS(ratio_checks)),
    DSQL_ATTR(acct, key, DSQL_BYTEA, DSQL_CHECKS(key_checks)),
};

/* Admins are adults. */
static int admins_are_adults(const void *row, char *why, size_t cap)
{
    const acct *a = row;
    if (a->role && !strcmp(a->role, "admin") && (!a->has_age || a->age < 18)) {
        snprintf(why, cap, "an admin must be 18 or older");
        return 1;
    }
    return 0;
}

static DSQL_MODEL_WITH(acct_model, acct, "acct", acct_attrs, DSQL_VALIDATE_ROW(admins_are_adults));

static unsigned char key_bytes[4] = {'k', 0, 'y', '!'};

static acct good(void)
{
    acct a = {.email = "ann.lee+vet@clinic.example.com",
              .name = "Ann",
              .role = "vet",
              .age = 40,
              .has_age = true,
              .site = "https://clinic.example.com:8443/a/b?c=d#e",
              .code = "ab12",
              .balance = "0.00",
              .ratio = 0.5,
              .key = {.data = key_bytes, .len = 4}};
    dsql_uuid_v4(&a.id);
    return a;
}

#define REFUSED(row_, status_, msg_)                                                               \
    do {                                                                                           \
        acct r_ = (row_);                                                                          \
        dsql_error e_ = DSQL_ERROR_INIT;                                                           \
        assert_int_equal(dsql_validate(&acct_model, &r_, &e_), (status_));                         \
        assert_string_equal(e_.message, (msg_));                                                   \
    } while (0)

#define ACCEPTED(row_)                                                                             \
    do {                                                                                           \
        acct r_ = (row_);                                                                          \
        dsql_error e_ = DSQL_ERROR_INIT;                                                           \
        int rc_ = dsql_validate(&acct_model, &r_, &e_);                                            \
        if (rc_)                                                                                   \
            fail_msg("refused: %s", e_.message);                                                   \
    } while (0)

static acct with_email(const char *s)
{
    acct a = good();
    a.email = (char *)s;
    return a;
}

static acct with_site(const char *s)
{
    acct a = good();
    a.site = (char *)s;
    return a;
}

static void builtins_refuse_and_accept(void **state)
{
    (void)state;
    ACCEPTED(good());
    acct a = good();
    a.name = "A";
    REFUSED(a, DSQL_EVALIDATION,
            "dsql_validate: acct.name: 1 characters, not between 2 and 12 (length check)");
    a.name = "Ännchen-Lüdenscheid"; /* 19 characters, more bytes */
    REFUSED(a, DSQL_EVALIDATION,
            "dsql_validate: acct.name: 19 characters, not between 2 and 12 (length check)");
    a.name = "Ännchen"; /* 7 characters, 8 bytes: counted in characters, and not A-Z first */
    REFUSED(a, DSQL_EVALIDATION,
            "dsql_validate: acct.name: does not match the pattern (pattern check)");
    a.name = "ann";
    REFUSED(a, DSQL_EVALIDATION,
            "dsql_validate: acct.name: does not match the pattern (pattern check)");
    a.name = "Root";
    REFUSED(a, DSQL_EVALIDATION,
            "dsql_validate: acct.name: one of the refused values (not-in check)");
    a.name = "Rooted";
    ACCEPTED(a);
    a = good();
    a.role = "Admin"; /* byte for byte */
    REFUSED(a, DSQL_EVALIDATION,
            "dsql_validate: acct.role: not one of the 3 allowed values (is-in check)");
    a = good();
    a.age = 151;
    REFUSED(a, DSQL_EVALIDATION, "dsql_validate: acct.age: not between 0 and 150 (range check)");
    a.age = -1;
    REFUSED(a, DSQL_EVALIDATION, "dsql_validate: acct.age: not between 0 and 150 (range check)");
    a.age = 150;
    ACCEPTED(a);
    a.has_age = false; /* NULL is never checked */
    a.age = 999;
    ACCEPTED(a);
    a = good();
    a.balance = "-0.01";
    REFUSED(a, DSQL_EVALIDATION, "dsql_validate: acct.balance: less than 0 (range check)");
    a.balance = NULL;
    ACCEPTED(a);
    a = good();
    a.ratio = 1.0000001;
    REFUSED(a, DSQL_EVALIDATION, "dsql_validate: acct.ratio: more than 1 (range check)");
    a.ratio = 0.0 / 0.0;
    REFUSED(a, DSQL_EVALIDATION, "dsql_validate: acct.ratio: more than 1 (range check)");
    a = good();
    a.key.len = 3;
    REFUSED(a, DSQL_EVALIDATION,
            "dsql_validate: acct.key: 3 bytes, not between 4 and 4 (length check)");
    a = good();
    a.code = "  \t";
    REFUSED(a, DSQL_EVALIDATION, "dsql_validate: acct.code: empty (not-empty check)");
    a.code = "abc";
    calls = 0;
    REFUSED(a, DSQL_EVALIDATION,
            "dsql_validate: acct.code: has an odd number of characters (custom check)");
    assert_int_equal(calls, 1);
    a.code = "4111111111111111";
    REFUSED(a, DSQL_EVALIDATION,
            "dsql_validate: acct.code: must not look like a card number (not-pattern check)");
    a.code = "4111-1111-1111-1111-";
    ACCEPTED(a);
}

static void emails(void **state)
{
    (void)state;
    static const char *const ok[] = {"a@b.co",
                                     "first.last@example.org",
                                     "x+tag@sub.domain.example",
                                     "o'hara@example.ie",
                                     "user@xn--bcher-kva.example",
                                     "a@b-c.io"};
    static const char *const bad[] = {"",
                                      "plain",
                                      "@example.com",
                                      "a@",
                                      "a@b",
                                      "a@b.c",
                                      "a..b@example.com",
                                      ".a@example.com",
                                      "a.@example.com",
                                      "a b@example.com",
                                      "a@exa mple.com",
                                      "a@-example.com",
                                      "a@example-.com",
                                      "a@example.123",
                                      "a@@example.com",
                                      "a@example..com"};
    for (size_t i = 0; i < DSQL__ARRAY_LEN(ok); i++)
        ACCEPTED(with_email(ok[i]));
    for (size_t i = 0; i < DSQL__ARRAY_LEN(bad); i++) {
        acct a = with_email(bad[i]);
        dsql_error e = DSQL_ERROR_INIT;
        if (dsql_validate(&acct_model, &a, &e) != DSQL_EVALIDATION)
            fail_msg("accepted as an e-mail address: \"%s\"", bad[i]);
        assert_string_equal(e.message,
                            "dsql_validate: acct.email: not an e-mail address (email check)");
    }
    char long_local[80];
    memset(long_local, 'a', 65);
    strcpy(long_local + 65, "@example.com");
    REFUSED(with_email(long_local), DSQL_EVALIDATION,
            "dsql_validate: acct.email: not an e-mail address (email check)");
    long_local[1] = '@';
    strcpy(long_local + 2, "example.com");
    ACCEPTED(with_email(long_local));
}

static void urls(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "http://example.com",          "https://a.example.com/",
        "HTTPS://EXAMPLE.COM/PATH",    "ftp://files.example.org/pub/x.tar.gz",
        "http://localhost:8080/x",     "http://10.0.0.1/",
        "http://user:pw@example.com/", "http://[::1]:80/",
        "https://example.com?q=1",     "https://example.com#frag"};
    static const char *const bad[] = {"",
                                      "example.com",
                                      "mailto:a@b.co",
                                      "javascript:alert(1)",
                                      "http://",
                                      "http:///path",
                                      "http://exa mple.com",
                                      "http://example",
                                      "http://example.com:0/",
                                      "http://example.com:65536/",
                                      "http://example.com:/",
                                      "http://256.1.1.1/",
                                      "http://[]/",
                                      "http://-a.example.com/",
                                      "https://example.com/a b"};
    for (size_t i = 0; i < DSQL__ARRAY_LEN(ok); i++)
        ACCEPTED(with_site(ok[i]));
    for (size_t i = 0; i < DSQL__ARRAY_LEN(bad); i++) {
        acct a = with_site(bad[i]);
        dsql_error e = DSQL_ERROR_INIT;
        if (dsql_validate(&acct_model, &a, &e) != DSQL_EVALIDATION)
            fail_msg("accepted as a URL: \"%s\"", bad[i]);
        assert_string_equal(e.message,
                            "dsql_validate: acct.site: not an http(s) or ftp URL (url check)");
    }
}

static void model_validator_and_secrets(void **state)
{
    (void)state;
    acct a = good();
    a.role = "admin";
    a.age = 17;
    REFUSED(a, DSQL_EVALIDATION,
            "dsql_validate: acct: an admin must be 18 or older (the model's validator)");
    a.age = 18;
    ACCEPTED(a);
    /* A refused value is never echoed: it may be a secret. */
    a = good();
    a.email = "s3cr3t-t0ken-value";
    dsql_error e = DSQL_ERROR_INIT;
    assert_int_equal(dsql_validate(&acct_model, &a, &e), DSQL_EVALIDATION);
    assert_null(strstr(e.message, "s3cr3t"));
}

typedef struct one {
    int32_t id;
    char *s;
    int32_t n;
} one;

#define BAD_CHECK(member_, type_, checks_, msg_)                                                   \
    do {                                                                                           \
        const dsql_attr attrs_[] = {DSQL_ATTR(one, id, DSQL_INTEGER, .primary_key = true),         \
                                    DSQL_ATTR(one, member_, type_, DSQL_CHECKS(checks_))};         \
        dsql_model m_ = {.magic = DSQL_MODEL_MAGIC,                                                \
                         .name = "one",                                                            \
                         .table = "one",                                                           \
                         .struct_size = sizeof(one),                                               \
                         .attrs = attrs_,                                                          \
                         .n_attrs = 2};                                                            \
        dsql_error e_ = DSQL_ERROR_INIT;                                                           \
        assert_int_equal(dsql_model_check(&m_, &e_), DSQL_EINVAL);                                 \
        assert_string_equal(e_.message, (msg_));                                                   \
    } while (0)

static void checks_that_do_not_fit_are_refused(void **state)
{
    (void)state;
    static const dsql_check len[] = {DSQL_CHECK_LEN(1, 2)};
    static const dsql_check range[] = {DSQL_CHECK_RANGE(1, 2)};
    static const dsql_check upside[] = {DSQL_CHECK_RANGE(2, 1)};
    static const dsql_check neg[] = {DSQL_CHECK_LEN(-1, 2)};
    static const dsql_check nopat[] = {{.kind = DSQL_CK_PATTERN}};
    static const dsql_check email[] = {DSQL_CHECK_EMAIL};
    static const dsql_check nofn[] = {{.kind = DSQL_CK_FN}};
    static const dsql_check nolist[] = {{.kind = DSQL_CK_IS_IN}};
    static const dsql_check unknown[] = {{.kind = (dsql_check_kind)42}};
    BAD_CHECK(n, DSQL_INTEGER, len,
              "dsql_model_check: model one: attribute \"n\": check #0: a length check needs a "
              "STRING, TEXT, CHAR "
              "or BYTEA attribute");
    BAD_CHECK(s, DSQL_TEXT, range,
              "dsql_model_check: model one: attribute \"s\": check #0: a range check needs a "
              "numeric attribute");
    BAD_CHECK(
        n, DSQL_INTEGER, upside,
        "dsql_model_check: model one: attribute \"n\": check #0: a range check needs lo <= hi");
    BAD_CHECK(s, DSQL_TEXT, neg,
              "dsql_model_check: model one: attribute \"s\": check #0: a length check needs 0 <= "
              "min <= max");
    BAD_CHECK(s, DSQL_TEXT, nopat,
              "dsql_model_check: model one: attribute \"s\": check #0: a pattern check without a "
              "pattern");
    BAD_CHECK(n, DSQL_INTEGER, email,
              "dsql_model_check: model one: attribute \"n\": check #0: an email or url check needs "
              "a STRING, "
              "TEXT or CHAR attribute");
    BAD_CHECK(s, DSQL_TEXT, nofn,
              "dsql_model_check: model one: attribute \"s\": check #0: a custom check without a "
              "function");
    BAD_CHECK(
        s, DSQL_TEXT, nolist,
        "dsql_model_check: model one: attribute \"s\": check #0: an is-in check without a list");
    BAD_CHECK(s, DSQL_TEXT, unknown,
              "dsql_model_check: model one: attribute \"s\": check #0 has kind 42, which is none "
              "of DSQL_CK_*");

    /* A pattern that does not compile is found when it is first used. */
    static const dsql_check broken[] = {DSQL_CHECK_PATTERN("([a-z")};
    const dsql_attr attrs[] = {DSQL_ATTR(one, id, DSQL_INTEGER, .primary_key = true),
                               DSQL_ATTR(one, s, DSQL_TEXT, DSQL_CHECKS(broken))};
    dsql_model m = {.magic = DSQL_MODEL_MAGIC,
                    .name = "one",
                    .table = "one",
                    .struct_size = sizeof(one),
                    .attrs = attrs,
                    .n_attrs = 2};
    one row = {.id = 1, .s = "abc"};
    dsql_error e = DSQL_ERROR_INIT;
    assert_int_equal(dsql_validate(&m, &row, &e), DSQL_EINVAL);
    assert_non_null(strstr(e.message, "one.s: the check's pattern does not compile: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtins_refuse_and_accept),
        cmocka_unit_test(emails),
        cmocka_unit_test(urls),
        cmocka_unit_test(model_validator_and_secrets),
        cmocka_unit_test(checks_that_do_not_fit_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
