"""merge_generations: the shard tables of one model x benchmark x config -> its generation table."""

from goodbadgreedy.stage_log import to_log


def main(sm) -> None:
    from goodbadgreedy.generation.run import merge_generation_shards
    from goodbadgreedy.lineage import publish_table
    from goodbadgreedy.tables import read_table

    items = read_table(sm.input.subset, "benchmark")
    df = merge_generation_shards([read_table(p, "generation") for p in sm.input.shards], items, sm.params.n_samples)
    publish_table(df, sm.output[0], kind="generation", stage=sm.rule, inputs=sm.input, params=sm.params,
                  wildcards=sm.wildcards, expected_rows=items.height * sm.params.n_samples)


to_log(snakemake)  # before main's imports, so that their errors land in the job's log
main(snakemake)
