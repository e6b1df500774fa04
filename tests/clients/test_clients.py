#!/usr/bin/python3
"""Real Anthropic clients against kiro-fcgi: the npm SDK and Claude Code.

Versions are pinned in tests/clients/package.json and package-lock.json
(@anthropic-ai/sdk 1.11.0, @anthropic-ai/claude-code 2.1.197: the newest
Claude Code that installs on node 20).  node_modules comes from
$KIRO_NODE_MODULES, tests/clients/node_modules, or `npm ci --prefix
<builddir>/tests/clients-npm` run by this test (see clienthelp.py); when npm
cannot install, the test FAILS with npm's output.  Nothing is skipped.

Set-up: the mock Kiro upstream (tests/mock/kiro_mock.py) with one account, and
kiro-fcgi behind two real lighttpd servers, one mounted at "/kiro" and one at
"/" (tests/integration/harness.py).  The mock's answers are scripted per test
(match.prompt_contains on a unique tag in each prompt) and its request log
shows the Kiro requests the gateway made.

Anthropic SDK (anthropic-sdk.mjs, run with node once per mount; it prints
JSON that is checked here):
  - messages.create, not streamed: the scripted text, model, stop_reason, usage;
  - messages.stream() + finalMessage(): text, the text deltas, usage and the
    SSE event sequence;
  - a tool round trip: the mock answers with a tool_use of get_weather (input
    sent in fragments), the SDK sends the tool_result back, the second answer's
    text is checked, and the second Kiro request carries the tool result in
    userInputMessageContext.toolResults (toolUseId, text, status) and the
    tool call in its history;
  - thinking enabled: a thinking block (with a signature) before the text;
  - messages.countTokens, models.list (the seed catalogue);
  - a wrong key raises AuthenticationError (401, authentication_error);
  - web search (only the web_search server tool, as Claude Code's WebSearch
    sends it), create and stream: text, server_tool_use with the query,
    web_search_tool_result with the mock's two URLs, the summary text and
    usage.server_tool_use.web_search_requests 1, from one /mcp call each and
    no model call.

Claude Code (`claude -p`, stdin </dev/null, HOME a fresh directory,
DISABLE_AUTOUPDATER=1, a 60 s timeout):
  - with ANTHROPIC_API_KEY and the default model (an opus name the gateway
    must map to a Kiro opus id), at both mounts: stdout is the mock's answer;
  - with ANTHROPIC_AUTH_TOKEN (Authorization: Bearer) and --model
    claude-sonnet-4-5 (mapped to claude-sonnet-4.5);
  - an agentic round trip: the mock answers the prompt with a tool_use of
    Claude Code's own `Read` tool on a file the test wrote; Claude Code reads
    it and sends the tool_result; the mock answers that with a text holding a
    marker, which Claude Code must print; the second Kiro request must carry
    the file's unique content in toolResults;
  - WebSearch: the mock's model calls Claude Code's WebSearch tool for a
    prompt that asks to search; Claude Code sends its web_search-only request,
    the gateway answers it from one /mcp call, and the model's final answer
    (citing the first result's URL) is printed (`-p` needs
    `--allowedTools WebSearch`: without it Claude Code denies the tool);
  - the request shape of the pinned Claude Code still matches the recorded
    tests/fixtures/claude-code-first-request.json (replayed without node by
    tests/integration/test_claude_code_replay.py).

What Claude Code needs here, found by trying: nothing beyond the environment
above.  `-p` runs non-interactively without any permission flag, and the Read
tool on a file in the working directory is allowed without asking.  Running as
root, `--dangerously-skip-permissions` is refused ("cannot be used with
root/sudo privileges", exit 1), so it is not used.  npm 11 does not run the
package's postinstall script (allowScripts); the claude binary works anyway.
Claude Code first sends `HEAD <base URL>` (the gateway answers 200), and for
some prompts it makes an extra call that asks for a session title ("<session>
PROMPT </session> ... Write the title ..."); that call contains the prompt too,
so each Claude Code test first queues a script answering it, ahead of the
test's own scripts.

Run by `make check`; from a build tree: KIRO_FCGI=fcgi/kiro-fcgi
/usr/bin/python3 $srcdir/tests/clients/test_clients.py.  It takes 5-10 s
once node_modules exists (about 20 s on a busy 2-core machine); `npm ci`
adds about 5 s with a warm npm cache (it downloads about 250 MB when cold).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import unittest
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

import clienthelp  # noqa: E402
from harness import Lighttpd  # noqa: E402
from kirostack import API_KEY  # noqa: E402

SDK_MODEL = "claude-sonnet-4-6"
CLAUDE_TIMEOUT = 60.0
SEED_MODELS = ("auto", "claude-sonnet-4.5", "claude-sonnet-4", "claude-haiku-4.5",
               "claude-opus-4.5", "claude-opus-4.6", "claude-sonnet-4.6")


class ClientTests(clienthelp.ClientTestCase):

    PREFIX = "kiro-clients-"

    @classmethod
    def setUpClass(cls) -> None:
        cls.timings: dict[str, float] = {}
        started = time.monotonic()
        super().setUpClass()
        cls.timings["set-up"] = time.monotonic() - started

    @classmethod
    def find_clients(cls) -> None:
        cls.claude_exe = clienthelp.claude_bin(cls.modules)

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        if cls.timings:
            print("\ntimings: " + ", ".join(f"{k} {v:.1f}s" for k, v in cls.timings.items()),
                  file=sys.stderr)

    def setUp(self) -> None:
        self.mock.clear_scripts()

    # --- Anthropic SDK ----------------------------------------------------------

    def test_anthropic_sdk(self) -> None:
        for mount in self.MOUNTS:
            with self.subTest(mount=mount):
                self.run_sdk(self.servers[mount])

    def run_sdk(self, srv: Lighttpd) -> None:
        t = clienthelp.tag()
        text, call_id, result_script = self.script_basics(t, "toolu_")
        self.mock.script({"prompt_contains": f"{t}-thinking"}, "thinking")
        mark = self.mock.mark()

        started = time.monotonic()
        res = self.run_node("anthropic-sdk.mjs", srv.base_url, SDK_MODEL, t)
        self.timings[f"sdk {srv.mount}"] = time.monotonic() - started

        create = res["create"]
        self.assertEqual(create["text"], text["create"])
        self.assertEqual((create["type"], create["role"]), ("message", "assistant"))
        self.assertEqual(create["model"], SDK_MODEL)
        self.assertEqual(create["stop_reason"], "end_turn")
        self.assertGreater(create["usage"]["input_tokens"], 0)
        self.assertGreater(create["usage"]["output_tokens"], 0)

        stream = res["stream"]
        self.assertEqual(stream["text"], text["stream"])
        self.assertEqual(stream["deltas"], text["stream"])
        self.assertEqual(stream["stop_reason"], "end_turn")
        self.assertGreater(stream["usage"]["input_tokens"], 0)
        self.assertGreater(stream["usage"]["output_tokens"], 0)
        ev = stream["events"]
        self.assertEqual(ev[:2], ["message_start", "content_block_start"])
        self.assertEqual(ev[-3:], ["content_block_stop", "message_delta", "message_stop"])
        self.assertGreaterEqual(ev.count("content_block_delta"), 3)

        tools = res["tools"]
        self.assertEqual(tools["first_stop"], "tool_use")
        self.assertEqual(tools["first_text"], "Let me check.")
        self.assertEqual(tools["tool_use"], {"id": call_id, "name": "get_weather",
                                             "input": {"city": "Paris"}})
        self.assertEqual(tools["second_stop"], "end_turn")
        self.assertEqual(tools["second_text"], text["tools"])
        entry = self.entry_for(result_script, mark)
        self.assert_tool_round_trip(entry, call_id, t)
        ctx = entry["body"]["conversationState"]["currentMessage"]["userInputMessage"][
            "userInputMessageContext"]
        self.assertEqual([s["toolSpecification"]["name"] for s in ctx["tools"]],
                         ["get_weather"])

        blocks = res["thinking"]["blocks"]
        self.assertEqual([b["type"] for b in blocks], ["thinking", "text"], blocks)
        self.assertEqual(blocks[0]["text"], "The user wants a greeting.")
        self.assertEqual(blocks[0]["signature"], "string")
        self.assertEqual(blocks[1]["text"], "Hi there!")

        self.assertGreater(res["count"]["input_tokens"], 0)
        self.assertTrue(set(SEED_MODELS) <= set(res["models"]["ids"]), res["models"])
        self.assertEqual(res["badkey"], {"thrown": "AuthenticationError",
                                         "authentication_error": True, "status": 401,
                                         "type": "authentication_error"})

        query = f"{t}-websearch kiro"
        for how in ("create", "stream"):
            search = res["websearch"][how]
            self.assertEqual(search["types"], ["text", "server_tool_use",
                                               "web_search_tool_result", "text"], search)
            self.assertEqual(search["query"], query)
            self.assertEqual(search["urls"], ["https://example.com/search/1",
                                              "https://example.org/search/2"])
            self.assertIn(f"Here are the search results for \"{query}\"", search["text"])
            self.assertEqual(search["stop_reason"], "end_turn")
            self.assertEqual(search["server_tool_use"], {"web_search_requests": 1})
        searches = [e for e in self.mock.requests(since=mark, op="mcp")
                    if e["body"]["params"]["arguments"]["query"] == query]
        self.assertEqual(len(searches), 2)

    # --- Claude Code ------------------------------------------------------------

    def claude(self, name: str, srv: Lighttpd, prompt: str, *, args: tuple[str, ...] = (),
               bearer: bool = False, cwd: Path | None = None) -> str:
        """Run claude -p PROMPT against srv; its stdout (the run must succeed)."""
        home = Path(tempfile.mkdtemp(dir=self.tmp))
        cwd = cwd or Path(tempfile.mkdtemp(dir=self.tmp))
        env = clienthelp.claude_env(home, srv.base_url,
                                    api_key=None if bearer else API_KEY,
                                    auth_token=API_KEY if bearer else None)
        started = time.monotonic()
        done = clienthelp.run_claude(self.claude_exe, ["-p", prompt, *args], env, cwd,
                                     CLAUDE_TIMEOUT)
        self.timings[f"claude {name}"] = time.monotonic() - started
        self.assertEqual(done.returncode, 0,
                         f"claude exited {done.returncode}\nstdout {done.stdout}\n"
                         f"stderr {done.stderr}\n{self.logs()}")
        return done.stdout

    def script_title(self) -> None:
        """Answer Claude Code's session-title call, which also contains the prompt."""
        self.mock.script({"prompt_contains": "Write the title"},
                         {"kind": "text", "chunks": ["Client test"]}, times=-1)

    def test_claude_code_api_key_default_model(self) -> None:
        for mount in self.MOUNTS:
            with self.subTest(mount=mount):
                self.mock.clear_scripts()
                self.script_title()
                t = clienthelp.tag()
                answer = f"Kiro answers {t} through kiro-fcgi."
                sid = self.mock.script({"prompt_contains": t},
                                       {"kind": "text", "chunks": [answer[:10], answer[10:]]})
                mark = self.mock.mark()
                out = self.claude(f"key {mount}", self.servers[mount], f"{t} say something")
                self.assertIn(answer, out)
                current = self.entry_for(sid, mark)["body"]["conversationState"][
                    "currentMessage"]["userInputMessage"]
                self.assertTrue(current["modelId"].startswith("claude-opus-"),
                                current["modelId"])

    def test_claude_code_bearer_sonnet(self) -> None:
        self.script_title()
        t = clienthelp.tag()
        answer = f"Bearer works ({t})."
        sid = self.mock.script({"prompt_contains": t}, {"kind": "text", "chunks": [answer]})
        mark = self.mock.mark()
        out = self.claude("bearer sonnet", self.servers["/kiro"], f"{t} hello",
                          args=("--model", "claude-sonnet-4-5"), bearer=True)
        self.assertIn(answer, out)
        entry = self.entry_for(sid, mark)
        current = entry["body"]["conversationState"]["currentMessage"]["userInputMessage"]
        self.assertEqual(current["modelId"], "claude-sonnet-4.5")

    def test_claude_code_read_tool_round_trip(self) -> None:
        work = Path(tempfile.mkdtemp(dir=self.tmp))
        secret = f"kiro-fcgi read-tool content {uuid.uuid4().hex}"
        note = work / "note.txt"
        note.write_text(secret + "\n")
        t = clienthelp.tag()
        marker = f"MARKER-{uuid.uuid4().hex[:12]}"
        call_id = "toolu_" + uuid.uuid4().hex[:20]
        self.script_title()
        first = self.mock.script({"prompt_contains": t}, {
            "kind": "tool_use", "chunks": ["I will read the file."],
            "tools": [{"name": "Read", "id": call_id, "input": {"file_path": str(note)}}]})
        second = self.mock.script({"prompt_contains": "Tool results provided."},
                                  {"kind": "text", "chunks": [f"The note says: {marker}"]})
        mark = self.mock.mark()
        out = self.claude("read tool", self.servers["/"], f"{t} what does note.txt say?",
                          cwd=work)
        self.assertIn(marker, out)
        self.entry_for(first, mark)
        kiro = self.entry_for(second, mark)["body"]["conversationState"]
        results = kiro["currentMessage"]["userInputMessage"]["userInputMessageContext"][
            "toolResults"]
        self.assertEqual(len(results), 1, results)
        self.assertEqual(results[0]["toolUseId"], call_id)
        self.assertEqual(results[0]["status"], "success")
        self.assertIn(secret, json.dumps(results[0]["content"]))
        uses = [u for h in kiro["history"]
                for u in (h.get("assistantResponseMessage") or {}).get("toolUses") or []]
        self.assertEqual(uses, [{"toolUseId": call_id, "name": "Read",
                                 "input": {"file_path": str(note)}}])

    def test_claude_code_web_search(self) -> None:
        t = clienthelp.tag()
        self.script_title()
        mark = self.mock.mark()
        out = self.claude("web search", self.servers["/kiro"],
                          f"Please search the web for {t} kiro gateway",
                          args=("--allowedTools", "WebSearch"))
        # The mock's model called WebSearch; Claude Code asked the gateway for
        # the search (web_search alone), the gateway asked /mcp, and the model
        # answered from the results Claude Code sent back.
        self.assertIn("Source: https://example.com/search/1", out, self.logs())
        searches = self.mock.requests(since=mark, op="mcp")
        self.assertEqual([e["body"]["params"]["arguments"]["query"] for e in searches],
                         [f"{t} kiro gateway"])
        gens = self.mock.requests(since=mark)
        offered = [s["toolSpecification"]["name"] for e in gens
                   for s in e["body"]["conversationState"]["currentMessage"][
                       "userInputMessage"].get("userInputMessageContext", {}).get("tools", [])]
        self.assertIn("WebSearch", offered)

    def test_claude_code_first_request_matches_fixture(self) -> None:
        fixture = json.loads(clienthelp.FIXTURE.read_text())
        started = time.monotonic()
        captured, out = clienthelp.capture_first_request(self.claude_exe, "hi")
        self.timings["claude capture"] = time.monotonic() - started
        self.assertIn(clienthelp.CAPTURE_TEXT, out)
        first = clienthelp.sanitize(clienthelp.first_messages_request(captured))
        self.assertEqual([{"method": e["method"], "path": e["path"]}
                          for e in captured[:1]], fixture["probe"])
        self.assertEqual(first["path"], fixture["path"])
        self.assertEqual(sorted(first["headers"]), sorted(fixture["headers"]))
        self.assertEqual(first["headers"]["anthropic-beta"], fixture["headers"]["anthropic-beta"])
        body, want = first["body"], fixture["body"]
        self.assertEqual(list(body), list(want))
        self.assertEqual([t["name"] for t in body["tools"]], [t["name"] for t in want["tools"]])
        self.assertEqual([m["role"] for m in body["messages"]],
                         [m["role"] for m in want["messages"]])
        for key in ("model", "thinking", "output_config", "context_management", "max_tokens"):
            self.assertEqual(body[key], want[key], key)


if __name__ == "__main__":
    unittest.main(verbosity=2)
