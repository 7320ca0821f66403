/* dsql generate-db-connect-auth-token / generate-db-connect-admin-auth-token: mint an IAM
 * auth token as the AWS CLI's `aws dsql generate-db-connect[-admin]-auth-token` does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsql/dsql.h"
#include "auth/internal.h"
#include "cli.h"

static void usage(FILE *out, const char *cmd)
{
    fprintf(out,
            "usage: dsql %s --hostname HOST [--region REGION] [--expires-in SECONDS]\n"
            "       [--profile PROFILE] [--signing-time YYYY-MM-DDTHH:MM:SSZ]\n"
            "\n"
            "Prints an Aurora DSQL IAM auth token (%s) and a newline.\n"
            "\n"
            "  --hostname HOST      cluster endpoint, or a bare 26-character cluster id\n"
            "  --region REGION      signing region (default: from the host name, AWS_REGION,\n"
            "                       AWS_DEFAULT_REGION, then the profile's region)\n"
            "  --expires-in SECONDS token lifetime, 1 to 604800 (default 900)\n"
            "  --profile PROFILE    use this profile of the AWS config/credentials files\n"
            "  --signing-time TIME  sign at this UTC time instead of now\n"
            "\n"
            "Credentials come from the AWS credential chain (environment, web identity,\n"
            "shared files, container, EC2 instance metadata).\n",
            cmd,
            strstr(cmd, "admin") ? "Action=DbConnectAdmin, for the user admin"
                                 : "Action=DbConnect, for users other than admin");
}

static int run(int argc, char **argv, dsql_token_action action)
{
    const char *cmd = argv[0];
    const char *hostname = NULL, *region = NULL, *profile = NULL, *expires = NULL, *signing = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, cmd);
            return 0;
        }
        static const char *const names[] = {"--hostname", "--region", "--profile", "--expires-in",
                                            "--signing-time"};
        const char **slots[] = {&hostname, &region, &profile, &expires, &signing};
        bool matched = false;
        for (size_t k = 0; k < sizeof names / sizeof names[0] && !matched; k++) {
            size_t nl = strlen(names[k]);
            if (strncmp(a, names[k], nl) != 0 || (a[nl] != '\0' && a[nl] != '='))
                continue;
            matched = true;
            if (a[nl] == '=') {
                *slots[k] = a + nl + 1;
            } else if (i + 1 < argc) {
                *slots[k] = argv[++i];
            } else {
                cli_error(cmd, "%s needs a value", names[k]);
                return 2;
            }
        }
        if (!matched) {
            cli_error(cmd, "unknown option '%s' (see --help)", a);
            return 2;
        }
    }
    if (!hostname || !*hostname) {
        cli_error(cmd, "--hostname is required (see --help)");
        return 2;
    }
    dsql_token_params p = DSQL_TOKEN_PARAMS_INIT;
    p.action = action;
    if (expires) {
        char *end;
        long v = strtol(expires, &end, 10);
        if (!*expires || *end || v < 1 || v > DSQL_TOKEN_EXPIRES_MAX) {
            cli_error(cmd, "--expires-in must be a whole number of seconds from 1 to %d, not '%s'",
                      DSQL_TOKEN_EXPIRES_MAX, expires);
            return 2;
        }
        p.expires_in = v;
    }
    if (signing && !dsql__parse_iso8601(signing, &p.signing_time)) {
        cli_error(cmd, "--signing-time must be a UTC time such as 2026-11-25T17:00:00Z, not '%s'",
                  signing);
        return 2;
    }
    dsql_error err = DSQL_ERROR_INIT;
    char *host = NULL, *rgn = NULL, *token = NULL;
    dsql_credentials_provider *prov = NULL;
    dsql_credentials creds = DSQL_CREDENTIALS_INIT;
    int rc = dsql_endpoint_resolve(hostname, region, profile, &host, &rgn, &err);
    if (rc == DSQL_OK)
        rc = dsql_credentials_provider_default(profile, &prov, &err);
    if (rc == DSQL_OK)
        rc = dsql_credentials_provider_get(prov, &creds, &err);
    if (rc == DSQL_OK) {
        p.hostname = host;
        p.region = rgn;
        rc = dsql_token_generate(&p, &creds, &token, &err);
    }
    if (rc == DSQL_OK) {
        fputs(token, stdout);
        fputc('\n', stdout);
        if (fflush(stdout) != 0) {
            cli_error(cmd, "cannot write the token to standard output");
            rc = DSQL_EIO;
        }
    } else {
        cli_error(cmd, "%s", cli_err_text(err.message));
    }
    dsql_token_free(token);
    dsql_credentials_clear(&creds);
    dsql_credentials_provider_free(prov);
    free(host);
    free(rgn);
    return rc == DSQL_OK ? 0 : 1;
}

int cmd_generate_token(int argc, char **argv)
{
    return run(argc, argv, DSQL_TOKEN_DB_CONNECT);
}

int cmd_generate_admin_token(int argc, char **argv)
{
    return run(argc, argv, DSQL_TOKEN_DB_CONNECT_ADMIN);
}
