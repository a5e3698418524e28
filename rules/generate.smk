# generation.shards == 1: one generate job per (model, benchmark, config). > 1: generate_shard jobs,
# one per item range, merged into the same generation table (byte-identical; seeds come from
# item ids), so a cluster spreads them. The rules exist only for the chosen layout.
if SHARDS == 1:

    rule generate:
        """Model x benchmark x decoding config -> one row per (item, sample)."""
        input:
            subset=f"{OUT}/items/{{benchmark}}.parquet",
            model="models/{model}/manifest.json",
        output:
            f"{OUT}/generations/{{model}}/{{benchmark}}/{{cfg}}.parquet",
        log:
            f"logs/{PLAN.profile}/generate/{{model}}/{{benchmark}}/{{cfg}}.log",
        threads: GENERATION_THREADS
        resources:
            mem_mb=4000,
        params:
            code=CODE["generate"],
            options=benchmark_options,
            decoding=decoding,
            n_samples=n_samples,
            max_new_tokens=max_new_tokens,
            runtime=model_runtime,
            seed=config["seed"],
            generation=GENERATION,
        script:
            "../scripts/generate.py"

else:

    rule generate_shard:
        """One item range (shard) of a model x benchmark x decoding config."""
        input:
            subset=f"{OUT}/items/{{benchmark}}.parquet",
            model="models/{model}/manifest.json",
        output:
            f"{OUT}/generations/{{model}}/{{benchmark}}/{{cfg}}.shards/{{shard}}-of-{SHARDS}.parquet",
        log:
            f"logs/{PLAN.profile}/generate_shard/{{model}}/{{benchmark}}/{{cfg}}/{{shard}}.log",
        wildcard_constraints:
            shard=r"\d+",
        threads: GENERATION_THREADS
        resources:
            mem_mb=4000,
        params:
            code=CODE["generate_shard"],
            options=benchmark_options,
            decoding=decoding,
            n_samples=n_samples,
            max_new_tokens=max_new_tokens,
            runtime=model_runtime,
            seed=config["seed"],
            generation=GENERATION,
            shards=SHARDS,
        script:
            "../scripts/generate.py"

    rule merge_generations:
        """The shards of a model x benchmark x decoding config -> its generation table (validated)."""
        input:
            subset=f"{OUT}/items/{{benchmark}}.parquet",
            shards=generation_shards,
        output:
            f"{OUT}/generations/{{model}}/{{benchmark}}/{{cfg}}.parquet",
        log:
            f"logs/{PLAN.profile}/merge_generations/{{model}}/{{benchmark}}/{{cfg}}.log",
        params:
            code=CODE["merge_generations"],
            n_samples=n_samples,
            shards=SHARDS,
        script:
            "../scripts/merge_generations.py"
