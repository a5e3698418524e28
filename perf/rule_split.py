"""Per-rule split of a Snakemake run's wall time, from its log (``.snakemake/log/*.snakemake.log``).

For each rule: the number of jobs, the sum of their durations (job start to "Finished jobid"
line, whole seconds as Snakemake logs them) and their share of all job-seconds; then the run's
wall time (first to last timestamp). With ``--cores 2`` two jobs can overlap, so job-seconds may
exceed the wall time.

Usage: ``python perf/rule_split.py [LOG] [--jobs generate,score]`` (default: the newest log under
``.snakemake/log``); ``--jobs`` also lists each job of those rules with its wildcards and duration.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")
DONE = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def split(text: str) -> tuple[dict[str, list[tuple[str, float]]], float]:
    """Per rule, its jobs' (wildcards, duration in s); and the wall time (s) of the log.

    Raises:
        ValueError: the log has no timestamp, or a job finished without a recorded start.
    """
    now = first = None
    pending_rule, last = None, None
    started: dict[int, tuple[str, datetime, str]] = {}
    per_rule: dict[str, list[tuple[str, float]]] = {}
    for line in text.splitlines():
        if m := STAMP.match(line):
            now = datetime.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y")
            first = first or now
        elif m := START.match(line):
            pending_rule, last = m.group(1), None
        elif (m := JOBID.match(line)) and pending_rule is not None:
            last = int(m.group(1))
            started[last] = (pending_rule, now, "")
        elif (m := WILDCARDS.match(line)) and last in started:  # listed after the job's id
            started[last] = (*started[last][:2], m.group(1))
        elif m := DONE.match(line):
            jobid = int(m.group(1))
            if jobid not in started:
                raise ValueError(f"job {jobid} ({m.group(2)}) finished without a start in the log")
            rule, t0, wc = started.pop(jobid)
            per_rule.setdefault(rule, []).append((wc, (now - t0).total_seconds()))
    if first is None:
        raise ValueError("no timestamp in the log")
    return per_rule, (now - first).total_seconds()


def main() -> None:
    """Print the split of the given (or newest) Snakemake log."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", nargs="?", type=Path)
    ap.add_argument("--jobs", default="", help="comma-separated rules whose jobs are listed one by one")
    args = ap.parse_args()
    if args.log is not None:
        log = args.log
    else:
        logs = sorted(Path(".snakemake/log").glob("*.snakemake.log"))
        if not logs:
            sys.exit("no Snakemake log under .snakemake/log")
        log = logs[-1]
    per_rule, wall = split(log.read_text())
    total = sum(d for v in per_rule.values() for _, d in v) or 1.0
    print(f"{log}: wall {wall / 60:.1f} min ({wall:.0f} s)")
    print(f"{'rule':16s} {'jobs':>4s} {'job-s':>7s} {'share':>6s}")
    for rule, jobs in sorted(per_rule.items(), key=lambda kv: -sum(d for _, d in kv[1])):
        secs = sum(d for _, d in jobs)
        print(f"{rule:16s} {len(jobs):4d} {secs:7.0f} {100 * secs / total:5.1f}%")
    for rule in filter(None, args.jobs.split(",")):
        for wc, d in per_rule.get(rule, []):
            print(f"  {rule} {wc}: {d:.0f} s")


if __name__ == "__main__":
    main()
