#!/usr/bin/env bash
# --help of every command within the terminal's width (#16: at most 100 columns, $COLUMNS or
# the terminal's when it is one), continuations indented, one default per flag, placeholders
# that say what goes there.
# Usage: tests/cli_help.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: cli_help.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: cli_help.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"
unset COLUMNS

# --- help: every command's, within 100 columns or $COLUMNS (60..100), continuations indented,
# one default per flag, placeholders
for cmd in "" train eval predict data tasks; do
    for cols in "" 60 80 200; do
        want=${cols:-100}
        [ "$want" -gt 100 ] && want=100
        out=$(COLUMNS=$cols "$ARITH" $cmd --help)
        rc=$?
        [ "$rc" -eq 0 ] && ok || bad "arith $cmd --help exited $rc"
        long=$(awk -v w="$want" 'length($0) > w' <<<"$out")
        [ -z "$long" ] && ok || bad "arith $cmd --help (COLUMNS=$cols) over $want: $long"
        # after an option's line, a continuation starts under the help or a choice's summary
        odd=$(awk '/^[a-z]+:$/ { on = 1; next } /^\[BOOL\]/ { on = 0 } /^$/ { next }
                   on && !/^  --/ && !/^    / { print }' <<<"$out")
        [ -z "$cmd" ] || [ -z "$odd" ] && ok \
            || bad "arith $cmd --help (COLUMNS=$cols): unindented: $odd"
        grep -q "(default:$" <<<"$out" && bad "arith $cmd --help splits a default" || ok
        grep -qw "TEXT" <<<"$out" && bad "arith $cmd --help shows a TEXT placeholder" || ok
    done
done
help=$("$ARITH" train --help)
for shown in "--train-csv FILE" "--test-csv FILE" "--init FILE" "--run DIR" "--config FILE" \
             "--resume RUN_DIR" "--lr X" "--layers N" "--digits N|A..B" "--task NAME" \
             "--reverse \[BOOL\]" "--zero-pad \[BOOL\|auto\]" "--threads N\|auto"; do
    grep -qE -- "^  $shown " <<<"$help" && ok || bad "train --help lacks '$shown'"
done
# --run: its one default
run_help=$(awk '/^  --run / { p = 1; print; next } p && /^   / { print; next } { p = 0 }' \
    <<<"$help")
[ "$(grep -o "default" <<<"$run_help" | wc -l)" -eq 1 ] && ok || bad "--run's help: $run_help"
grep -q "(default: none)" <<<"$run_help" && bad "--run shows 'default: none'" || ok
help=$("$ARITH" eval --help)
for shown in "--csv FILE" "--grid A..B" "--json \[BOOL\]" "--checkpoint NAME" "--beam K"; do
    grep -qE -- "^  $shown " <<<"$help" && ok || bad "eval --help lacks '$shown'"
done
expect 0 "^  --out FILE " -- "$ARITH" data --help

echo "cli_help: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
