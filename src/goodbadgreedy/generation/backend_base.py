"""The backend interface: what the generate stage and the judge need from a backend, and what backends share.

A backend turns a benchmark :class:`~goodbadgreedy.prompts.Prompt` into a :class:`PreparedPrompt`
(:meth:`Backend.prepare`): the text recorded in the generation table and hashed into the sample
cache, and the payload its :meth:`Backend.generate` consumes. The local backends (``hf``,
``vllm``) apply the model's chat template and tokenize (:func:`templated`); ``openai`` sends chat
messages (recorded as canonical JSON, :func:`chat_text`), or, for a prompt with an assistant
prefix and a configured ``tokenizer``, text templated locally and sent to ``/completions``.

``generate`` has the contract of :func:`goodbadgreedy.generation.engine.generate`: per prompt one
seed per sample (None only for greedy decoding), ``on_sample_done(i, j, sample)`` (a
:data:`SampleCallback`, in the caller's thread) as soon as sample j of prompt i is finished, once
per sample, and ``out[i][j]`` = sample j of prompt i as :class:`Sample`. The generate stage
persists each sample in its callback, so a killed run loses only the samples in flight. When a
backend learns of a finished sample: ``hf`` the moment its row finishes; ``openai`` when its
request's response is back; ``vllm`` when the ``LLM.generate`` call of its chunk of requests
returns (vLLM's offline API returns a call's outputs together).

The backends (:mod:`~goodbadgreedy.generation.engine`, :mod:`~goodbadgreedy.generation.vllm_backend`,
:mod:`~goodbadgreedy.generation.openai_backend`) import this module, never the factory
:func:`goodbadgreedy.generation.backends.build_backend` that builds them (``tests/test_imports.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from goodbadgreedy.generation.params import SamplingParams
from goodbadgreedy.prompts import Prompt

#: ``on_sample_done(prompt_index, sample_position, sample)``: sample ``sample_position`` (its index
#: in ``seeds[prompt_index]``) of prompt ``prompt_index`` is finished.
SampleCallback = Callable[[int, int, Any], None]


@dataclass
class Sample:
    """One generated sample.

    Attributes:
        token_ids: generated token ids, up to and including the EOS token or the token that
            completed a stop sequence.
        text: the decoded response, cut before the first stop sequence, special tokens removed.
        finish_reason: ``eos`` | ``stop`` | ``length``.
        completion_tokens: the generated-token count a remote backend reported (its token ids
            are unknown); None for local generation, where ``token_ids`` is authoritative.
        logprobs: the *raw* log-probability of every generated token, in nats: entry t is
            ``log_softmax(logits_t)[token_t]`` of the model's float32 logits at step t before
            any logits processor (repetition penalty, temperature, top-k, top-p), aligned with
            the generated tokens (EOS or the token completing a stop sequence included), so of
            length :attr:`n_tokens`. None when the backend did not get them (a server that
            returns no log-probabilities, vLLM asked for processed ones only); the ``logprob``
            scorer then falls back to a teacher-forced pass.
        processed_logprobs: the log-probability, in nats, of every generated token under the
            distribution it was actually drawn from: after the repetition penalty, temperature,
            top-k and top-p (greedy decoding: after the repetition penalty only; the token is its
            argmax). Same alignment as ``logprobs``; ``-inf`` never occurs (a drawn token has
            positive probability). None when the backend did not get them.
    """

    token_ids: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: str = "length"
    completion_tokens: int | None = None
    logprobs: list[float] | None = None
    processed_logprobs: list[float] | None = None

    @property
    def n_tokens(self) -> int:
        """Generated tokens, EOS included (what the benchmarks count as response length)."""
        return self.completion_tokens if self.completion_tokens is not None else len(self.token_ids)


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
        on_sample_done: SampleCallback | None = None,
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


__all__ = ["Backend", "PreparedPrompt", "Sample", "SampleCallback", "chat_text", "render_prompt", "templated"]
