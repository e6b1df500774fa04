#!/usr/bin/python3
"""kiro-fcgi soak: a mixed load for a set time, and the responders' memory.

Issue 8, item 15 ("memory grows under a mixed load").  Two responder
processes (-t 4 each) behind lighttpd (tests/integration/harness.py, the
shipped config) relay to tests/bench/fast-upstream on loopback, with four
accounts.  --clients threads (default 16, at most 64) send requests in a
fixed rotation until --seconds (default 60, at most 3600) have passed:

  plain        a non-streamed answer: Anthropic, OpenAI Chat, Gemini
  streamed     a streamed answer: Anthropic, OpenAI Chat, OpenAI Responses,
               Gemini
  leave        a streamed answer of 200 events 1 ms apart that the client
               leaves after the first bytes (the gateway must notice and
               stop the upstream transfer)
  broken       broken JSON (400 from the gateway, no upstream call)
  cut          fast-upstream closes the answer after 2 frames
               ("bench-cut=2"): an in-stream error, streamed and not
  throttle     fast-upstream sends ThrottlingException after 2 frames
               ("bench-throttle=2"), streamed and not

Every request opens a new conversation (its prompt carries a counter), as
real clients do, so each has its own session and sticky record in the state
file; expired ones are pruned once a minute, and that is the work whose
memory the responders kept (tests/bench/README.md, "Soak", has the figures).

Memory: VmRSS and RssAnon (the private heap and stacks) of the responder
processes, summed, at start (after one request each), after the warm-up
(--warmup seconds, default a sixth of the run), every --every seconds and
at the end, with the growth after the warm-up per request ("bytes per
request"): a bounded cache settles during the warm-up, a leak or an
allocator that keeps what it was given grows with the count.  --maps names
the mappings whose anonymous memory grew (a glibc arena is a 64 MB-aligned
anonymous mapping, the main heap is [heap]).  The state file's size is
printed too.  To look inside, SOAK_WRAP wraps each responder, e.g.
SOAK_WRAP="heaptrack -o /tmp/ht.%p" (%p: the wrapper's pid) or
SOAK_WRAP="env GLIBC_TUNABLES=glibc.malloc.arena_max=1"; valgrind works
too (TRACEME=valgrind, as in the integration tests) with a short run.

Figures are printed, never asserted.  Exit status 0 unless something failed
to run (a missing program, a server that does not start, a request kind
that never succeeded) or a request was answered with an unexpected status.

Environment as for tests/bench/run-bench.py (`make soak` sets it):
KIRO_FCGI, KIRO_SRCDIR, KIRO_BUILDDIR, FAST_UPSTREAM.  By hand:

    KIRO_BUILDDIR=/path/to/build /usr/bin/python3 tests/soak/run-soak.py --seconds 60
    make soak SOAK_FLAGS="--seconds 240 --clients 16"
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import shlex
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("run_bench", HERE.parent / "bench" / "run-bench.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

MAX_CLIENTS = 64
MAX_SECONDS = 3600
REQUEST_TIMEOUT = 30.0
N_ACCOUNTS = 4
KEY = bench.API_KEY
MOUNT = bench.MOUNT

ANTHROPIC = ("/v1/messages", {"Content-Type": "application/json", "x-api-key": KEY,
                              "anthropic-version": "2023-06-01"})
OPENAI = ("/v1/chat/completions", {"Content-Type": "application/json",
                                   "Authorization": "Bearer " + KEY})
RESPONSES = ("/v1/responses", {"Content-Type": "application/json",
                               "Authorization": "Bearer " + KEY})
GEMINI_HEADERS = {"Content-Type": "application/json", "x-goog-api-key": KEY}


def anthropic(prompt: str, stream: bool) -> tuple[str, dict, bytes]:
    return (ANTHROPIC[0], ANTHROPIC[1], json.dumps({
        "model": bench.MODEL, "max_tokens": 256, "stream": stream,
        "messages": [{"role": "user", "content": prompt}]}).encode())


def openai_chat(prompt: str, stream: bool) -> tuple[str, dict, bytes]:
    return (OPENAI[0], OPENAI[1], json.dumps({
        "model": bench.MODEL, "stream": stream,
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": prompt}]}).encode())


def responses(prompt: str, stream: bool) -> tuple[str, dict, bytes]:
    return (RESPONSES[0], RESPONSES[1], json.dumps({
        "model": bench.MODEL, "stream": stream, "input": prompt}).encode())


def gemini(prompt: str, stream: bool) -> tuple[str, dict, bytes]:
    verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return (f"/v1beta/models/{bench.MODEL}:{verb}", GEMINI_HEADERS, json.dumps({
        "contents": [{"role": "user", "parts": [{"text": prompt}]}]}).encode())


# Each kind: (name, request, statuses it may get).  A cut or throttled
# stream has sent its first byte (200, then an in-stream error); a
# non-streamed one is answered with an error status; 429 when every
# account cools down after throttling.
PLAIN_STREAMED = [
    ("plain", anthropic("Say hello (#N#).", False), {200}),
    ("plain", openai_chat("Say hello (#N#).", False), {200}),
    ("plain", gemini("Say hello (#N#).", False), {200}),
    ("streamed", anthropic("Say hello (#N#).", True), {200}),
    ("streamed", openai_chat("Say hello (#N#).", True), {200}),
    ("streamed", responses("Say hello (#N#).", True), {200}),
    ("streamed", gemini("Say hello (#N#).", True), {200}),
]
KINDS = PLAIN_STREAMED * 8 + [
    ("leave", anthropic("bench-events=200 bench-delay-ms=1 Go on (#N#).", True), None),
    ("leave", openai_chat("bench-events=200 bench-delay-ms=1 Go on (#N#).", True), None),
    ("broken", (ANTHROPIC[0], ANTHROPIC[1], b'{"model":"x","messages":[{"role":'), {400}),
    ("broken", (OPENAI[0], OPENAI[1], b'{"model": "x", "messages": [}'), {400}),
    ("cut", anthropic("bench-cut=2 Go on (#N#).", True), {200}),
    ("cut", openai_chat("bench-cut=2 Go on (#N#).", False), {502, 503, 429}),
    ("throttle", anthropic("bench-throttle=2 Go on (#N#).", True), {200, 429}),
    ("throttle", gemini("bench-throttle=2 Go on (#N#).", False), {429, 503}),
]


ALL_KINDS = list(dict.fromkeys(k for k, _, _ in KINDS))


class SoakGateway(bench.KiroGateway):
    """bench.KiroGateway with N_ACCOUNTS accounts, so that a throttled one
    cooling down does not stop the others."""

    def __enter__(self) -> "SoakGateway":
        creds = self.dir / "credentials.json"
        creds.write_text(json.dumps([{
            "refreshToken": f"aor{i}" + "R" * 150, "accessToken": f"aoa-soak-{i}-" + "A" * 40,
            "expiresAt": "2099-01-01T00:00:00Z", "authMethod": "social",
            "email": f"soak{i}@example.com"} for i in range(N_ACCOUNTS)]))
        creds.chmod(0o600)
        config = self.dir / "config.json"
        config.write_text(json.dumps({
            "apiKey": KEY, "stateDir": str(self.dir / "state"),
            "credentialsFile": str(creds), "apiBaseUrl": self.upstream.url,
            "authBaseUrl": self.upstream.url, "oidcBaseUrl": self.upstream.url,
            "region": "us-east-1", "logLevel": "warn"}, indent=2))
        self.dir.chmod(0o700)
        self.srv = bench.Lighttpd(self.responder(), ["-t", str(self.threads)],
                                  env={"KIRO_FCGI_CONFIG": str(config)}, mount=MOUNT,
                                  procs=self.procs)
        try:
            self.srv.start()
            self.pids = self.wait_responders()
        except BaseException:
            self.__exit__()
            raise
        return self

    def responder(self) -> Path:
        """kiro-fcgi, or a script that runs it under SOAK_WRAP (e.g. heaptrack)."""
        wrap = os.environ.get("SOAK_WRAP", "")
        if not wrap:
            return bench.KIRO_FCGI
        script = self.dir / "wrapped-kiro-fcgi"
        script.write_text(f"#!/bin/sh\nexec {wrap.replace('%p', '$$')} "
                          f"{shlex.quote(str(bench.KIRO_FCGI))} \"$@\"\n")
        script.chmod(0o755)
        return script

    def responder_pids(self) -> list[int]:
        """The responder processes: kiro-fcgi itself, whatever wraps it."""
        target = os.path.realpath(bench.KIRO_FCGI)
        found = []
        for pid in bench.harness._related_processes(self.srv.proc.pid, self.srv.proc.pid):
            try:
                exe = os.path.realpath(f"/proc/{pid}/exe")
                if exe == target or (os.path.basename(exe).startswith("memcheck") and
                                     target.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()):
                    found.append(pid)
            except OSError:
                pass
        return sorted(found)

    def wait_responders(self) -> list[int]:
        deadline = time.monotonic() + 60
        while len(pids := self.responder_pids()) < self.procs:
            if time.monotonic() > deadline:
                raise bench.BenchError(f"{len(pids)} of {self.procs} responders running\n"
                                       + self.srv.error_log()[-3000:])
            time.sleep(0.05)
        return pids


def leave_early(port: int, target: str, headers: dict, body: bytes) -> int:
    """Sends a streamed request, reads the first bytes, and hangs up."""
    with socket.create_connection(("127.0.0.1", port), REQUEST_TIMEOUT) as sock:
        head = [f"POST {target} HTTP/1.1", f"Host: 127.0.0.1:{port}",
                f"Content-Length: {len(body)}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            more = sock.recv(4096)
            if not more:
                break
            data += more
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = collections.Counter()     # (kind, status) -> n
        self.bad: list[str] = []
        self.total = 0
        self.seconds = collections.Counter()   # kind -> time spent

    def add(self, kind: str, status: int, allowed, detail: str = "",
            seconds: float = 0.0) -> None:
        with self.lock:
            self.count[(kind, status)] += 1
            self.seconds[kind] += seconds
            self.total += 1
            if allowed is not None and status not in allowed and len(self.bad) < 20:
                self.bad.append(f"{kind}: HTTP {status} {detail[:200]}")


def client_loop(port: int, client_id: int, stop_at: float, tally: Tally) -> None:
    conn = bench.Client(port, REQUEST_TIMEOUT)
    i = client_id * 5
    while time.monotonic() < stop_at:
        kind, (path, headers, body), allowed = KINDS[i % len(KINDS)]
        i += 1
        # A new conversation each time, as real clients make them: each
        # has its own session (sticky record) and upstream conversation.
        body = body.replace(b"#N#", f"{client_id}-{i}".encode())
        t = time.monotonic()
        try:
            if kind == "leave":
                status = leave_early(port, MOUNT + path, headers, body)
                tally.add(kind, status, allowed, "", time.monotonic() - t)
                continue
            reply = conn.request("POST", MOUNT + path, body, headers)
            tally.add(kind, reply.status, allowed, reply.body.decode("utf-8", "replace"),
                      time.monotonic() - t)
        except Exception as exc:            # noqa: BLE001 - counted as status 0
            conn.close()
            tally.add(kind, 0, allowed, f"{type(exc).__name__}: {exc}", time.monotonic() - t)
    conn.close()


def anon_by_mapping(pid: int) -> dict[str, int]:
    """Anonymous kB per mapping of pid (/proc/<pid>/smaps), keyed by its
    address range and name ("[heap]", "[stack]", a library, or nothing)."""
    out: dict[str, int] = {}
    key = ""
    try:
        text = Path(f"/proc/{pid}/smaps").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        first = line.split(None, 1)[0]
        if "-" in first and not first.endswith(":"):
            parts = line.split()
            # The start address: an arena or the heap grows at its end.
            key = f"{parts[0].split('-')[0]} {parts[5] if len(parts) > 5 else '(anon)'}"
        elif first == "Anonymous:":
            out[key] = out.get(key, 0) + int(line.split()[1])
    return out


def mapping_growth(before: dict[int, dict[str, int]], pids: list[int], top: int = 6) -> list[str]:
    """The mappings whose anonymous memory grew most since before."""
    rows = []
    for pid in pids:
        now = anon_by_mapping(pid)
        for key, kb in now.items():
            grew = kb - before.get(pid, {}).get(key, 0)
            if grew > 0:
                rows.append((grew, f"pid {pid} {key}: +{grew} kB (now {kb} kB)"))
    return [r for _, r in sorted(rows, reverse=True)[:top]]


def state_kb(gw: SoakGateway) -> int:
    try:
        return (gw.state_dir / "kiro.db").stat().st_size // 1024
    except OSError:
        return 0


def memory(pids: list[int]) -> tuple[float, float]:
    """Sum of VmRSS and of RssAnon over pids, in MB."""
    return (sum(bench.rss_mb(pids).values()), sum(bench.rss_mb(pids, "RssAnon").values()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds before the warm-up figure (default: a sixth of the run)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--threads", type=int, default=4, help="accept threads per responder")
    ap.add_argument("--every", type=float, default=10.0, help="print memory every N s")
    ap.add_argument("--only", default="",
                    help="comma-separated kinds to send (default: all): " + ",".join(ALL_KINDS))
    ap.add_argument("--maps", action="store_true",
                    help="print the mappings whose anonymous memory grew after warm-up")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    only = [k for k in args.only.split(",") if k]
    if any(k not in ALL_KINDS for k in only):
        ap.error(f"--only: kinds are {','.join(ALL_KINDS)}")
    if only:
        KINDS[:] = [k for k in KINDS if k[0] in only]
    if not 1 <= args.clients <= MAX_CLIENTS:
        ap.error(f"--clients: 1..{MAX_CLIENTS}")
    if not 1 <= args.seconds <= MAX_SECONDS:
        ap.error(f"--seconds: 1..{MAX_SECONDS}")
    warmup = args.seconds / 6 if args.warmup is None else args.warmup
    if not 0 <= warmup < args.seconds:
        ap.error("--warmup: 0 up to --seconds")

    with bench.FastUpstream() as upstream, \
            SoakGateway(upstream, procs=2, threads=args.threads,
                        state_parent=Path(tempfile.gettempdir())) as gw:
        bench.one_request_each(gw, gw.pids, MOUNT + ANTHROPIC[0],
                               bench.anthropic_body("bench-events=2 bench-delay-ms=150 Hi",
                                                    True), ANTHROPIC[1])
        time.sleep(0.2)
        start_mem = memory(gw.pids)
        bench.log(f"soak: {args.clients} clients, {args.seconds:.0f} s, responders "
                  f"{gw.pids}; at start VmRSS {start_mem[0]:.1f} MB, RssAnon "
                  f"{start_mem[1]:.1f} MB (both processes)")
        tally = Tally()
        t0 = time.monotonic()
        stop_at = t0 + args.seconds
        threads = [threading.Thread(target=client_loop, args=(gw.srv.port, n, stop_at, tally),
                                    daemon=True) for n in range(args.clients)]
        for t in threads:
            t.start()
        samples = []
        warm_mem = warm_count = warm_maps = None
        warm_db_kb = 0
        next_print = t0 + min(args.every, warmup) if warmup > 0 else t0
        while any(t.is_alive() for t in threads):
            time.sleep(0.2)
            now = time.monotonic()
            if warm_mem is None and now >= t0 + warmup:
                warm_mem, warm_count = memory(gw.pids), tally.total
                warm_maps = {p: anon_by_mapping(p) for p in gw.pids}
                warm_db_kb = state_kb(gw)
                bench.log(f"after warm-up ({warmup:.0f} s, {warm_count} requests): VmRSS "
                          f"{warm_mem[0]:.1f} MB, RssAnon {warm_mem[1]:.1f} MB")
            if now >= next_print and now < stop_at:
                mem = memory(gw.pids)
                samples.append({"s": round(now - t0, 1), "requests": tally.total,
                                "rss_mb": mem[0], "anon_mb": mem[1]})
                bench.log(f"{now - t0:5.0f} s {tally.total:7d} requests: VmRSS "
                          f"{mem[0]:.1f} MB, RssAnon {mem[1]:.1f} MB")
                next_print = now + args.every
        for t in threads:
            t.join(REQUEST_TIMEOUT)
        elapsed = time.monotonic() - t0
        time.sleep(0.5)
        end_mem = memory(gw.pids)
        db_kb = state_kb(gw)
        if args.maps and warm_mem is not None:
            print("anonymous memory that grew after warm-up, by mapping:")
            for row in mapping_growth(warm_maps, gw.pids):
                print("  " + row)
        alive = [p for p in gw.pids if os.path.exists(f"/proc/{p}")]
        now_pids = gw.responder_pids()

    total = tally.total
    after = total - (warm_count or 0)
    per_req = ((end_mem[1] - warm_mem[1]) * 1048576 / after) if warm_mem and after else float("nan")
    per_req_rss = ((end_mem[0] - warm_mem[0]) * 1048576 / after) if warm_mem and after else float("nan")
    print(f"soak: {total} requests in {elapsed:.0f} s ({total / elapsed:.0f}/s), "
          f"{args.clients} clients, 2 responders x {args.threads} threads")
    for kind in dict.fromkeys(k for k, _, _ in KINDS):
        statuses = sorted((s, n) for (k, s), n in tally.count.items() if k == kind)
        n_kind = sum(n for _, n in statuses)
        print(f"  {kind:9s} " + ", ".join(f"{s or 'error'}: {n}" for s, n in statuses)
              + (f"  (mean {tally.seconds[kind] / n_kind * 1000:.1f} ms)" if n_kind else ""))
    print("responders (sum of 2)       VmRSS      RssAnon")
    print(f"  at start               {start_mem[0]:7.1f} MB  {start_mem[1]:7.1f} MB")
    if warm_mem:
        print(f"  after warm-up          {warm_mem[0]:7.1f} MB  {warm_mem[1]:7.1f} MB"
              f"   ({warm_count} requests, {warmup:.0f} s)")
    print(f"  at end                 {end_mem[0]:7.1f} MB  {end_mem[1]:7.1f} MB")
    print(f"  growth after warm-up   {per_req_rss:7.1f} B/request  {per_req:7.1f} B/request"
          f"   ({after} requests)")
    print(f"state file: {warm_db_kb} kB after warm-up, {db_kb} kB at end")
    problems = []
    if sorted(alive) != sorted(gw.pids) or sorted(now_pids) != sorted(gw.pids):
        problems.append(f"responder processes changed during the run: {gw.pids} -> {now_pids}")
    for kind in dict.fromkeys(k for k, _, _ in KINDS):
        if not any(n for (k, s), n in tally.count.items() if k == kind and s):
            problems.append(f"no {kind} request was answered")
    problems += tally.bad
    # TRACEME=valgrind: what the harness found in the responders' logs.
    problems += [f"valgrind: {p}" for p in getattr(gw.srv, "_trace_problems", [])]
    if args.json:
        args.json.write_text(json.dumps({
            "seconds": elapsed, "clients": args.clients, "requests": total,
            "by_kind": {f"{k} {s}": n for (k, s), n in tally.count.items()},
            "start": start_mem, "warm": warm_mem, "warm_requests": warm_count,
            "end": end_mem, "bytes_per_request_anon": per_req,
            "state_kb": {"warm": warm_db_kb, "end": db_kb},
            "bytes_per_request_rss": per_req_rss, "samples": samples,
            "problems": problems}, indent=2))
    for p in problems:
        print(f"soak: PROBLEM: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
