/* Fuzz target: the :name scanner of dsql_exec_named (dsql__named_parse), the log's
 * rendering of a parameter value and the cutting of a secret out of an error. Invariants:
 * a failure says why and leaves nothing allocated; a rewrite without names is the text
 * itself; names are non-empty and the output holds one $n per use; a rendered value stays
 * on one line; a secret value never survives in an error. */
#include <stdbool.h>
#include <string.h>

#include "conn/private.h"
#include "fuzz.h"

static void check_rewrite(const char *text)
{
    dsql__named_sql ns;
    dsql_error err = DSQL_ERROR_INIT;
    if (dsql__named_parse(text, "fuzz", &ns, &err) != DSQL_OK) {
        fuzz_assert(!strncmp(err.message, "fuzz: ", 6), "a failure must say why: %s",
                    err.message);
        fuzz_assert(!ns.sql && !ns.names && !ns.n, "a failure must leave nothing");
        return;
    }
    for (size_t k = 0; k < ns.n; k++)
        fuzz_assert(ns.names[k].len > 0 && text[ns.names[k].pos] == ':', "a name at its colon");
    if (ns.n == 0)
        fuzz_assert(!strcmp(ns.sql, text), "no names: the text unchanged");
    dsql__named_free(&ns);
}

static void check_value(const char *text)
{
    const char *values[] = {text};
    int lengths[] = {(int)strlen(text)}, formats[] = {0};
    dsql__strbuf sb = DSQL__STRBUF_INIT;
    dsql__sb_append_param_values(&sb, 1, values, lengths, formats, NULL, 16);
    fuzz_assert(!sb.oom && !strchr(dsql__sb_str(&sb), '\n'), "a value stays on one line");
    dsql__sb_free(&sb);
    formats[0] = 1;
    dsql__sb_append_param_values(&sb, 1, values, lengths, formats, NULL, 16);
    fuzz_assert(!sb.oom && !strchr(dsql__sb_str(&sb), '\n'), "bytes stay on one line");
    dsql__sb_free(&sb);
}

static void check_redaction(const char *text, size_t size)
{
    /* The first bytes are the secret, the whole input the server's message. */
    size_t n = size < 12 ? size : 12;
    char secret[13];
    memcpy(secret, text, n);
    secret[n] = '\0';
    char line[13];
    dsql__one_line(line, sizeof line, secret); /* as an error would show it */
    if (strlen(line) < 4 || strstr("<redacted>", line))
        return;
    dsql_error e = DSQL_ERROR_INIT;
    dsql__one_line(e.message, sizeof e.message, text);
    const char *values[] = {secret};
    uint8_t flags[] = {DSQL__PF_SECRET};
    dsql__error_redact_params(&e, 1, values, NULL, NULL, flags);
    /* Every occurrence left must overlap a mark: the mark's own '>' next to the text that
     * followed the secret may spell it again, without a byte of the secret itself. */
    size_t len = strlen(line), mark = strlen("<redacted>");
    for (const char *p = strstr(e.message, line); p; p = strstr(p + 1, line)) {
        bool covered = false;
        for (const char *m = strstr(e.message, "<redacted>"); m && !covered;
             m = strstr(m + 1, "<redacted>"))
            covered = m < p + len && p < m + mark;
        fuzz_assert(covered, "the secret survived: %s", e.message);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    if (strlen(text) == size) { /* the API takes C strings */
        check_rewrite(text);
        check_value(text);
        check_redaction(text, size);
    }
    free(text);
    return 0;
}
