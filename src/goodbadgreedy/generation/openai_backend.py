"""The ``openai`` backend: generation through any OpenAI-compatible HTTP server.

One HTTP request per sample
    Every sample is its own request with ``n: 1`` and its own ``seed``. With ``n > 1`` all choices
    of a request share one seed (so sample j is not reproducible on its own, and cannot be
    resumed alone), and some servers ignore ``n`` silently (``transformers serve`` does: it
    returns one choice). ``send_n`` only decides whether the field ``"n": 1`` is written out.

Decoding parameters (``SamplingParams`` -> request body)

    ====================  =====================================================================
    ``SamplingParams``    request body
    ====================  =====================================================================
    greedy                ``temperature: 0``, ``top_p: 1`` (no ``top_k``)
    sampling              ``temperature``, ``top_p``; ``top_k`` only when > 0
    repetition_penalty    ``repetition_penalty`` only when != 1 (greedy too, as in the local
                          engine)
    max_new_tokens        ``max_tokens``
    stop (+Prompt.stop)   ``stop`` (list; omitted when empty)
    seed of sample j      ``seed`` (omitted when None, which only greedy decoding allows)
    (``logprobs`` option) chat: ``logprobs: true``; completions: ``logprobs: 0`` (the sampled
                          tokens' log-probabilities only); omitted when the option is off
    ====================  =====================================================================

    ``top_k`` and ``repetition_penalty`` are not part of the OpenAI API: they are vLLM's extra
    body fields (its "extra parameters"). A server that validates the body rejects them
    (``transformers serve`` answers 422 "Unexpected fields"), which surfaces as a
    :class:`~goodbadgreedy.errors.BackendError`; a server that neither knows nor validates them
    ignores them silently (or names them differently), which no client can see, so check a
    server's documentation before using non-default values. They are sent only when not
    default, so plain temperature/top-p configs stay portable. ``extra_body`` adds
    server-specific fields but may not override the ones above.

    Whether a server honours ``temperature`` and ``seed`` cannot be seen in one response.
    ``transformers serve`` samples only when the model's ``generation_config.json`` has
    ``do_sample: true`` (else it decodes greedily whatever the temperature), adds that config's
    ``top_k`` (50 by default) and implements ``seed`` as a global ``torch.manual_seed``, so
    seeded samples reproduce only when requests do not overlap: use ``concurrency=1`` there.

What comes back is checked (a server's silence is not trusted)
    Exactly one choice; a string text (``message.content`` / ``text``); ``finish_reason``
    ``stop`` or ``length``; ``usage.completion_tokens``, when present, an int <= ``max_tokens``.
    Anything else raises :class:`~goodbadgreedy.errors.BackendError` naming the prompt index and
    the sample. ``finish_reason`` maps as follows:

    * ``length`` -> ``length``;
    * ``stop`` -> ``stop`` when a stop sequence was hit, else ``eos``. A hit is seen when the
      returned text contains a stop sequence (some servers, ``transformers serve`` among them,
      return it; the text is then cut before it, as the local engine does) or when the choice
      carries vLLM's ``stop_reason`` equal to one of the stop sequences. A server that strips the
      stop sequence and says nothing else (OpenAI's own API) has its stop hits recorded as
      ``eos``: the two cannot be told apart from the response.

    Log-probabilities: the sampled tokens' values are read from
    ``choices[0].logprobs.content[*].logprob`` (chat) or ``choices[0].logprobs.token_logprobs``
    (completions) into ``Sample.logprobs`` (what the server calls a token's log-probability: vLLM
    gives the raw one by default, before any processor); ``Sample.processed_logprobs`` stays None.
    A server that returns none (``transformers serve`` accepts the field, logs that it ignores it
    and returns ``logprobs: null``) or returns a list that is not one number per completion token
    leaves ``Sample.logprobs`` None (the latter with a warning): the ``logprob`` scorer then falls
    back to a teacher-forced pass over those rows. When the server reports no
    ``usage.completion_tokens``, the length of the list is the token count.

    ``Sample.token_ids`` stays empty (a remote server does not return token ids);
    ``Sample.completion_tokens`` is ``usage.completion_tokens``, or None when the server does not
    report it (then ``Sample.n_tokens`` is 0: the length is unknown, not zero). Samples are
    :class:`ServedSample` objects, whose ``prompt_tokens`` is ``usage.prompt_tokens`` (or None).

Prompts
    ``endpoint="chat"`` takes :class:`~goodbadgreedy.prompts.Prompt` objects and sends
    ``messages``; the server applies its chat template. A non-empty ``assistant_prefix`` needs the
    server to continue a trailing assistant message: with ``continue_final_message=True`` it is
    sent as a last ``{"role": "assistant"}`` message plus vLLM's ``continue_final_message: true,
    add_generation_prompt: false``; otherwise such a prompt raises ``BackendError`` before any
    request is sent. ``endpoint="completions"`` takes prompt strings (already chat-templated text)
    and sends them as ``prompt`` (the server tokenizes them; whether it adds a BOS token is its
    choice).

Retries
    Connection errors, timeouts, HTTP 429 and 5xx are retried up to ``max_retries`` times with
    exponential backoff ``backoff_s * 2**attempt`` (capped at ``max_backoff_s``) times a jitter
    factor in [0.5, 1) drawn from a ``random.Random`` seeded with (prompt, sample, attempt), so
    retry timing is reproducible; a ``Retry-After`` header in seconds raises the wait (same cap).
    Other HTTP errors are not retried: they raise ``BackendError`` with the server's message.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

import httpx2

from goodbadgreedy.errors import BackendError, ConfigError
from goodbadgreedy.generation.backend_base import Sample, SampleCallback
from goodbadgreedy.generation.params import SamplingParams
from goodbadgreedy.prompts import Prompt, truncate_at_stop

log = logging.getLogger(__name__)

Endpoint = Literal["chat", "completions"]

#: Body fields this backend sets itself; ``extra_body`` may not override them.
RESERVED_FIELDS = frozenset(
    {
        "model", "messages", "prompt", "temperature", "top_p", "top_k", "repetition_penalty",
        "max_tokens", "stop", "seed", "n", "stream", "continue_final_message", "add_generation_prompt",
        "logprobs", "top_logprobs",
    }
)

_PATHS = {"chat": "/chat/completions", "completions": "/completions"}


class _Cancelled(Exception):
    """Another request failed; this one stops retrying."""


@dataclass
class ServedSample(Sample):
    """A :class:`Sample` from a server.

    Attributes:
        prompt_tokens: the prompt length the server reported (``usage.prompt_tokens``), None when
            it reported none.
    """

    prompt_tokens: int | None = None


class OpenAIBackend:
    """Generate samples through an OpenAI-compatible server (chat or legacy completions API).

    Args:
        base_url: the API root including its version, e.g. ``http://127.0.0.1:8000/v1``
            (requests go to ``{base_url}/chat/completions`` or ``{base_url}/completions``).
        model: the ``model`` field of every request.
        api_key_env: name of the environment variable holding the API key, sent as
            ``Authorization: Bearer``; None (or an unset variable) sends no key, for local
            servers. The key is read at each :meth:`generate` call and never logged.
        endpoint: ``chat`` (``/chat/completions``, :class:`Prompt` inputs) or ``completions``
            (``/completions``, templated prompt strings).
        concurrency: most requests in flight at once (>= 1).
        max_retries: retries per request after the first attempt (>= 0).
        timeout_s: connect/read/write timeout of one attempt, seconds (> 0).
        backoff_s: base of the exponential backoff between retries, seconds (>= 0).
        send_n: write ``"n": 1`` into every request (the OpenAI default anyway); turn off for a
            server that rejects the field. Samples are never batched into one ``n > 1`` request
            (they would share a seed).
        continue_final_message: send a non-empty ``Prompt.assistant_prefix`` as a trailing
            assistant message to be continued (vLLM's ``continue_final_message``); when False such
            prompts are refused.
        extra_body: further server-specific body fields (e.g. ``{"generation_config": ...}`` for
            ``transformers serve``); may not contain :data:`RESERVED_FIELDS`.
        max_backoff_s: cap of one wait between retries, seconds.
        logprobs: ask for the sampled tokens' log-probabilities (see the module docstring); turn
            off for a server that rejects the field.

    Raises:
        ConfigError: a parameter is out of range, ``base_url`` is not http(s), or ``extra_body``
            overrides a reserved field; the message names the parameter.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        endpoint: Endpoint = "chat",
        concurrency: int = 4,
        max_retries: int = 5,
        timeout_s: float = 120,
        backoff_s: float = 1.0,
        send_n: bool = True,
        *,
        continue_final_message: bool = False,
        extra_body: Mapping[str, Any] | None = None,
        max_backoff_s: float = 30.0,
        logprobs: bool = True,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"openai backend: base_url={base_url!r} must start with http:// or https://")
        if not isinstance(model, str) or not model:
            raise ConfigError(f"openai backend: model={model!r} must be a non-empty string")
        if endpoint not in _PATHS:
            raise ConfigError(f"openai backend: endpoint={endpoint!r} must be one of {sorted(_PATHS)}")
        checks = [
            ("concurrency", concurrency, isinstance(concurrency, int) and concurrency >= 1, "an int >= 1"),
            ("max_retries", max_retries, isinstance(max_retries, int) and max_retries >= 0, "an int >= 0"),
            ("timeout_s", timeout_s, timeout_s > 0, "> 0"),
            ("backoff_s", backoff_s, backoff_s >= 0, ">= 0"),
            ("max_backoff_s", max_backoff_s, max_backoff_s >= 0, ">= 0"),
        ]
        for name, value, ok, rule in checks:
            if not ok:
                raise ConfigError(f"openai backend: {name}={value!r} must be {rule}")
        clash = sorted(set(extra_body or {}) & RESERVED_FIELDS)
        if clash:
            raise ConfigError(f"openai backend: extra_body may not set {clash} (the backend sets them)")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.timeout_s = float(timeout_s)
        self.backoff_s = float(backoff_s)
        self.send_n = send_n
        self.continue_final_message = continue_final_message
        self.extra_body = dict(extra_body or {})
        self.max_backoff_s = float(max_backoff_s)
        self.logprobs = bool(logprobs)

    @property
    def url(self) -> str:
        """The URL every request is posted to."""
        return self.base_url + _PATHS[self.endpoint]

    # ----- requests -----

    def request_body(
        self, prompt: Prompt | str, seed: int | None, params: SamplingParams, stop: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Build the JSON body of the request for one sample (see the module docstring's table).

        Args:
            prompt: a :class:`Prompt` (chat endpoint) or a templated string (completions).
            seed: the sample's seed; None omits the field.
            params: decoding parameters.
            stop: the stop sequences (already merged with ``prompt.stop``).

        Raises:
            BackendError: the prompt's type does not fit the endpoint, or it has an
                ``assistant_prefix`` and ``continue_final_message`` is off.
        """
        body: dict[str, Any] = {"model": self.model}
        if self.endpoint == "chat":
            if not isinstance(prompt, Prompt):
                raise BackendError(f"endpoint 'chat' needs Prompt objects, got {type(prompt).__name__}")
            messages = [dict(m) for m in prompt.messages]
            if prompt.assistant_prefix:
                if not self.continue_final_message:
                    raise BackendError(
                        "has an assistant_prefix, which needs a server that continues a final "
                        "assistant message; set continue_final_message=True if it does (vLLM), or use "
                        "endpoint='completions' with locally templated text"
                    )
                messages.append({"role": "assistant", "content": prompt.assistant_prefix})
                body["continue_final_message"] = True
                body["add_generation_prompt"] = False
            body["messages"] = messages
        else:
            if not isinstance(prompt, str):
                raise BackendError(
                    f"endpoint 'completions' needs prompt strings (chat template applied), "
                    f"got {type(prompt).__name__}"
                )
            body["prompt"] = prompt
        if params.greedy:
            body["temperature"], body["top_p"] = 0.0, 1.0
        else:
            body["temperature"], body["top_p"] = params.temperature, params.top_p
            if params.top_k > 0:
                body["top_k"] = params.top_k
        if params.repetition_penalty != 1.0:
            body["repetition_penalty"] = params.repetition_penalty
        body["max_tokens"] = params.max_new_tokens
        if stop:
            body["stop"] = list(stop)
        if seed is not None:
            body["seed"] = int(seed)
        if self.send_n:
            body["n"] = 1
        if self.logprobs:
            body["logprobs"] = True if self.endpoint == "chat" else 0
        body.update(self.extra_body)
        return body

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _delay(self, prompt_idx: int, sample_pos: int, attempt: int, retry_after: float | None) -> float:
        jitter = random.Random(f"{prompt_idx}:{sample_pos}:{attempt}").uniform(0.5, 1.0)
        delay = min(self.max_backoff_s, self.backoff_s * 2**attempt) * jitter
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff_s))
        return delay

    def _post(
        self, client: httpx2.Client, body: dict[str, Any], where: str, key: tuple[int, int], cancel: threading.Event
    ) -> dict[str, Any]:
        """POST ``body`` with retries; return the decoded JSON object of a 2xx answer."""
        attempt = 0
        while True:
            retry_after = None
            try:
                resp = client.post(self.url, json=body)
            except (httpx2.UnsupportedProtocol, httpx2.LocalProtocolError, httpx2.InvalidURL) as exc:
                raise BackendError(f"{where}: cannot send the request to {self.url}: {exc}") from exc
            except httpx2.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= resp.status_code < 300:
                    try:
                        data = resp.json()
                    except ValueError:
                        raise BackendError(
                            f"{where}: HTTP {resp.status_code} from {self.url} is not JSON: {resp.text[:300]!r}"
                        ) from None
                    if not isinstance(data, dict):
                        raise BackendError(f"{where}: response is not a JSON object: {str(data)[:300]}")
                    return data
                message = _server_message(resp)
                problem = f"HTTP {resp.status_code}: {message}"
                if resp.status_code != 429 and resp.status_code < 500:
                    hint = ""
                    if resp.status_code in (401, 403) and "authorization" not in client.headers:
                        why = f"${self.api_key_env} is unset" if self.api_key_env else "api_key_env is None"
                        hint = f" (no API key was sent: {why})"
                    raise BackendError(f"{where}: {self.url} answered {problem}{hint}")
                retry_after = _retry_after(resp)
            if attempt >= self.max_retries:
                raise BackendError(f"{where}: {self.url} failed after {attempt + 1} attempt(s); last: {problem}")
            delay = self._delay(*key, attempt, retry_after)
            log.warning("%s: %s; retry %d/%d in %.2f s", where, problem, attempt + 1, self.max_retries, delay)
            if cancel.wait(delay):
                raise _Cancelled
            attempt += 1

    def _parse(self, data: dict[str, Any], where: str, params: SamplingParams, stop: Sequence[str]) -> Sample:
        """Check one response and turn it into a :class:`Sample` (mapping in the module docstring)."""
        if data.get("error"):
            raise BackendError(f"{where}: server returned an error object: {str(data['error'])[:300]}")
        choices = data.get("choices")
        if not isinstance(choices, list) or len(choices) != 1:
            got = len(choices) if isinstance(choices, list) else repr(choices)
            raise BackendError(f"{where}: expected exactly 1 choice, got {got}")
        choice = choices[0]
        if not isinstance(choice, dict):
            raise BackendError(f"{where}: choice is not an object: {choice!r}")
        if self.endpoint == "chat":
            message = choice.get("message")
            text = message.get("content") if isinstance(message, dict) else None
        else:
            text = choice.get("text")
        if not isinstance(text, str):
            raise BackendError(f"{where}: choice has no text (got {text!r})")
        finish = choice.get("finish_reason")
        if finish not in ("stop", "length"):
            raise BackendError(f"{where}: finish_reason {finish!r} is not 'stop' or 'length'")
        usage = data.get("usage")
        n_tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        n_prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        if n_prompt is not None and (isinstance(n_prompt, bool) or not isinstance(n_prompt, int) or n_prompt < 0):
            raise BackendError(f"{where}: usage.prompt_tokens={n_prompt!r} is not a count")
        if n_tokens is not None:
            if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens < 0:
                raise BackendError(f"{where}: usage.completion_tokens={n_tokens!r} is not a count")
            if n_tokens > params.max_new_tokens:
                raise BackendError(
                    f"{where}: {n_tokens} completion tokens exceed max_tokens={params.max_new_tokens}"
                )
        logprobs = self._logprobs(choice, where, n_tokens)
        if n_tokens is None and logprobs is not None:
            n_tokens = len(logprobs)
        cut = truncate_at_stop(text, stop)
        stop_reason = choice.get("stop_reason")
        if cut != text or (finish == "stop" and isinstance(stop_reason, str) and stop_reason in stop):
            reason = "stop"
        else:
            reason = "length" if finish == "length" else "eos"
        return ServedSample(token_ids=[], text=cut, finish_reason=reason, completion_tokens=n_tokens,
                            prompt_tokens=n_prompt, logprobs=logprobs)

    def _logprobs(self, choice: dict[str, Any], where: str, n_tokens: int | None) -> list[float] | None:
        """The sampled tokens' log-probabilities of one choice, or None (see the module docstring)."""
        block = choice.get("logprobs")
        if not isinstance(block, dict):
            return None
        if self.endpoint == "chat":
            content = block.get("content")
            values = ([c.get("logprob") if isinstance(c, dict) else None for c in content]
                      if isinstance(content, list) else None)
        else:
            values = block.get("token_logprobs")
        if not isinstance(values, list):
            return None
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
        if not ok or (n_tokens is not None and len(values) != n_tokens):
            log.warning("%s: the server's logprobs are not one finite number per completion token "
                        "(%d values, %s tokens); recorded as missing", where, len(values), n_tokens)
            return None
        return [float(v) for v in values]

    # ----- the engine contract -----

    def generate(
        self,
        prompts: Sequence[Prompt | str],
        seeds: Sequence[Sequence[int | None]],
        params: SamplingParams,
        *,
        stop: Sequence[str] = (),
        on_sample_done: SampleCallback | None = None,
        progress: bool = True,
    ) -> list[list[Sample]]:
        """Generate ``len(seeds[i])`` samples for every prompt ``i``, one request per sample.

        Same contract as :func:`goodbadgreedy.generation.engine.generate`. Requests are started
        in (prompt, sample) order, at most ``concurrency`` at a time; the first failure cancels
        the requests not yet sent and is raised (samples already reported through
        ``on_sample_done`` stay valid).

        Args:
            prompts: :class:`Prompt` objects (chat) or templated strings (completions).
            seeds: per prompt, one seed per sample (None allowed only for greedy decoding).
            params: decoding parameters.
            stop: stop sequences for every prompt; a :class:`Prompt`'s own ``stop`` is added.
            on_sample_done: called (in the caller's thread) with (prompt index, sample position,
                the :class:`ServedSample`) as soon as that request's response is back and checked
                (used to persist it for resumption).
            progress: show a tqdm progress bar on stderr.

        Returns:
            ``out[i][j]``: sample j of prompt i.

        Raises:
            ConfigError: a sampling config got a None seed (prompt and sample named).
            BackendError: a prompt does not fit the endpoint or has an unsupported
                ``assistant_prefix`` (checked before any request), a request failed for good
                (after retries where retryable; non-retryable HTTP errors carry the server's
                message), or a response failed the checks; the message names prompt and sample.
            ValueError: ``prompts`` and ``seeds`` differ in length.
        """
        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seed lists")
        jobs: list[tuple[int, int, dict[str, Any], tuple[str, ...]]] = []
        for i, (prompt, seed_list) in enumerate(zip(prompts, seeds, strict=True)):
            stops = tuple(dict.fromkeys([*stop, *(prompt.stop if isinstance(prompt, Prompt) else ())]))
            for j, seed in enumerate(seed_list):
                if seed is None and not params.greedy:
                    raise ConfigError(f"sampling needs a seed for every sample (prompt {i}, sample {j})")
                try:
                    body = self.request_body(prompt, seed, params, stops)
                except BackendError as exc:
                    raise BackendError(f"prompt {i}: {exc}") from None
                jobs.append((i, j, body, stops))
        out: list[list[Sample | None]] = [[None] * len(s) for s in seeds]
        if not jobs:
            return [[] for _ in seeds]

        cancel = threading.Event()
        timeout = httpx2.Timeout(self.timeout_s)
        limits = httpx2.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)

        def one(client: httpx2.Client, i: int, j: int, body: dict[str, Any], stops: tuple[str, ...]) -> Sample:
            if cancel.is_set():
                raise _Cancelled
            where = f"prompt {i}, sample {j}"
            try:
                return self._parse(self._post(client, body, where, (i, j), cancel), where, params, stops)
            except BackendError:
                cancel.set()  # stop the other workers now, not when the caller gets to this result
                raise

        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(jobs), desc=f"generate ({self.endpoint})", unit="sample", dynamic_ncols=True)
        t0, n_tok = time.perf_counter(), 0
        with httpx2.Client(headers=self._headers(), timeout=timeout, limits=limits) as client:
            pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="openai-backend")
            try:
                futures: dict[Future, tuple[int, int]] = {
                    pool.submit(one, client, i, j, body, stops): (i, j) for i, j, body, stops in jobs
                }
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in sorted(done, key=lambda f: futures[f]):
                        i, j = futures[fut]
                        if isinstance(fut.exception(), _Cancelled):
                            continue  # stopped because of a failure that is raised when its turn comes
                        sample = fut.result()  # raises the request's BackendError
                        out[i][j] = sample
                        n_tok += sample.n_tokens
                        if on_sample_done is not None:
                            on_sample_done(i, j, sample)
                        if bar is not None:
                            bar.update(1)
                            bar.set_postfix(tok_s=f"{n_tok / max(time.perf_counter() - t0, 1e-9):.1f}")
            finally:
                cancel.set()
                pool.shutdown(wait=True, cancel_futures=True)
                if bar is not None:
                    bar.close()
        return out  # type: ignore[return-value]


def _server_message(resp: httpx2.Response) -> str:
    """The error text of a response: OpenAI's ``error.message``, FastAPI's ``detail``, or raw text."""
    try:
        data = resp.json()
    except ValueError:
        return resp.text.strip()[:500] or resp.reason_phrase
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:500]
        for key in ("error", "detail", "message"):
            if data.get(key):
                return str(data[key])[:500]
    return str(data)[:500]


def _retry_after(resp: httpx2.Response) -> float | None:
    """``Retry-After`` in seconds, if the header is a number (HTTP dates are ignored)."""
    value = resp.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
