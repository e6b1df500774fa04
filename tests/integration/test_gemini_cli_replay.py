#!/usr/bin/python3
"""Gemini CLI's real requests, replayed through kiro-fcgi behind lighttpd and Apache.

tests/fixtures/gemini-cli-request.json is what @google/gemini-cli 0.61.0 sent
for `gemini -p 'hi'` (recorded with `tests/clients/test_gemini_cli.py
record-fixture`; the key replaced by "gem-test", temporary paths by
/tmp/gemini-cli):
  1. POST /v1beta/models/gemini-3.5-flash-lite:generateContent, the model-router
     classifier: systemInstruction "Task Routing AI", two user contents,
     generationConfig.responseMimeType application/json with a
     responseJsonSchema in OpenAPI style (OBJECT / STRING / INTEGER), and
     thinkingConfig {includeThoughts, thinkingLevel HIGH};
  2. POST /v1beta/models/<model>:streamGenerateContent?alt=sse: the prompt,
     the CLI's system instruction, tools as functionDeclarations with
     parametersJsonSchema, thinkingConfig.

For lighttpd and Apache, each with the gateway mounted at "/kiro" and at "/",
the test sends both exactly as recorded (headers and body; the key is the
gateway's) and checks:

  - the classifier answer is a 200 GenerateContentResponse whose text is JSON
    with complexity_reasoning (string) and complexity_score (integer), as
    the mock was scripted (the CLI validates it against its schema);
  - the main answer is a 200 text/event-stream of "data:" chunks with the
    scripted text and a last chunk with finishReason STOP and usage;
  - the mock accepted both Kiro requests (no "Improperly formed request"),
    flash names were mapped to claude-haiku-4.5, every declared function
    arrived as a tool with its schema, the system instructions were carried,
    and thinkingLevel HIGH became adaptive thinking with effort high.

Needs the built kiro-fcgi ($KIRO_FCGI), the mock ($KIRO_MOCK), lighttpd,
apache2 and libapache2-mod-fcgid; no node.
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

FIXTURE = SRCDIR / "tests" / "fixtures" / "gemini-cli-request.json"
ROUTER_ANSWER = '{"complexity_reasoning": "A greeting.", "complexity_score": 3}'
ANSWER = "Replayed Gemini CLI request answered by the mock (REPLAY-OK)."
SERVERS = ((Lighttpd, "/kiro"), (Lighttpd, "/"), (Apache, "/kiro"), (Apache, "/"))


def encode(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class GeminiCLIReplay(unittest.TestCase):

    @classmethod
    def setUpClass(cls) -> None:
        cls.fixture = json.loads(FIXTURE.read_text())
        cls.router, cls.main = cls.fixture["requests"]
        cls.tmp = Path(tempfile.mkdtemp(prefix="kiro-gemreplay-"))
        cls.mock = MockKiro()
        cls.mock.start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.mock.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_fixture_is_the_cli_requests(self) -> None:
        self.assertTrue(self.fixture["client"].startswith("@google/gemini-cli 0.61"))
        self.assertTrue(self.router["path"].endswith(":generateContent"))
        config = self.router["body"]["generationConfig"]
        self.assertEqual(config["responseMimeType"], "application/json")
        self.assertEqual(config["responseJsonSchema"]["type"], "OBJECT")
        self.assertIn("Task Routing", json.dumps(self.router["body"]["systemInstruction"]))
        self.assertTrue(self.main["path"].endswith(":streamGenerateContent?alt=sse"))
        self.assertGreater(len(self.main["body"]["tools"][0]["functionDeclarations"]), 3)
        for r in (self.router, self.main):
            self.assertEqual(r["headers"]["x-goog-api-key"], "gem-test")

    def test_replay(self) -> None:
        for server_cls, mount in SERVERS:
            with self.subTest(server=server_cls.kind, mount=mount):
                self.replay(server_cls, mount)

    def send(self, srv, entry: dict):
        headers = dict(entry["headers"])
        headers["x-goog-api-key"] = API_KEY
        return headers

    def replay(self, server_cls, mount: str) -> None:
        srv = server_cls(KIRO_FCGI, mount=mount, procs=2)
        name = f"{server_cls.kind}{mount.replace('/', '-')}"
        conf = GatewayConfig(self.tmp, name, self.mock, user=srv.responder_user)
        srv.env.update(conf.env)
        with srv:
            self.mock.clear_scripts()
            router_script = self.mock.script({}, {"kind": "text", "chunks": [
                ROUTER_ANSWER[:25], ROUTER_ANSWER[25:]]})
            main_script = self.mock.script({}, {"kind": "text", "chunks": [
                ANSWER[:20], ANSWER[20:]]})
            mark = self.mock.mark()

            # 1. the classifier
            resp = request(srv.url(self.router["path"]), "POST", encode(self.router["body"]),
                           self.send(srv, self.router), timeout=60)
            self.assertEqual(resp.status, 200, f"{resp.body[:500]!r}\n{srv.error_log()}")
            doc = resp.json()
            cand = doc["candidates"][0]
            self.assertEqual(cand["finishReason"], "STOP")
            text = "".join(p.get("text", "") for p in cand["content"]["parts"]
                           if not p.get("thought"))
            answer = json.loads(text)
            self.assertIsInstance(answer["complexity_reasoning"], str)
            self.assertIsInstance(answer["complexity_score"], int)

            # 2. the main call, streamed
            with open_stream(srv.url(self.main["path"]), "POST", encode(self.main["body"]),
                             self.send(srv, self.main), timeout=60) as stream:
                if stream.status != 200:
                    self.fail(f"{stream.status} {stream.read()[:500]!r}\n{srv.error_log()}")
                self.assertTrue(stream.headers["Content-Type"].startswith("text/event-stream"))
                chunks = [json.loads(ev.data) for ev in sse_events(stream)]
            parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
            self.assertEqual("".join(p["text"] for p in parts if not p.get("thought")), ANSWER)
            self.assertEqual(chunks[-1]["candidates"][0]["finishReason"], "STOP")
            self.assertGreater(chunks[-1]["usageMetadata"]["candidatesTokenCount"], 0)

            entries = {e["script"]: e for e in self.mock.requests(since=mark)}
            self.assertEqual(set(entries), {router_script, main_script})
            for e in entries.values():
                self.assertEqual(e["validation"], {"ok": True}, e["validation"])
                self.assertEqual(e["status"], 200)
            kiro = entries[router_script]["body"]
            dumped = json.dumps(kiro, ensure_ascii=False)
            current = kiro["conversationState"]["currentMessage"]["userInputMessage"]
            self.assertEqual(current["modelId"], "claude-haiku-4.5")
            self.assertIn("Task Routing AI", dumped)
            self.assertIn("<thinking_mode>adaptive</thinking_mode>", dumped)
            self.assertIn("<thinking_effort>high</thinking_effort>", dumped)

            kiro = entries[main_script]["body"]
            current = kiro["conversationState"]["currentMessage"]["userInputMessage"]
            model = self.main["path"].split("/models/")[1].split(":")[0]
            self.assertEqual(current["modelId"], "claude-haiku-4.5" if "flash" in model
                             else "claude-sonnet-4.5")
            sent = {t["toolSpecification"]["name"]: t["toolSpecification"]
                    for t in current["userInputMessageContext"]["tools"]}
            declared = self.main["body"]["tools"][0]["functionDeclarations"]
            self.assertEqual(sorted(sent), sorted(d["name"] for d in declared))
            for d in declared:
                schema = sent[d["name"]]["inputSchema"]["json"]
                self.assertEqual(schema.get("properties"),
                                 d["parametersJsonSchema"].get("properties"), d["name"])
            system = self.main["body"]["systemInstruction"]["parts"][0]["text"]
            self.assertIn(json.dumps(system[:200], ensure_ascii=False)[1:-1],
                          json.dumps(kiro, ensure_ascii=False))


if __name__ == "__main__":
    unittest.main(verbosity=2)
