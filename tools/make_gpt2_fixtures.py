#!/usr/bin/python3
"""Reference fixtures for arith's GPT-2 model (model "gpt2"), made with a PyTorch twin.

What it is for
    arith's C GPT-2 (src/models/transformer.c, family gpt2) must compute exactly the model
    described below. This script holds an independent PyTorch implementation of that model,
    written line by line from the spec with explicit ops, and writes small safetensors files with
    random parameters under Hugging Face GPT2Model's names, a batch, the logits, the loss and the
    gradient of every parameter. The C tests load a file, build the model from its "config"
    metadata, copy the parameters in, run forward + backward on the stored batch and compare
    outputs and gradients. It also writes a tiny checkpoint laid out exactly as Hugging Face's
    GPT2Model.save_pretrained writes one (model.safetensors + config.json), for the loader.

How to run it (Debian's torch lives in /usr/bin/python3, not in a pyenv python):
    /usr/bin/python3 tools/make_gpt2_fixtures.py                  # writes tests/fixtures/
    /usr/bin/python3 tools/make_gpt2_fixtures.py --out /tmp/fx    # somewhere else
    /usr/bin/python3 tools/make_gpt2_fixtures.py --check tests/fixtures   # re-read + re-verify
Output is deterministic: rerunning gives the same files byte for byte.

Model (all parameters float32; names are Hugging Face GPT2Model's, as stored in the files)
    inputs: tokens (B,T) int32, start (B) int32 = left-padding columns of row b,
            targets (B,T) int32, -1 = no loss at this position.
    pos[b,t] = max(t - start[b], 0)
    token input/output, tie = true:  wte.weight (V,C); x = wte[tokens]; logits = x wte^T
                        tie = false: in_layer.weight (V,C) (an embedding), out_layer.weight (V,C)
                                     and out_layer.bias (V) (nn.Linear); x = in_layer[tokens];
                                     logits = x out_layer.weight^T + out_layer.bias
                        (no sqrt(C) scaling of the embedding)
    x = E[tokens] + wpe.weight[pos]                       (wpe.weight is (context, C))
    block l (pre-LN):   x = x + attn(LN1(x)); x = x + mlp(LN2(x))      (LayerNorm eps 1e-5)
        LN1 = h.{l}.ln_1.weight/bias, LN2 = h.{l}.ln_2.weight/bias (C)
    attn(h): Conv1D layout (y = h W + b, W (in, out)): qkv = h c_attn.weight + c_attn.bias
             (h.{l}.attn.c_attn.weight (C,3C), .bias (3C)); q,k,v = columns [0,C),[C,2C),
             [2C,3C); head j uses columns [j*hd,(j+1)*hd), hd = C/H.
             scores = q k^T / sqrt(hd); key j allowed for query t of row b iff
             start[b] <= j <= t, or j == t (a padding query attends only to itself);
             softmax over allowed keys; y = att v; heads concatenated;
             out = y c_proj.weight + c_proj.bias (h.{l}.attn.c_proj.weight (C,C), .bias (C)).
    mlp(h) = gelu_tanh(h c_fc.weight + c_fc.bias) c_proj.weight + c_proj.bias
             (h.{l}.mlp.c_fc.weight (C,F), .bias (F); h.{l}.mlp.c_proj.weight (F,C), .bias (C)),
             gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  ("gelu_new").
    x = LN_f(x) (ln_f.weight/bias), then the head above.
    loss = mean over (b,t) with targets >= 0 of cross_entropy(logits[b,t], targets[b,t]).

Files
    gpt2_tied.safetensors, gpt2_untied.safetensors: V=23, C=16, H=4 (hd 4), F=64, L=2,
        context 16, B=3, T=9, start (0, 3, 1), targets -1 before columns (2, 5, 4).
        Every parameter under its name; input.tokens, input.start, input.targets (I32);
        output.logits (B,T,V), output.loss (1); grad.<name> for every parameter (all F32).
        __metadata__: config (JSON: model "gpt2", vocab, d_model, heads, ffn, layers, context,
        norm "pre", act "gelu_tanh", pos "learned", dropout 0, tie), torch_version, seed,
        compute_dtype. (C = 16 rather than 32 keeps each file under 100 KB.)
    gpt2_hf_tiny.safetensors + gpt2_hf_tiny.json: what GPT2Model.save_pretrained writes for
        n_embd 32, n_layer 2, n_head 4, n_positions = n_ctx 16, vocab_size 50, n_inner 64
        (n_inner is set, rather than null = 4 * n_embd, to keep the file under 100 KB; a loader
        must honour it, as Hugging Face does). Keys without prefix in the safetensors
        library's order (by name; "__metadata__" {"format": "pt"} first in the header):
        wte.weight, wpe.weight, h.N.{ln_1,attn.c_attn,attn.c_proj,ln_2,mlp.c_fc,mlp.c_proj}.
        {weight,bias}, ln_f.{weight,bias}, plus the non-parameter buffer h.N.attn.bias
        ((1,1,16,16) float32 lower-triangular ones, as older checkpoints carry) that a loader
        must skip. The .json is config.json as transformers writes it (json.dumps(sort_keys=True,
        indent=2) + newline). No outputs are stored: it tests names, shapes and layouts.

Parameter values: GPT-2's initialization rescaled to this width, so that activations have
GPT-2's statistics: weight matrices and embeddings N(0, s) with s = 0.02 sqrt(768 / C) (0.02 at
GPT-2's C = 768), the residual projections (attn.c_proj, mlp.c_proj) N(0, s / sqrt(2L)); unlike
GPT-2 (ones and zeros) LayerNorm weights are 1 + N(0, 0.2) and LayerNorm biases and all other
biases N(0, 0.1), so that their gradients are tested. Drawn in name order from one seeded
torch.Generator.

Precision: as make_fixtures.py: parameters drawn and stored as float32; outputs and gradients
computed from those values in float64 and rounded to float32 once (magnitudes below 1e-12
stored as exact 0: the gradient of the key part of c_attn.bias, columns [C,2C), is 0 in
theory, since a constant added to every key shifts each score row by a constant; so are the
rows of wpe and in_layer that the batch does not use). The script also runs the twin in float32
and prints how far that lands from the float64 reference.

Cross-check: the twin (explicit Conv1D products, explicit masked softmax, tanh-GELU written
out) is compared with an independent formulation built from torch modules: nn.Embedding,
nn.LayerNorm, nn.MultiheadAttention (batch_first, in_proj_weight = c_attn.weight^T,
out_proj = c_proj^T, boolean attn_mask of the disallowed keys per row and head), nn.Linear
holding the transposed Conv1D weights, nn.GELU(approximate="tanh"), F.cross_entropy. Logits and
loss must agree in float32 within 1e-5, and logits, loss and every gradient in float64 within
1e-10 of the largest value, before anything is written.
The safetensors writer and reader are make_fixtures.py's (struct + json only; no safetensors
package); the Hugging Face file has its own writer (hf_write) for the library's header order.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import st_read, st_write, to_f32  # noqa: E402

# ---------------------------------------------------------------------------------------------
# fixture set-up

VOCAB, D_MODEL, HEADS, FFN_WIDTH, LAYERS, CONTEXT = 23, 16, 4, 64, 2, 16
B, T = 3, 9
START = [0, 3, 1]
# targets are -1 for t < LOSS_FROM[b] (covers every padding column), random tokens after
LOSS_FROM = [2, 5, 4]
BASE_SEED = 20240701
VARIANTS = [("gpt2_tied", True), ("gpt2_untied", False)]

HF_NAME = "gpt2_hf_tiny"
HF_CFG = {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 16, "vocab_size": 50,
          "n_inner": 64}
HF_SEED = BASE_SEED + 100


def make_config(tie):
    return {"model": "gpt2", "vocab": VOCAB, "d_model": D_MODEL, "heads": HEADS,
            "ffn": FFN_WIDTH, "layers": LAYERS, "context": CONTEXT, "norm": "pre",
            "act": "gelu_tanh", "pos": "learned", "dropout": 0, "tie": tie}


def block_shapes(l, C, Fw):
    p = f"h.{l}."
    return [(p + "ln_1.weight", (C,)), (p + "ln_1.bias", (C,)),
            (p + "attn.c_attn.weight", (C, 3 * C)), (p + "attn.c_attn.bias", (3 * C,)),
            (p + "attn.c_proj.weight", (C, C)), (p + "attn.c_proj.bias", (C,)),
            (p + "ln_2.weight", (C,)), (p + "ln_2.bias", (C,)),
            (p + "mlp.c_fc.weight", (C, Fw)), (p + "mlp.c_fc.bias", (Fw,)),
            (p + "mlp.c_proj.weight", (Fw, C)), (p + "mlp.c_proj.bias", (C,))]


def param_shapes(cfg):
    """[(name, shape)] in the spec's order (also the order the values are drawn in)."""
    V, C, Fw, L, n = cfg["vocab"], cfg["d_model"], cfg["ffn"], cfg["layers"], cfg["context"]
    out = [("wte.weight", (V, C))] if cfg["tie"] else [("in_layer.weight", (V, C))]
    out.append(("wpe.weight", (n, C)))
    for l in range(L):
        out += block_shapes(l, C, Fw)
    out += [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]
    if not cfg["tie"]:
        out += [("out_layer.weight", (V, C)), ("out_layer.bias", (V,))]
    return out


def param_names(cfg):
    return [n for n, _ in param_shapes(cfg)]


def draw(shapes, C, L, gen):
    """{name: float32 tensor}: GPT-2's init rescaled to width C (see the docstring)."""
    s = 0.02 * math.sqrt(768.0 / C)
    out = {}
    for name, shape in shapes:
        r = torch.randn(shape, generator=gen, dtype=torch.float32)
        leaf = name.rsplit(".", 2)
        is_ln = ".ln_" in name or name.startswith("ln_f.")
        if is_ln:
            v = 1.0 + 0.2 * r if name.endswith(".weight") else 0.1 * r
        elif name.endswith(".bias"):
            v = 0.1 * r
        elif leaf[-2] == "c_proj":
            v = (s / math.sqrt(2 * L)) * r
        else:
            v = s * r
        out[name] = v.contiguous()
    return out


def make_batch(cfg, gen):
    V = cfg["vocab"]
    tokens = torch.randint(0, V, (B, T), generator=gen, dtype=torch.int64).to(torch.int32)
    start = torch.tensor(START, dtype=torch.int32)
    targets = torch.randint(0, V, (B, T), generator=gen, dtype=torch.int64).to(torch.int32)
    for b in range(B):
        assert LOSS_FROM[b] >= START[b]
        targets[b, :LOSS_FROM[b]] = -1
    return tokens, start, targets


# ---------------------------------------------------------------------------------------------
# the twin: the spec with explicit ops on a dict of tensors

def layer_norm(x, w, b):
    mu = x.mean(dim=-1, keepdim=True)
    var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + 1e-5) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def allowed_mask(start, Tn):
    """allowed[b,t,j] = (start[b] <= j <= t) or j == t."""
    j = torch.arange(Tn).view(1, 1, Tn)
    tq = torch.arange(Tn).view(1, Tn, 1)
    return ((j >= start.long().view(-1, 1, 1)) & (j <= tq)) | (j == tq)


def twin_forward(cfg, P, tokens, start, pos=None):
    """pos: (B,T) position ids; None: the columns from each row's start."""
    C, H = cfg["d_model"], cfg["heads"]
    hd = C // H
    Bn, Tn = tokens.shape
    tokens = tokens.long()
    if pos is None:
        pos = torch.clamp(torch.arange(Tn).unsqueeze(0) - start.long().unsqueeze(1), min=0)
    pos = pos.long()
    allowed = allowed_mask(start, Tn).unsqueeze(1)                       # (B,1,T,T)
    E = P["wte.weight"] if cfg["tie"] else P["in_layer.weight"]
    x = E[tokens] + P["wpe.weight"][pos]
    for l in range(cfg["layers"]):
        p = f"h.{l}."
        h = layer_norm(x, P[p + "ln_1.weight"], P[p + "ln_1.bias"])
        qkv = h @ P[p + "attn.c_attn.weight"] + P[p + "attn.c_attn.bias"]   # (B,T,3C)
        q, k, v = qkv[..., 0:C], qkv[..., C:2 * C], qkv[..., 2 * C:3 * C]
        q = q.reshape(Bn, Tn, H, hd).transpose(1, 2)                     # (B,H,T,hd)
        k = k.reshape(Bn, Tn, H, hd).transpose(1, 2)
        v = v.reshape(Bn, Tn, H, hd).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        scores = scores.masked_fill(~allowed, float("-inf"))
        att = torch.softmax(scores, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + (y @ P[p + "attn.c_proj.weight"] + P[p + "attn.c_proj.bias"])
        h = layer_norm(x, P[p + "ln_2.weight"], P[p + "ln_2.bias"])
        u = gelu_tanh(h @ P[p + "mlp.c_fc.weight"] + P[p + "mlp.c_fc.bias"])
        x = x + (u @ P[p + "mlp.c_proj.weight"] + P[p + "mlp.c_proj.bias"])
    x = layer_norm(x, P["ln_f.weight"], P["ln_f.bias"])
    if cfg["tie"]:
        return x @ P["wte.weight"].t()
    return x @ P["out_layer.weight"].t() + P["out_layer.bias"]


def twin_loss(logits, targets):
    """mean cross-entropy over targets >= 0, written out."""
    tg = targets.long()
    m = tg >= 0
    logp = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    picked = torch.gather(logp, 2, tg.clamp(min=0).unsqueeze(2)).squeeze(2)
    return -(picked * m).sum() / m.sum()


def run_twin(cfg, params, tokens, start, targets, dtype):
    """forward + loss + backward; returns logits, loss, {name: grad}."""
    P = {n: v.to(dtype).clone().requires_grad_(True) for n, v in params.items()}
    logits = twin_forward(cfg, P, tokens, start)
    loss = twin_loss(logits, targets)
    names = param_names(cfg)
    gs = torch.autograd.grad(loss, [P[n] for n in names])
    return logits.detach(), loss.detach(), dict(zip(names, gs))


# ---------------------------------------------------------------------------------------------
# the independent formulation: torch modules, nn.Linear / nn.MultiheadAttention weights are the
# transposed Conv1D weights

class ModBlock(nn.Module):
    def __init__(self, C, H, Fw):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.attn = nn.MultiheadAttention(C, H, dropout=0.0, bias=True, batch_first=True)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.fc = nn.Linear(C, Fw)
        self.act = nn.GELU(approximate="tanh")
        self.proj = nn.Linear(Fw, C)

    def forward(self, x, mask):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.proj(self.act(self.fc(self.ln_2(x))))


class ModGPT2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        V, C, H, Fw = cfg["vocab"], cfg["d_model"], cfg["heads"], cfg["ffn"]
        self.emb = nn.Embedding(V, C)
        self.wpe = nn.Embedding(cfg["context"], C)
        self.blocks = nn.ModuleList([ModBlock(C, H, Fw) for _ in range(cfg["layers"])])
        self.ln_f = nn.LayerNorm(C, eps=1e-5)
        if not cfg["tie"]:
            self.head = nn.Linear(C, V)

    # fixture name -> (module parameter, transposed?)
    def mapping(self):
        m = {("wte.weight" if self.cfg["tie"] else "in_layer.weight"): (self.emb.weight, False),
             "wpe.weight": (self.wpe.weight, False), "ln_f.weight": (self.ln_f.weight, False),
             "ln_f.bias": (self.ln_f.bias, False)}
        if not self.cfg["tie"]:
            m["out_layer.weight"] = (self.head.weight, False)
            m["out_layer.bias"] = (self.head.bias, False)
        for l, blk in enumerate(self.blocks):
            p = f"h.{l}."
            m.update({p + "ln_1.weight": (blk.ln_1.weight, False),
                      p + "ln_1.bias": (blk.ln_1.bias, False),
                      p + "attn.c_attn.weight": (blk.attn.in_proj_weight, True),
                      p + "attn.c_attn.bias": (blk.attn.in_proj_bias, False),
                      p + "attn.c_proj.weight": (blk.attn.out_proj.weight, True),
                      p + "attn.c_proj.bias": (blk.attn.out_proj.bias, False),
                      p + "ln_2.weight": (blk.ln_2.weight, False),
                      p + "ln_2.bias": (blk.ln_2.bias, False),
                      p + "mlp.c_fc.weight": (blk.fc.weight, True),
                      p + "mlp.c_fc.bias": (blk.fc.bias, False),
                      p + "mlp.c_proj.weight": (blk.proj.weight, True),
                      p + "mlp.c_proj.bias": (blk.proj.bias, False)})
        return m

    def load(self, params):
        m = self.mapping()
        assert sorted(m) == sorted(params)
        assert len(list(self.parameters())) == len(m)
        with torch.no_grad():
            for n, v in params.items():
                p, tr = m[n]
                p.copy_((v.t() if tr else v).to(p.dtype))

    def grads(self):
        return {n: (p.grad.t() if tr else p.grad).detach().clone()
                for n, (p, tr) in self.mapping().items()}

    def forward(self, tokens, start):
        Bn, Tn = tokens.shape
        H = self.cfg["heads"]
        pos = torch.stack([torch.tensor([max(t - int(start[b]), 0) for t in range(Tn)])
                           for b in range(Bn)])
        x = self.emb(tokens.long()) + self.wpe(pos)
        # True = may not attend; rows b*H + j, as nn.MultiheadAttention expects
        mask = (~allowed_mask(start, Tn)).repeat_interleave(H, dim=0)
        for blk in self.blocks:
            x = blk(x, mask)
        x = self.ln_f(x)
        return F.linear(x, self.emb.weight) if self.cfg["tie"] else self.head(x)


def run_modules(cfg, params, tokens, start, targets, dtype):
    model = ModGPT2(cfg).to(dtype)
    model.load(params)
    model.zero_grad(set_to_none=True)
    logits = model(tokens, start)
    V = logits.shape[-1]
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1).long(), ignore_index=-1)
    loss.backward()
    return logits.detach(), loss.detach(), model.grads()


def max_diff(a, b):
    (oa, la, ga), (ob, lb, gb) = a, b
    assert oa.shape == ob.shape and sorted(ga) == sorted(gb)
    return max([(oa.double() - ob.double()).abs().max().item(), abs(la.item() - lb.item())] +
               [(ga[k].double() - gb[k].double()).abs().max().item() for k in ga])


def max_ref(res):
    out, loss, grads = res
    return max([out.abs().max().item(), abs(loss.item())] +
               [g.abs().max().item() for g in grads.values()])


def compute(cfg, params, tokens, start, targets):
    """float64 twin reference, cross-checked against the module formulation. Returns the
    reference triple, the float32 logits/loss difference twin vs modules, the float64
    difference twin vs modules (outputs and all gradients) and the float32-vs-float64 drift."""
    ref = run_twin(cfg, params, tokens, start, targets, torch.float64)
    mod64 = run_modules(cfg, params, tokens, start, targets, torch.float64)
    x64 = max_diff(ref, mod64)
    assert x64 <= 1e-10 * max(1.0, max_ref(ref)), f"twin vs modules (float64): {x64:.3g}"
    t32 = run_twin(cfg, params, tokens, start, targets, torch.float32)
    m32 = run_modules(cfg, params, tokens, start, targets, torch.float32)
    x32 = max((t32[0] - m32[0]).abs().max().item(), abs(t32[1].item() - m32[1].item()))
    assert x32 <= 1e-5, f"twin vs modules (float32 logits/loss): {x32:.3g} > 1e-5"
    dev = max_diff(ref, t32)
    return ref, x32, x64, dev


# ---------------------------------------------------------------------------------------------
# the fixtures

def build_fixture(tie, seed):
    cfg = make_config(tie)
    gen = torch.Generator().manual_seed(seed)
    params = draw(param_shapes(cfg), cfg["d_model"], cfg["layers"], gen)
    tokens, start, targets = make_batch(cfg, gen)
    (logits, loss, grads), x32, x64, dev = compute(cfg, params, tokens, start, targets)
    names = param_names(cfg)
    tensors = [(n, params[n]) for n in names]
    tensors += [("input.tokens", tokens), ("input.start", start), ("input.targets", targets)]
    tensors += [("output.logits", to_f32(logits)), ("output.loss", to_f32(loss).reshape(1))]
    tensors += [("grad." + n, to_f32(grads[n])) for n in names]
    meta = {"config": json.dumps(cfg, separators=(",", ":")),
            "torch_version": torch.__version__, "seed": str(seed),
            "compute_dtype": "float64 (stored rounded to float32)"}
    return tensors, meta, loss.item(), dev, x32, x64


def check_batch(ts, cfg):
    tk, st, tg = ts["input.tokens"], ts["input.start"], ts["input.targets"]
    Bn, Tn = tk.shape
    assert tk.dtype == st.dtype == tg.dtype == torch.int32 and tuple(st.shape) == (Bn,)
    assert tuple(tg.shape) == (Bn, Tn) and Tn <= cfg["context"]
    assert ((tk >= 0) & (tk < cfg["vocab"])).all() and (tg < cfg["vocab"]).all()
    assert (st == 0).any() and len(set(st.tolist())) > 1
    for b in range(Bn):
        assert (tg[b, :st[b]] == -1).all() and (tg[b] == -1).any() and (tg[b] >= 0).sum() >= 2


def check_file(path):
    """Re-reads a fixture and recomputes everything from the stored parameters and batch."""
    ts, meta = st_read(path)
    cfg = json.loads(meta["config"])
    names = param_names(cfg)
    want = set(names) | {"grad." + n for n in names} | {
        "input.tokens", "input.start", "input.targets", "output.logits", "output.loss"}
    assert set(ts) == want, sorted(set(ts) ^ want)
    for n, s in param_shapes(cfg):
        assert tuple(ts[n].shape) == tuple(s) and ts[n].dtype == torch.float32, n
        assert tuple(ts["grad." + n].shape) == tuple(s), n
    check_batch(ts, cfg)
    Bn, Tn = ts["input.tokens"].shape
    assert tuple(ts["output.logits"].shape) == (Bn, Tn, cfg["vocab"])
    params = {n: ts[n] for n in names}
    (logits, loss, grads), _, _, _ = compute(cfg, params, ts["input.tokens"], ts["input.start"],
                                             ts["input.targets"])
    worst = max([(to_f32(logits) - ts["output.logits"]).abs().max().item(),
                 abs(to_f32(loss).item() - ts["output.loss"].item())] +
                [(to_f32(grads[n]) - ts["grad." + n]).abs().max().item() for n in names])
    # same machine: identical; another BLAS may move a value by a float32 rounding step
    assert worst <= 1e-6, f"{path}: recomputed values differ by {worst}"
    return cfg, ts, meta


# ---------------------------------------------------------------------------------------------
# the Hugging Face checkpoint

def hf_config():
    """config.json of GPT2Config(**HF_CFG) as transformers writes it (to_json_string)."""
    c = HF_CFG
    return {"activation_function": "gelu_new", "architectures": ["GPT2Model"],
            "attn_pdrop": 0.1, "bos_token_id": c["vocab_size"] - 1, "embd_pdrop": 0.1,
            "eos_token_id": c["vocab_size"] - 1, "initializer_range": 0.02,
            "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": c["n_positions"],
            "n_embd": c["n_embd"], "n_head": c["n_head"], "n_inner": c["n_inner"],
            "n_layer": c["n_layer"], "n_positions": c["n_positions"],
            "reorder_and_upcast_attn": False, "resid_pdrop": 0.1,
            "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True,
            "summary_activation": None, "summary_first_dropout": 0.1,
            "summary_proj_to_labels": True, "summary_type": "cls_index",
            "summary_use_proj": True, "torch_dtype": "float32",
            "transformers_version": "4.30.2", "use_cache": True,
            "vocab_size": c["vocab_size"]}


def hf_config_text():
    return json.dumps(hf_config(), indent=2, sort_keys=True) + "\n"


def hf_shapes():
    c = HF_CFG
    C, n, L = c["n_embd"], c["n_positions"], c["n_layer"]
    Fw = c["n_inner"] or 4 * C
    out = [("wte.weight", (c["vocab_size"], C)), ("wpe.weight", (n, C))]
    for l in range(L):
        out += block_shapes(l, C, Fw)
    return out + [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]


def hf_tensors():
    """{name: tensor}: the parameters (drawn as the fixtures' are) and the h.N.attn.bias
    buffers."""
    c = HF_CFG
    gen = torch.Generator().manual_seed(HF_SEED)
    out = draw(hf_shapes(), c["n_embd"], c["n_layer"], gen)
    n = c["n_positions"]
    for l in range(c["n_layer"]):
        out[f"h.{l}.attn.bias"] = torch.tril(torch.ones(n, n)).view(1, 1, n, n)
    return out


def hf_write(path, tensors, metadata):
    """The safetensors library's layout: tensors ordered by name (all F32 here, so dtype
    alignment does not reorder them), "__metadata__" first in the header, header padded with
    spaces to a multiple of 8."""
    header = {"__metadata__": metadata}
    blobs, off = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        assert t.dtype == torch.float32
        data = t.numpy().astype("<f4", copy=False).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    hb += b" " * ((-len(hb)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for d in blobs:
            f.write(d)
    os.replace(tmp, path)


def check_hf(st_path, json_path):
    ts, meta = st_read(st_path)
    assert meta == {"format": "pt"}, meta
    with open(st_path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<Q", raw, 0)
    assert raw[8:8 + n].startswith(b'{"__metadata__":'), "header does not start with metadata"
    want = hf_tensors()
    assert sorted(ts) == sorted(want), sorted(set(ts) ^ set(want))
    for k, v in want.items():
        assert tuple(ts[k].shape) == tuple(v.shape) and torch.equal(ts[k], v), k
    with open(json_path) as f:
        text = f.read()
    assert text == hf_config_text(), f"{json_path} differs from what this script writes"
    cfg = json.loads(text)
    assert cfg["model_type"] == "gpt2" and cfg["activation_function"] == "gelu_new"
    return ts, cfg


# ---------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "tests", "fixtures"),
                    help="output directory (default tests/fixtures)")
    ap.add_argument("--check", metavar="DIR", help="only re-read and verify the files in DIR")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    if args.check:
        for name, _ in VARIANTS:
            path = os.path.join(args.check, f"{name}.safetensors")
            cfg, ts, meta = check_file(path)
            print(f"ok  {path}: {len(ts)} tensors, loss {ts['output.loss'].item():.6f}, "
                  f"config {meta['config']}")
        st_path = os.path.join(args.check, f"{HF_NAME}.safetensors")
        ts, cfg = check_hf(st_path, os.path.join(args.check, f"{HF_NAME}.json"))
        print(f"ok  {st_path} + {HF_NAME}.json: {len(ts)} tensors, n_embd {cfg['n_embd']}, "
              f"n_layer {cfg['n_layer']}, n_head {cfg['n_head']}, vocab {cfg['vocab_size']}")
        return 0

    out = os.path.normpath(args.out)
    os.makedirs(out, exist_ok=True)
    for i, (name, tie) in enumerate(VARIANTS):
        seed = BASE_SEED + i
        tensors, meta, loss, dev, x32, x64 = build_fixture(tie, seed)
        path = os.path.join(out, f"{name}.safetensors")
        st_write(path, tensors, meta)
        print(f"wrote {path} ({os.path.getsize(path)} bytes): loss {loss:.6f}, "
              f"float32 twin vs float64 max|diff| {dev:.2e}; twin vs nn.MultiheadAttention/"
              f"nn.Linear modules: float32 logits/loss max|diff| {x32:.2e}, float64 logits/"
              f"loss/grads max|diff| {x64:.2e}")
    st_path = os.path.join(out, f"{HF_NAME}.safetensors")
    hf_write(st_path, hf_tensors(), {"format": "pt"})
    json_path = os.path.join(out, f"{HF_NAME}.json")
    with open(json_path + ".tmp", "w") as f:
        f.write(hf_config_text())
    os.replace(json_path + ".tmp", json_path)
    print(f"wrote {st_path} ({os.path.getsize(st_path)} bytes) and {json_path} "
          f"({os.path.getsize(json_path)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
