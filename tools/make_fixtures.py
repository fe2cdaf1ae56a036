#!/usr/bin/python3
"""Reference fixtures for arith's transformer, made with a PyTorch twin of the model.

What it is for
    arith's C transformer (src/models/transformer.c) must compute exactly the model described
    below. This script holds an independent PyTorch implementation of that same model, written
    line by line from the spec with explicit ops, and writes small safetensors files with
    random parameters, a batch, the logits, the loss and the gradient of every parameter.
    The C tests load a file, build the model from its "config" metadata, copy the parameters
    in, run forward + backward on the stored batch and compare outputs and gradients.

How to run it (Debian's torch lives in /usr/bin/python3, not in a pyenv python):
    /usr/bin/python3 tools/make_fixtures.py                  # writes tests/fixtures/*.safetensors
    /usr/bin/python3 tools/make_fixtures.py --out /tmp/fx    # somewhere else
    /usr/bin/python3 tools/make_fixtures.py --check tests/fixtures   # re-read + re-verify files
    /usr/bin/python3 tools/make_fixtures.py --only alibi,fire        # just those schemes' files
    /usr/bin/python3 tools/make_fixtures.py --only coupling-rel,coupling-local
Output is deterministic: rerunning gives the same files byte for byte.

Model (all parameters float32; names are those stored in the files)
    inputs: tokens (B,T) int32, start (B) int32 = left-padding columns of row b,
            targets (B,T) int32, -1 = no loss at this position; for coupling-rel/-local also
            pos (B,T) int32, the data's ids (coupled significances: they repeat and jump).
    pos[b,t] = max(t - start[b], 0), except coupling-rel's and coupling-local's given ids
    x = tok_emb.weight[tokens] * sqrt(C)
    pos == sinusoidal: x += pe[pos], pe[p][2i] = sin(p*exp(-2i ln(10000)/C)), pe[p][2i+1] = cos(..)
    pos == learned:    x += pos_emb.weight[pos]          (pos_emb.weight is (context, C));
                       abacus and coupling the same, at the data's ids
    pos == rope/none/alibi/fire:  nothing here (rope rotates q and k inside attention;
                       alibi and fire add a bias to the attention scores)
    layer, norm == post: x = LN1(x + attn(x)); x = LN2(x + ffn(x))      (torch's default layer)
    layer, norm == pre:  x = x + attn(LN1(x)); x = x + ffn(LN2(x))      (LayerNorm eps 1e-5)
    attn(h): qkv = h W^T + b (W = qkv.weight, (3C,C)); q,k,v = columns [0,C),[C,2C),[2C,3C);
             head j uses columns [j*hd,(j+1)*hd). rope: rotate-half on q and k of each head with
             angle(pos,i) = pos * 10000^(-2i/hd), i < hd/2: (x[i], x[i+hd/2]) ->
             (x[i] cos - x[i+hd/2] sin, x[i] sin + x[i+hd/2] cos).
             scores = q k^T / sqrt(hd) (+ bias[b,h,t,j] for alibi, fire, coupling-rel); key j allowed
             for query t of row b iff
             start[b] <= j <= t, or j == t (a padding query attends only to itself);
             softmax over allowed keys; y = att v; heads concatenated; out = y Wo^T + bo.
    alibi (Press et al.): bias[b,h,t,j] = -m_h |pos[b,t] - pos[b,j]|, m_h the reference
             get_slopes(H) (2^(-8(h+1)/H) for H a power of two).
    fire (Li et al.): one module per layer, layers.N.attn.fire.{w1 (W,1), b1 (W), w2 (H,W),
             b2 (H), c (1), L (1)}, W = 32: with i = pos[b,t], j = pos[b,j],
             x = log(|c| |i-j| + 1) / (log(|c| max(|L| 512, i) + 1) + 1e-6),
             bias[b,:,t,j] = w2 relu(w1 x + b1) + b2. Its parameters come after head.bias.
    coupling-rel (the relative form of Cho et al.'s position coupling): layers.N.attn.rel_bias
             (H, 7), bias[b,h,t,j] = rel_bias[h, clip(pos[b,j] - pos[b,t], -3, 3) + 3]; no
             absolute positions. Its parameters come after head.bias.
    coupling-local: the same, except that a key with |pos[b,j] - pos[b,t]| > 3 is not allowed
             (as if masked) instead of taking the clipped bias.
    coupling-anchor: coupling-local whose rel_bias is (H, 10): a key past the window whose id
             is 1..3 (an operand's lowest digits) is allowed, with bias rel_bias[h, 7 + id - 1].
    ffn(h) = down(act(up(h))), act relu or exact (erf) gelu.
    x = LN_f(x); logits = x head.weight^T + head.bias
    loss = mean over (b,t) with targets >= 0 of cross_entropy(logits[b,t], targets[b,t]).

File contents
    every parameter under its name; input.tokens, input.start, input.targets (I32);
    output.logits (B,T,V), output.loss (1); grad.<name> for every parameter (all F32).
    __metadata__: config (JSON: vocab, d_model, heads, ffn, layers, context, norm, act, pos,
    dropout), torch_version, seed, compute_dtype.

Precision: parameters are drawn in float32 and stored as float32. The stored outputs and
gradients are computed from those exact values in float64 and rounded to float32 once, so they
are as close to the true values as float32 allows, and the same whichever BLAS or thread
count torch uses (values that are 0 in theory, like the key-bias gradient without rope, are
stored as exact 0 rather than as 1e-17 roundoff; a C implementation will give tiny nonzero
values there, so compare with an absolute tolerance). The script also runs the twin in float32 and prints how far that lands from the
float64 reference, as a guide to the tolerance a float32 implementation should meet.

Cross-check: for pos=sinusoidal, norm=post, act=relu the twin is also compared (float32,
1e-5) with torch's own nn.TransformerEncoder(nn.TransformerEncoderLayer(C, H, F, dropout=0),
L, norm=LayerNorm(C)) holding the same weights, with a causal mask and start all 0.
The safetensors writer/reader use only struct + json (no safetensors package needed).
"""

import argparse
import json
import math
import os
import struct
import sys

import torch
from torch import nn
from torch.nn import functional as F

# ---------------------------------------------------------------------------------------------
# fixture set-up

VOCAB, D_MODEL, HEADS, FFN_WIDTH, LAYERS, CONTEXT = 14, 16, 4, 24, 2, 16
B, T = 3, 7
START = [0, 2, 1]
# targets are -1 for t < LOSS_FROM[b] (covers every padding column), random tokens after
LOSS_FROM = [3, 4, 3]
BASE_SEED = 20240501
POS_KINDS = ["none", "sinusoidal", "learned", "rope"]
NORM_KINDS = ["post", "pre"]
ACT_FOR_NORM = {"post": "relu", "pre": "gelu"}
# the relative schemes, one norm each: (pos, norm, seed offset)
EXTRA_FIXTURES = [("alibi", "post", 100), ("fire", "pre", 101), ("coupling-rel", "post", 102),
                  ("coupling-local", "pre", 103), ("coupling-anchor", "post", 104)]
REL_SCHEMES = ("coupling-rel", "coupling-local", "coupling-anchor")
ANCHORS = 3  # coupling-anchor: ids 1..ANCHORS are seen from anywhere
# a learned table of vectors added to the token embeddings, read at the ids (learned: columns;
# abacus and coupling: the data's, passed as ids); tools/arith_torch.py builds these too
TABLE_SCHEMES = ("learned", "abacus", "coupling")
REL_CLIP = 3
FIRE_WIDTH, FIRE_L0, FIRE_EPS = 32, 512.0, 1e-6
# fire's c and threshold |L| * 512 per layer: layer 0's threshold 3.5 puts rows 4.. (ids up to
# 6 here) past it, layer 1's 512 (the default) keeps every row under it; a negative c checks
# that |c| is used
FIRE_C = [0.3, -0.15]
FIRE_THRESHOLD = [3.5, 512.0]


def fixture_names():
    """(pos, norm, seed) of every fixture file."""
    out = [(pos, norm, BASE_SEED + 10 * i + k) for i, pos in enumerate(POS_KINDS)
           for k, norm in enumerate(NORM_KINDS)]
    return out + [(pos, norm, BASE_SEED + off) for pos, norm, off in EXTRA_FIXTURES]


def make_config(pos, norm):
    return {"vocab": VOCAB, "d_model": D_MODEL, "heads": HEADS, "ffn": FFN_WIDTH, "layers": LAYERS,
            "context": CONTEXT, "norm": norm, "act": ACT_FOR_NORM[norm], "pos": pos,
            "dropout": 0}


# ---------------------------------------------------------------------------------------------
# the twin

def sinusoidal_table(n, d):
    """pe[p][2i] = sin(p * exp(-(2i) ln(10000)/d)), pe[p][2i+1] = cos(same); float64."""
    p = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(p * div)
    pe[:, 1::2] = torch.cos(p * div)
    return pe


def rope_tables(n, hd):
    """cos/sin of angle(p, i) = p * 10000^(-2i/hd), i < hd/2; (n, hd/2) float64."""
    i = torch.arange(hd // 2, dtype=torch.float64)
    inv = torch.pow(torch.tensor(10000.0, dtype=torch.float64), -2.0 * i / hd)
    ang = torch.arange(n, dtype=torch.float64).unsqueeze(1) * inv
    return torch.cos(ang), torch.sin(ang)


class Attention(nn.Module):
    def __init__(self, C, H, pos):
        super().__init__()
        self.C, self.H, self.hd = C, H, C // H
        self.qkv = nn.Linear(C, 3 * C)
        self.out = nn.Linear(C, C)
        if pos == "fire":
            self.fire = Fire(H)
        if pos in REL_SCHEMES:
            anchors = ANCHORS if pos == "coupling-anchor" else 0
            self.rel_bias = nn.Parameter(torch.zeros(H, 2 * REL_CLIP + 1 + anchors))

    def forward(self, h, allowed, rope, rel=None):
        Bn, Tn, C = h.shape
        H, hd = self.H, self.hd
        qkv = self.qkv(h)                                        # (B,T,3C)
        q, k, v = qkv[..., 0:C], qkv[..., C:2 * C], qkv[..., 2 * C:3 * C]
        # (B,T,C) -> (B,H,T,hd): head j = columns [j*hd, (j+1)*hd)
        q = q.reshape(Bn, Tn, H, hd).transpose(1, 2)
        k = k.reshape(Bn, Tn, H, hd).transpose(1, 2)
        v = v.reshape(Bn, Tn, H, hd).transpose(1, 2)
        if rope is not None:
            cos, sin = rope                                      # (B,T,hd/2) each
            cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)        # (B,1,T,hd/2)
            q = rotate_half(q, cos, sin)
            k = rotate_half(k, cos, sin)
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)         # (B,H,T,T)
        if rel is not None:                 # alibi's bias, or fire's or coupling-rel's ids
            if rel[0] == "fire":
                scores = scores + self.fire(rel[1])
            elif rel[0] in REL_SCHEMES:
                ids = rel[1]                                     # (B,T)
                diff = ids.unsqueeze(1) - ids.unsqueeze(2)       # [b,t,j] = id_j - id_t
                d = torch.clamp(diff, -REL_CLIP, REL_CLIP) + REL_CLIP
                near = diff.abs() <= REL_CLIP
                if rel[0] == "coupling-anchor":
                    key = ids.unsqueeze(1).expand_as(diff)           # [b,t,j] = id_j
                    anchor = (key >= 1) & (key <= ANCHORS)
                    d = torch.where(near, d, 2 * REL_CLIP + key.clamp(1, ANCHORS))
                    allowed = allowed & (near | anchor)
                scores = scores + self.rel_bias[:, d].permute(1, 0, 2, 3)
                if rel[0] == "coupling-local":
                    allowed = allowed & near
            else:
                scores = scores + rel[1]
        scores = scores.masked_fill(~allowed.unsqueeze(1), float("-inf"))
        att = torch.softmax(scores, dim=-1)
        y = att @ v                                              # (B,H,T,hd)
        y = y.transpose(1, 2).reshape(Bn, Tn, C)
        return self.out(y)


def alibi_slopes(n):
    """ALiBi's slopes as the reference implementation's get_slopes computes them."""
    def power_of_2(n):
        start = 2.0 ** (-2.0 ** -(math.log2(n) - 3))
        return [start * start ** i for i in range(n)]
    if math.log2(n).is_integer():
        return power_of_2(n)
    p2 = 2 ** math.floor(math.log2(n))
    return power_of_2(p2) + alibi_slopes(2 * p2)[0::2][:n - p2]


class Fire(nn.Module):
    """FIRE's bias, computed for every (b, t, j) straight from the formula."""

    def __init__(self, H):
        super().__init__()
        self.w1 = nn.Parameter(torch.zeros(FIRE_WIDTH, 1))
        self.b1 = nn.Parameter(torch.zeros(FIRE_WIDTH))
        self.w2 = nn.Parameter(torch.zeros(H, FIRE_WIDTH))
        self.b2 = nn.Parameter(torch.zeros(H))
        self.c = nn.Parameter(torch.zeros(1))
        self.L = nn.Parameter(torch.zeros(1))

    def forward(self, pos):
        p = pos.to(self.w1.dtype)                                # (B,T)
        dist = (p.unsqueeze(2) - p.unsqueeze(1)).abs()           # (B,T,T) |i - j|
        norm = torch.maximum(p, self.L.abs() * FIRE_L0).unsqueeze(2)   # (B,T,1) max(thr, i)
        ac = self.c.abs()
        x = torch.log(ac * dist + 1) / (torch.log(ac * norm + 1) + FIRE_EPS)
        hid = F.relu(x.unsqueeze(-1) * self.w1[:, 0] + self.b1)  # (B,T,T,W)
        return (hid @ self.w2.T + self.b2).permute(0, 3, 1, 2)   # (B,H,T,T)


def rotate_half(x, cos, sin):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class FFN(nn.Module):
    def __init__(self, C, Fw, act):
        super().__init__()
        self.up = nn.Linear(C, Fw)
        self.down = nn.Linear(Fw, C)
        self.act = act

    def forward(self, h):
        u = self.up(h)
        if self.act == "relu":
            u = F.relu(u)
        else:   # "gelu" is the exact (erf) GELU; "gelu_tanh" GPT-2's approximation
            u = F.gelu(u, approximate="tanh" if self.act == "gelu_tanh" else "none")
        return self.down(u)


class LN(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(C))
        self.bias = nn.Parameter(torch.zeros(C))

    def forward(self, x):
        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, 1e-5)


class Layer(nn.Module):
    def __init__(self, C, H, Fw, act, norm, pos):
        super().__init__()
        self.norm = norm
        self.ln1 = LN(C)
        self.attn = Attention(C, H, pos)
        self.ln2 = LN(C)
        self.ffn = FFN(C, Fw, act)

    def forward(self, x, allowed, rope, rel=None):
        if self.norm == "post":
            x = self.ln1(x + self.attn(x, allowed, rope, rel))
            x = self.ln2(x + self.ffn(x))
        else:
            x = x + self.attn(self.ln1(x), allowed, rope, rel)
            x = x + self.ffn(self.ln2(x))
        return x


class Twin(nn.Module):
    """arith's decoder-only transformer. Parameter names match the fixture names."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        V, C, H = cfg["vocab"], cfg["d_model"], cfg["heads"]
        self.tok_emb = nn.Embedding(V, C)
        if cfg["pos"] in TABLE_SCHEMES:
            self.pos_emb = nn.Embedding(cfg["context"], C)
        self.layers = nn.ModuleList(
            [Layer(C, H, cfg["ffn"], cfg["act"], cfg["norm"], cfg["pos"])
             for _ in range(cfg["layers"])])
        self.ln_f = LN(C)
        self.head = nn.Linear(C, V)

    def forward(self, tokens, start, ids=None):
        cfg = self.cfg
        C, Tn = cfg["d_model"], tokens.shape[1]
        dtype = self.tok_emb.weight.dtype
        tokens, start = tokens.long(), start.long()
        t = torch.arange(Tn).unsqueeze(0)                        # (1,T)
        pos = torch.clamp(t - start.unsqueeze(1), min=0)         # (B,T)
        if ids is not None:                                      # the data's ids
            pos = ids.long()
        # allowed[b,t,j] = (start[b] <= j <= t) or j == t
        j = torch.arange(Tn).view(1, 1, Tn)
        tq = torch.arange(Tn).view(1, Tn, 1)
        allowed = ((j >= start.view(-1, 1, 1)) & (j <= tq)) | (j == tq)

        x = self.tok_emb.weight[tokens] * math.sqrt(C)
        rope, rel = None, None
        if cfg["pos"] == "alibi":
            m = torch.tensor(alibi_slopes(cfg["heads"]), dtype=dtype).view(1, -1, 1, 1)
            dist = (pos.unsqueeze(2) - pos.unsqueeze(1)).abs().to(dtype).unsqueeze(1)
            rel = ("alibi", -m * dist)                           # (B,H,T,T)
        elif cfg["pos"] in ("fire",) + REL_SCHEMES:
            rel = (cfg["pos"], pos)
        if cfg["pos"] == "sinusoidal":
            x = x + sinusoidal_table(cfg["context"], C).to(dtype)[pos]
        elif cfg["pos"] in TABLE_SCHEMES:
            x = x + self.pos_emb.weight[pos]
        elif cfg["pos"] == "rope":
            cos, sin = rope_tables(cfg["context"], C // cfg["heads"])
            rope = (cos.to(dtype)[pos], sin.to(dtype)[pos])
        for layer in self.layers:
            x = layer(x, allowed, rope, rel)
        x = self.ln_f(x)
        return self.head(x)


def loss_fn(logits, targets):
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1).long(), ignore_index=-1,
                           reduction="mean")


def param_names(cfg):
    """Parameter names in the spec's order."""
    names = ["tok_emb.weight"]
    if cfg["pos"] in TABLE_SCHEMES:
        names.append("pos_emb.weight")
    for l in range(cfg["layers"]):
        p = f"layers.{l}."
        names += [p + "ln1.weight", p + "ln1.bias", p + "attn.qkv.weight", p + "attn.qkv.bias",
                  p + "attn.out.weight", p + "attn.out.bias", p + "ln2.weight", p + "ln2.bias",
                  p + "ffn.up.weight", p + "ffn.up.bias", p + "ffn.down.weight",
                  p + "ffn.down.bias"]
    names += ["ln_f.weight", "ln_f.bias", "head.weight", "head.bias"]
    if cfg["pos"] == "fire":
        for l in range(cfg["layers"]):
            names += [f"layers.{l}.attn.fire.{n}" for n in ["w1", "b1", "w2", "b2", "c", "L"]]
    if cfg["pos"] in REL_SCHEMES:
        names += [f"layers.{l}.attn.rel_bias" for l in range(cfg["layers"])]
    return names


def init_params(model, cfg, gen):
    """Non-trivial deterministic values: weights N(0, 0.3), LayerNorm weights 1 + N(0, 0.2),
    biases N(0, 0.1). Drawn in the spec's name order from one generator."""
    params = dict(model.named_parameters())
    assert sorted(params) == sorted(param_names(cfg)), (sorted(params), param_names(cfg))
    with torch.no_grad():
        for name in param_names(cfg):
            p = params[name]
            r = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if ".attn.fire." in name:
                # w1 N(0, 1), b1 N(0, 0.5): hidden units that switch on and off over the inputs
                # x in [0, ~1.5]; c and the threshold fixed per layer (FIRE_C, FIRE_THRESHOLD)
                layer, what = int(name.split(".")[1]), name.split(".")[-1]
                value = {"w1": r, "b1": 0.5 * r, "w2": 0.3 * r, "b2": 0.1 * r,
                         "c": torch.full_like(r, FIRE_C[layer]),
                         "L": torch.full_like(r, FIRE_THRESHOLD[layer] / FIRE_L0)}[what]
                p.copy_(value)
            elif name.endswith(".attn.rel_bias"):
                p.copy_(r)                               # N(0, 1): the bias matters
            elif ".ln" in name or name.startswith("ln_f"):
                p.copy_(1.0 + 0.2 * r if name.endswith(".weight") else 0.1 * r)
            elif name.endswith(".bias"):
                p.copy_(0.1 * r)
            else:
                p.copy_(0.3 * r)


def make_batch(cfg, gen):
    V = cfg["vocab"]
    tokens = torch.randint(0, V, (B, T), generator=gen, dtype=torch.int64).to(torch.int32)
    start = torch.tensor(START, dtype=torch.int32)
    targets = torch.randint(0, V, (B, T), generator=gen, dtype=torch.int64).to(torch.int32)
    for b in range(B):
        assert LOSS_FROM[b] >= START[b]
        targets[b, :LOSS_FROM[b]] = -1
    ids = None
    if cfg["pos"] in REL_SCHEMES:  # ids 0..9: repeats, and differences past the clip
        ids = torch.randint(0, 10, (B, T), generator=gen, dtype=torch.int64).to(torch.int32)
        for b in range(B):
            ids[b, :START[b]] = 0
    return tokens, start, targets, ids


def to_f32(x):
    """float64 result -> stored float32. Entries below 1e-12 in magnitude are roundoff around
    values that are exactly 0 in theory (e.g. the gradient of the key bias: adding a constant
    vector to every key shifts each score row by a constant, which softmax ignores, so that
    gradient is 0 unless rope rotates k); they are stored as exact 0 so that the files do not
    depend on the BLAS's summation order."""
    x = x.detach().clone()
    x[x.abs() < 1e-12] = 0.0
    return x.float()


def run(model, tokens, start, targets, ids=None):
    """forward + loss + backward; returns logits, loss, {name: grad}."""
    model.zero_grad(set_to_none=True)
    logits = model(tokens, start, ids)
    loss = loss_fn(logits, targets)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return logits.detach(), loss.detach(), grads


# ---------------------------------------------------------------------------------------------
# cross-check with torch's own TransformerEncoder

def cross_check_torch_encoder(model, cfg, tokens):
    assert cfg["pos"] == "sinusoidal" and cfg["norm"] == "post" and cfg["act"] == "relu"
    C, H, Fw, L = cfg["d_model"], cfg["heads"], cfg["ffn"], cfg["layers"]
    layer = nn.TransformerEncoderLayer(C, H, Fw, dropout=0.0)
    enc = nn.TransformerEncoder(layer, L, norm=nn.LayerNorm(C))
    with torch.no_grad():
        for l in range(L):
            mine, ref = model.layers[l], enc.layers[l]
            ref.self_attn.in_proj_weight.copy_(mine.attn.qkv.weight)
            ref.self_attn.in_proj_bias.copy_(mine.attn.qkv.bias)
            ref.self_attn.out_proj.weight.copy_(mine.attn.out.weight)
            ref.self_attn.out_proj.bias.copy_(mine.attn.out.bias)
            ref.linear1.weight.copy_(mine.ffn.up.weight)
            ref.linear1.bias.copy_(mine.ffn.up.bias)
            ref.linear2.weight.copy_(mine.ffn.down.weight)
            ref.linear2.bias.copy_(mine.ffn.down.bias)
            ref.norm1.weight.copy_(mine.ln1.weight)
            ref.norm1.bias.copy_(mine.ln1.bias)
            ref.norm2.weight.copy_(mine.ln2.weight)
            ref.norm2.bias.copy_(mine.ln2.bias)
        enc.norm.weight.copy_(model.ln_f.weight)
        enc.norm.bias.copy_(model.ln_f.bias)
    enc.eval()
    Tn = tokens.shape[1]
    C_ = math.sqrt(C)
    with torch.no_grad():
        # torch's layout is (T, B, C); causal float mask as in seed 001
        src = model.tok_emb.weight[tokens.long()] * C_
        src = src + sinusoidal_table(cfg["context"], C).to(torch.float32)[:Tn].unsqueeze(0)
        mask = torch.log(torch.tril(torch.ones(Tn, Tn)))
        out = enc(src.transpose(0, 1), mask=mask).transpose(0, 1)
        ref_logits = model.head(out)
        my_logits = model(tokens, torch.zeros(tokens.shape[0], dtype=torch.int32))
    diff = (ref_logits - my_logits).abs().max().item()
    assert diff <= 1e-5, f"twin vs nn.TransformerEncoder: max |diff| {diff:.3g} > 1e-5"
    return diff


# ---------------------------------------------------------------------------------------------
# safetensors (struct + json only)

_DT = {torch.float32: ("F32", "<f4"), torch.int32: ("I32", "<i4")}


def st_write(path, tensors, metadata):
    """tensors: list of (name, tensor) in file order (float32 or int32, CPU)."""
    header, blobs, off = {}, [], 0
    for name, t in tensors:
        t = t.detach().contiguous()
        code = _DT[t.dtype][0]
        data = t.numpy().astype(_DT[t.dtype][1], copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    hb += b" " * ((-len(hb)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for d in blobs:
            f.write(d)
    os.replace(tmp, path)


def st_read(path):
    """Tiny independent reader: returns ({name: tensor}, metadata). Checks the layout."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<Q", raw, 0)
    assert n % 8 == 0 and 8 + n <= len(raw), "bad header length"
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out, spans = {}, []
    for name, e in header.items():
        b, end = e["data_offsets"]
        fmt = {"F32": "f", "I32": "i"}[e["dtype"]]
        count = math.prod(e["shape"]) if e["shape"] else 1
        assert end - b == 4 * count, f"{name}: size mismatch"
        vals = struct.unpack_from(f"<{count}{fmt}", data, b)
        dtype = torch.float32 if fmt == "f" else torch.int32
        out[name] = torch.tensor(vals, dtype=dtype).reshape(e["shape"])
        spans.append((b, end))
    spans.sort()
    pos = 0
    for b, end in spans:
        assert b == pos, "gap or overlap in data"
        pos = end
    assert pos == len(data), "trailing bytes"
    return out, meta


# ---------------------------------------------------------------------------------------------

def build_fixture(pos, norm, seed):
    cfg = make_config(pos, norm)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = Twin(cfg)
    init_params(model, cfg, gen)
    tokens, start, targets, ids = make_batch(cfg, gen)

    xdiff = None
    if pos == "sinusoidal" and norm == "post":
        xdiff = cross_check_torch_encoder(model, cfg, tokens)

    # float32 run (for the report only) and float64 reference (stored)
    l32, loss32, g32 = run(model, tokens, start, targets, ids)
    m64 = Twin(cfg).double()
    m64.load_state_dict(model.state_dict())
    l64, loss64, g64 = run(m64, tokens, start, targets, ids)
    dev = max([(l32.double() - l64).abs().max().item(), abs(loss32.item() - loss64.item())] +
              [(g32[k].double() - g64[k]).abs().max().item() for k in g64])

    params = dict(model.named_parameters())
    names = param_names(cfg)
    tensors = [(n, params[n].detach()) for n in names]
    tensors += [("input.tokens", tokens), ("input.start", start), ("input.targets", targets)]
    if ids is not None:
        tensors += [("input.pos", ids)]
    tensors += [("output.logits", to_f32(l64)), ("output.loss", to_f32(loss64).reshape(1))]
    tensors += [("grad." + n, to_f32(g64[n])) for n in names]
    meta = {"config": json.dumps(cfg, separators=(",", ":")),
            "torch_version": torch.__version__, "seed": str(seed),
            "compute_dtype": "float64 (stored rounded to float32)"}
    return tensors, meta, loss64.item(), dev, xdiff


def check_file(path):
    """Re-reads a fixture and recomputes everything from the stored parameters."""
    ts, meta = st_read(path)
    cfg = json.loads(meta["config"])
    model = Twin(cfg).double()
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(ts[n].double())
    given = {"input.pos"} if cfg["pos"] in REL_SCHEMES else set()
    assert set(ts) == set(param_names(cfg)) | {"grad." + n for n in param_names(cfg)} | {
        "input.tokens", "input.start", "input.targets", "output.logits", "output.loss"} | given
    logits, loss, grads = run(model, ts["input.tokens"], ts["input.start"], ts["input.targets"],
                              ts.get("input.pos"))
    Bn, Tn = ts["input.tokens"].shape
    assert ts["output.logits"].shape == (Bn, Tn, cfg["vocab"])
    worst = max([(to_f32(logits) - ts["output.logits"]).abs().max().item(),
                 abs(to_f32(loss).item() - ts["output.loss"].item())] +
                [(to_f32(grads[n]) - ts["grad." + n]).abs().max().item() for n in grads])
    # same machine: identical; another BLAS may move a value by a float32 rounding step
    assert worst <= 1e-6, f"{path}: recomputed values differ by {worst}"
    st = ts["input.start"]
    tg = ts["input.targets"]
    for b in range(Bn):
        assert (tg[b, :st[b]] == -1).all() and (tg[b] == -1).any() and (tg[b] >= 0).sum() >= 2
    return cfg, ts, meta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "tests", "fixtures"),
                    help="output directory (default tests/fixtures)")
    ap.add_argument("--check", metavar="DIR", help="only re-read and verify the files in DIR")
    ap.add_argument("--only", metavar="POS,...",
                    help="write only the fixtures of these positional schemes (e.g. alibi,fire)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    if args.check:
        for pos, norm, _ in fixture_names():
            path = os.path.join(args.check, f"transformer_{pos}_{norm}.safetensors")
            cfg, ts, meta = check_file(path)
            print(f"ok  {path}: {len(ts)} tensors, loss {ts['output.loss'].item():.6f}, "
                  f"config {meta['config']}")
        return 0

    out = os.path.normpath(args.out)
    os.makedirs(out, exist_ok=True)
    for pos, norm, seed in fixture_names():
        if args.only and pos not in args.only.split(","):
            continue
        tensors, meta, loss, dev, xdiff = build_fixture(pos, norm, seed)
        path = os.path.join(out, f"transformer_{pos}_{norm}.safetensors")
        st_write(path, tensors, meta)
        extra = f", nn.TransformerEncoder cross-check max|diff| {xdiff:.2e}" if xdiff is not None else ""
        print(f"wrote {path} ({os.path.getsize(path)} bytes): loss {loss:.6f}, "
              f"float32 twin vs float64 max|diff| {dev:.2e}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
