/* dsql migrate: versioned migrations from a directory of SQL files (docs/migrations.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "conn_flags.h"
#include "lint.h"
#include "migfile.h"
#include "rules/rules.h"

static void migrate_usage(FILE *out)
{
    fprintf(
        out,
        "usage: dsql migrate create NAME [--dir DIR]\n"
        "       dsql migrate status [options] [connection flags] [CONNINFO]\n"
        "       dsql migrate up [--to VERSION] [--dry-run] [--force] [options] [connection "
        "flags] [CONNINFO]\n"
        "       dsql migrate down [--to VERSION] [--dry-run] [options] [connection flags] "
        "[CONNINFO]\n"
        "\n"
        "Versioned migrations from DIR/VERSION_NAME.sql files, applied the way Aurora DSQL\n"
        "accepts them (each DDL statement in its own transaction, CREATE INDEX ASYNC waited\n"
        "for, DML grouped under the 3,000-row cap, backfills in chunks, conflicts retried),\n"
        "and on plain PostgreSQL alike. A file holds '-- migrate:up' then its statements,\n"
        "and optionally '-- migrate:down' then the statements that revert it;\n"
        "'-- dsql:backfill' before an UPDATE/DELETE runs it again and again until it\n"
        "changes no row. See docs/migrations.md.\n"
        "\n"
        "  create NAME     write DIR/<UTC time>_NAME.sql with both parts, empty\n"
        "  status          applied / pending / failed migrations with their times\n"
        "  up              lint, then apply pending migrations (up to --to VERSION); a\n"
        "                  failed one resumes at its failed statement\n"
        "  down            revert the last applied migration (every one above --to VERSION;\n"
        "                  --to 0: all) with its down part\n"
        "\n"
        "  --dir DIR       the migrations directory (default: migrations)\n"
        "  --to VERSION    stop at (up) / revert down to (down) this version\n"
        "  --dry-run       print the plan: the statements and their transactions; nothing runs\n"
        "  --force         up: apply migrations even when dsql lint has findings in them\n"
        "  --table NAME    the table of applied migrations (default: dsql_migrations)\n"
        "  --wait SECONDS  how long to wait for another runner's migration (default 600)\n"
        "  --lease SECONDS a claim with no progress for this long belongs to a runner that\n"
        "                  died, and is taken over (default 18000: 5 hours)\n"
        "\n"
        "Exit status: 0 done (status: nothing failed or changed), 1 a migration failed, lint\n"
        "findings, or status shows a failed / changed migration, 2 usage error or unreadable\n"
        "migration files.\n"
        "\n");
    cli_conn_flags_usage(out);
}

static void on_progress(const char *line, void *ctx)
{
    (void)ctx;
    printf("dsql migrate: %s\n", line);
    fflush(stdout);
}

/* ---- create ---- */

static int do_create(const char *dir, const char *name, const cli_migset *set)
{
    size_t n = strlen(name);
    bool ok = n >= 1 && n <= 150;
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
             (name[i] >= '0' && name[i] <= '9') || name[i] == '_' || name[i] == '-';
    if (!ok) {
        cli_error("migrate", "create: NAME '%s' must be 1 to 150 letters, digits, '_' or '-'",
                  name);
        return 2;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char version[33];
    strftime(version, sizeof version, "%Y%m%d%H%M%S", &tm);
    /* after every existing version, also when two are made in one second */
    unsigned long long v = strtoull(version, NULL, 10);
    for (size_t i = 0; i < set->n; i++) {
        const char *e = set->migs[i].version;
        if (strlen(e) > 19) {
            cli_error("migrate",
                      "create: %s has a version longer than 19 digits: name the new "
                      "file by hand",
                      set->files[i].path);
            return 2;
        }
        unsigned long long x = strtoull(e, NULL, 10);
        if (x >= v)
            v = x + 1;
    }
    if (mkdir(dir, 0777) && errno != EEXIST) {
        cli_error("migrate", "create: %s: %s", dir, strerror(errno));
        return 2;
    }
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%llu_%s.sql", dir, v, name) >= (int)sizeof path) {
        cli_error("migrate", "create: the path is too long");
        return 2;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0) {
        cli_error("migrate", "create: %s: %s", path, strerror(errno));
        return 2;
    }
    static const char tmpl[] =
        "-- migrate:up\n"
        "-- Each DDL statement runs in its own transaction; indexes: CREATE INDEX ASYNC.\n"
        "\n"
        "\n"
        "-- migrate:down\n"
        "\n";
    bool wrote = write(fd, tmpl, sizeof tmpl - 1) == (ssize_t)(sizeof tmpl - 1);
    if (close(fd) || !wrote) {
        cli_error("migrate", "create: writing %s failed: %s", path, strerror(errno));
        unlink(path);
        return 2;
    }
    printf("%s\n", path);
    return 0;
}

/* ---- the plan ---- */

/* The first line of a statement, at most 72 characters. */
static void head(const char *sql, char *out, size_t size)
{
    size_t n = strcspn(sql, "\n");
    if (n > 72)
        snprintf(out, size, "%.69s...", sql);
    else
        snprintf(out, size, "%.*s%s", (int)n, sql, sql[n] ? " ..." : "");
}

static int print_plan(const dsql_migration *m, bool down, size_t from)
{
    const dsql_migration_step *steps = down ? m->down : m->up;
    size_t n = down ? m->n_down : m->n_up, ng = 0;
    dsql_migrate_group *g = calloc(n ? n : 1, sizeof *g);
    dsql_error err = DSQL_ERROR_INIT;
    if (!g || dsql_migration_plan(m, down, g, n, &ng, &err)) {
        cli_error("migrate", "%s", g ? cli_err_text(err.message) : "out of memory");
        free(g);
        return 1;
    }
    printf("%s %s_%s (%s): %zu statement%s%s\n", down ? "revert" : "apply", m->version, m->name,
           m->source ? m->source : "", n, n == 1 ? "" : "s", down ? " of its down part" : "");
    if (from)
        printf("  resumes at statement %zu (statements 1 to %zu ran before)\n", from + 1, from);
    for (size_t i = 0; i < ng; i++) {
        if (g[i].first + g[i].count <= from)
            continue;
        const char *what = g[i].backfill ? "backfill: transactions until no row changes"
                           : g[i].kind == DSQL_STEP_DDL ? "DDL, its own transaction"
                           : g[i].kind == DSQL_STEP_DML ? "DML, one transaction"
                                                        : "its own transaction";
        printf("  transaction %zu: %s\n", i + 1, what);
        for (size_t k = g[i].first; k < g[i].first + g[i].count; k++) {
            if (k < from)
                continue;
            char h[96];
            head(steps[k].sql, h, sizeof h);
            printf("    %zu. line %u: %s\n", k + 1, steps[k].line, h);
            if (g[i].kind == DSQL_STEP_DDL && strstr(h, "ASYNC"))
                printf("       then waits for its job (sys.wait_for_job); on PostgreSQL runs "
                       "without ASYNC\n");
        }
    }
    free(g);
    return 0;
}

/* ---- running ---- */

typedef struct opts {
    const char *dir, *to, *table;
    bool dry_run, force;
    long wait_s, lease_s;
} opts;

/* Lints the parts that would run; the number of findings (printed to stderr). */
static size_t lint_parts(const cli_migset *set, const dsql_migration_status *st, size_t nst,
                         const char *to, bool down, bool *error)
{
    cli_lint l = {.out = stderr};
    for (size_t i = 0; i < set->n; i++) {
        const dsql_migration *m = &set->migs[i];
        const cli_migfile *f = &set->files[i];
        dsql_migration_state s = DSQL_MIGRATION_PENDING;
        for (size_t k = 0; k < nst; k++)
            if (!strcmp(st[k].version, m->version))
                s = st[k].state;
        if (!down && (s == DSQL_MIGRATION_APPLIED || s == DSQL_MIGRATION_CHANGED))
            continue;
        if (!down && to && strtoull(m->version, NULL, 10) > strtoull(to, NULL, 10))
            continue;
        if (down && s != DSQL_MIGRATION_APPLIED)
            continue;
        size_t start = down ? f->down_start : f->up_start, end = down ? f->down_end : f->up_end;
        if (down && !f->has_down)
            continue;
        dsql_error err = DSQL_ERROR_INIT;
        if (cli_lint_text(&l, f->path, f->text + start, end - start,
                          down ? f->down_line : f->up_line, &err)) {
            cli_error("migrate", "%s: %s", f->path, cli_err_text(err.message));
            *error = true;
        }
    }
    cli_lint_clear(&l);
    return l.n_findings;
}

/* migrate status: one line per migration; 1 when one failed or changed after it was
 * applied. */
static int print_status(const opts *o, const dsql_migration_status *st, size_t nst)
{
    int rc = 0;
    if (!nst)
        printf("no migrations in %s\n", o->dir);
    else
        printf("%-16s %-32s %-9s %-20s %10s  %s\n", "VERSION", "NAME", "STATE", "APPLIED AT",
               "DURATION", "");
    for (size_t i = 0; i < nst; i++) {
        const dsql_migration_status *s = &st[i];
        char dur[32] = "-";
        if (s->duration_ms >= 0)
            snprintf(dur, sizeof dur, "%lld ms", (long long)s->duration_ms);
        char note[600] = "";
        if (s->state == DSQL_MIGRATION_FAILED || s->state == DSQL_MIGRATION_REVERTING ||
            s->state == DSQL_MIGRATION_RUNNING)
            snprintf(note, sizeof note, "at statement %zu%s%s", s->step, *s->error ? ": " : "",
                     s->error);
        else if (s->state == DSQL_MIGRATION_CHANGED)
            snprintf(note, sizeof note, "its file changed after it was applied");
        printf("%-16s %-32s %-9s %-20s %10s  %s\n", s->version, s->name,
               dsql_migration_state_name(s->state), *s->applied_at ? s->applied_at : "-", dur,
               note);
        if (s->state == DSQL_MIGRATION_FAILED || s->state == DSQL_MIGRATION_CHANGED)
            rc = 1;
    }
    return rc;
}

/* Lints the parts up or down would run: 2 when a part cannot be read, 1 when up has
 * findings without --force (a dry run shows its plan anyway), else 0; *findings: how many. */
static int lint_gate(const opts *o, const cli_migset *set, const dsql_migration_status *st,
                     size_t nst, bool down, size_t *findings)
{
    bool lint_error = false;
    *findings = lint_parts(set, st, nst, o->to, down, &lint_error);
    if (lint_error)
        return 2;
    if (*findings && !o->force && !down && !o->dry_run) {
        cli_error("migrate",
                  "up: %zu finding%s of dsql lint in the migrations to apply (above): "
                  "Aurora DSQL would refuse them. Fix them, or apply anyway with "
                  "--force",
                  *findings, *findings == 1 ? "" : "s");
        return 1;
    }
    if (*findings)
        fprintf(stderr, "dsql migrate: %zu lint finding%s (above)%s\n", *findings,
                *findings == 1 ? "" : "s", o->force ? ": going on (--force)" : "");
    return 0;
}

/* up --dry-run: the plan of each migration up would apply, in order; *shown counts them. */
static int plan_up(const opts *o, const cli_migset *set, const dsql_migration_status *st,
                   size_t nst, size_t *shown)
{
    int rc = 0;
    for (size_t i = 0; i < set->n; i++) {
        const dsql_migration *m = &set->migs[i];
        const dsql_migration_status *s = NULL;
        for (size_t k = 0; k < nst; k++)
            if (!strcmp(st[k].version, m->version))
                s = &st[k];
        if (s && (s->state == DSQL_MIGRATION_APPLIED || s->state == DSQL_MIGRATION_CHANGED))
            continue;
        if (o->to && strtoull(m->version, NULL, 10) > strtoull(o->to, NULL, 10))
            break;
        size_t from = s && s->state == DSQL_MIGRATION_FAILED ? s->step - 1 : 0;
        rc |= print_plan(m, false, from);
        (*shown)++;
    }
    return rc;
}

/* down --dry-run: the plan of each migration down would revert, newest first; *shown
 * counts them. */
static int plan_down(const opts *o, const cli_migset *set, const dsql_migration_status *st,
                     size_t nst, size_t *shown)
{
    int rc = 0;
    for (size_t i = set->n; i-- > 0;) {
        const dsql_migration *m = &set->migs[i];
        bool applied = false;
        for (size_t k = 0; k < nst; k++)
            applied |= !strcmp(st[k].version, m->version) && st[k].state == DSQL_MIGRATION_APPLIED;
        if (!applied)
            continue;
        if (o->to && strtoull(m->version, NULL, 10) <= strtoull(o->to, NULL, 10))
            break;
        if (!m->n_down) {
            cli_error("migrate", "down: %s has no down part: it cannot be reverted", m->source);
            return 1;
        }
        rc |= print_plan(m, true, 0);
        (*shown)++;
        if (!o->to)
            break;
    }
    return rc;
}

/* --dry-run: the plans, nothing sent; findings: lint's, which up would refuse. */
static int dry_run(const opts *o, const cli_migset *set, const dsql_migration_status *st,
                   size_t nst, bool down, size_t findings)
{
    size_t shown = 0;
    int rc = down ? plan_down(o, set, st, nst, &shown) : plan_up(o, set, st, nst, &shown);
    if (!shown)
        printf("nothing to %s\n", down ? "revert" : "apply");
    printf("(dry run: nothing was sent)\n");
    if (findings && !o->force && !down) {
        cli_error("migrate",
                  "up: %zu finding%s of dsql lint in the migrations to apply "
                  "(above): up would refuse to run them without --force",
                  findings, findings == 1 ? "" : "s");
        rc = 1;
    }
    return rc;
}

/* Applies (up) or reverts (down) the migrations and says what was done. */
static int apply(const char *sub, bool down, dsql_conn *conn, const cli_migset *set,
                 const dsql_migrate_options *mo)
{
    dsql_error err = DSQL_ERROR_INIT;
    dsql_migrate_report rep;
    int r = down ? dsql_migrate_down(conn, set->migs, set->n, mo, &rep, &err)
                 : dsql_migrate_up(conn, set->migs, set->n, mo, &rep, &err);
    if (r) {
        cli_error("migrate", "%s: %s", sub, cli_err_text(err.message));
        if (rep.failed_step)
            fprintf(stderr,
                    "dsql migrate: %s is recorded as failed at statement %zu; fix it and run `dsql "
                    "migrate %s` again: it resumes there\n",
                    rep.failed_version, rep.failed_step, sub);
        return 1;
    }
    if (down)
        printf("dsql migrate: reverted %zu migration%s (%zu statement%s)\n", rep.applied,
               rep.applied == 1 ? "" : "s", rep.statements, rep.statements == 1 ? "" : "s");
    else
        printf("dsql migrate: applied %zu migration%s (%zu statements, %zu transactions, %llu rows "
               "changed), %zu already applied%s\n",
               rep.applied, rep.applied == 1 ? "" : "s", rep.statements, rep.transactions,
               (unsigned long long)rep.rows, rep.already,
               rep.resumed ? ", resumed a failed one" : "");
    return 0;
}

static int do_run(const char *sub, const opts *o, const cli_migset *set, dsql_conn *conn)
{
    dsql_migrate_options mo = DSQL_MIGRATE_OPTIONS_INIT;
    mo.table = o->table;
    mo.target = o->to;
    mo.wait_ms = o->wait_s * 1000;
    mo.lease_ms = o->lease_s * 1000;
    mo.on_progress = on_progress;
    dsql_error err = DSQL_ERROR_INIT;
    dsql_migration_status *st = NULL;
    size_t nst = 0;
    if (dsql_migrate_status(conn, set->migs, set->n, &mo, &st, &nst, &err)) {
        cli_error("migrate", "%s: %s", sub, cli_err_text(err.message));
        return 1;
    }
    bool status = !strcmp(sub, "status"), down = !strcmp(sub, "down");
    size_t findings = 0;
    int rc = status ? print_status(o, st, nst) : lint_gate(o, set, st, nst, down, &findings);
    if (!rc && !status && o->dry_run)
        rc = dry_run(o, set, st, nst, down, findings);
    dsql_migrate_status_free(st);
    if (rc || status || o->dry_run)
        return rc;
    return apply(sub, down, conn, set, &mo);
}

/* Returned by parse_options when the command goes on (not an exit status). */
enum { GO_ON = -1 };

/* The options after the subcommand (argv[0]): GO_ON, or the exit status when the command
 * ends here (--help, a bad option; flags->conninfo freed then). */
static int parse_options(int argc, char **argv, opts *o, cli_conn_flags *flags)
{
    enum { OPT_DIR = 2000, OPT_TO, OPT_DRY, OPT_FORCE, OPT_TABLE, OPT_WAIT, OPT_LEASE };
    static const struct option lopts[] = {{"dir", required_argument, NULL, OPT_DIR},
                                          {"to", required_argument, NULL, OPT_TO},
                                          {"dry-run", no_argument, NULL, OPT_DRY},
                                          {"force", no_argument, NULL, OPT_FORCE},
                                          {"table", required_argument, NULL, OPT_TABLE},
                                          {"wait", required_argument, NULL, OPT_WAIT},
                                          {"lease", required_argument, NULL, OPT_LEASE},
                                          {"help", no_argument, NULL, 'h'},
                                          CLI_CONN_LONG_OPTIONS,
                                          {0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
        int fr = cli_conn_flag(flags, c, optarg);
        if (fr < 0) {
            cli_error("migrate", "out of memory");
            return 2;
        }
        if (fr > 0)
            continue;
        switch (c) {
        case OPT_DIR:
            o->dir = optarg;
            break;
        case OPT_TO:
            o->to = optarg;
            break;
        case OPT_DRY:
            o->dry_run = true;
            break;
        case OPT_FORCE:
            o->force = true;
            break;
        case OPT_TABLE:
            o->table = optarg;
            break;
        case OPT_WAIT:
        case OPT_LEASE: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 86400) {
                cli_error("migrate",
                          "--%s must be a whole number of seconds from 1 to 86400, "
                          "not '%s'",
                          c == OPT_WAIT ? "wait" : "lease", optarg);
                free(flags->conninfo);
                return 2;
            }
            if (c == OPT_WAIT)
                o->wait_s = v;
            else
                o->lease_s = v;
            break;
        }
        case 'h':
            migrate_usage(stdout);
            free(flags->conninfo);
            return 0;
        default:
            cli_bad_option("migrate", c, argv);
            free(flags->conninfo);
            return 2;
        }
    }
    return GO_ON;
}

/* The options and arguments (nargs after the options) against the subcommand: 0, or 2
 * (printed). */
static int check_options(const char *sub, const opts *o, int nargs)
{
    bool create = !strcmp(sub, "create");
    if ((o->to || o->dry_run) && (create || !strcmp(sub, "status"))) {
        cli_error("migrate", "%s: --to and --dry-run are for up and down", sub);
        return 2;
    }
    if (o->force && strcmp(sub, "up")) {
        cli_error("migrate", "%s: --force is for up", sub);
        return 2;
    }
    if (o->to) {
        size_t n = strlen(o->to), k = strspn(o->to, "0123456789");
        if (!n || k != n || n > 32) {
            cli_error("migrate", "--to: '%s' is not a version (1 to 32 digits)", o->to);
            return 2;
        }
    }
    if (create ? nargs != 1 : nargs > 1) {
        cli_error("migrate",
                  create ? "create: give the migration's NAME"
                         : "%s: expected at most one CONNINFO argument",
                  sub);
        return 2;
    }
    return 0;
}

/* status, up or down: connects (flags, then conninfo, then the environment) and runs it.
 * Frees the flags. */
static int connect_and_run(const char *sub, const opts *o, const cli_migset *set,
                           cli_conn_flags *flags, const char *conninfo)
{
    dsql_config cfg = DSQL_CONFIG_INIT;
    dsql_conn *conn = NULL;
    dsql_error err = DSQL_ERROR_INIT;
    int rc;
    if (!cli_conn_config("migrate", flags, conninfo, &cfg)) {
        rc = 2;
    } else if ((rc = dsql_conn_open(&cfg, &conn, &err))) {
        cli_error("migrate", "%s: %s", sub, cli_err_text(err.message));
        rc = rc == DSQL_ECONFIG || rc == DSQL_EINVAL ? 2 : 1;
    } else {
        rc = do_run(sub, o, set, conn);
    }
    dsql_config_clear(&cfg);
    dsql_conn_close(conn);
    return rc;
}

int cmd_migrate(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        migrate_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "create") && strcmp(sub, "status") && strcmp(sub, "up") &&
        strcmp(sub, "down")) {
        cli_error("migrate", "unknown subcommand '%s' (create, status, up, down)", sub);
        return 2;
    }
    opts o = {.dir = "migrations", .wait_s = 600};
    cli_conn_flags flags = {0};
    argc--;
    argv++;
    int rc = parse_options(argc, argv, &o, &flags);
    if (rc != GO_ON)
        return rc;
    int nargs = argc - optind;
    if (check_options(sub, &o, nargs)) {
        free(flags.conninfo);
        return 2;
    }
    bool create = !strcmp(sub, "create");
    cli_migset set;
    if (!cli_migset_load(o.dir, create, &set)) {
        free(flags.conninfo);
        dsql_rules_thread_done();
        return 2;
    }
    dsql_error cerr = DSQL_ERROR_INIT;
    if (!create && dsql_migrations_check(set.migs, set.n, &cerr)) {
        /* a file the runner cannot take (BEGIN in it, a backfill that is not DML, ...):
         * before connecting */
        cli_error("migrate", "%s", cli_err_text(cerr.message));
        free(flags.conninfo);
        cli_migset_free(&set);
        dsql_rules_thread_done();
        return 2;
    }
    if (create) {
        free(flags.conninfo);
        rc = do_create(o.dir, argv[optind], &set);
    } else {
        rc = connect_and_run(sub, &o, &set, &flags, nargs ? argv[optind] : NULL);
    }
    cli_migset_free(&set);
    dsql_rules_thread_done();
    return rc;
}
