"""best_of_n_plot: the Best-of-N figure (PNG) from the Best-of-N table, with the greedy line."""
import sys; sys.path.insert(0, snakemake.scriptdir)  # noqa: E702,F821
from _log import to_log; to_log(snakemake)  # noqa: E402,E702,F821

import polars as pl  # noqa: E402

from goodbadgreedy.lineage import write_lineage  # noqa: E402
from goodbadgreedy.scoring.best_of_n_table import greedy_table, read_best_of_n  # noqa: E402
from goodbadgreedy.scoring.plot import plot_best_of_n  # noqa: E402

sm = snakemake  # noqa: F821
checks = pl.concat([pl.read_parquet(p) for p in sm.input.checks])
plot_best_of_n(read_best_of_n(sm.input.table), greedy_table(checks, list(sm.params.greedy_configs)), sm.output[0])
write_lineage(sm.output[0], stage=sm.rule, inputs=sm.input, params=sm.params)
