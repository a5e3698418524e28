"""Provenance sidecars and the ``goodbadgreedy lineage`` command.

Every published artifact ``X`` gets two files beside it:

* ``X.validation.json``: the great-expectations result of its table suite (also on failure,
  when ``X`` itself is not published);
* ``X.lineage.json``: the stage, its wildcards and params subset, the sha256 of the artifact and
  of every input, the model weights' sha256 where a model was used, package versions and the git
  commit.

The artifact's bytes depend only on params and inputs (no timestamps, no commit), so that it can
be rebuilt byte for byte; the environment goes in the sidecar. :func:`trace` walks sidecars from
a result back to the vendored raw files, checking every file against the sha256 its sidecar and
its consumers recorded (:mod:`goodbadgreedy.audit`).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping

import polars as pl

from goodbadgreedy.audit import CHANGED, MISSING, OK, Auditor, Record, display, record_lines, workflow_root
from goodbadgreedy.errors import DataError, ValidationError
from goodbadgreedy.io import sha256_file, write_csv, write_json, write_parquet
from goodbadgreedy.provenance import plain

PACKAGES = (
    "goodbadgreedy",
    "torch",
    "transformers",
    "polars",
    "great-expectations",
    "snakemake",
    "dvc",
    "numpy",
    "scipy",
)


def sidecar(path: str | os.PathLike[str], kind: str) -> Path:
    """Path of an artifact's ``lineage`` or ``validation`` sidecar."""
    return Path(f"{path}.{kind}.json")


def environment() -> dict[str, Any]:
    """Python, package versions and git commit (with a dirty flag) of the running code."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    commit, dirty = None, None
    try:
        root = Path(__file__).resolve().parents[2]
        commit = (
            subprocess.run(
                ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or None
        )
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        dirty = bool(status.strip()) if commit else None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"python": platform.python_version(), "packages": versions, "git_commit": commit, "git_dirty": dirty}


def write_lineage(
    output: str | os.PathLike[str],
    *,
    stage: str,
    inputs: Iterable[str | os.PathLike[str]],
    params: Mapping[str, Any] | None = None,
    wildcards: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``output``'s lineage sidecar and return it.

    Args:
        output: the published artifact (must exist).
        stage: the Snakemake rule / DVC stage name.
        inputs: the artifact's input files (each is hashed).
        params: the params subset the stage read.
        wildcards: the job's wildcards.
        extra: more fields (e.g. ``model_sha256``, ``rows``).
    """
    record = {
        "artifact": str(output),
        "sha256": sha256_file(output),
        "stage": stage,
        "wildcards": plain(dict(wildcards or {})),
        "params": plain(dict(params or {})),
        "inputs": {str(p): sha256_file(p) for p in inputs},
        "environment": environment(),
        **plain(dict(extra or {})),
    }
    write_json(record, sidecar(output, "lineage"))
    return record


def publish_table(
    df: pl.DataFrame,
    output: str | os.PathLike[str],
    *,
    kind: str,
    stage: str,
    inputs: Iterable[str | os.PathLike[str]],
    params: Mapping[str, Any] | None = None,
    wildcards: Mapping[str, Any] | None = None,
    expected_rows: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Validate a stage table, then write it (atomically) with its sidecars.

    The great-expectations result is written to ``output.validation.json`` in every case; if the
    validation fails, :class:`~goodbadgreedy.errors.ValidationError` is raised and ``output`` is
    not written (nothing is published).

    Args:
        df: the table.
        output: ``.parquet`` or ``.csv`` destination.
        kind: the validation suite (``benchmark`` | ``generation`` | ``check`` | ``scores``).
        stage: the producing stage, recorded in the lineage sidecar.
        inputs: the files the table was computed from (their sha256 are recorded).
        params: the parameters the stage used, recorded.
        wildcards: the rule's wildcards, recorded.
        expected_rows: items x samples, when known.
        extra: more fields for the lineage record (besides ``rows`` and ``validation``).
    """
    from goodbadgreedy.validation import validate_table

    validate_table(df, kind, expected_rows=expected_rows, result_path=sidecar(output, "validation"))
    if str(output).endswith(".csv"):
        write_csv(df, output)
    else:
        write_parquet(df, output)
    write_lineage(output, stage=stage, inputs=inputs, params=params, wildcards=wildcards,
                  extra={"rows": df.height, "validation": str(sidecar(output, "validation")), **dict(extra or {})})


def read_lineage(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Return an artifact's lineage record, or None when it has none (e.g. vendored raw data).

    Raises:
        DataError: the sidecar is not valid JSON (naming it).
    """
    side = sidecar(path, "lineage")
    if not side.is_file():
        return None
    try:
        return json.loads(side.read_text())
    except ValueError as exc:
        raise DataError(f"{side}: not a readable lineage record ({exc})") from exc


def trace(
    path: str | os.PathLike[str],
    *,
    select: Mapping[str, str] | None = None,
    audit: Auditor | None = None,
) -> list[dict[str, Any]]:
    """Walk the lineage of ``path`` back to files without sidecars (raw data), verifying each file.

    The checks are :mod:`goodbadgreedy.audit`'s: ``path`` against its own sidecar, every input
    against the record of the artifact that lists it, recursively. Each artifact is followed once;
    a file reached again gives a node with ``repeat`` set (its consumer's record still checked).

    Args:
        path: an artifact with a lineage sidecar.
        select: keep, among the inputs of the first artifact, only those whose path contains
            every value (e.g. {"model": "m", "benchmark": "gsm8k", "config": "sample"}).
        audit: the :class:`~goodbadgreedy.audit.Auditor` to record in (its ``summary()`` then
            counts the files this trace checked); a fresh one by default.

    Returns:
        Depth-first list of nodes ``{"depth", "artifact", "sha256", "current", "status",
        "problems", "repeat", "stage", "params", "wildcards"}``: ``artifact`` the display path;
        ``sha256`` the digest recorded for it here (the root's: its own sidecar's; an input's: by
        the artifact above it); ``current`` its sha256 now (None when gone); ``status`` ``ok``,
        ``changed`` (a record checked at this node differs: its consumer's, or on first visit its
        own sidecar's) or ``missing``; ``problems`` those differing
        :class:`~goodbadgreedy.audit.Record` s; ``repeat`` True when the artifact was already
        followed above (its inputs are not listed again); ``stage``/``params``/``wildcards`` from
        its sidecar (None for raw files).

    Raises:
        DataError: ``path`` is missing, has no lineage sidecar, or a sidecar on the way is malformed.
    """
    audit = audit if audit is not None else Auditor()
    root = Auditor.key(path)
    if not os.path.isfile(root):
        if os.path.exists(root):
            raise DataError(f"{path}: not a file")
        left = sidecar(path, "lineage")
        if left.is_file():
            raise DataError(f"{path}: no such file (its lineage sidecar {left} is still there: "
                            "the artifact was deleted or moved)")
        raise DataError(f"{path}: no such file")
    rec = audit.sidecar(root)
    if rec is None:
        raise DataError(f"{path}: no lineage sidecar {sidecar(path, 'lineage')} (was it produced by the pipeline?)")
    base = workflow_root(root, rec.get("artifact"))
    nodes: list[dict[str, Any]] = []

    def visit(key: str, via: Record | None, depth: int, filt: Mapping[str, str] | None) -> None:
        rec = audit.sidecar(key)
        first = audit.mark_followed(key)
        reach = [via] if via is not None else []
        if rec is not None and first:
            own = audit.note_own(key)
            reach.insert(0, own)
        now = audit.current(key)
        problems = [r for r in reach if r.recorded != now]
        nodes.append({
            "depth": depth, "artifact": display(key), "sha256": (via or reach[0]).recorded, "current": now,
            "status": MISSING if now is None else (CHANGED if problems else OK), "problems": problems,
            "repeat": not first, "stage": rec.get("stage") if rec else None,
            "params": rec.get("params") if rec else None, "wildcards": rec.get("wildcards") if rec else None,
        })
        if rec is None or not first:
            return
        for inp, digest in sorted(rec["inputs"].items()):
            parts = Path(inp).parts
            if filt and not all(v in parts or any(x.startswith(v + ".") for x in parts) for v in filt.values()):
                continue
            ikey = Auditor.key(inp, base)
            visit(ikey, audit.note(ikey, digest, display(key)), depth + 1, None)

    visit(root, None, 0, select)
    return nodes


def format_trace(nodes: list[dict[str, Any]]) -> str:
    """Render :func:`trace` output as an indented tree, one line per node.

    A node's line is ``[stage] path  sha256:<first 16 hex of its current sha256>`` (``[source]``
    for a file without sidecar, ``missing`` for one that is gone), its params below; a node
    already shown above is one line ending in ``(see above)``. A node that is not ok ends in
    ``!! CHANGED`` / ``!! MISSING`` and is followed by its current sha256 and each differing
    record with its writer (:func:`goodbadgreedy.audit.record_lines`).
    """
    lines = []
    for n in nodes:
        pad = "  " * n["depth"]
        stage = f"[{n['stage']}] " if n["stage"] else "[source] "
        now = n.get("current", n["sha256"])
        where = "(see above)" if n.get("repeat") else (f"sha256:{now[:16]}" if now else "missing")
        flag = "" if n["status"] == OK else f"  !! {n['status'].upper()}"
        lines.append(f"{pad}{stage}{n['artifact']}  {where}{flag}")
        if n["status"] != OK:
            lines += record_lines(n.get("problems", []), now, pad + "    ")
        if n["params"] and not n.get("repeat"):
            lines.append(f"{pad}    params: {json.dumps(n['params'], sort_keys=True)}")
    return "\n".join(lines)


__all__ = ["ValidationError", "format_trace", "publish_table", "read_lineage", "sha256_file", "trace", "write_lineage"]
