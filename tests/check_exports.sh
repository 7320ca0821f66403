#!/usr/bin/env bash
# Fails when the shared library exports a symbol outside the dsql_ namespace, or an
# internal dsql__ one.
set -euo pipefail
lib=${1:?usage: check_exports.sh libdsql.so}
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWiu]$/ {print $3}' | sed 's/@.*//' | sort -u)
if [ -z "$syms" ]; then
    echo "no exported symbols found in $lib" >&2
    exit 1
fi
bad=$(printf '%s\n' "$syms" | grep -Ev '^dsql_' || true)
internal=$(printf '%s\n' "$syms" | grep -E '^dsql__' || true)
if [ -n "$bad$internal" ]; then
    echo "symbols exported outside the public dsql_ namespace:" >&2
    printf '  %s\n' $bad $internal >&2
    exit 1
fi
echo "ok: $(printf '%s\n' "$syms" | wc -l) exported symbols, all dsql_*"
