"""A FastCGI client for the tests that talk to the responder without a web server.

record() and name_value() make FastCGI records; request_bytes() a whole request
(BEGIN_REQUEST, PARAMS, STDIN in pieces of 32 KB, the empty STDIN, optionally an
abort and 32 KB more behind it); read_answer() reads STDOUT up to END_REQUEST and
then requires the end of the stream.
"""

from __future__ import annotations

import socket
import struct

FCGI_BEGIN_REQUEST, FCGI_ABORT_REQUEST, FCGI_END_REQUEST = 1, 2, 3
FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 4, 5, 6


def record(kind: int, content: bytes, request_id: int = 1) -> bytes:
    return struct.pack(">BBHHBx", 1, kind, request_id, len(content), 0) + content


def name_value(name: str, value: str) -> bytes:
    out = b""
    for part in (name.encode(), value.encode()):
        out += struct.pack(">B", len(part)) if len(part) < 128 else \
            struct.pack(">I", len(part) | 0x80000000)
    return out + name.encode() + value.encode()


def request_bytes(method: str, path: str, body: bytes = b"", headers: dict | None = None,
                  abort: bool = False) -> bytes:
    params = {"REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path,
              "REQUEST_URI": path, "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1"}
    if body:
        params["CONTENT_LENGTH"] = str(len(body))
        params["CONTENT_TYPE"] = "application/json"
    params.update(headers or {})
    out = record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))
    out += record(FCGI_PARAMS, b"".join(name_value(k, v) for k, v in params.items()))
    out += record(FCGI_PARAMS, b"")
    for at in range(0, len(body), 32768):
        out += record(FCGI_STDIN, body[at:at + 32768])
    out += record(FCGI_STDIN, b"")
    if abort:
        # More than libfcgi reads at once (8 KB): some of it stays unread.
        out += record(FCGI_ABORT_REQUEST, b"") + record(FCGI_STDIN, b"x" * 16000) * 2
    return out


def read_answer(s: socket.socket) -> bytes:
    """STDOUT up to END_REQUEST; then the end of the stream must follow."""
    data, stdout = b"", b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before END_REQUEST: {stdout!r}")
        data += chunk
        while len(data) >= 8:
            _, kind, _, length, padding = struct.unpack(">BBHHBx", data[:8])
            if len(data) < 8 + length + padding:
                break
            content, data = data[8:8 + length], data[8 + length + padding:]
            if kind == FCGI_STDOUT:
                stdout += content
            elif kind == FCGI_END_REQUEST:
                if data:
                    raise AssertionError(f"bytes after END_REQUEST: {data!r}")
                if s.recv(1) != b"":
                    raise AssertionError("no end of stream after END_REQUEST")
                return stdout
