rule check:
    """Score every sample: GSM8K/MMLU answer extraction, HumanEval in the sandbox, the LLM judge for MixEval/AlpacaEval/Arena-Hard."""
    input:
        subset=f"{OUT}/items/{{benchmark}}.parquet",
        generations=f"{OUT}/generations/{{model}}/{{benchmark}}/{{cfg}}.parquet",
    output:
        f"{OUT}/checks/{{model}}/{{benchmark}}/{{cfg}}.parquet",
    log:
        f"logs/{PLAN.profile}/check/{{model}}/{{benchmark}}/{{cfg}}.log",
    threads: workflow.cores
    params:
        code=CODE["check"],
        options=benchmark_options,
        judge=judge_params,
    script:
        "../scripts/check.py"
