#!/usr/bin/python3
"""kiroctl's account verbs, usage, health-check, IDE sync and the cron/request race.

Each test gets a fresh temporary directory with a config.json pointing at
the mock (shared by the module, reset before each test).  Covered:

  - accounts add: by flags, the refresh token read from stdin ("-" or no
    flag), an IdC login with its client secret from stdin, an API key; on
    a terminal (a pty) it prompts for the token, client id and secret, and
    echoes only the client id;
    duplicates reported as "already account N"; refused with a one-line
    reason, a non-zero exit and the store unchanged: a truncated token, an
    empty stdin, an unknown auth method, a bad priority or expiry, IdC
    without a client secret, an unknown flag, a region that is not an AWS
    region name (flags, imported files, config keys and REGION alike);
  - accounts export: secrets masked by default (no piece of one printed);
    --with-secrets gives a file that imports into a fresh store as the same
    accounts; an exported state is kept (disabled);
  - accounts remove / priority: change what "accounts list" shows; unknown
    ids, ids that are not numbers and bad priorities are refused with the
    store unchanged; a removed account's token imports as new again;
  - usage: the table and --json (plan, used, limit, remaining, percentage,
    reset, email from the mock), cached for 5 minutes (no second call at
    4 minutes, a new one at 5 and a bit, with the clock moved),
    --refresh calls again, one id, an unknown id; a 402 makes the exit
    non-zero and takes the account out of service;
  - health-check: healthy accounts pass (exit 0, plan shown, subscription
    noted); a quota answer, a suspension and a dead refresh token each make
    the exit non-zero and disable the account with the right reason; a
    second run skips them;
  - IDE sync: "accounts scan --sync" makes a forced refresh write the
    rotated tokens into the IDE's kiro-auth-token.json (other keys kept,
    replaced atomically); without --sync the file is left alone; an
    imported file's (or the IDE file's own) ideSync/source/sourcePath keys
    opt nothing in;
  - the cron/request race, through lighttpd and Apache: "kiroctl refresh"
    (and "refresh --force") at the same moment as 6 requests that find the
    token expiring: exactly one upstream refresh, every request answered,
    and the rotated refresh token kept in the store and credentialsFile;
  - deploy/kiro-fcgi.cron runs "kiroctl refresh" every 5 minutes and
    "kiroctl health-check" every 10.

Run: /usr/bin/python3 tests/integration/test_kiroctl_accounts.py
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, body  # noqa: E402

MOCK: Mock | None = None


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


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class _Ctl(unittest.TestCase):
    """A state directory, kiroctl with stdin, secret and store checks."""

    def setUp(self) -> None:
        MOCK.reset()
        self.dir = Path(tempfile.mkdtemp(prefix="kiro-itest-ctla-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.state = self.dir / "state"
        self.config = self.dir / "config.json"
        self.config.write_text(json.dumps({
            "apiKey": gw.API_KEY, "stateDir": str(self.state), "apiBaseUrl": MOCK.url,
            "authBaseUrl": MOCK.url, "oidcBaseUrl": MOCK.url}))
        self.secrets: list[str] = []

    def ctl(self, *args: str, stdin: str = "", check: bool = True, env: dict | None = None,
            config: Path | None = None, shows_secrets: bool = False
            ) -> subprocess.CompletedProcess:
        full_env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C",
                    "HOME": str(self.dir)}
        full_env.update(env or {})
        argv = [str(gw.KIROCTL), "-c", str(config or self.config)] + list(args)
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              env=full_env, timeout=120)
        if check and proc.returncode != 0:
            self.fail(f"kiroctl {' '.join(args)} exited {proc.returncode}:\n"
                      f"{proc.stdout}{proc.stderr}")
        self.assert_no_secrets(proc.stderr if shows_secrets else proc.stdout + proc.stderr)
        return proc

    def fails(self, *args: str, contains: list[str] = (), **kw) -> subprocess.CompletedProcess:
        """Non-zero exit, one "kiroctl: " line naming the problem, store unchanged."""
        before = self.listing()
        proc = self.ctl(*args, check=False, **kw)
        self.assertNotEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        reason = proc.stderr.strip()
        self.assertTrue(reason.startswith("kiroctl: "), proc.stderr)
        self.assertEqual(len(reason.splitlines()), 1, proc.stderr)
        for text in contains:
            self.assertIn(text, reason)
        self.assertEqual(self.listing(), before, "the store changed after a refusal")
        return proc

    def listing(self) -> list[dict]:
        return json.loads(self.ctl("accounts", "list", "--json").stdout)

    def by_email(self) -> dict[str, dict]:
        return {e.get("email"): e for e in self.listing()}

    def assert_no_secrets(self, text: str) -> None:
        for secret in self.secrets:
            for i in range(0, len(secret) - 12, 6):
                self.assertNotIn(secret[i:i + 12], text, "a piece of a secret was printed")

    def keep_secret(self, *accounts: Account) -> None:
        for account in accounts:
            self.secrets += account.secrets()

    def import_accounts(self, *accounts: Account, mock: bool = True) -> None:
        self.keep_secret(*accounts)
        for account in accounts:
            if mock:
                MOCK.add_account(account)
        path = self.dir / "import.json"
        path.write_text(json.dumps([a.credential() for a in accounts]))
        self.ctl("accounts", "import", str(path))


class AccountVerbs(_Ctl):

    # add

    def test_add_by_flags_stdin_and_prompts(self) -> None:
        social = Account("added")
        idc = Account("added-idc", auth_method="idc")
        self.keep_secret(social, idc)
        out = self.ctl("accounts", "add", "--email", social.email, "--priority", "4",
                       "--region", "eu-west-1", "--refresh-token", "-",
                       stdin=social.refresh_token + "\n").stdout
        self.assertIn("added as account 1", out)
        # No token flag at all: the token is read from stdin too.
        out = self.ctl("accounts", "add", "--auth-method", "idc", "--client-id",
                       idc.client_id, "--client-secret", "-", "--email", idc.email,
                       stdin=idc.refresh_token + "\n" + idc.client_secret + "\n").stdout
        self.assertIn("added as account 2", out)
        key = "ksk_" + "k" * 40
        self.secrets.append(key)
        self.ctl("accounts", "add", "--kiro-api-key", "-", "--email", "key@example.com",
                 stdin=key)
        listed = self.by_email()
        self.assertEqual((listed[social.email]["priority"], listed[social.email]["region"],
                          listed[social.email]["authMethod"]), (4, "eu-west-1", "social"))
        self.assertEqual(listed[social.email]["identityHash"], sha256(social.refresh_token))
        self.assertEqual(listed[idc.email]["authMethod"], "idc")
        self.assertEqual(listed[idc.email]["clientId"], idc.client_id)
        self.assertEqual(listed["key@example.com"]["authMethod"], "api_key")
        # The IdC secret arrived whole: the account refreshes at the OIDC endpoint.
        MOCK.add_account(social)
        MOCK.add_account(idc)
        out = self.ctl("refresh", "--force").stdout
        self.assertIn("account 2: refreshed", out)
        self.assertEqual(MOCK.stats()["refreshes_by_token"].get(idc.refresh_token), 1)
        # The same token again is a duplicate, reported and left alone.
        out = self.ctl("accounts", "add", stdin=social.refresh_token).stdout
        self.assertIn("already account 1 (unchanged)", out)
        self.assertEqual(len(self.listing()), 3)

    def test_add_prompts_on_a_terminal_without_echo(self) -> None:
        account = Account("tty-idc", auth_method="idc")
        self.keep_secret(account)
        master, slave = pty.openpty()
        argv = [str(gw.KIROCTL), "-c", str(self.config), "accounts", "add",
                "--auth-method", "idc", "--email", account.email]
        proc = subprocess.Popen(argv, stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                env={"PATH": os.environ.get("PATH", os.defpath), "LANG": "C"})
        os.close(slave)
        self.addCleanup(os.close, master)
        seen = {"err": b"", "tty": b""}

        def wait_for(prompt: bytes) -> None:
            deadline = time.monotonic() + 30
            while prompt not in seen["err"]:
                self.assertLess(time.monotonic(), deadline, f"no prompt {prompt!r}: {seen}")
                ready, _, _ = select.select([proc.stderr, master], [], [], 1)
                if proc.stderr in ready:
                    chunk = os.read(proc.stderr.fileno(), 4096)
                    self.assertTrue(chunk, f"kiroctl ended before {prompt!r}: {seen}")
                    seen["err"] += chunk
                if master in ready:
                    seen["tty"] += os.read(master, 4096)
            seen["err"] = seen["err"].split(prompt, 1)[1]

        wait_for(b"refresh token (not shown): ")
        os.write(master, account.refresh_token.encode() + b"\n")
        wait_for(b"client id: ")
        os.write(master, account.client_id.encode() + b"\n")
        wait_for(b"client secret (not shown): ")
        os.write(master, account.client_secret.encode() + b"\n")
        out, err = proc.communicate(timeout=60)
        with contextlib.suppress(OSError):
            while select.select([master], [], [], 0.2)[0]:
                chunk = os.read(master, 4096)
                if not chunk:
                    break
                seen["tty"] += chunk
        self.assertEqual(proc.returncode, 0, out + err)
        self.assertIn(b"added as account 1", out)
        echoed = seen["tty"].decode(errors="replace")
        self.assertIn(account.client_id, echoed)        # not a secret: echoed
        self.assert_no_secrets(echoed + (seen["err"] + err).decode(errors="replace"))
        [entry] = self.listing()
        self.assertEqual((entry["email"], entry["authMethod"], entry["clientId"],
                          entry["identityHash"]),
                         (account.email, "idc", account.client_id,
                          sha256(account.refresh_token)))
        MOCK.add_account(account)
        self.assertIn("account 1: refreshed", self.ctl("refresh", "--force").stdout)

    def test_add_refusals_leave_store_unchanged(self) -> None:
        keep = Account("keep-add")
        self.import_accounts(keep, mock=False)
        good = Account("good-add")
        self.keep_secret(good)
        rt = good.refresh_token
        cases = [
            ("truncated", ["--refresh-token", rt[:50] + "..." + rt[-50:]], "", ["truncated"]),
            ("short", ["--refresh-token", "-"], "aor" + "x" * 40, ["truncated", "100"]),
            ("empty stdin", [], "", ["refresh token"]),
            ("blank line", [], "\n", ["refresh token", "empty"]),
            ("auth method", ["--auth-method", "password"], rt, ["--auth-method", "password"]),
            ("priority", ["--priority", "high"], rt, ["--priority", "high"]),
            ("negative priority", ["--priority", "-3"], rt, ["--priority"]),
            ("expiry", ["--expires-at", "soon"], rt, ["--expires-at", "soon"]),
            ("idc without secret", ["--auth-method", "idc", "--client-id", "c1"], rt,
             ["clientSecret"]),
            ("unknown flag", ["--colour", "blue"], rt, ["--colour"]),
            ("region", ["--region", "evil.example/x?"], rt, ["--region", "AWS region"]),
            ("auth region", ["--auth-region", "us-east-1.evil.example"], rt,
             ["--auth-region", "AWS region"]),
            ("api region", ["--api-region", "evil.example/x?"], rt,
             ["--api-region", "AWS region"]),
            ("flag without value", ["--email"], rt, ["--email"]),
        ]
        for name, args, stdin, words in cases:
            with self.subTest(name):
                self.fails("accounts", "add", *args, stdin=stdin, contains=words)
        self.assertEqual([e["email"] for e in self.listing()], [keep.email])

    def test_regions_that_are_not_aws_are_refused_everywhere(self) -> None:
        """A region becomes a host name: imports, config and REGION name the field."""
        keep = Account("keep-region")
        self.import_accounts(keep, mock=False)
        evil = Account("evil-region")
        self.keep_secret(evil)
        for key in ("region", "authRegion", "apiRegion"):
            with self.subTest(key):
                path = self.dir / f"import-{key}.json"
                path.write_text(json.dumps([dict(evil.credential(), **{key: "evil.example/x?"})]))
                proc = self.fails("accounts", "import", str(path), contains=[key, "AWS region"])
                self.assertNotIn("evil.example", proc.stderr)
        for key in ("region", "authRegion", "apiRegion"):
            with self.subTest(f"config {key}"):
                bad = self.dir / f"config-{key}.json"
                bad.write_text(json.dumps(dict(json.loads(self.config.read_text()),
                                               **{key: "evil.example/x?"})))
                proc = self.ctl("accounts", "list", check=False, config=bad)
                self.assertNotEqual(proc.returncode, 0)
                self.assertIn(f'"{key}"', proc.stderr)
        proc = self.ctl("accounts", "list", check=False, env={"REGION": "evil.example/x?"})
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("REGION must be an AWS region", proc.stderr)
        self.assertEqual([e["email"] for e in self.listing()], [keep.email])

    # export

    def test_export_masked_and_with_secrets_round_trip(self) -> None:
        a = Account("exp-a", priority=2)
        b = Account("exp-b", auth_method="idc")
        self.import_accounts(a, b, mock=False)
        self.ctl("accounts", "priority", "1", "5")
        masked = json.loads(self.ctl("accounts", "export").stdout)
        self.assertEqual([e["email"] for e in masked], [b.email, a.email])
        for entry in masked:
            self.assertIn("...", entry["refreshToken"])
        self.assertIn("...", masked[0]["clientSecret"])
        # Masked entries are refused as truncated if someone imports them.
        path = self.dir / "masked.json"
        path.write_text(json.dumps(masked))
        self.fails("accounts", "import", str(path), contains=["truncated"])

        full = self.ctl("accounts", "export", "--with-secrets", shows_secrets=True)
        entries = json.loads(full.stdout)
        self.assertEqual({e["refreshToken"] for e in entries},
                         {a.refresh_token, b.refresh_token})
        self.assertEqual({e["email"]: e["priority"] for e in entries if "priority" in e},
                         {a.email: 5})
        self.assertEqual([e["clientSecret"] for e in entries if "clientSecret" in e],
                         [b.client_secret])
        # Into a fresh store: the same accounts.
        other = self.dir / "other.json"
        other.write_text(json.dumps({"stateDir": str(self.dir / "state2")}))
        path = self.dir / "full.json"
        path.write_text(full.stdout)
        self.ctl("accounts", "import", str(path), config=other)
        fresh = json.loads(self.ctl("accounts", "list", "--json", config=other).stdout)
        mine = self.listing()
        key = ("email", "authMethod", "priority", "identityHash", "clientId", "expiresAt")
        self.assertEqual([[e.get(k) for k in key] for e in fresh],
                         [[e.get(k) for k in key] for e in mine])
        self.fails("accounts", "export", "--secrets",
                   contains=["usage: kiroctl accounts export"])

    # remove, priority

    def test_remove_and_priority(self) -> None:
        a, b, c = Account("rm-a"), Account("rm-b"), Account("rm-c")
        self.import_accounts(a, b, c, mock=False)
        out = self.ctl("accounts", "remove", "2").stdout
        self.assertIn("account 2 removed", out)
        self.assertEqual([e["email"] for e in self.listing()], [a.email, c.email])
        out = self.ctl("accounts", "priority", "1", "9").stdout
        self.assertIn("account 1: priority 9", out)
        self.assertEqual([(e["id"], e["priority"]) for e in self.listing()], [(3, 0), (1, 9)])
        for name, args, words in [
            ("remove unknown", ["remove", "2"], ["no account with id 2"]),
            ("remove not a number", ["remove", "two"], ['"two"', "account id"]),
            ("remove zero", ["remove", "0"], ['"0"']),
            ("remove trailing junk", ["remove", "1x"], ['"1x"']),
            ("priority unknown", ["priority", "7", "1"], ["no account with id 7"]),
            ("priority not a number", ["priority", "1", "first"], ['"first"']),
            ("priority negative", ["priority", "1", "-1"], ['"-1"']),
            ("priority huge", ["priority", "1", "99999999999999999999"], ["priority"]),
        ]:
            with self.subTest(name):
                self.fails("accounts", *args, contains=words)
        for args in (["remove"], ["priority", "1"], ["remove", "1", "2"]):
            with self.subTest(" ".join(args)):
                self.fails("accounts", *args, contains=["usage: kiroctl accounts"])
        # A removed account's token is new again.
        path = self.dir / "b.json"
        path.write_text(json.dumps(b.credential()))
        self.assertIn("added as account 4", self.ctl("accounts", "import", str(path)).stdout)


class Usage(_Ctl):

    def test_usage_table_json_cache_and_refresh(self) -> None:
        a = Account("use-a")
        b = Account("use-b", mock={"usage": {"subscriptionTitle": "KIRO FREE",
                                             "currentUsageWithPrecision": 30,
                                             "usageLimitWithPrecision": 50,
                                             "email": "b-real@example.com"}})
        self.import_accounts(a, b)
        table = self.ctl("usage").stdout
        header, *rows = table.splitlines()
        for column in ("ID", "EMAIL", "PLAN", "USED", "LIMIT", "REMAINING", "USED%", "RESETS"):
            self.assertIn(column, header)
        self.assertEqual(len(rows), 2)
        self.assertRegex(rows[0], r"^1\s+use-a@example.com\s+KIRO PRO\s+12\.50\s+1000\.00\s+"
                                  r"987\.50\s+1\.2%\s+\d{4}-")
        self.assertRegex(rows[1], r"^2\s+use-b@example.com\s+KIRO FREE\s+30\.00\s+50\.00\s+"
                                  r"20\.00\s+60\.0%")
        self.assertEqual(MOCK.stats()["usage"], 2)
        doc = json.loads(self.ctl("usage", "--json").stdout)
        self.assertEqual(MOCK.stats()["usage"], 2, "not served from the 5-minute cache")
        self.assertEqual([(u["id"], u["subscriptionTitle"], u["currentUsage"], u["usageLimit"],
                           u["remaining"], u["usagePercentage"], u["email"]) for u in doc],
                         [(1, "KIRO PRO", 12.5, 1000, 987.5, 1.25, "mock@example.com"),
                          (2, "KIRO FREE", 30, 50, 20, 60, "b-real@example.com")])
        days = (doc[0]["nextResetAt"] - time.time()) / 86400
        self.assertTrue(19 < days < 21, days)
        # The plan is noted on the account (the pool reads it).
        self.assertEqual(self.by_email()[b.email]["runtime"]["subscription"], "KIRO FREE")
        MOCK.call("POST", "accounts/usage", {"id": a.mock_id, "subscriptionTitle": "KIRO PRO+"})
        one = json.loads(self.ctl("usage", "1", "--json", "--refresh").stdout)
        self.assertEqual([(u["id"], u["subscriptionTitle"]) for u in one], [(1, "KIRO PRO+")])
        self.assertEqual(MOCK.stats()["usage"], 3)
        self.assertIn("KIRO PRO+", self.ctl("usage", "1").stdout)
        self.assertEqual(MOCK.stats()["usage"], 3)
        # The cache lasts 5 minutes (kiroctl's clock moved by the test switch).
        self.ctl("usage", env={"KIRO_FCGI_FAKE_NOW": str(int(time.time()) + 240)})
        self.assertEqual(MOCK.stats()["usage"], 3)
        self.ctl("usage", env={"KIRO_FCGI_FAKE_NOW": str(int(time.time()) + 310)})
        self.assertEqual(MOCK.stats()["usage"], 5)
        self.fails("usage", "9", contains=["no account with id 9"])
        self.fails("usage", "x1", contains=['"x1"'])
        self.fails("usage", "--all", contains=["usage: kiroctl usage"])

    def test_usage_quota_answer_disables(self) -> None:
        ok, spent = Account("use-ok"), Account("use-spent")
        self.import_accounts(ok, spent)
        MOCK.call("POST", "accounts/usage", {"id": spent.mock_id, "error": {
            "status": 402, "body": {"message": "quota", "reason": "MONTHLY_REQUEST_COUNT"}}})
        proc = self.ctl("usage", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("account 2: getUsageLimits: HTTP 402", proc.stderr)
        self.assertRegex(proc.stdout, r"(?m)^1\s+use-ok@example.com\s+KIRO PRO")
        self.assertEqual(self.by_email()[spent.email]["runtime"]["disabled"], "QuotaExceeded")
        self.assertEqual(self.by_email()[ok.email]["state"], "ok")

    def test_empty_store(self) -> None:
        self.assertIn("no accounts", self.ctl("usage").stdout)
        self.assertEqual(json.loads(self.ctl("usage", "--json").stdout), [])
        self.assertEqual(self.ctl("health-check").stdout, "")


class HealthCheck(_Ctl):

    def test_health_check_finds_and_disables(self) -> None:
        healthy = Account("hc-ok", expires_at=in_minutes(5))
        spent = Account("hc-spent")
        banned = Account("hc-banned")
        self.import_accounts(healthy, spent, banned)
        out = self.ctl("health-check").stdout
        for i in range(1, 4):
            self.assertIn(f"account {i}: ok, KIRO PRO", out)
        # Only the account expiring within 15 minutes was refreshed.
        self.assertEqual(MOCK.stats()["refreshes_by_token"], {healthy.refresh_token: 1})
        self.assertEqual(MOCK.stats()["usage"], 3)
        self.assertEqual({e["runtime"].get("subscription") for e in self.listing()},
                         {"KIRO PRO"})

        MOCK.call("POST", "accounts/usage", {"id": spent.mock_id, "error": {
            "status": 402, "body": {"message": "used up", "reason": "MONTHLY_REQUEST_COUNT"}}})
        MOCK.call("POST", "accounts/usage", {"id": banned.mock_id, "error": {
            "status": 403, "body": {"message": "Your account is suspended",
                                    "reason": "TEMPORARILY_SUSPENDED"}}})
        proc = self.ctl("health-check", check=False)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("2 account(s) need attention", proc.stderr)
        self.assertIn("account 1: ok", proc.stdout)
        self.assertIn("account 2: getUsageLimits: HTTP 402", proc.stdout)
        self.assertIn("(out of quota: disabled)", proc.stdout)
        self.assertIn("account 3: getUsageLimits: HTTP 403", proc.stdout)
        self.assertIn("(suspended: disabled)", proc.stdout)
        states = self.by_email()
        self.assertEqual(states[spent.email]["runtime"]["disabled"], "QuotaExceeded")
        self.assertEqual(states[banned.email]["runtime"]["disabled"], "Suspended")
        self.assertEqual(states[healthy.email]["state"], "ok")
        # Second run: the disabled ones are skipped, the rest still pass.
        usage_calls = MOCK.stats()["usage"]
        out = self.ctl("health-check").stdout
        self.assertIn("account 2: disabled (QuotaExceeded), skipped", out)
        self.assertIn("account 3: disabled (Suspended), skipped", out)
        self.assertEqual(MOCK.stats()["usage"], usage_calls + 1)
        self.fails("health-check", "--now", contains=["usage: kiroctl health-check"])

    def test_health_check_dead_refresh_token(self) -> None:
        dead = Account("hc-dead2", expires_at=in_minutes(3))
        self.import_accounts(dead)
        MOCK.revoke(refreshToken=dead.refresh_token)
        proc = self.ctl("health-check", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("account 1: refresh failed", proc.stdout)
        self.assertIn("invalid_grant", proc.stdout)
        self.assertIn("1 account(s) need attention", proc.stderr)
        self.assertEqual(self.listing()[0]["state"], "needs-login")
        self.assertEqual(MOCK.stats()["usage"], 0)
        out = self.ctl("health-check").stdout
        self.assertIn("account 1: needs-login (InvalidRefreshToken), skipped", out)
        self.assertEqual(MOCK.stats()["refreshes"], 1)

    def test_cron_file(self) -> None:
        text = (Path(gw.SRCDIR) / "deploy" / "kiro-fcgi.cron").read_text()
        jobs = {}
        for line in text.splitlines():
            fields = line.split()
            if not fields or line.startswith("#") or "=" in fields[0]:
                continue
            # minute hour day month weekday user command...
            self.assertEqual(fields[5], "www-data", line)
            self.assertTrue(fields[6].endswith("kiroctl"), line)
            jobs[fields[7]] = fields[:5]
        self.assertEqual(jobs, {"refresh": ["*/5", "*", "*", "*", "*"],
                                "health-check": ["*/10", "*", "*", "*", "*"]})


class IdeSync(_Ctl):

    def ide_home(self, account: Account) -> tuple[Path, Path]:
        home = self.dir / "home"
        cache = home / ".aws" / "sso" / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        path = cache / "kiro-auth-token.json"
        path.write_text(json.dumps({
            "accessToken": account.access_token, "refreshToken": account.refresh_token,
            "expiresAt": "2099-01-01T00:00:00.000Z", "authMethod": "social",
            "provider": "Google", "profileArn": "arn:aws:codewhisperer:us-east-1:1:profile/X",
            "region": "us-east-1"}, indent=2))
        return home, path

    def test_scan_sync_writes_rotated_tokens_back(self) -> None:
        account = Account("ide-sync")
        self.keep_secret(account)
        MOCK.add_account(account)
        home, path = self.ide_home(account)
        out = self.ctl("accounts", "scan", "--yes", "--sync", env={"HOME": str(home)}).stdout
        self.assertIn("added as account 1", out)
        self.assertIn(f"account 1: rotated tokens will be written back to {path}", out)
        self.assertTrue(self.listing()[0]["ideSync"])
        inode = path.stat().st_ino
        self.assertIn("account 1: refreshed", self.ctl("refresh", "--force").stdout)
        current = [m for m in MOCK.accounts() if m["id"] == account.mock_id][0]
        self.assertNotEqual(current["refreshToken"], account.refresh_token)
        self.secrets.append(current["refreshToken"])
        written = json.loads(path.read_text())
        self.assertEqual(written["refreshToken"], current["refreshToken"])
        self.assertIn(written["accessToken"], current["validAccessTokens"])
        self.assertEqual((written["provider"], written["region"], written["authMethod"]),
                         ("Google", "us-east-1", "social"))
        self.assertNotEqual(written["expiresAt"], "2099-01-01T00:00:00.000Z")
        self.assertNotEqual(path.stat().st_ino, inode, "not replaced atomically")
        self.assertEqual(self.listing()[0]["identityHash"], sha256(current["refreshToken"]))
        # The IDE and the gateway keep going: a second rotation reaches it too.
        self.ctl("refresh", "--force")
        current = [m for m in MOCK.accounts() if m["id"] == account.mock_id][0]
        self.secrets.append(current["refreshToken"])
        self.assertEqual(json.loads(path.read_text())["refreshToken"], current["refreshToken"])

    def test_imported_file_cannot_opt_into_write_back(self) -> None:
        """ideSync, source and sourcePath in an imported file are ignored."""
        account = Account("ide-optin")
        self.keep_secret(account)
        MOCK.add_account(account)
        home, path = self.ide_home(account)
        before = path.read_text()
        victim = self.dir / "victim.json"
        victim.write_text(json.dumps(account.credential()))
        victim_before = victim.read_text()
        forged = dict(account.credential(), ideSync=True, source="ide",
                      sourcePath=str(path))
        imported = self.dir / "forged.json"
        imported.write_text(json.dumps([forged]))
        self.ctl("accounts", "import", str(imported))
        self.assertNotIn("ideSync", self.listing()[0])
        # The IDE's own file saying ideSync is not an opt-in either.
        path.write_text(json.dumps(dict(json.loads(before), ideSync=True,
                                        sourcePath=str(victim))))
        before = path.read_text()
        self.ctl("accounts", "scan", "--yes", env={"HOME": str(home)})
        self.assertNotIn("ideSync", self.listing()[0])
        self.assertIn("account 1: refreshed", self.ctl("refresh", "--force").stdout)
        current = [m for m in MOCK.accounts() if m["id"] == account.mock_id][0]
        self.secrets.append(current["refreshToken"])
        self.assertNotEqual(current["refreshToken"], account.refresh_token)
        self.assertEqual(path.read_text(), before)
        self.assertEqual(victim.read_text(), victim_before)

    def test_scan_without_sync_leaves_the_ide_file(self) -> None:
        account = Account("ide-nosync")
        self.keep_secret(account)
        MOCK.add_account(account)
        home, path = self.ide_home(account)
        before = path.read_text()
        self.ctl("accounts", "scan", "--yes", env={"HOME": str(home)})
        self.assertNotIn("ideSync", self.listing()[0])
        self.ctl("refresh", "--force")
        self.assertEqual(path.read_text(), before)
        # Opting in later: scanning again with --sync turns it on.
        out = self.ctl("accounts", "scan", "--yes", "--sync", env={"HOME": str(home)}).stdout
        # The IDE file still holds the first token (now old): it is a known
        # token of account 1, so it is the same account.
        self.assertIn("already account 1", out)
        self.assertTrue(self.listing()[0]["ideSync"])
        self.fails("accounts", "scan", "--yes", "--sink", env={"HOME": str(home)},
                   contains=["usage: kiroctl accounts scan"])


class _Race:
    """kiroctl refresh racing requests that find the same token expiring."""

    server = "lighttpd"

    def setUp(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        MOCK.reset()

    def race(self, *refresh_args: str) -> None:
        account = Account(f"race-{self.server}", expires_at=in_minutes(2),
                          mock={"refreshDelayMs": 700})
        g = Gateway(self.server, MOCK, accounts=[account], procs=2, threads=4).start()
        self.addCleanup(g.stop)
        # Start a responder (it seeds the store from credentialsFile).
        self.assertEqual(g.get("/health", auth=None).status, 200)
        for _ in range(100):
            if any(e.get("email") == account.email for e in g.accounts_json()):
                break
            time.sleep(0.1)
        count = 6
        results: list = [None] * (count + 1)
        errors: list[BaseException] = []
        barrier = threading.Barrier(count + 1)

        def request(slot: int) -> None:
            try:
                barrier.wait(timeout=30)
                results[slot] = g.messages(body(f"race {slot}"))
            except BaseException as err:
                errors.append(err)

        def cron() -> None:
            try:
                barrier.wait(timeout=30)
                results[count] = g.kiroctl("refresh", *refresh_args, check=False)
            except BaseException as err:
                errors.append(err)

        threads = [threading.Thread(target=request, args=(i,)) for i in range(count)]
        threads.append(threading.Thread(target=cron))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertEqual(errors, [])
        for slot in range(count):
            self.assertEqual(results[slot].status, 200, results[slot].body[:300])
        ctl = results[count]
        self.assertEqual(ctl.returncode, 0, ctl.stdout + ctl.stderr)
        self.assertIn("account 1: refreshed", ctl.stdout)
        stats = MOCK.stats()
        self.assertEqual(stats["refreshes"], 1, stats["refreshes_by_token"])
        self.assertEqual(stats["refreshes_by_token"], {account.refresh_token: 1})
        current = MOCK.accounts()[0]
        self.assertNotEqual(current["refreshToken"], account.refresh_token)
        # The rotated token was kept: in the store and in credentialsFile.
        entry = g.account_by_email(account.email)
        self.assertEqual(entry["identityHash"], sha256(current["refreshToken"]))
        self.assertGreater(entry["expiresAt"], in_minutes(30))
        self.assertEqual(g.credentials_file()[0]["refreshToken"], current["refreshToken"])
        # Later runs see a fresh token: nothing more is refreshed.
        self.assertIn("valid until", g.kiroctl("refresh").stdout)
        self.assertEqual(g.messages(body("after")).status, 200)
        self.assertEqual(MOCK.stats()["refreshes"], 1)

    def test_cron_refresh_races_requests(self) -> None:
        self.race()

    def test_forced_refresh_races_requests(self) -> None:
        self.race("--force")


class RaceLighttpd(_Race, unittest.TestCase):
    server = "lighttpd"


class RaceApache(_Race, unittest.TestCase):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
