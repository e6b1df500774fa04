#!/usr/bin/python3
"""Claude Code's real first request, replayed through kiro-fcgi behind lighttpd and Apache.

tests/fixtures/claude-code-first-request.json is what Claude Code 2.1.197 sent
for `claude -p 'hi'` (recorded with `tests/clients/clienthelp.py
record-fixture`; the API key replaced by "sk-test"): a HEAD probe of the base
URL, then POST /v1/messages?beta=true with an 85 KB body: its own
anthropic-beta list, `system` as 3 text blocks (one with cache_control), a
{"role":"system"} entry inside `messages` (mid-conversation-system beta),
`thinking: {"type":"adaptive"}`, `output_config.effort`, `context_management`,
25 tools, `metadata.user_id` as a JSON string, `max_tokens` 64000, stream true.

For lighttpd and Apache, each with the gateway mounted at "/kiro" and at "/",
the test sends the probe and the request exactly as recorded (headers and
body; the key is the gateway's) and checks:

  - HEAD of the base URL is answered 200 without credentials;
  - the answer is a 200 text/event-stream with the event sequence
    message_start, content_block_start, content_block_delta..., content_block_stop,
    message_delta (stop_reason end_turn, usage), message_stop, and the text is
    the mock's scripted answer;
  - the mock accepted the Kiro request (validation ok, status 200: no 400
    "Improperly formed request"), the model was mapped to a Kiro opus id, all
    25 tools arrived, the role:"system" message's text and the system prompt
    were carried, and adaptive thinking / effort became the thinking tags.

Needs the built kiro-fcgi ($KIRO_FCGI), the mock ($KIRO_MOCK), lighttpd,
apache2 and libapache2-mod-fcgid; no node.  Run by `make check`, or from the
build tree:  KIRO_FCGI=fcgi/kiro-fcgi /usr/bin/python3 \\
    $srcdir/tests/integration/test_claude_code_replay.py
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import Apache, Lighttpd, open_stream, request, sse_events  # noqa: E402
from kirostack import API_KEY, KIRO_FCGI, SRCDIR, GatewayConfig, MockKiro  # noqa: E402

FIXTURE = SRCDIR / "tests" / "fixtures" / "claude-code-first-request.json"
ANSWER = "Replayed Claude Code request answered by the mock (REPLAY-OK)."
SERVERS = ((Lighttpd, "/kiro"), (Lighttpd, "/"), (Apache, "/kiro"), (Apache, "/"))


def load_fixture() -> tuple[dict, bytes]:
    fixture = json.loads(FIXTURE.read_text())
    body = json.dumps(fixture["body"], ensure_ascii=False, separators=(",", ":")).encode()
    return fixture, body


class ClaudeCodeReplay(unittest.TestCase):

    @classmethod
    def setUpClass(cls) -> None:
        cls.fixture, cls.body = load_fixture()
        cls.tmp = Path(tempfile.mkdtemp(prefix="kiro-replay-"))
        cls.mock = MockKiro()
        cls.mock.start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.mock.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_fixture_is_claude_codes_first_request(self) -> None:
        fx, body = self.fixture, self.fixture["body"]
        self.assertTrue(fx["client"].startswith("claude 2.1.197"), fx["client"])
        self.assertEqual(fx["probe"], [{"method": "HEAD", "path": "/"}])
        self.assertEqual(fx["path"], "/v1/messages?beta=true")
        self.assertEqual(fx["headers"]["x-api-key"], "sk-test")
        self.assertGreater(len(self.body), 80_000)
        self.assertEqual(len(body["tools"]), 25)
        self.assertIn("system", [m["role"] for m in body["messages"]])
        self.assertEqual(body["thinking"], {"type": "adaptive"})
        self.assertIn("effort", body["output_config"])
        self.assertTrue(body["stream"])

    def test_replay(self) -> None:
        for server_cls, mount in SERVERS:
            with self.subTest(server=server_cls.kind, mount=mount):
                self.replay(server_cls, mount)

    def replay(self, server_cls, mount: str) -> None:
        srv = server_cls(KIRO_FCGI, mount=mount, procs=2)
        name = f"{server_cls.kind}{mount.replace('/', '-')}"
        conf = GatewayConfig(self.tmp, name, self.mock, user=srv.responder_user)
        srv.env.update(conf.env)
        with srv:
            # The connectivity probe: HEAD of the base URL, no credentials.
            probe = request(srv.base_url if mount != "/" else srv.root_url + "/", "HEAD")
            self.assertEqual(probe.status, 200, srv.error_log())

            tag = f"REPLAY-{name}"
            self.mock.clear_scripts()
            # The one generateAssistantResponse call of this replay.
            script = self.mock.script({},
                                      {"kind": "text", "chunks": [ANSWER[:20], ANSWER[20:]]})
            mark = self.mock.mark()
            headers = dict(self.fixture["headers"])
            headers["x-api-key"] = API_KEY
            with open_stream(srv.url(self.fixture["path"]), "POST", self.body,
                             headers, timeout=60) as resp:
                if resp.status != 200:
                    self.fail(f"{tag}: {resp.status} {resp.read()[:500]!r}\n{srv.error_log()}")
                self.assertTrue(resp.headers["Content-Type"].startswith("text/event-stream"))
                events = [(ev.event, json.loads(ev.data)) for ev in sse_events(resp)]

            names = [e for e, _ in events]
            self.assertEqual(names[:2], ["message_start", "content_block_start"], names)
            self.assertEqual(names[-3:], ["content_block_stop", "message_delta", "message_stop"],
                             names)
            self.assertTrue(all(n == "content_block_delta" for n in names[2:-3]), names)
            self.assertNotIn("error", names)
            start = events[0][1]["message"]
            self.assertEqual(start["role"], "assistant")
            self.assertEqual(start["model"], self.fixture["body"]["model"])
            text = "".join(d["delta"]["text"] for e, d in events if e == "content_block_delta")
            self.assertEqual(text, ANSWER)
            delta = events[-2][1]
            self.assertEqual(delta["delta"]["stop_reason"], "end_turn")
            self.assertGreater(delta["usage"]["output_tokens"], 0)

            entries = self.mock.requests(since=mark)
            self.assertEqual(len(entries), 1, [(e["status"], e["validation"]) for e in entries])
            entry = entries[0]
            self.assertEqual(entry["validation"], {"ok": True}, entry["validation"])
            self.assertEqual(entry["status"], 200)
            self.assertEqual(entry["script"], script)
            kiro = entry["body"]
            current = kiro["conversationState"]["currentMessage"]["userInputMessage"]
            self.assertTrue(current["modelId"].startswith("claude-opus-"), current["modelId"])
            tools = current["userInputMessageContext"]["tools"]
            self.assertEqual(sorted(t["toolSpecification"]["name"] for t in tools),
                             sorted(t["name"] for t in self.fixture["body"]["tools"]))
            dumped = json.dumps(kiro, ensure_ascii=False)
            system_msg = next(m for m in self.fixture["body"]["messages"]
                              if m["role"] == "system")
            system_text = (system_msg["content"] if isinstance(system_msg["content"], str)
                           else system_msg["content"][0]["text"])
            self.assertIn(json.dumps(system_text[:200], ensure_ascii=False)[1:-1], dumped)
            main_prompt = self.fixture["body"]["system"][2]["text"]
            self.assertIn(json.dumps(main_prompt[:200], ensure_ascii=False)[1:-1], dumped)
            self.assertIn("<thinking_mode>adaptive</thinking_mode>", dumped)
            self.assertIn("<thinking_effort>high</thinking_effort>", dumped)


if __name__ == "__main__":
    unittest.main(verbosity=2)
