"""select_items: the profile's seeded subset of a benchmark's items."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from goodbadgreedy.data import select_items
    from goodbadgreedy.lineage import publish_table
    from goodbadgreedy.tables import read_table

    df = select_items(read_table(sm.input[0], "benchmark"), sm.params.n_items, sm.params.seed)
    publish_table(df, sm.output[0], kind="benchmark", stage=sm.rule, inputs=sm.input, params=sm.params,
                  wildcards=sm.wildcards, expected_rows=sm.params.n_items)


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
