#!/usr/bin/python3
"""modelMap set through the admin API (/api/admin/config/model-map), on
lighttpd and Apache with 2 responder processes of one thread each.

Covered:
  - GET answers config.json's map and "source":"config"; PUT stores a map
    that wins over it ("source":"admin") and DELETE hands the decision back;
  - a map set through the API is used by both processes from their next
    request on: the Kiro modelId the mock receives for 8 requests in flight
    (served by both processes, read from the access log) follows every PUT
    and DELETE, with no restart;
  - the stored map survives the responders being stopped (SIGTERM) and
    started again by the web server;
  - kiroctl status shows the map in effect and that the admin API set it;
    kiroctl models NAME resolves with it (and --json);
  - bad maps are 400 invalid_request naming the entry (unknown target, not
    a string, empty or control-character name, 128-byte name, 257 entries,
    not an object, missing), and leave the stored map alone;
  - 8 PUTs in flight over both processes, each a whole map of 16 entries to
    one target: one whole map is left, and both processes use it.

Run: KIRO_BUILDDIR=build /usr/bin/python3 tests/integration/test_modelmap.py
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, body, in_parallel, request  # noqa: E402

MOCK: Mock | None = None
ADMIN_KEY = "sk-admin-mmap-" + "m" * 16 + "Q7"
CONFIG_MAP = {"team-*": "claude-haiku-4.5"}
TARGETS = ["claude-haiku-4.5", "claude-opus-4.6", "claude-sonnet-4", "auto"]


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def check_trace(srv) -> None:
    """Under TRACEME=valgrind, a stopped server's responders reported nothing."""
    problems = getattr(srv, "_trace_problems", None)
    if problems:
        raise AssertionError("valgrind reported errors:\n" + "\n".join(problems))


class _ModelMap:
    server = "lighttpd"
    mount = "/kiro"

    def setUp(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        self.g = Gateway(self.server, MOCK, mount=self.mount, procs=2, threads=1,
                         accounts=[Account("mmap-a")],
                         config={"adminApiKey": ADMIN_KEY, "modelMap": CONFIG_MAP})
        self.g.start()
        self.addCleanup(check_trace, self.g.srv)
        self.addCleanup(self.g.stop)

    # helpers

    def admin(self, method: str, doc=None, raw: bytes | None = None):
        data = raw if raw is not None else \
            json.dumps(doc).encode() if doc is not None else None
        return request(self.g.url("/api/admin/config/model-map"), method, data,
                       {"x-api-key": ADMIN_KEY, "Content-Type": "application/json"})

    def admin_ok(self, method: str, doc=None) -> dict:
        resp = self.admin(method, doc)
        self.assertEqual(resp.status, 200, resp.body[:300])
        return resp.json()

    def refused(self, doc=None, *contains: str, raw: bytes | None = None) -> None:
        resp = self.admin("PUT", doc, raw)
        self.assertEqual(resp.status, 400, resp.body[:300])
        err = resp.json()
        self.assertEqual(set(err), {"error"}, err)
        self.assertEqual(err["error"]["type"], "invalid_request", err)
        for text in contains:
            self.assertIn(text, err["error"]["message"], err)

    def kiro_models(self, name: str, tag: str, n: int = 8) -> list[str]:
        """The Kiro modelId of n requests in flight for client model name."""
        before = len(MOCK.requests())
        resps = in_parallel([lambda i=i: self.g.messages(body(f"{tag} {i}", model=name))
                             for i in range(n)])
        for resp in resps:
            self.assertEqual(resp.status, 200, resp.body[:300])
        got = MOCK.requests()[before:]
        self.assertEqual(len(got), n)
        return [e["body"]["conversationState"]["currentMessage"]["userInputMessage"]
                ["modelId"] for e in got]

    def pids_of_last(self, total: int, last: int) -> set[str]:
        """The pids that wrote the last `last` of `total` /v1/messages lines."""
        pattern = r"kiro-fcgi\[(\d+)\] INFO req=\S+ POST /v1/messages 200"
        # Each line is written after its answer: wait for every one.
        gw.wait_for(lambda: len(re.findall(pattern, self.g.log())) >= total,
                    what=f"{total} access-log lines")
        return set(re.findall(pattern, self.g.log())[total - last:total])

    def restart_responders(self) -> None:
        pids = self.g.responder_pids()
        self.assertTrue(pids)
        # SIGTERM: an idle responder exits at once (and under valgrind
        # still writes its report).
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        gw.wait_for(lambda: not set(pids) & set(self.g.responder_pids()),
                    what="the responders to die")
        # The web server starts new ones; a request may meet the gap.
        gw.wait_for(lambda: self.g.get("/health").status == 200,
                    what="a new responder")

    # tests

    def test_set_reaches_both_processes_survives_restart_and_delete(self) -> None:
        self.assertEqual(self.admin_ok("GET"), {"modelMap": CONFIG_MAP, "source": "config"})
        self.assertEqual(self.kiro_models("team-coder", "config"), ["claude-haiku-4.5"] * 8)
        status = self.g.kiroctl("status").stdout
        self.assertIn("model map:     1 entry (config.json)\n"
                      "  team-* -> claude-haiku-4.5\n", status)

        mine = {"team-*": "claude-opus-4.6", "GPT-4O": "Claude-Sonnet-4"}
        answer = self.admin_ok("PUT", {"modelMap": mine})
        # Targets as the catalogue spells them; the file order is kept.
        self.assertEqual(answer, {"modelMap": {"team-*": "claude-opus-4.6",
                                               "GPT-4O": "claude-sonnet-4"},
                                  "source": "admin"})
        self.assertEqual(list(answer["modelMap"]), ["team-*", "GPT-4O"])
        self.assertEqual(self.kiro_models("team-coder", "admin"), ["claude-opus-4.6"] * 8)
        self.assertEqual(len(self.pids_of_last(16, 8)), 2,
                         "one process served every request after the PUT")
        self.assertEqual(self.kiro_models("gpt-4o", "gpt", 2), ["claude-sonnet-4"] * 2)

        status = self.g.kiroctl("status").stdout
        self.assertIn("model map:     2 entries (set through the admin API)\n"
                      "  team-* -> claude-opus-4.6\n  GPT-4O -> claude-sonnet-4\n", status)
        out = self.g.kiroctl("models", "team-x", "gpt-4o-thinking").stdout
        self.assertEqual(out, "team-x -> claude-opus-4.6\n"
                              "gpt-4o-thinking -> claude-sonnet-4 (thinking)\n")
        doc = json.loads(self.g.kiroctl("models", "--json", "team-x", "nonsense",
                                        check=False).stdout)
        self.assertEqual(doc, {"modelMapSource": "admin", "resolved": [
            {"name": "team-x", "model": "claude-opus-4.6", "thinking": False},
            {"name": "nonsense", "model": None, "thinking": False}]})

        self.restart_responders()
        self.assertEqual(self.admin_ok("GET")["source"], "admin")
        self.assertEqual(self.kiro_models("team-coder", "restarted"),
                         ["claude-opus-4.6"] * 8)

        self.assertEqual(self.admin_ok("DELETE"), {"modelMap": CONFIG_MAP,
                                                   "source": "config"})
        self.assertEqual(self.kiro_models("team-coder", "deleted"), ["claude-haiku-4.5"] * 8)
        # gpt-4o is the built-in map's again.
        self.assertEqual(self.kiro_models("gpt-4o", "builtin", 2), ["claude-sonnet-4.5"] * 2)
        self.assertIn("model map:     1 entry (config.json)\n",
                      self.g.kiroctl("status").stdout)
        # An empty map is a map: over config.json's, it maps nothing.
        self.assertEqual(self.admin_ok("PUT", {"modelMap": {}}),
                         {"modelMap": {}, "source": "admin"})
        resp = self.g.messages(body("unmapped", model="team-coder"))
        self.assertEqual(resp.status, 404, resp.body[:300])
        self.assertIn("model map:     0 entries (set through the admin API)\n",
                      self.g.kiroctl("status").stdout)

    def test_bad_maps_are_400_naming_the_entry(self) -> None:
        mine = {"kept-*": "claude-sonnet-4"}
        self.admin_ok("PUT", {"modelMap": mine})
        self.refused({"modelMap": {"ok": "auto", "gpt-4o": "gpt-5"}},
                     '"modelMap.gpt-4o"', '"gpt-5" is not a Kiro model id',
                     "claude-sonnet-4.5")
        self.refused({"modelMap": {"ok": "auto", "n": 3}}, '"modelMap.n" must be a string')
        self.refused({"modelMap": {"ok": "auto", "": "auto"}}, "entry 2")
        self.refused({"modelMap": {"a\u0007b": "auto"}}, "entry 1")
        self.refused({"modelMap": {"x" * 128: "auto"}}, "entry 1", "127 bytes")
        self.refused({"modelMap": {f"m{i}": "auto" for i in range(257)}},
                     "257 entries", "at most 256")
        self.refused({"modelMap": ["gpt-4o"]}, "must be an object")
        self.refused({"map": {}}, '"modelMap" is missing')
        self.refused(raw=b'{"modelMap":{"a":', )
        # Nothing of them was kept.
        self.assertEqual(self.admin_ok("GET"), {"modelMap": mine, "source": "admin"})
        # The largest map is fine.
        big = {f"m{i}-" + "y" * 100: TARGETS[i % 4] for i in range(256)}
        self.assertEqual(self.admin_ok("PUT", {"modelMap": big})["modelMap"], big)
        self.assertEqual(self.kiro_models("m255-" + "y" * 100, "big", 2), ["auto"] * 2)

    def test_concurrent_puts_leave_one_whole_map(self) -> None:
        maps = [{f"c{k}-*": TARGETS[i % 4] for k in range(16)} for i in range(8)]
        resps = in_parallel([lambda m=m: self.admin("PUT", {"modelMap": m}) for m in maps])
        for resp in resps:
            self.assertEqual(resp.status, 200, resp.body[:300])
        left = self.admin_ok("GET")
        self.assertEqual(left["source"], "admin")
        self.assertIn(left["modelMap"], maps)
        target = left["modelMap"]["c0-*"]
        self.assertEqual(self.kiro_models("c7-x", "after puts"), [target] * 8)


class ModelMapLighttpd(_ModelMap, unittest.TestCase):
    server, mount = "lighttpd", "/kiro"


class ModelMapApache(_ModelMap, unittest.TestCase):
    server, mount = "apache", "/"


if __name__ == "__main__":
    unittest.main(verbosity=2)
