"""sweep_table: every sweep point's score by parameter value, model family and model."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from goodbadgreedy.analysis.sweep import sweep_table
    from goodbadgreedy.io import write_csv
    from goodbadgreedy.lineage import write_lineage
    from goodbadgreedy.tables import read_table

    sweeps = {p: dict(v) for p, v in sm.params.sweeps.items()}
    families = {f: list(m) for f, m in sm.params.families.items()}
    table = sweep_table(read_table(sm.input.intervals), sweeps, greedy=sm.params.table1_configs[0], families=families)
    write_csv(table, sm.output[0])
    write_lineage(sm.output[0], stage=sm.rule, inputs=sm.input, params=sm.params, wildcards=sm.wildcards)


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
