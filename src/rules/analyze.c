/*
 * The analyser: a SQL text in, its statements with their facts and findings out.
 *
 * One pass of PostgreSQL's scanner finds DSQL's own syntax (blanked, offsets unchanged, so
 * PostgreSQL 15's grammar parses the rest) and the statements' exact byte ranges. The
 * whole text is then parsed once; when the parser refuses it, the text is split at
 * top-level semicolons and each piece parsed alone, so the statements around a syntax
 * error are still analysed. Parse trees come as protobuf (typed C structs), unpacked into
 * a scratch arena that is freed in one go.
 *
 * Threads: libpg_query keeps its state per thread, but the first call in each thread
 * writes one global of its own (the key that frees that thread's memory when it exits);
 * that first call is made under a lock here, so threads never race on it.
 */
#include <pg_query.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/internal.h"

#define MAX_TEXT ((size_t)1 << 30)

/*
 * Stack. libpg_query serialises its parse tree and protobuf-c unpacks it, both by
 * recursion, so a deeply nested statement (a chain of 1+1+1+..., subqueries in
 * subqueries) needs stack in proportion: measured up to about 6 KiB per level (a nested
 * subquery), 2 KiB per operator of a chain, in an optimised build; sanitizers make frames
 * several times larger. The nesting is bounded from the tokens before anything is parsed
 * (nesting_bound); a statement shallow enough is parsed on the caller's stack (it then
 * needs at most INLINE_LEVELS * STACK_PER_LEVEL + STACK_BASE, 512 KiB in an optimised
 * build), a deeper one on a thread of its own with the stack it needs, and one deeper
 * than MAX_LEVELS is not parsed at all (PostgreSQL itself refuses such nesting: its
 * stack depth limit).
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STACK_FACTOR 4
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define STACK_FACTOR 4
#endif
#endif
#ifndef STACK_FACTOR
#define STACK_FACTOR 1
#endif
#define STACK_PER_LEVEL ((size_t)8 * 1024 * STACK_FACTOR)
#define STACK_BASE      ((size_t)256 * 1024 * STACK_FACTOR)
#define INLINE_LEVELS   32
#define MAX_STACK       ((size_t)512 * 1024 * 1024)
#define MAX_LEVELS      ((MAX_STACK - STACK_BASE) / STACK_PER_LEVEL)
/* Levels a statement may reach without any token that nests (the statement node, its
 * clauses, a target list). */
#define LEVEL_SLACK 16

static pthread_mutex_t parser_init_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local bool parser_ready;

static void parser_init(void)
{
    if (parser_ready)
        return;
    pthread_mutex_lock(&parser_init_lock);
    pg_query_free_scan_result(pg_query_scan(""));
    pthread_mutex_unlock(&parser_init_lock);
    parser_ready = true;
}

void dsql_rules_thread_done(void)
{
    if (parser_ready)
        pg_query_exit();
}

/* ---- helpers shared by the module ---- */

char *dsql__rules_strndup(dsql__rules_ctx *c, const char *s, size_t n)
{
    char *p = dsql__arena_memdup(&c->r->arena, s, n);
    if (!p)
        c->oom = true;
    return p;
}

char *dsql__rules_strdup(dsql__rules_ctx *c, const char *s)
{
    return dsql__rules_strndup(c, s ? s : "", s ? strlen(s) : 0);
}

size_t dsql__rules_offset(const dsql__rules_ctx *c, int32_t location)
{
    if (location < 0)
        return c->st->offset;
    size_t off = c->base + (size_t)location;
    return off <= c->r->len ? off : c->st->offset;
}

static bool grow(dsql__rules_ctx *c, void **arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *na = dsql__arena_alloc(c->scratch, ncap * elem);
    if (!na) {
        c->oom = true;
        return false;
    }
    if (n)
        memcpy(na, *arr, n * elem);
    *arr = na;
    *cap = ncap;
    return true;
}

void dsql__rules_find_rw(dsql__rules_ctx *c, dsql_rule_id id, int32_t location, const char *arg,
                         const char *rewrite)
{
    const dsql_rule *rule = dsql_rules_get(id);
    if (!rule ||
        !grow(c, (void **)&c->findings, c->n_findings, &c->cap_findings, sizeof *c->findings))
        return;
    dsql_rules_finding *f = &c->findings[c->n_findings];
    memset(f, 0, sizeof *f);
    f->rule = rule;
    f->offset = dsql__rules_offset(c, location);
    if (strstr(rule->message, "%s")) {
        /* The only conversion in a message is one %s (rules_table.c). */
        const char *pct = strstr(rule->message, "%s");
        size_t pre = (size_t)(pct - rule->message);
        const char *a = arg ? arg : "";
        size_t n = pre + strlen(a) + strlen(pct + 2);
        char *m = dsql__arena_alloc(&c->r->arena, n + 1);
        if (!m) {
            c->oom = true;
            return;
        }
        memcpy(m, rule->message, pre);
        strcpy(m + pre, a);
        strcat(m, pct + 2);
        f->message = m;
    } else {
        f->message = rule->message;
    }
    f->rewrite = rewrite ? dsql__rules_strdup(c, rewrite) : NULL;
    c->n_findings++;
}

void dsql__rules_find(dsql__rules_ctx *c, dsql_rule_id id, int32_t location, const char *arg)
{
    dsql__rules_find_rw(c, id, location, arg, NULL);
}

/* Adds schema.name to a list of names unless it is there already. */
static void add_name(dsql__rules_ctx *c, dsql_rules_name **list, size_t *n, size_t *cap,
                     const char *schema, const char *name)
{
    if (!name || !name[0])
        return;
    for (size_t i = 0; i < *n; i++) {
        const dsql_rules_name *t = &(*list)[i];
        bool same_schema = (!t->schema && !(schema && schema[0])) ||
                           (t->schema && schema && strcmp(t->schema, schema) == 0);
        if (same_schema && strcmp(t->name, name) == 0)
            return;
    }
    if (!grow(c, (void **)list, *n, cap, sizeof **list))
        return;
    dsql_rules_name *t = &(*list)[(*n)++];
    t->schema = schema && schema[0] ? dsql__rules_strdup(c, schema) : NULL;
    t->name = dsql__rules_strdup(c, name);
}

void dsql__rules_target_names(dsql__rules_ctx *c, const char *schema, const char *name)
{
    add_name(c, &c->targets, &c->n_targets, &c->cap_targets, schema, name);
}

void dsql__rules_target(dsql__rules_ctx *c, const PgQuery__RangeVar *rv)
{
    if (rv)
        dsql__rules_target_names(c, rv->schemaname, rv->relname);
}

void dsql__rules_target_nested(dsql__rules_ctx *c, const PgQuery__RangeVar *rv)
{
    if (rv)
        add_name(c, &c->nested, &c->n_nested, &c->cap_nested, rv->schemaname, rv->relname);
}

/* ---- positions ---- */

static bool index_lines(dsql_rules_result *r)
{
    size_t n = 1;
    for (size_t i = 0; i < r->len; i++)
        n += r->text[i] == '\n';
    r->line_starts = dsql__arena_alloc(&r->arena, n * sizeof *r->line_starts);
    if (!r->line_starts)
        return false;
    r->n_lines = 0;
    r->line_starts[r->n_lines++] = 0;
    for (size_t i = 0; i < r->len; i++)
        if (r->text[i] == '\n')
            r->line_starts[r->n_lines++] = i + 1;
    return true;
}

static void line_col(const dsql_rules_result *r, size_t offset, unsigned *line, unsigned *col)
{
    size_t lo = 0, hi = r->n_lines;
    while (hi - lo > 1) { /* last line start <= offset */
        size_t mid = lo + (hi - lo) / 2;
        if (r->line_starts[mid] <= offset)
            lo = mid;
        else
            hi = mid;
    }
    size_t chars = 0;
    for (size_t i = r->line_starts[lo]; i < offset && i < r->len; i++)
        chars += ((unsigned char)r->text[i] & 0xC0) != 0x80;
    *line = (unsigned)(lo + 1);
    *col = (unsigned)(chars + 1);
}

/* 1-based character position (PostgreSQL's cursorpos) in s to a byte count. */
static size_t chars_to_bytes(const char *s, int pos)
{
    size_t off = 0;
    for (int k = 1; k < pos && s[off]; k++) {
        off++;
        while (((unsigned char)s[off] & 0xC0) == 0x80)
            off++;
    }
    return off;
}

/* ---- nesting ---- */

/* Tokens that can put a node below another without parentheses: operators (a chain of
 * them nests left-deep), prefix and postfix keywords, set operations and joins (also
 * left-deep), CASE. */
static bool nests(PgQuery__Token t)
{
    switch ((int)t) {
    case '%':
    case '*':
    case '+':
    case '-':
    case '/':
    case '<':
    case '=':
    case '>':
    case '^':
    case PG_QUERY__TOKEN__Op:
    case PG_QUERY__TOKEN__TYPECAST:
    case PG_QUERY__TOKEN__LESS_EQUALS:
    case PG_QUERY__TOKEN__GREATER_EQUALS:
    case PG_QUERY__TOKEN__NOT_EQUALS:
    case PG_QUERY__TOKEN__IS:
    case PG_QUERY__TOKEN__ISNULL:
    case PG_QUERY__TOKEN__NOTNULL:
    case PG_QUERY__TOKEN__COLLATE:
    case PG_QUERY__TOKEN__AT:
    case PG_QUERY__TOKEN__LIKE:
    case PG_QUERY__TOKEN__ILIKE:
    case PG_QUERY__TOKEN__SIMILAR:
    case PG_QUERY__TOKEN__ESCAPE:
    case PG_QUERY__TOKEN__BETWEEN:
    case PG_QUERY__TOKEN__IN_P:
    case PG_QUERY__TOKEN__OVERLAPS:
    case PG_QUERY__TOKEN__NOT:
    case PG_QUERY__TOKEN__NOT_LA:
    case PG_QUERY__TOKEN__CASE:
    case PG_QUERY__TOKEN__OPERATOR:
    case PG_QUERY__TOKEN__EXISTS:
    case PG_QUERY__TOKEN__ARRAY:
    case PG_QUERY__TOKEN__UNION:
    case PG_QUERY__TOKEN__INTERSECT:
    case PG_QUERY__TOKEN__EXCEPT:
    case PG_QUERY__TOKEN__JOIN:
        return true;
    default:
        return false;
    }
}

/*
 * An upper bound of the parse tree's nesting for the statements in [from, to) of the
 * text, from its tokens: each open parenthesis or bracket is a level, and so is every
 * nesting token since the last comma at the same parenthesis level (the items of a list
 * are siblings, so a comma ends a chain). The largest sum over all positions, plus slack.
 */
static size_t nesting_bound(dsql__arena *scratch, const dsql__rules_scan *sc, size_t from,
                            size_t to, bool *oom)
{
    size_t first = dsql__rules_tok_at(sc, from), opens = 0;
    for (size_t i = first; i < sc->n && (size_t)sc->tok[i]->end <= to; i++)
        opens += sc->tok[i]->token == '(' || sc->tok[i]->token == '[';
    size_t *ops = dsql__arena_alloc(scratch, (opens + 1) * sizeof *ops);
    if (!ops) {
        *oom = true;
        return 0;
    }
    size_t top = 0, sum = 0, max = 0;
    ops[0] = 0;
    for (size_t i = first; i < sc->n && (size_t)sc->tok[i]->end <= to; i++) {
        int t = (int)sc->tok[i]->token;
        if (t == '(' || t == '[') {
            ops[++top] = 0;
            sum++;
        } else if ((t == ')' || t == ']') && top > 0) {
            sum -= ops[top] + 1;
            top--;
        } else if (t == ',') {
            sum -= ops[top];
            ops[top] = 0;
        } else if (t == ';') {
            top = sum = 0;
            ops[0] = 0;
        } else if (nests(sc->tok[i]->token)) {
            ops[top]++;
            sum++;
        }
        if (sum > max)
            max = sum;
    }
    return max + LEVEL_SLACK;
}

/* ---- statements ---- */

typedef struct stmts {
    dsql_rules_stmt *v;
    size_t n, cap;
} stmts;

static dsql_rules_stmt *new_stmt(dsql__arena *scratch, stmts *s)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 4;
        dsql_rules_stmt *nv = dsql__arena_alloc(scratch, ncap * sizeof *nv);
        if (!nv)
            return NULL;
        if (s->n)
            memcpy(nv, s->v, s->n * sizeof *nv);
        s->v = nv;
        s->cap = ncap;
    }
    dsql_rules_stmt *st = &s->v[s->n++];
    memset(st, 0, sizeof *st);
    st->command = "";
    return st;
}

/* Trims [from, to) of the text to its first and last token (no comments, no ';'). */
static bool trim_to_tokens(const dsql__rules_scan *sc, size_t from, size_t to, size_t *start,
                           size_t *end)
{
    size_t i = dsql__rules_tok_at(sc, from);
    bool any = false;
    for (; i < sc->n && (size_t)sc->tok[i]->end <= to; i++) {
        const PgQuery__ScanToken *t = sc->tok[i];
        if (dsql__rules_tok_comment(t) || t->token == PG_QUERY__TOKEN__ASCII_59)
            continue;
        if (!any)
            *start = (size_t)t->start;
        *end = (size_t)t->end;
        any = true;
    }
    return any;
}

/* Orders findings: refusals before warnings, each in text order (stable). */
static void sort_findings(dsql_rules_finding *f, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        dsql_rules_finding x = f[i];
        size_t j = i;
        while (j > 0 &&
               (f[j - 1].rule->severity > x.rule->severity ||
                (f[j - 1].rule->severity == x.rule->severity && f[j - 1].offset > x.offset))) {
            f[j] = f[j - 1];
            j--;
        }
        f[j] = x;
    }
}

/* Fills the statement's positions, forward text and ASYNC flag from its byte range. */
static void place(dsql__rules_ctx *c, dsql_rules_stmt *st, size_t start, size_t end)
{
    dsql_rules_result *r = c->r;
    st->offset = start;
    st->length = end - start;
    line_col(r, start, &st->line, &st->column);
    for (size_t k = 0; k < c->scan->n_blanks; k++) {
        const dsql__rules_blank *b = &c->scan->blanks[k];
        if (b->start >= start && b->end <= end) {
            st->rewritten = true;
            st->async |= b->async;
        }
    }
    st->forward = dsql__rules_strndup(c, r->fwd + start, end - start);
}

/* Copies the statement's findings and targets into the result, with their positions. */
static void finish(dsql__rules_ctx *c, dsql_rules_stmt *st)
{
    for (size_t i = 0; st->kind == DSQL_RULES_DML && i < c->n_nested; i++)
        dsql__rules_target_names(c, c->nested[i].schema, c->nested[i].name);
    sort_findings(c->findings, c->n_findings);
    for (size_t i = 0; i < c->n_findings; i++)
        line_col(c->r, c->findings[i].offset, &c->findings[i].line, &c->findings[i].column);
    if (c->n_findings) {
        st->findings =
            dsql__arena_memdup(&c->r->arena, c->findings, c->n_findings * sizeof *c->findings);
        if (!st->findings) {
            c->oom = true;
            return;
        }
        st->n_findings = c->n_findings;
    }
    if (c->n_targets) {
        st->targets =
            dsql__arena_memdup(&c->r->arena, c->targets, c->n_targets * sizeof *c->targets);
        if (!st->targets) {
            c->oom = true;
            return;
        }
        st->n_targets = c->n_targets;
    }
    c->findings = NULL;
    c->n_findings = c->cap_findings = 0;
    c->targets = NULL;
    c->n_targets = c->cap_targets = 0;
    c->nested = NULL;
    c->n_nested = c->cap_nested = 0;
}

static void *arena_alloc(void *data, size_t size)
{
    return dsql__arena_alloc(data, size);
}

static void arena_nofree(void *data, void *p)
{
    (void)data;
    (void)p;
}

/* Parses src (at offset base of the text) and analyses its statements. On a syntax error
 * returns false with PostgreSQL's message and the error's byte offset in the text. */
static bool parse_and_analyze(dsql__rules_ctx *c, stmts *out, const char *src, size_t base,
                              size_t src_len, char **errmsg, size_t *erroff)
{
    PgQueryProtobufParseResult res = pg_query_parse_protobuf(src);
    if (res.error) {
        *errmsg = dsql__arena_strdup(c->scratch, res.error->message);
        *erroff = base + chars_to_bytes(src, res.error->cursorpos);
        if (!*errmsg)
            c->oom = true;
        pg_query_free_protobuf_parse_result(res);
        return false;
    }
    ProtobufCAllocator alloc = {arena_alloc, arena_nofree, c->scratch};
    PgQuery__ParseResult *tree = pg_query__parse_result__unpack(
        &alloc, res.parse_tree.len, (const uint8_t *)res.parse_tree.data);
    pg_query_free_protobuf_parse_result(res);
    if (!tree) {
        c->oom = true;
        return true;
    }
    for (size_t i = 0; i < tree->n_stmts && !c->oom; i++) {
        const PgQuery__RawStmt *raw = tree->stmts[i];
        if (!raw->stmt)
            continue;
        size_t from = base + (size_t)(raw->stmt_location > 0 ? raw->stmt_location : 0);
        size_t to = raw->stmt_len > 0 ? from + (size_t)raw->stmt_len : base + src_len;
        size_t start, end;
        if (!trim_to_tokens(c->scan, from, to, &start, &end))
            continue;
        dsql_rules_stmt *st = new_stmt(c->scratch, out);
        if (!st) {
            c->oom = true;
            return true;
        }
        c->st = st;
        c->base = base;
        place(c, st, start, end);
        /* The node inside the Node wrapper: its one member (every member is a message). */
        const ProtobufCMessage *top = NULL;
        const ProtobufCMessageDescriptor *nd = raw->stmt->base.descriptor;
        for (unsigned f = 0; f < nd->n_fields && !top; f++)
            if (nd->fields[f].id == (uint32_t)raw->stmt->node_case)
                top = *(const ProtobufCMessage *const *)((const char *)raw->stmt +
                                                         nd->fields[f].offset);
        c->top = top;
        if (top)
            dsql__rules_walk(c, top);
        dsql__rules_classify(c, raw->stmt);
        finish(c, st);
    }
    return true;
}

typedef struct parse_job {
    dsql__rules_ctx *c;
    stmts *out;
    const char *src;
    size_t base, len;
    char *errmsg;
    size_t erroff;
    bool parsed;
} parse_job;

static void *parse_job_run(void *arg)
{
    parse_job *j = arg;
    parser_init();
    j->parsed = parse_and_analyze(j->c, j->out, j->src, j->base, j->len, &j->errmsg, &j->erroff);
    return NULL;
}

enum { PARSED, SYNTAX_ERROR, NO_THREAD };

/* parse_and_analyze on a stack deep enough for levels of nesting: the caller's, or a
 * thread's of its own. */
static int parse_on_stack(parse_job *j, size_t levels)
{
    if (levels <= INLINE_LEVELS) {
        parse_job_run(j);
        return j->parsed ? PARSED : SYNTAX_ERROR;
    }
    size_t stack = STACK_BASE + levels * STACK_PER_LEVEL;
    stack = (stack + 65535) & ~(size_t)65535;
    pthread_attr_t attr;
    pthread_t th;
    if (pthread_attr_init(&attr) != 0)
        return NO_THREAD;
    int rc = pthread_attr_setstacksize(&attr, stack);
    if (rc == 0)
        rc = pthread_create(&th, &attr, parse_job_run, j);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return NO_THREAD;
    pthread_join(th, NULL);
    return j->parsed ? PARSED : SYNTAX_ERROR;
}

/* A statement nested deeper than the parser's stack allows: not parsed; refused as
 * PostgreSQL refuses it. */
static void too_deep_stmt(dsql__rules_ctx *c, stmts *out, size_t start, size_t end)
{
    dsql_rules_stmt *st = new_stmt(c->scratch, out);
    if (!st) {
        c->oom = true;
        return;
    }
    c->st = st;
    c->base = 0;
    place(c, st, start, end);
    st->kind = DSQL_RULES_UNKNOWN;
    dsql__rules_find(c, DSQL_RULE_STACK_DEPTH, -1, NULL);
    finish(c, st);
}

/* A statement PostgreSQL cannot parse: kind unknown, PostgreSQL's message at its position. */
static void syntax_stmt(dsql__rules_ctx *c, stmts *out, size_t start, size_t end,
                        const char *message, size_t erroff)
{
    dsql_rules_stmt *st = new_stmt(c->scratch, out);
    if (!st) {
        c->oom = true;
        return;
    }
    c->st = st;
    c->base = 0;
    place(c, st, start, end);
    st->kind = DSQL_RULES_UNKNOWN;
    dsql__rules_find(c, DSQL_RULE_SYNTAX, (int32_t)erroff, message);
    finish(c, st);
}

static int thread_error(dsql_error *err, size_t levels)
{
    return dsql_error_set(err, DSQL_ENOMEM,
                          "cannot start a thread with %zu KiB of stack to analyse a statement "
                          "nested %zu levels deep",
                          (STACK_BASE + levels * STACK_PER_LEVEL) / 1024, levels);
}

static int analyze(dsql_rules_result *r, dsql__arena *scratch, dsql_error *err)
{
    dsql__rules_scan sc;
    dsql__rules_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.r = r;
    ctx.scratch = scratch;
    ctx.scan = &sc;
    stmts out = {NULL, 0, 0};

    if (dsql__rules_scan_text(scratch, r->text, &sc) != DSQL_OK)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory analysing SQL");
    if (sc.failed) {
        /* The scanner itself refused (an unterminated quote or comment): PostgreSQL
         * answers the whole text with its message; one statement from the first byte
         * that is not white space. */
        size_t start = 0;
        while (start < r->len &&
               (r->text[start] == ' ' || r->text[start] == '\t' || r->text[start] == '\n' ||
                r->text[start] == '\r' || r->text[start] == '\f'))
            start++;
        syntax_stmt(&ctx, &out, start, r->len, sc.error_message, sc.error_offset);
    } else {
        if (!dsql__rules_blank_extensions(scratch, &sc, r->text, r->fwd))
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory analysing SQL");
        parser_init();
        size_t levels = nesting_bound(scratch, &sc, 0, r->len, &ctx.oom);
        parse_job whole = {&ctx, &out, r->fwd, 0, r->len, NULL, 0, false};
        int rc = ctx.oom || levels > MAX_LEVELS ? SYNTAX_ERROR : parse_on_stack(&whole, levels);
        if (rc == NO_THREAD)
            return thread_error(err, levels);
        if (rc == SYNTAX_ERROR && !ctx.oom) {
            /* Piece by piece: the statements around an error (or a statement too deep
             * to parse) are still analysed. */
            size_t n = 0;
            dsql__rules_piece *p = dsql__rules_split(scratch, &sc, &n);
            if (!p)
                ctx.oom = true;
            out.n = 0;
            for (size_t i = 0; i < n && !ctx.oom; i++) {
                size_t plen = p[i].end - p[i].start;
                size_t plevels = nesting_bound(scratch, &sc, p[i].start, p[i].end, &ctx.oom);
                if (plevels > MAX_LEVELS) {
                    too_deep_stmt(&ctx, &out, p[i].start, p[i].end);
                    continue;
                }
                char *src = dsql__arena_memdup(scratch, r->fwd + p[i].start, plen);
                if (!src || ctx.oom) {
                    ctx.oom = true;
                    break;
                }
                parse_job one = {&ctx, &out, src, p[i].start, plen, NULL, 0, false};
                rc = parse_on_stack(&one, plevels);
                if (rc == NO_THREAD)
                    return thread_error(err, plevels);
                if (rc == PARSED || ctx.oom)
                    continue;
                /* The whole text's error, where it falls in this piece (PostgreSQL reports
                 * that one); the piece's own otherwise. */
                bool here = whole.errmsg && whole.erroff >= p[i].start && whole.erroff <= p[i].end;
                syntax_stmt(&ctx, &out, p[i].start, p[i].end, here ? whole.errmsg : one.errmsg,
                            here ? whole.erroff : one.erroff);
            }
            if (n == 0 && !ctx.oom && whole.errmsg) /* a stray token PostgreSQL refused */
                syntax_stmt(&ctx, &out, 0, r->len, whole.errmsg, whole.erroff);
        }
    }
    if (ctx.oom)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory analysing SQL");
    if (out.n) {
        r->stmts = dsql__arena_memdup(&r->arena, out.v, out.n * sizeof *r->stmts);
        if (!r->stmts)
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory analysing SQL");
        r->n = out.n;
    }
    for (size_t i = 0; i < r->n && !r->syntax_error; i++)
        if (r->stmts[i].kind == DSQL_RULES_UNKNOWN && r->stmts[i].n_findings)
            r->syntax_error = &r->stmts[i].findings[0];
    return DSQL_OK;
}

int dsql_rules_analyze(const char *sql, size_t len, dsql_rules_result **out, dsql_error *err)
{
    if (!out)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_rules_analyze: out is NULL");
    *out = NULL;
    if (!sql)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_rules_analyze: sql is NULL");
    if (len > MAX_TEXT)
        return dsql_error_set(err, DSQL_EINVAL, "SQL text of %zu bytes is over the 1 GiB limit",
                              len);
    const char *nul = memchr(sql, '\0', len);
    if (nul)
        return dsql_error_set(err, DSQL_EINVAL, "SQL text holds a NUL byte at offset %zu",
                              (size_t)(nul - sql));
    dsql_rules_result *r = calloc(1, sizeof *r);
    if (!r)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory analysing SQL");
    r->magic = DSQL__RULES_MAGIC;
    r->len = len;
    r->text = dsql__arena_memdup(&r->arena, sql, len);
    r->fwd = dsql__arena_memdup(&r->arena, sql, len);
    if (!r->text || !r->fwd || !index_lines(r)) {
        dsql_rules_result_free(r);
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory analysing SQL");
    }
    dsql__arena scratch = DSQL__ARENA_INIT;
    int rc = analyze(r, &scratch, err);
    dsql__arena_free(&scratch);
    if (rc != DSQL_OK) {
        dsql_rules_result_free(r);
        return rc;
    }
    *out = r;
    return DSQL_OK;
}

void dsql_rules_result_free(dsql_rules_result *r)
{
    if (!r)
        return;
    dsql__arena_free(&r->arena);
    r->magic = 0;
    free(r);
}

size_t dsql_rules_count(const dsql_rules_result *r)
{
    return r ? r->n : 0;
}

const dsql_rules_stmt *dsql_rules_stmt_at(const dsql_rules_result *r, size_t i)
{
    return r && i < r->n ? &r->stmts[i] : NULL;
}

const char *dsql_rules_forward(const dsql_rules_result *r, size_t *len)
{
    if (len)
        *len = r ? r->len : 0;
    return r ? r->fwd : NULL;
}

const dsql_rules_finding *dsql_rules_syntax_error(const dsql_rules_result *r)
{
    return r ? r->syntax_error : NULL;
}

size_t dsql_rules_error_position(const dsql_rules_result *r, const dsql_rules_finding *f)
{
    size_t chars = 0;
    for (size_t i = 0; r && f && i < f->offset && i < r->len; i++)
        chars += ((unsigned char)r->text[i] & 0xC0) != 0x80;
    return chars + 1;
}

const dsql_rules_finding *dsql_rules_refusal(const dsql_rules_stmt *s)
{
    for (size_t i = 0; s && i < s->n_findings; i++)
        if (s->findings[i].rule->severity == DSQL_RULE_REFUSED)
            return &s->findings[i];
    return NULL;
}

const char *dsql_rules_kind_name(dsql_rules_kind kind)
{
    static const char *const names[] = {"unknown",  "read",      "dml", "ddl",  "begin", "commit",
                                        "rollback", "savepoint", "set", "show", "call",  "utility"};
    if ((int)kind < 0 || (size_t)kind >= DSQL__ARRAY_LEN(names))
        return "unknown";
    return names[kind];
}
