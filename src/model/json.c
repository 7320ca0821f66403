/* JSON syntax check (RFC 8259) for JSON and JSONB attributes, without building a tree. */
#include <string.h>

#include "model/internal.h"

#define JSON_MAX_DEPTH 512

typedef struct jp {
    const unsigned char *p, *end;
    int depth;
    bool jsonb;
    const char *why;
} jp;

static bool fail(jp *j, const char *why)
{
    if (!j->why)
        j->why = why;
    return false;
}

static void ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int hex4(const unsigned char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static bool string(jp *j)
{
    j->p++; /* the opening quote */
    while (j->p < j->end) {
        unsigned c = *j->p;
        if (c == '"') {
            j->p++;
            return true;
        }
        if (c < 0x20)
            return fail(j, "control character inside a string");
        if (c == '\\') {
            if (j->end - j->p < 2)
                break;
            c = j->p[1];
            if (c != 'u') {
                if (!strchr("\"\\/bfnrt", (int)c) || c == 0)
                    return fail(j, "bad escape in a string");
                j->p += 2;
                continue;
            }
            if (j->end - j->p < 6)
                return fail(j, "bad \\u escape");
            int u = hex4(j->p + 2);
            if (u < 0)
                return fail(j, "bad \\u escape");
            j->p += 6;
            if (u == 0 && j->jsonb)
                return fail(j, "\\u0000 cannot be stored in JSONB");
            if (u >= 0xdc00 && u <= 0xdfff)
                return fail(j, "lone low surrogate in a \\u escape");
            if (u >= 0xd800 && u <= 0xdbff) {
                int lo =
                    j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u' ? hex4(j->p + 2) : -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return fail(j, "high surrogate without its low half in a \\u escape");
                j->p += 6;
            }
            continue;
        }
        if (c < 0x80) {
            j->p++;
            continue;
        }
        size_t n = dsql__utf8_seq(j->p, (size_t)(j->end - j->p));
        if (!n)
            return fail(j, "invalid UTF-8 inside a string");
        j->p += n;
    }
    return fail(j, "unterminated string");
}

static bool number(jp *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end)
        return fail(j, "bad number");
    if (*j->p == '0') {
        j->p++;
    } else if (*j->p >= '1' && *j->p <= '9') {
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    } else {
        return fail(j, "bad number");
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        const unsigned char *d = j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
        if (j->p == d)
            return fail(j, "bad number");
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        const unsigned char *d = j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
        if (j->p == d)
            return fail(j, "bad number");
    }
    return true;
}

static bool literal(jp *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n))
        return fail(j, "unexpected character");
    j->p += n;
    return true;
}

static bool value(jp *j);

static bool container(jp *j, unsigned char close)
{
    if (++j->depth > JSON_MAX_DEPTH)
        return fail(j, "nested too deeply");
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        if (close == '}') {
            ws(j);
            if (j->p >= j->end || *j->p != '"')
                return fail(j, "expected a string key");
            if (!string(j))
                return false;
            ws(j);
            if (j->p >= j->end || *j->p != ':')
                return fail(j, "expected ':' after a key");
            j->p++;
        }
        if (!value(j))
            return false;
        ws(j);
        if (j->p >= j->end)
            return fail(j, "unexpected end");
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == close) {
            j->p++;
            j->depth--;
            return true;
        }
        return fail(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool value(jp *j)
{
    ws(j);
    if (j->p >= j->end)
        return fail(j, "unexpected end");
    switch (*j->p) {
    case '{':
        return container(j, '}');
    case '[':
        return container(j, ']');
    case '"':
        return string(j);
    case 't':
        return literal(j, "true");
    case 'f':
        return literal(j, "false");
    case 'n':
        return literal(j, "null");
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
            return number(j);
        return fail(j, "unexpected character");
    }
}

bool dsql__check_json(const char *s, size_t len, bool jsonb, const char **why)
{
    jp j = {(const unsigned char *)s, (const unsigned char *)s + len, 0, jsonb, NULL};
    bool ok = value(&j);
    if (ok) {
        ws(&j);
        if (j.p != j.end)
            ok = fail(&j, "text after the JSON value");
    }
    if (!ok && why)
        *why = j.why;
    return ok;
}
