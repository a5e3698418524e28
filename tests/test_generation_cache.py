"""The generate stage's sample cache: N grows incrementally; a killed run resumes losslessly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from goodbadgreedy.data import normalize, select_items
from goodbadgreedy.generation import engine
from goodbadgreedy.generation.backends import HFBackend
from goodbadgreedy.generation.run import generate_table

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


CHILD = r"""
import sys, torch
from pathlib import Path
import polars as pl
from transformers import AutoTokenizer
from goodbadgreedy.generation.backends import HFBackend
from goodbadgreedy.generation.model import load_model
from goodbadgreedy.generation.run import generate_table
folder, items_path, cache_dir, out = sys.argv[1:5]
tok, model = load_model(folder)
backend = HFBackend(model, tok, model_sha="x", dtype="float32", batch_size=4)
df = generate_table(pl.read_parquet(items_path), benchmark="gsm8k", options={"n_shot": 0}, model_name="tiny",
    backend=backend, config_name="sample",
    decoding={"do_sample": True, "temperature": 1.0, "top_p": 1.0, "top_k": 0, "repetition_penalty": 1.0},
    n_samples=4, max_new_tokens=24, seed=1, cache_dir=cache_dir, progress=False)
df.write_parquet(out)
"""


def test_kill_9_then_resume_loses_nothing(tokenizer, tiny_model, tmp_path):
    folder = tmp_path / "tiny"
    tiny_model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    items = select_items(normalize("gsm8k", RAW, RAW / "SHA256SUMS", {}), 8, seed=9)
    items.write_parquet(tmp_path / "items.parquet")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    args = [sys.executable, str(script), str(folder), str(tmp_path / "items.parquet"), str(tmp_path / "cache")]

    proc = subprocess.Popen(args + [str(tmp_path / "killed.parquet")], start_new_session=True)
    deadline = time.monotonic() + 240
    cache_file = None
    while time.monotonic() < deadline and proc.poll() is None:
        files = list((tmp_path / "cache").rglob("*.jsonl"))
        if files and len(files[0].read_text().splitlines()) >= 4:
            cache_file = files[0]
            break
        time.sleep(0.05)
    assert cache_file is not None and proc.poll() is None, "the child finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed.parquet").exists()
    done_before = {
        (r["item_id"], r["sample_idx"]): r for r in map(json.loads, cache_file.read_text().splitlines()) if r
    }
    assert 4 <= len(done_before) < 32

    subprocess.run(args + [str(tmp_path / "resumed.parquet")], check=True, timeout=600)
    lines = [json.loads(x) for x in cache_file.read_text().splitlines() if x.strip()]
    keys = [(r["item_id"], r["sample_idx"]) for r in lines]
    assert len(keys) == len(set(keys)) == 32  # finished samples were not generated again
    subprocess.run(args[:-1] + [str(tmp_path / "cache2"), str(tmp_path / "clean.parquet")], check=True, timeout=600)
    resumed, clean = pl.read_parquet(tmp_path / "resumed.parquet"), pl.read_parquet(tmp_path / "clean.parquet")
    assert resumed.equals(clean)
    for key, rec in done_before.items():
        row = resumed.filter((pl.col("item_id") == key[0]) & (pl.col("sample_idx") == key[1])).row(0, named=True)
        assert row["response"] == rec["response"]
