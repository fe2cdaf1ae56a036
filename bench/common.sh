# What bench/run_seed001.sh, run_seed000.sh and run_gpt2.sh share, sourced after they have
# parsed their arguments (they define die, build and python): the checks that PyTorch and
# bench_peak are there, a scratch directory $tmp removed on exit, the FMA peak printed and kept
# in $tmp/peak.out, and busy loops (start_busy N / stop_busy) that are killed however the
# script ends.
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
trap 'stop_busy; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

"$peak_bin" >"$tmp/peak.out" || die "bench_peak failed"
grep -v '^{' "$tmp/peak.out"
