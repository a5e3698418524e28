"""download: verify vendored raw files, normalize one benchmark to a validated parquet table."""
from goodbadgreedy.stage_log import to_log; to_log(snakemake)  # noqa: E702,F821

from pathlib import Path  # noqa: E402

from goodbadgreedy.data import download  # noqa: E402
from goodbadgreedy.lineage import publish_table  # noqa: E402

sm = snakemake  # noqa: F821
df = download(sm.wildcards.benchmark, Path(sm.input.sums).parent, sm.input.sums, sm.params.options)
publish_table(df, sm.output[0], kind="benchmark", stage=sm.rule, inputs=[*sm.input.raw, sm.input.sums],
              params=sm.params, wildcards=sm.wildcards)
