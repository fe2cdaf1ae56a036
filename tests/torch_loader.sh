#!/usr/bin/env bash
# tools/arith_torch.py against arith itself (issue #16): a tiny run of every model family, of
# every positional scheme and of every tokenizer and digit format is trained for a few steps,
# loaded with load_run, and must give arith's logits within 1e-4 (arith predict --logits) and
# arith predict's answers through generate(). Prints the largest logit difference per family.
# Needs PyTorch: without it the test is skipped (exit 77, CTest's SKIP_RETURN_CODE), loudly, or
# fails where ARITH_REQUIRE_TORCH is set (CI, which installed it).
# usage: tests/torch_loader.sh ARITH_BINARY SOURCE_DIR
set -uo pipefail
ARITH=$(realpath "$1")
SRC=$(realpath "$2")
TOL=1e-4

# Debian's python3-torch lives in /usr/bin/python3, which a pyenv python3 on PATH hides
PY=""
for cand in "${ARITH_TORCH_PYTHON:-}" python3 /usr/bin/python3; do
    if [ -n "$cand" ] && "$cand" -c 'import torch' 2>/dev/null; then PY=$cand; break; fi
done
if [ -z "$PY" ]; then
    if [ -n "${ARITH_REQUIRE_TORCH:-}" ]; then # CI's torch leg: a skip there would hide a break
        echo "FAIL: ARITH_REQUIRE_TORCH is set and no python3 imports torch:"
        python3 -c 'import torch' 2>&1 | tail -n 3
        exit 1
    fi
    echo "SKIPPED: no python3 with torch (install python3-torch: scripts/setup --torch; or set ARITH_TORCH_PYTHON)"
    exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fails=0
declare -A worst

# train NAME FAMILY TRAIN_FLAGS... -- PROMPTS...: trains, then compares
check() {
    local name=$1 family=$2
    shift 2
    local flags=() prompts=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do flags+=("$1"); shift; done
    shift
    prompts=("$@")
    if ! "$ARITH" train "${flags[@]}" --samples 0 --threads 1 --run "$name" >"$name.log" 2>&1; then
        echo "FAIL $name: arith train failed:"; tail -n 5 "$name.log"; fails=$((fails + 1)); return
    fi
    local out
    out=$("$PY" "$SRC/tools/arith_torch.py" "$name" "${prompts[@]}" --against "$ARITH" --tol "$TOL" 2>&1)
    local rc=$?
    local diff
    diff=$(sed -n 's/.*largest |logit difference| \([^ ]*\) .*/\1/p' <<<"$out")
    echo "$name ($family): ${diff:-?}"
    if [ $rc -ne 0 ] || [ -z "$diff" ]; then
        echo "FAIL $name:"; echo "$out"; fails=$((fails + 1)); return
    fi
    if [ -z "${worst[$family]:-}" ] || "$PY" -c "import sys; sys.exit(not float('$diff') > float('${worst[$family]}'))"; then
        worst[$family]=$diff
    fi
}

T=(--layers 2 --d-model 16 --heads 2 --ffn 32 --steps 40 --batch 32 --n 400 --eval-n 20)
ADD=("${T[@]}" --task add --digits 1..3 --tokenizer char)
P=("12+34" "999+1" "7+5" "123+456")

# the transformer: every positional scheme, both norms, both GELUs, the pairs tokenizer
check pairs_rope transformer "${T[@]}" --task add --digits 1..3 -- "${P[@]}"
check none_post transformer "${ADD[@]}" --pos none -- "${P[@]}"
check sinusoidal transformer "${ADD[@]}" --pos sinusoidal --norm pre --act gelu -- "${P[@]}"
check learned transformer "${ADD[@]}" --pos learned --act gelu_tanh -- "${P[@]}"
check rope_pre transformer "${ADD[@]}" --pos rope --norm pre -- "${P[@]}"
check alibi transformer "${ADD[@]}" --pos alibi --heads 4 -- "${P[@]}"
check fire transformer "${ADD[@]}" --pos fire --norm pre -- "${P[@]}"
check abacus transformer "${ADD[@]}" --pos abacus --reverse -- "${P[@]}"
check rand_pos transformer "${ADD[@]}" --pos rope --rand-pos --pos-max 32 -- "${P[@]}"
check coupling transformer "${ADD[@]}" --pos coupling --zero-pad -- "${P[@]}"
check coupling_rel transformer "${ADD[@]}" --pos coupling-rel --reverse --index-hints -- "${P[@]}"
check coupling_local transformer "${ADD[@]}" --pos coupling-local --reverse -- "${P[@]}"
check mul_anchor transformer "${T[@]}" --task mul --digits 1..5 --digits-b 1..2 --tokenizer char --reverse --pos coupling-anchor -- "12345*67" "9*9" "40302*1"
check mul_carries transformer "${T[@]}" --task mul --digits 1..5 --digits-b 1..3 --tokenizer char --reverse --carries --pos coupling-anchor -- "12345*678" "9*9" "40302*1"
check add_carries transformer "${ADD[@]}" --reverse --zero-pad --carries --pos coupling-local -- "${P[@]}"
# digit formats and the other tasks' tokenizations
check sub_hints transformer "${T[@]}" --task sub --digits 1..3 --zero-pad --index-hints -- "12-345" "5-3" "100-1"
check mul_scratch transformer "${T[@]}" --task mul --digits 1..2 --scratchpad --zero-pad -- "12*34" "9*9" "7*10"
check xor_pairs transformer "${T[@]}" --task xor --digits 4 --n 200 --tokenizer pairs -- "0110 0011" "1111 0000"
check symbolic_words transformer "${T[@]}" --task symbolic --context 128 --n 200 -- "mul x x" "add x INT+ 3"
# GPT-2, its own design from scratch
check gpt2 gpt2 --model gpt2 --layers 2 --d-model 16 --heads 2 --ffn 32 --steps 40 --batch 32 \
    --task xor --digits 3 --n 64 --test-frac 0.25 -- "010 110" "111 111" "000 001"
# ... and seed 003's: started from Hugging Face's file (sizes and heads from it), frozen but ln, wpe
check gpt2_hf gpt2 --model gpt2 --init "$SRC/tests/fixtures/gpt2_hf_tiny.safetensors" --train ln,wpe \
    --task xor --digits 3 --n 64 --test-frac 0.25 --steps 6 --batch 16 -- "010 110" "111 000"
# seed 000's LSTM on expressions (embedded and one-hot), seed 004's counter (h and c readouts)
L=(--model lstm --tokenizer char --d-model 8 --hidden 16 --layers 2 --steps 40 --batch 32 --eval-n 20)
check lstm_embed lstm "${L[@]}" --task expr --n 400 -- "14*(43+20)=" "3+4" "50-49"
check lstm_onehot lstm "${L[@]}" --task add --digits 1..2 --n 400 --input onehot --layers 1 -- "12+34" "9+9"
check counter lstm --task count --digits 1..10 --model lstm --head regression --input onehot \
    --hidden 4 --layers 1 --tokenizer char --n 300 --steps 30 --eval-n 20 -- "1011" "111111" "0"
check counter_cell lstm --task count --digits 1..10 --model lstm --head regression --readout cell \
    --forget-bias 20 --d-model 4 --hidden 3 --layers 2 --tokenizer char --n 300 --steps 30 \
    --eval-n 20 -- "1011" "111111" "0"
# seed 002's encoder-decoder: spaced prompts without '=', right-aligned answers
check seq2seq seq2seq --model seq2seq --tokenizer char --style spaced --digits 2 --answer-width 3 \
    --input onehot --hidden 8 --layers 1 --n 300 --steps 30 --eval-n 20 -- "12 + 34" "99 + 1"
check seq2seq_embed seq2seq --model seq2seq --tokenizer char --style spaced --digits 2 \
    --answer-width 3 --d-model 6 --hidden 5 --layers 2 --n 300 --steps 30 --eval-n 20 -- "5 + 17"

echo "largest |logit difference| per family (tolerance $TOL):"
for f in transformer gpt2 lstm seq2seq; do echo "  $f ${worst[$f]:-none}"; done

# the loader's own errors: not a run directory, an unknown family, a bad prompt
"$PY" - "$SRC/tools" <<'EOF' || fails=$((fails + 1))
import json, os, shutil, sys
sys.path.insert(0, sys.argv[1])
import arith_torch as at
def refuses(what, fn, text):
    try:
        fn()
    except (ValueError, OSError, NotImplementedError) as e:
        if text in str(e):
            return
        raise SystemExit(f"FAIL {what}: message {e!r} lacks {text!r}")
    raise SystemExit(f"FAIL {what}: no error")
refuses("a missing directory", lambda: at.load_run("no-such-run"), "no such run directory")
os.makedirs("empty", exist_ok=True)
refuses("a directory without checkpoints", lambda: at.load_run("empty"), "not an arith run directory")
refuses("an unknown family", lambda: at.model_settings({"model": "mamba"}, {}), "model family 'mamba'")
refuses("an unknown scheme", lambda: at.model_settings({"pos": "xpos"}, {}), "positional scheme 'xpos'")
model, tok = at.load_run("pairs_rope")
refuses("a character outside the vocabulary", lambda: at.generate(model, tok, "1a+2"), "a+b=")
m2, t2 = at.load_run("none_post")
refuses("a char prompt with a bad character", lambda: at.generate(m2, t2, "1%2"), "'%' at position 2")
m3, t3 = at.load_run("abacus")
refuses("data ids left out", lambda: m3(t3.encode("1+2=")), "pass pos=")
# answers written as arith writes them and read back (the runs' answers rarely are right)
cases = {"pairs_rope": [("12+34=", "46"), ("999+1=", "1000")], "abacus": [("12+34=", "46")],
         "coupling": [("7+5=", "12")], "coupling_rel": [("123+456=", "579")],
         "sub_hints": [("12-345=", "-333"), ("5-3=", "2")], "xor_pairs": [("0110 0011=", "0101")],
         "mul_scratch": [("12*34=", "408"), ("9*9=", "81")], "seq2seq": [("12 + 34", "46")],
         "symbolic_words": [("mul x x =", "mul INT+ 2 x")], "lstm_embed": [("3-5=", "-2")]}
for run, pairs in cases.items():
    _, t = at.load_run(run)
    for p, a in pairs:
        ids = t.encode_answer(p, a)
        assert ids[-1] == t.eos_id and t.decode(ids) == a, (run, p, a, ids, t.decode(ids))
# seed 001's layout: pair columns least significant first, the answer reversed and zero-padded
_, t = at.load_run("pairs_rope")
assert t.encode("12+34=") == [at._pair_id(2, 4), at._pair_id(1, 3), at._pair_id(0, 0), 10, 11]
assert t.encode_answer("12+34=", "46") == [6, 4, 0, 0, 13]
# mul's scratchpad: 12*34 -> s0 = 48, p1 = 360, then the product, zero-padded to 4 digits
_, t = at.load_run("mul_scratch")
sp = t.tokens.index("\u2423")
assert t.encode_answer("12*34=", "408") == [0, 0, 4, 8, sp, 0, 3, 6, 0, sp, 0, 4, 0, 8, 13]
print("errors: ok")
EOF

if [ $fails -ne 0 ]; then echo "$fails failed"; exit 1; fi
echo "all agree"
