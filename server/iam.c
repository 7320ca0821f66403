/*
 * IAM token verification, as Aurora DSQL checks the password of a connection: a SigV4
 * query-presigned GET for the endpoint's host, signed with the endpoint's credentials for
 * its region and the dsql service, Action DbConnectAdmin for the user admin and DbConnect
 * for any other, within X-Amz-Date + X-Amz-Expires (and not dated ahead beyond the
 * tolerated clock skew). The signature is recomputed with libdsql's own signer. Whatever is
 * wrong, the answer never says which part.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "server.h"

#define MAX_PARAMS 16

typedef struct param {
    char key[40];
    char *value; /* decoded, malloc'd */
} param;

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes s[0, n) into a new string; NULL on a malformed escape. */
static char *decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
                free(out);
                return NULL;
            }
            *o++ = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static const char *get(const param *p, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(p[i].key, key))
            return p[i].value;
    return NULL;
}

/* YYYYMMDD'T'HHMMSS'Z' */
static bool parse_amz_date(const char *s, time_t *out)
{
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return false;
    struct tm tm = {0};
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
    tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
    tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
    tm.tm_hour = (s[9] - '0') * 10 + (s[10] - '0');
    tm.tm_min = (s[11] - '0') * 10 + (s[12] - '0');
    tm.tm_sec = (s[13] - '0') * 10 + (s[14] - '0');
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    *out = timegm(&tm);
    return *out != (time_t)-1;
}

dl_auth dl_verify_token(const char *token, const char *user, const char *host, time_t now)
{
    param p[MAX_PARAMS];
    size_t np = 0;
    dl_auth rc = DL_AUTH_DENIED;
    char *mine = NULL;
    dsql_credentials creds = DSQL_CREDENTIALS_INIT;
    const char *q = token ? strstr(token, "/?") : NULL;
    /* The host the token is for: exactly the endpoint's, as the client named it. */
    if (!q || (size_t)(q - token) != strlen(host) || strncmp(token, host, strlen(host)))
        goto done;
    for (const char *s = q + 2; *s && np < MAX_PARAMS;) {
        const char *amp = strchr(s, '&'), *end = amp ? amp : s + strlen(s);
        const char *eq = memchr(s, '=', (size_t)(end - s));
        if (!eq || (size_t)(eq - s) >= sizeof p[np].key)
            goto done;
        memcpy(p[np].key, s, (size_t)(eq - s));
        p[np].key[eq - s] = '\0';
        if (get(p, np, p[np].key) || !(p[np].value = decode(eq + 1, (size_t)(end - eq - 1))))
            goto done; /* a key twice, or a malformed escape */
        np++;
        s = amp ? amp + 1 : end;
    }
    const char *action = get(p, np, "Action"), *algo = get(p, np, "X-Amz-Algorithm"),
               *cred = get(p, np, "X-Amz-Credential"), *date = get(p, np, "X-Amz-Date"),
               *expires = get(p, np, "X-Amz-Expires"), *sig = get(p, np, "X-Amz-Signature"),
               *signed_h = get(p, np, "X-Amz-SignedHeaders"),
               *stoken = get(p, np, "X-Amz-Security-Token");
    bool admin = !strcmp(user, "admin");
    if (!action || strcmp(action, admin ? "DbConnectAdmin" : "DbConnect") || !algo ||
        strcmp(algo, "AWS4-HMAC-SHA256") || !cred || !date || !expires || !sig || !signed_h ||
        strcmp(signed_h, "host"))
        goto done;
    /* Credential: <key id>/<date>/<region>/dsql/aws4_request */
    char want[512];
    snprintf(want, sizeof want, "%s/%.8s/%s/dsql/aws4_request", dl.cfg.access_key_id, date,
             dl.cfg.region);
    if (strcmp(cred, want))
        goto done;
    if ((stoken != NULL) != (dl.cfg.session_token != NULL) ||
        (stoken && strcmp(stoken, dl.cfg.session_token)))
        goto done;
    time_t signed_at;
    char *endp;
    long exp = strtol(expires, &endp, 10);
    if (!parse_amz_date(date, &signed_at) || *endp || exp < 1 || exp > 604800)
        goto done;
    if (signed_at > now + dl.cfg.clock_skew_s)
        goto done;
    /* The signature, recomputed for exactly these inputs. */
    if (dsql_credentials_set(&creds, dl.cfg.access_key_id, dl.cfg.secret_access_key,
                             dl.cfg.session_token, 0, NULL))
        goto done;
    dsql_token_params tp = {.hostname = host,
                            .region = dl.cfg.region,
                            .action = admin ? DSQL_TOKEN_DB_CONNECT_ADMIN : DSQL_TOKEN_DB_CONNECT,
                            .expires_in = exp,
                            .signing_time = signed_at};
    if (dsql_token_generate(&tp, &creds, &mine, NULL))
        goto done;
    const char *my_sig = strstr(mine, "X-Amz-Signature=");
    if (!my_sig)
        goto done;
    my_sig += strlen("X-Amz-Signature=");
    size_t sl = strcspn(my_sig, "&");
    if (strlen(sig) != sl || CRYPTO_memcmp(sig, my_sig, sl) != 0)
        goto done;
    /* A genuine token: is it still within its window? */
    rc = now > signed_at + exp ? DL_AUTH_EXPIRED : DL_AUTH_OK;
done:
    for (size_t i = 0; i < np; i++) {
        if (p[i].value) {
            OPENSSL_cleanse(p[i].value, strlen(p[i].value));
            free(p[i].value);
        }
    }
    dsql_token_free(mine);
    dsql_credentials_clear(&creds);
    return rc;
}
