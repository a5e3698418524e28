"""Figures of the report (matplotlib, Agg canvas, PNG), drawn from the stats tables.

Each function takes the small CSV tables of :mod:`goodbadgreedy.analysis` (as polars frames),
draws one figure and writes one PNG. No pyplot: figures are ``matplotlib.figure.Figure`` objects
on an Agg canvas, so nothing depends on a display or on global pyplot state. PNGs carry no
timestamp or version metadata (same tables, same bytes on the same matplotlib).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from goodbadgreedy.io import atomic_path

__all__ = ["table1_plot", "pass_at_k_plot", "sweep_plot", "save_png"]

_DPI = 100
_LINESTYLES = {"pass@k": "-", "pass^k": "--", "maj@k": ":"}


def save_png(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as a PNG at ``path`` (parents created; no metadata), atomically.

    Through :func:`goodbadgreedy.io.atomic_path`: a unique temporary file, fsynced, renamed onto
    ``path``; the file's mode is 0o666 minus the umask; on an error ``path`` is left as it was.

    Returns:
        The path written.
    """
    path = Path(path)
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI, metadata={"Software": None})
    return path


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def table1_plot(intervals: pl.DataFrame, greedy: str, sample: str, path: str | os.PathLike[str]) -> Path:
    """Table 1 as bars: greedy score and sampling mean per benchmark and model, with error bars.

    Greedy bars carry the row's reported interval (``lo``/``hi``: Wilson for few items, else the
    item-cluster bootstrap); sampling bars carry ± one standard deviation over runs (ddof = 1,
    the paper's Table 1 spread), and dots mark the worst and best run.

    Args:
        intervals: :func:`goodbadgreedy.analysis.intervals.intervals_table` (scores as fractions; plotted
            in percent).
        greedy: the greedy config compared.
        sample: the sampling config compared.
        path: PNG destination.

    Returns:
        ``path``.
    """
    fig = Figure(figsize=(max(6.0, 2.2 * max(1, intervals["benchmark"].n_unique())), 4.2))
    ax = fig.add_subplot()
    benches = sorted(intervals["benchmark"].unique().to_list())
    models = sorted(intervals["model"].unique().to_list())
    if not benches:
        _empty(ax, "no scores")
        return save_png(fig, path)
    slots = [(m, c) for m in models for c in (greedy, sample)]
    width = 0.8 / len(slots)
    colors = {greedy: "#4c72b0", sample: "#dd8452"}
    for j, (model, cfg) in enumerate(slots):
        xs, ys, err_lo, err_hi, mins, maxs = [], [], [], [], [], []
        for i, b in enumerate(benches):
            row = intervals.filter((pl.col("model") == model) & (pl.col("benchmark") == b) & (pl.col("config") == cfg))
            if row.height == 0:
                continue
            r = row.row(0, named=True)
            y = 100 * r["mean"]
            if cfg == greedy:
                lo, hi = r["lo"], r["hi"]
                e_lo, e_hi = (y - 100 * lo, 100 * hi - y) if lo is not None else (0.0, 0.0)
            else:
                sd = 100 * (r["run_std"] or 0.0)
                e_lo, e_hi = min(sd, y), sd
                mins.append(100 * r["run_min"])
                maxs.append(100 * r["run_max"])
            xs.append(i - 0.4 + width * (j + 0.5))
            ys.append(y)
            err_lo.append(max(e_lo, 0.0))
            err_hi.append(max(e_hi, 0.0))
        label = f"{cfg}" if len(models) == 1 else f"{model} / {cfg}"
        hatch = None if models.index(model) % 2 == 0 else "//"
        ax.bar(xs, ys, width * 0.95, yerr=[err_lo, err_hi], capsize=3, color=colors[cfg], hatch=hatch,
               edgecolor="black", linewidth=0.5, label=label)
        if mins:
            ax.plot(xs, mins, "v", color="black", markersize=4)
            ax.plot(xs, maxs, "^", color="black", markersize=4)
    ax.set_xticks(range(len(benches)), benches)
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Greedy vs sampling (greedy: 95% interval; sampling: ±1 sd over runs, ▼▲ worst/best run)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)


def pass_at_k_plot(passk: pl.DataFrame, path: str | os.PathLike[str], *, configs: Sequence[str] | None = None) -> Path:
    """pass@k (solid), pass^k (dashed) and maj@k (dotted) against k, one panel per benchmark.

    Args:
        passk: :func:`goodbadgreedy.analysis.passk.passk_table`.
        path: PNG destination.
        configs: configs drawn (default: those with more than one sample).

    Returns:
        ``path``.
    """
    df = passk.filter(pl.col("metric").is_in(list(_LINESTYLES)) & pl.col("value").is_not_null())
    if configs is None:
        df = df.filter(pl.col("n_samples") > 1)
    else:
        df = df.filter(pl.col("config").is_in(list(configs)))
    benches = sorted(df["benchmark"].unique().to_list())
    fig = Figure(figsize=(4.0 * max(1, len(benches)), 3.6))
    if not benches:
        _empty(fig.add_subplot(), "no sampled config: no pass@k curve")
        return save_png(fig, path)
    axes = fig.subplots(1, len(benches), squeeze=False)[0]
    for ax, b in zip(axes, benches, strict=True):
        sub = df.filter(pl.col("benchmark") == b)
        groups = sorted(set(zip(sub["model"].to_list(), sub["config"].to_list(), strict=True)))
        for gi, (model, cfg) in enumerate(groups):
            color = f"C{gi}"
            for metric, ls in _LINESTYLES.items():
                line = sub.filter(
                    (pl.col("model") == model) & (pl.col("config") == cfg) & (pl.col("metric") == metric)
                ).sort("k")
                if line.height:
                    ax.plot(line["k"].to_numpy(), 100 * line["value"].to_numpy(), ls, marker="o", markersize=3,
                            color=color, label=f"{metric} {model}/{cfg}" if len(groups) > 1 else metric)
        ax.set_title(b)
        ax.set_xlabel("k (samples)")
        ax.set_ylabel("score (%)")
        ax.set_ylim(-2, 102)
        kmax = int(sub["k"].max())
        ax.set_xticks(np.arange(1, kmax + 1, max(1, kmax // 8)))
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_png(fig, path)


def sweep_plot(
    intervals: pl.DataFrame,
    param: str,
    values: dict[str, float],
    path: str | os.PathLike[str],
    *,
    greedy: str | None = None,
    families: dict[str, Sequence[str]] | None = None,
) -> Path:
    """Score against one decoding parameter (temperature, top_p, repetition_penalty...).

    One panel per benchmark, one line per model: the sampling mean of each config of the sweep
    at its parameter value, with the row's interval (``lo``/``hi``) as error bars; the greedy
    score, when ``greedy`` is given, as a horizontal dashed line. With ``families``, one row of
    panels per family (scaling, alignment, ...; models in no family share a last row).

    Args:
        intervals: :func:`goodbadgreedy.analysis.intervals.intervals_table`.
        param: the swept parameter (x-axis label).
        values: ``{config: value of param}`` (see :func:`goodbadgreedy.plan.sweep_groups`).
        path: PNG destination.
        greedy: the greedy config, drawn as a reference line.
        families: ``{family: [model, ...]}`` (params.yaml ``families``).

    Returns:
        ``path``.
    """
    from goodbadgreedy.analysis.sweep import model_families

    df = intervals.filter(pl.col("config").is_in(list(values)))
    benches = sorted(df["benchmark"].unique().to_list())
    groups: dict[str, list[str]] = {}
    for family, model in model_families(sorted(df["model"].unique().to_list()), families or {}):
        groups.setdefault(family, []).append(model)
    fig = Figure(figsize=(4.0 * max(1, len(benches)), 3.6 * max(1, len(groups))))
    if not benches:
        _empty(fig.add_subplot(), f"no configs of the {param} sweep")
        return save_png(fig, path)
    axes = fig.subplots(len(groups), len(benches), squeeze=False)
    for row, (family, models) in zip(axes, groups.items(), strict=True):
        for ax, b in zip(row, benches, strict=True):
            sub = df.filter(pl.col("benchmark") == b)
            for mi, model in enumerate(models):
                rows = sorted(
                    sub.filter(pl.col("model") == model).iter_rows(named=True), key=lambda r: values[r["config"]]
                )
                x = np.array([values[r["config"]] for r in rows], dtype=float)
                y = np.array([100 * r["mean"] for r in rows])
                lo = np.array([100 * r["lo"] if r["lo"] is not None else 100 * r["mean"] for r in rows])
                hi = np.array([100 * r["hi"] if r["hi"] is not None else 100 * r["mean"] for r in rows])
                ax.errorbar(x, y, yerr=[np.maximum(y - lo, 0), np.maximum(hi - y, 0)], marker="o", capsize=3,
                            color=f"C{mi}", label=model)
                if greedy is not None:
                    g = intervals.filter(
                        (pl.col("model") == model) & (pl.col("benchmark") == b) & (pl.col("config") == greedy)
                    )
                    if g.height:
                        ax.axhline(
                            100 * g["mean"][0], color=f"C{mi}", linestyle="--", linewidth=1, label=f"{model} greedy"
                        )
            ax.set_title(f"{family}: {b}" if family else b)
            ax.set_xlabel(param)
            ax.set_ylabel("score (%)")
            ax.legend(fontsize=7)
    fig.tight_layout()
    return save_png(fig, path)
