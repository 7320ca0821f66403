/*
 * The signer's per-thread state: reusable OpenSSL digest contexts for SHA-256 and
 * HMAC-SHA256, a small cache of derived signing keys, and the last session token's URI
 * encoding.
 *
 * A signing key depends only on the secret key, the date, the region and the service, so
 * it changes once a day; deriving it costs four HMACs, as much as the rest of a token.
 * Each thread keeps its last few keys as the SHA-256 states after the HMAC inner and outer
 * pads (RFC 2104), so a signature costs two context copies and the message. A key is
 * found by its scope (date, region, service), then by the secret it came from, compared
 * in constant time with a copy kept beside it: rotated credentials never meet a stale
 * key. The cache is per thread, not shared, so signing takes no lock and a pool's threads
 * never contend.
 *
 * A session token (about 1 KiB from STS) is the bulk of a token; its URI encoding takes as
 * long as hashing it. Credentials serve many tokens (a pool mints one per connection
 * with the same credentials for up to an hour), so the thread keeps the last token it
 * encoded, found again by a constant-time comparison with a copy.
 *
 * Every secret byte held here (secret and session token copies, pad states, the encoded
 * token) is wiped when it is replaced and when the thread exits.
 *
 * Thread rule: the algorithm and the thread-state key are set up once (pthread_once);
 * everything else is the calling thread's own.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/sigv4.h"

#define BLOCK     64 /* SHA-256 block size, HMAC's key pad size */
#define KEY_SLOTS 4  /* signing keys kept per thread: a few regions or credentials */

typedef struct key_slot {
    uint64_t used;     /* the thread's tick at the last use; 0 = empty */
    char date[9];      /* YYYYMMDD */
    char *blob;        /* the secret, then region and service, each NUL-terminated; wiped */
    size_t blob_size;  /* bytes of blob, for the wipe */
    size_t secret_len; /* the secret is blob[0..secret_len) */
    const char *region, *service; /* in blob */
    EVP_MD_CTX *inner, *outer;    /* SHA-256 after K^ipad, after K^opad */
} key_slot;

typedef struct thread_state {
    EVP_MD_CTX *md; /* scratch digest */
    uint64_t tick;
    unsigned long derivations;
    key_slot slots[KEY_SLOTS];
    char *token;        /* the last session token encoded, then its encoding; wiped */
    size_t token_len;   /* its length; the encoding starts at token + token_len */
    size_t encoded_len; /* the encoding's length */
    size_t token_size;  /* bytes allocated at token */
    unsigned long encodings;
} thread_state;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_alg; /* fetched once: fetching per call costs more than a digest */
static pthread_key_t state_key;
static bool state_key_ok;

static void slot_clear(key_slot *s)
{
    if (s->blob) {
        dsql__wipe(s->blob, s->blob_size);
        free(s->blob);
    }
    s->blob = NULL;
    s->blob_size = s->secret_len = 0;
    s->region = s->service = NULL;
    s->used = 0;
    memset(s->date, 0, sizeof s->date);
    /* Frees the digest states; OpenSSL cleanses them. The contexts stay for reuse. */
    if (s->inner)
        EVP_MD_CTX_reset(s->inner);
    if (s->outer)
        EVP_MD_CTX_reset(s->outer);
}

static void token_clear(thread_state *t)
{
    if (t->token) {
        dsql__wipe(t->token, t->token_size);
        free(t->token);
    }
    t->token = NULL;
    t->token_len = t->encoded_len = t->token_size = 0;
}

static void state_free(void *p)
{
    thread_state *t = p;
    if (!t)
        return;
    token_clear(t);
    for (size_t i = 0; i < KEY_SLOTS; i++) {
        slot_clear(&t->slots[i]);
        EVP_MD_CTX_free(t->slots[i].inner);
        EVP_MD_CTX_free(t->slots[i].outer);
    }
    EVP_MD_CTX_free(t->md);
    dsql__wipe(t, sizeof *t);
    free(t);
}

static void init(void)
{
    sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
    state_key_ok = pthread_key_create(&state_key, state_free) == 0;
}

/* This thread's state, created on first use. DSQL_OK, DSQL_ENOMEM or DSQL_EINTERNAL. */
static int thread_get(thread_state **out)
{
    *out = NULL;
    pthread_once(&init_once, init);
    if (!sha256_alg)
        return DSQL_EINTERNAL;
    if (!state_key_ok)
        return DSQL_ENOMEM;
    thread_state *t = pthread_getspecific(state_key);
    if (t) {
        *out = t;
        return DSQL_OK;
    }
    t = calloc(1, sizeof *t);
    if (!t)
        return DSQL_ENOMEM;
    bool ok = (t->md = EVP_MD_CTX_new()) != NULL;
    for (size_t i = 0; i < KEY_SLOTS && ok; i++)
        ok = (t->slots[i].inner = EVP_MD_CTX_new()) && (t->slots[i].outer = EVP_MD_CTX_new());
    if (!ok || pthread_setspecific(state_key, t) != 0) {
        state_free(t);
        return DSQL_ENOMEM;
    }
    *out = t;
    return DSQL_OK;
}

static int thread_error(int rc, dsql_error *err)
{
    if (rc == DSQL_ENOMEM)
        return dsql_error_set(err, rc, "SigV4: out of memory for the signing state");
    return dsql_error_set(err, rc, "SigV4: OpenSSL provides no SHA-256");
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
 * left in s as its pad states. */
static bool derive(EVP_MD_CTX *md, key_slot *s, const char *secret, size_t secret_len,
                   const char *date, const char *region, const char *service)
{
    unsigned char k[DSQL__SHA256_LEN];
    const dsql__span first[2] = {{"AWS4", 4}, {secret, secret_len}};
    const dsql__span k_span = {k, sizeof k};
    const dsql__span steps[4] = {
        {date, 8}, {region, strlen(region)}, {service, strlen(service)}, {"aws4_request", 12}};
    bool ok = hmac_key(md, s->inner, s->outer, first, 2);
    for (size_t i = 0; i < 4 && ok; i++)
        ok = hmac_run(md, s->inner, s->outer, &steps[i], 1, k) &&
             hmac_key(md, s->inner, s->outer, &k_span, 1);
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

/* The slot holding the signing key for (secret, date, region, service): found, or
 * derived into the emptiest, stalest, least recently used slot. */
static int signing_key(thread_state *t, const char *secret, const char date[9], const char *region,
                       const char *service, key_slot **out)
{
    size_t secret_len = strlen(secret);
    uint64_t tick = ++t->tick;
    key_slot *victim = NULL;
    int victim_rank = 3;
    for (size_t i = 0; i < KEY_SLOTS; i++) {
        key_slot *s = &t->slots[i];
        int rank;
        if (!s->used) {
            rank = 0;
        } else if (memcmp(s->date, date, 8) != 0) {
            rank = 1; /* another day's key: time moves on, it will hardly serve again */
        } else {
            /* The scope is public; the secret is compared in constant time. */
            if (!strcmp(s->region, region) && !strcmp(s->service, service) &&
                s->secret_len == secret_len && same_bytes(s->blob, secret, secret_len)) {
                s->used = tick;
                *out = s;
                return DSQL_OK;
            }
            rank = 2;
        }
        if (rank < victim_rank || (rank == victim_rank && s->used < victim->used)) {
            victim = s;
            victim_rank = rank;
        }
    }
    slot_clear(victim);
    size_t rlen = strlen(region), slen = strlen(service);
    victim->blob_size = secret_len + 1 + rlen + 1 + slen + 1;
    victim->blob = malloc(victim->blob_size);
    if (!victim->blob) {
        victim->blob_size = 0;
        return DSQL_ENOMEM;
    }
    char *p = victim->blob;
    memcpy(p, secret, secret_len + 1);
    p += secret_len + 1;
    memcpy(p, region, rlen + 1);
    victim->region = p;
    p += rlen + 1;
    memcpy(p, service, slen + 1);
    victim->service = p;
    victim->secret_len = secret_len;
    memcpy(victim->date, date, 8);
    if (!derive(t->md, victim, secret, secret_len, date, region, service)) {
        slot_clear(victim);
        return DSQL_EINTERNAL;
    }
    victim->used = tick;
    t->derivations++;
    *out = victim;
    return DSQL_OK;
}

int dsql__sigv4_signature(const char *secret, const char date[9], const char *region,
                          const char *service, const dsql__span *sts, size_t n,
                          char sig[DSQL__SHA256_HEX], dsql_error *err)
{
    thread_state *t;
    int rc = thread_get(&t);
    if (rc != DSQL_OK)
        return thread_error(rc, err);
    key_slot *key;
    rc = signing_key(t, secret, date, region, service, &key);
    if (rc == DSQL_ENOMEM)
        return dsql_error_set(err, rc, "SigV4: out of memory");
    if (rc != DSQL_OK)
        return dsql_error_set(err, rc, "SigV4: HMAC-SHA256 failed in OpenSSL");
    unsigned char mac[DSQL__SHA256_LEN];
    if (!hmac_run(t->md, key->inner, key->outer, sts, n, mac))
        return dsql_error_set(err, DSQL_EINTERNAL, "SigV4: HMAC-SHA256 failed in OpenSSL");
    dsql__hex(mac, sizeof mac, sig);
    return DSQL_OK;
}

bool dsql__sha256_v(const dsql__span *v, size_t n, unsigned char out[DSQL__SHA256_LEN])
{
    thread_state *t;
    return thread_get(&t) == DSQL_OK && digest(t->md, v, n, out);
}

bool dsql__sha256_hex(const void *data, size_t len, char out[DSQL__SHA256_HEX])
{
    unsigned char md[DSQL__SHA256_LEN];
    const dsql__span v = {data, len};
    if (!dsql__sha256_v(&v, 1, md))
        return false;
    dsql__hex(md, sizeof md, out);
    return true;
}

bool dsql__hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                       unsigned char out[DSQL__SHA256_LEN])
{
    thread_state *t;
    if (thread_get(&t) != DSQL_OK)
        return false;
    EVP_MD_CTX *inner = EVP_MD_CTX_new(), *outer = EVP_MD_CTX_new();
    const dsql__span k = {key, keylen}, m = {msg, len};
    bool ok = inner && outer && hmac_key(t->md, inner, outer, &k, 1) &&
              hmac_run(t->md, inner, outer, &m, 1, out);
    EVP_MD_CTX_free(inner);
    EVP_MD_CTX_free(outer);
    return ok;
}

int dsql__sigv4_encoded_token(const char *token, size_t len, const char **encoded,
                              size_t *encoded_len, dsql_error *err)
{
    thread_state *t;
    int rc = thread_get(&t);
    if (rc != DSQL_OK)
        return thread_error(rc, err);
    if (!t->token || t->token_len != len || !same_bytes(t->token, token, len)) {
        token_clear(t);
        size_t elen = dsql__uri_encoded_len(token, len);
        if (elen > SIZE_MAX - len) /* not reachable with a token that fits in memory */
            return dsql_error_set(err, DSQL_ENOMEM, "SigV4: out of memory");
        t->token = malloc(len + elen);
        if (!t->token)
            return dsql_error_set(err, DSQL_ENOMEM, "SigV4: out of memory");
        t->token_size = len + elen;
        memcpy(t->token, token, len);
        dsql__uri_encode_to(t->token + len, token, len);
        t->token_len = len;
        t->encoded_len = elen;
        t->encodings++;
    }
    *encoded = t->token + t->token_len;
    *encoded_len = t->encoded_len;
    return DSQL_OK;
}

void dsql__sigv4_thread_stats(unsigned long *key_derivations, unsigned long *token_encodings)
{
    thread_state *t;
    bool ok = thread_get(&t) == DSQL_OK;
    *key_derivations = ok ? t->derivations : 0;
    *token_encodings = ok ? t->encodings : 0;
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
