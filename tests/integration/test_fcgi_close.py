#!/usr/bin/python3
"""How the responder ends a FastCGI connection: plainly once the request is read, else gracefully.

libfcgi closes gracefully (shutdown, then up to 2 s waiting for the web
server to close its end, draining what it sends), so that nothing the web
server sent is left unread: a close with unread data is a reset, which over
TCP can cost the web server the answer.  kiro-fcgi skips that wait once the
request has been read to its end (the body, then FCGI_STDIN's empty record)
and nothing else waits on the socket (fcgi/main.c, close_plainly_when_read):
a sleep and two system calls less per request.  The responder is started
directly on a listening socket, without a web server, so the test sees the
connection as the web server does:

  - a request read whole (GET /health; a POST whose body the route reads):
    the answer, then the connection is closed outright, so a write after the
    end fails (Unix socket);
  - a POST refused before its body is read (401): the answer, then a
    graceful close, so the responder still reads what the web server sends
    after the answer (the write succeeds) and the connection stays open
    until the web server closes it;
  - an abort and 32 KB sent behind the request, more than libfcgi reads at
    once, so that some of it is unread at the end: the graceful close;
  - over TCP (spawn-fcgi -p), each case gets its whole answer and a clean
    end of stream, never a reset, with three requests in flight at once.

Run: /usr/bin/python3 tests/integration/test_fcgi_close.py
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fcgiclient import read_answer, request_bytes  # noqa: E402
from gateway import KIRO_FCGI, require_binaries  # noqa: E402

API_KEY = "sk-close-" + "c" * 24


def write_after_end(s: socket.socket) -> bool:
    """True when the responder still reads: its close was graceful."""
    try:
        s.sendall(b"\0" * 8)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


class FastCGIClose(unittest.TestCase):
    def setUp(self) -> None:
        require_binaries(KIRO_FCGI)
        self.dir = Path(tempfile.mkdtemp(prefix="kiro-itest-close-"))
        self.dir.chmod(0o700)
        self.config = self.dir / "config.json"
        # No accounts: a POST that reads its body gets "no Kiro account" quickly.
        self.config.write_text(json.dumps({"apiKey": API_KEY,
                                           "stateDir": str(self.dir / "state")}))
        self.procs: list[subprocess.Popen] = []
        self.logs = []

    def tearDown(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        for f in self.logs:
            f.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, listener: socket.socket) -> None:
        env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C",
               "KIRO_FCGI_CONFIG": str(self.config)}
        log = open(self.dir / f"stderr-{len(self.procs)}.log", "wb")
        self.logs.append(log)
        self.procs.append(subprocess.Popen([str(KIRO_FCGI), "-t", "3"],
                                           stdin=listener.fileno(),
                                           stdout=subprocess.DEVNULL, stderr=log, env=env))
        listener.close()

    def unix(self) -> str:
        path = str(self.dir / "sock")
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        listener.listen(16)
        self.start(listener)
        return path

    def tcp(self) -> tuple[str, int]:
        listener = socket.socket(socket.AF_INET)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        addr = listener.getsockname()
        self.start(listener)
        return addr

    def exchange(self, family: int, addr, raw: bytes,
                 retry: bool = True) -> tuple[bytes, socket.socket]:
        """One request; retried only while the responder starts."""
        deadline = time.monotonic() + (20 if retry else 0)
        while True:
            s = socket.socket(family)
            s.settimeout(10)
            try:
                s.connect(addr)
                s.sendall(raw)
                return read_answer(s), s
            except (OSError, AssertionError):
                s.close()
                if time.monotonic() > deadline or self.procs[0].poll() is not None:
                    raise
                time.sleep(0.05)

    CASES = {
        "health": (request_bytes("GET", "/health"), b"Status: 200", False),
        "body read": (request_bytes("POST", "/v1/messages", json.dumps({
            "model": "claude-sonnet-4-5", "max_tokens": 16,
            "messages": [{"role": "user", "content": "hi"}]}).encode(),
            {"HTTP_X_API_KEY": API_KEY, "HTTP_ANTHROPIC_VERSION": "2023-06-01"}),
            b"no Kiro account", False),
        "body unread": (request_bytes("POST", "/v1/messages", b'{"model":"x"}' + b" " * 100000,
                                      {"HTTP_X_API_KEY": "wrong"}),
                        b"Status: 401", True),
        "abort behind": (request_bytes("GET", "/health", abort=True), b"Status: 200", True),
    }

    def test_unix_socket_closes_plainly_only_once_the_request_is_read(self) -> None:
        path = self.unix()
        for name, (raw, want, graceful) in self.CASES.items():
            with self.subTest(name):
                answer, s = self.exchange(socket.AF_UNIX, path, raw)
                with s:
                    self.assertIn(want, answer)
                    self.assertEqual(write_after_end(s), graceful)
        # Every request was served and logged as such (the line comes after
        # the close, so after the graceful one's wait).
        deadline = time.monotonic() + 10
        while True:
            log = (self.dir / "stderr-0.log").read_text(errors="replace")
            if (log.count("GET /health 200") >= 2 and "POST /v1/messages 401" in log) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(log.count("GET /health 200"), 2, log)
        self.assertIn("POST /v1/messages 401", log)

    def test_tcp_answers_whole_with_a_clean_end_three_in_flight(self) -> None:
        addr = self.tcp()
        self.exchange(socket.AF_INET, addr, self.CASES["health"][0])[1].close()
        failures: list[str] = []

        def run(name: str, raw: bytes, want: bytes) -> None:
            for _ in range(20):
                try:
                    answer, s = self.exchange(socket.AF_INET, addr, raw, retry=False)
                    s.close()
                    if want not in answer:
                        failures.append(f"{name}: {answer[:200]!r}")
                except (OSError, AssertionError) as exc:
                    failures.append(f"{name}: {exc!r}")

        threads = [threading.Thread(target=run, args=(name, raw, want))
                   for name, (raw, want, _) in self.CASES.items() if name != "abort behind"]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(failures, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
