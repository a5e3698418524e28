"""plots: Table-1 bars with error bars and pass@k curves, from the stats tables."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from goodbadgreedy.lineage import write_lineage
    from goodbadgreedy.plots import pass_at_k_plot, table1_plot
    from goodbadgreedy.tables import read_table

    greedy, sample = sm.params.table1_configs
    table1_plot(read_table(sm.input.intervals), greedy, sample, sm.output.table1)
    pass_at_k_plot(read_table(sm.input.passk, infer_schema_length=None), sm.output.pass_at_k)
    for out in (sm.output.table1, sm.output.pass_at_k):
        write_lineage(out, stage=sm.rule, inputs=sm.input, params=sm.params)


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
