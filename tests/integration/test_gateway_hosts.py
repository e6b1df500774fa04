#!/usr/bin/python3
"""The two Kiro hosts, the two request styles and profileArn (issue 9, §12).

Each test starts its own gateway behind lighttpd, and again behind Apache (the
*Apache classes), with apiBaseUrl at the mock's /runtime host and
legacyApiBaseUrl at its /legacy host (tests/mock/README.md, "Two hosts"); the
mock is shared by the module and reset before each test.  Covered:

  - a social account imported without its profileArn: the gateway asks
    ListAvailableProfiles once, then sends the request to the runtime host,
    path style, with the profile in the body; `kiroctl accounts list --json`
    shows host runtime, style path and the profile;
  - `kiroctl accounts import`: a social account with a valid token gets its
    profile there; a Builder ID one keeps none and is never looked up;
  - a Builder ID (idc) account whose credentials file carries a profileArn:
    the request goes to the legacy host with no profile in the body, a header
    or the query, and ListAvailableProfiles is never asked; the listing shows
    host legacy and no profile;
  - `apiStyle: "target"`: POST /runtime/ with x-amz-target, the client
    attribution, the kiroruntime user agent and the profile header, and no
    top-level agentMode/agentContinuationId/agentTaskType, and no profileArn
    in the body (the mock's target_refuse_body_profile refuses one), also
    after a switch from the path style;
  - the runtime host refusing the path style (REQUEST_BODY_INVALID): one
    switch to the target style, the client gets its answer, the responder
    log says so, the next request goes straight to the target style, and
    `kiroctl status` / `accounts list --json` show the switch, and
    `kiroctl accounts route` forgets or pins it;
  - the legacy host unresolvable (a .invalid name) for an idc account: one
    switch to the runtime host (the mock's runtime_allow_idc), the answer
    arrives and the account stays on the runtime host;
  - a social account whose profile cannot be found, on a runtime host that
    requires one: "profileArn is required", then the legacy host serves;
  - the same with 8 requests in flight over 2 processes x 4 threads: a
    social account's profile looked up once; the path style refused, the
    runtime host wanting a profile, the legacy host unresolvable: every
    request is answered, the switch is in the log, recorded once (one
    "switched to" line) and consistent in the store (host, style, switched),
    and the requests after it go straight to the recorded route;
  - no secret in the responder log or in any client body.

The /mcp (web search) calls on both hosts, for each account kind, are covered
by test_web_search.py.

Run: /usr/bin/python3 tests/integration/test_gateway_hosts.py
"""

from __future__ import annotations

import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, body, in_parallel, wait_for  # noqa: E402

MOCK: Mock | None = None
PROFILE = "arn:aws:codewhisperer:us-east-1:111112222233:profile/MOCK"
STATE_FIELDS = ("agentMode", "agentContinuationId", "agentTaskType")


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


class FileAccount(Account):
    """An Account whose credentials file entry carries extra keys."""

    def __init__(self, name: str, *, file_extra: dict | None = None, **kw):
        super().__init__(name, **kw)
        self.file_extra = dict(file_extra or {})

    def credential(self) -> dict:
        return dict(super().credential(), **self.file_extra)


class Hosts(unittest.TestCase):
    """lighttpd; HostsApache runs the same tests behind Apache."""

    server = "lighttpd"

    def setUp(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        MOCK.reset()
        self.client_bodies: list[bytes] = []

    def start(self, accounts, legacy: str | None = None, procs: int = 1,
              **config) -> Gateway:
        cfg = {"apiBaseUrl": MOCK.url + "/runtime",
               "legacyApiBaseUrl": legacy or MOCK.url + "/legacy"}
        cfg.update(config)
        g = Gateway(self.server, MOCK, accounts=accounts, config=cfg, procs=procs,
                    threads=4).start()
        self.addCleanup(g.stop)
        self.addCleanup(self.check_secrets, g)
        return g

    def send(self, g: Gateway, prompt: str = "Say hello"):
        resp = g.messages(body(prompt))
        self.client_bodies.append(resp.body)
        self.assertEqual(resp.status, 200, resp.body[:500])
        self.assertEqual(resp.json()["content"][0]["text"],
                         "Hello from mock Kiro. You said: " + prompt)
        return resp

    def check_secrets(self, g: Gateway) -> None:
        secrets = [g.api_key]
        for account in g.accounts:
            secrets += account.secrets()
        log = g.log()
        for secret in filter(None, secrets):
            self.assertNotIn(secret, log, "a secret is in the responder log")
            for text in self.client_bodies:
                self.assertNotIn(secret.encode(), text, "a secret reached a client")

    @staticmethod
    def placement(entry: dict) -> tuple:
        return (entry["host"], entry["style"])

    # profileArn

    def test_social_profile_found_then_runtime_path_style(self) -> None:
        account = Account("social")
        g = self.start([account])
        self.send(g)
        self.assertEqual(MOCK.stats()["profiles"], 1)
        [call] = MOCK.requests()
        self.assertEqual(self.placement(call), ("runtime", "path"))
        self.assertEqual(call["path"], "/runtime/generateAssistantResponse")
        self.assertEqual(call["profile"]["body"], PROFILE)
        self.assertEqual(call["status"], 200)
        [entry] = g.accounts_json()
        self.assertEqual((entry["host"], entry["style"], entry["profileArn"]),
                         ("runtime", "path", PROFILE))
        self.assertFalse(entry["routeSwitched"])
        # Stored: the second request asks no more.
        self.send(g, "again")
        self.assertEqual(MOCK.stats()["profiles"], 1)

    def test_kiroctl_import_looks_the_profile_up(self) -> None:
        g = self.start([])
        social = Account("imported")
        idc = FileAccount("importedidc", auth_method="idc", file_extra={"profileArn": PROFILE})
        for account in (social, idc):
            MOCK.add_account(account)
        g.accounts = [social, idc]      # their secrets are checked at the end
        path = g.dir / "import.json"
        path.write_text(json.dumps([social.credential(), idc.credential()]))
        g.hand_over()
        out = g.kiroctl("accounts", "import", str(path)).stdout
        self.assertIn(f"account 1: profile {PROFILE}", out)
        self.assertEqual(MOCK.stats()["profiles"], 1)      # never for Builder ID
        listing = {e["email"]: e for e in g.accounts_json()}
        self.assertEqual(listing[social.email]["profileArn"], PROFILE)
        self.assertIsNone(listing[idc.email]["profileArn"])
        self.assertEqual(listing[idc.email]["host"], "legacy")

    def test_builder_id_goes_to_legacy_without_any_profile(self) -> None:
        account = FileAccount("idc", auth_method="idc", file_extra={"profileArn": PROFILE})
        g = self.start([account])
        self.send(g)
        [call] = MOCK.requests()
        self.assertEqual(self.placement(call), ("legacy", "path"))
        self.assertEqual(call["account_kind"], "idc")
        self.assertEqual(call["profile"], {"body": None, "header": None,
                                           "mcp_header": None, "query": None})
        self.assertEqual(MOCK.stats()["profiles"], 0)
        [entry] = g.accounts_json()
        self.assertEqual((entry["host"], entry["style"], entry["profileArn"]),
                         ("legacy", "path", None))

    def test_profile_not_found_falls_back_to_legacy(self) -> None:
        account = Account("noprofile", mock={"profiles": []})
        g = self.start([account])
        self.send(g)
        calls = MOCK.requests()
        self.assertEqual([self.placement(c) for c in calls],
                         [("runtime", "path"), ("legacy", "path")])
        self.assertEqual(calls[0]["status"], 400)
        wait_for(lambda: g.accounts_json()[0]["routeSwitched"], what="the switch recorded")
        [entry] = g.accounts_json()
        self.assertEqual(entry["host"], "legacy")
        self.assertIn("did not serve (HTTP 400: profileArn is required)", g.log())

    # styles

    def test_target_style_by_configuration(self) -> None:
        account = FileAccount("target", file_extra={"profileArn": PROFILE})
        g = self.start([account], apiStyle="target")
        self.send(g)
        [call] = MOCK.requests()
        self.assertEqual(self.placement(call), ("runtime", "target"))
        self.assertEqual(call["path"], "/runtime/")
        self.assertEqual(call["target"], "KiroRuntimeService.GenerateAssistantResponse")
        headers = call["headers"]
        self.assertEqual(headers["x-amzn-kiro-client-attribution"], "kiro-ide")
        self.assertIn(" api/kiroruntime#1.0.0 ", headers["user-agent"])
        self.assertEqual(call["profile"]["header"], PROFILE)
        for field in STATE_FIELDS:
            self.assertNotIn(field, call["body"])
        # The profile is in the header only: the body has no profileArn.
        self.assertIsNone(call["profile"]["body"])
        self.assertNotIn("profileArn", call["body"])

    def test_target_style_sends_no_profile_in_the_body(self) -> None:
        account = FileAccount("target", file_extra={"profileArn": PROFILE})
        g = self.start([account], apiStyle="target")
        MOCK.settings(target_refuse_body_profile=True)
        self.send(g)
        [call] = MOCK.requests()
        self.assertEqual((self.placement(call), call["status"]), (("runtime", "target"), 200))
        self.assertEqual(call["profile"]["header"], PROFILE)
        self.assertNotIn("profileArn", call["body"])

    def test_switch_to_target_style_drops_the_body_profile(self) -> None:
        account = FileAccount("switch", file_extra={"profileArn": PROFILE})
        g = self.start([account])
        MOCK.settings(runtime_path_style_invalid=True, target_refuse_body_profile=True)
        self.send(g, "first")
        calls = MOCK.requests()
        self.assertEqual([(self.placement(c), c["status"]) for c in calls],
                         [(("runtime", "path"), 400), (("runtime", "target"), 200)])
        self.assertEqual(calls[0]["profile"]["body"], PROFILE)
        self.assertNotIn("profileArn", calls[1]["body"])
        self.assertEqual(calls[1]["profile"]["header"], PROFILE)

    def test_path_style_refused_switches_to_target_and_stays(self) -> None:
        account = FileAccount("switch", file_extra={"profileArn": PROFILE})
        g = self.start([account])
        MOCK.settings(runtime_path_style_invalid=True)
        self.send(g, "first")
        calls = MOCK.requests()
        self.assertEqual([self.placement(c) for c in calls],
                         [("runtime", "path"), ("runtime", "target")])
        self.assertEqual([c["status"] for c in calls], [400, 200])
        self.assertIn("the runtime host, path style, did not serve", g.log())
        # Written once the answer is out: under valgrind that takes a while.
        wait_for(lambda: "switched to the runtime host, target style" in g.log(),
                 what="the switch in the responder log")
        self.send(g, "second")
        self.assertEqual([self.placement(c) for c in MOCK.requests()][2:],
                         [("runtime", "target")])
        [entry] = g.accounts_json()
        self.assertEqual((entry["host"], entry["style"], entry["routeSwitched"]),
                         ("runtime", "target", True))
        status = g.kiroctl("status").stdout
        self.assertRegex(status, r"account 1\s+runtime host, target style \(switched ")
        # The operator can undo it: the configuration decides again.
        g.kiroctl("accounts", "route", "1", "auto")
        [entry] = g.accounts_json()
        self.assertEqual((entry["host"], entry["style"], entry["routeSwitched"]),
                         ("runtime", "path", False))
        g.kiroctl("accounts", "route", "1", "legacy")
        self.assertEqual(g.accounts_json()[0]["host"], "legacy")
        self.assertNotEqual(g.kiroctl("accounts", "route", "1", "legacy", "target",
                                      check=False).returncode, 0)

    # hosts

    def test_unresolvable_legacy_host_switches_to_runtime(self) -> None:
        account = Account("idcdns", auth_method="idc")
        g = self.start([account], legacy="http://legacy.invalid:9/legacy")
        MOCK.settings(runtime_allow_idc=True)
        self.send(g)
        [call] = MOCK.requests()
        self.assertEqual(self.placement(call), ("runtime", "path"))
        self.assertIsNone(call["profile"]["body"])
        self.assertIn("the legacy host, path style, did not serve", g.log())
        wait_for(lambda: g.accounts_json()[0]["routeSwitched"], what="the switch recorded")
        [entry] = g.accounts_json()
        self.assertEqual(entry["host"], "runtime")
        self.send(g, "again")
        self.assertEqual(len(MOCK.requests()), 2)


    # the same with requests in flight: 2 processes x 4 threads

    def in_flight(self, g: Gateway, n: int = 8) -> None:
        in_parallel([lambda i=i: self.send(g, f"in flight {i}") for i in range(n)])

    def check_switched_once(self, g: Gateway, refused: tuple, served: tuple) -> None:
        calls = MOCK.requests()
        self.assertEqual(len([c for c in calls if c["status"] == 200]), 8)
        for call in calls:
            self.assertIn((self.placement(call), call["status"]),
                          [(refused, 400), (refused, 403), (served, 200)], call["path"])
        # Each request tried the refused route at most once.
        self.assertLessEqual(len(calls), 16)
        line = "switched to the %s host, %s style" % served
        wait_for(lambda: line in g.log(), what="the switch in the responder log")
        self.assertIn("the %s host, %s style, did not serve" % refused, g.log())
        self.assertEqual(g.log().count(line), 1, g.log()[-4000:])
        [entry] = g.accounts_json()
        self.assertEqual((entry["host"], entry["style"], entry["routeSwitched"]),
                         served + (True,))
        # The stored route is the one every process uses now.
        self.in_flight(g)
        self.assertEqual([self.placement(c) for c in MOCK.requests()[len(calls):]],
                         [served] * 8)

    def test_profile_looked_up_once_with_requests_in_flight(self) -> None:
        account = Account("social")
        g = self.start([account], procs=2)
        self.in_flight(g)
        self.assertEqual(MOCK.stats()["profiles"], 1)
        calls = MOCK.requests()
        self.assertEqual([(self.placement(c), c["status"]) for c in calls],
                         [(("runtime", "path"), 200)] * 8)
        self.assertTrue(all(c["profile"]["body"] == PROFILE for c in calls))
        self.assertEqual(g.log().count("(ListAvailableProfiles)"), 1, g.log()[-4000:])

    def test_path_style_refused_with_requests_in_flight(self) -> None:
        account = FileAccount("switch", file_extra={"profileArn": PROFILE})
        g = self.start([account], procs=2)
        MOCK.settings(runtime_path_style_invalid=True)
        self.in_flight(g)
        self.check_switched_once(g, ("runtime", "path"), ("runtime", "target"))

    def test_profile_required_with_requests_in_flight(self) -> None:
        account = Account("noprofile", mock={"profiles": []})
        g = self.start([account], procs=2)
        self.in_flight(g)
        self.check_switched_once(g, ("runtime", "path"), ("legacy", "path"))

    def test_unresolvable_legacy_host_with_requests_in_flight(self) -> None:
        account = Account("idcdns", auth_method="idc")
        g = self.start([account], legacy="http://legacy.invalid:9/legacy", procs=2)
        MOCK.settings(runtime_allow_idc=True)
        self.in_flight(g)
        # The refused calls never reached the mock: only the served ones.
        self.check_switched_once(g, ("legacy", "path"), ("runtime", "path"))


class HostsApache(Hosts):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
