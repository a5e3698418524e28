"""plots: Table-1 bars with error bars and pass@k curves, from the stats tables."""
from goodbadgreedy.stage_log import to_log; to_log(snakemake)  # noqa: E702,F821

import polars as pl  # noqa: E402

from goodbadgreedy.lineage import write_lineage  # noqa: E402
from goodbadgreedy.plots import pass_at_k_plot, table1_plot  # noqa: E402

sm = snakemake  # noqa: F821
greedy, sample = sm.params.table1_configs
table1_plot(pl.read_csv(sm.input.intervals), greedy, sample, sm.output.table1)
pass_at_k_plot(pl.read_csv(sm.input.passk, infer_schema_length=None), sm.output.pass_at_k)
for out in (sm.output.table1, sm.output.pass_at_k):
    write_lineage(out, stage=sm.rule, inputs=sm.input, params=sm.params)
