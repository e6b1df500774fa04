#!/usr/bin/python3
"""Bad client input answered with the right Anthropic errors while the server stays up.

Behind lighttpd (mount "/kiro") and Apache (mount "/"), with
maxRequestBytes = 100000, for each server:

  - a body over maxRequestBytes gets 413 request_too_large naming the limit,
    sent with Content-Length and chunked; a body over the web server's own
    limit (64 MiB) is refused by the server (lighttpd 413, mod_fcgid 500) and
    the responder is unaffected;
  - malformed JSON (truncated, empty, not UTF-8, trailing garbage) gets 400
    invalid_request_error;
  - wrong types and missing fields, table-driven from cases/bad_requests.json
    (messages not an array, content a number, max_tokens a string,
    tools[0].input_schema missing, ...): 400 whose message names the field
    path (an unknown model: 404 not_found_error listing the available
    ones, as Anthropic answers it); also on
    /v1/messages/count_tokens and /cc/v1/messages;
  - JSON nested 600 levels deep gets 400 saying the nesting is too deep,
    while Claude Code-like nesting (tool schemas ~60 levels) works;
  - missing, wrong, and malformed credentials (x-api-key, Authorization:
    Bearer, Basic) get 401 authentication_error, and no key is echoed;
  - unknown routes get 404 (in Gemini's shape under /v1beta, Anthropic's
    elsewhere), known routes with the wrong method 405 in their route's API
    with an Allow header listing the right ones, an
    unknown model under /v1/models/ 404 listing the available models, in OpenAI's
    shape for a client that sends neither anthropic-version nor x-api-key;
  - /v1/models, shared by three APIs, answers a 401 or 405 in the shape of
    the client asking: Anthropic's for x-api-key or anthropic-version,
    Gemini's for x-goog-api-key or ?key=, OpenAI's otherwise;
  - after every test the same responder processes (same pids and start
    times, no new "ready" line in the responder log) still answer a normal
    request, and the mock received nothing from the refused requests.

Run: /usr/bin/python3 tests/integration/test_gateway_bad_input.py
"""

from __future__ import annotations

import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import (Account, Gateway, Mock, assert_anthropic_error,  # noqa: E402
                     assert_openai_error, body)

MOCK: Mock | None = None
HERE = Path(__file__).resolve().parent
CASES = json.loads((HERE / "cases" / "bad_requests.json").read_text())
MAX_REQUEST = 100000
MiB = 1024 * 1024


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def assert_gemini_error(case, resp, status: int, name: str,
                        contains: tuple[str, ...] = ()) -> dict:
    """Assert resp is a Gemini error: {"error": {"code", "message", "status"}}."""
    case.assertEqual(resp.status, status, resp.body[:500])
    doc = resp.json()
    case.assertEqual(set(doc), {"error"}, doc)
    case.assertEqual(doc["error"].get("code"), status, doc)
    case.assertEqual(doc["error"].get("status"), name, doc)
    for text in contains:
        case.assertIn(text, doc["error"].get("message", ""), doc)
    return doc


def deep_array(levels: int) -> str:
    return "[" * levels + "]" * levels


class _BadInput:
    server: str
    mount: str
    server_limit_status: int

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.gw = cls.enterClassContext(Gateway(
                cls.server, MOCK, mount=cls.mount, procs=1, threads=2,
                accounts=[Account("bad-input")], config={"maxRequestBytes": MAX_REQUEST}))
            MOCK.reset()
            cls.gw.register_accounts()
            warm = cls.gw.messages(body("warm up"))
            if warm.status != 200:
                raise AssertionError(f"warm-up failed: {warm.status} {warm.body[:300]!r}")
            cls.pids = cls.gw.responder_pids()
            if not cls.pids:
                raise AssertionError("no kiro-fcgi process found under the server")
            cls.ready_lines = cls.gw.log().count("INFO ready:")

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        MOCK.reset()
        self.gw.register_accounts()

    def tearDown(self) -> None:
        # Nothing refused may have reached Kiro ...
        self.assertEqual(MOCK.requests(), [], "a refused request was sent upstream")
        # ... and the same responder still answers.
        resp = self.gw.messages(body("still there?"))
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertEqual(self.gw.responder_pids(), self.pids, "a responder process changed")
        self.assertEqual(self.gw.log().count("INFO ready:"), self.ready_lines,
                         "the responder was restarted")

    def raw(self, data: bytes, path: str = "/v1/messages", **kw):
        return self.gw.post(path, data, **kw)

    # sizes

    def test_body_over_max_request_bytes(self) -> None:
        big = body("x" * (MAX_REQUEST + 10))
        data = json.dumps(big).encode()
        self.assertGreater(len(data), MAX_REQUEST)
        for chunked in (False, True):
            with self.subTest(chunked=chunked):
                resp = gw.request(self.gw.url("/v1/messages"), "POST", data,
                                  dict(self.gw.auth(), **{"Content-Type": "application/json"}),
                                  chunked=chunked)
                assert_anthropic_error(self, resp, 413, "request_too_large",
                                       [str(MAX_REQUEST), "maxRequestBytes"])
        # Just under the limit is fine.
        fits = body("y" * (MAX_REQUEST - 500))
        self.assertLessEqual(len(json.dumps(fits)), MAX_REQUEST)
        resp = self.gw.messages(fits)
        self.assertEqual(resp.status, 200, resp.body[:300])
        MOCK.reset()
        self.gw.register_accounts()

    def test_body_over_web_server_limit(self) -> None:
        data = b"{" + b" " * (64 * MiB) + b"}"
        resp = gw.request(self.gw.url("/v1/messages"), "POST", data,
                          dict(self.gw.auth(), **{"Content-Type": "application/json"}),
                          chunked=True)
        self.assertEqual(resp.status, self.server_limit_status, resp.body[:300])

    # malformed JSON

    def test_malformed_json(self) -> None:
        good = json.dumps(body("hi")).encode()
        for name, data in (("truncated", good[:-5]), ("empty", b""),
                           ("trailing garbage", good + b" }{"),
                           ("not UTF-8", good.replace(b"hi", b"h\xff\xfei")),
                           ("single quotes", good.replace(b'"', b"'")),
                           ("NaN", b'{"model": NaN}')):
            with self.subTest(name):
                resp = self.raw(data)
                doc = assert_anthropic_error(self, resp, 400, "invalid_request_error")
                self.assertTrue(doc["error"]["message"])

    # wrong types, table-driven

    def test_wrong_types_name_the_field(self) -> None:
        for case in CASES:
            for path in ("/v1/messages", "/cc/v1/messages"):
                with self.subTest(case["name"], path=path):
                    resp = self.raw(json.dumps(case["body"]).encode(), path)
                    assert_anthropic_error(self, resp, case["status"], case["type"],
                                           case["message"])

    def test_wrong_types_on_count_tokens(self) -> None:
        for case in CASES:
            # count_tokens needs no model
            if case["name"] in ("unknown model", "model missing"):
                continue
            with self.subTest(case["name"]):
                resp = self.raw(json.dumps(case["body"]).encode(), "/v1/messages/count_tokens")
                assert_anthropic_error(self, resp, case["status"], case["type"],
                                       case["message"])

    # nesting

    def test_nesting_too_deep(self) -> None:
        for where in ("metadata", "tool schema"):
            with self.subTest(where):
                req = body("deep")
                if where == "metadata":
                    text = json.dumps(req)[:-1] + ', "extra": ' + deep_array(600) + "}"
                else:
                    req["tools"] = [{"name": "t", "input_schema": {"type": "object"}}]
                    text = json.dumps(req).replace('{"type": "object"}',
                                                   '{"type": "object", "x": '
                                                   + deep_array(600) + "}")
                resp = self.raw(text.encode())
                doc = assert_anthropic_error(self, resp, 400, "invalid_request_error")
                self.assertRegex(doc["error"]["message"], r"(?i)nest|deep|depth")

    def test_claude_code_depth_accepted(self) -> None:
        tools = gw.claude_code_tools(25, 30)     # schemas about 60 JSON levels deep
        resp = self.gw.messages(body("deep but fine", tools=tools))
        self.assertEqual(resp.status, 200, resp.body[:300])
        log = MOCK.requests()
        self.assertEqual(len(log), 1)
        self.assertTrue(log[0]["validation"]["ok"], log[0]["validation"])
        sent = log[0]["body"]["conversationState"]["currentMessage"]["userInputMessage"][
            "userInputMessageContext"]["tools"]
        self.assertEqual(sent[0]["toolSpecification"]["inputSchema"]["json"],
                         tools[0]["input_schema"])
        MOCK.reset()
        self.gw.register_accounts()

    # auth

    def test_bad_or_missing_auth(self) -> None:
        key = self.gw.api_key
        cases = {
            "none": {},
            "empty x-api-key": {"x-api-key": ""},
            "wrong x-api-key": {"x-api-key": "sk-wrong-key-123"},
            "key prefix": {"x-api-key": key[:-1]},
            "key plus more": {"x-api-key": key + "x"},
            "wrong bearer": {"Authorization": "Bearer sk-wrong-key-456"},
            "bearer without token": {"Authorization": "Bearer "},
            "basic": {"Authorization": "Basic " + key},
            "key as bare authorization": {"Authorization": key},
        }
        for name, headers in cases.items():
            for path in ("/v1/messages", "/v1/messages/count_tokens", "/cc/v1/messages"):
                with self.subTest(name, path=path):
                    resp = self.gw.post(path, body("hi"), headers, auth=None)
                    doc = assert_anthropic_error(self, resp, 401, "authentication_error")
                    self.assertNotIn(key, resp.body.decode(errors="replace"))
                    for value in headers.values():
                        if len(value) > 10:
                            self.assertNotIn(value.split(" ")[-1], doc["error"]["message"])
            with self.subTest(name, path="/v1/models"):
                # Shared with OpenAI: Anthropic's shape for a client that
                # sends x-api-key or anthropic-version, OpenAI's otherwise.
                resp = self.gw.get("/v1/models", auth=None, headers=headers)
                if headers.get("x-api-key"):
                    assert_anthropic_error(self, resp, 401, "authentication_error")
                else:
                    assert_openai_error(self, resp, 401, "authentication_error")
                resp = self.gw.get("/v1/models", auth=None, headers=dict(
                    headers, **{"anthropic-version": "2023-06-01"}))
                assert_anthropic_error(self, resp, 401, "authentication_error")
        # The GenAI SDK lists models here too: its 401 is Gemini's.
        for path, headers in (("/v1/models?key=wrong-key-789", {}),
                              ("/v1/models", {"x-goog-api-key": "wrong-key-789"}),
                              ("/v1/models/claude-sonnet-4-5", {"x-goog-api-key": "wrong"})):
            with self.subTest("gemini client", path=path):
                resp = self.gw.get(path, auth=None, headers=headers)
                doc = assert_gemini_error(self, resp, 401, "UNAUTHENTICATED")
                self.assertNotIn("wrong-key-789", doc["error"]["message"])
        self.assertNotIn(key, self.gw.log())

    # routes and methods

    def test_unknown_route_404(self) -> None:
        for method, path in (("GET", "/v1/nothing"), ("POST", "/v2/messages"),
                             ("POST", "/v1/messages/extra"), ("GET", "/administrator"),
                             ("POST", "/v1/complete")):
            with self.subTest(method=method, path=path):
                if method == "GET":
                    resp = self.gw.get(path)
                else:
                    resp = self.gw.post(path, body("hi"))
                assert_anthropic_error(self, resp, 404, "not_found_error", [path])
        # Under /v1beta every answer is Gemini's, a 404 too.
        for path in ("/v1beta/files", "/v1beta/tunedModels/x:generateContent"):
            with self.subTest(path=path):
                assert_gemini_error(self, self.gw.post(path, body("hi")), 404, "NOT_FOUND",
                                    (path,))

    def test_wrong_method_405(self) -> None:
        for method, path, allow in (("GET", "/v1/messages", "POST"),
                                    ("PUT", "/v1/messages", "POST"),
                                    ("DELETE", "/v1/models", "GET, HEAD"),
                                    ("POST", "/health", "GET, HEAD"),
                                    ("GET", "/v1/messages/count_tokens", "POST"),
                                    ("POST", "/v1/models/claude-sonnet-4-5", "GET, HEAD")):
            with self.subTest(method=method, path=path):
                # lighttpd itself refuses a GET with a body (400)
                data = None if method in ("GET", "DELETE") else b"{}"
                resp = gw.request(self.gw.url(path), method, data,
                                  dict(self.gw.auth(), **{"Content-Type": "application/json"}))
                assert_anthropic_error(self, resp, 405, "invalid_request_error",
                                       [method, path])
                self.assertEqual(resp.headers.get("Allow"), allow)
        # Each in its route's API.
        resp = gw.request(self.gw.url("/v1/chat/completions"), "GET", None, self.gw.auth("bearer"))
        assert_openai_error(self, resp, 405, "invalid_request_error", ["GET"])
        self.assertEqual(resp.headers.get("Allow"), "POST")
        resp = gw.request(self.gw.url("/v1beta/models"), "PUT", b"{}",
                          {"x-goog-api-key": self.gw.api_key})
        assert_gemini_error(self, resp, 405, "INVALID_ARGUMENT", ("PUT",))
        self.assertEqual(resp.headers.get("Allow"), "GET, HEAD")
        resp = gw.request(self.gw.url("/v1/models"), "DELETE", None,
                          {"x-goog-api-key": self.gw.api_key})
        assert_gemini_error(self, resp, 405, "INVALID_ARGUMENT", ("DELETE",))
        resp = gw.request(self.gw.url("/v1/models"), "DELETE", None, self.gw.auth("bearer"))
        assert_openai_error(self, resp, 405, "invalid_request_error", ["DELETE"])

    def test_unknown_model_lists_available(self) -> None:
        resp = self.gw.get("/v1/models/llama-3-70b")
        assert_anthropic_error(self, resp, 404, "not_found_error",
                               ["llama-3-70b", "claude-sonnet-4.5", "auto"])
        resp = self.gw.messages(body("hi", model="claude-instant-1"))
        assert_anthropic_error(self, resp, 404, "not_found_error",
                               ["claude-instant-1", "claude-sonnet-4.5", "claude-haiku-4.5"])

    def test_unknown_model_openai_client(self) -> None:
        # OpenAI's SDKs send a bearer token and no anthropic-version: the
        # 404 comes in OpenAI's shape; with anthropic-version, Anthropic's.
        for path in ("/v1/models/mistral-large", "/v1/models/llama-3-70b"):
            with self.subTest(path=path):
                resp = self.gw.get(path, auth="bearer")
                assert_openai_error(self, resp, 404, "invalid_request_error",
                                    [path.rsplit("/", 1)[1], "claude-sonnet-4.5"],
                                    code="model_not_found")
        resp = self.gw.get("/v1/models/mistral-large", auth="bearer",
                           headers={"anthropic-version": "2023-06-01"})
        assert_anthropic_error(self, resp, 404, "not_found_error", ["mistral-large"])
        assert_openai_error(self, self.gw.get("/v1/models/mistral-large", auth=None), 401,
                            "authentication_error")


class Lighttpd(_BadInput, unittest.TestCase):
    server, mount, server_limit_status = "lighttpd", "/kiro", 413


class Apache(_BadInput, unittest.TestCase):
    server, mount, server_limit_status = "apache", "/", 500


if __name__ == "__main__":
    unittest.main(verbosity=2)
