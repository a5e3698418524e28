"""prepare_model: locate/convert the model and write its manifest (path + weights sha256)."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from pathlib import Path

    import torch

    from goodbadgreedy.generation.model import prepare_model
    from goodbadgreedy.lineage import write_lineage

    torch.set_num_threads(sm.threads)  # a torch job must not oversubscribe the cores Snakemake gave it
    prepared = prepare_model(sm.wildcards.model, sm.params.spec, Path(sm.output[0]).parent)
    write_lineage(sm.output[0], stage=sm.rule, inputs=[], params=sm.params, wildcards=sm.wildcards,
                  extra={"model_sha256": prepared.source_sha256, "model_source": prepared.source})


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
