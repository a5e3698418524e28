"""The ``vllm`` backend: generation with vLLM's offline engine (``vllm.LLM``) on CUDA GPUs.

vLLM is an optional extra (``pip install -e .[vllm]``); it is imported only when a
:class:`VLLMBackend` is built, so everything else (and the pure mapping functions below) works
without it.

Prompts are token ids (``vllm.inputs.TokensPrompt``) rendered and tokenized here with the model's
own transformers tokenizer, exactly as for the ``hf`` backend, so both backends see the same
prompt tokens. Every sample is its own request with its own ``SamplingParams(seed=...)`` (vLLM's
per-request seed), so sample j's text does not depend on N.

Decoding parameters (:class:`~goodbadgreedy.generation.params.SamplingParams` ->
``vllm.SamplingParams``, :func:`sampling_kwargs`)

    ====================  =====================================================================
    ours                  vLLM
    ====================  =====================================================================
    greedy                ``temperature=0`` (vLLM's greedy), ``top_p=1``, ``top_k=-1``, no seed
    sampling              ``temperature``, ``top_p``, ``top_k`` (0 -> -1: off), ``seed``
    repetition_penalty    ``repetition_penalty`` (same rule as HF: Keskar et al. 2019, prompt
                          tokens included)
    max_new_tokens        ``max_tokens``
    stop                  ``stop`` (the text is cut before the stop string, which is dropped)
    (every request)       ``logprobs=0``: the sampled token's log-probability only
    ====================  =====================================================================

    ``top_k=-1`` means "off" in every vLLM release (recent ones also accept 0). vLLM treats a
    temperature below about 1e-5 as greedy, and raises one below 0.01 to 0.01.

What comes back: ``CompletionOutput.token_ids`` (EOS, or the token completing a stop string,
included: the same count as the ``hf`` engine), ``text`` (special tokens skipped), and
``finish_reason`` ``length`` or ``stop`` with ``stop_reason`` None (EOS), a stop string, or a stop
token id (:func:`finish_of`).

Log-probabilities: every request asks for ``logprobs=0``, so each ``CompletionOutput.logprobs``
holds, per generated token (aligned with ``token_ids``), a dict ``{token_id: Logprob}`` with the
sampled token's entry (vLLM's ``SampleLogprobs``; :func:`sampled_logprobs` reads it). What the
value is depends on the engine's ``logprobs_mode`` (vLLM >= 0.10.2, one per engine, not per
request): ``raw_logprobs`` (our default, vLLM's too) is ``log_softmax`` of the logits before any
processor, penalty, temperature or top-k/top-p, and fills ``Sample.logprobs`` (the ``logprob``
scorer's input); ``processed_logprobs`` is taken after them and fills
``Sample.processed_logprobs`` instead. vLLM cannot give both in one pass, so the other field is
None. A vLLM without ``logprobs_mode`` (its ``EngineArgs`` has no such field) is not asked for
log-probabilities at all: what older releases returned differs between their engines (V0 after
the processors, V1 before), so both fields stay None and the scorer teacher-forces those rows.
Not tested here (vLLM is not installed on the development machines): the engine argument and the
real ``CompletionOutput``; the conversion is tested on plain data of the documented shape.

Resumption: ``LLM.generate`` returns the outputs of all its requests together, when the last one
is finished (vLLM's offline API reports nothing per request before that), so the samples of a
chunk of at most ``chunk_requests`` requests reach ``on_sample_done`` (one call each, and so the
sample cache) when their chunk's call returns: a killed run loses at most the chunk in flight.
A smaller ``chunk_requests`` loses less on a kill but gives vLLM fewer requests to batch.

Honest limits: vLLM's kernels are not batch invariant by default, so a sample's logits, and on a
near-tie its text, can depend on which requests run with it. Cached samples stay valid samples of
the model but a re-run may not reproduce them bit for bit.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Sequence

from goodbadgreedy.errors import BackendError, ConfigError
from goodbadgreedy.generation.backend_base import PreparedPrompt, Sample, SampleCallback, templated
from goodbadgreedy.generation.params import SamplingParams
from goodbadgreedy.prompts import truncate_at_stop

log = logging.getLogger(__name__)

#: The install hint of every "vllm missing" error.
INSTALL_HINT = "install the optional extra on a CUDA machine: pip install -e '.[vllm]'"


def import_vllm():
    """Import and return the ``vllm`` module.

    Raises:
        BackendError: vLLM is not installed (the message says how to install the extra).
    """
    try:
        import vllm
    except ImportError as exc:
        raise BackendError(
            f"backend 'vllm' needs the vllm package, which is not installed ({exc}); {INSTALL_HINT}"
        ) from exc
    return vllm


def sampling_kwargs(params: SamplingParams, seed: int | None, stop: Sequence[str] = (), *,
                    logprobs: bool = False) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for one sample (the table in the module docstring).

    A pure function, testable without vLLM.

    Args:
        params: our decoding parameters.
        seed: the sample's seed; required when sampling, ignored (not sent) for greedy decoding.
        stop: stop strings.
        logprobs: ask for the sampled token's log-probability (``logprobs=0``).

    Returns:
        ``n``, ``temperature``, ``top_p``, ``top_k``, ``repetition_penalty``, ``max_tokens``,
        ``stop``, ``seed``, ``skip_special_tokens``, ``include_stop_str_in_output``; with
        ``logprobs``, also ``logprobs: 0``.

    Raises:
        ConfigError: a sampling config got a None seed.
    """
    if params.greedy:
        temperature, top_p, top_k, seed = 0.0, 1.0, -1, None
    else:
        if seed is None:
            raise ConfigError("sampling needs a seed for every sample (vllm backend)")
        temperature, top_p = float(params.temperature), float(params.top_p)
        top_k = int(params.top_k) if params.top_k > 0 else -1
        seed = int(seed)
    kw = {
        "n": 1,
        "temperature": temperature,
        "top_p": top_p,
        "top_k": top_k,
        "repetition_penalty": float(params.repetition_penalty),
        "max_tokens": int(params.max_new_tokens),
        "stop": list(stop),
        "seed": seed,
        "skip_special_tokens": True,
        "include_stop_str_in_output": False,
    }
    if logprobs:
        kw["logprobs"] = 0
    return kw


#: vLLM's ``logprobs_mode`` values this backend supports, and the Sample field each fills.
LOGPROBS_MODES = {"raw_logprobs": "logprobs", "processed_logprobs": "processed_logprobs"}


def sampled_logprobs(token_ids: Sequence[int], logprobs: Any) -> list[float] | None:
    """The sampled tokens' log-probabilities from one vLLM ``CompletionOutput``.

    A pure function, testable without vLLM.

    Args:
        token_ids: ``CompletionOutput.token_ids``, the generated tokens.
        logprobs: ``CompletionOutput.logprobs``: None (not requested), or one entry per generated
            token, each a mapping ``{token_id: Logprob}`` (``Logprob.logprob`` a float, nats) that
            holds the sampled token (vLLM adds it to the top-``logprobs`` ones; with
            ``logprobs=0`` it is the only entry). vLLM's ``FlatLogprobs`` indexes the same way.

    Returns:
        ``[logprobs[t][token_ids[t]].logprob for t]`` as floats, or None when ``logprobs`` is None.

    Raises:
        BackendError: the entries are not one per generated token, an entry lacks the sampled
            token, or a value is not a finite number (the position and token named).
    """
    if logprobs is None:
        return None
    if len(logprobs) != len(token_ids):
        raise BackendError(f"vllm: {len(logprobs)} logprobs entries for {len(token_ids)} generated tokens")
    out = []
    for t, (tok, entry) in enumerate(zip(token_ids, logprobs, strict=True)):
        try:
            value = entry[tok]
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"vllm: the logprobs of token {t} lack the sampled token {tok}") from None
        value = getattr(value, "logprob", value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BackendError(f"vllm: token {t} ({tok}) has log-probability {value!r}, not a finite number")
        out.append(float(value))
    return out


def supports_logprobs_mode(vllm: Any) -> bool:
    """Whether the installed vLLM has the engine argument ``logprobs_mode`` (a field of ``EngineArgs``)."""
    import dataclasses

    engine_args = getattr(vllm, "EngineArgs", None)
    try:
        return any(f.name == "logprobs_mode" for f in dataclasses.fields(engine_args))
    except TypeError:
        return False


def finish_of(finish_reason: str | None, stop_reason: Any, text: str, stop: Sequence[str]) -> tuple[str, str]:
    """Map one vLLM ``CompletionOutput`` to (text cut at the first stop string, our finish reason).

    Args:
        finish_reason: vLLM's ``finish_reason`` (``stop`` | ``length`` | ``abort`` | None).
        stop_reason: vLLM's ``stop_reason``: None (EOS), the stop string hit, or a stop token id.
        text: the decoded text.
        stop: the stop strings of the request.

    Returns:
        ``(text, reason)`` with reason ``stop`` (a stop string was hit), ``eos`` or ``length``.

    Raises:
        BackendError: the request did not finish (``abort`` or None).
    """
    cut = truncate_at_stop(text, stop)
    if finish_reason == "length":
        return cut, ("stop" if cut != text else "length")
    if finish_reason != "stop":
        raise BackendError(f"vllm: request finished with {finish_reason!r} (not 'stop' or 'length')")
    if cut != text or (isinstance(stop_reason, str) and stop_reason in stop):
        return cut, "stop"
    return cut, "eos"


class VLLMBackend:
    """Generate with ``vllm.LLM`` from a prepared model folder (see the module docstring).

    Args:
        load_path: the prepared transformers folder (``PreparedModel.load_path``).
        dtype: ``float32`` | ``bfloat16`` | ``float16`` (float32 needs a vLLM release and attention
            backend that support it).
        model_sha: sha256 of the source weights (cache identity).
        gpu_memory_utilization: share of GPU memory vLLM may take, in (0, 1].
        tensor_parallel_size: GPUs per model.
        max_model_len: context length; None: the model's own.
        chunk_requests: most requests per ``LLM.generate`` call (whole prompts; a prompt with
            more samples is a chunk of its own); the finished samples are reported (and cached)
            when each call returns.
        logprobs_mode: ``raw_logprobs`` (default) or ``processed_logprobs``: which log-probability
            vLLM records per sampled token (the module docstring); ignored, with a warning, by a
            vLLM without the engine argument (then none is recorded).
        llm: an already built ``vllm.LLM`` (tests); None builds one.
        tokenizer: the transformers tokenizer that renders and tokenizes prompts; None loads it
            from ``load_path``.

    Raises:
        BackendError: vLLM is not installed or the engine cannot be built.
    """

    name = "vllm"

    def __init__(
        self,
        load_path: str,
        *,
        dtype: str = "float32",
        model_sha: str | None = None,
        gpu_memory_utilization: float = 0.9,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
        chunk_requests: int = 1024,
        logprobs_mode: str = "raw_logprobs",
        llm: Any = None,
        tokenizer: Any = None,
    ) -> None:
        self._vllm = import_vllm()
        if tokenizer is None:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(load_path)
        self.tokenizer = tokenizer
        self.load_path, self.dtype, self.model_sha = load_path, dtype, model_sha
        self.tensor_parallel_size = tensor_parallel_size
        self.chunk_requests = max(1, int(chunk_requests))
        if logprobs_mode not in LOGPROBS_MODES:
            raise ConfigError(f"vllm.logprobs_mode={logprobs_mode!r} must be one of {sorted(LOGPROBS_MODES)}")
        self.logprobs_mode = logprobs_mode if supports_logprobs_mode(self._vllm) else None
        if self.logprobs_mode is None:
            log.warning("vllm %s has no logprobs_mode: no log-probabilities are recorded (the logprob "
                        "scorer teacher-forces these samples)", getattr(self._vllm, "__version__", "?"))
        if llm is None:
            kwargs: dict[str, Any] = dict(
                model=load_path, tokenizer=load_path, dtype=dtype, seed=0,
                gpu_memory_utilization=gpu_memory_utilization, tensor_parallel_size=tensor_parallel_size,
            )
            if max_model_len is not None:
                kwargs["max_model_len"] = max_model_len
            if self.logprobs_mode is not None:
                kwargs["logprobs_mode"] = self.logprobs_mode
            try:
                llm = self._vllm.LLM(**kwargs)
            except Exception as exc:
                raise BackendError(
                    f"vllm: cannot start the engine for {load_path} ({type(exc).__name__}: {exc})"
                ) from exc
        self.llm = llm

    def prepare(self, prompt) -> PreparedPrompt:
        """The chat-templated prompt and its token ids (as for the ``hf`` backend)."""
        return templated(self.tokenizer, prompt)

    def cache_identity(self) -> dict[str, Any]:
        """What besides prompt and decoding determines a sample: weights, dtype, vLLM version, TP size."""
        return {
            "backend": "vllm",
            "model_sha": self.model_sha,
            "dtype": self.dtype,
            "vllm": getattr(self._vllm, "__version__", "unknown"),
            "tensor_parallel_size": self.tensor_parallel_size,
            "logprobs_mode": self.logprobs_mode,
        }

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        seeds: Sequence[Sequence[int | None]],
        params: SamplingParams,
        *,
        stop: Sequence[str] = (),
        on_sample_done: SampleCallback | None = None,
        progress: bool = True,
    ) -> list[list]:
        """Generate ``len(seeds[i])`` samples for every prompt ``i`` (token ids), one request each.

        Same contract as :func:`goodbadgreedy.generation.engine.generate`. Requests go to
        ``LLM.generate`` in chunks of at most ``chunk_requests`` (whole prompts); each sample of a
        chunk is reported through ``on_sample_done`` (in request order) when the chunk's call
        returns: vLLM's offline API returns no request before the whole call is done. A request
        that did not finish raises; the samples reported before it stay valid.

        Returns:
            ``out[i][j]``: sample j of prompt i (:class:`~goodbadgreedy.generation.backend_base.Sample`).

        Raises:
            ConfigError: a sampling config got a None seed (prompt and sample named).
            BackendError: a request did not finish (aborted).
            ValueError: ``prompts`` and ``seeds`` differ in length.
        """
        from vllm.inputs import TokensPrompt

        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seed lists")
        stop = tuple(stop)
        out: list[list] = [[None] * len(s) for s in seeds]
        chunks: list[list[int]] = [[]]
        size = 0
        for i, s in enumerate(seeds):
            if chunks[-1] and size + len(s) > self.chunk_requests:
                chunks.append([])
                size = 0
            chunks[-1].append(i)
            size += len(s)
        for chunk in chunks:
            reqs, sps, keys = [], [], []
            for i in chunk:
                for j, seed in enumerate(seeds[i]):
                    try:
                        kw = sampling_kwargs(params, seed, stop, logprobs=self.logprobs_mode is not None)
                    except ConfigError:
                        raise ConfigError(f"sampling needs a seed for every sample (prompt {i}, sample {j})") from None
                    reqs.append(TokensPrompt(prompt_token_ids=list(prompts[i])))
                    sps.append(self._vllm.SamplingParams(**kw))
                    keys.append((i, j))
            if not reqs:
                continue
            results = self.llm.generate(reqs, sampling_params=sps, use_tqdm=progress)
            for (i, j), res in zip(keys, results, strict=True):
                comp = res.outputs[0]
                try:
                    text, reason = finish_of(comp.finish_reason, comp.stop_reason, comp.text, stop)
                except BackendError as exc:
                    raise BackendError(f"prompt {i}, sample {j}: {exc}") from None
                try:
                    values = sampled_logprobs(comp.token_ids, getattr(comp, "logprobs", None))
                except BackendError as exc:
                    raise BackendError(f"prompt {i}, sample {j}: {exc}") from None
                out[i][j] = Sample(token_ids=list(comp.token_ids), text=text, finish_reason=reason)
                if values is not None and self.logprobs_mode is not None:
                    setattr(out[i][j], LOGPROBS_MODES[self.logprobs_mode], values)
                if on_sample_done is not None:
                    on_sample_done(i, j, out[i][j])
        return out
