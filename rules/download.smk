rule download:
    """Verify the vendored raw files' sha256 and normalize them to one table per benchmark."""
    input:
        raw=raw_files,
        sums="data/raw/SHA256SUMS",
    output:
        "data/benchmarks/{benchmark}.parquet",
    params:
        options=benchmark_options,
    log:
        "logs/download/{benchmark}.log",
    script:
        "../scripts/download.py"


rule select_items:
    """The profile's seeded subset of items (a larger n_items gives a superset)."""
    input:
        "data/benchmarks/{benchmark}.parquet",
    output:
        f"{OUT}/items/{{benchmark}}.parquet",
    params:
        n_items=n_items,
        seed=config["seed"],
    log:
        f"logs/{PLAN.profile}/select_items/{{benchmark}}.log",
    script:
        "../scripts/select_items.py"
