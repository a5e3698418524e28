"""Outputs that DVC put back behind Snakemake's back: found from their lineage sidecars.

Snakemake decides whether a job is stale from its own record of the job's last run
(``.snakemake/metadata``: params, input checksums, and as ``endtime`` the output's mtime when the
job ended). DVC restores outputs (``dvc checkout``, ``dvc exp apply``, ``dvc pull``, its
run-cache) together with their ``.lineage.json`` sidecars, but not Snakemake's record, which can
then describe another file than the one on disk. Example: generate at temperature 1.0, ``dvc exp
run -S ...temperature=0.7``, ``dvc checkout`` back to 1.0, then set 0.7 in params.yaml:
Snakemake's record says 0.7, the job looks current, and the 1.0 table would be kept, and recorded
by DVC, as the 0.7 result; the check tables restored beside it would be kept too, because the
regenerated input matches the checksum in their (later) record.

Policy (:func:`restored_stale`):

1. Snakemake's record describes an output when it holds the params the output's sidecar holds
   and no input checksum that differs from the sidecar's (:func:`describes`): the record is of
   the run that made the file. Then Snakemake decides, as usual. (Not the file's mtime against the
   record's ``endtime``: DVC rewrites files when it caches them.)
2. Otherwise (restored, copied in, or no record) the sidecar, which travels with the file, is the
   truth: the output is stale when its job's params now differ from the sidecar's, or when an
   input's sha256 now differs from the sidecar's (a missing input counts as changed).
3. An output whose sidecar lists a stale output as input is stale too: it will be out of date
   once that input is re-made, and if its record is of another run, Snakemake would not say so.

The Snakefile stops on stale outputs with a message that names them and how to re-make them
(:func:`check_restored`: remove them, and the next run makes them again). Only Snakemake's record
is read, never written. This runs at every Snakemake start and imports nothing heavy: for each
output two small JSON reads; inputs are hashed only for undescribed outputs.
"""

from __future__ import annotations

import hashlib
import json
import os
from base64 import urlsafe_b64encode
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from goodbadgreedy.errors import ConfigError

#: Suffix of a lineage sidecar (``X.lineage.json`` beside artifact ``X``).
LINEAGE_SUFFIX = ".lineage.json"


def plain(obj: Any) -> Any:
    """Snakemake params/wildcards -> plain JSON values (mappings -> dicts, tuples -> lists).

    Anything else that is not a JSON scalar becomes its ``str``.
    """
    if isinstance(obj, Mapping) or (hasattr(obj, "items") and not isinstance(obj, (str, bytes))):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def snakemake_record(root: str | os.PathLike[str], output: str) -> dict[str, Any] | None:
    """Snakemake's metadata record of ``output`` (a path relative to ``root``), or None.

    Read from ``.snakemake/metadata/<urlsafe base64 of the path>``, as Snakemake 9 writes it (its
    ``persistence/file.py``; names longer than 255 characters are split into folders, which the
    paths of this pipeline never need). An unreadable record counts as none.
    """
    path = Path(root) / ".snakemake" / "metadata" / urlsafe_b64encode(output.encode()).decode()
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def describes(record: Mapping[str, Any] | None, sidecar: Mapping[str, Any]) -> bool:
    """Whether Snakemake's ``record`` is of the run that made the file ``sidecar`` describes.

    True when every param the record holds is one of the sidecar's (Snakemake keeps them as the
    ``repr`` of each value, and leaves out params computed from a job's output or resources, which
    the sidecar has) and no input checksum differs from the sidecar's sha256 of that input
    (Snakemake keeps checksums of small inputs only, as ``sha256:<hex>``).
    """
    if record is None or not isinstance(record.get("params"), list):
        return False
    if Counter(record["params"]) - Counter(repr(v) for v in sidecar["params"].values()):
        return False  # a param value of the record's run that the file was not made with
    for path, checksum in (record.get("input_checksums") or {}).items():
        sha = sidecar["inputs"].get(path)
        if sha is not None and str(checksum).split(":")[-1] != sha:
            return False
    return True


@dataclass(frozen=True)
class RestoredStale:
    """An output whose file was made with other params than its job has now.

    Attributes:
        output: the artifact, relative to the workflow root.
        rule: the rule that makes it.
        changed: what differs between the sidecar and now: param names, then ``input <path>``.
    """

    output: str
    rule: str
    changed: tuple[str, ...]


def restored_stale(
    root: str | os.PathLike[str],
    folders: Iterable[str],
    current: Callable[[str, Mapping[str, str]], Mapping[str, Any] | None],
) -> list[RestoredStale]:
    """Outputs under ``folders`` that are stale while Snakemake's record does not describe them.

    Args:
        root: the workflow folder (paths in sidecars and Snakemake's records are relative to it).
        folders: folders to search for ``*.lineage.json`` sidecars (missing ones are skipped).
        current: ``(rule, wildcards) -> params`` the job would get now, or None when the job is not
            part of the run any more (its output is then left alone).

    Returns:
        The outputs the module's policy (clauses 1-3) finds stale, sorted by output; ``changed``
        names the params that differ and ``input <path>`` for each changed input.
    """
    root = Path(root)
    digests: dict[str, str | None] = {}

    def sha256_now(rel: str) -> str | None:
        if rel not in digests:
            try:
                with open(root / rel, "rb") as fh:
                    digests[rel] = hashlib.file_digest(fh, "sha256").hexdigest()
            except OSError:
                digests[rel] = None
        return digests[rel]

    in_run: dict[str, dict[str, Any]] = {}  # output -> its sidecar, for the jobs of the run
    stale: dict[str, RestoredStale] = {}
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        for side in sorted(base.rglob("*" + LINEAGE_SUFFIX)):
            artifact = side.with_name(side.name[: -len(LINEAGE_SUFFIX)])
            try:
                artifact.stat()
                rec = json.loads(side.read_text())
                rule, wildcards, made_with, inputs = rec["stage"], rec["wildcards"], rec["params"], rec["inputs"]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # no artifact, or not a job's sidecar: goodbadgreedy lineage reports those
            now = current(rule, wildcards)
            if now is None:
                continue
            output = artifact.relative_to(root).as_posix()
            in_run[output] = rec
            if describes(snakemake_record(root, output), rec):
                continue  # clause 1: Snakemake's record is this file's
            now_plain = plain(now)
            changed = [k for k in sorted(set(now_plain) | set(made_with)) if now_plain.get(k) != made_with.get(k)]
            changed += [f"input {inp}" for inp, sha in sorted(inputs.items()) if sha256_now(inp) != sha]
            if changed:  # clause 2
                stale[output] = RestoredStale(output, rule, tuple(changed))
    grew = True
    while grew:  # clause 3, to a fixed point
        grew = False
        for output, rec in in_run.items():
            if output not in stale and any(inp in stale for inp in rec["inputs"]):
                stale[output] = RestoredStale(output, rec["stage"], tuple(
                    f"input {inp}" for inp in sorted(rec["inputs"]) if inp in stale))
                grew = True
    return sorted(stale.values(), key=lambda s: s.output)


def check_restored(stale: list[RestoredStale]) -> None:
    """Stop with one message naming every restored stale output and how to re-make them (remove them).

    Raises:
        ConfigError: ``stale`` is not empty.
    """
    if not stale:
        return
    lines = [f"  {s.output} (rule {s.rule}; changed since it was made: {', '.join(s.changed)})" for s in stale[:20]]
    if len(stale) > 20:
        lines.append(f"  ... and {len(stale) - 20} more")
    files = " ".join(s.output for s in stale)
    raise ConfigError(
        f"{len(stale)} output(s) were made with other params or inputs than they have now, and "
        "Snakemake's record does not describe them (the files were put back or copied in without it: "
        "dvc checkout, exp apply, pull and DVC's run-cache restore files, not Snakemake's record of "
        "the jobs):\n" + "\n".join(lines)
        + f"\nRemove them (DVC's cache keeps a copy of what it tracks) and run again; Snakemake re-makes "
        f"them:\n  rm {files}\nthen dvc repro (or snakemake)"
    )


__all__ = ["LINEAGE_SUFFIX", "RestoredStale", "check_restored", "describes", "plain", "restored_stale",
           "snakemake_record"]
