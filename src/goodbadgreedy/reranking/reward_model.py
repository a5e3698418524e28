"""Reward-model scorer: any transformers sequence-classification reward model.

Each sample becomes the two-turn conversation ``[user: <question>, assistant: <answer>]``,
formatted by the *reward model's* chat template (``apply_chat_template(..., tokenize=False)``,
then tokenized without adding special tokens again), and is scored by one forward pass.

What the reward model reads
---------------------------
The generation table's ``prompt`` is the policy's templated text (its chat template, few-shot
exemplars), useless to another model's template. So the conversation is rebuilt from the
benchmark item with the benchmark's own ``build_prompt(item, options)``:

* user = the content of the prompt's **last user message** (the item's question with the
  benchmark's instruction; GSM8K's few-shot exemplar turns are left out, as in the paper's
  reward-model scoring of question/answer pairs);
* assistant = ``prompt.assistant_prefix + response`` (HumanEval's assistant turn starts with the
  function's code, which the response continues).

Outputs
-------
``output: score`` reads ``outputs.score`` (ArmoRM-Llama3-8B-v0.1's custom code, loaded with
``trust_remote_code: true``; Wang et al. 2024, arXiv:2406.12845); ``output: logits`` reads
``outputs.logits[:, 0]`` (FsfairX-LLaMA3-RM-v0.1 and other plain
``*ForSequenceClassification`` reward models; Dong et al. 2024, arXiv:2405.07863). These are the
two reward models Song et al. 2024 (arXiv:2407.10457) use for Best-of-N.

Batching and padding
--------------------
Rows are grouped by length (longest first) and **right**-padded. Sequence-classification heads
pool the last token that is not the pad token, so the pad id must not occur in the real tokens
(Llama-3 reward models have no pad token, and their templates end with the EOS token that is
often used as one): for each batch the tokenizer's pad id is used when no row contains it, else
the largest vocabulary id no row contains; ``model.config.pad_token_id`` is set to it for the
batch. With causal attention and right padding, the padded positions never influence real ones.

Truncation: a conversation longer than ``max_length`` tokens (default: the smaller of the
tokenizer's ``model_max_length`` and the model's ``max_position_embeddings``) keeps its first
``max_length`` tokens; the sample is flagged in ``truncated`` and the count is logged as a
warning. dtype: ``auto`` is bfloat16 on CUDA and float32 on CPU; device ``auto`` is CUDA when
available.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np

from goodbadgreedy import benchmarks
from goodbadgreedy.check_table import items_for
from goodbadgreedy.errors import ConfigError, DataError, ModelLoadError
from goodbadgreedy.reranking.base import Scores, ScoringInputs

log = logging.getLogger(__name__)

OUTPUTS = ("score", "logits")
DEFAULT_BATCH_SIZE = 8


def resolve_runtime(device: str = "auto", dtype: str = "auto") -> tuple[str, str]:
    """Resolve ``auto`` device and dtype; returns ``(device, dtype)``.

    ``auto`` device -> ``cuda`` when available else ``cpu``; ``auto`` dtype -> bfloat16 on CUDA,
    float32 elsewhere.
    """
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if str(device).startswith("cuda") else "float32"
    return device, dtype


def load_reward_model(
    model_id: str,
    *,
    revision: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    trust_remote_code: bool = False,
):
    """Load a reward model's tokenizer and sequence-classification model, in eval mode.

    Args:
        model_id: a local folder, or a hub id already in the Hugging Face cache (downloaded only
            when the hub is reachable and ``HF_HUB_OFFLINE`` is unset).
        revision: hub revision.
        device: see :func:`resolve_runtime`.
        dtype: ``float32`` | ``bfloat16`` | ``float16`` | ``auto`` (see :func:`resolve_runtime`).
        trust_remote_code: run the model folder's own modeling code (ArmoRM needs it).

    Returns:
        ``(tokenizer, model, folder)``.

    Raises:
        ModelLoadError: the folder/id does not hold a loadable model or tokenizer.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from goodbadgreedy.generation.model import _resolve_hf

    device, dtype = resolve_runtime(device, dtype)
    folder, _ = _resolve_hf(model_id, revision)
    try:
        tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, dtype=getattr(torch, dtype), trust_remote_code=trust_remote_code
        )
    except Exception as exc:
        raise ModelLoadError(f"cannot load reward model {model_id!r} from {folder}: {exc}") from exc
    model.to(device)
    model.eval()
    return tok, model, folder


def conversations(inputs: ScoringInputs, benchmark: str) -> list[list[dict[str, str]]]:
    """The ``[user, assistant]`` conversation of every generation row (see the module docstring).

    Args:
        inputs: needs ``generations`` (``item_id``, ``response``), ``items`` and ``options``.
        benchmark: the registry name whose ``build_prompt`` rebuilds the messages.

    Returns:
        One two-message list per generation row, in row order.

    Raises:
        DataError: no items were given, an item_id is unknown, or a prompt has no user message.
    """
    if inputs.items is None:
        raise DataError("reward_model needs the benchmark items to rebuild the user message")
    module = benchmarks.get(benchmark)
    matched = items_for(inputs.items, inputs.generations, name=benchmark)
    cache: dict[str, tuple[str, str]] = {}
    out = []
    for item, resp in zip(matched, inputs.generations["response"].to_list(), strict=True):
        if item["item_id"] not in cache:
            prompt = module.build_prompt(item, dict(inputs.options))
            users = [m["content"] for m in prompt.messages if m["role"] == "user"]
            if not users:
                raise DataError(f"{benchmark}: item {item['item_id']!r}: prompt has no user message")
            cache[item["item_id"]] = (users[-1], prompt.assistant_prefix)
        user, prefix = cache[item["item_id"]]
        out.append([{"role": "user", "content": user},
                    {"role": "assistant", "content": prefix + (resp or "")}])
    return out


def encode_conversations(
    tokenizer, convs: Sequence[Sequence[dict[str, str]]], *, max_length: int
) -> tuple[list[list[int]], np.ndarray]:
    """Token ids of each conversation under the tokenizer's chat template, cut to ``max_length``.

    Returns:
        ``(ids, truncated)``: one id list per conversation (at most ``max_length`` ids, the first
        ones kept) and a bool array of shape ``(n,)``.

    Raises:
        ConfigError: the tokenizer has no chat template.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError("reward_model: the tokenizer has no chat template")
    ids, truncated = [], np.zeros(len(convs), dtype=bool)
    for i, conv in enumerate(convs):
        text = tokenizer.apply_chat_template(list(conv), tokenize=False)
        seq = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        if len(seq) > max_length:
            seq, truncated[i] = seq[:max_length], True
        ids.append(seq)
    return ids, truncated


def _free_pad_id(rows: Sequence[Sequence[int]], preferred: int | None, vocab_size: int) -> int:
    used = set()
    for r in rows:
        used.update(r)
    if preferred is not None and preferred not in used:
        return int(preferred)
    for cand in range(vocab_size - 1, -1, -1):
        if cand not in used:
            return cand
    raise DataError("reward_model: every vocabulary id occurs in the batch; no pad id is free")


def reward_scores(
    model,
    ids: Sequence[Sequence[int]],
    *,
    output: str = "logits",
    batch_size: int = DEFAULT_BATCH_SIZE,
    pad_id: int | None = None,
) -> np.ndarray:
    """Run a sequence-classification reward model on tokenized conversations.

    Args:
        model: ``*ForSequenceClassification`` (or custom code whose output has ``score``).
        ids: per conversation, its token ids (non-empty).
        output: ``"logits"`` (``outputs.logits[:, 0]``) or ``"score"`` (``outputs.score``, first
            value per row).
        batch_size: conversations per forward pass.
        pad_id: preferred pad id (used when no row of a batch contains it).

    Returns:
        Float64 array of shape ``(n,)``, in input order.

    Raises:
        ConfigError: unknown ``output``, or the model's output lacks the requested field.
        ValueError: an empty conversation, or ``batch_size < 1``.
    """
    import torch

    if output not in OUTPUTS:
        raise ConfigError(f"reward_model: output must be one of {OUTPUTS}, got {output!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if any(len(r) == 0 for r in ids):
        raise ValueError("reward_scores: empty conversation")
    n = len(ids)
    order = sorted(range(n), key=lambda i: (-len(ids[i]), i))
    out = np.zeros(n, dtype=np.float64)
    device = next(model.parameters()).device
    vocab = int(model.get_input_embeddings().num_embeddings)
    text_cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    for start in range(0, n, batch_size):
        rows = order[start : start + batch_size]
        width = max(len(ids[i]) for i in rows)
        pad = _free_pad_id([ids[i] for i in rows], pad_id, vocab)
        batch = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for b, i in enumerate(rows):
            batch[b, : len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
            mask[b, : len(ids[i])] = 1
        model.config.pad_token_id = pad
        if text_cfg is not model.config:
            text_cfg.pad_token_id = pad
        with torch.no_grad():
            res = model(input_ids=batch.to(device), attention_mask=mask.to(device))
        value = getattr(res, output, None)
        if value is None:
            other = "logits" if output == "score" else "score"
            raise ConfigError(
                f"reward_model: the model's output has no {output!r} field "
                f"(has: {sorted(k for k in res.keys())}); try output: {other}"
            )
        value = value.float().reshape(len(rows), -1)[:, 0].cpu().numpy()
        out[rows] = value
    return out


class RewardModelScorer:
    """Scores samples with a reward model (see the module docstring).

    Args:
        spec: ``scorers.<name>`` of params.yaml: ``model`` (folder or hub id, required),
            ``revision``, ``output`` (``score`` | ``logits``, default ``logits``),
            ``trust_remote_code`` (default false), ``batch_size`` (default 8), ``max_length``
            (default null: see the module docstring), ``device`` and ``dtype`` (default
            ``auto``).
        benchmark: the registry name of the benchmark scored (to rebuild user messages).
        tokenizer, model: an already loaded pair (tests); then ``spec['model']`` is not loaded.

    Raises:
        ConfigError: ``model`` missing or ``output`` unknown.
        ModelLoadError: the reward model cannot be loaded.
    """

    kind = "reward_model"

    def __init__(self, spec: dict[str, Any], *, benchmark: str, tokenizer=None, model=None):
        self.spec = dict(spec)
        self.benchmark = benchmark
        self.output = self.spec.get("output", "logits")
        if self.output not in OUTPUTS:
            raise ConfigError(f"reward_model: output must be one of {OUTPUTS}, got {self.output!r}")
        self.batch_size = int(self.spec.get("batch_size", DEFAULT_BATCH_SIZE))
        self.folder = None
        if tokenizer is None or model is None:
            if not self.spec.get("model"):
                raise ConfigError("reward_model: 'model' (a folder or hub id) is required")
            tokenizer, model, self.folder = load_reward_model(
                self.spec["model"],
                revision=self.spec.get("revision"),
                device=self.spec.get("device", "auto"),
                dtype=self.spec.get("dtype", "auto"),
                trust_remote_code=bool(self.spec.get("trust_remote_code", False)),
            )
        self.tokenizer, self.model = tokenizer, model
        self.n_truncated = 0

    def max_length(self) -> int:
        """The input limit in tokens (``spec['max_length']`` or the model's/tokenizer's)."""
        if self.spec.get("max_length") is not None:
            return int(self.spec["max_length"])
        limits = [getattr(self.model.config, "max_position_embeddings", None),
                  getattr(self.tokenizer, "model_max_length", None)]
        limits = [int(x) for x in limits if isinstance(x, int) and 0 < x < 10**8]
        if not limits:
            raise ConfigError("reward_model: no max_position_embeddings/model_max_length; set max_length")
        return min(limits)

    def score(self, inputs: ScoringInputs) -> Scores:
        """Score every generation row; truncations are flagged, counted and logged."""
        convs = conversations(inputs, self.benchmark)
        limit = self.max_length()
        ids, truncated = encode_conversations(self.tokenizer, convs, max_length=limit)
        self.n_truncated = int(truncated.sum())
        if self.n_truncated:
            log.warning("reward_model: %d of %d conversations cut to max_length %d tokens",
                        self.n_truncated, len(ids), limit)
        reward = reward_scores(self.model, ids, output=self.output, batch_size=self.batch_size,
                               pad_id=self.tokenizer.pad_token_id)
        return Scores(reward, truncated)

    def describe(self) -> dict[str, Any]:
        """Lineage fields: type, model, folder, output field, max length, truncation count."""
        return {"scorer_type": self.kind, "reward_model": self.spec.get("model"),
                "reward_model_folder": str(self.folder) if self.folder else None,
                "output": self.output, "max_length": self.max_length(),
                "n_truncated": self.n_truncated}
