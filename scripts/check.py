"""check: score every sample of one generation table."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from goodbadgreedy import benchmarks
    from goodbadgreedy.lineage import publish_table
    from goodbadgreedy.tables import read_table

    generations = read_table(sm.input.generations, "generation")
    items = read_table(sm.input.subset, "benchmark")
    module = benchmarks.get(sm.wildcards.benchmark)
    # judge-based benchmarks get the run's judge: params.yaml's `judge` section with the active profile's
    # `judge` block over it (rules/common.smk judge_params; sm.params.judge is {} for the others)
    judge = {"judge": dict(sm.params.judge)} if benchmarks.uses_judge(sm.wildcards.benchmark) else {}
    df = module.check(items, generations, dict(sm.params.options), **judge)
    # judge counts (parse failures) and win rates go to the lineage sidecar
    extra = module.summary(df, items, generations) if hasattr(module, "summary") else None
    publish_table(df, sm.output[0], kind="check", stage=sm.rule, inputs=sm.input, params=sm.params,
                  wildcards=sm.wildcards, expected_rows=generations.height, extra=extra)


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
