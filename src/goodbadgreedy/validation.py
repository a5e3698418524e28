"""Data-validation suites (great-expectations) for every stage table.

Each stage writes one polars table (see :mod:`goodbadgreedy.tables`); before a stage's output is
accepted, :func:`validate_table` (or :func:`validate_file`) checks it against its suite:

* **schema** -- exactly the columns of the kind's schema, with exactly those polars dtypes. This
  part is checked with polars, before the frame goes to great-expectations (GX only sees the pandas
  conversion, where Int32 becomes int32/float64, String becomes object, and so on);
* **non-null keys** -- ``item_id``, ``question``, ``answer`` (may be ``""``), ``benchmark`` for
  benchmark tables; ``model``, ``benchmark``, ``config``, ``item_id``, ``sample_idx`` for the
  per-sample tables;
* **keys** -- ``item_id`` unique (benchmark); ``(item_id, sample_idx)`` unique
  (generation/check/scores); ``model``, ``benchmark``, ``config`` constant within one table
  (``benchmark`` also within a benchmark table: one file per benchmark);
* **values** -- ``sample_idx >= 0``; generation ``prompt_tokens >= 1``, ``response_tokens >= 0``,
  ``finish_reason`` in :data:`goodbadgreedy.tables.FINISH_REASONS`; check ``score`` in [0, 1] and
  ``verdict`` non-null; scores ``reward`` finite, ``scorer`` constant, ``truncated`` non-null;
  benchmark ``choices`` a (possibly empty) list, ``payload`` JSON;
* **row count** -- equal to ``expected_rows`` (items x samples) when given;
* **log-probabilities** (generation, checked with polars: GX has no expectation for a list column
  against another column) -- ``logprobs`` / ``processed_logprobs`` null, or one value per generated
  token (length ``response_tokens``), each finite and <= :data:`LOGPROB_MAX`.

Not checked here (needs more than one table or the config): ``seed`` is null iff the config is
greedy; item ids of a generation table match its benchmark table.

The validation result (GX's ``describe_dict()`` plus the polars schema check) can be written as
JSON next to the stage output; it holds no timestamps or run ids, so equal tables give equal bytes.

great_expectations is imported lazily (it takes seconds); one ephemeral GX context is shared by
every call in a process.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl

from goodbadgreedy import tables
from goodbadgreedy.errors import DataError, ValidationError
from goodbadgreedy.io import write_json

#: Scores table (kind ``scores``): see :data:`goodbadgreedy.tables.SCORES_SCHEMA` (kept here under
#: its old name for callers of this module).
SCORES_SCHEMA: dict[str, pl.DataType] = tables.SCORES_SCHEMA

#: The table kinds and their schemas (:data:`goodbadgreedy.tables.SCHEMAS`).
SCHEMAS: dict[str, dict[str, pl.DataType]] = tables.SCHEMAS

#: The kinds that hold one row per (item_id, sample_idx) of one (model, benchmark, config).
_SAMPLE_KINDS = ("generation", "check", "scores")
_RUN_KEYS = ("model", "benchmark", "config")
_SAMPLE_KEYS = ("model", "benchmark", "config", "item_id", "sample_idx")

#: Offending rows / values named per failed expectation in the error message.
MAX_REPORTED = 10
#: Rows GX collects per failed expectation (twice MAX_REPORTED, so that ten duplicated keys show
#: even when every key is duplicated once).
_PARTIAL_COUNT = 2 * MAX_REPORTED
#: Longest repr of one offending value in a message.
_MAX_VALUE_CHARS = 80

_LOCK = threading.RLock()
_GX_STATE: dict[str, Any] = {}

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# public API


def validate_table(
    df: pl.DataFrame,
    kind: str,
    *,
    expected_rows: int | None = None,
    result_path: str | Path | None = None,
) -> dict:
    """Validate one stage table against the suite of its kind.

    Args:
        df: the table, as the stage wrote (or is about to write) it.
        kind: ``"benchmark"``, ``"generation"``, ``"check"`` or ``"scores"``.
        expected_rows: when given, the table must have exactly this many rows (items x samples).
        result_path: when given, the validation result is written there as JSON (atomically), on
            success and on failure alike. Its parent folder is created if missing.

    Returns:
        The validation result: ``{"kind", "success", "n_rows", "expected_rows", "schema",
        "failures", "great_expectations_version", "gx"}``, where ``schema`` is the polars schema
        check (missing / extra columns, dtype mismatches), ``failures`` the failure lines (empty
        on success) and ``gx`` GX's ``ExpectationSuiteValidationResult.describe_dict()``.
        Non-finite floats are written as the strings ``"nan"``, ``"inf"``, ``"-inf"``.

    Raises:
        ValidationError: the table fails its suite. The message names the table kind, each failed
            expectation and its column(s), and up to ten offending row indices (0-based, in the
            table's row order) and values; for the key uniqueness expectations, the duplicated
            keys. The result JSON is written before raising (when ``result_path`` is given), and
            the error's ``result`` attribute holds it.
        ValueError: ``kind`` is not a known kind, or ``expected_rows`` is negative.
    """
    return _validate(df, kind, expected_rows=expected_rows, result_path=result_path, source=None)


def validate_file(
    path: str | Path,
    kind: str,
    *,
    expected_rows: int | None = None,
    result_path: str | Path | None = None,
) -> dict:
    """Read a parquet stage table and validate it (see :func:`validate_table`).

    Args:
        path: the parquet file.
        kind: ``"benchmark"``, ``"generation"``, ``"check"`` or ``"scores"``.
        expected_rows: when given, the table must have exactly this many rows.
        result_path: when given, the validation result is written there as JSON.

    Returns:
        The validation result dict of :func:`validate_table`, with ``"source"`` set to ``path``.

    Raises:
        DataError: ``path`` is missing or is not a readable parquet file (the message names it).
        ValidationError: the table fails its suite; the message names the file too.
        ValueError: ``kind`` is not a known kind, or ``expected_rows`` is negative.
    """
    path = Path(path)
    _check_args(kind, expected_rows)
    if not path.is_file():
        raise DataError(f"cannot validate {kind} table {str(path)!r}: no such file")
    try:
        df = pl.read_parquet(path)
    except Exception as exc:  # polars raises several types for corrupt files
        raise DataError(f"cannot read {kind} table {str(path)!r} as parquet: {exc}") from exc
    return _validate(
        df, kind, expected_rows=expected_rows, result_path=result_path, source=str(path)
    )


# ---------------------------------------------------------------------------------------------
# implementation


def _check_args(kind: str, expected_rows: int | None) -> None:
    if kind not in SCHEMAS:
        raise ValueError(f"unknown table kind {kind!r}; expected one of {sorted(SCHEMAS)}")
    if expected_rows is not None and (
        isinstance(expected_rows, bool) or not isinstance(expected_rows, int) or expected_rows < 0
    ):
        raise ValueError(f"expected_rows must be a non-negative int or None, got {expected_rows!r}")


def _validate(
    df: pl.DataFrame,
    kind: str,
    *,
    expected_rows: int | None,
    result_path: str | Path | None,
    source: str | None,
) -> dict:
    _check_args(kind, expected_rows)
    if not isinstance(df, pl.DataFrame):
        raise TypeError(f"validate_table expects a polars DataFrame, got {type(df).__name__}")

    schema_report, bad_columns = _check_schema(df, SCHEMAS[kind])
    failures: list[str] = _schema_failures(schema_report)

    gx = _gx()
    # GX only gets the columns it can check meaningfully: expectations on missing columns or
    # columns of the wrong dtype are left out (the schema failure already names them).
    suite = _build_suite(gx, df, kind, expected_rows=expected_rows, skip=bad_columns)
    # Columns no expectation looks at (extra ones, wrong dtypes) go to pandas as nulls: only their
    # names matter to GX, and odd dtypes (structs, objects) need not survive the conversion.
    unchecked = schema_report["extra_columns"] + [
        m["column"] for m in schema_report["dtype_mismatches"]
    ]
    pdf = df.with_columns(pl.lit(None).alias(c) for c in unchecked).to_pandas()
    with _LOCK:
        batch = gx["batch_definitions"][kind].get_batch(batch_parameters={"dataframe": pdf})
        try:
            gx_result = batch.validate(
                suite,
                result_format={
                    "result_format": "SUMMARY",
                    "partial_unexpected_count": _PARTIAL_COUNT,
                },
            )
        finally:
            _release_batches(gx)
            del batch

    for res in gx_result.results:
        if not res.success:
            failures.append(_describe_failure(res, df))
    if kind == "generation":
        failures.extend(_logprob_failures(df, skip=bad_columns))

    success = not failures
    result: dict[str, Any] = {
        "kind": kind,
        "success": success,
        "n_rows": df.height,
        "expected_rows": expected_rows,
        "schema": schema_report,
        "failures": failures,
        "great_expectations_version": gx["version"],
        "gx": gx["to_json"](gx_result.describe_dict()),
    }
    if source is not None:
        result["source"] = source
    result = _json_safe(result)

    if result_path is not None:
        write_json(result, result_path)
    if not success:
        where = f" ({source})" if source else ""
        n_exp = gx_result.statistics.get("evaluated_expectations", 0)
        n_bad = gx_result.statistics.get("unsuccessful_expectations", 0)
        head = (
            f"{kind} table{where} failed validation: {df.height} rows; "
            f"schema {'ok' if schema_report['success'] else 'MISMATCH'}; "
            f"{n_bad} of {n_exp} GX expectations failed"
        )
        tail = f"\n(full result: {result_path})" if result_path is not None else ""
        error = ValidationError(head + "\n" + "\n".join(f"  - {f}" for f in failures) + tail)
        error.result = result
        raise error
    return result


def _check_schema(
    df: pl.DataFrame, schema: dict[str, pl.DataType]
) -> tuple[dict[str, Any], set[str]]:
    """Compare ``df``'s columns and polars dtypes with ``schema``; return (report, bad columns)."""
    missing = [c for c in schema if c not in df.columns]
    extra = [c for c in df.columns if c not in schema]
    mismatches = [
        {"column": c, "expected": str(t), "actual": str(df.schema[c])}
        for c, t in schema.items()
        if c in df.columns and df.schema[c] != t
    ]
    report = {
        "success": not (missing or extra or mismatches),
        "missing_columns": missing,
        "extra_columns": extra,
        "dtype_mismatches": mismatches,
    }
    return report, set(missing) | {m["column"] for m in mismatches}


def _schema_failures(report: dict[str, Any]) -> list[str]:
    out = []
    if report["missing_columns"]:
        out.append(f"schema: missing column(s) {report['missing_columns']}")
    if report["extra_columns"]:
        out.append(f"schema: unexpected column(s) {report['extra_columns']}")
    for m in report["dtype_mismatches"]:
        out.append(
            f"schema: column {m['column']!r} has dtype {m['actual']}, expected {m['expected']}"
        )
    return out


def _gx() -> dict[str, Any]:
    """Import great_expectations and build the shared ephemeral context (once per process)."""
    with _LOCK:
        if _GX_STATE:
            return _GX_STATE
        started = time.perf_counter()
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        import great_expectations.expectations as gxe
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.util import convert_to_json_serializable

        context = gx.get_context(mode="ephemeral")
        # No tqdm bars while metrics are computed (GX enables them unless told otherwise).
        context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        datasource = context.data_sources.add_pandas(name="goodbadgreedy")
        batch_definitions = {}
        for kind in SCHEMAS:
            asset = datasource.add_dataframe_asset(name=kind)
            batch_definitions[kind] = asset.add_batch_definition_whole_dataframe(name="whole")
        _GX_STATE.update(
            gx=gx,
            gxe=gxe,
            version=gx.__version__,
            context=context,
            datasource=datasource,
            batch_definitions=batch_definitions,
            to_json=convert_to_json_serializable,
        )
        log.info("great_expectations %s imported and its context built in %.2f s", gx.__version__,
                 time.perf_counter() - started)
        return _GX_STATE


def _release_batches(gx: dict[str, Any]) -> None:
    """Drop GX's references to the last validated frame, so that big tables are not pinned."""
    try:
        manager = gx["datasource"].get_execution_engine().batch_manager
        manager.reset_batch_cache()
        manager.batch_data_cache.clear()
    except Exception:  # private GX internals; keeping a reference is harmless, only wasteful
        pass


def _modal_value(df: pl.DataFrame, column: str) -> Any:
    """The most common non-null value of ``column`` (ties: the one appearing first), or None."""
    s = df.get_column(column).drop_nulls()
    if s.len() == 0:
        return None
    counts = (
        pl.DataFrame({"v": s})
        .with_row_index("i")
        .group_by("v")
        .agg(pl.len().alias("n"), pl.col("i").min().alias("first"))
        .sort(["n", "first"], descending=[True, False])
    )
    return counts.get_column("v")[0]


def _build_suite(
    gx: dict[str, Any],
    df: pl.DataFrame,
    kind: str,
    *,
    expected_rows: int | None,
    skip: set[str],
) -> Any:
    gxe = gx["gxe"]
    suite = gx["gx"].ExpectationSuite(name=f"goodbadgreedy-{kind}")

    def add(expectation: Any, *columns: str, why: str) -> None:
        if skip.intersection(columns):
            return
        expectation.meta = {"why": why}
        suite.add_expectation(expectation)

    suite.add_expectation(
        gxe.ExpectTableColumnsToMatchSet(column_set=list(SCHEMAS[kind]), exact_match=True)
    )
    if expected_rows is not None:
        suite.add_expectation(gxe.ExpectTableRowCountToEqual(value=expected_rows))

    if kind == "benchmark":
        for c in ("item_id", "question", "answer", "benchmark", "choices"):
            add(gxe.ExpectColumnValuesToNotBeNull(column=c), c, why="non-null")
        add(gxe.ExpectColumnValuesToBeUnique(column="item_id"), "item_id", why="unique key")
        constant = ("benchmark",)
        add(gxe.ExpectColumnValuesToBeJsonParseable(column="payload"), "payload", why="json")
    else:
        for c in _SAMPLE_KEYS:
            add(gxe.ExpectColumnValuesToNotBeNull(column=c), c, why="non-null key")
        add(
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["item_id", "sample_idx"]),
            "item_id",
            "sample_idx",
            why="unique key",
        )
        add(
            gxe.ExpectColumnValuesToBeBetween(column="sample_idx", min_value=0),
            "sample_idx",
            why="range",
        )
        constant = _RUN_KEYS

    for c in constant:
        if c in skip:
            continue
        value = _modal_value(df, c)
        if value is not None:
            add(
                gxe.ExpectColumnValuesToBeInSet(column=c, value_set=[value]),
                c,
                why=f"constant within the table (most common value {value!r})",
            )

    if kind == "generation":
        add(
            gxe.ExpectColumnValuesToBeBetween(column="prompt_tokens", min_value=1),
            "prompt_tokens",
            why="range",
        )
        add(
            gxe.ExpectColumnValuesToBeBetween(column="response_tokens", min_value=0),
            "response_tokens",
            why="range",
        )
        for c in ("prompt_tokens", "response_tokens", "finish_reason"):
            add(gxe.ExpectColumnValuesToNotBeNull(column=c), c, why="non-null")
        add(
            gxe.ExpectColumnValuesToBeInSet(
                column="finish_reason", value_set=list(tables.FINISH_REASONS)
            ),
            "finish_reason",
            why="enum",
        )
    elif kind == "check":
        # pandas turns NaN and null alike into NaN, so this also rejects NaN scores.
        add(gxe.ExpectColumnValuesToNotBeNull(column="score"), "score", why="non-null, not NaN")
        add(
            gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0.0, max_value=1.0),
            "score",
            why="range",
        )
        add(gxe.ExpectColumnValuesToNotBeNull(column="verdict"), "verdict", why="non-null")
    elif kind == "scores":
        add(gxe.ExpectColumnValuesToNotBeNull(column="scorer"), "scorer", why="non-null")
        scorer = None if "scorer" in skip else _modal_value(df, "scorer")
        if scorer is not None:
            add(
                gxe.ExpectColumnValuesToBeInSet(column="scorer", value_set=[scorer]),
                "scorer",
                why=f"constant within the table (most common value {scorer!r})",
            )
        add(gxe.ExpectColumnValuesToNotBeNull(column="truncated"), "truncated", why="non-null")
        # finite: not null/NaN (null check) and not +-inf (the largest finite floats as bounds;
        # infinities cannot be expectation kwargs, which must be JSON).
        add(gxe.ExpectColumnValuesToNotBeNull(column="reward"), "reward", why="finite (not NaN)")
        add(
            gxe.ExpectColumnValuesToBeBetween(
                column="reward", min_value=-sys.float_info.max, max_value=sys.float_info.max
            ),
            "reward",
            why="finite (not inf)",
        )
    return suite


#: Largest log-probability accepted in a generation table: a chosen token's log-softmax is <= 0,
#: up to float32 rounding of logsumexp (seen: a few 1e-7 where the token has probability ~1).
LOGPROB_MAX = 1e-4


def _logprob_failures(df: pl.DataFrame, *, skip: set[str]) -> list[str]:
    """The per-token log-probability lists of a generation table (checked with polars).

    A non-null list must hold one value per generated token (``response_tokens``), every value
    finite and <= :data:`LOGPROB_MAX`. Null lists are allowed (a backend that got none). GX has
    no expectation on list columns against another column, so this part of the suite is polars.
    """
    out = []
    for c in ("logprobs", "processed_logprobs"):
        if c in skip or c not in df.columns or "response_tokens" in skip or "response_tokens" not in df.columns:
            continue
        rows = df.select(
            pl.col(c).is_not_null().alias("present"),
            pl.col(c).list.len().alias("n"),
            pl.col("response_tokens").alias("want"),
            pl.col(c).list.eval(~pl.element().is_finite() | (pl.element() > LOGPROB_MAX)).list.any().alias("bad"),
        ).with_row_index("row")
        wrong_len = rows.filter(pl.col("present") & (pl.col("n") != pl.col("want")))
        if wrong_len.height:
            shown = ", ".join(f"row {r} has {n} for {w} tokens" for r, n, w in
                              wrong_len.select("row", "n", "want").head(MAX_REPORTED).rows())
            out.append(f"{c}: {wrong_len.height} list(s) not aligned with response_tokens ({shown})")
        bad = rows.filter(pl.col("present") & pl.col("bad").fill_null(False))
        if bad.height:
            out.append(f"{c}: {bad.height} list(s) with a non-finite value or one above {LOGPROB_MAX} "
                       f"(a log-probability is <= 0); rows {bad['row'].head(MAX_REPORTED).to_list()}")
    return out


def _short(value: Any) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text


def _describe_failure(res: Any, df: pl.DataFrame) -> str:
    """One message line for a failed GX expectation result on ``df``."""
    config = res.expectation_config
    etype = config.type
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
    why = (config.meta or {}).get("why")
    if etype == "expect_table_columns_to_match_set":
        kwargs = {}  # the column set is the schema's; the schema lines name the difference
    label = etype + "(" + ", ".join(f"{k}={_short(v)}" for k, v in kwargs.items()) + ")"
    if why:
        label += f" [{why}]"
    r = res.result or {}

    if res.exception_info and res.exception_info.get("raised_exception"):
        return f"{label}: raised {res.exception_info.get('exception_message')}"

    if etype == "expect_table_row_count_to_equal":
        return f"{label}: table has {r.get('observed_value')} rows"
    if etype == "expect_table_columns_to_match_set":
        details = (r.get("details") or {}).get("mismatched") or {}
        return f"{label}: columns differ from the {config.kwargs.get('batch_id')} schema: {details}"

    if "unexpected_count" not in r:
        return f"{label}: observed {r.get('observed_value')!r}"

    rows = list(r.get("partial_unexpected_index_list") or [])
    values = list(r.get("partial_unexpected_list") or [])
    count = r.get("unexpected_count")
    more = " (first shown)" if count and count > MAX_REPORTED else ""
    text = f"{label}: {count} unexpected of {r.get('element_count')} rows{more}"
    if etype in ("expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique"):
        if etype == "expect_compound_columns_to_be_unique":
            cols = list(kwargs.get("column_list") or [])
            keys = [tuple(v.get(c) for c in cols) if isinstance(v, dict) else v for v in values]
            name = "(" + ", ".join(cols) + ")"
        else:
            keys = values
            name = str(kwargs.get("column"))
        distinct = list(dict.fromkeys(_hashable(k) for k in keys))[:MAX_REPORTED]
        cols = cols if etype == "expect_compound_columns_to_be_unique" else [name]
        where = []
        for key in distinct:
            key_t = key if isinstance(key, tuple) else (key,)
            at = _rows_with_key(df, cols, key_t)
            where.append(f"{_short(key)} at rows {at}")
        return text + f"; duplicated {name} keys: " + "; ".join(where)
    if etype == "expect_column_values_to_not_be_null":
        # the values are all null (pandas shows a null string as NaN); the rows say it all
        return text + f"; null/NaN at rows {rows[:MAX_REPORTED]}"
    text += f"; rows {rows[:MAX_REPORTED]}"
    text += "; values [" + ", ".join(_short(v) for v in values[:MAX_REPORTED]) + "]"
    return text


def _rows_with_key(df: pl.DataFrame, columns: list[str], key: tuple) -> list[int] | str:
    """The first rows of ``df`` whose ``columns`` equal ``key`` (GX's values, from pandas)."""
    try:
        cond = pl.lit(True)
        for c, v in zip(columns, key, strict=True):
            cond = cond & pl.col(c).eq_missing(pl.lit(v))
        rows = df.with_row_index("__row").filter(cond).get_column("__row").head(MAX_REPORTED)
        return rows.to_list()
    except Exception:  # a value pandas changed beyond recognition: no rows rather than no error
        return "?"


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _json_safe(obj: Any) -> Any:
    """Replace non-finite floats by strings (strict JSON) and tuples by lists, recursively."""
    if isinstance(obj, float):
        if math.isnan(obj):
            return "nan"
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj
