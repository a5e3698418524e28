"""publish_table: a failing validation publishes nothing, no sidecar either; its result goes to the log."""

from __future__ import annotations

import json
import logging

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


def test_failing_table_publishes_nothing(tmp_path, caplog):
    """Policy (publish_table): a table that fails its suite is not written, and neither is any
    sidecar (no ``.validation.json`` / ``.lineage.json`` beside an output that does not exist); the
    full validation result goes to the log (logger ``goodbadgreedy.lineage``, ERROR; in a job, the
    job's log) and the raised error names the output, summarises the failures (column, row) and
    carries the result. Negative control: the valid table of the test above gets both sidecars."""
    out = tmp_path / "checks.parquet"
    with caplog.at_level(logging.ERROR, logger="goodbadgreedy.lineage"):
        with pytest.raises(ValidationError, match=r"score") as exc:
            publish_table(_checks([1.0, 0.0, 0.5, 2.0]), out, kind="check", stage="check", inputs=[])
    message = str(exc.value)
    assert str(out) in message and "not written" in message and "log" in message
    assert "rows [3]" in message  # the offending row, summarised
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no output, no sidecar, no temp file
    assert exc.value.result["success"] is False and exc.value.result["n_rows"] == 4
    logged = [r for r in caplog.records if r.name == "goodbadgreedy.lineage" and r.levelno == logging.ERROR]
    assert len(logged) == 1 and str(out) in logged[0].getMessage()
    body = logged[0].getMessage().split("full result:\n", 1)[1]
    assert json.loads(body) == exc.value.result  # the full result, as JSON


def test_failing_republish_keeps_the_older_output_and_its_sidecars(tmp_path):
    """An output published earlier stays with its own sidecars when a new table for it fails:
    they still describe each other (the failed result is not written beside it)."""
    out = tmp_path / "checks.parquet"
    publish_table(_checks([1.0, 0.0]), out, kind="check", stage="check", inputs=[])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(before) == {"checks.parquet", "checks.parquet.lineage.json", "checks.parquet.validation.json"}
    with pytest.raises(ValidationError):
        publish_table(_checks([2.0]), out, kind="check", stage="check", inputs=[])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_hand_edited_parquet_with_duplicate_sample_is_caught(tmp_path):
    from goodbadgreedy.validation import validate_file

    path = tmp_path / "edited.parquet"
    df = _checks([1.0, 0.0])
    pl.concat([df, df.head(1)]).write_parquet(path)
    with pytest.raises(ValidationError, match=r"\('i0', 0\)"):
        validate_file(path, "check")
