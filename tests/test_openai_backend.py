"""The ``openai`` backend against a real ``transformers serve`` and against scripted fakes.

The real server (SmolLM2-135M-Instruct converted from the packaged GGUF, CPU) is started once for
the module; converting and starting it dominate the runtime. Everything runs on loopback.
"""

from __future__ import annotations

import time

import pytest
from servers import FakeServer, chat_reply, free_port

from goodbadgreedy.errors import BackendError, ConfigError
from goodbadgreedy.generation.engine import SamplingParams
from goodbadgreedy.generation.openai_backend import OpenAIBackend
from goodbadgreedy.prompts import Prompt

GREEDY = SamplingParams(do_sample=False, max_new_tokens=16)
QUESTION = Prompt(messages=({"role": "user", "content": "What is the capital of France?"},))
POEM = Prompt(messages=({"role": "user", "content": "Write a short poem about the sea."},))


# ----- the real server -----


@pytest.fixture(scope="module")
def server(served):
    """The session's running ``transformers serve`` (conftest.py: one per test session)."""
    return served


def backend_for(server, **kw) -> OpenAIBackend:
    kw.setdefault("api_key_env", None)
    kw.setdefault("max_retries", 1)
    kw.setdefault("backoff_s", 0.1)
    kw.setdefault("timeout_s", 60)
    return OpenAIBackend(server.base_url, server.model, **kw)


@pytest.fixture(scope="module")
def greedy_answer(server):
    """The greedy answer to QUESTION (16 tokens at most), generated twice concurrently."""
    done = []
    backend = backend_for(server, concurrency=2)
    out = backend.generate([QUESTION, QUESTION], [[None], [None]], GREEDY,
                           on_sample_done=lambda i, j, s: done.append((i, j, s)), progress=False)
    return out, done


def test_greedy_round_trip_reproduces(greedy_answer):
    out, done = greedy_answer
    assert sorted((i, j) for i, j, _ in done) == [(0, 0), (1, 0)]
    assert all(s is out[i][j] for i, j, s in done)
    a, b = out[0][0], out[1][0]
    assert a.text.strip() and "Paris" in a.text
    assert a.text == b.text  # greedy: same text, even for concurrent requests
    assert a.finish_reason in ("eos", "length") and a.token_ids == []
    assert isinstance(a.completion_tokens, int) and 0 < a.completion_tokens <= GREEDY.max_new_tokens
    assert a.n_tokens == a.completion_tokens


def test_seeded_sampling_reproduces_per_seed(server):
    # concurrency=1: transformers serve implements `seed` as a global torch.manual_seed set when
    # a request arrives, so overlapping requests would draw from each other's random stream.
    backend = backend_for(server, concurrency=1)
    params = SamplingParams(do_sample=True, temperature=1.0, top_p=1.0, max_new_tokens=12)
    out = backend.generate([POEM], [[11, 11, 12]], params, progress=False)
    s11, again, s12 = out[0]
    assert s11.text == again.text
    # a different seed gives a different text: the server really samples (it decodes greedily,
    # silently, when the model's generation config lacks do_sample)
    assert s11.text != s12.text
    assert all(s.completion_tokens <= 12 for s in out[0])


def test_stop_sequence_cuts_the_text(server, greedy_answer):
    full = greedy_answer[0][0][0].text
    words = full.split()
    assert len(words) >= 3, full
    word = words[2]  # a stop sequence the greedy answer is known to reach
    prompt = Prompt(messages=QUESTION.messages, stop=(word,))
    [[s]] = backend_for(server).generate([prompt], [[None]], GREEDY, progress=False)
    assert s.finish_reason == "stop"
    assert s.text == full[: full.find(word)]
    assert word not in s.text


def test_max_tokens_is_respected(server):
    params = SamplingParams(max_new_tokens=3)
    [[s]] = backend_for(server).generate([POEM], [[None]], params, progress=False)
    assert s.finish_reason == "length"
    assert s.completion_tokens is not None and s.completion_tokens <= 3
    assert s.text


def test_completions_endpoint(server):
    backend = backend_for(server, endpoint="completions")
    [[s]] = backend.generate(["The capital of France is"], [[None]], SamplingParams(max_new_tokens=4),
                             stop=["\n"], progress=False)
    assert "Paris" in s.text and "\n" not in s.text
    assert s.completion_tokens <= 4


def test_client_error_is_not_retried_and_carries_the_message(server):
    backend = OpenAIBackend(server.base_url, "no-such-model", api_key_env=None, backoff_s=30)
    t0 = time.monotonic()
    with pytest.raises(BackendError, match=r"prompt 0, sample 0.*HTTP 400.*pinned"):
        backend.generate([QUESTION], [[None]], GREEDY, progress=False)
    assert time.monotonic() - t0 < 10  # a retry would have waited >= 15 s


def test_non_standard_fields_are_refused_loudly(server):
    # transformers serve validates the body: top_k is an unexpected field there (vLLM takes it)
    params = SamplingParams(do_sample=True, temperature=0.7, top_k=5, max_new_tokens=4)
    with pytest.raises(BackendError, match=r"HTTP 422.*top_k"):
        backend_for(server).generate([QUESTION], [[1]], params, progress=False)


# ----- no server, fake servers -----


def test_closed_port_is_retried_then_fails_in_bounded_time():
    backend = OpenAIBackend(f"http://127.0.0.1:{free_port()}/v1", "m", api_key_env=None,
                            max_retries=2, backoff_s=0.05, timeout_s=2)
    t0 = time.monotonic()
    with pytest.raises(BackendError, match=r"prompt 0, sample 0: .* failed after 3 attempt\(s\).*Connect"):
        backend.generate([QUESTION], [[None]], GREEDY, progress=False)
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        ((200, {"choices": [], "usage": {"completion_tokens": 0}}, {}), "expected exactly 1 choice, got 0"),
        ((200, {"id": "x"}, {}), "expected exactly 1 choice, got None"),
        (chat_reply(finish_reason=...), "finish_reason None"),
        (chat_reply(finish_reason="content_filter"), "finish_reason 'content_filter'"),
        (chat_reply(content=None), "no text"),
        (chat_reply(completion_tokens=99), "99 completion tokens exceed max_tokens=16"),
        (chat_reply(completion_tokens="2"), "not a count"),
        ((200, b"<html>oops</html>", {}), "not JSON"),
        ((200, {"error": {"message": "overloaded"}}, {}), "error object"),
    ],
    ids=["zero-choices", "no-choices", "no-finish-reason", "content-filter", "null-content",
         "tokens-over-max", "tokens-not-int", "not-json", "error-object"],
)
def test_a_silent_or_odd_server_is_not_trusted(reply, match):
    with FakeServer(lambda n, body: reply) as fake:
        backend = OpenAIBackend(fake.base_url, "m", api_key_env=None, max_retries=0)
        with pytest.raises(BackendError, match=rf"prompt 1, sample 0: .*{match}"):
            backend.generate([QUESTION, POEM], [[], [None]], GREEDY, progress=False)
        assert len(fake.requests) == 1  # bad answers are not retried


def test_n_greater_than_one_is_never_requested_and_extra_choices_are_refused():
    two = chat_reply()
    two[1]["choices"].append(dict(two[1]["choices"][0], index=1))
    with FakeServer(lambda n, body: two) as fake:
        backend = OpenAIBackend(fake.base_url, "m", api_key_env=None, max_retries=0)
        with pytest.raises(BackendError, match="expected exactly 1 choice, got 2"):
            backend.generate([QUESTION], [[None]], GREEDY, progress=False)
        assert fake.requests[0][2]["n"] == 1


def test_429_and_5xx_are_retried_with_backoff():
    script = [(503, {"detail": "warming up"}, {}), (429, {"error": {"message": "slow down"}}, {"Retry-After": "0.05"})]

    def reply(n, body):
        return script[n] if n < len(script) else chat_reply("fine")

    with FakeServer(reply) as fake:
        backend = OpenAIBackend(fake.base_url, "m", api_key_env=None, max_retries=2, backoff_s=0.01)
        [[s]] = backend.generate([QUESTION], [[None]], GREEDY, progress=False)
    assert s.text == "fine" and len(fake.requests) == 3


def test_retries_run_out():
    with FakeServer(lambda n, body: (500, {"detail": "boom"}, {})) as fake:
        backend = OpenAIBackend(fake.base_url, "m", api_key_env=None, max_retries=1, backoff_s=0.01)
        with pytest.raises(BackendError, match=r"failed after 2 attempt\(s\); last: HTTP 500: boom"):
            backend.generate([QUESTION], [[None]], GREEDY, progress=False)
    assert len(fake.requests) == 2


def test_4xx_is_not_retried_and_names_a_missing_key(monkeypatch):
    monkeypatch.delenv("GBG_TEST_KEY", raising=False)
    with FakeServer(lambda n, body: (401, {"error": {"message": "Incorrect API key"}}, {})) as fake:
        backend = OpenAIBackend(fake.base_url, "m", api_key_env="GBG_TEST_KEY", backoff_s=30)
        with pytest.raises(BackendError, match=r"HTTP 401: Incorrect API key \(no API key was sent: \$GBG_TEST_KEY"):
            backend.generate([QUESTION], [[None]], GREEDY, progress=False)
    assert len(fake.requests) == 1
    assert "authorization" not in {k.lower() for k in fake.requests[0][1]}


def test_api_key_comes_from_the_named_variable(monkeypatch):
    monkeypatch.setenv("GBG_TEST_KEY", "sk-test-123")
    with FakeServer(lambda n, body: chat_reply()) as fake:
        OpenAIBackend(fake.base_url, "m", api_key_env="GBG_TEST_KEY").generate(
            [QUESTION], [[None]], GREEDY, progress=False)
    headers = {k.lower(): v for k, v in fake.requests[0][1].items()}
    assert headers["authorization"] == "Bearer sk-test-123"


def test_request_mapping_and_sample_order():
    def reply(n, body):  # echo the seed, so each sample shows which request it came from
        return chat_reply(f"seed={body.get('seed')}")

    sampling = SamplingParams(do_sample=True, temperature=0.7, top_p=0.9, top_k=20,
                              repetition_penalty=1.1, max_new_tokens=8)
    seeds = [[1, 2, 3], [4], [5, 6]]
    done = []
    with FakeServer(reply) as fake:
        backend = OpenAIBackend(fake.base_url, "my-model", api_key_env=None, concurrency=4)
        out = backend.generate([QUESTION, POEM, Prompt(QUESTION.messages, stop=("B",))], seeds, sampling,
                               stop=["A"], on_sample_done=lambda i, j, s: done.append((i, j, s.text)),
                               progress=False)
        bodies = [b for _, _, b in fake.requests]
        assert {p for p, _, _ in fake.requests} == {"/v1/chat/completions"}
    assert [[s.text for s in row] for row in out] == [[f"seed={x}" for x in row] for row in seeds]
    # every sample reported once, as (prompt, position, its own text)
    assert sorted(done) == [(i, j, f"seed={x}") for i, row in enumerate(seeds) for j, x in enumerate(row)]
    assert sorted(b["seed"] for b in bodies) == [1, 2, 3, 4, 5, 6]
    b = next(b for b in bodies if b["seed"] == 5)
    assert b == {"model": "my-model", "messages": list(QUESTION.messages), "temperature": 0.7, "top_p": 0.9,
                 "top_k": 20, "repetition_penalty": 1.1, "max_tokens": 8, "stop": ["A", "B"], "seed": 5, "n": 1,
                 "logprobs": True}

    backend = OpenAIBackend("http://127.0.0.1:1/v1", "m", api_key_env=None, send_n=False)
    greedy = backend.request_body(QUESTION, None, GREEDY)
    assert greedy == {"model": "m", "messages": list(QUESTION.messages), "temperature": 0.0, "top_p": 1.0,
                      "max_tokens": 16, "logprobs": True}
    # sampling at temperature 0 is greedy, as in the local engine; defaults are not sent
    assert backend.request_body(QUESTION, 3, SamplingParams(do_sample=True, temperature=0.0, top_k=5))[
        "temperature"] == 0.0
    assert "top_k" not in backend.request_body(QUESTION, 3, SamplingParams(do_sample=True, temperature=0.0, top_k=5))


@pytest.mark.parametrize(
    ("choice", "stop", "want"),
    [
        (chat_reply("Paris. Next", "stop"), ["."], ("Paris", "stop")),  # server returned the stop
        (chat_reply("Paris", "stop", stop_reason="."), ["."], ("Paris", "stop")),  # vLLM's stop_reason
        (chat_reply("Paris", "stop", stop_reason=None), ["."], ("Paris", "eos")),
        (chat_reply("Paris", "stop"), [], ("Paris", "eos")),
        (chat_reply("Paris is", "length"), ["."], ("Paris is", "length")),
        (chat_reply("Paris", "stop", completion_tokens=...), [], ("Paris", "eos")),
    ],
    ids=["stop-in-text", "stop-reason", "stop-reason-none", "eos", "length", "no-usage"],
)
def test_finish_reason_mapping(choice, stop, want):
    with FakeServer(lambda n, body: choice) as fake:
        [[s]] = OpenAIBackend(fake.base_url, "m", api_key_env=None).generate(
            [QUESTION], [[None]], GREEDY, stop=stop, progress=False)
    assert (s.text, s.finish_reason) == want
    assert s.completion_tokens == (None if "usage" not in choice[1] else 2)


def test_assistant_prefix_needs_continuation_support():
    prefixed = Prompt(QUESTION.messages, assistant_prefix="The answer is")
    with FakeServer(lambda n, body: chat_reply(" Paris.")) as fake:
        backend = OpenAIBackend(fake.base_url, "m", api_key_env=None)
        with pytest.raises(BackendError, match="prompt 1: has an assistant_prefix"):
            backend.generate([QUESTION, prefixed], [[None], [None]], GREEDY, progress=False)
        assert fake.requests == []  # refused before anything was sent

        backend = OpenAIBackend(fake.base_url, "m", api_key_env=None, continue_final_message=True)
        [[s]] = backend.generate([prefixed], [[None]], GREEDY, progress=False)
        body = fake.requests[0][2]
    assert s.text == " Paris."
    assert body["messages"][-1] == {"role": "assistant", "content": "The answer is"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False


def test_inputs_are_checked_before_sending():
    backend = OpenAIBackend("http://127.0.0.1:1/v1", "m", api_key_env=None)
    sampling = SamplingParams(do_sample=True, temperature=1.0)
    with pytest.raises(ConfigError, match=r"prompt 0, sample 1"):
        backend.generate([QUESTION], [[1, None]], sampling, progress=False)
    with pytest.raises(BackendError, match="prompt 0: endpoint 'chat' needs Prompt"):
        backend.generate(["text"], [[None]], GREEDY, progress=False)
    completions = OpenAIBackend("http://127.0.0.1:1/v1", "m", api_key_env=None, endpoint="completions")
    with pytest.raises(BackendError, match="prompt 0: endpoint 'completions' needs prompt strings"):
        completions.generate([QUESTION], [[None]], GREEDY, progress=False)
    with pytest.raises(ValueError, match="2 prompts but 1 seed lists"):
        backend.generate([QUESTION, QUESTION], [[None]], GREEDY, progress=False)
    assert backend.generate([QUESTION], [[]], GREEDY, progress=False) == [[]]


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"endpoint": "responses"}, "endpoint"), ({"concurrency": 0}, "concurrency"),
        ({"max_retries": -1}, "max_retries"), ({"timeout_s": 0}, "timeout_s"), ({"backoff_s": -1}, "backoff_s"),
        ({"base_url": "localhost:8000"}, "base_url"), ({"extra_body": {"seed": 1}}, "extra_body"),
    ],
)
def test_bad_configuration_is_named(kw, name):
    args = {"base_url": "http://127.0.0.1:1/v1", "model": "m", **kw}
    with pytest.raises(ConfigError, match=name):
        OpenAIBackend(**args)


def test_first_failure_cancels_the_rest_promptly():
    def reply(n, body):
        return {1: chat_reply("one"), 2: (503, {"detail": "busy"}, {}), 3: (400, {"detail": "bad request"}, {})}[
            body["seed"]]

    done = []
    sampling = SamplingParams(do_sample=True, temperature=1.0, max_new_tokens=4)
    with FakeServer(reply) as fake:
        backend = OpenAIBackend(fake.base_url, "m", api_key_env=None, concurrency=2, backoff_s=20, max_retries=3)
        t0 = time.monotonic()
        with pytest.raises(BackendError, match=r"prompt 2, sample 0: .*HTTP 400: bad request"):
            backend.generate([QUESTION] * 4, [[1], [2], [3], [3]], sampling,
                             on_sample_done=lambda i, j, s: done.append((i, j)), progress=True)
        # the retry of prompt 1 (a >= 10 s wait) was interrupted; prompt 3 was never sent
        assert time.monotonic() - t0 < 5
        assert sorted(b["seed"] for _, _, b in fake.requests) == [1, 2, 3]
    assert done == [(0, 0)]


def test_each_sample_is_reported_when_its_response_is_back():
    """``on_sample_done`` fires per finished request, not per finished prompt: when sample 1 of
    a prompt fails, its sample 0 (answered before) has been reported, so the generate stage has
    persisted it (a per-prompt callback would have reported nothing)."""
    def reply(n, body):
        return chat_reply("first") if body["seed"] == 1 else (400, {"detail": "bad request"}, {})

    done = []
    sampling = SamplingParams(do_sample=True, temperature=1.0, max_new_tokens=4)
    with FakeServer(reply) as fake:
        backend = OpenAIBackend(fake.base_url, "m", api_key_env=None, concurrency=1, max_retries=0)
        with pytest.raises(BackendError, match=r"prompt 0, sample 1: .*HTTP 400"):
            backend.generate([QUESTION], [[1, 2]], sampling,
                             on_sample_done=lambda i, j, s: done.append((i, j, s.text)), progress=False)
    assert done == [(0, 0, "first")]
