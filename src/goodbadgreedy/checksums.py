"""``data/raw/SHA256SUMS``: the sha256 of every vendored raw file (``sha256sum`` format).

Kept free of heavy imports: the Snakefile reads it at every start to know each benchmark's raw
files (the inputs of its normalize job) without importing the benchmark modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from goodbadgreedy.errors import DataError


def read_sums(sums_file: str | Path) -> dict[str, str]:
    """Parse a ``sha256sum`` file into {relative path: hex digest}.

    Args:
        sums_file: path of the file; each non-blank line is ``<64 hex>  <path>`` (``*<path>``
            for binary mode is accepted), paths relative to the file's folder.

    Raises:
        DataError: the file is missing or a line is malformed (naming the line number).
    """
    sums_file = Path(sums_file)
    if not sums_file.is_file():
        raise DataError(f"checksum file {sums_file} is missing")
    out: dict[str, str] = {}
    for n, line in enumerate(sums_file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(f"{sums_file}:{n}: not a 'sha256  path' line: {line!r}")
        out[parts[1].lstrip("*").strip()] = parts[0].lower()
    return out


def files_of(sums: dict[str, str], benchmark: str, declared: Sequence[str] | None = None) -> list[str]:
    """The paths ``sums`` lists under ``<benchmark>/``, sorted (relative to the sums file's folder).

    Args:
        sums: output of :func:`read_sums`.
        benchmark: the benchmark's folder name.
        declared: the benchmark's raw files (its spec's ``raw_files``, relative to its folder); when
            given, only these are returned: other files vendored in the folder (GSM8K's train
            split, kept for a check of the answer policy) are not the benchmark's inputs.

    Raises:
        DataError: none is listed (the benchmark's raw data was never vendored), or a declared file
            is not listed (named).
    """
    if declared is not None:
        missing = [f"{benchmark}/{f}" for f in declared if f"{benchmark}/{f}" not in sums]
        if missing:
            raise DataError(f"raw file(s) {missing} of benchmark {benchmark!r} not listed in the checksum file")
        return sorted(f"{benchmark}/{f}" for f in declared)
    files = sorted(p for p in sums if p.startswith(f"{benchmark}/"))
    if not files:
        raise DataError(f"no raw file of benchmark {benchmark!r} is listed in the checksum file")
    return files


__all__ = ["files_of", "read_sums"]
