"""The static HTML report: Table 1, the stats tables, the plots and the lineage of every table.

One self-contained file: PNGs are inlined as base64 ``data:`` URIs, the CSS is inline, there is
no script and nothing is fetched. The page is rendered from ``templates/report.html.j2`` with
jinja2 (autoescaped). It holds no timestamp and no environment data (package versions, git
commit stay in the ``.lineage.json`` sidecars), so the same inputs give the same bytes.

For each table the report lists the input files with their sha256 as recorded in the table's
lineage sidecar (:func:`goodbadgreedy.lineage.write_lineage`) and the command
``goodbadgreedy lineage FILE --row MODEL,BENCHMARK[,CONFIG]`` that walks one row back to the raw
data.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shlex
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import jinja2
import polars as pl

from goodbadgreedy.lineage import read_lineage
from goodbadgreedy.tables import read_table

__all__ = ["SECTIONS", "render_report", "build_report", "png_data_uri", "lineage_summary"]

#: Report sections after Table 1: (table name, title, caption, images shown below the table).
SECTIONS: list[tuple[str, str, str, list[str]]] = [
    ("intervals", "Intervals",
     "Per model × benchmark × config, scores as fractions: mean, spread over runs (std with ddof in std_ddof), "
     "item-cluster bootstrap (boot_*), clustered standard error and CLT interval (Miller 2024), Wilson interval "
     "for single-sample configs; 'interval', 'lo', 'hi' name the one plotted.", []),
    ("passk", "pass@k, pass^k, G-Pass@k, maj@k",
     "Unbiased estimators over all size-k subsets of the K samples of an item, averaged over items "
     "(Chen et al. 2021; Yao et al. 2024; Liu et al. 2024; majority vote with ties split).", ["pass_at_k"]),
    ("paired", "Paired comparisons",
     "Same items. greedy_vs_sample: McNemar of greedy's 0/1 outcome vs each sampled run's 0/1 outcome (one row "
     "per run), and a paired bootstrap of the per-item difference greedy − mean over samples (percentile CI, "
     "sign-flip p-value). model_vs_model: McNemar (single sample) or paired bootstrap. diff = a − b.", []),
    ("variance", "Variance decomposition",
     "Sampled configs: within_var (sampling noise, per-item variance across samples) vs between_var (item "
     "difficulty), their sum total_var; run_sd_implied/empirical: sd of a run score from sampling noise / observed.",
     []),
    ("ranks", "Rankings",
     "Rank of each model per benchmark under greedy and under the sampling mean (1 = best, ties averaged).", []),
    ("rank_flips", "Rank flips",
     "Pairs of models: order under greedy vs under the sampling mean, flip when they differ, and "
     "P(a beats b on a random run) over all pairs of runs (ties count ½).", []),
    ("lengths", "Response lengths",
     "Generated tokens (EOS included). diff_vs_greedy: per-item mean sampled length − greedy length, paired "
     "bootstrap CI and p-value; frac_length_limit: share stopped by max_new_tokens.", []),
]


def png_data_uri(path: str | os.PathLike[str]) -> str:
    """``data:image/png;base64,...`` for the PNG at ``path``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _fmt(v: Any) -> tuple[str, bool]:
    """A cell's text and whether it is numeric (right-aligned)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–", False
    if isinstance(v, bool):
        return ("yes" if v else "no"), False
    if isinstance(v, float):
        return (f"{v:.4f}" if abs(v) < 1000 else f"{v:.1f}"), True
    if isinstance(v, int):
        return str(v), True
    return str(v), False


def _html_table(df: pl.DataFrame, max_rows: int = 400) -> dict[str, Any]:
    rows = [[_fmt(v) for v in r] for r in df.head(max_rows).iter_rows()]
    return {"columns": df.columns, "rows": rows}


def lineage_summary(path: str | os.PathLike[str], table: pl.DataFrame | None = None) -> dict[str, Any] | None:
    """What the report shows of a table's lineage sidecar (no environment data).

    Args:
        path: the artifact (its ``.lineage.json`` sidecar is read).
        table: the artifact's rows, to pick an example row for the ``--row`` command.

    Returns:
        ``{"artifact", "stage", "sha256", "inputs": [(path, sha256), ...], "params": json str,
        "command"}``, or None when there is no sidecar.
    """
    rec = read_lineage(path)
    if rec is None:
        return None
    cmd = f"goodbadgreedy lineage {shlex.quote(str(path))}"
    if table is not None and table.height:
        r = table.row(0, named=True)
        model = r.get("model") or r.get("model_a")
        parts = [p for p in (model, r.get("benchmark"), r.get("config")) if p]
        if model and r.get("benchmark"):
            cmd += " --row " + shlex.quote(",".join(parts))
    return {
        "artifact": rec.get("artifact", str(path)),
        "stage": rec.get("stage"),
        "sha256": rec.get("sha256"),
        "inputs": sorted(rec.get("inputs", {}).items()),
        "params": json.dumps(rec.get("params") or {}, sort_keys=True) if rec.get("params") else "",
        "command": cmd,
    }


def render_report(
    tables: Mapping[str, pl.DataFrame],
    images: Mapping[str, str | None],
    lineage: Mapping[str, dict[str, Any] | None],
    notes: Sequence[str],
    meta: Mapping[str, Any],
    extra_sections: Sequence[Mapping[str, Any]] = (),
) -> str:
    """Render the report's HTML text (pure: no file access).

    Args:
        tables: ``table1`` and the stats tables keyed as in :data:`SECTIONS` (missing ones are
            shown as "not available").
        images: image name (``table1``, ``pass_at_k``, ``sweep_<param>``, ``best_of_n``) -> data
            URI (see :func:`png_data_uri`) or None.
        lineage: table name -> :func:`lineage_summary` (or None).
        notes: sentences shown at the top (e.g. why a plot is absent).
        meta: ``profile``, ``n_samples``, ``greedy``, ``sample``, ``ddof``, ``confidence``,
            ``n_boot``, ``seed``, ``outdir``.
        extra_sections: more sections ``{"name", "title", "caption", "empty", "images"}``
            appended after :data:`SECTIONS` (sweeps, Best-of-N); their tables, if any, are in
            ``tables`` under ``name``.

    Returns:
        The HTML document.
    """
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(
        resources.files("goodbadgreedy").joinpath("templates/report.html.j2").read_text(encoding="utf-8")
    )
    sections = []
    for name, title, caption, imgs in SECTIONS:
        df = tables.get(name)
        empty = None
        if df is None:
            empty = f"{name}: not available"
        elif df.height == 0:
            empty = _EMPTY.get(name, f"{name}: no rows")
        sections.append({"name": name, "title": title, "caption": caption, "empty": empty, "images": imgs})
    for sec in extra_sections:
        sections.append({"name": sec["name"], "title": sec["title"], "caption": sec.get("caption", ""),
                         "empty": sec.get("empty"), "images": list(sec.get("images", []))})
    html_tables = {k: _html_table(v) for k, v in tables.items()}
    all_images = {s: None for sec in sections for s in sec["images"]}
    all_images.update({"table1": None, **images})
    lin = {k: v for k, v in lineage.items() if v}
    return template.render(
        tables=html_tables, images=all_images, lineage=lin, notes=list(notes), meta=dict(meta), sections=sections
    )


_EMPTY = {
    "rank_flips": "Rank flips need at least two models; this run evaluates one.",
    "variance": "No sampled config with at least 2 items and 2 samples.",
    "paired": "No pair of configs or models on the same items.",
}


def build_report(
    *,
    table1: str | os.PathLike[str],
    stats: Mapping[str, str | os.PathLike[str]],
    plots: Mapping[str, str | os.PathLike[str]],
    sweeps: Mapping[str, str | os.PathLike[str]] | None = None,
    best_of_n: Sequence[str | os.PathLike[str]] = (),
    meta: Mapping[str, Any],
) -> str:
    """Read the result files and render the report (see :func:`render_report`).

    Args:
        table1: ``table1.csv``.
        stats: stats table name -> CSV path (:data:`goodbadgreedy.plan.STATS_FILES`).
        plots: image name -> PNG path (``table1``, ``pass_at_k``).
        sweeps: swept parameter -> PNG path (empty: no sweep, said in a note).
        best_of_n: the ``best_of_n.csv`` and/or ``best_of_n.png`` of the ``best_of_n`` rule,
            when the pipeline has it (empty: said in a note).
        meta: as :func:`render_report`.

    Returns:
        The HTML document.

    Raises:
        DataError: a listed table is missing, unreadable or changed since its stage wrote it
            (:func:`goodbadgreedy.tables.read_table`: the message names the file and how to
            rebuild it).
        FileNotFoundError: a listed PNG is missing.
    """
    tables = {"table1": read_table(table1)}
    lineage = {"table1": lineage_summary(table1, tables["table1"])}
    for name, path in stats.items():
        tables[name] = read_table(path, infer_schema_length=None)
        lineage[name] = lineage_summary(path, tables[name])
    images = {name: png_data_uri(p) for name, p in plots.items()}
    notes: list[str] = []
    extra: list[dict[str, Any]] = []
    sweeps = dict(sweeps or {})
    if sweeps:
        for param, p in sorted(sweeps.items()):
            images[f"sweep_{param}"] = png_data_uri(p)
        extra.append({"name": "sweeps", "title": "Sweeps", "images": [f"sweep_{p}" for p in sorted(sweeps)],
                      "caption": "Sampling mean (with its interval) against each decoding parameter that several "
                                 "sampling configs vary; dashed: greedy."})
    else:
        notes.append("No sweep plot: no decoding parameter varies across two or more sampling configs "
                     "that agree on everything else (params.yaml decoding).")
    if "passk" in tables:
        for note in tables["passk"].filter(pl.col("value").is_null())["note"].unique(maintain_order=True).to_list():
            if note:
                notes.append(note + ".")
    bon_csv = [p for p in best_of_n if str(p).endswith(".csv")]
    bon_png = [p for p in best_of_n if str(p).endswith(".png")]
    if bon_csv or bon_png:
        for p in bon_png:
            images["best_of_n"] = png_data_uri(p)
        sec: dict[str, Any] = {
            "name": "best_of_n",
            "title": "Best-of-N",
            "images": ["best_of_n"] if bon_png else [],
            "caption": "Best-, worst-, oracle- and random-of-N (reward-model selection among N samples).",
        }
        if bon_csv:
            tables["best_of_n"] = read_table(bon_csv[0])
            lineage["best_of_n"] = lineage_summary(bon_csv[0], tables["best_of_n"])
        else:
            sec["empty"] = "best_of_n.csv not available"
        extra.append(sec)
    else:
        notes.append("No Best-of-N section: the pipeline has no best_of_n rule.")
    models = tables["table1"]["model"].n_unique() if "model" in tables["table1"].columns else 0
    if models < 2:
        notes.append("One model: no model-vs-model comparison and no rank flips.")
    return render_report(tables, images, lineage, notes, meta, extra)
