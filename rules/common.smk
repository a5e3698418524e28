# Config validation, input functions and wildcard constraints shared by all rules.
import os
import re
from pathlib import Path
from types import SimpleNamespace

from goodbadgreedy import benchmarks as _benchmarks
from goodbadgreedy.checksums import files_of, read_sums
from goodbadgreedy.judge.defaults import run_judge
from goodbadgreedy.params_file import read_yaml_mapping, validate_params
from goodbadgreedy.plan import plan, table1_configs
from goodbadgreedy.provenance import check_restored, restored_stale
from goodbadgreedy.stages import RuleCode, code_fingerprints


def canonical(obj):
    """Key-sorted copy: Snakemake compares params by their repr, so key order must not matter."""
    if isinstance(obj, dict):
        return {k: canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [canonical(v) for v in obj]
    return obj


# --configfile overlays (e.g. profiles/slurm/params.yaml): Snakemake read them keeping the last of
# two equal keys; read again, a duplicate key stops here naming it and its lines (as params.yaml's
# does in the Snakefile)
for _overlay in workflow.overwrite_configfiles:
    read_yaml_mapping(_overlay)
# Validate params.yaml (+ --config overrides) against the JSON schema, defaults filled in,
# before any job: a bad key (or a local model folder that does not exist) stops here with one
# message naming it.
config.update(validate_params(config))
PLAN = plan(config)
OUT = PLAN.outdir
PROFILE = config["profiles"][config["profile"]]
# generation settings of a generate job; `shards` only shapes the DAG (see rules/generate.smk)
GENERATION = canonical({k: v for k, v in config["generation"].items() if k != "shards"})
SHARDS = PLAN.shards
# torch threads per generate job (params.yaml generation.threads; Snakemake caps it at --cores)
GENERATION_THREADS = config["generation"]["threads"]
# Table 1 compares the first greedy and the first sampling config in params.yaml order
# PLAN.decoding: the declared configs, then those params.yaml `sweeps` expand into (config.plan)
TABLE1_CONFIGS = list(table1_configs(PLAN.decoding))
# Best-of-N: every scorer of params.yaml scores every sampling config (greedy has one sample)
SCORERS = list(config["scorers"])
SCORER_PATTERN = "|".join(SCORERS) or "(?!)"
SAMPLING_CONFIGS = [c for c in PLAN.configs if PLAN.decoding[c]["do_sample"]]
GREEDY_CONFIGS = [c for c in PLAN.configs if not PLAN.decoding[c]["do_sample"]]


wildcard_constraints:
    model="|".join(PLAN.models),
    benchmark="|".join(PLAN.benchmarks),
    cfg="|".join(map(re.escape, PLAN.configs)),


RAW_SUMS = read_sums("data/raw/SHA256SUMS")
# {rule: sha256 of the code its dvc.yaml stage lists}: every rule passes it as its `code` param, so
# Snakemake re-runs a rule's jobs when the library code they run changes (goodbadgreedy.stages)
CODE = RuleCode(code_fingerprints(Path(workflow.basedir) / "dvc.yaml"))


def raw_files(wildcards):
    """The vendored raw files of one benchmark: those its spec declares (raw_files), each listed in
    data/raw/SHA256SUMS (the rule checks each against its sum); other files vendored in its folder
    (GSM8K's train split) are no input."""
    declared = _benchmarks.spec(wildcards.benchmark).raw_files
    return [f"data/raw/{path}" for path in files_of(RAW_SUMS, wildcards.benchmark, declared)]


def benchmark_options(wildcards):
    return canonical(config["benchmark_options"][wildcards.benchmark])


def judge_params(wildcards):
    """The run's judge for judge-based benchmarks, {} for the others (so editing the judge re-runs
    only the checks that call it): params.yaml's `judge` section with the active profile's `judge`
    block (max_tokens, concurrency) over it."""
    if not _benchmarks.uses_judge(wildcards.benchmark):
        return {}
    return canonical(run_judge(config))


def model_spec(wildcards):
    return canonical(config["models"][wildcards.model])


def n_items(wildcards):
    return PROFILE["n_items"][wildcards.benchmark]


def decoding(wildcards):
    return canonical(PLAN.decoding[wildcards.cfg])


def n_samples(wildcards):
    return PLAN.samples_for(PLAN.decoding[wildcards.cfg])


def max_new_tokens(wildcards):
    return PROFILE["max_new_tokens"][wildcards.benchmark]


def model_runtime(wildcards):
    """The backend and its options: what changes generated text, or where and how it runs.

    hf: dtype, device; vllm: dtype and the `vllm` block; openai: the `openai` block (server,
    served model, tokenizer; the API key's variable name, never the key). Connection settings
    (concurrency, retries, timeout) are included because the script needs them: changing one
    re-runs the job, which then takes every sample from the sample cache.
    """
    spec = config["models"][wildcards.model]
    backend = spec["backend"]
    if backend == "openai":
        return canonical({"backend": backend, "openai": spec["openai"]})
    if backend == "vllm":
        return canonical({"backend": backend, "dtype": spec["dtype"], "vllm": spec["vllm"]})
    return {"backend": backend, "device": spec["device"], "dtype": spec["dtype"]}


def per_config(table, configs=None):
    """The `table` files (`generations` or `checks`) of every model x benchmark x decoding config
    (default: every config of the plan)."""
    return expand(
        f"{OUT}/{table}/{{model}}/{{benchmark}}/{{cfg}}.parquet",
        model=PLAN.models,
        benchmark=PLAN.benchmarks,
        cfg=PLAN.configs if configs is None else configs,
    )


def scorer_spec(wildcards):
    return canonical(config["scorers"][wildcards.scorer])


def scorer_applies(scorer, benchmark):
    """Self-consistency votes on the check table's `extracted`: only where that is the model's
    answer, not a judge's verdict (goodbadgreedy.benchmarks.extracts_answers)."""
    if config["scorers"][scorer].get("type", scorer) != "self_consistency":
        return True
    return _benchmarks.extracts_answers(benchmark, config["benchmark_options"][benchmark])


def all_scores():
    return [
        f"{OUT}/scores/{model}/{benchmark}/{cfg}/{scorer}.parquet"
        for model in PLAN.models
        for benchmark in PLAN.benchmarks
        for cfg in SAMPLING_CONFIGS
        for scorer in SCORERS
        if scorer_applies(scorer, benchmark)
    ]


def best_of_n_outputs():
    """The Best-of-N table, when there is a scorer and a sampling config."""
    if not (SCORERS and SAMPLING_CONFIGS):
        return []
    return [f"{OUT}/stats/best_of_n.csv"]


def best_of_n_plots():
    """The Best-of-N figure, when there is a Best-of-N table."""
    return [f"{OUT}/plots/best_of_n.png"] if best_of_n_outputs() else []


def sweep_table_outputs():
    """The sweep table (the plots come through the report); none without a sweep."""
    return [f"{OUT}/stats/sweep.csv"] if SWEEPS else []


def aggregate_outputs():
    """What the DVC stage `aggregate` makes: Table 1, run scores, metrics, stats, sweep and Best-of-N tables."""
    return (
        [f"{OUT}/table1.csv", f"{OUT}/table1.md", f"{OUT}/runs.csv", f"{OUT}/metrics.json"]
        + list(stats_outputs().values())
        + best_of_n_outputs()
        + sweep_table_outputs()
    )


def report_outputs():
    """What the DVC stage `report` makes: the figures and report.html."""
    return (
        [f"{OUT}/plots/table1.png", f"{OUT}/plots/pass_at_k.png", f"{OUT}/report.html"]
        + list(sweep_plots().values())
        + best_of_n_plots()
    )


def final_outputs():
    return aggregate_outputs() + report_outputs()


# --- statistics, plots, report (rules/report.smk) ---
from goodbadgreedy.plan import STATS_FILES, sweep_groups

STATS_CONFIG = canonical(config["stats"])
# {param: [config, ...]}: params.yaml `sweeps` (temperature 0 = greedy included), else sampling
# configs that differ in one decoding parameter only
SWEEP_VALUES = {p: {c: PLAN.decoding[c][p] for c in cs} for p, cs in sweep_groups(PLAN.decoding).items()}
SWEEP_VALUES.update({p: dict(v) for p, v in PLAN.sweeps.items()})
SWEEPS = {p: list(v) for p, v in SWEEP_VALUES.items()}
FAMILIES = {f: list(m) for f, m in PLAN.families.items()}


def stats_outputs():
    return {name: f"{OUT}/stats/{fname}" for name, fname in STATS_FILES.items()}


def sweep_values(wildcards):
    """{config: value} of the swept parameter, for the sweep's configs."""
    return SWEEP_VALUES[wildcards.param]


def sweep_plots():
    return {p: f"{OUT}/plots/sweep_{p}.png" for p in SWEEPS}


def sweep_configs():
    """{param: {config: value}} of every sweep (the sweep_table rule's params)."""
    return SWEEP_VALUES


# --- sharded generation (generation.shards > 1; rules/generate.smk) ---


def generation_shards(wildcards):
    """The shard files one generation table is merged from."""
    return [
        f"{OUT}/generations/{wildcards.model}/{wildcards.benchmark}/{wildcards.cfg}.shards/{k}-of-{SHARDS}.parquet"
        for k in range(SHARDS)
    ]


# --- outputs DVC put back behind Snakemake's back (goodbadgreedy.provenance) ---


def params_now(rule, wildcards):
    """The params a job of `rule` with `wildcards` gets now; None if this run has no such job."""
    if not workflow.is_rule(rule):
        return None
    in_plan = {
        "model": PLAN.models,
        "benchmark": PLAN.benchmarks,
        "cfg": PLAN.configs,
        "scorer": SCORERS,
        "param": list(SWEEPS),
    }
    if any(key in in_plan and value not in in_plan[key] for key, value in wildcards.items()):
        return None
    wc = SimpleNamespace(**wildcards)
    return {name: value(wc) if callable(value) else value for name, value in getattr(rules, rule).params.items()}


def check_restored_outputs():
    """Stop when an output's lineage says it was made with other params than its job has now while
    Snakemake's record says it is current (the file was restored by DVC, not made by that job)."""
    check_restored(restored_stale(os.getcwd(), [OUT, "data/benchmarks", "models"], params_now))
