"""The real pipeline, end to end, on the `smoke` profile (packaged model, vendored data).

Works in the committed copy of the workflow that the ``smoke`` fixture reproduced with
``dvc repro`` (tests/smoke.py; each DVC stage runs one Snakemake job): normalize -> select ->
prepare_model -> generate -> check -> score -> aggregate -> stats/plots/report, then checks what a
user would: Table 1 is filled from real generations, Snakemake agrees nothing is left to do, a
decoding edit re-runs only the jobs it feeds, a malformed params.yaml stops before any job, and
the lineage of a row reaches the raw data.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

pytestmark = pytest.mark.slow


def _snakemake(workdir: Path, env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    res = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=1500)
    if check and res.returncode != 0:
        raise AssertionError(f"snakemake failed ({res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}")
    return res


def _jobs(dry_run_output: str) -> list[tuple[str, str]]:
    """(rule, wildcards) of each job in a dry run."""
    jobs, rule = [], None
    for line in dry_run_output.splitlines():
        m = re.match(r"^\s*(?:local)?rule (\w+):", line)
        if m:
            rule = m.group(1)
            jobs.append((rule, ""))
        m = re.match(r"^\s*wildcards: (.*)$", line)
        if m and jobs:
            jobs[-1] = (jobs[-1][0], m.group(1))
    return jobs


@pytest.fixture(scope="module")
def clone(smoke):
    return smoke[0]


@pytest.fixture(scope="module")
def workdir(clone) -> Path:
    return clone.root


def test_table1_is_filled_from_real_generations(workdir):
    t1 = pl.read_csv(workdir / "results/smoke/table1.csv")
    assert sorted(t1["benchmark"].to_list()) == ["gsm8k", "humaneval", "mmlu_redux"]
    for col in (
        "greedy",
        "sample_mean",
        "sample_std",
        "sample_min",
        "sample_max",
        "delta",
        "greedy_tokens",
        "sample_tokens",
    ):
        assert t1[col].null_count() == 0, col
    assert (t1["n_runs"] == 2).all()
    gens = pl.read_parquet(workdir / "results/smoke/generations/smollm2-135m/mmlu_redux/sample.parquet")
    assert gens.height == 3 * 2 and gens["response"].str.len_chars().sum() > 0
    assert gens["seed"].null_count() == 0 and gens["seed"].n_unique() == gens.height
    greedy = pl.read_parquet(workdir / "results/smoke/generations/smollm2-135m/mmlu_redux/greedy.parquet")
    assert greedy["seed"].null_count() == greedy.height
    assert "<|im_start|>user" in gens["prompt"][0]  # the chat template was applied
    md = (workdir / "results/smoke/table1.md").read_text()
    assert "| smollm2-135m | gsm8k |" in md


def test_snakemake_agrees_nothing_is_left_to_do(workdir, clone):
    res = _snakemake(workdir, clone.env, "-n")
    assert "Nothing to be done" in res.stdout + res.stderr


def test_editing_temperature_reruns_only_what_it_feeds(workdir, clone):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["decoding"]["sample"]["temperature"] = 0.7
    edited = workdir / "edited.yaml"
    edited.write_text(yaml.safe_dump(params))
    res = _snakemake(workdir, clone.env, "-n", "--configfile", str(edited))
    jobs = _jobs(res.stdout)
    rules = sorted(r for r, _ in jobs)
    n_scorers = len(params["scorers"])
    assert rules == sorted(["aggregate", "all", "best_of_n", "best_of_n_plot", "stats", "plots", "report"]
                           + ["generate"] * 3 + ["check"] * 3 + ["score"] * 3 * n_scorers), jobs
    assert all("cfg=sample" in w for r, w in jobs if r in ("generate", "check", "score"))


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"benchmarks": ["gsm8k", "squad"]}, "benchmarks[1]: 'squad' is not one of"),
        ({"profiles.smoke.n_samples": 0}, "profiles.smoke.n_samples: 0 is less than the minimum of 1"),
        ({"decoding.sample.temperature": -1}, "decoding.sample.temperature: -1 is less than the minimum of 0"),
        ({"models": None}, "models: None is not of type 'object'"),
    ],
)
def test_malformed_params_stop_before_any_job(workdir, clone, tmp_path, edit, message):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    for dotted, value in edit.items():
        node, *path = dotted.split(".")
        target = params
        keys = [node, *path]
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(params))
    res = _snakemake(workdir, clone.env, "-n", "--configfile", str(bad), check=False)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert message in out, out[-3000:]
    assert "rule generate" not in out


def test_lineage_of_a_row_reaches_raw_data(workdir, clone):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "goodbadgreedy.cli",
            "lineage",
            "results/smoke/table1.csv",
            "--row",
            "smollm2-135m,gsm8k,sample",
        ],
        cwd=workdir,
        env=clone.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "benchmark=gsm8k" in out
    for piece in ("[check] results/smoke/checks/smollm2-135m/gsm8k/sample.parquet",
                  "[generate] results/smoke/generations/smollm2-135m/gsm8k/sample.parquet",
                  "[select_items] results/smoke/items/gsm8k.parquet",
                  "[normalize] data/benchmarks/gsm8k.parquet",
                  "[prepare_model] models/smollm2-135m/manifest.json",
                  "[source] data/raw/gsm8k/test.jsonl"):
        assert piece in out, out
    assert "humaneval" not in out and "greedy.parquet" not in out
    assert "!!" not in out  # every recorded hash still matches
