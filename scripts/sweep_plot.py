"""sweep_plot: score against one swept decoding parameter."""
from goodbadgreedy.stage_log import to_log; to_log(snakemake)  # noqa: E702,F821

import polars as pl  # noqa: E402

from goodbadgreedy.lineage import write_lineage  # noqa: E402
from goodbadgreedy.plots import sweep_plot  # noqa: E402

sm = snakemake  # noqa: F821
sweep_plot(pl.read_csv(sm.input.intervals), sm.wildcards.param, dict(sm.params.sweep), sm.output[0],
           greedy=sm.params.table1_configs[0], families={f: list(m) for f, m in sm.params.families.items()})
write_lineage(sm.output[0], stage=sm.rule, inputs=sm.input, params=sm.params, wildcards=sm.wildcards)
