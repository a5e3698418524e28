"""What every benchmark module shares: the interface, option handling and the check loop.

A benchmark is one small module (lm-evaluation-harness style) exposing ``NAME``, ``RAW_FILES``,
``DEFAULT_OPTIONS``, ``load``, ``build_prompt`` and ``check`` (see :class:`Benchmark`). This
module holds the pieces they share so that each module only states what is specific to it.
The prompt type (:mod:`goodbadgreedy.prompts`) and the check-table rows
(:mod:`goodbadgreedy.check_table`) live below this package: the backends and the judge use them too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

import polars as pl

from goodbadgreedy import tables
from goodbadgreedy.check_table import Judgement, check_frame, items_for
from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.prompts import Prompt


class Benchmark(Protocol):
    """The interface every benchmark module implements (modules satisfy it structurally)."""

    NAME: str
    RAW_FILES: tuple[str, ...]
    DEFAULT_OPTIONS: dict[str, Any]

    def load(self, raw_dir: Path, options: dict[str, Any]) -> pl.DataFrame:
        """Read the vendored files under ``raw_dir`` into a ``tables.BENCHMARK_SCHEMA`` frame."""
        ...

    def build_prompt(self, item: dict[str, Any], options: dict[str, Any]) -> Prompt:
        """The chat prompt of one item (a row of the benchmark table)."""
        ...

    def check(
        self, items: pl.DataFrame, generations: pl.DataFrame, options: dict[str, Any]
    ) -> pl.DataFrame:
        """One ``tables.CHECK_SCHEMA`` row per generation row: extracted answer, gold, score, verdict."""
        ...


def merge_options(
    benchmark: str, defaults: Mapping[str, Any], options: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Return ``defaults`` updated with ``options``.

    Args:
        benchmark: the benchmark's name, for error messages.
        defaults: the module's ``DEFAULT_OPTIONS``.
        options: user options (``None`` means none).

    Returns:
        A new dict with every default key.

    Raises:
        goodbadgreedy.errors.ConfigError: ``options`` holds a key that ``defaults`` lacks (the
            message names the key, the benchmark and the known keys).
    """
    options = dict(options or {})
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ConfigError(
            f"benchmark {benchmark!r}: unknown option(s) {unknown}; known: {sorted(defaults)}"
        )
    merged = dict(defaults)
    merged.update(options)
    return merged


def payload_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """Return an item's ``payload`` as a dict (it is a JSON string in the benchmark table).

    Raises:
        goodbadgreedy.errors.DataError: the payload is missing or not a JSON object (the message
            names the item_id).
    """
    raw = item.get("payload")
    if isinstance(raw, dict):
        return raw
    try:
        obj = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError as exc:
        raise DataError(f"item {item.get('item_id')!r}: payload is not valid JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise DataError(f"item {item.get('item_id')!r}: payload is not a JSON object")
    return obj


def dump_payload(obj: Mapping[str, Any]) -> str:
    """Serialize a payload deterministically (sorted keys, UTF-8 text kept as is)."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def benchmark_frame(rows: list[dict[str, Any]], *, name: str) -> pl.DataFrame:
    """Build a benchmark table from row dicts and check its key.

    Args:
        rows: dicts with the keys of ``tables.BENCHMARK_SCHEMA``.
        name: the benchmark's name, for error messages.

    Returns:
        A frame conforming to ``tables.BENCHMARK_SCHEMA``, rows in the given order.

    Raises:
        goodbadgreedy.errors.DataError: two rows share an ``item_id`` (named in the message).
    """
    df = pl.DataFrame(rows, schema=tables.BENCHMARK_SCHEMA) if rows else tables.empty(
        tables.BENCHMARK_SCHEMA
    )
    dup = df.filter(pl.col("item_id").is_duplicated())["item_id"].unique().to_list()
    if dup:
        raise DataError(f"benchmark {name!r}: duplicate item_id(s) {sorted(dup)[:5]}")
    return tables.conform(df, tables.BENCHMARK_SCHEMA, name=f"benchmark:{name}")


def check_each(
    items: pl.DataFrame,
    generations: pl.DataFrame,
    judge: Callable[[dict[str, Any], str], Judgement],
    *,
    name: str,
) -> pl.DataFrame:
    """Check every response independently with ``judge(item, response)``.

    Args:
        items: the benchmark table.
        generations: the generation table; a null response is judged as ``""``.
        judge: maps (item dict, response text) to a :class:`Judgement`.
        name: the benchmark's name, for error messages.

    Returns:
        The check table (``tables.CHECK_SCHEMA``), one row per generation row, same order.

    Raises:
        goodbadgreedy.errors.DataError: see :func:`~goodbadgreedy.check_table.items_for`.
    """
    matched = items_for(items, generations, name=name)
    responses = generations["response"].to_list()
    judgements = [judge(item, resp or "") for item, resp in zip(matched, responses, strict=True)]
    return check_frame(generations, judgements)


def verdict_for(extracted: str | None, gold: str, equal: bool, how: str) -> Judgement:
    """Build the judgement of an extracted answer: ``correct``, ``wrong`` or ``no_answer``.

    Args:
        extracted: the extracted answer, ``None`` if none was found.
        gold: the gold answer.
        equal: whether ``extracted`` matches ``gold`` (ignored when ``extracted`` is ``None``).
        how: which extraction rule fired (kept in ``detail``).
    """
    if extracted is None:
        return Judgement(None, gold, 0.0, "no_answer", how)
    if equal:
        return Judgement(extracted, gold, 1.0, "correct", how)
    return Judgement(extracted, gold, 0.0, "wrong", how)


def require_file(path: Path) -> Path:
    """Return ``path`` if it is a file.

    Raises:
        goodbadgreedy.errors.DataError: it is missing (the message names it).
    """
    if not path.is_file():
        raise DataError(f"raw data file missing: {path}")
    return path


def read_json(path: Path) -> Any:
    """Parse a vendored JSON file (UTF-8); the caller checks the shape it expects.

    Raises:
        goodbadgreedy.errors.DataError: the file is not valid JSON (the message names it).
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc


def json_objects(path: Path, lines: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    r"""Yield ``("{path}:{line}", object)`` for each non-blank line of a JSON-lines file.

    Args:
        path: the file, for messages.
        lines: its lines, split on ``"\n"`` only (``str.splitlines`` also breaks on U+2028 and
            U+0085, which answers hold inside strings).

    Raises:
        goodbadgreedy.errors.DataError: a line is not valid JSON, or not a JSON object (its line
            number named).
    """
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc})") from exc
        if not isinstance(rec, dict):
            raise DataError(f"{where}: not a JSON object")
        yield where, rec
