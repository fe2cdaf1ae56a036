#!/usr/bin/env bash
# arith probe (#16): linear probes of a run's hidden states per layer and answer digit. A tiny
# transformer that learned 3-digit sums holds every answer digit linearly at its last layer
# (held out), and the carry somewhere; the same model barely trained holds much less; the
# JSON has its shape (layers x digits, a baseline per digit, the carry into the units blank),
# is the file RUN/probe-TARGET.json holds, and --layer L repeats that layer's row exactly; the
# SVG is well formed with a cell per (layer, digit); an LSTM and seq2seq run are probed too;
# bad flags, another task, a layer out of range and a missing run are refused with nothing
# written.
# Usage: tests/cli_probe.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: cli_probe.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: cli_probe.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"
TINY=(--task add --digits 3 --layers 2 --d-model 32 --heads 4 --ffn 64 --n 6000 --lr 3e-3
      --threads 1 --samples 0 --carry-n 10 --eval-n 200)

# --- two runs of the same model: trained (500 steps, a few seconds) and barely (1 step)
expect 0 "final test exact match: 0\.9[5-9]|final test exact match: 1\.0000" \
    -- "$ARITH" train "${TINY[@]}" --steps 500 --run good
expect 0 "" -- "$ARITH" train "${TINY[@]}" --steps 1 --lr 1e-9 --run raw

# --- refused before anything is written
expect 2 "usage: arith probe RUN_DIR" -- "$ARITH" probe
expect 2 "unknown option --tagret; did you mean --target\?" -- "$ARITH" probe good --tagret carry
expect 2 "--target: unknown value 'carr' \(valid: carry,carry-out,sum-digit\); did you mean carry\?" \
    -- "$ARITH" probe good --target carr
expect 2 "--layer 3: this model's layers are 0\.\.2 \(0: the input of the first layer" \
    -- "$ARITH" probe good --layer 3
expect 2 "--layer -1: expected a layer's index \(0, 1, \.\.\.\) or all" -- "$ARITH" probe good --layer -1
expect 2 "--n: 5 is out of range \(10\.\.1000000\)" -- "$ARITH" probe good --n 5
expect 2 "--test-frac: 1 is out of range" -- "$ARITH" probe good --test-frac 1
expect 1 "nope: no such run directory" -- "$ARITH" probe nope
ls good/probe-* >/dev/null 2>&1 && bad "a refused probe wrote $(ls good/probe-*)" || ok
expect 0 "" -- "$ARITH" train --task mul --digits 2 --n 400 --steps 2 --layers 1 --d-model 16 \
    --heads 2 --ffn 16 --threads 1 --samples 0 --run mul
expect 2 "--target carry probes the answer's columns of task add; this run's task is mul" \
    -- "$ARITH" probe mul
ls mul/probe-* >/dev/null 2>&1 && bad "probe wrote into the mul run" || ok

# --- sum-digit: the table, then the JSON
expect 0 "^layer +d0 +d1 +d2 +d3 +mean$" -- "$ARITH" probe good --target sum-digit --n 1000 --threads 1
expect 0 "^majority +0\.[0-9]{3} " -- "$ARITH" probe good --target sum-digit --n 1000 --threads 1
expect 0 "wrote good/probe-sum-digit\.svg and good/probe-sum-digit\.json" \
    -- "$ARITH" probe good --target sum-digit --n 1000 --threads 1
"$ARITH" probe good --target sum-digit --n 1000 --threads 1 --json >good.json 2>err.txt \
    && ok || bad "probe good --json: $(cat err.txt)"
"$ARITH" probe raw --target sum-digit --n 1000 --threads 1 --json >raw.json 2>err.txt \
    && ok || bad "probe raw --json: $(cat err.txt)"
cmp -s good.json good/probe-sum-digit.json && ok || bad "--json differs from probe-sum-digit.json"
python3 - <<'EOF' && ok || bad "sum-digit probes: see above"
import json, math, sys
good, raw = json.load(open("good.json")), json.load(open("raw.json"))
fail = []
for r in (good, raw):
    if r["target"] != "sum-digit" or r["classes"] != 10: fail.append("target %s" % r["target"])
    if r["layers"] != [0, 1, 2] or r["positions"] != [0, 1, 2, 3]: fail.append("axes")
    if r["n_train"] != 800 or r["n_test"] != 200: fail.append("counts %d %d" % (r["n_train"], r["n_test"]))
    if len(r["accuracy"]) != 3 or any(len(row) != 4 for row in r["accuracy"]): fail.append("shape")
    if len(r["baseline"]) != 4 or r["n_test_at"] != [200] * 4: fail.append("baseline")
    for row in r["accuracy"]:
        if any(v is None or not 0 <= v <= 1 for v in row): fail.append("a cell %s" % row)
# the trained model writes each digit from its last layer: a linear probe reads it there
last = good["accuracy"][2]
if min(last) < 0.95: fail.append("trained, last layer %s" % last)
# far above the majority class (about 0.1 but for the top digit, 0 or 1)
if any(a < b + 0.3 for a, b in zip(last[:3], good["baseline"][:3])): fail.append("vs baseline")
# the barely trained model's last layer holds much less of it
if sum(raw["accuracy"][2]) / 4 > sum(last) / 4 - 0.2: fail.append("raw %s" % raw["accuracy"][2])
if good["best_layer"]["layer"] != 2: fail.append("best layer %s" % good["best_layer"])
# read where digit i is predicted, layer 0 holds the token before it, not the digit itself
if max(good["accuracy"][0][:3]) > 0.5: fail.append("layer 0 reads the digit %s" % good["accuracy"][0])
print("sum-digit, last layer: trained %s, barely trained %s" % (last, raw["accuracy"][2]))
if fail: sys.exit("; ".join(fail))
EOF

# --- carry: blank at the units, decodable somewhere; --layer repeats its row exactly
"$ARITH" probe good --n 1000 --threads 1 --json >carry.json 2>err.txt && ok \
    || bad "probe good (carry): $(cat err.txt)"
[ -f good/probe-carry.json ] && [ -f good/probe-carry.svg ] && ok || bad "good/probe-carry.*"
"$ARITH" probe good --n 1000 --threads 1 --json --layer 1 --out one.svg >one.json 2>err.txt \
    && ok || bad "probe good --layer 1: $(cat err.txt)"
[ -f one.svg ] && ok || bad "--out one.svg was not written"
python3 - <<'EOF' && ok || bad "carry probes: see above"
import json, sys
c, one = json.load(open("carry.json")), json.load(open("one.json"))
fail = []
if c["target"] != "carry" or c["classes"] != 2: fail.append("target")
if any(row[0] is not None for row in c["accuracy"]): fail.append("the carry into the units")
if c["baseline"][0] != 1: fail.append("baseline at the units %s" % c["baseline"][0])
for i in (1, 2, 3):
    best = max(row[i] for row in c["accuracy"])
    if best < 0.85: fail.append("carry into digit %d: at most %s" % (i, best))
if one["layers"] != [1] or one["accuracy"] != [c["accuracy"][1]]:
    fail.append("--layer 1 %s, all layers' row 1 %s" % (one["accuracy"], c["accuracy"][1]))
print("carry:", c["accuracy"], "majority", c["baseline"])
if fail: sys.exit("; ".join(fail))
EOF
# one layer's probes are written beside the whole table, not over it
cmp -s one.json good/probe-carry-layer1.json && ok || bad "--layer 1: good/probe-carry-layer1.json"
python3 -c "import json,sys; sys.exit(json.load(open('good/probe-carry.json'))['layers'] != [0, 1, 2])" \
    && ok || bad "--layer 1 overwrote good/probe-carry.json"
python3 - <<'EOF' && ok || bad "probe-sum-digit.svg: see above"
import xml.dom.minidom as m
d = m.parse("good/probe-sum-digit.svg")
rects = d.getElementsByTagName("rect")
cells = [r for r in rects if r.getAttribute("class") == "cell"]
base = [r for r in rects if r.getAttribute("class") == "baseline"]
assert len(cells) == 12 and len(base) == 4, (len(cells), len(base))
texts = " ".join(t.firstChild.data for t in d.getElementsByTagName("text") if t.firstChild)
assert "answer digit (0: the units)" in texts and "layer 2" in texts and "majority" in texts
EOF

# --- the recurrent families: an LSTM's h per layer, seq2seq's decoder
expect 0 "" -- "$ARITH" train --model lstm --task add --digits 2 --layers 2 --hidden 32 \
    --d-model 16 --n 2000 --steps 50 --threads 1 --samples 0 --run lstm
expect 0 "^2 +(-|0\.[0-9]{3}) +0\.[0-9]{3} +0\.[0-9]{3} " -- "$ARITH" probe lstm --n 300 --threads 1
expect 0 "" -- "$ARITH" train --model seq2seq --task add --style spaced --tokenizer char \
    --answer-width 3 --digits 2 --layers 1 --hidden 16 --d-model 8 --n 2000 --steps 30 \
    --threads 1 --samples 0 --run s2s
expect 0 "^1 +0\.[0-9]{3} +0\.[0-9]{3} " -- "$ARITH" probe s2s --target sum-digit --n 300 --threads 1

echo "cli_probe: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
