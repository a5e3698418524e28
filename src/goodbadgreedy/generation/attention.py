"""Batch-invariant attention for the ``hf`` backend.

Why: with left padding, a row's keys sit at a different offset in a padded batch than when the
row runs alone. Vectorized reductions then associate the same numbers differently and the logits
differ in the last bits (seen here: up to 4e-5), enough to flip a sampled token now and then. A
sample's text would then depend on which other prompts share its batch.

What: attention computed on each row's *unpadded* span of keys, so each row sees exactly the
tensors (same shapes, same offsets) it would see alone; adjacent rows with the same span (the N
samples of one prompt) share one kernel call. The kernel runs on one thread: PyTorch's CPU
flash-attention kernel partitions its work by the thread count *and* the batch size, and with
two threads a row's last bits changed with the number of rows in the call (seen here for
one-token queries); with one thread every row's result is the same whatever the call holds
(tested), and it no longer depends on the machine's core count either. One thread also avoids
waking the thread pool for hundreds of tiny calls per step (seen here: 128 one-row calls took
760 ms per layer with two threads under load, 10 ms with one); the thread count is switched only
when the job runs more than one thread (it was switched 60 times per decoding step before). Rows
whose output is never read (the engine's ghost rows in a decoding step, a None in
``gbg_prompts``) get no kernel call. The
projections and MLP stay batched: :func:`make_linears_row_invariant` computes them so that a row's
result does not depend on the number of rows in the call (checked in the tests on this CPU).

Which kernel: PyTorch picks its CPU flash-attention kernel only when the query's last dimension
is contiguous; otherwise it silently takes the composite "math" path, which copies every row's
keys and values once per query-head group (grouped-query attention) and rescales them on every
call. The ``(W @ x^T)^T`` projections returned a transposed (column-major) result, so from their
introduction until this was found every call took the math path: on the default profile's GSM8K
prompts (6 x N = 4, 48 new tokens, 1 thread) attention took 52 of a 72 s run. Their result is now
made contiguous (a copy of rows x out_features values, exact) and the same run took 26.6 s
(tested: ``test_engine_attention_never_takes_the_math_kernel``). Decoding steps go through
:func:`split_prompt_attention`, which reads a prompt's keys once for all its samples.

Registered under the name :data:`ATTN_IMPLEMENTATION` with transformers' ``AttentionInterface``
(and the sdpa mask builder), for any model whose attention layers call the attention interface
(Llama, Mistral, Qwen2, Gemma, ... in transformers 5).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F

ATTN_IMPLEMENTATION = "gbg_rowwise"


def rowwise_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    gbg_prompts: list[tuple[int, int] | None] | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """Attention over each row's valid key span, on one thread (see the module docstring).

    Args:
        module: the attention layer (its ``num_key_value_groups`` > 1 means grouped-query attention).
        query: (batch, heads, q_len, head_dim).
        key: (batch, kv_heads, kv_len, head_dim).
        value: (batch, kv_heads, kv_len, head_dim).
        attention_mask: (batch, 1, q_len, kv_len) bool mask from transformers' sdpa mask builder
            (True = attend), or None when no row is padded. Padding is on the left: a row's
            valid keys are a contiguous span ending at kv_len.
        dropout: ignored (inference only: no attention dropout).
        scaling: the softmax scale (None: 1/sqrt(head_dim)).
        gbg_prompts: decoding steps only (``q_len == 1``): per batch row, ``(prompt id, prompt
            length)``, or None for a row whose output is never read (the engine's ghost rows and
            free slots: no kernel call, zeros). Rows with the same prompt id
            hold the same keys/values in their first ``prompt length`` valid columns (copies of
            one prefill): see :func:`split_prompt_attention`. None: one pass over each row's keys.
        **kwargs: the other arguments of transformers' attention interface, ignored.

    Returns:
        ``(output, None)`` with output (batch, q_len, heads, head_dim); outputs at padded query
        positions are zeros (never read: their logits are not used).
    """
    bsz, heads, q_len, head_dim = query.shape
    kv_len = key.shape[2]
    gqa = getattr(module, "num_key_value_groups", 1) > 1
    if attention_mask is None:
        starts = [0] * bsz
    else:
        valid = attention_mask[:, 0, -1, :]
        if valid.dtype != torch.bool:
            valid = valid == 0  # additive float mask: 0 where attended
        first = valid.to(torch.int8).argmax(dim=-1)
        starts = first.tolist()
    if gbg_prompts is not None and q_len == 1:
        out = split_prompt_attention(module, query, key, value, starts, gbg_prompts, scaling)
        return out.transpose(1, 2).contiguous(), None
    out = query.new_zeros((bsz, heads, q_len, head_dim))
    with _one_thread():
        b = 0
        while b < bsz:
            # a run of adjacent rows with the same key span goes through one kernel call
            s, e = starts[b], b + 1
            while e < bsz and starts[e] == s:
                e += 1
            # strided views, no copies: the kernel's results do not depend on strides (tested),
            # and grouped-query attention is done by the kernel (enable_gqa), not by repeating K/V
            q_from = max(q_len - (kv_len - s), 0)  # queries at padded positions are skipped
            n_q, n_k = q_len - q_from, kv_len - s
            mask = None
            if 1 < n_q < n_k:
                # a chunk on top of cached keys: causal aligned bottom-right (query t sees keys
                # up to n_k - n_q + t); SDPA's is_causal would align it top-left
                mask = torch.ones((n_q, n_k), dtype=torch.bool, device=query.device).tril(n_k - n_q)
            out[b:e, :, q_from:, :] = F.scaled_dot_product_attention(
                query[b:e, :, q_from:, :],
                key[b:e, :, s:, :],
                value[b:e, :, s:, :],
                attn_mask=mask,
                is_causal=mask is None and n_q > 1,
                scale=scaling,
                enable_gqa=gqa,
            )
            b = e
    return out.transpose(1, 2).contiguous(), None


@contextmanager
def _one_thread():
    """Run the block on one torch thread (see the module docstring), restoring the count after.

    The count is switched only when it is not 1: setting it costs a thread-pool round trip even
    when unchanged.
    """
    threads = torch.get_num_threads()
    if threads != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads != 1:
            torch.set_num_threads(threads)


def _flash(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scale: float):
    """PyTorch's CPU flash-attention kernel, non-causal: ``(output, logsumexp)``.

    Shapes: query (b, kv_heads, m, head_dim), key/value (b, kv_heads, n, head_dim) ->
    output (b, kv_heads, m, head_dim), logsumexp (b, kv_heads, m) of the scaled scores (nats).
    """
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(query, key, value, scale=scale)[:2]
    return out, lse


def split_prompt_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    starts: list[int],
    prompts: list[tuple[int, int] | None],
    scaling: float | None,
) -> torch.Tensor:
    """Decoding-step attention split at the prompt's end, the prompt part once per prompt.

    Every row's keys are split the same way, whatever else the batch holds: part A, the row's
    prompt (its first ``prompt length`` valid columns), and part B, the tokens it generated. The
    two parts are attended separately by the CPU flash kernel, each giving an output and the
    log-sum-exp of its scores, and merged exactly as a softmax over the union is (Milakov &
    Gimelshein 2018, "Online normalizer calculation for softmax"; the cascade / shared-prefix
    attention of Hydragen, Juravsky et al. 2024, and FlashInfer):

        o = (o_A * exp(l_A - m) + o_B * exp(l_B - m)) / (exp(l_A - m) + exp(l_B - m)),  m = max(l_A, l_B)

    The N samples of a prompt hold copies of the same prompt keys/values, so part A is computed
    once for all of them: their queries (and the query heads that share a key/value head under
    grouped-query attention) go through one kernel call as rows of one query block, reading the
    prompt's keys once instead of N times. On this CPU (one thread) a query's result does not
    depend on the other queries of the call (tested), so a sample's bits are the same alone,
    with its siblings, or next to other prompts.

    Args:
        module: the attention layer (unused; the interface's first argument).
        query: (batch, heads, 1, head_dim).
        key: (batch, kv_heads, kv_len, head_dim).
        value: (batch, kv_heads, kv_len, head_dim).
        starts: per row, its first valid key column (left padding before it).
        prompts: per row, ``(prompt id, prompt length)``, or None (output never read: zeros).
        scaling: the softmax scale (None: 1/sqrt(head_dim)).

    Returns:
        (batch, heads, 1, head_dim).

    Raises:
        ValueError: ``heads`` is not a multiple of ``kv_heads``, or a row has no generated key
            (a decoding step always has the current token's).
    """
    bsz, heads, _, head_dim = query.shape
    kv_heads, kv_len = key.shape[1], key.shape[2]
    if heads % kv_heads:
        raise ValueError(f"{heads} query heads for {kv_heads} key/value heads")
    rep = heads // kv_heads
    scale = scaling if scaling is not None else head_dim**-0.5
    # query head h attends with key/value head h // rep (transformers' repeat_kv order)
    q = query.reshape(bsz, kv_heads, rep, head_dim)
    o_a = q.new_zeros((bsz, kv_heads, rep, head_dim))
    o_b = torch.zeros_like(o_a)
    l_a = q.new_zeros((bsz, kv_heads, rep))
    l_b = torch.zeros_like(l_a)
    groups: dict[int, list[int]] = {}
    for b, p in enumerate(prompts):
        if p is not None:
            groups.setdefault(p[0], []).append(b)
    with _one_thread():
        for rows in groups.values():
            r0, n_prompt = rows[0], prompts[rows[0]][1]
            s0 = starts[r0]
            if s0 + n_prompt >= kv_len:
                raise ValueError(f"row {r0}: no generated key after its {n_prompt} prompt keys")
            n = len(rows)
            idx = torch.tensor(rows, dtype=torch.long, device=query.device)
            # (n, kv, rep, d) -> (1, kv, n * rep, d): one query block per key/value head
            qg = q.index_select(0, idx).transpose(0, 1).reshape(1, kv_heads, n * rep, head_dim)
            out, lse = _flash(qg, key[r0 : r0 + 1, :, s0 : s0 + n_prompt], value[r0 : r0 + 1, :, s0 : s0 + n_prompt],
                              scale)
            o_a[idx] = out.reshape(kv_heads, n, rep, head_dim).transpose(0, 1)
            l_a[idx] = lse.reshape(kv_heads, n, rep).transpose(0, 1)
        # part B: runs of adjacent rows whose generated keys start at the same column, one call each
        b = 0
        while b < bsz:
            if prompts[b] is None:
                b += 1
                continue
            g0 = starts[b] + prompts[b][1]
            e = b + 1
            while e < bsz and prompts[e] is not None and starts[e] + prompts[e][1] == g0:
                e += 1
            out, lse = _flash(q[b:e], key[b:e, :, g0:], value[b:e, :, g0:], scale)
            o_b[b:e], l_b[b:e] = out, lse
            b = e
    m = torch.maximum(l_a, l_b)
    w_a, w_b = torch.exp(l_a - m).unsqueeze(-1), torch.exp(l_b - m).unsqueeze(-1)
    out = (o_a * w_a + o_b * w_b) / (w_a + w_b)
    live = torch.tensor([p is not None for p in prompts], device=query.device)
    out = torch.where(live.view(bsz, 1, 1, 1), out, torch.zeros_like(out))
    return out.reshape(bsz, heads, 1, head_dim)


def register() -> str:
    """Register the row-wise attention with transformers; return its implementation name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTN_IMPLEMENTATION, rowwise_attention_forward)
    AttentionMaskInterface.register(ATTN_IMPLEMENTATION, sdpa_mask)
    return ATTN_IMPLEMENTATION


def _row_invariant_linear(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``nn.Linear.forward`` as ``(W @ x^T)^T``: see :func:`make_linears_row_invariant`.

    The result is made contiguous: a transposed view would send the attention that reads the
    projected queries to PyTorch's slow math kernel (see the module docstring).
    """
    flat = x.reshape(-1, x.shape[-1])
    y = torch.mm(self.weight, flat.t()).t().contiguous()
    if self.bias is not None:
        y = y + self.bias
    return y.reshape(*x.shape[:-1], y.shape[-1])


def make_linears_row_invariant(model: torch.nn.Module) -> torch.nn.Module:
    """Compute every ``nn.Linear`` of ``model`` as ``(W @ x^T)^T`` instead of ``x @ W^T`` (in place).

    Why: measured on this CPU (MKL, AVX-512, one thread) with the packaged model's shapes (576 x
    576, 192 x 576, 1536 x 576, 576 x 1536, 49152 x 576): ``F.linear`` gives a row other last
    bits in an 8-row call than in a call of 16 or more rows (it takes another kernel for small
    M), so a decoding batch of 8 rows and one of 16 disagreed. With the weight as the left
    operand, a row's result is the same for every row count from 2 to 512 and every position
    (1 is the exception: a matrix-vector kernel; the engine never runs fewer than
    ``engine.ROW_BLOCK`` rows), and the 8-row product costs about its 1-row one instead of 2-3x
    (``F.linear`` repacks the transposed weight on every call). With two threads the 576 x 1536
    product still changed between 40 and 64 rows: the engine's bitwise guarantees are measured
    with one torch thread.

    Idempotent; returns ``model``.
    """
    import types

    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and not getattr(module, "_gbg_row_invariant", False):
            module.forward = types.MethodType(_row_invariant_linear, module)
            module._gbg_row_invariant = True
    return model
