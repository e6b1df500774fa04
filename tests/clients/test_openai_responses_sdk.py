#!/usr/bin/python3
"""The real `openai` npm SDK's Responses API against kiro-fcgi behind lighttpd.

openai 7.55.0 (pinned in tests/clients/package.json; node_modules as in
clienthelp.py: nothing is skipped, a missing install fails).  The mock Kiro
upstream with one account; kiro-fcgi behind lighttpd mounted at "/kiro" and
at "/"; the mock's answers scripted per run on a unique tag.
openai-responses.mjs runs once per mount and prints JSON checked here:

  - responses.create, not streamed: resp_ id, status completed, the
    scripted text as output_text, usage;
  - responses.stream() + finalResponse(): the SDK's accumulator accepts the
    event stream (it checks item identities and output indexes), the
    deltas add up to the text, the event sequence starts with
    response.created and ends with response.completed;
  - a tool round trip: the mock answers with a get_weather call (arguments
    in fragments), the SDK sends the history back with a
    function_call_output (store:false), the second answer is checked, and
    the second Kiro request carries the result and the call in its history;
  - a custom (freeform) tool: the custom_tool_call item's input is the
    string the model wrote;
  - reasoning.effort high: a reasoning item with the thinking as its
    summary, then the message;
  - text.format json_schema (strict) with tool_choice none, streamed: the
    mock answers with a call and fenced JSON; the call is dropped, the JSON
    taken out and validated, and the SDK's output_parsed is the object; no
    tools went to Kiro;
  - previous_response_id: BadRequestError 400, param previous_response_id;
  - a wrong key: AuthenticationError 401.

Run by `make check`; from a build tree: KIRO_FCGI=fcgi/kiro-fcgi
/usr/bin/python3 $srcdir/tests/clients/test_openai_responses_sdk.py
"""

from __future__ import annotations

import json
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

import clienthelp  # noqa: E402
from harness import Lighttpd  # noqa: E402

MODEL = "claude-sonnet-4-5"


class OpenAIResponsesSDK(clienthelp.ClientTestCase):

    PREFIX = "kiro-oresp-sdk-"

    def test_sdk(self) -> None:
        for mount in self.MOUNTS:
            with self.subTest(mount=mount):
                self.mock.clear_scripts()
                self.run_sdk(self.servers[mount])

    def run_sdk(self, srv: Lighttpd) -> None:
        t = clienthelp.tag()
        text, call_id, result_script = self.script_basics(t)
        patch = f"*** Begin Patch\n*** Add File: {t}.txt\n+hello\n*** End Patch\n"
        self.mock.script({"prompt_contains": f"{t}-custom"},
                         {"kind": "tool_use", "chunks": [],
                          "tools": [{"name": "apply_patch", "id": "tooluse_patch",
                                     "input": {"input": patch}}]})
        self.mock.script({"prompt_contains": f"{t}-reasoning"}, "thinking")
        schema_script = self.mock.script(
            {"prompt_contains": f"{t}-schema"},
            {"kind": "tool_use", "chunks": ['Sure:\n```json\n{"city": "Oslo", ',
                                            '"temp": 4}\n```'],
             "tools": [{"name": "get_weather", "id": "tooluse_dropped", "input": {}}]})
        mark = self.mock.mark()

        res = self.run_node("openai-responses.mjs", srv.base_url + "/v1", MODEL, t)

        create = res["create"]
        self.assertRegex(create["id"], r"^resp_[0-9a-f]{32}$")
        self.assertEqual((create["object"], create["status"]), ("response", "completed"))
        self.assertEqual(create["model"], MODEL)
        self.assertEqual(create["text"], text["create"])
        self.assertEqual(create["types"], ["message"])
        self.assertGreater(create["usage"]["input_tokens"], 0)
        self.assertGreater(create["usage"]["output_tokens"], 0)

        stream = res["stream"]
        self.assertEqual(stream["text"], text["stream"])
        self.assertEqual(stream["deltas"], text["stream"])
        self.assertEqual(stream["status"], "completed")
        self.assertEqual(stream["events"][:2], ["response.created", "response.in_progress"])
        self.assertEqual(stream["events"][-1], "response.completed")
        self.assertEqual(stream["events"].count("response.output_text.delta"), 3)
        self.assertGreater(stream["usage"]["total_tokens"], 0)

        tools = res["tools"]
        self.assertEqual(tools["first_types"], ["message", "function_call"])
        self.assertEqual(tools["first_text"], "Let me check.")
        self.assertEqual(json.loads(tools["args"]), {"city": "Paris"})
        self.assertEqual(tools["call"], {"call_id": call_id, "name": "get_weather",
                                         "arguments": {"city": "Paris"}})
        self.assertEqual(tools["second_text"], text["tools"])
        self.assertEqual(tools["second_status"], "completed")
        self.assert_tool_round_trip(self.entry_for(result_script, mark), call_id, t)

        custom = res["custom"]
        self.assertEqual(custom["types"], ["custom_tool_call"])
        self.assertEqual((custom["call_id"], custom["name"]), ("tooluse_patch", "apply_patch"))
        self.assertEqual(custom["input"], patch)

        reasoning = res["reasoning"]
        self.assertEqual(reasoning["types"], ["reasoning", "message"])
        self.assertEqual(reasoning["summary"], "The user wants a greeting.")
        self.assertEqual(reasoning["deltas"], "The user wants a greeting.")
        self.assertEqual(reasoning["text"], "Hi there!")

        self.assertEqual(res["previous"], {"thrown": "BadRequestError", "status": 400,
                                           "param": "previous_response_id"})
        schema = res["schema"]
        self.assertEqual(schema, {"types": ["message"], "text": '{"city": "Oslo", "temp": 4}',
                                  "parsed": {"city": "Oslo", "temp": 4},
                                  "status": "completed"})
        entries = [e for e in self.mock.requests(since=mark) if e["script"] == schema_script]
        self.assertEqual(len(entries), 1, entries)
        kiro = entries[0]["body"]["conversationState"]
        self.assertNotIn("tools", kiro["currentMessage"]["userInputMessage"].get(
            "userInputMessageContext", {}))
        self.assertIn("Answer with one JSON value only",
                      kiro["history"][0]["userInputMessage"]["content"])

        self.assertEqual(res["badkey"], {"thrown": "AuthenticationError", "status": 401})


if __name__ == "__main__":
    unittest.main(verbosity=2)
