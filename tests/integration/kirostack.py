"""The mock Kiro upstream plus gateway configurations, for tests that run kiro-fcgi end to end.

    with MockKiro() as mock:
        conf = GatewayConfig(root, mock, user="www-data")     # config.json, credentials, state
        with Lighttpd(KIRO_FCGI, env={"KIRO_FCGI_CONFIG": str(conf.path)}, mount="/kiro") as srv:
            mock.script({"prompt_contains": "TAG"}, {"kind": "text", "chunks": ["hi"]})
            ...
            entries = mock.requests(since=mark)

`MockKiro` starts tests/mock/kiro_mock.py ($KIRO_MOCK) with $PYTHON3 on a
kernel-chosen port (it writes the port to a file once it listens; the file is
polled, the process is watched), registers one social account whose access
token is valid for an hour, and offers the control API (/_mock/...) as methods.
`GatewayConfig` writes a kiro-fcgi config.json pointing apiBaseUrl, authBaseUrl
and oidcBaseUrl at the mock, a credentials.json for that account and a state
directory, all owned by the user the responder runs as (www-data under Apache
when the tests run as root).  Standard library only.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRCDIR = Path(os.environ.get("KIRO_SRCDIR") or HERE.parents[1])
BUILDDIR = Path(os.environ.get("KIRO_BUILDDIR") or SRCDIR)
KIRO_FCGI = Path(os.environ.get("KIRO_FCGI") or BUILDDIR / "fcgi" / "kiro-fcgi")
KIRO_MOCK = Path(os.environ.get("KIRO_MOCK") or SRCDIR / "tests" / "mock" / "kiro_mock.py")
PYTHON3 = os.environ.get("PYTHON3") or sys.executable

API_KEY = "sk-kiro-test-0123456789"
START_TIMEOUT = 20.0


class MockKiro:
    """tests/mock/kiro_mock.py on a loopback port, with one account registered."""

    def __init__(self) -> None:
        self.tmpdir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.account: dict = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "MockKiro":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        if not KIRO_MOCK.is_file():
            raise RuntimeError(f"mock upstream {KIRO_MOCK} not found (set KIRO_MOCK)")
        self.tmpdir = Path(tempfile.mkdtemp(prefix="kiro-mock-"))
        port_file = self.tmpdir / "port"
        self.log_path = self.tmpdir / "mock.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [PYTHON3, str(KIRO_MOCK), "--port", "0", "--port-file", str(port_file)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not port_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"mock exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mock did not listen within {START_TIMEOUT} s:\n{self.log()}")
            time.sleep(0.02)
        self.port = int(port_file.read_text())
        self.account = self.ctl("/_mock/accounts", {
            "refreshToken": "kiro-test-refresh-" + "r" * 120,
            "accessToken": "kiro-test-access-1", "authMethod": "social", "expiresIn": 3600})

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def log(self) -> str:
        """What the mock wrote to stdout/stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    # control API

    def ctl(self, path: str, body: object | None = None) -> object:
        """GET path (body None) or POST body as JSON; the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"mock {path}: {err.code} {err.read()[:500]!r}") from None

    def script(self, match: dict, response: object, times: int = 1) -> str:
        """Queue a scripted answer; returns its id (as found in the log's "script")."""
        return self.ctl("/_mock/script", {"match": match, "times": times,
                                          "response": response})["id"]

    def clear_scripts(self) -> None:
        self.ctl("/_mock/scripts/clear", {})

    def requests(self, since: int = 0, op: str = "generateAssistantResponse") -> list[dict]:
        """Request log entries for op with id > since."""
        query = f"?op={op}" + (f"&since={since}" if since else "")
        return self.ctl("/_mock/requests" + query)

    def mark(self) -> int:
        """The id of the newest log entry (0 if none), for requests(since=...)."""
        entries = self.ctl("/_mock/requests")
        return entries[-1]["id"] if entries else 0


class GatewayConfig:
    """config.json + credentials.json + state directory for one kiro-fcgi, in root/name."""

    def __init__(self, root: Path, name: str, mock: MockKiro, user: str | None = None,
                 extra: dict | None = None) -> None:
        self.dir = Path(root) / name
        self.dir.mkdir(parents=True)
        self.path = self.dir / "config.json"
        creds = self.dir / "credentials.json"
        creds.write_text(json.dumps({
            "refreshToken": mock.account["refreshToken"],
            "accessToken": mock.account["accessTokens"][0],
            "expiresAt": "2099-01-01T00:00:00Z",
            "authMethod": "social"}))
        config = {"apiKey": API_KEY, "stateDir": str(self.dir / "state"),
                  "credentialsFile": str(creds), "apiBaseUrl": mock.base_url,
                  "authBaseUrl": mock.base_url, "oidcBaseUrl": mock.base_url}
        config.update(extra or {})
        self.path.write_text(json.dumps(config, indent=2))
        for p in (Path(root), self.dir):
            p.chmod(0o755)
        if user is not None and os.geteuid() == 0:
            pw = pwd.getpwnam(user)
            for p in (self.dir, self.path, creds):
                os.chown(p, pw.pw_uid, pw.pw_gid)

    @property
    def env(self) -> dict[str, str]:
        """The responder environment selecting this configuration."""
        return {"KIRO_FCGI_CONFIG": str(self.path)}
