#!/usr/bin/env bash
# Checkpoints checked on load, end to end (issue #15): the checksum of the tensor data in their
# metadata (one flipped bit refused by eval, predict and train --resume, exit 1, naming the file;
# --no-verify loads it anyway; a file without the checksum loads), its value recomputed here by
# an independent XXH64 in Python, the header still plain safetensors (JSON, string metadata),
# and metadata or a config.json that contradicts the checkpoint's config refused naming the key
# and both values.
# Usage: tests/cli_verify.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: cli_verify.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: cli_verify.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"

# edit FILE PYTHON: runs PYTHON with `meta` (the __metadata__ dict) and `data` (a bytearray of
# the data region) bound, then writes the file back as plain safetensors
edit() {
    python3 - "$1" "$2" <<'EOF'
import json, struct, sys
path, code = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header["__metadata__"]
data = bytearray(raw[8 + n:])
exec(code)
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
open(path, "wb").write(struct.pack("<Q", len(text)) + text + bytes(data))
EOF
}

expect 0 "final test exact match" -- "$ARITH" train --digits 2 --n 1000 --layers 1 --d-model 32 \
    --heads 4 --ffn 32 --batch 32 --steps 30 --eval-n 50 --samples 0 --threads 1 --run run

# --- the format: plain safetensors, string metadata, the checksum XXH64 of the data region
# (computed here by the specification, not by the library arith uses)
for f in best last; do
    expect 0 "" -- python3 "$SRC/tools/read_safetensors.py" --check run/$f.safetensors
    python3 - run/$f.safetensors <<'EOF' && ok || bad "run/$f.safetensors: checksum or header"
import json, struct, sys
P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)
M = (1 << 64) - 1
rotl = lambda x, r: ((x << r) | (x >> (64 - r))) & M
def rnd(acc, lane):
    return rotl((acc + lane * P2) & M, 31) * P1 & M
def merge(acc, v):
    return ((acc ^ rnd(0, v)) * P1 + P4) & M
def xxh64(b, seed=0):
    n, i = len(b), 0
    if n >= 32:
        v = [(seed + P1 + P2) & M, (seed + P2) & M, seed, (seed - P1) & M]
        while i + 32 <= n:
            for k in range(4):
                v[k] = rnd(v[k], struct.unpack_from("<Q", b, i + 8 * k)[0])
            i += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M
        for k in range(4):
            h = merge(h, v[k])
    else:
        h = (seed + P5) & M
    h = (h + n) & M
    while i + 8 <= n:
        h = (rotl(h ^ rnd(0, struct.unpack_from("<Q", b, i)[0]), 27) * P1 + P4) & M
        i += 8
    if i + 4 <= n:
        h = (rotl(h ^ (struct.unpack_from("<I", b, i)[0] * P1 & M), 23) * P2 + P3) & M
        i += 4
    while i < n:
        h = rotl(h ^ (b[i] * P5 & M), 11) * P1 & M
        i += 1
    h = (h ^ (h >> 33)) * P2 & M
    h = (h ^ (h >> 29)) * P3 & M
    return h ^ (h >> 32)
assert xxh64(b"") == 0xEF46DB3751D8E999 and xxh64(b"abc") == 0x44BC2CF5AD770999
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n].decode("utf-8"))
meta = header["__metadata__"]
assert all(isinstance(v, str) for v in meta.values()), meta
want = "xxh64:%016x" % xxh64(raw[8 + n:])
assert meta["data_checksum"] == want, (meta["data_checksum"], want)
EOF
done

# --- one flipped bit in the data region (a mantissa's lowest: the value stays finite)
flip='data[len(data) // 2 // 4 * 4] ^= 1'
mkdir damaged
cp -r run/. damaged/
edit damaged/best.safetensors "$flip"
edit damaged/last.safetensors "$flip"
expect 0 "" -- python3 "$SRC/tools/read_safetensors.py" --check damaged/best.safetensors
msg="tensor data does not match its checksum \(file damaged\?\).*
hint: --no-verify loads it anyway"
expect 1 "^arith: error: damaged/best.safetensors: $msg" -- "$ARITH" eval damaged
expect 1 "damaged/last.safetensors: $msg" -- "$ARITH" eval damaged --checkpoint last
expect 1 "damaged/best.safetensors: $msg" -- "$ARITH" predict damaged "12+34="
expect 1 "damaged/last.safetensors: $msg" -- "$ARITH" train --resume damaged --steps 40
grep -q '"step": 40' damaged/metrics.jsonl && bad "a refused resume trained on" || ok
expect 0 "exact match" -- "$ARITH" eval damaged --no-verify
expect 0 "^[0-9]+$" -- "$ARITH" predict damaged "12+34=" --no-verify
expect 0 "final test exact match" -- "$ARITH" train --resume damaged --steps 40 --no-verify
expect 2 "--no-verify applies to the checkpoint --resume loads" -- "$ARITH" train --digits 2 \
    --no-verify --run fresh
[ -e fresh ] && bad "a refused train created its directory" || ok

# --- without the checksum (older files, files rewritten by other tools): loads as before
mkdir plain
cp -r run/. plain/
edit plain/best.safetensors 'del meta["data_checksum"]'
expect 0 "exact match" -- "$ARITH" eval plain
# a checksum of a form arith does not know is not taken for a match
edit plain/best.safetensors 'meta["data_checksum"] = "crc32c:0badf00d"'
expect 1 "plain/best.safetensors: metadata \"data_checksum\" is \"crc32c:0badf00d\", not a checksum this arith knows" \
    -- "$ARITH" eval plain

# --- metadata that contradicts the config it stores beside it
mkdir meta
cp -r run/. meta/
tok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokenizer"])' run/config.json)
other=$([ "$tok" = char ] && echo pairs || echo char)
edit meta/best.safetensors "meta['tokenizer'] = '$other'"
expect 1 "meta/best.safetensors: metadata \"tokenizer\" is \"$other\" but the config in its metadata says \"$tok\"" \
    -- "$ARITH" eval meta
edit meta/last.safetensors "meta['task'] = 'mul'"
expect 1 "meta/last.safetensors: metadata \"task\" is \"mul\" but the config in its metadata says \"add\"" \
    -- "$ARITH" train --resume meta --steps 40
cp run/best.safetensors meta/
edit meta/best.safetensors "meta['vocab'] = '999'"
expect 1 "meta/best.safetensors: metadata \"vocab\" is \"999\" but its config gives a vocabulary of [0-9]+ tokens" \
    -- "$ARITH" predict meta "12+34="

# --- a run's config.json that contradicts its checkpoint's config
mkdir cfg
cp -r run/. cfg/
python3 - cfg/config.json <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["d-model"] = 64
json.dump(c, open(sys.argv[1], "w"))
EOF
expect 1 "cfg/best.safetensors: its config says \"d-model\": \"32\", but cfg/config.json says \"64\"" \
    -- "$ARITH" eval cfg
expect 1 "cfg/last.safetensors: its config says \"d-model\": \"32\", but cfg/config.json says \"64\"" \
    -- "$ARITH" train --resume cfg --steps 40
# what a resume may change (--steps) and the directory's name may differ
cp run/config.json cfg/
python3 - cfg/config.json <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["steps"] = 999
c["run"] = "elsewhere"
json.dump(c, open(sys.argv[1], "w"))
EOF
expect 0 "exact match" -- "$ARITH" eval cfg

echo "cli_verify: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
