#!/usr/bin/env python3
"""Products built to break a multiplier: large column carries, which random digits almost never
make (issue #14). In an n x k product, column s adds the digit products a_(s-j) b_j and the carry
from the column below; with k = 3 the carry out reaches 26 (9*9*3 + 26 = 269), yet of the 1.5
million columns of 180,000 random 1..10-digit x 3-digit products 64 carry 23, 9 carry 24, 7 carry
25 and 1 carries 26. Standard library only; the CSVs (src,tgt) are for `arith eval RUN --csv` and
`arith train --train-csv`.

    mul_carries.py groups [--digits 1..10] [--digits-b 3] [--n 50] [--seed 7]
                          [--exclude CSV...] --out DIR
        DIR/carry-LO-HI.csv: n distinct products whose largest column carry is in LO..HI, for
        bins of ten carries up to the largest carry less 4, then each of the top four values
        (k = 3: 0-9, 10-19, 20-22, 23-23, 24-24, 25-25, 26-26). a has --digits digits, b exactly
        --digits-b; each digit is a 9 with a probability drawn per product, else uniform (a
        leading digit 1..9), and products are drawn until every group is full, none of them a
        prompt of the --exclude CSVs (a run's train.csv: products the model has not seen).

    mul_carries.py mix --run RUN [--fraction 0.25] [--seed 2] --out FILE
        RUN's train.csv (a run of `arith train --task mul --digits A..B [--digits-b K]`) with
        its last round(fraction * rows) rows replaced by products drawn as above (a of A..B
        digits, b of K, or of A..B), none of them a prompt of RUN's train.csv or test.csv. Train on it with
        `arith train --config ... --train-csv FILE --test-csv RUN/test.csv`.

Exit status: 0 done, 1 a file that cannot be read or a group that cannot be filled, 2 bad usage.
"""
import argparse
import collections
import csv
import json
import os
import random
import sys


def largest_carry(a, b):
    """The largest carry out of any column of a * b (digit strings, most significant first)."""
    ra, rb = a[::-1], b[::-1]
    carry = largest = 0
    for s in range(len(ra) + len(rb)):
        t = carry + sum(int(ra[s - j]) * int(rb[j]) for j in range(len(rb)) if 0 <= s - j < len(ra))
        carry = t // 10
        largest = max(largest, carry)
    return largest


def draw(rng, la, lb):
    """a of la digits and b of lb, each digit a 9 with probability p9 ~ U(0, 1), else uniform."""
    p9 = rng.random()

    def digit(lead):
        return "9" if rng.random() < p9 else str(rng.randint(1 if lead else 0, 9))

    a = digit(True) + "".join(digit(False) for _ in range(la - 1))
    b = digit(True) + "".join(digit(False) for _ in range(lb - 1))
    return a, b


def usage(message):
    print(f"mul_carries: {message}", file=sys.stderr)
    sys.exit(2)


def lengths(text, flag):
    lo, _, hi = text.partition("..")
    try:
        lo, hi = int(lo), int(hi or lo)
    except ValueError:
        usage(f"{flag} takes N or A..B (got '{text}')")
    if not 1 <= lo <= hi:
        usage(f"{flag} needs 1 <= A <= B (got '{text}')")
    return lo, hi


def groups_of(kb):
    top = 9 * kb - 1  # with every digit 9 the carries climb to 9k - 1 and stay (243 + 26 = 269)
    bins = [(lo, min(lo + 9, top - 4)) for lo in range(0, top - 3, 10)]
    return bins + [(c, c) for c in range(top - 3, top + 1)]


def cmd_groups(args):
    alo, ahi = lengths(args.digits, "--digits")
    kb = args.digits_b
    if kb < 1 or args.n < 1:
        usage("--digits-b and --n must be positive")
    rng = random.Random(args.seed)
    groups = groups_of(kb)
    found = {g: set() for g in groups}
    exclude = {r[0] for path in args.exclude for r in read_rows(path)}
    for _ in range(5_000_000):
        if all(len(v) >= args.n for v in found.values()):
            break
        a, b = draw(rng, rng.randint(alo, ahi), kb)
        if exclude and f"{a}*{b}=" in exclude:
            continue
        c = largest_carry(a, b)
        for g in groups:
            if g[0] <= c <= g[1] and len(found[g]) < args.n:
                found[g].add((a, b))
    short = False
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        print(f"mul_carries: cannot make {args.out}: {e.strerror}", file=sys.stderr)
        return 1
    for g in groups:
        path = os.path.join(args.out, f"carry-{g[0]}-{g[1]}.csv")
        try:
            with open(path, "w", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(["src", "tgt"])
                for a, b in sorted(found[g]):
                    w.writerow([f"{a}*{b}=", str(int(a) * int(b))])
        except OSError as e:
            print(f"mul_carries: cannot write {path}: {e.strerror}", file=sys.stderr)
            return 1
        print(f"{path}: {len(found[g])} products, largest carry {g[0]}..{g[1]}")
        short |= len(found[g]) < args.n
    if short:
        print("mul_carries: a group could not be filled in 5,000,000 draws", file=sys.stderr)
        return 1
    return 0


def read_rows(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        print(f"mul_carries: cannot read {path}: {e.strerror}", file=sys.stderr)
        sys.exit(1)
    if not rows or rows[0][:2] != ["src", "tgt"]:
        print(f"mul_carries: {path}:1: expected the header src,tgt", file=sys.stderr)
        sys.exit(1)
    return rows[1:]


def cmd_mix(args):
    if not 0 < args.fraction <= 1:
        usage("--fraction must be in (0, 1]")
    try:
        with open(os.path.join(args.run, "config.json")) as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        print(f"mul_carries: {args.run}/config.json: {e}", file=sys.stderr)
        return 1
    if cfg.get("task") != "mul":
        print(f"mul_carries: {args.run} is a run of task {cfg.get('task')!r}, not mul", file=sys.stderr)
        return 1
    alo, ahi = lengths(str(cfg.get("digits")), "the run's digits")
    # b's lengths: --digits-b, or a's range where the run has none
    blo, bhi = (alo, ahi) if str(cfg.get("digits-b", 0)) in ("0", "") else \
        lengths(str(cfg.get("digits-b")), "the run's digits-b")
    rng = random.Random(args.seed)
    train = read_rows(os.path.join(args.run, "train.csv"))
    test = read_rows(os.path.join(args.run, "test.csv"))
    k = round(args.fraction * len(train))
    keep = train[:len(train) - k]
    seen = {r[0] for r in train} | {r[0] for r in test}
    fresh, hist = [], collections.Counter()
    while len(fresh) < k:
        la = rng.randint(alo, ahi)
        a, b = draw(rng, la, blo if blo == bhi else rng.randint(blo, bhi))
        prompt = f"{a}*{b}="
        if prompt in seen:
            continue
        seen.add(prompt)
        fresh.append([prompt, str(int(a) * int(b))])
        hist[largest_carry(a, b)] += 1
    tmp = args.out + ".tmp"  # written whole, then renamed: never a half-written FILE
    try:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["src", "tgt"])
            w.writerows(keep + fresh)
        os.replace(tmp, args.out)
    except OSError as e:
        print(f"mul_carries: cannot write {args.out}: {e.strerror}", file=sys.stderr)
        return 1
    print(f"{args.out}: {len(keep)} of {args.run}'s training products and {len(fresh)} drawn "
          f"for carries; their largest carries: "
          + ", ".join(f"{c}: {n}" for c, n in sorted(hist.items())))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("groups", help="test sets by largest column carry")
    g.add_argument("--digits", default="1..10")
    g.add_argument("--digits-b", type=int, default=3)
    g.add_argument("--n", type=int, default=50)
    g.add_argument("--seed", type=int, default=7)
    g.add_argument("--exclude", nargs="*", default=[], metavar="CSV",
                   help="leave out the prompts of these CSVs (a run's train.csv)")
    g.add_argument("--out", required=True)
    m = sub.add_parser("mix", help="a run's training set with carry-heavy products mixed in")
    m.add_argument("--run", required=True)
    m.add_argument("--fraction", type=float, default=0.25)
    m.add_argument("--seed", type=int, default=2)
    m.add_argument("--out", required=True)
    args = ap.parse_args()
    return cmd_groups(args) if args.cmd == "groups" else cmd_mix(args)


if __name__ == "__main__":
    sys.exit(main())
