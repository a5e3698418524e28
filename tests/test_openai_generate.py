"""The generate stage through the ``openai`` backend against a real ``transformers serve``.

The packaged SmolLM2-135M-Instruct is converted and served once for the module (CPU, loopback);
``generate_table`` then runs as the pipeline runs it: a valid generation table, resumed from the
sample cache without new requests.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from goodbadgreedy.data import normalize, select_items
from goodbadgreedy.generation.backends import OpenAIServedBackend
from goodbadgreedy.generation.openai_backend import OpenAIBackend
from goodbadgreedy.generation.run import generate_table
from goodbadgreedy.validation import validate_table

pytestmark = pytest.mark.slow

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"
SAMPLE = {"do_sample": True, "temperature": 1.0, "top_p": 1.0, "top_k": 0, "repetition_penalty": 1.0}


@pytest.fixture(scope="module")
def server(served):
    """The session's running ``transformers serve`` (conftest.py: one per test session)."""
    return served


@pytest.fixture()
def requests_sent(monkeypatch):
    """Counts the samples every ``OpenAIBackend.generate`` call asks for."""
    sent: list[int] = []
    real = OpenAIBackend.generate

    def spy(self, prompts, seeds, *args, **kw):
        sent.append(sum(len(s) for s in seeds))
        return real(self, prompts, seeds, *args, **kw)

    monkeypatch.setattr(OpenAIBackend, "generate", spy)
    return sent


def _run(backend, items, benchmark, cache_dir, *, config="sample", decoding=SAMPLE, n=2, max_new_tokens=6):
    return generate_table(items, benchmark=benchmark, options={}, model_name="served", backend=backend,
                          config_name=config, decoding=decoding, n_samples=n, max_new_tokens=max_new_tokens,
                          seed=2024, cache_dir=cache_dir, progress=False)


def test_generation_table_through_a_server_resumes_from_cache(server, tmp_path, requests_sent):
    items = select_items(normalize("mmlu_redux", RAW, RAW / "SHA256SUMS", {}), 2, seed=7)
    # concurrency=1: transformers serve's `seed` is a global torch seed (see openai_backend)
    backend = OpenAIServedBackend(server.base_url, server.model, concurrency=1, max_retries=1, timeout_s=120)
    df = _run(backend, items, "mmlu_redux", tmp_path)
    assert validate_table(df, "generation", expected_rows=4)["success"]
    assert requests_sent == [4]
    assert df["model"].unique().to_list() == ["served"] and sorted(df["sample_idx"].unique().to_list()) == [0, 1]
    assert df.filter(pl.col("seed").is_null()).height == 0
    assert all(json.loads(p)["messages"][0]["role"] == "user" for p in df["prompt"])  # chat messages as sent
    assert (df["prompt_tokens"] > 10).all()  # the server's usage report (the chat template adds tokens)
    assert ((df["response_tokens"] >= 1) & (df["response_tokens"] <= 6)).all()

    # everything cached: no request at all, the same table
    assert _run(backend, items, "mmlu_redux", tmp_path).equals(df) and requests_sent == [4]
    # a torn last write: only that sample is requested again, and (seeded) it comes back the same
    (cache_file,) = list(tmp_path.rglob("*.jsonl"))
    lines = cache_file.read_text().splitlines(keepends=True)
    cache_file.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    assert _run(backend, items, "mmlu_redux", tmp_path).equals(df)
    assert requests_sent == [4, 1]
    # raising N generates only the new samples
    more = _run(backend, items, "mmlu_redux", tmp_path, n=3)
    assert requests_sent == [4, 1, 2] and more.filter(pl.col("sample_idx") < 2).equals(df)


def test_assistant_prefix_goes_through_the_local_chat_template(server, tmp_path, requests_sent):
    items = select_items(normalize("humaneval", RAW, RAW / "SHA256SUMS", {}), 1, seed=7)
    backend = OpenAIServedBackend(server.base_url, server.model, concurrency=1, max_retries=1,
                                  tokenizer=str(server.folder))
    df = _run(backend, items, "humaneval", tmp_path, config="greedy", decoding={"do_sample": False}, n=1,
              max_new_tokens=8)
    assert validate_table(df, "generation", expected_rows=1)["success"]
    row = df.row(0, named=True)
    assert row["prompt"].startswith("<|im_start|>") and "<|im_start|>assistant\n```python\n" in row["prompt"]
    assert row["seed"] is None and row["finish_reason"] in ("length", "stop", "eos")
    assert requests_sent == [1]
