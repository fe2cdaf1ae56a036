#!/usr/bin/python3
"""PyTorch side of the seed-000 benchmark ("LSTM-arithmetic", the CharRNN notebook).

Times, on the CPU with torch.set_num_threads(N), the notebook's own model and training step:
  * data: seed 000's expressions (2-3 operands 0..50, + - *, optional parentheses), read from
    --csv FILE (columns src,tgt; `arith data --task expr --n 20000 --out FILE` writes it, so
    that both sides train on identical rows); the last 10% of the file is the test set, as
    arith splits it. Without --csv, the same distribution is generated here (answers by eval).
    Vocabulary built the notebook's way: <pad>=0, <eos>=1, then every character of the
    training prompts and answers in order of appearance (18 tokens).
  * model: the notebook's CharRNN: nn.Embedding(V, 256, padding_idx=<pad>), two nn.LSTM(256,
    256, batch_first=True) fed a pack_padded_sequence(enforce_sorted=False), pad_packed, then
    Linear(256,256)-ReLU-Linear(256,V). Adam(lr=1e-3), CrossEntropyLoss(ignore_index=<pad>)
    over the positions after '=' (the answer characters and <eos>), clip_grad_value_(1).
  * train: ms per step (zero_grad, forward, loss, backward, clip, Adam step, loss.item()),
    median/p10/p90 over --steps after --warmup. Batch k holds training rows (k*64+i) mod
    n_train in file order, exactly the rows bench_seed000 uses, right-padded as the notebook's
    collate_fn does. The notebook also builds its loss mask with a Python loop over the rows
    inside every step; that loop is timed separately (mask_ms_*) and left out of
    train_ms_step_* (train_ms_step_with_mask_median adds it back).
  * generate, the notebook's way: model.generator, one expression at a time, re-running the
    whole model over the growing sequence for every new token, stopping at <eos>; its max_len
    is set so that at most gen_max_new tokens are predicted (arith's limit: longest test answer
    + <eos> + 1; the notebook's 200 would only matter for answers that never end). Timed on
    --nb-gen-n prompts and reported as answers/s.
  * generate, batched (fair to the framework): --gen-n test prompts in batches of 64, prompt
    run once (packed), then one LSTM step per new token carrying each layer's (h, c), until
    every row of the batch has produced <eos> or gen_max_new tokens, as arith does.

BLAS: Debian's torch calls sgemm through libblas.so.3, i.e. whatever the system alternative
points at. For a fair comparison with arith (OpenBLAS, OpenMP build) this script re-executes
itself with LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp (no system setting is
touched), then checks /proc/self/maps that libblas.so.3 and libopenblas.so.0 came from that
directory and asks OpenBLAS itself (openblas_get_parallel) that it is the OpenMP build.
--blas system skips this and reports whatever got loaded.

Run:  /usr/bin/python3 bench/seed000_torch.py --threads 2 --steps 30 --gen-n 2000 --csv FILE
Last line of output is one JSON object (see bench/run_seed000.sh).
"""

import argparse
import os
import sys

from torch_blas import (blas_report, cpu_other_share, cpu_snapshot, reexec_with_openblas_openmp,
                        require_openblas_openmp)

# Generation is timed at a fixed number of tokens per prompt on both sides (EOS ignored), so
# that an untrained model stopping early does not make either side look fast.
FIXED_TOKENS = True



def parse_args():
    ap = argparse.ArgumentParser(description="seed 000 benchmark, PyTorch side")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30, help="timed training steps")
    ap.add_argument("--warmup", type=int, default=5, help="untimed training steps first")
    ap.add_argument("--gen-n", type=int, default=2000,
                    help="test prompts answered by batched generation")
    ap.add_argument("--gen-batch", type=int, default=64, help="batch of batched generation")
    ap.add_argument("--nb-gen-n", type=int, default=200,
                    help="test prompts answered the notebook's way (one at a time, re-run)")
    ap.add_argument("--csv", help="src,tgt CSV (last 10%% = test set); default: generate")
    ap.add_argument("--n", type=int, default=20000, help="examples to generate without --csv")
    ap.add_argument("--seed", type=int, default=2, help="torch.manual_seed (the notebook's 2)")
    ap.add_argument("--blas", choices=["openblas-openmp", "system"], default="openblas-openmp",
                    help="openblas-openmp (default): force and verify it; system: leave as is")
    a = ap.parse_args()
    if (a.threads < 1 or a.steps < 1 or a.warmup < 0 or a.gen_n < 1 or a.gen_batch < 1
            or a.nb_gen_n < 1 or a.n < 20):
        ap.error("--threads, --steps, --gen-n, --gen-batch, --nb-gen-n must be >= 1, "
                 "--warmup >= 0, --n >= 20")
    return a


def peak_rss_mb():
    """VmHWM of this process image (reset by the re-exec, unlike ru_maxrss)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    return None


def generate_expressions(n, rnd):
    """seed 000's distribution as arith's task expr draws it: 1 in 10 two operands, else three
    with no parentheses, (a?b)?c or a?(b?c); operands 0..50; distinct prompts."""
    seen, rows = set(), []
    while len(rows) < n:
        v = [rnd.randint(0, 50) for _ in range(3)]
        o = [rnd.choice("+-*") for _ in range(2)]
        if rnd.randrange(10) == 0:
            src = f"{v[0]}{o[0]}{v[1]}"
        else:
            src = [f"{v[0]}{o[0]}{v[1]}{o[1]}{v[2]}", f"({v[0]}{o[0]}{v[1]}){o[1]}{v[2]}",
                   f"{v[0]}{o[0]}({v[1]}{o[1]}{v[2]})"][rnd.randrange(3)]
        if src in seen:
            continue
        seen.add(src)
        rows.append((src + "=", str(eval(src))))
    return rows


def read_csv(path):
    import csv
    rows = []
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r, None)
        if header != ["src", "tgt"]:
            sys.exit(f"seed000_torch: {path}: expected the header 'src,tgt', got {header}")
        for i, rec in enumerate(r, start=2):
            if len(rec) != 2:
                sys.exit(f"seed000_torch: {path}:{i}: expected 2 fields, got {len(rec)}")
            rows.append((rec[0], rec[1]))
    return rows


def main():
    args = parse_args()
    if args.blas == "openblas-openmp":
        reexec_with_openblas_openmp(args.threads, "seed000_torch")

    import json
    import math
    import random
    import statistics
    import time

    import torch

    cpu_before = cpu_snapshot()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    if args.blas == "openblas-openmp":
        blas, blas_detail = require_openblas_openmp("seed000_torch")
    else:
        blas, blas_detail = blas_report()

    # ---------------------------------------------------------------- data (arith's split)
    rows = read_csv(args.csv) if args.csv else generate_expressions(args.n, random.Random(1))
    n_test = int(len(rows) * 0.1 + 0.5)
    if n_test < 1 or n_test >= len(rows):
        sys.exit(f"seed000_torch: {len(rows)} rows are too few to split off a test set")
    train_rows, test_rows = rows[:-n_test], rows[-n_test:]
    if args.gen_n > len(test_rows) or args.nb_gen_n > len(test_rows):
        sys.exit(f"seed000_torch: --gen-n {args.gen_n} / --nb-gen-n {args.nb_gen_n} is more "
                 f"than the {len(test_rows)} test rows (give more data)")

    # ---------------------------------------------------------------- the notebook's pieces
    batch_size, embed_dim, hidden_dim, lr, grad_clip = 64, 256, 256, 0.001, 1

    char_to_id = {'<pad>': 0, '<eos>': 1}
    id_to_char = {0: '<pad>', 1: '<eos>'}
    for text in [s for s, _ in train_rows] + [t for _, t in train_rows]:
        for char in text:
            if char not in char_to_id:
                id_to_char[len(char_to_id)] = char
                char_to_id[char] = len(char_to_id)
    vocab_size = len(char_to_id)

    def encode_equation(equation, result):
        if not equation.endswith('='):
            equation += '='
        combined = list(equation) + list(result) + ['<eos>']
        ids = [char_to_id[c] for c in combined]
        return ids, len(ids)

    def collate_fn(batch):
        batch_x, batch_seq_len = zip(*batch)
        batch_seq_len = torch.tensor(batch_seq_len, dtype=torch.long)
        batch_x_padded = torch.nn.utils.rnn.pad_sequence(
            [torch.tensor(x, dtype=torch.long) for x in batch_x],
            batch_first=True, padding_value=char_to_id['<pad>'])
        return batch_x_padded, batch_seq_len

    class CharRNN(torch.nn.Module):
        def __init__(self, vocab_size, embed_dim, hidden_dim):
            super().__init__()
            self.embedding = torch.nn.Embedding(num_embeddings=vocab_size,
                                                embedding_dim=embed_dim,
                                                padding_idx=char_to_id['<pad>'])
            self.rnn_layer1 = torch.nn.LSTM(input_size=embed_dim, hidden_size=hidden_dim,
                                            batch_first=True)
            self.rnn_layer2 = torch.nn.LSTM(input_size=hidden_dim, hidden_size=hidden_dim,
                                            batch_first=True)
            self.linear = torch.nn.Sequential(
                torch.nn.Linear(in_features=hidden_dim, out_features=hidden_dim),
                torch.nn.ReLU(),
                torch.nn.Linear(in_features=hidden_dim, out_features=vocab_size))

        def forward(self, batch_x, batch_x_lens):
            return self.encoder(batch_x, batch_x_lens)

        def encoder(self, batch_x, batch_x_lens):
            batch_x = self.embedding(batch_x)
            batch_x = torch.nn.utils.rnn.pack_padded_sequence(batch_x, batch_x_lens,
                                                              batch_first=True,
                                                              enforce_sorted=False)
            batch_x, _ = self.rnn_layer1(batch_x)
            batch_x, _ = self.rnn_layer2(batch_x)
            batch_x, _ = torch.nn.utils.rnn.pad_packed_sequence(batch_x, batch_first=True)
            return self.linear(batch_x)

        def generator(self, start_char, max_len=200):
            """The notebook's generator, verbatim apart from also returning how many tokens it
            predicted (the first one, then one per re-run, <eos> included)."""
            self.eval()
            predicted = 0
            with torch.no_grad():
                char_list = [char_to_id.get(c, char_to_id['<pad>']) for c in start_char]
                device = next(self.parameters()).device
                input_seq = torch.tensor([char_list], dtype=torch.long).to(device)
                input_len = torch.tensor([len(char_list)], dtype=torch.long).to("cpu")
                outputs = self.encoder(input_seq, input_len)
                outputs = outputs[0, -1, :]
                next_char_id = torch.argmax(outputs, dim=-1).item()
                predicted += 1
                generated_ids = char_list.copy()
                generated_ids.append(next_char_id)
                for _ in range(max_len):
                    input_seq = torch.tensor([generated_ids], dtype=torch.long).to(device)
                    input_len = torch.tensor([len(generated_ids)], dtype=torch.long).to("cpu")
                    outputs = self.encoder(input_seq, input_len)
                    outputs = outputs[0, -1, :]
                    next_char_id = torch.argmax(outputs, dim=-1).item()
                    predicted += 1
                    # the benchmark times a fixed number of tokens on both sides, so that an
                    # untrained model's early <eos> does not make it look fast
                    if next_char_id == char_to_id['<eos>'] and not FIXED_TOKENS:
                        break
                    generated_ids.append(next_char_id)
                generated_chars = [id_to_char[id_] for id_ in generated_ids]
                return generated_chars, predicted

    model = CharRNN(vocab_size, embed_dim, hidden_dim)
    nparams = sum(p.numel() for p in model.parameters())
    criterion = torch.nn.CrossEntropyLoss(ignore_index=char_to_id['<pad>'])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    equal_token_id = char_to_id['=']

    def notebook_mask(batch_x, batch_seq_len, targets):
        """The notebook's loss mask, built the notebook's way (a Python loop over the rows)."""
        mask = torch.zeros_like(targets, dtype=torch.bool)
        for idx in range(batch_x.size(0)):
            eq_positions = (batch_x[idx] == equal_token_id).nonzero(as_tuple=False)
            if eq_positions.numel() == 0:
                continue
            eq_pos = eq_positions[0].item()
            start_pos, end_pos = eq_pos, batch_seq_len[idx] - 1
            if start_pos >= end_pos:
                continue
            mask[idx, start_pos:end_pos] = True
        return mask

    # ---------------------------------------------------------------- train
    encoded_train = [encode_equation(s, t) for s, t in train_rows]
    nsteps = args.warmup + args.steps
    batches = []
    for k in range(nsteps):
        rows_k = [encoded_train[(k * batch_size + i) % len(encoded_train)]
                  for i in range(batch_size)]
        batches.append(collate_fn(rows_k))

    model.train()
    times, mask_times, losses, widths, tokens = [], [], [], [], []
    for s, (batch_x, batch_seq_len) in enumerate(batches):
        t0 = time.perf_counter()
        mask = notebook_mask(batch_x, batch_seq_len, batch_x[:, 1:])
        t1 = time.perf_counter()
        optimizer.zero_grad()
        outputs = model(batch_x, batch_seq_len)
        outputs = outputs[:, :-1, :]
        targets = batch_x[:, 1:]
        vocab = outputs.shape[2]
        outputs_masked = outputs.contiguous().view(-1, vocab)[mask.view(-1)]
        targets_masked = targets.contiguous().view(-1)[mask.view(-1)]
        loss = criterion(outputs_masked, targets_masked)
        loss.backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), grad_clip)
        optimizer.step()
        losses.append(loss.item())
        t2 = time.perf_counter()
        if s >= args.warmup:
            times.append((t2 - t1) * 1000.0)
            mask_times.append((t1 - t0) * 1000.0)
            widths.append(batch_x.shape[1])
            tokens.append(int(batch_seq_len.sum()))

    def pct(xs, q):
        xs = sorted(xs)
        if len(xs) == 1:
            return xs[0]
        k = (len(xs) - 1) * q
        lo = math.floor(k)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)

    # ---------------------------------------------------------------- generate
    eos = char_to_id['<eos>']
    # arith's limit: the longest answer of the prompts answered, + <eos>, + 1
    max_new = max(len(t) for _, t in test_rows[:args.gen_n]) + 2

    def decode(ids):
        return "".join(id_to_char[i] if i > 1 else "?" for i in ids)

    # the notebook's way: one expression at a time, whole model re-run per token
    nb_prompts = test_rows[:args.nb_gen_n]
    model.generator(nb_prompts[0][0], max_len=max_new - 1)        # warm-up, untimed
    nb_tokens, nb_correct = 0, 0
    t0 = time.perf_counter()
    for src, tgt in nb_prompts:
        chars, predicted = model.generator(src, max_len=max_new - 1)
        nb_tokens += predicted
        answer = chars[len(src):]          # ended at <eos> iff every other token was kept
        nb_correct += len(answer) + 1 == predicted and "".join(answer) == tgt
    nb_seconds = time.perf_counter() - t0

    # batched: prompt once (packed), then one step per token with each layer's (h, c)
    def generate_batch(x, lens):
        m = model
        emb = m.embedding(x)
        packed = torch.nn.utils.rnn.pack_padded_sequence(emb, lens, batch_first=True,
                                                         enforce_sorted=False)
        o1, s1 = m.rnn_layer1(packed)
        _, s2 = m.rnn_layer2(o1)
        nxt = torch.argmax(m.linear(s2[0][0]), dim=-1)        # top layer's h at each last step
        out = [nxt]
        done = nxt == eos
        for _ in range(max_new - 1):
            if bool(done.all()) and not FIXED_TOKENS:
                out.append(torch.full_like(nxt, eos))
                continue
            e = m.embedding(nxt).unsqueeze(1)
            h1, s1 = m.rnn_layer1(e, s1)
            h2, s2 = m.rnn_layer2(h1, s2)
            cand = torch.argmax(m.linear(h2[:, 0]), dim=-1)
            nxt = cand if FIXED_TOKENS else torch.where(done, torch.full_like(cand, eos), cand)
            done = done | (nxt == eos)
            out.append(nxt)
        return torch.stack(out, 1)

    gen_rows = test_rows[:args.gen_n]
    gen_batches = []
    for i in range(0, len(gen_rows), args.gen_batch):
        part = gen_rows[i:i + args.gen_batch]
        ids = [[char_to_id.get(c, 0) for c in s] for s, _ in part]
        gen_batches.append(collate_fn([(x, len(x)) for x in ids]))
    model.eval()
    with torch.no_grad():
        generate_batch(*gen_batches[0])                              # warm-up, untimed
        results = []
        t0 = time.perf_counter()
        for x, lens in gen_batches:
            results.append(generate_batch(x, lens))
        gen_seconds = time.perf_counter() - t0
    gen_correct, gen_tokens, gen_steps = 0, 0, 0
    row = 0
    for out in results:
        most = 0
        for r in out.tolist():
            used = max_new if FIXED_TOKENS or eos not in r else r.index(eos) + 1
            gen_tokens += used
            most = max(most, used)
            gen_correct += eos in r and decode(r[:used - 1]) == gen_rows[row][1]
            row += 1
        gen_steps += most

    res = {
        "impl": "pytorch",
        "threads": args.threads,
        "vocab": vocab_size,
        "params": nparams,
        "train_rows": len(train_rows),
        "test_rows": len(test_rows),
        "data": args.csv or f"generated ({args.n})",
        "steps": args.steps,
        "warmup": args.warmup,
        "batch": batch_size,
        "train_ms_step_median": round(statistics.median(times), 3),
        "train_ms_step_p10": round(pct(times, 0.10), 3),
        "train_ms_step_p90": round(pct(times, 0.90), 3),
        "mask_ms_median": round(statistics.median(mask_times), 3),
        "train_ms_step_with_mask_median": round(
            statistics.median([a + b for a, b in zip(times, mask_times)]), 3),
        "batch_T_mean": round(statistics.mean(widths), 3),
        "batch_T_min": min(widths),
        "batch_T_max": max(widths),
        "batch_tokens_mean": round(statistics.mean(tokens), 1),
        "last_loss": round(losses[-1], 4),
        "gen_n": args.gen_n,
        "gen_batch": args.gen_batch,
        "gen_max_new": max_new,
        "gen_tokens_per_answer": round(gen_tokens / args.gen_n, 3),
        "gen_steps_per_batch": round(gen_steps / len(gen_batches), 3),
        "gen_correct": gen_correct,
        "gen_seconds": round(gen_seconds, 4),
        "answers_per_sec": round(args.gen_n / gen_seconds, 1),
        "nb_gen_n": args.nb_gen_n,
        "nb_gen_seconds": round(nb_seconds, 4),
        "nb_tokens_per_answer": round(nb_tokens / args.nb_gen_n, 3),
        "nb_gen_correct": nb_correct,
        "nb_answers_per_sec": round(args.nb_gen_n / nb_seconds, 1),
        "nb_gen_seconds_for_gen_n": round(nb_seconds * args.gen_n / args.nb_gen_n, 3),
        "peak_rss_mb": peak_rss_mb(),
        "torch_version": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "blas": blas,
        "blas_detail": blas_detail,
        # share of the machine's CPU time used by other processes while this ran; well above
        # 0 means other work competed for the cores (OpenMP barriers degrade badly then)
        "cpu_other_share": cpu_other_share(cpu_before),
        "ncpu": os.cpu_count(),
    }
    print(f"seed000 torch: {args.threads} threads, blas {blas}; train "
          f"{res['train_ms_step_median']} ms/step (p10 {res['train_ms_step_p10']}, p90 "
          f"{res['train_ms_step_p90']}, {args.steps} steps, + {res['mask_ms_median']} ms "
          f"notebook mask); batched generation {res['answers_per_sec']} answers/s; notebook "
          f"generation {res['nb_answers_per_sec']} answers/s", file=sys.stderr)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
