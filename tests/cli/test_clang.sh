#!/usr/bin/env bash
# Zero warnings with clang too: every C file of the build (library, CLI, examples, bench,
# tests) is compiled by clang with exactly the flags the build gives gcc (-Werror
# included), from the build's compile_commands.json. Syntax and semantic analysis only
# (-fsyntax-only), so it is quick and writes nothing.
set -uo pipefail
: "${DSQL_BINARY_DIR:?run through ctest}"
db=$DSQL_BINARY_DIR/compile_commands.json
clang=$(command -v clang || ls /usr/bin/clang-[0-9]* 2>/dev/null | sort -V | tail -1)
if [ -z "$clang" ]; then
    echo "FAIL: clang is not installed (scripts/deps.sh installs it)"
    exit 1
fi
[ -s "$db" ] || { echo "FAIL: $db is missing"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# One command per file; run them two at a time.
sed -n 's/^  "command": "\(.*\)",$/\1/p' "$db" | sed 's/\\"/"/g' |
    sed -E "s#^[^ ]+ #$clang #; s# -o [^ ]+ -c # -fsyntax-only #" >"$tmp/cmds"
n=$(wc -l <"$tmp/cmds")
[ "$n" -gt 0 ] || { echo "FAIL: no compile commands in $db"; exit 1; }
(cd "$DSQL_BINARY_DIR" && xargs -d '\n' -P 2 -I{} sh -c '{} 2>&1' <"$tmp/cmds") >"$tmp/out"
if [ -s "$tmp/out" ]; then
    echo "FAIL: clang reports:"
    sed 's/^/    /' "$tmp/out" | head -60
    exit 1
fi
echo "ok   $n files compile cleanly with $($clang --version | head -1)"
