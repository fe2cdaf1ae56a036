#!/usr/bin/env bash
# The carry-aware test set from the command line: a run saves it (carry.csv) and scores it at
# every evaluation (log, metrics.jsonl, per chain length), arith eval prints its table and its
# JSON, a run from before it gets one drawn, --carry-n 0 leaves it out, --carry-mix changes
# only the training data, arith data writes both, and the flags' bad values are refused.
# Usage: tests/cli_carry.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: cli_carry.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: cli_carry.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"
TINY=(--task add --digits 4 --n 1200 --steps 8 --layers 1 --d-model 16 --heads 2 --ffn 16
      --samples 0 --threads 1 --eval-n 50 --carry-n 20)

# The longest carry chain of "a+b=" (a carry starts where digits sum to 10 or more and ripples
# on through sums of exactly 9), by the shell's own arithmetic.
chain() {
    local s=${1%=} a b i da db sum carry=0 run=0 longest=0
    a=${s%%+*} b=${s#*+}
    for ((i = 0; i < ${#a} || i < ${#b}; i++)); do
        da=0 db=0
        ((i < ${#a})) && da=${a:${#a}-1-i:1}
        ((i < ${#b})) && db=${b:${#b}-1-i:1}
        sum=$((da + db))
        if ((sum >= 10)); then run=1; elif ((sum == 9 && carry)); then run=$((run + 1)); else run=0; fi
        carry=$(((sum + carry) >= 10))
        ((run > longest)) && longest=$run
    done
    echo "$longest"
}
[ "$(chain 1+999=)" = 3 ] && [ "$(chain 99+99=)" = 1 ] && [ "$(chain 12+34=)" = 0 ] && ok ||
    bad "the test's own chain count is wrong"

# --- a run: carry.csv holds 20 sums per chain length 0..4, right answers, none trained on
expect 0 "carry-heavy [01]\.[0-9]{4} \([0-9]+/100\), edge cases [0-9]+/1[0-9]" -- "$ARITH" train "${TINY[@]}" --run r1
[ -f r1/carry.csv ] && ok || bad "r1 has no carry.csv"
declare -A per=()
wrong=0 rows=0
while IFS=, read -r src tgt; do
    [ "$src" = src ] && continue
    a=${src%%+*} b=${src#*+}
    b=${b%=}
    [ "$((10#$a + 10#$b))" = "$tgt" ] || wrong=$((wrong + 1))
    c=$(chain "$src")
    per[$c]=$((${per[$c]:-0} + 1))
    rows=$((rows + 1))
done <r1/carry.csv
[ "$rows" -eq 100 ] && [ "$wrong" -eq 0 ] && ok || bad "carry.csv: $rows rows, $wrong wrong"
for c in 0 1 2 3 4; do
    [ "${per[$c]:-0}" -eq 20 ] && ok || bad "carry.csv: ${per[$c]:-0} sums of chain $c, want 20"
done
in_train=$(tail -n +2 r1/carry.csv | cut -d, -f1 | grep -cxFf <(tail -n +2 r1/train.csv | cut -d, -f1) || true)
[ "$in_train" -eq 0 ] && ok || bad "$in_train carry-heavy sums are also training sums"
grep -q '"carry_by_chain": \[[0-9.]*, [0-9.]*, [0-9.]*, [0-9.]*, [0-9.]*\]' r1/metrics.jsonl && ok ||
    bad "metrics.jsonl lacks carry_by_chain over chains 0..4"

# --- arith eval: the table per chain length, the JSON, and a run that predates carry.csv
expect 0 "carry-heavy sums: [01]\.[0-9]{4} \([0-9]+/100\) exact, by longest carry chain" -- "$ARITH" eval r1
out=$("$ARITH" eval r1)
[ "$(grep -cE '^ +[0-4] +20 +[01]\.[0-9]{4}$' <<<"$out")" -eq 5 ] && ok ||
    bad "arith eval's chain table is not 5 rows of 20: $out"
expect 0 '"carry": \{"accuracy": [01]\.[0-9]+, "correct": [0-9]+, "total": 100, "by_chain": \[\{"chain": 0, "n": 20' -- "$ARITH" eval r1 --json
"$ARITH" eval r1 --json >r1.json
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["carry"]
assert [r["chain"] for r in c["by_chain"]] == [0, 1, 2, 3, 4], c
assert sum(r["n"] for r in c["by_chain"]) == c["total"] == 100, c
' r1.json && ok || bad "arith eval --json is not JSON with 5 chain rows: $(cat r1.json)"
cp -r r1 old && rm old/carry.csv
expect 0 "carry-heavy sums: [01]\.[0-9]{4} \([0-9]+/100\)" -- "$ARITH" eval old
[ ! -e old/carry.csv ] && ok || bad "arith eval wrote into the run"

# --- --carry-n 0: no set, no line; --carry-mix 0: the random sums as drawn
expect 0 "" -- "$ARITH" train "${TINY[@]}" --carry-n 0 --carry-mix 0 --run r0
[ ! -e r0/carry.csv ] && ok || bad "--carry-n 0 wrote carry.csv"
out=$("$ARITH" eval r0)
! grep -q "carry-heavy" <<<"$out" && ok || bad "--carry-n 0 still scores carries"
expect 0 "" -- "$ARITH" train "${TINY[@]}" --carry-mix 0.5 --run r5
cmp -s r0/test.csv r5/test.csv && ok || bad "--carry-mix changed the test set"
same=$(comm -12 <(sort r0/train.csv) <(sort r5/train.csv) | wc -l)
[ "$same" -ge 530 ] && [ "$same" -le 560 ] && ok || bad "--carry-mix 0.5 kept $same of 1081 training rows"
# sums with chains of 3 or more, the same count as chain() in awk
long_chains() {
    awk -F, 'NR > 1 {
        split($1, op, /[+=]/); a = op[1]; b = op[2]; carry = 0; run = 0; longest = 0
        for (i = 0; i < length(a) || i < length(b); i++) {
            da = i < length(a) ? substr(a, length(a) - i, 1) + 0 : 0
            db = i < length(b) ? substr(b, length(b) - i, 1) + 0 : 0
            s = da + db
            run = s >= 10 ? 1 : (s == 9 && carry ? run + 1 : 0)
            carry = s + carry >= 10
            if (run > longest) longest = run
        }
        if (longest >= 3) n++
    } END { print n + 0 }' "$1"
}
[ "$(long_chains r1/carry.csv)" -eq 40 ] && ok || bad "awk's chain count disagrees with carry.csv"
long_r0=$(long_chains r0/train.csv) long_r5=$(long_chains r5/train.csv)
[ "$long_r0" -lt 20 ] && [ "$long_r5" -gt 150 ] && ok ||
    bad "chains of 3+: $long_r0 in random data, $long_r5 with --carry-mix 0.5"
grep -qE '"carry-mix":\s*0.5,' r5/config.json && ok || bad "config.json lacks carry-mix"

# --- arith data: the carry-aware set, and mixed sums
expect 0 "wrote 100 examples" -- "$ARITH" data --task add --digits 4 --carry-n 20 --out c.csv
cmp -s c.csv r1/carry.csv && ok || bad "arith data --carry-n 20 differs from r1's carry.csv"
expect 0 "wrote 200 examples" -- "$ARITH" data --task add --digits 4 --n 200 --carry-mix 0.5 --out m.csv

# --- refused
expect 2 "--carry-mix: 1.5 is out of range \(0..1\)" -- "$ARITH" train "${TINY[@]}" --carry-mix 1.5 --run bad1
expect 2 "--carry-n: '-3' is not|--carry-n: -3 is out of range" -- "$ARITH" train "${TINY[@]}" --carry-n -3 --run bad2
expect 2 "--carry-n: task mul has no carry chains \(tasks with them: add and sub\)" -- "$ARITH" data --task mul --digits 2 --carry-n 5
expect 2 "--carry-mix: task mul has no carry chains" -- "$ARITH" data --task mul --digits 2 --carry-mix 0.5
for r in bad1 bad2; do [ ! -e "$r" ] && ok || bad "refused run $r left a directory"; done

echo "cli_carry: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
