/* dsql_config: defaults, conninfo-style strings, the environment. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/private.h"

/* Strings the config owns (filled by parse / from_env); all wiped on clear, since one of
 * them may be a password. */
typedef struct cfg_owned {
    char **v;
    size_t n, cap;
} cfg_owned;

static int own(dsql_config *cfg, char *s, dsql_error *err)
{
    cfg_owned *o = cfg->owned_;
    if (!o) {
        o = calloc(1, sizeof *o);
        if (!o)
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        cfg->owned_ = o;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        char **v = realloc(o->v, cap * sizeof *v);
        if (!v)
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = s;
    return DSQL_OK;
}

void dsql_config_clear(dsql_config *cfg)
{
    if (!cfg)
        return;
    cfg_owned *o = cfg->owned_;
    if (o) {
        for (size_t i = 0; i < o->n; i++)
            dsql__free_secret(o->v[i]);
        free(o->v);
        free(o);
    }
    memset(cfg, 0, sizeof *cfg);
}

/* ---- keyword table, walked generically through offsetof ---- */

typedef enum kw_type {
    KW_STR,
    KW_PORT,
    KW_EXPIRES,
    KW_TIMEOUT,
    KW_AUTH,
    KW_CACHE,
    KW_QUERY_TIMEOUT,
    KW_LOG_PARAMS
} kw_type;

typedef struct keyword {
    const char *name;
    size_t offset;
    kw_type type;
} keyword;

#define KW(name, field, type)                                                                      \
    {                                                                                              \
        name, offsetof(dsql_config, field), type                                                   \
    }
static const keyword keywords[] = {
    KW("host", host, KW_STR),
    KW("hostaddr", hostaddr, KW_STR),
    KW("port", port, KW_PORT),
    KW("dbname", database, KW_STR),
    KW("database", database, KW_STR),
    KW("user", user, KW_STR),
    KW("password", password, KW_STR),
    KW("auth", auth, KW_AUTH),
    KW("region", region, KW_STR),
    KW("profile", profile, KW_STR),
    KW("expires_in", expires_in, KW_EXPIRES),
    KW("schema", schema, KW_STR),
    KW("application_name", application_name, KW_STR),
    KW("sslmode", sslmode, KW_STR),
    KW("sslrootcert", sslrootcert, KW_STR),
    KW("connect_timeout", connect_timeout_s, KW_TIMEOUT),
    KW("statement_cache", statement_cache, KW_CACHE),
    KW("query_timeout_ms", query_timeout_ms, KW_QUERY_TIMEOUT),
    KW("local_region", local_region, KW_STR),
    KW("log_parameters", log_parameters, KW_LOG_PARAMS),
};
#undef KW

#define FIELD(cfg, kw, type) ((type *)(void *)((char *)(cfg) + (kw)->offset))

static const keyword *find_keyword(const char *name)
{
    for (size_t i = 0; i < DSQL__ARRAY_LEN(keywords); i++)
        if (!strcmp(keywords[i].name, name))
            return &keywords[i];
    return NULL;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi || isspace((unsigned char)*s))
        return false;
    *out = v;
    return true;
}

/* A value checked against its keyword's type; numbers are converted. */
typedef struct pending {
    const keyword *kw;
    char *text; /* KW_STR: owned copy, NULL = reset to default */
    long num;
} pending;

static int check_value(const keyword *kw, const char *value, const char *source, pending *p,
                       dsql_error *err)
{
    p->kw = kw;
    p->text = NULL;
    p->num = 0;
    switch (kw->type) {
    case KW_STR:
        if (*value) {
            p->text = strdup(value);
            if (!p->text)
                return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        }
        return DSQL_OK;
    case KW_PORT:
        if (!parse_long(value, 1, 65535, &p->num))
            return dsql_error_set(err, DSQL_EPARSE,
                                  "%s: port must be a number from 1 to 65535, not '%s'", source,
                                  value);
        return DSQL_OK;
    case KW_EXPIRES:
        if (!parse_long(value, 1, DSQL_TOKEN_EXPIRES_MAX, &p->num))
            return dsql_error_set(err, DSQL_EPARSE,
                                  "%s: expires_in must be a number of seconds from 1 to %d, not "
                                  "'%s'",
                                  source, DSQL_TOKEN_EXPIRES_MAX, value);
        return DSQL_OK;
    case KW_TIMEOUT:
        if (!parse_long(value, 0, 3600, &p->num))
            return dsql_error_set(err, DSQL_EPARSE,
                                  "%s: connect_timeout must be a number of seconds from 0 "
                                  "(default) to 3600, not '%s'",
                                  source, value);
        return DSQL_OK;
    case KW_CACHE:
        if (!parse_long(value, -1, DSQL__STMT_MAX_CAPACITY, &p->num))
            return dsql_error_set(err, DSQL_EPARSE,
                                  "%s: statement_cache must be -1 (off), 0 (default %d) or a "
                                  "number of statements up to %d, not '%s'",
                                  source, DSQL__STMT_DEFAULT_CAPACITY, DSQL__STMT_MAX_CAPACITY,
                                  value);
        return DSQL_OK;
    case KW_QUERY_TIMEOUT:
        if (!parse_long(value, 0, DSQL_QUERY_TIMEOUT_MAX_MS, &p->num))
            return dsql_error_set(err, DSQL_EPARSE,
                                  "%s: query_timeout_ms must be a number of milliseconds from 0 "
                                  "(default %d) to %d, not '%s'",
                                  source, DSQL_QUERY_TIMEOUT_DEFAULT_MS, DSQL_QUERY_TIMEOUT_MAX_MS,
                                  value);
        return DSQL_OK;
    case KW_LOG_PARAMS:
        if (!strcmp(value, "off") || !strcmp(value, "false") || !strcmp(value, "no"))
            p->num = 0;
        else if (!strcmp(value, "on") || !strcmp(value, "true") || !strcmp(value, "yes"))
            p->num = 1;
        else if (!parse_long(value, 0, DSQL__LOG_PARAMS_MAX, &p->num))
            return dsql_error_set(err, DSQL_EPARSE,
                                  "%s: log_parameters must be off, on (values cut after %d "
                                  "bytes) or the bytes of each value shown, up to %d; not '%s'",
                                  source, DSQL_LOG_VALUE_MAX, DSQL__LOG_PARAMS_MAX, value);
        return DSQL_OK;
    case KW_AUTH:
        if (!strcmp(value, "auto"))
            p->num = DSQL_AUTH_AUTO;
        else if (!strcmp(value, "iam"))
            p->num = DSQL_AUTH_IAM;
        else if (!strcmp(value, "password"))
            p->num = DSQL_AUTH_PASSWORD;
        else
            return dsql_error_set(err, DSQL_EPARSE,
                                  "%s: auth must be 'iam', 'password' or 'auto', not '%s'", source,
                                  value);
        return DSQL_OK;
    }
    return dsql_error_set(err, DSQL_EINTERNAL, "bad keyword type");
}

static void pending_free(pending *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dsql__free_secret(p[i].text);
}

/* Applies checked values; on failure (oom) nothing of cfg has changed except that some
 * strings may already be owned, which is harmless. */
static int apply(dsql_config *cfg, pending *p, size_t n, dsql_error *err)
{
    /* Take ownership of every string first so a failure leaves the fields untouched. */
    for (size_t i = 0; i < n; i++) {
        if (p[i].text) {
            if (own(cfg, p[i].text, err)) {
                pending_free(p + i, n - i);
                return DSQL_ENOMEM;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const keyword *kw = p[i].kw;
        switch (kw->type) {
        case KW_STR:
            *FIELD(cfg, kw, const char *) = p[i].text;
            break;
        case KW_PORT:
        case KW_TIMEOUT:
        case KW_CACHE:
        case KW_QUERY_TIMEOUT:
        case KW_LOG_PARAMS:
            *FIELD(cfg, kw, int) = (int)p[i].num;
            break;
        case KW_EXPIRES:
            *FIELD(cfg, kw, long) = p[i].num;
            break;
        case KW_AUTH:
            *FIELD(cfg, kw, dsql_auth_mode) = (dsql_auth_mode)p[i].num;
            break;
        }
    }
    return DSQL_OK;
}

static void append_keyword_list(char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < DSQL__ARRAY_LEN(keywords) && len < size; i++) {
        int w = snprintf(buf + len, size - len, "%s%s", i ? " " : "", keywords[i].name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

static int config_parse_call(dsql_config *cfg, const char *conninfo, dsql_error *err)
{
    if (!cfg)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_config_parse: cfg is NULL");
    if (!conninfo)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_config_parse: conninfo is NULL");

    size_t cap = strlen(conninfo) + 1;
    char *buf = malloc(cap); /* holds one keyword, then one value, at a time */
    pending *pend = calloc(DSQL__ARRAY_LEN(keywords) * 4 + 1, sizeof *pend);
    size_t npend = 0, maxpend = DSQL__ARRAY_LEN(keywords) * 4;
    int rc = DSQL_OK;
    if (!buf || !pend) {
        rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory");
        goto done;
    }

    const char *p = conninfo;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        /* keyword */
        size_t k = 0;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            buf[k++] = *p++;
        buf[k] = '\0';
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '=') {
            rc = dsql_error_set(err, DSQL_EPARSE,
                                "connection string: missing '=' after keyword '%.64s'", buf);
            goto done;
        }
        if (k == 0) {
            rc = dsql_error_set(err, DSQL_EPARSE,
                                "connection string: '=' without a keyword before it");
            goto done;
        }
        const keyword *kw = find_keyword(buf);
        if (!kw) {
            char known[320];
            append_keyword_list(known, sizeof known);
            rc = dsql_error_set(err, DSQL_EPARSE,
                                "connection string: unknown keyword '%.64s' (known: %s)", buf,
                                known);
            goto done;
        }
        p++;
        while (isspace((unsigned char)*p))
            p++;
        /* value: 'quoted' with \\ and \' escapes, or bare up to whitespace */
        size_t v = 0;
        if (*p == '\'') {
            p++;
            for (;;) {
                if (!*p) {
                    rc = dsql_error_set(err, DSQL_EPARSE,
                                        "connection string: unterminated quoted value for '%s'",
                                        kw->name);
                    goto done;
                }
                if (*p == '\'') {
                    p++;
                    break;
                }
                if (*p == '\\' && p[1])
                    p++;
                buf[v++] = *p++;
            }
            if (*p && !isspace((unsigned char)*p)) {
                rc = dsql_error_set(err, DSQL_EPARSE,
                                    "connection string: text right after the quoted value of "
                                    "'%s' (separate settings with spaces)",
                                    kw->name);
                goto done;
            }
        } else {
            while (*p && !isspace((unsigned char)*p)) {
                if (*p == '\\' && p[1])
                    p++;
                buf[v++] = *p++;
            }
        }
        buf[v] = '\0';
        if (npend == maxpend) {
            rc = dsql_error_set(err, DSQL_EPARSE, "connection string: too many settings");
            goto done;
        }
        char source[96];
        snprintf(source, sizeof source, "connection string, keyword '%s'", kw->name);
        rc = check_value(kw, buf, source, &pend[npend], err);
        dsql__wipe(buf, v);
        if (rc)
            goto done;
        npend++;
    }
    rc = apply(cfg, pend, npend, err);
    npend = 0; /* apply took (or freed) every string */
done:
    if (pend)
        pending_free(pend, npend);
    free(pend);
    if (buf) {
        dsql__wipe(buf, cap);
        free(buf);
    }
    return rc;
}

int dsql_config_parse(dsql_config *cfg, const char *conninfo, dsql_error *err)
{
    return dsql__api_ret("dsql_config_parse", config_parse_call(cfg, conninfo, err), err);
}

/* ---- environment ---- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

typedef struct env_map {
    const char *var;
    const char *keyword;
} env_map;

static int from_vars(dsql_config *cfg, const env_map *map, size_t n, dsql_error *err)
{
    pending pend[24];
    size_t npend = 0;
    for (size_t i = 0; i < n && npend < DSQL__ARRAY_LEN(pend); i++) {
        const char *v = env(map[i].var);
        if (!v)
            continue;
        const keyword *kw = find_keyword(map[i].keyword);
        /* Only fields the caller left unset are filled. */
        bool unset;
        switch (kw->type) {
        case KW_STR:
            unset = *FIELD(cfg, kw, const char *) == NULL;
            break;
        case KW_PORT:
        case KW_TIMEOUT:
        case KW_CACHE:
        case KW_QUERY_TIMEOUT:
        case KW_LOG_PARAMS:
            unset = *FIELD(cfg, kw, int) == 0;
            break;
        case KW_EXPIRES:
            unset = *FIELD(cfg, kw, long) == 0;
            break;
        default:
            unset = *FIELD(cfg, kw, dsql_auth_mode) == DSQL_AUTH_AUTO;
            break;
        }
        /* The same field may be named by two variables (CLUSTER_REGION, REGION). */
        for (size_t j = 0; j < npend; j++)
            if (pend[j].kw->offset == kw->offset)
                unset = false;
        if (!unset)
            continue;
        char source[64];
        snprintf(source, sizeof source, "environment variable %s", map[i].var);
        int rc = check_value(kw, v, source, &pend[npend], err);
        if (rc) {
            pending_free(pend, npend);
            return rc;
        }
        npend++;
    }
    return apply(cfg, pend, npend, err);
}

/* CLUSTER_ENDPOINT=host:port (a local endpoint, a tunnel): the port goes to its field. */
static int split_port(dsql_config *cfg, dsql_error *err)
{
    const char *h = cfg->host, *colon = h ? strrchr(h, ':') : NULL;
    if (!colon || strchr(h, ':') != colon || !colon[1])
        return DSQL_OK; /* no port (or an IPv6 literal) */
    if (strchr(h, ','))
        return DSQL_OK; /* several endpoints: each keeps its own port (conn/spec.c) */
    pending p;
    int rc = check_value(find_keyword("port"), colon + 1, "environment variable CLUSTER_ENDPOINT",
                         &p, err);
    if (rc)
        return rc;
    char *host = strndup(h, (size_t)(colon - h));
    if (!host || own(cfg, host, err)) {
        free(host);
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    }
    cfg->host = host;
    if (!cfg->port)
        cfg->port = (int)p.num;
    return DSQL_OK;
}

static int config_from_env_call(dsql_config *cfg, dsql_error *err)
{
    if (!cfg)
        return dsql_error_set(err, DSQL_EINVAL, "dsql_config_from_env: cfg is NULL");

    static const env_map cluster[] = {
        {"CLUSTER_ENDPOINT", "host"},
        {"CLUSTER_REGION", "region"},
        {"REGION", "region"},
        {"CLUSTER_USER", "user"},
        {"AWS_PROFILE", "profile"},
        {"DSQL_QUERY_TIMEOUT_MS", "query_timeout_ms"},
        {"DSQL_LOG_PARAMETERS", "log_parameters"},
        /* The CA to trust when it is not in the system bundle (a local DSQL endpoint). */
        {"PGSSLROOTCERT", "sslrootcert"},
    };
    static const env_map pg[] = {
        {"PGHOST", "host"},
        {"PGHOSTADDR", "hostaddr"},
        {"PGPORT", "port"},
        {"PGDATABASE", "database"},
        {"PGUSER", "user"},
        {"PGPASSWORD", "password"},
        {"PGSSLMODE", "sslmode"},
        {"PGSSLROOTCERT", "sslrootcert"},
        {"PGCONNECT_TIMEOUT", "connect_timeout"},
        {"PGAPPNAME", "application_name"},
        {"DSQL_QUERY_TIMEOUT_MS", "query_timeout_ms"},
        {"DSQL_LOG_PARAMETERS", "log_parameters"},
    };

    if (env("CLUSTER_ENDPOINT")) {
        bool named_here = !cfg->host;
        int rc = from_vars(cfg, cluster, DSQL__ARRAY_LEN(cluster), err);
        if (rc == DSQL_OK && named_here)
            rc = split_port(cfg, err);
        /* CLUSTER_ENDPOINT names an Aurora DSQL cluster whatever its host name looks like
         * (a CNAME or a VPC endpoint name too): IAM auth, never a password attempt. */
        if (rc == DSQL_OK && named_here && cfg->auth == DSQL_AUTH_AUTO)
            cfg->auth = DSQL_AUTH_IAM;
        return rc;
    }

    /* No cluster named: a half-set cluster environment is a mistake worth reporting
     * rather than silently connecting to whatever PGHOST says. */
    const char *half = env("CLUSTER_REGION") ? "CLUSTER_REGION"
                       : env("CLUSTER_USER") ? "CLUSTER_USER"
                                             : NULL;
    if (half && !cfg->host)
        return dsql_error_set(err, DSQL_ECONFIG,
                              "%s is set but CLUSTER_ENDPOINT is not: set CLUSTER_ENDPOINT to "
                              "the cluster's endpoint (or unset %s to use a plain PostgreSQL "
                              "through the PG* variables)",
                              half, half);

    /* A config already aimed at a cluster by code takes nothing from PG*. */
    if (cfg->auth == DSQL_AUTH_IAM || (cfg->auth == DSQL_AUTH_AUTO && dsql__config_wants_iam(cfg)))
        return from_vars(cfg, cluster + 1, DSQL__ARRAY_LEN(cluster) - 1, err);
    return from_vars(cfg, pg, DSQL__ARRAY_LEN(pg), err);
}

int dsql_config_from_env(dsql_config *cfg, dsql_error *err)
{
    return dsql__api_ret("dsql_config_from_env", config_from_env_call(cfg, err), err);
}
