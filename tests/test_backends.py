"""Backends behind one interface: params schema, cache identity, the vLLM mapping (without vLLM),
the ``openai`` adapter against a scripted fake server, and the served model's manifest.

Everything here runs on CPU in seconds; the real-server and real-vLLM tests are in
``test_openai_generate.py`` and ``test_vllm_backend.py``.
"""

from __future__ import annotations

import copy
import json
import sys
import types
from pathlib import Path

import polars as pl
import pytest
import yaml
from servers import FakeServer, chat_reply

from goodbadgreedy.data import normalize, select_items
from goodbadgreedy.errors import BackendError, ConfigError
from goodbadgreedy.generation.backend_base import Backend, chat_text
from goodbadgreedy.generation.backends import HFBackend, OpenAIServedBackend, build_backend
from goodbadgreedy.generation.model import prepare_model, read_manifest
from goodbadgreedy.generation.params import SamplingParams
from goodbadgreedy.generation.run import cache_key, generate_table
from goodbadgreedy.generation.vllm_backend import VLLMBackend, finish_of, sampling_kwargs
from goodbadgreedy.params_file import validate_params
from goodbadgreedy.prompts import Prompt

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "data" / "raw"
GREEDY = SamplingParams(do_sample=False, max_new_tokens=8)
SAMPLE = SamplingParams(do_sample=True, temperature=0.7, top_p=0.9, top_k=0, repetition_penalty=1.1, max_new_tokens=8)
SERVED = {"backend": "openai", "openai": {"base_url": "http://127.0.0.1:9/v1", "model": "served"}}


# ----- params schema -----


@pytest.fixture()
def params():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def _with_model(params, spec):
    cfg = copy.deepcopy(params)
    cfg["models"] = {"m": spec}
    return cfg


def test_backend_entries_validate_with_defaults(params):
    served = validate_params(_with_model(params, copy.deepcopy(SERVED)))["models"]["m"]
    assert served["openai"] == {
        "base_url": "http://127.0.0.1:9/v1", "model": "served", "api_key_env": None, "concurrency": 4,
        "max_retries": 5, "timeout_s": 120, "tokenizer": None, "continue_final_message": False, "logprobs": True,
    }
    assert "source" not in served  # a served model needs no local weights
    spec = {"backend": "vllm", "source": "hf", "id": "org/model", "dtype": "bfloat16"}
    gpu = validate_params(_with_model(params, spec))["models"]["m"]
    assert gpu["vllm"] == {"gpu_memory_utilization": 0.9, "tensor_parallel_size": 1, "max_model_len": None,
                           "logprobs_mode": "raw_logprobs"}
    shipped = validate_params(params)["models"]["smollm2-135m"]
    assert shipped["backend"] == "hf" and "vllm" not in shipped and "openai" not in shipped


@pytest.mark.parametrize(
    "spec, expected",
    [
        (
            {"backend": "tgi", "source": "hf", "id": "x"},
            r"models.m.backend: 'tgi' is not one of \['hf', 'openai', 'vllm'\]",
        ),
        ({"backend": "openai"}, r"models.m: 'openai' is a required property"),
        ({"backend": "vllm"}, r"models.m: 'source' is a required property"),
        (
            {"source": "hf", "id": "x", "backend": "openai", "openai": {"model": "s"}},
            r"models.m.openai: 'base_url' is a required property",
        ),
        (
            {"backend": "openai", "openai": {"base_url": "ftp://h/v1", "model": "s"}},
            r"models.m.openai.base_url: 'ftp://h/v1' does not match",
        ),
        (
            {"backend": "openai", "openai": {"base_url": "http://h/v1", "model": ""}},
            r"models.m.openai.model: '' should be non-empty",
        ),
        (
            {"backend": "openai", "openai": {"base_url": "http://h/v1", "model": "s", "concurrency": 0}},
            r"models.m.openai.concurrency: 0 is less than the minimum of 1",
        ),
        (
            {"backend": "openai", "openai": {"base_url": "http://h/v1", "model": "s", "max_retries": -1}},
            r"models.m.openai.max_retries: -1 is less than the minimum of 0",
        ),
        (
            {"backend": "openai", "openai": {"base_url": "http://h/v1", "model": "s", "timeout_s": 0}},
            r"models.m.openai.timeout_s: 0 is less than or equal to the minimum of 0",
        ),
        (
            {"backend": "openai", "openai": {"base_url": "http://h/v1", "model": "s", "api_key": "sk-x"}},
            r"models.m.openai: Additional properties are not allowed \('api_key' was unexpected\)",
        ),
        (
            {"backend": "openai", "openai": {"base_url": "http://h/v1", "model": "s", "api_key_env": "my key"}},
            r"models.m.openai.api_key_env: 'my key' does not match",
        ),
        (
            {"backend": "vllm", "source": "hf", "id": "x", "vllm": {"gpu_memory_utilization": 1.5}},
            r"models.m.vllm.gpu_memory_utilization: 1.5 is greater than the maximum of 1",
        ),
        (
            {"backend": "vllm", "source": "hf", "id": "x", "vllm": {"tensor_parallel_size": 0}},
            r"models.m.vllm.tensor_parallel_size: 0 is less than the minimum of 1",
        ),
        (
            {"backend": "vllm", "source": "hf", "id": "x", "vllm": {"max_model_len": 0}},
            r"models.m.vllm.max_model_len: 0 is less than the minimum of 1",
        ),
        (
            {"backend": "vllm", "source": "hf", "id": "x", "vllm": {"swap_space": 4}},
            r"models.m.vllm: Additional properties are not allowed \('swap_space' was unexpected\)",
        ),
    ],
)
def test_bad_backend_options_name_the_key(params, spec, expected):
    with pytest.raises(ConfigError, match=expected):
        validate_params(_with_model(params, spec))


# ----- cache identity -----

KEY_HF = "53036ad88b6a8232"  # ENGINE_VERSION 4, device cpu
DECODING = {"do_sample": True, "temperature": 1.0, "top_p": 1.0, "top_k": 0, "repetition_penalty": 1.0}


def test_hf_cache_key_is_pinned_and_backends_do_not_share_keys():
    """Policy: the hf cache key is pinned for 1 CPU thread; device type, a CPU thread count other
    than 1 and the backend change it; a GPU's key ignores CPU threads."""
    hf = HFBackend(None, None, model_sha="x", dtype="float32")
    # pinned: a key that changes by accident would silently orphan every cached sample
    # (an intended change bumps run.ENGINE_VERSION, and these values with it)
    assert cache_key(decoding=DECODING, max_new_tokens=8, seed=1, identity=hf.cache_identity()) == KEY_HF
    assert HFBackend(None, None, model_sha="x", dtype="float32", device="cuda:1").cache_identity() == {
        "model_sha": "x", "dtype": "float32", "device": "cuda"}
    assert (
        cache_key(
            decoding=DECODING,
            max_new_tokens=8,
            seed=1,
            identity=HFBackend(None, None, model_sha="x", dtype="float32", device="cuda").cache_identity(),
        )
        != KEY_HF
    )
    # CPU samples made with another torch thread count are other bits: another key; 1 thread keeps
    # the pinned key, and a GPU's samples do not depend on the job's CPU threads
    two = HFBackend(None, None, model_sha="x", dtype="float32", threads=2)
    assert two.cache_identity() == {**hf.cache_identity(), "cpu_threads": 2}
    assert cache_key(decoding=DECODING, max_new_tokens=8, seed=1, identity=two.cache_identity()) != KEY_HF
    assert HFBackend(None, None, model_sha="x", dtype="float32", threads=1).cache_identity() == hf.cache_identity()
    assert HFBackend(None, None, model_sha="x", dtype="float32", device="cuda", threads=2).cache_identity() == {
        "model_sha": "x", "dtype": "float32", "device": "cuda"}
    served = OpenAIServedBackend("http://127.0.0.1:9/v1", "served")
    other = OpenAIServedBackend("http://127.0.0.1:9/v1", "other")
    assert served.cache_identity() == {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "served",
                                       "logprobs": True}
    keys = {
        cache_key(decoding=DECODING, max_new_tokens=8, seed=1, identity=b.cache_identity()) for b in (hf, served, other)
    }
    assert len(keys) == 3
    with pytest.raises(ValueError, match="seed"):
        cache_key(decoding=DECODING, max_new_tokens=8, seed=1, identity={"seed": 2})


# ----- vLLM: the pure mapping and the orchestration, without vLLM -----


def test_vllm_sampling_params_mapping():
    assert sampling_kwargs(GREEDY, None, ["\n\n"]) == {
        "n": 1, "temperature": 0.0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0, "max_tokens": 8,
        "stop": ["\n\n"], "seed": None, "skip_special_tokens": True, "include_stop_str_in_output": False,
    }
    # greedy: a seed is not sent, and sampling parameters of a greedy config do not leak
    assert sampling_kwargs(SamplingParams(do_sample=False, temperature=0.3, top_k=5), 7)["seed"] is None
    assert sampling_kwargs(SamplingParams(do_sample=True, temperature=0.0), 7)["temperature"] == 0.0
    kw = sampling_kwargs(SAMPLE, 123)
    assert (kw["temperature"], kw["top_p"], kw["top_k"], kw["repetition_penalty"], kw["seed"]) == (
        0.7,
        0.9,
        -1,
        1.1,
        123,
    )
    assert sampling_kwargs(SamplingParams(do_sample=True, top_k=40), 1)["top_k"] == 40
    assert sampling_kwargs(SAMPLE, 1, ())["stop"] == []
    with pytest.raises(ConfigError, match="seed"):
        sampling_kwargs(SAMPLE, None)


@pytest.mark.parametrize(
    "finish, stop_reason, text, stop, want",
    [
        ("stop", None, "42", ("\n\n",), ("42", "eos")),
        ("stop", "\n\n", "42", ("\n\n",), ("42", "stop")),       # vLLM drops the stop string
        ("stop", 7, "42", ("\n\n",), ("42", "eos")),              # a stop token id (EOS-like)
        ("stop", None, "42\n\nQ:", ("\n\n",), ("42", "stop")),    # cut here if it came back
        ("length", None, "4242", ("\n\n",), ("4242", "length")),
    ],
)
def test_vllm_finish_mapping(finish, stop_reason, text, stop, want):
    assert finish_of(finish, stop_reason, text, stop) == want


def test_vllm_aborted_request_is_an_error():
    with pytest.raises(BackendError, match="abort"):
        finish_of("abort", None, "", ())


def test_vllm_missing_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(BackendError, match=r"pip install -e '\.\[vllm\]'"):
        build_backend(
            {"backend": "vllm", "dtype": "float32", "vllm": {}}, types.SimpleNamespace(load_path="x", source_sha256="s")
        )


class _FakeLLM:
    """Stands in for ``vllm.LLM``: echoes each request's seed as text; records the calls.

    A request whose seed is in ``abort`` comes back with vLLM's ``finish_reason="abort"``.
    """

    def __init__(self, abort=()):
        self.calls = []
        self.abort = set(abort)

    def generate(self, prompts, sampling_params, use_tqdm):
        self.calls.append(len(prompts))
        outs = []
        for p, sp in zip(prompts, sampling_params, strict=True):
            text = f"{len(p['prompt_token_ids'])}:{sp.kw['seed']}"
            finish = "abort" if sp.kw["seed"] in self.abort else "length"
            comp = types.SimpleNamespace(text=text, token_ids=[1, 2, 3], finish_reason=finish, stop_reason=None)
            outs.append(types.SimpleNamespace(outputs=[comp]))
        return outs


@pytest.fixture()
def fake_vllm(monkeypatch):
    mod = types.ModuleType("vllm")
    mod.__version__ = "0.0-fake"
    mod.SamplingParams = lambda **kw: types.SimpleNamespace(kw=kw)
    inputs = types.ModuleType("vllm.inputs")
    inputs.TokensPrompt = lambda **kw: dict(kw)
    mod.inputs = inputs
    monkeypatch.setitem(sys.modules, "vllm", mod)
    monkeypatch.setitem(sys.modules, "vllm.inputs", inputs)
    return mod


def test_vllm_backend_requests_chunks_and_reports(fake_vllm, tokenizer):
    """Requests go in chunks of whole prompts (at most ``chunk_requests``); every sample is
    reported once through ``on_sample_done`` as (prompt, position, sample), as soon as its
    chunk's ``LLM.generate`` call is back (chunk 1's before chunk 2 is sent), and is the sample
    returned in ``out``."""
    llm = _FakeLLM()
    backend = VLLMBackend("unused", model_sha="abc", dtype="bfloat16", llm=llm, tokenizer=tokenizer, chunk_requests=3)
    assert isinstance(backend, Backend)
    assert backend.cache_identity() == {"backend": "vllm", "model_sha": "abc", "dtype": "bfloat16",
                                        "vllm": "0.0-fake", "tensor_parallel_size": 1, "logprobs_mode": None}
    prep = backend.prepare(Prompt(messages=({"role": "user", "content": "hi"},), assistant_prefix="Sure"))
    assert prep.text.endswith("Sure") and prep.n_tokens == len(prep.payload)
    done = []
    out = backend.generate([[1, 2], [3], [4, 5, 6]], [[10, 11], [12], [13, 14]], SAMPLE,
                           on_sample_done=lambda i, j, s: done.append((i, j, s, len(llm.calls))), progress=False)
    assert llm.calls == [3, 2]  # whole prompts per chunk, at most 3 requests
    # (prompt, position, LLM.generate calls made when it was reported): chunk 1 before chunk 2's call
    assert [(i, j, n) for i, j, _, n in done] == [(0, 0, 1), (0, 1, 1), (1, 0, 1), (2, 0, 2), (2, 1, 2)]
    assert all(s is out[i][j] for i, j, s, _ in done)
    assert [[s.text for s in row] for row in out] == [["2:10", "2:11"], ["1:12"], ["3:13", "3:14"]]
    assert out[0][0].n_tokens == 3 and out[0][0].finish_reason == "length"
    with pytest.raises(ConfigError, match=r"prompt 0, sample 1"):
        backend.generate([[1]], [[5, None]], SAMPLE, progress=False)


def test_vllm_aborted_request_keeps_the_samples_reported_before_it(fake_vllm, tokenizer):
    """A request vLLM aborted raises BackendError naming it; the samples before it in its chunk
    were already reported (persisted by the generate stage), the ones after it are not."""
    llm = _FakeLLM(abort={12})
    backend = VLLMBackend("unused", model_sha="abc", llm=llm, tokenizer=tokenizer, chunk_requests=8)
    done = []
    with pytest.raises(BackendError, match=r"prompt 1, sample 0: .*abort"):
        backend.generate([[1, 2], [3], [4]], [[10, 11], [12], [13]], SAMPLE,
                         on_sample_done=lambda i, j, s: done.append((i, j, s.text)), progress=False)
    assert done == [(0, 0, "2:10"), (0, 1, "2:11")]


# ----- openai: routing, usage, manifest (scripted server) -----


def _usage_reply(number, body):
    status, data, headers = chat_reply(content=f"r{number}", completion_tokens=3)
    if "prompt" in body:  # /completions
        data["choices"][0]["text"] = data["choices"][0].pop("message")["content"]
    data["usage"]["prompt_tokens"] = 11
    return status, data, headers


def test_openai_adapter_routes_prefix_prompts_to_completions(tokenizer):
    chat = Prompt(messages=({"role": "user", "content": "2+2?"},))
    prefixed = Prompt(messages=({"role": "user", "content": "code"},), assistant_prefix="```python\n", stop=("```",))
    with FakeServer(_usage_reply) as srv:
        backend = OpenAIServedBackend(srv.base_url, "served", concurrency=1, tokenizer=tokenizer)
        a, b = backend.prepare(chat), backend.prepare(prefixed)
        assert a.text == chat_text(chat) and a.payload is chat and a.n_tokens is None
        assert json.loads(a.text) == {"messages": [{"role": "user", "content": "2+2?"}]}
        assert b.payload == b.text and b.text.endswith("```python\n") and b.n_tokens > 0
        done = []
        out = backend.generate([a.payload, b.payload], [[None], [None]], GREEDY,
                               on_sample_done=lambda i, j, s: done.append((i, j, s)), progress=False)
    paths = sorted(path for path, _, _ in srv.requests)
    assert paths == ["/v1/chat/completions", "/v1/completions"]
    # each sample reported once, under its index in the caller's list (not the sub-backend's)
    assert sorted((i, j) for i, j, _ in done) == [(0, 0), (1, 0)]
    assert all(s is out[i][j] for i, j, s in done)
    assert out[0][0].prompt_tokens == 11 and out[0][0].n_tokens == 3


def test_generate_table_needs_a_prompt_length(tmp_path):
    items = select_items(normalize("mmlu_redux", RAW, RAW / "SHA256SUMS", {}), 1, seed=3)
    def reply(number, body):  # usage without prompt_tokens
        status, data, headers = chat_reply(content="A")
        del data["usage"]["prompt_tokens"]
        return status, data, headers

    with FakeServer(reply) as srv:
        backend = OpenAIServedBackend(srv.base_url, "served", max_retries=0)
        with pytest.raises(BackendError, match=r"no usage.prompt_tokens"):
            generate_table(items, benchmark="mmlu_redux", options={}, model_name="m", backend=backend,
                           config_name="greedy", decoding={"do_sample": False}, n_samples=1,
                           max_new_tokens=4, seed=1, cache_dir=tmp_path, progress=False)


def test_prefix_prompt_without_tokenizer_is_refused_before_sending():
    prefixed = Prompt(messages=({"role": "user", "content": "code"},), assistant_prefix="```python\n")
    with FakeServer(lambda n, body: chat_reply()) as srv:
        backend = OpenAIServedBackend(srv.base_url, "served")
        with pytest.raises(BackendError, match="assistant_prefix"):
            backend.generate([backend.prepare(prefixed).payload], [[None]], GREEDY, progress=False)
    assert srv.requests == []


def test_served_model_needs_no_local_weights(tmp_path):
    spec = {"backend": "openai", "openai": {"base_url": "http://127.0.0.1:9/v1", "model": "served"}}
    prepared = prepare_model("m", spec, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["manifest.json"]
    manifest = read_manifest(tmp_path / "m" / "manifest.json")
    assert manifest == prepared
    assert (manifest.load_path, manifest.source, manifest.source_sha256) == (
        "",
        "openai:served@http://127.0.0.1:9/v1",
        None,
    )
    backend = build_backend(SERVED, manifest)
    assert isinstance(backend, OpenAIServedBackend) and isinstance(backend, Backend)


def test_unknown_backend_is_named():
    with pytest.raises(ConfigError, match="unknown backend 'tgi'"):
        build_backend({"backend": "tgi"}, types.SimpleNamespace(load_path="", source_sha256=None))


def test_generation_table_columns_unchanged_for_remote_rows(tmp_path):
    items = select_items(normalize("mmlu_redux", RAW, RAW / "SHA256SUMS", {}), 2, seed=3)
    with FakeServer(_usage_reply) as srv:
        backend = OpenAIServedBackend(srv.base_url, "served", concurrency=2)
        df = generate_table(items, benchmark="mmlu_redux", options={}, model_name="m", backend=backend,
                            config_name="sample", decoding=DECODING, n_samples=2, max_new_tokens=4, seed=1,
                            cache_dir=tmp_path, progress=False)
    assert df.height == 4 and df["prompt_tokens"].to_list() == [11] * 4 and df["response_tokens"].to_list() == [3] * 4
    assert df.filter(pl.col("seed").is_null()).height == 0
    seeds = sorted(body["seed"] for _, _, body in srv.requests)
    assert seeds == sorted(df["seed"].to_list())  # every sample its own request, with its own seed
