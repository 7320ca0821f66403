/* INI parsing for the AWS shared config and credentials files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ini.h"
#include "auth/internal.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\f' || c == '\v';
}

/* Trims [*b, *e) in place. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && is_space(**b))
        (*b)++;
    while (*e > *b && is_space((*e)[-1]))
        (*e)--;
}

/* Cuts a comment (# or ; at the start or after whitespace) off [b, *e). */
static void cut_comment(const char *b, const char **e)
{
    for (const char *p = b; p < *e; p++)
        if ((*p == '#' || *p == ';') && (p == b || is_space(p[-1]))) {
            *e = p;
            return;
        }
}

static char *dup_range(const char *b, const char *e)
{
    size_t n = (size_t)(e - b);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, b, n);
        s[n] = '\0';
    }
    return s;
}

static int add(dsql__ini *ini, const char *section, const char *kb, const char *ke, const char *vb,
               const char *ve, dsql_error *err)
{
    if (ini->n == ini->cap) {
        size_t cap = ini->cap ? ini->cap * 2 : 16;
        dsql__ini_entry *ne = realloc(ini->e, cap * sizeof *ne);
        if (!ne)
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory reading %s", ini->path);
        ini->e = ne;
        ini->cap = cap;
    }
    dsql__ini_entry *en = &ini->e[ini->n];
    en->section = dsql__strdup(section);
    en->key = kb ? dup_range(kb, ke) : NULL;
    en->value = vb ? dup_range(vb, ve) : NULL;
    if (!en->section || (kb && !en->key) || (vb && !en->value)) {
        free(en->section);
        free(en->key);
        dsql__free_secret(en->value);
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory reading %s", ini->path);
    }
    ini->n++;
    return DSQL_OK;
}

int dsql__ini_parse(dsql__ini *ini, const char *text, size_t len, bool config_file, dsql_error *err)
{
    const char *path = ini->path ? ini->path : "(config)";
    char *section = NULL; /* NULL: outside any section, or in a skipped one */
    bool in_skipped = false;
    bool sub_props = false; /* the last key had an empty value: indented lines belong to it */
    int rc = DSQL_OK;
    const char *p = text, *end = text + len;
    unsigned lineno = 0;
    while (p < end) {
        const char *lb = p;
        const char *le = memchr(p, '\n', (size_t)(end - p));
        if (!le)
            le = end;
        p = le < end ? le + 1 : end;
        lineno++;
        if (le > lb && le[-1] == '\r')
            le--;
        if (lineno == 1 && le - lb >= 3 && !memcmp(lb, "\xEF\xBB\xBF", 3))
            lb += 3; /* UTF-8 byte order mark */
        size_t line_len = le > lb ? (size_t)(le - lb) : 0;
        if (line_len && memchr(lb, '\0', line_len)) {
            rc = dsql_error_set(err, DSQL_EPARSE, "%s line %u: NUL byte in the file", path, lineno);
            goto done;
        }
        bool indented = lb < le && is_space(*lb);
        const char *b = lb, *e = le;
        trim(&b, &e);
        if (b == e || *b == '#' || *b == ';')
            continue;
        if (indented && sub_props && *b != '[')
            continue; /* sub-property such as "  max_concurrent_requests = 10" under "s3 =" */
        sub_props = false;
        if (*b == '[') {
            const char *close = memchr(b, ']', (size_t)(e - b));
            if (!close) {
                rc = dsql_error_set(err, DSQL_EPARSE,
                                    "%s line %u: section header without a closing ']'", path,
                                    lineno);
                goto done;
            }
            const char *rest = close + 1, *rest_e = e;
            cut_comment(rest, &rest_e);
            trim(&rest, &rest_e);
            if (rest != rest_e) {
                rc = dsql_error_set(err, DSQL_EPARSE,
                                    "%s line %u: unexpected text after the section header", path,
                                    lineno);
                goto done;
            }
            const char *nb = b + 1, *ne = close;
            trim(&nb, &ne);
            if (nb == ne || memchr(nb, '[', (size_t)(ne - nb))) {
                rc = dsql_error_set(err, DSQL_EPARSE, "%s line %u: empty or malformed section name",
                                    path, lineno);
                goto done;
            }
            free(section);
            section = NULL;
            in_skipped = false;
            if (config_file) {
                if (ne - nb > 8 && !memcmp(nb, "profile", 7) && is_space(nb[7])) {
                    nb += 8;
                    trim(&nb, &ne);
                } else if (!(ne - nb == 7 && !memcmp(nb, "default", 7))) {
                    in_skipped = true; /* [sso-session x], [services x], or [x] without "profile" */
                    continue;
                }
            }
            section = dup_range(nb, ne);
            if (!section) {
                rc = dsql_error_set(err, DSQL_ENOMEM, "out of memory reading %s", path);
                goto done;
            }
            if ((rc = add(ini, section, NULL, NULL, NULL, NULL, err)) != DSQL_OK)
                goto done;
            continue;
        }
        const char *eq = memchr(b, '=', (size_t)(e - b));
        if (!eq) {
            rc = dsql_error_set(err, DSQL_EPARSE,
                                "%s line %u: expected '[section]' or 'key = value'", path, lineno);
            goto done;
        }
        const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
        trim(&kb, &ke);
        cut_comment(vb, &ve);
        trim(&vb, &ve);
        if (kb == ke) {
            rc =
                dsql_error_set(err, DSQL_EPARSE, "%s line %u: a value without a key", path, lineno);
            goto done;
        }
        sub_props = vb == ve;
        if (!section || in_skipped)
            continue; /* keys before any section, or in a section we do not use */
        if ((rc = add(ini, section, kb, ke, vb, ve, err)) != DSQL_OK)
            goto done;
    }
done:
    free(section);
    return rc;
}

int dsql__ini_load(dsql__ini *ini, const char *path, bool config_file, dsql_error *err)
{
    free(ini->path);
    ini->path = dsql__strdup(path);
    if (!ini->path)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory");
    char *text;
    size_t len;
    int rc =
        dsql__read_file(path, DSQL__INI_MAX_BYTES,
                        config_file ? "AWS config file" : "AWS credentials file", &text, &len, err);
    if (rc == DSQL_ECONFIG) { /* does not exist: fine, nothing configured there */
        dsql_error_clear(err);
        return DSQL_OK;
    }
    if (rc != DSQL_OK)
        return rc;
    ini->present = true;
    rc = dsql__ini_parse(ini, text, len, config_file, err);
    dsql__wipe(text, len);
    free(text);
    return rc;
}

const char *dsql__ini_get(const dsql__ini *ini, const char *section, const char *key)
{
    for (size_t i = ini->n; i-- > 0;)
        if (ini->e[i].key && !strcmp(ini->e[i].key, key) && !strcmp(ini->e[i].section, section))
            return ini->e[i].value;
    return NULL;
}

bool dsql__ini_has_section(const dsql__ini *ini, const char *section)
{
    for (size_t i = 0; i < ini->n; i++)
        if (!strcmp(ini->e[i].section, section))
            return true;
    return false;
}

void dsql__ini_free(dsql__ini *ini)
{
    for (size_t i = 0; i < ini->n; i++) {
        free(ini->e[i].section);
        free(ini->e[i].key);
        dsql__free_secret(ini->e[i].value);
    }
    free(ini->e);
    free(ini->path);
    *ini = (dsql__ini)DSQL__INI_INIT;
}

/* path from env var, else ~/.aws/<name>; "~/" expanded. */
static int file_path(const char *env, const char *name, char *buf, size_t size, dsql_error *err)
{
    const char *v = dsql__env(env);
    char home[1024];
    int n;
    if (v && !(v[0] == '~' && v[1] == '/')) {
        n = snprintf(buf, size, "%s", v);
    } else {
        if (!dsql__home(home, sizeof home))
            return dsql_error_set(err, DSQL_ECONFIG,
                                  "cannot find the AWS %s file: HOME is not set (set %s)", name,
                                  env);
        n = v ? snprintf(buf, size, "%s/%s", home, v + 2)
              : snprintf(buf, size, "%s/.aws/%s", home, name);
    }
    if (n < 0 || (size_t)n >= size)
        return dsql_error_set(err, DSQL_ECONFIG, "the path of the AWS %s file is too long", name);
    return DSQL_OK;
}

int dsql__aws_files_load(dsql__aws_files *f, dsql_error *err)
{
    char path[4096];
    int rc = file_path("AWS_CONFIG_FILE", "config", path, sizeof path, err);
    if (rc == DSQL_OK)
        rc = dsql__ini_load(&f->config, path, true, err);
    if (rc == DSQL_OK)
        rc = file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", path, sizeof path, err);
    if (rc == DSQL_OK)
        rc = dsql__ini_load(&f->credentials, path, false, err);
    return rc;
}

const char *dsql__aws_files_get(const dsql__aws_files *f, const char *profile, const char *key)
{
    const char *v = dsql__ini_get(&f->credentials, profile, key);
    return v ? v : dsql__ini_get(&f->config, profile, key);
}

bool dsql__aws_files_has_profile(const dsql__aws_files *f, const char *profile)
{
    return dsql__ini_has_section(&f->credentials, profile) ||
           dsql__ini_has_section(&f->config, profile);
}

void dsql__aws_files_free(dsql__aws_files *f)
{
    dsql__ini_free(&f->config);
    dsql__ini_free(&f->credentials);
}

const char *dsql__profile_name(const char *explicit_profile)
{
    if (explicit_profile && *explicit_profile)
        return explicit_profile;
    const char *v = dsql__env("AWS_PROFILE");
    return v ? v : "default";
}
