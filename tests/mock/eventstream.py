"""AWS event-stream (application/vnd.amazon.eventstream) encoder and decoder.

Written from doc/protocol.md section 4 for the Kiro mock upstream and its tests.
Python 3 standard library only.

Frame layout (all integers big-endian)::

    uint32 total_length     whole frame, including these 4 bytes and the trailing CRC
    uint32 headers_length   size of the header block
    uint32 prelude_crc      CRC-32 of bytes [0, 8)
    headers[headers_length]
    payload[total_length - headers_length - 16]
    uint32 message_crc      CRC-32 of bytes [0, total_length - 4)

Header entry: uint8 name_len (>= 1), name, uint8 value_type, value. Value types:
0 true, 1 false, 2 int8, 3 int16, 4 int32, 5 int64, 6 bytes (uint16 len),
7 string (uint16 len, UTF-8), 8 timestamp (int64 ms), 9 uuid (16 bytes).

Encoding:
    encode_frame(headers, payload)      any headers, raw payload
    event_frame(event_type, obj)        Kiro event frame with a compact JSON payload
    exception_frame(exc_type, obj)      ``:message-type: exception`` frame
    error_frame(code, message)          ``:message-type: error`` frame
Header values are encoded by Python type: str -> string, bool -> bool,
bytes -> byte array, int -> int32 (int64 if it does not fit), uuid.UUID -> uuid,
or an explicit ``HeaderValue(type, value)`` for byte/short/long/timestamp.

Decoding:
    decode_frame(data)                  exactly one frame, strict (raises FrameError)
    decode_stream(data)                 a whole body, strict
    Decoder().feed(chunk)               incremental, with the resync recovery peers
                                        use (skip 1 byte on a bad prelude, skip the
                                        frame on a bad message CRC or header block,
                                        give up after 5 consecutive errors)
"""

import json
import struct
import uuid
import zlib
from collections import namedtuple

PRELUDE_LEN = 12
MIN_FRAME_LEN = 16
MAX_FRAME_LEN = 16 * 1024 * 1024

TYPE_TRUE = 0
TYPE_FALSE = 1
TYPE_BYTE = 2
TYPE_SHORT = 3
TYPE_INT = 4
TYPE_LONG = 5
TYPE_BYTES = 6
TYPE_STRING = 7
TYPE_TIMESTAMP = 8
TYPE_UUID = 9

_FIXED_INT = {TYPE_BYTE: ">b", TYPE_SHORT: ">h", TYPE_INT: ">i",
              TYPE_LONG: ">q", TYPE_TIMESTAMP: ">q"}

HeaderValue = namedtuple("HeaderValue", "type value")


class FrameError(ValueError):
    """A frame could not be decoded."""


class TooManyErrors(FrameError):
    """The incremental decoder hit its consecutive-error limit."""


def crc32(data):
    """Standard CRC-32 (zlib / IEEE 802.3) as an unsigned int."""
    return zlib.crc32(data) & 0xFFFFFFFF


def json_payload(obj):
    """Compact UTF-8 JSON, the payload form Kiro uses."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------- encoding

def _typed(value):
    """Map a Python value to (type, value)."""
    if isinstance(value, HeaderValue):
        return value.type, value.value
    if isinstance(value, bool):
        return (TYPE_TRUE if value else TYPE_FALSE), value
    if isinstance(value, str):
        return TYPE_STRING, value
    if isinstance(value, (bytes, bytearray)):
        return TYPE_BYTES, bytes(value)
    if isinstance(value, uuid.UUID):
        return TYPE_UUID, value
    if isinstance(value, int):
        return (TYPE_INT if -2**31 <= value < 2**31 else TYPE_LONG), value
    raise TypeError("unsupported header value %r" % (value,))


def _encode_value(vtype, value):
    if vtype in (TYPE_TRUE, TYPE_FALSE):
        return b""
    if vtype in _FIXED_INT:
        return struct.pack(_FIXED_INT[vtype], value)
    if vtype in (TYPE_BYTES, TYPE_STRING):
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        if len(raw) > 0xFFFF:
            raise ValueError("header value too long")
        return struct.pack(">H", len(raw)) + raw
    if vtype == TYPE_UUID:
        return value.bytes if isinstance(value, uuid.UUID) else bytes(value)
    raise ValueError("unknown header type %r" % (vtype,))


def encode_headers(headers):
    """Encode a dict or a list of (name, value) pairs, preserving order."""
    items = headers.items() if isinstance(headers, dict) else headers
    out = bytearray()
    for name, value in items:
        raw_name = name.encode("ascii")
        if not 1 <= len(raw_name) <= 255:
            raise ValueError("bad header name %r" % (name,))
        vtype, val = _typed(value)
        out += bytes([len(raw_name)]) + raw_name + bytes([vtype])
        out += _encode_value(vtype, val)
    return bytes(out)


def encode_frame(headers, payload=b""):
    """Build one complete frame with correct prelude and message CRCs."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    header_block = encode_headers(headers)
    total = PRELUDE_LEN + len(header_block) + len(payload) + 4
    prelude = struct.pack(">II", total, len(header_block))
    prelude += struct.pack(">I", crc32(prelude))
    body = prelude + header_block + payload
    return body + struct.pack(">I", crc32(body))


def event_frame(event_type, obj):
    """A Kiro event frame, headers in the order the fixtures use."""
    return encode_frame([(":event-type", event_type),
                         (":content-type", "application/json"),
                         (":message-type", "event")], json_payload(obj))


def exception_frame(exception_type, obj):
    """An exception frame; ``obj`` is usually ``{"message": ...}``."""
    payload = obj if isinstance(obj, (bytes, str)) else json_payload(obj)
    return encode_frame([(":exception-type", exception_type),
                         (":content-type", "application/json"),
                         (":message-type", "exception")], payload)


def error_frame(code, message, payload=None):
    """An error frame; the payload defaults to the message text."""
    return encode_frame([(":message-type", "error"),
                         (":error-code", code),
                         (":error-message", message)],
                        message if payload is None else payload)


# ---------------------------------------------------------------- decoding

class Frame(object):
    """A decoded frame: ``headers`` (name -> value) and ``payload`` (bytes)."""

    def __init__(self, headers, payload, raw_length=0):
        self.headers = headers
        self.payload = payload
        self.raw_length = raw_length

    @property
    def message_type(self):
        return self.headers.get(":message-type", "event")

    @property
    def event_type(self):
        return self.headers.get(":event-type")

    @property
    def exception_type(self):
        return self.headers.get(":exception-type")

    @property
    def error_code(self):
        return self.headers.get(":error-code")

    def json(self):
        return json.loads(self.payload.decode("utf-8"))

    def __repr__(self):
        return "Frame(%r, %r)" % (self.headers, self.payload[:80])


def _decode_value(vtype, block, pos):
    """Return (value, new_pos) for one header value starting at pos."""
    if vtype == TYPE_TRUE:
        return True, pos
    if vtype == TYPE_FALSE:
        return False, pos
    if vtype in _FIXED_INT:
        fmt = _FIXED_INT[vtype]
        size = struct.calcsize(fmt)
        _need(block, pos, size)
        return struct.unpack_from(fmt, block, pos)[0], pos + size
    if vtype in (TYPE_BYTES, TYPE_STRING):
        _need(block, pos, 2)
        size = struct.unpack_from(">H", block, pos)[0]
        _need(block, pos + 2, size)
        raw = bytes(block[pos + 2:pos + 2 + size])
        if vtype == TYPE_STRING:
            try:
                return raw.decode("utf-8"), pos + 2 + size
            except UnicodeDecodeError:
                raise FrameError("header string is not UTF-8")
        return raw, pos + 2 + size
    if vtype == TYPE_UUID:
        _need(block, pos, 16)
        return uuid.UUID(bytes=bytes(block[pos:pos + 16])), pos + 16
    raise FrameError("unknown header value type %d" % vtype)


def _need(block, pos, size):
    if pos + size > len(block):
        raise FrameError("header block truncated")


def decode_headers(block):
    """Parse a header block into a dict (later duplicates win)."""
    headers = {}
    pos = 0
    while pos < len(block):
        name_len = block[pos]
        if name_len == 0:
            raise FrameError("zero-length header name")
        _need(block, pos + 1, name_len + 1)
        try:
            name = bytes(block[pos + 1:pos + 1 + name_len]).decode("ascii")
        except UnicodeDecodeError:
            raise FrameError("header name is not ASCII")
        pos += 1 + name_len
        vtype = block[pos]
        headers[name], pos = _decode_value(vtype, block, pos + 1)
    return headers


def check_prelude(data, max_len=MAX_FRAME_LEN):
    """Validate the 12-byte prelude; return (total_length, headers_length)."""
    if len(data) < PRELUDE_LEN:
        raise FrameError("short prelude")
    total, hlen, pcrc = struct.unpack_from(">III", data, 0)
    if crc32(bytes(data[:8])) != pcrc:
        raise FrameError("prelude CRC mismatch")
    if total < MIN_FRAME_LEN or total > max_len:
        raise FrameError("bad total length %d" % total)
    if hlen > total - MIN_FRAME_LEN:
        raise FrameError("headers length %d exceeds frame" % hlen)
    return total, hlen


def decode_frame(data):
    """Decode exactly one frame from ``data`` (strict)."""
    total, hlen = check_prelude(data)
    if len(data) != total:
        raise FrameError("frame is %d bytes, prelude says %d" % (len(data), total))
    return _decode_body(bytes(data), total, hlen)


def _decode_body(data, total, hlen):
    if crc32(data[:total - 4]) != struct.unpack_from(">I", data, total - 4)[0]:
        raise FrameError("message CRC mismatch")
    headers = decode_headers(data[PRELUDE_LEN:PRELUDE_LEN + hlen])
    return Frame(headers, data[PRELUDE_LEN + hlen:total - 4], total)


def decode_stream(data):
    """Decode a whole body strictly; any error or trailing bytes raise."""
    frames = []
    pos = 0
    while pos < len(data):
        total, _ = check_prelude(data[pos:pos + PRELUDE_LEN])
        if pos + total > len(data):
            raise FrameError("truncated frame at offset %d" % pos)
        frames.append(decode_frame(data[pos:pos + total]))
        pos += total
    return frames


class Decoder(object):
    """Incremental decoder with resynchronisation.

    ``feed(bytes)`` returns the frames completed so far. ``errors`` lists the
    problems skipped over; ``pending`` is the number of buffered bytes that do
    not yet form a frame (non-zero at EOF means a truncated stream). A run of
    bytes skipped one at a time while resynchronising counts as one error.
    """

    def __init__(self, max_errors=5, max_frame=MAX_FRAME_LEN):
        self.buf = bytearray()
        self.errors = []
        self.consecutive = 0
        self.max_errors = max_errors
        self.max_frame = max_frame
        self.skipping = False

    @property
    def pending(self):
        return len(self.buf)

    def _error(self, msg):
        self.errors.append(msg)
        self.consecutive += 1
        if self.consecutive >= self.max_errors:
            raise TooManyErrors("%d consecutive errors, last: %s" % (self.consecutive, msg))

    def feed(self, data):
        self.buf += data
        frames = []
        pos = 0
        while len(self.buf) - pos >= PRELUDE_LEN:
            try:
                total, hlen = check_prelude(self.buf[pos:pos + PRELUDE_LEN], self.max_frame)
            except FrameError as exc:
                pos += 1
                if not self.skipping:
                    self._fail(exc, pos)
                self.skipping = True
                continue
            self.skipping = False
            if len(self.buf) - pos < total:
                break
            try:
                frames.append(_decode_body(bytes(self.buf[pos:pos + total]), total, hlen))
                self.consecutive = 0
            except FrameError as exc:
                self._fail(exc, pos + total)
            pos += total
        del self.buf[:pos]
        return frames

    def _fail(self, exc, pos):
        try:
            self._error(str(exc))
        except TooManyErrors:
            del self.buf[:pos]
            raise
