"""Sandboxed execution of untrusted, model-written programs (HumanEval).

``run_programs(programs, timeout_s=..., memory_mb=..., workers=..., progress=...)`` returns one
:class:`Verdict` per program; see :mod:`goodbadgreedy.execution.sandbox` for what is enforced.
"""

from goodbadgreedy.execution.sandbox import (
    STATUSES,
    SandboxError,
    Verdict,
    enforcement,
    run_programs,
)

__all__ = ["STATUSES", "SandboxError", "Verdict", "enforcement", "run_programs"]
