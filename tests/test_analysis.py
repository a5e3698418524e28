"""Stats tables of the aggregate stage on hand-made check/generation tables (values by hand)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import binomtest

from goodbadgreedy import tables
from goodbadgreedy.analysis.options import StatsOptions
from goodbadgreedy.analysis.passk import passk_table
from goodbadgreedy.analysis.ranks import p_beats
from goodbadgreedy.analysis.score_matrix import score_matrices
from goodbadgreedy.analysis.stats_tables import stats_tables
from goodbadgreedy.errors import DataError
from goodbadgreedy.plan import sweep_groups


def checks(model, config, scores, answers=None, gold=None, bench="b"):
    """scores[item][sample] -> check rows (answers/gold optional)."""
    rows = []
    for i, per_item in enumerate(scores):
        for j, s in enumerate(per_item):
            rows.append({"model": model, "benchmark": bench, "config": config, "item_id": f"i{i}", "sample_idx": j,
                         "extracted": answers[i][j] if answers else None, "gold": gold[i] if gold else "",
                         "score": float(s), "verdict": "x", "detail": ""})
    return pl.DataFrame(rows, schema=tables.CHECK_SCHEMA)


def gens(model, config, lengths, bench="b"):
    rows = []
    for i, per_item in enumerate(lengths):
        for j, n in enumerate(per_item):
            rows.append({"model": model, "benchmark": bench, "config": config, "item_id": f"i{i}", "sample_idx": j,
                         "seed": None, "prompt": "p", "response": "r", "prompt_tokens": 3,
                         "response_tokens": n, "finish_reason": "length" if n >= 30 else "eos"})
    return pl.DataFrame(rows, schema=tables.GENERATION_SCHEMA)


# 4 items x 3 samples (as tests/test_aggregate.py); greedy right on i0, i1, i2.
SAMPLE = [[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 1]]
GREEDY = [[1], [1], [1], [0]]
DECODING = {"greedy": {"do_sample": False}, "sample": {"do_sample": True, "temperature": 1.0}}


def codex_pass_at_k(n, c, k):
    """The numerically stable estimator exactly as printed in Chen et al. 2021, Figure 3."""
    if n - c < k:
        return 1.0
    return 1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))


def test_passk_against_codex_and_by_hand():
    t = passk_table(score_matrices(checks("m", "sample", SAMPLE)), taus=[0.5, 1.0])
    val = {(r["metric"], r["k"], r["tau"]): r["value"] for r in t.iter_rows(named=True)}
    c = [3, 2, 1, 1]
    for k in (1, 2, 3):
        ref = np.mean([codex_pass_at_k(3, ci, k) for ci in c])
        assert val[("pass@k", k, None)] == pytest.approx(ref, abs=1e-12)
    # by hand: pass@1 = 7/12; pass@2 = (1 + 1 + 2/3 + 2/3)/4 = 5/6; pass@3 = 1
    assert val[("pass@k", 1, None)] == pytest.approx(7 / 12)
    assert val[("pass@k", 2, None)] == pytest.approx(5 / 6)
    assert val[("pass@k", 3, None)] == 1.0
    # pass^2 = (C(3,2) + C(2,2) + 0 + 0)/C(3,2)/4 = (1 + 1/3)/4 = 1/3
    assert val[("pass^k", 2, None)] == pytest.approx(1 / 3)
    # G-Pass@2_{1.0} = pass^2; G-Pass@2_{0.5} = pass@2
    assert val[("g_pass@k", 2, 1.0)] == pytest.approx(1 / 3)
    assert val[("g_pass@k", 2, 0.5)] == pytest.approx(5 / 6)
    # maj@k skipped without answers, with a note
    maj = t.filter(pl.col("metric") == "maj@k")
    assert maj.height == 1 and maj["value"][0] is None and "skipped" in maj["note"][0]


def test_maj_at_k_from_extracted_answers():
    # one item, 3 samples answering 7, 7, 3, gold 7: maj@1 = 2/3; maj@3 = 1;
    # maj@2: subsets {7,7} -> 1, {7,3} x2 -> tie -> 1/2 each: (1 + 1/2 + 1/2)/3 = 2/3
    ch = checks("m", "sample", [[1, 1, 0]], answers=[["7", "7", "3"]], gold=["7"])
    t = passk_table(score_matrices(ch), taus=[])
    maj = {r["k"]: r["value"] for r in t.filter(pl.col("metric") == "maj@k").iter_rows(named=True)}
    assert maj[1] == pytest.approx(2 / 3) and maj[2] == pytest.approx(2 / 3) and maj[3] == 1.0


@pytest.mark.parametrize(
    "bench, answers, gold, applies",
    [
        # MixEval multiple choice: the judge extracts the chosen option, comparable with the gold letter
        ("mixeval", [["B", "B", "C"]], ["B"], True),
        # MixEval free-form: the extracted label is the judge's score, never a gold string
        ("mixeval", [["1", "0.5", "1"]], ['["Zambia"]'], False),
        # both splits in one table: maj@k would count every free-form item wrong
        ("mixeval", [["B", "B", "C"], ["1", "1", "0"]], ["B", '["Zambia"]'], False),
        # pairwise judges: preference labels
        ("alpaca_eval", [["m", "M", "m"]], ["gpt4_1106_preview"], False),
        # a non-judge benchmark with single-letter gold is unaffected
        ("mmlu_redux", [["B", "B", "C"]], ["B"], True),
    ],
)
def test_maj_at_k_of_judge_benchmarks_only_where_the_label_is_an_answer(bench, answers, gold, applies):
    ch = checks("m", "sample", [[1, 1, 0]] * len(answers), answers=answers, gold=gold, bench=bench)
    maj = passk_table(score_matrices(ch), taus=[]).filter(pl.col("metric") == "maj@k")
    if applies:
        assert maj.height == 3 and maj["value"].null_count() == 0
    else:
        assert maj.height == 1 and maj["value"][0] is None and "judge" in maj["note"][0]


def test_unbalanced_checks_are_an_error():
    ch = checks("m", "sample", SAMPLE).filter(~((pl.col("item_id") == "i2") & (pl.col("sample_idx") == 1)))
    with pytest.raises(DataError, match="m/b/sample"):
        score_matrices(ch)


def _tables(seed=7, models=("m",)):
    ch = pl.concat([checks(m, c, s) for m in models for c, s in (("greedy", GREEDY), ("sample", SAMPLE))])
    ge = pl.concat([gens(m, "greedy", [[5], [7], [9], [11]]) for m in models]
                   + [gens(m, "sample", [[10, 20, 30]] * 4) for m in models])
    return stats_tables(ch, ge, DECODING, "greedy", StatsOptions(seed=seed, n_boot=500))


def test_intervals_table():
    t = {r["config"]: r for r in _tables()["intervals"].iter_rows(named=True)}
    s, g = t["sample"], t["greedy"]
    assert s["mean"] == pytest.approx(7 / 12)
    assert s["run_std"] == pytest.approx(0.381881, abs=1e-6) and s["std_ddof"] == 1
    # clustered SE: item means 1, 2/3, 1/3, 1/3 -> var(ddof=1) = 0.101852 -> sqrt(/4) = 0.159571
    assert s["clustered_se"] == pytest.approx(0.159571, abs=1e-6)
    assert s["interval"] == "cluster_bootstrap" and s["wilson_lo"] is None
    assert s["boot_lo"] <= s["mean"] <= s["boot_hi"]
    # greedy: 3/4 -> Wilson 95%: center (0.75 + 0.4802)/1.9604, half 0.4323 -> (0.3006, 0.9544)
    assert g["interval"] == "wilson"
    assert (g["lo"], g["hi"]) == pytest.approx((0.300636, 0.954414), abs=1e-5)
    assert g["run_std"] is None


def test_bootstrap_reproducible_with_seed():
    a, b = _tables(seed=7), _tables(seed=7)
    for name in ("intervals", "paired", "lengths"):
        assert a[name].equals(b[name])
    c = _tables(seed=8)
    assert not a["intervals"]["boot_lo"].equals(c["intervals"]["boot_lo"]) or not a["paired"].equals(c["paired"])


def test_paired_greedy_vs_sample():
    p = _tables()["paired"].filter(pl.col("comparison") == "greedy_vs_sample")
    mc = p.filter(pl.col("test") == "mcnemar").sort("detail")
    assert mc.height == 3  # one McNemar per sampled run
    # run 1 = column 1: (1, 0, 0, 0) vs greedy (1, 1, 1, 0): b10 = 2, b01 = 0 -> exact p = 0.5 (scipy)
    r1 = mc.filter(pl.col("detail") == "greedy vs run 1 of sample").row(0, named=True)
    assert (r1["b10"], r1["b01"]) == (2, 0)
    assert r1["p_value"] == pytest.approx(binomtest(2, 2, 0.5).pvalue)
    assert r1["diff"] == pytest.approx(0.5)
    bs = p.filter(pl.col("test") == "paired_bootstrap").row(0, named=True)
    # greedy - item means: (1-1) + (1-2/3) + (1-1/3) + (0-1/3) = 2/3 over 4 items = 1/6
    assert bs["diff"] == pytest.approx(1 / 6)
    assert bs["lo"] <= bs["diff"] <= bs["hi"] and 0 < bs["p_value"] <= 1


def test_model_vs_model_and_rank_flips():
    ch = pl.concat(
        [
            checks("a", "greedy", GREEDY),
            checks("a", "sample", SAMPLE),
            checks("b", "greedy", [[1], [1], [1], [1]]),
            checks("b", "sample", [[0, 0, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0]]),
        ]
    )
    ge = pl.concat([gens(m, c, [[5] * k] * 4) for m in "ab" for c, k in (("greedy", 1), ("sample", 3))])
    t = stats_tables(ch, ge, DECODING, "greedy", StatsOptions(seed=1, n_boot=200))
    flips = t["rank_flips"].row(0, named=True)
    # greedy: a 3/4 < b 4/4; sampling mean: a 7/12 > b 2/12 -> flip
    assert (flips["greedy_order"], flips["sample_order"], flips["flip"]) == ("a<b", "a>b", True)
    # runs a: .5 .25 1.0; runs b: .25 .25 0 -> a beats b in 7 of 9 pairs, ties 2 (0.25 vs 0.25) -> (7 + 1)/9
    assert flips["p_a_beats_b"] == pytest.approx(8 / 9)
    ranks = {(r["model"]): r for r in t["ranks"].iter_rows(named=True)}
    assert (ranks["a"]["rank_greedy"], ranks["a"]["rank_sample"]) == (2.0, 1.0)
    mvm = t["paired"].filter(pl.col("comparison") == "model_vs_model")
    assert set(mvm["test"].to_list()) == {"mcnemar", "paired_bootstrap"}
    g = mvm.filter(pl.col("config_a") == "greedy").row(0, named=True)
    assert (g["b10"], g["b01"], g["p_value"]) == (0, 1, 1.0)


def test_variance_and_lengths():
    t = _tables()
    v = t["variance"].row(0, named=True)
    assert v["within_var"] + v["between_var"] == pytest.approx(v["total_var"])
    # within: mean of p(1-p) over items = (0 + 2/9 + 2/9 + 2/9)/4 = 1/6
    assert v["within_var"] == pytest.approx(1 / 6)
    lengths = {r["config"]: r for r in t["lengths"].iter_rows(named=True)}
    assert lengths["greedy"]["mean_tokens"] == 8.0 and lengths["sample"]["mean_tokens"] == 20.0
    assert lengths["sample"]["frac_length_limit"] == pytest.approx(1 / 3)
    assert lengths["sample"]["diff_vs_greedy"] == pytest.approx(12.0)
    assert lengths["greedy"]["diff_vs_greedy"] is None


def test_single_model_has_no_rank_flips():
    t = _tables()
    assert t["rank_flips"].height == 0
    assert t["ranks"].height == 1


def test_p_beats():
    assert p_beats([1.0], [0.0]) == 1.0
    assert p_beats([0.5, 0.5], [0.5]) == 0.5
    with pytest.raises(ValueError):
        p_beats([], [1.0])


def test_sweep_groups():
    assert sweep_groups(DECODING) == {}
    dec = {
        "greedy": {"do_sample": False},
        "t1": {"do_sample": True, "temperature": 1.0, "top_p": 1.0},
        "t05": {"do_sample": True, "temperature": 0.5, "top_p": 1.0},
        "p09": {"do_sample": True, "temperature": 1.0, "top_p": 0.9},
    }
    assert sweep_groups(dec) == {"temperature": ["t05", "t1"], "top_p": ["p09", "t1"]}
