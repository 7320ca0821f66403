/* The linter shared by `dsql lint` and `dsql migrate up` (lint.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lint.h"
#include "rules/rules.h"

static const char *severity_name(dsql_rule_severity s)
{
    return s == DSQL_RULE_WARNING ? "warning" : "error";
}

static const char *source_name(dsql_rule_source s)
{
    switch (s) {
    case DSQL_RULE_RECORDED:
        return "recorded";
    case DSQL_RULE_DOCUMENTED:
        return "documented";
    default:
        return "inferred";
    }
}

/* One finding: printed (text) or appended (JSON). rewrite: a concrete statement, or NULL. */
static int report(cli_lint *l, const char *name, unsigned line, unsigned column,
                  const dsql_rule *rule, const char *message, const char *rewrite,
                  const char *statement, size_t statement_len)
{
    l->n_findings++;
    if (rule->severity == DSQL_RULE_WARNING)
        l->n_warnings++;
    else
        l->n_refused++;
    if (!l->json) {
        fprintf(l->out, "%s:%u:%u: %s[%s]: %s", name, line, column, severity_name(rule->severity),
                rule->id, message);
        if (rule->sqlstate && *rule->sqlstate)
            fprintf(l->out, " (SQLSTATE %s)", rule->sqlstate);
        fputc('\n', l->out);
        if (rewrite) {
            /* a rewrite of several lines stays readable: each line indented */
            fputs("    rewrite: ", l->out);
            for (const char *p = rewrite; *p; p++) {
                fputc(*p, l->out);
                if (*p == '\n' && p[1])
                    fputs("             ", l->out);
            }
            fputc('\n', l->out);
        } else if (rule->rewrite) {
            fprintf(l->out, "    instead: %s\n", rule->rewrite);
        }
        return DSQL_OK;
    }
    if (!l->findings && !(l->findings = cJSON_CreateArray()))
        return DSQL_ENOMEM;
    cJSON *f = cJSON_CreateObject();
    if (!f)
        return DSQL_ENOMEM;
    cJSON_AddItemToArray(l->findings, f);
    char *stmt = malloc(statement_len + 1);
    if (!stmt)
        return DSQL_ENOMEM;
    memcpy(stmt, statement, statement_len);
    stmt[statement_len] = '\0';
    bool ok = cJSON_AddStringToObject(f, "file", name) &&
              cJSON_AddNumberToObject(f, "line", line) &&
              cJSON_AddNumberToObject(f, "column", column) &&
              cJSON_AddStringToObject(f, "rule", rule->id) &&
              cJSON_AddStringToObject(f, "severity", severity_name(rule->severity)) &&
              cJSON_AddStringToObject(f, "sqlstate", rule->sqlstate ? rule->sqlstate : "") &&
              cJSON_AddStringToObject(f, "message", message) &&
              cJSON_AddStringToObject(f, "message_source", source_name(rule->source)) &&
              (rewrite ? cJSON_AddStringToObject(f, "rewrite", rewrite) != NULL
                       : cJSON_AddNullToObject(f, "rewrite") != NULL) &&
              (rule->rewrite ? cJSON_AddStringToObject(f, "instead", rule->rewrite) != NULL
                             : cJSON_AddNullToObject(f, "instead") != NULL) &&
              cJSON_AddStringToObject(f, "statement", stmt);
    free(stmt);
    return ok ? DSQL_OK : DSQL_ENOMEM;
}

int cli_lint_text(cli_lint *l, const char *name, const char *text, size_t len, unsigned first_line,
                  dsql_error *err)
{
    dsql_rules_result *r = NULL;
    int rc = dsql_rules_analyze(text, len, &r, err);
    if (rc)
        return rc;
    l->n_files++;
    /* The transaction rules, with every statement assumed to run: a statement refused on
     * its own is reported once, not again as the cause of an aborted transaction. */
    dsql_rules_tracker t;
    dsql_rules_tracker_init(&t);
    size_t n = dsql_rules_count(r);
    if (l->one_query)
        dsql_rules_tracker_query_begin(&t, n);
    for (size_t i = 0; i < n && rc == DSQL_OK; i++) {
        const dsql_rules_stmt *s = dsql_rules_stmt_at(r, i);
        const char *stmt_text = text + s->offset;
        l->n_statements++;
        for (size_t k = 0; k < s->n_findings && rc == DSQL_OK; k++) {
            const dsql_rules_finding *f = &s->findings[k];
            if (f->rule->severity == DSQL_RULE_WARNING && !l->warnings)
                continue;
            rc = report(l, name, f->line + first_line - 1, f->column, f->rule, f->message,
                        f->rewrite, stmt_text, s->length);
        }
        dsql_rules_stmt alone = *s;
        alone.findings = NULL;
        alone.n_findings = 0;
        dsql_rules_verdict v;
        if (!l->one_query)
            dsql_rules_tracker_query_begin(&t, 1);
        if (dsql_rules_tracker_step(&t, &alone, &v) && v.rule && rc == DSQL_OK)
            rc = report(l, name, s->line + first_line - 1, s->column, v.rule, v.message, NULL,
                        stmt_text, s->length);
        /* the next statements are judged as if the refused one were fixed: no aborted
         * transaction, no skipped rest of the query */
        t.aborted = false;
        t.query_failed = false;
        if (!l->one_query)
            dsql_rules_tracker_query_end(&t);
    }
    dsql_rules_result_free(r);
    if (rc == DSQL_ENOMEM)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    return rc;
}

void cli_lint_clear(cli_lint *l)
{
    cJSON_Delete(l->findings);
    l->findings = NULL;
}

bool cli_read_file(const char *path, char **out, size_t *len, char *why, size_t why_size)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        snprintf(why, why_size, "%s", strerror(errno));
        return false;
    }
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    bool ok = buf != NULL;
    while (ok) {
        if (n + 4096 + 1 > cap) {
            if (cap > ((size_t)1 << 30)) {
                snprintf(why, why_size, "larger than 1 GiB");
                ok = false;
                break;
            }
            char *b = realloc(buf, cap * 2);
            if (!b) {
                ok = false;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                snprintf(why, why_size, "%s", strerror(errno ? errno : EIO));
                ok = false;
            }
            break;
        }
    }
    if (!buf)
        snprintf(why, why_size, "out of memory");
    if (f != stdin)
        fclose(f);
    if (!ok) {
        free(buf);
        return false;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return true;
}
