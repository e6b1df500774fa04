#!/usr/bin/python3
"""Kiro's 2026 stream events in every API's usage, through a real lighttpd and a real Apache.

doc/protocol.md section 12: messageMetadataEvent carries tokenUsage
{outputTokens, totalTokens, uncachedInputTokens, cacheReadInputTokens,
cacheWriteInputTokens, contextUsagePercentage} and meteringEvent {unit, usage}.
For each server (the mock upstream shared by the module, reset before each test):

  - Kiro's figures win over the estimates, streamed and not, in each API:
    Anthropic /v1/messages (input_tokens the uncached part,
    cache_read_input_tokens, cache_creation_input_tokens) and /cc/v1/messages
    (message_start rewritten with them), OpenAI Chat
    (prompt_tokens_details.cached_tokens; the include_usage chunk),
    OpenAI Responses (input_tokens_details.cached_tokens; response.completed)
    and Gemini (cachedContentTokenCount; the last SSE chunk), with the mock's
    token_usage and cache_hit presets and a cache write;
  - without tokenUsage the cache figures are 0 in every API;
  - the runtime_2026 preset (reasoningContentEvent, meteringEvent {unit,
    usage}, tokenUsage) gives thinking, the text and Kiro's figures;
  - the credits of meteringEvent are in the request's access-log line
    ("credits=0.42"), and absent when Kiro sent no meteringEvent;
  - prompt caching: Anthropic cache_control on system and message blocks
    becomes {"cachePoint":{"type":"default"}} history entries right after the
    entries that carried them (none for the current message, none in the
    tools array even when a tool definition carries cache_control), the
    mock accepts them, streamed and not; the conversationId stays the same
    for a session's requests; with "promptCaching": false no cachePoint is
    sent;
  - after every test: the mock accepted every request, and no secret is in
    the responder log.

Run: /usr/bin/python3 tests/integration/test_usage_events.py (after make; see
gateway.py for the environment variables).
"""

from __future__ import annotations

import json
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, body, event_data, event_names  # noqa: E402
from harness import sse_events  # noqa: E402

MOCK: Mock | None = None

# The mock's presets (tests/mock/kiro_mock.py TOKEN_USAGE and cache_hit).
TOKEN_USAGE = {"out": 12, "uncached": 60, "read": 40, "write": 0}
CACHE_HIT = {"out": 12, "uncached": 10, "read": 90000, "write": 0}
CACHE_WRITE = {"outputTokens": 9, "uncachedInputTokens": 300,
               "cacheReadInputTokens": 0, "cacheWriteInputTokens": 5000}


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def total_in(f: dict) -> int:
    return f["uncached"] + f["read"] + f["write"]


def data_lines(raw: bytes) -> list[str]:
    return [b[6:] for b in raw.decode().split("\n\n") if b.startswith("data: ")]


class _Usage:
    server: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.account = Account("usage")
            cls.gw = cls.enterClassContext(Gateway(cls.server, MOCK, procs=1, threads=2,
                                                   accounts=[cls.account]))

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        MOCK.reset()
        self.gw.register_accounts()

    def tearDown(self) -> None:
        for entry in MOCK.requests():
            self.assertTrue(entry["validation"] and entry["validation"].get("ok"),
                            f"mock refused a request: {entry['validation']}")
        log = self.gw.log()
        for secret in [self.gw.api_key] + self.account.secrets():
            self.assertNotIn(secret, log, "a secret is in the responder log")

    # one request per API and mode; each returns the usage object it saw

    def anthropic(self, prompt: str, stream: bool, path: str = "/v1/messages") -> dict:
        if not stream:
            resp = self.gw.messages(body(prompt), path=path)
            self.assertEqual(resp.status, 200, resp.body[:500])
            return resp.json()["usage"]
        resp, events = self.gw.stream(body(prompt), path=path)
        self.assertEqual(resp.status, 200, resp.body[:500])
        data = event_data(events)
        names = event_names(events)
        self.anthropic_start = data[names.index("message_start")]["message"]["usage"]
        return data[names.index("message_delta")]["usage"]

    def chat(self, prompt: str, stream: bool) -> dict:
        req = {"model": gw.MODEL, "messages": [{"role": "user", "content": prompt}]}
        if stream:
            req.update(stream=True, stream_options={"include_usage": True})
        resp = self.gw.post("/v1/chat/completions", req, auth="bearer")
        self.assertEqual(resp.status, 200, resp.body[:500])
        if not stream:
            return resp.json()["usage"]
        lines = data_lines(resp.body)
        self.assertEqual(lines[-1], "[DONE]")
        return json.loads(lines[-2])["usage"]

    def responses(self, prompt: str, stream: bool) -> dict:
        req = {"model": gw.MODEL, "input": prompt, "stream": stream}
        resp = self.gw.post("/v1/responses", req, auth="bearer")
        self.assertEqual(resp.status, 200, resp.body[:500])
        if not stream:
            return resp.json()["usage"]
        events = list(sse_events(resp.chunks))
        self.assertEqual(events[-1].event, "response.completed")
        return json.loads(events[-1].data)["response"]["usage"]

    def gemini(self, prompt: str, stream: bool) -> dict:
        req = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
        op = "streamGenerateContent?alt=sse" if stream else "generateContent"
        resp = self.gw.post(f"/v1beta/models/gemini-2.5-flash:{op}", req,
                            {"x-goog-api-key": self.gw.api_key}, auth=None)
        self.assertEqual(resp.status, 200, resp.body[:500])
        if not stream:
            return resp.json()["usageMetadata"]
        return [json.loads(e.data) for e in sse_events(resp.chunks)][-1]["usageMetadata"]

    # checks in each API's terms

    def check_all(self, prompt: str, f: dict) -> None:
        for stream in (False, True):
            with self.subTest(api="anthropic", stream=stream):
                u = self.anthropic(prompt, stream)
                self.assertEqual(u["input_tokens"], f["uncached"])
                self.assertEqual(u["cache_read_input_tokens"], f["read"])
                self.assertEqual(u["cache_creation_input_tokens"], f["write"])
                self.assertEqual(u["output_tokens"], f["out"])
            with self.subTest(api="chat", stream=stream):
                u = self.chat(prompt, stream)
                self.assertEqual(u["prompt_tokens"], total_in(f))
                self.assertEqual(u["prompt_tokens_details"], {"cached_tokens": f["read"]})
                self.assertEqual(u["completion_tokens"], f["out"])
                self.assertEqual(u["total_tokens"], total_in(f) + f["out"])
            with self.subTest(api="responses", stream=stream):
                u = self.responses(prompt, stream)
                self.assertEqual(u["input_tokens"], total_in(f))
                self.assertEqual(u["input_tokens_details"], {"cached_tokens": f["read"]})
                self.assertEqual(u["output_tokens"], f["out"])
            with self.subTest(api="gemini", stream=stream):
                u = self.gemini(prompt, stream)
                self.assertEqual(u["promptTokenCount"], total_in(f))
                self.assertEqual(u["cachedContentTokenCount"], f["read"])
                self.assertEqual(u["totalTokenCount"], total_in(f) + f["out"])

    # tests

    def test_token_usage_preset_wins_everywhere(self) -> None:
        self.check_all("#mock:token_usage", TOKEN_USAGE)

    def test_cache_hit_preset_everywhere(self) -> None:
        self.check_all("#mock:cache_hit", CACHE_HIT)

    def test_cache_write_is_cache_creation(self) -> None:
        MOCK.script({"kind": "text", "chunks": ["written"], "token_usage": CACHE_WRITE},
                    times=8)
        self.check_all("write", {"out": 9, "uncached": 300, "read": 0, "write": 5000})

    def test_buffered_cc_message_start_has_the_cache_figures(self) -> None:
        u = self.anthropic("#mock:cache_hit", True, path="/cc/v1/messages")
        self.assertEqual(u["cache_read_input_tokens"], 90000)
        self.assertEqual(self.anthropic_start["cache_read_input_tokens"], 90000)
        self.assertEqual(self.anthropic_start["input_tokens"], 10)

    def test_without_token_usage_cache_figures_are_zero(self) -> None:
        for stream in (False, True):
            with self.subTest(stream=stream):
                u = self.anthropic("plain", stream)
                self.assertEqual((u["cache_read_input_tokens"],
                                  u["cache_creation_input_tokens"]), (0, 0))
                # The mock's contextUsagePercentage of a 200k window, as before.
                entry = MOCK.requests()[-1]
                self.assertEqual(entry["window"], gw.WINDOW)
                self.assertEqual(u["input_tokens"], gw.context_tokens(entry))
                self.assertEqual(self.chat("plain", stream)["prompt_tokens_details"],
                                 {"cached_tokens": 0})
                self.assertEqual(self.responses("plain", stream)["input_tokens_details"],
                                 {"cached_tokens": 0})
                self.assertEqual(self.gemini("plain", stream)["cachedContentTokenCount"], 0)

    def test_runtime_2026_stream(self) -> None:
        resp, events = self.gw.stream(body("#mock:runtime_2026"))
        self.assertEqual(resp.status, 200, resp.body[:500])
        kinds = [d["content_block"]["type"] for d in event_data(events)
                 if d["type"] == "content_block_start"]
        self.assertIn("thinking", kinds)
        self.assertEqual(kinds[-1], "text")
        delta = event_data(events)[event_names(events).index("message_delta")]
        self.assertEqual(delta["usage"]["output_tokens"], TOKEN_USAGE["out"])
        self.assertEqual(delta["usage"]["cache_read_input_tokens"], TOKEN_USAGE["read"])

    def test_credits_in_the_access_log_line(self) -> None:
        marker = "credits-" + self.id().rsplit(".", 1)[-1]
        MOCK.script({"kind": "text", "chunks": [marker],
                     "metering": {"unit": "credit", "usage": 0.42}})
        before = len(self.access_lines())
        resp = self.gw.messages(body("metered"))
        self.assertEqual(resp.status, 200, resp.body[:500])
        line = self.next_access_line(before)
        self.assertRegex(line, r"POST /v1/messages 200 .* credits=0\.42(\s|$)")

        MOCK.script({"kind": "text", "chunks": ["free"], "metering": False})
        before = len(self.access_lines())
        resp = self.gw.messages(body("unmetered"))
        self.assertEqual(resp.status, 200, resp.body[:500])
        self.assertNotIn("credits=", self.next_access_line(before))

    def access_lines(self) -> list[str]:
        return [l for l in self.gw.log().splitlines() if "POST /v1/messages 200" in l]

    def next_access_line(self, before: int) -> str:
        """The one access-log line after the first before (written after the answer)."""
        lines = gw.wait_for(lambda: self.access_lines()[before:] or None,
                            what="the request's access-log line")
        self.assertEqual(len(lines), 1, lines)
        return lines[0]

EPHEMERAL = {"type": "ephemeral"}
SESSION_USER = "user_abc_account__session_2f0e1b84-aaaa-4bbb-8ccc-000000000001"


def cached_request(prompt: str) -> dict:
    """A Claude Code-like request with cache_control marks everywhere."""
    return body(prompt, system=[{"type": "text", "text": "You are terse.",
                                 "cache_control": EPHEMERAL}],
                metadata={"user_id": SESSION_USER},
                tools=[{"name": "Read", "description": "reads a file",
                        "input_schema": {"type": "object"},
                        "cache_control": EPHEMERAL}],
                messages=[
                    {"role": "user", "content": [
                        {"type": "text", "text": "first", "cache_control": EPHEMERAL}]},
                    {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
                    {"role": "user", "content": [{"type": "text", "text": "second"}]},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": "sure", "cache_control": EPHEMERAL}]},
                    {"role": "user", "content": [
                        {"type": "text", "text": prompt, "cache_control": EPHEMERAL}]}])


def history_shape(kiro_body: dict) -> str:
    """U user, A assistant, P cachePoint, one letter per history entry."""
    out = []
    for entry in kiro_body["conversationState"].get("history", []):
        if "cachePoint" in entry:
            assert entry == {"cachePoint": {"type": "default"}}, entry
            out.append("P")
        else:
            out.append("U" if "userInputMessage" in entry else "A")
    return "".join(out)


class _Caching:
    """cache_control into Kiro cachePoints, the switch set by caching_on."""

    server: str
    caching_on: bool

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.account = Account("caching")
            config = None if cls.caching_on else {"promptCaching": False}
            cls.gw = cls.enterClassContext(Gateway(cls.server, MOCK, procs=1, threads=2,
                                                   accounts=[cls.account], config=config))

    setUp = _Usage.setUp
    tearDown = _Usage.tearDown

    def test_cache_control_becomes_cache_points(self) -> None:
        for stream in (False, True):
            with self.subTest(stream=stream):
                MOCK.reset()
                self.gw.register_accounts()
                req = cached_request(f"third {stream}")
                if stream:
                    resp, events = self.gw.stream(req)
                    self.assertEqual(event_names(events)[-1], "message_stop")
                else:
                    resp = self.gw.messages(req)
                self.assertEqual(resp.status, 200, resp.body[:500])
                log = MOCK.requests()
                self.assertEqual([e["status"] for e in log], [200])
                sent = log[0]["body"]
                state = sent["conversationState"]
                tools = state["currentMessage"]["userInputMessage"][
                    "userInputMessageContext"]["tools"]
                self.assertNotIn("cachePoint", json.dumps(tools))
                # system pair, first, ok, second, sure: the marked ones
                # (system, first, sure) are followed by a point.
                want = "UAPUPAUAP" if self.caching_on else "UAUAUA"
                self.assertEqual(history_shape(sent), want)

    def test_conversation_id_stable_per_session(self) -> None:
        for prompt in ("one", "two"):
            self.assertEqual(self.gw.messages(cached_request(prompt)).status, 200)
        ids = {e["body"]["conversationState"]["conversationId"] for e in MOCK.requests()}
        self.assertEqual(ids, {SESSION_USER.rsplit("session_", 1)[1]})


class LighttpdCaching(_Caching, unittest.TestCase):
    server, caching_on = "lighttpd", True


class ApacheCaching(_Caching, unittest.TestCase):
    server, caching_on = "apache", True


class LighttpdCachingOff(_Caching, unittest.TestCase):
    server, caching_on = "lighttpd", False


class ApacheCachingOff(_Caching, unittest.TestCase):
    server, caching_on = "apache", False


class LighttpdUsage(_Usage, unittest.TestCase):
    server = "lighttpd"


class ApacheUsage(_Usage, unittest.TestCase):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
