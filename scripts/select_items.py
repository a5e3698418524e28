"""select_items: the profile's seeded subset of a benchmark's items."""
from goodbadgreedy.stage_log import to_log; to_log(snakemake)  # noqa: E702,F821

import polars as pl  # noqa: E402

from goodbadgreedy.data import select_items  # noqa: E402
from goodbadgreedy.lineage import publish_table  # noqa: E402

sm = snakemake  # noqa: F821
df = select_items(pl.read_parquet(sm.input[0]), sm.params.n_items, sm.params.seed)
publish_table(df, sm.output[0], kind="benchmark", stage=sm.rule, inputs=sm.input, params=sm.params,
              wildcards=sm.wildcards, expected_rows=sm.params.n_items)
