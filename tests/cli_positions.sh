#!/usr/bin/env bash
# Length generalization from the command line: the digit formats (--reverse, --zero-pad,
# --index-hints) and the data-given positions (--pos abacus, coupling, coupling-rel; --rand-pos) train,
# evaluate and answer end to end; combinations that cannot work are refused with the flags
# named, exit 2, and no run directory left behind.
# Usage: tests/cli_positions.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: cli_positions.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: cli_positions.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"
TINY=(--task add --digits 1..3 --tokenizer char --n 600 --steps 6 --layers 1 --d-model 16
      --heads 2 --ffn 16 --samples 1 --threads 1 --eval-n 50)

# --- refused combinations: exit 2, flags named, nothing left behind
expect 2 "--pos coupling \(or coupling-rel\) numbers the answer's digits by significance.*--reverse" -- "$ARITH" train "${TINY[@]}" --pos coupling --run r1
expect 2 "--pos abacus numbers the digits of add, xor(, | and )mul.* \(got --task expr\)" -- "$ARITH" train --task expr --tokenizer char --pos abacus --run r2
expect 2 "formats of the char tokenizer \(got --tokenizer pairs\)" -- "$ARITH" train --task add --tokenizer pairs --reverse --run r3
expect 2 "--rand-pos draws positions for sinusoidal, learned and rope \(got --pos alibi\)" -- "$ARITH" train "${TINY[@]}" --pos alibi --rand-pos --run r4
expect 2 "--pos abacus is a scheme of --model transformer \(got --model lstm\)" -- "$ARITH" train "${TINY[@]}" --model lstm --pos abacus --run r5
expect 2 "format the operands of add, xor(, | and )mul.* \(got --task count\)" -- "$ARITH" train --task count --tokenizer char --zero-pad --run r6
expect 2 "--pos-offset: -2 is out of range" -- "$ARITH" train "${TINY[@]}" --pos-offset -2 --run r7
expect 2 "--hint-offset 50 offsets index hints: add --index-hints" -- "$ARITH" train "${TINY[@]}" --reverse --hint-offset 50 --run r8
expect 2 "--hint-offset: 200 is out of range" -- "$ARITH" train "${TINY[@]}" --reverse --index-hints --hint-offset 200 --run r9
for r in r1 r2 r3 r4 r5 r6 r7 r8 r9; do [ ! -e "$r" ] && ok || bad "refused run $r left a directory"; done

# --- every format with each data-given scheme trains, evaluates and answers
expect 0 "tokenizer char \(reversed, zero-padded, index hints\).*pos coupling" -- "$ARITH" train "${TINY[@]}" --reverse --zero-pad --index-hints --pos coupling --pos-max 32 --context 200 --run rc
expect 0 "exact match [01]\.[0-9]+ \([0-9]+/60\)" -- "$ARITH" eval rc
expect 0 "^[0-9?]+$" -- "$ARITH" predict rc "12+345="
# grids and edge cases encode their problems in the run's format too
expect 0 "largest length at >= 0.99" -- "$ARITH" eval rc --grid 1..4 --grid-n 5
[ "$(wc -l <rc/grid-1-4.csv)" -eq 17 ] && ok || bad "grid-1-4.csv of a formatted run is not 17 lines"
expect 0 "edge cases: [0-9]+/1[0-9] exact" -- "$ARITH" eval rc
grep -qE '"pos-max":[[:space:]]*32' rc/config.json && ok || bad "--pos-max is not in the run's config"
expect 0 "pos coupling-rel" -- "$ARITH" train "${TINY[@]}" --reverse --zero-pad --pos coupling-rel --run rl
expect 0 "exact match" -- "$ARITH" eval rl --beam 2
expect 0 "^[0-9?]+$" -- "$ARITH" predict rl "12+345="
expect 0 "pos coupling-local" -- "$ARITH" train "${TINY[@]}" --reverse --pos coupling-local --context 200 --run rw
expect 0 "exact match" -- "$ARITH" eval rw --grid 1..4 --grid-n 5
# coupling-anchor: the window plus ids 1..3 from anywhere; its ids are never offset
expect 0 "pos coupling-anchor" -- "$ARITH" train --task mul --digits 1..3 --digits-b 1 --tokenizer char --reverse --pos coupling-anchor --context 40 --n 300 --steps 4 --layers 1 --d-model 16 --heads 2 --ffn 16 --samples 0 --threads 1 --run ran
expect 0 "x lb 1\.\.1" -- "$ARITH" eval ran --grid 1..6 --grid-b 1 --grid-n 3
expect 2 "--pos coupling-anchor reads ids 1\.\.3 as the operands' lowest digits.*--pos-offset 0 \(got 4\)" -- "$ARITH" train --task mul --tokenizer char --reverse --pos coupling-anchor --pos-offset 4 --run ran2
[ ! -e ran2 ] && ok || bad "a refused --pos-offset left a run directory"
# hints offset in training: the header says so, the config keeps it, evaluation reads h1.. as written
expect 0 "\(reversed, index hints offset in training\).*pos fire" -- "$ARITH" train "${TINY[@]}" --reverse --index-hints --hint-offset 150 --pos fire --context 200 --run rh
grep -qE '"hint-offset":[[:space:]]*150' rh/config.json && ok || bad "--hint-offset is not in the run's config"
expect 0 "largest length at >= 0.99" -- "$ARITH" eval rh --grid 1..4 --grid-n 5
expect 0 "pos abacus" -- "$ARITH" train "${TINY[@]}" --reverse --pos abacus --run ra
expect 0 "exact match" -- "$ARITH" eval ra --beam 2
expect 0 "\(random positions\)" -- "$ARITH" train "${TINY[@]}" --pos learned --rand-pos --pos-max 64 --run rr
expect 0 "exact match" -- "$ARITH" eval rr
expect 0 "transformer on mul" -- "$ARITH" train --task mul --digits 1..2 --tokenizer char --zero-pad --pos coupling --n 300 --steps 4 --layers 1 --d-model 16 --heads 2 --ffn 16 --samples 1 --threads 1 --run rm
expect 0 "^[0-9?]+$" -- "$ARITH" predict rm "12*34="
# the scratchpad: partial products and running sums before the product; predict prints the
# product, and the steps on request (each a number, 3 of them for a 2-digit b); refused where
# positions number the answer's digits, by tasks without one, and by predict on a run without
expect 0 "\(reversed, zero-padded, scratchpad\)" -- "$ARITH" train --task mul --digits 1..2 --tokenizer char --reverse --zero-pad --scratchpad --pos rope --n 300 --steps 4 --layers 1 --d-model 16 --heads 2 --ffn 16 --samples 1 --threads 1 --run rs
expect 0 "^[0-9?]+$" -- "$ARITH" predict rs "12*34="
expect 0 "^[0-9? ]+$" -- "$ARITH" predict rs "12*34=" --scratchpad
plain=$("$ARITH" predict rs "12*34=" 2>&1)
steps=$("$ARITH" predict rs "12*34=" --scratchpad 2>&1)
if [ "${steps##* }" = "$plain" ]; then ok; else bad "predict --scratchpad '$steps' does not end in the answer '$plain'"; fi
expect 2 "--scratchpad writes the intermediate results of mul \(got --task add\)" -- "$ARITH" train --task add --tokenizer char --scratchpad --run rs2
expect 2 "--pos coupling .*--scratchpad comes before it" -- "$ARITH" train --task mul --tokenizer char --reverse --scratchpad --pos coupling --run rs3
expect 2 "--scratchpad: rm was trained without a scratchpad or carries" -- "$ARITH" predict rm "12*34=" --scratchpad
# carries: each product digit followed by its column's carry; predict prints the product, and
# the carries on request; refused by tasks without them and for answers written most
# significant digit first
expect 0 "\(reversed, carries\)" -- "$ARITH" train --task mul --digits 1..3 --digits-b 1..2 --tokenizer char --reverse --carries --pos coupling-anchor --n 300 --steps 4 --layers 1 --d-model 16 --heads 2 --ffn 16 --samples 1 --threads 1 --run rk
expect 0 "^[0-9?]+$" -- "$ARITH" predict rk "123*45="
expect 0 "^[0-9?]+( carries [-0-9,]+)?$" -- "$ARITH" predict rk "123*45=" --scratchpad
expect 2 "--carries writes the column carries of add and mul \(got --task sub\)" -- "$ARITH" train --task sub --tokenizer char --reverse --carries --run rk2
expect 2 "--carries .*add --reverse" -- "$ARITH" train --task mul --tokenizer char --zero-pad --carries --run rk3
[ ! -e rk2 ] && [ ! -e rk3 ] && ok || bad "a refused --carries left a run directory"
# a prompt the format cannot read is an error naming it
expect 1 "\"1\+2\+3=\": task add reads two numbers with '\+' between them" -- "$ARITH" predict rc "1+2+3="
# a prompt longer than the ids the table has is refused, not read past its end
expect 1 "position id 32 is outside the model's 0\.\.31 \(--pos-max\)" -- "$ARITH" predict rc "123456789012345678901234567890123+1="

echo "cli_positions: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
