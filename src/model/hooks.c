/* Hooks: the model's one hook function called around its writes. */
#include <stdio.h>

#include "model/internal.h"

static const char *event_name(dsql_hook_event e)
{
    static const char *const names[] = {
        [DSQL_HOOK_BEFORE_CREATE] = "before-create",
        [DSQL_HOOK_AFTER_CREATE] = "after-create",
        [DSQL_HOOK_BEFORE_SAVE] = "before-save",
        [DSQL_HOOK_AFTER_SAVE] = "after-save",
        [DSQL_HOOK_BEFORE_UPDATE] = "before-update",
        [DSQL_HOOK_AFTER_UPDATE] = "after-update",
        [DSQL_HOOK_BEFORE_UPSERT] = "before-upsert",
        [DSQL_HOOK_AFTER_UPSERT] = "after-upsert",
        [DSQL_HOOK_BEFORE_DESTROY] = "before-destroy",
        [DSQL_HOOK_AFTER_DESTROY] = "after-destroy",
        [DSQL_HOOK_BEFORE_BULK_CREATE] = "before-bulk-create",
        [DSQL_HOOK_AFTER_BULK_CREATE] = "after-bulk-create",
        [DSQL_HOOK_BEFORE_BULK_UPDATE] = "before-bulk-update",
        [DSQL_HOOK_AFTER_BULK_UPDATE] = "after-bulk-update",
        [DSQL_HOOK_BEFORE_BULK_DESTROY] = "before-bulk-destroy",
        [DSQL_HOOK_AFTER_BULK_DESTROY] = "after-bulk-destroy",
    };
    return (size_t)e < DSQL__ARRAY_LEN(names) && names[e] ? names[e] : "?";
}

bool dsql__hook_is_before(dsql_hook_event e)
{
    return e % 2 == 1;
}

int dsql__hook_call(const dsql_model *m, dsql_db *db, dsql_hook_event e, dsql_hook *h,
                    dsql_error *err)
{
    if (!m->hook)
        return DSQL_OK;
    char why[256] = "";
    h->event = e;
    h->model = m;
    h->db = db;
    h->ctx = m->hook_ctx;
    h->why = why;
    h->why_cap = sizeof why;
    int rc = m->hook(h);
    h->why = NULL;
    h->why_cap = 0;
    if (rc == 0 || !dsql__hook_is_before(e))
        return DSQL_OK;
    why[sizeof why - 1] = '\0';
    return dsql_error_set(err, DSQL_EVETO, "%s: the %s hook refused the call%s%s", m->name,
                          event_name(e), why[0] ? ": " : "", why);
}
