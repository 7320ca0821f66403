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

int dsql__xml_text(const char *xml, size_t len, const char *const *path, size_t depth, char **out)
{
    *out = NULL;
    name stack[MAX_DEPTH];
    size_t sp = 0;
    bool root_seen = false;
    /* How many leading stack entries match path: the element is found when that equals
     * depth and the stack is exactly depth deep. */
    const char *p = xml, *end = xml + len;
    const char *text_start = NULL; /* text of the matching element */
    bool match_has_child = false;
    bool found = false;
    dsql__strbuf result = DSQL__STRBUF_INIT;

    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        const char *text_end = lt ? lt : end;
        /* Text between tags: well formed in any case; outside the root only spaces. */
        if (sp == 0) {
            if (!all_ws(p, text_end))
                goto bad;
        } else if (!decode(p, text_end, NULL)) {
            goto bad;
        }
        if (!lt)
            break;
        p = lt + 1;
        if (p >= end)
            goto bad;
        if (*p == '?') { /* processing instruction / XML declaration */
            const char *q = p;
            for (;; q++) {
                if (q + 1 >= end)
                    goto bad;
                if (q[0] == '?' && q[1] == '>')
                    break;
            }
            p = q + 2;
            continue;
        }
        if (*p == '!') {
            if (end - p >= 3 && p[1] == '-' && p[2] == '-') {
                const char *q = p + 3;
                for (;; q++) {
                    if (q + 2 >= end)
                        goto bad;
                    if (q[0] == '-' && q[1] == '-' && q[2] == '>')
                        break;
                }
                p = q + 3;
                continue;
            }
            goto bad; /* DOCTYPE, CDATA: not in STS responses, and a door to entity tricks */
        }
        if (*p == '/') { /* end tag */
            p++;
            const char *nb = p;
            while (p < end && name_char(*p))
                p++;
            size_t nl = (size_t)(p - nb);
            while (p < end && is_ws(*p))
                p++;
            if (p >= end || *p != '>' || sp == 0 || nl != stack[sp - 1].n ||
                memcmp(nb, stack[sp - 1].p, nl) != 0)
                goto bad;
            p++;
            if (text_start && sp == depth) {
                /* Closing the element we want: its text is [text_start, lt). */
                if (!match_has_child && !found) {
                    if (!decode(text_start, lt, &result))
                        goto bad;
                    found = true;
                }
                text_start = NULL;
            }
            sp--;
            continue;
        }
        /* start tag */
        const char *nb = p;
        while (p < end && name_char(*p))
            p++;
        size_t nl = (size_t)(p - nb);
        if (nl == 0)
            goto bad;
        /* attributes: name="value" or name='value' */
        bool self_closing = false;
        for (;;) {
            while (p < end && is_ws(*p))
                p++;
            if (p >= end)
                goto bad;
            if (*p == '>') {
                p++;
                break;
            }
            if (*p == '/' && p + 1 < end && p[1] == '>') {
                p += 2;
                self_closing = true;
                break;
            }
            const char *an = p;
            while (p < end && name_char(*p))
                p++;
            if (p == an)
                goto bad;
            while (p < end && is_ws(*p))
                p++;
            if (p >= end || *p != '=')
                goto bad;
            p++;
            while (p < end && is_ws(*p))
                p++;
            if (p >= end || (*p != '"' && *p != '\''))
                goto bad;
            char q = *p++;
            const char *vb = p;
            while (p < end && *p != q && *p != '<')
                p++;
            if (p >= end || *p != q || !decode(vb, p, NULL))
                goto bad;
            p++;
        }
        if (sp == 0) {
            if (root_seen)
                goto bad; /* a second root */
            root_seen = true;
        }
        if (text_start && sp == depth)
            match_has_child = true; /* the element we want is not a leaf */
        if (self_closing)
            continue;
        if (sp == MAX_DEPTH)
            goto bad;
        stack[sp].p = nb;
        stack[sp].n = nl;
        sp++;
        if (sp == depth && !found) {
            bool same = true;
            for (size_t i = 0; i < depth && same; i++)
                same = strlen(path[i]) == stack[i].n && !memcmp(path[i], stack[i].p, stack[i].n);
            if (same) {
                text_start = p;
                match_has_child = false;
            }
        }
    }
    if (sp != 0 || !root_seen)
        goto bad;
    if (!found) {
        dsql__sb_free_secret(&result);
        return 1;
    }
    if (result.oom) {
        dsql__sb_free_secret(&result);
        return -1;
    }
    *out = dsql__sb_detach(&result);
    return *out ? 0 : -1;
bad:
    dsql__sb_free_secret(&result);
    return -1;
}
