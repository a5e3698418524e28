"""Atomic file writes: every file a stage publishes goes through :func:`atomic_path`.

A stage's output either appears complete or not at all, and is readable by whoever the user's
umask lets read it. Policy of :func:`atomic_path` (every writer here, the PNG writers of
:mod:`goodbadgreedy.plots` and :mod:`goodbadgreedy.reranking.plot`, and the model manifest use it):

1. the temporary file is created with ``os.open(..., O_CREAT | O_EXCL | O_WRONLY, 0o666)`` under a
   unique name (``.<dest name>.<pid>.<random>.tmp``) in the destination folder, so that the kernel
   applies the umask: 0644 under umask 022, 0664 under 002, 0600 under 077 (``tempfile.mkstemp``
   would force 0600 whatever the umask);
2. the caller writes it (by path: polars, matplotlib and ``open`` rewrite the file in place, its
   mode stays);
3. the file is flushed to disk (``fsync``), renamed onto the destination (``os.replace``, atomic
   on POSIX within one file system), and the folder is fsynced so that the rename itself survives
   a crash;
4. on any exception (also ``KeyboardInterrupt``) the temporary file is removed and the destination
   is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, Iterator

import polars as pl

#: Mode a new file is created with, before the umask (``open()``'s own default).
FILE_MODE = 0o666


def current_umask() -> int:
    """The process's umask (e.g. ``0o022``), read without changing it where Linux tells it.

    Read from ``/proc/self/status`` (Linux >= 4.7); elsewhere set and restored at once with
    ``os.umask`` (not thread-safe there, like any umask change).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(folder: str | os.PathLike[str]) -> list[Path]:
    """Give every regular file under ``folder`` the mode a new file gets: 0o666 minus the umask.

    For files a third-party writer creates with a fixed mode (``safetensors`` writes weights 0600
    whatever the umask), so that they read like every other output.

    Args:
        folder: a folder (searched recursively) or a single file.

    Returns:
        The files whose mode was changed.

    Raises:
        OSError: a file's mode cannot be changed (e.g. it belongs to another user).
    """
    mode = FILE_MODE & ~current_umask()
    root = Path(folder)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    changed = []
    for path in files:
        if path.stat().st_mode & 0o7777 != mode:
            os.chmod(path, mode)
            changed.append(path)
    return changed


def _create_temp(dest: Path) -> Path:
    """Create an empty, new file beside ``dest`` (mode :data:`FILE_MODE` & ~umask) and return its path."""
    while True:
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
        except FileExistsError:  # another writer drew the same name: draw again
            continue
        os.close(fd)
        return tmp


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk; a file system that cannot is let be."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new temporary path beside ``dest``; on success move it onto ``dest`` (module policy).

    Args:
        dest: final path. Its parent folder is created if missing (with the umask's mode).

    Yields:
        The path of an empty file in the same folder, created with mode 0o666 minus the umask,
        which the caller writes (by path). When the ``with`` block ends without an exception, the
        file is fsynced, renamed onto ``dest`` and the folder fsynced. On an exception the
        temporary file is removed, ``dest`` is left as it was, and the exception propagates.

    Raises:
        OSError: the folder cannot be created or written (as raised by the OS).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _create_temp(dest)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _fsync_dir(dest.parent)


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


def sidecar(path: str | os.PathLike[str], kind: str) -> Path:
    """Path of artifact ``path``'s ``lineage`` or ``validation`` sidecar: ``<path>.<kind>.json``."""
    return Path(f"{path}.{kind}.json")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's bytes (read in ``chunk``-byte blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
