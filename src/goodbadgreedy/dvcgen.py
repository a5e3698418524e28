"""Generate ``dvc.yaml`` from the Snakemake DAG: one DVC stage per Snakemake job.

The Snakefile is the one source of truth for the DAG. :func:`render` asks Snakemake itself
(its Python API, with ``forceall``) for every job the active profile of ``params.yaml`` needs,
and writes one DVC stage per job; ``scripts/make_dvc_yaml.py`` writes the file and
``tests/test_dvc.py`` fails when the committed ``dvc.yaml`` differs from a fresh render. So a
new rule, wildcard value, input or output reaches DVC by re-running the script, never by hand.

What a stage holds
------------------
* **name** -- ``<rule>-<wildcard values joined by ->``, e.g. ``generate-smollm2-135m-gsm8k-sample``
  (``aggregate`` when the rule has no wildcards). DVC reserves ``@`` for ``foreach``/``matrix``
  stages and those cannot template per-job lists, so plain stages it is; select a group with
  ``dvc repro --glob 'generate-*'``.
* **cmd** -- ``snakemake <outputs> --allowed-rules <rule> --force --rerun-triggers code input
  params software-env``: Snakemake stays the engine (script, log, threads, resources, the
  workflow profile in ``profiles/default``) and runs exactly this job. ``--allowed-rules`` keeps
  upstream rules out of its DAG, so their outputs (this stage's DVC deps, present and current
  when DVC runs it) are sources; ``--force`` runs the job whenever DVC runs the stage.
* **deps** -- the job's input files, its script (or, for ``shell``/``run`` rules, its ``.smk``
  file), the helper modules the script imports from ``scripts/`` and every module of
  ``src/goodbadgreedy`` the script reaches through imports (static closure, lazy imports
  included), so that editing ``stats/runs.py`` re-runs ``aggregate`` but no generation. Not
  deps: ``Snakefile``, ``rules/*.smk`` and package data (``schemas/``). Rewiring a rule (its
  inputs, outputs, params) changes the rendered stage, which DVC sees; an input function in
  ``rules/common.smk`` or a schema default that changes a param's *value* without changing which
  keys it reads is not seen (as by Snakemake's ``code`` trigger): ``dvc repro -f -s <stage>``.
* **params** -- the dotted ``params.yaml`` keys the job reads, derived from the rule's
  ``params:`` through :data:`PARAM_KEYS` (e.g. ``decoding`` of a ``generate`` job is
  ``decoding.<cfg>``; ``n_samples`` is ``profiles.<profile>.n_samples`` for a sampling config and
  nothing beyond ``decoding.<cfg>`` for greedy decoding, which draws one sample whatever N is).
  A param missing from the table is matched to the unique ``params.yaml`` subtree equal to its
  value, or :class:`~goodbadgreedy.errors.ConfigError` asks for a table entry; a key that
  params.yaml leaves to the schema's defaults is replaced by its nearest ancestor in the file.
* **outs** -- the job's outputs with the sidecars :mod:`goodbadgreedy.lineage` writes beside them
  (``X.lineage.json``, and ``X.validation.json`` for tables published by ``publish_table``;
  which ones is read from the script's calls). Sidecars are cached like the data, so ``dvc pull``
  restores a tree on which ``goodbadgreedy lineage`` works. The validation sidecar is a function
  of the table; the lineage sidecar also records the environment (package versions, git commit,
  dirty flag), so its hash in ``dvc.lock`` changes when a stage is re-run from another commit,
  while the data hashes do not: that is the point of the sidecar.
* **the model** -- ``prepare_model`` writes converted weights (~0.5 GB) beside its manifest, so
  its out is the folder ``models/<model>`` with ``cache: false``: the weights are a deterministic
  function of a pinned package whose sha256 the manifest records, rebuilt in about a minute;
  copying them into the DVC cache and every remote buys little. ``dvc pull`` therefore leaves
  them out and the next ``dvc repro`` rebuilds them.
* **plots** -- ``runs.csv`` (score of every sampled run) and ``table1.csv`` (Δ = max − min over
  runs per benchmark), see :data:`PLOTS`; plus a top-level ``plots:`` section with every PNG the
  DAG writes (the report's figures) and the data-series plots of :data:`TOP_PLOTS`
  (:func:`top_level_plots`); **metrics** -- any output named ``metrics*.json``
  (``.yaml``/``.toml``); DVC cannot read CSV metrics, so until a rule writes such a file the
  pipeline has none. Logs are not outs (they hold timestamps).
* **the sample cache** (``generation.cache_dir``) is no out either: it is keyed by everything that
  changes a sample's text (decoding, max_new_tokens, seed, model sha256, dtype, prompt sha256),
  survives DVC deleting a generate stage's outs, and makes re-running such a stage cheap when
  only its inputs' bytes, not its samples, changed.

DVC decides, Snakemake executes
-------------------------------
DVC decides from content hashes of deps and params recorded in ``dvc.lock``; before it runs a
stage it deletes the stage's outs (none is ``persist``), so the job's outputs are missing and
Snakemake must run it; ``--force`` makes that explicit, and also covers reasons Snakemake does not
track (a library module changed). Snakemake's ``mtime`` trigger is left out of
``--rerun-triggers``: ``dvc checkout``, ``dvc pull`` and ``dvc exp apply`` rewrite files in no
particular order and give them fresh mtimes, so mtimes no longer say what is outdated, and a
checkout could make Snakemake schedule jobs DVC considers current (with ``--allowed-rules`` it
cannot schedule upstream jobs here, but it still judges them, e.g. where checkpoints are
involved). The content-based triggers (``code input params software-env``) stay: they agree with
DVC's view. Run ``snakemake`` directly on a checked-out tree the same way,
``snakemake --rerun-triggers code input params software-env``: in a fresh clone Snakemake has no
metadata for the pulled files and then trusts them.

Limits
------
dvc.yaml is rendered for the active profile (``profile:`` in params.yaml); switching profile, or
adding a model, benchmark or decoding config, needs ``python scripts/make_dvc_yaml.py`` before
``dvc repro`` (``dvc exp run -S profile=...`` alone does not re-render; a stage then fails with
Snakemake's "no rule to produce" instead of computing the wrong thing). The Snakemake DAG is read
through ``WorkflowApi._workflow`` and ``Workflow._prepare_dag``/``_build_dag``, the calls
``snakemake --dag`` makes (Snakemake 9); the test on the committed file notices when they move.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import yaml

from goodbadgreedy.errors import ConfigError

#: Snakemake triggers the stage commands keep (``mtime`` dropped: DVC checkouts rewrite mtimes).
RERUN_TRIGGERS = ("code", "input", "params", "software-env")

#: The library whose modules become deps, and where it lives in the repository.
PACKAGE = "goodbadgreedy"
PACKAGE_DIR = Path("src") / PACKAGE

KeySpec = Sequence[str] | Callable[[Mapping[str, str], Mapping[str, Any]], Sequence[str]]


def _decoding(wildcards: Mapping[str, str], config: Mapping[str, Any]) -> list[str]:
    """``decoding`` of a job: ``decoding.<cfg>``, or for a sweep's config ``sweeps.<param>`` and
    ``decoding.<base>`` (expanded configs are not spelled out in params.yaml)."""
    from goodbadgreedy.plan import decoding_keys

    return decoding_keys(config, wildcards["cfg"])


def _generate_n_samples(wildcards: Mapping[str, str], config: Mapping[str, Any]) -> list[str]:
    """``n_samples`` of a generate job: ``profiles.<p>.n_samples`` only when the config samples."""
    from goodbadgreedy.plan import expand_sweeps

    keys = _decoding(wildcards, config)
    cfg = wildcards["cfg"]
    spec = config["decoding"].get(cfg) or expand_sweeps(config["decoding"], config.get("sweeps") or {})[0][cfg]
    if spec.get("do_sample"):
        keys.append("profiles.{profile}.n_samples")
    return keys


def _generation(wildcards: Mapping[str, str], config: Mapping[str, Any]) -> list[str]:
    """``generation`` of a generate job: the section less ``shards`` (rules/common.smk: GENERATION).

    Mapped to the whole section, as before sharding existed; ``shards`` only shapes the DAG, and a
    change of it renders other stages anyway (generate_shard / merge_generations)."""
    return ["generation"]


def _with_sweeps(wildcards: Mapping[str, str], config: Mapping[str, Any]) -> list[str]:
    """Derived from ``decoding`` and, when params.yaml has them, ``sweeps`` (not value-checked)."""
    return ["decoding"] + (["sweeps"] if config.get("sweeps") else [])


def _families(wildcards: Mapping[str, str], config: Mapping[str, Any]) -> list[str]:
    """``families`` when params.yaml declares some (an empty default maps to no key)."""
    return ["families"] if config.get("families") else []


def _generate_runtime(wildcards: Mapping[str, str], config: Mapping[str, Any]) -> list[str]:
    """``runtime`` of a generate job (``rules/common.smk: model_runtime``): the backend's keys."""
    backend = config["models"][wildcards["model"]].get("backend", "hf")
    keys = {"hf": ["dtype", "device"], "vllm": ["dtype", "vllm"], "openai": ["openai"]}[backend]
    return ["models.{model}.backend"] + [f"models.{{model}}.{k}" for k in keys]


def _check_judge(wildcards: Mapping[str, str], config: Mapping[str, Any]) -> list[str]:
    """``judge`` of a check job (``rules/common.smk: judge_params``): ``judge`` for judge-based benchmarks."""
    from goodbadgreedy import benchmarks

    return ["judge"] if benchmarks.uses_judge(wildcards["benchmark"]) else []


#: Snakemake rule param -> the dotted params.yaml keys its value is computed from. Looked up as
#: ``(rule, param)`` first, then ``param``. Placeholders: the job's wildcards and ``{profile}``.
#: A callable gets ``(wildcards, config)`` and returns templates.
PARAM_KEYS: dict[str | tuple[str, str], KeySpec] = {
    "options": ["benchmark_options.{benchmark}"],
    "seed": ["seed"],
    "n_items": ["profiles.{profile}.n_items.{benchmark}"],
    "spec": ["models.{model}"],
    "max_new_tokens": ["profiles.{profile}.max_new_tokens.{benchmark}"],
    "runtime": _generate_runtime,
    "generation": _generation,
    "shards": ["generation.shards"],  # generate_shard / merge_generations (generation.shards > 1)
    "profile": ["profile"],
    "decoding": _decoding,
    ("generate", "n_samples"): _generate_n_samples,
    ("check", "judge"): _check_judge,
    ("generate_shard", "n_samples"): _generate_n_samples,
    ("merge_generations", "n_samples"): _generate_n_samples,
    # derived from decoding (the first greedy and the first sampling config), so not value-checked
    ("aggregate", "table1_configs"): _with_sweeps,
    ("aggregate", "n_samples"): ["profiles.{profile}.n_samples"],
    "scorer": ["scorers.{scorer}"],
    # derived from decoding (which configs are greedy), so not value-checked
    ("best_of_n", "greedy_configs"): lambda wildcards, config: ["decoding"],
    # statistics, plots and report (rules/report.smk)
    "table1_configs": _with_sweeps,
    "families": _families,
    "stats": ["stats"],
    "outdir": ["profiles.{profile}.outdir"],
    ("stats", "decoding"): _with_sweeps,  # which configs sample
    # derived from decoding (the swept parameter's values / which parameters sweep), not value-checked
    ("sweep_plot", "sweep"): _with_sweeps,
    ("sweep_table", "sweeps"): _with_sweeps,
    ("report", "sweeps"): _with_sweeps,
    ("report", "n_samples"): ["profiles.{profile}.n_samples"],
}

#: Rules that write more than their declared output into its folder: DVC tracks the folder.
FOLDER_OUTS = {"prepare_model"}
#: Rules whose outs DVC records but does not cache (see the module docstring).
UNCACHED = {"prepare_model"}

#: Outputs (by file name) declared as DVC plots, with their plot properties.
PLOTS: dict[str, dict[str, Any]] = {
    "runs.csv": {"template": "scatter", "x": "run", "y": "score", "title": "Score of every sampled run"},
    "table1.csv": {"template": "bar_horizontal", "x": "delta", "y": "benchmark", "title": "Δ (max − min) over sampled runs"},
}
#: Top-level ``plots:`` of dvc.yaml (DVC 3): every PNG output of the DAG (the report's figures, shown
#: as images by ``dvc plots show/diff``) and these data-series plots, keyed by the file name of a
#: stage output: ``{file name: (plot id, properties with y: column)}``.
TOP_PLOTS: dict[str, tuple[str, dict[str, Any]]] = {
    "passk.csv": ("pass_at_k_family", {"template": "scatter", "x": "k", "y": "value",
                                       "title": "pass@k, pass^k, G-Pass@k, maj@k against k (all metrics)"}),
    "intervals.csv": ("score_intervals", {"template": "bar_horizontal", "x": "mean", "y": "benchmark",
                                          "title": "Mean score per benchmark and config"}),
}
#: Outputs declared as DVC metrics: file name starts with ``metrics`` and DVC can read it.
METRICS_SUFFIXES = (".json", ".yaml", ".yml", ".toml")

HEADER = """\
# Generated by scripts/make_dvc_yaml.py from the Snakefile and params.yaml -- do not edit.
# Profile: {profile}. One stage per Snakemake job; each cmd runs that job with Snakemake.
# Design (rerun triggers, outs, sidecars, the model folder): src/goodbadgreedy/dvcgen.py.
"""


@dataclass(frozen=True)
class Job:
    """One Snakemake job, as far as DVC needs it (paths relative to the workflow root)."""

    rule: str
    wildcards: dict[str, str]
    input: tuple[str, ...]
    output: tuple[str, ...]
    params: dict[str, Any]
    code: str
    doc: str | None
    upstream: tuple[str, ...]

    @property
    def name(self) -> str:
        """The DVC stage name."""
        return stage_name(self.rule, self.wildcards.values())


def stage_name(rule: str, values: Iterable[str]) -> str:
    """``<rule>-<value>-<value>...``; characters DVC does not allow in names become ``_``."""
    return "-".join([rule, *(re.sub(r"[^A-Za-z0-9_-]", "_", str(v)) for v in values)])


def _plain(obj: Any) -> Any:
    """Snakemake's config/params containers -> plain dicts and lists."""
    if isinstance(obj, Mapping) or (hasattr(obj, "items") and not isinstance(obj, (str, bytes))):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def snakemake_jobs(root: str | os.PathLike[str] = ".", snakefile: str = "Snakefile") -> tuple[list[Job], dict[str, Any]]:
    """Every job of the default target for the current params.yaml, in topological order.

    Builds the DAG with ``forceall`` (the result does not depend on which outputs exist) and no
    lock, writes nothing but Snakemake's own ``.snakemake`` bookkeeping folders.

    Returns:
        ``(jobs, config)``: jobs with at least one output (not the target rule ``all``), parents
        first, ties by stage name; and the validated config the Snakefile saw.
    """
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, Quietness, ResourceSettings

    root = Path(root).resolve()
    cwd = Path.cwd()
    out = OutputSettings(quiet={Quietness.ALL}, enable_file_logging=False)
    try:
        with contextlib.redirect_stdout(io.StringIO()), SnakemakeApi(out) as api:
            wf_api = api.workflow(ResourceSettings(cores=1), ConfigSettings(), snakefile=root / snakefile, workdir=root)
            wf_api.dag(DAGSettings(forceall=True))  # hands its settings to the workflow
            workflow = wf_api._workflow  # below: what `snakemake --dag` does, without printing
            workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True, nolock=True)
            workflow._build_dag()
            dag = workflow.dag
            config = _plain(workflow.config)
            jobs = []
            for job in dag.jobs:
                if not job.output:
                    continue
                rule = job.rule
                smk = Path(str(rule.snakefile))
                code = (smk.parent / rule.script) if rule.script else smk
                jobs.append(Job(
                    rule=rule.name,
                    wildcards={k: str(v) for k, v in job.wildcards_dict.items()},
                    input=tuple(dict.fromkeys(str(f) for f in job.input)),
                    output=tuple(str(f) for f in job.output),
                    params=_plain(dict(job.params.items())),
                    code=os.path.relpath(code.resolve(), root),
                    doc=(rule.docstring or "").strip() or None,
                    upstream=tuple(sorted({stage_name(d.rule.name, d.wildcards_dict.values())
                                           for d in dag.dependencies[job] if d.output})),
                ))
    finally:
        os.chdir(cwd)
    return _toposort(jobs), config


def _toposort(jobs: list[Job]) -> list[Job]:
    by_name = {j.name: j for j in jobs}
    if len(by_name) != len(jobs):
        raise ConfigError("dvc.yaml: two Snakemake jobs map to the same stage name (same rule and wildcard values)")
    waiting = {j.name: set(j.upstream) & by_name.keys() for j in jobs}
    order: list[Job] = []
    while waiting:
        ready = sorted(n for n, ups in waiting.items() if not ups)
        if not ready:
            raise ConfigError(f"dvc.yaml: the Snakemake jobs {sorted(waiting)} depend on each other in a cycle")
        for n in ready:
            order.append(by_name[n])
            del waiting[n]
        for ups in waiting.values():
            ups.difference_update(ready)
    return order


# --- params -------------------------------------------------------------------------------------

def _get(tree: Any, dotted: str) -> Any:
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def _keys_equal_to(tree: Mapping[str, Any], value: Any, prefix: str = "") -> list[str]:
    found = []
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if v == value:
            found.append(key)
        if isinstance(v, Mapping):
            found.extend(_keys_equal_to(v, value, key + "."))
    return found


def param_keys(job: Job, config: Mapping[str, Any], raw: Mapping[str, Any]) -> list[str]:
    """The dotted params.yaml keys ``job`` reads (see :data:`PARAM_KEYS`).

    Args:
        job: the Snakemake job.
        config: the validated config (defaults filled in), as the Snakefile saw it.
        raw: params.yaml as written (what DVC reads).

    Raises:
        ConfigError: a rule param neither in :data:`PARAM_KEYS` nor equal to exactly one
            params.yaml subtree, or a mapped key whose value differs from the param.
    """
    fill = {**job.wildcards, "profile": config["profile"]}
    keys: list[str] = []
    for name, value in job.params.items():
        spec = PARAM_KEYS.get((job.rule, name), PARAM_KEYS.get(name))
        if spec is None:
            found = _keys_equal_to(config, value)
            if len(found) != 1:
                raise ConfigError(
                    f"dvc.yaml: rule {job.rule}: param {name!r}: cannot tell which params.yaml key it "
                    f"reads ({len(found)} candidates: {found[:5]}); add it to goodbadgreedy.dvcgen.PARAM_KEYS")
            templates: Sequence[str] = found
        else:
            templates = spec(job.wildcards, config) if callable(spec) else spec
        try:
            resolved = [t.format(**fill) for t in templates]
        except KeyError as exc:
            raise ConfigError(f"dvc.yaml: rule {job.rule}: param {name!r}: key template needs wildcard {exc}") from None
        if len(resolved) == 1 and not callable(spec):
            try:
                expected = _get(config, resolved[0])
            except KeyError:
                raise ConfigError(f"dvc.yaml: rule {job.rule}: param {name!r} maps to {resolved[0]}, which is not in params.yaml") from None
            if expected != value:
                raise ConfigError(
                    f"dvc.yaml: rule {job.rule}: param {name!r} is not the value of {resolved[0]}; "
                    "fix its entry in goodbadgreedy.dvcgen.PARAM_KEYS")
        keys.extend(resolved)
    return _in_file(keys, raw)


def _in_file(keys: Iterable[str], raw: Mapping[str, Any]) -> list[str]:
    """Keys that params.yaml spells out; a key left to the schema's defaults -> nearest ancestor."""
    out: list[str] = []
    for key in keys:
        parts = key.split(".")
        while parts:
            try:
                _get(raw, ".".join(parts))
                break
            except KeyError:
                parts.pop()
        if not parts:
            raise ConfigError(f"dvc.yaml: params key {key} is not in params.yaml (nor any key above it)")
        out.append(".".join(parts))
    # drop duplicates and keys covered by an ancestor already listed
    uniq = sorted(set(out))
    return [k for k in uniq if not any(k.startswith(a + ".") for a in uniq)]


# --- code deps and sidecars -------------------------------------------------------------------

def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(level, module, names)`` of every import statement in ``path`` (nested ones too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((0, a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or "", [a.name for a in node.names]))
    return found


def _module_file(root: Path, module: str) -> Path | None:
    """``src/goodbadgreedy/x/y.py`` or ``.../y/__init__.py`` for ``goodbadgreedy.x.y``."""
    base = root / PACKAGE_DIR.parent / Path(*module.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def code_deps(root: str | os.PathLike[str], code: str) -> list[str]:
    """``code`` plus the local helpers and library modules it reaches through imports.

    Local helpers are modules beside a script (``from _log import to_log``); library modules are
    those of :data:`PACKAGE` under ``src/``, with the ``__init__.py`` of their packages.
    """
    root = Path(root).resolve()
    start = root / code
    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        if path.suffix != ".py":
            continue
        in_pkg = (root / PACKAGE_DIR) in path.parents
        if in_pkg:
            rel = path.relative_to(root / PACKAGE_DIR.parent).with_suffix("")
            pkg_parts = list(rel.parts[:-1])  # the package a relative import starts from
        for level, module, names in _imports(path):
            if level:
                if not in_pkg:
                    continue
                base = pkg_parts[: len(pkg_parts) - (level - 1)]
                module = ".".join([*base, *([module] if module else [])])
            top = module.split(".")[0]
            if top == PACKAGE:
                parts = module.split(".")
                for i in range(1, len(parts) + 1):  # the package __init__s run too
                    f = _module_file(root, ".".join(parts[:i]))
                    if f:
                        todo.append(f)
                for n in names:  # `from goodbadgreedy import benchmarks` names a module
                    f = _module_file(root, f"{module}.{n}")
                    if f:
                        todo.append(f)
            elif not level and not in_pkg and (path.parent / f"{top}.py").is_file():
                todo.append(path.parent / f"{top}.py")
    return sorted(os.path.relpath(p, root) for p in seen)


def sidecars(root: str | os.PathLike[str], code: str) -> tuple[str, ...]:
    """The sidecar kinds a rule's script writes beside each output (from the functions it calls)."""
    path = Path(root) / code
    if path.suffix != ".py":
        return ()
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", None))
    if "publish_table" in names:
        return ("lineage", "validation")
    if "write_lineage" in names:
        return ("lineage",)
    return ()


# --- stages -------------------------------------------------------------------------------------

def stage(job: Job, root: str | os.PathLike[str], config: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The DVC stage of one Snakemake job (see the module docstring)."""
    cmd = " ".join([
        "snakemake", *map(shlex.quote, job.output), "--allowed-rules", job.rule, "--force",
        "--rerun-triggers", *RERUN_TRIGGERS,
    ])
    deps = list(dict.fromkeys([*job.input, *code_deps(root, job.code)]))
    kinds = sidecars(root, job.code)
    outs: list[Any] = []
    plots: list[Any] = []
    metrics: list[Any] = []
    if job.rule in FOLDER_OUTS:
        folders = sorted({str(Path(o).parent) for o in job.output})
        outs = [{f: {"cache": False}} if job.rule in UNCACHED else f for f in folders]
    else:
        for o in job.output:
            name = Path(o).name
            if name in PLOTS:
                plots.append({o: dict(PLOTS[name])})
            elif name.startswith("metrics") and Path(o).suffix in METRICS_SUFFIXES:
                metrics.append(o)
            else:
                outs.append({o: {"cache": False}} if job.rule in UNCACHED else o)
            outs.extend(f"{o}.{k}.json" for k in kinds)
    st: dict[str, Any] = {}
    if job.doc:
        st["desc"] = " ".join(job.doc.split())
    st["cmd"] = cmd
    st["deps"] = deps
    params = param_keys(job, config, raw)
    if params:
        st["params"] = params
    st["outs"] = outs
    if metrics:
        st["metrics"] = metrics
    if plots:
        st["plots"] = plots
    return st


def build(root: str | os.PathLike[str] = ".", snakefile: str = "Snakefile", params_file: str = "params.yaml") -> tuple[dict[str, dict[str, Any]], str]:
    """``(stages, profile)``: one DVC stage per Snakemake job of the workflow at ``root``."""
    root = Path(root).resolve()
    jobs, config = snakemake_jobs(root, snakefile)
    raw = yaml.safe_load((root / params_file).read_text())
    return {j.name: stage(j, root, config, raw) for j in jobs}, config["profile"]


def _out_paths(st: Mapping[str, Any]) -> list[str]:
    paths = []
    for o in [*st.get("outs", []), *st.get("plots", [])]:
        paths.extend(o.keys() if isinstance(o, Mapping) else [o])
    return paths


def top_level_plots(stages: Mapping[str, Any]) -> list[Any]:
    """The top-level ``plots:`` section (DVC 3 syntax) for ``stages``.

    Every ``.png`` out becomes an image plot (its path); every out named in :data:`TOP_PLOTS`
    a data-series plot ``{id: {template, x, y: {path: column}, title}}``. Data series first, then
    images, each sorted by path.

    Source: DVC docs, "dvc.yaml: Top-level plot definitions"
    (https://dvc.org/doc/user-guide/project-structure/dvcyaml-files#top-level-plot-definitions).
    """
    images, series = [], []
    for st in stages.values():
        for path in _out_paths(st):
            name = Path(path).name
            if name.endswith(".png"):
                images.append(path)
            elif name in TOP_PLOTS:
                pid, props = TOP_PLOTS[name]
                series.append((path, {pid: {**{k: v for k, v in props.items() if k != "y"}, "y": {path: props["y"]}}}))
    return [entry for _, entry in sorted(series, key=lambda t: t[0])] + sorted(images)


def dump(stages: Mapping[str, Any], profile: str) -> str:
    """The text of ``dvc.yaml`` holding ``stages`` and their top-level ``plots`` (deterministic: no
    timestamps, fixed order)."""
    doc: dict[str, Any] = {"stages": dict(stages)}
    plots = top_level_plots(stages)
    if plots:
        doc["plots"] = plots
    body = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True, width=10_000)
    return HEADER.format(profile=profile) + body


def render(root: str | os.PathLike[str] = ".", snakefile: str = "Snakefile", params_file: str = "params.yaml") -> str:
    """The text of ``dvc.yaml`` for the workflow at ``root`` and its current params.yaml."""
    return dump(*build(root, snakefile, params_file))


__all__ = ["Job", "PARAM_KEYS", "RERUN_TRIGGERS", "build", "code_deps", "dump", "param_keys", "render", "sidecars", "snakemake_jobs",
           "stage", "stage_name", "top_level_plots"]
