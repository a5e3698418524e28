"""The LLM-judge client: one judge on any OpenAI-compatible endpoint, with a judgement cache.

Requests go through :class:`~goodbadgreedy.generation.openai_backend.OpenAIBackend` (chat
endpoint: retries with seeded backoff, bounded concurrency, response checks), with greedy
decoding (``temperature: 0``, ``top_p: 1``), a fixed ``seed`` and ``max_tokens`` from the run's
judge: the ``judge`` section of params.yaml with the active profile's ``judge`` block over it
(:func:`goodbadgreedy.judge.defaults.run_judge`). The API key is read from the environment variable that
``api_key_env`` names (never from params.yaml, never logged).

Judgements are cached in one JSON-lines file per judge identity under ``cache_dir``, content
addressed: the key is the sha256 of (judge identity, full judge prompt), where the identity is
the server URL, the judge model name, ``max_tokens``, ``seed``, the temperature (0) and
:data:`JUDGE_CACHE_VERSION`. Records are appended and fsynced as soon as each judgement is back
(:class:`~goodbadgreedy.generation.sample_cache.SampleCache`), under an exclusive ``flock`` so that check
jobs running in parallel can share the file; a torn last line (a killed job) is skipped on load.
So an interrupted check resumes without asking the judge again, and the same response judged
under another decoding config (or in another run) is not judged twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from goodbadgreedy.errors import BackendError, ConfigError
from goodbadgreedy.generation.params import SamplingParams
from goodbadgreedy.generation.sample_cache import SampleCache
from goodbadgreedy.prompts import Prompt

log = logging.getLogger(__name__)

#: Bump when the request a judge prompt turns into changes (invalidates the judgement cache).
JUDGE_CACHE_VERSION = 1

from goodbadgreedy.judge.defaults import DEFAULTS  # noqa: E402  (the schema's judge defaults read it too)

#: A chat prompt as a tuple of ``{"role", "content"}`` dicts.
Messages = Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class JudgeReply:
    """The judge's answer to one prompt.

    Attributes:
        output: the raw text the judge returned (never parsed here).
        finish_reason: ``eos`` / ``stop`` / ``length`` (``length``: cut at ``max_tokens``).
        key: the cache key (hex sha256 of judge identity + prompt).
        cached: whether it came from the cache (no request was sent).
    """

    output: str
    finish_reason: str
    key: str
    cached: bool


class JudgementCache(SampleCache):
    """:class:`~goodbadgreedy.generation.sample_cache.SampleCache` keyed by a content hash, appended under ``flock``.

    Each record stores the key as its ``item_id`` (``sample_idx`` 0), so loading, torn-line
    handling and fsynced appends are the sample cache's own.
    """

    def load_keys(self) -> dict[str, dict[str, Any]]:
        """Return {key: record} (torn or corrupt lines skipped with a warning)."""
        return {item_id: rec for (item_id, _), rec in self.load().items()}

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append and fsync ``records`` while holding an exclusive lock on a sibling lock file."""
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                super().append(records)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def judge_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return :data:`DEFAULTS` updated with ``config`` (params.yaml's ``judge`` section).

    Raises:
        ConfigError: an unknown key, or ``max_tokens``/``seed`` not a non-negative integer (named).
    """
    cfg = dict(DEFAULTS)
    unknown = sorted(set(config or {}) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"judge: unknown key(s) {unknown}; known: {sorted(DEFAULTS)}")
    cfg.update(config or {})
    for key, low in (("max_tokens", 1), ("seed", 0)):
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ConfigError(f"judge.{key}: {v!r} must be an integer >= {low}")
    return cfg


class JudgeClient:
    """Ask one judge model, greedily and with a fixed seed, through an OpenAI-compatible server.

    Args:
        config: params.yaml's ``judge`` section (see :data:`DEFAULTS`): ``base_url`` (API root
            with version), ``model`` (served name), ``api_key_env`` (name of the environment
            variable holding the key; None sends none), ``max_tokens`` (judge output budget,
            tokens), ``seed``, ``concurrency``, ``max_retries``, ``timeout_s`` (seconds per
            attempt), ``cache_dir``.

    Raises:
        ConfigError: a bad key or value (named; see :func:`judge_config` and ``OpenAIBackend``).
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        from goodbadgreedy.generation.openai_backend import OpenAIBackend

        self.config = judge_config(config)
        c = self.config
        self.backend = OpenAIBackend(
            c["base_url"], c["model"], api_key_env=c["api_key_env"], endpoint="chat",
            concurrency=c["concurrency"], max_retries=c["max_retries"], timeout_s=c["timeout_s"],
        )
        self.params = SamplingParams(do_sample=False, temperature=0.0, max_new_tokens=c["max_tokens"])
        ident = json.dumps(self.identity(), sort_keys=True)
        self.cache = JudgementCache(Path(c["cache_dir"]) / f"{hashlib.sha256(ident.encode()).hexdigest()[:16]}.jsonl")

    @property
    def name(self) -> str:
        """The judge model's served name."""
        return self.config["model"]

    def identity(self) -> dict[str, Any]:
        """What, besides the prompt, determines a judgement (hashed into every cache key)."""
        c = self.config
        return {"base_url": self.backend.base_url, "model": c["model"], "max_tokens": c["max_tokens"],
                "seed": c["seed"], "temperature": 0.0, "version": JUDGE_CACHE_VERSION}

    def key(self, messages: Messages) -> str:
        """Cache key of a judge prompt: sha256 of canonical JSON of (identity, messages)."""
        blob = json.dumps({"judge": self.identity(), "messages": [dict(m) for m in messages]},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def complete(self, prompts: Sequence[Messages], *, progress: bool = False) -> list[JudgeReply]:
        """Return the judge's raw output for every prompt (cached ones without a request).

        Duplicate prompts are sent once. Each new judgement is appended to the cache as soon as it
        is back, so an interrupted call loses at most the requests in flight.

        Args:
            prompts: chat prompts (lists of ``{"role", "content"}``; roles system/user/assistant).
            progress: show a progress bar.

        Returns:
            One :class:`JudgeReply` per prompt, in order.

        Raises:
            goodbadgreedy.errors.DataError: a prompt is not a valid chat prompt.
            goodbadgreedy.errors.BackendError: the server failed for good (after retries), or a
                response failed the backend's checks (prompt index named).
        """
        keys = [self.key(p) for p in prompts]
        cached = self.cache.load_keys()
        todo: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k not in cached and k not in todo:
                todo[k] = i
        log.info("judge %s: %d prompts, %d cached, %d to send", self.name, len(prompts),
                 len(prompts) - len(todo), len(todo))
        fresh: set[str] = set()
        if todo:
            order = list(todo)
            payload = [Prompt(messages=tuple(dict(m) for m in prompts[todo[k]])) for k in order]

            def persist(j: int, pos: int, s) -> None:
                k = order[j]
                rec = {"item_id": k, "sample_idx": 0, "judge": self.identity(),
                       "messages": [dict(m) for m in prompts[todo[k]]], "output": s.text,
                       "finish_reason": s.finish_reason, "completion_tokens": s.completion_tokens}
                cached[k] = rec
                fresh.add(k)
                self.cache.append([rec])

            try:
                self.backend.generate(payload, [[self.config["seed"]] for _ in order], self.params,
                                      on_sample_done=persist, progress=progress)
            except BackendError as exc:
                raise BackendError(
                    f"judge {self.name} at judge.base_url = {self.config['base_url']} (params.yaml): {exc}; "
                    f"{len(fresh)} of {len(order)} new judgements were cached before the failure. Is the judge "
                    "server running? (README: Judge-based benchmarks)") from exc
        return [JudgeReply(output=cached[k]["output"], finish_reason=cached[k]["finish_reason"], key=k,
                           cached=k not in fresh) for k in keys]


def messages_json(games: Sequence[Messages]) -> str:
    """Canonical JSON (sorted keys, UTF-8) of a list of judge prompts, as stored in check tables."""
    return json.dumps([[dict(m) for m in g] for g in games], ensure_ascii=False, sort_keys=True)


__all__ = ["DEFAULTS", "JUDGE_CACHE_VERSION", "JudgeClient", "JudgeReply", "JudgementCache", "judge_config",
           "messages_json"]
