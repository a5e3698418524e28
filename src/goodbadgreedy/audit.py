"""Check artifacts against their lineage sidecars: ``goodbadgreedy lineage`` and ``verify``.

:func:`trace` walks one artifact's chain (the ``lineage`` command's tree), :func:`verify_folder`
every artifact under a folder; both check files by the policy below. (The sidecars are written by
:mod:`goodbadgreedy.lineage`, which every stage imports; this module no stage imports, so editing
the checks re-runs nothing.)

Every published artifact ``X`` has a sidecar ``X.lineage.json`` that records ``sha256`` (the
artifact's own bytes) and ``inputs`` (``{path: sha256}`` of every file it was computed from). The
vendored raw files (``data/raw/...``, ``data/raw/SHA256SUMS``) have no sidecar; they are recorded
as inputs of the normalize stage's tables (``data/benchmarks/*.parquet``), which checked them
against ``data/raw/SHA256SUMS`` when they ran.

Policy (:class:`Auditor`):

1. **Own record.** An artifact with a sidecar is compared with the sidecar's ``sha256``
   (recorded by the sidecar itself).
2. **Input records.** Every input a sidecar records is compared with that record (recorded by
   the artifact whose sidecar it is); an input that has a sidecar of its own is checked in turn by
   clauses 1 and 2, down to files without a sidecar (the raw data).
3. **Status** of a file: ``missing`` when it is no regular file any more; ``changed`` when it
   exists and its current sha256 differs from at least one record of it (its own or any
   consumer's: a consumer that recorded other bytes was computed from another file); ``ok``
   otherwise.
4. **Once.** Each file is hashed once and each sidecar read and followed once, however many
   artifacts record it (the hash is cached per path).
5. **Paths.** Paths in sidecars are relative to the workflow folder they were written in. That
   folder is the artifact's path minus the path its sidecar records under ``artifact`` (so
   ``goodbadgreedy verify /elsewhere/results`` works from any folder); where they do not line up,
   the current folder.

The summary counts distinct files: ``N artifacts verified`` is every file checked (the artifacts
with a sidecar and every input reached from them, inside the folder or not: ``models/``,
``data/``), whatever its status; ``M changed`` and ``K missing`` are the files with those
statuses (a file counts once however many records it breaks).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from goodbadgreedy.errors import DataError
from goodbadgreedy.io import sha256_file
from goodbadgreedy.provenance import LINEAGE_SUFFIX

OK, CHANGED, MISSING = "ok", "changed", "missing"


@dataclass(frozen=True)
class Record:
    """One record of a file's sha256: what it says and who wrote it.

    Attributes:
        path: the file recorded (display path: relative to the current folder when inside it).
        recorded: the sha256 (hex) the record holds.
        by: display path of the record's writer: the artifact whose sidecar lists the file as an
            input, or the file's own sidecar (``X.lineage.json``).
    """

    path: str
    recorded: str
    by: str


@dataclass(frozen=True)
class Summary:
    """Counts of distinct files (the module docstring's last paragraph)."""

    checked: int
    changed: int
    missing: int

    @property
    def ok(self) -> bool:
        """True when nothing changed and nothing is missing."""
        return not (self.changed or self.missing)

    def line(self) -> str:
        """``N artifacts verified, M changed, K missing``."""
        noun = "artifact" if self.checked == 1 else "artifacts"
        return f"{self.checked} {noun} verified, {self.changed} changed, {self.missing} missing"


def sidecar_path(artifact: str | os.PathLike[str]) -> Path:
    """``X.lineage.json`` of artifact ``X``."""
    return Path(f"{artifact}{LINEAGE_SUFFIX}")


def display(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the current folder when inside it, else absolute."""
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute)
    except ValueError:  # another drive (Windows)
        return absolute
    return absolute if rel == ".." or rel.startswith(".." + os.sep) else rel


def workflow_root(artifact: str | os.PathLike[str], recorded: str | None) -> Path:
    """The folder relative sidecar paths start from (clause 5).

    Args:
        artifact: where the artifact is now.
        recorded: the ``artifact`` field of its sidecar (the path it was written under).

    Returns:
        ``artifact`` minus ``recorded`` when the latter is a relative path that ends the former,
        else the current folder.
    """
    here = Path.cwd()
    if not recorded or os.path.isabs(recorded):
        return here
    tail = Path(os.path.normpath(recorded)).parts
    actual = Path(os.path.abspath(artifact)).parts
    if tail and ".." not in tail and len(actual) > len(tail) and actual[-len(tail):] == tail:
        return Path(*actual[: -len(tail)])
    return here


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


class Auditor:
    """Hashes, sidecars and records of the files one command checks (module policy, clauses 1-4).

    Files are keyed by absolute normalized path; :meth:`summary` and :meth:`problems` report
    display paths.
    """

    def __init__(self) -> None:
        self._digests: dict[str, str | None] = {}
        self._sidecars: dict[str, dict[str, Any] | None] = {}
        self._records: dict[str, list[Record]] = {}
        self._followed: set[str] = set()

    @staticmethod
    def key(path: str | os.PathLike[str], base: str | os.PathLike[str] | None = None) -> str:
        """Absolute normalized path of ``path`` (relative ones start at ``base``, default cwd)."""
        p = os.fspath(path)
        if base is not None and not os.path.isabs(p):
            p = os.path.join(base, p)
        return os.path.normpath(os.path.abspath(p))

    def current(self, key: str) -> str | None:
        """The file's sha256 now (hashed once), or None when it is no regular file.

        Raises:
            DataError: the file exists but cannot be read.
        """
        if key not in self._digests:
            if os.path.isfile(key):
                try:
                    self._digests[key] = sha256_file(key)
                except OSError as exc:
                    raise DataError(f"{display(key)}: cannot read it to check its sha256 ({exc})") from exc
            else:
                self._digests[key] = None
        return self._digests[key]

    def sidecar(self, key: str) -> dict[str, Any] | None:
        """The lineage record of artifact ``key`` (read once), or None when it has no sidecar.

        Raises:
            DataError: the sidecar is unreadable, not JSON, or lacks a 64-hex ``sha256`` or an
                ``inputs`` mapping of paths to 64-hex digests (the message names the sidecar).
        """
        if key not in self._sidecars:
            side = sidecar_path(key)
            if not side.is_file():
                self._sidecars[key] = None
            else:
                where = display(side)
                try:
                    rec = json.loads(side.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise DataError(f"{where}: not a readable lineage record ({exc})") from exc
                if not isinstance(rec, dict) or not _is_sha256(rec.get("sha256")):
                    raise DataError(f"{where}: not a lineage record (no 64-hex 'sha256' of the artifact)")
                inputs = rec.get("inputs")
                if not isinstance(inputs, dict) or not all(
                    isinstance(k, str) and _is_sha256(v) for k, v in inputs.items()
                ):
                    raise DataError(f"{where}: not a lineage record ('inputs' is not a {{path: sha256}} mapping)")
                self._sidecars[key] = rec
        return self._sidecars[key]

    def note(self, key: str, recorded: str, by: str) -> Record:
        """Register that ``by`` recorded ``recorded`` as the sha256 of file ``key``; return the record."""
        rec = Record(display(key), recorded, by)
        self._records.setdefault(key, []).append(rec)
        self.current(key)
        return rec

    def note_own(self, key: str) -> Record | None:
        """Clause 1: register artifact ``key``'s own record (None when it has no sidecar)."""
        rec = self.sidecar(key)
        return None if rec is None else self.note(key, rec["sha256"], display(sidecar_path(key)))

    def status(self, key: str) -> str:
        """Clause 3: ``ok``, ``changed`` or ``missing`` over every record of ``key`` so far."""
        now = self.current(key)
        if now is None:
            return MISSING
        return CHANGED if any(r.recorded != now for r in self._records.get(key, ())) else OK

    def follow(self, key: str, base: str | os.PathLike[str]) -> None:
        """Clauses 1, 2 and 4 from artifact ``key``: its own record and its inputs', recursively, once.

        Args:
            key: an artifact (see :meth:`key`).
            base: the workflow folder its sidecar's relative input paths start from.
        """
        todo = [key]
        while todo:
            k = todo.pop()
            if k in self._followed:
                continue
            self._followed.add(k)
            rec = self.sidecar(k)
            if rec is None:
                continue
            self.note_own(k)
            for inp, digest in sorted(rec["inputs"].items()):
                ik = self.key(inp, base)
                self.note(ik, digest, display(k))
                todo.append(ik)

    def records(self) -> dict[str, list[Record]]:
        """Every record noted so far, by file key (a copy)."""
        return {k: list(v) for k, v in self._records.items()}

    def mark_followed(self, key: str) -> bool:
        """Mark ``key`` followed; return False when it already was (for walks that do their own)."""
        if key in self._followed:
            return False
        self._followed.add(key)
        return True

    def problems(self) -> list[tuple[str, str, str | None, list[Record]]]:
        """Every file that is not ``ok``, sorted by path.

        Returns:
            ``(display path, status, current sha256 or None, the records that differ from it)``
            per file.
        """
        out = []
        for key, records in self._records.items():
            status = self.status(key)
            if status != OK:
                now = self.current(key)
                out.append((display(key), status, now, [r for r in records if r.recorded != now]))
        return sorted(out, key=lambda p: p[0])

    def summary(self) -> Summary:
        """Counts of distinct files checked so far (every file with at least one record)."""
        statuses = [self.status(k) for k in self._records]
        return Summary(len(statuses), statuses.count(CHANGED), statuses.count(MISSING))


def record_lines(records: list[Record], current: str | None, indent: str = "    ") -> list[str]:
    """``current`` then each differing record, aligned: the sha256 side by side (or ``missing``)."""
    lines = [f"{indent}current  " + (f"sha256:{current}" if current else "missing")]
    lines += [f"{indent}recorded sha256:{r.recorded}  by {r.by}" for r in records]
    return lines


def sidecars_under(folder: str | os.PathLike[str]) -> list[Path]:
    """Every ``*.lineage.json`` file under ``folder`` (symlinked folders not followed), sorted."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found += [Path(root, f) for f in files if f.endswith(LINEAGE_SUFFIX) and f != LINEAGE_SUFFIX]
    return sorted(found)


def verify_folder(folder: str | os.PathLike[str]) -> Auditor:
    """``goodbadgreedy verify``: every artifact with a sidecar under ``folder``, and all it recorded.

    Each sidecar's artifact is checked against it (a sidecar whose artifact is gone counts the
    artifact as missing), and every recorded input recursively (module policy).

    Args:
        folder: e.g. ``results``.

    Returns:
        The :class:`Auditor`; its :meth:`~Auditor.problems` and :meth:`~Auditor.summary` say the result.

    Raises:
        DataError: ``folder`` is not a folder, holds no sidecar, or a sidecar is malformed.
    """
    if not os.path.isdir(folder):
        raise DataError(f"{folder}: no such folder")
    sides = sidecars_under(folder)
    if not sides:
        raise DataError(f"{folder}: no {LINEAGE_SUFFIX} sidecar under it: nothing to verify")
    audit = Auditor()
    for side in sides:
        artifact = Auditor.key(str(side)[: -len(LINEAGE_SUFFIX)])
        rec = audit.sidecar(artifact)
        audit.follow(artifact, workflow_root(artifact, rec.get("artifact") if rec else None))
    return audit


def trace(
    path: str | os.PathLike[str],
    *,
    select: Mapping[str, str] | None = None,
    audit: Auditor | None = None,
) -> list[dict[str, Any]]:
    """Walk the lineage of ``path`` back to files without sidecars (raw data), verifying each file.

    The checks are the module policy's: ``path`` against its own sidecar, every input against
    the record of the artifact that lists it, recursively. Each artifact is followed once;
    a file reached again gives a node with ``repeat`` set (its consumer's record still checked).

    Args:
        path: an artifact with a lineage sidecar.
        select: keep, among the inputs of the first artifact, only those whose path contains
            every value (e.g. {"model": "m", "benchmark": "gsm8k", "config": "sample"}).
        audit: the :class:`Auditor` to record in (its ``summary()`` then counts the files this
            trace checked); a fresh one by default.

    Returns:
        Depth-first list of nodes ``{"depth", "artifact", "sha256", "current", "status",
        "problems", "repeat", "stage", "params", "wildcards"}``: ``artifact`` the display path;
        ``sha256`` the digest recorded for it here (the root's: its own sidecar's; an input's: by
        the artifact above it); ``current`` its sha256 now (None when gone); ``status`` ``ok``,
        ``changed`` (a record checked at this node differs: its consumer's, or on first visit its
        own sidecar's) or ``missing``; ``problems`` the differing :class:`Record` objects;
        ``repeat`` True when the file was already shown above (its inputs are not listed again);
        ``stage``/``params``/``wildcards`` from its sidecar (None for raw files).

    Raises:
        DataError: ``path`` is missing, has no lineage sidecar, or a sidecar on the way is malformed;
            ``select`` matches none of the inputs of ``path`` (that has inputs).
    """
    audit = audit if audit is not None else Auditor()
    root = Auditor.key(path)
    if not os.path.isfile(root):
        if os.path.exists(root):
            raise DataError(f"{path}: not a file")
        left = sidecar_path(path)
        if left.is_file():
            raise DataError(f"{path}: no such file (its lineage sidecar {left} is still there: "
                            "the artifact was deleted or moved)")
        raise DataError(f"{path}: no such file")
    rec = audit.sidecar(root)
    if rec is None:
        raise DataError(f"{path}: no lineage sidecar {sidecar_path(path)} (was it produced by the pipeline?)")
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
        inputs = sorted(rec["inputs"].items())
        if filt:
            inputs = [(inp, digest) for inp, digest in inputs
                      if all(v in Path(inp).parts or any(x.startswith(v + ".") for x in Path(inp).parts)
                             for v in filt.values())]
            if rec["inputs"] and not inputs:  # a typo would otherwise audit nothing and pass
                raise DataError(f"{path}: none of its {len(rec['inputs'])} inputs matches "
                                f"{','.join(filt.values())} (a path holding every value); check the names")
        for inp, digest in inputs:
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
    record with its writer (:func:`record_lines`).
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


def format_problems(audit: Auditor) -> str:
    """The problems of ``audit`` as text; empty when there is none.

    One block per file that is not ok: ``CHANGED path`` or ``MISSING path``, then its
    :func:`record_lines`.
    """
    lines = []
    for path, status, now, records in audit.problems():
        lines.append(f"{status.upper()} {path}")
        lines += record_lines(records, now)
    return "\n".join(lines)


__all__ = [
    "CHANGED",
    "MISSING",
    "OK",
    "Auditor",
    "Record",
    "Summary",
    "display",
    "format_problems",
    "format_trace",
    "record_lines",
    "sidecar_path",
    "sidecars_under",
    "trace",
    "verify_folder",
    "workflow_root",
]
