/* Fault injection, set by flags or at run time through the control socket. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

dl_faults dl_fault;

void dl_faults_init(void)
{
    memset(&dl_fault, 0, sizeof dl_fault);
    pthread_mutex_init(&dl_fault.mu, NULL);
    strcpy(dl_fault.refuse_state, "53300");
}

double dl_random(void)
{
    uint64_t r = 0;
    RAND_bytes((unsigned char *)&r, sizeof r);
    return (double)(r >> 11) * 0x1.0p-53;
}

bool dl_take(int *counter)
{
    if (*counter <= 0)
        return false;
    (*counter)--;
    return true;
}

static bool rate(const char *v, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || !(d >= 0 && d <= 1))
        return false;
    *out = d;
    return true;
}

static bool count(const char *v, int *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 0 || n > 1000000000)
        return false;
    *out = (int)n;
    return true;
}

void dl_control(const char *line, char *out, size_t cap)
{
    char cmd[32] = "", a[64] = "", b[64] = "";
    int n = sscanf(line, "%31s %63s %63s", cmd, a, b);
    bool ok = true;
    pthread_mutex_lock(&dl_fault.mu);
    if (n < 1) {
        ok = false;
    } else if (!strcmp(cmd, "occ") && n == 2) {
        ok = rate(a, &dl_fault.occ_rate);
    } else if (!strcmp(cmd, "oc001") && n == 2) {
        ok = rate(a, &dl_fault.oc001_rate);
    } else if (!strcmp(cmd, "unavailable") && n == 2) {
        ok = rate(a, &dl_fault.unavailable_rate);
    } else if (!strcmp(cmd, "drop-rate") && n == 2) {
        ok = rate(a, &dl_fault.drop_rate);
    } else if (!strcmp(cmd, "latency") && n == 2) {
        ok = count(a, &dl_fault.latency_ms);
    } else if (!strcmp(cmd, "refuse") && n == 3 &&
               (!strcmp(a, "53300") || !strcmp(a, "53400") || !strcmp(a, "unavailable"))) {
        /* unavailable: an impaired Region's answer, XX000 "server unavailable" */
        strcpy(dl_fault.refuse_state, !strcmp(a, "unavailable") ? "XX000" : a);
        if (!strcmp(b, "all"))
            dl_fault.refuse_n = 1000000000;
        else
            ok = count(b, &dl_fault.refuse_n);
    } else if (!strcmp(cmd, "drop-before-commit") && n == 2) {
        ok = count(a, &dl_fault.drop_before_commit_n);
    } else if (!strcmp(cmd, "drop-after-commit") && n == 2) {
        ok = count(a, &dl_fault.drop_after_commit_n);
    } else if (!strcmp(cmd, "drop-mid-result") && n == 2) {
        ok = count(a, &dl_fault.drop_mid_result_n);
    } else if (!strcmp(cmd, "stall") && n == 2 && !strcmp(a, "all")) {
        dl_fault.stall_all = true;
    } else if (!strcmp(cmd, "stall") && n == 2) {
        ok = count(a, &dl_fault.stall_next_n);
    } else if (!strcmp(cmd, "unstall") && n == 1) {
        dl_fault.stall_all = false;
        dl_fault.stall_next_n = 0;
    } else if (!strcmp(cmd, "reset") && n == 1) {
        dl_fault.occ_rate = dl_fault.oc001_rate = dl_fault.unavailable_rate = 0;
        dl_fault.drop_rate = 0;
        dl_fault.latency_ms = dl_fault.refuse_n = 0;
        dl_fault.drop_before_commit_n = dl_fault.drop_after_commit_n = 0;
        dl_fault.drop_mid_result_n = dl_fault.stall_next_n = 0;
        dl_fault.stall_all = false;
    } else if ((!strcmp(cmd, "max-connection-age") || !strcmp(cmd, "max-transaction-age")) &&
               n == 2) {
        int secs = 0;
        ok = count(a, &secs) && secs >= 1 && secs <= 86400;
        if (ok)
            atomic_store(cmd[4] == 'c' ? &dl.cfg.max_conn_age_s : &dl.cfg.max_tx_age_s, secs);
    } else if (!strcmp(cmd, "kill-all") && n == 1) {
        pthread_mutex_unlock(&dl_fault.mu);
        int k = dl_kill_all();
        atomic_fetch_add(&dl_fault.injected, (unsigned long)k);
        snprintf(out, cap, "ok %d sessions dropped", k);
        return;
    } else if (!strcmp(cmd, "stats") && n == 1) {
        snprintf(out, cap,
                 "ok injected=%lu sessions=%lu open=%lu statements=%lu occ=%g oc001=%g "
                 "unavailable=%g latency_ms=%d",
                 atomic_load(&dl_fault.injected), atomic_load(&dl_fault.sessions),
                 atomic_load(&dl_fault.sessions_now), atomic_load(&dl_fault.statements),
                 dl_fault.occ_rate, dl_fault.oc001_rate, dl_fault.unavailable_rate,
                 dl_fault.latency_ms);
        pthread_mutex_unlock(&dl_fault.mu);
        return;
    } else {
        ok = false;
    }
    pthread_mutex_unlock(&dl_fault.mu);
    snprintf(out, cap, ok ? "ok" : "error: unknown command or bad value: %.80s", line);
}
