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

enum { PRESIGN_MAX_PARAMS = 16 };

/* A presigned URL being built: its inputs and the pieces the phases below write. */
typedef struct presign {
    const char *host, *region, *service;
    size_t host_len, region_len, service_len, akid_len;
    char amzdate[17], date[9], expires_s[24];
    size_t expires_len;
    /* in the scratch buffer: */
    char *sts; /* the string to sign (its hash slot filled last) */
    size_t sts_len;
    char *sts_hash; /* where the canonical request's hex hash goes */
    char *tail;     /* the canonical request's tail */
    size_t tail_len;
    char *cred; /* X-Amz-Credential's value, encoded */
    size_t cred_len;
    /* the query parameters, merged in key order; sig_at: how many sort before
     * X-Amz-Signature */
    qparam all[PRESIGN_MAX_PARAMS];
    size_t n, sig_at;
    /* the URL: <host>/?<q1>&X-Amz-Signature=<sig><q2> */
    char *buf;
    size_t total;
    char *q1, *q2, *sig_out;
    size_t q1_len, q2_len;
} presign;

/* The scratch buffer's size: the string to sign, "AWS4-HMAC-SHA256\n<amzdate>\n<scope>\n
 * <hex hash>", whose credential scope is "<date>/<region>/<service>/aws4_request"; the
 * canonical request's tail, "\nhost:<host>\n\nhost\n<hex sha256("")>"; X-Amz-Credential's
 * value, "<access key id>/<scope>" encoded (at most 3 bytes per byte). */
static size_t scratch_size(presign *ps)
{
    size_t scope_len = 8 + 1 + ps->region_len + 1 + ps->service_len + sizeof "/aws4_request" - 1;
    ps->sts_len = sizeof ALGORITHM + 16 + 1 + scope_len + 1 + 64;
    ps->tail_len = 6 + ps->host_len + 7 + 64;
    return ps->sts_len + ps->tail_len + 3 * (ps->akid_len + 1 + scope_len);
}

/* Writes the string to sign (but its hash), the tail and the credential into scratch, so
 * that each message is hashed in few pieces. */
static void write_scratch(presign *ps, char *scratch, const dsql_credentials *creds)
{
    ps->sts = scratch;
    char *o = put(ps->sts, ALGORITHM "\n", sizeof ALGORITHM);
    o = put(o, ps->amzdate, 16);
    *o++ = '\n';
    char *scope = o;
    o = put(o, ps->date, 8);
    *o++ = '/';
    o = put(o, ps->region, ps->region_len);
    *o++ = '/';
    o = put(o, ps->service, ps->service_len);
    size_t scope_len = (size_t)(o - scope) + sizeof "/aws4_request" - 1;
    o = put(o, "/aws4_request\n", sizeof "/aws4_request\n" - 1);
    ps->sts_hash = o; /* written once the canonical request is hashed */
    o += 64;
    ps->tail = o;
    o = put(o, "\nhost:", 6);
    o = put(o, ps->host, ps->host_len);
    o = put(o, "\n\nhost\n" EMPTY_SHA256, 7 + 64);
    ps->cred = o;
    o = dsql__uri_encode_to(ps->cred, creds->access_key_id, ps->akid_len);
    o = put(o, "%2F", 3);
    o = dsql__uri_encode_to(o, scope, scope_len);
    ps->cred_len = (size_t)(o - ps->cred);
}

/* The next byte of key p as encoded (verbatim keys are encoded already), or -1 at its
 * end. *i counts encoded bytes. */
static int encoded_byte(const qparam *p, size_t *i)
{
    if (p->verbatim)
        return *i < p->klen ? (unsigned char)p->key[(*i)++] : -1;
    /* Find the raw byte holding encoded byte *i: walk, since keys are short. */
    size_t at = 0;
    for (size_t k = 0; k < p->klen; k++) {
        unsigned char c = (unsigned char)p->key[k];
        size_t w = unreserved[c] ? 1 : 3;
        if (*i < at + w) {
            size_t off = *i - at;
            (*i)++;
            if (w == 1)
                return c;
            return off == 0 ? '%' : off == 1 ? hex_upper[c >> 4] : hex_upper[c & 15];
        }
        at += w;
    }
    return -1;
}

/* Orders two parameters by their encoded keys, byte by byte: SigV4 sorts the canonical
 * query by the encoded names ("%7B" before "A" though '{' comes after 'A'). */
static int cmp_encoded_keys(const qparam *a, const qparam *b)
{
    size_t i = 0, j = 0;
    for (;;) {
        int x = encoded_byte(a, &i), y = encoded_byte(b, &j);
        if (x != y || x < 0)
            return x - y;
    }
}

/* The X-Amz-* parameters, in key order (code points; X-Amz-Signature goes in before
 * X-Amz-SignedHeaders), merged with the caller's, sorted by encoded key. Their keys, and
 * the values that are digits or constants, need no encoding. */
static int collect_params(presign *ps, dsql__signer *signer, const dsql_credentials *creds,
                          const dsql__sigv4_param *params, size_t nparams, dsql_error *err)
{
    qparam amz[6];
    size_t namz = 0;
    amz[namz++] = QP_VERBATIM("X-Amz-Algorithm", ALGORITHM, sizeof ALGORITHM - 1);
    amz[namz++] = QP_VERBATIM("X-Amz-Credential", ps->cred, ps->cred_len);
    amz[namz++] = QP_VERBATIM("X-Amz-Date", ps->amzdate, 16);
    amz[namz++] = QP_VERBATIM("X-Amz-Expires", ps->expires_s, ps->expires_len);
    if (creds->session_token && *creds->session_token) {
        const char *enc;
        size_t enc_len;
        int rc = dsql__sigv4_encoded_token(signer, &enc, &enc_len, err);
        if (rc != DSQL_OK)
            return rc;
        amz[namz++] = QP_VERBATIM("X-Amz-Security-Token", enc, enc_len);
    }
    ps->sig_at = namz; /* every X-Amz key so far sorts before X-Amz-Signature */
    amz[namz++] = QP_VERBATIM("X-Amz-SignedHeaders", "host", 4);

    qparam given[PRESIGN_MAX_PARAMS];
    const qparam sig = QP_VERBATIM("X-Amz-Signature", "", 0);
    for (size_t i = 0; i < nparams; i++) {
        qparam p = qp(params[i].key, params[i].value, strlen(params[i].value));
        size_t j = i;
        for (; j > 0 && cmp_encoded_keys(&given[j - 1], &p) > 0; j--)
            given[j] = given[j - 1];
        given[j] = p;
        ps->sig_at += cmp_encoded_keys(&p, &sig) < 0;
    }
    ps->n = 0;
    for (size_t i = 0, j = 0; i < nparams || j < namz;) {
        bool theirs = j == namz || (i < nparams && cmp_encoded_keys(&given[i], &amz[j]) < 0);
        ps->all[ps->n++] = theirs ? given[i++] : amz[j++];
    }
    return DSQL_OK;
}

/* <host>/?<p1>&...&X-Amz-Signature=<sig>&...&<pn> in one buffer of exactly that size,
 * with a gap for the signature. */
static int write_url(presign *ps, dsql_error *err)
{
    ps->total = ps->host_len + 2 + SIG_KEY_LEN + 2 * DSQL__SHA256_LEN;
    for (size_t i = 0; i < ps->n; i++)
        ps->total += 1 + ps->all[i].len;
    ps->buf = malloc(ps->total + 1);
    if (!ps->buf)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
    char *o = put(ps->buf, ps->host, ps->host_len);
    o = put(o, "/?", 2);
    ps->q1 = o; /* the keys before the signature, '&'-separated */
    for (size_t i = 0; i < ps->sig_at; i++) {
        if (i)
            *o++ = '&';
        o = put_param(o, &ps->all[i]);
    }
    ps->q1_len = (size_t)(o - ps->q1);
    if (ps->sig_at)
        *o++ = '&';
    o = put(o, SIG_KEY, SIG_KEY_LEN);
    ps->sig_out = o;
    o += 2 * DSQL__SHA256_LEN;
    ps->q2 = o; /* the keys after it, each after a '&' */
    for (size_t i = ps->sig_at; i < ps->n; i++) {
        *o++ = '&';
        o = put_param(o, &ps->all[i]);
    }
    ps->q2_len = (size_t)(o - ps->q2);
    *o = '\0';
    if (!ps->q1_len && ps->q2_len) { /* the canonical query has no '&' in front */
        ps->q2++;
        ps->q2_len--;
    }
    return DSQL_OK;
}

/* The canonical request, hashed from its pieces; the signature written into its gap. */
static int sign_url(presign *ps, dsql__signer *signer, dsql_error *err)
{
    const dsql__span creq[] = {
        {"GET\n/\n", 6}, {ps->q1, ps->q1_len}, {ps->q2, ps->q2_len}, {ps->tail, ps->tail_len}};
    unsigned char digest[DSQL__SHA256_LEN];
    if (!dsql__signer_sha256(signer, creq, DSQL__ARRAY_LEN(creq), digest))
        return dsql_error_set(err, DSQL_EINTERNAL, "SigV4: SHA-256 failed in OpenSSL");
    char hash[DSQL__SHA256_HEX], sig[DSQL__SHA256_HEX];
    dsql__hex(digest, sizeof digest, hash);
    memcpy(ps->sts_hash, hash, 64);
    const dsql__span sts_span = {ps->sts, ps->sts_len};
    int rc =
        dsql__sigv4_signature(signer, ps->date, ps->region, ps->service, &sts_span, 1, sig, err);
    if (rc == DSQL_OK)
        memcpy(ps->sig_out, sig, 2 * DSQL__SHA256_LEN);
    return rc;
}

int dsql__sigv4_presign(const char *host, const dsql__sigv4_param *params, size_t nparams,
                        const char *region, const char *service, time_t when, long expires,
                        const dsql_credentials *creds, char **url, dsql_error *err)
{
    *url = NULL;
    presign ps = {.host = host, .region = region, .service = service};
    if (nparams > PRESIGN_MAX_PARAMS - 6)
        return dsql_error_set(err, DSQL_EINTERNAL, "SigV4: too many query parameters");
    if (!dsql__amz_date(when, ps.amzdate, ps.date))
        return dsql_error_set(err, DSQL_EINVAL, "signing time is out of range (years 1-9999)");
    if (expires < 1)
        return dsql_error_set(err, DSQL_EINTERNAL, "SigV4: expiry %ld is not positive", expires);
    ps.expires_len = dsql__i64toa(expires, ps.expires_s);
    ps.akid_len = strlen(creds->access_key_id);
    ps.region_len = strlen(region);
    ps.service_len = strlen(service);
    ps.host_len = strlen(host);
    if (ps.akid_len > SIZE_MAX / 8 || ps.region_len > SIZE_MAX / 8 ||
        ps.service_len > SIZE_MAX / 8 || ps.host_len > SIZE_MAX / 8)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
    size_t size = scratch_size(&ps);
    char small[512];
    char *scratch = size <= sizeof small ? small : malloc(size);
    if (!scratch)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
    dsql__signer signer;
    int rc = dsql__signer_begin(&signer, creds, err);
    if (rc == DSQL_OK) {
        write_scratch(&ps, scratch, creds);
        rc = collect_params(&ps, &signer, creds, params, nparams, err);
    }
    if (rc == DSQL_OK)
        rc = write_url(&ps, err);
    if (rc == DSQL_OK)
        rc = sign_url(&ps, &signer, err);
    if (rc == DSQL_OK) {
        *url = ps.buf;
        ps.buf = NULL;
    }
    dsql__signer_end(&signer);
    if (scratch != small)
        free(scratch);
    if (ps.buf) {
        dsql__wipe(ps.buf, ps.total);
        free(ps.buf);
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
