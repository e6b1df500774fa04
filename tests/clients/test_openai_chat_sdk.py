#!/usr/bin/python3
"""The real openai npm SDK (Chat Completions) against kiro-fcgi.

The pinned openai package comes from tests/clients/node_modules (or
$KIRO_NODE_MODULES, or `npm ci`, see clienthelp.py), as for test_clients.py.
Set-up: the mock Kiro upstream with one account and kiro-fcgi behind a real
lighttpd mounted at "/kiro" (the SDK's baseURL is <mount>/v1).  The mock's
answers are scripted per step (match.prompt_contains on a unique tag).

openai-chat.mjs (run with node; it prints JSON that is checked here):
  - chat.completions.create, not streamed: text, object, model, finish_reason
    stop, usage;
  - create({stream: true, stream_options.include_usage}): the deltas join to
    the scripted text, role assistant, finish_reason stop, the usage chunk;
  - a tool round trip, streamed: the SDK's deltas assemble the call (id from
    Kiro, name, arguments sent in fragments), the tool result goes back and
    the answer is checked; the second Kiro request carries the result in
    toolResults with the call's id and the call in its history;
  - chat.completions.stream() + finalChatCompletion() (the SDK's own
    accumulator) on a tool call: tool_calls with parsable arguments;
  - chat.completions.parse() with response_format json_schema (strict): the
    mock's first answer breaks the schema, so the gateway asks again (the
    validator's complaint in the second Kiro request) and the SDK parses the
    valid JSON taken out of the second answer's prose;
  - web_search_options: the gateway searches (the mock's /mcp), the text
    names a result's URL and message.annotations carries its url_citation;
  - a wrong key: AuthenticationError, status 401.

Run by `make check`; from a build tree: KIRO_FCGI=fcgi/kiro-fcgi
/usr/bin/python3 $srcdir/tests/clients/test_openai_chat_sdk.py.
"""

from __future__ import annotations

import json
import sys
import unittest
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

import clienthelp  # noqa: E402

MODEL = "claude-sonnet-4-5"


class OpenAIChatSDK(clienthelp.ClientTestCase):

    MOUNTS = ("/kiro",)
    PREFIX = "kiro-openai-sdk-"

    def test_openai_sdk_chat(self) -> None:
        t = clienthelp.tag()
        text, call_id, result_script = self.script_basics(t)
        helper_id = "tooluse_" + uuid.uuid4().hex[:20]
        self.mock.script({"prompt_contains": f"{t}-helper"},
                         {"kind": "tool_use", "chunks": [],
                          "tools": [{"name": "get_weather", "id": helper_id,
                                     "input": {"city": "Oslo"}}]})
        self.mock.script({"prompt_contains": f"{t}-schema"},
                         {"kind": "text", "chunks": ['{"city": "Oslo", "temp": "cold"}']})
        schema_script = self.mock.script({"prompt_contains": f"{t}-schema"},
                                         {"kind": "text", "chunks": [
                                             'Here: {"city": "Oslo",', ' "temp": -3.5} done']})
        mark = self.mock.mark()

        res = self.run_node("openai-chat.mjs", self.srv.base_url + "/v1", MODEL, t)

        create = res["create"]
        self.assertEqual(create["text"], text["create"])
        self.assertEqual((create["object"], create["role"]), ("chat.completion", "assistant"))
        self.assertEqual(create["model"], MODEL)
        self.assertRegex(create["id"], r"^chatcmpl-")
        self.assertEqual(create["finish_reason"], "stop")
        self.assertGreater(create["usage"]["prompt_tokens"], 0)
        self.assertGreater(create["usage"]["completion_tokens"], 0)

        stream = res["stream"]
        self.assertEqual(stream["text"], text["stream"])
        self.assertEqual(stream["role"], "assistant")
        self.assertEqual(stream["finish_reason"], "stop")
        self.assertGreater(stream["usage"]["total_tokens"], 0)
        self.assertGreaterEqual(stream["chunks"], 5)

        tools = res["tools"]
        self.assertEqual(tools["first_text"], "Let me check.")
        self.assertEqual(tools["first_finish"], "tool_calls")
        self.assertEqual(tools["calls"], [{"id": call_id, "name": "get_weather",
                                           "input": {"city": "Paris"}}])
        self.assertEqual(tools["second_text"], text["tools"])
        self.assertEqual(tools["second_finish"], "stop")
        self.assert_tool_round_trip(self.entry_for(result_script, mark), call_id, t)

        helper = res["helper"]
        self.assertEqual(helper["finish_reason"], "tool_calls")
        self.assertEqual(len(helper["tool_calls"]), 1)
        call = helper["tool_calls"][0]
        self.assertEqual((call["id"], call["type"], call["name"]),
                         (helper_id, "function", "get_weather"))
        self.assertEqual(json.loads(call["arguments"]), {"city": "Oslo"})

        schema = res["schema"]
        self.assertEqual(schema["content"], '{"city": "Oslo", "temp": -3.5}')
        self.assertEqual(schema["parsed"], {"city": "Oslo", "temp": -3.5})
        self.assertEqual(schema["finish_reason"], "stop")
        retry = self.entry_for(schema_script, mark)["body"]["conversationState"]
        self.assertIn("$.temp: expected number, got string",
                      retry["history"][0]["userInputMessage"]["content"])

        search = res["websearch"]
        self.assertNotIn("error", search)
        url = "https://example.com/search/1"
        at = search["text"].index(url)
        self.assertEqual(search["annotations"], [{"type": "url_citation", "url_citation": {
            "start_index": at, "end_index": at + len(url), "url": url,
            "title": "kiro gateway - Overview"}}])
        self.assertIsNone(search["tool_calls"])
        self.assertEqual(search["finish_reason"], "stop")

        self.assertEqual(res["badkey"], {"thrown": "AuthenticationError", "status": 401,
                                         "authentication_error": True})


if __name__ == "__main__":
    unittest.main(verbosity=2)
