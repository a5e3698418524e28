"""Benchmark registry: one module per benchmark, looked up by name.

Each module implements :class:`goodbadgreedy.benchmarks.base.Benchmark`: ``SPEC`` (its
:class:`~goodbadgreedy.benchmarks.spec.BenchmarkSpec`, declared in the tiny sibling module
``goodbadgreedy.benchmarks.specs.<name>``), ``NAME``, ``RAW_FILES`` (relative to
``data/raw/<NAME>/``) and ``DEFAULT_OPTIONS`` (derived from ``SPEC``), ``load(raw_dir, options)``,
``build_prompt(item, options)`` and ``check(items, generations, options)``.

Judge-based benchmarks (``SPEC.uses_judge``, :data:`JUDGE_BENCHMARKS`) differ in two ways: their
``check`` takes the ``judge`` section of params.yaml as a fourth argument, and their
``summary(checks, items, generations)`` returns counts (and win rates) for the lineage sidecar.

:data:`MODULES` is the one list of benchmarks (adding one is one name there, see
docs/adding_a_benchmark.md); :data:`NAMES`, :data:`JUDGE_BENCHMARKS`, :func:`uses_judge`,
:func:`extracts_answers`, the params schema and the profiles' default sizes all derive from the
specs. The specs import nothing heavy and the benchmark modules are imported on the first
:func:`get`: the Snakefile reads the registry at every start (a no-op ``snakemake -n`` included)
and the modules import polars, ~0.2 s of it (``perf/dryrun.py``).
"""

from __future__ import annotations

import contextlib
import importlib
from types import ModuleType
from typing import Any, Iterator, Mapping

from goodbadgreedy.benchmarks.spec import BenchmarkSpec
from goodbadgreedy.errors import ConfigError

#: THE list of benchmarks: each name has ``goodbadgreedy.benchmarks.specs.<name>`` (its ``SPEC``)
#: and ``goodbadgreedy.benchmarks.<name>`` (load / build_prompt / check).
MODULES: tuple[str, ...] = ("alpaca_eval", "arena_hard", "gsm8k", "humaneval", "mixeval", "mmlu_redux")

#: name -> spec of every registered benchmark (read from the spec modules, no polars).
SPECS: dict[str, BenchmarkSpec] = {}
#: Registered benchmark names, sorted.
NAMES: tuple[str, ...] = ()
#: Benchmarks graded by the LLM judge: their check stage needs params.yaml's ``judge`` section.
JUDGE_BENCHMARKS: frozenset[str] = frozenset()
#: name -> module of benchmarks added by :func:`registered` (tests), else imported by name on use.
_EXTRA: dict[str, ModuleType] = {}
_LOADED: dict[str, ModuleType] = {}


def _derive() -> None:
    global NAMES, JUDGE_BENCHMARKS
    NAMES = tuple(sorted(SPECS))
    JUDGE_BENCHMARKS = frozenset(n for n, s in SPECS.items() if s.uses_judge)


def _read_specs() -> None:
    for module in MODULES:
        spec = importlib.import_module(f"goodbadgreedy.benchmarks.specs.{module}").SPEC
        if spec.name != module:
            raise ConfigError(f"goodbadgreedy.benchmarks.specs.{module}: SPEC.name is {spec.name!r}")
        SPECS[module] = spec
    _derive()


_read_specs()


@contextlib.contextmanager
def registered(module: ModuleType) -> Iterator[BenchmarkSpec]:
    """Register a benchmark module (with its ``SPEC``) for the duration of the ``with`` block.

    For tests only (a toy benchmark written to ``tmp_path``): the pipeline's benchmarks are
    :data:`MODULES`. Everything derived from the specs (:data:`NAMES`, the params schema, the
    profile defaults) sees it while the block runs.

    Raises:
        ConfigError: the name is already registered.
    """
    spec: BenchmarkSpec = module.SPEC
    if spec.name in SPECS:
        raise ConfigError(f"benchmark {spec.name!r} is already registered")
    SPECS[spec.name] = spec
    _EXTRA[spec.name] = module
    _derive()
    try:
        yield spec
    finally:
        SPECS.pop(spec.name, None)
        _EXTRA.pop(spec.name, None)
        _derive()


def _known(name: str) -> str:
    if not isinstance(name, str) or name not in NAMES:
        raise ConfigError(f"unknown benchmark {name!r}; known: {', '.join(NAMES)}")
    return name


def uses_judge(name: str) -> bool:
    """Whether benchmark ``name`` is graded by the LLM judge (its check needs params.yaml's ``judge``).

    Raises:
        goodbadgreedy.errors.ConfigError: ``name`` is not registered.
    """
    return SPECS[_known(name)].uses_judge


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
    return SPECS[_known(name)].answers_extracted(options)


def spec(name: str) -> BenchmarkSpec:
    """Return the :class:`~goodbadgreedy.benchmarks.spec.BenchmarkSpec` of benchmark ``name``.

    Raises:
        goodbadgreedy.errors.ConfigError: ``name`` is not registered.
    """
    return SPECS[_known(name)]


def specs() -> list[BenchmarkSpec]:
    """Return the specs of every registered benchmark, sorted by name."""
    return [SPECS[n] for n in NAMES]


def names() -> list[str]:
    """Return the registered benchmark names, sorted."""
    return list(NAMES)


def get(name: str) -> ModuleType:
    """Return the module of benchmark ``name`` (importing the benchmark modules on first use).

    Raises:
        goodbadgreedy.errors.ConfigError: ``name`` is not registered (the message names it and the
            known benchmarks).
    """
    _known(name)
    if name in _EXTRA:
        return _EXTRA[name]
    if name not in _LOADED:
        module = importlib.import_module(f"goodbadgreedy.benchmarks.{name}")
        if module.SPEC is not SPECS[name]:
            raise ConfigError(f"goodbadgreedy.benchmarks.{name}: SPEC is not its spec module's")
        _LOADED[name] = module
    return _LOADED[name]


__all__ = ["JUDGE_BENCHMARKS", "MODULES", "NAMES", "SPECS", "BenchmarkSpec", "extracts_answers", "get", "names",
           "registered", "spec", "specs", "uses_judge"]
