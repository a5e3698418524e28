"""best_of_n: the Best-of-N table (CSV), with a lineage sidecar (the figure: best_of_n_plot)."""
import sys; sys.path.insert(0, snakemake.scriptdir)  # noqa: E702,F821
from _log import to_log; to_log(snakemake)  # noqa: E402,E702,F821

import polars as pl  # noqa: E402

from goodbadgreedy.io import write_csv  # noqa: E402
from goodbadgreedy.lineage import write_lineage  # noqa: E402
from goodbadgreedy.scoring.best_of_n_table import best_of_n_table  # noqa: E402

sm = snakemake  # noqa: F821
scores = pl.concat([pl.read_parquet(p) for p in sm.input.scores])
checks = pl.concat([pl.read_parquet(p) for p in sm.input.checks])
table = best_of_n_table(scores, checks)
write_csv(table, sm.output[0])
write_lineage(sm.output[0], stage=sm.rule, inputs=sm.input, params=sm.params)
