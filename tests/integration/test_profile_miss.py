#!/usr/bin/python3
"""The profile-miss memory under a burst of requests over two processes.

A social account needs a profileArn on the runtime host; when it has none the
gateway asks ListAvailableProfiles (shared/refresh.c, refresh_resolve_profile).
When that lists no profile or fails, the miss is remembered per process and per
state file for 10 minutes, so the requests in flight do not each ask again.
What the code guarantees, and so what is asserted:

  - the lookup runs under the account's profile lock; a request that waited
    on it reads the store (a profile another process found) and then the
    misses of its own process: at most one ListAvailableProfiles call per
    responder process for the account, whatever the number of its threads;
    the other process knows nothing of the miss, so 2 processes may make 2;
  - each call that misses logs one warning ("no profileArn found: ...") in
    the process that made it, and a remembered miss none: the warnings, per
    responder pid, are at most one, and as many as the mock saw calls;
  - a second burst right after makes no call and logs no warning;
  - a second account of the same state file whose lookup works is asked
    once (stored, then read by every process) and every request of it goes
    to the runtime host with its profileArn in the body;
  - the client gets what the gateway gives such an account: with a legacy
    host (the default) the runtime host refuses the request ("profileArn is
    required") and the legacy host serves it, so every request is a 200;
    with one host only (legacyApiBaseUrl = apiBaseUrl) there is nowhere else
    to go and the client gets Kiro's 400 as an invalid_request_error: never
    a 5xx, since no retry gives the account a profile;
  - neither account's access or refresh token is in the responder log or in
    an answer.

Kinds of miss: Kiro lists no profile (the mock account's "profiles": []), or
answers an error (a mock script on endpoint ListAvailableProfiles for the
account's token: 500, and 403 AccessDeniedException, which is not a refused
token).  A refused token (403 bearer invalid) is not remembered: the refresh
that follows asks again (test-refresh.c).

Each test starts a gateway with 2 processes x 4 threads in round-robin mode
(so a burst of 16 puts 8 requests on each account; streamed and not), behind
lighttpd and again behind Apache (the *Apache class; mod_fcgid gives each
process one request at a time, so there only the processes race).

Run: /usr/bin/python3 tests/integration/test_profile_miss.py
"""

from __future__ import annotations

import json
import re
import sys
import unittest
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import (Account, Gateway, Mock, body, event_names, in_parallel,  # noqa: E402
                     text_of, wait_for)

MOCK: Mock | None = None
PROFILE = "arn:aws:codewhisperer:us-east-1:111112222233:profile/MOCK"
PROFILES_OP = "ListAvailableProfiles"
BURST = 16          # round-robin: 8 on each account
SECOND_BURST = 8
WARNING = re.compile(r"kiro-fcgi\[(\d+)\] WARN .*account (\d+): no profileArn found: (.*)")
ANSWER = "Hello from mock Kiro. You said: "
# What the client gets when the runtime host refuses and there is no other.
PROFILE_REQUIRED = "Kiro rejected the request (HTTP 400): profileArn is required"

MISSES = {
    "none": {"mock": {"profiles": []}, "script": None,
             "warning": "ListAvailableProfiles listed none"},
    "500": {"mock": {}, "script": {"kind": "http_error", "status": 500,
                                   "body": {"message": "Internal failure", "reason": None}},
            "warning": "ListAvailableProfiles: HTTP 500: Internal failure"},
    "403": {"mock": {}, "script": {"kind": "http_error", "status": 403,
                                   "body": {"__type": "AccessDeniedException",
                                            "message": "User is not authorized for any profile",
                                            "reason": None}},
            "warning": "ListAvailableProfiles: HTTP 403: User is not authorized"},
}


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


class ProfileMiss(unittest.TestCase):
    """lighttpd; ProfileMissApache runs the same tests behind Apache."""

    server = "lighttpd"

    def setUp(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        MOCK.reset()
        self.client_bodies: list[bytes] = []

    # fixture

    def start(self, miss: str, *, legacy: bool) -> Gateway:
        """A gateway with the missing account (id 1) and a working one (id 2)."""
        kind = MISSES[miss]
        self.kind = kind
        self.bad = Account("nomatch", mock=kind["mock"])
        self.good = Account("works")
        runtime = MOCK.url + "/runtime"
        cfg = {"apiBaseUrl": runtime,
               "legacyApiBaseUrl": MOCK.url + "/legacy" if legacy else runtime,
               "loadBalancingMode": "round-robin"}
        g = Gateway(self.server, MOCK, accounts=[self.bad, self.good], config=cfg,
                    procs=2, threads=4).start()
        self.addCleanup(g.stop)
        self.addCleanup(self.check_secrets, g)
        if kind["script"] is not None:
            MOCK.script(kind["script"], times=-1, endpoint=PROFILES_OP,
                        token=self.bad.access_token)
        return g

    def check_secrets(self, g: Gateway) -> None:
        log = g.log()
        for secret in [g.api_key] + self.bad.secrets() + self.good.secrets():
            self.assertNotIn(secret, log, "a secret is in the responder log")
            for text in self.client_bodies:
                self.assertNotIn(secret.encode(), text, "a secret reached a client")

    # requests

    def one(self, g: Gateway, tag: str, stream: bool) -> tuple:
        """(tag, status, answer text or error document) of one request."""
        prompt = f"{tag} say hello"
        if stream:
            resp, events = g.stream(body(prompt))
        else:
            resp, events = g.messages(body(prompt)), None
        self.client_bodies.append(resp.body)
        if resp.status != 200:
            return tag, resp.status, resp.json()
        if stream:
            self.assertEqual(event_names(events)[-1], "message_stop", tag)
            return tag, 200, text_of(events)
        return tag, 200, resp.json()["content"][0]["text"]

    def burst(self, g: Gateway, name: str, n: int) -> list[tuple]:
        """n requests at once, one in four streamed."""
        return in_parallel([lambda i=i: self.one(g, f"[{name}-{i:02d}]", i % 4 == 3)
                            for i in range(n)])

    def calls_of(self, tag: str) -> list[dict]:
        return [c for c in MOCK.requests() if tag in json.dumps(c["body"])]

    def profile_calls(self, account: Account) -> int:
        return len([c for c in MOCK.requests(PROFILES_OP) if c["account"] == account.mock_id])

    def warnings(self, g: Gateway) -> list[tuple]:
        """(pid, account id, text) of each profile warning."""
        return [(int(m.group(1)), int(m.group(2)), m.group(3))
                for m in map(WARNING.search, g.log().splitlines()) if m is not None]

    # assertions

    def check_answers(self, results: list[tuple], legacy: bool, served_on: tuple) -> None:
        """Each request against what the mock saw of it; 8 on each account."""
        per_account = Counter()
        for tag, status, answer in results:
            calls = self.calls_of(tag)
            self.assertTrue(calls, tag)
            accounts = {c["account"] for c in calls}
            self.assertEqual(len(accounts), 1, (tag, accounts))
            account = accounts.pop()
            per_account[account] += 1
            self.assertLess(status, 500, (tag, answer))
            route = [((c["host"], c["style"]), c["status"]) for c in calls]
            if account == self.good.mock_id:
                self.assertEqual((status, answer), (200, ANSWER + f"{tag} say hello"), tag)
                self.assertEqual(route, [(("runtime", "path"), 200)], tag)
                self.assertEqual([c["profile"]["body"] for c in calls], [PROFILE], tag)
                continue
            self.assertEqual(account, self.bad.mock_id, tag)
            for call in calls:
                self.assertIsNone(call["profile"]["body"], tag)
            if legacy:
                # Refused on the runtime host, served by the legacy one (or
                # straight there once the switch is recorded).
                self.assertEqual(route[-1], (("legacy", "path"), 200), tag)
                self.assertIn(route[:-1], ([], [(("runtime", "path"), 400)]), tag)
                self.assertEqual((status, answer), (200, ANSWER + f"{tag} say hello"), tag)
            else:
                self.assertEqual(route, [(served_on, 400)], tag)
                self.assertEqual(status, 400, (tag, answer))
                self.assertEqual(answer, {"type": "error", "error": {
                    "type": "invalid_request_error", "message": PROFILE_REQUIRED}}, tag)
        half = len(results) // 2
        self.assertEqual(per_account, {self.bad.mock_id: half, self.good.mock_id: half})

    def check_one_lookup_per_process(self, g: Gateway) -> int:
        """The missing account's calls: one warning each, one per process."""
        calls = self.profile_calls(self.bad)
        self.assertGreaterEqual(calls, 1, "no process looked the profile up")
        # Each is logged before the request goes on: all in by now, but
        # the web server may pass the lines on a little later.
        wait_for(lambda: len(self.warnings(g)) >= calls, what="one warning per lookup")
        warnings = self.warnings(g)
        self.assertEqual(len(warnings), calls, warnings)
        ids = {e["email"]: e["id"] for e in g.accounts_json()}
        for pid, account_id, text in warnings:
            self.assertEqual(account_id, ids[self.bad.email], warnings)
            self.assertIn(self.kind["warning"], text)
        per_pid = Counter(pid for pid, _, _ in warnings)
        self.assertLessEqual(max(per_pid.values()), 1, warnings)
        self.assertLessEqual(set(per_pid), set(g.responder_pids()), warnings)
        self.assertLessEqual(calls, 2)
        return calls

    def run_bursts(self, miss: str, *, legacy: bool) -> None:
        g = self.start(miss, legacy=legacy)
        first = self.burst(g, "first", BURST)
        self.check_answers(first, legacy, ("runtime", "path"))
        calls = self.check_one_lookup_per_process(g)
        self.assertEqual(self.profile_calls(self.good), 1)
        [good] = [e for e in g.accounts_json() if e["email"] == self.good.email]
        self.assertEqual(good["profileArn"], PROFILE)
        warned = self.warnings(g)

        # Right after: nothing is asked again, nothing warned again.
        second = self.burst(g, "second", SECOND_BURST)
        self.check_answers(second, legacy, ("runtime", "path"))
        self.assertEqual(self.profile_calls(self.bad), calls)
        self.assertEqual(self.profile_calls(self.good), 1)
        self.assertEqual(self.warnings(g), warned)
        [bad] = [e for e in g.accounts_json() if e["email"] == self.bad.email]
        self.assertIsNone(bad["profileArn"])
        if not legacy:
            # The runtime host stayed the route: the memory answered.
            self.assertEqual(bad["host"], "runtime")

    # tests

    def test_listed_none_served_by_the_legacy_host(self) -> None:
        self.run_bursts("none", legacy=True)

    def test_listed_none_with_one_host(self) -> None:
        self.run_bursts("none", legacy=False)

    def test_lookup_500_with_one_host(self) -> None:
        self.run_bursts("500", legacy=False)

    def test_lookup_403_served_by_the_legacy_host(self) -> None:
        self.run_bursts("403", legacy=True)


class ProfileMissApache(ProfileMiss):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
