# shellcheck shell=bash disable=SC2034  # fail is read by the test that sources this
# The checks the CLI tests share (sourced, not run: tests/cli/test_*.sh are the tests).
# A test sources it, runs its checks, and ends with `exit $fail` (1 when any check failed).
fail=0

ok() { # name
    echo "ok   $1"
}

bad() { # name [output, printed indented]
    echo "FAIL $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/    /'
    fail=1
}

check() { # name, expected exit, grep -E pattern on stdout+stderr, command...
    local name=$1 want=$2 pat=$3
    shift 3
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$want" ] || ! grep -Eq -- "$pat" <<<"$out"; then
        bad "$name: exit $rc (want $want), output:" "$out"
    else
        ok "$name"
    fi
}

# The CLI tests talk to the plain PostgreSQL the PG* variables name (under make test, the
# one behind dsql-local). A test meant for the local DSQL endpoint (the CLUSTER_* variables
# of scripts/with-dsql-local.sh) sets DSQL_CLI_VIA_LOCAL=1 before sourcing this file.
if [ -z "${DSQL_CLI_VIA_LOCAL:-}" ]; then
    unset CLUSTER_ENDPOINT CLUSTER_REGION CLUSTER_USER REGION
fi
