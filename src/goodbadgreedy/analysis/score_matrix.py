"""Check rows as one ``(n_items, n_samples)`` score matrix per (model, benchmark, config).

Most statistics tables are computed from these matrices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from goodbadgreedy.errors import DataError

#: The columns that identify one (model, benchmark, config) group of check or generation rows.
GROUP_KEYS = ["model", "benchmark", "config"]


@dataclass(frozen=True)
class ScoreMatrix:
    """The scores of one (model, benchmark, config) as an ``(n_items, n_samples)`` matrix.

    Rows are items sorted by ``item_id``; columns are ``sample_idx = 0..K-1``.
    """

    model: str
    benchmark: str
    config: str
    item_ids: tuple[str, ...]
    scores: np.ndarray  #: float, shape (n_items, n_samples), in [0, 1]
    answers: list[list[str | None]] = field(repr=False)  #: extracted answers, same layout
    gold: list[str] = field(repr=False)  #: gold answer per item ("" when the tests decide)

    @property
    def n_items(self) -> int:
        """Number of items (rows of ``scores``)."""
        return self.scores.shape[0]

    @property
    def n_samples(self) -> int:
        """Number of samples per item (columns of ``scores``)."""
        return self.scores.shape[1]

    @property
    def correct(self) -> np.ndarray:
        """Binary correctness ``score == 1``, shape ``(n_items, n_samples)``."""
        return self.scores == 1.0

    @property
    def key(self) -> tuple[str, str, str]:
        """``(model, benchmark, config)``."""
        return (self.model, self.benchmark, self.config)


def score_matrices(checks: pl.DataFrame) -> dict[tuple[str, str, str], ScoreMatrix]:
    """Split check rows into one :class:`ScoreMatrix` per (model, benchmark, config).

    Args:
        checks: rows of ``tables.CHECK_SCHEMA``; the ``extracted`` column may be absent (then
            every answer is ``None``).

    Returns:
        ``{(model, benchmark, config): ScoreMatrix}`` in sorted key order.

    Raises:
        DataError: a group is unbalanced (an item lacks some of the ``sample_idx`` 0..K-1, or has
            duplicates); the message names the group.
    """
    out: dict[tuple[str, str, str], ScoreMatrix] = {}
    has_extracted = "extracted" in checks.columns
    for key, g in sorted(checks.group_by(GROUP_KEYS), key=lambda kv: kv[0]):
        g = g.sort(["item_id", "sample_idx"])
        items = g["item_id"].unique(maintain_order=True).to_list()
        n, h = len(items), g.height
        k = h // n if n else 0
        expected = np.tile(np.arange(k), n)
        if n == 0 or n * k != h or not np.array_equal(g["sample_idx"].to_numpy(), expected):
            raise DataError(
                f"checks of {'/'.join(map(str, key))}: every item needs sample_idx 0..K-1 exactly once "
                f"({n} items, {h} rows)"
            )
        scores = g["score"].to_numpy().astype(float).reshape(n, k)
        ext = g["extracted"].to_list() if has_extracted else [None] * h
        answers = [ext[i * k:(i + 1) * k] for i in range(n)]
        gold = g["gold"].to_list()[::k] if "gold" in g.columns else [""] * n
        out[tuple(key)] = ScoreMatrix(*key, tuple(items), scores, answers, [x or "" for x in gold])
    return out
