"""merge_generations: the shard tables of one model x benchmark x config -> its generation table."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from goodbadgreedy.generation.run import merge_generation_shards
    from goodbadgreedy.lineage import publish_table
    from goodbadgreedy.tables import read_table

    items = read_table(sm.input.subset, "benchmark")
    df = merge_generation_shards([read_table(p, "generation") for p in sm.input.shards], items, sm.params.n_samples)
    publish_table(df, sm.output[0], kind="generation", stage=sm.rule, inputs=sm.input, params=sm.params,
                  wildcards=sm.wildcards, expected_rows=items.height * sm.params.n_samples)


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
