/*
 * Internal helpers shared by every layer: growable strings, time, secret wiping.
 * Not installed; names are dsql__* (hidden in the shared library).
 * Thread rule: each object is used by one thread at a time; no globals.
 */
#ifndef DSQL_UTIL_H
#define DSQL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dsql/common.h"

#define DSQL__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- growable, always NUL-terminated string ----
 * After any allocation failure `oom` is set and later appends are no-ops, so a builder
 * can append freely and check once at the end. */
typedef struct dsql__strbuf {
    char *data; /* NUL-terminated when len > 0 or after any append; may be NULL if empty */
    size_t len;
    size_t cap;
    bool oom;
} dsql__strbuf;

/* clang-format off */
#define DSQL__STRBUF_INIT {NULL, 0, 0, false}
/* clang-format on */

bool dsql__sb_reserve(dsql__strbuf *sb, size_t extra);
void dsql__sb_append(dsql__strbuf *sb, const char *s);
void dsql__sb_append_n(dsql__strbuf *sb, const char *s, size_t n);
void dsql__sb_append_c(dsql__strbuf *sb, char c);
void dsql__sb_appendf(dsql__strbuf *sb, const char *fmt, ...) DSQL_PRINTF(2, 3);
/* Appends the decimal text of v (what "%lld" prints, without printf's cost: SQL builders
 * call it once per parameter). */
/* Appends a parameter placeholder: prefix (may be NULL) then "$<n>". */
void dsql__sb_append_param(dsql__strbuf *sb, const char *prefix, long long n);
/* Empties the string but keeps its memory. */
void dsql__sb_reset(dsql__strbuf *sb);
/* Returns the string ("" when empty, never NULL unless oom). */
const char *dsql__sb_str(const dsql__strbuf *sb);
/* Hands the buffer to the caller (free() it); the builder is left empty. NULL on oom. */
char *dsql__sb_detach(dsql__strbuf *sb);
void dsql__sb_free(dsql__strbuf *sb);
/* Like dsql__sb_free but wipes the bytes first (for strings holding secrets). */
void dsql__sb_free_secret(dsql__strbuf *sb);

/* ---- memory ---- */
/* strdup that accepts NULL (returns NULL). */
char *dsql__strdup(const char *s);
/* Overwrites then frees a NUL-terminated secret. NULL is a no-op. */
void dsql__free_secret(char *s);
/* Overwrites n bytes (OpenSSL's cleanse, not optimised away). */
void dsql__wipe(void *p, size_t n);

/* ---- arena: many small allocations, one free ----
 * Blocks are chained; allocations are 16-byte aligned; nothing is freed individually. */
typedef struct dsql__arena_block dsql__arena_block;
typedef struct dsql__arena {
    dsql__arena_block *head;
    size_t total; /* bytes handed out, for statistics */
} dsql__arena;

/* clang-format off */
#define DSQL__ARENA_INIT {NULL, 0}
/* clang-format on */

/* Returns n bytes (zeroed), or NULL when out of memory. n == 0 returns a valid pointer. */
void *dsql__arena_alloc(dsql__arena *a, size_t n);
/* Copies n bytes (aligned as dsql__arena_alloc's, so arrays of structs too) and appends
 * a NUL (so text stays a C string). NULL on oom. */
void *dsql__arena_memdup(dsql__arena *a, const void *p, size_t n);
char *dsql__arena_strdup(dsql__arena *a, const char *s);
void dsql__arena_free(dsql__arena *a);

/* ---- time ---- */
/* Monotonic clock in milliseconds / microseconds. */
int64_t dsql__mono_ms(void);
int64_t dsql__mono_us(void);
/* Sleeps for ms milliseconds (restarting after signals). */
void dsql__sleep_ms(int64_t ms);
/* A uniformly distributed number in [0, 1) (thread-safe), for jitter. */
double dsql__random_unit(void);

/* ---- numbers as text, in the C locale whatever the application's LC_NUMERIC ---- */
/* Decimal text of v into buf (at least 21 bytes); returns the length. */
size_t dsql__i64toa(int64_t v, char *buf);
/* The value of a hexadecimal digit (either case), or -1. */
int dsql__hexval(int c);
/* Shortest text that reads back as exactly d ("NaN", "Infinity", "-Infinity" for the
 * special values, PostgreSQL's spelling). cap >= 32. Returns the length. */
size_t dsql__dtoa(double d, char *buf, size_t cap);
/* Same for a float (shortest text that reads back as exactly f as a float). */
size_t dsql__ftoa(float f, char *buf, size_t cap);
/* Parses all of s[0..len) as a double (also NaN, Infinity, -Infinity in any case).
 * False when it is not a number or is out of range. */
bool dsql__strtod(const char *s, size_t len, double *out);
/* Same as a float (rounded once, from the text). */
bool dsql__strtof(const char *s, size_t len, float *out);
/* Parses all of s[0..len) as a decimal integer within [min, max]. */
bool dsql__strtoi64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);

/* ---- errors ----
 * dsql__err_prefix: prepends "what: " to an error message already in err. */
void dsql__err_prefix(dsql_error *err, const char *fmt, ...) DSQL_PRINTF(2, 3);
/* The way out of every public call that takes a dsql_error: a failure's message starts
 * with the call's name ("dsql_find_all: where: ..."), once, and replaces the name of a
 * public call it made itself. Returns rc. */
int dsql__api_ret(const char *call, int rc, dsql_error *err);
/* The same for a call that runs the caller's code (a transaction body): an error that
 * already starts with a public call's name (one the body made) keeps it. */
int dsql__api_ret_body(const char *call, int rc, dsql_error *err);

#endif
