"""Run a Snakemake script's ``main``: its stderr and logging to the job's log, no stray sidecars.

Every ``scripts/*.py`` run by a rule's ``script:`` directive keeps its imports inside its
``main(sm)`` function and ends with ``run(snakemake, main)``. :func:`run`:

1. sends stderr and logging to the job's log file first (:func:`to_log`), so that a failing import
   (polars, torch, the library) lands in the job's log (``logs/...``) like any other error;
2. at job start, removes the sidecars (``X.lineage.json``, ``X.validation.json``) of each declared
   output ``X`` that does not exist: Snakemake deletes the outputs of a job it (re)runs and of a
   failed job, never their sidecars, which a killed job (``kill -9``, a lost node) can leave
   behind;
3. runs ``main(snakemake)``; on any exception (also ``KeyboardInterrupt`` and ``SystemExit``)
   it removes the sidecars of every declared output, whether the output exists or not
   (Snakemake deletes the outputs of a failed job themselves), and re-raises: a failed job leaves
   no sidecar of an output that will not exist;
4. logs the job's cost (:func:`job_cost`): its start-up (seconds from the process start to
   ``main``: the interpreter, Snakemake's script preamble, this module), how long ``main`` ran,
   the seconds since the process start when it returned, and which of the heavy packages
   (:data:`HEAVY_MODULES`) the job imported. A job that needs no model imports no torch; a job
   that publishes no table imports no great_expectations (``tests/test_imports.py``).

This module imports only the standard library, so importing it cannot fail the way ``main``'s
imports can.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, Callable, Iterable

#: Suffixes of an artifact's sidecars (``goodbadgreedy.io.sidecar(X, kind)`` is ``X.<kind>.json``).
SIDECAR_SUFFIXES = (".lineage.json", ".validation.json")

#: Packages whose import costs a job a second or more on two cores (torch, transformers,
#: great_expectations) or a few tenths (the rest); :func:`job_cost` reports which a job imported.
HEAVY_MODULES = ("torch", "transformers", "vllm", "great_expectations", "scipy", "matplotlib", "pandas",
                 "numpy", "polars", "jinja2", "httpx2")

log = logging.getLogger(__name__)


def process_age() -> float | None:
    """Seconds since this process started, from Linux's ``/proc/self/stat`` (10 ms resolution).

    Returns:
        The age in seconds, or None where ``/proc`` or ``CLOCK_BOOTTIME`` is missing (not Linux).
    """
    try:
        with open("/proc/self/stat") as fh:
            stat = fh.read()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime: clock ticks after boot
        return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def heavy_imports() -> list[str]:
    """The :data:`HEAVY_MODULES` this process has imported, in that order."""
    return [name for name in HEAVY_MODULES if name in sys.modules]


def job_cost(startup: float | None, main_s: float, age: float | None) -> str:
    """The log line of a job's cost (clause 4 of the module's policy).

    Args:
        startup: seconds from the process start to ``main`` (None: unknown).
        main_s: seconds ``main`` ran.
        age: seconds from the process start to ``main``'s return (None: unknown).

    Returns:
        ``"job cost: start-up 0.41 s, main 2.90 s, 3.31 s since process start; imported:
        great_expectations, polars"`` (:data:`HEAVY_MODULES` order; ``?`` for an unknown time,
        ``none`` when no heavy package was imported).
    """
    def sec(x: float | None) -> str:
        return "?" if x is None else f"{x:.2f} s"

    return (f"job cost: start-up {sec(startup)}, main {sec(main_s)}, {sec(age)} since process start; "
            f"imported: {', '.join(heavy_imports()) or 'none'}")


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


def sidecars_of(outputs: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The sidecar paths of each output (whether they exist or not), in order."""
    return [f"{os.fspath(out)}{suffix}" for out in outputs for suffix in SIDECAR_SUFFIXES]


def remove_sidecars(outputs: Iterable[str | os.PathLike[str]], *, only_orphans: bool = False) -> list[str]:
    """Remove the sidecars of ``outputs``; with ``only_orphans``, only those of outputs that do not exist.

    Args:
        outputs: artifact paths.
        only_orphans: keep the sidecars of outputs that exist.

    Returns:
        The sidecar paths removed (missing ones are skipped silently).

    Raises:
        OSError: a sidecar exists but cannot be removed (e.g. no write permission on its folder).
    """
    removed = []
    for out in outputs:
        if only_orphans and os.path.lexists(out):
            continue
        for side in sidecars_of([out]):
            try:
                os.remove(side)
            except FileNotFoundError:
                continue
            removed.append(side)
    return removed


def run(snakemake: Any, main: Callable[[Any], None]) -> None:
    """Run a script's ``main(snakemake)`` by the module's policy (log, orphan sidecars, cleanup).

    Args:
        snakemake: the object Snakemake hands a script (``output``: the declared outputs; ``log``).
        main: the script's body, called with ``snakemake``.

    Raises:
        BaseException: whatever ``main`` raised, after the outputs' sidecars were removed.
    """
    startup = process_age()
    to_log(snakemake)  # first: the errors of main's imports land in the job's log
    outputs = [os.fspath(p) for p in snakemake.output]
    removed = remove_sidecars(outputs, only_orphans=True)
    if removed:
        log.info("removed %d sidecar(s) of missing outputs: %s", len(removed), ", ".join(removed))
    started = time.perf_counter()
    try:
        main(snakemake)
    except BaseException:
        try:
            removed = remove_sidecars(outputs)
        except OSError as exc:  # keep main's error the one that propagates
            log.error("could not remove the sidecars of the failed job's outputs: %s", exc)
        else:
            if removed:
                log.error("job failed: removed the sidecars of its outputs: %s", ", ".join(removed))
        raise
    finally:
        log.info(job_cost(startup, time.perf_counter() - started, process_age()))
