/* dsql psql: run psql against a cluster with a fresh IAM token and the right TLS settings
 * in its environment, so nobody copies tokens by hand. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conn/private.h"
#include "conn_flags.h"

static void psql_usage(FILE *out)
{
    fprintf(
        out,
        "usage: dsql psql [connection flags] [CONNINFO] [-- PSQL-ARGS...]\n"
        "\n"
        "Runs psql (found on PATH) on the cluster: mints a fresh IAM token for Aurora DSQL\n"
        "endpoints and passes it, with the TLS settings, host, user, database,\n"
        "application_name and schema, through psql's environment (PGPASSWORD, PGSSLMODE,\n"
        "PGSSLROOTCERT, PGHOST, PGHOSTADDR, PGPORT, PGUSER, PGDATABASE, PGAPPNAME,\n"
        "PGOPTIONS, PGCONNECT_TIMEOUT). The token is never printed. Arguments after --\n"
        "go to psql unchanged, e.g.  dsql psql --host ID.dsql.us-east-1.on.aws -- -c 'SELECT 1'\n"
        "\n");
    cli_conn_flags_usage(out);
}

static bool put(const char *name, const char *value)
{
    if (!value)
        return unsetenv(name) == 0;
    return setenv(name, value, 1) == 0;
}

int cmd_psql(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'}, CLI_CONN_LONG_OPTIONS, {0}};
    int c;
    cli_conn_flags flags = {0};
    optind = 1;
    /* "+": stop at the first non-option, so psql's own arguments after -- stay untouched;
     * ":": report refused options ourselves */
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        int r = cli_conn_flag(&flags, c, optarg);
        if (r < 0) {
            cli_error("psql", "out of memory");
            return 1;
        }
        if (r > 0)
            continue;
        free(flags.conninfo);
        if (c == 'h') {
            psql_usage(stdout);
            return 0;
        }
        cli_bad_option("psql", c, argv);
        return 2;
    }
    const char *conninfo = NULL;
    if (optind < argc && strcmp(argv[optind - 1], "--") != 0 && strcmp(argv[optind], "--"))
        conninfo = argv[optind++];
    if (optind < argc && !strcmp(argv[optind], "--"))
        optind++;
    else if (optind < argc && strcmp(argv[optind - 1], "--") != 0) {
        cli_error("psql", "unexpected argument '%s' (put psql's arguments after --)", argv[optind]);
        free(flags.conninfo);
        return 2;
    }

    dsql_config cfg = DSQL_CONFIG_INIT;
    if (!cli_conn_config("psql", &flags, conninfo, &cfg)) {
        dsql_config_clear(&cfg);
        return 2;
    }
    dsql__spec spec;
    dsql_error err = DSQL_ERROR_INIT;
    int rc = dsql__spec_init(&spec, &cfg, &err);
    dsql_config_clear(&cfg);
    if (rc) {
        cli_error("psql", "%s", cli_err_text(err.message));
        return 2;
    }
    /* psql opens one session: to the preferred endpoint of a multi-Region cluster. */
    const dsql__endpoint *ep = &spec.ep[spec.preferred];
    char *token = NULL;
    if (spec.iam && (rc = dsql__spec_mint_token(&spec, ep, &token, &err))) {
        cli_error("psql", "%s", cli_err_text(err.message));
        dsql__spec_free(&spec);
        return 1;
    }
    char timeout[12];
    snprintf(timeout, sizeof timeout, "%d", spec.connect_timeout_s);
    bool ok = put("PGHOST", ep->host) && put("PGHOSTADDR", ep->hostaddr) &&
              put("PGPORT", ep->port) && put("PGDATABASE", spec.database) &&
              put("PGUSER", spec.user) && put("PGSSLMODE", spec.sslmode) &&
              put("PGSSLROOTCERT", spec.sslrootcert) && put("PGAPPNAME", spec.application_name) &&
              put("PGOPTIONS", spec.options) && put("PGCONNECT_TIMEOUT", timeout) &&
              put("PGSERVICE", NULL);
    /* Password mode without a password keeps the caller's PGPASSWORD / .pgpass. */
    if (ok && (spec.iam || spec.password))
        ok = put("PGPASSWORD", spec.iam ? token : spec.password);
    dsql__token_free(token);
    dsql__spec_free(&spec);
    if (!ok) {
        cli_error("psql", "cannot set the environment for psql: %s", strerror(errno));
        return 1;
    }

    int nargs = argc - optind;
    char **args = calloc((size_t)nargs + 2, sizeof *args);
    if (!args) {
        cli_error("psql", "out of memory");
        return 1;
    }
    args[0] = "psql";
    for (int i = 0; i < nargs; i++)
        args[i + 1] = argv[optind + i];
    fflush(NULL);
    execvp("psql", args);
    cli_error("psql",
              "cannot run psql: %s (install the PostgreSQL client: apt-get install "
              "postgresql-client)",
              strerror(errno));
    free(args);
    return 127;
}
