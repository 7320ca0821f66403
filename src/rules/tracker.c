/*
 * DSQL's transaction rules, applied statement by statement: one DDL statement per
 * transaction, no DDL with DML, an aborted block runs nothing but COMMIT/ROLLBACK, and the
 * statements of a simple Query after one that failed do not run. A multi-statement Query
 * outside a block is one implicit transaction, as PostgreSQL runs it; a BEGIN inside it
 * turns it into an explicit block that keeps what ran before, as PostgreSQL does.
 */
#include <string.h>

#include "rules/rules.h"

static void reset_counts(dsql_rules_tracker *t)
{
    t->ddl = 0;
    t->dml = 0;
}

void dsql_rules_tracker_init(dsql_rules_tracker *t)
{
    memset(t, 0, sizeof *t);
}

void dsql_rules_tracker_query_begin(dsql_rules_tracker *t, size_t n_statements)
{
    t->query_failed = false;
    t->implicit = !t->in_block && n_statements > 1;
    if (!t->in_block)
        reset_counts(t);
}

void dsql_rules_tracker_failed(dsql_rules_tracker *t)
{
    t->query_failed = true;
    if (t->in_block)
        t->aborted = true;
    else
        reset_counts(t); /* the implicit transaction (or the autocommit statement) rolls back */
}

void dsql_rules_tracker_query_end(dsql_rules_tracker *t)
{
    t->query_failed = false;
    t->implicit = false;
    if (!t->in_block)
        reset_counts(t);
}

static bool refuse(dsql_rules_tracker *t, dsql_rules_verdict *v, const dsql_rule *rule,
                   const char *message, size_t offset, bool from_tracker)
{
    if (v) {
        v->rule = rule;
        v->message = message;
        v->offset = offset;
        v->from_tracker = from_tracker;
        v->skipped = false;
    }
    dsql_rules_tracker_failed(t);
    return true;
}

static bool tx_rule(dsql_rules_tracker *t, dsql_rules_verdict *v, dsql_rule_id id, size_t offset)
{
    const dsql_rule *r = dsql_rules_get(id);
    return refuse(t, v, r, r->message, offset, true);
}

bool dsql_rules_tracker_step(dsql_rules_tracker *t, const dsql_rules_stmt *s, dsql_rules_verdict *v)
{
    if (v)
        memset(v, 0, sizeof *v);
    if (t->query_failed) {
        if (v)
            v->skipped = true;
        return true;
    }
    bool ends_block = s->kind == DSQL_RULES_COMMIT || s->kind == DSQL_RULES_ROLLBACK;
    if (t->in_block && t->aborted && !ends_block)
        return tx_rule(t, v, DSQL_RULE_TX_ABORTED, s->offset);

    const dsql_rules_finding *f = dsql_rules_refusal(s);
    if (f)
        return refuse(t, v, f->rule, f->message, f->offset, false);

    bool in_tx = t->in_block || t->implicit;
    switch (s->kind) {
    case DSQL_RULES_BEGIN:
        /* Inside a block PostgreSQL only warns. Inside an implicit transaction the block
         * becomes explicit and keeps the statements already run. */
        t->in_block = true;
        t->implicit = false;
        break;
    case DSQL_RULES_COMMIT:
    case DSQL_RULES_ROLLBACK:
        /* COMMIT of an aborted block rolls back; outside a block both only warn, and in an
         * implicit transaction they end it (the next statement starts a new one). */
        t->in_block = false;
        t->aborted = false;
        reset_counts(t);
        break;
    case DSQL_RULES_DDL:
        if (in_tx && t->ddl > 0)
            return tx_rule(t, v, DSQL_RULE_TX_MULTIPLE_DDL, s->offset);
        if (in_tx && t->dml > 0)
            return tx_rule(t, v, DSQL_RULE_TX_DDL_DML, s->offset);
        if (in_tx)
            t->ddl++;
        break;
    case DSQL_RULES_DML:
        if (in_tx && t->ddl > 0)
            return tx_rule(t, v, DSQL_RULE_TX_DDL_DML, s->offset);
        if (in_tx)
            t->dml++;
        break;
    default:
        break;
    }
    return false;
}
