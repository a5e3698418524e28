"""The sample cache: an append-only JSON-lines store of finished samples, fsynced per append.

The generate stage (:func:`goodbadgreedy.generation.run.generate_table`) keeps one per (model,
benchmark, config key) and appends each sample the moment the backend reports it finished (one
record per append), so a killed run loses only the samples in flight; the judge client
(:class:`goodbadgreedy.judge.client.JudgementCache`) keeps its judgements in a subclass. It lives
here, below both, so that the judge does not import the generate stage (``tests/test_imports.py``
checks the layers).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class SampleCache:
    """Append-only JSON-lines store of finished samples for one (model, benchmark, config key).

    Args:
        path: the ``.jsonl`` file (created with its folders on first append).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def load(self) -> dict[tuple[str, int], dict[str, Any]]:
        """Return {(item_id, sample_idx): record}; a torn or corrupt line is skipped with a warning."""
        out: dict[tuple[str, int], dict[str, Any]] = {}
        if not self.path.is_file():
            return out
        with open(self.path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                try:
                    rec = json.loads(line)
                    out[(rec["item_id"], int(rec["sample_idx"]))] = rec
                except (ValueError, KeyError, TypeError):
                    log.warning("%s:%d: skipping a torn or corrupt cache line (interrupted write)", self.path, n)
        return out

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append records and fsync, so that they survive a crash right after."""
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
        with open(self.path, "a", encoding="utf-8") as fh:
            # a previous crash may have left a torn line without newline: start on a fresh line
            if fh.tell() > 0:
                with open(self.path, "rb") as rh:
                    rh.seek(-1, os.SEEK_END)
                    if rh.read(1) != b"\n":
                        data = "\n" + data
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


__all__ = ["SampleCache"]
