"""aggregate: run scores and Table 1 (CSV + markdown), each with a lineage sidecar."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from goodbadgreedy.io import write_csv, write_json, write_text
    from goodbadgreedy.lineage import write_lineage
    from goodbadgreedy.stats.runs import run_scores
    from goodbadgreedy.table1 import metrics, table1, to_markdown
    from goodbadgreedy.tables import read_tables

    checks = read_tables(sm.input.checks, "check")
    columns = ["model", "benchmark", "config", "response_tokens"]
    generations = read_tables(sm.input.generations, "generation", columns)
    greedy, sample = sm.params.table1_configs
    t1 = table1(checks, generations, greedy, sample)
    write_csv(t1, sm.output.table1)
    write_text(to_markdown(t1, n_samples=sm.params.n_samples, profile=sm.params.profile), sm.output.markdown)
    write_csv(run_scores(checks), sm.output.runs)
    write_json(metrics(t1), sm.output.metrics)
    for out in (sm.output.table1, sm.output.markdown, sm.output.runs, sm.output.metrics):
        write_lineage(out, stage=sm.rule, inputs=sm.input, params=sm.params)


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
