/* The ready-made stderr logger. */
#include <stdio.h>

#include "dsql/common.h"

void dsql_log_stderr(dsql_log_level level, const char *message, void *ctx)
{
    (void)level;
    (void)ctx;
    /* One fprintf per line: stdio locks the stream for the call, so lines stay whole. */
    fprintf(stderr, "%s\n", message);
}
