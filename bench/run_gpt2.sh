#!/usr/bin/env bash
# GPT-2 benchmark: arith vs PyTorch on GPT-2 124M training steps (seed 003's model).
#
# Usage:
#   bench/run_gpt2.sh [BUILD_DIR] [--threads N] [--steps S] [--warmup W] [--adam]
#                     [--configs LIST] [--batch B] [--seq T] [--busy [B]]
#     BUILD_DIR  arith's CMake build directory (default: build); runs BUILD_DIR/bench/bench_gpt2
#     --threads  threads for both sides (default 2)
#     --steps    timed steps, after --warmup untimed ones (defaults 5 and 1)
#     --adam     also take an Adam step (lr 1e-4) over the trainable parameters each step and
#                report its time (default: forward + backward only)
#     --configs  comma-separated settings to run (default full,frozen):
#                  full    GPT-2 124M with its tied 50257-token wte, every parameter trainable
#                  frozen  seed 003: new in_layer/out_layer for 91 tokens, only the LayerNorms,
#                          wpe, in_layer and out_layer trainable
#     --batch, --seq  batch rows and tokens per row (defaults 4 and 128)
#     --busy     after the quiet runs, start B busy loops (sh -c 'while :; do :; done', default
#                B = 1) and run every setting on both sides again; prints quiet and busy median
#                ms/step and busy/quiet. The loops are killed when the script ends.
#   Environment: PYTHON (default /usr/bin/python3, Debian's python with torch).
#
# For each setting it runs arith's bench_gpt2, then bench/gpt2_torch.py, with the same arguments,
# each in its own process; each prints one JSON line last ({"impl":..., "fb_ms_median":...,
# "peak_rss_mb":..., ...}). The script parses them and prints ms/step (median, p10..p90), peak
# RSS, the ratios (torch / arith) and the BLAS each side ran with. Exit status is non-zero if
# either side fails or prints no JSON. At the defaults a step takes seconds (the full setting's
# 50257-token head alone is ~120 GFLOP per step), so keep --steps small. First it prints the
# machine's FP32 FMA peak (BUILD_DIR/bench/bench_peak); each setting's forward+backward GFLOP/s
# (flops_step from bench_gpt2, from the shapes) is given for both sides as a share of the
# 2-thread peak.
#
# Fairness: both sides get the same thread count (their --threads, and OMP_NUM_THREADS), the
# same model (HF GPT2Model's computation: Conv1D weights, tanh GELU, pre-LN, learned positions,
# eps 1e-5), the same batch (identical tokens, left padding, positions and targets), the same
# trainable set; arith's products on oneDNN's sgemm, PyTorch's on OpenBLAS built with OpenMP,
# its best setup here (Debian's torch uses the system BLAS; BLIS measured slower):
# gpt2_torch.py re-executes python with LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/
# openblas-openmp so that Debian's torch loads that libblas.so.3, and refuses to run if
# /proc/self/maps shows otherwise. Nothing system-wide is changed. Run on an otherwise idle
# machine.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=build
threads=2
steps=5
warmup=1
adam=0
configs=full,frozen
batch=4
seq=128
busy=0
python=${PYTHON:-/usr/bin/python3}

die() { echo "run_gpt2: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --threads) [ $# -ge 2 ] || die "--threads needs a value"; threads=$2; shift 2 ;;
    --steps)   [ $# -ge 2 ] || die "--steps needs a value"; steps=$2; shift 2 ;;
    --warmup)  [ $# -ge 2 ] || die "--warmup needs a value"; warmup=$2; shift 2 ;;
    --configs) [ $# -ge 2 ] || die "--configs needs a value"; configs=$2; shift 2 ;;
    --batch)   [ $# -ge 2 ] || die "--batch needs a value"; batch=$2; shift 2 ;;
    --seq)     [ $# -ge 2 ] || die "--seq needs a value"; seq=$2; shift 2 ;;
    --adam)    adam=1; shift ;;
    --busy)    busy=1; shift
               case "${1:-}" in ''|*[!0-9]*) ;; *) busy=$1; shift ;; esac ;;
    -h|--help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) build=$1; shift ;;
  esac
done
for v in "$threads" "$steps" "$batch" "$seq"; do
  case "$v" in ''|*[!0-9]*|0) die "--threads, --steps, --batch and --seq take positive integers (got '$v')" ;; esac
done
case "$warmup" in ''|*[!0-9]*) die "--warmup takes a non-negative integer (got '$warmup')" ;; esac
[ "$seq" -ge 2 ] && [ "$seq" -le 1024 ] || die "--seq must be in 2..1024 (got $seq)"
IFS=, read -r -a config_list <<<"$configs"
[ ${#config_list[@]} -gt 0 ] || die "--configs is empty"
for c in "${config_list[@]}"; do
  case "$c" in full|frozen) ;; *) die "unknown config '$c' (valid: full, frozen)" ;; esac
done

arith_bin=$build/bench/bench_gpt2
[ -x "$arith_bin" ] || die "arith benchmark '$arith_bin' not found or not executable (build it: cmake --build $build --target bench_gpt2)"
. "$here/common.sh"

common=(--threads "$threads" --steps "$steps" --warmup "$warmup" --batch "$batch" --seq "$seq")
torch_adam=()
[ "$adam" -eq 1 ] && torch_adam=(--adam)
# run_sides SUFFIX: every setting on both sides, outputs in $tmp/{arith,torch}_$c$SUFFIX.out
run_sides() {
  local sfx=$1 rc c
  for c in "${config_list[@]}"; do
    echo "== arith ($c): $arith_bin ${common[*]} --config $c --adam $adam" >&2
    OMP_NUM_THREADS=$threads "$arith_bin" "${common[@]}" --config "$c" --adam "$adam" >"$tmp/arith_$c$sfx.out"
    rc=$?
    [ $rc -eq 0 ] || { cat "$tmp/arith_$c$sfx.out" >&2; die "arith side ($c) failed (exit status $rc)"; }
    grep -q '^[[:space:]]*{' "$tmp/arith_$c$sfx.out" || { cat "$tmp/arith_$c$sfx.out" >&2; die "arith side ($c) printed no JSON line"; }

    echo "== pytorch ($c): $here/gpt2_torch.py ${common[*]} --config $c ${torch_adam[*]}" >&2
    OMP_NUM_THREADS=$threads "$python" "$here/gpt2_torch.py" "${common[@]}" --config "$c" "${torch_adam[@]}" >"$tmp/torch_$c$sfx.out"
    rc=$?
    [ $rc -eq 0 ] || { cat "$tmp/torch_$c$sfx.out" >&2; die "pytorch side ($c) failed (exit status $rc)"; }
  done
}
run_sides ""

# The products library (oneDNN, or a BLAS) arith's binary resolves to, for the table.
arith_ldd=$(ldd "$arith_bin" 2>/dev/null | awk '/libdnnl|libopenblas|libblas/ {print $3}' | tr '\n' ' ')

"$python" - "$tmp" "$threads" "$adam" "$arith_ldd" "$tmp/peak.out" "${config_list[@]}" <<'EOF'
import json, os, sys

tmp, threads, adam, arith_ldd = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4].strip()
with open(sys.argv[5]) as fp:
    peak = json.loads([l for l in fp if l.startswith("{")][-1]).get("ref_gflops", 0)
configs = sys.argv[6:]

def last_json(path, side):
    with open(path) as f:
        lines = [l.strip() for l in f if l.strip().startswith("{")]
    if not lines:
        sys.exit(f"run_gpt2: {side} side printed no JSON line")
    try:
        d = json.loads(lines[-1])
    except json.JSONDecodeError as e:
        sys.exit(f"run_gpt2: {side} side's JSON line does not parse: {e}")
    need = ["fb_ms_median", "peak_rss_mb"] + (["step_ms_median"] if adam else [])
    missing = [k for k in need if not isinstance(d.get(k), (int, float))]
    if missing:
        sys.exit(f"run_gpt2: {side} side's JSON lacks numeric {', '.join(missing)}")
    if d["fb_ms_median"] <= 0:
        sys.exit(f"run_gpt2: {side} side reports non-positive timings: {lines[-1]}")
    return d

def f(x, nd=1):
    return "-" if not isinstance(x, (int, float)) else f"{x:.{nd}f}"

def ratio_text(r):
    return f"arith is {r:.2f}x faster" if r >= 1 else f"arith is {1 / r:.2f}x slower"

w, c = 28, 16
t_last = None
for cfg in configs:
    a = last_json(os.path.join(tmp, f"arith_{cfg}.out"), f"arith ({cfg})")
    t = last_json(os.path.join(tmp, f"torch_{cfg}.out"), f"pytorch ({cfg})")
    t_last = t
    for side, d in (("arith", a), ("pytorch", t)):
        if d.get("threads", threads) != threads:
            print(f"WARNING: {side} ran with {d.get('threads')} threads, asked for {threads}")
    for k in ("params", "trainable_params"):
        if a.get(k) != t.get(k):
            print(f"WARNING: {k} differ: arith {a.get(k)}, pytorch {t.get(k)}")
    desc = {"full": "tied wte (V 50257), all trainable",
            "frozen": "seed 003: in/out layers (V 91), trainable ln,wpe,in_layer,out_layer"}[cfg]
    print(f"gpt2 124M [{cfg}] {desc}; batch {a.get('batch')} x {a.get('seq')}, threads {threads}, "
          f"{a.get('steps')} steps after {a.get('warmup')} warm-up; trainable "
          f"{a.get('trainable_params')} of {a.get('params')} params")
    rng = lambda d, k: f(d.get(k + "_p10"), 0) + ".." + f(d.get(k + "_p90"), 0)
    rows = [("", "arith", "pytorch", "torch/arith")]
    fr = t["fb_ms_median"] / a["fb_ms_median"]
    rows.append(("fwd+bwd ms/step (median)", f(a["fb_ms_median"]), f(t["fb_ms_median"]),
                 f"{fr:.2f}  ({ratio_text(fr)})"))
    rows.append(("fwd+bwd ms/step p10..p90", rng(a, "fb_ms"), rng(t, "fb_ms"), ""))
    flops = a.get("flops_step")
    def gflops(ms):
        if not isinstance(flops, (int, float)) or ms <= 0:
            return "-"
        g = flops / ms / 1e6
        return f"{g:.1f} ({100 * g / peak:.0f}%)" if peak > 0 else f"{g:.1f}"
    if isinstance(flops, (int, float)):
        rows.append((f"fwd+bwd GFLOP/s (% of peak)", gflops(a["fb_ms_median"]),
                     gflops(t["fb_ms_median"]), f"{flops / 1e9:.1f} GFLOP a step"))
    if adam:
        sr = t["step_ms_median"] / a["step_ms_median"]
        rows.append(("+Adam ms/step (median)", f(a["step_ms_median"]), f(t["step_ms_median"]),
                     f"{sr:.2f}  ({ratio_text(sr)})"))
    mr = t["peak_rss_mb"] / a["peak_rss_mb"] if a["peak_rss_mb"] > 0 else float("nan")
    rows.append(("peak RSS (MB)", f(a["peak_rss_mb"]), f(t["peak_rss_mb"]),
                 f"{mr:.2f}  (torch / arith memory)"))
    rows.append(("loss at the last step", f(a.get("last_loss"), 4), f(t.get("last_loss"), 4), ""))
    for r in rows:
        print(f"{r[0]:{w}}{r[1]:>{c}}{r[2]:>{c}}   {r[3]}".rstrip())
    for side, d in (("arith", a), ("pytorch", t)):
        share = d.get("cpu_other_share")
        if isinstance(share, (int, float)) and share > 0.1:
            print(f"WARNING: other processes used {100 * share:.0f}% of the machine's CPU during "
                  f"the {side} run; timings are unreliable")
a_blas = (arith_ldd and f"linked: {arith_ldd}") or "?"
t_blas = t_last.get("blas", "?")
if isinstance(t_last.get("blas_detail"), dict) and t_last["blas_detail"].get("openblas_config"):
    t_blas += f" ({t_last['blas_detail']['openblas_config']})"
print(f"BLAS  arith:   {a_blas}")
print(f"BLAS  pytorch: {t_blas}")
if "torch_version" in t_last:
    print(f"torch {t_last['torch_version']}")
print(f"% of peak: of the 2-thread FP32 FMA peak, {peak:.1f} GFLOP/s")
EOF
rc=$?
[ $rc -eq 0 ] || die "could not compare the results (see above)"

if [ "$busy" -gt 0 ]; then
  start_busy "$busy"
  run_sides "_busy"
  stop_busy
  for c in "${config_list[@]}"; do
    "$python" "$here/busy_table.py" "gpt2 $c, threads $threads" fb_ms_median "$busy" \
      "$tmp/arith_$c.out" "$tmp/arith_${c}_busy.out" "$tmp/torch_$c.out" "$tmp/torch_${c}_busy.out" \
      "$tmp/peak.out" || die "could not compare the busy runs (see above)"
  done
fi
