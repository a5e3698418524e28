rule aggregate:
    """Run scores and Table 1 (greedy vs sampling mean/std/min/max/Δ, response lengths)."""
    input:
        checks=all_checks(),
        generations=all_generations(),
    output:
        table1=f"{OUT}/table1.csv",
        markdown=f"{OUT}/table1.md",
        runs=f"{OUT}/runs.csv",
        metrics=f"{OUT}/metrics.json",
    params:
        table1_configs=TABLE1_CONFIGS,
        n_samples=PLAN.n_samples,
        profile=PLAN.profile,
    log:
        f"logs/{PLAN.profile}/aggregate.log",
    script:
        "../scripts/aggregate.py"
