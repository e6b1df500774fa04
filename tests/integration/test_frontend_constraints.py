#!/usr/bin/python3
"""Answer constraints through the OpenAI and Gemini front ends, via a real lighttpd and Apache.

The relay enforces stop sequences, tool_choice, single tool calls and JSON
answers (shared/constrain.h); test_answer_constraints.py shows it on the
Anthropic route.  Here the same enforcement is reached through the other
three protocols, with the mock's answers scripted so each path is taken.
For each server:

  - Chat Completions (streamed and not): stop ends the answer before the
    sequence with finish_reason "stop" and the upstream transfer stopped;
    tool_choice "required", a named function and "none", each met at once,
    met on the retry (the client sees only the second answer) and never met
    (a 502 in OpenAI's error format, the refused text not leaked), streamed
    and not; the instruction in Kiro's system pair, only the named tool
    offered, no tools at all for "none";
    parallel_tool_calls:false leaves one call; response_format json_object
    and json_schema (strict) answered with the extracted, valid JSON, fixed
    on the retry (the validator's message in the second request) or a 502,
    streamed and not;
    a tool_choice no tool can satisfy is a 400 naming the param;
  - Responses: tool_choice "required", a named function and allowed_tools
    (only the listed tools offered), the retry,
    parallel_tool_calls:false, text.format json_schema (streamed and not,
    and never valid: a 502), and the 400s;
  - Gemini (generateContent and streamGenerateContent?alt=sse):
    stopSequences (finishReason STOP, text cut); functionCallingConfig ANY
    (retried), NONE (no tools to Kiro, calls dropped) and
    allowedFunctionNames (only those offered); responseMimeType
    application/json with responseSchema (OpenAPI types) and
    responseJsonSchema, valid at once, fixed on retry and never valid (a 502
    in Google's error format); undeclared allowed names are a 400.

Run: /usr/bin/python3 tests/integration/test_frontend_constraints.py
"""

from __future__ import annotations

import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import (Account, Gateway, Mock, kiro_tools, system_pair,  # noqa: E402
                     tool_script, wait_for)

MOCK: Mock | None = None
MODEL = "claude-sonnet-4-5"

FN_WEATHER = {"name": "get_weather", "description": "Weather for a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                             "required": ["city"]}}
FN_TIME = {"name": "get_time", "description": "Time in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
CHAT_TOOLS = [{"type": "function", "function": FN_WEATHER},
              {"type": "function", "function": FN_TIME}]
RESP_TOOLS = [dict(FN_WEATHER, type="function"), dict(FN_TIME, type="function")]
GEMINI_TOOLS = [{"functionDeclarations": [FN_WEATHER, FN_TIME]}]

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["city", "temp"],
          "properties": {"city": {"type": "string"}, "temp": {"type": "number"}}}
# The same shape in Gemini's OpenAPI dialect.
GEMINI_SCHEMA = {"type": "OBJECT", "required": ["city", "temp"],
                 "properties": {"city": {"type": "STRING"}, "temp": {"type": "NUMBER"}}}
GOOD = '{"city": "Oslo", "temp": 3.5}'
BAD = '{"city": "Oslo", "temp": "cold"}'
BAD_WHY = "$.temp: expected number, got string"


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def chat(prompt: str, **extra) -> dict:
    return dict({"model": MODEL, "messages": [{"role": "user", "content": prompt}]}, **extra)


def responses(prompt: str, **extra) -> dict:
    return dict({"model": MODEL, "input": prompt}, **extra)


def gemini(prompt: str, **extra) -> dict:
    return dict({"contents": [{"role": "user", "parts": [{"text": prompt}]}]}, **extra)


class _FrontendConstraints:
    server: str
    mount: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.account = Account("fe-constraints")
            cls.gw = cls.enterClassContext(Gateway(
                cls.server, MOCK, mount=cls.mount, procs=1, threads=2,
                accounts=[cls.account], config={"pingIntervalSeconds": 1}))

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        self.fresh()

    def fresh(self) -> None:
        MOCK.reset()
        self.gw.register_accounts()

    def tearDown(self) -> None:
        for entry in MOCK.requests():
            self.assertTrue(entry["validation"] and entry["validation"].get("ok"),
                            f"mock refused a request: {entry['validation']}")
        log = self.gw.log()
        for secret in [self.gw.api_key] + self.account.secrets():
            self.assertNotIn(secret, log, "a secret is in the responder log")

    # --- Chat Completions helpers ------------------------------------------------------

    def chat(self, req: dict, stream: bool):
        """(content, [tool calls as (id, name, arguments)], finish_reason) of a 200."""
        resp = self.gw.post("/v1/chat/completions", dict(req, stream=stream), auth="bearer")
        self.assertEqual(resp.status, 200, resp.body[:500])
        if not stream:
            choice = resp.json()["choices"][0]
            calls = [(c["id"], c["function"]["name"], c["function"]["arguments"])
                     for c in choice["message"].get("tool_calls") or []]
            return choice["message"]["content"] or "", calls, choice["finish_reason"]
        lines = [b[6:] for b in resp.body.decode().split("\n\n")
                 if b.startswith("data: ")]
        self.assertEqual(lines[-1], "[DONE]")
        text, calls, finish = "", {}, None
        for line in lines[:-1]:
            chunk = json.loads(line)
            self.assertNotIn("error", chunk, chunk)
            for choice in chunk["choices"]:
                delta = choice["delta"]
                text += delta.get("content") or ""
                for tc in delta.get("tool_calls") or []:
                    cur = calls.setdefault(tc["index"], ["", "", ""])
                    cur[0] += tc.get("id", "")
                    cur[1] += tc.get("function", {}).get("name", "")
                    cur[2] += tc.get("function", {}).get("arguments", "")
                if choice.get("finish_reason") is not None:
                    self.assertIsNone(finish, "two finish_reasons")
                    finish = choice["finish_reason"]
        return text, [tuple(calls[i]) for i in sorted(calls)], finish

    def chat_error(self, req: dict, stream: bool, status: int, param, *words: str) -> dict:
        resp = self.gw.post("/v1/chat/completions", dict(req, stream=stream), auth="bearer")
        self.assertEqual(resp.status, status, resp.body[:500])
        err = resp.json()["error"]
        self.assertEqual(set(err), {"message", "type", "param", "code"})
        self.assertEqual(err["param"], param, err)
        for w in words:
            self.assertIn(w, err["message"])
        return err

    # --- Chat: stop -------------------------------------------------------------------------

    def test_chat_stop_streaming_ends_at_the_sequence(self) -> None:
        count, delay_ms = 20, 150
        MOCK.script({"kind": "slow", "delay_ms": delay_ms,
                     "chunks": ["Once upon ", "a time, THE", " END. More", " words"]
                     + [" filler"] * (count - 4)})
        text, calls, finish = self.chat(chat("story", stop=["zzz", "THE END"]), True)
        self.assertEqual((text, calls, finish), ("Once upon a time, ", [], "stop"))
        first = wait_for(lambda: [e for e in MOCK.requests() if e["complete"]],
                         what="the mock to log the request")[0]
        self.assertTrue(first["client_aborted"], first)
        self.assertLess(first["duration_ms"], 0.5 * (count - 1) * delay_ms)

    def test_chat_stop_json(self) -> None:
        MOCK.script({"kind": "text", "chunks": ["alpha\n", "\nbeta"]})
        text, calls, finish = self.chat(chat("two", stop="\n\n"), False)
        self.assertEqual((text, finish), ("alpha", "stop"))
        self.assertEqual(len(MOCK.requests()), 1)

    # --- Chat: tool_choice ---------------------------------------------------------------

    def test_chat_tool_choice_required_at_once(self) -> None:
        for stream in (False, True):
            with self.subTest(stream=stream):
                self.fresh()
                MOCK.script(tool_script(("get_time", "tu_1", {"city": "Oslo"}),
                                        chunks=["Checking."]))
                text, calls, finish = self.chat(chat("time?", tools=CHAT_TOOLS,
                                                     tool_choice="required"), stream)
                self.assertEqual(text, "Checking.")
                self.assertEqual([(c[0], c[1], json.loads(c[2])) for c in calls],
                                 [("tu_1", "get_time", {"city": "Oslo"})])
                self.assertEqual(finish, "tool_calls")
                reqs = MOCK.requests()
                self.assertEqual(len(reqs), 1)
                self.assertEqual(kiro_tools(reqs[0]), ["get_weather", "get_time"])
                self.assertIn("You must call at least one of the provided tools",
                              system_pair(reqs[0]))

    def test_chat_tool_choice_named_on_retry(self) -> None:
        for stream in (False, True):
            with self.subTest(stream=stream):
                self.fresh()
                MOCK.script({"kind": "text", "chunks": ["I'd rather ", "just talk."]})
                MOCK.script(tool_script(("get_weather", "tu_9", {"city": "Rome"})))
                text, calls, finish = self.chat(chat("weather?", tools=CHAT_TOOLS, tool_choice={
                    "type": "function", "function": {"name": "get_weather"}}), stream)
                self.assertEqual(text, "")
                self.assertEqual([c[1] for c in calls], ["get_weather"])
                self.assertEqual(json.loads(calls[0][2]), {"city": "Rome"})
                self.assertEqual(finish, "tool_calls")
                reqs = MOCK.requests()
                self.assertEqual(len(reqs), 2)
                self.assertEqual(kiro_tools(reqs[0]), ["get_weather"])
                self.assertIn('You must call the tool "get_weather"', system_pair(reqs[0]))
                self.assertIn("your previous answer to this request was rejected",
                              system_pair(reqs[1]))

    def test_chat_tool_choice_never_is_a_502(self) -> None:
        for stream in (False, True):
            with self.subTest(stream=stream):
                self.fresh()
                MOCK.script({"kind": "text", "chunks": ["Never."]}, times=-1)
                err = self.chat_error(chat("weather?", tools=CHAT_TOOLS,
                                           tool_choice="required"),
                                      stream, 502, None, "even when asked again",
                                      "without calling a tool")
                self.assertEqual(err["type"], "server_error")
                self.assertEqual(err["code"], "upstream_error")
                self.assertNotIn("Never.", err["message"])
                self.assertEqual(len(MOCK.requests()), 2)

    def test_chat_tool_choice_matrix(self) -> None:
        """required / named / none: met at once, met on the retry, never met."""
        named = {"type": "function", "function": {"name": "get_weather"}}
        call = tool_script(("get_weather", "tu_w", {"city": "Oslo"}))
        other = tool_script(("get_time", "tu_t", {"city": "Oslo"}))
        text = {"kind": "text", "chunks": ["Just ", "words."]}
        # choice: (good answer, bad answer, what the client gets, the 502's reason)
        cases = {
            "required": ("required", call, text, ("", ["tu_w"], "tool_calls"),
                         "without calling a tool"),
            "named": (named, call, other, ("", ["tu_w"], "tool_calls"),
                      'without calling the tool "get_weather"'),
            "none": ("none", text, other, ("Just words.", [], "stop"),
                     "called a tool, although tool_choice is none"),
        }
        for name, (choice, good, bad, want, why) in cases.items():
            for stream in (False, True):
                for attempt in ("once", "retry", "never"):
                    with self.subTest(choice=name, stream=stream, attempt=attempt):
                        self.fresh()
                        if attempt == "retry":
                            MOCK.script(bad)
                        if attempt == "never":
                            MOCK.script(bad, times=-1)
                        else:
                            MOCK.script(good)
                        req = chat("weather?", tools=CHAT_TOOLS, tool_choice=choice)
                        if attempt == "never":
                            err = self.chat_error(req, stream, 502, None,
                                                  "even when asked again", why)
                            self.assertEqual(err["code"], "upstream_error")
                            self.assertEqual(len(MOCK.requests()), 2)
                            continue
                        text_, calls, finish = self.chat(req, stream)
                        self.assertEqual((text_, [c[0] for c in calls], finish), want)
                        self.assertEqual(len(MOCK.requests()),
                                         2 if attempt == "retry" else 1)

    def test_chat_tool_choice_none_withholds_tools(self) -> None:
        MOCK.script(tool_script(("get_time", "tu_1", {}), chunks=["Just talk."]))
        text, calls, finish = self.chat(chat("talk", tools=CHAT_TOOLS, tool_choice="none"),
                                        False)
        self.assertEqual((text, calls, finish), ("Just talk.", [], "stop"))
        reqs = MOCK.requests()
        self.assertEqual(kiro_tools(reqs[0]), [])
        self.assertIn("Do not call any tool", system_pair(reqs[0]))

    def test_chat_parallel_tool_calls_false_keeps_one(self) -> None:
        for stream in (False, True):
            with self.subTest(stream=stream):
                self.fresh()
                MOCK.script(tool_script(("get_weather", "tu_1", {"city": "Nice"}),
                                        ("get_time", "tu_2", {"city": "Nice"})))
                text, calls, finish = self.chat(chat("both?", tools=CHAT_TOOLS,
                                                     parallel_tool_calls=False), stream)
                self.assertEqual([c[0] for c in calls], ["tu_1"])
                self.assertEqual(finish, "tool_calls")
                self.assertIn("Call at most one tool", system_pair(MOCK.requests()[0]))

    # --- Chat: response_format ---------------------------------------------------------

    def test_chat_json_object(self) -> None:
        MOCK.script({"kind": "text", "chunks": ["Sure:\n```json\n{\"a\": [1, ", "2]}\n```"]})
        text, calls, finish = self.chat(chat("json", response_format={"type": "json_object"}),
                                        True)
        self.assertEqual((text, finish), ('{"a": [1, 2]}', "stop"))
        self.assertIn("Answer with one JSON value only", system_pair(MOCK.requests()[0]))

    def test_chat_json_object_retry_and_never(self) -> None:
        fmt = {"type": "json_object"}
        for stream in (False, True):
            with self.subTest(stream=stream):
                self.fresh()
                MOCK.script({"kind": "text", "chunks": ["I cannot do JSON."]})
                MOCK.script({"kind": "text", "chunks": ['{"ok": true}']})
                text, _, finish = self.chat(chat("json", response_format=fmt), stream)
                self.assertEqual((text, finish), ('{"ok": true}', "stop"))
                reqs = MOCK.requests()
                self.assertEqual(len(reqs), 2)
                self.assertIn("the answer is not JSON", system_pair(reqs[1]))
        self.fresh()
        MOCK.script({"kind": "text", "chunks": ["[1, 2]"]}, times=-1)
        self.chat_error(chat("json", response_format=fmt), True, 502, None,
                        "even when asked again", "an array, not an object")

    def json_schema_format(self) -> dict:
        return {"type": "json_schema",
                "json_schema": {"name": "weather", "strict": True, "schema": SCHEMA}}

    def test_chat_json_schema_at_once_and_on_retry(self) -> None:
        for stream in (False, True):
            with self.subTest(stream=stream, attempt="once"):
                self.fresh()
                MOCK.script({"kind": "text", "chunks": ["Here: " + GOOD[:9], GOOD[9:]]})
                text, _, finish = self.chat(chat("weather", response_format=(
                    self.json_schema_format())), stream)
                self.assertEqual((text, finish), (GOOD, "stop"))
                reqs = MOCK.requests()
                self.assertEqual(len(reqs), 1)
                self.assertIn('"required":["city","temp"]', system_pair(reqs[0]))
            with self.subTest(stream=stream, attempt="retry"):
                self.fresh()
                MOCK.script({"kind": "text", "chunks": [BAD]})
                MOCK.script({"kind": "text", "chunks": [GOOD]})
                text, _, finish = self.chat(chat("weather", response_format=(
                    self.json_schema_format())), stream)
                self.assertEqual((text, finish), (GOOD, "stop"))
                reqs = MOCK.requests()
                self.assertEqual(len(reqs), 2)
                self.assertIn(BAD_WHY, system_pair(reqs[1]))

    def test_chat_json_schema_never_valid(self) -> None:
        MOCK.script({"kind": "text", "chunks": [BAD]}, times=-1)
        err = self.chat_error(chat("weather", response_format=self.json_schema_format()),
                              False, 502, None, "even when asked again", BAD_WHY)
        self.assertEqual(err["code"], "upstream_error")
        self.assertEqual(len(MOCK.requests()), 2)

    def test_chat_unsatisfiable_choice_is_a_400(self) -> None:
        cases = [
            ({"tool_choice": "required"}, "tool_choice"),
            ({"tools": CHAT_TOOLS, "tool_choice": {"type": "function",
                                                   "function": {"name": "get_news"}}},
             "tool_choice.function.name"),
            ({"tool_choice": {"type": "function", "function": {"name": "get_time"}}},
             "tool_choice.function.name"),
        ]
        for extra, param in cases:
            with self.subTest(param=param):
                err = self.chat_error(chat("bad", **extra), False, 400, param)
                self.assertEqual(err["type"], "invalid_request_error")
        self.assertEqual(MOCK.requests(), [])

    # --- Responses -----------------------------------------------------------------------

    def responses(self, req: dict, stream: bool) -> dict:
        """The final response object of a 200."""
        resp = self.gw.post("/v1/responses", dict(req, stream=stream), auth="bearer")
        self.assertEqual(resp.status, 200, resp.body[:500])
        if not stream:
            return resp.json()
        events = [(e.event, json.loads(e.data)) for e in gw.sse_events(resp.chunks)]
        self.assertEqual(events[-1][0], "response.completed", [n for n, _ in events])
        # The streamed deltas agree with the final object.
        deltas = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
        final = events[-1][1]["response"]
        self.assertEqual(deltas, "".join(c["text"] for o in final["output"]
                                         if o["type"] == "message" for c in o["content"]))
        return final

    @staticmethod
    def calls_of(r: dict) -> list[tuple[str, str, dict]]:
        return [(o["call_id"], o["name"], json.loads(o["arguments"]))
                for o in r["output"] if o["type"] == "function_call"]

    def test_responses_tool_choice_required_and_named(self) -> None:
        for stream in (False, True):
            with self.subTest(stream=stream, choice="required"):
                self.fresh()
                MOCK.script({"kind": "text", "chunks": ["No."]})
                MOCK.script(tool_script(("get_time", "tu_3", {"city": "Lima"})))
                r = self.responses(responses("time?", tools=RESP_TOOLS,
                                             tool_choice="required"), stream)
                self.assertEqual(r["status"], "completed")
                self.assertEqual(self.calls_of(r), [("tu_3", "get_time", {"city": "Lima"})])
                self.assertNotIn("No.", json.dumps(r))
                reqs = MOCK.requests()
                self.assertEqual(len(reqs), 2)
                self.assertIn("You must call at least one of the provided tools",
                              system_pair(reqs[0]))
            with self.subTest(stream=stream, choice="named"):
                self.fresh()
                MOCK.script(tool_script(("get_time", "tu_a", {}),
                                        ("get_weather", "tu_b", {"city": "Kyiv"})))
                r = self.responses(responses("weather?", tools=RESP_TOOLS, tool_choice={
                    "type": "function", "name": "get_weather"}), stream)
                self.assertEqual(self.calls_of(r), [("tu_b", "get_weather", {"city": "Kyiv"})])
                reqs = MOCK.requests()
                self.assertEqual(len(reqs), 1)
                self.assertEqual(kiro_tools(reqs[0]), ["get_weather"])

    def test_responses_allowed_tools(self) -> None:
        MOCK.script({"kind": "text", "chunks": ["Talk first."]})
        MOCK.script(tool_script(("get_weather", "tu_w", {"city": "Oslo"})))
        r = self.responses(responses("w?", tools=RESP_TOOLS, tool_choice={
            "type": "allowed_tools", "mode": "required",
            "tools": [{"type": "function", "name": "get_weather"}]}), True)
        self.assertEqual(self.calls_of(r), [("tu_w", "get_weather", {"city": "Oslo"})])
        reqs = MOCK.requests()
        self.assertEqual(len(reqs), 2)
        self.assertEqual(kiro_tools(reqs[0]), ["get_weather"])
        self.assertIn("You must call at least one of the provided tools", system_pair(reqs[0]))

    def test_responses_tool_choice_never_is_a_502(self) -> None:
        MOCK.script({"kind": "text", "chunks": ["Never."]}, times=-1)
        resp = self.gw.post("/v1/responses", responses("t?", tools=RESP_TOOLS,
                                                       tool_choice="required"), auth="bearer")
        self.assertEqual(resp.status, 502, resp.body[:500])
        err = resp.json()["error"]
        self.assertEqual(err["code"], "upstream_error")
        self.assertIn("without calling a tool", err["message"])
        self.assertEqual(len(MOCK.requests()), 2)

    def test_responses_parallel_tool_calls_false(self) -> None:
        MOCK.script(tool_script(("get_weather", "tu_1", {"city": "Nice"}),
                                ("get_time", "tu_2", {"city": "Nice"})))
        r = self.responses(responses("both?", tools=RESP_TOOLS, parallel_tool_calls=False),
                           True)
        self.assertEqual([c[0] for c in self.calls_of(r)], ["tu_1"])
        self.assertIn("Call at most one tool", system_pair(MOCK.requests()[0]))

    def test_responses_text_format_json_schema(self) -> None:
        fmt = {"format": {"type": "json_schema", "name": "weather", "strict": True,
                          "schema": SCHEMA}}
        for stream in (False, True):
            with self.subTest(stream=stream):
                self.fresh()
                MOCK.script({"kind": "text", "chunks": ["```json\n" + BAD + "\n```"]})
                MOCK.script({"kind": "text", "chunks": ["Here you go: " + GOOD]})
                r = self.responses(responses("weather", text=fmt), stream)
                msgs = [o for o in r["output"] if o["type"] == "message"]
                self.assertEqual([c["text"] for c in msgs[0]["content"]], [GOOD])
                reqs = MOCK.requests()
                self.assertEqual(len(reqs), 2)
                self.assertIn("Answer with one JSON value only", system_pair(reqs[0]))
                self.assertIn(BAD_WHY, system_pair(reqs[1]))
        self.fresh()
        MOCK.script({"kind": "text", "chunks": ["not json at all"]}, times=-1)
        resp = self.gw.post("/v1/responses", responses("weather", text=fmt), auth="bearer")
        self.assertEqual(resp.status, 502, resp.body[:500])
        self.assertIn("even when asked again", resp.json()["error"]["message"])

    def test_responses_unsatisfiable_choice_is_a_400(self) -> None:
        cases = [
            ({"tool_choice": "required"}, "tool_choice"),
            ({"tools": RESP_TOOLS, "tool_choice": {"type": "function", "name": "get_news"}},
             "tool_choice.name"),
            ({"tools": RESP_TOOLS, "tool_choice": {"type": "allowed_tools", "mode": "auto",
                                                   "tools": [{"type": "function",
                                                              "name": "get_news"}]}},
             "tool_choice.tools[0].name"),
        ]
        for extra, param in cases:
            with self.subTest(param=param):
                resp = self.gw.post("/v1/responses", responses("bad", **extra), auth="bearer")
                self.assertEqual(resp.status, 400, resp.body[:500])
                err = resp.json()["error"]
                self.assertEqual(err["type"], "invalid_request_error")
                self.assertEqual(err["param"], param)
        self.assertEqual(MOCK.requests(), [])

    # --- Gemini --------------------------------------------------------------------------

    def gemini(self, req: dict, stream: bool, model: str = "gemini-2.5-flash"):
        """(text, [(name, args)], finishReason) of a 200."""
        verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
        resp = self.gw.post(f"/v1beta/models/{model}:{verb}", req,
                            {"x-goog-api-key": self.gw.api_key}, auth=None)
        self.assertEqual(resp.status, 200, resp.body[:500])
        docs = ([json.loads(e.data) for e in gw.sse_events(resp.chunks)] if stream
                else [resp.json()])
        text, calls, finish = "", [], None
        for doc in docs:
            cand = doc["candidates"][0]
            for part in cand.get("content", {}).get("parts", []):
                text += part.get("text", "")
                if "functionCall" in part:
                    calls.append((part["functionCall"]["name"], part["functionCall"]["args"]))
            if "finishReason" in cand:
                self.assertIsNone(finish, "two finishReasons")
                finish = cand["finishReason"]
        return text, calls, finish

    def gemini_error(self, req: dict, code: int, status: str, *words: str) -> str:
        resp = self.gw.post("/v1beta/models/gemini-2.5-pro:generateContent", req,
                            {"x-goog-api-key": self.gw.api_key}, auth=None)
        self.assertEqual(resp.status, code, resp.body[:500])
        err = resp.json()["error"]
        self.assertEqual((err["code"], err["status"]), (code, status))
        for w in words:
            self.assertIn(w, err["message"])
        return err["message"]

    def test_gemini_stop_sequences(self) -> None:
        for stream in (False, True):
            with self.subTest(stream=stream):
                self.fresh()
                MOCK.script({"kind": "text", "chunks": ["keep this", " STOP drop this"]})
                text, calls, finish = self.gemini(gemini("x", generationConfig={
                    "stopSequences": ["STOP"]}), stream)
                self.assertEqual((text, calls, finish), ("keep this ", [], "STOP"))

    def test_gemini_any_none_and_allowed(self) -> None:
        for stream in (False, True):
            with self.subTest(stream=stream, mode="ANY"):
                self.fresh()
                MOCK.script({"kind": "text", "chunks": ["I would rather talk."]})
                MOCK.script(tool_script(("get_time", "tu_1", {"city": "Oslo"})))
                text, calls, finish = self.gemini(gemini("t?", tools=GEMINI_TOOLS, toolConfig={
                    "functionCallingConfig": {"mode": "ANY"}}), stream)
                self.assertEqual((text, calls, finish),
                                 ("", [("get_time", {"city": "Oslo"})], "STOP"))
                self.assertEqual(len(MOCK.requests()), 2)
            with self.subTest(stream=stream, mode="NONE"):
                self.fresh()
                MOCK.script(tool_script(("get_time", "tu_1", {}), chunks=["Talk."]))
                text, calls, finish = self.gemini(gemini("t?", tools=GEMINI_TOOLS, toolConfig={
                    "functionCallingConfig": {"mode": "NONE"}}), stream)
                self.assertEqual((text, calls, finish), ("Talk.", [], "STOP"))
                reqs = MOCK.requests()
                self.assertEqual(kiro_tools(reqs[0]), [])
                self.assertIn("Do not call any tool", system_pair(reqs[0]))
            with self.subTest(stream=stream, mode="allowed"):
                self.fresh()
                MOCK.script(tool_script(("get_weather", "tu_5", {"city": "Bern"})))
                text, calls, finish = self.gemini(gemini("w?", tools=GEMINI_TOOLS, toolConfig={
                    "functionCallingConfig": {"mode": "ANY",
                                              "allowedFunctionNames": ["get_weather"]}}),
                    stream)
                self.assertEqual(calls, [("get_weather", {"city": "Bern"})])
                reqs = MOCK.requests()
                self.assertEqual(kiro_tools(reqs[0]), ["get_weather"])
                self.assertIn('You must call the tool "get_weather"', system_pair(reqs[0]))

    def test_gemini_json_schemas(self) -> None:
        forms = {"responseSchema": GEMINI_SCHEMA, "responseJsonSchema": SCHEMA}
        for key, schema in forms.items():
            for stream in (False, True):
                with self.subTest(key=key, stream=stream, attempt="once"):
                    self.fresh()
                    MOCK.script({"kind": "text", "chunks": [GOOD[:5], GOOD[5:] + "\n"]})
                    text, _, finish = self.gemini(gemini("w", generationConfig={
                        "responseMimeType": "application/json", key: schema}), stream)
                    self.assertEqual((text, finish), (GOOD, "STOP"))
                    reqs = MOCK.requests()
                    self.assertEqual(len(reqs), 1)
                    # The OpenAPI form reaches Kiro as JSON Schema.
                    self.assertIn('"temp":{"type":"number"}', system_pair(reqs[0]))
                with self.subTest(key=key, stream=stream, attempt="retry"):
                    self.fresh()
                    MOCK.script({"kind": "text", "chunks": [BAD]})
                    MOCK.script({"kind": "text", "chunks": [GOOD]})
                    text, _, finish = self.gemini(gemini("w", generationConfig={
                        "responseMimeType": "application/json", key: schema}), stream)
                    self.assertEqual((text, finish), (GOOD, "STOP"))
                    reqs = MOCK.requests()
                    self.assertEqual(len(reqs), 2)
                    self.assertIn(BAD_WHY, system_pair(reqs[1]))
        self.fresh()
        MOCK.script({"kind": "text", "chunks": [BAD]}, times=-1)
        msg = self.gemini_error(gemini("w", generationConfig={
            "responseMimeType": "application/json", "responseSchema": GEMINI_SCHEMA}),
            502, "UNAVAILABLE", "even when asked again", BAD_WHY)
        self.assertNotIn("cold", msg.replace(BAD_WHY, ""))
        self.assertEqual(len(MOCK.requests()), 2)

    def test_gemini_unsatisfiable_choice_is_a_400(self) -> None:
        cases = [
            (gemini("x", tools=GEMINI_TOOLS, toolConfig={"functionCallingConfig": {
                "mode": "ANY", "allowedFunctionNames": ["get_news"]}}),
             "toolConfig.functionCallingConfig.allowedFunctionNames[0]"),
            (gemini("x", toolConfig={"functionCallingConfig": {"mode": "ANY"}}),
             "toolConfig.functionCallingConfig.mode"),
        ]
        for req, field in cases:
            with self.subTest(field=field):
                self.gemini_error(req, 400, "INVALID_ARGUMENT", field)
        self.assertEqual(MOCK.requests(), [])


class Lighttpd(_FrontendConstraints, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"


class Apache(_FrontendConstraints, unittest.TestCase):
    server, mount = "apache", "/"


if __name__ == "__main__":
    unittest.main(verbosity=2)
