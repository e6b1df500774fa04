#!/usr/bin/python3
"""How the responder starts: GnuTLS quieted by running itself again, the socket kept.

Debian's libcurl loads GnuTLS, whose library constructor initialises it before
main unless GNUTLS_NO_IMPLICIT_INIT=1 is in the environment at exec time, so
kiro-fcgi (fcgi/main.c) sets it and executes itself again.  The responder is
started here directly, without a web server (the shipped lighttpd and Apache
configurations set the variable themselves), on a listening Unix socket as
fd 0, as lighttpd's bin-path and spawn-fcgi do:

  - started without the variable, the same process (same pid) has
    GNUTLS_NO_IMPLICIT_INIT=1 in its environment, and answers a FastCGI
    request (GET /health) on the socket it inherited;
  - started with GNUTLS_NO_IMPLICIT_INIT=0 (the operator's choice), it keeps
    "0" and answers too.

Run: /usr/bin/python3 tests/integration/test_responder_start.py
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fcgiclient import read_answer, request_bytes  # noqa: E402
from gateway import KIRO_FCGI, require_binaries  # noqa: E402


def fcgi_get(path: str, sock_path: str, timeout: float = 10.0) -> bytes:
    """One FastCGI GET request; its STDOUT stream."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(request_bytes("GET", path))
        return read_answer(s)


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(e.split("=", 1) for e in raw.decode(errors="replace").split("\0") if "=" in e)


class ResponderStart(unittest.TestCase):
    def setUp(self) -> None:
        require_binaries(KIRO_FCGI)
        self.dir = Path(tempfile.mkdtemp(prefix="kiro-itest-start-"))
        self.dir.chmod(0o700)
        self.config = self.dir / "config.json"
        self.config.write_text(json.dumps({"apiKey": "sk-start-" + "s" * 24,
                                           "stateDir": str(self.dir / "state")}))
        self.sock_path = str(self.dir / "sock")
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.sock_path)
        self.listener.listen(8)
        self.proc: subprocess.Popen | None = None
        self.stderr = None

    def tearDown(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.stderr is not None:
            self.stderr.close()
        self.listener.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, extra_env: dict[str, str]) -> int:
        env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C",
               "KIRO_FCGI_CONFIG": str(self.config), **extra_env}
        self.stderr = open(self.dir / "stderr.log", "wb")
        self.proc = subprocess.Popen([str(KIRO_FCGI), "-t", "2"], stdin=self.listener.fileno(),
                                     stdout=subprocess.DEVNULL, stderr=self.stderr, env=env)
        return self.proc.pid

    def wait_ready(self, pid: int) -> dict[str, str]:
        """The environment once the process answers a request (the exec is over)."""
        deadline = time.monotonic() + 20
        while True:
            self.assertIsNone(self.proc.poll(), (self.dir / "stderr.log").read_text())
            try:
                out = fcgi_get("/health", self.sock_path)
                break
            except (OSError, AssertionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.assertIn(b"Status: 200", out)
        return environ_of(pid)

    def test_runs_again_with_gnutls_quiet_on_the_same_socket(self) -> None:
        pid = self.start({})
        env = self.wait_ready(pid)
        self.assertEqual(env.get("GNUTLS_NO_IMPLICIT_INIT"), "1")
        self.assertEqual(self.proc.pid, pid)
        # Once: a second request is served by the same process.
        self.assertIn(b"Status: 200", fcgi_get("/health", self.sock_path))
        self.assertNotIn("could not run again", (self.dir / "stderr.log").read_text())

    def test_keeps_the_operators_value(self) -> None:
        pid = self.start({"GNUTLS_NO_IMPLICIT_INIT": "0"})
        env = self.wait_ready(pid)
        self.assertEqual(env.get("GNUTLS_NO_IMPLICIT_INIT"), "0")


if __name__ == "__main__":
    unittest.main(verbosity=2)
