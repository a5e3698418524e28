"""The sweep table (``sweep.csv``): every sweep point's score by parameter value, model family and model."""

from __future__ import annotations

from typing import Mapping, Sequence

import polars as pl

#: The intervals.csv columns a sweep row carries over unchanged.
INTERVAL_COLUMNS = ("n_items", "n_samples", "mean", "run_std", "run_min", "run_max", "interval", "lo", "hi")
#: Columns of :func:`sweep_table` (``{outdir}/stats/sweep.csv``), in order.
SWEEP_COLUMNS = [
    "param", "value", "family", "model", "benchmark", "config", "greedy_decoding", *INTERVAL_COLUMNS, "greedy_mean",
]


def model_families(models: Sequence[str], families: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """``(family, model)`` pairs: each model once per family it belongs to, in families order.

    A model in no family comes once, with family ``""``. With no families, every model with ``""``.
    """
    pairs = [(f, m) for f, members in families.items() for m in members if m in models]
    grouped = {m for _, m in pairs}
    return pairs + [("", m) for m in models if m not in grouped]


def sweep_table(
    intervals: pl.DataFrame,
    sweeps: Mapping[str, Mapping[str, float]],
    *,
    greedy: str | None = None,
    families: Mapping[str, Sequence[str]] | None = None,
) -> pl.DataFrame:
    """The score of every sweep point, long format: one row per (param, value, family, model, benchmark).

    Rows are :func:`~goodbadgreedy.analysis.intervals.intervals_table` rows of the sweep's configs
    (the sampling mean over runs and its interval; a temperature-0 point is greedy decoding,
    ``greedy_decoding`` true, one run); ``greedy_mean`` is the model's score under the ``greedy``
    config, for reference.

    Args:
        intervals: :func:`~goodbadgreedy.analysis.intervals.intervals_table`.
        sweeps: ``{param: {config: value}}`` (params.yaml ``sweeps`` expanded, or
            :func:`~goodbadgreedy.plan.sweep_groups`).
        greedy: the greedy config (Table 1's), or None.
        families: ``{family: [model, ...]}``; a model in several families has a row in each.

    Returns:
        :data:`SWEEP_COLUMNS`, sorted by (param, family, model, benchmark, value).
    """
    models = sorted(intervals["model"].unique().to_list())
    fam = model_families(models, families or {})
    base = {}
    if greedy is not None:
        for r in intervals.filter(pl.col("config") == greedy).iter_rows(named=True):
            base[(r["model"], r["benchmark"])] = r["mean"]
    rows = []
    for param, values in sweeps.items():
        sub = intervals.filter(pl.col("config").is_in(list(values)))
        for r in sub.iter_rows(named=True):
            for family, model in fam:
                if model != r["model"]:
                    continue
                rows.append(
                    {
                        "param": param,
                        "value": float(values[r["config"]]),
                        "family": family,
                        "model": model,
                        "benchmark": r["benchmark"],
                        "config": r["config"],
                        "greedy_decoding": r["n_samples"] == 1,
                        **{c: r[c] for c in INTERVAL_COLUMNS},
                        "greedy_mean": base.get((model, r["benchmark"])),
                    }
                )
    schema = {c: pl.Float64 for c in SWEEP_COLUMNS}
    schema.update(param=pl.String, family=pl.String, model=pl.String, benchmark=pl.String, config=pl.String,
                  greedy_decoding=pl.Boolean, n_items=pl.Int64, n_samples=pl.Int64, interval=pl.String)
    return (
        pl.DataFrame(rows, schema=schema).select(SWEEP_COLUMNS).sort(["param", "family", "model", "benchmark", "value"])
    )
