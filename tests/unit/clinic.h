/* The pet-clinic models shared by the model-layer tests (owner -> pets -> visits, pet ->
 * owner, vet <-> specialty through vetSpecialties). */
#ifndef TEST_CLINIC_H
#define TEST_CLINIC_H

#include <stddef.h>

#include "dsql/dsql.h"

typedef struct pet pet;
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
    int32_t weight;
    bool has_weight;
    owner *owner;
    visit *visits;
    size_t n_visits;
};

struct visit {
    dsql_uuid id;
    dsql_uuid pet_id;
    char *note;
    char *day;
};

typedef struct vet {
    dsql_uuid id;
    char *name;
    specialty *specialties;
    size_t n_specialties;
} vet;

struct specialty {
    char *id;
};

typedef struct vet_specialty {
    dsql_uuid id;
    dsql_uuid vet_id;
    char *specialty_id;
} vet_specialty;

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
    DSQL_ATTR(pet, weight, DSQL_INTEGER, DSQL_HAS(pet, has_weight)),
};
static DSQL_MODEL(pet_model, pet, "pet", pet_attrs);

static const dsql_attr visit_attrs[] = {
    DSQL_ATTR(visit, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR_AS(visit, pet_id, "petId", DSQL_UUID),
    DSQL_ATTR(visit, note, DSQL_TEXT),
    DSQL_ATTR(visit, day, DSQL_DATEONLY),
};
static DSQL_MODEL(visit_model, visit, "visit", visit_attrs);

static const dsql_attr vet_attrs[] = {
    DSQL_ATTR(vet, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR(vet, name, DSQL_STRING(30), .not_null = true),
};
static DSQL_MODEL(vet_model, vet, "vet", vet_attrs);

static const dsql_attr specialty_attrs[] = {
    DSQL_ATTR(specialty, id, DSQL_STRING(80), .primary_key = true, .column = "name"),
};
static DSQL_MODEL(specialty_model, specialty, "specialty", specialty_attrs);

static const dsql_attr vet_specialty_attrs[] = {
    DSQL_ATTR(vet_specialty, id, DSQL_UUID, .primary_key = true, .default_uuid_v4 = true),
    DSQL_ATTR_AS(vet_specialty, vet_id, "vetId", DSQL_UUID),
    DSQL_ATTR_AS(vet_specialty, specialty_id, "specialtyId", DSQL_STRING(80)),
};
static DSQL_MODEL(vet_specialty_model, vet_specialty, "vetSpecialties", vet_specialty_attrs);

static const dsql_assoc owner_pets =
    DSQL_HAS_MANY(owner, pets, n_pets, &owner_model, &pet_model, "ownerId");
static const dsql_assoc pet_owner =
    DSQL_BELONGS_TO(pet, owner, &pet_model, &owner_model, "ownerId");
static const dsql_assoc pet_visits =
    DSQL_HAS_MANY(pet, visits, n_visits, &pet_model, &visit_model, "petId");
static const dsql_assoc vet_specialties =
    DSQL_BELONGS_TO_MANY(vet, specialties, n_specialties, &vet_model, &specialty_model,
                         &vet_specialty_model, "vetId", "specialtyId");

#endif
