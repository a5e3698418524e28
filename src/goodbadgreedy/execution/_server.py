"""Fork server of the sandbox: runs one untrusted program at a time, each in a fresh child.

This file is NOT imported by the package. :mod:`goodbadgreedy.execution.sandbox` starts it as a
script under the system interpreter (``/usr/bin/python3 -S -s -B -P``, fixed environment), as
root, one server per worker slot. It must only use the standard library and stay compatible
with that interpreter.

Protocol (on the server's stdin/stdout, which it moves away from fds 0/1 at start): every message
is a 4-byte big-endian length followed by UTF-8 JSON. The server first sends ``{"ready": ...}``
(or ``{"fatal": ...}``), then answers each request ``{"program", "cpu_s", "timeout_s",
"memory_mb", "wall_s", "wall_max_s", "nproc", "fsize_mb"}`` with a verdict ``{"status",
"detail", "cpu_s", "wall_s", "returncode", "stray"}``. EOF on stdin (or SIGTERM, the parent-death
signal) ends the server after killing and reaping what it started.

Per program (see sandbox.py for the table of what is enforced):

* the server (root, in private network, mount and IPC namespaces when permitted, with private
  tmpfs mounts on the world-writable directories and a minimal chroot tree, see
  ``Server._make_root``; it preloads HumanEval's usual imports and self-tests once) forks a child;
* the child starts a new session, points stdin at /dev/null and stdout+stderr at a capture file,
  keeps only two harness fds (3: nonce pipe, read end; 4: result pipe, write end), sets the
  rlimits, chroots, enters an empty work directory, drops to the slot's uid/gid (no
  supplementary groups, ``no_new_privs``), scrubs the environment and ``exec``s the program as
  ``__main__``;
* after the fork the server writes a fresh random nonce into the nonce pipe. Only if the
  program's code returned normally does the harness read it and write ``P`` + nonce on the result
  pipe, then ``os._exit(0)``. Exceptions are reported as ``E`` + JSON (never a pass). The nonce
  does not exist when the child is forked, so it is not in the program's memory image;
* the server waits (CPU limit enforced by the kernel; a wall-clock ceiling only for sleeping or
  starved programs), then kills every process of the slot's uid (``kill(-1)`` from a helper
  running as that uid), reaps them (the server is a child subreaper) and wipes the scratch dirs.
"""

import builtins
import ctypes
import fcntl
import gc
import json
import os
import resource
import select
import shutil
import signal
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
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38
#: World-writable directories on these machines: private tmpfs mounts inside the namespace.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
NONCE_FD, RESULT_FD = 3, 4
NONCE_BYTES = 32  # hex characters
DETAIL_MAX = 2000
SETUP_FAILED = 120
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: Imported once by the server so that children do not pay for them (HumanEval's usual imports).
PRELOAD = ("typing", "math", "collections", "re", "string", "hashlib", "copy", "itertools",
           "functools", "heapq", "bisect", "random")

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
        chunks, left = [], n
        while left:
            chunk = os.read(self.fd_in, min(left, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

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
    """CPU seconds (user+system) of a live process from /proc, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


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


# ----------------------------------------------------------------------------- server
class Server:
    def __init__(self, cfg, channel):
        self.cfg = cfg
        self.channel = channel
        self.uid = cfg["uid"]  # None: unprivileged mode, programs keep the server's uid
        self.privileged = self.uid is not None
        self.enforced = {}
        self.keep = set()

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
        enf = self.enforced
        private_tmp = False
        if self.privileged:
            if _libc.unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC) == 0:
                enf["network"] = "private network namespace (no interfaces up, loopback down)"
                enf["ipc"] = "private IPC namespace (SysV/POSIX IPC dies with the server)"
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
            enf["cleanup"] = "kill(-1, SIGKILL) as uid %d after each program; subreaper reaps" % (
                self.uid)
        else:
            enf["network"] = "NOT isolated (not root)"
            enf["ipc"] = "NOT isolated (not root)"
            enf["scratch"] = "NOT private (not root)"
            enf["user"] = "NOT dropped: programs run as the calling user (not root)"
            enf["cleanup"] = "process group + descendants (subreaper) killed after each program"
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
        gc.collect()
        gc.freeze()  # children's collections skip the server's objects: fewer copy-on-write faults
        # Self-test: the dropped uid must be able to import the stdlib inside its view.
        probe = self.run({"program": "import decimal, fractions, statistics, json\n",
                          "timeout_s": 10.0, "cpu_s": 10, "memory_mb": 512, "wall_s": 30.0,
                          "wall_max_s": 60.0, "nproc": 1, "fsize_mb": 1})
        if probe["status"] != "passed":
            raise RuntimeError("self-test program did not pass (%s): %s; the interpreter and its "
                               "standard library must be readable by an unprivileged user"
                               % (probe["status"], probe["detail"][:500]))

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
        self.work = os.path.join(root, "sandbox")
        self.scratch = (tmp, shm)

    def teardown(self):
        if self.privileged:
            self._kill_uid()
        self._reap_all()
        self._clean_scratch()
        if not self.private_tmp:
            _rmtree_quiet(self.base)

    # -- one program
    def run(self, req):
        _rmtree_quiet(self.work)
        os.mkdir(self.work, 0o700)
        if self.privileged:
            os.chown(self.work, self.uid, self.uid)
        cap_fd = os.open(self.cap_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        nonce_r, nonce_w = os.pipe()
        res_r, res_w = os.pipe()
        source = req["program"]
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:  # child: never returns
            self._child(req, source, cap_fd, nonce_r, res_w)
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
        os.set_blocking(res_r, False)
        data = b""
        try:
            while len(data) < 65536:
                chunk = os.read(res_r, 65536)
                if not chunk:
                    break
                data += chunk
        except BlockingIOError:
            pass
        os.close(res_r)
        stray = self._cleanup(pid)
        tail = self._tail(cap_fd)
        os.close(cap_fd)
        verdict = self._classify(req, status, cpu_s, wall_s, data, nonce, reason, tail)
        verdict["stray"] = stray
        self._clean_scratch()
        return verdict

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
                # load. Mostly sleeping: it is a sleeper, stop it now.
                if cpu is not None and now < hard and cpu - last_cpu >= 0.2 * (now - last_t):
                    last_t, last_cpu = now, cpu
                    deadline = min(hard, now + 1.0)
                    continue
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return "wall"
        finally:
            os.close(pidfd)

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
        found, todo = [], [os.getpid()]
        while todo:
            pid = todo.pop()
            try:
                tids = os.listdir("/proc/%d/task" % pid)
            except OSError:
                continue
            for tid in tids:
                try:
                    with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                        kids = [int(x) for x in f.read().split()]
                except OSError:
                    continue
                found.extend(kids)
                todo.extend(kids)
        return found

    def _has_children(self):
        try:
            return os.waitpid(-1, os.WNOHANG) is not None
        except ChildProcessError:
            return False

    def _reap_all(self, budget_s=5.0):
        """Reap every child; True if some are still alive after budget_s."""
        end = time.monotonic() + budget_s
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                if time.monotonic() > end:
                    return True
                time.sleep(0.001)

    def _cleanup(self, pid):
        """Kill whatever the program left behind; return the number of rounds that found any."""
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        rounds = 0
        for _ in range(5):
            if not self._has_children():
                break
            rounds += 1
            if self.privileged:
                self._kill_uid()
            else:
                for p in self._descendants():
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
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

    def _tail(self, fd):
        try:
            size = os.fstat(fd).st_size
            os.lseek(fd, max(0, size - DETAIL_MAX), os.SEEK_SET)
            return os.read(fd, DETAIL_MAX).decode("utf-8", "replace")
        except OSError:
            return ""

    # -- verdict
    def _classify(self, req, status, cpu_s, wall_s, data, nonce, reason, tail):
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = None if sig else os.WEXITSTATUS(status)
        cpu_limit = req["cpu_s"]
        out = {"cpu_s": round(cpu_s, 4), "wall_s": round(wall_s, 4),
               "returncode": -sig if sig else code}

        def verdict(st, head):
            out["status"] = st
            out["detail"] = _detail(head, tail)
            return out

        if reason == "wall":
            return verdict("timeout", "Timeout: wall-clock ceiling %.1fs reached after %.2f CPU s "
                                      "(sleeping or starved)" % (wall_s, cpu_s))
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s >= cpu_limit - 0.05):
            return verdict("timeout", "Timeout: CPU time limit %gs exceeded" % req["timeout_s"])
        if sig is None and code == 0 and data == b"P" + nonce:
            if cpu_s > req["timeout_s"]:
                return verdict("timeout", "Timeout: finished after %.2f CPU s > limit %gs"
                               % (cpu_s, req["timeout_s"]))
            out["status"], out["detail"] = "passed", ""
            return out
        if sig == signal.SIGXFSZ:
            return verdict("killed", "Killed: SIGXFSZ (file/output size limit %d MiB)"
                           % req["fsize_mb"])
        if sig is not None:
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = "signal %d" % sig
            return verdict("killed", "Killed: %s" % name)
        if data[:1] == b"E":
            try:
                info = json.loads(data[1:].decode())
                kind, etype, msg = info["kind"], str(info["type"]), str(info["msg"])
                if kind in ("failed", "error", "oom"):
                    head = etype + (": " + msg if msg else "")
                    return verdict(kind, head)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                pass
        if data[:1] == b"S":
            return verdict("error", "SandboxSetupError: " + data[1:200].decode("utf-8", "replace"))
        return verdict("error", "EarlyExit: exited with status %s without passing (no pass "
                                "sentinel: os._exit/exit before the tests completed)" % code)

    # -- child
    def _child(self, req, source, cap_fd, nonce_r, res_w):
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.setsid()
            # Move the sources above the target numbers first, so no dup2 clobbers another.
            null = os.open("/dev/null", os.O_RDWR)
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 16) for fd in (null, cap_fd, nonce_r, res_w)]
            for target, src in zip((0, 1, 2, NONCE_FD, RESULT_FD),
                                   (high[0], high[1], high[1], high[2], high[3]), strict=True):
                os.dup2(src, target)
            os.closerange(RESULT_FD + 1, 1024)  # control pipes, pidfds, the sources above
            rl = resource.setrlimit
            cpu = int(req["cpu_s"])
            rl(resource.RLIMIT_CPU, (cpu, cpu + 1))
            mem = int(req["memory_mb"]) * 1024 * 1024
            rl(resource.RLIMIT_AS, (mem, mem))
            fsize = int(req["fsize_mb"]) * 1024 * 1024
            rl(resource.RLIMIT_FSIZE, (fsize, fsize))
            rl(resource.RLIMIT_CORE, (0, 0))
            rl(resource.RLIMIT_NOFILE, (256, 256))
            rl(resource.RLIMIT_NPROC, (int(req["nproc"]), int(req["nproc"])))
            rl(resource.RLIMIT_MSGQUEUE, (0, 0))
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
            sys.argv[:] = ["program.py"]
            # Python ignores SIGXFSZ (EFBIG instead); the output/file cap should end the program
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
            if "random" in sys.modules:
                sys.modules["random"].seed()  # fresh state per program, as in a new interpreter
        except BaseException as e:
            try:
                os.write(RESULT_FD, b"S" + repr(e)[:150].encode())
            finally:
                os._exit(SETUP_FAILED)
        _harness(source)


def _detail(head, tail):
    head = head.replace("\x00", "")[:400]
    room = DETAIL_MAX - len(head) - 1
    tail = tail[-room:] if tail and room > 0 else ""
    return (head + "\n" + tail) if tail else head


def _harness(source):
    """Run the program's code as __main__; report through RESULT_FD; never return."""
    _read, _write, _exit = os.read, os.write, os._exit
    _AE, _ME, _BE = AssertionError, MemoryError, BaseException
    _dumps, _type, _str, _isinstance = json.dumps, type, str, isinstance
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    module.__dict__["__file__"] = "program.py"
    sys.modules["__main__"] = module
    try:
        exec(compile(source, "program.py", "exec"), module.__dict__)
    except _BE as exc:
        kind = "failed" if _isinstance(exc, _AE) else "oom" if _isinstance(exc, _ME) else "error"
        try:
            etype = _str(_type(exc).__name__)[:200]
        except _BE:
            etype = "Exception"
        try:
            msg = _str(exc)[:300]
        except _BE:
            msg = ""
        try:
            sys.stdout.flush()
        except _BE:
            pass
        try:
            tb = exc.__traceback__
            tb = tb.tb_next if tb is not None else None  # drop the harness's own frame
            traceback.print_exception(_type(exc), exc, tb, file=sys.__stderr__)
            sys.__stderr__.flush()
        except _BE:
            pass
        try:
            _write(RESULT_FD, b"E" + _dumps({"kind": kind, "type": etype, "msg": msg}).encode())
        except _BE:
            pass
        _exit(1)
    # The code returned normally: only now fetch the nonce and report the pass.
    nonce = b""
    try:
        while len(nonce) < NONCE_BYTES:
            chunk = _read(NONCE_FD, NONCE_BYTES - len(nonce))
            if not chunk:
                break
            nonce += chunk
        _write(RESULT_FD, b"P" + nonce)
    except _BE:
        _exit(1)
    _exit(0)


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
    finally:
        server.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
