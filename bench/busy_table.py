#!/usr/bin/env python3
"""The --busy table of bench/run_*.sh: each side's step time on the quiet machine against the
same run with N busy loops (sh -c 'while :; do :; done') beside it.

Usage: busy_table.py LABEL KEY N ARITH_QUIET ARITH_BUSY TORCH_QUIET TORCH_BUSY [PEAK_JSON
                     [AUTO_QUIET AUTO_BUSY]]
  KEY         the JSON key of the step time in ms (train_ms_step_median, fb_ms_median)
  *_QUIET/_BUSY  outputs of the two sides; the last JSON line of each is read
  PEAK_JSON   bench_peak's output, for GFLOP/s as % of the 2-thread peak (uses arith's
              flops_step for both sides: the same model)
  AUTO_*      arith again with --threads auto, its default (the threads it chose are shown)
"""
import json
import sys


def last_json(path):
    with open(path) as f:
        lines = [l.strip() for l in f if l.strip().startswith("{")]
    if not lines:
        sys.exit(f"busy_table: {path} holds no JSON line")
    return json.loads(lines[-1])


def main():
    if len(sys.argv) not in (8, 9, 11):
        sys.exit(__doc__)
    label, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    aq, ab, tq, tb = (last_json(p) for p in sys.argv[4:8])
    peak = 0
    if len(sys.argv) >= 9:
        try:
            peak = last_json(sys.argv[8]).get("ref_gflops", 0) or 0
        except (OSError, ValueError, SystemExit):
            peak = 0
    flops = aq.get("flops_step")
    print(f"--busy {n} ({label}): step time with {n} busy loop{'s' if n != 1 else ''} running "
          f"beside the benchmark")
    print(f"{'':10}{'quiet ms/step':>15}{'busy ms/step':>15}{'busy/quiet':>12}"
          f"{'busy GFLOP/s':>15}")
    rows = [("arith", aq, ab), ("pytorch", tq, tb)]
    if len(sys.argv) == 11:
        uq, ub = last_json(sys.argv[9]), last_json(sys.argv[10])
        rows.insert(1, (f"arith, --threads auto ({uq.get('threads')} quiet, "
                        f"{ub.get('threads')} busy)", uq, ub))
    for side, q, b in rows:
        qm, bm = q.get(key), b.get(key)
        if not isinstance(qm, (int, float)) or not isinstance(bm, (int, float)) or qm <= 0:
            print(f"{side:10}{'-':>15}{'-':>15}")
            continue
        g = ""
        if isinstance(flops, (int, float)) and bm > 0:
            g = f"{flops / bm / 1e6:.1f}"
            if peak > 0:
                g += f" ({100 * flops / bm / 1e6 / peak:.0f}%)"
        if len(side) > 10:
            print(side)
            side = ""
        print(f"{side:10}{qm:>15.2f}{bm:>15.2f}{bm / qm:>11.2f}x{g:>15}")
    for side, d in (("arith", ab), ("pytorch", tb)):
        share = d.get("cpu_other_share")
        if isinstance(share, (int, float)):
            print(f"  {side} busy run: other processes took {100 * share:.0f}% of the CPU")


if __name__ == "__main__":
    main()
