#!/usr/bin/python3
"""The request log ("flows") and statistics behind real servers (issue 11).

One class per server (lighttpd and Apache, mount /kiro, 2 responder
processes).  Each makes a mix of requests once: Anthropic (plain and
streamed), OpenAI Chat, OpenAI Responses and Gemini successes, a request
Kiro keeps failing (retried, then overloaded), a client error caught before
any upstream call, and a wrong key.  Covered:

  - every request has its record with the right API, route, method,
    client and Kiro model, stream flag, account, status, error type and
    message, attempts, tokens, request and answer sizes, latency and time
    to first byte; the client key name is "default", and none for a 401;
    admin requests are not recorded;
  - GET /api/admin/flows: newest first (by end); filters by status, status class,
    "error", API, model (client or Kiro), account, key, text in the error,
    time range; paging with limit, offset, more and nextOffset that
    covers every record once; bad parameters are 400 in the admin shape;
  - ?format=jsonl and ?format=csv: every record, as a download;
  - GET /api/admin/stats: totals, errors by type, tokens, per API, model,
    account and key, 24 hourly buckets, all consistent with the records;
  - kiroctl flows (table, --json, filters) and kiroctl stats (--json);
  - by default no body is stored and no key or prompt is in the files,
    which are 0600 in a 0700 directory; with flowLog.bodies the request
    and answer are kept, a secret field in the request redacted.

Records are written after the answer, so the tests wait until the log
holds what they made.

Run: KIRO_BUILDDIR=build /usr/bin/python3 tests/integration/test_flows.py
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, body, wait_for  # noqa: E402

MOCK: Mock | None = None
ADMIN_KEY = "sk-admin-flows-" + "f" * 16 + "Q7"
GEMINI_MODEL = "gemini-2.5-flash"
MARK = "flows-marker-7c1d"     # in every prompt: must never be stored by default


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def check_trace(srv) -> None:
    """Under TRACEME=valgrind, a stopped server's responders reported nothing."""
    problems = getattr(srv, "_trace_problems", None)
    if problems:
        raise AssertionError("valgrind reported errors:\n" + "\n".join(problems))


def admin(g: Gateway, path: str):
    return gw.request(g.url("/api/admin/" + path), "GET", None, {"x-api-key": ADMIN_KEY})


def flows(g: Gateway, query: str = "") -> dict:
    resp = admin(g, "flows?" + query)
    assert resp.status == 200, (resp.status, resp.body[:300])
    return resp.json()


class _Flows:
    server = "lighttpd"
    gateway: Gateway | None = None

    @classmethod
    def setUpClass(cls) -> None:
        missing = gw.SERVERS[cls.server].missing()
        if missing is not None:
            raise AssertionError(missing)
        MOCK.call("POST", "scripts/clear", {})
        cls.account = Account("flows-" + cls.server)
        cls.gateway = Gateway(cls.server, MOCK, mount="/kiro", procs=2, threads=2,
                              accounts=[cls.account], config={"adminApiKey": ADMIN_KEY})
        cls.gateway.start()
        cls.made = cls.make_requests(cls.gateway)
        n = len(cls.made)
        wait_for(lambda: len(flows(cls.gateway, "limit=100")["flows"]) >= n,
                 what=f"{n} records in the request log")

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.gateway is not None:
            srv = cls.gateway.srv
            cls.gateway.stop()
            check_trace(srv)

    @classmethod
    def make_requests(cls, g: Gateway) -> list[dict]:
        """The mix; what each should have recorded, oldest first."""
        made = []

        def keep(name, resp, sent: bytes, **want):
            want.update(name=name, sent=len(sent), got=len(resp.body))
            made.append(want)
            return resp

        b = json.dumps(body(MARK + " plain")).encode()
        r = keep("plain", g.post("/v1/messages", b), b, api="anthropic", status=200,
                 route="/v1/messages", model=gw.MODEL, stream=False)
        assert r.status == 200, r.body
        b = json.dumps(body(MARK + " streamed", stream=True)).encode()
        r = keep("stream", g.post("/v1/messages", b), b, api="anthropic", status=200,
                 route="/v1/messages", model=gw.MODEL, stream=True)
        assert r.status == 200, r.body
        b = json.dumps({"model": gw.MODEL, "messages": [
            {"role": "user", "content": MARK + " chat"}]}).encode()
        r = keep("chat", g.post("/v1/chat/completions", b, auth="bearer"), b,
                 api="openai-chat", status=200, route="/v1/chat/completions",
                 model=gw.MODEL, stream=False)
        assert r.status == 200, r.body
        b = json.dumps({"model": gw.MODEL, "input": MARK + " responses"}).encode()
        r = keep("responses", g.post("/v1/responses", b, auth="bearer"), b,
                 api="openai-responses", status=200, route="/v1/responses",
                 model=gw.MODEL, stream=False)
        assert r.status == 200, r.body
        b = json.dumps({"contents": [{"role": "user",
                                      "parts": [{"text": MARK + " gemini"}]}]}).encode()
        route = f"/v1beta/models/{GEMINI_MODEL}:generateContent"
        r = keep("gemini", g.post(route, b, {"x-goog-api-key": g.api_key}, auth=None), b,
                 api="gemini", status=200, route=route, model=GEMINI_MODEL, stream=False)
        assert r.status == 200, r.body
        # Kiro fails every attempt: retried, then overloaded.
        MOCK.script("server_error", times=-1)
        b = json.dumps(body(MARK + " failing")).encode()
        r = keep("failed", g.post("/v1/messages", b), b, api="anthropic", status=529,
                 route="/v1/messages", model=gw.MODEL, stream=False,
                 error_type="overloaded")
        MOCK.call("POST", "scripts/clear", {})
        assert r.status == 529, (r.status, r.body)
        # A client error: never reaches Kiro.
        b = json.dumps({"model": gw.MODEL, "max_tokens": 10}).encode()
        r = keep("client_error", g.post("/v1/messages", b), b, api="anthropic",
                 status=400, route="/v1/messages", error_type="invalid_request_error")
        assert r.status == 400, r.body
        b = json.dumps(body(MARK + " wrong key")).encode()
        r = keep("wrong_key", g.post("/v1/messages", b, {"x-api-key": "wrong"}, auth=None),
                 b, api="anthropic", status=401, route="/v1/messages",
                 error_type="authentication_error")
        assert r.status == 401, r.body
        # Admin requests are not API requests.
        assert admin(g, "credentials").status == 200
        return made

    def setUp(self) -> None:
        self.g = self.gateway

    def records(self) -> list[dict]:
        return flows(self.g, "limit=1000")["flows"]

    def test_every_request_recorded_with_its_fields(self) -> None:
        got = self.records()
        self.assertEqual(len(got), len(self.made), [r.get("route") for r in got])
        # Newest first in the order requests ended (a record is written
        # when its request is over, after the answer went out), so the
        # start times t can be out of order by one request's tail.
        ends = [r["t"] + r["latencyMs"] for r in got]
        for newer, older in zip(ends, ends[1:]):
            self.assertGreaterEqual(newer, older - 1000, f"not newest first: {ends}")
        # The requests were made one after another: by start, the order made
        # (two may start in the same millisecond: then the one that ended
        # later, nearer the front of the log, is the newer).
        got = [r for _, r in sorted(enumerate(got), key=lambda p: (p[1]["t"], -p[0]),
                                    reverse=True)]
        account_id = self.g.account_by_email(self.account.email)["id"]
        for want, rec in zip(self.made, reversed(got)):
            with self.subTest(request=want["name"]):
                self.assertEqual(rec["api"], want["api"], rec)
                self.assertEqual(rec["route"], want["route"])
                self.assertEqual(rec["method"], "POST")
                self.assertEqual(rec["status"], want["status"])
                self.assertEqual(rec["requestBytes"], want["sent"])
                self.assertEqual(rec["answerBytes"], want["got"])
                self.assertGreaterEqual(rec["latencyMs"], 0)
                self.assertGreaterEqual(rec["ttfbMs"], 0)
                self.assertLessEqual(rec["ttfbMs"], rec["latencyMs"])
                self.assertRegex(rec["id"], r"^[0-9a-f]{8}$")
                self.assertNotIn("requestBody", rec)
                self.assertNotIn("answerBody", rec)
                if want["status"] == 401:
                    self.assertNotIn("key", rec)
                else:
                    self.assertEqual(rec["key"], "default")
                if "model" in want:
                    self.assertEqual(rec["model"], want["model"])
                    self.assertEqual(rec["stream"], want["stream"])
                    self.assertIn("kiroModel", rec)
                if want["status"] == 200:
                    self.assertEqual(rec["account"], account_id)
                    self.assertEqual(rec["attempts"], 1)
                    self.assertGreater(rec["inputTokens"], 0)
                    self.assertGreater(rec["outputTokens"], 0)
                    self.assertNotIn("errorType", rec)
                else:
                    self.assertEqual(rec["errorType"], want["error_type"])
                    self.assertTrue(rec["error"])
        # The id is the one in the error log's lines for that request.
        self.assertIn("req=" + got[2]["id"], self.g.log())
        failed = got[2]
        self.assertGreater(failed["attempts"], 1, failed)
        self.assertEqual(failed["kiroModel"], gw.KIRO_MODEL)
        self.assertIn("messages", got[1]["error"])
        # Refused before the relay: the model from the body all the same.
        self.assertEqual(got[1]["model"], gw.MODEL)
        self.assertNotIn("kiroModel", got[1])
        self.assertEqual(got[1]["attempts"], 0)

    def ids(self, query: str) -> list[str]:
        return [r["id"] for r in flows(self.g, query)["flows"]]

    def test_filters(self) -> None:
        got = self.records()
        by_name = {m["name"]: rec for m, rec in zip(self.made, reversed(got))}

        def names(query: str) -> set[str]:
            ids = set(self.ids(query))
            return {n for n, rec in by_name.items() if rec["id"] in ids}

        ok = {"plain", "stream", "chat", "responses", "gemini"}
        self.assertEqual(names("status=200"), ok)
        self.assertEqual(names("status=2xx"), ok)
        self.assertEqual(names("status=5xx"), {"failed"})
        self.assertEqual(names("status=4xx"), {"client_error", "wrong_key"})
        self.assertEqual(names("status=error"), {"failed", "client_error", "wrong_key"})
        self.assertEqual(names("api=gemini"), {"gemini"})
        self.assertEqual(names("api=openai-chat"), {"chat"})
        self.assertEqual(names("model=" + GEMINI_MODEL), {"gemini"})
        self.assertEqual(names("model=" + gw.KIRO_MODEL) & {"plain", "failed"},
                         {"plain", "failed"})
        account_id = by_name["plain"]["account"]
        self.assertEqual(names(f"account={account_id}") & ok, ok)
        self.assertEqual(names("key=default"), set(by_name) - {"wrong_key"})
        self.assertEqual(names("q=API%20KEY"), {"wrong_key"})
        # Between the first and the last records' times, the last excluded.
        first, last = by_name["plain"]["t"], by_name["wrong_key"]["t"]
        self.assertNotIn("wrong_key", names(f"from={first}&to={last}"))
        self.assertIn("plain", names(f"from={first}&to={last}"))
        self.assertEqual(names("api=gemini&status=5xx"), set())

    def test_paging_covers_every_record_once(self) -> None:
        everything = self.ids("limit=1000")
        seen, offset = [], 0
        while True:
            page = flows(self.g, f"limit=3&offset={offset}")
            self.assertEqual(page["limit"], 3)
            self.assertEqual(page["offset"], offset)
            seen += [r["id"] for r in page["flows"]]
            if not page["more"]:
                self.assertIsNone(page["nextOffset"])
                break
            self.assertEqual(page["nextOffset"], offset + 3)
            offset = page["nextOffset"]
        self.assertEqual(seen, everything)

    def test_bad_parameters_are_400(self) -> None:
        for query in ("limit=0", "limit=1001", "offset=-1", "status=abc", "from=yesterday",
                      "account=x", "format=xml"):
            with self.subTest(query=query):
                resp = admin(self.g, "flows?" + query)
                self.assertEqual(resp.status, 400, resp.body)
                doc = resp.json()
                self.assertEqual(doc["error"]["type"], "invalid_request")
                self.assertTrue(doc["error"]["message"])
        resp = admin(self.g, "stats?hours=0")
        self.assertEqual(resp.status, 400)
        resp = gw.request(self.g.url("/api/admin/flows"), "GET", None,
                          {"x-api-key": self.g.api_key})
        self.assertEqual(resp.status, 403)

    def test_export_jsonl_and_csv(self) -> None:
        everything = self.ids("limit=1000")
        resp = admin(self.g, "flows?format=jsonl")
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.headers["Content-Type"].startswith("application/x-ndjson"))
        self.assertIn("attachment", resp.headers.get("Content-Disposition", ""))
        lines = resp.body.decode().splitlines()
        self.assertEqual([json.loads(line)["id"] for line in lines], everything)
        resp = admin(self.g, "flows?format=csv&status=error")
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.headers["Content-Type"].startswith("text/csv"))
        rows = list(csv.DictReader(io.StringIO(resp.body.decode())))
        self.assertEqual(len(rows), 3)
        self.assertEqual({r["status"] for r in rows}, {"529", "400", "401"})
        self.assertTrue(all(r["time"].endswith("Z") for r in rows))
        resp = admin(self.g, "flows?format=jsonl&limit=2")
        self.assertEqual(len(resp.body.decode().splitlines()), 2)

    def test_stats_consistent_with_records(self) -> None:
        got = self.records()
        resp = admin(self.g, "stats?hours=24")
        self.assertEqual(resp.status, 200, resp.body)
        s = resp.json()
        total = s["total"]
        self.assertEqual(total["requests"], len(got))
        self.assertEqual(total["errors"], 3)
        self.assertEqual(total["inputTokens"], sum(r["inputTokens"] for r in got))
        self.assertEqual(total["outputTokens"], sum(r["outputTokens"] for r in got))
        self.assertEqual(total["errorTypes"], {"overloaded": 1, "invalid_request_error": 1,
                                               "authentication_error": 1})
        latencies = sorted(r["latencyMs"] for r in got)
        self.assertLessEqual(total["latencyP50Ms"], latencies[-1] * 1.1 + 1)
        by_api = {g["name"]: g for g in s["byApi"]}
        self.assertEqual(by_api["anthropic"]["requests"], 5)
        self.assertEqual(by_api["anthropic"]["errors"], 3)
        for api in ("openai-chat", "openai-responses", "gemini"):
            self.assertEqual(by_api[api]["requests"], 1)
            self.assertEqual(by_api[api]["errors"], 0)
        self.assertEqual({g["name"]: g["requests"] for g in s["byKey"]},
                         {"default": len(got) - 1, "(none)": 1})
        by_account = {g["name"]: g["requests"] for g in s["byAccount"]}
        account_id = str(got[-1]["account"])
        self.assertEqual(by_account[account_id],
                         sum(1 for r in got if r.get("account") == int(account_id)))
        self.assertEqual(sum(g["requests"] for g in s["byModel"]), len(got))
        self.assertEqual(len(s["hourly"]), 24)
        self.assertEqual(sum(h["requests"] for h in s["hourly"]), len(got))
        self.assertEqual(s["hourly"][-1]["requests"] + s["hourly"][-2]["requests"],
                         len(got))

    def test_kiroctl_flows_and_stats(self) -> None:
        everything = self.ids("limit=1000")
        doc = json.loads(self.g.kiroctl("flows", "--json", "--limit", "1000").stdout)
        self.assertEqual([r["id"] for r in doc["flows"]], everything)
        doc = json.loads(self.g.kiroctl("flows", "--json", "--status", "5xx").stdout)
        self.assertEqual([r["status"] for r in doc["flows"]], [529])
        table = self.g.kiroctl("flows", "--api", "gemini").stdout.splitlines()
        self.assertEqual(len(table), 1, table)
        self.assertIn(GEMINI_MODEL, table[0])
        self.assertIn(" 200 ", table[0])
        table = self.g.kiroctl("flows", "--limit", "2").stdout.splitlines()
        self.assertEqual(len(table), 3, table)
        self.assertIn("--offset 2", table[-1])
        rows = list(csv.DictReader(io.StringIO(
            self.g.kiroctl("flows", "--csv").stdout)))
        self.assertEqual(len(rows), len(everything))
        s = json.loads(self.g.kiroctl("stats", "--json").stdout)
        self.assertEqual(s["total"]["requests"], len(everything))
        self.assertEqual(s["total"]["errors"], 3)
        text = self.g.kiroctl("stats").stdout
        self.assertIn("by API:", text)
        self.assertIn("openai-responses", text)
        bad = self.g.kiroctl("flows", "--status", "abc", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("status", bad.stderr)

    def test_no_body_or_secret_stored_by_default(self) -> None:
        folder = self.g.state_dir / "flows"
        self.assertEqual(stat.S_IMODE(folder.stat().st_mode), 0o700)
        files = [p for p in folder.iterdir() if p.name.endswith(".jsonl")]
        self.assertTrue(files)
        text = ""
        for path in files:
            self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o600, path)
            text += path.read_text()
        self.assertEqual(len(text.splitlines()), len(self.made))
        for secret in [MARK, ADMIN_KEY, self.g.api_key] + self.account.secrets():
            self.assertNotIn(secret, text)


class LighttpdFlows(_Flows, unittest.TestCase):
    server = "lighttpd"

    def test_bodies_kept_when_asked_and_redacted(self) -> None:
        g = Gateway(self.server, MOCK, mount="/", procs=1, threads=2,
                    accounts=[self.account],
                    config={"adminApiKey": ADMIN_KEY,
                            "flowLog": {"bodies": True, "bodyMaxBytes": 4096}})
        with g:
            srv = g.srv
            sent = body(MARK + " kept", metadata={"user_id": "u1"})
            sent["api_key"] = "sk-should-not-be-stored-123"
            resp = g.post("/v1/messages", sent)
            self.assertEqual(resp.status, 200)
            wait_for(lambda: flows(g)["flows"], what="the record")
            # A page leaves the bodies out; one record by its id has them.
            listed = flows(g)["flows"][0]
            self.assertNotIn("requestBody", listed)
            rec = flows(g, "id=" + listed["id"])["flows"][0]
            self.assertIn(MARK + " kept", rec["requestBody"])
            self.assertNotIn("sk-should-not-be-stored-123", rec["requestBody"])
            self.assertIn("[redacted]", rec["requestBody"])
            answer = json.loads(rec["answerBody"])
            self.assertEqual(answer, resp.json())
            # An answer over bodyMaxBytes is cut, its size noted.
            resp = g.post("/v1/messages", body("x" * 6000, stream=True))
            self.assertEqual(resp.status, 200)
            wait_for(lambda: len(flows(g)["flows"]) == 2, what="the second record")
            rec = flows(g, "id=" + flows(g)["flows"][0]["id"])["flows"][0]
            self.assertLessEqual(len(rec["requestBody"].encode()), 4096)
            self.assertGreater(rec["requestBodyCut"], 6000)
            self.assertTrue(rec["answerBody"].startswith("event: message_start"))
        check_trace(srv)


class ApacheFlows(_Flows, unittest.TestCase):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
