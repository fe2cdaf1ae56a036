#!/usr/bin/env python3
"""read_safetensors: an independent reader of the safetensors format, standard library only.

Written apart from arith's C reader (struct + json, no numpy or torch), so that each checks the
other: the C tests write a file and compare what this script reads back.

    read_safetensors.py FILE            each tensor's name, dtype, shape and first values, then
                                        the metadata
    read_safetensors.py --check FILE    validate only; prints "ok" or the problem; exit 1 if bad
    read_safetensors.py --json FILE     {"tensors": {name: {"dtype", "shape", "sum"}},
                                         "metadata": {...}}; a non-finite sum is the string
                                        "nan", "inf" or "-inf"

Format: u64 little-endian header length N, N bytes of JSON header
{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 "__metadata__": {"key": "value"}}, then the data (little-endian), offsets relative to its start.
Exit status: 0 good, 1 a bad file, 2 bad usage.
"""
import argparse
import json
import math
import struct
import sys

# dtype: (bytes per element, struct code; None = decoded by hand)
DTYPES = {
    "F64": (8, "d"), "F32": (4, "f"), "F16": (2, "e"), "BF16": (2, None),
    "I64": (8, "q"), "I32": (4, "i"), "I16": (2, "h"), "I8": (1, "b"),
    "U64": (8, "Q"), "U32": (4, "I"), "U16": (2, "H"), "U8": (1, "B"), "BOOL": (1, "?"),
}
FLOAT_DTYPES = {"F64", "F32", "F16", "BF16"}


class FormatError(Exception):
    pass


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise FormatError("header has the key %r twice" % key)
        seen[key] = value
    return seen


def _is_index(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def read(path):
    """Returns (tensors, metadata, data): tensors maps name -> {dtype, shape, begin, end} in
    header order. Raises FormatError naming the problem."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise FormatError("cannot open: %s" % e.strerror)
    if len(raw) < 8:
        raise FormatError("truncated: %d bytes, too short for the 8-byte header length" % len(raw))
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise FormatError("truncated: header says %d bytes but only %d follow" % (n, len(raw) - 8))
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise FormatError("header is not valid JSON: %s" % e)
    if not isinstance(header, dict):
        raise FormatError("header is not a JSON object")
    data = raw[8 + n:]

    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict):
        raise FormatError("__metadata__ is not an object")
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise FormatError("__metadata__ %r: value is not a string" % key)

    tensors = {}
    for name, entry in header.items():
        where = "tensor %r" % name
        if not isinstance(entry, dict):
            raise FormatError("%s: entry is not an object" % where)
        for field in ("dtype", "shape", "data_offsets"):
            if field not in entry:
                raise FormatError("%s: missing %r" % (where, field))
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise FormatError("%s: unknown dtype %r" % (where, dtype))
        if not isinstance(shape, list) or not all(_is_index(d) for d in shape):
            raise FormatError("%s: shape is not a list of non-negative integers" % where)
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(_is_index(o) for o in offsets)):
            raise FormatError("%s: data_offsets is not two non-negative integers" % where)
        begin, end = offsets
        if end < begin:
            raise FormatError("%s: data_offsets %r end before they begin" % (where, offsets))
        if end > len(data):
            raise FormatError("%s: data_offsets %r past end of file (%d bytes of data)"
                              % (where, offsets, len(data)))
        numel = math.prod(shape)
        if numel * DTYPES[dtype][0] != end - begin:
            raise FormatError("%s: shape %r of %s needs %d bytes, data_offsets hold %d"
                              % (where, shape, dtype, numel * DTYPES[dtype][0], end - begin))
        tensors[name] = {"dtype": dtype, "shape": shape, "begin": begin, "end": end}

    spans = sorted((t["begin"], t["end"], name)
                   for name, t in tensors.items() if t["end"] > t["begin"])
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise FormatError("tensors %r and %r overlap" % (n0, n1))
    return tensors, metadata, data


def values(tensor, data):
    """The tensor's elements as Python numbers, in order."""
    chunk = data[tensor["begin"]:tensor["end"]]
    dtype = tensor["dtype"]
    if dtype == "BF16":
        return [struct.unpack("<f", struct.pack("<I", h << 16))[0]
                for (h,) in struct.iter_unpack("<H", chunk)]
    return [v for (v,) in struct.iter_unpack("<" + DTYPES[dtype][1], chunk)]


def total(tensor, data):
    vals = values(tensor, data)
    if tensor["dtype"] not in FLOAT_DTYPES:
        return int(sum(vals))
    if any(math.isnan(v) for v in vals):
        return "nan"
    infs = {v for v in vals if math.isinf(v)}
    if len(infs) == 2:
        return "nan"
    if infs:
        return "inf" if infs.pop() > 0 else "-inf"
    s = math.fsum(vals)
    return s if math.isfinite(s) else ("inf" if s > 0 else "-inf")


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Read and check a safetensors file (standard library only).")
    ap.add_argument("file")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="validate only; exit 1 on any problem")
    mode.add_argument("--json", action="store_true", help="print a JSON summary with sums")
    ap.add_argument("-n", type=int, default=6, help="values to print per tensor (default 6)")
    args = ap.parse_args(argv)

    try:
        tensors, metadata, data = read(args.file)
    except FormatError as e:
        print("%s: %s" % (args.file, e), file=sys.stderr)
        return 1

    if args.check:
        print("%s: ok, %d tensors, %d metadata entries" % (args.file, len(tensors), len(metadata)))
    elif args.json:
        summary = {name: {"dtype": t["dtype"], "shape": t["shape"], "sum": total(t, data)}
                   for name, t in tensors.items()}
        print(json.dumps({"tensors": summary, "metadata": metadata}, indent=1))
    else:
        for name, t in tensors.items():
            vals = values(t, data)
            head = ", ".join("%.6g" % v if isinstance(v, float) else str(v) for v in vals[:args.n])
            more = ", ..." if len(vals) > args.n else ""
            print("%s  %s  %s  [%s%s]" % (name, t["dtype"], t["shape"], head, more))
        for key, value in metadata.items():
            print("metadata %s = %s" % (key, json.dumps(value, ensure_ascii=False)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
