"""Start-up cost of the Snakemake process: three targeted fixes, applied from the Snakefile.

All three matter because every ``snakemake`` call pays them, a no-op ``snakemake -n`` included (target:
under 3 s on the full matrix, ``benchmarks/dryrun.py``).

**pandas.**
Snakemake's ``params`` rerun trigger (on by default) serializes every job's params to compare
them with the metadata of its last run. Whenever pandas is *installed* (great-expectations needs
it, so it always is here), Snakemake 9 picks a serializer that ``import pandas`` to test
``isinstance(value, pandas.DataFrame)`` (``snakemake/persistence/__init__.py``,
``PersistenceBase._serialize_param``). On a finished workflow that import alone costs ~0.8 s of a
~4.7 s no-op ``snakemake -n`` (``benchmarks/dryrun.py``), though none of our params is a pandas
object.

:func:`lazy_pandas_params_serializer` keeps the pandas-aware serializer but only once pandas has
been imported by someone: a pandas object cannot exist before its module is imported, so the
serialized params, and hence what re-runs, are the same as before; only the import is skipped.

**Signatures.** For every input or params function of every job, Snakemake asks for the function's
parameters (``snakemake.common.get_function_params``: ``inspect.signature`` each time, ~1,500
calls on the full matrix). :func:`input_function` records them once on the function, through
Snakemake's own ``overwrite_function_params`` (the way its ``subpath`` helper does).

**Garbage collection.** Once the Snakefile is parsed, the process holds ~100,000 objects the
collector tracks, from imports (Snakemake, SQLAlchemy, pydantic, ...) and the rules, and keeps
nearly all of them to the end. Building a DAG of hundreds of jobs allocates enough to trigger full collections, each of which
walks all of them again, and so does the interpreter's last collection at exit.
:func:`freeze_parsed_objects` moves them to the collector's permanent generation (``gc.freeze``,
the CPython idiom for long-lived start-up objects). Measured on the full matrix, median of 8
no-op dry runs: 3.55 s -> 2.68 s.
"""

from __future__ import annotations

import gc
import inspect
import sys
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def input_function(func: F) -> F:
    """Decorator for the rules' input and params functions: compute their signature once.

    Returns ``func`` itself, with its parameters recorded where Snakemake looks first
    (``snakemake.common.overwrite_function_params``); unchanged when this Snakemake has no such
    helper. What Snakemake passes the function (``wildcards``, and ``input``/``output``/... if the
    function names them) is decided from the same parameters as before.
    """
    try:
        from snakemake.common import overwrite_function_params
    except ImportError:
        return func
    overwrite_function_params(func, inspect.signature(func).parameters)
    return func


def lazy_pandas_params_serializer() -> bool:
    """Make Snakemake's params serializer import pandas only if pandas is already imported.

    Replaces the cached property ``PersistenceBase._serialize_param`` with one that returns
    ``_serialize_param_pandas`` when ``"pandas" in sys.modules`` and ``_serialize_param_builtin``
    otherwise, decided per call (so a pandas object made by an input function later is still
    hashed by value, exactly as Snakemake does).

    Returns:
        True when applied; False (nothing changed) when this Snakemake has no such attribute, e.g.
        a future version that fixed it or moved it: the patch never breaks a run, it only stops
        saving time.
    """
    try:
        from snakemake.persistence import PersistenceBase
    except ImportError:
        return False
    needed = ("_serialize_param", "_serialize_param_pandas", "_serialize_param_builtin")
    if not all(hasattr(PersistenceBase, name) for name in needed):
        return False
    if getattr(PersistenceBase, "_gbg_lazy_pandas", False):
        return True

    def _serialize_param(self) -> Callable[[Any], Any]:
        if "pandas" in sys.modules:
            return self._serialize_param_pandas
        return self._serialize_param_builtin

    PersistenceBase._serialize_param = property(_serialize_param)
    PersistenceBase._gbg_lazy_pandas = True
    return True


def freeze_parsed_objects() -> int:
    """Exempt every object alive now from the cyclic garbage collector; call once, after parsing.

    Objects still die when their reference count drops to zero, as before; only reference cycles
    among them are no longer collected, which for objects that live to the end of the process
    (modules, rules, config) changes nothing but the time collections take. Job scripts run in
    their own interpreters and are not affected.

    Returns:
        the number of objects frozen (``gc.get_freeze_count()``).
    """
    gc.freeze()
    return gc.get_freeze_count()


__all__ = ["freeze_parsed_objects", "input_function", "lazy_pandas_params_serializer"]
