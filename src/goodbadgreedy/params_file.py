"""Read and validate ``params.yaml``.

The schema (``schemas/params.schema.yaml``, JSON Schema 2020-12) is checked first, with defaults
filled in, the way snakemake-workflows use ``snakemake.utils.validate``; then the checks a schema
cannot express (the active profile exists, every benchmark has a size, decoding values, those of
the sweeps' configs included, form a valid :class:`~goodbadgreedy.generation.params.SamplingParams`,
a ``source: hf`` model whose ``id`` is a path names an existing folder). Every error is one
:class:`~goodbadgreedy.errors.ConfigError` whose message names the dotted key. The file is read
with :class:`UniqueKeyLoader`: a key given twice in one mapping stops with its dotted path and both
lines (PyYAML, and so Snakemake, keep the last one silently).

What the validated params make the workflow compute (the active profile, sweeps expanded) is
:mod:`goodbadgreedy.plan`.
"""

from __future__ import annotations

import copy
import os
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
    from goodbadgreedy.judge.defaults import PROFILE_KEYS

    if set(judge_defaults) != set(props["judge"]["properties"]):
        raise ConfigError("params schema: judge properties differ from goodbadgreedy.judge.defaults")
    for key, value in judge_defaults.items():
        props["judge"]["properties"][key]["default"] = copy.deepcopy(value)
    # profiles.<name>.judge: the judge keys that size a run
    if set(PROFILE_KEYS) != set(props["profiles"]["additionalProperties"]["properties"]["judge"]["properties"]):
        raise ConfigError("params schema: profiles.<name>.judge properties differ from judge.defaults.PROFILE_KEYS")
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


def is_path_like(model_id: str) -> bool:
    """Whether a model ``id`` names a local folder rather than a hub repo (``org/name``).

    Path-like: absolute (``/data/m``), or starting with ``./``, ``../`` or ``~`` (``~/m``,
    ``~user/m``), or ``.``/``..`` alone. A bare ``org/name`` is a hub id even when such a folder
    happens to exist (the model stage then loads the folder).
    """
    return (
        Path(model_id).is_absolute()
        or model_id in (".", "..")
        or model_id.startswith(("./", "../", "~"))
    )


def check_model_folders(models: Mapping[str, Mapping[str, Any]], *, base_dir: str | Path | None = None,
                        source: str = "params.yaml") -> None:
    """Stop on a ``source: hf`` model whose path-like ``id`` is not an existing folder.

    Without this the model stage, at run time, took the path for a hub repo id and failed with
    the hub's "repo id must be in the form 'repo_name' or 'namespace/repo_name'" message.

    Args:
        models: params.yaml's ``models`` section.
        base_dir: the folder a relative id (``./m``, ``../m``) is relative to; default: the
            current directory (Snakemake's working directory, where the model stage runs).
        source: file name for error messages.

    Raises:
        ConfigError: e.g. ``params.yaml: models.mine.id: folder /home/u/m does not exist (id
            '~/m')``, or ``... is not a folder`` for a file; the path is resolved (``~``
            expanded, made absolute).
    """
    base = Path.cwd() if base_dir is None else Path(base_dir)
    for name, spec in models.items():
        model_id = spec.get("id")
        if spec.get("source") != "hf" or not isinstance(model_id, str) or not is_path_like(model_id):
            continue
        folder = Path(os.path.abspath(base / Path(model_id).expanduser()))
        if folder.is_dir():
            continue
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError(
            f"{source}: models.{name}.id: folder {folder} {problem} (id {model_id!r}: a local folder, since it is "
            "absolute or starts with ./, ../ or ~; a hub id is org/name)"
        )


def validate_params(params: Mapping[str, Any], *, source: str = "params.yaml",
                    base_dir: str | Path | None = None) -> dict[str, Any]:
    """Validate ``params`` and return a copy with defaults filled in.

    Args:
        params: the parsed params.yaml (with any ``--config`` overrides applied).
        source: name used in error messages.
        base_dir: the folder relative local model ids are relative to (see
            :func:`check_model_folders`); default: the current directory.

    Raises:
        ConfigError: the first problem found, naming the dotted key, e.g.
            ``params.yaml: profiles.default.n_samples: 0 is less than the minimum of 1``, or
            ``params.yaml: models.mine.id: folder /data/m does not exist (...)``.
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
    check_model_folders(cfg["models"], base_dir=base_dir, source=source)
    return cfg


def load_params(path: str | Path = "params.yaml", overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read, override and validate a params file.

    Args:
        path: the YAML file; relative local model ids are relative to its folder (where
            Snakemake runs the workflow).
        overrides: top-level keys replacing those of the file (as ``snakemake --config``).

    Raises:
        ConfigError: unreadable YAML (naming the file and line) or invalid content.
    """
    params = read_yaml_mapping(path)
    params.update(overrides or {})
    return validate_params(params, source=str(path), base_dir=Path(path).parent)


class DuplicateKeyError(ValueError):
    """A mapping of a YAML document holds one key twice (raised by :class:`UniqueKeyLoader`).

    Attributes:
        key: the dotted path of the key (``seed``, ``profiles.smoke.n_samples``, ``models.m[0].x``).
        lines: the 1-based lines of its first and its second occurrence.
    """

    def __init__(self, key: str, lines: tuple[int, int]):
        super().__init__(f"duplicate key {key!r} (line {lines[0]} and line {lines[1]}): a key may appear once")
        self.key, self.lines = key, lines


_MERGE_TAG = "tag:yaml.org,2002:merge"


class UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's C one when PyYAML has it) that refuses duplicate keys.

    YAML says a mapping's keys are unique, but PyYAML keeps the last value silently. Every mapping,
    block or flow, at any depth, is checked before it is built; keys are compared as constructed
    values (``1`` and ``1.0`` collide, as they would in the dict). A merge key (``<<: *anchor``) is
    not a duplicate of the keys it brings in: YAML lets the mapping's own keys override them.

    Raises:
        DuplicateKeyError: naming the key's dotted path and both lines.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._paths: dict[int, str] = {}  # id(node) -> its dotted path ("" for the document)

    def construct_sequence(self, node, deep=False):  # noqa: D102 (PyYAML's hook)
        path = self._paths.get(id(node), "")
        for i, child in enumerate(node.value):
            self._paths[id(child)] = f"{path}[{i}]"
        return super().construct_sequence(node, deep=deep)

    def construct_mapping(self, node, deep=False):  # noqa: D102 (PyYAML's hook)
        if isinstance(node, yaml.MappingNode):
            path = self._paths.get(id(node), "")
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # unhashable: PyYAML's own error says so
                    continue
                line = key_node.start_mark.line + 1
                dotted = f"{path}.{key}" if path else str(key)
                if first is not None:
                    raise DuplicateKeyError(dotted, (first, line))
                seen[key] = line
                self._paths[id(value_node)] = dotted
        return super().construct_mapping(node, deep=deep)


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping (params.yaml), with errors that say where.

    The Snakefile calls this on params.yaml before its ``configfile:`` directive, because
    Snakemake's own message for a YAML syntax error names neither the line nor the column, and
    Snakemake (PyYAML, or JSON first) keeps the last of two equal keys silently; the overlays
    given with ``--configfile`` are read with it too (rules/common.smk). JSON files parse as YAML.

    Raises:
        ConfigError: the file cannot be read; its YAML is malformed (the message gives the file,
            line and column, and what the parser expected); a mapping holds a key twice (the
            message gives the key's dotted path and both lines, e.g. ``params.yaml: duplicate
            key 'seed' (line 9 and line 31): a key may appear once``); or it is not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        params = yaml.load(text, Loader=UniqueKeyLoader)
    except DuplicateKeyError as exc:
        raise ConfigError(f"{path}: {exc}") from None
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
