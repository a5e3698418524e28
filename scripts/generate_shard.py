"""generate_shard: the generation rows of one item range (shard) of a model x benchmark x config."""
import sys; sys.path.insert(0, snakemake.scriptdir)  # noqa: E702,F821
from _log import to_log; to_log(snakemake)  # noqa: E402,E702,F821

import polars as pl  # noqa: E402
import torch  # noqa: E402

from goodbadgreedy import tables  # noqa: E402
from goodbadgreedy.generation.backends import build_backend  # noqa: E402
from goodbadgreedy.generation.model import read_manifest  # noqa: E402
from goodbadgreedy.generation.run import generate_table, shard_range  # noqa: E402
from goodbadgreedy.io import write_parquet  # noqa: E402
from goodbadgreedy.lineage import write_lineage  # noqa: E402

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
shard, shards = int(sm.wildcards.shard), sm.params.shards
items = pl.read_parquet(sm.input.subset)
start, stop = shard_range(items.height, shard, shards)
items = items.slice(start, stop - start)
manifest = read_manifest(sm.input.model)
backend = build_backend(sm.params.runtime, manifest, batch_size=sm.params.generation["batch_size"])
if items.height:
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
        cache_part=f"{shard}-of-{shards}",
    )
else:  # more shards than items: an empty shard
    df = pl.DataFrame(schema=tables.GENERATION_SCHEMA)
# the merged table is validated (merge_generations); a shard is an intermediate file
write_parquet(df, sm.output[0])
write_lineage(sm.output[0], stage=sm.rule, inputs=sm.input, params=sm.params, wildcards=sm.wildcards,
              extra={"rows": df.height, "item_range": [start, stop], "model_sha256": manifest.source_sha256,
                     "backend": backend.cache_identity()})
