#!/usr/bin/env bash
# arith predict from a pipe (#16): every good line is answered, a bad line gets an error naming
# it on stderr and an empty line (or a JSON error object) in its place, so answers stay in step
# with prompts, and the exit code is 1 at the end; answers are the ones each prompt gets alone;
# --tsv and --json echo the prompt; a prompt in another style or a formatted one is refused
# with what the run reads; a program can ask one prompt at a time (answers are flushed as
# prompts arrive).
# Usage: tests/cli_predict.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: cli_predict.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: cli_predict.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"

SMALL=(--n 600 --layers 1 --d-model 16 --heads 2 --ffn 16 --batch 32 --eval-n 20 --samples 0
       --threads 1 --steps 10 --carry-n 2)
# the main job's format (pairs, reversed zero-padded answers), and seed 002's spaced prompts
"$ARITH" train "${SMALL[@]}" --digits 2 --run plain >/dev/null 2>&1 || bad "training plain"
"$ARITH" train "${SMALL[@]}" --digits 2 --tokenizer char --style spaced --run spaced \
    >/dev/null 2>&1 || bad "training spaced"

# --- a pipe with bad lines: every line answered in its place, errors named, exit 1
printf '1+2=\n12 + 34\n\n40+2\n1x+2=\n012+3=\n123+4=\n99+99=' >in.txt
"$ARITH" predict plain <in.txt >out.txt 2>err.txt
rc=$?
[ "$rc" -eq 1 ] && ok || bad "predict with bad lines exited $rc, not 1"
[ "$(wc -l <out.txt)" -eq 8 ] && ok || bad "8 prompts, $(wc -l <out.txt) lines: $(cat out.txt)"
for i in 2 3 5 6 7; do
    [ -z "$(sed -n "${i}p" out.txt)" ] && ok || bad "line $i is not empty: $(cat out.txt)"
done
for i in 1 4 8; do
    want=$("$ARITH" predict plain "$(sed -n "${i}p" in.txt)")
    [ -n "$want" ] && [ "$(sed -n "${i}p" out.txt)" = "$want" ] && ok \
        || bad "line $i: '$(sed -n "${i}p" out.txt)', alone '$want'"
done
grep -q "^arith: error: stdin:2: \"12 + 34\": task add reads two numbers with '+' between them" \
    err.txt && ok || bad "stdin:2's error: $(cat err.txt)"
grep -q "^arith: error: stdin:5: \"1x+2=\"" err.txt && ok || bad "stdin:5's error: $(cat err.txt)"
grep -q "^arith: error: stdin:6: \"012+3=\": operand \"012\" has a leading zero" err.txt && ok \
    || bad "stdin:6's error: $(cat err.txt)"
grep -q "^arith: error: stdin:7: \"123+4=\": an operand has 3 digits, more than the tokenizer's 2" \
    err.txt && ok || bad "stdin:7's error: $(cat err.txt)"
grep -q "stdin:3" err.txt && bad "a blank line is an error: $(cat err.txt)" || ok
[ "$(grep -c '^hint: ' err.txt)" -eq 1 ] && ok || bad "not one hint: $(cat err.txt)"
hint="^hint: this run (task add, style plain, reversed answers, zero-padded) reads prompts like"
grep -q "$hint \"[0-9]*+[0-9]*=\"; write them plain" err.txt && ok \
    || bad "the format hint: $(cat err.txt)"
# all good: exit 0; a thousand prompts in chunks of --batch, in order
printf '1+2=\n3+4=\n' | "$ARITH" predict plain >/dev/null 2>&1 && ok || bad "good prompts: exit $?"
for a in $(seq 1 1000); do echo "$((a % 97))+$((a % 89))="; done >many.txt
"$ARITH" predict plain --batch 64 <many.txt >many_out.txt 2>&1 && ok || bad "1000 prompts failed"
"$ARITH" predict plain --batch 1000 <many.txt >many_one.txt 2>&1
[ "$(wc -l <many_out.txt)" -eq 1000 ] && cmp -s many_out.txt many_one.txt && ok \
    || bad "1000 prompts in chunks of 64 differ from one chunk"
# arguments: the same, numbered as arguments
out=$("$ARITH" predict plain "1+2=" "1++2=" "40+2" 2>err.txt)
rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <<<"$out")" -eq 3 ] && [ -z "$(sed -n 2p <<<"$out")" ] && ok \
    || bad "arguments with a bad one: exit $rc, '$out'"
grep -q "^arith: error: argument 2: \"1++2=\"" err.txt && ok || bad "argument 2: $(cat err.txt)"

# --- --tsv and --json echo the prompt
printf '1+2=\n\n1x+2=\n40+2\n' >in2.txt
"$ARITH" predict plain --tsv <in2.txt >tsv.txt 2>/dev/null
a1=$("$ARITH" predict plain "1+2=") a4=$("$ARITH" predict plain "40+2")
[ "$(cat tsv.txt)" = "$(printf '1+2=\t%s\n\n1x+2=\t\n40+2\t%s' "$a1" "$a4")" ] && ok \
    || bad "--tsv: $(cat -A tsv.txt)"
"$ARITH" predict plain --json <in2.txt >json.txt 2>/dev/null
python3 - "$a1" "$a4" <<'EOF' && ok || bad "--json: $(cat json.txt)"
import json, sys
rows = [json.loads(line) for line in open("json.txt")]
assert rows[0] == {"prompt": "1+2=", "answer": sys.argv[1]}, rows[0]
assert rows[1] == {"prompt": "", "answer": None}, rows[1]
assert rows[2]["prompt"] == "1x+2=" and "task add reads" in rows[2]["error"], rows[2]
assert rows[3] == {"prompt": "40+2", "answer": sys.argv[2]}, rows[3]
assert len(rows) == 4
EOF
"$ARITH" predict plain --json --beam 2 "1+2=" "1x+2=" >beam.txt 2>/dev/null
python3 - <<'EOF' && ok || bad "--json --beam 2: $(cat beam.txt)"
import json
rows = [json.loads(line) for line in open("beam.txt")]
assert len(rows) == 2 and rows[0]["prompt"] == "1+2=" and len(rows[0]["answers"]) == 2
assert all(set(a) == {"answer", "log_prob", "eos"} for a in rows[0]["answers"])
assert rows[0]["answers"][0]["log_prob"] >= rows[0]["answers"][1]["log_prob"]
assert "error" in rows[1]
EOF
# --logits: the logits of prompt + answer read back; each answer token is the argmax of the
# row before it (the greedy answer), the last row's argmax is EOS when the answer ended
"$ARITH" predict plain --logits "1+2=" "1x+2=" "99+99" >logits.txt 2>/dev/null
python3 - "$("$ARITH" predict plain "99+99")" <<'EOF2' && ok || bad "--logits: $(head -c 600 logits.txt)"
import json, sys
rows = [json.loads(line) for line in open("logits.txt")]
assert len(rows) == 3 and "error" in rows[1] and rows[2]["answer"] == sys.argv[1]
for r in (rows[0], rows[2]):
    toks, lg = r["tokens"], r["logits"]
    assert r["logits_from"] == 0 and len(lg) == len(toks) == len(r["positions"]) and len(toks) > 4
    assert all(len(row) == len(lg[0]) for row in lg)
    best = [max(range(len(row)), key=row.__getitem__) for row in lg]
    assert best[3:-1] == toks[4:], (best, toks)      # pairs: 2 pair tokens, +, =, the answer
    assert best[-1] == 13 or len(toks) == 4 + 4      # EOS, or the answer ran to the context
EOF2
expect 2 "--logits reads the greedy answer back; it does not combine with --beam 2" -- \
    "$ARITH" predict plain --logits --beam 2 "1+2="
expect 2 "--logits prints JSON of its own; it does not combine with --json" -- \
    "$ARITH" predict plain --logits --json "1+2="
out=$("$ARITH" predict plain --tsv --beam 2 "1+2=" "40+2" 2>&1)
[ "$(grep -cE $'^1\\+2=\t[^\t]*\t-?[0-9.]+' <<<"$out")" -eq 2 ] \
    && [ "$(grep -cE $'^40\\+2\t[^\t]*\t-?[0-9.]+' <<<"$out")" -eq 2 ] && ok \
    || bad "--tsv --beam 2: $out"
expect 2 "--json and --tsv are two ways to print; give one" \
    -- "$ARITH" predict plain --json --tsv "1+2="

# --- prompts checked against the run's style: seed 002's spaced prompts
out=$(printf '12 + 34\n12+34=\n1 + 2\n' | "$ARITH" predict spaced 2>err.txt)
rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <<<"$out")" -eq 3 ] && [ -z "$(sed -n 2p <<<"$out")" ] \
    && [ -n "$(sed -n 1p <<<"$out")" ] && ok || bad "spaced run: exit $rc, '$out'"
grep -q "stdin:2: \"12+34=\": task add in style spaced reads prompts without '='" err.txt && ok \
    || bad "spaced run's error: $(cat err.txt)"
grep -q "^hint: this run (task add, style spaced) reads prompts like \"[0-9]* + [0-9]*\"$" err.txt \
    && ok || bad "spaced run's hint: $(cat err.txt)"
# a prompt longer than the model's context: its line alone
out=$(printf '1 + 2\n1234567 + 1234\n3 + 4\n' | "$ARITH" predict spaced 2>err.txt)
[ "$(wc -l <<<"$out")" -eq 3 ] && [ -z "$(sed -n 2p <<<"$out")" ] \
    && [ -n "$(sed -n 3p <<<"$out")" ] && ok || bad "a prompt too long for the context: '$out'"
grep -q "stdin:2: .*leaves no room in the model's context" err.txt && ok \
    || bad "the context's error: $(cat err.txt)"

# --- one prompt at a time: each answer arrives before the next prompt is written
coproc PREDICT { "$ARITH" predict plain 2>/dev/null; }
predict_pid=$PREDICT_PID # (bash unsets PREDICT_PID once the coprocess has ended)
answers=()
for p in "1+2=" "40+2=" "5+5="; do
    echo "$p" >&"${PREDICT[1]}"
    if IFS= read -r -t 60 line <&"${PREDICT[0]}"; then answers+=("$line"); else break; fi
done
exec {PREDICT[1]}>&-
wait "$predict_pid" 2>/dev/null
[ "${#answers[@]}" -eq 3 ] && [ "${answers[1]}" = "$("$ARITH" predict plain "40+2=")" ] && ok \
    || bad "one prompt at a time: ${#answers[@]} answers (${answers[*]})"

# --- an answer that never ends (an untrained model) runs to its own prompt's limit, whatever
# is asked beside it: the same alone as next to a longer prompt (context 22: 19 tokens after
# "1+2=", 9 after "123456+654321=")
"$ARITH" train --digits 1..6 --tokenizer char --n 500 --steps 1 --layers 1 --d-model 16 --heads 2 \
    --ffn 16 --eval-n 10 --samples 0 --threads 1 --run untrained >/dev/null 2>&1
alone=$("$ARITH" predict untrained "1+2")
beside=$("$ARITH" predict untrained "1+2" "123456+654321" | head -n 1)
[ -n "$alone" ] && [ "$alone" = "$beside" ] && [ "${#alone}" -eq 19 ] && ok \
    || bad "an unended answer depends on its neighbours: '$alone' alone, '$beside' beside a longer prompt"

echo "cli_predict: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
