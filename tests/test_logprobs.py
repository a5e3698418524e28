"""Log-probabilities recorded in the generation pass (issue 16): engine, scorer, vLLM and HTTP backends."""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import polars as pl
import pytest
import torch
from servers import FakeServer, chat_reply
from transformers import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from goodbadgreedy import tables
from goodbadgreedy.errors import BackendError, ConfigError
from goodbadgreedy.generation import engine
from goodbadgreedy.generation.engine import SamplingParams, generate, next_tokens
from goodbadgreedy.generation.openai_backend import OpenAIBackend
from goodbadgreedy.generation.vllm_backend import VLLMBackend, sampled_logprobs
from goodbadgreedy.prompts import Prompt
from goodbadgreedy.reranking import ScoringInputs, score_table
from goodbadgreedy.reranking.logprob import LogprobScorer, mean_logprobs

QUESTIONS = ["What is 2+3?", "Write a haiku about the sea.", "hi"]
CONFIGS = {
    "greedy": SamplingParams(do_sample=False, max_new_tokens=16),
    "greedy-penalty": SamplingParams(do_sample=False, repetition_penalty=2.0, max_new_tokens=16),
    "sample-t1": SamplingParams(do_sample=True, temperature=1.0, max_new_tokens=16),
    "sample-filters": SamplingParams(do_sample=True, temperature=0.7, top_p=0.9, top_k=50, repetition_penalty=1.3,
                                     max_new_tokens=16),
}
TOL = 1e-4  # nats: the engine's chunked/batched logits and one teacher-forced pass differ in last bits


@pytest.fixture(scope="module")
def prompts(tokenizer):
    return [tokenizer.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True,
                                          tokenize=True, return_dict=False) for q in QUESTIONS]


def _seeds(params, n=3):
    if params.greedy:
        return [[None]] * len(QUESTIONS)
    return [[100 * i + j for j in range(n)] for i in range(len(QUESTIONS))]


@pytest.fixture(scope="module")
def runs(tiny_model, tokenizer, prompts):
    """Samples of every config (batch of 4: rows join and leave the batch)."""
    return {name: generate(tiny_model, tokenizer, prompts, _seeds(p), p, batch_size=4, progress=False)
            for name, p in CONFIGS.items()}


def _teacher_forced_logits(model, prompt, tokens):
    """float32 logits predicting every generated token, one forward pass over prompt + tokens."""
    ids = torch.tensor([list(prompt) + list(tokens)])
    with torch.no_grad():
        logits = model(input_ids=ids, use_cache=False).logits[0].float()
    return logits[len(prompt) - 1 : len(prompt) - 1 + len(tokens)]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_recorded_raw_logprobs_equal_a_teacher_forced_pass(runs, tiny_model, prompts, name):
    """Policy: ``Sample.logprobs[t]`` is log_softmax of the model's float32 logits at step t,
    before any processor, at the sampled token t; one per generated token (EOS included). So a
    teacher-forced pass over the prompt and the recorded token ids gives the same values to float
    tolerance (every config: greedy, penalty, temperature/top-k/top-p), and the scorer's
    teacher-forced mean equals the recorded mean. Negative control: the same check with one token
    replaced by a wrong one fails at that position."""
    checked = 0
    for prompt, row in zip(prompts, runs[name], strict=True):
        for s in row:
            assert len(s.logprobs) == len(s.processed_logprobs) == len(s.token_ids) == s.n_tokens
            ref = torch.log_softmax(_teacher_forced_logits(tiny_model, prompt, s.token_ids), dim=-1)
            want = ref.gather(-1, torch.tensor(s.token_ids).unsqueeze(-1)).squeeze(-1)
            np.testing.assert_allclose(s.logprobs, want.numpy(), atol=TOL, rtol=0)
            tf_mean = mean_logprobs(tiny_model, [prompt], [s.token_ids])[0]
            assert abs(tf_mean - float(np.mean(s.logprobs))) < TOL
            checked += 1
            # negative control: a deliberately wrong token (the least likely one) at position k
            k = len(s.token_ids) // 2
            wrong = int(ref[k].argmin())
            assert wrong != s.token_ids[k]
            assert abs(float(ref[k, wrong]) - s.logprobs[k]) > 100 * TOL
    assert checked >= len(QUESTIONS)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_processed_logprobs_equal_transformers_processors(runs, tiny_model, prompts, name):
    """Policy: ``Sample.processed_logprobs[t]`` is the log of the sampled token's probability under
    the distribution it was drawn from: transformers' repetition penalty (over prompt + tokens so
    far), temperature, top-k and top-p processors in that order (greedy: the penalty only) applied
    to the raw logits, then log_softmax. Where they change nothing (plain greedy, temperature 1
    alone) it equals the raw value.
    Negative control: where processors change the distribution, the raw values are farther from
    the reference than the engine's processed values are (by 10x the largest error seen), so
    a processed value that were the raw one would fail."""
    p = CONFIGS[name]
    procs = []
    if p.repetition_penalty != 1.0:
        procs.append(RepetitionPenaltyLogitsProcessor(p.repetition_penalty))
    if not p.greedy:
        procs.append(TemperatureLogitsWarper(p.temperature))
        if p.top_k > 0:
            procs.append(TopKLogitsWarper(p.top_k))
        if p.top_p < 1.0:
            procs.append(TopPLogitsWarper(p.top_p))
    differs = err = 0.0
    for prompt, row in zip(prompts, runs[name], strict=True):
        for s in row:
            logits = _teacher_forced_logits(tiny_model, prompt, s.token_ids)
            for t, tok in enumerate(s.token_ids):
                x = logits[t : t + 1].clone()
                ids = torch.tensor([list(prompt) + s.token_ids[:t]])
                for proc in procs:
                    x = proc(ids, x)
                want = float(torch.log_softmax(x, dim=-1)[0, tok])
                assert abs(s.processed_logprobs[t] - want) < TOL, (name, t)
                err = max(err, abs(s.processed_logprobs[t] - want))
                assert math.isfinite(s.processed_logprobs[t])
            differs = max(differs, float(np.max(np.abs(np.subtract(s.processed_logprobs, s.logprobs)))))
    changing = p.repetition_penalty != 1.0 or (not p.greedy and (p.temperature != 1.0 or p.top_k > 0 or p.top_p < 1))
    if changing:
        assert differs > 10 * err  # the control: processed is not just the raw value
    else:
        assert differs == 0.0


def test_recording_changes_no_token_and_no_draw(tiny_model, tokenizer, prompts, monkeypatch):
    """Policy: recording reads the step's tensors after the token is chosen, so every generated
    token is bitwise what the engine without recording produces on the same seeds (the engine is
    run with ``next_tokens(..., with_logprobs=False)``, the previous code path, patched in), and
    each random stream is left where it was (one draw per sampled token either way). Control:
    other seeds give other tokens (the comparison can fail)."""
    plain = next_tokens

    def without_recording(logits, params, seen, generators, *, with_logprobs=False):
        toks = plain(logits, params, seen, generators)
        zeros = torch.zeros(toks.shape[0])
        return toks, zeros, zeros

    for name, p in CONFIGS.items():
        seeds = _seeds(p, n=4)
        on = generate(tiny_model, tokenizer, prompts, seeds, p, batch_size=5, progress=False)
        with monkeypatch.context() as m:
            m.setattr(engine, "next_tokens", without_recording)
            off = generate(tiny_model, tokenizer, prompts, seeds, p, batch_size=5, progress=False)
        assert [[s.token_ids for s in r] for r in on] == [[s.token_ids for s in r] for r in off], name
        assert [[s.text for s in r] for r in on] == [[s.text for s in r] for r in off], name
        assert all(s.logprobs == [0.0] * len(s.token_ids) for r in off for s in r)  # the patch ran
        if not p.greedy:
            other = generate(tiny_model, tokenizer, prompts, [[x + 1 for x in s] for s in seeds], p,
                             batch_size=5, progress=False)
            assert [[s.token_ids for s in r] for r in other] != [[s.token_ids for s in r] for r in on]
    # the draws: same tokens and the same generator state after a step, with and without
    logits = torch.randn(6, 1000)
    p = CONFIGS["sample-filters"]
    seen = torch.zeros(6, 1000, dtype=torch.bool)
    seen[:, :50] = True
    g1 = [torch.Generator().manual_seed(i) for i in range(6)]
    g2 = [torch.Generator().manual_seed(i) for i in range(6)]
    a = next_tokens(logits, p, seen, g1)
    b, _, _ = next_tokens(logits, p, seen, g2, with_logprobs=True)
    assert torch.equal(a, b)
    assert all(torch.equal(x.get_state(), y.get_state()) for x, y in zip(g1, g2, strict=True))


def test_logprobs_do_not_depend_on_the_batch(tiny_model, tokenizer, prompts):
    """Policy: a sample's recorded values, like its tokens, do not depend on its neighbours in the
    batch (the sample cache reuses them): bitwise equal at batch sizes 1 and 7."""
    p = CONFIGS["sample-filters"]
    a = generate(tiny_model, tokenizer, prompts, _seeds(p), p, batch_size=1, progress=False)
    b = generate(tiny_model, tokenizer, prompts, _seeds(p), p, batch_size=7, progress=False)
    assert [[(s.logprobs, s.processed_logprobs) for s in r] for r in a] == \
        [[(s.logprobs, s.processed_logprobs) for s in r] for r in b]


# ----- the scorer -----


def _table(rows):
    """A generation table from (item_id, response, finish_reason, logprobs) tuples."""
    n = len(rows)
    return pl.DataFrame({
        "model": ["m"] * n, "benchmark": ["gsm8k"] * n, "config": ["sample"] * n,
        "item_id": [r[0] for r in rows], "sample_idx": [0] * n, "seed": [1] * n,
        "prompt": ["<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n"] * n,
        "response": [r[1] for r in rows], "prompt_tokens": [5] * n,
        "response_tokens": [len(r[3]) if r[3] is not None else 3 for r in rows],
        "finish_reason": [r[2] for r in rows], "logprobs": [r[3] for r in rows],
        "processed_logprobs": [None] * n,
    }, schema=tables.GENERATION_SCHEMA)


def test_scorer_reads_recorded_values_without_loading_the_model():
    """Policy: rows with recorded log-probabilities score their mean over the sampled tokens; the
    model is not loaded when no row needs the fallback (here there is no model at all: loading
    would raise); nothing is truncated; the counts are in the lineage. Negative control: one row
    without values needs the model, and then the same scorer raises a ConfigError naming it."""
    gen = _table([("a", "4", "eos", [-0.5, -1.5]), ("b", "5", "stop", [-2.0, -1.0, -3.0])])
    scorer = LogprobScorer({}, load_path=None)
    df = score_table(scorer, "logprob", ScoringInputs(gen))
    np.testing.assert_allclose(df["reward"].to_numpy(), [-1.0, -2.0], rtol=0, atol=1e-7)
    assert not df["truncated"].any() and scorer.model is None
    info = scorer.describe()
    assert (info["n_recorded"], info["n_teacher_forced"], info["max_length"]) == (2, 0, None)
    with pytest.raises(ConfigError, match="1 row.*teacher-forced"):
        LogprobScorer({}, load_path=None).score(ScoringInputs(_table([("a", "4", "eos", [-0.5]),
                                                                      ("b", "5", "eos", None)])))


def test_scorer_falls_back_to_teacher_forcing_only_for_rows_without_values(tiny_model, tokenizer):
    """Policy: rows whose ``logprobs`` is null (or empty) are teacher-forced over their stored text,
    exactly as :func:`mean_logprobs` scores them alone; the other rows keep their recorded means;
    the counts say which path each took. Control: the fallback rows' scores are not the recorded
    means of other rows (they come from the model)."""
    rows = [("a", "4", "eos", [-0.25, -0.75]), ("b", "The answer is 5.", "eos", None),
            ("c", "", "eos", []), ("d", "six", "length", [-3.0])]
    scorer = LogprobScorer({}, tokenizer=tokenizer, model=tiny_model)
    out = scorer.score(ScoringInputs(_table(rows)))
    assert (scorer.n_recorded, scorer.n_teacher_forced) == (2, 2)
    assert out.reward[0] == pytest.approx(-0.5) and out.reward[3] == pytest.approx(-3.0)
    prompt = _table(rows)["prompt"][0]
    from goodbadgreedy.reranking.logprob import encode_samples

    p_ids, r_ids, _ = encode_samples(tokenizer, [prompt, prompt], ["The answer is 5.", ""], [True, True],
                                     max_length=4096)
    want = mean_logprobs(tiny_model, p_ids, r_ids, pad_id=tokenizer.pad_token_id)
    np.testing.assert_allclose(out.reward[[1, 2]], want, rtol=0, atol=1e-6)
    assert -20 < want[0] < -5 and want[0] != pytest.approx(-0.5)


# ----- vLLM (not installed here: its documented output shape, as plain data) -----


class _Logprob:
    """vLLM's ``Logprob`` (vllm.sequence / vllm.logprobs): ``logprob``, ``rank``, ``decoded_token``."""

    def __init__(self, logprob, rank=1, decoded_token=None):
        self.logprob, self.rank, self.decoded_token = logprob, rank, decoded_token


def test_vllm_sampled_logprobs_reads_the_sampled_tokens_entries():
    """Policy: per generated token t, the value of ``logprobs[t][token_ids[t]]`` (vLLM adds the
    sampled token to each position's dict, beside any top-k ones); None when not requested.
    Entries not aligned with the tokens, a missing sampled token or a non-finite value raise a
    BackendError naming the position."""
    toks = [5, 9, 2]
    lps = [{5: _Logprob(-0.1)}, {9: _Logprob(-2.5, rank=3), 1: _Logprob(-0.2)}, {2: _Logprob(0.0)}]
    assert sampled_logprobs(toks, lps) == [-0.1, -2.5, 0.0]
    assert sampled_logprobs(toks, None) is None
    with pytest.raises(BackendError, match="2 logprobs entries for 3"):
        sampled_logprobs(toks, lps[:2])
    with pytest.raises(BackendError, match="token 1 lack the sampled token 9"):
        sampled_logprobs(toks, [lps[0], {1: _Logprob(-0.2)}, lps[2]])
    with pytest.raises(BackendError, match="token 2 .* not a finite"):
        sampled_logprobs(toks, [lps[0], lps[1], {2: _Logprob(float("nan"))}])


@pytest.mark.parametrize("mode", ["raw_logprobs", "processed_logprobs", None])
def test_vllm_backend_asks_for_logprobs_and_fills_the_mode_field(tokenizer, monkeypatch, mode):
    """Policy: with a vLLM that has ``logprobs_mode`` the engine is built with it, every request asks
    for ``logprobs=0``, and the values fill ``Sample.logprobs`` (raw) or ``processed_logprobs``
    (processed), the other None; a vLLM without it is asked for nothing and both stay None."""
    import dataclasses

    built = {}
    mod = types.ModuleType("vllm")
    mod.__version__ = "0.0-fake"
    mod.SamplingParams = lambda **kw: types.SimpleNamespace(kw=kw)
    if mode is not None:
        mod.EngineArgs = dataclasses.make_dataclass("EngineArgs", [("model", str), ("logprobs_mode", str)])

    class LLM:
        def __init__(self, **kw):
            built.update(kw)

        def generate(self, prompts, sampling_params, use_tqdm):
            outs = []
            for sp in sampling_params:
                lp = None if "logprobs" not in sp.kw else [{7: _Logprob(-0.5)}, {8: _Logprob(-1.0)}]
                comp = types.SimpleNamespace(text="hi", token_ids=[7, 8], finish_reason="length", stop_reason=None,
                                             logprobs=lp)
                outs.append(types.SimpleNamespace(outputs=[comp]))
            return outs

    mod.LLM = LLM
    inputs = types.ModuleType("vllm.inputs")
    inputs.TokensPrompt = lambda **kw: dict(kw)
    mod.inputs = inputs
    monkeypatch.setitem(sys.modules, "vllm", mod)
    monkeypatch.setitem(sys.modules, "vllm.inputs", inputs)
    backend = VLLMBackend("folder", tokenizer=tokenizer, logprobs_mode=mode or "raw_logprobs")
    (s,), = backend.generate([[1, 2]], [[3]], CONFIGS["sample-t1"], progress=False)
    if mode is None:
        assert "logprobs_mode" not in built and s.logprobs is None and s.processed_logprobs is None
    else:
        assert built["logprobs_mode"] == mode
        got = s.logprobs if mode == "raw_logprobs" else s.processed_logprobs
        other = s.processed_logprobs if mode == "raw_logprobs" else s.logprobs
        assert got == [-0.5, -1.0] and other is None
    with pytest.raises(ConfigError, match="logprobs_mode"):
        VLLMBackend("folder", tokenizer=tokenizer, logprobs_mode="raw_logits")


# ----- OpenAI-compatible servers -----

GREEDY = SamplingParams(do_sample=False, max_new_tokens=16)
QUESTION = Prompt(messages=({"role": "user", "content": "What is 2+3?"},))


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        ({"logprobs": {"content": [{"token": "o", "logprob": -0.5}, {"token": "k", "logprob": -1}]}}, [-0.5, -1.0]),
        ({"logprobs": None}, None),
        ({}, None),
        ({"logprobs": {"content": [{"token": "o", "logprob": -0.5}]}}, None),  # 1 value for 2 tokens
        ({"logprobs": {"content": [{"token": "o", "logprob": "x"}, {"token": "k"}]}}, None),
    ],
    ids=["two-values", "null", "absent", "misaligned", "not-numbers"],
)
def test_openai_chat_logprobs_are_read_or_null(extra, want):
    """Policy: the chat backend asks for ``logprobs: true`` and records
    ``choices[0].logprobs.content[*].logprob`` when the server returns one number per completion
    token; otherwise (null, absent, misaligned, not numbers) ``Sample.logprobs`` is None.
    ``processed_logprobs`` is always None."""
    with FakeServer(lambda n, body: chat_reply(**extra)) as fake:
        backend = OpenAIBackend(fake.base_url, "m", api_key_env=None, max_retries=0)
        (s,), = backend.generate([QUESTION], [[None]], GREEDY, progress=False)
        assert fake.requests[0][2]["logprobs"] is True
    assert s.logprobs == want and s.processed_logprobs is None


def test_openai_completions_logprobs_and_switching_them_off():
    """Policy: the completions endpoint asks for ``logprobs: 0`` and reads
    ``choices[0].logprobs.token_logprobs``; without ``usage.completion_tokens`` their count is the
    token count. With ``logprobs=False`` the field is not sent."""
    reply = (200, {"choices": [{"index": 0, "text": "ok", "finish_reason": "length",
                                "logprobs": {"token_logprobs": [-0.25, -2.0], "tokens": ["o", "k"]}}]}, {})
    with FakeServer(lambda n, body: reply) as fake:
        backend = OpenAIBackend(fake.base_url, "m", api_key_env=None, max_retries=0, endpoint="completions")
        (s,), = backend.generate(["prompt"], [[None]], GREEDY, progress=False)
        off = OpenAIBackend(fake.base_url, "m", api_key_env=None, max_retries=0, endpoint="completions",
                            logprobs=False)
        off.generate(["prompt"], [[None]], GREEDY, progress=False)
        assert fake.requests[0][2]["logprobs"] == 0 and "logprobs" not in fake.requests[1][2]
    assert s.logprobs == [-0.25, -2.0] and s.n_tokens == 2


def test_transformers_serve_returns_no_logprobs_so_they_are_null(served):
    """Policy (checked on the real server): ``transformers serve`` accepts ``logprobs: true`` but
    returns none, so the sample's values are null (the scorer will teacher-force it) while the
    text is generated as usual."""
    backend = OpenAIBackend(served.base_url, served.model, api_key_env=None, max_retries=1, timeout_s=60)
    (s,), = backend.generate([QUESTION], [[None]], GREEDY, progress=False)
    assert s.text.strip() and s.completion_tokens
    assert s.logprobs is None and s.processed_logprobs is None
