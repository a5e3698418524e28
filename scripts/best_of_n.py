"""best_of_n: the Best-of-N table (CSV), with a lineage sidecar (the figure: best_of_n_plot)."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from goodbadgreedy.io import write_csv
    from goodbadgreedy.lineage import write_lineage
    from goodbadgreedy.reranking.best_of_n_table import best_of_n_table
    from goodbadgreedy.tables import read_tables

    scores = read_tables(sm.input.scores, "scores")
    checks = read_tables(sm.input.checks, "check")
    write_csv(best_of_n_table(scores, checks), sm.output[0])
    write_lineage(sm.output[0], stage=sm.rule, inputs=sm.input, params=sm.params)


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
