"""GPU check: greedy outputs of the ``vllm`` backend vs the ``hf`` backend (device cuda).

Runs the greedy generations of a profile (default ``smoke``: 2 GSM8K, 3 MMLU-Redux and 2
HumanEval items, the profile's ``max_new_tokens``) for one model with both backends, on the same
items (the pipeline's seeded subsets), weights (the prepared folder) and dtype, each backend in its
own process (so each gets the whole GPU), and compares them item by item.

It prints one line per item and the agreement, and exits

* 0 when at least ``--min-agreement`` of the items have identical responses, and every identical
  response has the same token count and finish reason;
* 1 when agreement is below the threshold;
* 2 when the two backends disagree on the prompts they were given (a rendering bug, not numerics)
  or, for identical responses, on token counts / finish reasons (EOS or stop accounting differs,
  which would make Table 1's length columns backend dependent).

Why the thresholds (``--min-agreement``; default 0.8 for float32, 0.5 for bfloat16/float16):
a bug in the mapping (chat template, special tokens, greedy flag, stop strings, max_tokens)
changes every or nearly every response, so agreement collapses towards 0 and any threshold well
above 0 catches it. Two correct implementations differ only in floating-point rounding (GEMM and
attention kernels, fused normalisation); a greedy token flips only where the two best logits are
closer than that rounding: rare in float32 (relative error ~1e-6), so at most about one item in
the smoke profile's 7 may diverge (0.8 -> 6 of 7 must agree); common in half precision (~1e-2),
where a divergence anywhere in up to 24 tokens ends exact agreement for that item.

Usage (needs CUDA and vLLM: ``perf/gpu_check.sh`` checks both):
``python perf/gpu_check.py [--profile smoke] [--model smollm2-135m] [--dtype float32]
[--min-agreement 0.8] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "data" / "raw"


def _greedy_config(cfg) -> tuple[str, dict]:
    for name, dec in cfg["decoding"].items():
        if not dec.get("do_sample"):
            return name, dec
    raise SystemExit("gpu_check: params.yaml has no greedy decoding config")


def run_one(args) -> None:
    """Child mode: generate the greedy tables of one backend and write them to ``args.out``."""
    import polars as pl

    from goodbadgreedy.data import download, select_items
    from goodbadgreedy.generation.backends import build_backend
    from goodbadgreedy.generation.model import read_manifest
    from goodbadgreedy.generation.run import generate_table
    from goodbadgreedy.params_file import load_params
    from goodbadgreedy.plan import plan

    cfg = load_params(REPO / "params.yaml", overrides={"profile": args.profile})
    prof = cfg["profiles"][args.profile]
    config_name, decoding = _greedy_config(cfg)
    manifest = read_manifest(args.manifest)
    if args.only == "hf":
        runtime = {"backend": "hf", "dtype": args.dtype, "device": args.hf_device}
    else:
        runtime = {"backend": "vllm", "dtype": args.dtype,
                   "vllm": {"gpu_memory_utilization": args.gpu_memory_utilization, "tensor_parallel_size": 1}}
    backend = build_backend(runtime, manifest, batch_size=cfg["generation"]["batch_size"])
    tables = []
    for bench in plan(cfg).benchmarks:
        options = cfg["benchmark_options"].get(bench, {})
        items = select_items(download(bench, RAW, RAW / "SHA256SUMS", options), prof["n_items"][bench], cfg["seed"])
        tables.append(generate_table(
            items, benchmark=bench, options=options, model_name=args.model, backend=backend,
            config_name=config_name, decoding=decoding, n_samples=1,
            max_new_tokens=prof["max_new_tokens"][bench], seed=cfg["seed"],
            cache_dir=Path(args.work) / "cache" / args.only, progress=False,
        ))
    pl.concat(tables).write_parquet(args.out)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def compare(hf, vl, min_agreement: float) -> tuple[int, dict]:
    """Compare two greedy tables; return (exit code, JSON-able report)."""
    keys = ["benchmark", "item_id"]
    joined = hf.join(vl, on=keys, how="full", suffix="_vllm", coalesce=True).sort(keys)
    rows, n_same, bad_prompts, bad_counts = [], 0, [], []
    for r in joined.iter_rows(named=True):
        same = r["response"] is not None and r["response"] == r["response_vllm"]
        n_same += same
        if r["prompt"] != r["prompt_vllm"]:
            bad_prompts.append(f"{r['benchmark']}/{r['item_id']}")
        if same and (r["response_tokens"], r["finish_reason"]) != (r["response_tokens_vllm"], r["finish_reason_vllm"]):
            bad_counts.append(f"{r['benchmark']}/{r['item_id']}")
        prefix = _common_prefix(r["response"] or "", r["response_vllm"] or "")
        rows.append(
            {
                "benchmark": r["benchmark"],
                "item_id": r["item_id"],
                "same": same,
                "common_prefix_chars": prefix,
                "hf": [r["response_tokens"], r["finish_reason"]],
                "vllm": [r["response_tokens_vllm"], r["finish_reason_vllm"]],
            }
        )
        print(f"{'same' if same else 'DIFF'}  {r['benchmark']:<11} {r['item_id']:<28} "
              f"hf {r['response_tokens']!s:>4} {r['finish_reason']!s:<6}  vllm {r['response_tokens_vllm']!s:>4} "
              f"{r['finish_reason_vllm']!s:<6}  common prefix {prefix} chars")
        if not same:
            print(f"      hf:   {r['response']!r}\n      vllm: {r['response_vllm']!r}")
    total = joined.height
    agreement = n_same / total if total else 0.0
    need = math.ceil(min_agreement * total)
    print(f"\ngreedy agreement: {n_same}/{total} items identical ({agreement:.0%}); required {need} "
          f"(--min-agreement {min_agreement})")
    code = 0
    if bad_prompts:
        print(f"FAIL: the backends were given different prompts for {bad_prompts} (a rendering bug)")
        code = 2
    if bad_counts:
        print(f"FAIL: identical responses with different token counts or finish reasons: {bad_counts}")
        code = 2
    if code == 0 and n_same < need:
        print("FAIL: agreement below the threshold")
        code = 1
    report = {"agreement": agreement, "identical": n_same, "items": total, "required": need,
              "min_agreement": min_agreement, "prompt_mismatches": bad_prompts, "count_mismatches": bad_counts,
              "rows": rows, "exit_code": code}
    return code, report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--model", default="smollm2-135m", help="a models entry of params.yaml (source packaged or hf)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--min-agreement", type=float, default=None,
                    help="share of items whose greedy responses must be identical (default 0.8 fp32, 0.5 half)")
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.5)
    ap.add_argument("--hf-device", default="cuda", help="torch device of the hf backend")
    ap.add_argument("--json", default=None, help="also write the report as JSON here")
    ap.add_argument("--work", default=None, help="working folder (default: a temporary one)")
    # child mode (internal)
    ap.add_argument("--only", choices=["hf", "vllm"], help=argparse.SUPPRESS)
    ap.add_argument("--manifest", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.only:
        run_one(args)
        return 0

    import polars as pl

    from goodbadgreedy.generation.model import prepare_model
    from goodbadgreedy.params_file import load_params

    cfg = load_params(REPO / "params.yaml", overrides={"profile": args.profile})
    if args.model not in cfg["models"]:
        raise SystemExit(f"gpu_check: --model {args.model!r} is not in params.yaml models {sorted(cfg['models'])}")
    spec = dict(cfg["models"][args.model])
    if spec.get("backend") == "openai" or "source" not in spec:
        raise SystemExit(f"gpu_check: model {args.model!r} has no local weights (needs source packaged or hf)")
    spec["backend"] = "hf"
    min_agreement = args.min_agreement if args.min_agreement is not None else (0.8 if args.dtype == "float32" else 0.5)
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as tmp:
        work = Path(args.work or tmp)
        prepare_model(args.model, spec, work / "model")
        outs = {}
        for backend in ("hf", "vllm"):
            outs[backend] = work / f"{backend}.parquet"
            print(f"gpu_check: generating with {backend} ({args.dtype}, profile {args.profile}) ...", flush=True)
            subprocess.run(
                [sys.executable, __file__, "--only", backend, "--manifest", str(work / "model" / "manifest.json"),
                 "--out", str(outs[backend]), "--work", str(work), "--profile", args.profile, "--model", args.model,
                 "--dtype", args.dtype, "--gpu-memory-utilization", str(args.gpu_memory_utilization),
                 "--hf-device", args.hf_device],
                check=True, env=dict(os.environ, TOKENIZERS_PARALLELISM="false"),
            )
        code, report = compare(pl.read_parquet(outs["hf"]), pl.read_parquet(outs["vllm"]), min_agreement)
    report.update(profile=args.profile, model=args.model, dtype=args.dtype)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
