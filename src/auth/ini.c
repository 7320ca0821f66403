/* INI parsing for the AWS shared config and credentials files. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/ini.h"
#include "auth/internal.h"

/* The files' whitespace: spaces and tabs only (as the SDKs' parsers). */
static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims [*b, *e) in place. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && is_space(**b))
        (*b)++;
    while (*e > *b && is_space((*e)[-1]))
        (*e)--;
}

/* Cuts a comment off [b, *e): # or ; after whitespace, or anywhere when !need_space. */
static void cut_comment(const char *b, const char **e, bool need_space)
{
    for (const char *p = b; p < *e; p++)
        if ((*p == '#' || *p == ';') && (!need_space || (p > b && is_space(p[-1])))) {
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

/* The SDKs' identifiers: profile names and key names. */
static bool valid_name(const char *b, const char *e)
{
    if (b == e)
        return false;
    for (const char *p = b; p < e; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("_-/.%@:+", *p)))
            return false;
    return true;
}

static const char *file_what(const dsql__ini *ini)
{
    return ini->path ? ini->path : "(config)";
}

/* A warning through the log hook (nowhere else). Names are shown at most 64 bytes, with
 * control characters replaced. */
DSQL_PRINTF(3, 4) static void warn(const dsql__ini *ini, unsigned line, const char *fmt, ...)
{
    if (!ini->log)
        return;
    char msg[512], full[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    snprintf(full, sizeof full, "AWS shared files: %s line %u: %s", file_what(ini), line, msg);
    ini->log(DSQL_LOG_WARN, full, ini->log_ctx);
}

static int add(dsql__ini *ini, const char *section, dsql__ini_kind kind, bool plain_default,
               unsigned line, const char *kb, const char *ke, const char *vb, const char *ve,
               dsql_error *err)
{
    if (ini->n == ini->cap) {
        size_t cap = ini->cap ? ini->cap * 2 : 16;
        dsql__ini_entry *ne = realloc(ini->e, cap * sizeof *ne);
        if (!ne)
            return dsql_error_set(err, DSQL_ENOMEM, "out of memory reading %s", file_what(ini));
        ini->e = ne;
        ini->cap = cap;
    }
    dsql__ini_entry *en = &ini->e[ini->n];
    en->section = dsql__strdup(section);
    en->key = kb ? dup_range(kb, ke) : NULL;
    en->value = vb ? dup_range(vb, ve) : NULL;
    en->line = line;
    en->kind = (unsigned char)kind;
    en->plain_default = plain_default;
    if (!en->section || (kb && !en->key) || (vb && !en->value)) {
        free(en->section);
        free(en->key);
        dsql__free_secret(en->value);
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory reading %s", file_what(ini));
    }
    for (char *k = en->key; k && *k; k++)
        if (*k >= 'A' && *k <= 'Z')
            *k = (char)(*k - 'A' + 'a');
    ini->n++;
    return DSQL_OK;
}

/* Appends "\n" + [b, e) to the value of the last entry (a continuation line). The old
 * value is wiped: it may be a secret. */
static int append_line(dsql__ini *ini, const char *b, const char *e, dsql_error *err)
{
    dsql__ini_entry *en = &ini->e[ini->n - 1];
    size_t old = strlen(en->value), n = (size_t)(e - b);
    char *v = malloc(old + 1 + n + 1);
    if (!v)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory reading %s", file_what(ini));
    memcpy(v, en->value, old);
    v[old] = '\n';
    memcpy(v + old + 1, b, n);
    v[old + 1 + n] = '\0';
    dsql__free_secret(en->value);
    en->value = v;
    return DSQL_OK;
}

/* Where the parser is. */
typedef struct pstate {
    char *section;       /* the current section's name; NULL before the first header */
    dsql__ini_kind kind; /* its kind */
    bool keep;           /* the section is kept (not ignored) */
    bool plain_default;  /* it came from [default] in the config file */
    bool have_property;  /* a key line came after the header: continuations belong to it */
    bool property_kept;  /* that key was stored (the last entry) */
    bool sub_properties; /* that key's value was empty: continuations are sub-properties */
} pstate;

/* Decides what a header `[name]` opens (name trimmed, comment cut). */
static int open_section(dsql__ini *ini, pstate *st, const char *nb, const char *ne,
                        bool config_file, unsigned lineno, dsql_error *err)
{
    free(st->section);
    st->section = NULL;
    st->keep = false;
    st->plain_default = false;
    st->kind = DSQL__INI_PROFILE;
    st->have_property = st->property_kept = st->sub_properties = false;
    /* "prefix name" or "name": split at the first space or tab. */
    const char *sp = nb;
    while (sp < ne && !is_space(*sp))
        sp++;
    const char *pb = NULL, *pe = NULL, *sb = nb, *se = ne;
    if (sp < ne) {
        pb = nb;
        pe = sp;
        sb = sp;
        trim(&sb, &se);
    }
    int nl = (int)(ne - nb > 64 ? 64 : ne - nb);
    const char *kind_what = NULL;
    if (config_file) {
        if (!pb) {
            if (se - sb == 7 && !memcmp(sb, "default", 7)) {
                st->keep = st->plain_default = true;
            } else {
                warn(ini, lineno,
                     "section [%.*s] ignored: in the config file a profile is [profile NAME] "
                     "(only [default] goes without the prefix)",
                     nl, nb);
                return DSQL_OK;
            }
        } else if (pe - pb == 7 && !memcmp(pb, "profile", 7)) {
            st->keep = true;
        } else if (pe - pb == 8 && !memcmp(pb, "services", 8)) {
            st->keep = true;
            st->kind = DSQL__INI_SERVICES;
            kind_what = "services section";
        } else {
            return DSQL_OK; /* [sso-session x] and other sections libdsql does not use */
        }
    } else {
        if (pb) {
            if (pe - pb == 7 && !memcmp(pb, "profile", 7))
                warn(ini, lineno,
                     "profile [%.*s] ignored: in the credentials file a profile is [NAME], "
                     "without the \"profile \" prefix",
                     nl, nb);
            else
                warn(ini, lineno,
                     "section [%.*s] ignored: the credentials file holds profiles only ([NAME])",
                     nl, nb);
            return DSQL_OK;
        }
        st->keep = true;
    }
    if (!valid_name(sb, se)) {
        st->keep = false;
        warn(ini, lineno,
             "%s [%.*s] ignored: '%.*s' is not a valid name (letters, digits and _-/.%%@:+)",
             kind_what ? kind_what : "profile", nl, nb, (int)(se - sb > 64 ? 64 : se - sb), sb);
        return DSQL_OK;
    }
    st->section = dup_range(sb, se);
    if (!st->section)
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory reading %s", file_what(ini));
    return add(ini, st->section, st->kind, st->plain_default, lineno, NULL, NULL, NULL, NULL, err);
}

/* " (profile 'x')" for messages, or "". */
static void in_profile(const pstate *st, char *buf, size_t n)
{
    if (st->section && st->kind == DSQL__INI_SERVICES)
        snprintf(buf, n, " (services '%.64s')", st->section);
    else if (st->section)
        snprintf(buf, n, " (profile '%.64s')", st->section);
    else
        buf[0] = '\0';
}

/* [profile default] replaces [default] in the config file: drops [default]'s entries. */
static void drop_plain_default(dsql__ini *ini)
{
    bool prefixed = false;
    unsigned plain_line = 0;
    for (size_t i = 0; i < ini->n; i++) {
        if (ini->e[i].kind != DSQL__INI_PROFILE || strcmp(ini->e[i].section, "default") != 0)
            continue;
        if (!ini->e[i].plain_default)
            prefixed = true;
        else if (!ini->e[i].key && !plain_line)
            plain_line = ini->e[i].line;
    }
    if (!prefixed || !plain_line)
        return;
    warn(ini, plain_line, "[default] ignored: [profile default] is in the same file and wins");
    size_t o = 0;
    for (size_t i = 0; i < ini->n; i++) {
        if (ini->e[i].plain_default) {
            free(ini->e[i].section);
            free(ini->e[i].key);
            dsql__free_secret(ini->e[i].value);
        } else {
            ini->e[o++] = ini->e[i];
        }
    }
    ini->n = o;
}

/* The line lineno starting at *p, in [*lb, *le) without its line ending (and without a
 * UTF-8 byte order mark on line 1); *p moves to the next line. */
static void next_line(const char **p, const char *end, unsigned lineno, const char **lb,
                      const char **le)
{
    *lb = *p;
    *le = memchr(*p, '\n', (size_t)(end - *p));
    if (!*le)
        *le = end;
    *p = *le < end ? *le + 1 : end;
    if (*le > *lb && (*le)[-1] == '\r')
        (*le)--;
    if (lineno == 1 && *le - *lb >= 3 && !memcmp(*lb, "\xEF\xBB\xBF", 3))
        *lb += 3; /* UTF-8 byte order mark */
}

/* A header line, [b, e) trimmed: the section it opens. */
static int parse_header(dsql__ini *ini, pstate *st, const char *b, const char *e, bool config_file,
                        unsigned lineno, dsql_error *err)
{
    cut_comment(b, &e, false);
    trim(&b, &e);
    if (e - b < 2 || e[-1] != ']')
        return dsql_error_set(err, DSQL_EPARSE,
                              memchr(b, ']', (size_t)(e - b))
                                  ? "%s line %u: unexpected text after the section header"
                                  : "%s line %u: section header without a closing ']'",
                              file_what(ini), lineno);
    const char *nb = b + 1, *ne = e - 1;
    trim(&nb, &ne);
    return open_section(ini, st, nb, ne, config_file, lineno, err);
}

/* An indented line, [b, e) trimmed, that continues the last key's value or is one of its
 * sub-properties; where: in_profile's text. */
static int parse_continuation(dsql__ini *ini, const pstate *st, const char *b, const char *e,
                              unsigned lineno, const char *where, dsql_error *err)
{
    if (!st->have_property)
        return dsql_error_set(err, DSQL_EPARSE,
                              "%s line %u%s: an indented line continues a value, but no "
                              "'key = value' line comes before it in this section",
                              file_what(ini), lineno, where);
    if (st->sub_properties) {
        const char *eq = memchr(b, '=', (size_t)(e - b));
        const char *kb = b, *ke = eq ? eq : e;
        trim(&kb, &ke);
        if (!eq || kb == ke)
            return dsql_error_set(err, DSQL_EPARSE,
                                  "%s line %u%s: expected a sub-property 'name = value' "
                                  "under the key with an empty value above",
                                  file_what(ini), lineno, where);
    }
    if (st->property_kept)
        return append_line(ini, b, e, err);
    return DSQL_OK;
}

/* A 'key = value' line, [b, e) trimmed; where: in_profile's text. */
static int parse_property(dsql__ini *ini, pstate *st, const char *b, const char *e, unsigned lineno,
                          const char *where, dsql_error *err)
{
    const char *path = file_what(ini);
    cut_comment(b, &e, true);
    trim(&b, &e);
    const char *eq = memchr(b, '=', (size_t)(e - b));
    if (!eq)
        return dsql_error_set(err, DSQL_EPARSE,
                              "%s line %u%s: expected '[section]' or 'key = value'", path, lineno,
                              where);
    const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
    trim(&kb, &ke);
    trim(&vb, &ve);
    if (kb == ke)
        return dsql_error_set(err, DSQL_EPARSE, "%s line %u%s: a value without a key", path, lineno,
                              where);
    st->have_property = true;
    st->sub_properties = vb == ve;
    st->property_kept = false;
    if (!st->keep || !st->section)
        return DSQL_OK; /* a key of an ignored section */
    if (!valid_name(kb, ke)) {
        warn(ini, lineno, "key '%.*s'%s ignored: not a valid name (letters, digits and _-/.%%@:+)",
             (int)(ke - kb > 64 ? 64 : ke - kb), kb, where);
        return DSQL_OK;
    }
    int rc = add(ini, st->section, st->kind, st->plain_default, lineno, kb, ke, vb, ve, err);
    if (rc)
        return rc;
    st->property_kept = true;
    return DSQL_OK;
}

int dsql__ini_parse(dsql__ini *ini, const char *text, size_t len, bool config_file, dsql_error *err)
{
    const char *path = file_what(ini);
    pstate st = {0};
    bool seen_header = false;
    char where[96];
    int rc = DSQL_OK;
    const char *p = text, *end = text + len;
    unsigned lineno = 0;
    while (p < end) {
        const char *lb, *le;
        next_line(&p, end, ++lineno, &lb, &le);
        size_t line_len = le > lb ? (size_t)(le - lb) : 0;
        if (line_len && memchr(lb, '\0', line_len)) {
            rc = dsql_error_set(err, DSQL_EPARSE, "%s line %u: NUL byte in the file", path, lineno);
            goto done;
        }
        const char *b = lb, *e = le;
        trim(&b, &e);
        if (b == e || *lb == '#' || *lb == ';')
            continue; /* blank, or a comment line */
        in_profile(&st, where, sizeof where);
        if (*lb == '[') {
            seen_header = true;
            rc = parse_header(ini, &st, b, e, config_file, lineno, err);
        } else if (!seen_header) {
            rc = dsql_error_set(
                err, DSQL_EPARSE, "%s line %u: a %s before any section header (expected %s first)",
                path, lineno, is_space(*lb) ? "continuation line" : "'key = value' line",
                config_file ? "[default] or [profile NAME]" : "[NAME]");
        } else if (is_space(*lb) && (st.have_property || !memchr(b, '=', (size_t)(e - b)))) {
            /* An indented line right after a header is a key of its own when it has a '=' (as
             * the AWS CLI reads it; the Rust and Java SDKs refuse it); otherwise it continues
             * the last key's value, or is one of its sub-properties. */
            rc = parse_continuation(ini, &st, b, e, lineno, where, err);
        } else {
            rc = parse_property(ini, &st, b, e, lineno, where, err);
        }
        if (rc)
            goto done;
    }
    if (config_file)
        drop_plain_default(ini);
done:
    free(st.section);
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

const char *dsql__ini_get_kind(const dsql__ini *ini, dsql__ini_kind kind, const char *section,
                               const char *key)
{
    for (size_t i = ini->n; i-- > 0;)
        if (ini->e[i].key && ini->e[i].kind == kind && !strcmp(ini->e[i].key, key) &&
            !strcmp(ini->e[i].section, section))
            return ini->e[i].value;
    return NULL;
}

const char *dsql__ini_get(const dsql__ini *ini, const char *section, const char *key)
{
    return dsql__ini_get_kind(ini, DSQL__INI_PROFILE, section, key);
}

const char *dsql__ini_sub(const char *value, const char *sub, char *buf, size_t size)
{
    size_t sl = strlen(sub);
    const char *found = NULL; /* the last one wins */
    for (const char *l = value ? strchr(value, '\n') : NULL; l; l = strchr(l, '\n')) {
        l++;
        const char *le = strchr(l, '\n');
        if (!le)
            le = l + strlen(l);
        const char *eq = memchr(l, '=', (size_t)(le - l));
        if (eq) {
            const char *kb = l, *ke = eq, *vb = eq + 1, *ve = le;
            trim(&kb, &ke);
            trim(&vb, &ve);
            if ((size_t)(ke - kb) == sl && !strncasecmp(kb, sub, sl) && (size_t)(ve - vb) < size) {
                memcpy(buf, vb, (size_t)(ve - vb));
                buf[ve - vb] = '\0';
                found = buf;
            }
        }
        l = le;
    }
    return found;
}

bool dsql__ini_has_section(const dsql__ini *ini, const char *section)
{
    for (size_t i = 0; i < ini->n; i++)
        if (ini->e[i].kind == DSQL__INI_PROFILE && !strcmp(ini->e[i].section, section))
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

int dsql__aws_files_load(dsql__aws_files *f, dsql_log_fn log, void *log_ctx, dsql_error *err)
{
    char path[4096];
    f->config.log = f->credentials.log = log;
    f->config.log_ctx = f->credentials.log_ctx = log_ctx;
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

static const dsql__ini_entry *find(const dsql__ini *ini, const char *section, const char *key)
{
    for (size_t i = ini->n; i-- > 0;)
        if (ini->e[i].key && ini->e[i].kind == DSQL__INI_PROFILE && !strcmp(ini->e[i].key, key) &&
            !strcmp(ini->e[i].section, section))
            return &ini->e[i];
    return NULL;
}

const char *dsql__aws_files_at(const dsql__aws_files *f, const char *profile, const char *key,
                               char *buf, size_t size)
{
    const dsql__ini *ini = &f->credentials;
    const dsql__ini_entry *e = find(ini, profile, key);
    if (!e) {
        ini = &f->config;
        e = find(ini, profile, key);
    }
    if (e)
        snprintf(buf, size, "%s line %u", file_what(ini), e->line);
    else if (size)
        buf[0] = '\0';
    return buf;
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

static bool is_true(const char *v)
{
    return v && !strcasecmp(v, "true");
}

int dsql__configured_endpoint(const dsql__aws_files *f, const char *profile, const char *env_id,
                              const char *key, char **url, const char **from, dsql_error *err)
{
    *url = NULL;
    *from = "the default endpoint";
    const char *ignore = dsql__env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    if (ignore ? is_true(ignore)
               : f && is_true(dsql__aws_files_get(f, profile, "ignore_configured_endpoint_urls")))
        return DSQL_OK;
    char name[64], sub[2048];
    snprintf(name, sizeof name, "AWS_ENDPOINT_URL_%s", env_id);
    const char *v = dsql__env(name);
    *from = "AWS_ENDPOINT_URL_<SERVICE>";
    if (!v) {
        v = dsql__env("AWS_ENDPOINT_URL");
        *from = "AWS_ENDPOINT_URL";
    }
    if (!v && f) {
        const char *services = dsql__aws_files_get(f, profile, "services");
        if (services && *services) {
            const char *block = dsql__ini_get_kind(&f->config, DSQL__INI_SERVICES, services, key);
            v = dsql__ini_sub(block, "endpoint_url", sub, sizeof sub);
            *from = "the services section of the AWS config file";
        }
    }
    if (!v && f) {
        v = dsql__aws_files_get(f, profile, "endpoint_url");
        *from = "endpoint_url of the profile";
    }
    if (!v || !*v) {
        *from = "the default endpoint";
        return DSQL_OK;
    }
    *url = dsql__strdup(v);
    return *url ? DSQL_OK : dsql_error_set(err, DSQL_ENOMEM, "out of memory");
}

int dsql__max_attempts(const dsql__aws_files *f, const char *profile, int *out, dsql_error *err)
{
    *out = 0;
    const char *v = dsql__env("AWS_MAX_ATTEMPTS"), *from = "AWS_MAX_ATTEMPTS";
    char at[4200], from_buf[4300];
    if (!v && f && (v = dsql__aws_files_get(f, profile, "max_attempts")) != NULL) {
        snprintf(from_buf, sizeof from_buf, "max_attempts (%s)",
                 dsql__aws_files_at(f, profile, "max_attempts", at, sizeof at));
        from = from_buf;
    }
    if (!v || !*v)
        return DSQL_OK;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < 1 || n > 10)
        return dsql_error_set(err, DSQL_ECONFIG, "%s '%.40s' is not a whole number from 1 to 10",
                              from, v);
    *out = (int)n;
    return DSQL_OK;
}
