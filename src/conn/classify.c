/* Error classification: SQLSTATEs to statuses, failed results and connects to dsql_error. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "conn/private.h"

bool dsql__is_occ_conflict(const char *sqlstate, const char *message)
{
    if (sqlstate && !strcmp(sqlstate, "40001"))
        return true;
    return message && (strstr(message, "OC000") || strstr(message, "OC001"));
}

int dsql__classify_sqlstate(const char *sqlstate, const char *message)
{
    if (dsql__is_occ_conflict(sqlstate, message))
        return DSQL_ECONFLICT;
    if (!sqlstate || strlen(sqlstate) != 5)
        return DSQL_ESERVER;
    /* Aurora DSQL's transient fault: XX000 is PostgreSQL's generic internal error, so only
     * with DSQL's message (as OC000/OC001 mark its conflicts). */
    if (!strcmp(sqlstate, "XX000") && message && strstr(message, "server unavailable"))
        return DSQL_EUNAVAILABLE;
    if (!strncmp(sqlstate, "23", 2))
        return DSQL_ECONSTRAINT;
    if (!strncmp(sqlstate, "54", 2))
        return DSQL_ELIMIT; /* 54000: DSQL's row, size and age quotas */
    if (!strcmp(sqlstate, "0A000"))
        return DSQL_EUNSUPPORTED;
    /* 08P01 (protocol violation, e.g. a statement given fewer parameters than it has $n)
     * comes from a live server about the statement: the connection is fine, and calling it
     * lost would retry the mistake or report a transaction's outcome as unknown. */
    if (!strcmp(sqlstate, "08P01"))
        return DSQL_ESERVER;
    if (!strncmp(sqlstate, "08", 2) || !strcmp(sqlstate, "57P01") || !strcmp(sqlstate, "57P02") ||
        !strcmp(sqlstate, "57P03"))
        return DSQL_ECONNLOST;
    if (!strncmp(sqlstate, "28", 2))
        return DSQL_EAUTH;
    if (!strcmp(sqlstate, "57014"))
        return DSQL_ETIMEOUT; /* statement_timeout / cancel */
    return DSQL_ESERVER;
}

void dsql__one_line(char *buf, size_t size, const char *msg)
{
    if (!size)
        return;
    snprintf(buf, size, "%s", msg ? msg : "");
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    /* libpq puts "\n" between the connection attempt and the server's message, and two
     * spaces after "FATAL:"; collapse runs of whitespace. */
    char *w = buf;
    bool space = false;
    for (char *r = buf; *r; r++) {
        char c = (*r == '\n' || *r == '\t' || *r == '\r') ? ' ' : *r;
        if (c == ' ') {
            if (space)
                continue;
            space = true;
        } else {
            space = false;
        }
        *w++ = c;
    }
    *w = '\0';
}

int dsql__error_from_pg(dsql_error *err, PGconn *pg, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    bool lost = pg && PQstatus(pg) != CONNECTION_OK;
    int status;
    if (lost && (!state || dsql__classify_sqlstate(state, primary) != DSQL_ECONFLICT))
        status = DSQL_ECONNLOST;
    else if (state || primary)
        status = dsql__classify_sqlstate(state, primary);
    else
        status = lost ? DSQL_ECONNLOST : DSQL_ESERVER;
    if (!err)
        return status;
    memset(err, 0, sizeof *err);
    err->status = status;
    if (state)
        snprintf(err->sqlstate, sizeof err->sqlstate, "%s", state);
    if (primary) {
        dsql__one_line(err->message, sizeof err->message, primary);
    } else {
        const char *m = res ? PQresultErrorMessage(res) : NULL;
        if (!m || !*m)
            m = pg ? PQerrorMessage(pg) : NULL;
        dsql__one_line(err->message, sizeof err->message, m && *m ? m : dsql_strerror(status));
    }
    if (status == DSQL_ECONNLOST && !strstr(err->message, "connection"))
        dsql__err_prefix(err, "connection lost");
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
    if (detail)
        dsql__one_line(err->detail, sizeof err->detail, detail);
    if (hint)
        dsql__one_line(err->hint, sizeof err->hint, hint);
    else if (status == DSQL_ELIMIT && strstr(err->message, "row limit"))
        snprintf(err->hint, sizeof err->hint,
                 "an Aurora DSQL transaction modifies at most 3,000 rows (rows deleted by ON "
                 "DELETE CASCADE count too); split the work into transactions of at most 3,000 "
                 "rows");
    return status;
}

/* Case-insensitive substring search. */
static bool contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == needle[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

/*
 * A failed connect has no SQLSTATE in libpq's API, only the server's message text, so
 * connect failures are told apart by the wording Aurora DSQL and PostgreSQL use.
 */
dsql__connect_failure dsql__classify_connect(const char *message)
{
    if (!message)
        return DSQL__CF_FATAL;
    if (contains(message, "signature expired"))
        return DSQL__CF_RESIGN;
    if (contains(message, "waking up") || contains(message, "rate exceeded") ||
        contains(message, "rate limit") || contains(message, "too many connections") ||
        contains(message, "too many clients") || contains(message, "53300") ||
        contains(message, "53400") || contains(message, "the database system is starting up") ||
        contains(message, "the database system is shutting down") ||
        contains(message, "the database system is in recovery mode"))
        return DSQL__CF_RETRY;
    if (contains(message, "connection refused"))
        return DSQL__CF_REFUSED;
    if (contains(message, "server unavailable"))
        return DSQL__CF_UNAVAILABLE;
    if (contains(message, "access denied"))
        return DSQL__CF_ACCESS_DENIED;
    return DSQL__CF_FATAL;
}
