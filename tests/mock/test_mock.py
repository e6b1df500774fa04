#!/usr/bin/python3
"""Self-test of the Kiro mock upstream and its event-stream codec.

Run: /usr/bin/python3 tests/mock/test_mock.py   (starts its own mock processes)
"""

import base64
import copy
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import eventstream as es  # noqa: E402
import kiro_mock as mock  # noqa: E402
import tokentruth  # noqa: E402

MOCK = os.path.join(HERE, "kiro_mock.py")
IMPROPER = {"message": "Improperly formed request.", "reason": None}
BEARER = {"message": "The bearer token included in the request is invalid.", "reason": None}
INVALID_GRANT = {"error": "invalid_grant", "error_description": "Invalid refresh token provided"}
PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\n mock image bytes").decode()
TOKEN = "aoa-main-access-token"
REFRESH = "aor" + "m" * 130


# ------------------------------------------------------------------ process helpers

class MockProcess(object):
    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="kiro-mock-test-")
        self.port_file = os.path.join(self.dir, "port")
        self.err_path = os.path.join(self.dir, "stderr")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen([sys.executable, MOCK, "--port-file", self.port_file]
                                     + list(extra),
                                     stderr=self.err, stdout=subprocess.DEVNULL)
        self.port = self.wait_port()

    def wait_port(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            if os.path.exists(self.port_file):
                with open(self.port_file) as fh:
                    return int(fh.read().strip())
            if self.proc.poll() is not None:
                raise RuntimeError("mock exited early: %s" % self.stderr())
            time.sleep(0.02)
        raise RuntimeError("mock did not write its port file")

    def stderr(self):
        with open(self.err_path) as fh:
            return fh.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        return self.proc.returncode


MOCKP = None


def setUpModule():
    global MOCKP
    MOCKP = MockProcess("--port", "0")


def tearDownModule():
    if MOCKP:
        MOCKP.stop()


def conn(timeout=10):
    return http.client.HTTPConnection("127.0.0.1", MOCKP.port, timeout=timeout)


def request(method, path, body=None, headers=None, token=None, timeout=10):
    """One request on a fresh connection: (status, headers dict lower-case, bytes)."""
    c = conn(timeout)
    try:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=hdrs)
        resp = c.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        c.close()


def ctl(method, name, body=None):
    status, _, data = request(method, "/_mock/" + name, body)
    return status, json.loads(data)


def jreq(method, path, body=None, token=None):
    status, headers, data = request(method, path, body, token=token)
    return status, json.loads(data)


def raw_http(method, path, body=b"", headers=None):
    """Send one request with Connection: close; return the raw response bytes."""
    sock = socket.create_connection(("127.0.0.1", MOCKP.port), timeout=10)
    hdrs = {"Host": "mock", "Connection": "close"}
    hdrs.update(headers or {})
    if "Transfer-Encoding" not in hdrs:
        hdrs.setdefault("Content-Length", str(len(body)))
    head = "%s %s HTTP/1.1\r\n%s\r\n" % (method, path, "".join(
        "%s: %s\r\n" % kv for kv in hdrs.items()))
    sock.sendall(head.encode() + body)
    data = b""
    while True:
        got = sock.recv(65536)
        if not got:
            break
        data += got
    sock.close()
    return data


def parse_chunked(raw):
    """Split a raw HTTP/1.1 chunked response: (head, [chunks], terminated)."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    chunks = []
    while rest:
        line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            break
        size = int(line, 16)
        if size == 0:
            return head, chunks, True
        chunks.append(rest[:size])
        rest = rest[size + 2:]
    return head, chunks, False


def events(data):
    return [(f.event_type, f.json()) for f in es.decode_stream(data)]


def texts(data):
    return "".join(p["content"] for t, p in events(data) if t == "assistantResponseEvent")


def body(content="hello mock", **current):
    msg = {"content": content, "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR"}
    msg.update(current)
    return {"conversationState": {"chatTriggerType": "MANUAL", "conversationId": str(uuid.uuid4()),
                                  "currentMessage": {"userInputMessage": msg}}}


def auto_pct(b, window=200000):
    """The contextUsagePercentage the mock reports by default for body b."""
    return round(tokentruth.count(b) * 100.0 / window, 6)


def tool_spec(name="read_file"):
    return {"toolSpecification": {"name": name, "description": "Read a file",
                                  "inputSchema": {"json": {"type": "object",
                                                           "properties": {"path": {"type": "string"}},
                                                           "required": ["path"]}}}}


def full_body():
    """A valid body exercising history, tool pairing, tools and images."""
    def user(content, **kw):
        m = {"content": content, "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR"}
        m.update(kw)
        return {"userInputMessage": m}

    def result(tid, status="success"):
        return {"toolUseId": tid, "content": [{"text": "data"}], "status": status}

    image = {"format": "png", "source": {"bytes": PNG_B64}}
    history = [
        user("system prompt"),
        {"assistantResponseMessage": {"content": "I will follow these instructions."}},
        user("read /a", images=[image]),
        {"assistantResponseMessage": {"content": " ", "toolUses": [
            {"toolUseId": "tu_1", "name": "Read_File", "input": {"path": "/a"}}]}},
        user("here", userInputMessageContext={"toolResults": [result("tu_1")]}),
        {"assistantResponseMessage": {"content": "now /b", "toolUses": [
            {"toolUseId": "tu_2", "name": "read_file", "input": {"path": "/b"}}]}},
    ]
    b = body("continue", images=[image], userInputMessageContext={
        "toolResults": [dict(result("tu_2", "error"), isError=True)], "tools": [tool_spec()]})
    b["conversationState"]["history"] = history
    b["conversationState"]["agentContinuationId"] = str(uuid.uuid4())
    b["conversationState"]["agentTaskType"] = "vibe"
    b["profileArn"] = "arn:aws:codewhisperer:us-east-1:111112222233:profile/MOCK"
    return b


def gen(b, token=TOKEN, path="/generateAssistantResponse", headers=None):
    return request("POST", path, b if not isinstance(b, bytes) else b, headers, token)


def add_account(**kw):
    spec = {"refreshToken": REFRESH, "accessToken": TOKEN}
    spec.update(kw)
    status, acct = ctl("POST", "accounts", spec)
    assert status == 200, acct
    return acct


def script(response, times=1, **match):
    status, out = ctl("POST", "script", {"match": match, "times": times, "response": response})
    assert status == 200, out
    return out


def log_entries(op=None):
    return ctl("GET", "requests" + ("?op=" + op if op else ""))[1]


def wait_for(pred, timeout=3.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    return pred()


class MockTestCase(unittest.TestCase):
    def setUp(self):
        status, _ = ctl("POST", "reset")
        self.assertEqual(status, 200)
        add_account()


# ------------------------------------------------------------------ event-stream codec

class EventStreamCodecTest(unittest.TestCase):
    def test_crc_check_values(self):
        self.assertEqual(es.crc32(b"123456789"), 0xCBF43926)
        self.assertEqual(es.crc32(b""), 0)

    def test_worked_example_frame(self):
        frame = es.event_frame("assistantResponseEvent", {"content": "Hello"})
        self.assertEqual(len(frame), 127)
        self.assertEqual(frame[:12].hex(), "0000007f0000005c7c7db5a8")
        self.assertEqual(frame[-4:].hex(), "9b5d0635")

    def test_roundtrip_all_header_types(self):
        uid = uuid.uuid4()
        headers = [("t", True), ("f", False), ("b", es.HeaderValue(es.TYPE_BYTE, -5)),
                   ("s", es.HeaderValue(es.TYPE_SHORT, 1234)), ("i", 70000),
                   ("l", 2 ** 40), ("ba", b"\x00\x01"), ("str", "héllo"),
                   ("ts", es.HeaderValue(es.TYPE_TIMESTAMP, 1767225600000)), ("u", uid)]
        frame = es.decode_frame(es.encode_frame(headers, b"payload"))
        self.assertEqual(frame.headers, {"t": True, "f": False, "b": -5, "s": 1234, "i": 70000,
                                         "l": 2 ** 40, "ba": b"\x00\x01", "str": "héllo",
                                         "ts": 1767225600000, "u": uid})
        self.assertEqual(frame.payload, b"payload")
        self.assertEqual(frame.message_type, "event")

    def test_strict_decode_rejects_corruption(self):
        frame = bytearray(es.event_frame("x", {}))
        for index in (2, 9, len(frame) - 1, 20):
            bad = bytearray(frame)
            bad[index] ^= 0x01
            with self.assertRaises(es.FrameError, msg="byte %d" % index):
                es.decode_frame(bytes(bad))
        with self.assertRaises(es.FrameError):
            es.decode_stream(bytes(frame[:-3]))

    def test_incremental_byte_by_byte(self):
        data = es.event_frame("a", {"n": 1}) + es.event_frame("b", {"n": 2})
        dec, got = es.Decoder(), []
        for i in range(len(data)):
            got += dec.feed(data[i:i + 1])
        self.assertEqual([f.event_type for f in got], ["a", "b"])
        self.assertEqual(dec.pending, 0)
        self.assertEqual(dec.errors, [])

    def test_resync_after_garbage_and_bad_crc(self):
        good = es.event_frame("ok", {"v": 1})
        bad = bytearray(es.event_frame("bad", {"v": 2}))
        bad[-1] ^= 0xFF
        dec = es.Decoder()
        frames = dec.feed(b"\xde\xad\xbe\xef" + bytes(bad) + good)
        self.assertEqual([f.event_type for f in frames], ["ok"])
        self.assertEqual(len(dec.errors), 2)

    def test_too_many_errors(self):
        bad = bytearray(es.event_frame("bad", {}))
        bad[-1] ^= 0xFF
        dec = es.Decoder(max_errors=3)
        self.assertEqual(dec.feed(bytes(bad) * 2), [])
        with self.assertRaises(es.TooManyErrors):
            dec.feed(bytes(bad))


# ------------------------------------------------------------------ server basics

class ServerTest(MockTestCase):
    def test_port_file_and_health(self):
        with open(MOCKP.port_file) as fh:
            self.assertEqual(int(fh.read()), MOCKP.port)
        self.assertEqual(ctl("GET", "health"), (200, {"ok": True}))

    def test_unknown_path_404_json(self):
        status, out = jreq("GET", "/nope/nothing")
        self.assertEqual(status, 404)
        self.assertIn("message", out)
        status, out = jreq("GET", "/_mock/nothing")
        self.assertEqual(status, 404)

    def test_wrong_method_405(self):
        status, out = jreq("GET", "/generateAssistantResponse", token=TOKEN)
        self.assertEqual(status, 405)
        self.assertIn("message", out)

    def test_prefixed_paths(self):
        for prefix in ("", "/api", "/a/b/c"):
            status, headers, data = gen(body(), path=prefix + "/generateAssistantResponse")
            self.assertEqual(status, 200, prefix)
            self.assertTrue(texts(data).startswith("Hello from mock Kiro"))
        status, _ = jreq("GET", "/api/ListAvailableModels?origin=AI_EDITOR", token=TOKEN)
        self.assertEqual(status, 200)

    def test_malformed_json_everywhere(self):
        paths = ["/generateAssistantResponse", "/mcp", "/refreshToken", "/token",
                 "/client/register", "/device_authorization", "/oauth/token", "/_mock/accounts",
                 "/_mock/script"]
        for path in paths:
            for junk in (b"{not json", b"\xff\xfe\x00garbage", b"[[[[" * 5000):
                status, headers, data = request("POST", path, junk, token=TOKEN)
                self.assertEqual(status, 400, path)
                self.assertIsInstance(json.loads(data), dict, path)
        status, headers, data = gen(b"{oops")
        self.assertEqual(json.loads(data), IMPROPER)
        self.assertEqual(headers["x-mock-reason"], "body-not-json")
        self.assertEqual(ctl("GET", "health")[0], 200)

    def test_bad_content_length(self):
        raw = raw_http("POST", "/generateAssistantResponse", b"", {"Content-Length": "abc"})
        self.assertTrue(raw.startswith(b"HTTP/1.1 400"), raw[:40])
        self.assertEqual(ctl("GET", "health")[0], 200)

    def test_chunked_request_body(self):
        data = json.dumps(body("chunked upload")).encode()
        payload = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
        raw = raw_http("POST", "/generateAssistantResponse", payload,
                       {"Transfer-Encoding": "chunked", "Authorization": "Bearer " + TOKEN})
        head, chunks, done = parse_chunked(raw)
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertIn("chunked upload", texts(b"".join(chunks)))

    def test_keep_alive_reuses_connection(self):
        c = conn()
        try:
            c.request("POST", "/generateAssistantResponse", json.dumps(body()),
                      {"Authorization": "Bearer " + TOKEN})
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            sock = c.sock
            self.assertIsNotNone(sock)
            c.request("POST", "/generateAssistantResponse", "{}",
                      {"Authorization": "Bearer bogus"})
            r = c.getresponse()
            self.assertEqual(json.loads(r.read()), BEARER)
            self.assertIs(c.sock, sock)
            c.request("GET", "/_mock/health")
            r = c.getresponse()
            self.assertEqual(json.loads(r.read()), {"ok": True})
            self.assertIs(c.sock, sock)
        finally:
            c.close()

    def test_stderr_one_line_per_request(self):
        gen(body(), path="/logline/generateAssistantResponse")
        log = wait_for(lambda: "POST /logline/generateAssistantResponse -> 200"
                       in MOCKP.stderr() and MOCKP.stderr())
        self.assertEqual(log.count("/logline/generateAssistantResponse"), 1)

    def test_sigterm_and_fixed_port(self):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        other = MockProcess("--port", str(port), "--host", "127.0.0.1")
        hanging = None
        try:
            self.assertEqual(other.port, port)
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("POST", "/_mock/accounts", json.dumps({"accessToken": "h"}))
            self.assertEqual(c.getresponse().status, 200)
            c.close()
            # an in-flight hanging request must not block shutdown
            hanging = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            hanging.request("POST", "/generateAssistantResponse", json.dumps(body("#mock:hang")),
                            {"Authorization": "Bearer h"})
            time.sleep(0.2)
            start = time.time()
        finally:
            code = other.stop()
            if hanging:
                hanging.close()
        self.assertEqual(code, 0)
        self.assertLess(time.time() - start, 3)
        self.assertIn("stopped", other.stderr())


# ------------------------------------------------------------------ auth and tokens

class AuthTest(MockTestCase):
    def test_missing_or_bad_bearer(self):
        for token in (None, "bogus"):
            status, headers, data = gen(body(), token=token)
            self.assertEqual(status, 403)
            self.assertEqual(json.loads(data), BEARER)
        status, _, data = request("POST", "/generateAssistantResponse", json.dumps(body()),
                                  {"Authorization": TOKEN})
        self.assertEqual(status, 403)
        self.assertEqual(ctl("GET", "stats")[1]["auth_failures"], 3)

    def test_bearer_required_on_usage_models_mcp(self):
        for method, path in (("GET", "/getUsageLimits"), ("GET", "/ListAvailableModels"),
                             ("POST", "/mcp")):
            status, out = jreq(method, path, {} if method == "POST" else None)
            self.assertEqual((status, out), (403, BEARER), path)

    def test_revoke_then_refresh_fixes(self):
        self.assertEqual(gen(body())[0], 200)
        self.assertEqual(ctl("POST", "revoke", {"accessToken": TOKEN})[0], 200)
        status, _, data = gen(body())
        self.assertEqual((status, json.loads(data)), (403, BEARER))
        status, out = jreq("POST", "/refreshToken", {"refreshToken": REFRESH})
        self.assertEqual(status, 200)
        self.assertEqual(gen(body(), token=out["accessToken"])[0], 200)
        self.assertEqual(ctl("POST", "revoke", {"accessToken": "unknown"})[0], 404)

    def test_expired_access_token(self):
        add_account(refreshToken="aor" + "x" * 120, accessToken="expired-token",
                    accessTokenExpiresIn=0)
        self.assertEqual(gen(body(), token="expired-token")[0], 403)

    def test_social_refresh_rotation(self):
        status, out = jreq("POST", "/refreshToken", {"refreshToken": REFRESH})
        self.assertEqual(status, 200)
        self.assertEqual(set(out), {"accessToken", "refreshToken", "profileArn", "expiresIn"})
        self.assertTrue(out["accessToken"].startswith("aoa"))
        self.assertTrue(out["refreshToken"].startswith("aor"))
        self.assertGreaterEqual(len(out["refreshToken"]), 120)
        self.assertNotEqual(out["refreshToken"], REFRESH)
        self.assertEqual(out["profileArn"],
                         "arn:aws:codewhisperer:us-east-1:111112222233:profile/MOCK")
        self.assertEqual(out["expiresIn"], 3600)
        self.assertEqual(jreq("POST", "/refreshToken", {"refreshToken": REFRESH}),
                         (400, INVALID_GRANT))
        status, again = jreq("POST", "/refreshToken", {"refreshToken": out["refreshToken"]})
        self.assertEqual(status, 200)
        self.assertEqual(gen(body(), token=again["accessToken"])[0], 200)
        stats = ctl("GET", "stats")[1]
        self.assertEqual(stats["refreshes"], 3)
        self.assertEqual(stats["refreshes_ok"], 2)
        self.assertEqual(stats["refreshes_by_token"][REFRESH], 2)
        self.assertEqual(stats["refreshes_by_token"][out["refreshToken"]], 1)

    def test_social_refresh_without_rotation(self):
        rt = "aor" + "n" * 120
        add_account(refreshToken=rt, accessToken="t2", rotate=False, expiresIn=900)
        for _ in range(2):
            status, out = jreq("POST", "/refreshToken", {"refreshToken": rt})
            self.assertEqual(status, 200)
            self.assertEqual(out["refreshToken"], rt)
            self.assertEqual(out["expiresIn"], 900)

    def test_unknown_refresh_token(self):
        self.assertEqual(jreq("POST", "/refreshToken", {"refreshToken": "aor-unknown"}),
                         (400, INVALID_GRANT))
        self.assertEqual(jreq("POST", "/refreshToken", {}), (400, INVALID_GRANT))

    def test_idc_refresh(self):
        rt = "aor" + "i" * 120
        add_account(refreshToken=rt, accessToken="idc-at", authMethod="idc",
                    clientId="cid-1", clientSecret="sec-1")
        req = {"clientId": "cid-1", "clientSecret": "sec-1", "refreshToken": rt,
               "grantType": "refresh_token"}
        status, out = jreq("POST", "/token", dict(req, clientSecret="wrong"))
        self.assertEqual((status, out["error"]), (400, "invalid_client"))
        status, out = jreq("POST", "/token", dict(req, refreshToken="aor-unknown"))
        self.assertEqual((status, out), (400, INVALID_GRANT))
        status, out = jreq("POST", "/token", req)
        self.assertEqual(status, 200)
        self.assertEqual(set(out), {"accessToken", "refreshToken", "expiresIn", "tokenType"})
        self.assertEqual(out["tokenType"], "Bearer")
        self.assertEqual(gen(body(), token=out["accessToken"])[0], 200)
        # endpoints are not interchangeable
        self.assertEqual(jreq("POST", "/refreshToken", {"refreshToken": out["refreshToken"]}),
                         (400, INVALID_GRANT))
        status, out = jreq("POST", "/token", {"clientId": "cid-1", "clientSecret": "sec-1",
                                              "refreshToken": REFRESH,
                                              "grantType": "refresh_token"})
        self.assertEqual((status, out), (400, INVALID_GRANT))
        status, out = jreq("POST", "/token", dict(req, grantType="password"))
        self.assertEqual((status, out["error"]), (400, "unsupported_grant_type"))

    def test_refresh_failure_injection(self):
        status, _ = ctl("POST", "accounts/fail_refresh",
                        {"refreshToken": REFRESH, "status": 500, "times": 1,
                         "body": {"message": "boom"}})
        self.assertEqual(status, 200)
        self.assertEqual(jreq("POST", "/refreshToken", {"refreshToken": REFRESH}),
                         (500, {"message": "boom"}))
        status, out = jreq("POST", "/refreshToken", {"refreshToken": REFRESH})
        self.assertEqual(status, 200)
        stats = ctl("GET", "stats")[1]
        self.assertEqual((stats["refreshes"], stats["refreshes_failed"]), (2, 1))
        self.assertEqual(ctl("POST", "accounts/fail_refresh", {"refreshToken": "zzz"})[0], 400)

    def _refresh_pair(self, tokens):
        results = [None] * len(tokens)

        def worker(i):
            results[i] = jreq("POST", "/refreshToken", {"refreshToken": tokens[i]})

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(tokens))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def test_refresh_delay_exposes_concurrency(self):
        ctl("POST", "accounts/update", {"refreshToken": REFRESH, "refreshDelayMs": 300})
        start = time.time()
        results = self._refresh_pair([REFRESH, REFRESH])
        self.assertGreaterEqual(time.time() - start, 0.3)
        self.assertEqual(sorted(r[0] for r in results), [200, 400])
        stats = ctl("GET", "stats")[1]
        self.assertEqual(stats["refresh_peak_concurrency"], 2)
        self.assertEqual(stats["refreshes"], 2)

    def test_serial_refreshes_peak_one(self):
        ctl("POST", "accounts/update", {"refreshToken": REFRESH, "refreshDelayMs": 100})
        status, out = jreq("POST", "/refreshToken", {"refreshToken": REFRESH})
        status2, _ = jreq("POST", "/refreshToken", {"refreshToken": out["refreshToken"]})
        self.assertEqual((status, status2), (200, 200))
        self.assertEqual(ctl("GET", "stats")[1]["refresh_peak_concurrency"], 1)

    def test_accounts_listing_tracks_rotation(self):
        status, out = jreq("POST", "/refreshToken", {"refreshToken": REFRESH})
        accounts = ctl("GET", "accounts")[1]
        self.assertEqual(len(accounts), 1)
        self.assertEqual(accounts[0]["refreshToken"], out["refreshToken"])
        self.assertIn(out["accessToken"], accounts[0]["validAccessTokens"])
        self.assertEqual(accounts[0]["refreshes"], 1)


# ------------------------------------------------------------------ validation

def _cs(b):
    return b["conversationState"]


def _cur(b):
    return b["conversationState"]["currentMessage"]["userInputMessage"]


def _hist(b):
    return b["conversationState"]["history"]


def _ctx(b):
    return _cur(b)["userInputMessageContext"]


def _del(d, key):
    del d[key]


VALIDATION_CASES = [
    ("body-not-object", lambda b: [1, 2]),
    ("profile-arn-type", lambda b: b.update(profileArn=123)),
    ("conversation-state-missing", lambda b: _del(b, "conversationState")),
    ("conversation-state-missing", lambda b: b.update(conversationState=[])),
    ("chat-trigger-type", lambda b: _cs(b).update(chatTriggerType="AUTO")),
    ("chat-trigger-type", lambda b: _del(_cs(b), "chatTriggerType")),
    ("conversation-id", lambda b: _cs(b).update(conversationId="")),
    ("current-message-missing", lambda b: _cs(b).update(currentMessage={})),
    ("current-content-empty", lambda b: _cur(b).update(content=" \n\t ")),
    ("current-content-empty", lambda b: _del(_cur(b), "content")),
    ("model-id-missing", lambda b: _cur(b).update(modelId="")),
    ("origin-missing", lambda b: _del(_cur(b), "origin")),
    ("context-shape", lambda b: _cur(b).update(userInputMessageContext="x")),
    ("context-shape", lambda b: _ctx(b).update(toolResults={})),
    ("image-shape", lambda b: _cur(b).update(images={})),
    ("image-shape", lambda b: _cur(b).update(images=[{"format": "png"}])),
    ("image-format", lambda b: _cur(b)["images"][0].update(format="bmp")),
    ("image-bytes", lambda b: _cur(b)["images"][0]["source"].update(bytes="not base64!")),
    ("image-bytes", lambda b: _hist(b)[2]["userInputMessage"]["images"][0]["source"]
     .update(bytes="")),
    ("tool-cache-point", lambda b: _ctx(b)["tools"].append({"cachePoint": {"type": "default"}})),
    ("tool-spec-shape", lambda b: _del(_ctx(b)["tools"][0]["toolSpecification"], "description")),
    ("tool-spec-shape", lambda b: _ctx(b)["tools"][0]["toolSpecification"]
     .update(inputSchema={"type": "object"})),
    ("tool-name-invalid", lambda b: _ctx(b)["tools"].append(tool_spec("x" * 65))),
    ("tool-name-invalid", lambda b: _ctx(b)["tools"].append(tool_spec("bad name"))),
    ("tool-schema-null", lambda b: _ctx(b)["tools"][0]["toolSpecification"]["inputSchema"]
     ["json"].update(required=None)),
    ("tool-schema-null", lambda b: _ctx(b)["tools"][0]["toolSpecification"]["inputSchema"]
     ["json"].update(properties=None)),
    ("history-not-array", lambda b: _cs(b).update(history={})),
    ("history-empty", lambda b: _cs(b).update(history=[])),
    ("history-entry-shape", lambda b: _hist(b)[0].update(assistantResponseMessage={
        "content": "x"})),
    ("history-entry-shape", lambda b: _hist(b).insert(0, {})),
    ("history-first-not-user", lambda b: _cs(b).update(history=_hist(b)[1:])),
    ("history-not-alternating", lambda b: _hist(b).insert(1, copy.deepcopy(_hist(b)[0]))),
    ("history-last-not-assistant", lambda b: _cs(b).update(history=_hist(b)[:-1])),
    ("history-user-content-empty", lambda b: _hist(b)[0]["userInputMessage"].update(content="")),
    ("history-user-has-tools", lambda b: _hist(b)[0]["userInputMessage"].update(
        userInputMessageContext={"tools": [tool_spec()]})),
    ("assistant-content-empty", lambda b: _hist(b)[1]["assistantResponseMessage"]
     .update(content="")),
    ("tool-use-shape", lambda b: _hist(b)[3]["assistantResponseMessage"]["toolUses"][0]
     .update(input="{}")),
    ("tool-use-shape", lambda b: _del(_hist(b)[3]["assistantResponseMessage"]["toolUses"][0],
                                      "toolUseId")),
    ("tool-input-empty-key", lambda b: _hist(b)[3]["assistantResponseMessage"]["toolUses"][0]
     .update(input={"": 1})),
    ("tool-use-duplicate-id", lambda b: _hist(b)[5]["assistantResponseMessage"]["toolUses"][0]
     .update(toolUseId="tu_1")),
    ("tool-result-shape", lambda b: _ctx(b)["toolResults"][0].update(status="ok")),
    ("tool-result-shape", lambda b: _ctx(b)["toolResults"][0].update(content="text")),
    ("tool-result-shape", lambda b: _ctx(b)["toolResults"][0].update(content=["text"])),
    ("tool-result-duplicate", lambda b: _ctx(b)["toolResults"].append(
        copy.deepcopy(_ctx(b)["toolResults"][0]))),
    ("tool-result-orphan", lambda b: _ctx(b)["toolResults"][0].update(toolUseId="tu_1")),
    ("tool-result-orphan", lambda b: _hist(b)[0]["userInputMessage"].update(
        userInputMessageContext={"toolResults": [{"toolUseId": "tu_0", "content": [],
                                                  "status": "success"}]})),
    ("tool-use-unanswered", lambda b: _ctx(b).update(toolResults=[])),
    ("tool-use-unanswered", lambda b: _del(_hist(b)[4]["userInputMessage"],
                                           "userInputMessageContext")),
    ("tool-missing-for-history-use", lambda b: _ctx(b).update(tools=[tool_spec("other")])),
    ("tool-count", lambda b: _ctx(b)["tools"].extend(tool_spec("t%d" % i) for i in range(128))),
    ("tool-name-duplicate", lambda b: _ctx(b)["tools"].append(tool_spec("READ_FILE"))),
    ("tool-description-invalid", lambda b: _ctx(b)["tools"][0]["toolSpecification"]
     .update(description=" ")),
    ("tool-description-invalid", lambda b: _ctx(b)["tools"][0]["toolSpecification"]
     .update(description="x" * 10241)),
    ("tool-schema-shape", lambda b: _ctx(b)["tools"][0]["toolSpecification"]["inputSchema"]
     ["json"].update(type="string")),
    ("tool-schema-shape", lambda b: _ctx(b)["tools"][0]["toolSpecification"]["inputSchema"]
     ["json"].update(required=[1])),
    ("tool-schema-shape", lambda b: _ctx(b)["tools"][0]["toolSpecification"]["inputSchema"]
     ["json"].update(additionalProperties="no")),
    ("tool-input-nested-empty-key", lambda b: _hist(b)[3]["assistantResponseMessage"]
     ["toolUses"][0].update(input={"a": [{"": 1}]})),
    ("tool-result-content-empty", lambda b: _ctx(b)["toolResults"][0].update(content=[])),
    ("image-count", lambda b: _cur(b)["images"].extend(
        copy.deepcopy(_cur(b)["images"][0]) for _ in range(19))),
]


def _reverse_keys(value):
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


class ValidationTest(MockTestCase):
    def test_full_valid_body_accepted(self):
        status, headers, data = gen(full_body())
        self.assertEqual(status, 200, headers.get("x-mock-reason"))
        self.assertNotIn("x-mock-reason", headers)
        entry = log_entries("generateAssistantResponse")[-1]
        self.assertEqual(entry["validation"], {"ok": True})

    def test_key_order_independent(self):
        status, headers, _ = gen(_reverse_keys(full_body()))
        self.assertEqual(status, 200, headers.get("x-mock-reason"))

    def test_null_members_are_absent(self):
        b = full_body()
        _hist(b)[1]["assistantResponseMessage"]["toolUses"] = None
        _hist(b)[0]["userInputMessage"]["images"] = []
        _hist(b)[0]["userInputMessage"]["userInputMessageContext"] = {}
        b["profileArn"] = None
        self.assertEqual(gen(b)[0], 200)
        b = body("plain")
        _cs(b)["history"] = None
        _cur(b)["userInputMessageContext"] = None
        self.assertEqual(gen(b)[0], 200)

    def test_each_rule(self):
        for rule, mutate in VALIDATION_CASES:
            b = full_body()
            replaced = mutate(b)
            if isinstance(replaced, list):
                b = replaced
            with self.subTest(rule=rule):
                status, headers, data = gen(b)
                self.assertEqual(status, 400)
                self.assertEqual(json.loads(data), IMPROPER)
                self.assertEqual(headers.get("x-mock-reason"), rule, headers.get("x-mock-detail"))
        entries = log_entries("generateAssistantResponse")
        self.assertEqual([(e["validation"] or {}).get("rule") for e in entries],
                         [rule for rule, _ in VALIDATION_CASES])
        self.assertTrue(all(e["status"] == 400 for e in entries))

    def test_rules_are_documented(self):
        status, out = ctl("GET", "scenarios")
        with open(os.path.join(HERE, "README.md")) as fh:
            readme = fh.read()
        for rule in out["validation_rules"]:
            self.assertIn("`%s`" % rule, readme)
        tested = {rule for rule, _ in VALIDATION_CASES} | {"body-not-json", "image-too-large"}
        self.assertEqual(set(out["validation_rules"]) - tested,
                         {"content-length-exceeds-threshold"})

    def test_image_too_large(self):
        # Over the default max_body_bytes, so only reachable with a larger limit.
        ctl("POST", "settings", {"max_body_bytes": 8000000})
        self.addCleanup(ctl, "POST", "settings", {"max_body_bytes": 2000000})
        for size, want in ((3840 * 1024, 200), (3840 * 1024 + 1, 400)):
            b = full_body()
            _cur(b)["images"][0] = {"format": "png", "source": {
                "bytes": base64.b64encode(b"\0" * size).decode("ascii")}}
            status, headers, data = gen(b)
            self.assertEqual(status, want, data[:200])
            if want == 400:
                self.assertEqual(json.loads(data), IMPROPER)
                self.assertEqual(headers.get("x-mock-reason"), "image-too-large")

    def test_body_size_limit(self):
        big = body("x" * 5000)
        self.assertEqual(gen(big)[0], 200)
        status, out = ctl("POST", "settings", {"max_body_bytes": 1000})
        self.assertEqual(out["max_body_bytes"], 1000)
        status, headers, data = gen(big)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(data), {"message": "Input is too long.",
                                            "reason": "CONTENT_LENGTH_EXCEEDS_THRESHOLD"})
        self.assertEqual(headers["x-mock-reason"], "content-length-exceeds-threshold")
        self.assertEqual(gen(body("small"))[0], 200)

    def test_default_limit_two_million(self):
        self.assertEqual(ctl("GET", "settings")[1]["max_body_bytes"], 2000000)
        status, headers, _ = gen(body("y" * 2000001))
        self.assertEqual((status, headers.get("x-mock-reason")),
                         (400, "content-length-exceeds-threshold"))


# ------------------------------------------------------------------ streams

class StreamTest(MockTestCase):
    def test_default_answer(self):
        prompt = "P" * 150 + "Q" * 100
        status, headers, data = gen(body(prompt))
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/vnd.amazon.eventstream")
        self.assertEqual(headers.get("transfer-encoding"), "chunked")
        evs = events(data)
        self.assertEqual([t for t, _ in evs], ["assistantResponseEvent"] * 3 +
                         ["meteringEvent", "contextUsageEvent"])
        self.assertEqual(texts(data), "Hello from mock Kiro. You said: " + prompt[:200])
        self.assertEqual(evs[3][1], {"unit": "credit", "unitPlural": "credits", "usage": 0.01})
        # "auto": the request's reference count over claude-sonnet-4.5's 200k window.
        self.assertEqual(evs[4][1], {"contextUsagePercentage": auto_pct(body(prompt))})
        for frame in es.decode_stream(data):
            self.assertEqual(frame.headers[":content-type"], "application/json")
            self.assertEqual(frame.headers[":message-type"], "event")

    def test_one_frame_per_chunk(self):
        data = json.dumps(body("chunks")).encode()
        raw = raw_http("POST", "/generateAssistantResponse", data,
                       {"Authorization": "Bearer " + TOKEN})
        head, chunks, done = parse_chunked(raw)
        self.assertTrue(done)
        self.assertEqual(len(chunks), 5)
        for chunk in chunks:
            es.decode_frame(chunk)

    def test_text_kind_options(self):
        script({"kind": "text", "chunks": ["A", "B"], "context_usage": 42.0, "metering": False})
        evs = events(gen(body())[2])
        self.assertEqual(evs, [("assistantResponseEvent", {"content": "A"}),
                               ("assistantResponseEvent", {"content": "B"}),
                               ("contextUsageEvent", {"contextUsagePercentage": 42.0})])
        script({"kind": "text", "chunks": ["C"], "context_usage": None, "metering": 0.5})
        evs = events(gen(body())[2])
        self.assertEqual(evs[-1], ("meteringEvent", {"unit": "credit", "unitPlural": "credits",
                                                     "usage": 0.5}))

    def test_tool_use_pattern(self):
        script({"kind": "tool_use", "chunks": ["Let me read it."], "tools": [
            {"name": "read_file", "id": "tooluse_x",
             "input_fragments": ["{\"path\":", "\"/tmp/a\"}"]}]})
        evs = events(gen(body())[2])
        self.assertEqual(evs[:5], [
            ("assistantResponseEvent", {"content": "Let me read it."}),
            ("toolUseEvent", {"name": "read_file", "toolUseId": "tooluse_x", "input": ""}),
            ("toolUseEvent", {"name": "read_file", "toolUseId": "tooluse_x",
                              "input": "{\"path\":"}),
            ("toolUseEvent", {"name": "read_file", "toolUseId": "tooluse_x",
                              "input": "\"/tmp/a\"}"}),
            ("toolUseEvent", {"name": "read_file", "toolUseId": "tooluse_x", "stop": True})])
        self.assertEqual([t for t, _ in evs[5:]], ["meteringEvent", "contextUsageEvent"])

    def test_tool_use_input_object_and_interleave(self):
        script({"kind": "tool_use", "chunks": [], "interleave": True, "tools": [
            {"name": "a", "id": "id_a", "input": {"x": 1, "y": [1, 2]}},
            {"name": "b", "id": "id_b", "input": {"z": "w"}}]})
        evs = [p for t, p in events(gen(body())[2]) if t == "toolUseEvent"]
        order = [p["toolUseId"] for p in evs]
        self.assertEqual(order[:4], ["id_a", "id_b", "id_a", "id_b"])
        for tid, expected in (("id_a", {"x": 1, "y": [1, 2]}), ("id_b", {"z": "w"})):
            mine = [p for p in evs if p["toolUseId"] == tid]
            self.assertEqual(json.loads("".join(p.get("input", "") for p in mine)), expected)
            self.assertTrue(mine[-1]["stop"])

    def test_thinking(self):
        script({"preset": "thinking"})
        self.assertEqual(texts(gen(body())[2]),
                         "<thinking>\nThe user wants a greeting.</thinking>\n\nHi there!")

    def test_reasoning(self):
        script({"kind": "reasoning", "reasoning": ["r1", "r2"], "signature": "sig",
                "chunks": ["Hi"]})
        evs = events(gen(body())[2])
        self.assertEqual(evs[:3], [("reasoningContentEvent", {"text": "r1"}),
                                   ("reasoningContentEvent", {"text": "r2", "signature": "sig"}),
                                   ("assistantResponseEvent", {"content": "Hi"})])

    def test_exception_frame(self):
        script({"kind": "exception", "exception_type": "ContentLengthExceededException",
                "message": "too long", "chunks": ["part"]})
        frames = es.decode_stream(gen(body())[2])
        self.assertEqual(frames[0].json(), {"content": "part"})
        self.assertEqual(frames[-1].message_type, "exception")
        self.assertEqual(frames[-1].exception_type, "ContentLengthExceededException")
        self.assertEqual(frames[-1].json(), {"message": "too long"})

    def test_error_frame(self):
        script({"kind": "error_frame", "error_code": "InternalFailure", "message": "bad"})
        frames = es.decode_stream(gen(body())[2])
        self.assertEqual(frames[-1].message_type, "error")
        self.assertEqual(frames[-1].error_code, "InternalFailure")
        self.assertEqual(frames[-1].headers[":error-message"], "bad")
        self.assertEqual(frames[-1].payload, b"bad")

    def test_cutoff(self):
        script({"kind": "cutoff", "chunks": ["a", "b"]})
        with self.assertRaises(http.client.IncompleteRead):
            gen(body())
        script({"kind": "cutoff", "chunks": ["a"], "partial_frame": True})
        raw = raw_http("POST", "/generateAssistantResponse", json.dumps(body()).encode(),
                       {"Authorization": "Bearer " + TOKEN})
        head, chunks, done = parse_chunked(raw)
        self.assertFalse(done)
        dec = es.Decoder()
        frames = dec.feed(b"".join(chunks))
        self.assertEqual([f.json() for f in frames], [{"content": "a"}])
        self.assertGreater(dec.pending, 0)
        entries = log_entries("generateAssistantResponse")
        self.assertEqual([e["cutoff"] for e in entries], [True, True])

    def test_http_error_presets(self):
        expected = {"throttle": (429, "ThrottlingException"), "server_error": (500, None),
                    "monthly_quota": (402, "MONTHLY_REQUEST_COUNT"),
                    "suspended": (403, "TEMPORARILY_SUSPENDED"),
                    "bearer_invalid": (403, "The bearer token included in the request is invalid"),
                    "context_full": (400, "CONTENT_LENGTH_EXCEEDS_THRESHOLD"),
                    "input_too_long": (400, "Input is too long."),
                    "high_load": (502, None), "unavailable": (503, None),
                    "request_timeout": (408, None), "monthly_quota_nested": (402, None)}
        for name, (status, marker) in expected.items():
            with self.subTest(preset=name):
                script({"preset": name})
                got, headers, data = gen(body())
                self.assertEqual(got, status)
                self.assertIsInstance(json.loads(data), dict)
                if marker:
                    self.assertIn(marker, data.decode())
        script({"preset": "monthly_quota"})
        self.assertEqual(json.loads(gen(body())[2]),
                         {"message": "You have reached the limit.",
                          "reason": "MONTHLY_REQUEST_COUNT"})
        script({"kind": "http_error", "status": 502, "body": "plain text"})
        status, headers, data = gen(body())
        self.assertEqual((status, data, headers["content-type"]), (502, b"plain text",
                                                                   "text/plain"))

    def test_empty(self):
        script("empty")
        self.assertEqual([t for t, _ in events(gen(body())[2])],
                         ["meteringEvent", "contextUsageEvent"])

    def test_raw_with_garbage(self):
        good = {"headers": {":event-type": "assistantResponseEvent",
                            ":content-type": "application/json", ":message-type": "event"},
                "payload": {"content": "ok"}}
        script({"kind": "raw", "garbage_before": "00112233445566778899",
                "frames": [good, dict(good, corrupt="message"),
                           dict(good, payload={"content": "ok2"},
                                headers=dict(good["headers"], n={"type": 4, "value": 7}))]})
        data = gen(body())[2]
        with self.assertRaises(es.FrameError):
            es.decode_stream(data)
        dec = es.Decoder()
        frames = dec.feed(data)
        self.assertEqual([f.json()["content"] for f in frames], ["ok", "ok2"])
        self.assertEqual(frames[1].headers["n"], 7)
        self.assertGreaterEqual(len(dec.errors), 2)

    def test_slow_is_incremental(self):
        script({"kind": "slow", "count": 4, "delay_ms": 250})
        c = conn()
        try:
            c.request("POST", "/generateAssistantResponse", json.dumps(body()),
                      {"Authorization": "Bearer " + TOKEN})
            start = time.time()
            resp = c.getresponse()
            first = resp.read1(65536)
            first_at = time.time() - start
            rest = resp.read()
            total = time.time() - start
        finally:
            c.close()
        self.assertLess(first_at, 0.2)
        self.assertGreaterEqual(total, 0.7)
        self.assertEqual(texts(first + rest), "chunk 0 chunk 1 chunk 2 chunk 3 ")

    def test_client_abort_is_logged(self):
        script({"kind": "slow", "count": 40, "delay_ms": 100})
        c = conn()
        c.request("POST", "/generateAssistantResponse", json.dumps(body()),
                  {"Authorization": "Bearer " + TOKEN})
        resp = c.getresponse()
        self.assertTrue(resp.read1(65536))
        c.close()
        entry = wait_for(lambda: [e for e in log_entries("generateAssistantResponse")
                                  if e["complete"]])
        self.assertTrue(entry, "request never completed")
        self.assertTrue(entry[0]["client_aborted"])
        self.assertLess(entry[0]["duration_ms"], 3000)
        self.assertEqual(ctl("GET", "stats")[1]["client_aborted"], 1)

    def test_normal_request_not_aborted(self):
        gen(body())
        entry = wait_for(lambda: [e for e in log_entries() if e["complete"]])
        self.assertFalse(entry[0]["client_aborted"])

    def test_first_byte_delay(self):
        script({"kind": "text", "chunks": ["late"], "first_byte_delay_ms": 400})
        start = time.time()
        status, _, data = gen(body())
        self.assertGreaterEqual(time.time() - start, 0.4)
        self.assertEqual(texts(data), "late")

    def test_hang_until_client_leaves(self):
        script({"kind": "hang"})
        with self.assertRaises(socket.timeout):
            request("POST", "/generateAssistantResponse", json.dumps(body()), token=TOKEN,
                    timeout=0.4)
        entry = wait_for(lambda: [e for e in log_entries() if e["complete"]])
        self.assertTrue(entry and entry[0]["client_aborted"])
        self.assertIsNone(entry[0]["status"])
        script({"kind": "hang", "after_headers": True})
        c = conn(timeout=0.4)
        try:
            c.request("POST", "/generateAssistantResponse", json.dumps(body()),
                      {"Authorization": "Bearer " + TOKEN})
            resp = c.getresponse()
            self.assertEqual(resp.status, 200)
            with self.assertRaises(socket.timeout):
                resp.read()
        finally:
            c.close()


# ------------------------------------------------------------------ scripts

class ScriptTest(MockTestCase):
    def test_times_and_fallback(self):
        script({"kind": "text", "chunks": ["scripted"]}, times=2)
        results = [texts(gen(body())[2]) for _ in range(3)]
        self.assertEqual(results[:2], ["scripted", "scripted"])
        self.assertTrue(results[2].startswith("Hello from mock Kiro"))
        self.assertEqual(ctl("GET", "scripts")[1], [])

    def test_forever(self):
        script({"kind": "text", "chunks": ["always"]}, times=-1)
        for _ in range(3):
            self.assertEqual(texts(gen(body())[2]), "always")
        scripts = ctl("GET", "scripts")[1]
        self.assertEqual(scripts[0]["used"], 3)
        ctl("POST", "scripts/clear")
        self.assertNotEqual(texts(gen(body())[2]), "always")

    def test_match_token_and_prompt(self):
        add_account(refreshToken="aor" + "b" * 120, accessToken="other-token")
        script({"kind": "text", "chunks": ["for other"]}, token="other-token")
        script({"kind": "text", "chunks": ["for needle"]}, prompt_contains="needle")
        self.assertNotEqual(texts(gen(body("hay"))[2]), "for other")
        self.assertEqual(texts(gen(body("needle here"))[2]), "for needle")
        self.assertEqual(texts(gen(body("x"), token="other-token")[2]), "for other")
        self.assertTrue(log_entries()[-1]["script"].startswith("script-"))
        self.assertIsNone(log_entries()[0]["script"])

    def test_scripts_apply_to_valid_requests_only(self):
        script("throttle")
        self.assertEqual(gen(dict(body(), conversationState={}))[0], 400)
        self.assertEqual(gen(body())[0], 429)

    def test_bad_scripts_rejected(self):
        for bad in ({"response": {"kind": "nope"}}, {"response": {"preset": "nope"}},
                    {"response": "text", "times": 0}, {},
                    {"response": "text", "match": {"endpoint": "x"}}):
            self.assertEqual(ctl("POST", "script", bad)[0], 400, bad)

    def test_in_band_markers(self):
        status, _, data = gen(body("please #mock:throttle now"))
        self.assertEqual(status, 429)
        self.assertIn("ThrottlingException", data.decode())
        evs = events(gen(body("#mock:tool-use"))[2])
        self.assertIn("toolUseEvent", [t for t, _ in evs])
        self.assertEqual(log_entries()[-1]["scenario"], "tool_use")
        evs = events(gen(body("#mock:context_window_full"))[2])
        self.assertEqual(evs[-1][1], {"contextUsagePercentage": 100.0})
        self.assertTrue(texts(gen(body("#mock:unknown_thing"))[2]).startswith("Hello"))

    def test_script_on_usage_endpoint(self):
        script("server_error", endpoint="getUsageLimits")
        self.assertEqual(jreq("GET", "/getUsageLimits", token=TOKEN)[0], 500)
        self.assertEqual(jreq("GET", "/getUsageLimits", token=TOKEN)[0], 200)


# ------------------------------------------------------------------ log, stats, reset

class LogTest(MockTestCase):
    def test_request_log_contents(self):
        b = body("logged prompt")
        gen(b, headers={"x-amzn-kiro-agent-mode": "vibe"})
        entries = log_entries()
        self.assertEqual(len(entries), 1)
        e = entries[0]
        self.assertEqual(e["path"], "/generateAssistantResponse")
        self.assertEqual(e["method"], "POST")
        self.assertEqual(e["headers"]["authorization"], "Bearer " + TOKEN)
        self.assertEqual(e["headers"]["x-amzn-kiro-agent-mode"], "vibe")
        self.assertEqual(e["body"], b)
        self.assertEqual(e["status"], 200)
        self.assertEqual(e["validation"], {"ok": True})
        self.assertFalse(e["client_aborted"])
        gen(body(), path="/x/generateAssistantResponse")
        self.assertEqual([x["id"] for x in ctl("GET", "requests?since=1")[1]], [2])
        jreq("GET", "/ListAvailableModels", token=TOKEN)
        self.assertEqual(len(log_entries("ListAvailableModels")), 1)

    def test_reset_clears_everything(self):
        script("throttle", times=-1)
        ctl("POST", "settings", {"max_body_bytes": 10})
        gen(body())
        ctl("POST", "reset")
        self.assertEqual(log_entries(), [])
        self.assertEqual(ctl("GET", "scripts")[1], [])
        self.assertEqual(ctl("GET", "accounts")[1], [])
        self.assertEqual(ctl("GET", "settings")[1]["max_body_bytes"], 2000000)
        self.assertEqual(ctl("GET", "stats")[1]["generate"], 0)
        self.assertEqual(gen(body())[0], 403)

    def test_stats_counts(self):
        gen(body())
        gen(body(), token="bad")
        gen({"x": 1})
        stats = ctl("GET", "stats")[1]
        self.assertEqual((stats["generate"], stats["generate_ok"], stats["generate_rejected"],
                          stats["auth_failures"]), (3, 1, 1, 1))

    def test_bad_settings(self):
        self.assertEqual(ctl("POST", "settings", {"nope": 1})[0], 400)
        self.assertEqual(ctl("POST", "settings", {"max_body_bytes": "abc"})[0], 400)


# ------------------------------------------------------------------ usage, models, mcp

class ApiTest(MockTestCase):
    def test_usage_default(self):
        status, out = jreq("GET", "/getUsageLimits?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST"
                                  "&profileArn=arn%3Aaws", token=TOKEN)
        self.assertEqual(status, 200)
        self.assertEqual(out["subscriptionInfo"]["subscriptionTitle"], "KIRO PRO")
        item = out["usageBreakdownList"][0]
        self.assertEqual(item["currentUsageWithPrecision"], 12.5)
        self.assertEqual(item["usageLimitWithPrecision"], 1000)
        self.assertEqual(item["resourceType"], "CREDIT")
        self.assertIsInstance(out["nextDateReset"], float)
        self.assertAlmostEqual(out["nextDateReset"], time.time() + 20 * 86400, delta=60)
        self.assertEqual(out["userInfo"]["email"], "mock@example.com")
        self.assertEqual(log_entries()[-1]["query"],
                         {"origin": "AI_EDITOR", "resourceType": "AGENTIC_REQUEST",
                          "profileArn": "arn:aws"})

    def test_usage_override(self):
        status, _ = ctl("POST", "accounts/usage", {
            "accessToken": TOKEN, "subscriptionTitle": "KIRO FREE",
            "currentUsageWithPrecision": 49.5, "usageLimitWithPrecision": 50,
            "email": "u@example.com",
            "freeTrialInfo": {"freeTrialStatus": "ACTIVE", "usageLimitWithPrecision": 500.0,
                              "currentUsageWithPrecision": 1.0}})
        self.assertEqual(status, 200)
        out = jreq("GET", "/getUsageLimits?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST",
                   token=TOKEN)[1]
        item = out["usageBreakdownList"][0]
        self.assertEqual(out["subscriptionInfo"]["subscriptionTitle"], "KIRO FREE")
        self.assertEqual((item["currentUsageWithPrecision"], item["usageLimitWithPrecision"]),
                         (49.5, 50.0))
        self.assertEqual(item["freeTrialInfo"]["freeTrialStatus"], "ACTIVE")
        self.assertEqual(out["userInfo"]["email"], "u@example.com")
        ctl("POST", "accounts/usage", {"refreshToken": REFRESH,
                                       "error": {"status": 403, "body": BEARER}})
        self.assertEqual(jreq("GET", "/getUsageLimits", token=TOKEN), (403, BEARER))

    def test_models(self):
        status, out = jreq("GET", "/ListAvailableModels?origin=AI_EDITOR", token=TOKEN)
        self.assertEqual(status, 200)
        ids = [m["modelId"] for m in out["models"]]
        self.assertEqual(ids, ["auto", "claude-sonnet-4", "claude-sonnet-4.5",
                               "claude-sonnet-4.6", "claude-haiku-4.5", "claude-opus-4.5",
                               "claude-opus-4.6"])
        for m in out["models"]:
            self.assertEqual(set(m), {"modelId", "modelName", "description", "tokenLimits",
                                      "rateMultiplier", "rateUnit", "supportedInputTypes"})
        self.assertNotIn("nextToken", out)
        page = jreq("GET", "/ListAvailableModels?maxResults=4", token=TOKEN)[1]
        self.assertEqual(len(page["models"]), 4)
        page2 = jreq("GET", "/ListAvailableModels?maxResults=4&nextToken=" + page["nextToken"],
                     token=TOKEN)[1]
        self.assertEqual([m["modelId"] for m in page["models"] + page2["models"]], ids)

    def test_mcp_web_search(self):
        req = {"id": "web_search_tooluse_abc_1_x", "jsonrpc": "2.0", "method": "tools/call",
               "params": {"name": "web_search", "arguments": {"query": "rust async"}}}
        status, out = jreq("POST", "/mcp", req, token=TOKEN)
        self.assertEqual(status, 200)
        self.assertEqual(out["id"], req["id"])
        self.assertFalse(out["result"]["isError"])
        inner = json.loads(out["result"]["content"][0]["text"])
        self.assertEqual(len(inner["results"]), 2)
        for r in inner["results"]:
            self.assertTrue(r["title"] and r["url"].startswith("https://"))
        req["params"]["arguments"] = {}
        status, out = jreq("POST", "/mcp", req, token=TOKEN)
        self.assertEqual(out["error"]["code"], -32602)
        self.assertNotIn("result", out)
        status, out = jreq("POST", "/mcp", dict(req, method="tools/list"), token=TOKEN)
        self.assertEqual(out["error"]["code"], -32601)


# ------------------------------------------------------------------ login flows

class LoginTest(MockTestCase):
    def register(self):
        status, client = jreq("POST", "/client/register", {
            "clientName": "Kiro IDE", "clientType": "public",
            "scopes": ["codewhisperer:completions"]})
        self.assertEqual(status, 200)
        self.assertTrue(client["clientId"] and client["clientSecret"])
        return client

    def authorize(self, client):
        status, dev = jreq("POST", "/device_authorization", {
            "clientId": client["clientId"], "clientSecret": client["clientSecret"],
            "startUrl": "https://view.awsapps.com/start"})
        self.assertEqual(status, 200)
        return dev

    def poll(self, client, dev):
        return jreq("POST", "/token", {"clientId": client["clientId"],
                                       "clientSecret": client["clientSecret"],
                                       "deviceCode": dev["deviceCode"],
                                       "grantType": "urn:ietf:params:oauth:grant-type:device_code"})

    def test_device_flow(self):
        ctl("POST", "settings", {"device_slow_down": 1})
        client = self.register()
        dev = self.authorize(client)
        self.assertEqual((dev["expiresIn"], dev["interval"]), (600, 1))
        self.assertIn(dev["userCode"], dev["verificationUriComplete"])
        self.assertTrue(dev["verificationUri"].startswith("https://"))
        self.assertEqual(self.poll(client, dev), (400, {"error": "slow_down"}))
        self.assertEqual(self.poll(client, dev), (400, {"error": "authorization_pending"}))
        self.assertEqual(ctl("GET", "device")[1][0]["userCode"], dev["userCode"])
        self.assertEqual(ctl("POST", "device/approve", {"userCode": dev["userCode"]})[0], 200)
        status, tokens = self.poll(client, dev)
        self.assertEqual(status, 200)
        self.assertEqual(tokens["tokenType"], "Bearer")
        self.assertEqual(gen(body(), token=tokens["accessToken"])[0], 200)
        self.assertEqual(self.poll(client, dev), (400, {"error": "invalid_grant"}))
        status, out = jreq("POST", "/token", {
            "clientId": client["clientId"], "clientSecret": client["clientSecret"],
            "refreshToken": tokens["refreshToken"], "grantType": "refresh_token"})
        self.assertEqual(status, 200)

    def test_device_flow_errors(self):
        client = self.register()
        dev = self.authorize(client)
        bad = dict(client, clientSecret="wrong")
        self.assertEqual(self.poll(bad, dev)[1]["error"], "invalid_client")
        self.assertEqual(jreq("POST", "/device_authorization", dict(
            bad, startUrl="https://view.awsapps.com/start"))[1]["error"], "invalid_client")
        ctl("POST", "device/deny", {"deviceCode": dev["deviceCode"]})
        self.assertEqual(self.poll(client, dev), (400, {"error": "access_denied"}))
        ctl("POST", "settings", {"device_expires_in": 0})
        dev2 = self.authorize(client)
        self.assertEqual(self.poll(client, dev2), (400, {"error": "expired_token"}))
        self.assertEqual(jreq("POST", "/client/register", {"clientName": "x"})[0], 400)
        self.assertEqual(ctl("POST", "device/approve", {"userCode": "NOPE-NOPE"})[0], 400)

    def login(self, challenge, redirect="http://127.0.0.1:19823/kiro-social-callback"):
        query = urlencode({"idp": "Google", "redirect_uri": redirect,
                           "code_challenge": challenge, "code_challenge_method": "S256",
                           "state": "st4te"})
        return request("GET", "/login?" + query)

    def test_social_login(self):
        verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        redirect = "http://127.0.0.1:19823/kiro-social-callback"
        status, headers, _ = self.login(challenge, redirect)
        self.assertEqual(status, 302)
        loc = urlsplit(headers["location"])
        self.assertEqual("%s://%s%s" % (loc.scheme, loc.netloc, loc.path), redirect)
        params = {k: v[0] for k, v in parse_qs(loc.query).items()}
        self.assertEqual(params["state"], "st4te")
        exchange = {"code": params["code"], "code_verifier": "wrong" + verifier,
                    "redirect_uri": redirect}
        status, out = jreq("POST", "/oauth/token", exchange)
        self.assertEqual((status, out["error"]), (400, "invalid_grant"))
        status, headers, _ = self.login(challenge, redirect)
        code2 = parse_qs(urlsplit(headers["location"]).query)["code"][0]
        status, out = jreq("POST", "/oauth/token", dict(exchange, code=code2,
                                                        code_verifier=verifier))
        self.assertEqual(status, 200)
        self.assertEqual(set(out), {"accessToken", "refreshToken", "profileArn", "expiresIn"})
        self.assertEqual(gen(body(), token=out["accessToken"])[0], 200)
        self.assertEqual(jreq("POST", "/refreshToken", {"refreshToken": out["refreshToken"]})[0],
                         200)
        status, again = jreq("POST", "/oauth/token", dict(exchange, code=code2,
                                                          code_verifier=verifier))
        self.assertEqual(status, 400)

    def test_login_errors(self):
        status, _, data = request("GET", "/login?idp=Facebook&redirect_uri=x&code_challenge=c"
                                         "&code_challenge_method=S256&state=s")
        self.assertEqual(status, 400)
        self.assertIn("error", json.loads(data))
        status, _, _ = request("GET", "/login?idp=Github&redirect_uri=x&code_challenge=c"
                                      "&code_challenge_method=plain&state=s")
        self.assertEqual(status, 400)
        ctl("POST", "settings", {"login_error": "access_denied"})
        status, headers, _ = self.login("c")
        self.assertEqual(status, 302)
        params = parse_qs(urlsplit(headers["location"]).query)
        self.assertEqual(params["error"], ["access_denied"])
        self.assertNotIn("code", params)

    def test_oidc_token_under_oauth_prefix(self):
        rt = "aor" + "p" * 120
        add_account(refreshToken=rt, accessToken="p-at", clientId="c9", clientSecret="s9")
        status, out = jreq("POST", "/oauth/token", {"clientId": "c9", "clientSecret": "s9",
                                                    "refreshToken": rt,
                                                    "grantType": "refresh_token"})
        self.assertEqual(status, 200)
        self.assertEqual(out["tokenType"], "Bearer")


# ------------------------------------------------------------------ 2026 stream events

class NewEventsTest(MockTestCase):
    def test_message_metadata_token_usage(self):
        script({"kind": "text", "chunks": ["hi"], "token_usage": True})
        got = events(gen(body())[2])
        self.assertEqual([t for t, _ in got], ["assistantResponseEvent", "meteringEvent",
                                               "contextUsageEvent", "messageMetadataEvent"])
        usage = got[-1][1]["tokenUsage"]
        self.assertEqual(set(usage), {"outputTokens", "totalTokens", "uncachedInputTokens",
                                      "cacheReadInputTokens", "cacheWriteInputTokens",
                                      "contextUsagePercentage"})
        self.assertEqual(usage["totalTokens"], usage["outputTokens"] + usage[
            "uncachedInputTokens"] + usage["cacheReadInputTokens"] + usage["cacheWriteInputTokens"])
        self.assertEqual(usage["contextUsagePercentage"], auto_pct(body()))

    def test_token_usage_overrides(self):
        script({"kind": "tool_use", "tools": [{"name": "t", "input": {}}], "context_usage": 7.0,
                "token_usage": {"outputTokens": 5, "cacheWriteInputTokens": 100},
                "message_metadata": {"conversationId": "c1"}})
        payload = events(gen(body())[2])[-1][1]
        self.assertEqual(payload["conversationId"], "c1")
        self.assertEqual(payload["tokenUsage"]["outputTokens"], 5)
        self.assertEqual(payload["tokenUsage"]["contextUsagePercentage"], 7.0)
        self.assertEqual(payload["tokenUsage"]["totalTokens"], 5 + 60 + 40 + 100)
        script({"kind": "text", "token_usage": {"totalTokens": 1}})
        self.assertEqual(events(gen(body())[2])[-1][1]["tokenUsage"]["totalTokens"], 1)
        self.assertNotIn("messageMetadataEvent", [t for t, _ in events(gen(body())[2])])

    def test_metering_2026_form_and_presets(self):
        script({"kind": "reasoning", "metering": {"unit": "credit", "usage": 0.42}})
        got = dict(events(gen(body())[2]))
        self.assertEqual(got["meteringEvent"], {"unit": "credit", "usage": 0.42})
        self.assertEqual(got["reasoningContentEvent"]["text"], " I will say hi.")
        got = events(gen(body("#mock:cache-hit"))[2])
        self.assertEqual(got[-1][1]["tokenUsage"]["cacheReadInputTokens"], 90000)
        script("token_usage")
        self.assertEqual(events(gen(body())[2])[-1][0], "messageMetadataEvent")


class CachePointTest(MockTestCase):
    def test_history_cache_points_accepted(self):
        self.assertEqual(gen(with_cache_points())[0], 200)

    def test_cache_points_do_not_hide_structure(self):
        b = with_cache_points()
        _cs(b)["history"] = [{"cachePoint": {"type": "default"}}]
        self.assertEqual(gen(b)[1].get("x-mock-reason"), "history-empty")
        b = with_cache_points()
        _hist(b).insert(0, {"cachePoint": "default"})
        self.assertEqual(gen(b)[1].get("x-mock-reason"), "history-entry-shape")
        b = with_cache_points()
        _hist(b).insert(2, {"assistantResponseMessage": {"content": "x"}})
        self.assertEqual(gen(b)[1].get("x-mock-reason"), "history-not-alternating")
        b = with_cache_points()
        _ctx(b)["tools"].append({"cachePoint": {"type": "default"}})
        self.assertEqual(gen(b)[1].get("x-mock-reason"), "tool-cache-point")


def with_cache_points():
    """full_body() with prompt-caching markers between history entries (section 12)."""
    b = full_body()
    hist = _hist(b)
    for index in (6, 4, 2, 1):
        hist.insert(index, {"cachePoint": {"type": "default"}})
    return b


# ------------------------------------------------------------------ 2026: hosts, profiles, keys

PROFILE = "arn:aws:codewhisperer:us-east-1:111112222233:profile/MOCK"
IDC_TOKEN = "aoa-idc-access-token"
IDC_REFRESH = "aor" + "i" * 130
API_KEY = "ksk_" + "k" * 40
TARGET = "KiroRuntimeService.GenerateAssistantResponse"
REQUEST_BODY_INVALID = {"message": "Improperly formed request.", "reason": "REQUEST_BODY_INVALID"}
PROFILE_REQUIRED = {"message": "profileArn is required", "reason": None}


def add_idc():
    return add_account(refreshToken=IDC_REFRESH, accessToken=IDC_TOKEN, authMethod="idc",
                       clientId="idc-client", clientSecret="idc-secret")


def settings(**values):
    status, out = ctl("POST", "settings", values)
    assert status == 200, out
    return out


def with_profile(b):
    b = copy.deepcopy(b)
    b["profileArn"] = PROFILE
    return b


def gen_path(host, b, token=TOKEN, headers=None):
    """Path style: POST /<host>/generateAssistantResponse."""
    return gen(b, token, "/%s/generateAssistantResponse" % host, headers)


def gen_target(b, token=TOKEN, headers=None, target=TARGET, path="/runtime"):
    """Target style: POST /runtime/ with x-amz-target."""
    hdrs = {"x-amz-target": target} if target else {}
    hdrs.update(headers or {})
    return gen(b, token, path, hdrs)


def profile_header(arn=PROFILE):
    return {"x-amzn-codewhisperer-profile-arn": arn}


def reason(result):
    return result[1].get("x-mock-reason")


class HostTest(MockTestCase):
    def test_runtime_path_style(self):
        status, headers, data = gen_path("runtime", with_profile(body("on runtime")))
        self.assertEqual(status, 200, headers.get("x-mock-reason"))
        self.assertIn("You said: on runtime", texts(data))
        e = log_entries()[-1]
        self.assertEqual((e["host"], e["style"], e["op"]),
                         ("runtime", "path", "generateAssistantResponse"))

    def test_runtime_target_style(self):
        for path in ("/runtime", "/runtime/"):
            status, headers, data = gen_target(body("by target"), headers=profile_header(),
                                               path=path)
            self.assertEqual(status, 200, headers.get("x-mock-reason"))
            self.assertIn("You said: by target", texts(data))
        e = log_entries()[-1]
        self.assertEqual((e["host"], e["style"], e["target"], e["op"]),
                         ("runtime", "target", TARGET, "generateAssistantResponse"))

    def test_unknown_or_missing_target(self):
        for target in ("KiroRuntimeService.Nope", None):
            status, headers, data = gen_target(body(), headers=profile_header(), target=target)
            self.assertEqual(status, 400)
            self.assertEqual(headers["x-mock-reason"], "unknown-target")
            self.assertEqual(json.loads(data)["__type"], "UnknownOperationException")
        # The legacy host has no target style.
        self.assertEqual(reason(gen_target(body(), path="/legacy/")), "unknown-target")

    def test_runtime_serves_mcp_models_usage(self):
        req = {"id": "1", "jsonrpc": "2.0", "method": "tools/call",
               "params": {"name": "web_search", "arguments": {"query": "q"}}}
        status, _, data = request("POST", "/runtime/mcp", req, {"x-amzn-kiro-profile-arn":
                                                               PROFILE}, TOKEN)
        self.assertEqual(status, 200)
        self.assertIn("result", json.loads(data))
        self.assertEqual(jreq("GET", "/runtime/ListAvailableModels?origin=AI_EDITOR",
                              token=TOKEN)[0], 200)
        self.assertEqual(jreq("GET", "/runtime/getUsageLimits", token=TOKEN)[0], 200)

    def test_path_style_invalid_control(self):
        settings(runtime_path_style_invalid=True)
        status, headers, data = gen_path("runtime", with_profile(body()))
        self.assertEqual((status, json.loads(data)), (400, REQUEST_BODY_INVALID))
        self.assertEqual(headers["x-mock-reason"], "runtime-path-style-invalid")
        # Only the path style of generate is affected.
        self.assertEqual(gen_target(body(), headers=profile_header())[0], 200)
        self.assertEqual(gen_path("legacy", body())[0], 200)
        self.assertEqual(gen(body())[0], 200)
        settings(runtime_path_style_invalid=False)
        self.assertEqual(gen_path("runtime", with_profile(body()))[0], 200)

    def test_target_style_refuses_top_level_fields(self):
        for field in ("agentMode", "agentContinuationId", "agentTaskType", "systemPrompt"):
            b = body()
            b[field] = "vibe" if field != "agentContinuationId" else str(uuid.uuid4())
            with self.subTest(field=field):
                status, headers, data = gen_target(b, headers=profile_header())
                self.assertEqual((status, json.loads(data)), (400, IMPROPER))
                self.assertEqual(headers["x-mock-reason"], "target-field-refused")
                self.assertIn(field, headers["x-mock-detail"])
                # The same body is fine in path style.
                self.assertEqual(gen_path("runtime", with_profile(b))[0], 200)

    def test_target_style_state_fields_control(self):
        b = body()
        _cs(b).update(agentContinuationId=str(uuid.uuid4()), agentTaskType="vibe")
        self.assertEqual(gen_target(b, headers=profile_header())[0], 200)
        settings(target_refuse_state_fields=True)
        result = gen_target(b, headers=profile_header())
        self.assertEqual(result[0], 400)
        self.assertEqual(reason(result), "target-field-refused")
        self.assertIn("conversationState.agentTaskType", result[1]["x-mock-detail"])

    def test_target_style_required_headers_control(self):
        self.assertEqual(gen_target(body(), headers=profile_header())[0], 200)
        settings(target_require_headers=True)
        full = dict(profile_header(), **{"x-amzn-kiro-agent-mode": "spec",
                                         "x-amz-sso-bearer": "true"})
        for drop, value in (("x-amzn-kiro-agent-mode", None), ("x-amzn-kiro-agent-mode", "vibe"),
                            ("x-amz-sso-bearer", None)):
            hdrs = dict(full)
            if value is None:
                del hdrs[drop]
            else:
                hdrs[drop] = value
            with self.subTest(drop=drop, value=value):
                result = gen_target(body(), headers=hdrs)
                self.assertEqual((result[0], json.loads(result[2])), (400, IMPROPER))
                self.assertEqual(reason(result), "target-header-missing")
                self.assertIn(drop, result[1]["x-mock-detail"])
        self.assertEqual(gen_target(body(), headers=full)[0], 200)
        # The path style is not affected.
        self.assertEqual(gen_path("runtime", with_profile(body()))[0], 200)

    def test_legacy_host(self):
        add_idc()
        self.assertEqual(gen_path("legacy", body())[0], 200)              # social, no profile
        self.assertEqual(gen_path("legacy", body(), IDC_TOKEN)[0], 200)   # IdC, no profile
        self.assertEqual(log_entries()[-1]["host"], "legacy")

    def test_legacy_retired(self):
        settings(legacy_retired=True)
        for result in (gen_path("legacy", body()),
                       request("GET", "/legacy/ListAvailableModels", token=TOKEN),
                       request("POST", "/legacy/refreshToken", {"refreshToken": REFRESH})):
            self.assertEqual(result[0], 404)
            self.assertEqual(reason(result), "legacy-retired")
        self.assertEqual(gen_path("runtime", with_profile(body()))[0], 200)
        self.assertEqual(gen(body())[0], 200)

    def test_documented_unreachable_legacy_recipes(self):
        # README: a closed port refuses connections, and .invalid never resolves (RFC 6761).
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        with self.assertRaises(socket.gaierror):
            socket.getaddrinfo("legacy.invalid", 443)

    def test_unprefixed_keeps_old_rules(self):
        add_idc()
        self.assertEqual(gen(body())[0], 200)                         # social without profile
        self.assertEqual(gen(with_profile(body()), IDC_TOKEN)[0], 200)  # IdC with profile
        e = log_entries()[-1]
        self.assertEqual((e["host"], e["style"]), (None, "path"))
        ids = [m["modelId"] for m in jreq("GET", "/ListAvailableModels", token=TOKEN)[1]["models"]]
        self.assertNotIn("claude-sonnet-5", ids)

    def test_idc_refused_on_runtime_unless_allowed(self):
        add_idc()
        for result in (gen_path("runtime", body(), IDC_TOKEN),
                       gen_target(body(), IDC_TOKEN),
                       request("GET", "/runtime/ListAvailableModels", token=IDC_TOKEN),
                       request("POST", "/runtime/mcp", {"jsonrpc": "2.0"}, token=IDC_TOKEN)):
            self.assertEqual((result[0], json.loads(result[2])), (403, BEARER))
            self.assertEqual(reason(result), "runtime-idc-refused")
        settings(runtime_allow_idc=True)
        self.assertEqual(gen_path("runtime", body(), IDC_TOKEN)[0], 200)
        self.assertEqual(gen_target(body(), IDC_TOKEN)[0], 200)

    def test_runtime_presets_and_cache_points(self):
        got = dict(events(gen_path("runtime", with_profile(body("#mock:runtime_2026")))[2]))
        self.assertEqual(got["meteringEvent"], {"unit": "credit", "usage": 0.42})
        self.assertIn("signature", got["reasoningContentEvent"])
        self.assertIn("tokenUsage", got["messageMetadataEvent"])
        script("request_body_invalid")
        self.assertEqual(json.loads(gen_path("runtime", with_profile(body()))[2]),
                         REQUEST_BODY_INVALID)
        script("profile_required")
        self.assertEqual(json.loads(gen(body())[2]), PROFILE_REQUIRED)
        self.assertEqual(gen_path("runtime", with_cache_points())[0], 200)
        self.assertEqual(gen_target(with_cache_points(), headers=profile_header())[0], 200)

    def test_host_rules_are_documented(self):
        with open(os.path.join(HERE, "README.md")) as fh:
            readme = fh.read()
        rules = ctl("GET", "scenarios")[1]["host_rules"]
        self.assertEqual(len(rules), 9)
        for rule in rules:
            self.assertIn("`%s`" % rule, readme)
        for key in ("runtime_path_style_invalid", "runtime_allow_idc", "legacy_retired",
                    "target_refuse_state_fields", "target_require_headers"):
            self.assertIn("`%s`" % key, readme)
            self.assertIs(ctl("GET", "settings")[1][key], False)
        self.assertEqual(ctl("POST", "settings", {"legacy_retired": 1})[0], 400)


class ProfileRuleTest(MockTestCase):
    def test_social_needs_profile_on_runtime_path_style(self):
        status, headers, data = gen_path("runtime", body())
        self.assertEqual((status, json.loads(data)), (400, PROFILE_REQUIRED))
        self.assertEqual(headers["x-mock-reason"], "profile-arn-required")
        # Path style reads the body: the header alone does not count.
        self.assertEqual(reason(gen_path("runtime", body(), headers=profile_header())),
                         "profile-arn-required")
        self.assertEqual(gen_path("runtime", with_profile(body()))[0], 200)

    def test_social_needs_profile_header_in_target_style(self):
        self.assertEqual(reason(gen_target(body())), "profile-arn-required")
        self.assertEqual(reason(gen_target(with_profile(body()))), "profile-arn-required")
        self.assertEqual(gen_target(body(), headers=profile_header())[0], 200)

    def test_idc_with_any_profile_is_bearer_invalid(self):
        add_idc()
        settings(runtime_allow_idc=True)
        cases = [("runtime body", gen_path("runtime", with_profile(body()), IDC_TOKEN)),
                 ("runtime header", gen_target(body(), IDC_TOKEN, profile_header())),
                 ("legacy body", gen_path("legacy", with_profile(body()), IDC_TOKEN)),
                 ("legacy header", gen_path("legacy", body(), IDC_TOKEN, profile_header()))]
        for name, result in cases:
            with self.subTest(name):
                self.assertEqual((result[0], json.loads(result[2])), (403, BEARER))
                self.assertEqual(reason(result), "idc-profile-arn")
        self.assertEqual(gen_path("runtime", body(), IDC_TOKEN)[0], 200)

    def test_mcp_rules(self):
        add_idc()
        req = {"id": "m", "jsonrpc": "2.0", "method": "tools/call",
               "params": {"name": "web_search", "arguments": {"query": "q"}}}
        no_profile = request("POST", "/runtime/mcp", req, token=TOKEN)
        self.assertEqual((no_profile[0], json.loads(no_profile[2])), (400, PROFILE_REQUIRED))
        self.assertEqual(reason(no_profile), "profile-arn-required")
        for header in ("x-amzn-kiro-profile-arn", "x-amzn-codewhisperer-profile-arn"):
            self.assertEqual(request("POST", "/runtime/mcp", req, {header: PROFILE}, TOKEN)[0],
                             200)
        self.assertEqual(request("POST", "/legacy/mcp", req, token=TOKEN)[0], 200)
        idc = request("POST", "/legacy/mcp", req, {"x-amzn-kiro-profile-arn": PROFILE},
                      IDC_TOKEN)
        self.assertEqual((idc[0], reason(idc)), (403, "idc-profile-arn"))
        self.assertEqual(request("POST", "/legacy/mcp", req, token=IDC_TOKEN)[0], 200)

    def test_api_key_account_has_no_profile_rule(self):
        add_account(refreshToken=None, accessToken=None, kiroApiKey=API_KEY)
        key = {"tokentype": "API_KEY"}
        self.assertEqual(gen_path("runtime", body(), API_KEY, key)[0], 200)
        self.assertEqual(gen_path("runtime", with_profile(body()), API_KEY, key)[0], 200)


class ProfilesApiTest(MockTestCase):
    def test_social_profiles(self):
        for path in ("/ListAvailableProfiles", "/runtime/ListAvailableProfiles",
                     "/legacy/ListAvailableProfiles"):
            status, out = jreq("POST", path, {}, token=TOKEN)
            self.assertEqual(status, 200, path)
            self.assertEqual(out["profiles"], [{"arn": PROFILE,
                                                "profileName": "KiroProfile-us-east-1"}])
        self.assertEqual(ctl("GET", "stats")[1]["profiles"], 3)

    def test_profile_list_control_and_paging(self):
        mine = [{"arn": PROFILE + "1", "profileName": "one"},
                {"arn": "arn:aws:codewhisperer:eu-central-1:1:profile/TWO", "profileName": "two"}]
        self.assertEqual(ctl("POST", "accounts/update", {"accessToken": TOKEN,
                                                         "profiles": mine})[0], 200)
        page = jreq("POST", "/runtime/ListAvailableProfiles", {"maxResults": 1}, token=TOKEN)[1]
        self.assertEqual(page["profiles"], mine[:1])
        page2 = jreq("POST", "/runtime/ListAvailableProfiles",
                     {"maxResults": 1, "nextToken": page["nextToken"]}, token=TOKEN)[1]
        self.assertEqual(page2, {"profiles": mine[1:], "nextToken": None})

    def test_builder_id_not_supported(self):
        add_idc()
        for path in ("/runtime/ListAvailableProfiles", "/legacy/ListAvailableProfiles"):
            status, out = jreq("POST", path, {}, token=IDC_TOKEN)
            self.assertEqual((status, out), (403, {"message": "AWS Builder ID is not supported",
                                                   "reason": None}))

    def test_auth_and_method(self):
        self.assertEqual(jreq("POST", "/runtime/ListAvailableProfiles", {}, token="bad"),
                         (403, BEARER))
        self.assertEqual(jreq("GET", "/runtime/ListAvailableProfiles", token=TOKEN)[0], 405)
        script("throttle", endpoint="ListAvailableProfiles")
        self.assertEqual(jreq("POST", "/runtime/ListAvailableProfiles", {}, token=TOKEN)[0], 429)


class ModelsApiTest(MockTestCase):
    def test_runtime_catalogue(self):
        out = jreq("GET", "/runtime/ListAvailableModels?origin=AI_EDITOR", token=TOKEN)[1]
        by_id = {m["modelId"]: m for m in out["models"]}
        for model in ("claude-opus-4.7", "claude-opus-4.8", "claude-sonnet-5", "claude-opus-5",
                      "deepseek-3.2", "glm-5", "minimax-m2.1", "minimax-m2.5",
                      "qwen3-coder-next"):
            self.assertIn(model, by_id)
        for m in out["models"]:
            limits = m["tokenLimits"]
            self.assertTrue(isinstance(limits["maxInputTokens"], int)
                            and isinstance(limits["maxOutputTokens"], int))
            self.assertIsInstance(m["promptCaching"]["supportsPromptCaching"], bool)
        self.assertEqual(by_id["claude-sonnet-5"]["tokenLimits"],
                         {"maxInputTokens": 1000000, "maxOutputTokens": 128000})
        self.assertFalse(by_id["deepseek-3.2"]["promptCaching"]["supportsPromptCaching"])

    def test_per_account_list_and_paging(self):
        models = [{"modelId": "claude-sonnet-5", "maxInputTokens": 1000000,
                   "maxOutputTokens": 128000, "promptCaching": True},
                  {"modelId": "glm-5", "maxInputTokens": 200000, "maxOutputTokens": 32000,
                   "promptCaching": False},
                  {"modelId": "custom", "tokenLimits": {"maxInputTokens": 5,
                                                        "maxOutputTokens": 6}}]
        status, acct = ctl("POST", "accounts/models", {"accessToken": TOKEN, "models": models})
        self.assertEqual(status, 200, acct)
        for prefix in ("", "/runtime", "/legacy"):
            out = jreq("GET", prefix + "/ListAvailableModels", token=TOKEN)[1]
            self.assertEqual([m["modelId"] for m in out["models"]],
                             ["claude-sonnet-5", "glm-5", "custom"])
            self.assertEqual(out["models"][1]["tokenLimits"],
                             {"maxInputTokens": 200000, "maxOutputTokens": 32000})
            self.assertFalse(out["models"][1]["promptCaching"]["supportsPromptCaching"])
            self.assertEqual(out["models"][2], models[2])
        page = jreq("GET", "/runtime/ListAvailableModels?maxResults=2", token=TOKEN)[1]
        self.assertEqual(len(page["models"]), 2)
        rest = jreq("GET", "/runtime/ListAvailableModels?maxResults=2&nextToken="
                    + page["nextToken"], token=TOKEN)[1]
        self.assertEqual([m["modelId"] for m in rest["models"]], ["custom"])
        self.assertNotIn("nextToken", rest)
        # Another account keeps the catalogue; null restores it.
        add_idc()
        self.assertGreater(len(jreq("GET", "/legacy/ListAvailableModels",
                                    token=IDC_TOKEN)[1]["models"]), 3)
        ctl("POST", "accounts/models", {"accessToken": TOKEN, "models": None})
        self.assertGreater(len(jreq("GET", "/runtime/ListAvailableModels",
                                    token=TOKEN)[1]["models"]), 3)

    def test_bad_model_lists(self):
        for models in ("x", [{"maxInputTokens": 1}], [3]):
            self.assertEqual(ctl("POST", "accounts/models", {"accessToken": TOKEN,
                                                             "models": models})[0], 400)
        self.assertEqual(ctl("POST", "accounts/models", {"accessToken": TOKEN})[0], 400)


class ApiKeyTest(MockTestCase):
    def setUp(self):
        MockTestCase.setUp(self)
        self.acct = add_account(refreshToken=None, accessToken=None, kiroApiKey=API_KEY)

    def test_registered_as_api_key(self):
        self.assertEqual(self.acct["authMethod"], "api_key")
        self.assertEqual(self.acct["kiroApiKey"], API_KEY)
        self.assertEqual(ctl("POST", "accounts", {"kiroApiKey": "sk-not-kiro"})[0], 400)

    def test_needs_tokentype_header(self):
        key = {"tokentype": "API_KEY"}
        self.assertEqual(gen(body(), API_KEY, headers=key)[0], 200)
        self.assertEqual(gen_path("runtime", body(), API_KEY, key)[0], 200)
        self.assertEqual(request("GET", "/getUsageLimits", None, key, API_KEY)[0], 200)
        for path in ("/generateAssistantResponse", "/runtime/generateAssistantResponse"):
            result = gen(body(), API_KEY, path)
            self.assertEqual((result[0], json.loads(result[2])), (403, BEARER))
        e = log_entries()[-1]
        self.assertEqual(e["validation"]["rule"], "token-type-mismatch")
        self.assertEqual(e["auth_kind"], "bearer")

    def test_oauth_token_with_tokentype_refused_on_hosts(self):
        key = {"tokentype": "API_KEY"}
        for result in (gen_path("runtime", with_profile(body()), TOKEN, key),
                       gen_path("legacy", body(), TOKEN, key)):
            self.assertEqual(result[0], 403)
            self.assertEqual(reason(result), None)  # bearer answers carry no X-Mock-Reason
            self.assertEqual(log_entries()[-1]["validation"]["rule"], "token-type-mismatch")
        # Without a prefix an OAuth token may carry the header, as before (test-upstream.c).
        self.assertEqual(gen(body(), TOKEN, headers=key)[0], 200)

    def test_refresh_endpoints_refuse_it(self):
        self.assertEqual(jreq("POST", "/refreshToken", {"refreshToken": API_KEY}),
                         (400, INVALID_GRANT))
        status, out = jreq("POST", "/token", {"clientId": "x", "clientSecret": "y",
                                              "refreshToken": API_KEY,
                                              "grantType": "refresh_token"})
        self.assertEqual(status, 400)
        self.assertIn(out["error"], ("invalid_grant", "invalid_client"))
        self.assertEqual(ctl("GET", "stats")[1]["refreshes_ok"], 0)
        # The key still works afterwards: nothing rotated it.
        self.assertEqual(gen(body(), API_KEY, headers={"tokentype": "API_KEY"})[0], 200)


class HostRecordingTest(MockTestCase):
    def test_traits_recorded(self):
        add_account(refreshToken=None, accessToken=None, kiroApiKey=API_KEY)
        gen_target(body(), headers=dict(profile_header(), **{"x-amz-sso-bearer": "x"}))
        gen_path("runtime", with_profile(body()), API_KEY, {"tokentype": "API_KEY"})
        request("POST", "/legacy/mcp", {"jsonrpc": "2.0"}, {"x-amzn-kiro-profile-arn": "m"},
                TOKEN)
        request("GET", "/ListAvailableModels?profileArn=q", token=TOKEN)
        request("POST", "/runtime/generateAssistantResponse", {})
        t, p, m, q, none = log_entries()
        self.assertEqual((t["host"], t["style"], t["target"], t["auth_kind"],
                          t["account_kind"], t["sso_bearer"]),
                         ("runtime", "target", TARGET, "bearer", "social", True))
        self.assertEqual(t["profile"], {"body": None, "header": PROFILE, "mcp_header": None,
                                        "query": None})
        self.assertEqual((p["style"], p["auth_kind"], p["account_kind"], p["profile"]["body"],
                          p["sso_bearer"]), ("path", "api_key", "api_key", PROFILE, False))
        self.assertEqual((m["host"], m["op"], m["profile"]["mcp_header"]), ("legacy", "mcp", "m"))
        self.assertEqual((q["host"], q["profile"]["query"]), (None, "q"))
        self.assertEqual((none["auth_kind"], none["account_kind"]), (None, None))


class ToolCutTest(MockTestCase):
    """kind tool_cut: a tool call cut mid-input, and the continuation of it."""

    FULL = mock.compact(mock.TOOL_CUT_WRITE)

    @staticmethod
    def tool_input(evs):
        return "".join(p.get("input", "") for t, p in evs if t == "toolUseEvent")

    @staticmethod
    def continuation(marker, partial):
        b = body("Continue exactly from where it stopped.")
        b["conversationState"]["history"] = [
            {"userInputMessage": {"content": "write it " + marker,
                                  "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR"}},
            {"assistantResponseMessage": {"content": partial}}]
        return b

    def test_cut_points(self):
        for name, before in (("tool_cut_string", "h"), ("tool_cut_escape", "\\"),
                             ("tool_cut_keys", ",")):
            evs = events(gen(body("write it #mock:" + name))[2])
            got = self.tool_input(evs)
            self.assertTrue(self.FULL.startswith(got), name)
            self.assertLess(len(got), len(self.FULL))
            self.assertEqual(got[-1], before, name)
            self.assertFalse(any(p.get("stop") for t, p in evs if t == "toolUseEvent"))
            self.assertIn(("messageMetadataEvent", {"stopReason": "max_tokens"}), evs)

    def test_ends(self):
        self.assertIn("ContentLengthExceededException",
                      [f.headers.get(":exception-type") for f in es.decode_stream(
                          gen(body("#mock:tool_cut_exceeded"))[2])])
        evs = events(gen(body("#mock:tool_cut_eof"))[2])
        self.assertNotIn("messageMetadataEvent", [t for t, _ in evs])
        with self.assertRaises(http.client.IncompleteRead):
            gen(body("#mock:tool_cut_drop"))

    def test_continuation_answers_the_rest(self):
        first = self.tool_input(events(gen(body("#mock:tool_cut"))[2]))
        evs = events(gen(self.continuation("#mock:tool_cut", first))[2])
        self.assertEqual(first + texts(gen(self.continuation("#mock:tool_cut", first))[2]),
                         self.FULL)
        self.assertNotIn("toolUseEvent", [t for t, _ in evs])
        self.assertEqual(log_entries("generateAssistantResponse")[-1]["tool_cut"],
                         "continuation")

    def test_continuation_in_pieces_fenced_or_refused(self):
        got = self.tool_input(events(gen(body("#mock:tool_cut_twice"))[2]))
        rounds = 0
        while len(got) < len(self.FULL):
            evs = events(gen(self.continuation("#mock:tool_cut_twice", got))[2])
            piece = texts(gen(self.continuation("#mock:tool_cut_twice", got))[2])
            self.assertLessEqual(len(piece), 2000)
            got += piece
            rounds += 1
        self.assertEqual(got, self.FULL)
        self.assertEqual(rounds, 2)
        self.assertIn(("messageMetadataEvent", {"stopReason": "max_tokens"}),
                      events(gen(self.continuation("#mock:tool_cut_twice", self.FULL[:100]))[2]))
        del evs
        text = texts(gen(self.continuation("#mock:tool_cut_fenced", self.FULL[:100]))[2])
        self.assertEqual(text, "```json\n" + self.FULL[100:] + "\n```")
        text = texts(gen(self.continuation("#mock:tool_cut_refused", self.FULL[:100]))[2])
        self.assertEqual(text, "I cannot continue that.")
        with self.assertRaises(http.client.IncompleteRead):
            gen(self.continuation("#mock:tool_cut_dropping", self.FULL[:100]))
        evs = events(gen(self.continuation("#mock:tool_cut_recall", self.FULL[:100]))[2])
        self.assertEqual(self.tool_input(evs), self.FULL)
        self.assertTrue([p for t, p in evs if t == "toolUseEvent"][-1]["stop"])
        # Not a continuation of this input: the cut answer again.
        evs = events(gen(self.continuation("#mock:tool_cut", "{\"other\":"))[2])
        self.assertIn("toolUseEvent", [t for t, _ in evs])


# ------------------------------------------------------------------ web search (/mcp scenarios, model)

def mcp_call(query, path="/mcp", headers=None, token=TOKEN):
    req = {"id": "web_search_tooluse_x", "jsonrpc": "2.0", "method": "tools/call",
           "params": {"name": "web_search", "arguments": {"query": query}}}
    status, _, data = request("POST", path, req, headers, token)
    return status, data


def search_tool(name="web_search"):
    return {"toolSpecification": {"name": name, "description": "Search the web",
                                  "inputSchema": {"json": {"type": "object", "properties": {
                                      "query": {"type": "string"}}}}}}


class WebSearchTest(MockTestCase):
    def inner(self, data):
        out = json.loads(data)
        return out, json.loads(out["result"]["content"][0]["text"])

    def test_mcp_markers(self):
        status, data = mcp_call("rust #mock:mcp_empty")
        self.assertEqual((status, self.inner(data)[1]["results"]), (200, []))
        out = json.loads(mcp_call("rust #mock:mcp_rpc_error")[1])
        self.assertEqual((out["error"]["code"], "result" in out), (-32000, False))
        out = json.loads(mcp_call("rust #mock:mcp_is_error")[1])
        self.assertEqual((out["result"]["isError"], out["result"]["content"][0]["text"]),
                         (True, "search quota exceeded"))
        out = json.loads(mcp_call("rust #mock:mcp_garbage")[1])
        self.assertRaises(ValueError, json.loads, out["result"]["content"][0]["text"])
        status, data = mcp_call("rust #mock:mcp_not_json")
        self.assertEqual((status, data), (200, b"<html>gateway timeout</html>"))
        status, data = mcp_call("rust #mock:mcp_server_error")
        self.assertEqual(status, 500)
        self.assertEqual(len(self.inner(mcp_call("rust #mock:mcp_many")[1])[1]["results"]), 60)
        # Without a marker: the two default results.
        self.assertEqual(len(self.inner(mcp_call("rust")[1])[1]["results"]), 2)

    def test_mcp_script_matches_query_and_counts(self):
        script({"kind": "mcp", "results": [{"title": "T", "url": "https://only.example/x"}]},
               endpoint="mcp", prompt_contains="needle")
        self.assertEqual(len(self.inner(mcp_call("hay")[1])[1]["results"]), 2)
        _, inner = self.inner(mcp_call("a needle here")[1])
        self.assertEqual(inner["results"], [{"title": "T", "url": "https://only.example/x"}])
        self.assertEqual(inner["query"], "a needle here")
        self.assertEqual(ctl("GET", "stats")[1]["mcp"], 2)
        self.assertEqual([e["mcp_query"] for e in log_entries("mcp")], ["hay", "a needle here"])

    def test_model_searches_then_answers(self):
        b = body("Please search for kiro gateway", userInputMessageContext={
            "tools": [search_tool()]})
        status, _, data = gen(b)
        self.assertEqual(status, 200)
        calls = [e for e in events(data) if e[0] == "toolUseEvent"]
        self.assertEqual(calls[0][1]["name"], "web_search")
        tid = calls[0][1]["toolUseId"]
        self.assertTrue(tid.startswith("tooluse_MockSearch"))
        query = json.loads("".join(c[1].get("input", "") for c in calls))["query"]
        self.assertEqual(query, "kiro gateway")
        b["conversationState"]["history"] = [
            {"userInputMessage": {"content": "Please search for kiro gateway",
                                  "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR"}},
            {"assistantResponseMessage": {"content": "Let me search the web.", "toolUses": [
                {"toolUseId": tid, "name": "web_search", "input": {"query": query}}]}}]
        b["conversationState"]["currentMessage"] = {"userInputMessage": {
            "content": "Tool results provided.", "modelId": "claude-sonnet-4.5",
            "origin": "AI_EDITOR",
            "userInputMessageContext": {"tools": [search_tool()], "toolResults": [
                {"toolUseId": tid, "status": "success", "content": [
                    {"text": "1. Kiro docs\nhttps://kiro.example/docs\nsnippet"}]}]}}}
        status, hdrs, data = gen(b)
        self.assertEqual(status, 200, (hdrs.get("x-mock-reason"), hdrs.get("x-mock-detail")))
        self.assertEqual("".join(texts(data)), "Searched 1 times. Source: "
                         "https://kiro.example/docs. First line: 1. Kiro docs")

    def test_model_without_search_tool_or_wish_just_talks(self):
        status, _, data = gen(body("Please search for x", userInputMessageContext={
            "tools": [tool_spec()]}))
        self.assertFalse([e for e in events(data) if e[0] == "toolUseEvent"])
        status, _, data = gen(body("hello", userInputMessageContext={"tools": [search_tool()]}))
        self.assertFalse([e for e in events(data) if e[0] == "toolUseEvent"])

    def test_model_claude_code_tool_name_and_marker_in_query(self):
        status, _, data = gen(body("search the web for \"lighttpd\" #mock:mcp_empty",
                                   userInputMessageContext={"tools": [search_tool("WebSearch")]}))
        calls = [e for e in events(data) if e[0] == "toolUseEvent"]
        self.assertEqual(calls[0][1]["name"], "WebSearch")
        query = json.loads("".join(c[1].get("input", "") for c in calls))["query"]
        self.assertEqual(query, "lighttpd #mock:mcp_empty")


# ------------------------------------------------------------------ reference token count

class TokenTruthTest(unittest.TestCase):
    """tokentruth.py: piece costs, what of the body counts, Kiro's unseen overhead."""

    def test_piece_costs(self):
        t = tokentruth.text_tokens
        self.assertEqual(t(""), 0)
        self.assertEqual(t("hello world"), 2)           # the space goes with the word
        self.assertEqual(t("toolUseId"), 3)             # camelCase humps
        self.assertEqual(t("internationalization"), 3)  # 20 letters: 1 + 2 more
        self.assertEqual(t("1234567"), 3)               # 123 456 7
        self.assertEqual(t('{"a":1}'), 5)               # {" a ": 1 }: dense
        self.assertEqual(t("\u4e2d\u6587\u5b57"), 3)  # one per CJK character
        self.assertEqual(t("caf\u00e9"), 2)             # caf + one other letter
        self.assertEqual(t("        "), 2)              # 1 per 4 spaces
        self.assertEqual(t("a\u2192b"), 3)              # a non-ASCII symbol: one

    def test_counts_what_kiro_sees(self):
        base = body("hi")
        self.assertEqual(tokentruth.count(base), tokentruth.SYSTEM_PROMPT +
                         tokentruth.PER_MESSAGE + 1)
        # modelId, origin, conversationId and images' bytes are not text.
        b = body("hi", images=[{"format": "png", "source": {"bytes": "QUJD" * 5000}}])
        self.assertEqual(tokentruth.count(b) - tokentruth.count(base), tokentruth.PER_IMAGE)
        b = body("hi", userInputMessageContext={"tools": [tool_spec("read")]})
        spec = tool_spec("read")["toolSpecification"]
        self.assertEqual(tokentruth.count(b) - tokentruth.count(base),
                         tokentruth.TOOLS_PREAMBLE + tokentruth.PER_TOOL +
                         tokentruth.text_tokens("read") +
                         tokentruth.text_tokens(spec["description"]) +
                         tokentruth.text_tokens(tokentruth.compact(
                             spec["inputSchema"]["json"])))
        b = copy.deepcopy(base)
        b["conversationState"]["history"] = [
            {"userInputMessage": {"content": "run it", "modelId": "m", "origin": "AI_EDITOR"}},
            {"assistantResponseMessage": {"content": " ", "toolUses": [
                {"toolUseId": "t1", "name": "sh", "input": {"cmd": "ls"}}]}}]
        b["conversationState"]["currentMessage"]["userInputMessage"][
            "userInputMessageContext"] = {"toolResults": [
                {"toolUseId": "t1", "content": [{"text": "a b"}], "status": "success"}]}
        self.assertEqual(tokentruth.count(b) - tokentruth.count(base),
                         2 * tokentruth.PER_MESSAGE + 2 + 1 +
                         tokentruth.PER_TOOL_USE + 2 + 1 + tokentruth.text_tokens('{"cmd":"ls"}') +
                         tokentruth.PER_TOOL_RESULT + 2 + 2)

    def test_grows_linearly(self):
        one = tokentruth.count(body(" the quick brown fox" * 100))
        ten = tokentruth.count(body(" the quick brown fox" * 1000))
        self.assertEqual(ten - tokentruth.SYSTEM_PROMPT,
                         10 * (one - tokentruth.SYSTEM_PROMPT) - 9 * tokentruth.PER_MESSAGE)


class ContextUsageTest(MockTestCase):
    """contextUsagePercentage: the reference count over the model's window."""

    def pct(self, b):
        evs = events(gen(b)[2])
        return [p for t, p in evs if t == "contextUsageEvent"][0]["contextUsagePercentage"]

    def test_follows_the_request(self):
        small, big = body("hi"), body("lorem ipsum dolor " * 5000)
        self.assertEqual(self.pct(small), auto_pct(small))
        self.assertEqual(self.pct(big), auto_pct(big))
        self.assertGreater(auto_pct(big), auto_pct(small) * 5)
        entry = log_entries("generateAssistantResponse")[-1]
        self.assertEqual((entry["reference_tokens"], entry["window"]),
                         (tokentruth.count(big), 200000))

    def test_window_from_the_model_list(self):
        b = body("hi", modelId="claude-sonnet-4.6")      # 1M in the catalogue
        self.assertEqual(self.pct(b), auto_pct(b, 1000000))
        b = body("hi", modelId="no-such-model")          # not listed: 200k
        self.assertEqual(self.pct(b), auto_pct(b))
        ctl("POST", "accounts/models", {"accessToken": TOKEN, "models": [
            {"modelId": "claude-sonnet-4.5", "maxInputTokens": 50000}]})
        self.assertEqual(self.pct(body("hi")), auto_pct(body("hi"), 50000))

    def test_scenario_number_wins(self):
        script({"kind": "text", "context_usage": 42.0})
        self.assertEqual(self.pct(body("lorem ipsum " * 100)), 42.0)
        script({"kind": "text", "context_usage": "auto"})
        self.assertEqual(self.pct(body("hi")), auto_pct(body("hi")))


if __name__ == "__main__":
    unittest.main(verbosity=1)
