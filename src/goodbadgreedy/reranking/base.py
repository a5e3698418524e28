"""What every scorer shares: its inputs, its output and the scores table it becomes.

A scorer maps the samples of one generation table (one model x benchmark x decoding config) to
one finite float per (item_id, sample_idx), higher is better (Inspect's split: generation
produces samples, scorers produce scores, estimators turn scores into numbers). Every scorer
implements :class:`Scorer`: ``score(inputs) -> Scores``; :func:`score_table` runs one and
assembles the table (``tables.SCORES_SCHEMA``) that the score stage validates and publishes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple, Protocol

import numpy as np
import polars as pl

from goodbadgreedy import tables
from goodbadgreedy.errors import DataError

log = logging.getLogger(__name__)

#: The key of every per-sample table.
SAMPLE_KEYS = ("model", "benchmark", "config", "item_id", "sample_idx")


@dataclass(frozen=True)
class ScoringInputs:
    """Everything a scorer may read about one generation table.

    Attributes:
        generations: the generation table (``tables.GENERATION_SCHEMA``), rows in any order.
        checks: its check table (``tables.CHECK_SCHEMA``; ``extracted`` is the parsed answer), or
            ``None`` when the scorer does not need it.
        items: the benchmark items the generations answer (``tables.BENCHMARK_SCHEMA``), or
            ``None``.
        options: the benchmark's options (``benchmark_options.<benchmark>``), used to rebuild
            the prompt's messages.
    """

    generations: pl.DataFrame
    checks: pl.DataFrame | None = None
    items: pl.DataFrame | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


class Scores(NamedTuple):
    """A scorer's output, aligned with the rows of ``ScoringInputs.generations``.

    Attributes:
        reward: float array, shape ``(n_rows,)``; finite; higher is better.
        truncated: bool array, shape ``(n_rows,)``; true where the scorer saw a cut input.
    """

    reward: np.ndarray
    truncated: np.ndarray


class Scorer(Protocol):
    """The interface of every scorer (classes satisfy it structurally).

    Attributes:
        kind: the scorer type (``reward_model``, ``self_consistency``, ``logprob``).
    """

    kind: str

    def score(self, inputs: ScoringInputs) -> Scores:
        """Score every generation row of ``inputs`` (see :class:`Scores`)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the lineage sidecar records about the scorer (model path, sha, counts)."""
        ...


def check_same_keys(generations: pl.DataFrame, other: pl.DataFrame, *, what: str) -> None:
    """Check that ``other`` has exactly the (item_id, sample_idx) keys of ``generations``.

    Raises:
        DataError: a key is missing from either table or duplicated; the message names ``what``
            and the first offending keys.
    """
    keys = ["item_id", "sample_idx"]
    for name, df in (("generation table", generations), (what, other)):
        missing = [c for c in keys if c not in df.columns]
        if missing:
            raise DataError(f"{name} lacks column(s) {missing}")
        dup = df.select(keys).filter(pl.struct(keys).is_duplicated())
        if dup.height:
            raise DataError(f"{name}: duplicated (item_id, sample_idx) {dup.row(0)}")
    g = generations.select(pl.col("item_id"), pl.col("sample_idx").cast(pl.Int64))
    o = other.select(pl.col("item_id"), pl.col("sample_idx").cast(pl.Int64))
    only_g = g.join(o, on=keys, how="anti")
    only_o = o.join(g, on=keys, how="anti")
    if only_g.height or only_o.height:
        raise DataError(
            f"{what} does not match the generation table: "
            f"{only_g.height} generation key(s) missing from it (first: {only_g.head(3).rows()}), "
            f"{only_o.height} extra key(s) (first: {only_o.head(3).rows()})"
        )


def score_table(scorer: Scorer, name: str, inputs: ScoringInputs) -> pl.DataFrame:
    """Run ``scorer`` on one generation table and assemble the scores table.

    Args:
        scorer: any :class:`Scorer`.
        name: the scorer's key in params.yaml (``scorers.<name>``), written to the ``scorer``
            column.
        inputs: the generation table and what the scorer needs besides.

    Returns:
        A frame with ``tables.SCORES_SCHEMA``, one row per generation row, sorted by
        (item_id, sample_idx).

    Raises:
        DataError: the check table's keys differ from the generation table's, or the scorer
            returned the wrong number of scores or a non-finite one (the message names the row's
            item_id and sample_idx).
    """
    gen = inputs.generations.sort(["item_id", "sample_idx"])
    if inputs.checks is not None:
        check_same_keys(gen, inputs.checks, what="check table")
    inputs = ScoringInputs(gen, inputs.checks, inputs.items, inputs.options)
    out = scorer.score(inputs)
    reward = np.asarray(out.reward, dtype=np.float64).reshape(-1)
    truncated = np.asarray(out.truncated, dtype=bool).reshape(-1)
    if reward.shape[0] != gen.height or truncated.shape[0] != gen.height:
        raise DataError(
            f"scorer {name!r} returned {reward.shape[0]} scores / {truncated.shape[0]} truncation "
            f"flags for {gen.height} samples"
        )
    bad = np.flatnonzero(~np.isfinite(reward))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"scorer {name!r}: {bad.size} non-finite score(s); first: {reward[i]} at row {i} "
            f"(item_id {gen['item_id'][i]!r}, sample_idx {gen['sample_idx'][i]})"
        )
    n_trunc = int(truncated.sum())
    if n_trunc:
        log.warning("scorer %r: %d of %d samples were truncated to the maximum input length "
                    "(column 'truncated')", name, n_trunc, gen.height)
    df = gen.select(SAMPLE_KEYS).with_columns(
        pl.lit(name).alias("scorer"),
        pl.Series("reward", reward, dtype=pl.Float64),
        pl.Series("truncated", truncated, dtype=pl.Boolean),
    )
    return tables.conform(df, tables.SCORES_SCHEMA, name=f"scores:{name}")
