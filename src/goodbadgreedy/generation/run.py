"""The generate stage: items x decoding config -> one row per (item, sample).

Finished samples are appended to a sample cache (one JSON line per sample, fsynced after each
prompt) keyed by everything that determines a sample's text: the rendered prompt (its sha256),
the decoding parameters, ``max_new_tokens``, the global seed, the model weights' sha256 and
dtype. Because a sample's text does not depend on N or on its batch (see ``engine``), a cached
sample is exactly what a fresh run would produce, so:

* an interrupted run (even ``kill -9``) resumes without redoing finished samples: a torn last
  line is ignored;
* raising N from 8 to 16 generates only samples 8..15; lowering N reuses a subset.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

import polars as pl

from goodbadgreedy import benchmarks, tables
from goodbadgreedy.errors import DataError
from goodbadgreedy.generation.engine import SamplingParams, generate
from goodbadgreedy.generation.seeds import derive_seed

log = logging.getLogger(__name__)

#: Bump when a change to the engine changes generated text (invalidates the sample cache).
ENGINE_VERSION = 1


def sha256_text(text: str) -> str:
    """Hex sha256 of a UTF-8 string."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render_prompt(tokenizer, prompt) -> str:
    """Apply the tokenizer's chat template to a :class:`~goodbadgreedy.benchmarks.base.Prompt`.

    Returns:
        The prompt text: the templated conversation with the generation prompt for the assistant
        turn, followed by ``prompt.assistant_prefix``. Tokenize it without adding special tokens.
    """
    text = tokenizer.apply_chat_template(list(prompt.messages), add_generation_prompt=True, tokenize=False)
    return text + prompt.assistant_prefix


class SampleCache:
    """Append-only JSON-lines store of finished samples for one (model, benchmark, config key).

    Args:
        path: the ``.jsonl`` file (created with its folders on first append).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def load(self) -> dict[tuple[str, int], dict[str, Any]]:
        """Return {(item_id, sample_idx): record}; a torn or corrupt line is skipped with a warning."""
        out: dict[tuple[str, int], dict[str, Any]] = {}
        if not self.path.is_file():
            return out
        with open(self.path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                try:
                    rec = json.loads(line)
                    out[(rec["item_id"], int(rec["sample_idx"]))] = rec
                except (ValueError, KeyError, TypeError):
                    log.warning("%s:%d: skipping a torn or corrupt cache line (interrupted write)", self.path, n)
        return out

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append records and fsync, so that they survive a crash right after."""
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
        with open(self.path, "a", encoding="utf-8") as fh:
            # a previous crash may have left a torn line without newline: start on a fresh line
            if fh.tell() > 0:
                with open(self.path, "rb") as rh:
                    rh.seek(-1, os.SEEK_END)
                    if rh.read(1) != b"\n":
                        data = "\n" + data
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def cache_key(
    *, decoding: Mapping[str, Any], max_new_tokens: int, seed: int, model_sha: str | None, dtype: str
) -> str:
    """First 16 hex digits of the sha256 of what, besides the prompt, determines a sample."""
    blob = json.dumps(
        {
            "decoding": dict(decoding),
            "max_new_tokens": max_new_tokens,
            "seed": seed,
            "model_sha": model_sha,
            "dtype": dtype,
            "engine": ENGINE_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def generate_table(
    items: pl.DataFrame,
    *,
    benchmark: str,
    options: Mapping[str, Any],
    model_name: str,
    tokenizer,
    model,
    model_sha: str | None,
    dtype: str,
    config_name: str,
    decoding: Mapping[str, Any],
    n_samples: int,
    max_new_tokens: int,
    seed: int,
    batch_size: int,
    cache_dir: str | os.PathLike[str],
    progress: bool = True,
) -> pl.DataFrame:
    """Generate ``n_samples`` samples (1 under greedy decoding) for every item.

    Args:
        items: the selected items (``tables.BENCHMARK_SCHEMA``).
        benchmark, options: registry name and its ``benchmark_options``.
        model_name: the model's key in params.yaml (enters the seeds and the table).
        tokenizer, model: as returned by :func:`goodbadgreedy.generation.model.load_model`.
        model_sha: sha256 of the model's source weights (cache key; None disables nothing).
        dtype: the model's dtype name (cache key).
        config_name, decoding: the decoding config's key and entry in params.yaml.
        n_samples: samples per item for a sampling config (ignored for greedy decoding).
        max_new_tokens: generation budget per sample.
        seed: global seed.
        batch_size: rows decoded together.
        cache_dir: root of the sample cache.

    Returns:
        A frame with ``tables.GENERATION_SCHEMA``, sorted by (item_id, sample_idx).

    Raises:
        ConfigError: invalid decoding parameters (naming the parameter).
        DataError: ``items`` is empty.
    """
    if items.height == 0:
        raise DataError(f"benchmark {benchmark!r}: no items selected")
    params = SamplingParams(max_new_tokens=max_new_tokens, **dict(decoding))
    n = n_samples if decoding.get("do_sample") else 1
    module = benchmarks.get(benchmark)
    key = cache_key(decoding=decoding, max_new_tokens=max_new_tokens, seed=seed, model_sha=model_sha, dtype=dtype)
    cache = SampleCache(Path(cache_dir) / model_name / benchmark / f"{config_name}-{key}.jsonl")
    cached = cache.load()

    rows = items.to_dicts()
    prompts_text, stops, todo = [], [], {}
    for r in rows:
        prompt = module.build_prompt(r, dict(options))
        text = render_prompt(tokenizer, prompt)
        prompts_text.append(text)
        stops.append(prompt.stop)
        sha = sha256_text(text)
        missing = [j for j in range(n) if cached.get((r["item_id"], j), {}).get("prompt_sha256") != sha]
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
    for stop, idxs in by_stop.items():
        ids = [tokenizer(prompts_text[i], add_special_tokens=False)["input_ids"] for i in idxs]
        seeds = [
            [None if params.greedy else derive_seed(seed, model_name, benchmark, rows[i]["item_id"], config_name, j)
             for j in todo[rows[i]["item_id"]]]
            for i in idxs
        ]

        def persist(k: int, samples, idxs=idxs, ids=ids, seeds=seeds) -> None:
            i = idxs[k]
            item_id = rows[i]["item_id"]
            recs = []
            for j, s, sd in zip(todo[item_id], samples, seeds[k]):
                rec = {
                    "item_id": item_id,
                    "sample_idx": j,
                    "seed": sd,
                    "prompt_sha256": sha256_text(prompts_text[i]),
                    "prompt_tokens": len(ids[k]),
                    "response": s.text,
                    "response_tokens": s.n_tokens,
                    "finish_reason": s.finish_reason,
                }
                cached[(item_id, j)] = rec
                recs.append(rec)
            cache.append(recs)

        generate(model, tokenizer, ids, seeds, params, stop=stop, batch_size=batch_size,
                 on_prompt_done=persist, progress=progress)

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
            })
    df = pl.DataFrame(out, schema=tables.GENERATION_SCHEMA)
    return df.sort(["item_id", "sample_idx"])
