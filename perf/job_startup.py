"""Per-job cost of the light jobs (``select_items``, ``check``): median start-up and wall time.

Each repetition re-runs, through Snakemake as the pipeline does (``snakemake --cores 1
--allowed-rules RULE -f OUTPUT``), one ``select_items`` job (GSM8K) and one ``check`` job per
listed benchmark (the ``sample`` config) in every given work folder, interleaved (folder A's
jobs, then B's, then A's again...), so that the machine's load falls alike on each. From each
job's log it reads the line :func:`goodbadgreedy.stage_log.job_cost` writes (start-up: process
start to ``main``; ``main``; the time since the process start when ``main`` returned) and the
great_expectations import line of :mod:`goodbadgreedy.validation`; around it, the wall time of
the whole ``snakemake`` command (Snakemake's start and DAG included: what a user waits for one
job). It prints the medians per folder and job, and the load average before and after.

A work folder is a finished ``smoke`` run (``make smoke``, or a copy of one, e.g. the checkout
before and after a change: copy the folder with ``.snakemake/``, then the new ``src/`` and
``scripts/`` into it); its ``src/`` is the code that runs. The jobs rewrite their outputs with
the same bytes.

Usage::

    PYTHONPATH=src .venv/bin/python perf/job_startup.py DIR [DIR ...] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

COST = re.compile(r"job cost: start-up ([\d.?]+)(?: s)?, main ([\d.]+) s, ([\d.?]+)(?: s)? since process start; "
                  r"imported: (.*)$", re.M)
GX = re.compile(r"great_expectations \S+ imported and its context built in ([\d.]+) s")


def jobs(profile: str, model: str, benchmarks: list[str]) -> list[tuple[str, ...]]:
    """``(label, rule, output)`` of the measured jobs (outputs relative to the work folder)."""
    out = [("select_items/gsm8k", "select_items", f"results/{profile}/items/gsm8k.parquet")]
    out += [(f"check/{b}", "check", f"results/{profile}/checks/{model}/{b}/sample.parquet") for b in benchmarks]
    return out


def log_of(rule: str, output: str, profile: str) -> str:
    """The job's log file (rules/select_items.smk, rules/check.smk)."""
    parts = Path(output).with_suffix("").parts
    return str(Path("logs", profile, rule, *parts[3:])) + ".log"  # results/<profile>/<kind>/...


def run_job(folder: Path, rule: str, output: str, profile: str, log: str | None = None) -> dict:
    """Run one job through Snakemake in ``folder``; its times (seconds) and imported packages.

    Raises:
        RuntimeError: Snakemake failed, or the job's log has no cost line (the message has the tail).
    """
    env = {**os.environ, "PYTHONPATH": str(folder / "src"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    t0 = time.perf_counter()
    proc = subprocess.run(["snakemake", "--cores", "1", "--allowed-rules", rule, "-f", output], cwd=folder, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{folder}: snakemake -f {output} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    log = log or log_of(rule, output, profile)
    text = (folder / log).read_text()
    found = COST.findall(text)
    if not found:
        raise RuntimeError(f"{folder}: no 'job cost' line in {log}:\n{text[-2000:]}")
    startup, main, age, imported = found[-1]
    gx = GX.findall(text)
    return {"startup": float(startup), "main": float(main), "job": float(age), "snakemake": wall,
            "gx": float(gx[-1]) if gx else 0.0, "imported": imported}


def main(argv: list[str] | None = None) -> int:
    """Measure, print the medians; exit status 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--benchmarks", default="gsm8k,humaneval", help="check jobs: comma-separated benchmarks")
    ap.add_argument("--extra", action="append", default=[], metavar="RULE:OUTPUT[:LOG]",
                    help="another job to time (repeatable), e.g. score:results/smoke/scores/m/b/sample/x.parquet; "
                         "LOG: its log file where it is not logs/<profile>/<rule>/<OUTPUT's path after the kind>.log")
    ap.add_argument("--only-extra", action="store_true", help="time only the --extra jobs")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    todo = [] if args.only_extra else jobs(args.profile, args.model, args.benchmarks.split(","))
    for extra in args.extra:
        rule, output, *log = extra.split(":")
        todo.append((f"{rule}/{Path(output).stem}", rule, output, *log))
    load_before = os.getloadavg()
    got: dict[tuple[str, str], list[dict]] = {}
    for _ in range(args.repeat):
        for folder in args.folders:
            for label, rule, output, *log in todo:
                got.setdefault((str(folder), label), []).append(
                    run_job(folder.resolve(), rule, output, args.profile, *log))
    load_after = os.getloadavg()
    rows = []
    for (folder, label), runs in got.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("startup", "gx", "main", "job", "snakemake")}
        rows.append({"folder": folder, "name": label, "n": len(runs), **med,
                     "imported": sorted({r["imported"] for r in runs})})
    if args.json:
        print(json.dumps({"load_before": load_before, "load_after": load_after, "rows": rows}, indent=1))
        return 0
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; {os.cpu_count()} CPUs; "
          f"medians of {args.repeat}, seconds")
    print(f"{'folder':32s} {'job':20s} {'start-up':>8s} {'gx':>6s} {'main':>6s} {'job':>6s} {'snakemake':>9s}  "
          "imported")
    for r in rows:
        print(f"{Path(r['folder']).name[:32]:32s} {r['name']:20s} {r['startup']:8.2f} {r['gx']:6.2f} {r['main']:6.2f} "
              f"{r['job']:6.2f} {r['snakemake']:9.2f}  {' | '.join(r['imported'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
