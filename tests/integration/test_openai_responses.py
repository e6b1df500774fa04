#!/usr/bin/python3
"""POST /v1/responses (OpenAI Responses) through a real lighttpd and a real Apache.

For each server, against the mock Kiro:
  - a plain request answers one response object (resp_ id, a message item
    msg_ with output_text, status completed, usage with input/output/total
    tokens and their details), with Bearer auth as OpenAI clients send it;
  - streamed, the events are response.created, response.in_progress, then
    output_item.added, content_part.added, output_text.delta...,
    output_text.done, content_part.done, output_item.done, and
    response.completed carrying the whole response with usage; every event
    has the SSE event name equal to its type and consecutive
    sequence_numbers; item_id / output_index agree across events;
  - function tools: the Kiro request carries the tool spec; a tool call
    comes back as a function_call item (fc_ id, call_id, name, arguments)
    with function_call_arguments.delta/.done, streamed and not;
  - Codex's custom (freeform) tools reach Kiro as a function of one string
    "input" whose description carries the grammar, and a call comes back as
    a custom_tool_call item whose input is that string;
  - a history with function_call / function_call_output,
    custom_tool_call / custom_tool_call_output and reasoning items passes
    the mock's Kiro validation, with the tool uses and results in place;
  - a Codex history with every kind of item (local_shell_call, shell_call,
    apply_patch_call, tool_search_call and their outputs; web_search_call,
    image_generation_call, file_search_call, code_interpreter_call, mcp_call,
    item_reference, compaction, an unknown type) and hosted tools in tools
    is 200: the calls and outputs reach Kiro as tool uses and results, the
    rest as text notes (the web_search tool is offered as the gateway's own
    search, test_web_search.py); a local_shell tool is offered to Kiro and its call
    comes back as a local_shell_call item with an exec action;
  - instructions and developer messages become Kiro's system text;
  - an input_image data: URL, or an http: URL the gateway fetches, becomes
    a Kiro image; a URL that fails is 400 naming it; a file_id image is 400;
    a 21st http URL in one request is 400 naming it, after 20 fetches and
    with no upstream call, and the next request may fetch 20 again;
  - reasoning.effort turns thinking on: the thinking (from <thinking> tags
    or Kiro's native reasoning events) comes back as a reasoning item (rs_
    id, summary_text) with reasoning_summary_text events;
  - previous_response_id is 400 with param previous_response_id; a bad field
    is 400 naming it; an upstream 429 is 429 rate_limit_exceeded with
    the relay's Retry-After; an exception after the stream started ends
    it with response.failed.

Run: /usr/bin/python3 tests/integration/test_openai_responses.py
"""

from __future__ import annotations

import base64
import http.server
import json
import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway as gw  # noqa: E402
from gateway import Account, Gateway, Mock  # noqa: E402

MOCK: Mock | None = None
MODEL = "claude-sonnet-4-5"
# A 1x1 PNG.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)).decode()
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}
PATCH = {"type": "custom", "name": "apply_patch", "description": "Apply a patch",
         "format": {"type": "grammar", "syntax": "lark",
                    "definition": "start: begin_patch hunk+ end_patch"}}


IMAGES: "ImageServer | None" = None


class ImageServer:
    """Serves the PNG at /cat.png over http on loopback; anything else 404.

    hits counts the requests it got."""

    def __init__(self):
        images = self
        self.hits = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                images.hits += 1
                data = base64.b64decode(PNG)
                if self.path != "/cat.png":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def setUpModule() -> None:
    global MOCK, IMAGES
    MOCK = Mock().start()
    IMAGES = ImageServer()


def tearDownModule() -> None:
    if MOCK is not None:
        MOCK.stop()
    if IMAGES is not None:
        IMAGES.stop()


def req(prompt="Say hello", **extra) -> dict:
    r = {"model": MODEL, "input": prompt}
    r.update(extra)
    return r


def events_of(resp) -> list[tuple[str, dict]]:
    return [(e.event, json.loads(e.data)) for e in gw.sse_events(resp.chunks)]


class _Responses:
    server: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.missing = gw.SERVERS[cls.server].missing()
        if cls.missing is None:
            # The image tests fetch from a loopback server.
            cls.gw = cls.enterClassContext(Gateway(
                cls.server, MOCK, accounts=[Account("responses")],
                config={"imageFetch": {"allowPrivate": True}}))

    def setUp(self) -> None:
        if self.missing is not None:
            self.fail(self.missing)
        MOCK.reset()
        self.gw.register_accounts()

    def post(self, body: dict):
        return self.gw.post("/v1/responses", body, auth="bearer")

    def stream(self, body: dict):
        resp = self.post(dict(body, stream=True))
        self.assertEqual(resp.status, 200, resp.body[:500])
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("text/event-stream"))
        events = events_of(resp)
        self.check_events(events)
        return events

    def check_events(self, events) -> None:
        names = [n for n, _ in events]
        self.assertEqual(names[:2], ["response.created", "response.in_progress"], names)
        self.assertIn(names[-1], ("response.completed", "response.incomplete",
                                  "response.failed"), names)
        for i, (name, data) in enumerate(events):
            self.assertEqual(data["type"], name)
            self.assertEqual(data["sequence_number"], i)
        rid = events[0][1]["response"]["id"]
        self.assertRegex(rid, r"^resp_[0-9a-f]{32}$")
        self.assertEqual(events[-1][1]["response"]["id"], rid)
        # Every item event names an item that was added at that index.
        added = {}
        for name, data in events:
            if name == "response.output_item.added":
                added[data["output_index"]] = data["item"]["id"]
            elif "item_id" in data:
                self.assertEqual(added.get(data["output_index"]), data["item_id"], name)
            elif name == "response.output_item.done":
                self.assertEqual(added[data["output_index"]], data["item"]["id"])

    def kiro_request(self) -> dict:
        reqs = MOCK.requests()
        self.assertTrue(reqs)
        self.assertTrue(reqs[-1]["validation"]["ok"], reqs[-1]["validation"])
        return reqs[-1]["body"]["conversationState"]

    def assert_error(self, resp, status: int, param: str | None, contains: str = "",
                     code: str | None = None) -> dict:
        self.assertEqual(resp.status, status, resp.body[:500])
        err = resp.json()["error"]
        self.assertEqual(err["param"], param, err)
        self.assertIn(contains, err["message"])
        if code is not None:
            self.assertEqual(err["code"], code, err)
        return err

    # --- text -----------------------------------------------------------

    def test_plain_response_object(self) -> None:
        resp = self.post(req("plain words"))
        self.assertEqual(resp.status, 200, resp.body[:500])
        doc = resp.json()
        self.assertRegex(doc["id"], r"^resp_[0-9a-f]{32}$")
        self.assertEqual(doc["object"], "response")
        self.assertEqual(doc["status"], "completed")
        self.assertEqual(doc["model"], MODEL)
        self.assertEqual(len(doc["output"]), 1)
        item = doc["output"][0]
        self.assertEqual(item["type"], "message")
        self.assertRegex(item["id"], r"^msg_[0-9a-f]{32}$")
        self.assertEqual(item["role"], "assistant")
        self.assertEqual(item["content"][0]["type"], "output_text")
        self.assertIn("You said: plain words", item["content"][0]["text"])
        u = doc["usage"]
        self.assertGreater(u["input_tokens"], 0)
        self.assertGreater(u["output_tokens"], 0)
        self.assertEqual(u["total_tokens"], u["input_tokens"] + u["output_tokens"])
        self.assertEqual(u["input_tokens_details"], {"cached_tokens": 0})
        self.assertIn("reasoning_tokens", u["output_tokens_details"])

    def test_stream_event_sequence(self) -> None:
        events = self.stream(req("stream me"))
        names = [n for n, _ in events]
        self.assertEqual(names[2:5], ["response.output_item.added",
                                      "response.content_part.added",
                                      "response.output_text.delta"], names)
        tail = ["response.output_text.done", "response.content_part.done",
                "response.output_item.done", "response.completed"]
        self.assertEqual(names[-4:], tail, names)
        text = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
        self.assertIn("You said: stream me", text)
        self.assertEqual(events[-4][1]["text"], text)
        done = events[-1][1]["response"]
        self.assertEqual(done["status"], "completed")
        self.assertEqual(done["output"][0]["content"][0]["text"], text)
        self.assertEqual(done["usage"]["total_tokens"], done["usage"]["input_tokens"] +
                         done["usage"]["output_tokens"])
        self.assertEqual(events[0][1]["response"]["status"], "in_progress")

    def test_instructions_and_developer_messages_are_system(self) -> None:
        body = req([{"type": "message", "role": "developer",
                     "content": [{"type": "input_text", "text": "DEV-RULE-7"}]},
                    {"role": "user", "content": "hello there"}],
                   instructions="INSTR-RULE-3")
        resp = self.post(body)
        self.assertEqual(resp.status, 200, resp.body[:500])
        state = json.dumps(self.kiro_request())
        self.assertIn("INSTR-RULE-3", state)
        self.assertIn("DEV-RULE-7", state)

    # --- tools ----------------------------------------------------------

    def test_function_call_streamed(self) -> None:
        MOCK.script({"kind": "tool_use", "chunks": ["Checking."],
                     "tools": [{"name": "get_weather", "id": "tooluse_w1",
                                "input_fragments": ['{"city":', '"Paris"}']}]})
        events = self.stream(req("weather?", tools=[WEATHER], tool_choice="auto"))
        spec = self.kiro_request()["currentMessage"]["userInputMessage"][
            "userInputMessageContext"]["tools"][0]["toolSpecification"]
        self.assertEqual(spec["name"], "get_weather")
        calls = [d["item"] for n, d in events if n == "response.output_item.done"
                 and d["item"]["type"] == "function_call"]
        self.assertEqual(len(calls), 1)
        call = calls[0]
        self.assertRegex(call["id"], r"^fc_[0-9a-f]{32}$")
        self.assertEqual(call["call_id"], "tooluse_w1")
        self.assertEqual(call["name"], "get_weather")
        self.assertEqual(json.loads(call["arguments"]), {"city": "Paris"})
        deltas = "".join(d["delta"] for n, d in events
                         if n == "response.function_call_arguments.delta")
        self.assertEqual(json.loads(deltas), {"city": "Paris"})
        done = [d for n, d in events if n == "response.function_call_arguments.done"]
        self.assertEqual(json.loads(done[0]["arguments"]), {"city": "Paris"})
        final = events[-1][1]["response"]
        self.assertEqual([i["type"] for i in final["output"]], ["message", "function_call"])

    def test_function_call_json(self) -> None:
        MOCK.script({"kind": "tool_use", "chunks": [],
                     "tools": [{"name": "get_weather", "id": "tooluse_w2",
                                "input": {"city": "Oslo"}}]})
        resp = self.post(req("weather?", tools=[WEATHER]))
        self.assertEqual(resp.status, 200, resp.body[:500])
        calls = [i for i in resp.json()["output"] if i["type"] == "function_call"]
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0]["call_id"], "tooluse_w2")
        self.assertEqual(json.loads(calls[0]["arguments"]), {"city": "Oslo"})

    def test_custom_tool_call(self) -> None:
        patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n"
        MOCK.script({"kind": "tool_use", "chunks": [],
                     "tools": [{"name": "apply_patch", "id": "tooluse_p1",
                                "input": {"input": patch}}]})
        events = self.stream(req("patch it", tools=[PATCH, WEATHER]))
        tools = self.kiro_request()["currentMessage"]["userInputMessage"][
            "userInputMessageContext"]["tools"]
        spec = [t["toolSpecification"] for t in tools
                if t["toolSpecification"]["name"] == "apply_patch"][0]
        schema = spec["inputSchema"]["json"]
        self.assertEqual(schema["required"], ["input"])
        self.assertEqual(schema["properties"]["input"]["type"], "string")
        self.assertIn("begin_patch hunk+", schema["properties"]["input"]["description"])
        items = [d["item"] for n, d in events if n == "response.output_item.done"]
        self.assertEqual(len(items), 1)
        self.assertEqual(items[0]["type"], "custom_tool_call")
        self.assertEqual(items[0]["call_id"], "tooluse_p1")
        self.assertEqual(items[0]["name"], "apply_patch")
        self.assertEqual(items[0]["input"], patch)
        done = [d for n, d in events if n == "response.custom_tool_call_input.done"]
        self.assertEqual(done[0]["input"], patch)

    def test_tool_history_round_trip(self) -> None:
        history = [
            {"role": "user", "content": "weather in Paris, then patch"},
            {"type": "reasoning", "id": "rs_1", "summary": [
                {"type": "summary_text", "text": "thinking about it"}],
             "encrypted_content": None},
            {"type": "message", "role": "assistant",
             "content": [{"type": "output_text", "text": "Checking."}]},
            {"type": "function_call", "call_id": "call_a", "name": "get_weather",
             "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "call_a", "output": "sunny, 21C"},
            {"type": "custom_tool_call", "call_id": "call_b", "name": "apply_patch",
             "input": "*** Begin Patch\n*** End Patch\n"},
            {"type": "custom_tool_call_output", "call_id": "call_b",
             "output": [{"type": "input_text", "text": "Done!"}]},
        ]
        resp = self.post(req(history, tools=[WEATHER, PATCH], store=False))
        self.assertEqual(resp.status, 200, resp.body[:500])
        state = self.kiro_request()
        uses = [u for h in state["history"] if "assistantResponseMessage" in h
                for u in h["assistantResponseMessage"].get("toolUses") or []]
        self.assertEqual({u["toolUseId"]: u["input"] for u in uses},
                         {"call_a": {"city": "Paris"},
                          "call_b": {"input": "*** Begin Patch\n*** End Patch\n"}})
        blob = json.dumps(state)
        self.assertIn("sunny, 21C", blob)
        self.assertIn("Done!", blob)
        self.assertNotIn("thinking about it", blob)

    def test_every_input_item_kind_in_history(self) -> None:
        history = [
            {"type": "item_reference", "id": "msg_old"},
            {"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAA"},
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "look around, then fix the build"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed",
             "action": {"type": "search", "query": "lighttpd stream-response-body",
                        "sources": [{"type": "url", "url": "https://redmine.lighttpd.net/x"}]}},
            {"type": "image_generation_call", "id": "ig_1", "status": "completed",
             "result": PNG, "revised_prompt": "a build diagram"},
            {"type": "file_search_call", "id": "fs_1", "status": "completed",
             "queries": ["build flags"],
             "results": [{"filename": "BUILD.md", "text": "use --enable-werror", "score": 1}]},
            {"type": "code_interpreter_call", "id": "ci_1", "status": "completed",
             "container_id": "cntr", "code": "print(2+2)",
             "outputs": [{"type": "logs", "logs": "4"}]},
            {"type": "mcp_call", "id": "mcp_1", "server_label": "gh", "name": "list_prs",
             "arguments": "{}", "output": "PR 12 open", "error": None},
            {"type": "local_shell_call", "id": "lsh_1", "call_id": "call_ls", "status": "completed",
             "action": {"type": "exec", "command": ["make", "-k"], "env": {},
                        "working_directory": "/src", "timeout_ms": 60000}},
            {"type": "shell_call", "id": "sh_1", "call_id": "call_sh", "status": "completed",
             "action": {"commands": ["git status"], "timeout_ms": 1000}},
            {"type": "apply_patch_call", "id": "ap_1", "call_id": "call_ap", "status": "completed",
             "operation": {"type": "update_file", "path": "a.c", "diff": "@@ -1 +1 @@\n-x\n+y"}},
            {"type": "tool_search_call", "id": "ts_1", "call_id": "call_ts",
             "execution": "client", "status": "completed", "arguments": {"query": "deploy"}},
            {"type": "local_shell_call_output", "id": "call_ls",
             "output": "a.c:3: error: expected ';'"},
            {"type": "shell_call_output", "call_id": "call_sh",
             "output": [{"stdout": "On branch main", "stderr": "",
                         "outcome": {"type": "exit", "exit_code": 0}}]},
            {"type": "apply_patch_call_output", "call_id": "call_ap", "status": "completed",
             "output": "patched a.c"},
            {"type": "tool_search_output", "id": "tso_1", "call_id": "call_ts",
             "execution": "client", "status": "completed",
             "tools": [{"type": "function", "name": "deploy", "description": "Ship it"}]},
            {"type": "future_widget_call", "id": "fw_1"},
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "and now?"}]},
        ]
        tools = [{"type": "local_shell"}, {"type": "web_search"},
                 {"type": "image_generation"}, {"type": "tool_search"},
                 {"type": "file_search", "vector_store_ids": ["vs_1"]},
                 {"type": "code_interpreter", "container": {"type": "auto"}},
                 {"type": "mcp", "server_label": "gh", "server_url": "https://mcp.example"},
                 WEATHER]
        resp = self.post(req(history, tools=tools, store=False))
        self.assertEqual(resp.status, 200, resp.body[:500])
        state = self.kiro_request()
        uses = {u["toolUseId"]: (u["name"], u["input"])
                for h in state["history"] if "assistantResponseMessage" in h
                for u in h["assistantResponseMessage"].get("toolUses") or []}
        self.assertEqual(uses["call_ls"], ("local_shell", {
            "command": ["make", "-k"], "env": {}, "working_directory": "/src",
            "timeout_ms": 60000}))
        self.assertEqual(uses["call_sh"][0], "shell")
        self.assertEqual(uses["call_ap"][1]["path"], "a.c")
        self.assertEqual(uses["call_ts"], ("tool_search", {"query": "deploy"}))
        ctx = state["currentMessage"]["userInputMessage"]["userInputMessageContext"]
        results = {r["toolUseId"]: json.dumps(r["content"]) for r in ctx["toolResults"]}
        self.assertEqual(set(results), {"call_ls", "call_sh", "call_ap", "call_ts"})
        self.assertIn("expected ';'", results["call_ls"])
        self.assertIn("On branch main", results["call_sh"])
        self.assertIn("patched a.c", results["call_ap"])
        self.assertIn("deploy: Ship it", results["call_ts"])
        names = [t["toolSpecification"]["name"] for t in ctx["tools"]]
        self.assertIn("local_shell", names)
        self.assertIn("get_weather", names)
        for hosted in ("image_generation", "file_search", "code_interpreter"):
            self.assertNotIn(hosted, names)
        # The hosted web_search is run by the gateway (test_web_search.py).
        self.assertEqual(names.count("web_search"), 1)
        blob = json.dumps(state)
        for note in ("[web search: query lighttpd stream-response-body]",
                     "https://redmine.lighttpd.net/x", "[image generated: a build diagram]",
                     "use --enable-werror", "print(2+2)", "PR 12 open", "msg_old",
                     "compacted", "[future_widget_call item]"):
            self.assertIn(note, blob)
        self.assertNotIn(PNG, blob)
        log = self.gw.log()
        self.assertIn('tools[2]: "image_generation" tool dropped', log)
        self.assertNotIn('"web_search" tool dropped', log)
        self.assertIn('"future_widget_call" items are not known here', log)

    def test_local_shell_call_comes_back(self) -> None:
        MOCK.script({"kind": "tool_use", "chunks": [],
                     "tools": [{"name": "local_shell", "id": "tooluse_sh1",
                                "input_fragments": ['{"command":["ls",', '"-la"],',
                                                    '"working_directory":"/tmp"}']}]})
        events = self.stream(req("list files", tools=[{"type": "local_shell"}]))
        tools = self.kiro_request()["currentMessage"]["userInputMessage"][
            "userInputMessageContext"]["tools"]
        spec = tools[0]["toolSpecification"]
        self.assertEqual(spec["name"], "local_shell")
        self.assertEqual(spec["inputSchema"]["json"]["required"], ["command"])
        items = [d["item"] for n, d in events if n == "response.output_item.done"]
        self.assertEqual(len(items), 1)
        item = items[0]
        self.assertEqual(item["type"], "local_shell_call")
        self.assertRegex(item["id"], r"^lsh_[0-9a-f]{32}$")
        self.assertEqual(item["call_id"], "tooluse_sh1")
        self.assertEqual(item["status"], "completed")
        self.assertEqual(item["action"], {"type": "exec", "command": ["ls", "-la"],
                                          "env": {}, "working_directory": "/tmp"})
        final = events[-1][1]["response"]
        self.assertEqual(final["output"][0]["action"]["command"], ["ls", "-la"])

    # --- images and thinking -------------------------------------------

    def test_image_data_url(self) -> None:
        body = req([{"role": "user", "content": [
            {"type": "input_text", "text": "what is this?"},
            {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}]}])
        resp = self.post(body)
        self.assertEqual(resp.status, 200, resp.body[:500])
        images = self.kiro_request()["currentMessage"]["userInputMessage"]["images"]
        self.assertEqual(len(images), 1)
        self.assertEqual(images[0]["format"], "png")
        self.assertEqual(base64.b64decode(images[0]["source"]["bytes"]),
                         base64.b64decode(PNG))

    def test_image_http_url_fetched(self) -> None:
        body = req([{"role": "user", "content": [
            {"type": "input_text", "text": "and this?"},
            {"type": "input_image", "image_url": IMAGES.url + "/cat.png"}]}])
        resp = self.post(body)
        self.assertEqual(resp.status, 200, resp.body[:500])
        images = self.kiro_request()["currentMessage"]["userInputMessage"]["images"]
        self.assertEqual([i["format"] for i in images], ["png"])
        self.assertEqual(base64.b64decode(images[0]["source"]["bytes"]),
                         base64.b64decode(PNG))
        body["input"][0]["content"][1]["image_url"] = IMAGES.url + "/missing.png"
        self.assert_error(self.post(body), 400, "input[0].content[1].image_url", "127.0.0.1")

    def test_image_fetches_capped_per_request(self) -> None:
        parts = [{"type": "input_image", "image_url": IMAGES.url + "/cat.png"}] * 21
        body = req([{"role": "user", "content": [{"type": "input_text", "text": "all"}] + parts}])
        for _ in range(2):  # the count starts afresh with each request
            hits = IMAGES.hits
            self.assert_error(self.post(body), 400, "input[0].content[21].image_url",
                              "too many image URLs to fetch in one request (at most 20, 64 MiB "
                              "in all)", code=None)
            self.assertEqual(IMAGES.hits - hits, 20)
        self.assertEqual(MOCK.stats()["generate"], 0)
        body["input"][0]["content"] = body["input"][0]["content"][:21]
        resp = self.post(body)
        self.assertEqual(resp.status, 200, resp.body[:500])
        images = self.kiro_request()["currentMessage"]["userInputMessage"]["images"]
        self.assertEqual(len(images), 20)

    def test_image_file_id_refused(self) -> None:
        body = req([{"role": "user", "content": [
            {"type": "input_image", "file_id": "file-123"}]}])
        self.assert_error(self.post(body), 400, "input[0].content[0].file_id",
                          "not supported")
        self.assertEqual(MOCK.stats()["generate"], 0)

    def test_reasoning_item_streamed(self) -> None:
        MOCK.script("thinking")
        events = self.stream(req("think first", reasoning={"effort": "high"}))
        names = [n for n, _ in events]
        self.assertIn("response.reasoning_summary_text.delta", names)
        items = [d["item"] for n, d in events if n == "response.output_item.done"]
        self.assertEqual([i["type"] for i in items], ["reasoning", "message"])
        self.assertRegex(items[0]["id"], r"^rs_[0-9a-f]{32}$")
        self.assertEqual(items[0]["summary"][0]["type"], "summary_text")
        self.assertIn("The user wants a greeting.", items[0]["summary"][0]["text"])
        self.assertEqual(items[1]["content"][0]["text"], "Hi there!")
        system = json.dumps(self.kiro_request()["history"][0])
        self.assertIn("<thinking_effort>high</thinking_effort>", system)

    def test_native_reasoning_events_are_a_reasoning_item(self) -> None:
        MOCK.script({"preset": "reasoning", "reasoning": ["Weighing ", "options."],
                     "chunks": ["Decided."]})
        events = self.stream(req("reason natively", reasoning={"effort": "medium"}))
        items = [d["item"] for n, d in events if n == "response.output_item.done"]
        self.assertEqual([i["type"] for i in items], ["reasoning", "message"])
        self.assertEqual(items[0]["summary"][0]["text"], "Weighing options.")
        self.assertEqual(items[1]["content"][0]["text"], "Decided.")

    def test_reasoning_item_json(self) -> None:
        MOCK.script("thinking")
        resp = self.post(req("think first", reasoning={"effort": "low"}))
        self.assertEqual(resp.status, 200, resp.body[:500])
        out = resp.json()["output"]
        self.assertEqual([i["type"] for i in out], ["reasoning", "message"])
        self.assertIn("greeting", out[0]["summary"][0]["text"])

    # --- errors ---------------------------------------------------------

    def test_previous_response_id_refused(self) -> None:
        err = self.assert_error(self.post(req("again", previous_response_id="resp_abc")),
                                400, "previous_response_id", "store:false")
        self.assertEqual(err["type"], "invalid_request_error")

    def test_bad_field_named(self) -> None:
        self.assert_error(self.post(req([{"role": "user", "content": 5}])), 400,
                          "input[0].content", "must be a string or an array")
        self.assert_error(self.post(req("x", tools=[{"type": "function"}])), 400,
                          "tools[0].name", "field required")
        self.assert_error(self.post(req("x", reasoning={"effort": "huge"})), 400,
                          "reasoning.effort")
        self.assert_error(self.post({"input": "x"}), 400, "model", "field required")
        self.assertEqual(MOCK.stats()["generate"], 0)

    def test_no_key_is_401(self) -> None:
        resp = self.gw.post("/v1/responses", req("x"), auth=None)
        self.assertEqual(resp.status, 401, resp.body[:300])

    def test_upstream_throttle_is_429(self) -> None:
        MOCK.script("throttle", times=-1)
        resp = self.post(req("throttled"))
        err = self.assert_error(resp, 429, None, code="rate_limit_exceeded")
        self.assertEqual(err["type"], "rate_limit_error")
        # The relay's Retry-After for rate limits reaches the client.
        self.assertEqual(resp.headers.get("Retry-After"), "5")
        MOCK.call("POST", "scripts/clear", {})

    def test_exception_mid_stream_is_response_failed(self) -> None:
        MOCK.script({"preset": "exception", "chunks": ["partial "]})
        events = self.stream(req("fail later"))
        name, data = events[-1]
        self.assertEqual(name, "response.failed")
        self.assertEqual(data["response"]["status"], "failed")
        self.assertTrue(data["response"]["error"]["message"])
        self.assertEqual(data["response"]["error"]["code"], "rate_limit_exceeded")


class LighttpdResponses(_Responses, unittest.TestCase):
    server = "lighttpd"


class ApacheResponses(_Responses, unittest.TestCase):
    server = "apache"


if __name__ == "__main__":
    unittest.main(verbosity=2)
