"""Vendored benchmark data: checksums, normalization (the normalize stage) and item subsets.

The raw files live in ``data/raw/<benchmark>/`` (copied from their origins, listed with licenses
in ``data/README.md``) and their sha256 sums in ``data/raw/SHA256SUMS``. The normalize stage
verifies every file of a benchmark against those sums before normalizing it, so a corrupted or
edited file stops the pipeline with the file's name.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

import polars as pl

from goodbadgreedy import benchmarks, tables
from goodbadgreedy.checksums import read_sums
from goodbadgreedy.errors import DataError
from goodbadgreedy.io import sha256_file


def verify_files(raw_root: str | Path, benchmark: str, sums_file: str | Path) -> dict[str, str]:
    """Check every raw file of ``benchmark`` against its recorded sha256.

    Args:
        raw_root: ``data/raw``.
        benchmark: registry name; its module's ``RAW_FILES`` are the files checked.
        sums_file: ``data/raw/SHA256SUMS``.

    Returns:
        {relative path: sha256} of the files checked (recorded for lineage).

    Raises:
        DataError: a file has no recorded sum, is missing, or its sum differs (naming the file).
    """
    sums = read_sums(sums_file)
    module = benchmarks.get(benchmark)
    checked: dict[str, str] = {}
    for name in module.RAW_FILES:
        rel = f"{benchmark}/{name}"
        path = Path(raw_root) / rel
        if rel not in sums:
            raise DataError(f"{path}: no sha256 recorded in {sums_file}")
        if not path.is_file():
            raise DataError(f"{path}: missing (vendored raw data; see data/README.md)")
        digest = sha256_file(path)
        if digest != sums[rel]:
            raise DataError(f"{path}: sha256 {digest} differs from the recorded {sums[rel]}; the file was changed")
        checked[rel] = digest
    return checked


def normalize(benchmark: str, raw_root: str | Path, sums_file: str | Path, options: Mapping[str, Any]) -> pl.DataFrame:
    """The normalize stage: verify the vendored files and normalize them to one table.

    Returns:
        A frame with ``tables.BENCHMARK_SCHEMA``, sorted by ``item_id``.

    Raises:
        DataError: see :func:`verify_files` and the benchmark module's ``load``.
    """
    verify_files(raw_root, benchmark, sums_file)
    module = benchmarks.get(benchmark)
    df = module.load(Path(raw_root) / benchmark, dict(options))
    return tables.conform(df, tables.BENCHMARK_SCHEMA, name=f"{benchmark} benchmark").sort("item_id")


def subset_key(seed: int, item_id: str) -> str:
    """Sort key of an item in the seeded subset: sha256 of ``"{seed}:{item_id}"`` (hex)."""
    return hashlib.sha256(f"{seed}:{item_id}".encode()).hexdigest()


def select_items(df: pl.DataFrame, n_items: int | None, seed: int) -> pl.DataFrame:
    """Return a seeded subset of ``n_items`` items (all when None), sorted by ``item_id``.

    Items are ranked by :func:`subset_key`, so the subset is a pure function of (seed, item ids):
    it does not depend on row order, and a larger ``n_items`` gives a superset of a smaller one.

    Raises:
        DataError: ``n_items`` exceeds the number of items.
    """
    if n_items is None:
        return df.sort("item_id")
    if n_items > df.height:
        bench = df["benchmark"][0] if df.height else "?"
        raise DataError(f"n_items={n_items} but benchmark {bench!r} has only {df.height} items")
    keys = pl.Series("_k", [subset_key(seed, i) for i in df["item_id"].to_list()])
    return df.with_columns(keys).sort("_k").head(n_items).drop("_k").sort("item_id")
