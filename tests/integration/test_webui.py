#!/usr/bin/python3
"""The web UI's files and its Builder ID login routes, behind real servers.

Each class runs behind one server and one mount: lighttpd and Apache, each at
/kiro and at the root (where the UI's block must win over the API's). Covered:

  - /admin/ is served by the web server itself from admin/ui (the
    responder never sees it: no access-log line), index.html, app.js and
    style.css with their types, /admin redirected or served; /adminx
    and /api/admin/ still reach the responder;
  - GET /health with the admin key answers the version and account
    counts (the overview page), without a key or with a wrong one not;
  - the page loads nothing from elsewhere: a Content-Security-Policy that
    allows 'self' only, and no http(s):// or // reference in any file;
  - both language tables (lang-en.js, lang-zh-CN.js) have the same keys
    and placeholders, every Chinese string is translated, every key the
    page and app.js use is in them and every key is used, and the page
    holds no text outside the tables;
  - the page's script never writes server data as HTML (no innerHTML,
    outerHTML, insertAdjacentHTML or document.write);
  - POST /api/admin/login/builder-id starts the mock's device flow and
    answers the verification URL, the user code, the interval and a login
    id, never the device code or the client secret; GET /api/admin/login/{id}
    polls once: pending before the interval is over (without asking the
    mock), pending / slow_down from the mock, then approved with the new
    account's id once the mock approves, and the same answer again; the
    account is listed and serves; a denied login says denied, an expired
    one expired (and stays so when approved too late); unknown ids
    404; the admin key is needed (401), and pending logins are capped.

Run: KIRO_BUILDDIR=build /usr/bin/python3 tests/integration/test_webui.py
"""

from __future__ import annotations

import json
import re
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, request, wait_for  # noqa: E402

MOCK: Mock | None = None
ADMIN_KEY = "sk-admin-webui-" + "w" * 16 + "Q7"
UI_DIR = Path(__file__).resolve().parents[2] / "admin" / "ui"
UI_FILES = {"index.html": "text/html", "app.js": "text/javascript",
            "style.css": "text/css", "lang-en.js": "text/javascript",
            "lang-zh-CN.js": "text/javascript"}
LANGS = ("en", "zh-CN")
# Values that are the same in every language: names, not words.
SAME_IN_EVERY_LANGUAGE = {"h.api", "lang.en", "lang.zh-CN"}
SVG_NAMESPACE = '"http://www.w3.org/2000/svg"'


def lang_table(name: str) -> dict:
    """The table lang-NAME.js assigns, read as the JSON it is written in."""
    text = (UI_DIR / f"lang-{name}.js").read_text()
    head = f'window.KIRO_LANG["{name}"] = '
    start = text.index(head) + len(head)
    return json.loads(text[start:text.rindex("}") + 1])


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


class _WebUI:
    server = "lighttpd"
    mount = "/kiro"
    gateway: Gateway | None = None

    @classmethod
    def setUpClass(cls) -> None:
        missing = gw.SERVERS[cls.server].missing()
        if missing is not None:
            raise AssertionError(missing)
        cls.gateway = Gateway(cls.server, MOCK, mount=cls.mount, procs=1, threads=2,
                              accounts=[Account("ui-social")],
                              config={"adminApiKey": ADMIN_KEY})
        cls.gateway.start()

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.gateway is not None:
            log = cls.gateway.log()
            srv = cls.gateway.srv
            cls.gateway.stop()
            # Device codes and client secrets never reach the log.
            assert "mockdevice-" not in log, "a device code is in the responder log"
            assert "mocksecret-" not in log, "a client secret is in the responder log"
            problems = getattr(srv, "_trace_problems", None)
            assert not problems, "valgrind reported errors:\n" + "\n".join(problems)

    def ui(self, path: str = "/admin/"):
        return request(self.gateway.srv.root_url + path, "GET", None, {})

    def admin(self, method: str, path: str, body=None, key: str | None = ADMIN_KEY):
        hdrs = {"x-api-key": key} if key is not None else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        return request(self.gateway.url("/api/admin/" + path), method, data, hdrs)

    # --- the static files -------------------------------------------------

    def test_files_served_with_types(self):
        for name, ctype in UI_FILES.items():
            resp = self.ui("/admin/" + name)
            self.assertEqual(resp.status, 200, name)
            self.assertTrue(resp.headers.get("Content-Type", "").startswith(ctype),
                            f"{name}: {resp.headers.get('Content-Type')}")
            self.assertEqual(resp.body, (UI_DIR / name).read_bytes(), name)

    def test_index_page_at_the_directory(self):
        resp = self.ui("/admin/")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, (UI_DIR / "index.html").read_bytes())
        bare = self.ui("/admin")
        self.assertIn(bare.status, (200, 301, 302))
        if bare.status != 200:
            self.assertTrue(bare.headers.get("Location", "").endswith("/admin/"))

    def test_not_the_responder(self):
        # A path under the UI that is no file is the server's own 404, not
        # the gateway's JSON.
        resp = self.ui("/admin/api/admin/credentials")
        self.assertEqual(resp.status, 404)
        self.assertNotIn(b'"error"', resp.body)

    def test_neighbours_reach_the_responder(self):
        # Only /admin and /admin/... are the UI's: /adminx (at the root
        # mount, a URL of the API's) is the responder's JSON 404.
        resp = request(self.gateway.url("/adminx"), "GET", None, {})
        self.assertEqual(resp.status, 404)
        self.assertIn("error", resp.json())

    def test_health_counts_for_the_admin_key(self):
        # The overview page shows the version and the counts with the
        # admin key; without a key only the status.
        url = self.gateway.url("/health")
        resp = request(url, "GET", None, {"x-api-key": ADMIN_KEY})
        self.assertEqual(resp.status, 200, resp.body)
        body = resp.json()
        self.assertEqual(body["accounts"], {"total": 1, "usable": 1})
        self.assertTrue(body["version"])
        bare = request(url, "GET", None, {}).json()
        self.assertNotIn("version", bare)
        self.assertNotIn("accounts", bare)
        wrong = request(url, "GET", None, {"x-api-key": ADMIN_KEY + "x"}).json()
        self.assertNotIn("accounts", wrong)

    def test_api_still_served(self):
        resp = self.admin("GET", "credentials")
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json()["total"], 1)

    # --- the Builder ID login routes --------------------------------------

    def start_login(self) -> dict:
        resp = self.admin("POST", "login/builder-id")
        self.assertEqual(resp.status, 200, resp.body)
        login = resp.json()
        self.assert_no_device_secret(resp.body)
        self.assertEqual(login["status"], "pending")
        self.assertRegex(login["userCode"], r"^[A-Z0-9-]{4,}$")
        self.assertIn("user_code=" + login["userCode"], login["verificationUriComplete"])
        self.assertTrue(login["verificationUri"].startswith("https://"))
        self.assertGreaterEqual(login["interval"], 1)
        self.assertGreater(login["expiresIn"], 0)
        self.assertIsInstance(login["loginId"], int)
        return login

    def device(self, user_code: str) -> dict:
        for dev in MOCK.call("GET", "device"):
            if dev["userCode"] == user_code:
                return dev
        raise AssertionError(f"the mock has no device for {user_code}")

    def assert_no_device_secret(self, body: bytes) -> None:
        self.assertNotIn(b"mockdevice-", body)
        self.assertNotIn(b"mocksecret-", body)
        self.assertNotIn(b"clientSecret", body)
        self.assertNotIn(b"deviceCode", body)
        for dev in MOCK.call("GET", "device"):
            self.assertNotIn(dev["deviceCode"].encode(), body)

    def token_polls(self, device_code: str) -> int:
        return sum(1 for r in MOCK.requests(op=None)
                   if r["path"].endswith("/token") and isinstance(r["body"], dict)
                   and r["body"].get("deviceCode") == device_code)

    def poll(self, login_id: int) -> dict:
        resp = self.admin("GET", f"login/{login_id}")
        self.assertEqual(resp.status, 200, resp.body)
        self.assert_no_device_secret(resp.body)
        return resp.json()

    def poll_until(self, login_id: int, statuses: set[str], what: str) -> dict:
        seen = []

        def done():
            answer = self.poll(login_id)
            seen.append(answer["status"])
            return answer if answer["status"] in statuses else None
        answer = wait_for(done, timeout=30, what=what)
        self.assertTrue(set(seen) <= statuses | {"pending", "slow_down"}, seen)
        return answer

    def test_login_approved_after_polls(self):
        slow = self.server == "lighttpd" and self.mount == "/kiro"
        if slow:
            MOCK.settings(device_slow_down=1)
        started = time.monotonic()
        try:
            login = self.start_login()
        finally:
            MOCK.settings(device_slow_down=0)
        dev = self.device(login["userCode"])
        # Within the service's interval a poll does not ask it.
        first = self.poll(login["loginId"])
        if time.monotonic() - started < login["interval"] * 0.8:
            self.assertEqual(first["status"], "pending")
            self.assertEqual(self.token_polls(dev["deviceCode"]), 0)
        if slow:
            answer = self.poll_until(login["loginId"], {"slow_down"}, "slow_down")
            self.assertEqual(answer["interval"], login["interval"] + 5)
        wait_for(lambda: self.poll(login["loginId"]) and
                 self.token_polls(dev["deviceCode"]) >= 1, timeout=40, what="a poll")
        self.assertEqual(self.poll(login["loginId"])["status"], "pending")
        MOCK.call("POST", "device/approve", {"userCode": login["userCode"]})
        answer = self.poll_until(login["loginId"], {"approved"}, "approval")
        self.assertFalse(answer["duplicate"])
        again = self.poll(login["loginId"])
        self.assertEqual(again["status"], "approved")
        self.assertEqual(again["accountId"], answer["accountId"])
        listed = {c["id"]: c for c in self.admin("GET", "credentials").json()["credentials"]}
        self.assertIn(answer["accountId"], listed)
        self.assertEqual(listed[answer["accountId"]]["authMethod"], "idc")
        # Its tokens work: Kiro's usage is fetched with them.
        balance = self.admin("GET", f"credentials/{answer['accountId']}/balance")
        self.assertEqual(balance.status, 200, balance.body)

    def test_login_denied(self):
        login = self.start_login()
        MOCK.call("POST", "device/deny", {"userCode": login["userCode"]})
        answer = self.poll_until(login["loginId"], {"denied"}, "the denial")
        self.assertIn("denied", answer["message"])
        self.assertNotIn("accountId", answer)
        self.assertEqual(self.poll(login["loginId"])["status"], "denied")

    def test_login_expired(self):
        MOCK.settings(device_expires_in=1)
        try:
            login = self.start_login()
        finally:
            MOCK.settings(device_expires_in=600)
        answer = self.poll_until(login["loginId"], {"expired"}, "the expiry")
        self.assertIn("expired", answer["message"])
        self.assertEqual(self.poll(login["loginId"])["status"], "expired")
        # Too late to approve: it stays expired, and no account is added.
        before = self.admin("GET", "credentials").json()["total"]
        MOCK.call("POST", "device/approve", {"userCode": login["userCode"]})
        self.assertEqual(self.poll(login["loginId"])["status"], "expired")
        self.assertEqual(self.admin("GET", "credentials").json()["total"], before)

    def test_login_unknown_bad_and_unauthorised(self):
        resp = self.admin("GET", "login/123456")
        self.assertEqual(resp.status, 404, resp.body)
        self.assertEqual(resp.json()["error"]["type"], "not_found")
        self.assertEqual(self.admin("GET", "login/abc").status, 400)
        for method, path in (("POST", "login/builder-id"), ("GET", "login/1")):
            resp = self.admin(method, path, key=None)
            self.assertEqual(resp.status, 401, resp.body)
            resp = self.admin(method, path, key=gw.API_KEY)
            self.assertEqual(resp.status, 403, resp.body)
        resp = self.admin("DELETE", "login/builder-id")
        self.assertEqual(resp.status, 405, resp.body)

    def test_waiting_logins_capped(self):
        # Last in the class (alphabetical): it fills the waiting slots.
        waiting = 0
        while True:
            resp = self.admin("POST", "login/builder-id")
            if resp.status != 200:
                break
            waiting += 1
            self.assertLessEqual(waiting, 8, "more than 8 logins waiting")
        self.assertEqual(resp.status, 409, resp.body)
        self.assertIn("waiting", resp.json()["error"]["message"])


class StaticChecks(unittest.TestCase):
    """What the files say, independent of the server."""

    def test_csp_self_only(self):
        html = (UI_DIR / "index.html").read_text()
        m = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
        self.assertIsNotNone(m)
        policy = dict(p.strip().split(" ", 1) for p in m.group(1).split(";"))
        self.assertEqual(policy["default-src"], "'none'")
        for directive in ("script-src", "style-src", "connect-src"):
            self.assertEqual(policy[directive], "'self'", directive)

    def test_nothing_from_elsewhere(self):
        for name in UI_FILES:
            # The SVG namespace is a name (createElementNS), never fetched.
            text = (UI_DIR / name).read_text().replace(SVG_NAMESPACE, '""')
            # A URL with a host, in quotes or url(...), anywhere.
            for m in re.finditer(r"""["'(=]\s*(?:https?:)?//\w""", text):
                self.fail(f"{name} refers to {m.group(0)}")
            self.assertNotIn("@import", text, name)
            self.assertNotIn("url(", text, name)

    def test_no_html_from_data(self):
        for name in ("app.js", "lang-en.js", "lang-zh-CN.js"):
            js = (UI_DIR / name).read_text()
            for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                         "eval(", "new Function"):
                self.assertNotIn(sink, js, name)

    def test_language_tables_match(self):
        tables = {name: lang_table(name) for name in LANGS}
        en, zh = tables["en"], tables["zh-CN"]
        self.assertEqual(set(en), set(zh))
        for key, text in en.items():
            self.assertTrue(text and zh[key], key)
            self.assertEqual(sorted(re.findall(r"\{\d+\}", text)),
                             sorted(re.findall(r"\{\d+\}", zh[key])), key)
            if key not in SAME_IN_EVERY_LANGUAGE:
                # Translated: some Chinese in every Chinese string.
                self.assertRegex(zh[key], r"[\u4e00-\u9fff]", key)

    def test_every_string_in_the_tables(self):
        en = lang_table("en")
        html = (UI_DIR / "index.html").read_text()
        js = (UI_DIR / "app.js").read_text()
        used = set(re.findall(r'data-i18n(?:-aria)?="([^"]+)"', html))
        used |= set(re.findall(r'\bt\("([^"]+)"', js))
        self.assertFalse(used - set(en), "keys missing from the tables")
        # Each key is used: by the page, by name in app.js, or a state.
        for key in en:
            if key.startswith("state.") or key in ("title",):
                continue
            self.assertTrue(key in used or f'"{key}"' in js, f"{key} is not used")
        # No text in the page's body outside the tables, but names.
        body = re.sub(r"<(code|option value=\"[^\"]*\")[^>]*>[^<]*<", "<",
                      html.split("<body>", 1)[1])
        texts = {t.strip() for t in re.findall(r'>([^<]*[A-Za-z][^<]*)<', body)}
        tagged = set(en.values())
        names = {"kiro-fcgi", "x-api-key"}
        for text in texts:
            norm = " ".join(text.split())
            self.assertTrue(norm in tagged or norm in names, f"untranslated: {norm!r}")


class LighttpdKiro(_WebUI, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"


class LighttpdRoot(_WebUI, unittest.TestCase):
    server, mount = "lighttpd", "/"


class ApacheKiro(_WebUI, unittest.TestCase):
    server, mount = "apache", "/kiro"


class ApacheRoot(_WebUI, unittest.TestCase):
    server, mount = "apache", "/"


if __name__ == "__main__":
    unittest.main(verbosity=2)
