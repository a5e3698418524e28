"""Judge-based benchmarks (MixEval, AlpacaEval 2, Arena-Hard v2.0) and the LLM-judge client.

Unit tests (parsers, length-controlled win rate, data quirks, checksums, cache, parse failures
through a scripted server) and, for each benchmark, an end-to-end run against ONE real
``transformers serve`` of the packaged SmolLM2-135M-Instruct (started once for the session):
the served model generates the responses, the same server judges them, and the check table keeps
the judge's prompts, raw outputs and parse failures.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from servers import FakeServer, chat_reply

from goodbadgreedy import benchmarks, tables
from goodbadgreedy.benchmarks import alpaca_eval, arena_hard, base, mixeval
from goodbadgreedy.data import normalize, verify_files
from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.generation.backends import OpenAIServedBackend
from goodbadgreedy.generation.run import generate_table
from goodbadgreedy.judge import parsing
from goodbadgreedy.judge.check import PARSE_FAILURE, judge_summary
from goodbadgreedy.judge.client import JudgeClient
from goodbadgreedy.judge.winrate import length_controlled_win_rate, win_rate
from goodbadgreedy.validation import validate_table

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"
JUDGED = ("mixeval", "alpaca_eval", "arena_hard")


@pytest.fixture(scope="module")
def tables_by_name():
    return {b: normalize(b, RAW, RAW / "SHA256SUMS", {}) for b in JUDGED}


# ----- parsers -----

def test_mixeval_parsers_follow_the_authors_rules():
    assert parsing.mixeval_score("reasoning... The correctness score: [[0.7]].") == 0.7
    assert parsing.mixeval_score("score [1.0] then [[0.2]]") == 0.2  # [[x]] wins over [x]
    assert parsing.mixeval_score("The score: [0.4]") == 0.4
    assert parsing.mixeval_score("[[1.5]]") is None  # outside [0, 1]: MixEval asks again
    assert parsing.mixeval_score("I think 0.5") is None
    assert parsing.mixeval_option("The option chosen by the model: [[C]].") == "C"
    assert parsing.mixeval_option("maybe [B]") == "B"
    assert parsing.mixeval_option("[[b]] or B") is None


def test_arena_verdicts_as_arena_hard_auto_reads_them():
    assert parsing.arena_verdict("... My final verdict is: [[B>>A]]") == "B>>A"
    assert parsing.arena_verdict("[[A=B]] ... so [[A=B]]") == "A=B"  # repeated, one label
    assert parsing.arena_verdict("[[A>B]] or [[B>A]]") is None  # two different labels
    assert parsing.arena_verdict("A is better") is None
    assert parsing.arena_verdict("[[AB]]") is None
    assert parsing.arena_model_score("A>>B", model_is_a=True) == 1.0
    assert parsing.arena_model_score("A>B", model_is_a=False) == 0.0
    assert parsing.arena_model_score("A=B", model_is_a=False) == 0.5
    assert parsing.arena_model_score("B>A", model_is_a=False) == 1.0


def test_alpaca_choice():
    for text, want in [("m", "m"), ("M", "M"), (' "M"', "M"), ("m\n", "m"), ("`m`", "m"),
                       ("Mistral", None), ("model m", None), ("", None)]:
        assert parsing.alpaca_choice(text) == want, text


# ----- win rates -----

def test_lc_win_rate_recovers_a_known_glm():
    rng = np.random.default_rng(0)
    n = 20000
    delta = rng.normal(0, 300, n)
    baseline = np.full(n, 1000.0)
    theta, phi = -0.5, 1.2
    p = 1 / (1 + np.exp(-(theta + phi * np.tanh(delta / delta.std(ddof=1)))))
    y = (rng.random(n) < p).astype(float)
    fit = length_controlled_win_rate(y, baseline + delta, baseline)
    assert fit.theta == pytest.approx(theta, abs=0.05) and fit.phi == pytest.approx(phi, abs=0.08)
    assert fit.lc_win_rate == pytest.approx(1 / (1 + np.exp(0.5)), abs=0.012)
    assert fit.win_rate == pytest.approx(y.mean())


def test_lc_win_rate_removes_a_pure_length_effect_and_stays_finite():
    # the model wins exactly when its answer is longer: the length term explains everything
    delta = np.array([-300.0, -200, -100, 100, 200, 300] * 50)
    y = (delta > 0).astype(float)
    fit = length_controlled_win_rate(y, 1000 + delta, np.full(delta.size, 1000.0))
    assert fit.win_rate == 0.5 and fit.lc_win_rate == pytest.approx(0.5, abs=1e-6) and fit.phi > 5
    # all wins, equal lengths: sd 0, no length term, finite (penalized) fit above 1/2
    eq = length_controlled_win_rate([1, 1, 1], [5, 6, 7], [5, 6, 7])
    assert eq.sd_delta == 0 and eq.phi == 0 and 0.5 < eq.lc_win_rate < 1
    with pytest.raises(ValueError):
        length_controlled_win_rate([1.2], [1], [1])
    with pytest.raises(ValueError):
        win_rate([])


# ----- data -----

def test_vendored_files_match_their_checksums(tables_by_name):
    for b in JUDGED:
        assert set(verify_files(RAW, b, RAW / "SHA256SUMS")) == {f"{b}/{f}" for f in benchmarks.get(b).RAW_FILES}
    assert {b: t.height for b, t in tables_by_name.items()} == {"mixeval": 4000, "alpaca_eval": 805, "arena_hard": 750}
    for t in tables_by_name.values():
        assert validate_table(t, "benchmark")["success"]


def test_edited_raw_file_is_refused(tmp_path):
    (tmp_path / "alpaca_eval").mkdir()
    (tmp_path / "alpaca_eval" / "alpaca_eval_gpt4_baseline.json").write_text("[]")
    with pytest.raises(DataError, match="differs from the recorded"):
        verify_files(tmp_path, "alpaca_eval", RAW / "SHA256SUMS")


def test_mixeval_quirks(tmp_path, tables_by_name):
    df = tables_by_name["mixeval"]
    ff = df.filter(pl.col("item_id").str.starts_with("mixeval/ff/"))
    mc = df.filter(pl.col("item_id").str.starts_with("mixeval/mc/"))
    assert ff.height == mc.height == 2000
    first = mc.filter(pl.col("item_id") == "mixeval/mc/0000").row(0, named=True)
    assert first["answer"] == "C" and first["choices"][2] == "George Orwell's 1984"
    # the file is an object keyed by ids; null / "none" / blank context are all "no context"
    raw = {
        "10": {
            "problem_type": "free-form",
            "context": None,
            "prompt": "Q1?",
            "target": ["a", "b"],
            "benchmark_name": "TriviaQA",
        },
        "2": {
            "problem_type": "free-form",
            "context": "None",
            "prompt": "Q2?",
            "target": ["7"],
            "benchmark_name": "GSM8k",
        },
        "3": {
            "problem_type": "free-form",
            "context": "Some text.",
            "prompt": "Q3?",
            "target": ["x"],
            "benchmark_name": "DROP",
        },
    }
    mcq = {
        "0": {
            "problem_type": "multiple-choice",
            "context": " ",
            "prompt": "Pick",
            "options": ["x", "y"],
            "target": [1],
            "benchmark_name": "PIQA",
        }
    }
    (tmp_path / "free-form.json").write_text(json.dumps(raw))
    (tmp_path / "multiple-choice.json").write_text(json.dumps(mcq))
    t = mixeval.load(tmp_path, {})
    assert t["item_id"].to_list() == ["mixeval/ff/0002", "mixeval/ff/0003", "mixeval/ff/0010", "mixeval/mc/0000"]
    rows = {r["item_id"]: r for r in t.iter_rows(named=True)}
    assert mixeval.prompt_text(rows["mixeval/ff/0010"]) == "Question: Q1?\nAnswer the question shortly."
    assert (
        mixeval.prompt_text(rows["mixeval/ff/0002"])
        == "Question: Q2?\nAnswer the question. \nLet's think step by step."
    )
    assert mixeval.prompt_text(rows["mixeval/ff/0003"]) == "Question: Some text.\nQ3?\nAnswer the question shortly."
    assert mixeval.prompt_text(rows["mixeval/mc/0000"]) == (
        "Pick\nA. x\nB. y\nAnswer with the option letter from the given choices directly.")
    judge_user = mixeval.judge_messages(rows["mixeval/ff/0010"], "b")[1]["content"]
    assert "Golden Answer(s): <answer 1> a; <answer 2> b\nModel's Answer: b\nYour Judgment: \n" in judge_user
    assert mixeval.load(tmp_path, {"split": "multiple_choice"}).height == 1
    with pytest.raises(ConfigError, match="split"):
        mixeval.load(tmp_path, {"split": "mc"})
    (tmp_path / "multiple-choice.json").write_text(json.dumps([mcq["0"]]))
    with pytest.raises(DataError, match="JSON object keyed by ids"):
        mixeval.load(tmp_path, {})
    mcq["0"]["target"] = [2]
    (tmp_path / "multiple-choice.json").write_text(json.dumps(mcq))
    with pytest.raises(DataError, match="id 0: 'target'"):
        mixeval.load(tmp_path, {})


def test_arena_hard_loads_answers_with_line_separators(tables_by_name):
    df = tables_by_name["arena_hard"]
    answers = [json.loads(p)["baseline_answer"] for p in df["payload"]]
    assert all(a.strip() for a in answers) and any("\u2028" in a or "\x85" in a for a in answers)
    assert set(df["category"].unique()) == {
        "hard_prompt/coding",
        "hard_prompt/math",
        "creative_writing/creative_writing",
    }
    item = df.filter(pl.col("category") == "creative_writing/creative_writing").row(0, named=True)
    system, user = arena_hard.judge_messages(item, "AAA", "BBB")
    assert (
        system["content"] == arena_hard.CREATIVE_SYSTEM_PROMPT and "generating your own answer" not in system["content"]
    )
    assert (
        user["content"].startswith("<|User Prompt|>\n") and "Answer|>\nAAA\n<|The End of Assistant A" in user["content"]
    )


def test_alpaca_positions_are_deterministic_and_balanced():
    firsts = [alpaca_eval.model_first(f"alpaca_eval/{i:03d}", j) for i in range(200) for j in range(2)]
    assert firsts == [alpaca_eval.model_first(f"alpaca_eval/{i:03d}", j) for i in range(200) for j in range(2)]
    assert 0.4 < np.mean(firsts) < 0.6


# ----- judge client, cache and parse failures (scripted server) -----

def _generations(items: pl.DataFrame, responses: list[str], benchmark: str) -> pl.DataFrame:
    rows = [{"model": "m", "benchmark": benchmark, "config": "greedy", "item_id": i, "sample_idx": 0, "seed": None,
             "prompt": "p", "response": r, "prompt_tokens": 1, "response_tokens": 1, "finish_reason": "eos"}
            for i, r in zip(items["item_id"].to_list(), responses, strict=True)]
    return pl.DataFrame(rows, schema=tables.GENERATION_SCHEMA)


def test_parse_failures_are_kept_and_counted_and_judgements_cached(tmp_path, tables_by_name, caplog):
    items = tables_by_name["arena_hard"].head(2)
    outputs = iter(["Verdict: [[B>A]]", "no label here", "[[A>>B]]", "[[A>B]] vs [[B>A]]"])
    with FakeServer(lambda n, body: chat_reply(next(outputs))) as srv:
        judge = {"base_url": srv.base_url, "model": "fake-judge", "max_tokens": 8, "cache_dir": str(tmp_path / "c")}
        gens = _generations(items, ["answer one", "answer two"], "arena_hard")
        df = arena_hard.check(items, gens, {}, judge=judge)
        assert len(srv.requests) == 4
        body = srv.requests[0][2]
        assert body["temperature"] == 0.0 and body["seed"] == 0 and body["max_tokens"] == 8
        assert body["messages"][0]["role"] == "system" and "[[A>>B]]" in body["messages"][0]["content"]
        # cached: the same check sends nothing and gives the same table
        assert arena_hard.check(items, gens, {}, judge=judge).equals(df) and len(srv.requests) == 4
    assert validate_table(df, "check", expected_rows=2)["success"]
    # item 0: game 0 (model = B) "B>A" = win, game 1 unparsed -> score 1 from the parsed game
    # item 1: game 0 "A>>B" = loss (model is B), game 1 two labels -> unparsed
    assert df["score"].to_list() == [1.0, 0.0]
    assert df["judge_parse_failures"].to_list() == [1, 1]
    assert df["extracted"].to_list() == ["B>A,", "A>>B,"]
    assert json.loads(df["judge_output"][0]) == ["Verdict: [[B>A]]", "no label here"]
    assert len(json.loads(df["judge_prompt"][0])) == 2
    assert judge_summary(df)["judge_parse_failures"] == 2
    assert "did not parse" in caplog.text


def test_unparsed_rows_score_zero_with_their_own_verdict(tmp_path, tables_by_name):
    items = tables_by_name["alpaca_eval"].head(3)
    gens = _generations(items, ["short", "a much longer answer " * 5, ""], "alpaca_eval")
    first = [alpaca_eval.model_first(i, 0) for i in items["item_id"]]
    replies = ["m" if first[0] else "M", "Model M is better", "M" if first[2] else "m"]
    by_instruction = dict(zip(items["question"].to_list(), replies, strict=True))

    def reply(n, body):
        user = body["messages"][1]["content"]
        return chat_reply(next(v for k, v in by_instruction.items() if f'"""{k}"""' in user))

    with FakeServer(reply) as srv:
        judge = {"base_url": srv.base_url, "model": "fake", "cache_dir": str(tmp_path)}
        df = alpaca_eval.check(items, gens, {}, judge=judge)
    assert df["verdict"].to_list() == ["win", PARSE_FAILURE, "loss"]
    assert df["score"].to_list() == [1.0, 0.0, 0.0] and df["judge_parse_failures"].to_list() == [0, 1, 0]
    s = alpaca_eval.summary(df, items, gens)
    assert s["judge"]["rows_without_parsed_judgement"] == 1
    assert s["runs"]["0"]["n"] == 2 and s["runs"]["0"]["n_unparsed"] == 1 and s["runs"]["0"]["win_rate"] == 0.5
    assert 0 < s["runs"]["0"]["lc_win_rate"] < 1


def test_judge_config_is_checked():
    with pytest.raises(ConfigError, match="unknown key"):
        JudgeClient({"temperature": 0.5})
    with pytest.raises(ConfigError, match="max_tokens"):
        JudgeClient({"max_tokens": 0})
    assert benchmarks.uses_judge("mixeval") and not benchmarks.uses_judge("gsm8k")


def test_profile_max_tokens_is_part_of_the_judgement_cache_key(tmp_path):
    """Policy: a judgement is cached under its judge's identity, which includes ``max_tokens``: the
    run's judge of a profile that sets another ``max_tokens`` (``profiles.<name>.judge``) never
    reuses judgements cut at another budget, neither in the key nor in the cache file. Negative
    controls: the same settings give the same key and file, and ``concurrency`` (how fast, not
    what is judged) does not change either."""
    import copy

    import yaml

    from goodbadgreedy.judge.defaults import run_judge
    from goodbadgreedy.params_file import validate_params

    params = yaml.safe_load((RAW.parents[1] / "params.yaml").read_text())
    params["judge"].update(cache_dir=str(tmp_path), max_tokens=400)
    for prof in params["profiles"].values():
        prof.pop("judge", None)
    params["profiles"]["smoke"]["judge"] = {"max_tokens": 40, "concurrency": 2}
    prompt = [({"role": "user", "content": "Which answer is better? [[A>B]] or [[B>A]]"},)]

    def client(profile: str, **edit) -> JudgeClient:
        cfg = copy.deepcopy(params)
        cfg["profiles"][profile].setdefault("judge", {}).update(edit)
        return JudgeClient(run_judge(validate_params({**cfg, "profile": profile})))

    smoke, default = client("smoke"), client("default")
    assert smoke.params.max_new_tokens == 40 and default.params.max_new_tokens == 400
    assert smoke.key(prompt[0]) != default.key(prompt[0]) and smoke.cache.path != default.cache.path
    assert client("smoke").key(prompt[0]) == smoke.key(prompt[0])
    same_budget = client("smoke", concurrency=1)
    assert same_budget.backend.concurrency == 1 != smoke.backend.concurrency
    assert same_budget.key(prompt[0]) == smoke.key(prompt[0]) and same_budget.cache.path == smoke.cache.path
    assert client("default", max_tokens=40).key(prompt[0]) == smoke.key(prompt[0])


# ----- end to end against one real server -----



def _short_items(df: pl.DataFrame, benchmark: str, n: int) -> pl.DataFrame:
    """The n items whose question plus baseline answer is shortest (keeps the judge prompts small)."""
    size = df["question"].str.len_chars() + df["payload"].str.len_chars()
    if benchmark == "mixeval":
        ff = df.filter(pl.col("item_id").str.starts_with("mixeval/ff/"))
        mc = df.filter(pl.col("item_id").str.starts_with("mixeval/mc/"))
        return pl.concat(
            [ff.sort(ff["question"].str.len_chars()).head(1), mc.sort(mc["question"].str.len_chars()).head(1)]
        )
    short = df.with_columns(size=size).sort("size").head(n).drop("size")
    # canned, shortened baseline texts: the point here is the judge's machinery, and the prompt
    # length is what costs time on 2 CPU cores
    key = {"alpaca_eval": "baseline_output", "arena_hard": "baseline_answer"}[benchmark]
    cut = [base.dump_payload({**json.loads(p), key: json.loads(p)[key][:300]}) for p in short["payload"]]
    return short.with_columns(payload=pl.Series(cut))


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", JUDGED)
def test_end_to_end_with_the_served_model_as_generator_and_judge(benchmark, served, tmp_path, tables_by_name):
    items = _short_items(tables_by_name[benchmark], benchmark, 2)
    backend = OpenAIServedBackend(served.base_url, served.model, concurrency=1, max_retries=1, timeout_s=120)
    gens = generate_table(items, benchmark=benchmark, options={}, model_name="served", backend=backend,
                          config_name="greedy", decoding={"do_sample": False}, n_samples=1, max_new_tokens=8,
                          seed=2024, cache_dir=tmp_path / "gen", progress=False)
    judge = {"base_url": served.base_url, "model": served.model, "max_tokens": 12, "cache_dir": str(tmp_path / "judge")}
    module = benchmarks.get(benchmark)
    df = module.check(items, gens, {}, judge=judge)
    assert validate_table(df, "check", expected_rows=items.height)["success"]
    games = 2 if benchmark == "arena_hard" else 1
    outputs = [json.loads(o) for o in df["judge_output"]]
    prompts = [json.loads(p) for p in df["judge_prompt"]]
    assert all(len(o) == games and all(isinstance(t, str) for t in o) for o in outputs)
    assert all(len(p) == games and p[0][0]["role"] == "system" for p in prompts)
    # every row accounted for: parse failures counted, unparsed rows kept with score 0
    fails = df["judge_parse_failures"].to_list()
    assert all(0 <= f <= games for f in fails)
    for row in df.iter_rows(named=True):
        assert (row["verdict"] == PARSE_FAILURE) == (row["judge_parse_failures"] == games)
        if row["verdict"] == PARSE_FAILURE:
            assert row["score"] == 0.0
    summary = module.summary(df, items, gens)
    assert summary["judge"]["judge_outputs"] == games * items.height
    assert summary["judge"]["judge_parse_failures"] == sum(fails)
    # greedy, seeded and cached: judging again sends nothing and gives the same table
    client = JudgeClient(judge)
    assert all(r.cached for r in client.complete([m for p in prompts for m in p]))
    assert module.check(items, gens, {}, judge=judge).equals(df)


# --- self-consistency and judge verdicts ------------------------------------------------------

@pytest.mark.parametrize(
    "name, options, expected",
    [
        ("gsm8k", {}, True),
        ("humaneval", {}, True),
        ("mixeval", {"split": "multiple_choice"}, True),
        ("mixeval", {"split": "free_form"}, False),
        ("mixeval", {"split": "both"}, False),
        ("alpaca_eval", {}, False),
        ("arena_hard", {"games": 2}, False),
    ],
)
def test_extracts_answers(name, options, expected):
    assert benchmarks.extracts_answers(name, options) is expected


def test_self_consistency_refuses_to_vote_on_judge_verdicts():
    from goodbadgreedy.reranking.base import ScoringInputs
    from goodbadgreedy.reranking.self_consistency import SelfConsistencyScorer

    gen = pl.DataFrame({"item_id": ["a", "a"], "sample_idx": [0, 1]})
    checks = pl.DataFrame({"benchmark": ["alpaca_eval"] * 2, "item_id": ["a", "a"], "sample_idx": [0, 1],
                           "extracted": ["m", "m"]})
    with pytest.raises(ConfigError, match="self_consistency on 'alpaca_eval'.*judge's verdict"):
        SelfConsistencyScorer().score(ScoringInputs(gen, checks, None, {}))
    mc = checks.with_columns(pl.lit("mixeval").alias("benchmark"))
    out = SelfConsistencyScorer().score(ScoringInputs(gen, mc, None, {"split": "multiple_choice"}))
    assert out.reward.tolist() == [1.0, 1.0]


def test_dag_schedules_self_consistency_only_where_extracted_is_an_answer(tmp_path):
    """Dry run with a judge benchmark enabled: logprob scores everything, self_consistency skips
    AlpacaEval (its `extracted` is the judge's preference label)."""
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(json.dumps({"benchmarks": ["gsm8k", "alpaca_eval"]}))
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    proc = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-n", "--forceall", "--configfile",
                           str(overlay), "--config", "profile=smoke", "--workflow-profile", "none",
                           "results/smoke/stats/best_of_n.csv"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    scores = sorted(line.split("/scores/")[1] for line in out.splitlines()
                    if line.startswith("    output: ") and "/scores/" in line)
    assert scores, out[-3000:]
    assert [s for s in scores if "alpaca_eval" in s and s.endswith("self_consistency.parquet")] == []
    assert any("alpaca_eval" in s and s.endswith("logprob.parquet") for s in scores)
    assert any("gsm8k" in s and s.endswith("self_consistency.parquet") for s in scores)


def test_unreachable_judge_names_judge_base_url(tmp_path):
    """A closed port fails fast with a message naming params.yaml's judge.base_url, not a sample."""
    import socket

    from goodbadgreedy.errors import BackendError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends
    url = f"http://127.0.0.1:{port}/v1"
    client = JudgeClient({"base_url": url, "max_retries": 0, "timeout_s": 5, "cache_dir": str(tmp_path)})
    with pytest.raises(BackendError) as info:
        client.complete([({"role": "user", "content": "hi"},)])
    msg = str(info.value)
    assert f"judge.base_url = {url}" in msg and "Is the judge server running?" in msg
