rule select_items:
    """The profile's seeded subset of items (a larger n_items gives a superset)."""
    input:
        "data/benchmarks/{benchmark}.parquet",
    output:
        f"{OUT}/items/{{benchmark}}.parquet",
    log:
        f"logs/{PLAN.profile}/select_items/{{benchmark}}.log",
    params:
        code=CODE["select_items"],
        n_items=n_items,
        seed=config["seed"],
    script:
        "../scripts/select_items.py"
