"""Load and validate ``params.yaml``; resolve the active profile.

The schema (``schemas/params.schema.yaml``, JSON Schema 2020-12) is checked first, with defaults
filled in, the way snakemake-workflows use ``snakemake.utils.validate``; then the checks a schema
cannot express (the active profile exists, every benchmark has a size, decoding values form a
valid :class:`~goodbadgreedy.generation.engine.SamplingParams`). Every error is one
:class:`~goodbadgreedy.errors.ConfigError` whose message names the dotted key.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from goodbadgreedy.errors import ConfigError

SCHEMA_FILE = "params.schema.yaml"


def load_schema() -> dict[str, Any]:
    """Return the params JSON schema shipped in the package."""
    text = resources.files("goodbadgreedy").joinpath("schemas", SCHEMA_FILE).read_text()
    return yaml.safe_load(text)


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
    path = Path(path)
    try:
        params = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: must be a mapping of keys, got {type(params).__name__}")
    params.update(overrides or {})
    return validate_params(params, source=str(path))


@dataclass(frozen=True)
class RunPlan:
    """The active profile resolved: what the workflow will compute."""

    profile: str
    outdir: str
    models: tuple[str, ...]
    benchmarks: tuple[str, ...]
    configs: tuple[str, ...]
    n_samples: int

    def samples_for(self, config: Mapping[str, Any]) -> int:
        """Samples per item for a decoding config: 1 for greedy decoding, else ``n_samples``."""
        return self.n_samples if config.get("do_sample") else 1


def plan(cfg: Mapping[str, Any]) -> RunPlan:
    """Resolve the active profile of a validated config."""
    prof = cfg["profiles"][cfg["profile"]]
    return RunPlan(
        profile=cfg["profile"],
        outdir=prof["outdir"].rstrip("/"),
        models=tuple(cfg["models"]),
        benchmarks=tuple(cfg["benchmarks"]),
        configs=tuple(cfg["decoding"]),
        n_samples=int(prof["n_samples"]),
    )
