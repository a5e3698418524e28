"""best_of_n_plot: the Best-of-N figure (PNG) from the Best-of-N table, with the greedy line."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from goodbadgreedy.lineage import write_lineage
    from goodbadgreedy.reranking.best_of_n_table import greedy_table, read_best_of_n
    from goodbadgreedy.reranking.plot import plot_best_of_n
    from goodbadgreedy.tables import read_tables

    checks = read_tables(sm.input.checks, "check")
    greedy = greedy_table(checks, list(sm.params.greedy_configs))
    plot_best_of_n(read_best_of_n(sm.input.table), greedy, sm.output[0])
    write_lineage(sm.output[0], stage=sm.rule, inputs=sm.input, params=sm.params)


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
