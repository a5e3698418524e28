"""What a benchmark declares about itself: :class:`BenchmarkSpec` (plain data, no heavy import).

Every benchmark has a tiny spec module ``goodbadgreedy.benchmarks.specs.<name>`` holding ``SPEC``;
the benchmark module re-exports it (``NAME``, ``RAW_FILES``, ``DEFAULT_OPTIONS`` derive from it).
The registry (:mod:`goodbadgreedy.benchmarks`) reads the specs without importing the benchmark
modules (they import polars), so the Snakefile start stays fast. What reads the spec: the
registry (names, judge set, ``extracts_answers``), the params schema (``benchmarks`` enum and
``benchmark_options.<name>``, :func:`goodbadgreedy.params_file.load_schema`), the profile defaults
(``n_items`` / ``max_new_tokens`` a profile omits), pass@k's maj@k and self-consistency.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Union

from goodbadgreedy.errors import ConfigError

#: ``extracts_answers``: a bool, or a function of the benchmark's (validated) options.
ExtractsAnswers = Union[bool, Callable[[Mapping[str, Any]], bool]]


@dataclass(frozen=True, eq=True)
class BenchmarkSpec:
    """One benchmark's declaration.

    Attributes:
        name: the benchmark name (``params.yaml``'s ``benchmarks``, the module name, ``data/raw/<name>/``).
        raw_files: files under ``data/raw/<name>/`` (checksums in ``data/raw/SHA256SUMS``).
        options: ``{option: JSON-schema fragment}``; each fragment has a ``default`` (and type,
            bounds or enum, description); they become ``benchmark_options.<name>`` of the schema.
        uses_judge: graded by the LLM judge (``check`` takes params.yaml's ``judge``).
        extracts_answers: whether the check table's ``extracted`` is the model's answer (not a
            judge's verdict); a bool or a function of the options.
        stop_sequences: the prompt's stop sequences (informative; ``build_prompt`` sets them).
        n_items: default items per profile name (``default``, ``smoke``, ``full``); None = all.
        max_new_tokens: default generation budget per profile name.
    """

    name: str
    raw_files: tuple[str, ...]
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    uses_judge: bool = False
    extracts_answers: ExtractsAnswers = True
    stop_sequences: tuple[str, ...] = ()
    n_items: Mapping[str, int | None] = field(default_factory=dict)
    max_new_tokens: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self):
        where = f"benchmark spec {self.name!r}"
        if not isinstance(self.name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ConfigError(f"{where}: name must be a lowercase identifier")
        if not self.raw_files or not all(isinstance(f, str) and f and "/" not in f for f in self.raw_files):
            raise ConfigError(f"{where}: raw_files must be file names under data/raw/{self.name}/")
        for opt, sch in self.options.items():
            if not isinstance(sch, Mapping) or "default" not in sch:
                raise ConfigError(f"{where}: option {opt!r} needs a schema with a default")
        if set(self.n_items) != set(self.max_new_tokens):
            raise ConfigError(f"{where}: n_items and max_new_tokens must name the same profiles")
        for prof, n in self.n_items.items():
            if n is not None and (not isinstance(n, int) or n < 1):
                raise ConfigError(f"{where}: n_items.{prof}: {n!r} is not null or an integer >= 1")
        for prof, n in self.max_new_tokens.items():
            if not isinstance(n, int) or n < 1:
                raise ConfigError(f"{where}: max_new_tokens.{prof}: {n!r} is not an integer >= 1")

    def default_options(self) -> dict[str, Any]:
        """``{option: default}`` (a fresh copy)."""
        return {k: copy.deepcopy(s["default"]) for k, s in self.options.items()}

    def options_schema(self) -> dict[str, Any]:
        """The JSON schema of ``benchmark_options.<name>`` (closed object, defaults included)."""
        return {"type": "object", "additionalProperties": False,
                "properties": {k: copy.deepcopy(dict(s)) for k, s in self.options.items()}}

    def answers_extracted(self, options: Mapping[str, Any]) -> bool:
        """:attr:`extracts_answers` for ``options`` (missing options take their defaults)."""
        if callable(self.extracts_answers):
            return bool(self.extracts_answers({**self.default_options(), **options}))
        return bool(self.extracts_answers)

    def check_defaults(self) -> None:
        """Each option's default is valid against its own schema (imports jsonschema).

        Raises:
            ConfigError: naming the spec and the option.
        """
        from jsonschema import Draft202012Validator

        for opt, sch in self.options.items():
            Draft202012Validator.check_schema(dict(sch))
            err = next(iter(Draft202012Validator(dict(sch)).iter_errors(sch["default"])), None)
            if err is not None:
                raise ConfigError(f"benchmark spec {self.name!r}: option {opt!r}: default: {err.message}")


__all__ = ["BenchmarkSpec", "ExtractsAnswers"]
