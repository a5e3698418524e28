"""Statistics tables of the aggregate stage: pass@k family, intervals, paired tests, variance,
rank flips and response lengths, from the check and generation tables of every model x
benchmark x decoding config.

Every function takes long polars tables (``tables.CHECK_SCHEMA`` / ``tables.GENERATION_SCHEMA``
rows) and returns a long polars table with an explicit column list (the ``*_COLUMNS`` constants);
the math lives in :mod:`goodbadgreedy.stats` and is only called here. Scores are fractions in
[0, 1] (not percent), lengths are generated tokens. :func:`stats_tables` builds them all.

Conventions
-----------
* A config's samples of one item are ``sample_idx = 0..K-1``; run ``r`` is sample ``r`` of every
  item (Song et al. 2024, arXiv:2407.10457, Sec. 2). Greedy decoding has ``K = 1``.
* "Correct" (for pass@k, pass^k, G-Pass@k, McNemar) is ``score == 1``; the benchmarks' scores
  are 0/1, so this loses nothing there.
* Standard deviations over runs use ddof = :data:`~goodbadgreedy.stats.runs.STD_DDOF` (1).
* Every resampling draws from ``numpy.random.default_rng`` seeded with params ``seed`` (the same
  seed for every comparison: common random numbers, each row reproducible on its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl

from goodbadgreedy import benchmarks
from goodbadgreedy.plan import STATS_FILES, SWEEP_PARAMS, sweep_groups
from goodbadgreedy.errors import DataError
from goodbadgreedy.stats.estimators import (
    g_pass_at_k,
    maj_at_k,
    mg_pass_at_k,
    pass_at_k,
    pass_hat_k,
)
from goodbadgreedy.stats.intervals import cluster_bootstrap, clustered_se, wilson_interval
from goodbadgreedy.stats.paired import mcnemar, paired_bootstrap
from goodbadgreedy.stats.runs import STD_DDOF
from goodbadgreedy.stats.variance import decompose_variance

__all__ = [
    "StatsOptions",
    "ScoreMatrix",
    "score_matrices",
    "passk_table",
    "intervals_table",
    "paired_table",
    "variance_table",
    "ranks_table",
    "rank_flips_table",
    "lengths_table",
    "sweep_groups",
    "sweep_table",
    "model_families",
    "SWEEP_COLUMNS",
    "stats_tables",
    "STATS_FILES",
    "SWEEP_PARAMS",
]

_KEYS = ["model", "benchmark", "config"]

# SWEEP_PARAMS, STATS_FILES and sweep_groups live in goodbadgreedy.plan (no numpy/scipy import:
# the Snakefile reads them at parse time) and are re-exported here.


@dataclass(frozen=True)
class StatsOptions:
    """The ``stats`` section of params.yaml plus the global ``seed``.

    Attributes:
        seed: seeds every bootstrap / sign-flip draw (non-negative int).
        n_boot: bootstrap replicates (>= 2).
        confidence: two-sided level of every interval, in (0, 1).
        taus: G-Pass@k thresholds, each in [0, 1].
        wilson_max_items: single-sample (greedy) scores of at most this many items get the Wilson
            interval as their reported interval; larger ones the cluster bootstrap.
    """

    seed: int = 0
    n_boot: int = 2000
    confidence: float = 0.95
    taus: tuple[float, ...] = (0.5, 0.75, 1.0)
    wilson_max_items: int = 500

    @classmethod
    def from_params(cls, stats: Mapping[str, Any], seed: int) -> "StatsOptions":
        """Build from params.yaml's ``stats`` mapping (missing keys take the defaults) and ``seed``."""
        kw = {k: stats[k] for k in ("n_boot", "confidence", "wilson_max_items") if k in stats}
        if "taus" in stats:
            kw["taus"] = tuple(float(t) for t in stats["taus"])
        return cls(seed=int(seed), **kw)


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
        return self.scores.shape[0]

    @property
    def n_samples(self) -> int:
        return self.scores.shape[1]

    @property
    def correct(self) -> np.ndarray:
        """Binary correctness ``score == 1``, shape ``(n_items, n_samples)``."""
        return self.scores == 1.0

    @property
    def key(self) -> tuple[str, str, str]:
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
    for key, g in sorted(checks.group_by(_KEYS), key=lambda kv: kv[0]):
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


# --- pass@k family ----------------------------------------------------------------------------

PASSK_COLUMNS = ["model", "benchmark", "config", "metric", "k", "tau", "value", "n_items", "n_samples", "note"]


def _maj_applicable(m: ScoreMatrix) -> str | None:
    """None when maj@k can be computed, else the reason it is skipped.

    maj@k compares the majority ``extracted`` answer with the gold string. For judge-graded
    benchmarks ``extracted`` is what the judge's output said: the model's chosen option for
    MixEval multiple choice (comparable with the gold letter), but a correctness score (MixEval
    free-form) or a preference label (AlpacaEval, Arena-Hard) otherwise, which no gold string
    matches; those get no maj@k rather than a 0.
    """
    if all(a is None for row in m.answers for a in row):
        return "maj@k skipped: the check table has no extracted answers"
    if any(g == "" for g in m.gold):
        return "maj@k skipped: no gold answer string (the benchmark's tests decide correctness)"
    if m.benchmark in benchmarks.JUDGE_BENCHMARKS and not all(len(g) == 1 and g.isalpha() for g in m.gold):
        return ("maj@k skipped: the judge's extracted label is a score or preference, not an answer "
                "to compare with the gold (only multiple-choice option extraction is)")
    return None


def passk_table(matrices: Mapping[tuple[str, str, str], ScoreMatrix], taus: Sequence[float]) -> pl.DataFrame:
    """pass@k, pass^k, G-Pass@k_tau, mG-Pass@k and maj@k for every ``k = 1..K``, averaged over items.

    * ``pass@k``: unbiased estimator of Chen et al. 2021, arXiv:2107.03374, Sec. 2.1.
    * ``pass^k``: all ``k`` correct (Yao et al. 2024, tau-bench, arXiv:2406.12045, Sec. 5).
    * ``g_pass@k`` (one row per ``tau``) and ``mg_pass@k``: Liu et al. 2024, arXiv:2412.13147.
    * ``maj@k``: unbiased majority vote over exact extracted-answer strings (ties split
      uniformly; Wang et al. 2023, arXiv:2203.11171). Skipped, with a ``note`` row
      (``value`` null), when answers are missing or the benchmark has no gold string (HumanEval).

    Args:
        matrices: output of :func:`score_matrices`.
        taus: G-Pass@k thresholds in [0, 1].

    Returns:
        Long table with :data:`PASSK_COLUMNS`; ``value`` a fraction in [0, 1]; ``tau`` null except
        for ``g_pass@k``.
    """
    rows: list[dict[str, Any]] = []
    for m in matrices.values():
        n, K = m.n_items, m.n_samples
        c = m.correct.sum(axis=1).astype(np.int64)
        base = {"model": m.model, "benchmark": m.benchmark, "config": m.config, "n_items": n, "n_samples": K}
        maj_note = _maj_applicable(m)
        for k in range(1, K + 1):
            rows.append({**base, "metric": "pass@k", "k": k, "tau": None, "value": float(np.mean(pass_at_k(K, c, k))), "note": ""})
            rows.append({**base, "metric": "pass^k", "k": k, "tau": None, "value": float(np.mean(pass_hat_k(K, c, k))), "note": ""})
            for tau in taus:
                rows.append({**base, "metric": "g_pass@k", "k": k, "tau": float(tau),
                             "value": float(np.mean(g_pass_at_k(K, c, k, tau))), "note": ""})
            rows.append({**base, "metric": "mg_pass@k", "k": k, "tau": None, "value": float(np.mean(mg_pass_at_k(K, c, k))), "note": ""})
            if maj_note is None:
                rows.append({**base, "metric": "maj@k", "k": k, "tau": None,
                             "value": float(maj_at_k(m.answers, m.gold, k)), "note": "unbiased, ties split"})
        if maj_note is not None:
            rows.append({**base, "metric": "maj@k", "k": None, "tau": None, "value": None, "note": maj_note})
    schema = {"model": pl.String, "benchmark": pl.String, "config": pl.String, "metric": pl.String, "k": pl.Int64,
              "tau": pl.Float64, "value": pl.Float64, "n_items": pl.Int64, "n_samples": pl.Int64, "note": pl.String}
    return pl.DataFrame(rows, schema=schema).select(PASSK_COLUMNS)


# --- intervals --------------------------------------------------------------------------------

INTERVALS_COLUMNS = [
    "model", "benchmark", "config", "n_items", "n_samples", "mean", "run_std", "std_ddof", "run_min", "run_max",
    "boot_lo", "boot_hi", "boot_se", "clustered_se", "clt_lo", "clt_hi", "naive_se", "wilson_lo", "wilson_hi",
    "interval", "lo", "hi", "confidence",
]


def intervals_table(matrices: Mapping[tuple[str, str, str], ScoreMatrix], opts: StatsOptions) -> pl.DataFrame:
    """Mean score with its spread over runs and three intervals, per (model, benchmark, config).

    * ``run_std`` (ddof ``std_ddof`` = 1), ``run_min``, ``run_max``: over the K run scores (Song et
      al. 2024, Table 1); null for one run.
    * ``boot_*``: item-cluster percentile bootstrap (all samples of an item resampled together;
      :func:`~goodbadgreedy.stats.intervals.cluster_bootstrap`, seeded with ``opts.seed``).
    * ``clustered_se``, ``clt_lo/hi``, ``naive_se``: Miller 2024, arXiv:2411.00640, Sec. 2
      (:func:`~goodbadgreedy.stats.intervals.clustered_se`).
    * ``wilson_*``: Wilson score interval (Wilson 1927) of ``successes / n_items``, only for
      single-sample (greedy) configs with 0/1 scores; null otherwise.
    * ``interval``, ``lo``, ``hi``: the interval the report and plots use: ``wilson`` when
      available and ``n_items <= opts.wilson_max_items``, else ``cluster_bootstrap``.

    Groups with a single item get null intervals (nothing to resample).

    Returns:
        :data:`INTERVALS_COLUMNS`; scores as fractions in [0, 1].
    """
    rows = []
    for m in matrices.values():
        x = m.scores
        runs = x.mean(axis=0)
        row: dict[str, Any] = {
            "model": m.model, "benchmark": m.benchmark, "config": m.config, "n_items": m.n_items,
            "n_samples": m.n_samples, "mean": float(x.mean()),
            "run_std": float(np.std(runs, ddof=STD_DDOF)) if m.n_samples > STD_DDOF else None,
            "std_ddof": STD_DDOF, "run_min": float(runs.min()), "run_max": float(runs.max()),
            "confidence": opts.confidence,
        }
        for col in ("boot_lo", "boot_hi", "boot_se", "clustered_se", "clt_lo", "clt_hi", "naive_se", "wilson_lo", "wilson_hi"):
            row[col] = None
        if m.n_items >= 2:
            b = cluster_bootstrap(x, n_boot=opts.n_boot, seed=opts.seed, confidence=opts.confidence)
            s = clustered_se(x, confidence=opts.confidence)
            row.update(boot_lo=b.lo, boot_hi=b.hi, boot_se=b.se, clustered_se=s.se, clt_lo=s.lo, clt_hi=s.hi, naive_se=s.naive_se)
        binary = bool(np.all((x == 0.0) | (x == 1.0)))
        if m.n_samples == 1 and binary:
            lo, hi = wilson_interval(int(x.sum()), m.n_items, opts.confidence)
            row.update(wilson_lo=lo, wilson_hi=hi)
        if row["wilson_lo"] is not None and m.n_items <= opts.wilson_max_items:
            row.update(interval="wilson", lo=row["wilson_lo"], hi=row["wilson_hi"])
        else:
            row.update(interval="cluster_bootstrap" if row["boot_lo"] is not None else "none", lo=row["boot_lo"], hi=row["boot_hi"])
        rows.append(row)
    schema = {c: pl.Float64 for c in INTERVALS_COLUMNS}
    schema.update(model=pl.String, benchmark=pl.String, config=pl.String, interval=pl.String,
                  n_items=pl.Int64, n_samples=pl.Int64, std_ddof=pl.Int64)
    return pl.DataFrame(rows, schema=schema).select(INTERVALS_COLUMNS)


# --- paired comparisons -----------------------------------------------------------------------

PAIRED_COLUMNS = [
    "comparison", "benchmark", "model_a", "config_a", "model_b", "config_b", "test", "detail", "n_items",
    "diff", "lo", "hi", "p_value", "statistic", "b10", "b01", "method",
]


def _common_items(a: ScoreMatrix, b: ScoreMatrix) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``a`` and ``b`` for the items both hold (sorted by item_id)."""
    common = sorted(set(a.item_ids) & set(b.item_ids))
    ia = {it: i for i, it in enumerate(a.item_ids)}
    ib = {it: i for i, it in enumerate(b.item_ids)}
    return a.scores[[ia[i] for i in common]], b.scores[[ib[i] for i in common]]


def _paired_rows(comparison: str, a: ScoreMatrix, b: ScoreMatrix, opts: StatsOptions) -> list[dict[str, Any]]:
    xa, xb = _common_items(a, b)
    base = {"comparison": comparison, "benchmark": a.benchmark, "model_a": a.model, "config_a": a.config,
            "model_b": b.model, "config_b": b.config, "n_items": xa.shape[0]}
    rows = []
    binary = bool(np.all(np.isin(xa, (0.0, 1.0))) and np.all(np.isin(xb, (0.0, 1.0))))
    if xa.shape[0] == 0:
        return rows
    if binary and xa.shape[1] == 1:
        # McNemar: a's single outcome vs each of b's runs (one binary outcome per item and run)
        for r in range(xb.shape[1]):
            t = mcnemar(xa[:, 0], xb[:, r], confidence=opts.confidence)
            detail = f"{a.config} vs run {r} of {b.config}" if xb.shape[1] > 1 else f"{a.config} vs {b.config}"
            rows.append({**base, "test": "mcnemar", "detail": detail, "diff": t.diff, "lo": t.lo, "hi": t.hi,
                         "p_value": t.p_value, "statistic": t.statistic, "b10": t.b10, "b01": t.b01, "method": t.method})
    if xa.shape[0] >= 2 and (xa.shape[1] > 1 or xb.shape[1] > 1 or not binary):
        t = paired_bootstrap(xa, xb, n_boot=opts.n_boot, seed=opts.seed, confidence=opts.confidence)
        rows.append({**base, "test": "paired_bootstrap",
                     "detail": f"per-item mean score of {a.config} - per-item mean over samples of {b.config}",
                     "diff": t.diff, "lo": t.lo, "hi": t.hi, "p_value": t.p_value, "statistic": None,
                     "b10": None, "b01": None, "method": f"percentile CI, {t.p_method} p-value"})
    return rows


def paired_table(
    matrices: Mapping[tuple[str, str, str], ScoreMatrix], greedy: str, samples: Sequence[str], opts: StatsOptions
) -> pl.DataFrame:
    """Paired comparisons on the same items: greedy vs sampling, and model vs model.

    ``greedy_vs_sample`` (per model x benchmark x sampling config in ``samples``; a = greedy,
    b = sampling):

    * McNemar (:func:`~goodbadgreedy.stats.paired.mcnemar`) of greedy's 0/1 outcome against each
      sampled run's 0/1 outcome (run r = sample r of every item), one row per run: "does greedy
      beat a single sampled run?".
    * Paired bootstrap (:func:`~goodbadgreedy.stats.paired.paired_bootstrap`) of the per-item
      difference greedy − mean over the K samples: "does greedy beat sampling in expectation?";
      percentile CI and sign-flip p-value.

    ``model_vs_model`` (per benchmark and config, every pair of models a < b by name): McNemar for
    single-sample configs, paired bootstrap of the per-item mean score otherwise. Only items both
    models scored are compared (``n_items``).

    Every ``diff`` is a − b in score fractions; ``p_value`` two-sided.

    Returns:
        :data:`PAIRED_COLUMNS`.
    """
    rows: list[dict[str, Any]] = []
    models = sorted({k[0] for k in matrices})
    benchmarks = sorted({k[1] for k in matrices})
    for model in models:
        for bench in benchmarks:
            for sample in samples:
                a, b = matrices.get((model, bench, greedy)), matrices.get((model, bench, sample))
                if a is not None and b is not None:
                    rows.extend(_paired_rows("greedy_vs_sample", a, b, opts))
    configs = sorted({k[2] for k in matrices})
    for bench in benchmarks:
        for cfg in configs:
            for ma, mb in combinations(models, 2):
                a, b = matrices.get((ma, bench, cfg)), matrices.get((mb, bench, cfg))
                if a is not None and b is not None:
                    rows.extend(_paired_rows("model_vs_model", a, b, opts))
    schema = {c: pl.Float64 for c in PAIRED_COLUMNS}
    schema.update({c: pl.String for c in ("comparison", "benchmark", "model_a", "config_a", "model_b", "config_b", "test", "detail", "method")})
    schema.update(n_items=pl.Int64, b10=pl.Int64, b01=pl.Int64)
    return pl.DataFrame(rows, schema=schema).select(PAIRED_COLUMNS)


# --- variance decomposition -------------------------------------------------------------------

VARIANCE_COLUMNS = [
    "model", "benchmark", "config", "n_items", "n_samples", "grand_mean", "total_var", "within_var", "between_var",
    "within_fraction", "item_difficulty_var", "run_sd_implied", "run_sd_empirical", "score_sd_items",
]


def variance_table(matrices: Mapping[tuple[str, str, str], ScoreMatrix]) -> pl.DataFrame:
    """Item difficulty vs sampling noise, per sampled (model, benchmark, config).

    From :func:`~goodbadgreedy.stats.variance.decompose_variance` (law of total variance; Miller
    2024, arXiv:2411.00640, Sec. 2-3): ``within_var`` (sampling noise, mean per-item variance
    across samples), ``between_var`` (spread of item means), ``within_fraction``;
    ``run_sd_implied`` / ``run_sd_empirical`` (sd of a run score implied by sampling noise /
    observed over runs); ``score_sd_items = sqrt(item_difficulty_var / n_items)`` (sd from drawing
    the items). Configs with fewer than 2 samples or 2 items are left out.

    Returns:
        :data:`VARIANCE_COLUMNS`; variances in squared score fractions, sds in score fractions.
    """
    rows = []
    for m in matrices.values():
        if m.n_samples < 2 or m.n_items < 2:
            continue
        v = decompose_variance(m.scores)
        rows.append({
            "model": m.model, "benchmark": m.benchmark, "config": m.config, "n_items": v.n_items,
            "n_samples": v.n_samples, "grand_mean": v.grand_mean, "total_var": v.total_var,
            "within_var": v.within_var, "between_var": v.between_var,
            "within_fraction": None if np.isnan(v.within_fraction) else v.within_fraction,
            "item_difficulty_var": v.item_difficulty_var, "run_sd_implied": v.run_sd_implied,
            "run_sd_empirical": v.run_sd_empirical, "score_sd_items": float(np.sqrt(v.score_var_items)),
        })
    schema = {c: pl.Float64 for c in VARIANCE_COLUMNS}
    schema.update(model=pl.String, benchmark=pl.String, config=pl.String, n_items=pl.Int64, n_samples=pl.Int64)
    return pl.DataFrame(rows, schema=schema).select(VARIANCE_COLUMNS)


# --- rankings ---------------------------------------------------------------------------------

RANKS_COLUMNS = ["benchmark", "sample_config", "model", "greedy", "sample_mean", "rank_greedy", "rank_sample", "rank_change"]
RANK_FLIPS_COLUMNS = [
    "benchmark", "sample_config", "model_a", "model_b", "greedy_a", "greedy_b", "mean_a", "mean_b",
    "greedy_order", "sample_order", "flip", "p_a_beats_b",
]


def _order(x: float, y: float) -> str:
    return "a>b" if x > y else ("a<b" if x < y else "a=b")


def _ranks(values: Mapping[str, float]) -> dict[str, float]:
    """Competition-style average ranks, 1 = best (ties share the mean rank)."""
    from scipy.stats import rankdata

    names = sorted(values)
    r = rankdata([-values[n] for n in names], method="average")
    return {n: float(v) for n, v in zip(names, r)}


def _comparable(matrices: Mapping[tuple[str, str, str], ScoreMatrix], greedy: str, samples: Sequence[str]):
    """Yield (benchmark, sampling config, models having both it and the greedy config), sorted."""
    models = sorted({k[0] for k in matrices})
    for bench in sorted({k[1] for k in matrices}):
        for cfg in samples:
            yield bench, cfg, [m for m in models if (m, bench, greedy) in matrices and (m, bench, cfg) in matrices]


def ranks_table(matrices: Mapping[tuple[str, str, str], ScoreMatrix], greedy: str, samples: Sequence[str]) -> pl.DataFrame:
    """Each model's rank per benchmark under greedy and under the sampling mean (1 = best).

    Ties get the average rank. One table per sampling config in ``samples``; only models that
    have both the greedy and that sampling config are ranked.

    Returns:
        :data:`RANKS_COLUMNS` (``rank_change = rank_sample - rank_greedy``).
    """
    rows = []
    for bench, cfg, have in _comparable(matrices, greedy, samples):
        if have:
            g = {m: float(matrices[(m, bench, greedy)].scores.mean()) for m in have}
            s = {m: float(matrices[(m, bench, cfg)].scores.mean()) for m in have}
            rg, rs = _ranks(g), _ranks(s)
            for m in have:
                rows.append({"benchmark": bench, "sample_config": cfg, "model": m, "greedy": g[m], "sample_mean": s[m],
                             "rank_greedy": rg[m], "rank_sample": rs[m], "rank_change": rs[m] - rg[m]})
    schema = {c: pl.Float64 for c in RANKS_COLUMNS}
    schema.update(benchmark=pl.String, sample_config=pl.String, model=pl.String)
    return pl.DataFrame(rows, schema=schema).select(RANKS_COLUMNS)


def p_beats(runs_a: np.ndarray, runs_b: np.ndarray) -> float:
    """Probability that a random run of A scores higher than a random run of B (ties count 1/2).

    ``P = mean over all (r, s) of [R_a,r > R_b,s] + 0.5 [R_a,r = R_b,s]``: the runs of the two
    models are independent draws, so every pair of runs is an equally likely outcome (the
    Mann-Whitney / common-language effect size, McGraw & Wong 1992, Psychol. Bull. 111:361).

    Args:
        runs_a: run scores of A, shape ``(K_a,)``.
        runs_b: run scores of B, shape ``(K_b,)``.

    Returns:
        Probability in [0, 1].

    Raises:
        ValueError: an empty array.
    """
    a, b = np.asarray(runs_a, dtype=float), np.asarray(runs_b, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("runs_a and runs_b must be non-empty")
    gt = (a[:, None] > b[None, :]).mean()
    eq = (a[:, None] == b[None, :]).mean()
    return float(gt + 0.5 * eq)


def rank_flips_table(matrices: Mapping[tuple[str, str, str], ScoreMatrix], greedy: str, samples: Sequence[str]) -> pl.DataFrame:
    """Pairwise model orderings under greedy vs sampling mean, and P(A beats B on a random run).

    For every benchmark, sampling config and pair of models (a < b by name): their greedy scores
    and sampling means, the order under each (``a>b``, ``a<b``, ``a=b``), ``flip`` when the two
    orders differ, and ``p_a_beats_b`` from :func:`p_beats` on the K run scores of each. Empty
    (header only) with fewer than two models.

    Returns:
        :data:`RANK_FLIPS_COLUMNS`.
    """
    rows = []
    for bench, cfg, have in _comparable(matrices, greedy, samples):
        for ma, mb in combinations(have, 2):
            ga, gb = (float(matrices[(m, bench, greedy)].scores.mean()) for m in (ma, mb))
            sa, sb = (matrices[(m, bench, cfg)].scores for m in (ma, mb))
            go, so = _order(ga, gb), _order(float(sa.mean()), float(sb.mean()))
            rows.append({"benchmark": bench, "sample_config": cfg, "model_a": ma, "model_b": mb, "greedy_a": ga,
                         "greedy_b": gb, "mean_a": float(sa.mean()), "mean_b": float(sb.mean()),
                         "greedy_order": go, "sample_order": so, "flip": go != so,
                         "p_a_beats_b": p_beats(sa.mean(axis=0), sb.mean(axis=0))})
    schema = {c: pl.Float64 for c in RANK_FLIPS_COLUMNS}
    schema.update({c: pl.String for c in ("benchmark", "sample_config", "model_a", "model_b", "greedy_order", "sample_order")})
    schema["flip"] = pl.Boolean
    return pl.DataFrame(rows, schema=schema).select(RANK_FLIPS_COLUMNS)


# --- response lengths -------------------------------------------------------------------------

LENGTHS_COLUMNS = [
    "model", "benchmark", "config", "n_responses", "mean_tokens", "std_tokens", "median_tokens", "max_tokens",
    "frac_length_limit", "diff_vs_greedy", "diff_lo", "diff_hi", "diff_p_value",
]


def lengths_table(generations: pl.DataFrame, greedy: str, opts: StatsOptions) -> pl.DataFrame:
    """Response length in generated tokens per (model, benchmark, config), and vs greedy.

    ``mean/std (ddof=1)/median/max_tokens`` over all responses; ``frac_length_limit`` the share
    that stopped at ``max_new_tokens`` (``finish_reason == "length"``, null when the column is
    absent). For sampling configs, ``diff_vs_greedy`` = mean over items of (per-item mean sampled
    length − greedy length) with its paired bootstrap CI and sign-flip p-value (same items;
    Song et al. 2024 compare lengths of greedy and sampled outputs, Sec. 3.3).

    Args:
        generations: rows with at least ``model, benchmark, config, item_id, response_tokens``.
        greedy: the greedy config name.
        opts: bootstrap settings.

    Returns:
        :data:`LENGTHS_COLUMNS`.
    """
    has_finish = "finish_reason" in generations.columns
    agg = [
        pl.len().cast(pl.Int64).alias("n_responses"),
        pl.col("response_tokens").cast(pl.Float64).mean().alias("mean_tokens"),
        pl.col("response_tokens").cast(pl.Float64).std(ddof=1).alias("std_tokens"),
        pl.col("response_tokens").cast(pl.Float64).median().alias("median_tokens"),
        pl.col("response_tokens").cast(pl.Float64).max().alias("max_tokens"),
        ((pl.col("finish_reason") == "length").cast(pl.Float64).mean() if has_finish else pl.lit(None, pl.Float64)).alias("frac_length_limit"),
    ]
    base = generations.group_by(_KEYS).agg(agg).sort(_KEYS)
    per_item = generations.group_by(_KEYS + ["item_id"]).agg(pl.col("response_tokens").cast(pl.Float64).mean().alias("t"))
    diffs = []
    for row in base.iter_rows(named=True):
        d: dict[str, Any] = {k: row[k] for k in _KEYS}
        d.update(diff_vs_greedy=None, diff_lo=None, diff_hi=None, diff_p_value=None)
        if row["config"] != greedy:
            a = per_item.filter((pl.col("model") == row["model"]) & (pl.col("benchmark") == row["benchmark"]) & (pl.col("config") == row["config"]))
            g = per_item.filter((pl.col("model") == row["model"]) & (pl.col("benchmark") == row["benchmark"]) & (pl.col("config") == greedy))
            j = a.join(g, on="item_id", suffix="_g").sort("item_id")
            if j.height >= 2:
                t = paired_bootstrap(j["t"].to_numpy(), j["t_g"].to_numpy(), n_boot=opts.n_boot, seed=opts.seed, confidence=opts.confidence)
                d.update(diff_vs_greedy=t.diff, diff_lo=t.lo, diff_hi=t.hi, diff_p_value=t.p_value)
        diffs.append(d)
    dschema = {**{k: pl.String for k in _KEYS}, "diff_vs_greedy": pl.Float64, "diff_lo": pl.Float64, "diff_hi": pl.Float64, "diff_p_value": pl.Float64}
    return base.join(pl.DataFrame(diffs, schema=dschema), on=_KEYS, how="left").select(LENGTHS_COLUMNS).sort(_KEYS)


# --- sweeps -----------------------------------------------------------------------------------


#: Columns of :func:`sweep_table` (``{outdir}/stats/sweep.csv``).
SWEEP_COLUMNS = [
    "param", "value", "family", "model", "benchmark", "config", "greedy_decoding", "n_items", "n_samples",
    "mean", "run_std", "run_min", "run_max", "interval", "lo", "hi", "greedy_mean",
]


def model_families(models: Sequence[str], families: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """``(family, model)`` pairs: each model once per family it belongs to, in families order;
    a model in no family once, with family ``""``. With no families, every model with ``""``."""
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

    Rows are :func:`intervals_table` rows of the sweep's configs (the sampling mean over runs
    and its interval; a temperature-0 point is greedy decoding, ``greedy_decoding`` true, one
    run); ``greedy_mean`` is the model's score under the ``greedy`` config, for reference.

    Args:
        intervals: :func:`intervals_table`.
        sweeps: ``{param: {config: value}}`` (params.yaml ``sweeps`` expanded, or
            :func:`sweep_groups`).
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
                rows.append({
                    "param": param, "value": float(values[r["config"]]), "family": family, "model": model,
                    "benchmark": r["benchmark"], "config": r["config"], "greedy_decoding": r["n_samples"] == 1,
                    **{c: r[c] for c in ("n_items", "n_samples", "mean", "run_std", "run_min", "run_max", "interval", "lo", "hi")},
                    "greedy_mean": base.get((model, r["benchmark"])),
                })
    schema = {c: pl.Float64 for c in SWEEP_COLUMNS}
    schema.update(param=pl.String, family=pl.String, model=pl.String, benchmark=pl.String, config=pl.String,
                  greedy_decoding=pl.Boolean, n_items=pl.Int64, n_samples=pl.Int64, interval=pl.String)
    return pl.DataFrame(rows, schema=schema).select(SWEEP_COLUMNS).sort(["param", "family", "model", "benchmark", "value"])


# --- everything -------------------------------------------------------------------------------

def stats_tables(
    checks: pl.DataFrame,
    generations: pl.DataFrame,
    decoding: Mapping[str, Mapping[str, Any]],
    greedy: str,
    opts: StatsOptions,
) -> dict[str, pl.DataFrame]:
    """All stats tables, keyed as :data:`STATS_FILES`.

    Args:
        checks: check rows of every model x benchmark x config (``tables.CHECK_SCHEMA``).
        generations: the matching generation rows (``response_tokens``, ``finish_reason``).
        decoding: params.yaml's ``decoding`` (which configs sample).
        greedy: the greedy config Table 1 uses (:func:`goodbadgreedy.report.table1_configs`).
        opts: :class:`StatsOptions`.

    Returns:
        ``{name: DataFrame}`` for ``passk``, ``intervals``, ``paired``, ``variance``, ``ranks``,
        ``rank_flips``, ``lengths``.

    Raises:
        DataError: unbalanced check tables (see :func:`score_matrices`).
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
