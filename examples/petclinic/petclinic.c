/* The pet clinic: Aurora DSQL's Sequelize sample in C. Writes owners, pets, vets and their
 * specialties, reads them back and checks every value. Targets CLUSTER_ENDPOINT when set,
 * else the PG* server.  Usage: petclinic [--sync] [-v]  (sync the schema; log SQL) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dsql/dsql.h>

/* The models: plain structs. Pointers to char are text (NULL = SQL NULL); the arrays are
 * filled when a find includes the association. */
// clang-format off
typedef struct pet { dsql_uuid id; char *name, *birth_date; dsql_uuid owner_id;
                     struct owner *owner; } pet;
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

static dsql_error err;

static void check(const char *expected, const char *actual)
{
    if (!actual || strcmp(expected, actual) != 0) {
        fprintf(stderr, "Incorrect query result, expected: \"%s\", actual: %s\n", expected,
                actual ? actual : "null");
        exit(1);
    }
}

/* Every call returns DSQL_OK or fills err: report it and stop. */
#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((call) != DSQL_OK) {                                                                   \
            fprintf(stderr, "petclinic: %s [%s]\n", err.message, dsql_status_name(err.status));    \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Finds a vet with its specialties (ordered by name), prints and checks them. */
static vet *find_vet(dsql_pool *pool, const char *name, const char *want, dsql_result **res)
{
    vet *v;
    TRY(dsql_find_one(
        pool, &vet_model,
        &(dsql_query){.where = DSQL_EQ("name", DSQL_STR(name)),
                      DSQL_INCLUDES({.assoc = &vet_specialties, DSQL_ORDER_BY(DSQL_ASC("id"))})},
        &v, res, &err));
    char list[256] = "";
    for (size_t i = 0; i < v->n_specialties; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 v->specialties[i].id);
    printf("%s ID: %s, Name: %s, Specialties: [%s]\n", name, v->id.str, v->name, list);
    check(name, v->name);
    check(want, list);
    return v;
}

int main(int argc, char **argv)
{
    int sync = 0;
    dsql_config cfg = DSQL_CONFIG_INIT;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sync"))
            sync = 1;
        else if (!strcmp(argv[i], "-v"))
            cfg.log = dsql_log_stderr;
        else
            return fprintf(stderr, "usage: petclinic [--sync] [-v]\n"), 2;
    }
    TRY(dsql_config_from_env(&cfg, &err));
    if (cfg.auth == DSQL_AUTH_IAM && cfg.user && strcmp(cfg.user, "admin") != 0)
        cfg.schema = "myschema"; /* on DSQL, non-admin users work in their own schema */
    dsql_pool *pool;
    TRY(dsql_pool_open(&cfg, NULL, &pool, &err));

    const dsql_model *models[] = {&owner_model, &pet_model, &vet_specialty_model, &vet_model,
                                  &specialty_model};
    for (size_t i = 0; i < 5; i++)
        TRY(dsql_drop_table(pool, models[i], true, &err));
    const dsql_assoc *assocs[] = {&pet_owner, &owner_pets, &vet_specialties};
    if (sync)
        TRY(dsql_sync(pool, models, 5, assocs, 3, NULL, &err));
    for (size_t i = 0; !sync && i < 5; i++)
        TRY(dsql_create_table(pool, models[i], &err));

    /* Two owners and two pets. */
    owner john = {.name = "John Doe", .city = "Anytown"};
    owner mary = {.name = "Mary Major", .city = "Anytown", .telephone = "555-555-0123"};
    TRY(dsql_create(pool, &owner_model, &john, NULL, &err));
    TRY(dsql_create(pool, &owner_model, &mary, NULL, &err));
    pet pet1 = {.name = "Pet1", .birth_date = "2006-10-25", .owner_id = john.id};
    pet pet2 = {.name = "Pet2", .birth_date = "2021-07-23", .owner_id = john.id};
    TRY(dsql_create(pool, &pet_model, &pet1, NULL, &err));
    TRY(dsql_create(pool, &pet_model, &pet2, NULL, &err));

    pet *p;
    dsql_result *pres;
    TRY(dsql_find_one(pool, &pet_model, &(dsql_query){.where = DSQL_EQ("name", DSQL_STR("Pet1"))},
                      &p, &pres, &err));
    printf("Pet1 ID: %s, Name: %s, Birth date: %s, Owner ID: %s\n", p->id.str, p->name,
           p->birth_date, p->owner_id.str);
    check(pet1.id.str, p->id.str);
    check("Pet1", p->name);
    check("2006-10-25", p->birth_date);
    check(john.id.str, p->owner_id.str);

    /* The pet's owner. */
    owner *o;
    dsql_result *ores;
    TRY(dsql_find_one(pool, &owner_model,
                      &(dsql_query){.where = DSQL_EQ("id", DSQL_STR(p->owner_id.str))}, &o, &ores,
                      &err));
    printf("John ID: %s, Name: %s, City: %s, Telephone: %s\n", o->id.str, o->name, o->city,
           o->telephone ? o->telephone : "null");
    check(john.id.str, o->id.str);
    check("John Doe", o->name);
    check("Anytown", o->city);
    check("null", o->telephone ? o->telephone : "null");
    dsql_result_free(ores), dsql_result_free(pres);

    /* Vets and specialties: many to many, through vetSpecialties. */
    specialty specs[] = {{"Exotic"}, {"Dogs"}, {"Cats"}};
    TRY(dsql_bulk_create(pool, &specialty_model, specs, 3, NULL, NULL, &err));
    vet akua = {.name = "Akua Mansa"}, carlos = {.name = "Carlos Salazar"};
    TRY(dsql_create(pool, &vet_model, &akua, NULL, &err));
    TRY(dsql_create(pool, &vet_model, &carlos, NULL, &err));
    TRY(dsql_set_associated(pool, &vet_specialties, &akua, (const void *[]){&specs[0]}, 1, &err));
    TRY(dsql_set_associated(pool, &vet_specialties, &carlos, (const void *[]){&specs[2], &specs[1]},
                            2, &err));

    dsql_result *ares, *cres;
    vet *a = find_vet(pool, "Akua Mansa", "Exotic", &ares);
    vet *c = find_vet(pool, "Carlos Salazar", "Cats, Dogs", &cres);

    /* Each specialty read back by primary key. */
    const specialty *found[] = {&a->specialties[0], &c->specialties[0], &c->specialties[1]};
    const char *names[] = {"Exotic", "Cats", "Dogs"};
    for (size_t i = 0; i < 3; i++) {
        specialty *s;
        dsql_result *sres;
        TRY(dsql_find_by_pk(pool, &specialty_model, DSQL_STR(found[i]->id), NULL, &s, &sres, &err));
        printf("%s ID: %s\n", names[i], s->id);
        check(names[i], s->id);
        dsql_result_free(sres);
    }
    dsql_result_free(ares), dsql_result_free(cres);
    dsql_pool_close(pool);
    dsql_config_clear(&cfg);
    return 0;
}
