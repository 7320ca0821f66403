/* Config resolution: a dsql_config (checked, defaults applied) resolved into the spec
 * every connection of a pool is opened from: TLS settings, startup options, and in IAM
 * mode the endpoint, region and credentials (conn/iam.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "conn/private.h"

#define DEFAULT_CONNECT_TIMEOUT_S 10

void dsql__spec_free(dsql__spec *spec)
{
    if (!spec)
        return;
    for (size_t i = 0; i < DSQL__MAX_ENDPOINTS; i++) {
        free(spec->ep[i].host);
        free(spec->ep[i].hostaddr);
        free(spec->ep[i].region);
    }
    free(spec->database);
    free(spec->user);
    dsql__free_secret(spec->password);
    dsql__spec_free_iam(spec);
    free(spec->options);
    free(spec->schema);
    free(spec->application_name);
    free(spec->sslmode);
    free(spec->sslrootcert);
    memset(spec, 0, sizeof *spec);
}

/* The system CA bundle, for libpq < 16 (which has no sslrootcert=system) and verify-ca. */
static const char *system_ca_bundle(void)
{
    static const char *const candidates[] = {
        "/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Alpine */
        "/etc/pki/tls/certs/ca-bundle.crt",   /* RHEL, Fedora, Amazon Linux */
        "/etc/ssl/ca-bundle.pem",             /* SUSE */
        "/etc/ssl/cert.pem",                  /* macOS, BSDs */
    };
    for (size_t i = 0; i < DSQL__ARRAY_LEN(candidates); i++)
        if (access(candidates[i], R_OK) == 0)
            return candidates[i];
    const char *def = X509_get_default_cert_file();
    if (def && access(def, R_OK) == 0)
        return def;
    return NULL;
}

/* A schema name as one element of search_path: bare when it is a plain lower-case
 * identifier, otherwise double-quoted with quotes doubled. */
static void append_search_path_item(dsql__strbuf *sb, const char *schema)
{
    bool plain = (*schema >= 'a' && *schema <= 'z') || *schema == '_';
    for (const char *p = schema; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '$';
    if (plain) {
        dsql__sb_append(sb, schema);
        return;
    }
    dsql__sb_append_c(sb, '"');
    for (const char *p = schema; *p; p++) {
        if (*p == '"')
            dsql__sb_append_c(sb, '"');
        dsql__sb_append_c(sb, *p);
    }
    dsql__sb_append_c(sb, '"');
}

/* The startup `options` value: libpq splits it on spaces, and a backslash escapes the next
 * character (so spaces and backslashes inside a value are escaped). */
static char *startup_options(const char *schema)
{
    dsql__strbuf item = DSQL__STRBUF_INIT, out = DSQL__STRBUF_INIT;
    dsql__sb_append(&item, "search_path=");
    append_search_path_item(&item, schema);
    dsql__sb_append(&out, "-c ");
    for (const char *p = dsql__sb_str(&item); p && *p; p++) {
        if (*p == ' ' || *p == '\\' || *p == '\t')
            dsql__sb_append_c(&out, '\\');
        dsql__sb_append_c(&out, *p);
    }
    bool oom = item.oom;
    dsql__sb_free(&item);
    if (oom) {
        dsql__sb_free(&out);
        return NULL;
    }
    return dsql__sb_detach(&out);
}

static bool is_sslmode(const char *m)
{
    static const char *const modes[] = {"disable", "allow",     "prefer",
                                        "require", "verify-ca", "verify-full"};
    for (size_t i = 0; i < DSQL__ARRAY_LEN(modes); i++)
        if (!strcmp(m, modes[i]))
            return true;
    return false;
}

static bool sslmode_verifies(const char *m)
{
    return !strcmp(m, "verify-ca") || !strcmp(m, "verify-full");
}

static bool sslmode_encrypts(const char *m)
{
    return !strcmp(m, "require") || sslmode_verifies(m);
}

static bool set_str(char **dst, const char *src, bool *oom)
{
    if (!src)
        return true;
    *dst = strdup(src);
    if (!*dst)
        *oom = true;
    return *dst != NULL;
}

/* The config's values, checked before anything is resolved. */
static int check_config(const dsql_config *cfg, dsql_error *err)
{
    if (!cfg)
        return dsql_error_set(err, DSQL_EINVAL, "config is NULL");
    if (cfg->auth != DSQL_AUTH_AUTO && cfg->auth != DSQL_AUTH_IAM &&
        cfg->auth != DSQL_AUTH_PASSWORD)
        return dsql_error_set(err, DSQL_EINVAL, "config: auth mode %d is not a dsql_auth_mode",
                              (int)cfg->auth);
    if (cfg->port < 0 || cfg->port > 65535)
        return dsql_error_set(err, DSQL_ECONFIG, "config: port %d is out of range (1-65535)",
                              cfg->port);
    if (cfg->connect_timeout_s < 0)
        return dsql_error_set(err, DSQL_ECONFIG,
                              "config: connect_timeout_s must not be negative (got %d)",
                              cfg->connect_timeout_s);
    if (cfg->query_timeout_ms < 0 || cfg->query_timeout_ms > DSQL_QUERY_TIMEOUT_MAX_MS)
        return dsql_error_set(err, DSQL_ECONFIG,
                              "config: query_timeout_ms must be 0 (default %d) to %d "
                              "milliseconds, not %d",
                              DSQL_QUERY_TIMEOUT_DEFAULT_MS, DSQL_QUERY_TIMEOUT_MAX_MS,
                              cfg->query_timeout_ms);
    if (cfg->expires_in < 0 || cfg->expires_in > DSQL_TOKEN_EXPIRES_MAX)
        return dsql_error_set(err, DSQL_ECONFIG,
                              "config: expires_in must be 1..%d seconds (0 = default %d), not %ld",
                              DSQL_TOKEN_EXPIRES_MAX, DSQL_TOKEN_EXPIRES_DEFAULT, cfg->expires_in);
    if (cfg->statement_cache < -1 || cfg->statement_cache > DSQL__STMT_MAX_CAPACITY)
        return dsql_error_set(err, DSQL_ECONFIG,
                              "config: statement_cache must be -1 (off), 0 (default %d) or a "
                              "number of statements up to %d, not %d",
                              DSQL__STMT_DEFAULT_CAPACITY, DSQL__STMT_MAX_CAPACITY,
                              cfg->statement_cache);
    if (cfg->user && !*cfg->user)
        return dsql_error_set(err, DSQL_ECONFIG, "config: user is empty");
    if (cfg->sslmode && !is_sslmode(cfg->sslmode))
        return dsql_error_set(err, DSQL_ECONFIG,
                              "config: sslmode '%.64s' is not one of disable, allow, prefer, "
                              "require, verify-ca, verify-full",
                              cfg->sslmode);

    return DSQL_OK;
}

/* The root certificates for sslmode: the config's, else the system's (sslrootcert=system
 * on libpq >= 16 with verify-full, else a bundle file found on disk). */
static int spec_tls(dsql__spec *spec, const dsql_config *cfg, const char *mode, bool *oom,
                    dsql_error *err)
{
    if (sslmode_verifies(mode)) {
        if (cfg->sslrootcert && *cfg->sslrootcert) {
            set_str(&spec->sslrootcert, cfg->sslrootcert, oom);
        } else if (PQlibVersion() >= 160000 && !strcmp(mode, "verify-full")) {
            /* libpq refuses sslrootcert=system with any mode weaker than verify-full;
             * verify-ca gets the bundle file below. */
            set_str(&spec->sslrootcert, "system", oom);
        } else {
            const char *bundle = system_ca_bundle();
            if (!bundle) {
                return dsql_error_set(err, DSQL_ECONFIG,
                                      "config: sslmode=%s needs root certificates, and no system "
                                      "CA bundle was found (looked at /etc/ssl/certs/"
                                      "ca-certificates.crt, /etc/pki/tls/certs/ca-bundle.crt, "
                                      "/etc/ssl/ca-bundle.pem, /etc/ssl/cert.pem and OpenSSL's "
                                      "default); set sslrootcert",
                                      mode);
            }
            set_str(&spec->sslrootcert, bundle, oom);
        }
    } else if (cfg->sslrootcert && *cfg->sslrootcert) {
        set_str(&spec->sslrootcert, cfg->sslrootcert, oom);
    }
    return DSQL_OK;
}

/* What the server is told at startup: the schema (search_path) and application_name. */
static void spec_startup(dsql__spec *spec, const dsql_config *cfg, bool *oom)
{
    if (cfg->schema && *cfg->schema) {
        set_str(&spec->schema, cfg->schema, oom);
        spec->options = startup_options(cfg->schema);
        if (!spec->options)
            *oom = true;
    }

    dsql__strbuf app = DSQL__STRBUF_INIT;
    if (cfg->application_name && *cfg->application_name) {
        dsql__sb_append(&app, cfg->application_name);
        dsql__sb_append_c(&app, ':');
    }
    dsql__sb_appendf(&app, "libdsql/%s", dsql_version());
    spec->application_name = dsql__sb_detach(&app);
    if (!spec->application_name)
        *oom = true;
}

/* Splits a comma-separated list into trimmed items (new strings in items[0 .. *n)). An
 * empty item or more than DSQL__MAX_ENDPOINTS is DSQL_ECONFIG naming the setting. */
static int split_list(const char *what, const char *list, char **items, size_t *n, dsql_error *err)
{
    *n = 0;
    for (const char *p = list;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *a = p;
        while (len && (*a == ' ' || *a == '\t')) {
            a++;
            len--;
        }
        while (len && (a[len - 1] == ' ' || a[len - 1] == '\t'))
            len--;
        if (!len)
            return dsql_error_set(err, DSQL_ECONFIG,
                                  "config: %s '%.200s' has an empty entry (separate endpoints "
                                  "with single commas)",
                                  what, list);
        if (*n == DSQL__MAX_ENDPOINTS)
            return dsql_error_set(err, DSQL_ECONFIG, "config: %s names more than %d endpoints",
                                  what, DSQL__MAX_ENDPOINTS);
        items[*n] = strndup(a, len);
        if (!items[*n])
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        (*n)++;
        if (!end)
            return DSQL_OK;
        p = end + 1;
    }
}

/* host:port in a host entry (one colon; an IPv6 literal has several and is left alone). */
static int split_host_port(dsql__endpoint *ep, dsql_error *err)
{
    char *colon = ep->host ? strchr(ep->host, ':') : NULL;
    if (!colon || strchr(colon + 1, ':'))
        return DSQL_OK;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 1 || port > 65535)
        return dsql_error_set(err, DSQL_ECONFIG,
                              "config: host '%.200s': the port after ':' must be a number from 1 "
                              "to 65535",
                              ep->host);
    snprintf(ep->port, sizeof ep->port, "%ld", port);
    *colon = '\0';
    return DSQL_OK;
}

/* The endpoints named by host (a comma-separated list for a multi-Region cluster), each
 * with its port, address and region as given (IAM resolution comes later). */
static int spec_endpoints(dsql__spec *spec, const dsql_config *cfg, dsql_error *err)
{
    char *regions[DSQL__MAX_ENDPOINTS] = {0}, *addrs[DSQL__MAX_ENDPOINTS] = {0};
    size_t nr = 0, na = 0;
    int rc = DSQL_OK;
    char *hosts[DSQL__MAX_ENDPOINTS] = {0};
    size_t nh = 1;
    if (cfg->host && *cfg->host) {
        if ((rc = split_list("host", cfg->host, hosts, &nh, err)))
            goto done;
    }
    if (cfg->region && *cfg->region && (rc = split_list("region", cfg->region, regions, &nr, err)))
        goto done;
    if (cfg->hostaddr && *cfg->hostaddr &&
        (rc = split_list("hostaddr", cfg->hostaddr, addrs, &na, err)))
        goto done;
    if (nr > 1 && nr != nh) {
        rc = dsql_error_set(err, DSQL_ECONFIG,
                            "config: %zu regions for %zu endpoints: give one region per endpoint "
                            "(in the order of host), or one for them all",
                            nr, nh);
        goto done;
    }
    if (na && na != nh) {
        rc = dsql_error_set(err, DSQL_ECONFIG,
                            "config: %zu addresses (hostaddr) for %zu endpoints: give one per "
                            "endpoint, in the order of host",
                            na, nh);
        goto done;
    }
    spec->nep = nh;
    for (size_t i = 0; i < nh; i++) {
        dsql__endpoint *ep = &spec->ep[i];
        ep->host = hosts[i];
        hosts[i] = NULL;
        snprintf(ep->port, sizeof ep->port, "%d", cfg->port ? cfg->port : 5432);
        if ((rc = split_host_port(ep, err)))
            goto done;
        if (na) {
            ep->hostaddr = addrs[i];
            addrs[i] = NULL;
        }
        char named[64];
        /* One region for several endpoints: for those whose host name does not say. */
        bool own_region =
            nh > 1 && nr == 1 && ep->host && dsql_region_from_host(ep->host, named, sizeof named);
        if (nr && !own_region) {
            ep->region = strdup(regions[nr == 1 ? 0 : i]);
            if (!ep->region) {
                rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
                goto done;
            }
        }
    }
done:
    for (size_t i = 0; i < DSQL__MAX_ENDPOINTS; i++) {
        free(hosts[i]);
        free(regions[i]);
        free(addrs[i]);
    }
    return rc;
}

/* The endpoint new connections prefer: the first in the local Region (local_region, else
 * AWS_REGION, else AWS_DEFAULT_REGION), else the first listed. */
static size_t preferred_endpoint(const dsql__spec *spec, const dsql_config *cfg)
{
    const char *local = cfg->local_region;
    if (!local || !*local)
        local = getenv("AWS_REGION");
    if (!local || !*local)
        local = getenv("AWS_DEFAULT_REGION");
    if (!local || !*local)
        return 0;
    for (size_t i = 0; i < spec->nep; i++)
        if (spec->ep[i].region && !strcmp(spec->ep[i].region, local))
            return i;
    return 0;
}

void dsql__endpoint_name(const dsql__endpoint *ep, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%s", ep->host ? ep->host : "(default host)", ep->port);
}

int dsql__spec_init(dsql__spec *spec, const dsql_config *cfg, dsql_error *err)
{
    memset(spec, 0, sizeof *spec);
    if (!cfg)
        return dsql_error_set(err, DSQL_EINVAL, "config is NULL");
    int rc = check_config(cfg, err);
    if (rc)
        return rc;
    spec->nep = 1;

    bool oom = false;
    spec->iam =
        cfg->auth == DSQL_AUTH_IAM || (cfg->auth == DSQL_AUTH_AUTO && dsql__config_wants_iam(cfg));
    spec->log = cfg->log;
    spec->log_ctx = cfg->log_ctx;
    spec->statement_cache = cfg->statement_cache == -1  ? 0
                            : cfg->statement_cache == 0 ? DSQL__STMT_DEFAULT_CAPACITY
                                                        : cfg->statement_cache;
    spec->query_timeout_ms =
        cfg->query_timeout_ms ? cfg->query_timeout_ms : DSQL_QUERY_TIMEOUT_DEFAULT_MS;
    spec->connect_timeout_s =
        cfg->connect_timeout_s ? cfg->connect_timeout_s : DEFAULT_CONNECT_TIMEOUT_S;
    set_str(&spec->user, cfg->user ? cfg->user : "admin", &oom);
    set_str(&spec->database, cfg->database ? cfg->database : "postgres", &oom);
    if ((rc = spec_endpoints(spec, cfg, err)))
        goto fail;
    const char *mode = cfg->sslmode ? cfg->sslmode : "verify-full";
    set_str(&spec->sslmode, mode, &oom);

    if (spec->iam) {
        if (!sslmode_encrypts(mode)) {
            rc = dsql_error_set(err, DSQL_ECONFIG,
                                "config: sslmode '%s' would let the IAM token travel unencrypted; "
                                "Aurora DSQL requires TLS (use verify-full, verify-ca or require)",
                                mode);
            goto fail;
        }
        if (cfg->password) {
            rc = dsql_error_set(err, DSQL_ECONFIG,
                                "config: a password is set but auth is IAM (tokens are minted per "
                                "connection); set auth=password to use a password");
            goto fail;
        }
        if ((rc = dsql__spec_init_iam(spec, cfg, err)))
            goto fail;
        spec->sslnegotiation_direct = PQlibVersion() >= 170000;
        spec->preferred = preferred_endpoint(spec, cfg);
    } else {
        for (size_t i = 0; i < spec->nep; i++) { /* regions sign tokens: IAM only */
            free(spec->ep[i].region);
            spec->ep[i].region = NULL;
        }
        if (cfg->password)
            set_str(&spec->password, cfg->password, &oom);
    }

    if ((rc = spec_tls(spec, cfg, mode, &oom, err)))
        goto fail;
    spec_startup(spec, cfg, &oom);
    if (oom) {
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        goto fail;
    }
    return DSQL_OK;
fail:
    dsql__spec_free(spec);
    return rc;
}
