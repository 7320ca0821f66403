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

# The pet-clinic example's output, each (version 4) UUID shown as <uuid>: the sample's lines.
petclinic_uuid='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
petclinic_expect='Pet1 ID: <uuid>, Name: Pet1, Birth date: 2006-10-25, Owner ID: <uuid>
John ID: <uuid>, Name: John Doe, City: Anytown, Telephone: null
Akua Mansa ID: <uuid>, Name: Akua Mansa, Specialties: [Exotic]
Carlos Salazar ID: <uuid>, Name: Carlos Salazar, Specialties: [Cats, Dogs]
Exotic ID: Exotic
Cats ID: Cats
Dogs ID: Dogs'

petclinic_output_ok() { # output: true when it is the sample's lines, UUIDs aside
    [ "$(sed -E "s/$petclinic_uuid/<uuid>/g" <<<"$1")" = "$petclinic_expect" ]
}
