#!/usr/bin/python3
"""kiroctl, the operator's command line, against a real state directory and the mock.

Each test gets a fresh temporary directory with a config.json (stateDir, and
the mock as authBaseUrl/oidcBaseUrl/apiBaseUrl for refreshes); the mock is
shared by the module and reset before each test.  Covered:

  - accounts import: a single object, an array, duplicates (in a second
    import and within one file) reported as "already account N", builder-id
    read as idc; refused with a clear one-line message, a non-zero exit and
    the store unchanged: a truncated refresh token ("..." or under 100
    characters), a missing file, broken JSON, idc without clientSecret;
  - accounts list (table and --json): id, email, auth method, priority,
    state and expiry; no access token, refresh token or client secret is
    printed (no 12-character piece of one), neither by status;
  - accounts scan --yes with a fake HOME holding
    .aws/sso/cache/kiro-auth-token.json: a social login, an IdC login with
    its <clientIdHash>.json client registration (refreshable afterwards,
    which proves the client secret was taken), a truncated token refused, no
    file found;
  - refresh: only accounts expiring within 15 minutes are refreshed, --force
    refreshes all, the rotated refresh token is stored; a failing refresh
    gives a non-zero exit naming the account; invalid_grant leaves the
    account needing a new login, which later runs skip;
  - status: config path, state directory, upstream, key, account counts;
  - the config found by -c FILE and by $KIRO_FCGI_CONFIG (-c wins);
  - the state directory is 0700 and its files 0600;
  - as root, with the state directory owned by the responder's user
    (www-data), kiroctl drops to that user by itself, still reads import
    files and the IDE cache that only root can read, and leaves every state
    file owned by that user; root's supplementary groups are gone too (uid,
    gid and groups read from /proc while kiroctl waits in a login); a
    symlinked state directory is refused, nothing written where it points;
  - the usage text (made from the verb table) lists every verb, within 79
    columns, and kiroctl(1) and README.md name each of them.

Run: /usr/bin/python3 tests/integration/test_kiroctl.py
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Mock, run_kiroctl  # noqa: E402

MOCK: Mock | None = None
RESPONDER_USER = "www-data"


def setUpModule() -> None:
    global MOCK
    gw.require_binaries(gw.KIROCTL)
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def in_minutes(minutes: float) -> str:
    when = datetime.now(timezone.utc) + timedelta(minutes=minutes)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class Kiroctl(unittest.TestCase):

    def setUp(self) -> None:
        MOCK.reset()
        self.dir = Path(tempfile.mkdtemp(prefix="kiro-itest-ctl-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.state = self.dir / "state"
        self.config = self.dir / "config.json"
        self.write_config(self.config)
        self.secrets: list[str] = []

    # helpers

    def write_config(self, path: Path, state: Path | None = None, **extra) -> None:
        cfg = {"apiKey": gw.API_KEY, "stateDir": str(state or self.state),
               "apiBaseUrl": MOCK.url, "authBaseUrl": MOCK.url, "oidcBaseUrl": MOCK.url}
        cfg.update(extra)
        path.write_text(json.dumps(cfg))

    def ctl(self, *args, check=True, env=None, config: Path | None | str = "default"):
        cfg = self.config if config == "default" else config
        proc = run_kiroctl(cfg, *args, check=False, env=env)
        if check and proc.returncode != 0:
            self.fail(f"kiroctl {' '.join(args)} exited {proc.returncode}:\n"
                      f"{proc.stdout}{proc.stderr}")
        self.assert_no_secrets(proc.stdout + proc.stderr)
        return proc

    def fails(self, *args, contains: list[str] = (), **kw):
        """kiroctl must exit non-zero with a one-line reason."""
        before = self.listing()
        proc = self.ctl(*args, check=False, **kw)
        self.assertNotEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        reason = proc.stderr.strip()
        self.assertTrue(reason.startswith("kiroctl: "), proc.stderr)
        self.assertEqual(len(reason.splitlines()), 1, proc.stderr)
        for text in contains:
            self.assertIn(text, reason)
        self.assertEqual(self.listing(), before, "the store changed after a failure")
        return proc

    def listing(self) -> list[dict]:
        return json.loads(self.ctl("accounts", "list", "--json").stdout)

    def write_json(self, name: str, value) -> Path:
        path = self.dir / name
        path.write_text(json.dumps(value))
        return path

    def creds(self, *accounts: Account) -> list[dict]:
        for account in accounts:
            self.secrets += account.secrets()
        return [a.credential() for a in accounts]

    def assert_no_secrets(self, text: str) -> None:
        for secret in self.secrets:
            for i in range(0, len(secret) - 12, 6):
                self.assertNotIn(secret[i:i + 12], text, "a piece of a secret was printed")

    def assert_modes(self) -> None:
        self.assertEqual(stat.S_IMODE(os.stat(self.state).st_mode), 0o700)
        for root, dirs, files in os.walk(self.state):
            for name in dirs:
                path = os.path.join(root, name)
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o700, path)
            for name in files:
                path = os.path.join(root, name)
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)

    # import

    def test_usage_lists_every_verb_and_the_docs_have_them(self) -> None:
        # The usage text is made from the verb table; kiroctl(1) and the
        # README must name every verb it lists, so that they cannot drift.
        proc = subprocess.run([str(gw.KIROCTL)], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 2)
        lines = proc.stderr.splitlines()
        self.assertTrue(lines[0].startswith("usage: kiroctl"), lines[:2])
        verbs = []
        for line in lines[1:]:
            self.assertLessEqual(len(line), 79, line)
            if line.startswith("  ") and not line.startswith("   "):
                words = line.split()
                verb = words[0]
                if len(words) > 1 and words[1][0].isalpha() and words[1].islower() \
                        and words[0] in ("accounts", "keys"):
                    verb += " " + words[1]
                verbs.append(verb)
        self.assertGreaterEqual(len(verbs), 25, verbs)
        for want in ("accounts route", "keys rotate", "flows", "stats", "models"):
            self.assertIn(want, verbs)
        src = Path(__file__).resolve().parents[2]
        man = (src / "man" / "kiroctl.1").read_text()
        readme = (src / "README.md").read_text()
        readme = re.sub(r"kiroctl -c \S+ ", "kiroctl ", readme)
        for verb in verbs:
            noun, _, sub = verb.partition(" ")
            # "accounts enable | reset" and "keys enable|disable" name several.
            alts = r"(?:[a-z-]+ ?\| ?)*" + re.escape(sub) + r"\b" if sub else ""
            with self.subTest(verb=verb):
                self.assertTrue(re.search(r"(?m)^\.(?:It )?Cm " + re.escape(noun)
                                          + (" " + alts if sub else r"\b"), man),
                                f"kiroctl(1) lacks {verb}")
                self.assertTrue(re.search(r"kiroctl " + re.escape(noun)
                                          + (" " + alts if sub else r"\b"), readme),
                                f"README lacks {verb}")

    def test_import_single_object(self) -> None:
        account = Account("single", priority=3)
        path = self.write_json("one.json", self.creds(account)[0])
        out = self.ctl("accounts", "import", str(path)).stdout
        self.assertIn("added as account 1", out)
        self.assertIn("1 added, 0 already present", out)
        [entry] = self.listing()
        self.assertEqual((entry["id"], entry["email"], entry["authMethod"], entry["priority"],
                          entry["state"]), (1, account.email, "social", 3, "ok"))
        self.assert_modes()

    def test_import_array_and_duplicates(self) -> None:
        a, b = Account("arr-a"), Account("arr-b", auth_method="idc", priority=1)
        path = self.write_json("two.json", self.creds(a, b))
        out = self.ctl("accounts", "import", str(path)).stdout
        self.assertIn("2 added, 0 already present", out)
        listed = {e["email"]: e for e in self.listing()}
        self.assertEqual(listed[b.email]["authMethod"], "idc")
        again = self.ctl("accounts", "import", str(path)).stdout
        self.assertIn("0 added, 2 already present", again)
        self.assertIn("already account 1 (unchanged)", again)
        self.assertIn("already account 2 (unchanged)", again)
        # A duplicate inside one file, and builder-id read as idc.
        c = Account("arr-c", auth_method="idc")
        entry = dict(self.creds(c)[0], authMethod="builder-id")
        path = self.write_json("dup.json", [entry, entry, self.creds(a)[0]])
        out = self.ctl("accounts", "import", str(path)).stdout
        self.assertIn("1 added, 2 already present", out)
        listing = self.listing()
        self.assertEqual(len(listing), 3)
        self.assertEqual({e["email"]: e["authMethod"] for e in listing}[c.email], "idc")

    def test_import_refusals_leave_store_unchanged(self) -> None:
        keep = Account("keep")
        self.ctl("accounts", "import", str(self.write_json("keep.json", self.creds(keep))))
        good = self.creds(Account("later"))[0]
        dotted = dict(good, refreshToken=good["refreshToken"][:60] + "..." +
                      good["refreshToken"][-60:])
        short = dict(good, refreshToken="aor" + "x" * 80)
        no_secret = dict(self.creds(Account("idc-half", auth_method="idc"))[0])
        del no_secret["clientSecret"]
        cases = [
            ("truncated ...", self.write_json("dots.json", [good, dotted]), ["truncated"]),
            ("under 100", self.write_json("short.json", short), ["truncated", "100"]),
            ("idc without secret", self.write_json("idc.json", no_secret), ["clientSecret"]),
            ("missing file", self.dir / "nope.json", ["nope.json"]),
            ("broken JSON", self.dir / "broken.json", ["broken.json"]),
            ("empty file", self.dir / "empty.json", ["empty.json"]),
            ("not credentials", self.write_json("num.json", 42), ["num.json"]),
        ]
        (self.dir / "broken.json").write_text('[{"refreshToken": "aor')
        (self.dir / "empty.json").write_text("")
        for name, path, words in cases:
            with self.subTest(name):
                self.fails("accounts", "import", str(path), contains=words)
        self.assertEqual([e["email"] for e in self.listing()], [keep.email])

    # list, status

    def test_list_and_status_never_print_secrets(self) -> None:
        social = Account("lister", expires_at=in_minutes(90))
        idc = Account("lister-idc", auth_method="idc", priority=2)
        self.ctl("accounts", "import", str(self.write_json("l.json", self.creds(social, idc))))
        table = self.ctl("accounts", "list").stdout
        header, *rows = table.splitlines()
        for column in ("ID", "EMAIL", "AUTH", "PRIO", "STATE", "EXPIRES"):
            self.assertIn(column, header)
        self.assertEqual(len(rows), 2)
        self.assertRegex(rows[0], rf"^1\s+{social.email}\s+social\s+0\s+ok\s+{social.expires_at}")
        self.assertRegex(rows[1], rf"^2\s+{idc.email}\s+idc\s+2\s+ok\s+")
        listing = self.listing()
        self.assertEqual(len(listing), 2)
        status = self.ctl("status").stdout
        self.assertIn(str(self.config), status)
        self.assertIn(str(self.state), status)
        self.assertIn(MOCK.url, status)
        self.assertRegex(status, r"accounts:\s+2 \(2 usable\)")
        self.assertNotIn(gw.API_KEY, status)
        # Secrets were checked by ctl() on every output above; be explicit once.
        for secret in social.secrets() + idc.secrets():
            self.assertNotIn(secret, table + json.dumps(listing) + status)

    def test_empty_store_list_and_status(self) -> None:
        out = self.ctl("accounts", "list").stdout
        self.assertIn("kiroctl accounts import", out)
        self.assertEqual(self.listing(), [])
        self.assertRegex(self.ctl("status").stdout, r"accounts:\s+0 \(0 usable\)")

    # config lookup

    def test_config_from_flag_and_environment(self) -> None:
        other_state = self.dir / "other-state"
        other = self.dir / "other.json"
        self.write_config(other, other_state)
        env_status = self.ctl("status", config=None,
                              env={"KIRO_FCGI_CONFIG": str(self.config)}).stdout
        self.assertIn(f"config:        {self.config}", env_status)
        self.assertIn(str(self.state), env_status)
        flag_status = self.ctl("status", config=other,
                               env={"KIRO_FCGI_CONFIG": str(self.config)}).stdout
        self.assertIn(f"config:        {other}", flag_status)
        self.assertIn(str(other_state), flag_status)
        account = Account("via-env")
        path = self.write_json("e.json", self.creds(account))
        self.ctl("accounts", "import", str(path), config=None,
                 env={"KIRO_FCGI_CONFIG": str(self.config)})
        self.assertEqual([e["email"] for e in self.listing()], [account.email])
        missing = self.dir / "missing.json"
        proc = self.ctl("status", config=missing, check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(str(missing), proc.stderr)

    # scan

    def ide_home(self, token: dict, registration: dict | None = None,
                 client_hash: str | None = None) -> Path:
        home = self.dir / "home"
        cache = home / ".aws" / "sso" / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "kiro-auth-token.json").write_text(json.dumps(token))
        if registration is not None:
            (cache / f"{client_hash}.json").write_text(json.dumps(registration))
        return home

    def test_scan_social_login(self) -> None:
        account = Account("ide-social")
        self.secrets += account.secrets()
        home = self.ide_home({"accessToken": account.access_token,
                              "refreshToken": account.refresh_token,
                              "expiresAt": in_minutes(60), "authMethod": "social",
                              "provider": "Google",
                              "profileArn": "arn:aws:codewhisperer:us-east-1:1:profile/X",
                              "region": "us-east-1"})
        out = self.ctl("accounts", "scan", "--yes", env={"HOME": str(home)}).stdout
        self.assertIn("found a Kiro IDE social login", out)
        self.assertIn("added as account 1", out)
        [entry] = self.listing()
        self.assertEqual(entry["authMethod"], "social")
        again = self.ctl("accounts", "scan", "--yes", env={"HOME": str(home)}).stdout
        self.assertIn("already account 1", again)

    def test_scan_idc_login_with_client_registration(self) -> None:
        account = Account("ide-idc", auth_method="idc", expires_at=in_minutes(5))
        self.secrets += account.secrets()
        MOCK.add_account(account)
        client_hash = hashlib.sha1(b"start-url").hexdigest()
        home = self.ide_home({"accessToken": account.access_token,
                              "refreshToken": account.refresh_token,
                              "expiresAt": account.expires_at, "authMethod": "IdC",
                              "provider": "BuilderId", "clientIdHash": client_hash,
                              "region": "us-east-1"},
                             {"clientId": account.client_id,
                              "clientSecret": account.client_secret,
                              "expiresAt": in_minutes(60 * 24 * 30)}, client_hash)
        out = self.ctl("accounts", "scan", "--yes", env={"HOME": str(home)}).stdout
        self.assertIn("found a Kiro IDE idc login", out)
        [entry] = self.listing()
        self.assertEqual(entry["authMethod"], "idc")
        self.assertEqual(entry["clientId"], account.client_id)
        # The client secret came along: the IdC refresh works.
        out = self.ctl("refresh").stdout
        self.assertIn("account 1: refreshed", out)
        self.assertEqual(MOCK.stats()["refreshes_ok"], 1)

    def test_scan_refusals(self) -> None:
        account = Account("ide-bad")
        self.secrets += account.secrets()
        token = {"accessToken": account.access_token,
                 "refreshToken": account.refresh_token[:40] + "...",
                 "expiresAt": in_minutes(60), "authMethod": "social", "provider": "Github"}
        home = self.ide_home(token)
        self.fails("accounts", "scan", "--yes", env={"HOME": str(home)},
                   contains=["truncated"])
        idc = dict(token, refreshToken=account.refresh_token, authMethod="IdC",
                   clientIdHash="0" * 40)
        home = self.ide_home(idc)
        self.fails("accounts", "scan", "--yes", env={"HOME": str(home)},
                   contains=["0" * 40])
        empty = self.dir / "empty-home"
        empty.mkdir()
        self.fails("accounts", "scan", "--yes", env={"HOME": str(empty)},
                   contains=["kiro-auth-token.json"])

    # refresh

    def import_into_mock_and_store(self, *accounts: Account) -> None:
        for account in accounts:
            MOCK.add_account(account)
        self.ctl("accounts", "import", str(self.write_json("r.json", self.creds(*accounts))))

    def test_refresh_only_soon_expiring_then_force(self) -> None:
        soon = Account("soon", expires_at=in_minutes(5))
        near = Account("near", expires_at=in_minutes(12))
        later = Account("later", expires_at=in_minutes(120))
        self.import_into_mock_and_store(soon, near, later)
        out = self.ctl("refresh").stdout
        self.assertIn("account 1: refreshed", out)
        self.assertIn("account 2: refreshed", out)
        self.assertIn("account 3: valid until", out)
        stats = MOCK.stats()
        self.assertEqual(stats["refreshes_by_token"],
                         {soon.refresh_token: 1, near.refresh_token: 1})
        expiry = {e["email"]: e["expiresAt"] for e in self.listing()}
        self.assertEqual(expiry[later.email], later.expires_at)
        self.assertGreater(expiry[soon.email], in_minutes(30))
        # The rotated tokens were stored: a second run refreshes nothing ...
        self.ctl("refresh")
        self.assertEqual(MOCK.stats()["refreshes"], 2)
        # ... and --force refreshes every account with its current token.
        out = self.ctl("refresh", "--force").stdout
        self.assertEqual(out.count("refreshed"), 3, out)
        stats = MOCK.stats()
        self.assertEqual((stats["refreshes"], stats["refreshes_ok"]), (5, 5))
        self.assertEqual(stats["refreshes_failed"], 0)
        self.assert_modes()

    def test_refresh_failure_exits_non_zero(self) -> None:
        good = Account("good", expires_at=in_minutes(3))
        bad = Account("bad", expires_at=in_minutes(3))
        self.import_into_mock_and_store(good, bad)
        MOCK.call("POST", "accounts/fail_refresh", {"id": bad.mock_id, "status": 500, "times": -1})
        proc = self.ctl("refresh", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("account 1: refreshed", proc.stdout)
        self.assertIn("account 2: refresh failed", proc.stdout)
        self.assertIn("1 account(s) could not be refreshed", proc.stderr)
        self.assertEqual({e["email"]: e["state"] for e in self.listing()}[bad.email], "ok")

    def test_refresh_invalid_grant_needs_login(self) -> None:
        dead = Account("dead", expires_at=in_minutes(2))
        self.import_into_mock_and_store(dead)
        MOCK.revoke(refreshToken=dead.refresh_token)
        proc = self.ctl("refresh", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("invalid_grant", proc.stdout)
        self.assertIn("login", proc.stdout)
        [entry] = self.listing()
        self.assertEqual(entry["state"], "needs-login")
        self.assertIn("needs-login", self.ctl("accounts", "list").stdout)
        again = self.ctl("refresh")
        self.assertIn("needs a new login (skipped)", again.stdout)
        self.assertEqual(MOCK.stats()["refreshes"], 1)

    # running as root

    @unittest.skipUnless(os.geteuid() == 0, "needs root: kiroctl drops privileges only as root")
    def test_root_drops_to_state_owner(self) -> None:
        pw = pwd.getpwnam(RESPONDER_USER)
        self.state.mkdir(mode=0o700)
        os.chown(self.state, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o755)
        # Files only root can read: an operator's import file and IDE cache.
        private = self.dir / "private"
        private.mkdir(mode=0o700)
        account = Account("rooted")
        self.secrets += account.secrets()
        source = private / "creds.json"
        source.write_text(json.dumps(self.creds(account)))
        os.chmod(source, 0o600)
        self.ctl("accounts", "import", str(source))
        other = Account("rooted-ide")
        self.secrets += other.secrets()
        home = private / "home"
        cache = home / ".aws" / "sso" / "cache"
        cache.mkdir(parents=True)
        (cache / "kiro-auth-token.json").write_text(json.dumps(
            {"accessToken": other.access_token, "refreshToken": other.refresh_token,
             "expiresAt": in_minutes(60), "authMethod": "social", "provider": "Google"}))
        self.ctl("accounts", "scan", "--yes", env={"HOME": str(home)})
        self.assertEqual([e.get("email") for e in self.listing()], [account.email, None])
        for entry in [os.stat(self.state)] + [e.stat() for e in os.scandir(self.state)]:
            self.assertEqual((entry.st_uid, entry.st_gid), (pw.pw_uid, pw.pw_gid))
        self.assert_modes()

    def root_owned_state(self) -> pwd.struct_passwd:
        pw = pwd.getpwnam(RESPONDER_USER)
        self.state.mkdir(mode=0o700)
        os.chown(self.state, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o755)
        return pw

    @unittest.skipUnless(os.geteuid() == 0, "needs root: kiroctl drops privileges only as root")
    def test_root_drop_leaves_no_root_group(self) -> None:
        """Root's supplementary groups are gone, not just its uid and gid."""
        pw = self.root_owned_state()
        env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C", "HOME": str(self.dir)}
        # kiroctl waits for the browser with the store open: its ids can be read then.
        proc = subprocess.Popen([str(gw.KIROCTL), "-c", str(self.config), "login", "google",
                                 "--port", "0", "--timeout", "60"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, extra_groups=[0, 4242])

        def stop() -> None:
            proc.kill()
            proc.communicate()
        self.addCleanup(stop)
        err = b""
        while b"waiting for the browser at" not in err:
            line = proc.stderr.readline()
            self.assertTrue(line, f"kiroctl ended early:\n{err.decode()}")
            err += line
        status = Path(f"/proc/{proc.pid}/status").read_text()
        ids = {k: v.split() for k, v in (line.split(":", 1) for line in status.splitlines())
               if k in ("Uid", "Gid", "Groups")}
        self.assertEqual(ids["Uid"], [str(pw.pw_uid)] * 4)
        self.assertEqual(ids["Gid"], [str(pw.pw_gid)] * 4)
        want = sorted(str(g) for g in os.getgrouplist(pw.pw_name, pw.pw_gid))
        self.assertEqual(sorted(ids["Groups"]), want)
        self.assertNotIn("0", ids["Groups"])
        self.assertNotIn("4242", ids["Groups"])

    @unittest.skipUnless(os.geteuid() == 0, "needs root: kiroctl drops privileges only as root")
    def test_root_refuses_a_symlinked_state_dir(self) -> None:
        """A symlink must not choose whom root becomes (nor where it writes)."""
        pw = self.root_owned_state()
        target = self.dir / "someone-elses"
        target.mkdir(mode=0o700)
        os.chown(target, pw.pw_uid, pw.pw_gid)
        link = self.dir / "linked-state"
        link.symlink_to(target)
        config = self.dir / "linked.json"
        self.write_config(config, state=link)
        proc = self.ctl("accounts", "list", check=False, config=config)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("symbolic link", proc.stderr)
        self.assertEqual(list(target.iterdir()), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
