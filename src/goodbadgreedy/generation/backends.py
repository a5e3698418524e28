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

A backend turns a benchmark :class:`~goodbadgreedy.prompts.Prompt` into a
:class:`PreparedPrompt` (:meth:`Backend.prepare`): the text recorded in the generation table and
hashed into the sample cache, and the payload its :meth:`Backend.generate` consumes. The local
backends (``hf``, ``vllm``) apply the model's chat template and tokenize; ``openai`` sends chat
messages (recorded as canonical JSON), or, for a prompt with an assistant prefix and a configured
``tokenizer``, text templated locally and sent to ``/completions``.

``generate`` has the contract of :func:`goodbadgreedy.generation.engine.generate`: per prompt one
seed per sample (None only for greedy decoding), ``on_prompt_done(i, samples)`` as soon as prompt
i is complete, and ``out[i][j]`` = sample j of prompt i as :class:`~goodbadgreedy.generation.engine.Sample`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

from goodbadgreedy.errors import ConfigError
from goodbadgreedy.generation.params import SamplingParams
from goodbadgreedy.prompts import Prompt

#: The backends params.yaml may name (``models.<name>.backend``).
BACKENDS = ("hf", "openai", "vllm")


@dataclass(frozen=True)
class PreparedPrompt:
    """A benchmark prompt in the form one backend consumes.

    Attributes:
        text: what the generation table records in ``prompt`` and the sample cache hashes: the
            chat-templated text (local backends, or ``openai`` with a local tokenizer), or the
            canonical JSON of the chat messages (``openai`` chat).
        payload: what :meth:`Backend.generate` takes: token ids (``hf``, ``vllm``), a
            :class:`Prompt` (``openai`` chat) or templated text (``openai`` completions).
        n_tokens: the prompt's length in tokens when known locally, else None (a server reports it).
    """

    text: str
    payload: Any
    n_tokens: int | None = None


@runtime_checkable
class Backend(Protocol):
    """What :func:`goodbadgreedy.generation.run.generate_table` needs from a backend."""

    name: str

    def prepare(self, prompt: Prompt) -> PreparedPrompt:
        """Render one benchmark prompt for this backend."""
        ...

    def cache_identity(self) -> dict[str, Any]:
        """JSON-able dict of what, besides prompt text and decoding parameters, changes samples."""
        ...

    def generate(
        self,
        prompts: Sequence[Any],
        seeds: Sequence[Sequence[int | None]],
        params: SamplingParams,
        *,
        stop: Sequence[str] = (),
        on_prompt_done: Callable[[int, list], None] | None = None,
        progress: bool = True,
    ) -> list[list]:
        """Generate ``len(seeds[i])`` samples of every prompt payload ``prompts[i]``."""
        ...


def render_prompt(tokenizer, prompt: Prompt) -> str:
    """Apply the tokenizer's chat template to a :class:`~goodbadgreedy.prompts.Prompt`.

    Returns:
        The prompt text: the templated conversation with the generation prompt for the assistant
        turn, followed by ``prompt.assistant_prefix``. Tokenize it without adding special tokens.
    """
    text = tokenizer.apply_chat_template(list(prompt.messages), add_generation_prompt=True, tokenize=False)
    return text + prompt.assistant_prefix


def templated(tokenizer, prompt: Prompt) -> PreparedPrompt:
    """The chat-templated prompt, with its token ids as payload (local backends)."""
    text = render_prompt(tokenizer, prompt)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return PreparedPrompt(text=text, payload=ids, n_tokens=len(ids))


def chat_text(prompt: Prompt) -> str:
    """Canonical JSON of a prompt's messages (and assistant prefix, when any): sorted keys, UTF-8."""
    obj: dict[str, Any] = {"messages": [dict(m) for m in prompt.messages]}
    if prompt.assistant_prefix:
        obj["assistant_prefix"] = prompt.assistant_prefix
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


class HFBackend:
    """The ``hf`` backend: :func:`goodbadgreedy.generation.engine.generate` over a loaded model.

    Args:
        model, tokenizer: as returned by :func:`goodbadgreedy.generation.model.load_model`.
        model_sha: sha256 of the source weights (cache identity).
        dtype: the model's dtype name (cache identity).
        device: where it runs, ``cpu`` | ``cuda[:i]`` (cache identity: kernels differ in the last
            bits between devices, so a CPU sample is not what a GPU run would produce).
        batch_size: rows (samples) decoded together.
    """

    name = "hf"

    def __init__(self, model, tokenizer, *, model_sha: str | None, dtype: str, device: str = "cpu",
                 batch_size: int = 32) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.model_sha, self.dtype, self.device, self.batch_size = model_sha, dtype, device, batch_size

    def prepare(self, prompt: Prompt) -> PreparedPrompt:
        """The chat-templated prompt and its token ids."""
        return templated(self.tokenizer, prompt)

    def cache_identity(self) -> dict[str, Any]:
        """Weights sha256, dtype and device type (``cuda:1`` and ``cuda`` share samples)."""
        return {"model_sha": self.model_sha, "dtype": self.dtype, "device": self.device.split(":")[0]}

    def generate(self, prompts, seeds, params, *, stop=(), on_prompt_done=None, progress=True):
        """See :func:`goodbadgreedy.generation.engine.generate` (``prompts`` are token ids)."""
        from goodbadgreedy.generation import engine  # looked up per call: tests can spy on it

        return engine.generate(self.model, self.tokenizer, prompts, seeds, params, stop=stop,
                               batch_size=self.batch_size, on_prompt_done=on_prompt_done, progress=progress)


class OpenAIServedBackend:
    """The ``openai`` backend of the pipeline, over :class:`~goodbadgreedy.generation.openai_backend.OpenAIBackend`.

    Prompts without an assistant prefix go to ``/chat/completions`` as messages (the server
    applies its chat template). A prompt with an assistant prefix (HumanEval) needs the server to
    continue the assistant turn: with ``tokenizer`` it is templated locally and sent as text to
    ``/completions``; else with ``continue_final_message`` it is sent as a final assistant message
    (vLLM servers); else it is refused before any request.

    Args:
        base_url, model, api_key_env, concurrency, max_retries, timeout_s, continue_final_message:
            as :class:`~goodbadgreedy.generation.openai_backend.OpenAIBackend`.
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
    ) -> None:
        from goodbadgreedy.generation.openai_backend import OpenAIBackend

        common = dict(api_key_env=api_key_env, concurrency=concurrency, max_retries=max_retries, timeout_s=timeout_s)
        self.chat = OpenAIBackend(base_url, model, endpoint="chat", continue_final_message=continue_final_message, **common)
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
        return {"backend": "openai", "base_url": self.chat.base_url, "model": self.chat.model}

    def generate(self, prompts, seeds, params, *, stop=(), on_prompt_done=None, progress=True):
        """Chat payloads (:class:`Prompt`) go to ``/chat/completions``, text to ``/completions``.

        Same contract as :func:`goodbadgreedy.generation.engine.generate`; samples are
        :class:`~goodbadgreedy.generation.openai_backend.ServedSample` (with the server's
        ``prompt_tokens``).

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

            def done(k: int, samples: list, idx=idx) -> None:
                if on_prompt_done is not None:
                    on_prompt_done(idx[k], samples)

            got = backend.generate([prompts[i] for i in idx], [seeds[i] for i in idx], params, stop=stop,
                                   on_prompt_done=done, progress=progress)
            for k, i in enumerate(idx):
                out[i] = got[k]
        return out


def build_backend(runtime: Mapping[str, Any], manifest, *, batch_size: int = 32) -> Backend:
    """Build the backend a model's ``runtime`` (``rules/common.smk: model_runtime``) names.

    Args:
        runtime: ``{"backend": "hf", "dtype", "device"}``, ``{"backend": "vllm", "dtype", "vllm":
            {...}}`` or ``{"backend": "openai", "openai": {...}}`` (the options of the params schema).
        manifest: the model's :class:`~goodbadgreedy.generation.model.PreparedModel` (weights
            folder and sha256; for ``openai`` only recorded).
        batch_size: rows decoded together (``hf``).

    Raises:
        ConfigError: unknown backend or missing options (naming them).
        ModelLoadError, BackendError: the model, tokenizer or engine cannot be loaded.
    """
    kind = runtime.get("backend", "hf")
    if kind == "hf":
        from goodbadgreedy.generation.model import load_model

        tok, model = load_model(manifest.load_path, dtype=runtime["dtype"], device=runtime["device"])
        return HFBackend(model, tok, model_sha=manifest.source_sha256, dtype=runtime["dtype"],
                         device=runtime["device"], batch_size=batch_size)
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
