rule normalize:
    """Verify the vendored raw files' sha256 and normalize them to one table per benchmark."""
    input:
        raw=raw_files,
        sums="data/raw/SHA256SUMS",
    output:
        "data/benchmarks/{benchmark}.parquet",
    log:
        "logs/normalize/{benchmark}.log",
    params:
        code=CODE["normalize"],
        options=benchmark_options,
    script:
        "../scripts/normalize.py"
