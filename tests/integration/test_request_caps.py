#!/usr/bin/python3
"""The per-request caps (conv.h), on every front end, through a real lighttpd and a real Apache.

For each server (lighttpd at "/kiro", Apache at "/"), against the mock Kiro:
  - Anthropic /v1/messages: 1001 tools is 400 invalid_request_error "too
    many tools: 1001 (at most 1000 per request)", streamed or not; 17
    stop_sequences is 400 "stop_sequences[16]: at most 16 stop sequences
    are allowed", a 257-byte one "stop_sequences[1]: at most 256 bytes",
    16 are served;
  - OpenAI Chat Completions: a 257-byte stop string is 400
    invalid_request_error "stop: at most 256 bytes" with param "stop", in
    an array param "stop[1]"; 5 sequences are OpenAI's "at most 4";
  - OpenAI Responses: 10001 alternating input messages is 400 "too many
    messages: 10001";
  - Gemini generateContent: 20002 parts in two contents is 400
    INVALID_ARGUMENT "too many content blocks", and 17
    generationConfig.stopSequences is 400 INVALID_ARGUMENT naming
    generationConfig.stopSequences[16] (a 257-byte one [0]);
  - no refused request reaches the mock upstream;
  - history.maxPayloadBytes (60,000 here): a 300-turn Anthropic session of
    tool round trips (~500 KB as a Kiro body) reaches Kiro trimmed to fit,
    within about a turn of the limit, with the newest turns whole and in
    order and every tool use answered by the next message.

Run: /usr/bin/python3 tests/integration/test_request_caps.py
"""

from __future__ import annotations

import json
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, assert_anthropic_error  # noqa: E402

MOCK: Mock | None = None
MODEL = "claude-sonnet-4-5"


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def anthropic(**extra) -> dict:
    body = {"model": MODEL, "max_tokens": 64,
            "messages": [{"role": "user", "content": "Say hello"}]}
    body.update(extra)
    return body


class _Caps:
    server: str
    mount: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.gw = cls.enterClassContext(Gateway(cls.server, MOCK, mount=cls.mount,
                                                   accounts=[Account("caps")]))

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        MOCK.reset()
        self.gw.register_accounts()

    def assert_no_upstream(self) -> None:
        self.assertEqual(MOCK.stats()["generate"], 0)

    def assert_openai_error(self, resp, words: str, param: str | None = None) -> None:
        self.assertEqual(resp.status, 400, resp.body[:500])
        err = resp.json()["error"]
        self.assertEqual(err["type"], "invalid_request_error", err)
        self.assertIn(words, err["message"])
        if param is not None:
            self.assertEqual(err["param"], param, err)

    def assert_gemini_error(self, resp, words: str) -> None:
        self.assertEqual(resp.status, 400, resp.body[:500])
        err = resp.json()["error"]
        self.assertEqual(err["code"], 400, err)
        self.assertEqual(err["status"], "INVALID_ARGUMENT", err)
        self.assertIn(words, err["message"])

    def gemini(self, body: dict):
        return self.gw.post("/v1beta/models/gemini-2.5-flash:generateContent", body,
                            {"x-goog-api-key": self.gw.api_key}, auth=None)

    def test_anthropic_too_many_tools(self) -> None:
        tools = [{"name": f"tool{i}", "description": "d",
                  "input_schema": {"type": "object"}} for i in range(1001)]
        for stream in (False, True):
            resp = self.gw.messages(anthropic(tools=tools, stream=stream))
            assert_anthropic_error(self, resp, 400, "invalid_request_error",
                                   ["too many tools: 1001 (at most 1000 per request)"])
        self.assert_no_upstream()

    def test_anthropic_stop_sequences_capped(self) -> None:
        resp = self.gw.messages(anthropic(stop_sequences=[f"STOP{i}" for i in range(17)]))
        assert_anthropic_error(self, resp, 400, "invalid_request_error",
                               ["stop_sequences[16]: at most 16 stop sequences are allowed"])
        resp = self.gw.messages(anthropic(stop_sequences=["END", "x" * 257]))
        assert_anthropic_error(self, resp, 400, "invalid_request_error",
                               ["stop_sequences[1]: at most 256 bytes, not 257"])
        self.assert_no_upstream()
        resp = self.gw.messages(anthropic(stop_sequences=[f"STOP{i}" for i in range(16)]))
        self.assertEqual(resp.status, 200, resp.body[:500])

    def test_chat_stop_sequence_too_long(self) -> None:
        resp = self.gw.post("/v1/chat/completions",
                            {"model": MODEL, "stop": "x" * 257,
                             "messages": [{"role": "user", "content": "hi"}]}, auth="bearer")
        self.assert_openai_error(resp, "stop: at most 256 bytes, not 257", "stop")
        resp = self.gw.post("/v1/chat/completions",
                            {"model": MODEL, "stop": ["END", "x" * 257],
                             "messages": [{"role": "user", "content": "hi"}]}, auth="bearer")
        self.assert_openai_error(resp, "stop[1]: at most 256 bytes, not 257", "stop[1]")
        resp = self.gw.post("/v1/chat/completions",
                            {"model": MODEL, "stop": ["a", "b", "c", "d", "e"],
                             "messages": [{"role": "user", "content": "hi"}]}, auth="bearer")
        self.assert_openai_error(resp, "at most 4 sequences", "stop")
        self.assert_no_upstream()

    def test_responses_too_many_messages(self) -> None:
        items = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"}
                 for i in range(10001)]
        resp = self.gw.post("/v1/responses", {"model": MODEL, "input": items}, auth="bearer")
        self.assert_openai_error(resp, "too many messages: 10001 (at most 10000 per request)")
        self.assert_no_upstream()

    def test_gemini_too_many_blocks_and_stop_sequences(self) -> None:
        parts = [{"text": "x"}] * 10001
        resp = self.gemini({"contents": [{"role": "user", "parts": parts},
                                         {"role": "model", "parts": parts},
                                         {"role": "user", "parts": [{"text": "go"}]}]})
        self.assert_gemini_error(resp, "too many content blocks: 20003 (at most 20000")
        resp = self.gemini({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                            "generationConfig": {"stopSequences": [f"S{i}" for i in range(17)]}})
        self.assert_gemini_error(resp, "generationConfig.stopSequences[16]: at most 16 stop "
                                       "sequences are allowed")
        resp = self.gemini({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                            "generationConfig": {"stopSequences": ["x" * 257]}})
        self.assert_gemini_error(resp, "generationConfig.stopSequences[0]: at most 256 bytes, "
                                       "not 257")
        self.assert_no_upstream()


TRIM_LIMIT = 60000
TRIM_TURNS = 300


def long_session() -> dict:
    """TRIM_TURNS turns of a Read round trip each, then a last question."""
    messages = []
    for i in range(TRIM_TURNS):
        messages += [
            {"role": "user", "content": f"turn {i}: what does \"file {i}\" do?\n" + "q" * 400},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": f"toolu_{i:04d}", "name": "Read",
                 "input": {"path": f"/src/file_{i}.c"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": f"toolu_{i:04d}",
                 "content": "int main(void)\n{\n\treturn 0;\n}\n" + "/" * 600}]},
            {"role": "assistant", "content": f"done {i}"}]
    messages.append({"role": "user", "content": "final question"})
    return anthropic(messages=messages, tools=[{
        "name": "Read", "description": "Reads a file",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}])


class _Trim:
    server: str
    mount: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.gw = cls.enterClassContext(Gateway(
                cls.server, MOCK, mount=cls.mount, accounts=[Account("trim")],
                config={"history": {"maxImageMessages": 5, "maxPayloadBytes": TRIM_LIMIT}}))

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        MOCK.reset()
        self.gw.register_accounts()

    def test_long_session_trimmed_to_fit(self) -> None:
        resp = self.gw.messages(long_session())
        self.assertEqual(resp.status, 200, resp.body[:500])
        log = MOCK.requests()
        self.assertEqual(len(log), 1)
        body = log[0]["body"]
        size = len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
        self.assertLessEqual(size, TRIM_LIMIT)
        self.assertGreater(size, TRIM_LIMIT - 4000)    # a turn is about 1.5 KB
        state = body["conversationState"]
        self.assertEqual(state["currentMessage"]["userInputMessage"]["content"],
                         "final question")
        history = state["history"]
        first = re.match(r"turn (\d+): ", history[0]["userInputMessage"]["content"])
        self.assertIsNotNone(first, history[0])
        kept = int(first.group(1))
        self.assertGreater(kept, 0)
        # Every turn from the oldest kept to the newest, whole and in order.
        self.assertEqual(len(history), 4 * (TRIM_TURNS - kept))
        for n, entry in enumerate(history):
            i, step = kept + n // 4, n % 4
            if step == 0:
                self.assertTrue(entry["userInputMessage"]["content"].startswith(f"turn {i}: "))
                self.assertNotIn("userInputMessageContext", entry["userInputMessage"])
            elif step == 1:
                uses = entry["assistantResponseMessage"]["toolUses"]
                self.assertEqual([u["toolUseId"] for u in uses], [f"toolu_{i:04d}"])
            elif step == 2:
                results = entry["userInputMessage"]["userInputMessageContext"]["toolResults"]
                self.assertEqual([r["toolUseId"] for r in results], [f"toolu_{i:04d}"])
            else:
                self.assertEqual(entry["assistantResponseMessage"]["content"], f"done {i}")


class LighttpdTrim(_Trim, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"


class ApacheTrim(_Trim, unittest.TestCase):
    server, mount = "apache", "/"


class LighttpdCaps(_Caps, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"


class ApacheCaps(_Caps, unittest.TestCase):
    server, mount = "apache", "/"


if __name__ == "__main__":
    unittest.main(verbosity=2)
