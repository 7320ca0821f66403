/*
 * A many-to-many association's join rows readable (Sequelize's through attributes): an
 * include fills each target's through member with its join row, own columns included, in
 * the same one statement; descriptors with a bad through member are refused.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "conn_util.h"

#define DB "dsql_t_through"

typedef struct enrollment {
    int64_t id;
    int64_t student_id;
    int64_t course_id;
    char *grade;
    int32_t year;
} enrollment;

typedef struct course {
    int64_t id;
    char *title;
    enrollment *enrollment; /* the join row, filled by an include */
} course;

typedef struct student {
    int64_t id;
    char *name;
    course *courses;
    size_t n_courses;
} student;

static const dsql_attr enrollment_attrs[] = {
    DSQL_ATTR(enrollment, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR_AS(enrollment, student_id, "studentId", DSQL_BIGINT),
    DSQL_ATTR_AS(enrollment, course_id, "courseId", DSQL_BIGINT),
    DSQL_ATTR(enrollment, grade, DSQL_STRING(2)),
    DSQL_ATTR(enrollment, year, DSQL_INTEGER),
};
static DSQL_MODEL(enrollment_model, enrollment, "enrollment", enrollment_attrs);

static const dsql_attr course_attrs[] = {
    DSQL_ATTR(course, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(course, title, DSQL_STRING(40)),
};
static DSQL_MODEL(course_model, course, "course", course_attrs);

static const dsql_attr student_attrs[] = {
    DSQL_ATTR(student, id, DSQL_BIGINT, .primary_key = true),
    DSQL_ATTR(student, name, DSQL_STRING(40)),
};
static DSQL_MODEL(student_model, student, "student", student_attrs);

static const dsql_assoc student_courses = DSQL_ASSOC_BELONGS_TO_MANY(
    student, courses, n_courses, .source = &student_model, .target = &course_model,
    .through = &enrollment_model, .foreign_key = "studentId", .other_key = "courseId",
    DSQL_THROUGH_MEMBER(course, enrollment));

static dsql_pool *pool;
static log_capture logs;

static int setup(void **state)
{
    (void)state;
    admin_exec("DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    admin_exec("CREATE DATABASE " DB);
    setenv("PGDATABASE", DB, 1);
    cap_init(&logs);
    pool = TEST_POOL(.database = DB, .logs = &logs);
    dsql_error err;
    assert_dsql_ok(dsql_create_table(pool, &student_model, &err), err);
    assert_dsql_ok(dsql_create_table(pool, &course_model, &err), err);
    assert_dsql_ok(dsql_create_table(pool, &enrollment_model, &err), err);
    assert_dsql_ok(dsql_exec(pool, "INSERT INTO student VALUES (1, 'Ann'), (2, 'Ben'), (3, 'Cy')",
                             NULL, 0, NULL, &err),
                   err);
    assert_dsql_ok(dsql_exec(pool, "INSERT INTO course VALUES (10, 'Algebra'), (20, 'Biology')",
                             NULL, 0, NULL, &err),
                   err);
    assert_dsql_ok(dsql_exec(pool,
                             "INSERT INTO enrollment VALUES (100, 1, 10, 'A', 2025), "
                             "(101, 1, 20, 'B', 2026), (102, 2, 20, NULL, 2026)",
                             NULL, 0, NULL, &err),
                   err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dsql_pool_close(pool);
    cap_free(&logs);
    setenv("PGDATABASE", "postgres", 1);
    admin_exec("DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    return 0;
}

static void include_fills_the_join_rows(void **state)
{
    (void)state;
    dsql_error err;
    student *s;
    size_t n;
    dsql_result *res;
    dsql_pool_stats before, after;
    dsql_pool_get_stats(pool, &before);
    assert_dsql_ok(dsql_find_all(pool, &student_model,
                                 &(dsql_query){DSQL_ORDER_BY(DSQL_ASC("id")),
                                               DSQL_INCLUDES({.assoc = &student_courses,
                                                              DSQL_ORDER_BY(DSQL_ASC("id"))})},
                                 &s, &n, &res, &err),
                   err);
    dsql_pool_get_stats(pool, &after);
    assert_int_equal(after.round_trips - before.round_trips, 1);
    assert_int_equal(n, 3);
    assert_int_equal(s[0].n_courses, 2);
    assert_string_equal(s[0].courses[0].title, "Algebra");
    assert_non_null(s[0].courses[0].enrollment);
    assert_int_equal(s[0].courses[0].enrollment->id, 100);
    assert_int_equal(s[0].courses[0].enrollment->student_id, 1);
    assert_int_equal(s[0].courses[0].enrollment->course_id, 10);
    assert_string_equal(s[0].courses[0].enrollment->grade, "A");
    assert_int_equal(s[0].courses[0].enrollment->year, 2025);
    assert_string_equal(s[0].courses[1].enrollment->grade, "B");
    /* Ben's Biology is Ann's Biology row-wise, but his own join row. */
    assert_int_equal(s[1].n_courses, 1);
    assert_int_equal(s[1].courses[0].id, 20);
    assert_int_equal(s[1].courses[0].enrollment->id, 102);
    assert_null(s[1].courses[0].enrollment->grade);
    assert_int_equal(s[2].n_courses, 0);
    dsql_result_free(res);
    /* A where on the join row's columns goes through the include's where on the target
     * model only; the join row comes along. */
    assert_dsql_ok(
        dsql_find_all(pool, &student_model,
                      &(dsql_query){.where = DSQL_EQ("id", DSQL_INT(1)),
                                    DSQL_INCLUDES({.assoc = &student_courses,
                                                   .where = DSQL_EQ("title", DSQL_STR("Biology")),
                                                   .required = true})},
                      &s, &n, &res, &err),
        err);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].n_courses, 1);
    assert_int_equal(s[0].courses[0].enrollment->year, 2026);
    dsql_result_free(res);
}

static void bad_through_members_are_refused(void **state)
{
    (void)state;
    dsql_error err;
    dsql_assoc a = student_courses;
    a.through_member = sizeof(course) - 2;
    assert_int_equal(dsql_assoc_check(&a, &err), DSQL_EINVAL);
    assert_non_null(strstr(err.message, "through member offset "));
    assert_non_null(strstr(err.message, " does not fit a pointer inside struct course"));
    a.through_member = offsetof(course, title) + 1;
    assert_int_equal(dsql_assoc_check(&a, &err), DSQL_EINVAL);
    assert_non_null(strstr(err.message, "through member overlaps attribute course.title"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(include_fills_the_join_rows),
        cmocka_unit_test(bad_through_members_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
