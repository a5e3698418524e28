"""Atomic file writes.

A stage's output either appears complete or not at all: every writer first writes a temporary file
in the destination folder, flushes and fsyncs it, then renames it over the destination
(``os.replace`` is atomic on POSIX within one file system).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import polars as pl


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success rename it onto ``dest``.

    Args:
        dest: final path. Its parent folder is created if missing.

    Yields:
        A path in the same folder that the caller writes to. On an exception the temporary file is
        removed and ``dest`` is left as it was.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_parquet(df: pl.DataFrame, dest: str | os.PathLike[str]) -> None:
    """Write ``df`` to ``dest`` as parquet, atomically, with deterministic bytes.

    Statistics are disabled and compression fixed so that equal frames give equal files (needed
    for byte-for-byte rebuilds and stable DVC hashes).
    """
    with atomic_path(dest) as tmp:
        df.write_parquet(tmp, compression="zstd", compression_level=3, statistics=False)


def write_text(text: str, dest: str | os.PathLike[str]) -> None:
    """Write ``text`` (UTF-8) to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(obj: Any, dest: str | os.PathLike[str]) -> None:
    """Write ``obj`` as indented, key-sorted JSON to ``dest`` atomically."""
    write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", dest)


def write_csv(df: pl.DataFrame, dest: str | os.PathLike[str]) -> None:
    """Write ``df`` as CSV to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        df.write_csv(tmp)


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's bytes (read in ``chunk``-byte blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
