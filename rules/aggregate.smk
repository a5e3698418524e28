# Table 1, run scores, statistics, the sweep table and the Best-of-N table (DVC stage aggregate);
# input functions in rules/common.smk.


rule aggregate:
    """Run scores and Table 1 (greedy vs sampling mean/std/min/max/Δ, response lengths)."""
    input:
        checks=per_config("checks"),
        generations=per_config("generations"),
    output:
        table1=f"{OUT}/table1.csv",
        markdown=f"{OUT}/table1.md",
        runs=f"{OUT}/runs.csv",
        metrics=f"{OUT}/metrics.json",
    log:
        f"logs/{PLAN.profile}/aggregate.log",
    params:
        code=CODE["aggregate"],
        table1_configs=TABLE1_CONFIGS,
        n_samples=PLAN.n_samples,
        profile=PLAN.profile,
    script:
        "../scripts/aggregate.py"


rule stats:
    """Statistics: pass@k family, intervals, paired tests, variance decomposition, rank flips, lengths."""
    input:
        checks=per_config("checks"),
        generations=per_config("generations"),
    output:
        **stats_outputs(),
    log:
        f"logs/{PLAN.profile}/stats.log",
    params:
        code=CODE["stats"],
        stats=STATS_CONFIG,
        seed=config["seed"],
        decoding=canonical(PLAN.decoding),
        table1_configs=TABLE1_CONFIGS,
    script:
        "../scripts/stats_tables.py"


rule sweep_table:
    """Every sweep point's score (intervals.csv rows) by parameter value, model family and model."""
    input:
        intervals=f"{OUT}/stats/intervals.csv",
    output:
        f"{OUT}/stats/sweep.csv",
    log:
        f"logs/{PLAN.profile}/sweep_table.log",
    params:
        code=CODE["sweep_table"],
        sweeps=sweep_configs(),
        table1_configs=TABLE1_CONFIGS,
        families=FAMILIES,
    script:
        "../scripts/sweep_table.py"


rule best_of_n:
    """Best-of-N table (unbiased, first-N, oracle, random, worst per scorer and N)."""
    input:
        scores=all_scores(),
        checks=per_config("checks", SAMPLING_CONFIGS),
    output:
        f"{OUT}/stats/best_of_n.csv",
    log:
        f"logs/{PLAN.profile}/best_of_n.log",
    params:
        code=CODE["best_of_n"],
    script:
        "../scripts/best_of_n.py"
