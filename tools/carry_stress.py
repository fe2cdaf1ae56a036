#!/usr/bin/env python3
"""Writes a CSV (src,tgt) of 9-digit sums built to break an adder, independently of arith's own
carry sampler: long runs of digit sums of 9 (a + (10^k - a) and friends), operands of very
different lengths, zeros, repeated digits, and the issue's examples. For `arith eval RUN --csv`.
Usage: tools/carry_stress.py [--digits 9] [--n 5000] [--seed 7] > stress.csv"""
import argparse
import random


def rand_num(rng, length):
    if length == 1:
        return rng.randrange(10)
    return rng.randrange(10 ** (length - 1), 10 ** length)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--digits", type=int, default=9)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    d = args.digits
    top = 10 ** d
    seen = set()
    rows = []

    def add(a, b):
        if 0 <= a < top and 0 <= b < top and (a, b) not in seen:
            seen.add((a, b))
            rows.append((a, b))

    # the examples, and the extremes
    for a, b in [(978558, 999021442), (1, top - 1), (top - 1, 1), (0, 0), (top - 1, top - 1),
                 (top // 10, 0), (top // 10, top // 10), (5 * (top - 1) // 9, 5 * (top - 1) // 9)]:
        add(a, b)
    kinds = ["complement", "ripple", "short_long", "zeros", "repeat", "nines"]
    while len(rows) < args.n:
        kind = rng.choice(kinds)
        if kind == "complement":      # a + (10^k - a): a carry through k columns
            k = rng.randint(1, d)
            a = rand_num(rng, rng.randint(1, k))
            b = 10 ** k - a
            if rng.random() < 0.5:
                b += rng.randrange(10 ** (d - k)) * 10 ** k if k < d else 0
        elif kind == "ripple":        # digit sums of 9 above a generating column
            k = rng.randint(1, d - 1)
            a = b = 0
            for i in range(d):
                if i == 0:
                    x = rng.randint(1, 9); y = rng.randint(10 - x, 9)
                elif i <= k:
                    x = rng.randint(0, 9); y = 9 - x
                else:
                    x = rng.randint(0, 9); y = rng.randint(0, 9)
                a += x * 10 ** i; b += y * 10 ** i
            a %= top; b %= top
        elif kind == "short_long":    # very different lengths, often through nines
            la, lb = rng.randint(1, 3), rng.randint(d - 2, d)
            a = rand_num(rng, la)
            b = rand_num(rng, lb)
            if rng.random() < 0.6:
                b = int("9" * rng.randint(1, lb)) * 10 ** 0
                b = b + rng.randrange(10) * 10 ** len(str(b)) if len(str(b)) < d else b
            if rng.random() < 0.5:
                a, b = b, a
        elif kind == "zeros":         # zeros inside, a zero operand
            a = int("".join(rng.choice("0000123456789") for _ in range(d)))
            b = 0 if rng.random() < 0.3 else int("".join(rng.choice("00000009") for _ in range(rng.randint(1, d))))
        elif kind == "repeat":        # one digit repeated, either operand
            x, y = rng.randint(0, 9), rng.randint(0, 9)
            a = int(str(x) * rng.randint(1, d)); b = int(str(y) * rng.randint(1, d))
        else:                         # nines against small numbers
            a = int("9" * rng.randint(1, d)); b = rng.randint(0, 99)
        if rng.random() < 0.5:
            a, b = b, a
        add(a, b)
    print("src,tgt")
    for a, b in rows:
        print(f"{a}+{b}=,{a + b}")


if __name__ == "__main__":
    main()
