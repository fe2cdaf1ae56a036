#!/usr/bin/env python3
"""The cost of data-parallel training on P machines, on paper (issue #17).

Each step sums every rank's gradient with a ring all-reduce: 2(P-1) messages of S/P bytes per
rank, so T = 2(P-1)*latency + 2*(P-1)/P * S/bandwidth, and arith does not overlap it with
compute (the sum starts after the backward). The compute time per step is measured on this
machine and given on the command line; the network is stated, not measured.

Two ways to use more machines:
  weak:   every rank keeps its batch (the global batch grows with P): step = compute + T
  strong: the global batch stays, split over P ranks: step = compute / P + T

Prints a Markdown table per model: P, T, the step, the efficiency (compute share of the step
for weak, speedup / P for strong) for each bandwidth.

Usage: tools/allreduce_model.py NAME PARAMS COMPUTE_MS [NAME PARAMS COMPUTE_MS ...]
       [--ranks 8,64,512] [--gbit 10,100] [--latency-us 5]
"""
import argparse
import sys


def ring_seconds(p, size_bytes, gbit, latency_s):
    if p == 1:
        return 0.0
    bandwidth = gbit * 1e9 / 8
    return 2 * (p - 1) * latency_s + 2 * (p - 1) / p * size_bytes / bandwidth


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", help="NAME PARAMS COMPUTE_MS triples")
    ap.add_argument("--ranks", default="8,64,512")
    ap.add_argument("--gbit", default="10,100")
    ap.add_argument("--latency-us", type=float, default=5.0)
    a = ap.parse_args()
    if len(a.models) % 3:
        sys.exit("allreduce_model: give NAME PARAMS COMPUTE_MS triples")
    ranks = [int(x) for x in a.ranks.split(",")]
    gbits = [float(x) for x in a.gbit.split(",")]
    lat = a.latency_us * 1e-6
    for i in range(0, len(a.models), 3):
        name, params, compute_ms = a.models[i], int(a.models[i + 1]), float(a.models[i + 2])
        size = 4 * params  # float32 gradients
        compute = compute_ms / 1e3
        print("\n%s: %d parameters (%.1f MB of gradient), %.1f ms of compute per step on one "
              "machine; latency %.0f us\n" % (name, params, size / 1e6, compute_ms, a.latency_us))
        head = "| machines |"
        rule = "|---|"
        for g in gbits:
            head += " all-reduce, %g Gbit/s | weak: step, efficiency | strong: step, efficiency |" % g
            rule += "---|---|---|"
        print(head)
        print(rule)
        for p in ranks:
            row = "| %d |" % p
            for g in gbits:
                t = ring_seconds(p, size, g, lat)
                weak = compute + t
                strong = compute / p + t
                row += " %.2f ms | %.1f ms, %.0f%% | %.2f ms, %.0f%% |" % (
                    t * 1e3, weak * 1e3, 100 * compute / weak, strong * 1e3,
                    100 * (compute / strong) / p)
            print(row)


if __name__ == "__main__":
    main()
