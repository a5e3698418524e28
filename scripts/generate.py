"""generate: one row per (item, sample) for one model x benchmark x decoding config."""
import sys; sys.path.insert(0, snakemake.scriptdir)  # noqa: E702,F821
from _log import to_log; to_log(snakemake)  # noqa: E402,E702,F821

import polars as pl  # noqa: E402
import torch  # noqa: E402

from goodbadgreedy.generation.backends import build_backend  # noqa: E402
from goodbadgreedy.generation.model import read_manifest  # noqa: E402
from goodbadgreedy.generation.run import generate_table  # noqa: E402
from goodbadgreedy.lineage import publish_table  # noqa: E402

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
manifest = read_manifest(sm.input.model)
backend = build_backend(sm.params.runtime, manifest, batch_size=sm.params.generation["batch_size"])
items = pl.read_parquet(sm.input.subset)
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
)
publish_table(df, sm.output[0], kind="generation", stage=sm.rule, inputs=sm.input, params=sm.params,
              wildcards=sm.wildcards, expected_rows=items.height * sm.params.n_samples,
              extra={"model_sha256": manifest.source_sha256, "model_source": manifest.source,
                     "backend": backend.cache_identity()})
