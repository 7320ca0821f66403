/* Aurora DSQL endpoints: the region in a host name, bare cluster ids, region resolution. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ini.h"
#include "auth/internal.h"

#define CLUSTER_ID_LEN 26

static bool is_cluster_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9')))
            return false;
    return n == CLUSTER_ID_LEN;
}

/* Finds the region in `...\.dsql[^.]*\.([^.]+)\.on\.aws$`. */
static bool find_region(const char *host, const char **rb, size_t *rn)
{
    static const char suffix[] = ".on.aws";
    size_t n = strlen(host), sl = sizeof suffix - 1;
    if (n <= sl || memcmp(host + n - sl, suffix, sl) != 0)
        return false;
    const char *end = host + n - sl; /* end of the region label */
    const char *b = end;
    while (b > host && b[-1] != '.')
        b--;
    if (b == end || b == host)
        return false; /* empty region, or nothing before it */
    /* The label before the region: "dsql" followed by anything but a dot. */
    const char *lab_end = b - 1;
    const char *lab = lab_end;
    while (lab > host && lab[-1] != '.')
        lab--;
    if (lab == host || lab_end - lab < 4 || memcmp(lab, "dsql", 4) != 0)
        return false; /* the regex needs a '.' before "dsql" */
    *rb = b;
    *rn = (size_t)(end - b);
    return true;
}

bool dsql_region_from_host(const char *host, char *buf, size_t bufsize)
{
    const char *rb;
    size_t rn;
    if (!host || !find_region(host, &rb, &rn))
        return false;
    if (!buf || bufsize <= rn)
        return false;
    memcpy(buf, rb, rn);
    buf[rn] = '\0';
    return true;
}

bool dsql_is_dsql_host(const char *host)
{
    const char *rb;
    size_t rn;
    if (!host)
        return false;
    if (is_cluster_id(host))
        return true;
    return find_region(host, &rb, &rn) && host[0] != '.';
}

bool dsql__valid_region(const char *r)
{
    if (!*r)
        return false;
    for (const char *p = r; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-'))
            return false;
    return true;
}

/* The host as given: a host name or a cluster id, without scheme, port or path. */
static int check_host(const char *host_or_id, dsql_error *err)
{
    if (!host_or_id || !*host_or_id)
        return dsql_error_set(err, DSQL_EINVAL, "endpoint: the host name is empty");
    for (const char *p = host_or_id; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '/' || *p == '?' || *p == '#' || *p == '@' ||
            *p == 0x7f)
            return dsql_error_set(err, DSQL_EINVAL,
                                  "endpoint: '%s' is not a host name (give the host without "
                                  "scheme, port or path)",
                                  host_or_id);
    char why[160];
    if (!strchr(host_or_id, ':') && !dsql__dns_name_ok(host_or_id, why, sizeof why))
        return dsql_error_set(err, DSQL_EINVAL, "endpoint: '%.80s%s' is not a DNS name: %s",
                              host_or_id, strlen(host_or_id) > 80 ? "..." : "", why);
    /* "host:5432", as copied from a connection string: the port goes in its own field.
     * (Only one colon: an IPv6 literal has several.) */
    const char *colon = strchr(host_or_id, ':');
    if (colon && !strchr(colon + 1, ':') && colon[1] &&
        strspn(colon + 1, "0123456789") == strlen(colon + 1))
        return dsql_error_set(err, DSQL_EINVAL,
                              "endpoint: '%s' carries a port; give the host name alone and the "
                              "port separately (port=%s, --port %s)",
                              host_or_id, colon + 1, colon + 1);
    return DSQL_OK;
}

/* The region found (r, NULL when none) and where it came from. */
typedef struct region_found {
    const char *r, *where;
    char from_host[64];
    char *profile_region; /* owned: the copy of the config file's value */
    char config_path[4200];
    bool config_present;
} region_found;

/* The region of profile pname in the AWS config file, when it names one. */
static int region_from_config(const char *pname, region_found *f, dsql_error *err)
{
    dsql__aws_files files = DSQL__AWS_FILES_INIT;
    int rc = dsql__aws_files_load(&files, NULL, NULL, err);
    if (rc != DSQL_OK) {
        dsql__aws_files_free(&files);
        dsql__err_prefix(err, "endpoint: looking for the region");
        return rc;
    }
    const char *v = dsql__ini_get(&files.config, pname, "region");
    snprintf(f->config_path, sizeof f->config_path, "%s",
             files.config.path ? files.config.path : "");
    f->config_present = files.config.present;
    if (v && *v) {
        f->profile_region = dsql__strdup(v);
        if (!f->profile_region) {
            dsql__aws_files_free(&files);
            return dsql_error_set(err, DSQL_ENOMEM, "endpoint: out of memory");
        }
        f->r = f->profile_region;
        f->where = "the AWS config file";
    }
    dsql__aws_files_free(&files);
    return DSQL_OK;
}

/* The region, from the first that names one: the argument, the host name, AWS_REGION,
 * AWS_DEFAULT_REGION, the profile in the AWS config file. */
static int find_region_of(const char *host_or_id, const char *region, const char *pname,
                          region_found *f, dsql_error *err)
{
    if (region && *region) {
        f->r = region;
        f->where = "the region argument";
    } else if (dsql_region_from_host(host_or_id, f->from_host, sizeof f->from_host)) {
        f->r = f->from_host;
        f->where = "the host name";
    } else if ((f->r = dsql__env("AWS_REGION"))) {
        f->where = "AWS_REGION";
    } else if ((f->r = dsql__env("AWS_DEFAULT_REGION"))) {
        f->where = "AWS_DEFAULT_REGION";
    } else {
        return region_from_config(pname, f, err);
    }
    return DSQL_OK;
}

static int no_region(const char *host_or_id, const char *pname, const region_found *f,
                     dsql_error *err)
{
    const char *path = f->config_path[0] ? f->config_path : "the AWS config file";
    if (!f->config_present)
        return dsql_error_set(
            err, DSQL_ECONFIG,
            "endpoint %s: no AWS region found: none given, none in the host name (expected "
            "<cluster-id>.dsql.<region>.on.aws), AWS_REGION and AWS_DEFAULT_REGION are "
            "unset, and there is no AWS config file (%s) to name one",
            host_or_id, path);
    return dsql_error_set(
        err, DSQL_ECONFIG,
        "endpoint %s: no AWS region found: none given, none in the host name (expected "
        "<cluster-id>.dsql.<region>.on.aws), AWS_REGION and AWS_DEFAULT_REGION are unset, "
        "and profile '%s' in %s has no 'region'",
        host_or_id, pname, path);
}

/* The host name (a cluster id becomes <id>.dsql.<region>.on.aws) and region r, each a copy
 * given to the caller when asked for. */
static int give_endpoint(const char *host_or_id, const char *r, char **host_out, char **region_out,
                         dsql_error *err)
{
    char *h = NULL, *rg = dsql__strdup(r);
    if (is_cluster_id(host_or_id)) {
        dsql__strbuf sb = DSQL__STRBUF_INIT;
        dsql__sb_appendf(&sb, "%s.dsql.%s.on.aws", host_or_id, r);
        h = dsql__sb_detach(&sb);
    } else {
        h = dsql__strdup(host_or_id);
    }
    if (!h || !rg) {
        free(h);
        free(rg);
        return dsql_error_set(err, DSQL_ENOMEM, "endpoint: out of memory");
    }
    if (host_out)
        *host_out = h;
    else
        free(h);
    if (region_out)
        *region_out = rg;
    else
        free(rg);
    return DSQL_OK;
}

static int endpoint_resolve_call(const char *host_or_id, const char *region, const char *profile,
                                 char **host_out, char **region_out, dsql_error *err)
{
    if (host_out)
        *host_out = NULL;
    if (region_out)
        *region_out = NULL;
    int rc = check_host(host_or_id, err);
    if (rc)
        return rc;
    const char *pname = dsql__profile_name(profile);
    region_found f = {.r = NULL};
    if ((rc = find_region_of(host_or_id, region, pname, &f, err)))
        return rc;
    if (!f.r)
        return no_region(host_or_id, pname, &f, err);
    if (!dsql__valid_region(f.r))
        rc = dsql_error_set(err, DSQL_EINVAL,
                            "endpoint: region '%s' (from %s) is not a region name (letters, "
                            "digits and '-')",
                            f.r, f.where);
    else
        rc = give_endpoint(host_or_id, f.r, host_out, region_out, err);
    free(f.profile_region);
    return rc;
}

int dsql_endpoint_resolve(const char *host_or_id, const char *region, const char *profile,
                          char **host_out, char **region_out, dsql_error *err)
{
    return dsql__api_ret(
        "dsql_endpoint_resolve",
        endpoint_resolve_call(host_or_id, region, profile, host_out, region_out, err), err);
}
