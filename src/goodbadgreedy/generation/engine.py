"""The decoding engine of the ``hf`` backend: batched generation with a KV cache.

Design (see docs/architecture.md):

* Rows are (prompt, sample) pairs. Rows of one batch that share a prompt share its prefill: the
  prompt is run through the model once and its KV cache is copied to each of its samples
  (prefix sharing).
* Prompts are left-padded; position ids follow the attention mask, so padding does not shift
  positions.
* Finished rows are dropped from the batch (and from the KV cache) as soon as they finish, so no
  compute is spent on them.
* Every decoding step is done by :func:`next_tokens`, our own implementation of the logits
  processors of Hugging Face transformers (repetition penalty, temperature, top-k, top-p, in that
  order), followed by inverse-CDF sampling with one uniform draw per token from the row's *own*
  ``torch.Generator`` seeded with the row's seed. A sample's random stream therefore depends only
  on its seed, not on N, the batch size or its neighbours in the batch. Greedy decoding is argmax
  and needs no seed.

Remaining limits of exact reproducibility, honestly stated: the logits themselves are floating-
point results whose last bits can differ between hardware, BLAS libraries, dtypes and (rarely)
batch shapes; when two candidate tokens are within such an error of each other, a sample can
diverge. The tests check equality across batch sizes on this machine's CPU kernels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from goodbadgreedy.errors import ConfigError
from goodbadgreedy.generation.params import SamplingParams  # noqa: F401  (re-exported)

#: Every matrix product runs over a multiple of this many rows. MKL's sgemm computes rows in
#: blocks of 4 (AVX2 here; 8 on some AVX-512 builds); rows in a partial block at the end go
#: through an edge kernel whose results differ in the last bits (seen: 3e-5 in a logit). With
#: whole blocks a row's result depends neither on how many rows run with it nor on its position.
#: So prompts are left-padded to a multiple of this width, and decoding batches are topped up
#: with copies of a live row ("ghost rows") whose outputs are never read.
ROW_BLOCK = 8


def _round_up(n: int, block: int = ROW_BLOCK) -> int:
    return max(block, -(-n // block) * block)


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
    """

    token_ids: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: str = "length"
    completion_tokens: int | None = None

    @property
    def n_tokens(self) -> int:
        """Generated tokens, EOS included (what the benchmarks count as response length)."""
        return self.completion_tokens if self.completion_tokens is not None else len(self.token_ids)


def apply_repetition_penalty(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """Penalize tokens already in the sequence (Keskar et al. 2019, Sec. 4.1).

    Args:
        logits: (rows, vocab) float tensor.
        seen: (rows, vocab) bool tensor, True where the token occurs in the row's sequence.
        penalty: > 0; positive logits are divided by it, negative ones multiplied.
    """
    if penalty == 1.0:
        return logits
    penalized = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalized, logits)


def warp_top_k(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """Keep the ``top_k`` largest logits per row (ties at the k-th value kept), others to -inf."""
    if top_k <= 0 or top_k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def warp_top_p(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filtering (Holtzman et al. 2020, Sec. 3.1), as transformers' ``TopPLogitsWarper``.

    Keeps the smallest set of most likely tokens whose probability mass reaches ``top_p``
    (always at least one token); the others are set to -inf.
    """
    if top_p >= 1.0:
        return logits
    sorted_logits, sorted_idx = torch.sort(logits, descending=False, dim=-1)
    cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cum <= (1 - top_p)
    remove_sorted[..., -1:] = False
    remove = remove_sorted.scatter(-1, sorted_idx, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def sample_inverse_cdf(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Draw one token per row by inverse-CDF sampling.

    Args:
        probs: (rows, vocab) probabilities (rows sum to 1 up to rounding).
        uniforms: (rows,) float64 draws from U(0, 1).

    Returns:
        (rows,) int64 token ids: the first token whose cumulative probability (float64, token-id
        order) exceeds ``u * total``; tokens of zero probability are never drawn.
    """
    cdf = probs.to(torch.float64).cumsum(dim=-1)
    target = (uniforms.to(cdf.device) * cdf[:, -1]).unsqueeze(-1)
    idx = torch.searchsorted(cdf, target, right=True).squeeze(-1)
    idx = idx.clamp(max=probs.shape[-1] - 1)
    # guard against landing on a zero-probability token through rounding at the top end
    zero = probs.gather(-1, idx.unsqueeze(-1)).squeeze(-1) <= 0
    if zero.any():
        idx = torch.where(zero, probs.argmax(dim=-1), idx)
    return idx


def next_tokens(
    logits: torch.Tensor,
    params: SamplingParams,
    seen: torch.Tensor | None,
    generators: Sequence[torch.Generator | None],
) -> torch.Tensor:
    """Choose the next token of every row.

    Args:
        logits: (rows, vocab) logits of the last position.
        params: decoding parameters.
        seen: (rows, vocab) bool mask of tokens in each row's sequence (for the repetition
            penalty); may be None when the penalty is 1.
        generators: one CPU ``torch.Generator`` per row (None rows only under greedy decoding).

    Returns:
        (rows,) int64 token ids on ``logits.device``.
    """
    logits = logits.float()
    if seen is not None:
        logits = apply_repetition_penalty(logits, seen, params.repetition_penalty)
    if params.greedy:
        return logits.argmax(dim=-1)
    logits = logits / params.temperature
    logits = warp_top_k(logits, params.top_k)
    logits = warp_top_p(logits, params.top_p)
    probs = logits.softmax(dim=-1)
    u = torch.stack([torch.rand((), generator=g, dtype=torch.float64) for g in generators])
    return sample_inverse_cdf(probs, u).to(logits.device)


@dataclass
class _Row:
    prompt_idx: int
    sample_pos: int
    seed: int | None
    generator: torch.Generator | None
    sample: Sample = field(default_factory=Sample)


def _eos_ids(tokenizer, model) -> set[int]:
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(gen_eos, int):
        ids.add(gen_eos)
    elif gen_eos:
        ids.update(int(i) for i in gen_eos)
    return ids


def _finish_text(tokenizer, sample: Sample, eos: set[int], stop: Sequence[str]) -> str | None:
    """Decode the sample; return the text cut at the first stop sequence, or None if none matched."""
    ids = [t for t in sample.token_ids if t not in eos]
    text = tokenizer.decode(ids, skip_special_tokens=True)
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    if cut >= 0:
        return text[:cut]
    sample.text = text
    return None


@torch.inference_mode()
def generate(
    model,
    tokenizer,
    prompts: Sequence[Sequence[int]],
    seeds: Sequence[Sequence[int | None]],
    params: SamplingParams,
    *,
    stop: Sequence[str] = (),
    batch_size: int = 16,
    on_prompt_done: Callable[[int, list[Sample]], None] | None = None,
    progress: bool = True,
) -> list[list[Sample]]:
    """Generate ``len(seeds[i])`` samples for every prompt ``i``.

    Args:
        model: a transformers causal LM (eval mode) on its device.
        tokenizer: its tokenizer (for EOS ids, padding and decoding).
        prompts: token ids of each prompt (chat template already applied).
        seeds: per prompt, one seed per sample (None allowed only for greedy decoding). The
            number of seeds is the number of samples for that prompt.
        params: decoding parameters.
        stop: stop sequences; the response is cut before the first one.
        batch_size: most rows (samples) decoded together.
        on_prompt_done: called with (prompt index, its samples) as soon as all samples of a
            prompt are finished (used to persist finished samples for resumption).
        progress: show a tqdm progress bar with tokens/s on stderr.

    Returns:
        ``out[i][j]``: sample j of prompt i.

    Raises:
        ConfigError: a sampling config got a None seed, or ``batch_size`` < 1.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size={batch_size} must be >= 1")
    if len(prompts) != len(seeds):
        raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seed lists")
    device = next(model.parameters()).device
    eos = _eos_ids(tokenizer, model)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos)
    vocab = model.get_output_embeddings().weight.shape[0]

    rows: list[_Row] = []
    for p, seed_list in enumerate(seeds):
        for j, seed in enumerate(seed_list):
            if seed is None and not params.greedy:
                raise ConfigError(f"sampling needs a seed for every sample (prompt {p}, sample {j})")
            gen = None
            if not params.greedy:
                gen = torch.Generator(device="cpu")
                gen.manual_seed(int(seed))
            rows.append(_Row(p, j, seed, gen))
    out: list[list[Sample]] = [[Sample() for _ in s] for s in seeds]
    remaining = [len(s) for s in seeds]
    # longest prompts first: similar lengths share a batch, and the slowest work starts early
    rows.sort(key=lambda r: (-len(prompts[r.prompt_idx]), r.prompt_idx, r.sample_pos))

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(rows), desc="generate", unit="sample", dynamic_ncols=True)
    t0, n_tok = time.perf_counter(), 0
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        n_tok += _decode_batch(model, tokenizer, prompts, batch, params, stop, eos, pad_id, vocab, device)
        for r in batch:
            out[r.prompt_idx][r.sample_pos] = r.sample
            remaining[r.prompt_idx] -= 1
            if remaining[r.prompt_idx] == 0 and on_prompt_done is not None:
                on_prompt_done(r.prompt_idx, out[r.prompt_idx])
        if bar is not None:
            bar.update(len(batch))
            bar.set_postfix(tok_s=f"{n_tok / max(time.perf_counter() - t0, 1e-9):.1f}")
    if bar is not None:
        bar.close()
    return out


def _decode_batch(model, tokenizer, prompts, batch: list[_Row], params, stop, eos, pad_id, vocab, device) -> int:
    """Decode one batch of rows in place (fills ``row.sample``); return the generated token count."""
    from goodbadgreedy.generation.cache import PreallocatedCache

    uniq = sorted({r.prompt_idx for r in batch})
    pos_of = {p: i for i, p in enumerate(uniq)}
    lengths = [len(prompts[p]) for p in uniq]
    width = _round_up(max(lengths))
    ids = torch.full((len(uniq), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(uniq), width), dtype=torch.long)
    for i, p in enumerate(uniq):
        ids[i, width - lengths[i] :] = torch.tensor(list(prompts[p]), dtype=torch.long)
        attn[i, width - lengths[i] :] = 1
    ids, attn = ids.to(device), attn.to(device)
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    cache = PreallocatedCache(model.config.get_text_config().num_hidden_layers, width + params.max_new_tokens)
    keep_logits = ROW_BLOCK  # the lm_head sees len(uniq) * ROW_BLOCK rows: whole blocks
    res = model(
        input_ids=ids, attention_mask=attn, position_ids=pos, cache=cache, use_cache=True, logits_to_keep=keep_logits
    )
    cache = res.cache
    # prefix sharing: copy each prompt's cache to each of its sample rows (plus ghost rows)
    mapping = [pos_of[r.prompt_idx] for r in batch]
    mapping += [mapping[-1]] * (_round_up(len(mapping)) - len(mapping))
    row_map = torch.tensor(mapping, dtype=torch.long, device=device)
    logits = res.logits[:, -1, :].index_select(0, row_map)
    if mapping != list(range(len(uniq))):
        cache.batch_select_indices(row_map)
    attn = attn.index_select(0, row_map)
    next_pos = pos[:, -1].index_select(0, row_map) + 1
    seen = None
    if params.repetition_penalty != 1.0:
        seen = torch.zeros((len(mapping), vocab), dtype=torch.bool, device=device)
        for i, p in enumerate(mapping):
            seen[i, torch.tensor(list(prompts[uniq[p]]), dtype=torch.long)] = True

    active = list(batch)
    generated = 0
    for step in range(params.max_new_tokens):
        n = len(active)
        toks = next_tokens(logits[:n, :vocab], params, None if seen is None else seen[:n], [r.generator for r in active])
        tok_list = toks.tolist()
        keep: list[int] = []
        for i, (r, t) in enumerate(zip(active, tok_list)):
            r.sample.token_ids.append(t)
            generated += 1
            if t in eos:
                r.sample.finish_reason = "eos"
                _finish_text(tokenizer, r.sample, eos, ())
                continue
            if stop:
                cut = _finish_text(tokenizer, r.sample, eos, stop)
                if cut is not None:
                    r.sample.text, r.sample.finish_reason = cut, "stop"
                    continue
            if step == params.max_new_tokens - 1:
                r.sample.finish_reason = "length"
                _finish_text(tokenizer, r.sample, eos, ())
                continue
            keep.append(i)
        if not keep:
            break
        if seen is not None:
            seen[torch.arange(n, device=device), toks] = True
        if len(keep) != n:
            kept = keep + [keep[-1]] * (_round_up(len(keep)) - len(keep))
            idx = torch.tensor(kept, dtype=torch.long, device=device)
            cache.batch_select_indices(idx)
            attn, next_pos = attn.index_select(0, idx), next_pos.index_select(0, idx)
            if seen is not None:
                seen = seen.index_select(0, idx)
            active = [active[i] for i in keep]
        else:
            kept = list(range(n)) + [n - 1] * (attn.shape[0] - n)
        step_ids = toks.index_select(0, torch.tensor(kept, dtype=torch.long, device=device))
        attn = torch.cat([attn, torch.ones((attn.shape[0], 1), dtype=attn.dtype, device=device)], dim=1)
        res = model(
            input_ids=step_ids.unsqueeze(-1),
            attention_mask=attn,
            position_ids=next_pos.unsqueeze(-1),
            cache=cache,
            use_cache=True,
        )
        cache = res.cache
        logits = res.logits[:, -1, :]
        next_pos = next_pos + 1
    return generated
