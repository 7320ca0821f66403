#!/usr/bin/env bash
# What a new user does after `make install`: the installed tree has what the README says,
# and the README's hello.c builds with pkg-config and with CMake's find_package against the
# installed library (in a temporary prefix) and runs against the throwaway server.
set -uo pipefail
: "${DSQL_BINARY_DIR:?}" "${DSQL_SOURCE_DIR:?}" "${PGPORT:?run through make test}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

if ! out=$(cmake --install "$DSQL_BINARY_DIR" --prefix "$prefix" 2>&1); then
    bad "cmake --install" "$out"
    exit 1
fi
libdir=$(sed -n 's/^libdir=\${prefix}\///p' "$(find "$prefix" -name dsql.pc | head -1)")
for f in include/dsql/dsql.h include/dsql/version.h include/dsql/model.h "$libdir/libdsql.a" \
    "$libdir/libdsql.so" "$libdir/pkgconfig/dsql.pc" "$libdir/cmake/dsql/dsqlConfig.cmake" \
    bin/dsql share/man/man1/dsql.1; do
    [ -e "$prefix/$f" ] || bad "installed $f is missing"
done
soname=$(readelf -d "$prefix/$libdir/libdsql.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libdsql.so.0 ] && ok "SONAME libdsql.so.0" || bad "SONAME is '$soname'"
out=$("$prefix/bin/dsql" --version)
[ "$out" = "dsql 0.2.0" ] && ok "installed dsql runs" || bad "dsql --version" "$out"

# The README's program, exactly as printed there.
awk '/^```c$/ {inside = 1; buf = ""; next}
     /^```/ && inside {inside = 0; if (buf ~ /hello\.c:/) {printf "%s", buf; exit}}
     inside {buf = buf $0 "\n"}' "$DSQL_SOURCE_DIR/README.md" >"$tmp/hello.c"
[ -s "$tmp/hello.c" ] || { bad "no hello.c program found in README.md"; exit 1; }

# A sanitizer build's library needs the same runtime in the program that loads it.
san=$(sed -n 's/^DSQL_SANITIZE:STRING=//p' "$DSQL_BINARY_DIR/CMakeCache.txt")
sanflags=()
[ -n "$san" ] && sanflags=(-fsanitize="$san")
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
if ! out=$(cc -std=c11 -Wall -Wextra -Wpedantic -Werror "${sanflags[@]}" "$tmp/hello.c" \
    $(pkg-config --cflags --libs dsql) -Wl,-rpath,"$prefix/$libdir" -o "$tmp/hello" 2>&1); then
    bad "hello.c with pkg-config does not build" "$out"
else
    out=$("$tmp/hello" 2>&1)
    [ "$out" = "hello from $PGUSER" ] && ok "hello.c built with pkg-config runs" ||
        bad "hello (pkg-config) printed" "$out"
fi

mkdir -p "$tmp/cm"
cp "$tmp/hello.c" "$tmp/cm/"
cat >"$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(hello C)
find_package(dsql 0.2 REQUIRED)
add_executable(hello hello.c)
target_link_libraries(hello PRIVATE dsql::dsql)
add_executable(hello_static hello.c)
target_link_libraries(hello_static PRIVATE dsql::dsql_static)
CM
if ! out=$(cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_FLAGS="${sanflags[*]}" -DCMAKE_EXE_LINKER_FLAGS="${sanflags[*]}" 2>&1 &&
    cmake --build "$tmp/cm/build" 2>&1); then
    bad "hello.c with find_package(dsql) does not build" "$out"
else
    for exe in hello hello_static; do
        out=$("$tmp/cm/build/$exe" 2>&1)
        [ "$out" = "hello from $PGUSER" ] && ok "$exe built with find_package(dsql) runs" ||
            bad "$exe (CMake) printed" "$out"
    done
fi
exit $fail
