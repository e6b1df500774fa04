#!/usr/bin/python3
"""Web search through Kiro's /mcp (issue 10, doc/protocol.md §10, §2.2, §12).

Each test starts its own gateway behind lighttpd, and again behind Apache (the
*Apache class), with apiBaseUrl at the mock's /runtime host and
legacyApiBaseUrl at its /legacy host; the mock is shared by the module and
reset before each test.  Covered:

  - Anthropic, web_search the only tool (Claude Code's WebSearch), not
    streamed: one JSON message (not SSE) with a text, server_tool_use with
    the query (the "Perform a web search for the query: " prefix gone),
    web_search_tool_result with the mock's results (title, url, snippet in
    encrypted_content, page_age), the summary text, stop_reason end_turn and
    usage.server_tool_use.web_search_requests 1; one /mcp call, no model
    call; a social account's profile in x-amzn-kiro-profile-arn on the
    runtime host;
  - the same streamed: the SSE block sequence and message_delta's usage;
    and through the buffered /cc/v1/messages route;
  - /mcp failing (HTTP 500, a JSON-RPC error, isError, garbage, not JSON):
    a normal 200 answer whose results are empty and whose summary says
    "No results found.";
  - allowed_domains / blocked_domains filter the results;
  - web_search among other tools: the model (the mock's) calls web_search,
    the gateway runs the search and calls Kiro again with the results as a
    tool result; the client sees server_tool_use + web_search_tool_result
    and then the model's answer citing the result's URL (a
    web_search_result_location citation on that text block, citations_delta
    when streamed), never a tool_use block for web_search, stop_reason
    end_turn; streamed and not;
  - max_uses 1 with a model that searches twice: one /mcp call, the second
    search is a web_search_tool_result_error max_uses_exceeded, and the
    model read the refusal;
  - a social account imported without its profile: ListAvailableProfiles
    once, then /mcp with the profile header;
  - a Builder ID (idc) account: /mcp on the legacy host with no profile
    header; an API-key account: tokentype API_KEY and no profile;
  - OpenAI Responses `web_search` (streamed and not): a completed
    web_search_call item (action search with the query and the sources), the
    web_search_call.* events, and url_citation annotations (character
    offsets) where the answer names a result's URL; filters.allowed_domains
    filters the sources (a non-array is a 400);
  - Chat Completions `web_search_options` (streamed and not): url_citation
    annotations in Chat's nested shape, offsets over the whole content,
    in the message or one delta before the finish chunk; no tool call
    reaches the client; bad options are a 400 naming the field;
  - Gemini `googleSearch` (generateContent and streamGenerateContent
    ?alt=sse): groundingMetadata (webSearchQueries, groundingChunks web
    uri/title, groundingSupports with byte offsets where the text names a
    chunk's URI) on the last chunk's candidate, no functionCall part;
  - history: the gateway's own server_tool_use / web_search_tool_result blocks
    and Responses web_search_call items sent back in a later request reach
    Kiro as text with the query, titles, URLs and snippets.

Run: KIRO_BUILDDIR=build /usr/bin/python3 tests/integration/test_web_search.py
"""

from __future__ import annotations

import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock, body, event_data  # noqa: E402

MOCK: Mock | None = None
PROFILE = "arn:aws:codewhisperer:us-east-1:111112222233:profile/MOCK"
SEARCH_TOOL = {"type": "web_search_20250305", "name": "web_search"}
READ_TOOL = {"name": "read_file", "description": "Read a file",
             "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}
CC_PROMPT = "Perform a web search for the query: kiro gateway"


def setUpModule() -> None:
    global MOCK
    MOCK = Mock().start()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()


class FileAccount(Account):
    """An Account whose credentials file entry carries extra keys."""

    def __init__(self, name: str, *, file_extra: dict | None = None, **kw):
        super().__init__(name, **kw)
        self.file_extra = dict(file_extra or {})

    def credential(self) -> dict:
        return dict(super().credential(), **self.file_extra)


class KeyAccount(Account):
    """A Kiro API key (ksk_...)."""

    def __init__(self, name: str):
        super().__init__(name, auth_method="api_key")
        self.api_key = "ksk_" + gw._rand(64)

    def credential(self) -> dict:
        return {"kiroApiKey": self.api_key, "authMethod": "api_key", "email": self.email}

    def mock_spec(self) -> dict:
        return {"id": self.mock_id, "kiroApiKey": self.api_key, "authMethod": "api_key"}

    def secrets(self) -> list[str]:
        return [self.api_key]


def blocks_of_stream(events) -> list[dict]:
    """The content blocks an Anthropic SSE stream built, as a JSON answer has them."""
    blocks: dict[int, dict] = {}
    for d in event_data(events):
        if d["type"] == "content_block_start":
            blocks[d["index"]] = dict(d["content_block"])
        elif d["type"] == "content_block_delta":
            b, delta = blocks[d["index"]], d["delta"]
            if delta["type"] == "text_delta":
                b["text"] = b.get("text", "") + delta["text"]
            elif delta["type"] == "input_json_delta":
                b["_json"] = b.get("_json", "") + delta["partial_json"]
            elif delta["type"] == "citations_delta":
                b.setdefault("citations", []).append(delta["citation"])
    return [blocks[i] for i in sorted(blocks)]


class WebSearch(unittest.TestCase):
    """lighttpd; WebSearchApache runs the same tests behind Apache."""

    server = "lighttpd"

    def setUp(self) -> None:
        missing = gw.SERVERS[self.server].missing()
        if missing is not None:
            self.fail(missing)
        MOCK.reset()

    def start(self, *accounts) -> Gateway:
        accounts = accounts or (FileAccount("social", file_extra={"profileArn": PROFILE}),)
        g = Gateway(self.server, MOCK, accounts=accounts,
                    config={"apiBaseUrl": MOCK.url + "/runtime",
                            "legacyApiBaseUrl": MOCK.url + "/legacy"}).start()
        self.addCleanup(g.stop)
        return g

    def answer(self, g: Gateway, req: dict, stream: bool) -> tuple[list[dict], str, dict]:
        """(content blocks, stop_reason, usage) of a JSON or streamed answer."""
        if not stream:
            resp = g.messages(req)
            self.assertEqual(resp.status, 200, resp.body[:500])
            self.assertTrue(resp.headers.get("Content-Type", "").startswith(
                "application/json"), resp.headers)
            doc = resp.json()
            return doc["content"], doc["stop_reason"], doc["usage"]
        resp, events = g.stream(req)
        self.assertEqual(resp.status, 200, resp.body[:500])
        names = [e.event for e in events]
        self.assertEqual((names[0], names[-1]), ("message_start", "message_stop"))
        self.assertNotIn("error", names)
        delta = [d for d in event_data(events) if d["type"] == "message_delta"][0]
        return blocks_of_stream(events), delta["delta"]["stop_reason"], delta["usage"]

    def mcp_calls(self) -> list[dict]:
        return MOCK.requests("mcp")

    # --- web_search alone -------------------------------------------------------------

    def check_only(self, stream: bool) -> None:
        g = self.start()
        blocks, stop, usage = self.answer(g, body(CC_PROMPT, tools=[SEARCH_TOOL]), stream)
        self.assertEqual([b["type"] for b in blocks],
                         ["text", "server_tool_use", "web_search_tool_result", "text"])
        self.assertEqual(blocks[0]["text"], "I'll search for \"kiro gateway\".")
        use, result = blocks[1], blocks[2]
        self.assertEqual((use["name"], use["input"]), ("web_search", {"query": "kiro gateway"}))
        self.assertTrue(use["id"].startswith("srvtoolu_"))
        self.assertEqual(result["tool_use_id"], use["id"])
        self.assertEqual([r["url"] for r in result["content"]],
                         ["https://example.com/search/1", "https://example.org/search/2"])
        first = result["content"][0]
        self.assertEqual((first["type"], first["title"]),
                         ("web_search_result", "kiro gateway - Overview"))
        self.assertIn("An overview of kiro gateway", first["encrypted_content"])
        self.assertRegex(first["page_age"], r"^[A-Z][a-z]+ \d{1,2}, \d{4}$")
        self.assertTrue(blocks[3]["text"].startswith(
            "Here are the search results for \"kiro gateway\":"))
        self.assertIn("Source: https://example.org/search/2", blocks[3]["text"])
        self.assertEqual(stop, "end_turn")
        self.assertEqual(usage["server_tool_use"], {"web_search_requests": 1})
        stats = MOCK.stats()
        self.assertEqual((stats["mcp"], stats["generate"]), (1, 0))
        call = self.mcp_calls()[0]
        self.assertEqual((call["host"], call["profile"]["mcp_header"]), ("runtime", PROFILE))
        self.assertEqual(call["body"]["params"],
                         {"name": "web_search", "arguments": {"query": "kiro gateway"}})
        self.assertNotIn("profileArn", call["body"])

    def test_only_web_search_json(self) -> None:
        self.check_only(False)

    def test_only_web_search_stream(self) -> None:
        self.check_only(True)

    def test_only_web_search_buffered_cc_route(self) -> None:
        g = self.start()
        resp, events = g.stream(body(CC_PROMPT, tools=[SEARCH_TOOL]), path="/cc/v1/messages")
        self.assertEqual(resp.status, 200, resp.body[:500])
        blocks = blocks_of_stream(events)
        self.assertEqual([b["type"] for b in blocks],
                         ["text", "server_tool_use", "web_search_tool_result", "text"])
        self.assertEqual(len(blocks[2]["content"]), 2)

    def test_failing_mcp_answers_no_results(self) -> None:
        g = self.start()
        for marker in ("mcp_server_error", "mcp_rpc_error", "mcp_is_error", "mcp_garbage",
                       "mcp_not_json"):
            for stream in (False, True):
                with self.subTest(marker=marker, stream=stream):
                    blocks, stop, usage = self.answer(
                        g, body("q #mock:" + marker, tools=[SEARCH_TOOL]), stream)
                    self.assertEqual(blocks[2]["type"], "web_search_tool_result")
                    self.assertEqual(blocks[2]["content"], [])
                    self.assertIn("No results found.", blocks[3]["text"])
                    self.assertEqual(stop, "end_turn")
        self.assertIn("web search failed", g.log())

    def test_domains_filter_results(self) -> None:
        g = self.start()
        for key, kept in (("allowed_domains", "https://example.com/search/1"),
                          ("blocked_domains", "https://example.org/search/2")):
            with self.subTest(key=key):
                tool = dict(SEARCH_TOOL, **{key: ["example.com"]})
                blocks, _, _ = self.answer(g, body(CC_PROMPT, tools=[tool]), False)
                self.assertEqual([r["url"] for r in blocks[2]["content"]], [kept])

    # --- web_search among other tools -------------------------------------------------

    def check_mixed(self, stream: bool) -> None:
        g = self.start()
        req = body("Please search for kiro gateway", tools=[READ_TOOL, SEARCH_TOOL])
        blocks, stop, usage = self.answer(g, req, stream)
        types = [b["type"] for b in blocks]
        self.assertEqual(types, ["text", "server_tool_use", "web_search_tool_result", "text"])
        self.assertEqual(blocks[0]["text"], "Let me search the web.")
        self.assertEqual(blocks[1]["input"], {"query": "kiro gateway"})
        self.assertEqual(len(blocks[2]["content"]), 2)
        self.assertEqual(blocks[3]["text"], "Searched 1 times. Source: "
                         "https://example.com/search/1. First line: Web search results "
                         "for \"kiro gateway\":")
        self.assertEqual(blocks[3]["citations"], [
            {"type": "web_search_result_location", "url": "https://example.com/search/1",
             "title": "kiro gateway - Overview", "encrypted_index": "",
             "cited_text": "An overview of kiro gateway from the mock search index."}])
        self.assertNotIn("citations", blocks[0])
        self.assertEqual(stop, "end_turn")
        self.assertEqual(usage["server_tool_use"], {"web_search_requests": 1})
        gens = MOCK.requests()
        self.assertEqual((len(gens), len(self.mcp_calls())), (2, 1))
        self.assertIn("web_search", gw.kiro_tools(gens[0]))
        # The follow-up call carries the model's call and the results.
        state = gens[1]["body"]["conversationState"]
        uses = state["history"][-1]["assistantResponseMessage"]["toolUses"]
        self.assertEqual([(u["name"], u["input"]) for u in uses],
                         [("web_search", {"query": "kiro gateway"})])
        results = state["currentMessage"]["userInputMessage"]["userInputMessageContext"][
            "toolResults"]
        text = results[0]["content"][0]["text"]
        for part in ("kiro gateway - Overview", "https://example.com/search/1",
                     "An overview of kiro gateway"):
            self.assertIn(part, text)

    def test_mixed_search_json(self) -> None:
        self.check_mixed(False)

    def test_mixed_search_stream(self) -> None:
        self.check_mixed(True)

    def test_max_uses(self) -> None:
        g = self.start()
        tool = dict(SEARCH_TOOL, max_uses=1)
        req = body("Please search for kiro gateway #mock:searches=2", tools=[READ_TOOL, tool])
        for stream in (False, True):
            with self.subTest(stream=stream):
                MOCK.reset()
                g.register_accounts()
                blocks, stop, usage = self.answer(g, req, stream)
                types = [b["type"] for b in blocks]
                self.assertEqual(types.count("server_tool_use"), 2)
                results = [b for b in blocks if b["type"] == "web_search_tool_result"]
                self.assertEqual(len(results[0]["content"]), 2)
                self.assertEqual(results[1]["content"],
                                 {"type": "web_search_tool_result_error",
                                  "error_code": "max_uses_exceeded"})
                self.assertEqual(len(self.mcp_calls()), 1)
                self.assertEqual(usage["server_tool_use"], {"web_search_requests": 1})
                self.assertTrue(blocks[-1]["text"].startswith("Searched 2 times."))
                last = MOCK.requests()[-1]["body"]["conversationState"]["currentMessage"]
                text = last["userInputMessage"]["userInputMessageContext"]["toolResults"][0][
                    "content"][0]["text"]
                self.assertIn("max_uses", text)

    # --- account kinds ----------------------------------------------------------------

    def test_idc_account_on_legacy_host_sends_no_profile(self) -> None:
        g = self.start(FileAccount("idc", auth_method="idc", file_extra={"profileArn": PROFILE}))
        blocks, _, _ = self.answer(g, body(CC_PROMPT, tools=[SEARCH_TOOL]), False)
        self.assertEqual(len(blocks[2]["content"]), 2)
        call = self.mcp_calls()[0]
        self.assertEqual(call["host"], "legacy")
        self.assertEqual(call["profile"], {"body": None, "header": None, "mcp_header": None,
                                           "query": None})
        self.assertEqual(call["account_kind"], "idc")

    def test_social_account_without_profile_learns_it_first(self) -> None:
        g = self.start(Account("social"))
        blocks, _, _ = self.answer(g, body(CC_PROMPT, tools=[SEARCH_TOOL]), False)
        self.assertEqual(len(blocks[2]["content"]), 2)
        self.assertEqual(len(MOCK.requests("ListAvailableProfiles")), 1)
        call = self.mcp_calls()[0]
        self.assertEqual((call["host"], call["profile"]["mcp_header"]), ("runtime", PROFILE))

    def test_api_key_account(self) -> None:
        g = self.start(KeyAccount("key"))
        blocks, _, _ = self.answer(g, body(CC_PROMPT, tools=[SEARCH_TOOL]), True)
        self.assertEqual(len(blocks[2]["content"]), 2)
        call = self.mcp_calls()[0]
        self.assertEqual((call["auth_kind"], call["headers"].get("tokentype")),
                         ("api_key", "API_KEY"))
        self.assertIsNone(call["profile"]["mcp_header"])
        for a in g.accounts:
            for secret in a.secrets():
                self.assertNotIn(secret, g.log())

    # --- OpenAI Responses and Gemini ------------------------------------------------------

    def responses(self, g: Gateway, req: dict, stream: bool) -> tuple[dict, list]:
        """(the final response object, the stream's events or [])."""
        resp = g.post("/v1/responses", dict(req, stream=stream), auth="bearer")
        self.assertEqual(resp.status, 200, resp.body[:500])
        if not stream:
            return resp.json(), []
        events = [(e.event, json.loads(e.data)) for e in gw.sse_events(resp.chunks)]
        done = [d for name, d in events if name == "response.completed"]
        self.assertEqual(len(done), 1, [name for name, _ in events])
        return done[0]["response"], events

    def check_responses(self, stream: bool) -> None:
        g = self.start()
        req = {"model": gw.MODEL, "input": "Please search for kiro gateway",
               "tools": [{"type": "web_search"}]}
        doc, events = self.responses(g, req, stream)
        types = [item["type"] for item in doc["output"]]
        self.assertEqual(types, ["message", "web_search_call", "message"])
        call = doc["output"][1]
        self.assertEqual(call["status"], "completed")
        self.assertEqual((call["action"]["type"], call["action"]["query"]),
                         ("search", "kiro gateway"))
        self.assertEqual([src["url"] for src in call["action"]["sources"]],
                         ["https://example.com/search/1", "https://example.org/search/2"])
        part = doc["output"][2]["content"][0]
        url = "https://example.com/search/1"
        at = part["text"].index(url)
        self.assertEqual(part["annotations"], [
            {"type": "url_citation", "start_index": at, "end_index": at + len(url),
             "url": url, "title": "kiro gateway - Overview"}])
        self.assertEqual((len(MOCK.requests()), len(self.mcp_calls())), (2, 1))
        if stream:
            names = [name for name, _ in events]
            for name in ("response.web_search_call.in_progress",
                         "response.web_search_call.searching",
                         "response.web_search_call.completed",
                         "response.output_text.annotation.added"):
                self.assertIn(name, names)
            added = [d["item"] for name, d in events if name == "response.output_item.added"]
            self.assertIn("web_search_call", [item["type"] for item in added])

    def check_chat(self, stream: bool) -> None:
        """Chat Completions' web_search_options: url_citation annotations."""
        g = self.start()
        req = {"model": gw.MODEL, "stream": stream,
               "messages": [{"role": "user", "content": "Please search for kiro gateway"}],
               "web_search_options": {"search_context_size": "low",
                                      "user_location": {"type": "approximate",
                                                        "approximate": {"country": "FR"}}}}
        resp = g.post("/v1/chat/completions", req, auth="bearer")
        self.assertEqual(resp.status, 200, resp.body[:500])
        if stream:
            chunks = [json.loads(e.data) for e in gw.sse_events(resp.chunks)
                      if e.data != "[DONE]"]
            deltas = [c["choices"][0]["delta"] for c in chunks if c.get("choices")]
            text = "".join(d.get("content") or "" for d in deltas)
            notes = [a for d in deltas for a in d.get("annotations", [])]
            self.assertFalse(any("tool_calls" in d for d in deltas), deltas)
            finish = [c["choices"][0]["finish_reason"] for c in chunks if c.get("choices")]
            self.assertEqual(finish[-1], "stop")
        else:
            msg = resp.json()["choices"][0]["message"]
            text, notes = msg["content"], msg["annotations"]
            self.assertNotIn("tool_calls", msg)
            self.assertEqual(resp.json()["choices"][0]["finish_reason"], "stop")
        url = "https://example.com/search/1"
        at = text.index(url)
        self.assertEqual(notes, [{"type": "url_citation", "url_citation": {
            "start_index": at, "end_index": at + len(url), "url": url,
            "title": "kiro gateway - Overview"}}])
        self.assertEqual((len(MOCK.requests()), len(self.mcp_calls())), (2, 1))
        self.assertIn("web_search_options.search_context_size dropped", g.log())

    def test_chat_web_search_json(self) -> None:
        self.check_chat(False)

    def test_chat_web_search_stream(self) -> None:
        self.check_chat(True)

    def test_chat_web_search_options_checked(self) -> None:
        g = self.start()
        base = {"model": gw.MODEL, "messages": [{"role": "user", "content": "hi"}]}
        for opts, path in (("yes", "web_search_options"),
                           ({"search_context_size": "huge"},
                            "web_search_options.search_context_size"),
                           ({"user_location": "Paris"}, "web_search_options.user_location")):
            with self.subTest(opts=opts):
                resp = g.post("/v1/chat/completions", dict(base, web_search_options=opts),
                              auth="bearer")
                self.assertEqual(resp.status, 400, resp.body[:300])
                self.assertEqual(resp.json()["error"]["param"], path)
        self.assertEqual(MOCK.requests(), [])
        # Without web_search_options no search is offered and no annotations appear.
        resp = g.post("/v1/chat/completions", base, auth="bearer")
        self.assertEqual(resp.status, 200, resp.body[:300])
        self.assertNotIn("annotations", resp.json()["choices"][0]["message"])

    def test_responses_web_search_json(self) -> None:
        self.check_responses(False)

    def test_responses_web_search_stream(self) -> None:
        self.check_responses(True)

    def test_responses_allowed_domains(self) -> None:
        g = self.start()
        req = {"model": gw.MODEL, "input": "Please search for kiro gateway",
               "tools": [{"type": "web_search",
                          "filters": {"allowed_domains": ["example.org"]}}]}
        doc, _ = self.responses(g, req, False)
        call = [item for item in doc["output"] if item["type"] == "web_search_call"][0]
        self.assertEqual([src["url"] for src in call["action"]["sources"]],
                         ["https://example.org/search/2"])
        bad = g.post("/v1/responses", dict(req, tools=[{"type": "web_search", "filters": {
            "allowed_domains": "example.org"}}]), auth="bearer")
        self.assertEqual(bad.status, 400, bad.body[:300])

    def gemini(self, g: Gateway, req: dict, stream: bool) -> list[dict]:
        path = "/v1beta/models/gemini-2.5-flash:" + (
            "streamGenerateContent?alt=sse" if stream else "generateContent")
        resp = g.post(path, req, {"x-goog-api-key": g.api_key}, auth=None)
        self.assertEqual(resp.status, 200, resp.body[:500])
        if stream:
            return [json.loads(e.data) for e in gw.sse_events(resp.chunks)]
        return [resp.json()]

    def check_gemini(self, stream: bool) -> None:
        g = self.start()
        req = {"contents": [{"role": "user", "parts": [{"text": "Please search for kiro gateway"}]}],
               "tools": [{"googleSearch": {}}]}
        chunks = self.gemini(g, req, stream)
        cand = chunks[-1]["candidates"][0]
        text = "".join(p.get("text", "") for c in chunks
                       for p in c["candidates"][0]["content"].get("parts", []))
        self.assertIn("Source: https://example.com/search/1", text)
        # Segments count bytes of the whole answer's text (Gemini's rule).
        url = "https://example.com/search/1"
        at = text.encode().index(url.encode())
        self.assertEqual(cand["groundingMetadata"], {
            "webSearchQueries": ["kiro gateway"],
            "groundingChunks": [
                {"web": {"uri": "https://example.com/search/1",
                         "title": "kiro gateway - Overview"}},
                {"web": {"uri": "https://example.org/search/2",
                         "title": "kiro gateway - Details"}}],
            "groundingSupports": [
                {"segment": {"startIndex": at, "endIndex": at + len(url), "text": url},
                 "groundingChunkIndices": [0]}]})
        self.assertNotIn("functionCall", json.dumps(chunks))
        for c in chunks[:-1]:
            self.assertNotIn("groundingMetadata", c["candidates"][0])

    def test_gemini_google_search_json(self) -> None:
        self.check_gemini(False)

    def test_gemini_google_search_stream(self) -> None:
        self.check_gemini(True)

    # --- search records in a later request's history --------------------------------------

    def test_history_search_blocks_become_text(self) -> None:
        g = self.start()
        blocks, _, _ = self.answer(g, body(CC_PROMPT, tools=[SEARCH_TOOL]), False)
        history = [{"role": "user", "content": "Please search for kiro gateway"},
                   {"role": "assistant", "content": blocks},
                   {"role": "user", "content": "Summarise that."}]
        resp = g.messages(body("x", messages=history))
        self.assertEqual(resp.status, 200, resp.body[:500])
        sent = json.dumps(MOCK.requests()[-1]["body"]["conversationState"]["history"])
        for part in ("kiro gateway", "kiro gateway - Overview", "https://example.com/search/1",
                     "An overview of kiro gateway from the mock search index."):
            self.assertIn(part, sent)
        # The mixed answer's blocks, with the citations on its last text block.
        blocks, _, _ = self.answer(g, body("Please search for kiro gateway",
                                           tools=[READ_TOOL, SEARCH_TOOL]), False)
        self.assertIn("citations", blocks[-1])
        history[1] = {"role": "assistant", "content": blocks}
        resp = g.messages(body("x", messages=history, tools=[READ_TOOL, SEARCH_TOOL]))
        self.assertEqual(resp.status, 200, resp.body[:500])
        sent = json.dumps(MOCK.requests()[-1]["body"]["conversationState"]["history"])
        for part in ("https://example.org/search/2", "Detailed notes about kiro gateway.",
                     "Searched 1 times."):
            self.assertIn(part, sent)
        # A Responses web_search_call item the gateway produced, sent back as input.
        doc, _ = self.responses(g, {"model": gw.MODEL, "input": "Please search for kiro gateway",
                                    "tools": [{"type": "web_search"}]}, False)
        MOCK.reset()
        g.register_accounts()
        follow = {"model": gw.MODEL, "input": [
            {"role": "user", "content": "Please search for kiro gateway"}] + doc["output"] + [
            {"role": "user", "content": "Thanks"}]}
        resp = g.post("/v1/responses", follow, auth="bearer")
        self.assertEqual(resp.status, 200, resp.body[:500])
        sent = json.dumps(MOCK.requests()[-1]["body"]["conversationState"])
        for part in ("query kiro gateway", "kiro gateway - Details - https://example.org/search/2",
                     "Detailed notes about kiro gateway."):
            self.assertIn(part, sent)


class WebSearchApache(WebSearch):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
