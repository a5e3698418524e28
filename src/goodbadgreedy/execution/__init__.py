"""Sandboxed execution of untrusted, model-written programs (HumanEval).

``run_programs(programs, timeout_s=..., memory_mb=..., workers=..., progress=...)`` returns one
:class:`Verdict` per program (Python source, or a :class:`FunctionTest`: an untrusted program
and the trusted test of one of its functions, run apart); see
:mod:`goodbadgreedy.execution.sandbox` for what is enforced.
"""

from goodbadgreedy.execution.sandbox import (
    STATUSES,
    FunctionTest,
    SandboxError,
    Verdict,
    enforcement,
    run_programs,
)

__all__ = ["STATUSES", "FunctionTest", "SandboxError", "Verdict", "enforcement", "run_programs"]
