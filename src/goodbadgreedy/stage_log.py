"""Send a Snakemake script's stderr and logging to its job's log file (called first by each scripts/*.py)."""

import logging
import os
import sys


def to_log(snakemake) -> None:
    """Redirect stderr (tracebacks, progress bars) and INFO logging to ``snakemake.log[0]``."""
    if snakemake.log:
        os.makedirs(os.path.dirname(snakemake.log[0]) or ".", exist_ok=True)
        sys.stderr = open(snakemake.log[0], "w", buffering=1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # its INFO lines drown the log
