/* The where and SELECT builders: exact SQL text and parameters, and clear errors. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "model/internal.h"
#include "clinic_models.h"

typedef struct built {
    dsql__strbuf sql;
    dsql__params p;
    dsql__plan plan;
    dsql_error err;
    int rc;
} built;

static void build(built *b, const dsql__select *s)
{
    memset(b, 0, sizeof *b);
    b->rc = dsql__build_select(s, &b->sql, &b->p, &b->plan, &b->err);
}

static void done(built *b)
{
    dsql__sb_free(&b->sql);
    dsql__params_free(&b->p);
    dsql__plan_free(&b->plan);
}

#define EXPECT_SQL(b, text)                                                                        \
    do {                                                                                           \
        if ((b)->rc)                                                                               \
            fail_msg("build failed: %s", (b)->err.message);                                        \
        assert_string_equal(dsql__sb_str(&(b)->sql), (text));                                      \
    } while (0)

static void where_sql(const dsql_where *w, const char *want_sql)
{
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql__build_where(&sb, &p, &weighed_pet_model, NULL, w, &err);
    if (rc)
        fail_msg("where failed: %s", err.message);
    assert_string_equal(dsql__sb_str(&sb), want_sql);
    dsql__sb_free(&sb);
    dsql__params_free(&p);
}

static void where_err(const dsql_where *w, int status, const char *msg)
{
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql__build_where(&sb, &p, &weighed_pet_model, NULL, w, &err), status);
    assert_string_equal(err.message, msg);
    dsql__sb_free(&sb);
    dsql__params_free(&p);
}

static void test_where_ops(void **state)
{
    (void)state;
    where_sql(DSQL_EQ("name", DSQL_STR("Rex")), "\"name\" = $1");
    where_sql(DSQL_NE("name", DSQL_STR("Rex")), "\"name\" <> $1");
    where_sql(DSQL_LT("weight", DSQL_INT(3)), "\"weight\" < $1");
    where_sql(DSQL_LTE("weight", DSQL_INT(3)), "\"weight\" <= $1");
    where_sql(DSQL_GT("weight", DSQL_INT(3)), "\"weight\" > $1");
    where_sql(DSQL_GTE("birthDate", DSQL_STR("2020-01-01")), "\"birthDate\" >= $1");
    where_sql(DSQL_IN("name", DSQL_STR("a"), DSQL_STR("b"), DSQL_STR("c")),
              "\"name\" IN ($1, $2, $3)");
    where_sql(DSQL_NOT_IN("weight", DSQL_INT(1)), "\"weight\" NOT IN ($1)");
    /* An empty list matches no row (IN) or every row (NOT IN), as in SQL and Sequelize. */
    where_sql(DSQL_IN_ARRAY("name", NULL, 0), "FALSE");
    where_sql(DSQL_NOT_IN_ARRAY("name", NULL, 0), "TRUE");
    where_sql(DSQL_AND(DSQL_EQ("name", DSQL_STR("a")), DSQL_IN_ARRAY("weight", NULL, 0)),
              "\"name\" = $1 AND FALSE");
    where_sql(DSQL_LIKE("name", DSQL_STR("R%")), "\"name\" LIKE $1");
    where_sql(DSQL_ILIKE("name", DSQL_STR("r%")), "\"name\" ILIKE $1");
    where_sql(DSQL_IS_NULL("ownerId"), "\"ownerId\" IS NULL");
    where_sql(DSQL_NOT_NULL("ownerId"), "\"ownerId\" IS NOT NULL");
    where_sql(DSQL_EQ("ownerId", DSQL_NULL), "\"ownerId\" IS NULL");
    where_sql(DSQL_NE("ownerId", DSQL_NULL), "\"ownerId\" IS NOT NULL");
    where_sql(DSQL_BETWEEN("weight", DSQL_INT(1), DSQL_INT(9)), "\"weight\" BETWEEN $1 AND $2");
    where_sql(DSQL_AND(DSQL_EQ("name", DSQL_STR("a")), DSQL_GT("weight", DSQL_INT(1))),
              "\"name\" = $1 AND \"weight\" > $2");
    where_sql(DSQL_OR(DSQL_EQ("name", DSQL_STR("a")),
                      DSQL_AND(DSQL_GT("weight", DSQL_INT(1)), DSQL_LT("weight", DSQL_INT(5)))),
              "\"name\" = $1 OR (\"weight\" > $2 AND \"weight\" < $3)");
    where_sql(DSQL_AND(DSQL_OR(DSQL_EQ("name", DSQL_STR("a")), DSQL_EQ("name", DSQL_STR("b"))),
                       DSQL_NOT(DSQL_IS_NULL("ownerId"))),
              "(\"name\" = $1 OR \"name\" = $2) AND NOT (\"ownerId\" IS NULL)");
    where_sql(DSQL_NOT(DSQL_OR(DSQL_EQ("name", DSQL_STR("a")), DSQL_EQ("name", DSQL_STR("b")))),
              "NOT (\"name\" = $1 OR \"name\" = $2)");
    where_sql(DSQL_AND(DSQL_EQ("name", DSQL_STR("a"))), "\"name\" = $1");
    where_sql(&(const dsql_where){.op = DSQL_OP_AND}, "TRUE");
    where_sql(&(const dsql_where){.op = DSQL_OP_OR}, "FALSE");
    /* Column names differ from attribute names: the column is used. */
    where_sql(DSQL_EQ("id", DSQL_STR("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")), "\"id\" = $1");
}

static void test_where_params(void **state)
{
    (void)state;
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__params p = DSQL__PARAMS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    const char *hostile = "x'); DROP TABLE pet; -- $1 \\ \"";
    assert_int_equal(dsql__build_where(&sb, &p, &weighed_pet_model, "pets",
                                       DSQL_AND(DSQL_EQ("name", DSQL_STR(hostile)),
                                                DSQL_IN("weight", DSQL_INT(7), DSQL_STR("8"))),
                                       &err),
                     DSQL_OK);
    assert_string_equal(dsql__sb_str(&sb),
                        "\"pets\".\"name\" = $1 AND \"pets\".\"weight\" IN ($2, $3)");
    assert_int_equal(p.n, 3);
    assert_ptr_equal(p.values[0], hostile); /* a parameter, never spliced */
    assert_string_equal(p.values[1], "7");
    assert_string_equal(p.values[2], "8");
    dsql__sb_free(&sb);
    dsql__params_free(&p);
}

static void test_where_errors(void **state)
{
    (void)state;
    where_err(DSQL_EQ("nme", DSQL_STR("a")), DSQL_EINVAL, "model pet has no attribute \"nme\"");
    /* Past the protocol's 65535 parameters: the caller's to split, not out of memory. */
    dsql_value *many = calloc(65536, sizeof *many);
    assert_non_null(many);
    for (size_t i = 0; i < 65536; i++)
        many[i] = DSQL_INT((int64_t)i);
    where_err(DSQL_IN_ARRAY("weight", many, 65536), DSQL_EINVAL,
              "the statement needs more than 65535 parameters, the protocol's limit per "
              "statement: split the work (a shorter IN list, fewer rows at a time)");
    free(many);
    where_err(DSQL_EQ("weight", DSQL_STR("abc")), DSQL_EINVAL,
              "pet.weight: expected an INTEGER value, got text \"abc\"");
    where_err(DSQL_EQ("ownerId", DSQL_STR("not-a-uuid")), DSQL_EVALIDATION,
              "pet.ownerId: \"not-a-uuid\" is not a UUID (UUID)");
    where_err(DSQL_IN("name", DSQL_STR("a"), DSQL_NULL), DSQL_EINVAL,
              "pet.name: NULL in an IN list never matches (use DSQL_IS_NULL)");
    where_err(DSQL_LT("weight", DSQL_NULL), DSQL_EINVAL,
              "pet.weight: NULL compared with < (use DSQL_IS_NULL / DSQL_NOT_NULL)");
    where_err(DSQL_LIKE("weight", DSQL_STR("1%")), DSQL_EINVAL,
              "pet.weight: LIKE/ILIKE needs a STRING, TEXT or CHAR attribute, not INTEGER");
    where_err(DSQL_BETWEEN("weight", DSQL_INT(1), DSQL_NULL), DSQL_EINVAL,
              "pet.weight: NULL bound in BETWEEN");
    where_err(DSQL_GT("weight", DSQL_INT(1LL << 40)), DSQL_EVALIDATION,
              "pet.weight: 1099511627776 is out of range for INTEGER");
    where_err(&(const dsql_where){.op = 99}, DSQL_EINVAL, "unknown operator 99");
    where_err(&(const dsql_where){.op = DSQL_OP_NOT}, DSQL_EINVAL,
              "NOT needs exactly one condition");
    where_err(&(const dsql_where){.op = DSQL_OP_EQ, .attr = "name"}, DSQL_EINVAL,
              "pet.name: 0 values given, the operator needs 1");
    where_err(DSQL_AND(DSQL_EQ("name", DSQL_STR("a")), NULL), DSQL_EINVAL, "a condition is NULL");
    /* A cycle is caught instead of overflowing the stack. */
    dsql_where loop = {.op = DSQL_OP_NOT, .n_children = 1};
    const dsql_where *kids[1] = {&loop};
    loop.children = kids;
    where_err(&loop, DSQL_EINVAL, "conditions nested deeper than 64 (a cycle?)");
}

static void test_select_simple(void **state)
{
    (void)state;
    built b;
    build(&b, &(dsql__select){.m = &owner_model});
    EXPECT_SQL(&b, "SELECT \"id\", \"name\", \"city\", \"telephone\" FROM \"owner\"");
    assert_int_equal(b.plan.n_nodes, 1);
    assert_int_equal(b.plan.ncols, 4);
    assert_int_equal(b.plan.nodes[0].key_col, 0);
    done(&b);

    dsql_query q = {
        .where = DSQL_EQ("name", DSQL_STR("John")),
        DSQL_ORDER_BY(DSQL_DESC("city"), {.attr = "telephone", .nulls = DSQL_NULLS_LAST}),
        .limit = 10,
        .offset = 20,
        DSQL_ATTRIBUTES("name"),
        .read_only = true};
    build(&b, &(dsql__select){.m = &owner_model, .q = &q});
    EXPECT_SQL(&b, "SELECT \"id\", \"name\" FROM \"owner\" WHERE (\"name\" = $1) ORDER BY "
                   "\"city\" DESC, \"telephone\" ASC NULLS LAST LIMIT $2 OFFSET $3");
    assert_int_equal(b.p.n, 3);
    assert_string_equal(b.p.values[0], "John");
    assert_string_equal(b.p.values[1], "10");
    assert_string_equal(b.p.values[2], "20");
    assert_int_equal(b.plan.nodes[0].col[0], 0);
    assert_int_equal(b.plan.nodes[0].col[1], 1);
    assert_int_equal(b.plan.nodes[0].col[2], -1);
    done(&b);

    /* find_one / find_by_pk shapes: an extra condition ANDed, limit 1. */
    build(&b, &(dsql__select){.m = &specialty_model,
                              .q = &(dsql_query){.where = DSQL_LIKE("id", DSQL_STR("C%"))},
                              .extra = DSQL_EQ("id", DSQL_STR("Cats")),
                              .limit = 1});
    EXPECT_SQL(&b, "SELECT \"name\" FROM \"specialty\" WHERE (\"name\" = $1) AND (\"name\" LIKE "
                   "$2) LIMIT $3");
    done(&b);

    build(&b,
          &(dsql__select){.m = &weighed_pet_model,
                          .count = true,
                          .q = &(dsql_query){.where = DSQL_OR(DSQL_IS_NULL("ownerId"),
                                                              DSQL_GT("weight", DSQL_INT(2)))}});
    EXPECT_SQL(&b, "SELECT count(*) FROM \"pet\" WHERE (\"ownerId\" IS NULL OR \"weight\" > $1)");
    done(&b);

    /* Hostile identifiers are quoted. */
    static const dsql_attr odd_attrs[] = {
        DSQL_ATTR(specialty, id, DSQL_TEXT, .primary_key = true, .column = "na\"me; --"),
    };
    dsql_model odd = {.magic = DSQL_MODEL_MAGIC,
                      .name = "odd",
                      .table = "we\"ird table",
                      .schema = "my schema",
                      .struct_size = sizeof(specialty),
                      .attrs = odd_attrs,
                      .n_attrs = 1};
    build(&b, &(dsql__select){.m = &odd, .q = &(dsql_query){DSQL_ORDER_BY(DSQL_ASC("id"))}});
    EXPECT_SQL(&b, "SELECT \"na\"\"me; --\" FROM \"my schema\".\"we\"\"ird table\" ORDER BY "
                   "\"na\"\"me; --\" ASC");
    done(&b);
}

static void test_select_errors(void **state)
{
    (void)state;
    built b;
    build(&b,
          &(dsql__select){.m = &owner_model,
                          .q = &(dsql_query){DSQL_ATTRIBUTES("name", "zip"), .read_only = true}});
    assert_int_equal(b.rc, DSQL_EINVAL);
    assert_string_equal(b.err.message, "attributes: model owner has no attribute \"zip\"");
    done(&b);
    build(&b,
          &(dsql__select){.m = &owner_model, .q = &(dsql_query){DSQL_ORDER_BY(DSQL_ASC("zip"))}});
    assert_string_equal(b.err.message, "order: model owner has no attribute \"zip\"");
    done(&b);
    build(&b, &(dsql__select){.m = &owner_model,
                              .q = &(dsql_query){.where = DSQL_EQ("zip", DSQL_INT(1))}});
    assert_string_equal(b.err.message, "where: model owner has no attribute \"zip\"");
    done(&b);
    build(&b, &(dsql__select){.m = &owner_model, .q = &(dsql_query){.limit = -1}});
    assert_string_equal(b.err.message,
                        "limit and offset must not be negative (limit -1, offset 0)");
    done(&b);
    build(&b, &(dsql__select){.m = &owner_model,
                              .q = &(dsql_query){DSQL_INCLUDES({.assoc = &weighed_pet_visits})}});
    assert_string_equal(b.err.message, "include visits: the association starts at model pet, "
                                       "but it is included under model owner");
    done(&b);
    build(&b, &(dsql__select){
                  .m = &owner_model,
                  .q = &(dsql_query){
                      DSQL_INCLUDES({.assoc = &owner_weighed_pets}),
                      .order = (const dsql_order[]){{.attr = "name", .assoc = &weighed_pet_visits}},
                      .n_order = 1}});
    assert_string_equal(b.err.message, "order: association visits is not included in the query");
    done(&b);
    /* A limit on parents cannot follow an order on a to-many include's attribute. */
    build(&b, &(dsql__select){
                  .m = &owner_model,
                  .q = &(dsql_query){
                      .limit = 2,
                      DSQL_ORDER_BY({.attr = "name", .assoc = &owner_weighed_pets, .desc = true}),
                      DSQL_INCLUDES({.assoc = &owner_weighed_pets})}});
    assert_int_equal(b.rc, DSQL_EINVAL);
    assert_string_equal(b.err.message,
                        "order: the first term orders by included association pets, but a "
                        "limit or offset chooses owner rows before the join, by owner's own "
                        "attributes only: put an attribute of owner first, or drop the limit");
    done(&b);
    /* An attribute of the parent first: the parents are chosen by it, children after. */
    build(&b, &(dsql__select){
                  .m = &owner_model,
                  .q = &(dsql_query){.offset = 1,
                                     DSQL_ORDER_BY(DSQL_ASC("name"),
                                                   {.attr = "name", .assoc = &owner_weighed_pets}),
                                     DSQL_INCLUDES({.assoc = &owner_weighed_pets})}});
    assert_int_equal(b.rc, DSQL_OK);
    done(&b);
    /* find_one's own limit (one parent, usually by a key): children ordered, no error. */
    build(&b, &(dsql__select){
                  .m = &owner_model,
                  .limit = 1,
                  .q = &(dsql_query){DSQL_ORDER_BY({.attr = "name", .assoc = &owner_weighed_pets}),
                                     DSQL_INCLUDES({.assoc = &owner_weighed_pets})}});
    assert_int_equal(b.rc, DSQL_OK);
    done(&b);
    build(&b, &(dsql__select){
                  .m = &owner_model,
                  .q = &(dsql_query){DSQL_INCLUDES(
                      {.assoc = &owner_weighed_pets, .where = DSQL_EQ("nope", DSQL_INT(1))})}});
    assert_string_equal(b.err.message, "include pets: where: model pet has no attribute \"nope\"");
    done(&b);
    build(&b,
          &(dsql__select){.m = &owner_model,
                          .q = &(dsql_query){DSQL_INCLUDES(
                              {.assoc = &owner_weighed_pets, DSQL_ORDER_BY(DSQL_ASC("nope"))})}});
    assert_string_equal(b.err.message, "include pets: order: model pet has no attribute \"nope\"");
    done(&b);
    /* A to-many include under a model without a primary key cannot merge its rows. */
    static const dsql_attr nopk_attrs[] = {DSQL_ATTR(owner, id, DSQL_UUID),
                                           DSQL_ATTR(owner, name, DSQL_TEXT)};
    dsql_model nopk = {.magic = DSQL_MODEL_MAGIC,
                       .name = "owner",
                       .table = "owner",
                       .struct_size = sizeof(owner),
                       .attrs = nopk_attrs,
                       .n_attrs = 2};
    dsql_assoc nopk_pets = owner_weighed_pets;
    nopk_pets.source = &nopk;
    nopk_pets.source_key = "id";
    build(&b,
          &(dsql__select){.m = &nopk, .q = &(dsql_query){DSQL_INCLUDES({.assoc = &nopk_pets})}});
    assert_int_equal(b.rc, DSQL_EINVAL);
    assert_string_equal(b.err.message, "model owner needs a primary key: rows of its to-many "
                                       "include are merged under it by key");
    done(&b);
}

static void test_select_includes(void **state)
{
    (void)state;
    built b;
    dsql_query q = {DSQL_INCLUDES({.assoc = &owner_weighed_pets})};
    build(&b, &(dsql__select){.m = &owner_model, .q = &q});
    EXPECT_SQL(&b, "SELECT \"owner\".\"id\", \"owner\".\"name\", \"owner\".\"city\", "
                   "\"owner\".\"telephone\", \"pets\".\"id\", \"pets\".\"name\", "
                   "\"pets\".\"birthDate\", \"pets\".\"ownerId\", \"pets\".\"weight\" FROM "
                   "\"owner\" LEFT OUTER JOIN \"pet\" AS \"pets\" ON \"pets\".\"ownerId\" = "
                   "\"owner\".\"id\"");
    assert_int_equal(b.plan.n_nodes, 2);
    assert_int_equal(b.plan.ncols, 9);
    assert_int_equal(b.plan.nodes[1].key_col, 4);
    assert_int_equal(b.plan.nodes[1].match_col, 7);
    assert_true(b.plan.nodes[0].to_many_below);
    assert_false(b.plan.nodes[1].to_many_below);
    done(&b);

    /* Nested, required, a where on the include, orders, and a limit on parents. */
    dsql_query q2 = {
        .where = DSQL_EQ("city", DSQL_STR("Anytown")),
        .order = (const dsql_order[]){{.attr = "name"},
                                      {.attr = "name", .assoc = &owner_weighed_pets, .desc = true}},
        .n_order = 2,
        .limit = 5,
        DSQL_INCLUDES(
            {.assoc = &owner_weighed_pets,
             .where = DSQL_NOT_NULL("weight"),
             .required = true,
             DSQL_INCLUDES({.assoc = &weighed_pet_visits, DSQL_ORDER_BY(DSQL_DESC("day"))})}),
    };
    build(&b, &(dsql__select){.m = &owner_model, .q = &q2});
    EXPECT_SQL(
        &b, "SELECT \"owner\".\"id\", \"owner\".\"name\", \"owner\".\"city\", "
            "\"owner\".\"telephone\", \"pets\".\"id\", \"pets\".\"name\", \"pets\".\"birthDate\", "
            "\"pets\".\"ownerId\", \"pets\".\"weight\", \"pets->visits\".\"id\", "
            "\"pets->visits\".\"petId\", \"pets->visits\".\"note\", \"pets->visits\".\"day\" "
            "FROM (SELECT \"owner\".\"id\", \"owner\".\"name\", \"owner\".\"city\", "
            "\"owner\".\"telephone\" FROM \"owner\" WHERE (\"owner\".\"city\" = $1) AND EXISTS "
            "(SELECT 1 FROM \"pet\" AS \"pets\" WHERE \"pets\".\"ownerId\" = \"owner\".\"id\" "
            "AND (\"pets\".\"weight\" IS NOT NULL)) ORDER BY \"owner\".\"name\" ASC LIMIT $2) "
            "AS \"owner\" INNER JOIN (\"pet\" AS \"pets\" LEFT OUTER JOIN \"visit\" AS "
            "\"pets->visits\" ON \"pets->visits\".\"petId\" = \"pets\".\"id\") ON "
            "\"pets\".\"ownerId\" = \"owner\".\"id\" AND (\"pets\".\"weight\" IS NOT NULL) "
            "ORDER BY \"owner\".\"name\" ASC, \"pets\".\"name\" DESC, \"pets->visits\".\"day\" "
            "DESC");
    assert_int_equal(b.p.n, 2);
    assert_string_equal(b.p.values[0], "Anytown");
    assert_string_equal(b.p.values[1], "5");
    assert_int_equal(b.plan.n_nodes, 3);
    assert_int_equal(b.plan.nodes[2].parent, 1);
    assert_string_equal(b.plan.nodes[2].alias, "pets->visits");
    assert_true(b.plan.nodes[1].to_many_below);
    done(&b);

    /* Belongs-to-many through a join model, no limit: flat. */
    dsql_query q3 = {DSQL_INCLUDES({.assoc = &vet_specialties, DSQL_ORDER_BY(DSQL_ASC("id"))})};
    build(&b, &(dsql__select){.m = &vet_model,
                              .q = &q3,
                              .extra =
                                  DSQL_EQ("id", DSQL_STR("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))});
    EXPECT_SQL(&b, "SELECT \"vet\".\"id\", \"vet\".\"name\", \"specialties\".\"name\" FROM \"vet\" "
                   "LEFT OUTER JOIN (\"vetSpecialties\" AS \"specialties->vetSpecialties\" INNER "
                   "JOIN \"specialty\" AS \"specialties\" ON \"specialties\".\"name\" = "
                   "\"specialties->vetSpecialties\".\"specialtyId\") ON "
                   "\"specialties->vetSpecialties\".\"vetId\" = \"vet\".\"id\" WHERE "
                   "(\"vet\".\"id\" = $1) ORDER BY \"specialties\".\"name\" ASC");
    done(&b);

    /* A limit with a to-one include: the parents are limited first (same rows: the LEFT
     * JOIN to one row neither drops nor repeats a parent), so the join is by key. */
    dsql_query q4 = {.limit = 3, DSQL_INCLUDES({.assoc = &weighed_pet_owner})};
    build(&b, &(dsql__select){.m = &weighed_pet_model, .q = &q4});
    EXPECT_SQL(&b, "SELECT \"pet\".\"id\", \"pet\".\"name\", \"pet\".\"birthDate\", "
                   "\"pet\".\"ownerId\", \"pet\".\"weight\", \"owner\".\"id\", \"owner\".\"name\", "
                   "\"owner\".\"city\", \"owner\".\"telephone\" FROM (SELECT \"pet\".\"id\", "
                   "\"pet\".\"name\", \"pet\".\"birthDate\", \"pet\".\"ownerId\", "
                   "\"pet\".\"weight\" FROM \"pet\" LIMIT $1) AS \"pet\" LEFT OUTER JOIN "
                   "\"owner\" AS \"owner\" ON \"owner\".\"id\" = \"pet\".\"ownerId\"");
    assert_int_equal(b.plan.nodes[1].match_col, 5);
    done(&b);
    /* ... but not when the include could change which parents come first: required, or
     * ordered on. */
    dsql_query q5 = {.limit = 3, DSQL_INCLUDES({.assoc = &weighed_pet_owner, .required = true})};
    build(&b, &(dsql__select){.m = &weighed_pet_model, .q = &q5});
    EXPECT_SQL(&b, "SELECT \"pet\".\"id\", \"pet\".\"name\", \"pet\".\"birthDate\", "
                   "\"pet\".\"ownerId\", \"pet\".\"weight\", \"owner\".\"id\", \"owner\".\"name\", "
                   "\"owner\".\"city\", \"owner\".\"telephone\" FROM \"pet\" INNER JOIN "
                   "\"owner\" AS \"owner\" ON \"owner\".\"id\" = \"pet\".\"ownerId\" LIMIT $1");
    done(&b);
    dsql_query q6 = {.limit = 3,
                     .order = (const dsql_order[]){{.attr = "name", .assoc = &weighed_pet_owner}},
                     .n_order = 1,
                     DSQL_INCLUDES({.assoc = &weighed_pet_owner})};
    build(&b, &(dsql__select){.m = &weighed_pet_model, .q = &q6});
    EXPECT_SQL(&b, "SELECT \"pet\".\"id\", \"pet\".\"name\", \"pet\".\"birthDate\", "
                   "\"pet\".\"ownerId\", \"pet\".\"weight\", \"owner\".\"id\", \"owner\".\"name\", "
                   "\"owner\".\"city\", \"owner\".\"telephone\" FROM \"pet\" LEFT OUTER JOIN "
                   "\"owner\" AS \"owner\" ON \"owner\".\"id\" = \"pet\".\"ownerId\" ORDER BY "
                   "\"owner\".\"name\" ASC LIMIT $1");
    done(&b);
}

static void test_select_via(void **state)
{
    (void)state;
    built b;
    vet v = {.name = "Carlos"};
    strcpy(v.id.str, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    build(&b, &(dsql__select){.m = &specialty_model,
                              .via = &vet_specialties,
                              .via_row = &v,
                              .q = &(dsql_query){DSQL_ORDER_BY(DSQL_ASC("id"))}});
    EXPECT_SQL(&b, "SELECT \"specialty\".\"name\" FROM \"specialty\" INNER JOIN "
                   "\"vetSpecialties\" AS \"through\" ON \"through\".\"specialtyId\" = "
                   "\"specialty\".\"name\" WHERE \"through\".\"vetId\" = $1 ORDER BY "
                   "\"specialty\".\"name\" ASC");
    assert_ptr_equal(b.p.values[0], v.id.str);
    done(&b);
    owner o;
    strcpy(o.id.str, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    build(&b, &(dsql__select){.m = &weighed_pet_model,
                              .via = &owner_weighed_pets,
                              .via_row = &o,
                              .q = &(dsql_query){.where = DSQL_EQ("name", DSQL_STR("Rex"))}});
    EXPECT_SQL(&b, "SELECT \"id\", \"name\", \"birthDate\", \"ownerId\", \"weight\" FROM \"pet\" "
                   "WHERE \"ownerId\" = $1 AND (\"name\" = $2)");
    done(&b);
    build(&b, &(dsql__select){.m = &owner_model, .via = &owner_weighed_pets, .via_row = &o});
    assert_int_equal(b.rc, DSQL_EINVAL);
    assert_string_equal(b.err.message, "association pets leads to model pet, not owner");
    done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_where_ops),     cmocka_unit_test(test_where_params),
        cmocka_unit_test(test_where_errors),  cmocka_unit_test(test_select_simple),
        cmocka_unit_test(test_select_errors), cmocka_unit_test(test_select_includes),
        cmocka_unit_test(test_select_via),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
