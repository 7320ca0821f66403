/*
 * The petclinic-N workload: schema, phases, data, checks, timing and output, shared by
 * every C implementation (see petclinic.h). bench/sequelize/petclinic.js is the same
 * workload for Sequelize; keep the two in step.
 */
#include "petclinic.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

const char *const pc_schema_sql[] = {
    "DROP TABLE IF EXISTS \"roomVisits\" CASCADE",
    "DROP TABLE IF EXISTS \"vetSpecialties\" CASCADE",
    "DROP TABLE IF EXISTS pet CASCADE",
    "DROP TABLE IF EXISTS vet CASCADE",
    "DROP TABLE IF EXISTS specialty CASCADE",
    "DROP TABLE IF EXISTS owner CASCADE",
    "CREATE TABLE owner (id uuid PRIMARY KEY, name varchar(30) NOT NULL, "
    "city varchar(80) NOT NULL, telephone varchar(20) DEFAULT NULL)",
    "CREATE TABLE pet (id uuid PRIMARY KEY, name varchar(30) NOT NULL, "
    "\"birthDate\" date NOT NULL, \"ownerId\" uuid)",
    "CREATE TABLE specialty (name varchar(80) PRIMARY KEY)",
    "CREATE TABLE vet (id uuid PRIMARY KEY, name varchar(30) NOT NULL)",
    "CREATE TABLE \"vetSpecialties\" (id uuid PRIMARY KEY, \"vetId\" uuid, "
    "\"specialtyId\" varchar(80))",
    "CREATE TABLE \"roomVisits\" (room integer PRIMARY KEY, visits integer NOT NULL)",
    NULL,
};

const char *const pc_seed_sql = "INSERT INTO \"roomVisits\" (room, visits) VALUES (0, 0), (1, 0), "
                                "(2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0), (9, 0)";

#define N_SPECIALTIES 10
static const char *const specialty_names[N_SPECIALTIES] = {
    "Radiology", "Surgery",  "Dentistry",   "Cardiology", "Exotic",
    "Dogs",      "Oncology", "Dermatology", "Cats",       "Anesthesia",
};
static const char *const birth_date = "2006-10-25";

typedef struct run {
    const pc_impl *impl;
    void *ctx;
    long n;
    char (*owner_ids)[PC_UUID_SIZE]; /* id of owner i, from phase 1 */
    long *by_name;                   /* owner indexes in the order of their names */
    bool seed_queries;               /* pet and owner as two queries, as the seed does */
    const char *phase;
    long op;
    char err[PC_ERR_SIZE];
} run;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

bool pc_copy(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        return false;
    memcpy(dst, src, len + 1);
    return true;
}

/* A wrong result or a failed operation ends the implementation's run with exit 1. */
static void fail(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail(run *r, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "bench=%s FAILED phase=%s op=%ld: ", r->impl->name, r->phase, r->op);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* Checks an operation's return value: PC_OK, or fails with what went wrong. */
static void ok(run *r, int rc, const char *what)
{
    if (rc == PC_OK)
        return;
    if (rc == PC_NOTFOUND)
        fail(r, "%s: no row found", what);
    fail(r, "%s: %s", what, r->err[0] ? r->err : "(no message)");
}

static void expect_str(run *r, const char *field, const char *want, const char *got)
{
    if (strcmp(want, got) != 0)
        fail(r, "%s: expected \"%s\", got \"%s\"", field, want, got);
}

static void expect_size(run *r, const char *field, size_t want, size_t got)
{
    if (want != got)
        fail(r, "%s: expected %zu, got %zu", field, want, got);
}

/* ---- the data ---- */

static void owner_data(long i, pc_owner *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->name, sizeof(o->name), "Owner %ld", i);
    snprintf(o->city, sizeof(o->city), "Anytown");
    o->has_telephone = i % 2 == 1;
    if (o->has_telephone)
        snprintf(o->telephone, sizeof(o->telephone), "555-%07d", (int)(i % 10000000));
}

static void pet_name(long i, int j, char *out)
{
    snprintf(out, PC_NAME_SIZE, "Pet %ld.%d", i, j);
}

/* Vet i gets two specialties, in list order (not name order, for half of the vets). */
static void vet_data(long i, pc_vet *v)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->name, sizeof(v->name), "Vet %ld", i);
    v->n_specialties = 2;
    pc_copy(v->specialties[0], PC_SPECIALTY_SIZE, specialty_names[i % N_SPECIALTIES]);
    pc_copy(v->specialties[1], PC_SPECIALTY_SIZE, specialty_names[(i + 3) % N_SPECIALTIES]);
}

/* Owner i as the upsert phase leaves it: the even ones got a telephone of the 556 range
 * (the odd ones keep their 555 one). */
static void owner_data_upserted(long i, pc_owner *o)
{
    owner_data(i, o);
    if (i % 2 == 0) {
        o->has_telephone = true;
        snprintf(o->telephone, sizeof(o->telephone), "556-%07d", (int)(i % 10000000));
    }
}

static void check_owner_is(run *r, const char *id, const pc_owner *want, const pc_owner *got)
{
    expect_str(r, "owner.id", id, got->id);
    expect_str(r, "owner.name", want->name, got->name);
    expect_str(r, "owner.city", want->city, got->city);
    if (want->has_telephone != got->has_telephone)
        fail(r, "owner.telephone: expected %s, got %s", want->has_telephone ? "a value" : "NULL",
             got->has_telephone ? "a value" : "NULL");
    if (want->has_telephone)
        expect_str(r, "owner.telephone", want->telephone, got->telephone);
}

static void check_owner(run *r, long i, const pc_owner *got)
{
    pc_owner want;
    owner_data(i, &want);
    check_owner_is(r, r->owner_ids[i], &want, got);
}

static void check_pet(run *r, long i, const pc_pet *got)
{
    if (!got->has_owner)
        fail(r, "pet.ownerId: expected %s, got NULL", r->owner_ids[i]);
    expect_str(r, "pet.ownerId", r->owner_ids[i], got->owner_id);
    expect_str(r, "pet.birthDate", birth_date, got->birth_date);
    if (strlen(got->id) != 36)
        fail(r, "pet.id: expected a UUID, got \"%s\"", got->id);
}

/* ---- the phases ---- */

static long phase_owner_create(run *r)
{
    for (r->op = 0; r->op < r->n; r->op++) {
        pc_owner o;
        owner_data(r->op, &o);
        ok(r, r->impl->owner_create(r->ctx, &o, r->err), "owner.create");
        if (strlen(o.id) != 36)
            fail(r, "owner.create: expected a UUID id, got \"%s\"", o.id);
        memcpy(r->owner_ids[r->op], o.id, PC_UUID_SIZE);
    }
    return r->n;
}

static long phase_pet_create(run *r)
{
    for (r->op = 0; r->op < r->n; r->op++) {
        for (int j = 0; j < 2; j++) {
            pc_pet p = {.has_owner = true};
            pet_name(r->op, j, p.name);
            pc_copy(p.birth_date, sizeof(p.birth_date), birth_date);
            memcpy(p.owner_id, r->owner_ids[r->op], PC_UUID_SIZE);
            ok(r, r->impl->pet_create(r->ctx, &p, r->err), "pet.create");
            if (strlen(p.id) != 36)
                fail(r, "pet.create: expected a UUID id, got \"%s\"", p.id);
        }
    }
    return 2 * r->n;
}

static long phase_specialty_bulk_create(run *r)
{
    r->op = 0;
    ok(r, r->impl->specialty_bulk_create(r->ctx, specialty_names, N_SPECIALTIES, r->err),
       "specialty.bulkCreate");
    return 1;
}

static long phase_vet_create_set(run *r)
{
    long n = r->n / 10;
    for (r->op = 0; r->op < n; r->op++) {
        pc_vet v;
        vet_data(r->op, &v);
        ok(r, r->impl->vet_create_set(r->ctx, &v, r->err), "vet.create+set");
        if (strlen(v.id) != 36)
            fail(r, "vet.create: expected a UUID id, got \"%s\"", v.id);
    }
    return n;
}

static long phase_pet_find_owner(run *r)
{
    for (r->op = 0; r->op < r->n; r->op++) {
        char name[PC_NAME_SIZE];
        pc_pet p;
        pc_owner o;
        pet_name(r->op, 0, name);
        memset(&p, 0, sizeof(p));
        memset(&o, 0, sizeof(o));
        if (r->impl->pet_find_with_owner && !r->seed_queries) {
            ok(r, r->impl->pet_find_with_owner(r->ctx, name, &p, &o, r->err),
               "pet.findOne with its owner");
        } else {
            ok(r, r->impl->pet_find_by_name(r->ctx, name, &p, r->err), "pet.findOne");
            ok(r, r->impl->owner_find_by_id(r->ctx, p.owner_id, &o, r->err), "owner.findOne");
        }
        expect_str(r, "pet.name", name, p.name);
        check_pet(r, r->op, &p);
        check_owner(r, r->op, &o);
    }
    return r->n;
}

static long phase_vet_find_include(run *r)
{
    long n = r->n / 10;
    for (r->op = 0; r->op < n; r->op++) {
        pc_vet want, got;
        vet_data(r->op, &want);
        memset(&got, 0, sizeof(got));
        ok(r, r->impl->vet_find_with_specialties(r->ctx, want.name, &got, r->err),
           "vet.findOne+include");
        expect_str(r, "vet.name", want.name, got.name);
        if (strlen(got.id) != 36)
            fail(r, "vet.id: expected a UUID, got \"%s\"", got.id);
        expect_size(r, "number of vet.Specialties", want.n_specialties, got.n_specialties);
        /* The query orders them by name (byte order: the server's collation is C). */
        if (strcmp(want.specialties[0], want.specialties[1]) > 0) {
            char t[PC_SPECIALTY_SIZE];
            memcpy(t, want.specialties[0], sizeof(t));
            memcpy(want.specialties[0], want.specialties[1], sizeof(t));
            memcpy(want.specialties[1], t, sizeof(t));
        }
        for (size_t k = 0; k < want.n_specialties; k++)
            expect_str(r, "vet.Specialties[k] (ordered by name)", want.specialties[k],
                       got.specialties[k]);
    }
    return n;
}

static long phase_specialty_find_by_pk(run *r)
{
    for (r->op = 0; r->op < r->n; r->op++) {
        const char *name = specialty_names[r->op % N_SPECIALTIES];
        char got[PC_SPECIALTY_SIZE] = "";
        ok(r, r->impl->specialty_find_by_pk(r->ctx, name, got, r->err), "specialty.findByPk");
        expect_str(r, "specialty.id", name, got);
    }
    return r->n;
}

static long phase_owner_find_pets(run *r)
{
    long n = r->n / 10;
    for (long k = 0; k < n; k++) {
        long i = k * 10; /* spread over the table */
        r->op = k;
        pc_owner want;
        owner_data(i, &want);
        pc_owner_pets got;
        memset(&got, 0, sizeof(got));
        ok(r, r->impl->owner_find_with_pets(r->ctx, want.name, &got, r->err), "owner.findOne+pets");
        check_owner(r, i, &got.owner);
        expect_size(r, "number of owner.Pets", 2, got.n_pets);
        bool seen[2] = {false, false};
        for (size_t m = 0; m < got.n_pets; m++) {
            check_pet(r, i, &got.pets[m]);
            int j;
            for (j = 0; j < 2; j++) {
                char name[PC_NAME_SIZE];
                pet_name(i, j, name);
                if (strcmp(name, got.pets[m].name) == 0)
                    break;
            }
            if (j == 2 || seen[j])
                fail(r, "owner.Pets: unexpected or repeated pet \"%s\"", got.pets[m].name);
            seen[j] = true;
        }
    }
    return n;
}

/* Room i % 10 gets 1 + i % 3 more visits; the statement's own new value is checked against
 * the sum so far. */
static long phase_room_increment(run *r)
{
    long long want[PC_ROOMS] = {0};
    for (r->op = 0; r->op < r->n; r->op++) {
        int room = (int)(r->op % PC_ROOMS), by = 1 + (int)(r->op % 3);
        long long got = -1;
        want[room] += by;
        ok(r, r->impl->room_increment(r->ctx, room, by, &got, r->err), "roomVisits.increment");
        if (got != want[room])
            fail(r, "roomVisits.visits of room %d: expected %lld, got %lld", room, want[room], got);
    }
    return r->n;
}

/* Upsert i: the even ones update owner i (owner_data_upserted), the odd ones insert a new
 * owner, "Client i" in Newtown without a telephone: both paths of the statement. */
static long phase_owner_upsert(run *r)
{
    for (r->op = 0; r->op < r->n; r->op++) {
        pc_owner want, o;
        const char *id;
        if (r->op % 2 == 0) {
            owner_data_upserted(r->op, &want);
            pc_copy(want.id, sizeof(want.id), r->owner_ids[r->op]);
        } else {
            memset(&want, 0, sizeof(want));
            snprintf(want.name, sizeof(want.name), "Client %ld", r->op);
            snprintf(want.city, sizeof(want.city), "Newtown");
        }
        o = want;
        ok(r, r->impl->owner_upsert(r->ctx, &o, r->err), "owner.upsert");
        id = want.id[0] ? want.id : o.id;
        if (strlen(id) != 36)
            fail(r, "owner.upsert: expected a UUID id, got \"%s\"", id);
        check_owner_is(r, id, &want, &o);
    }
    return r->n;
}

/* Pages of PC_PAGE_SIZE owners of Anytown by name, every page once, with their total: the
 * N owners of phase 1 (the upsert's new ones live in Newtown) as the upsert left them. */
static long phase_owner_find_and_count(run *r)
{
    long n = r->n / PC_PAGE_SIZE;
    for (r->op = 0; r->op < n; r->op++) {
        int offset = (int)(r->op * PC_PAGE_SIZE);
        pc_owner page[PC_PAGE_SIZE];
        size_t got = 0;
        long long total = -1;
        memset(page, 0, sizeof(page));
        ok(r,
           r->impl->owner_find_and_count(r->ctx, "Anytown", PC_PAGE_SIZE, offset, page, &got,
                                         &total, r->err),
           "owner.findAndCountAll");
        if (total != r->n)
            fail(r, "owner.findAndCountAll total: expected %ld, got %lld", r->n, total);
        expect_size(r, "owner.findAndCountAll rows", PC_PAGE_SIZE, got);
        for (size_t k = 0; k < got; k++) {
            long i = r->by_name[offset + (long)k];
            pc_owner want;
            owner_data_upserted(i, &want);
            check_owner_is(r, r->owner_ids[i], &want, &page[k]);
        }
    }
    return n;
}

typedef struct phase {
    const char *name;
    long (*fn)(run *r);
} phase;

static const phase phases[] = {
    {"owner.create", phase_owner_create},
    {"pet.create", phase_pet_create},
    {"specialty.bulkCreate", phase_specialty_bulk_create},
    {"vet.create+set", phase_vet_create_set},
    {"pet.findOne+owner", phase_pet_find_owner},
    {"vet.findOne+include", phase_vet_find_include},
    {"specialty.findByPk", phase_specialty_find_by_pk},
    {"owner.findOne+pets", phase_owner_find_pets},
    {"roomVisits.increment", phase_room_increment},
    {"owner.upsert", phase_owner_upsert},
    {"owner.findAndCountAll", phase_owner_find_and_count},
};

/* Owner names in byte order (the server's collation is C): "Owner 0", "Owner 1",
 * "Owner 10", ... */
static int cmp_owner_name(const void *a, const void *b)
{
    char na[PC_NAME_SIZE], nb[PC_NAME_SIZE];
    snprintf(na, sizeof(na), "Owner %ld", *(const long *)a);
    snprintf(nb, sizeof(nb), "Owner %ld", *(const long *)b);
    return strcmp(na, nb);
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s [-n N] [--rtt-ms MS] [--seed-queries]\n"
            "Runs the petclinic-N workload (default N = 1000) against the database named by\n"
            "the PG* environment. --rtt-ms only labels the output with the emulated round\n"
            "trip (bench/run.sh sets up the latency proxy). --seed-queries finds a pet and\n"
            "its owner with two queries, as the seed does, even where the implementation\n"
            "can do both in one statement.\n",
            prog);
}

int pc_run(const pc_impl *impl, int argc, char **argv)
{
    static const struct option opts[] = {{"rtt-ms", required_argument, NULL, 'r'},
                                         {"seed-queries", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    run r = {.impl = impl, .n = 1000, .phase = "setup"};
    const char *rtt = "0";
    int c;
    while ((c = getopt_long(argc, argv, "n:r:sh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'n':
            r.n = strtol(optarg, &end, 10);
            if (*end || end == optarg || r.n < 10 || r.n > 10000000) {
                fprintf(stderr, "%s: -n must be a whole number from 10 to 10000000, not '%s'\n",
                        argv[0], optarg);
                return 2;
            }
            break;
        case 'r':
            strtod(optarg, &end);
            if (*end || end == optarg) {
                fprintf(stderr, "%s: --rtt-ms must be a number, not '%s'\n", argv[0], optarg);
                return 2;
            }
            rtt = optarg;
            break;
        case 's':
            r.seed_queries = true;
            break;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        default:
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr, argv[0]);
        return 2;
    }
    r.owner_ids = calloc((size_t)r.n, sizeof(*r.owner_ids));
    r.by_name = calloc((size_t)r.n, sizeof(*r.by_name));
    if (!r.owner_ids || !r.by_name) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 1;
    }
    for (long i = 0; i < r.n; i++)
        r.by_name[i] = i;
    qsort(r.by_name, (size_t)r.n, sizeof(*r.by_name), cmp_owner_name);

    r.ctx = impl->open(r.err);
    if (!r.ctx)
        fail(&r, "open: %s", r.err);
    ok(&r, impl->reset_schema(r.ctx, r.err), "drop and create the tables");

    double total = 0;
    for (size_t k = 0; k < sizeof(phases) / sizeof(phases[0]); k++) {
        r.phase = phases[k].name;
        long long rt0 = impl->round_trips(r.ctx);
        double t0 = now_ms();
        long ops = phases[k].fn(&r);
        double ms = now_ms() - t0;
        long long rt1 = impl->round_trips(r.ctx);
        total += ms;
        printf("bench=%s phase=%s ops=%ld ms=%.3f rtt_ms=%s", impl->name, r.phase, ops, ms, rtt);
        if (rt0 >= 0 && rt1 >= 0)
            printf(" round_trips=%lld", rt1 - rt0);
        printf("\n");
        fflush(stdout);
    }
    impl->close(r.ctx);
    free(r.owner_ids);
    free(r.by_name);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("bench=%s total_ms=%.3f peak_rss_kb=%ld rtt_ms=%s n=%ld\n", impl->name, total,
           ru.ru_maxrss, rtt, r.n);
    return 0;
}
