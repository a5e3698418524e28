"""Generation backends behind one interface, selected per model in params.yaml (``backend``).

=========  ===============================================  ====================================
backend    what generates                                    cache identity (besides the prompt)
=========  ===============================================  ====================================
``hf``     our engine over a transformers model (CPU/CUDA)   weights sha256, dtype, device type
           (:mod:`~goodbadgreedy.generation.engine`)
``vllm``   ``vllm.LLM`` on GPUs                              weights sha256, dtype, vLLM version,
           (:mod:`~goodbadgreedy.generation.vllm_backend`)   tensor-parallel size
``openai`` an OpenAI-compatible server                       base_url, served model name
           (:mod:`~goodbadgreedy.generation.openai_backend`)
=========  ===============================================  ====================================

The interface (:class:`~goodbadgreedy.generation.backend_base.Backend`,
:class:`~goodbadgreedy.generation.backend_base.PreparedPrompt`, the ``generate`` contract) is in
:mod:`goodbadgreedy.generation.backend_base`, which the backends import; this module holds the
``hf`` and ``openai`` adapters and :func:`build_backend`, the factory that picks one (the only
module that imports :mod:`~goodbadgreedy.generation.vllm_backend`).
"""

from __future__ import annotations

from typing import Any, Mapping

from goodbadgreedy.errors import ConfigError
from goodbadgreedy.generation.backend_base import Backend, PreparedPrompt, chat_text, render_prompt, templated
from goodbadgreedy.prompts import Prompt

#: The backends params.yaml may name (``models.<name>.backend``).
BACKENDS = ("hf", "openai", "vllm")


class HFBackend:
    """The ``hf`` backend: :func:`goodbadgreedy.generation.engine.generate` over a loaded model.

    Args:
        model, tokenizer: as returned by :func:`goodbadgreedy.generation.model.load_model`.
        model_sha: sha256 of the source weights (cache identity).
        dtype: the model's dtype name (cache identity).
        device: where it runs, ``cpu`` | ``cuda[:i]`` (cache identity: kernels differ in the last
            bits between devices, so a CPU sample is not what a GPU run would produce).
        batch_size: rows (samples) decoded together.
        threads: torch threads the job runs with (``generation.threads``). On CPU the matrix
            products' last bits depend on it (seen: log-probabilities up to 1.4e-5 apart between 1
            and 2 threads), so a thread count other than 1 is part of the cache identity.
    """

    name = "hf"

    def __init__(self, model, tokenizer, *, model_sha: str | None, dtype: str, device: str = "cpu",
                 batch_size: int = 32, threads: int = 1) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.model_sha, self.dtype, self.device, self.batch_size = model_sha, dtype, device, batch_size
        self.threads = threads
        self.prefix_cache = None  # the KV of prompt chunks, shared by every generate call on this model

    def prepare(self, prompt: Prompt) -> PreparedPrompt:
        """The chat-templated prompt and its token ids."""
        return templated(self.tokenizer, prompt)

    def cache_identity(self) -> dict[str, Any]:
        """Weights sha256, dtype, device type; on CPU, the torch thread count when it is not 1.

        ``cuda:1`` and ``cuda`` share samples. With 1 thread the identity, and so every cache key,
        is what it was before the thread count was part of it.
        """
        identity = {"model_sha": self.model_sha, "dtype": self.dtype, "device": self.device.split(":")[0]}
        if identity["device"] == "cpu" and self.threads != 1:
            identity["cpu_threads"] = self.threads
        return identity

    def generate(self, prompts, seeds, params, *, stop=(), on_sample_done=None, progress=True):
        """See :func:`goodbadgreedy.generation.engine.generate` (``prompts`` are token ids)."""
        from goodbadgreedy.generation import engine  # looked up per call: tests can spy on it

        if self.prefix_cache is None:
            from goodbadgreedy.generation.prefix_cache import PrefixCache

            self.prefix_cache = PrefixCache(engine.PREFILL_CHUNK)
        return engine.generate(self.model, self.tokenizer, prompts, seeds, params, stop=stop,
                               batch_size=self.batch_size, on_sample_done=on_sample_done, progress=progress,
                               prefix_cache=self.prefix_cache)


class OpenAIServedBackend:
    """The ``openai`` backend of the pipeline, over :class:`~goodbadgreedy.generation.openai_backend.OpenAIBackend`.

    Prompts without an assistant prefix go to ``/chat/completions`` as messages (the server
    applies its chat template). A prompt with an assistant prefix (HumanEval) needs the server to
    continue the assistant turn: with ``tokenizer`` it is templated locally and sent as text to
    ``/completions``; else with ``continue_final_message`` it is sent as a final assistant message
    (vLLM servers); else it is refused before any request.

    Args:
        base_url, model, api_key_env, concurrency, max_retries, timeout_s, continue_final_message,
            logprobs: as :class:`~goodbadgreedy.generation.openai_backend.OpenAIBackend`.
        tokenizer: hub id or local folder of the served model's tokenizer, or a loaded tokenizer;
            None: none.

    Raises:
        ConfigError: as ``OpenAIBackend`` (a parameter out of range, naming it).
        ModelLoadError: ``tokenizer`` cannot be loaded.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = None,
        concurrency: int = 4,
        max_retries: int = 5,
        timeout_s: float = 120,
        tokenizer: Any = None,
        continue_final_message: bool = False,
        logprobs: bool = True,
    ) -> None:
        from goodbadgreedy.generation.openai_backend import OpenAIBackend

        common = dict(api_key_env=api_key_env, concurrency=concurrency, max_retries=max_retries, timeout_s=timeout_s,
                      logprobs=logprobs)
        self.chat = OpenAIBackend(
            base_url, model, endpoint="chat", continue_final_message=continue_final_message, **common
        )
        self.completions = OpenAIBackend(base_url, model, endpoint="completions", **common)
        if isinstance(tokenizer, str):
            from goodbadgreedy.errors import ModelLoadError

            try:
                from transformers import AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(tokenizer)
            except Exception as exc:
                raise ModelLoadError(f"openai backend: cannot load tokenizer {tokenizer!r}: {exc}") from exc
        self.tokenizer = tokenizer

    def prepare(self, prompt: Prompt) -> PreparedPrompt:
        """Chat messages (as canonical JSON), or locally templated text for an assistant prefix."""
        if prompt.assistant_prefix and self.tokenizer is not None:
            text = render_prompt(self.tokenizer, prompt)
            n = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            return PreparedPrompt(text=text, payload=text, n_tokens=n)
        return PreparedPrompt(text=chat_text(prompt), payload=prompt, n_tokens=None)

    def cache_identity(self) -> dict[str, Any]:
        """Server and served model name (what the server serves under that name is its business)."""
        return {"backend": "openai", "base_url": self.chat.base_url, "model": self.chat.model,
                "logprobs": self.chat.logprobs}

    def generate(self, prompts, seeds, params, *, stop=(), on_sample_done=None, progress=True):
        """Chat payloads (:class:`Prompt`) go to ``/chat/completions``, text to ``/completions``.

        Same contract as :func:`goodbadgreedy.generation.engine.generate`; samples are
        :class:`~goodbadgreedy.generation.openai_backend.ServedSample` (with the server's
        ``prompt_tokens``), each reported through ``on_sample_done`` when its response is back.

        Raises:
            BackendError: see :meth:`OpenAIBackend.generate`.
        """
        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seed lists")
        out: list[list] = [[] for _ in prompts]
        for backend, want in ((self.chat, Prompt), (self.completions, str)):
            idx = [i for i, p in enumerate(prompts) if isinstance(p, want)]
            if not idx:
                continue

            def done(k: int, j: int, sample, idx=idx) -> None:
                if on_sample_done is not None:
                    on_sample_done(idx[k], j, sample)

            got = backend.generate([prompts[i] for i in idx], [seeds[i] for i in idx], params, stop=stop,
                                   on_sample_done=done, progress=progress)
            for k, i in enumerate(idx):
                out[i] = got[k]
        return out


def build_backend(runtime: Mapping[str, Any], manifest, *, batch_size: int = 32, threads: int = 1) -> Backend:
    """Build the backend a model's ``runtime`` (``rules/common.smk: model_runtime``) names.

    Args:
        runtime: ``{"backend": "hf", "dtype", "device"}``, ``{"backend": "vllm", "dtype", "vllm":
            {...}}`` or ``{"backend": "openai", "openai": {...}}`` (the options of the params schema).
        manifest: the model's :class:`~goodbadgreedy.generation.model.PreparedModel` (weights
            folder and sha256; for ``openai`` only recorded).
        batch_size: rows decoded together (``hf``).
        threads: torch threads of the job (``hf``: part of the cache identity on CPU when not 1).

    Raises:
        ConfigError: unknown backend or missing options (naming them).
        ModelLoadError, BackendError: the model, tokenizer or engine cannot be loaded.
    """
    kind = runtime.get("backend", "hf")
    if kind == "hf":
        from goodbadgreedy.generation.model import load_model

        tok, model = load_model(manifest.load_path, dtype=runtime["dtype"], device=runtime["device"])
        return HFBackend(model, tok, model_sha=manifest.source_sha256, dtype=runtime["dtype"],
                         device=runtime["device"], batch_size=batch_size, threads=threads)
    if kind == "vllm":
        from goodbadgreedy.generation.vllm_backend import VLLMBackend

        return VLLMBackend(manifest.load_path, dtype=runtime["dtype"], model_sha=manifest.source_sha256,
                           **dict(runtime.get("vllm") or {}))
    if kind == "openai":
        opts = dict(runtime.get("openai") or {})
        missing = [k for k in ("base_url", "model") if k not in opts]
        if missing:
            raise ConfigError(f"backend 'openai' needs openai.{missing[0]} (models.<name>.openai in params.yaml)")
        return OpenAIServedBackend(opts.pop("base_url"), opts.pop("model"), **opts)
    raise ConfigError(f"unknown backend {kind!r}; one of {list(BACKENDS)}")
