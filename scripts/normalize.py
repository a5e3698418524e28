"""normalize: verify vendored raw files, normalize one benchmark to a validated parquet table."""

from goodbadgreedy.stage_log import to_log


def main(sm) -> None:
    from pathlib import Path

    from goodbadgreedy.data import normalize
    from goodbadgreedy.lineage import publish_table

    df = normalize(sm.wildcards.benchmark, Path(sm.input.sums).parent, sm.input.sums, sm.params.options)
    publish_table(df, sm.output[0], kind="benchmark", stage=sm.rule, inputs=[*sm.input.raw, sm.input.sums],
                  params=sm.params, wildcards=sm.wildcards)


to_log(snakemake)  # before main's imports, so that their errors land in the job's log
main(snakemake)
