#!/usr/bin/env bash
# The command line end to end: a tiny run is trained, evaluated, asked, resumed and read back
# by an independent reader; bad flags, files, checkpoints and prompts each give a clear message
# and the right exit code, and never damage an existing run.
# Usage: tests/cli_arith.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: cli_arith.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: cli_arith.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"

SMALL=(--digits 2 --n 2000 --layers 1 --d-model 32 --heads 4 --ffn 32 --batch 32
       --eval-n 100 --samples 1 --threads 2)

# --- usage errors: exit 2, the flag named, the valid choices listed
expect 2 "usage: arith" -- "$ARITH"
expect 2 "unknown command 'trian'" -- "$ARITH" trian
expect 2 "unknown option --no-such" -- "$ARITH" train --no-such 1
# one parser: every command names the closest flag and lists its flags
expect 2 "unknown option --epoch; did you mean --epochs\?" -- "$ARITH" train --epoch 2
expect 2 "unknown option --batch-size; did you mean --batch\?" -- "$ARITH" train --batch-size 8
expect 2 "^  --checkpoint, --batch, --threads" -- "$ARITH" eval run1 --nope 1
expect 2 "unknown option --beams; did you mean --beam\?" -- "$ARITH" predict run1 --beams 2
expect 2 "unknown option --outt; did you mean --out\?" -- "$ARITH" data --outt x.csv
expect 2 "--n: 0 is out of range \(1\.\.100000000\)" -- "$ARITH" data --n 0
expect 2 "--checkpoint: unknown value 'first' \(valid: best,last\)" -- "$ARITH" eval run1 --checkpoint first
expect 2 "--pos: unknown value 'alibo' \(valid: none,sinusoidal,learned,rope,alibi,fire,abacus,coupling,coupling-rel,coupling-local,coupling-anchor\)" -- "$ARITH" train --pos alibo
expect 2 "--layers: 'two' is not an integer" -- "$ARITH" train --layers two
expect 2 "--lr: -1 is out of range" -- "$ARITH" train --lr -1
expect 2 "--batch needs a value" -- "$ARITH" train --batch
expect 2 "--heads 5 must divide --d-model 32" -- "$ARITH" train "${SMALL[@]}" --heads 5 --run r0
[ ! -e r0 ] && ok || bad "a rejected config left a run directory"
expect 0 "--pos NAME" -- "$ARITH" train --help
expect 2 "--task: unknown value 'div' \(valid: add,expr,count,xor,symbolic,mul[,)]" -- "$ARITH" data --task div
# arith tasks lists every --task choice (both from the registry), with its tokenizers
tasks_text=$("$ARITH" tasks)
choices=$("$ARITH" train --help | tr '\n' ' ' | sed -n 's/.*--task NAME[^{]*{\([^}]*\)}.*/\1/p' | tr , ' ')
[ -n "$choices" ] && ok || bad "train --help lists no --task choices"
for t in $choices; do
    grep -qE "^$t +" <<<"$tasks_text" && ok || bad "arith tasks lacks task $t"
done
expect 0 "tokenizers: pairs \(auto\), char" -- "$ARITH" tasks
expect 2 "unexpected argument 'add'" -- "$ARITH" tasks add
expect 2 "unknown option --checkpoint" -- "$ARITH" data --checkpoint best
# results that cannot be written fail the command (a full disk behind standard output)
if [ -w /dev/full ]; then
    expect 1 "standard output: cannot write: No space left on device" -- bash -c "'$ARITH' tasks >/dev/full"
    expect 1 "standard output: cannot write" -- bash -c "'$ARITH' data --task add --digits 3 --n 50 >/dev/full"
fi

# --- bad data files: exit 1, file and line named
printf 'src,tgt\n1+1=,2\n2+2,4\n' >bad_row.csv
expect 1 "bad_row.csv:3: src \"2\+2\" must end with '='" -- "$ARITH" train "${SMALL[@]}" --train-csv bad_row.csv
printf 'src,tgt\n1+1=,2\n"3+4=,7\n' >bad_quote.csv
expect 1 "bad_quote.csv:3: unterminated quoted field" -- "$ARITH" train "${SMALL[@]}" --train-csv bad_quote.csv
printf 'src,tgt\n1+1=,2\n1/2=,3\n' >bad_char.csv
expect 1 "bad_char.csv, example 2.*'/' at position 2" -- "$ARITH" train "${SMALL[@]}" --tokenizer char --train-csv bad_char.csv --test-csv bad_char.csv
expect 1 "missing.csv: cannot open" -- "$ARITH" train "${SMALL[@]}" --train-csv missing.csv
printf '{"layers": 1, "bogus": 3}' >bad.json
expect 2 "bad.json: unknown option \"bogus\"" -- "$ARITH" train --config bad.json
expect 1 "nope.json" -- "$ARITH" train --config nope.json
# a config file is the user's input, as flags are (exit 2): invalid JSON named by line and
# column, a string cut short by \u0000 ("add\u0000evil" is not add), a key given twice
printf '{\n  "layers": 1,\n  "steps": 10 10\n}' >broken.json
expect 2 "broken.json:3:[0-9]+: not valid JSON" -- "$ARITH" train --config broken.json
printf '{"task": "add\\u0000evil"}' >nul.json
expect 2 "nul.json:1:14: a string holds .u0000" -- "$ARITH" train --config nul.json
printf '{"lr": 0.001, "lr": 0.002}' >twice.json
expect 2 "twice.json: \"lr\" is given twice" -- "$ARITH" train --config twice.json

# test prompts that are also training prompts are pointed out
printf 'src,tgt\n1+1=,2\n2+2=,4\n3+3=,6\n' >overlap_train.csv
printf 'src,tgt\n2+2=,4\n4+4=,8\n' >overlap_test.csv
expect 0 "warning: 1 of the 2 test prompts are also in the training set" -- "$ARITH" train "${SMALL[@]}" --digits 1 --steps 2 --train-csv overlap_train.csv --test-csv overlap_test.csv --run run_overlap

# --- data
expect 0 "wrote 50 examples" -- "$ARITH" data --task add --digits 3 --n 50 --out d.csv
[ "$(wc -l <d.csv)" -eq 51 ] && ok || bad "d.csv should have 51 lines"
head -n 1 d.csv | grep -qx 'src,tgt' && ok || bad "d.csv header"
# --out writes into what is not a regular file, never replacing it by one (#15): a FIFO, "-"
# for standard output; a symbolic link's target is written, the link stays
mkfifo out.fifo
(timeout 10 cat out.fifo >fifo.csv 2>/dev/null &) # (ends even if arith never opens it)
expect 0 "wrote 50 examples to out.fifo" -- "$ARITH" data --task add --digits 3 --n 50 --out out.fifo
[ -p out.fifo ] && ok || bad "--out out.fifo replaced the FIFO"
for _ in 1 2 3 4 5 6 7 8 9 10; do [ "$(wc -l <fifo.csv)" -eq 51 ] && break; sleep 0.2; done
cmp -s fifo.csv d.csv && ok || bad "the FIFO's reader got $(wc -l <fifo.csv) lines, not d.csv's 51"
"$ARITH" data --task add --digits 3 --n 50 --out - >dash.csv 2>dash.err
cmp -s dash.csv d.csv && [ ! -e ./- ] && ok || bad "--out - should write d.csv to standard output, not a file named -"
ln -s linked_target.csv out_link.csv
expect 0 "wrote 50 examples to out_link.csv" -- "$ARITH" data --task add --digits 3 --n 50 --out out_link.csv
[ -L out_link.csv ] && cmp -s linked_target.csv d.csv && ok || bad "--out through a symbolic link should write its target and keep the link"
# every generated sum is right (checked by awk, independently of arith)
awk -F, 'NR > 1 { split($1, p, /[+=]/); if (p[1] + p[2] != $2) bad++ } END { exit bad > 0 }' d.csv \
    && ok || bad "a generated sum in d.csv is wrong"

# --- a tiny run, end to end
printf '{"layers": 1, "d-model": 32, "heads": 4, "ffn": 32, "digits": 2, "n": 2000, "steps": 40}' >small.json
expect 0 "final test exact match" -- "$ARITH" train --config small.json --batch 32 --eval-n 100 --threads 2 --run run1
for f in config.json train.csv test.csv metrics.jsonl last.safetensors best.safetensors training.svg; do
    [ -s "run1/$f" ] && ok || bad "run1/$f missing"
done
ls run1 | grep -q tmp && bad "a temporary file was left in run1" || ok
grep -q '"steps":\s*40' run1/config.json && ok || bad "config.json lacks steps 40"
grep -q '"accuracy"' run1/metrics.jsonl && ok || bad "metrics.jsonl lacks an accuracy line"
# the plot has a loss curve and one point per evaluation
grep -q '<polyline' run1/training.svg && [ "$(grep -c '<circle' run1/training.svg)" -ge 1 ] && ok \
    || bad "training.svg lacks its curves"
# the checkpoint is valid for an independent reader, with the config in its metadata
expect 0 "" -- python3 "$SRC/tools/read_safetensors.py" --check run1/last.safetensors
python3 "$SRC/tools/read_safetensors.py" --json run1/best.safetensors >best.json 2>&1
grep -q '"layers.0.attn.qkv.weight"' best.json && grep -q '"step"' best.json && ok \
    || bad "best.safetensors lacks tensors or metadata: $(head -c 300 best.json)"
# the vocabulary, id by id, and the resolved tokenizer: a reader needs no arith to decode ids
python3 - run1/best.safetensors <<'EOF2' && ok || bad "best.safetensors' vocabulary metadata"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
meta = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])["__metadata__"]
tokens = json.loads(meta["vocab_tokens"])
sys.exit(not (len(tokens) == int(meta["vocab"]) and "+" in tokens and "=" in tokens
              and meta["tokenizer_resolved"] in ("pairs", "char")))
EOF2

# a second run into the same directory is refused, and the run is untouched
sum_before=$(cat run1/* | md5sum)
expect 1 "run1 already holds a run" -- "$ARITH" train --config small.json --run run1
[ "$(cat run1/* | md5sum)" = "$sum_before" ] && ok || bad "a refused run changed run1"

# never overwrite what arith did not write (#15): run files go only into a directory arith
# created, an empty one, or one that holds its marker
[ -f run1/.arith-run ] && ok || bad "run1 lacks its .arith-run marker"
TINY=(--digits 1..2 --tokenizer char --context 16 --n 300 --layers 1 --d-model 16 --heads 2 --ffn 16
      --steps 3 --samples 0 --threads 1)
mkdir mine && "$ARITH" data --digits 2 --n 300 --out mine/train.csv >/dev/null 2>&1
sum_mine=$(md5sum <mine/train.csv)
expect 1 "mine holds files arith did not write \(it has no .arith-run marker\)" -- "$ARITH" train "${TINY[@]}" --train-csv mine/train.csv --run mine
[ "$(md5sum <mine/train.csv)" = "$sum_mine" ] && [ "$(ls -A mine)" = train.csv ] && ok \
    || bad "a refused run changed mine/: $(ls -A mine)"
expect 1 "mine holds files arith did not write" -- "$ARITH" train "${TINY[@]}" --seeds 2 --run mine
[ "$(ls -A mine)" = train.csv ] && ok || bad "a refused sweep changed mine/: $(ls -A mine)"
mkdir empty_dir
expect 0 "run saved in empty_dir" -- "$ARITH" train "${TINY[@]}" --run empty_dir
# a CSV inside a run directory is not replaced by the run's own training split
rm -f empty_dir/last.safetensors empty_dir/best.safetensors empty_dir/metrics.jsonl
cp mine/train.csv empty_dir/train.csv
expect 2 "--train-csv empty_dir/train.csv is the file this run writes its training split to" -- "$ARITH" train "${TINY[@]}" --train-csv empty_dir/train.csv --run empty_dir
[ "$(md5sum <empty_dir/train.csv)" = "$sum_mine" ] && ok || bad "the user's CSV in empty_dir was replaced"
# a run whose config.json is gone is not trained over
"$ARITH" train "${TINY[@]}" --run noconfig >/dev/null 2>&1 && rm noconfig/config.json
sum_nc=$(md5sum <noconfig/last.safetensors)
expect 1 "noconfig holds last.safetensors but no config.json" -- "$ARITH" train "${TINY[@]}" --run noconfig
[ "$(md5sum <noconfig/last.safetensors)" = "$sum_nc" ] && ok || bad "noconfig's checkpoint was replaced"
# a run an older arith wrote (no marker, a config.json that loads) can still be resumed
"$ARITH" train "${TINY[@]}" --run legacy >/dev/null 2>&1 && rm legacy/.arith-run
expect 0 "run saved in legacy" -- "$ARITH" train --resume legacy --steps 6
[ -f legacy/.arith-run ] && ok || bad "a resumed older run should be marked"
# a config.json of the user's own does not make a directory arith's
mkdir theirs && echo '{"name": "my project"}' >theirs/config.json
expect 1 "theirs holds files arith did not write" -- "$ARITH" train "${TINY[@]}" --run theirs
[ "$(cat theirs/config.json)" = '{"name": "my project"}' ] && [ "$(ls -A theirs)" = config.json ] && ok \
    || bad "a refused run changed theirs/: $(ls -A theirs)"

expect 0 "exact match [01]\.[0-9]+ \([0-9]+/200\) on run1/test.csv" -- "$ARITH" eval run1
expect 0 "\"accuracy\"" -- "$ARITH" eval run1 --json --checkpoint last
# --predictions: every example as a CSV row, and the tables per answer digit and carry chain
expect 0 "exact match per answer digit \(from the right: 1 = units\), in pred.csv" -- "$ARITH" eval run1 --predictions pred.csv
python3 - <<'EOF2' && ok || bad "pred.csv does not hold the evaluation: $(head -n 3 pred.csv)"
import csv, re, subprocess, sys
rows = list(csv.DictReader(open("pred.csv")))
right = sum(r["correct"] == "1" for r in rows)
if len(rows) != 200 or list(rows[0]) != ["prompt", "expected", "predicted", "correct", "carry_chain", "first_wrong_digit"]:
    sys.exit("rows: %d, columns %s" % (len(rows), list(rows[0])))
for r in rows:
    a, b = r["prompt"].rstrip("=").split("+")
    if int(a) + int(b) != int(r["expected"]):
        sys.exit("expected answer wrong: " + str(r))
    ok = r["predicted"] == r["expected"]
    if ok != (r["correct"] == "1") or (r["first_wrong_digit"] == "0") != ok:
        sys.exit("correct / first_wrong_digit disagree: " + str(r))
    if not 0 <= int(r["carry_chain"]) <= 2:
        sys.exit("carry chain of a 2-digit sum: " + str(r))
EOF2
expect 2 "does not combine with .*--predictions" -- "$ARITH" eval run1 --grid 1..2 --predictions p2.csv
expect 0 "exact match .* on 300 new 2-digit examples" -- "$ARITH" eval run1 --n 300
# (a model this small may answer nothing yet: an empty line)
expect 0 "^[0-9?]*$" -- "$ARITH" predict run1 "12+34="
lines=$(printf '1+2=\n33+44\n' | "$ARITH" predict run1 | wc -l)
[ "$lines" -eq 2 ] && ok || bad "predict from stdin gave $lines lines, not 2"

# --- beam search: any of K answers, the top answer beside; beam 1 is greedy
expect 0 "exact match [01]\.[0-9]+ \([0-9]+/200\) with any of 3 beam answers, [01]\.[0-9]+ \([0-9]+/200\) with the top answer on run1/test.csv" -- "$ARITH" eval run1 --beam 3
expect 0 "\"beam\": 3, \"top_accuracy\": [01]\.[0-9]+" -- "$ARITH" eval run1 --beam 3 --json
strip_seconds() { sed 's/"seconds": [0-9.]*//'; }
[ "$("$ARITH" eval run1 --beam 1 --json | strip_seconds)" = "$("$ARITH" eval run1 --json | strip_seconds)" ] \
    && ok || bad "eval --beam 1 differs from greedy eval"
out=$("$ARITH" predict run1 --beam 3 "12+34=" "5+6=")
# three answers per prompt, each with its log-probability, best first; a blank line after each
# (the last one cut by $(...))
[ "$(grep -cE $'^[0-9?]*\t-?[0-9]+\\.[0-9]{4}(\tno-eos)?$' <<<"$out")" -eq 6 ] && [ "$(grep -c '^$' <<<"$out")" -eq 1 ] \
    && ok || bad "predict --beam 3 gave: $out"
awk -F'\t' 'NF == 0 { prev = "" ; next } prev != "" && $2 > prev { bad = 1 } { prev = $2 } END { exit bad }' <<<"$out" \
    && ok || bad "predict --beam 3 answers are not best first: $out"
[ "$("$ARITH" predict run1 --beam 1 "12+34=")" = "$("$ARITH" predict run1 "12+34=")" ] \
    && ok || bad "predict --beam 1 differs from greedy predict"
expect 2 "--beam: 0 is out of range \(1\.\.256\)" -- "$ARITH" eval run1 --beam 0
expect 2 "--beam: 'x' is not an integer" -- "$ARITH" predict run1 --beam x "1+1="
expect 2 "--beam needs a value" -- "$ARITH" eval run1 --beam

# bad prompts name what is wrong
expect 1 "argument 1: \"12\*3=\": task add reads two numbers with '\+' between them" -- "$ARITH" predict run1 "12*3="
expect 1 "argument 1: .*3 digits, more than the tokenizer's 2" -- "$ARITH" predict run1 "123+4="
expect 1 "stdin:2: " -- bash -c "printf '1+1=\n1++1=\n' | '$ARITH' predict run1"

# a prompt longer than the model's context is refused (char tokenizer: 2-digit run, context 10)
expect 0 "final test exact match" -- "$ARITH" train "${SMALL[@]}" --tokenizer char --steps 5 --run run_char
expect 1 "prompt of 11 tokens leaves no room in the model's context of 10" -- "$ARITH" predict run_char "12345678+1="

# --- edge cases beside every addition eval (and in training's evaluations)
expect 0 "^edge cases: [0-9]+/[0-9]+ exact" -- "$ARITH" eval run1
expect 0 "\"edge_cases\": \{\"correct\": [0-9]+, \"total\": [0-9]+, \"failures\": \[" -- "$ARITH" eval run1 --json
grep -q '"edge_total": [0-9]' run1/metrics.jsonl && ok || bad "metrics.jsonl lacks the edge cases"

# --- length grids: a CSV row per cell and a heatmap with the training lengths outlined
expect 0 "final test exact match" -- "$ARITH" train --digits 1..2 --tokenizer char --context 16 --n 300 --layers 1 --d-model 16 --heads 2 --ffn 16 --steps 5 --samples 0 --threads 1 --run run_grid
expect 0 "largest length at >= 0.99: " -- "$ARITH" eval run_grid --grid 1..3 --grid-n 4 --threads 1
[ "$(wc -l <run_grid/grid-1-3.csv)" -eq 10 ] && head -n 1 run_grid/grid-1-3.csv | grep -qx 'la,lb,n,correct,accuracy' \
    && ok || bad "grid-1-3.csv should be a header and 9 rows: $(head -n 3 run_grid/grid-1-3.csv)"
awk -F, 'NR > 1 && $3 != 4 { bad = 1 } END { exit bad }' run_grid/grid-1-3.csv && ok || bad "a grid cell lacks its 4 examples"
[ "$(grep -c 'class="cell"' run_grid/grid-1-3.svg)" -eq 9 ] && grep -q 'class="train-region"' run_grid/grid-1-3.svg \
    && grep -q '</svg>' run_grid/grid-1-3.svg && ok || bad "grid-1-3.svg lacks its cells or the training outline"
ls run_grid | grep -q tmp && bad "a temporary file was left in run_grid" || ok
expect 0 "\"grid\": \{\"lo\": 1, \"hi\": 3, .*\"diagonal\": \[\{\"length\": 1" -- "$ARITH" eval run_grid --grid 1..3 --grid-n 4 --threads 1 --json
cp run_grid/grid-1-3.csv grid_before.csv
"$ARITH" eval run_grid --grid 1..3 --grid-n 4 --threads 1 >/dev/null 2>&1
cmp -s grid_before.csv run_grid/grid-1-3.csv && ok || bad "the same grid twice gave different CSVs"
expect 0 "grid 2..4 step 2 \(2 x 2 cells\)" -- "$ARITH" eval run_grid --grid 2..4 --grid-step 2 --grid-n 2 --threads 1
[ "$(wc -l <run_grid/grid-2-4.csv)" -eq 5 ] && ok || bad "grid-2-4.csv should have 4 rows"
expect 1 "--grid 1..9: operands of .* more than the model's context of 16 tokens" -- "$ARITH" eval run_grid --grid 1..9 --grid-n 2
expect 1 "hint: the pairs tokenizer reads operands of at most 2 digits: --grid 1..2" -- "$ARITH" eval run1 --grid 1..3
expect 2 "--grid: 'x' is not a length or a range" -- "$ARITH" eval run_grid --grid x
expect 2 "--grid: '3..1' is not a length or a range" -- "$ARITH" eval run_grid --grid 3..1
# n x k products: --digits-b draws mul's second operand apart; --grid-b gives lb its own axis
expect 0 "mul \(1\.\.4 digits x 1\.\.2\)" -- "$ARITH" train --task mul --digits 1..4 --digits-b 1..2 --tokenizer char --reverse --pos coupling --context 24 --n 400 --layers 1 --d-model 16 --heads 2 --ffn 16 --steps 5 --samples 0 --threads 1 --run run_nk
awk -F, 'NR > 1 { split($1, p, "*"); if (length(p[2]) - 1 > 2 || length(p[1]) > 4) bad = 1 } END { exit bad }' run_nk/test.csv \
    && ok || bad "run_nk's test set has a second operand past 2 digits: $(sed -n 2,4p run_nk/test.csv)"
expect 0 "grid 1\.\.6 x lb 1\.\.2 \(6 x 2 cells\).*" -- "$ARITH" eval run_nk --grid 1..6 --grid-b 1..2 --grid-n 3 --threads 1
[ "$(wc -l <run_nk/grid-1-6.csv)" -eq 13 ] && ! awk -F, 'NR > 1 && $2 > 2 { f = 1 } END { exit !f }' run_nk/grid-1-6.csv \
    && [ "$(grep -c 'class="cell"' run_nk/grid-1-6.svg)" -eq 12 ] \
    && ok || bad "grid-1-6.csv should have 12 cells with lb 1..2: $(head -n 4 run_nk/grid-1-6.csv)"
expect 0 "\"lo_b\": 1, \"hi_b\": 2, " -- "$ARITH" eval run_nk --grid 1..6 --grid-b 1..2 --grid-n 2 --threads 1 --json
expect 0 "50 new examples of 7 digits x 3 " -- "$ARITH" eval run_nk --digits 7 --digits-b 3 --n 50 --threads 1
expect 2 "--grid-b needs --grid" -- "$ARITH" eval run_nk --grid-b 1..2
expect 2 "--digits-b draws new examples" -- "$ARITH" eval run_nk --csv run_nk/test.csv --digits-b 2
expect 2 "--grid-b: 0 is out of range" -- "$ARITH" eval run_nk --grid 1..3 --grid-b 0
expect 2 "--digits-b sets the second operand's length of task mul" -- "$ARITH" train --task add --digits-b 2 --run run_nk_add
"$ARITH" data --task mul --digits 3 --digits-b 1 --n 40 --out nk.csv 2>/dev/null
awk -F, 'NR > 1 { split($1, p, "*"); if (length(p[2]) != 2) bad = 1; n++ } END { exit bad || n != 40 }' nk.csv \
    && ok || bad "arith data --digits-b 1 wrote a second operand past 1 digit: $(sed -n 2,4p nk.csv)"
[ ! -e run_nk_add ] && ok || bad "a refused --digits-b left a run directory"
expect 2 "--grid-step needs --grid" -- "$ARITH" eval run_grid --grid-step 2
expect 2 "--grid-n: 0 is out of range" -- "$ARITH" eval run_grid --grid 1..2 --grid-n 0
expect 2 "--grid draws its own examples" -- "$ARITH" eval run_grid --grid 1..2 --digits 3

# --- extending a run by --resume keeps its learning-rate schedule, says so, and marks the resume
# in metrics.jsonl and the plot (#16); --restart-schedule lays out a new one over the added steps
SCHED=(--digits 1..2 --tokenizer char --context 16 --n 300 --layers 1 --d-model 16 --heads 2
       --ffn 16 --samples 0 --threads 1 --schedule cosine --warmup 5 --log-every 5)
"$ARITH" train "${SCHED[@]}" --steps 40 --run sched_keep >/dev/null 2>&1
cp -r sched_keep sched_restart
expect 0 "note: the run was laid out for 40 steps and now takes 80: its learning-rate schedule is kept, and its final rate held past its end" -- "$ARITH" train --resume sched_keep --steps 80
expect 0 "--restart-schedule lays out a new warmup and cosine over steps 41\.\.80" -- "$ARITH" train --resume sched_restart --steps 80 --restart-schedule
expect 2 "--restart-schedule applies to a run --resume continues" -- "$ARITH" train "${SCHED[@]}" --steps 5 --restart-schedule --run sched_none
python3 - <<'EOF2' && ok || bad "metrics.jsonl of extended runs: see above"
import json, sys
def lines(run):
    return [json.loads(l) for l in open(run + "/metrics.jsonl")]
bad = []
for run, kind in (("sched_keep", "kept"), ("sched_restart", "restarted")):
    ls = lines(run)
    if any(l.get("kind") not in ("train", "eval", "resume") for l in ls):
        bad.append(run + ": a line without a kind")
    res = [l for l in ls if l["kind"] == "resume"]
    if len(res) != 1 or res[0]["step"] != 40 or res[0]["schedule"] != kind:
        bad.append(run + ": resume line " + str(res))
    el = [l["elapsed"] for l in ls if "elapsed" in l]
    if any(b < a - 0.002 for a, b in zip(el, el[1:])):
        bad.append(run + ": elapsed goes back: " + str(el))
    lr = {l["step"]: l["lr"] for l in ls if l["kind"] == "train"}
    if kind == "kept" and not (lr[80] == lr[40] and lr[40] < 1e-4):
        bad.append(run + ": the final rate should be held: %s" % lr)
    if kind == "restarted" and not lr[45] > 100 * lr[40]:
        bad.append(run + ": a restarted schedule warms up again: %s" % lr)
if bad:
    sys.exit("\n".join(bad))
EOF2
[ "$(grep -c 'class="resume"' sched_keep/training.svg)" -eq 4 ] && ok || bad "training.svg should mark the resume in its four panels"
# training.svg: loss, exact match, learning rate and gradient norm, each with its axis labelled
python3 - sched_keep/training.svg <<'EOF2' && ok || bad "training.svg's panels: see above"
import sys, xml.dom.minidom as m
d = m.parse(sys.argv[1])
kinds = sorted(p.getAttribute("class") for p in d.getElementsByTagName("polyline"))
texts = [t.firstChild.data for t in d.getElementsByTagName("text") if t.firstChild]
want = ["training loss", "exact match", "learning rate", "gradient norm"]
if kinds != ["accuracy", "grad-norm", "loss", "lr"] or any(w not in texts for w in want):
    sys.exit("polylines %s, labels %s" % (kinds, texts))
if "80" not in texts or "step" not in texts:  # round ticks on the step axis (80 steps)
    sys.exit("step ticks: %s" % texts)
EOF2

# --- arith attention: one heat map per (layer, head) while a run answers a prompt (#16)
"$ARITH" train --digits 1 --n 100 --layers 2 --d-model 32 --heads 2 --ffn 32 --steps 300 --samples 0 \
    --threads 1 --run att1 >/dev/null 2>&1
expect 0 "wrote att1/attention.svg: 2 layers x 2 heads over [0-9]+ tokens" -- "$ARITH" attention att1 "3+4"
python3 - <<'EOF2' && ok || bad "att1/attention.svg: see above"
import collections, sys, xml.dom.minidom as m
d = m.parse("att1/attention.svg")
maps = [g for g in d.getElementsByTagName("g") if g.getAttribute("class") == "map"]
if len(maps) != 4:
    sys.exit("%d maps, not 2 layers x 2 heads" % len(maps))
for g in maps:  # each query's weights over the keys it sees sum to 1
    rows = collections.defaultdict(float)
    for r in g.getElementsByTagName("rect"):
        t = r.getElementsByTagName("title")
        if t:
            rows[int(r.getAttribute("y"))] += float(t[0].firstChild.data)
    if not rows or any(abs(v - 1) > 0.01 for v in rows.values()):
        sys.exit("a row does not sum to 1: %s" % dict(rows))
EOF2
expect 2 "usage: arith attention RUN_DIR PROMPT" -- "$ARITH" attention att1

# --- several seeds: RUN/seed-S runs, a summary, and eval over them all
expect 0 "final exact match over 2 seeds: mean [01]\.[0-9]+, std [0-9.]+, best [01]\.[0-9]+ \(seed [78]\), worst" -- "$ARITH" train --digits 1..2 --tokenizer char --context 16 --n 300 --layers 1 --d-model 16 --heads 2 --ffn 16 --steps 5 --samples 0 --threads 1 --seed 7 --seeds 2 --run sweep
[ -s sweep/seed-7/best.safetensors ] && [ -s sweep/seed-8/best.safetensors ] && [ ! -e sweep/seed-9 ] \
    && ok || bad "--seeds 2 should give sweep/seed-7 and sweep/seed-8"
python3 -c "import json,sys; d=json.load(open('sweep/seeds.json')); sys.exit(not (len(d['runs']) == 2 and 'mean' in d['final_accuracy']))" \
    && ok || bad "sweep/seeds.json: $(head -c 300 sweep/seeds.json)"
grep -qE '"seeds":\s*1([^0-9]|$)' sweep/seed-7/config.json && ok || bad "a seed run's config should be a plain run (seeds 1)"
expect 1 "sweep/seed-7 already holds a run" -- "$ARITH" train --digits 1..2 --tokenizer char --steps 5 --seed 7 --seeds 2 --run sweep
expect 0 "exact match over 2 seeds: mean" -- "$ARITH" eval sweep --threads 1
# arith plot: the sweep's runs overlaid (#16), or several runs with a legend
expect 0 "wrote sweep/seeds.svg \(2 runs\)" -- "$ARITH" plot sweep
[ "$(grep -c '<polyline class="accuracy"' sweep/seeds.svg)" -eq 2 ] && [ "$(grep -c 'class="legend"' sweep/seeds.svg)" -eq 2 ] \
    && grep -q 'sweep/seed-8' sweep/seeds.svg && ok || bad "sweep/seeds.svg: a loss and an accuracy curve and a legend entry per seed"
expect 0 "wrote three.svg \(3 runs\)" -- "$ARITH" plot run1 sweep --out three.svg
python3 -c "import xml.dom.minidom as m; m.parse('three.svg')" && ok || bad "three.svg is not XML"
expect 2 "--out FILE.svg: where the figure of 2 runs goes" -- "$ARITH" plot run1 sweep
mkdir not_a_run
expect 2 "not_a_run: no metrics.jsonl and no seed-S runs in it" -- "$ARITH" plot not_a_run
expect 0 "exact match [01]\.[0-9]+ .* on sweep/seed-8/test.csv" -- "$ARITH" eval sweep/seed-8 --threads 1
expect 0 "\"seeds\": \[\{\"run\": \"sweep/seed-7\"" -- "$ARITH" eval sweep --json --threads 1
expect 0 "n=2 +[01]\.[0-9]+ ± [0-9.]+ \([01]\.[0-9]+\.\.[01]\.[0-9]+\)" -- "$ARITH" eval sweep --grid 1..2 --grid-n 3 --threads 1
[ -s sweep/seed-7/grid-1-2.csv ] && [ -s sweep/seed-8/grid-1-2.svg ] && [ "$(wc -l <sweep/grid-1-2.csv)" -eq 5 ] \
    && head -n 1 sweep/grid-1-2.csv | grep -qx 'la,lb,runs,accuracy,std,min,max' && [ -s sweep/grid-1-2.svg ] \
    && ok || bad "eval --grid over seeds should write each seed's files and the combined ones"

# --- resume: continue to 60 steps; config changes other than length are refused
expect 2 "--layers cannot change when resuming" -- "$ARITH" train --resume run1 --layers 3
expect 2 "already taken 40 of 40 steps" -- "$ARITH" train --resume run1
expect 0 "final test exact match" -- "$ARITH" train --resume run1 --steps 60
python3 "$SRC/tools/read_safetensors.py" --json run1/last.safetensors >last.json
grep -q '"step": "60"' last.json \
    && ok || bad "resumed checkpoint is not at step 60"

# --- broken checkpoints: a clear message, exit 1
mkdir -p broken && cp run1/*.csv run1/config.json broken/
head -c 1000 run1/best.safetensors >broken/best.safetensors
expect 1 "broken/best.safetensors: truncated" -- "$ARITH" eval broken
head -c 5 run1/best.safetensors >broken/best.safetensors
expect 1 "broken/best.safetensors" -- "$ARITH" eval broken
head -c 4096 /dev/urandom >broken/best.safetensors
expect 1 "broken/best.safetensors" -- "$ARITH" eval broken
expect 1 "no-such-run: no such run directory" -- "$ARITH" eval no-such-run
expect 1 "--resume no-such-run: no checkpoint" -- "$ARITH" train --resume no-such-run

# --- recurrent models: seed 000's LSTM on expressions, seed 002's seq2seq, seed 004's counter
LSTM=(--model lstm --tokenizer char --d-model 16 --hidden 32 --layers 1 --optim adam
      --weight-decay 0 --clip-value 1 --batch 32 --samples 1 --threads 1)
expect 0 "lstm on expr \(operands 0..50\)" -- "$ARITH" train "${LSTM[@]}" --task expr --n 3000 --steps 30 --run run_lstm
grep -q '[0-9]' run_lstm/test.csv && grep -q '^.*[-+*].*=,' run_lstm/train.csv && ok || bad "expr run lacks its data"
expect 0 "teacher-forced exact match [01]\.[0-9]+ \([0-9]+/300\)" -- "$ARITH" eval run_lstm --teacher-forced
expect 2 "a lstm has no attention to draw" -- "$ARITH" attention run_lstm "1+2"
expect 0 "" -- "$ARITH" predict run_lstm "14*(43+20)="
expect 0 "exact match [01]\.[0-9]+ \([0-9]+/300\) with any of 2 beam answers" -- "$ARITH" eval run_lstm --beam 2
[ "$("$ARITH" predict run_lstm --beam 4 "14*(43+20)=" | grep -c $'\t')" -eq 4 ] && ok || bad "LSTM predict --beam 4"
# seed 000's CSV layout: an unnamed index column and quoted fields; a bad row names file:line
printf ',src,tgt\n0,14*(43+20)=,882\n1,"(6+1)*5=",35\n2,13+32+29=,74\n3,31*(3-11)=,-248\n' >seed000.csv
expect 0 "final test exact match" -- "$ARITH" train "${LSTM[@]}" --task expr --train-csv seed000.csv --test-csv seed000.csv --steps 2 --run run_csv000
printf ',src,tgt\n0,14*(43+20)=,882\n1,14*(43+=,1\n' >bad000.csv
expect 1 "bad000.csv:3" -- "$ARITH" train "${LSTM[@]}" --task expr --train-csv bad000.csv --test-csv bad000.csv --steps 2 --run run_bad000
[ ! -e run_bad000 ] && ok || bad "a rejected CSV left a run directory"
# seq2seq needs answers of one width; --answer-width gives them, and prompts have no '='
expect 1 "seq2seq emits answers of one fixed width, but training example 1" -- "$ARITH" train --model seq2seq --tokenizer char --style spaced --digits 2 --n 500 --steps 2 --run run_s2s_bad
expect 0 "best test loss" -- "$ARITH" train --model seq2seq --tokenizer char --style spaced --digits 2 --answer-width 3 --input onehot --hidden 8 --layers 1 --n 500 --steps 20 --best-by loss --samples 1 --threads 1 --run run_s2s
expect 0 "" -- "$ARITH" predict run_s2s "12 + 34"
expect 2 "--beam 2: seq2seq emits every answer position at once" -- "$ARITH" eval run_s2s --beam 2
expect 2 "--beam 3: seq2seq" -- "$ARITH" predict run_s2s --beam 3 "12 + 34"
expect 2 "--style spaced is seed 002's addition format" -- "$ARITH" train --task expr --style spaced --run run_s2s_bad2
expect 2 "--head regression needs --model lstm" -- "$ARITH" train --head regression --run run_reg_bad
# the counter: trained on 1..10 bits, evaluated per length on 11..14 and on 50 bits
expect 0 "rounded exact match" -- "$ARITH" train --task count --digits 1..10 --test-digits 11..14 --model lstm --head regression --input onehot --hidden 4 --layers 1 --tokenizer char --n 600 --steps 40 --samples 1 --threads 1 --run run_count
expect 0 "length +n +rounded ok +mean abs error" -- "$ARITH" eval run_count
expect 0 "^ +12 +[0-9]+ +[01]\.[0-9]+ +[0-9]+\.[0-9]+$" -- "$ARITH" eval run_count
expect 0 "rounded exact match .* on 50 new 50-bit examples" -- "$ARITH" eval run_count --digits 50 --n 50
expect 0 "\"by_length\": \[\{\"length\": 11" -- "$ARITH" eval run_count --json
expect 0 "^-?[0-9]+\.[0-9]+$" -- "$ARITH" predict run_count "0110111="
expect 2 "--beam 2: a regression head predicts one number" -- "$ARITH" eval run_count --beam 2
expect 2 "--digits: '5..3' is not a length or a range" -- "$ARITH" train --task count --digits 5..3
# the extrapolating counter's options: cell readout, forget-gate bias; a 2,000-bit prompt
expect 0 "head regression, readout cell, forget bias 20" -- "$ARITH" train --task count --digits 1..10 --test-digits 11..14 --model lstm --head regression --readout cell --forget-bias 20 --input onehot --hidden 2 --layers 1 --tokenizer char --n 600 --steps 40 --samples 1 --threads 1 --run run_count_cell
grep -q '"readout":[[:space:]]*"cell"' run_count_cell/config.json && ok || bad "config.json lacks readout cell"
expect 0 "rounded exact match .* on 20 new 2000-bit examples" -- "$ARITH" eval run_count_cell --digits 2000 --n 20
expect 0 "^-?[0-9]+\.[0-9]+$" -- "$ARITH" predict run_count_cell "$(head -c 2000 /dev/zero | tr '\0' '1')="
# no length limit: 10,000 bits is past the 4,096 tokens the prompt buffers once held
expect 0 "^-?[0-9]+\.[0-9]+$" -- "$ARITH" predict run_count_cell "$(head -c 10000 /dev/zero | tr '\0' '1')="
expect 0 "rounded exact match .* on 5 new 10000-bit examples" -- "$ARITH" eval run_count_cell --digits 10000 --n 5
expect 2 "--readout cell reads an LSTM's cell state; it needs --model lstm \(got --model transformer\)" -- "$ARITH" train --readout cell --run run_reg_bad
expect 2 "--readout cell is what the regression head reads; it needs --head regression \(got --head lm\)" -- "$ARITH" train --model lstm --readout cell --run run_reg_bad
expect 2 "--forget-bias initializes an LSTM's forget gates; it needs --model lstm \(got --model seq2seq\)" -- "$ARITH" train --model seq2seq --forget-bias 5 --run run_reg_bad
expect 2 "--readout" -- "$ARITH" train --model lstm --head regression --readout state --run run_reg_bad
[ ! -e run_reg_bad ] && ok || bad "a refused --readout left a run directory"

# --- seed 003: GPT-2 from Hugging Face's file format, frozen but for ln and wpe; bit-XOR
HF="$SRC/tests/fixtures/gpt2_hf_tiny.safetensors"
XOR=(--task xor --digits 3 --n 64 --test-frac 0.25 --steps 6 --batch 16 --samples 1 --threads 1)
expect 0 "gpt2 on xor \(3 bits\), tokenizer char .* 2 layers, d_model 32, 4 heads, ffn 64, context 16, new in/out layers, from .*gpt2_hf_tiny.safetensors .* of them trainable: --train ln,wpe" -- "$ARITH" train --model gpt2 --init "$HF" --train ln,wpe "${XOR[@]}" --run run_gpt2
expect 0 "exact match [01]\.[0-9]+ \([0-9]+/16\) with any of 2 beam answers" -- "$ARITH" eval run_gpt2 --beam 2
expect 0 "" -- "$ARITH" predict run_gpt2 "010 110="
expect 1 "nowhere.safetensors" -- "$ARITH" train --model gpt2 --init nowhere.safetensors "${XOR[@]}" --run run_gpt2_bad
[ ! -e run_gpt2_bad ] && ok || bad "a missing --init file left a run directory"
expect 2 "--init loads GPT-2 weights; it needs --model gpt2" -- "$ARITH" train --init "$HF" "${XOR[@]}" --run run_gpt2_bad
expect 2 "--train: 'lm_head' matches no parameter name" -- "$ARITH" train --model gpt2 --train ln,lm_head --layers 1 --d-model 16 --heads 2 --ffn 16 "${XOR[@]}" --run run_gpt2_bad
printf 'not a safetensors file at all' >junk.safetensors
expect 1 "junk.safetensors" -- "$ARITH" train --model gpt2 --init junk.safetensors "${XOR[@]}" --run run_gpt2_bad
[ ! -e run_gpt2_bad ] && ok || bad "a rejected --init left a run directory"
printf 'src,tgt\n01 11=,10\n10 1=,1\n' >bad_xor.csv
expect 1 "bad_xor.csv:3: .* is not a bit-XOR row" -- "$ARITH" train --task xor --digits 2 --train-csv bad_xor.csv --run run_gpt2_bad

# xor in issue #13's format: the pairs tokenizer puts bit i of a and b in one token; the
# prompt stays the plain "a b=", the answer the plain XOR with its leading zeros
XP=(--model gpt2 --task xor --digits 4 --tokenizer pairs --reverse-answer --n 64 --test-frac 0.25 --steps 6 --batch 16 --layers 1 --d-model 16 --heads 2 --ffn 16 --samples 1 --threads 1)
expect 0 "gpt2 on xor \(4 bits\), tokenizer pairs \(reversed answers\)" -- "$ARITH" train "${XP[@]}" --run run_xor_pairs
expect 0 "" -- "$ARITH" predict run_xor_pairs "0110 0011="
expect 1 "\"011 001=\": the pairs tokenizer reads strings of exactly the 4 digits it was made for \(--digits 4\)" -- "$ARITH" predict run_xor_pairs "011 001="
expect 1 "example [0-9]+: .* exactly the 6 digits it was made for \(--digits 6\), got" -- "$ARITH" train "${XP[@]}" --digits 3..6 --run run_xor_bad
expect 0 "transformer on xor \(4 bits\), tokenizer char \(zero-padded\) .* pos coupling" -- "$ARITH" train --task xor --digits 4 --n 64 --test-frac 0.25 --zero-pad --pos coupling --steps 2 --layers 1 --d-model 16 --heads 2 --ffn 16 --samples 0 --threads 1 --run run_xor_coupling
expect 0 "" -- "$ARITH" predict run_xor_coupling "0110 0011="

# --- multiplication: a*b= with the char tokenizer; the pairs tokenizer does not read products
expect 0 "transformer on mul \(1\.\.3 digits\), tokenizer char" -- "$ARITH" train --task mul --digits 1..3 --n 600 --steps 4 --layers 1 --d-model 16 --heads 2 --ffn 16 --samples 1 --threads 1 --run run_mul
expect 0 "" -- "$ARITH" predict run_mul "12*34"
expect 2 "--task mul needs --tokenizer char \(got --tokenizer pairs\)" -- "$ARITH" train --task mul --tokenizer pairs --run run_mul_bad
# --repeats (#14): the training set repeats small length pairs' problems (1x1 keeps about a
# quarter of 1..2-digit draws, against 100 of 1,800 distinct); the test set shares no prompt
expect 0 "" -- "$ARITH" train --task mul --digits 1..2 --n 2000 --repeats --steps 2 --layers 1 --d-model 16 --heads 2 --ffn 16 --eval-n 20 --samples 0 --threads 1 --run run_rep
awk -F, 'FNR == 1 { next } FILENAME ~ /train/ { seen[$1]++; if (length($1) == 4) ones++; n++; next }
         ($1 in seen) { leak++ }
         END { d = 0; for (p in seen) d++; printf "%d %d %d %d\n", n, d, ones, leak }' \
    run_rep/train.csv run_rep/test.csv >rep.txt
read -r n distinct ones leak <rep.txt
[ "$n" -eq 1800 ] && [ "$distinct" -lt 1500 ] && [ "$ones" -gt 350 ] && [ "$ones" -lt 550 ] && [ "$leak" -eq 0 ] \
    && ok || bad "--repeats: $n training problems, $distinct distinct, $ones 1x1, $leak test prompts in training"
expect 0 "src,tgt" -- "$ARITH" data --task mul --digits 1..2 --n 1800 --repeats
"$ARITH" data --task mul --digits 1..2 --n 1800 --repeats --out rep.csv 2>/dev/null
cmp -s rep.csv run_rep/train.csv && ok || bad "arith data --repeats should write the run's training set"

# --- symbolic mathematics in prefix notation, judged up to equivalence
expect 0 "^src,tgt$" -- "$ARITH" data --task symbolic --subtask integral --n 3
[ "$("$ARITH" data --task symbolic --n 5 | wc -l)" -eq 6 ] && ok || bad "data --task symbolic --n 5 is not 6 lines"
expect 2 "--subtask: unknown value 'limit'" -- "$ARITH" train --task symbolic --subtask limit
expect 2 "--task symbolic needs --tokenizer words \(got --tokenizer char\)" -- "$ARITH" train --task symbolic --tokenizer char --run run_sym_bad
expect 0 "gpt2 on symbolic \(derivative, up to 6 operators\), tokenizer words" -- "$ARITH" train --task symbolic --subtask derivative --model gpt2 --layers 1 --d-model 16 --heads 2 --ffn 32 --n 300 --steps 4 --samples 1 --threads 1 --run run_sym
expect 0 "accuracy up to equivalence [01]\.[0-9]+ \([0-9]+/30\) with any of 2 beam answers, .* \(exact string match of the top answer" -- "$ARITH" eval run_sym --beam 2
expect 0 "\"exact_match\": [01]\.[0-9]+" -- "$ARITH" eval run_sym --json
[ "$("$ARITH" predict run_sym "sin x")" = "$("$ARITH" predict run_sym "sin x =")" ] \
    && ok || bad "predict on symbolic does not add the ' =' word" 
printf 'src,tgt\nsin x,cos x\nmul INT+ 2,INT+ 2\n' >bad_sym.csv
expect 1 "bad_sym.csv:3: " -- "$ARITH" train --task symbolic --model gpt2 --train-csv bad_sym.csv --run run_sym_bad
[ ! -e run_sym_bad ] && ok || bad "a rejected symbolic run left a run directory"

echo "cli_arith: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
