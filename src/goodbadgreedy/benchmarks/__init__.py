"""Benchmark registry: one module per benchmark, looked up by name.

Each module implements :class:`goodbadgreedy.benchmarks.base.Benchmark`: ``NAME``, ``RAW_FILES``
(relative to ``data/raw/<NAME>/``), ``DEFAULT_OPTIONS``, ``load(raw_dir, options)``,
``build_prompt(item, options)`` and ``check(items, generations, options)``.

Judge-based benchmarks (:data:`JUDGE_BENCHMARKS`: ``mixeval``, ``alpaca_eval``, ``arena_hard``)
differ in two ways: their ``check`` takes the ``judge`` section of params.yaml as a fourth
argument, and their ``summary(checks, items, generations)`` returns counts (and win rates) for the
lineage sidecar.

The names and the judge set are plain data here and the modules are imported on the first
:func:`get`: the Snakefile reads the registry at every start (a no-op ``snakemake -n`` included)
and the modules import polars, ~0.2 s of it (``perf/dryrun.py``). A test checks that
:data:`NAMES` and :data:`JUDGE_BENCHMARKS` agree with the modules.
"""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType
from typing import Any, Mapping

from goodbadgreedy.errors import ConfigError

#: Registered benchmark names, sorted (each is a module of this package with that ``NAME``).
NAMES: tuple[str, ...] = ("alpaca_eval", "arena_hard", "gsm8k", "humaneval", "mixeval", "mmlu_redux")
#: Benchmarks graded by the LLM judge: their check stage needs params.yaml's ``judge`` section.
JUDGE_BENCHMARKS: frozenset[str] = frozenset({"alpaca_eval", "arena_hard", "mixeval"})


@lru_cache(maxsize=1)
def _modules() -> dict[str, ModuleType]:
    # plain import statements (not importlib by name), so import-closure checks see them
    from goodbadgreedy.benchmarks import alpaca_eval, arena_hard, gsm8k, humaneval, mixeval, mmlu_redux

    return {m.NAME: m for m in (alpaca_eval, arena_hard, gsm8k, humaneval, mixeval, mmlu_redux)}


def _known(name: str) -> str:
    if not isinstance(name, str) or name not in NAMES:
        raise ConfigError(f"unknown benchmark {name!r}; known: {', '.join(NAMES)}")
    return name


def uses_judge(name: str) -> bool:
    """Whether benchmark ``name`` is graded by the LLM judge (its check needs params.yaml's ``judge``).

    Raises:
        goodbadgreedy.errors.ConfigError: ``name`` is not registered.
    """
    return _known(name) in JUDGE_BENCHMARKS


def extracts_answers(name: str, options: Mapping[str, Any]) -> bool:
    """Whether the check table's ``extracted`` column holds the model's answer to each item.

    True where the check stage parses the answer itself (GSM8K's number, MMLU-Redux's letter,
    HumanEval's program) and for MixEval's multiple-choice split alone (the judge extracts the
    option the model chose: an answer, compared with the gold letter). False for the other
    judge-graded cases, where ``extracted`` is the judge's verdict: a correctness score (MixEval
    free-form, so also ``split: both``) or a preference label (AlpacaEval 2, Arena-Hard).
    Self-consistency votes on ``extracted``: on a verdict it would pick samples by the grader's
    own output, so the score stage leaves it out there (and maj@k is skipped,
    :func:`goodbadgreedy.analysis.passk.passk_table`).

    Args:
        name: a registered benchmark.
        options: its ``benchmark_options`` (validated; MixEval's ``split`` defaults to ``both``).

    Raises:
        goodbadgreedy.errors.ConfigError: ``name`` is not registered.
    """
    if _known(name) not in JUDGE_BENCHMARKS:
        return True
    return name == "mixeval" and options.get("split") == "multiple_choice"


def names() -> list[str]:
    """Return the registered benchmark names, sorted."""
    return list(NAMES)


def get(name: str) -> ModuleType:
    """Return the module of benchmark ``name`` (importing the benchmark modules on first use).

    Raises:
        goodbadgreedy.errors.ConfigError: ``name`` is not registered (the message names it and the
            known benchmarks).
    """
    return _modules()[_known(name)]


__all__ = ["JUDGE_BENCHMARKS", "NAMES", "extracts_answers", "get", "names", "uses_judge"]
