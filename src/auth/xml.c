/* A strict XML element reader: enough XML for STS responses, hostile input in mind. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "auth/xml.h"
#include "util/util.h"

#define MAX_DEPTH 32

typedef struct name {
    const char *p;
    size_t n;
} name;

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool name_char(char c)
{
    return !is_ws(c) && c != '/' && c != '>' && c != '<' && c != '=' && c != '\0';
}

/* Appends the UTF-8 encoding of cp. */
static bool put_utf8(dsql__strbuf *sb, unsigned long cp)
{
    char b[4];
    size_t n;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return false;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    dsql__sb_append_n(sb, b, n);
    return true;
}

/* Decodes text [p, e) into sb (when sb is not NULL), checking every entity. */
static bool decode(const char *p, const char *e, dsql__strbuf *sb)
{
    while (p < e) {
        if (*p == '\0')
            return false;
        if (*p != '&') {
            const char *q = p;
            while (q < e && *q != '&' && *q != '\0')
                q++;
            if (sb)
                dsql__sb_append_n(sb, p, (size_t)(q - p));
            p = q;
            continue;
        }
        const char *semi = memchr(p, ';', (size_t)(e - p) < 12 ? (size_t)(e - p) : 12);
        if (!semi)
            return false;
        size_t n = (size_t)(semi - p - 1);
        const char *ent = p + 1;
        char c = 0;
        if (n == 3 && !memcmp(ent, "amp", 3))
            c = '&';
        else if (n == 2 && !memcmp(ent, "lt", 2))
            c = '<';
        else if (n == 2 && !memcmp(ent, "gt", 2))
            c = '>';
        else if (n == 4 && !memcmp(ent, "quot", 4))
            c = '"';
        else if (n == 4 && !memcmp(ent, "apos", 4))
            c = '\'';
        if (c) {
            if (sb)
                dsql__sb_append_c(sb, c);
        } else if (n >= 2 && ent[0] == '#') {
            bool hex = ent[1] == 'x';
            const char *d = ent + (hex ? 2 : 1);
            if (d == semi)
                return false;
            unsigned long cp = 0;
            for (; d < semi; d++) {
                int v;
                if (*d >= '0' && *d <= '9')
                    v = *d - '0';
                else if (hex && *d >= 'a' && *d <= 'f')
                    v = *d - 'a' + 10;
                else if (hex && *d >= 'A' && *d <= 'F')
                    v = *d - 'A' + 10;
                else
                    return false;
                cp = cp * (hex ? 16 : 10) + (unsigned long)v;
                if (cp > 0x10FFFF)
                    return false;
            }
            dsql__strbuf tmp = DSQL__STRBUF_INIT;
            bool ok = put_utf8(sb ? sb : &tmp, cp);
            dsql__sb_free(&tmp);
            if (!ok)
                return false;
        } else {
            return false; /* unknown entity: no DTD, so nothing else is defined */
        }
        p = semi + 1;
    }
    return true;
}

static bool all_ws(const char *p, const char *e)
{
    for (; p < e; p++)
        if (!is_ws(*p))
            return false;
    return true;
}

/* The reader's state while it walks the document once. */
typedef struct reader {
    const char *p, *end;
    name stack[MAX_DEPTH]; /* the open elements */
    size_t sp;
    bool root_seen;
    const char *const *path; /* the element wanted, from the root */
    size_t depth;
    const char *text_start; /* inside the wanted element: where its text starts */
    bool match_has_child;   /* the wanted element holds an element: not a leaf */
    bool found;
    dsql__strbuf result;
} reader;

/* Skips what follows "<?" (a declaration / processing instruction) or "<!" (a comment
 * only: DOCTYPE and CDATA are not in STS responses, and are a door to entity tricks). */
static bool skip_markup(reader *r)
{
    const char *p = r->p, *end = r->end;
    if (*p == '?') {
        for (const char *q = p;; q++) {
            if (q + 1 >= end)
                return false;
            if (q[0] == '?' && q[1] == '>') {
                r->p = q + 2;
                return true;
            }
        }
    }
    if (end - p < 3 || p[1] != '-' || p[2] != '-')
        return false;
    for (const char *q = p + 3;; q++) {
        if (q + 2 >= end)
            return false;
        if (q[0] == '-' && q[1] == '-' && q[2] == '>') {
            r->p = q + 3;
            return true;
        }
    }
}

/* An end tag (r->p just after "</"); lt is where its "<" is. It must close the innermost
 * open element; closing the wanted element takes its text. */
static bool end_tag(reader *r, const char *lt)
{
    const char *nb = r->p;
    while (r->p < r->end && name_char(*r->p))
        r->p++;
    size_t nl = (size_t)(r->p - nb);
    while (r->p < r->end && is_ws(*r->p))
        r->p++;
    if (r->p >= r->end || *r->p != '>' || r->sp == 0 || nl != r->stack[r->sp - 1].n ||
        memcmp(nb, r->stack[r->sp - 1].p, nl) != 0)
        return false;
    r->p++;
    if (r->text_start && r->sp == r->depth) {
        /* Closing the element we want: its text is [text_start, lt). */
        if (!r->match_has_child && !r->found) {
            if (!decode(r->text_start, lt, &r->result))
                return false;
            r->found = true;
        }
        r->text_start = NULL;
    }
    r->sp--;
    return true;
}

/* A start tag's attributes, name="value" or name='value', up to its ">" or "/>". */
static bool attributes(reader *r, bool *self_closing)
{
    const char *end = r->end;
    *self_closing = false;
    for (;;) {
        while (r->p < end && is_ws(*r->p))
            r->p++;
        if (r->p >= end)
            return false;
        if (*r->p == '>') {
            r->p++;
            return true;
        }
        if (*r->p == '/' && r->p + 1 < end && r->p[1] == '>') {
            r->p += 2;
            *self_closing = true;
            return true;
        }
        const char *an = r->p;
        while (r->p < end && name_char(*r->p))
            r->p++;
        if (r->p == an)
            return false;
        while (r->p < end && is_ws(*r->p))
            r->p++;
        if (r->p >= end || *r->p != '=')
            return false;
        r->p++;
        while (r->p < end && is_ws(*r->p))
            r->p++;
        if (r->p >= end || (*r->p != '"' && *r->p != '\''))
            return false;
        char q = *r->p++;
        const char *vb = r->p;
        while (r->p < end && *r->p != q && *r->p != '<')
            r->p++;
        if (r->p >= end || *r->p != q || !decode(vb, r->p, NULL))
            return false;
        r->p++;
    }
}

/* A start tag (r->p just after "<"): one root only, depth bounded; entering the wanted
 * element marks where its text starts. */
static bool start_tag(reader *r)
{
    const char *nb = r->p;
    while (r->p < r->end && name_char(*r->p))
        r->p++;
    size_t nl = (size_t)(r->p - nb);
    bool self_closing;
    if (nl == 0 || !attributes(r, &self_closing))
        return false;
    if (r->sp == 0) {
        if (r->root_seen)
            return false; /* a second root */
        r->root_seen = true;
    }
    if (r->text_start && r->sp == r->depth)
        r->match_has_child = true; /* the element we want is not a leaf */
    if (self_closing)
        return true;
    if (r->sp == MAX_DEPTH)
        return false;
    r->stack[r->sp].p = nb;
    r->stack[r->sp].n = nl;
    r->sp++;
    if (r->sp == r->depth && !r->found) {
        bool same = true;
        for (size_t i = 0; i < r->depth && same; i++)
            same = strlen(r->path[i]) == r->stack[i].n &&
                   !memcmp(r->path[i], r->stack[i].p, r->stack[i].n);
        if (same) {
            r->text_start = r->p;
            r->match_has_child = false;
        }
    }
    return true;
}

/* Walks the whole document: false when it is not well formed (as far as this reader
 * knows XML). */
static bool walk(reader *r)
{
    while (r->p < r->end) {
        const char *lt = memchr(r->p, '<', (size_t)(r->end - r->p));
        const char *text_end = lt ? lt : r->end;
        /* Text between tags: well formed in any case; outside the root only spaces. */
        if (r->sp == 0 ? !all_ws(r->p, text_end) : !decode(r->p, text_end, NULL))
            return false;
        if (!lt)
            break;
        r->p = lt + 1;
        if (r->p >= r->end)
            return false;
        bool ok;
        if (*r->p == '?' || *r->p == '!')
            ok = skip_markup(r);
        else if (*r->p == '/') {
            r->p++;
            ok = end_tag(r, lt);
        } else
            ok = start_tag(r);
        if (!ok)
            return false;
    }
    return r->sp == 0 && r->root_seen;
}

int dsql__xml_text(const char *xml, size_t len, const char *const *path, size_t depth, char **out)
{
    *out = NULL;
    reader r = {.p = xml, .end = xml + len, .path = path, .depth = depth};
    r.result = (dsql__strbuf)DSQL__STRBUF_INIT;
    int rc;
    if (!walk(&r) || r.result.oom)
        rc = -1;
    else if (!r.found)
        rc = 1;
    else
        rc = (*out = dsql__sb_detach(&r.result)) ? 0 : -1;
    dsql__sb_free_secret(&r.result);
    return rc;
}
