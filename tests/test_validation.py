"""Tests of the great-expectations suites of the stage tables (goodbadgreedy.validation)."""

from __future__ import annotations

import gc
import json
import math
import os
import subprocess
import sys
import weakref
from pathlib import Path

import polars as pl
import pytest

from goodbadgreedy import tables, validation
from goodbadgreedy.errors import DataError, ValidationError

N_ITEMS, N_SAMPLES = 3, 2
N = N_ITEMS * N_SAMPLES


def _keys(n_items: int = N_ITEMS, n_samples: int = N_SAMPLES) -> dict:
    n = n_items * n_samples
    return {
        "model": ["m"] * n,
        "benchmark": ["gsm8k"] * n,
        "config": ["t0.7"] * n,
        "item_id": [f"i{k // n_samples}" for k in range(n)],
        "sample_idx": [k % n_samples for k in range(n)],
    }


def make(kind: str, n_items: int = N_ITEMS, n_samples: int = N_SAMPLES) -> pl.DataFrame:
    """A small valid table of ``kind`` (benchmark tables have n_items rows)."""
    n = n_items * n_samples
    if kind == "benchmark":
        return pl.DataFrame(
            {
                "item_id": [f"i{k}" for k in range(n_items)],
                "benchmark": ["mmlu_redux"] * n_items,
                "category": [None] + ["math"] * (n_items - 1),
                "question": ["q"] * n_items,
                "choices": [[]] + [["A", "B"]] * (n_items - 1),
                "answer": [""] + ["A"] * (n_items - 1),
                "payload": ['{"test": "assert True"}'] * n_items,
            },
            schema=tables.BENCHMARK_SCHEMA,
        )
    if kind == "generation":
        return pl.DataFrame(
            {
                **_keys(n_items, n_samples),
                "seed": list(range(n)),
                "prompt": ["p"] * n,
                "response": [""] + ["r"] * (n - 1),
                "prompt_tokens": [7] * n,
                "response_tokens": [0] + [3] * (n - 1),
                "finish_reason": [tables.FINISH_REASONS[k % 3] for k in range(n)],
                # aligned with response_tokens (an empty response has none); the last row's
                # backend got none (null lists are valid)
                "logprobs": [[]] + [[-0.5, -1.25, 0.0]] * (n - 2) + [None],
                "processed_logprobs": [[]] + [[-0.25, -1.0, 0.0]] * (n - 2) + [None],
            },
            schema=tables.GENERATION_SCHEMA,
        )
    if kind == "check":
        return pl.DataFrame(
            {
                **_keys(n_items, n_samples),
                "extracted": [None] + ["4"] * (n - 1),
                "gold": ["4"] * n,
                "score": [0.0] + [1.0] * (n - 1),
                "verdict": ["no_answer"] + ["correct"] * (n - 1),
                "detail": [None] * n,
                "judge_prompt": [None] * n,
                "judge_output": [None] * n,
                "judge_parse_failures": [None] * n,
            },
            schema=tables.CHECK_SCHEMA,
        )
    if kind == "scores":
        return pl.DataFrame(
            {
                **_keys(n_items, n_samples),
                "scorer": ["rm"] * n,
                "reward": [-1.5] + [0.25] * (n - 1),
                "truncated": [False] * n,
            },
            schema=validation.SCORES_SCHEMA,
        )
    raise AssertionError(kind)


def set_at(df: pl.DataFrame, column: str, row: int, value) -> pl.DataFrame:
    """``df`` with ``df[row, column] = value`` (keeping the dtype)."""
    values = df.get_column(column).to_list()
    values[row] = value
    return df.with_columns(pl.Series(column, values, dtype=df.schema[column]))


def fails(df: pl.DataFrame, kind: str, **kwargs) -> str:
    with pytest.raises(ValidationError) as info:
        validation.validate_table(df, kind, **kwargs)
    return str(info.value)


KINDS = ["benchmark", "generation", "check", "scores"]
SAMPLE_KINDS = ["generation", "check", "scores"]


# --- passing tables ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_valid_table_passes_and_writes_result(kind, tmp_path):
    df = make(kind)
    out = tmp_path / "sub" / f"{kind}.json"
    result = validation.validate_table(df, kind, expected_rows=df.height, result_path=out)
    assert result["success"] is True
    assert result["failures"] == []
    assert result["kind"] == kind and result["n_rows"] == df.height
    assert result["gx"]["success"] is True
    assert result["gx"]["statistics"]["unsuccessful_expectations"] == 0
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written == result
    assert not list(out.parent.glob(".*.tmp"))  # atomic writer left no temp file


@pytest.mark.parametrize("kind", KINDS)
def test_empty_table_passes(kind):
    df = tables.empty(validation.SCHEMAS[kind])
    assert validation.validate_table(df, kind, expected_rows=0)["success"]


def test_result_json_is_deterministic_and_strict(tmp_path):
    df = set_at(make("scores"), "reward", 1, math.inf)
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for p in paths:
        with pytest.raises(ValidationError):
            validation.validate_table(df, "scores", result_path=p)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    json.loads(paths[0].read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))


# --- value checks -----------------------------------------------------------------------------


def test_score_out_of_range_names_column_and_row(tmp_path):
    df = set_at(make("check"), "score", 3, 2.0)
    out = tmp_path / "check.json"
    msg = fails(df, "check", result_path=out)
    assert msg.startswith("check table")
    line = next(x for x in msg.splitlines() if "column='score'" in x and "between" in x)
    assert "rows [3]" in line and "2.0" in line
    result = json.loads(out.read_text())
    assert result["success"] is False and result["gx"]["success"] is False
    failed = [e for e in result["gx"]["expectations"] if not e["success"]]
    assert [e["expectation_type"] for e in failed] == ["expect_column_values_to_be_between"]
    assert failed[0]["result"]["partial_unexpected_index_list"] == [3]
    assert str(out) in msg


@pytest.mark.parametrize("bad", [math.nan, None])
def test_score_nan_or_null_is_caught(bad):
    msg = fails(set_at(make("check"), "score", 2, bad), "check")
    assert "expect_column_values_to_not_be_null(column='score')" in msg
    assert "rows [2]" in msg


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, None])
def test_reward_must_be_finite(bad):
    msg = fails(set_at(make("scores"), "reward", 4, bad), "scores")
    assert "column='reward'" in msg and "rows [4]" in msg


def test_bad_finish_reason_is_caught():
    msg = fails(set_at(make("generation"), "finish_reason", 1, "timeout"), "generation")
    line = next(x for x in msg.splitlines() if "finish_reason" in x)
    assert "rows [1]" in line and "'timeout'" in line
    assert "value_set=['eos', 'stop', 'length']" in line


@pytest.mark.parametrize(
    ("column", "value"), [("prompt_tokens", 0), ("response_tokens", -1), ("sample_idx", -1)]
)
def test_token_counts_and_sample_idx_ranges(column, value):
    msg = fails(set_at(make("generation"), column, 5, value), "generation")
    line = next(x for x in msg.splitlines() if f"column='{column}'" in x and "between" in x)
    assert "rows [5]" in line and f"values [{value}]" in line


@pytest.mark.parametrize("column", ["logprobs", "processed_logprobs"])
def test_logprob_lists_are_aligned_finite_and_not_positive(column):
    """Policy: a generation row's per-token log-probability list is null (the backend got none) or
    holds one value per generated token (``response_tokens``), each finite and <= 0 (up to
    LOGPROB_MAX of float32 rounding). Every clause is checked on one bad row, which the message
    names; the valid table (null, empty and full lists, a value of exactly 0) passes."""
    good = make("generation")
    validation.validate_table(good, "generation")  # the control: nulls, [] and aligned lists pass
    short = fails(set_at(good, column, 2, [-0.5, -1.0]), "generation")
    line = next(x for x in short.splitlines() if x.strip().startswith(f"- {column}:"))
    assert "not aligned with response_tokens" in line and "row 2 has 2 for 3 tokens" in line
    for bad in (math.nan, math.inf, -math.inf, 0.5):
        msg = fails(set_at(good, column, 4, [-0.5, bad, -1.0]), "generation")
        line = next(x for x in msg.splitlines() if x.strip().startswith(f"- {column}:"))
        assert "non-finite value or one above" in line and "rows [4]" in line
    tiny = set_at(good, column, 4, [-0.5, validation.LOGPROB_MAX / 2, -1.0])  # float32 rounding
    validation.validate_table(tiny, "generation")


def test_null_verdict_and_null_key_are_caught():
    df = set_at(set_at(make("check"), "verdict", 0, None), "item_id", 1, None)
    msg = fails(df, "check")
    assert "not_be_null(column='verdict')" in msg and "null/NaN at rows [0]" in msg
    assert "not_be_null(column='item_id')" in msg and "null/NaN at rows [1]" in msg


def test_benchmark_null_answer_caught_but_empty_answer_ok():
    df = make("benchmark")
    assert df["answer"][0] == ""  # passes in test_valid_table_passes_and_writes_result
    msg = fails(set_at(df, "answer", 1, None), "benchmark")
    assert "not_be_null(column='answer')" in msg and "rows [1]" in msg


def test_benchmark_choices_null_and_payload_not_json():
    df = set_at(set_at(make("benchmark"), "choices", 1, None), "payload", 2, "{oops")
    msg = fails(df, "benchmark")
    assert "not_be_null(column='choices')" in msg and "null/NaN at rows [1]" in msg
    assert "json_parseable(column='payload')" in msg and "rows [2]" in msg


def test_at_most_ten_offending_rows_are_reported():
    df = make("check", n_items=15, n_samples=2).with_columns(score=pl.lit(2.0))
    msg = fails(df, "check")
    line = next(x for x in msg.splitlines() if "column='score'" in x)
    assert "30 unexpected of 30 rows (first shown)" in line
    assert f"rows {list(range(10))}" in line


def test_many_duplicated_keys_report_ten_keys_with_all_their_rows():
    df = make("check", n_items=15, n_samples=2)
    msg = fails(pl.concat([df, df]), "check")
    line = next(x for x in msg.splitlines() if "compound_columns_to_be_unique" in x)
    assert "60 unexpected of 60 rows" in line
    assert "('i0', 0) at rows [0, 30]" in line and "('i4', 1) at rows [9, 39]" in line
    assert "('i5', 0)" not in line  # ten keys at most


# --- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
def test_duplicated_item_sample_key_is_named(kind):
    df = make(kind)
    dup = pl.concat([df, df[3:4]])  # row 3 is (i1, 1)
    msg = fails(dup, kind)
    line = next(x for x in msg.splitlines() if "compound_columns_to_be_unique" in x)
    assert f"duplicated (item_id, sample_idx) keys: ('i1', 1) at rows [3, {N}]" in line


def test_duplicated_benchmark_item_id_is_named():
    df = set_at(make("benchmark"), "item_id", 2, "i0")
    msg = fails(df, "benchmark")
    line = next(x for x in msg.splitlines() if "values_to_be_unique(column='item_id')" in x)
    assert "duplicated item_id keys: 'i0' at rows [0, 2]" in line


@pytest.mark.parametrize("column", ["model", "benchmark", "config"])
def test_run_keys_must_be_constant(column):
    msg = fails(set_at(make("check"), column, 4, "other"), "check")
    line = next(x for x in msg.splitlines() if f"in_set(column='{column}'" in x)
    assert "constant" in line and "rows [4]" in line and "'other'" in line


# --- schema -----------------------------------------------------------------------------------


def test_missing_column_is_named(tmp_path):
    out = tmp_path / "r.json"
    msg = fails(make("check").drop("verdict"), "check", result_path=out)
    assert "missing column(s) ['verdict']" in msg
    result = json.loads(out.read_text())
    assert result["schema"]["missing_columns"] == ["verdict"]


def test_extra_column_is_named():
    msg = fails(make("scores").with_columns(extra=pl.lit(1)), "scores")
    assert "unexpected column(s) ['extra']" in msg


@pytest.mark.parametrize(
    ("kind", "column", "dtype"),
    [
        ("generation", "sample_idx", pl.Int64),
        ("check", "score", pl.String),
        ("benchmark", "choices", pl.String),
        ("scores", "reward", pl.Float32),
    ],
)
def test_wrong_dtype_names_column_expected_and_actual(kind, column, dtype):
    df = make(kind)
    if dtype == pl.String and df.schema[column] == pl.List(pl.String):
        df = df.with_columns(pl.col(column).list.join(","))
    else:
        df = df.with_columns(pl.col(column).cast(dtype))
    msg = fails(df, kind)
    expected = validation.SCHEMAS[kind][column]
    assert f"column {column!r} has dtype {df.schema[column]}, expected {expected}" in msg


# --- row count --------------------------------------------------------------------------------


def test_expected_rows_mismatch_is_caught(tmp_path):
    out = tmp_path / "r.json"
    msg = fails(make("generation"), "generation", expected_rows=N + 1, result_path=out)
    assert f"expect_table_row_count_to_equal(value={N + 1}): table has {N} rows" in msg
    assert json.loads(out.read_text())["expected_rows"] == N + 1


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_arguments(bad):
    with pytest.raises(ValueError, match="expected_rows"):
        validation.validate_table(make("check"), "check", expected_rows=bad)
    with pytest.raises(ValueError, match="unknown table kind"):
        validation.validate_table(make("check"), "checks")


# --- files ------------------------------------------------------------------------------------


def test_validate_file_pass_and_fail(tmp_path):
    good = tmp_path / "good.parquet"
    make("scores").write_parquet(good)
    result = validation.validate_file(good, "scores", expected_rows=N)
    assert result["success"] and result["source"] == str(good)

    bad = tmp_path / "bad.parquet"
    set_at(make("check"), "score", 3, 2.0).write_parquet(bad)
    out = tmp_path / "bad.json"
    with pytest.raises(ValidationError, match=r"check table \(.*bad\.parquet\)") as info:
        validation.validate_file(bad, "check", result_path=out)
    assert "rows [3]" in str(info.value)
    assert json.loads(out.read_text())["source"] == str(bad)


def test_validate_file_missing_or_corrupt(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        validation.validate_file(tmp_path / "nope.parquet", "check")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet")
    with pytest.raises(DataError, match="junk.parquet"):
        validation.validate_file(junk, "check")


# --- housekeeping -----------------------------------------------------------------------------


def test_import_is_lazy():
    code = (
        "import sys, goodbadgreedy.validation; "
        "sys.exit(int('great_expectations' in sys.modules))"
    )
    src = str(Path(validation.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    assert subprocess.run([sys.executable, "-c", code], check=False, env=env).returncode == 0


def test_no_progress_bars(capfd):
    validation.validate_table(make("generation"), "generation")
    captured = capfd.readouterr()
    assert "Calculating Metrics" not in captured.err + captured.out


def test_validated_frame_is_not_kept_alive(monkeypatch):
    refs = []
    to_pandas = pl.DataFrame.to_pandas

    def spy(self, *args, **kwargs):
        pdf = to_pandas(self, *args, **kwargs)
        refs.append(weakref.ref(pdf))
        return pdf

    monkeypatch.setattr(pl.DataFrame, "to_pandas", spy)
    validation.validate_table(make("check"), "check")
    gc.collect()
    assert refs and refs[0]() is None


def test_odd_dtypes_are_reported_not_crashed_on():
    df = make("check").with_columns(
        detail=pl.struct(a=pl.lit(1)),
        extra=pl.Series([object()] * N, dtype=pl.Object),
    )
    msg = fails(df, "check")
    assert "column 'detail' has dtype Struct" in msg and "expected String" in msg
    assert "unexpected column(s) ['extra']" in msg
