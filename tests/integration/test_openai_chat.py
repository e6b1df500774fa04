#!/usr/bin/python3
"""POST /v1/chat/completions through a real lighttpd (at "/") and a real Apache (at "/kiro").

The mock upstream is shared by the module and reset before each test; for each server:

  - non-streamed text: a chat.completion object (id chatcmpl-..., model echoed,
    message.content from the mock, finish_reason stop, usage with
    prompt/completion/total tokens);
  - streamed text: every line is "data: <chunk>" with no event: line, the first
    chunk's delta is {"role":"assistant"}, content deltas join to the mock's
    text, the last chunk has finish_reason stop, then "data: [DONE]"; with
    stream_options.include_usage an extra chunk with choices [] and usage;
    ": keep-alive" SSE comments while the upstream is quiet mid-stream
    (pingIntervalSeconds 1);
  - system and developer messages reach Kiro as the system prompt;
  - tools, streamed (tool_calls delta with id, type, name, then the argument
    fragments verbatim; finish_reason tool_calls) and not (message.tool_calls
    with arguments as a JSON string, content beside it); the Kiro request
    carries the tool spec;
  - the tool-call round trip: the assistant's tool_calls and the tool
    message go back to Kiro as history toolUses and toolResults with the
    client's ids (the mock validates the pairing);
  - images: a data: URL, and an http URL served by a small server in this
    test, both reach Kiro as images with the right format and bytes; an http
    URL answering 404 is a 400 whose param names the field, and so is a 21st
    URL to fetch in one request (that gateway has imageFetch.allowPrivate on,
    since the image server is on loopback); with the default policy a
    gateway refuses loopback image URLs (127.0.0.1, localhost) with a 400
    naming the field and the setting, without leaking the query or
    connecting, and the mock sees no request;
  - thinking from reasoning_effort (streamed as delta.reasoning_content, and
    message.reasoning_content) and from a -thinking model name (the Kiro
    system prompt carries <thinking_mode>);
  - errors in OpenAI's format: a missing or wrong key (401, invalid_api_key,
    written by the router before the route runs), a bad field (400, invalid_request_error, param),
    n=2, an unknown model (listing the models), a mid-stream exception (a
    data: {"error":...} chunk then [DONE]), an upstream refusal before any
    byte (a complete error response: 400 invalid_request_error for Kiro's
    "Improperly formed request", which no retry fixes).

Run: /usr/bin/python3 tests/integration/test_openai_chat.py (after make; see
gateway.py for the environment variables).
"""

from __future__ import annotations

import base64
import http.server
import json
import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock  # noqa: E402

MOCK: Mock | None = None
IMAGES: "ImageServer | None" = None
MODEL = "claude-sonnet-4-5"
DEFAULT_TEXT = "Hello from mock Kiro. You said: "
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")
PNG_B64 = base64.b64encode(PNG).decode()
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
# 17 MiB: three are 51 MiB fetched (under the 64 MiB a request may fetch),
# 68 MiB as base64.
BIG_GIF = GIF + b"\0" * (17 * 1024 * 1024 - len(GIF))
READ_FILE = {"type": "function", "function": {
    "name": "read_file", "description": "Read a file",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}},
                   "required": ["path"]}}}


class ImageServer:
    """Serves /a.gif (a GIF with a lying Content-Type), /big.gif (17 MiB) and 404 for
    anything else."""

    def __init__(self) -> None:
        server = self
        self.hits = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.hits += 1
                if self.path in ("/a.gif", "/big.gif"):
                    body = GIF if self.path == "/a.gif" else BIG_GIF
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> "ImageServer":
        self.thread.start()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def setUpModule() -> None:
    global MOCK, IMAGES
    MOCK = Mock().start()
    IMAGES = ImageServer().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()
    if IMAGES is not None:
        IMAGES.stop()


def chat(prompt: str = "Say hello", **extra) -> dict:
    req = {"model": MODEL, "messages": [{"role": "user", "content": prompt}]}
    req.update(extra)
    return req


def data_lines(body: bytes) -> list[str]:
    """The data: payloads of an SSE body, checking there is nothing else."""
    out = []
    for block in body.decode().split("\n\n"):
        if block == "" or block.startswith(":"):
            continue
        assert block.startswith("data: ") and "\n" not in block, repr(block)
        out.append(block[6:])
    return out


class _Chat:
    server: str
    mount: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.account = Account("chat")
            cls.gw = cls.enterClassContext(Gateway(cls.server, MOCK, mount=cls.mount, procs=2,
                                                   threads=2, accounts=[cls.account],
                                                   config={"pingIntervalSeconds": 1,
                                                           "imageFetch": {
                                                               "allowPrivate": True}}))

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        MOCK.reset()
        self.gw.register_accounts()
        self.expect_upstream_ok = True

    def tearDown(self) -> None:
        if self.expect_upstream_ok:
            for entry in MOCK.requests():
                self.assertTrue(entry["validation"] and entry["validation"].get("ok"),
                                f"mock refused a request: {entry['validation']}")
        log = self.gw.log()
        for secret in [self.gw.api_key] + self.account.secrets():
            self.assertNotIn(secret, log, "a secret is in the responder log")

    # helpers

    def post(self, req: dict):
        return self.gw.post("/v1/chat/completions", req, auth="bearer")

    def stream(self, req: dict, include_usage: bool = False):
        req = dict(req, stream=True)
        if include_usage:
            req["stream_options"] = {"include_usage": True}
        resp = self.post(req)
        self.assertEqual(resp.status, 200, resp.body[:500])
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("text/event-stream"))
        lines = data_lines(resp.body)
        self.assertEqual(lines[-1], "[DONE]")
        chunks = [json.loads(x) for x in lines[:-1]]
        return resp, chunks

    def upstream(self) -> dict:
        log = MOCK.requests()
        self.assertEqual(len(log), 1, [e["status"] for e in log])
        return log[0]["body"]

    def assert_error(self, resp, status: int, etype: str, param, words: str = "") -> dict:
        self.assertEqual(resp.status, status, resp.body[:500])
        err = resp.json()["error"]
        self.assertEqual(set(err), {"message", "type", "param", "code"})
        self.assertEqual(err["type"], etype)
        self.assertEqual(err["param"], param)
        self.assertIn(words, err["message"])
        return err

    @staticmethod
    def deltas(chunks, key: str) -> str:
        return "".join(c["choices"][0]["delta"].get(key) or "" for c in chunks
                       if c["choices"])

    # text

    def test_non_stream_text(self) -> None:
        resp = self.post(chat("hello there", max_tokens=100, temperature=0.3))
        self.assertEqual(resp.status, 200, resp.body[:500])
        msg = resp.json()
        self.assertRegex(msg["id"], r"^chatcmpl-[0-9a-f]{32}$")
        self.assertEqual(msg["object"], "chat.completion")
        self.assertEqual(msg["model"], MODEL)
        self.assertIsInstance(msg["created"], int)
        choice = msg["choices"][0]
        self.assertEqual(choice["index"], 0)
        self.assertEqual(choice["message"]["role"], "assistant")
        self.assertEqual(choice["message"]["content"], DEFAULT_TEXT + "hello there")
        self.assertNotIn("tool_calls", choice["message"])
        self.assertEqual(choice["finish_reason"], "stop")
        usage = msg["usage"]
        self.assertGreater(usage["prompt_tokens"], 0)
        self.assertGreater(usage["completion_tokens"], 0)
        self.assertEqual(usage["total_tokens"],
                         usage["prompt_tokens"] + usage["completion_tokens"])

    def test_stream_text_and_usage(self) -> None:
        for include_usage in (False, True):
            with self.subTest(include_usage=include_usage):
                MOCK.reset()
                self.gw.register_accounts()
                _, chunks = self.stream(chat("stream it"), include_usage)
                ids = {c["id"] for c in chunks}
                self.assertEqual(len(ids), 1)
                self.assertRegex(ids.pop(), r"^chatcmpl-[0-9a-f]{32}$")
                for c in chunks:
                    self.assertEqual(c["object"], "chat.completion.chunk")
                    self.assertEqual(c["model"], MODEL)
                self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant"})
                self.assertEqual(self.deltas(chunks, "content"), DEFAULT_TEXT + "stream it")
                if include_usage:
                    last = chunks[-1]
                    self.assertEqual(last["choices"], [])
                    self.assertGreater(last["usage"]["completion_tokens"], 0)
                    chunks = chunks[:-1]
                else:
                    self.assertNotIn("usage", chunks[-1])
                self.assertEqual(chunks[-1]["choices"][0]["finish_reason"], "stop")
                self.assertEqual(chunks[-1]["choices"][0]["delta"], {})
                self.assertEqual([c["choices"][0]["finish_reason"] for c in chunks[:-1]],
                                 [None] * (len(chunks) - 1))

    def test_stream_keep_alive_while_quiet(self) -> None:
        MOCK.script({"kind": "slow", "chunks": ["before ", "after"], "delay_ms": 2500})
        resp, chunks = self.stream(chat("take your time"))
        self.assertEqual(self.deltas(chunks, "content"), "before after")
        body = resp.body.decode()
        first = body.index('"content":"before "')
        self.assertIn("\n\n: keep-alive\n\n", body[first:body.index('"content":"after"')])

    def test_system_and_developer(self) -> None:
        req = chat("hi")
        req["messages"][:0] = [{"role": "system", "content": "You are SYS-MARK."},
                               {"role": "developer", "content": [
                                   {"type": "text", "text": "DEV-MARK rules."}]}]
        resp = self.post(req)
        self.assertEqual(resp.status, 200, resp.body[:500])
        whole = json.dumps(self.upstream()["conversationState"]["history"])
        self.assertIn("SYS-MARK", whole)
        self.assertIn("DEV-MARK", whole)

    # tools

    def test_tools_stream(self) -> None:
        MOCK.script("tool_use")
        _, chunks = self.stream(chat("Read /tmp/a.txt", tools=[READ_FILE],
                                     tool_choice="auto"))
        calls = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", [])]
        self.assertEqual(calls[0], {"index": 0, "id": "tooluse_MockAbCdEf0123456789",
                                    "type": "function",
                                    "function": {"name": "read_file", "arguments": ""}})
        self.assertEqual([c["function"] for c in calls[1:]],
                         [{"arguments": '{"path":'}, {"arguments": '"/tmp/a.txt"}'}])
        self.assertEqual({c["index"] for c in calls}, {0})
        self.assertEqual(self.deltas(chunks, "content"), "Let me read it.")
        self.assertEqual(chunks[-1]["choices"][0]["finish_reason"], "tool_calls")
        tools = self.upstream()["conversationState"]["currentMessage"]["userInputMessage"][
            "userInputMessageContext"]["tools"]
        self.assertEqual([t["toolSpecification"]["name"] for t in tools], ["read_file"])
        schema = tools[0]["toolSpecification"]["inputSchema"]["json"]
        for key, value in READ_FILE["function"]["parameters"].items():
            self.assertEqual(schema[key], value)

    def test_tools_non_stream_parallel(self) -> None:
        MOCK.script("tool_use_interleaved")
        list_dir = {"type": "function", "function": {"name": "list_dir", "parameters": {
            "type": "object", "properties": {"dir": {"type": "string"}}}}}
        resp = self.post(chat("Two things", tools=[READ_FILE, list_dir]))
        self.assertEqual(resp.status, 200, resp.body[:500])
        choice = resp.json()["choices"][0]
        self.assertEqual(choice["finish_reason"], "tool_calls")
        self.assertEqual(choice["message"]["content"], "Two tools.")
        calls = choice["message"]["tool_calls"]
        self.assertEqual([(c["id"], c["type"], c["function"]["name"]) for c in calls],
                         [("tooluse_MockInterleave000001", "function", "read_file"),
                          ("tooluse_MockInterleave000002", "function", "list_dir")])
        self.assertEqual([json.loads(c["function"]["arguments"]) for c in calls],
                         [{"path": "/tmp/a.txt"}, {"dir": "/tmp"}])

    def test_tool_round_trip(self) -> None:
        req = chat("Read /tmp/a.txt", tools=[READ_FILE])
        req["messages"] += [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_client_1", "type": "function",
                 "function": {"name": "read_file", "arguments": '{"path":"/tmp/a.txt"}'}}]},
            {"role": "tool", "tool_call_id": "call_client_1", "content": "FILE-CONTENT-42"}]
        resp = self.post(req)
        self.assertEqual(resp.status, 200, resp.body[:500])
        state = self.upstream()["conversationState"]
        uses = [u for h in state["history"] for u in
                h.get("assistantResponseMessage", {}).get("toolUses", [])]
        self.assertEqual(uses, [{"toolUseId": "call_client_1", "name": "read_file",
                                 "input": {"path": "/tmp/a.txt"}}])
        results = state["currentMessage"]["userInputMessage"]["userInputMessageContext"][
            "toolResults"]
        self.assertEqual(len(results), 1)
        self.assertEqual(results[0]["toolUseId"], "call_client_1")
        self.assertIn("FILE-CONTENT-42", json.dumps(results[0]["content"]))

    # images

    def test_images_data_and_http(self) -> None:
        req = chat("x")
        req["messages"][0]["content"] = [
            {"type": "text", "text": "What are these?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG_B64}},
            {"type": "image_url", "image_url": {"url": IMAGES.url("/a.gif"),
                                                "detail": "high"}}]
        resp = self.post(req)
        self.assertEqual(resp.status, 200, resp.body[:500])
        images = self.upstream()["conversationState"]["currentMessage"][
            "userInputMessage"]["images"]
        self.assertEqual(images, [{"format": "png", "source": {"bytes": PNG_B64}},
                                  {"format": "gif", "source": {
                                      "bytes": base64.b64encode(GIF).decode()}}])

    def test_image_fetch_failure_is_400(self) -> None:
        req = chat("x")
        req["messages"][0]["content"] = [
            {"type": "image_url", "image_url": {"url": IMAGES.url("/nope.png?key=SECRET9")}}]
        err = self.assert_error(self.post(req), 400, "invalid_request_error",
                                "messages[0].content[0].image_url.url", "HTTP 404")
        self.assertNotIn("SECRET9", err["message"])
        self.assertEqual(MOCK.requests(), [])

    def test_image_fetches_are_capped(self) -> None:
        req = chat("x")
        req["messages"][0]["content"] = [
            {"type": "image_url", "image_url": {"url": IMAGES.url("/a.gif")}}] * 21
        self.assert_error(self.post(req), 400, "invalid_request_error",
                          "messages[0].content[20].image_url.url", "at most 20")
        self.assertEqual(MOCK.requests(), [])

    def test_image_fetch_budget_counts_bytes_fetched(self) -> None:
        # imgfetch's budget (64 MiB fetched) is the only one: Chat once kept its
        # own, which counted base64 and refused the fourth image here.  What
        # then refuses the request is the Kiro body's size, named as such.
        req = chat("x")
        req["messages"][0]["content"] = [
            {"type": "image_url", "image_url": {"url": IMAGES.url("/big.gif")}}] * 3 + [
            {"type": "image_url", "image_url": {"url": IMAGES.url("/a.gif")}}]
        err = self.assert_error(self.post(req), 400, "invalid_request_error", None,
                                "Input is too long")
        self.assertNotIn("at most 20", err["message"])
        self.assertEqual(MOCK.requests(), [])

    # thinking

    def test_reasoning_effort_stream_and_not(self) -> None:
        MOCK.script("thinking")
        _, chunks = self.stream(chat("Greet me", reasoning_effort="medium"))
        self.assertEqual(self.deltas(chunks, "reasoning_content"), "The user wants a greeting.")
        self.assertEqual(self.deltas(chunks, "content"), "Hi there!")
        system = self.upstream()["conversationState"]["history"][0]["userInputMessage"][
            "content"]
        self.assertIn("<thinking_mode>enabled</thinking_mode>", system)
        MOCK.reset()
        self.gw.register_accounts()
        MOCK.script("reasoning")
        resp = self.post(chat("Greet me", reasoning_effort="high"))
        self.assertEqual(resp.status, 200, resp.body[:500])
        msg = resp.json()["choices"][0]["message"]
        self.assertEqual(msg["reasoning_content"], "The user wants a greeting. I will say hi.")
        self.assertEqual(msg["content"], "Hi there!")

    def test_thinking_model_name(self) -> None:
        MOCK.script("thinking")
        resp = self.post(dict(chat("Greet me"), model=MODEL + "-thinking"))
        self.assertEqual(resp.status, 200, resp.body[:500])
        msg = resp.json()
        self.assertEqual(msg["model"], MODEL + "-thinking")
        self.assertEqual(msg["choices"][0]["message"]["reasoning_content"],
                         "The user wants a greeting.")
        system = self.upstream()["conversationState"]["history"][0]["userInputMessage"][
            "content"]
        self.assertIn("<thinking_mode>enabled</thinking_mode>", system)

    # errors

    def test_bad_requests_in_openai_format(self) -> None:
        self.assert_error(self.post(chat("x", n=2)), 400, "invalid_request_error", "n")
        self.assert_error(self.post(chat("x", logprobs=True)), 400, "invalid_request_error",
                          "logprobs")
        self.assert_error(self.post(chat("x", messages=[{"role": "user"}])), 400,
                          "invalid_request_error", "messages[0].content", "field required")
        err = self.assert_error(self.post(chat("x", model="nope-1")), 404,
                                "invalid_request_error", "model", "claude-sonnet-4.5")
        self.assertEqual(err["code"], "model_not_found")
        self.assert_error(self.post(chat("x", stop=["a", "b", "c", "d", "e"])), 400,
                          "invalid_request_error", "stop")
        resp = self.gw.post("/v1/chat/completions", b"{not json", auth="bearer")
        self.assert_error(resp, 400, "invalid_request_error", None)
        self.assertEqual(MOCK.requests(), [])

    def test_auth_errors_in_openai_format(self) -> None:
        resp = self.gw.post("/v1/chat/completions", chat("x"), auth=None)
        err = self.assert_error(resp, 401, "authentication_error", None, "missing API key")
        self.assertEqual(err["code"], "invalid_api_key")
        resp = self.gw.post("/v1/chat/completions", chat("x"), auth=None,
                            headers={"Authorization": "Bearer sk-wrong"})
        err = self.assert_error(resp, 401, "authentication_error", None, "invalid API key")
        self.assertEqual(MOCK.requests(), [])

    def test_error_mid_stream_then_done(self) -> None:
        self.expect_upstream_ok = False
        MOCK.script({"preset": "exception", "chunks": ["partial answer"]}, times=-1)
        resp, chunks = self.stream(chat("throttle me late"))
        self.assertEqual(self.deltas(chunks[:-1], "content"), "partial answer")
        err = chunks[-1]["error"]
        self.assertEqual(err["type"], "rate_limit_error")
        self.assertEqual(err["code"], "rate_limit_exceeded")
        self.assertTrue(err["message"])

    def test_upstream_refusal_before_first_byte(self) -> None:
        self.expect_upstream_ok = False
        MOCK.script("improperly_formed", times=-1)
        for stream in (False, True):
            with self.subTest(stream=stream):
                resp = self.post(chat("refuse me", stream=stream))
                # No retry fixes it: a 400, not a 5xx that SDKs retry.
                self.assert_error(resp, 400, "invalid_request_error", None,
                                  "Improperly formed request")


class _DefaultImagePolicy:
    """A gateway with no imageFetch key: loopback image URLs are refused."""
    server: str
    mount: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.account = Account("chat-default")
            cls.gw = cls.enterClassContext(Gateway(cls.server, MOCK, mount=cls.mount,
                                                   accounts=[cls.account]))

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        MOCK.reset()
        self.gw.register_accounts()

    def test_private_image_urls_refused_by_default(self) -> None:
        hits = IMAGES.hits
        port = IMAGES.httpd.server_address[1]
        for host in ("127.0.0.1", "localhost"):
            req = chat("x")
            req["messages"][0]["content"] = [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {
                    "url": f"http://{host}:{port}/a.gif?sig=SECRET7"}}]
            resp = self.gw.post("/v1/chat/completions", req, auth="bearer")
            self.assertEqual(resp.status, 400, resp.body[:500])
            err = resp.json()["error"]
            self.assertEqual(err["type"], "invalid_request_error")
            self.assertEqual(err["param"], "messages[0].content[1].image_url.url")
            self.assertEqual(err["message"],
                             "messages[0].content[1].image_url.url: "
                             f"the image URL host {host} resolves to a private address; the "
                             "gateway does not fetch those (imageFetch.allowPrivate)")
            self.assertNotIn("SECRET7", resp.body.decode())
        self.assertEqual(IMAGES.hits, hits, "the gateway connected to a loopback image URL")
        self.assertEqual(MOCK.requests(), [])
        self.assertNotIn("SECRET7", self.gw.log())


class Lighttpd(_Chat, unittest.TestCase):
    server, mount = "lighttpd", "/"


class Apache(_Chat, unittest.TestCase):
    server, mount = "apache", "/kiro"


class LighttpdDefaultImagePolicy(_DefaultImagePolicy, unittest.TestCase):
    server, mount = "lighttpd", "/"


class ApacheDefaultImagePolicy(_DefaultImagePolicy, unittest.TestCase):
    server, mount = "apache", "/kiro"


if __name__ == "__main__":
    unittest.main(verbosity=2)
