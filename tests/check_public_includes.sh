#!/usr/bin/env bash
# Fails when an integration test includes a private header: tests/integration tests the
# public contract, so its files (and the test helpers they include) may include
# <dsql/dsql.h> and the tests' own helpers, never a header of src/ nor a single public
# header in place of dsql/dsql.h. White-box tests that need the private headers live in
# tests/whitebox, unit tests in tests/unit.
#   check_public_includes.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: check_public_includes.sh SOURCE_DIR}
cd "$src"
shopt -s nullglob
files=(tests/integration/*.c tests/integration/*.h)
if [ ${#files[@]} -eq 0 ]; then
    echo "no integration test found under $src/tests/integration" >&2
    exit 1
fi
bad=0
checked=0
declare -A seen=()
# A file, then the test helpers it includes (found beside it or in tests/), once each.
queue=("${files[@]}")
while [ ${#queue[@]} -gt 0 ]; do
    f=${queue[0]}
    queue=("${queue[@]:1}")
    [ -n "${seen[$f]:-}" ] && continue
    seen[$f]=1
    checked=$((checked + 1))
    while IFS=: read -r line inc; do
        name=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"$inc")
        if [ "$name" = dsql/dsql.h ]; then
            continue
        elif [[ $name == dsql/* ]]; then
            echo "$f:$line: includes $name: integration tests include <dsql/dsql.h> only"
            bad=1
        fi
        # Where the compiler finds it: beside the including file, then tests/, then src/.
        found=
        for dir in "$(dirname "$f")" tests src; do
            if [ -e "$dir/$name" ]; then
                found=$(realpath --relative-to=. "$dir/$name")
                break
            fi
        done
        if [[ $found == src/* ]]; then
            echo "$f:$line: includes the private header $found (white-box tests belong in tests/whitebox)"
            bad=1
        elif [ -n "$found" ]; then
            queue+=("$found")
        fi
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$f" || true)
done
if [ $bad -ne 0 ]; then
    exit 1
fi
echo "ok: $checked integration test files and helpers include no private header"
