#!/usr/bin/python3
"""The pre-flight check of Kiro bodies (shared/preflight.h), through a real lighttpd and a real Apache.

The mock Kiro enforces every rule of doc/protocol.md §3.5 and the limits of
§3.3/§12 (tests/mock/README.md), answering 400 "Improperly formed request."
like Kiro.  For each server (lighttpd at "/kiro", Apache at "/"), hostile but
valid client conversations on all four APIs:
  - repairable ones (orphan and repeated tool results, repeated tool-use
    ids, unanswered tool uses, empty texts and assistant turns, a prefill,
    a 20,000-character description, names Kiro refuses, null schema
    fields, nested "" input keys, tools used in history but not defined)
    are served: 200, and the mock saw a valid body;
  - what has no repair gets a 400 in the client's own format naming the
    rule and the client's path, without an upstream call: 200 tools
    ("tools[128]: 200 tools ... (Kiro rule: tool count)"; Gemini
    "tools[0].functionDeclarations[128]"), 21 images
    ("messages[0].content[21]: more than 20 images"), a tool schema of
    type "string" (Anthropic "tools[1]", Chat "tools[0]", Responses
    "tools[0]");
  - the mock never answered 400 (its generate_rejected counter stays 0).

Run: /usr/bin/python3 tests/integration/test_preflight.py
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
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4"
       "nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==")
LONG_DESC = "Runs a command. " * 1250          # 20,000 characters
SCHEMA = {"type": "object", "properties": {"cmd": {"type": "string"}}}


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def many_tools(n: int) -> list[dict]:
    return [{"name": f"tool_{i}", "description": "d", "input_schema": SCHEMA} for i in range(n)]


def hostile_anthropic() -> dict:
    def use(tid, name="Bash", **inp):
        return {"type": "tool_use", "id": tid, "name": name, "input": inp or {"cmd": "ls"}}

    def result(tid, text="out"):
        return {"type": "tool_result", "tool_use_id": tid, "content": text}

    return {"model": MODEL, "max_tokens": 64, "system": "be brief", "tools": [
        {"name": "Bash", "description": LONG_DESC, "input_schema": {
            "type": "object", "properties": None, "required": None}},
        {"name": "mcp__server.tool/with spaces", "description": "",
         "input_schema": {"type": "object"}},
        {"name": "x" * 100, "description": "long name", "input_schema": SCHEMA}],
        "messages": [
            {"role": "user", "content": [result("toolu_orphan"), {"type": "text", "text": ""}]},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": [use("toolu_1", cmd={"": 1, "a": [{"": 2}]}),
                                              use("toolu_1")]},
            {"role": "user", "content": [result("toolu_1"), result("toolu_1"),
                                         result("toolu_never_used")]},
            {"role": "assistant", "content": [use("toolu_2", "Undefined_Tool")]},
            {"role": "user", "content": [result("toolu_2", "")]},
            {"role": "assistant", "content": [use("toolu_3")]},
            {"role": "user", "content": [{"type": "image", "source": {
                "type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "text", "text": "  "}]},
            {"role": "user", "content": "what now?"},
            {"role": "assistant", "content": "Prefill that Kiro cannot take"}]}


def images_message(n: int) -> dict:
    parts = [{"type": "text", "text": "look"}]
    parts += [{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                           "data": PNG}}] * n
    return {"role": "user", "content": parts}


class _Preflight:
    server: str
    mount: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.gw = cls.enterClassContext(Gateway(cls.server, MOCK, mount=cls.mount,
                                                   accounts=[Account("preflight")]))

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        MOCK.reset()
        self.gw.register_accounts()

    def tearDown(self) -> None:
        # Whatever the gateway sent, Kiro would have taken.
        if self.missing is None:
            self.assertEqual(MOCK.stats().get("generate_rejected", 0), 0,
                             [r.get("validation") for r in MOCK.requests()])

    def assert_served(self, resp) -> None:
        self.assertEqual(resp.status, 200, resp.body[:600])
        sent = MOCK.requests()
        self.assertEqual(len(sent), 1)
        self.assertEqual(sent[0]["validation"], {"ok": True})

    def assert_refused(self, resp, words: list[str], kind: str) -> None:
        self.assertEqual(resp.status, 400, resp.body[:600])
        err = resp.json()["error"]
        if kind == "openai":
            self.assertEqual(err["type"], "invalid_request_error", err)
        elif kind == "gemini":
            self.assertEqual(err["status"], "INVALID_ARGUMENT", err)
        for w in words:
            self.assertIn(w, err["message"])
        self.assertEqual(MOCK.stats().get("generate", 0), 0)

    def chat(self, body: dict):
        return self.gw.post("/v1/chat/completions", body, auth="bearer")

    def responses(self, body: dict):
        return self.gw.post("/v1/responses", body, auth="bearer")

    def gemini(self, body: dict):
        return self.gw.post("/v1beta/models/gemini-2.5-flash:generateContent", body,
                            {"x-goog-api-key": self.gw.api_key}, auth=None)

    # --- Anthropic ------------------------------------------------------

    def test_anthropic_hostile_history_is_repaired(self) -> None:
        for stream in (False, True):
            MOCK.reset()
            self.gw.register_accounts()
            body = hostile_anthropic()
            body["stream"] = stream
            self.assert_served(self.gw.messages(body))

    def test_anthropic_too_many_tools(self) -> None:
        resp = self.gw.messages({"model": MODEL, "max_tokens": 64, "tools": many_tools(200),
                                 "messages": [{"role": "user", "content": "hi"}]})
        assert_anthropic_error(self, resp, 400, "invalid_request_error",
                               ["tools[128]: 200 tools, Kiro takes at most 128",
                                "(Kiro rule: tool count)"])
        self.assertEqual(MOCK.stats().get("generate", 0), 0)
        resp = self.gw.messages({"model": MODEL, "max_tokens": 64, "tools": many_tools(128),
                                 "messages": [{"role": "user", "content": "hi"}]})
        self.assert_served(resp)

    def test_anthropic_too_many_images(self) -> None:
        resp = self.gw.messages({"model": MODEL, "max_tokens": 64,
                                 "messages": [images_message(21)]})
        assert_anthropic_error(self, resp, 400, "invalid_request_error",
                               ["messages[0].content[21]: more than 20 images in one request",
                                "(Kiro rule: images)"])
        self.assertEqual(MOCK.stats().get("generate", 0), 0)
        self.assert_served(self.gw.messages({"model": MODEL, "max_tokens": 64,
                                             "messages": [images_message(20)]}))

    def test_anthropic_schema_type(self) -> None:
        tools = many_tools(1) + [{"name": "Odd", "description": "d",
                                  "input_schema": {"type": "string"}}]
        resp = self.gw.messages({"model": MODEL, "max_tokens": 64, "tools": tools,
                                 "messages": [{"role": "user", "content": "hi"}]})
        assert_anthropic_error(self, resp, 400, "invalid_request_error",
                               ["tools[1]: the input schema's type must be \"object\"",
                                "(Kiro rule: tool schema)"])

    # --- OpenAI Chat Completions ----------------------------------------

    def test_chat_hostile_history_is_repaired(self) -> None:
        call = {"id": "call_1", "type": "function",
                "function": {"name": "f", "arguments": "{\"a\": {\"\": 1}}"}}
        body = {"model": MODEL, "messages": [
            {"role": "user", "content": ""},
            {"role": "assistant", "content": "", "tool_calls": [call, call]},
            {"role": "tool", "tool_call_id": "call_1", "content": ""},
            {"role": "tool", "tool_call_id": "call_1", "content": "again"},
            {"role": "tool", "tool_call_id": "call_orphan", "content": "x"},
            {"role": "assistant", "content": "",
             "tool_calls": [dict(call, id="call_2", function={"name": "g.h",
                                                               "arguments": ""})]},
            {"role": "user", "content": "go on"}],
            "tools": [{"type": "function", "function": {
                "name": "f", "description": LONG_DESC,
                "parameters": {"type": "object", "required": None}}}]}
        self.assert_served(self.chat(body))

    def test_chat_too_many_tools_and_schema(self) -> None:
        tools = [{"type": "function", "function": {"name": f"t{i}", "parameters": SCHEMA}}
                 for i in range(200)]
        msgs = [{"role": "user", "content": "hi"}]
        self.assert_refused(self.chat({"model": MODEL, "messages": msgs, "tools": tools}),
                            ["tools[128]: 200 tools", "(Kiro rule: tool count)"], "openai")
        tools = [{"type": "function", "function": {"name": "t", "parameters":
                                                   {"type": "array"}}}]
        self.assert_refused(self.chat({"model": MODEL, "messages": msgs, "tools": tools}),
                            ["tools[0]: the input schema's type", "(Kiro rule: tool schema)"],
                            "openai")

    # --- OpenAI Responses -------------------------------------------------

    def test_responses_hostile_history_is_repaired(self) -> None:
        call = {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}
        body = {"model": MODEL, "input": [
            {"role": "user", "content": "start"},
            call, call,
            {"type": "function_call_output", "call_id": "call_1", "output": ""},
            {"type": "function_call_output", "call_id": "call_1", "output": "again"},
            dict(call, call_id="call_2", name="never/defined"),
            {"role": "user", "content": ""},
            {"role": "user", "content": "go on"}],
            "tools": [{"type": "function", "name": "f", "description": LONG_DESC,
                       "parameters": {"type": "object", "properties": None}}]}
        self.assert_served(self.responses(body))

    def test_responses_too_many_tools(self) -> None:
        tools = [{"type": "function", "name": f"t{i}", "parameters": SCHEMA}
                 for i in range(200)]
        self.assert_refused(self.responses({"model": MODEL, "input": "hi", "tools": tools}),
                            ["tools[128]: 200 tools", "(Kiro rule: tool count)"], "openai")

    # --- Gemini -------------------------------------------------------------

    def test_gemini_hostile_history_is_repaired(self) -> None:
        body = {"contents": [
            {"role": "model", "parts": [{"text": "I speak first"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"": 1}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]},
            {"role": "user", "parts": [{"text": ""}, {"text": "go on"}]}],
            "tools": [{"functionDeclarations": [
                {"name": "f", "description": LONG_DESC,
                 "parameters": {"type": "OBJECT", "properties": {}}}]}]}
        self.assert_served(self.gemini(body))

    def test_gemini_too_many_tools(self) -> None:
        decls = [{"name": f"t{i}", "description": "d"} for i in range(200)]
        self.assert_refused(self.gemini({
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "tools": [{"functionDeclarations": decls}]}),
            ["tools[0].functionDeclarations[128]: 200 tools", "(Kiro rule: tool count)"],
            "gemini")


class LighttpdPreflight(_Preflight, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"


class ApachePreflight(_Preflight, unittest.TestCase):
    server, mount = "apache", "/"


if __name__ == "__main__":
    unittest.main(verbosity=2)
