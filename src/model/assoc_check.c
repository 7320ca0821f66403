/* Association descriptors: keys exist on the right models, key types agree, members fit. */
#include <stdio.h>
#include <string.h>

#include "model/internal.h"

static const char *kind_name(dsql_assoc_kind k)
{
    switch (k) {
    case DSQL_ASSOC_BELONGS_TO:
        return "belongs-to";
    case DSQL_ASSOC_HAS_ONE:
        return "has-one";
    case DSQL_ASSOC_HAS_MANY:
        return "has-many";
    case DSQL_ASSOC_BELONGS_TO_MANY:
        return "belongs-to-many";
    }
    return "?";
}

/* Types that compare equal in SQL without a cast count as agreeing. */
static int type_family(dsql_type_id t)
{
    switch (t) {
    case DSQL_T_STRING:
    case DSQL_T_TEXT:
    case DSQL_T_CHAR:
        return DSQL_T_TEXT;
    case DSQL_T_SMALLINT:
    case DSQL_T_INTEGER:
    case DSQL_T_BIGINT:
        return DSQL_T_BIGINT;
    default:
        return (int)t;
    }
}

#define FAIL(...) return assoc_fail(a, err, __VA_ARGS__)

static int assoc_fail(const dsql_assoc *a, dsql_error *err, const char *fmt, ...) DSQL_PRINTF(3, 4);

static int assoc_fail(const dsql_assoc *a, dsql_error *err, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return dsql_error_set(err, DSQL_EINVAL, "association %s.%s (%s): %s",
                          a->source && a->source->name ? a->source->name : "?",
                          a->alias ? a->alias : "?", kind_name(a->kind), what);
}

/* The attribute named by name on m, or m's primary key when name is NULL. role names the
 * key in messages ("foreign key", "source key", ...). */
static int key_attr(const dsql_assoc *a, const dsql_model *m, const char *name, const char *role,
                    const char *field, const dsql_attr **out, dsql_error *err)
{
    if (!name) {
        *out = dsql__model_pk(m);
        if (!*out)
            FAIL("model %s has no primary key to use as %s; set %s", m->name, role, field);
        return DSQL_OK;
    }
    *out = dsql__model_attr(m, name);
    if (!*out) {
        char pv[DSQL__PREVIEW_MAX];
        FAIL("%s %s is not an attribute of model %s", role,
             dsql__preview(name, strlen(name), pv, sizeof pv), m->name);
    }
    return DSQL_OK;
}

static int agree(const dsql_assoc *a, const dsql_model *m1, const dsql_attr *k1,
                 const dsql_model *m2, const dsql_attr *k2, dsql_error *err)
{
    if (type_family(k1->type) == type_family(k2->type))
        return DSQL_OK;
    char t1[48], t2[48];
    FAIL("key types differ: %s.%s is %s, %s.%s is %s", m1->name, k1->name,
         dsql__type_name(k1, t1, sizeof t1), m2->name, k2->name,
         dsql__type_name(k2, t2, sizeof t2));
}

static bool overlaps(size_t o1, size_t n1, size_t o2, size_t n2)
{
    return o1 < o2 + n2 && o2 < o1 + n1;
}

/* The pointer member (and the count of a to-many one) lie inside the source struct and
 * clear of every attribute's member. */
static int check_members(const dsql_assoc *a, dsql_error *err)
{
    const dsql_model *s = a->source;
    bool many = dsql__assoc_to_many(a);
    if (a->member_offset > s->struct_size || s->struct_size - a->member_offset < sizeof(void *))
        FAIL("member offset %zu does not fit a pointer inside struct %s (%zu bytes)",
             a->member_offset, s->name, s->struct_size);
    if (many) {
        if (a->count_offset > s->struct_size || s->struct_size - a->count_offset < sizeof(size_t))
            FAIL("count offset %zu does not fit a size_t inside struct %s (%zu bytes)",
                 a->count_offset, s->name, s->struct_size);
        if (overlaps(a->member_offset, sizeof(void *), a->count_offset, sizeof(size_t)))
            FAIL("the array member and its count overlap (count member missing?)");
    }
    for (size_t i = 0; i < s->n_attrs; i++) {
        const dsql_attr *at = &s->attrs[i];
        if (overlaps(a->member_offset, sizeof(void *), at->offset, at->size) ||
            (many && overlaps(a->count_offset, sizeof(size_t), at->offset, at->size)))
            FAIL("member overlaps attribute %s.%s", s->name, at->name);
    }
    if (a->through_member) {
        const dsql_model *t = a->target;
        size_t off = a->through_member - 1;
        if (a->kind != DSQL_ASSOC_BELONGS_TO_MANY)
            FAIL("a through member belongs to a belongs-to-many association");
        if (off > t->struct_size || t->struct_size - off < sizeof(void *))
            FAIL("through member offset %zu does not fit a pointer inside struct %s (%zu "
                 "bytes)",
                 off, t->name, t->struct_size);
        for (size_t i = 0; i < t->n_attrs; i++)
            if (overlaps(off, sizeof(void *), t->attrs[i].offset, t->attrs[i].size))
                FAIL("through member overlaps attribute %s.%s", t->name, t->attrs[i].name);
    }
    return DSQL_OK;
}

int dsql__assoc_resolve(const dsql_assoc *a, dsql__assoc_keys *keys, dsql_error *err)
{
    dsql__assoc_keys k = {0};
    int rc;
    if (!a)
        return dsql_error_set(err, DSQL_EINVAL, "association is NULL");
    if (a->magic != DSQL_ASSOC_MAGIC)
        return dsql_error_set(err, DSQL_EINVAL,
                              "not an association descriptor (bad magic; "
                              "declare it with DSQL_HAS_MANY, ...)");
    if (a->kind < DSQL_ASSOC_BELONGS_TO || a->kind > DSQL_ASSOC_BELONGS_TO_MANY)
        FAIL("unknown kind %d", (int)a->kind);
    if (!a->alias || !*a->alias)
        FAIL("no alias");
    if ((rc = dsql__model_check(a->source, err)) || (rc = dsql__model_check(a->target, err))) {
        dsql__err_prefix(err, "association %s", a->alias);
        return rc;
    }
    if (!a->foreign_key)
        FAIL("no foreign key");
    switch (a->kind) {
    case DSQL_ASSOC_BELONGS_TO:
        if ((rc = key_attr(a, a->source, a->foreign_key, "foreign key", ".foreign_key",
                           &k.foreign_key, err)) ||
            (rc = key_attr(a, a->target, a->target_key, "target key", ".target_key", &k.target_key,
                           err)) ||
            (rc = agree(a, a->source, k.foreign_key, a->target, k.target_key, err)))
            return rc;
        break;
    case DSQL_ASSOC_HAS_ONE:
    case DSQL_ASSOC_HAS_MANY:
        if ((rc = key_attr(a, a->target, a->foreign_key, "foreign key", ".foreign_key",
                           &k.foreign_key, err)) ||
            (rc = key_attr(a, a->source, a->source_key, "source key", ".source_key", &k.source_key,
                           err)) ||
            (rc = agree(a, a->target, k.foreign_key, a->source, k.source_key, err)))
            return rc;
        break;
    case DSQL_ASSOC_BELONGS_TO_MANY:
        if (!a->through)
            FAIL("no through model");
        if ((rc = dsql__model_check(a->through, err))) {
            dsql__err_prefix(err, "association %s: through", a->alias);
            return rc;
        }
        if (!a->other_key)
            FAIL("no other key (the through model's attribute naming the target)");
        if ((rc = key_attr(a, a->through, a->foreign_key, "foreign key", ".foreign_key",
                           &k.foreign_key, err)) ||
            (rc = key_attr(a, a->through, a->other_key, "other key", ".other_key", &k.other_key,
                           err)) ||
            (rc = key_attr(a, a->source, a->source_key, "source key", ".source_key", &k.source_key,
                           err)) ||
            (rc = key_attr(a, a->target, a->target_key, "target key", ".target_key", &k.target_key,
                           err)) ||
            (rc = agree(a, a->through, k.foreign_key, a->source, k.source_key, err)) ||
            (rc = agree(a, a->through, k.other_key, a->target, k.target_key, err)))
            return rc;
        if (k.foreign_key == k.other_key)
            FAIL("foreign key and other key are the same attribute");
        break;
    }
    if ((rc = check_members(a, err)))
        return rc;
    if (keys)
        *keys = k;
    return DSQL_OK;
}

int dsql_assoc_check(const dsql_assoc *a, dsql_error *err)
{
    return dsql__api_ret("dsql_assoc_check", dsql__assoc_resolve(a, NULL, err), err);
}
