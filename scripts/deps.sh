#!/usr/bin/env bash
# Check (and, when possible, install) the build and test dependencies of libdsql.
#
#   scripts/deps.sh          build + test dependencies
#   scripts/deps.sh bench    also the benchmark tooling (node, npm, gnuplot)
#   scripts/deps.sh format   also clang-format (make format)
#
# Fast path: when everything is present it prints one line and exits 0.
# When something is missing:
#   - as root with apt-get available: apt-get update + apt-get install, exit with apt's status;
#   - otherwise: prints "missing: <pkgs>" and the command to run on stderr, exit 1.
set -euo pipefail

usage() {
    echo "usage: $0 [bench|format]" >&2
    exit 2
}

want_bench=0
want_format=0
case "$#" in
    0) ;;
    1) case "$1" in
           bench) want_bench=1 ;;
           format) want_format=1 ;;
           *) usage ;;
       esac ;;
    *) usage ;;
esac

# Debian packages checked through dpkg.
pkgs=(cmake make gcc libpq-dev libssl-dev openssl uuid-dev
      libcmocka-dev libcurl4-openssl-dev libcjson-dev libpg-query-dev libprotobuf-c-dev jq)

missing=()

# Packages whose presence is checked by command or file rather than by package name.
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)     # pkg-config or pkgconf
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
have_cmd() {   # command in PATH or in an sbin directory (often absent from non-root PATHs)
    command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" || -x "/sbin/$1" ]]
}
# clang: the tests check that the whole tree compiles without warnings with clang too.
command -v clang >/dev/null 2>&1 || compgen -G '/usr/bin/clang-[0-9]*' >/dev/null || missing+=(clang)
have_cmd runuser || missing+=(util-linux)
have_cmd ss || missing+=(iproute2)
if (( want_format )); then
    command -v clang-format >/dev/null 2>&1 || missing+=(clang-format)
fi
if (( want_bench )); then
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    command -v gnuplot >/dev/null 2>&1 || missing+=(gnuplot-nox)
fi

# One dpkg-query call for all packages; unknown packages are simply absent from its output.
declare -A installed=()
while read -r name want ok state; do
    if [[ "$want $ok $state" == "install ok installed" || "$want $ok $state" == "hold ok installed" ]]; then
        installed[$name]=1
    fi
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${pkgs[@]}" 2>/dev/null || true)

for p in "${pkgs[@]}"; do
    [[ -n "${installed[$p]:-}" ]] || missing+=("$p")
done

if (( ${#missing[@]} == 0 )); then
    echo "deps: all present"
    exit 0
fi

if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing ${missing[*]}" >&2
    apt-get update || echo "deps: warning: apt-get update failed, trying the install anyway" >&2
    rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" || rc=$?
    exit "$rc"
fi

echo "missing: ${missing[*]}" >&2
echo "sudo apt-get install -y ${missing[*]}" >&2
exit 1
