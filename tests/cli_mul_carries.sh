#!/usr/bin/env bash
# tools/mul_carries.py (issue #14's products built to break a multiplier): its groups checked by
# the shell's own arithmetic (each product, and each product's largest column carry computed
# column by column here), its training mix against the run it comes from (the rows it keeps,
# the rows it draws: distinct, none a training or test prompt), arith training and evaluating
# on its CSVs, and its refusals.
# Usage: tests/cli_mul_carries.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: cli_mul_carries.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: cli_mul_carries.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"
TOOL=$SRC/tools/mul_carries.py
TINY=(--task mul --digits 1..4 --digits-b 2 --tokenizer char --reverse true --carries true
      --n 800 --layers 1 --d-model 16 --heads 2 --ffn 16 --samples 0 --threads 1 --eval-n 20)

# carry_of A B: the largest carry out of a column of A * B, the columns added as on paper
carry_of() {
    local a=$1 b=$2 la=${#1} lb=${#2} s j t carry=0 largest=0
    for ((s = 0; s < la + lb; s++)); do
        t=$carry
        for ((j = 0; j < lb && j <= s; j++)); do
            ((s - j < la)) && t=$((t + ${a:la - 1 - (s - j):1} * ${b:lb - 1 - j:1}))
        done
        carry=$((t / 10))
        ((carry > largest)) && largest=$carry
    done
    echo "$largest"
}

# --- groups: 2-digit b, so carries 0..17 in 0-9, 10-13 and one file each for 14..17
expect 0 "carry-17-17.csv: 6 products" -- python3 "$TOOL" groups --digits 1..4 --digits-b 2 --n 6 --out g
want="carry-0-9.csv carry-10-13.csv carry-14-14.csv carry-15-15.csv carry-16-16.csv carry-17-17.csv"
[ "$(cd g && ls | sort -V | tr '\n' ' ')" = "$want " ] && ok || bad "groups wrote $(ls g | tr '\n' ' ')"
for f in g/*.csv; do
    range=${f#g/carry-}; range=${range%.csv}; lo=${range%-*}; hi=${range#*-}
    rows=0 wrong=0
    while IFS=, read -r src tgt; do
        [ "$src" = src ] && continue
        a=${src%%\**} b=${src#*\*}; b=${b%=}
        [ "$((10#$a * 10#$b))" = "$tgt" ] || { wrong=$((wrong + 1)); echo "wrong product: $src$tgt" >&2; }
        [ ${#b} -eq 2 ] && [ ${#a} -ge 1 ] && [ ${#a} -le 4 ] || { wrong=$((wrong + 1)); echo "lengths: $src" >&2; }
        c=$(carry_of "$a" "$b")
        [ "$c" -ge "$lo" ] && [ "$c" -le "$hi" ] || { wrong=$((wrong + 1)); echo "$src carries $c, not $lo..$hi" >&2; }
        rows=$((rows + 1))
    done <"$f"
    [ "$rows" -eq 6 ] && [ "$wrong" -eq 0 ] && ok || bad "$f: $wrong of $rows rows wrong"
done
[ "$(sort -u g/*.csv | grep -vc '^src,tgt$')" -eq 36 ] && ok || bad "the groups repeat a product"

# --- mix: a tiny run's training set, its last half replaced, trained on and evaluated
expect 0 "" -- "$ARITH" train "${TINY[@]}" --steps 2 --run r
n=$(($(wc -l <r/train.csv) - 1))
expect 0 "drawn for carries" -- python3 "$TOOL" mix --run r --fraction 0.5 --seed 3 --out mix.csv
[ "$(($(wc -l <mix.csv) - 1))" -eq "$n" ] && ok || bad "mix.csv has $(wc -l <mix.csv) lines for $n rows"
keep=$((n - (n + 1) / 2))
cmp -s <(head -n $((keep + 1)) r/train.csv) <(head -n $((keep + 1)) mix.csv) && ok ||
    bad "mix.csv does not keep the first $keep training rows"
tail -n +$((keep + 2)) mix.csv | cut -d, -f1 >drawn.txt
[ "$(wc -l <drawn.txt)" -eq $((n - keep)) ] && ok || bad "mix.csv drew $(wc -l <drawn.txt) rows"
[ "$(sort -u drawn.txt | wc -l)" -eq $((n - keep)) ] && ok || bad "mix.csv draws a prompt twice"
[ -z "$(cut -d, -f1 r/train.csv r/test.csv | sort -u | comm -12 - <(sort -u drawn.txt))" ] && ok ||
    bad "mix.csv draws a prompt of the run's training or test set"
high=0
while IFS= read -r src; do
    a=${src%%\**} b=${src#*\*}; b=${b%=}
    [ "$(carry_of "$a" "$b")" -ge 14 ] && high=$((high + 1))
done < <(head -n 100 drawn.txt)
[ "$high" -ge 10 ] && ok || bad "only $high of 100 drawn products carry 14 or more"
expect 0 "" -- python3 "$TOOL" mix --run r --fraction 0.5 --seed 3 --out mix2.csv
cmp -s mix.csv mix2.csv && ok || bad "the same seed drew another mix"
expect 0 "" -- "$ARITH" train "${TINY[@]}" --steps 2 --train-csv mix.csv --test-csv r/test.csv --run rm
expect 0 "exact match [0-9.]+ \(([0-9]+)/6\)" -- "$ARITH" eval rm --csv g/carry-17-17.csv --threads 1

# --- groups apart from a training set: none of its prompts
expect 0 "carry-17-17.csv: 6 products" -- python3 "$TOOL" groups --digits 1..4 --digits-b 2 --n 6 --exclude g/carry-0-9.csv g/carry-17-17.csv --out g2
[ -z "$(cut -d, -f1 g/carry-0-9.csv g/carry-17-17.csv | grep -v '^src$' | sort -u | comm -12 - <(cut -d, -f1 g2/*.csv | sort -u))" ] && ok ||
    bad "--exclude kept an excluded prompt"

# --- refused, nothing written
expect 1 "r/nope/config.json" -- python3 "$TOOL" mix --run r/nope --out x.csv
"$ARITH" train --task add --digits 1..2 --n 200 --steps 1 --layers 1 --d-model 16 --heads 2 \
    --ffn 16 --samples 0 --threads 1 --eval-n 10 --run ra >/dev/null 2>&1
expect 1 "ra is a run of task 'add', not mul" -- python3 "$TOOL" mix --run ra --out x.csv
expect 1 "cannot write nodir/x.csv" -- python3 "$TOOL" mix --run r --out nodir/x.csv
[ ! -e x.csv ] && [ ! -e nodir ] && ok || bad "a refused mix left a file"
expect 2 "fraction must be in" -- python3 "$TOOL" mix --run r --fraction 0 --out x.csv
expect 2 "digits takes N or A..B" -- python3 "$TOOL" groups --digits x --out g3
expect 2 "" -- python3 "$TOOL" frobnicate

echo "cli_mul_carries: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
