#!/usr/bin/env bash
# Compiles every C snippet of README.md and docs/*.md against the library's headers, and
# checks that every dsql_* function a snippet calls is exported by the built library, so
# the docs cannot drift from the API.
#
# Fenced blocks, by their info string:
#   ```c            a complete program (it has a main), compiled alone
#   ```c prelude    file-scope code (types, models, callbacks) shared by the page's
#                   fragments, in page order
#   ```c fragment   statements, wrapped in a block of a function that provides `pool`
#                   (dsql_pool *), `conn` (dsql_conn *), `cfg` (dsql_config), `err`
#                   (dsql_error) and `die(&err)`; a fragment may declare its own of these
# A plain ```c block that is not a program fails: every snippet is compiled.
# Errors point at the Markdown file and line.
set -uo pipefail
src=${DSQL_SOURCE_DIR:?run through ctest}
bin=${DSQL_BINARY_DIR:?run through ctest}
cc=${CC:-cc}
flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Wpedantic -Werror
       -Wno-unused-variable -Wno-unused-function -Wno-unused-parameter
       -Wno-unused-but-set-variable -I"$src/include" -I"$bin/include" -fsyntax-only)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checked=0

lib=$bin/libdsql.so
exported=$tmp/exported
nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | sort -u >"$exported"
if [ ! -s "$exported" ]; then
    echo "FAIL: no exported symbols read from $lib"
    exit 1
fi

for doc in "$src"/README.md "$src"/docs/*.md; do
    name=${doc#"$src"/}
    rm -f "$tmp"/block_*
    # Split the page into numbered blocks: block_<n>.<kind> holding "#line" + the code.
    awk -v dir="$tmp" -v file="$name" '
        /^```c( |$)/ && !inside {
            inside = 1; n++; kind = $2 == "" ? "plain" : $2
            out = sprintf("%s/block_%03d.%s", dir, n, kind)
            printf "#line %d \"%s\"\n", NR + 1, file > out
            next
        }
        /^```/ && inside { inside = 0; close(out); next }
        inside { print > out }
    ' "$doc"
    programs=0 fragments=0 before=$fail
    unit=$tmp/page.c
    {
        echo '#include <stdbool.h>'
        echo '#include <stdint.h>'
        echo '#include <stdio.h>'
        echo '#include <stdlib.h>'
        echo '#include <string.h>'
        echo '#include <dsql/dsql.h>'
        echo 'static void die(const dsql_error *e) { fprintf(stderr, "%s\n", e->message); exit(1); }'
    } >"$unit"
    for b in "$tmp"/block_*; do
        [ -e "$b" ] || continue
        case $b in
        *.plain)
            if grep -Eq '(^|[^a-z_])main[[:space:]]*\(' "$b"; then
                if ! "$cc" "${flags[@]}" -x c "$b" 2>"$tmp/out"; then
                    bad "$name: program does not compile:" "$(cat "$tmp/out")"
                fi
                programs=$((programs + 1))
            else
                line=$(sed -n '1s/^#line \([0-9]*\).*/\1/p' "$b")
                bad "$name:$((line - 1)): a \`\`\`c block that is not a program: mark it \`\`\`c prelude or \`\`\`c fragment"
            fi
            ;;
        *.prelude)
            cat "$b" >>"$unit"
            ;;
        *.fragment)
            fragments=$((fragments + 1))
            {
                echo "static void snippet_$fragments(dsql_pool *pool, dsql_conn *conn)"
                echo '{'
                echo '    dsql_error err = DSQL_ERROR_INIT;'
                echo '    dsql_config cfg = DSQL_CONFIG_INIT;'
                echo '    (void)pool; (void)conn; (void)err; (void)cfg;'
                echo '    {'
                cat "$b"
                echo '    }'
                echo '}'
            } >>"$unit"
            ;;
        *)
            bad "$name: unknown block kind ${b##*.} (use c, c prelude or c fragment)"
            ;;
        esac
    done
    if [ $fragments -gt 0 ] || grep -q '^#line' "$unit"; then
        if ! "$cc" "${flags[@]}" -x c "$unit" 2>"$tmp/out"; then
            bad "$name: snippets do not compile:" "$(cat "$tmp/out")"
        fi
    fi
    # Every dsql_* function called in a snippet exists in the library.
    for b in "$tmp"/block_*; do
        [ -e "$b" ] || continue
        grep -v '^#line' "$b" | grep -oE '\bdsql_[a-z0-9_]+[[:space:]]*\(' | tr -d '( \t' | sort -u |
            while read -r fn; do
                grep -qx "$fn" "$exported" || echo "$fn"
            done
    done | sort -u >"$tmp/missing"
    if [ -s "$tmp/missing" ]; then
        bad "$name: calls functions the library does not export: $(tr '\n' ' ' <"$tmp/missing")"
    fi
    checked=$((checked + programs + fragments))
    [ "$fail" = "$before" ] && ok "$name: $programs programs, $fragments fragments compiled"
done

if [ $checked -eq 0 ]; then
    bad "no snippet was compiled (is docs/ empty?)"
fi
exit $fail
