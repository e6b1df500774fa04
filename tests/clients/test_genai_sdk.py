#!/usr/bin/python3
"""The real Google GenAI SDK (@google/genai, pinned in package.json) against kiro-fcgi.

node_modules comes from $KIRO_NODE_MODULES, tests/clients/node_modules or
`npm ci --prefix <builddir>/tests/clients-npm` (see clienthelp.py); when npm
cannot install, the test FAILS with npm's output.  Nothing is skipped.

Set-up: the mock Kiro upstream with one account and kiro-fcgi behind lighttpd
mounted at "/kiro" and at "/".  genai-sdk.mjs runs once per mount (the SDK's
httpOptions.baseUrl is the mount; the key goes as x-goog-api-key) and prints
JSON checked here:
  - generateContent: the scripted text, finishReason STOP, usageMetadata
    (prompt + candidates = total), modelVersion, responseId;
  - generateContentStream (?alt=sse): the scripted pieces as separate chunks,
    finishReason STOP at the end;
  - function calling: the mock answers with a get_weather call (arguments in
    fragments), the SDK's functionCalls has it, the script sends the model's
    content and a functionResponse back (no ids, as Gemini clients do), the
    second answer's text is checked, and the second Kiro request carries a
    toolResult answering the toolUse in its history;
  - streamed function calling: functionCalls from the stream chunks;
  - thinking with includeThoughts: a thought part, then the text;
  - an inlineData image reaches Kiro as an image;
  - countTokens, models.list / models.get in Gemini's shape;
  - responseMimeType application/json with responseSchema (the SDK's Type
    enums): the first answer breaks the schema, the second (JSON in prose)
    is asked for with the validator's complaint and its JSON alone comes
    back; responseJsonSchema, streamed: the fenced JSON comes back whole in
    one chunk;
  - a wrong key: ApiError with status 401.

Run by `make check`; from a build tree: KIRO_FCGI=fcgi/kiro-fcgi
/usr/bin/python3 $srcdir/tests/clients/test_genai_sdk.py.
"""

from __future__ import annotations

import sys
import unittest
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

import clienthelp  # noqa: E402
from harness import Lighttpd  # noqa: E402
from kirostack import API_KEY  # noqa: E402

MODEL = "gemini-2.5-flash"


class GenAISDK(clienthelp.ClientTestCase):

    PREFIX = "kiro-genai-"

    def test_genai_sdk(self) -> None:
        for mount in self.MOUNTS:
            with self.subTest(mount=mount):
                self.run_sdk(self.servers[mount])

    def run_sdk(self, srv: Lighttpd) -> None:
        self.mock.clear_scripts()
        t = clienthelp.tag()
        text = {"generate": f"Generated answer {t}.", "stream": ["One ", "two ", f"three {t}."],
                "tools": f"It is sunny in Paris ({t})."}
        self.mock.script({"prompt_contains": f"{t}-generate"},
                         {"kind": "text", "chunks": [text["generate"]]})
        self.mock.script({"prompt_contains": f"{t}-stream"},
                         {"kind": "text", "chunks": text["stream"]})
        call = {"name": "get_weather", "id": "tooluse_" + uuid.uuid4().hex[:20],
                "input_fragments": ['{"city":', ' "Paris"}']}
        self.mock.script({"prompt_contains": f"{t}-tools"},
                         {"kind": "tool_use", "chunks": ["Let me check."], "tools": [call]})
        result_script = self.mock.script({"prompt_contains": "Tool results provided."},
                                         {"kind": "text", "chunks": [text["tools"]]})
        self.mock.script({"prompt_contains": f"{t}-streamtools"},
                         {"kind": "tool_use", "chunks": [], "tools": [
                             dict(call, id="tooluse_" + uuid.uuid4().hex[:20])]})
        self.mock.script({"prompt_contains": f"{t}-thinking"}, "thinking")
        image_script = self.mock.script({"prompt_contains": f"{t}-image"},
                                        {"kind": "text", "chunks": ["A single pixel."]})
        self.mock.script({"prompt_contains": f"{t}-schema"},
                         {"kind": "text", "chunks": ['{"city": "Oslo", "temp": "cold"}']})
        schema_script = self.mock.script({"prompt_contains": f"{t}-schema"},
                                         {"kind": "text", "chunks": [
                                             'It is {"city": "Oslo", "temp": -2} now']})
        self.mock.script({"prompt_contains": f"{t}-jsonschema"},
                         {"kind": "text", "chunks": ['```json\n{"city": "Rome",',
                                                     ' "temp": 19.5}\n```']})
        mark = self.mock.mark()

        res = self.run_node("genai-sdk.mjs", srv.base_url, MODEL, t, timeout=120)

        gen = res["generate"]
        self.assertEqual(gen["text"], text["generate"])
        self.assertEqual(gen["finishReason"], "STOP")
        self.assertEqual(gen["modelVersion"], MODEL)
        self.assertTrue(gen["responseId"])
        usage = gen["usage"]
        self.assertGreater(usage["promptTokenCount"], 0)
        self.assertGreater(usage["candidatesTokenCount"], 0)
        self.assertEqual(usage["totalTokenCount"],
                         usage["promptTokenCount"] + usage["candidatesTokenCount"])

        self.assertEqual(res["stream"], {"chunks": text["stream"], "finishReason": "STOP"})

        tools = res["tools"]
        self.assertEqual(tools["calls"], [{"name": "get_weather", "args": {"city": "Paris"}}])
        self.assertEqual(tools["firstText"], "Let me check.")
        self.assertEqual(tools["secondText"], text["tools"])
        self.assert_tool_round_trip(self.entry_for(result_script, mark), call["id"], t)

        self.assertEqual(res["streamtools"]["calls"],
                         [{"name": "get_weather", "args": {"city": "Paris"}}])

        parts = res["thinking"]["parts"]
        self.assertEqual(parts[0], {"text": "The user wants a greeting.", "thought": True})
        self.assertEqual(res["thinking"]["text"], "Hi there!")

        self.assertEqual(res["image"]["text"], "A single pixel.")
        images = self.entry_for(image_script, mark)["body"]["conversationState"][
            "currentMessage"]["userInputMessage"]["images"]
        self.assertEqual(images[0]["format"], "png")

        self.assertGreater(res["count"]["totalTokens"], 0)
        self.assertIn("models/claude-sonnet-4.5", res["models"]["names"])
        self.assertEqual(res["models"]["one"]["name"], f"models/{MODEL}")
        self.assertGreater(res["models"]["one"]["inputTokenLimit"], 0)
        self.assertEqual(res["schema"], {"text": '{"city": "Oslo", "temp": -2}',
                                         "parsed": {"city": "Oslo", "temp": -2},
                                         "finishReason": "STOP"})
        retry = self.entry_for(schema_script, mark)["body"]["conversationState"]
        self.assertIn("$.temp: expected number, got string",
                      retry["history"][0]["userInputMessage"]["content"])
        self.assertEqual(res["jsonschema"], {"chunks": ['{"city": "Rome", "temp": 19.5}'],
                                             "parsed": {"city": "Rome", "temp": 19.5}})

        self.assertEqual(res["badkey"]["status"], 401, res["badkey"])
        self.assertEqual(res["badkey"]["thrown"], "ApiError", res["badkey"])
        self.assertNotIn(API_KEY, self.logs())


if __name__ == "__main__":
    unittest.main(verbosity=2)
