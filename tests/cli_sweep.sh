#!/usr/bin/env bash
# arith sweep (#17): a 2 x 2 grid under 2 seeds of a tiny model. The point directories, their
# configs, summary.csv and summary.md against the seed runs' own results; bad --vary keys and
# values refused before anything is written; a re-run skips what finished, continues a run a
# full disk stopped, and refuses a different sweep; arith eval over the sweep.
# Usage: tests/cli_sweep.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: cli_sweep.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: cli_sweep.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"

# the tiny model of cli_arith.sh; --save-every 2 leaves a checkpoint inside each run
cat >base.json <<'EOF'
{"digits": "1..2", "tokenizer": "char", "context": 16, "n": 300, "layers": 1, "d-model": 16,
 "heads": 2, "ffn": 16, "steps": 6, "save-every": 2, "samples": 0, "threads": 1}
EOF
GRID=(--vary pos=rope,alibi --vary lr=1e-3,3e-2 --seeds 2)
POINTS="pos-rope_lr-1e-3 pos-rope_lr-3e-2 pos-alibi_lr-1e-3 pos-alibi_lr-3e-2"

# step RUN_DIR: the step of its last checkpoint
step() {
    python3 - "$1/last.safetensors" <<'EOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
print(json.loads(raw[8:8 + n])["__metadata__"]["step"])
EOF
}


# --- bad grids: exit 2, the flag and value named, nothing written
expect 2 "--vary pso=rope: 'pso' is not an option of arith train; did you mean pos\?" \
    -- "$ARITH" sweep base.json --vary pso=rope --run sw
expect 2 "--vary batch-size=8: 'batch-size' is not an option of arith train; did you mean batch\?" \
    -- "$ARITH" sweep base.json --vary batch-size=8 --run sw
expect 2 "--vary pos=rope,alibo: --pos: unknown value 'alibo' \(valid: .*\); did you mean alibi\?" \
    -- "$ARITH" sweep base.json --vary pos=rope,alibo --run sw
expect 2 "--vary lr=1e-3,fast: --lr: 'fast' is not a number" \
    -- "$ARITH" sweep base.json --vary pos=rope --vary lr=1e-3,fast --run sw
expect 2 "--vary lr=1e-3,0.001: '1e-3' and '0.001' are the same value of --lr" \
    -- "$ARITH" sweep base.json --vary lr=1e-3,0.001 --run sw
expect 2 "--vary lr=1e-3,,2e-3: an empty value" -- "$ARITH" sweep base.json --vary lr=1e-3,,2e-3 --run sw
expect 2 "--vary lr: expected KEY=V1,V2" -- "$ARITH" sweep base.json --vary lr --run sw
expect 2 "--vary seed=1,2: a sweep sets --seed itself" -- "$ARITH" sweep base.json --vary seed=1,2 --run sw
expect 2 "lr is varied twice" -- "$ARITH" sweep base.json --vary lr=1e-3 --vary lr=2e-3 --run sw
expect 2 "--lr 0.1: --vary lr sets it at every point" -- "$ARITH" sweep base.json --vary lr=1e-3 --lr 0.1 --run sw
expect 2 "--layers: 'two' is not an integer" -- "$ARITH" sweep base.json --vary lr=1e-3 --layers two --run sw
expect 2 "needs at least one --vary" -- "$ARITH" sweep base.json --run sw
expect 2 "needs --run RUN" -- "$ARITH" sweep base.json --vary lr=1e-3
expect 2 "needs a CONFIG file" -- "$ARITH" sweep --vary lr=1e-3 --run sw
expect 1 "no-such.json" -- "$ARITH" sweep no-such.json --vary lr=1e-3 --run sw
[ ! -e sw ] && ok || bad "a refused sweep wrote sw/"

# --- the sweep: 4 points x 2 seeds, in order, the first axis slowest
out=$("$ARITH" sweep base.json "${GRID[@]}" --run sw 2>&1)
rc=$?
[ $rc -eq 0 ] && ok || bad "the sweep exited $rc: $(echo "$out" | tail -n 5)"
[ "$(grep -c '^== .* (. of 8): ' <<<"$out")" -eq 8 ] && ok || bad "not 8 runs: $(grep '^==' <<<"$out")"
grep -q "^== pos-rope_lr-3e-2 seed 1 (3 of 8): sw/pos-rope_lr-3e-2/seed-1$" <<<"$out" && ok \
    || bad "the third run should be pos-rope_lr-3e-2 seed 1: $(grep '^==' <<<"$out")"
for p in $POINTS; do
    for s in 1 2; do
        [ -s sw/$p/seed-$s/config.json ] && [ -s sw/$p/seed-$s/last.safetensors ] && ok \
            || bad "sw/$p/seed-$s is not a whole run"
        [ "$(step sw/$p/seed-$s)" = 6 ] && ok || bad "sw/$p/seed-$s did not take its 6 steps"
    done
    [ -s sw/$p/seeds.json ] && ok || bad "no sw/$p/seeds.json"
done
[ "$(ls sw | sort | tr '\n' ' ')" = "pos-alibi_lr-1e-3 pos-alibi_lr-3e-2 pos-rope_lr-1e-3 pos-rope_lr-3e-2 summary.csv summary.md sweep.json " ] \
    && ok || bad "sw/ holds: $(ls sw)"
# every run's config has its point's values and its seed, and the base's other settings
python3 - <<'EOF' && ok || bad "a point's config lacks its values"
import json, sys
for pos in ("rope", "alibi"):
    for lr in ("1e-3", "3e-2"):
        for seed in (1, 2):
            c = json.load(open(f"sw/pos-{pos}_lr-{lr}/seed-{seed}/config.json"))
            if c["pos"] != pos or abs(c["lr"] - float(lr)) > 1e-12 or c["seed"] != seed \
                    or c["d-model"] != 16 or c["steps"] != 6:
                sys.exit(f"pos-{pos}_lr-{lr}/seed-{seed}: {c['pos']} {c['lr']} {c['seed']}")
d = json.load(open("sw/sweep.json"))
assert [v["key"] for v in d["vary"]] == ["pos", "lr"] and d["seeds"] == 2
assert [p["name"] for p in d["points"]][1] == "pos-rope_lr-3e-2", d["points"]
EOF
# summary.csv: a row per point, its mean, sd and worst those of its seeds' final exact match
python3 - <<'EOF' && ok || bad "summary.csv does not match the seed runs: $(cat sw/summary.csv)"
import csv, json, statistics, sys
rows = list(csv.DictReader(open("sw/summary.csv")))
assert [r["point"] for r in rows] == ["pos-rope_lr-1e-3", "pos-rope_lr-3e-2",
                                      "pos-alibi_lr-1e-3", "pos-alibi_lr-3e-2"], rows
for r in rows:
    runs = json.load(open(f"sw/{r['point']}/seeds.json"))["runs"]
    fin = [x["final_accuracy"] for x in runs]
    carry = [x["carry_accuracy"] for x in runs]
    assert r["pos"] in r["point"] and r["lr"] in r["point"], r
    assert r["seeds_done"] == "2" and r["seeds_planned"] == "2", r
    assert abs(float(r["final_mean"]) - statistics.mean(fin)) < 1e-4, (r, fin)
    assert abs(float(r["final_sd"]) - statistics.stdev(fin)) < 1e-4, (r, fin)
    assert abs(float(r["worst"]) - min(fin)) < 1e-4, (r, fin)
    assert int(r["worst_seed"]) == runs[fin.index(min(fin))]["seed"], r
    assert abs(float(r["carry_mean"]) - statistics.mean(carry)) < 1e-4, (r, carry)
    assert r["edge_mean"] != "", r
EOF
[ "$(grep -c '^| pos-' sw/summary.md)" -eq 4 ] && ok || bad "summary.md: $(cat sw/summary.md)"
grep -q "^| point | pos | lr | seeds | final exact match | worst (seed) | carry-heavy | edge cases |$" \
    sw/summary.md && ok || bad "summary.md's header: $(head -n 1 sw/summary.md)"
grep -qE "^\| pos-alibi_lr-3e-2 \| alibi \| 3e-2 \| 2/2 \| [01]\.[0-9]{4} ± [0-9.]+ \| " sw/summary.md \
    && ok || bad "summary.md's rows: $(cat sw/summary.md)"
grep -qF "$(cat sw/summary.md)" <<<"$out" && ok || bad "the sweep should print summary.md"

# --- a re-run skips every finished run and trains nothing
sum_before=$(cat sw/*/seed-*/last.safetensors | cksum)
out=$("$ARITH" sweep base.json "${GRID[@]}" --run sw 2>&1)
rc=$?
[ $rc -eq 0 ] && ok || bad "the re-run exited $rc: $(echo "$out" | tail -n 5)"
grep -q "8 runs finished (skipped), 0 to resume, 0 to train" <<<"$out" && ok \
    || bad "the re-run should skip all 8: $(echo "$out" | head -n 3)"
[ "$(grep -c "finished, skipped" <<<"$out")" -eq 8 ] && ok || bad "not 8 skipped lines"
grep -q "(1 of" <<<"$out" && bad "the re-run trained again: $(grep '^==' <<<"$out")" || ok
[ "$(cat sw/*/seed-*/last.safetensors | cksum)" = "$sum_before" ] && ok \
    || bad "the re-run changed a finished run"
grep -qF "$(cat sw/summary.md)" <<<"$out" && ok || bad "the re-run should print the same table"

# --- a different sweep in the same directory is refused, naming what differs
expect 1 "sw/sweep.json describes another sweep \(its \"vary\" differs\)" \
    -- "$ARITH" sweep base.json --vary pos=rope,fire --vary lr=1e-3,3e-2 --seeds 2 --run sw
expect 1 "describes another sweep \(its config's --layers was 1, now 2\)" \
    -- "$ARITH" sweep base.json "${GRID[@]}" --layers 2 --run sw
expect 1 "describes another sweep \(its config's --layers was 1, now 2\)" \
    -- "$ARITH" sweep base.json --vary pos=rope,alibi --vary lr=1e-3,3e-2 --seeds 3 --layers 2 --run sw
expect 1 "sw/sweep.json is a sweep of 2 seeds, not 1: a sweep can be given more seeds, not fewer" \
    -- "$ARITH" sweep base.json --vary pos=rope,alibi --vary lr=1e-3,3e-2 --seeds 1 --run sw
expect 1 "describes another sweep \(its \"seed\" differs\)" \
    -- "$ARITH" sweep base.json "${GRID[@]}" --seed 5 --run sw
[ "$(cat sw/*/seed-*/last.safetensors | cksum)" = "$sum_before" ] && ok \
    || bad "a refused sweep changed a run"
# a seed sweep's or a run's directory is not a config sweep's
"$ARITH" train --config base.json --seeds 2 --run seeds >/dev/null 2>&1 || bad "train --seeds failed"
expect 1 "seeds holds a seed sweep \(arith train --seeds\)" -- "$ARITH" sweep base.json "${GRID[@]}" --run seeds
expect 1 "seeds/seed-1 already holds a run of its own" -- "$ARITH" sweep base.json "${GRID[@]}" --run seeds/seed-1
mkdir foreign && echo mine >foreign/notes.txt
expect 1 "foreign" -- "$ARITH" sweep base.json "${GRID[@]}" --run foreign
[ ! -e foreign/sweep.json ] && ok || bad "a sweep wrote into a directory that is not arith's"

# --- a full disk stops the sweep inside a run (ARITH_FAIL_WRITE_AFTER, the tests' hook): the
# first number of writes that leaves a finished run and a stopped one at step 2 or 4
found=
for n in $(seq 24 90); do
    rm -rf sw2
    ARITH_FAIL_WRITE_AFTER=$n "$ARITH" sweep base.json "${GRID[@]}" --run sw2 >/dev/null 2>&1
    [ $? -eq 1 ] || continue
    [ -s sw2/pos-rope_lr-1e-3/seed-1/last.safetensors ] || continue
    [ "$(step sw2/pos-rope_lr-1e-3/seed-1)" = 6 ] || continue
    [ -s sw2/pos-rope_lr-1e-3/seed-2/last.safetensors ] || continue
    s=$(step sw2/pos-rope_lr-1e-3/seed-2)
    [ "$s" = 2 ] || [ "$s" = 4 ] || continue
    found=$n
    break
done
[ -n "$found" ] && ok || bad "no ARITH_FAIL_WRITE_AFTER in 24..90 stopped seed 2 of the first point inside its run"
if [ -n "$found" ]; then
    out=$("$ARITH" sweep base.json "${GRID[@]}" --run sw2 2>&1)
    rc=$?
    [ $rc -eq 0 ] && ok || bad "the resumed sweep exited $rc: $(echo "$out" | tail -n 5)"
    grep -q "1 runs finished (skipped), 1 to resume, 6 to train" <<<"$out" && ok \
        || bad "the re-run's plan: $(grep '^sweep' <<<"$out")"
    grep -q "^== pos-rope_lr-1e-3 seed 1: finished, skipped" <<<"$out" && ok || bad "seed 1 not skipped"
    grep -q "^== pos-rope_lr-1e-3 seed 2, resumed (1 of 7): sw2/pos-rope_lr-1e-3/seed-2$" <<<"$out" \
        && ok || bad "seed 2 not resumed: $(grep '^==' <<<"$out")"
    first=$(awk '/^== pos-rope_lr-1e-3 seed 2, resumed/ { on = 1 } on && /^step [0-9]+\/6/ { print $2; exit }' <<<"$out")
    [ "$first" = "$((s + 1))/6" ] && ok \
        || bad "the resumed run should go on from step $s, its first step is $first"
    # resumed on the same thread count, it is the run that never stopped, bit for bit
    [ "$(tensor_diff sw2/pos-rope_lr-1e-3/seed-2/last.safetensors sw/pos-rope_lr-1e-3/seed-2/last.safetensors)" = 0 ] && ok \
        || bad "the resumed run's weights differ from the uninterrupted run's"
    for p in $POINTS; do
        for k in 1 2; do
            [ "$(step sw2/$p/seed-$k)" = 6 ] && ok || bad "sw2/$p/seed-$k did not reach step 6"
        done
    done
    python3 -c "import csv,sys; r=list(csv.DictReader(open('sw2/summary.csv'))); sys.exit(not (len(r) == 4 and all(x['seeds_done'] == '2' for x in r)))" \
        && ok || bad "sw2/summary.csv after the resume: $(cat sw2/summary.csv)"
fi

# --- arith eval over the sweep: every point, then a table; its last checkpoints' exact match
# is the summary's final
out=$("$ARITH" eval sw --threads 1 2>&1)
rc=$?
[ $rc -eq 0 ] && ok || bad "eval sw exited $rc: $(echo "$out" | tail -n 5)"
[ "$(grep -c '^== point sw/pos-' <<<"$out")" -eq 4 ] && ok || bad "eval sw: not 4 points"
grep -q "^| point | pos | lr | seeds | exact match | worst (seed) | carry-heavy | edge cases |$" \
    <<<"$out" && ok || bad "eval sw: no table: $(echo "$out" | tail -n 6)"
[ "$(grep -cE '^\| pos-[a-z]+_lr-[0-9e-]+ \| [a-z]+ \| [0-9e-]+ \| 2 \| [01]\.[0-9]{4} ± ' <<<"$out")" -eq 4 ] \
    && ok || bad "eval sw's rows: $(echo "$out" | tail -n 6)"
"$ARITH" eval sw --checkpoint last --json --threads 1 >eval.json 2>/dev/null || bad "eval --json failed"
python3 - <<'EOF' && ok || bad "eval --json over the sweep: $(head -c 400 eval.json)"
import csv, json
d = json.load(open("eval.json"))
rows = {r["point"]: r for r in csv.DictReader(open("sw/summary.csv"))}
assert len(d["points"]) == 4
for p in d["points"]:
    r = rows[p["point"]]
    assert p["values"] == {"pos": r["pos"], "lr": r["lr"]}, p["values"]
    assert abs(p["eval"]["accuracy"]["mean"] - float(r["final_mean"])) < 1e-4, (p, r)
EOF
expect 0 "largest length at >= 0.99" -- "$ARITH" eval sw --grid 1..2 --grid-n 4 --threads 1
[ -s sw/pos-rope_lr-1e-3/grid-1-2.csv ] && ok || bad "eval --grid wrote no grid for a point"
expect 0 "exact match over 2 seeds" -- "$ARITH" eval sw/pos-alibi_lr-1e-3 --threads 1

# --- more seeds for a sweep that finished: the runs there are kept, only the new seeds train
cp -r sw sw3
old_runs=$(cat sw3/*/seed-[12]/last.safetensors | cksum)
out=$("$ARITH" sweep base.json --vary pos=rope,alibi --vary lr=1e-3,3e-2 --seeds 3 --run sw3 2>&1)
rc=$?
[ $rc -eq 0 ] && ok || bad "growing the sweep to 3 seeds exited $rc: $(echo "$out" | tail -n 5)"
grep -q "8 runs finished (skipped), 0 to resume, 4 to train" <<<"$out" && ok \
    || bad "growing the sweep should train 4 runs: $(grep '^sweep' <<<"$out")"
[ "$(cat sw3/*/seed-[12]/last.safetensors | cksum)" = "$old_runs" ] && ok \
    || bad "growing the sweep changed a finished run"
for p in $POINTS; do
    [ "$(step sw3/$p/seed-3)" = 6 ] && ok || bad "sw3/$p/seed-3 did not reach step 6"
done
python3 - <<'EOF' && ok || bad "after growing: $(cat sw3/summary.csv; head -c 300 sw3/sweep.json)"
import csv, json
assert json.load(open("sw3/sweep.json"))["seeds"] == 3
rows = list(csv.DictReader(open("sw3/summary.csv")))
assert len(rows) == 4 and all(r["seeds_done"] == "3" and r["seeds_planned"] == "3" for r in rows), rows
for r in rows:
    d = json.load(open("sw3/%s/seeds.json" % r["point"]))
    assert [x["seed"] for x in d["runs"]] == [1, 2, 3], d["runs"]
EOF
grep -qE "^\| pos-alibi_lr-3e-2 \| alibi \| 3e-2 \| 3/3 \| " sw3/summary.md && ok \
    || bad "summary.md after growing: $(cat sw3/summary.md)"
# the grown sweep does not shrink back
expect 1 "sw3/sweep.json is a sweep of 3 seeds, not 2" -- "$ARITH" sweep base.json "${GRID[@]}" --run sw3

echo "cli_sweep: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
