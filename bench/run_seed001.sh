#!/usr/bin/env bash
# Seed 001 benchmark: arith vs PyTorch on the notebook "Teach an LLM to do additions".
#
# Usage:
#   bench/run_seed001.sh [BUILD_DIR] [--threads N] [--steps S] [--gen-n G] [--busy [B]]
#     BUILD_DIR  arith's CMake build directory (default: build); runs BUILD_DIR/bench/bench_seed001
#     --threads  threads for both sides (default 2)
#     --steps    timed training steps, after 5 untimed warm-up steps (default 30)
#     --gen-n    prompts to answer greedily, in batches of 64 (default 6400; smaller values
#                are extrapolated to 6400 in the table)
#     --busy     after the quiet runs, start B busy loops (sh -c 'while :; do :; done', default
#                B = 1) and run both sides again; prints each side's quiet and busy median
#                ms/step and busy/quiet. `--busy 1` leaves one of 2 cores to the benchmark's 2
#                threads, `--busy 3` oversubscribes it. The loops are killed when the script
#                ends, however it ends. arith also runs with --threads auto (its default) before
#                and beside the loops: a third row, with the thread counts it chose.
#   Environment: PYTHON (default /usr/bin/python3, Debian's python with torch).
#
# It runs arith's bench_seed001, then bench/seed001_torch.py, with the same arguments; each
# prints one JSON line last ({"impl":..., "train_ms_step_median":..., "gen_n":...,
# "gen_seconds":..., ...}). The script parses both and prints ms/step, generation time, the
# ratios (torch / arith) and the BLAS each side ran with. Exit status is non-zero if either
# side fails or prints no JSON. First it prints the machine's FP32 FMA peak (BUILD_DIR/bench/
# bench_peak: 512- and 256-bit FMAs in registers, 1 and 2 threads); the training step's GFLOP/s
# (flops_step from bench_seed001: the model's matrix products, 5.70 GFLOP) is given for both
# sides as a share of the 2-thread peak.
#
# Fairness: both sides get the same thread count (their --threads, and OMP_NUM_THREADS), the
# same task and batch (9-digit sums, aligned-pairs tokenizer, batch 64, 22-token training
# sequences, 11 generated tokens), the same model (8 post-LN layers, d_model 128, 16 heads,
# FFN 64, dropout 0.1 in training, sinusoidal positions, AdamW lr 8e-4). arith's products run on
# oneDNN's sgemm; PyTorch gets its best setup here, OpenBLAS built with OpenMP (Debian's torch
# sends its matrix products to the system BLAS; BLIS measured slower, bench/run_gemm.sh; the
# reference BLAS is 8-15x slower): seed001_torch.py re-executes
# python with LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp so that Debian's torch
# loads that libblas.so.3 instead of whatever the system alternative points to, and refuses to
# run if /proc/self/maps shows otherwise. Nothing system-wide is changed. PyTorch generates the
# notebook's way (whole model re-run per new token, no cache); arith may use its KV cache,
# which is part of what is being compared. Run on an otherwise idle machine.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=build
threads=2
steps=30
gen_n=6400
busy=0
python=${PYTHON:-/usr/bin/python3}

die() { echo "run_seed001: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --threads) [ $# -ge 2 ] || die "--threads needs a value"; threads=$2; shift 2 ;;
    --steps)   [ $# -ge 2 ] || die "--steps needs a value"; steps=$2; shift 2 ;;
    --gen-n)   [ $# -ge 2 ] || die "--gen-n needs a value"; gen_n=$2; shift 2 ;;
    --busy)    busy=1; shift
               case "${1:-}" in ''|*[!0-9]*) ;; *) busy=$1; shift ;; esac ;;
    -h|--help) sed -n '2,39p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) build=$1; shift ;;
  esac
done
for v in "$threads" "$steps" "$gen_n"; do
  case "$v" in ''|*[!0-9]*|0) die "--threads, --steps and --gen-n take positive integers (got '$v')" ;; esac
done

arith_bin=$build/bench/bench_seed001
[ -x "$arith_bin" ] || die "arith benchmark '$arith_bin' not found or not executable (build it: cmake --build $build --target bench_seed001)"
. "$here/common.sh"

# run_sides SUFFIX: both sides, outputs in $tmp/arith$SUFFIX.out and $tmp/torch$SUFFIX.out
run_sides() {
  local sfx=$1 rc
  echo "== arith: $arith_bin --threads $threads --steps $steps --gen-n $gen_n" >&2
  OMP_NUM_THREADS=$threads "$arith_bin" --threads "$threads" --steps "$steps" --gen-n "$gen_n" >"$tmp/arith$sfx.out"
  rc=$?
  [ $rc -eq 0 ] || { cat "$tmp/arith$sfx.out" >&2; die "arith side failed (exit status $rc)"; }
  grep -q '^[[:space:]]*{' "$tmp/arith$sfx.out" || { cat "$tmp/arith$sfx.out" >&2; die "arith side printed no JSON line"; }

  echo "== pytorch: $here/seed001_torch.py --threads $threads --steps $steps --gen-n $gen_n" >&2
  OMP_NUM_THREADS=$threads "$python" "$here/seed001_torch.py" --threads "$threads" --steps "$steps" --gen-n "$gen_n" >"$tmp/torch$sfx.out"
  rc=$?
  [ $rc -eq 0 ] || { cat "$tmp/torch$sfx.out" >&2; die "pytorch side failed (exit status $rc)"; }
}
run_sides ""

# The products library (oneDNN, or a BLAS) arith's binary resolves to, for the table when its JSON has no "blas" key.
arith_ldd=$(ldd "$arith_bin" 2>/dev/null | awk '/libdnnl|libopenblas|libblas/ {print $3}' | tr '\n' ' ')

"$python" - "$tmp/arith.out" "$tmp/torch.out" "$threads" "$arith_ldd" "$tmp/peak.out" <<'EOF'
import json, sys

def last_json(path, side):
    with open(path) as f:
        lines = [l.strip() for l in f if l.strip().startswith("{")]
    if not lines:
        sys.exit(f"run_seed001: {side} side printed no JSON line")
    try:
        d = json.loads(lines[-1])
    except json.JSONDecodeError as e:
        sys.exit(f"run_seed001: {side} side's JSON line does not parse: {e}")
    need = ["train_ms_step_median", "gen_n", "gen_seconds"]
    missing = [k for k in need if not isinstance(d.get(k), (int, float))]
    if missing:
        sys.exit(f"run_seed001: {side} side's JSON lacks numeric {', '.join(missing)}")
    if d["train_ms_step_median"] <= 0 or d["gen_seconds"] <= 0 or d["gen_n"] <= 0:
        sys.exit(f"run_seed001: {side} side reports non-positive timings: {lines[-1]}")
    return d

a = last_json(sys.argv[1], "arith")
t = last_json(sys.argv[2], "pytorch")
threads, arith_ldd = int(sys.argv[3]), sys.argv[4].strip()
with open(sys.argv[5]) as fp:
    peak = json.loads([l for l in fp if l.startswith("{")][-1]).get("ref_gflops", 0)

def f(x, nd=2):
    return "-" if not isinstance(x, (int, float)) else f"{x:.{nd}f}"

def ratio_text(r):
    return f"arith is {r:.1f}x faster" if r >= 1 else f"arith is {1 / r:.1f}x slower"

for side, d in (("arith", a), ("pytorch", t)):
    if d.get("threads", threads) != threads:
        print(f"WARNING: {side} ran with {d.get('threads')} threads, asked for {threads}")

tr = t["train_ms_step_median"] / a["train_ms_step_median"]
a_pp, t_pp = a["gen_seconds"] / a["gen_n"], t["gen_seconds"] / t["gen_n"]
gr = t_pp / a_pp
a_blas = a.get("blas") or (arith_ldd and f"linked: {arith_ldd}") or "?"
t_blas = t.get("blas", "?")
if isinstance(t.get("blas_detail"), dict) and t["blas_detail"].get("openblas_config"):
    t_blas += f" ({t['blas_detail']['openblas_config']})"

w, c = 26, 16
flops = a.get("flops_step")
def gflops(ms):
    if not isinstance(flops, (int, float)) or ms <= 0:
        return "-"
    g = flops / ms / 1e6
    return f"{g:.1f} ({100 * g / peak:.0f}%)" if peak > 0 else f"{g:.1f}"
rng = lambda d: f(d.get("train_ms_step_p10"), 1) + ".." + f(d.get("train_ms_step_p90"), 1)
gen_label = f"generate n={a['gen_n']}" if a["gen_n"] == t["gen_n"] else \
    f"generate n={a['gen_n']}/{t['gen_n']}"
rows = [("", "arith", "pytorch", "torch/arith"),
        ("train ms/step (median)", f(a["train_ms_step_median"]), f(t["train_ms_step_median"]),
         f"{tr:.2f}  ({ratio_text(tr)})"),
        ("train ms/step p10..p90", rng(a), rng(t), ""),
        ("train GFLOP/s (% of peak)", gflops(a["train_ms_step_median"]),
         gflops(t["train_ms_step_median"]), ""),
        (gen_label + " (s)", f(a["gen_seconds"], 3), f(t["gen_seconds"], 3),
         f"{gr:.2f}  ({ratio_text(gr)})")]
if a["gen_n"] != 6400 or t["gen_n"] != 6400:
    rows.append(("  extrapolated to 6400 (s)", f(a_pp * 6400), f(t_pp * 6400), ""))
print(f"seed 001: 9-digit addition, batch 64, 8 layers d128 h16 ffn64; threads {threads}")
for r in rows:
    print(f"{r[0]:{w}}{r[1]:>{c}}{r[2]:>{c}}   {r[3]}".rstrip())
for side, d in (("arith", a), ("pytorch", t)):
    share = d.get("cpu_other_share")
    if isinstance(share, (int, float)) and share > 0.1:
        print(f"WARNING: other processes used {100 * share:.0f}% of the machine's CPU during "
              f"the {side} run; timings are unreliable")
print(f"BLAS  arith:   {a_blas}")
print(f"BLAS  pytorch: {t_blas}")
if "torch_version" in t:
    print(f"torch {t['torch_version']}")
if isinstance(flops, (int, float)):
    print(f"FLOP per training step: {flops / 1e9:.2f} G (both sides: the same model); % of the "
          f"2-thread FP32 FMA peak, {peak:.1f} GFLOP/s")
EOF
rc=$?
[ $rc -eq 0 ] || die "could not compare the results (see above)"



if [ "$busy" -gt 0 ]; then
  run_arith_auto ""
  start_busy "$busy"
  run_sides "_busy"
  run_arith_auto "_busy"
  stop_busy
  "$python" "$here/busy_table.py" "seed 001, threads $threads" train_ms_step_median "$busy" \
    "$tmp/arith.out" "$tmp/arith_busy.out" "$tmp/torch.out" "$tmp/torch_busy.out" "$tmp/peak.out" \
    "$tmp/arith_auto.out" "$tmp/arith_auto_busy.out" ||
    die "could not compare the busy runs (see above)"
fi
