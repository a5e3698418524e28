# Config validation, input functions and wildcard constraints shared by all rules.
from pathlib import Path

from goodbadgreedy import benchmarks as _benchmarks
from goodbadgreedy.config import plan, validate_params
from goodbadgreedy.report import table1_configs

def canonical(obj):
    """Key-sorted copy: Snakemake compares params by their repr, so key order must not matter."""
    if isinstance(obj, dict):
        return {k: canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [canonical(v) for v in obj]
    return obj


# Validate params.yaml (+ --config overrides) against the JSON schema, defaults filled in,
# before any job: a bad key stops here with one message naming it.
config.update(validate_params(config))
PLAN = plan(config)
OUT = PLAN.outdir
PROFILE = config["profiles"][config["profile"]]
GENERATION = canonical(config["generation"])
# Table 1 compares the first greedy and the first sampling config in params.yaml order
TABLE1_CONFIGS = list(table1_configs(config["decoding"]))


wildcard_constraints:
    model="|".join(PLAN.models),
    benchmark="|".join(PLAN.benchmarks),
    cfg="|".join(PLAN.configs),


def raw_files(wildcards):
    """The vendored raw files of one benchmark (their checksums are verified by the rule)."""
    files = _benchmarks.get(wildcards.benchmark).RAW_FILES
    return [f"data/raw/{wildcards.benchmark}/{name}" for name in files]


def benchmark_options(wildcards):
    return canonical(config["benchmark_options"][wildcards.benchmark])


def model_spec(wildcards):
    return canonical(config["models"][wildcards.model])


def n_items(wildcards):
    return PROFILE["n_items"][wildcards.benchmark]


def decoding(wildcards):
    return canonical(config["decoding"][wildcards.cfg])


def n_samples(wildcards):
    return PLAN.samples_for(config["decoding"][wildcards.cfg])


def max_new_tokens(wildcards):
    return PROFILE["max_new_tokens"][wildcards.benchmark]


def model_runtime(wildcards):
    """Only what changes generated text (dtype) or where it runs (device)."""
    spec = config["models"][wildcards.model]
    return {"device": spec["device"], "dtype": spec["dtype"]}


def all_checks():
    return expand(
        f"{OUT}/checks/{{model}}/{{benchmark}}/{{cfg}}.parquet",
        model=PLAN.models,
        benchmark=PLAN.benchmarks,
        cfg=PLAN.configs,
    )


def all_generations():
    return expand(
        f"{OUT}/generations/{{model}}/{{benchmark}}/{{cfg}}.parquet",
        model=PLAN.models,
        benchmark=PLAN.benchmarks,
        cfg=PLAN.configs,
    )


def final_outputs():
    return [f"{OUT}/table1.csv", f"{OUT}/table1.md", f"{OUT}/runs.csv", f"{OUT}/metrics.json"]
