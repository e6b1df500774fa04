#!/usr/bin/python3
"""Codex CLI (`codex exec`) against kiro-fcgi behind lighttpd.

@openai/codex 0.169.0 (pinned in tests/clients/package.json; node_modules as
in clienthelp.py: nothing is skipped).  Codex ignores OPENAI_BASE_URL, so
each run gets a fresh HOME whose ~/.codex/config.toml names a custom
provider on the gateway (codexhelp.codex_home: base_url <gateway>/v1,
wire_api "responses", env_key KIRO_API_KEY) and a Claude model name.  The
mock Kiro upstream with one account; kiro-fcgi behind lighttpd mounted at
"/kiro".  The mock's answers are scripted on a unique tag in each prompt.

  - `codex exec '<tag> hi'` prints the mock's answer and exits 0; the Kiro
    request passed the mock's validation, carries Codex's function tools
    and its developer instructions, and uses Codex's session id as the
    conversation id;
  - with model_reasoning_effort "high", Kiro is asked to think, and Codex
    shows the thinking (a reasoning item's summary) apart from the answer;
  - an agentic round trip: the mock answers with a call of Codex's own
    exec_command tool (`cat` of a file the test wrote in the working
    directory); Codex runs it and sends the output back as a
    function_call_output; the mock answers that with a marker, which Codex
    must print; the second Kiro request carries the file's unique content
    in toolResults and the call in its history;
  - web search (`web_search = "live"` in config.toml; Codex offers the tool
    by default too): Codex offers its hosted web_search tool, the mock's model calls the gateway's web_search
    for a prompt that asks to search, the gateway searches through /mcp with
    the query and the model's answer from the results is printed;
  - the request shape of the pinned Codex still matches the recorded
    tests/fixtures/codex-request.json (replayed without node by
    tests/integration/test_codex_replay.py): run against a capture server,
    it sends the same header names, top-level keys, item roles and tools.

Run by `make check`; from a build tree: KIRO_FCGI=fcgi/kiro-fcgi
/usr/bin/python3 $srcdir/tests/clients/test_codex.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import unittest
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

import clienthelp  # noqa: E402
import codexhelp  # noqa: E402
from kirostack import API_KEY  # noqa: E402

MODEL = "claude-sonnet-4-5"
TIMEOUT = 120.0


class CodexCLI(clienthelp.ClientTestCase):

    MOUNTS = ("/kiro",)
    PREFIX = "kiro-codex-"
    NEEDS_NODE = False

    @classmethod
    def find_clients(cls) -> None:
        cls.codex_exe = codexhelp.codex_bin(cls.modules)

    def setUp(self) -> None:
        self.mock.clear_scripts()

    def new_home(self, extra: str = "") -> tuple[Path, Path]:
        """A fresh HOME configured for the gateway, and a working directory."""
        run = Path(tempfile.mkdtemp(dir=self.tmp))
        home, work = run / "home", run / "work"
        home.mkdir()
        work.mkdir()
        codexhelp.codex_home(home, self.srv.base_url + "/v1", MODEL, extra)
        return home, work

    def codex_run(self, prompt: str, home: Path, work: Path):
        done = codexhelp.run_codex(self.codex_exe, prompt,
                                   codexhelp.codex_env(home, API_KEY), work, timeout=TIMEOUT)
        self.assertEqual(done.returncode, 0,
                         f"codex exited {done.returncode}\nstdout {done.stdout[-3000:]}\n"
                         f"stderr {done.stderr[-3000:]}\n{self.logs()[-3000:]}")
        return done

    def codex(self, prompt: str, home: Path, work: Path) -> str:
        return self.codex_run(prompt, home, work).stdout

    def entries(self, script: str, since: int) -> list[dict]:
        return [e for e in self.mock.requests(since=since) if e["script"] == script]

    def test_exec_hi(self) -> None:
        t = "T" + uuid.uuid4().hex[:10].upper()
        answer = f"Hello from Kiro through the gateway ({t})."
        script = self.mock.script({"prompt_contains": t},
                                  {"kind": "text", "chunks": [answer[:12], answer[12:]]})
        mark = self.mock.mark()
        home, work = self.new_home()
        out = self.codex(f"{t} hi", home, work)
        self.assertIn(answer, out)
        entries = self.entries(script, mark)
        self.assertEqual(len(entries), 1, f"{self.mock.requests(since=mark)}")
        self.assertEqual(entries[0]["validation"], {"ok": True})
        state = entries[0]["body"]["conversationState"]
        ctx = state["currentMessage"]["userInputMessage"]["userInputMessageContext"]
        names = {t["toolSpecification"]["name"] for t in ctx["tools"]}
        self.assertIn("exec_command", names)
        self.assertIn("You are a coding agent", json.dumps(state["history"][0]))
        self.assertRegex(state["conversationId"], r"^[0-9a-f]{8}-[0-9a-f]{4}-")

    def test_web_search(self) -> None:
        t = "T" + uuid.uuid4().hex[:10].upper()
        mark = self.mock.mark()
        home, work = self.new_home('web_search = "live"\n')
        done = self.codex_run(f"Please search for {t} kiro gateway", home, work)
        # Codex offered its hosted web_search tool; the mock's model called the
        # gateway's one, the gateway searched through /mcp and the model answered
        # from the results: Codex prints that answer.
        self.assertIn("Source: https://example.com/search/1", done.stdout,
                      f"stderr {done.stderr[-3000:]}")
        searches = self.mock.requests(since=mark, op="mcp")
        self.assertEqual([e["body"]["params"]["arguments"]["query"] for e in searches],
                         [f"{t} kiro gateway"])

    def test_reasoning_shown(self) -> None:
        t = "T" + uuid.uuid4().hex[:10].upper()
        script = self.mock.script({"prompt_contains": t}, "thinking")
        mark = self.mock.mark()
        home, work = self.new_home('model_reasoning_effort = "high"\n'
                                   'model_reasoning_summary = "detailed"\n')
        done = self.codex_run(f"{t} hi", home, work)
        # The answer on stdout, the reasoning summary in Codex's transcript.
        self.assertIn("Hi there!", done.stdout)
        self.assertNotIn("greeting", done.stdout)
        self.assertIn("The user wants a greeting.", done.stderr)
        entries = self.entries(script, mark)
        self.assertEqual(len(entries), 1)
        self.assertIn("<thinking_effort>high</thinking_effort>",
                      json.dumps(entries[0]["body"]["conversationState"]["history"][0]))

    def test_exec_command_round_trip(self) -> None:
        t = "T" + uuid.uuid4().hex[:10].upper()
        secret = f"file-content-{uuid.uuid4().hex}"
        marker = f"The file says {secret[:20]} ({t}-DONE)."
        home, work = self.new_home()
        (work / "note.txt").write_text(secret + "\n")
        call_id = "tooluse_" + uuid.uuid4().hex[:16]
        self.mock.script({"prompt_contains": t},
                         {"kind": "tool_use", "chunks": ["Reading the file."],
                          "tools": [{"name": "exec_command", "id": call_id,
                                     "input": {"cmd": "cat note.txt"}}]})
        second = self.mock.script({"prompt_contains": "Tool results provided."},
                                  {"kind": "text", "chunks": [marker]})
        mark = self.mock.mark()
        out = self.codex(f"{t} read note.txt", home, work)
        self.assertIn(marker, out)
        entries = self.entries(second, mark)
        self.assertEqual(len(entries), 1, f"{self.mock.requests(since=mark)}")
        self.assertEqual(entries[0]["validation"], {"ok": True})
        state = entries[0]["body"]["conversationState"]
        results = state["currentMessage"]["userInputMessage"]["userInputMessageContext"][
            "toolResults"]
        self.assertEqual([r["toolUseId"] for r in results], [call_id])
        self.assertIn(secret, json.dumps(results))
        uses = [u for h in state["history"]
                for u in (h.get("assistantResponseMessage") or {}).get("toolUses") or []]
        self.assertEqual([(u["toolUseId"], u["name"]) for u in uses], [(call_id, "exec_command")])

    def test_request_matches_fixture(self) -> None:
        fixture = json.loads(codexhelp.FIXTURE.read_text())
        home, work = self.new_home()
        # What Codex itself sends, through a capture in place of the gateway.
        with codexhelp.ResponsesCapture() as cap:
            codexhelp.codex_home(home, cap.base_url, codexhelp.RECORD_MODEL)
            done = codexhelp.run_codex(self.codex_exe, "hi",
                                       codexhelp.codex_env(home, "sk-x"), work,
                                       timeout=TIMEOUT)
            self.assertEqual(done.returncode, 0, done.stderr[-2000:])
            self.assertIn(codexhelp.CAPTURE_TEXT, done.stdout)
            posts = [e for e in cap.captured if e["method"] == "POST"]
        self.assertEqual(len(posts), 1)
        now = codexhelp.sanitize(posts[0])
        self.assertEqual(now["path"], fixture["path"])
        self.assertEqual(now["headers"]["authorization"], "Bearer sk-test")
        self.assertEqual(sorted(now["headers"]), sorted(fixture["headers"]))
        self.assertEqual(sorted(now["body"]), sorted(fixture["body"]))
        self.assertEqual([i.get("role") for i in now["body"]["input"]],
                         [i.get("role") for i in fixture["body"]["input"]])
        self.assertEqual([(x["type"], x.get("name")) for x in now["body"]["tools"]],
                         [(x["type"], x.get("name")) for x in fixture["body"]["tools"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
