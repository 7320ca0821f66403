#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL: starts it, exports its environment,
# runs the command, stops the server whatever happens, and exits with the command's
# status. LOCALPG_DIR chooses where the cluster lives.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ]; then
    echo "usage: with-localpg.sh COMMAND [ARGS...]" >&2
    exit 2
fi
cleanup() { "$here/localpg.sh" stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
"$here/localpg.sh" start
eval "$("$here/localpg.sh" env)"
set +e
"$@"
rc=$?
set -e
exit $rc
