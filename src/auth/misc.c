/* Small helpers of the auth layer: environment, ISO 8601 times, bounded file reads. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/internal.h"

const char *dsql__env(const char *name)
{
    const char *v = getenv(name);
    if (!v)
        return NULL;
    /* Blank counts as unset, as in the AWS SDKs (AWS_ACCESS_KEY_ID=" " sets nothing). */
    for (const char *p = v; *p; p++)
        if (!isspace((unsigned char)*p))
            return v;
    return NULL;
}

bool dsql__env_true(const char *name)
{
    const char *v = dsql__env(name);
    return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") ||
                 !strcasecmp(v, "on"));
}

bool dsql__dns_name_ok(const char *host, char *why, size_t size)
{
    size_t n = strlen(host);
    if (n > 0 && host[n - 1] == '.')
        n--; /* the root's dot */
    if (n == 0) {
        snprintf(why, size, "it is empty");
        return false;
    }
    if (n > 253) {
        snprintf(why, size, "it is %zu bytes long; a DNS name has at most 253", n);
        return false;
    }
    for (size_t b = 0, i = 0; i <= n; i++) {
        if (i < n && host[i] != '.')
            continue;
        if (i == b) {
            snprintf(why, size, "it has an empty label (a leading dot or two dots in a row)");
            return false;
        }
        if (i - b > 63) {
            snprintf(why, size, "its label '%.*s...' is %zu bytes long; a DNS label has at most 63",
                     16, host + b, i - b);
            return false;
        }
        b = i + 1;
    }
    return true;
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool dsql__parse_iso8601(const char *s, time_t *out)
{
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 19 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        sec > 60)
        return false;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset = (oh * 3600L + om * 60L) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *out = t - offset;
    return true;
}

void dsql__format_iso8601(time_t t, char buf[32])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, 32, "(invalid time)");
        return;
    }
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int dsql__read_file(const char *path, size_t max, const char *what, char **data, size_t *len,
                    dsql_error *err)
{
    *data = NULL;
    if (len)
        *len = 0;
    /* O_NONBLOCK: a FIFO or a terminal named as a file must not make this wait forever. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return dsql_error_set(err, errno == ENOENT ? DSQL_ECONFIG : DSQL_EIO,
                              "cannot open %s %s: %s", what, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dsql_error_set(err, DSQL_EIO, "cannot read %s %s: %s", what, path, strerror(e));
    }
    /* Anything that reads like a file will do: a regular file, and also /dev/null (the
     * usual way to switch a file off: it reads empty) or a pipe; never a directory. */
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return dsql_error_set(err, DSQL_EIO, "cannot read %s %s: it is a directory, not a file",
                              what, path);
    }
    if (!S_ISREG(st.st_mode))
        st.st_size = 0; /* unknown: read until EOF, up to max */
    if ((unsigned long long)st.st_size > max) {
        close(fd);
        return dsql_error_set(err, DSQL_EIO, "%s %s is too large (%lld bytes, at most %zu)", what,
                              path, (long long)st.st_size, max);
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return dsql_error_set(err, DSQL_ENOMEM, "out of memory reading %s %s", what, path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            /* The file grew since fstat: allow up to max. */
            if (cap > max) {
                dsql__wipe(buf, n);
                free(buf);
                close(fd);
                return dsql_error_set(err, DSQL_EIO, "%s %s is too large (at most %zu bytes)", what,
                                      path, max);
            }
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = malloc(ncap);
            if (!nb) {
                dsql__wipe(buf, n);
                free(buf);
                close(fd);
                return dsql_error_set(err, DSQL_ENOMEM, "out of memory reading %s", path);
            }
            memcpy(nb, buf, n);
            dsql__wipe(buf, n);
            free(buf);
            buf = nb;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            dsql__wipe(buf, n);
            free(buf);
            close(fd);
            return dsql_error_set(err, DSQL_EIO, "cannot read %s %s: %s", what, path,
                                  e == EAGAIN || e == EWOULDBLOCK
                                      ? "it is not a file (reading it would wait for a writer)"
                                      : strerror(e));
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return DSQL_OK;
}

bool dsql__home(char *buf, size_t size)
{
    const char *h = dsql__env("HOME");
    if (h) {
        int n = snprintf(buf, size, "%s", h);
        return n > 0 && (size_t)n < size;
    }
    struct passwd pw, *res = NULL;
    char tmp[2048];
    if (getpwuid_r(getuid(), &pw, tmp, sizeof tmp, &res) == 0 && res && res->pw_dir) {
        int n = snprintf(buf, size, "%s", res->pw_dir);
        return n > 0 && (size_t)n < size;
    }
    return false;
}
