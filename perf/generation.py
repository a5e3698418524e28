"""Generation throughput on the default profile's real prompts: this engine vs ``model.generate``.

Workload: the items the ``default`` profile selects (params.yaml's ``seed``; ``--n-items``, by
default the default profile's former size, 6 / 40 / 8 items, :data:`WORKLOAD_ITEMS`, so that a run
takes ~30 min and compares with the figures in README "Run time"; ``--n-items profile`` takes
``profiles.default.n_items``) of GSM8K (8-shot chat, ~870 tokens, ~805 of them shared), MMLU-Redux (~150 tokens) and
HumanEval (~310 tokens), chat-templated as the pipeline does, with the profile's
``max_new_tokens``; greedy decoding and N = 4 samples (temperature 1). No stop strings for any
system (so all decode the same way); generated tokens are counted up to and including each
row's first EOS. Systems, run interleaved (rotated order per repeat), one torch thread each:

* ``engine``: :func:`goodbadgreedy.generation.engine.generate` (batch 32, prefix caching);
* ``hf_generate``: ``model.generate`` over all prompts in one batch (sdpa attention, left
  padding, ``num_return_sequences=N``);
* ``loop``: ``model.generate`` one prompt at a time (``num_return_sequences=N``).

Then ``ratio engine/hf_generate <benchmark>: X`` lines (tokens/s ratio, medians over repeats,
greedy and sampling workloads pooled: total tokens / total seconds), and the CPU's ceilings
measured in the same run: matmul GFLOP/s (a 512 x 576 x 1536 product), memory bandwidth (a
256 MiB copy), and what they give for a decode step (weight bytes / bandwidth per step).

Usage: ``python perf/generation.py [--benchmarks gsm8k,mmlu_redux,humaneval] [--reps 1]
[--items K] [--max-new-tokens T] [--threads 1]`` from the repository root after the
``normalize`` and ``prepare_model`` stages (``data/benchmarks/*.parquet``,
``models/smollm2-135m/hf``); ``--root`` points elsewhere.

Measured figures are in the engine's module docstring and the closing note of issue 16.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

BENCHMARKS = ("gsm8k", "mmlu_redux", "humaneval")

#: Items per benchmark of the default workload: the default profile's size until issue 16 (its
#: figures in README "Run time" were measured on it), selected as the pipeline selects them.
WORKLOAD_ITEMS = {"gsm8k": 6, "mmlu_redux": 40, "humaneval": 8}


def default_prompts(root: Path, tokenizer, benchmarks, items: int | None,
                    n_items: dict[str, int] | None = None) -> dict[str, tuple[list, int]]:
    """Per benchmark: (token ids of the default profile's prompts, the profile's max_new_tokens).

    ``n_items``: items selected per benchmark (the pipeline's ``select_items`` with params.yaml's
    seed); None: :data:`WORKLOAD_ITEMS`. ``items``: then keep only the first ``items`` of them.
    """
    import yaml

    from goodbadgreedy import benchmarks as registry
    from goodbadgreedy.data import select_items
    from goodbadgreedy.generation.backend_base import templated
    from goodbadgreedy.tables import read_table

    params = yaml.safe_load((root / "params.yaml").read_text())
    prof = params["profiles"]["default"]
    out = {}
    for b in benchmarks:
        df = select_items(read_table(root / "data" / "benchmarks" / f"{b}.parquet", "benchmark"),
                          (n_items or WORKLOAD_ITEMS)[b], params["seed"])
        opts = dict(params["benchmark_options"].get(b) or {})
        ids = [templated(tokenizer, registry.get(b).build_prompt(r, opts)).payload for r in df.to_dicts()]
        out[b] = (ids[:items] if items else ids, prof["max_new_tokens"][b])
    return out


def count_until_eos(ids: list[int], eos: set[int]) -> int:
    """Tokens up to and including the first EOS (all of them when there is none)."""
    for i, t in enumerate(ids):
        if t in eos:
            return i + 1
    return len(ids)


def run_engine(model, tok, prompts, n, T, sample) -> int:
    """Generated tokens of the engine (its samples stop at EOS)."""
    from goodbadgreedy.generation.engine import SamplingParams, generate

    params = SamplingParams(do_sample=sample, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=T)
    seeds = [[1000 * i + j if sample else None for j in range(n)] for i in range(len(prompts))]
    out = generate(model, tok, prompts, seeds, params, batch_size=32, progress=False)
    return sum(s.n_tokens for row in out for s in row)


def _hf(model, tok, batch, n, T, sample, eos) -> int:
    width = max(len(p) for p in batch)
    ids = torch.full((len(batch), width), tok.pad_token_id, dtype=torch.long)
    attn = torch.zeros_like(ids)
    for i, p in enumerate(batch):
        ids[i, width - len(p):] = torch.tensor(p)
        attn[i, width - len(p):] = 1
    kw = dict(do_sample=True, temperature=1.0, top_p=1.0, top_k=0) if sample else dict(do_sample=False)
    out = model.generate(input_ids=ids, attention_mask=attn, max_new_tokens=T, num_return_sequences=n,
                         pad_token_id=tok.pad_token_id, **kw)
    return sum(count_until_eos(row[width:].tolist(), eos) for row in out)


def run_hf_generate(model, tok, prompts, n, T, sample, eos) -> int:
    """``model.generate`` on all prompts at once (left padding)."""
    torch.manual_seed(0)
    return _hf(model, tok, prompts, n, T, sample, eos)


def run_loop(model, tok, prompts, n, T, sample, eos) -> int:
    """``model.generate`` one prompt at a time."""
    torch.manual_seed(0)
    return sum(_hf(model, tok, [p], n, T, sample, eos) for p in prompts)


def ceilings(model) -> dict[str, float]:
    """Matmul GFLOP/s and copy bandwidth (GB/s) of this CPU now, and the weight bytes read per step."""
    a, b = torch.randn(512, 576), torch.randn(576, 1536)
    torch.mm(a, b)
    t, reps = time.perf_counter(), 20
    for _ in range(reps):
        torch.mm(a, b)
    gflops = 2 * 512 * 576 * 1536 * reps / (time.perf_counter() - t) / 1e9
    src = torch.ones(64 * 2**20)
    dst = torch.empty_like(src)
    dst.copy_(src)
    t = time.perf_counter()
    for _ in range(5):
        dst.copy_(src)
    gbs = 2 * src.numel() * 4 * 5 / (time.perf_counter() - t) / 1e9  # read + write
    weights = sum(m.weight.numel() * m.weight.element_size() for m in model.modules()
                  if isinstance(m, torch.nn.Linear))
    return {"gflops": gflops, "gbs": gbs, "weight_bytes": weights,
            "n_params": sum(p.numel() for p in model.parameters())}


def main() -> None:
    """Run the interleaved comparison and print tokens/s, ratios and ceilings."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path("."))
    ap.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    ap.add_argument("--items", type=int, default=None, help="first K items of each benchmark (default: all)")
    ap.add_argument("--n-items", default="workload",
                    help="'workload' (6 / 40 / 8 items, the README's figures) or 'profile' (profiles.default.n_items)")
    ap.add_argument("--max-new-tokens", type=int, default=None, help="override the profile's budget")
    ap.add_argument("--n", type=int, default=4, help="samples per prompt in the sampling workload")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--systems", default="engine,hf_generate,loop")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from goodbadgreedy.generation.model import load_model

    folder = str(args.root / "models" / "smollm2-135m" / "hf")
    tok, model = load_model(folder)
    _, plain = load_model(folder, batch_invariant=False)
    plain.set_attn_implementation("sdpa")
    tok.padding_side = "left"
    eos = {tok.eos_token_id} | ({plain.generation_config.eos_token_id}
                                if isinstance(plain.generation_config.eos_token_id, int) else set())
    n_items = None
    if args.n_items == "profile":
        import yaml

        n_items = yaml.safe_load((args.root / "params.yaml").read_text())["profiles"]["default"]["n_items"]
    elif args.n_items != "workload":
        ap.error("--n-items: 'workload' or 'profile'")
    work = default_prompts(args.root, tok, args.benchmarks.split(","), args.items, n_items)
    systems = args.systems.split(",")
    runners = {
        "engine": lambda p, n, T, s: run_engine(model, tok, p, n, T, s),
        "hf_generate": lambda p, n, T, s: run_hf_generate(plain, tok, p, n, T, s, eos),
        "loop": lambda p, n, T, s: run_loop(plain, tok, p, n, T, s, eos),
    }
    import os

    print(f"threads {args.threads}; load average {os.getloadavg()}; prompts: "
          + ", ".join(f"{b} {len(p)} x ~{sum(map(len, p)) // len(p)} tok, T={args.max_new_tokens or t}"
                      for b, (p, t) in work.items()), flush=True)
    with torch.inference_mode():  # warm-up: first calls pay one-time costs (allocators, MKL init)
        first = next(iter(work.values()))[0][:1]
        for sysname in systems:
            runners[sysname](first, 2, 2, True)
    totals: dict[tuple[str, str], list[tuple[int, float]]] = {}
    with torch.inference_mode():
        for b, (prompts, T) in work.items():
            T = args.max_new_tokens or T
            for rep in range(args.reps):
                for mode, n, sample in (("greedy", 1, False), (f"sample N={args.n}", args.n, True)):
                    order = systems[rep % len(systems):] + systems[: rep % len(systems)]
                    for sysname in order:
                        t = time.perf_counter()
                        ntok = runners[sysname](prompts, n, T, sample)
                        dt = time.perf_counter() - t
                        totals.setdefault((b, sysname), []).append((ntok, dt))
                        print(f"{b:10s} {mode:10s} {sysname:11s} rep {rep}: {ntok:5d} tokens {dt:7.1f} s "
                              f"{ntok / dt:6.1f} tok/s", flush=True)
    rate = {}
    for b in work:
        for sysname in systems:
            runs = totals[(b, sysname)]
            # per repeat: (greedy + sampling tokens) / (greedy + sampling seconds); median over repeats
            per_rep = [sum(r[0] for r in runs[i:i + 2]) / sum(r[1] for r in runs[i:i + 2])
                       for i in range(0, len(runs), 2)]
            rate[(b, sysname)] = statistics.median(per_rep)
            print(f"{b:10s} {sysname:11s} {rate[(b, sysname)]:6.1f} tok/s (median of {len(per_rep)})")
    for b in work:
        if "engine" in systems and "hf_generate" in systems:
            print(f"ratio engine/hf_generate {b}: {rate[(b, 'engine')] / rate[(b, 'hf_generate')]:.2f}")
        if "engine" in systems and "loop" in systems:
            print(f"ratio engine/loop {b}: {rate[(b, 'engine')] / rate[(b, 'loop')]:.2f}")
    c = ceilings(model)
    step_s = c["weight_bytes"] / (c["gbs"] * 1e9)
    print(f"ceilings now: matmul {c['gflops']:.1f} GFLOP/s (1 thread); copy bandwidth {c['gbs']:.1f} GB/s; "
          f"a decode step reads {c['weight_bytes'] / 1e6:.0f} MB of weights = {1000 * step_s:.0f} ms "
          f"-> {1 / step_s:.1f} tok/s per row in a step (x rows per step, memory-bound); compute-bound "
          f"{c['gflops'] * 1e9 / (2 * c['n_params']):.0f} tok/s (2 x {c['n_params'] / 1e6:.0f}M FLOP per token)")
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
