#!/usr/bin/env bash
# The modules' dependency table in docs/ARCHITECTURE.md, checked against the code: every
# `#include "M/..."` in src/X/ must name X itself or a module that X's row lists under
# "depends on". An arrow the table does not have fails, naming the file and the include.
# Usage: tests/layering.sh SOURCE_DIR
set -u
SRC=${1:?usage: layering.sh SOURCE_DIR}
cd "$SRC" || exit 1
modules=$(ls -d src/*/ | xargs -n1 basename | tr '\n' ' ')
failed=0
checked=0
for m in $modules; do
    # the table row of module m: | `m/` | header | holds | depends on |
    row=$(grep -E "^\| \`$m/\` \|" docs/ARCHITECTURE.md | head -n 1)
    if [ -z "$row" ]; then
        echo "FAIL: src/$m/ has no row in docs/ARCHITECTURE.md's module table" >&2
        failed=$((failed + 1))
        continue
    fi
    deps=$(echo "$row" | awk -F'|' '{print $(NF-1)}')
    allowed=" $m "
    if echo "$deps" | grep -qiE '^ *everything *$'; then
        allowed=" $modules "
    else
        for d in $modules; do
            echo "$deps" | grep -qE "(^|[^a-z])$d([^a-z]|$)" && allowed="$allowed$d "
        done
    fi
    while IFS=: read -r file line text; do
        dep=$(echo "$text" | sed -E 's/.*#include "([a-z_]+)\/.*/\1/')
        checked=$((checked + 1))
        case "$allowed" in
            *" $dep "*) ;;
            *) echo "FAIL: $file:$line includes $dep/ but docs/ARCHITECTURE.md says $m/ depends on:$deps" >&2
               failed=$((failed + 1)) ;;
        esac
    done < <(grep -rnE '#include "[a-z_]+/' "src/$m")
done
echo "layering: $((checked - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
