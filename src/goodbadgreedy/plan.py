"""The run plan: what the workflow computes from a validated ``params.yaml``.

The active profile resolved (:class:`RunPlan`, :func:`plan`), params.yaml's ``sweeps`` expanded
into decoding configs (:func:`expand_sweeps`), the sampling configs that form a sweep
(:func:`sweep_groups`), Table 1's two configs (:func:`table1_configs`) and the stats tables' file
names (:data:`STATS_FILES`). No numpy/scipy/polars import: the Snakefile reads this at parse time.
Reading and validating params.yaml is :mod:`goodbadgreedy.params_file`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from goodbadgreedy.errors import ConfigError

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
    argmax decoding reads), else a new config with ``do_sample: false`` (one run, no seed).
    Expanded configs follow the declared ones, sweep by sweep, in value order.

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
                raise ConfigError(
                    f"{source}: sweeps.{param}: config {name} is also declared in decoding, with other values"
                )
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
        outdir: where the profile's results go: ``results/<profile>`` (:func:`outdir_of`; dvc.yaml
            templates the same path from ``${profile}``).
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


#: The folder under which each profile's results live, one subfolder per profile.
RESULTS_DIR = "results"


def outdir_of(profile: str) -> str:
    """The results folder of a profile: ``results/<profile>``.

    One fixed rule rather than a per-profile setting, because ``dvc.yaml`` names its outs with it
    (``results/${profile}/...``) and DVC's templating cannot look a path up by profile; it also
    keeps two profiles from ever writing to the same files.
    """
    return f"{RESULTS_DIR}/{profile}"


def plan(cfg: Mapping[str, Any]) -> RunPlan:
    """Resolve the active profile of a validated config, with its sweeps expanded."""
    prof = cfg["profiles"][cfg["profile"]]
    decoding, sweeps = expand_sweeps(cfg["decoding"], cfg.get("sweeps") or {})
    return RunPlan(
        profile=cfg["profile"],
        outdir=outdir_of(cfg["profile"]),
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
