#!/usr/bin/python3
"""Helpers for the real-client tests: node_modules, running `claude`, a capture server.

node_modules.  `node_modules()` returns the directory holding the packages
pinned in tests/clients/package.json + package-lock.json.  It is, in order:
$KIRO_NODE_MODULES; tests/clients/node_modules in the source directory (after
`cd tests/clients && npm ci`); or <builddir>/tests/clients-npm/node_modules,
installed there by `npm ci --prefix` from a copy of package.json and the lock
file (so a read-only source tree, as in `make distcheck`, works; it is reused
while the copied lock file is unchanged).  npm needs only the npm registry.
If node or npm is missing or npm cannot install, `NodeModulesError` says why
and the test fails: nothing is skipped.

Claude Code.  `claude_env()` builds the whole environment of a `claude -p`
run from scratch (no ANTHROPIC_* or proxy variable leaks in from the caller):
HOME is a fresh directory, ANTHROPIC_BASE_URL and either ANTHROPIC_API_KEY or
ANTHROPIC_AUTH_TOKEN, DISABLE_AUTOUPDATER=1.  `run_claude()` runs it with
stdin from /dev/null and a timeout.

Capture server.  `CaptureServer` is a tiny stdlib HTTP server that records
every request and answers like the Anthropic API would: HEAD / (Claude Code's
connectivity probe) 200, POST .../v1/messages a minimal SSE stream or JSON
message with the text CAPTURE_TEXT, anything else 404.

Test set-up.  `ClientTestCase` is the unittest base of the real-client tests:
once per class, the mock Kiro upstream (one account) and kiro-fcgi behind
lighttpd at each of its MOUNTS, a scratch directory, node_modules and node;
`logs()`, `entry_for()` (the one Kiro request a script answered),
`run_node()` (a .mjs script with the KIRO_* environment, its last stdout line
parsed as JSON, no result an error) and `assert_tool_round_trip()` (the
second Kiro request of a tool round trip carries the call and its result).

Recording the fixture (done once, the result is committed):

    /usr/bin/python3 tests/clients/clienthelp.py record-fixture \\
        [tests/fixtures/claude-code-first-request.json]

runs `claude -p 'hi'` against a CaptureServer and writes Claude Code's first
POST /v1/messages as {"client", "probe", "method", "path", "headers", "body"}:
the API key is replaced by "sk-test", hop-by-hop headers (Host,
Content-Length, Connection) are dropped, and the body is kept as parsed JSON.
tests/integration/test_claude_code_replay.py replays it without node.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRCDIR = Path(os.environ.get("KIRO_SRCDIR") or HERE.parents[1])
BUILDDIR = Path(os.environ.get("KIRO_BUILDDIR") or SRCDIR)
CLIENTS_SRC = SRCDIR / "tests" / "clients"
FIXTURE = SRCDIR / "tests" / "fixtures" / "claude-code-first-request.json"

NPM_TIMEOUT = 300
CAPTURE_TEXT = "Captured by the kiro-fcgi test capture server."
SECRET_HEADERS = ("x-api-key", "authorization")
HOP_HEADERS = ("host", "content-length", "connection", "transfer-encoding")


class NodeModulesError(RuntimeError):
    """node_modules with the pinned clients could not be found or installed."""


def pinned_versions() -> dict[str, str]:
    """{package: version} from tests/clients/package.json's dependencies."""
    return json.loads((CLIENTS_SRC / "package.json").read_text())["dependencies"]


def installed_version(modules: Path, package: str) -> str | None:
    try:
        return json.loads((modules / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def _complete(modules: Path) -> bool:
    return all(installed_version(modules, p) == v for p, v in pinned_versions().items())


def node_modules() -> Path:
    """The node_modules directory with the pinned packages (installing them if needed)."""
    env = os.environ.get("KIRO_NODE_MODULES")
    if env:
        modules = Path(env).resolve()
        if not _complete(modules):
            raise NodeModulesError(
                f"KIRO_NODE_MODULES={env} does not hold {pinned_versions()} "
                f"(found { {p: installed_version(modules, p) for p in pinned_versions()} })")
        return modules
    local = CLIENTS_SRC / "node_modules"
    if _complete(local):
        return local
    return _npm_ci(BUILDDIR / "tests" / "clients-npm")


def _npm_ci(prefix: Path) -> Path:
    """npm ci into prefix from copies of package.json and package-lock.json."""
    for prog, hint in (("node", "Node.js 18 or later"), ("npm", "npm")):
        if shutil.which(prog) is None:
            raise NodeModulesError(f"{prog} not found on PATH: install {hint} to run the "
                                   "Claude Code and Anthropic SDK tests")
    modules = prefix / "node_modules"
    lock_src = (CLIENTS_SRC / "package-lock.json").read_bytes()
    lock_dst = prefix / "package-lock.json"
    if lock_dst.is_file() and lock_dst.read_bytes() == lock_src and _complete(modules):
        return modules
    prefix.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        dst = prefix / name
        dst.unlink(missing_ok=True)
        shutil.copyfile(CLIENTS_SRC / name, dst)
    argv = ["npm", "ci", "--prefix", str(prefix), "--no-audit", "--no-fund"]
    started = time.monotonic()
    try:
        done = subprocess.run(argv, cwd=prefix, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=NPM_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise NodeModulesError(f"{' '.join(argv)} did not finish within {NPM_TIMEOUT} s "
                               "(is the npm registry reachable?)") from None
    if done.returncode != 0 or not _complete(modules):
        raise NodeModulesError(
            f"{' '.join(argv)} failed (exit {done.returncode}) after "
            f"{time.monotonic() - started:.0f} s; the npm registry must be reachable, or "
            f"set KIRO_NODE_MODULES to an installed copy of tests/clients:\n"
            f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return modules


def claude_bin(modules: Path) -> Path:
    """The claude executable of the installed @anthropic-ai/claude-code."""
    for path in (modules / ".bin" / "claude",
                 modules / "@anthropic-ai" / "claude-code" / "bin" / "claude.exe"):
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise NodeModulesError(f"no claude executable under {modules}")


def claude_env(home: Path, base_url: str, *, api_key: str | None = None,
               auth_token: str | None = None) -> dict[str, str]:
    """The complete environment of a `claude -p` run."""
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home),
           "LANG": "C.UTF-8", "ANTHROPIC_BASE_URL": base_url,
           "DISABLE_AUTOUPDATER": "1"}
    if api_key is not None:
        env["ANTHROPIC_API_KEY"] = api_key
    if auth_token is not None:
        env["ANTHROPIC_AUTH_TOKEN"] = auth_token
    return env


def run_claude(claude: Path, args: list[str], env: dict[str, str], cwd: Path,
               timeout: float = 60.0) -> subprocess.CompletedProcess:
    """claude ARGS with stdin </dev/null; raises AssertionError on timeout."""
    try:
        return subprocess.run([str(claude), *args], env=env, cwd=cwd,
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"claude {args} did not finish within {timeout} s; "
                             f"stdout {exc.stdout!r} stderr {exc.stderr!r}") from None


# --- the test set-up ------------------------------------------------------------------

def tag() -> str:
    """A unique tag a test's prompts carry, for the mock's scripts to match."""
    return "T" + uuid.uuid4().hex[:10].upper()


class ClientTestCase(unittest.TestCase):
    """Mock Kiro and kiro-fcgi behind lighttpd at each of MOUNTS, for one class."""

    MOUNTS: tuple[str, ...] = ("/kiro", "/")
    PREFIX = "kiro-client-"     # of the scratch directory
    NEEDS_NODE = True

    @classmethod
    def setUpClass(cls) -> None:
        sys.path.insert(0, str(HERE.parent / "integration"))
        from harness import Lighttpd
        from kirostack import KIRO_FCGI, GatewayConfig, MockKiro

        cls.modules = node_modules()
        cls.node = shutil.which("node")
        if cls.NEEDS_NODE and cls.node is None:
            raise AssertionError("node not found on PATH: install Node.js 18 or later")
        cls.find_clients()
        cls.tmp = Path(tempfile.mkdtemp(prefix=cls.PREFIX))
        cls.tmp.chmod(0o755)
        cls.mock = MockKiro()
        cls.servers = {}
        try:
            cls.mock.start()
            for mount in cls.MOUNTS:
                srv = Lighttpd(KIRO_FCGI, mount=mount, procs=2)
                conf = GatewayConfig(cls.tmp, "gw" + mount.replace("/", "-"), cls.mock,
                                     user=srv.responder_user)
                srv.env.update(conf.env)
                srv.start()
                cls.servers[mount] = srv
        except BaseException:
            cls.tearDownClass()
            raise
        cls.srv = cls.servers[cls.MOUNTS[0]]

    @classmethod
    def find_clients(cls) -> None:
        """Find the client executables a subclass needs (before anything starts)."""

    @classmethod
    def tearDownClass(cls) -> None:
        for srv in cls.servers.values():
            srv.stop()
        cls.mock.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(srv.error_log() for srv in self.servers.values()) + self.mock.log()

    def entry_for(self, script_id: str, since: int) -> dict:
        """The one Kiro request that script answered since the mark; it passed validation."""
        entries = [e for e in self.mock.requests(since=since) if e["script"] == script_id]
        self.assertEqual(len(entries), 1, f"requests answered by {script_id}: {entries}")
        self.assertEqual(entries[0]["validation"], {"ok": True})
        return entries[0]

    def run_node(self, script: str, base_url: str, model: str, t: str,
                 timeout: float = 90) -> dict:
        """node SCRIPT with KIRO_BASE_URL, _API_KEY, _MODEL, _TAG: its last line as JSON."""
        from kirostack import API_KEY

        home = Path(tempfile.mkdtemp(dir=self.tmp))
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home),
               "KIRO_NODE_MODULES": str(self.modules), "KIRO_BASE_URL": base_url,
               "KIRO_API_KEY": API_KEY, "KIRO_MODEL": model, "KIRO_TAG": t}
        done = subprocess.run([self.node, str(HERE / script)], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
        self.assertEqual(done.returncode, 0, f"{done.stdout}\n{done.stderr}\n{self.logs()}")
        res = json.loads(done.stdout.strip().splitlines()[-1])
        for name, value in res.items():
            self.assertNotIn("error", value, f"{name}: {value}\n{self.logs()}")
        return res

    def script_basics(self, t: str, call_prefix: str = "tooluse_") -> tuple[dict, str, str]:
        """The mock's answers to the create, stream and tools steps the SDK scripts share:
        (the texts by step, the get_weather call's id, the script answering its result)."""
        text = {"create": f"Created answer {t}.", "stream": f"Streamed answer {t}, in parts.",
                "tools": f"It is sunny in Paris ({t})."}
        self.mock.script({"prompt_contains": f"{t}-create"},
                         {"kind": "text", "chunks": [text["create"]]})
        self.mock.script({"prompt_contains": f"{t}-stream"},
                         {"kind": "text", "chunks": [text["stream"][:9], text["stream"][9:20],
                                                     text["stream"][20:]]})
        call_id = call_prefix + uuid.uuid4().hex[:20]
        self.mock.script({"prompt_contains": f"{t}-tools"},
                         {"kind": "tool_use", "chunks": ["Let me check."],
                          "tools": [{"name": "get_weather", "id": call_id,
                                     "input_fragments": ['{"city":', ' "Paris"}']}]})
        result_script = self.mock.script({"prompt_contains": "Tool results provided."},
                                         {"kind": "text", "chunks": [text["tools"]]})
        return text, call_id, result_script

    def assert_tool_round_trip(self, entry: dict, call_id: str, t: str) -> None:
        """The Kiro request after get_weather(Paris): the call in history, its result now."""
        kiro = entry["body"]["conversationState"]
        ctx = kiro["currentMessage"]["userInputMessage"]["userInputMessageContext"]
        self.assertEqual(ctx["toolResults"], [{
            "toolUseId": call_id, "status": "success",
            "content": [{"text": f"Sunny, 21 C ({t}-toolresult)"}]}])
        uses = [u for h in kiro["history"]
                for u in (h.get("assistantResponseMessage") or {}).get("toolUses") or []]
        self.assertEqual(uses, [{"toolUseId": call_id, "name": "get_weather",
                                 "input": {"city": "Paris"}}])


# --- capture server ------------------------------------------------------------------

def _sse(events: list[tuple[str, dict]]) -> bytes:
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                    for name, data in events)


def _answer_events(model: str) -> list[tuple[str, dict]]:
    usage = {"input_tokens": 10, "output_tokens": 8}
    return [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_capture", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": CAPTURE_TEXT}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": usage}),
        ("message_stop", {"type": "message_stop"}),
    ]


class RecordingHandler(BaseHTTPRequestHandler):
    """A handler that records each request in its RecordingServer; subclasses answer."""

    protocol_version = "HTTP/1.1"
    server: "RecordingServer"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _record(self, body: bytes) -> None:
        self.server.record({"method": self.command, "path": self.path,
                            "headers": list(self.headers.items()), "body": body})

    def _read_and_record(self) -> bytes:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._record(body)
        return body

    def _send(self, status: int, ctype: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class RecordingServer(ThreadingHTTPServer):
    """A loopback server recording requests ({method, path, headers: [(name, value)],
    body: bytes}) in .captured; a context manager.  base_url ends in suffix."""

    daemon_threads = True

    def __init__(self, handler: type[RecordingHandler], suffix: str = "") -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.suffix = suffix
        self.captured: list[dict] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def record(self, entry: dict) -> None:
        with self._lock:
            self.captured.append(entry)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{self.suffix}"

    def __enter__(self) -> "RecordingServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


class _CaptureHandler(RecordingHandler):

    def do_HEAD(self):
        self._record(b"")
        self._send(200, "text/plain", b"")

    def do_GET(self):
        self._record(b"")
        self._send(404, "application/json", b'{"type":"error","error":{"type":"not_found_error"}}')

    def do_POST(self):
        body = self._read_and_record()
        if self.path.split("?")[0].endswith("/v1/messages"):
            try:
                req = json.loads(body)
            except ValueError:
                req = {}
            model = req.get("model", "unknown")
            if req.get("stream"):
                self._send(200, "text/event-stream", _sse(_answer_events(model)))
            else:
                msg = dict(_answer_events(model)[0][1]["message"],
                           content=[{"type": "text", "text": CAPTURE_TEXT}],
                           stop_reason="end_turn")
                self._send(200, "application/json", json.dumps(msg).encode())
            return
        self._send(404, "application/json", b'{"type":"error","error":{"type":"not_found_error"}}')


class CaptureServer(RecordingServer):
    """Answers like the Anthropic API would (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__(_CaptureHandler)


def capture_first_request(claude: Path, prompt: str = "hi",
                          extra_args: tuple[str, ...] = ()) -> tuple[list[dict], str]:
    """Run `claude -p PROMPT` against a CaptureServer: (captured requests, stdout)."""
    with tempfile.TemporaryDirectory(prefix="kiro-capture-") as tmp:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        home.mkdir()
        work.mkdir()
        with CaptureServer() as cap:
            env = claude_env(home, cap.base_url, api_key="sk-ant-capture-0000")
            done = run_claude(claude, ["-p", prompt, *extra_args], env, work)
            if done.returncode != 0:
                raise AssertionError(f"claude -p exited {done.returncode}: {done.stderr}")
            return list(cap.captured), done.stdout


def sanitize(entry: dict, lower_names: bool = False) -> dict:
    """A captured POST as a fixture: secrets replaced, hop-by-hop headers dropped
    (header names as sent, or in lower case)."""
    headers = {}
    for name, value in entry["headers"]:
        low = name.lower()
        if low in HOP_HEADERS:
            continue
        if low == "x-api-key":
            value = "sk-test"
        elif low == "authorization":
            value = "Bearer sk-test"
        headers[low if lower_names else name] = value
    return {"method": entry["method"], "path": entry["path"], "headers": headers,
            "body": json.loads(entry["body"])}


def first_messages_request(captured: list[dict]) -> dict:
    for entry in captured:
        if entry["method"] == "POST" and "/v1/messages" in entry["path"]:
            return entry
    raise AssertionError(f"no POST /v1/messages among {[e['path'] for e in captured]}")


def record_fixture(out: Path) -> None:
    claude = claude_bin(node_modules())
    version = subprocess.run([str(claude), "--version"], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=30).stdout.strip()
    captured, _ = capture_first_request(claude, "hi")
    first = first_messages_request(captured)
    fixture = {"client": f"claude {version}",
               "recorded": "claude -p 'hi' against tests/clients/clienthelp.py CaptureServer",
               "probe": [{"method": e["method"], "path": e["path"]}
                         for e in captured[:captured.index(first)]],
               **sanitize(first)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n")
    size = len(json.dumps(fixture["body"], ensure_ascii=False, separators=(",", ":")).encode())
    print(f"wrote {out}: {first['method']} {first['path']}, body {len(first['body'])} bytes "
          f"as captured, {size} bytes re-serialised, {len(fixture['body'].get('tools', []))} tools")


if __name__ == "__main__":
    if len(sys.argv) in (2, 3) and sys.argv[1] == "record-fixture":
        record_fixture(Path(sys.argv[2]) if len(sys.argv) == 3 else FIXTURE)
    else:
        sys.exit("usage: clienthelp.py record-fixture [OUT.json]")
