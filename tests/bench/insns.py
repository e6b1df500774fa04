#!/usr/bin/python3
"""Instructions per small request of kiro-fcgi, by function (callgrind): a figure noise cannot move.

`make bench-insns` (or: KIRO_FCGI=... FAST_UPSTREAM=... python3 tests/bench/insns.py).
The responder (1 thread) runs directly on a Unix socket, no web server,
under valgrind --tool=callgrind, against tests/bench/fast-upstream with one
social account, and serves a small /v1/messages request (--stream: streamed)
N1 times, then in a second run N2 times.  The difference of the two runs,
divided by N2 - N1, is the cost of one request with start-up and exit
cancelled out: in total and for the functions that cost the most, inclusive
(with what they call) and self.  Instruction counts are the same from run
to run within about 1%, also on a loaded machine, which CPU times are not:
measure a cut with this, and its time with `make bench`.

--relay measures tests/bench/relay-responder (1 thread, the baseline of
issue 13) the same way, serving the same request against the same stub;
--relay --kiro-headers gives it (-H) the request headers kiro-fcgi sends
to Kiro, captured from one request of kiro-fcgi run without callgrind and
checked against one of the relay's (tests/bench/kiroheaders.py: the header
blocks must be the same size within a few bytes, or it stops).  The three
figures side by side: what a bare relay costs, what libcurl's formatting
of Kiro's headers adds to it, and the gateway.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRCDIR = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(SRCDIR / "tests" / "integration"))

from fcgiclient import read_answer, request_bytes  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kiroheaders  # noqa: E402

API_KEY = "sk-insns-" + "k" * 30
LINE = re.compile(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S.*)$")


def build_path(env: str, rel: str) -> Path:
    if env in os.environ:
        return Path(os.environ[env])
    return Path(os.environ.get("KIRO_BUILDDIR", ".")) / rel


def start_upstream(tmp: Path) -> tuple[subprocess.Popen, str]:
    port_file = tmp / "port"
    proc = subprocess.Popen([str(build_path("FAST_UPSTREAM", "tests/bench/fast-upstream")),
                             "-p", "0", "-f", str(port_file), "-C", str(tmp / "head")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("insns: fast-upstream did not start")
        time.sleep(0.01)
    return proc, f"http://127.0.0.1:{int(port_file.read_text())}"


def write_config(tmp: Path, url: str) -> Path:
    creds = tmp / "credentials.json"
    creds.write_text(json.dumps([{
        "refreshToken": "aor" + "R" * 150, "accessToken": "aoa-bench-" + "A" * 40,
        "expiresAt": "2099-01-01T00:00:00Z", "authMethod": "social",
        "email": "bench@example.com"}]))
    creds.chmod(0o600)
    config = tmp / "config.json"
    config.write_text(json.dumps({
        "apiKey": API_KEY, "stateDir": str(tmp / "state"), "credentialsFile": str(creds),
        "apiBaseUrl": url, "authBaseUrl": url, "oidcBaseUrl": url, "region": "us-east-1"}))
    return config


def serve(tmp: Path, argv: list[str], env: dict, raw: bytes, n: int,
          callgrind: bool = True) -> Path:
    """n requests to one responder (argv), under callgrind unless told not
    to; its output file."""
    sock, out = str(tmp / f"sock{n}"), tmp / f"callgrind.{n}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(sock)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(sock)
    listener.listen(8)
    if callgrind:
        argv = ["valgrind", "--tool=callgrind", "--vgdb=no", f"--callgrind-out-file={out}", *argv]
    proc = subprocess.Popen(argv, stdin=listener.fileno(), env=env, stdout=subprocess.DEVNULL,
                            stderr=open(tmp / f"stderr.{n}", "wb"))
    listener.close()
    done, deadline = 0, time.monotonic() + 120
    while done < n:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(60)
        try:
            s.connect(sock)
            s.sendall(raw)
            answer = read_answer(s)
            if b"Status: 200" not in answer:
                raise SystemExit(f"insns: the responder answered {answer[:300]!r}")
            done += 1
        except (OSError, AssertionError):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("insns: the responder under callgrind did not answer: "
                                 + (tmp / f"stderr.{n}").read_text(errors="replace")[-2000:])
            time.sleep(0.1)
        finally:
            s.close()
    proc.send_signal(signal.SIGTERM)
    proc.wait(120)
    return out


def capture_head(tmp: Path, argv: list[str], env: dict, raw: bytes) -> bytes:
    """The head of the upstream request one request to the responder makes
    (fast-upstream -C), the responder run without callgrind."""
    head = tmp / "head"
    head.unlink(missing_ok=True)
    serve(tmp, argv, env, raw, 1, callgrind=False)
    if not head.exists():
        raise SystemExit(f"insns: fast-upstream captured no request head from {argv[0]}")
    return head.read_bytes()


def annotate(path: Path, inclusive: bool) -> tuple[int, dict[str, int]]:
    """(program total, {function: instructions}) from callgrind_annotate."""
    args = ["callgrind_annotate", "--tree=none", "--threshold=100", str(path)]
    if inclusive:
        args.insert(1, "--inclusive=yes")
    text = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    total, funcs = 0, {}
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        name = m.group(2).strip()
        if name.startswith("PROGRAM TOTALS"):
            total = int(m.group(1).replace(",", ""))
        elif not name.startswith("=>") and name != "events annotated":
            funcs[name] = int(m.group(1).replace(",", ""))
    return total, funcs


CALLER = re.compile(r"\s*[\d,]+\s+\(\s*[\d.]+%\)\s+<\s+.*\(([\d,]+)x\)")


def calls_to(path: Path, function: str) -> int:
    """How many times function was called in the run (its callers' counts)."""
    text = subprocess.run(["callgrind_annotate", "--tree=caller", str(path)],
                          capture_output=True, text=True, check=True).stdout
    calls = 0
    for block in text.split("\n\n"):
        lines = block.splitlines()
        if not any(f":{function} [" in line and "*  " in line for line in lines):
            continue
        for line in lines:
            m = CALLER.match(line)
            if m:
                calls += int(m.group(1).replace(",", ""))
    return calls


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stream", action="store_true", help="a streamed request")
    ap.add_argument("--top", type=int, default=30, help="functions listed (default 30)")
    ap.add_argument("--n1", type=int, default=30)
    ap.add_argument("--n2", type=int, default=230)
    ap.add_argument("--relay", action="store_true",
                    help="tests/bench/relay-responder instead of kiro-fcgi")
    ap.add_argument("--kiro-headers", action="store_true",
                    help="with --relay: send the request headers kiro-fcgi sends (-H)")
    args = ap.parse_args()
    if args.kiro_headers and not args.relay:
        ap.error("--kiro-headers goes with --relay")
    if not 0 < args.n1 < args.n2 <= 100000:
        ap.error("need 0 < --n1 < --n2 <= 100000")
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        raise SystemExit("insns: valgrind is needed: apt-get install valgrind")
    tmp = Path(tempfile.mkdtemp(prefix="kiro-insns-"))
    tmp.chmod(0o700)
    upstream, url = start_upstream(tmp)
    try:
        config = write_config(tmp, url)
        body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 64,
                           "stream": args.stream, "messages": [
                               {"role": "user", "content": "Say hello in five words."}]})
        headers = {"HTTP_X_API_KEY": API_KEY, "HTTP_ANTHROPIC_VERSION": "2023-06-01"}
        raw = request_bytes("POST", "/v1/messages", body.encode(), headers)
        gw_argv = [str(build_path("KIRO_FCGI", "fcgi/kiro-fcgi")), "-t", "1"]
        gw_env = dict(os.environ, KIRO_FCGI_CONFIG=str(config), GNUTLS_NO_IMPLICIT_INIT="1")
        argv, env, who = gw_argv, gw_env, "kiro-fcgi"
        if args.relay:
            argv = [str(build_path("RELAY_FCGI", "tests/bench/relay-responder")),
                    "-t", "1", "-u", url]
            env, who = dict(os.environ), "relay-responder"
        if args.kiro_headers:
            marked = json.loads(body)
            marked["messages"][0]["content"] += " " + kiroheaders.CAPTURE_MARKER
            marked_raw = request_bytes("POST", "/v1/messages", json.dumps(marked).encode(),
                                       headers)
            gw_head = capture_head(tmp, gw_argv, gw_env, marked_raw)
            count = kiroheaders.write_header_file(gw_head, tmp / "kiro-headers")
            argv += ["-H", str(tmp / "kiro-headers")]
            try:
                sizes = kiroheaders.check_sizes(gw_head, capture_head(tmp, argv, env,
                                                                      marked_raw))
            except kiroheaders.HeaderMismatch as exc:
                raise SystemExit(f"insns: {exc}") from None
            who = (f"relay-responder + Kiro's headers ({count} headers, header block "
                   f"{sizes['relay_head_bytes']} bytes, kiro-fcgi's "
                   f"{sizes['gateway_head_bytes']})")
        first, second = serve(tmp, argv, env, raw, args.n1), serve(tmp, argv, env, raw, args.n2)
        n = args.n2 - args.n1
        total = (annotate(second, False)[0] - annotate(first, False)[0]) / n
        print(f"{who}, one small {'streamed' if args.stream else 'non-stream'} "
              f"/v1/messages request: {total:,.0f} instructions (callgrind, runs of "
              f"{args.n1} and {args.n2} requests)")
        if not args.relay:
            # Every transaction begins with store_begin, locked or not
            # (the strace section of make bench sees only the locked ones).
            txns = (calls_to(second, "store_begin") - calls_to(first, "store_begin")) / n
            print(f"store transactions per request: {txns:.2f} (goal <= 2, issue 13)")
        for inclusive in (True, False):
            a, b = annotate(first, inclusive)[1], annotate(second, inclusive)[1]
            rows = sorted(((b[k] - a.get(k, 0)) / n, k) for k in b)
            rows = [r for r in rows if r[0] >= 1][-args.top:]
            print(f"-- {'inclusive' if inclusive else 'self'}: instructions per request, "
                  "share of the request")
            for v, k in reversed(rows):
                print(f"{v:10,.0f}  {v / total * 100:5.1f}%  {k[:100]}")
    finally:
        upstream.terminate()
        upstream.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
