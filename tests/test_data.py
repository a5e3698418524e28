"""Vendored data: checksums are enforced; seeded subsets are stable and nested."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from goodbadgreedy.data import normalize, select_items, verify_files
from goodbadgreedy.errors import DataError

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"


def test_all_vendored_files_match_their_sums():
    for bench in ("gsm8k", "humaneval", "mmlu_redux"):
        assert verify_files(RAW, bench, RAW / "SHA256SUMS")


def test_changed_file_is_named(tmp_path):
    shutil.copytree(RAW / "humaneval", tmp_path / "humaneval")
    shutil.copy(RAW / "SHA256SUMS", tmp_path / "SHA256SUMS")
    (tmp_path / "humaneval" / "HumanEval.jsonl.gz").write_bytes(b"tampered")
    with pytest.raises(DataError, match=r"HumanEval.jsonl.gz: sha256 .* differs"):
        verify_files(tmp_path, "humaneval", tmp_path / "SHA256SUMS")


def test_subset_is_seeded_nested_and_order_free():
    df = normalize("humaneval", RAW, RAW / "SHA256SUMS", {})
    a = select_items(df, 10, seed=1)["item_id"].to_list()
    b = select_items(df.reverse(), 10, seed=1)["item_id"].to_list()
    bigger = select_items(df, 20, seed=1)["item_id"].to_list()
    other = select_items(df, 10, seed=2)["item_id"].to_list()
    assert a == b and set(a) <= set(bigger) and a != other and a == sorted(a)
    assert select_items(df, None, seed=1).height == 164
    with pytest.raises(DataError, match="n_items=165"):
        select_items(df, 165, seed=1)
