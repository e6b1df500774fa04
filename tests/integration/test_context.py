#!/usr/bin/python3
"""When the context is full: history.onOverflow behind real servers (issue 10).

Each test starts its own gateway (its own history.onOverflow) against the
shared mock upstream, behind lighttpd; ContextApache runs them again behind
Apache.  The model's window is made small: the account's ListAvailableModels
list (POST /_mock/accounts/models) gives claude-sonnet-4.5 and
claude-haiku-4.5 maxInputTokens 30000, fetched by `kiroctl health-check`
before any request.  "Big" conversations are about 60000 tokens, "small"
ones a few hundred, so the tests hold whatever the estimator adds.  Covered:

  - error (the default): a big conversation on each API (Anthropic, OpenAI
    Chat Completions and Responses, Gemini) is a 400 in that API's own
    shape (invalid_request_error; context_length_exceeded;
    INVALID_ARGUMENT) saying "Context window is full: about N tokens, the
    model's window is 30000", and Kiro is not called; a small one is served
    with no x-kiro-context header;
  - truncate: a big Anthropic agent session (a first instruction, 60 tool
    calls each answered by a 4 KB tool result, a last question) is served
    streamed, not streamed and buffered (/cc/v1) with "x-kiro-context:
    truncated; dropped=N"; what Kiro
    got passes the mock's Kiro rules (pairing, alternation: it would answer
    400), keeps the system prompt, the first message and the newest turns,
    and lost the oldest ones; one log line says what was dropped; each
    other API, streamed and not, gets the header too;
  - summarize: the first big request makes one summary call (a
    non-streamed Kiro call whose prompt is the oldest turns' transcript,
    under a conversationId of its own)
    and is served with "x-kiro-context: summarized; turns=N; cached=no",
    the summary as an assistant/user pair after the first message; the
    same session's next requests (the same, and one turn longer) reuse the
    stored summary with no call ("cached=yes"), streamed too; a failed
    summary call (400) falls back to truncation ("truncated; dropped=N;
    summary=failed"); 4 requests in flight over 2 processes all get a
    summary, with at most one call each, and the next request none;
  - Kiro's own refusal (the mock's max_body_bytes: a larger body gets 400
    CONTENT_LENGTH_EXCEEDS_THRESHOLD) of a conversation the estimate let
    through: truncate retries once with less and serves it (two upstream
    calls, the header says so); error answers the 400 after one call; a
    limit nothing can meet gives the 400 after exactly two calls (no loop).

Run: /usr/bin/python3 tests/integration/test_context.py
"""

from __future__ import annotations

import json
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, wait_for  # noqa: E402
from harness import sse_events  # noqa: E402

MOCK: Mock | None = None
MODEL = "claude-sonnet-4-5"          # claude-sonnet-4.5
GEMINI_MODEL = "gemini-2.5-pro"      # claude-sonnet-4.5 too
WINDOW = 30000
TURNS = 60                           # 60 x 4 KB: about 60000 tokens
RESULT_BYTES = 4000
SYSTEM = "You are a careful coding agent."
FIRST = "FIRST: fix the failing test in parser.c"
LAST = "LAST: now write the fix"


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def filler(tag: str, size: int) -> str:
    """size bytes of plain words, starting with tag."""
    words = (tag + " " + "lorem ipsum dolor sit amet " * (size // 27 + 1))
    return words[:size]


def agent_session(turns: int = TURNS, size: int = RESULT_BYTES) -> dict:
    """An Anthropic request: system, FIRST, turns of tool_use + tool_result, LAST."""
    messages = [{"role": "user", "content": FIRST}]
    for i in range(turns):
        messages.append({"role": "assistant", "content": [
            {"type": "text", "text": f"Reading file {i}."},
            {"type": "tool_use", "id": f"toolu_{i:04d}", "name": "Read",
             "input": {"path": f"src/f{i}.c"}}]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"toolu_{i:04d}",
             "content": filler(f"RESULT-{i:04d}", size)}]})
    messages.append({"role": "assistant", "content": "I have read them all."})
    messages.append({"role": "user", "content": LAST})
    return {"model": MODEL, "max_tokens": 1024, "system": SYSTEM, "messages": messages,
            "tools": [{"name": "Read", "description": "Reads a file",
                       "input_schema": {"type": "object",
                                        "properties": {"path": {"type": "string"}}}}]}


def chat_turns(turns: int, size: int) -> list[tuple[str, str]]:
    """(role, text) pairs: FIRST, then user/assistant turns, then LAST."""
    out = [("user", FIRST)]
    for i in range(turns):
        out.append(("assistant", filler(f"ANSWER-{i:04d}", size)))
        out.append(("user", f"next question {i}"))
    out[-1] = ("user", LAST)
    return out


def request_for(api: str, turns, stream: bool):
    """(path, body, headers, auth) of one request of that API."""
    if api == "anthropic":
        return ("/v1/messages", {"model": MODEL, "max_tokens": 512, "stream": stream,
                                 "messages": [{"role": r, "content": t} for r, t in turns]},
                {}, "x-api-key")
    if api == "openai_chat":
        return ("/v1/chat/completions",
                {"model": MODEL, "stream": stream,
                 "messages": [{"role": r, "content": t} for r, t in turns]}, {}, "bearer")
    if api == "openai_responses":
        return ("/v1/responses",
                {"model": MODEL, "stream": stream,
                 "input": [{"role": r, "content": t} for r, t in turns]}, {}, "bearer")
    contents = [{"role": "model" if r == "assistant" else "user", "parts": [{"text": t}]}
                for r, t in turns]
    op = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return (f"/v1beta/models/{GEMINI_MODEL}:{op}", {"contents": contents}, None, None)


APIS = ("anthropic", "openai_chat", "openai_responses", "gemini")
TOO_LONG = {"anthropic": (400, "invalid_request_error"),
            "openai_chat": (400, "context_length_exceeded"),
            "openai_responses": (400, "context_length_exceeded"),
            "gemini": (400, "INVALID_ARGUMENT")}


def error_of(case, api: str, resp, status: int, kind: str) -> str:
    """Asserts the API's error shape with status and kind; returns the message."""
    case.assertEqual(resp.status, status, f"{api}: {resp.body[:400]!r}")
    doc = resp.json()
    if api == "anthropic":
        case.assertEqual(doc["type"], "error", doc)
        case.assertEqual(doc["error"]["type"], kind, doc)
    elif api == "gemini":
        case.assertEqual(set(doc), {"error"}, doc)
        case.assertEqual(doc["error"]["code"], status, doc)
        case.assertEqual(doc["error"]["status"], kind, doc)
    else:
        err = doc["error"]
        case.assertEqual(err["code"] or err["type"], kind, doc)
    return doc["error"]["message"]


SUMMARY_ASK = "Summarise this conversation:"


def summary_calls(reqs) -> list[dict]:
    """The logged requests that were the gateway's summary calls."""
    return [r for r in reqs if r.get("body") and r["body"]["conversationState"]
            ["currentMessage"]["userInputMessage"]["content"].startswith(SUMMARY_ASK)]


def history_texts(entry) -> str:
    """Everything Kiro got in one logged request, as JSON text."""
    return json.dumps(entry["body"]["conversationState"])


class _Context:
    server = "lighttpd"

    def setUp(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        MOCK.reset()

    def start(self, on_overflow: str | None, procs: int = 1) -> Gateway:
        history = {"maxImageMessages": 5}
        if on_overflow is not None:
            history["onOverflow"] = on_overflow
        account = Account("ctx")
        g = Gateway(self.server, MOCK, accounts=[account], procs=procs,
                    config={"history": history})
        g.start()
        self.addCleanup(g.stop)
        self.assertEqual(g.get("/health").status, 200)
        MOCK.call("POST", "accounts/models", {"id": account.mock_id, "models": [
            {"modelId": m, "modelName": m, "maxInputTokens": WINDOW,
             "maxOutputTokens": 8000} for m in ("claude-sonnet-4.5", "claude-haiku-4.5")]})
        out = g.kiroctl("health-check").stdout
        self.assertIn("model list refreshed", out)
        return g

    def send(self, g: Gateway, api: str, turns, stream: bool = False):
        path, req, headers, auth = request_for(api, turns, stream)
        if api == "gemini":
            headers = {"x-goog-api-key": g.api_key}
        return g.post(path, req, headers, auth=auth)

    def wait_log(self, g: Gateway, pattern: str) -> str:
        return wait_for(lambda: re.search(pattern, g.log()), what=pattern).group(0)

    # -- error

    def test_error_is_a_400_in_each_api_with_no_upstream_call(self) -> None:
        g = self.start(None)         # the default
        big = chat_turns(TURNS, RESULT_BYTES)
        for api in APIS:
            with self.subTest(api=api):
                resp = self.send(g, api, big)
                message = error_of(self, api, resp, *TOO_LONG[api])
                self.assertRegex(message, r"^Context window is full: about \d+ tokens, "
                                          r"the model's window is 30000\.")
                self.assertNotIn("x-kiro-context", {k.lower() for k in resp.headers})
        self.assertEqual(MOCK.requests(), [])
        self.wait_log(g, r"history\.onOverflow error\): refused before any upstream call")
        # Within the window: served as ever, no header.
        resp = self.send(g, "anthropic", chat_turns(3, 200))
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertIsNone(resp.headers.get("x-kiro-context"))
        self.assertEqual(len(MOCK.requests()), 1)

    # -- truncate

    def check_truncated(self, entry) -> None:
        text = history_texts(entry)
        self.assertIn(SYSTEM, text)
        self.assertIn(FIRST, text)
        self.assertIn(LAST, text)
        self.assertIn(f"RESULT-{TURNS - 1:04d}", text)    # the newest turn stays
        self.assertNotIn("RESULT-0000", text)              # the oldest went
        kept = [int(n) for n in re.findall(r"RESULT-(\d{4})", text)]
        self.assertEqual(kept, list(range(kept[0], TURNS)), "kept turns not the newest, whole")
        # Every kept use has its result and the other way round.
        uses = set(re.findall(r'"toolUseId": "(toolu_\d+)"', text))
        self.assertTrue(uses)
        for use in uses:
            self.assertEqual(text.count(use), 2, use)

    def test_truncate_serves_an_agent_session_streamed_and_not(self) -> None:
        g = self.start("truncate")
        resp = g.messages(agent_session())
        self.assertEqual(resp.status, 200, resp.body[:300])
        header = resp.headers.get("x-kiro-context")
        self.assertRegex(header or "", r"^truncated; dropped=\d+$")
        dropped = int(header.split("=")[1])
        self.assertGreater(dropped, 20)
        self.assertLess(dropped, 2 * TURNS)
        reqs = MOCK.requests()
        self.assertEqual(len(reqs), 1)      # the mock's Kiro rules took it
        self.assertTrue(reqs[0]["validation"]["ok"])
        self.check_truncated(reqs[0])
        line = self.wait_log(g, r"context: about \d+ tokens for a window of 30000 "
                                r"\(budget \d+\): truncated, dropped the oldest \d+ messages")
        self.assertIn(f"dropped the oldest {dropped} messages", line)

        resp, events = g.stream(agent_session())
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers.get("x-kiro-context"), header)
        self.assertEqual(events[-1].event, "message_stop")
        self.check_truncated(MOCK.requests()[-1])
        # Claude Code's buffered route too.
        resp, events = g.stream(agent_session(), path="/cc/v1/messages")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers.get("x-kiro-context"), header)
        self.assertEqual(events[-1].event, "message_stop")

    def test_truncate_header_on_every_api_streamed_and_not(self) -> None:
        g = self.start("truncate")
        big = chat_turns(TURNS, RESULT_BYTES)
        for api in APIS:
            for stream in (False, True):
                with self.subTest(api=api, stream=stream):
                    resp = self.send(g, api, big, stream)
                    self.assertEqual(resp.status, 200, resp.body[:300])
                    self.assertRegex(resp.headers.get("x-kiro-context") or "",
                                     r"^truncated; dropped=\d+$")
                    if stream:
                        self.assertTrue(list(sse_events(resp.chunks)) or resp.body)
                    text = history_texts(MOCK.requests()[-1])
                    self.assertIn(FIRST, text)
                    self.assertIn(LAST, text)
                    self.assertNotIn("ANSWER-0000", text)
        self.assertEqual(len(MOCK.requests()), 2 * len(APIS))

    # -- summarize

    def check_summarized(self, entry) -> None:
        text = history_texts(entry)
        self.assertIn("Summary of the earlier conversation:", text)
        self.assertIn(FIRST, text)
        self.assertIn(LAST, text)
        self.assertIn(f"RESULT-{TURNS - 1:04d}", text)
        self.assertNotIn("RESULT-0000", text)
        self.assertTrue(entry["validation"]["ok"])

    def test_summarize_calls_once_then_reuses_the_summary(self) -> None:
        g = self.start("summarize")
        session = agent_session()
        resp = g.messages(session)
        self.assertEqual(resp.status, 200, resp.body[:300])
        header = resp.headers.get("x-kiro-context") or ""
        self.assertRegex(header, r"^summarized; turns=\d+; cached=no$")
        reqs = MOCK.requests()
        self.assertEqual(len(reqs), 2)
        self.assertEqual(len(summary_calls(reqs)), 1)
        # The summary call reads the turns the answer lost (the newest of
        # them when they are more than it may send), and none it kept.
        self.check_summarized(reqs[1])
        kept = int(re.search(r"RESULT-(\d{4})", history_texts(reqs[1])).group(1))
        asked = history_texts(reqs[0])
        self.assertTrue(f"RESULT-{kept - 1:04d}" in asked, "the summary misses a turn")
        self.assertFalse(f"RESULT-{kept:04d}" in asked, "a kept turn was summarised")
        # A conversation of its own for Kiro, not a turn of the client's.
        self.assertNotEqual(reqs[0]["body"]["conversationState"]["conversationId"],
                            reqs[1]["body"]["conversationState"]["conversationId"])
        self.wait_log(g, r"context: about \d+ tokens for a window of 30000 \(budget \d+\): "
                         r"summarized the oldest \d+ messages \(one model call\)")

        # The same request again, then one turn longer, streamed: no call.
        turns = header.split("turns=")[1].split(";")[0]
        resp = g.messages(session)
        self.assertEqual(resp.headers.get("x-kiro-context"),
                         f"summarized; turns={turns}; cached=yes")
        longer = dict(session, messages=session["messages"] + [
            {"role": "assistant", "content": "Which file?"},
            {"role": "user", "content": LAST}])
        resp, events = g.stream(longer)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers.get("x-kiro-context"),
                         f"summarized; turns={turns}; cached=yes")
        self.assertEqual(events[-1].event, "message_stop")
        reqs = MOCK.requests()
        self.assertEqual(len(reqs), 4)
        self.assertEqual(len(summary_calls(reqs)), 1)
        self.check_summarized(reqs[3])

    def test_failed_summary_call_falls_back_to_truncation(self) -> None:
        g = self.start("summarize")
        MOCK.script("improperly_formed", times=-1, prompt_contains=SUMMARY_ASK)
        resp = g.messages(agent_session())
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertRegex(resp.headers.get("x-kiro-context") or "",
                         r"^truncated; dropped=\d+; summary=failed$")
        reqs = MOCK.requests()
        self.assertEqual(len(reqs), 2)
        self.assertEqual(len(summary_calls(reqs)), 1)
        self.check_truncated(reqs[1])
        self.assertNotIn("Summary of the earlier conversation", history_texts(reqs[1]))
        self.wait_log(g, r"the summary call failed .*: the \d+ oldest messages are dropped")

    def test_summarize_in_flight_over_two_processes(self) -> None:
        g = self.start("summarize", procs=2)
        session = agent_session()
        resps = gw.in_parallel([lambda: g.messages(session)] * 4)
        for resp in resps:
            self.assertEqual(resp.status, 200, resp.body[:300])
            self.assertRegex(resp.headers.get("x-kiro-context") or "",
                             r"^summarized; turns=\d+; cached=(yes|no)$")
        reqs = MOCK.requests()
        calls = len(summary_calls(reqs))
        self.assertGreaterEqual(calls, 1)
        self.assertLessEqual(calls, 4)
        self.assertEqual(len(reqs), 4 + calls)
        for entry in reqs:
            if entry not in summary_calls([entry]):
                self.check_summarized(entry)
        resp = g.messages(session)
        self.assertRegex(resp.headers.get("x-kiro-context") or "", r"cached=yes$")
        self.assertEqual(len(summary_calls(MOCK.requests())), calls)

    # -- Kiro's refusal

    def test_kiro_refusal_is_truncated_and_retried_once(self) -> None:
        g = self.start("truncate")
        # About 15000 tokens: within the window, over the mock's limit.
        session = agent_session(turns=15)
        MOCK.settings(max_body_bytes=50000)
        resp = g.messages(session)
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertRegex(resp.headers.get("x-kiro-context") or "", r"^truncated; dropped=\d+$")
        reqs = MOCK.requests()
        self.assertEqual(len(reqs), 2)
        self.assertFalse(reqs[0]["validation"].get("ok", False))
        self.assertTrue(reqs[1]["validation"]["ok"])
        self.wait_log(g, r"context: Kiro refused about \d+ tokens as too long")

        # Nothing can meet the limit: the 400 after exactly two calls.
        MOCK.reset()
        g.register_accounts()
        MOCK.settings(max_body_bytes=600)
        resp = g.messages(session)
        error_of(self, "anthropic", resp, 400, "invalid_request_error")
        self.assertEqual(len(MOCK.requests()), 2)

    def test_kiro_refusal_with_error_is_the_400_after_one_call(self) -> None:
        g = self.start("error")
        MOCK.settings(max_body_bytes=50000)
        resp = g.messages(agent_session(turns=15))
        message = error_of(self, "anthropic", resp, 400, "invalid_request_error")
        self.assertIn("Context window is full", message)
        self.assertEqual(len(MOCK.requests()), 1)


class ContextLighttpd(_Context, unittest.TestCase):
    server = "lighttpd"


class ContextApache(_Context, unittest.TestCase):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
