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

MODEL = "claude-sonnet-4-5"
MOUNTS = ("/kiro", "/")


class OpenAIResponsesSDK(unittest.TestCase):

    @classmethod
    def setUpClass(cls) -> None:
        cls.modules = clienthelp.node_modules()
        cls.node = shutil.which("node")
        if cls.node is None:
            raise AssertionError("node not found on PATH: install Node.js 18 or later")
        cls.tmp = Path(tempfile.mkdtemp(prefix="kiro-oresp-sdk-"))
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

    def test_sdk(self) -> None:
        for mount in MOUNTS:
            with self.subTest(mount=mount):
                self.mock.clear_scripts()
                self.run_sdk(self.servers[mount])

    def run_sdk(self, srv: Lighttpd) -> None:
        t = "T" + uuid.uuid4().hex[:10].upper()
        text = {"create": f"Created answer {t}.", "stream": f"Streamed answer {t}, in parts.",
                "tools": f"It is sunny in Paris ({t})."}
        patch = f"*** Begin Patch\n*** Add File: {t}.txt\n+hello\n*** End Patch\n"
        self.mock.script({"prompt_contains": f"{t}-create"},
                         {"kind": "text", "chunks": [text["create"]]})
        self.mock.script({"prompt_contains": f"{t}-stream"},
                         {"kind": "text", "chunks": [text["stream"][:9], text["stream"][9:20],
                                                     text["stream"][20:]]})
        call_id = "tooluse_" + uuid.uuid4().hex[:20]
        self.mock.script({"prompt_contains": f"{t}-tools"},
                         {"kind": "tool_use", "chunks": ["Let me check."],
                          "tools": [{"name": "get_weather", "id": call_id,
                                     "input_fragments": ['{"city":', ' "Paris"}']}]})
        result_script = self.mock.script({"prompt_contains": "Tool results provided."},
                                         {"kind": "text", "chunks": [text["tools"]]})
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

        home = Path(tempfile.mkdtemp(dir=self.tmp))
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home),
               "KIRO_NODE_MODULES": str(self.modules), "KIRO_BASE_URL": srv.base_url + "/v1",
               "KIRO_API_KEY": API_KEY, "KIRO_MODEL": MODEL, "KIRO_TAG": t}
        done = subprocess.run([self.node, str(HERE / "openai-responses.mjs")], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=90)
        self.assertEqual(done.returncode, 0, f"{done.stdout}\n{done.stderr}\n{self.logs()}")
        res = json.loads(done.stdout.strip().splitlines()[-1])
        for name, value in res.items():
            self.assertNotIn("error", value, f"{name}: {value}\n{self.logs()}")

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
        entries = [e for e in self.mock.requests(since=mark) if e["script"] == result_script]
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries[0]["validation"], {"ok": True})
        kiro = entries[0]["body"]["conversationState"]
        ctx = kiro["currentMessage"]["userInputMessage"]["userInputMessageContext"]
        self.assertEqual(ctx["toolResults"], [{
            "toolUseId": call_id, "status": "success",
            "content": [{"text": f"Sunny, 21 C ({t}-toolresult)"}]}])
        uses = [u for h in kiro["history"]
                for u in (h.get("assistantResponseMessage") or {}).get("toolUses") or []]
        self.assertEqual(uses, [{"toolUseId": call_id, "name": "get_weather",
                                 "input": {"city": "Paris"}}])

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
