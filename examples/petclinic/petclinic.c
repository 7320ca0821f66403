/* The pet clinic: Aurora DSQL's Sequelize sample in C. Writes owners, pets, vets and their
 * specialties, reads them back and checks every value. Targets CLUSTER_ENDPOINT when set,
 * else the PG* server.  Usage: petclinic [--sync] [-v]  (sync the schema; log SQL) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dsql/dsql.h>

#include "clinic_models.h"

/* The number of elements of an array. */
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void check(const char *expected, const char *actual)
{
    if (!actual || strcmp(expected, actual) != 0) {
        fprintf(stderr, "Incorrect query result, expected: \"%s\", actual: %s\n", expected,
                actual ? actual : "null");
        exit(1);
    }
}

/* Every call returns DSQL_OK or fills the caller's err: report it and stop. */
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
    dsql_error err;
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
    dsql_error err;
    dsql_config cfg = DSQL_CONFIG_INIT;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sync"))
            sync = 1;
        else if (!strcmp(argv[i], "-v"))
            cfg.log = dsql_log_stderr;
        else {
            fprintf(stderr, "usage: petclinic [--sync] [-v]\n");
            return 2;
        }
    }
    TRY(dsql_config_from_env(&cfg, &err));
    if (cfg.auth == DSQL_AUTH_IAM && cfg.user && strcmp(cfg.user, "admin") != 0)
        cfg.schema = "myschema"; /* on DSQL, non-admin users work in their own schema */
    dsql_pool *pool;
    TRY(dsql_pool_open(&cfg, NULL, &pool, &err));

    const dsql_model *models[] = {&owner_model, &pet_model, &vet_specialty_model, &vet_model,
                                  &specialty_model};
    for (size_t i = 0; i < COUNT(models); i++)
        TRY(dsql_drop_table(pool, models[i], true, &err));
    const dsql_assoc *assocs[] = {&pet_owner, &owner_pets, &vet_specialties};
    if (sync)
        TRY(dsql_sync(pool, models, COUNT(models), assocs, COUNT(assocs), NULL, &err));
    for (size_t i = 0; !sync && i < COUNT(models); i++)
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
    dsql_result_free(ores);
    dsql_result_free(pres);

    /* Vets and specialties: many to many, through vetSpecialties. */
    specialty specs[] = {{"Exotic"}, {"Dogs"}, {"Cats"}};
    TRY(dsql_bulk_create(pool, &specialty_model, specs, COUNT(specs), NULL, NULL, &err));
    vet akua = {.name = "Akua Mansa"};
    vet carlos = {.name = "Carlos Salazar"};
    TRY(dsql_create(pool, &vet_model, &akua, NULL, &err));
    TRY(dsql_create(pool, &vet_model, &carlos, NULL, &err));
    const void *akua_specs[] = {&specs[0]};
    const void *carlos_specs[] = {&specs[2], &specs[1]};
    TRY(dsql_set_associated(pool, &vet_specialties, &akua, akua_specs, COUNT(akua_specs), &err));
    TRY(dsql_set_associated(pool, &vet_specialties, &carlos, carlos_specs, COUNT(carlos_specs),
                            &err));

    dsql_result *ares, *cres;
    vet *a = find_vet(pool, "Akua Mansa", "Exotic", &ares);
    vet *c = find_vet(pool, "Carlos Salazar", "Cats, Dogs", &cres);

    /* Each specialty read back by primary key. */
    const specialty *found[] = {&a->specialties[0], &c->specialties[0], &c->specialties[1]};
    const char *names[] = {"Exotic", "Cats", "Dogs"};
    for (size_t i = 0; i < COUNT(names); i++) {
        specialty *s;
        dsql_result *sres;
        TRY(dsql_find_by_pk(pool, &specialty_model, DSQL_STR(found[i]->id), NULL, &s, &sres, &err));
        printf("%s ID: %s\n", names[i], s->id);
        check(names[i], s->id);
        dsql_result_free(sres);
    }
    dsql_result_free(ares);
    dsql_result_free(cres);
    dsql_pool_close(pool);
    dsql_config_clear(&cfg);
    return 0;
}
