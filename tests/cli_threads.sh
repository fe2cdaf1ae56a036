#!/usr/bin/env bash
# Threads on a shared machine: --threads auto (the default) leaves the cores other programs keep
# busy (or takes all when none is free), the run's header says what it chose and why, config.json records the choice as given,
# and arith bounds OpenMP's spinning unless the user set it.
# Usage: tests/cli_threads.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: cli_threads.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: cli_threads.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
busy_pids=()
cleanup() {
    for p in "${busy_pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"
TINY=(--digits 1..2 --n 300 --layers 1 --d-model 16 --heads 2 --ffn 16 --steps 3 --samples 0
      --eval-n 20)
cores=$(nproc)

# --- the flag: a count or auto, nothing else
expect 2 "--threads: 'many' is not an integer or auto" -- "$ARITH" train --threads many
expect 2 "--threads: -2 is out of range" -- "$ARITH" train --threads -2
expect 0 "--threads N\|auto .*\(default: auto\)" -- bash -c "'$ARITH' train --help | tr -s '\n ' ' '"
expect 0 "--threads N\|auto" -- "$ARITH" eval --help

# --- the default is auto: the header gives the count and the reading it came from
out=$("$ARITH" train "${TINY[@]}" --run auto1 2>&1)
if grep -q "no OpenMP in this build" <<<"$out"; then
    openmp=0
    grep -qE "\| 1 thread \(no OpenMP in this build\)" <<<"$out" && ok || bad "scalar header: $out"
else
    openmp=1
    grep -qE "\| [0-9]+ threads? \(auto: $cores cores?(, [0-9.]+ busy)?\)" <<<"$out" && ok ||
        bad "auto header: $(head -n 1 <<<"$out")"
fi
grep -qE '"threads":[[:space:]]*"auto"' auto1/config.json && ok || bad "config.json: threads not auto"
# a count the user gives is used and recorded as given
expect 0 "\| 1 thread \((set|no OpenMP in this build)\)" -- "$ARITH" train "${TINY[@]}" --threads 1 --run set1
grep -qE '"threads":[[:space:]]*1,' set1/config.json && ok || bad "config.json: threads not 1"
# a config file may say auto too
printf '{"threads": "auto", "steps": 2}' >auto.json
expect 0 "final test exact match" -- "$ARITH" train "${TINY[@]}" --config auto.json --run auto2
expect 0 "exact match" -- "$ARITH" eval auto1 --threads auto

if [ "$openmp" -eq 1 ] && [ "$cores" -ge 2 ]; then
    # --- beside a busy process, auto takes at least one core fewer
    sh -c 'while :; do :; done' &
    busy_pids+=($!)
    sleep 0.3
    out=$("$ARITH" train "${TINY[@]}" --run busy1 2>&1)
    n=$(sed -nE 's/.*\| ([0-9]+) threads? \(auto: .*/\1/p' <<<"$out" | head -n 1)
    b=$(sed -nE "s/.*\(auto: $cores cores, ([0-9]+\.[0-9]) busy\).*/\1/p" <<<"$out" | head -n 1)
    [ -n "$b" ] && awk -v b="$b" 'BEGIN { exit !(b >= 0.5) }' && ok ||
        bad "the header does not show the busy core: $(head -n 1 <<<"$out")"
    # at least one core fewer; all of them when other programs (a loaded CI machine) keep
    # every core busy, as --threads auto documents
    want_max=$((cores - 1))
    [ -n "$b" ] && awk -v b="$b" -v c="$cores" 'BEGIN { exit !(int(b + 0.5) >= c) }' && want_max=$cores
    [ -n "$n" ] && [ "$n" -le "$want_max" ] && ok ||
        bad "beside a busy loop auto chose '${n}' of $cores cores: $(head -n 1 <<<"$out")"
    # a count the user set is kept, with a note naming auto
    out=$("$ARITH" train "${TINY[@]}" --threads "$cores" --run busy2 2>&1)
    grep -qE "\| $cores threads \(set\)" <<<"$out" && ok || bad "set count not kept: $out"
    grep -qE "other programs keep [0-9.]+ of the $cores cores busy" <<<"$out" &&
        grep -q "hint: --threads auto uses the cores left free" <<<"$out" && ok ||
        bad "no note beside a busy loop: $out"
    kill "${busy_pids[@]}" 2>/dev/null
    busy_pids=()

    # --- with every core taken, every core is shared anyway: auto uses them all
    for ((i = 0; i <= cores; i++)); do
        sh -c 'while :; do :; done' &
        busy_pids+=($!)
    done
    sleep 0.3
    out=$("$ARITH" train "${TINY[@]}" --run busy3 2>&1)
    n=$(sed -nE 's/.*\| ([0-9]+) threads? \(auto: .*/\1/p' <<<"$out" | head -n 1)
    b=$(sed -nE "s/.*\(auto: $cores cores, ([0-9]+\.[0-9]) busy\).*/\1/p" <<<"$out" | head -n 1)
    want=$(awk -v b="$b" -v c="$cores" 'BEGIN { t = int(b + 0.5); print (t >= c ? c : c - t) }')
    [ -n "$n" ] && [ -n "$b" ] && [ "$n" = "$want" ] && ok ||
        bad "beside $((cores + 1)) busy loops auto chose '$n' (busy '$b', rule gives $want)"
    kill "${busy_pids[@]}" 2>/dev/null
    busy_pids=()

    # --- OpenMP's spinning is bounded, unless the user chose a policy
    expect 0 "GOMP_SPINCOUNT = '1000'" -- env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY \
        OMP_DISPLAY_ENV=verbose "$ARITH" version
    expect 0 "GOMP_SPINCOUNT = '777'" -- env GOMP_SPINCOUNT=777 OMP_DISPLAY_ENV=verbose "$ARITH" version
    out=$(env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active OMP_DISPLAY_ENV=verbose "$ARITH" version 2>&1)
    grep -q "OMP_WAIT_POLICY = 'ACTIVE'" <<<"$out" && ! grep -q "GOMP_SPINCOUNT = '1000'" <<<"$out" &&
        ok || bad "OMP_WAIT_POLICY=active was not left alone: $out"
fi

echo "cli_threads: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
