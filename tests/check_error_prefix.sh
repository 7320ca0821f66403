#!/usr/bin/env bash
# Fails when a public call that takes a dsql_error * does not leave through
# dsql__api_ret / dsql__api_ret_body with its own name: every message starts with the
# name of the call that returned it (docs/api.md, "Errors").
#   check_error_prefix.sh SOURCE_DIR
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: check_error_prefix.sh SOURCE_DIR" >&2
    exit 2
fi
root=$1
# Each declaration from DSQL_API up to its `;`, on one line.
names=$(awk '
/DSQL_API/ { decl = ""; indecl = 1 }
indecl { decl = decl " " $0; if ($0 ~ /;/) { indecl = 0; print decl } }
' "$root"/include/dsql/*.h |
    grep 'dsql_error \*' | grep -E 'DSQL_API +int ' |
    sed -E 's/.*DSQL_API +int +\(?(dsql_[a-z0-9_]+).*/\1/' | grep -vx 'dsql_error_set' | sort -u)
# The sources on one line, so a call split over lines by the formatter still matches.
flat=$(cat "$root"/src/*/*.c | tr '\n' ' ' | tr -s ' ')
checked=0
bad=0
for n in $names; do
    checked=$((checked + 1))
    if ! grep -qE "dsql__api_ret(_body)?\( ?\"$n\"," <<<"$flat"; then
        echo "$n: takes a dsql_error * but does not return through dsql__api_ret(\"$n\", ...)"
        bad=$((bad + 1))
    fi
done
if [ "$checked" -lt 50 ]; then
    echo "check_error_prefix.sh: found only $checked public calls taking a dsql_error; the scan is broken" >&2
    exit 1
fi
echo "$checked public calls checked, $bad without the call-name rule"
[ "$bad" -eq 0 ]
