#!/usr/bin/python3
"""GET /metrics: Prometheus counters summed over processes, and their key (issue 11).

Each test starts its own gateway behind lighttpd, and again behind Apache
(the *Apache classes), with 2 responder processes; the mock upstream is
shared by the module and reset before each test.  Every scrape is read by
a strict parser of the text format 0.0.4 (below): HELP and TYPE once per
family and before its samples, valid names and label names, escaped label
values, no duplicate series, histograms with cumulative buckets ending at
+Inf equal to _count.  Covered:

  - a mix of requests in flight at once over 2 processes (both seen
    serving in the access log; rounds of 8 until they are: Anthropic
    streamed and not, OpenAI chat, OpenAI responses, Gemini) and a mock
    failure (500 on every call, two accounts): requests_total by API,
    model, account and status class; input and output tokens; upstream
    attempts equal to the calls the mock saw, and equal to requests +
    retries + failovers; a failover for the failure; the duration and
    time-to-first-byte histograms counting each request once; gauges of
    accounts by state matching kiroctl, and each account's quota matching
    `kiroctl usage` (cached, no upstream call on scrape);
  - token refreshes by account and result: one that works for a token
    refused under 8 requests in flight, one that fails (a dead refresh
    token), matching the mock's count; the accounts gauge then shows the
    account that needs a login;
  - the counts survive SIGKILL of every responder: the web server starts
    new ones, the next request adds one to the old total;
  - a metrics file that cannot be used (a directory in its place) after
    the responders restart: they serve, the scrape says
    kiro_fcgi_metrics_shared 0 and the log says why;
  - auth: 404 when neither metricsKey nor adminApiKey is set; 401 without
    a key, with a wrong one, with the client apiKey or with ?key=;
    200 with metricsKey (x-api-key or Bearer) or adminApiKey, at the root
    mount as well; HEAD without a body, POST 405 with Allow; no key ever in
    an answer; the scrape is not counted.

Run: /usr/bin/python3 tests/integration/test_metrics.py
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, body, in_parallel  # noqa: E402

MOCK: Mock | None = None
MODEL = "claude-sonnet-4-5"
KIRO_MODEL = "claude-sonnet-4.5"
GEMINI_MODEL = "gemini-2.5-flash"
METRICS_KEY = "mk-" + gw._rand(24)
ADMIN_KEY = "ak-" + gw._rand(24)


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


# --- A strict parser of the exposition format 0.0.4 -----------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class FormatError(AssertionError):
    pass


def parse_labels(text: str, lineno: int) -> tuple:
    """'a="x",b="y\\"z"' -> (("a","x"),("b",'y"z')); escapes \\\\ \\" \\n only."""
    labels, i = [], 0
    while i < len(text):
        m = re.compile(LABEL + "=\"").match(text, i)
        if not m:
            raise FormatError(f"line {lineno}: bad label at {text[i:]!r}")
        name = text[i:m.end() - 2]
        i, value = m.end(), []
        while True:
            if i >= len(text):
                raise FormatError(f"line {lineno}: unterminated label value")
            c = text[i]
            if c == "\\":
                nxt = text[i + 1:i + 2]
                if nxt not in ("\\", "\"", "n"):
                    raise FormatError(f"line {lineno}: bad escape \\{nxt}")
                value.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == "\"":
                i += 1
                break
            elif c == "\n":
                raise FormatError(f"line {lineno}: raw newline in a label value")
            else:
                value.append(c)
                i += 1
        if name in dict(labels):
            raise FormatError(f"line {lineno}: label {name} twice")
        labels.append((name, "".join(value)))
        if i < len(text):
            if text[i] != ",":
                raise FormatError(f"line {lineno}: expected ',' at {text[i:]!r}")
            i += 1
    return tuple(labels)


def parse_exposition(text: str) -> dict:
    """{family: {"type", "help", "samples": {(name, labels): value}}}; raises FormatError."""
    if not text.endswith("\n"):
        raise FormatError("the text does not end with a newline")
    families: dict = {}
    seen_samples: set = set()
    closed: set = set()
    current = None
    sample_re = re.compile(rf"^({NAME})(?:\{{(.*)\}})? (\S+)$")
    for lineno, line in enumerate(text[:-1].split("\n"), 1):
        if line.startswith("#"):
            m = re.match(rf"^# (HELP|TYPE) ({NAME}) (.*)$", line)
            if not m:
                raise FormatError(f"line {lineno}: bad comment {line!r}")
            kind, name, rest = m.groups()
            if name in closed:
                raise FormatError(f"line {lineno}: family {name} seen earlier")
            if current is not None and current != name:
                closed.add(current)
            fam = families.setdefault(name, {"type": "untyped", "help": None,
                                             "samples": {}, "typed": False})
            if fam["samples"]:
                raise FormatError(f"line {lineno}: {kind} after samples of {name}")
            if kind == "HELP":
                if fam["help"] is not None:
                    raise FormatError(f"line {lineno}: second HELP for {name}")
                fam["help"] = rest
            else:
                if fam["typed"] or rest not in TYPES:
                    raise FormatError(f"line {lineno}: bad TYPE {rest} for {name}")
                fam["type"], fam["typed"] = rest, True
            current = name
            continue
        if line == "":
            raise FormatError(f"line {lineno}: empty line")
        m = sample_re.match(line)
        if not m:
            raise FormatError(f"line {lineno}: bad sample {line!r}")
        name, labels_text, value_text = m.groups()
        labels = parse_labels(labels_text or "", lineno)
        family = name
        fam = families.get(name)
        if fam is None or fam["type"] == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                base = name[:-len(suffix)]
                if name.endswith(suffix) and base in families and \
                        families[base]["type"] == "histogram":
                    family, fam = base, families[base]
                    break
        if fam is None or family != current:
            raise FormatError(f"line {lineno}: sample {name} outside its family")
        if (name, labels) in seen_samples:
            raise FormatError(f"line {lineno}: duplicate series {line!r}")
        seen_samples.add((name, labels))
        try:
            value = float(value_text)
        except ValueError:
            raise FormatError(f"line {lineno}: bad value {value_text!r}") from None
        if fam["type"] == "counter" and (value < 0 or math.isnan(value)):
            raise FormatError(f"line {lineno}: counter {value}")
        fam["samples"][(name, labels)] = value
    for family, fam in families.items():
        if fam["type"] == "histogram":
            check_histogram(family, fam["samples"])
    return families


def check_histogram(family: str, samples: dict) -> None:
    series: dict = {}
    for (name, labels), value in samples.items():
        plain = tuple(kv for kv in labels if kv[0] != "le")
        entry = series.setdefault(plain, {"buckets": [], "sum": None, "count": None})
        if name == family + "_bucket":
            le = dict(labels).get("le")
            if le is None:
                raise FormatError(f"{family}: a bucket without le")
            entry["buckets"].append((math.inf if le == "+Inf" else float(le), value))
        elif name == family + "_sum":
            entry["sum"] = value
        elif name == family + "_count":
            entry["count"] = value
    for plain, entry in series.items():
        buckets = sorted(entry["buckets"])
        if not buckets or buckets[-1][0] != math.inf:
            raise FormatError(f"{family}{plain}: no +Inf bucket")
        counts = [v for _, v in buckets]
        if counts != sorted(counts):
            raise FormatError(f"{family}{plain}: buckets not cumulative {counts}")
        if entry["count"] != counts[-1] or entry["sum"] is None:
            raise FormatError(f"{family}{plain}: _count {entry['count']} != +Inf {counts[-1]}")


class ParserSelfTest(unittest.TestCase):
    """The parser refuses what Prometheus would."""

    GOOD = ('# HELP a_total A.\n# TYPE a_total counter\na_total{x="q\\"\\\\\\n"} 1\n'
            '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\n'
            'h_sum 3.5\nh_count 2\n')

    def test_good_text_parses(self) -> None:
        fams = parse_exposition(self.GOOD)
        self.assertEqual(fams["a_total"]["samples"][("a_total", (("x", 'q"\\\n'),))], 1)

    def test_bad_texts_are_refused(self) -> None:
        for bad in (self.GOOD[:-1],                                  # no final newline
                    self.GOOD.replace('x="q', 'x="\\q'),              # bad escape
                    self.GOOD + "a_total 2\n",                        # family reopened
                    self.GOOD.replace("a_total{x", "b_total{x"),      # outside its family
                    self.GOOD.replace('le="+Inf"} 2', 'le="+Inf"} 0'),  # not cumulative
                    self.GOOD.replace("h_count 2", "h_count 3"),      # count != +Inf
                    self.GOOD.replace("# TYPE a_total counter\n",
                                      "# TYPE a_total counter\n# TYPE a_total counter\n"),
                    self.GOOD.replace("h_sum", "h_count 2\nh_sum"),       # duplicate
                    self.GOOD.replace("a_total{", "a_total{x=\"1\",x=\"2\"} 1\na_total{"),
                    ):
            with self.subTest(text=bad):
                with self.assertRaises(FormatError):
                    parse_exposition(bad)


# --- the tests ---------------------------------------------------------------------------


def anthropic(g: Gateway, prompt: str, stream: bool = False):
    return g.post("/v1/messages", body(prompt, stream=stream) if stream else body(prompt))


def openai_chat(g: Gateway, prompt: str):
    return g.post("/v1/chat/completions",
                  {"model": MODEL, "messages": [{"role": "user", "content": prompt}]},
                  auth="bearer")


def openai_responses(g: Gateway, prompt: str):
    return g.post("/v1/responses", {"model": MODEL, "input": prompt}, auth="bearer")


def gemini(g: Gateway, prompt: str):
    return g.post(f"/v1beta/models/{GEMINI_MODEL}:generateContent",
                  {"contents": [{"role": "user", "parts": [{"text": prompt}]}]},
                  {"x-goog-api-key": g.api_key}, auth=None)


def total(fams: dict, family: str, sample: str | None = None, **match) -> float:
    """The sum of family's samples (named sample) whose labels include match."""
    fam = fams.get(family)
    if fam is None:
        return 0.0
    name = sample or family
    return sum(v for (n, labels), v in fam["samples"].items()
               if n == name and all(dict(labels).get(k) == str(w) for k, w in match.items()))


class _Metrics:
    server = "lighttpd"

    def setUp(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        MOCK.reset()
        self.answers: list[bytes] = []

    def start(self, accounts, config=None, **kw) -> Gateway:
        cfg = {"metricsKey": METRICS_KEY}
        cfg.update(config or {})
        g = Gateway(self.server, MOCK, accounts=accounts, config=cfg, procs=2, threads=4,
                    **kw).start()
        self.addCleanup(g.stop)
        self.addCleanup(self.check_no_secrets, g)
        return g

    def check_no_secrets(self, g: Gateway) -> None:
        keys = [g.api_key, METRICS_KEY, ADMIN_KEY]
        for account in g.accounts:
            keys += account.secrets()
        for text in self.answers:
            for key in filter(None, keys):
                self.assertNotIn(key.encode(), text, "a secret is in an answer")
        log = g.log()
        for key in (METRICS_KEY, ADMIN_KEY):
            self.assertNotIn(key, log, "a metrics key is in the log")

    def scrape(self, g: Gateway, headers: dict | None = None, path: str = "/metrics"):
        resp = gw.request(g.url(path), "GET", None,
                          headers if headers is not None else {"x-api-key": METRICS_KEY})
        self.answers.append(resp.body)
        return resp

    def metrics(self, g: Gateway) -> dict:
        # The access-log line (and the count) is written after the answer:
        # wait for every request's line before reading.
        resp = self.scrape(g)
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertEqual(resp.headers.get("Content-Type"),
                         "text/plain; version=0.0.4; charset=utf-8")
        return parse_exposition(resp.body.decode())

    @staticmethod
    def serving_pids(g: Gateway) -> set[str]:
        """The responder processes with an access-log line of an API request."""
        return set(re.findall(r"(?m)kiro-fcgi\[([0-9]+)\].* POST /v1\S* [0-9]{3} ", g.log()))

    def wait_logged(self, g: Gateway, n: int) -> None:
        gw.wait_for(lambda: len(re.findall(r"(?m) (POST|GET) /v1\S* [0-9]{3} ",
                                           g.log())) >= n,
                    what=f"{n} access-log lines")

    # -- counters over two processes

    def test_counters_after_a_mix_of_requests(self) -> None:
        first, second = Account("m1", priority=0), Account("m2", priority=1)
        g = self.start([first, second])
        calls = [lambda: anthropic(g, "plain one"), lambda: anthropic(g, "plain two"),
                 lambda: anthropic(g, "streamed", stream=True),
                 lambda: openai_chat(g, "chat"), lambda: openai_responses(g, "responses"),
                 lambda: gemini(g, "gemini one"), lambda: gemini(g, "gemini two"),
                 lambda: openai_chat(g, "chat two")]
        # Rounds of 8 in flight until both processes have served some.
        rounds = 0
        while rounds == 0 or (len(self.serving_pids(g)) < 2 and rounds < 5):
            rounds += 1
            for i, resp in enumerate(in_parallel(calls)):
                self.answers.append(resp.body)
                self.assertEqual(resp.status, 200, f"call {i}: {resp.body[:300]!r}")
            self.wait_logged(g, 8 * rounds)
        self.assertEqual(len(self.serving_pids(g)), 2, "one process served every request")
        print(f"\n  {self.server}: {rounds} round(s) of 8 until both processes served",
              file=sys.stderr)
        # A failure on every call: retried, then the other account.
        MOCK.script("server_error", times=-1)
        failed = anthropic(g, "fails")
        self.answers.append(failed.body)
        self.assertGreaterEqual(failed.status, 500, failed.body[:300])
        n = 8 * rounds + 1
        self.wait_logged(g, n)
        # Quota for the gauges: cached by kiroctl, read (not fetched) on scrape.
        usage = json.loads(g.kiroctl("usage", "--json").stdout)
        before = len(MOCK.requests(op=None))
        fams = self.metrics(g)
        self.assertEqual(len(MOCK.requests(op=None)), before, "a scrape called upstream")

        req = "kiro_fcgi_requests_total"
        self.assertEqual(total(fams, req, api="anthropic", status_class="2xx"), 3 * rounds)
        self.assertEqual(total(fams, req, api="openai_chat", status_class="2xx"), 2 * rounds)
        self.assertEqual(total(fams, req, api="openai_responses", status_class="2xx"),
                         rounds)
        self.assertEqual(total(fams, req, api="gemini", status_class="2xx"), 2 * rounds)
        self.assertEqual(total(fams, req, api="anthropic", status_class="5xx"), 1)
        self.assertEqual(total(fams, req), n, fams[req]["samples"])
        self.assertEqual(total(fams, req, model=KIRO_MODEL, status_class="2xx"), 6 * rounds)
        # The successes were served by the first account (priority 0).
        self.assertEqual(total(fams, req, account=1, status_class="2xx"), 8 * rounds)
        self.assertGreater(total(fams, "kiro_fcgi_input_tokens_total", api="gemini"), 0)
        self.assertGreater(total(fams, "kiro_fcgi_output_tokens_total", api="openai_chat"), 0)
        self.assertEqual(total(fams, "kiro_fcgi_input_tokens_total", account="none"), 0)

        attempts = total(fams, "kiro_fcgi_upstream_attempts_total")
        retries = total(fams, "kiro_fcgi_upstream_retries_total")
        failovers = total(fams, "kiro_fcgi_failovers_total")
        self.assertEqual(attempts, len(MOCK.requests()), "attempts != calls the mock saw")
        self.assertEqual(attempts, n + retries + failovers)
        self.assertGreaterEqual(failovers, 1)
        self.assertGreaterEqual(retries, 1)
        self.assertGreater(total(fams, "kiro_fcgi_upstream_attempts_total", account=2), 0)

        gemini_models = {dict(labels)["model"] for (_, labels) in fams[req]["samples"]
                         if dict(labels)["api"] == "gemini"}
        self.assertEqual(len(gemini_models), 1, gemini_models)
        for hist in ("kiro_fcgi_request_duration_seconds",
                     "kiro_fcgi_time_to_first_byte_seconds"):
            self.assertEqual(fams[hist]["type"], "histogram")
            self.assertEqual(total(fams, hist, hist + "_count"), n, hist)
            self.assertEqual(total(fams, hist, hist + "_count", api="gemini",
                                   model=next(iter(gemini_models))), 2 * rounds, hist)

        states = {}
        for entry in g.accounts_json():
            states[entry["state"]] = states.get(entry["state"], 0) + 1
        for state in ("ok", "cooldown", "disabled", "needs-login"):
            self.assertEqual(total(fams, "kiro_fcgi_accounts", state=state),
                             states.get(state, 0), state)
        self.assertEqual(fams["kiro_fcgi_accounts"]["type"], "gauge")
        self.assertEqual(len(usage), 2, usage)
        for entry in usage:
            acct = entry["id"]
            self.assertEqual(total(fams, "kiro_fcgi_account_quota_used", account=acct),
                             entry["currentUsage"])
            self.assertEqual(total(fams, "kiro_fcgi_account_quota_limit", account=acct),
                             entry["usageLimit"])
            self.assertEqual(total(fams, "kiro_fcgi_account_quota_remaining",
                                   account=acct), entry["remaining"])

    # -- token refreshes

    def test_refreshes_counted_by_result(self) -> None:
        live = Account("fresh", priority=0)
        dead = Account("dead", priority=1, expires_at="2020-01-01T00:00:00Z",
                       mock={"accessTokenExpiresIn": 0})
        g = self.start([live, dead])
        # A refused token, 8 requests in flight: one refresh, which works.
        MOCK.revoke(accessToken=live.access_token)
        for i, resp in enumerate(in_parallel([lambda i=i: anthropic(g, f"r{i}")
                                              for i in range(8)])):
            self.answers.append(resp.body)
            self.assertEqual(resp.status, 200, f"request {i}: {resp.body[:200]!r}")
        self.assertEqual(MOCK.stats()["refreshes"], 1)
        # The other account's refresh token is dead: a refresh that fails.
        MOCK.revoke(refreshToken=dead.refresh_token)
        g.kiroctl("accounts", "disable", "1")
        refused = anthropic(g, "dead")
        self.answers.append(refused.body)
        self.assertEqual(refused.status, 503, refused.body[:200])
        self.assertEqual(MOCK.stats()["refreshes"], 2)
        self.wait_logged(g, 9)
        fams = self.metrics(g)
        name = "kiro_fcgi_token_refreshes_total"
        self.assertEqual(total(fams, name, account=1, result="ok"), 1)
        self.assertEqual(total(fams, name, account=2, result="error"), 1)
        self.assertEqual(total(fams, name), 2)
        self.assertEqual(total(fams, "kiro_fcgi_accounts", state="needs-login"), 1)
        self.assertEqual(total(fams, "kiro_fcgi_accounts", state="disabled"), 1)

    # -- recycled processes

    def test_counts_survive_killed_responders(self) -> None:
        g = self.start([Account("k1")])
        for i in range(4):
            self.assertEqual(anthropic(g, f"before {i}").status, 200)
        self.wait_logged(g, 4)
        before = total(self.metrics(g), "kiro_fcgi_requests_total", api="anthropic")
        self.assertEqual(before, 4)
        pids = g.responder_pids()
        self.assertTrue(pids)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        gw.wait_for(lambda: not set(pids) & set(g.responder_pids()),
                    what="the responders to die")
        # The web server starts new responders; a request may meet the gap.
        answered = []

        def served() -> bool:
            resp = anthropic(g, "after")
            answered.append(resp.status)
            return resp.status == 200
        gw.wait_for(served, what="a new responder")
        self.assertTrue(set(g.responder_pids()) - set(pids))
        self.wait_logged(g, 5)
        after = self.metrics(g)
        self.assertEqual(total(after, "kiro_fcgi_requests_total", api="anthropic"), 5,
                         f"answers after the kill: {answered}")

    def test_unusable_file_is_said(self) -> None:
        g = self.start([Account("nofile")])
        self.assertEqual(anthropic(g, "counted").status, 200)
        self.wait_logged(g, 1)
        fams = self.metrics(g)
        self.assertEqual(total(fams, "kiro_fcgi_metrics_shared"), 1)
        # The file becomes a directory: new responders cannot map it.
        path = g.state_dir / "metrics"
        path.unlink()
        path.mkdir()
        pids = g.responder_pids()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        gw.wait_for(lambda: not set(pids) & set(g.responder_pids()),
                    what="the responders to die")
        gw.wait_for(lambda: anthropic(g, "served anyway").status == 200,
                    what="a new responder")
        fams = self.metrics(g)
        self.assertEqual(total(fams, "kiro_fcgi_metrics_shared"), 0)
        self.assertEqual(total(fams, "kiro_fcgi_requests_total"), 0)
        self.assertIn("metrics are off", g.log())

    # -- auth

    def test_off_without_any_key(self) -> None:
        g = self.start([Account("off")], config={"metricsKey": None})
        for headers in ({}, {"x-api-key": METRICS_KEY}, {"x-api-key": g.api_key}):
            resp = self.scrape(g, headers)
            self.assertEqual(resp.status, 404, resp.body[:200])
            self.assertEqual(resp.json()["error"]["type"], "not_found_error")

    def test_keys(self) -> None:
        g = self.start([Account("auth")], config={"adminApiKey": ADMIN_KEY}, mount="/")
        refused = ({}, {"x-api-key": "wrong"}, {"Authorization": "Bearer wrong"},
                   {"x-api-key": g.api_key}, {"Authorization": f"Bearer {g.api_key}"},
                   {"Authorization": f"Basic {METRICS_KEY}"}, {"x-goog-api-key": METRICS_KEY})
        for headers in refused:
            with self.subTest(headers=headers):
                resp = self.scrape(g, headers)
                self.assertEqual(resp.status, 401, resp.body[:200])
                self.assertEqual(resp.json()["error"]["type"], "authentication_error")
                self.assertIn("Bearer", resp.headers.get("WWW-Authenticate", ""))
        resp = self.scrape(g, {}, path=f"/metrics?key={METRICS_KEY}")
        self.assertEqual(resp.status, 401)
        for headers in ({"x-api-key": METRICS_KEY}, {"Authorization": f"Bearer {METRICS_KEY}"},
                        {"x-api-key": ADMIN_KEY}, {"Authorization": f"bearer {ADMIN_KEY}"}):
            with self.subTest(headers=headers):
                resp = self.scrape(g, headers)
                self.assertEqual(resp.status, 200, resp.body[:200])
                parse_exposition(resp.body.decode())
        head = gw.request(g.url("/metrics"), "HEAD", None, {"x-api-key": METRICS_KEY})
        self.assertEqual((head.status, head.body), (200, b""))
        self.assertTrue(head.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        post = gw.request(g.url("/metrics"), "POST", b"{}", {"x-api-key": METRICS_KEY})
        self.assertEqual(post.status, 405)
        self.assertEqual(post.headers.get("Allow"), "GET, HEAD")
        # The scrapes (and refusals) of /metrics are not API requests.
        fams = self.metrics(g)
        self.assertEqual(total(fams, "kiro_fcgi_requests_total"), 0)
        self.assertIn("kiro_fcgi_failovers_total 0\n", self.scrape(g).body.decode())

    def test_admin_key_alone_opens_it(self) -> None:
        g = self.start([Account("adm")], config={"metricsKey": None,
                                                  "adminApiKey": ADMIN_KEY})
        self.assertEqual(self.scrape(g, {"x-api-key": METRICS_KEY}).status, 401)
        resp = self.scrape(g, {"Authorization": f"Bearer {ADMIN_KEY}"})
        self.assertEqual(resp.status, 200, resp.body[:200])
        parse_exposition(resp.body.decode())


class MetricsLighttpd(_Metrics, unittest.TestCase):
    server = "lighttpd"


class MetricsApache(_Metrics, unittest.TestCase):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
