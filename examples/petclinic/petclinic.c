/* The pet clinic: Aurora DSQL's Sequelize sample in C. Writes owners, pets, vets and their
 * specialties, reads them back and checks every value. Targets CLUSTER_ENDPOINT when set,
 * else the PG* server.  Usage: petclinic [--sync] [-v] [--stats]  (sync the schema; log SQL;
 * print the pool's round trips and statements on stderr at the end) */
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

/* Reads a vet the batch found (operation op) with its specialties, prints and checks them. */
static void check_vet(dsql_batch *b, size_t op, const char *name, const char *want)
{
    dsql_error err;
    vet *v;
    size_t n;
    TRY(dsql_batch_rows(b, op, &v, &n, &err));
    char list[256] = "";
    for (size_t i = 0; i < v->n_specialties; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 v->specialties[i].id);
    printf("%s ID: %s, Name: %s, Specialties: [%s]\n", name, v->id.str, v->name, list);
    check(name, v->name);
    check(want, list);
}

/* Queues a find of the vet named name with its specialties (ordered by name); returns the
 * operation's number. */
static size_t find_vet(dsql_batch *b, const char *name)
{
    dsql_error err;
    size_t op = dsql_batch_size(b);
    TRY(dsql_batch_find_one(
        b, &vet_model,
        &(dsql_query){.where = DSQL_EQ("name", DSQL_STR(name)),
                      DSQL_INCLUDES({.assoc = &vet_specialties, DSQL_ORDER_BY(DSQL_ASC("id"))})},
        &err));
    return op;
}

int main(int argc, char **argv)
{
    int sync = 0, stats = 0;
    dsql_error err;
    dsql_config cfg = DSQL_CONFIG_INIT;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sync"))
            sync = 1;
        else if (!strcmp(argv[i], "-v"))
            cfg.log = dsql_log_stderr;
        else if (!strcmp(argv[i], "--stats"))
            stats = 1;
        else {
            fprintf(stderr, "usage: petclinic [--sync] [-v] [--stats]\n");
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
    /* The schema: every DDL statement its own transaction (DSQL's rule), all of a call's
     * statements sent as one pipeline (one round trip). */
    TRY(dsql_drop_tables(pool, models, COUNT(models), true, &err));
    const dsql_assoc *assocs[] = {&pet_owner, &owner_pets, &vet_specialties};
    if (sync)
        TRY(dsql_sync(pool, models, COUNT(models), assocs, COUNT(assocs), NULL, &err));
    else
        TRY(dsql_create_tables(pool, models, COUNT(models), &err));

    /* The whole flow is one batch: one transaction, sent in one round trip. Keys are made
     * when a create is queued, so a pet can name its owner, and a find its row, before
     * anything is sent; the finds see the writes queued before them. */
    dsql_batch *b;
    TRY(dsql_batch_new(pool, NULL, &b, &err));

    /* Two owners and two pets. */
    owner john = {.name = "John Doe", .city = "Anytown"};
    owner mary = {.name = "Mary Major", .city = "Anytown", .telephone = "555-555-0123"};
    TRY(dsql_batch_create(b, &owner_model, &john, &err));
    TRY(dsql_batch_create(b, &owner_model, &mary, &err));
    pet pet1 = {.name = "Pet1", .birth_date = "2006-10-25", .owner_id = john.id};
    pet pet2 = {.name = "Pet2", .birth_date = "2021-07-23", .owner_id = john.id};
    TRY(dsql_batch_create(b, &pet_model, &pet1, &err));
    TRY(dsql_batch_create(b, &pet_model, &pet2, &err));

    /* Vets and specialties: many to many, through vetSpecialties. */
    specialty specs[] = {{"Exotic"}, {"Dogs"}, {"Cats"}};
    TRY(dsql_batch_bulk_create(b, &specialty_model, specs, COUNT(specs), NULL, &err));
    vet akua = {.name = "Akua Mansa"};
    vet carlos = {.name = "Carlos Salazar"};
    TRY(dsql_batch_create(b, &vet_model, &akua, &err));
    TRY(dsql_batch_create(b, &vet_model, &carlos, &err));
    const void *akua_specs[] = {&specs[0]};
    const void *carlos_specs[] = {&specs[2], &specs[1]};
    TRY(dsql_batch_set_associated(b, &vet_specialties, &akua, akua_specs, COUNT(akua_specs), &err));
    TRY(dsql_batch_set_associated(b, &vet_specialties, &carlos, carlos_specs, COUNT(carlos_specs),
                                  &err));

    /* The reads, by what is known already: operations are numbered in the order queued. */
    size_t find_pet = dsql_batch_size(b);
    TRY(dsql_batch_find_one(b, &pet_model,
                            &(dsql_query){.where = DSQL_EQ("name", DSQL_STR("Pet1"))}, &err));
    size_t find_owner = dsql_batch_size(b);
    TRY(dsql_batch_find_by_pk(b, &owner_model, DSQL_STR(john.id.str), NULL, &err));
    size_t find_akua = find_vet(b, "Akua Mansa");
    size_t find_carlos = find_vet(b, "Carlos Salazar");
    const char *names[] = {"Exotic", "Cats", "Dogs"};
    size_t find_spec = dsql_batch_size(b);
    for (size_t i = 0; i < COUNT(names); i++)
        TRY(dsql_batch_find_by_pk(b, &specialty_model, DSQL_STR(names[i]), NULL, &err));

    TRY(dsql_batch_run(b, &err));

    pet *p;
    size_t n;
    TRY(dsql_batch_rows(b, find_pet, &p, &n, &err));
    printf("Pet1 ID: %s, Name: %s, Birth date: %s, Owner ID: %s\n", p->id.str, p->name,
           p->birth_date, p->owner_id.str);
    check(pet1.id.str, p->id.str);
    check("Pet1", p->name);
    check("2006-10-25", p->birth_date);
    check(john.id.str, p->owner_id.str);

    /* The pet's owner. */
    owner *o;
    TRY(dsql_batch_rows(b, find_owner, &o, &n, &err));
    printf("John ID: %s, Name: %s, City: %s, Telephone: %s\n", o->id.str, o->name, o->city,
           o->telephone ? o->telephone : "null");
    check(p->owner_id.str, o->id.str);
    check("John Doe", o->name);
    check("Anytown", o->city);
    check("null", o->telephone ? o->telephone : "null");

    check_vet(b, find_akua, "Akua Mansa", "Exotic");
    check_vet(b, find_carlos, "Carlos Salazar", "Cats, Dogs");

    /* Each specialty read back by primary key. */
    for (size_t i = 0; i < COUNT(names); i++) {
        specialty *s;
        TRY(dsql_batch_rows(b, find_spec + i, &s, &n, &err));
        printf("%s ID: %s\n", names[i], s->id);
        check(names[i], s->id);
    }
    if (stats) {
        dsql_pool_stats st;
        dsql_pool_get_stats(pool, &st);
        fprintf(stderr, "petclinic: round_trips=%llu statements=%llu\n",
                (unsigned long long)st.round_trips, (unsigned long long)st.statements);
    }
    dsql_batch_free(b);
    dsql_pool_close(pool);
    dsql_config_clear(&cfg);
    return 0;
}
