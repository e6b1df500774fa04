#!/usr/bin/python3
"""Kiro API-key accounts (ksk_..., authMethod api_key) end to end, behind lighttpd and Apache.

The mock upstream accepts a key only as "Authorization: Bearer ksk_..." with
"tokentype: API_KEY", and no refresh endpoint accepts one.  Each test starts
its own gateway (a fresh state directory) with accounts from a kiro.rs
credentials file ({"kiroApiKey", "authMethod": "api_key"}); the mock is
shared by the module and reset before each test.  Covered, on both servers:

  - `kiroctl accounts add --kiro-api-key -` (the key on standard input)
    adds an account that serves at once;
  - serving: the four APIs (Anthropic Messages, OpenAI Chat Completions,
    OpenAI Responses, Gemini generateContent / streamGenerateContent), each
    streamed and not, answer the mock's text through an API-key account; every
    upstream call carried the key with tokentype API_KEY, and no refresh
    endpoint was called;
  - usage: `kiroctl usage` and `kiroctl health-check` read getUsageLimits
    with the key; `kiroctl refresh` (and --force) makes no upstream call at
    all and says the account has nothing to refresh;
  - masking: the key never appears in `accounts list` (text and --json),
    `accounts export` without --with-secrets, the responder's log or any
    client answer; `export --with-secrets` gives it back whole;
  - a refused key (403 bearer-invalid): one upstream call with it, no
    refresh call, the account is disabled (InvalidConfig, "Kiro refused the
    API key") and the request is served by the next account; alone, the
    client gets a 503 that says the key was refused, and the next request
    makes no upstream call; each API gives that 503 in its own error shape;
    a key refused by getUsageLimits
    (`kiroctl health-check`) disables its account the same way;
  - a refused key under concurrency (8 requests in flight over 2 processes
    x 4 threads): with a second account every request is served by it;
    alone, every request gets the 503 that says the key was refused; either
    way the account is disabled once (one "disabled" log line, InvalidConfig),
    nothing is refreshed, and a later request never sends the key again.

Run: KIRO_BUILDDIR=build /usr/bin/python3 tests/integration/test_apikey.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, in_parallel, sse_events  # noqa: E402

MOCK: Mock | None = None
ANSWER = "Hello from mock Kiro. You said: "


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


class KeyAccount(Account):
    """A Kiro API key: what kiro.rs writes for one, and the mock's record of it."""

    def __init__(self, name: str, *, priority: int = 0):
        super().__init__(name, priority=priority, auth_method="api_key")
        self.api_key = "ksk_" + gw._rand(64)

    def credential(self) -> dict:
        return {"kiroApiKey": self.api_key, "authMethod": "api_key",
                "email": self.email, "priority": self.priority}

    def mock_spec(self) -> dict:
        return {"id": self.mock_id, "kiroApiKey": self.api_key, "authMethod": "api_key"}

    def secrets(self) -> list[str]:
        return [self.api_key]


# --- the four APIs: a request and the answer text, plain and streamed ----------------


class ApiError(Exception):
    """A non-200 answer: its status and its JSON error body."""

    def __init__(self, status: int, doc: dict):
        super().__init__(f"HTTP {status}: {doc}")
        self.status = status
        self.doc = doc


def check(resp) -> None:
    if resp.status != 200:
        raise ApiError(resp.status, resp.json())


def _sse_json(resp) -> list[dict]:
    out = []
    for event in sse_events(resp.chunks):
        if event.data and event.data != "[DONE]":
            out.append(json.loads(event.data))
    return out


def anthropic(g: Gateway, prompt: str, stream: bool) -> str:
    resp = g.post("/v1/messages", gw.body(prompt, stream=stream))
    check(resp)
    if not stream:
        return resp.json()["content"][0]["text"]
    return "".join(d["delta"].get("text", "") for d in _sse_json(resp)
                   if d.get("type") == "content_block_delta")


def openai_chat(g: Gateway, prompt: str, stream: bool) -> str:
    resp = g.post("/v1/chat/completions", {"model": gw.MODEL, "stream": stream,
                  "messages": [{"role": "user", "content": prompt}]}, auth="bearer")
    check(resp)
    if not stream:
        return resp.json()["choices"][0]["message"]["content"]
    return "".join(c["delta"].get("content") or "" for d in _sse_json(resp)
                   for c in d.get("choices", []))


def openai_responses(g: Gateway, prompt: str, stream: bool) -> str:
    resp = g.post("/v1/responses", {"model": gw.MODEL, "stream": stream, "input": prompt},
                  auth="bearer")
    check(resp)
    if not stream:
        return "".join(part["text"] for item in resp.json()["output"]
                       if item.get("type") == "message" for part in item["content"])
    return "".join(d["delta"] for d in _sse_json(resp)
                   if d.get("type") == "response.output_text.delta")


def gemini(g: Gateway, prompt: str, stream: bool) -> str:
    op = "streamGenerateContent?alt=sse" if stream else "generateContent"
    resp = g.post(f"/v1beta/models/gemini-2.5-pro:{op}",
                  {"contents": [{"role": "user", "parts": [{"text": prompt}]}]},
                  headers={"x-goog-api-key": g.api_key}, auth=None)
    check(resp)
    docs = _sse_json(resp) if stream else [resp.json()]
    return "".join(p.get("text", "") for d in docs for c in d.get("candidates", [])
                   for p in c.get("content", {}).get("parts", []))


APIS = {"anthropic": anthropic, "openai-chat": openai_chat,
        "openai-responses": openai_responses, "gemini": gemini}


DISABLED_LINE = "disabled: Kiro refused the API key"


class _ApiKeys:
    server = "lighttpd"

    def setUp(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        MOCK.reset()
        self.client_bodies: list[bytes] = []

    def start(self, accounts, **kw) -> Gateway:
        g = Gateway(self.server, MOCK, accounts=accounts, **kw).start()
        self.addCleanup(g.stop)
        self.addCleanup(self.check_no_key_shown, g)
        # The responder imports the credentials file when it starts.
        self.assertEqual(g.get("/health").status, 200)
        return g

    def send(self, g: Gateway, prompt: str):
        resp = g.post("/v1/messages", gw.body(prompt))
        self.client_bodies.append(resp.body)
        return resp

    def check_no_key_shown(self, g: Gateway) -> None:
        """Runs before the gateway stops: no key in the log or a client's answer."""
        log = g.log()
        for account in g.accounts:
            for secret in account.secrets():
                self.assertNotIn(secret, log, "a key is in the responder log")
                for text in self.client_bodies:
                    self.assertNotIn(secret.encode(), text, "a key reached a client")

    def row(self, g: Gateway, account: Account) -> str:
        listed = g.kiroctl("accounts", "list").stdout
        return [line for line in listed.splitlines() if account.email in line][0]

    # serving

    def test_four_apis_streamed_and_not_with_the_key(self) -> None:
        key = KeyAccount("key")
        g = self.start([key])
        for name, call in APIS.items():
            for stream in (False, True):
                with self.subTest(api=name, stream=stream):
                    prompt = f"key {name} {stream}"
                    self.assertEqual(call(g, prompt, stream), ANSWER + prompt)
        calls = MOCK.requests()
        self.assertEqual(len(calls), 8)
        for entry in calls:
            self.assertEqual(entry["status"], 200)
            self.assertEqual(entry["headers"]["authorization"], "Bearer " + key.api_key)
            self.assertEqual(entry["headers"].get("tokentype"), "API_KEY")
            self.assertEqual(entry["auth_kind"], "api_key")
        self.assertEqual(MOCK.stats()["refreshes"], 0)

    def test_usage_and_no_cron_work(self) -> None:
        key = KeyAccount("key")
        g = self.start([key])
        usage = g.kiroctl("usage").stdout
        self.assertIn("KIRO PRO", usage)
        self.assertIn("12.50", usage)
        self.assertIn("ok", g.kiroctl("health-check").stdout)
        used = MOCK.requests("getUsageLimits")
        self.assertGreaterEqual(len(used), 1)
        self.assertTrue(all(e["auth_kind"] == "api_key" and e["status"] == 200 for e in used))
        before = len(MOCK.requests(None))
        for args in (("refresh",), ("refresh", "--force")):
            out = g.kiroctl(*args).stdout
            self.assertIn("account 1: API key, nothing to refresh", out)
        self.assertEqual(len(MOCK.requests(None)), before, "kiroctl refresh called upstream")
        self.assertEqual(MOCK.stats()["refreshes"], 0)

    def test_key_masked_in_list_and_export(self) -> None:
        key = KeyAccount("key")
        g = self.start([key])
        row = self.row(g, key)
        self.assertIn("api_key", row)
        self.assertIn("never", row)          # an API key does not expire
        listed = g.kiroctl("accounts", "list", "--json").stdout
        exported = g.kiroctl("accounts", "export").stdout
        for text in (listed, exported, row):
            self.assertNotIn(key.api_key, text)
            self.assertNotIn(key.api_key[4:12], text)
        self.assertEqual(json.loads(listed)[0]["authMethod"], "api_key")
        self.assertTrue(json.loads(exported)[0]["kiroApiKey"].startswith("ksk_"))
        whole = json.loads(g.kiroctl("accounts", "export", "--with-secrets").stdout)
        self.assertEqual(whole[0]["kiroApiKey"], key.api_key)

    def test_key_added_with_kiroctl_serves(self) -> None:
        key = KeyAccount("added")
        g = Gateway(self.server, MOCK, accounts=[key], credentials_file=False).start()
        self.addCleanup(g.stop)
        self.addCleanup(self.check_no_key_shown, g)
        # The responder creates the state directory (as its own user).
        self.assertEqual(g.get("/health").status, 200)
        # "-": the key from standard input, never in argv (ps).
        proc = subprocess.run([str(gw.KIROCTL), "-c", str(g.config_path), "accounts", "add",
                               "--kiro-api-key", "-", "--email", key.email],
                              input=key.api_key + "\n", capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertNotIn(key.api_key, proc.stdout + proc.stderr)
        self.assertIn("api_key", self.row(g, key))
        self.assertEqual(anthropic(g, "added key", True), ANSWER + "added key")
        self.assertEqual(MOCK.requests()[-1]["auth_kind"], "api_key")

    # a refused key

    def test_refused_key_disables_and_the_next_account_serves(self) -> None:
        key, social = KeyAccount("key", priority=0), Account("social", priority=1)
        g = self.start([key, social])
        MOCK.revoke(accessToken=key.api_key)
        resp = self.send(g, "after the key died")
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertEqual(resp.json()["content"][0]["text"], ANSWER + "after the key died")
        tokens = [e["headers"]["authorization"].split(" ", 1)[1] for e in MOCK.requests()]
        self.assertEqual(tokens, [key.api_key, social.access_token])
        self.assertEqual(MOCK.stats()["refreshes"], 0)
        row = self.row(g, key)
        self.assertIn("disabled", row)
        self.assertIn("InvalidConfig: Kiro refused the API key", row)
        # It is out of service: the next request goes straight to the other.
        self.assertEqual(self.send(g, "again").status, 200)
        self.assertEqual(len(MOCK.requests()), 3)
        self.assertEqual(MOCK.requests()[-1]["headers"]["authorization"],
                         "Bearer " + social.access_token)

    def test_refused_key_alone_says_so(self) -> None:
        key = KeyAccount("key")
        g = self.start([key])
        MOCK.revoke(accessToken=key.api_key)
        resp = self.send(g, "hello?")
        doc = gw.assert_anthropic_error(self, resp, 503)
        self.assertIn("refused the API key", doc["error"]["message"])
        self.assertEqual(len(MOCK.requests()), 1)
        self.assertEqual(MOCK.stats()["refreshes"], 0)
        again = self.send(g, "hello again?")
        gw.assert_anthropic_error(self, again, 503)
        self.assertEqual(len(MOCK.requests()), 1, "a refused key was tried again")
        self.assertIn("InvalidConfig", self.row(g, key))

    def test_refused_key_error_in_each_api(self) -> None:
        key = KeyAccount("key")
        g = self.start([key])
        MOCK.revoke(accessToken=key.api_key)
        for name, call in APIS.items():
            with self.subTest(api=name):
                with self.assertRaises(ApiError) as caught:
                    call(g, "refused " + name, False)
                self.assertEqual(caught.exception.status, 503)
                # Every API's error has error.message (Anthropic, OpenAI,
                # Gemini shapes alike).
                doc = caught.exception.doc
                self.assertIn("refused the API key", doc["error"]["message"])
                if name == "anthropic":
                    self.assertEqual(doc["type"], "error")
                elif name == "gemini":
                    self.assertEqual(doc["error"]["status"], "UNAVAILABLE")
                else:
                    self.assertEqual(doc["error"]["code"], "no_account")
                self.assertIn("disabled", self.row(g, key))
                g.kiroctl("accounts", "enable", "1")
        self.assertEqual(len(MOCK.requests()), len(APIS))
        self.assertEqual(MOCK.stats()["refreshes"], 0)

    def test_key_refused_by_health_check_disables(self) -> None:
        key = KeyAccount("key")
        g = self.start([key])
        MOCK.revoke(accessToken=key.api_key)
        proc = g.kiroctl("health-check", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("refused the API key", proc.stdout)
        self.assertNotIn(key.api_key, proc.stdout + proc.stderr)
        self.assertEqual(MOCK.stats()["refreshes"], 0)
        self.assertIn("InvalidConfig: Kiro refused the API key", self.row(g, key))


    # a refused key under concurrency

    def refused_in_flight(self, accounts: list) -> tuple[Gateway, list]:
        """8 requests in flight over 2 processes x 4 threads, the first key refused."""
        g = self.start(accounts, procs=2, threads=4)
        MOCK.revoke(accessToken=accounts[0].api_key)
        results = in_parallel([lambda i=i: self.send(g, f"in flight {i}") for i in range(8)])
        return g, results

    def check_disabled_once(self, g: Gateway, key: KeyAccount) -> None:
        calls = MOCK.requests()
        key_calls = [e for e in calls if e["headers"]["authorization"] == "Bearer " + key.api_key]
        self.assertGreaterEqual(len(key_calls), 1)
        self.assertLessEqual(len(key_calls), 8)
        self.assertTrue(all(e["status"] == 403 for e in key_calls), key_calls)
        self.assertEqual(MOCK.stats()["refreshes"], 0)
        self.assertEqual(MOCK.requests("refreshToken") + MOCK.requests("token"), [])
        self.assertIn("InvalidConfig: Kiro refused the API key", self.row(g, key))
        self.assertEqual(g.log().count(DISABLED_LINE), 1, g.log()[-3000:])
        # Out of service: the key is never sent again.
        self.send(g, "later")
        self.assertEqual(len([e for e in MOCK.requests()
                              if e["headers"]["authorization"] == "Bearer " + key.api_key]),
                         len(key_calls))

    def test_refused_key_in_flight_fails_over_once(self) -> None:
        key, social = KeyAccount("key", priority=0), Account("social", priority=1)
        g, results = self.refused_in_flight([key, social])
        for slot, resp in enumerate(results):
            self.assertEqual(resp.status, 200, f"request {slot}: {resp.body[:300]!r}")
            self.assertEqual(resp.json()["content"][0]["text"], ANSWER + f"in flight {slot}")
        served = [e for e in MOCK.requests() if e["status"] == 200]
        self.assertEqual(len(served), 8)
        self.assertTrue(all(e["headers"]["authorization"] == "Bearer " + social.access_token
                            for e in served))
        self.check_disabled_once(g, key)
        self.assertEqual(g.account_by_email(social.email)["state"], "ok")

    def test_refused_key_alone_in_flight_says_so(self) -> None:
        key = KeyAccount("key")
        g, results = self.refused_in_flight([key])
        for slot, resp in enumerate(results):
            doc = gw.assert_anthropic_error(self, resp, 503)
            self.assertIn("refused the API key", doc["error"]["message"], f"request {slot}")
        self.check_disabled_once(g, key)


class ApiKeysLighttpd(_ApiKeys, unittest.TestCase):
    server = "lighttpd"


class ApiKeysApache(_ApiKeys, unittest.TestCase):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
