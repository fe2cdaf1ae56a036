#!/usr/bin/env bash
# The public libraries export the API and nothing else: every global symbol that libarith.so
# (nm -D) and libarith.a define is one of the ARITH_API functions arith.h declares, and arith.h
# compiles on its own as C17 and as C++.
# Usage: tests/api_exports.sh LIBARITH_SO LIBARITH_A ARITH_H C_COMPILER
set -u
SO=${1:?usage: api_exports.sh LIBARITH_SO LIBARITH_A ARITH_H C_COMPILER}
ARCHIVE=${2:?} HEADER=${3:?} CC=${4:?}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failed=0
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# Symbols a linker may define in a shared object: nobody's API, so not counted. None appear
# today (GNU ld and lld; gcc, clang and the ASan + UBSan build alike).
linker_made='^(_init|_fini|_edata|_end|__bss_start)$'

sed -n 's/^ARITH_API [^(]*[ *]\(arith_[a-z_0-9]*\)(.*/\1/p' "$HEADER" | sort -u > "$WORK/declared"
[ -s "$WORK/declared" ] || bad "no ARITH_API declaration found in $HEADER"

check_symbols() { # what file: its global defined symbols, one a line, on stdin
    grep -Ev "$linker_made" | sort -u > "$WORK/defined"
    local outside
    outside=$(grep -v '^arith_' "$WORK/defined")
    [ -z "$outside" ] || bad "$1 exports $(echo "$outside" | wc -l) symbols without the arith_ prefix: $(echo $outside | head -c 400)"
    local missing extra
    missing=$(comm -23 "$WORK/declared" "$WORK/defined")
    extra=$(comm -13 "$WORK/declared" "$WORK/defined")
    [ -z "$missing" ] || bad "$1 lacks what arith.h declares: $(echo $missing | head -c 400)"
    [ -z "$extra" ] || bad "$1 exports what arith.h does not declare: $(echo $extra | head -c 400)"
    echo "$1: $(wc -l < "$WORK/defined") global symbols, $(grep -vc '^arith_' "$WORK/defined") without the arith_ prefix"
}

check_symbols "$SO" < <(nm -D --defined-only "$SO" | awk 'NF == 3 {print $3}')
# in the archive: the global (upper-case type) defined symbols of its one member
check_symbols "$ARCHIVE" < <(nm -g --defined-only "$ARCHIVE" | awk 'NF == 3 {print $3}')

# the header alone, as C17 and as C++ (extern "C", no C-only constructs)
printf '#include <arith.h>\nint main(void) { return ARITH_OK; }\n' > "$WORK/use.c"
"$CC" -std=c17 -Wall -Wextra -Wpedantic -Werror -I"$(dirname "$HEADER")" -c "$WORK/use.c" \
    -o "$WORK/use_c.o" || bad "arith.h does not compile alone as C17"
if command -v c++ >/dev/null; then
    cp "$WORK/use.c" "$WORK/use.cpp"
    c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -I"$(dirname "$HEADER")" -c "$WORK/use.cpp" \
        -o "$WORK/use_cpp.o" || bad "arith.h does not compile as C++"
else
    echo "no C++ compiler (c++): arith.h not compiled as C++"
fi

echo "api_exports: $failed failed"
[ "$failed" -eq 0 ]
