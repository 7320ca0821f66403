/* dsql: command-line companion of libdsql. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dsql/dsql.h"
#include "cli.h"

static const struct {
    const char *name;
    cli_command_fn fn;
    const char *summary;
} commands[] = {
    {"ping", cmd_ping, "connect, report server version, TLS and round-trip time"},
    {"psql", cmd_psql, "run psql on the cluster with a fresh IAM token and TLS settings"},
    {"generate-db-connect-auth-token", cmd_generate_token,
     "print an IAM auth token for a user other than admin"},
    {"generate-db-connect-admin-auth-token", cmd_generate_admin_token,
     "print an IAM auth token for the admin user"},
    {"lint", cmd_lint, "report what Aurora DSQL would refuse in SQL files, with rewrites"},
    {"migrate", cmd_migrate, "versioned schema migrations that follow Aurora DSQL's rules"},
};

const char *cli_err_text(const char *message)
{
    if (strncmp(message, "dsql_", 5) != 0)
        return message;
    size_t k = 5;
    while ((message[k] >= 'a' && message[k] <= 'z') || (message[k] >= '0' && message[k] <= '9') ||
           message[k] == '_')
        k++;
    return message[k] == ':' && message[k + 1] == ' ' ? message + k + 2 : message;
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "dsql %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: dsql <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-38s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'dsql <command> --help' describes a command. dsql --version prints the "
                 "version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("dsql %s\n", dsql_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "dsql: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
