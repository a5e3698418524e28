"""The decoding engine of the ``hf`` backend: batched generation with a KV cache.

Design (see docs/architecture.md):

* Rows are (prompt, sample) pairs. Rows of one batch that share a prompt share its prefill: the
  prompt is run through the model once and its KV cache is copied to each of its samples
  (prefix sharing).
* Prefix caching (automatic, from token ids): every prompt is prefilled in chunks of
  :data:`PREFILL_CHUNK` tokens aligned at position 0, one prompt per forward pass, and the keys/
  values of every full chunk are kept in a :class:`~goodbadgreedy.generation.prefix_cache.PrefixCache`
  (a trie over whole chunks, least-recently-used eviction by bytes). A prompt that starts with
  chunks already computed (the GSM8K system prompt + 8 exemplars, ~805 tokens; the chat
  template's system prompt of MMLU-Redux and HumanEval, 32-48 tokens, is shorter than a chunk)
  computes only the chunks after them. Why chunks at fixed boundaries: a prefix+suffix split computes other matrix and
  attention shapes than a one-pass prefill, so its last bits would differ; with one canonical
  split, chunk i of a prompt is always the same computation (same tokens, same cached keys
  before it, same shapes), so a cached chunk holds exactly the bits a fresh one would, and a
  prompt's logits are bitwise the same alone, after a prompt that shared its prefix, or in any
  batch (tested). Cost: a prompt of n tokens takes ceil(n / 256) forward passes instead of one
  batched pass (each with a fixed per-pass cost), the last chunk is padded to whole 8-row
  blocks (at most 7 wasted rows, instead of padding every prompt to the longest one of the
  batch), and the middle chunks skip the lm_head. The cache holds 46 KB per token for the
  packaged model (fp32, 30 layers, 3 KV heads of 64), 512 MiB by default. The split matters:
  on the packaged model a GSM8K prompt prefilled in chunks of 64 or in one pass got logits
  up to 3e-5 away from chunks of 32 (the CPU attention kernel blocks keys by 512).
* The decoding batch is left-padded on one KV timeline; position ids are the rows' own, so
  padding does not shift positions.
* Finished rows are dropped from the batch (and from the KV cache) as soon as they finish, so no
  compute is spent on them.
* Every decoding step is done by :func:`next_tokens`, our own implementation of the logits
  processors of Hugging Face transformers (repetition penalty, temperature, top-k, top-p, in that
  order), followed by inverse-CDF sampling with one uniform draw per token from the row's *own*
  ``torch.Generator`` seeded with the row's seed. A sample's random stream therefore depends only
  on its seed, not on N, the batch size or its neighbours in the batch. Greedy decoding is argmax
  and needs no seed.
* Log-probabilities in the same pass: for every generated token the engine records its raw
  log-probability (``log_softmax`` of the float32 logits before any processor) and its processed
  one (under the distribution it was drawn from) in ``Sample.logprobs`` /
  ``Sample.processed_logprobs``, read off the step's tensors after the token is chosen, so the
  tokens are exactly those of a run without them. The ``logprob`` scorer reads them instead of
  running the model over every response again. Cost: two float32 ``log_softmax`` over the live
  rows per step (one when nothing processes the logits; see :func:`chosen_logprobs`).

Where a decoding step's time goes (issue 16; packaged model, fp32, 1 torch thread; the
machine shared with other work, so absolute figures are noisy within a factor 2):

1. A first profile (module hooks, a GSM8K prompt of 861 tokens, 8 live rows) gave 480 ms per
   step: projections + MLP + lm_head ~280 ms, attention 147 ms, Python/norms/rope 53 ms, mask
   building, KV bookkeeping and sampling < 2 % together. A step with one live row was computed
   as a whole 8-row block *including the attention of its 7 ghost rows*: ghost rows now skip the
   attention (bitwise neutral for live rows, tested): 479 -> 176 ms for a 1-row step.
2. Op-level profile (``torch.profiler``) of the 6 default GSM8K prompts x N = 4, 48 new tokens:
   72 s, of which 52 s in ``aten::_scaled_dot_product_attention_math`` (22 s of it copying K/V
   per query-head group, 15 s rescaling keys). PyTorch had left its CPU flash kernel for the
   math path because the ``(W @ x^T)^T`` projections return a transposed view (the query's last
   dimension was not contiguous). With contiguous projections: 26.6 s, the flash kernel 8.8 s
   and the matrix products 9.8 s (tested: the engine never takes the math kernel).
3. With many samples per prompt each row read its own copy of its prompt's keys (~40 MB per
   row per step at 900 columns). Decoding attention is now split at each row's prompt end and
   the prompt part is one kernel call for all samples of the prompt
   (:func:`~goodbadgreedy.generation.attention.split_prompt_attention`): 62 vs 51 tok/s on that
   workload (64 new tokens, medians of 3, interleaved).
4. What is left is the matrix products, memory-bound: one layer + lm_head (127 MB of fp32
   weights) took 20 ms for 8 rows, i.e. ~6 GB/s, about what one core streams here; a step reads
   538 MB of weights, so a step costs at least ~85-110 ms on one thread whatever the number of
   rows. Greedy decoding of a few prompts is therefore bound by the longest sample x that floor
   (GSM8K greedy, 6 prompts, 64 steps: 110 ms/step matrix products, 38 ms attention); many rows
   per step (samples, more prompts per batch) amortize it, which is where the engine gains most
   over ``model.generate`` (see ``perf/generation.py``).

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
from goodbadgreedy.generation.backend_base import Sample, SampleCallback
from goodbadgreedy.generation.params import SamplingParams  # noqa: F401  (re-exported)
from goodbadgreedy.generation.prefix_cache import PrefixCache

#: Every matrix product runs over a multiple of this many rows. The products are computed as
#: ``(W @ x^T)^T`` (:func:`~goodbadgreedy.generation.attention.make_linears_row_invariant`),
#: which on this CPU gives a row the same bits for any row count from 2 up; a single row goes
#: through a matrix-vector kernel with other last bits (seen: 3e-5 in a logit), and plain
#: ``F.linear`` even differed between 8 and 16 rows. So prefill chunks are padded to whole
#: blocks and decoding batches are topped up with copies of a live row ("ghost rows") whose
#: outputs are never read (they skip the attention; the GEMMs still see whole blocks).
ROW_BLOCK = 8

#: Prompts are prefilled in chunks of this many tokens, aligned at position 0 (a multiple of
#: ROW_BLOCK). Full chunks are cached by their token ids (:class:`~.prefix_cache.PrefixCache`): a prompt
#: that starts with the same chunks as an earlier one reuses their keys/values. Chosen by
#: measurement (prefill seconds of the default profile's prompts, 1 thread, loaded machine;
#: chunks of 32 / 128 / 256 / one pass per prompt): GSM8K 6 prompts 6.3 / 4.2 / 4.1 / 14.9,
#: HumanEval 8 prompts 13.0 / 6.7 / 5.4 / 5.6, MMLU-Redux 16 prompts 7.6 / 5.7 / 5.2 / 5.2. A
#: forward pass has a large fixed cost here, so small chunks lose more than their finer sharing
#: gains (GSM8K shares 768 of its 805 common tokens at 128 and at 256; the 32-48 tokens MMLU-Redux
#: and HumanEval prompts share are below one chunk either way).
PREFILL_CHUNK = 256


def _round_up(n: int, block: int = ROW_BLOCK) -> int:
    return max(block, -(-n // block) * block)


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


def chosen_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Log-probability of one chosen token per row under ``softmax(logits)``.

    ``log_softmax`` over the last dimension, in float32, read at the chosen tokens. Its CPU kernel
    computes each row whole, by one thread, with the same vector code whatever the number of
    rows, so a row's value does not depend on its neighbours in the batch (the sample cache
    reuses them; tested). A ``logsumexp`` reduction does not have that property: it split one
    row's sum across threads differently than a batch's (seen: other last bits for a row alone
    than in a batch of 8, 2 threads).

    Args:
        logits: (rows, vocab) float32 logits; entries of ``-inf`` (filtered tokens) allowed, not a
            whole row of them.
        tokens: (rows,) int64 chosen token ids.

    Returns:
        (rows,) float32 log-probabilities in nats.
    """
    return torch.log_softmax(logits, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def next_tokens(
    logits: torch.Tensor,
    params: SamplingParams,
    seen: torch.Tensor | None,
    generators: Sequence[torch.Generator | None],
    *,
    with_logprobs: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Choose the next token of every row.

    Args:
        logits: (rows, vocab) logits of the last position.
        params: decoding parameters.
        seen: (rows, vocab) bool mask of tokens in each row's sequence (for the repetition
            penalty); may be None when the penalty is 1.
        generators: one CPU ``torch.Generator`` per row (None rows only under greedy decoding).
        with_logprobs: also return the chosen tokens' log-probabilities. They are read off the
            tensors the choice is made from, after the choice, so the tokens (and every random
            draw) are exactly those of ``with_logprobs=False``.

    Returns:
        (rows,) int64 token ids on ``logits.device``; with ``with_logprobs``, the tuple
        ``(tokens, raw, processed)`` with two (rows,) float32 tensors in nats: ``raw`` the
        tokens' log-probabilities under ``softmax`` of the float32 logits before any processor,
        ``processed`` under the distribution sampled from (after the repetition penalty,
        temperature, top-k and top-p; greedy: after the repetition penalty only).
    """
    logits = raw = logits.float()
    if seen is not None:
        logits = apply_repetition_penalty(logits, seen, params.repetition_penalty)
    if params.greedy:
        toks = logits.argmax(dim=-1)
    else:
        logits = logits / params.temperature
        logits = warp_top_k(logits, params.top_k)
        logits = warp_top_p(logits, params.top_p)
        probs = logits.softmax(dim=-1)
        u = torch.stack([torch.rand((), generator=g, dtype=torch.float64) for g in generators])
        toks = sample_inverse_cdf(probs, u).to(logits.device)
    if not with_logprobs:
        return toks
    processed = chosen_logprobs(logits, toks) if logits is not raw else None
    raw_lp = chosen_logprobs(raw, toks)
    return toks, raw_lp, (raw_lp if processed is None else processed)


@dataclass
class _Row:
    prompt_idx: int
    sample_pos: int
    seed: int | None
    generator: torch.Generator | None
    sample: Sample = field(default_factory=lambda: Sample(logprobs=[], processed_logprobs=[]))


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
    on_sample_done: SampleCallback | None = None,
    progress: bool = True,
    prefix_cache: PrefixCache | None = None,
) -> list[list[Sample]]:
    """Generate ``len(seeds[i])`` samples for every prompt ``i``.

    Rows (prompt, sample) are decoded with continuous batching: up to ``batch_size`` rows run
    together, and a row that finishes hands its slot to the next queued row at once (its prompt
    prefilled, or its KV cache copied from a sibling sample's prefill), so no step is spent on
    padding finished rows to the longest one.

    Args:
        model: a transformers causal LM (eval mode) on its device, loaded with the batch-
            invariant attention (:func:`goodbadgreedy.generation.model.load_model`).
        tokenizer: its tokenizer (for EOS ids, padding and decoding).
        prompts: token ids of each prompt (chat template already applied).
        seeds: per prompt, one seed per sample (None allowed only for greedy decoding). The
            number of seeds is the number of samples for that prompt.
        params: decoding parameters.
        stop: stop sequences; the response is cut before the first one.
        batch_size: most rows (samples) decoded together.
        on_sample_done: called with (prompt index, sample position, the :class:`Sample`) the
            moment a row finishes, before the next decoding step (the generate stage persists
            the sample there, so a killed run loses only the rows in flight). It runs in this
            thread; decoding waits for it.
        progress: show a tqdm progress bar with tokens/s on stderr.
        prefix_cache: the KV of prompt chunks already computed (shared across calls on the same
            model, e.g. by the ``hf`` backend); None: a fresh one for this call. Its ``chunk``
            must be a multiple of :data:`ROW_BLOCK`, and a cache must never be shared between
            models or dtypes.

    Returns:
        ``out[i][j]``: sample j of prompt i.

    Raises:
        ConfigError: a sampling config got a None seed, ``batch_size`` < 1, or a prefix cache
            whose chunk is not a multiple of :data:`ROW_BLOCK`.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size={batch_size} must be >= 1")
    if len(prompts) != len(seeds):
        raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seed lists")
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
    if not rows:
        return out
    # longest prompts first: every later prompt fits in the KV timeline the first ones opened,
    # and the samples of one prompt are adjacent (they share its prefill and attention calls)
    rows.sort(key=lambda r: (-len(prompts[r.prompt_idx]), r.prompt_idx, r.sample_pos))

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(rows), desc="generate", unit="sample", dynamic_ncols=True)
    t0, n_tok, shown = time.perf_counter(), 0, 0.0

    def generated(n: int) -> None:
        """``n`` tokens were just decoded (one per live row): the bar's tok/s counts them all."""
        nonlocal n_tok, shown
        n_tok += n
        now = time.perf_counter()
        if bar is not None and now - shown > 1.0:
            shown = now
            bar.set_postfix(tok_s=f"{n_tok / max(now - t0, 1e-9):.1f}")

    def finished(r: _Row) -> None:
        out[r.prompt_idx][r.sample_pos] = r.sample
        if on_sample_done is not None:
            on_sample_done(r.prompt_idx, r.sample_pos, r.sample)
        if bar is not None:
            bar.update(1)

    if prefix_cache is None:
        prefix_cache = PrefixCache(PREFILL_CHUNK)
    elif prefix_cache.chunk % ROW_BLOCK:
        raise ConfigError(f"prefix cache chunk {prefix_cache.chunk} must be a multiple of ROW_BLOCK={ROW_BLOCK}")
    from goodbadgreedy.generation.attention import make_linears_row_invariant

    make_linears_row_invariant(model)
    _Batcher(model, tokenizer, prompts, params, stop, min(batch_size, len(rows)), prefix_cache).run(
        rows, finished, generated)
    if bar is not None:
        bar.close()
    return out


class _Batcher:
    """Continuous batching over a fixed set of slots (see :func:`generate`).

    State, for ``B`` slots (a multiple of :data:`ROW_BLOCK`): the KV cache (B rows on one shared
    timeline of ``length`` columns; a row's prompt is right-aligned at the column where it was
    admitted and the columns before it are masked), ``attn`` (B, length) the mask, ``next_pos``
    (B,) each row's next position id, ``logits`` (B, vocab) each row's pending next-token logits,
    ``seen`` (B, vocab) the tokens in each row's sequence (repetition penalty only). Free slots
    hold stale copies and are computed but never read (so every GEMM sees whole row blocks).
    """

    def __init__(self, model, tokenizer, prompts, params: SamplingParams, stop, batch_size: int,
                 prefix_cache: PrefixCache):
        self.model, self.tokenizer, self.prompts, self.params, self.stop = model, tokenizer, prompts, params, stop
        self.device = next(model.parameters()).device
        self.eos = _eos_ids(tokenizer, model)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self.eos)
        self.vocab = model.get_output_embeddings().weight.shape[0]
        self.n_layers = model.config.get_text_config().num_hidden_layers
        self.batch_size = batch_size
        self.decoder = model.get_decoder()
        self.prefix_cache = prefix_cache
        self.slots: list[_Row | None] = []
        # prefilled prompts whose samples are still queued: prompt -> (per-layer (k, v), logits)
        self.prefixes: dict[int, tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]] = {}

    # ----- the loop -----
    def run(self, queue: list[_Row], finished: Callable[[_Row], None], generated: Callable[[int], None]) -> None:
        queue = list(queue)
        self.queued = {}
        for r in queue:
            self.queued[r.prompt_idx] = self.queued.get(r.prompt_idx, 0) + 1
        self._start(queue)
        max_steps = self.params.max_new_tokens
        while True:
            live = [i for i, r in enumerate(self.slots) if r is not None]
            if not live:
                if not queue:
                    return
                self._start(queue)
                continue
            n_free = self.batch_size - len(live)
            if queue and n_free > 0:
                self._admit(queue, n_free)
                live = [i for i, r in enumerate(self.slots) if r is not None]
            idx = torch.tensor(live, dtype=torch.long, device=self.device)
            rows = [self.slots[i] for i in live]
            toks, raw_lp, proc_lp = next_tokens(
                self.logits.index_select(0, idx)[:, : self.vocab],
                self.params,
                None if self.seen is None else self.seen.index_select(0, idx),
                [r.generator for r in rows],
                with_logprobs=True,
            )
            for r, a, b in zip(rows, raw_lp.tolist(), proc_lp.tolist(), strict=True):
                r.sample.logprobs.append(a)
                r.sample.processed_logprobs.append(b)
            step_ids = torch.full((len(self.slots),), self.pad_id, dtype=torch.long, device=self.device)
            step_ids[idx] = toks
            if self.seen is not None:
                self.seen[idx, toks] = True
            generated(len(rows))
            for i, r, t in zip(live, rows, toks.tolist(), strict=True):
                if self._append(r, t, max_steps):
                    self.slots[i] = None
                    finished(r)
            live = [i for i, r in enumerate(self.slots) if r is not None]
            if not live:
                continue
            if not queue and _round_up(len(live)) < len(self.slots):
                step_ids = self._compact(live, step_ids)
            self._step(step_ids)

    def _append(self, r: _Row, t: int, max_steps: int) -> bool:
        """Add token ``t`` to the row's sample; return True if the sample is finished."""
        s = r.sample
        s.token_ids.append(t)
        if t in self.eos:
            s.finish_reason = "eos"
            _finish_text(self.tokenizer, s, self.eos, ())
            return True
        if self.stop:
            cut = _finish_text(self.tokenizer, s, self.eos, self.stop)
            if cut is not None:
                s.text, s.finish_reason = cut, "stop"
                return True
        if len(s.token_ids) >= max_steps:
            s.finish_reason = "length"
            _finish_text(self.tokenizer, s, self.eos, ())
            return True
        return False

    # ----- prefill -----
    def _prefill(self, prompt_ids: list[int]) -> None:
        """Prefill the prompts not yet prefilled, chunk by chunk; keep their KV and last logits.

        A prompt of n tokens is run through the model in chunks of :data:`PREFILL_CHUNK` tokens
        aligned at position 0 (chunk i holds positions ``i*C .. (i+1)*C - 1``; the last chunk is
        right-padded to whole :data:`ROW_BLOCK` rows). The full chunks before the last one are
        looked up in (and added to) the prefix cache, so a prefix shared with an earlier prompt
        is not computed again; since every chunk is always computed with the same shapes, a
        cached chunk holds exactly the bits a fresh computation would give.
        """
        from goodbadgreedy.generation.cache import PreallocatedCache

        C = self.prefix_cache.chunk
        for p in dict.fromkeys(prompt_ids):
            if p in self.prefixes:
                continue
            ids = list(self.prompts[p])
            n = len(ids)
            if n == 0:
                raise ValueError(f"prompt {p} has no tokens")
            n_chunks = -(-n // C)
            cached = self.prefix_cache.lookup(ids, n_chunks - 1)  # the last chunk is always computed
            width = (n_chunks - 1) * C + _round_up(n - (n_chunks - 1) * C)
            cache = PreallocatedCache(self.n_layers, width)
            start = len(cached) * C
            if cached:
                first = cached[0]
                for layer, (k0, v0) in zip(cache.layers, first, strict=True):
                    layer.lazy_initialization(k0.unsqueeze(0), v0.unsqueeze(0))
                for i, chunk_kv in enumerate(cached):
                    for layer, (k, v) in zip(cache.layers, chunk_kv, strict=True):
                        layer._k[0, :, i * C : (i + 1) * C] = k
                        layer._v[0, :, i * C : (i + 1) * C] = v
                for layer in cache.layers:
                    layer.length = start
                    layer.keys, layer.values = layer._k[:, :, :start], layer._v[:, :, :start]
            logits = None
            for i in range(len(cached), n_chunks):
                lo, hi = i * C, min((i + 1) * C, n)
                m = hi - lo if hi - lo == C else _round_up(hi - lo)
                chunk = torch.full((1, m), self.pad_id, dtype=torch.long)
                chunk[0, : hi - lo] = torch.tensor(ids[lo:hi], dtype=torch.long)
                last = i == n_chunks - 1
                keep = 0
                if last:  # the lm_head sees the whole 8-row block that holds the last real token
                    b0 = (hi - lo - 1) // ROW_BLOCK * ROW_BLOCK
                    keep = torch.arange(b0, b0 + ROW_BLOCK, device=self.device)
                kwargs = dict(
                    input_ids=chunk.to(self.device),
                    attention_mask=torch.ones((1, lo + m), dtype=torch.long, device=self.device),
                    position_ids=torch.arange(lo, lo + m, device=self.device).unsqueeze(0),
                    cache=cache, use_cache=True,
                )
                # a middle chunk needs no logits: the decoder alone (no lm_head)
                res = self.model(**kwargs, logits_to_keep=keep) if last else self.decoder(**kwargs)
                cache = res.cache
                for layer in cache.layers:  # drop the padding's keys/values
                    layer.length = hi
                    layer.keys, layer.values = layer._k[:, :, :hi], layer._v[:, :, :hi]
                if last:
                    logits = res.logits[0, (hi - lo - 1) - b0, :]
                elif hi - lo == C:
                    self.prefix_cache.insert(
                        ids, i, [(layer._k[0, :, lo:hi].clone(), layer._v[0, :, lo:hi].clone())
                                 for layer in cache.layers])
            self.prefixes[p] = ([(layer._k[0, :, :n], layer._v[0, :, :n]) for layer in cache.layers], logits)

    def _take(self, queue: list[_Row], n: int) -> list[_Row]:
        taken, queue[:] = queue[:n], queue[n:]
        return taken

    def _start(self, queue: list[_Row]) -> None:
        """Open a fresh batch: slots for the first rows of the queue.

        The timeline is as wide as the longest prompt (rounded up to whole blocks), with room for
        max_new_tokens more columns.
        """
        from goodbadgreedy.generation.cache import PreallocatedCache

        taken = self._take(queue, self.batch_size)
        B = _round_up(len(taken))
        width = _round_up(max(len(self.prompts[r.prompt_idx]) for r in taken))
        self.cache = PreallocatedCache(self.n_layers, width + 2 * self.params.max_new_tokens)
        self.length = width
        self.slots = [None] * B
        self.attn = torch.zeros((B, width), dtype=torch.long, device=self.device)
        self.next_pos = torch.zeros((B,), dtype=torch.long, device=self.device)
        self.logits = None
        self.seen = None
        if self.params.repetition_penalty != 1.0:
            self.seen = torch.zeros((B, self.vocab), dtype=torch.bool, device=self.device)
        self._prefill([r.prompt_idx for r in taken])
        kv, _ = self.prefixes[taken[0].prompt_idx]
        dtype = kv[0][0].dtype
        heads, dim = kv[0][0].shape[0], kv[0][0].shape[-1]
        for layer in self.cache.layers:
            layer.lazy_initialization(torch.empty((B, heads, 0, dim), dtype=dtype, device=self.device),
                                      torch.empty((B, heads, 0, dim), dtype=dtype, device=self.device))
            layer.length = width
            layer.keys, layer.values = layer._k[:, :, :width], layer._v[:, :, :width]
        self.logits = torch.empty((B, self.prefixes[taken[0].prompt_idx][1].shape[-1]),
                                  dtype=self.prefixes[taken[0].prompt_idx][1].dtype, device=self.device)
        # never-used slots become copies of the first row (finite values: ghost rows are computed)
        for i in range(len(taken), B):
            self._place(i, taken[0], ghost=True)
        for i, r in enumerate(taken):
            self._place(i, r)

    def _admit(self, queue: list[_Row], n: int) -> None:
        taken = self._take(queue, n)
        self._prefill([r.prompt_idx for r in taken])
        free = [i for i, r in enumerate(self.slots) if r is None]
        for i, r in zip(free, taken, strict=False):
            self._place(i, r)

    def _place(self, slot: int, r: _Row, ghost: bool = False) -> None:
        """Put row ``r`` (its prompt prefilled) in ``slot``, right-aligned at the current column."""
        kv, logits = self.prefixes[r.prompt_idx]
        n = kv[0][0].shape[1]
        if n > self.length:  # cannot happen with longest-first order; kept as a guard
            raise RuntimeError(f"prompt of {n} tokens admitted into a timeline of {self.length}")
        lo = self.length - n
        for layer, (k, v) in zip(self.cache.layers, kv, strict=True):
            layer._k[slot, :, lo : self.length] = k
            layer._v[slot, :, lo : self.length] = v
        self.attn[slot].zero_()
        self.attn[slot, lo:] = 1
        self.next_pos[slot] = n
        self.logits[slot] = logits
        if self.seen is not None:
            self.seen[slot].zero_()
            self.seen[slot, torch.tensor(list(self.prompts[r.prompt_idx]), dtype=torch.long, device=self.device)] = True
        if ghost:
            return
        self.slots[slot] = r
        self.queued[r.prompt_idx] -= 1
        if self.queued[r.prompt_idx] == 0:
            del self.prefixes[r.prompt_idx]

    # ----- decoding -----
    def _compact(self, live: list[int], step_ids: torch.Tensor) -> torch.Tensor:
        """Drop free slots down to whole blocks.

        Live rows keep their order; the last live row is repeated as ghost rows to fill the last
        block.
        """
        kept = live + [live[-1]] * (_round_up(len(live)) - len(live))
        idx = torch.tensor(kept, dtype=torch.long, device=self.device)
        self.cache.batch_select_indices(idx)
        self.attn, self.next_pos = self.attn.index_select(0, idx), self.next_pos.index_select(0, idx)
        if self.seen is not None:
            self.seen = self.seen.index_select(0, idx)
        self.slots = [self.slots[i] for i in live] + [None] * (len(kept) - len(live))
        return step_ids.index_select(0, idx)

    def _make_room(self) -> None:
        """Make room before a step on a full timeline.

        Drop the leading columns that no live row attends to (shift the cache left), or grow the
        cache when every column is still in use.
        """
        layer0 = self.cache.layers[0]
        if self.length < layer0.capacity:
            return
        live = torch.tensor(
            [i for i, r in enumerate(self.slots) if r is not None], dtype=torch.long, device=self.device
        )
        first = int(self.attn.index_select(0, live).to(torch.int8).argmax(dim=-1).min())
        keep = self.length - first
        grow = max(0, keep + self.params.max_new_tokens - layer0.capacity)
        for layer in self.cache.layers:
            k, v = layer._k[:, :, first : self.length].clone(), layer._v[:, :, first : self.length].clone()
            if grow:
                layer.capacity += grow
                layer._k = layer._k.new_empty((k.shape[0], k.shape[1], layer.capacity, k.shape[3]))
                layer._v = layer._v.new_empty((v.shape[0], v.shape[1], layer.capacity, v.shape[3]))
            layer._k[:, :, :keep], layer._v[:, :, :keep] = k, v
            layer.length = keep
            layer.keys, layer.values = layer._k[:, :, :keep], layer._v[:, :, :keep]
        self.attn = self.attn[:, first:].contiguous()
        self.length = keep

    def _step(self, step_ids: torch.Tensor) -> None:
        """One decoding step for every slot (free slots included, as ghost rows)."""
        self._make_room()
        B = len(self.slots)
        self.attn = torch.cat([self.attn, torch.ones((B, 1), dtype=self.attn.dtype, device=self.device)], dim=1)
        # ghost rows and free slots skip the attention (their outputs are never read); the GEMMs
        # still see whole row blocks
        res = self.model(input_ids=step_ids.unsqueeze(-1), attention_mask=self.attn,
                         position_ids=self.next_pos.unsqueeze(-1), cache=self.cache, use_cache=True,
                         gbg_prompts=[None if r is None else (r.prompt_idx, len(self.prompts[r.prompt_idx]))
                                      for r in self.slots])
        self.cache = res.cache
        self.length += 1
        self.logits = res.logits[:, -1, :]
        self.next_pos = self.next_pos + 1
