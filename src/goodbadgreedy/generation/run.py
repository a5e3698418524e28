"""The generate stage: items x decoding config -> one row per (item, sample).

Generation goes through a backend (:mod:`goodbadgreedy.generation.backends`: ``hf``, ``vllm``,
``openai``). Finished samples are appended to a sample cache
(:class:`~goodbadgreedy.generation.sample_cache.SampleCache`: one JSON line per sample, appended
and fsynced as soon as the backend reports that sample finished) keyed by everything that
determines a sample's text: the prompt as the backend sends it (its sha256), the decoding
parameters, ``max_new_tokens``, the global seed and the backend's identity (``hf``: the model
weights' sha256, dtype and device type; ``vllm``: weights, dtype, vLLM version, tensor-parallel
size; ``openai``: server URL and served model name). Because a sample's text does not depend on
N or on its batch (see ``engine``), a cached sample is exactly what a fresh run would produce, so:

* an interrupted run (even ``kill -9``) resumes without redoing finished samples: it loses only
  the samples in flight (``hf``: rows still decoding; ``openai``: requests not yet answered;
  ``vllm``: the chunk of requests in flight, see ``vllm_backend``), and a torn last line is
  ignored;
* raising N from 8 to 16 generates only samples 8..15; lowering N reuses a subset.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import polars as pl

from goodbadgreedy import benchmarks, tables
from goodbadgreedy.errors import BackendError, ConfigError, DataError
from goodbadgreedy.generation.backend_base import Backend
from goodbadgreedy.generation.params import SamplingParams
from goodbadgreedy.generation.sample_cache import SampleCache
from goodbadgreedy.generation.seeds import derive_seed

log = logging.getLogger(__name__)

__all__ = ["ENGINE_VERSION", "cache_key", "generate_table", "merge_generation_shards",
           "sha256_text", "shard_range"]

#: Bump when a change to the engine changes generated text (invalidates the sample cache).
#: 2: attention on one thread, grouped by key span (last bits of the logits changed).
#: 3: prompts prefilled in fixed chunks aligned at position 0, prefix caching (last bits changed).
#: 4: samples carry the per-token log-probabilities (``logprobs``, ``processed_logprobs``; older
#:    records lack them, so they are regenerated, never read as missing values); attention on
#:    PyTorch's flash kernel (the projections' transposed outputs had sent it to the math kernel)
#:    and decoding attention split at the prompt's end (last bits changed: all greedy tokens of
#:    the default profile's 54 prompts equal, 7 of 216 sampled ones differ, each at a last-bit tie).
ENGINE_VERSION = 4

#: The fields every sample cache record holds (a record lacking one is not reused).
RECORD_FIELDS = ("item_id", "sample_idx", "seed", "prompt_sha256", "prompt_tokens", "response",
                 "response_tokens", "finish_reason", "logprobs", "processed_logprobs")


def sha256_text(text: str) -> str:
    """Hex sha256 of a UTF-8 string."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_key(
    *, decoding: Mapping[str, Any], max_new_tokens: int, seed: int, identity: Mapping[str, Any]
) -> str:
    """First 16 hex digits of the sha256 of what, besides the prompt, determines a sample.

    Args:
        decoding: the decoding config's entry in params.yaml.
        max_new_tokens: generation budget per sample.
        seed: global seed.
        identity: the backend's :meth:`~goodbadgreedy.generation.backend_base.Backend.cache_identity`;
            its keys are merged into the hashed object (for ``hf``: ``model_sha``, ``dtype``,
            ``device``).

    Raises:
        ValueError: ``identity`` uses a reserved key (``decoding``, ``max_new_tokens``, ``seed``,
            ``engine``).
    """
    blob_obj = {"decoding": dict(decoding), "max_new_tokens": max_new_tokens, "seed": seed, "engine": ENGINE_VERSION}
    clash = sorted(set(identity) & set(blob_obj))
    if clash:
        raise ValueError(f"backend cache identity may not set {clash}")
    blob = json.dumps({**blob_obj, **dict(identity)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def generate_table(
    items: pl.DataFrame,
    *,
    benchmark: str,
    options: Mapping[str, Any],
    model_name: str,
    backend: Backend,
    config_name: str,
    decoding: Mapping[str, Any],
    n_samples: int,
    max_new_tokens: int,
    seed: int,
    cache_dir: str | os.PathLike[str],
    progress: bool = True,
    cache_part: str | None = None,
) -> pl.DataFrame:
    """Generate ``n_samples`` samples (1 under greedy decoding) for every item.

    Args:
        items: the selected items (``tables.BENCHMARK_SCHEMA``).
        benchmark: the benchmark's registry name.
        options: its ``benchmark_options``.
        model_name: the model's key in params.yaml (enters the seeds and the table).
        backend: a :class:`~goodbadgreedy.generation.backend_base.Backend` (built by
            :func:`~goodbadgreedy.generation.backends.build_backend`); its ``cache_identity()``
            enters the cache key.
        config_name: the decoding config's key in params.yaml.
        decoding: the decoding config's entry in params.yaml.
        n_samples: samples per item for a sampling config (ignored for greedy decoding).
        max_new_tokens: generation budget per sample.
        seed: global seed.
        cache_dir: root of the sample cache.
        progress: show the backend's progress bar.
        cache_part: a shard's name (e.g. ``"0-of-4"``): new samples go to a cache file of their
            own (``{config}-{key}.{part}.jsonl``), so that concurrent shard jobs never append to
            one file; samples already in the config's main cache file are reused.

    Returns:
        A frame with ``tables.GENERATION_SCHEMA`` (one row per item x sample), sorted by
        (item_id, sample_idx). ``prompt`` is :attr:`PreparedPrompt.text`; ``prompt_tokens`` the
        server's ``usage.prompt_tokens`` for remote backends, else the local count.

    Raises:
        ConfigError: invalid decoding parameters (naming the parameter).
        DataError: ``items`` is empty.
        BackendError: the backend failed, a remote server reported no prompt length and none
            is known locally (item named), or the backend returned without reporting a requested
            sample through ``on_sample_done`` (first item and sample named; those it reported
            stay cached).
    """
    if items.height == 0:
        raise DataError(f"benchmark {benchmark!r}: no items selected")
    params = SamplingParams(max_new_tokens=max_new_tokens, **dict(decoding))
    n = n_samples if decoding.get("do_sample") else 1
    module = benchmarks.get(benchmark)
    key = cache_key(decoding=decoding, max_new_tokens=max_new_tokens, seed=seed, identity=backend.cache_identity())
    cache = SampleCache(Path(cache_dir) / model_name / benchmark / f"{config_name}-{key}.jsonl")
    cached = cache.load()
    if cache_part is not None:
        cache = SampleCache(Path(cache_dir) / model_name / benchmark / f"{config_name}-{key}.{cache_part}.jsonl")
        cached.update(cache.load())

    rows = items.to_dicts()
    prepared, prompts_text, stops, todo = [], [], [], {}
    for r in rows:
        prompt = module.build_prompt(r, dict(options))
        prep = backend.prepare(prompt)
        text = prep.text
        prepared.append(prep)
        prompts_text.append(text)
        stops.append(prompt.stop)
        sha = sha256_text(text)
        missing = [j for j in range(n) if not _reusable(cached.get((r["item_id"], j)), sha)]
        if missing:
            todo[r["item_id"]] = missing

    # group the prompts that still need samples by their stop sequences (one engine call each)
    by_stop: dict[tuple[str, ...], list[int]] = {}
    for i, r in enumerate(rows):
        if r["item_id"] in todo:
            by_stop.setdefault(stops[i], []).append(i)
    log.info(
        "%s/%s/%s: %d items x %d samples, %d samples cached, %d to generate",
        model_name, benchmark, config_name, len(rows), n,
        len(rows) * n - sum(len(v) for v in todo.values()), sum(len(v) for v in todo.values()),
    )
    reported: set[tuple[str, int]] = set()
    for stop, idxs in by_stop.items():
        payloads = [prepared[i].payload for i in idxs]
        seeds = [
            [None if params.greedy else derive_seed(seed, model_name, benchmark, rows[i]["item_id"], config_name, j)
             for j in todo[rows[i]["item_id"]]]
            for i in idxs
        ]

        def persist(k: int, pos: int, s, idxs=idxs, seeds=seeds) -> None:
            """Append sample ``pos`` of the k-th prompt of this call to the cache, fsynced, now."""
            i = idxs[k]
            item_id = rows[i]["item_id"]
            j = todo[item_id][pos]
            n_prompt = getattr(s, "prompt_tokens", None)  # a server's usage report comes first
            if n_prompt is None:
                n_prompt = prepared[i].n_tokens
            if n_prompt is None:
                raise BackendError(
                    f"{model_name}/{benchmark}/{config_name}: item {item_id!r}, sample {j}: the "
                    f"{backend.name} backend reported no usage.prompt_tokens and no local tokenizer "
                    f"is configured to count them"
                )
            rec = {
                "item_id": item_id,
                "sample_idx": j,
                "seed": seeds[k][pos],
                "prompt_sha256": sha256_text(prompts_text[i]),
                "prompt_tokens": n_prompt,
                "response": s.text,
                "response_tokens": s.n_tokens,
                "finish_reason": s.finish_reason,
                "logprobs": _logprob_list(s.logprobs, s.n_tokens, "logprobs", where=(item_id, j)),
                "processed_logprobs": _logprob_list(s.processed_logprobs, s.n_tokens, "processed_logprobs",
                                                    where=(item_id, j)),
            }
            cached[(item_id, j)] = rec
            reported.add((item_id, j))
            cache.append([rec])

        backend.generate(payloads, seeds, params, stop=stop, on_sample_done=persist, progress=progress)
        unreported = [(rows[i]["item_id"], j) for i in idxs for j in todo[rows[i]["item_id"]]
                      if (rows[i]["item_id"], j) not in reported]
        if unreported:
            raise BackendError(
                f"{model_name}/{benchmark}/{config_name}: the {backend.name} backend returned without "
                f"reporting {len(unreported)} sample(s), first item {unreported[0][0]!r} sample {unreported[0][1]}"
            )

    out = []
    for i, r in enumerate(rows):
        for j in range(n):
            rec = cached[(r["item_id"], j)]
            out.append({
                "model": model_name, "benchmark": benchmark, "config": config_name,
                "item_id": r["item_id"], "sample_idx": j, "seed": rec["seed"],
                "prompt": prompts_text[i], "response": rec["response"],
                "prompt_tokens": rec["prompt_tokens"], "response_tokens": rec["response_tokens"],
                "finish_reason": rec["finish_reason"],
                "logprobs": rec["logprobs"], "processed_logprobs": rec["processed_logprobs"],
            })
    df = pl.DataFrame(out, schema=tables.GENERATION_SCHEMA)
    return df.sort(["item_id", "sample_idx"])


def _reusable(rec: Mapping[str, Any] | None, prompt_sha: str) -> bool:
    """A cached record is reused when it answers this prompt text and has every field of this engine."""
    return rec is not None and rec.get("prompt_sha256") == prompt_sha and all(f in rec for f in RECORD_FIELDS)


def _logprob_list(values: Sequence[float] | None, n_tokens: int, name: str, *, where: tuple[str, int]) -> list | None:
    """A sample's per-token log-probabilities as a JSON list (None stays None).

    Raises:
        BackendError: the list's length is not the sample's token count (item and sample named).
    """
    if values is None:
        return None
    out = [float(v) for v in values]
    if len(out) != n_tokens:
        raise BackendError(f"item {where[0]!r}, sample {where[1]}: {len(out)} {name} for {n_tokens} "
                           f"generated tokens (they must be aligned)")
    return out


def shard_range(n_items: int, shard: int, shards: int) -> tuple[int, int]:
    """Item rows ``[start, stop)`` of shard ``shard`` of ``shards``: contiguous, balanced ranges.

    Shard k holds rows ``k * n // S`` to ``(k + 1) * n // S`` of the item subset (in its stored
    order); the ranges tile ``[0, n)``. A sample's seed derives from its item_id (not its
    position or shard), so sharding changes no sample.

    Raises:
        ConfigError: ``shard`` is not in ``[0, shards)``.
    """
    if shards < 1 or not 0 <= shard < shards:
        raise ConfigError(f"generation.shards: shard {shard} is not in [0, {shards})")
    return shard * n_items // shards, (shard + 1) * n_items // shards


def merge_generation_shards(frames: Sequence[pl.DataFrame], items: pl.DataFrame, n_samples: int) -> pl.DataFrame:
    """Merge the shard tables of one (model, benchmark, config) into its generation table.

    Args:
        frames: the shard tables (``tables.GENERATION_SCHEMA``), in any order.
        items: the item subset the shards were cut from.
        n_samples: samples per item (1 under greedy decoding).

    Returns:
        The rows sorted by (item_id, sample_idx), as :func:`generate_table` returns them for the
        whole subset.

    Raises:
        DataError: an (item, sample) missing, repeated, or not of the subset (first one named).
    """
    df = (
        pl.concat([f.select(list(tables.GENERATION_SCHEMA)) for f in frames])
        if frames
        else pl.DataFrame(schema=tables.GENERATION_SCHEMA)
    )
    df = df.cast(tables.GENERATION_SCHEMA)
    expected = {(i, j) for i in items["item_id"].to_list() for j in range(n_samples)}
    seen: set[tuple[str, int]] = set()
    for key in zip(df["item_id"].to_list(), df["sample_idx"].to_list(), strict=True):
        if key in seen:
            raise DataError(f"generation shards: item {key[0]!r} sample {key[1]} is in more than one shard")
        if key not in expected:
            raise DataError(f"generation shards: item {key[0]!r} sample {key[1]} is not in the item subset x n_samples")
        seen.add(key)
    missing = sorted(expected - seen)
    if missing:
        raise DataError(f"generation shards: {len(missing)} (item, sample) missing, first {missing[0]}")
    return df.sort(["item_id", "sample_idx"])
