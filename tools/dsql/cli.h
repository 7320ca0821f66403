/* The dsql command-line tool: one file per command, dispatched by main.c. */
#ifndef DSQL_CLI_H
#define DSQL_CLI_H

#include <stdio.h>

/* A command's entry point: argv[0] is the command name. Returns the process exit code. */
typedef int (*cli_command_fn)(int argc, char **argv);

int cmd_ping(int argc, char **argv);
int cmd_psql(int argc, char **argv);
int cmd_generate_token(int argc, char **argv);
int cmd_generate_admin_token(int argc, char **argv);
int cmd_lint(int argc, char **argv);
int cmd_migrate(int argc, char **argv);

/* Prints "dsql <cmd>: <message>\n" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A library error's message as the tool prints it: without the name of the library call
 * it starts with ("dsql_pool_open: "), which names nothing a command-line user typed. */
const char *cli_err_text(const char *message);

#endif
