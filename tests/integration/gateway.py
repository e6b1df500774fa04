"""Shared fixture for the kiro-fcgi integration tests: mock upstream, gateway, clients.

Covers nothing by itself; the test_gateway_*.py and test_kiroctl.py files use it.

  Mock       the Kiro mock upstream (tests/mock/kiro_mock.py) started with
             --port 0 --port-file, and its /_mock control API (reset, accounts,
             scripts, request log, stats, settings).
  Gateway    a kiro-fcgi behind a real lighttpd or Apache (harness.py) with a
             generated config.json (apiKey, stateDir, credentialsFile, the three
             base URLs pointing at the mock, extra keys per test) in a temporary
             directory owned by the responder's user (www-data under Apache when
             run as root), accounts written to credentialsFile and registered
             with the mock, helpers to send Anthropic requests, parse SSE, run
             kiroctl with the same config, and find the responder processes.
  Account    one Kiro credential: the tokens the gateway imports and the mock
             accepts.
  in_parallel  several requests in flight at once (a barrier), for the
             failure paths that happen concurrently.

Paths come from the environment `make check` sets (KIRO_FCGI, KIROCTL,
KIRO_MOCK, KIRO_SRCDIR, KIRO_BUILDDIR, PYTHON3); run by hand from the
repository root after an in-tree build they default to ./fcgi/kiro-fcgi,
./admin/kiroctl and tests/mock/kiro_mock.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pwd
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from harness import Apache, Lighttpd, request, sse_events  # noqa: E402,F401

SRCDIR = Path(os.environ.get("KIRO_SRCDIR") or HERE.parents[1])
BUILDDIR = Path(os.environ.get("KIRO_BUILDDIR") or SRCDIR)
KIRO_FCGI = Path(os.environ.get("KIRO_FCGI") or BUILDDIR / "fcgi" / "kiro-fcgi")
KIROCTL = Path(os.environ.get("KIROCTL") or BUILDDIR / "admin" / "kiroctl")
KIRO_MOCK = Path(os.environ.get("KIRO_MOCK") or SRCDIR / "tests" / "mock" / "kiro_mock.py")
PYTHON3 = os.environ.get("PYTHON3") or sys.executable or "/usr/bin/python3"

API_KEY = "sk-kiro-itest-" + "k" * 24
MODEL = "claude-sonnet-4-5"          # an Anthropic-style name, mapped to claude-sonnet-4.5
KIRO_MODEL = "claude-sonnet-4.5"
WINDOW = 200000                      # claude-sonnet-4.5's context window
ALNUM = string.ascii_letters + string.digits
FAR_FUTURE = "2099-01-01T00:00:00Z"

SERVERS = {"lighttpd": Lighttpd, "apache": Apache}


class FixtureError(RuntimeError):
    """The fixture could not start or control something; the message says what."""


def require_binaries(*paths: Path) -> None:
    for path in paths:
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise FixtureError(f"{path} is not built: run make (or set KIRO_FCGI/KIROCTL)")


# --- Accounts ------------------------------------------------------------------------


def _rand(n: int) -> str:
    return "".join(secrets.choice(ALNUM) for _ in range(n))


class Account:
    """A Kiro credential: what the gateway imports and what the mock accepts."""

    def __init__(self, name: str, *, priority: int = 0, auth_method: str = "social",
                 expires_at: str = FAR_FUTURE, access_token: str | None = "",
                 refresh_token: str | None = None, mock: dict | None = None):
        self.name = name
        self.mock_id = f"{name}-{_rand(6)}"     # unique even if two gateways share a name
        self.email = f"{name}@example.com"
        self.priority = priority
        self.auth_method = auth_method
        self.expires_at = expires_at
        self.access_token = ("aoa" + _rand(61) + ":" + _rand(44)) if access_token == "" \
            else access_token
        self.refresh_token = refresh_token or ("aor" + _rand(150))
        self.client_id = "mockclient-" + _rand(22) if auth_method == "idc" else None
        self.client_secret = "mocksecret-" + _rand(80) if auth_method == "idc" else None
        self.mock_extra = dict(mock or {})

    def credential(self) -> dict:
        """The kiro.rs credentials.json entry."""
        entry = {"refreshToken": self.refresh_token, "authMethod": self.auth_method,
                 "email": self.email, "priority": self.priority,
                 "expiresAt": self.expires_at}
        if self.access_token is not None:
            entry["accessToken"] = self.access_token
        if self.client_id is not None:
            entry["clientId"] = self.client_id
            entry["clientSecret"] = self.client_secret
        return entry

    def mock_spec(self) -> dict:
        """The /_mock/accounts body: the same tokens, access token never expiring."""
        spec = {"id": self.mock_id, "refreshToken": self.refresh_token,
                "authMethod": self.auth_method}
        if self.access_token is not None:
            spec["accessToken"] = self.access_token
        if self.client_id is not None:
            spec["clientId"] = self.client_id
            spec["clientSecret"] = self.client_secret
        spec.update(self.mock_extra)
        return spec

    def secrets(self) -> list[str]:
        return [s for s in (self.access_token, self.refresh_token, self.client_secret) if s]


# --- The mock upstream -----------------------------------------------------------------


class Mock:
    """tests/mock/kiro_mock.py on a kernel-chosen port, with its control API."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="kiro-itest-mock-"))
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None

    def start(self) -> "Mock":
        if not KIRO_MOCK.is_file():
            raise FixtureError(f"{KIRO_MOCK} not found (set KIRO_MOCK)")
        port_file = self.dir / "port"
        with open(self.dir / "stderr.log", "ab") as err:
            self.proc = subprocess.Popen(
                [PYTHON3, str(KIRO_MOCK), "--port", "0", "--port-file", str(port_file),
                 "--quiet"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err, start_new_session=True)
        # Readiness: the port file appears (atomically) once the socket listens.
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if self.proc.poll() is not None:
                raise FixtureError(f"mock exited with {self.proc.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                raise FixtureError(f"mock wrote no port file in 30 s: {self.log()}")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(0.02)
        self.port = int(port_file.read_text().strip())
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "stderr.log").read_text(errors="replace")
        return ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, body: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, "/_mock/" + path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            resp = conn.getresponse()
            text = resp.read()
        except (OSError, http.client.HTTPException) as err:
            alive = self.proc is not None and self.proc.poll() is None
            state = "running" if alive else f"exited ({self.proc and self.proc.returncode})"
            raise FixtureError(f"mock {method} {path} failed: {err!r}; the mock is {state}; "
                               f"its log:\n{self.log()[-2000:]}") from err
        finally:
            conn.close()
        if resp.status != 200:
            raise FixtureError(f"mock {method} {path} -> {resp.status}: {text[:500]!r}")
        return json.loads(text)

    # control API shortcuts

    def reset(self) -> None:
        self.call("POST", "reset", {})

    def add_account(self, account: Account) -> dict:
        return self.call("POST", "accounts", account.mock_spec())

    def accounts(self) -> list[dict]:
        return self.call("GET", "accounts")

    def update_account(self, account: Account, **fields) -> dict:
        return self.call("POST", "accounts/update", dict(fields, id=account.mock_id))

    def script(self, response, times: int = 1, **match) -> dict:
        return self.call("POST", "script", {"match": match, "times": times, "response": response})

    def requests(self, op: str | None = "generateAssistantResponse") -> list[dict]:
        return self.call("GET", "requests" + (f"?op={op}" if op else ""))

    def stats(self) -> dict:
        return self.call("GET", "stats")

    def settings(self, **values) -> dict:
        return self.call("POST", "settings", values)

    def revoke(self, **tokens) -> dict:
        return self.call("POST", "revoke", tokens)


# --- The gateway ---------------------------------------------------------------------


class Gateway:
    """kiro-fcgi behind lighttpd or Apache, configured against a Mock.

    Use as a context manager; `start()` writes the config and the
    credentials file, registers the accounts with the mock and starts the web
    server (which starts the responder).
    """

    def __init__(self, server: str, mock: Mock, *, mount: str = "/kiro", procs: int = 1,
                 threads: int = 4, accounts: Iterable[Account] = (),
                 config: dict | None = None, api_key: str = API_KEY,
                 credentials_file: bool = True, credentials_object: bool = False):
        require_binaries(KIRO_FCGI)
        self.server_name = server
        self.server_class = SERVERS[server]
        self.mock = mock
        self.mount = mount
        self.procs = procs
        self.threads = threads
        self.accounts = list(accounts)
        self.extra_config = dict(config or {})
        self.api_key = api_key
        self.use_credentials_file = credentials_file
        self.credentials_object = credentials_object   # one object, not an array
        self.dir: Path | None = None
        self.srv: harness.WebServer | None = None

    # life cycle

    def start(self) -> "Gateway":
        # A second start would leave the first server running, unseen.
        if self.srv is not None:
            raise FixtureError("Gateway.start() called twice (use either "
                               "start()/stop() or a with statement)")
        self.dir = Path(tempfile.mkdtemp(prefix="kiro-itest-gw-"))
        self.config_path = self.dir / "config.json"
        self.state_dir = self.dir / "state"      # created by the responder
        self.credentials_path = self.dir / "credentials.json"
        self.srv = self.server_class(KIRO_FCGI, ["-t", str(self.threads)],
                                     env={"KIRO_FCGI_CONFIG": str(self.config_path)},
                                     mount=self.mount, procs=self.procs)
        self.user = self.srv.responder_user
        try:
            self.write_config()
            self.register_accounts()
            if self.use_credentials_file:
                self.write_credentials(self.accounts)
            self.hand_over()
            self.srv.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.srv is not None:
            self._log_at_stop = self.srv.error_log()
            self.srv.stop()
            self.srv = None
        if self.dir is not None and not os.environ.get("HARNESS_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def register_accounts(self) -> None:
        """Tell the mock about this gateway's accounts (again after a reset)."""
        known = {a["id"] for a in self.mock.accounts()}
        for account in self.accounts:
            if account.mock_id not in known:
                self.mock.add_account(account)

    # files

    def config(self) -> dict:
        cfg = {"apiKey": self.api_key,
               "stateDir": str(self.state_dir),
               "apiBaseUrl": self.mock.url,
               "authBaseUrl": self.mock.url,
               "oidcBaseUrl": self.mock.url,
               "region": "us-east-1",
               "logLevel": "info"}
        if self.use_credentials_file:
            cfg["credentialsFile"] = str(self.credentials_path)
        cfg.update(self.extra_config)
        return {k: v for k, v in cfg.items() if v is not None}

    def write_config(self) -> None:
        self.config_path.write_text(json.dumps(self.config(), indent=2) + "\n")

    def write_credentials(self, accounts: Iterable[Account]) -> None:
        entries = [a.credential() for a in accounts]
        if self.credentials_object and len(entries) == 1:
            entries = entries[0]
        self.credentials_path.write_text(json.dumps(entries, indent=2) + "\n")
        os.chmod(self.credentials_path, 0o600)
        self.hand_over()

    def hand_over(self) -> None:
        """Make the directory and everything in it the responder user's (0700 dir)."""
        pw = pwd.getpwnam(self.user)
        os.chmod(self.dir, 0o700)
        if os.geteuid() != 0 or pw.pw_uid == os.geteuid():
            return
        for root, dirs, files in os.walk(self.dir):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.chown(name, pw.pw_uid, pw.pw_gid)

    def credentials_file(self):
        return json.loads(self.credentials_path.read_text())

    # HTTP

    def url(self, path: str = "") -> str:
        return self.srv.url(path)

    def auth(self, style: str = "x-api-key") -> dict:
        if style == "bearer":
            return {"Authorization": f"Bearer {self.api_key}"}
        return {"x-api-key": self.api_key}

    def post(self, path: str, body, headers: dict | None = None, *,
             auth: str | None = "x-api-key", timeout: float = 60) -> harness.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", "anthropic-version": "2023-06-01"}
        if auth is not None:
            hdrs.update(self.auth(auth))
        hdrs.update(headers or {})
        return request(self.url(path), "POST", data, hdrs, timeout=timeout)

    def get(self, path: str, *, auth: str | None = "x-api-key", method: str = "GET",
            headers: dict | None = None) -> harness.Response:
        hdrs = self.auth(auth) if auth is not None else {}
        hdrs.update(headers or {})
        return request(self.url(path), method, None, hdrs)

    def messages(self, body: dict, path: str = "/v1/messages", **kw) -> harness.Response:
        return self.post(path, body, **kw)

    def stream(self, body: dict, path: str = "/v1/messages", **kw):
        """POST with stream:true; (response, [SSEEvent])."""
        resp = self.post(path, dict(body, stream=True), **kw)
        return resp, list(sse_events(resp.chunks))

    # kiroctl

    def kiroctl(self, *args: str, check: bool = True, env: dict | None = None,
                use_flag: bool = True) -> subprocess.CompletedProcess:
        return run_kiroctl(self.config_path if use_flag else None, *args, check=check,
                           env=env)

    def accounts_json(self) -> list[dict]:
        return json.loads(self.kiroctl("accounts", "list", "--json").stdout)

    def account_by_email(self, email: str) -> dict:
        for entry in self.accounts_json():
            if entry.get("email") == email:
                return entry
        raise FixtureError(f"no account {email} in kiroctl accounts list")

    # processes and logs

    def log(self) -> str:
        if self.srv is not None and self.srv.tmpdir is not None:
            return self.srv.error_log()
        return getattr(self, "_log_at_stop", "")

    def responder_pids(self) -> dict[int, str]:
        """{pid: start time} of every running kiro-fcgi under this server."""
        assert self.srv is not None and self.srv.proc is not None
        found = {}
        # The server's binary: under Apache it may be a copy www-data can run.
        target = os.path.realpath(self.srv.binary)
        for pid, start in harness._related_processes(self.srv.proc.pid,
                                                     self.srv.proc.pid).items():
            with contextlib.suppress(OSError):
                # Under TRACEME the process is valgrind or strace running
                # the responder: its command line names the binary.
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if os.path.realpath(f"/proc/{pid}/exe") == target or \
                        any(a and os.path.realpath(a.decode(errors="replace")) == target
                            for a in argv):
                    found[pid] = start
        return found


def run_kiroctl(config: Path | str | None, *args: str, check: bool = True,
                env: dict | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run kiroctl [-c config] args; with check, fail unless it exits 0."""
    require_binaries(KIROCTL)
    argv = [str(KIROCTL)] + (["-c", str(config)] if config is not None else []) + list(args)
    full_env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C",
                "HOME": os.environ.get("HOME", "/root")}
    full_env.update(env or {})
    proc = subprocess.run(argv, capture_output=True, text=True, env=full_env, cwd=cwd,
                          timeout=120)
    if check and proc.returncode != 0:
        raise FixtureError(f"{' '.join(argv)} exited {proc.returncode}:\n"
                           f"{proc.stdout}{proc.stderr}")
    return proc


# --- Requests and streams ----------------------------------------------------------------


def body(prompt: str = "Say hello", **extra) -> dict:
    """A minimal Anthropic Messages request."""
    req = {"model": MODEL, "max_tokens": 1024,
           "messages": [{"role": "user", "content": prompt}]}
    req.update(extra)
    return req


def context_tokens(entry: dict) -> int:
    """input_tokens for a logged generate request that the mock answered with its default
    contextUsagePercentage (its reference count over its window, tokentruth.py), turned
    back into tokens as the gateway does: pct * window / 100."""
    pct = round(entry["reference_tokens"] * 100.0 / entry["window"], 6)
    return int(pct * entry["window"] / 100.0)


def event_names(events) -> list[str]:
    return [e.event for e in events]


def event_data(events) -> list[dict]:
    return [json.loads(e.data) for e in events]


def text_of(events, kind: str = "text_delta", field: str = "text") -> str:
    """Concatenated delta text of one kind."""
    out = []
    for e in events:
        if e.event == "content_block_delta":
            d = json.loads(e.data)["delta"]
            if d.get("type") == kind:
                out.append(d.get(field, ""))
    return "".join(out)


def nested_schema(depth: int) -> dict:
    """A JSON schema nested depth objects deep (Claude Code-like tool schemas)."""
    schema: dict = {"type": "string", "description": "leaf"}
    for level in range(depth):
        schema = {"type": "object", "description": f"level {level}",
                  "properties": {f"p{level}": schema, "flag": {"type": "boolean"}},
                  "required": [f"p{level}"], "additionalProperties": False}
    return schema


def claude_code_tools(count: int = 25, depth: int = 10) -> list[dict]:
    return [{"name": f"Tool{i:02d}_" + "x" * (i % 7),
             "description": f"Tool number {i}. " + "Explains what it does. " * 20,
             "input_schema": nested_schema(depth if i % 3 == 0 else 3)}
            for i in range(count)]


def assert_anthropic_error(case, resp, status: int, err_type: str | None = None,
                           contains: Iterable[str] = ()) -> dict:
    """Assert resp is an Anthropic error JSON with status (and type, substrings)."""
    case.assertEqual(resp.status, status, resp.body[:500])
    case.assertTrue(resp.headers.get("Content-Type", "").startswith("application/json"),
                    resp.headers.get("Content-Type"))
    doc = resp.json()
    case.assertEqual(doc.get("type"), "error", doc)
    case.assertIn("error", doc)
    if err_type is not None:
        case.assertEqual(doc["error"].get("type"), err_type, doc)
    for text in contains:
        case.assertIn(text, doc["error"].get("message", ""), doc)
    return doc


def assert_openai_error(case, resp, status: int, err_type: str | None = None,
                        contains: Iterable[str] = (), code: str | None = None) -> dict:
    """Assert resp is an OpenAI error JSON ({"error": {...}} and nothing else)."""
    case.assertEqual(resp.status, status, resp.body[:500])
    case.assertTrue(resp.headers.get("Content-Type", "").startswith("application/json"),
                    resp.headers.get("Content-Type"))
    doc = resp.json()
    case.assertEqual(set(doc), {"error"}, doc)
    if err_type is not None:
        case.assertEqual(doc["error"].get("type"), err_type, doc)
    if code is not None:
        case.assertEqual(doc["error"].get("code"), code, doc)
    for text in contains:
        case.assertIn(text, doc["error"].get("message", ""), doc)
    return doc


# --- Waiting on the mock, and what Kiro was sent ----------------------------------------


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    """Poll predicate() (a mock query) until it returns a true value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def tool_script(*calls, chunks=()) -> dict:
    """A mock script answering with text chunks then (name, id, input) tool calls."""
    return {"kind": "tool_use", "chunks": list(chunks),
            "tools": [{"name": n, "id": i, "input": inp} for n, i, inp in calls]}


def kiro_tools(entry) -> list[str]:
    """The names of the tools a logged upstream request offered Kiro."""
    ctx = entry["body"]["conversationState"]["currentMessage"]["userInputMessage"] \
        .get("userInputMessageContext", {})
    return [t["toolSpecification"]["name"] for t in ctx.get("tools", [])]


def system_pair(entry) -> str:
    """The first history turn of a logged upstream request (where the system goes)."""
    history = entry["body"]["conversationState"].get("history", [])
    return history[0]["userInputMessage"]["content"] if history else ""


# --- Requests in flight together ----------------------------------------------------------


def in_parallel(calls: list) -> list:
    """Runs the callables at once (a barrier), returns their results in order."""
    results: list = [None] * len(calls)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))

    def run(slot: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[slot] = calls[slot]()
        except BaseException as err:  # reported in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    if errors:
        raise errors[0]
    return results
