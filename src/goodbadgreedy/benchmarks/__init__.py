"""Benchmark registry: one module per benchmark, looked up by name.

Each module implements :class:`goodbadgreedy.benchmarks.base.Benchmark`: ``NAME``, ``RAW_FILES``
(relative to ``data/raw/<NAME>/``), ``DEFAULT_OPTIONS``, ``load(raw_dir, options)``,
``build_prompt(item, options)`` and ``check(items, generations, options)``.

Judge-based benchmarks (``mixeval``, ``alpaca_eval``, ``arena_hard``) also set ``USES_JUDGE =
True``: their ``check`` takes the ``judge`` section of params.yaml as a fourth argument, and their
``summary(checks, items, generations)`` returns counts (and win rates) for the lineage sidecar.
"""

from __future__ import annotations

from types import ModuleType

from goodbadgreedy.benchmarks import alpaca_eval, arena_hard, gsm8k, humaneval, mixeval, mmlu_redux
from goodbadgreedy.benchmarks.base import Prompt
from goodbadgreedy.errors import ConfigError

#: Benchmark name -> module.
REGISTRY: dict[str, ModuleType] = {
    m.NAME: m for m in (gsm8k, mmlu_redux, humaneval, mixeval, alpaca_eval, arena_hard)
}


def uses_judge(name: str) -> bool:
    """Whether benchmark ``name`` is graded by the LLM judge (its check needs params.yaml's ``judge``)."""
    return bool(getattr(get(name), "USES_JUDGE", False))


def names() -> list[str]:
    """Return the registered benchmark names, sorted."""
    return sorted(REGISTRY)


def get(name: str) -> ModuleType:
    """Return the module of benchmark ``name``.

    Raises:
        goodbadgreedy.errors.ConfigError: ``name`` is not registered (the message names it and the
            known benchmarks).
    """
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown benchmark {name!r}; known: {', '.join(names())}") from None


__all__ = ["REGISTRY", "Prompt", "get", "names", "uses_judge"]
