/* Connection flags shared by the commands that connect (ping, psql): --host, --region,
 * --user, --profile, ... on top of an optional conninfo argument and the environment. */
#ifndef DSQL_CLI_CONN_FLAGS_H
#define DSQL_CLI_CONN_FLAGS_H

#include <getopt.h>
#include <stdio.h>

#include "dsql/dsql.h"

/* getopt_long codes of the connection flags (above any short option). */
enum {
    CLI_OPT_HOST = 1000,
    CLI_OPT_HOSTADDR,
    CLI_OPT_PORT,
    CLI_OPT_DBNAME,
    CLI_OPT_USER,
    CLI_OPT_REGION,
    CLI_OPT_PROFILE,
    CLI_OPT_SCHEMA,
    CLI_OPT_AUTH,
    CLI_OPT_SSLMODE,
    CLI_OPT_SSLROOTCERT,
    CLI_OPT_EXPIRES_IN,
    CLI_OPT_CONNECT_TIMEOUT,
    CLI_OPT_APPNAME,
    CLI_OPT_SIGNING_TIME,
};

/* The long options, to splice into a command's table (terminated by the command). */
#define CLI_CONN_LONG_OPTIONS                                                                      \
    {"host", required_argument, NULL, CLI_OPT_HOST},                                               \
        {"hostaddr", required_argument, NULL, CLI_OPT_HOSTADDR},                                   \
        {"port", required_argument, NULL, CLI_OPT_PORT},                                           \
        {"dbname", required_argument, NULL, CLI_OPT_DBNAME},                                       \
        {"user", required_argument, NULL, CLI_OPT_USER},                                           \
        {"region", required_argument, NULL, CLI_OPT_REGION},                                       \
        {"profile", required_argument, NULL, CLI_OPT_PROFILE},                                     \
        {"schema", required_argument, NULL, CLI_OPT_SCHEMA},                                       \
        {"auth", required_argument, NULL, CLI_OPT_AUTH},                                           \
        {"sslmode", required_argument, NULL, CLI_OPT_SSLMODE},                                     \
        {"sslrootcert", required_argument, NULL, CLI_OPT_SSLROOTCERT},                             \
        {"expires-in", required_argument, NULL, CLI_OPT_EXPIRES_IN},                               \
        {"connect-timeout", required_argument, NULL, CLI_OPT_CONNECT_TIMEOUT},                     \
        {"application-name", required_argument, NULL, CLI_OPT_APPNAME},                            \
    {                                                                                              \
        "signing-time", required_argument, NULL, CLI_OPT_SIGNING_TIME                              \
    }

/* Flags seen so far, kept as a conninfo string so they go through dsql_config_parse. */
typedef struct cli_conn_flags {
    char *conninfo; /* "keyword='value' ..." of the flags given */
    const char *signing_time;
} cli_conn_flags;

/* Reports the option getopt_long refused (it returned c, ':' for a missing value or '?'
 * for an unknown option; the option string starts with ':' so getopt prints nothing)
 * as "dsql <cmd>: ..." naming the option. */
void cli_bad_option(const char *cmd, int c, char *const *argv);

/* Records a connection flag (opt is a getopt_long code). Returns 1 when opt was one, 0
 * when it is not a connection flag, -1 when out of memory. */
int cli_conn_flag(cli_conn_flags *flags, int opt, const char *arg);

/* Fills cfg (which must be DSQL_CONFIG_INIT) from, in order of precedence: the flags, the
 * conninfo argument (may be NULL), the environment (dsql_config_from_env). Prints the
 * error (as "dsql <cmd>: ...") and returns false on failure. Frees the flags. */
bool cli_conn_config(const char *cmd, cli_conn_flags *flags, const char *conninfo,
                     dsql_config *cfg);

/* The help text of the connection flags. */
void cli_conn_flags_usage(FILE *out);

#endif
