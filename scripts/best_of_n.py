"""best_of_n: the Best-of-N table (CSV) and figure (PNG), each with a lineage sidecar."""
from goodbadgreedy.stage_log import to_log; to_log(snakemake)  # noqa: E702,F821

import polars as pl  # noqa: E402

from goodbadgreedy.io import write_csv  # noqa: E402
from goodbadgreedy.lineage import write_lineage  # noqa: E402
from goodbadgreedy.scoring.best_of_n_table import best_of_n_table, greedy_table  # noqa: E402
from goodbadgreedy.scoring.plot import plot_best_of_n  # noqa: E402

sm = snakemake  # noqa: F821
scores = pl.concat([pl.read_parquet(p) for p in sm.input.scores])
checks = pl.concat([pl.read_parquet(p) for p in sm.input.checks])
table = best_of_n_table(scores, checks)
write_csv(table, sm.output.table)
plot_best_of_n(table, greedy_table(checks, list(sm.params.greedy_configs)), sm.output.plot)
for out in (sm.output.table, sm.output.plot):
    write_lineage(out, stage=sm.rule, inputs=sm.input, params=sm.params)
