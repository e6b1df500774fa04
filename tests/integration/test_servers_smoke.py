#!/usr/bin/python3
"""Smoke test of the integration harness and of the shipped web-server settings.

A stub FastCGI responder (stub-fcgi.c, compiled into a temporary directory with
cc, or taken from $STUB_FCGI) runs behind a real lighttpd (mod_fastcgi,
bin-path) and a real Apache (mod_fcgid), each mounted at "/kiro" and at "/",
using lighttpd/kiro-fcgi.conf and apache/kiro-fcgi.conf as shipped.  For each
of the four combinations it checks that:

  - Authorization and x-api-key reach the responder as HTTP_AUTHORIZATION and
    HTTP_X_API_KEY;
  - SCRIPT_NAME / PATH_INFO / QUERY_STRING follow the table below, so the
    application can route on PATH_INFO under any mount; URLs outside the /kiro
    mount never reach the responder;
  - the responder gets the argv and environment given to the harness, and its
    stderr shows up in the harness's error_log();
  - request bodies of 1 MiB and 20 MiB arrive whole (byte count and CRC-32),
    sent with Content-Length and with Transfer-Encoding: chunked, and
    CONTENT_LENGTH is set in both cases;
  - a body one byte over 64 MiB is refused (lighttpd 413, Apache 500);
  - SSE is streamed incrementally: 5 events written 200 ms apart arrive spread
    over at least 600 ms, not in one burst at the end;
  - 4 concurrent streams all complete, overlap in time, and are served by
    more than one responder process.

Observed FastCGI parameters (lighttpd 1.4.69 with "fix-root-scriptname",
Apache 2.4.71 + mod_fcgid 2.3.9 with AliasMatch; both servers agree on every
row).  REQUEST_URI is always the raw request target; PATH_INFO is decoded and
normalised (%6D -> m, // -> /, dot segments removed), so route on PATH_INFO.

  mount  request                                   SCRIPT_NAME  PATH_INFO
  /kiro  /kiro/v1/messages?beta=true               /kiro        /v1/messages      (QUERY_STRING beta=true)
  /kiro  /kiro/v1beta/models/m:streamGenerateContent?alt=sse
                                                   /kiro        /v1beta/models/m:streamGenerateContent
  /kiro  /kiro/                                    /kiro        /
  /kiro  /kiro                                     /kiro        (unset)
  /kiro  /kiro//v1/messages, /kiro/v1/../v1/messages, /kiro/v1/%6Dessages
                                                   /kiro        /v1/messages
  /kiro  /kirox/v1/messages, /v1/messages          404 from the server, responder not called
  /      /v1/messages?beta=true                    ""           /v1/messages
  /      /                                         ""           /
  /      //v1/messages                             ""           /v1/messages

Without "fix-root-scriptname" lighttpd's root mount gives SCRIPT_NAME=/v1
PATH_INFO=/messages for /v1/messages, which breaks routing on PATH_INFO.

Run from the repository root:  /usr/bin/python3 tests/integration/test_servers_smoke.py
A missing lighttpd, apache2 or mod_fcgid makes the tests of that server FAIL
with the Debian package to install; nothing is skipped.  TRACEME=valgrind or
TRACEME=strace wraps the responder (see harness.py).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from harness import Apache, Lighttpd, open_stream, request, sse_events  # noqa: E402

MiB = 1024 * 1024
# lighttpd server.max-request-size = 65536 (KiB); mod_fcgid FcgidMaxRequestLen 67108864.
BODY_LIMIT = 64 * MiB

AUTH_HEADERS = {"Authorization": "Bearer sk-smoke-123", "x-api-key": "key-smoke-456"}
RESPONDER_ARGS = ["--stub-flag", "value-1"]
RESPONDER_ENV = {"KIRO_FCGI_CONFIG": "/nonexistent/kiro-fcgi/config.json",
                 "STUB_MARK": "smoke test"}

_stub: Path | None = None
_build_dir: str | None = None


def setUpModule() -> None:
    """Compile stub-fcgi.c once for all tests (or use $STUB_FCGI)."""
    global _stub, _build_dir
    prebuilt = os.environ.get("STUB_FCGI")
    if prebuilt:
        _stub = Path(prebuilt).resolve()
        return
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise harness.HarnessError(f"{cc} not found: apt-get install build-essential")
    # 0755 so that Apache's www-data can reach the stub.
    _build_dir = tempfile.mkdtemp(prefix="kiro-stub-")
    os.chmod(_build_dir, 0o755)
    out = Path(_build_dir) / "stub-fcgi"
    build = subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-o", str(out),
                            str(HERE / "stub-fcgi.c"), "-lfcgi"],
                           capture_output=True, text=True)
    if build.returncode != 0:
        hint = " (apt-get install libfcgi-dev)" if "fcgi" in build.stderr else ""
        raise harness.HarnessError(f"compiling stub-fcgi.c failed{hint}:\n{build.stderr}")
    _stub = out


def tearDownModule() -> None:
    if _build_dir is not None:
        shutil.rmtree(_build_dir, ignore_errors=True)


_bodies: dict[int, bytes] = {}


def body_of(size: int) -> bytes:
    """size pseudo-random bytes, the same on every call."""
    if size not in _bodies:
        _bodies[size] = random.Random(size).randbytes(size)
    return _bodies[size]


def mapping_cases(mount: str) -> list[tuple[str, str, str | None, str]]:
    """(request target, SCRIPT_NAME, PATH_INFO or None if unset, QUERY_STRING) per the table."""
    gemini = "/v1beta/models/m:streamGenerateContent"
    if mount == "/":
        return [
            ("/v1/messages?beta=true", "", "/v1/messages", "beta=true"),
            (gemini + "?alt=sse", "", gemini, "alt=sse"),
            ("/", "", "/", ""),
            ("//v1/messages", "", "/v1/messages", ""),
        ]
    return [
        (mount + "/v1/messages?beta=true", mount, "/v1/messages", "beta=true"),
        (mount + gemini + "?alt=sse", mount, gemini, "alt=sse"),
        (mount + "/", mount, "/", ""),
        (mount, mount, None, ""),
        (mount + "//v1/messages", mount, "/v1/messages", ""),
        (mount + "/v1/../v1/messages", mount, "/v1/messages", ""),
        (mount + "/v1/%6Dessages", mount, "/v1/messages", ""),
    ]


def app_route(env: dict[str, str]) -> str:
    """The route kiro-fcgi dispatches on: PATH_INFO, else SCRIPT_NAME, else REQUEST_URI's path."""
    return (env.get("PATH_INFO") or env.get("SCRIPT_NAME")
            or env.get("REQUEST_URI", "").split("?", 1)[0])


class _ServerSmoke:
    """The checks; combined with unittest.TestCase once per server and mount."""

    server_class: type[harness.WebServer]
    mount: str
    over_limit_status: int
    procs = 4

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = cls.server_class.missing()
        if cls.missing is None:
            cls.server = cls.enterClassContext(cls.server_class(
                _stub, RESPONDER_ARGS, RESPONDER_ENV, mount=cls.mount, procs=cls.procs))

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)

    # helpers

    def app_env(self, target: str, headers: dict[str, str] | None = None) -> dict[str, str]:
        """GET target (relative to the server root) and return the stub's parameter dump."""
        resp = request(self.server.root_url + target, headers=headers)
        self.assertEqual(resp.status, 200, f"GET {target}: {resp.body[:300]!r}")
        self.assertEqual(resp.headers.get("Content-Type"), "application/json")
        return resp.json()

    def post_body(self, size: int, chunked: bool) -> None:
        body = body_of(size)
        resp = request(self.server.url("/body"), "POST", body,
                       {"Content-Type": "application/octet-stream"}, chunked=chunked)
        self.assertEqual(resp.status, 200, resp.body[:300])
        got = resp.json()
        self.assertEqual(got["bytes"], size)
        self.assertEqual(got["crc32"], zlib.crc32(body))
        self.assertEqual(got["content_length"], str(size))

    # tests

    def test_authorization_and_api_key_reach_app(self) -> None:
        env = self.app_env(self.server.target("/v1/messages"), AUTH_HEADERS)
        self.assertEqual(env.get("HTTP_AUTHORIZATION"), "Bearer sk-smoke-123")
        self.assertEqual(env.get("HTTP_X_API_KEY"), "key-smoke-456")

    def test_path_mapping_lets_app_route(self) -> None:
        for target, script_name, path_info, query in mapping_cases(self.mount):
            with self.subTest(target=target):
                env = self.app_env(target)
                self.assertEqual(env.get("REQUEST_URI"), target)
                self.assertEqual(env.get("SCRIPT_NAME"), script_name)
                self.assertEqual(env.get("PATH_INFO"), path_info)
                self.assertEqual(env.get("QUERY_STRING"), query)
                self.assertEqual(env["_route"], app_route(env))
                if path_info is not None:
                    self.assertEqual(app_route(env), path_info)

    def test_mount_boundary(self) -> None:
        for target in ("/kirox/v1/messages", "/v1/messages"):
            with self.subTest(target=target):
                resp = request(self.server.root_url + target)
                if self.mount == "/":
                    self.assertEqual(resp.status, 200)
                    self.assertEqual(resp.json()["PATH_INFO"], target)
                else:
                    self.assertEqual(resp.status, 404)
                    self.assertNotIn(b'"_route"', resp.body)

    def test_responder_gets_args_env_and_logs(self) -> None:
        env = self.app_env(self.server.target("/env"))
        self.assertEqual(env["_argv"][1:], RESPONDER_ARGS)
        self.assertEqual(Path(env["_argv"][0]).name, "stub-fcgi")
        for key, value in RESPONDER_ENV.items():
            self.assertEqual(env["_env"].get(key), value, key)
        self.assertIn(f"stub-fcgi[{env['_pid']}] ready", self.server.error_log())

    def test_body_1mib_content_length(self) -> None:
        self.post_body(1 * MiB, chunked=False)

    def test_body_1mib_chunked(self) -> None:
        self.post_body(1 * MiB, chunked=True)

    def test_body_20mib_content_length(self) -> None:
        self.post_body(20 * MiB, chunked=False)

    def test_body_20mib_chunked(self) -> None:
        self.post_body(20 * MiB, chunked=True)

    def test_body_over_64mib_refused(self) -> None:
        resp = request(self.server.url("/body"), "POST", body_of(BODY_LIMIT + 1), chunked=True)
        self.assertEqual(resp.status, self.over_limit_status, resp.body[:300])

    def test_stream_is_incremental(self) -> None:
        with open_stream(self.server.url("/stream?n=5&ms=200"), headers=AUTH_HEADERS) as resp:
            self.assertEqual(resp.status, 200)
            self.assertTrue(resp.getheader("Content-Type", "").startswith("text/event-stream"))
            events = list(sse_events(resp))
        ticks = [e for e in events if e.event == "tick"]
        self.assertEqual([json.loads(e.data)["i"] for e in ticks], [0, 1, 2, 3, 4])
        self.assertEqual(events[-1].event, "done")
        offsets = [round(e.arrival - ticks[0].arrival, 3) for e in events]
        # Written over 800 ms; buffering would deliver them within a few ms.
        self.assertGreaterEqual(ticks[-1].arrival - ticks[0].arrival, 0.6,
                                f"events arrived at {offsets} s: buffered")

    def test_concurrent_streams_complete(self) -> None:
        count = 4
        results: list[tuple[int, list] | None] = [None] * count
        errors: list[BaseException] = []
        start = threading.Barrier(count)

        def run(slot: int) -> None:
            try:
                start.wait(timeout=60)
                with open_stream(self.server.url("/stream?n=5&ms=300")) as resp:
                    results[slot] = (resp.status, list(sse_events(resp)))
            except BaseException as err:  # reported below, in the test's thread
                errors.append(err)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertEqual(errors, [])
        spans, pids = [], set()
        for slot, result in enumerate(results):
            self.assertIsNotNone(result, f"stream {slot} did not finish")
            status, events = result
            self.assertEqual(status, 200)
            ticks = [e for e in events if e.event == "tick"]
            self.assertEqual(len(ticks), 5, f"stream {slot}: {events}")
            self.assertEqual(events[-1].event, "done")
            spans.append((ticks[0].arrival, ticks[-1].arrival))
            pids.update(json.loads(e.data)["pid"] for e in ticks)
        self.assertGreaterEqual(len(pids), 2, "all streams were served by one process")
        overlapping = any(max(a[0], b[0]) < min(a[1], b[1])
                          for i, a in enumerate(spans) for b in spans[i + 1:])
        self.assertTrue(overlapping, f"streams ran one after another: {spans}")


class LighttpdKiroMount(_ServerSmoke, unittest.TestCase):
    server_class = Lighttpd
    mount = "/kiro"
    over_limit_status = 413


class LighttpdRootMount(_ServerSmoke, unittest.TestCase):
    server_class = Lighttpd
    mount = "/"
    over_limit_status = 413


class ApacheKiroMount(_ServerSmoke, unittest.TestCase):
    server_class = Apache
    mount = "/kiro"
    over_limit_status = 500


class ApacheRootMount(_ServerSmoke, unittest.TestCase):
    server_class = Apache
    mount = "/"
    over_limit_status = 500


if __name__ == "__main__":
    unittest.main(verbosity=2)
