"""stats: every statistics table of goodbadgreedy.analysis as a CSV, each with a lineage sidecar."""
from goodbadgreedy.stage_log import to_log; to_log(snakemake)  # noqa: E702,F821

import polars as pl  # noqa: E402

from goodbadgreedy.analysis.options import StatsOptions  # noqa: E402
from goodbadgreedy.analysis.stats_tables import stats_tables  # noqa: E402
from goodbadgreedy.io import write_csv  # noqa: E402
from goodbadgreedy.lineage import write_lineage  # noqa: E402

sm = snakemake  # noqa: F821
checks = pl.concat([pl.read_parquet(p) for p in sm.input.checks])
generations = pl.concat([
    pl.read_parquet(p, columns=["model", "benchmark", "config", "item_id", "sample_idx", "response_tokens", "finish_reason"])
    for p in sm.input.generations
])
opts = StatsOptions.from_params(sm.params.stats, sm.params.seed)
tables = stats_tables(checks, generations, sm.params.decoding, sm.params.table1_configs[0], opts)
for name, df in tables.items():
    write_csv(df, sm.output[name])
    write_lineage(sm.output[name], stage=sm.rule, inputs=sm.input, params=sm.params, extra={"rows": df.height})
