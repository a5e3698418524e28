"""Provenance sidecars and the ``goodbadgreedy lineage`` command.

Every published artifact ``X`` gets two files beside it:

* ``X.validation.json``: the great-expectations result of its table suite (stage tables only;
  a table that fails its suite is not published, and its result goes to the job's log instead:
  :func:`publish_table`);
* ``X.lineage.json``: the stage, its wildcards and params subset, the sha256 of the artifact and
  of every input, the model weights' sha256 where a model was used, package versions and the git
  commit.

The artifact's bytes depend only on params and inputs (no timestamps, no commit), so that it can
be rebuilt byte for byte; the environment goes in the sidecar. Reading them back is
:mod:`goodbadgreedy.audit`'s job (``goodbadgreedy lineage`` and ``verify``): every pipeline stage
imports this module, so its code is part of every stage's code fingerprint, while the checks are
not.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping

import polars as pl

from goodbadgreedy.errors import DataError, ValidationError
from goodbadgreedy.io import sha256_file, sidecar, write_csv, write_json, write_parquet
from goodbadgreedy.provenance import plain

log = logging.getLogger(__name__)

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

    Policy: no sidecar ever describes a file that is not there.

    * Valid table: ``output`` is written first, then ``output.validation.json`` (the
      great-expectations result), then ``output.lineage.json``.
    * Failing table: nothing is written, neither ``output`` nor a sidecar (an older ``output``
      and its sidecars, if any, are left as they were: they still describe each other). The full
      validation result goes, as indented JSON, to the ``goodbadgreedy.lineage`` logger at ERROR
      level, which in a pipeline job is the job's log file
      (:func:`goodbadgreedy.stage_log.to_log`), and the raised error summarises it (each failed
      expectation, its columns and offending rows) and carries it as ``result``.

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

    Raises:
        ValidationError: the table fails its suite; the message names ``output``, the failures,
            and where the full result is (the log).
    """
    from goodbadgreedy.validation import validate_table

    try:
        result = validate_table(df, kind, expected_rows=expected_rows)
    except ValidationError as exc:
        if exc.result is not None:
            log.error("validation of %s failed (%s not written); full result:\n%s", output, output,
                      json.dumps(exc.result, indent=2, sort_keys=True, ensure_ascii=False))
        error = ValidationError(f"{output} not written: {exc}\n(the full validation result is in the "
                                "log, above this error: logger goodbadgreedy.lineage)")
        error.result = exc.result
        raise error from exc
    if str(output).endswith(".csv"):
        write_csv(df, output)
    else:
        write_parquet(df, output)
    write_json(result, sidecar(output, "validation"))
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


__all__ = ["ValidationError", "publish_table", "read_lineage", "sha256_file", "write_lineage"]
