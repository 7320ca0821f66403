/*
 * PostgreSQL's tokens for the rules module (pg_query_scan, the server's own lexer): the
 * byte positions of statements, DSQL's own syntax that PostgreSQL 15's grammar lacks
 * (CREATE [UNIQUE] INDEX ASYNC, ALTER TABLE ASYNC, a column's STORAGE in CREATE TABLE and
 * ADD COLUMN, new in PostgreSQL 16), and a split at top-level semicolons for a text the
 * parser refuses. Strings, quoted identifiers, dollar quotes and comments are single
 * tokens, so a ';' inside them never splits anything.
 */
#include <pg_query.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules/internal.h"

static void *arena_alloc(void *data, size_t size)
{
    return dsql__arena_alloc(data, size);
}

static void arena_nofree(void *data, void *p)
{
    (void)data;
    (void)p; /* the whole arena is freed at once */
}

/* Characters (UTF-8 code points) from the start of text up to a 1-based character
 * position, as a byte offset. */
static size_t char_pos_to_offset(const char *text, int pos)
{
    size_t off = 0;
    int chars = 0;
    while (text[off] && chars < pos - 1) {
        off++;
        while (((unsigned char)text[off] & 0xC0) == 0x80)
            off++;
        chars++;
    }
    return off;
}

int dsql__rules_scan_text(dsql__arena *scratch, const char *text, dsql__rules_scan *sc)
{
    memset(sc, 0, sizeof *sc);
    PgQueryScanResult res = pg_query_scan(text);
    if (res.error) {
        sc->failed = true;
        sc->error_offset = char_pos_to_offset(text, res.error->cursorpos);
        sc->error_message = dsql__arena_strdup(scratch, res.error->message);
        pg_query_free_scan_result(res);
        return sc->error_message ? DSQL_OK : DSQL_ENOMEM;
    }
    ProtobufCAllocator alloc = {arena_alloc, arena_nofree, scratch};
    PgQuery__ScanResult *sr =
        pg_query__scan_result__unpack(&alloc, res.pbuf.len, (const uint8_t *)res.pbuf.data);
    pg_query_free_scan_result(res);
    if (!sr)
        return DSQL_ENOMEM;
    sc->tok = sr->tokens;
    sc->n = sr->n_tokens;
    return DSQL_OK;
}

bool dsql__rules_tok_comment(const PgQuery__ScanToken *t)
{
    return t->token == PG_QUERY__TOKEN__SQL_COMMENT || t->token == PG_QUERY__TOKEN__C_COMMENT;
}

size_t dsql__rules_tok_at(const dsql__rules_scan *sc, size_t offset)
{
    size_t lo = 0, hi = sc->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((size_t)sc->tok[mid]->start < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The tokens of the text without comments, for looking a few tokens ahead. */
typedef struct cursor {
    const dsql__rules_scan *sc;
    const char *text;
    size_t i;
} cursor;

static size_t next_code(const cursor *cu, size_t i)
{
    while (i < cu->sc->n && dsql__rules_tok_comment(cu->sc->tok[i]))
        i++;
    return i;
}

static bool tok_is(const cursor *cu, size_t i, PgQuery__Token t)
{
    return i < cu->sc->n && cu->sc->tok[i]->token == t;
}

/* An identifier token (or an unreserved keyword) whose text is word, ignoring case. */
static bool tok_word(const cursor *cu, size_t i, const char *word)
{
    if (i >= cu->sc->n)
        return false;
    const PgQuery__ScanToken *t = cu->sc->tok[i];
    size_t n = (size_t)(t->end - t->start);
    if (t->token != PG_QUERY__TOKEN__IDENT && t->keyword_kind == PG_QUERY__KEYWORD_KIND__NO_KEYWORD)
        return false;
    return strlen(word) == n && strncasecmp(cu->text + t->start, word, n) == 0;
}

static bool add_blank(dsql__arena *scratch, dsql__rules_scan *sc, size_t *cap, size_t start,
                      size_t end, bool async)
{
    if (sc->n_blanks == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        dsql__rules_blank *nb = dsql__arena_alloc(scratch, ncap * sizeof *nb);
        if (!nb)
            return false;
        if (sc->n_blanks)
            memcpy(nb, sc->blanks, sc->n_blanks * sizeof *nb);
        sc->blanks = nb;
        *cap = ncap;
    }
    sc->blanks[sc->n_blanks++] = (dsql__rules_blank){start, end, async};
    return true;
}

/* After ALTER TABLE, the word async is DSQL's keyword unless an ALTER TABLE action follows
 * it (then it is a table named async). */
static bool starts_alter_action(const cursor *cu, size_t i)
{
    static const PgQuery__Token actions[] = {
        PG_QUERY__TOKEN__ADD_P,     PG_QUERY__TOKEN__DROP,     PG_QUERY__TOKEN__ALTER,
        PG_QUERY__TOKEN__RENAME,    PG_QUERY__TOKEN__VALIDATE, PG_QUERY__TOKEN__SET,
        PG_QUERY__TOKEN__RESET,     PG_QUERY__TOKEN__OWNER,    PG_QUERY__TOKEN__ENABLE_P,
        PG_QUERY__TOKEN__DISABLE_P, PG_QUERY__TOKEN__ATTACH,   PG_QUERY__TOKEN__DETACH,
        PG_QUERY__TOKEN__CLUSTER,   PG_QUERY__TOKEN__INHERIT,  PG_QUERY__TOKEN__NO,
        PG_QUERY__TOKEN__OF,        PG_QUERY__TOKEN__NOT,      PG_QUERY__TOKEN__REPLICA,
        PG_QUERY__TOKEN__FORCE};
    for (size_t k = 0; k < DSQL__ARRAY_LEN(actions); k++)
        if (tok_is(cu, i, actions[k]))
            return true;
    return false;
}

static bool storage_mode(const cursor *cu, size_t i)
{
    return tok_word(cu, i, "plain") || tok_word(cu, i, "external") || tok_word(cu, i, "extended") ||
           tok_word(cu, i, "main") || tok_is(cu, i, PG_QUERY__TOKEN__DEFAULT);
}

bool dsql__rules_blank_extensions(dsql__arena *scratch, dsql__rules_scan *sc, const char *text,
                                  char *fwd)
{
    cursor cu = {sc, text, 0};
    size_t cap = 0;
    size_t i = next_code(&cu, 0);
    while (i < sc->n) {
        /* i is the first token of a statement; find its end (a top-level ';'). */
        size_t end = i;
        int depth = 0;
        while (end < sc->n && !(depth == 0 && sc->tok[end]->token == PG_QUERY__TOKEN__ASCII_59)) {
            if (sc->tok[end]->token == PG_QUERY__TOKEN__ASCII_40)
                depth++;
            else if (sc->tok[end]->token == PG_QUERY__TOKEN__ASCII_41 && depth > 0)
                depth--;
            end++;
        }
        size_t a = next_code(&cu, i + 1), b = next_code(&cu, a + 1);
        bool create = tok_is(&cu, i, PG_QUERY__TOKEN__CREATE);
        bool alter_table =
            tok_is(&cu, i, PG_QUERY__TOKEN__ALTER) && tok_is(&cu, a, PG_QUERY__TOKEN__TABLE);
        if (create) {
            size_t idx = tok_is(&cu, a, PG_QUERY__TOKEN__UNIQUE) ? b : a;
            size_t kw = next_code(&cu, idx + 1);
            if (tok_is(&cu, idx, PG_QUERY__TOKEN__INDEX) && tok_word(&cu, kw, "async")) {
                if (!add_blank(scratch, sc, &cap, (size_t)sc->tok[kw]->start,
                               (size_t)sc->tok[kw]->end, true))
                    return false;
            }
        } else if (alter_table && tok_word(&cu, b, "async") &&
                   !starts_alter_action(&cu, next_code(&cu, b + 1))) {
            if (!add_blank(scratch, sc, &cap, (size_t)sc->tok[b]->start, (size_t)sc->tok[b]->end,
                           true))
                return false;
        }
        /* STORAGE <mode> inside a column definition (PostgreSQL 16): in CREATE ... TABLE
         * and ALTER TABLE, where PostgreSQL 15 knows only ALTER COLUMN ... SET STORAGE. */
        bool has_table = alter_table;
        for (size_t k = i; create && k < end && !has_table; k++)
            has_table = sc->tok[k]->token == PG_QUERY__TOKEN__TABLE;
        for (size_t k = i; has_table && k < end; k++) {
            if (sc->tok[k]->token != PG_QUERY__TOKEN__STORAGE)
                continue;
            size_t prev = k;
            while (prev > i && dsql__rules_tok_comment(sc->tok[prev - 1]))
                prev--;
            size_t mode = next_code(&cu, k + 1);
            if (prev > i && sc->tok[prev - 1]->token == PG_QUERY__TOKEN__SET)
                continue;
            if (!storage_mode(&cu, mode))
                continue;
            if (!add_blank(scratch, sc, &cap, (size_t)sc->tok[k]->start, (size_t)sc->tok[mode]->end,
                           false))
                return false;
        }
        i = next_code(&cu, end + 1);
    }
    for (size_t k = 0; k < sc->n_blanks; k++)
        memset(fwd + sc->blanks[k].start, ' ', sc->blanks[k].end - sc->blanks[k].start);
    return true;
}

dsql__rules_piece *dsql__rules_split(dsql__arena *scratch, const dsql__rules_scan *sc, size_t *n)
{
    *n = 0;
    dsql__rules_piece *p = dsql__arena_alloc(scratch, (sc->n + 1) * sizeof *p);
    if (!p)
        return NULL;
    int depth = 0;     /* parentheses */
    int atomic = 0;    /* BEGIN ATOMIC ... END bodies (their statements end in ';') */
    int cases = 0;     /* CASE ... END inside such a body */
    bool open = false; /* a piece has a token */
    for (size_t i = 0; i < sc->n; i++) {
        const PgQuery__ScanToken *t = sc->tok[i];
        if (dsql__rules_tok_comment(t))
            continue;
        if (t->token == PG_QUERY__TOKEN__ASCII_59 && depth == 0 && atomic == 0) {
            open = false;
            continue;
        }
        if (!open) {
            p[*n].start = (size_t)t->start;
            (*n)++;
            open = true;
        }
        p[*n - 1].end = (size_t)t->end;
        switch (t->token) {
        case PG_QUERY__TOKEN__ASCII_40:
            depth++;
            break;
        case PG_QUERY__TOKEN__ASCII_41:
            if (depth > 0)
                depth--;
            break;
        case PG_QUERY__TOKEN__ATOMIC:
            if (i > 0 && sc->tok[i - 1]->token == PG_QUERY__TOKEN__BEGIN_P)
                atomic++;
            break;
        case PG_QUERY__TOKEN__CASE:
            if (atomic > 0)
                cases++;
            break;
        case PG_QUERY__TOKEN__END_P:
            if (cases > 0)
                cases--;
            else if (atomic > 0)
                atomic--;
            break;
        default:
            break;
        }
    }
    return p;
}
