"""count_tokens through lighttpd: the local estimate, and countTokensApiUrl forwarding.

Covers:
  - POST /v1/messages/count_tokens and /cc/v1/messages/count_tokens answer
    {"input_tokens": N} from the local estimate, larger for a larger request;
  - with countTokensApiUrl set, the request body is forwarded to that URL with
    the configured key as x-api-key (countTokensAuthType x-api-key) or as a
    Bearer token (bearer), plus anthropic-version, and its count is returned;
  - when that endpoint fails (500, or not JSON), the local estimate answers,
    never an error;
  - count_tokens needs no Kiro account and makes no upstream call.
"""

from __future__ import annotations

import http.server
import json
import threading
import unittest

from gateway import Gateway, Mock, body


class CountStub:
    """A stand-in for an Anthropic-compatible count_tokens endpoint."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.answer = {"input_tokens": 4242}
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                stub.requests.append({"path": self.path,
                                      "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "body": json.loads(self.rfile.read(length) or b"null")})
                data = json.dumps(stub.answer).encode() if stub.status == 200 else b"oops"
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages/count_tokens"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class LocalEstimate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock().start()
        cls.gw = Gateway("lighttpd", cls.mock, accounts=()).start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.mock.stop()

    def count(self, request: dict, path: str = "/v1/messages/count_tokens") -> int:
        resp = self.gw.post(path, request)
        self.assertEqual(resp.status, 200, resp.body)
        doc = resp.json()
        self.assertEqual(set(doc), {"input_tokens"})
        return doc["input_tokens"]

    def test_estimate_grows_with_the_request(self):
        small = self.count(body("hi"))
        large = self.count(body("hello world " * 500))
        self.assertGreaterEqual(small, 1)
        # 1000 more words; Kiro's own overhead is in both (test_token_counts.py).
        self.assertGreater(large - small, 900)
        self.assertEqual(self.count(body("hi"), "/cc/v1/messages/count_tokens"), small)

    def test_needs_no_account_and_no_upstream_call(self):
        self.count(body("hi"))
        self.assertEqual(self.mock.stats()["generate"], 0)


class Forwarding(unittest.TestCase):
    def setUp(self):
        self.stub = CountStub()
        self.mock = Mock().start()

    def tearDown(self):
        self.mock.stop()
        self.stub.stop()

    def gateway(self, auth_type: str) -> Gateway:
        """Not started: the with statement starts and stops it."""
        return Gateway("lighttpd", self.mock, config={
            "countTokensApiUrl": self.stub.url, "countTokensApiKey": "ct-key-123",
            "countTokensAuthType": auth_type})

    def test_forwarded_with_x_api_key(self):
        with self.gateway("x-api-key") as gw:
            request = body("count me")
            resp = gw.post("/v1/messages/count_tokens", request)
            self.assertEqual(resp.status, 200, resp.body)
            self.assertEqual(resp.json(), {"input_tokens": 4242})
        seen = self.stub.requests[-1]
        self.assertEqual(seen["headers"].get("x-api-key"), "ct-key-123")
        self.assertNotIn("authorization", seen["headers"])
        self.assertIn("anthropic-version", seen["headers"])
        self.assertEqual(seen["body"], request)

    def test_forwarded_with_bearer(self):
        with self.gateway("bearer") as gw:
            resp = gw.post("/v1/messages/count_tokens", body("count me"))
            self.assertEqual(resp.json(), {"input_tokens": 4242})
        seen = self.stub.requests[-1]
        self.assertEqual(seen["headers"].get("authorization"), "Bearer ct-key-123")
        self.assertNotIn("x-api-key", seen["headers"])

    def test_failing_endpoint_falls_back_to_the_estimate(self):
        with self.gateway("x-api-key") as gw:
            self.stub.status = 500
            resp = gw.post("/v1/messages/count_tokens", body("count me"))
            self.assertEqual(resp.status, 200, resp.body)
            self.assertNotEqual(resp.json()["input_tokens"], 4242)
            self.assertGreaterEqual(resp.json()["input_tokens"], 1)
            self.stub.status = 200
            self.stub.answer = {"tokens": "not what we want"}
            resp = gw.post("/v1/messages/count_tokens", body("count me"))
            self.assertEqual(resp.status, 200, resp.body)
            self.assertGreaterEqual(resp.json()["input_tokens"], 1)
            self.assertNotIn("ct-key-123", gw.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
