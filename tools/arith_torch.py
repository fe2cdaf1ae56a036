#!/usr/bin/python3
"""Load an arith run into PyTorch: the model as a torch.nn.Module and its tokenizer.

    import sys; sys.path.insert(0, "tools")
    from arith_torch import load_run, generate
    model, tok = load_run("runs/add3", checkpoint="best")    # nn.Module in eval mode, Tokenizer
    ids = torch.tensor([tok.encode("123+456=")])
    logits = model(ids)                                       # (1, T, V), as arith computes them
    generate(model, tok, "123+456")                           # "579", as `arith predict` answers

Every model family arith trains:
    transformer  forward(ids, start=None, pos=None) -> logits (B, T, V). Every positional scheme:
                 none, sinusoidal, learned, rope, alibi, fire (positions are the columns from
                 each row's start), abacus, coupling, coupling-rel, coupling-local,
                 coupling-anchor (positions are the tokenizer's digit indices or
                 significances: pass pos, which tok.positions() computes, or let generate()
                 do it). --rand-pos runs draw their
                 ids from arith's own seeded generator: forward takes them as pos, generate()
                 raises NotImplementedError.
    gpt2         forward(ids, start=None, pos=None) -> logits (B, T, V); Hugging Face's names
                 and Conv1D layouts (wte/in_layer, wpe, h.N.attn.c_attn, ..., out_layer).
    lstm         forward(ids, start=None) -> logits (B, T, V) (head lm), or the regression
                 head's prediction (B,) read at the last column (--readout hidden or cell).
    seq2seq      forward(src, start=None) -> logits (B, W, V): the W answer positions (answer
                 width + EOS) come out at once, from the prompt alone (the decoder reads the
                 encoder's final state repeated, never the answer).
ids are (B, T) (or (T,)) int tensors; start (B,) the left-padding columns of each row (arith
left-pads prompts so that answers start in one column; columns before start are not read).

Parameter names and layouts are the checkpoint's (model.state_dict() has its tensor names:
tok_emb.weight, layers.0.attn.qkv.weight, lstm.0.weight_ih, encoder.0.weight_hh_reverse, ...),
so model.load_state_dict(read_safetensors(path)[0], strict=False) reloads any checkpoint of
the run. The models are the PyTorch twins that write arith's test fixtures
(tools/make_fixtures.py, make_gpt2_fixtures.py, make_lstm_fixtures.py), wrapped in modules.

The tokenizer is arith's (src/data/tokenizer.c): char, pairs (seed 001's aligned digit pairs)
and words (the prefix vocabulary), with the digit formats (--reverse, --zero-pad,
--index-hints, --scratchpad, --carries, --answer-width). It is built from the checkpoint's metadata
(vocab_tokens, tokenizer_resolved) or, for older checkpoints without them, from config.json.

The reference: `arith predict RUN PROMPT --logits` prints arith's own logits of the prompt and
its answer; tests/torch_loader.sh checks that this module's are within 1e-4 of them and that
generate() answers as `arith predict` does, for every family.

Needs only the standard library and torch (no safetensors package).
Command line: python3 tools/arith_torch.py RUN [PROMPT ...] [--checkpoint best|last]
    prints each prompt's answer; --logits prints JSON like `arith predict --logits`.
"""

import argparse
import json
import math
import os
import re
import struct
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as _tf          # noqa: E402  the transformer's twin
import make_gpt2_fixtures as _g2     # noqa: E402  GPT-2's twin
import make_lstm_fixtures as _lm     # noqa: E402  the LSTM cell loop

__all__ = ["load_run", "generate", "read_safetensors", "Tokenizer", "Transformer", "GPT2",
           "LSTM", "Seq2Seq"]

# ---------------------------------------------------------------------------------------------
# safetensors, with the standard library and torch

_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
           "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32, "I16": torch.int16,
           "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}


def read_safetensors(path):
    """({name: tensor}, metadata dict) of a safetensors file. Checks what a reader must (header
    length, dtypes, each tensor's byte span) and says which file and tensor is wrong."""
    if sys.byteorder != "little":
        raise NotImplementedError("safetensors are little-endian; this reader does not swap bytes")
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: not a safetensors file ({len(raw)} bytes, no header)")
    (n,) = struct.unpack_from("<Q", raw, 0)
    if 8 + n > len(raw):
        raise ValueError(f"{path}: not a safetensors file (header of {n} bytes in a file of "
                         f"{len(raw)})")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a safetensors file (header is not JSON: {e})") from None
    meta = header.pop("__metadata__", None) or {}
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, e in header.items():
        dtype = _DTYPES.get(e.get("dtype"))
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has dtype {e.get('dtype')!r}, which this "
                             f"reader does not know ({', '.join(_DTYPES)})")
        shape = [int(d) for d in e["shape"]]
        begin, end = (int(x) for x in e["data_offsets"])
        count = math.prod(shape)
        size = count * torch.empty(0, dtype=dtype).element_size()
        if end - begin != size or begin < 0 or end > len(data):
            raise ValueError(f"{path}: tensor {name} {shape} {e['dtype']} has bytes "
                             f"[{begin}, {end}) of {len(data)}, not {size}")
        # a copy: frombuffer shares memory with the bytes, which are read-only
        buf = bytearray(data[begin:end])
        t = torch.frombuffer(buf, dtype=dtype) if count else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(shape)
    return out, meta


# ---------------------------------------------------------------------------------------------
# the tokenizer (src/data/tokenizer.c)

PLUS, EQUALS, PAD, EOS, BASE_VOCAB = 10, 11, 12, 13, 14
CHAR_EXTRA = "-*() "          # the char tokenizer's characters after BASE_VOCAB, in id order
SPACE_NAME = "\u2423"         # how the vocabulary names the space
MAX_HINTS = 200
MAX_CARRY = 100             # carry tokens c0..c99 (--carries)

# The tasks' digit formats (src/data/tasks/*.c: operator, widest answer for operands of width
# w, answers that may be negative, answers that keep their leading zeros, a scratchpad).
FORMATS = {
    "add": dict(op="+", answer_digits=lambda w: w + 1, carries=True),
    "sub": dict(op="-", answer_digits=lambda w: w, signed=True),
    "mul": dict(op="*", answer_digits=lambda w: 2 * w, scratch=True, carries=True),
    "xor": dict(op=" ", answer_digits=lambda w: w, fixed_width=True),
}
# --tokenizer auto: each task's first tokenizer (`arith tasks`)
AUTO_TOKENIZER = {"add": "pairs", "expr": "char", "count": "char", "xor": "char",
                  "symbolic": "words", "mul": "char", "sub": "char"}
# what a prompt that leaves it out gets appended (arith predict), per task
EQUALS_TEXT = {"symbolic": " ="}


def _pair_id(x, y):
    i, j = min(x, y), max(x, y)
    return BASE_VOCAB + i * 10 - i * (i - 1) // 2 + (j - i)


def _digit_run(s, at=0):
    n = 0
    while at + n < len(s) and "0" <= s[at + n] <= "9":
        n += 1
    return n


def _column_sum(task, a, b, s):
    """format.column_sum (--carries): what column s (0 = units) adds up before its carry in;
    add a_s + b_s, mul the sum of a_(s-j) b_j."""
    def digit(x, i):
        return int(x[len(x) - 1 - i]) if 0 <= i < len(x) else 0
    if task == "mul":
        return sum(digit(a, s - j) * digit(b, j) for j in range(min(len(b), s + 1)))
    return digit(a, s) + digit(b, s)


def _mul_scratch(a, b, j):
    """mul's scratchpad step j (src/data/tasks/mul.c): s_i = a * (b mod 10^(i+1)) for even j,
    p_i = a * b_i * 10^i for odd j, i = (j + 1) / 2."""
    i = (j + 1) // 2
    if j % 2 == 0:
        return str(int(a) * int(b[len(b) - (i + 1):]))
    p = int(a) * int(b[len(b) - (i + 1)])
    return "0" if p == 0 else str(p) + "0" * i


class Tokenizer:
    """arith's tokenizer of one run: encode(prompt) -> ids, encode_answer(prompt, answer),
    decode(ids) -> answer text, positions(prompt, n) -> the ids of the positional schemes that
    number digits. Built by load_run (from_run) from the checkpoint's metadata."""

    def __init__(self, kind, tokens=None, digits=1, reverse_answer=False, reverse=False,
                 zero_pad=False, hints=False, scratchpad=False, answer_width=0, task="add",
                 style="plain", pos_scheme="none", pos_max=0, rand_pos=False, carries=False):
        if kind not in ("char", "pairs", "words"):
            raise ValueError(f"unknown tokenizer '{kind}' (valid: char, pairs, words)")
        self.kind, self.digits, self.task, self.style = kind, int(digits), task, style
        self.reverse_answer, self.answer_width = bool(reverse_answer), int(answer_width)
        self.format = FORMATS.get(task, {})
        self.reverse_operands = self.zero_pad = self.hints = self.scratchpad = False
        self.pad_answer = 0
        self.pos_scheme, self.pos_max, self.rand_pos = pos_scheme, pos_max, rand_pos
        self.pad_id, self.eos_id, self.plus_id, self.equals_id = PAD, EOS, PLUS, EQUALS
        # tokenizer_set_format: pairs pads its answers; the char tokenizer writes digit formats
        if reverse or zero_pad or hints:
            if kind == "pairs" and not reverse and not hints:
                if not self.format.get("fixed_width"):
                    self.pad_answer = self.format["answer_digits"](self.digits)
            elif kind == "char":
                if not self.format:
                    raise ValueError(f"--reverse, --zero-pad and --index-hints need a task with "
                                     f"digit formats (got {task})")
                self.reverse_operands, self.zero_pad, self.hints = bool(reverse), bool(zero_pad), \
                    bool(hints)
                if reverse:
                    self.reverse_answer = True
            else:
                raise ValueError(f"--reverse, --zero-pad and --index-hints are formats of the "
                                 f"char tokenizer (got {kind})")
        self.scratchpad = bool(scratchpad)
        self.carries = bool(carries)
        if self.carries and not (kind == "char" and self.format.get("carries") and
                                 self.reverse_answer):
            raise ValueError("--carries needs the char tokenizer, reversed answers and a task "
                             "with carries (add, mul)")
        built = self._names()
        if tokens is None:
            if kind == "words":
                raise ValueError("the words tokenizer's vocabulary is in the checkpoint's "
                                 "metadata (vocab_tokens), which this checkpoint lacks")
            tokens = built
        elif kind != "words" and list(tokens) != built:
            first = next(i for i, (a, b) in enumerate(zip(list(tokens) + [None], built + [None]))
                         if a != b)
            raise ValueError(f"the checkpoint's vocabulary ({len(tokens)} tokens) is not the "
                             f"{kind} tokenizer's as configured ({len(built)} tokens); they "
                             f"differ first at id {first}")
        self.tokens = list(tokens)
        self.hint_base = len(self.tokens) - MAX_HINTS if self.hints else None
        self.carry_base = len(self.tokens) - MAX_CARRY if self.carries else None
        self._char_id = {}
        for i, name in enumerate(self.tokens):
            if kind == "char" and i < BASE_VOCAB + len(CHAR_EXTRA) and i not in (PAD, EOS):
                self._char_id[" " if name == SPACE_NAME else name] = i
        if kind != "char":
            self._char_id = {**{str(d): d for d in range(10)}, "+": PLUS, "=": EQUALS}

    def _names(self):
        names = [str(d) for d in range(10)] + ["+", "=", "[PAD]", "[EOS]"]
        if self.kind == "char":
            names += [SPACE_NAME if c == " " else c for c in CHAR_EXTRA]
            if self.hints:
                names += [f"h{k}" for k in range(1, MAX_HINTS + 1)]
            if self.carries:
                names += [f"c{k}" for k in range(MAX_CARRY)]
        elif self.kind == "pairs":
            names += [f"({i},{j})" for i in range(10) for j in range(i, 10)]
        return names

    @property
    def vocab_size(self):
        return len(self.tokens)

    def has_format(self):
        return (self.reverse_operands or self.zero_pad or self.hints or self.scratchpad or
                self.carries)

    # -- encoding

    def _chars(self, text):
        ids = []
        for i, c in enumerate(text):
            if c not in self._char_id:
                raise ValueError(f"character {c!r} at position {i + 1} of {text!r} is not in "
                                 f"the vocabulary")
            ids.append(self._char_id[c])
        return ids

    def _words(self, text):
        ids = []
        for k, w in enumerate(text.split()):
            try:
                i = next(i for i, n in enumerate(self.tokens)
                         if n == w and i not in (PAD, EOS, PLUS))
            except StopIteration:
                raise ValueError(f"word {w!r} (word {k + 1} of {text!r}) is not in the prefix "
                                 f"vocabulary") from None
            ids.append(i)
        return ids

    def _split(self, prompt):
        """(a, b) of "a OP b=" (digit operands), or a ValueError naming the form."""
        op = self.format.get("op", "+")
        la = _digit_run(prompt)
        lb = _digit_run(prompt, la + 1) if la < len(prompt) and prompt[la] == op else 0
        if la == 0 or lb == 0 or prompt[la + 1 + lb:] != "=":
            raise ValueError(f"{prompt!r} is not of the form a{op}b= that this tokenizer reads")
        return prompt[:la], prompt[la + 1:la + 1 + lb]

    def _put_number(self, out, digits, width, reversed_):
        """put_number: width digits, least significant first when reversed, zero-padded."""
        for k in range(width):
            s = k + 1 if reversed_ else width - k
            d = int(digits[len(digits) - s]) if s <= len(digits) else 0
            if self.hints:
                if s > MAX_HINTS:
                    raise ValueError(f"index hints name at most {MAX_HINTS} digits")
                out.append((self.hint_base + s - 1, k + 1, s))
            out.append((d, k + 1, s))

    def _formatted(self, prompt, answer=None):
        """encode_formatted: [(id, index, significance)] of prompt and answer, and the answer's
        width for coupling's ids (0 unless zero-padded and not reversed)."""
        a, b = self._split(prompt)
        w = max(len(a), len(b))
        out = []
        self._put_number(out, a, w if self.zero_pad else len(a), self.reverse_operands)
        out.append((self._char_id[self.format["op"]], 0, 0))
        self._put_number(out, b, w if self.zero_pad else len(b), self.reverse_operands)
        out.append((EQUALS, 0, 0))
        width = self.format["answer_digits"](w)
        if self.scratchpad and self.zero_pad and self.digits > w:
            width = self.format["answer_digits"](self.digits)
        ans_width = width if self.zero_pad and not self.reverse_answer else 0
        if answer is None:
            return out, [], ans_width
        negative = self.format.get("signed") and answer.startswith("-")
        digits = answer[1:] if negative else answer
        if not digits or _digit_run(digits) != len(digits):
            raise ValueError(f"answer {answer!r} of {prompt!r} is not a number")
        ans = []
        if self.scratchpad:
            for j in range(2 * len(b) - 2):      # mul's 2 lb - 1 steps, the last is the answer
                step = _mul_scratch(a, b, j)
                self._put_number(ans, step, width if self.zero_pad else len(step),
                                 self.reverse_answer)
                ans.append((self._char_id[" "], 0, 0))
        if self.format.get("signed"):
            ans.append((self._char_id["-"] if negative else PLUS, 0, 0))
        if self.carries:                          # put_carried: digit, then its column's carry
            carry = 0
            for k in range(width if self.zero_pad else len(digits)):
                d = int(digits[len(digits) - 1 - k]) if k < len(digits) else 0
                carry = (_column_sum(self.task, a, b, k) + carry) // 10
                ans += [(d, k + 1, k + 1), (self.carry_base + carry, k + 1, k + 1)]
        else:
            self._put_number(ans, digits, width if self.zero_pad else len(digits),
                             self.reverse_answer)
        ans.append((EOS, 0, 0))
        return out, ans, ans_width

    def encode(self, prompt):
        """The prompt's ids, as arith reads it (tok_encode_prompt). prompt ends with its '='
        (normalize() adds it as `arith predict` does)."""
        if self.has_format():
            return [t[0] for t in self._formatted(prompt)[0]]
        if self.kind == "char":
            return self._chars(prompt)
        if self.kind == "words":
            return self._words(prompt)
        a, b = self._split(prompt)
        if max(len(a), len(b)) > self.digits:
            raise ValueError(f"{prompt!r}: an operand has more than the tokenizer's "
                             f"{self.digits} digits (--digits)")
        if self.format.get("fixed_width") and (len(a) != self.digits or len(b) != self.digits):
            raise ValueError(f"{prompt!r}: the pairs tokenizer reads strings of exactly "
                             f"{self.digits} digits")
        ids = [_pair_id(int(a[-1 - i]) if i < len(a) else 0, int(b[-1 - i]) if i < len(b) else 0)
               for i in range(self.digits)]
        return ids + [PLUS, EQUALS]

    def encode_answer(self, prompt, answer):
        """The answer's ids, EOS last, as arith trains on them (tok_encode_example)."""
        if self.has_format():
            return [t[0] for t in self._formatted(prompt, answer)[1]]
        pad = []
        if self.answer_width > 0:
            if len(answer) > self.answer_width:
                raise ValueError(f"answer {answer!r} is longer than the answer width "
                                 f"{self.answer_width}")
            pad = [self._char_id[" "]] * (self.answer_width - len(answer))
        elif self.pad_answer > 0:
            pad = [0] * (self.pad_answer - len(answer))
        ids = pad + (self._words(answer) if self.kind == "words" else self._chars(answer))
        if self.reverse_answer:
            ids.reverse()
        return ids + [EOS]

    # -- decoding

    def decode(self, ids):
        """The answer text of generated ids, up to EOS (tok_decode_answer)."""
        ids = [int(i) for i in ids]
        if self.has_format():
            first = 0
            if self.scratchpad:
                for i, t in enumerate(ids):
                    if t == EOS:
                        break
                    if t == self._char_id[" "]:
                        first = i + 1
            return self._decode_number(ids[first:])
        if self.kind == "words":
            words = []
            for t in ids:
                if t == EOS:
                    break
                ok = 0 <= t < len(self.tokens) and t not in (PAD, PLUS, EQUALS)
                words.append(self.tokens[t] if ok else "?")
            return " ".join(words)
        out = []
        for t in ids:
            if t == EOS:
                break
            if 0 <= t < 10:
                out.append(str(t))
            elif self.kind == "char" and BASE_VOCAB <= t < BASE_VOCAB + len(CHAR_EXTRA):
                out.append(CHAR_EXTRA[t - BASE_VOCAB])
            else:
                out.append("?")
        s = "".join(out)
        if self.reverse_answer:
            s = s[::-1]
        if self.pad_answer > 0:
            s = s[:-1].lstrip("0") + s[-1:] if s else s
        if self.answer_width > 0:
            s = s.lstrip(" ")
        return s

    def _decode_number(self, ids):
        """decode_number: a digit-format answer (sign, hints, reversed, zero-padded)."""
        bad, negative, first, digits, hint_sig = False, False, 0, [], []
        if self.format.get("signed"):
            negative = len(ids) > 0 and ids[0] == self._char_id["-"]
            bad = not (len(ids) > 0 and (negative or ids[0] == PLUS))
            first = 1
        i = first
        while i < len(ids) and not bad:
            t = ids[i]
            if t == EOS:
                break
            if self.hints:
                is_hint = self.hint_base <= t < self.hint_base + MAX_HINTS
                if not is_hint or i + 1 >= len(ids) or not 0 <= ids[i + 1] < 10:
                    bad = True
                    break
                hint_sig.append(t - self.hint_base + 1)
                i += 1
                t = ids[i]
            if not 0 <= t < 10:
                bad = True
                break
            digits.append(str(t))
            i += 1
            if self.carries:                      # its carry must follow, and is skipped
                bad = i >= len(ids) or not self.carry_base <= ids[i] < self.carry_base + MAX_CARRY
                i += 1
        n = len(digits)
        if self.hints and not bad:
            bad = any(s != (k + 1 if self.reverse_answer else n - k) for k, s in enumerate(hint_sig))
        if self.reverse_answer:
            digits.reverse()
        s = "".join(digits)
        if self.zero_pad and not self.format.get("fixed_width"):
            s = s[:-1].lstrip("0") + s[-1:] if s else s
        s = ("-" if negative else "") + s
        if bad or s in ("", "-"):
            s += "?"
        return s

    # -- prompts and positions

    def normalize(self, prompt):
        """A prompt as `arith predict` takes it: trimmed, the task's '=' added when left out
        (plain style)."""
        text = prompt.strip(" \t\r")
        if self.style == "plain" and text and not text.endswith("="):
            text += EQUALS_TEXT.get(self.task, "=")
        return text

    def positions(self, prompt, n_answer):
        """The position ids of the prompt's tokens and of the first n_answer answer tokens that
        generation feeds back (batch.c's row_positions), for the schemes whose ids come from the
        data: abacus (each digit's index in its number), coupling, coupling-rel,
        coupling-local and coupling-anchor (each digit's significance; the '=' and answer columns that of the
        digit they predict). Other schemes: the columns 0, 1, 2, ..."""
        kind = {"abacus": "abacus", "coupling": "coupling", "coupling-rel": "coupling",
                "coupling-local": "coupling", "coupling-anchor": "coupling"}.get(self.pos_scheme,
                                                                                 "columns")
        if self.rand_pos:
            raise NotImplementedError("--rand-pos: arith draws each example's position ids from "
                                      "its seeded generator; pass them as pos=")
        if self.has_format():
            enc, _, ans_width = self._formatted(prompt)
            idx, sig = [t[1] for t in enc], [t[2] for t in enc]
        else:
            ids = self.encode(prompt)
            idx, sig = self._plain_positions(ids)
            ans_width = 0
        np_ = len(idx)
        if kind == "columns":
            return list(range(np_ + n_answer))
        ans_sign = 1 if self.has_format() and self.format.get("signed") else 0
        period = 2 if self.hints or self.carries else 1

        def answer_sig(k):
            if k < ans_sign:
                return 0
            digit = (k - ans_sign) // period
            return digit + 1 if self.reverse_answer else max(ans_width - digit, 0)

        if kind == "coupling":
            pos = list(sig)
            pos[np_ - 1] = answer_sig(0)
            ans = [answer_sig(i + 1) for i in range(n_answer)]
        else:
            pos = list(idx)
            ans = [0 if i < ans_sign else (i - ans_sign) // period + 1 for i in range(n_answer)]
        # an answer that runs past the table is wrong already: arith keeps its ids in range
        return pos + [min(p, self.pos_max - 1) for p in ans]

    def _plain_positions(self, ids):
        """plain_positions for a prompt: runs of digits are numbers, most significant first
        (pairs: the first `digits` tokens, least significant first)."""
        n = len(ids)
        idx, sig = [0] * n, [0] * n
        if self.kind == "pairs":
            for i in range(min(self.digits, n)):
                idx[i] = sig[i] = i + 1
            return idx, sig
        i = 0
        while i < n:
            run = 0
            while i + run < n and 0 <= ids[i + run] < 10:
                run += 1
            for k in range(run):
                idx[i + k], sig[i + k] = k + 1, run - k
            i += run if run else 1
        return idx, sig

    @classmethod
    def from_run(cls, cfg, meta):
        """From a checkpoint's config (config.json's keys) and metadata."""
        kind = meta.get("tokenizer_resolved") or cfg.get("tokenizer", "auto")
        if kind == "auto":
            kind = AUTO_TOKENIZER.get(cfg.get("task", "add"))
            if kind is None:
                raise ValueError(f"unknown task '{cfg.get('task')}' (valid: "
                                 f"{', '.join(AUTO_TOKENIZER)})")
        tokens = json.loads(meta["vocab_tokens"]) if meta.get("vocab_tokens") else None
        m = model_settings(cfg, {})
        return cls(kind, tokens, digits=_digits_hi(cfg.get("digits", 1)),
                   reverse_answer=_flag(cfg.get("reverse-answer")), reverse=_flag(cfg.get("reverse")),
                   zero_pad=_flag(cfg.get("zero-pad")), hints=_flag(cfg.get("index-hints")),
                   scratchpad=_flag(cfg.get("scratchpad")), carries=_flag(cfg.get("carries")),
                   answer_width=int(cfg.get("answer-width", 0) or 0), task=cfg.get("task", "add"),
                   style=cfg.get("style", "plain"), pos_scheme=m["pos"], pos_max=m["pos_max"],
                   rand_pos=m["rand_pos"])


def _flag(v):
    """A config's boolean ("auto" is resolved when a run is made, so it is not seen here)."""
    if isinstance(v, str):
        if v == "auto":
            raise ValueError("the config holds an unresolved 'auto' (a run's config.json records "
                             "what it resolved to)")
        return v in ("true", "1", "yes", "on")
    return bool(v)


def _digits_hi(v):
    """--digits N or A..B: the largest."""
    m = re.fullmatch(r"\s*(\d+)(?:\s*\.\.\s*(\d+))?\s*", str(v))
    if not m:
        raise ValueError(f"--digits {v!r} is neither N nor A..B")
    return int(m.group(2) or m.group(1))


# ---------------------------------------------------------------------------------------------
# the models

DATA_SCHEMES = ("abacus", "coupling", "coupling-rel", "coupling-local", "coupling-anchor")
SCHEMES = ("none", "sinusoidal", "learned", "rope", "alibi", "fire") + DATA_SCHEMES


def _columns(ids, start):
    T = ids.shape[1]
    return torch.clamp(torch.arange(T).unsqueeze(0) - start.long().unsqueeze(1), min=0)


def _batch(ids, start):
    ids = torch.as_tensor(ids)
    if ids.dim() == 1:
        ids = ids.unsqueeze(0)
    if ids.dim() != 2:
        raise ValueError(f"ids must be (B, T) or (T,), got shape {tuple(ids.shape)}")
    start = torch.zeros(ids.shape[0], dtype=torch.long) if start is None else \
        torch.as_tensor(start).long().reshape(-1)
    if start.shape[0] != ids.shape[0]:
        raise ValueError(f"start has {start.shape[0]} rows, ids {ids.shape[0]}")
    return ids.long(), start


class Transformer(_tf.Twin):
    """arith's decoder-only transformer (model "transformer"): make_fixtures.py's twin."""

    family = "transformer"

    def __init__(self, m):
        if m["pos"] not in SCHEMES:
            raise NotImplementedError(f"positional scheme '{m['pos']}' (known: "
                                      f"{', '.join(SCHEMES)})")
        # the twin sizes its position tables by "context": arith's are pos_max rows
        super().__init__({**m, "context": m["pos_max"]})
        self.m = m

    def forward(self, ids, start=None, pos=None):
        ids, start = _batch(ids, start)
        if pos is None:
            if self.m["pos"] in DATA_SCHEMES or self.m["rand_pos"]:
                raise ValueError(f"--pos {self.m['pos']}{' --rand-pos' if self.m['rand_pos'] else ''}"
                                 f" numbers positions from the data: pass pos= "
                                 f"(tok.positions(prompt, n_answer) gives them)")
            pos = _columns(ids, start)
        pos = torch.as_tensor(pos).long().reshape(ids.shape)
        if (pos < 0).any() or (pos >= self.m["pos_max"]).any():
            raise ValueError(f"position ids must be in 0..{self.m['pos_max'] - 1} (--pos-max)")
        return super().forward(ids, start, pos)


class _Conv1D(nn.Module):
    """GPT-2's Conv1D: y = x W + b, W (in, out)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))


class _GPT2Block(nn.Module):
    def __init__(self, C, Fw):
        super().__init__()
        self.ln_1, self.ln_2 = _tf.LN(C), _tf.LN(C)
        self.attn = nn.Module()
        self.attn.c_attn, self.attn.c_proj = _Conv1D(C, 3 * C), _Conv1D(C, C)
        self.mlp = nn.Module()
        self.mlp.c_fc, self.mlp.c_proj = _Conv1D(C, Fw), _Conv1D(Fw, C)


class GPT2(nn.Module):
    """arith's GPT-2 (model "gpt2"): Hugging Face's names and layouts; the forward is
    make_gpt2_fixtures.py's twin over these parameters."""

    family = "gpt2"

    def __init__(self, m):
        super().__init__()
        self.m = m
        V, C = m["vocab"], m["d_model"]
        if m["tie"]:
            self.wte = nn.Embedding(V, C)
        else:
            self.in_layer = nn.Embedding(V, C)
            self.out_layer = nn.Linear(C, V)
        self.wpe = nn.Embedding(m["pos_max"], C)
        self.h = nn.ModuleList([_GPT2Block(C, m["ffn"]) for _ in range(m["layers"])])
        self.ln_f = _tf.LN(C)

    def forward(self, ids, start=None, pos=None):
        ids, start = _batch(ids, start)
        if pos is not None:
            pos = torch.as_tensor(pos).long().reshape(ids.shape)
        P = dict(self.named_parameters())
        return _g2.twin_forward(self.m, P, ids, start, pos)


class _LSTMLayer(nn.Module):
    """One LSTM layer in PyTorch's layout (weight_ih (4H, in), ..., gates i f g o), and its
    reverse direction's *_reverse when bidirectional."""

    def __init__(self, n_in, H, bidirectional=False):
        super().__init__()
        for suffix in ("", "_reverse") if bidirectional else ("",):
            self.register_parameter("weight_ih" + suffix, nn.Parameter(torch.zeros(4 * H, n_in)))
            self.register_parameter("weight_hh" + suffix, nn.Parameter(torch.zeros(4 * H, H)))
            self.register_parameter("bias_ih" + suffix, nn.Parameter(torch.zeros(4 * H)))
            self.register_parameter("bias_hh" + suffix, nn.Parameter(torch.zeros(4 * H)))

    def weights(self, suffix=""):
        return tuple(getattr(self, n + suffix) for n in ("weight_ih", "weight_hh", "bias_ih",
                                                          "bias_hh"))


class _Head(nn.Module):
    pass


class LSTM(nn.Module):
    """arith's LSTM (model "lstm"): embedded or one-hot inputs, L layers, and the lm head
    (logits = out(relu(fc(h)))) or the regression head (w . h or w . c at the last column).
    Columns before a row's start leave its state as it is (make_lstm_fixtures.py's loop)."""

    family = "lstm"

    def __init__(self, m):
        super().__init__()
        self.m = m
        V, E, H = m["vocab"], m["d_model"], m["hidden"]
        if m["input"] == "embed":
            self.embed = nn.Embedding(V, E)
        n_in = E if m["input"] == "embed" else V
        self.lstm = nn.ModuleList([_LSTMLayer(n_in if l == 0 else H, H) for l in range(m["layers"])])
        self.head = _Head()
        if m["head"] == "lm":
            self.head.fc, self.head.out = nn.Linear(H, H), nn.Linear(H, V)
        else:
            self.head.weight = nn.Parameter(torch.zeros(1, H))
            self.head.bias = nn.Parameter(torch.zeros(1))

    def inputs(self, ids):
        if self.m["input"] == "embed":
            return self.embed.weight[ids]
        return torch.eye(self.m["vocab"], dtype=self.head_dtype())[ids]

    def head_dtype(self):
        return next(self.parameters()).dtype

    def forward(self, ids, start=None):
        ids, start = _batch(ids, start)
        valid = torch.arange(ids.shape[1]).unsqueeze(0) >= start.unsqueeze(1)
        hs = self.inputs(ids)
        for layer in self.lstm:
            hs, h, c = _lm.lstm_direction_state(hs, valid, layer.weights())
        if self.m["head"] == "lm":
            return self.head.out(torch.relu(self.head.fc(hs)))
        # the top layer's state after the last column (the prompt's '=')
        read = c if self.m["readout"] == "cell" else h
        return (read @ self.head.weight.t() + self.head.bias)[:, 0]


class Seq2Seq(nn.Module):
    """arith's encoder-decoder (model "seq2seq"): bidirectional LSTM layers over the prompt,
    z = [forward final | backward final] of the top layer, repeated at the W answer positions
    into bidirectional decoder layers, a linear layer per position."""

    family = "seq2seq"

    def __init__(self, m):
        super().__init__()
        self.m = m
        V, E, H, L = m["vocab"], m["d_model"], m["hidden"], m["layers"]
        if m["input"] == "embed":
            self.embed = nn.Embedding(V, E)
        n_in = E if m["input"] == "embed" else V
        self.encoder = nn.ModuleList([_LSTMLayer(n_in if l == 0 else 2 * H, H, True)
                                      for l in range(L)])
        self.decoder = nn.ModuleList([_LSTMLayer(2 * H, H, True) for _ in range(L)])
        self.head = nn.Linear(2 * H, V)

    @staticmethod
    def _bi(layer, xs, valid):
        fwd, h_f, _ = _lm.lstm_direction_state(xs, valid, layer.weights())
        rev, h_r, _ = _lm.lstm_direction_state(xs, valid, layer.weights("_reverse"), reverse=True)
        return torch.cat([fwd, rev], dim=2), torch.cat([h_f, h_r], dim=1)

    def forward(self, src, start=None):
        src, start = _batch(src, start)
        Bn, Tp = src.shape
        valid = torch.arange(Tp).unsqueeze(0) >= start.unsqueeze(1)
        xs = self.embed.weight[src] if self.m["input"] == "embed" else \
            torch.eye(self.m["vocab"], dtype=self.head.weight.dtype)[src]
        for layer in self.encoder:
            xs, z = self._bi(layer, xs, valid)
        W = self.m["answer_len"]
        xs = z.unsqueeze(1).expand(Bn, W, z.shape[1])
        every = torch.ones(Bn, W, dtype=torch.bool)
        for layer in self.decoder:
            xs, _ = self._bi(layer, xs, every)
        return self.head(xs)


FAMILIES = {"transformer": Transformer, "gpt2": GPT2, "lstm": LSTM, "seq2seq": Seq2Seq}


def model_settings(cfg, tensors):
    """The model's sizes and choices from a run's config (config.json's keys), sizes checked
    against (or, where the config leaves them to a pretrained file, read from) the tensors."""
    fam = cfg.get("model", "transformer")
    if fam not in FAMILIES:
        raise NotImplementedError(f"model family '{fam}' (known: {', '.join(FAMILIES)})")
    m = {"family": fam, "d_model": int(cfg.get("d-model", 0)), "heads": int(cfg.get("heads", 1)),
         "ffn": int(cfg.get("ffn", 0)), "layers": int(cfg.get("layers", 1)),
         "context": int(cfg.get("context", 0)), "norm": cfg.get("norm", "post"),
         "act": cfg.get("act", "relu"), "pos": cfg.get("pos", "none"),
         "pos_max": int(cfg.get("pos-max", 0) or 0), "rand_pos": _flag(cfg.get("rand-pos", False)),
         "hidden": int(cfg.get("hidden", 0) or 0), "head": cfg.get("head", "lm"),
         "input": cfg.get("input", "embed"), "readout": cfg.get("readout", "hidden"),
         "dropout": 0, "tie": False}
    t = tensors
    if fam == "gpt2":
        # gpt2 fixes its own choices (gpt2_fix_choices); a run from --init takes its sizes
        # from the pretrained file, so the tensors say them
        m.update(norm="pre", act="gelu_tanh", pos="learned", rand_pos=False)
        m["tie"] = "out_layer.weight" not in t and "wte.weight" in t
        if "wpe.weight" in t:
            m["pos_max"], m["d_model"] = t["wpe.weight"].shape
            m["context"] = m["pos_max"]
        m["layers"] = len({k.split(".")[1] for k in t if k.startswith("h.")}) or m["layers"]
        if "h.0.mlp.c_fc.weight" in t:
            m["ffn"] = t["h.0.mlp.c_fc.weight"].shape[1]
    elif fam == "transformer":
        if m["pos"] not in SCHEMES:
            raise NotImplementedError(f"positional scheme '{m['pos']}' (known: "
                                      f"{', '.join(SCHEMES)})")
        # the tables' rows (session.c): --pos-max, else 256 where the data gives the ids
        # (data_pos_max of every scheme that takes them), else the context
        if m["pos_max"] == 0 and (m["pos"] in DATA_SCHEMES or m["rand_pos"]):
            m["pos_max"] = 256
        if m["pos_max"] == 0:
            m["pos_max"] = m["context"]
        if "pos_emb.weight" in t:
            m["pos_max"] = t["pos_emb.weight"].shape[0]
    else:
        m["pos"], m["rand_pos"] = "none", False
        m["pos_max"] = m["pos_max"] or m["context"]
    if fam in ("transformer", "gpt2") and m["d_model"] % max(m["heads"], 1):
        raise ValueError(f"d_model {m['d_model']} is not a multiple of heads {m['heads']}")
    if fam == "seq2seq":
        # answer positions the decoder emits: the answer width + EOS (session.c)
        m["answer_len"] = int(cfg.get("answer-width", 0) or 0) + 1
        if m["answer_len"] < 2:
            raise ValueError("a seq2seq run needs --answer-width in its config")
    return m


def _vocab(meta, tensors, tok):
    if meta.get("vocab"):
        return int(meta["vocab"])
    for name in ("tok_emb.weight", "in_layer.weight", "wte.weight", "embed.weight",
                 "head.out.weight", "head.weight"):
        if name in tensors and not (name == "head.weight" and tensors[name].shape[0] == 1):
            return tensors[name].shape[0]
    return tok.vocab_size


def load_run(run_dir, checkpoint="best", dtype=torch.float32):
    """(model, tokenizer) of an arith run directory: the nn.Module of its family in eval mode
    with the checkpoint's weights (checkpoint "best" or "last", or a path to a .safetensors),
    and its Tokenizer. Errors name what is wrong: not a run directory, no such checkpoint, an
    unknown family or scheme, a tensor the model does not have or lacks."""
    if checkpoint in ("best", "last"):
        if not os.path.isdir(run_dir):
            raise FileNotFoundError(f"{run_dir}: no such run directory")
        path = os.path.join(run_dir, checkpoint + ".safetensors")
        if not os.path.exists(path):
            have = [f for f in ("best.safetensors", "last.safetensors")
                    if os.path.exists(os.path.join(run_dir, f))]
            raise FileNotFoundError(f"{run_dir}: not an arith run directory (no {checkpoint}."
                                    f"safetensors{'; it has ' + ', '.join(have) if have else ''})")
    else:
        path = checkpoint
    tensors, meta = read_safetensors(path)
    if meta.get("config"):
        cfg = json.loads(meta["config"])
    else:
        # rewritten by another tool: the run's config.json
        cpath = os.path.join(os.path.dirname(path) or ".", "config.json")
        if not os.path.exists(cpath):
            raise ValueError(f"{path}: no config in its metadata and no {cpath}")
        with open(cpath) as f:
            cfg = json.load(f)
    params = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    tok = Tokenizer.from_run(cfg, meta)
    m = model_settings(cfg, params)
    m["vocab"] = _vocab(meta, params, tok)
    if m["vocab"] != tok.vocab_size:
        raise ValueError(f"{path}: the model's vocabulary is {m['vocab']} tokens, the "
                         f"tokenizer's {tok.vocab_size}")
    model = FAMILIES[m["family"]](m)
    own = dict(model.named_parameters())
    missing, extra = sorted(set(own) - set(params)), sorted(set(params) - set(own))
    if missing or extra:
        raise ValueError(f"{path}: tensors do not match a {m['family']} of this config: "
                         f"missing {missing[:5]}, unexpected {extra[:5]}")
    with torch.no_grad():
        for name, p in own.items():
            if tuple(p.shape) != tuple(params[name].shape):
                raise ValueError(f"{path}: tensor {name} is {list(params[name].shape)}, the "
                                 f"model's {list(p.shape)}")
            p.copy_(params[name])
    model.to(dtype).eval()
    model.config, model.metadata, model.tokenizer = cfg, meta, tok
    return model, tok


# ---------------------------------------------------------------------------------------------
# answering

def _max_new(model, n_prompt):
    """predict_answers' limit: to the context's end (recurrent models: as many as the context,
    the longest sequence trained on)."""
    m = model.m
    if model.family in ("transformer", "gpt2"):
        return m["context"] - n_prompt + 1
    return m["context"]


@torch.no_grad()
def generate_ids(model, tok, prompt):
    """(prompt ids, answer ids up to and including EOS (or to the limit), their positions) of a
    greedy answer, each step re-running the whole sequence (what arith's cache computes)."""
    ids = tok.encode(prompt)
    if model.family == "seq2seq":
        logits = model(torch.tensor([ids]))
        return ids, logits[0].argmax(-1).tolist(), None
    if getattr(model, "m", {}).get("head") == "regression":
        raise ValueError("a regression head predicts a number, not tokens: use model(ids)")
    max_new = _max_new(model, len(ids))
    if max_new < 1:
        raise ValueError(f"a prompt of {len(ids)} tokens leaves no room in the model's context "
                         f"of {model.m['context']}")
    data_pos = model.family == "transformer" and (model.m["pos"] in DATA_SCHEMES or model.m["rand_pos"])
    out = []
    for _ in range(max_new):
        seq = torch.tensor([ids + out])
        pos = None
        if data_pos:
            pos = torch.tensor([tok.positions(prompt, len(out))])
        logits = model(seq) if pos is None else model(seq, pos=pos)
        nxt = int(logits[0, -1].argmax())
        out.append(nxt)
        if nxt == tok.eos_id:
            break
    pos = tok.positions(prompt, len(out)) if data_pos else None
    return ids, out, pos


def generate(model, tok, prompt):
    """The answer `arith predict RUN PROMPT` prints: greedy, decoded (a regression head: its
    prediction to 3 decimals)."""
    prompt = tok.normalize(prompt)
    if getattr(model, "m", {}).get("head") == "regression":
        with torch.no_grad():
            return f"{float(model(torch.tensor([tok.encode(prompt)]))[0]):.3f}"
    return tok.decode(generate_ids(model, tok, prompt)[1])


@torch.no_grad()
def generation_logits(model, tok, prompt):
    """What `arith predict --logits` prints for a prompt: {"answer", "tokens", "positions",
    "logits_from", "logits"} (a regression head: "value"), the model reading the prompt and its
    greedy answer up to the EOS."""
    prompt = tok.normalize(prompt)
    if getattr(model, "m", {}).get("head") == "regression":
        ids = tok.encode(prompt)
        v = float(model(torch.tensor([ids]))[0])
        return {"answer": f"{v:.3f}", "tokens": ids, "positions": list(range(len(ids))),
                "value": v}
    ids, out, pos = generate_ids(model, tok, prompt)
    answer = tok.decode(out)
    k = out.index(tok.eos_id) if tok.eos_id in out else len(out) - 1
    if model.family == "seq2seq":      # all of its answer positions, EOS or not (as arith)
        k = model.m["answer_len"] - 1
    seq = ids + out[:k]
    if model.family == "seq2seq":
        logits = model(torch.tensor([ids]))[0]
        return {"answer": answer, "tokens": seq, "positions": list(range(len(seq))),
                "logits_from": len(ids) - 1, "logits": logits.tolist()}
    if pos is None:
        logits = model(torch.tensor([seq]))[0]
        pos = list(range(len(seq)))
    else:
        pos = pos[:len(seq)]
        logits = model(torch.tensor([seq]), pos=torch.tensor([pos]))[0]
    return {"answer": answer, "tokens": seq, "positions": pos, "logits_from": 0,
            "logits": logits.tolist()}


def compare(run_dir, prompts, arith, checkpoint="best"):
    """Checks this loader against arith itself: runs `ARITH predict RUN --logits PROMPT ...`
    and compares, prompt by prompt, the answer (generate() against arith's), the tokens and
    positions read and the logits (or a regression head's value). Returns (largest |logit
    difference|, [problems]); an empty list means every answer, token and position agreed.
    A --rand-pos run: the logits of arith's tokens at arith's ids only (its draw of ids is
    arith's generator's)."""
    import subprocess
    model, tok = load_run(run_dir, checkpoint)
    if checkpoint not in ("best", "last"):
        raise ValueError("compare() needs checkpoint best or last (arith predict's choices)")
    worst, problems = 0.0, []
    for prompt in prompts:
        # one prompt per call: arith predict stops an answer that never ends at the context
        # left by the longest prompt answered with it, so a batch would cut such answers short
        res = subprocess.run([arith, "predict", run_dir, "--logits", "--threads", "1",
                              "--checkpoint", checkpoint, prompt], capture_output=True, text=True)
        lines = res.stdout.splitlines()
        if len(lines) != 1:
            raise RuntimeError(f"{arith} predict --logits exited {res.returncode}: {res.stderr}")
        want = json.loads(lines[0])
        if "error" in want:
            problems.append(f"{prompt!r}: arith: {want['error']}")
            continue
        if model.family == "transformer" and model.m["rand_pos"]:
            # arith's seeded draw of ids cannot be repeated here: its tokens at its ids
            with torch.no_grad():
                lg = model(torch.tensor([want["tokens"]]), pos=torch.tensor([want["positions"]]))
            worst = max(worst, (lg[0].double() - torch.tensor(want["logits"], dtype=torch.float64))
                        .abs().max().item())
            continue
        got = generation_logits(model, tok, prompt)
        if generate(model, tok, prompt) != want["answer"]:
            problems.append(f"{prompt!r}: answer {generate(model, tok, prompt)!r}, arith "
                            f"{want['answer']!r}")
        for key in ("tokens", "positions", "logits_from"):
            if got.get(key) != want.get(key):
                problems.append(f"{prompt!r}: {key} {got.get(key)}, arith {want.get(key)}")
        if "value" in want:
            worst = max(worst, abs(got["value"] - want["value"]))
        elif "logits" in got and len(got["logits"]) == len(want["logits"]):
            diff = (torch.tensor(got["logits"], dtype=torch.float64) -
                    torch.tensor(want["logits"], dtype=torch.float64)).abs().max().item()
            worst = max(worst, diff)
        else:
            problems.append(f"{prompt!r}: {len(got.get('logits', []))} rows of logits, arith "
                            f"{len(want.get('logits', []))}")
    return worst, problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="an arith run directory")
    ap.add_argument("prompts", nargs="*", help="prompts (default: one per line on stdin)")
    ap.add_argument("--checkpoint", default="best", help="best, last, or a .safetensors path")
    ap.add_argument("--logits", action="store_true",
                    help="JSON per prompt, as arith predict --logits prints")
    ap.add_argument("--against", metavar="ARITH",
                    help="compare answers and logits with this arith binary's (predict "
                         "--logits); prints the largest logit difference, exit 1 past --tol")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="largest |logit difference| --against accepts (default 1e-4)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        model, tok = load_run(args.run, args.checkpoint)
    except (OSError, ValueError, NotImplementedError) as e:
        print(f"arith_torch: error: {e}", file=sys.stderr)
        return 1
    prompts = args.prompts or [line.rstrip("\n") for line in sys.stdin]
    if args.against:
        worst, problems = compare(args.run, prompts, args.against, args.checkpoint)
        for p in problems:
            print(f"arith_torch: mismatch: {p}", file=sys.stderr)
        print(f"{model.family}: largest |logit difference| {worst:.3g} over {len(prompts)} "
              f"prompts{', ' + str(len(problems)) + ' mismatches' if problems else ''}")
        return 1 if problems or not worst <= args.tol else 0
    rc = 0
    for p in prompts:
        try:
            if args.logits:
                print(json.dumps({"prompt": p, **generation_logits(model, tok, p)}))
            else:
                print(generate(model, tok, p))
        except (ValueError, NotImplementedError) as e:
            print(f"arith_torch: error: {p!r}: {e}", file=sys.stderr)
            print("" if not args.logits else json.dumps({"prompt": p, "error": str(e)}))
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
