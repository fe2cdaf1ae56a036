#!/usr/bin/env bash
# Faults during training, end to end (issue #15: nothing lost, nothing silently wrong). A tiny
# run is killed with SIGKILL at random points, stopped with SIGINT and SIGTERM (and a second
# SIGINT at once), run beside a second trainer on the same directory, given a full disk at
# many points (ARITH_FAIL_WRITE_AFTER), and made to diverge to NaN. After each fault the run
# directory must be whole (every safetensors file valid and finite, metrics.jsonl JSON line by
# line, config.json JSON), and the resumed run must end with last.safetensors and
# best.safetensors identical, byte for byte, to an uninterrupted run's at the same thread count.
# A checkpoint holding a NaN is refused naming the tensor (even with --no-verify), and a resume on another thread count
# is refused unless --threads says so. Prints a table of the faults at the end.
# Usage: tests/cli_faults.sh PATH/TO/arith SOURCE_DIR [SEED]   (KEEP_WORK=1 keeps its directory)
set -u
ARITH=${1:?usage: cli_faults.sh ARITH_BINARY SOURCE_DIR [SEED]}
SRC=${2:?usage: cli_faults.sh ARITH_BINARY SOURCE_DIR [SEED]}
SEED=${3:-$$}
WORK=$(mktemp -d)
trap 'if [ -n "${KEEP_WORK:-}" ]; then echo "cli_faults: kept $WORK"; else rm -rf "$WORK"; fi' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"
RANDOM=$SEED
echo "cli_faults: random seed $SEED (rerun with: tests/cli_faults.sh ARITH SOURCE_DIR $SEED)"
# Background jobs get their own process group, so that they see SIGINT (a shell without job
# control starts them with SIGINT ignored, and arith keeps an ignored SIGINT ignored).
set -m

# 1,500 steps of a 1-layer model: an evaluation every epoch (57 steps) and every 500 steps,
# last.safetensors every 25 steps; a few seconds on one thread, dropout on (the masks come
# from the step: a resume must give the same ones).
RUN=(--digits 2 --n 2000 --layers 1 --d-model 32 --heads 4 --ffn 32 --batch 32 --eval-n 100
     --samples 0 --threads 1 --steps 1500 --eval-every 500 --save-every 25 --dropout 0.1)

# whole DIR: every file under its final name is complete and sane.
whole() {
    python3 - "$1" <<'EOF'
import json, math, os, struct, sys
d = sys.argv[1]
def no_nan(s):
    raise ValueError("non-finite number " + s)
for name in sorted(os.listdir(d)):
    path = os.path.join(d, name)
    if ".tmp." in name:
        continue  # a dead process's temporary file: removed when the run starts again
    if name.endswith(".safetensors"):
        raw = open(path, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        base = 8 + n
        end = 0
        for key, t in header.items():
            if key == "__metadata__":
                continue
            b, e = t["data_offsets"]
            end = max(end, e)
            values = struct.unpack("<%df" % ((e - b) // 4), raw[base + b:base + e])
            if not all(math.isfinite(v) for v in values):
                sys.exit("%s: tensor %s is not finite" % (path, key))
        if base + end != len(raw):
            sys.exit("%s: %d bytes, the header says %d" % (path, len(raw), base + end))
    elif name == "metrics.jsonl":
        text = open(path).read()
        if text and not text.endswith("\n"):
            sys.exit("%s: its last line is cut short" % path)
        for i, line in enumerate(text.splitlines()):
            json.loads(line, parse_constant=no_nan)
    elif name.endswith(".json"):
        json.loads(open(path).read(), parse_constant=no_nan)
EOF
}

# The reference: the same run, never interrupted; its duration sets when faults come.
mkdir ref
t0=$(date +%s%N)
(cd ref && "$ARITH" train "${RUN[@]}" --run run >train.log 2>&1) \
    && ok || bad "the reference run failed: $(tail -n 3 ref/train.log)"
ref_ms=$((($(date +%s%N) - t0) / 1000000))
echo "cli_faults: the uninterrupted run took $ref_ms ms"

# same DIR: the run in DIR/run ended as the reference did (both checkpoints, byte for byte;
# the runs share the relative path "run", so even the config in the metadata is the same).
same() {
    local f
    for f in last best; do
        cmp "$1/run/$f.safetensors" ref/run/$f.safetensors >>"$1/cmp.log" 2>&1 && continue
        echo "cli_faults: $1/run/$f.safetensors: $(tail -n 1 "$1/cmp.log")" >&2
        return 1
    done
}

# finish DIR: resumes the run in DIR/run until it ends (a run killed before its config.json
# is started again, as it was; one killed after its last step is done), at most 3 times; 0
# when it ended.
finish() {
    local k
    for k in 1 2 3; do
        if [ -e "$1/run/config.json" ]; then
            (cd "$1" && "$ARITH" train --resume run >>resume.log 2>&1) && return 0
            tail -n 2 "$1/resume.log" | grep -q "has already taken 1500 of 1500 steps" && return 0
        else
            (cd "$1" && "$ARITH" train "${RUN[@]}" --run run >>resume.log 2>&1) && return 0
        fi
    done
    echo "cli_faults: $1 did not resume: $(tail -n 2 "$1/resume.log")" >&2
    return 1
}

# A random pause of 5% to 90% of the uninterrupted run's time (from 5%: the signal handlers
# are in place by then).
pause() {
    local ms=$((ref_ms * (5 + RANDOM % 86) / 100))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
}

# The table: per fault, the tries where it hit (a run that ended before the signal is no try),
# the runs whole after it, and the resumed runs that ended as the reference ("-": none can).
declare -A tries whole_n same_n
tally() { # FAULT WHOLE(0|1) SAME(0|1|-)
    tries[$1]=$((${tries[$1]:-0} + 1))
    whole_n[$1]=$((${whole_n[$1]:-0} + $2))
    [ "$2" -eq 1 ] && ok || bad "$1: the run directory was not whole after the fault"
    if [ "$3" = - ]; then
        same_n[$1]=-
        return
    fi
    same_n[$1]=$((${same_n[$1]:-0} + $3))
    [ "$3" -eq 1 ] && ok || bad "$1: the resumed run does not end as the uninterrupted one"
}
missed=0
missed() { missed=$((missed + 1)); echo "cli_faults: $1 came after the run had ended: not counted"; }
order=()
fault() { [[ " ${order[*]} " == *" $1 "* ]] || order+=("$1"); }

# --- SIGKILL at random points, up to twice per run (the second during the resume), then resume
F="kill -9 (random points)"
fault "$F"
for t in 1 2 3 4 5 6; do
    d=kill$t
    mkdir $d
    (cd $d && exec "$ARITH" train "${RUN[@]}" --run run >train.log 2>&1) &
    pid=$!
    pause
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    [ $? -eq 137 ] || { missed "$d's SIGKILL"; continue; }
    w=1
    whole $d/run 2>>$d/whole.log || w=0
    if [ $((t % 2)) -eq 0 ] && [ -e $d/run/config.json ]; then
        (cd $d && exec "$ARITH" train --resume run >>resume.log 2>&1) &
        pid=$!
        pause
        kill -9 $pid 2>/dev/null
        wait $pid 2>/dev/null
        whole $d/run 2>>$d/whole.log || w=0
    fi
    s=0
    finish $d && same $d && s=1
    ls $d/run | grep -q '\.tmp\.' && { bad "$d: a temporary file outlived the resume"; s=0; }
    tally "$F" $w $s
done

# --- SIGINT: exit 130, the resume command printed, last.safetensors saved; then resume
F="SIGINT, then resume"
fault "$F"
for t in 1 2 3; do
    d=int$t
    mkdir $d
    (cd $d && exec "$ARITH" train "${RUN[@]}" --run run >train.log 2>&1) &
    pid=$!
    pause
    kill -INT $pid 2>/dev/null
    wait $pid
    rc=$?
    w=1
    whole $d/run 2>>$d/whole.log || w=0
    if [ $rc -eq 130 ]; then
        grep -q "arith: stopped by SIGINT at step [0-9]* of 1500; last.safetensors saved" $d/train.log \
            && grep -q "continue:  arith train --resume run" $d/train.log \
            && [ -s $d/run/last.safetensors ] && ok || { bad "$d: no resume hint or checkpoint: $(tail -n 2 $d/train.log)"; w=0; }
    elif [ $rc -eq 0 ]; then
        missed "$d's SIGINT"
        continue
    else
        bad "$d: SIGINT gave exit $rc, not 130: $(tail -n 2 $d/train.log)"
    fi
    s=0
    finish $d && same $d && s=1
    tally "$F" $w $s
done

# --- SIGTERM: exit 143, as SIGINT otherwise
F="SIGTERM, then resume"
fault "$F"
for t in 1 2; do
    d=term$t
    mkdir $d
    (cd $d && exec "$ARITH" train "${RUN[@]}" --run run >train.log 2>&1) &
    pid=$!
    pause
    kill -TERM $pid 2>/dev/null
    wait $pid
    rc=$?
    [ $rc -eq 0 ] && { missed "$d's SIGTERM"; continue; }
    [ $rc -eq 143 ] && grep -q "stopped by SIGTERM at step" $d/train.log \
        && ok || bad "$d: SIGTERM gave exit $rc, not 143: $(tail -n 2 $d/train.log)"
    w=1
    whole $d/run 2>>$d/whole.log || w=0
    s=0
    finish $d && same $d && s=1
    tally "$F" $w $s
done

# --- no signal handler runs on a computing thread: oneDNN's GEMM kernels point rsp into the
# heap, so a handler's frame there corrupts it (seen: "corrupted size vs. prev_size" after a
# SIGTERM). Every thread of a 2-thread run but arith's own signal thread (which waits for them
# in sigwait, and so shows them unblocked) must block SIGTERM (bit 15), and SIGINT (bit 2) where
# the run sees it: a background job here starts with SIGINT ignored, and arith leaves it so.
mkdir masks
(cd masks && exec "$ARITH" train "${RUN[@]}" --threads 2 --steps 100000 --run run >train.log 2>&1) &
pid=$!
sleep 1
n_threads=0
n_signal=0
unblocked=""
for status in /proc/$pid/task/*/status; do
    blk=$(awk '/^SigBlk:/ {print $2}' "$status" 2>/dev/null) || continue
    ign=$(awk '/^SigIgn:/ {print $2}' "$status" 2>/dev/null) || continue
    name=$(awk '/^Name:/ {print $2}' "$status" 2>/dev/null) || continue
    [ -n "$blk" ] || continue
    n_threads=$((n_threads + 1))
    [ "$name" = arith-signals ] && { n_signal=$((n_signal + 1)); continue; }
    (( ((0x$blk | 0x$ign) & (1 << 1)) && (0x$blk & (1 << 14)) )) || unblocked+=" ${status%/status}"
done
kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
if [ $n_threads -lt 3 ]; then
    bad "signal masks: saw $n_threads thread(s) of a --threads 2 run, expected 3 or more (main, signal, OpenMP)"
elif [ $n_signal -ne 1 ]; then
    bad "signal masks: $n_signal threads named arith-signals, not 1"
elif [ -n "$unblocked" ]; then
    bad "signal masks: SIGINT or SIGTERM not blocked in$unblocked (of $n_threads threads)"
elif [ $rc -ne 143 ]; then
    bad "signal masks: SIGTERM gave exit $rc, not 143: $(tail -n 2 masks/train.log)"
else
    ok
fi

# --- two SIGINTs at once: the second ends the process without saving; files stay whole and
# no temporary file is left
F="SIGINT twice (exit at once)"
fault "$F"
for t in 1 2; do
    d=int2x$t
    mkdir $d
    (cd $d && exec "$ARITH" train "${RUN[@]}" --run run >train.log 2>&1) &
    pid=$!
    pause
    kill -INT $pid 2>/dev/null
    kill -INT $pid 2>/dev/null
    wait $pid
    rc=$?
    [ $rc -eq 0 ] && { missed "$d's SIGINTs"; continue; }
    [ $rc -eq 130 ] && ok || bad "$d: two SIGINTs gave exit $rc, not 130"
    w=1
    whole $d/run 2>>$d/whole.log || w=0
    ls $d/run 2>/dev/null | grep -q '\.tmp\.' && { bad "$d: a temporary file was left"; w=0; }
    s=0
    finish $d && same $d && s=1
    tally "$F" $w $s
done

# --- two trainers on one directory: the second (a new run or a resume) fails at once naming
# the first's process; eval and predict read the run meanwhile; the first ends as the reference
F="second trainer on the run"
fault "$F"
d=two
mkdir $d
(cd $d && exec "$ARITH" train "${RUN[@]}" --run run >train.log 2>&1) &
pid=$!
for i in $(seq 100); do [ -s $d/run/last.safetensors ] && break; sleep 0.05; done
expect 1 "run is in use: process $pid is training it" -- bash -c "cd $d && '$ARITH' train ${RUN[*]} --run run"
expect 1 "run is in use: process $pid is training it" -- bash -c "cd $d && '$ARITH' train --resume run"
expect 0 "exact match" -- "$ARITH" eval $d/run --checkpoint last --threads 1
expect 0 "" -- "$ARITH" predict $d/run "12+34=" --threads 1
running=0
kill -0 $pid 2>/dev/null && running=1
wait $pid
rc=$?
[ $running -eq 1 ] && ok || bad "the first trainer ended before the second one was tried (make the run longer)"
[ $rc -eq 0 ] && ok || bad "the first trainer failed: $(tail -n 3 $d/train.log)"
w=1
whole $d/run 2>>$d/whole.log || w=0
s=0
same $d && s=1
tally "$F" $w $s

# --- a full disk at the (N+1)-th checked write: exit 1 naming the file, nothing half-written,
# resumable (the first five writes are the .arith-run marker, train.csv, test.csv, carry.csv
# and config.json)
F="full disk (ARITH_FAIL_WRITE_AFTER)"
fault "$F"
for n in 0 4 5 6 $((RANDOM % 40 + 7)) $((RANDOM % 60 + 50)) $((RANDOM % 60 + 110)); do
    d=full$n
    mkdir $d
    (cd $d && ARITH_FAIL_WRITE_AFTER=$n "$ARITH" train "${RUN[@]}" --run run >train.log 2>&1)
    rc=$?
    [ $rc -eq 1 ] && grep -qE "arith: error: run/[.a-z-]+: cannot write: No space left on device" $d/train.log \
        && ok || bad "$d: exit $rc: $(tail -n 2 $d/train.log)"
    w=1
    whole $d/run 2>>$d/whole.log || w=0
    ls $d/run | grep -q '\.tmp\.' && { bad "$d: a temporary file was left"; w=0; }
    s=0
    finish $d && same $d && s=1
    tally "$F" $w $s
done

# --- divergence: a NaN loss stops the run at its step (exit 1, the step and the flags named);
# metrics.jsonl stays JSON, every checkpoint finite; --eps 0 makes Adam divide 0 by 0 at the
# first update, and the resume with --eps 1e-8 starts at step 0 and ends as the reference
F="NaN: --lr 10 --weight-decay 10"
fault "$F"
d=nan_lr
mkdir $d
(cd $d && "$ARITH" train "${RUN[@]}" --lr 10 --weight-decay 10 --run run >train.log 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -qE "arith: error: step [0-9]+ of 1500: the training loss is -?nan" $d/train.log \
    && grep -q "hint: lower --lr (now 10)" $d/train.log && grep -q "last.safetensors holds step" $d/train.log \
    && ok || bad "$d: exit $rc: $(tail -n 3 $d/train.log)"
w=1
whole $d/run 2>>$d/whole.log || w=0
grep -q '"nonfinite": true' $d/run/metrics.jsonl && ok || bad "$d: metrics.jsonl does not record the NaN"
# its last state is finite, but diverged: resumable (the resume stops again at the NaN)
expect 1 "the training loss is" -- bash -c "cd $d && '$ARITH' train --resume run"
tally "$F" $w - # its last finite state has diverged: no resume can end as the reference

F="NaN: --eps 0, resumed with --eps 1e-8"
fault "$F"
d=nan_eps
mkdir $d
(cd $d && "$ARITH" train "${RUN[@]}" --eps 0 --run run >train.log 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -qE "arith: error: step 1 of 1500: the update made tensor \"[a-z_.0-9]+\" non-finite" $d/train.log \
    && grep -q "raise --eps (now 0)" $d/train.log && ok || bad "$d: exit $rc: $(tail -n 3 $d/train.log)"
w=1
whole $d/run 2>>$d/whole.log || w=0
s=0
(cd $d && "$ARITH" train --resume run --eps 1e-8 >resume.log 2>&1) && grep -q "from step 0" $d/resume.log \
    && same $d && s=1
tally "$F" $w $s

F="NaN: --skip-nonfinite 3"
fault "$F"
d=nan_skip
mkdir $d
(cd $d && "$ARITH" train "${RUN[@]}" --lr 10 --weight-decay 10 --skip-nonfinite 3 --run run >train.log 2>&1)
rc=$?
[ $rc -eq 1 ] && [ "$(grep -c "batch skipped, no update" $d/train.log)" -eq 3 ] \
    && grep -q "after 3 skipped batches (--skip-nonfinite 3)" $d/train.log \
    && [ "$(grep -c '"skipped_nonfinite": [123],' $d/run/metrics.jsonl)" -ge 3 ] \
    && ok || bad "$d: exit $rc: $(tail -n 4 $d/train.log)"
w=1
whole $d/run 2>>$d/whole.log || w=0
tally "$F" $w -

# --- a checkpoint holding a NaN is refused, naming the file and the tensor
mkdir nan_ckpt
cp -r ref/run nan_ckpt/
python3 - nan_ckpt/run/best.safetensors nan_ckpt/run/last.safetensors <<'EOF'
import json, struct, sys
for path in sys.argv[1:]:
    raw = bytearray(open(path, "rb").read())
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    b, e = header["layers.0.ffn.up.weight"]["data_offsets"]
    raw[8 + n + b + 12:8 + n + b + 16] = struct.pack("<f", float("nan"))
    open(path, "wb").write(raw)
EOF
# the NaN written by hand breaks the checksum first; --no-verify skips that check alone
expect 1 "nan_ckpt/run/best.safetensors: tensor data does not match its checksum" -- "$ARITH" eval nan_ckpt/run
expect 1 "nan_ckpt/run/best.safetensors: refused: tensor \"layers.0.ffn.up.weight\" holds 1 non-finite value of [0-9]+ \(the first, at index 3, is -?nan\)" -- "$ARITH" eval nan_ckpt/run --no-verify
expect 1 "best.safetensors: refused: tensor \"layers.0.ffn.up.weight\"" -- "$ARITH" predict nan_ckpt/run "1+2=" --no-verify
expect 1 "last.safetensors: refused: tensor \"layers.0.ffn.up.weight\"" -- "$ARITH" train --resume nan_ckpt/run --steps 1600 --no-verify

# --- a resume on another thread count: refused unless --threads says so (the checkpoint
# records the count in effect; here it is made to say 3)
mkdir threads
cp -r ref/run threads/
python3 - threads/run/last.safetensors <<'EOF'
import json, struct, sys
path = sys.argv[1]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
assert header["__metadata__"]["threads"] == "1", header["__metadata__"]["threads"]
header["__metadata__"]["threads"] = "3"
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
open(path, "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
EOF
expect 1 "threads/run was trained on 3 threads, and this resume would run on 1 .*differ bitwise" -- "$ARITH" train --resume threads/run --steps 1510
expect 1 "hint: --threads 3 continues as it ran; --threads 1 accepts other bits" -- "$ARITH" train --resume threads/run --steps 1510
expect 0 "warning: threads/run was trained on 3 threads and resumes on 1 \(--threads 1\)" -- "$ARITH" train --resume threads/run --steps 1510 --threads 1

# --- a run stopped before its first checkpoint is used again by a new run (no checkpoint to lose;
# the marker, train.csv, test.csv, carry.csv and config.json are its first five writes)
mkdir reuse
(cd reuse && ARITH_FAIL_WRITE_AFTER=5 "$ARITH" train "${RUN[@]}" --run run >/dev/null 2>&1)
[ -e reuse/run/config.json ] && [ ! -e reuse/run/last.safetensors ] && ok || bad "reuse: the full disk should have left config.json alone"
(cd reuse && "$ARITH" train "${RUN[@]}" --run run >train.log 2>&1) && same reuse \
    && ok || bad "reuse: a new run over a run without checkpoint failed: $(tail -n 2 reuse/train.log)"

# --- the table
printf '\n%-38s %6s %18s %28s\n' "fault" "tries" "runs ended whole" "bit-identical after resume"
for f in "${order[@]}"; do
    : "${tries[$f]:=0}" "${whole_n[$f]:=0}" "${same_n[$f]:=0}"
    same="${same_n[$f]}/${tries[$f]}"
    [ "${same_n[$f]}" = - ] && same="n/a (diverged)"
    printf '%-38s %6d %18s %28s\n' "$f" "${tries[$f]}" "${whole_n[$f]}/${tries[$f]}" "$same"
done
[ $missed -eq 0 ] || echo "($missed fault(s) came after the run had ended: not counted above)"
echo
echo "cli_faults: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
