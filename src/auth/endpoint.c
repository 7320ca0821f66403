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

static int endpoint_resolve_call(const char *host_or_id, const char *region, const char *profile,
                                 char **host_out, char **region_out, dsql_error *err)
{
    if (host_out)
        *host_out = NULL;
    if (region_out)
        *region_out = NULL;
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

    char from_host[64];
    const char *r = NULL, *where = NULL;
    char *profile_region = NULL;
    const char *pname = dsql__profile_name(profile);
    char config_path[4200] = "";
    bool config_present = false;
    int rc = DSQL_OK;
    if (region && *region) {
        r = region;
        where = "the region argument";
    } else if (dsql_region_from_host(host_or_id, from_host, sizeof from_host)) {
        r = from_host;
        where = "the host name";
    } else if ((r = dsql__env("AWS_REGION"))) {
        where = "AWS_REGION";
    } else if ((r = dsql__env("AWS_DEFAULT_REGION"))) {
        where = "AWS_DEFAULT_REGION";
    } else {
        dsql__aws_files files = DSQL__AWS_FILES_INIT;
        rc = dsql__aws_files_load(&files, NULL, NULL, err);
        if (rc != DSQL_OK) {
            dsql__aws_files_free(&files);
            dsql__err_prefix(err, "endpoint: looking for the region");
            return rc;
        }
        const char *v = dsql__ini_get(&files.config, pname, "region");
        snprintf(config_path, sizeof config_path, "%s", files.config.path ? files.config.path : "");
        config_present = files.config.present;
        if (v && *v) {
            profile_region = dsql__strdup(v);
            if (!profile_region) {
                dsql__aws_files_free(&files);
                return dsql_error_set(err, DSQL_ENOMEM, "endpoint: out of memory");
            }
            r = profile_region;
            where = "the AWS config file";
        }
        dsql__aws_files_free(&files);
    }
    if (!r) {
        const char *path = config_path[0] ? config_path : "the AWS config file";
        if (!config_present)
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
    if (!dsql__valid_region(r)) {
        rc = dsql_error_set(err, DSQL_EINVAL,
                            "endpoint: region '%s' (from %s) is not a region name (letters, "
                            "digits and '-')",
                            r, where);
        free(profile_region);
        return rc;
    }
    char *h = NULL, *rg = dsql__strdup(r);
    if (is_cluster_id(host_or_id)) {
        dsql__strbuf sb = DSQL__STRBUF_INIT;
        dsql__sb_appendf(&sb, "%s.dsql.%s.on.aws", host_or_id, r);
        h = dsql__sb_detach(&sb);
    } else {
        h = dsql__strdup(host_or_id);
    }
    free(profile_region);
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

int dsql_endpoint_resolve(const char *host_or_id, const char *region, const char *profile,
                          char **host_out, char **region_out, dsql_error *err)
{
    return dsql__api_ret(
        "dsql_endpoint_resolve",
        endpoint_resolve_call(host_or_id, region, profile, host_out, region_out, err), err);
}
