"""Send a Snakemake script's stderr and logging to the job's log file.

Every ``scripts/*.py`` run by a rule's ``script:`` directive calls :func:`to_log` first and keeps
its own imports inside its ``main`` function, called after it: a failing import (polars, torch,
the library) then lands in the job's log (``logs/...``) like any other error of the job. This
module imports only the standard library, so importing it cannot fail that way itself.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any


def to_log(snakemake: Any) -> None:
    """Redirect stderr (tracebacks, progress bars) and INFO logging to ``snakemake.log[0]``.

    Args:
        snakemake: the ``snakemake`` object Snakemake hands a script (``log``: the rule's log
            files). A rule without a log keeps stderr as it is; logging goes there either way.

    Also sets ``TRANSFORMERS_VERBOSITY=error`` unless set, and great_expectations' logger to
    WARNING (its INFO lines drown the log).
    """
    if snakemake.log:
        os.makedirs(os.path.dirname(snakemake.log[0]) or ".", exist_ok=True)
        sys.stderr = open(snakemake.log[0], "w", buffering=1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, force=True,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # its INFO lines drown the log
