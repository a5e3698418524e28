"""best_of_n: the Best-of-N table (CSV) and figure (PNG), each with a lineage sidecar."""

from goodbadgreedy.stage_log import to_log


def main(sm) -> None:
    import polars as pl

    from goodbadgreedy.io import write_csv
    from goodbadgreedy.lineage import write_lineage
    from goodbadgreedy.scoring.best_of_n_table import best_of_n_table, greedy_table
    from goodbadgreedy.scoring.plot import plot_best_of_n

    scores = pl.concat([pl.read_parquet(p) for p in sm.input.scores])
    checks = pl.concat([pl.read_parquet(p) for p in sm.input.checks])
    table = best_of_n_table(scores, checks)
    write_csv(table, sm.output.table)
    plot_best_of_n(table, greedy_table(checks, list(sm.params.greedy_configs)), sm.output.plot)
    for out in (sm.output.table, sm.output.plot):
        write_lineage(out, stage=sm.rule, inputs=sm.input, params=sm.params)


to_log(snakemake)  # before main's imports, so that their errors land in the job's log
main(snakemake)
