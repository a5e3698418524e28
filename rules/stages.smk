# One target rule per DVC stage of dvc.yaml: `snakemake stage_<name>` makes everything that stage
# outputs for the active profile (the stage's cmd also restricts Snakemake to the stage's own rules
# with --allowed-rules, so the upstream stages' outputs are taken as DVC left them).


rule stage_normalize:
    input:
        expand("data/benchmarks/{benchmark}.parquet", benchmark=PLAN.benchmarks),


rule stage_prepare_model:
    input:
        expand("models/{model}/manifest.json", model=PLAN.models),


rule stage_select_items:
    input:
        expand(f"{OUT}/items/{{benchmark}}.parquet", benchmark=PLAN.benchmarks),


rule stage_generate:
    input:
        per_config("generations"),


rule stage_check:
    input:
        per_config("checks"),


rule stage_score:
    input:
        all_scores(),


rule stage_aggregate:
    input:
        aggregate_outputs(),


rule stage_report:
    input:
        report_outputs(),
