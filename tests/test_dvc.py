"""dvc.yaml, the hand-written DVC pipeline, and how it agrees with the Snakemake rules.

Policy (the file's header and goodbadgreedy.stages say why):

1. dvc.yaml is written by hand, short (at most 200 lines) and says nothing of being generated.
2. Every Snakemake rule runs in exactly one DVC stage (its cmd's ``--allowed-rules``), and every
   rule that runs a script passes ``code=CODE["<rule>"]``, the fingerprint of its stage's code.
3. A stage's code deps cover every module its rules' scripts import (an import anywhere in a file,
   transitively), so a library edit that can change a stage's outputs re-runs it, in DVC and in
   Snakemake alike; every stage also depends on the workflow's definition (Snakefile, rules/, the
   params schema, the run plan), which can change its jobs' params.
4. A stage's ``params`` are top-level sections of params.yaml (DVC fails on a missing one), and
   every out persists (Snakemake, not DVC, removes what it re-makes).
5. Slow, on the smoke profile through DVC (tests/smoke.py): every artifact the pipeline writes is
   inside some stage's outs; ``dvc repro`` is a fixed point; push/pull restore the results; editing
   ``profiles.smoke.n_samples`` and ``benchmarks`` in params.yaml is seen by ``dvc status`` and
   ``dvc repro`` with no other command, and ``dvc exp run -S decoding.sample.temperature=0.7``
   re-runs the sampling config (and not greedy decoding); an output DVC restores behind
   Snakemake's back never passes for the result of other params: the run stops and names it.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

import polars as pl
import pytest
import yaml
from smoke import DVC, Clone, _link_tree, _ran, _run, copy_clone

from goodbadgreedy.errors import ConfigError
from goodbadgreedy.stages import allowed_rules, code_fingerprints, read_stages

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "goodbadgreedy"


# --- fast: the committed dvc.yaml -----------------------------------------------------------------

def test_dvc_yaml_is_hand_written_and_short():
    text = (REPO / "dvc.yaml").read_text()
    assert len(text.splitlines()) <= 200
    assert not re.search(r"(?i)generated|do not edit", text)
    assert yaml.safe_load(text)["stages"]


def _rules() -> dict[str, str]:
    """{rule name: its block of text} of every rule in the Snakefile and rules/*.smk."""
    out = {}
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        text = path.read_text()
        starts = [(m.start(), m.group(1)) for m in re.finditer(r"(?m)^\s*rule (\w+):", text)]
        # strict=False: a file without rules (common.smk) has no start but still the end sentinel
        for (start, name), (end, _) in zip(starts, starts[1:] + [(len(text), "")], strict=False):
            out[name] = text[start:end]
    return out


def test_every_rule_runs_in_exactly_one_stage_and_passes_its_code():
    stages = read_stages(REPO / "dvc.yaml")  # raises if one rule is in two stages
    allowed = {rule for st in stages.values() for rule in st.rules}
    rules = _rules()
    assert set(rules) - {"all"} == allowed
    for name, block in rules.items():
        if "script:" in block:
            assert f'code=CODE["{name}"],' in block, name
        else:
            assert "code=" not in block, name
    for name, st in stages.items():
        assert f"stage_{name}" in st.rules  # the stage's target rule
    fingerprints = code_fingerprints(REPO / "dvc.yaml")
    assert set(fingerprints) == allowed and all(re.fullmatch(r"[0-9a-f]{64}", v) for v in fingerprints.values())


def _module_file(name: str) -> Path | None:
    base = REPO / "src" / Path(*name.split("."))
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def import_closure(script: Path) -> set[Path]:
    """The script, the local helpers it imports (``scripts/_x.py``) and every goodbadgreedy module it
    reaches through imports anywhere in a file (function-level included), with package __init__s."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        in_pkg = PACKAGE in path.parents
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [(a.name, ()) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:
                    pkg = path.relative_to(REPO / "src").with_suffix("").parts[:-1]
                    module = ".".join([*pkg[: len(pkg) - node.level + 1], *([module] if module else [])])
                targets = [(module, tuple(a.name for a in node.names))]
            else:
                continue
            for module, names in targets:
                parts = module.split(".")
                if parts[0] == "goodbadgreedy":
                    for i in range(1, len(parts) + 1):
                        f = _module_file(".".join(parts[:i]))
                        if f:
                            todo.append(f)
                    todo += [f for n in names if (f := _module_file(f"{module}.{n}"))]
                elif not in_pkg and (path.parent / f"{parts[0]}.py").is_file():
                    todo.append(path.parent / f"{parts[0]}.py")
    return seen


def uncovered(files: set[Path], code: tuple[str, ...]) -> set[str]:
    """Files (repo-relative) that no code dep (a file or a folder) covers."""
    rel = {f.relative_to(REPO).as_posix() for f in files}
    return {f for f in rel if not any(f == d or f.startswith(d.rstrip("/") + "/") for d in code)}


def test_stage_code_deps_cover_what_its_scripts_import():
    rules = _rules()
    stages = read_stages(REPO / "dvc.yaml")
    for st in stages.values():
        for rule in st.rules:
            m = re.search(r'script:\s*\n\s*"\.\./(scripts/[\w.]+)"', rules[rule])
            if not m:
                continue
            closure = import_closure(REPO / m.group(1))
            assert len(closure) > 3, rule  # the script and at least the modules it calls
            assert not uncovered(closure, st.code), (st.name, rule)
    # the check can fail: a stage without the generation package misses the engine
    generate = REPO / "scripts" / "generate.py"
    less = tuple(d for d in stages["generate"].code if not d.startswith("src/"))
    assert "src/goodbadgreedy/generation/engine.py" in uncovered(import_closure(generate), less
                                                                  + ("src/goodbadgreedy/benchmarks",))


#: What every stage depends on: the workflow's definition (rules, the params schema, the run plan).
WORKFLOW = ("Snakefile", "rules", "src/goodbadgreedy/schemas", "src/goodbadgreedy/params_file.py",
            "src/goodbadgreedy/plan.py", "src/goodbadgreedy/stages.py", "src/goodbadgreedy/provenance.py")


def test_every_stage_depends_on_the_workflow_definition():
    """A rules or schema edit can change a job's params without touching its code: DVC must then run
    the stage's cmd, so that Snakemake's params trigger sees the change."""
    for name, spec in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items():
        assert set(WORKFLOW) <= set(spec["deps"]), name


def test_every_out_persists():
    """Snakemake decides per job inside a stage, so DVC must not delete a stage's outs before its
    cmd: an unchanged job's output would be gone, and a failed cmd would leave the stage empty."""
    for name, spec in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items():
        for kind in ("outs", "metrics", "plots"):
            for entry in spec.get(kind, []):
                assert isinstance(entry, dict) and next(iter(entry.values())).get("persist") is True, (name, entry)


def test_stage_params_are_sections_of_params_yaml():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for name, spec in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items():
        for key in spec.get("params", []):
            assert isinstance(key, str) and "." not in key and key in params, (name, key)


# --- fast: goodbadgreedy.stages on a small pipeline ------------------------------------------------

def _pipeline(root: Path, stages: str) -> Path:
    (root / "src" / "lib").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "src" / "lib" / "a.py").write_text("A = 1\n")
    (root / "src" / "lib" / "b.py").write_text("B = 1\n")
    (root / "scripts" / "s.py").write_text("print(1)\n")
    path = root / "dvc.yaml"
    path.write_text(stages)
    return path


SMALL = """\
vars:
  - smk: snakemake --rerun-triggers params --allowed-rules
stages:
  one:
    cmd: ${smk} stage_one r1 r2 -- stage_one
    deps: [data/x, scripts/s.py, src/lib/a.py]
  two:
    cmd: mkdir -p out/${profile} && ${smk} stage_two r3 -- stage_two
    deps: [scripts/s.py, src/lib]
"""


def test_code_fingerprints_follow_each_stages_code(tmp_path):
    path = _pipeline(tmp_path, SMALL)
    stages = read_stages(path)
    assert stages["one"].rules == ("stage_one", "r1", "r2") and stages["two"].rules == ("stage_two", "r3")
    assert stages["one"].code == ("scripts/s.py", "src/lib/a.py")  # data deps are not code
    before = code_fingerprints(path)
    assert set(before) == {"stage_one", "r1", "r2", "stage_two", "r3"}
    assert before["r1"] == before["r2"] == before["stage_one"] != before["r3"]
    (tmp_path / "src" / "lib" / "b.py").write_text("B = 2\n")  # only stage two lists b.py (its folder)
    after = code_fingerprints(path)
    assert after["r1"] == before["r1"] and after["r3"] != before["r3"]
    (tmp_path / "src" / "lib" / "a.py").write_text("A = 2\n")
    assert code_fingerprints(path)["r1"] != after["r1"]
    (tmp_path / "src" / "lib" / "__pycache__").mkdir()
    (tmp_path / "src" / "lib" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"x")
    assert code_fingerprints(path)["r3"] == code_fingerprints(path)["r3"]


def test_stage_errors_name_the_fix(tmp_path):
    path = _pipeline(tmp_path, SMALL.replace("r3 --", "r1 --"))
    with pytest.raises(ConfigError, match="rule r1 is allowed by stages one and two"):
        read_stages(path)
    path.write_text(SMALL.replace("src/lib/a.py", "src/lib/gone.py"))
    with pytest.raises(ConfigError, match="dep src/lib/gone.py does not exist"):
        code_fingerprints(path)
    with pytest.raises(ConfigError, match="no --allowed-rules"):
        allowed_rules("snakemake stage_x")
    with pytest.raises(ConfigError, match="names no rule"):
        allowed_rules("snakemake --allowed-rules -- stage_x")
    path.write_text("stages: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read the DVC pipeline"):
        read_stages(path)


# --- slow: dvc repro in a clean copy (the `smoke` fixture of conftest.py, see tests/smoke.py) -------

def _outs(clone: Clone) -> list[str]:
    """Every out path of dvc.yaml for the smoke profile (plots and metrics included)."""
    paths = []
    for st in clone.stages().values():
        for kind in ("outs", "metrics", "plots"):
            for entry in st.get(kind, []):
                paths.append((next(iter(entry)) if isinstance(entry, dict) else entry).replace("${profile}", "smoke"))
    return paths


@pytest.mark.slow
def test_repro_reproduces_smoke_and_is_a_fixed_point(smoke):
    clone, first = smoke
    assert _ran(first) == set(clone.stages())
    for name in ("table1.csv", "table1.md", "runs.csv"):
        assert (clone.root / "results/smoke" / name).is_file()
        assert (clone.root / "results/smoke" / f"{name}.lineage.json").is_file()
    assert "Data and pipelines are up to date." in clone.dvc("status")
    lock = (clone.root / "dvc.lock").read_bytes()
    second = clone.dvc("repro")
    assert _ran(second) == set()
    assert (clone.root / "dvc.lock").read_bytes() == lock


@pytest.mark.slow
def test_every_artifact_is_inside_a_stage_out(smoke):
    clone, _ = smoke
    outs = _outs(clone)
    written = [p for top in ("results", "data/benchmarks", "models") for p in (clone.root / top).rglob("*")
               if p.is_file()]
    assert len(written) > 50
    for path in written:
        rel = path.relative_to(clone.root).as_posix()
        assert any(rel == o or rel.startswith(o + "/") for o in outs), rel


@pytest.mark.slow
def test_push_then_pull_in_a_fresh_clone(smoke, tmp_path):
    clone, _ = smoke
    work = copy_clone(clone, tmp_path / "work")
    work.run("git", "add", "dvc.lock", "params.yaml")
    work.run("git", "-c", "commit.gpgsign=false", "commit", "-qm", "lock")
    assert "remote = local" in (work.root / ".dvc" / "config").read_text()  # the committed default
    work.dvc("push")
    fresh = Clone(tmp_path / "fresh", work.env | {"PYTHONPATH": str(tmp_path / "fresh" / "src")})
    _run(["git", "clone", "-q", str(work.root), str(fresh.root)], tmp_path, work.env)
    fresh.dvc("remote", "modify", "--local", "local", "url", str(work.root / "dvc-storage"))
    fresh.dvc("pull")
    _link_tree(work.root / "models", fresh.root / "models")  # `cache: false` by design: dvc repro rebuilds it
    assert "Data and pipelines are up to date." in fresh.dvc("status")
    for f in (work.root / "results/smoke").rglob("*"):
        if f.is_file():
            assert (fresh.root / f.relative_to(work.root)).read_bytes() == f.read_bytes()


def _status(clone: Clone) -> dict:
    proc = subprocess.run([str(DVC), "status", "--json"], cwd=clone.root, env=clone.env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_params_edits_are_picked_up_by_dvc_alone(smoke, tmp_path):
    """Edit n_samples and the benchmark list in params.yaml, then only `dvc status` / `dvc repro`;
    then `dvc exp run -S decoding.sample.temperature=0.7`. Greedy decoding is never re-run."""
    clone = copy_clone(smoke[0], tmp_path / "edit")
    clone.run("git", "add", "dvc.lock")  # the reproduced smoke state, committed as a user would
    clone.run("git", "-c", "commit.gpgsign=false", "commit", "-qm", "smoke reproduced")
    res = clone.root / "results/smoke"
    greedy = res / "generations/smollm2-135m/gsm8k/greedy.parquet"
    greedy_sha = _sha(greedy)
    text = (clone.root / "params.yaml").read_text()
    text, n = re.subn(r"(?m)^(benchmarks: )\[.*\]$", r"\1[gsm8k, mmlu_redux]", text)
    assert n == 1
    block = re.search(r"(?m)^  smoke:\n(?:    .*\n)+", text)
    edited = block.group(0).replace("n_samples: 2", "n_samples: 3")
    assert edited != block.group(0)
    (clone.root / "params.yaml").write_text(text[: block.start()] + edited + text[block.end():])

    status = _status(clone)
    assert set(status) == set(clone.stages()) - {"prepare_model"}, status
    assert status["normalize"] == [{"changed deps": {"params.yaml": {"benchmarks": "modified"}}}]
    assert status["generate"] == [{"changed deps": {"params.yaml": {"profiles": "modified", "benchmarks": "modified"}}}]
    ran = _ran(clone.dvc("repro"))
    assert {"generate", "check", "score", "aggregate", "report"} <= ran
    t1 = pl.read_csv(res / "table1.csv")
    assert t1["benchmark"].to_list() == ["gsm8k", "mmlu_redux"] and (t1["n_runs"] == 3).all()
    sample = pl.read_parquet(res / "generations/smollm2-135m/mmlu_redux/sample.parquet")
    assert sample["sample_idx"].max() == 2
    assert _sha(greedy) == greedy_sha  # N does not feed greedy decoding: not re-run
    assert "Data and pipelines are up to date." in clone.dvc("status")

    before = _sha(res / "generations/smollm2-135m/gsm8k/sample.parquet")
    out = clone.dvc("exp", "run", "-S", "decoding.sample.temperature=0.7")
    assert {"generate", "check", "aggregate"} <= _ran(out)
    assert yaml.safe_load((clone.root / "params.yaml").read_text())["decoding"]["sample"]["temperature"] == 0.7
    lineage = json.loads((res / "generations/smollm2-135m/gsm8k/sample.parquet.lineage.json").read_text())
    assert lineage["params"]["decoding"]["temperature"] == 0.7
    assert _sha(res / "generations/smollm2-135m/gsm8k/sample.parquet") != before
    assert _sha(greedy) == greedy_sha
    assert "Data and pipelines are up to date." in clone.dvc("status")

    # Back to the committed state with DVC (files and sidecars at temperature 1.0 come back,
    # Snakemake's record stays at 0.7), then ask for 0.7 again: the restored 1.0 table must not
    # pass for the 0.7 result (goodbadgreedy.provenance). The run stops, naming it; removing the
    # named files lets dvc repro make the 0.7 tables again, equal to the experiment's.
    exp_params, exp_t1 = (clone.root / "params.yaml").read_text(), (res / "table1.csv").read_bytes()
    exp_sample = _sha(res / "generations/smollm2-135m/gsm8k/sample.parquet")
    clone.run("git", "checkout", "--", "params.yaml", "dvc.lock")
    clone.dvc("checkout")
    assert _sha(res / "generations/smollm2-135m/gsm8k/sample.parquet") != exp_sample  # the 1.0 table
    (clone.root / "params.yaml").write_text(exp_params)
    proc = subprocess.run([str(DVC), "repro"], cwd=clone.root, env=clone.env, capture_output=True, text=True,
                          timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    named = re.search(r"\n  rm (.+)\n", out)
    stale = named.group(1).split() if named else []
    assert "results/smoke/generations/smollm2-135m/gsm8k/sample.parquet" in stale, out[-3000:]
    for rel in stale:
        (clone.root / rel).unlink()
    clone.dvc("repro")
    assert _sha(res / "generations/smollm2-135m/gsm8k/sample.parquet") == exp_sample
    assert (res / "table1.csv").read_bytes() == exp_t1
    assert "Data and pipelines are up to date." in clone.dvc("status")
