/*
 * libdsql associations: belongs-to, has-one, has-many and belongs-to-many (through a join
 * model), eager loading through dsql_include (dsql/model.h), lazy getters, and atomic,
 * pipelined setters.
 *
 * Associations are static const descriptors next to the models:
 *
 *     typedef struct pet { dsql_uuid id; char *name; char *birth_date; dsql_uuid owner_id;
 *                          struct owner *owner; } pet;
 *     typedef struct owner { dsql_uuid id; ...; pet *pets; size_t n_pets; } owner;
 *
 *     static const dsql_assoc pet_owner =
 *         DSQL_BELONGS_TO(pet, owner, &pet_model, &owner_model, "ownerId");
 *     static const dsql_assoc owner_pets =
 *         DSQL_HAS_MANY(owner, pets, n_pets, &owner_model, &pet_model, "ownerId");
 *     static const dsql_assoc vet_specialties =
 *         DSQL_BELONGS_TO_MANY(vet, specialties, n_specialties, &vet_model, &specialty_model,
 *                              &vet_specialty_model, "vetId", "specialtyId");
 *
 * Hydration: a to-one association fills a pointer member (T *, NULL when there is no
 * match); a to-many one fills an array member (T *) and its count (size_t). All of it is
 * owned by the dsql_result of the find.
 *
 * No database constraint is created unless .constraints = true (then `dsql_sync` emits a
 * real FOREIGN KEY in the form Aurora DSQL accepts).
 *
 * Thread rule: descriptors are const and shared freely; calls follow dsql/model.h.
 */
#ifndef DSQL_ASSOC_H
#define DSQL_ASSOC_H
/* Declarations, comments and macro tables are aligned by hand: */
/* clang-format off */

#include <stdbool.h>
#include <stddef.h>

#include "dsql/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dsql_assoc_kind {
    DSQL_ASSOC_BELONGS_TO = 1,  /**< source holds foreign_key -> target's target_key */
    DSQL_ASSOC_HAS_ONE,         /**< target holds foreign_key -> source's source_key */
    DSQL_ASSOC_HAS_MANY,        /**< target holds foreign_key -> source's source_key */
    DSQL_ASSOC_BELONGS_TO_MANY  /**< through holds foreign_key -> source, other_key -> target */
} dsql_assoc_kind;

#define DSQL_ASSOC_MAGIC 0x64417363u

typedef struct dsql_assoc {
    uint32_t magic;
    dsql_assoc_kind kind;
    const char *alias;            /**< name in messages and SQL aliases; default member name */
    const dsql_model *source;
    const dsql_model *target;
    const dsql_model *through;    /**< join model (belongs-to-many only) */
    const char *foreign_key;      /**< attribute name; see dsql_assoc_kind */
    const char *other_key;        /**< belongs-to-many: through's attribute naming target */
    const char *source_key;       /**< NULL = source's primary key */
    const char *target_key;       /**< NULL = target's primary key */
    size_t member_offset;         /**< offsetof the pointer member in the source struct */
    size_t count_offset;          /**< to-many: offsetof the size_t count member */
    bool constraints;             /**< emit a real FOREIGN KEY in dsql_sync (default off) */
    const char *on_delete;        /**< with constraints: "CASCADE", "SET NULL", ... */
    size_t through_member;        /**< belongs-to-many: offsetof + 1 of a pointer member of
                                       the target struct (a through-model struct *) that an
                                       include of this association fills with the join row
                                       (its own columns readable); 0 = none.
                                       DSQL_THROUGH_MEMBER(T, member) */
    const void *reserved_[2];     /**< room for fields added later: zero */
} dsql_assoc;

/** Names the target struct's pointer member that receives the join row (Sequelize's
 * `specialty.VetSpecialties`): .through_member = offsetof(T, member) + 1. */
#define DSQL_THROUGH_MEMBER(T, member) .through_member = offsetof(T, member) + 1

/*
 * Descriptors, with named fields: the struct, its pointer member (and for to-many its
 * count member) positional, everything else by name, e.g.
 *
 *   DSQL_ASSOC_BELONGS_TO(pet, owner, .source = &pet_model, .target = &owner_model,
 *                         .foreign_key = "ownerId")
 *   DSQL_ASSOC_BELONGS_TO_MANY(vet, specialties, n_specialties, .source = &vet_model,
 *                              .target = &specialty_model, .through = &vet_specialty_model,
 *                              .foreign_key = "vetId", .other_key = "specialtyId")
 *
 * Any other field may follow (.alias, .source_key, .target_key, .constraints,
 * .on_delete). dsql_assoc_check says what is missing or wrong.
 */
#define DSQL_ASSOC_BELONGS_TO(S, member, ...)                                                  \
    {.magic = DSQL_ASSOC_MAGIC, .kind = DSQL_ASSOC_BELONGS_TO, .alias = #member,               \
     .member_offset = offsetof(S, member), __VA_ARGS__}
#define DSQL_ASSOC_HAS_ONE(S, member, ...)                                                     \
    {.magic = DSQL_ASSOC_MAGIC, .kind = DSQL_ASSOC_HAS_ONE, .alias = #member,                  \
     .member_offset = offsetof(S, member), __VA_ARGS__}
#define DSQL_ASSOC_HAS_MANY(S, member, count, ...)                                             \
    {.magic = DSQL_ASSOC_MAGIC, .kind = DSQL_ASSOC_HAS_MANY, .alias = #member,                 \
     .member_offset = offsetof(S, member), .count_offset = offsetof(S, count), __VA_ARGS__}
#define DSQL_ASSOC_BELONGS_TO_MANY(S, member, count, ...)                                      \
    {.magic = DSQL_ASSOC_MAGIC, .kind = DSQL_ASSOC_BELONGS_TO_MANY, .alias = #member,          \
     .member_offset = offsetof(S, member), .count_offset = offsetof(S, count), __VA_ARGS__}

/* The positional forms of 0.1 (deprecated: the named forms above say which model is
 * which; these stay until 0.3). */

#define DSQL_BELONGS_TO(S, member, src, tgt, fk)                                               \
    {.magic = DSQL_ASSOC_MAGIC, .kind = DSQL_ASSOC_BELONGS_TO, .alias = #member,               \
     .source = (src), .target = (tgt), .foreign_key = (fk),                                    \
     .member_offset = offsetof(S, member)}
#define DSQL_HAS_ONE(S, member, src, tgt, fk)                                                  \
    {.magic = DSQL_ASSOC_MAGIC, .kind = DSQL_ASSOC_HAS_ONE, .alias = #member, .source = (src),  \
     .target = (tgt), .foreign_key = (fk), .member_offset = offsetof(S, member)}
#define DSQL_HAS_MANY(S, member, count, src, tgt, fk)                                          \
    {.magic = DSQL_ASSOC_MAGIC, .kind = DSQL_ASSOC_HAS_MANY, .alias = #member,                 \
     .source = (src), .target = (tgt), .foreign_key = (fk),                                    \
     .member_offset = offsetof(S, member), .count_offset = offsetof(S, count)}
#define DSQL_BELONGS_TO_MANY(S, member, count, src, tgt, thru, fk, ok)                         \
    {.magic = DSQL_ASSOC_MAGIC, .kind = DSQL_ASSOC_BELONGS_TO_MANY, .alias = #member,          \
     .source = (src), .target = (tgt), .through = (thru), .foreign_key = (fk),                 \
     .other_key = (ok), .member_offset = offsetof(S, member),                                  \
     .count_offset = offsetof(S, count)}

/** Checks an association against its models (keys exist, types agree, members fit).
 * DSQL_EINVAL naming the problem. Every call below runs it too.
 * Borrows: a and its models (during the call only).
 * Owns: nothing is handed out. */
DSQL_API int dsql_assoc_check(const dsql_assoc *a, dsql_error *err);

/**
 * Lazy getter: the target rows associated with one source row, in one statement (q may
 * add where / order / limit / offset / attributes / includes on the target; NULL = all).
 * belongs-to-many joins through the join model. For to-one associations *n is 0 or 1; a
 * belongs-to whose foreign key is NULL gives 0 rows without a round trip. *rows (*n
 * structs of the target model) is owned by *res: free it with dsql_result_free(). A
 * source row without its key (never saved) is DSQL_EINVAL.
 * Borrows: db, a, source_row, q (during the call only).
 * Owns: *res is new and owns *rows (the structs and every string in them).
 * Free with: dsql_result_free(*res).
 */
DSQL_API int dsql_get_associated(dsql_db *db, const dsql_assoc *a, const void *source_row,
                                 const dsql_query *q, void *rows, size_t *n,
                                 dsql_result **res, dsql_error *err);

/**
 * How many target rows are associated with source_row (Sequelize's countX), matching
 * where (NULL = all): one count(*) statement, the target's scopes and soft deletes
 * applied as for dsql_get_associated. A belongs-to whose foreign key is NULL counts 0
 * without a round trip.
 * Borrows: db, a, source_row, where (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_count_associated(dsql_db *db, const dsql_assoc *a, const void *source_row,
                                   const dsql_where *where, int64_t *count, dsql_error *err);

/**
 * Whether every one of the n saved targets is associated with source_row (Sequelize's
 * hasX / hasXs): one count(*) statement over their keys; a target listed twice counts
 * once; n == 0 is true without a round trip.
 * Borrows: db, a, source_row, targets (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_has_associated(dsql_db *db, const dsql_assoc *a, const void *source_row,
                                 const void *const *targets, size_t n, bool *has,
                                 dsql_error *err);

/**
 * Replaces the whole set of targets associated with source_row (has-many: sets/clears the
 * targets' foreign key; belongs-to-many: deletes join rows no longer wanted, inserts new
 * ones with fresh UUID keys, keeps the others; belongs-to / has-one: n is 0 or 1).
 * targets: n pointers to rows of the target model; a target listed twice counts once.
 *
 * Atomic — one transaction through the OCC runner — and pipelined: BEGIN, a write to the
 * source row (so that concurrent changes of one source's set conflict and retry instead
 * of mixing), the DELETE / UPDATE, the INSERT / UPDATE and COMMIT go in one network round
 * trip. On a connection inside the caller's transaction the statements join it (still one
 * round trip). Source and targets must have been saved (have their keys): otherwise, and
 * for any other bad input, DSQL_EINVAL / DSQL_EVALIDATION naming it, before anything is
 * sent. The caller's structs are not changed.
 *
 * Row cap: one Aurora DSQL transaction modifies at most 3,000 rows (the source row, the
 * links removed and the links added count), and the call cannot be split without losing
 * its atomicity. On a pool the server refuses a larger change whole (DSQL_ELIMIT, nothing
 * changed: add or remove in steps). In the caller's transaction the call counts first, in
 * that transaction (one more statement, skipped when a bound known without asking fits),
 * and refuses what would take the transaction past the cap: DSQL_ELIMIT, nothing written,
 * the transaction still usable.
 * Borrows: db, a, source_row, targets (during the call only).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_set_associated(dsql_db *db, const dsql_assoc *a, const void *source_row,
                                 const void *const *targets, size_t n, dsql_error *err);

/** Adds targets to the set (existing links are kept, duplicates not created). To-many
 * associations only. Atomic and pipelined as dsql_set_associated.
 * Borrows: db, a, source_row, targets (during the call only).
 * Owns: nothing is handed out. */
DSQL_API int dsql_add_associated(dsql_db *db, const dsql_assoc *a, const void *source_row,
                                 const void *const *targets, size_t n, dsql_error *err);

/** Removes targets from the set (targets not in it are left alone; n == 0 sends nothing).
 * To-many associations only. Atomic and pipelined as dsql_set_associated.
 * Borrows: db, a, source_row, targets (during the call only).
 * Owns: nothing is handed out. */
DSQL_API int dsql_remove_associated(dsql_db *db, const dsql_assoc *a, const void *source_row,
                                    const void *const *targets, size_t n, dsql_error *err);

/**
 * Inserts row — a new row of a->source, handled as dsql_create handles it (defaults such
 * as client-side UUIDs filled into the caller's struct, validated before anything is
 * sent) — and links it to the saved targets, in one transaction sent as one pipeline: one
 * network round trip, retried whole on OCC conflicts. The seed's "create a vet, then set
 * its specialties" in one call, and cheaper on the server than dsql_create followed by
 * dsql_set_associated (two transactions): the row is new, so there is nothing to replace
 * and no concurrent set to guard against. belongs-to-many: the join rows are inserted;
 * has-many / has-one (n at most 1): the targets' foreign key is set to the new row.
 * belongs-to is DSQL_EINVAL (the row holds that key itself: set it and use dsql_create).
 * A target listed twice is linked once. On failure nothing is inserted. Row cap as
 * dsql_set_associated (the new row and its links count).
 * Borrows: db, a, targets (during the call only); row is written to (its defaults).
 * Owns: nothing is handed out.
 */
DSQL_API int dsql_create_linked(dsql_db *db, const dsql_assoc *a, void *row,
                                const void *const *targets, size_t n, dsql_error *err);


/* In C, each call above takes a pool, a connection or a dsql_db (see DSQL_DB). */
#if !defined(__cplusplus) && !defined(DSQL_BUILDING)
#define dsql_get_associated(db, ...) (dsql_get_associated)(DSQL_DB(db), __VA_ARGS__)
#define dsql_set_associated(db, ...) (dsql_set_associated)(DSQL_DB(db), __VA_ARGS__)
#define dsql_add_associated(db, ...) (dsql_add_associated)(DSQL_DB(db), __VA_ARGS__)
#define dsql_remove_associated(db, ...) (dsql_remove_associated)(DSQL_DB(db), __VA_ARGS__)
#define dsql_create_linked(db, ...) (dsql_create_linked)(DSQL_DB(db), __VA_ARGS__)
#define dsql_count_associated(db, ...) (dsql_count_associated)(DSQL_DB(db), __VA_ARGS__)
#define dsql_has_associated(db, ...) (dsql_has_associated)(DSQL_DB(db), __VA_ARGS__)
#endif

#ifdef __cplusplus
}
#endif

/* clang-format on */
#endif
