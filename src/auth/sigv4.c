/* SigV4 signing (query presigning and header signing) on OpenSSL 3 EVP / EVP_MAC. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "auth/sigv4.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

/* Fetched once and never changed after: fetching per call would cost more than the
 * signature itself. */
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_alg;
static EVP_MD *sha256_alg;

static void fetch_algs(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static bool algs_ready(void)
{
    pthread_once(&algs_once, fetch_algs);
    return hmac_alg && sha256_alg;
}

void dsql__hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

bool dsql__sha256_hex(const void *data, size_t len, char out[DSQL__SHA256_HEX])
{
    unsigned char md[DSQL__SHA256_LEN];
    unsigned int mdlen = 0;
    if (!algs_ready() || !EVP_Digest(data, len, md, &mdlen, sha256_alg, NULL) ||
        mdlen != DSQL__SHA256_LEN)
        return false;
    dsql__hex(md, sizeof md, out);
    return true;
}

/* One HMAC context per signature, re-keyed for each step of the key derivation. */
typedef struct hmac {
    EVP_MAC_CTX *ctx;
} hmac;

static bool hmac_open(hmac *h)
{
    h->ctx = NULL;
    if (!algs_ready())
        return false;
    h->ctx = EVP_MAC_CTX_new(hmac_alg);
    if (!h->ctx)
        return false;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_CTX_set_params(h->ctx, params)) {
        EVP_MAC_CTX_free(h->ctx);
        h->ctx = NULL;
        return false;
    }
    return true;
}

static bool hmac_run(hmac *h, const void *key, size_t keylen, const void *msg, size_t msglen,
                     unsigned char out[DSQL__SHA256_LEN])
{
    size_t outlen = 0;
    return EVP_MAC_init(h->ctx, key, keylen, NULL) && EVP_MAC_update(h->ctx, msg, msglen) &&
           EVP_MAC_final(h->ctx, out, &outlen, DSQL__SHA256_LEN) && outlen == DSQL__SHA256_LEN;
}

static void hmac_close(hmac *h)
{
    EVP_MAC_CTX_free(h->ctx); /* the context's key copy is cleansed by OpenSSL */
    h->ctx = NULL;
}

/* signature = hex(HMAC(key chain("AWS4"+secret, date, region, service, "aws4_request"),
 * string_to_sign)). The derived keys are wiped. */
static bool sign(const char *secret, const char *date, const char *region, const char *service,
                 const char *string_to_sign, size_t sts_len, char sig[DSQL__SHA256_HEX])
{
    hmac h;
    if (!hmac_open(&h))
        return false;
    size_t slen = strlen(secret);
    bool ok = false;
    unsigned char k[DSQL__SHA256_LEN], k2[DSQL__SHA256_LEN];
    char *first = malloc(slen + 5);
    if (!first)
        goto done;
    memcpy(first, "AWS4", 4);
    memcpy(first + 4, secret, slen + 1);
    ok = hmac_run(&h, first, slen + 4, date, strlen(date), k) &&
         hmac_run(&h, k, sizeof k, region, strlen(region), k2) &&
         hmac_run(&h, k2, sizeof k2, service, strlen(service), k) &&
         hmac_run(&h, k, sizeof k, "aws4_request", 12, k2) &&
         hmac_run(&h, k2, sizeof k2, string_to_sign, sts_len, k);
    if (ok)
        dsql__hex(k, sizeof k, sig);
    dsql__free_secret(first);
done:
    dsql__wipe(k, sizeof k);
    dsql__wipe(k2, sizeof k2);
    hmac_close(&h);
    return ok;
}

void dsql__uri_encode(dsql__strbuf *sb, const char *s, size_t n, bool keep_slash)
{
    static const char hexd[] = "0123456789ABCDEF";
    if (!dsql__sb_reserve(sb, n * 3))
        return;
    char *o = sb->data + sb->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash)) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hexd[c >> 4];
            *o++ = hexd[c & 15];
        }
    }
    sb->len = (size_t)(o - sb->data);
    sb->data[sb->len] = '\0';
}

static char *put_digits(char *o, int v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        o[i] = (char)('0' + v % 10);
    return o + n;
}

bool dsql__amz_date(time_t t, char amzdate[17], char date[9])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
        return false;
    char *o = put_digits(amzdate, tm.tm_year + 1900, 4);
    o = put_digits(o, tm.tm_mon + 1, 2);
    o = put_digits(o, tm.tm_mday, 2);
    *o++ = 'T';
    o = put_digits(o, tm.tm_hour, 2);
    o = put_digits(o, tm.tm_min, 2);
    o = put_digits(o, tm.tm_sec, 2);
    *o++ = 'Z';
    *o = '\0';
    memcpy(date, amzdate, 8);
    date[8] = '\0';
    return true;
}

static int cmp_param(const void *a, const void *b)
{
    return strcmp(((const dsql__sigv4_param *)a)->key, ((const dsql__sigv4_param *)b)->key);
}

static void append_param(dsql__strbuf *sb, const dsql__sigv4_param *p)
{
    if (sb->len)
        dsql__sb_append_c(sb, '&');
    dsql__uri_encode(sb, p->key, strlen(p->key), false);
    dsql__sb_append_c(sb, '=');
    dsql__uri_encode(sb, p->value, strlen(p->value), false);
}

int dsql__sigv4_presign(const char *host, const dsql__sigv4_param *params, size_t nparams,
                        const char *region, const char *service, time_t when, long expires,
                        const dsql_credentials *creds, dsql__strbuf *out, dsql_error *err)
{
    enum { MAX_PARAMS = 16 };
    char amzdate[17], date[9], expires_s[24], sig[DSQL__SHA256_HEX], hash[DSQL__SHA256_HEX];
    if (nparams > MAX_PARAMS - 7)
        return dsql_error_set(err, DSQL_EINTERNAL, "SigV4: too many query parameters");
    if (!dsql__amz_date(when, amzdate, date))
        return dsql_error_set(err, DSQL_EINVAL, "signing time is out of range (years 1-9999)");
    snprintf(expires_s, sizeof expires_s, "%ld", expires);

    dsql__strbuf cred = DSQL__STRBUF_INIT;
    dsql__sb_appendf(&cred, "%s/%s/%s/%s/aws4_request", creds->access_key_id, date, region,
                     service);
    if (cred.oom)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");

    /* Keys sorted by code point: Action < X-Amz-Algorithm < ... < X-Amz-SignedHeaders. */
    dsql__sigv4_param all[MAX_PARAMS];
    size_t n = 0;
    for (size_t i = 0; i < nparams; i++)
        all[n++] = params[i];
    all[n++] = (dsql__sigv4_param){"X-Amz-Algorithm", ALGORITHM};
    all[n++] = (dsql__sigv4_param){"X-Amz-Credential", cred.data};
    all[n++] = (dsql__sigv4_param){"X-Amz-Date", amzdate};
    all[n++] = (dsql__sigv4_param){"X-Amz-Expires", expires_s};
    if (creds->session_token && *creds->session_token)
        all[n++] = (dsql__sigv4_param){"X-Amz-Security-Token", creds->session_token};
    all[n++] = (dsql__sigv4_param){"X-Amz-SignedHeaders", "host"};
    qsort(all, n, sizeof all[0], cmp_param);

    dsql__strbuf query = DSQL__STRBUF_INIT; /* holds the session token: wiped */
    dsql__strbuf creq = DSQL__STRBUF_INIT;
    dsql__strbuf sts = DSQL__STRBUF_INIT;
    int rc = DSQL_OK;
    for (size_t i = 0; i < n; i++)
        append_param(&query, &all[i]);
    dsql__sb_reserve(&creq, query.len + strlen(host) + 128);
    dsql__sb_append(&creq, "GET\n/\n");
    dsql__sb_append_n(&creq, query.data, query.len);
    dsql__sb_append(&creq, "\nhost:");
    dsql__sb_append(&creq, host);
    /* hex(sha256("")): the body of a GET is empty */
    dsql__sb_append(&creq, "\n\nhost\n"
                           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    if (query.oom || creq.oom) {
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
        goto done;
    }
    if (!dsql__sha256_hex(creq.data, creq.len, hash)) {
        rc = dsql_error_set(err, DSQL_EINTERNAL, "SigV4: SHA-256 failed in OpenSSL");
        goto done;
    }
    dsql__sb_appendf(&sts, ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", amzdate, date, region,
                     service, hash);
    if (sts.oom) {
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
        goto done;
    }
    if (!sign(creds->secret_access_key, date, region, service, sts.data, sts.len, sig)) {
        rc = dsql_error_set(err, DSQL_EINTERNAL, "SigV4: HMAC-SHA256 failed in OpenSSL");
        goto done;
    }
    /* The output: the same parameters with X-Amz-Signature sorted in among them. */
    all[n++] = (dsql__sigv4_param){"X-Amz-Signature", sig};
    qsort(all, n, sizeof all[0], cmp_param);
    dsql__sb_reserve(out, query.len + 96);
    for (size_t i = 0; i < n; i++) {
        if (i)
            dsql__sb_append_c(out, '&');
        dsql__uri_encode(out, all[i].key, strlen(all[i].key), false);
        dsql__sb_append_c(out, '=');
        dsql__uri_encode(out, all[i].value, strlen(all[i].value), false);
    }
    if (out->oom)
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
done:
    dsql__sb_free(&cred);
    dsql__sb_free_secret(&query);
    dsql__sb_free_secret(&creq);
    dsql__sb_free(&sts);
    return rc;
}

int dsql__sigv4_sign_headers(const dsql__sigv4_request *req, const dsql_credentials *creds,
                             char amzdate[17], char payload_hash[DSQL__SHA256_HEX],
                             dsql__strbuf *authorization, dsql_error *err)
{
    char date[9], hash[DSQL__SHA256_HEX], sig[DSQL__SHA256_HEX];
    if (!dsql__amz_date(req->when, amzdate, date))
        return dsql_error_set(err, DSQL_EINVAL, "signing time is out of range (years 1-9999)");
    if (!dsql__sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0, payload_hash))
        return dsql_error_set(err, DSQL_EINTERNAL, "SigV4: SHA-256 failed in OpenSSL");
    bool token = creds->session_token && *creds->session_token;
    const char *path = req->path && *req->path ? req->path : "/";

    dsql__strbuf signed_headers = DSQL__STRBUF_INIT;
    if (req->content_type)
        dsql__sb_append(&signed_headers, "content-type;");
    dsql__sb_append(&signed_headers, "host;");
    if (req->content_sha256)
        dsql__sb_append(&signed_headers, "x-amz-content-sha256;");
    dsql__sb_append(&signed_headers, token ? "x-amz-date;x-amz-security-token" : "x-amz-date");

    dsql__strbuf creq = DSQL__STRBUF_INIT;
    dsql__strbuf sts = DSQL__STRBUF_INIT;
    int rc = DSQL_OK;
    dsql__sb_append(&creq, req->method);
    dsql__sb_append_c(&creq, '\n');
    dsql__uri_encode(&creq, path, strlen(path), true);
    dsql__sb_append_c(&creq, '\n');
    dsql__sb_append(&creq, req->query ? req->query : "");
    dsql__sb_append_c(&creq, '\n');
    if (req->content_type)
        dsql__sb_appendf(&creq, "content-type:%s\n", req->content_type);
    dsql__sb_appendf(&creq, "host:%s\n", req->host);
    if (req->content_sha256)
        dsql__sb_appendf(&creq, "x-amz-content-sha256:%s\n", payload_hash);
    dsql__sb_appendf(&creq, "x-amz-date:%s\n", amzdate);
    if (token) {
        dsql__sb_append(&creq, "x-amz-security-token:");
        dsql__sb_append(&creq, creds->session_token);
        dsql__sb_append_c(&creq, '\n');
    }
    dsql__sb_append_c(&creq, '\n');
    dsql__sb_append_n(&creq, signed_headers.data, signed_headers.len);
    dsql__sb_append_c(&creq, '\n');
    dsql__sb_append(&creq, payload_hash);
    if (creq.oom || signed_headers.oom) {
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
        goto done;
    }
    if (!dsql__sha256_hex(creq.data, creq.len, hash)) {
        rc = dsql_error_set(err, DSQL_EINTERNAL, "SigV4: SHA-256 failed in OpenSSL");
        goto done;
    }
    dsql__sb_appendf(&sts, ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", amzdate, date, req->region,
                     req->service, hash);
    if (sts.oom) {
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
        goto done;
    }
    if (!sign(creds->secret_access_key, date, req->region, req->service, sts.data, sts.len, sig)) {
        rc = dsql_error_set(err, DSQL_EINTERNAL, "SigV4: HMAC-SHA256 failed in OpenSSL");
        goto done;
    }
    dsql__sb_reset(authorization);
    dsql__sb_appendf(authorization,
                     ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                               "Signature=%s",
                     creds->access_key_id, date, req->region, req->service, signed_headers.data,
                     sig);
    if (authorization->oom)
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
done:
    dsql__sb_free(&signed_headers);
    dsql__sb_free_secret(&creq);
    dsql__sb_free(&sts);
    return rc;
}
