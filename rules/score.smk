rule score:
    """One scorer's score for every sample of a sampling config (self-consistency, logprob, reward model)."""
    input:
        subset=f"{OUT}/items/{{benchmark}}.parquet",
        model="models/{model}/manifest.json",
        generations=f"{OUT}/generations/{{model}}/{{benchmark}}/{{cfg}}.parquet",
        checks=f"{OUT}/checks/{{model}}/{{benchmark}}/{{cfg}}.parquet",
    output:
        f"{OUT}/scores/{{model}}/{{benchmark}}/{{cfg}}/{{scorer}}.parquet",
    log:
        f"logs/{PLAN.profile}/score/{{model}}/{{benchmark}}/{{cfg}}/{{scorer}}.log",
    wildcard_constraints:
        scorer=SCORER_PATTERN,
    threads: workflow.cores
    resources:
        mem_mb=4000,
    params:
        code=CODE["score"],
        scorer=scorer_spec,
        options=benchmark_options,
        runtime=model_runtime,
    script:
        "../scripts/score.py"
