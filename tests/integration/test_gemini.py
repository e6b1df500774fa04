#!/usr/bin/python3
"""The Gemini API through a real lighttpd (mounted at "/kiro") and a real Apache (at "/").

For each server, against the mock upstream (reset before each test):

  - POST /v1beta/models/{m}:generateContent: one GenerateContentResponse
    (candidates[0].content.parts text, role model, finishReason STOP,
    usageMetadata prompt/candidates/total, modelVersion, responseId); the
    Gemini model name is mapped to a Kiro model (flash -> haiku, pro ->
    sonnet); the same under /v1/models/;
  - :streamGenerateContent?alt=sse: one "data:" chunk per text piece, then a
    last chunk with no parts, finishReason and usage; and without alt=sse
    the same chunks as one JSON array (also with thoughts and a function
    call, under /v1/models/);
  - function calling: functionDeclarations with OpenAPI `parameters`
    (upper-case types, converted to JSON Schema upstream) and with
    `parametersJsonSchema`; a scripted tool call becomes a functionCall part
    with args, streamed and not; toolConfig allowedFunctionNames drops the
    other tools; the round trip (model functionCall then user
    functionResponse, no ids) reaches Kiro as a paired toolUse/toolResult;
  - inlineData images reach Kiro as images;
  - a history with Google's code runner parts (executableCode,
    codeExecutionResult), fileData with videoMetadata, PDF inlineData and
    an unknown part kind, with googleSearch / urlContext / codeExecution
    tools, is 200: the mock sees notes with the code, output and file URI,
    and only the declared functions as tools, plus the gateway's web_search
    for googleSearch (test_web_search.py);
  - thinkingConfig: includeThoughts shows thought parts (streamed and not);
    without it the model still thinks (thinking tags upstream) but no thought
    part reaches the client; thinkingBudget 0 turns thinking off;
  - generationConfig: maxOutputTokens, stopSequences, responseMimeType
    application/json with responseSchema accepted;
  - :countTokens answers {"totalTokens": N} with no upstream call;
  - GET /v1beta/models and /v1beta/models/{m} in Gemini's shape, 404 for an
    unknown model;
  - auth by x-goog-api-key and ?key=; missing or wrong key, bad fields,
    unknown model or method, upstream 429 (with Retry-After): Gemini errors
    {"error":{"code","message","status"}} naming the bad field;
  - after every test: the mock accepted every upstream request, and neither
    the API key nor the account's tokens are in the responder log.
"""

from __future__ import annotations

import base64
import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock  # noqa: E402
from harness import sse_events  # noqa: E402

MOCK: Mock | None = None
DEFAULT_TEXT = "Hello from mock Kiro. You said: "
PNG_1PX = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")).decode()
READ_FILE = {"name": "read_file", "description": "Read a file",
             "parameters": {"type": "OBJECT", "properties": {
                 "path": {"type": "STRING", "description": "the path"},
                 "lines": {"type": "INTEGER", "nullable": True}},
                 "required": ["path"], "propertyOrdering": ["path", "lines"]}}
LIST_DIR = {"name": "list_dir", "description": "List a directory",
            "parametersJsonSchema": {"type": "object",
                                     "properties": {"dir": {"type": "string"}}}}


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def req(prompt: str = "Say hello", **extra) -> dict:
    out = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    out.update(extra)
    return out


class _Gemini:
    server: str
    mount: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.account = Account("gemini")
            cls.gw = cls.enterClassContext(Gateway(cls.server, MOCK, mount=cls.mount, procs=2,
                                                   threads=2, accounts=[cls.account]))

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

    # helpers

    def post(self, path: str, body, *, key: str | None = "header", headers=None):
        hdrs = dict(headers or {})
        if key == "header":
            hdrs["x-goog-api-key"] = self.gw.api_key
        elif key == "query":
            path += ("&" if "?" in path else "?") + "key=" + self.gw.api_key
        return self.gw.post(path, body, hdrs, auth=None)

    def generate(self, body: dict, model: str = "gemini-2.5-flash", base: str = "/v1beta"):
        resp = self.post(f"{base}/models/{model}:generateContent", body)
        self.assertEqual(resp.status, 200, resp.body[:500])
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("application/json"))
        return resp.json()

    def stream_sse(self, body: dict, model: str = "gemini-2.5-flash") -> list[dict]:
        resp = self.post(f"/v1beta/models/{model}:streamGenerateContent?alt=sse", body)
        self.assertEqual(resp.status, 200, resp.body[:500])
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("text/event-stream"))
        return [json.loads(e.data) for e in sse_events(resp.chunks)]

    def stream_array(self, body: dict, model: str = "gemini-2.5-flash") -> list[dict]:
        resp = self.post(f"/v1beta/models/{model}:streamGenerateContent", body)
        self.assertEqual(resp.status, 200, resp.body[:500])
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("application/json"))
        doc = resp.json()
        self.assertIsInstance(doc, list)
        return doc

    def upstream(self) -> dict:
        log = MOCK.requests()
        self.assertEqual(len(log), 1, [e["status"] for e in log])
        return log[0]["body"]

    def assert_error(self, resp, code: int, status: str, *contains: str) -> dict:
        self.assertEqual(resp.status, code, resp.body[:500])
        doc = resp.json()
        self.assertEqual(set(doc), {"error"})
        self.assertEqual(doc["error"]["code"], code)
        self.assertEqual(doc["error"]["status"], status)
        for text in contains:
            self.assertIn(text, doc["error"]["message"])
        return doc

    @staticmethod
    def parts(chunks: list[dict]) -> list[dict]:
        return [p for c in chunks for p in c["candidates"][0]["content"].get("parts", [])]

    def assert_last_chunk(self, chunks: list[dict], reason: str = "STOP") -> None:
        last = chunks[-1]
        self.assertEqual(last["candidates"][0]["finishReason"], reason)
        self.assertEqual(last["candidates"][0]["content"]["parts"], [])
        usage = last["usageMetadata"]
        self.assertEqual(usage["totalTokenCount"],
                         usage["promptTokenCount"] + usage["candidatesTokenCount"] +
                         usage.get("thoughtsTokenCount", 0))
        for c in chunks[:-1]:
            self.assertNotIn("finishReason", c["candidates"][0])
            self.assertEqual(c["responseId"], last["responseId"])

    # generateContent

    def test_generate_content(self) -> None:
        doc = self.generate(req("Say hello"))
        cand = doc["candidates"][0]
        self.assertEqual(cand["content"], {"role": "model",
                                           "parts": [{"text": DEFAULT_TEXT + "Say hello"}]})
        self.assertEqual(cand["finishReason"], "STOP")
        self.assertEqual(cand["index"], 0)
        self.assertEqual(doc["modelVersion"], "gemini-2.5-flash")
        self.assertTrue(doc["responseId"])
        usage = doc["usageMetadata"]
        # The mock's contextUsagePercentage of claude-haiku-4.5's 200k window.
        entry = MOCK.requests()[-1]
        self.assertEqual(entry["window"], 200000)
        self.assertEqual(usage["promptTokenCount"], gw.context_tokens(entry))
        self.assertGreater(usage["candidatesTokenCount"], 0)
        self.assertEqual(usage["totalTokenCount"],
                         usage["promptTokenCount"] + usage["candidatesTokenCount"])
        current = self.upstream()["conversationState"]["currentMessage"]["userInputMessage"]
        self.assertEqual(current["modelId"], "claude-haiku-4.5")

    def test_generate_content_v1_and_pro_model(self) -> None:
        doc = self.generate(req("v1 path"), model="gemini-2.5-pro", base="/v1")
        self.assertEqual(doc["candidates"][0]["content"]["parts"][0]["text"],
                         DEFAULT_TEXT + "v1 path")
        current = self.upstream()["conversationState"]["currentMessage"]["userInputMessage"]
        self.assertEqual(current["modelId"], "claude-sonnet-4.5")

    def test_system_instruction_and_history(self) -> None:
        body = {"systemInstruction": {"parts": [{"text": "Be terse."}]},
                "contents": [{"role": "user", "parts": [{"text": "first"}]},
                             {"role": "model", "parts": [{"text": "answer one"}]},
                             {"role": "user", "parts": [{"text": "second"}]}]}
        self.generate(body)
        up = self.upstream()
        whole = json.dumps(up)
        self.assertIn("Be terse.", whole)
        self.assertIn("answer one", whole)
        self.assertIn("second", up["conversationState"]["currentMessage"]
                      ["userInputMessage"]["content"])

    # streams

    def test_stream_sse(self) -> None:
        MOCK.script({"kind": "text", "chunks": ["One, ", "two, ", "three."]})
        chunks = self.stream_sse(req("Count"))
        self.assertEqual(self.parts(chunks), [{"text": t} for t in ("One, ", "two, ", "three.")])
        self.assert_last_chunk(chunks)
        self.assertEqual(len(chunks), 4)
        for c in chunks:
            self.assertEqual(c["candidates"][0]["content"]["role"], "model")
            self.assertEqual(c["modelVersion"], "gemini-2.5-flash")

    def test_stream_json_array(self) -> None:
        MOCK.script({"kind": "text", "chunks": ["alpha ", "beta"]})
        chunks = self.stream_array(req("Array"))
        self.assertEqual(self.parts(chunks), [{"text": "alpha "}, {"text": "beta"}])
        self.assert_last_chunk(chunks)

    def test_stream_json_array_tools_and_thoughts_under_v1(self) -> None:
        MOCK.script({"kind": "tool_use", "chunks": ["<thinking>\nPlan it.</thinking>\n\n",
                                                    "Reading."], "tools": [
            {"name": "read_file", "id": "tooluse_ArrayForm0001",
             "input_fragments": ['{"path":', '"/etc/hosts"}']}]})
        resp = self.post("/v1/models/gemini-2.5-pro:streamGenerateContent", req(
            "Plan and read", tools=[{"functionDeclarations": [READ_FILE]}],
            generationConfig={"thinkingConfig": {"includeThoughts": True,
                                                 "thinkingBudget": 4000}}))
        self.assertEqual(resp.status, 200, resp.body[:500])
        chunks = resp.json()
        parts = self.parts(chunks)
        self.assertEqual(parts[0], {"text": "Plan it.", "thought": True})
        self.assertEqual(parts[1], {"text": "Reading."})
        self.assertEqual(parts[2]["functionCall"], {"id": "tooluse_ArrayForm0001",
                                                    "name": "read_file",
                                                    "args": {"path": "/etc/hosts"}})
        self.assert_last_chunk(chunks)
        self.assertGreater(chunks[-1]["usageMetadata"]["thoughtsTokenCount"], 0)

    # tools

    def test_function_call(self) -> None:
        MOCK.script("tool_use")
        doc = self.generate(req("Read /tmp/a.txt", tools=[{"functionDeclarations": [READ_FILE]}]))
        parts = doc["candidates"][0]["content"]["parts"]
        self.assertEqual(parts[0], {"text": "Let me read it."})
        self.assertEqual(parts[1]["functionCall"]["name"], "read_file")
        self.assertEqual(parts[1]["functionCall"]["args"], {"path": "/tmp/a.txt"})
        self.assertEqual(doc["candidates"][0]["finishReason"], "STOP")
        tools = self.upstream()["conversationState"]["currentMessage"]["userInputMessage"][
            "userInputMessageContext"]["tools"]
        schema = tools[0]["toolSpecification"]["inputSchema"]["json"]
        schema.pop("additionalProperties", None)    # kiro_req's addition
        self.assertEqual(schema, {
            "type": "object", "properties": {
                "path": {"type": "string", "description": "the path"},
                "lines": {"type": ["integer", "null"]}},
            "required": ["path"]})

    def test_function_call_stream(self) -> None:
        MOCK.script("tool_use")
        chunks = self.stream_sse(req("Read it", tools=[{"functionDeclarations": [READ_FILE,
                                                                                 LIST_DIR]}]))
        parts = self.parts(chunks)
        self.assertEqual(parts[0], {"text": "Let me read it."})
        self.assertEqual(parts[1]["functionCall"]["name"], "read_file")
        self.assertEqual(parts[1]["functionCall"]["args"], {"path": "/tmp/a.txt"})
        self.assert_last_chunk(chunks)
        tools = self.upstream()["conversationState"]["currentMessage"]["userInputMessage"][
            "userInputMessageContext"]["tools"]
        self.assertEqual([t["toolSpecification"]["name"] for t in tools], ["read_file", "list_dir"])

    def test_allowed_function_names(self) -> None:
        body = req("Only list", tools=[{"functionDeclarations": [READ_FILE, LIST_DIR]}],
                   toolConfig={"functionCallingConfig": {"mode": "ANY",
                                                         "allowedFunctionNames": ["list_dir"]}})
        MOCK.script({"kind": "tool_use", "chunks": ["Listing."], "tools": [
            {"name": "list_dir", "id": "tooluse_Allowed0001",
             "input_fragments": ['{"path":"/tmp"}']}]})
        doc = self.generate(body)
        parts = doc["candidates"][0]["content"]["parts"]
        self.assertEqual(parts[-1]["functionCall"]["name"], "list_dir")
        tools = self.upstream()["conversationState"]["currentMessage"]["userInputMessage"][
            "userInputMessageContext"]["tools"]
        self.assertEqual([t["toolSpecification"]["name"] for t in tools], ["list_dir"])

    def test_function_calling_any_is_enforced(self) -> None:
        # ANY: an answer without a call is asked again, then refused.
        body = req("Only list", tools=[{"functionDeclarations": [READ_FILE, LIST_DIR]}],
                   toolConfig={"functionCallingConfig": {"mode": "ANY"}})
        MOCK.script({"kind": "text", "chunks": ["I would rather talk."]}, times=2)
        resp = self.post("/v1beta/models/gemini-2.5-pro:generateContent", body)
        self.assert_error(resp, 502, "UNAVAILABLE", "did not honour")

    def test_function_round_trip(self) -> None:
        body = {"contents": [
            {"role": "user", "parts": [{"text": "Read two files"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "read_file", "args": {"path": "/a"}}},
                {"functionCall": {"name": "read_file", "args": {"path": "/b"}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "read_file", "response": {"output": "AAA"}}},
                {"functionResponse": {"name": "read_file", "response": {"output": "BBB"}}}]}],
            "tools": [{"functionDeclarations": [READ_FILE]}]}
        doc = self.generate(body)
        self.assertEqual(doc["candidates"][0]["finishReason"], "STOP")
        state = self.upstream()["conversationState"]
        uses = state["history"][-1]["assistantResponseMessage"]["toolUses"]
        results = state["currentMessage"]["userInputMessage"]["userInputMessageContext"][
            "toolResults"]
        self.assertEqual([u["input"] for u in uses], [{"path": "/a"}, {"path": "/b"}])
        self.assertEqual([r["toolUseId"] for r in results], [u["toolUseId"] for u in uses])
        self.assertEqual([r["content"][0]["text"] for r in results], ["AAA", "BBB"])

    def test_google_parts_and_tools_in_history(self) -> None:
        body = {"contents": [
            {"role": "user", "parts": [
                {"text": "Summarise the clip and compute 6*7"},
                {"fileData": {"mimeType": "video/mp4",
                              "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/clip1"},
                 "videoMetadata": {"startOffset": "1s", "endOffset": "9s"}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0xLjQK"}}]},
            {"role": "model", "parts": [
                {"executableCode": {"language": "PYTHON", "code": "print(6*7)"}},
                {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "42\n"}},
                {"text": "6*7 is 42."},
                {"toolCall": {"name": "google_search", "args": {"q": "x"}}}]},
            {"role": "user", "parts": [{"text": "Thanks, and the clip?"}]}],
            "tools": [{"googleSearch": {}}, {"urlContext": {}}, {"codeExecution": {}},
                      {"functionDeclarations": [READ_FILE]}]}
        doc = self.generate(body)
        self.assertEqual(doc["candidates"][0]["finishReason"], "STOP")
        state = self.upstream()["conversationState"]
        blob = json.dumps(state["history"])
        for note in ("files/clip1", "video/mp4", "application/pdf", "print(6*7)",
                     "OUTCOME_OK", "42", "[toolCall part]"):
            self.assertIn(note, blob)
        tools = state["currentMessage"]["userInputMessage"]["userInputMessageContext"]["tools"]
        # googleSearch is run by the gateway (test_web_search.py): the model gets
        # its web_search tool; the other Google tools are dropped.
        self.assertEqual([t["toolSpecification"]["name"] for t in tools],
                         ["read_file", "web_search"])
        self.assertIn("tools[1].urlContext dropped", self.gw.log())
        self.assertNotIn("googleSearch dropped", self.gw.log())

    # images and thinking

    def test_inline_image(self) -> None:
        self.generate(req("x", contents=[{"role": "user", "parts": [
            {"inlineData": {"mimeType": "image/png", "data": PNG_1PX}},
            {"text": "What is in this image?"}]}]))
        images = self.upstream()["conversationState"]["currentMessage"]["userInputMessage"][
            "images"]
        self.assertEqual(images, [{"format": "png", "source": {"bytes": PNG_1PX}}])

    def test_thinking_shown(self) -> None:
        MOCK.script("thinking")
        body = req("Think", generationConfig={"thinkingConfig": {"includeThoughts": True,
                                                                 "thinkingBudget": 2048}})
        doc = self.generate(body)
        parts = doc["candidates"][0]["content"]["parts"]
        self.assertEqual(parts[0], {"text": "The user wants a greeting.", "thought": True})
        self.assertEqual(parts[1], {"text": "Hi there!"})
        self.assertGreater(doc["usageMetadata"]["thoughtsTokenCount"], 0)
        self.assertIn("<max_thinking_length>2048</max_thinking_length>",
                      json.dumps(self.upstream()))

    def test_thinking_shown_stream(self) -> None:
        MOCK.script("thinking")
        body = req("Think", generationConfig={"thinkingConfig": {"includeThoughts": True,
                                                                 "thinkingLevel": "HIGH"}})
        chunks = self.stream_sse(body)
        parts = self.parts(chunks)
        self.assertEqual("".join(p["text"] for p in parts if p.get("thought")),
                         "The user wants a greeting.")
        self.assertEqual("".join(p["text"] for p in parts if not p.get("thought")), "Hi there!")
        self.assert_last_chunk(chunks)
        self.assertIn("<thinking_mode>adaptive</thinking_mode>", json.dumps(self.upstream()))

    def test_thinking_hidden(self) -> None:
        MOCK.script("thinking")
        doc = self.generate(req("Think", generationConfig={
            "thinkingConfig": {"thinkingBudget": 1024}}))
        self.assertEqual(doc["candidates"][0]["content"]["parts"], [{"text": "Hi there!"}])
        self.assertIn("<thinking_mode>enabled</thinking_mode>", json.dumps(self.upstream()))

    def test_thinking_off(self) -> None:
        self.generate(req("No thinking", generationConfig={
            "thinkingConfig": {"thinkingBudget": 0}}))
        self.assertNotIn("<thinking_mode>", json.dumps(self.upstream()))

    def test_generation_config_accepted(self) -> None:
        MOCK.script({"kind": "text", "chunks": ['{"complexity_reasoning":"easy",',
                                                '"complexity_score":5}']})
        doc = self.generate(req("Route this", generationConfig={
            "maxOutputTokens": 100, "stopSequences": ["END"], "temperature": 0.5,
            "responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT", "properties": {
                "complexity_score": {"type": "INTEGER"}}}}))
        text = doc["candidates"][0]["content"]["parts"][0]["text"]
        self.assertEqual(json.loads(text)["complexity_score"], 5)

    # countTokens and models

    def test_count_tokens(self) -> None:
        small = self.post("/v1beta/models/gemini-2.5-pro:countTokens", req("hi"))
        large = self.post("/v1beta/models/gemini-2.5-pro:countTokens", req("hello world " * 500))
        self.assertEqual(small.status, 200, small.body[:300])
        self.assertEqual(set(small.json()), {"totalTokens"})
        # 1000 more words; Kiro's own overhead is in both (test_token_counts.py).
        self.assertGreater(large.json()["totalTokens"] - small.json()["totalTokens"], 900)
        wrapped = self.post("/v1beta/models/gemini-2.5-pro:countTokens",
                            {"generateContentRequest": dict(req("hi"), model="models/x")})
        self.assertEqual(wrapped.json(), small.json())
        self.assertEqual(MOCK.requests(), [])

    def test_models(self) -> None:
        resp = self.gw.get("/v1beta/models", auth=None,
                           headers={"x-goog-api-key": self.gw.api_key})
        self.assertEqual(resp.status, 200, resp.body[:300])
        models = resp.json()["models"]
        self.assertIn("models/claude-sonnet-4.5", [m["name"] for m in models])
        for m in models:
            self.assertEqual(set(m) >= {"name", "displayName", "inputTokenLimit",
                                        "outputTokenLimit", "supportedGenerationMethods"}, True)
            self.assertIn("generateContent", m["supportedGenerationMethods"])
        one = self.gw.get("/v1beta/models/gemini-2.5-pro?key=" + self.gw.api_key, auth=None)
        self.assertEqual(one.status, 200, one.body[:300])
        self.assertEqual(one.json()["name"], "models/gemini-2.5-pro")
        self.assertGreater(one.json()["inputTokenLimit"], 0)
        missing = self.gw.get("/v1beta/models/no-such-model", auth=None,
                              headers={"x-goog-api-key": self.gw.api_key})
        self.assert_error(missing, 404, "NOT_FOUND", "no-such-model")

    # auth and errors

    def test_auth(self) -> None:
        path = "/v1beta/models/gemini-2.5-flash:generateContent"
        ok = self.post(path, req("by query"), key="query")
        self.assertEqual(ok.status, 200, ok.body[:300])
        self.assert_error(self.post(path, req("none"), key=None), 401, "UNAUTHENTICATED",
                          "x-goog-api-key")
        self.assert_error(self.post(path, req("wrong"), key=None,
                                    headers={"x-goog-api-key": "wrong-key"}),
                          401, "UNAUTHENTICATED", "invalid API key")
        self.assert_error(self.gw.post(path + "?key=wrong", req("wrong"), auth=None), 401,
                          "UNAUTHENTICATED")
        self.assertNotIn(self.gw.api_key, self.gw.log())

    def test_bad_requests(self) -> None:
        path = "/v1beta/models/gemini-2.5-flash:generateContent"
        cases = [
            ({"contents": "hi"}, "contents"),
            ({}, "contents: field required"),
            (req("x", generationConfig={"maxOutputTokens": -1}),
             "generationConfig.maxOutputTokens"),
            ({"contents": [{"role": "bot", "parts": [{"text": "x"}]}]}, "contents[0].role"),
            ({"contents": [{"role": "user", "parts": [{"fileData": "gs://x"}]}]},
             "contents[0].parts[0].fileData"),
            ({"contents": [{"role": "user", "parts": [{"functionResponse": {
                "name": "read_file", "response": {}}}]}]},
             "contents[0].parts[0].functionResponse"),
            (req("x", tools=[{"functionDeclarations": [{"description": "no name"}]}]),
             "tools[0].functionDeclarations[0].name"),
            (req("x", toolConfig={"functionCallingConfig": {"mode": "SOMETIMES"}}),
             "toolConfig.functionCallingConfig.mode"),
        ]
        for body, field in cases:
            with self.subTest(field=field):
                self.assert_error(self.post(path, body), 400, "INVALID_ARGUMENT", field)
        self.assert_error(self.post(path, b"{not json"), 400, "INVALID_ARGUMENT")
        self.assert_error(self.post("/v1beta/models/llama-9:generateContent", req("x")), 404,
                          "NOT_FOUND", "llama-9", "claude-sonnet-4.5")
        self.assert_error(self.post("/v1beta/models/gemini-2.5-pro:embedContent", req("x")),
                          404, "NOT_FOUND", "embedContent")
        self.assert_error(self.post("/v1beta/tunedModels/x:generateContent", req("x")),
                          404, "NOT_FOUND")
        self.assertEqual(MOCK.requests(), [])

    def test_upstream_rate_limit(self) -> None:
        MOCK.script("throttle", times=-1)
        resp = self.post("/v1beta/models/gemini-2.5-flash:generateContent", req("busy"))
        self.assert_error(resp, 429, "RESOURCE_EXHAUSTED")
        self.assertTrue(resp.headers.get("Retry-After", "").isdigit(), resp.headers)
        resp = self.post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                         req("busy"))
        self.assert_error(resp, 429, "RESOURCE_EXHAUSTED")


class Lighttpd(_Gemini, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"


class Apache(_Gemini, unittest.TestCase):
    server, mount = "apache", "/"


if __name__ == "__main__":
    unittest.main(verbosity=2)
