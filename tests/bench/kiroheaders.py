"""The relay responder with Kiro's request headers: the header file and its check.

Used by run-bench.py (paced, throughput) and insns.py (--relay --kiro-headers).
fast-upstream -C FILE writes the head (request line and headers) of a request
whose body holds CAPTURE_MARKER.  One request through kiro-fcgi gives the
header block it sends to generateAssistantResponse; relay_header_lines() turns
it into relay-responder -H's file (what libcurl adds by itself, the request
line, Host and Content-Length, left out: the relay's libcurl adds its own);
one request through that relay gives its block, and check_sizes() refuses a
difference of more than TOLERANCE bytes, so the comparison cannot drift
silently when the gateway's headers change.
"""

from __future__ import annotations

from pathlib import Path

CAPTURE_MARKER = "bench-capture-head"
# Content-Length's digits differ (the Kiro body against the client's body).
TOLERANCE = 8
# libcurl writes these itself for the relay as for the gateway.
OWN_HEADERS = ("host", "content-length")


class HeaderMismatch(RuntimeError):
    """The relay's header block is not the size of the gateway's."""


def head_lines(head: bytes) -> list[str]:
    text = head.decode("latin-1")
    if not text.endswith("\r\n\r\n"):
        raise HeaderMismatch(f"captured head does not end with an empty line: {text[-80:]!r}")
    return text[:-4].split("\r\n")


def relay_header_lines(head: bytes) -> list[str]:
    """The gateway's header lines that the relay must send itself."""
    out = []
    for line in head_lines(head)[1:]:
        name = line.split(":", 1)[0].strip().lower()
        if name not in OWN_HEADERS:
            out.append(line)
    if not out:
        raise HeaderMismatch("the gateway's captured request has no headers")
    return out


def write_header_file(head: bytes, path: Path) -> int:
    """relay-responder -H's file (0600: it holds the bench's bearer token); the count."""
    lines = relay_header_lines(head)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("".join(line + "\n" for line in lines), encoding="latin-1")
    return len(lines)


def names(head: bytes) -> list[str]:
    return [line.split(":", 1)[0].lower() for line in head_lines(head)[1:]]


def masked(head: bytes) -> str:
    """The head for a message, the bearer token cut to its first 4 characters."""
    out = []
    for line in head_lines(head):
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "authorization":
            scheme, _, token = value.strip().partition(" ")
            line = f"{name}: {scheme} {token[:4]}... ({len(token)} characters)"
        out.append(line + "\n")
    return "".join(out)


def check_sizes(gateway_head: bytes, relay_head: bytes) -> dict:
    """Both heads' sizes; HeaderMismatch when they differ by more than TOLERANCE
    bytes or do not carry the same header names."""
    g, r = len(gateway_head), len(relay_head)
    if abs(g - r) > TOLERANCE or sorted(names(gateway_head)) != sorted(names(relay_head)):
        raise HeaderMismatch(
            f"relay + Kiro's headers sends a {r}-byte header block, the gateway "
            f"{g} bytes (at most {TOLERANCE} apart, same names):\n--- gateway\n"
            + masked(gateway_head) + "--- relay\n" + masked(relay_head))
    return {"gateway_head_bytes": g, "relay_head_bytes": r,
            "headers": len(head_lines(gateway_head)) - 1}
