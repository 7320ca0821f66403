/* credential_process: run the profile's command and read credentials from its stdout.
 * Its stdin is /dev/null; its stderr is the program's own (prompts reach the user), and
 * nothing it writes there enters an error message or a log line. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/internal.h"

extern char **environ;

#define MAX_OUTPUT (64u * 1024)
#define TIMEOUT_MS 60000

/* The time the command gets: 60 s, or DSQL_AUTH_PROCESS_TIMEOUT_MS (tests). */
static long timeout_ms(void)
{
    const char *v = dsql__env("DSQL_AUTH_PROCESS_TIMEOUT_MS");
    if (v) {
        char *end;
        long ms = strtol(v, &end, 10);
        if (*end == '\0' && ms > 0 && ms <= 600000)
            return ms;
    }
    return TIMEOUT_MS;
}

int dsql__fetch_process(const char *command, const char *what, dsql_credentials *out,
                        dsql_error *err)
{
    int fds[2];
    if (pipe(fds) != 0)
        return dsql_error_set(err, DSQL_EIO, "%s: pipe failed: %s", what, strerror(errno));
    /* Neither end may leak into processes other threads start meanwhile (or into this one
     * beyond the dup2 onto stdout). */
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)command, NULL};
    pid_t pid;
    int se = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (se != 0) {
        close(fds[0]);
        return dsql_error_set(err, DSQL_EIO, "%s: cannot run /bin/sh: %s", what, strerror(se));
    }

    /* Read stdout (bounded in size and time); it holds secrets, so it is wiped. */
    char *buf = malloc(MAX_OUTPUT + 1);
    size_t n = 0;
    int rc = DSQL_OK;
    long limit = timeout_ms();
    int64_t deadline = dsql__mono_ms() + limit;
    if (!buf)
        rc = dsql_error_set(err, DSQL_ENOMEM, "%s: out of memory", what);
    while (rc == DSQL_OK) {
        int64_t left = deadline - dsql__mono_ms();
        if (left <= 0) {
            rc = limit % 1000 ? dsql_error_set(err, DSQL_ETIMEOUT,
                                               "%s: the command did not finish within %ld ms "
                                               "(it was killed)",
                                               what, limit)
                              : dsql_error_set(err, DSQL_ETIMEOUT,
                                               "%s: the command did not finish within %ld s (it "
                                               "was killed)",
                                               what, limit / 1000);
            break;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            rc = dsql_error_set(err, DSQL_EIO, "%s: poll failed: %s", what, strerror(errno));
            break;
        }
        if (pr == 0)
            continue;
        if (n == MAX_OUTPUT) {
            rc = dsql_error_set(err, DSQL_EPARSE, "%s: the command wrote more than %u bytes", what,
                                MAX_OUTPUT);
            break;
        }
        ssize_t got = read(fds[0], buf + n, MAX_OUTPUT - n);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got < 0) {
            rc = dsql_error_set(err, DSQL_EIO, "%s: reading its output failed: %s", what,
                                strerror(errno));
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fds[0]);
    if (rc != DSQL_OK)
        kill(pid, SIGKILL);
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (rc == DSQL_OK && w == pid) {
        if (WIFSIGNALED(status))
            rc = dsql_error_set(err, DSQL_ECREDENTIALS, "%s: the command was killed by signal %d",
                                what, WTERMSIG(status));
        else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
            rc = dsql_error_set(err, DSQL_ECREDENTIALS, "%s: the command exited with status %d%s",
                                what, WEXITSTATUS(status),
                                WEXITSTATUS(status) == 127 ? " (command not found?)" : "");
    }
    /* w < 0 with ECHILD: the application reaps children itself; judge by the output. */
    if (rc == DSQL_OK) {
        buf[n] = '\0';
        rc = dsql__creds_from_json(buf, n, DSQL__JSON_PROCESS, what, out, err);
        if (rc == DSQL_OK)
            dsql__credentials_source(out, "credential_process");
    }
    if (buf) {
        dsql__wipe(buf, n);
        free(buf);
    }
    return rc;
}
