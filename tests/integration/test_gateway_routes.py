#!/usr/bin/python3
"""Every route of the gateway through a real lighttpd and a real Apache, at "/" and "/kiro".

For each of the four server x mount combinations (one server per class, the
mock upstream shared by the module and reset before each test):

  - POST /v1/messages non-streaming: one JSON message, text from the mock,
    model echoed, stop_reason end_turn, usage.input_tokens from contextUsage;
  - POST /v1/messages streaming: the exact event sequence of doc/protocol.md
    section 6.1 (message_start, content_block_start/delta/stop, message_delta
    with stop_reason and usage, message_stop) and the SSE response headers;
  - tool use, streamed (input_json_delta fragments verbatim, stop_reason
    tool_use) and non-streamed (input object assembled);
  - a client tool name longer than 63 bytes: the mock receives a shortened
    valid name, is scripted to call that name, and the client gets tool_use
    with its original name;
  - thinking from <thinking> tags with thinking enabled (thinking block, then
    text), and native reasoningContentEvent thinking with its signature;
  - POST /v1/messages?beta=true, POST /v1/messages/count_tokens,
    POST /cc/v1/messages (buffered: message_start input_tokens equals
    contextUsagePercentage * window / 100) and /cc/v1/messages/count_tokens;
  - GET /v1/models (parsable as an Anthropic and as an OpenAI list, with the
    seed catalogue), GET /v1/models/claude-sonnet-4-5, GET /health (only
    the status without the client key; counts and version with it);
  - per server: /health counts cached per process (a disabled account
    shows a few seconds later, not at once); a startup error's reason (a
    path) only for a client with the key, a pointer to the log otherwise;
  - HEAD / and GET / without auth, also HEAD on the bare mount ("/kiro");
  - client auth by x-api-key and by Authorization: Bearer;
  - a Claude Code-like request: role "system" entries inside messages,
    thinking {type: adaptive}, output_config.effort, 25 tools with nested
    schemas (depth ~10), metadata.user_id, system blocks; and an image block;
  - a history holding server tool records (server_tool_use with
    web_search_tool_result, web_fetch and code execution results, MCP use and
    result), a PDF and a text document, search_result blocks (also in a
    tool_result), redacted_thinking and an unknown block type, with server
    tools in tools: 200, the mock seeing the query, result titles and URLs,
    fetched and document text as notes, and only the custom tools (with
    the gateway's own web_search for the web_search server tool);
  - after every test: the mock's validation accepted every generate request
    the gateway sent (no 400 in the mock's request log), and neither the API
    key nor the account's tokens are in the responder log.

Run: /usr/bin/python3 tests/integration/test_gateway_routes.py (after make;
see gateway.py for the environment variables).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, body, event_data, event_names, text_of  # noqa: E402

MOCK: Mock | None = None
SEED_MODELS = {"auto", "claude-sonnet-4.5", "claude-sonnet-4", "claude-haiku-4.5",
               "claude-opus-4.5", "claude-opus-4.6", "claude-sonnet-4.6"}
DEFAULT_TEXT = "Hello from mock Kiro. You said: "
PNG_1PX = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")).decode()


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


class _Routes:
    """The route checks; combined with unittest.TestCase per server and mount."""

    server: str
    mount: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.account = Account("routes")
            cls.gw = cls.enterClassContext(Gateway(cls.server, MOCK, mount=cls.mount, procs=2,
                                                   threads=2, accounts=[cls.account]))

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        MOCK.reset()
        self.gw.register_accounts()

    def tearDown(self) -> None:
        # The mock validates bodies as the real service does: nothing the
        # gateway sent may have been refused.
        for entry in MOCK.requests():
            self.assertTrue(entry["validation"] and entry["validation"].get("ok"),
                            f"mock refused a request: {entry['validation']}")
            self.assertNotEqual(entry["status"], 400, entry)
        log = self.gw.log()
        for secret in [self.gw.api_key] + self.account.secrets():
            self.assertNotIn(secret, log, "a secret is in the responder log")

    # helpers

    def generate_log(self) -> list[dict]:
        return MOCK.requests()

    def only_upstream_body(self) -> dict:
        log = self.generate_log()
        self.assertEqual(len(log), 1, [e["status"] for e in log])
        return log[0]["body"]

    def assert_ok_stream(self, resp, events) -> None:
        self.assertEqual(resp.status, 200, resp.body[:500])
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("text/event-stream"))
        self.assertEqual(event_names(events)[0], "message_start")
        self.assertEqual(event_names(events)[-1], "message_stop")

    # messages

    def test_messages_non_stream(self) -> None:
        resp = self.gw.messages(body("Say hello"))
        self.assertEqual(resp.status, 200, resp.body[:500])
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("application/json"))
        msg = resp.json()
        self.assertRegex(msg["id"], r"^msg_[0-9a-f]{32}$")
        self.assertEqual(msg["type"], "message")
        self.assertEqual(msg["role"], "assistant")
        self.assertEqual(msg["model"], gw.MODEL)
        self.assertEqual(msg["content"], [{"type": "text", "text": DEFAULT_TEXT + "Say hello"}])
        self.assertEqual(msg["stop_reason"], "end_turn")
        self.assertIsNone(msg["stop_sequence"])
        # The mock's contextUsagePercentage of claude-sonnet-4.5's 200k window.
        entry = self.generate_log()[-1]
        self.assertEqual(entry["window"], gw.WINDOW)
        self.assertEqual(msg["usage"]["input_tokens"], gw.context_tokens(entry))
        self.assertGreater(msg["usage"]["output_tokens"], 0)
        upstream = self.only_upstream_body()
        current = upstream["conversationState"]["currentMessage"]["userInputMessage"]
        self.assertEqual(current["modelId"], gw.KIRO_MODEL)
        self.assertIn("Say hello", current["content"])

    def test_messages_stream_event_sequence(self) -> None:
        MOCK.script({"kind": "text", "chunks": ["One, ", "two, ", "three."],
                     "context_usage": 2.5})
        resp, events = self.gw.stream(body("Count"))
        self.assert_ok_stream(resp, events)
        self.assertEqual(resp.headers.get("Cache-Control"), "no-cache")
        self.assertEqual(event_names(events), [
            "message_start", "content_block_start", "content_block_delta",
            "content_block_delta", "content_block_delta", "content_block_stop",
            "message_delta", "message_stop"])
        data = event_data(events)
        for item, name in zip(data, event_names(events)):
            self.assertEqual(item["type"], name)
        start = data[0]["message"]
        self.assertRegex(start["id"], r"^msg_[0-9a-f]{32}$")
        self.assertEqual((start["type"], start["role"], start["content"], start["model"]),
                         ("message", "assistant", [], gw.MODEL))
        self.assertIsNone(start["stop_reason"])
        self.assertEqual(start["usage"]["output_tokens"], 1)
        self.assertIsInstance(start["usage"]["input_tokens"], int)
        self.assertEqual(data[1], {"type": "content_block_start", "index": 0,
                                   "content_block": {"type": "text", "text": ""}})
        self.assertEqual([d["delta"] for d in data[2:5]],
                         [{"type": "text_delta", "text": t}
                          for t in ("One, ", "two, ", "three.")])
        self.assertTrue(all(d["index"] == 0 for d in data[2:6]))
        delta = data[6]
        self.assertEqual(delta["delta"], {"stop_reason": "end_turn", "stop_sequence": None})
        self.assertEqual(delta["usage"]["input_tokens"], int(2.5 * gw.WINDOW / 100))
        self.assertGreater(delta["usage"]["output_tokens"], 0)
        self.assertEqual(data[7], {"type": "message_stop"})

    def test_auth_x_api_key_and_bearer(self) -> None:
        for style in ("x-api-key", "bearer"):
            with self.subTest(auth=style):
                resp = self.gw.messages(body("auth " + style), auth=style)
                self.assertEqual(resp.status, 200, resp.body[:300])
                self.assertEqual(resp.json()["content"][0]["text"], DEFAULT_TEXT + "auth " + style)

    def test_beta_query(self) -> None:
        resp, events = self.gw.stream(body("beta"), path="/v1/messages?beta=true")
        self.assert_ok_stream(resp, events)
        self.assertEqual(text_of(events), DEFAULT_TEXT + "beta")

    # tools

    READ_FILE = {"name": "read_file", "description": "Read a file",
                 "input_schema": {"type": "object", "properties": {"path": {"type": "string"}},
                                  "required": ["path"]}}

    def test_tool_use_stream(self) -> None:
        MOCK.script("tool_use")
        resp, events = self.gw.stream(body("Read /tmp/a.txt", tools=[self.READ_FILE]))
        self.assert_ok_stream(resp, events)
        self.assertEqual(event_names(events), [
            "message_start",
            "content_block_start", "content_block_delta", "content_block_stop",
            "content_block_start", "content_block_delta", "content_block_delta",
            "content_block_stop", "message_delta", "message_stop"])
        data = event_data(events)
        self.assertEqual(data[2]["delta"], {"type": "text_delta", "text": "Let me read it."})
        self.assertEqual(data[3]["index"], 0)
        self.assertEqual(data[4], {"type": "content_block_start", "index": 1, "content_block": {
            "type": "tool_use", "id": "tooluse_MockAbCdEf0123456789", "name": "read_file",
            "input": {}}})
        self.assertEqual([d["delta"] for d in data[5:7]],
                         [{"type": "input_json_delta", "partial_json": '{"path":'},
                          {"type": "input_json_delta", "partial_json": '"/tmp/a.txt"}'}])
        self.assertEqual([d["index"] for d in data[5:8]], [1, 1, 1])
        self.assertEqual(data[8]["delta"]["stop_reason"], "tool_use")
        tools = self.only_upstream_body()["conversationState"]["currentMessage"][
            "userInputMessage"]["userInputMessageContext"]["tools"]
        self.assertEqual([t["toolSpecification"]["name"] for t in tools], ["read_file"])

    def test_tool_use_non_stream(self) -> None:
        MOCK.script("tool_use")
        resp = self.gw.messages(body("Read /tmp/a.txt", tools=[self.READ_FILE]))
        self.assertEqual(resp.status, 200, resp.body[:500])
        msg = resp.json()
        self.assertEqual(msg["stop_reason"], "tool_use")
        self.assertEqual(msg["content"], [
            {"type": "text", "text": "Let me read it."},
            {"type": "tool_use", "id": "tooluse_MockAbCdEf0123456789", "name": "read_file",
             "input": {"path": "/tmp/a.txt"}}])

    def test_long_tool_name_mapped_back(self) -> None:
        long_name = "mcp__an_exceedingly_long_server_name__" + "and_a_long_tool_name_" * 2
        self.assertGreater(len(long_name.encode()), 63)
        tool = dict(self.READ_FILE, name=long_name)
        request = body("Use the long tool", tools=[tool, self.READ_FILE])
        # First learn which name the gateway gives Kiro for it.
        first = self.gw.messages(request)
        self.assertEqual(first.status, 200, first.body[:300])
        tools = self.only_upstream_body()["conversationState"]["currentMessage"][
            "userInputMessage"]["userInputMessageContext"]["tools"]
        names = [t["toolSpecification"]["name"] for t in tools]
        self.assertEqual(len(names), 2)
        self.assertIn("read_file", names)
        short = [n for n in names if n != "read_file"][0]
        self.assertNotEqual(short, long_name)
        self.assertLessEqual(len(short), 63)
        self.assertRegex(short, r"^[a-zA-Z0-9_-]+$")
        # Then make the model call it by that name, streamed and not.
        for stream in (True, False):
            with self.subTest(stream=stream):
                MOCK.script({"kind": "tool_use", "chunks": ["Calling."], "tools": [
                    {"name": short, "id": "tooluse_LongName0000000001",
                     "input": {"path": "/etc/hosts"}}]})
                if stream:
                    resp, events = self.gw.stream(request)
                    self.assert_ok_stream(resp, events)
                    starts = [d["content_block"] for d in event_data(events)
                              if d["type"] == "content_block_start"
                              and d["content_block"]["type"] == "tool_use"]
                    self.assertEqual([s["name"] for s in starts], [long_name])
                    self.assertEqual(json.loads(text_of(events, "input_json_delta",
                                                        "partial_json")),
                                     {"path": "/etc/hosts"})
                else:
                    resp = self.gw.messages(request)
                    self.assertEqual(resp.status, 200, resp.body[:300])
                    uses = [b for b in resp.json()["content"] if b["type"] == "tool_use"]
                    self.assertEqual([(u["name"], u["input"]) for u in uses],
                                     [(long_name, {"path": "/etc/hosts"})])

    # thinking

    def test_thinking_tags_stream(self) -> None:
        MOCK.script("thinking")
        resp, events = self.gw.stream(body("Greet me", thinking={"type": "enabled",
                                                                 "budget_tokens": 4000}))
        self.assert_ok_stream(resp, events)
        data = event_data(events)
        starts = [(d["index"], d["content_block"]["type"]) for d in data
                  if d["type"] == "content_block_start"]
        self.assertEqual(starts, [(0, "thinking"), (1, "text")])
        self.assertEqual(text_of(events, "thinking_delta", "thinking"),
                         "The user wants a greeting.")
        self.assertEqual(text_of(events), "Hi there!")
        # thinking opened, fed and closed before the text block begins
        names = event_names(events)
        self.assertLess(names.index("content_block_stop"),
                        [i for i, d in enumerate(data) if d["type"] == "content_block_start"][1])
        self.assertEqual(data[-2]["delta"]["stop_reason"], "end_turn")
        system = self.only_upstream_body()["conversationState"]["history"][0][
            "userInputMessage"]["content"]
        self.assertIn("<thinking_mode>enabled</thinking_mode>", system)
        self.assertIn("<max_thinking_length>4000</max_thinking_length>", system)

    def test_thinking_tags_non_stream(self) -> None:
        MOCK.script("thinking")
        resp = self.gw.messages(body("Greet me", thinking={"type": "enabled",
                                                           "budget_tokens": 4000}))
        self.assertEqual(resp.status, 200, resp.body[:500])
        content = resp.json()["content"]
        self.assertEqual([b["type"] for b in content], ["thinking", "text"])
        self.assertEqual(content[0]["thinking"], "The user wants a greeting.")
        self.assertEqual(content[1]["text"], "Hi there!")

    def test_native_reasoning(self) -> None:
        MOCK.script("reasoning")
        resp, events = self.gw.stream(body("Greet me", thinking={"type": "enabled",
                                                                 "budget_tokens": 2000}))
        self.assert_ok_stream(resp, events)
        data = event_data(events)
        starts = [d["content_block"]["type"] for d in data if d["type"] == "content_block_start"]
        self.assertEqual(starts, ["thinking", "text"])
        self.assertEqual(text_of(events, "thinking_delta", "thinking"),
                         "The user wants a greeting. I will say hi.")
        self.assertEqual(text_of(events, "signature_delta", "signature"),
                         "mock-signature-" + "A" * 32)
        self.assertEqual(text_of(events), "Hi there!")
        MOCK.script("reasoning")
        resp = self.gw.messages(body("Greet me", thinking={"type": "enabled",
                                                           "budget_tokens": 2000}))
        self.assertEqual(resp.status, 200, resp.body[:500])
        content = resp.json()["content"]
        self.assertEqual([b["type"] for b in content], ["thinking", "text"])
        self.assertEqual(content[0]["thinking"], "The user wants a greeting. I will say hi.")
        self.assertEqual(content[0]["signature"], "mock-signature-" + "A" * 32)

    # count_tokens and /cc/v1

    def test_count_tokens(self) -> None:
        small = self.gw.post("/v1/messages/count_tokens", body("Hi"))
        self.assertEqual(small.status, 200, small.body[:300])
        self.assertEqual(list(small.json()), ["input_tokens"])
        self.assertGreaterEqual(small.json()["input_tokens"], 1)
        big = self.gw.post("/v1/messages/count_tokens",
                           body("Hi", tools=gw.claude_code_tools(5, 4)))
        self.assertGreater(big.json()["input_tokens"], small.json()["input_tokens"])
        cc = self.gw.post("/cc/v1/messages/count_tokens",
                          body("Hi", tools=gw.claude_code_tools(5, 4)))
        self.assertEqual(cc.status, 200, cc.body[:300])
        self.assertEqual(cc.json(), big.json())
        self.assertEqual(self.generate_log(), [], "count_tokens must not call Kiro")

    def test_cc_messages_buffered_input_tokens(self) -> None:
        MOCK.script({"kind": "text", "chunks": ["Buffered ", "answer."],
                     "context_usage": 12.5})
        resp, events = self.gw.stream(body("cc"), path="/cc/v1/messages")
        self.assert_ok_stream(resp, events)
        names = [n for n in event_names(events) if n != "ping"]
        self.assertEqual(names, ["message_start", "content_block_start", "content_block_delta",
                                 "content_block_delta", "content_block_stop", "message_delta",
                                 "message_stop"])
        data = [d for d in event_data(events) if d["type"] != "ping"]
        expected = int(12.5 * gw.WINDOW / 100)
        self.assertEqual(data[0]["message"]["usage"]["input_tokens"], expected)
        self.assertEqual(data[-2]["usage"]["input_tokens"], expected)
        self.assertEqual(text_of(events), "Buffered answer.")
        # non-streaming /cc/v1 is the plain JSON message
        MOCK.script({"kind": "text", "chunks": ["Plain."], "context_usage": 12.5})
        plain = self.gw.messages(body("cc plain"), path="/cc/v1/messages")
        self.assertEqual(plain.status, 200, plain.body[:300])
        self.assertEqual(plain.json()["usage"]["input_tokens"], expected)

    # descriptive routes

    def test_models_list(self) -> None:
        resp = self.gw.get("/v1/models")
        self.assertEqual(resp.status, 200, resp.body[:300])
        doc = resp.json()
        ids = [m["id"] for m in doc["data"]]
        self.assertTrue(SEED_MODELS <= set(ids), ids)
        # Anthropic's list shape
        self.assertIs(doc["has_more"], False)
        self.assertEqual((doc["first_id"], doc["last_id"]), (ids[0], ids[-1]))
        for m in doc["data"]:
            self.assertEqual(m["type"], "model")
            self.assertIsInstance(m["display_name"], str)
            self.assertRegex(m["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        # OpenAI's list shape
        self.assertEqual(doc["object"], "list")
        for m in doc["data"]:
            self.assertEqual(m["object"], "model")
            self.assertIsInstance(m["created"], int)
            self.assertIsInstance(m["owned_by"], str)

    def test_model_by_anthropic_name(self) -> None:
        resp = self.gw.get("/v1/models/claude-sonnet-4-5")
        self.assertEqual(resp.status, 200, resp.body[:300])
        doc = resp.json()
        self.assertEqual(doc["type"], "model")
        self.assertEqual(doc["id"], gw.KIRO_MODEL)
        self.assertEqual(doc["context_window"], gw.WINDOW)

    def test_health(self) -> None:
        # Anyone gets the status, and nothing else.
        resp = self.gw.get("/health", auth=None)
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertEqual(resp.json(), {"status": "ok"})
        wrong = self.gw.get("/health", auth=None, headers={"x-api-key": "not-the-key"})
        self.assertEqual(wrong.json(), {"status": "ok"})
        # A client (its key) also gets the counts and the version.
        doc = self.gw.get("/health").json()
        self.assertEqual(doc["status"], "ok")
        self.assertEqual(doc["accounts"], {"total": 1, "usable": 1})
        self.assertIn("version", doc)

    def test_head_and_get_root_without_auth(self) -> None:
        targets = ["/"] if self.mount == "/" else [self.mount + "/", self.mount]
        for target in targets:
            with self.subTest(target=target):
                head = gw.request(self.gw.srv.root_url + target, "HEAD")
                self.assertEqual(head.status, 200)
                self.assertEqual(head.body, b"")
                got = gw.request(self.gw.srv.root_url + target)
                self.assertEqual(got.status, 200, got.body[:300])
                self.assertEqual(got.json()["status"], "ok")

    # what real clients send

    def test_claude_code_like_request(self) -> None:
        tools = gw.claude_code_tools(25, 10)
        request = {
            "model": "claude-sonnet-4-5-20250929", "max_tokens": 32000,
            "system": [{"type": "text", "text": "You are Claude Code.",
                        "cache_control": {"type": "ephemeral"}},
                       {"type": "text", "text": "Be brief."}],
            "messages": [
                {"role": "system", "content": "Mid-conversation instruction."},
                {"role": "user", "content": [
                    {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                    {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}],
            "tools": tools,
            "thinking": {"type": "adaptive"},
            "output_config": {"effort": "low"},
            "metadata": {"user_id": json.dumps({
                "device_id": "d" * 64, "account_uuid": "",
                "session_id": "0f6e3b9e-8c2a-4f7e-9a51-3d2c1b0a9f8e"})},
        }
        resp, events = self.gw.stream(request, path="/v1/messages?beta=true",
                                      headers={"anthropic-beta": "claude-code-20250219"})
        self.assert_ok_stream(resp, events)
        upstream = self.only_upstream_body()
        state = upstream["conversationState"]
        sent = state["currentMessage"]["userInputMessage"]["userInputMessageContext"]["tools"]
        self.assertEqual(len(sent), 25)
        self.assertEqual(sent[0]["toolSpecification"]["inputSchema"]["json"],
                         tools[0]["input_schema"])
        whole = json.dumps(upstream)
        self.assertIn("Mid-conversation instruction.", whole)
        self.assertIn("<thinking_mode>adaptive</thinking_mode>", whole)
        self.assertIn("<thinking_effort>low</thinking_effort>", whole)
        self.assertEqual(state["conversationId"], "0f6e3b9e-8c2a-4f7e-9a51-3d2c1b0a9f8e")

    def test_image_block(self) -> None:
        request = body("x")
        request["messages"][0]["content"] = [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": PNG_1PX}},
            {"type": "text", "text": "What is in this image?"}]
        resp = self.gw.messages(request)
        self.assertEqual(resp.status, 200, resp.body[:300])
        images = self.only_upstream_body()["conversationState"]["currentMessage"][
            "userInputMessage"]["images"]
        self.assertEqual(images, [{"format": "png", "source": {"bytes": PNG_1PX}}])


    def test_server_tool_records_and_documents_in_history(self) -> None:
        weather = {"name": "get_weather", "description": "Weather",
                   "input_schema": {"type": "object",
                                    "properties": {"city": {"type": "string"}}}}
        request = body("x")
        request["tools"] = [weather,
                            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
                            {"type": "web_fetch_20250910", "name": "web_fetch"},
                            {"type": "code_execution_20250825", "name": "code_execution"}]
        request["messages"] = [
            {"role": "user", "content": [
                {"type": "document", "title": "spec", "source": {
                    "type": "base64", "media_type": "application/pdf",
                    "data": "JVBERi0xLjQK"}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                                "data": "The grass is green."}},
                {"type": "search_result", "source": "https://kb.example/a", "title": "KB A",
                 "content": [{"type": "text", "text": "Step one."}]},
                {"type": "text", "text": "Research this"}]},
            {"role": "assistant", "content": [
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy"},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
                 "input": {"query": "kiro gateway"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [
                    {"type": "web_search_result", "url": "https://kiro.dev/docs",
                     "title": "Kiro docs", "encrypted_content": "EqgfCio", "page_age": None}]},
                {"type": "server_tool_use", "id": "srvtoolu_2", "name": "web_fetch",
                 "input": {"url": "https://kiro.dev/docs"}},
                {"type": "web_fetch_tool_result", "tool_use_id": "srvtoolu_2", "content": {
                    "type": "web_fetch_result", "url": "https://kiro.dev/docs",
                    "content": {"type": "document", "source": {
                        "type": "text", "media_type": "text/plain", "data": "Fetched page text."}}}},
                {"type": "code_execution_tool_result", "tool_use_id": "srvtoolu_3", "content": {
                    "type": "code_execution_result", "stdout": "42", "stderr": "",
                    "return_code": 0}},
                {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "list_prs",
                 "server_name": "gh", "input": {}},
                {"type": "mcp_tool_result", "tool_use_id": "mcptoolu_1", "is_error": False,
                 "content": [{"type": "text", "text": "PR 7 open"}]},
                {"type": "future_block", "data": 1},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                 "input": {"city": "Oslo"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                    {"type": "search_result", "source": "https://met.example/oslo",
                     "title": "Oslo", "content": [{"type": "text", "text": "Rain."}]}]},
                {"type": "text", "text": "Summarise"}]}]
        resp = self.gw.messages(request)
        self.assertEqual(resp.status, 200, resp.body[:500])
        state = self.only_upstream_body()["conversationState"]
        blob = json.dumps(state)
        for note in ("spec", "application/pdf", "The grass is green.",
                     "[search result: KB A (https://kb.example/a)]", "Step one.",
                     "[web search: query kiro gateway]", "Kiro docs - https://kiro.dev/docs",
                     "Fetched page text.", "42", "gh.list_prs", "PR 7 open",
                     "[future_block block]", "Rain."):
            self.assertIn(note, blob)
        self.assertNotIn("EmwKAhgBEgy", blob)
        self.assertNotIn("JVBERi0xLjQK", blob)
        ctx = state["currentMessage"]["userInputMessage"]["userInputMessageContext"]
        # web_search is run by the gateway (test_web_search.py): the model gets
        # the gateway's own web_search tool; the other server tools are dropped.
        self.assertEqual([t["toolSpecification"]["name"] for t in ctx["tools"]],
                         ["get_weather", "web_search"])
        self.assertEqual([r["toolUseId"] for r in ctx["toolResults"]], ["toolu_1"])
        self.assertIn("server tool \"web_fetch_20250910\" dropped", self.gw.log())
        self.assertNotIn("\"web_search_20250305\" dropped", self.gw.log())


class _Health:
    """/health counts once per process per few seconds; startup errors stay private."""

    server: str

    def setUp(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        MOCK.reset()

    def test_health_counts_are_cached(self) -> None:
        account = Account(f"health-{self.server}")
        g = Gateway(self.server, MOCK, procs=1, threads=2, accounts=[account]).start()
        self.addCleanup(g.stop)
        self.assertEqual(g.get("/health").json()["accounts"], {"total": 1, "usable": 1})
        g.kiroctl("accounts", "disable", "1")
        # Straight after: the cached count (no store read per probe).
        self.assertEqual(g.get("/health").json()["accounts"], {"total": 1, "usable": 1})
        # A few seconds later the change shows.
        for _ in range(200):
            doc = g.get("/health").json()
            if doc["accounts"]["usable"] == 0:
                break
            time.sleep(0.1)
        self.assertEqual(doc["accounts"], {"total": 1, "usable": 0})
        self.assertEqual(doc["status"], "no_usable_account")

    def test_startup_error_reason_only_with_the_key(self) -> None:
        # A state directory under a regular file cannot be created.
        blocker = Path(tempfile.mkdtemp(prefix="kiro-itest-health-")) / "a-file"
        self.addCleanup(shutil.rmtree, blocker.parent, True)
        blocker.write_text("")
        os.chmod(blocker.parent, 0o755)
        state = blocker / "state"
        g = Gateway(self.server, MOCK, procs=1, threads=2, credentials_file=False,
                    config={"stateDir": str(state)}).start()
        self.addCleanup(g.stop)
        for path in ("/health", "/v1/messages"):
            with self.subTest(path=path):
                anyone = g.get(path, auth=None) if path == "/health" else \
                    g.post(path, body("x"), auth=None)
                self.assertEqual(anyone.status, 500, anyone.body[:300])
                self.assertNotIn(str(state).encode(), anyone.body)
                self.assertIn(b"error log", anyone.body)
        client = g.get("/health")
        self.assertEqual(client.status, 500, client.body[:300])
        self.assertIn(str(state), client.json()["error"]["message"])


class LighttpdHealth(_Health, unittest.TestCase):
    server = "lighttpd"


class ApacheHealth(_Health, unittest.TestCase):
    server = "apache"


class LighttpdRoot(_Routes, unittest.TestCase):
    server, mount = "lighttpd", "/"


class LighttpdKiro(_Routes, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"


class ApacheRoot(_Routes, unittest.TestCase):
    server, mount = "apache", "/"


class ApacheKiro(_Routes, unittest.TestCase):
    server, mount = "apache", "/kiro"


if __name__ == "__main__":
    unittest.main(verbosity=2)
