# goodbadgreedy: greedy vs sampling, Best-of-N and rank flips under decoding non-determinism.
# This file only wires: parameters come from params.yaml, logic from src/goodbadgreedy.
from snakemake.utils import min_version

min_version("9.0")

from goodbadgreedy.params_file import read_yaml_mapping

# A YAML syntax error in params.yaml stops here, naming its line and column.
read_yaml_mapping("params.yaml")


configfile: "params.yaml"


include: "rules/common.smk"


rule all:
    input:
        final_outputs(),


include: "rules/normalize.smk"
include: "rules/model.smk"
include: "rules/select_items.smk"
include: "rules/generate.smk"
include: "rules/check.smk"
include: "rules/score.smk"
include: "rules/aggregate.smk"
include: "rules/report.smk"
include: "rules/stages.smk"


# An output DVC put back (checkout, exp apply, pull) without Snakemake's record of it is checked
# against its lineage sidecar: stale ones stop the run here, named (goodbadgreedy.provenance).
check_restored_outputs()


# Everything parsed so far lives until Snakemake exits: keep the garbage collector from walking it
# again and again while the DAG is built (gc.freeze, the CPython idiom for long-lived start-up
# objects; ~0.9 s of a no-op dry run on the full matrix, perf/dryrun.py).
import gc

gc.freeze()
