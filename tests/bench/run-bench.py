#!/usr/bin/python3
"""kiro-fcgi benchmarks: printed figures with their goals, never asserted.

Issue 2, "Benchmarks".  In one run, on loopback, against tests/bench/fast-upstream
(a C stub of the Kiro API fast enough not to be the bottleneck) and with a
baseline measured in the same run for each figure:

  cpu         responder CPU per small request: utime+stime of the responder
              processes (/proc/<pid>/stat, and the exact per-thread run time
              from /proc/<pid>/task/*/schedstat) before and after N
              sequential requests through lighttpd, divided by N; non-stream
              and stream; baseline: the stub responder
              (tests/integration/stub-fcgi) under the same lighttpd config.
  paced       issue 13: responder CPU per small request (utime+stime, and
              schedstat) and lighttpd's, non-stream and stream, against the
              fast stub and against the paced one (fast-upstream's
              bench-head-us / bench-gap-us: 2 ms before the headers, 1 ms
              between frames, a chunk per frame); baseline:
              tests/bench/relay-responder, a libfcgi + libcurl byte relay
              (goals: < 100 / < 150 us, <= 2x the relay).  Then a stream of
              300 events 100 ms apart (30 s; --quick 100 events 50 ms apart)
              against the same events 10 ms apart: CPU per event, per second,
              and beyond the short one per second of the long one's duration
              (a periodic wake-up would show there); the relay over both.
              Beside the relay, for information: "relay + Kiro's headers",
              the relay sending (-H) the request headers the gateway sends
              to Kiro, captured from one gateway request by fast-upstream -C
              and checked to make a header block of the same size
              (kiroheaders.py; the section fails otherwise): libcurl 7.88
              formats headers a byte at a time, a floor the gateway cannot
              go under.  The goals stay against the plain relay.
  syscalls    system calls per request by name (strace -f on one process, one
              thread, of the gateway and of the relay) against both stubs;
              state-file locks per request (flock; a read that finds nothing
              changed takes none, so the transactions themselves, goal <= 2,
              are counted by make bench-insns); calls per second of an idle
              gateway.
  profile     only with --only profile: perf with call graphs on one gateway
              process serving small requests against each stub; its samples
              by part (FastCGI, JSON parse, conversion, store, libcurl,
              decoding, emission, logging, ...) as us per request.
  frontends   responder CPU per request for the same conversation (system
              prompt, a user turn, a tool call and its result, a follow-up)
              through each front end: Anthropic Messages, OpenAI Chat
              Completions, OpenAI Responses, Gemini; non-stream and stream;
              baseline: the Anthropic front end (goal: at most 1.5x).
  latency     p50/p99 of the whole request and of the time to first byte,
              N sequential keep-alive requests after a warm-up: through
              lighttpd + kiro-fcgi, and straight to fast-upstream (baseline);
              "added" is the gateway's percentile minus the direct one.
  events      forwarding delay: fast-upstream sends K text events 20 ms apart,
              each carrying CLOCK_MONOTONIC at its send time; the client
              (time.monotonic_ns(), the same clock) records each event's
              arrival; p50/p99/max of arrival - send, through the gateway and
              direct (baseline: the client's own floor).
  throughput  wrk (tests/bench/post.lua, small POST) at -c2 and -c4, 10 s each
              after a warm-up, through lighttpd (2 processes, unix sockets, the
              shipped lighttpd/kiro-fcgi.conf) to kiro-fcgi + fast-upstream, vs
              the stub responder under the same config (the ceiling), and vs
              the relay responder (goals >= 0.7x its req/s, <= 2x its CPU per
              request), and for information vs relay + Kiro's headers (see
              paced); with the CPU used by each process during the run.
  rss         VmRSS of each responder process idle (after start and one
              request), baseline the stub; and the maximum during 50
              concurrent streams (2 processes x 25 threads, streams that
              overlap for about 2 s), with VmHWM.
  core        tests/bench/bench-core: event-stream decoder and request-builder
              throughput, and the store transactions of one request, in the
              state directory's file system and in /dev/shm; the cost of
              pool_pick with 1, 10 and 100 accounts per mode, and its store
              transactions; round-robin and rate-limited picks also with
              their write fsynced (the baseline: how it was before those
              soft records went unsynced).  Its pairs row: 50k tool
              use/result pairs, alternating and in one turn, and the largest
              conv the caps let through (ms before the upstream call); its
              trim row: a 5000-turn session trimmed to maxPayloadBytes
              600,000 (ms, builds, turns dropped); its overflow rows:
              history.onOverflow truncate on a 500-turn session against one
              estimator pass, and the stored summary's lookup (ms); its
              modelmap row: the per-request check for a modelMap change,
              resolving through a 256-glob map, and a reload (us).  Per front end, for the
              builder's Claude Code conversation translated into each
              protocol: request conversion
              (parse + repair + Kiro body build: us per request, MB/s of its
              own input) and the streaming emitter on one answer (us per
              answer, MB/s of output); baseline: the Anthropic front end
              (goal: at most 1.5x).  Its preflight row: the pre-flight check of
              the Kiro body (shared/preflight.h) as a share of that conversion,
              on the builder's request and a 400-turn session (goal: < 10%).
              Its metrics row: prom_record, the Prometheus counters the
              responder adds to every request (us; goal: under 1% of the
              200 us CPU goal per request), also with 2 processes recording
              into the same series, and request conversion with and
              without it (the ratio); and GET /metrics with 100 accounts
              (ms per scrape).
              Its estimate row: the token estimate (tokens_count_conv) on the
              repaired conv as a share of the same conversion (goal: < 10%).
              Its client keys row: the auth and count of
              a request with a client key (one unsynced write transaction),
              also with a full rpm window, and the tokens added after it.

  flows       the request log (issue 11): responder CPU per small non-stream
              request (schedstat, N sequential, several alternating rounds,
              medians) with flowLog on, against a second gateway with
              flowLog.enabled false (the baseline): the ratio and the
              difference (goal: under 20 us); bench-core's flowlog row
              gives flowlog_append's own CPU per record, alone and with two
              processes appending to one log at once.

The table is printed at the end; results go to --json (results.json).  Exit
status 0 unless something failed to run (a missing program, a server that
does not start, requests that fail).

Environment (`make bench` sets it like AM_TESTS_ENVIRONMENT): KIRO_FCGI,
STUB_FCGI, KIRO_SRCDIR, KIRO_BUILDDIR, FAST_UPSTREAM, BENCH_CORE, RELAY_FCGI.  By hand,
after `make check TESTS=` and building the two bench programs:

    KIRO_BUILDDIR=/path/to/build /usr/bin/python3 tests/bench/run-bench.py
    ... --quick                 shorter runs, for trying the script out
    ... --only cpu latency      some sections (cpu paced syscalls latency events
                                throughput rss core ...; profile only this way)
    ... --state-parent /dev/shm the gateway's state directory on tmpfs (default: the
                                system temporary directory), to see what the store's
                                fsync costs; bench-core measures the store in both
    make bench BENCH_FLAGS=--quick   the same through make

A warning is printed when other processes used more than 5% of a CPU during the
run: on a shared 2-CPU machine a neighbour's fuzzer or test suite skews every
figure, the tail latencies most.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRCDIR = Path(os.environ.get("KIRO_SRCDIR") or HERE.parents[1])
BUILDDIR = Path(os.environ.get("KIRO_BUILDDIR") or SRCDIR)
sys.path.insert(0, str(SRCDIR / "tests" / "integration"))

import harness  # noqa: E402
from harness import Lighttpd  # noqa: E402

sys.path.insert(0, str(HERE))
import kiroheaders  # noqa: E402

KIRO_FCGI = Path(os.environ.get("KIRO_FCGI") or BUILDDIR / "fcgi" / "kiro-fcgi")
STUB_FCGI = Path(os.environ.get("STUB_FCGI") or BUILDDIR / "tests" / "integration" / "stub-fcgi")
FAST_UPSTREAM = Path(os.environ.get("FAST_UPSTREAM") or BUILDDIR / "tests" / "bench" / "fast-upstream")
BENCH_CORE = Path(os.environ.get("BENCH_CORE") or BUILDDIR / "tests" / "bench" / "bench-core")
RELAY_FCGI = Path(os.environ.get("RELAY_FCGI") or BUILDDIR / "tests" / "bench" / "relay-responder")
POST_LUA = HERE / "post.lua"
FIXTURE = SRCDIR / "tests" / "fixtures" / "claude-code-first-request.json"

API_KEY = "sk-kiro-bench-" + "b" * 24
MOUNT = "/kiro"
MODEL = "claude-sonnet-4-5"
SECTIONS = ("cpu", "paced", "syscalls", "frontends", "latency", "events", "throughput", "rss",
            "core", "flows", "console")
# Only when asked for (--only profile): perf, and it slows what it watches.
EXTRA_SECTIONS = ("profile",)
CLK_TCK = os.sysconf("SC_CLK_TCK")

GOAL_CPU_US = 200.0
GOAL_ADDED_MS = 1.0
GOAL_EVENT_MS = 1.0
GOAL_THROUGHPUT_RATIO = 0.70
GOAL_RSS_MB = 10.0
GOAL_FRONTEND_RATIO = 1.5
GOAL_PREFLIGHT_RATIO = 0.10
GOAL_METRICS_SHARE = 0.01      # prom_record: under 1% of GOAL_CPU_US
GOAL_OVERFLOW_MS = 2.0          # truncation and summary lookup, 500 turns (issue 10)
GOAL_ESTIMATE_RATIO = 0.10
GOAL_FLOWLOG_US = 20.0
GOAL_CONSOLE_RATIO = 1.1          # flows + metrics on against off (issue 11)
GOAL_FAST_US = 100.0              # issue 13: small request, fast stub
GOAL_PACED_US = 150.0             # issue 13: small request, paced stub
GOAL_RELAY_THROUGHPUT = 0.70      # issue 13: at least 0.7x the relay's req/s
GOAL_RELAY_CPU = 2.0              # issue 13: at most 2x the relay's CPU per request
# The paced upstream (fast-upstream's bench-head-us / bench-gap-us markers):
# 2 ms before the headers, 1 ms between frames, each frame its own chunk.
PACE_HEAD_US = 2000
PACE_GAP_US = 1000
PACE = f" bench-head-us={PACE_HEAD_US} bench-gap-us={PACE_GAP_US}"
SHORT_GAP_US = 10000              # the long stream's events, closer together


class BenchError(RuntimeError):
    """Something needed for a measurement did not work; the message says what."""


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of values (NaN when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, int(round(p / 100.0 * len(ordered))))
    return ordered[min(rank, len(ordered)) - 1]


# --- Processes -------------------------------------------------------------------------


def proc_cpu_ticks(pid: int) -> int:
    """utime + stime of pid (all its threads, live and dead), in clock ticks."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def proc_run_ns(pid: int) -> int:
    """Time pid's live threads have spent on a CPU, in ns (schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


def proc_status_kb(pid: int, field: str) -> int:
    """A "kB" field of /proc/<pid>/status (VmRSS, VmHWM, ...); 0 when absent."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def proc_threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


class CpuMeter:
    """CPU used by a set of processes between start() and stop()."""

    def __init__(self, pids: list[int]):
        self.pids = list(pids)

    def start(self) -> "CpuMeter":
        self.t0 = time.monotonic()
        self.ticks0 = {p: proc_cpu_ticks(p) for p in self.pids}
        self.ns0 = {p: proc_run_ns(p) for p in self.pids}
        return self

    def stop(self) -> dict:
        """{"wall_s", "stat_s" (utime+stime), "sched_s" (schedstat)}."""
        wall = time.monotonic() - self.t0
        ticks = sum(proc_cpu_ticks(p) - self.ticks0[p] for p in self.pids)
        ns = sum(proc_run_ns(p) - self.ns0[p] for p in self.pids)
        return {"wall_s": wall, "stat_s": ticks / CLK_TCK, "sched_s": ns / 1e9}


class ForeignLoad:
    """CPU used by processes that are not this script's descendants, sampled
    every `period` s in a thread: the machine is shared, and a busy neighbour
    (a fuzzer, another test suite) skews every figure here."""

    def __init__(self, period: float = 2.0):
        self.period = period
        self.busy_s = 0.0
        self.wall_s = 0.0
        self.by_name: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _snapshot() -> dict[tuple[int, str], tuple[int, int, str]]:
        """{(pid, start): (ppid, cpu ticks, name)} of every process."""
        snap = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                raw = Path(f"/proc/{entry}/stat").read_text()
                name = raw[raw.index("(") + 1:raw.rindex(")")]
                f = raw[raw.rindex(")") + 2:].split()
                snap[(int(entry), f[19])] = (int(f[1]), int(f[11]) + int(f[12]), name)
        return snap

    def _foreign(self, snap) -> set:
        ours = {os.getpid()}
        children: dict[int, list[int]] = {}
        for (pid, _), (ppid, _, _) in snap.items():
            children.setdefault(ppid, []).append(pid)
        frontier = [os.getpid()]
        while frontier:
            for child in children.get(frontier.pop(), []):
                if child not in ours:
                    ours.add(child)
                    frontier.append(child)
        return {key for key in snap if key[0] not in ours}

    def _run(self) -> None:
        prev, t_prev = self._snapshot(), time.monotonic()
        while not self._stop.wait(self.period):
            snap, now = self._snapshot(), time.monotonic()
            for key in self._foreign(snap):
                if key in prev:
                    used = (snap[key][1] - prev[key][1]) / CLK_TCK
                    if used > 0:
                        self.busy_s += used
                        name = snap[key][2]
                        self.by_name[name] = self.by_name.get(name, 0.0) + used
            self.wall_s += now - t_prev
            prev, t_prev = snap, now

    def start(self) -> "ForeignLoad":
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        wall = max(self.wall_s, 1e-9)
        top = sorted(self.by_name.items(), key=lambda kv: -kv[1])[:4]
        return {"cpu_share": self.busy_s / wall, "cpus": os.cpu_count(),
                "top": {name: used / wall for name, used in top}}


def server_children(srv: harness.WebServer, binary: Path) -> list[int]:
    """pids of the running processes of binary started by srv."""
    target = os.path.realpath(binary)
    found = []
    for pid in harness._related_processes(srv.proc.pid, srv.proc.pid):
        with contextlib.suppress(OSError):
            if os.path.realpath(f"/proc/{pid}/exe") == target:
                found.append(pid)
    return sorted(found)


def wait_children(srv: harness.WebServer, binary: Path, count: int,
                  timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        pids = server_children(srv, binary)
        if len(pids) >= count:
            return pids
        if time.monotonic() > deadline:
            raise BenchError(f"{binary.name}: {len(pids)} of {count} processes "
                             f"running under lighttpd\n{srv.error_log()[-3000:]}")
        time.sleep(0.05)


# --- fast-upstream --------------------------------------------------------------------


class FastUpstream:
    """tests/bench/fast-upstream on a kernel-chosen loopback port."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kiro-bench-upstream-"))
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> "FastUpstream":
        if not (FAST_UPSTREAM.is_file() and os.access(FAST_UPSTREAM, os.X_OK)):
            raise BenchError(f"{FAST_UPSTREAM} is not built: run make bench "
                             "(or set FAST_UPSTREAM)")
        port_file = self.dir / "port"
        self.proc = subprocess.Popen([str(FAST_UPSTREAM), "-p", "0", "-f", str(port_file),
                                      "-C", str(self.capture_file)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "stderr.log", "wb"),
                                     start_new_session=True)
        deadline = time.monotonic() + 10
        while not port_file.exists():
            if self.proc.poll() is not None:
                raise BenchError(f"fast-upstream exited with {self.proc.returncode}: "
                                 f"{(self.dir / 'stderr.log').read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise BenchError("fast-upstream wrote no port file in 10 s")
            time.sleep(0.01)
        self.port = int(port_file.read_text())
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def capture_file(self) -> Path:
        return self.dir / "captured-head"

    def capture(self, server, headers: dict, what: str) -> bytes:
        """The head of the upstream request that one small request to server
        (a gateway or a relay) makes, as fast-upstream received it."""
        self.capture_file.unlink(missing_ok=True)
        client = Client(server.srv.port)
        try:
            check_reply(client.request("POST", GW_TARGET, anthropic_body(
                f"{SMALL_PROMPT} {kiroheaders.CAPTURE_MARKER}", False), headers), what)
        finally:
            client.close()
        if not self.capture_file.exists():
            raise BenchError(f"{what}: fast-upstream captured no request head: "
                             + (self.dir / "stderr.log").read_text(errors="replace")[-500:])
        return self.capture_file.read_bytes()


# --- Servers -----------------------------------------------------------------------------


class KiroGateway:
    """kiro-fcgi behind lighttpd (harness.Lighttpd), configured against fast-upstream."""

    def __init__(self, upstream: FastUpstream, procs: int = 2, threads: int = 4,
                 state_parent: Path | None = None, config: dict | None = None):
        self.upstream = upstream
        self.extra_config = dict(config or {})
        self.procs = procs
        self.threads = threads
        # The state directory (GDBM file) lives here: its file system decides
        # what an fsync costs.
        self.dir = Path(tempfile.mkdtemp(prefix="kiro-bench-gw-", dir=state_parent))
        self.srv: Lighttpd | None = None

    def __enter__(self) -> "KiroGateway":
        if not (KIRO_FCGI.is_file() and os.access(KIRO_FCGI, os.X_OK)):
            raise BenchError(f"{KIRO_FCGI} is not built: run make (or set KIRO_FCGI)")
        creds = self.dir / "credentials.json"
        creds.write_text(json.dumps([{
            "refreshToken": "aor" + "R" * 150, "accessToken": "aoa-bench-" + "A" * 40,
            "expiresAt": "2099-01-01T00:00:00Z", "authMethod": "social",
            "email": "bench@example.com"}]))
        creds.chmod(0o600)
        config = self.dir / "config.json"
        config.write_text(json.dumps({
            "apiKey": API_KEY, "stateDir": str(self.dir / "state"),
            "credentialsFile": str(creds), "apiBaseUrl": self.upstream.url,
            "authBaseUrl": self.upstream.url, "oidcBaseUrl": self.upstream.url,
            "region": "us-east-1", **self.extra_config}, indent=2))
        self.dir.chmod(0o700)
        self.srv = Lighttpd(KIRO_FCGI, ["-t", str(self.threads)],
                            env={"KIRO_FCGI_CONFIG": str(config)}, mount=MOUNT,
                            procs=self.procs)
        try:
            self.srv.start()
            self.pids = wait_children(self.srv, KIRO_FCGI, self.procs)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.srv is not None:
            self.srv.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def state_dir(self) -> Path:
        return self.dir / "state"


class StubServer:
    """tests/integration/stub-fcgi behind the same lighttpd configuration."""

    def __init__(self, procs: int = 2):
        self.procs = procs
        self.srv: Lighttpd | None = None

    def __enter__(self) -> "StubServer":
        if not (STUB_FCGI.is_file() and os.access(STUB_FCGI, os.X_OK)):
            raise BenchError(f"{STUB_FCGI} is not built: run make check TESTS= "
                             "(or set STUB_FCGI)")
        self.srv = Lighttpd(STUB_FCGI, [], mount=MOUNT, procs=self.procs)
        try:
            self.srv.start()
            self.pids = wait_children(self.srv, STUB_FCGI, self.procs)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.srv is not None:
            self.srv.stop()


class RelayServer:
    """tests/bench/relay-responder (a byte relay to fast-upstream) behind the same lighttpd."""

    def __init__(self, upstream: FastUpstream, procs: int = 2, threads: int = 4,
                 header_file: Path | None = None):
        self.upstream = upstream
        self.procs = procs
        self.threads = threads
        self.header_file = header_file      # -H: the gateway's request headers
        self.srv: Lighttpd | None = None

    def __enter__(self) -> "RelayServer":
        if not (RELAY_FCGI.is_file() and os.access(RELAY_FCGI, os.X_OK)):
            raise BenchError(f"{RELAY_FCGI} is not built: run make bench "
                             "(or set RELAY_FCGI)")
        argv = ["-t", str(self.threads), "-u", self.upstream.url]
        if self.header_file is not None:
            argv += ["-H", str(self.header_file)]
        self.srv = Lighttpd(RELAY_FCGI, argv, mount=MOUNT, procs=self.procs)
        try:
            self.srv.start()
            self.pids = wait_children(self.srv, RELAY_FCGI, self.procs)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.srv is not None:
            self.srv.stop()


# --- A small HTTP/1.1 keep-alive client -------------------------------------------------


class Reply:
    __slots__ = ("status", "headers", "body", "t_send", "t_first", "t_end")

    def __init__(self):
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.t_send = self.t_first = self.t_end = 0

    @property
    def total_ms(self) -> float:
        return (self.t_end - self.t_send) / 1e6

    @property
    def ttfb_ms(self) -> float:
        return (self.t_first - self.t_send) / 1e6


class Client:
    """One persistent connection; times in time.monotonic_ns() (CLOCK_MONOTONIC).

    t_first is when the first byte of the response arrived, t_end when its
    last did.  on_data(t_ns, data) gets each piece of the (de-chunked) body
    at the time the recv that completed it returned.
    """

    def __init__(self, port: int, timeout: float = 60.0):
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buf = b""

    def _recv(self, reply: Reply) -> int:
        """Reads what is there; returns the time it arrived."""
        data = self.sock.recv(262144)
        now = time.monotonic_ns()
        if not data:
            raise BenchError("connection closed in the middle of a response")
        if reply.t_first == 0:
            reply.t_first = now
        self.buf += data
        return now

    def request(self, method: str, target: str, body: bytes = b"",
                headers: dict[str, str] | None = None, on_data=None) -> Reply:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{self.port}",
                f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        reply = Reply()
        reply.t_send = time.monotonic_ns()
        self.sock.sendall(raw)
        try:
            self._read(reply, on_data)
        except BaseException:
            self.close()
            raise
        return reply

    def _read(self, reply: Reply, on_data) -> None:
        now = 0
        while b"\r\n\r\n" not in self.buf:
            now = self._recv(reply)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        reply.status = int(lines[0].split()[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            reply.headers[name.strip().lower()] = value.strip()
        parts = []
        if "content-length" in reply.headers:
            need = int(reply.headers["content-length"])
            while len(self.buf) < need:
                now = self._recv(reply)
            parts.append(self.buf[:need])
            self.buf = self.buf[need:]
            if on_data is not None:
                on_data(now or time.monotonic_ns(), parts[-1])
        elif "chunked" in reply.headers.get("transfer-encoding", "").lower():
            while True:
                while b"\r\n" not in self.buf:
                    now = self._recv(reply)
                size_line, _, rest = self.buf.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    self.buf = rest
                    while not self.buf.startswith(b"\r\n"):
                        # trailers (none expected): wait for the empty line
                        if b"\r\n\r\n" in self.buf:
                            self.buf = self.buf[self.buf.index(b"\r\n\r\n") + 2:]
                            break
                        now = self._recv(reply)
                    self.buf = self.buf[2:]
                    break
                while len(rest) < size + 2:
                    now = self._recv(reply)
                    size_line, _, rest = self.buf.partition(b"\r\n")
                parts.append(rest[:size])
                self.buf = rest[size + 2:]
                if on_data is not None:
                    on_data(now or time.monotonic_ns(), parts[-1])
        else:
            while True:
                try:
                    now = self._recv(reply)
                except BenchError:
                    break
            parts.append(self.buf)
            self.buf = b""
            if on_data is not None:
                on_data(now, parts[-1])
            self.close()
        reply.t_end = time.monotonic_ns()
        reply.body = b"".join(parts)
        if reply.headers.get("connection", "").lower() == "close":
            self.close()


# --- Requests --------------------------------------------------------------------------


def anthropic_body(prompt: str, stream: bool) -> bytes:
    return json.dumps({"model": MODEL, "max_tokens": 256, "stream": stream,
                       "messages": [{"role": "user", "content": prompt}]}).encode()


def kiro_body(prompt: str) -> bytes:
    """About what the gateway sends upstream for anthropic_body(prompt)."""
    return json.dumps({"conversationState": {
        "agentTaskType": "vibe", "chatTriggerType": "MANUAL",
        "conversationId": str(uuid.uuid4()),
        "currentMessage": {"userInputMessage": {
            "content": prompt, "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR",
            "userInputMessageContext": {}}},
        "history": []}}).encode()


GW_HEADERS = {"Content-Type": "application/json", "x-api-key": API_KEY,
              "anthropic-version": "2023-06-01"}
UP_HEADERS = {"Content-Type": "application/json",
              "Authorization": "Bearer aoa-bench-" + "A" * 40}
GW_TARGET = MOUNT + "/v1/messages"
UP_TARGET = "/generateAssistantResponse"
SMALL_PROMPT = "Say hello in five words."


def check_reply(reply: Reply, what: str) -> None:
    if reply.status != 200:
        raise BenchError(f"{what}: HTTP {reply.status}: {reply.body[:300]!r}")


# --- Sections ------------------------------------------------------------------------------


def sequential(client: Client, n: int, target: str, body: bytes, headers: dict,
               what: str) -> list[Reply]:
    replies = []
    for _ in range(n):
        reply = client.request("POST", target, body, headers)
        check_reply(reply, what)
        replies.append(reply)
    return replies


def section_cpu(gw: KiroGateway, stub: StubServer, n: int) -> dict:
    """Responder CPU per request, kiro-fcgi vs the stub, non-stream and stream."""
    out = {"n": n}
    cases = [
        ("kiro", "nonstream", gw, GW_TARGET, anthropic_body(SMALL_PROMPT, False), GW_HEADERS),
        ("kiro", "stream", gw, GW_TARGET, anthropic_body(SMALL_PROMPT, True), GW_HEADERS),
        ("stub", "nonstream", stub, MOUNT + "/body", anthropic_body(SMALL_PROMPT, False),
         {"Content-Type": "application/json"}),
        ("stub", "stream", stub, MOUNT + "/stream?n=4&ms=0", b"", {}),
    ]
    for who, kind, server, target, body, headers in cases:
        client = Client(server.srv.port)
        method = "POST" if body else "GET"
        for _ in range(max(20, n // 20)):          # warm-up
            check_reply(client.request(method, target, body, headers), f"{who} {kind}")
        lighttpd = [server.srv.proc.pid]
        meter = CpuMeter(server.pids).start()
        lmeter = CpuMeter(lighttpd).start()
        for _ in range(n):
            check_reply(client.request(method, target, body, headers), f"{who} {kind}")
        used = meter.stop()
        lused = lmeter.stop()
        client.close()
        out[f"{who}_{kind}"] = {
            "us_per_request": used["stat_s"] / n * 1e6,
            "sched_us_per_request": used["sched_s"] / n * 1e6,
            "lighttpd_us_per_request": lused["sched_s"] / n * 1e6,
            "wall_us_per_request": used["wall_s"] / n * 1e6}
        log(f"cpu {who} {kind}: {out[f'{who}_{kind}']['us_per_request']:.0f} us/request "
            f"(schedstat {out[f'{who}_{kind}']['sched_us_per_request']:.0f})")
    return out


RELAY_HEADERS = {"Content-Type": "application/json"}


def kiro_headers_relay(gw: KiroGateway, upstream: FastUpstream, tmp: Path) -> RelayServer:
    """The relay responder (2 processes, 4 threads, as the relay) sending the
    request headers the gateway sends to Kiro: captured from one gateway
    request, checked against one of its own (kiroheaders.py).  Entered: the
    caller exits it."""
    head = upstream.capture(gw, GW_HEADERS, "header capture through the gateway")
    header_file = tmp / "kiro-headers"
    count = kiroheaders.write_header_file(head, header_file)
    relay = RelayServer(upstream, procs=2, threads=4, header_file=header_file)
    relay.__enter__()
    try:
        own = upstream.capture(relay, RELAY_HEADERS, "header capture through the relay")
        try:
            relay.sizes = kiroheaders.check_sizes(head, own)
        except kiroheaders.HeaderMismatch as exc:
            raise BenchError(str(exc)) from None
    except BaseException:
        relay.__exit__()
        raise
    log(f"relay + Kiro's headers: {count} headers from the gateway's request; header block "
        f"{relay.sizes['relay_head_bytes']} bytes, the gateway's "
        f"{relay.sizes['gateway_head_bytes']}")
    return relay


def cpu_rounds(cases: dict, rounds: int, warm: int) -> dict:
    """Responder and lighttpd CPU per request of each case, measured in turn.

    cases: {name: (server, pids, target, body, headers, n)}.  Each round
    runs every case n // rounds times, so that drift on a shared machine
    hits them alike; the figures add up all rounds (utime+stime counts in
    ticks of 10 ms: the sum keeps its resolution).
    """
    clients = {name: Client(c[0].srv.port) for name, c in cases.items()}
    acc = {name: {"ticks_s": 0.0, "sched_s": 0.0, "l_sched_s": 0.0, "l_stat_s": 0.0,
                  "wall_s": 0.0, "n": 0} for name in cases}
    try:
        for name, (server, pids, target, body, headers, n) in cases.items():
            for _ in range(warm):
                check_reply(clients[name].request("POST", target, body, headers), name)
        for _ in range(rounds):
            for name, (server, pids, target, body, headers, n) in cases.items():
                per = max(1, n // rounds)
                meter = CpuMeter(pids).start()
                lmeter = CpuMeter([server.srv.proc.pid]).start()
                for _ in range(per):
                    check_reply(clients[name].request("POST", target, body, headers), name)
                used, lused = meter.stop(), lmeter.stop()
                a = acc[name]
                a["ticks_s"] += used["stat_s"]
                a["sched_s"] += used["sched_s"]
                a["l_sched_s"] += lused["sched_s"]
                a["l_stat_s"] += lused["stat_s"]
                a["wall_s"] += used["wall_s"]
                a["n"] += per
    finally:
        for c in clients.values():
            c.close()
    out = {}
    for name, a in acc.items():
        n = a["n"]
        out[name] = {"n": n, "us_per_request": a["ticks_s"] / n * 1e6,
                     "sched_us_per_request": a["sched_s"] / n * 1e6,
                     "lighttpd_us_per_request": a["l_sched_s"] / n * 1e6,
                     "lighttpd_stat_us_per_request": a["l_stat_s"] / n * 1e6,
                     "wall_us_per_request": a["wall_s"] / n * 1e6}
        log(f"paced {name}: {out[name]['us_per_request']:.0f} us/request (schedstat "
            f"{out[name]['sched_us_per_request']:.0f}), lighttpd "
            f"{out[name]['lighttpd_us_per_request']:.0f} us, wall "
            f"{out[name]['wall_us_per_request']:.0f} us")
    return out


def stream_events(body: bytes, relayed: bool) -> int:
    """Text events in an answer: SSE deltas, or the relay's raw frames."""
    if relayed:
        return body.count(b"assistantResponseEvent")
    return body.count(b"event: content_block_delta")


def one_stream_cpu(server, events: int, gap_us: int) -> dict:
    """CPU of the server's responder processes (all of them, idle ones too: a
    periodic wake-up anywhere counts) and of its lighttpd over one streamed
    answer of `events` text events `gap_us` apart."""
    relayed = isinstance(server, RelayServer)
    headers = RELAY_HEADERS if relayed else GW_HEADERS
    prompt = (f"{SMALL_PROMPT} bench-events={events} bench-head-us={PACE_HEAD_US} "
              f"bench-gap-us={gap_us}")
    body = anthropic_body(prompt, True)
    client = Client(server.srv.port, timeout=events * gap_us / 1e6 + 60)
    try:
        check_reply(client.request("POST", GW_TARGET, anthropic_body(SMALL_PROMPT, True),
                                   headers), "long stream warm-up")
        meter = CpuMeter(server.pids).start()
        lmeter = CpuMeter([server.srv.proc.pid]).start()
        reply = client.request("POST", GW_TARGET, body, headers)
        used, lused = meter.stop(), lmeter.stop()
    finally:
        client.close()
    check_reply(reply, f"stream of {events} events")
    got = stream_events(reply.body, relayed)
    if got < events:
        raise BenchError(f"stream of {events} events: {got} text events arrived")
    return {"events": events, "gap_us": gap_us, "wall_s": used["wall_s"],
            "sched_us": used["sched_s"] * 1e6, "stat_us": used["stat_s"] * 1e6,
            "lighttpd_us": lused["sched_s"] * 1e6,
            "sched_us_per_event": used["sched_s"] * 1e6 / events}


def section_paced(gw: KiroGateway, relay: RelayServer, n_fast: int, n_paced: int,
                  long_events: int, long_gap_us: int, relay_kh) -> dict:
    """CPU per request against the fast and the paced stub, with the relay
    baseline and the relay with Kiro's headers (relay_kh() starts it); and
    one long stream against the same events 10 ms apart."""
    kh = relay_kh()
    cases = {}
    for up, n in (("fast", n_fast), ("paced", n_paced)):
        pace = PACE if up == "paced" else ""
        for kind in ("nonstream", "stream"):
            cases[f"kiro_{kind}_{up}"] = (gw, gw.pids, GW_TARGET,
                                          anthropic_body(SMALL_PROMPT + pace, kind == "stream"),
                                          GW_HEADERS, n)
        cases[f"relay_{up}"] = (relay, relay.pids, GW_TARGET,
                                anthropic_body(SMALL_PROMPT + pace, False), RELAY_HEADERS, n)
        cases[f"relaykh_{up}"] = (kh, kh.pids, GW_TARGET,
                                  anthropic_body(SMALL_PROMPT + pace, False), RELAY_HEADERS, n)
    out: dict = {"pace_head_us": PACE_HEAD_US, "pace_gap_us": PACE_GAP_US,
                 "kiro_headers": kh.sizes}
    out.update(cpu_rounds(cases, rounds=3, warm=20))
    # The same events 10 ms apart: what the long stream costs beyond them is
    # what its duration costs.  Both gaps are long enough that each event
    # wakes a cold process: at 1-2 ms apart an event costs a third as much.
    short = one_stream_cpu(gw, long_events, SHORT_GAP_US)
    log(f"paced short stream: {short['events']} events in {short['wall_s']:.1f} s, "
        f"{short['sched_us']:.0f} us")
    long = one_stream_cpu(gw, long_events, long_gap_us)
    log(f"paced long stream: {long['events']} events in {long['wall_s']:.1f} s, "
        f"{long['sched_us']:.0f} us")
    extra_s = max(1e-3, long["wall_s"] - short["wall_s"])
    out["short"] = short
    out["relay_short"] = one_stream_cpu(relay, long_events, SHORT_GAP_US)
    # The relay over the same two streams: sparse events cost a bare proxy
    # more too (cold caches), and that part is no periodic wake-up.
    relay_long = one_stream_cpu(relay, long_events, long_gap_us)
    out["relay_long"] = relay_long
    out["relay_long_extra_us_per_s"] = ((relay_long["sched_us"] -
                                         out["relay_short"]["sched_us"]) /
                                        max(1e-3, relay_long["wall_s"] -
                                            out["relay_short"]["wall_s"]))
    out["long"] = long
    out["long_extra_us_per_s"] = (long["sched_us"] - short["sched_us"]) / extra_s
    out["long_sched_us_per_s"] = long["sched_us"] / long["wall_s"]
    return out


# --- syscalls and store transactions (strace) ------------------------------------------------


# A call counts when it returns: on its line, or on its "resumed" line when
# another thread's line came in between.  So the accept() a thread sat in
# when strace attached counts once it returns, and the one it sits in at
# the end does not.
SYSCALL_LINE = re.compile(r"^\d+\s+(?:<\.\.\. ([a-z_0-9]+) resumed>|([a-z_0-9]+)\()")


def strace_attached(tids: list[str]) -> bool:
    for tid in tids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{tid}/status").read_text().splitlines():
                if line.startswith("TracerPid:") and line.split()[1] == "0":
                    return False
    return True


def strace_requests(pid: int, run, trace_file: Path) -> dict:
    """Runs run() with strace following every thread of pid; the calls made,
    by name, and the locks taken with flock (store_begin takes one on
    kiro.db.lock per transaction, on the descriptor each thread keeps; the
    other flocks, named locks and the request log's rotation, are rare)."""
    strace = harness.find_program("strace")
    if strace is None:
        raise BenchError("strace not found: apt-get install strace")
    tids = sorted(os.listdir(f"/proc/{pid}/task"))
    argv = [strace, "-f", "-qq", "-s", "256", "-o", str(trace_file)]
    for tid in tids:
        argv += ["-p", tid]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not strace_attached(tids):
            if proc.poll() is not None:
                raise BenchError(f"strace exited with {proc.returncode}: "
                                 f"{proc.stderr.read().decode(errors='replace')[:500]}")
            if time.monotonic() > deadline:
                raise BenchError("strace did not attach in 10 s")
            time.sleep(0.02)
        run()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    calls: dict[str, int] = {}
    lock_opens = 0
    with open(trace_file, errors="replace") as f:
        for line in f:
            m = SYSCALL_LINE.match(line)
            if m is None or line.rstrip().endswith("<unfinished ...>"):
                continue
            name = m.group(1) or m.group(2)
            calls[name] = calls.get(name, 0) + 1
            if name == "flock" and ("LOCK_SH" in line or "LOCK_EX" in line):
                lock_opens += 1
    return {"calls": calls, "lock_opens": lock_opens}


def section_syscalls(upstream: FastUpstream, n: int, state_parent: Path, tmp: Path) -> dict:
    """System calls and store transactions per request: one gateway process
    (1 thread) and one relay process, each traced by strace over n requests."""
    out: dict = {"n": n}
    with KiroGateway(upstream, procs=1, threads=1, state_parent=state_parent) as gw, \
            RelayServer(upstream, procs=1, threads=1) as relay:
        cases = [
            ("kiro_nonstream_fast", gw, GW_TARGET, anthropic_body(SMALL_PROMPT, False),
             GW_HEADERS),
            ("kiro_stream_fast", gw, GW_TARGET, anthropic_body(SMALL_PROMPT, True), GW_HEADERS),
            ("kiro_nonstream_paced", gw, GW_TARGET,
             anthropic_body(SMALL_PROMPT + PACE, False), GW_HEADERS),
            ("kiro_stream_paced", gw, GW_TARGET, anthropic_body(SMALL_PROMPT + PACE, True),
             GW_HEADERS),
            ("relay_fast", relay, GW_TARGET, anthropic_body(SMALL_PROMPT, False), RELAY_HEADERS),
            ("relay_paced", relay, GW_TARGET, anthropic_body(SMALL_PROMPT + PACE, False),
             RELAY_HEADERS),
        ]
        for name, server, target, body, headers in cases:
            client = Client(server.srv.port)
            try:
                for _ in range(20):                 # warm-up
                    check_reply(client.request("POST", target, body, headers), name)

                def run():
                    for _ in range(n):
                        check_reply(client.request("POST", target, body, headers), name)

                traced = strace_requests(server.pids[0], run, tmp / f"strace-{name}.txt")
            finally:
                client.close()
            total = sum(traced["calls"].values())
            top = sorted(traced["calls"].items(), key=lambda kv: -kv[1])
            out[name] = {"per_request": total / n,
                         "by_call": {k: v / n for k, v in top},
                         "store_txns_per_request": traced["lock_opens"] / n}
            log(f"syscalls {name}: {total / n:.1f} per request ("
                + ", ".join(f"{k} {v / n:.1f}" for k, v in top[:8])
                + f"); state-file locks {traced['lock_opens'] / n:.2f}")
        # An idle responder should make no calls at all: a timer or a
        # polling thread would show here as calls per second.
        idle_s = 3.0
        traced = strace_requests(gw.pids[0], lambda: time.sleep(idle_s),
                                 tmp / "strace-idle.txt")
        out["idle_calls_per_s"] = sum(traced["calls"].values()) / idle_s
        out["idle_calls"] = traced["calls"]
        log(f"syscalls idle: {out['idle_calls_per_s']:.1f} per second {traced['calls']}")
    return out


# Where a sample's CPU goes: the innermost frame of its stack that matches
# one of these (checked in this order) names the part; none: "other".
PROFILE_PARTS = [
    ("store transactions", r"store_(begin|end|get|put|del|each)|_?gdbm_\w+"),
    ("logging (log lines, flow log)", r"log_(emit|info|warnx?|debug)|flowlog_\w+"),
    ("metrics (prom_record)", r"prom_record|metrics_add"),
    ("event decoding (es_decoder_feed, kiro_event_parse)",
     r"es_decoder_feed|kiro_event_parse|frame_deliver"),
    ("emission (the answer in the client's format)",
     r"emit_\w+|e_\w+|write_json_message|on_frame"),
    ("FastCGI write, finish, close (libfcgi)",
     r"fcgx_flush|FCGX_(FFlush|PutStr|FPrintF|Finish_r|Free|FClose)|OS_(Write|Close)|"
     r"out_(flush|response)"),
    ("FastCGI accept, read (libfcgi)", r"FCGX_(Accept_r|GetStr|GetParam)|OS_(Read|Accept)"),
    ("request JSON parse", r"anthropic_parse|json_parse"),
    ("conversion (Kiro body, repair, estimate, pre-flight)",
     r"kiro_req_build|build_body|history_build_within|conv_\w+|preflight_\w+|"
     r"tokens_count_\w+|repair_\w+"),
    ("client key check", r"router_client_authorised|secret_equal|client_auth"),
    ("libcurl transfer (curl_easy_perform)", r"curl_easy_perform"),
    ("upstream set-up (headers, handle reset, URL)",
     r"http_do|upstream_generate|upstream_auth_headers|curl_easy_reset"),
    ("account pick (outside the store)", r"pool_pick|pick|pick_in"),
]
PROFILE_OTHER = "other (router, main loop, libc in between)"
PERF_FRAME = re.compile(r"^[0-9a-f]+\s+(\S+?)(?:\+0x[0-9a-f]+)?\s+\((.*)\)$")


def perf_parts(script: str) -> dict:
    """Samples of `perf script -F ip,sym,dso` (call graphs) by part, with the
    share of each part's samples that were in the kernel."""
    parts = [(name, re.compile(f"^(?:{rx})$")) for name, rx in PROFILE_PARTS]
    count: dict[str, int] = {}
    kernel: dict[str, int] = {}
    total = 0
    for sample in script.split("\n\n"):
        frames = [PERF_FRAME.match(f.strip()) for f in sample.strip().splitlines()
                  if f.strip()]
        frames = [f for f in frames if f is not None]
        if not frames:
            continue
        total += 1
        part = PROFILE_OTHER
        for f in frames:
            hit = next((name for name, rx in parts if rx.match(f.group(1))), None)
            if hit is not None:
                part = hit
                break
        count[part] = count.get(part, 0) + 1
        if "kernel" in frames[0].group(2):
            kernel[part] = kernel.get(part, 0) + 1
    return {"samples": total,
            "kernel_share": sum(kernel.values()) / total if total else 0.0,
            "parts": {name: {"share": n / total, "kernel_share": kernel.get(name, 0) / n}
                      for name, n in sorted(count.items(), key=lambda kv: -kv[1])}}


def perf_profile(pid: int, run, data: Path) -> dict:
    """perf record with call graphs (all threads of pid) while run() runs;
    its samples by part, and the top symbols by their own samples."""
    perf = harness.find_program("perf")
    if perf is None:
        raise BenchError("perf not found: apt-get install linux-perf")
    proc = subprocess.Popen([perf, "record", "-q", "--call-graph", "dwarf,16384", "-F", "4000",
                             "-p", str(pid), "-o", str(data)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)      # perf has no ready signal; a few early requests lost is harmless
    if proc.poll() is not None:
        raise BenchError(f"perf record exited with {proc.returncode}: "
                         f"{proc.stderr.read().decode(errors='replace')[:500]}")
    try:
        run()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    script = subprocess.run([perf, "script", "-i", str(data), "-F", "ip,sym,dso"],
                            capture_output=True, text=True, errors="replace").stdout
    out = perf_parts(script)
    rep = subprocess.run([perf, "report", "-i", str(data), "--stdio", "--no-children",
                          "--sort", "sym", "-g", "none", "--percent-limit", "0.5"],
                         capture_output=True, text=True, errors="replace").stdout
    out["top"] = [{"percent": float(m.group(1)), "kernel": m.group(2) == "k",
                   "symbol": m.group(3)}
                  for m in re.finditer(r"^\s+([\d.]+)%\s+\[([.k])\]\s+(.+?)\s*$", rep,
                                       re.MULTILINE)][:20]
    data.unlink(missing_ok=True)
    return out


def section_profile(upstream: FastUpstream, n: int, state_parent: Path, tmp: Path) -> dict:
    """Where one gateway process's CPU goes (perf, call graphs) serving n
    small requests: non-stream against the fast and against the paced stub,
    and streamed against the paced one; its CPU per request measured first
    without perf."""
    out: dict = {"n": n}
    with KiroGateway(upstream, procs=1, threads=1, state_parent=state_parent) as gw:
        for up in ("fast", "paced", "paced_stream"):
            body = anthropic_body(SMALL_PROMPT + (PACE if up != "fast" else ""),
                                  up == "paced_stream")
            client = Client(gw.srv.port)

            def run():
                for _ in range(n):
                    check_reply(client.request("POST", GW_TARGET, body, GW_HEADERS), up)

            try:
                for _ in range(20):                 # warm-up
                    check_reply(client.request("POST", GW_TARGET, body, GW_HEADERS), up)
                meter = CpuMeter(gw.pids).start()
                run()
                us = meter.stop()["sched_s"] / n * 1e6
                out[up] = perf_profile(gw.pids[0], run, tmp / f"perf-{up}.data")
                out[up]["us_per_request"] = us
            finally:
                client.close()
            log(f"profile {up}: {us:.0f} us/request, " + ", ".join(
                f"{name} {v['share'] * 100:.0f}%" for name, v in
                list(out[up]["parts"].items())[:5]))
    return out


FRONT_SYSTEM = "You are a careful assistant. Answer briefly."
FRONT_TOOL = {"name": "get_weather", "description": "Current weather for a city.",
              "schema": {"type": "object", "properties": {"city": {"type": "string"}},
                         "required": ["city"]}}


def frontend_requests(stream: bool) -> dict[str, tuple[str, bytes]]:
    """One conversation in each protocol: {front end: (target, body)}."""
    t = FRONT_TOOL
    args = {"city": "Oslo"}
    result = "Cloudy, 4 degrees."
    anthropic = {
        "model": MODEL, "max_tokens": 256, "stream": stream, "system": FRONT_SYSTEM,
        "tools": [{"name": t["name"], "description": t["description"],
                   "input_schema": t["schema"]}],
        "messages": [
            {"role": "user", "content": "What is the weather in Oslo?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_01", "name": t["name"], "input": args}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": result}]},
            {"role": "user", "content": SMALL_PROMPT}]}
    chat = {
        "model": MODEL, "max_tokens": 256, "stream": stream,
        "tools": [{"type": "function", "function": {
            "name": t["name"], "description": t["description"], "parameters": t["schema"]}}],
        "messages": [
            {"role": "system", "content": FRONT_SYSTEM},
            {"role": "user", "content": "What is the weather in Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_01", "type": "function",
                 "function": {"name": t["name"], "arguments": json.dumps(args)}}]},
            {"role": "tool", "tool_call_id": "call_01", "content": result},
            {"role": "user", "content": SMALL_PROMPT}]}
    responses = {
        "model": MODEL, "max_output_tokens": 256, "stream": stream, "store": False,
        "instructions": FRONT_SYSTEM,
        "tools": [{"type": "function", "name": t["name"], "description": t["description"],
                   "parameters": t["schema"]}],
        "input": [
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "What is the weather in Oslo?"}]},
            {"type": "function_call", "call_id": "call_01", "name": t["name"],
             "arguments": json.dumps(args)},
            {"type": "function_call_output", "call_id": "call_01", "output": result},
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": SMALL_PROMPT}]}]}
    gemini = {
        "systemInstruction": {"parts": [{"text": FRONT_SYSTEM}]},
        "tools": [{"functionDeclarations": [{
            "name": t["name"], "description": t["description"],
            "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}},
                           "required": ["city"]}}]}],
        "generationConfig": {"maxOutputTokens": 256},
        "contents": [
            {"role": "user", "parts": [{"text": "What is the weather in Oslo?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": t["name"], "args": args}}]},
            {"role": "user", "parts": [{"functionResponse": {
                "name": t["name"], "response": {"result": result}}}]},
            {"role": "user", "parts": [{"text": SMALL_PROMPT}]}]}
    gemini_target = (f"{MOUNT}/v1beta/models/{MODEL}:streamGenerateContent?alt=sse" if stream
                     else f"{MOUNT}/v1beta/models/{MODEL}:generateContent")
    return {"anthropic": (GW_TARGET, json.dumps(anthropic).encode()),
            "chat": (MOUNT + "/v1/chat/completions", json.dumps(chat).encode()),
            "responses": (MOUNT + "/v1/responses", json.dumps(responses).encode()),
            "gemini": (gemini_target, json.dumps(gemini).encode())}


FRONT_ENDS = ("anthropic", "chat", "responses", "gemini")


def section_frontends(gw: KiroGateway, n: int) -> dict:
    """Responder CPU per request of each front end for the same conversation.

    The front ends are measured in turn, several rounds, so that drift on a
    shared machine hits them alike; each figure is the median of its rounds.
    """
    rounds = 3
    per = max(50, n // rounds)
    samples: dict[str, list[float]] = {}
    for kind in ("nonstream", "stream"):
        reqs = frontend_requests(kind == "stream")
        client = Client(gw.srv.port)
        for name in FRONT_ENDS:
            target, body = reqs[name]
            for _ in range(20):                     # warm-up
                check_reply(client.request("POST", target, body, GW_HEADERS), f"{name} {kind}")
        for _ in range(rounds):
            for name in FRONT_ENDS:
                target, body = reqs[name]
                meter = CpuMeter(gw.pids).start()
                for _ in range(per):
                    check_reply(client.request("POST", target, body, GW_HEADERS),
                                f"{name} {kind}")
                used = meter.stop()
                samples.setdefault(f"{name}_{kind}", []).append(used["sched_s"] / per * 1e6)
        client.close()
    out: dict = {"n": per * rounds}
    for kind in ("nonstream", "stream"):
        base = percentile(samples[f"anthropic_{kind}"], 50)
        for name in FRONT_ENDS:
            us = percentile(samples[f"{name}_{kind}"], 50)
            out[f"{name}_{kind}"] = {"us_per_request": us, "ratio": us / base if base else None,
                                     "rounds_us": samples[f"{name}_{kind}"]}
            log(f"frontends {name} {kind}: {us:.0f} us/request ({us / base:.2f}x anthropic)")
    return out


def cpu_on_off(upstream: FastUpstream, n: int, state_parent: Path, off_config: dict,
               what: str) -> tuple[dict, KiroGateway, KiroGateway]:
    """Responder CPU per request of a default gateway and one with off_config.

    Two gateways (1 process, 1 thread each, so one pid holds all the work),
    measured in alternating rounds so that drift on a shared machine hits
    both alike; each figure is the median of its rounds.  Returns the
    figures; the gateways are stopped (their state directories are read by
    the caller through the returned objects before cleanup is final).
    """
    rounds = 5
    per = max(50, n // rounds)
    body = anthropic_body(SMALL_PROMPT, False)
    samples: dict[str, list[float]] = {"on": [], "off": []}
    with KiroGateway(upstream, procs=1, threads=1, state_parent=state_parent) as on, \
            KiroGateway(upstream, procs=1, threads=1, state_parent=state_parent,
                        config=off_config) as off:
        gws = {"on": on, "off": off}
        clients = {k: Client(g.srv.port) for k, g in gws.items()}
        for k in gws:
            for _ in range(20):                     # warm-up
                check_reply(clients[k].request("POST", GW_TARGET, body, GW_HEADERS), k)
        for _ in range(rounds):
            for k, g in gws.items():
                meter = CpuMeter(g.pids).start()
                for _ in range(per):
                    check_reply(clients[k].request("POST", GW_TARGET, body, GW_HEADERS),
                                f"{what} {k}")
                samples[k].append(meter.stop()["sched_s"] / per * 1e6)
        for c in clients.values():
            c.close()
        extra = {"records": sum(len(p.read_text().splitlines())
                                for p in (on.state_dir / "flows").glob("*.jsonl")),
                 "off_flows": (off.state_dir / "flows").exists()}
    on_us, off_us = percentile(samples["on"], 50), percentile(samples["off"], 50)
    out = {"n": per * rounds, "on_us_per_request": on_us, "off_us_per_request": off_us,
           "added_us": on_us - off_us, "ratio": on_us / off_us if off_us else None,
           "rounds_us": samples}
    out.update(extra)
    return out


def section_flows(upstream: FastUpstream, n: int, state_parent: Path) -> dict:
    """Responder CPU per request with the request log on and off (the baseline)."""
    out = cpu_on_off(upstream, n, state_parent, {"flowLog": {"enabled": False}}, "flowLog")
    if out.pop("off_flows"):
        raise BenchError("flowLog.enabled false still wrote a request log")
    log(f"flows: {out['on_us_per_request']:.0f} us/request with the log, "
        f"{out['off_us_per_request']:.0f} without ({out['added_us']:+.1f} us, "
        f"{out['records']} records)")
    return out


def section_console(upstream: FastUpstream, n: int, state_parent: Path) -> dict:
    """The operator's console per request: the request log and the shared metrics
    counters on (the defaults) against both off (flowLog.enabled and
    metricsEnabled false); stats are computed from the log when asked, so they
    cost a request nothing."""
    out = cpu_on_off(upstream, n, state_parent,
                     {"flowLog": {"enabled": False}, "metricsEnabled": False}, "console")
    if out.pop("off_flows"):
        raise BenchError("flowLog.enabled false still wrote a request log")
    log(f"console: {out['on_us_per_request']:.0f} us/request with flows and metrics, "
        f"{out['off_us_per_request']:.0f} without ({out['ratio']:.3f}x)")
    return out


def section_latency(gw: KiroGateway, upstream: FastUpstream, n: int, warm: int) -> dict:
    """Sequential p50/p99, interleaved so drift hits all three alike."""
    direct = Client(upstream.port)
    gw_json = Client(gw.srv.port)
    gw_sse = Client(gw.srv.port)
    up_body = kiro_body(SMALL_PROMPT)
    json_body = anthropic_body(SMALL_PROMPT, False)
    sse_body = anthropic_body(SMALL_PROMPT, True)
    samples = {"direct": [], "gw_nonstream": [], "gw_stream": []}
    for i in range(warm + n):
        r1 = direct.request("POST", UP_TARGET, up_body, UP_HEADERS)
        r2 = gw_json.request("POST", GW_TARGET, json_body, GW_HEADERS)
        r3 = gw_sse.request("POST", GW_TARGET, sse_body, GW_HEADERS)
        for reply, what in ((r1, "direct"), (r2, "gateway non-stream"), (r3, "gateway stream")):
            check_reply(reply, what)
        if i >= warm:
            samples["direct"].append(r1)
            samples["gw_nonstream"].append(r2)
            samples["gw_stream"].append(r3)
    if b"content_block_delta" not in r3.body or b'"type":"message"' not in r2.body.replace(b" ", b""):
        raise BenchError(f"unexpected gateway answers: {r2.body[:200]!r} {r3.body[:200]!r}")
    for c in (direct, gw_json, gw_sse):
        c.close()
    out = {"n": n}
    for key, replies in samples.items():
        total = [r.total_ms for r in replies]
        ttfb = [r.ttfb_ms for r in replies]
        out[key] = {"total_p50_ms": percentile(total, 50), "total_p99_ms": percentile(total, 99),
                    "ttfb_p50_ms": percentile(ttfb, 50), "ttfb_p99_ms": percentile(ttfb, 99)}
    d = out["direct"]
    for key in ("gw_nonstream", "gw_stream"):
        g = out[key]
        g["added_total_p50_ms"] = g["total_p50_ms"] - d["total_p50_ms"]
        g["added_total_p99_ms"] = g["total_p99_ms"] - d["total_p99_ms"]
        g["added_ttfb_p50_ms"] = g["ttfb_p50_ms"] - d["ttfb_p50_ms"]
        g["added_ttfb_p99_ms"] = g["ttfb_p99_ms"] - d["ttfb_p99_ms"]
    log(f"latency: direct p50 {d['total_p50_ms']:.3f} ms, gateway non-stream p50 "
        f"{out['gw_nonstream']['total_p50_ms']:.3f} ms, stream ttfb p50 "
        f"{out['gw_stream']['ttfb_p50_ms']:.3f} ms")
    return out


STAMP = re.compile(rb"t=(\d{1,20}) ")


def stamped_delays(client: Client, target: str, body: bytes, headers: dict,
                   expect: int) -> list[float]:
    """Delays (ms) of each stamped event of one streamed answer."""
    delays: list[float] = []
    pending = bytearray()

    def on_data(t_ns: int, data: bytes) -> None:
        pending.extend(data)
        pos = 0
        for match in STAMP.finditer(pending):
            delays.append((t_ns - int(match.group(1))) / 1e6)
            pos = match.end()
        del pending[:pos]

    reply = client.request("POST", target, body, headers, on_data=on_data)
    check_reply(reply, target)
    if len(delays) != expect:
        raise BenchError(f"{target}: {len(delays)} stamped events arrived, {expect} sent")
    return delays


def section_events(gw: KiroGateway, upstream: FastUpstream, k: int, runs: int) -> dict:
    prompt = f"bench-events={k} bench-delay-ms=20 Count slowly."
    direct = Client(upstream.port)
    through = Client(gw.srv.port)
    base = stamped_delays(direct, UP_TARGET, kiro_body(prompt), UP_HEADERS, k)
    gw_delays: list[float] = []
    for _ in range(runs):
        gw_delays += stamped_delays(through, GW_TARGET, anthropic_body(prompt, True),
                                    GW_HEADERS, k)
    direct.close()
    through.close()
    out = {"k": k, "spacing_ms": 20, "gateway_samples": len(gw_delays)}
    for key, values in (("direct", base), ("gateway", gw_delays)):
        out[key] = {"p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99),
                    "max_ms": max(values)}
    log(f"events: gateway p50 {out['gateway']['p50_ms']:.3f} ms p99 "
        f"{out['gateway']['p99_ms']:.3f} max {out['gateway']['max_ms']:.3f}; direct p50 "
        f"{out['direct']['p50_ms']:.3f} ms")
    return out


def wrk_run(url: str, conns: int, seconds: float, body_file: Path, headers: list[str],
            meters: dict[str, list[int]]) -> dict:
    """One wrk run; req/s, latency, errors and the CPU each party used."""
    wrk = harness.find_program("wrk")
    argv = [wrk, "-t2", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(POST_LUA),
            url, "--", str(body_file), *headers]
    running = {name: CpuMeter(pids).start() for name, pids in meters.items()}
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    text = proc.stdout.read().decode(errors="replace")
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    used = {name: m.stop() for name, m in running.items()}
    if proc.returncode != 0:
        raise BenchError(f"wrk exited with {proc.returncode}:\n{text}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    if match is None or total is None:
        raise BenchError(f"wrk printed no Requests/sec:\n{text}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sockerr = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                        text)
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.MULTILINE))
    cpu = {name: u["sched_s"] / wall for name, u in used.items()}
    cpu["wrk"] = (rusage.ru_utime + rusage.ru_stime) / wall
    return {"conns": conns, "seconds": seconds, "rps": float(match.group(1)),
            "requests": int(total.group(1)),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(map(int, sockerr.groups())) if sockerr else 0,
            "latency": lat, "cpu_share": cpu, "wall_s": wall,
            "cpu_s": {name: u["sched_s"] for name, u in used.items()}}


# Turns each party of the throughput section takes at each -c (at most one
# a second of the run).
THROUGHPUT_ROUNDS = 3


def merge_wrk_runs(runs: list[dict]) -> dict:
    """The sum of several wrk runs of one party: req/s and CPU shares over
    their whole wall time; the latency percentiles are the last run's."""
    wall = sum(r["wall_s"] for r in runs)
    requests = sum(r["requests"] for r in runs)
    cpu_s: dict[str, float] = {}
    for r in runs:
        for k, v in r["cpu_s"].items():
            cpu_s[k] = cpu_s.get(k, 0.0) + v
    share = {k: v / wall for k, v in cpu_s.items()}
    share["wrk"] = sum(r["cpu_share"]["wrk"] * r["wall_s"] for r in runs) / wall
    return {"conns": runs[0]["conns"], "seconds": sum(r["seconds"] for r in runs),
            "rps": sum(r["rps"] * r["wall_s"] for r in runs) / wall, "requests": requests,
            "non2xx": sum(r["non2xx"] for r in runs),
            "socket_errors": sum(r["socket_errors"] for r in runs),
            "latency": runs[-1]["latency"], "cpu_share": share, "cpu_s": cpu_s,
            "wall_s": wall, "turns": len(runs)}


def section_throughput(gw: KiroGateway, stub: StubServer, relay: RelayServer | None,
                       upstream: FastUpstream, seconds: float, warm: float, tmp: Path,
                       relay_kh=None) -> dict:
    if harness.find_program("wrk") is None:
        raise BenchError("wrk not found: apt-get install wrk "
                         "(deploy/install-deps.sh --test installs it)")
    small = tmp / "small.json"
    small.write_bytes(anthropic_body(SMALL_PROMPT, False))
    small_sse = tmp / "small-stream.json"
    small_sse.write_bytes(anthropic_body(SMALL_PROMPT, True))
    key = [f"x-api-key: {API_KEY}", "anthropic-version: 2023-06-01"]
    out: dict = {"seconds": seconds}
    plans = [
        ("stub", stub.srv.url("/body"), small, [],
         {"responders": stub.pids, "lighttpd": [stub.srv.proc.pid]}),
        ("kiro", gw.srv.url("/v1/messages"), small, key,
         {"responders": gw.pids, "lighttpd": [gw.srv.proc.pid],
          "fast-upstream": [upstream.proc.pid]}),
    ]
    if relay is not None:
        # The ceiling a proxy can reach: the same upstream call, nothing parsed.
        plans.append(("relay", relay.srv.url("/v1/messages"), small, [],
                      {"responders": relay.pids, "lighttpd": [relay.srv.proc.pid],
                       "fast-upstream": [upstream.proc.pid]}))
    if relay_kh is not None:
        # The same relay sending the gateway's request headers: libcurl's
        # formatting of them is a floor the gateway cannot go under.
        kh = relay_kh()
        out["kiro_headers"] = kh.sizes
        plans.append(("relaykh", kh.srv.url("/v1/messages"), small, [],
                      {"responders": kh.pids, "lighttpd": [kh.srv.proc.pid],
                       "fast-upstream": [upstream.proc.pid]}))
    for who, url, body, headers, meters in plans:
        wrk_run(url, 4, warm, body, headers, meters)
    # The parties take turns in short runs, so that the shared machine's
    # drift (a neighbour, a slower minute) falls on each of them alike.
    rounds = max(1, min(THROUGHPUT_ROUNDS, round(seconds)))
    for conns in (2, 4):
        runs: dict[str, list[dict]] = {who: [] for who, *_ in plans}
        for _ in range(rounds):
            for who, url, body, headers, meters in plans:
                res = wrk_run(url, conns, seconds / rounds, body, headers, meters)
                if res["non2xx"] or res["socket_errors"]:
                    raise BenchError(f"wrk {who} -c{conns}: {res['non2xx']} non-2xx "
                                     f"answers, {res['socket_errors']} socket errors")
                runs[who].append(res)
        for who, *_ in plans:
            res = merge_wrk_runs(runs[who])
            res["responder_us_per_request"] = (res["cpu_s"]["responders"]
                                               / max(1, res["requests"]) * 1e6)
            out[f"{who}_c{conns}"] = res
            log(f"throughput {who} -c{conns}: {res['rps']:.0f} req/s over {rounds} turns "
                f"(non-2xx {res['non2xx']}, socket errors {res['socket_errors']}) cpu "
                + ", ".join(f"{k} {v * 100:.0f}%" for k, v in res["cpu_share"].items()))
    # For information: the streaming answer at -c4.
    res = wrk_run(gw.srv.url("/v1/messages"), 4, max(1, round(seconds / 2)), small_sse, key,
                  plans[1][4])
    out["kiro_stream_c4"] = res
    log(f"throughput kiro stream -c4: {res['rps']:.0f} req/s")
    for conns in (2, 4):
        out[f"ratio_c{conns}"] = out[f"kiro_c{conns}"]["rps"] / out[f"stub_c{conns}"]["rps"]
        if relay is not None:
            k, r = out[f"kiro_c{conns}"], out[f"relay_c{conns}"]
            out[f"relay_ratio_c{conns}"] = k["rps"] / r["rps"]
            out[f"relay_cpu_ratio_c{conns}"] = (k["responder_us_per_request"]
                                                / r["responder_us_per_request"])
        if relay_kh is not None:
            k, r = out[f"kiro_c{conns}"], out[f"relaykh_c{conns}"]
            out[f"relaykh_ratio_c{conns}"] = k["rps"] / r["rps"]
            out[f"relaykh_cpu_ratio_c{conns}"] = (k["responder_us_per_request"]
                                                  / r["responder_us_per_request"])
    return out


def rss_mb(pids: list[int], field: str = "VmRSS") -> dict[int, float]:
    return {pid: proc_status_kb(pid, field) / 1024.0 for pid in pids}


def pss_mb(pid: int) -> float:
    """Proportional set size: shared library pages divided among their users."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def one_request_each(server, pids: list[int], target: str, body: bytes, headers: dict) -> None:
    """One request per responder process: concurrent, slow enough to land on each."""
    errors: list[str] = []

    def run():
        client = Client(server.srv.port)
        try:
            check_reply(client.request("POST", target, body, headers), target)
        except Exception as exc:            # noqa: BLE001 - reported below
            errors.append(str(exc))
        finally:
            client.close()

    threads = [threading.Thread(target=run) for _ in pids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise BenchError("; ".join(errors))


def idle_rss(gw: KiroGateway) -> dict:
    """Right after start, then after one (slow, concurrent) request per process."""
    # "After start": once the processes have set up (RSS steady for 0.2 s).
    at_start, deadline = rss_mb(gw.pids), time.monotonic() + 3
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = rss_mb(gw.pids)
        if now == at_start:
            break
        at_start = now
    one_request_each(gw, gw.pids, GW_TARGET,
                     anthropic_body("bench-events=2 bench-delay-ms=150 Hi", True), GW_HEADERS)
    time.sleep(0.2)
    after = rss_mb(gw.pids)
    return {"procs": gw.procs, "threads": gw.threads,
            "at_start_mb": list(at_start.values()),
            "after_one_request_mb": list(after.values()),
            "anon_mb": list(rss_mb(gw.pids, "RssAnon").values()),
            "file_mb": list(rss_mb(gw.pids, "RssFile").values()),
            "pss_mb": [pss_mb(p) for p in gw.pids]}


def stub_idle_rss(stub: StubServer) -> dict:
    errors = []
    for _ in stub.pids:
        client = Client(stub.srv.port)
        try:
            check_reply(client.request("GET", MOUNT + "/stream?n=2&ms=100"), "stub")
        except Exception as exc:            # noqa: BLE001
            errors.append(str(exc))
        finally:
            client.close()
    if errors:
        raise BenchError("; ".join(errors))
    return {"after_one_request_mb": list(rss_mb(stub.pids).values())}


def section_rss_streams(upstream: FastUpstream, streams: int, procs: int, threads: int,
                        events: int, delay_ms: int, state_parent: Path) -> dict:
    with KiroGateway(upstream, procs=procs, threads=threads, state_parent=state_parent) as gw:
        idle = idle_rss(gw)
        body = anthropic_body(f"bench-events={events} bench-delay-ms={delay_ms} Go on.", True)
        peaks = {pid: 0.0 for pid in gw.pids}
        peaks_anon = {pid: 0.0 for pid in gw.pids}
        peak_sum = 0.0
        done = threading.Event()
        results: list[Reply | Exception] = []
        lock = threading.Lock()

        def sampler():
            nonlocal peak_sum
            while not done.is_set():
                now = rss_mb(gw.pids)
                for pid, mb in now.items():
                    peaks[pid] = max(peaks[pid], mb)
                for pid, mb in rss_mb(gw.pids, "RssAnon").items():
                    peaks_anon[pid] = max(peaks_anon[pid], mb)
                peak_sum = max(peak_sum, sum(now.values()))
                time.sleep(0.01)

        def client():
            conn = Client(gw.srv.port)
            try:
                reply = conn.request("POST", GW_TARGET, body, GW_HEADERS)
                check_reply(reply, "stream")
                with lock:
                    results.append(reply)
            except Exception as exc:        # noqa: BLE001 - counted below
                with lock:
                    results.append(exc)
            finally:
                conn.close()

        sample_thread = threading.Thread(target=sampler)
        sample_thread.start()
        clients = [threading.Thread(target=client) for _ in range(streams)]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        done.set()
        sample_thread.join()
        replies = [r for r in results if isinstance(r, Reply)]
        failures = [str(r) for r in results if not isinstance(r, Reply)]
        if failures:
            raise BenchError(f"{len(failures)} of {streams} streams failed: {failures[0]}")
        # How many streams were open at once: those whose first byte came
        # before the first stream ended.
        first_end = min(r.t_end for r in replies)
        overlap = sum(1 for r in replies if r.t_first < first_end)
        hwm = rss_mb(gw.pids, "VmHWM")
        out = {"streams": streams, "procs": procs, "threads": threads,
               "stream_ms": events * delay_ms, "overlapping": overlap,
               "idle": idle, "peak_mb": list(peaks.values()), "peak_sum_mb": peak_sum,
               "peak_anon_mb": list(peaks_anon.values()),
               "hwm_mb": list(hwm.values()),
               "threads_now": [proc_threads(p) for p in gw.pids]}
    log(f"rss: {streams} streams, {overlap} overlapping, peak per process "
        + ", ".join(f"{v:.1f}" for v in out["peak_mb"]) + " MB")
    return out


def fs_type(path: Path) -> str:
    """The file system type of the mount holding path (/proc/self/mounts)."""
    best, kind = "", "?"
    real = os.path.realpath(path)
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) < 3:
                continue
            mnt = fields[1].replace("\\040", " ")
            inside = real == mnt or real.startswith(mnt.rstrip("/") + "/")
            if inside and len(mnt) >= len(best):
                best, kind = mnt, fields[2]
    return kind


def section_core(seconds: float, state_parent: Path) -> dict:
    if not (BENCH_CORE.is_file() and os.access(BENCH_CORE, os.X_OK)):
        raise BenchError(f"{BENCH_CORE} is not built: run make bench (or set BENCH_CORE)")
    dirs = [state_parent]
    if Path("/dev/shm").is_dir() and fs_type(state_parent) != "tmpfs":
        dirs.append(Path("/dev/shm"))
    argv = [str(BENCH_CORE), "-f", str(FIXTURE), "-t", f"{seconds:g}"]
    for d in dirs:
        argv += ["-s", str(d)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise BenchError(f"bench-core exited with {proc.returncode}:\n{proc.stderr}")
    if proc.stderr.strip():
        log("bench-core: " + proc.stderr.strip())
    out = json.loads(proc.stdout)
    for entry in out["store"]:
        entry["fs"] = fs_type(Path(entry["dir"]))
        if "error" in entry:
            raise BenchError(f"bench-core store in {entry['dir']}: {entry['error']}")
    for entry in out.get("pool", []):
        if "error" in entry:
            raise BenchError(f"bench-core pool, {entry['accounts']} accounts: {entry['error']}")
    # Each front end's cost against the Anthropic one, for the table and results.json.
    for key, cost in (("request_conversion", "us_per_request"),
                      ("answer_emission", "us_per_answer")):
        base = out[key]["anthropic"][cost]
        for name in FRONT_ENDS:
            out[key][name]["ratio_to_anthropic"] = out[key][name][cost] / base if base else None
    log(f"core: decoder {out['decoder']['mb_s']:.1f} MB/s, builder "
        f"{out['builder']['mb_s']:.1f} MB/s; conversion " + ", ".join(
            f"{n} {out['request_conversion'][n]['mb_s']:.0f} MB/s" for n in FRONT_ENDS)
        + "; emission " + ", ".join(
            f"{n} {out['answer_emission'][n]['us_per_answer']:.0f} us" for n in FRONT_ENDS))
    return out


# --- The table -------------------------------------------------------------------------


class Table:
    def __init__(self):
        self.rows: list[tuple[str, ...]] = []

    def section(self, title: str) -> None:
        self.rows.append((title,))

    def row(self, label: str, value: float | None, unit: str, base: float | None = None,
            base_label: str = "", goal: str = "", ok: bool | None = None,
            fmt: str = "{:.1f}", ratio: float | None = None) -> None:
        val = "-" if value is None else fmt.format(value) + f" {unit}"
        b = "" if base is None else fmt.format(base) + f" {unit}"
        if base_label and b:
            b += f" ({base_label})"
        if ratio is None and base not in (None, 0) and value is not None:
            ratio = value / base
        r = "" if ratio is None else f"{ratio:.2f}x"
        verdict = "" if ok is None else ("ok" if ok else "over")
        self.rows.append((label, val, b, r, goal, verdict))

    def note(self, text: str) -> None:
        self.rows.append(("note", "  " + text))

    def render(self) -> str:
        head = ("measure", "kiro-fcgi", "baseline", "ratio", "goal", "")
        widths = [max(len(r[i]) for r in self.rows + [head] if len(r) == len(head))
                  for i in range(len(head))]
        lines = []

        def fmt(r):
            return "  ".join(c.ljust(w) if i == 0 or i == 4 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(r, widths))).rstrip()

        lines.append(fmt(head))
        lines.append("-" * len(fmt(head)))
        for r in self.rows:
            if len(r) == 1:
                lines.append(f"[{r[0]}]")
            elif r[0] == "note":
                lines.append(r[1])
            else:
                lines.append(fmt(r))
        return "\n".join(lines)


def core_frontend_rows(t: Table, c: dict) -> None:
    """bench-core's per front end rows: request conversion and answer emission."""
    conv, emit = c["request_conversion"], c["answer_emission"]
    t.note(f"per front end, the request above as each protocol sends it ({conv['messages']} "
           f"messages, {conv['tools']} tools after repair); baseline: Anthropic")
    for name in FRONT_ENDS:
        r = conv[name]
        base = None if name == "anthropic" else conv["anthropic"]["us_per_request"]
        t.row(f"request conversion, {name}", r["us_per_request"], "us", base, "anthropic",
              "" if base is None else "<= 1.5x",
              None if base is None else r["ratio_to_anthropic"] <= GOAL_FRONTEND_RATIO,
              fmt="{:.0f}", ratio=None if base is None else r["ratio_to_anthropic"])
        t.note(f"{r['input_bytes'] / 1e3:.0f} KB at {r['mb_s']:.1f} MB/s (parse "
               f"{r['parse_us']:.0f}, repair {r['repair_us']:.0f}, build {r['build_us']:.0f} us)"
               f" -> {r['kiro_body_bytes'] / 1e3:.0f} KB Kiro body")
    t.note(f"per front end, its streaming emitter on one answer ({emit['thinking_deltas']} "
           f"thinking and {emit['text_deltas']} text deltas, {emit['tool_calls']} tool calls in "
           "fragments) into memory; baseline: Anthropic")
    for name in FRONT_ENDS:
        r = emit[name]
        base = None if name == "anthropic" else emit["anthropic"]["us_per_answer"]
        t.row(f"answer emission, {name}", r["us_per_answer"], "us", base, "anthropic",
              "" if base is None else "<= 1.5x",
              None if base is None else r["ratio_to_anthropic"] <= GOAL_FRONTEND_RATIO,
              fmt="{:.0f}", ratio=None if base is None else r["ratio_to_anthropic"])
        t.note(f"{r['output_bytes'] / 1e3:.0f} KB out at {r['mb_s']:.1f} MB/s, "
               f"{r['answers_per_s']:.0f} answers/s")


def core_pairs_rows(t: Table, pairs: dict) -> None:
    """bench-core's pairs row: the work before the upstream call for many tool pairs."""
    t.note("tool_use/tool_result pairs as a conv: conv_check_limits, then history_repair "
           "and kiro_req_build unless the caps refused it")
    for shape in ("alternating", "one_turn", "at_caps"):
        if shape not in pairs:
            continue
        r = pairs[shape]
        t.row(f"pairs, {shape.replace('_', ' ')} ({r['pairs']} pairs)", r["ms"], "ms",
              fmt="{:.2f}")
        t.note(("refused by the caps" if r["refused"] else "let through, repaired and built")
               + f"; median of {r['rounds']} rounds")


def core_trim_rows(t: Table, trim: dict) -> None:
    """bench-core's trim row: history.maxPayloadBytes on a long session."""
    t.row(f"trim {trim['turns']} turns to {trim['max_bytes'] / 1e3:.0f} KB", trim["ms"], "ms",
          fmt="{:.0f}")
    t.note(f"{trim['untrimmed_bytes'] / 1e6:.1f} MB Kiro body -> {trim['body_bytes'] / 1e3:.0f} KB"
           f" in {trim['builds']} builds, {trim['turns_dropped']} turns dropped (repair + "
           f"history_build_within, median of {trim['rounds']} rounds)"
           + ("; the caps would refuse it" if trim["refused_by_caps"] else "")
           + (f"; FAILED: {trim['error']}" if "error" in trim else ""))


def core_overflow_rows(t: Table, ov: dict) -> None:
    """bench-core's overflow row: history.onOverflow on a 500-turn session."""
    t.row(f"truncate {ov['turns']} turns to a {ov['window'] // 1000}k window", ov["truncate_ms"],
          "ms", ov["estimate_ms"], "1 estimate", "< 2 ms", ov["truncate_ms"] < GOAL_OVERFLOW_MS,
          fmt="{:.2f}")
    t.note(f"about {ov['estimate_before']} -> {ov['estimate_after']} tokens, {ov['dropped']} "
           f"messages dropped (overflow_truncate, the caller's estimate given; median of "
           f"{ov['rounds']} rounds)" + (f"; FAILED: {ov['error']}" if "error" in ov else ""))
    t.row("stored summary lookup, same session", ov["cache_lookup_ms"], "ms", None, "",
          "< 2 ms", ov["cache_lookup_ms"] < GOAL_OVERFLOW_MS and ov["cache_hit"], fmt="{:.2f}")
    t.note("overflow_cache_find (one read transaction) + overflow_take_prefix (the prefix "
           "digested)" + ("" if ov["cache_hit"] else "; MISSED the stored summary"))


def core_preflight_rows(t: Table, pf: dict) -> None:
    """bench-core's preflight row: the pre-flight check against request conversion."""
    for key, label in (("builder", "builder's request"), ("long_session", "long session")):
        p = pf[key]
        t.row(f"pre-flight check, {label}", p["preflight_us"], "us", p["conversion_us"],
              "conversion", "< 10%", p["ratio"] < GOAL_PREFLIGHT_RATIO, fmt="{:.0f}")
        t.note(f"{p['turns']} tool turns, {p['kiro_body_bytes'] / 1e3:.0f} KB Kiro body: "
               f"{p['ratio'] * 100:.1f}% of parse + repair + build, "
               f"{p['preflight_mb_s']:.0f} MB/s of body")


def core_clientkeys_rows(t: Table, k: dict) -> None:
    """bench-core's client keys row: what a request with a client key adds."""
    if "error" in k:
        t.row("client key auth per request", None, "us")
        t.note(f"FAILED: {k['error']}")
        return
    t.row("client key auth per request", k["auth_us"], "us", fmt="{:.0f}")
    t.note(f"hash lookup, limits and count in one unsynced write transaction; with an rpm "
           f"window of {k['window']} requests in 60 seconds {k['auth_full_window_us']:.0f} us; "
           f"tokens added "
           f"after the answer {k['add_tokens_us']:.0f} us; apiKey requests do neither")


def core_modelmap_rows(t: Table, m: dict) -> None:
    """bench-core's modelmap row: what the admin API's modelMap adds to a request."""
    if "error" in m:
        t.row("modelMap check per request", None, "us")
        t.note(f"FAILED: {m['error']}")
        return
    t.row("modelMap check per request", m["sync_ns"] / 1e3, "us", fmt="{:.3f}")
    t.note(f"one read of the shared change counter; resolving a name through "
           f"{m['entries']} globs {m['resolve_us']:.1f} us; the reload after a change "
           f"(one read transaction, once per process) {m['reload_us']:.0f} us")


def core_metrics_rows(t: Table, m: dict) -> None:
    """bench-core's metrics row: prom_record, the Prometheus counters of one request."""
    if "error" in m:
        t.row("metrics record per request", None, "us")
        t.note(f"FAILED: {m['error']}")
        return
    t.row("metrics record per request", m["record_us"], "us", GOAL_CPU_US, "request CPU goal",
          "< 1%", m["record_us"] < GOAL_CPU_US * GOAL_METRICS_SHARE, fmt="{:.2f}")
    t.note(f"2 processes into the same series at once: {m['record_us_2_procs']:.2f} us each; "
           f"request conversion with it {m['conversion_with_record_us']:.0f} us, without "
           f"{m['conversion_us']:.0f} us ({m['ratio']:.3f}x, interleaved rounds)")
    if "page_ms" in m:
        t.row(f"GET /metrics, {m['page_accounts']} accounts", m["page_ms"], "ms", fmt="{:.2f}")
        t.note(f"{m['page_bytes'] / 1e3:.0f} KB, status {m['page_status']}: counters, accounts "
               f"by state and each account's cached quota")
    elif "page_error" in m:
        t.note(f"GET /metrics: FAILED: {m['page_error']}")


def core_estimate_rows(t: Table, est: dict) -> None:
    """bench-core's estimate row: tokens_count_conv against request conversion."""
    for key, label in (("builder", "builder's request"), ("long_session", "long session")):
        e = est[key]
        t.row(f"token estimate, {label}", e["estimate_us"], "us", e["conversion_us"],
              "conversion", "< 10%", e["ratio"] < GOAL_ESTIMATE_RATIO, fmt="{:.0f}")
        t.note(f"{e['turns']} tool turns, {e['tokens']} tokens estimated: "
               f"{e['ratio'] * 100:.1f}% of parse + repair + build, "
               f"{e['estimate_mb_s']:.0f} MB/s of request")


def paced_rows(t: Table, p: dict) -> None:
    t.section(f"responder CPU per small request, fast stub vs paced stub ({p['pace_head_us']} "
              f"us before the headers, {p['pace_gap_us']} us between frames; utime+stime; "
              "baseline: the relay responder)")
    for up, goal_us in (("fast", GOAL_FAST_US), ("paced", GOAL_PACED_US)):
        r = p[f"relay_{up}"]
        for kind in ("nonstream", "stream"):
            k = p[f"kiro_{kind}_{up}"]
            ratio = k["sched_us_per_request"] / r["sched_us_per_request"]
            t.row(f"{kind.replace('nonstream', 'non-stream')}, {up} stub", k["us_per_request"],
                  "us", r["us_per_request"], "relay", f"< {goal_us:.0f} us",
                  k["us_per_request"] < goal_us, fmt="{:.0f}", ratio=ratio)
            t.note(f"N={k['n']}; schedstat kiro {k['sched_us_per_request']:.0f} us, relay "
                   f"{r['sched_us_per_request']:.0f} us (ratio {ratio:.2f}x of schedstat, goal "
                   f"<= 2x); lighttpd {k['lighttpd_us_per_request']:.0f} us (relay run "
                   f"{r['lighttpd_us_per_request']:.0f} us); wall "
                   f"{k['wall_us_per_request']:.0f} us")
        if f"relaykh_{up}" in p:
            kiro_headers_paced_rows(t, p, up)
    d, lg = p["short"], p["long"]
    t.row(f"stream of {lg['events']} events over {lg['wall_s']:.1f} s, per event",
          lg["sched_us_per_event"], "us", d["sched_us_per_event"],
          f"over {d['wall_s']:.1f} s", fmt="{:.1f}")
    if "relay_short" in p:
        rs = p["relay_short"]
        t.row(f"  the {d['wall_s']:.1f} s stream, per event", d["sched_us_per_event"], "us",
              rs["sched_us_per_event"], "relay", fmt="{:.1f}")
    t.row("  the same, per second of stream", p["long_sched_us_per_s"], "us/s", None, "",
          fmt="{:.0f}")
    if "relay_long" in p:
        t.row(f"  beyond the {d['wall_s']:.1f} s stream, per second", p["long_extra_us_per_s"],
              "us/s", p["relay_long_extra_us_per_s"], "relay", "a few us/s",
              fmt="{:.1f}")
        t.note("the relay's long stream per event "
               f"{p['relay_long']['sched_us_per_event']:.1f} us: what sparse events cost "
               "a bare proxy beyond the dense ones is cold caches, not a timer")
    else:
        t.row(f"  beyond the {d['wall_s']:.1f} s stream, per second", p["long_extra_us_per_s"],
              "us/s", None, "", "a few us/s", fmt="{:.1f}")
    t.note(f"schedstat of all responder processes: long {lg['sched_us']:.0f} us, short "
           f"{d['sched_us']:.0f} us (utime+stime {lg['stat_us']:.0f} / {d['stat_us']:.0f} us); "
           f"lighttpd {lg['lighttpd_us']:.0f} / {d['lighttpd_us']:.0f} us")


def kiro_headers_note(sizes: dict) -> str:
    return (f"relay + Kiro's headers: a header block of {sizes['relay_head_bytes']} bytes in "
            f"{sizes['headers']} lines (the gateway's: {sizes['gateway_head_bytes']} bytes); "
            "information, the goals stay against the relay")


def kiro_headers_paced_rows(t: Table, p: dict, up: str) -> None:
    """The relay sending the gateway's headers, and the gateway against it.
    In schedstat, the finer clock: at --quick's N, ticks of 10 ms round
    these small figures to 0."""
    r, kh = p[f"relay_{up}"], p[f"relaykh_{up}"]
    t.row(f"  relay + Kiro's headers, {up} stub (schedstat)", kh["sched_us_per_request"], "us",
          r["sched_us_per_request"], "relay", fmt="{:.0f}")
    for kind in ("nonstream", "stream"):
        k = p[f"kiro_{kind}_{up}"]
        t.row(f"  {kind.replace('nonstream', 'non-stream')}, {up} stub vs relay + headers",
              k["sched_us_per_request"], "us", kh["sched_us_per_request"], "relay+hdrs",
              "(info)", fmt="{:.0f}")
    t.note(kiro_headers_note(p["kiro_headers"]))


def syscalls_rows(t: Table, sc: dict) -> None:
    t.section(f"system calls and state-file locks per request (strace -f, N={sc['n']}, "
              "1 process, 1 thread; baseline: the relay responder)")
    for up in ("fast", "paced"):
        r = sc[f"relay_{up}"]
        for kind in ("nonstream", "stream"):
            k = sc[f"kiro_{kind}_{up}"]
            t.row(f"syscalls, {kind.replace('nonstream', 'non-stream')}, {up} stub",
                  k["per_request"], "", r["per_request"], "relay", fmt="{:.1f}")
            t.note(", ".join(f"{n} {v:.1f}" for n, v in list(k["by_call"].items())[:10]))
        t.note(f"relay ({up}): " + ", ".join(f"{n} {v:.1f}"
                                             for n, v in list(r["by_call"].items())[:8]))
    k = sc["kiro_nonstream_fast"]
    t.row("state-file locks per request", k["store_txns_per_request"], "", None, "",
          "(info)", fmt="{:.2f}")
    t.note("flock calls that take a lock (stream: "
           f"{sc['kiro_stream_fast']['store_txns_per_request']:.2f}): a read that finds "
           "nothing changed takes none; every transaction, locked or not: make bench-insns "
           "(goal <= 2)")
    if "idle_calls_per_s" in sc:
        t.row("syscalls per second, idle", sc["idle_calls_per_s"], "/s", None, "", "0",
              sc["idle_calls_per_s"] < 1.0, fmt="{:.1f}")


def profile_rows(t: Table, p: dict) -> None:
    t.section(f"where one responder process's CPU goes: perf with call graphs, N={p['n']} "
              "small non-stream requests (us: share x CPU per request without perf)")
    fast, paced = p["fast"], p["paced"]
    stream = p.get("paced_stream", {"parts": {}, "us_per_request": 0.0})
    t.row("CPU per request, fast / paced stub", fast["us_per_request"], "us",
          None, "", fmt="{:.0f}")
    t.note(f"paced: {paced['us_per_request']:.0f} us; samples {fast['samples']} / "
           f"{paced['samples']}, in the kernel {fast['kernel_share'] * 100:.0f}% / "
           f"{paced['kernel_share'] * 100:.0f}%")
    for name in fast["parts"]:
        f = fast["parts"][name]
        q = paced["parts"].get(name, {"share": 0.0, "kernel_share": 0.0})
        t.row(f"  {name}", f["share"] * fast["us_per_request"], "us", None, "", fmt="{:.0f}")
        r = stream["parts"].get(name, {"share": 0.0})
        t.note(f"{f['share'] * 100:.1f}% ({f['kernel_share'] * 100:.0f}% of it in the "
               f"kernel); paced {q['share'] * paced['us_per_request']:.0f} us, "
               f"{q['share'] * 100:.1f}%; paced stream "
               f"{r['share'] * stream['us_per_request']:.0f} us")
    if "paced_stream" in p:
        t.note(f"paced stream: {stream['us_per_request']:.0f} us per request")
    for up in ("fast", "paced", "paced_stream"):
        if up not in p:
            continue
        t.note(f"{up}, top symbols by own samples: " + ", ".join(
            f"{r['symbol']} {r['percent']:.1f}%" for r in p[up]["top"][:12]))


def build_table(res: dict) -> str:
    t = Table()
    if "cpu" in res:
        c = res["cpu"]
        t.section(f"responder CPU per request (utime+stime, N={c['n']} sequential)")
        for kind in ("nonstream", "stream"):
            k, s = c[f"kiro_{kind}"], c[f"stub_{kind}"]
            t.row(f"{kind.replace('nonstream', 'non-stream')}", k["us_per_request"], "us",
                  s["us_per_request"], "stub", "< 200 us",
                  k["us_per_request"] < GOAL_CPU_US, fmt="{:.0f}")
            t.note(f"schedstat: kiro {k['sched_us_per_request']:.0f} us, stub "
                   f"{s['sched_us_per_request']:.0f} us; lighttpd {k['lighttpd_us_per_request']:.0f}"
                   f" us (stub run {s['lighttpd_us_per_request']:.0f} us); wall "
                   f"{k['wall_us_per_request']:.0f} us/request")
    if "paced" in res:
        paced_rows(t, res["paced"])
    if "syscalls" in res:
        syscalls_rows(t, res["syscalls"])
    if "profile" in res:
        profile_rows(t, res["profile"])
    if "frontends" in res:
        f = res["frontends"]
        t.section(f"responder CPU per request by front end, same conversation with a tool "
                  f"round trip (schedstat, N={f['n']} each; baseline: Anthropic)")
        for kind in ("nonstream", "stream"):
            base = f[f"anthropic_{kind}"]["us_per_request"]
            for name in FRONT_ENDS:
                r = f[f"{name}_{kind}"]
                label = f"{name} {kind.replace('nonstream', 'non-stream')}"
                if name == "anthropic":
                    t.row(label, r["us_per_request"], "us", None, "", fmt="{:.0f}")
                else:
                    t.row(label, r["us_per_request"], "us", base, "anthropic", "<= 1.5x",
                          r["ratio"] <= GOAL_FRONTEND_RATIO, fmt="{:.0f}", ratio=r["ratio"])
    if "latency" in res:
        lat = res["latency"]
        d = lat["direct"]
        t.section(f"latency, sequential keep-alive, N={lat['n']} (baseline: fast-upstream direct)")
        for key, label in (("gw_nonstream", "non-stream"), ("gw_stream", "stream")):
            g = lat[key]
            for p in ("p50", "p99"):
                t.row(f"{label} total {p}", g[f"total_{p}_ms"], "ms", d[f"total_{p}_ms"],
                      "direct", fmt="{:.3f}")
                t.row(f"{label} added {p}", g[f"added_total_{p}_ms"], "ms", None, "",
                      "< 1 ms", g[f"added_total_{p}_ms"] < GOAL_ADDED_MS, fmt="{:.3f}")
            if key == "gw_stream":
                for p in ("p50", "p99"):
                    t.row(f"stream TTFB {p}", g[f"ttfb_{p}_ms"], "ms", d[f"ttfb_{p}_ms"],
                          "direct", fmt="{:.3f}")
                    t.row(f"stream added TTFB {p}", g[f"added_ttfb_{p}_ms"], "ms", None, "",
                          "< 1 ms", g[f"added_ttfb_{p}_ms"] < GOAL_ADDED_MS, fmt="{:.3f}")
    if "events" in res:
        e = res["events"]
        t.section(f"event forwarding delay, arrival - send ({e['gateway_samples']} events "
                  f"{e['spacing_ms']} ms apart; baseline: direct)")
        for p in ("p50", "p99", "max"):
            g, d = e["gateway"][f"{p}_ms"], e["direct"][f"{p}_ms"]
            t.row(f"event delay {p}", g, "ms", d, "direct", "< 1 ms",
                  g < GOAL_EVENT_MS, fmt="{:.3f}")
    if "throughput" in res:
        th = res["throughput"]
        t.section(f"throughput, wrk {th['seconds']:g} s, lighttpd 2 procs (baseline: stub, "
                  "the ceiling)")
        for conns in (2, 4):
            k, s = th[f"kiro_c{conns}"], th[f"stub_c{conns}"]
            ratio = th[f"ratio_c{conns}"]
            t.row(f"non-stream -c{conns}", k["rps"], "req/s", s["rps"], "stub", ">= 0.70x",
                  ratio >= GOAL_THROUGHPUT_RATIO, fmt="{:.0f}", ratio=ratio)
            t.note("cpu during run: " + ", ".join(
                f"{n} {v * 100:.0f}%" for n, v in k["cpu_share"].items())
                + f"; p50/p99 {k['latency'].get('50', '?')}/{k['latency'].get('99', '?')}")
        if "relay_c2" in th:
            for conns in (2, 4):
                k, r = th[f"kiro_c{conns}"], th[f"relay_c{conns}"]
                ratio = th[f"relay_ratio_c{conns}"]
                t.row(f"non-stream -c{conns} vs relay", k["rps"], "req/s", r["rps"], "relay",
                      ">= 0.70x", ratio >= GOAL_RELAY_THROUGHPUT, fmt="{:.0f}", ratio=ratio)
                cratio = th[f"relay_cpu_ratio_c{conns}"]
                t.row(f"  responder CPU/request -c{conns}", k["responder_us_per_request"], "us",
                      r["responder_us_per_request"], "relay", "<= 2x",
                      cratio <= GOAL_RELAY_CPU, fmt="{:.0f}", ratio=cratio)
                t.note("relay cpu during run: " + ", ".join(
                    f"{n} {v * 100:.0f}%" for n, v in r["cpu_share"].items()))
        if "relaykh_c2" in th:
            for conns in (2, 4):
                k, r, kh = th[f"kiro_c{conns}"], th[f"relay_c{conns}"], th[f"relaykh_c{conns}"]
                t.row(f"non-stream -c{conns} vs relay + Kiro's headers", k["rps"], "req/s",
                      kh["rps"], "relay+hdrs", "(info)", fmt="{:.0f}",
                      ratio=th[f"relaykh_ratio_c{conns}"])
                t.row(f"  responder CPU/request -c{conns}", k["responder_us_per_request"], "us",
                      kh["responder_us_per_request"], "relay+hdrs", "(info)", fmt="{:.0f}",
                      ratio=th[f"relaykh_cpu_ratio_c{conns}"])
                t.note(f"relay + Kiro's headers against the relay: {kh['rps'] / r['rps']:.2f}x "
                       f"req/s, {kh['responder_us_per_request'] / r['responder_us_per_request']:.2f}x"
                       " CPU per request; cpu during run: " + ", ".join(
                           f"{n} {v * 100:.0f}%" for n, v in kh["cpu_share"].items()))
            t.note(kiro_headers_note(th["kiro_headers"]))
        s4 = th["kiro_stream_c4"]
        t.row("stream -c4 (info)", s4["rps"], "req/s", th["stub_c4"]["rps"], "stub",
              fmt="{:.0f}")
    if "rss" in res:
        r = res["rss"]
        t.section("responder RSS (VmRSS per process)")
        idle = r["idle"]
        stub = r.get("stub_idle", {}).get("after_one_request_mb", [])
        for i, mb in enumerate(idle["after_one_request_mb"]):
            t.row(f"idle, process {i + 1} (-t {idle['threads']})", mb, "MB",
                  stub[i] if i < len(stub) else None, "stub", "< 10 MB", mb < GOAL_RSS_MB)
        t.note("right after start: " + ", ".join(f"{v:.1f}" for v in idle["at_start_mb"])
               + " MB; after one request: RssAnon (private heap, stacks) "
               + ", ".join(f"{v:.1f}" for v in idle.get("anon_mb", []))
               + " MB, RssFile (mostly shared libraries) "
               + ", ".join(f"{v:.1f}" for v in idle.get("file_mb", []))
               + " MB, PSS " + ", ".join(f"{v:.1f}" for v in idle.get("pss_mb", [])) + " MB")
        if "streams" in r:
            s = r["streams"]
            sidle = s["idle"]["after_one_request_mb"]
            for i, mb in enumerate(s["peak_mb"]):
                t.row(f"{s['streams']} streams, process {i + 1} (-t {s['threads']})", mb, "MB",
                      sidle[i], "idle -t %d" % s["threads"])
            t.note(f"{s['overlapping']} of {s['streams']} streams open at once; peak RssAnon "
                   + ", ".join(f"{v:.1f}" for v in s.get("peak_anon_mb", [])) + " MB; VmHWM "
                   + ", ".join(f"{v:.1f}" for v in s["hwm_mb"]) + " MB; sum of peaks "
                   f"{s['peak_sum_mb']:.1f} MB")
    if "core" in res:
        c = res["core"]
        dec, b = c["decoder"], c["builder"]
        t.section("bench-core (in process)")
        t.row("decoder + kiro_event_parse", dec["mb_s"], "MB/s", dec["decoder_only_mb_s"],
              "decoder only")
        t.note(f"{dec['stream_bytes'] / 1e6:.1f} MB, {dec['frames']} frames of "
               f"{dec['avg_frame_bytes']:.0f} B avg in {dec['slice_bytes']} B slices: "
               f"{dec['frames_per_s'] / 1e3:.0f}k frames/s, {dec['ns_per_frame']:.0f} ns/frame")
        t.row("request builder", b["mb_s"], "MB/s")
        t.note(f"{b['input_bytes'] / 1e3:.0f} KB Claude Code request + {b['turns']} tool "
               f"turns -> {b['kiro_body_bytes'] / 1e3:.0f} KB Kiro body: "
               f"{b['requests_per_s']:.0f} req/s, {b['us_per_request']:.0f} us (parse "
               f"{b['parse_us']:.0f}, repair {b['repair_us']:.0f}, build {b['build_us']:.0f})")
        if "preflight" in c:
            core_preflight_rows(t, c["preflight"])
        if "metrics" in c:
            core_metrics_rows(t, c["metrics"])
        if "estimate" in c:
            core_estimate_rows(t, c["estimate"])
        if "clientkeys" in c:
            core_clientkeys_rows(t, c["clientkeys"])
        if "modelmap" in c:
            core_modelmap_rows(t, c["modelmap"])
        if "request_conversion" in c:
            core_frontend_rows(t, c)
        for st in c["store"]:
            pr = st["per_request"]
            t.row(f"store txns/request, {st['fs']} p50", pr["p50_us"], "us", fmt="{:.0f}")
            t.note(f"{st['dir']}: mean {pr['mean_us']:.0f} us, p99 {pr['p99_us']:.0f} us; "
                   f"{st.get('txns_per_request', float('nan')):.2f} transactions "
                   "(store_txn_count); "
                   f"pool_pick {st['pool_pick']['p50_us']:.0f}, refresh read "
                   f"{st['refresh_read']['p50_us']:.0f}, pool_report "
                   f"{st['pool_report']['p50_us']:.0f} us (p50)")
        synced = {(p["accounts"], p["mode"]): p for p in c.get("pool", [])
                  if p.get("synced")}
        for p in c.get("pool", []):
            # The synced rows are the baseline: the pick's write fsynced, as
            # before STORE_WRITE_NOSYNC; the unsynced row after them says
            # how much faster it is now.
            how = (", fsync (before)" if p.get("synced") else ", no fsync (now)"
                   if (p["accounts"], p["mode"]) in synced else "")
            t.row(f"pool_pick, {p['accounts']} accounts, {p['mode']}{how} p50",
                  p["pick"]["p50_us"], "us", fmt="{:.0f}")
            note = (f"mean {p['pick']['mean_us']:.0f} us, p99 {p['pick']['p99_us']:.0f} us, "
                    f"{p['txns_per_pick']:.2f} store transactions per pick")
            base = synced.get((p["accounts"], p["mode"]))
            if not p.get("synced") and base is not None and p["pick"]["p50_us"] > 0:
                note += (f"; {base['pick']['p50_us'] / p['pick']['p50_us']:.0f}x faster at p50 "
                         f"than with the fsync ({1e6 / p['pick']['mean_us']:.0f} vs "
                         f"{1e6 / base['pick']['mean_us']:.0f} picks/s by the mean)")
            t.note(note)
        if "flowlog" in c:
            f = c["flowlog"]
            t.row("flowlog_append per record (CPU)", f["us_cpu_per_record"], "us",
                  None, "", "< 20 us", f["us_cpu_per_record"] < GOAL_FLOWLOG_US,
                  fmt="{:.1f}")
            t.note(f"{f['records']} records of {f['record_bytes']} B with 1 MB segments "
                   f"(rotation and pruning included): format {f['format_us']:.1f} us, wall "
                   f"{f['us_wall_per_record']:.1f} us; two processes at once: "
                   + ", ".join(f"{v:.1f}" for v in f["two_procs_us_cpu_per_record"])
                   + " us each")
        if "pairs" in c:
            core_pairs_rows(t, c["pairs"])
        if "trim" in c:
            core_trim_rows(t, c["trim"])
        if "overflow" in c:
            core_overflow_rows(t, c["overflow"])
    if "flows" in res:
        f = res["flows"]
        t.section(f"request log: responder CPU per request (schedstat, N={f['n']}, "
                  "1 process; baseline: flowLog.enabled false)")
        t.row("non-stream, flowLog on", f["on_us_per_request"], "us",
              f["off_us_per_request"], "log off", "+ < 20 us",
              f["added_us"] < GOAL_FLOWLOG_US, fmt="{:.0f}")
        t.note(f"{f['added_us']:+.1f} us per request, {f['ratio']:.3f}x; "
               f"{f['records']} records written")
    if "console" in res:
        f = res["console"]
        t.section(f"operator's console: responder CPU per request (schedstat, N={f['n']}, "
                  "1 process; baseline: flowLog.enabled and metricsEnabled false)")
        t.row("non-stream, flows + metrics on", f["on_us_per_request"], "us",
              f["off_us_per_request"], "both off", "< 1.1x",
              f["ratio"] is not None and f["ratio"] < GOAL_CONSOLE_RATIO, fmt="{:.0f}")
        t.note(f"{f['added_us']:+.1f} us per request, {f['ratio']:.3f}x; "
               f"{f['records']} records written; stats cost a request nothing (read "
               "from the log when asked)")
    return t.render()


# --- Main ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--quick", action="store_true", help="short runs (trying it out)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS + EXTRA_SECTIONS,
                        help="run these sections")
    parser.add_argument("--state-parent", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the gateway's state directory goes (default: %(default)s;"
                             " try /dev/shm to take the disk's fsync out)")
    args = parser.parse_args()
    only = set(args.only or SECTIONS)
    quick = args.quick
    plan = {"cpu_n": 200 if quick else 1000, "lat_n": 100 if quick else 500,
            "lat_warm": 20 if quick else 50, "events_k": 50 if quick else 100,
            "events_runs": 1 if quick else 2, "wrk_s": 3.0 if quick else 10.0,
            "wrk_warm": 1.0 if quick else 2.0, "core_s": 0.3 if quick else 1.0,
            "paced_n": 120 if quick else 300, "long_events": 100 if quick else 300,
            "long_gap_us": 50000 if quick else 100000, "sys_n": 30 if quick else 100,
            "prof_n": 500 if quick else 3000}

    results: dict = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                     "host": {"cpus": os.cpu_count(), "kernel": platform.release(),
                              "python": platform.python_version()},
                     "plan": plan, "failed": {}}
    failed = results["failed"]
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="kiro-bench-"))
    neighbours = ForeignLoad().start()

    def attempt(name: str, fn):
        if name.split(".")[0] not in only:
            return None
        try:
            return fn()
        except Exception as exc:            # noqa: BLE001 - reported, the others go on
            failed[name] = str(exc)
            log(f"{name} FAILED: {exc}")
            if not isinstance(exc, (BenchError, harness.HarnessError)):
                traceback.print_exc()
            return None

    try:
        with contextlib.ExitStack() as stack:
            upstream = stack.enter_context(FastUpstream())
            need_servers = only & {"cpu", "paced", "frontends", "latency", "events",
                                   "throughput", "rss"}
            stub = gw = relay = None
            if only & {"paced", "throughput"}:
                relay = stack.enter_context(RelayServer(upstream, procs=2, threads=4))
            if need_servers:
                stub = stack.enter_context(StubServer(procs=2))
                gw = stack.enter_context(KiroGateway(upstream, procs=2, threads=4,
                                                     state_parent=args.state_parent))
                results["state_dir_fs"] = fs_type(gw.state_dir)
                # Idle RSS first, before the other sections touch more memory.
                idle = attempt("rss.idle", lambda: idle_rss(gw))
                stub_idle = attempt("rss.stub", lambda: stub_idle_rss(stub))
                if idle is not None:
                    results["rss"] = {"idle": idle, "stub_idle": stub_idle or {}}
            kh_box: dict = {}

            def relay_kh() -> RelayServer:
                # Started on first use, by the section that needs it: a
                # header block that does not match fails that section.
                if "server" not in kh_box:
                    kh_box["server"] = kiro_headers_relay(gw, upstream, tmp)
                    stack.callback(kh_box["server"].__exit__)
                return kh_box["server"]

            for name, fn in (
                ("cpu", lambda: section_cpu(gw, stub, plan["cpu_n"])),
                ("paced", lambda: section_paced(gw, relay, plan["cpu_n"], plan["paced_n"],
                                                plan["long_events"], plan["long_gap_us"],
                                                relay_kh)),
                ("syscalls", lambda: section_syscalls(upstream, plan["sys_n"],
                                                      args.state_parent, tmp)),
                ("profile", lambda: section_profile(upstream, plan["prof_n"],
                                                    args.state_parent, tmp)),
                ("frontends", lambda: section_frontends(gw, plan["cpu_n"])),
                ("latency", lambda: section_latency(gw, upstream, plan["lat_n"],
                                                    plan["lat_warm"])),
                ("events", lambda: section_events(gw, upstream, plan["events_k"],
                                                  plan["events_runs"])),
                ("throughput", lambda: section_throughput(gw, stub, relay, upstream, plan["wrk_s"],
                                                          plan["wrk_warm"], tmp, relay_kh)),
            ):
                value = attempt(name, fn)
                if value is not None:
                    results[name] = value
            streams = attempt("rss.streams", lambda: section_rss_streams(
                upstream, streams=50, procs=2, threads=25, events=20, delay_ms=100,
                state_parent=args.state_parent))
            if streams is not None:
                results.setdefault("rss", {"idle": {"after_one_request_mb": [],
                                                    "at_start_mb": [], "threads": 4}})
                results["rss"]["streams"] = streams
            flows = attempt("flows", lambda: section_flows(upstream, plan["cpu_n"],
                                                           args.state_parent))
            if flows is not None:
                results["flows"] = flows
            console = attempt("console", lambda: section_console(upstream, plan["cpu_n"],
                                                                 args.state_parent))
            if console is not None:
                results["console"] = console
            core = attempt("core", lambda: section_core(plan["core_s"], args.state_parent))
            if core is not None:
                results["core"] = core
    except Exception as exc:                # noqa: BLE001
        failed["setup"] = str(exc)
        log(f"setup FAILED: {exc}")
        if not isinstance(exc, (BenchError, harness.HarnessError)):
            traceback.print_exc()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        results["foreign_load"] = neighbours.stop()
    results["elapsed_s"] = time.monotonic() - started

    print()
    print(f"kiro-fcgi benchmarks, {results['when']}, {os.cpu_count()} CPUs, "
          f"state dir on {results.get('state_dir_fs', '?')}, {results['elapsed_s']:.0f} s")
    load = results["foreign_load"]
    if load["cpu_share"] > 0.05:
        print(f"WARNING: other processes used {load['cpu_share'] * 100:.0f}% of one CPU "
              f"(of {load['cpus'] * 100}%) during the run: "
              + ", ".join(f"{n} {v * 100:.0f}%" for n, v in load["top"].items())
              + "; the figures are skewed")
    try:
        print(build_table(results))
    except Exception:                       # noqa: BLE001 - partial results
        traceback.print_exc()
        failed.setdefault("table", "could not format the table (see the JSON)")
    if failed:
        print("\nfailed to run: " + "; ".join(f"{k}: {v.splitlines()[0] if v else v}"
                                            for k, v in failed.items()))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nresults: {args.json.resolve()}")
    return 1 if failed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
