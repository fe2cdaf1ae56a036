#!/usr/bin/python3
"""Reference fixtures for arith's recurrent models (LSTM LM, seq2seq, counter), made with PyTorch.

What it is for
    arith's C recurrent models must compute exactly the models described below. This script
    computes them with torch.nn.LSTM itself (parameters copied in, float64) and, independently,
    with a hand-written LSTM cell loop that follows the spec line by line (all rows at once,
    state frozen at invalid columns, while nn.LSTM runs each row on its valid slice; the loss
    written out by hand); the two must agree (logits/prediction, loss and every gradient,
    float64, within 1e-10 of the largest value) before anything is written.
    Each fixture holds random parameters, a batch that looks like real training data, the
    outputs, the loss and the gradient of every parameter. The C tests load a file, build the
    model from its "config" metadata, copy the parameters in, run forward + backward on the
    stored batch and compare outputs and gradients.

How to run it (Debian's torch lives in /usr/bin/python3, not in a pyenv python):
    /usr/bin/python3 tools/make_lstm_fixtures.py                  # writes tests/fixtures/
    /usr/bin/python3 tools/make_lstm_fixtures.py --out /tmp/fx    # somewhere else
    /usr/bin/python3 tools/make_lstm_fixtures.py --check tests/fixtures   # re-read + re-verify
Output is deterministic: rerunning gives the same files byte for byte.

Vocabulary (V = 19): ids 0-9 digits, 10 '+', 11 '=', 12 PAD, 13 EOS, 14 '-', 15 '*', 16 '(',
17 ')', 18 ' '.

Batch (every model)
    input.tokens (B,T) int32, input.start (B) int32, input.targets (B,T) int32 (-1 = no loss),
    input.prompt_T (1) int32. Columns [0, prompt_T) hold the prompts, left-padded with PAD so
    that every prompt ends with '=' at column prompt_T-1; row b's prompt begins at column
    start[b]. With answer a_0..a_{na-1} (a_{na-1} = EOS): targets[b][prompt_T-1+i] = a_i,
    tokens[b][prompt_T+i] = a_i for i < na-1 (teacher forcing), PAD and target -1 elsewhere.
    T = prompt_T + max(na) - 1. Column t of row b is valid iff t >= start[b]; at invalid
    columns no LSTM state changes (as if row b were the slice tokens[b, start[b]:]).

LSTM (PyTorch's equations and layout; W_ih (4H,in), W_hh (4H,H), b_ih, b_hh, gates i,f,g,o)
    [i f g o] = x W_ih^T + b_ih + h W_hh^T + b_hh      (rows [0,H), [H,2H), [2H,3H), [3H,4H))
    i,f,o = sigmoid(.), g = tanh(.); c' = f c + i g; h' = o tanh(c'); h = c = 0 at the start.
    input "embed": x = embed.weight[token] (embed.weight (V,E)); "onehot": x = one-hot (width V).

Model "lstm", head "lm" (lstm_*.safetensors)
    L stacked unidirectional layers lstm.{l}.weight_ih/weight_hh/bias_ih/bias_hh (layer 0's
    input E or V, the others H); run over every valid column.
    y = relu(h head.fc.weight^T + head.fc.bias) ((H,H), (H)); logits = y head.out.weight^T +
    head.out.bias ((V,H), (V)). loss = mean cross-entropy over the (b,t) with targets >= 0.
    output.logits (B,T,V): 0 at invalid columns (undefined there; tests skip them), output.loss.

Model "seq2seq", head "lm" (seq2seq_*.safetensors)
    encoder: bidirectional LSTM (encoder.0.weight_ih ... and encoder.0.*_reverse) over row b's
    prompt columns [start[b], prompt_T) only; forward reads left to right, reverse right to left,
    both from zero state. z = [h_fwd after column prompt_T-1, h_rev after column start[b]] (2H).
    decoder: bidirectional LSTM (decoder.0.*, hidden H, input 2H) over W = T - prompt_T + 1
    positions, input z at every position; out_i = [h_fwd_i, h_rev_i] (2H).
    logits_i = out_i head.weight^T + head.bias ((V,2H), (V)); position i belongs to column
    prompt_T-1+i, target a_i. All answers have W tokens (right-aligned with ' ' to a fixed width,
    then EOS), so there is no right padding. loss = mean cross-entropy over the B*W positions.
    output.logits (B,W,V), output.loss. The answer tokens in input.tokens are not read.

Model "lstm", head "regression" (counter_*.safetensors)
    prompts are binary strings (tokens 0/1) followed by '='; T = prompt_T, no answer columns,
    targets all -1. Stacked LSTM as in "lstm"; h_last = top layer's h at column prompt_T-1;
    pred = h_last head.weight^T + head.bias ((1,H), (1)); input.values (B) float32 = the number
    of 1s in the prompt; loss = mean over rows of (pred - value)^2. output.pred (B), output.loss.

File contents
    every parameter under its name (float32, drawn U(-0.5, 0.5) in name order from a seeded
    torch.Generator); input.tokens, input.start, input.targets, input.prompt_T (int32) and for the
    counter input.values (float32); the outputs; grad.<name> for every parameter (float32).
    __metadata__: config (JSON: model, head, input, vocab, d_model (E; 0 for onehot), hidden,
    layers, answer_len (W for seq2seq, else 0)), torch_version, seed, compute_dtype.

Precision: parameters are drawn in float32 and stored as float32. The stored outputs and
gradients are computed from those exact values in float64 and rounded to float32 once
(magnitudes below 1e-12 are stored as exact 0, as in make_fixtures.py; exact zeros here are
gradients of embedding rows / one-hot weight_ih columns of tokens that no row uses, and of
head.fc units whose ReLU is off everywhere). The script also runs nn.LSTM and the cell loop in
float32 and prints how far they land from the float64 reference, as a guide to the tolerance a
float32 implementation should meet (measured: logits/pred <= 6e-8, loss <= 7e-7 (loss ~14),
gradients <= 3e-7 absolute and <= 4e-7 relative to the largest entry of the same tensor).
The safetensors writer and reader are make_fixtures.py's (struct + json only; no safetensors package).
"""

import argparse
import json
import os
import sys

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import st_read, st_write, to_f32  # noqa: E402

# ---------------------------------------------------------------------------------------------
# vocabulary and batches

VOCAB = 19
PAD, EOS, EQ = 12, 13, 11
CHARS = {**{str(d): d for d in range(10)}, "+": 10, "=": 11, "-": 14, "*": 15, "(": 16, ")": 17,
         " ": 18}
BASE_SEED = 20240611

# (name, config, prompts). Answers are computed from the prompts (eval of the arithmetic).
# Prompt lengths differ so that start differs; the longest prompt gives a row with start 0.
FIXTURES = [
    ("lstm_embed", dict(model="lstm", head="lm", input="embed", d_model=6, hidden=5, layers=2),
     ["12+345=", "7+8=", "(3*4)-5=", "99*9="]),
    ("lstm_onehot", dict(model="lstm", head="lm", input="onehot", d_model=0, hidden=4, layers=1),
     ["5-9=", "123*4=", "1+1=", "(12+3)*4="]),
    ("seq2seq_onehot", dict(model="seq2seq", head="lm", input="onehot", d_model=0, hidden=5,
                            layers=1), ["247+247=", "999+49=", "3+4=", "56+78="]),
    ("seq2seq_embed", dict(model="seq2seq", head="lm", input="embed", d_model=4, hidden=3,
                           layers=1), ["12*12=", "1000-1=", "8*8=", "(9+9)*9="]),
    ("counter_onehot", dict(model="lstm", head="regression", input="onehot", d_model=0, hidden=3,
                            layers=1), ["1011=", "0=", "111001=", "10="]),
    ("counter_embed", dict(model="lstm", head="regression", input="embed", d_model=3, hidden=4,
                           layers=2), ["110=", "1111111=", "0101=", "1="]),
]
SEQ2SEQ_WIDTH = 4   # answer digits, right-aligned with ' '; W = SEQ2SEQ_WIDTH + 1 (EOS)


def make_config(spec):
    cfg = {"model": spec["model"], "head": spec["head"], "input": spec["input"], "vocab": VOCAB,
           "d_model": spec["d_model"], "hidden": spec["hidden"], "layers": spec["layers"],
           "answer_len": SEQ2SEQ_WIDTH + 1 if spec["model"] == "seq2seq" else 0}
    return cfg


def encode(s):
    return [CHARS[ch] for ch in s]


def answer_text(cfg, prompt):
    value = eval(prompt[:-1], {"__builtins__": {}})   # only digits and + - * ( ) here
    assert isinstance(value, int)
    if cfg["model"] == "seq2seq":
        text = str(value).rjust(SEQ2SEQ_WIDTH)
        assert len(text) == SEQ2SEQ_WIDTH
        return text
    return str(value)


def make_batch(cfg, prompts):
    """Returns dict of int32 tensors tokens, start, targets, prompt_T (+ float32 values)."""
    assert all(p.endswith("=") for p in prompts)
    Bn = len(prompts)
    prompt_T = max(len(p) for p in prompts)
    if cfg["head"] == "regression":
        assert all(set(p[:-1]) <= {"0", "1"} for p in prompts)
        answers = [[] for _ in prompts]
        T = prompt_T
    else:
        answers = [encode(answer_text(cfg, p)) + [EOS] for p in prompts]
        T = prompt_T + max(len(a) for a in answers) - 1
    tokens = torch.full((Bn, T), PAD, dtype=torch.int32)
    targets = torch.full((Bn, T), -1, dtype=torch.int32)
    start = torch.zeros(Bn, dtype=torch.int32)
    for b, (p, a) in enumerate(zip(prompts, answers)):
        s = prompt_T - len(p)
        start[b] = s
        tokens[b, s:prompt_T] = torch.tensor(encode(p), dtype=torch.int32)
        for i, tok in enumerate(a):
            targets[b, prompt_T - 1 + i] = tok
            if i < len(a) - 1:
                tokens[b, prompt_T + i] = tok
    batch = {"tokens": tokens, "start": start, "targets": targets,
             "prompt_T": torch.tensor([prompt_T], dtype=torch.int32)}
    if cfg["head"] == "regression":
        batch["values"] = torch.tensor([float(p.count("1")) for p in prompts], dtype=torch.float32)
    if cfg["model"] == "seq2seq":
        assert T - prompt_T + 1 == cfg["answer_len"]
    return batch


def check_batch(cfg, batch):
    """The layout rules of the docstring."""
    tokens, start, targets = batch["tokens"], batch["start"], batch["targets"]
    prompt_T = int(batch["prompt_T"][0])
    Bn, T = tokens.shape
    assert 0 < prompt_T <= T and (start == 0).any() and len(set(start.tolist())) > 1
    for b in range(Bn):
        s = int(start[b])
        assert (tokens[b, :s] == PAD).all() and (targets[b, :prompt_T - 1] == -1).all()
        assert (tokens[b, s:prompt_T] != PAD).all() and tokens[b, prompt_T - 1] == EQ
        assert ((tokens[b] >= 0) & (tokens[b] < VOCAB)).all()
        if cfg["head"] == "regression":
            assert T == prompt_T and (targets[b] == -1).all()
            assert batch["values"][b].item() == (tokens[b, s:prompt_T - 1] == 1).sum().item()
            continue
        ans = targets[b, prompt_T - 1:]
        na = int((ans >= 0).sum())
        assert na >= 2 and (ans[:na] >= 0).all() and ans[na - 1] == EOS and (ans[na:] == -1).all()
        assert (tokens[b, prompt_T:prompt_T + na - 1] == ans[:na - 1]).all()
        assert (tokens[b, prompt_T + na - 1:] == PAD).all()
        if cfg["model"] == "seq2seq":
            assert na == cfg["answer_len"] == T - prompt_T + 1


# ---------------------------------------------------------------------------------------------
# parameters

def lstm_param_names(prefix, reverse=False):
    names = [prefix + k for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    if reverse:
        names += [n + "_reverse" for n in names]
    return names


def param_shapes(cfg):
    """[(name, shape)] in the spec's order (also the order the values are drawn in)."""
    V, E, H, L = cfg["vocab"], cfg["d_model"], cfg["hidden"], cfg["layers"]
    onehot = cfg["input"] == "onehot"
    assert onehot == (E == 0)
    in0 = V if onehot else E
    out = [] if onehot else [("embed.weight", (V, E))]

    def lstm(prefix, inp, reverse):
        shapes = [(4 * H, inp), (4 * H, H), (4 * H,), (4 * H,)]
        names = lstm_param_names(prefix, reverse)
        return list(zip(names, shapes * (2 if reverse else 1)))

    if cfg["model"] == "seq2seq":
        assert L == 1
        out += lstm("encoder.0.", in0, True) + lstm("decoder.0.", 2 * H, True)
        out += [("head.weight", (V, 2 * H)), ("head.bias", (V,))]
    else:
        for l in range(L):
            out += lstm(f"lstm.{l}.", in0 if l == 0 else H, False)
        if cfg["head"] == "lm":
            out += [("head.fc.weight", (H, H)), ("head.fc.bias", (H,)),
                    ("head.out.weight", (V, H)), ("head.out.bias", (V,))]
        else:
            out += [("head.weight", (1, H)), ("head.bias", (1,))]
    return out


def param_names(cfg):
    return [n for n, _ in param_shapes(cfg)]


def init_params(cfg, gen):
    """{name: float32 tensor}, U(-0.5, 0.5), drawn in name order from one generator."""
    return {n: torch.rand(s, generator=gen, dtype=torch.float32) - 0.5 for n, s in param_shapes(cfg)}


# ---------------------------------------------------------------------------------------------
# reference 1: torch.nn.LSTM with the parameters copied in

class TorchRef(nn.Module):
    """The models built from torch modules. Fixture name -> module parameter via TORCH_NAME."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        V, E, H, L = cfg["vocab"], cfg["d_model"], cfg["hidden"], cfg["layers"]
        in0 = V if cfg["input"] == "onehot" else E
        if cfg["input"] == "embed":
            self.embed = nn.Embedding(V, E)
        if cfg["model"] == "seq2seq":
            self.encoder = nn.LSTM(in0, H, 1, batch_first=True, bidirectional=True)
            self.decoder = nn.LSTM(2 * H, H, 1, batch_first=True, bidirectional=True)
            self.head = nn.Linear(2 * H, V)
        else:
            self.lstm = nn.LSTM(in0, H, L, batch_first=True)
            if cfg["head"] == "lm":
                self.head_fc = nn.Linear(H, H)
                self.head_out = nn.Linear(H, V)
            else:
                self.head = nn.Linear(H, 1)

    @staticmethod
    def torch_name(name):
        parts = name.split(".")
        if parts[0] in ("lstm", "encoder", "decoder"):        # lstm.1.weight_ih(_reverse)
            kind, layer, w = parts
            suffix = ""
            if w.endswith("_reverse"):
                w, suffix = w[:-len("_reverse")], "_reverse"
            return f"{kind}.{w}_l{layer}{suffix}"
        if name.startswith("head.fc.") or name.startswith("head.out."):
            return "head_" + name[len("head."):]
        return name

    def load(self, params):
        mine = dict(self.named_parameters())
        assert sorted(mine) == sorted(self.torch_name(n) for n in params), sorted(mine)
        with torch.no_grad():
            for n, v in params.items():
                p = mine[self.torch_name(n)]
                assert p.shape == v.shape, n
                p.copy_(v.to(p.dtype))

    def grads(self):
        mine = dict(self.named_parameters())
        return {n: mine[self.torch_name(n)].grad.detach().clone() for n in param_names(self.cfg)}

    def inputs(self, tok):
        """(1,t) int64 -> (1,t,in)"""
        if self.cfg["input"] == "embed":
            return self.embed(tok)
        return F.one_hot(tok, self.cfg["vocab"]).to(next(self.parameters()).dtype)

    def forward(self, batch):
        """Each row on its own, on its valid slice. Returns (output, loss)."""
        cfg = self.cfg
        tokens = batch["tokens"].long()
        start = batch["start"].long()
        prompt_T = int(batch["prompt_T"][0])
        Bn, T = tokens.shape
        rows = []
        for b in range(Bn):
            s = int(start[b])
            if cfg["model"] == "seq2seq":
                x = self.inputs(tokens[b:b + 1, s:prompt_T])          # prompt only
                _, (h_n, _) = self.encoder(x)                          # h_n (2,1,H): fwd, rev
                z = torch.cat([h_n[0], h_n[1]], dim=-1)                # (1,2H)
                W = T - prompt_T + 1
                out, _ = self.decoder(z.unsqueeze(1).expand(1, W, z.shape[-1]))
                rows.append(self.head(out[0]))                         # (W,V)
            else:
                out, _ = self.lstm(self.inputs(tokens[b:b + 1, s:]))  # (1,T-s,H)
                if cfg["head"] == "lm":
                    logits = self.head_out(F.relu(self.head_fc(out[0])))
                    pad = torch.zeros(s, cfg["vocab"], dtype=logits.dtype)
                    rows.append(torch.cat([pad, logits], dim=0))       # (T,V)
                else:
                    rows.append(self.head(out[0, prompt_T - 1 - s]))  # (1)
        return finish(cfg, batch, torch.stack(rows))


def finish(cfg, batch, out):
    """out: logits (B,T,V) / (B,W,V) or pred (B,1) -> (output, loss)."""
    prompt_T = int(batch["prompt_T"][0])
    if cfg["head"] == "regression":
        pred = out.reshape(-1)
        return pred, ((pred - batch["values"].to(pred.dtype)) ** 2).mean()
    targets = batch["targets"].long()
    if cfg["model"] == "seq2seq":
        targets = targets[:, prompt_T - 1:]
        assert (targets >= 0).all()
    V = out.shape[-1]
    loss = F.cross_entropy(out.reshape(-1, V), targets.reshape(-1), ignore_index=-1,
                           reduction="mean")
    return out, loss


def run_torch(cfg, params, batch, dtype):
    model = TorchRef(cfg).to(dtype)
    model.load(params)
    model.zero_grad(set_to_none=True)
    out, loss = model(batch)
    loss.backward()
    return out.detach(), loss.detach(), model.grads()


# ---------------------------------------------------------------------------------------------
# reference 2: the spec, written out as an explicit cell loop (all rows at once, masked)

def lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    H = h.shape[-1]
    gates = x @ w_ih.t() + b_ih + h @ w_hh.t() + b_hh
    i = torch.sigmoid(gates[:, 0:H])
    f = torch.sigmoid(gates[:, H:2 * H])
    g = torch.tanh(gates[:, 2 * H:3 * H])
    o = torch.sigmoid(gates[:, 3 * H:4 * H])
    c2 = f * c + i * g
    return o * torch.tanh(c2), c2


def lstm_direction(xs, valid, w, reverse=False):
    """xs (B,T,in), valid (B,T) bool, w = (w_ih, w_hh, b_ih, b_hh). State only changes at valid
    columns. Returns hs (B,T,H) (the state after each column) and the final h."""
    hs, h, _ = lstm_direction_state(xs, valid, w, reverse)
    return hs, h


def lstm_direction_state(xs, valid, w, reverse=False):
    """lstm_direction, also returning the final cell state c (the counter's --readout cell)."""
    Bn, T, _ = xs.shape
    H = w[1].shape[1]
    h = torch.zeros(Bn, H, dtype=xs.dtype)
    c = torch.zeros(Bn, H, dtype=xs.dtype)
    hs = [None] * T
    for t in (reversed(range(T)) if reverse else range(T)):
        h2, c2 = lstm_cell(xs[:, t], h, c, *w)
        m = valid[:, t:t + 1]
        h = torch.where(m, h2, h)
        c = torch.where(m, c2, c)
        hs[t] = h
    return torch.stack(hs, dim=1), h, c


def run_loop(cfg, params, batch, dtype):
    P = {n: v.to(dtype).clone().requires_grad_(True) for n, v in params.items()}
    tokens = batch["tokens"].long()
    start = batch["start"].long()
    prompt_T = int(batch["prompt_T"][0])
    Bn, T = tokens.shape
    valid = torch.arange(T).unsqueeze(0) >= start.unsqueeze(1)           # (B,T)
    if cfg["input"] == "embed":
        x = P["embed.weight"][tokens]
    else:
        x = torch.eye(cfg["vocab"], dtype=dtype)[tokens]

    def w(prefix, suffix=""):
        return tuple(P[n + suffix] for n in lstm_param_names(prefix))

    if cfg["model"] == "seq2seq":
        xp, vp = x[:, :prompt_T], valid[:, :prompt_T]
        _, h_fwd = lstm_direction(xp, vp, w("encoder.0."))
        _, h_rev = lstm_direction(xp, vp, w("encoder.0.", "_reverse"), reverse=True)
        z = torch.cat([h_fwd, h_rev], dim=1)                              # (B,2H)
        W = T - prompt_T + 1
        zs = z.unsqueeze(1).expand(Bn, W, z.shape[1])
        allv = torch.ones(Bn, W, dtype=torch.bool)
        fwd, _ = lstm_direction(zs, allv, w("decoder.0."))
        rev, _ = lstm_direction(zs, allv, w("decoder.0.", "_reverse"), reverse=True)
        out = torch.cat([fwd, rev], dim=2) @ P["head.weight"].t() + P["head.bias"]
    else:
        hs = x
        for l in range(cfg["layers"]):
            hs, _ = lstm_direction(hs, valid, w(f"lstm.{l}."))
        if cfg["head"] == "lm":
            y = F.relu(hs @ P["head.fc.weight"].t() + P["head.fc.bias"])
            logits = y @ P["head.out.weight"].t() + P["head.out.bias"]
            out = torch.where(valid.unsqueeze(2), logits, torch.zeros((), dtype=dtype))
        else:
            out = hs[:, prompt_T - 1] @ P["head.weight"].t() + P["head.bias"]  # (B,1)
    # the loss written out by hand (the nn.LSTM reference uses F.cross_entropy in finish())
    if cfg["head"] == "regression":
        out = out[:, 0]
        loss = ((out - batch["values"].to(dtype)) ** 2).sum() / Bn
    else:
        tg = batch["targets"].long()
        if cfg["model"] == "seq2seq":
            tg = tg[:, prompt_T - 1:]
        m = tg >= 0
        logp = out - torch.logsumexp(out, dim=2, keepdim=True)
        picked = torch.gather(logp, 2, tg.clamp(min=0).unsqueeze(2)).squeeze(2)
        loss = -(picked * m).sum() / m.sum()
    names = param_names(cfg)
    gs = torch.autograd.grad(loss, [P[n] for n in names])
    return out.detach(), loss.detach(), dict(zip(names, gs))


def max_diff(a, b):
    """max |a-b| over output, loss and every gradient of two (out, loss, grads) triples."""
    (oa, la, ga), (ob, lb, gb) = a, b
    assert oa.shape == ob.shape and sorted(ga) == sorted(gb)
    return max([(oa.double() - ob.double()).abs().max().item(),
                abs(la.item() - lb.item())] +
               [(ga[k].double() - gb[k].double()).abs().max().item() for k in ga])


def max_ref(res):
    out, loss, grads = res
    return max([out.abs().max().item(), abs(loss.item())] +
               [g.abs().max().item() for g in grads.values()])


# ---------------------------------------------------------------------------------------------
# safetensors: the writer and reader of make_fixtures.py (struct + json only), so that every
# fixture file has one format

# ---------------------------------------------------------------------------------------------

INPUT_NAMES = ["tokens", "start", "targets", "prompt_T"]


def output_name(cfg):
    return "output.pred" if cfg["head"] == "regression" else "output.logits"


def compute(cfg, params, batch):
    """float64 nn.LSTM reference, cross-checked against the cell loop. Returns the reference
    triple, the loop-vs-torch difference and the float32-vs-float64 difference."""
    ref = run_torch(cfg, params, batch, torch.float64)
    loop = run_loop(cfg, params, batch, torch.float64)
    xdiff = max_diff(ref, loop)
    assert xdiff <= 1e-10 * max(1.0, max_ref(ref)), f"nn.LSTM vs cell loop: {xdiff:.3g}"
    f32 = run_torch(cfg, params, batch, torch.float32)
    dev = max_diff(ref, f32)
    dev_loop = max_diff(ref, run_loop(cfg, params, batch, torch.float32))
    return ref, xdiff, max(dev, dev_loop)


def build_fixture(name, spec, prompts, seed):
    cfg = make_config(spec)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    params = init_params(cfg, gen)
    batch = make_batch(cfg, prompts)
    check_batch(cfg, batch)
    (out, loss, grads), xdiff, dev = compute(cfg, params, batch)

    names = param_names(cfg)
    tensors = [(n, params[n]) for n in names]
    tensors += [("input." + k, batch[k]) for k in INPUT_NAMES]
    if "values" in batch:
        tensors.append(("input.values", batch["values"]))
    tensors += [(output_name(cfg), to_f32(out)), ("output.loss", to_f32(loss).reshape(1))]
    tensors += [("grad." + n, to_f32(grads[n])) for n in names]
    meta = {"config": json.dumps(cfg, separators=(",", ":")),
            "torch_version": torch.__version__, "seed": str(seed),
            "compute_dtype": "float64 (stored rounded to float32)"}
    return tensors, meta, loss.item(), dev, xdiff


def check_file(path):
    """Re-reads a fixture and recomputes everything from the stored parameters and batch."""
    ts, meta = st_read(path)
    cfg = json.loads(meta["config"])
    names = param_names(cfg)
    batch = {k: ts["input." + k] for k in INPUT_NAMES}
    want = set(names) | {"grad." + n for n in names} | {"input." + k for k in INPUT_NAMES} | {
        output_name(cfg), "output.loss"}
    if cfg["head"] == "regression":
        batch["values"] = ts["input.values"]
        want.add("input.values")
    assert set(ts) == want, sorted(set(ts) ^ want)
    for n, s in param_shapes(cfg):
        assert tuple(ts[n].shape) == tuple(s) and ts[n].dtype == torch.float32, n
        assert tuple(ts["grad." + n].shape) == tuple(s), n
    check_batch(cfg, batch)
    params = {n: ts[n] for n in names}
    (out, loss, grads), _, _ = compute(cfg, params, batch)
    Bn, Tn = batch["tokens"].shape
    shape = {"seq2seq": (Bn, cfg["answer_len"], cfg["vocab"])}.get(
        cfg["model"], (Bn,) if cfg["head"] == "regression" else (Bn, Tn, cfg["vocab"]))
    assert tuple(ts[output_name(cfg)].shape) == shape
    worst = max([(to_f32(out) - ts[output_name(cfg)]).abs().max().item(),
                 abs(to_f32(loss).item() - ts["output.loss"].item())] +
                [(to_f32(grads[n]) - ts["grad." + n]).abs().max().item() for n in names])
    # same machine: identical; another BLAS may move a value by a float32 rounding step
    assert worst <= 1e-6, f"{path}: recomputed values differ by {worst}"
    return cfg, ts, meta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "tests", "fixtures"),
                    help="output directory (default tests/fixtures)")
    ap.add_argument("--check", metavar="DIR", help="only re-read and verify the files in DIR")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    if args.check:
        for name, _, _ in FIXTURES:
            path = os.path.join(args.check, f"{name}.safetensors")
            cfg, ts, meta = check_file(path)
            print(f"ok  {path}: {len(ts)} tensors, loss {ts['output.loss'].item():.6f}, "
                  f"config {meta['config']}")
        return 0

    out = os.path.normpath(args.out)
    os.makedirs(out, exist_ok=True)
    for i, (name, spec, prompts) in enumerate(FIXTURES):
        seed = BASE_SEED + i
        tensors, meta, loss, dev, xdiff = build_fixture(name, spec, prompts, seed)
        path = os.path.join(out, f"{name}.safetensors")
        st_write(path, tensors, meta)
        print(f"wrote {path} ({os.path.getsize(path)} bytes): loss {loss:.6f}, "
              f"float32 vs float64 max|diff| {dev:.2e}, nn.LSTM vs cell loop (float64) "
              f"max|diff| {xdiff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
