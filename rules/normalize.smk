rule normalize:
    """Verify the vendored raw files' sha256 and normalize them to one table per benchmark."""
    input:
        raw=raw_files,
        sums="data/raw/SHA256SUMS",
    output:
        "data/benchmarks/{benchmark}.parquet",
    params:
        code=CODE["normalize"],
        options=benchmark_options,
    log:
        "logs/normalize/{benchmark}.log",
    script:
        "../scripts/normalize.py"
