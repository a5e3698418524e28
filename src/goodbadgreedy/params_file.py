"""Read and validate ``params.yaml``.

The schema (``schemas/params.schema.yaml``, JSON Schema 2020-12) is checked first, with defaults
filled in, the way snakemake-workflows use ``snakemake.utils.validate``; then the checks a schema
cannot express (the active profile exists, every benchmark has a size, decoding values, those of
the sweeps' configs included, form a valid :class:`~goodbadgreedy.generation.params.SamplingParams`).
Every error is one :class:`~goodbadgreedy.errors.ConfigError` whose message names the dotted key.

What the validated params make the workflow compute (the active profile, sweeps expanded) is
:mod:`goodbadgreedy.plan`.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from goodbadgreedy.errors import ConfigError
from goodbadgreedy.plan import expand_sweeps

SCHEMA_FILE = "params.schema.yaml"


def load_schema() -> dict[str, Any]:
    """Return the params JSON schema, with its benchmark parts filled from the specs.

    The file shipped in the package, plus, from the benchmark specs (:mod:`goodbadgreedy.benchmarks`),
    the ``benchmarks`` enum and one closed ``benchmark_options.<name>`` object per benchmark (its
    options, defaults and bounds), and the ``judge`` defaults (:data:`goodbadgreedy.judge.defaults.DEFAULTS`).
    """
    from goodbadgreedy import benchmarks

    text = resources.files("goodbadgreedy").joinpath("schemas", SCHEMA_FILE).read_text()
    # libyaml's safe loader when PyYAML has it: 10x faster, and the Snakefile loads this at every start
    schema = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    props = schema["properties"]
    props["benchmarks"]["items"] = {"enum": benchmarks.names()}
    props["benchmark_options"]["properties"] = {s.name: s.options_schema() for s in benchmarks.specs()}
    from goodbadgreedy.judge.defaults import DEFAULTS as judge_defaults

    if set(judge_defaults) != set(props["judge"]["properties"]):
        raise ConfigError("params schema: judge properties differ from goodbadgreedy.judge.defaults")
    for key, value in judge_defaults.items():
        props["judge"]["properties"][key]["default"] = copy.deepcopy(value)
    return schema


def schema_path() -> str:
    """Return the file path of the hand-written part of the params schema.

    The benchmark parts are filled in by :func:`load_schema`; validate with :func:`validate_params`.
    """
    return str(resources.files("goodbadgreedy").joinpath("schemas", SCHEMA_FILE))


def _dotted(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _validator():
    from jsonschema import Draft202012Validator, validators

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from Draft202012Validator.VALIDATORS["properties"](validator, properties, instance, schema)

    cls = validators.extend(Draft202012Validator, {"properties": set_defaults})
    return cls(load_schema())


def validate_params(params: Mapping[str, Any], *, source: str = "params.yaml") -> dict[str, Any]:
    """Validate ``params`` and return a copy with defaults filled in.

    Args:
        params: the parsed params.yaml (with any ``--config`` overrides applied).
        source: name used in error messages.

    Raises:
        ConfigError: the first problem found, naming the dotted key, e.g.
            ``params.yaml: profiles.default.n_samples: 0 is less than the minimum of 1``.
    """
    cfg = copy.deepcopy(dict(params))
    errors = sorted(
        _validator().iter_errors(cfg), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))
    )
    if errors:
        e = errors[0]
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(f"{source}: {_dotted(e.absolute_path)}: {e.message}{more}")
    profile = cfg["profile"]
    if profile not in cfg["profiles"]:
        raise ConfigError(f"{source}: profile: {profile!r} is not one of the profiles {sorted(cfg['profiles'])}")
    from goodbadgreedy import benchmarks

    # a profile may omit a benchmark's size: the spec's default for that profile name fills it
    for prof_name, prof in cfg["profiles"].items():
        for key in ("n_items", "max_new_tokens"):
            for bench in cfg["benchmarks"]:
                defaults = getattr(benchmarks.spec(bench), key)
                if bench not in prof[key] and prof_name in defaults:
                    prof[key][bench] = defaults[prof_name]
    prof = cfg["profiles"][profile]
    for key in ("n_items", "max_new_tokens"):
        for bench in cfg["benchmarks"]:
            if bench not in prof[key]:
                raise ConfigError(f"{source}: profiles.{profile}.{key}.{bench}: missing (every benchmark needs one)")
    from goodbadgreedy.generation.params import SamplingParams

    # every decoding config, declared ones first, then those the sweeps make
    decoding, _ = expand_sweeps(cfg["decoding"], cfg.get("sweeps") or {}, source=source)
    for name, dec in decoding.items():
        try:
            SamplingParams(max_new_tokens=1, **dec)
        except ConfigError as exc:
            where = f"decoding.{name}" if name in cfg["decoding"] else f"sweeps: config {name}"
            raise ConfigError(f"{source}: {where}: {exc}") from None
    for family, members in (cfg.get("families") or {}).items():
        for i, model in enumerate(members):
            if model not in cfg["models"]:
                raise ConfigError(f"{source}: families.{family}[{i}]: {model!r} is not a key of models")
    for bench in cfg["benchmarks"]:  # a benchmark without an options block: its spec's defaults
        cfg["benchmark_options"].setdefault(bench, benchmarks.spec(bench).default_options())
    return cfg


def load_params(path: str | Path = "params.yaml", overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read, override and validate a params file.

    Args:
        path: the YAML file.
        overrides: top-level keys replacing those of the file (as ``snakemake --config``).

    Raises:
        ConfigError: unreadable YAML (naming the file and line) or invalid content.
    """
    params = read_yaml_mapping(path)
    params.update(overrides or {})
    return validate_params(params, source=str(path))


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping (params.yaml), with errors that say where.

    The Snakefile calls this on params.yaml before its ``configfile:`` directive, because
    Snakemake's own message for a YAML syntax error names neither the line nor the column.

    Raises:
        ConfigError: the file cannot be read; its YAML is malformed (the message gives the file,
            line and column, and what the parser expected); or it is not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        params = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        parts = [
            f"{what} (line {mark.line + 1}, column {mark.column + 1})" if mark else what
            for what, mark in ((exc.context, exc.context_mark), (exc.problem, exc.problem_mark))
            if what
        ]
        raise ConfigError(f"{path}: not valid YAML: {'; '.join(parts)}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: must be a mapping of keys, got {type(params).__name__}")
    return params
