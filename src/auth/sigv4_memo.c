/*
 * The signer's cryptography and its memo: what signing with one credentials value may
 * reuse from one token to the next, owned by that value (dsql_credentials.priv_).
 *
 * A signing key depends only on the secret key, the date, the region and the service, so
 * it changes once a day; deriving it costs four HMACs, as much as the rest of a token.
 * The memo keeps the key of the last scope (date, region, service) as the SHA-256 states
 * after the HMAC inner and outer pads (RFC 2104), so a signature costs two context copies
 * and the message. A session token (about 1 KiB from STS) is the bulk of a token, and its
 * URI encoding takes as long as hashing it; the memo keeps it encoded.
 *
 * The fields of a dsql_credentials are public, so a caller may change them after
 * dsql_credentials_set; the memo never trusts that they still hold what it was computed
 * from. The key is used only while the secret has the same length and the same keyed
 * fingerprint (SipHash-2-4, 128 bits, under a random key of this memo), so the memo holds
 * no copy of the secret key; a 128-bit fingerprint of a 40-character key cannot give the
 * key back, and comparing it takes a time that depends on the length only. The encoded
 * session token is kept with the token it came from, compared in constant time before
 * every use; the encoding is the token in another spelling, so the copy exposes nothing
 * more. A mismatch derives or encodes again (and the memo then follows the new value).
 *
 * The memo lives exactly as long as its credentials: dsql_credentials_set makes a new one
 * and dsql_credentials_clear wipes and frees it. Its memory comes from OpenSSL's
 * allocator, as the digest states beside it do, so an application that routes OpenSSL's
 * memory (CRYPTO_set_mem_functions) gets every byte of it there.
 *
 * Thread rule: a credentials value belongs to one thread at a time. A signing call takes
 * the memo with an atomic flag for its duration; a call that finds it taken (the same
 * const credentials signed from two threads at once) signs with a temporary memo instead,
 * so that is safe too, only slower. The SHA-256 algorithm is fetched once (pthread_once)
 * and never changes; nothing else here outlives a credentials value or a call.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth/sigv4.h"

#define BLOCK 64 /* SHA-256 block size, HMAC's key pad size */

struct dsql__sigv4_memo {
    atomic_bool busy;              /* taken by a signing call */
    unsigned char fp_key[16];      /* SipHash key of the fingerprints; random */
    EVP_MD_CTX *md;                /* scratch digest */
    EVP_MD_CTX *inner, *outer;     /* the signing key: SHA-256 after K^ipad, after K^opad */
    bool key_ok;                   /* inner/outer hold the key described below */
    char date[8];                  /* its scope: YYYYMMDD, */
    char scope[48];                /* "<region>\0<service>\0" */
    size_t secret_len;             /* and the secret it came from: its length */
    unsigned char secret_fp[16];   /* and fingerprint */
    char *token;                   /* the session token, then its encoding; wiped */
    size_t token_len, encoded_len; /* the encoding starts at token + token_len */
    size_t token_size;             /* bytes allocated at token */
    unsigned long derivations, encodings;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_alg; /* fetched once: fetching per call costs more than a digest */

static void init(void)
{
    sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* ---- the fingerprint: SipHash-2-4 with a 128-bit output (Aumasson and Bernstein) ---- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static uint64_t load_le64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8); /* one load where the portable loop below takes eight */
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
#endif
}

static void store_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

void dsql__siphash128(const unsigned char key[16], const void *data, size_t n,
                      unsigned char out[16])
{
    const unsigned char *in = data;
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1 ^ 0xee,
             v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    size_t whole = n - n % 8;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = load_le64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)n << 56;
    for (size_t i = 0; i < n % 8; i++)
        b |= (uint64_t)in[whole + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xee;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    store_le64(out, v0 ^ v1 ^ v2 ^ v3);
    v1 ^= 0xdd;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    store_le64(out + 8, v0 ^ v1 ^ v2 ^ v3);
}

/* ---- the memo ---- */

static dsql__sigv4_memo *memo_alloc(bool keyed)
{
    dsql__sigv4_memo *m = OPENSSL_zalloc(sizeof *m);
    if (!m)
        return NULL;
    atomic_init(&m->busy, false);
    if (keyed && RAND_bytes(m->fp_key, sizeof m->fp_key) != 1) {
        OPENSSL_free(m);
        return NULL;
    }
    return m;
}

dsql__sigv4_memo *dsql__sigv4_memo_new(void)
{
    return memo_alloc(true);
}

static void token_clear(dsql__sigv4_memo *m)
{
    if (m->token) {
        dsql__wipe(m->token, m->token_size);
        OPENSSL_free(m->token);
    }
    m->token = NULL;
    m->token_len = m->encoded_len = m->token_size = 0;
}

void dsql__sigv4_memo_free(dsql__sigv4_memo *m)
{
    if (!m)
        return;
    token_clear(m);
    /* OpenSSL cleanses a digest context and its state when it frees them. */
    EVP_MD_CTX_free(m->md);
    EVP_MD_CTX_free(m->inner);
    EVP_MD_CTX_free(m->outer);
    dsql__wipe(m, sizeof *m);
    OPENSSL_free(m);
}

void dsql__sigv4_memo_stats(const dsql_credentials *creds, unsigned long *key_derivations,
                            unsigned long *token_encodings)
{
    const dsql__sigv4_memo *m = creds->priv_;
    *key_derivations = m ? m->derivations : 0;
    *token_encodings = m ? m->encodings : 0;
}

size_t dsql__sigv4_memo_blocks(const dsql_credentials *creds, dsql__span *out, size_t max)
{
    const dsql__sigv4_memo *m = creds->priv_;
    size_t n = 0;
    if (m && n < max)
        out[n++] = (dsql__span){m, sizeof *m};
    if (m && m->token && n < max)
        out[n++] = (dsql__span){m->token, m->token_size};
    return n;
}

/* ---- a signing call ---- */

int dsql__signer_begin(dsql__signer *s, const dsql_credentials *creds, dsql_error *err)
{
    s->creds = creds;
    s->m = NULL;
    s->temporary = false;
    pthread_once(&init_once, init);
    if (!sha256_alg)
        return dsql_error_set(err, DSQL_EINTERNAL, "SigV4: OpenSSL provides no SHA-256");
    dsql__sigv4_memo *m = creds ? creds->priv_ : NULL;
    if (m && !atomic_exchange_explicit(&m->busy, true, memory_order_acquire)) {
        s->m = m;
    } else {
        s->m = memo_alloc(false);
        s->temporary = true;
    }
    if (s->m) { /* the contexts are made on first use (and again after a failure) */
        if (!s->m->md)
            s->m->md = EVP_MD_CTX_new();
        if (!s->m->inner)
            s->m->inner = EVP_MD_CTX_new();
        if (!s->m->outer)
            s->m->outer = EVP_MD_CTX_new();
    }
    if (!s->m || !s->m->md || !s->m->inner || !s->m->outer) {
        dsql__signer_end(s);
        return dsql_error_set(err, DSQL_ENOMEM, "SigV4: out of memory for the signing state");
    }
    return DSQL_OK;
}

void dsql__signer_end(dsql__signer *s)
{
    if (!s->m)
        return;
    if (s->temporary)
        dsql__sigv4_memo_free(s->m);
    else
        atomic_store_explicit(&s->m->busy, false, memory_order_release);
    s->m = NULL;
}

static bool digest(EVP_MD_CTX *md, const dsql__span *v, size_t n,
                   unsigned char out[DSQL__SHA256_LEN])
{
    unsigned int len = 0;
    if (!EVP_DigestInit_ex(md, sha256_alg, NULL))
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i].n && !EVP_DigestUpdate(md, v[i].p, v[i].n))
            return false;
    return EVP_DigestFinal_ex(md, out, &len) && len == DSQL__SHA256_LEN;
}

bool dsql__signer_sha256(dsql__signer *s, const dsql__span *v, size_t n,
                         unsigned char out[DSQL__SHA256_LEN])
{
    return digest(s->m->md, v, n, out);
}

/* Sets inner and outer to the SHA-256 states after K^ipad and K^opad, K being the
 * concatenation of the key pieces (hashed first when longer than a block). */
static bool hmac_key(EVP_MD_CTX *md, EVP_MD_CTX *inner, EVP_MD_CTX *outer, const dsql__span *key,
                     size_t n)
{
    unsigned char k[BLOCK] = {0}, pad[BLOCK];
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += key[i].n;
    bool ok = true;
    if (len > BLOCK) {
        ok = digest(md, key, n, k);
    } else {
        len = 0;
        for (size_t i = 0; i < n; i++) {
            if (key[i].n)
                memcpy(k + len, key[i].p, key[i].n);
            len += key[i].n;
        }
    }
    if (ok) {
        for (size_t i = 0; i < BLOCK; i++)
            pad[i] = k[i] ^ 0x36;
        ok = EVP_DigestInit_ex(inner, sha256_alg, NULL) && EVP_DigestUpdate(inner, pad, BLOCK);
        for (size_t i = 0; i < BLOCK; i++)
            pad[i] = k[i] ^ 0x5c;
        ok =
            ok && EVP_DigestInit_ex(outer, sha256_alg, NULL) && EVP_DigestUpdate(outer, pad, BLOCK);
    }
    dsql__wipe(k, sizeof k);
    dsql__wipe(pad, sizeof pad);
    return ok;
}

/* HMAC of the concatenation of the message pieces with the key set by hmac_key. */
static bool hmac_run(EVP_MD_CTX *md, const EVP_MD_CTX *inner, const EVP_MD_CTX *outer,
                     const dsql__span *msg, size_t n, unsigned char out[DSQL__SHA256_LEN])
{
    unsigned char ih[DSQL__SHA256_LEN];
    unsigned int len = 0;
    bool ok = EVP_MD_CTX_copy_ex(md, inner);
    for (size_t i = 0; i < n && ok; i++)
        ok = !msg[i].n || EVP_DigestUpdate(md, msg[i].p, msg[i].n);
    ok = ok && EVP_DigestFinal_ex(md, ih, &len) && len == DSQL__SHA256_LEN &&
         EVP_MD_CTX_copy_ex(md, outer) && EVP_DigestUpdate(md, ih, sizeof ih) &&
         EVP_DigestFinal_ex(md, out, &len) && len == DSQL__SHA256_LEN;
    dsql__wipe(ih, sizeof ih);
    return ok;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"),
 * left in m's inner and outer pad states. */
static bool derive(dsql__sigv4_memo *m, const char *secret, size_t secret_len, const char *date,
                   const char *region, size_t region_len, const char *service, size_t service_len)
{
    unsigned char k[DSQL__SHA256_LEN];
    const dsql__span first[2] = {{"AWS4", 4}, {secret, secret_len}};
    const dsql__span k_span = {k, sizeof k};
    const dsql__span steps[4] = {
        {date, 8}, {region, region_len}, {service, service_len}, {"aws4_request", 12}};
    bool ok = hmac_key(m->md, m->inner, m->outer, first, 2);
    for (size_t i = 0; i < 4 && ok; i++)
        ok = hmac_run(m->md, m->inner, m->outer, &steps[i], 1, k) &&
             hmac_key(m->md, m->inner, m->outer, &k_span, 1);
    dsql__wipe(k, sizeof k);
    return ok;
}

/* Equality of n bytes in a time that depends on n only (no early exit), reading 8 bytes
 * at a time where OpenSSL's CRYPTO_memcmp reads one. */
static bool same_bytes(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    uint64_t diff = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t u, v;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        diff |= u ^ v;
    }
    for (; i < n; i++)
        diff |= (uint64_t)(x[i] ^ y[i]);
    return diff == 0;
}

/* Leaves in s's memo the signing key of the credentials' secret for the scope: the one it
 * holds when it is that key, else a new derivation. */
static bool signing_key(dsql__signer *s, const char date[9], const char *region,
                        const char *service)
{
    dsql__sigv4_memo *m = s->m;
    const char *secret = s->creds->secret_access_key;
    size_t secret_len = strlen(secret), rlen = strlen(region), slen = strlen(service);
    bool keep = rlen + 1 + slen + 1 <= sizeof m->scope; /* else derived for this call only */
    unsigned char fp[16];
    dsql__siphash128(m->fp_key, secret, secret_len, fp);
    /* The scope is public; the secret is known by its length and fingerprint only. */
    bool hit = m->key_ok && keep && !memcmp(m->date, date, 8) && !strcmp(m->scope, region) &&
               !strcmp(m->scope + rlen + 1, service) && m->secret_len == secret_len &&
               same_bytes(m->secret_fp, fp, sizeof fp);
    if (!hit) {
        m->key_ok = false;
        if (!derive(m, secret, secret_len, date, region, rlen, service, slen)) {
            dsql__wipe(fp, sizeof fp);
            return false;
        }
        m->derivations++;
        if (keep) {
            memcpy(m->date, date, 8);
            memcpy(m->scope, region, rlen + 1);
            memcpy(m->scope + rlen + 1, service, slen + 1);
            m->secret_len = secret_len;
            memcpy(m->secret_fp, fp, sizeof fp);
            m->key_ok = true;
        }
    }
    dsql__wipe(fp, sizeof fp);
    return true;
}

int dsql__sigv4_signature(dsql__signer *s, const char date[9], const char *region,
                          const char *service, const dsql__span *sts, size_t n,
                          char sig[DSQL__SHA256_HEX], dsql_error *err)
{
    unsigned char mac[DSQL__SHA256_LEN];
    if (!signing_key(s, date, region, service) ||
        !hmac_run(s->m->md, s->m->inner, s->m->outer, sts, n, mac))
        return dsql_error_set(err, DSQL_EINTERNAL, "SigV4: HMAC-SHA256 failed in OpenSSL");
    dsql__hex(mac, sizeof mac, sig);
    return DSQL_OK;
}

int dsql__sigv4_encoded_token(dsql__signer *s, const char **encoded, size_t *encoded_len,
                              dsql_error *err)
{
    dsql__sigv4_memo *m = s->m;
    const char *token = s->creds->session_token;
    size_t len = strlen(token);
    if (!m->token || m->token_len != len || !same_bytes(m->token, token, len)) {
        token_clear(m);
        size_t elen = dsql__uri_encoded_len(token, len);
        if (elen > SIZE_MAX - len) /* not reachable with a token that fits in memory */
            return dsql_error_set(err, DSQL_ENOMEM, "SigV4: out of memory");
        m->token = OPENSSL_malloc(len + elen);
        if (!m->token)
            return dsql_error_set(err, DSQL_ENOMEM, "SigV4: out of memory");
        m->token_size = len + elen;
        memcpy(m->token, token, len);
        dsql__uri_encode_to(m->token + len, token, len);
        m->token_len = len;
        m->encoded_len = elen;
        m->encodings++;
    }
    *encoded = m->token + m->token_len;
    *encoded_len = m->encoded_len;
    return DSQL_OK;
}

bool dsql__hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                       unsigned char out[DSQL__SHA256_LEN])
{
    dsql__signer s;
    if (dsql__signer_begin(&s, NULL, NULL) != DSQL_OK)
        return false;
    const dsql__span k = {key, keylen}, m = {msg, len};
    bool ok = hmac_key(s.m->md, s.m->inner, s.m->outer, &k, 1) &&
              hmac_run(s.m->md, s.m->inner, s.m->outer, &m, 1, out);
    dsql__signer_end(&s);
    return ok;
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
