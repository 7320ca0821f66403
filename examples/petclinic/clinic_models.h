/*
 * The pet clinic's models: Aurora DSQL's Sequelize sample (owner, pet, specialty, vet and
 * the vetSpecialties join table) as plain C structs described by static tables, and their
 * associations. Written once: the example, the benchmark and the tests include it. Header-only (the
 * descriptors are static, one copy per program).
 */
#ifndef DSQL_EXAMPLE_CLINIC_MODELS_H
#define DSQL_EXAMPLE_CLINIC_MODELS_H

#include <dsql/dsql.h>

/* A program that adds models of its own around these (the library's tests do) may give
 * struct pet more members by defining CLINIC_PET_EXTRA_MEMBERS before including this file;
 * the descriptors below are the same either way. */
#ifndef CLINIC_PET_EXTRA_MEMBERS
#define CLINIC_PET_EXTRA_MEMBERS
#endif

/* The models: plain structs. Pointers to char are text (NULL = SQL NULL); the arrays are
 * filled when a find includes the association. */
// clang-format off
typedef struct pet { dsql_uuid id; char *name, *birth_date; dsql_uuid owner_id;
                     struct owner *owner; CLINIC_PET_EXTRA_MEMBERS } pet;
typedef struct owner { dsql_uuid id; char *name, *city, *telephone; pet *pets;
                       size_t n_pets; } owner;
typedef struct specialty { char *id; } specialty;
typedef struct vet { dsql_uuid id; char *name; specialty *specialties;
                     size_t n_specialties; } vet;
typedef struct vet_specialty { dsql_uuid id, vet_id; char *specialty_id; } vet_specialty;
// clang-format on

static const dsql_attr owner_attrs[] = {
    DSQL_ATTR(owner, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(owner, name, DSQL_STRING(30), .not_null = true),
    DSQL_ATTR(owner, city, DSQL_STRING(80), .not_null = true),
    DSQL_ATTR(owner, telephone, DSQL_STRING(20)),
};
static const dsql_attr pet_attrs[] = {
    DSQL_ATTR(pet, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(pet, name, DSQL_STRING(30), .not_null = true),
    DSQL_ATTR_AS(pet, birth_date, "birthDate", DSQL_DATEONLY, .not_null = true),
    DSQL_ATTR_AS(pet, owner_id, "ownerId", DSQL_UUID),
};
static const dsql_attr specialty_attrs[] = {
    DSQL_ATTR(specialty, id, DSQL_STRING(80), .primary_key = true, .column = "name"),
};
static const dsql_attr vet_attrs[] = {
    DSQL_ATTR(vet, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(vet, name, DSQL_STRING(30), .not_null = true),
};
static const dsql_attr vet_specialty_attrs[] = {
    DSQL_ATTR(vet_specialty, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR_AS(vet_specialty, vet_id, "vetId", DSQL_UUID),
    DSQL_ATTR_AS(vet_specialty, specialty_id, "specialtyId", DSQL_STRING(80)),
};
static DSQL_MODEL(owner_model, owner, "owner", owner_attrs);
static DSQL_MODEL(pet_model, pet, "pet", pet_attrs);
static DSQL_MODEL(specialty_model, specialty, "specialty", specialty_attrs);
static DSQL_MODEL(vet_model, vet, "vet", vet_attrs);
static DSQL_MODEL(vet_specialty_model, vet_specialty, "vetSpecialties", vet_specialty_attrs);

/* Relationships, without database constraints (as the sample). */
static const dsql_assoc pet_owner = DSQL_ASSOC_BELONGS_TO(
    pet, owner, .source = &pet_model, .target = &owner_model, .foreign_key = "ownerId");
static const dsql_assoc owner_pets = DSQL_ASSOC_HAS_MANY(
    owner, pets, n_pets, .source = &owner_model, .target = &pet_model, .foreign_key = "ownerId");
static const dsql_assoc vet_specialties = DSQL_ASSOC_BELONGS_TO_MANY(
    vet, specialties, n_specialties, .source = &vet_model, .target = &specialty_model,
    .through = &vet_specialty_model, .foreign_key = "vetId", .other_key = "specialtyId");

#endif
