#!/usr/bin/env bash
# Seed 000 benchmark: arith vs PyTorch on the notebook "LSTM-arithmetic" (the CharRNN).
#
# Usage:
#   bench/run_seed000.sh [BUILD_DIR] [--threads N] [--steps S] [--gen-n G] [--nb-gen-n M] [--n N]
#                        [--busy [B]]
#     BUILD_DIR   arith's CMake build directory (default: build); runs BUILD_DIR/arith and
#                 BUILD_DIR/bench/bench_seed000
#     --threads   threads for both sides (default 2)
#     --steps     timed training steps, after 5 untimed warm-up steps (default 30)
#     --gen-n     test prompts answered by batched greedy generation, batches of 64 (default 2000)
#     --nb-gen-n  test prompts answered the notebook's way by PyTorch (one at a time, whole
#                 model re-run per token; default 200, reported as answers/s)
#     --n         expressions in the shared data set (default: max(20000, 10 * G); the last 10%
#                 are the test set)
#     --busy      after the quiet runs, start B busy loops (sh -c 'while :; do :; done', default
#                 B = 1) and run both sides again; prints each side's quiet and busy median
#                 ms/step and busy/quiet. `--busy 1` leaves one of 2 cores to the benchmark's 2
#                 threads, `--busy 3` oversubscribes it. The loops are killed when the script
#                 ends, however it ends. arith also runs with --threads auto (its default) before
#                 and beside the loops: a third row, with the thread counts it chose.
#   Environment: PYTHON (default /usr/bin/python3, Debian's python with torch).
#
# It writes one data set with `BUILD_DIR/arith data --task expr --n N --seed 1` and gives the
# same CSV to both sides, so they train on identical rows (batch k = training rows k*64..k*64+63
# in file order) and answer the same test prompts. Then it runs bench_seed000 and
# bench/seed000_torch.py; each prints one JSON line last. The table shows ms per training step,
# answers per second (arith vs PyTorch batched, and vs PyTorch the notebook's way), the ratios,
# the mean batch width, the BLAS each side used and each side's peak memory. Exit status is
# non-zero if either side fails or prints no usable JSON. First it prints the machine's FP32 FMA
# peak (BUILD_DIR/bench/bench_peak); the training step's GFLOP/s (flops_step from bench_seed000:
# the LSTM's and the head's matrix products, ~6.9 GFLOP at T ~16) is given for both sides as a
# share of the 2-thread peak.
#
# Fairness: same thread count on both sides (their --threads, and OMP_NUM_THREADS), same data,
# same model sizes (embedding 256, 2 LSTM layers of 256, Linear-ReLU-Linear head), same
# optimizer (Adam lr 1e-3, no weight decay, gradients clipped to [-1, 1]), same loss positions
# (answer characters and EOS), same generation limit (longest test answer + EOS + 1 tokens),
# arith's products on oneDNN's sgemm and PyTorch's on OpenBLAS built with OpenMP, its best
# setup here (Debian's torch uses the system BLAS; BLIS measured slower, bench/run_gemm.sh):
# seed000_torch.py re-executes python with LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/
# openblas-openmp so that Debian's torch loads that libblas.so.3, and refuses to run if
# /proc/self/maps shows otherwise. Nothing system-wide is changed. Run on an otherwise idle
# machine; a warning is printed when other processes took a large share of the CPU.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=build
threads=2
steps=30
gen_n=2000
nb_gen_n=200
n=
busy=0
python=${PYTHON:-/usr/bin/python3}

die() { echo "run_seed000: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --threads)  [ $# -ge 2 ] || die "--threads needs a value"; threads=$2; shift 2 ;;
    --steps)    [ $# -ge 2 ] || die "--steps needs a value"; steps=$2; shift 2 ;;
    --gen-n)    [ $# -ge 2 ] || die "--gen-n needs a value"; gen_n=$2; shift 2 ;;
    --nb-gen-n) [ $# -ge 2 ] || die "--nb-gen-n needs a value"; nb_gen_n=$2; shift 2 ;;
    --n)        [ $# -ge 2 ] || die "--n needs a value"; n=$2; shift 2 ;;
    --busy)     busy=1; shift
                case "${1:-}" in ''|*[!0-9]*) ;; *) busy=$1; shift ;; esac ;;
    -h|--help) sed -n '2,44p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) build=$1; shift ;;
  esac
done
[ -n "$n" ] || n=$(( 10 * gen_n > 20000 ? 10 * gen_n : 20000 ))
for v in "$threads" "$steps" "$gen_n" "$nb_gen_n" "$n"; do
  case "$v" in ''|*[!0-9]*|0) die "--threads, --steps, --gen-n, --nb-gen-n and --n take positive integers (got '$v')" ;; esac
done
[ "$gen_n" -le $(( n / 10 )) ] && [ "$nb_gen_n" -le $(( n / 10 )) ] ||
  die "--gen-n $gen_n / --nb-gen-n $nb_gen_n exceed the $(( n / 10 )) test rows of --n $n"

arith_bin=$build/bench/bench_seed000
arith_cli=$build/arith
[ -x "$arith_bin" ] || die "arith benchmark '$arith_bin' not found or not executable (build it: cmake --build $build --target bench_seed000)"
[ -x "$arith_cli" ] || die "arith CLI '$arith_cli' not found or not executable (build it: cmake --build $build --target arith)"
. "$here/common.sh"

csv=$tmp/expr.csv
echo "== data: $arith_cli data --task expr --n $n --seed 1" >&2
"$arith_cli" data --task expr --n "$n" --seed 1 --out "$csv" >&2 || die "could not write the data set"

# run_sides SUFFIX: both sides, outputs in $tmp/arith$SUFFIX.out and $tmp/torch$SUFFIX.out
run_sides() {
  local sfx=$1 rc
  echo "== arith: $arith_bin --threads $threads --steps $steps --gen-n $gen_n" >&2
  OMP_NUM_THREADS=$threads "$arith_bin" --threads "$threads" --steps "$steps" --gen-n "$gen_n" \
    --csv "$csv" >"$tmp/arith$sfx.out"
  rc=$?
  [ $rc -eq 0 ] || { cat "$tmp/arith$sfx.out" >&2; die "arith side failed (exit status $rc)"; }
  grep -q '^[[:space:]]*{' "$tmp/arith$sfx.out" || { cat "$tmp/arith$sfx.out" >&2; die "arith side printed no JSON line"; }

  echo "== pytorch: $here/seed000_torch.py --threads $threads --steps $steps --gen-n $gen_n --nb-gen-n $nb_gen_n" >&2
  OMP_NUM_THREADS=$threads "$python" "$here/seed000_torch.py" --threads "$threads" --steps "$steps" \
    --gen-n "$gen_n" --nb-gen-n "$nb_gen_n" --csv "$csv" >"$tmp/torch$sfx.out"
  rc=$?
  [ $rc -eq 0 ] || { cat "$tmp/torch$sfx.out" >&2; die "pytorch side failed (exit status $rc)"; }
}
run_sides ""

# The products library (oneDNN, or a BLAS) arith's binary resolves to, for the table (its JSON has no "blas" key).
arith_ldd=$(ldd "$arith_bin" 2>/dev/null | awk '/libdnnl|libopenblas|libblas/ {print $3}' | tr '\n' ' ')

"$python" - "$tmp/arith.out" "$tmp/torch.out" "$threads" "$arith_ldd" "$tmp/peak.out" <<'EOF'
import json, sys

def last_json(path, side, need):
    with open(path) as f:
        lines = [l.strip() for l in f if l.strip().startswith("{")]
    if not lines:
        sys.exit(f"run_seed000: {side} side printed no JSON line")
    try:
        d = json.loads(lines[-1])
    except json.JSONDecodeError as e:
        sys.exit(f"run_seed000: {side} side's JSON line does not parse: {e}")
    missing = [k for k in need if not isinstance(d.get(k), (int, float))]
    if missing:
        sys.exit(f"run_seed000: {side} side's JSON lacks numeric {', '.join(missing)}")
    bad = [k for k in need if d[k] <= 0]
    if bad:
        sys.exit(f"run_seed000: {side} side reports non-positive {', '.join(bad)}: {lines[-1]}")
    return d

common = ["train_ms_step_median", "batch_T_mean", "gen_n", "gen_seconds", "answers_per_sec",
          "gen_tokens_per_answer"]
a = last_json(sys.argv[1], "arith", common)
t = last_json(sys.argv[2], "pytorch", common + ["nb_gen_n", "nb_answers_per_sec"])
threads, arith_ldd = int(sys.argv[3]), sys.argv[4].strip()
with open(sys.argv[5]) as fp:
    peak = json.loads([l for l in fp if l.startswith("{")][-1]).get("ref_gflops", 0)

def f(x, nd=2):
    return "-" if not isinstance(x, (int, float)) else f"{x:.{nd}f}"

def speed_text(r):
    return f"arith is {r:.1f}x faster" if r >= 1 else f"arith is {1 / r:.1f}x slower"

for side, d in (("arith", a), ("pytorch", t)):
    if d.get("threads", threads) != threads:
        print(f"WARNING: {side} ran with {d.get('threads')} threads, asked for {threads}")

tr = t["train_ms_step_median"] / a["train_ms_step_median"]
gr = a["answers_per_sec"] / t["answers_per_sec"]
nr = a["answers_per_sec"] / t["nb_answers_per_sec"]
a_blas = a.get("blas") or (arith_ldd and f"linked: {arith_ldd}") or "?"
t_blas = t.get("blas", "?")
if isinstance(t.get("blas_detail"), dict) and t["blas_detail"].get("openblas_config"):
    t_blas += f" ({t['blas_detail']['openblas_config']})"

w, c = 40, 16
flops = a.get("flops_step")
def gflops(ms):
    if not isinstance(flops, (int, float)) or ms <= 0:
        return "-"
    g = flops / ms / 1e6
    return f"{g:.1f} ({100 * g / peak:.0f}%)" if peak > 0 else f"{g:.1f}"
rng = lambda d: f(d.get("train_ms_step_p10"), 0) + ".." + f(d.get("train_ms_step_p90"), 0)
rows = [("", "arith", "pytorch", "arith speed-up"),
        ("train ms/step (median)", f(a["train_ms_step_median"]), f(t["train_ms_step_median"]),
         f"{tr:.2f}  ({speed_text(tr)})"),
        ("train ms/step p10..p90", rng(a), rng(t), ""),
        ("train GFLOP/s (% of peak)", gflops(a["train_ms_step_median"]),
         gflops(t["train_ms_step_median"]), ""),
        ("  + notebook's per-row mask loop", "", f(t.get("train_ms_step_with_mask_median")), ""),
        ("batch width T, mean (columns)", f(a["batch_T_mean"]), f(t["batch_T_mean"]), ""),
        (f"answers/s, batched (n={a['gen_n']}, batch 64)", f(a["answers_per_sec"], 1),
         f(t["answers_per_sec"], 1), f"{gr:.2f}  ({speed_text(gr)})"),
        (f"answers/s, torch notebook way (n={t['nb_gen_n']})", f(a["answers_per_sec"], 1),
         f(t["nb_answers_per_sec"], 1), f"{nr:.2f}  ({speed_text(nr)})"),
        ("  tokens per answer (batched)", f(a["gen_tokens_per_answer"]),
         f(t["gen_tokens_per_answer"]), ""),
        ("  tokens per answer (notebook way)", "", f(t.get("nb_tokens_per_answer")), ""),
        ("peak RSS (MB)", f(a.get("peak_rss_mb"), 1), f(t.get("peak_rss_mb"), 1), ""),
        ("params / vocab", f"{a.get('params')}/{a.get('vocab')}",
         f"{t.get('params')}/{t.get('vocab')}", "")]
print(f"seed 000: CharRNN (embed 256, 2 x LSTM 256, MLP head), task expr, batch 64, Adam, "
      f"clip-value 1; threads {threads}; {a.get('steps')} timed steps")
for r in rows:
    print(f"{r[0]:{w}} {r[1]:>{c}} {r[2]:>{c}}   {r[3]}".rstrip())
ta, tt = a["gen_tokens_per_answer"], t["gen_tokens_per_answer"]
if abs(ta - tt) > 0.1 * max(ta, tt):
    print(f"NOTE: the two models stop at different points (arith {ta:.2f}, pytorch {tt:.2f} "
          f"tokens per answer, EOS included): generation did unequal work. Differently "
          f"initialized models after few steps do this; train longer (--steps) to compare.")
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
    print(f"FLOP per training step: {flops / 1e9:.2f} G at arith's mean width T (PyTorch packs "
          f"the rows and does less); % of the 2-thread FP32 FMA peak, {peak:.1f} GFLOP/s")
EOF
rc=$?
[ $rc -eq 0 ] || die "could not compare the results (see above)"



if [ "$busy" -gt 0 ]; then
  run_arith_auto "" --csv "$csv"
  start_busy "$busy"
  run_sides "_busy"
  run_arith_auto "_busy" --csv "$csv"
  stop_busy
  "$python" "$here/busy_table.py" "seed 000, threads $threads" train_ms_step_median "$busy" \
    "$tmp/arith.out" "$tmp/arith_busy.out" "$tmp/torch.out" "$tmp/torch_busy.out" "$tmp/peak.out" \
    "$tmp/arith_auto.out" "$tmp/arith_auto_busy.out" ||
    die "could not compare the busy runs (see above)"
fi
