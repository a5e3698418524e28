"""Run scores and Table 1 on a hand-made check table (values worked out by hand)."""

from __future__ import annotations

import math

import polars as pl
import pytest

from goodbadgreedy import tables
from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.plan import table1_configs
from goodbadgreedy.stats.runs import run_scores, summarize_runs
from goodbadgreedy.table1 import table1, to_markdown


def _checks(config, scores):
    """scores[item][sample] -> check rows."""
    rows = []
    for i, per_item in enumerate(scores):
        for j, s in enumerate(per_item):
            rows.append({"model": "m", "benchmark": "b", "config": config, "item_id": f"i{i}", "sample_idx": j,
                         "extracted": None, "gold": "", "score": float(s), "verdict": "x", "detail": ""})
    return pl.DataFrame(rows, schema=tables.CHECK_SCHEMA)


def _gens(config, lengths):
    rows = []
    for i, per_item in enumerate(lengths):
        for j, n in enumerate(per_item):
            rows.append({"model": "m", "benchmark": "b", "config": config, "item_id": f"i{i}", "sample_idx": j,
                         "seed": None, "prompt": "p", "response": "r", "prompt_tokens": 3,
                         "response_tokens": n, "finish_reason": "eos"})
    return pl.DataFrame(rows, schema=tables.GENERATION_SCHEMA)


# 4 items x 3 sampled runs. Run 0 = column 0: (1+1+0+0)/4 = 0.5; run 1: (1+0+0+0)/4 = 0.25;
# run 2: (1+1+1+1)/4 = 1.0. Mean 1.75/3 = 0.58333; sample std (ddof=1):
# deviations -0.08333, -0.33333, 0.41667 -> squares 0.006944 + 0.111111 + 0.173611 = 0.291667;
# / 2 = 0.145833 -> sqrt = 0.381881. Min 0.25, max 1.0, delta 0.75. Greedy: 3 of 4 = 0.75.
SAMPLE = [[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 1]]
GREEDY = [[1], [1], [1], [0]]


def test_run_scores_by_hand():
    runs = run_scores(_checks("sample", SAMPLE))
    assert runs["run"].to_list() == [0, 1, 2]
    assert runs["score"].to_list() == [0.5, 0.25, 1.0]
    s = summarize_runs(runs).row(0, named=True)
    assert s["n_runs"] == 3 and s["n_items"] == 4
    assert s["mean"] == pytest.approx(0.583333, abs=1e-6)
    assert s["std"] == pytest.approx(0.381881, abs=1e-6)
    assert (s["min"], s["max"], s["delta"]) == (0.25, 1.0, 0.75)


def test_table1_by_hand():
    checks = pl.concat([_checks("sample", SAMPLE), _checks("greedy", GREEDY)])
    gens = pl.concat([_gens("sample", [[10, 20, 30]] * 4), _gens("greedy", [[5], [7], [9], [11]])])
    t = table1(checks, gens, "greedy", "sample").row(0, named=True)
    assert t["greedy"] == 75.0
    assert t["sample_mean"] == 58.33 and t["sample_std"] == 38.19
    assert (t["sample_min"], t["sample_max"], t["delta"]) == (25.0, 100.0, 75.0)
    assert t["greedy_tokens"] == 8.0 and t["sample_tokens"] == 20.0
    assert (t["n_items"], t["n_runs"]) == (4, 3)
    md = to_markdown(table1(checks, gens, "greedy", "sample"), n_samples=3, profile="x")
    assert "| m | b | 4 | 75.00 | 58.33 | 38.19 | 25.00 | 100.00 | 75.00 | 8.00 | 20.00 |" in md
    assert t["judge_unparsed"] == 0 and "did not parse" not in md


def test_table1_counts_unparsed_judge_outputs():
    """A 0 from a judge that never gave a usable verdict must not read as the model's 0."""
    checks = pl.concat([_checks("sample", SAMPLE), _checks("greedy", GREEDY)])
    failed = (pl.col("config") == "sample") & (pl.col("score") == 0)
    checks = checks.with_columns(pl.when(failed).then(pl.lit("judge_parse_failure")).otherwise(pl.col("verdict"))
                                 .alias("verdict"))
    gens = pl.concat([_gens("sample", [[10, 20, 30]] * 4), _gens("greedy", [[5], [7], [9], [11]])])
    t = table1(checks, gens, "greedy", "sample")
    assert t["judge_unparsed"].to_list() == [5]  # the 5 zero-score sample rows of SAMPLE
    md = to_markdown(t, n_samples=3, profile="x")
    assert md.rstrip().endswith("- m / b: 5 rows") and "did not parse" in md


def test_single_run_has_no_std():
    s = summarize_runs(run_scores(_checks("greedy", GREEDY))).row(0, named=True)
    assert s["std"] is None or math.isnan(s["std"])


def test_incomplete_run_is_an_error():
    checks = _checks("sample", SAMPLE).filter(~((pl.col("item_id") == "i2") & (pl.col("sample_idx") == 1)))
    with pytest.raises(DataError, match="run 1 of m/b/sample covers 3 of 4 items"):
        run_scores(checks)


def test_table1_configs():
    assert table1_configs({"g": {"do_sample": False}, "s": {"do_sample": True}, "t": {"do_sample": True}}) == ("g", "s")
    with pytest.raises(ConfigError, match="do_sample: true"):
        table1_configs({"g": {"do_sample": False}})


def test_metrics_nest_table1_by_model_and_benchmark():
    from goodbadgreedy.table1 import metrics

    checks = pl.concat([_checks("sample", SAMPLE), _checks("greedy", GREEDY)])
    gens = pl.concat([_gens("sample", [[10, 20, 30]] * 4), _gens("greedy", [[5], [7], [9], [11]])])
    m = metrics(table1(checks, gens, "greedy", "sample"))
    assert m == {"m": {"b": {"greedy": 75.0, "sample_mean": 58.33, "sample_std": 38.19, "sample_min": 25.0,
                             "sample_max": 100.0, "delta": 75.0}}}
