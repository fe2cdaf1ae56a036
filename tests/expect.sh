# Shared by the command-line tests (tests/cli_*.sh), sourced after they cd into a scratch
# directory: counters, ok/bad, and expect CODE PATTERN -- command... (the exit code, and an
# extended regex the command's stdout+stderr must match; an empty pattern matches anything).
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

expect() {
    local code=$1 pattern=$2
    shift 3
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$code" ]; then
        bad "$* exited $rc, expected $code; output: $(echo "$out" | tail -n 3)"
    elif [ -n "$pattern" ] && ! grep -qE -- "$pattern" <<<"$out"; then
        bad "$* output lacks /$pattern/: $(echo "$out" | tail -n 3)"
    else
        ok
    fi
}

# tensor_diff A B: the largest difference between two checkpoints' tensors ("0": the same bits;
# their headers name their own directories, so the files cannot be compared whole)
tensor_diff() {
    python3 - "$1" "$2" <<'EOF'
import json, struct, sys
def load(p):
    raw = open(p, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    return {k: raw[8 + n + t["data_offsets"][0]:8 + n + t["data_offsets"][1]]
            for k, t in h.items() if k != "__metadata__"}
a, b = load(sys.argv[1]), load(sys.argv[2])
if a.keys() != b.keys():
    sys.exit("different tensors")
worst = 0.0
for k in a:
    x = struct.unpack("<%df" % (len(a[k]) // 4), a[k])
    y = struct.unpack("<%df" % (len(b[k]) // 4), b[k])
    worst = max([worst] + [abs(u - v) for u, v in zip(x, y)])
print("%.3g" % worst)
EOF
}
