"""Every statistics table of the aggregate stage in one call (``{outdir}/stats/*.csv``)."""

from __future__ import annotations

from typing import Any, Mapping

import polars as pl

from goodbadgreedy.analysis.intervals import intervals_table
from goodbadgreedy.analysis.lengths import lengths_table
from goodbadgreedy.analysis.options import StatsOptions
from goodbadgreedy.analysis.paired import paired_table
from goodbadgreedy.analysis.passk import passk_table
from goodbadgreedy.analysis.ranks import rank_flips_table, ranks_table
from goodbadgreedy.analysis.score_matrix import score_matrices
from goodbadgreedy.analysis.variance import variance_table


def stats_tables(
    checks: pl.DataFrame,
    generations: pl.DataFrame,
    decoding: Mapping[str, Mapping[str, Any]],
    greedy: str,
    opts: StatsOptions,
) -> dict[str, pl.DataFrame]:
    """All stats tables, keyed as :data:`~goodbadgreedy.plan.STATS_FILES`.

    Args:
        checks: check rows of every model x benchmark x config (``tables.CHECK_SCHEMA``).
        generations: the matching generation rows (``response_tokens``, ``finish_reason``).
        decoding: params.yaml's ``decoding`` (which configs sample).
        greedy: the greedy config Table 1 uses (:func:`goodbadgreedy.plan.table1_configs`).
        opts: :class:`~goodbadgreedy.analysis.options.StatsOptions`.

    Returns:
        ``{name: DataFrame}`` for ``passk``, ``intervals``, ``paired``, ``variance``, ``ranks``,
        ``rank_flips``, ``lengths``.

    Raises:
        DataError: unbalanced check tables (see :func:`~goodbadgreedy.analysis.score_matrix.score_matrices`).
    """
    mats = score_matrices(checks)
    present = {k[2] for k in mats}
    samples = [c for c, v in decoding.items() if v.get("do_sample") and c in present]
    return {
        "passk": passk_table(mats, opts.taus),
        "intervals": intervals_table(mats, opts),
        "paired": paired_table(mats, greedy, samples, opts),
        "variance": variance_table(mats),
        "ranks": ranks_table(mats, greedy, samples),
        "rank_flips": rank_flips_table(mats, greedy, samples),
        "lengths": lengths_table(generations, greedy, opts),
    }
