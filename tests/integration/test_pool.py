#!/usr/bin/python3
"""The account pool behind real servers: modes, stickiness, failures, limits.

Each test starts its own gateway (fresh state directory) against the shared
mock upstream, behind lighttpd; the class PoolApache runs them all again
behind Apache.  Covered:

  - priority: the lowest priority number serves; balanced: requests spread
    over the accounts; round-robin: A, B, C, A in id order;
  - stickiness with 2 responder processes: every request of one session
    (metadata.user_id) goes to one account although balanced mode would
    spread them, and carries one Kiro conversationId; other sessions spread;
  - 429 with a second account: the second answers, the first shows
    "cooldown" in `kiroctl accounts list` and its history, and the next
    request goes straight to the second; 429 on every account: the client
    gets 429 rate_limit_error with Retry-After;
  - three 403 failures disable an account (TooManyFailures, client still
    served by the other); when every account is disabled that way, the next
    request re-enables all and is served;
  - 402 MONTHLY_REQUEST_COUNT: disabled with QuotaExceeded until the first
    of next month; with KIRO_FCGI_FAKE_NOW a few seconds before that date
    the account comes back by itself once the date passes;
  - TEMPORARILY_SUSPENDED: Suspended, with upstream's words in the detail;
  - rateLimits: globalRpm 2 with 6 concurrent requests over 2 processes
    gives exactly 2 answers and 4 429s with Retry-After; minIntervalMs spreads requests over the accounts first;
  - kiroctl accounts disable/enable/reset on a running gateway, and their
    errors: unknown or malformed ids exit 1 with a reason, wrong arguments
    exit 2 with the usage; the state stays unchanged;
  - round-robin with a rate limit, under strace: each pick's write calls
    fsync on the store's memfd and not on kiro.db (a success tally flush
    every 5 s or so may), where before every pick fsynced kiro.db.

Run: /usr/bin/python3 tests/integration/test_pool.py
"""

from __future__ import annotations

import calendar
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, assert_anthropic_error, body  # noqa: E402

MOCK: Mock | None = None


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def with_env(server_class, extra: dict):
    """The server class, starting the responder with more environment."""
    def make(*args, env=None, **kw):
        merged = dict(env or {})
        merged.update(extra)
        return server_class(*args, env=merged, **kw)
    return make


def next_month_start(now: float) -> int:
    t = time.gmtime(now)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return calendar.timegm((year, month, 1, 0, 0, 0))


class PoolTests(unittest.TestCase):

    server = "lighttpd"

    def setUp(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        MOCK.reset()

    def start(self, accounts, *, env: dict | None = None, **kw) -> Gateway:
        g = Gateway(self.server, MOCK, accounts=accounts, **kw)
        if env:
            g.server_class = with_env(g.server_class, env)
        g.start()
        self.addCleanup(g.stop)
        return g

    def tokens(self) -> list[str]:
        return [e["headers"]["authorization"].split(" ", 1)[1] for e in MOCK.requests()]

    def served_by(self, g: Gateway, accounts, prompt: str | None = None, **extra) -> Account:
        # A new prompt each time: the same opening would be one sticky session.
        if prompt is None:
            self.n_prompt = getattr(self, "n_prompt", 0) + 1
            prompt = f"Say hello, request {self.n_prompt}"
        before = len(MOCK.requests())
        resp = g.messages(body(prompt, **extra))
        self.assertEqual(resp.status, 200, resp.body[:300])
        last = self.tokens()[-1]
        self.assertGreater(len(MOCK.requests()), before)
        for a in accounts:
            if a.access_token == last:
                return a
        self.fail("answered with an unknown token")

    def state(self, g: Gateway, a: Account) -> dict:
        return g.account_by_email(a.email)

    # modes

    def test_priority_mode_lowest_number_serves(self) -> None:
        accts = [Account("p2", priority=2), Account("p0", priority=0), Account("p1", priority=1)]
        g = self.start(accts)
        for _ in range(3):
            self.assertIs(self.served_by(g, accts), accts[1])

    def test_round_robin_cycles_in_id_order(self) -> None:
        accts = [Account("r1"), Account("r2"), Account("r3")]
        g = self.start(accts, config={"loadBalancingMode": "round-robin"})
        got = [self.served_by(g, accts, f"rr {i}") for i in range(4)]
        self.assertEqual(got, [accts[0], accts[1], accts[2], accts[0]])

    def test_balanced_spreads_and_session_sticks_across_processes(self) -> None:
        accts = [Account("b1"), Account("b2")]
        g = self.start(accts, procs=2, config={"loadBalancingMode": "balanced"})
        # No session key: content-derived sessions, spread by successes.
        spread = {self.served_by(g, accts, f"question number {i}").name for i in range(6)}
        self.assertEqual(spread, {"b1", "b2"})
        # One session: one account and one conversationId, whichever
        # process takes the request.
        MOCK.reset()
        g.register_accounts()
        meta = {"metadata": {"user_id": "operator-session-42"}}
        first = self.served_by(g, accts, "turn 0", **meta)
        # Eight slow turns at once need both processes (4 threads each).
        results: list = []

        def turn(i: int) -> None:
            results.append(g.messages(body(f"turn {i} #mock:slow", **meta)))

        threads = [threading.Thread(target=turn, args=(i,)) for i in range(1, 9)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([r.status for r in results], [200] * 8)
        pids = set(re.findall(r"kiro-fcgi\[(\d+)\].*account=", g.log()))
        self.assertEqual(len(pids), 2, "both responder processes served")
        self.assertEqual(set(self.tokens()), {first.access_token})
        conv_ids = {e["body"]["conversationState"]["conversationId"]
                    for e in MOCK.requests()}
        self.assertEqual(len(conv_ids), 1, conv_ids)

    # failures

    def test_throttled_account_cools_down_and_fails_over(self) -> None:
        a, b = Account("hot", priority=0), Account("cool", priority=1)
        g = self.start([a, b])
        MOCK.script("throttle", times=-1, token=a.access_token)
        self.assertIs(self.served_by(g, [a, b]), b)
        self.assertEqual(self.tokens(), [a.access_token, b.access_token])
        self.assertEqual(self.state(g, a)["state"], "cooldown")
        self.assertEqual(self.state(g, a)["runtime"].get("throttles"), 1)
        self.assertIs(self.served_by(g, [a, b]), b)
        self.assertEqual(len(self.tokens()), 3, "the cooling account was tried again")
        hist = g.kiroctl("accounts", "history", str(self.state(g, a)["id"])).stdout
        self.assertIn("ok -> cooldown", hist)

    def test_throttling_everywhere_gives_429_with_retry_after(self) -> None:
        a, b = Account("t1", priority=0), Account("t2", priority=1)
        g = self.start([a, b])
        MOCK.script("throttle", times=-1)
        resp = g.messages(body("hi"))
        assert_anthropic_error(self, resp, 429, "rate_limit_error")
        self.assertTrue(resp.headers.get("Retry-After", "").isdigit(), resp.headers)
        self.assertGreaterEqual(int(resp.headers["Retry-After"]), 1)

    def test_three_failures_disable_then_all_heal_together(self) -> None:
        a, b = Account("f1", priority=0), Account("f2", priority=1)
        g = self.start([a, b])
        forbidden = {"kind": "http_error", "status": 403,
                     "body": {"message": "Access denied for this profile"}}
        MOCK.script(forbidden, times=3, token=a.access_token)
        for _ in range(3):
            self.assertIs(self.served_by(g, [a, b]), b)
        st = self.state(g, a)
        self.assertEqual(st["state"], "disabled")
        self.assertEqual(st["runtime"]["disabled"], "TooManyFailures")
        # Now b fails three times too: every account is out for failures.
        MOCK.script(forbidden, times=3, token=b.access_token)
        for _ in range(2):
            resp = g.messages(body("hi"))
            self.assertNotEqual(resp.status, 200)
        # The third failure takes b out too: every account is out for
        # failures, so both come back at once and a answers at once.
        self.assertIs(self.served_by(g, [a, b]), a)
        self.assertEqual(self.tokens()[-2:], [b.access_token, a.access_token])
        for acct in (a, b):
            self.assertEqual(self.state(g, acct)["state"], "ok")
            hist = g.kiroctl("accounts", "history", str(self.state(g, acct)["id"])).stdout
            self.assertIn("ok -> TooManyFailures", hist)
            self.assertIn("TooManyFailures -> ok: every account had failed", hist)

    def test_suspended_is_disabled_with_upstream_words(self) -> None:
        a, b = Account("s1", priority=0), Account("s2", priority=1)
        g = self.start([a, b])
        MOCK.script("suspended", times=1, token=a.access_token)
        self.assertIs(self.served_by(g, [a, b]), b)
        st = self.state(g, a)
        self.assertEqual(st["runtime"]["disabled"], "Suspended")
        self.assertIn("TEMPORARILY_SUSPENDED", st["runtime"]["disabledDetail"])
        listing = g.kiroctl("accounts", "list").stdout
        self.assertIn("Suspended", listing)

    def test_quota_disables_until_reset_date_then_comes_back(self) -> None:
        # The fake clock starts 4 s before a month boundary and runs on.
        boundary = next_month_start(time.time())
        a, b = Account("q1", priority=0), Account("q2", priority=1)
        g = self.start([a, b], env={"KIRO_FCGI_FAKE_NOW": str(boundary - 4)})
        MOCK.script("monthly_quota", times=1, token=a.access_token)
        self.assertIs(self.served_by(g, [a, b]), b)
        st = self.state(g, a)
        self.assertEqual(st["runtime"]["disabled"], "QuotaExceeded")
        self.assertEqual(st["runtime"]["disabledUntil"], boundary)
        deadline = time.monotonic() + 20
        while True:
            who = self.served_by(g, [a, b])
            if who is a:
                break
            self.assertLess(time.monotonic(), deadline, "the quota never came back")
            time.sleep(0.5)
        self.assertEqual(self.state(g, a)["state"], "ok")

    # rate limits

    def test_global_rpm_across_processes_gives_429(self) -> None:
        accts = [Account("g1"), Account("g2")]
        g = self.start(accts, procs=2, config={"rateLimits": {"globalRpm": 2}})
        # Six at once, over both processes: exactly two get through.
        results: list = []

        def ask(i: int) -> None:
            results.append(g.messages(body(f"q{i} #mock:slow")))

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(r.status for r in results), [200, 200, 429, 429, 429, 429])
        for resp in results:
            if resp.status == 429:
                assert_anthropic_error(self, resp, 429, "rate_limit_error")
                self.assertTrue(resp.headers.get("Retry-After", "").isdigit(), resp.headers)
                self.assertGreaterEqual(int(resp.headers["Retry-After"]), 1)
                self.assertLessEqual(int(resp.headers["Retry-After"]), 60)
        self.assertEqual(len(MOCK.requests()), 2)

    def test_min_interval_uses_the_next_account_then_limits(self) -> None:
        a, b = Account("i1", priority=0), Account("i2", priority=1)
        g = self.start([a, b], config={"rateLimits": {"minIntervalMs": 60000}})
        self.assertIs(self.served_by(g, [a, b], "x1"), a)
        self.assertIs(self.served_by(g, [a, b], "x2"), b)
        resp = g.messages(body("x3"))
        assert_anthropic_error(self, resp, 429, "rate_limit_error")

    # operator actions

    def test_kiroctl_disable_enable_reset(self) -> None:
        a, b = Account("k1", priority=0), Account("k2", priority=1)
        g = self.start([a, b])
        self.assertIs(self.served_by(g, [a, b]), a)    # the responder imports them
        ida = str(self.state(g, a)["id"])
        g.kiroctl("accounts", "disable", ida, "rotating keys")
        st = self.state(g, a)
        self.assertEqual(st["runtime"]["disabled"], "Manual")
        self.assertEqual(st["runtime"]["disabledDetail"], "rotating keys")
        self.assertIs(self.served_by(g, [a, b]), b)
        g.kiroctl("accounts", "enable", ida)
        self.assertIs(self.served_by(g, [a, b]), a)
        MOCK.script("throttle", times=1, token=a.access_token)
        self.assertIs(self.served_by(g, [a, b]), b)
        self.assertEqual(self.state(g, a)["state"], "cooldown")
        g.kiroctl("accounts", "reset", ida)
        self.assertEqual(self.state(g, a)["state"], "ok")
        self.assertIs(self.served_by(g, [a, b]), a)
        before = g.accounts_json()
        for args in (("disable", "99"), ("enable", "abc"), ("reset", "-1")):
            r = g.kiroctl("accounts", *args, check=False)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn("kiroctl:", r.stderr)
        for args in (("enable",), ("reset", "1", "2"), ("history", "1", "--xml")):
            r = g.kiroctl("accounts", *args, check=False)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage: kiroctl accounts", r.stderr)
        self.assertIn("no account with id 99",
                      g.kiroctl("accounts", "disable", "99", check=False).stderr)
        self.assertEqual([x["runtime"] for x in g.accounts_json()],
                         [x["runtime"] for x in before])

    def test_round_robin_picks_do_not_fsync_the_state_file(self) -> None:
        strace = shutil.which("strace")
        if strace is None:
            self.skipTest("strace is not installed")
        accts = [Account("n1"), Account("n2"), Account("n3")]
        g = self.start(accts, config={"loadBalancingMode": "round-robin",
                                      "rateLimits": {"globalRpm": 1000}})
        # First uses may save credentials (synced): before the trace.
        for i in range(3):
            self.served_by(g, accts, f"warm-up {i}")
        pids = sorted(g.responder_pids())
        self.assertTrue(pids)
        if any(traced_by(p) != {0} for p in pids):
            self.skipTest("the responder is already traced (TRACEME)")
        out = g.dir / "strace.out"
        argv = [strace, "-f", "-y", "-e", "trace=fsync,fdatasync", "-o", str(out)]
        for p in pids:
            argv += ["-p", str(p)]
        errlog = g.dir / "strace.err"
        with errlog.open("wb") as err:
            tracer = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        attached = False
        try:
            deadline = time.monotonic() + 10
            while tracer.poll() is None and time.monotonic() < deadline:
                if all(traced_by(p) == {tracer.pid} for p in pids):
                    attached = True
                    break
                time.sleep(0.05)
            if attached:
                got = [self.served_by(g, accts, f"rr {i}") for i in range(9)]
        finally:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=20)
        if not attached:
            self.skipTest("strace cannot attach: " + errlog.read_text()[-300:])
        self.assertEqual(got, accts * 3)
        calls = [ln for ln in out.read_text().splitlines() if "sync(" in ln]
        db = [ln for ln in calls if "/kiro.db>" in ln]
        memfd = [ln for ln in calls if "memfd:kiro-store-nosync" in ln]
        # Every pick wrote (round-robin) and its close synced the memfd.
        self.assertGreaterEqual(len(memfd), 9, "\n".join(calls[-20:]))
        # Only success tallies may go to disk: one flush per 5 s at most.
        self.assertLessEqual(len(db), 2, "\n".join(db))


def traced_by(pid: int) -> set[int]:
    """TracerPid of every thread of pid."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("TracerPid:"):
                found.add(int(line.split()[1]))
    return found


class PoolApache(PoolTests):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
