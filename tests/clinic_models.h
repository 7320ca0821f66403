/*
 * The pet-clinic models of the seed (owner, pet, specialty, vet, vetSpecialties and their
 * associations, constraints off as in the seed), with the extras the tests need:
 *  - collar: a has-one target (pet has one collar);
 *  - weighed_pet_model: the same struct pet and table "pet" with one more attribute, an
 *    optional INTEGER weight (for numeric filters), and visit, a has-many under it;
 *  - pet_owner_fk, vet_specialties_fk: associations with foreign-key constraints on.
 * The seed's models keep their exact columns: tests assert the SQL built from them.
 * Header-only (static descriptors); shared by the unit and the integration tests.
 */
#ifndef DSQL_TEST_CLINIC_MODELS_H
#define DSQL_TEST_CLINIC_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dsql/dsql.h"

typedef struct pet pet;
typedef struct collar collar;
typedef struct visit visit;
typedef struct specialty specialty;

typedef struct owner {
    dsql_uuid id;
    char *name;
    char *city;
    char *telephone;
    pet *pets;
    size_t n_pets;
} owner;

struct pet {
    dsql_uuid id;
    char *name;
    char *birth_date;
    dsql_uuid owner_id;
    int32_t weight; /* weighed_pet_model only */
    bool has_weight;
    owner *owner;
    collar *collar;
    visit *visits; /* under weighed_pet_model */
    size_t n_visits;
};

struct collar {
    dsql_uuid id;
    char *color;
    dsql_uuid pet_id;
};

struct visit {
    dsql_uuid id;
    dsql_uuid pet_id;
    char *note;
    char *day;
};

struct specialty {
    char *id; /* column "name" */
};

typedef struct vet {
    dsql_uuid id;
    char *name;
    specialty *specialties;
    size_t n_specialties;
} vet;

typedef struct vet_specialty {
    dsql_uuid id;
    dsql_uuid vet_id;
    char *specialty_id;
} vet_specialty;

/* ---- the seed ---- */

static const dsql_attr owner_attrs[] = {
    DSQL_ATTR(owner, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(owner, name, DSQL_STRING(30), .not_null = true),
    DSQL_ATTR(owner, city, DSQL_STRING(80), .not_null = true),
    DSQL_ATTR(owner, telephone, DSQL_STRING(20)),
};
static DSQL_MODEL(owner_model, owner, "owner", owner_attrs);

static const dsql_attr pet_attrs[] = {
    DSQL_ATTR(pet, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(pet, name, DSQL_STRING(30), .not_null = true),
    DSQL_ATTR_AS(pet, birth_date, "birthDate", DSQL_DATEONLY, .not_null = true),
    DSQL_ATTR_AS(pet, owner_id, "ownerId", DSQL_UUID),
};
static DSQL_MODEL(pet_model, pet, "pet", pet_attrs);

static const dsql_attr specialty_attrs[] = {
    DSQL_ATTR(specialty, id, DSQL_STRING(80), .primary_key = true, .column = "name"),
};
static DSQL_MODEL(specialty_model, specialty, "specialty", specialty_attrs);

static const dsql_attr vet_attrs[] = {
    DSQL_ATTR(vet, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(vet, name, DSQL_STRING(30), .not_null = true),
};
static DSQL_MODEL(vet_model, vet, "vet", vet_attrs);

static const dsql_attr vet_specialty_attrs[] = {
    DSQL_ATTR(vet_specialty, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR_AS(vet_specialty, vet_id, "vetId", DSQL_UUID),
    DSQL_ATTR_AS(vet_specialty, specialty_id, "specialtyId", DSQL_STRING(80)),
};
static DSQL_MODEL(vet_specialty_model, vet_specialty, "vetSpecialties", vet_specialty_attrs);

/* The seed's five tables, in its order. */
static const dsql_model *const seed_models[] = {&owner_model, &pet_model, &specialty_model,
                                                &vet_model, &vet_specialty_model};

static const dsql_assoc pet_owner = DSQL_ASSOC_BELONGS_TO(
    pet, owner, .source = &pet_model, .target = &owner_model, .foreign_key = "ownerId");
static const dsql_assoc owner_pets = DSQL_ASSOC_HAS_MANY(
    owner, pets, n_pets, .source = &owner_model, .target = &pet_model, .foreign_key = "ownerId");
static const dsql_assoc vet_specialties = DSQL_ASSOC_BELONGS_TO_MANY(
    vet, specialties, n_specialties, .source = &vet_model, .target = &specialty_model,
    .through = &vet_specialty_model, .foreign_key = "vetId", .other_key = "specialtyId");

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
