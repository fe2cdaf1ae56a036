#!/usr/bin/env bash
# What a newcomer's mistakes get (#16): "did you mean" for commands, flags (PyTorch's and
# Hugging Face's spellings too), choices and config keys in every command; the command's flags
# listed after an unknown one, and whose flag it is when it belongs to another command;
# booleans alone, with a value or with =, before a run directory too; --help of every command
# within the terminal's width (at most 100 columns), continuations indented, one default per
# flag, placeholders that say what goes there.
# Usage: tests/cli_help.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: cli_help.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: cli_help.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"
unset COLUMNS

# --- commands
expect 2 "unknown command 'trian'; did you mean train\?" -- "$ARITH" trian
expect 2 "unknown command 'Predcit'; did you mean predict\?" -- "$ARITH" Predcit
expect 2 "unknown command 'evaluate'; did you mean eval\?" -- "$ARITH" evaluate
expect 2 "unknown command 'generate'; did you mean predict\?" -- "$ARITH" generate
expect 2 "unknown command 'fit'; did you mean train\?" -- "$ARITH" fit
expect 2 "unknown command 'grid-search'; did you mean sweep\?" -- "$ARITH" grid-search
expect 2 "unknown command 'reprot'; did you mean report\?" -- "$ARITH" reprot
expect 2 "\(valid: train, sweep, eval, predict, data, plot, attention, probe, report, tasks, version\)" -- "$ARITH" xyzzy
out=$("$ARITH" xyzzy 2>&1)
grep -q "did you mean" <<<"$out" && bad "a suggestion for xyzzy: $out" || ok
expect 2 "hint: options follow a command, as in arith train --epochs 3" -- "$ARITH" --epochs 3

# --- flags: the nearest, another tool's spelling, every command
for pair in epoch:epochs batch-size:batch batch_size:batch num-layers:layers n_layer:layers \
            learning-rate:lr learning_rate:lr lr-scheduler:schedule warmup-steps:warmup \
            max-steps:steps num-heads:heads n-embd:d-model max-grad-norm:clip-norm \
            output-dir:run block-size:context optimizer:optim lay:layers Dropout:dropout; do
    expect 2 "unknown option --${pair%%:*}; did you mean --${pair#*:}\?" \
        -- "$ARITH" train "--${pair%%:*}" 3
done
expect 2 "did you mean --eval-every, --eval-n or --eval-batch\?" -- "$ARITH" train --eval 3
expect 2 "did you mean --d-model or --hidden\?" -- "$ARITH" train --hidden-size 64
expect 2 "unknown option --beams; did you mean --beam\?" -- "$ARITH" eval run --beams 2
expect 2 "unknown option --num-beams; did you mean --beam\?" -- "$ARITH" predict run --num-beams 2
expect 2 "unknown option --jsno; did you mean --json\?" -- "$ARITH" predict run --jsno
expect 2 "unknown option --output; did you mean --out\?" -- "$ARITH" data --output x.csv
expect 2 "unknown option --taks; did you mean --task\?" -- "$ARITH" data --taks add
expect 2 "unknown option --tagret; did you mean --target\?" -- "$ARITH" probe run --tagret carry
out=$("$ARITH" train --zzzz 1 2>&1)
grep -q "did you mean" <<<"$out" && bad "a suggestion for --zzzz: $out" || ok

# every command lists its flags after an unknown one, compactly (not the help)
for cmd in train sweep eval predict data probe report tasks; do
    out=$("$ARITH" $cmd --no-such-flag 2>&1)
    rc=$?
    [ "$rc" -eq 2 ] && grep -q "^valid options of arith $cmd (arith $cmd --help explains each):" \
        <<<"$out" && ok || bad "$cmd --no-such-flag: exit $rc, $out"
    [ "$(wc -l <<<"$out")" -le 12 ] && ok || bad "$cmd --no-such-flag lists more than a few lines"
    awk 'length($0) > 100 { exit 1 }' <<<"$out" && ok || bad "$cmd --no-such-flag: a line over 100"
done
expect 2 "^  --task, --subtask, --digits," -- "$ARITH" train --no-such-flag
# the list, its lines joined, ends with the run's own flags
"$ARITH" train --no-such-flag 2>&1 | sed -n '/^valid options/,$p' | tail -n +2 | tr -s ' \n' ' ' \
    | grep -q -- "--config, --resume, --no-verify, --restart-schedule $" \
    && ok || bad "train --no-such-flag should list --config, --resume, --no-verify, --restart-schedule last"
expect 2 "^  --checkpoint, --batch, --threads, --beam, --no-verify, --json, --tsv, --scratchpad, --logits$" -- "$ARITH" predict r --x
expect 2 "^  none but --help$" -- "$ARITH" tasks --x
# another command's flag: whose it is
expect 2 "hint: --reverse is an option of arith train; arith data writes plain prompts" \
    -- "$ARITH" data --reverse
expect 2 "hint: --zero-pad is an option of arith train; a run keeps the value it was trained" \
    -- "$ARITH" eval run --zero-pad
expect 2 "hint: --grid is an option of arith eval" -- "$ARITH" predict run --grid 1..3

# choices and config keys
expect 2 "--pos: unknown value 'alibo' \(valid: .*\); did you mean alibi\?" \
    -- "$ARITH" train --pos alibo
expect 2 "--task: unknown value 'ad' \(valid: .*\); did you mean add\?" -- "$ARITH" data --task ad
expect 2 "--checkpoint: unknown value 'Last' \(valid: best,last\); did you mean last\?" \
    -- "$ARITH" eval run --checkpoint Last
printf '{"batch_size": 8}' >typo.json
expect 2 "typo.json: unknown option \"batch_size\"; did you mean \"batch\"\?" \
    -- "$ARITH" train --config typo.json

# --- booleans: alone, with a word, with =, in any case; the next argument is not taken unless
# it is a boolean's word
SMALL=(--digits 2 --n 400 --layers 1 --d-model 16 --heads 2 --ffn 16 --batch 32 --eval-n 20
       --samples 0 --threads 1 --steps 4 --carry-n 2)
expect 0 "" -- "$ARITH" train "${SMALL[@]}" --tokenizer char --reverse --zero-pad=YES \
    --index-hints no --run b1
has() { grep -qE "\"$1\":[[:space:]]*$2" "$3/config.json"; }
has reverse true b1 && has zero-pad true b1 && has index-hints false b1 && ok \
    || bad "booleans in b1/config.json"
expect 0 "" -- "$ARITH" train "${SMALL[@]}" --tokenizer char --reverse=false --zero-pad 1 \
    --reverse-answer auto --run b2
has reverse false b2 && has zero-pad true b2 && ok || bad "booleans in b2/config.json"
expect 0 '^\{"run": ' -- "$ARITH" eval --json b1        # a bare boolean before the run
expect 0 '^\{"run": ' -- "$ARITH" eval b1 --json
expect 0 '^\{"run": ' -- "$ARITH" eval b1 --json true
expect 0 '^\{"run": ' -- "$ARITH" eval b1 --json=Yes
expect 0 "^exact match" -- "$ARITH" eval b1 --json 0
expect 0 "^exact match" -- "$ARITH" eval b1 --json=no
expect 0 "^exact match" -- "$ARITH" eval b1 --json=false --teacher-forced
expect 2 "--json: 'maybe' is not a boolean \(valid: true, false, yes, no, 1, 0\)" \
    -- "$ARITH" eval b1 --json=maybe
expect 2 "--reverse: 'maybe' is not a boolean" -- "$ARITH" train --reverse=maybe
expect 0 '^\{"prompt": "12\+34=", "answer": ' -- "$ARITH" predict --json b1 "12+34="
expect 0 '^12\+34=	' -- "$ARITH" predict b1 --tsv "12+34="

# --- help: every command's, within 100 columns or $COLUMNS (60..100), continuations indented,
# one default per flag, placeholders
for cmd in "" train sweep eval predict data probe report tasks; do
    for cols in "" 60 80 200; do
        want=${cols:-100}
        [ "$want" -gt 100 ] && want=100
        out=$(COLUMNS=$cols "$ARITH" $cmd --help)
        rc=$?
        [ "$rc" -eq 0 ] && ok || bad "arith $cmd --help exited $rc"
        long=$(awk -v w="$want" 'length($0) > w' <<<"$out")
        [ -z "$long" ] && ok || bad "arith $cmd --help (COLUMNS=$cols) over $want: $long"
        # after an option's line, a continuation starts under the help or a choice's summary
        odd=$(awk '/^[a-z]+:$/ { on = 1; next } /^\[BOOL\]/ { on = 0 } /^$/ { next }
                   on && !/^  --/ && !/^    / { print }' <<<"$out")
        [ -z "$cmd" ] || [ -z "$odd" ] && ok \
            || bad "arith $cmd --help (COLUMNS=$cols): unindented: $odd"
        grep -q "(default:$" <<<"$out" && bad "arith $cmd --help splits a default" || ok
        grep -qw "TEXT" <<<"$out" && bad "arith $cmd --help shows a TEXT placeholder" || ok
    done
done
help=$("$ARITH" train --help)
for shown in "--train-csv FILE" "--test-csv FILE" "--init FILE" "--run DIR" "--config FILE" \
             "--resume RUN_DIR" "--lr X" "--layers N" "--digits N|A..B" "--task NAME" \
             "--reverse \[BOOL\]" "--zero-pad \[BOOL\|auto\]" "--threads N\|auto"; do
    grep -qE -- "^  $shown " <<<"$help" && ok || bad "train --help lacks '$shown'"
done
# --run: its one default
run_help=$(awk '/^  --run / { p = 1; print; next } p && /^   / { print; next } { p = 0 }' \
    <<<"$help")
[ "$(grep -o "default" <<<"$run_help" | wc -l)" -eq 1 ] && ok || bad "--run's help: $run_help"
grep -q "(default: none)" <<<"$run_help" && bad "--run shows 'default: none'" || ok
help=$("$ARITH" eval --help)
for shown in "--csv FILE" "--grid A..B" "--json \[BOOL\]" "--checkpoint NAME" "--beam K"; do
    grep -qE -- "^  $shown " <<<"$help" && ok || bad "eval --help lacks '$shown'"
done
expect 0 "^  --out FILE " -- "$ARITH" data --help
expect 0 "^  --tsv \[BOOL\] " -- "$ARITH" predict --help
expect 0 "^\[BOOL\]: a boolean flag alone means true" -- "$ARITH" eval --help

echo "cli_help: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
