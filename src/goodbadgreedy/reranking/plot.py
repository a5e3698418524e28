"""The Best-of-N figure: accuracy vs N per scorer, with the oracle and the greedy line.

Layout after Song et al. 2024 (arXiv:2407.10457), Best-of-N figure: one panel per benchmark
(columns) and per (model, sampling config) (rows); x = N on a log2 axis (1, 2, 4, ..., n),
y = accuracy (%). In each panel: one solid line per scorer (the unbiased Best-of-N estimate),
the same scorer's first-N variant (the paper's) as a thin dashed line, the oracle (pass@N, black
dashed), the random pick (mean sample accuracy, grey dotted) and greedy decoding (red
horizontal line).
"""

from __future__ import annotations

import os

import polars as pl

from goodbadgreedy.io import atomic_path


def plot_best_of_n(table: pl.DataFrame, greedy: pl.DataFrame, dest: str | os.PathLike[str]) -> None:
    """Draw the Best-of-N figure and write it as PNG (atomically, no timestamp in the file).

    Args:
        table: the Best-of-N table (:func:`~goodbadgreedy.reranking.best_of_n_table.best_of_n_table`).
        greedy: the greedy table (:func:`~goodbadgreedy.reranking.best_of_n_table.greedy_table`);
            for each (model, benchmark) its first greedy config's value is drawn (none if empty).
        dest: the ``.png`` path (its folder is created).

    Raises:
        ValueError: ``table`` is empty.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if table.height == 0:
        raise ValueError("plot_best_of_n: empty Best-of-N table")
    benches = table["benchmark"].unique(maintain_order=True).to_list()
    runs = table.select("model", "config").unique(maintain_order=True).rows()
    scorers = table["scorer"].unique(maintain_order=True).to_list()
    colors = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(scorers)}
    fig, axes = plt.subplots(len(runs), len(benches), figsize=(4.2 * len(benches), 3.4 * len(runs)),
                             squeeze=False, sharex=False)
    for r, (model, cfg) in enumerate(runs):
        for b, bench in enumerate(benches):
            ax = axes[r][b]
            sub = table.filter((pl.col("model") == model) & (pl.col("config") == cfg)
                               & (pl.col("benchmark") == bench))
            if sub.height == 0:
                ax.set_visible(False)
                continue

            def line(est: str, scorer: str | None = None, sub: pl.DataFrame = sub):
                d = sub.filter(pl.col("estimator") == est)
                d = d.filter(pl.col("scorer") == (scorer if scorer is not None else d["scorer"][0]))
                d = d.sort("N")
                return d["N"].to_list(), d["value"].to_list()

            for s in scorers:
                if sub.filter(pl.col("scorer") == s).height == 0:
                    continue
                ax.plot(*line("unbiased", s), "-o", color=colors[s], lw=2, ms=4, label=f"best-of-N: {s}")
                ax.plot(*line("first", s), "--", color=colors[s], lw=0.8, alpha=0.8,
                        label=f"first-N (paper): {s}")
            ax.plot(*line("oracle"), "--", color="black", lw=1.2, label="oracle (pass@N)")
            ax.plot(*line("random"), ":", color="grey", lw=1.2, label="random pick (mean)")
            g = greedy.filter((pl.col("model") == model) & (pl.col("benchmark") == bench))
            if g.height:
                ax.axhline(g["value"][0], color="tab:red", lw=1.2, label=f"greedy ({g['config'][0]})")
            ns = sorted(set(sub["N"].to_list()))
            ax.set_xscale("log", base=2)
            ax.set_xticks(ns, [str(n) for n in ns])
            ax.minorticks_off()
            ax.set_ylim(-2, 102)
            ax.grid(alpha=0.3)
            ax.set_title(f"{bench} — {model} ({cfg})", fontsize=9)
            ax.set_xlabel("N (samples)")
            if b == 0:
                ax.set_ylabel("accuracy (%)")
    handles, labels = [], []
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 0.0))
    n_rows = -(-len(labels) // min(4, len(labels)))
    fig.tight_layout(rect=(0, 0.04 + 0.035 * n_rows / max(1, len(runs)), 1, 1))
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
