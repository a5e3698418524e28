"""Scorers (self-consistency, logprob, reward model), the Best-of-N table and its figure.

Expected values are worked out by hand in the comments; the logprob and reward-model scores are
checked against a direct, unbatched transformers forward pass on tiny models built locally (no
hub access).
"""

from __future__ import annotations

import logging
import math
import textwrap

import numpy as np
import polars as pl
import pytest

from goodbadgreedy import tables, validation
from goodbadgreedy.errors import ConfigError, DataError, ValidationError
from goodbadgreedy.reranking import ScoringInputs, build_scorer, score_table, scorer_type
from goodbadgreedy.reranking.best_of_n_table import (
    BEST_OF_N_COLUMNS,
    best_of_n_table,
    greedy_table,
    n_grid,
)
from goodbadgreedy.reranking.self_consistency import SelfConsistencyScorer, vote_shares

KEYS = {"model": "m", "benchmark": "gsm8k"}


# ---------------------------------------------------------------------------------------------
# helpers


def gen_frame(rows, *, config="sample", prompts=None, finish=None) -> pl.DataFrame:
    """A generation table from (item_id, sample_idx, response) triples."""
    n = len(rows)
    return pl.DataFrame(
        {
            "model": ["m"] * n,
            "benchmark": ["gsm8k"] * n,
            "config": [config] * n,
            "item_id": [r[0] for r in rows],
            "sample_idx": [r[1] for r in rows],
            "seed": [1] * n,
            "prompt": prompts or ["p"] * n,
            "response": [r[2] for r in rows],
            "prompt_tokens": [5] * n,
            "response_tokens": [3] * n,
            "finish_reason": finish or ["eos"] * n,
            "logprobs": [None] * n, "processed_logprobs": [None] * n,
        },
        schema=tables.GENERATION_SCHEMA,
    )


def check_frame(rows, *, config="sample") -> pl.DataFrame:
    """A check table from (item_id, sample_idx, extracted, score) tuples."""
    n = len(rows)
    return pl.DataFrame(
        {
            "model": ["m"] * n,
            "benchmark": ["gsm8k"] * n,
            "config": [config] * n,
            "item_id": [r[0] for r in rows],
            "sample_idx": [r[1] for r in rows],
            "extracted": [r[2] for r in rows],
            "gold": ["7"] * n,
            "score": [float(r[3]) for r in rows],
            "verdict": ["correct" if r[3] else "wrong" for r in rows],
            "detail": [None] * n,
            "judge_prompt": [None] * n,
            "judge_output": [None] * n,
            "judge_parse_failures": [None] * n,
        },
        schema=tables.CHECK_SCHEMA,
    )


def scores_frame(rows, *, scorer="rm", config="sample") -> pl.DataFrame:
    """A scores table from (item_id, sample_idx, reward) triples."""
    n = len(rows)
    return pl.DataFrame(
        {
            "model": ["m"] * n,
            "benchmark": ["gsm8k"] * n,
            "config": [config] * n,
            "item_id": [r[0] for r in rows],
            "sample_idx": [r[1] for r in rows],
            "scorer": [scorer] * n,
            "reward": [float(r[2]) for r in rows],
            "truncated": [False] * n,
        },
        schema=tables.SCORES_SCHEMA,
    )


# ---------------------------------------------------------------------------------------------
# Best-of-N table

# Item A: rewards [0.9, 0.1, 0.5, 0.5], correct [0, 1, 1, 0] (samples 2 and 3 tie at 0.5).
# Item B: rewards all 0.0 (one tie group), correct [1, 0, 0, 0].
REWARDS = {"A": [0.9, 0.1, 0.5, 0.5], "B": [0.0, 0.0, 0.0, 0.0]}
CORRECT = {"A": [0, 1, 1, 0], "B": [1, 0, 0, 0]}

# Worked by hand, per item, then averaged over the two items (percent):
# N=1  every estimator = mean correctness, except first = sample 0:
#      A: 0.5 (first 0), B: 0.25 (first 1)
# N=2  the 6 pairs of A, picked sample's correctness by max reward:
#      {0,1}:0 {0,2}:0 {0,3}:0 {1,2}:1 {1,3}:0 {2,3}: tie of 1 and 0 -> 0.5  => 1.5/6 = 0.25
#      B: one tie group -> mean 0.25.  first (samples 0, 1): A picks 0 -> 0; B tie -> sample 0 -> 1
#      oracle A: only {0,3} has no correct sample -> 5/6; B: 1 - C(3,2)/C(4,2) = 0.5
#      worst A, by min reward: {0,1}:1 {0,2}:1 {0,3}:0 {1,2}:1 {1,3}:1 {2,3}:0.5 => 4.5/6 = 0.75
#      worst B: 0.25
# N=4  unbiased A: sample 0 -> 0, B: 0.25; first A 0, B 1; oracle 1, 1; worst A: sample 1 -> 1, B 0.25
EXPECTED = {
    (1, "unbiased"): 37.5, (1, "first"): 50.0, (1, "oracle"): 37.5, (1, "random"): 37.5, (1, "worst"): 37.5,
    (2, "unbiased"): 25.0, (2, "first"): 50.0, (2, "oracle"): 100 * (5 / 6 + 0.5) / 2,
    (2, "random"): 37.5, (2, "worst"): 50.0,
    (4, "unbiased"): 12.5, (4, "first"): 50.0, (4, "oracle"): 100.0, (4, "random"): 37.5, (4, "worst"): 62.5,
}


def _hand_tables():
    # rows deliberately out of order: the table must sort by (item_id, sample_idx)
    s_rows = [(i, j, REWARDS[i][j]) for i in ("B", "A") for j in (3, 1, 0, 2)]
    c_rows = [(i, j, None, CORRECT[i][j]) for i in ("A", "B") for j in range(4)]
    scores = pl.concat([scores_frame(s_rows, scorer="rm"), scores_frame(s_rows, scorer="rm2")])
    greedy = check_frame([("A", 0, "7", 1), ("B", 0, "3", 0)], config="greedy")
    checks = pl.concat([check_frame(c_rows), greedy])
    return scores, checks


def test_best_of_n_table_matches_hand_worked_values():
    scores, checks = _hand_tables()
    table = best_of_n_table(scores, checks)
    assert table.columns == BEST_OF_N_COLUMNS
    assert table.height == 2 * 3 * 5  # scorers x N in (1, 2, 4) x estimators
    assert table["config"].unique().to_list() == ["sample"]  # the greedy config is not scored
    for scorer in ("rm", "rm2"):
        got = {
            (n, e): v
            for n, e, v in table.filter(pl.col("scorer") == scorer).select("N", "estimator", "value").rows()
        }
        assert got.keys() == EXPECTED.keys()
        for key, value in EXPECTED.items():
            assert got[key] == pytest.approx(value, abs=1e-12), key


def test_greedy_table_is_mean_check_score_in_percent():
    _, checks = _hand_tables()
    g = greedy_table(checks, ["greedy"])
    assert g.rows() == [("m", "gsm8k", "greedy", 50.0)]
    assert greedy_table(checks, []).height == 0


@pytest.mark.parametrize(("n", "grid"), [(1, [1]), (4, [1, 2, 4]), (6, [1, 2, 4, 6]), (16, [1, 2, 4, 8, 16])])
def test_n_grid(n, grid):
    assert n_grid(n) == grid


def test_best_of_n_table_rejects_mismatched_keys_and_ragged_items():
    scores, checks = _hand_tables()
    with pytest.raises(DataError, match="scores row.*have no checks row.*'item_id': 'A'"):
        best_of_n_table(scores, checks.filter(~((pl.col("item_id") == "A") & (pl.col("sample_idx") == 2))))
    ragged_s = scores.filter(~((pl.col("item_id") == "A") & (pl.col("sample_idx") == 3)))
    ragged_c = checks.filter(~((pl.col("item_id") == "A") & (pl.col("sample_idx") == 3)))
    with pytest.raises(DataError, match="different numbers of samples.*item 'A' has 3"):
        best_of_n_table(ragged_s, ragged_c)


def test_best_of_n_plot_writes_png(tmp_path):
    from goodbadgreedy.reranking.plot import plot_best_of_n

    scores, checks = _hand_tables()
    table = best_of_n_table(scores, checks)
    dest = tmp_path / "plots" / "best_of_n.png"
    plot_best_of_n(table, greedy_table(checks, ["greedy"]), dest)
    data = dest.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    plot_best_of_n(table, greedy_table(checks, ["greedy"]), tmp_path / "again.png")
    assert (tmp_path / "again.png").read_bytes() == data  # no timestamp: same table, same bytes


# ---------------------------------------------------------------------------------------------
# self-consistency


def test_vote_shares_hand_made_with_ties_and_unparseable():
    items = ["a", "a", "b", "a", "b", "a", "b", "a"]
    answers = ["7", "7", "B", "3", "B", None, "C", "3"]
    # item a: 5 samples, answers 7,7,3,None,3 -> 7 and 3 tie with 2 votes each: 2/5; None -> 0
    # item b: 3 samples, answers B,B,C -> 2/3, 2/3, 1/3
    expected = [0.4, 0.4, 2 / 3, 0.4, 2 / 3, 0.0, 1 / 3, 0.4]
    np.testing.assert_allclose(vote_shares(items, answers), expected, rtol=0, atol=1e-15)
    # every unparseable sample scores below every parseable one, even a lone answer
    assert vote_shares(["x"] * 3, ["1", None, None]).tolist() == [1 / 3, 0.0, 0.0]
    with pytest.raises(DataError, match="2 item ids for 1 answers"):
        vote_shares(["a", "b"], ["1"])


def test_self_consistency_scorer_table_and_tie_handling():
    gen = gen_frame([("a", j, "r") for j in (3, 0, 2, 1)] + [("b", j, "r") for j in range(2)])
    checks = check_frame(
        [("a", 0, "7", 1), ("a", 1, "3", 0), ("a", 2, "7", 1), ("a", 3, "3", 0),
         ("b", 0, None, 0), ("b", 1, "9", 1)]
    )
    df = score_table(SelfConsistencyScorer(), "self_consistency", ScoringInputs(gen, checks=checks))
    assert df.schema == tables.SCORES_SCHEMA
    assert df.select("item_id", "sample_idx", "reward").rows() == [
        ("a", 0, 0.5), ("a", 1, 0.5), ("a", 2, 0.5), ("a", 3, 0.5), ("b", 0, 0.0), ("b", 1, 0.5),
    ]
    assert not df["truncated"].any()
    validation.validate_table(df, "scores", expected_rows=6)
    # ties: item a is a 2-2 tie between a right and a wrong answer. Unbiased Best-of-N averages
    # over the tie (0.5 for every N); the paper's first-N variant picks sample 0 (correct).
    a_only = best_of_n_table(df.filter(pl.col("item_id") == "a"), checks.filter(pl.col("item_id") == "a"))
    vals = {(n, e): v for n, e, v in a_only.select("N", "estimator", "value").rows()}
    for n in (1, 2, 4):
        assert vals[(n, "unbiased")] == pytest.approx(50.0) and vals[(n, "first")] == 100.0
    # items a (4 samples) and b (2) together are ragged: Best-of-N refuses them
    with pytest.raises(DataError, match="different numbers of samples"):
        best_of_n_table(df, checks)


def test_self_consistency_needs_checks_with_the_same_keys():
    gen = gen_frame([("a", 0, "r"), ("a", 1, "r")])
    with pytest.raises(DataError, match="needs the check table"):
        score_table(SelfConsistencyScorer(), "sc", ScoringInputs(gen))
    with pytest.raises(DataError, match="1 generation key.*missing"):
        score_table(SelfConsistencyScorer(), "sc", ScoringInputs(gen, checks=check_frame([("a", 0, "1", 1)])))


# ---------------------------------------------------------------------------------------------
# validation of scores tables


def test_scores_validation_rejects_nan_and_duplicates_naming_the_row():
    good = scores_frame([("a", 0, 0.1), ("a", 1, 0.2), ("b", 0, 0.3), ("b", 1, 0.4)])
    validation.validate_table(good, "scores", expected_rows=4)
    nan = good.with_columns(pl.Series("reward", [0.1, 0.2, math.nan, 0.4]))
    with pytest.raises(ValidationError) as info:
        validation.validate_table(nan, "scores")
    assert "reward" in str(info.value) and "rows [2]" in str(info.value)
    inf = good.with_columns(pl.Series("reward", [0.1, -math.inf, 0.3, 0.4]))
    with pytest.raises(ValidationError, match=r"reward.*rows \[1\]"):
        validation.validate_table(inf, "scores")
    dup = good.with_columns(pl.Series("sample_idx", [0, 1, 0, 0], dtype=pl.Int32))
    with pytest.raises(ValidationError) as info:
        validation.validate_table(dup, "scores")
    assert "('b', 0) at rows [2, 3]" in str(info.value)
    mixed = good.with_columns(pl.Series("scorer", ["rm", "rm", "rm", "other"]))
    with pytest.raises(ValidationError, match=r"scorer.*rows \[3\]"):
        validation.validate_table(mixed, "scores")


def test_score_table_rejects_non_finite_scores_naming_the_sample():
    class Bad:
        kind = "bad"

        def score(self, inputs):
            from goodbadgreedy.reranking import Scores

            return Scores(np.array([0.0, np.nan]), np.zeros(2, dtype=bool))

    with pytest.raises(DataError, match="non-finite.*item_id 'a', sample_idx 1"):
        score_table(Bad(), "bad", ScoringInputs(gen_frame([("a", 1, "r"), ("a", 0, "r")])))


def test_scorer_types_and_errors():
    assert scorer_type("self_consistency", {}) == "self_consistency"
    assert scorer_type("armorm", {"type": "reward_model"}) == "reward_model"
    with pytest.raises(ConfigError, match="scorers.foo: unknown scorer type 'foo'"):
        scorer_type("foo", {})
    with pytest.raises(ConfigError, match="logprob needs the policy model's manifest"):
        build_scorer("logprob", {}, benchmark="gsm8k")
    with pytest.raises(ConfigError, match="'model'.*required"):
        build_scorer("reward_model", {}, benchmark="gsm8k")
    with pytest.raises(ConfigError, match="output must be one of"):
        build_scorer("rm", {"type": "reward_model", "model": "x", "output": "bogus"}, benchmark="gsm8k")


# ---------------------------------------------------------------------------------------------
# logprob


def _direct_mean_logprob(model, ids: list[int], n_prompt: int) -> float:
    import torch

    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    targets = torch.tensor(ids[n_prompt:])
    return float(logp[n_prompt - 1 : len(ids) - 1].gather(-1, targets.unsqueeze(-1)).mean())


def test_logprob_matches_a_direct_forward_pass(tiny_model, tokenizer):
    from goodbadgreedy.generation.backend_base import render_prompt
    from goodbadgreedy.prompts import Prompt
    from goodbadgreedy.reranking.logprob import LogprobScorer

    questions = ["What is 2+3?", "Name three colors.", "hi", "Write a long story about a dragon."]
    prompts = [render_prompt(tokenizer, Prompt(messages=({"role": "user", "content": q},))) for q in questions]
    rows = [("i0", 0, "It is 5."), ("i0", 1, "five"), ("i1", 0, "Red, green and blue, of course."),
            ("i1", 1, ""), ("i2", 0, "Hello there!"), ("i3", 0, "Once upon a time")]
    gen = gen_frame(rows, prompts=[prompts[0], prompts[0], prompts[1], prompts[1], prompts[2], prompts[3]],
                    finish=["eos", "length", "eos", "stop", "length", "eos"])
    scorer = LogprobScorer({"batch_size": 3}, tokenizer=tokenizer, model=tiny_model)
    df = score_table(scorer, "logprob", ScoringInputs(gen))
    got = dict(zip(zip(df["item_id"], df["sample_idx"], strict=True), df["reward"], strict=True))
    eos = tokenizer.eos_token_id
    for (item, j, resp), prompt, fin in zip(rows, gen["prompt"], gen["finish_reason"], strict=True):
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        r = tokenizer(resp, add_special_tokens=False)["input_ids"] if resp else []
        if fin == "eos" or not r:  # EOS scored when the sample ended on it, or nothing else is
            r = r + [eos]
        assert got[(item, j)] == pytest.approx(_direct_mean_logprob(tiny_model, p + r, len(p)), abs=2e-5)
        assert got[(item, j)] < 0
    assert not df["truncated"].any()
    validation.validate_table(df, "scores", expected_rows=len(rows))
    # batch size does not change the scores beyond float noise
    one = score_table(LogprobScorer({"batch_size": 1}, tokenizer=tokenizer, model=tiny_model), "logprob",
                      ScoringInputs(gen))
    np.testing.assert_allclose(one["reward"].to_numpy(), df["reward"].to_numpy(), rtol=0, atol=2e-5)


def test_logprob_truncation_is_counted_and_flagged(tiny_model, tokenizer, caplog):
    from goodbadgreedy.reranking.logprob import LogprobScorer

    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Count."}], add_generation_prompt=True,
                                           tokenize=False)
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    long = "one two three four five six seven eight nine ten eleven twelve"
    gen = gen_frame([("a", 0, long), ("a", 1, "one")], prompts=[prompt, prompt], finish=["length", "eos"])
    scorer = LogprobScorer({"max_length": n_prompt + 4}, tokenizer=tokenizer, model=tiny_model)
    with caplog.at_level(logging.WARNING):
        df = score_table(scorer, "logprob", ScoringInputs(gen))
    assert df["truncated"].to_list() == [True, False]
    assert scorer.describe()["n_truncated"] == 1
    assert "1 of 2 samples cut to max_length" in caplog.text
    assert "1 of 2 samples were truncated" in caplog.text
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r = tokenizer(long, add_special_tokens=False)["input_ids"][:4]
    assert df["reward"][0] == pytest.approx(_direct_mean_logprob(tiny_model, p + r, len(p)), abs=2e-5)
    with pytest.raises(DataError, match="row 0: the prompt alone has"):
        score_table(LogprobScorer({"max_length": n_prompt}, tokenizer=tokenizer, model=tiny_model), "logprob",
                    ScoringInputs(gen))


# ---------------------------------------------------------------------------------------------
# reward model (tiny, built and saved locally; loaded through the real from_pretrained path)

TINY_RM_CODE = textwrap.dedent(
    '''
    """An ArmoRM-like reward model: custom code whose output carries ``score``."""
    from dataclasses import dataclass

    import torch
    from transformers import LlamaForSequenceClassification
    from transformers.utils import ModelOutput


    @dataclass
    class RewardOutput(ModelOutput):
        score: torch.FloatTensor | None = None
        logits: torch.FloatTensor | None = None


    class TinyArmoRM(LlamaForSequenceClassification):
        def forward(self, input_ids=None, attention_mask=None, **kwargs):
            out = super().forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
            return RewardOutput(score=10.0 * out.logits[:, 1:2], logits=out.logits)
    '''
)


@pytest.fixture(scope="module")
def reward_folders(tmp_path_factory, tokenizer):
    """Two saved reward-model folders: plain (logits) and custom-code (score), with a tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    root = tmp_path_factory.mktemp("rm")
    torch.manual_seed(0)
    cfg = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    plain = LlamaForSequenceClassification(LlamaConfig(num_labels=1, **cfg)).eval()
    plain.save_pretrained(root / "plain")
    tokenizer.save_pretrained(root / "plain")
    torch.manual_seed(1)
    custom_cfg = LlamaConfig(num_labels=2, **cfg)
    custom_cfg.auto_map = {"AutoModelForSequenceClassification": "modeling_tiny_rm.TinyArmoRM"}
    LlamaForSequenceClassification(custom_cfg).eval().save_pretrained(root / "custom")
    (root / "custom" / "modeling_tiny_rm.py").write_text(TINY_RM_CODE)
    tokenizer.save_pretrained(root / "custom")
    return root


GSM8K_ITEMS = pl.DataFrame(
    {
        "item_id": ["g1", "g2"],
        "benchmark": ["gsm8k"] * 2,
        "category": [None, None],
        "question": ["Tom has 3 apples and buys 4. How many?", "What is 10 - 2?"],
        "choices": [[], []],
        "answer": ["7", "8"],
        "payload": ["{}", "{}"],
    },
    schema=tables.BENCHMARK_SCHEMA,
)
RM_ROWS = [("g1", 0, "3 + 4 = 7. The answer is 7."), ("g1", 1, "The answer is 12."),
           ("g1", 2, "Tom has apples, lots of them, many many apples, so 7."), ("g2", 0, "8"),
           ("g2", 1, "")]


def _direct_reward(model, tokenizer, user, answer, *, field, max_length=None):
    """Unbatched reference: batch of one, no padding."""
    import torch

    text = tokenizer.apply_chat_template([{"role": "user", "content": user},
                                          {"role": "assistant", "content": answer}], tokenize=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_length]
    saved = model.config.pad_token_id
    model.config.pad_token_id = None  # batch of one: the last token is pooled
    try:
        with torch.no_grad():
            out = model(torch.tensor([ids]))
    finally:
        model.config.pad_token_id = saved
    return float(getattr(out, field).float().reshape(-1)[0] if field == "score" else out.logits[0, 0])


@pytest.mark.parametrize(("folder", "spec", "field"), [
    ("plain", {"output": "logits"}, "logits"),
    ("custom", {"output": "score", "trust_remote_code": True}, "score"),
])
def test_reward_model_end_to_end_from_a_local_folder(reward_folders, folder, spec, field):
    gen = gen_frame(RM_ROWS)
    scorer = build_scorer("rm", {"type": "reward_model", "model": str(reward_folders / folder),
                                 "batch_size": 2, "device": "cpu", **spec}, benchmark="gsm8k")
    assert str(next(scorer.model.parameters()).dtype) == "torch.float32"  # auto dtype on CPU
    df = score_table(scorer, "rm", ScoringInputs(gen, items=GSM8K_ITEMS, options={}))
    validation.validate_table(df, "scores", expected_rows=len(RM_ROWS))
    assert not df["truncated"].any()
    questions = dict(zip(GSM8K_ITEMS["item_id"], GSM8K_ITEMS["question"], strict=True))
    for (item, j, resp), reward in zip(RM_ROWS, df.sort("item_id", "sample_idx")["reward"], strict=True):
        # the user message is the benchmark prompt's last user turn (no few-shot exemplars)
        ref = _direct_reward(scorer.model, scorer.tokenizer, f"Question: {questions[item]}", resp, field=field)
        assert reward == pytest.approx(ref, abs=1e-5), (item, j)
    assert len(set(df["reward"].to_list())) == len(RM_ROWS)  # the scores are not degenerate


def test_reward_model_truncation_is_counted_and_logged(reward_folders, caplog):
    gen = gen_frame(RM_ROWS)
    scorer = build_scorer("rm", {"type": "reward_model", "model": str(reward_folders / "plain"),
                                 "max_length": 40, "batch_size": 4}, benchmark="gsm8k")
    with caplog.at_level(logging.WARNING):
        df = score_table(scorer, "rm", ScoringInputs(gen, items=GSM8K_ITEMS, options={}))
    # the system prompt of the template alone is ~20 tokens: every conversation exceeds 40
    assert df["truncated"].all()
    assert scorer.describe()["n_truncated"] == len(RM_ROWS)
    assert f"{len(RM_ROWS)} of {len(RM_ROWS)} conversations cut to max_length 40" in caplog.text
    first = df.sort("item_id", "sample_idx")["reward"][0]
    ref = _direct_reward(scorer.model, scorer.tokenizer, f"Question: {GSM8K_ITEMS['question'][0]}",
                         RM_ROWS[0][2], field="logits", max_length=40)
    assert first == pytest.approx(ref, abs=1e-5)


def test_reward_model_errors(reward_folders, tmp_path):
    from goodbadgreedy.errors import ModelLoadError

    gen = gen_frame(RM_ROWS[:2])
    plain = build_scorer("rm", {"type": "reward_model", "model": str(reward_folders / "plain"),
                                "output": "score"}, benchmark="gsm8k")
    with pytest.raises(ConfigError, match="has no 'score' field.*try output: logits"):
        score_table(plain, "rm", ScoringInputs(gen, items=GSM8K_ITEMS, options={}))
    with pytest.raises(DataError, match="needs the benchmark items"):
        score_table(plain, "rm", ScoringInputs(gen))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="cannot load reward model"):
        build_scorer("rm", {"type": "reward_model", "model": str(tmp_path / "empty")}, benchmark="gsm8k")


def test_reward_model_conversation_keeps_the_assistant_prefix():
    from goodbadgreedy.reranking.reward_model import conversations

    items = pl.DataFrame(
        {"item_id": ["h"], "benchmark": ["humaneval"], "category": [None],
         "question": ['def f(x):\n    """Double x."""\n'], "choices": [[]], "answer": [""],
         "payload": ['{"test": "", "entry_point": "f"}']},
        schema=tables.BENCHMARK_SCHEMA,
    )
    gen = gen_frame([("h", 0, "    return 2 * x\n")])
    (conv,) = conversations(ScoringInputs(gen, items=items, options={}), "humaneval")
    assert conv[0]["role"] == "user" and "def f(x):" in conv[0]["content"]
    assert conv[1] == {"role": "assistant",
                       "content": '```python\ndef f(x):\n    """Double x."""\n    return 2 * x\n'}
