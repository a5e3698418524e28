"""Fork server of the sandbox: runs one untrusted program at a time, each in a fresh child.

This file is NOT imported by the package. :mod:`goodbadgreedy.execution.sandbox` starts it as a
script under the system interpreter (``/usr/bin/python3 -S -s -B -P``, fixed environment), as
root, one server per worker slot. It must only use the standard library and stay compatible
with that interpreter.

Protocol (on the server's stdin/stdout, which it moves away from fds 0/1 at start): every message
is a 4-byte big-endian length followed by UTF-8 JSON. The server first sends ``{"ready": ...}``
(or ``{"fatal": ...}``), then answers each request ``{"program", "cpu_s", "timeout_s",
"memory_mb", "wall_s", "wall_max_s", "nproc", "fsize_mb"}`` (plus ``"job"`` and
``"entry_point"`` for a function test) with a verdict ``{"status", "detail", "cpu_s", "wall_s",
"returncode", "stray"}``. EOF on stdin (or SIGTERM, the parent-death signal) ends the server
after killing and reaping what it started. A function test's test code never passes through
the server: the parent writes ``{"job", "setup", "test", "entry_point"}`` (same framing) on a
pipe that only the judge reads (``cfg["tests_fd"]``).

Per program (see sandbox.py for the table of what is enforced):

* the server (root, in private network, mount and IPC namespaces when permitted, with private
  tmpfs mounts on the world-writable directories and a minimal chroot tree, see
  ``Server._make_root``; it preloads HumanEval's usual imports and self-tests once) forks a child;
* the child starts a new session, points stdin at /dev/null and stdout+stderr at a capture file,
  keeps two fds 3 and 4, joins the slot's memory cgroup (where there is one), sets the rlimits,
  chroots, enters an empty work directory, drops to the slot's uid/gid (no supplementary
  groups, ``no_new_privs``) and scrubs the environment; the program's source is also in a
  read-only file outside that directory (``/program/program.py``, its ``__main__.__file__``,
  which ``multiprocessing``'s spawn start method re-imports);
* a *plain program* is then ``exec``'d as ``__main__`` (``_harness``; fd 3: nonce pipe, fd 4:
  result pipe) and passes if its code returns normally: after the fork the server writes a
  fresh random nonce into the nonce pipe; only the harness's own process (never one the program
  forked) reads it, once the code returned, and writes ``P`` + nonce on the result pipe. The
  nonce does not exist when the child is forked, so it is not in the program's memory image;
* a *function test*'s child is the *program process* (``_serve_candidate``; fd 3: calls in,
  fd 4: replies out): it ``exec``s the untrusted program and answers calls of its entry point.
  The test runs in the slot's *judge* (``_judge_loop``): one long-lived process started by the
  server under its own uid (slot uid + 64; the program's uid cannot signal, trace or read it),
  non-dumpable, in the same chroot and namespaces. The server hands it the program process's
  pipe ends (``SCM_RIGHTS``) with the job number; the judge reads that job's test from the
  parent, runs the setup and test code in a fresh namespace of its own pristine interpreter,
  calls ``check`` with a proxy of the entry point, and reports to the server on a socket the
  program has no access to. Arguments and return values cross the pipes as ``marshal`` data of
  built-in types only (exact types checked on arrival), so the test compares values, never
  objects the program defined. A judge that dies or hangs is replaced for the next job;
* an exception is reported at once (plain: ``E`` + JSON on the result pipe; function test: the
  judge's report), before a bounded traceback is printed, so the verdict does not depend on
  how long the reporting takes;
* the server waits (CPU limit enforced by the kernel; a wall-clock ceiling only for sleeping or
  starved programs), then kills every process of the slot's uid (``kill(-1)`` from a helper
  running as that uid), reaps them (the server is a child subreaper), wipes the scratch dirs
  and removes every SysV IPC object left in its private IPC namespace.
"""

import builtins
import collections
import ctypes
import fcntl
import gc
import io
import json
import linecache
import marshal
import os
import resource
import select
import shutil
import signal
import socket
import struct
import sys
import time
import traceback
import types

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
M_ARENA_MAX = -8  # mallopt
IPC_RMID = 0
#: SysV IPC objects of the server's private IPC namespace: (/proc/sysvipc file, remover).
SYSV_IPC = (("shm", lambda i: _libc.shmctl(i, IPC_RMID, None)),
            ("sem", lambda i: _libc.semctl(i, 0, IPC_RMID)),
            ("msg", lambda i: _libc.msgctl(i, IPC_RMID, None)))
#: World-writable directories on these machines: private tmpfs mounts inside the namespace.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
NONCE_FD, RESULT_FD = 3, 4
#: In the program process of a function test: calls come in on fd 3, replies go out on fd 4.
CALL_FD, REPLY_FD = 3, 4
NONCE_BYTES = 32  # hex characters
DETAIL_MAX = 2000
SETUP_FAILED = 120
#: Fixed per program, whatever the caller's limits, so that verdicts do not depend on them.
STACK_BYTES = 8 * 1024 * 1024
RECURSION_LIMIT = 1000
#: Traceback entries printed for an exception (first and last half); the rest are counted.
TB_KEEP = 30
#: Seconds the judge may take to report once the program process is gone (else replaced).
JUDGE_GRACE_S = 2.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: Imported once by the server so that children do not pay for them (HumanEval's usual imports
#: and its tests' ``math``, ``random``, ``copy``, ``string``).
PRELOAD = ("typing", "math", "collections", "re", "string", "hashlib", "copy", "itertools",
           "functools", "heapq", "bisect", "random")
#: Name of the slot uid in the sandbox's /etc/passwd and /etc/group (``sandbox<uid>`` if taken).
USER_NAME = "sandbox"
#: The program's source is also written to this file (in /program of the chroot), its
#: ``__main__.__file__``; tracebacks name it ``program.py``.
PROGRAM_FILE = "program.py"

_libc = ctypes.CDLL(None, use_errno=True)


# ----------------------------------------------------------------------------- protocol
class Channel:
    def __init__(self, fd_in, fd_out):
        self.fd_in, self.fd_out = fd_in, fd_out

    def send(self, obj):
        data = json.dumps(obj).encode()
        data = struct.pack(">I", len(data)) + data
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd_out, view):]

    def _read_exact(self, n):
        return _read_exact(self.fd_in, n)

    def recv(self):
        head = self._read_exact(4)
        if head is None:
            return None
        body = self._read_exact(struct.unpack(">I", head)[0])
        return None if body is None else json.loads(body)


# ----------------------------------------------------------------------------- helpers
def _prctl(option, arg):
    if _libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(%d) failed" % option)


def _mount(source, target, fstype, flags, data):
    if _libc.mount(source, target, fstype, ctypes.c_ulong(flags), data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "mount %s: %s" % (target.decode(), os.strerror(err)))


def _proc_cpu_s(pid):
    """CPU seconds (user+system, its reaped children included) of a live process, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def _children(pid):
    kids = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return kids
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids.extend(int(x) for x in f.read().split())
        except (OSError, ValueError):
            continue
    return kids


def _user_tasks(uid):
    """Processes+threads whose real uid is uid (what RLIMIT_NPROC counts)."""
    n = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/status" % name, "rb") as f:
                fields = dict(line.split(b":", 1) for line in f.read().splitlines() if b":" in line)
            if int(fields[b"Uid"].split()[0]) == uid:
                n += int(fields[b"Threads"])
        except (OSError, KeyError, ValueError):
            continue
    return n


def _rmtree_quiet(path):
    if not os.path.lexists(path):
        return
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)  # fd-based, never follows symlinks
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def _memcg_dir(uid):
    """Create the slot's memory cgroup (v1 or v2) below this process's own.

    Returns (path, "v1"/"v2"), or (None, the reason). Best effort: many containers do not
    delegate cgroups.
    """
    reasons = []
    try:
        with open("/proc/self/cgroup") as f:
            entries = [line.rstrip("\n").split(":", 2) for line in f if line.count(":") >= 2]
    except OSError as e:
        return None, "no /proc/self/cgroup (%s)" % e
    name = "goodbadgreedy-sandbox-%d" % uid
    for _, controllers, path in entries:  # cgroup v1: a memory hierarchy
        if "memory" in controllers.split(","):
            base = "/sys/fs/cgroup/memory" + path.rstrip("/")
            try:
                d = os.path.join(base, name)
                if not os.path.isdir(d):
                    os.mkdir(d)
                if os.path.exists(os.path.join(d, "memory.limit_in_bytes")):
                    return d, "v1"
                reasons.append("v1 group has no memory.limit_in_bytes")
            except OSError as e:
                reasons.append("v1: %s" % e)
    for hid, controllers, path in entries:  # cgroup v2 (unified), if memory is delegated here
        if hid == "0" and controllers == "":
            for mount in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
                base = mount + path.rstrip("/")
                try:
                    with open(os.path.join(base, "cgroup.subtree_control")) as f:
                        if "memory" not in f.read().split():
                            reasons.append("v2 at %s: memory not delegated" % base)
                            continue
                    d = os.path.join(base, name)
                    if not os.path.isdir(d):
                        os.mkdir(d)
                    if os.path.exists(os.path.join(d, "memory.max")):
                        return d, "v2"
                    reasons.append("v2 group has no memory.max")
                except OSError as e:
                    reasons.append("v2 at %s: %s" % (base, e))
    return None, "; ".join(reasons) or "no memory cgroup hierarchy"


# ----------------------------------------------------------------------------- server
class Server:
    def __init__(self, cfg, channel):
        self.cfg = cfg
        self.channel = channel
        self.uid = cfg["uid"]  # None: unprivileged mode, programs keep the server's uid
        self.privileged = self.uid is not None
        self.enforced = {}
        self.keep = set()
        self.memcg, self.memcg_kind, self.memcg_limit = None, None, None
        self.judge = None
        self.judge_uid = cfg.get("judge_uid")
        self.children_path = "/proc/%d/task/%d/children" % (os.getpid(), os.getpid())
        self.nproc_base = 0
        self.oom_fd = None
        self.ipc_private = False

    # -- setup
    def setup(self):
        if os.getppid() != self.cfg["parent_pid"]:
            raise RuntimeError("parent exited before the server started")
        # Parent gone: SIGTERM, whose handler raises SystemExit, so teardown() still kills and
        # reaps the programs (an orphan would be reparented to an init that may never reap it).
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != self.cfg["parent_pid"]:
            raise RuntimeError("parent exited before the server started")
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        # One malloc arena, inherited by every program: otherwise glibc reserves up to 8 * cores
        # arenas of 64 MiB of address space for threads, and RLIMIT_AS, not RLIMIT_NPROC, would
        # decide how many threads a program may start.
        _libc.mallopt(M_ARENA_MAX, 1)
        enf = self.enforced
        cpus = self.cfg.get("cpus")
        if cpus:
            try:
                os.sched_setaffinity(0, cpus)
                enf["cpus"] = "slot pinned to CPU(s) %s (inherited by its programs)" % (
                    ",".join(str(c) for c in cpus))
            except OSError as e:
                enf["cpus"] = "NOT pinned (%s)" % e
        else:
            enf["cpus"] = "NOT pinned (more slots than CPUs, or one slot)"
        private_tmp = False
        if self.privileged:
            if _libc.unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC) == 0:
                enf["network"] = "private network namespace (no interfaces up, loopback down)"
                self.ipc_private = True
                enf["ipc"] = ("private IPC namespace; every SysV shm segment, semaphore set and "
                              "message queue is removed after each program; POSIX message "
                              "queues cannot be created (RLIMIT_MSGQUEUE 0), POSIX shm is in "
                              "the wiped /dev/shm")
                try:
                    _mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)
                    opts = "size=%dm,nr_inodes=%d,mode=1777" % (self.cfg["tmpfs_mb"], 65536)
                    for d in SCRATCH_DIRS:
                        if os.path.isdir(d):
                            _mount(b"tmpfs", d.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                                   opts.encode())
                    private_tmp = True
                    enf["scratch"] = "private %d MiB tmpfs on %s" % (
                        self.cfg["tmpfs_mb"], ", ".join(SCRATCH_DIRS))
                except OSError as e:
                    enf["scratch"] = "NOT private (%s); slot-uid files there are deleted" % e
            else:
                err = ctypes.get_errno()
                enf["network"] = "NOT isolated (unshare: %s)" % os.strerror(err)
                enf["ipc"] = "NOT isolated"
                enf["scratch"] = "NOT private; slot-uid files there are deleted after each run"
            enf["user"] = "uid/gid %d, no supplementary groups, no_new_privs" % self.uid
            enf["processes"] = ("RLIMIT_NPROC for uid %d: at most %d processes+threads per "
                                "program, all of them" % (self.uid, self.cfg["nproc"]))
            enf["cleanup"] = "kill(-1, SIGKILL) as uid %d after each program; subreaper reaps" % (
                self.uid)
            enf["judge"] = ("function tests run in a long-lived judge process as uid %d (the "
                            "program's uid cannot signal, trace or read it), which receives "
                            "the tests from the parent, never through this server" % (
                                self.judge_uid))
            self.memcg, how = _memcg_dir(self.uid)
            if self.memcg is not None:
                self.memcg_kind = how
                enf["memory_total"] = ("cgroup %s %s: all processes of a program together "
                                       "(memory_mb + scratch tmpfs)" % (how, self.memcg))
            else:
                enf["memory_total"] = ("NOT bounded across processes (%s): each process has "
                                       "its own address-space limit" % how)
        else:
            enf["network"] = "NOT isolated (not root)"
            enf["ipc"] = "NOT isolated (not root)"
            enf["scratch"] = "NOT private (not root)"
            enf["user"] = "NOT dropped: programs run as the calling user (not root)"
            # RLIMIT_NPROC counts all of this user's tasks: allow NPROC more than it has now
            self.nproc_base = _user_tasks(os.getuid())
            enf["processes"] = ("NOT bounded per program: RLIMIT_NPROC counts all your processes "
                                "and threads (%d now, limit %d more)"
                                % (self.nproc_base, self.cfg["nproc"]))
            enf["cleanup"] = "the server's descendants (subreaper) killed after each program"
            enf["judge"] = ("function tests run in a separate non-dumpable judge process, NOT "
                            "under its own uid (not root): a program can kill it (and fail)")
            enf["memory_total"] = "NOT bounded across processes (not root)"
        if private_tmp:
            base = "/tmp/.gbg-sandbox"
            os.mkdir(base, 0o711)
        else:
            import tempfile

            base = tempfile.mkdtemp(prefix="gbg-sandbox-")
            os.chmod(base, 0o711)
        self.base = base
        self.private_tmp = private_tmp
        self.ctl = os.path.join(base, "ctl")
        os.mkdir(self.ctl, 0o700)
        self.work = os.path.join(base, "w")  # the program's cwd, as the server sees it
        self.child_root, self.child_cwd = None, self.work  # chroot (None: none) and cwd in it
        self.scratch = SCRATCH_DIRS
        self.keep = {base}
        self.cap_path = os.path.join(self.ctl, "output")
        # The program's source as a file (its __main__.__file__), outside its cwd, read-only
        # for it: multiprocessing's spawn and forkserver start methods re-import __main__ from it.
        self.prog_dir = os.path.join(base, "program")
        os.mkdir(self.prog_dir, 0o755)
        self.prog_path = os.path.join(self.prog_dir, PROGRAM_FILE)  # as the program sees it
        enf["passwd"] = "NOT provided (no chroot): the slot uid has no passwd entry"
        if private_tmp:
            try:
                self._make_root(os.path.join(base, "root"))
                enf["filesystem"] = ("chroot to a minimal tree: read-only /usr, /etc (and the "
                                     "/bin, /lib* links), /dev with null/zero/full/random/urandom "
                                     "only, /proc with hidepid=2, private tmpfs /tmp and /dev/shm, "
                                     "cwd /sandbox; the rest of the host is invisible")
            except OSError as e:
                enf["filesystem"] = "NOT hidden (%s): host files readable by any user are" % e + \
                    " readable; writes are limited to the work dir and the scratch dirs"
        else:
            enf["filesystem"] = "NOT hidden: host files readable by any user are readable"
        if self.privileged:
            self._kill_uid()  # stale processes of a crashed earlier run of this slot
            self._reap_all()
        for name in PRELOAD:
            try:
                __import__(name)
            except ImportError:
                pass
        # exit() and quit(): the builtins that ``site`` adds (the interpreter runs with -S), so
        # that programs (and the judge) calling them raise SystemExit as under plain Python.
        import site

        site.setquit()
        gc.collect()
        gc.freeze()  # children's collections skip the server's objects: fewer copy-on-write faults
        # Self-test: the dropped uid must be able to import the stdlib inside its view, and a
        # function test (job 0, whose test the parent sent to the judge) must pass end to end.
        limits = {"timeout_s": 10.0, "cpu_s": 10, "memory_mb": 512, "wall_s": 30.0,
                  "wall_max_s": 60.0, "nproc": self.cfg["nproc"], "fsize_mb": 1}
        for probe in ({"program": "import decimal, fractions, statistics, json\n", **limits},
                      {**self.cfg["self_test"], "job": 0, **limits}):
            verdict = self.run(probe)
            if verdict["status"] != "passed":
                raise RuntimeError("self-test program did not pass (%s): %s; the interpreter and "
                                   "its standard library must be readable by an unprivileged user"
                                   % (verdict["status"], verdict["detail"][:500]))

    def _make_root(self, root):
        """Build the tree each child chroots into (inside the server's mount namespace)."""
        ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
        tmpfs = ("size=%dm,nr_inodes=65536,mode=1777" % self.cfg["tmpfs_mb"]).encode()
        os.mkdir(root, 0o755)
        for name in sorted(os.listdir("/")):
            src, dst = "/" + name, os.path.join(root, name)
            if name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32") and os.path.islink(src):
                os.symlink(os.readlink(src), dst)  # merged /usr: /bin -> usr/bin
            elif name in ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32") and \
                    os.path.isdir(src):
                os.mkdir(dst, 0o755)
                _mount(src.encode(), dst.encode(), None, MS_BIND | MS_REC, None)
                _mount(b"none", dst.encode(), None, ro, None)
        if self.privileged:
            self._account_files(root, ro)
        dev = os.path.join(root, "dev")
        os.mkdir(dev, 0o755)
        _mount(b"tmpfs", dev.encode(), b"tmpfs", MS_NOSUID, b"size=64k,mode=755")
        for node in ("null", "zero", "full", "random", "urandom"):
            target = os.path.join(dev, node)
            open(target, "w").close()
            _mount(("/dev/" + node).encode(), target.encode(), None, MS_BIND, None)
        for name, dest in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                           ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
            os.symlink(dest, os.path.join(dev, name))
        shm = os.path.join(dev, "shm")
        os.mkdir(shm)
        _mount(b"tmpfs", shm.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, tmpfs)
        proc = os.path.join(root, "proc")
        os.mkdir(proc, 0o555)
        _mount(b"proc", proc.encode(), b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, b"hidepid=2")
        tmp = os.path.join(root, "tmp")
        os.mkdir(tmp)
        _mount(b"tmpfs", tmp.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, tmpfs)
        os.makedirs(os.path.join(root, "var"), 0o755)
        os.symlink("/tmp", os.path.join(root, "var", "tmp"))
        self.child_root, self.child_cwd = root, "/sandbox"
        self.prog_dir = os.path.join(root, "program")
        os.mkdir(self.prog_dir, 0o755)
        self.prog_path = "/program/" + PROGRAM_FILE
        self.work = os.path.join(root, "sandbox")
        self.scratch = (tmp, shm)

    def _account_files(self, root, ro):
        """/etc/passwd and /etc/group of the tree: the host's plus an entry for the slot uid.

        Generated files are bind-mounted (read-only) over the tree's copies inside the server's
        private mount namespace; the host's /etc is never written.
        """
        etc = os.path.join(root, "etc")
        names = set()
        for fname in ("passwd", "group"):
            try:
                with open("/etc/" + fname, encoding="utf-8", errors="surrogateescape") as f:
                    names.update(line.split(":", 1)[0] for line in f if ":" in line)
            except OSError:
                pass
        user = USER_NAME if USER_NAME not in names else "%s%d" % (USER_NAME, self.uid)
        lines = {
            "passwd": "%s:x:%d:%d:goodbadgreedy sandbox:%s:/usr/sbin/nologin\n"
                      % (user, self.uid, self.uid, "/sandbox"),
            "group": "%s:x:%d:\n" % (user, self.uid),
        }
        for fname, line in lines.items():
            target = os.path.join(etc, fname)
            try:
                with open("/etc/" + fname, encoding="utf-8", errors="surrogateescape") as f:
                    text = f.read()
            except OSError:
                text = ""
            if text and not text.endswith("\n"):
                text += "\n"
            src = os.path.join(self.base, "etc-" + fname)
            with open(src, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(text + line)
            os.chmod(src, 0o644)
            if not os.path.exists(target):
                continue  # a host without the file: nothing to mount over
            _mount(src.encode(), target.encode(), None, MS_BIND, None)
            _mount(b"none", target.encode(), None, ro, None)
        self.enforced["passwd"] = ("/etc/passwd and /etc/group of the chroot list uid %d as %r "
                                   "(bind-mounted in the private mount namespace; host /etc "
                                   "untouched)" % (self.uid, user))

    def teardown(self):
        self._kill_judge()
        if self.privileged:
            self._kill_uid()
        self._reap_all()
        self._clean_scratch()
        if not self.private_tmp:
            _rmtree_quiet(self.base)
        if self.oom_fd is not None:
            os.close(self.oom_fd)
            self.oom_fd = None
        if self.memcg is not None:
            for _ in range(50):  # empty once the last killed process is gone
                try:
                    os.rmdir(self.memcg)
                    break
                except OSError:
                    time.sleep(0.01)

    # -- memory cgroup
    def _memcg_limit(self, req):
        """Limit of the slot's memory cgroup for this request, in bytes (set when it changes)."""
        if self.memcg is None:
            return
        limit = (int(req["memory_mb"]) + 2 * int(self.cfg["tmpfs_mb"]) + 64) * 1024 * 1024
        if limit == self.memcg_limit:
            return
        name = "memory.limit_in_bytes" if self.memcg_kind == "v1" else "memory.max"
        with open(os.path.join(self.memcg, name), "w") as f:
            f.write(str(limit))
        if self.memcg_kind == "v2":
            try:
                with open(os.path.join(self.memcg, "memory.swap.max"), "w") as f:
                    f.write("0")
            except OSError:
                pass
        self.memcg_limit = limit

    def _memcg_ooms(self):
        """OOM kills the slot's cgroup has seen so far (None without a cgroup)."""
        if self.memcg is None:
            return None
        try:
            if self.oom_fd is None:
                name = "memory.oom_control" if self.memcg_kind == "v1" else "memory.events"
                self.oom_fd = os.open(os.path.join(self.memcg, name), os.O_RDONLY)
            for line in os.pread(self.oom_fd, 4096, 0).split(b"\n"):
                key, _, value = line.partition(b" ")
                if key == b"oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return None

    # -- one program
    def run(self, req):
        """Run one request (a plain program, or a function test when it has a ``job``)."""
        _rmtree_quiet(self.work)
        os.mkdir(self.work, 0o700)
        if self.privileged:
            os.chown(self.work, self.uid, self.uid)
        self._memcg_limit(req)
        ooms_before = self._memcg_ooms()
        cap_fd = os.open(self.cap_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        prog_file = os.path.join(self.prog_dir, PROGRAM_FILE)
        try:
            with open(prog_file, "w", encoding="utf-8", errors="surrogatepass") as f:
                f.write(req["program"])
            os.chmod(prog_file, 0o644)
            if req.get("job") is None:
                verdict = self._run_plain(req, cap_fd)
            else:
                verdict = self._run_function(req, cap_fd)
        finally:
            os.close(cap_fd)
            _rmtree_quiet(prog_file)
        self._clean_scratch()
        self._clean_ipc()
        ooms = self._memcg_ooms()
        if (verdict["status"] in ("killed", "error") and ooms is not None
                and ooms_before is not None and ooms > ooms_before):
            # the cgroup's OOM killer ended a process of this program: its memory, all processes
            # together, exceeded the slot's limit
            verdict["status"] = "oom"
            verdict["detail"] = _detail(
                "MemoryError: the program's processes together exceeded the memory limit of its "
                "cgroup (%d MiB)" % ((self.memcg_limit or 0) // (1024 * 1024)), "")
        return verdict

    def _run_plain(self, req, cap_fd):
        nonce_r, nonce_w = os.pipe()
        res_r, res_w = os.pipe()
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:  # child: never returns
            self._child(req, cap_fd, nonce_r, res_w)
        os.close(nonce_r)
        os.close(res_w)
        nonce = os.urandom(NONCE_BYTES // 2).hex().encode()
        try:
            os.write(nonce_w, nonce)
        except OSError:
            pass  # the program closed its end: it cannot pass anyway
        os.close(nonce_w)
        reason = self._wait(pid, t0, req)
        _, status, ru = os.wait4(pid, 0)
        wall_s = time.monotonic() - t0
        cpu_s = ru.ru_utime + ru.ru_stime
        data = _read_available(res_r)
        os.close(res_r)
        stray = self._cleanup()
        tail = self._tail(cap_fd)
        verdict = self._classify(req, status, cpu_s, wall_s, data, nonce, reason, tail)
        verdict["stray"] = stray
        return verdict

    def _run_function(self, req, cap_fd):
        """A function test: the program process here, the test in the judge (see _judge_main)."""
        judge = self._judge()
        call_r, call_w = os.pipe()
        reply_r, reply_w = os.pipe()
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the program process: never returns
            os.close(call_w)
            os.close(reply_r)
            self._child(req, cap_fd, call_r, reply_w)
        os.close(call_r)
        os.close(reply_w)
        report = None
        try:
            socket.send_fds(judge.sock, [json.dumps({"job": req["job"]}).encode()],
                            [call_w, reply_r])
            sent = True
        except OSError:
            sent = False  # the judge died: restarted for the next job; this one is an error
        os.close(call_w)
        os.close(reply_r)
        reason = None
        if sent:
            report, reason = self._wait_judge(pid, judge, t0, req)
        else:
            self._kill(pid)
        _, status, ru = os.wait4(pid, 0)
        wall_s = time.monotonic() - t0
        cpu_s = ru.ru_utime + ru.ru_stime + (report or {}).get("cpu_s", 0.0)
        stray = self._cleanup()
        tail = self._tail(cap_fd)
        if report is None and reason is None:  # the judge died (it is replaced)
            report = {"outcome": "exception", "kind": "error", "type": "SandboxJudgeError",
                      "msg": "the judge process ended without a report (see the server's "
                             "stderr)", "tb": ""}
        verdict = self._classify_function(req, status, cpu_s, wall_s, report, reason, tail)
        verdict["stray"] = stray
        return verdict

    def _wait_judge(self, pid, judge, t0, req):
        """Wait for the judge's report on this job, under the wall-clock ceiling.

        Returns (report or None, "wall" if the ceiling was reached). The program process is
        killed once the judge has reported (it is then only waiting for calls). A judge that does
        not report within a grace period after the program process is gone is killed, and a new
        one is started for the next job.
        """
        poller = select.poll()
        poller.register(judge.sock, select.POLLIN)
        deadline = t0 + req["wall_s"]
        hard = t0 + max(req["wall_max_s"], req["wall_s"])
        last_t, last_cpu = t0, 0.0
        reason = None
        while True:
            now = time.monotonic()
            if poller.poll(max(0.0, deadline - now) * 1000.0 + 1):
                report = self._judge_report(judge)
                self._kill(pid)
                return report, reason
            now = time.monotonic()
            if now < deadline:
                continue
            cpu = _proc_cpu_s(pid)  # the program process decides, as for a plain program
            if (reason is None and cpu is not None and now < hard
                    and cpu - last_cpu >= 0.2 * (now - last_t)):
                last_t, last_cpu = now, cpu
                deadline = min(hard, now + 1.0)
                continue
            if reason is None:
                # The ceiling: stop the program; the judge then sees its pipe close and reports.
                reason = "wall"
                self._kill(pid)
                deadline = time.monotonic() + JUDGE_GRACE_S
                continue
            self._kill_judge()  # stuck in the test's own code: replaced for the next job
            return None, reason

    def _judge_report(self, judge):
        try:
            data = judge.sock.recv(1 << 20)
        except OSError:
            data = b""
        if not data:
            self._kill_judge()
            return None
        try:
            report = json.loads(data)
        except ValueError:
            self._kill_judge()
            return None
        if report.get("job") == "mismatch":
            raise RuntimeError("sandbox judge out of step with the parent: %r" % (report,))
        return report

    def _kill(self, pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _wait(self, pid, t0, req):
        """Wait for the child; return "wall" if it was killed at the wall-clock ceiling."""
        pidfd = os.pidfd_open(pid)
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            deadline = t0 + req["wall_s"]
            hard = t0 + max(req["wall_max_s"], req["wall_s"])
            last_t, last_cpu = t0, 0.0
            while True:
                now = time.monotonic()
                if poller.poll(max(0.0, deadline - now) * 1000.0 + 1):
                    return None
                now = time.monotonic()
                if now < deadline:
                    continue
                cpu = _proc_cpu_s(pid)
                # Still burning CPU (only starved by a busy machine): the kernel's CPU limit will
                # end it; keep waiting up to the hard ceiling so the verdict does not depend on
                # load. Mostly sleeping: it is a sleeper, stop it now. Only the program's own
                # process counts: one starved by its own fork bomb or threads is not "starved by
                # a busy machine".
                if cpu is not None and now < hard and cpu - last_cpu >= 0.2 * (now - last_t):
                    last_t, last_cpu = now, cpu
                    deadline = min(hard, now + 1.0)
                    continue
                self._kill(pid)
                return "wall"
        finally:
            os.close(pidfd)

    # -- the judge: one long-lived test process per slot
    def _judge(self):
        """The running judge, started (again) if needed."""
        j = self.judge
        if j is not None:
            try:
                pid, _ = os.waitpid(j.pid, os.WNOHANG)
            except ChildProcessError:
                pid = j.pid
            if pid == 0:
                return j
            self._forget_judge()
        parent_sock, judge_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                parent_sock.close()
                self._judge_main(judge_sock)
            finally:
                os._exit(SETUP_FAILED)
        judge_sock.close()
        self.judge = Judge(pid, parent_sock)
        return self.judge

    def _forget_judge(self):
        j, self.judge = self.judge, None
        if j is not None:
            j.sock.close()

    def _kill_judge(self):
        j = self.judge
        if j is None:
            return
        self._kill(j.pid)
        try:
            os.waitpid(j.pid, 0)
        except ChildProcessError:
            pass
        self._forget_judge()

    def _judge_main(self, sock):
        """The judge process (never returns): its own uid, chroot, limits; no way back to root."""
        tests_fd = self.cfg["tests_fd"]
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.setsid()
            null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)  # 2 stays the server's stderr: a judge crash is reported there
            keep = {0, 1, 2, sock.fileno(), tests_fd}
            for fd in range(3, 1024):
                if fd not in keep:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            rl = resource.setrlimit
            mem = int(self.cfg["judge_mb"]) * 1024 * 1024
            rl(resource.RLIMIT_AS, (mem, mem))
            rl(resource.RLIMIT_FSIZE, (0, 0))
            rl(resource.RLIMIT_CORE, (0, 0))
            rl(resource.RLIMIT_NOFILE, (64, 64))
            rl(resource.RLIMIT_MSGQUEUE, (0, 0))
            rl(resource.RLIMIT_STACK, (STACK_BYTES, STACK_BYTES))
            if self.privileged:
                rl(resource.RLIMIT_NPROC, (1, 1))  # the judge itself: it never forks
            sys.setrecursionlimit(RECURSION_LIMIT)
            if self.child_root is not None:
                os.chroot(self.child_root)
            os.chdir("/")
            if self.privileged:
                _prctl(PR_SET_NO_NEW_PRIVS, 1)
                os.setgroups([])
                os.setresgid(self.judge_uid, self.judge_uid, self.judge_uid)
                os.setresuid(self.judge_uid, self.judge_uid, self.judge_uid)
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            _prctl(PR_SET_DUMPABLE, 0)  # not traceable, /proc/<pid> private to root
            if os.getppid() != self.server_pid:
                os._exit(SETUP_FAILED)
            os.environ.clear()
            os.environ.update({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
            sys.argv[:] = ["judge"]
        except BaseException:
            traceback.print_exc()
            os._exit(SETUP_FAILED)
        _judge_loop(sock, tests_fd)

    # -- cleanup
    def _kill_uid(self):
        """SIGKILL every process of the slot uid, from a helper that runs as that uid."""
        helper = os.fork()
        if helper == 0:
            try:
                os.setgroups([])
                os.setresgid(self.uid, self.uid, self.uid)
                os.setresuid(self.uid, self.uid, self.uid)
                os.kill(-1, signal.SIGKILL)  # all processes this uid may signal, not itself
            except BaseException:
                os._exit(1)
            os._exit(0)
        os.waitpid(helper, 0)

    def _descendants(self):
        """Live descendants of the server, the judge excluded."""
        judge = self.judge.pid if self.judge is not None else None
        found, todo = [], [k for k in self._own_children() if k != judge]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(_children(pid))
        return found

    def _own_children(self):
        # The server has a single thread, so one file lists all its children.
        try:
            with open(self.children_path, "rb") as f:
                return [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            return _children(os.getpid())

    def _reap(self):
        """Reap every exited child; forget the judge if it is one of them."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.judge is not None and pid == self.judge.pid:
                self._forget_judge()

    def _reap_all(self, budget_s=5.0):
        """Reap every child but the judge; True if some are still alive after budget_s."""
        end = time.monotonic() + budget_s
        while True:
            self._reap()
            if not self._descendants():
                return False
            if time.monotonic() > end:
                return True
            time.sleep(0.001)

    def _cleanup(self):
        """Kill whatever the program left behind; return the number of rounds that found any."""
        rounds = 0
        for _ in range(5):
            self._reap()
            if not self._descendants():
                break
            rounds += 1
            if self.privileged:
                self._kill_uid()
            else:
                for p in self._descendants():
                    self._kill(p)
            self._reap_all(budget_s=1.0)
        return rounds

    def _clean_scratch(self):
        _rmtree_quiet(self.work)
        for d in self.scratch:
            try:
                entries = list(os.scandir(d))
            except OSError:
                continue
            for e in entries:
                if e.path in self.keep:
                    continue
                try:
                    owner = e.stat(follow_symlinks=False).st_uid
                except OSError:
                    continue
                if self.private_tmp or (self.privileged and owner == self.uid):
                    _rmtree_quiet(e.path)

    def _clean_ipc(self):
        """Remove every SysV IPC object of the server's private IPC namespace.

        Runs after the program's processes were killed and reaped, so no segment is attached
        any more and its memory (charged to the slot's cgroup) is freed at once. Only the
        programs create IPC objects in this namespace (neither the server nor the judge uses
        any). Without a private namespace (not root) nothing is removed: those objects would
        be the user's own.
        """
        if not self.ipc_private:
            return
        for _ in range(3):  # nobody is left to create more; a second pass only confirms
            left = 0
            for name, remove in SYSV_IPC:
                try:
                    with open("/proc/sysvipc/" + name, "rb") as f:
                        rows = f.read().splitlines()[1:]
                except OSError:
                    continue
                for row in rows:
                    fields = row.split()
                    if len(fields) < 2:
                        continue
                    left += 1
                    if remove(int(fields[1])) != 0:
                        print("sandbox server: IPC_RMID of %s %s failed: %s" % (
                            name, fields[1].decode(), os.strerror(ctypes.get_errno())),
                            file=sys.stderr)
            if not left:
                return

    def _tail(self, fd):
        try:
            size = os.fstat(fd).st_size
            os.lseek(fd, max(0, size - DETAIL_MAX), os.SEEK_SET)
            return os.read(fd, DETAIL_MAX).decode("utf-8", "replace")
        except OSError:
            return ""

    # -- verdict
    def _classify(self, req, status, cpu_s, wall_s, data, nonce, reason, tail):
        """Verdict of a plain program from its wait status and what its harness reported."""
        out, sig, code = _status_fields(status, cpu_s, wall_s)
        # An exception reported by the harness decides, whatever happened while its traceback
        # was printed (that may take long or be cut short by a limit): deterministic verdicts.
        if data[:1] == b"E":
            try:
                info = json.loads(data[1:].decode())
                kind, etype, msg = info["kind"], str(info["type"]), str(info["msg"])
                if kind in ("failed", "error", "oom"):
                    return _verdict(out, kind, etype + (": " + msg if msg else ""), tail)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                pass
        limits = _limit_verdict(out, req, sig, cpu_s, wall_s, reason, tail)
        if limits is not None:
            return limits
        if sig is None and code == 0 and data == b"P" + nonce:
            return _passed(out, req, cpu_s, tail)
        if data[:1] == b"S":
            return _verdict(out, "error", "SandboxSetupError: "
                            + data[1:200].decode("utf-8", "replace"), tail)
        return _ended(out, req, sig, code, tail)

    def _classify_function(self, req, status, cpu_s, wall_s, report, reason, tail):
        """Verdict of a function test from the judge's report and the program process's status."""
        out, sig, code = _status_fields(status, cpu_s, wall_s)
        report = report or {}
        tb = str(report.get("tb", ""))
        both = (tail.rstrip("\n") + "\n" + tb) if tail and tb else (tail or tb)
        outcome = report.get("outcome")
        if outcome == "exception" and report.get("kind") in ("failed", "error", "oom"):
            msg = str(report.get("msg", ""))
            return _verdict(out, report["kind"], str(report.get("type", "Exception"))
                            + (": " + msg if msg else ""), both)
        limits = _limit_verdict(out, req, sig, cpu_s, wall_s, reason, both)
        if limits is not None:
            return limits
        if outcome == "passed":
            return _passed(out, req, cpu_s, both)
        if outcome == "setup":
            return _verdict(out, "error", "SandboxSetupError: " + str(report.get("msg")), both)
        return _ended(out, req, sig, code, both)

    # -- child
    def _child(self, req, cap_fd, fd3, fd4):
        """A program's process: limits, chroot, uid drop, then the harness (never returns).

        fds 3 and 4 are the nonce and result pipes of a plain program, or the call and reply
        pipes of a function test's program process.
        """
        function = req.get("job") is not None
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.setsid()
            # Move the sources above the target numbers first, so no dup2 clobbers another.
            null = os.open("/dev/null", os.O_RDWR)
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 16) for fd in (null, cap_fd, fd3, fd4)]
            for target, src in zip((0, 1, 2, 3, 4),
                                   (high[0], high[1], high[1], high[2], high[3]), strict=True):
                os.dup2(src, target)
            os.closerange(5, 1024)  # control pipes, pidfds, the judge's socket, the sources
            if self.memcg is not None:  # as root, before the chroot: join the slot's cgroup
                with open(os.path.join(self.memcg, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
            rl = resource.setrlimit
            cpu = int(req["cpu_s"])
            rl(resource.RLIMIT_CPU, (cpu, cpu + 1))
            mem = int(req["memory_mb"]) * 1024 * 1024
            rl(resource.RLIMIT_AS, (mem, mem))
            fsize = int(req["fsize_mb"]) * 1024 * 1024
            rl(resource.RLIMIT_FSIZE, (fsize, fsize))
            rl(resource.RLIMIT_CORE, (0, 0))
            rl(resource.RLIMIT_NOFILE, (256, 256))
            nproc = int(req["nproc"]) + self.nproc_base
            rl(resource.RLIMIT_NPROC, (nproc, nproc))
            rl(resource.RLIMIT_MSGQUEUE, (0, 0))
            rl(resource.RLIMIT_STACK, (STACK_BYTES, STACK_BYTES))
            sys.setrecursionlimit(RECURSION_LIMIT)
            if self.child_root is not None:
                os.chroot(self.child_root)
            os.chdir(self.child_cwd)
            if self.privileged:
                _prctl(PR_SET_NO_NEW_PRIVS, 1)
                os.setgroups([])
                os.setresgid(self.uid, self.uid, self.uid)
                os.setresuid(self.uid, self.uid, self.uid)
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change, which clears it
            if os.getppid() != self.server_pid:
                os._exit(SETUP_FAILED)
            os.environ.clear()
            os.environ.update({"PATH": "/usr/bin:/bin", "HOME": self.child_cwd,
                               "TMPDIR": self.child_cwd, "LANG": "C.UTF-8"})
            sys.argv[:] = [self.prog_path]
            # Python ignores SIGXFSZ (EFBIG instead); the output/file cap should end the program
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
            if "random" in sys.modules:
                sys.modules["random"].seed()  # fresh state per program, as in a new interpreter
        except BaseException as e:
            try:
                if not function:
                    os.write(RESULT_FD, b"S" + repr(e)[:150].encode())
            finally:
                os._exit(SETUP_FAILED)
        if function:
            _serve_candidate(req["program"], req["entry_point"], self.prog_path)
        _harness(req["program"], self.prog_path)


class Judge:
    """The server's handle on its judge process."""

    def __init__(self, pid, sock):
        self.pid, self.sock = pid, sock


def _read_available(fd):
    os.set_blocking(fd, False)
    data = b""
    try:
        while len(data) < 65536:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    except BlockingIOError:
        pass
    return data


def _status_fields(status, cpu_s, wall_s):
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    code = None if sig else os.WEXITSTATUS(status)
    out = {"cpu_s": round(cpu_s, 4), "wall_s": round(wall_s, 4),
           "returncode": -sig if sig else code}
    return out, sig, code


def _verdict(out, status, head, tail):
    out["status"] = status
    out["detail"] = _detail(head, tail)
    return out


def _limit_verdict(out, req, sig, cpu_s, wall_s, reason, tail):
    """A timeout verdict for the wall-clock ceiling or the CPU limit; None otherwise."""
    if reason == "wall":
        return _verdict(out, "timeout", "Timeout: wall-clock ceiling %.1fs reached after %.2f "
                                        "CPU s (sleeping or starved)" % (wall_s, cpu_s), tail)
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s >= req["cpu_s"] - 0.05):
        return _verdict(out, "timeout", "Timeout: CPU time limit %gs exceeded"
                        % req["timeout_s"], tail)
    return None


def _passed(out, req, cpu_s, tail):
    if cpu_s > req["timeout_s"]:
        return _verdict(out, "timeout", "Timeout: finished after %.2f CPU s > limit %gs"
                        % (cpu_s, req["timeout_s"]), tail)
    out["status"], out["detail"] = "passed", ""
    return out


def _ended(out, req, sig, code, tail):
    """The program's process ended without a pass and without a reported exception."""
    if sig == signal.SIGXFSZ:
        return _verdict(out, "killed", "Killed: SIGXFSZ (file/output size limit %d MiB)"
                        % req["fsize_mb"], tail)
    if sig is not None:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "signal %d" % sig
        return _verdict(out, "killed", "Killed: %s" % name, tail)
    return _verdict(out, "error", "EarlyExit: exited with status %s without passing (no pass "
                                  "sentinel: os._exit/exit before the tests completed)" % code,
                    tail)


def _detail(head, tail):
    head = head.replace("\x00", "")[:400]
    room = DETAIL_MAX - len(head) - 1
    tail = tail[-room:] if tail and room > 0 else ""
    return (head + "\n" + tail) if tail else head


# ----------------------------------------------------------------------------- reporting
#: Bound at import, so that a program that rebinds builtins cannot change how it is reported.
_ASSERTION_ERROR, _MEMORY_ERROR, _BASE_EXCEPTION = AssertionError, MemoryError, BaseException
_isinstance, _type, _str = isinstance, type, str


def _kind(exc):
    if _isinstance(exc, _ASSERTION_ERROR):
        return "failed"
    if _isinstance(exc, _MEMORY_ERROR):
        return "oom"
    return "error"


#: Written when the report itself cannot be built (no memory left): allocation-free fallbacks.
_FALLBACK = {
    "oom": b'E{"kind": "oom", "type": "MemoryError", "msg": ""}',
    "failed": b'E{"kind": "failed", "type": "AssertionError", "msg": ""}',
    "error": b'E{"kind": "error", "type": "Exception", "msg": ""}',
}


def _describe(exc):
    """(type name, message) of an exception, guarded against hostile ``__str__``."""
    try:
        etype = _str(_type(exc).__name__)[:200]
    except _BASE_EXCEPTION:
        etype = "Exception"
    try:
        msg = _str(exc)[:300]
    except _BASE_EXCEPTION:
        msg = ""
    return etype, msg


def _print_exception(exc, skip=1, file=None):
    """Print exc's traceback (stderr by default), at most TB_KEEP entries (first and last).

    Bounded work whatever the depth (a 10**6-deep recursion included): the entries are
    collected by walking ``tb_next`` once and the rest are only counted.
    """
    err = file if file is not None else sys.__stderr__
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    try:
        tb = exc.__traceback__
        for _ in range(skip):  # the harness's own frames
            tb = tb.tb_next if tb is not None else None
        half = TB_KEEP // 2
        head, tail, n = [], collections.deque(maxlen=half), 0
        while tb is not None:
            if n < half:
                head.append(tb)
            else:
                tail.append(tb)
            n += 1
            tb = tb.tb_next
        kept = head + list(tail)
        new = None
        for t in reversed(kept):
            new = types.TracebackType(new, t.tb_frame, t.tb_lasti, t.tb_lineno)
        if n > len(kept):
            err.write("[traceback: %d entries; the first %d and last %d are shown]\n"
                      % (n, len(head), len(tail)))
        traceback.print_exception(type(exc), exc, new, chain=False, file=err)
        err.flush()
    except BaseException:
        pass


def _main_module(path, source):
    """A fresh ``__main__`` module for the program at ``path`` (its source registered for tracebacks)."""
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    module.__dict__["__file__"] = path
    sys.modules["__main__"] = module
    _register_source("program.py", source)
    return module


def _register_source(filename, source):
    """Let tracebacks show the lines of code that has no file (in this process only)."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


# ----------------------------------------------------------------------------- plain program
def _harness(source, path):
    """Run a plain program's code as __main__ (``__file__`` = path); never return.

    The outcome is reported through RESULT_FD. Only this process reports: a process the program
    forked that falls through to here (its copy of the code returned or raised) exits silently.
    An exception is reported at once, before its (bounded) traceback is printed.
    """
    _getpid, _exit, _write, _BE = os.getpid, os._exit, os.write, BaseException
    me = _getpid()
    module = _main_module(path, source)
    try:
        exec(compile(source, "program.py", "exec"), module.__dict__)
    except _BE as exc:
        if _getpid() != me:
            _exit(1)
        kind = _kind(exc)
        try:
            if kind == "oom":
                _write(RESULT_FD, _FALLBACK["oom"])  # allocates nothing
            else:
                etype, msg = _describe(exc)
                _write(RESULT_FD, b"E" + json.dumps(
                    {"kind": kind, "type": etype, "msg": msg}).encode())
        except _BE:
            try:
                _write(RESULT_FD, _FALLBACK.get(kind, _FALLBACK["error"]))
            except _BE:
                pass
        _print_exception(exc)
        _exit(1)
    if _getpid() != me:
        _exit(0)
    # The code returned normally: only now fetch the nonce and report the pass.
    nonce = b""
    try:
        while len(nonce) < NONCE_BYTES:
            chunk = os.read(NONCE_FD, NONCE_BYTES - len(nonce))
            if not chunk:
                break
            nonce += chunk
        _write(RESULT_FD, b"P" + nonce)
    except _BE:
        _exit(1)
    _exit(0)


# ----------------------------------------------------------------------------- function test
#: Exact types a value crossing from the program to the test may have (recursively).
PLAIN_SCALARS = (type(None), bool, int, float, complex, str, bytes)
PLAIN_TYPES = frozenset(PLAIN_SCALARS + (tuple, list, dict, set, frozenset))
PLAIN_DEPTH = 100
#: Largest message (one call's arguments or result) between the judge and a program, bytes.
MESSAGE_MAX = 64 * 1024 * 1024


class _ProgramGone(Exception):
    """The program process closed its reply pipe (it exited or was killed)."""


class _CandidateRaised(Exception):
    """The candidate raised in the program process; carries its verdict kind, type and message."""

    def __init__(self, kind, etype, msg):
        super().__init__("%s: %s" % (etype, msg) if msg else etype)
        self.kind, self.etype, self.msg = kind, etype, msg


class NonBuiltinResult(TypeError):
    """The candidate returned a value that is not made of built-in types."""


def _send(fd, obj):
    data = marshal.dumps(obj)
    if len(data) > MESSAGE_MAX:
        raise ValueError("message of %d bytes (limit %d)" % (len(data), MESSAGE_MAX))
    data = struct.pack(">I", len(data)) + data
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd, n):
    parts, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _recv(fd):
    """One marshal message from fd, or None at EOF."""
    head = _read_exact(fd, 4)
    if head is None:
        return None
    size = struct.unpack(">I", head)[0]
    if size > MESSAGE_MAX:
        raise ValueError("message of %d bytes from the program process" % size)
    body = _read_exact(fd, size)
    return None if body is None else marshal.loads(body)


def _plain(x, depth=0):
    """Return x as a tree of exact built-in values (runs in the program process).

    Exact ``None``/``bool``/``int``/``float``/``complex``/``str``/``bytes`` and ``tuple``/
    ``list``/``dict``/``set``/``frozenset`` of them pass as they are; instances of subclasses
    of these types (``collections.Counter``, ``OrderedDict``, ``namedtuple``, ``IntEnum``...) and
    ``bytearray`` become their built-in base value. Anything else raises NonBuiltinResult.
    """
    t = type(x)
    if t in PLAIN_SCALARS:
        return x
    if depth > PLAIN_DEPTH:
        raise NonBuiltinResult("the candidate returned a value nested more than %d levels deep"
                               % PLAIN_DEPTH)
    d = depth + 1
    if t is list or t is tuple or t is set or t is frozenset:
        return t([_plain(i, d) for i in x])
    if t is dict:
        return {_plain(k, d): _plain(v, d) for k, v in x.items()}
    # Subclasses of the built-in value types and bytearray: their built-in base value.
    if isinstance(x, int):
        return int.__int__(x)
    if isinstance(x, float):
        return float.__float__(x)
    if isinstance(x, complex):
        return complex.__complex__(x)
    if isinstance(x, str):
        return str.__str__(x)
    if isinstance(x, (bytes, bytearray)):
        return bytes(x)
    if isinstance(x, dict):
        return {_plain(k, d): _plain(v, d) for k, v in dict.items(x)}
    for base in (list, tuple, set, frozenset):
        if isinstance(x, base):
            return base([_plain(i, d) for i in base.__iter__(x)])
    raise NonBuiltinResult(
        "the candidate returned a %s object; only built-in values (None, bool, int, float, "
        "complex, str, bytes, tuple, list, dict, set, frozenset, their subclasses, and "
        "iterators over them) reach the tests" % _qualname(t))


def _qualname(t):
    try:
        return "%s.%s" % (t.__module__, t.__qualname__)
    except BaseException:
        return "non-built-in"


def _is_iterator(x):
    t = type(x)
    return hasattr(t, "__next__") and hasattr(t, "__iter__")


def _check_plain(x, depth=0):
    """Raise ValueError unless x is a tree of exact built-in values (runs in the judge)."""
    t = type(x)
    if t not in PLAIN_TYPES:
        raise ValueError("the program process sent a %s" % t.__name__)
    if depth > PLAIN_DEPTH + 2:
        raise ValueError("the program process sent a value nested too deep")
    if t is dict:
        for k, v in x.items():
            _check_plain(k, depth + 1)
            _check_plain(v, depth + 1)
    elif t is list or t is tuple or t is set or t is frozenset:
        for i in x:
            _check_plain(i, depth + 1)


def _serve_candidate(program, entry, path):
    """The program process of a function test: exec the program, then answer calls.

    Calls of its entry point come in on fd 3, replies go out on fd 4. Never returns; whatever
    it sends, the judge only ever receives built-in values. This process never had the test
    text: it was forked from the server, which never receives tests (they go from the parent
    to the judge directly).
    """
    _getpid, _exit, _BE = os.getpid, os._exit, BaseException
    _send_, _recv_, _plain_, _is_iter = _send, _recv, _plain, _is_iterator
    _callable, _describe_, _kind_ = callable, _describe, _kind
    _print = _print_exception
    me = _getpid()

    def report(exc, skip):
        if _getpid() != me:
            _exit(1)
        try:
            _send_(REPLY_FD, ("exc",) + (_kind_(exc),) + _describe_(exc))
        except _BE:
            pass
        _print(exc, skip)

    module = _main_module(path, program)
    try:
        exec(compile(program, "program.py", "exec"), module.__dict__)
    except _BE as exc:
        report(exc, 1)
        _exit(1)
    if _getpid() != me:
        _exit(0)
    candidate = module.__dict__.get(entry)
    if not _callable(candidate):
        report(NameError("the program defines no function %r" % entry), 0)
        _exit(1)
    program = None
    try:
        _send_(REPLY_FD, ("ready",))
    except _BE:
        _exit(1)
    while True:
        try:
            msg = _recv_(CALL_FD)
        except _BE:
            _exit(1)
        if msg is None:
            _exit(0)
        try:
            value = candidate(*msg[1], **msg[2])
            if _is_iter(value):  # a generator, map, zip...: its items, as an iterator
                reply = ("iter", [_plain_(v) for v in value])
            else:
                reply = ("ret", _plain_(value))
        except _BE as exc:
            report(exc, 1)
            continue
        if _getpid() != me:  # a process the candidate forked returned here
            _exit(0)
        try:
            _send_(REPLY_FD, reply)
        except _BE as exc:
            report(exc, 0)


def _judge_loop(sock, tests_fd):
    """The judge's loop: run each job the server announces; never returns.

    A job comes with the program process's pipes; its test is read from the parent's pipe; the
    report goes back to the server.
    """
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 4096, 2)
        except BaseException:
            os._exit(1)
        if not msg:
            os._exit(0)  # the server is gone
        for fd in fds[2:]:
            os.close(fd)
        job = json.loads(msg)["job"]
        if len(fds) < 2:
            report = {"outcome": "setup", "msg": "no pipes for job %r" % job}
        else:
            report = _judge_job(job, tests_fd, fds[0], fds[1])
        for fd in fds[:2]:
            try:
                os.close(fd)
            except OSError:
                pass
        data = json.dumps(report).encode()
        try:
            sock.send(data)
        except BaseException:
            os._exit(1)


def _read_test(tests_fd, job):
    """The parent's test message for this job (earlier jobs' unread tests are skipped)."""
    while True:
        head = _read_exact(tests_fd, 4)
        if head is None:
            os._exit(0)  # the parent is gone
        body = _read_exact(tests_fd, struct.unpack(">I", head)[0])
        if body is None:
            os._exit(0)
        test = json.loads(body)
        if test["job"] == job:
            return test
        if test["job"] > job:
            return None


def _judge_job(job, tests_fd, call_w, reply_r):
    """Run one job's test with a proxy candidate; a JSON-able report (never raises)."""
    c0 = time.process_time()
    test = _read_test(tests_fd, job)
    if test is None:
        return {"job": "mismatch", "outcome": "setup", "msg": "no test for job %r" % job}
    try:
        if "random" in sys.modules:
            sys.modules["random"].seed()  # fresh per job, as in a new interpreter
        setup, source, entry = test["setup"] or "", test["test"], test["entry_point"]
        ns = {"__name__": "__check__", "__builtins__": builtins}
        _register_source("setup.py", setup)
        _register_source("test.py", source)
        exec(compile(setup, "setup.py", "exec"), ns)
        candidate = _proxy(entry, call_w, reply_r)
        ns[entry] = candidate  # tests may name the function (HumanEval/33 does)
        exec(compile(source, "test.py", "exec"), ns)
        check = ns.get("check")
        if not callable(check):
            raise NameError("the test defines no check(candidate)")
        ready = _recv(reply_r)
        if ready is None:
            raise _ProgramGone()
        if ready != ("ready",):
            raise _candidate_error(ready)
        check(candidate)
        report = {"outcome": "passed"}
    except _ProgramGone:
        report = {"outcome": "gone"}
    except _CandidateRaised as exc:
        report = {"outcome": "exception", "kind": exc.kind, "type": exc.etype, "msg": exc.msg,
                  "tb": ""}
    except BaseException as exc:
        kind = _kind(exc)
        etype, msg = _describe(exc)
        buf = io.StringIO()
        _print_exception(exc, 1, buf)
        report = {"outcome": "exception", "kind": kind, "type": etype, "msg": msg,
                  "tb": buf.getvalue()[-DETAIL_MAX:]}
    report["cpu_s"] = time.process_time() - c0
    return report


def _candidate_error(msg):
    """The exception to raise in the test for an ("exc", kind, type, msg) reply."""
    if (isinstance(msg, tuple) and len(msg) == 4 and msg[0] == "exc"
            and msg[1] in ("failed", "error", "oom")):
        return _CandidateRaised(msg[1], str(msg[2])[:200], str(msg[3])[:300])
    return _CandidateRaised("error", "ProtocolError", "unexpected reply from the program "
                                                      "process")


def _proxy(entry, call_w, reply_r):
    """The candidate the test calls: each call runs in the program process."""

    def candidate(*args, **kwargs):
        try:
            _send(call_w, ("call", args, kwargs))
        except BrokenPipeError:
            raise _ProgramGone() from None
        except ValueError as e:  # marshal: an argument that is not a built-in value
            raise TypeError("the test passed an argument that cannot cross to the program "
                            "process (%s)" % e) from None
        try:
            reply = _recv(reply_r)
        except (ValueError, EOFError, TypeError) as e:
            raise _CandidateRaised("error", "ProtocolError", "bad reply from the program "
                                   "process (%s)" % e) from None
        if reply is None:
            raise _ProgramGone()
        if isinstance(reply, tuple) and len(reply) == 2 and reply[0] in ("ret", "iter"):
            try:
                _check_plain(reply[1])
            except ValueError as e:
                raise _CandidateRaised("error", "ProtocolError", str(e)) from None
            if reply[0] == "iter":
                if type(reply[1]) is not list:
                    raise _candidate_error(None)
                return iter(reply[1])
            return reply[1]
        raise _candidate_error(reply)

    candidate.__name__ = candidate.__qualname__ = entry
    return candidate


def _on_sigterm(signum, frame):
    # The parent-death signal comes once per exiting thread of a multi-threaded parent: act on
    # the first only, so that the teardown it triggers is not interrupted by the next.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, _on_sigterm)
    cfg = json.loads(sys.argv[1])
    ctl_in, ctl_out = os.dup(0), os.dup(1)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(2, 1)  # a stray print must never corrupt the protocol
    channel = Channel(ctl_in, ctl_out)
    server = Server(cfg, channel)
    server.server_pid = os.getpid()
    try:
        server.setup()
    except BaseException as e:
        channel.send({"fatal": "sandbox server setup failed: %r" % (e,)})
        return 2
    channel.send({"ready": True, "pid": os.getpid(), "enforced": server.enforced,
                  "python": sys.version.split()[0]})
    try:
        while True:
            req = channel.recv()
            if req is None:
                break
            channel.send(server.run(req))
            req = None
    finally:
        server.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
