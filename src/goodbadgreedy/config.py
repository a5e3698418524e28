"""Load and validate ``params.yaml``; resolve the active profile.

The schema (``schemas/params.schema.yaml``, JSON Schema 2020-12) is checked first, with defaults
filled in, the way snakemake-workflows use ``snakemake.utils.validate``; then the checks a schema
cannot express (the active profile exists, every benchmark has a size, decoding values form a
valid :class:`~goodbadgreedy.generation.engine.SamplingParams`). Every error is one
:class:`~goodbadgreedy.errors.ConfigError` whose message names the dotted key.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from goodbadgreedy.errors import ConfigError

SCHEMA_FILE = "params.schema.yaml"


def load_schema() -> dict[str, Any]:
    """Return the params JSON schema shipped in the package."""
    text = resources.files("goodbadgreedy").joinpath("schemas", SCHEMA_FILE).read_text()
    # libyaml's safe loader when PyYAML has it: 10x faster, and the Snakefile loads this at every start
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def schema_path() -> str:
    """Return the file path of the params schema (for ``snakemake.utils.validate``)."""
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
    errors = sorted(_validator().iter_errors(cfg), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        e = errors[0]
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(f"{source}: {_dotted(e.absolute_path)}: {e.message}{more}")
    profile = cfg["profile"]
    if profile not in cfg["profiles"]:
        raise ConfigError(f"{source}: profile: {profile!r} is not one of the profiles {sorted(cfg['profiles'])}")
    prof = cfg["profiles"][profile]
    for key in ("n_items", "max_new_tokens"):
        for bench in cfg["benchmarks"]:
            if bench not in prof[key]:
                raise ConfigError(f"{source}: profiles.{profile}.{key}.{bench}: missing (every benchmark needs one)")
    from goodbadgreedy.generation.params import SamplingParams

    for name, dec in cfg["decoding"].items():
        try:
            SamplingParams(max_new_tokens=1, **dec)
        except ConfigError as exc:
            raise ConfigError(f"{source}: decoding.{name}: {exc}") from None
    decoding, _ = expand_sweeps(cfg["decoding"], cfg.get("sweeps") or {}, source=source)
    for name, dec in decoding.items():
        if name not in cfg["decoding"]:
            try:
                SamplingParams(max_new_tokens=1, **dec)
            except ConfigError as exc:
                raise ConfigError(f"{source}: sweeps: config {name}: {exc}") from None
    for family, members in (cfg.get("families") or {}).items():
        for i, model in enumerate(members):
            if model not in cfg["models"]:
                raise ConfigError(f"{source}: families.{family}[{i}]: {model!r} is not a key of models")
    for bench in cfg["benchmarks"]:
        cfg["benchmark_options"].setdefault(bench, {})
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
        parts = [f"{what} (line {mark.line + 1}, column {mark.column + 1})" if mark else what
                 for what, mark in ((exc.context, exc.context_mark), (exc.problem, exc.problem_mark)) if what]
        raise ConfigError(f"{path}: not valid YAML: {'; '.join(parts)}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: must be a mapping of keys, got {type(params).__name__}")
    return params


#: Decoding parameters a sweep can vary (the x axis of a sweep plot).
SWEEP_PARAMS = ("temperature", "top_p", "top_k", "repetition_penalty")

#: The stats tables, by name, and their file names under ``{outdir}/stats/``.
STATS_FILES = {
    "passk": "passk.csv",
    "intervals": "intervals.csv",
    "paired": "paired.csv",
    "variance": "variance.csv",
    "ranks": "ranks.csv",
    "rank_flips": "rank_flips.csv",
    "lengths": "lengths.csv",
}


def sweep_groups(decoding: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Sampling configs that form a one-parameter sweep, by the parameter they vary.

    A parameter ``p`` in :data:`SWEEP_PARAMS` sweeps when at least two sampling configs
    (``do_sample: true``) agree on every other decoding key and take at least two values of
    ``p``; the largest such group is kept (ties: the first in params order).

    Args:
        decoding: params.yaml's ``decoding`` mapping, ``{config: {do_sample, temperature, ...}}``.

    Returns:
        ``{param: [config, ...]}`` with configs sorted by the param's value; empty when no
        parameter sweeps (e.g. a single sampling config).
    """
    sampling = {k: dict(v) for k, v in decoding.items() if v.get("do_sample")}
    out: dict[str, list[str]] = {}
    for p in SWEEP_PARAMS:
        groups: dict[str, list[str]] = {}
        for name, spec in sampling.items():
            rest = repr(sorted((k, v) for k, v in spec.items() if k != p))
            groups.setdefault(rest, []).append(name)
        best: list[str] = []
        for names in groups.values():
            values = {sampling[n].get(p) for n in names}
            if len(values) >= 2 and None not in values and len(names) > len(best):
                best = names
        if best:
            out[p] = sorted(best, key=lambda n: (sampling[n][p], n))
    return out


def sweep_config_name(base: str, param: str, value: float) -> str:
    """The name of a sweep's decoding config: ``{base}-{param}-{value}``.

    The value is written as Python's shortest round-trip ``repr`` of the float, without a
    trailing ``.0`` (``0 -> "0"``, ``1.0 -> "1"``, ``0.25 -> "0.25"``), so the name does not depend
    on how the YAML spells the number. E.g. ``sample-temperature-0.5``.
    """
    text = repr(float(value))
    if text.endswith(".0"):
        text = text[:-2]
    return f"{base}-{param}-{text}"


def expand_sweeps(
    decoding: Mapping[str, Mapping[str, Any]],
    sweeps: Mapping[str, Mapping[str, Any]],
    *,
    source: str = "params.yaml",
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, float]]]:
    """Expand params.yaml's ``sweeps`` into decoding configs (a params matrix, one axis per sweep).

    ``sweeps: {param: {base: cfg, values: [v1, v2, ...]}}`` makes, for each value, the base
    config with ``param`` set to the value, named :func:`sweep_config_name`. A value equal to the
    base's own value is the base config itself (nothing is generated twice). **Temperature 0 means
    greedy decoding** (the greedy end of the temperature axis, as in Song et al. 2024): that point
    is the first declared greedy config with the base's ``repetition_penalty`` (the only setting
    argmax decoding reads), else a new config with ``do_sample: false`` (one run, no seed). Expanded configs follow the declared ones, sweep by sweep, in value order.

    Args:
        decoding: params.yaml's ``decoding`` (defaults filled in).
        sweeps: params.yaml's ``sweeps`` (defaults filled in: ``base`` defaults to ``sample``).
        source: file name for error messages.

    Returns:
        ``(decoding, groups)``: every config, declared first, and ``{param: {config: value}}``,
        each sweep's configs in value order (a reused greedy config has the value 0).

    Raises:
        ConfigError: a sweep's base is not a sampling config of ``decoding``, or an expanded name
            is already a declared config with different values.
    """
    out = {k: dict(v) for k, v in decoding.items()}
    groups: dict[str, dict[str, float]] = {}
    for param, sweep in sweeps.items():
        base = sweep.get("base", "sample")
        if base not in decoding:
            raise ConfigError(f"{source}: sweeps.{param}.base: {base!r} is not a key of decoding")
        if not decoding[base].get("do_sample"):
            raise ConfigError(f"{source}: sweeps.{param}.base: {base!r} does not sample (do_sample: false)")
        names: dict[str, float] = {}
        for value in sorted(sweep["values"]):
            if decoding[base].get(param) == value:
                names[base] = value
                continue
            spec = {**decoding[base], param: value}
            if param == "temperature" and value == 0:
                spec["do_sample"] = False
                same = [k for k, v in decoding.items() if not v.get("do_sample")
                        and v.get("repetition_penalty", 1.0) == spec.get("repetition_penalty", 1.0)]
                if same:  # argmax decoding: only repetition_penalty matters
                    names[same[0]] = value
                    continue
            name = sweep_config_name(base, param, value)
            if name in decoding and dict(decoding[name]) != spec:
                raise ConfigError(f"{source}: sweeps.{param}: config {name} is also declared in decoding, with other values")
            out[name] = spec
            names[name] = value
        groups[param] = names
    return out, groups


def decoding_keys(cfg: Mapping[str, Any], name: str) -> list[str]:
    """The dotted params.yaml keys a decoding config is made from (for dvc.yaml ``params``).

    A declared config is ``decoding.<name>``; a sweep's config is ``sweeps.<param>`` and
    ``decoding.<base>``.
    """
    if name in cfg["decoding"]:
        return [f"decoding.{name}"]
    for param, names in expand_sweeps(cfg["decoding"], cfg.get("sweeps") or {})[1].items():
        if name in names:
            return [f"sweeps.{param}", f"decoding.{cfg['sweeps'][param].get('base', 'sample')}"]
    raise ConfigError(f"decoding config {name!r} is neither in decoding nor made by a sweep")


@dataclass(frozen=True)
class RunPlan:
    """The active profile resolved: what the workflow will compute.

    Attributes:
        decoding: every decoding config, declared ones first, then those :func:`expand_sweeps`
            makes (``{name: spec}``); ``configs`` are its keys.
        sweeps: ``{param: {config: value}}`` of params.yaml's ``sweeps``, in value order.
        families: ``{family: (model, ...)}`` of params.yaml's ``families``.
        shards: item-range shards per generation job (``generation.shards``).
    """

    profile: str
    outdir: str
    models: tuple[str, ...]
    benchmarks: tuple[str, ...]
    configs: tuple[str, ...]
    n_samples: int
    decoding: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sweeps: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    families: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    shards: int = 1

    def samples_for(self, config: Mapping[str, Any]) -> int:
        """Samples per item for a decoding config: 1 for greedy decoding, else ``n_samples``."""
        return self.n_samples if config.get("do_sample") else 1


def plan(cfg: Mapping[str, Any]) -> RunPlan:
    """Resolve the active profile of a validated config, with its sweeps expanded."""
    prof = cfg["profiles"][cfg["profile"]]
    decoding, sweeps = expand_sweeps(cfg["decoding"], cfg.get("sweeps") or {})
    return RunPlan(
        profile=cfg["profile"],
        outdir=prof["outdir"].rstrip("/"),
        models=tuple(cfg["models"]),
        benchmarks=tuple(cfg["benchmarks"]),
        configs=tuple(decoding),
        n_samples=int(prof["n_samples"]),
        decoding=decoding,
        sweeps=sweeps,
        families={k: tuple(v) for k, v in (cfg.get("families") or {}).items()},
        shards=int((cfg.get("generation") or {}).get("shards", 1)),
    )


def table1_configs(decoding: Mapping[str, Mapping]) -> tuple[str, str]:
    """Pick Table 1's configs: the first greedy and the first sampling config in params order.

    Raises:
        ConfigError: params.yaml has no greedy or no sampling config.
    """
    greedy = [k for k, v in decoding.items() if not v.get("do_sample")]
    sample = [k for k, v in decoding.items() if v.get("do_sample")]
    if not greedy or not sample:
        raise ConfigError("decoding: Table 1 needs one config with do_sample: false and one with do_sample: true")
    return greedy[0], sample[0]
