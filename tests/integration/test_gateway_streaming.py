#!/usr/bin/python3
"""Streaming behaviour of the gateway through a real lighttpd and a real Apache.

One responder process with one thread (-t 1, procs=1) per server, so that a
request left hanging inside the responder would block the next one, and
pingIntervalSeconds=1.  For each server:

  - /v1/messages streams incrementally: the mock sends N text chunks with a
    delay between them, and the client's arrival times of the text deltas
    are spread over at least 60% of the scripted duration, not delivered in
    one burst at the end;
  - /cc/v1/messages (buffered mode) sends only pings, exactly
    `event: ping\\ndata: {"type": "ping"}\\n\\n`, while a slow upstream
    answers, then the whole answer at once (spread under 20% of the upstream
    duration) with message_start's input_tokens from contextUsage;
  - a client that disconnects mid-stream makes the gateway abort its upstream
    transfer (the mock logs client_aborted for that request, well before the
    scripted end), the access log notes the client went away, and the same
    responder process serves the next request;
  - /v1/messages sends pings while the upstream is quiet in mid-stream;
  - an exception frame after the first byte gives `event: error` with the
    matching error type (ThrottlingException: rate_limit_error), no retry;
    ContentLengthExceededException ends the stream with stop_reason
    max_tokens, contextUsagePercentage 100 with
    model_context_window_exceeded;
  - an upstream cut-off after the first byte reached the client gives
    `event: error` as the last event and a clean end of the HTTP response,
    with no retry; without streaming the same cut-off is retried;
  - a cut-off before any byte (connection dropped before the headers, or
    after half a frame) is retried transparently: the client sees a normal
    stream and the mock saw two calls.

With 2 processes of 4 threads per server (the Burst classes): 8 streams in
flight, 4 of whose clients leave after 2 deltas; the other 4 arrive whole,
the mock saw exactly the 4 left transfers aborted early, the access log has 4
"(client gone)", and the processes that served the burst go on serving.

Run: /usr/bin/python3 tests/integration/test_gateway_streaming.py
"""

from __future__ import annotations

import json
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import (Account, Gateway, Mock, body, event_data, event_names,  # noqa: E402
                     text_of, wait_for)
from harness import open_stream, sse_events  # noqa: E402

MOCK: Mock | None = None
PING = b'event: ping\ndata: {"type": "ping"}\n\n'


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


class _Streaming:
    server: str
    mount: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.account = Account("stream")
            cls.gw = cls.enterClassContext(Gateway(
                cls.server, MOCK, mount=cls.mount, procs=1, threads=1,
                accounts=[cls.account], config={"pingIntervalSeconds": 1}))

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        MOCK.reset()
        self.gw.register_accounts()

    def test_stream_arrives_incrementally(self) -> None:
        count, delay_ms = 6, 250
        MOCK.script({"kind": "slow", "count": count, "delay_ms": delay_ms})
        resp, events = self.gw.stream(body("slowly"))
        self.assertEqual(resp.status, 200, resp.body[:300])
        deltas = [e for e in events if e.event == "content_block_delta"]
        self.assertEqual(len(deltas), count)
        self.assertEqual(text_of(events), "".join(f"chunk {i} " for i in range(count)))
        scripted = (count - 1) * delay_ms / 1000
        spread = deltas[-1].arrival - deltas[0].arrival
        offsets = [round(e.arrival - deltas[0].arrival, 3) for e in deltas]
        self.assertGreaterEqual(spread, 0.6 * scripted,
                                f"deltas arrived at {offsets} s: buffered somewhere")
        self.assertGreater(len(resp.chunks), count // 2, "the body came in a few pieces")

    def test_cc_buffered_sends_pings_then_everything(self) -> None:
        count, delay_ms = 4, 900
        MOCK.script({"kind": "slow", "count": count, "delay_ms": delay_ms,
                     "context_usage": 3.0})
        resp, events = self.gw.stream(body("buffer me"), path="/cc/v1/messages")
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertIn(PING, resp.body)
        names = event_names(events)
        pings = [i for i, n in enumerate(names) if n == "ping"]
        self.assertGreaterEqual(len(pings), 1, names)
        # Only pings until the answer is complete, then the whole answer.
        self.assertEqual(names[:len(pings)], ["ping"] * len(pings), names)
        rest = events[len(pings):]
        self.assertEqual(event_names(rest)[0], "message_start")
        self.assertEqual(event_names(rest)[-1], "message_stop")
        self.assertNotIn("ping", event_names(rest))
        for e in events[:len(pings)]:
            self.assertEqual(json.loads(e.data), {"type": "ping"})
        scripted = (count - 1) * delay_ms / 1000
        burst = rest[-1].arrival - rest[0].arrival
        self.assertLess(burst, 0.2 * scripted, "the answer was not held back")
        self.assertEqual(event_data(rest)[0]["message"]["usage"]["input_tokens"],
                         int(3.0 * gw.WINDOW / 100))
        self.assertEqual(text_of(rest), "".join(f"chunk {i} " for i in range(count)))

    def test_client_disconnect_aborts_upstream(self) -> None:
        pids = self.gw.responder_pids()
        count, delay_ms = 60, 100
        MOCK.script({"kind": "slow", "count": count, "delay_ms": delay_ms})
        with open_stream(self.gw.url("/v1/messages"), "POST",
                         json.dumps(body("leave early", stream=True)).encode(),
                         dict(self.gw.auth(), **{"Content-Type": "application/json"})) as resp:
            self.assertEqual(resp.status, 200)
            seen = 0
            for event in sse_events(resp):
                if event.event == "content_block_delta":
                    seen += 1
                    if seen == 2:
                        break
            # leaving the with block closes the connection mid-stream
        started = time.monotonic()
        # The single responder thread must be free again: this is served by
        # the same process once the first request has been given up.
        after = self.gw.messages(body("next one"))
        self.assertEqual(after.status, 200, after.body[:300])
        self.assertEqual(after.json()["content"][0]["text"],
                         "Hello from mock Kiro. You said: next one")
        served_within = time.monotonic() - started
        first = wait_for(lambda: [e for e in MOCK.requests()
                                  if e["id"] == 1 and e["complete"]],
                         what="the mock to finish the abandoned request")[0]
        self.assertTrue(first["client_aborted"], first)
        scripted_ms = (count - 1) * delay_ms
        self.assertLess(first["duration_ms"], 0.5 * scripted_ms,
                        "the upstream transfer ran on after the client left")
        self.assertLess(served_within, 0.5 * scripted_ms / 1000)
        self.assertEqual(self.gw.responder_pids(), pids, "the responder was restarted")
        self.assertIn("(client gone)", self.gw.log())

    def test_cutoff_after_first_byte_gives_error_event(self) -> None:
        MOCK.script({"kind": "cutoff", "chunks": ["This answer is cut", " off"]}, times=1)
        resp, events = self.gw.stream(body("cut me"))
        self.assertEqual(resp.status, 200, resp.body[:300])
        names = event_names(events)
        self.assertEqual(names[0], "message_start")
        self.assertEqual(names[-1], "error", names)
        self.assertNotIn("message_stop", names)
        err = json.loads(events[-1].data)
        self.assertEqual(err["type"], "error")
        self.assertIn(err["error"]["type"], ("api_error", "overloaded_error"))
        self.assertTrue(err["error"]["message"])
        self.assertEqual(text_of(events), "This answer is cut off")
        # request() read the chunked body to its terminator: a clean end.
        self.assertTrue(resp.body.endswith(b"\n\n"))
        self.assertEqual(len(MOCK.requests()), 1, "a started stream must not be retried")

    def test_stream_pings_while_upstream_is_quiet(self) -> None:
        MOCK.script({"kind": "slow", "chunks": ["before ", "after"], "delay_ms": 3000})
        resp, events = self.gw.stream(body("take your time"))
        self.assertEqual(resp.status, 200, resp.body[:300])
        names = event_names(events)
        first, second = [i for i, n in enumerate(names) if n == "content_block_delta"]
        self.assertIn("ping", names[first:second], names)
        self.assertIn(PING, resp.body)
        self.assertEqual(names[-1], "message_stop")
        self.assertEqual(text_of(events), "before after")

    def test_exception_mid_stream_gives_error_event(self) -> None:
        MOCK.script({"preset": "exception", "chunks": ["partial answer"]}, times=-1)
        resp, events = self.gw.stream(body("throttle me late"))
        self.assertEqual(resp.status, 200, resp.body[:300])
        names = event_names(events)
        self.assertEqual(names[-1], "error", names)
        self.assertNotIn("message_stop", names)
        err = json.loads(events[-1].data)["error"]
        self.assertEqual(err["type"], "rate_limit_error")
        self.assertIn("Too many requests", err["message"])
        self.assertEqual(text_of(events), "partial answer")
        self.assertEqual(len(MOCK.requests()), 1)

    def test_stream_stop_reasons_from_upstream(self) -> None:
        for preset, reason in (("content_length_exceeded", "max_tokens"),
                               ("context_window_full", "model_context_window_exceeded")):
            with self.subTest(preset):
                MOCK.script(preset)
                resp, events = self.gw.stream(body("stop reasons"))
                self.assertEqual(resp.status, 200, resp.body[:300])
                self.assertEqual(event_names(events)[-2:], ["message_delta", "message_stop"])
                self.assertEqual(json.loads(events[-2].data)["delta"]["stop_reason"], reason)

    def test_cutoff_without_streaming_is_retried(self) -> None:
        MOCK.script({"kind": "cutoff", "chunks": ["This answer is cut", " off"]}, times=1)
        resp = self.gw.messages(body("cut me quietly"))
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertEqual(resp.json()["content"][0]["text"],
                         "Hello from mock Kiro. You said: cut me quietly")
        log = MOCK.requests()
        self.assertEqual([e["cutoff"] for e in log], [True, False])

    def test_cutoff_before_first_byte_is_retried(self) -> None:
        for partial in (False, True):
            with self.subTest(partial_frame=partial):
                MOCK.reset()
                self.gw.register_accounts()
                MOCK.script({"kind": "cutoff", "chunks": [], "partial_frame": partial},
                            times=1)
                resp, events = self.gw.stream(body("retry me"))
                self.assertEqual(resp.status, 200, resp.body[:300])
                self.assertEqual(event_names(events)[-1], "message_stop")
                self.assertNotIn("error", event_names(events))
                self.assertEqual(text_of(events), "Hello from mock Kiro. You said: retry me")
                log = MOCK.requests()
                self.assertEqual([e["cutoff"] for e in log], [True, False])


class _StreamingBurst:
    """Streams in flight over two processes while some of their clients leave."""
    server: str
    mount: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            cls.account = Account("burst")
            cls.gw = cls.enterClassContext(Gateway(
                cls.server, MOCK, mount=cls.mount, procs=2, threads=4,
                accounts=[cls.account]))

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        MOCK.reset()
        self.gw.register_accounts()

    def test_clients_leaving_mid_stream_among_others_that_stay(self) -> None:
        """Each piece of Kiro's stream leaves in one write, and a write that
        finds the client gone stops that transfer: 4 of 8 streams in flight
        over 2 processes are left after 2 deltas; the other 4 arrive whole."""
        count, delay_ms, n = 20, 100, 8
        MOCK.script({"kind": "slow", "count": count, "delay_ms": delay_ms}, times=n)
        results: list = [None] * n

        def client(i: int) -> None:
            try:
                with open_stream(self.gw.url("/v1/messages"), "POST",
                                 json.dumps(body(f"burst {i}", stream=True)).encode(),
                                 dict(self.gw.auth(),
                                      **{"Content-Type": "application/json"})) as resp:
                    events, deltas = [], 0
                    for event in sse_events(resp):
                        events.append(event)
                        if event.event == "content_block_delta":
                            deltas += 1
                            if i % 2 == 0 and deltas == 2:
                                break
                    results[i] = (resp.status, events)
            except Exception as exc:  # noqa: BLE001 - reported below
                results[i] = exc

        threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        # mod_fcgid starts its processes on demand: those that served the burst.
        pids = self.gw.responder_pids()
        for i, r in enumerate(results):
            self.assertIsInstance(r, tuple, f"client {i}: {r!r}")
            self.assertEqual(r[0], 200, i)
            if i % 2:
                self.assertEqual(event_names(r[1])[-1], "message_stop", i)
                self.assertEqual(text_of(r[1]),
                                 "".join(f"chunk {k} " for k in range(count)), i)
        done = wait_for(lambda: (lambda log: log if len(log) == n and
                                 all(e["complete"] for e in log) else None)(MOCK.requests()),
                        what="the mock to finish all 8 requests", timeout=30)
        aborted = [e for e in done if e["client_aborted"]]
        self.assertEqual(len(aborted), n // 2, done)
        scripted_ms = (count - 1) * delay_ms
        for e in aborted:
            self.assertLess(e["duration_ms"], 0.6 * scripted_ms,
                            "the upstream transfer ran on after the client left")
        wait_for(lambda: self.gw.log().count("(client gone)") >= n // 2 or None,
                 what="the access lines of the clients that left")
        self.assertEqual(self.gw.log().count("(client gone)"), n // 2)
        for i in range(2):
            after = self.gw.messages(body(f"after {i}"))
            self.assertEqual(after.status, 200, after.body[:300])
        self.assertLessEqual(pids.items(), self.gw.responder_pids().items(),
                             "a responder that served the burst is gone")


class Lighttpd(_Streaming, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"


class Apache(_Streaming, unittest.TestCase):
    server, mount = "apache", "/"


class LighttpdBurst(_StreamingBurst, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"


class ApacheBurst(_StreamingBurst, unittest.TestCase):
    server, mount = "apache", "/"


if __name__ == "__main__":
    unittest.main(verbosity=2)
