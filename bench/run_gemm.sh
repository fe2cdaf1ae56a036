#!/usr/bin/env bash
# GEMM candidates on arith's own matrix products (issue #12): OpenBLAS, BLIS, oneDNN, libxsmm.
#
# Usage:
#   bench/run_gemm.sh [BUILD_DIR] [bench_gemm options]
#     BUILD_DIR  arith's CMake build directory (default: build); runs BUILD_DIR/bench/bench_gemm
#     options    passed on: --min-time S (per product and way, default 0.15), --groups LIST
#                (seed001, seed000, gpt2, lengthgen), --candidates LIST (openblas, blis, onednn,
#                libxsmm, libxsmm_omp), --no-head (leave out GPT-2's 40-GFLOP vocabulary head)
#
# bench_gemm loads each library with dlopen(RTLD_LOCAL) (a missing one is skipped with a
# message; `scripts/setup --bench` installs them all) and times the products arith's layers
# make, with arith's exact calls: row-major, its transposes and leading dimensions, beta 0 for
# a forward and 1 for the backward's accumulating products. Each product runs on 1 thread, on
# 2 threads banded by output rows as cpu.c's mat_mul does (one single-threaded library call per
# band), and on 2 threads of the library's own threading; it prints median/best GFLOP/s tables
# (markdown) with each group's total against the machine's FMA peak, and whether the bits
# match from run to run and across thread counts. This script adds a header (date, CPU, load,
# OPENBLAS_CORETYPE) so that a run can be pasted into docs/PERFORMANCE.md as it is. The machine
# should be otherwise idle: the 2-thread figures collapse when another program holds a core.
set -u

build=build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build=$1; shift; fi
case "${1:-}" in -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

bin=$build/bench/bench_gemm
[ -x "$bin" ] || { echo "run_gemm: '$bin' not found or not executable (build it: cmake --build $build --target bench_gemm)" >&2; exit 1; }

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "## bench_gemm, $(date '+%Y-%m-%d %H:%M %Z')"
echo
echo "$cpu, $(nproc) CPUs, $(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); \
OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}; load average $(cut -d' ' -f1-3 /proc/loadavg); \
command: bench/run_gemm.sh $build $*"
echo
exec "$bin" "$@"
