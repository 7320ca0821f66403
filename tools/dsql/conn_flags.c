/* Connection flags shared by ping and psql. */
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "cli.h"
#include "conn_flags.h"
#include "util/util.h"

static const struct {
    int opt;
    const char *keyword;
} flag_keywords[] = {
    {CLI_OPT_HOST, "host"},
    {CLI_OPT_HOSTADDR, "hostaddr"},
    {CLI_OPT_PORT, "port"},
    {CLI_OPT_DBNAME, "dbname"},
    {CLI_OPT_USER, "user"},
    {CLI_OPT_REGION, "region"},
    {CLI_OPT_PROFILE, "profile"},
    {CLI_OPT_SCHEMA, "schema"},
    {CLI_OPT_AUTH, "auth"},
    {CLI_OPT_SSLMODE, "sslmode"},
    {CLI_OPT_SSLROOTCERT, "sslrootcert"},
    {CLI_OPT_EXPIRES_IN, "expires_in"},
    {CLI_OPT_CONNECT_TIMEOUT, "connect_timeout"},
    {CLI_OPT_APPNAME, "application_name"},
};

int cli_conn_flag(cli_conn_flags *flags, int opt, const char *arg)
{
    if (opt == CLI_OPT_SIGNING_TIME) {
        flags->signing_time = arg;
        return 1;
    }
    for (size_t i = 0; i < sizeof flag_keywords / sizeof flag_keywords[0]; i++) {
        if (flag_keywords[i].opt != opt)
            continue;
        /* keyword='value' with \ and ' escaped, appended to what came before */
        dsql__strbuf sb = DSQL__STRBUF_INIT;
        if (flags->conninfo) {
            dsql__sb_append(&sb, flags->conninfo);
            dsql__sb_append_c(&sb, ' ');
        }
        dsql__sb_appendf(&sb, "%s='", flag_keywords[i].keyword);
        for (const char *p = arg; *p; p++) {
            if (*p == '\\' || *p == '\'')
                dsql__sb_append_c(&sb, '\\');
            dsql__sb_append_c(&sb, *p);
        }
        dsql__sb_append_c(&sb, '\'');
        char *s = dsql__sb_detach(&sb);
        if (!s)
            return -1;
        free(flags->conninfo);
        flags->conninfo = s;
        return 1;
    }
    return 0;
}

bool cli_conn_config(const char *cmd, cli_conn_flags *flags, const char *conninfo, dsql_config *cfg)
{
    dsql_error err = DSQL_ERROR_INIT;
    bool ok = false;
    if (conninfo && dsql_config_parse(cfg, conninfo, &err)) {
        cli_error(cmd, "%s", cli_err_text(err.message));
        goto done;
    }
    if (flags->conninfo && dsql_config_parse(cfg, flags->conninfo, &err)) {
        /* The message names the keyword; say which flag that is. */
        const char *m = strstr(err.message, "keyword '");
        cli_error(cmd, "%s%s", m ? "flag " : "", cli_err_text(err.message));
        goto done;
    }
    if (flags->signing_time && !dsql__parse_iso8601(flags->signing_time, &cfg->signing_time)) {
        cli_error(cmd, "--signing-time must be a UTC time such as 2026-11-25T17:00:00Z, not '%s'",
                  flags->signing_time);
        goto done;
    }
    if (dsql_config_from_env(cfg, &err)) {
        cli_error(cmd, "%s", cli_err_text(err.message));
        goto done;
    }
    ok = true;
done:
    dsql__free_secret(flags->conninfo);
    flags->conninfo = NULL;
    return ok;
}

void cli_conn_flags_usage(FILE *out)
{
    fprintf(
        out,
        "Connection (flags win over CONNINFO, which wins over the environment):\n"
        "  --host HOST            Aurora DSQL endpoint, bare cluster id, or PostgreSQL host\n"
        "  --region REGION        signing region (default: from the host name, AWS_REGION,\n"
        "                         AWS_DEFAULT_REGION, the profile's region)\n"
        "  --user USER            database user (default admin; admin gets a DbConnectAdmin\n"
        "                         token, others DbConnect)\n"
        "  --profile PROFILE      AWS profile for credentials and region\n"
        "  --schema SCHEMA        search_path, sent in the startup options\n"
        "  --port PORT            default 5432\n"
        "  --dbname NAME          default postgres\n"
        "  --hostaddr ADDR        connect to this address (TLS and the token still use --host)\n"
        "  --auth iam|password|auto  default auto: IAM for DSQL endpoints or with --region\n"
        "  --sslmode MODE         default verify-full\n"
        "  --sslrootcert FILE     default: the system CA bundle\n"
        "  --expires-in SECONDS   token lifetime (default 900)\n"
        "  --connect-timeout SECONDS  default 10\n"
        "  --application-name NAME    prefix of application_name (NAME:libdsql/<version>)\n"
        "  --signing-time TIME    sign the token at this UTC time (for tests)\n"
        "Environment: CLUSTER_ENDPOINT, CLUSTER_REGION (or REGION), CLUSTER_USER, AWS_PROFILE;\n"
        "without CLUSTER_ENDPOINT the PG* variables (PGHOST, PGPORT, PGUSER, ...).\n");
}

void cli_bad_option(const char *cmd, int c, char *const *argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':')
        cli_error(cmd, "%s needs a value", arg);
    else if (optopt && strncmp(arg, "--", 2) != 0)
        cli_error(cmd, "unknown option '-%c' (see --help)", optopt);
    else
        cli_error(cmd, "unknown option '%s' (see --help)", arg);
}
