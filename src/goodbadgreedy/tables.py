"""The polars schema of every stage table.

Tables are long: one row per item (benchmark tables) or per (item, sample) (generation and check
tables). Columns and dtypes here are the contract between stages; the validation suites check
them too. Stages read their input tables through :func:`read_table`, which turns a missing,
truncated, edited or malformed file into a :class:`~goodbadgreedy.errors.DataError` naming the
file, what is wrong and how to rebuild it.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any, Iterable, Sequence

import polars as pl

from goodbadgreedy.io import sha256_file, sidecar

#: Normalized benchmark table, written by the normalize stage (key: ``item_id``).
#: ``choices`` is empty for non-multiple-choice benchmarks; ``answer`` is the gold answer as text
#: (GSM8K: the normalized number; MMLU-Redux: the letter; HumanEval: empty, the tests decide);
#: ``payload`` is a JSON object with benchmark-specific fields (e.g. HumanEval's ``test`` and
#: ``entry_point``, MMLU-Redux's ``error_type`` and ``original_answer``).
BENCHMARK_SCHEMA: dict[str, pl.DataType] = {
    "item_id": pl.String(),
    "benchmark": pl.String(),
    "category": pl.String(),
    "question": pl.String(),
    "choices": pl.List(pl.String()),
    "answer": pl.String(),
    "payload": pl.String(),
}

#: Finish reasons of a generated sample: ``eos`` (the model's end-of-sequence token),
#: ``stop`` (a stop sequence matched; it is cut from ``response``), ``length`` (max_new_tokens).
#: A check row's ``verdict`` when an LLM judge's output did not parse (the row scores 0).
JUDGE_PARSE_FAILURE = "judge_parse_failure"

FINISH_REASONS = ("eos", "stop", "length")

#: Generation table, one row per (item_id, sample_idx); ``seed`` is null for greedy decoding.
#: ``logprobs``: per generated token (EOS, or the token that completed a stop sequence, included;
#: the sampled tokens, not a re-tokenization of ``response``), its raw log-probability in nats
#: (float32 ``log_softmax`` of the model's logits before any logits processor), so of length
#: ``response_tokens``; ``processed_logprobs``: the same tokens' log-probabilities under the
#: distribution they were drawn from (after repetition penalty, temperature, top-k, top-p; greedy:
#: after the repetition penalty only). Either is null where the backend did not get it (see
#: :class:`goodbadgreedy.generation.backend_base.Sample`): an OpenAI-compatible server that
#: returns no log-probabilities writes nulls in both, the ``vllm`` backend fills one of them.
GENERATION_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),
    "benchmark": pl.String(),
    "config": pl.String(),
    "item_id": pl.String(),
    "sample_idx": pl.Int32(),
    "seed": pl.Int64(),
    "prompt": pl.String(),
    "response": pl.String(),
    "prompt_tokens": pl.Int32(),
    "response_tokens": pl.Int32(),
    "finish_reason": pl.String(),
    "logprobs": pl.List(pl.Float32()),
    "processed_logprobs": pl.List(pl.Float32()),
}

#: Check table, one row per (item_id, sample_idx); ``score`` in [0, 1].
#: ``verdict`` is benchmark specific (``correct``/``wrong``/``no_answer`` for extracted answers,
#: ``passed``/``failed``/``error``/``timeout``/``oom``/``killed`` for executed code,
#: ``judge_parse_failure`` when no judge output parsed). Judge-based benchmarks also fill
#: ``judge_prompt`` (JSON list of the chat prompts sent to the judge), ``judge_output`` (JSON list
#: of its raw outputs) and ``judge_parse_failures`` (how many of them did not parse); these three
#: are null for the other benchmarks.
CHECK_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),
    "benchmark": pl.String(),
    "config": pl.String(),
    "item_id": pl.String(),
    "sample_idx": pl.Int32(),
    "extracted": pl.String(),
    "gold": pl.String(),
    "score": pl.Float64(),
    "verdict": pl.String(),
    "detail": pl.String(),
    "judge_prompt": pl.String(),
    "judge_output": pl.String(),
    "judge_parse_failures": pl.Int32(),
}


#: Scores table (the score stage), one row per (item_id, sample_idx) of one (model, benchmark,
#: config) and one scorer: ``reward`` a finite float, higher is better (a reward model's output, a
#: self-consistency vote share, a mean token log-probability); ``truncated`` true when the scorer
#: saw the sample cut to its maximum input length (counted and logged by the scorer).
SCORES_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),
    "benchmark": pl.String(),
    "config": pl.String(),
    "item_id": pl.String(),
    "sample_idx": pl.Int32(),
    "scorer": pl.String(),
    "reward": pl.Float64(),
    "truncated": pl.Boolean(),
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Return an empty frame with ``schema``."""
    return pl.DataFrame(schema=schema)


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType], *, name: str) -> pl.DataFrame:
    """Select and cast ``df``'s columns to ``schema`` (in schema order).

    Raises:
        goodbadgreedy.errors.DataError: a column of ``schema`` is missing from ``df``; the message
            names the table and the column.
    """
    from goodbadgreedy.errors import DataError

    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise DataError(f"table {name!r} lacks column(s) {missing}; has {df.columns}")
    return df.select([pl.col(c).cast(t) for c, t in schema.items()])


#: The stage tables' schemas by kind (the kinds of :mod:`goodbadgreedy.validation` too).
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "benchmark": BENCHMARK_SCHEMA,
    "generation": GENERATION_SCHEMA,
    "check": CHECK_SCHEMA,
    "scores": SCORES_SCHEMA,
}

_FORMATS = {".parquet": "parquet", ".csv": "CSV"}


def read_table(
    path: str | os.PathLike[str],
    kind: str | None = None,
    columns: Sequence[str] | None = None,
    **options: Any,
) -> pl.DataFrame:
    """Read a stage's input table (``.parquet`` or ``.csv``), or say which file is wrong and how to rebuild it.

    Policy: every failure is a :class:`~goodbadgreedy.errors.DataError` whose message starts with
    the path, says what is wrong, and ends with how to rebuild the file (below). Checked in order:

    1. **missing**: no such file;
    2. **unreadable**: polars cannot read it as its suffix's format (a truncated or corrupt parquet
       file, a CSV that does not parse); polars' own message is quoted;
    3. **changed**: the file has a lineage sidecar (``<path>.lineage.json``, written by the stage
       that made it) whose ``sha256`` differs from the file's sha256 now: "changed since <stage>
       wrote it". A sidecar that is not a JSON record with a ``sha256`` is an error naming the
       sidecar. Files without a sidecar (vendored data, user files) skip this clause;
    4. **columns**: a column of ``columns`` is missing, or, for a ``kind``, a column of its schema
       (of those read) is missing or has another dtype (parquet only: a CSV's dtypes are inferred
       on reading); the message names each column (and both dtypes).

    How to rebuild: ``snakemake --cores 2 --force <path> [--config profile=<profile>]`` (the file
    as the target, forced; the profile from a ``results/<profile>/`` path), then the user's own
    command again. (``rm`` and a plain rerun does not re-make an intermediate table whose
    consumers are up to date.)

    Cost: the file is hashed (sha256) on every read that has a sidecar, about 1 s per GB; stage
    tables are megabytes.

    Args:
        path: the table; its suffix (``.parquet`` / ``.csv``) picks the reader.
        kind: ``benchmark`` | ``generation`` | ``check`` | ``scores`` (:data:`SCHEMAS`), or None:
            no schema check.
        columns: read only these columns (in this order), each required; None: all columns.
        **options: passed to ``polars.read_csv`` (e.g. ``infer_schema_length``,
            ``schema_overrides``); not allowed for parquet.

    Returns:
        The table (``columns`` only, when given); rows as stored.

    Raises:
        DataError: a file fails a clause above (the message names the file, what is wrong and the
            rebuild command).
        ValueError: ``kind`` is not a known kind, or ``options`` are given for a parquet file.
    """
    from goodbadgreedy.errors import DataError

    path = Path(path)
    if kind is not None and kind not in SCHEMAS:
        raise ValueError(f"unknown table kind {kind!r}; expected one of {sorted(SCHEMAS)}")
    fmt = _FORMATS.get(path.suffix)
    if fmt is None:
        raise DataError(f"{path}: not a table file (expected a .parquet or .csv suffix)")
    if fmt == "parquet" and options:
        raise ValueError(f"read_table: reader options {sorted(options)} apply to CSV files only, not {path}")
    record, side = _lineage_record(path)
    stage = record.get("stage") if record else None

    def fail(what: str) -> DataError:
        return DataError(f"{path}: {what}; {_rebuild_hint(path, stage, side if record else None)}")

    if not path.is_file():
        raise fail("no such file")
    try:
        if fmt == "parquet":
            file_schema = pl.read_parquet_schema(path)
        else:
            df = pl.read_csv(path, **options)
            file_schema = dict(df.schema)
    except Exception as exc:  # polars raises several types (ComputeError, OSError, ...) for bad files
        raise fail(f"not a readable {fmt} file (truncated or corrupt: {_one_line(exc)})") from None
    if record is not None:
        now = sha256_file(path)
        if now != record["sha256"]:
            raise fail(f"changed since {stage or 'the stage'} wrote it (sha256 {now[:16]}..., "
                       f"{side} recorded {str(record['sha256'])[:16]}...)")
    wanted = list(columns) if columns is not None else list(file_schema)
    schema = SCHEMAS[kind] if kind is not None else {}
    required = wanted + [c for c in (schema if columns is None else ()) if c not in wanted]
    missing = [c for c in required if c not in file_schema]
    if missing:
        label = f"{kind} table" if kind else "table"
        raise fail(f"{label} lacks column(s) {missing} (has {list(file_schema)})")
    if fmt == "parquet":
        bad = [f"{c!r} is {file_schema[c]}, expected {schema[c]}" for c in wanted
               if c in schema and file_schema[c] != schema[c]]
        if bad:
            raise fail(f"{kind} table has column(s) of the wrong dtype: {'; '.join(bad)}")
        try:
            return pl.read_parquet(path, columns=wanted)
        except Exception as exc:  # a corrupt page behind an intact footer
            raise fail(f"not a readable parquet file (truncated or corrupt: {_one_line(exc)})") from None
    return df.select(wanted) if columns is not None else df


def read_tables(
    paths: Iterable[str | os.PathLike[str]],
    kind: str | None = None,
    columns: Sequence[str] | None = None,
    **options: Any,
) -> pl.DataFrame:
    """Read each table with :func:`read_table` and concatenate them (vertically, in order).

    Args:
        paths: the tables (at least one).
        kind: as :func:`read_table`.
        columns: as :func:`read_table`.
        **options: as :func:`read_table`.

    Returns:
        The concatenated table.

    Raises:
        DataError: as :func:`read_table`, for the first bad file.
        ValueError: ``paths`` is empty (nothing to concatenate), or as :func:`read_table`.
    """
    frames = [read_table(p, kind, columns, **options) for p in paths]
    if not frames:
        raise ValueError("read_tables: no paths given")
    return pl.concat(frames)


def _lineage_record(path: Path) -> tuple[dict[str, Any] | None, Path]:
    """``(record, sidecar path)`` of ``path``'s lineage sidecar; record None when there is none.

    Raises:
        DataError: the sidecar exists but is not a JSON object with a ``sha256`` (names it).
    """
    from goodbadgreedy.errors import DataError

    side = sidecar(path, "lineage")
    try:
        text = side.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, side
    except OSError as exc:
        raise DataError(f"{side}: cannot read the lineage sidecar of {path}: {exc}") from exc
    try:
        record = json.loads(text)
    except ValueError as exc:
        record, why = None, f"not JSON ({exc})"
    else:
        why = "no 'sha256' field"
    if not isinstance(record, dict) or not isinstance(record.get("sha256"), str):
        raise DataError(f"{side}: not a lineage record of {path}: {why}; delete the sidecar "
                        f"(rm {shlex.quote(str(side))}) and {_rebuild_hint(path, None, side).split('; ', 1)[-1]}")
    return record, side


def _rebuild_hint(path: Path, stage: str | None, side: Path | None) -> str:
    """How to re-make ``path``: force its own job as the target.

    ``rm`` and a plain rerun does not do it for an intermediate table (Snakemake does not re-make a
    missing file whose consumers are up to date), and a run of another profile does not even see
    it: the command names the file as the target and, under ``results/<profile>/``, that profile.
    """
    target = shlex.quote(str(path))
    parts = Path(path).parts
    if "results" in parts and parts.index("results") + 2 < len(parts):
        profile = f" --config profile={shlex.quote(parts[parts.index('results') + 1])}"
    else:
        profile = ""
    command = f"snakemake --cores 2 --force {target}{profile}"
    if stage:
        return f"rebuild it ({stage} job) with: {command}, then rerun your command"
    where = f"{side} names no stage" if side else f"it has no lineage sidecar ({sidecar(path, 'lineage')})"
    return (f"{where}, so it may be a vendored or user file: restore it; if the pipeline makes it, "
            f"rebuild it with: {command}")


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line, at most 300 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
