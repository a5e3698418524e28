"""sweep_plot: score against one swept decoding parameter."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from goodbadgreedy.lineage import write_lineage
    from goodbadgreedy.plots import sweep_plot
    from goodbadgreedy.tables import read_table

    sweep_plot(read_table(sm.input.intervals), sm.wildcards.param, dict(sm.params.sweep), sm.output[0],
               greedy=sm.params.table1_configs[0], families={f: list(m) for f, m in sm.params.families.items()})
    write_lineage(sm.output[0], stage=sm.rule, inputs=sm.input, params=sm.params, wildcards=sm.wildcards)


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
