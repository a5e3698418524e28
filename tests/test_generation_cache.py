"""The generate stage's sample cache: N grows incrementally; a killed run loses only the samples in flight."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from goodbadgreedy.data import normalize, select_items
from goodbadgreedy.errors import BackendError
from goodbadgreedy.generation import engine
from goodbadgreedy.generation.backends import HFBackend
from goodbadgreedy.generation.run import generate_table
from goodbadgreedy.generation.sample_cache import SampleCache

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"
DECODING = {"do_sample": True, "temperature": 1.0, "top_p": 1.0, "top_k": 0, "repetition_penalty": 1.0}


@pytest.fixture(scope="module")
def items():
    return select_items(normalize("gsm8k", RAW, RAW / "SHA256SUMS", {}), 3, seed=5)


def _run(items, tokenizer, model, cache_dir, n, **kw):
    backend = HFBackend(model, tokenizer, model_sha="x", dtype="float32", batch_size=kw.get("batch_size", 8))
    return generate_table(
        items, benchmark="gsm8k", options={"n_shot": 0}, model_name="tiny", backend=backend,
        config_name="sample", decoding=DECODING, n_samples=n,
        max_new_tokens=8, seed=1, cache_dir=cache_dir, progress=False,
    )


def test_raising_n_generates_only_the_new_samples(items, tokenizer, tiny_model, tmp_path, monkeypatch):
    calls = []
    real = engine.generate

    def spy(model, tok, prompts, seeds, params, **kw):
        calls.append(sum(len(s) for s in seeds))
        return real(model, tok, prompts, seeds, params, **kw)

    monkeypatch.setattr(engine, "generate", spy)
    four = _run(items, tokenizer, tiny_model, tmp_path, 4)
    eight = _run(items, tokenizer, tiny_model, tmp_path, 8)
    two = _run(items, tokenizer, tiny_model, tmp_path, 2)
    assert calls == [12, 12]  # 3 items x 4, then only samples 4..7; N=2 generates nothing
    assert eight.filter(pl.col("sample_idx") < 4).equals(four)
    assert eight.filter(pl.col("sample_idx") < 2).equals(two)
    fresh = _run(items, tokenizer, tiny_model, tmp_path / "fresh", 8, batch_size=3)
    assert fresh.equals(eight)  # cached samples are exactly what a fresh run produces


def test_torn_cache_line_is_ignored(items, tokenizer, tiny_model, tmp_path):
    full = _run(items, tokenizer, tiny_model, tmp_path, 2)
    (cache_file,) = list(tmp_path.rglob("*.jsonl"))
    lines = cache_file.read_text().splitlines(keepends=True)
    cache_file.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # torn last write
    again = _run(items, tokenizer, tiny_model, tmp_path, 2)
    assert again.equals(full)


def test_a_sample_the_backend_never_reported_is_named(items, tokenizer, tiny_model, tmp_path, monkeypatch):
    """Policy: the table is built from reported samples only; a backend that returns without
    reporting a requested sample through ``on_sample_done`` raises BackendError naming the first
    such item and sample, and the samples it did report stay in the cache (a rerun reuses them)."""
    real = engine.generate

    def drops_last(model, tok, prompts, seeds, params, *, on_sample_done, **kw):
        last = (len(seeds) - 1, len(seeds[-1]) - 1)
        return real(model, tok, prompts, seeds, params, **kw,
                    on_sample_done=lambda i, j, s: (i, j) != last and on_sample_done(i, j, s))

    monkeypatch.setattr(engine, "generate", drops_last)
    with pytest.raises(BackendError, match=r"without reporting 1 sample\(s\), first item '[^']+' sample 1"):
        _run(items, tokenizer, tiny_model, tmp_path, 2)
    (cache_file,) = tmp_path.rglob("*.jsonl")
    assert len(cache_file.read_text().splitlines()) == items.height * 2 - 1
    monkeypatch.setattr(engine, "generate", real)  # control: a backend that reports everything
    assert _run(items, tokenizer, tiny_model, tmp_path, 2).height == items.height * 2


def test_append_after_a_torn_line_starts_on_a_fresh_line(tmp_path):
    """Policy: a torn last line (a write cut by a kill) is skipped on load, and the next append
    starts on a fresh line, so the appended record is readable and the torn one stays skipped
    (glued to the torn bytes, the new record would be lost too)."""
    cache = SampleCache(tmp_path / "c.jsonl")
    recs = [{"item_id": f"i{k}", "sample_idx": 0, "response": f"r{k}"} for k in range(3)]
    cache.append(recs[:2])
    with open(cache.path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(recs[2])[:10])  # torn: no closing brace, no newline
    assert set(cache.load()) == {("i0", 0), ("i1", 0)}
    cache.append([{"item_id": "new", "sample_idx": 3, "response": "x"}])
    assert set(cache.load()) == {("i0", 0), ("i1", 0), ("new", 3)}
    lines = cache.path.read_text(encoding="utf-8").split("\n")
    assert lines[2] == json.dumps(recs[2])[:10] and lines[-1] == ""  # torn bytes alone on their line


#: One generation in a child process: the tiny model (saved by the test), 8 gsm8k items x
#: N_SAMPLES samples, continuous batching over 6 slots. With KILL_AFTER = k > 0 the child SIGKILLs
#: itself right after the engine's k-th finished sample was handed to the generate stage (and,
#: under the per-sample policy, persisted), while other rows are still decoding. POLICY "prompt"
#: (the negative control) puts the former per-prompt persistence between engine and cache: a
#: prompt's samples are passed on only when all of them are finished. The child logs at INFO and
#: prints "generated <n>": the samples the engine was asked for.
CHILD = r"""
import logging, os, signal, sys
import polars as pl
from goodbadgreedy.generation import engine
from goodbadgreedy.generation.backends import HFBackend
from goodbadgreedy.generation.model import load_model
from goodbadgreedy.generation.run import generate_table
folder, items_path, cache_dir, out, kill_after, policy = sys.argv[1:7]
kill_after = int(kill_after)
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
real = engine.generate

def generate(model, tok, prompts, seeds, params, *, on_sample_done, **kw):
    print("generated", sum(len(s) for s in seeds), flush=True)
    inner, pending = on_sample_done, {}
    if policy == "prompt":
        def inner(i, j, s):
            pending.setdefault(i, {})[j] = s
            if len(pending[i]) == len(seeds[i]):
                for jj in sorted(pending[i]):
                    on_sample_done(i, jj, pending[i][jj])
    finished = 0

    def done(i, j, s):
        nonlocal finished
        inner(i, j, s)
        finished += 1
        if finished == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    return real(model, tok, prompts, seeds, params, on_sample_done=done, **kw)

engine.generate = generate
tok, model = load_model(folder)
backend = HFBackend(model, tok, model_sha="x", dtype="float32", batch_size=6)
df = generate_table(pl.read_parquet(items_path), benchmark="gsm8k", options={"n_shot": 0}, model_name="tiny",
    backend=backend, config_name="sample",
    decoding={"do_sample": True, "temperature": 1.0, "top_p": 1.0, "top_k": 0, "repetition_penalty": 1.0},
    n_samples=4, max_new_tokens=24, seed=1, cache_dir=cache_dir, progress=False)
df.write_parquet(out)
"""
N_ITEMS, N_SAMPLES, KILL_AFTER = 8, 4, 7


def test_kill_9_after_k_samples_then_resume_reuses_exactly_k(tokenizer, tiny_model, tmp_path):
    """Policy: each finished sample is persisted (appended and fsynced) as soon as it finishes, so
    a run killed with SIGKILL after k finished samples resumes with exactly k samples reused and
    generates only the others; the resumed table equals an uninterrupted run's, bit for bit, and
    the samples persisted before the kill are kept as they were.

    k = 7 is not a multiple of N = 4: per-prompt persistence could have saved only 4 (the
    negative control below runs it and shows the count differs).
    """
    assert KILL_AFTER % N_SAMPLES
    folder = tmp_path / "tiny"
    tiny_model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    items = select_items(normalize("gsm8k", RAW, RAW / "SHA256SUMS", {}), N_ITEMS, seed=9)
    items.write_parquet(tmp_path / "items.parquet")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    total = N_ITEMS * N_SAMPLES

    def child(cache, out, kill_after=0, policy="sample"):
        return subprocess.run(
            [sys.executable, str(script), str(folder), str(tmp_path / "items.parquet"), str(tmp_path / cache),
             str(tmp_path / out), str(kill_after), policy], capture_output=True, text=True, timeout=600,
        )

    def cache_records(cache):
        (path,) = (tmp_path / cache).rglob("*.jsonl")
        return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]

    def counts(proc):
        cached, todo = map(int, re.search(r"(\d+) samples cached, (\d+) to generate", proc.stderr).groups())
        generated = sum(int(n) for n in re.findall(r"^generated (\d+)$", proc.stdout, re.M))
        return cached, todo, generated

    killed = child("cache", "killed.parquet", KILL_AFTER)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (tmp_path / "killed.parquet").exists()
    before = cache_records("cache")
    assert len(before) == KILL_AFTER  # the k finished samples, none of the rows in flight

    resumed = child("cache", "resumed.parquet")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert counts(resumed) == (KILL_AFTER, total - KILL_AFTER, total - KILL_AFTER)
    after = cache_records("cache")
    keys = [(r["item_id"], r["sample_idx"]) for r in after]
    assert len(keys) == len(set(keys)) == total  # finished samples were not generated again
    assert after[:KILL_AFTER] == before

    clean = child("cache2", "clean.parquet")
    assert clean.returncode == 0, clean.stderr[-2000:]
    assert counts(clean) == (0, total, total)
    resumed_df, clean_df = pl.read_parquet(tmp_path / "resumed.parquet"), pl.read_parquet(tmp_path / "clean.parquet")
    assert resumed_df.equals(clean_df)
    assert (tmp_path / "resumed.parquet").read_bytes() == (tmp_path / "clean.parquet").read_bytes()
    # the same records, whatever order the samples finished in
    assert sorted(map(json.dumps, after)) == sorted(map(json.dumps, cache_records("cache2")))

    # negative control: with per-prompt persistence the same kill leaves only whole prompts
    control = child("cache3", "control.parquet", KILL_AFTER, policy="prompt")
    assert control.returncode == -signal.SIGKILL, control.stderr[-2000:]
    kept = len(cache_records("cache3"))
    assert kept % N_SAMPLES == 0 and kept != KILL_AFTER
