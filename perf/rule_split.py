"""Per-rule split of a Snakemake run's wall time, from its log (``.snakemake/log/*.snakemake.log``).

For each rule: the number of jobs, the sum of their durations (job start to "Finished jobid"
line, whole seconds as Snakemake logs them) and their share of all job-seconds; then the run's
wall time (first to last timestamp). With ``--cores 2`` two jobs can overlap, so job-seconds may
exceed the wall time.

Usage: ``python perf/rule_split.py [LOG]`` (default: the newest log under ``.snakemake/log``).
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
DONE = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def split(text: str) -> tuple[dict[str, list[float]], float]:
    """Per rule, the durations (s) of its jobs; and the wall time (s) of the log.

    Raises:
        ValueError: the log has no timestamp, or a job finished without a recorded start.
    """
    now = first = None
    pending_rule = None
    started: dict[int, tuple[str, datetime]] = {}
    per_rule: dict[str, list[float]] = {}
    for line in text.splitlines():
        if m := STAMP.match(line):
            now = datetime.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y")
            first = first or now
        elif m := START.match(line):
            pending_rule = m.group(1)
        elif (m := JOBID.match(line)) and pending_rule is not None:
            started[int(m.group(1))] = (pending_rule, now)
            pending_rule = None
        elif m := DONE.match(line):
            jobid = int(m.group(1))
            if jobid not in started:
                raise ValueError(f"job {jobid} ({m.group(2)}) finished without a start in the log")
            rule, t0 = started.pop(jobid)
            per_rule.setdefault(rule, []).append((now - t0).total_seconds())
    if first is None:
        raise ValueError("no timestamp in the log")
    return per_rule, (now - first).total_seconds()


def main() -> None:
    """Print the split of the given (or newest) Snakemake log."""
    if len(sys.argv) > 1:
        log = Path(sys.argv[1])
    else:
        logs = sorted(Path(".snakemake/log").glob("*.snakemake.log"))
        if not logs:
            sys.exit("no Snakemake log under .snakemake/log")
        log = logs[-1]
    per_rule, wall = split(log.read_text())
    total = sum(sum(v) for v in per_rule.values()) or 1.0
    print(f"{log}: wall {wall / 60:.1f} min ({wall:.0f} s)")
    print(f"{'rule':16s} {'jobs':>4s} {'job-s':>7s} {'share':>6s}")
    for rule, ds in sorted(per_rule.items(), key=lambda kv: -sum(kv[1])):
        print(f"{rule:16s} {len(ds):4d} {sum(ds):7.0f} {100 * sum(ds) / total:5.1f}%")


if __name__ == "__main__":
    main()
