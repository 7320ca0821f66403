/* dsql lint: what Aurora DSQL would refuse in SQL files, before they are deployed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conn_flags.h"
#include "lint.h"
#include "rules/rules.h"

static void lint_usage(FILE *out)
{
    fprintf(
        out,
        "usage: dsql lint [--format text|json] [--warnings] FILE... | -\n"
        "\n"
        "Reads SQL with PostgreSQL's own parser and reports every statement Aurora DSQL\n"
        "would refuse, or that breaks its transaction rules (one DDL statement per\n"
        "transaction, no DDL with DML), as FILE:LINE:COLUMN: error[RULE]: DSQL's message,\n"
        "followed by the DSQL-safe rewrite where one exists. '-' reads standard input.\n"
        "The rules are listed in docs/rules.md.\n"
        "\n"
        "  --format text|json  json: one object {\"findings\": [...], \"files\", \"statements\",\n"
        "                      \"errors\", \"warnings\"} for CI (default text)\n"
        "  --warnings          also report what DSQL accepts but runs differently from\n"
        "                      PostgreSQL (a bare numeric column); they count as findings\n"
        "\n"
        "Exit status: 0 no finding, 1 findings, 2 usage error or a file that cannot be\n"
        "read.\n");
}

int cmd_lint(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"warnings", no_argument, NULL, 'W'},
                                         {"single-query", no_argument, NULL, 'Q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    cli_lint l = {.out = stdout};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:WQh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!strcmp(optarg, "json"))
                l.json = true;
            else if (!strcmp(optarg, "text"))
                l.json = false;
            else {
                cli_error("lint", "--format must be text or json, not '%s'", optarg);
                return 2;
            }
            break;
        case 'W':
            l.warnings = true;
            break;
        case 'Q':
            l.one_query = true;
            break;
        case 'h':
            lint_usage(stdout);
            return 0;
        default:
            cli_bad_option("lint", c, argv);
            return 2;
        }
    }
    if (optind >= argc) {
        cli_error("lint", "no file to read: give one or more FILE arguments, or - for standard "
                          "input (dsql lint --help)");
        return 2;
    }
    int stdin_uses = 0;
    for (int i = optind; i < argc; i++)
        stdin_uses += !strcmp(argv[i], "-");
    if (stdin_uses > 1) {
        cli_error("lint", "- (standard input) may be given once");
        return 2;
    }
    int status = 0;
    for (int i = optind; i < argc; i++) {
        const char *path = argv[i];
        const char *name = strcmp(path, "-") ? path : "<stdin>";
        char *text = NULL, why[256];
        size_t len = 0;
        if (!cli_read_file(path, &text, &len, why, sizeof why)) {
            cli_error("lint", "%s: cannot read: %s", name, why);
            status = 2;
            continue;
        }
        dsql_error err = DSQL_ERROR_INIT;
        int rc = cli_lint_text(&l, name, text, len, 1, &err);
        free(text);
        if (rc) {
            cli_error("lint", "%s: %s", name, cli_err_text(err.message));
            status = 2;
        }
    }
    if (l.json) {
        cJSON *doc = cJSON_CreateObject();
        char *s = NULL;
        if (doc) {
            cJSON_AddItemToObject(doc, "findings", l.findings ? l.findings : cJSON_CreateArray());
            l.findings = NULL;
            cJSON_AddNumberToObject(doc, "files", (double)l.n_files);
            cJSON_AddNumberToObject(doc, "statements", (double)l.n_statements);
            cJSON_AddNumberToObject(doc, "errors", (double)l.n_refused);
            cJSON_AddNumberToObject(doc, "warnings", (double)l.n_warnings);
            s = cJSON_Print(doc);
            cJSON_Delete(doc);
        }
        if (!s) {
            cli_error("lint", "out of memory");
            dsql_rules_thread_done();
            return 2;
        }
        printf("%s\n", s);
        free(s);
    } else if (l.n_findings) {
        fprintf(stderr,
                "dsql lint: %zu finding%s (%zu error%s, %zu warning%s) in %zu statement%s\n",
                l.n_findings, l.n_findings == 1 ? "" : "s", l.n_refused,
                l.n_refused == 1 ? "" : "s", l.n_warnings, l.n_warnings == 1 ? "" : "s",
                l.n_statements, l.n_statements == 1 ? "" : "s");
    }
    cli_lint_clear(&l);
    dsql_rules_thread_done();
    if (status)
        return status;
    return l.n_findings ? 1 : 0;
}
