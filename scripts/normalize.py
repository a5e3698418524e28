"""normalize: verify vendored raw files, normalize one benchmark to a validated parquet table."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from pathlib import Path

    from goodbadgreedy.data import normalize
    from goodbadgreedy.lineage import publish_table

    df = normalize(sm.wildcards.benchmark, Path(sm.input.sums).parent, sm.input.sums, sm.params.options)
    publish_table(df, sm.output[0], kind="benchmark", stage=sm.rule, inputs=[*sm.input.raw, sm.input.sums],
                  params=sm.params, wildcards=sm.wildcards)


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
