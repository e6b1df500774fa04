#!/usr/bin/env python3
# gen-eventstream-seeds.py: writes the seed corpus of fuzz-eventstream.
#
# Each seed is what LLVMFuzzerTestOneInput takes: one byte with the largest
# slice size (0: whole), one byte seeding the slice sizes (odd: the target
# recomputes the CRCs before decoding), then an upstream body of AWS
# event-stream frames (doc/protocol.md §4 and §5).
#
# Usage: gen-eventstream-seeds.py [outdir]
#   (default: corpus/eventstream beside this script)

import json
import os
import struct
import sys
import zlib


def crc(data):
    return zlib.crc32(data) & 0xffffffff


def header(name, vtype, value=b""):
    name = name.encode()
    return struct.pack(">B", len(name)) + name + struct.pack(">B", vtype) + value


def string_header(name, value):
    value = value.encode()
    return header(name, 7, struct.pack(">H", len(value)) + value)


def frame(headers, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    total = 16 + len(headers) + len(payload)
    prelude = struct.pack(">II", total, len(headers))
    body = prelude + struct.pack(">I", crc(prelude)) + headers + payload
    return body + struct.pack(">I", crc(body))


def event(event_type, obj):
    payload = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return frame(string_header(":event-type", event_type) +
                 string_header(":content-type", "application/json") +
                 string_header(":message-type", "event"), payload)


def exception(exception_type, payload):
    return frame(string_header(":exception-type", exception_type) +
                 string_header(":content-type", "application/json") +
                 string_header(":message-type", "exception"), payload)


def error(code, message, payload=""):
    return frame(string_header(":message-type", "error") +
                 string_header(":error-code", code) +
                 string_header(":error-message", message), payload)


def text(s):
    return event("assistantResponseEvent", {"content": s})


def tool(name, tid, input_=None, stop=False):
    obj = {"toolUseId": tid, "stop": stop}
    if name is not None:
        obj["name"] = name
    if input_ is not None:
        obj["input"] = input_
    return event("toolUseEvent", obj)


METERING = event("meteringEvent", {"unit": "credit", "unitPlural": "credits",
                                   "usage": 0.0123})
CONTEXT = event("contextUsageEvent", {"contextUsagePercentage": 1.25})

SEEDS = {
    "text": (0, 1, text("Hello") + text(", world!") + METERING + CONTEXT),
    "tooluse": (7, 3, text("Reading it.") +
                tool("read_file", "tooluse_AbCdEf0123456789", "") +
                tool("read_file", "tooluse_AbCdEf0123456789", '{"path":') +
                tool("read_file", "tooluse_AbCdEf0123456789", '"/tmp/a.txt"}') +
                tool("read_file", "tooluse_AbCdEf0123456789", stop=True) +
                METERING + CONTEXT),
    "thinking": (1, 5, text("<thinking>\nThe user wants") +
                 text(" a greeting.</thinking>\n\nHi") + text(" there!") +
                 CONTEXT),
    "thinking-quoted": (5, 7, text("\n\n<thinking>\nsee `</thinking>`\n\nand") +
                        text(" more</thinking> \n") +
                        tool("t", "id1", {"a": [1, 2]}, True) +
                        text("after \u00e9\U0001f642 <thinking>x")),
    "exception": (3, 9, text("Hi") +
                  exception("ThrottlingException",
                            '{"message":"Too many requests"}')),
    "errors": (0, 11, error("InternalFailure", "it broke") +
               error("", "", "raw text") +
               exception("", '{"__type":"com.amazon#ValidationException",'
                             '"Message":"Improperly formed request."}') +
               exception("", "plain text")),
    "events": (16, 13,
               event("codeEvent", {"content": "int x;"}) +
               event("reasoningContentEvent", {"text": "hmm", "signature": "c2ln"}) +
               event("reasoningContentEvent", {"content": "alt"}) +
               event("metadataEvent", {"stopReason": "max_tokens"}) +
               event("messageMetadataEvent", {"stop_reason": "end_turn"}) +
               event("metadataEvent", {"conversationId": "c", "utteranceId": "u"}) +
               event("metricsEvent", {"inputTokens": 12, "outputTokens": 3}) +
               event("assistantResponseEvent",
                     {"assistantResponseEvent": {"content": "wrapped"}}) +
               event("assistantResponseEvent",
                     {"content": "x", "followupPrompt": {"content": "y"}}) +
               event("codeReferenceEvent", {"references": []}) +
               event("supplementaryWebLinksEvent", {"supplementaryWebLinks": []}) +
               event("invalidStateEvent", {"reason": "r", "message": "m"}) +
               event("messageStopEvent", "")),
    "header-types": (2, 15, frame(
        header("t", 0) + header("f", 1) + header("b", 2, b"\x07") +
        header("s", 3, b"\x00\x07") + header("i", 4, b"\x00\x00\x00\x07") +
        header("l", 5, b"\x00" * 7 + b"\x07") +
        header("a", 6, b"\x00\x03abc") +
        string_header(":event-type", "assistantResponseEvent") +
        header("ts", 8, b"\x00\x00\x01\x8c\x00\x00\x00\x00") +
        header("u", 9, bytes(range(16))), '{"content":"typed"}')),
    "resync": (9, 8, b"\xff\xfe\x00junk" + text("a") + b"xyz" + text("b")),
    "bad-crc": (0, 10, text("dropped")[:-1] + b"\x00" + text("kept") +
                b"\xff" * 4 + text("end")),
    "bad-json": (4, 17, event("assistantResponseEvent", '{"content":') +
                 event("toolUseEvent", '{"name":"n"}') +
                 event("contextUsageEvent", "[]") + text("ok")),
    "cut": (0, 19, text("whole") + text("cut in the middle")[:40]),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "corpus", "eventstream")
    os.makedirs(outdir, exist_ok=True)
    for name, (max_slice, seed, body) in sorted(SEEDS.items()):
        with open(os.path.join(outdir, name + ".bin"), "wb") as f:
            f.write(bytes([max_slice, seed]) + body)


if __name__ == "__main__":
    main()
