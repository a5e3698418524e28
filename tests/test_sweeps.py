"""Sweeps as params matrices, model families, sharded generation and the SLURM profile (issue #8).

The slow test runs Snakemake on the smoke profile in a copy of the working tree, restricted to
one benchmark and to the sweep's targets, with a 3-temperature sweep from a ``--configfile``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import polars as pl
import pytest
import yaml

from goodbadgreedy.analysis.sweep import INTERVAL_COLUMNS, SWEEP_COLUMNS, sweep_table
from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.generation.run import merge_generation_shards, shard_range
from goodbadgreedy.params_file import load_params
from goodbadgreedy.plan import decoding_keys, expand_sweeps, plan, sweep_config_name

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _params(**overrides):
    return load_params(REPO / "params.yaml", overrides)


# --- sweeps -----------------------------------------------------------------------------------

def test_sweep_config_names_are_deterministic():
    assert sweep_config_name("sample", "temperature", 0.5) == "sample-temperature-0.5"
    assert (
        sweep_config_name("sample", "temperature", 1)
        == sweep_config_name("sample", "temperature", 1.0)
        == "sample-temperature-1"
    )
    assert sweep_config_name("s", "top_p", 0.95) == "s-top_p-0.95"


def test_sweeps_expand_into_decoding_configs():
    cfg = _params(
        sweeps={"temperature": {"values": [1.5, 0, 0.5, 1.0]}, "repetition_penalty": {"values": [0.8, 1.0, 1.2]}}
    )
    p = plan(cfg)
    # declared first; T = 0 is the declared greedy config, T = 1.0 the base itself
    assert p.configs == ("greedy", "sample", "sample-temperature-0.5", "sample-temperature-1.5",
                         "sample-repetition_penalty-0.8", "sample-repetition_penalty-1.2")
    assert p.sweeps["temperature"] == {
        "greedy": 0,
        "sample-temperature-0.5": 0.5,
        "sample": 1.0,
        "sample-temperature-1.5": 1.5,
    }
    assert p.decoding["sample-temperature-0.5"] == {**cfg["decoding"]["sample"], "temperature": 0.5}
    assert p.decoding["sample-repetition_penalty-0.8"]["repetition_penalty"] == 0.8
    # params.yaml keys an expanded config is made from (dvc.yaml params)
    assert decoding_keys(cfg, "sample-temperature-0.5") == ["sweeps.temperature", "decoding.sample"]
    assert decoding_keys(cfg, "greedy") == ["decoding.greedy"]
    # no sweeps: the plan is as before
    assert plan(_params()).configs == ("greedy", "sample")


def test_temperature_zero_is_greedy_decoding():
    decoding = {"s": {"do_sample": True, "temperature": 1.0, "repetition_penalty": 1.1}}
    out, groups = expand_sweeps(decoding, {"temperature": {"base": "s", "values": [0, 0.7]}})
    assert out["s-temperature-0"]["do_sample"] is False  # no declared greedy config: a new one
    assert groups["temperature"] == {"s-temperature-0": 0, "s-temperature-0.7": 0.7}


@pytest.mark.parametrize("sweeps, families, match", [
    ({"temperature": {"base": "nope", "values": [0.5, 1.0]}}, {}, "sweeps.temperature.base"),
    ({"temperature": {"base": "greedy", "values": [0.5, 1.0]}}, {}, "does not sample"),
    ({"temperature": {"values": [0.5]}}, {}, "sweeps.temperature.values"),
    ({"top_p": {"values": [0.5, 1.5]}}, {}, "top_p"),
    ({"min_p": {"values": [0.5, 1.0]}}, {}, "sweeps"),
    ({}, {"scaling": ["smollm2-135m", "missing"]}, r"families.scaling\[1\]"),
])
def test_bad_sweeps_and_families_name_the_key(sweeps, families, match):
    with pytest.raises(ConfigError, match=match):
        _params(sweeps=sweeps, families=families)


def _intervals(rows):
    cols = ["model", "benchmark", "config", *INTERVAL_COLUMNS]
    return pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], orient="row")


def test_sweep_table_rows_by_value_and_family():
    iv = _intervals([
        ("a", "mmlu_redux", "greedy", 3, 1, 0.6, None, 0.6, 0.6, "wilson", 0.2, 0.9),
        ("a", "mmlu_redux", "sample", 3, 2, 0.4, 0.1, 0.3, 0.5, "cluster_bootstrap", 0.1, 0.7),
        ("a", "mmlu_redux", "s-t-0.5", 3, 2, 0.5, 0.1, 0.4, 0.6, "cluster_bootstrap", 0.2, 0.8),
        ("b", "mmlu_redux", "greedy", 3, 1, 0.3, None, 0.3, 0.3, "wilson", 0.1, 0.7),
        ("b", "mmlu_redux", "sample", 3, 2, 0.2, 0.0, 0.2, 0.2, "cluster_bootstrap", 0.0, 0.5),
        ("b", "mmlu_redux", "s-t-0.5", 3, 2, 0.3, 0.0, 0.3, 0.3, "cluster_bootstrap", 0.1, 0.6),
    ])
    sweeps = {"temperature": {"greedy": 0, "s-t-0.5": 0.5, "sample": 1.0}}
    t = sweep_table(iv, sweeps, greedy="greedy", families={"scaling": ["a", "b"], "alignment": ["b"]})
    assert t.columns == SWEEP_COLUMNS
    assert t.height == 9  # a in one family, b in two: 3 memberships x 3 values
    a = t.filter((pl.col("model") == "a") & (pl.col("family") == "scaling"))
    assert a["value"].to_list() == [0.0, 0.5, 1.0]
    assert a["greedy_decoding"].to_list() == [True, False, False]
    assert a["greedy_mean"].to_list() == [0.6] * 3
    assert sweep_table(iv, sweeps)["family"].unique().to_list() == [""]


# --- sharding ---------------------------------------------------------------------------------

def test_shard_ranges_tile_the_items():
    for n in (0, 1, 3, 10):
        for shards in (1, 2, 3, 4):
            ranges = [shard_range(n, k, shards) for k in range(shards)]
            assert ranges[0][0] == 0 and ranges[-1][1] == n
            assert all(a[1] == b[0] for a, b in pairwise(ranges))
    with pytest.raises(ConfigError, match="generation.shards"):
        shard_range(3, 2, 2)


def test_merge_rejects_missing_or_repeated_rows():
    from goodbadgreedy import tables

    items = pl.DataFrame({"item_id": ["x", "y"]})
    row = {c: None for c in tables.GENERATION_SCHEMA} | {"item_id": "x", "sample_idx": 0}
    one = pl.DataFrame([row], schema=tables.GENERATION_SCHEMA)
    with pytest.raises(DataError, match="missing"):
        merge_generation_shards([one], items, 1)
    with pytest.raises(DataError, match="more than one shard"):
        merge_generation_shards([one, one], items, 1)


def test_two_shards_give_a_byte_identical_generation_table(tokenizer, tiny_model, tmp_path):
    """Seeds derive from item ids: generating in 2 item-range shards and merging changes no byte."""
    from goodbadgreedy.data import normalize, select_items
    from goodbadgreedy.generation.backends import HFBackend
    from goodbadgreedy.generation.run import generate_table
    from goodbadgreedy.io import write_parquet

    raw = REPO / "data" / "raw"
    items = select_items(normalize("mmlu_redux", raw, raw / "SHA256SUMS", {}), 3, seed=5)
    decoding = {"do_sample": True, "temperature": 1.0, "top_p": 1.0, "top_k": 0, "repetition_penalty": 1.0}
    backend = HFBackend(tiny_model, tokenizer, model_sha="x", dtype="float32", batch_size=8)

    def run(part_items, cache, part=None):
        return generate_table(part_items, benchmark="mmlu_redux", options={}, model_name="tiny", backend=backend,
                              config_name="sample", decoding=decoding, n_samples=2, max_new_tokens=8, seed=1,
                              cache_dir=tmp_path / cache, progress=False, cache_part=part)

    write_parquet(run(items, "one"), tmp_path / "one.parquet")
    shards = []
    for k in range(2):
        start, stop = shard_range(items.height, k, 2)
        shards.append(run(items.slice(start, stop - start), "two", f"{k}-of-2"))
    assert [s.height for s in shards] == [2, 4]
    write_parquet(merge_generation_shards(shards[::-1], items, 2), tmp_path / "two.parquet")
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()
    # each shard kept its own cache file (no two jobs append to one)
    assert sorted(p.name.split(".")[-2] for p in (tmp_path / "two").rglob("*.jsonl")) == ["0-of-2", "1-of-2"]


# --- Snakemake --------------------------------------------------------------------------------

def _env():
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(REPO / "src"),
            "OMP_NUM_THREADS": "1"}


def test_slurm_profile_dry_run_lists_the_sharded_jobs(tmp_path):
    """`snakemake -n --profile profiles/slurm`: no cluster needed, generate_shard jobs per item range.

    The SLURM executor plugin is the `cluster` extra, not in requirements.lock: installed, every
    Snakemake start imports it (and pandas: +1 s per job, and each DVC stage is a Snakemake
    start). Without it, the dry run uses a copy of the profile minus its `executor:` line:
    everything else (the params overlay, shards, threads and per-rule resources) is the profile's.
    """
    import importlib.util

    profile = REPO / "profiles/slurm"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        conf = yaml.safe_load((profile / "config.yaml").read_text())
        assert conf.pop("executor") == "slurm"
        profile = tmp_path / "slurm"
        profile.mkdir()
        (profile / "config.yaml").write_text(yaml.safe_dump(conf))
    proc = subprocess.run(
        [str(BIN / "snakemake"), "-n", "--forceall", "--profile", str(profile), "--workflow-profile", "none"],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    shards = yaml.safe_load((REPO / "profiles/slurm/params.yaml").read_text())["generation"]["shards"]
    cfg = load_params(REPO / "params.yaml")
    p = plan(cfg)
    n_gen = len(p.models) * len(p.benchmarks) * len(p.configs)
    counts = dict(line.split() for line in out.split("Job stats:")[1].splitlines()[3:] if len(line.split()) == 2)
    assert int(counts["generate_shard"]) == n_gen * shards
    assert int(counts["merge_generations"]) == n_gen
    assert "generate" not in counts
    assert f"generations/{p.models[0]}/{p.benchmarks[0]}/{p.configs[0]}.shards/{shards - 1}-of-{shards}.parquet" in out
    assert "gpu=1" in out and "slurm_partition=gpu" in out


@pytest.mark.slow
def test_three_temperature_sweep_on_smoke_makes_the_sweep_table_and_plot(smoke):
    """Smoke profile, MMLU-Redux only (3 items, 8 tokens), a sweep over three temperatures: 0,
    the base config's own and one more. Runs in the session's smoke clone (tests/smoke.py), so
    only the sweep's new jobs run (its generations, checks, stats and the sweep table/plot)."""
    clone = smoke[0]
    root = clone.root
    params = yaml.safe_load((root / "params.yaml").read_text())
    base = float(params["decoding"]["sample"]["temperature"])  # another test may have edited it
    other = 1.0 if base != 1.0 else 0.5
    (root / "sweep.yaml").write_text(yaml.safe_dump({
        "profile": "smoke", "benchmarks": ["mmlu_redux"],
        "sweeps": {"temperature": {"base": "sample", "values": [0, base, other]}},
    }))
    out_dir = "results/smoke"
    targets = [f"{out_dir}/stats/sweep.csv", f"{out_dir}/plots/sweep_temperature.png"]
    proc = subprocess.run([str(BIN / "snakemake"), *targets, "--cores", "2", "--configfile", "sweep.yaml"],
                          cwd=root, env=clone.env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    name = f"sample-temperature-{other:g}"
    table = pl.read_csv(root / targets[0]).sort("value")
    assert table["param"].unique().to_list() == ["temperature"]
    assert table["value"].to_list() == sorted([0.0, base, other])
    assert table["config"].to_list() == [{0.0: "greedy", base: "sample", other: name}[v] for v in table["value"]]
    assert table["n_samples"].to_list() == [1 if v == 0 else 2 for v in table["value"]]  # T = 0: greedy, one run
    assert (root / targets[1]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (root / f"{out_dir}/generations/smollm2-135m/mmlu_redux/{name}.parquet").is_file()
    # the sweep's base and greedy configs were reused, not generated again
    assert "rule generate:" in proc.stdout + proc.stderr
    ran = re.findall(r"wildcards: (.*cfg=[^,\n]*)", proc.stdout + proc.stderr)
    assert all(f"cfg={name}" in w for w in ran if "cfg=" in w), ran
