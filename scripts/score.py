"""score: one scorer's score for every sample of one generation table."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from goodbadgreedy.lineage import publish_table
    from goodbadgreedy.reranking import MODEL_SCORER_TYPES, ScoringInputs, build_scorer, score_table, scorer_type
    from goodbadgreedy.tables import read_table

    if scorer_type(sm.wildcards.scorer, sm.params.scorer) in MODEL_SCORER_TYPES:  # the others need no torch
        import torch

        torch.set_num_threads(sm.threads)
    generations = read_table(sm.input.generations, "generation")
    scorer = build_scorer(sm.wildcards.scorer, dict(sm.params.scorer), benchmark=sm.wildcards.benchmark,
                          policy_manifest=sm.input.model, runtime=sm.params.runtime)
    inputs = ScoringInputs(generations, checks=read_table(sm.input.checks, "check"),
                           items=read_table(sm.input.subset, "benchmark"), options=dict(sm.params.options))
    df = score_table(scorer, sm.wildcards.scorer, inputs)
    publish_table(df, sm.output[0], kind="scores", stage=sm.rule, inputs=sm.input, params=sm.params,
                  wildcards=sm.wildcards, expected_rows=generations.height, extra=scorer.describe())


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
