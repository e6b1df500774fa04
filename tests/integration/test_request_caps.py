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
  - no refused request reaches the mock upstream.

Run: /usr/bin/python3 tests/integration/test_request_caps.py
"""

from __future__ import annotations

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


class LighttpdCaps(_Caps, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"


class ApacheCaps(_Caps, unittest.TestCase):
    server, mount = "apache", "/"


if __name__ == "__main__":
    unittest.main(verbosity=2)
