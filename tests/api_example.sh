#!/usr/bin/env bash
# examples/predict, linked with libarith.so and with libarith.a, answers as `arith predict`
# does, from arguments and from stdin, and fails with the library's message.
# Usage: tests/api_example.sh ARITH PREDICT PREDICT_STATIC
set -u
ARITH=${1:?usage: api_example.sh ARITH PREDICT PREDICT_STATIC}
PREDICT=${2:?} PREDICT_STATIC=${3:?}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
failed=0
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

"$ARITH" train --task add --digits 1..2 --n 1000 --layers 1 --d-model 32 --heads 4 --ffn 64 \
    --steps 60 --batch 32 --eval-n 50 --samples 0 --threads 1 --run run >/dev/null 2>&1 \
    || bad "arith train failed"
prompts=("12+34=" "7+5=" "99+1" "0+0=")
want=$("$ARITH" predict run "${prompts[@]}")
for exe in "$PREDICT" "$PREDICT_STATIC"; do
    got=$("$exe" run "${prompts[@]}") || bad "$exe exited $?"
    [ "$got" = "$want" ] || bad "$exe answers '$got', arith predict '$want'"
    got=$(printf '%s\n' "${prompts[@]}" | "$exe" run) || bad "$exe (stdin) exited $?"
    [ "$got" = "$want" ] || bad "$exe (stdin) answers '$got', arith predict '$want'"
    out=$("$exe" no-such-run "1+1=" 2>&1)
    rc=$?
    [ "$rc" -eq 1 ] && [ "$out" = "predict: no-such-run: no such run directory" ] \
        || bad "$exe on a missing run: exit $rc, '$out'"
    out=$("$exe" run "1x+2=" 2>&1)
    rc=$?
    [ "$rc" -eq 1 ] && grep -q "character 'x' at position 2" <<<"$out" \
        || bad "$exe on a bad prompt: exit $rc, '$out'"
done
ldd "$PREDICT_STATIC" | grep -q libarith && bad "$PREDICT_STATIC loads a shared libarith"

echo "api_example: $failed failed"
[ "$failed" -eq 0 ]
