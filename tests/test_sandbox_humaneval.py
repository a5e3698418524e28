"""Sandbox on HumanEval: every canonical solution passes, wrong ones fail, load does not matter."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from goodbadgreedy.execution import run_programs, sandbox

ROOT = Path(__file__).resolve().parents[1]
HUMANEVAL = ROOT / "data" / "raw" / "humaneval" / "HumanEval.jsonl.gz"
SANDBOX_UIDS = range(sandbox.UID_BASE, sandbox.UID_BASE + sandbox.UID_COUNT)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root (as in CI)")


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    with gzip.open(HUMANEVAL, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def program(problem: dict, completion: str) -> str:
    return (
        problem["prompt"] + completion + "\n\n" + problem["test"]
        + f"\ncheck({problem['entry_point']})\n"
    )


def test_all_canonical_solutions_pass(problems):
    assert len(problems) == 164
    verdicts = run_programs(
        [program(p, p["canonical_solution"]) for p in problems], timeout_s=10, workers=2
    )
    bad = {p["task_id"]: v for p, v in zip(problems, verdicts, strict=True) if v.status != "passed"}
    assert not bad, bad


def test_wrong_solutions_fail(problems):
    wrong = [
        program(problems[0], "    return True\n"),
        program(problems[2], "    return number\n"),  # truncate_number: identity
        program(problems[0], "    return 1/0\n"),
    ]
    statuses = [v.status for v in run_programs(wrong, timeout_s=5, workers=2)]
    assert statuses == ["failed", "failed", "error"]


HOG = "import time\nend = time.time() + 60\nwhile time.time() < end:\n    pass\n"


def _hog() -> subprocess.Popen:
    # A CPU hog that also dies on its own after 60 s, in case the test is killed.
    return subprocess.Popen(
        [sys.executable, "-c", HOG],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_same_verdicts_with_both_cores_loaded(problems):
    """CPU-time limits make verdicts independent of machine load."""
    heavy = "x = 0\nfor i in range(2_000_000):\n    x += i\n"  # ~0.1-0.3 CPU s, passes
    batch = [program(p, p["canonical_solution"]) for p in problems[:40]] + [
        program(problems[0], "    return False\n"),
        "while True:\n    pass\n",
        heavy,
        "import time\ntime.sleep(1000)\n",
        "x = bytearray(50 * 1024**3)\n",
    ]
    idle = run_programs(batch, timeout_s=1, workers=2)
    hogs = [_hog() for _ in range(os.cpu_count() or 2)]
    try:
        time.sleep(0.2)
        assert all(h.poll() is None for h in hogs)
        busy = run_programs(batch, timeout_s=1, workers=2)
        assert all(h.poll() is None for h in hogs)  # the load lasted the whole run
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert [v.status for v in busy] == [v.status for v in idle]
    assert [v.status for v in idle[-5:]] == ["failed", "timeout", "passed", "timeout", "oom"]
    assert idle[-4].cpu_s >= 0.9 and busy[-4].cpu_s >= 0.9  # the CPU limit, not the wall clock
    assert busy[-3].cpu_s < 0.8, busy[-3]
