"""score: one scorer's score for every sample of one generation table."""
from goodbadgreedy.stage_log import to_log; to_log(snakemake)  # noqa: E702,F821

import polars as pl  # noqa: E402
import torch  # noqa: E402

from goodbadgreedy.lineage import publish_table  # noqa: E402
from goodbadgreedy.scoring import ScoringInputs, build_scorer, score_table  # noqa: E402

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
generations = pl.read_parquet(sm.input.generations)
scorer = build_scorer(sm.wildcards.scorer, dict(sm.params.scorer), benchmark=sm.wildcards.benchmark,
                      policy_manifest=sm.input.model, runtime=sm.params.runtime)
inputs = ScoringInputs(generations, checks=pl.read_parquet(sm.input.checks),
                       items=pl.read_parquet(sm.input.subset), options=dict(sm.params.options))
df = score_table(scorer, sm.wildcards.scorer, inputs)
publish_table(df, sm.output[0], kind="scores", stage=sm.rule, inputs=sm.input, params=sm.params,
              wildcards=sm.wildcards, expected_rows=generations.height, extra=scorer.describe())
