#!/usr/bin/env bash
# arith report (#16): one self-contained HTML page of runs. Tiny runs are trained, and their
# page must hold the numbers their metrics.jsonl and arith eval give, the files of their
# directories (grids, probes, attention), a name with markup in it escaped, nothing fetched
# from elsewhere; several runs and a --seeds directory get a comparison; bad input fails with
# a message and writes nothing. Where Debian's chromium is installed (scripts/setup --browser),
# the page is loaded headless: no console error, and its screenshot is not blank.
# Usage: tests/cli_report.sh PATH/TO/arith SOURCE_DIR
set -u
ARITH=${1:?usage: cli_report.sh ARITH_BINARY SOURCE_DIR}
SRC=${2:?usage: cli_report.sh ARITH_BINARY SOURCE_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
. "$SRC/tests/expect.sh"

TINY=(--task add --digits 2 --n 2000 --layers 1 --d-model 32 --heads 4 --ffn 32 --batch 32
      --lr 3e-3 --eval-every 100 --eval-n 100 --samples 0 --threads 1 --carry-n 10)
expect 0 "" -- "$ARITH" train "${TINY[@]}" --steps 300 --run r1
weird='we<i>rd&"run'
expect 0 "" -- "$ARITH" train "${TINY[@]}" --steps 200 --seed 2 --run "$weird"

# the last evaluation line of a metrics.jsonl, field by field, as the page writes them
last_eval() {
    python3 - "$1" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ev = [r for r in rows if r.get("kind") == "eval"][-1]
print("%.4f %d %d/%d %.4f %d %s" % (ev["accuracy"], ev["eval_n"], ev["edge_correct"],
      ev["edge_total"], ev["carry_accuracy"], max(r["step"] for r in rows),
      ",".join("%.4f" % c for c in ev["carry_by_chain"])))
EOF
}

# --- one run: RUN/report.html, the numbers of metrics.jsonl and of arith eval
expect 0 "wrote r1/report.html \(1 run\)" -- "$ARITH" report r1 --threads 1
page=r1/report.html
[ -s "$page" ] && ok || bad "no $page"
read -r acc n edges carry steps chains <<<"$(last_eval r1/metrics.jsonl)"
row() { tr -d '\n' <"$page" | grep -qE "$1" && ok || bad "$page lacks /$1/"; }
row "<td>test exact match</td><td class=\"num\"[^>]*>$acc</td><td class=\"num\">$n</td>"
row "<td>edge cases</td><td class=\"num\"[^>]*>$edges</td>"
row "<td>carry-heavy sums</td><td class=\"num\"[^>]*>$carry</td>"
row "From metrics.jsonl: step $steps of the run's $steps"
cells=""
for c in ${chains//,/ }; do cells="$cells<td class=\"num\"[^>]*>$c</td>"; done
row "<td>exact match</td>$cells</tr>"
# the checkpoint's evaluation: what arith eval --json says of the same checkpoint
read -r ev_acc ev_right ev_carry ev_edge <<<"$("$ARITH" eval r1 --json --threads 1 | python3 -c '
import json, sys
j = json.load(sys.stdin)
print("%.4f %d/%d %d/%d %d/%d" % (j["accuracy"], j["correct"], j["total"], j["carry"]["correct"],
      j["carry"]["total"], j["edge_cases"]["correct"], j["edge_cases"]["total"]))')"
row "<td>test set \(test.csv\)</td><td class=\"num\"[^>]*>$ev_acc</td><td class=\"num\">$ev_right</td>"
row "<td>carry-heavy sums \(carry.csv\)</td><td class=\"num\"[^>]*>[01]\.[0-9]{4}</td><td class=\"num\">$ev_carry</td>"
row "<td>edge cases</td><td class=\"num\"[^>]*>[01]\.[0-9]{4}</td><td class=\"num\">$ev_edge</td>"
# per answer digit: arith eval --predictions' table, digit by digit
"$ARITH" eval r1 --predictions p.csv --threads 1 >pred.txt || bad "eval --predictions failed"
digits=$(awk '/^exact match per answer digit/ { on = 1; getline; next }
              /^exact match per longest/ { on = 0 } on { printf "%s ", $3 }' pred.txt)
[ -n "$digits" ] && ok || bad "no digit table from arith eval: $(cat pred.txt)"
cells=""
for d in $digits; do cells="$cells<td class=\"num\"[^>]*>$d</td>"; done
row "<td>right</td>$cells</tr>"
# per carry chain over the test set, and the wrong answers with their expected answers
chain_exact=$(awk '/^exact match per longest/ { on = 1; getline; next } on { printf "%s ", $3 }' \
    pred.txt)
cells=""
for c in $chain_exact; do cells="$cells<td class=\"num\"[^>]*>$c</td>"; done
row "<td>test set: exact</td>$cells"
wrong=$(awk -F, 'NR > 1 && $4 == 0' p.csv | wc -l)
if [ "$wrong" -gt 0 ]; then
    row "Test set: $wrong wrong"
    IFS=, read -r prompt expected predicted _ <<<"$(awk -F, 'NR > 1 && $4 == 0' p.csv | head -n 1)"
    row "<td><code>$(sed 's/+/\\+/' <<<"$prompt")</code></td><td><code>$expected</code></td>"
else
    row "Every answer right|Test set: 0 wrong"
fi
row "Model: transformer: 1 layer, d_model 32"
row "<td><code>--lr</code></td><td>0.003</td>"
row "<details><summary>config.json</summary>"
row "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\""   # the training curves
# nothing fetched from elsewhere: no script, no stylesheet link, no src, no href but #anchors
grep -qiE "<script|<link|<iframe|@import|url\(" "$page" && bad "$page loads something" || ok
grep -qiE "(src|href)[[:space:]]*=" <(sed 's/href="#run-[0-9]*"//g' "$page") \
    && bad "$page has a src or an href: $(grep -oiE '(src|href)=[^ >]*' "$page" | head -n 3)" || ok
grep -qE "https?://" <(sed 's#xmlns="http://www.w3.org/2000/svg"##g' "$page") \
    && bad "$page names a URL" || ok

# --- the files of a run directory: grid, attention, probes (inlined; a script never)
expect 0 "" -- "$ARITH" eval r1 --grid 1..2 --grid-n 4 --threads 1
expect 0 "" -- "$ARITH" attention r1 "12+34" --threads 1
cat >r1/probe-carry.json <<'EOF'
{"target": "carry", "layers": 2, "positions": 3,
 "accuracy": [[0.51, 0.62, 0.7], [0.97, 0.9871, 0.95]], "baseline": [0.5, 0.55, 0.6]}
EOF
printf '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text>probe figure</text></svg>\n' \
    >r1/probe-carry.svg
printf '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>\n' >r1/probe-evil.svg
printf '<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:url(http://example.com/x)"/></svg>\n' >r1/probe-fetch.svg
expect 0 "" -- "$ARITH" report r1 --no-eval
row "<h3>Length generalisation</h3>.*<svg [^>]*>.*grid-1-2.svg</figcaption>"
row "<h3>Attention</h3>.*12\+34=.*attention.svg</figcaption>"
row "Probe of <b>carry</b>.*<td>baseline</td><td class=\"num\"[^>]*>0.5000</td>"
row "<td>1</td><td class=\"num\"[^>]*>0.9700</td><td class=\"num\"[^>]*>0.9871</td>"
row "<svg viewBox=\"0 0 40 20\" xmlns=[^>]*><text>probe figure</text></svg>"  # scales to the page
row "not shown: it is not an SVG as arith writes it.*probe-evil.svg"
row "not shown: it is not an SVG as arith writes it.*probe-fetch.svg"
grep -q "example.com" "$page" && bad "an SVG's url() to elsewhere reached the page" || ok
grep -q "alert(1)" "$page" && bad "a script of the run directory reached the page" || ok
row "Evaluation of best.safetensors</h3>.*not evaluated \(--no-eval\)"
row "<td>test exact match</td><td class=\"num\"[^>]*>$acc</td>"    # still what metrics say
rm r1/probe-evil.svg r1/probe-fetch.svg

# --- a name with markup: escaped everywhere (heading, title, legend, settings)
expect 0 "" -- "$ARITH" report "$weird" --threads 1
wpage="$weird/report.html"
grep -qF 'we&lt;i&gt;rd&amp;&quot;run' "$wpage" && ok || bad "the run's name is not escaped"
grep -qF 'we<i>rd' "$wpage" && bad "the run's name is in the page unescaped" || ok

# --- several runs: a comparison and the curves overlaid; --out needed
expect 2 "--out FILE.html: where the report of 2 runs goes" -- "$ARITH" report r1 "$weird"
expect 0 "wrote both.html \(2 runs\)" -- "$ARITH" report r1 "$weird" --out both.html --no-eval
page=both.html
row "<h2>The runs compared</h2>"
row "<a href=\"#run-1\">r1</a></td><td class=\"num\">$steps</td><td class=\"num\">[0-9.]+ s</td><td class=\"num\"[^>]*>$acc</td>"
read -r acc2 _ _ _ steps2 _ <<<"$(last_eval "$weird/metrics.jsonl")"
row "<a href=\"#run-2\">we&lt;i&gt;rd&amp;&quot;run</a></td><td class=\"num\">$steps2</td>"
row "<g class=\"legend\">.*>r1</text>.*>we&lt;i&gt;rd&amp;&quot;run</text>"
row "<section id=\"run-1\">.*<section id=\"run-2\">"
# a --seeds directory: each seed run
expect 0 "" -- "$ARITH" train "${TINY[@]}" --steps 40 --seeds 2 --run sw
expect 0 "wrote sw/report.html \(2 runs\)" -- "$ARITH" report sw --threads 1
page=sw/report.html
row "sw/seed-1</a>.*sw/seed-2</a>"

# --- bad input: a message, a non-zero exit, nothing written
expect 1 "nosuch: no such directory: not a run directory" -- "$ARITH" report nosuch
mkdir empty
expect 1 "empty: no metrics.jsonl and no seed-S runs in it: not a run directory" \
    -- "$ARITH" report empty
cp -r r1 bad && rm -f bad/report.html
sed -i '3s/.*/{"step": 120, "loss": 0.5,/' bad/metrics.jsonl
expect 1 "bad/metrics.jsonl:3: not a metrics line" -- "$ARITH" report bad
[ ! -e bad/report.html ] && ok || bad "a failed report wrote bad/report.html"
rm bad/config.json
expect 1 "bad: no config.json: not a run directory" -- "$ARITH" report bad
expect 2 "unknown option --outt; did you mean --out\?" -- "$ARITH" report r1 --outt x.html
expect 2 "unknown option --no-evl; did you mean --no-eval\?" -- "$ARITH" report r1 --no-evl
expect 2 "--checkpoint: unknown value 'first'" -- "$ARITH" report r1 --checkpoint first
expect 2 "usage: arith report RUN" -- "$ARITH" report
expect 1 "bad: no config.json: not a run directory" -- "$ARITH" report r1 bad --out mixed.html
[ ! -e x.html ] && [ ! -e mixed.html ] && ok || bad "a refused report wrote a file"
ls bad r1 | grep -q "\.tmp\." && bad "a temporary file was left" || ok

# --- the page in a browser: no console error, and a screenshot that is not blank
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ] && [ -n "${ARITH_REQUIRE_BROWSER:-}" ]; then # CI installed it
    bad "ARITH_REQUIRE_BROWSER is set and chromium is not installed"
elif [ -z "$browser" ]; then
    echo "cli_report: chromium is not installed (scripts/setup --browser): browser checks skipped"
else
    for page in r1/report.html both.html; do
        shot="$WORK/shot.png"
        rm -f "$shot"
        timeout 120 "$browser" --headless --disable-gpu --no-sandbox --enable-logging=stderr \
            --v=0 --user-data-dir="$WORK/chromium" --screenshot="$shot" \
            --window-size=1200,3000 "file://$WORK/$page" >/dev/null 2>browser.err
        [ -s "$shot" ] && ok || bad "$page: no screenshot: $(tail -n 3 browser.err)"
        # an error in the page shows as a CONSOLE line ("Uncaught ...") in chromium's log
        grep -E "CONSOLE|Uncaught" browser.err && bad "$page: console messages" || ok
        # not blank: many pixels other than white, in several colours (stdlib PNG decoding)
        python3 - "$shot" <<'EOF' && ok || bad "$page: the screenshot looks blank"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    pos += 12 + n
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
assert depth == 8 and ctype in (2, 6), (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, rows, at = bytearray(stride), [], 0
for y in range(h):
    f, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
    at += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p, pa, pb, pc = a + b - c, abs(b - c), abs(a - c), abs(a + b - 2 * c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line)
    prev = line
ink, colours = 0, set()
for line in rows[::4]:
    for x in range(0, stride, 4 * bpp):
        px = bytes(line[x:x + 3])
        colours.add(px)
        ink += px != b"\xff\xff\xff"
total = len(rows[::4]) * len(range(0, stride, 4 * bpp))
print("screenshot: %dx%d, %.1f%% not white, %d colours" % (w, h, 100.0 * ink / total, len(colours)))
sys.exit(0 if ink > total // 50 and len(colours) >= 8 else 1)
EOF
    done
fi

echo "cli_report: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
