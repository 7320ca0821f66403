/* The IAM token the library's signer makes for a fixed endpoint and signing time: what a
 * connection in IAM mode must send as its password. Shared by the IAM tests (unit and
 * integration); include after testutil.h. */
#ifndef DSQL_TEST_IAM_TOKEN_H
#define DSQL_TEST_IAM_TOKEN_H

#include <time.h>

#include "dsql/dsql.h"

#define IAM_CLUSTER   "abcdefghijklmnopqrstuvwxy0.dsql.us-east-1.on.aws"
#define IAM_SIGN_TIME ((time_t)1700000000) /* 2023-11-14T22:13:20Z */

/* A new token (dsql_token_free) for IAM_CLUSTER in us-east-1, signed at `when` with the
 * credentials of creds; fails the test when it cannot be made. */
static inline char *iam_expected_token(dsql_credentials_provider *creds, dsql_token_action action,
                                       time_t when)
{
    dsql_credentials c = DSQL_CREDENTIALS_INIT;
    dsql_error err = DSQL_ERROR_INIT;
    assert_dsql_ok(dsql_credentials_provider_get(creds, &c, &err), err);
    dsql_token_params p = DSQL_TOKEN_PARAMS_INIT;
    p.hostname = IAM_CLUSTER;
    p.region = "us-east-1";
    p.action = action;
    p.signing_time = when;
    char *token = NULL;
    assert_dsql_ok(dsql_token_generate(&p, &c, &token, &err), err);
    dsql_credentials_clear(&c);
    return token;
}

#endif
