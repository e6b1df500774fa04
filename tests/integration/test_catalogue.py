#!/usr/bin/python3
"""Models from Kiro: each account's ListAvailableModels behind real servers.

Each test starts its own gateway (fresh state directory) against the shared
mock upstream, behind lighttpd; CatalogueApache runs them again behind
Apache.  Covered:

  - `kiroctl health-check` fetches each account's model list (the mock's
    per-account list, POST /_mock/accounts/models) and `kiroctl models
    [--json]` shows the union with its tokenLimits; a second health-check
    within the hour asks Kiro nothing;
  - GET /v1/models (Anthropic/OpenAI), /v1/models/{id}, GET /v1beta/models
    and /v1beta/models/{id} (Gemini) show the live list and its limits, not
    the built-in one;
  - an account whose list lacks the model is skipped for it and another
    serves; a model only in a live list (not built in) is accepted and sent
    to Kiro under its own id; the live window turns contextUsagePercentage
    into tokens;
  - a model that every account's list lacks is 404 in each API's own error
    shape (not a 503: no retry helps), and Kiro is not called;
  - with no list cached, the built-in list is shown;
  - an unknown model is a 404 in each API's terms: OpenAI (Chat Completions
    and Responses) {"message","type":"invalid_request_error","param":"model",
    "code":"model_not_found"}, Anthropic not_found_error, Gemini NOT_FOUND;
    the message lists the live lists' ids (not the built-in ones), at most
    50 of them and how many more; Kiro is not called;
  - a list older than the hour is fetched again by the responder after it
    answered with that account (the client has its answer first, while
    the mock's 2 s ListAvailableModels is still running): one
    ListAvailableModels call with that account's token, the new list in
    the store, none while it is fresh, and with 8 requests in flight over
    2 processes x 4 threads still exactly one call (the store's claim).

Run: /usr/bin/python3 tests/integration/test_catalogue.py
"""

from __future__ import annotations

import json
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import (Account, Gateway, Mock, assert_anthropic_error, body,  # noqa: E402
                     in_parallel, wait_for)

MOCK: Mock | None = None
NEW_MODEL = "kiro-brand-new-7"


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


def model(model_id: str, max_in: int, max_out: int) -> dict:
    return {"modelId": model_id, "modelName": model_id.upper(),
            "maxInputTokens": max_in, "maxOutputTokens": max_out}


class CatalogueTests(unittest.TestCase):

    server = "lighttpd"

    def setUp(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        MOCK.reset()
        # A (preferred) offers only claude-sonnet-4.5; B offers more.
        self.a = Account("cat-a", priority=0)
        self.b = Account("cat-b", priority=1)
        self.g = Gateway(self.server, MOCK, accounts=[self.a, self.b])
        self.g.start()
        self.addCleanup(self.g.stop)
        # The responder imports the credentials file when it starts.
        self.assertEqual(self.g.get("/health").status, 200)
        MOCK.call("POST", "accounts/models", {"id": self.a.mock_id, "models": [
            model("claude-sonnet-4.5", 300000, 50000)]})
        MOCK.call("POST", "accounts/models", {"id": self.b.mock_id, "models": [
            model("claude-sonnet-4.5", 300000, 60000), model("glm-5", 200000, 32000),
            model(NEW_MODEL, 777000, 12345)]})

    def health_check(self) -> None:
        out = self.g.kiroctl("health-check").stdout
        self.assertEqual(out.count("model list refreshed"), 2, out)

    def served_by(self, model_name: str, prompt: str):
        before = len(MOCK.requests())
        resp = self.g.messages(body(prompt, model=model_name))
        self.assertEqual(resp.status, 200, resp.body[:300])
        reqs = MOCK.requests()
        self.assertEqual(len(reqs), before + 1)
        token = reqs[-1]["headers"]["authorization"].split(" ", 1)[1]
        current = reqs[-1]["body"]["conversationState"]["currentMessage"]["userInputMessage"]
        who = {self.a.access_token: "a", self.b.access_token: "b"}.get(token)
        return who, current["modelId"], resp.json()

    def test_builtin_list_until_a_health_check(self) -> None:
        resp = self.g.get("/v1/models")
        self.assertEqual(resp.status, 200, resp.body[:300])
        ids = [m["id"] for m in resp.json()["data"]]
        self.assertIn("claude-opus-4.6", ids)       # built in, in no live list
        self.assertNotIn(NEW_MODEL, ids)
        out = self.g.kiroctl("models").stdout
        self.assertIn("built-in", out)

    def test_health_check_fetches_once_an_hour_and_kiroctl_models_shows_it(self) -> None:
        self.health_check()
        self.assertEqual(len(MOCK.requests("ListAvailableModels")), 2)
        out = self.g.kiroctl("health-check").stdout
        self.assertNotIn("model list refreshed", out)
        self.assertEqual(len(MOCK.requests("ListAvailableModels")), 2)
        listed = json.loads(self.g.kiroctl("models", "--json").stdout)
        self.assertEqual(listed["source"], "ListAvailableModels")
        by_id = {m["id"]: m for m in listed["models"]}
        self.assertEqual(list(by_id), ["claude-sonnet-4.5", "glm-5", NEW_MODEL])
        # The smallest limits any account gave.
        self.assertEqual(by_id["claude-sonnet-4.5"]["maxOutputTokens"], 50000)
        self.assertEqual(by_id[NEW_MODEL]["maxInputTokens"], 777000)
        self.assertIn(NEW_MODEL, self.g.kiroctl("models").stdout)

    def test_models_routes_show_the_live_list_in_every_shape(self) -> None:
        self.health_check()
        resp = self.g.get("/v1/models")
        self.assertEqual(resp.status, 200, resp.body[:300])
        data = {m["id"]: m for m in resp.json()["data"]}
        self.assertEqual(list(data), ["claude-sonnet-4.5", "glm-5", NEW_MODEL])
        self.assertEqual(data[NEW_MODEL]["context_window"], 777000)
        self.assertEqual(data[NEW_MODEL]["max_output_tokens"], 12345)
        self.assertEqual(data["claude-sonnet-4.5"]["context_window"], 300000)
        self.assertEqual(data["claude-sonnet-4.5"]["display_name"], "Claude Sonnet 4.5")
        one = self.g.get("/v1/models/" + NEW_MODEL, auth="bearer")
        self.assertEqual(one.status, 200, one.body[:300])
        self.assertEqual(one.json()["context_window"], 777000)
        gem = self.g.get("/v1beta/models", auth=None,
                         headers={"x-goog-api-key": self.g.api_key})
        self.assertEqual(gem.status, 200, gem.body[:300])
        models = {m["name"]: m for m in gem.json()["models"]}
        self.assertEqual(list(models), ["models/claude-sonnet-4.5", "models/glm-5",
                                        "models/" + NEW_MODEL])
        self.assertEqual(models["models/" + NEW_MODEL]["inputTokenLimit"], 777000)
        self.assertEqual(models["models/" + NEW_MODEL]["outputTokenLimit"], 12345)
        gone = self.g.get("/v1beta/models/" + NEW_MODEL + "?key=" + self.g.api_key, auth=None)
        self.assertEqual(gone.status, 200, gone.body[:300])
        self.assertEqual(gone.json()["inputTokenLimit"], 777000)

    def test_account_lacking_the_model_is_skipped_and_live_models_are_accepted(self) -> None:
        self.health_check()
        who, sent, _ = self.served_by("claude-sonnet-4-5", "sonnet please")
        self.assertEqual((who, sent), ("a", "claude-sonnet-4.5"))
        who, sent, _ = self.served_by("glm-5", "glm please")
        self.assertEqual((who, sent), ("b", "glm-5"))
        who, sent, msg = self.served_by(NEW_MODEL, "the new one please")
        self.assertEqual((who, sent), ("b", NEW_MODEL))
        self.assertEqual(msg["model"], NEW_MODEL)

    def test_a_model_no_account_offers_is_not_found_in_each_api(self) -> None:
        self.health_check()
        before = len(MOCK.requests())
        resp = self.g.messages(body("opus please", model="claude-opus-4-6"))
        assert_anthropic_error(self, resp, 404, "not_found_error",
                               ["claude-opus-4.6 is not offered"])
        chat = self.g.post("/v1/chat/completions", {
            "model": "claude-opus-4-6", "messages": [{"role": "user", "content": "hi"}]},
            auth="bearer")
        self.assertEqual(chat.status, 404, chat.body[:300])
        self.assertIn("not offered", chat.json()["error"]["message"])
        gem = self.g.post("/v1beta/models/claude-opus-4.6:generateContent",
                          {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
                          auth=None, headers={"x-goog-api-key": self.g.api_key})
        self.assertEqual(gem.status, 404, gem.body[:300])
        self.assertEqual(gem.json()["error"]["status"], "NOT_FOUND")
        self.assertEqual(len(MOCK.requests()), before)

    # an unknown model, in each API's own terms

    def unknown_model(self, model_name: str, named: str | None = None) -> dict:
        """Each API's answer to model_name (named so); {api: error message}."""
        msgs = {}
        chat = self.g.post("/v1/chat/completions", {
            "model": model_name, "messages": [{"role": "user", "content": "hi"}]},
            auth="bearer")
        resp = self.g.post("/v1/responses", {"model": model_name, "input": "hi"},
                           auth="bearer")
        for api, answer in (("chat", chat), ("responses", resp)):
            self.assertEqual(answer.status, 404, answer.body[:300])
            err = answer.json()["error"]
            self.assertEqual({k: err[k] for k in ("type", "param", "code")},
                             {"type": "invalid_request_error", "param": "model",
                              "code": "model_not_found"}, err)
            self.assertEqual(set(err), {"message", "type", "param", "code"})
            msgs[api] = err["message"]
        doc = assert_anthropic_error(self, self.g.messages(body("hi", model=model_name)),
                                     404, "not_found_error")
        msgs["anthropic"] = doc["error"]["message"]
        gem = self.g.post(f"/v1beta/models/{model_name}:generateContent",
                          {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
                          auth=None, headers={"x-goog-api-key": self.g.api_key})
        self.assertEqual(gem.status, 404, gem.body[:300])
        self.assertEqual((gem.json()["error"]["code"], gem.json()["error"]["status"]),
                         (404, "NOT_FOUND"))
        msgs["gemini"] = gem.json()["error"]["message"]
        for text in msgs.values():
            self.assertIn(named or model_name, text)
        return msgs

    def test_unknown_model_is_404_in_each_api_listing_the_live_models(self) -> None:
        self.health_check()
        before = len(MOCK.requests())
        for api, text in self.unknown_model("llama-3-70b").items():
            with self.subTest(api=api):
                listed = text.split("available models: ", 1)[1]
                self.assertEqual(listed, f"claude-sonnet-4.5, glm-5, {NEW_MODEL}")
        # The model routes say the same: GET /v1/models/{id}, /v1beta/models/{id}.
        one = self.g.get("/v1/models/llama-3-70b")
        doc = assert_anthropic_error(self, one, 404, "not_found_error")
        self.assertTrue(doc["error"]["message"].endswith(
            f"available models: claude-sonnet-4.5, glm-5, {NEW_MODEL}"), doc)
        gem = self.g.get("/v1beta/models/llama-3-70b", auth=None,
                         headers={"x-goog-api-key": self.g.api_key})
        self.assertEqual((gem.status, gem.json()["error"]["status"]), (404, "NOT_FOUND"))
        self.assertTrue(gem.json()["error"]["message"].endswith(
            f"available models: claude-sonnet-4.5, glm-5, {NEW_MODEL}"), gem.body[:300])
        # Not in any live list, though built in: the same 404 and list.
        for api, text in self.unknown_model("claude-opus-4-6", "claude-opus-4.6").items():
            with self.subTest(api=api, model="claude-opus-4-6"):
                self.assertIn("claude-opus-4.6 is not offered", text)
                self.assertTrue(text.endswith(f"available models: claude-sonnet-4.5, "
                                              f"glm-5, {NEW_MODEL}"), text)
        self.assertEqual(len(MOCK.requests()), before)

    def test_unknown_model_lists_at_most_50_live_models(self) -> None:
        many = [model(f"kiro-many-{i:03d}", 100000, 8000) for i in range(70)]
        MOCK.call("POST", "accounts/models", {"id": self.b.mock_id, "models": many})
        self.health_check()
        for api, text in self.unknown_model("llama-3-70b").items():
            with self.subTest(api=api):
                listed = text.split("available models: ", 1)[1]
                self.assertTrue(listed.startswith("claude-sonnet-4.5, kiro-many-000, "),
                                listed[:200])
                self.assertIn("kiro-many-048", listed)
                self.assertNotIn("kiro-many-049", listed)
                self.assertTrue(listed.endswith(" and 21 more (GET /v1/models lists them)"),
                                listed[-200:])

    def test_unknown_model_without_live_lists_lists_the_built_in_ones(self) -> None:
        for text in self.unknown_model("llama-3-70b").values():
            self.assertIn("claude-opus-4.6", text)
            self.assertNotIn(NEW_MODEL, text)

    # a stale list, fetched again after an answer

    def make_stale(self, g: Gateway, n_accounts: int) -> None:
        """Every account's list fetched two hours ago (kiroctl's clock moved back)."""
        past = str(int(time.time()) - 2 * 3600)
        out = g.kiroctl("health-check", env={"KIRO_FCGI_FAKE_NOW": past}).stdout
        self.assertEqual(out.count("model list refreshed"), n_accounts, out)

    @staticmethod
    def fetches() -> list:
        return MOCK.requests("ListAvailableModels")

    def test_stale_list_is_fetched_again_after_an_answer(self) -> None:
        self.make_stale(self.g, 2)
        before = len(self.fetches())
        MOCK.call("POST", "accounts/models", {"id": self.a.mock_id, "models": [
            model("claude-sonnet-4.5", 300000, 50000), model("kiro-fresh-1", 100000, 8000)]})
        # Kiro takes 2 s to list: the client has its answer before that
        # (had it waited, the mock would have finished the call by now).
        MOCK.settings(models_delay_ms=2000)
        who, _, _ = self.served_by("claude-sonnet-4-5", "stale list")
        self.assertEqual(who, "a")
        self.assertFalse([e for e in self.fetches()[before:] if e["complete"]],
                         "the client waited for the fetch")
        wait_for(lambda: [e for e in self.fetches()[before:] if e["complete"]],
                 what="a ListAvailableModels call")
        wait_for(lambda: "model list older than 3600 s refreshed" in self.g.log(),
                 what="the refresh in the responder log")
        [call] = self.fetches()[before:]
        self.assertEqual(call["headers"]["authorization"], "Bearer " + self.a.access_token)
        self.assertEqual(call["status"], 200)
        listed = json.loads(self.g.kiroctl("models", "--json").stdout)
        self.assertIn("kiro-fresh-1", [m["id"] for m in listed["models"]])
        # Fresh now: more answers fetch nothing.
        for i in range(3):
            self.assertEqual(self.served_by("claude-sonnet-4-5", f"fresh {i}")[0], "a")
        self.assertEqual(len(self.fetches()), before + 1)

    def test_fresh_list_is_not_fetched_after_an_answer(self) -> None:
        self.health_check()
        before = len(self.fetches())
        for i in range(3):
            self.served_by("claude-sonnet-4-5", f"fresh {i}")
        self.assertEqual(len(self.fetches()), before)
        self.assertNotIn("model list older than", self.g.log())

    def test_stale_list_fetched_once_with_requests_in_flight(self) -> None:
        g = Gateway(self.server, MOCK, accounts=[self.a], procs=2, threads=4).start()
        self.addCleanup(g.stop)
        self.assertEqual(g.get("/health").status, 200)
        self.make_stale(g, 1)
        before = len(self.fetches())
        # The fetch is still running when the other requests finish.
        MOCK.settings(models_delay_ms=1500)

        def ask(i: int) -> None:
            resp = g.messages(body(f"in flight {i}"))
            self.assertEqual(resp.status, 200, resp.body[:300])

        in_parallel([lambda i=i: ask(i) for i in range(8)])
        wait_for(lambda: "model list older than 3600 s refreshed" in g.log(),
                 what="the refresh in the responder log")
        in_parallel([lambda i=i: ask(8 + i) for i in range(8)])
        self.assertEqual(len(self.fetches()), before + 1,
                         [e["id"] for e in self.fetches()[before:]])
        self.assertEqual(g.log().count("model list older than"), 1, g.log()[-3000:])

    def test_live_window_turns_context_percentage_into_tokens(self) -> None:
        self.health_check()
        _, _, msg = self.served_by("claude-sonnet-4-5", "count me")
        # The mock's contextUsagePercentage of the live 300k window.
        entry = MOCK.requests()[-1]
        self.assertEqual(entry["window"], 300000)
        self.assertEqual(msg["usage"]["input_tokens"], gw.context_tokens(entry))


class CatalogueApache(CatalogueTests):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
