/*
 * Shared declarations of the fuzz targets. Each target is one file fuzz_<name>.c defining
 * LLVMFuzzerTestOneInput (and optionally LLVMFuzzerInitialize). It is built twice: with
 * clang's libFuzzer (`make fuzz`) and, with replay.c as its main, into a program that runs
 * the committed corpus once under ASan/UBSan as a regression test (`make test`).
 *
 * A target must never exit, never read the network, and free what it allocates: leaks
 * are crashes here. Invariants a target checks are fuzz_assert()s: a violation aborts
 * with the message, which libFuzzer reports as a crash with its input saved.
 */
#ifndef DSQL_FUZZ_H
#define DSQL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define fuzz_assert(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant violated at %s:%d: ", __FILE__, __LINE__);             \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A NUL-terminated heap copy of the input (inputs are not terminated). */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* Points the AWS environment at nothing real: no shared files, no instance metadata, no
 * credentials, so a target reads only its input. */
void fuzz_quiet_environment(void);

/* Checks that no byte of secret (len > 0) appears in text: errors never echo secrets. */
void fuzz_assert_no_secret(const char *text, const char *secret);

#endif
