/*
 * SigV4 signing (query presigning and header signing) on OpenSSL's SHA-256.
 *
 * The signing key derived from (secret key, date, region, service) is cached for the day,
 * as the AWS SDKs do, so a token costs one SHA-256 of the canonical request and one HMAC
 * from cached padded states. The presigned query is built once, in the caller's buffer;
 * the canonical request is hashed from its pieces without being assembled.
 */
/* SHA256_Init/Update/Final: deprecated in OpenSSL 3 in favour of EVP, still in every 3.x
 * release; see the note above md_pieces. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "auth/sigv4.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
/* hex(sha256("")): the body of a presigned GET is empty */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

void dsql__hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- SHA-256 and HMAC-SHA256 ----
 * OpenSSL's SHA-256 block functions (the same code as its EVP digest, SHA extensions
 * included) without the EVP dispatch: a signature is a handful of short hashes, where the
 * dispatch would cost as much as the hashing, and an HMAC key's padded states are plain
 * structs that can be kept and copied. */

static void md_pieces(const void *const *piece, const size_t *len, size_t n,
                      unsigned char out[DSQL__SHA256_LEN])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    for (size_t i = 0; i < n; i++)
        SHA256_Update(&c, piece[i], len[i]);
    SHA256_Final(out, &c);
    dsql__wipe(&c, sizeof c);
}

static void md1(const void *data, size_t len, unsigned char out[DSQL__SHA256_LEN])
{
    md_pieces(&data, &len, 1, out);
}

/* An HMAC-SHA256 key as the states after its inner and outer padded blocks. */
typedef struct hmac_key {
    SHA256_CTX inner, outer;
} hmac_key;

static void hmac_init(hmac_key *k, const void *key, size_t keylen)
{
    unsigned char pad[64];
    memset(pad, 0, sizeof pad);
    if (keylen > sizeof pad)
        md1(key, keylen, pad);
    else
        memcpy(pad, key, keylen);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] ^= 0x36;
    SHA256_Init(&k->inner);
    SHA256_Update(&k->inner, pad, sizeof pad);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] ^= 0x36 ^ 0x5c;
    SHA256_Init(&k->outer);
    SHA256_Update(&k->outer, pad, sizeof pad);
    dsql__wipe(pad, sizeof pad);
}

static void hmac_run(const hmac_key *k, const void *msg, size_t msglen,
                     unsigned char out[DSQL__SHA256_LEN])
{
    SHA256_CTX c = k->inner;
    unsigned char inner[DSQL__SHA256_LEN];
    SHA256_Update(&c, msg, msglen);
    SHA256_Final(inner, &c);
    c = k->outer;
    SHA256_Update(&c, inner, sizeof inner);
    SHA256_Final(out, &c);
    dsql__wipe(&c, sizeof c);
    dsql__wipe(inner, sizeof inner);
}

/* HMAC-SHA256 (RFC 2104) with a key used once. */
static void hmac(const void *key, size_t keylen, const void *msg, size_t msglen,
                 unsigned char out[DSQL__SHA256_LEN])
{
    hmac_key k;
    hmac_init(&k, key, keylen);
    hmac_run(&k, msg, msglen, out);
    dsql__wipe(&k, sizeof k);
}

bool dsql__sha256_hex(const void *data, size_t len, char out[DSQL__SHA256_HEX])
{
    unsigned char md[DSQL__SHA256_LEN];
    md1(data, len, md);
    dsql__hex(md, sizeof md, out);
    return true;
}

/* ---- the signing key, cached for the day ---- */

/*
 * HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request". The result
 * depends only on those inputs and stays valid for the UTC day, so the last few are kept
 * in a small process-wide table behind a mutex (as its padded HMAC states), keyed by
 * SHA-256(secret) and the scope, never the secret itself; entries are wiped when replaced.
 */
#define KEY_CACHE_SLOTS 8

typedef struct key_slot {
    bool used;
    unsigned char secret_md[DSQL__SHA256_LEN];
    char scope[96]; /* "date/region/service" */
    hmac_key key;
} key_slot;

static pthread_mutex_t key_mu = PTHREAD_MUTEX_INITIALIZER;
static key_slot key_cache[KEY_CACHE_SLOTS];
static unsigned key_next;

static bool signing_key(const char *secret, const char *date, const char *region,
                        const char *service, hmac_key *key)
{
    size_t slen = strlen(secret), dlen = strlen(date), rlen = strlen(region),
           svlen = strlen(service);
    unsigned char smd[DSQL__SHA256_LEN];
    char scope[sizeof key_cache[0].scope];
    bool cacheable = dlen + rlen + svlen + 3 <= sizeof scope;
    if (cacheable) {
        char *o = scope;
        memcpy(o, date, dlen);
        o += dlen;
        *o++ = '/';
        memcpy(o, region, rlen);
        o += rlen;
        *o++ = '/';
        memcpy(o, service, svlen + 1);
        md1(secret, slen, smd);
        pthread_mutex_lock(&key_mu);
        for (size_t i = 0; i < KEY_CACHE_SLOTS; i++) {
            key_slot *k = &key_cache[i];
            if (k->used && !CRYPTO_memcmp(k->secret_md, smd, sizeof smd) &&
                !strcmp(k->scope, scope)) {
                *key = k->key;
                pthread_mutex_unlock(&key_mu);
                dsql__wipe(smd, sizeof smd);
                return true;
            }
        }
        pthread_mutex_unlock(&key_mu);
    }
    unsigned char first[4 + 128], k1[DSQL__SHA256_LEN], k2[DSQL__SHA256_LEN];
    unsigned char *kfirst = slen <= sizeof first - 4 ? first : malloc(slen + 4);
    if (!kfirst)
        return false;
    memcpy(kfirst, "AWS4", 4);
    memcpy(kfirst + 4, secret, slen);
    hmac(kfirst, slen + 4, date, dlen, k1);
    hmac(k1, sizeof k1, region, rlen, k2);
    hmac(k2, sizeof k2, service, svlen, k1);
    hmac(k1, sizeof k1, "aws4_request", 12, k2);
    hmac_init(key, k2, sizeof k2);
    dsql__wipe(kfirst, slen + 4);
    if (kfirst != first)
        free(kfirst);
    dsql__wipe(k1, sizeof k1);
    dsql__wipe(k2, sizeof k2);
    if (cacheable) {
        pthread_mutex_lock(&key_mu);
        key_slot *k = &key_cache[key_next++ % KEY_CACHE_SLOTS];
        dsql__wipe(&k->key, sizeof k->key);
        k->used = true;
        memcpy(k->secret_md, smd, sizeof smd);
        memcpy(k->scope, scope, sizeof scope);
        k->key = *key;
        pthread_mutex_unlock(&key_mu);
        dsql__wipe(smd, sizeof smd);
    }
    return true;
}

/* signature = hex(HMAC(signing key, string_to_sign)). */
static bool sign(const char *secret, const char *date, const char *region, const char *service,
                 const char *string_to_sign, size_t sts_len, char sig[DSQL__SHA256_HEX])
{
    hmac_key key;
    unsigned char mac[DSQL__SHA256_LEN];
    if (!signing_key(secret, date, region, service, &key))
        return false;
    hmac_run(&key, string_to_sign, sts_len, mac);
    dsql__hex(mac, sizeof mac, sig);
    dsql__wipe(&key, sizeof key);
    return true;
}

/* ---- encoding ---- */

/* 1 for the bytes RFC 3986 leaves alone: A-Z a-z 0-9 - _ . ~ */
static const unsigned char unreserved[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
    ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

#if defined(__SSE2__)
#include <emmintrin.h>

/* Bit i set when byte i of x passes unchanged (A-Z a-z 0-9 - _ . ~). */
static unsigned unreserved16(__m128i x)
{
    /* Signed compares: bytes >= 0x80 are negative and fall in no range. */
    __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
                                  _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
    __m128i low = _mm_or_si128(x, _mm_set1_epi8(0x20)); /* A-Z folded onto a-z */
    __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(low, _mm_set1_epi8('a' - 1)),
                                  _mm_cmplt_epi8(low, _mm_set1_epi8('z' + 1)));
    __m128i mark = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('-')), _mm_cmpeq_epi8(x, _mm_set1_epi8('.'))),
        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('_')), _mm_cmpeq_epi8(x, _mm_set1_epi8('~'))));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(digit, alpha), mark));
}
#endif

void dsql__uri_encode(dsql__strbuf *sb, const char *s, size_t n, bool keep_slash)
{
    static const char hexd[] = "0123456789ABCDEF";
    if (!dsql__sb_reserve(sb, n * 3))
        return;
    const unsigned char *in = (const unsigned char *)s, *end = in + n;
    char *o = sb->data + sb->len;
    while (in < end) {
#if defined(__SSE2__)
        /* 16 bytes at a time while they pass unchanged (most of a token). Storing all 16
         * is safe: 3 bytes of room were reserved for each byte still to come. */
        while (end - in >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)in);
            _mm_storeu_si128((__m128i *)(void *)o, x);
            unsigned pass = unreserved16(x);
            if (pass != 0xffff) {
                unsigned k = (unsigned)__builtin_ctz(~pass);
                in += k;
                o += k;
                break;
            }
            in += 16;
            o += 16;
        }
        if (in == end)
            break;
#endif
        unsigned char c = *in++;
        if (unreserved[c] || (c == '/' && keep_slash)) {
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
    /* UTC civil date from the day count (H. Hinnant's days-to-civil algorithm): gmtime_r
     * would take the C library's time-zone lock and tables for every token. */
    int64_t secs = (int64_t)t, days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    if (year < 1 || year > 9999)
        return false;
    char *o = put_digits(amzdate, (int)year, 4);
    o = put_digits(o, (int)month, 2);
    o = put_digits(o, (int)day, 2);
    *o++ = 'T';
    o = put_digits(o, (int)(rem / 3600), 2);
    o = put_digits(o, (int)(rem / 60 % 60), 2);
    o = put_digits(o, (int)(rem % 60), 2);
    *o++ = 'Z';
    *o = '\0';
    memcpy(date, amzdate, 8);
    date[8] = '\0';
    return true;
}

/* ---- presigning ---- */

/*
 * The RFC 3986 form of the last session token seen. A session token (about 1 KiB) is the
 * same for every token minted with the same credentials, and encoding it is a third of
 * the signature's work. The memo is compared with the raw token byte for byte before use;
 * both copies are wiped when replaced.
 */
static pthread_mutex_t token_mu = PTHREAD_MUTEX_INITIALIZER;
static char *token_raw, *token_enc;
static size_t token_rawlen, token_enclen;

/* Appends the encoded session token to out (room reserved by the caller). */
static void append_session_token(dsql__strbuf *out, const char *token, size_t len)
{
    pthread_mutex_lock(&token_mu);
    if (token_raw && token_rawlen == len && !memcmp(token_raw, token, len)) {
        memcpy(out->data + out->len, token_enc, token_enclen + 1);
        out->len += token_enclen;
        pthread_mutex_unlock(&token_mu);
        return;
    }
    pthread_mutex_unlock(&token_mu);
    size_t start = out->len;
    dsql__uri_encode(out, token, len, false);
    if (out->oom)
        return;
    size_t enclen = out->len - start;
    char *raw = malloc(len + 1), *enc = malloc(enclen + 1);
    if (!raw || !enc) {
        free(raw);
        free(enc);
        return;
    }
    memcpy(raw, token, len);
    memcpy(enc, out->data + start, enclen + 1);
    pthread_mutex_lock(&token_mu);
    char *old_raw = token_raw, *old_enc = token_enc;
    size_t old_rawlen = token_rawlen, old_enclen = token_enclen;
    token_raw = raw;
    token_enc = enc;
    token_rawlen = len;
    token_enclen = enclen;
    pthread_mutex_unlock(&token_mu);
    if (old_raw) {
        dsql__wipe(old_raw, old_rawlen);
        dsql__wipe(old_enc, old_enclen);
    }
    free(old_raw);
    free(old_enc);
}

int dsql__sigv4_presign(const char *host, const dsql__sigv4_param *params, size_t nparams,
                        const char *region, const char *service, time_t when, long expires,
                        const dsql_credentials *creds, dsql__strbuf *out, dsql_error *err)
{
    enum { MAX_PARAMS = 16 };
    char amzdate[17], date[9], expires_s[24], sig[DSQL__SHA256_HEX];
    if (nparams > MAX_PARAMS - 8)
        return dsql_error_set(err, DSQL_EINTERNAL, "SigV4: too many query parameters");
    if (!dsql__amz_date(when, amzdate, date))
        return dsql_error_set(err, DSQL_EINVAL, "signing time is out of range (years 1-9999)");
    dsql__i64toa(expires, expires_s);

    /* <access key id>/<date>/<region>/<service>/aws4_request; the scope starts after the
     * key id. */
    size_t aklen = strlen(creds->access_key_id), rlen = strlen(region), svlen = strlen(service);
    size_t credlen = aklen + 1 + 8 + 1 + rlen + 1 + svlen + 13;
    char cred_small[160];
    char *cred = credlen < sizeof cred_small ? cred_small : malloc(credlen + 1);
    if (!cred)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
    {
        char *o = cred;
        memcpy(o, creds->access_key_id, aklen);
        o += aklen;
        *o++ = '/';
        memcpy(o, date, 8);
        o += 8;
        *o++ = '/';
        memcpy(o, region, rlen);
        o += rlen;
        *o++ = '/';
        memcpy(o, service, svlen);
        o += svlen;
        memcpy(o, "/aws4_request", 14);
    }
    const char *scope = cred + aklen + 1;
    size_t scopelen = credlen - aklen - 1;

    /* Every parameter, the signature's slot (value NULL) included, sorted by key in code
     * point order, as the SDKs sort them. */
    dsql__sigv4_param all[MAX_PARAMS];
    size_t n = 0;
    for (size_t i = 0; i < nparams; i++)
        all[n++] = params[i];
    all[n++] = (dsql__sigv4_param){"X-Amz-Algorithm", ALGORITHM};
    all[n++] = (dsql__sigv4_param){"X-Amz-Credential", cred};
    all[n++] = (dsql__sigv4_param){"X-Amz-Date", amzdate};
    all[n++] = (dsql__sigv4_param){"X-Amz-Expires", expires_s};
    if (creds->session_token && *creds->session_token)
        all[n++] = (dsql__sigv4_param){"X-Amz-Security-Token", creds->session_token};
    all[n++] = (dsql__sigv4_param){"X-Amz-Signature", NULL};
    all[n++] = (dsql__sigv4_param){"X-Amz-SignedHeaders", "host"};
    for (size_t i = 1; i < n; i++) {
        dsql__sigv4_param p = all[i];
        size_t j = i;
        for (; j > 0 && strcmp(all[j - 1].key, p.key) > 0; j--)
            all[j] = all[j - 1];
        all[j] = p;
    }

    /* The canonical query string, written straight into out; the signature's slot is
     * remembered and filled in afterwards. */
    size_t klen[MAX_PARAMS], vlen[MAX_PARAMS], need = DSQL__SHA256_HEX + 32;
    for (size_t i = 0; i < n; i++) {
        klen[i] = strlen(all[i].key);
        vlen[i] = all[i].value ? strlen(all[i].value) : 0;
        need += klen[i] + 2 + 3 * vlen[i];
    }
    int rc = DSQL_OK;
    if (!dsql__sb_reserve(out, need)) {
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
        goto done;
    }
    size_t base = out->len, slot = 0;
    for (size_t i = 0; i < n; i++) {
        if (!all[i].value) {
            slot = out->len;
            continue;
        }
        if (out->len > base)
            out->data[out->len++] = '&';
        dsql__uri_encode(out, all[i].key, klen[i], false);
        out->data[out->len++] = '=';
        if (all[i].value == creds->session_token)
            append_session_token(out, all[i].value, vlen[i]);
        else
            dsql__uri_encode(out, all[i].value, vlen[i], false);
    }

    /* hash(canonical request), from its pieces:
     *   GET \n / \n <query> \n host:<host> \n \n host \n <hex sha256 of the empty body> */
    unsigned char md[DSQL__SHA256_LEN];
    static const char tail[] = "\n\nhost\n" EMPTY_SHA256;
    const void *piece[] = {"GET\n/\n", out->data + base, "\nhost:", host, tail};
    size_t len[] = {6, out->len - base, 6, strlen(host), sizeof tail - 1};
    md_pieces(piece, len, 5, md);

    /* The string to sign: algorithm, date, scope, hash(canonical request). */
    char sts_small[256];
    size_t stslen = sizeof ALGORITHM + 17 + scopelen + 1 + 2 * DSQL__SHA256_LEN;
    char *sts = stslen < sizeof sts_small ? sts_small : malloc(stslen + 1);
    if (!sts) {
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
        goto done;
    }
    {
        char *o = sts;
        memcpy(o, ALGORITHM "\n", sizeof ALGORITHM);
        o += sizeof ALGORITHM;
        memcpy(o, amzdate, 16);
        o += 16;
        *o++ = '\n';
        memcpy(o, scope, scopelen);
        o += scopelen;
        *o++ = '\n';
        dsql__hex(md, sizeof md, o);
    }
    bool ok = sign(creds->secret_access_key, date, region, service, sts, stslen, sig);
    if (sts != sts_small)
        free(sts);
    if (!ok) {
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory while signing");
        goto done;
    }

    /* X-Amz-Signature=<sig> into its slot (room was reserved): "&X-Amz-Signature=<sig>"
     * after the parameters before it, or "X-Amz-Signature=<sig>&" when it comes first. */
    static const char key[] = "X-Amz-Signature=";
    char ins[DSQL__SHA256_HEX + sizeof key + 2], *o = ins;
    bool first = slot == base;
    if (!first)
        *o++ = '&';
    memcpy(o, key, sizeof key - 1);
    o += sizeof key - 1;
    memcpy(o, sig, DSQL__SHA256_HEX - 1);
    o += DSQL__SHA256_HEX - 1;
    if (first && out->len > base)
        *o++ = '&';
    size_t inslen = (size_t)(o - ins);
    memmove(out->data + slot + inslen, out->data + slot, out->len - slot + 1);
    memcpy(out->data + slot, ins, inslen);
    out->len += inslen;
done:
    if (cred != cred_small)
        free(cred);
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
