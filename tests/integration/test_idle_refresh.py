#!/usr/bin/python3
"""Idle social accounts: `kiroctl refresh` refreshes them before their refresh token dies.

Kiro lets a social refresh token die after about 6 hours unused
(doc/protocol.md §12), however long the access token is valid, so
`kiroctl refresh` (cron, every 5 minutes) also refreshes a social account
whose last refresh is idleRefreshHours old (default 4; 0 turns it off).  The
last refresh is the account's `refreshedAt`, which the credentials file can
set, so no clock has to move.  Each test starts its own gateway behind
lighttpd and Apache; covered:

  - an account last refreshed 5 hours ago with a token valid for decades:
    a request through the server is served with the old token and does not
    refresh; `kiroctl refresh` refreshes it (the mock sees one refresh and
    says "idle"), the next request uses the new token, `accounts list
    --json` shows the new refreshedAt, and a second `kiroctl refresh`
    leaves it alone;
  - an account refreshed 3 hours ago, and an IdC account 5 hours idle, are
    left alone at the default of 4 hours;
  - idleRefreshHours 0: the 5-hour idle account is left alone;
    idleRefreshHours 2: the 3-hour one is refreshed.

Run: KIRO_BUILDDIR=build /usr/bin/python3 tests/integration/test_idle_refresh.py
"""

from __future__ import annotations

import datetime
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock  # noqa: E402

MOCK: Mock | None = None


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def hours_ago(hours: float) -> str:
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class IdleAccount(Account):
    """An account whose last refresh was `idle_hours` ago, its token valid till 2099."""

    def __init__(self, name: str, idle_hours: float, **kw):
        super().__init__(name, **kw)
        self.refreshed_at = hours_ago(idle_hours)

    def credential(self) -> dict:
        return dict(super().credential(), refreshedAt=self.refreshed_at)


class _Idle:
    server = "lighttpd"

    def setUp(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        MOCK.reset()

    def start(self, accounts, config=None) -> Gateway:
        g = Gateway(self.server, MOCK, accounts=accounts, config=config).start()
        self.addCleanup(g.stop)
        # The responder imports the credentials file when it starts.
        self.assertEqual(g.get("/health").status, 200)
        return g

    def used_token(self) -> str:
        return MOCK.requests()[-1]["headers"]["authorization"].split(" ", 1)[1]

    def test_idle_social_account_is_refreshed_by_kiroctl_refresh(self) -> None:
        idle = IdleAccount("idle", 5)
        g = self.start([idle])
        self.assertEqual(g.messages(gw.body("before")).status, 200)
        self.assertEqual(self.used_token(), idle.access_token)
        self.assertEqual(MOCK.stats()["refreshes"], 0, "a request refreshed a valid token")
        out = g.kiroctl("refresh").stdout
        self.assertIn("account 1: refreshed (idle", out)
        self.assertEqual(MOCK.stats()["refreshes_ok"], 1)
        self.assertEqual(g.messages(gw.body("after")).status, 200)
        new_token = self.used_token()
        self.assertNotEqual(new_token, idle.access_token)
        self.assertIn(new_token, MOCK.accounts()[0]["validAccessTokens"])
        listed = g.accounts_json()[0]
        self.assertGreater(listed["refreshedAt"], idle.refreshed_at)
        self.assertIn("valid until", g.kiroctl("refresh").stdout)
        self.assertEqual(MOCK.stats()["refreshes"], 1)

    def test_recent_and_idc_accounts_are_left_alone(self) -> None:
        recent = IdleAccount("recent", 3)
        idc = IdleAccount("idc", 5, auth_method="idc")
        g = self.start([recent, idc])
        out = g.kiroctl("refresh").stdout
        self.assertEqual(out.count("valid until"), 2, out)
        self.assertEqual(MOCK.stats()["refreshes"], 0)

    def test_idle_refresh_hours_configures_it(self) -> None:
        five, three = IdleAccount("five", 5), IdleAccount("three", 3)
        g = self.start([five, three], config={"idleRefreshHours": 0})
        out = g.kiroctl("refresh").stdout
        self.assertEqual(out.count("valid until"), 2, out)
        self.assertEqual(MOCK.stats()["refreshes"], 0)
        g.extra_config["idleRefreshHours"] = 2
        g.write_config()
        out = g.kiroctl("refresh").stdout
        self.assertEqual(out.count("refreshed (idle"), 2, out)
        self.assertEqual(sorted(MOCK.stats()["refreshes_by_token"]),
                         sorted([five.refresh_token, three.refresh_token]))


class IdleLighttpd(_Idle, unittest.TestCase):
    server = "lighttpd"


class IdleApache(_Idle, unittest.TestCase):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
