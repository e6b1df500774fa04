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

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

import clienthelp  # noqa: E402
from harness import Lighttpd  # noqa: E402
from kirostack import API_KEY, KIRO_FCGI, GatewayConfig, MockKiro  # noqa: E402

MODEL = "gemini-2.5-flash"
MOUNTS = ("/kiro", "/")


class GenAISDK(unittest.TestCase):

    @classmethod
    def setUpClass(cls) -> None:
        cls.modules = clienthelp.node_modules()
        cls.node = shutil.which("node")
        if cls.node is None:
            raise AssertionError("node not found on PATH: install Node.js 18 or later")
        cls.tmp = Path(tempfile.mkdtemp(prefix="kiro-genai-"))
        cls.tmp.chmod(0o755)
        cls.mock = MockKiro()
        cls.servers: dict[str, Lighttpd] = {}
        try:
            cls.mock.start()
            for mount in MOUNTS:
                srv = Lighttpd(KIRO_FCGI, mount=mount, procs=2)
                conf = GatewayConfig(cls.tmp, "gw" + mount.replace("/", "-"), cls.mock,
                                     user=srv.responder_user)
                srv.env.update(conf.env)
                srv.start()
                cls.servers[mount] = srv
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        for srv in cls.servers.values():
            srv.stop()
        cls.mock.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(srv.error_log() for srv in self.servers.values()) + self.mock.log()

    def entry_for(self, script_id: str, since: int) -> dict:
        entries = [e for e in self.mock.requests(since=since) if e["script"] == script_id]
        self.assertEqual(len(entries), 1, f"requests answered by {script_id}: {entries}")
        self.assertEqual(entries[0]["validation"], {"ok": True})
        return entries[0]

    def test_genai_sdk(self) -> None:
        for mount in MOUNTS:
            with self.subTest(mount=mount):
                self.run_sdk(self.servers[mount])

    def run_sdk(self, srv: Lighttpd) -> None:
        self.mock.clear_scripts()
        t = "T" + uuid.uuid4().hex[:10].upper()
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

        home = Path(tempfile.mkdtemp(dir=self.tmp))
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home),
               "KIRO_NODE_MODULES": str(self.modules), "KIRO_BASE_URL": srv.base_url,
               "KIRO_API_KEY": API_KEY, "KIRO_MODEL": MODEL, "KIRO_TAG": t}
        done = subprocess.run([self.node, str(HERE / "genai-sdk.mjs")], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120)
        self.assertEqual(done.returncode, 0, f"{done.stdout}\n{done.stderr}\n{self.logs()}")
        res = json.loads(done.stdout.strip().splitlines()[-1])
        for name, value in res.items():
            self.assertNotIn("error", value, f"{name}: {value}\n{self.logs()}")

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
        kiro = self.entry_for(result_script, mark)["body"]["conversationState"]
        ctx = kiro["currentMessage"]["userInputMessage"]["userInputMessageContext"]
        uses = [u for h in kiro["history"]
                for u in (h.get("assistantResponseMessage") or {}).get("toolUses") or []]
        self.assertEqual(uses, [{"toolUseId": call["id"], "name": "get_weather",
                                 "input": {"city": "Paris"}}])
        self.assertEqual(ctx["toolResults"], [{
            "toolUseId": call["id"], "status": "success",
            "content": [{"text": f"Sunny, 21 C ({t}-toolresult)"}]}])

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
