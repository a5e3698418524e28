"""The polars schema of every stage table.

Tables are long: one row per item (benchmark tables) or per (item, sample) (generation and check
tables). Columns and dtypes here are the contract between stages; the validation suites check
them too.
"""

from __future__ import annotations

import polars as pl

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
