#!/usr/bin/python3
"""PyTorch side of the GPT-2 benchmark (bench/run_gpt2.sh).

Times, on the CPU with torch.set_num_threads(N), training steps of GPT-2 124M (context 1024,
d_model 768, 12 heads, FFN 3072, 12 layers) written as Hugging Face's GPT2Model computes it in
eager mode (Conv1D = torch.addmm, q k^T / sqrt(hd), causal mask by torch.where with the dtype's
minimum plus an additive padding mask, softmax, "gelu_new" written out as HF's
NewGELUActivation does, LayerNorm eps 1e-5); transformers itself is not needed. Two settings:
  * full:   tied token matrix wte (50257 x 768) for input and output (GPT-2's LM head),
            every parameter trainable;
  * frozen: seed 003's setting: new in_layer (91 x 768 embedding) and out_layer (Linear 768 ->
            91) instead of wte, and only the LayerNorms (ln_1, ln_2, ln_f), wpe, in_layer and
            out_layer trainable (requires_grad False on the rest, so no weight gradients are
            computed for the attention and MLP matrices).
Batch --batch x --seq tokens (default 4 x 128); row b starts after start[b] = (3 b) mod 8
left-padding columns, tokens[b][t] = (1 + 7919 b + 104729 t + 31 step) mod V,
targets[b][t] = tokens[b][t+1] for start[b] <= t < T-1, else -1 (arith's side builds the same
batch), pos[b][t] = max(t - start[b], 0). Parameters drawn as GPT-2's init (N(0, 0.02),
residual projections N(0, 0.02/sqrt(2L)), LayerNorms 1 and 0, biases 0).
Each step: zero_grad, forward, mean cross-entropy over targets >= 0, backward (the time of
these is fb_ms), and with --adam also an Adam step (lr 1e-4) over the trainable parameters
(step_ms = fb + Adam). Medians, p10 and p90 over --steps steps after --warmup steps; peak RSS is
VmHWM of this process.

BLAS: as seed001_torch.py: the script re-executes itself with the OpenMP build of OpenBLAS
first on LD_LIBRARY_PATH and checks that it was loaded (bench/torch_blas.py); --blas system
skips this.

Run:  /usr/bin/python3 bench/gpt2_torch.py --threads 2 --steps 5 --config full
Last line of output is one JSON object (see bench/run_gpt2.sh).
"""

import argparse
import os
import sys

from torch_blas import (blas_report, cpu_other_share, cpu_snapshot, reexec_with_openblas_openmp,
                        require_openblas_openmp)

CONFIGS = {"full": dict(vocab=50257, tie=True), "frozen": dict(vocab=91, tie=False)}
FROZEN_TRAINABLE = ["ln", "wpe", "in_layer", "out_layer"]   # substrings of parameter names


def parse_args():
    ap = argparse.ArgumentParser(description="GPT-2 benchmark, PyTorch side")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5, help="timed steps")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="full")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--adam", action="store_true", help="also take an Adam step each step")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--blas", choices=["openblas-openmp", "system"], default="openblas-openmp",
                    help="openblas-openmp (default): force and verify it; system: leave as is")
    a = ap.parse_args()
    if a.threads < 1 or a.steps < 1 or a.warmup < 0 or a.batch < 1 or not 2 <= a.seq <= 1024:
        ap.error("--threads, --steps, --batch must be >= 1, --warmup >= 0, 2 <= --seq <= 1024")
    return a


def peak_rss_mb():
    """VmHWM of this process image (reset by the re-exec, unlike ru_maxrss)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    return None


def make_batch(torch, B, T, V, step):
    """The batch both sides build (see the docstring)."""
    start = [(3 * b) % 8 for b in range(B)]
    tokens = torch.tensor([[(1 + 7919 * b + 104729 * t + 31 * step) % V for t in range(T)]
                           for b in range(B)], dtype=torch.long)
    targets = torch.full((B, T), -1, dtype=torch.long)
    for b in range(B):
        targets[b, start[b]:T - 1] = tokens[b, start[b] + 1:T]
    return tokens, torch.tensor(start, dtype=torch.long), targets


def main():
    args = parse_args()
    if args.blas == "openblas-openmp":
        reexec_with_openblas_openmp(args.threads, "gpt2_torch")

    import json
    import math
    import statistics
    import time

    import torch
    from torch import nn
    from torch.nn import functional as F

    cpu_before = cpu_snapshot()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.blas == "openblas-openmp":
        blas, blas_detail = require_openblas_openmp("gpt2_torch")
    else:
        blas, blas_detail = blas_report()

    V, tie = CONFIGS[args.config]["vocab"], CONFIGS[args.config]["tie"]
    C, H, Fw, L, n_ctx = 768, 12, 3072, 12, 1024

    # ------------------------------------------------------------ GPT-2, HF's eager code
    class Conv1D(nn.Module):
        def __init__(self, nf, nx):
            super().__init__()
            self.nf = nf
            self.weight = nn.Parameter(torch.empty(nx, nf).normal_(std=0.02))
            self.bias = nn.Parameter(torch.zeros(nf))

        def forward(self, x):
            size_out = x.size()[:-1] + (self.nf,)
            x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
            return x.view(size_out)

    class NewGELU(nn.Module):
        def forward(self, x):
            return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi)
                                               * (x + 0.044715 * torch.pow(x, 3.0))))

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("bias", torch.tril(torch.ones(n_ctx, n_ctx, dtype=torch.bool))
                                 .view(1, 1, n_ctx, n_ctx), persistent=False)
            self.c_attn = Conv1D(3 * C, C)
            self.c_proj = Conv1D(C, C)
            nn.init.normal_(self.c_proj.weight, std=0.02 / math.sqrt(2 * L))

        def split(self, t):
            return t.view(t.size()[:-1] + (H, C // H)).permute(0, 2, 1, 3)

        def forward(self, x, attention_mask):
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = self.split(q), self.split(k), self.split(v)
            w = torch.matmul(q, k.transpose(-1, -2)) / (v.size(-1) ** 0.5)
            T = q.size(-2)
            causal = self.bias[:, :, :T, :T]
            w = torch.where(causal, w, torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype))
            w = w + attention_mask
            w = F.softmax(w, dim=-1)
            y = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous()
            return self.c_proj(y.view(y.size()[:-2] + (C,)))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = Conv1D(Fw, C)
            self.c_proj = Conv1D(C, Fw)
            nn.init.normal_(self.c_proj.weight, std=0.02 / math.sqrt(2 * L))
            self.act = NewGELU()

        def forward(self, x):
            return self.c_proj(self.act(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(C, eps=1e-5)
            self.attn = Attention()
            self.ln_2 = nn.LayerNorm(C, eps=1e-5)
            self.mlp = MLP()

        def forward(self, x, attention_mask):
            x = x + self.attn(self.ln_1(x), attention_mask)
            return x + self.mlp(self.ln_2(x))

    class GPT2(nn.Module):
        def __init__(self):
            super().__init__()
            if tie:
                self.wte = nn.Embedding(V, C)
                nn.init.normal_(self.wte.weight, std=0.02)
            else:
                self.in_layer = nn.Embedding(V, C)
                nn.init.normal_(self.in_layer.weight, std=0.02)
                self.out_layer = nn.Linear(C, V)
            self.wpe = nn.Embedding(n_ctx, C)
            nn.init.normal_(self.wpe.weight, std=0.02)
            self.h = nn.ModuleList([Block() for _ in range(L)])
            self.ln_f = nn.LayerNorm(C, eps=1e-5)

        def forward(self, tokens, start):
            B, T = tokens.shape
            t = torch.arange(T).unsqueeze(0)
            pos = torch.clamp(t - start.unsqueeze(1), min=0)
            emb = self.wte(tokens) if tie else self.in_layer(tokens)
            x = emb + self.wpe(pos)
            # HF's padding mask: (1 - keep) * min, keys before start[b] masked (B,1,1,T)
            keep = (t >= start.unsqueeze(1)).to(x.dtype)
            attention_mask = ((1.0 - keep) * torch.finfo(x.dtype).min).view(B, 1, 1, T)
            for blk in self.h:
                x = blk(x, attention_mask)
            x = self.ln_f(x)
            return F.linear(x, self.wte.weight) if tie else self.out_layer(x)

    model = GPT2()
    if args.config == "frozen":
        for name, p in model.named_parameters():
            p.requires_grad_(any(s in name for s in FROZEN_TRAINABLE))
    trainable = [p for p in model.parameters() if p.requires_grad]
    nparams = sum(p.numel() for p in model.parameters())
    ntrain = sum(p.numel() for p in trainable)
    opt = torch.optim.Adam(trainable, lr=1e-4) if args.adam else None

    # ------------------------------------------------------------ timed steps
    B, T = args.batch, args.seq
    batches = [make_batch(torch, B, T, V, s) for s in range(args.warmup + args.steps)]
    model.train()
    fb_times, step_times, losses = [], [], []
    for s, (tokens, start, targets) in enumerate(batches):
        t0 = time.perf_counter()
        model.zero_grad(set_to_none=True)
        logits = model(tokens, start)
        loss = F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)
        loss.backward()
        t1 = time.perf_counter()
        if opt is not None:
            opt.step()
        t2 = time.perf_counter()
        losses.append(loss.item())
        if s >= args.warmup:
            fb_times.append((t1 - t0) * 1e3)
            step_times.append((t2 - t0) * 1e3)

    def pct(xs, q):
        xs = sorted(xs)
        k = (len(xs) - 1) * q
        lo = math.floor(k)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)

    res = {
        "impl": "pytorch",
        "config": args.config,
        "threads": args.threads,
        "batch": B,
        "seq": T,
        "vocab": V,
        "tie": tie,
        "steps": args.steps,
        "warmup": args.warmup,
        "fb_ms_median": round(statistics.median(fb_times), 3),
        "fb_ms_p10": round(pct(fb_times, 0.10), 3),
        "fb_ms_p90": round(pct(fb_times, 0.90), 3),
        "adam": args.adam,
        "params": nparams,
        "trainable_params": ntrain,
        "last_loss": round(losses[-1], 4),
        "peak_rss_mb": peak_rss_mb(),
        "torch_version": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "blas": blas,
        "blas_detail": blas_detail,
        "cpu_other_share": cpu_other_share(cpu_before),
        "ncpu": os.cpu_count(),
    }
    if args.adam:
        res["step_ms_median"] = round(statistics.median(step_times), 3)
        res["step_ms_p10"] = round(pct(step_times, 0.10), 3)
        res["step_ms_p90"] = round(pct(step_times, 0.90), 3)
    print(f"gpt2 torch ({args.config}): {args.threads} threads, blas {blas}; forward+backward "
          f"{res['fb_ms_median']} ms/step (p10 {res['fb_ms_p10']}, p90 {res['fb_ms_p90']}, "
          f"{args.steps} steps)" + (f", with Adam {res['step_ms_median']} ms/step"
                                     if args.adam else "")
          + f"; peak RSS {res['peak_rss_mb']} MB", file=sys.stderr)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
