/* Monotonic time, sleeping, and the random fraction behind every jitter. */
#include <errno.h>
#include <time.h>

#include <openssl/rand.h>

#include "util/util.h"

int64_t dsql__mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t dsql__mono_ms(void)
{
    return dsql__mono_us() / 1000;
}

void dsql__sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec req = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    struct timespec rem;
    while (nanosleep(&req, &rem) == -1 && errno == EINTR)
        req = rem;
}

double dsql__random_unit(void)
{
    uint64_t r;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = (uint64_t)dsql__mono_us() * 0x9E3779B97F4A7C15ull;
    return (double)(r >> 11) * 0x1.0p-53;
}
