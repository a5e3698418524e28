"""stats: every statistics table of goodbadgreedy.analysis as a CSV, each with a lineage sidecar."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from goodbadgreedy.analysis.options import StatsOptions
    from goodbadgreedy.analysis.stats_tables import stats_tables
    from goodbadgreedy.io import write_csv
    from goodbadgreedy.lineage import write_lineage
    from goodbadgreedy.tables import read_tables

    checks = read_tables(sm.input.checks, "check")
    columns = ["model", "benchmark", "config", "item_id", "sample_idx", "response_tokens", "finish_reason"]
    generations = read_tables(sm.input.generations, "generation", columns)
    opts = StatsOptions.from_params(sm.params.stats, sm.params.seed)
    tables = stats_tables(checks, generations, sm.params.decoding, sm.params.table1_configs[0], opts)
    for name, df in tables.items():
        write_csv(df, sm.output[name])
        write_lineage(sm.output[name], stage=sm.rule, inputs=sm.input, params=sm.params, extra={"rows": df.height})


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
