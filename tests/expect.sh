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
