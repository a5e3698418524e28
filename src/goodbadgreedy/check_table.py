"""Rows of a check table (``tables.CHECK_SCHEMA``): one :class:`Judgement` per generation row.

Benchmark checks (:mod:`goodbadgreedy.benchmarks.base`), the judge's check
(:mod:`goodbadgreedy.judge.check`) and the reward-model scorer match generation rows to their
items and assemble check tables with these helpers; they live below all of them
(``tests/test_imports.py`` checks the layers).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import polars as pl

from goodbadgreedy import tables
from goodbadgreedy.errors import DataError

#: Generation columns :func:`items_for` needs and :func:`check_frame` copies.
_GEN_KEYS = ("model", "benchmark", "config", "item_id", "sample_idx")
#: The check table's columns after the generation keys: what a Judgement fills.
_JUDGED = tuple(c for c in tables.CHECK_SCHEMA if c not in _GEN_KEYS)


class Judgement(NamedTuple):
    """The check of one response (one row of ``tables.CHECK_SCHEMA`` minus the copied keys).

    The ``judge_*`` fields are set by judge-based benchmarks only (see
    :mod:`goodbadgreedy.judge.check`); they stay None elsewhere.
    """

    extracted: str | None
    gold: str
    score: float
    verdict: str
    detail: str
    judge_prompt: str | None = None
    judge_output: str | None = None
    judge_parse_failures: int | None = None


def items_for(
    items: pl.DataFrame, generations: pl.DataFrame, *, name: str
) -> list[dict[str, Any]]:
    """Return, for each generation row (in order), the benchmark item it answers.

    Args:
        items: the benchmark table (``tables.BENCHMARK_SCHEMA``).
        generations: the generation table (``tables.GENERATION_SCHEMA``; needs at least the key
            columns and ``response``).
        name: the benchmark's name, for error messages.

    Returns:
        One item dict per generation row.

    Raises:
        goodbadgreedy.errors.DataError: a required column is missing, ``items`` has duplicate
            item_ids, or a generation refers to an item_id that ``items`` lacks (named).
    """
    missing = [c for c in (*_GEN_KEYS, "response") if c not in generations.columns]
    if missing:
        raise DataError(f"{name}: generations table lacks column(s) {missing}")
    if "item_id" not in items.columns:
        raise DataError(f"{name}: benchmark table lacks column 'item_id'")
    index: dict[str, dict[str, Any]] = {}
    for row in items.iter_rows(named=True):
        if row["item_id"] in index:
            raise DataError(f"{name}: benchmark table has duplicate item_id {row['item_id']!r}")
        index[row["item_id"]] = row
    out = []
    for i, item_id in enumerate(generations["item_id"].to_list()):
        try:
            out.append(index[item_id])
        except KeyError:
            raise DataError(
                f"{name}: generation row {i} refers to unknown item_id {item_id!r}"
            ) from None
    return out


def check_frame(generations: pl.DataFrame, judgements: Sequence[Judgement]) -> pl.DataFrame:
    """Assemble a check table: the generation keys plus one judgement per generation row.

    Args:
        generations: the generation table (its key columns are copied across, in order).
        judgements: one per generation row, same order.

    Returns:
        A frame conforming to ``tables.CHECK_SCHEMA``.

    Raises:
        goodbadgreedy.errors.DataError: the lengths differ.
    """
    if len(judgements) != generations.height:
        raise DataError(
            f"check: {len(judgements)} judgements for {generations.height} generation rows"
        )
    keys = generations.select(_GEN_KEYS)
    judged = pl.DataFrame(
        {
            "extracted": [j.extracted for j in judgements],
            "gold": [j.gold for j in judgements],
            "score": [float(j.score) for j in judgements],
            "verdict": [j.verdict for j in judgements],
            "detail": [j.detail for j in judgements],
            "judge_prompt": [j.judge_prompt for j in judgements],
            "judge_output": [j.judge_output for j in judgements],
            "judge_parse_failures": [j.judge_parse_failures for j in judgements],
        },
        schema={c: tables.CHECK_SCHEMA[c] for c in _JUDGED},
    )
    out = pl.concat([keys, judged], how="horizontal")
    return tables.conform(out, tables.CHECK_SCHEMA, name="check")


__all__ = ["Judgement", "check_frame", "items_for"]
