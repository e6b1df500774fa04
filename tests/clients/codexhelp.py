#!/usr/bin/python3
"""Helpers for the Codex CLI tests: its config, running `codex exec`, a Responses capture server.

Codex.  `codex_bin()` is the `codex` of the pinned @openai/codex
(node_modules from clienthelp.node_modules()).  `codex_home()` writes
$HOME/.codex/config.toml with a custom provider (Codex 0.169 ignores
OPENAI_BASE_URL, and its built-in provider tries a WebSocket first):

    model = "<model>"
    model_provider = "kiro"
    [model_providers.kiro]
    name = "kiro-fcgi"
    base_url = "<gateway>/v1"
    env_key = "KIRO_API_KEY"
    wire_api = "responses"

`run_codex()` runs `codex exec --skip-git-repo-check PROMPT` with stdin from
/dev/null (Codex reads stdin when it is open) in a fresh environment.

Capture server.  `ResponsesCapture` records every request and answers
POST .../v1/responses with a minimal Responses SSE stream whose text is
CAPTURE_TEXT.

Recording the fixture (done once, the result is committed):

    /usr/bin/python3 tests/clients/codexhelp.py record-fixture \\
        [tests/fixtures/codex-request.json]

runs `codex exec 'hi'` (model gpt-5.1-codex) against a ResponsesCapture and
writes Codex's POST /v1/responses as {"client", "recorded", "method", "path",
"headers", "body"}: the key replaced by "sk-test", hop-by-hop headers
dropped, the body kept as parsed JSON.
tests/integration/test_codex_replay.py replays it without node.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import clienthelp  # noqa: E402
from clienthelp import (SRCDIR, NodeModulesError, RecordingHandler,  # noqa: E402
                        RecordingServer, node_modules)

FIXTURE = SRCDIR / "tests" / "fixtures" / "codex-request.json"
CAPTURE_TEXT = "Captured by the kiro-fcgi Responses capture server."
RECORD_MODEL = "gpt-5.1-codex"


def codex_bin(modules: Path) -> Path:
    """The codex executable of the installed @openai/codex."""
    for path in (modules / ".bin" / "codex", modules / "@openai" / "codex" / "bin" / "codex.js"):
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise NodeModulesError(f"no codex executable under {modules}")


def codex_home(home: Path, base_url: str, model: str, extra: str = "") -> None:
    """$HOME/.codex/config.toml pointing Codex at base_url (ending in /v1).

    extra: more top-level lines, e.g. 'model_reasoning_effort = "high"\n'.
    """
    conf = home / ".codex"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "config.toml").write_text(
        f'model = "{model}"\n' + extra +
        'model_provider = "kiro"\n\n'
        '[model_providers.kiro]\n'
        'name = "kiro-fcgi"\n'
        f'base_url = "{base_url}"\n'
        'env_key = "KIRO_API_KEY"\n'
        'wire_api = "responses"\n')


def codex_env(home: Path, api_key: str) -> dict[str, str]:
    """The complete environment of a `codex exec` run."""
    return {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home),
            "LANG": "C.UTF-8", "KIRO_API_KEY": api_key, "NO_COLOR": "1",
            "CODEX_HOME": str(home / ".codex")}


def run_codex(codex: Path, prompt: str, env: dict[str, str], cwd: Path,
              extra: tuple[str, ...] = (), timeout: float = 120.0) -> subprocess.CompletedProcess:
    """codex exec --skip-git-repo-check [extra] PROMPT </dev/null."""
    argv = [str(codex), "exec", "--skip-git-repo-check", *extra, prompt]
    try:
        return subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"codex exec did not finish within {timeout} s; "
                             f"stdout {exc.stdout!r} stderr {exc.stderr!r}") from None


# --- capture server ------------------------------------------------------------------

def _answer(model: str) -> bytes:
    item = {"id": "msg_capture", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": CAPTURE_TEXT, "annotations": []}]}
    resp = {"id": "resp_capture", "object": "response", "status": "in_progress",
            "model": model, "output": []}
    done = dict(resp, status="completed", output=[item],
                usage={"input_tokens": 10, "output_tokens": 8, "total_tokens": 18,
                       "input_tokens_details": {"cached_tokens": 0},
                       "output_tokens_details": {"reasoning_tokens": 0}})
    events = [
        {"type": "response.created", "response": resp},
        {"type": "response.output_item.added", "output_index": 0,
         "item": dict(item, status="in_progress", content=[])},
        {"type": "response.output_text.delta", "item_id": "msg_capture", "output_index": 0,
         "content_index": 0, "delta": CAPTURE_TEXT},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": done},
    ]
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(dict(e, sequence_number=i))}\n\n"
                    .encode() for i, e in enumerate(events))


class _Handler(RecordingHandler):

    def do_GET(self):
        self._record(b"")
        self._send(404, "application/json", b'{"error":{"message":"not found"}}')

    def do_POST(self):
        body = self._read_and_record()
        if self.path.split("?")[0].endswith("/v1/responses"):
            try:
                model = json.loads(body).get("model", "unknown")
            except ValueError:
                model = "unknown"
            self._send(200, "text/event-stream", _answer(model))
            return
        self._send(404, "application/json", b'{"error":{"message":"not found"}}')


class ResponsesCapture(RecordingServer):
    """Answers POST .../v1/responses; base_url ends in /v1."""

    def __init__(self) -> None:
        super().__init__(_Handler, "/v1")


def sanitize(entry: dict) -> dict:
    """A captured POST as a fixture: the key replaced, hop-by-hop headers dropped,
    header names in lower case."""
    return clienthelp.sanitize(entry, lower_names=True)


def record_fixture(out: Path) -> None:
    codex = codex_bin(node_modules())
    version = subprocess.run([str(codex), "--version"], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=30).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="kiro-codex-capture-") as tmp:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        home.mkdir()
        work.mkdir()
        with ResponsesCapture() as cap:
            codex_home(home, cap.base_url, RECORD_MODEL)
            done = run_codex(codex, "hi", codex_env(home, "sk-codex-capture-0000"), work)
            if done.returncode != 0 or CAPTURE_TEXT not in done.stdout:
                raise AssertionError(f"codex exec exited {done.returncode}: "
                                     f"{done.stdout[-2000:]} {done.stderr[-2000:]}")
            posts = [e for e in cap.captured if e["method"] == "POST"]
    if len(posts) != 1:
        raise AssertionError(f"expected one POST, got {[e['path'] for e in cap.captured]}")
    fixture = {"client": version,
               "recorded": "codex exec --skip-git-repo-check 'hi' (model gpt-5.1-codex) "
                           "against tests/clients/codexhelp.py ResponsesCapture",
               **sanitize(posts[0])}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out}: {fixture['method']} {fixture['path']}, "
          f"{len(posts[0]['body'])} bytes, {len(fixture['body'].get('tools', []))} tools")


if __name__ == "__main__":
    if len(sys.argv) in (2, 3) and sys.argv[1] == "record-fixture":
        record_fixture(Path(sys.argv[2]) if len(sys.argv) == 3 else FIXTURE)
    else:
        sys.exit("usage: codexhelp.py record-fixture [OUT.json]")
