#!/usr/bin/python3
"""Cut-off tool calls are continued, never sent broken (issue 10).

The mock's tool_cut scenarios stop a ~7 KB Write call in the middle of its
input and answer a continuation request with the rest.  One gateway per
class (2 processes x 4 threads) behind lighttpd, and again behind Apache
(the *Apache classes).  Covered, on all four APIs (Anthropic Messages,
OpenAI chat, OpenAI Responses, Gemini), streamed and not:

  - a call cut inside a string, just after an escape's backslash, and
    between two keys, ended by Kiro's length stop: the client gets one
    complete Write call whose input is exactly the original object, and
    the stop reason of a tool call; every streamed delta of the call
    joins into valid JSON; the continuation request holds the partial
    input as the assistant's last turn;
  - the other ends: ContentLengthExceededException, a stream that ends
    without the call's stop, a dropped connection; a continuation in a
    code fence; a continuation that calls the tool again with the whole
    input; a call that needs two continuations;
  - continuations exhausted (the model never continues): max_tokens
    (Anthropic max_tokens, OpenAI length, Responses incomplete, Gemini
    MAX_TOKENS) and no tool call at all, after 1 + toolContinuations
    upstream calls; every answer dropping the connection: the API's
    error (502 before the first byte, an in-stream error after it);
  - the request's log line says how many continuations were used;
  - the buffered /cc/v1/messages mode: the same outcomes (a 502 when
    every answer breaks, since nothing was sent yet);
  - toolContinuations 0: max_tokens at once, one upstream call;
  - 8 requests in flight at once over 2 processes, some cut, some not:
    each gets its own complete answer.

Run: /usr/bin/python3 tests/integration/test_tool_continuation.py
"""

from __future__ import annotations

import json
import sys
import threading
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "mock"))

import gateway as gw  # noqa: E402
import kiro_mock  # noqa: E402
from gateway import Account, Gateway, Mock  # noqa: E402

MOCK: Mock | None = None
MODEL = "claude-sonnet-4-5"
GEMINI_MODEL = "gemini-2.5-flash"
WRITE = kiro_mock.TOOL_CUT_WRITE
FULL = kiro_mock.compact(WRITE)
SCHEMA = {"type": "object", "properties": {"file_path": {"type": "string"},
                                           "content": {"type": "string"}},
          "required": ["file_path", "content"]}
DESCRIPTION = "Write a file to the local filesystem."


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


class Answer:
    """What a client got: status, stop ("tool_use", "max_tokens", ...),
    calls [(name, input)], error kind, the text."""

    def __init__(self, status: int):
        self.status = status
        self.stop: str | None = None
        self.calls: list[tuple[str, dict]] = []
        self.error: str | None = None
        self.text = ""

    def __repr__(self) -> str:
        return (f"Answer(status={self.status}, stop={self.stop}, error={self.error}, "
                f"calls={[(n, len(json.dumps(i))) for n, i in self.calls]})")


def parse_args(raw: str, where: str) -> dict:
    """A call's input as the client got it: must be a JSON object."""
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise AssertionError(f"{where}: tool input is not JSON ({err}): {raw[-80:]!r}")
    if not isinstance(value, dict):
        raise AssertionError(f"{where}: tool input is not an object: {raw[:80]!r}")
    return value


def sse(resp) -> list:
    return list(gw.sse_events(resp.chunks))


# --- one request per API ------------------------------------------------------------

def anthropic(g: Gateway, prompt: str, stream: bool) -> Answer:
    req = gw.body(prompt, tools=[{"name": "Write", "description": DESCRIPTION,
                                  "input_schema": SCHEMA}])
    resp = g.post("/v1/messages", dict(req, stream=stream))
    ans = Answer(resp.status)
    if resp.status != 200:
        ans.error = resp.json()["error"]["type"]
        return ans
    if not stream:
        doc = resp.json()
        ans.stop = doc["stop_reason"]
        ans.calls = [(c["name"], c["input"]) for c in doc["content"] if c["type"] == "tool_use"]
        ans.text = "".join(c["text"] for c in doc["content"] if c["type"] == "text")
        return ans
    blocks: dict[int, list] = {}
    for e in sse(resp):
        d = json.loads(e.data)
        if e.event == "content_block_start" and d["content_block"]["type"] == "tool_use":
            blocks[d["index"]] = [d["content_block"]["name"], ""]
        elif e.event == "content_block_delta" and d["delta"]["type"] == "input_json_delta":
            blocks[d["index"]][1] += d["delta"]["partial_json"]
        elif e.event == "content_block_delta" and d["delta"]["type"] == "text_delta":
            ans.text += d["delta"]["text"]
        elif e.event == "message_delta":
            ans.stop = d["delta"]["stop_reason"]
        elif e.event == "error":
            ans.error = d["error"]["type"]
    ans.calls = [(n, parse_args(raw, "anthropic stream")) for n, raw in blocks.values()]
    return ans


OPENAI_STOP = {"tool_calls": "tool_use", "length": "max_tokens", "stop": "end_turn"}


def openai_chat(g: Gateway, prompt: str, stream: bool) -> Answer:
    req = {"model": MODEL, "messages": [{"role": "user", "content": prompt}], "stream": stream,
           "tools": [{"type": "function", "function": {"name": "Write",
                                                        "description": DESCRIPTION,
                                                        "parameters": SCHEMA}}]}
    resp = g.post("/v1/chat/completions", req, auth="bearer")
    ans = Answer(resp.status)
    if resp.status != 200:
        ans.error = resp.json()["error"]["code"] or resp.json()["error"]["type"]
        return ans
    if not stream:
        choice = resp.json()["choices"][0]
        ans.stop = OPENAI_STOP.get(choice["finish_reason"], choice["finish_reason"])
        ans.calls = [(c["function"]["name"], parse_args(c["function"]["arguments"], "chat"))
                     for c in choice["message"].get("tool_calls") or []]
        ans.text = choice["message"].get("content") or ""
        return ans
    calls: dict[int, list] = {}
    for e in sse(resp):
        if e.data == "[DONE]":
            continue
        d = json.loads(e.data)
        if "error" in d:
            ans.error = d["error"].get("code") or d["error"].get("type")
            continue
        for choice in d.get("choices") or []:
            delta = choice.get("delta") or {}
            ans.text += delta.get("content") or ""
            for tc in delta.get("tool_calls") or []:
                slot = calls.setdefault(tc["index"], ["", ""])
                fn = tc.get("function") or {}
                slot[0] += fn.get("name") or ""
                slot[1] += fn.get("arguments") or ""
            if choice.get("finish_reason"):
                ans.stop = OPENAI_STOP.get(choice["finish_reason"], choice["finish_reason"])
    ans.calls = [(n, parse_args(raw, "chat stream")) for n, raw in calls.values()]
    return ans


def responses_output(ans: Answer, doc: dict) -> None:
    status = doc["status"]
    items = doc.get("output") or []
    calls = [(i["name"], parse_args(i["arguments"], "responses"))
             for i in items if i["type"] == "function_call"]
    ans.calls = calls
    ans.text = "".join(c.get("text") or "" for i in items if i["type"] == "message"
                       for c in i.get("content") or [])
    ans.stop = "max_tokens" if status == "incomplete" else \
        "tool_use" if calls else "end_turn" if status == "completed" else status


def openai_responses(g: Gateway, prompt: str, stream: bool) -> Answer:
    req = {"model": MODEL, "input": prompt, "stream": stream,
           "tools": [{"type": "function", "name": "Write", "description": DESCRIPTION,
                      "parameters": SCHEMA}]}
    resp = g.post("/v1/responses", req, auth="bearer")
    ans = Answer(resp.status)
    if resp.status != 200:
        ans.error = resp.json()["error"]["code"] or resp.json()["error"]["type"]
        return ans
    if not stream:
        responses_output(ans, resp.json())
        return ans
    deltas: dict[int, str] = {}
    for e in sse(resp):
        d = json.loads(e.data)
        if e.event == "response.function_call_arguments.delta":
            deltas[d["output_index"]] = deltas.get(d["output_index"], "") + d["delta"]
        elif e.event in ("response.completed", "response.incomplete"):
            responses_output(ans, d["response"])
        elif e.event in ("error", "response.failed"):
            err = d.get("error") or (d.get("response") or {}).get("error") or {}
            ans.error = err.get("code") or err.get("type") or "error"
    streamed = [parse_args(raw, "responses stream") for raw in deltas.values()]
    if streamed != [i for _, i in ans.calls]:
        raise AssertionError(f"responses: the deltas {len(streamed)} differ from the items")
    if ans.stop is None and ans.error is None:
        raise AssertionError("responses stream: no final event")
    if not ans.calls:
        ans.calls = [("?", a) for a in streamed]
    return ans


GEMINI_STOP = {"MAX_TOKENS": "max_tokens"}


def gemini(g: Gateway, prompt: str, stream: bool) -> Answer:
    req = {"contents": [{"role": "user", "parts": [{"text": prompt}]}],
           "tools": [{"functionDeclarations": [{"name": "Write", "description": DESCRIPTION,
                                                "parameters": SCHEMA}]}]}
    verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
    resp = g.post(f"/v1beta/models/{GEMINI_MODEL}:{verb}", req,
                  {"x-goog-api-key": g.api_key}, auth=None)
    ans = Answer(resp.status)
    if resp.status != 200:
        ans.error = resp.json()["error"]["status"]
        return ans
    docs = [json.loads(e.data) for e in sse(resp)] if stream else [resp.json()]
    finish = None
    for d in docs:
        if "error" in d:
            ans.error = d["error"].get("status")
            continue
        for cand in d.get("candidates") or []:
            for part in (cand.get("content") or {}).get("parts") or []:
                if "functionCall" in part:
                    args = part["functionCall"].get("args")
                    if not isinstance(args, dict):
                        raise AssertionError(f"gemini: args not an object: {args!r}")
                    ans.calls.append((part["functionCall"]["name"], args))
                elif "text" in part:
                    ans.text += part["text"]
            finish = cand.get("finishReason") or finish
    if finish is not None:
        ans.stop = GEMINI_STOP.get(finish, "tool_use" if ans.calls else "end_turn")
    return ans


APIS = {"anthropic": anthropic, "openai_chat": openai_chat,
        "openai_responses": openai_responses, "gemini": gemini}


def in_parallel(calls: list) -> list:
    """Runs the callables at once (a barrier), returns their results in order."""
    results: list = [None] * len(calls)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))

    def run(slot: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[slot] = calls[slot]()
        except BaseException as err:  # reported in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    if errors:
        raise errors[0]
    return results


class _ToolCont:
    server = "lighttpd"
    g: Gateway

    @classmethod
    def setUpClass(cls) -> None:
        missing = gw.SERVERS[cls.server].missing()
        if missing is not None:
            raise AssertionError(missing)
        cls.g = Gateway(cls.server, MOCK, accounts=[Account("toolcont")], procs=2,
                        threads=4).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.g.stop()

    def setUp(self) -> None:
        MOCK.reset()
        self.g.register_accounts()

    def assert_complete(self, ans: Answer, what: str) -> None:
        self.assertEqual(ans.status, 200, f"{what}: {ans}")
        self.assertIsNone(ans.error, f"{what}: {ans}")
        self.assertEqual(ans.stop, "tool_use", f"{what}: {ans}")
        self.assertEqual(len(ans.calls), 1, f"{what}: {ans}")
        self.assertEqual(ans.calls[0][0], "Write", what)
        self.assertEqual(ans.calls[0][1], WRITE, f"{what}: the input differs")

    def cut_requests(self) -> list[dict]:
        return [e for e in MOCK.requests() if e.get("tool_cut")]

    # -- every cut point, every API, streamed and not

    def test_cut_points_are_completed_on_every_api(self) -> None:
        for scenario in ("tool_cut_string", "tool_cut_escape", "tool_cut_keys"):
            for api, call in APIS.items():
                for stream in (False, True):
                    what = f"{scenario} {api} stream={stream}"
                    MOCK.reset()
                    self.g.register_accounts()
                    ans = call(self.g, f"write the module #mock:{scenario}", stream)
                    self.assert_complete(ans, what)
                    seen = self.cut_requests()
                    self.assertEqual([e["tool_cut"] for e in seen], ["cut", "continuation"],
                                     what)
                    # The continuation holds the partial input as the last turn.
                    state = seen[1]["body"]["conversationState"]
                    partial = state["history"][-1]["assistantResponseMessage"]["content"]
                    self.assertEqual(partial, FULL[:seen[0]["at"]], what)
                    self.assertIn("cut off", state["currentMessage"]["userInputMessage"]
                                  ["content"], what)

    def test_other_ends_fences_and_two_continuations(self) -> None:
        for scenario, rounds in (("tool_cut_exceeded", 1), ("tool_cut_eof", 1),
                                 ("tool_cut_drop", 1), ("tool_cut_fenced", 1),
                                 ("tool_cut_recall", 1),
                                 ("tool_cut_twice", 2)):
            for api in ("anthropic", "openai_responses"):
                for stream in (False, True):
                    what = f"{scenario} {api} stream={stream}"
                    MOCK.reset()
                    self.g.register_accounts()
                    ans = APIS[api](self.g, f"write it #mock:{scenario}", stream)
                    self.assert_complete(ans, what)
                    self.assertEqual(len(self.cut_requests()), 1 + rounds, what)
        # The request's log line names the continuations used.
        gw.wait_for(lambda: "tool call continuations used: 2, the call completed"
                    in self.g.log(), what="the continuation log line")

    # -- continuations exhausted

    def test_exhausted_is_max_tokens_without_a_call(self) -> None:
        for api, call in APIS.items():
            for stream in (False, True):
                what = f"{api} stream={stream}"
                MOCK.reset()
                self.g.register_accounts()
                ans = call(self.g, "write it #mock:tool_cut_refused", stream)
                self.assertEqual(ans.status, 200, f"{what}: {ans}")
                self.assertIsNone(ans.error, f"{what}: {ans}")
                self.assertEqual(ans.stop, "max_tokens", f"{what}: {ans}")
                self.assertEqual(ans.calls, [], what)
                self.assertIn("I will write the file.", ans.text, what)
                # toolContinuations defaults to 2.
                self.assertEqual(len(self.cut_requests()), 3, what)
        gw.wait_for(lambda: "tool call continuations used: 2, the call not sent"
                    in self.g.log(), what="the exhausted log line")

    def test_broken_streams_exhausted_are_the_api_error(self) -> None:
        failed = {"anthropic": "api_error", "openai_chat": "upstream_error",
                  "openai_responses": "upstream_error", "gemini": "UNAVAILABLE"}
        for api, call in APIS.items():
            for stream in (False, True):
                what = f"{api} stream={stream}"
                MOCK.reset()
                self.g.register_accounts()
                ans = call(self.g, "write it #mock:tool_cut_dropping", stream)
                self.assertEqual(ans.status, 200 if stream else 502, f"{what}: {ans}")
                self.assertEqual(ans.error, failed[api], f"{what}: {ans}")
                self.assertEqual(ans.calls, [], what)
                self.assertEqual(len(self.cut_requests()), 3, what)

    def test_buffered_cc_mode(self) -> None:
        """/cc/v1/messages holds the whole answer: the same outcomes."""
        for scenario, status, stop, calls in (("tool_cut_string", 200, "tool_use", 1),
                                               ("tool_cut_refused", 200, "max_tokens", 0),
                                               ("tool_cut_dropping", 502, None, 0)):
            MOCK.reset()
            self.g.register_accounts()
            resp, events = self.g.stream(gw.body(f"w #mock:{scenario}", tools=[
                {"name": "Write", "description": DESCRIPTION, "input_schema": SCHEMA}]),
                path="/cc/v1/messages")
            self.assertEqual(resp.status, status, scenario)
            if status != 200:
                self.assertEqual(resp.json()["error"]["type"], "api_error", scenario)
                continue
            inputs: dict[int, str] = {}
            got_stop = None
            for e in events:
                d = json.loads(e.data)
                if e.event == "content_block_start" and d["content_block"]["type"] == "tool_use":
                    inputs[d["index"]] = ""
                elif e.event == "content_block_delta" and \
                        d["delta"]["type"] == "input_json_delta":
                    inputs[d["index"]] += d["delta"]["partial_json"]
                elif e.event == "message_delta":
                    got_stop = d["delta"]["stop_reason"]
            self.assertEqual(got_stop, stop, scenario)
            self.assertEqual([parse_args(v, "cc") for v in inputs.values()], [WRITE] * calls,
                             scenario)

    # -- several in flight

    def test_concurrent_requests_some_cut(self) -> None:
        plan = [("anthropic", "tool_cut_string", True), ("openai_chat", "tool_cut_escape", True),
                ("openai_responses", "tool_cut_keys", False), ("gemini", "tool_cut_drop", True),
                ("anthropic", "tool_use", False), ("openai_chat", "text", False),
                ("gemini", "tool_cut_twice", False), ("openai_responses", "tool_cut_eof", True)]
        results = in_parallel([
            lambda api=api, sc=sc, st=st: APIS[api](self.g, f"job #mock:{sc}", st)
            for api, sc, st in plan])
        for (api, scenario, stream), ans in zip(plan, results):
            what = f"{scenario} {api} stream={stream}"
            if scenario.startswith("tool_cut"):
                self.assert_complete(ans, what)
            elif scenario == "tool_use":
                self.assertEqual(ans.stop, "tool_use", what)
                self.assertEqual(ans.calls, [("read_file", {"path": "/tmp/a.txt"})], what)
            else:
                self.assertEqual(ans.status, 200, what)
                self.assertEqual(ans.calls, [], what)
                self.assertIn("job", ans.text, what)
        seen = self.cut_requests()
        self.assertEqual(sum(1 for e in seen if e["tool_cut"] == "cut"), 6)
        self.assertEqual(sum(1 for e in seen if e["tool_cut"] == "continuation"), 7)


class _Disabled:
    server = "lighttpd"

    def test_zero_continuations_is_max_tokens_at_once(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        MOCK.reset()
        g = Gateway(self.server, MOCK, accounts=[Account("nocont")],
                    config={"toolContinuations": 0}).start()
        self.addCleanup(g.stop)
        for stream in (False, True):
            MOCK.reset()
            g.register_accounts()
            ans = anthropic(g, "write it #mock:tool_cut_string", stream)
            self.assertEqual((ans.status, ans.stop, ans.calls), (200, "max_tokens", []),
                             f"stream={stream}: {ans}")
            self.assertEqual(len(MOCK.requests()), 1)


class ToolContLighttpd(_ToolCont, unittest.TestCase):
    server = "lighttpd"


class ToolContApache(_ToolCont, unittest.TestCase):
    server = "apache"


class DisabledLighttpd(_Disabled, unittest.TestCase):
    server = "lighttpd"


class DisabledApache(_Disabled, unittest.TestCase):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
