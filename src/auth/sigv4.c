/* SigV4 signing: query presigning (auth tokens) and header signing (STS requests). The
 * cryptography, and the memo a credentials value keeps for the signer, are in
 * sigv4_memo.c.
 *
 * A token is built straight into one buffer of its exact size, the canonical request is
 * hashed from pieces of that buffer (never copied together), and every value is encoded
 * once, by a table lookup per byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sigv4.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
/* hex(sha256("")): the payload hash of a GET, whose body is empty */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* RFC 3986 unreserved characters (A-Z a-z 0-9 - _ . ~): 1; anything else is %XX-encoded. */
static const unsigned char unreserved[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, /* 0x20: - . */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, /* 0x30: 0-9 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40: A-O */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, /* 0x50: P-Z _ */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60: a-o */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, /* 0x70: p-z ~ */
    /* 0x80-0xff: none */
};

static const char hex_upper[] = "0123456789ABCDEF";

size_t dsql__uri_encoded_len(const char *s, size_t n)
{
    size_t reserved = 0;
    for (size_t i = 0; i < n; i++)
        reserved += !unreserved[(unsigned char)s[i]];
    return n + 2 * reserved;
}

char *dsql__uri_encode_to(char *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved[c]) {
            *o++ = (char)c;
        } else {
            o[0] = '%';
            o[1] = hex_upper[c >> 4];
            o[2] = hex_upper[c & 15];
            o += 3;
        }
    }
    return o;
}

void dsql__uri_encode(dsql__strbuf *sb, const char *s, size_t n, bool keep_slash)
{
    if (n > (SIZE_MAX - 1) / 3 || !dsql__sb_reserve(sb, n * 3)) {
        sb->oom = true;
        return;
    }
    char *o = sb->data + sb->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved[c] || (c == '/' && keep_slash)) {
            *o++ = (char)c;
        } else {
            o[0] = '%';
            o[1] = hex_upper[c >> 4];
            o[2] = hex_upper[c & 15];
            o += 3;
        }
    }
    sb->len = (size_t)(o - sb->data);
    sb->data[sb->len] = '\0';
}

static char *put2(char *o, unsigned v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
    return o + 2;
}

/* Seconds from 1970 to 0001-01-01T00:00:00Z and to 9999-12-31T23:59:59Z. */
#define TIME_MIN (-62135596800LL)
#define TIME_MAX 253402300799LL

bool dsql__amz_date(time_t t, char amzdate[17], char date[9])
{
    long long s = (long long)t;
    if (s < TIME_MIN || s > TIME_MAX)
        return false;
    /* A civil date from a day count (H. Hinnant's algorithm), counted from 0001-01-01 so
     * that everything is unsigned: plain arithmetic, where gmtime_r takes the C library's
     * time zone lock. */
    unsigned long long u = (unsigned long long)(s - TIME_MIN);
    unsigned days = (unsigned)(u / 86400), sod = (unsigned)(u % 86400);
    unsigned z = days + 306; /* days since 0000-03-01, where Hinnant's years begin */
    unsigned era = z / 146097, doe = z % 146097;
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned day = doy - (153 * mp + 2) / 5 + 1;
    unsigned month = mp < 10 ? mp + 3 : mp - 9;
    unsigned year = yoe + era * 400 + (month <= 2);
    char *o = put2(amzdate, year / 100);
    o = put2(o, year % 100);
    o = put2(o, month);
    o = put2(o, day);
    *o++ = 'T';
    o = put2(o, sod / 3600);
    o = put2(o, sod / 60 % 60);
    o = put2(o, sod % 60);
    *o++ = 'Z';
    *o = '\0';
    memcpy(date, amzdate, 8);
    date[8] = '\0';
    return true;
}

/* A query parameter with its lengths: raw key and value, and "key=value" encoded. */
typedef struct qparam {
    const char *key, *value;
    size_t klen, vlen, len;
    bool verbatim; /* key and value need no encoding (or are encoded already) */
} qparam;

static qparam qp(const char *key, const char *value, size_t vlen)
{
    qparam p = {key, value, strlen(key), vlen, 0, false};
    p.len = dsql__uri_encoded_len(key, p.klen) + 1 + dsql__uri_encoded_len(value, vlen);
    return p;
}

static qparam qp_verbatim(const char *key, size_t klen, const char *value, size_t vlen)
{
    qparam p = {key, value, klen, vlen, klen + 1 + vlen, true};
    return p;
}

#define QP_VERBATIM(key, value, vlen) qp_verbatim(key, sizeof key - 1, value, vlen)

static char *put_param(char *o, const qparam *p)
{
    if (p->verbatim) {
        memcpy(o, p->key, p->klen);
        o[p->klen] = '=';
        memcpy(o + p->klen + 1, p->value, p->vlen);
        return o + p->len;
    }
    o = dsql__uri_encode_to(o, p->key, p->klen);
    *o++ = '=';
    return dsql__uri_encode_to(o, p->value, p->vlen);
}

static char *put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

#define SIG_KEY     "X-Amz-Signature="
#define SIG_KEY_LEN (sizeof SIG_KEY - 1)

int dsql__sigv4_presign(const char *host, const dsql__sigv4_param *params, size_t nparams,
                        const char *region, const char *service, time_t when, long expires,
                        const dsql_credentials *creds, char **url, dsql_error *err)
{
    enum { MAX_PARAMS = 16 };
    *url = NULL;
    char amzdate[17], date[9], expires_s[24], hash[DSQL__SHA256_HEX], sig[DSQL__SHA256_HEX];
    if (nparams > MAX_PARAMS - 6)
        return dsql_error_set(err, DSQL_EINTERNAL, "SigV4: too many query parameters");
    if (!dsql__amz_date(when, amzdate, date))
        return dsql_error_set(err, DSQL_EINVAL, "signing time is out of range (years 1-9999)");
    if (expires < 1)
        return dsql_error_set(err, DSQL_EINTERNAL, "SigV4: expiry %ld is not positive", expires);
    size_t expires_len = dsql__i64toa(expires, expires_s);

    /* One scratch buffer, so that each message is hashed in few pieces: the string to
     * sign, "AWS4-HMAC-SHA256\n<amzdate>\n<scope>\n<hex hash>", whose credential scope is
     * "<date>/<region>/<service>/aws4_request"; the canonical request's tail,
     * "\nhost:<host>\n\nhost\n<hex sha256("")>"; X-Amz-Credential's value,
     * "<access key id>/<scope>" encoded. */
    size_t akid_len = strlen(creds->access_key_id), region_len = strlen(region),
           service_len = strlen(service), host_len = strlen(host);
    if (akid_len > SIZE_MAX / 8 || region_len > SIZE_MAX / 8 || service_len > SIZE_MAX / 8 ||
        host_len > SIZE_MAX / 8)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
    size_t scope_len = 8 + 1 + region_len + 1 + service_len + sizeof "/aws4_request" - 1;
    size_t sts_len = sizeof ALGORITHM + 16 + 1 + scope_len + 1 + 64;
    size_t tail_len = 6 + host_len + 7 + 64;
    size_t scratch_size = sts_len + tail_len + 3 * (akid_len + 1 + scope_len);
    char small[512];
    char *scratch = scratch_size <= sizeof small ? small : malloc(scratch_size);
    char *buf = NULL;
    size_t total = 0;
    if (!scratch)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
    dsql__signer signer;
    int rc = dsql__signer_begin(&signer, creds, err);
    if (rc != DSQL_OK)
        goto done;
    char *sts = scratch;
    char *o = put(sts, ALGORITHM "\n", sizeof ALGORITHM);
    o = put(o, amzdate, 16);
    *o++ = '\n';
    char *scope = o;
    o = put(o, date, 8);
    *o++ = '/';
    o = put(o, region, region_len);
    *o++ = '/';
    o = put(o, service, service_len);
    o = put(o, "/aws4_request\n", sizeof "/aws4_request\n" - 1);
    char *sts_hash = o; /* written once the canonical request is hashed */
    o += 64;
    char *tail = o;
    o = put(o, "\nhost:", 6);
    o = put(o, host, host_len);
    o = put(o, "\n\nhost\n" EMPTY_SHA256, 7 + 64);
    char *cred = o;
    o = dsql__uri_encode_to(cred, creds->access_key_id, akid_len);
    o = put(o, "%2F", 3);
    o = dsql__uri_encode_to(o, scope, scope_len);
    size_t cred_len = (size_t)(o - cred);

    /* The X-Amz-* parameters, in key order (code points); X-Amz-Signature goes in before
     * X-Amz-SignedHeaders. Their keys, and the values that are digits or constants, need
     * no encoding. */
    qparam amz[6];
    size_t namz = 0;
    amz[namz++] = QP_VERBATIM("X-Amz-Algorithm", ALGORITHM, sizeof ALGORITHM - 1);
    amz[namz++] = QP_VERBATIM("X-Amz-Credential", cred, cred_len);
    amz[namz++] = QP_VERBATIM("X-Amz-Date", amzdate, 16);
    amz[namz++] = QP_VERBATIM("X-Amz-Expires", expires_s, expires_len);
    const char *token = creds->session_token;
    if (token && *token) {
        const char *enc;
        size_t enc_len;
        rc = dsql__sigv4_encoded_token(&signer, &enc, &enc_len, err);
        if (rc != DSQL_OK)
            goto done;
        amz[namz++] = QP_VERBATIM("X-Amz-Security-Token", enc, enc_len);
    }
    size_t sig_at = namz; /* how many keys sort before X-Amz-Signature: all but the last */
    amz[namz++] = QP_VERBATIM("X-Amz-SignedHeaders", "host", 4);

    /* The caller's parameters, sorted here, then merged in. */
    qparam given[MAX_PARAMS], all[MAX_PARAMS];
    for (size_t i = 0; i < nparams; i++) {
        qparam p = qp(params[i].key, params[i].value, strlen(params[i].value));
        size_t j = i;
        for (; j > 0 && strcmp(given[j - 1].key, p.key) > 0; j--)
            given[j] = given[j - 1];
        given[j] = p;
        sig_at += strcmp(p.key, "X-Amz-Signature") < 0;
    }
    size_t n = 0;
    for (size_t i = 0, j = 0; i < nparams || j < namz;) {
        bool theirs = j == namz || (i < nparams && strcmp(given[i].key, amz[j].key) < 0);
        all[n++] = theirs ? given[i++] : amz[j++];
    }

    /* <host>/?<p1>&...&X-Amz-Signature=<sig>&...&<pn>: one buffer of exactly that size */
    total = host_len + 2 + SIG_KEY_LEN + 2 * DSQL__SHA256_LEN;
    for (size_t i = 0; i < n; i++)
        total += 1 + all[i].len;
    buf = malloc(total + 1);
    if (!buf) {
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
        goto done;
    }
    o = put(buf, host, host_len);
    o = put(o, "/?", 2);
    char *q1 = o; /* the keys before the signature, '&'-separated */
    for (size_t i = 0; i < sig_at; i++) {
        if (i)
            *o++ = '&';
        o = put_param(o, &all[i]);
    }
    size_t q1_len = (size_t)(o - q1);
    if (sig_at)
        *o++ = '&';
    o = put(o, SIG_KEY, SIG_KEY_LEN);
    char *sig_out = o;
    o += 2 * DSQL__SHA256_LEN;
    char *q2 = o; /* the keys after it, each after a '&' */
    for (size_t i = sig_at; i < n; i++) {
        *o++ = '&';
        o = put_param(o, &all[i]);
    }
    size_t q2_len = (size_t)(o - q2);
    *o = '\0';
    if (!q1_len && q2_len) { /* the canonical query has no '&' in front */
        q2++;
        q2_len--;
    }

    /* The canonical request, hashed from its pieces; the signature written into its gap. */
    const dsql__span creq[] = {{"GET\n/\n", 6}, {q1, q1_len}, {q2, q2_len}, {tail, tail_len}};
    unsigned char digest[DSQL__SHA256_LEN];
    if (!dsql__signer_sha256(&signer, creq, DSQL__ARRAY_LEN(creq), digest)) {
        rc = dsql_error_set(err, DSQL_EINTERNAL, "SigV4: SHA-256 failed in OpenSSL");
        goto done;
    }
    dsql__hex(digest, sizeof digest, hash);
    memcpy(sts_hash, hash, 64);
    const dsql__span sts_span = {sts, sts_len};
    rc = dsql__sigv4_signature(&signer, date, region, service, &sts_span, 1, sig, err);
    if (rc != DSQL_OK)
        goto done;
    memcpy(sig_out, sig, 2 * DSQL__SHA256_LEN);
    *url = buf;
    buf = NULL;
done:
    dsql__signer_end(&signer);
    if (scratch != small)
        free(scratch);
    if (buf) {
        dsql__wipe(buf, total);
        free(buf);
    }
    return rc;
}

int dsql__sigv4_sign_headers(const dsql__sigv4_request *req, const dsql_credentials *creds,
                             char amzdate[17], char payload_hash[DSQL__SHA256_HEX],
                             dsql__strbuf *authorization, dsql_error *err)
{
    char date[9], hash[DSQL__SHA256_HEX], sig[DSQL__SHA256_HEX];
    unsigned char digest[DSQL__SHA256_LEN];
    if (!dsql__amz_date(req->when, amzdate, date))
        return dsql_error_set(err, DSQL_EINVAL, "signing time is out of range (years 1-9999)");
    dsql__signer signer;
    int rc = dsql__signer_begin(&signer, creds, err);
    if (rc != DSQL_OK)
        return rc;
    const dsql__span body = {req->body, req->body ? req->body_len : 0};
    if (!dsql__signer_sha256(&signer, &body, 1, digest)) {
        dsql__signer_end(&signer);
        return dsql_error_set(err, DSQL_EINTERNAL, "SigV4: SHA-256 failed in OpenSSL");
    }
    dsql__hex(digest, sizeof digest, payload_hash);
    bool token = creds->session_token && *creds->session_token;
    const char *path = req->path && *req->path ? req->path : "/";

    dsql__strbuf signed_headers = DSQL__STRBUF_INIT;
    if (req->content_type)
        dsql__sb_append(&signed_headers, "content-type;");
    dsql__sb_append(&signed_headers, "host;");
    if (req->content_sha256)
        dsql__sb_append(&signed_headers, "x-amz-content-sha256;");
    dsql__sb_append(&signed_headers, token ? "x-amz-date;x-amz-security-token" : "x-amz-date");

    /* The canonical request in three pieces, so that no buffer holds the session token:
     * the headers up to the token, the token, the rest. */
    dsql__strbuf creq = DSQL__STRBUF_INIT, tail = DSQL__STRBUF_INIT;
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
        dsql__sb_append_c(&tail, '\n');
    }
    dsql__sb_append_c(&tail, '\n');
    dsql__sb_append_n(&tail, signed_headers.data, signed_headers.len);
    dsql__sb_append_c(&tail, '\n');
    dsql__sb_append(&tail, payload_hash);
    if (creq.oom || tail.oom || signed_headers.oom) {
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
        goto done;
    }
    const dsql__span pieces[] = {
        {creq.data, creq.len},
        {token ? creds->session_token : "", token ? strlen(creds->session_token) : 0},
        {tail.data, tail.len}};
    if (!dsql__signer_sha256(&signer, pieces, DSQL__ARRAY_LEN(pieces), digest)) {
        rc = dsql_error_set(err, DSQL_EINTERNAL, "SigV4: SHA-256 failed in OpenSSL");
        goto done;
    }
    dsql__hex(digest, sizeof digest, hash);
    size_t rlen = strlen(req->region), slen = strlen(req->service);
    const dsql__span sts[] = {{ALGORITHM "\n", sizeof ALGORITHM},
                              {amzdate, 16},
                              {"\n", 1},
                              {date, 8},
                              {"/", 1},
                              {req->region, rlen},
                              {"/", 1},
                              {req->service, slen},
                              {"/aws4_request\n", 14},
                              {hash, 64}};
    rc = dsql__sigv4_signature(&signer, date, req->region, req->service, sts, DSQL__ARRAY_LEN(sts),
                               sig, err);
    if (rc != DSQL_OK)
        goto done;
    dsql__sb_reset(authorization);
    dsql__sb_appendf(authorization,
                     ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                               "Signature=%s",
                     creds->access_key_id, date, req->region, req->service, signed_headers.data,
                     sig);
    if (authorization->oom)
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
done:
    dsql__signer_end(&signer);
    dsql__sb_free(&signed_headers);
    dsql__sb_free(&creq);
    dsql__sb_free(&tail);
    return rc;
}
