/*
 * Visits every node of a parse tree, generically: protobuf-c describes each message's
 * fields (type, offset, repeated count, oneof case), so one loop walks any tree without a
 * hand-written case per node type, and an explicit stack keeps deep expressions off the C
 * stack. The rules that can hide anywhere in a statement are checked here: row-locking
 * clauses, advisory-lock and text-search functions, TABLESAMPLE, the highest $n, and
 * INSERT/UPDATE/DELETE nested in a WITH.
 */
#include <string.h>
#include <strings.h>

#include "rules/internal.h"

static const char *const advisory[] = {"pg_advisory_lock",
                                       "pg_advisory_lock_shared",
                                       "pg_advisory_unlock",
                                       "pg_advisory_unlock_shared",
                                       "pg_advisory_unlock_all",
                                       "pg_advisory_xact_lock",
                                       "pg_advisory_xact_lock_shared",
                                       "pg_try_advisory_lock",
                                       "pg_try_advisory_lock_shared",
                                       "pg_try_advisory_xact_lock",
                                       "pg_try_advisory_xact_lock_shared"};

/* Functions whose first of two or more arguments names a text search configuration. */
static const char *const text_search[] = {
    "to_tsvector",          "to_tsquery",  "plainto_tsquery",  "phraseto_tsquery",
    "websearch_to_tsquery", "ts_headline", "json_to_tsvector", "jsonb_to_tsvector"};

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

/* A string constant, possibly cast ('english'::regconfig). */
static const PgQuery__AConst *string_const(const PgQuery__Node *n)
{
    if (n && n->node_case == PG_QUERY__NODE__NODE_TYPE_CAST && n->type_cast->arg)
        n = n->type_cast->arg;
    if (n && n->node_case == PG_QUERY__NODE__NODE_A_CONST &&
        n->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL)
        return n->a_const;
    return NULL;
}

static void func_call(dsql__rules_ctx *c, const PgQuery__FuncCall *f)
{
    if (f->n_funcname == 0 || f->n_funcname > 2)
        return;
    if (f->n_funcname == 2) {
        const char *schema = dsql__rules_str(f->funcname[0]);
        if (!schema || strcmp(schema, "pg_catalog") != 0)
            return; /* someone's own function of that name */
    }
    const char *name = dsql__rules_str(f->funcname[f->n_funcname - 1]);
    if (!name)
        return;
    if (in_list(name, advisory, DSQL__ARRAY_LEN(advisory))) {
        dsql__rules_find(c, DSQL_RULE_ADVISORY_LOCK, f->location, name);
    } else if (f->n_args >= 2 && in_list(name, text_search, DSQL__ARRAY_LEN(text_search))) {
        const PgQuery__AConst *cfg = string_const(f->args[0]);
        if (cfg)
            dsql__rules_find(c, DSQL_RULE_TEXT_SEARCH_CONFIG, cfg->location, cfg->sval->sval);
    }
}

/* The offset of "FOR <strength>" in the statement, for a clause the tree gives no
 * position: the first FOR followed by the strength's first keyword. */
static int32_t locking_location(const dsql__rules_ctx *c, PgQuery__Token second)
{
    const dsql__rules_scan *sc = c->scan;
    size_t end = c->st->offset + c->st->length;
    for (size_t i = dsql__rules_tok_at(sc, c->st->offset); i + 1 < sc->n; i++) {
        if ((size_t)sc->tok[i]->start >= end)
            break;
        if (sc->tok[i]->token != PG_QUERY__TOKEN__FOR)
            continue;
        size_t j = i + 1;
        while (j < sc->n && dsql__rules_tok_comment(sc->tok[j]))
            j++;
        if (j < sc->n && sc->tok[j]->token == second)
            return (int32_t)((size_t)sc->tok[i]->start - c->base);
    }
    return -1;
}

/* The location of the nearest keyword t at or before location (the tree points at the
 * clause's argument; a reader wants the keyword). location itself when none. */
static int32_t keyword_before(const dsql__rules_ctx *c, int32_t location, PgQuery__Token t)
{
    if (location < 0)
        return location;
    const dsql__rules_scan *sc = c->scan;
    for (size_t i = dsql__rules_tok_at(sc, c->base + (size_t)location); i > 0; i--) {
        const PgQuery__ScanToken *tok = sc->tok[i - 1];
        if ((size_t)tok->start < c->st->offset)
            break;
        if (tok->token == t)
            return (int32_t)((size_t)tok->start - c->base);
    }
    return location;
}

static void locking(dsql__rules_ctx *c, const PgQuery__LockingClause *lc)
{
    switch (lc->strength) {
    case PG_QUERY__LOCK_CLAUSE_STRENGTH__LCS_FORUPDATE:
        c->st->locking |= DSQL_RULES_LOCK_FOR_UPDATE;
        break;
    case PG_QUERY__LOCK_CLAUSE_STRENGTH__LCS_FORKEYSHARE:
        c->st->locking |= DSQL_RULES_LOCK_FOR_KEY_SHARE;
        break;
    case PG_QUERY__LOCK_CLAUSE_STRENGTH__LCS_FORSHARE:
        c->st->locking |= DSQL_RULES_LOCK_FOR_SHARE;
        dsql__rules_find(c, DSQL_RULE_LOCKING_CLAUSE, locking_location(c, PG_QUERY__TOKEN__SHARE),
                         NULL);
        break;
    case PG_QUERY__LOCK_CLAUSE_STRENGTH__LCS_FORNOKEYUPDATE:
        c->st->locking |= DSQL_RULES_LOCK_FOR_NO_KEY_UPDATE;
        dsql__rules_find(c, DSQL_RULE_LOCKING_CLAUSE, locking_location(c, PG_QUERY__TOKEN__NO),
                         NULL);
        break;
    default:
        break;
    }
}

static void visit(dsql__rules_ctx *c, const ProtobufCMessage *m, bool top)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == &pg_query__func_call__descriptor) {
        func_call(c, (const PgQuery__FuncCall *)m);
    } else if (d == &pg_query__locking_clause__descriptor) {
        locking(c, (const PgQuery__LockingClause *)m);
    } else if (d == &pg_query__range_table_sample__descriptor) {
        dsql__rules_find(c, DSQL_RULE_TABLESAMPLE,
                         keyword_before(c, ((const PgQuery__RangeTableSample *)m)->location,
                                        PG_QUERY__TOKEN__TABLESAMPLE),
                         NULL);
    } else if (d == &pg_query__param_ref__descriptor) {
        int n = ((const PgQuery__ParamRef *)m)->number;
        if (n > c->st->max_param)
            c->st->max_param = n;
    } else if (!top && d == &pg_query__insert_stmt__descriptor) {
        dsql__rules_target_nested(c, ((const PgQuery__InsertStmt *)m)->relation);
    } else if (!top && d == &pg_query__update_stmt__descriptor) {
        dsql__rules_target_nested(c, ((const PgQuery__UpdateStmt *)m)->relation);
    } else if (!top && d == &pg_query__delete_stmt__descriptor) {
        dsql__rules_target_nested(c, ((const PgQuery__DeleteStmt *)m)->relation);
    }
}

void dsql__rules_walk(dsql__rules_ctx *c, const ProtobufCMessage *root)
{
    size_t cap = 64, n = 0;
    const ProtobufCMessage **stack = dsql__arena_alloc(c->scratch, cap * sizeof *stack);
    if (!stack) {
        c->oom = true;
        return;
    }
    stack[n++] = root;
    while (n > 0) {
        const ProtobufCMessage *m = stack[--n];
        visit(c, m, m == c->top);
        const ProtobufCMessageDescriptor *d = m->descriptor;
        const char *base = (const char *)m;
        for (unsigned f = 0; f < d->n_fields; f++) {
            const ProtobufCFieldDescriptor *fd = &d->fields[f];
            if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
                continue;
            /* A oneof (the Node wrapper) holds only the member its case names; the others
             * share the same bytes. */
            if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                *(const uint32_t *)(base + fd->quantifier_offset) != fd->id)
                continue;
            const ProtobufCMessage *const *items;
            size_t count;
            if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
                count = *(const size_t *)(base + fd->quantifier_offset);
                items = *(const ProtobufCMessage *const *const *)(base + fd->offset);
            } else {
                items = (const ProtobufCMessage *const *)(base + fd->offset);
                count = *items ? 1 : 0;
            }
            if (n + count > cap) {
                size_t ncap = (n + count) * 2;
                const ProtobufCMessage **ns = dsql__arena_alloc(c->scratch, ncap * sizeof *ns);
                if (!ns) {
                    c->oom = true;
                    return;
                }
                memcpy(ns, stack, n * sizeof *ns);
                stack = ns;
                cap = ncap;
            }
            /* Pushed in reverse, so nodes are visited in tree order (findings in text order
             * for siblings). */
            for (size_t k = count; k > 0; k--)
                if (items[k - 1])
                    stack[n++] = items[k - 1];
        }
    }
}
