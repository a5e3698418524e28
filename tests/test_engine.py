"""The decoding engine: reproducibility per sample, agreement with transformers, parameters."""

from __future__ import annotations

import pytest
import torch

from goodbadgreedy.errors import ConfigError
from goodbadgreedy.generation.engine import (
    SamplingParams,
    generate,
    sample_inverse_cdf,
    warp_top_k,
    warp_top_p,
)

QUESTIONS = [
    "What is 2+3?",
    "Write a haiku about the sea.",
    "hi",
    "Tell me a long story about a dragon and a knight who become friends one day.",
    "Name three colors.",
]


@pytest.fixture(scope="module")
def prompts(tokenizer):
    return [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": q}], add_generation_prompt=True, tokenize=True, return_dict=False
        )
        for q in QUESTIONS
    ]


def _ids(out):
    return [[s.token_ids for s in row] for row in out]


def test_greedy_matches_transformers_generate(tiny_model, tokenizer, prompts):
    params = SamplingParams(do_sample=False, max_new_tokens=12)
    out = generate(tiny_model, tokenizer, prompts, [[None]] * len(prompts), params, batch_size=3, progress=False)
    for p, row in zip(prompts, out, strict=True):
        ref = tiny_model.generate(
            torch.tensor([p]), max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
        assert row[0].token_ids == ref[0, len(p):].tolist()


def test_sample_text_independent_of_batch_size_and_n(tiny_model, tokenizer, prompts):
    params = SamplingParams(do_sample=True, temperature=1.0, max_new_tokens=20)
    seeds8 = [[1000 * i + j for j in range(8)] for i in range(len(prompts))]
    seeds4 = [s[:4] for s in seeds8]
    big = generate(tiny_model, tokenizer, prompts, seeds8, params, batch_size=8, progress=False)
    one = generate(tiny_model, tokenizer, prompts, seeds4, params, batch_size=1, progress=False)
    odd = generate(tiny_model, tokenizer, prompts, seeds4, params, batch_size=5, progress=False)
    assert _ids(one) == [row[:4] for row in _ids(big)]
    assert _ids(odd) == _ids(one)
    # the samples really differ from each other (the test would be vacuous otherwise)
    assert len({tuple(s) for s in _ids(big)[0]}) > 1


def test_same_seed_same_sample_different_seed_different(tiny_model, tokenizer, prompts):
    params = SamplingParams(do_sample=True, temperature=1.0, max_new_tokens=16)
    a = generate(tiny_model, tokenizer, prompts[:1], [[7, 8]], params, progress=False)
    b = generate(tiny_model, tokenizer, prompts[:1], [[7]], params, progress=False)
    assert a[0][0].token_ids == b[0][0].token_ids
    assert a[0][0].token_ids != a[0][1].token_ids


def test_with_repetition_penalty_and_filters_still_invariant(tiny_model, tokenizer, prompts):
    params = SamplingParams(
        do_sample=True, temperature=0.7, top_p=0.9, top_k=50, repetition_penalty=1.3, max_new_tokens=16
    )
    seeds = [[11 * i + j for j in range(3)] for i in range(len(prompts))]
    a = generate(tiny_model, tokenizer, prompts, seeds, params, batch_size=15, progress=False)
    b = generate(tiny_model, tokenizer, prompts, seeds, params, batch_size=2, progress=False)
    assert _ids(a) == _ids(b)


def test_stop_sequence_cuts_and_reports(tiny_model, tokenizer, prompts):
    params = SamplingParams(do_sample=False, max_new_tokens=30)
    free = generate(tiny_model, tokenizer, prompts[:1], [[None]], params, progress=False)[0][0]
    assert len(free.text) > 3
    stop = free.text[2:4]
    cut = generate(tiny_model, tokenizer, prompts[:1], [[None]], params, stop=[stop], progress=False)[0][0]
    assert cut.finish_reason == "stop"
    assert cut.text == free.text[: free.text.find(stop)]
    assert stop not in cut.text


def test_length_finish_reason_and_token_count(tiny_model, tokenizer, prompts):
    params = SamplingParams(do_sample=True, max_new_tokens=5)
    out = generate(tiny_model, tokenizer, prompts, [[1]] * len(prompts), params, progress=False)
    for row in out:
        s = row[0]
        assert s.finish_reason in {"eos", "length"}
        assert s.n_tokens <= 5
        if s.finish_reason == "length":
            assert s.n_tokens == 5


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"repetition_penalty": 0.0}, "repetition_penalty"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
    ],
)
def test_invalid_params_rejected_naming_the_parameter(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        SamplingParams(do_sample=True, **kwargs)


def test_sampling_without_seed_rejected(tiny_model, tokenizer, prompts):
    with pytest.raises(ConfigError, match="seed"):
        generate(tiny_model, tokenizer, prompts[:1], [[None]], SamplingParams(do_sample=True), progress=False)


def test_top_p_keeps_smallest_nucleus():
    # probabilities 0.5, 0.3, 0.15, 0.05 -> top_p 0.8 keeps the first two (0.5 + 0.3 >= 0.8)
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(warp_top_p(logits, 0.8))[0].tolist()
    assert kept == [True, True, False, False]
    assert torch.isfinite(warp_top_p(logits, 0.4))[0].tolist() == [True, False, False, False]


def test_top_k():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    assert torch.isfinite(warp_top_k(logits, 2))[0].tolist() == [False, True, True, False]


def test_inverse_cdf_sampling_is_the_cdf():
    probs = torch.tensor([[0.1, 0.0, 0.6, 0.3]] * 4)
    u = torch.tensor([0.05, 0.1, 0.69, 0.71], dtype=torch.float64)
    # cdf = 0.1, 0.1, 0.7, 1.0: u in [0, .1) -> 0, [.1, .7) -> 2 (1 has zero mass), [.7, 1) -> 3
    assert sample_inverse_cdf(probs, u).tolist() == [0, 2, 2, 3]


@pytest.fixture
def eos_prone_model(tiny_model, tokenizer):
    """The tiny model with its EOS logit raised (about 8 % per step), so that samples finish at
    staggered steps and continuous batching refills slots one by one."""
    eos = tokenizer.eos_token_id

    def hook(module, inputs, output):
        output = output.clone()
        output[..., eos] += 8.4
        return output

    handle = tiny_model.lm_head.register_forward_hook(hook)
    yield tiny_model
    handle.remove()


def test_refilled_slots_give_the_same_samples(eos_prone_model, tokenizer, prompts, monkeypatch):
    from goodbadgreedy.generation import engine

    shifts = []
    make_room = engine._Batcher._make_room

    def counting(self):
        before = self.length
        make_room(self)
        if self.length != before:
            shifts.append(before - self.length)

    monkeypatch.setattr(engine._Batcher, "_make_room", counting)
    params = SamplingParams(do_sample=True, temperature=1.0, max_new_tokens=24)
    seeds = [[100 * i + j for j in range(6)] for i in range(len(prompts))]
    alone = generate(eos_prone_model, tokenizer, prompts, seeds, params, batch_size=1, progress=False)
    for bs in (3, 8):
        assert _ids(
            generate(eos_prone_model, tokenizer, prompts, seeds, params, batch_size=bs, progress=False)
        ) == _ids(alone)
    lengths = [len(s) for row in _ids(alone) for s in row]
    # not vacuous: samples ended at many different steps, and the KV timeline was shifted left
    assert len(set(lengths)) > 5 and min(lengths) < 24
    assert shifts


def test_greedy_with_refill_matches_transformers(eos_prone_model, tokenizer, prompts):
    params = SamplingParams(do_sample=False, max_new_tokens=16)
    out = generate(
        eos_prone_model, tokenizer, prompts * 2, [[None]] * (2 * len(prompts)), params, batch_size=2, progress=False
    )
    for p, row in zip(prompts * 2, out, strict=True):
        ref = eos_prone_model.generate(
            torch.tensor([p]), max_new_tokens=16, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
        ref_ids = ref[0, len(p):].tolist()
        if tokenizer.eos_token_id in ref_ids:
            ref_ids = ref_ids[: ref_ids.index(tokenizer.eos_token_id) + 1]
        assert row[0].token_ids == ref_ids


def test_each_sample_is_reported_the_moment_its_row_finishes(eos_prone_model, tokenizer, prompts):
    """``on_sample_done(i, j, sample)`` is called exactly once per sample, with the very object
    returned as ``out[i][j]``, the moment its row finishes: before the batch's next forward pass,
    not when its prompt's last sample is done.

    With every row in one batch (no refill) a sample of L tokens is finished after the prefill and
    L - 1 decoding steps (forward calls of one token per row), so the callback must see exactly
    L - 1 of them. A per-prompt callback would see L_max - 1 of its prompt for its shorter
    samples, and the samples' lengths within a prompt differ here (checked), so such a policy
    fails this test.
    """
    calls = []

    def count_decoding_steps(module, args, kwargs, output):
        if kwargs["input_ids"].shape[1] == 1:  # prefill chunks hold >= ROW_BLOCK tokens
            calls.append(1)

    handle = eos_prone_model.register_forward_hook(count_decoding_steps, with_kwargs=True)
    try:
        params = SamplingParams(do_sample=True, temperature=1.0, max_new_tokens=24)
        seeds = [[100 * i + j for j in range(6)] for i in range(len(prompts))]
        seen = []
        out = generate(eos_prone_model, tokenizer, prompts, seeds, params, batch_size=32, progress=False,
                       on_sample_done=lambda i, j, s: seen.append((i, j, s, len(calls))))
    finally:
        handle.remove()
    assert sorted((i, j) for i, j, _, _ in seen) == [(i, j) for i in range(len(prompts)) for j in range(6)]
    assert all(s is out[i][j] for i, j, s, _ in seen)
    assert all(n_steps == len(s.token_ids) - 1 for _, _, s, n_steps in seen)
    # not vacuous: within some prompt the samples end at different steps
    assert any(len({len(s.token_ids) for s in row}) > 1 for row in out)

    # with refilled slots (3 rows at a time) still once per sample, the returned object
    seen = []
    out = generate(eos_prone_model, tokenizer, prompts, seeds, params, batch_size=3, progress=False,
                   on_sample_done=lambda i, j, s: seen.append((i, j, s)))
    assert sorted((i, j) for i, j, _ in seen) == [(i, j) for i in range(len(prompts)) for j in range(6)]
    assert all(s is out[i][j] for i, j, s in seen)


# ----- prefix caching -----

SYSTEM = (
    "You are a careful assistant. Solve the problem step by step, then give the final answer on "
    "its own line. Example: Question: Tom has 3 apples and buys 2 more. How many apples? Answer: "
    "3 + 2 = 5. The answer is 5. Question: A box holds 4 rows of 6 eggs. How many eggs? Answer: "
    "4 * 6 = 24. The answer is 24."
)


@pytest.fixture(scope="module")
def shared_prompts(tokenizer):
    """Three prompts with a long common prefix (system + exemplars) and one without it."""
    def chat(system, q):
        msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": q}]
        return tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=False)

    return [chat(SYSTEM, "How many legs do 3 cats have?"), chat(SYSTEM, "What is 7 times 8?"),
            chat(SYSTEM, "A train travels 60 km in 1 hour. How far in 3 hours?"), chat(None, "hi there")]


def _prefill_bits(model, tokenizer, prompts, which, cache):
    """(KV per layer, last logits) of prompt ``which`` after prefilling ``prompts`` in order."""
    from goodbadgreedy.generation import engine
    from goodbadgreedy.generation.attention import make_linears_row_invariant

    make_linears_row_invariant(model)  # as engine.generate does
    b = engine._Batcher(model, tokenizer, prompts, SamplingParams(do_sample=False), (), 8, cache)
    b.queued = {}
    with torch.inference_mode():
        b._prefill(list(range(len(prompts))))
    return b.prefixes[which]


def _same_bits(a, b) -> bool:
    (kv_a, logits_a), (kv_b, logits_b) = a, b
    return torch.equal(logits_a, logits_b) and all(
        torch.equal(ka, kb) and torch.equal(va, vb) for (ka, va), (kb, vb) in zip(kv_a, kv_b, strict=True))


def test_cached_prefix_gives_the_same_bits_as_the_prompt_alone(tiny_model, tokenizer, shared_prompts):
    """Policy: a prompt's keys/values and next-token logits are bitwise the same whether it is
    prefilled alone (empty cache), on top of a prefix another prompt left in the cache, or after
    unrelated prompts; and the cache is really used (its hits cover the shared full chunks).

    Negative controls: a cache chunk altered in one ulp changes the result (so the comparison
    sees last-bit differences and the cached bits are really read), and so does a prefill of a
    long prompt split at other chunk boundaries (why the split is canonical, aligned at 0).
    """
    from goodbadgreedy.generation import engine
    from goodbadgreedy.generation.prefix_cache import PrefixCache

    C = 4 * engine.ROW_BLOCK  # small chunks: the fixture's prompts span several
    x = shared_prompts[1]
    shared = next(i for i, (a, b) in enumerate(zip(shared_prompts[0], x, strict=False)) if a != b)
    assert shared >= 3 * C  # the fixture shares several full chunks

    alone = _prefill_bits(tiny_model, tokenizer, [x], 0, PrefixCache(C))
    cache = PrefixCache(C)
    _prefill_bits(tiny_model, tokenizer, shared_prompts[:1], 0, cache)
    hits = cache.hits
    cached = _prefill_bits(tiny_model, tokenizer, [x], 0, cache)
    assert cache.hits - hits == shared // C
    assert _same_bits(cached, alone)
    mixed = _prefill_bits(tiny_model, tokenizer, [shared_prompts[3], shared_prompts[2], x], 2, PrefixCache(C))
    assert _same_bits(mixed, alone)

    # negative control 1: one cached key one ulp off -> other bits
    k0, v0 = cache.lookup(x, 1)[0][0]
    with torch.inference_mode():
        k0[0, 0, 0] = torch.nextafter(k0[0, 0, 0], torch.tensor(float("inf")))
    assert not _same_bits(_prefill_bits(tiny_model, tokenizer, [x], 0, cache), alone)
    # negative control 2: past 512 keys (the CPU attention kernel's key block) a split at other
    # boundaries computes other last bits, close values: why the split is canonical
    long = tokenizer.apply_chat_template(
        [{"role": "system", "content": "Think step by step. " * 120}, {"role": "user", "content": "hi"}],
        add_generation_prompt=True, tokenize=True, return_dict=False)
    assert len(long) > 600
    ref = _prefill_bits(tiny_model, tokenizer, [long], 0, PrefixCache(C))
    other = _prefill_bits(tiny_model, tokenizer, [long], 0, PrefixCache(C + engine.ROW_BLOCK))
    assert not _same_bits(other, ref)
    assert torch.allclose(other[1], ref[1], atol=1e-4)


def test_samples_do_not_depend_on_a_cached_prefix_or_the_batch(tiny_model, tokenizer, shared_prompts):
    """Policy: a sample's tokens are the same when its prompt runs alone with an empty cache,
    after another prompt cached its prefix (a cache shared across calls), and in a mixed batch
    with prompts that share the prefix and one that does not, at batch sizes 1, 3 and 16.
    Not vacuous: the samples of a prompt differ, and the shared cache served chunks."""
    from goodbadgreedy.generation import engine
    from goodbadgreedy.generation.prefix_cache import PrefixCache

    C = 4 * engine.ROW_BLOCK  # small chunks: the fixture's prompts span several
    params = SamplingParams(do_sample=True, temperature=1.0, max_new_tokens=12)
    seeds = [[50 * i + j for j in range(3)] for i in range(len(shared_prompts))]
    alone = [generate(tiny_model, tokenizer, [p], [s], params, batch_size=1, progress=False,
                      prefix_cache=PrefixCache(C))[0]
             for p, s in zip(shared_prompts, seeds, strict=True)]
    cache = PrefixCache(C)
    generate(tiny_model, tokenizer, shared_prompts[:1], seeds[:1], params, progress=False, prefix_cache=cache)
    hits = cache.hits
    again = generate(tiny_model, tokenizer, shared_prompts[1:3], seeds[1:3], params, progress=False,
                     prefix_cache=cache)
    assert cache.hits > hits
    assert _ids(again) == _ids(alone[1:3])
    for bs in (1, 3, 16):
        mixed = generate(tiny_model, tokenizer, shared_prompts, seeds, params, batch_size=bs, progress=False,
                         prefix_cache=PrefixCache(C))
        assert _ids(mixed) == _ids(alone)
    assert len({tuple(s) for s in _ids(alone)[1]}) > 1


def test_prefix_cache_keys_are_whole_prefixes_and_eviction_is_lru():
    """Policy: a chunk is found only under the exact token prefix that precedes it (the same
    chunk tokens after another prefix is a miss); lookups stop at the first miss and at
    ``limit``; beyond ``max_bytes`` the least recently used chunks go first, children before
    their parents; a chunk larger than the budget is not kept."""
    from goodbadgreedy.generation.prefix_cache import PrefixCache

    def kv(x):  # one layer, 1 KiB per chunk
        return [(torch.full((1, 2, 64), float(x)), torch.full((1, 2, 64), float(x)))]

    c = PrefixCache(2, max_bytes=3 * 1024)
    a, b = [1, 2, 3, 4, 5, 6], [9, 9, 3, 4, 5, 6]
    for i in range(3):
        c.insert(a, i, kv(i))
    assert [float(ch[0][0][0, 0, 0]) for ch in c.lookup(a, 3)] == [0, 1, 2]
    assert len(c.lookup(a, 2)) == 2
    assert c.lookup(b, 3) == []  # same chunks 1, 2 after another chunk 0: not found
    c.insert(b, 1, kv(7))  # its parent chunk is not cached: nothing stored
    assert len(c) == 3
    c.insert(b, 0, kv(8))  # over budget: evicts a's deepest chunk (least recent), keeps its parents
    assert len(c) == 3 and c.bytes == 3 * 1024
    assert len(c.lookup(a, 3)) == 2 and len(c.lookup(b, 1)) == 1
    assert len(PrefixCache(2, max_bytes=100).lookup(a, 3)) == 0
    small = PrefixCache(2, max_bytes=100)
    small.insert(a, 0, kv(0))
    assert len(small) == 0


def test_ghost_rows_skip_the_attention_and_change_no_live_row(tiny_model, tokenizer, prompts, monkeypatch):
    """Policy: in a decoding step, attention is computed only for live rows (a batch of one
    sample still runs its GEMMs over a whole 8-row block, but its 7 ghost rows get no attention
    kernel call), and skipping them does not change the live rows' samples (same tokens as with
    every row computed).

    Negative control: with the ghost rows handed to the attention as rows of the live row's
    prompt (they hold copies of its keys), the kernel calls of a step hold all 8 rows.
    """
    from goodbadgreedy.generation import attention, engine

    queries_per_step: list[int] = []
    real_flash = attention._flash
    rep = tiny_model.config.num_attention_heads // tiny_model.config.num_key_value_heads

    params = SamplingParams(do_sample=True, temperature=1.0, max_new_tokens=6)

    def spy(q, k, v, scale):
        # decoding steps' generated-key part (at most max_new_tokens keys; prompts are longer):
        # one batch row per attended row, each a (kv_heads, rep) block of query heads
        if k.shape[2] <= params.max_new_tokens:
            assert q.shape[2] == rep
            queries_per_step.append(q.shape[0])
        return real_flash(q, k, v, scale)

    monkeypatch.setattr(attention, "_flash", spy)
    skipped = generate(tiny_model, tokenizer, prompts[:1], [[3]], params, batch_size=8, progress=False)
    assert queries_per_step and set(queries_per_step) == {1}

    queries_per_step.clear()
    real_forward = attention.rowwise_attention_forward

    def no_skip(*args, gbg_prompts=None, **kwargs):
        if gbg_prompts is not None:
            live = next(p for p in gbg_prompts if p is not None)
            gbg_prompts = [live] * len(gbg_prompts)
        return real_forward(*args, gbg_prompts=gbg_prompts, **kwargs)

    monkeypatch.setattr(attention, "rowwise_attention_forward", no_skip)
    attention.register()
    try:
        full = generate(tiny_model, tokenizer, prompts[:1], [[3]], params, batch_size=8, progress=False)
    finally:
        monkeypatch.undo()
        attention.register()
    assert set(queries_per_step) == {engine.ROW_BLOCK}
    assert _ids(skipped) == _ids(full)


def _shared_prompt_batch(seed: int = 1):
    """A decoding step's tensors: 12 rows, samples of prompts 7 and 9 (copies of the same prompt
    keys/values at each row's own columns), with other starts and generated keys per row."""
    g = torch.Generator().manual_seed(seed)
    kv_heads, rep, d, width = 3, 3, 64, 950
    prompts = [(7, 800)] * 4 + [(9, 700)] * 4 + [(7, 800)] * 4
    starts = [50] * 4 + [150] * 4 + [100] * 4  # the last 4: prompt 7's samples admitted later
    key = torch.randn(12, kv_heads, width, d, generator=g)
    value = torch.randn(12, kv_heads, width, d, generator=g)
    shared = {p: (torch.randn(kv_heads, n, d, generator=g), torch.randn(kv_heads, n, d, generator=g))
              for p, n in set(prompts)}
    for b, ((p, n), s) in enumerate(zip(prompts, starts, strict=True)):
        key[b, :, s : s + n], value[b, :, s : s + n] = shared[p]
    query = torch.randn(12, kv_heads * rep, 1, d, generator=g)
    return query, key, value, starts, prompts


def test_prompt_split_attention_is_exact_and_row_invariant():
    """Policy (``attention.split_prompt_attention``, decoding steps): a row's attention is its
    prompt part and its generated part merged by their log-sum-exps, which is a softmax over all
    its valid keys (equal to one SDPA pass over them, to float32 rounding: 1e-5); the prompt part
    of all rows of one prompt is one kernel call, and a row's output has the same bits whether it
    is alone, with its siblings, or in a batch with other prompts (any order of rows); a row
    given as None gets zeros and changes no other row.

    Negative controls: the split result is not bitwise the one-pass result (so the bitwise checks
    compare two computations that could differ), and a row whose prompt keys differ from its
    group's first row gets that row's prompt part (the grouping relies on the copies being equal).
    """
    import torch.nn.functional as F

    from goodbadgreedy.generation.attention import split_prompt_attention

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        q, k, v, starts, prompts = _shared_prompt_batch()
        out = split_prompt_attention(None, q, k, v, starts, prompts, 0.125)
        one_pass = torch.cat([
            F.scaled_dot_product_attention(q[b : b + 1], k[b : b + 1, :, s:], v[b : b + 1, :, s:], scale=0.125,
                                           enable_gqa=True)
            for b, s in enumerate(starts)])
        assert torch.allclose(out, one_pass, atol=1e-5, rtol=0)
        assert not torch.equal(out, one_pass)
        for b in range(12):
            alone = split_prompt_attention(None, q[b : b + 1], k[b : b + 1], v[b : b + 1], [starts[b]],
                                           [prompts[b]], 0.125)
            assert torch.equal(alone[0], out[b])
        perm = torch.randperm(12, generator=torch.Generator().manual_seed(3)).tolist()
        shuffled = split_prompt_attention(None, q[perm], k[perm], v[perm], [starts[i] for i in perm],
                                          [prompts[i] for i in perm], 0.125)
        assert torch.equal(shuffled, out[perm])
        ghosts = list(prompts)
        ghosts[5] = None
        with_ghost = split_prompt_attention(None, q, k, v, starts, ghosts, 0.125)
        assert torch.count_nonzero(with_ghost[5]) == 0
        assert torch.equal(torch.cat([with_ghost[:5], with_ghost[6:]]), torch.cat([out[:5], out[6:]]))
        k2 = k.clone()
        k2[1, :, starts[1] : starts[1] + 10] += 1.0  # row 1's prompt keys no longer equal row 0's
        grouped = split_prompt_attention(None, q, k2, v, starts, prompts, 0.125)
        alone = split_prompt_attention(None, q[1:2], k2[1:2], v[1:2], [starts[1]], [prompts[1]], 0.125)
        assert torch.equal(grouped[1], out[1]) and not torch.equal(alone[0], out[1])
    finally:
        torch.set_num_threads(threads)


def test_engine_attention_never_takes_the_math_kernel(tiny_model, tokenizer, prompts):
    """Policy: every attention call of the engine (prefill chunks and decoding steps) runs
    PyTorch's CPU flash kernel, never its composite "math" fallback (which copies every row's
    keys/values once per query-head group and rescales them on every call: on the packaged model
    it took 52 of a run's 72 s). The fallback is taken when the query's last dimension is not
    contiguous, which the ``(W @ x^T)^T`` projections produced until their result was made
    contiguous.

    Negative control: the same SDPA call with a query whose last dimension is strided does show
    the math kernel in the profile, so the check can see it.
    """
    import torch.nn.functional as F
    from torch.profiler import profile

    def kernels(fn):
        with profile() as prof:
            fn()
        return {e.key for e in prof.key_averages()}

    params = SamplingParams(do_sample=True, temperature=1.0, max_new_tokens=8)
    seen = kernels(lambda: generate(tiny_model, tokenizer, prompts, [[1, 2]] * len(prompts), params,
                                    progress=False))
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in seen
    assert "aten::_scaled_dot_product_attention_math" not in seen
    q = torch.randn(2, 16, 4, 8).permute(0, 2, 3, 1)  # (2, 4, 8, 16) with last-dim stride 64
    k = v = torch.randn(2, 4, 8, 16)
    assert q.stride(-1) != 1
    assert "aten::_scaled_dot_product_attention_math" in kernels(lambda: F.scaled_dot_product_attention(q, k, v))


def test_engine_linears_give_a_row_the_same_bits_at_every_block_count(tiny_model, tokenizer, prompts):
    """Policy: every matrix product of the engine gives a row the same bits whatever the number
    of rows in the call (whole 8-row blocks: 8, 16, ... 64) and the row's position, for the
    packaged model's layer shapes (576 -> 576, 576 -> 192, 576 -> 1536, 1536 -> 576). The engine
    switches a model's ``nn.Linear`` layers to that computation itself, idempotently.

    Negative control (on this CPU, MKL with AVX-512): plain ``F.linear`` gives an 8-row call
    other last bits than a 16-row call for these shapes, so the check can fail.
    """
    from goodbadgreedy.generation.attention import make_linears_row_invariant

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        plain_differs = False
        for out_f, in_f in [(576, 576), (192, 576), (1536, 576), (576, 1536)]:
            layer = torch.nn.Linear(in_f, out_f, bias=False)
            x = torch.randn(64, in_f)
            plain = [torch.nn.functional.linear(x[:m], layer.weight) for m in (8, 16, 64)]
            plain_differs |= not torch.equal(plain[0], plain[1][:8])
            make_linears_row_invariant(layer)
            make_linears_row_invariant(layer)  # idempotent
            full = layer(x)
            for m in (8, 16, 24, 32, 64):
                assert torch.equal(layer(x[:m]), full[:m])
            perm = torch.randperm(64)
            assert torch.equal(layer(x[perm]), full[perm])
            assert torch.allclose(full, plain[2], atol=1e-4)
        assert plain_differs
    finally:
        torch.set_num_threads(threads)
    generate(tiny_model, tokenizer, prompts[:1], [[None]], SamplingParams(do_sample=False, max_new_tokens=1),
             progress=False)
    assert all(getattr(m, "_gbg_row_invariant", False) for m in tiny_model.modules()
               if isinstance(m, torch.nn.Linear))
