# What bench/run_seed001.sh, run_seed000.sh and run_gpt2.sh share, sourced after they have
# parsed their arguments (they define die, build and python): the checks that PyTorch and
# bench_peak are there, a scratch directory $tmp removed on exit, the FMA peak printed and kept
# in $tmp/peak.out, busy loops (start_busy N / stop_busy) that are killed however the script
# ends, and arith's side once more with --threads auto (run_arith_auto).
[ -x "$python" ] || die "python '$python' not found (set PYTHON)"
"$python" -c 'import torch' 2>/dev/null || die "'$python' cannot import torch (Debian: apt install python3-torch)"

peak_bin=$build/bench/bench_peak
[ -x "$peak_bin" ] || die "'$peak_bin' not found or not executable (build it: cmake --build $build --target bench_peak)"

tmp=$(mktemp -d) || die "mktemp failed"
busy_pids=()
stop_busy() {
  local p
  for p in "${busy_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  busy_pids=()
}
# start_busy N: N loops that keep a core busy each, beside the benchmark
start_busy() {
  local i
  echo "== starting $1 busy loop(s)" >&2
  for ((i = 0; i < $1; i++)); do
    sh -c 'while :; do :; done' &
    busy_pids+=($!)
  done
}
# run_arith_auto SUFFIX [ARGS...]: $arith_bin alone with --threads auto (arith's default: the
# cores other processes leave free), --steps and --gen-n as given and ARGS; output in
# $tmp/arith_auto$SUFFIX.out
run_arith_auto() {
  local sfx=$1 rc
  shift
  echo "== arith: $arith_bin --threads auto --steps $steps --gen-n $gen_n $*" >&2
  "$arith_bin" --threads auto --steps "$steps" --gen-n "$gen_n" "$@" >"$tmp/arith_auto$sfx.out"
  rc=$?
  [ $rc -eq 0 ] || { cat "$tmp/arith_auto$sfx.out" >&2; die "arith side (auto) failed (exit status $rc)"; }
}
trap 'stop_busy; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

"$peak_bin" >"$tmp/peak.out" || die "bench_peak failed"
grep -v '^{' "$tmp/peak.out"
