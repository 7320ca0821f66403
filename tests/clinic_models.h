/*
 * The pet-clinic models of the seed (owner, pet, specialty, vet, vetSpecialties and their
 * associations, constraints off as in the seed), with the extras the tests need:
 *  - collar: a has-one target (pet has one collar);
 *  - weighed_pet_model: the same struct pet and table "pet" with one more attribute, an
 *    optional INTEGER weight (for numeric filters), and visit, a has-many under it;
 *  - pet_owner_fk, vet_specialties_fk: associations with foreign-key constraints on.
 * The seed's models are examples/petclinic/clinic_models.h itself, so tests assert the SQL
 * built from the very descriptors the example runs. Header-only (static descriptors);
 * shared by the unit and the integration tests.
 */
#ifndef DSQL_TEST_CLINIC_MODELS_H
#define DSQL_TEST_CLINIC_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The seed's models, associations and structs are the example's (one block for the
 * example, the benchmark and the tests); struct pet gains the members the extra models
 * below fill. */
struct collar;
struct visit;
#define CLINIC_PET_EXTRA_MEMBERS                                                                   \
    int32_t weight; /* weighed_pet_model only */                                                   \
    bool has_weight;                                                                               \
    struct collar *collar;                                                                         \
    struct visit *visits; /* under weighed_pet_model */                                            \
    size_t n_visits;
#include "../examples/petclinic/clinic_models.h"

typedef struct collar {
    dsql_uuid id;
    char *color;
    dsql_uuid pet_id;
} collar;

typedef struct visit {
    dsql_uuid id;
    dsql_uuid pet_id;
    char *note;
    char *day;
} visit;

/* The seed's five tables, in its order. */
static const dsql_model *const seed_models[] = {&owner_model, &pet_model, &specialty_model,
                                                &vet_model, &vet_specialty_model};

/* ---- not in the seed ---- */

static const dsql_attr collar_attrs[] = {
    DSQL_ATTR(collar, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(collar, color, DSQL_STRING(20), .not_null = true),
    DSQL_ATTR_AS(collar, pet_id, "petId", DSQL_UUID),
};
static DSQL_MODEL(collar_model, collar, "collar", collar_attrs);

static const dsql_assoc pet_collar = DSQL_ASSOC_HAS_ONE(
    pet, collar, .source = &pet_model, .target = &collar_model, .foreign_key = "petId");

/* The seed's pet plus an optional weight; model name and table stay "pet". */
static const dsql_attr weighed_pet_attrs[] = {
    DSQL_ATTR(pet, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(pet, name, DSQL_STRING(30), .not_null = true),
    DSQL_ATTR_AS(pet, birth_date, "birthDate", DSQL_DATEONLY, .not_null = true),
    DSQL_ATTR_AS(pet, owner_id, "ownerId", DSQL_UUID),
    DSQL_ATTR(pet, weight, DSQL_INTEGER, DSQL_HAS(pet, has_weight)),
};
static DSQL_MODEL(weighed_pet_model, pet, "pet", weighed_pet_attrs);

static const dsql_attr visit_attrs[] = {
    DSQL_ATTR(visit, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR_AS(visit, pet_id, "petId", DSQL_UUID),
    DSQL_ATTR(visit, note, DSQL_TEXT),
    DSQL_ATTR(visit, day, DSQL_DATEONLY),
};
static DSQL_MODEL(visit_model, visit, "visit", visit_attrs);

static const dsql_assoc owner_weighed_pets =
    DSQL_ASSOC_HAS_MANY(owner, pets, n_pets, .source = &owner_model, .target = &weighed_pet_model,
                        .foreign_key = "ownerId");
static const dsql_assoc weighed_pet_owner = DSQL_ASSOC_BELONGS_TO(
    pet, owner, .source = &weighed_pet_model, .target = &owner_model, .foreign_key = "ownerId");
static const dsql_assoc weighed_pet_visits =
    DSQL_ASSOC_HAS_MANY(pet, visits, n_visits, .source = &weighed_pet_model, .target = &visit_model,
                        .foreign_key = "petId");

/* Foreign-key constraints on; the action spelled in lower case (the DDL writes it upper). */
static const dsql_assoc pet_owner_fk = {.magic = DSQL_ASSOC_MAGIC,
                                        .kind = DSQL_ASSOC_BELONGS_TO,
                                        .alias = "owner",
                                        .source = &pet_model,
                                        .target = &owner_model,
                                        .foreign_key = "ownerId",
                                        .member_offset = offsetof(pet, owner),
                                        .constraints = true,
                                        .on_delete = "set null"};
static const dsql_assoc vet_specialties_fk = {.magic = DSQL_ASSOC_MAGIC,
                                              .kind = DSQL_ASSOC_BELONGS_TO_MANY,
                                              .alias = "specialties",
                                              .source = &vet_model,
                                              .target = &specialty_model,
                                              .through = &vet_specialty_model,
                                              .foreign_key = "vetId",
                                              .other_key = "specialtyId",
                                              .member_offset = offsetof(vet, specialties),
                                              .count_offset = offsetof(vet, n_specialties),
                                              .constraints = true};

#endif
