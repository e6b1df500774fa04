#!/usr/bin/python3
"""The admin API (/api/admin/...) behind real servers, against the mock upstream.

Each class runs the same tests behind one server and one mount: lighttpd and
Apache, each at / and at /kiro.  Most tests share the class's gateway
(adminApiKey set) and add their own accounts through the API.  Covered:

  - without adminApiKey, or with the client apiKey as adminApiKey, every
    admin path is 404 in the admin error shape;
  - auth: nothing or a wrong key is 401 authentication_error, the client
    apiKey (x-api-key or Bearer) is 403, the admin key works in x-api-key
    and in Authorization: Bearer; the admin key is no client key;
  - GET /credentials: kiro.rs's fields (total, available, currentId, and per
    credential id, priority, disabled, failureCount, isCurrent, expiresAt,
    authMethod, hasProfileArn, refreshTokenHash = sha256 of the token,
    apiKeyHash, maskedApiKey, email, successCount, lastUsedAt, hasProxy,
    proxyUrl without its password, refreshFailureCount, disabledReason,
    endpoint), sorted by priority;
  - POST /credentials (kiro.rs body): added, listed, a duplicate is 409, and
    malformed JSON, an array, a wrong type, a truncated token, an idc entry
    without its secret are 400 naming the problem, a body over 64 KiB 413;
  - POST /credentials/import: array and object documents, duplicates
    counted, a bad entry named by its index, nothing added on error;
  - disabled, priority, reset: the change shows in the list and history;
    bad bodies are 400 naming the field, unknown ids 404, bad ids 400;
  - DELETE: 409 while in service, 200 once disabled, then 404;
  - refresh: the mock's refresh endpoint is called and a new expiry
    returned; a refusal from Kiro's auth is 502; an API key is 400;
  - balance: the mock's getUsageLimits figures, cached on the second call
    (no second upstream call); an upstream failure is 502;
  - GET /usage: the cached usage of every account, without calling Kiro;
  - load balancing, rate limits and stickySeconds: GET and PUT, 400 for
    bad values; a global limit set through the API turns the next API
    request into 429 and 0 lifts it; stickySeconds 0 set through the API
    lets one conversation's requests follow round-robin, where the
    configured 60 s kept them on one account;
  - unknown admin routes 404, a wrong method 405 with Allow;
  - a change made through the API reaches both responder processes
    (procs=2, one thread each): round-robin set through the API alternates
    8 requests in flight exactly 4/4 between two accounts, where priority
    mode would give all of them to one, and the access log shows both
    processes served;
  - an account deleted while it streams an answer: the answer completes,
    the account is gone, and the other account serves what follows;
  - 4 requests in flight changing priority and disabled of two accounts:
    every change is kept;
  - no response body (and no responder log) ever holds a test secret:
    tokens, client secrets, proxy passwords, API keys, the admin key.

Run: KIRO_BUILDDIR=build /usr/bin/python3 tests/integration/test_admin_api.py
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, body, in_parallel, request  # noqa: E402
from harness import open_stream, sse_events  # noqa: E402

MOCK: Mock | None = None
ADMIN_KEY = "sk-admin-itest-" + "a" * 16 + "Z9"
PROXY_PASSWORD = "proxy-pass-" + "p" * 20
KIRO_API_KEY = "ksk_" + "K" * 60


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


class _Admin:
    server = "lighttpd"
    mount = "/kiro"
    gateway: Gateway | None = None
    listed: list[Account] = []
    added: list[Account] = []

    @classmethod
    def setUpClass(cls) -> None:
        missing = gw.SERVERS[cls.server].missing()
        if missing is not None:
            raise AssertionError(missing)
        cls.added: list[Account] = []
        cls.listed = [Account("adm-social", priority=1),
                      Account("adm-idc", priority=0, auth_method="idc")]
        cls.gateway = Gateway(cls.server, MOCK, mount=cls.mount, procs=1, threads=4,
                              accounts=cls.listed, config={"adminApiKey": ADMIN_KEY})
        cls.gateway.start()
        cls.bodies: list[bytes] = []

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.gateway is not None:
            log = cls.gateway.log()
            srv = cls.gateway.srv
            cls.gateway.stop()
            for secret in cls.secrets():
                assert secret not in log, "a secret is in the responder log"
            check_trace(srv)

    @classmethod
    def secrets(cls) -> list[str]:
        found = [ADMIN_KEY, gw.API_KEY, PROXY_PASSWORD, KIRO_API_KEY]
        for account in cls.listed + cls.added:
            found += account.secrets()
        for mock_account in MOCK.accounts():
            found.append(mock_account.get("refreshToken"))
            found += mock_account.get("accessTokens", [])
        return [s for s in found if s]

    def setUp(self) -> None:
        self.g = self.gateway

    def tearDown(self) -> None:
        # No answer of this test carries a secret, masked or not.
        secrets = self.secrets()
        for text in self.bodies:
            for secret in secrets:
                self.assertNotIn(secret.encode(), text, "a secret reached a client")
        self.bodies.clear()

    # requests

    def admin(self, method: str, path: str, doc=None, *, key: str | None = ADMIN_KEY,
              style: str = "x-api-key", raw: bytes | None = None, g: Gateway | None = None):
        g = g or self.g
        headers = {}
        if key is not None:
            headers = {"x-api-key": key} if style == "x-api-key" else \
                {"Authorization": f"Bearer {key}"} if style == "bearer" else \
                {"Authorization": f"Basic {key}"}
        data = raw if raw is not None else (json.dumps(doc).encode() if doc is not None
                                             else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        resp = request(g.url("/api/admin" + path), method, data, headers)
        self.bodies.append(resp.body)
        return resp

    def ok(self, method: str, path: str, doc=None, **kw) -> dict:
        resp = self.admin(method, path, doc, **kw)
        self.assertEqual(resp.status, 200, resp.body[:500])
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("application/json"))
        return resp.json()

    def error(self, resp, status: int, err_type: str, *contains: str) -> dict:
        self.assertEqual(resp.status, status, resp.body[:500])
        doc = resp.json()
        self.assertEqual(set(doc), {"error"}, doc)
        self.assertEqual(doc["error"]["type"], err_type, doc)
        for text in contains:
            self.assertIn(text, doc["error"]["message"], doc)
        return doc

    def add(self, account: Account, **extra) -> int:
        """Adds account through POST /credentials (and to the mock): its id."""
        if account.mock_id not in {a["id"] for a in MOCK.accounts()}:
            MOCK.add_account(account)
            type(self).added.append(account)
        doc = self.ok("POST", "/credentials", dict(account.credential(), **extra))
        self.assertTrue(doc["success"])
        self.assertEqual(doc["message"], f"credential added, ID: {doc['credentialId']}")
        return doc["credentialId"]

    def listing(self) -> dict:
        return self.ok("GET", "/credentials")

    def entry(self, cid: int) -> dict:
        for cred in self.listing()["credentials"]:
            if cred["id"] == cid:
                return cred
        self.fail(f"credential {cid} not listed")

    # enabled or not, and auth

    def test_disabled_without_admin_key(self) -> None:
        g = Gateway(self.server, MOCK, mount=self.mount, accounts=[Account("adm-off")])
        g.start()
        self.addCleanup(g.stop)
        for method, path in (("GET", "/credentials"), ("POST", "/credentials/1/reset"),
                             ("GET", "/config/load-balancing"), ("GET", "/nothing")):
            for key in (None, gw.API_KEY, ADMIN_KEY):
                resp = self.admin(method, path, key=key, g=g)
                self.error(resp, 404, "not_found", "adminApiKey")
        # The client API works as before.
        self.assertEqual(g.get("/v1/models").status, 200)

    def test_off_when_admin_key_is_the_client_key(self) -> None:
        g = Gateway(self.server, MOCK, mount=self.mount, accounts=[Account("adm-same")],
                    config={"adminApiKey": gw.API_KEY})
        g.start()
        self.addCleanup(g.stop)
        for key in (None, gw.API_KEY):
            self.error(self.admin("GET", "/credentials", key=key, g=g), 404, "not_found",
                       "must differ from apiKey")

    def test_auth(self) -> None:
        self.error(self.admin("GET", "/credentials", key=None), 401,
                   "authentication_error", "admin API key")
        self.error(self.admin("GET", "/credentials", key="wrong"), 401, "authentication_error")
        self.error(self.admin("GET", "/credentials", key=ADMIN_KEY + "x"), 401,
                   "authentication_error")
        self.error(self.admin("GET", "/credentials", key=ADMIN_KEY, style="basic"), 401,
                   "authentication_error")
        self.error(self.admin("GET", "/credentials", key=gw.API_KEY), 403, "permission_error")
        self.error(self.admin("GET", "/credentials", key=gw.API_KEY, style="bearer"), 403,
                   "permission_error")
        # Nothing is read or changed before auth.
        self.error(self.admin("PUT", "/config/load-balancing", {"mode": "balanced"},
                              key=gw.API_KEY), 403, "permission_error")
        self.assertEqual(self.ok("GET", "/config/load-balancing")["mode"], "priority")
        self.ok("GET", "/credentials")
        self.ok("GET", "/credentials", style="bearer")
        # The admin key is not a client key.
        resp = request(self.g.url("/v1/messages"), "POST", json.dumps(body()).encode(),
                       {"x-api-key": ADMIN_KEY, "Content-Type": "application/json"})
        self.assertEqual(resp.status, 401, resp.body[:300])

    def test_unknown_route_and_wrong_method(self) -> None:
        self.error(self.admin("GET", "/nothing"), 404, "not_found")
        self.error(self.admin("GET", ""), 404, "not_found")
        self.error(self.admin("GET", "/credentials/1/2/3/4"), 404, "not_found")
        resp = self.admin("PUT", "/credentials", {})
        self.error(resp, 405, "invalid_request", "PUT")
        self.assertEqual(resp.headers.get("Allow"), "GET, POST")
        resp = self.admin("GET", "/credentials/1/priority")
        self.error(resp, 405, "invalid_request")
        self.assertEqual(resp.headers.get("Allow"), "POST")
        self.error(self.admin("POST", "/credentials/abc/reset"), 400, "invalid_request",
                   "abc", "not an account id")
        self.error(self.admin("POST", "/credentials/0/reset"), 400, "invalid_request")
        self.error(self.admin("POST", "/credentials/99999999999/reset"), 400,
                   "invalid_request")

    # GET /credentials

    def test_list_has_kiro_rs_fields_and_no_secret(self) -> None:
        doc = self.listing()
        self.assertEqual(set(doc), {"total", "available", "currentId", "credentials"})
        by_email = {c["email"]: c for c in doc["credentials"]}
        social, idc = self.listed
        s = by_email[social.email]
        i = by_email[idc.email]
        for cred in (s, i):
            for field in ("id", "priority", "disabled", "failureCount", "isCurrent",
                          "expiresAt", "authMethod", "hasProfileArn", "refreshTokenHash",
                          "apiKeyHash", "maskedApiKey", "email", "successCount",
                          "lastUsedAt", "hasProxy", "refreshFailureCount", "endpoint"):
                self.assertIn(field, cred)
        self.assertEqual(s["refreshTokenHash"],
                         hashlib.sha256(social.refresh_token.encode()).hexdigest())
        self.assertEqual(s["authMethod"], "social")
        self.assertEqual(i["authMethod"], "idc")
        self.assertIsNone(s["apiKeyHash"])
        self.assertFalse(s["hasProxy"])
        self.assertEqual(s["expiresAt"][:4], "2099")
        # Sorted by priority.
        prios = [c["priority"] for c in doc["credentials"]]
        self.assertEqual(prios, sorted(prios))
        self.assertEqual(doc["total"], len(doc["credentials"]))
        self.assertGreaterEqual(doc["available"], 2)

    def test_list_masks_api_keys_and_proxy_passwords(self) -> None:
        acct = Account("adm-proxy")
        cid = self.add(acct, proxyUrl=f"http://bob:{PROXY_PASSWORD}@127.0.0.1:3128",
                       proxyUsername="bob", proxyPassword=PROXY_PASSWORD)
        cred = self.entry(cid)
        self.assertTrue(cred["hasProxy"])
        self.assertEqual(cred["proxyUrl"], "http://bob:***@127.0.0.1:3128")
        key_doc = {"kiroApiKey": KIRO_API_KEY, "authMethod": "api_key",
                   "email": "adm-key@example.com"}
        kid = self.ok("POST", "/credentials", key_doc)["credentialId"]
        cred = self.entry(kid)
        self.assertEqual(cred["authMethod"], "api_key")
        self.assertEqual(cred["apiKeyHash"], hashlib.sha256(KIRO_API_KEY.encode()).hexdigest())
        self.assertEqual(cred["maskedApiKey"], KIRO_API_KEY[:4] + "...")
        self.assertIsNone(cred["refreshTokenHash"])
        # An API key has no token to refresh.
        self.error(self.admin("POST", f"/credentials/{kid}/refresh"), 400, "invalid_request",
                   "API key")

    # POST /credentials and /credentials/import

    def test_add_and_duplicate(self) -> None:
        acct = Account("adm-add", priority=7)
        cid = self.add(acct)
        cred = self.entry(cid)
        self.assertEqual(cred["priority"], 7)
        self.assertFalse(cred["disabled"])
        self.assertEqual(cred["email"], acct.email)
        self.error(self.admin("POST", "/credentials", acct.credential()), 409, "conflict",
                   f"already account {cid}")

    def test_add_refuses_bad_bodies(self) -> None:
        good = Account("adm-bad").credential()
        cases = [
            (b"{not json", "malformed JSON"),
            (b"", "JSON body"),
            (json.dumps([good]).encode(), "not array"),
            (json.dumps(dict(good, priority="high")).encode(), "priority"),
            (json.dumps(dict(good, refreshToken="aor" + "x" * 40)).encode(), "truncated"),
            (json.dumps(dict(good, refreshToken=good["refreshToken"][:120] + "...")).encode(),
             "truncated"),
            (json.dumps({"authMethod": "idc", "refreshToken": good["refreshToken"],
                         "clientId": "c"}).encode(), "clientSecret"),
            (json.dumps(dict(good, region="../../evil")).encode(), "region"),
        ]
        before = self.listing()["total"]
        for raw, words in cases:
            resp = self.admin("POST", "/credentials", raw=raw)
            doc = self.error(resp, 400, "invalid_request")
            self.assertIn(words.split()[-1], doc["error"]["message"], (raw[:60], doc))
        big = json.dumps(dict(good, email="x" * 70000)).encode()
        self.error(self.admin("POST", "/credentials", raw=big), 413, "invalid_request",
                   "limit")
        self.assertEqual(self.listing()["total"], before)

    def test_import_documents(self) -> None:
        a, b, c = Account("adm-imp-a"), Account("adm-imp-b"), Account("adm-imp-c")
        type(self).added += [a, b, c]
        doc = self.ok("POST", "/credentials/import", [a.credential(), b.credential()])
        self.assertEqual((doc["added"], doc["duplicates"]), (2, 0))
        ids = [e["id"] for e in doc["credentials"]]
        self.assertEqual([e["index"] for e in doc["credentials"]], [0, 1])
        # Again, with one new entry: the old ones are duplicates.
        doc = self.ok("POST", "/credentials/import",
                      [a.credential(), b.credential(), c.credential()])
        self.assertEqual((doc["added"], doc["duplicates"]), (1, 2))
        self.assertEqual([e["id"] for e in doc["credentials"]][:2], ids)
        self.assertEqual([e["duplicate"] for e in doc["credentials"]], [True, True, False])
        # One object is a document too.
        d = Account("adm-imp-d")
        type(self).added.append(d)
        doc = self.ok("POST", "/credentials/import", d.credential())
        self.assertEqual(doc["added"], 1)
        # A bad entry names its index, and nothing is added.
        e = Account("adm-imp-e")
        before = self.listing()["total"]
        bad = self.admin("POST", "/credentials/import",
                         [e.credential(), {"refreshToken": 5}])
        self.error(bad, 400, "invalid_request", "entry 2", "refreshToken")
        self.error(self.admin("POST", "/credentials/import", []), 400, "invalid_request",
                   "empty")
        self.error(self.admin("POST", "/credentials/import", raw=b"[{"), 400,
                   "invalid_request")
        self.assertEqual(self.listing()["total"], before)

    # actions on one credential

    def test_disable_enable_priority_reset_history(self) -> None:
        cid = self.add(Account("adm-act"))
        doc = self.ok("POST", f"/credentials/{cid}/disabled", {"disabled": True})
        self.assertTrue(doc["success"])
        cred = self.entry(cid)
        self.assertTrue(cred["disabled"])
        self.assertEqual(cred["disabledReason"], "Manual")
        self.ok("POST", f"/credentials/{cid}/disabled", {"disabled": False})
        cred = self.entry(cid)
        self.assertFalse(cred["disabled"])
        self.assertNotIn("disabledReason", cred)
        self.ok("POST", f"/credentials/{cid}/priority", {"priority": 42})
        self.assertEqual(self.entry(cid)["priority"], 42)
        self.ok("POST", f"/credentials/{cid}/disabled", {"disabled": True})
        self.ok("POST", f"/credentials/{cid}/reset")
        self.assertFalse(self.entry(cid)["disabled"])
        hist = self.ok("GET", f"/accounts/{cid}/history")
        self.assertEqual(hist["id"], cid)
        moves = [(h["from"], h["to"]) for h in hist["history"]]
        self.assertEqual(moves, [("ok", "Manual"), ("Manual", "ok"), ("ok", "Manual"),
                                 ("Manual", "ok")])
        # Bad bodies name the field.
        for path, doc, field in ((f"/credentials/{cid}/disabled", {"disabled": "yes"},
                                  "disabled"),
                                 (f"/credentials/{cid}/disabled", {}, "disabled"),
                                 (f"/credentials/{cid}/priority", {"priority": -1},
                                  "priority"),
                                 (f"/credentials/{cid}/priority", {"priority": 1.5},
                                  "priority"),
                                 (f"/credentials/{cid}/priority", {"priority": 2 ** 40},
                                  "priority")):
            self.error(self.admin("POST", path, doc), 400, "invalid_request", f'"{field}"')
        self.error(self.admin("POST", f"/credentials/{cid}/priority", raw=b"[1]"), 400,
                   "invalid_request", "JSON object")
        # Unknown ids.
        for method, path, doc in (("POST", "/credentials/987654/disabled", {"disabled": True}),
                                  ("POST", "/credentials/987654/priority", {"priority": 1}),
                                  ("POST", "/credentials/987654/reset", None),
                                  ("POST", "/credentials/987654/refresh", None),
                                  ("GET", "/credentials/987654/balance", None),
                                  ("GET", "/accounts/987654/history", None),
                                  ("DELETE", "/credentials/987654", None)):
            self.error(self.admin(method, path, doc), 404, "not_found")

    def test_delete_needs_disabled_first(self) -> None:
        acct = Account("adm-del")
        cid = self.add(acct)
        self.error(self.admin("DELETE", f"/credentials/{cid}"), 409, "conflict",
                   "disable it first")
        self.assertFalse(self.entry(cid)["disabled"])
        self.ok("POST", f"/credentials/{cid}/disabled", {"disabled": True})
        self.assertTrue(self.ok("DELETE", f"/credentials/{cid}")["success"])
        self.assertNotIn(cid, [c["id"] for c in self.listing()["credentials"]])
        self.error(self.admin("DELETE", f"/credentials/{cid}"), 404, "not_found")
        # Deleted, it can be added again (a new id).
        self.assertNotEqual(self.add(acct), cid)

    def test_refresh(self) -> None:
        acct = Account("adm-ref", expires_at="2099-01-01T00:00:00Z")
        cid = self.add(acct)
        before = MOCK.stats()["refreshes_ok"]
        doc = self.ok("POST", f"/credentials/{cid}/refresh")
        self.assertTrue(doc["success"])
        self.assertEqual(MOCK.stats()["refreshes_ok"], before + 1)
        self.assertNotEqual(doc["expiresAt"][:4], "2099")   # the mock's expiry now
        self.assertEqual(self.entry(cid)["refreshTokenHash"],
                         hashlib.sha256([m for m in MOCK.accounts()
                                         if m["id"] == acct.mock_id][0]["refreshToken"]
                                        .encode()).hexdigest())
        # Kiro's auth refuses: 502.
        MOCK.update_account(acct, failRefresh={"status": 500, "times": 1,
                                               "body": {"message": "auth is down"}})
        self.error(self.admin("POST", f"/credentials/{cid}/refresh"), 502, "api_error",
                   "refresh failed")

    def test_balance_and_usage(self) -> None:
        acct = Account("adm-bal", mock={"usage": {"currentUsageWithPrecision": 25.0,
                                                  "usageLimitWithPrecision": 100.0,
                                                  "subscriptionTitle": "KIRO PRO+"}})
        cid = self.add(acct)
        broken = Account("adm-bal-x", mock={"usage": {"error": {"status": 500,
                                                               "body": {"message": "down"}}}})
        bid = self.add(broken)
        calls = MOCK.stats()["usage"]
        doc = self.ok("GET", f"/credentials/{cid}/balance")
        for field in ("id", "subscriptionTitle", "currentUsage", "usageLimit", "remaining",
                      "usagePercentage", "nextResetAt"):
            self.assertIn(field, doc)
        self.assertEqual((doc["id"], doc["subscriptionTitle"]), (cid, "KIRO PRO+"))
        self.assertEqual((doc["currentUsage"], doc["usageLimit"], doc["remaining"],
                          doc["usagePercentage"]), (25.0, 100.0, 75.0, 25.0))
        self.assertFalse(doc["cached"])
        self.assertEqual(MOCK.stats()["usage"], calls + 1)
        again = self.ok("GET", f"/credentials/{cid}/balance")
        self.assertTrue(again["cached"])
        self.assertEqual(MOCK.stats()["usage"], calls + 1)
        self.error(self.admin("GET", f"/credentials/{bid}/balance"), 502, "api_error")
        # GET /usage: what is cached, and Kiro is not asked.
        calls = MOCK.stats()["usage"]
        usage = {a["id"]: a for a in self.ok("GET", "/usage")["accounts"]}
        self.assertEqual(MOCK.stats()["usage"], calls)
        self.assertEqual(usage[cid]["usage"]["remaining"], 75.0)
        self.assertEqual(usage[cid]["email"], acct.email)
        self.assertIsNone(usage[bid]["usage"])

    # settings

    def test_load_balancing_and_rate_limits(self) -> None:
        self.assertEqual(self.ok("GET", "/config/load-balancing"), {"mode": "priority"})
        try:
            self.assertEqual(self.ok("PUT", "/config/load-balancing", {"mode": "balanced"}),
                             {"mode": "balanced"})
            self.assertEqual(self.ok("GET", "/config/load-balancing"), {"mode": "balanced"})
            for bad in ({"mode": "fastest"}, {"mode": 1}, {}, {"mode": None}):
                self.error(self.admin("PUT", "/config/load-balancing", bad), 400,
                           "invalid_request", '"mode"')
            self.assertEqual(self.ok("GET", "/config/load-balancing"), {"mode": "balanced"})
        finally:
            self.ok("PUT", "/config/load-balancing", {"mode": "priority"})
        self.assertEqual(self.ok("GET", "/config/rate-limits"),
                         {"minIntervalMs": 0, "perAccountRpm": 0, "globalRpm": 0})
        for bad, field in (({"globalRpm": -1}, "globalRpm"),
                           ({"perAccountRpm": "5"}, "perAccountRpm"),
                           ({"minIntervalMs": 10 ** 9}, "minIntervalMs")):
            self.error(self.admin("PUT", "/config/rate-limits", bad), 400, "invalid_request",
                       f'"{field}"')
        self.error(self.admin("PUT", "/config/rate-limits", {}), 400, "invalid_request",
                   "at least one")
        try:
            self.assertEqual(self.ok("PUT", "/config/rate-limits", {"globalRpm": 1}),
                             {"minIntervalMs": 0, "perAccountRpm": 0, "globalRpm": 1})
            first = self.g.messages(body("rate one"))
            self.assertEqual(first.status, 200, first.body[:300])
            second = self.g.messages(body("rate two"))
            self.assertEqual(second.status, 429, second.body[:300])
        finally:
            self.ok("PUT", "/config/rate-limits", {"globalRpm": 0})
        self.assertEqual(self.g.messages(body("rate three")).status, 200)
        self.assertEqual(self.ok("GET", "/config/sticky-seconds"), {"stickySeconds": 60})
        for bad in ({"stickySeconds": -1}, {"stickySeconds": 604801}, {"stickySeconds": "9"},
                    {}):
            self.error(self.admin("PUT", "/config/sticky-seconds", bad), 400,
                       "invalid_request", '"stickySeconds"')
        try:
            self.assertEqual(self.ok("PUT", "/config/sticky-seconds", {"stickySeconds": 0}),
                             {"stickySeconds": 0})
        finally:
            self.ok("PUT", "/config/sticky-seconds", {"stickySeconds": 60})

    def test_concurrent_changes_are_all_kept(self) -> None:
        one = self.add(Account("adm-con-1"))
        two = self.add(Account("adm-con-2"))
        calls = [lambda: self.admin("POST", f"/credentials/{one}/priority", {"priority": 11}),
                 lambda: self.admin("POST", f"/credentials/{one}/disabled", {"disabled": True}),
                 lambda: self.admin("POST", f"/credentials/{two}/priority", {"priority": 12}),
                 lambda: self.admin("POST", f"/credentials/{two}/disabled", {"disabled": True})]
        for resp in in_parallel(calls):
            self.assertEqual(resp.status, 200, resp.body[:300])
        a, b = self.entry(one), self.entry(two)
        self.assertEqual((a["priority"], a["disabled"]), (11, True))
        self.assertEqual((b["priority"], b["disabled"]), (12, True))


class _CrossProcess:
    """A setting changed through one responder process reaches the other."""

    server = "lighttpd"
    mount = "/kiro"

    def setUp(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        self.first = Account("adm-rr-a", priority=0)
        self.second = Account("adm-rr-b", priority=1)
        self.g = Gateway(self.server, MOCK, mount=self.mount, procs=2, threads=1,
                         accounts=[self.first, self.second],
                         config={"adminApiKey": ADMIN_KEY})
        self.g.start()
        self.addCleanup(check_trace, self.g.srv)
        self.addCleanup(self.g.stop)

    def put_mode(self, mode: str) -> None:
        resp = request(self.g.url("/api/admin/config/load-balancing"), "PUT",
                       json.dumps({"mode": mode}).encode(),
                       {"x-api-key": ADMIN_KEY, "Content-Type": "application/json"})
        self.assertEqual(resp.status, 200, resp.body[:300])

    def burst(self, tag: str) -> list[str]:
        before = len(MOCK.requests())
        resps = in_parallel([lambda i=i: self.g.messages(body(f"{tag} question {i}"))
                             for i in range(8)])
        for resp in resps:
            self.assertEqual(resp.status, 200, resp.body[:300])
        tokens = [e["headers"]["authorization"].split(" ", 1)[1]
                  for e in MOCK.requests()[before:]]
        names = {self.first.access_token: "a", self.second.access_token: "b"}
        return [names.get(t, "?") for t in tokens]

    def serving_pids(self, requests: int) -> list[str]:
        """The pid of each access-log line, once requests of them are written."""
        pattern = r"kiro-fcgi\[(\d+)\] INFO req=\S+ POST /v1/messages 200"
        # Each line is written after its answer: wait for every one.
        gw.wait_for(lambda: len(re.findall(pattern, self.g.log())) >= requests,
                    what=f"{requests} access-log lines")
        return re.findall(pattern, self.g.log())

    def admin_ok(self, method: str, path: str, doc=None) -> dict:
        data = json.dumps(doc).encode() if doc is not None else None
        resp = request(self.g.url("/api/admin" + path), method, data,
                       {"x-api-key": ADMIN_KEY, "Content-Type": "application/json"})
        self.assertEqual(resp.status, 200, resp.body[:300])
        return resp.json()

    def test_delete_an_account_in_use(self) -> None:
        creds = self.admin_ok("GET", "/credentials")["credentials"]
        first = [c["id"] for c in creds if c["email"] == self.first.email][0]
        MOCK.script({"kind": "slow", "count": 4, "delay_ms": 300},
                    token=self.first.access_token)
        data = json.dumps(body("a slow answer", stream=True)).encode()
        headers = {"x-api-key": self.g.api_key, "Content-Type": "application/json",
                   "anthropic-version": "2023-06-01"}
        with open_stream(self.g.url("/v1/messages"), "POST", data, headers) as resp:
            self.assertEqual(resp.status, 200)
            events = sse_events(resp)
            for event in events:
                if event.event == "content_block_delta":
                    break
            # The answer is on its way from the first account: remove it.
            self.admin_ok("POST", f"/credentials/{first}/disabled", {"disabled": True})
            self.admin_ok("DELETE", f"/credentials/{first}")
            rest = [event.event for event in events]
        self.assertEqual(rest[-1], "message_stop", rest)
        served = MOCK.requests()[-1]["headers"]["authorization"].split(" ", 1)[1]
        self.assertEqual(served, self.first.access_token)
        listed = self.admin_ok("GET", "/credentials")
        self.assertEqual([c["email"] for c in listed["credentials"]], [self.second.email])
        self.assertEqual(self.burst("after"), ["b"] * 8)

    def served(self, prompt: str) -> str:
        resp = self.g.messages(body(prompt))
        self.assertEqual(resp.status, 200, resp.body[:300])
        token = MOCK.requests()[-1]["headers"]["authorization"].split(" ", 1)[1]
        return {self.first.access_token: "a", self.second.access_token: "b"}.get(token, "?")

    def test_sticky_seconds_setting(self) -> None:
        self.put_mode("round-robin")
        # config.json's 60 s: one conversation stays on its account ...
        first = self.served("one conversation")
        self.assertEqual([self.served("one conversation") for _ in range(3)], [first] * 3)
        # ... and with stickySeconds 0 set through the API it follows the mode.
        status = self.g.kiroctl("status").stdout
        self.assertIn("sticky:        60 s\n", status)
        self.admin_ok("PUT", "/config/sticky-seconds", {"stickySeconds": 0})
        self.admin_ok("PUT", "/config/rate-limits", {"perAccountRpm": 1000})
        status = self.g.kiroctl("status").stdout
        self.assertIn("sticky:        0 s (set through the admin API)\n", status)
        self.assertIn("rate limits:   minIntervalMs 0, perAccountRpm 1000, globalRpm 0 "
                      "(set through the admin API)\n", status)
        got = [self.served("one conversation") for _ in range(4)]
        self.assertEqual(sorted(got), ["a", "a", "b", "b"], got)
        self.assertNotEqual(got[0], got[1])

    def test_mode_reaches_every_process(self) -> None:
        self.assertEqual(self.burst("prio"), ["a"] * 8)
        self.assertEqual(len(self.serving_pids(8)), 8)
        self.assertIn("balancing:     priority\n", self.g.kiroctl("status").stdout)
        self.put_mode("round-robin")
        # kiroctl says which mode is in effect, and where it comes from.
        self.assertIn("balancing:     round-robin (set through the admin API)\n",
                      self.g.kiroctl("status").stdout)
        served = self.burst("rr")
        self.assertEqual(sorted(served), ["a"] * 4 + ["b"] * 4, served)
        # Both processes served after the change (and so followed it).
        self.assertEqual(len(set(self.serving_pids(16)[8:])), 2,
                         "one process served every round-robin request")
        self.put_mode("priority")
        self.assertEqual(self.burst("prio again"), ["a"] * 8)


class AdminLighttpdMounted(_Admin, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"


class AdminLighttpdRoot(_Admin, unittest.TestCase):
    server, mount = "lighttpd", "/"


class AdminApacheMounted(_Admin, unittest.TestCase):
    server, mount = "apache", "/kiro"


class AdminApacheRoot(_Admin, unittest.TestCase):
    server, mount = "apache", "/"


class CrossProcessLighttpd(_CrossProcess, unittest.TestCase):
    server = "lighttpd"


class CrossProcessApache(_CrossProcess, unittest.TestCase):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
