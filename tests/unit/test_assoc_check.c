/* Association descriptors: keys on the right models, key types that agree, members that
 * fit the source struct. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "model/internal.h"
#include "clinic_models.h"

static void expect_bad(const dsql_assoc *a, const char *msg)
{
    dsql_error err = DSQL_ERROR_INIT;
    assert_int_equal(dsql_assoc_check(a, &err), DSQL_EINVAL);
    assert_string_equal(err.message, msg);
}

static void test_good(void **state)
{
    (void)state;
    dsql_error err = DSQL_ERROR_INIT;
    dsql__assoc_keys k;
    assert_int_equal(dsql__assoc_resolve(&owner_pets, &k, &err), DSQL_OK);
    assert_ptr_equal(k.foreign_key, &pet_attrs[3]);
    assert_ptr_equal(k.source_key, &owner_attrs[0]);
    assert_null(k.target_key);
    assert_true(dsql__assoc_to_many(&owner_pets));
    assert_int_equal(dsql__assoc_resolve(&pet_owner, &k, &err), DSQL_OK);
    assert_ptr_equal(k.foreign_key, &pet_attrs[3]);
    assert_ptr_equal(k.target_key, &owner_attrs[0]);
    assert_false(dsql__assoc_to_many(&pet_owner));
    assert_int_equal(dsql_assoc_check(&pet_collar, &err), DSQL_OK);
    assert_int_equal(dsql__assoc_resolve(&vet_specialties, &k, &err), DSQL_OK);
    assert_ptr_equal(k.foreign_key, &vet_specialty_attrs[1]);
    assert_ptr_equal(k.other_key, &vet_specialty_attrs[2]);
    assert_ptr_equal(k.source_key, &vet_attrs[0]);
    assert_ptr_equal(k.target_key, &specialty_attrs[0]);
    assert_string_equal(owner_pets.alias, "pets");
}

static void test_bad(void **state)
{
    (void)state;
    dsql_assoc a = owner_pets;
    a.foreign_key = "owner_id_typo";
    expect_bad(&a, "dsql_assoc_check: association owner.pets (has-many): foreign key "
                   "\"owner_id_typo\" is not an "
                   "attribute of model pet");
    a = owner_weighed_pets;
    a.foreign_key = "weight";
    expect_bad(&a, "dsql_assoc_check: association owner.pets (has-many): key types differ: "
                   "pet.weight is INTEGER, "
                   "owner.id is UUID");
    a = pet_owner;
    a.target_key = "name";
    expect_bad(&a, "dsql_assoc_check: association pet.owner (belongs-to): key types differ: "
                   "pet.ownerId is UUID, "
                   "owner.name is STRING(30)");
    a = owner_pets;
    a.count_offset = a.member_offset;
    expect_bad(&a, "dsql_assoc_check: association owner.pets (has-many): the array member and its "
                   "count overlap "
                   "(count member missing?)");
    a = owner_pets;
    a.member_offset = sizeof(owner);
    char msg[256];
    snprintf(msg, sizeof msg,
             "dsql_assoc_check: association owner.pets (has-many): member offset %zu does not fit "
             "a pointer "
             "inside struct owner (%zu bytes)",
             sizeof(owner), sizeof(owner));
    expect_bad(&a, msg);
    a = owner_pets;
    a.member_offset = offsetof(owner, name);
    expect_bad(&a, "dsql_assoc_check: association owner.pets (has-many): member overlaps attribute "
                   "owner.name");
    a = owner_pets;
    a.count_offset = sizeof(owner) - 4;
    snprintf(msg, sizeof msg,
             "dsql_assoc_check: association owner.pets (has-many): count offset %zu does not fit a "
             "size_t "
             "inside struct owner (%zu bytes)",
             sizeof(owner) - 4, sizeof(owner));
    expect_bad(&a, msg);
    a = vet_specialties;
    a.through = NULL;
    expect_bad(&a,
               "dsql_assoc_check: association vet.specialties (belongs-to-many): no through model");
    a = vet_specialties;
    a.other_key = "nope";
    expect_bad(&a, "dsql_assoc_check: association vet.specialties (belongs-to-many): other key "
                   "\"nope\" is not an "
                   "attribute of model vet_specialty");
    a = vet_specialties;
    a.other_key = "vetId";
    expect_bad(&a,
               "dsql_assoc_check: association vet.specialties (belongs-to-many): key types differ: "
               "vet_specialty.vetId is UUID, specialty.id is STRING(80)");
    a = vet_specialties;
    a.other_key = NULL;
    expect_bad(&a, "dsql_assoc_check: association vet.specialties (belongs-to-many): no other key "
                   "(the through "
                   "model's attribute naming the target)");
    /* A source model without a primary key needs an explicit source key. */
    static const dsql_attr nopk_attrs[] = {DSQL_ATTR(owner, name, DSQL_STRING(30))};
    dsql_model nopk = {.magic = DSQL_MODEL_MAGIC,
                       .name = "owner",
                       .table = "owner",
                       .struct_size = sizeof(owner),
                       .attrs = nopk_attrs,
                       .n_attrs = 1};
    a = owner_pets;
    a.source = &nopk;
    expect_bad(&a, "dsql_assoc_check: association owner.pets (has-many): model owner has no "
                   "primary key to use as "
                   "source key; set .source_key");
    /* A broken model is reported through the association. */
    static const dsql_attr bad_attrs[] = {DSQL_ATTR(owner, name, DSQL_INTEGER)};
    dsql_model bad = {.magic = DSQL_MODEL_MAGIC,
                      .name = "owner",
                      .table = "owner",
                      .struct_size = sizeof(owner),
                      .attrs = bad_attrs,
                      .n_attrs = 1};
    a = owner_pets;
    a.source = &bad;
    expect_bad(
        &a,
        "dsql_assoc_check: association pets: model owner: attribute \"name\": member is 8 bytes, "
        "INTEGER needs int32_t (4 bytes)");
    a = owner_pets;
    a.magic = 0;
    expect_bad(&a, "dsql_assoc_check: not an association descriptor (bad magic; declare it with "
                   "DSQL_HAS_MANY, "
                   "...)");
    expect_bad(NULL, "dsql_assoc_check: association is NULL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
