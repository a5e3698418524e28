"""check: score every sample of one generation table."""
import sys; sys.path.insert(0, snakemake.scriptdir)  # noqa: E702,F821
from _log import to_log; to_log(snakemake)  # noqa: E402,E702,F821

import polars as pl  # noqa: E402

from goodbadgreedy import benchmarks  # noqa: E402
from goodbadgreedy.lineage import publish_table  # noqa: E402

sm = snakemake  # noqa: F821
generations = pl.read_parquet(sm.input.generations)
df = benchmarks.get(sm.wildcards.benchmark).check(pl.read_parquet(sm.input.subset), generations, dict(sm.params.options))
publish_table(df, sm.output[0], kind="check", stage=sm.rule, inputs=sm.input, params=sm.params,
              wildcards=sm.wildcards, expected_rows=generations.height)
