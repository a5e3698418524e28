"""sweep_table: every sweep point's score by parameter value, model family and model."""
from goodbadgreedy.stage_log import to_log; to_log(snakemake)  # noqa: E702,F821

import polars as pl  # noqa: E402

from goodbadgreedy.analysis.sweep import sweep_table  # noqa: E402
from goodbadgreedy.io import write_csv  # noqa: E402
from goodbadgreedy.lineage import write_lineage  # noqa: E402

sm = snakemake  # noqa: F821
table = sweep_table(pl.read_csv(sm.input.intervals), {p: dict(v) for p, v in sm.params.sweeps.items()},
                    greedy=sm.params.table1_configs[0], families={f: list(m) for f, m in sm.params.families.items()})
write_csv(table, sm.output[0])
write_lineage(sm.output[0], stage=sm.rule, inputs=sm.input, params=sm.params, wildcards=sm.wildcards)
