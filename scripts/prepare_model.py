"""prepare_model: locate/convert the model and write its manifest (path + weights sha256)."""
from goodbadgreedy.stage_log import to_log; to_log(snakemake)  # noqa: E702,F821

from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from goodbadgreedy.generation.model import prepare_model  # noqa: E402
from goodbadgreedy.lineage import write_lineage  # noqa: E402

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)  # a torch job must not oversubscribe the cores Snakemake gave it
prepared = prepare_model(sm.wildcards.model, sm.params.spec, Path(sm.output[0]).parent)
write_lineage(sm.output[0], stage=sm.rule, inputs=[], params=sm.params, wildcards=sm.wildcards,
              extra={"model_sha256": prepared.source_sha256, "model_source": prepared.source})
