#!/usr/bin/env bash
# Several processes as one job (issue #17), under `mpirun -np 2 --oversubscribe` on one machine:
# a seed sweep and a config sweep (arith sweep) spread over 2 ranks; a data-parallel run against the one-process run at the same
# global batch (weights within float rounding after 200 steps, every loss line the same) and
# against itself (the same bits); SIGTERM to the ranks and a resume under mpirun; a rank killed with kill -9,
# named by mpirun, with the finished runs left whole. Built only with -DARITH_MPI=ON.
# Usage: tests/mpi_train.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: mpi_train.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: mpi_train.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"
command -v mpirun >/dev/null || { echo "mpi_train: no mpirun (scripts/setup --mpi installs Open MPI)"; exit 1; }
if [ "$(id -u)" -eq 0 ]; then # Open MPI refuses root unless told
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
MPIRUN=(timeout 300 mpirun -np 2 --oversubscribe)
set -m # background jobs in their own process group: kill -TERM reaches mpirun alone

TINY=(--digits 2 --n 2000 --layers 1 --d-model 32 --heads 4 --ffn 32 --batch 32 --eval-n 100
      --samples 0 --threads 1 --dropout 0)


# --- the MPI build runs alone without mpirun
expect 0 "run saved in alone" -- "$ARITH" train "${TINY[@]}" --steps 20 --run alone

# --- a seed sweep over 2 ranks: seeds 1 and 3 on rank 0, seed 2 on rank 1; one summary
out=$("${MPIRUN[@]}" "$ARITH" train "${TINY[@]}" --steps 60 --seeds 3 --run sweep 2>&1)
rc=$?
[ $rc -eq 0 ] && ok || bad "the 2-rank sweep exited $rc: $(echo "$out" | tail -n 5)"
grep -q "== seed 2 (2 of 3) on rank 1 of 2: sweep/seed-2" <<<"$out" && ok \
    || bad "seed 2 should run on rank 1: $(grep '^==' <<<"$out")"
[ "$(grep -c "^final exact match over 3 seeds" <<<"$out")" -eq 1 ] && ok \
    || bad "the summary should come once, from rank 0: $(echo "$out" | tail -n 5)"
python3 -c "import json,sys; d=json.load(open('sweep/seeds.json')); sys.exit(not (d['seeds_done'] == 3 and [r['seed'] for r in d['runs']] == [1, 2, 3]))" \
    && ok || bad "sweep/seeds.json: $(head -c 300 sweep/seeds.json)"
for s in 1 2 3; do
    [ -s sweep/seed-$s/best.safetensors ] && [ -s sweep/seed-$s/config.json ] && ok \
        || bad "sweep/seed-$s is not a whole run"
done
# each seed's run is the one a single process makes
"$ARITH" train "${TINY[@]}" --steps 60 --seed 2 --run seed2 >/dev/null 2>&1
d=$(tensor_diff sweep/seed-2/last.safetensors seed2/last.safetensors)
[ "$d" = 0 ] && ok || bad "seed 2 on rank 1 differs from seed 2 alone by $d"

# --- a config sweep over 2 ranks (arith sweep): 2 points x 2 seeds, rank r the runs r, r + 2;
# the same summary as one process makes, written once; a re-run on 2 ranks skips them all
cat >sweep.json <<'EOF'
{"digits": 2, "n": 2000, "layers": 1, "d-model": 32, "heads": 4, "ffn": 32, "batch": 32,
 "eval-n": 100, "samples": 0, "threads": 1, "dropout": 0, "steps": 30}
EOF
out=$("${MPIRUN[@]}" "$ARITH" sweep sweep.json --vary lr=1e-3,3e-3 --seeds 2 --run grid2 2>&1)
rc=$?
[ $rc -eq 0 ] && ok || bad "the 2-rank config sweep exited $rc: $(echo "$out" | tail -n 5)"
grep -q "^== lr-1e-3 seed 2 (2 of 4) on rank 1 of 2: grid2/lr-1e-3/seed-2$" <<<"$out" && ok \
    || bad "lr-1e-3 seed 2 should run on rank 1: $(grep '^==' <<<"$out")"
[ "$(grep -c "^| lr-" <<<"$out")" -eq 2 ] && ok \
    || bad "the sweep's table should come once, from rank 0: $(grep '^|' <<<"$out")"
"$ARITH" sweep sweep.json --vary lr=1e-3,3e-3 --seeds 2 --run grid1 >/dev/null 2>&1 \
    || bad "the 1-process config sweep failed"
cmp -s grid1/summary.csv grid2/summary.csv && ok \
    || bad "2 ranks and 1 process give different summaries: $(diff grid1/summary.csv grid2/summary.csv)"
[ "$(grep -c '^lr-' grid2/summary.csv)" -eq 2 ] && ok || bad "grid2/summary.csv: $(cat grid2/summary.csv)"
out=$("${MPIRUN[@]}" "$ARITH" sweep sweep.json --vary lr=1e-3,3e-3 --seeds 2 --run grid2 2>&1)
grep -q "4 runs finished (skipped), 0 to resume, 0 to train" <<<"$out" && ok \
    || bad "the 2-rank re-run should skip every run: $(echo "$out" | head -n 3)"
cmp -s grid1/summary.csv grid2/summary.csv && ok || bad "the re-run changed the summary"

# --- data-parallel: 2 ranks of 16 rows against 1 process of 32, 200 steps
"$ARITH" train "${TINY[@]}" --steps 200 --run one >/dev/null 2>&1 || bad "the 1-process run failed"
out=$("${MPIRUN[@]}" "$ARITH" train "${TINY[@]}" --steps 200 --run two 2>&1)
rc=$?
[ $rc -eq 0 ] && ok || bad "the data-parallel run exited $rc: $(echo "$out" | tail -n 5)"
grep -q "data-parallel over 2 ranks (MPI): each takes 16 or 16 of a batch's 32 rows" <<<"$out" \
    && ok || bad "no data-parallel line in the run header"
[ "$(grep -c "^final test exact match" <<<"$out")" -eq 1 ] && ok \
    || bad "the result should be printed once, by rank 0"
d=$(tensor_diff one/last.safetensors two/last.safetensors)
python3 -c "import sys; sys.exit(not float('$d') < 1e-5)" && ok \
    || bad "2 ranks and 1 process differ by $d in the weights after 200 steps"
echo "mpi_train: 2 ranks against 1 process after 200 steps: largest weight difference $d"
losses() { # the step and the loss, to 4 decimals, of every training line
    python3 -c "import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get('kind') == 'train':
        print(d['step'], '%.4f' % d['loss'])" "$1"
}
losses one/metrics.jsonl >one.loss
losses two/metrics.jsonl >two.loss
[ -s one.loss ] && cmp -s one.loss two.loss && ok \
    || bad "the loss lines differ: $(diff one.loss two.loss | head -n 4)"
"${MPIRUN[@]}" "$ARITH" train "${TINY[@]}" --steps 200 --run two_again >/dev/null 2>&1
d=$(tensor_diff two/last.safetensors two_again/last.safetensors)
[ "$d" = 0 ] && ok || bad "two data-parallel runs differ by $d: not bit-identical"

# --- SIGTERM: every rank stops at the same step, rank 0 saves; then resume on 2
# ranks and on 1 process
"${MPIRUN[@]}" "$ARITH" train "${TINY[@]}" --steps 200000 --eval-every 100000 --run stop >stop.log 2>&1 &
pid=$!
for _ in $(seq 150); do grep -q '"loss"' stop/metrics.jsonl 2>/dev/null && break; sleep 0.2; done
# SIGTERM to every rank, as a scheduler (Slurm) sends it at a time limit (mpirun's own SIGTERM
# also works, but it kills the ranks when they take longer than its timeout to save)
pkill -TERM -f "^$ARITH train .*--run stop" # the ranks, not mpirun
wait $pid
rc=$?
[ $rc -ne 0 ] && ok || bad "SIGTERM to the ranks gave exit 0: $(tail -n 3 stop.log)"
grep -q "stopped by SIGTERM at step [0-9]* of 200000; last.safetensors saved in stop" stop.log \
    && ok || bad "no stop message from rank 0: $(tail -n 3 stop.log)"
step=$(python3 -c "
import json, struct
raw = open('stop/last.safetensors', 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
print(json.loads(raw[8:8 + n])['__metadata__']['step'])")
next=$((step + 40))
expect 0 "run saved in stop" -- "${MPIRUN[@]}" "$ARITH" train --resume stop --steps $next
expect 0 "run saved in stop" -- "$ARITH" train --resume stop --steps $((next + 40))

# --- kill -9 of one rank during a sweep: mpirun names it and ends the job; the runs that
# finished are whole
"${MPIRUN[@]}" "$ARITH" train "${TINY[@]}" --steps 200000 --eval-every 100000 --seeds 2 --run killed >killed.log 2>&1 &
pid=$!
for _ in $(seq 150); do # both ranks training (up to 30 s on a busy machine)
    [ -s killed/seed-2/metrics.jsonl ] && [ -s killed/seed-1/metrics.jsonl ] && break
    sleep 0.2
done
[ -s killed/seed-2/metrics.jsonl ] && [ -s killed/seed-1/metrics.jsonl ] && ok \
    || bad "the sweep's ranks did not start within 30 s: $(tail -n 3 killed.log)"
victim=$(pgrep -f "^$ARITH train .*--run killed" | sort -n | tail -n 1) # a rank, not mpirun
kill -9 "$victim"
wait $pid
rc=$?
[ $rc -ne 0 ] && ok || bad "a killed rank should fail the job"
grep -qE "process rank [01] .* exited on signal 9" killed.log && ok \
    || bad "mpirun should name the killed rank: $(tail -n 4 killed.log)"
for s in 1 2; do
    python3 -c "import json,sys; json.load(open('killed/seed-$s/config.json'))" && ok \
        || bad "killed/seed-$s/config.json is not whole: $(ls -A killed/seed-$s 2>&1)"
done

echo "mpi_train: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
