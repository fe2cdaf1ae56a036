#!/usr/bin/python3
"""PyTorch side of the seed-001 benchmark ("Teach an LLM to do additions").

Times, on the CPU with torch.set_num_threads(N), the notebook's own setup:
  * task: 9-digit addition, aligned-pairs tokenizer (prompt = 9 digit-pair tokens + '+' + '='
    = 11 tokens; answer = up to 10 digits + EOS, right-padded with PAD), batch 64, training
    sequence = 11 + 11 = 22 tokens, loss = cross-entropy over the 11 answer positions
    (PAD targets included, as in the notebook);
  * model: input embedding (69 tokens) * sqrt(128) + sinusoidal positional encoding (with the
    notebook's dropout 0.1), nn.TransformerEncoder of 8 TransformerEncoderLayer(d_model=128,
    nhead=16, dim_feedforward=64, dropout=0.1) + final LayerNorm, causal float mask
    log(tril(ones)), Linear(128, 69), log_softmax; AdamW(lr=8e-4). Sequence-first layout.
  * train: ms per full step (zero_grad, forward, loss, backward, AdamW step), median/p10/p90
    over --steps steps after --warmup steps; batches are real random 9-digit sums tokenized as
    the notebook does, prepared before timing.
  * generate: greedy answers (11 new tokens) for --gen-n prompts in batches of 64 the notebook's
    way: model.eval(), torch.no_grad(), re-running the whole model on the growing sequence for
    each new token (no cache). gen_seconds is for gen_n prompts; gen_seconds_per_6400
    extrapolates linearly to the notebook's 6400 test prompts.

BLAS: Debian's torch calls sgemm through libblas.so.3, i.e. whatever the system alternative
points at. For a fair comparison with arith (OpenBLAS, OpenMP build) this script re-executes
itself with LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp (no system setting is
touched), then checks /proc/self/maps that libblas.so.3 and libopenblas.so.0 came from that
directory and asks OpenBLAS itself (openblas_get_parallel) that it is the OpenMP build.
--blas system skips this and reports whatever got loaded.

Run:  /usr/bin/python3 bench/seed001_torch.py --threads 2 --steps 30 --gen-n 6400
Last line of output is one JSON object (see bench/run_seed001.sh).
"""

import argparse
import os
import sys

from torch_blas import (blas_report, cpu_other_share, cpu_snapshot, reexec_with_openblas_openmp,
                        require_openblas_openmp)



def parse_args():
    ap = argparse.ArgumentParser(description="seed 001 benchmark, PyTorch side")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30, help="timed training steps")
    ap.add_argument("--warmup", type=int, default=5, help="untimed training steps first")
    ap.add_argument("--gen-n", type=int, default=6400, help="prompts to answer (batches of 64)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--blas", choices=["openblas-openmp", "system"], default="openblas-openmp",
                    help="openblas-openmp (default): force and verify it; system: leave as is")
    a = ap.parse_args()
    if a.threads < 1 or a.steps < 1 or a.warmup < 0 or a.gen_n < 1:
        ap.error("--threads, --steps, --gen-n must be >= 1 and --warmup >= 0")
    return a


def main():
    args = parse_args()
    if args.blas == "openblas-openmp":
        reexec_with_openblas_openmp(args.threads, "seed001_torch")

    import json
    import math
    import random
    import statistics
    import time

    import torch
    from torch import nn
    from torch.nn import functional as F

    cpu_before = cpu_snapshot()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)

    if args.blas == "openblas-openmp":
        blas, blas_detail = require_openblas_openmp("seed001_torch")
    else:
        blas, blas_detail = blas_report()

    # ---------------------------------------------------------------- the notebook's pieces
    number_bits, batch_size, lr = 9, 64, 8e-4
    PAD, EOS = "[PAD]", "[EOS]"

    class CharacterAlignmentTokenizer:
        """The notebook's tokenizer (digit pairs as (min, max) sets), trimmed to what we use."""

        def __init__(self, max_digits=9):
            self.max_digits = max_digits
            vocab = [str(x) for x in range(10)] + ["+", "=", PAD, EOS]
            self.token_to_id = {v: i for i, v in enumerate(vocab)}
            cur = len(vocab)
            for i in range(10):
                for j in range(i, 10):
                    self.token_to_id[f"({i},{j})"] = cur
                    cur += 1
            self.ntokens = len(self.token_to_id)

        def encode(self, text):
            if "+" in text:
                a, b = text.split("+")
                b = b.split("=")[0]
                a, b = a.strip()[::-1].ljust(self.max_digits, "0"), b.strip()[::-1].ljust(
                    self.max_digits, "0")
                toks = [self.token_to_id[f"({min(int(x), int(y))},{max(int(x), int(y))})"]
                        for x, y in zip(a, b)]
                return toks + [self.token_to_id["+"], self.token_to_id["="]]
            return [self.token_to_id.get(c, self.token_to_id[PAD]) for c in text]

    tok = CharacterAlignmentTokenizer(number_bits)
    ntokens = tok.ntokens
    assert ntokens == 69

    def sample_datapoint():
        a = int("".join(str(random.randint(0, 9)) for _ in range(number_bits)))
        b = int("".join(str(random.randint(0, 9)) for _ in range(number_bits)))
        return f"{a}+{b}=", str(a + b)

    def pad(token_list, kind):
        m = max(len(x) for x in token_list)
        if kind == "prompts":
            return [[tok.token_to_id[PAD]] * (m - len(x)) + x for x in token_list], m
        return [x + [tok.token_to_id[EOS]] + [tok.token_to_id[PAD]] * (m - len(x))
                for x in token_list], m

    def get_batch(data):
        prompts, lp = pad([tok.encode(p) for p, _ in data], "prompts")
        answers, la = pad([tok.encode(a) for _, a in data], "answers")
        X = torch.stack([torch.tensor(x) for x in prompts], 1)   # (len_prompts, B)
        Y = torch.stack([torch.tensor(x) for x in answers], 1)   # (len_answers + 1, B)
        return X, Y, lp, la

    class PositionalEmbedding(nn.Module):
        def __init__(self, d_model, dropout=0.1, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            pe = torch.zeros(max_len, d_model)
            position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2).float()
                                 * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = torch.sin(position * div_term)
            pe[:, 1::2] = torch.cos(position * div_term)
            self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))

        def forward(self, x):
            return self.dropout(x + self.pe[: x.size(0), :])

    class TransformerModel(nn.Module):
        def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.1):
            super().__init__()
            layer = nn.TransformerEncoderLayer(ninp, nhead, nhid, dropout)
            self.encoder = nn.TransformerEncoder(layer, nlayers, norm=nn.LayerNorm(ninp))
            for p in self.encoder.parameters():      # as nn.Transformer._reset_parameters
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.pos_encoder = PositionalEmbedding(ninp, dropout)
            self.decoder = nn.Linear(ninp, ntoken)
            self.ninp = ninp
            nn.init.uniform_(self.input_emb.weight, -0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

        def forward(self, src):
            mask = torch.log(torch.tril(torch.ones(len(src), len(src))))
            src = self.input_emb(src) * math.sqrt(self.ninp)
            src = self.pos_encoder(src)
            out = self.encoder(src, mask=mask)
            return F.log_softmax(self.decoder(out), dim=-1)

    model = TransformerModel(ntoken=ntokens, ninp=128, nhead=16, nhid=64, nlayers=8)
    nparams = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)

    # ---------------------------------------------------------------- train
    nsteps = args.warmup + args.steps
    batches = [get_batch([sample_datapoint() for _ in range(batch_size)]) for _ in range(nsteps)]
    seq_lens = sorted({X.shape[0] + Y.shape[0] for X, Y, _, _ in batches})

    model.train()
    times, losses = [], []
    for s, (X, Y, lp, la) in enumerate(batches):
        t0 = time.perf_counter()
        inp = torch.cat((X, Y), 0)
        model.zero_grad()
        out = model(inp)
        out_answers = out[lp - 1: -1, :, :].reshape(-1, ntokens)
        loss = F.cross_entropy(out_answers, Y.reshape(-1))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        dt = time.perf_counter() - t0
        if s >= args.warmup:
            times.append(dt * 1000.0)

    def pct(xs, q):
        xs = sorted(xs)
        if len(xs) == 1:
            return xs[0]
        k = (len(xs) - 1) * q
        lo = math.floor(k)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)

    # ---------------------------------------------------------------- generate
    def generate(prompts, new_tokens):
        x = prompts
        for _ in range(new_tokens):
            out = model(x)
            token = torch.argmax(out[-1, :, :], -1).view((1, -1))
            x = torch.cat((x, token), 0)
        return x

    new_tokens = number_bits + 2   # 10 digits + EOS, as evaluate() uses for 9-digit sums
    gen_data = [sample_datapoint() for _ in range(args.gen_n)]
    gen_batches = [get_batch(gen_data[i:i + batch_size])[0]
                   for i in range(0, args.gen_n, batch_size)]
    model.eval()
    with torch.no_grad():
        generate(gen_batches[0], new_tokens)          # warm-up, untimed
        t0 = time.perf_counter()
        for X in gen_batches:
            generate(X, new_tokens)
        gen_seconds = time.perf_counter() - t0

    res = {
        "impl": "pytorch",
        "threads": args.threads,
        "train_ms_step_median": round(statistics.median(times), 3),
        "train_ms_step_p10": round(pct(times, 0.10), 3),
        "train_ms_step_p90": round(pct(times, 0.90), 3),
        "steps": args.steps,
        "warmup": args.warmup,
        "batch": batch_size,
        "train_seq_len": seq_lens[0] if len(seq_lens) == 1 else seq_lens,
        "gen_n": args.gen_n,
        "gen_new_tokens": new_tokens,
        "gen_seconds": round(gen_seconds, 4),
        "gen_seconds_per_6400": round(gen_seconds * 6400.0 / args.gen_n, 3),
        "params": nparams,
        "last_loss": round(losses[-1], 4),
        "torch_version": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "blas": blas,
        "blas_detail": blas_detail,
        # share of the machine's CPU time used by other processes while this ran; well above
        # 0 means other work competed for the cores (OpenMP barriers degrade badly then)
        "cpu_other_share": cpu_other_share(cpu_before),
        "ncpu": os.cpu_count(),
    }
    print(f"seed001 torch: {args.threads} threads, blas {blas}; train {res['train_ms_step_median']}"
          f" ms/step (p10 {res['train_ms_step_p10']}, p90 {res['train_ms_step_p90']}, "
          f"{args.steps} steps); generate {args.gen_n} prompts in {res['gen_seconds']} s "
          f"(extrapolated to 6400: {res['gen_seconds_per_6400']} s)", file=sys.stderr)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
