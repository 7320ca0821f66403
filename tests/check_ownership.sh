#!/usr/bin/env bash
# Fails when a public function that returns a pointer or fills one (a `**` out-parameter,
# or rows handed out through `void *row` / `void *rows`) has no ownership line in its doc
# comment: `Owns:`, `Borrows:` or `Free with:` (the vocabulary of docs/api.md).
#   check_ownership.sh include/dsql/*.h
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: check_ownership.sh HEADER..." >&2
    exit 2
fi
# One declaration at a time (DSQL_API up to its `;`), with the /** ... */ block above it.
# A comment covers the declarations that follow it up to the next comment or other code
# (a group such as the typed result getters shares one).
awk '
function flush_decl(   ret, params, name, needs) {
    ret = decl; sub(/\(.*/, "", ret)
    name = ret; sub(/.*[ *]/, "", name)
    params = decl; sub(/^[^(]*\(/, "", params)
    needs = (ret ~ /\*/) || (params ~ /\*\*/) || (params ~ /void \*rows?[,)]/)
    checked++
    if (needs && doc !~ /(Owns|Borrows|Free with):/) {
        printf "%s:%d: %s returns or fills a pointer but its comment has no Owns:/Borrows:/Free with: line\n", FILENAME, line, name
        bad++
    }
}
FNR == 1 { doc = ""; incomment = 0; indecl = 0 }
indecl {
    decl = decl " " $0
    if ($0 ~ /;/) { indecl = 0; flush_decl() }
    next
}
incomment {
    doc = doc " " $0
    if ($0 ~ /\*\//) incomment = 0
    next
}
/^[ \t]*\/\*\*/ {
    doc = $0
    if ($0 !~ /\*\//) incomment = 1
    next
}
/^DSQL_API/ {
    decl = $0; line = FNR
    if ($0 ~ /;/) flush_decl(); else indecl = 1
    next
}
/^[ \t]*$/ || /^DSQL_DEPRECATED/ || /^struct [a-z_]+;/ { next }
{ doc = "" }
END {
    if (checked == 0) { print "no DSQL_API declaration found" > "/dev/stderr"; exit 1 }
    if (bad) exit 1
    printf "ok: %d public functions, every one that returns or fills a pointer says who owns it\n", checked
}' "$@"
