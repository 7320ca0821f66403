/*
 * Batches (a unit of work): model operations whose inputs are known before the first
 * answer - creates, bulk creates, updates and deletes by key, association sets, finds -
 * queued, then sent together as ONE pipeline: one network round trip for the whole batch.
 *
 * A batch is either one atomic transaction (DSQL_BATCH_ATOMIC: everything or nothing,
 * retried as a whole on OCC conflicts) or independent transactions (DSQL_BATCH_INDEPENDENT:
 * each operation its own transaction with its own Sync, so a failure undoes nothing else;
 * a write that met a conflict runs again in a next round when nothing queued after it
 * uses its table).
 * Either way every operation gets its own status, error and rows, and the server runs them
 * in the order queued, so a find sees the writes queued before it.
 *
 * Everything a queue call needs is checked and copied when it is called (validation, the
 * model's before hooks, client-side defaults such as UUID keys), so nothing is sent for a
 * batch that holds a bad operation, and the caller's rows, wheres and values may change
 * or go away right after the queue call.
 *
 * Thread rule: a dsql_batch is used by one thread at a time. The pool it runs on may be
 * shared as usual.
 */
#ifndef DSQL_BATCH_H
#define DSQL_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "dsql/assoc.h"
#include "dsql/common.h"
#include "dsql/model.h"
#include "dsql/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How a batch's operations are grouped into transactions. */
typedef enum dsql_batch_mode {
    DSQL_BATCH_ATOMIC = 0, /**< one transaction: all operations apply or none does; retried
                                whole on OCC conflicts; at most 3,000 rows written */
    DSQL_BATCH_INDEPENDENT /**< each operation its own transaction: a failure leaves the
                                others as they are; a conflicted write runs again in a next
                                round when no later operation uses its table
                                (docs/batches.md) */
} dsql_batch_mode;

/** Options of a batch. Start from DSQL_BATCH_OPTIONS_INIT (or {0}). */
typedef struct dsql_batch_options {
    dsql_batch_mode mode;
    size_t max_rows;  /**< rows the batch's writes may modify, counted as they are queued;
                           0 = 30,000. An atomic batch holds at most 3,000 (Aurora DSQL's
                           cap per transaction) whatever this says */
    size_t max_bytes; /**< bytes of SQL text and parameter values the batch may hold; 0 =
                           8 MiB */
    const dsql_retry_policy *policy; /**< the OCC retry policy (NULL = defaults): atomic,
                                          of the whole batch; independent, of the rounds
                                          that rerun conflicted writes; borrowed until
                                          dsql_batch_free */
    void *reserved_[4];              /**< room for fields added later: zero */
} dsql_batch_options;

#define DSQL_BATCH_OPTIONS_INIT                                                                    \
    {                                                                                              \
        0                                                                                          \
    }

/** A batch of queued operations (opaque). */
typedef struct dsql_batch dsql_batch;

/**
 * A new, empty batch that will run on db (a pool, or a connection: inside the caller's
 * transaction its statements join that transaction and the mode does not matter). opts may
 * be NULL (atomic, the default limits). db is borrowed: it must outlive the batch.
 * *out is new: free with dsql_batch_free.
 * Borrows: db, until the batch is freed; opts (during the call only).
 * Owns: *out is new.
 * Free with: dsql_batch_free(*out).
 */
DSQL_API int dsql_batch_new(dsql_db *db, const dsql_batch_options *opts, dsql_batch **out,
                            dsql_error *err);

/** Frees the batch, its results and their rows. NULL: nothing.
 * Free with: this call frees b, its results and their rows. */
DSQL_API void dsql_batch_free(dsql_batch *b);

/*
 * The queue calls. Each checks its operation as the one-shot call would (the descriptor,
 * the values, validation, the model's before hooks), fills client-side defaults into the
 * caller's row (a UUID key is known at once), copies what it needs, and appends the
 * operation; operations are numbered from 0 in the order queued (dsql_batch_size() is the
 * number the next one gets). A queue call that fails leaves the batch refusing to run
 * (DSQL_EMISUSE naming the operation): nothing of a batch with a bad operation is sent.
 * Limits, refused when queued: the batch's max_rows and max_bytes, and in an atomic batch
 * (or the caller's transaction) Aurora DSQL's 3,000 rows per transaction (DSQL_ELIMIT).
 */

/** Queues dsql_create(m, row): one INSERT ... RETURNING; the row as stored is the
 * operation's row. Hooks: BEFORE_CREATE / BEFORE_SAVE now, AFTER_* once it committed.
 * Borrows: m (static); row (during the call only: defaults filled in, values copied).
 * Owns: nothing is handed out. */
DSQL_API int dsql_batch_create(dsql_batch *b, const dsql_model *m, void *row, dsql_error *err);

/** Queues n rows as one multi-row INSERT (at most 3,000 rows: it is one statement; larger
 * sets are dsql_bulk_create's, which chunks). on_conflict may be NULL (an error). Hooks:
 * BEFORE_BULK_CREATE now, AFTER_BULK_CREATE once it committed.
 * Borrows: m (static); rows, on_conflict (during the call only: copied).
 * Owns: nothing is handed out. */
DSQL_API int dsql_batch_bulk_create(dsql_batch *b, const dsql_model *m, void *rows, size_t n,
                                    const dsql_conflict *on_conflict, dsql_error *err);

/** Queues UPDATE m SET assigns WHERE where. where must select at most one row (an equality
 * on the primary key or a unique attribute), so the rows it modifies are known before
 * anything is sent; an update of many rows is dsql_update's (it chunks). The operation's
 * affected count is the rows updated.
 * Borrows: m (static); assigns, where (during the call only: copied).
 * Owns: nothing is handed out. */
DSQL_API int dsql_batch_update(dsql_batch *b, const dsql_model *m, const dsql_assign *assigns,
                               size_t n_assigns, const dsql_where *where, dsql_error *err);

/** Queues a delete of the row where selects (as dsql_batch_update: by key). A paranoid
 * model's row is marked, as dsql_delete does. Rows its ON DELETE CASCADE keys reach count
 * against Aurora DSQL's cap on the server (54000: that transaction rolls back whole).
 * Borrows: m (static); where (during the call only: copied).
 * Owns: nothing is handed out. */
DSQL_API int dsql_batch_delete(dsql_batch *b, const dsql_model *m, const dsql_where *where,
                               dsql_error *err);

/** Queues dsql_set_associated(a, source_row, targets[0..n)): its statements stay one
 * transaction (in an independent batch, a BEGIN ... COMMIT of their own). The source row's
 * key is read now, so a source queued by dsql_batch_create just before may be given.
 * Borrows: a (static); source_row, targets (during the call only: copied).
 * Owns: nothing is handed out. */
DSQL_API int dsql_batch_set_associated(dsql_batch *b, const dsql_assoc *a, const void *source_row,
                                       const void *const *targets, size_t n, dsql_error *err);

/** Queues dsql_find_all(m, q): the operation's rows (dsql_batch_rows).
 * Borrows: m (static); q (during the call only: copied).
 * Owns: the rows, later, are b's (dsql_batch_rows). */
DSQL_API int dsql_batch_find_all(dsql_batch *b, const dsql_model *m, const dsql_query *q,
                                 dsql_error *err);

/** Queues dsql_find_one(m, q): one row, or the operation's status DSQL_ENOTFOUND.
 * Borrows: m (static); q (during the call only: copied).
 * Owns: the row, later, is b's (dsql_batch_rows). */
DSQL_API int dsql_batch_find_one(dsql_batch *b, const dsql_model *m, const dsql_query *q,
                                 dsql_error *err);

/** Queues dsql_find_by_pk(m, pk, q): one row, or DSQL_ENOTFOUND.
 * Borrows: m (static); pk, q (during the call only: copied).
 * Owns: the row, later, is b's (dsql_batch_rows). */
DSQL_API int dsql_batch_find_by_pk(dsql_batch *b, const dsql_model *m, dsql_value pk,
                                   const dsql_query *q, dsql_error *err);

/**
 * Sends the batch as one pipeline and reads every answer (one round trip; an atomic batch
 * retried after a conflict takes one more per attempt, an independent one one more per
 * round of conflicted writes run again). A batch runs once.
 * Returns DSQL_OK when every operation succeeded (a find that found nothing has its own
 * DSQL_ENOTFOUND and does not fail the batch). Otherwise:
 * - atomic: the failed operation's status (DSQL_ECONFLICT after the retries, ...); it has
 *   that error, every other operation DSQL_EABORTED; nothing was applied.
 * - independent: DSQL_EPARTIAL when some operations applied and others failed, else the
 *   first failure's status; each operation's status says whether it applied (DSQL_OK).
 * - the connection lost (or no answer in time) mid-batch: the operations whose answers had
 *   come are final; every write after them is DSQL_EUNKNOWN_OUTCOME (it may or may not
 *   have applied: the whole pipeline was sent), every read after them DSQL_ECONNLOST.
 * err describes the first failure, naming the operation (`operation 3 (dsql_batch_update
 * owner): ...`).
 * Borrows: b (during the call only).
 * Owns: b keeps every operation's results.
 * Free with: dsql_batch_free(b).
 */
DSQL_API int dsql_batch_run(dsql_batch *b, dsql_error *err);

/** Operations queued so far (0 for NULL).
 * Borrows: b (during the call only).
 * Owns: nothing is handed out. */
DSQL_API size_t dsql_batch_size(const dsql_batch *b);

/** The status of operation op after dsql_batch_run: DSQL_OK (applied, or read), its error's
 * status, DSQL_EABORTED. Before the run, or past the last operation: DSQL_EMISUSE.
 * Borrows: b (during the call only).
 * Owns: nothing is handed out. */
DSQL_API int dsql_batch_status(const dsql_batch *b, size_t op);

/** The error of operation op, or NULL when it succeeded (or was not run). Owned by the
 * batch: valid until dsql_batch_free.
 * Owns: b owns the error record.
 * Free with: nothing (it goes with dsql_batch_free(b)). */
DSQL_API const dsql_error *dsql_batch_error(const dsql_batch *b, size_t op);

/** The rows of operation op: a find's rows, a create's row as stored. *rows (the address
 * of the caller's `T *`) and *n; owned by the batch, valid until dsql_batch_free. An
 * operation that failed, or returns no rows (update, delete, set, bulk create): *n = 0 and
 * its status is returned. DSQL_EMISUSE before the run or past the last operation.
 * Owns: b owns *rows (the structs and every string in them).
 * Free with: nothing (it goes with dsql_batch_free(b)). */
DSQL_API int dsql_batch_rows(const dsql_batch *b, size_t op, void *rows, size_t *n,
                             dsql_error *err);

/** Rows written by operation op (inserted, updated, deleted); 0 when it failed.
 * Borrows: b (during the call only).
 * Owns: nothing is handed out. */
DSQL_API uint64_t dsql_batch_affected(const dsql_batch *b, size_t op);

/** Attempts the run took (an atomic batch retried after conflicts, or an independent one
 * that ran conflicted writes again: more than 1).
 * Borrows: b (during the call only).
 * Owns: nothing is handed out. */
DSQL_API int dsql_batch_attempts(const dsql_batch *b);

#if !defined(__cplusplus) && !defined(DSQL_BUILDING)
#define dsql_batch_new(db, ...) (dsql_batch_new)(DSQL_DB(db), __VA_ARGS__)
#endif

#ifdef __cplusplus
}
#endif

#endif
