"""Log-probability scorer: the policy model's mean token log-probability of its own response.

Two paths, per row of the generation table:

* **recorded** (every row the local engines wrote): the generate stage recorded, for every
  generated token, its raw log-probability (``logprobs`` column: float32 ``log_softmax`` of the
  model's logits before any logits processor, see :class:`~goodbadgreedy.generation.backend_base.Sample`).
  The score is their mean over the *sampled* tokens ``y_1..y_T``, EOS included when the sample
  ended on it and the token that completed a stop sequence included (the tokens as sampled, not a
  re-tokenization of the stored text):

      score = (1/T) * sum_t log P_model(y_t | prompt, y_1..y_{t-1})        (nats per token)

  No model is loaded and nothing is computed but the mean; ``truncated`` is false.
* **teacher-forced fallback** (rows whose ``logprobs`` is null or empty, e.g. an OpenAI-compatible
  server that returned no log-probabilities): the model is loaded (only if there is such a row)
  and scores the stored text in one forward pass, as below.

Teacher forcing: for a sample with prompt tokens ``p_1..p_m`` and scored response tokens
``r_1..r_T``, ``score = (1/T) * sum_t log P_model(r_t | p_1..p_m, r_1..r_{t-1})``. The generation
table's ``prompt`` is the already-templated prompt text (chat template and assistant prefix
applied, see :func:`goodbadgreedy.generation.backend_base.render_prompt`); it is tokenized without
special tokens, exactly as the generate stage did. The ``response`` text is tokenized on its own
(without special tokens) and appended, followed by the tokenizer's EOS token when the sample ended
on EOS (``finish_reason == "eos"``) or when the response is empty (so every sample scores at least
one token). Re-tokenizing the text can differ from the sampled token sequence where the
tokenization is not canonical, and a stop sequence cut from the response is not scored; both are
the usual approximations of scoring stored text, and the reason the recorded path is preferred.
Where the tokens agree the two paths agree to float tolerance (tested).

The fallback's model is the packaged policy, loaded like the generate stage does
(:func:`goodbadgreedy.generation.model.load_model`, with its batch-invariant attention): rows are
left-padded, position ids follow the attention mask, and only the last positions' logits are
computed (``logits_to_keep``). Log-softmax runs in float32 whatever the model's dtype.
A sample longer than ``max_length`` (default: the model's ``max_position_embeddings``) has its
response cut at the end; it is flagged in ``truncated`` and counted in the log.

The scorer logs how many rows took each path and its wall time, and records both counts and the
seconds in the lineage (:meth:`LogprobScorer.describe`).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence

import numpy as np

from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.reranking.base import Scores, ScoringInputs

log = logging.getLogger(__name__)

#: Samples scored together by default (CPU-friendly; raise it on a GPU).
DEFAULT_BATCH_SIZE = 4


def encode_samples(
    tokenizer,
    prompts: Sequence[str],
    responses: Sequence[str | None],
    append_eos: Sequence[bool],
    *,
    max_length: int,
) -> tuple[list[list[int]], list[list[int]], np.ndarray]:
    """Token ids of each sample's prompt and scored response (see the module docstring).

    Args:
        tokenizer: the policy model's tokenizer (needs ``eos_token_id``).
        prompts: templated prompt texts.
        responses: response texts (``None`` is treated as ``""``).
        append_eos: per sample, whether EOS is scored after the response text.
        max_length: most tokens (prompt + response) per sample.

    Returns:
        ``(prompt_ids, response_ids, truncated)``: two lists of id lists and a bool array of
        shape ``(n,)``; every response list holds at least one token.

    Raises:
        DataError: a prompt alone fills ``max_length`` (named by its row), or the tokenizer has
            no EOS token while one is needed.
    """
    eos = tokenizer.eos_token_id
    p_ids, r_ids = [], []
    truncated = np.zeros(len(prompts), dtype=bool)
    for i, (p, r, e) in enumerate(zip(prompts, responses, append_eos, strict=True)):
        pi = list(tokenizer(p, add_special_tokens=False)["input_ids"])
        ri = list(tokenizer(r, add_special_tokens=False)["input_ids"]) if r else []
        if e or not ri:
            if eos is None:
                raise DataError("logprob: the tokenizer has no EOS token to score")
            ri.append(int(eos))
        if len(pi) >= max_length:
            raise DataError(
                f"logprob: row {i}: the prompt alone has {len(pi)} tokens, max_length is {max_length}"
            )
        if len(pi) + len(ri) > max_length:
            ri = ri[: max_length - len(pi)]
            truncated[i] = True
        p_ids.append(pi)
        r_ids.append(ri)
    return p_ids, r_ids, truncated


def mean_logprobs(
    model,
    prompt_ids: Sequence[Sequence[int]],
    response_ids: Sequence[Sequence[int]],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    pad_id: int = 0,
) -> np.ndarray:
    """Mean log-probability (nats per token) of each response given its prompt (teacher forcing).

    Args:
        model: a transformers causal LM in eval mode (``forward`` accepts ``position_ids`` and
            ``logits_to_keep``).
        prompt_ids: per sample, the prompt's token ids (non-empty).
        response_ids: per sample, the scored response token ids (non-empty).
        batch_size: samples per forward pass (rows are grouped by length, longest first; the
            result is in input order).
        pad_id: the token id used for left padding (masked out; any valid id).

    Returns:
        Float64 array, shape ``(n,)``.

    Raises:
        ValueError: a prompt or response is empty, or ``batch_size < 1``.
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(prompt_ids)
    if any(len(p) == 0 for p in prompt_ids) or any(len(r) == 0 for r in response_ids):
        raise ValueError("mean_logprobs: every prompt and response needs at least one token")
    lengths = [len(p) + len(r) for p, r in zip(prompt_ids, response_ids, strict=True)]
    order = sorted(range(n), key=lambda i: (-lengths[i], i))
    out = np.zeros(n, dtype=np.float64)
    device = next(model.parameters()).device
    for start in range(0, n, batch_size):
        rows = order[start : start + batch_size]
        width = max(lengths[i] for i in rows)
        keep = max(len(response_ids[i]) for i in rows) + 1  # logits predicting every response token
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for b, i in enumerate(rows):
            seq = list(prompt_ids[i]) + list(response_ids[i])
            ids[b, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            mask[b, width - len(seq) :] = 1
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad():
            logits = model(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                position_ids=pos.to(device),
                use_cache=False,
                logits_to_keep=keep,
            ).logits  # (batch, keep, vocab): positions width-keep .. width-1
        logp = torch.log_softmax(logits[:, :-1, :].float(), dim=-1)  # predicts positions width-keep+1 ..
        for b, i in enumerate(rows):
            t = len(response_ids[i])
            target = torch.tensor(response_ids[i], dtype=torch.long, device=logp.device)
            rows_lp = logp[b, keep - 1 - t :, :]  # the last t predictions of the row
            out[i] = float(rows_lp.gather(-1, target.unsqueeze(-1)).mean())
    return out


def recorded_means(logprobs: Sequence[Sequence[float] | None]) -> np.ndarray:
    """Mean of each row's recorded per-token log-probabilities (the recorded path).

    Args:
        logprobs: per row, the sampled tokens' raw log-probabilities (nats), or None.

    Returns:
        Float64 array, shape ``(n,)``: the mean over each row's list (float64 sum of the float32
        values); NaN where the list is None or empty (those rows need the teacher-forced pass).
    """
    out = np.full(len(logprobs), np.nan, dtype=np.float64)
    for i, lp in enumerate(logprobs):
        if lp is not None and len(lp) > 0:
            out[i] = float(np.mean(np.asarray(lp, dtype=np.float64)))
    return out


class LogprobScorer:
    """Mean token log-probability under the policy model (see the module docstring).

    Args:
        spec: ``scorers.<name>`` of params.yaml: ``batch_size`` (default 4), ``max_length``
            (default null: the model's ``max_position_embeddings``); both for the fallback.
        load_path: the policy model's folder (``PreparedModel.load_path`` of its manifest),
            loaded only when a row needs the teacher-forced fallback; may be None when no row
            does (a model served over HTTP whose server returned log-probabilities).
        dtype, device: the model's runtime (``models.<model>.dtype`` / ``.device``).
        tokenizer, model: an already loaded pair (tests); then ``load_path`` is not read.

    Raises:
        ConfigError: only one of ``tokenizer`` and ``model`` is given.
    """

    kind = "logprob"

    def __init__(self, spec: dict[str, Any] | None = None, *, load_path: str | None = None,
                 dtype: str = "float32", device: str = "cpu", tokenizer=None, model=None):
        self.spec = dict(spec or {})
        self.batch_size = int(self.spec.get("batch_size", DEFAULT_BATCH_SIZE))
        self.max_length = self.spec.get("max_length")
        if (tokenizer is None) != (model is None):
            raise ConfigError("logprob: give both tokenizer and model, or neither")
        self.load_path, self.dtype, self.device = load_path, dtype, device
        self.tokenizer, self.model = tokenizer, model
        self.n_truncated = 0
        self.n_recorded = 0
        self.n_teacher_forced = 0
        self.seconds = 0.0

    def _load(self) -> None:
        """Load the policy model for the teacher-forced fallback (once).

        Raises:
            ConfigError: no ``load_path`` (a model without local weights).
        """
        if self.model is not None:
            return
        if self.load_path is None:
            raise ConfigError(
                f"logprob: {self.n_teacher_forced} row(s) have no recorded log-probabilities and need "
                f"the teacher-forced pass, which needs the policy's local weights; this model has none "
                f"(a model served over HTTP whose server returned no logprobs)")
        from goodbadgreedy.generation.model import load_model

        self.tokenizer, self.model = load_model(self.load_path, dtype=self.dtype, device=self.device)

    def _max_length(self) -> int:
        if self.max_length is not None:
            return int(self.max_length)
        limit = getattr(self.model.config, "max_position_embeddings", None)
        if not limit:
            raise ConfigError("logprob: the model has no max_position_embeddings; set max_length")
        return int(limit)

    def score(self, inputs: ScoringInputs) -> Scores:
        """Score every generation row (see the module docstring for the two paths).

        Reads ``logprobs`` when the table has it; rows without recorded values also need
        ``prompt``, ``response`` and ``finish_reason``.

        Raises:
            ConfigError: a row needs the fallback and the model has no local weights.
            DataError: as :func:`encode_samples`, for the fallback rows.
        """
        t0 = time.perf_counter()
        gen = inputs.generations
        if "logprobs" in gen.columns:
            reward = recorded_means(gen["logprobs"].to_list())
        else:
            reward = np.full(gen.height, np.nan, dtype=np.float64)
        truncated = np.zeros(gen.height, dtype=bool)
        todo = np.flatnonzero(np.isnan(reward))
        self.n_recorded, self.n_teacher_forced = gen.height - todo.size, int(todo.size)
        if todo.size:
            self._load()
            sub = gen[todo.tolist()]
            p_ids, r_ids, cut = encode_samples(
                self.tokenizer,
                sub["prompt"].to_list(),
                sub["response"].to_list(),
                [f == "eos" for f in sub["finish_reason"].to_list()],
                max_length=self._max_length(),
            )
            pad = self.tokenizer.pad_token_id
            if pad is None:
                pad = self.tokenizer.eos_token_id or 0
            reward[todo] = mean_logprobs(self.model, p_ids, r_ids, batch_size=self.batch_size, pad_id=int(pad))
            truncated[todo] = cut
        self.n_truncated = int(truncated.sum())
        if self.n_truncated:
            log.warning("logprob: %d of %d samples cut to max_length %d", self.n_truncated,
                        gen.height, self._max_length())
        self.seconds = time.perf_counter() - t0
        log.info("logprob: %d of %d rows from the recorded log-probabilities, %d teacher-forced "
                 "(model %s); %.2f s", self.n_recorded, gen.height, self.n_teacher_forced,
                 "loaded" if self.model is not None else "not loaded", self.seconds)
        return Scores(reward, truncated)

    def describe(self) -> dict[str, Any]:
        """Lineage fields: scorer type, batch size, max length, path counts, truncations, seconds.

        ``max_length`` is the configured value (None: the model's own) when the model was never
        loaded.
        """
        max_length = self._max_length() if self.model is not None else self.max_length
        return {"scorer_type": self.kind, "batch_size": self.batch_size, "max_length": max_length,
                "n_truncated": self.n_truncated, "n_recorded": self.n_recorded,
                "n_teacher_forced": self.n_teacher_forced, "seconds": round(self.seconds, 3)}
