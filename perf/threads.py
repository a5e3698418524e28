"""Torch threads per generate job: 1 vs 2 threads, idle and with the other core busy.

Workload: the engine (:func:`goodbadgreedy.generation.engine.generate`) on the default profile's
first GSM8K prompts (8-shot chat), N = 4 samples at temperature 1, ``--max-new-tokens`` each;
each measurement in a fresh subprocess (torch's thread pool is per process) with
``torch.set_num_threads(t)``. Conditions, interleaved per repeat (rotated order):

* ``1 thread`` / ``2 threads``: the job alone;
* ``1 thread, busy`` / ``2 threads, busy``: while another process spins on one core (what a
  co-scheduled Snakemake job or a user's editor does to a 2-core machine);
* ``2 jobs x 1 thread``: two 1-thread jobs at once (what ``threads: 1`` lets Snakemake do with
  ``--cores 2``); tokens/s is the pair's total.

Prints tokens/s per condition (median over repeats) and the ratios against ``1 thread`` measured
in the same run. Usage: ``python perf/threads.py [--items 2] [--max-new-tokens 48] [--reps 3]``
from the repository root after the ``normalize`` and ``prepare_model`` stages.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time, torch
sys.path.insert(0, {perf!r})
torch.set_num_threads({threads})
from pathlib import Path
from generation import default_prompts
from goodbadgreedy.generation.model import load_model
from goodbadgreedy.generation.engine import SamplingParams, generate
tok, model = load_model(str(Path({root!r}) / "models" / "smollm2-135m" / "hf"))
prompts = default_prompts(Path({root!r}), tok, ["gsm8k"], {items})["gsm8k"][0]
params = SamplingParams(do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens={T})
seeds = [[1000 * i + j for j in range(4)] for i in range(len(prompts))]
generate(model, tok, prompts[:1], [[1]], SamplingParams(do_sample=True, max_new_tokens=2), progress=False)
t = time.perf_counter()
out = generate(model, tok, prompts, seeds, params, progress=False)
print(json.dumps({{"tokens": sum(s.n_tokens for r in out for s in r), "seconds": time.perf_counter() - t}}))
"""


def child(root: Path, threads: int, items: int, T: int) -> subprocess.Popen:
    """Start one measurement subprocess (stdout: one JSON line)."""
    code = CHILD.format(perf=str(Path(__file__).parent), threads=threads, root=str(root), items=items, T=T)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(root / "src"))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)


def result(p: subprocess.Popen) -> dict:
    """The subprocess's JSON result (raises if it failed)."""
    out, _ = p.communicate()
    if p.returncode:
        raise RuntimeError(f"measurement failed (exit {p.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """Run the interleaved conditions and print tokens/s and ratios."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path(".").resolve())
    ap.add_argument("--items", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    conds = ["1 thread", "2 threads", "1 thread, busy", "2 threads, busy", "2 jobs x 1 thread"]
    rates: dict[str, list[float]] = {c: [] for c in conds}
    print(f"cores {os.cpu_count()}; load average at start {os.getloadavg()}", flush=True)
    for rep in range(args.reps):
        for c in conds[rep % len(conds):] + conds[: rep % len(conds)]:
            spinner = None
            if "busy" in c:
                spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                if c.startswith("2 jobs"):
                    ps = [child(args.root, 1, args.items, args.max_new_tokens) for _ in range(2)]
                    # the pair's throughput: each job's own rate over its generation (start-up excluded)
                    rate = sum(r["tokens"] / r["seconds"] for r in map(result, ps))
                else:
                    r = result(child(args.root, int(c[0]), args.items, args.max_new_tokens))
                    rate = r["tokens"] / r["seconds"]
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()
            rates[c].append(rate)
            print(f"rep {rep} {c:18s} {rate:6.1f} tok/s  (load {os.getloadavg()[0]:.2f})", flush=True)
    base = statistics.median(rates["1 thread"])
    for c in conds:
        m = statistics.median(rates[c])
        print(f"{c:18s} {m:6.1f} tok/s (median of {len(rates[c])})  ratio to 1 thread: {m / base:.2f}")
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
