"""dvc.yaml: rendered from the Snakefile (fast tests), and DVC reproducing the smoke profile (slow;
in a committed copy of the working tree, see tests/smoke.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from smoke import DVC, Clone, _link_tree, _ran, _run

from goodbadgreedy.dvcgen import Job, code_deps, dump, param_keys, sidecars, snakemake_jobs, stage
from goodbadgreedy.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


# --- fast: the committed dvc.yaml is the Snakemake DAG -----------------------------------------

@pytest.fixture(scope="module")
def pipeline():
    """(jobs, config, stages) of this checkout's Snakefile and params.yaml."""
    jobs, config = snakemake_jobs(REPO)
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    stages = {j.name: stage(j, REPO, config, raw) for j in jobs}
    return jobs, config, stages


def test_committed_dvc_yaml_is_generated(pipeline):
    _, config, stages = pipeline
    committed = (REPO / "dvc.yaml").read_text() if (REPO / "dvc.yaml").is_file() else ""
    assert committed == dump(stages, config["profile"]), "dvc.yaml is stale: run python scripts/make_dvc_yaml.py"


def _paths(entries) -> list[str]:
    return [next(iter(e)) if isinstance(e, dict) else e for e in entries]


def test_dvc_graph_is_the_snakemake_graph(pipeline):
    """A stage's upstream stages (its deps inside their outs) are exactly the job's parents."""
    jobs, _, stages = pipeline
    produced = {name: _paths(st["outs"]) + _paths(st.get("plots", [])) + _paths(st.get("metrics", []))
                for name, st in stages.items()}
    for job in jobs:
        ups = {other for other, outs in produced.items()
               for dep in stages[job.name]["deps"] for out in outs if dep == out or dep.startswith(out + "/")}
        assert ups == set(job.upstream), job.name
    rules = {j.rule for j in jobs}
    assert {"download", "prepare_model", "select_items", "generate", "check", "aggregate"} <= rules


def test_stage_cmd_runs_exactly_its_job_with_snakemake(pipeline):
    jobs, _, stages = pipeline
    for job in jobs:
        argv = stages[job.name]["cmd"].split()
        assert argv[0] == "snakemake"
        assert argv[1 : 1 + len(job.output)] == list(job.output)
        assert argv[argv.index("--allowed-rules") + 1] == job.rule
        assert "--force" in argv
        triggers = argv[argv.index("--rerun-triggers") + 1 :]
        assert "mtime" not in triggers and "params" in triggers


def test_stage_deps_outs_and_params(pipeline):
    jobs, config, stages = pipeline
    profile = config["profile"]
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    for job in jobs:
        st = stages[job.name]
        assert set(job.input) <= set(st["deps"])
        assert job.code in st["deps"]
        for key in st.get("params", []):  # DVC reads these from params.yaml as written
            node = raw
            for part in key.split("."):
                node = node[part]
        if job.rule == "generate":
            cfg = job.wildcards["cfg"]
            assert f"decoding.{cfg}" in st["params"]
            assert "src/goodbadgreedy/generation/engine.py" in st["deps"]
            samples = f"profiles.{profile}.n_samples" in st["params"]
            assert samples == bool(config["decoding"][cfg].get("do_sample"))
            (out,) = job.output
            assert st["outs"] == [out, f"{out}.lineage.json", f"{out}.validation.json"]
        if job.rule == "prepare_model":
            assert st["outs"] == [{f"models/{job.wildcards['model']}": {"cache": False}}]
        if job.rule == "aggregate":
            assert "src/goodbadgreedy/generation/engine.py" not in st["deps"]
            assert {"decoding", f"profiles.{profile}.n_samples"} <= set(st["params"])
            assert {p for e in st["plots"] for p in e} == {o for o in job.output if o.endswith(".csv")}


def _job(rule="generate", params=None, **wildcards) -> Job:
    return Job(rule, wildcards, (), ("out",), params or {}, "scripts/x.py", None, ())


def test_param_keys_mapping_fallback_and_errors():
    config = {"profile": "p", "seed": 1, "scorers": {"rm": {"type": "reward_model"}}, "a": {"x": 2}, "b": {"x": 2},
              "decoding": {"g": {"do_sample": False, "temperature": 1.0}}, "profiles": {"p": {"n_samples": 4}}}
    raw = {"profile": "p", "seed": 1, "scorers": {"rm": {"type": "reward_model"}}, "a": {"x": 2}, "b": {"x": 2},
           "decoding": {"g": {"do_sample": False}}, "profiles": {"p": {"n_samples": 4}}}
    job = _job(params={"decoding": config["decoding"]["g"], "n_samples": 1, "seed": 1}, cfg="g")
    assert param_keys(job, config, raw) == ["decoding.g", "seed"]  # greedy: N is not read
    assert param_keys(_job("score", params={"scorer": {"type": "reward_model"}}, scorer="rm"), config, raw) == ["scorers.rm"]
    with pytest.raises(ConfigError, match="PARAM_KEYS"):
        param_keys(_job("score", params={"x": 2}), config, raw)  # a.x or b.x: ambiguous
    with pytest.raises(ConfigError, match="not the value of seed"):
        param_keys(_job(params={"seed": 7}), config, raw)
    # a key the file leaves to the schema's defaults -> its nearest ancestor in the file
    config["benchmark_options"] = {"h": {"timeout_s": 10}}
    job = _job("check", params={"options": {"timeout_s": 10}}, benchmark="h")
    assert param_keys(job, config, {"benchmark_options": {"g": {}}}) == ["benchmark_options"]


def test_code_deps_and_sidecars(tmp_path):
    pkg = tmp_path / "src" / "goodbadgreedy"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import leaf\n")
    (pkg / "sub" / "leaf.py").write_text("def f():\n    from ..lazy import g\n")
    (pkg / "lazy.py").write_text("import os\n")
    (pkg / "unused.py").write_text("")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "_log.py").write_text("import sys\n")
    (tmp_path / "scripts" / "s.py").write_text(
        "from _log import to_log\nfrom goodbadgreedy import sub\nfrom goodbadgreedy.lineage import publish_table\n"
        "publish_table(df, out)\n")
    assert code_deps(tmp_path, "scripts/s.py") == [
        "scripts/_log.py", "scripts/s.py", "src/goodbadgreedy/__init__.py", "src/goodbadgreedy/lazy.py",
        "src/goodbadgreedy/sub/__init__.py", "src/goodbadgreedy/sub/leaf.py"]
    assert sidecars(tmp_path, "scripts/s.py") == ("lineage", "validation")
    (tmp_path / "scripts" / "w.py").write_text("import goodbadgreedy.lineage as L\nfor o in x:\n    L.write_lineage(o)\n")
    assert sidecars(tmp_path, "scripts/w.py") == ("lineage",)


# --- slow: dvc repro in a clean copy (the `smoke` fixture of conftest.py, see tests/smoke.py) ---

@pytest.mark.slow
def test_repro_reproduces_smoke_and_is_a_fixed_point(smoke):
    clone, first, reused = smoke
    stages = clone.stages()
    assert _ran(first) == set(stages) - reused
    out = yaml.safe_load((clone.root / "params.yaml").read_text())["profiles"]["smoke"]["outdir"]
    for name in ("table1.csv", "table1.md", "runs.csv"):
        assert (clone.root / out / name).is_file() and (clone.root / out / f"{name}.lineage.json").is_file()
    assert "Data and pipelines are up to date." in clone.dvc("status")
    lock = (clone.root / "dvc.lock").read_bytes()
    second = clone.dvc("repro")
    assert _ran(second) == set()
    assert (clone.root / "dvc.lock").read_bytes() == lock
    assert "Data and pipelines are up to date." in clone.dvc("status")


@pytest.mark.slow
def test_push_then_pull_in_a_fresh_clone(smoke, tmp_path):
    clone, _, _ = smoke
    clone.run("git", "add", "dvc.lock", "params.yaml")
    clone.run("git", "-c", "commit.gpgsign=false", "commit", "-qm", "lock")
    assert "remote = local" in (clone.root / ".dvc" / "config").read_text()  # the committed default
    clone.dvc("push")
    fresh = Clone(tmp_path / "fresh", clone.env | {"PYTHONPATH": str(tmp_path / "fresh" / "src")})
    _run(["git", "clone", "-q", str(clone.root), str(fresh.root)], tmp_path, clone.env)
    fresh.dvc("remote", "modify", "--local", "local", "url", str(clone.root / "dvc-storage"))
    fresh.dvc("pull")
    for name, st in clone.stages().items():  # uncached by design: `dvc repro` rebuilds it; link it here
        if name.startswith("prepare_model-"):
            (folder,) = [next(iter(o)) for o in st["outs"]]
            _link_tree(clone.root / folder, fresh.root / folder)
    assert "Data and pipelines are up to date." in fresh.dvc("status")
    outdir = yaml.safe_load((clone.root / "params.yaml").read_text())["profiles"]["smoke"]["outdir"]
    for f in (clone.root / outdir).rglob("*"):
        if f.is_file():
            assert (fresh.root / f.relative_to(clone.root)).read_bytes() == f.read_bytes()


@pytest.mark.slow
def test_changed_temperature_invalidates_only_its_stages(smoke):
    """After a temperature edit, DVC finds exactly the stages that read that config changed: its
    three generate stages, and those that read all of `decoding` (their other downstream stages
    follow by the DAG, which test_dvc_graph_is_the_snakemake_graph checks
    against Snakemake's; tests/test_pipeline.py dry-runs the same edit through Snakemake and the
    sweep test runs new configs for real). Not re-run here: re-running its 16 stages took 5.6 min
    of the suite on two cores. params.yaml is restored afterwards."""
    import json
    import subprocess

    clone, _, _ = smoke
    path = clone.root / "params.yaml"
    text = path.read_text()
    params = yaml.safe_load(text)
    old = params["decoding"]["sample"]["temperature"]
    new = 0.5 if old != 0.5 else 0.7
    block = re.search(r"(?m)^  sample:\n(?:    .*\n)+", text)
    path.write_text(text[: block.start()] + block.group(0).replace(f"temperature: {old}", f"temperature: {new}") + text[block.end():])
    try:
        diff = clone.dvc("params", "diff")
        assert re.search(rf"decoding\.sample\.temperature\s+{old}\s+{new}", diff), diff
        assert "decoding.greedy" not in diff
        proc = subprocess.run([str(DVC), "status", "--json"], cwd=clone.root, env=clone.env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        status = json.loads(proc.stdout)
        # stages that read the sampling config (its whole subtree) or all of `decoding` (those that
        # pick Table 1's configs or the greedy line: aggregate, stats, plots, report, best_of_n)
        keys = {n: {k for k in st.get("params", []) if k in ("decoding", "decoding.sample")}
                for n, st in clone.stages().items()}
        expected = {n: k for n, k in keys.items() if k}
        generate = {n for n in expected if n.startswith("generate-")}
        assert generate == {n for n in keys if n.startswith("generate-") and n.endswith("-sample")} and len(generate) == 3
        assert set(status) == set(expected), status
        for name, (key,) in expected.items():
            assert status[name] == [{"changed deps": {"params.yaml": {key: "modified"}}}], status[name]
    finally:
        path.write_text(text)
    assert "Data and pipelines are up to date." in clone.dvc("status")
