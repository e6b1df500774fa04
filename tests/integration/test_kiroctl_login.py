#!/usr/bin/python3
"""kiroctl login, run as a subprocess against the mock's OIDC and social login endpoints.

Each test gets a fresh state directory and config.json pointing authBaseUrl and
oidcBaseUrl at the mock (shared by the module, reset before each test).  The
poll interval is shortened with KIROCTL_LOGIN_SECOND_MS so the suite stays fast.
Covered:

  - builder-id: the URL and code are shown, the mock approves after several
    polls and answers slow_down once (the next poll waits 5 "seconds" more),
    the account is added as idc with its client; denied, expired and
    --timeout give a one-line reason, a non-zero exit and an unchanged store;
    a spinner with the elapsed seconds on a terminal (a pty), dots otherwise;
    SIGINT (Ctrl-C) exits 130 with the store unchanged, also while a
    request hangs; an unreachable service is named;
  - google: the local listener, with a fake browser (the test fetches the
    mock's login URL and follows its redirect to the listener, which answers
    with a page); a wrong state (or a refusal with another state, or none)
    gets a 400 page and the wait goes on to the real callback; a refusal
    with this login's state fails; a peer dribbling bytes is cut at its
    deadline while the browser gets in; a refusal's text reaches the
    terminal without control characters; --timeout;
  - github --no-listener: the redirect URL pasted on stdin (also with the
    IDE's kiro:// redirect URI from --redirect-uri); a wrong state, a
    URL cut inside the state, a URL without its query and a cut-off code are
    refused with a message saying so;
  - remote: builder-id by default; google with the redirect pasted, and the
    listener on --listen ADDR:PORT; an unknown provider;
  - no token, refresh token or client secret is ever printed.

Run: /usr/bin/python3 tests/integration/test_kiroctl_login.py
"""

from __future__ import annotations

import http.client
import json
import os
import pty
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Mock, run_kiroctl  # noqa: E402

MOCK: Mock | None = None
SECOND_MS = "40"
LOGIN_URL = re.compile(r"(http://127\.0\.0\.1:\d+/login\?\S+)")
USER_CODE = re.compile(r"shows the code ([A-Z]{4}-[A-Z]{4})")
REDIRECT = re.compile(r"waiting for the browser at (http://\S+)\.")


def setUpModule() -> None:
    global MOCK
    gw.require_binaries(gw.KIROCTL)
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


class Run:
    """kiroctl running in the background, its stderr read by a thread."""

    def __init__(self, config: Path, *args: str, env: dict | None = None):
        full_env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C",
                    "HOME": os.environ.get("HOME", "/root"),
                    "KIROCTL_LOGIN_SECOND_MS": SECOND_MS}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [str(gw.KIROCTL), "-c", str(config), "login", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=full_env)
        self.err = ""
        self.lines: queue.Queue = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.put(line)

    def wait_for(self, pattern: re.Pattern, timeout: float = 20) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            found = pattern.search(self.err)
            if found:
                return found
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and self.lines.empty()
                             and not self.reader.is_alive()):
                raise AssertionError(f"no {pattern.pattern!r} in kiroctl's output:\n{self.err}")
            try:
                self.err += self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                pass

    def paste(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        try:
            self.proc.wait(timeout)
            out = self.proc.stdout.read()
        finally:
            self.close()
        while not self.lines.empty():
            self.err += self.lines.get()
        return self.proc.returncode, out, self.err

    def close(self) -> None:
        """Kills kiroctl if it still runs and closes its pipes (idempotent)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass


def fetch_no_redirect(url: str) -> str:
    """GET url and return the Location of its 302 (a browser's first hop)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", parts.path + "?" + parts.query)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 302:
            raise AssertionError(f"{url} -> {resp.status}, not a redirect")
        return resp.getheader("Location")
    finally:
        conn.close()


def browse(url: str) -> tuple[int, str]:
    """A fake browser: follows redirects and returns the last status and page."""
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def with_param(url: str, key: str, value: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query[key] = value
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


class KiroctlLogin(unittest.TestCase):

    def setUp(self) -> None:
        MOCK.reset()
        self.dir = Path(tempfile.mkdtemp(prefix="kiro-itest-login-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.config = self.dir / "config.json"
        self.config.write_text(json.dumps({
            "apiKey": gw.API_KEY, "stateDir": str(self.dir / "state"),
            "apiBaseUrl": MOCK.url, "authBaseUrl": MOCK.url,
            "oidcBaseUrl": MOCK.url + "/oidc/{region}"}))
        self.before = self.listing()

    # helpers

    def listing(self) -> list[dict]:
        return json.loads(run_kiroctl(self.config, "accounts", "list", "--json").stdout)

    def start(self, *args: str, **kw) -> Run:
        run = Run(self.config, *args, **kw)
        self.addCleanup(run.close)
        return run

    def assert_no_secrets(self, text: str) -> None:
        secrets = []
        for acct in MOCK.accounts():
            secrets += [acct.get("refreshToken") or ""] + list(acct.get("accessTokens") or [])
            secrets.append(acct.get("clientSecret") or "")
        for secret in filter(None, secrets):
            for i in range(0, len(secret) - 12, 6):
                self.assertNotIn(secret[i:i + 12], text, "a piece of a secret was printed")

    def assert_added(self, run: Run, auth: str, how: str) -> dict:
        code, out, err = run.finish()
        self.assertEqual(code, 0, out + err)
        self.assertRegex(out, rf"^logged in with {how}: added as account 1\n$")
        self.assert_no_secrets(out + err)
        listing = self.listing()
        self.assertEqual(len(listing), 1, listing)
        self.assertEqual(listing[0]["id"], 1)
        self.assertEqual(listing[0]["authMethod"], auth)
        self.assertEqual(listing[0]["state"], "ok")
        return listing[0]

    def assert_failed(self, run: Run, *words: str, code: int = 1) -> str:
        status, out, err = run.finish()
        self.assertEqual(status, code, out + err)
        last = err.strip().splitlines()[-1]
        self.assertTrue(last.startswith("kiroctl: "), err)
        for word in words:
            self.assertIn(word, last)
        self.assertEqual(out, "")
        self.assertEqual(self.listing(), self.before, "the store changed after a failure")
        self.assert_no_secrets(out + err)
        return last

    def token_polls(self) -> list[dict]:
        return [r for r in MOCK.requests(op=None)
                if r["path"].endswith("/token") and isinstance(r["body"], dict)
                and r["body"].get("grantType", "").endswith("device_code")]

    # builder-id

    def test_builder_id_approved_after_polls_and_a_slow_down(self) -> None:
        MOCK.settings(device_slow_down=1)
        run = self.start("builder-id", "--timeout", "60")
        user_code = run.wait_for(USER_CODE).group(1)
        self.assertIn(f"https://view.awsapps.com/start/#/device?user_code={user_code}", run.err)
        deadline = time.monotonic() + 20
        while len(self.token_polls()) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        MOCK.call("POST", "device/approve", {"userCode": user_code})
        acct = self.assert_added(run, "idc", "AWS Builder ID")
        # Not a terminal: one dot per poll, no spinner.
        self.assertRegex(run.err, r"\n\.{3,}\n")
        self.assertNotIn("\r", run.err)
        polls = self.token_polls()
        self.assertGreaterEqual(len(polls), 4)
        # After slow_down (the first answer) the interval grew from 1 to 6 "seconds".
        gap = polls[1]["time"] - polls[0]["time"]
        self.assertGreaterEqual(gap, 5.5 * int(SECOND_MS) / 1000, polls)
        self.assertEqual(MOCK.stats()["device_tokens"], 1)
        register = MOCK.requests(op="client/register")[-1]
        self.assertIn("/oidc/us-east-1/client/register", register["path"])
        self.assertEqual(MOCK.requests(op="device_authorization")[-1]["body"]["startUrl"],
                         "https://view.awsapps.com/start")
        # The client registration was kept: the account refreshes through it.
        self.assertEqual(acct.get("region"), "us-east-1")
        run_kiroctl(self.config, "refresh", "--force")
        self.assertEqual(MOCK.stats()["refreshes_ok"], 1)

    def test_builder_id_spinner_on_a_terminal(self) -> None:
        master, slave = pty.openpty()
        env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C",
               "KIROCTL_LOGIN_SECOND_MS": SECOND_MS}
        proc = subprocess.Popen(
            [str(gw.KIROCTL), "-c", str(self.config), "login", "builder-id", "--timeout", "2"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env)
        os.close(slave)
        seen = b""
        try:
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:         # EIO: the other side is closed
                    break
                if not chunk:
                    break
                seen += chunk
        finally:
            os.close(master)
            proc.wait(30)
            proc.stdout.close()
        text = seen.decode(errors="replace")
        self.assertEqual(proc.returncode, 1, text)
        spins = re.findall(r"\r([|/\\-]) waiting for the approval in the browser "
                           r"\((\d+) s, Ctrl-C to give up\)", text)
        self.assertGreater(len({s for s, _ in spins}), 1, text)
        self.assertIn("timed out after 2 s", text)
        self.assertEqual(self.listing(), self.before)

    def test_builder_id_denied(self) -> None:
        run = self.start("builder-id")
        user_code = run.wait_for(USER_CODE).group(1)
        MOCK.call("POST", "device/deny", {"userCode": user_code})
        self.assert_failed(run, "denied")

    def test_builder_id_expired(self) -> None:
        MOCK.settings(device_expires_in=1)
        run = self.start("builder-id", "--timeout", "30")
        run.wait_for(USER_CODE)
        self.assert_failed(run, "expired")

    def test_builder_id_timeout(self) -> None:
        run = self.start("builder-id", "--timeout", "1")
        run.wait_for(USER_CODE)
        self.assert_failed(run, "timed out after 1 s")

    def test_builder_id_interrupted(self) -> None:
        run = self.start("builder-id")
        run.wait_for(USER_CODE)
        run.proc.send_signal(signal.SIGINT)
        self.assert_failed(run, "interrupted", code=130)

    def test_interrupted_while_the_service_hangs(self) -> None:
        silent = socket.socket()
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)        # connections complete in the backlog, unanswered
        self.config.write_text(json.dumps({
            "stateDir": str(self.dir / "state"),
            "oidcBaseUrl": f"http://127.0.0.1:{silent.getsockname()[1]}"}))
        run = self.start("builder-id")
        silent.settimeout(60)
        conn, _ = silent.accept()       # kiroctl is waiting for the answer now
        self.addCleanup(conn.close)
        started = time.monotonic()
        run.proc.send_signal(signal.SIGINT)
        self.assert_failed(run, "interrupted", code=130)
        self.assertLess(time.monotonic() - started, 10)

    def test_builder_id_unreachable_service(self) -> None:
        self.config.write_text(json.dumps({
            "stateDir": str(self.dir / "state"), "oidcBaseUrl": "http://127.0.0.1:1",
            "connectTimeoutMs": 2000}))
        run = self.start("builder-id")
        self.assert_failed(run, "OIDC client registration")

    # google / github

    def test_google_through_the_listener(self) -> None:
        run = self.start("google", "--timeout", "30")
        url = run.wait_for(LOGIN_URL).group(1)
        redirect = run.wait_for(REDIRECT).group(1)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        self.assertEqual(query["idp"], "Google")
        self.assertEqual(query["code_challenge_method"], "S256")
        self.assertEqual(query["redirect_uri"], redirect)
        # A stray request (favicon) is answered 404 and does not end the wait.
        parts = urllib.parse.urlsplit(redirect)
        self.assertEqual(browse(f"http://{parts.netloc}/favicon.ico")[0], 404)
        status, page = browse(url)
        self.assertEqual(status, 200)
        self.assertIn("Signed in", page)
        acct = self.assert_added(run, "social", "Google")
        self.assertTrue(acct.get("profileArn"))
        self.assertEqual(MOCK.stats()["social_logins"], 1)
        token = MOCK.requests(op="oauth/token")[-1]["body"]
        self.assertEqual(token["redirect_uri"], redirect)

    def test_listener_wrong_state(self) -> None:
        """Another state (a refusal too) gets a 400, and the login goes on."""
        run = self.start("google", "--timeout", "30")
        url = run.wait_for(LOGIN_URL).group(1)
        location = fetch_no_redirect(url)
        status, page = browse(with_param(location, "state", "someone-elses-state"))
        self.assertEqual(status, 400)
        self.assertIn("does not match", page)
        forged = with_param(with_param(location, "state", "x" * 43), "error", "access_denied")
        self.assertEqual(browse(forged)[0], 400)
        status, page = browse(location.split("?")[0] + "?error=access_denied")
        self.assertEqual(status, 400)
        self.assertIn("no state=", page)
        self.assertIsNone(run.proc.poll(), "a stranger's callback ended the login")
        status, page = browse(location)
        self.assertEqual(status, 200, page)
        self.assert_added(run, "social", "Google")

    def test_listener_slow_peer_does_not_block_it(self) -> None:
        """A connection that dribbles bytes is cut at its deadline; the browser gets in."""
        run = self.start("google", "--timeout", "60")
        url = run.wait_for(LOGIN_URL).group(1)
        parts = urllib.parse.urlsplit(run.wait_for(REDIRECT).group(1))
        outcome = {}

        # Connected before the browser: the listener takes it first.
        sock = socket.create_connection((parts.hostname, parts.port), timeout=5)

        def dribble() -> None:
            try:
                sock.sendall(b"GET /oauth/callback?")
                end = time.monotonic() + 15
                while time.monotonic() < end:
                    sock.sendall(b"a")
                    time.sleep(0.05)
                outcome["dribbled to the end"] = True
            except OSError:
                outcome["cut"] = True
            finally:
                sock.close()

        peer = threading.Thread(target=dribble)
        peer.start()
        status, page = browse(url)
        self.assertEqual(status, 200, page)
        peer.join(30)
        self.assertEqual(outcome, {"cut": True})
        self.assert_added(run, "social", "Google")

    def test_terminal_gets_no_control_characters(self) -> None:
        """A refusal's text from the callback is printed without escapes or line breaks."""
        run = self.start("google", "--timeout", "30")
        url = run.wait_for(LOGIN_URL).group(1)
        redirect = run.wait_for(REDIRECT).group(1)
        state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["state"]
        desc = "\x1b[2J\x1b]0;owned\x07bad\u009b31m\nkiroctl: forged line\r"
        status, _ = browse(redirect + "?" + urllib.parse.urlencode(
            {"state": state, "error": "access_denied", "error_description": desc}))
        self.assertEqual(status, 400)
        last = self.assert_failed(run, "refused: access_denied")
        self.assertIn("bad31mkiroctl: forged line", last)
        for ch in ("\x1b", "\x07", "\u009b", "\r"):
            self.assertNotIn(ch, run.err)
        forged = [line for line in run.err.splitlines() if line.startswith("kiroctl: ")]
        self.assertEqual(len(forged), 1, run.err)

    def test_listener_refused_sign_in(self) -> None:
        MOCK.settings(login_error="access_denied")
        run = self.start("github")
        url = run.wait_for(LOGIN_URL).group(1)
        status, page = browse(url)
        self.assertEqual(status, 400)
        self.assert_failed(run, "refused: access_denied")

    def test_social_timeout(self) -> None:
        run = self.start("google", "--timeout", "1")
        run.wait_for(LOGIN_URL)
        self.assert_failed(run, "timed out after 1 s")

    def test_github_pasted(self) -> None:
        run = self.start("github", "--no-listener", "--port", "19999")
        url = run.wait_for(LOGIN_URL).group(1)
        location = fetch_no_redirect(url)
        self.assertTrue(location.startswith("http://127.0.0.1:19999/oauth/callback?"), location)
        run.paste("")
        run.paste("  " + location + "  ")
        self.assert_added(run, "social", "Github")

    def test_pasted_with_the_ide_redirect_uri(self) -> None:
        ide = "kiro://kiro.kiroAgent/authenticate-success"
        run = self.start("google", "--redirect-uri", ide)
        url = run.wait_for(LOGIN_URL).group(1)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        self.assertEqual(query["redirect_uri"], ide)
        location = fetch_no_redirect(url)
        self.assertTrue(location.startswith(ide + "?"), location)
        run.paste(location)
        self.assert_added(run, "social", "Google")
        self.assertEqual(MOCK.requests(op="oauth/token")[-1]["body"]["redirect_uri"], ide)

    def test_pasted_wrong_state(self) -> None:
        run = self.start("github", "--no-listener")
        location = fetch_no_redirect(run.wait_for(LOGIN_URL).group(1))
        run.paste(with_param(location, "state", "x" * 43))
        self.assert_failed(run, "does not match")
        self.assertEqual(MOCK.stats()["social_logins"], 0)

    def test_pasted_truncated_urls(self) -> None:
        cases = [
            (lambda loc: loc[:loc.index("state=") + 20], "does not match"),
            (lambda loc: loc[:loc.index("?")], "has no query"),
            (lambda loc: loc[:loc.index("code=") + 12], "the login code was refused"),
        ]
        for cut, words in cases:
            with self.subTest(words=words):
                run = self.start("google", "--no-listener")
                location = fetch_no_redirect(run.wait_for(LOGIN_URL).group(1))
                self.assertLess(location.index("state="), location.index("code="))
                run.paste(cut(location))
                self.assert_failed(run, words)
        self.assertEqual(MOCK.stats()["social_logins"], 0)

    def test_stdin_closed_without_a_url(self) -> None:
        run = self.start("github", "--no-listener")
        run.wait_for(LOGIN_URL)
        run.proc.stdin.close()
        self.assert_failed(run, "standard input ended")

    # remote

    def test_remote_defaults_to_builder_id(self) -> None:
        run = self.start("remote")
        user_code = run.wait_for(USER_CODE).group(1)
        self.assertIn("in a browser on any machine", run.err)
        MOCK.call("POST", "device/approve", {"userCode": user_code})
        self.assert_added(run, "idc", "AWS Builder ID")

    def test_remote_google_pasted(self) -> None:
        run = self.start("remote", "--provider", "google", "--listen", "127.0.0.1:0")
        url = run.wait_for(LOGIN_URL).group(1)
        self.assertIn("on any machine", run.err)
        run.wait_for(re.compile(r"ssh -L \d+:127\.0\.0\.1:\d+"))
        run.paste(fetch_no_redirect(url))
        self.assert_added(run, "social", "Google")

    def test_remote_github_listener_on_listen_address(self) -> None:
        run = self.start("remote", "--provider", "github", "--listen", "127.0.0.1:0")
        url = run.wait_for(LOGIN_URL).group(1)
        redirect = run.wait_for(REDIRECT).group(1)
        self.assertRegex(redirect, r"^http://127\.0\.0\.1:\d+/oauth/callback$")
        self.assertEqual(browse(url)[0], 200)
        self.assert_added(run, "social", "Github")

    def test_bad_arguments(self) -> None:
        run = self.start("remote", "--provider", "facebook")
        self.assert_failed(run, "facebook")
        run = self.start("yahoo")
        status, out, err = run.finish()
        self.assertEqual(status, 2)
        self.assertIn("usage: kiroctl login", err)
        run = self.start("builder-id", "--port", "5")
        self.assert_failed(run, "google and github")
        run = self.start("google", "--timeout", "soon")
        self.assert_failed(run, "--timeout")
        run = self.start("github", "--redirect-uri", "http://x/cb?a=1")
        self.assert_failed(run, "--redirect-uri")
        self.assertEqual(self.listing(), self.before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
