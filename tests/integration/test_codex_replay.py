#!/usr/bin/python3
"""Codex CLI's real request, replayed through kiro-fcgi behind lighttpd and Apache.

tests/fixtures/codex-request.json is what Codex CLI 0.169.0 sent for
`codex exec 'hi'` with a custom provider (recorded with
`tests/clients/codexhelp.py record-fixture`; the key replaced by "sk-test"):
POST /v1/responses, about 40 KB: `input` as 4 message items (two developer
messages of input_text parts, the environment context and "hi"), 9 tools
(7 functions, a "namespace" tool and web_search), tool_choice auto,
parallel_tool_calls, reasoning {summary: auto}, store false,
include [reasoning.encrypted_content], prompt_cache_key, client_metadata,
stream true, and the session-id / thread-id / x-codex-* headers.

The recorded model, gpt-5.1-codex, is an OpenAI name; the replay sends the
request with a Claude name instead, so that it passes whether or not the
gateway's model table knows OpenAI names.  For lighttpd and Apache the test
sends the request as recorded otherwise (headers and body; the key is the
gateway's) and checks:

  - a 200 text/event-stream whose events are response.created,
    response.in_progress, the message item's added / content_part.added /
    output_text.delta... / output_text.done / content_part.done / done, and
    response.completed with usage, with consecutive sequence_numbers; the
    text is the mock's scripted answer;
  - the mock accepted the Kiro request (validation ok); the 7 function
    tools arrived with the gateway's own web_search (standing for Codex's
    hosted one) and the namespace tool did not; the
    developer messages are in the system text, "hi" is the current message,
    and the conversation id is Codex's session-id header.

Needs the built kiro-fcgi, the mock, lighttpd, apache2 and
libapache2-mod-fcgid; no node.  Run by `make check`, or from the build tree:
KIRO_FCGI=fcgi/kiro-fcgi /usr/bin/python3 $srcdir/tests/integration/test_codex_replay.py
"""

from __future__ import annotations

import json
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gateway as gw  # noqa: E402
from gateway import SRCDIR, Account, Gateway, Mock  # noqa: E402
from harness import open_stream, sse_events  # noqa: E402

FIXTURE = SRCDIR / "tests" / "fixtures" / "codex-request.json"
ANSWER = "Replayed Codex request answered by the mock (CODEX-REPLAY-OK)."
MODEL = "claude-sonnet-4-5"


def load_fixture() -> dict:
    return json.loads(FIXTURE.read_text())


class FixtureShape(unittest.TestCase):
    def test_fixture_is_codex_request(self) -> None:
        fx = load_fixture()
        body = fx["body"]
        self.assertEqual(fx["client"], "codex-cli 0.169.0")
        self.assertEqual((fx["method"], fx["path"]), ("POST", "/v1/responses"))
        self.assertEqual(fx["headers"]["authorization"], "Bearer sk-test")
        self.assertEqual(fx["headers"]["originator"], "codex_exec")
        self.assertIn("session-id", fx["headers"])
        self.assertEqual(body["model"], "gpt-5.1-codex")
        self.assertEqual([i.get("role") for i in body["input"]],
                         ["developer", "developer", "user", "user"])
        self.assertEqual(body["input"][-1]["content"], [{"type": "input_text", "text": "hi"}])
        self.assertEqual(sorted({t["type"] for t in body["tools"]}),
                         ["function", "namespace", "web_search"])
        self.assertIs(body["store"], False)
        self.assertIs(body["stream"], True)
        self.assertEqual(body["reasoning"], {"summary": "auto"})
        self.assertEqual(body["prompt_cache_key"], fx["headers"]["session-id"])


class _Replay:
    server: str
    mock: Mock

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        cls.fixture = load_fixture()
        if cls.missing is None:
            cls.mock = Mock().start()
            cls.addClassCleanup(cls.mock.stop)
            cls.gw = cls.enterClassContext(Gateway(cls.server, cls.mock,
                                                   accounts=[Account("codex")]))

    def test_replay(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        fx = self.fixture
        body = dict(fx["body"], model=MODEL)
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = dict(fx["headers"], authorization=f"Bearer {self.gw.api_key}")
        self.mock.script({"kind": "text", "chunks": [ANSWER[:25], ANSWER[25:]]})
        with open_stream(self.gw.url(fx["path"]), "POST", data, headers, timeout=60) as resp:
            if resp.status != 200:
                self.fail(f"{resp.status} {resp.read()[:500]!r}\n{self.gw.log()}")
            self.assertTrue(resp.headers["Content-Type"].startswith("text/event-stream"))
            events = [(ev.event, json.loads(ev.data)) for ev in sse_events(resp)]

        names = [n for n, _ in events]
        self.assertEqual(names[:5], ["response.created", "response.in_progress",
                                     "response.output_item.added",
                                     "response.content_part.added",
                                     "response.output_text.delta"], names)
        self.assertEqual(names[-4:], ["response.output_text.done", "response.content_part.done",
                                      "response.output_item.done", "response.completed"], names)
        self.assertEqual([d["sequence_number"] for _, d in events], list(range(len(events))))
        text = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
        self.assertEqual(text, ANSWER)
        done = events[-1][1]["response"]
        self.assertEqual(done["status"], "completed")
        self.assertGreater(done["usage"]["output_tokens"], 0)
        self.assertEqual(done["usage"]["total_tokens"],
                         done["usage"]["input_tokens"] + done["usage"]["output_tokens"])

        entries = self.mock.requests()
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries[0]["validation"], {"ok": True})
        state = entries[0]["body"]["conversationState"]
        current = state["currentMessage"]["userInputMessage"]
        self.assertEqual(current["content"].strip()[-2:], "hi")
        tools = sorted(t["toolSpecification"]["name"]
                       for t in current["userInputMessageContext"]["tools"])
        # Codex's hosted web_search becomes the gateway's own web_search tool
        # (test_web_search.py).
        self.assertEqual(tools, sorted([t["name"] for t in fx["body"]["tools"]
                                        if t["type"] == "function"] + ["web_search"]))
        dumped = json.dumps(state, ensure_ascii=False)
        dev = fx["body"]["input"][0]["content"][0]["text"]
        self.assertIn(json.dumps(dev[:200], ensure_ascii=False)[1:-1], dumped)
        self.assertEqual(state["conversationId"], fx["headers"]["session-id"])


class LighttpdCodexReplay(_Replay, unittest.TestCase):
    server = "lighttpd"


class ApacheCodexReplay(_Replay, unittest.TestCase):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
