#!/usr/bin/python3
"""Named client keys besides apiKey, behind real servers (issue 11).

Each class runs the same tests behind lighttpd and behind Apache, each
with 2 responder processes (one thread each), two accounts, round-robin
and stickySeconds 300, adminApiKey set.  Keys are made with kiroctl or the
admin API.  Covered:

  - a key made by `kiroctl keys add` works on the Anthropic, OpenAI (chat
    and responses) and Gemini routes (x-api-key, Bearer, x-goog-api-key,
    ?key=); apiKey still works and is counted as "default"; an unknown kf-
    key is 401 "invalid API key";
  - each limit in each API's error format, with a message naming the key
    and the limit: rpm as 429 with Retry-After (3 requests in flight over
    2 processes against rpm 2: exactly 2 served, both processes seen in
    the access log), monthly requests and monthly tokens as 403, a model
    outside the key's globs as 403 (either spelling: the client's name or
    the Kiro model), expiry and disabled as 401;
  - refused requests do not reach Kiro and are not counted;
  - rotate: the old key is 401 at once, the new one works, limits and
    usage kept; remove: 401;
  - kiroctl verbs: add prints only the key (kf- and 40 base62), a
    duplicate and bad flags fail with a reason, list and list --json show
    limits and usage this month (requests and the answers' tokens), never
    the key; enable/disable/remove of an unknown key fail;
  - the admin API: GET/POST /keys (201 with the key once; 400 for bad
    fields, 409 for a duplicate), POST /keys/{name}/disabled, /rotate,
    DELETE /keys/{name}, 404 for an unknown key, 405 with Allow, 401
    without the admin key and 403 with the client apiKey; no answer but
    the making one holds a key;
  - the key never in clear in the state file nor in any log (its hash is
    in the store); the key's name is in the access log line;
  - stickiness per key: one conversation sent with two keys is two
    sessions (round-robin puts them on two accounts), each sticking to
    its own account;
  - GET /metrics counts requests and tokens by key.

Run: KIRO_BUILDDIR=build /usr/bin/python3 tests/integration/test_client_keys.py
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import unittest
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, body, in_parallel, request  # noqa: E402

MOCK: Mock | None = None
ADMIN_KEY = "sk-admin-keys-" + "q" * 20
MODEL = "claude-sonnet-4-5"
GEMINI_MODEL = "gemini-2.5-flash"
KEY_RE = re.compile(r"^kf-[A-Za-z0-9]{40}$")


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def post(g: Gateway, path: str, doc: dict, headers: dict) -> gw.harness.Response:
    hdrs = {"Content-Type": "application/json", "anthropic-version": "2023-06-01"}
    hdrs.update(headers)
    return request(g.url(path), "POST", json.dumps(doc).encode(), hdrs)


def anthropic(g: Gateway, key: str, prompt: str = "hello", model: str = MODEL, **extra):
    return post(g, "/v1/messages", body(prompt, model=model, **extra), {"x-api-key": key})


def openai_chat(g: Gateway, key: str, prompt: str = "hello", model: str = MODEL):
    return post(g, "/v1/chat/completions",
                {"model": model, "messages": [{"role": "user", "content": prompt}]},
                {"Authorization": f"Bearer {key}"})


def openai_responses(g: Gateway, key: str, prompt: str = "hello", model: str = MODEL):
    return post(g, "/v1/responses", {"model": model, "input": prompt},
                {"Authorization": f"Bearer {key}"})


def gemini(g: Gateway, key: str, prompt: str = "hello", model: str = GEMINI_MODEL,
           query: bool = False):
    path = f"/v1beta/models/{model}:generateContent"
    doc = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    if query:
        return post(g, path + "?key=" + quote(key), doc, {})
    return post(g, path, doc, {"x-goog-api-key": key})


API_CALLS = {"anthropic": anthropic, "openai_chat": openai_chat,
             "openai_responses": openai_responses, "gemini": gemini}


class _Keys:
    server = "lighttpd"
    gateway: Gateway | None = None

    @classmethod
    def setUpClass(cls) -> None:
        missing = gw.SERVERS[cls.server].missing()
        if missing is not None:
            raise AssertionError(missing)
        MOCK.reset()
        cls.first, cls.second = Account("ck-a", priority=0), Account("ck-b", priority=1)
        cls.gateway = Gateway(cls.server, MOCK, mount="/kiro", procs=2, threads=1,
                              accounts=[cls.first, cls.second],
                              config={"adminApiKey": ADMIN_KEY,
                                      "loadBalancingMode": "round-robin",
                                      "stickySeconds": 300})
        cls.gateway.start()
        # The responder makes the state directory (as its own user) before
        # kiroctl, which runs as root here, first opens it.
        resp = cls.gateway.get("/v1/models")
        assert resp.status == 200, resp.body[:300]
        cls.made: list[str] = []
        cls.answers: list[bytes] = []
        cls.n = 0

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.gateway is None:
            return
        g = cls.gateway
        log = g.log()
        db = b""
        for path in sorted(g.state_dir.iterdir()):
            if path.is_file():
                db += path.read_bytes()
        srv = g.srv
        g.stop()
        # Under TRACEME=valgrind, the responders reported nothing.
        problems = getattr(srv, "_trace_problems", None)
        assert not problems, "valgrind reported errors:\n" + "\n".join(problems)
        # The keys were made: none is in a log or the state file in clear.
        assert cls.made, "no key was made"
        for key in cls.made:
            assert key not in log, "a client key is in the log"
            assert key.encode() not in db, "a client key is in the state file"
            assert key[3:].encode() not in db
        assert hashlib.sha256(cls.made[0].encode()).hexdigest().encode() in db or \
            len(cls.made) > 1

    def setUp(self) -> None:
        self.g = self.gateway
        MOCK.reset()
        self.g.register_accounts()

    def tearDown(self) -> None:
        # Only the answers that made a key may hold it.
        for text in self.answers:
            for key in self.made:
                self.assertNotIn(key.encode(), text, "a key reached an answer")
        type(self).answers = []

    # helpers

    def name(self, stem: str) -> str:
        type(self).n += 1
        return f"{stem}{type(self).n}"

    def add(self, name: str, *flags: str) -> str:
        proc = self.g.kiroctl("keys", "add", name, *flags)
        key = proc.stdout.strip()
        self.assertRegex(key, KEY_RE)
        self.assertIn("shown this once", proc.stderr)
        self.made.append(key)
        return key

    def admin(self, method: str, path: str, doc=None, key: str = ADMIN_KEY,
              keep: bool = True) -> gw.harness.Response:
        data = json.dumps(doc).encode() if doc is not None else None
        resp = request(self.g.url("/api/admin" + path), method, data,
                       {"x-api-key": key, "Content-Type": "application/json"})
        if keep:
            self.answers.append(resp.body)
        return resp

    def keys_json(self) -> dict:
        rows = json.loads(self.g.kiroctl("keys", "list", "--json").stdout)
        return {row["name"]: row for row in rows}

    def calls(self) -> int:
        return len(MOCK.requests())

    def access_lines(self, n: int, pattern: str) -> list[str]:
        # Each line is written after its answer: wait for all of them.
        gw.wait_for(lambda: len(re.findall(pattern, self.g.log())) >= n,
                    what=f"{n} access-log lines")
        return re.findall(pattern, self.g.log())

    def assert_gemini_error(self, resp, status: int, state: str, text: str) -> None:
        self.assertEqual(resp.status, status, resp.body[:300])
        doc = resp.json()
        self.assertEqual(set(doc), {"error"}, doc)
        self.assertEqual(doc["error"]["code"], status, doc)
        self.assertEqual(doc["error"]["status"], state, doc)
        self.assertIn(text, doc["error"]["message"], doc)

    def assert_refused(self, api: str, resp, status: int, text: str) -> None:
        """resp is the limit's error in api's own format."""
        self.answers.append(resp.body)
        if api == "anthropic":
            types = {401: "authentication_error", 403: "permission_error",
                     429: "rate_limit_error"}
            gw.assert_anthropic_error(self, resp, status, types[status], [text])
        elif api == "gemini":
            states = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                      429: "RESOURCE_EXHAUSTED"}
            self.assert_gemini_error(resp, status, states[status], text)
        else:
            types = {401: "authentication_error", 403: "permission_error",
                     429: "rate_limit_error"}
            gw.assert_openai_error(self, resp, status, types[status], [text])

    # -- working keys

    def test_a_key_works_on_every_api_and_apikey_still_works(self) -> None:
        key = self.add(self.name("all"))
        for api, call in API_CALLS.items():
            resp = call(self.g, key, f"every api {api}")
            self.assertEqual(resp.status, 200, (api, resp.body[:300]))
        resp = gemini(self.g, key, "by query", query=True)
        self.assertEqual(resp.status, 200, resp.body[:300])
        resp = anthropic(self.g, gw.API_KEY, "apiKey still works")
        self.assertEqual(resp.status, 200, resp.body[:300])
        resp = anthropic(self.g, "kf-" + "x" * 40, "unknown")
        self.assert_refused("anthropic", resp, 401, "invalid API key")
        lines = self.access_lines(1, r"POST /v1/messages 200 .* key=default")
        self.assertTrue(lines)

    # -- limits, in each API's format

    def test_rpm_with_requests_in_flight_over_two_processes(self) -> None:
        name = self.name("rpm")
        key = self.add(name, "--rpm", "2")
        MOCK.script({"kind": "slow", "count": 3, "delay_ms": 200}, times=3)
        before = self.calls()
        resps = in_parallel([lambda i=i: anthropic(self.g, key, f"in flight {i}")
                             for i in range(3)])
        statuses = sorted(r.status for r in resps)
        self.assertEqual(statuses, [200, 200, 429], [r.body[:200] for r in resps])
        refused = [r for r in resps if r.status == 429][0]
        self.assert_refused("anthropic", refused, 429,
                            f"client key '{name}' is over its limit of 2 requests per minute")
        self.assertTrue(refused.headers.get("Retry-After", "").isdigit(), refused.headers)
        self.assertGreater(int(refused.headers["Retry-After"]), 0)
        self.assertEqual(self.calls() - before, 2)
        # Every API says so in its own terms.
        for api in ("openai_chat", "openai_responses", "gemini"):
            resp = API_CALLS[api](self.g, key, "over")
            self.assert_refused(api, resp, 429, "over its limit of 2 requests per minute")
            self.assertTrue(resp.headers.get("Retry-After", "").isdigit(), resp.headers)
        self.assertEqual(self.keys_json()[name]["usage"]["requests"], 2)

    def test_the_window_is_shared_by_both_processes(self) -> None:
        name = self.name("procs")
        key = self.add(name, "--rpm", "4")
        # 4 in flight over 2 processes of one thread each: both serve.
        resps = in_parallel([lambda i=i: anthropic(self.g, key, f"shared {i}")
                             for i in range(4)])
        self.assertEqual([r.status for r in resps], [200] * 4)
        pattern = rf"kiro-fcgi\[(\d+)\][^\n]* POST /v1/messages 200 [^\n]* key={name}\b"
        pids = set(self.access_lines(4, pattern))
        # Both processes served it, else the window proves nothing shared.
        self.assertEqual(len(pids), 2, "both processes served this key")
        resp = openai_chat(self.g, key, "fifth")
        self.assert_refused("openai_chat", resp, 429, "4 requests per minute")

    def test_monthly_requests(self) -> None:
        name = self.name("month")
        key = self.add(name, "--monthly-requests", "2")
        self.assertEqual(anthropic(self.g, key, "one").status, 200)
        self.assertEqual(gemini(self.g, key, "two").status, 200)
        before = self.calls()
        text = f"client key '{name}' is over its limit of 2 requests per month"
        for api, call in API_CALLS.items():
            self.assert_refused(api, call(self.g, key, "three"), 403, text)
        self.assertEqual(self.calls(), before, "a refused request reached Kiro")
        row = self.keys_json()[name]
        self.assertEqual(row["usage"]["requests"], 2)
        self.assertEqual(row["limits"]["monthlyRequests"], 2)

    def test_monthly_tokens(self) -> None:
        name = self.name("tokens")
        key = self.add(name, "--monthly-tokens", "5")
        resp = anthropic(self.g, key, "spend some tokens")
        self.assertEqual(resp.status, 200, resp.body[:300])
        usage = resp.json()["usage"]
        spent = usage["input_tokens"] + usage["output_tokens"] + \
            usage.get("cache_read_input_tokens", 0) + \
            usage.get("cache_creation_input_tokens", 0)
        self.assertGreaterEqual(spent, 5)
        # The tokens are added after the answer: wait for its access-log line.
        self.access_lines(1, rf"POST /v1/messages 200 .* key={name}\b")
        gw.wait_for(lambda: self.keys_json()[name]["usage"]["tokens"] >= 5,
                    what="the answer's tokens counted")
        text = f"client key '{name}' is over its limit of 5 tokens per month"
        for api, call in API_CALLS.items():
            self.assert_refused(api, call(self.g, key, "more"), 403, text)

    def test_models_outside_the_globs(self) -> None:
        name = self.name("models")
        key = self.add(name, "--models", "claude-sonnet-*,gemini-*")
        self.assertEqual(anthropic(self.g, key, "sonnet").status, 200)
        # The client's name (gemini-2.5-flash is a haiku at Kiro) ...
        self.assertEqual(gemini(self.g, key, "gemini").status, 200)
        # ... or the Kiro model (gpt-4o is claude-sonnet-4.5).
        self.assertEqual(openai_chat(self.g, key, "gpt", model="gpt-4o").status, 200)
        before = self.calls()
        text = f"client key '{name}' may not use model 'claude-haiku-4-5'"
        self.assert_refused("anthropic", anthropic(self.g, key, "haiku",
                                                   model="claude-haiku-4-5"), 403, text)
        self.assert_refused("openai_chat", openai_chat(self.g, key, "mini",
                                                       model="gpt-4o-mini"), 403,
                            "may not use model 'gpt-4o-mini'")
        self.assert_refused("openai_responses",
                            openai_responses(self.g, key, "haiku", model="claude-haiku-4-5"),
                            403, text)
        self.assertEqual(self.calls(), before)

    def test_expired_and_disabled_keys(self) -> None:
        name = self.name("old")
        key = self.add(name, "--expires", "2020-01-01")
        text = f"client key '{name}' expired on 2020-01-01"
        for api, call in API_CALLS.items():
            self.assert_refused(api, call(self.g, key, "late"), 401, text)
        name = self.name("off")
        key = self.add(name)
        self.assertEqual(anthropic(self.g, key).status, 200)
        self.g.kiroctl("keys", "disable", name)
        for api, call in API_CALLS.items():
            self.assert_refused(api, call(self.g, key, "off"), 401,
                                f"client key '{name}' is disabled")
        self.assertEqual(self.keys_json()[name]["state"], "disabled")
        self.g.kiroctl("keys", "enable", name)
        self.assertEqual(anthropic(self.g, key).status, 200)

    # -- rotate, remove, kiroctl

    def test_rotate_and_remove(self) -> None:
        name = self.name("rot")
        old = self.add(name, "--rpm", "100")
        self.assertEqual(anthropic(self.g, old).status, 200)
        proc = self.g.kiroctl("keys", "rotate", name)
        new = proc.stdout.strip()
        self.assertRegex(new, KEY_RE)
        self.made.append(new)
        self.assertNotEqual(new, old)
        self.assert_refused("anthropic", anthropic(self.g, old), 401, "invalid API key")
        self.assertEqual(anthropic(self.g, new).status, 200)
        row = self.keys_json()[name]
        self.assertEqual(row["limits"]["rpm"], 100)
        self.assertEqual(row["usage"]["requests"], 2)
        self.assertEqual(row["keyPrefix"], new[:4])
        self.assertEqual(row["keyHash"], hashlib.sha256(new.encode()).hexdigest())
        self.g.kiroctl("keys", "remove", name)
        self.assert_refused("gemini", gemini(self.g, new), 401, "invalid API key")
        self.assertNotIn(name, self.keys_json())

    def test_kiroctl_verbs(self) -> None:
        name = self.name("ctl")
        key = self.add(name, "--models", "claude-*", "--rpm", "7",
                       "--monthly-requests", "70", "--monthly-tokens", "7000",
                       "--expires", "2099-12-31")
        proc = self.g.kiroctl("keys", "add", name, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("exists", proc.stderr)
        for bad in (["--rpm", "x"], ["--rpm", "10000000"], ["--expires", "2099-13-01"],
                    ["--models", "a,,b"]):
            proc = self.g.kiroctl("keys", "add", self.name("bad"), *bad, check=False)
            self.assertNotEqual(proc.returncode, 0, bad)
            self.assertEqual(proc.stdout, "", bad)
        proc = self.g.kiroctl("keys", "add", "default", check=False)
        self.assertNotEqual(proc.returncode, 0)
        for verb in ("enable", "disable", "remove", "rotate"):
            proc = self.g.kiroctl("keys", verb, "nosuchkey", check=False)
            self.assertEqual(proc.returncode, 1, verb)
            self.assertIn("no client key called", proc.stderr)
        self.assertEqual(anthropic(self.g, key).status, 200)
        table = self.g.kiroctl("keys", "list").stdout
        self.assertRegex(table, rf"(?m)^{name}\s+active\s+{re.escape(key[:4])}\.\.\.\s+7\s+1/70\s+")
        self.assertIn("2099-12-31", table)
        row = self.keys_json()[name]
        self.assertEqual(row["models"], ["claude-*"])
        self.assertEqual(row["limits"], {"rpm": 7, "monthlyRequests": 70,
                                         "monthlyTokens": 7000})
        self.assertEqual(row["expires"], "2099-12-31T00:00:00Z")
        listing = self.g.kiroctl("keys", "list", "--json").stdout + table
        for made in self.made:
            self.assertNotIn(made, listing)

    # -- the admin API

    def test_admin_routes(self) -> None:
        name = self.name("adm")
        resp = self.admin("POST", "/keys", {"name": name, "models": ["claude-*"],
                                            "rpm": 30, "monthlyTokens": 1000000,
                                            "expires": "2099-01-01"}, keep=False)
        self.assertEqual(resp.status, 201, resp.body[:300])
        made = resp.json()
        key = made["key"]
        self.assertRegex(key, KEY_RE)
        self.made.append(key)
        self.assertEqual(made["keyPrefix"], key[:4])
        self.assertEqual(made["limits"], {"rpm": 30, "monthlyRequests": 0,
                                          "monthlyTokens": 1000000})
        self.assertEqual(anthropic(self.g, key).status, 200)
        resp = self.admin("GET", "/keys")
        self.assertEqual(resp.status, 200)
        rows = {r["name"]: r for r in resp.json()["keys"]}
        self.assertEqual(rows[name]["usage"]["requests"], 1)
        self.assertEqual(rows[name]["keyHash"], hashlib.sha256(key.encode()).hexdigest())
        # Refusals.
        self.assertEqual(self.admin("POST", "/keys", {"name": name}).status, 409)
        for bad in ({"name": "a/b"}, {"name": "default"}, {"name": "x", "rpm": -1},
                    {"name": "x", "rpm": "1"}, {"name": "x", "expires": "soon"},
                    {"name": "x", "models": "a,,b"}, {"name": "x", "other": 1},
                    {"name": "x", "models": [1]}):
            resp = self.admin("POST", "/keys", bad)
            self.assertEqual(resp.status, 400, (bad, resp.body[:200]))
            self.assertEqual(resp.json()["error"]["type"], "invalid_request")
        resp = request(self.g.url("/api/admin/keys"), "POST", b"{not json",
                       {"x-api-key": ADMIN_KEY})
        self.assertEqual(resp.status, 400)
        self.assertEqual(self.admin("POST", "/keys/nosuch/disabled",
                                    {"disabled": True}).status, 404)
        self.assertEqual(self.admin("DELETE", "/keys/nosuch").status, 404)
        self.assertEqual(self.admin("POST", "/keys/nosuch/rotate").status, 404)
        self.assertEqual(self.admin("GET", f"/keys/{name}/other").status, 404)
        resp = self.admin("GET", f"/keys/{name}/rotate")
        self.assertEqual(resp.status, 405)
        self.assertEqual(resp.headers.get("Allow"), "POST")
        resp = self.admin("PUT", "/keys")
        self.assertEqual(resp.status, 405)
        self.assertEqual(resp.headers.get("Allow"), "GET, POST")
        self.assertEqual(self.admin("GET", "/keys", key="wrong").status, 401)
        self.assertEqual(self.admin("GET", "/keys", key=gw.API_KEY).status, 403)
        self.assertEqual(self.admin("GET", "/keys", key=key).status, 401)
        # disabled, rotate, delete.
        resp = self.admin("POST", f"/keys/{name}/disabled", {"disabled": True})
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertEqual(resp.json()["state"], "disabled")
        self.assertEqual(anthropic(self.g, key).status, 401)
        self.assertEqual(self.admin("POST", f"/keys/{name}/disabled",
                                    {"disabled": "no"}).status, 400)
        self.admin("POST", f"/keys/{name}/disabled", {"disabled": False})
        resp = self.admin("POST", f"/keys/{name}/rotate", keep=False)
        self.assertEqual(resp.status, 200, resp.body[:300])
        new = resp.json()["key"]
        self.made.append(new)
        self.assertEqual(anthropic(self.g, key).status, 401)
        self.assertEqual(anthropic(self.g, new).status, 200)
        resp = self.admin("DELETE", f"/keys/{name}")
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertEqual(anthropic(self.g, new).status, 401)
        self.assertNotIn(name, {r["name"] for r in self.admin("GET", "/keys").json()["keys"]})

    # -- stickiness and metrics

    def account_of_calls(self, start: int) -> list[str]:
        names = {self.first.access_token: "a", self.second.access_token: "b"}
        return [names.get(e["headers"]["authorization"].split(" ", 1)[1], "?")
                for e in MOCK.requests()[start:]]

    def test_stickiness_per_key(self) -> None:
        one, two = self.add(self.name("s")), self.add(self.name("s"))
        conv = {"metadata": {"user_id": "user-sticky-" + gw._rand(8)}}
        start = len(MOCK.requests())
        for key in (one, two, one, two, one, two):
            resp = anthropic(self.g, key, "the same conversation", **conv)
            self.assertEqual(resp.status, 200, resp.body[:300])
        served = self.account_of_calls(start)
        # Two sessions, round-robin put them apart, and each stuck.
        self.assertEqual(len(served), 6)
        self.assertEqual(served[0::2], [served[0]] * 3, served)
        self.assertEqual(served[1::2], [served[1]] * 3, served)
        self.assertNotEqual(served[0], served[1], served)

    def test_metrics_by_key(self) -> None:
        name = self.name("met")
        key = self.add(name)
        for i in range(3):
            self.assertEqual(openai_chat(self.g, key, f"metric {i}").status, 200)
        self.access_lines(3, rf"POST /v1/chat/completions 200 .* key={name}\b")
        resp = request(self.g.url("/metrics"), "GET", None, {"x-api-key": ADMIN_KEY})
        self.assertEqual(resp.status, 200)
        text = resp.body.decode()
        total = sum(float(v) for v in re.findall(
            rf'(?m)^kiro_fcgi_requests_total\{{[^}}]*key="{name}"[^}}]*\}} (\S+)$', text))
        self.assertEqual(total, 3, text[:2000])
        tokens = sum(float(v) for v in re.findall(
            rf'(?m)^kiro_fcgi_output_tokens_total\{{[^}}]*key="{name}"[^}}]*\}} (\S+)$', text))
        self.assertGreater(tokens, 0)

    def test_flows_and_stats_by_key(self) -> None:
        name = self.name("flo")
        key = self.add(name)
        for i in range(2):
            self.assertEqual(anthropic(self.g, key, f"flow {i}").status, 200)
        self.assert_refused("anthropic", anthropic(self.g, "kf-" + "y" * 40, "nobody"),
                            401, "invalid API key")
        self.access_lines(2, rf"POST /v1/messages 200 .* key={name}\b")
        resp = self.admin("GET", f"/flows?key={name}")
        self.assertEqual(resp.status, 200, resp.body[:300])
        recs = resp.json()["flows"]
        self.assertEqual(len(recs), 2, recs)
        self.assertTrue(all(r["key"] == name and r["status"] == 200 for r in recs), recs)
        resp = self.admin("GET", "/stats?hours=1")
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertIn(name, json.dumps(resp.json()))
        # A refused key is recorded with no key name, never the key itself.
        self.assertNotIn("y" * 40, resp.body.decode())


class ClientKeysLighttpd(_Keys, unittest.TestCase):
    server = "lighttpd"


class ClientKeysApache(_Keys, unittest.TestCase):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
