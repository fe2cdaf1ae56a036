#!/usr/bin/env bash
# Task sub from the command line: its data checked by the shell's own arithmetic, its CSV rows,
# training, evaluation (edge cases, a grid) and answers in every digit format with the sign
# token, the combinations it refuses, and borrow chains (the carry-aware set, --carry-mix).
# Usage: tests/cli_sub.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: cli_sub.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: cli_sub.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"
TINY=(--task sub --digits 1..3 --tokenizer char --n 600 --steps 6 --layers 1 --d-model 16
      --heads 2 --ffn 16 --samples 1 --threads 1 --eval-n 50)

# read_rows CSV: every row a-b= checked by the shell's arithmetic; sets rows, wrong, negative
# and long12 (rows with a 12-digit operand)
read_rows() {
    rows=0 wrong=0 negative=0 long12=0
    while IFS=, read -r src tgt; do
        [ "$src" = src ] && continue
        a=${src%%-*} rest=${src#*-}
        b=${rest%=}
        [ "$((10#$a - 10#$b))" = "$tgt" ] || { wrong=$((wrong + 1)); echo "wrong: $src$tgt" >&2; }
        [ "${tgt:0:1}" = - ] && negative=$((negative + 1))
        { [ ${#a} -eq 12 ] || [ ${#b} -eq 12 ]; } && long12=$((long12 + 1))
        rows=$((rows + 1))
    done <"$1"
}

# --- data: every row a-b= with the right difference, about half of them negative
expect 0 "wrote 400 examples" -- "$ARITH" data --task sub --digits 1..12 --n 400 --seed 7 --out sub.csv
read_rows sub.csv
[ "$rows" -eq 400 ] && [ "$wrong" -eq 0 ] && ok || bad "sub.csv: $wrong of $rows rows wrong"
[ "$negative" -gt 120 ] && [ "$negative" -lt 280 ] && ok || bad "sub.csv: $negative of 400 negative"
expect 0 "^sub +a-b=" -- "$ARITH" tasks
expect 0 "a sign token before the answer" -- "$ARITH" tasks

# --- refused: another tokenizer, the spaced style, digit positions without a format, bad rows
expect 2 "--task sub needs --tokenizer char \(got --tokenizer pairs\)" -- "$ARITH" train --task sub --tokenizer pairs --run r1
expect 2 "--style spaced is seed 002's addition format; it needs --task add \(got --task sub\)" -- "$ARITH" train --task sub --style spaced --run r2
expect 2 "--pos abacus numbers the answer's digits.*digit format" -- "$ARITH" train "${TINY[@]}" --pos abacus --run r3
printf 'src,tgt\n12-345=,-333\n12-3=,--9\n' >bad_sub.csv
expect 1 "bad_sub.csv:3: .* is not a difference row" -- "$ARITH" train "${TINY[@]}" --train-csv bad_sub.csv --run r4
for r in r1 r2 r3 r4; do [ ! -e "$r" ] && ok || bad "refused run $r left a directory"; done

# --- plain characters ("-333"), and every format with the sign token, end to end
expect 0 "transformer on sub \(1\.\.3 digits\), tokenizer char \|" -- "$ARITH" train "${TINY[@]}" --run rp
expect 0 "" -- "$ARITH" predict rp "12-345="
expect 0 "tokenizer char \(reversed, zero-padded, index hints\).*pos coupling" -- "$ARITH" train "${TINY[@]}" --reverse --zero-pad --index-hints --pos coupling --pos-max 32 --context 200 --run rc
expect 0 "exact match [01]\.[0-9]+ \([0-9]+/60\)" -- "$ARITH" eval rc
expect 0 "edge cases: [0-9]+/1[0-9] exact" -- "$ARITH" eval rc
expect 0 "largest length at >= 0.99" -- "$ARITH" eval rc --grid 1..3 --grid-n 5
[ "$(wc -l <rc/grid-1-3.csv)" -eq 10 ] && ok || bad "grid-1-3.csv of a sub run is not 10 lines"
expect 0 "^-?[0-9?]*$" -- "$ARITH" predict rc "12-345"
expect 1 "\"12\+345=\": task sub reads two numbers with '-' between them and '=' after" -- "$ARITH" predict rc "12+345="
expect 1 "\"1-2-3=\": task sub reads two numbers with '-' between them" -- "$ARITH" predict rc "1-2-3="
expect 0 "pos abacus" -- "$ARITH" train "${TINY[@]}" --reverse --pos abacus --run ra
expect 0 "exact match" -- "$ARITH" eval ra --beam 2
expect 0 "final test exact match" -- "$ARITH" train "${TINY[@]}" --zero-pad --train-csv sub.csv --run rz

# --- borrow chains: the carry-aware set (chains 0..digits-1), right by the shell's arithmetic;
# --carry-mix and the carry-heavy score in a run
expect 0 "wrote 120 examples" -- "$ARITH" data --task sub --digits 1..12 --carry-n 10 --out borrow.csv
read_rows borrow.csv
[ "$rows" -eq 120 ] && [ "$wrong" -eq 0 ] && ok || bad "borrow.csv: $wrong of $rows rows wrong"
# the 10 chains of 11 columns need a 12-digit operand (100000000000-1)
[ "$long12" -ge 10 ] && ok || bad "borrow.csv: only $long12 rows with a 12-digit operand"
[ "$negative" -gt 20 ] && [ "$negative" -lt 100 ] && ok || bad "borrow.csv: $negative of 120 negative"
expect 2 "--carry-mix: 1.5 is out of range" -- "$ARITH" data --task sub --digits 3 --carry-mix 1.5
expect 0 "final test exact match: [01]\.[0-9]+ \([0-9]+/[0-9]+\), carry-heavy [01]\.[0-9]+ \([0-9]+/30\)" \
    -- "$ARITH" train "${TINY[@]}" --carry-mix 0.5 --carry-n 10 --run rb
[ "$(wc -l <rb/carry.csv)" -eq 31 ] && ok || bad "rb/carry.csv is not 31 lines"

echo "cli_sub: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
