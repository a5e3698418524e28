"""``stage_log.run``: a failed job leaves no sidecar of an output that does not exist.

Policy (``goodbadgreedy.stage_log``; each clause tested below, in a real Python process run the
way Snakemake runs a script, with a stand-in ``snakemake`` object carrying real paths):

1. stderr and logging go to the job's log before ``main`` runs (its traceback lands there);
2. at job start, the sidecars (``X.lineage.json``, ``X.validation.json``) of each declared output
   ``X`` that does not exist are removed; those of an existing output are kept;
3. when ``main`` raises (an exception, ``sys.exit``, ``KeyboardInterrupt``), the sidecars of every
   declared output are removed, the outputs themselves are left to Snakemake, and the error
   propagates (the process fails with it); when ``main`` succeeds, everything it wrote stays
   (negative control);
4. scripts are thin and uniform: each ``scripts/*.py`` imports only ``run`` at module level,
   defines ``main(sm)`` and ends with ``run(snakemake, main)`` (the check rejects the old shape);
5. ``stage_log`` imports only the standard library, and names the sidecars as ``io.sidecar`` does;
6. the job's log ends with its cost, whether ``main`` succeeded or failed: the start-up (process
   start to ``main``, > 0 and below the wall time the caller saw), ``main``'s run time (at least
   what it slept), the time since the process start when it returned (at least start-up plus
   ``main``, at most the caller's wall time), and the heavy packages it imported: ``none`` for a
   job that imported none, ``polars`` for one that imported polars (and json: not heavy).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from goodbadgreedy import io, stage_log

REPO = Path(__file__).resolve().parents[1]

JOB = '''
import importlib, json, os, sys, time
from types import SimpleNamespace

from goodbadgreedy.stage_log import run

cfg = json.loads(sys.argv[1])
snakemake = SimpleNamespace(output=cfg["output"], log=[cfg["log"]], rule="check")


def main(sm):
    sides = [f"{out}{s}" for out in sm.output for s in (".lineage.json", ".validation.json")]
    with open(cfg["state"], "w") as fh:  # what the job found at its start
        json.dump({p: os.path.exists(p) for p in sides}, fh)
    print("main started", file=sys.stderr)
    for name in cfg.get("imports", []):
        importlib.import_module(name)
    time.sleep(cfg.get("sleep", 0))
    for out in sm.output[: cfg["write"]]:
        for path in (out, out + ".validation.json", out + ".lineage.json"):
            with open(path, "w") as fh:
                fh.write("new")
    if cfg["fail"] == "error":
        raise ValueError("boom: the stage failed")
    if cfg["fail"] == "exit":
        sys.exit(3)
    if cfg["fail"] == "interrupt":
        raise KeyboardInterrupt


run(snakemake, main)
'''


def _job(tmp_path: Path, *, fail: str, write: int, **extra) -> tuple[subprocess.CompletedProcess, dict, list[Path]]:
    """Run the stand-in job in a fresh Python; return the process, its start state and its outputs.

    ``extra``: ``imports`` (module names main imports), ``sleep`` (seconds main sleeps).
    """
    outs = [tmp_path / "out" / "a.parquet", tmp_path / "out" / "b.csv"]
    cfg = {"output": [str(p) for p in outs], "log": str(tmp_path / "logs" / "job.log"), "state": str(tmp_path / "s"),
           "fail": fail, "write": write, **extra}
    script = tmp_path / "job.py"
    script.write_text(JOB)
    proc = subprocess.run([sys.executable, str(script), json.dumps(cfg)], capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    return proc, json.loads((tmp_path / "s").read_text()), outs


def _leftover(tmp_path: Path) -> list[Path]:
    """Output a left from an earlier run with its sidecars; b's sidecars without b (a killed job)."""
    out = tmp_path / "out"
    out.mkdir()
    for name in ("a.parquet", "a.parquet.lineage.json", "a.parquet.validation.json", "b.csv.lineage.json"):
        (out / name).write_text("old")
    return sorted(out.iterdir())


def test_sidecars_of_missing_outputs_are_removed_at_start_and_success_keeps_all(tmp_path):
    """Clauses 1, 2 and the negative control of 3: b's orphan sidecar is gone before main runs,
    a's stay (a exists); main succeeds and what it wrote stays."""
    _leftover(tmp_path)
    proc, start, outs = _job(tmp_path, fail="none", write=2)
    assert proc.returncode == 0, proc.stderr
    a, b = outs
    assert start == {f"{a}.lineage.json": True, f"{a}.validation.json": True,
                     f"{b}.lineage.json": False, f"{b}.validation.json": False}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.parquet", "a.parquet.lineage.json", "a.parquet.validation.json",
        "b.csv", "b.csv.lineage.json", "b.csv.validation.json"]
    log = (tmp_path / "logs" / "job.log").read_text()
    assert "main started" in log and f"removed 1 sidecar(s) of missing outputs: {b}.lineage.json" in log


@pytest.mark.parametrize("fail, code, shown", [("error", 1, "ValueError: boom: the stage failed"),
                                                ("exit", 3, "job failed: removed"),
                                                ("interrupt", -2, "KeyboardInterrupt")])  # -SIGINT
def test_failed_job_leaves_no_sidecar_of_its_outputs(tmp_path, fail, code, shown):
    """Clause 3: main wrote output a and its sidecars, then failed: every sidecar of a and b is
    gone (a's old ones included), the outputs are left for Snakemake to delete, the process fails
    with main's error, and the log has the traceback and what was removed."""
    _leftover(tmp_path)
    proc, _, (a, b) = _job(tmp_path, fail=fail, write=1)
    assert proc.returncode == code
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.parquet"]
    assert a.read_text() == "new"  # not ours to delete: Snakemake removes a failed job's outputs
    log = (tmp_path / "logs" / "job.log").read_text()
    assert shown in log and "main started" in log
    assert f"job failed: removed the sidecars of its outputs: {a}.lineage.json, {a}.validation.json" in log


def test_remove_sidecars(tmp_path):
    """The helper on its own: all sidecars, or only those of missing outputs; missing ones skipped."""
    a, b = tmp_path / "a.parquet", tmp_path / "b.png"
    for p in (a, f"{a}.lineage.json", f"{a}.validation.json", f"{b}.lineage.json"):
        Path(p).write_text("x")
    assert stage_log.remove_sidecars([a, b], only_orphans=True) == [f"{b}.lineage.json"]
    assert stage_log.remove_sidecars([a, b]) == [f"{a}.lineage.json", f"{a}.validation.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet"]


def script_shape(source: str) -> list[str]:
    """What keeps a script from the uniform shape (clause 4); empty when it has it."""
    body = ast.parse(source).body
    problems = []
    if not (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)):
        problems.append("no docstring")
        body = [None, *body]
    rest = body[1:]
    kinds = [ast.unparse(n) if not isinstance(n, ast.FunctionDef) else f"def {n.name}" for n in rest]
    if kinds[:1] != ["from goodbadgreedy.stage_log import run"]:
        problems.append(f"first statement {kinds[:1]}, not the import of run")
    if "def main" not in kinds:
        problems.append("no main")
    if kinds[-1:] != ["run(snakemake, main)"]:
        problems.append(f"last statement {kinds[-1:]}, not run(snakemake, main)")
    extra = [k for k in kinds[1:-1] if not k.startswith("def ")]
    if extra:
        problems.append(f"module-level statements {extra}")
    return problems


def test_every_script_has_the_uniform_shape():
    """Clause 4 on the real scripts, and the check rejects the old shape (negative control)."""
    scripts = sorted((REPO / "scripts").glob("*.py"))
    assert len(scripts) >= 15
    bad = {s.name: p for s in scripts if (p := script_shape(s.read_text()))}
    assert not bad
    old = ('"""check."""\n\nfrom goodbadgreedy.stage_log import to_log\n\n\ndef main(sm):\n    pass\n\n\n'
           "to_log(snakemake)\nmain(snakemake)\n")
    assert script_shape(old) == [
        "first statement ['from goodbadgreedy.stage_log import to_log'], not the import of run",
        "last statement ['main(snakemake)'], not run(snakemake, main)",
        "module-level statements ['to_log(snakemake)']"]


def test_stage_log_is_stdlib_only_and_names_sidecars_like_io():
    """Clause 5."""
    tree = ast.parse(Path(stage_log.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported
    assert stage_log.sidecars_of(["x/t.parquet"]) == [str(io.sidecar("x/t.parquet", "lineage")),
                                                      str(io.sidecar("x/t.parquet", "validation"))]


COST = re.compile(r"job cost: start-up (\d+\.\d\d) s, main (\d+\.\d\d) s, (\d+\.\d\d) s since process start; "
                  r"imported: (.*)$", re.M)


@pytest.mark.parametrize("fail, imports, shown", [("none", [], "none"), ("none", ["json", "polars"], "polars"),
                                                  ("error", ["polars"], "polars")])
def test_the_log_ends_with_the_jobs_cost(tmp_path, fail, imports, shown):
    """Clause 6: the times are consistent with each other and with the wall time seen from outside;
    the imported list names polars exactly when main imported it (json is not heavy)."""
    t0 = time.perf_counter()
    proc, _, _ = _job(tmp_path, fail=fail, write=0, imports=imports, sleep=0.3)
    wall = time.perf_counter() - t0
    assert proc.returncode == (0 if fail == "none" else 1), proc.stderr
    log = (tmp_path / "logs" / "job.log").read_text()
    found = COST.findall(log)
    assert len(found) == 1, log
    startup, main, age = map(float, found[0][:3])
    assert 0 < startup < wall
    assert 0.3 <= main < wall
    assert startup + main - 0.02 <= age <= wall + 0.01  # /proc's start time has 10 ms ticks
    assert found[0][3] == shown
    if fail == "none":  # the last line (a failed job's traceback follows it)
        assert log.rstrip().splitlines()[-1].endswith(f"imported: {shown}")


def test_process_age_of_a_fresh_process():
    """Clause 6's clock: a process that sleeps 0.4 s reports an age of at least that, and less than
    the wall time its parent measured."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", "import time; time.sleep(0.4); from goodbadgreedy.stage_log "
                          "import process_age; print(process_age())"], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO / "src")}).stdout
    wall = time.perf_counter() - t0
    assert 0.4 <= float(out) <= wall + 0.01
