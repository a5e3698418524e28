"""generate / generate_shard: one row per (item, sample) for one model x benchmark x decoding config,
or, for generate_shard (``generation.shards`` > 1), for one contiguous item range of it."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    import polars as pl
    import torch

    from goodbadgreedy import tables
    from goodbadgreedy.generation.backends import build_backend
    from goodbadgreedy.generation.model import read_manifest
    from goodbadgreedy.generation.run import generate_table, shard_range
    from goodbadgreedy.io import write_parquet
    from goodbadgreedy.lineage import publish_table, write_lineage

    torch.set_num_threads(sm.threads)
    manifest = read_manifest(sm.input.model)
    backend = build_backend(sm.params.runtime, manifest, batch_size=sm.params.generation["batch_size"],
                            threads=sm.threads)
    items = tables.read_table(sm.input.subset, "benchmark")
    shard = getattr(sm.wildcards, "shard", None)
    extra = {}
    if shard is not None:
        shard, shards = int(shard), sm.params.shards
        start, stop = shard_range(items.height, shard, shards)
        items = items.slice(start, stop - start)
        extra = {"cache_part": f"{shard}-of-{shards}"}
    if items.height or shard is None:
        df = generate_table(
            items,
            benchmark=sm.wildcards.benchmark,
            options=sm.params.options,
            model_name=sm.wildcards.model,
            backend=backend,
            config_name=sm.wildcards.cfg,
            decoding=sm.params.decoding,
            n_samples=sm.params.n_samples,
            max_new_tokens=sm.params.max_new_tokens,
            seed=sm.params.seed,
            cache_dir=sm.params.generation["cache_dir"],
            **extra,
        )
    else:  # more shards than items: an empty shard
        df = pl.DataFrame(schema=tables.GENERATION_SCHEMA)
    if shard is None:
        publish_table(df, sm.output[0], kind="generation", stage=sm.rule, inputs=sm.input, params=sm.params,
                      wildcards=sm.wildcards, expected_rows=items.height * sm.params.n_samples,
                      extra={"model_sha256": manifest.source_sha256, "model_source": manifest.source,
                             "backend": backend.cache_identity()})
    else:  # the merged table is validated (merge_generations); a shard is an intermediate file
        write_parquet(df, sm.output[0])
        write_lineage(sm.output[0], stage=sm.rule, inputs=sm.input, params=sm.params, wildcards=sm.wildcards,
                      extra={"rows": df.height, "item_range": [start, stop], "model_sha256": manifest.source_sha256,
                             "backend": backend.cache_identity()})


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
