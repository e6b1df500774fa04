#!/usr/bin/python3
"""The web UI in a real Chromium (Debian's), driven by playwright-core.

Set-up, once per class: the mock Kiro upstream, kiro-fcgi with adminApiKey
and two accounts behind lighttpd (mount /kiro) or Apache (mount /), the UI
at /admin/ served by that server from admin/ui.  ui-driver.mjs (node,
playwright-core from tests/clients' pinned packages, see
tests/clients/clienthelp.py) launches /usr/bin/chromium headless with
--no-sandbox --disable-background-networking and, checking each step
against the admin API:

  - the API prefix is guessed (/kiro or the root, by GET /health);
  - a wrong key, the client apiKey and a prefix with no admin API behind it
    each give their own message (401, 403, 404) and no login;
  - logs in: the overview page (the first) shows GET /health's status,
    version and account counts, the accounts by state, the 24 h totals
    and one chart bar per hour with the figures of GET /api/admin/stats,
    and one quota bar per account with its cached usage;
  - switches to Simplified Chinese: every tagged element holds the
    zh-CN table's string and no English string of the table shows on
    any page; the choice survives a reload; and back to English; a
    browser whose language is zh-CN gets Chinese without a choice;
  - at 375x812 (a phone) the navigation folds behind a Menu button and
    no page is wider than the screen (document width);
  - the accounts table lists the API's accounts in its order with
    their id, email, state, priority and auth method;
  - after three /v1/messages calls (one failing at the mock: 529), the
    Requests page lists their records newest first with every field as
    the API has it; the "5xx" status filter narrows it to the failing
    one, the account and API filters to the API's answer for them, a text
    filter and a future time range to none; a row's detail is its full record; the
    JSON-lines and CSV exports download (fetched with the header, saved
    as a Blob) the same bytes as the API's exports;
  - the Stats page's totals, per account/model/API/key rows and 24
    hourly columns are the figures of GET /api/admin/stats;
  - the Keys page adds a key (shown once in a dialog, never stored, gone
    from the page once the dialog closes), which serves a /v1/messages
    call, counts it (the Requests page finds the call by the key's
    name), is disabled (401) and enabled, rotated (the old key
    401, the new one 200) and removed after the confirmation;
  - disables and re-enables one, sets its priority, shows its history;
  - imports a kiro.rs credentials.json through the file input (2 added);
  - adds one through the form (priority set) and one as pasted kiro.rs
    JSON, which a second time is a duplicate;
  - disables and deletes one (after the confirmation);
  - a Builder ID login from the page: the user code and link shown, the
    mock approves after the page has polled twice, the new idc account
    appears in the table and the API;
  - one account's balance fetched from the row (the API's figures shown);
  - the usage page lists every account and fetches every balance, with
    its progress; the settings page changes the
    load-balancing mode, a rate limit and the model names (a name added and
    saved, one removed before saving, config.json's map back), each read
    back through the API;
  - no token, client secret, device code, client key or the admin key in
    the page's HTML or storage but the admin key in sessionStorage, and
    the admin key in no URL fetched; logging out forgets the key;
  - nothing is fetched outside loopback and the console shows no error.
Afterwards the mode is read back here too, and the responder log holds no
secret.

Run by `make check`; by hand from a build tree:
  KIRO_BUILDDIR=build /usr/bin/python3 tests/ui/test_ui.py
(KIRO_UI_SCREENSHOT=FILE.png keeps a screenshot of the accounts page;
KIRO_UI_SCREENSHOT_README=1 writes doc/console.png, README's 1280x800 shot
of the overview, from the lighttpd run.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
sys.path.insert(0, str(HERE.parent / "clients"))

import gateway as gw  # noqa: E402
from clienthelp import node_modules  # noqa: E402
from gateway import Account, Gateway, Mock, request  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ADMIN_KEY = "sk-admin-ui-" + "u" * 20 + "X4"
DRIVER = HERE / "ui-driver.mjs"
README_SHOT = HERE.parents[1] / "doc" / "console.png"


class _UI:
    server = "lighttpd"
    mount = "/kiro"
    readme_shot = False

    @classmethod
    def setUpClass(cls) -> None:
        missing = gw.SERVERS[cls.server].missing()
        if missing is not None:
            raise AssertionError(missing)
        if not CHROMIUM.is_file():
            raise AssertionError(f"{CHROMIUM} not found: apt-get install chromium "
                                 "(deploy/install-deps.sh --test)")
        node = shutil.which("node")
        if node is None:
            raise AssertionError("node not found on PATH: install Node.js 20 or later")
        cls.node = node
        cls.modules = node_modules()
        cls.tmp = Path(tempfile.mkdtemp(prefix="kiro-ui-"))
        cls.mock = Mock().start()
        cls.accounts = [Account("ui-one", priority=0), Account("ui-two", priority=1)]
        cls.imported = [Account("ui-import-a"), Account("ui-import-b", auth_method="idc"),
                        Account("ui-form"), Account("ui-pasted", auth_method="idc")]
        cls.gateway = Gateway(cls.server, cls.mock, mount=cls.mount, procs=2, threads=2,
                              accounts=cls.accounts, config={"adminApiKey": ADMIN_KEY})
        try:
            cls.gateway.start()
        except BaseException:
            cls.mock.stop()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        log = cls.gateway.log()
        cls.gateway.stop()
        cls.mock.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        for secret in cls.secrets():
            assert secret not in log, "a secret is in the responder log"

    @classmethod
    def secrets(cls) -> list[str]:
        found = [ADMIN_KEY]
        for account in cls.accounts + cls.imported:
            found += account.secrets()
        return found

    def run_driver(self) -> dict:
        import_file = self.tmp / "credentials.json"
        import_file.write_text(json.dumps([a.credential() for a in self.imported[:2]]))
        form, pasted = self.imported[2], self.imported[3]
        srv = self.gateway.srv
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(self.tmp),
               "KIRO_NODE_MODULES": str(self.modules),
               "KIRO_UI_URL": srv.root_url + "/admin/",
               "KIRO_API_PREFIX": "" if self.mount == "/" else self.mount,
               "KIRO_ADMIN_KEY": ADMIN_KEY, "KIRO_CLIENT_KEY": gw.API_KEY,
               "KIRO_MOCK_URL": self.mock.url, "KIRO_MODEL": gw.MODEL, "KIRO_IMPORT_FILE": str(import_file),
               "KIRO_ADD_FORM": json.dumps({"refreshToken": form.refresh_token,
                                            "email": form.email}),
               "KIRO_ADD_JSON": json.dumps(pasted.credential()),
               "KIRO_SECRETS": json.dumps(self.secrets()[1:])}
        if os.environ.get("KIRO_UI_SCREENSHOT"):
            env["KIRO_SCREENSHOT"] = os.environ["KIRO_UI_SCREENSHOT"]
        if os.environ.get("KIRO_UI_SCREENSHOT_README") == "1" and self.readme_shot:
            env["KIRO_README_SHOT"] = str(README_SHOT)
        try:
            done = subprocess.run([self.node, str(DRIVER)], env=env, cwd=self.tmp,
                                  stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=300)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"ui-driver.mjs did not finish: {exc.stderr!r}") from None
        self.assertEqual(done.returncode, 0,
                         f"{done.stdout}\n{done.stderr}\n{self.gateway.log()[-3000:]}")
        if os.environ.get("KIRO_UI_VERBOSE"):
            print(done.stdout, done.stderr, file=sys.stderr)
        return json.loads(done.stdout.strip().splitlines()[-1])

    def test_ui(self):
        summary = self.run_driver()
        for name in ("prefix_guessed", "wrong_key", "client_key", "wrong_prefix", "log_in",
                     "overview_matches_api", "language", "language_from_browser", "phone", "accounts_match_api", "flows_page", "flows_filter", "flows_detail",
                     "flows_export", "stats_page", "key_add", "key_works", "key_disable",
                     "key_rotate", "key_remove", "disable", "enable", "priority", "import", "add_by_form", "add_by_json",
                     "history", "delete", "builder_id_login", "balance", "usage_page",
                     "load_balancing", "rate_limits", "model_map", "no_secret_in_page",
                     "log_out"):
            self.assertIn(name, summary)
        self.assertIn("401", summary["wrong_key"])
        self.assertIn("403", summary["client_key"])
        self.assertIn("404", summary["wrong_prefix"])
        self.assertEqual(summary["accounts_match_api"], 2)
        self.assertEqual(summary["model_map"], 0)
        self.assertGreater(summary["language"], 100)
        for page, width in summary["phone"].items():
            self.assertLessEqual(width, 375, page)
        # Three requests made; the prefix guess and the wrong prefix at
        # the login (404s) are in the log and the stats too.
        self.assertEqual(summary["flows_page"], 3)
        self.assertGreaterEqual(summary["stats_page"], 4)
        self.assertGreater(summary["flows_export"]["csv"], 0)
        keys = request(self.gateway.url("/api/admin/keys"), "GET", None,
                       {"x-api-key": ADMIN_KEY}).json()["keys"]
        self.assertEqual(keys, [])
        # What the page changed is what the gateway serves with.
        resp = request(self.gateway.url("/api/admin/config/load-balancing"), "GET", None,
                       {"x-api-key": ADMIN_KEY})
        self.assertEqual(resp.json()["mode"], "balanced")
        listed = request(self.gateway.url("/api/admin/credentials"), "GET", None,
                         {"x-api-key": ADMIN_KEY}).json()["credentials"]
        ids = {c["id"] for c in listed}
        self.assertIn(summary["builder_id_login"], ids)
        self.assertNotIn(summary["delete"], ids)
        emails = {c["email"] for c in listed}
        for account in self.imported:
            self.assertIn(account.email, emails)
        # The mock knows ui-two's token: its balance was fetched, and the
        # usage page's "fetch every balance" went through all 6 accounts:
        # the mock does not know the 4 added ones' tokens.
        self.assertRegex(summary["balance"], r"\d+ / \d+")
        self.assertRegex(summary["usage_page"], r"^2 of 6 fetched, 4 failed")


class Lighttpd(_UI, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"
    readme_shot = True


class Apache(_UI, unittest.TestCase):
    server, mount = "apache", "/"


if __name__ == "__main__":
    unittest.main(verbosity=2)
