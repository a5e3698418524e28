"""What every benchmark module shares: the prompt type, option handling and the check loop.

A benchmark is one small module (lm-evaluation-harness style) exposing ``NAME``, ``RAW_FILES``,
``DEFAULT_OPTIONS``, ``load``, ``build_prompt`` and ``check`` (see :class:`Benchmark`). This
module holds the pieces they share so that each module only states what is specific to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Protocol, Sequence

import polars as pl

from goodbadgreedy import tables
from goodbadgreedy.errors import ConfigError, DataError

#: Roles a chat message may have.
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Prompt:
    """A chat prompt for one item.

    Attributes:
        messages: chat messages in order, each a ``{"role": ..., "content": ...}`` dict with role in
            :data:`ROLES`. The last message is the user turn the model answers.
        assistant_prefix: text the assistant turn starts with; the model continues it (the
            response does not repeat it).
        stop: stop sequences; the generator cuts the response at the first one.

    Raises:
        goodbadgreedy.errors.DataError: a message is not a role/content dict of strings, or a
            role is unknown (the message names the message index).
    """

    messages: tuple[dict[str, str], ...]
    assistant_prefix: str = ""
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept lists for convenience but store tuples (the dataclass is frozen).
        object.__setattr__(self, "messages", tuple(self.messages))
        object.__setattr__(self, "stop", tuple(self.stop))
        if not self.messages:
            raise DataError("Prompt has no messages")
        for i, msg in enumerate(self.messages):
            if not isinstance(msg, dict) or set(msg) != {"role", "content"}:
                raise DataError(
                    f"Prompt message {i} must be a dict with keys role, content: {msg!r}"
                )
            if msg["role"] not in ROLES:
                raise DataError(
                    f"Prompt message {i} has role {msg['role']!r}; expected one of {ROLES}"
                )
            if not isinstance(msg["content"], str):
                raise DataError(f"Prompt message {i} content is not a string")
        if not isinstance(self.assistant_prefix, str):
            raise DataError("Prompt.assistant_prefix must be a string")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise DataError(f"Prompt.stop must hold non-empty strings: {self.stop!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict (``messages`` as a list, ``stop`` as a list)."""
        return {
            "messages": [dict(m) for m in self.messages],
            "assistant_prefix": self.assistant_prefix,
            "stop": list(self.stop),
        }


class Judgement(NamedTuple):
    """The check of one response (one row of ``tables.CHECK_SCHEMA`` minus the copied keys).

    The ``judge_*`` fields are set by judge-based benchmarks only (see
    :mod:`goodbadgreedy.judge.check`); they stay None elsewhere.
    """

    extracted: str | None
    gold: str
    score: float
    verdict: str
    detail: str
    judge_prompt: str | None = None
    judge_output: str | None = None
    judge_parse_failures: int | None = None


class Benchmark(Protocol):
    """The interface every benchmark module implements (modules satisfy it structurally)."""

    NAME: str
    RAW_FILES: tuple[str, ...]
    DEFAULT_OPTIONS: dict[str, Any]

    def load(self, raw_dir: Path, options: dict[str, Any]) -> pl.DataFrame: ...

    def build_prompt(self, item: dict[str, Any], options: dict[str, Any]) -> Prompt: ...

    def check(
        self, items: pl.DataFrame, generations: pl.DataFrame, options: dict[str, Any]
    ) -> pl.DataFrame: ...


#: Generation columns :func:`check_each` and :func:`items_for` need.
_GEN_KEYS = ("model", "benchmark", "config", "item_id", "sample_idx")


def merge_options(
    benchmark: str, defaults: Mapping[str, Any], options: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Return ``defaults`` updated with ``options``.

    Args:
        benchmark: the benchmark's name, for error messages.
        defaults: the module's ``DEFAULT_OPTIONS``.
        options: user options (``None`` means none).

    Returns:
        A new dict with every default key.

    Raises:
        goodbadgreedy.errors.ConfigError: ``options`` holds a key that ``defaults`` lacks (the
            message names the key, the benchmark and the known keys).
    """
    options = dict(options or {})
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ConfigError(
            f"benchmark {benchmark!r}: unknown option(s) {unknown}; known: {sorted(defaults)}"
        )
    merged = dict(defaults)
    merged.update(options)
    return merged


def payload_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """Return an item's ``payload`` as a dict (it is a JSON string in the benchmark table).

    Raises:
        goodbadgreedy.errors.DataError: the payload is missing or not a JSON object (the message
            names the item_id).
    """
    raw = item.get("payload")
    if isinstance(raw, dict):
        return raw
    try:
        obj = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError as exc:
        raise DataError(f"item {item.get('item_id')!r}: payload is not valid JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise DataError(f"item {item.get('item_id')!r}: payload is not a JSON object")
    return obj


def dump_payload(obj: Mapping[str, Any]) -> str:
    """Serialize a payload deterministically (sorted keys, UTF-8 text kept as is)."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut ``text`` at the earliest occurrence of any stop sequence (the stop itself is dropped).

    Idempotent, so it is safe to apply to a response the generator already cut.
    """
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if 0 <= i < cut:
            cut = i
    return text[:cut]


def benchmark_frame(rows: list[dict[str, Any]], *, name: str) -> pl.DataFrame:
    """Build a benchmark table from row dicts and check its key.

    Args:
        rows: dicts with the keys of ``tables.BENCHMARK_SCHEMA``.
        name: the benchmark's name, for error messages.

    Returns:
        A frame conforming to ``tables.BENCHMARK_SCHEMA``, rows in the given order.

    Raises:
        goodbadgreedy.errors.DataError: two rows share an ``item_id`` (named in the message).
    """
    df = pl.DataFrame(rows, schema=tables.BENCHMARK_SCHEMA) if rows else tables.empty(
        tables.BENCHMARK_SCHEMA
    )
    dup = df.filter(pl.col("item_id").is_duplicated())["item_id"].unique().to_list()
    if dup:
        raise DataError(f"benchmark {name!r}: duplicate item_id(s) {sorted(dup)[:5]}")
    return tables.conform(df, tables.BENCHMARK_SCHEMA, name=f"benchmark:{name}")


def items_for(
    items: pl.DataFrame, generations: pl.DataFrame, *, name: str
) -> list[dict[str, Any]]:
    """Return, for each generation row (in order), the benchmark item it answers.

    Args:
        items: the benchmark table (``tables.BENCHMARK_SCHEMA``).
        generations: the generation table (``tables.GENERATION_SCHEMA``; needs at least the key
            columns and ``response``).
        name: the benchmark's name, for error messages.

    Returns:
        One item dict per generation row.

    Raises:
        goodbadgreedy.errors.DataError: a required column is missing, ``items`` has duplicate
            item_ids, or a generation refers to an item_id that ``items`` lacks (named).
    """
    missing = [c for c in (*_GEN_KEYS, "response") if c not in generations.columns]
    if missing:
        raise DataError(f"{name}: generations table lacks column(s) {missing}")
    if "item_id" not in items.columns:
        raise DataError(f"{name}: benchmark table lacks column 'item_id'")
    index: dict[str, dict[str, Any]] = {}
    for row in items.iter_rows(named=True):
        if row["item_id"] in index:
            raise DataError(f"{name}: benchmark table has duplicate item_id {row['item_id']!r}")
        index[row["item_id"]] = row
    out = []
    for i, item_id in enumerate(generations["item_id"].to_list()):
        try:
            out.append(index[item_id])
        except KeyError:
            raise DataError(
                f"{name}: generation row {i} refers to unknown item_id {item_id!r}"
            ) from None
    return out


def check_frame(generations: pl.DataFrame, judgements: Sequence[Judgement]) -> pl.DataFrame:
    """Assemble a check table: the generation keys plus one judgement per generation row.

    Args:
        generations: the generation table (its key columns are copied across, in order).
        judgements: one per generation row, same order.

    Returns:
        A frame conforming to ``tables.CHECK_SCHEMA``.

    Raises:
        goodbadgreedy.errors.DataError: the lengths differ.
    """
    if len(judgements) != generations.height:
        raise DataError(
            f"check: {len(judgements)} judgements for {generations.height} generation rows"
        )
    keys = generations.select(_GEN_KEYS)
    judged = pl.DataFrame(
        {
            "extracted": [j.extracted for j in judgements],
            "gold": [j.gold for j in judgements],
            "score": [float(j.score) for j in judgements],
            "verdict": [j.verdict for j in judgements],
            "detail": [j.detail for j in judgements],
            "judge_prompt": [j.judge_prompt for j in judgements],
            "judge_output": [j.judge_output for j in judgements],
            "judge_parse_failures": [j.judge_parse_failures for j in judgements],
        },
        schema={
            "extracted": pl.String(),
            "gold": pl.String(),
            "score": pl.Float64(),
            "verdict": pl.String(),
            "detail": pl.String(),
            "judge_prompt": pl.String(),
            "judge_output": pl.String(),
            "judge_parse_failures": pl.Int32(),
        },
    )
    out = pl.concat([keys, judged], how="horizontal")
    return tables.conform(out, tables.CHECK_SCHEMA, name="check")


def check_each(
    items: pl.DataFrame,
    generations: pl.DataFrame,
    judge: Callable[[dict[str, Any], str], Judgement],
    *,
    name: str,
) -> pl.DataFrame:
    """Check every response independently with ``judge(item, response)``.

    Args:
        items: the benchmark table.
        generations: the generation table; a null response is judged as ``""``.
        judge: maps (item dict, response text) to a :class:`Judgement`.
        name: the benchmark's name, for error messages.

    Returns:
        The check table (``tables.CHECK_SCHEMA``), one row per generation row, same order.

    Raises:
        goodbadgreedy.errors.DataError: see :func:`items_for`.
    """
    matched = items_for(items, generations, name=name)
    responses = generations["response"].to_list()
    judgements = [judge(item, resp or "") for item, resp in zip(matched, responses)]
    return check_frame(generations, judgements)


def verdict_for(extracted: str | None, gold: str, equal: bool, how: str) -> Judgement:
    """Build the judgement of an extracted answer: ``correct``, ``wrong`` or ``no_answer``.

    Args:
        extracted: the extracted answer, ``None`` if none was found.
        gold: the gold answer.
        equal: whether ``extracted`` matches ``gold`` (ignored when ``extracted`` is ``None``).
        how: which extraction rule fired (kept in ``detail``).
    """
    if extracted is None:
        return Judgement(None, gold, 0.0, "no_answer", how)
    if equal:
        return Judgement(extracted, gold, 1.0, "correct", how)
    return Judgement(extracted, gold, 0.0, "wrong", how)


def require_file(path: Path) -> Path:
    """Return ``path`` if it is a file.

    Raises:
        goodbadgreedy.errors.DataError: it is missing (the message names it).
    """
    if not path.is_file():
        raise DataError(f"raw data file missing: {path}")
    return path


def read_json(path: Path) -> Any:
    """Parse a vendored JSON file (UTF-8); the caller checks the shape it expects.

    Raises:
        goodbadgreedy.errors.DataError: the file is not valid JSON (the message names it).
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc


def json_objects(path: Path, lines: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``("{path}:{line}", object)`` for each non-blank line of a JSON-lines file.

    Args:
        path: the file, for messages.
        lines: its lines, split on ``"\n"`` only (``str.splitlines`` also breaks on U+2028 and
            U+0085, which answers hold inside strings).

    Raises:
        goodbadgreedy.errors.DataError: a line is not valid JSON, or not a JSON object (its line
            number named).
    """
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc})") from exc
        if not isinstance(rec, dict):
            raise DataError(f"{where}: not a JSON object")
        yield where, rec
