#!/usr/bin/python3
"""Answer constraints the gateway enforces, through a real lighttpd and a real Apache.

Kiro has no stop sequences, tool_choice or parallel-call setting, so the
relay enforces them (shared/constrain.h).  The mock's answers are scripted so
that each path is taken.  For each server, on /v1/messages:

  - stop_sequences, streaming and not: the text ends before the first
    sequence, stop_reason is "stop_sequence" and stop_sequence names it; the
    upstream transfer is stopped long before the scripted end (client_aborted
    in the mock's log);
  - tool_choice any / tool: satisfied at once (the text before the call comes
    whole, then the call, one upstream call); satisfied on the retry (the
    second upstream request carries the firmer instruction, the client sees
    only the second answer); never satisfied (two upstream calls, then a 502
    api_error naming the reason);
  - tool_choice tool: only the named tool is offered to Kiro, and a call to
    another tool never reaches the client;
  - tool_choice none: no tool definitions go to Kiro, and the instruction is
    in the system pair;
  - disable_parallel_tool_use: only the first of two calls reaches the client;
  - structured output (output_config.format / output_format json_schema):
    the JSON is taken out of fences and prose and validated, satisfied at once
    (one text block, held back and sent whole while pings flow), on the retry (the validator's
    message is in the second request), or never (502 naming the path of the
    bad value); thinking still streams while the text is held;
  - bad stop_sequences / disable_parallel_tool_use / output format values, and
    a tool_choice no tool can satisfy, are 400s naming the field.

Run: /usr/bin/python3 tests/integration/test_answer_constraints.py
"""

from __future__ import annotations

import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import (Account, Gateway, Mock, assert_anthropic_error, body,  # noqa: E402
                     event_data, event_names, kiro_tools, system_pair, text_of,
                     tool_script, wait_for)

MOCK: Mock | None = None

TOOLS = [
    {"name": "get_weather", "description": "Weather for a city",
     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                      "required": ["city"]}},
    {"name": "get_time", "description": "Time in a city",
     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
]


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


class _Constraints:
    server: str
    mount: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.account = Account("constraints")
            cls.gw = cls.enterClassContext(Gateway(
                cls.server, MOCK, mount=cls.mount, procs=1, threads=2,
                accounts=[cls.account], config={"pingIntervalSeconds": 1}))

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        MOCK.reset()
        self.gw.register_accounts()

    # --- stop sequences -----------------------------------------------------------------

    def test_stop_sequence_streaming_stops_the_upstream(self) -> None:
        count, delay_ms = 20, 150
        MOCK.script({"kind": "slow", "delay_ms": delay_ms,
                     "chunks": ["Once upon ", "a time, THE", " END. More", " words"]
                     + [" filler"] * (count - 4)})
        resp, events = self.gw.stream(body("tell a story", stop_sequences=["THE END", "zzz"]))
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertEqual(text_of(events), "Once upon a time, ")
        names = event_names(events)
        self.assertEqual(names[-2:], ["message_delta", "message_stop"], names)
        delta = json.loads(events[-2].data)["delta"]
        self.assertEqual(delta, {"stop_reason": "stop_sequence", "stop_sequence": "THE END"})
        first = wait_for(lambda: [e for e in MOCK.requests() if e["complete"]],
                         what="the mock to log the request")[0]
        self.assertTrue(first["client_aborted"], first)
        self.assertLess(first["duration_ms"], 0.5 * (count - 1) * delay_ms)
        self.assertEqual(len(MOCK.requests()), 1)

    def test_stop_sequence_buffered_route_pings_before_the_answer(self) -> None:
        MOCK.script({"kind": "text", "first_byte_delay_ms": 2500,
                     "chunks": ["keep this STOP drop this"]})
        resp, events = self.gw.stream(body("buffered", stop_sequences=["STOP"]),
                                      path="/cc/v1/messages")
        self.assertEqual(resp.status, 200, resp.body[:300])
        names = event_names(events)
        self.assertEqual(names[0], "ping", names)
        self.assertEqual(text_of(events), "keep this ")
        self.assertEqual(json.loads(events[-2].data)["delta"]["stop_reason"], "stop_sequence")

    def test_stop_sequence_json_answer(self) -> None:
        MOCK.script({"kind": "text", "chunks": ["alpha\n", "\nbeta"]})
        resp = self.gw.messages(body("two paragraphs", stop_sequences=["\n\n"]))
        self.assertEqual(resp.status, 200, resp.body[:300])
        doc = resp.json()
        self.assertEqual(doc["content"], [{"type": "text", "text": "alpha"}])
        self.assertEqual(doc["stop_reason"], "stop_sequence")
        self.assertEqual(doc["stop_sequence"], "\n\n")

    def test_stop_sequence_not_met_is_a_normal_end(self) -> None:
        resp = self.gw.messages(body("plain", stop_sequences=["never said"]))
        self.assertEqual(resp.status, 200, resp.body[:300])
        doc = resp.json()
        self.assertEqual(doc["content"][0]["text"], "Hello from mock Kiro. You said: plain")
        self.assertEqual(doc["stop_reason"], "end_turn")
        self.assertIsNone(doc["stop_sequence"])

    # --- tool_choice --------------------------------------------------------------------

    def test_tool_choice_any_satisfied_at_once(self) -> None:
        MOCK.script(tool_script(("get_time", "tu_1", {"city": "Oslo"}),
                                chunks=["Checking ", "the clock."]))
        resp, events = self.gw.stream(body("time?", tools=TOOLS,
                                           tool_choice={"type": "any"}))
        self.assertEqual(resp.status, 200, resp.body[:300])
        data = event_data(events)
        starts = [d["content_block"] for d in data if d["type"] == "content_block_start"]
        self.assertEqual([b["type"] for b in starts], ["text", "tool_use"])
        self.assertEqual(starts[1]["name"], "get_time")
        # The held text arrives whole, in one delta.
        deltas = [d["delta"]["text"] for d in data if d["type"] == "content_block_delta"
                  and d["delta"]["type"] == "text_delta"]
        self.assertEqual(deltas, ["Checking the clock."])
        self.assertEqual(data[-2]["delta"]["stop_reason"], "tool_use")
        reqs = MOCK.requests()
        self.assertEqual(len(reqs), 1)
        self.assertEqual(kiro_tools(reqs[0]), ["get_weather", "get_time"])
        self.assertIn("You must call at least one of the provided tools", system_pair(reqs[0]))

    def test_tool_choice_tool_satisfied_on_retry(self) -> None:
        MOCK.script({"kind": "text", "chunks": ["I'd rather ", "just talk."]})
        MOCK.script(tool_script(("get_weather", "tu_9", {"city": "Rome"})))
        resp = self.gw.messages(body("weather?", tools=TOOLS,
                                     tool_choice={"type": "tool", "name": "get_weather"}))
        self.assertEqual(resp.status, 200, resp.body[:300])
        doc = resp.json()
        self.assertEqual([b["type"] for b in doc["content"]], ["tool_use"], doc)
        self.assertEqual(doc["content"][0]["name"], "get_weather")
        self.assertEqual(doc["content"][0]["input"], {"city": "Rome"})
        self.assertEqual(doc["stop_reason"], "tool_use")
        reqs = MOCK.requests()
        self.assertEqual(len(reqs), 2)
        # Only the named tool is offered.
        self.assertEqual(kiro_tools(reqs[0]), ["get_weather"])
        self.assertNotIn("previous answer", system_pair(reqs[0]))
        self.assertIn('You must call the tool "get_weather"', system_pair(reqs[1]))
        self.assertIn("your previous answer to this request was rejected", system_pair(reqs[1]))

    def test_tool_choice_streaming_retry_is_invisible(self) -> None:
        MOCK.script({"kind": "text", "chunks": ["No tools from me."]})
        MOCK.script(tool_script(("get_time", "tu_2", {"city": "Lima"}), chunks=["Sure."]))
        resp, events = self.gw.stream(body("time?", tools=TOOLS, tool_choice={"type": "any"}))
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertEqual(event_names(events).count("message_start"), 1)
        self.assertEqual(text_of(events), "Sure.")
        self.assertNotIn("No tools", resp.body.decode())
        self.assertEqual(len(MOCK.requests()), 2)

    def test_tool_choice_never_satisfied_is_an_error(self) -> None:
        for stream in (False, True):
            with self.subTest(stream=stream):
                MOCK.reset()
                self.gw.register_accounts()
                MOCK.script({"kind": "text", "chunks": ["Never."]}, times=-1)
                req = body("weather?", tools=TOOLS, tool_choice={"type": "any"})
                if stream:
                    req["stream"] = True
                resp = self.gw.messages(req)
                assert_anthropic_error(self, resp, 502, "api_error", contains=[
                    "did not honour the request, even when asked again",
                    "without calling a tool"])
                self.assertNotIn("Never.", resp.body.decode())
                self.assertEqual(len(MOCK.requests()), 2)

    def test_tool_choice_tool_drops_calls_to_other_tools(self) -> None:
        MOCK.script(tool_script(("get_time", "tu_a", {}), ("get_weather", "tu_b", {"city": "Kyiv"})))
        resp = self.gw.messages(body("weather?", tools=TOOLS,
                                     tool_choice={"type": "tool", "name": "get_weather"}))
        self.assertEqual(resp.status, 200, resp.body[:300])
        doc = resp.json()
        self.assertEqual([(b["type"], b.get("id")) for b in doc["content"]],
                         [("tool_use", "tu_b")], doc)
        self.assertEqual(len(MOCK.requests()), 1)

    def test_tool_choice_none_withholds_tools(self) -> None:
        resp = self.gw.messages(body("just talk", tools=TOOLS, tool_choice={"type": "none"}))
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertEqual(resp.json()["content"][0]["type"], "text")
        reqs = MOCK.requests()
        self.assertEqual(kiro_tools(reqs[0]), [])
        self.assertIn("Do not call any tool", system_pair(reqs[0]))

    def test_disable_parallel_tool_use_keeps_the_first_call(self) -> None:
        MOCK.script(tool_script(("get_weather", "tu_1", {"city": "Nice"}),
                                ("get_time", "tu_2", {"city": "Nice"})))
        resp, events = self.gw.stream(body("both?", tools=TOOLS, tool_choice={
            "type": "auto", "disable_parallel_tool_use": True}))
        self.assertEqual(resp.status, 200, resp.body[:300])
        data = event_data(events)
        starts = [d["content_block"] for d in data if d["type"] == "content_block_start"
                  and d["content_block"]["type"] == "tool_use"]
        self.assertEqual([b["id"] for b in starts], ["tu_1"])
        self.assertNotIn("tu_2", resp.body.decode())
        self.assertEqual(data[-2]["delta"]["stop_reason"], "tool_use")
        self.assertIn("Call at most one tool", system_pair(MOCK.requests()[0]))

    # --- JSON answers ---------------------------------------------------------------------

    SCHEMA = {"type": "object", "additionalProperties": False, "required": ["city", "days"],
              "properties": {"city": {"type": "string"},
                             "days": {"type": "array", "minItems": 1,
                                      "items": {"type": "object", "required": ["t"],
                                                "properties": {"t": {"type": "number"}}}}}}

    def json_body(self, prompt: str, beta: bool = False, **extra) -> dict:
        fmt = {"type": "json_schema", "schema": self.SCHEMA}
        if beta:
            return body(prompt, output_format=fmt, **extra)
        return body(prompt, output_config={"format": fmt}, **extra)

    def test_json_answer_extracted_at_once(self) -> None:
        MOCK.script({"kind": "text", "chunks": [
            "Here is the forecast:\n```json\n{\"city\": \"Oslo\", ",
            "\"days\": [{\"t\": 3.5}]}\n```\nEnjoy!"]})
        resp, events = self.gw.stream(self.json_body("forecast"))
        self.assertEqual(resp.status, 200, resp.body[:300])
        data = event_data(events)
        deltas = [d["delta"]["text"] for d in data if d["type"] == "content_block_delta"]
        self.assertEqual(deltas, ['{"city": "Oslo", "days": [{"t": 3.5}]}'])
        self.assertEqual(data[-2]["delta"]["stop_reason"], "end_turn")
        reqs = MOCK.requests()
        self.assertEqual(len(reqs), 1)
        self.assertIn("Answer with one JSON value only", system_pair(reqs[0]))
        self.assertIn('"required":["city","days"]', system_pair(reqs[0]))

    def test_json_answer_retried_with_the_validation_error(self) -> None:
        MOCK.script({"kind": "text", "chunks": ['{"city": "Oslo", "days": [{"t": "warm"}]}']})
        MOCK.script({"kind": "text", "chunks": ['{"city": "Oslo", "days": [{"t": 21}]}']})
        resp = self.gw.messages(self.json_body("forecast", beta=True))
        self.assertEqual(resp.status, 200, resp.body[:300])
        doc = resp.json()
        self.assertEqual(doc["content"], [{"type": "text",
                                           "text": '{"city": "Oslo", "days": [{"t": 21}]}'}])
        reqs = MOCK.requests()
        self.assertEqual(len(reqs), 2)
        self.assertIn("$.days[0].t: expected number, got string", system_pair(reqs[1]))

    def test_json_answer_never_valid_is_an_error(self) -> None:
        MOCK.script({"kind": "text", "chunks": ['{"city": "Oslo", "days": [], "x": 1}']},
                    times=-1)
        resp = self.gw.messages(self.json_body("forecast"))
        assert_anthropic_error(self, resp, 502, "api_error", contains=[
            "even when asked again",
            "$.days: expected at least 1 items, got 0"])
        self.assertEqual(len(MOCK.requests()), 2)

    def test_json_answer_held_back_with_pings(self) -> None:
        MOCK.script({"kind": "slow", "delay_ms": 1300,
                     "chunks": ['{"city": "Oslo",', ' "days": [', '{"t": 1}]}']})
        resp, events = self.gw.stream(self.json_body("forecast slowly"))
        self.assertEqual(resp.status, 200, resp.body[:300])
        names = event_names(events)
        first_delta = names.index("content_block_delta")
        self.assertIn("ping", names[:first_delta], names)
        deltas = [d["delta"]["text"] for d in event_data(events)
                  if d["type"] == "content_block_delta"]
        self.assertEqual(deltas, ['{"city": "Oslo", "days": [{"t": 1}]}'])
        self.assertEqual(names[-1], "message_stop")

    def test_json_answer_thinking_streams_first(self) -> None:
        MOCK.script({"kind": "reasoning", "reasoning": ["Cold ", "north."],
                     "chunks": ['{"city":"Oslo",', '"days":[{"t":-2}]}']})
        resp, events = self.gw.stream(self.json_body(
            "forecast", thinking={"type": "enabled", "budget_tokens": 2048}))
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertEqual(text_of(events, "thinking_delta", "thinking"), "Cold north.")
        self.assertEqual(text_of(events), '{"city":"Oslo","days":[{"t":-2}]}')
        starts = [d["content_block"]["type"] for d in event_data(events)
                  if d["type"] == "content_block_start"]
        self.assertEqual(starts, ["thinking", "text"])

    # --- bad input ------------------------------------------------------------------------

    def test_bad_values_name_the_field(self) -> None:
        cases = [
            ({"stop_sequences": "END"}, "stop_sequences"),
            ({"stop_sequences": ["a", 7]}, "stop_sequences[1]"),
            ({"tools": TOOLS, "tool_choice": {"type": "any",
                                               "disable_parallel_tool_use": "yes"}},
             "tool_choice.disable_parallel_tool_use"),
            ({"tools": TOOLS, "tool_choice": {"type": "tool", "name": "get_news"}},
             "tool_choice.name"),
            ({"tool_choice": {"type": "any"}}, "tool_choice"),
            ({"output_config": {"format": {"type": "json_schema"}}},
             "output_config.format.schema"),
            ({"output_format": {"type": "xml", "schema": {}}}, "output_format.type"),
        ]
        for extra, field in cases:
            with self.subTest(field=field):
                resp = self.gw.messages(body("bad", **extra))
                assert_anthropic_error(self, resp, 400, "invalid_request_error",
                                       contains=[field])
        self.assertEqual(MOCK.requests(), [])


class Lighttpd(_Constraints, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"


class Apache(_Constraints, unittest.TestCase):
    server, mount = "apache", "/"


if __name__ == "__main__":
    unittest.main(verbosity=2)
