"""publish_table: a failing validation publishes nothing and leaves its result for inspection."""

from __future__ import annotations

import json

import polars as pl
import pytest

from goodbadgreedy import tables
from goodbadgreedy.audit import trace
from goodbadgreedy.errors import ValidationError
from goodbadgreedy.lineage import publish_table, read_lineage


def _checks(scores):
    rows = [{"model": "m", "benchmark": "b", "config": "c", "item_id": f"i{i}", "sample_idx": 0, "extracted": "1",
             "gold": "1", "score": s, "verdict": "correct", "detail": ""} for i, s in enumerate(scores)]
    return pl.DataFrame(rows, schema=tables.CHECK_SCHEMA)


def test_valid_table_is_published_with_sidecars(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("input")
    out = tmp_path / "checks.parquet"
    publish_table(_checks([1.0, 0.0]), out, kind="check", stage="check", inputs=[src], params={"k": 1}, expected_rows=2)
    assert pl.read_parquet(out).height == 2
    rec = read_lineage(out)
    assert rec["stage"] == "check" and rec["params"] == {"k": 1} and rec["rows"] == 2
    assert set(rec["inputs"]) == {str(src)} and len(rec["environment"]["packages"]) > 3
    assert json.loads((tmp_path / "checks.parquet.validation.json").read_text())["success"] is True
    nodes = trace(out)
    assert [n["stage"] for n in nodes] == ["check", None] and nodes[1]["status"] == "ok"
    src.write_text("edited")
    assert trace(out)[1]["status"] == "changed"


def test_failing_table_publishes_nothing(tmp_path):
    out = tmp_path / "checks.parquet"
    with pytest.raises(ValidationError, match=r"score") as exc:
        publish_table(_checks([1.0, 0.0, 0.5, 2.0]), out, kind="check", stage="check", inputs=[])
    assert "3" in str(exc.value)  # the offending row
    assert not out.exists() and not (tmp_path / "checks.parquet.lineage.json").exists()
    result = json.loads((tmp_path / "checks.parquet.validation.json").read_text())
    assert result["success"] is False


def test_hand_edited_parquet_with_duplicate_sample_is_caught(tmp_path):
    from goodbadgreedy.validation import validate_file

    path = tmp_path / "edited.parquet"
    df = _checks([1.0, 0.0])
    pl.concat([df, df.head(1)]).write_parquet(path)
    with pytest.raises(ValidationError, match=r"\('i0', 0\)"):
        validate_file(path, "check")
