rule generate:
    """Model x benchmark x decoding config -> one row per (item, sample)."""
    input:
        subset=f"{OUT}/items/{{benchmark}}.parquet",
        model="models/{model}/manifest.json",
    output:
        f"{OUT}/generations/{{model}}/{{benchmark}}/{{cfg}}.parquet",
    params:
        options=benchmark_options,
        decoding=decoding,
        n_samples=n_samples,
        max_new_tokens=max_new_tokens,
        runtime=model_runtime,
        seed=config["seed"],
        generation=GENERATION,
    log:
        f"logs/{PLAN.profile}/generate/{{model}}/{{benchmark}}/{{cfg}}.log",
    threads: workflow.cores
    resources:
        mem_mb=4000,
    script:
        "../scripts/generate.py"
