"""Time a no-op ``snakemake -n`` on the full matrix (7 benchmarks x 3 models x 5 configs).

Builds a copy of the workflow in a temporary folder with a params overlay for the matrix, marks
every output up to date (``snakemake --touch``), then times ``snakemake -n`` (which must find
nothing to do) against two baselines measured in the same run: a trivial one-job Snakefile (the
cost of starting Snakemake itself) and the smoke matrix. Target: under 3 s for the full matrix.

* benchmarks: every registered benchmark the params schema accepts; when there are fewer than 7
  (the judge benchmarks not landed yet) the matrix is topped up with more models so that it
  still has 7 x 3 = 21 (model, benchmark) pairs, and the output says so;
* models: hf entries pointing at the packaged model under different keys;
* configs: greedy and sample plus a temperature sweep {0, 0.25, 0.5, 1.0, 1.5} (0 is the
  greedy config, 1.0 the sample config): 5 configs.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/dryrun.py [--repeat 3] [--json] [--profile-out FILE]

``--profile-out`` also runs one dry run under cProfile and writes the top functions there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = str(BIN / "snakemake")
TARGET_S = 3.0
N_BENCHMARKS, N_MODELS = 7, 3
SWEEP = [0, 0.25, 0.5, 1.0, 1.5]


def copy_workflow(dest: Path) -> None:
    """The tracked and untracked-not-ignored files of the checkout, less caches and results."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "-co", "--exclude-standard"],
                            capture_output=True, text=True, check=True).stdout.split("\0")
    skip = ("cache/", "results/", "models/", "logs/", "dvc.lock", ".dvc/", "tests/", "benchmarks/")
    for rel in filter(None, listed):
        src = ROOT / rel
        if rel.startswith(skip) or not src.is_file() or src.is_symlink():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)


def matrix_overlay(params: dict) -> tuple[dict, str]:
    """The params overlay of the full matrix, and a note on how it was topped up."""
    from goodbadgreedy import benchmarks
    from goodbadgreedy.config import load_schema

    allowed = load_schema()["properties"]["benchmarks"]["items"].get("enum")
    benches = [b for b in benchmarks.names() if allowed is None or b in allowed]
    n_models = N_MODELS
    note = f"{len(benches)} benchmarks registered"
    if len(benches) < N_BENCHMARKS:
        n_models = math.ceil(N_BENCHMARKS * N_MODELS / len(benches))
        note += (f" (< {N_BENCHMARKS}: judge benchmarks not landed); topped up with {n_models} models "
                 f"instead of {N_MODELS}, {len(benches) * n_models} (model, benchmark) pairs instead of "
                 f"{N_BENCHMARKS * N_MODELS}")
    base = next(iter(params["models"].values()))
    models = {f"m{i}": dict(base) for i in range(n_models)}
    prof = params["profiles"]["default"]
    overlay = {
        "benchmarks": benches,
        "models": models,
        "sweeps": {"temperature": {"base": "sample", "values": SWEEP}},
        "profiles": {"default": {"n_items": {b: prof["n_items"].get(b, 10) for b in benches},
                                 "max_new_tokens": {b: prof["max_new_tokens"].get(b, 64) for b in benches}}},
    }
    return overlay, note


def _snakemake(cwd: Path, *args: str, env: dict) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([SNAKEMAKE, *args], cwd=cwd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    if proc.returncode:
        raise SystemExit(f"snakemake {' '.join(args)} failed in {cwd}:\n{out[-4000:]}")
    return dt, out


def create_outputs(cwd: Path, args: list[str], env: dict) -> None:
    """Create every output of the DAG as an empty file (``--touch`` only touches existing ones)."""
    _, out = _snakemake(cwd, "-n", "--forceall", *args, env=env)
    for line in out.splitlines():
        if line.startswith("    output: "):
            for path in line[len("    output: "):].split(", "):
                f = cwd / path.strip()
                f.parent.mkdir(parents=True, exist_ok=True)
                f.touch()


def _noop(cwd: Path, args: list[str], env: dict, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        dt, out = _snakemake(cwd, "-n", *args, env=env)
        if "Nothing to be done" not in out:
            raise SystemExit(f"snakemake -n {' '.join(args)} in {cwd} is not a no-op:\n{out[-3000:]}")
        times.append(dt)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Build the three workflows, mark them done, time their no-op dry runs and print the result."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed dry runs per workflow (median reported)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--profile-out", help="write cProfile's top functions of one full-matrix dry run here")
    args = ap.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    overlay, note = matrix_overlay(params)
    with tempfile.TemporaryDirectory(prefix="gbg-dryrun-") as tmp:
        tmp = Path(tmp)
        trivial = tmp / "trivial"
        trivial.mkdir()
        (trivial / "Snakefile").write_text('rule a:\n    output: "a.txt"\n    shell: "touch {output}"\n')
        (trivial / "a.txt").touch()
        full = ["--configfile", "matrix.yaml"]
        smoke = ["--config", "profile=smoke"]
        wf, wf_smoke = tmp / "wf", tmp / "wf_smoke"  # one copy each: they share upstream files
        for d, a in ((wf, full), (wf_smoke, smoke)):
            d.mkdir()
            copy_workflow(d)
            (d / "matrix.yaml").write_text(yaml.safe_dump(overlay))
            create_outputs(d, a, env)
            _snakemake(d, "--touch", "--cores", "1", *a, env=env)  # mtimes in DAG order
        _, listing = _snakemake(wf, "-n", "--forceall", "--quiet", "rules", *full, env=env)
        jobs = int([line.split()[1] for line in listing.splitlines() if line.startswith("total")][0])
        res = {
            "trivial_s": _noop(trivial, [], env, args.repeat),
            "smoke_s": _noop(wf_smoke, smoke, env, args.repeat),
            "full_s": _noop(wf, full, env, args.repeat),
        }
        if args.profile_out:
            stats = tmp / "prof.out"
            subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats), SNAKEMAKE, "-n", *full], cwd=wf, env=env,
                           capture_output=True, check=True)
            import pstats

            with open(args.profile_out, "w") as fh:
                pstats.Stats(str(stats), stream=fh).sort_stats("cumulative").print_stats(40)
                pstats.Stats(str(stats), stream=fh).sort_stats("tottime").print_stats(30)
    res.update(jobs=jobs, note=note, configs=5, target_s=TARGET_S,
               ratio_to_trivial=res["full_s"] / res["trivial_s"], ratio_to_smoke=res["full_s"] / res["smoke_s"])
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"matrix: {note}; 5 decoding configs; {jobs} jobs")
        print(f"no-op snakemake -n, median of {args.repeat}:")
        print(f"  trivial one-job Snakefile  {res['trivial_s']:.2f} s")
        print(f"  smoke matrix               {res['smoke_s']:.2f} s")
        print(f"  full matrix                {res['full_s']:.2f} s   ({res['ratio_to_trivial']:.2f}x trivial, "
              f"{res['ratio_to_smoke']:.2f}x smoke; target < {TARGET_S:.0f} s: "
              f"{'met' if res['full_s'] < TARGET_S else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
