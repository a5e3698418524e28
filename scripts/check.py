"""check: score every sample of one generation table."""
from goodbadgreedy.stage_log import to_log; to_log(snakemake)  # noqa: E702,F821

import polars as pl  # noqa: E402

from goodbadgreedy import benchmarks  # noqa: E402
from goodbadgreedy.lineage import publish_table  # noqa: E402

sm = snakemake  # noqa: F821
generations = pl.read_parquet(sm.input.generations)
items = pl.read_parquet(sm.input.subset)
module = benchmarks.get(sm.wildcards.benchmark)
# judge-based benchmarks get params.yaml's `judge` section (sm.params.judge is {} for the others)
judge = {"judge": dict(sm.params.judge)} if benchmarks.uses_judge(sm.wildcards.benchmark) else {}
df = module.check(items, generations, dict(sm.params.options), **judge)
# judge counts (parse failures) and win rates go to the lineage sidecar
extra = module.summary(df, items, generations) if hasattr(module, "summary") else None
publish_table(df, sm.output[0], kind="check", stage=sm.rule, inputs=sm.input, params=sm.params,
              wildcards=sm.wildcards, expected_rows=generations.height, extra=extra)
