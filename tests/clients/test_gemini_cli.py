#!/usr/bin/python3
"""The real Gemini CLI (@google/gemini-cli, pinned in package.json) against kiro-fcgi.

node_modules comes from $KIRO_NODE_MODULES, tests/clients/node_modules or
`npm ci --prefix <builddir>/tests/clients-npm` (see clienthelp.py); when npm
cannot install, the test FAILS with npm's output.  Nothing is skipped.

How the CLI is pointed at the gateway (found by trying, see
tests/integration/test_gemini_cli_replay.py for what it sends):
  HOME=<fresh>  with $HOME/.gemini/settings.json
      {"security":{"auth":{"selectedType":"gemini-api-key"}}, telemetry and
       usage statistics off}   (without selectedType it exits 41)
  GEMINI_CLI_TRUST_WORKSPACE=true   (else it exits 55: untrusted directory)
  GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT/kiro   (http only on loopback)
  GEMINI_API_KEY=<the gateway's client key>           (sent as x-goog-api-key)
  gemini -p PROMPT </dev/null

A `-p` run makes two calls: POST models/<flash-lite>:generateContent, the
model-router classifier (responseMimeType application/json with a
responseJsonSchema {complexity_reasoning, complexity_score}), then POST
models/<pro>:streamGenerateContent?alt=sse with the prompt, a system
instruction and the CLI's tools.  The mock is scripted (both calls carry the
prompt's unique tag, in that order) to answer the classifier with JSON that
matches its schema, and the main call with a text.

Checks, with kiro-fcgi behind lighttpd at "/kiro":
  - `gemini -p` exits 0 and prints the scripted answer; the classifier's
    answer was accepted (no ZodError / schema complaint on stderr);
  - both Kiro requests passed the mock's validation, the Gemini model names
    were mapped (flash-lite -> claude-haiku-4.5, pro -> claude-sonnet-4.5),
    and the main request carried the CLI's tools;
  - an agentic round trip: the mock answers the prompt with a call of the
    CLI's own read_file tool on a file the test wrote; the CLI runs it and
    sends the functionResponse (no id pairing help from the client); the
    mock answers that with a text holding a marker, which the CLI prints; the
    Kiro request carries the file's unique content in toolResults, answering
    the toolUse in its history;
  - the pinned CLI still sends what tests/fixtures/gemini-cli-request.json
    holds (same paths, body keys and tool names), recorded with
        /usr/bin/python3 tests/clients/test_gemini_cli.py record-fixture
    against a local capture server (the key replaced by "gem-test").

Run by `make check`; from a build tree: KIRO_FCGI=fcgi/kiro-fcgi
/usr/bin/python3 $srcdir/tests/clients/test_gemini_cli.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

import clienthelp  # noqa: E402
from kirostack import API_KEY, SRCDIR  # noqa: E402

FIXTURE = SRCDIR / "tests" / "fixtures" / "gemini-cli-request.json"
TIMEOUT = 90.0
SETTINGS = {"security": {"auth": {"selectedType": "gemini-api-key"}},
            "privacy": {"usageStatisticsEnabled": False}, "telemetry": {"enabled": False}}
ROUTER_JSON = ('{"complexity_reasoning": "Needs careful work.", '
               '"complexity_score": 85}')


def gemini_bin(modules: Path) -> Path:
    path = modules / "@google" / "gemini-cli" / "bundle" / "gemini.js"
    if not path.is_file():
        raise clienthelp.NodeModulesError(f"no Gemini CLI under {modules}")
    return path


def run_gemini(modules: Path, prompt: str, base_url: str, key: str, home: Path,
               cwd: Path) -> subprocess.CompletedProcess:
    """gemini -p PROMPT in a fresh HOME; the completed process."""
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(SETTINGS))
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home), "LANG": "C.UTF-8",
           "GEMINI_CLI_TRUST_WORKSPACE": "true", "GOOGLE_GEMINI_BASE_URL": base_url,
           "GEMINI_API_KEY": key, "NO_COLOR": "1"}
    node = shutil.which("node")
    if node is None:
        raise AssertionError("node not found on PATH: install Node.js 18 or later")
    try:
        return subprocess.run([node, str(gemini_bin(modules)), "-p", prompt], env=env,
                              cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"gemini -p did not finish within {TIMEOUT} s; stdout "
                             f"{exc.stdout!r} stderr {exc.stderr!r}") from None


# --- capture server (for record-fixture and the shape check) -----------------------

class _Capture(clienthelp.RecordingHandler):

    def do_POST(self):
        self._read_and_record()
        text = ROUTER_JSON if ":generateContent" in self.path else "Captured."
        chunk = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                 "finishReason": "STOP", "index": 0}],
                 "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1,
                                   "totalTokenCount": 2}}
        if "alt=sse" in self.path:
            self._send(200, "text/event-stream", f"data: {json.dumps(chunk)}\r\n\r\n".encode())
        else:
            self._send(200, "application/json", json.dumps(chunk).encode())


def capture(modules: Path, prompt: str = "hi") -> list[dict]:
    """What `gemini -p PROMPT` sends, as fixture entries (key replaced)."""
    tmp = Path(tempfile.mkdtemp(prefix="kiro-gemcap-"))
    try:
        home, cwd = tmp / "home", tmp / "work"
        cwd.mkdir()
        with clienthelp.RecordingServer(_Capture) as srv:
            done = run_gemini(modules, prompt, srv.base_url, "gem-capture-key", home, cwd)
        if done.returncode != 0:
            raise AssertionError(f"gemini -p failed ({done.returncode}): {done.stderr[-2000:]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = []
    for r in srv.captured:
        headers = {k: ("gem-test" if k.lower() == "x-goog-api-key" else v)
                   for k, v in r["headers"] if k.lower() not in clienthelp.HOP_HEADERS}
        body = json.loads(json.dumps(json.loads(r["body"] or b"null"))
                          .replace(str(tmp), "/tmp/gemini-cli"))
        out.append({"method": r["method"], "path": r["path"], "headers": headers,
                    "body": body})
    return out


def shape(entries: list[dict]) -> list[dict]:
    """What must stay the same between CLI runs: paths, keys, tool names."""
    out = []
    for e in entries:
        b = e["body"]
        out.append({"path": e["path"].split(":")[-1], "keys": sorted(b),
                    "config": sorted(b.get("generationConfig", {})),
                    "tools": sorted(d["name"] for t in b.get("tools", [])
                                    for d in t.get("functionDeclarations", []))})
    return out


class GeminiCLI(clienthelp.ClientTestCase):

    MOUNTS = ("/kiro",)
    PREFIX = "kiro-gemini-cli-"
    NEEDS_NODE = False

    @classmethod
    def find_clients(cls) -> None:
        gemini_bin(cls.modules)

    def setUp(self) -> None:
        self.mock.clear_scripts()

    def gemini(self, prompt: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        home = Path(tempfile.mkdtemp(dir=self.tmp))
        cwd = cwd or Path(tempfile.mkdtemp(dir=self.tmp))
        done = run_gemini(self.modules, prompt, self.srv.base_url, API_KEY, home, cwd)
        self.assertEqual(done.returncode, 0,
                         f"stdout {done.stdout}\nstderr {done.stderr}\n{self.logs()}")
        return done

    def script_router(self, t: str) -> str:
        return self.mock.script({"prompt_contains": t},
                                {"kind": "text", "chunks": [ROUTER_JSON[:30], ROUTER_JSON[30:]]})

    def test_prompt(self) -> None:
        t = "T" + uuid.uuid4().hex[:10].upper()
        answer = f"Hello from the gateway ({t})."
        mark = self.mock.mark()
        router = self.script_router(t)
        main = self.mock.script({"prompt_contains": t},
                                {"kind": "text", "chunks": [answer[:8], answer[8:]]})
        done = self.gemini(f"{t} say hi")
        self.assertIn(answer, done.stdout, done.stderr)
        self.assertNotIn("ZodError", done.stderr)
        entries = {e["script"]: e for e in self.mock.requests(since=mark)}
        self.assertIn(router, entries, entries.keys())
        self.assertIn(main, entries, entries.keys())
        for e in entries.values():
            self.assertEqual(e["validation"], {"ok": True})
        model = lambda e: e["body"]["conversationState"]["currentMessage"][  # noqa: E731
            "userInputMessage"]["modelId"]
        self.assertEqual(model(entries[router]), "claude-haiku-4.5")
        # The CLI picks the main model itself (a flash or a pro name).
        called = re.findall(r"POST /v1beta/models/([^: ]+):streamGenerateContent",
                            self.srv.error_log())
        self.assertTrue(called, self.srv.error_log())
        name = called[-1]
        self.assertEqual(model(entries[main]), "claude-haiku-4.5" if "flash" in name
                         else "claude-sonnet-4.5")
        tools = entries[main]["body"]["conversationState"]["currentMessage"][
            "userInputMessage"]["userInputMessageContext"]["tools"]
        self.assertIn("read_file", [s["toolSpecification"]["name"] for s in tools])
        self.assertNotIn(API_KEY, self.logs())

    def test_agentic_read_file(self) -> None:
        t = "T" + uuid.uuid4().hex[:10].upper()
        secret = f"file-content-{uuid.uuid4().hex}"
        marker = f"The file says {t}-DONE."
        work = Path(tempfile.mkdtemp(dir=self.tmp))
        (work / "note.txt").write_text(secret + "\n")
        work.chmod(0o755)
        mark = self.mock.mark()
        self.script_router(t)
        self.mock.script({"prompt_contains": t}, {
            "kind": "tool_use", "chunks": ["I will read it."], "tools": [{
                "name": "read_file", "id": "tooluse_" + uuid.uuid4().hex[:20],
                "input": {"file_path": str(work / "note.txt")}}]})
        # With only tool results, Kiro's current content is this placeholder.
        final = self.mock.script({"prompt_contains": "Tool results provided."},
                                 {"kind": "text", "chunks": [marker]}, times=-1)
        done = self.gemini(f"{t} read note.txt and tell me what it says", cwd=work)
        self.assertIn(marker, done.stdout, done.stderr + self.logs())
        answered = [e for e in self.mock.requests(since=mark) if e["script"] == final]
        self.assertGreaterEqual(len(answered), 1)
        state = answered[0]["body"]["conversationState"]
        results = state["currentMessage"]["userInputMessage"]["userInputMessageContext"][
            "toolResults"]
        self.assertIn(secret, json.dumps(results))
        uses = [u["toolUseId"] for h in state["history"]
                for u in (h.get("assistantResponseMessage") or {}).get("toolUses") or []]
        self.assertIn(results[0]["toolUseId"], uses)
        for e in self.mock.requests(since=mark):
            self.assertEqual(e["validation"], {"ok": True})

    def test_fixture_still_matches_the_cli(self) -> None:
        recorded = json.loads(FIXTURE.read_text())["requests"]
        self.assertEqual(shape(capture(self.modules)), shape(recorded))


def record_fixture(out: Path) -> None:
    modules = clienthelp.node_modules()
    version = json.loads((modules / "@google" / "gemini-cli" / "package.json")
                         .read_text())["version"]
    doc = {"client": f"@google/gemini-cli {version}", "command": "gemini -p hi",
           "requests": capture(modules)}
    out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out}: {[r['path'] for r in doc['requests']]}")


if __name__ == "__main__":
    if len(sys.argv) in (2, 3) and sys.argv[1] == "record-fixture":
        record_fixture(Path(sys.argv[2]) if len(sys.argv) == 3 else FIXTURE)
        sys.exit(0)
    unittest.main(verbosity=2)
