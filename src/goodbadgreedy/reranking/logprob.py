"""Log-probability scorer: the policy model's mean token log-probability of its own response.

For a sample with prompt tokens ``p_1..p_m`` and scored response tokens ``r_1..r_T`` (teacher
forcing, one forward pass):

    score = (1/T) * sum_t log P_model(r_t | p_1..p_m, r_1..r_{t-1})        (nats per token)

Tokens: the generation table's ``prompt`` is the already-templated prompt text (chat template and
assistant prefix applied, see :func:`goodbadgreedy.generation.backend_base.render_prompt`); it is tokenized
without special tokens, exactly as the generate stage did. The ``response`` text is tokenized on
its own (without special tokens) and appended, followed by the tokenizer's EOS token when the
sample ended on EOS (``finish_reason == "eos"``) or when the response is empty (so every sample
scores at least one token). Re-tokenizing the text can differ from the sampled token sequence
where the tokenization is not canonical, and a stop sequence cut from the response is not
scored; both are the usual approximations of scoring stored text.

The model is the packaged policy, loaded like the generate stage does
(:func:`goodbadgreedy.generation.model.load_model`, with its batch-invariant attention): rows are
left-padded, position ids follow the attention mask, and only the last positions' logits are
computed (``logits_to_keep``). Log-softmax runs in float32 whatever the model's dtype.
A sample longer than ``max_length`` (default: the model's ``max_position_embeddings``) has its
response cut at the end; it is flagged in ``truncated`` and counted in the log.
"""

from __future__ import annotations

import logging
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


class LogprobScorer:
    """Mean token log-probability under the policy model (see the module docstring).

    Args:
        spec: ``scorers.<name>`` of params.yaml: ``batch_size`` (default 4), ``max_length``
            (default null: the model's ``max_position_embeddings``).
        load_path: the policy model's folder (``PreparedModel.load_path`` of its manifest).
        dtype, device: the model's runtime (``models.<model>.dtype`` / ``.device``).
        tokenizer, model: an already loaded pair (tests); then ``load_path`` is not read.
    """

    kind = "logprob"

    def __init__(self, spec: dict[str, Any] | None = None, *, load_path: str | None = None,
                 dtype: str = "float32", device: str = "cpu", tokenizer=None, model=None):
        self.spec = dict(spec or {})
        self.batch_size = int(self.spec.get("batch_size", DEFAULT_BATCH_SIZE))
        self.max_length = self.spec.get("max_length")
        if (tokenizer is None) != (model is None):
            raise ConfigError("logprob: give both tokenizer and model, or neither")
        if tokenizer is None:
            if load_path is None:
                raise ConfigError("logprob: needs the policy model (load_path or tokenizer+model)")
            from goodbadgreedy.generation.model import load_model

            tokenizer, model = load_model(load_path, dtype=dtype, device=device)
        self.tokenizer, self.model = tokenizer, model
        self.n_truncated = 0

    def _max_length(self) -> int:
        if self.max_length is not None:
            return int(self.max_length)
        limit = getattr(self.model.config, "max_position_embeddings", None)
        if not limit:
            raise ConfigError("logprob: the model has no max_position_embeddings; set max_length")
        return int(limit)

    def score(self, inputs: ScoringInputs) -> Scores:
        """Score every generation row (needs ``prompt``, ``response``, ``finish_reason``)."""
        gen = inputs.generations
        p_ids, r_ids, truncated = encode_samples(
            self.tokenizer,
            gen["prompt"].to_list(),
            gen["response"].to_list(),
            [f == "eos" for f in gen["finish_reason"].to_list()],
            max_length=self._max_length(),
        )
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id or 0
        reward = mean_logprobs(self.model, p_ids, r_ids, batch_size=self.batch_size, pad_id=int(pad))
        self.n_truncated = int(truncated.sum())
        if self.n_truncated:
            log.warning("logprob: %d of %d samples cut to max_length %d", self.n_truncated,
                        gen.height, self._max_length())
        return Scores(reward, truncated)

    def describe(self) -> dict[str, Any]:
        """Lineage fields: scorer type, batch size, max length and truncation count."""
        return {"scorer_type": self.kind, "batch_size": self.batch_size,
                "max_length": self._max_length(), "n_truncated": self.n_truncated}
