/*
 * Validators and hooks on a real server: checks refuse before anything is sent (inserts,
 * upserts, bulk creates, an update's assignments, saves); each write calls the model's
 * hooks in order; a before hook's change of the row is what is stored; a veto is
 * DSQL_EVETO with nothing written; dsql_delete_row.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"

#define DB "dsql_t_hooks"

typedef struct member {
    int64_t id;
    char *email;
    char *name;
    int32_t visits;
    dsql_row_state state;
} member;

static const dsql_check email_checks[] = {DSQL_CHECK_EMAIL};
static const dsql_check name_checks[] = {DSQL_CHECK_LEN(2, 20)};
static const dsql_check visits_checks[] = {DSQL_CHECK_RANGE(0, 1000)};

static const dsql_attr member_attrs[] = {
    DSQL_ATTR(member, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(member, email, DSQL_STRING(80), .not_null = true, DSQL_CHECKS(email_checks)),
    DSQL_ATTR(member, name, DSQL_STRING(40), DSQL_CHECKS(name_checks)),
    DSQL_ATTR(member, visits, DSQL_INTEGER, DSQL_CHECKS(visits_checks)),
};

/* What the hook saw, in order. */
static char events[2048];
static uint64_t last_affected;
static char lowered[8][64];
static int n_lowered;

static const char *event_name(dsql_hook_event e)
{
    static const char *const names[] = {"",   "BC", "AC",  "BS",  "AS",  "BU",  "AU",  "BUP", "AUP",
                                        "BD", "AD", "BBC", "ABC", "BBU", "ABU", "BBD", "ABD"};
    return names[e];
}

static int hook(dsql_hook *h)
{
    const char *name = event_name(h->event);
    if (h->ctx != (void *)events)
        name = "bad-ctx";
    strcat(events, name);
    strcat(events, " ");
    if (h->event == DSQL_HOOK_AFTER_BULK_CREATE || h->event == DSQL_HOOK_AFTER_BULK_UPDATE ||
        h->event == DSQL_HOOK_AFTER_BULK_DESTROY)
        last_affected = h->affected;
    member *m = h->row;
    if (h->event == DSQL_HOOK_BEFORE_CREATE || h->event == DSQL_HOOK_BEFORE_UPSERT) {
        /* Normalise the e-mail address: the stored row has it lower-cased. */
        if (n_lowered < 8 && m->email) {
            char *d = lowered[n_lowered++];
            snprintf(d, 64, "%s", m->email);
            for (char *p = d; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
            m->email = d;
        }
        if (m->name && !strcmp(m->name, "Mallory")) {
            snprintf(h->why, h->why_cap, "Mallory may not join");
            return 1;
        }
    }
    if (h->event == DSQL_HOOK_BEFORE_SAVE && m->visits == 666)
        return 1; /* a veto without a reason */
    if (h->event == DSQL_HOOK_BEFORE_BULK_CREATE) {
        member *rows = h->rows;
        for (size_t i = 0; i < h->n_rows; i++)
            rows[i].visits += 1;
    }
    if (h->event == DSQL_HOOK_BEFORE_BULK_UPDATE && h->n_assigns == 2) {
        snprintf(h->why, h->why_cap, "two assignments at once are not allowed here");
        return 1;
    }
    if (h->event == DSQL_HOOK_BEFORE_BULK_DESTROY && h->where->op == DSQL_OP_NOT_NULL)
        return 7;
    if (h->event == DSQL_HOOK_BEFORE_DESTROY && m->id == 13) {
        snprintf(h->why, h->why_cap, "member 13 is kept");
        return 1;
    }
    return 0;
}

static DSQL_MODEL_WITH(member_model, member, "member", member_attrs, DSQL_ROW_STATE(member, state),
                       DSQL_HOOKS(hook, events));

static dsql_pool *pool;
static log_capture logs;

static int setup(void **state)
{
    (void)state;
    pool = model_db_open(DB, &logs);
    dsql_error err;
    assert_dsql_ok(dsql_create_table(pool, &member_model, &err), err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    model_db_close(DB, pool, &logs);
    return 0;
}

static void reset(void)
{
    dsql_error err;
    assert_dsql_ok(dsql_exec(pool, "DELETE FROM member", NULL, 0, NULL, &err), err);
    events[0] = '\0';
    n_lowered = 0;
    last_affected = 99999;
}

static bool sent_since(size_t mark, const char *what)
{
    return logs.len > mark && strstr(logs.text + mark, what) != NULL;
}

static void checks_refuse_before_sending(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    size_t mark = logs.len;
    member m = {.id = 1, .email = "not-an-address", .name = "Ann", .visits = 1};
    assert_int_equal(dsql_create(pool, &member_model, &m, NULL, &err), DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_create: member.email: not an e-mail address (email check)");
    m.email = "ann@example.com";
    m.name = "A";
    assert_int_equal(dsql_upsert(pool, &member_model, &m, NULL, NULL, &err), DSQL_EVALIDATION);
    assert_string_equal(
        err.message, "dsql_upsert: member.name: 1 characters, not between 2 and 20 (length check)");
    member rows[3] = {{.id = 2, .email = "b@example.com", .name = "Bob", .visits = 1},
                      {.id = 3, .email = "c@example.com", .name = "Cy", .visits = 1000},
                      {.id = 4, .email = "d@example.com", .name = "Di", .visits = 2}};
    /* The before-bulk-create hook adds one visit: row 1 is then over the range. */
    assert_int_equal(dsql_bulk_create(pool, &member_model, rows, 3, NULL, NULL, &err),
                     DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_bulk_create: row 1: member.visits: not between 0 and 1000 (range "
                        "check)");
    assert_false(sent_since(mark, "INSERT"));
    assert_int_equal(admin_long("SELECT count(*) FROM member"), 0);

    m = (member){.id = 5, .email = "eve@example.com", .name = "Eve", .visits = 3};
    assert_dsql_ok(dsql_create(pool, &member_model, &m, NULL, &err), err);
    /* An update's assignments are checked; a counter's delta is not a value to check. */
    mark = logs.len;
    dsql_assign bad[] = {DSQL_SET("email", DSQL_STR("eve at example"))};
    assert_int_equal(
        dsql_update(pool, &member_model, bad, 1, DSQL_EQ("id", DSQL_INT(5)), NULL, &err),
        DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_update: member.email: not an e-mail address (email check)");
    assert_false(sent_since(mark, "UPDATE"));
    dsql_assign big[] = {DSQL_INCREMENT("visits", DSQL_INT(5000))};
    member *got;
    size_t n;
    dsql_result *res;
    assert_dsql_ok(dsql_increment(pool, &member_model, big, 1, DSQL_EQ("id", DSQL_INT(5)), &got, &n,
                                  &res, &err),
                   err);
    assert_int_equal(got[0].visits, 5003);
    dsql_result_free(res);
    /* A save checks what it writes. */
    m.visits = 1001;
    mark = logs.len;
    assert_int_equal(dsql_save(pool, &member_model, &m, (const char *const[]){"visits"}, 1, &err),
                     DSQL_EVALIDATION);
    assert_string_equal(err.message,
                        "dsql_save: member.visits: not between 0 and 1000 (range check)");
    assert_false(sent_since(mark, "UPDATE"));
    assert_int_equal(admin_long("SELECT visits FROM member WHERE id = 5"), 5003);
}

static void create_hooks_run_in_order_and_change_the_row(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    dsql_result *stored;
    member m = {.id = 1, .email = "Ann@Example.COM", .name = "Ann", .visits = 1};
    assert_dsql_ok(dsql_create(pool, &member_model, &m, &stored, &err), err);
    assert_string_equal(events, "BC BS AC AS ");
    size_t n;
    member *as_stored = dsql_result_models(stored, &n);
    assert_int_equal(n, 1);
    assert_string_equal(as_stored->email, "ann@example.com");
    dsql_result_free(stored);
    assert_int_equal(admin_long("SELECT count(*) FROM member WHERE email = 'ann@example.com'"), 1);

    /* A veto: nothing sent, the hook's reason in the message. */
    events[0] = '\0';
    size_t mark = logs.len;
    member mal = {.id = 2, .email = "m@example.com", .name = "Mallory", .visits = 1};
    assert_int_equal(dsql_create(pool, &member_model, &mal, NULL, &err), DSQL_EVETO);
    assert_string_equal(
        err.message,
        "dsql_create: member: the before-create hook refused the call: Mallory may not join");
    assert_string_equal(events, "BC ");
    mal.visits = 666;
    mal.name = "Mal";
    events[0] = '\0';
    assert_int_equal(dsql_create(pool, &member_model, &mal, NULL, &err), DSQL_EVETO);
    assert_string_equal(err.message, "dsql_create: member: the before-save hook refused the call");
    assert_string_equal(events, "BC BS ");
    assert_false(sent_since(mark, "INSERT"));
    assert_int_equal(admin_long("SELECT count(*) FROM member"), 1);

    /* A failed insert calls no after hook. */
    events[0] = '\0';
    member dup = {.id = 1, .email = "x@example.com", .name = "Dup", .visits = 1};
    assert_int_equal(dsql_create(pool, &member_model, &dup, NULL, &err), DSQL_ECONSTRAINT);
    assert_string_equal(events, "BC BS ");
}

static void bulk_update_and_destroy_hooks(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    member rows[3] = {{.id = 1, .email = "a@example.com", .name = "Al", .visits = 0},
                      {.id = 2, .email = "b@example.com", .name = "Bo", .visits = 10},
                      {.id = 3, .email = "c@example.com", .name = "Cy", .visits = 20}};
    assert_dsql_ok(dsql_bulk_create(pool, &member_model, rows, 3, NULL, NULL, &err), err);
    assert_string_equal(events, "BBC ABC ");
    assert_int_equal(last_affected, 3);
    assert_int_equal(admin_long("SELECT sum(visits) FROM member"), 33);

    events[0] = '\0';
    uint64_t affected = 0;
    dsql_assign set[] = {DSQL_SET("name", DSQL_STR("Zed"))};
    assert_dsql_ok(
        dsql_update(pool, &member_model, set, 1, DSQL_GT("visits", DSQL_INT(5)), &affected, &err),
        err);
    assert_int_equal(affected, 2);
    assert_string_equal(events, "BBU ABU ");
    assert_int_equal(last_affected, 2);
    dsql_assign two[] = {DSQL_SET("name", DSQL_STR("Two")), DSQL_SET("visits", DSQL_INT(1))};
    events[0] = '\0';
    assert_int_equal(
        dsql_update(pool, &member_model, two, 2, DSQL_EQ("id", DSQL_INT(1)), &affected, &err),
        DSQL_EVETO);
    assert_string_equal(err.message,
                        "dsql_update: member: the before-bulk-update hook refused the call: two "
                        "assignments at once are not allowed here");
    assert_int_equal(affected, 0);
    assert_string_equal(events, "BBU ");
    assert_int_equal(admin_long("SELECT count(*) FROM member WHERE name = 'Two'"), 0);

    events[0] = '\0';
    assert_int_equal(dsql_delete(pool, &member_model, DSQL_NOT_NULL("id"), &affected, &err),
                     DSQL_EVETO);
    assert_string_equal(err.message,
                        "dsql_delete: member: the before-bulk-destroy hook refused the call");
    assert_int_equal(admin_long("SELECT count(*) FROM member"), 3);
    assert_dsql_ok(dsql_delete(pool, &member_model, DSQL_EQ("id", DSQL_INT(3)), &affected, &err),
                   err);
    assert_string_equal(events, "BBD BBD ABD ");
    assert_int_equal(last_affected, 1);
}

static void row_hooks_save_upsert_delete_row_find_or_create(void **state)
{
    (void)state;
    reset();
    dsql_error err;
    member m = {.id = 13, .email = "t@example.com", .name = "Tea", .visits = 1};
    assert_dsql_ok(dsql_create(pool, &member_model, &m, NULL, &err), err);
    events[0] = '\0';
    m.visits = 2;
    assert_dsql_ok(dsql_save(pool, &member_model, &m, NULL, 0, &err), err);
    assert_string_equal(events, "BU BS AU AS ");
    assert_int_equal(admin_long("SELECT visits FROM member WHERE id = 13"), 2);

    events[0] = '\0';
    member up = {.id = 13, .email = "NEW@example.com", .name = "Tea", .visits = 3};
    assert_dsql_ok(dsql_upsert(pool, &member_model, &up, NULL, NULL, &err), err);
    assert_string_equal(events, "BUP AUP ");
    assert_int_equal(admin_long("SELECT count(*) FROM member WHERE email = 'new@example.com' AND "
                                "visits = 3"),
                     1);

    events[0] = '\0';
    assert_int_equal(dsql_delete_row(pool, &member_model, &m, &err), DSQL_EVETO);
    assert_string_equal(
        err.message,
        "dsql_delete_row: member: the before-destroy hook refused the call: member 13 is kept");
    member other = {.id = 14, .email = "o@example.com", .name = "Oz", .visits = 0};
    assert_dsql_ok(dsql_create(pool, &member_model, &other, NULL, &err), err);
    events[0] = '\0';
    assert_dsql_ok(dsql_delete_row(pool, &member_model, &other, &err), err);
    assert_string_equal(events, "BD AD ");
    assert_int_equal(admin_long("SELECT count(*) FROM member WHERE id = 14"), 0);
    events[0] = '\0';
    assert_int_equal(dsql_delete_row(pool, &member_model, &other, &err), DSQL_ENOTFOUND);
    assert_string_equal(err.message, "dsql_delete_row: member: no row with id = 14");
    assert_string_equal(events, "BD ");

    /* find-or-create: the create's hooks only when it creates. */
    events[0] = '\0';
    member dflt = {.email = "F@Example.com", .name = "Fi", .visits = 0};
    member *row;
    dsql_result *res;
    bool created = false;
    assert_dsql_ok(dsql_find_or_create(pool, &member_model, DSQL_EQ("id", DSQL_INT(20)), &dflt,
                                       &row, &res, &created, &err),
                   err);
    assert_true(created);
    assert_string_equal(row->email, "f@example.com");
    dsql_result_free(res);
    assert_string_equal(events, "BC BS AC AS ");
    events[0] = '\0';
    assert_dsql_ok(dsql_find_or_create(pool, &member_model, DSQL_EQ("id", DSQL_INT(20)), &dflt,
                                       &row, &res, &created, &err),
                   err);
    assert_false(created);
    dsql_result_free(res);
    assert_string_equal(events, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checks_refuse_before_sending),
        cmocka_unit_test(create_hooks_run_in_order_and_change_the_row),
        cmocka_unit_test(bulk_update_and_destroy_hooks),
        cmocka_unit_test(row_hooks_save_upsert_delete_row_find_or_create),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
