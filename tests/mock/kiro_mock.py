#!/usr/bin/python3
"""Mock Kiro / CodeWhisperer upstream for kiro-fcgi tests (Python 3 stdlib only).

Built from doc/protocol.md. Upstream operations are matched on the last path
segment, so they work at the root and under any prefix (``/api/...``):

  POST generateAssistantResponse   bearer auth, request validation (section 3.5),
                                   AWS event-stream answer, scripted scenarios
  GET  getUsageLimits              section 9.1 body, per-account values
  GET  ListAvailableModels         section 3.2 catalogue, maxResults/nextToken paging
  POST mcp                         JSON-RPC tools/call web_search (section 10)
  POST refreshToken                social refresh (section 8.1), rotation
  POST token                       SSO-OIDC CreateToken: refresh_token and device_code
  POST client/register             SSO-OIDC RegisterClient (section 1.1)
  POST device_authorization        SSO-OIDC StartDeviceAuthorization
  GET  login                       social PKCE login, 302 to redirect_uri
  POST oauth/token                 social code exchange, S256 check
  POST ListAvailableProfiles       social profiles; Builder ID -> 403 (section 12)

A first path segment /runtime or /legacy picks one of the two 2026 hosts
(section 12): runtime also answers POST / with x-amz-target, and both apply
the profileArn, IdC and API-key rules. Without such a prefix nothing changes.

A control API under ``/_mock/`` lets tests register accounts, revoke tokens,
script responses, change settings, read the request log and counters, and
approve device codes. See README.md beside this file.

Usage: kiro_mock.py --port 0 --port-file FILE [--host 127.0.0.1] [--quiet]
The port file is written atomically once the socket is listening.
"""

import argparse
import base64
import binascii
import copy
import hashlib
import json
import os
import re
import secrets
import select
import signal
import socket
import string
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eventstream as es  # noqa: E402
import tokentruth  # noqa: E402

# ------------------------------------------------------------------ constants

BEARER_INVALID = {"message": "The bearer token included in the request is invalid.",
                  "reason": None}
IMPROPERLY_FORMED = {"message": "Improperly formed request.", "reason": None}
INPUT_TOO_LONG = {"message": "Input is too long.",
                  "reason": "CONTENT_LENGTH_EXCEEDS_THRESHOLD"}
INVALID_GRANT = {"error": "invalid_grant",
                 "error_description": "Invalid refresh token provided"}
INVALID_CLIENT = {"error": "invalid_client",
                  "error_description": "Invalid client credentials"}
DEFAULT_PROFILE_ARN = "arn:aws:codewhisperer:us-east-1:111112222233:profile/MOCK"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ALNUM = string.ascii_letters + string.digits

DEFAULT_SETTINGS = {
    "max_body_bytes": 2000000,   # larger bodies get 400 "Input is too long."
    "device_slow_down": 0,       # slow_down answers per new device code
    "device_expires_in": 600,
    "device_interval": 1,
    "login_error": None,         # e.g. "access_denied": /login redirects with ?error=
}

METERING = {"unit": "credit", "unitPlural": "credits", "usage": 0.01}
# contextUsagePercentage when nothing was counted (a stream with no request body).
DEFAULT_CONTEXT_USAGE = 1.5
# A scenario's default "context_usage": the request's reference tokens (tokentruth.py)
# over the model's window, x 100.
AUTO_CONTEXT_USAGE = "auto"
THINKING_CHUNKS = ["<thinking>\nThe user wants", " a greeting.</thinking>\n\nHi", " there!"]

# Models: (modelId, modelName, maxInputTokens, rateMultiplier)
MODELS = [
    ("auto", "Auto", 200000, 1.0),
    ("claude-sonnet-4", "Claude Sonnet 4", 200000, 1.3),
    ("claude-sonnet-4.5", "Claude Sonnet 4.5", 200000, 1.3),
    ("claude-sonnet-4.6", "Claude Sonnet 4.6", 1000000, 1.3),
    ("claude-haiku-4.5", "Claude Haiku 4.5", 200000, 0.4),
    ("claude-opus-4.5", "Claude Opus 4.5", 200000, 2.2),
    ("claude-opus-4.6", "Claude Opus 4.6", 1000000, 2.2),
]


def _http(status, body, **extra):
    spec = {"kind": "http_error", "status": status, "body": body}
    spec.update(extra)
    return spec


# Built-in scenarios: usable as script presets and as #mock:<name> markers.
SCENARIOS = {
    "text": {"kind": "text"},
    "tool_use": {"kind": "tool_use", "chunks": ["Let me read it."], "tools": [
        {"name": "read_file", "id": "tooluse_MockAbCdEf0123456789",
         "input_fragments": ["{\"path\":", "\"/tmp/a.txt\"}"]}]},
    "tool_use_interleaved": {"kind": "tool_use", "chunks": ["Two tools."], "interleave": True,
                             "tools": [
        {"name": "read_file", "id": "tooluse_MockInterleave000001",
         "input_fragments": ["{\"path\":", "\"/tmp/a.txt\"}"]},
        {"name": "list_dir", "id": "tooluse_MockInterleave000002",
         "input_fragments": ["{\"dir\":", "\"/tmp\"}"]}]},
    "thinking": {"kind": "thinking"},
    "reasoning": {"kind": "reasoning"},
    "exception": {"kind": "exception", "exception_type": "ThrottlingException",
                  "message": "Too many requests"},
    "content_length_exceeded": {"kind": "exception", "chunks": ["This is long"],
                                "exception_type": "ContentLengthExceededException",
                                "message": "Response exceeded the content length limit"},
    "error_frame": {"kind": "error_frame"},
    "cutoff": {"kind": "cutoff"},
    "cutoff_partial": {"kind": "cutoff", "partial_frame": True},
    "slow": {"kind": "slow", "count": 5, "delay_ms": 200},
    "hang": {"kind": "hang"},
    "empty": {"kind": "empty"},
    "garbage": {"kind": "raw", "garbage_before": "deadbeef00000000",
                "metering": True, "context_usage": DEFAULT_CONTEXT_USAGE,
                "frames": [{"headers": {":event-type": "assistantResponseEvent",
                                        ":content-type": "application/json",
                                        ":message-type": "event"},
                            "payload": {"content": "after garbage"}}]},
    "context_window_full": {"kind": "text", "chunks": ["Context is full."],
                            "context_usage": 100.0},
    # HTTP error presets (section 7.1)
    "throttle": _http(429, {"__type": "ThrottlingException",
                            "message": "Too many requests, please wait before trying again.",
                            "reason": None},
                      headers={"x-amzn-ErrorType": "ThrottlingException"}),
    "server_error": _http(500, {"__type": "InternalServerException",
                                "message": "Encountered an unexpected error when processing "
                                           "the request, please try again.",
                                "reason": None}),
    "high_load": _http(502, {"message": "The service is experiencing unexpectedly high load.",
                             "reason": None}),
    "unavailable": _http(503, {"message": "Model is temporarily unavailable.",
                               "reason": "MODEL_TEMPORARILY_UNAVAILABLE"}),
    "request_timeout": _http(408, {"message": "Request timed out.", "reason": None}),
    "monthly_quota": _http(402, {"message": "You have reached the limit.",
                                 "reason": "MONTHLY_REQUEST_COUNT"}),
    "monthly_quota_nested": _http(402, {"error": {"reason": "MONTHLY_REQUEST_COUNT"}}),
    "suspended": _http(403, {"message": "Your User ID (d-mock.0001) temporarily is suspended: "
                                        "TEMPORARILY_SUSPENDED",
                             "reason": "TEMPORARILY_SUSPENDED"}),
    "bearer_invalid": _http(403, BEARER_INVALID),
    "context_full": _http(400, {"message": "The conversation exceeds the context window.",
                                "reason": "CONTENT_LENGTH_EXCEEDS_THRESHOLD"}),
    "input_too_long": _http(400, {"message": "Input is too long.", "reason": None}),
    "improperly_formed": _http(400, IMPROPERLY_FORMED),
}

KINDS = ("text", "tool_use", "thinking", "reasoning", "exception", "error_frame", "cutoff",
         "http_error", "slow", "hang", "empty", "raw", "mcp")
# A tool call cut off mid-input, and its continuation (section "Cut-off tool calls" below).
KINDS += ("tool_cut",)

SCRIPT_ENDPOINTS = ("generateAssistantResponse", "getUsageLimits", "ListAvailableModels", "mcp")


def rand_str(n, alphabet=ALNUM):
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_access_token():
    return "aoa" + rand_str(61) + ":" + rand_str(44)


def new_refresh_token():
    return "aor" + rand_str(150)


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def parse_json(raw):
    """Return (value, None) or (None, error text); never raises."""
    try:
        return json.loads(raw.decode("utf-8")), None
    except Exception as exc:  # ValueError, UnicodeDecodeError, RecursionError
        return None, "%s: %s" % (type(exc).__name__, exc)


def s256(verifier):
    digest = hashlib.sha256(verifier.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def normalize_name(name):
    return str(name).strip().lower().replace("-", "_")


# ------------------------------------------------------------------ validation

class Invalid(Exception):
    """A generateAssistantResponse body failed a validation rule."""

    def __init__(self, rule, detail):
        Exception.__init__(self, "%s: %s" % (rule, detail))
        self.rule = rule
        self.detail = detail


# Rule name -> description; README.md lists the same table.
VALIDATION_RULES = [
    ("body-not-json", "body is not valid UTF-8 JSON"),
    ("body-not-object", "body is not a JSON object"),
    ("profile-arn-type", "top-level profileArn present but not a string"),
    ("conversation-state-missing", "conversationState is not an object"),
    ("chat-trigger-type", "conversationState.chatTriggerType is not \"MANUAL\""),
    ("conversation-id", "conversationId is not a non-empty string"),
    ("current-message-missing", "currentMessage.userInputMessage is not an object"),
    ("current-content-empty", "current content missing, not a string, or whitespace only"),
    ("model-id-missing", "current modelId is not a non-empty string"),
    ("origin-missing", "current origin is not a string"),
    ("context-shape", "userInputMessageContext not an object, or toolResults/tools not arrays"),
    ("image-shape", "images not an array of {format, source:{bytes}} objects"),
    ("image-format", "image format not one of jpeg, png, gif, webp"),
    ("image-bytes", "image source.bytes empty or not valid base64"),
    ("tool-cache-point", "a tools entry has a cachePoint key"),
    ("tool-spec-shape", "tools entry not {toolSpecification:{name, description (string), "
                        "inputSchema:{json: object}}}"),
    ("tool-name-invalid", "tool name longer than 64 chars or not ^[a-zA-Z0-9_-]+$"),
    ("tool-schema-null", "inputSchema.json has required: null or properties: null"),
    ("history-not-array", "history present but not an array"),
    ("history-empty", "history present but empty"),
    ("history-entry-shape", "history entry not exactly one of userInputMessage / "
                            "assistantResponseMessage (an object)"),
    ("history-first-not-user", "history does not start with a userInputMessage"),
    ("history-not-alternating", "two consecutive history entries have the same role"),
    ("history-last-not-assistant", "history does not end with an assistantResponseMessage"),
    ("history-user-content-empty", "a history userInputMessage has empty or non-string content"),
    ("history-user-has-tools", "a history userInputMessage carries tools"),
    ("assistant-content-empty", "an assistantResponseMessage has empty or non-string content"),
    ("tool-use-shape", "toolUses not an array of {toolUseId, name, input (object)}"),
    ("tool-input-empty-key", "a toolUse input object has an empty-string key"),
    ("tool-use-duplicate-id", "the same toolUseId appears twice in the request"),
    ("tool-result-shape", "toolResult not {toolUseId, content: [objects], status: success|error}"),
    ("tool-result-duplicate", "a toolUseId is answered twice"),
    ("tool-result-orphan", "a toolResult id is not a toolUse of the immediately preceding "
                           "assistant message"),
    ("tool-use-unanswered", "a toolUse has no toolResult in the next user message"),
    ("tool-missing-for-history-use", "a tool name used in history toolUses is not in the "
                                     "current tools (case-insensitive)"),
    # The limits of doc/protocol.md sections 3.3 and 12 (the gateway's pre-flight check).
    ("tool-count", "more than 128 tools"),
    ("tool-name-duplicate", "two tools share a name (case-insensitive)"),
    ("tool-description-invalid", "a tool description is blank or over 10240 characters"),
    ("tool-schema-shape", "inputSchema.json type is not \"object\", or properties not an "
                          "object, required not an array of strings, additionalProperties "
                          "not a bool or object"),
    ("tool-input-nested-empty-key", "a toolUse input has an empty-string key below the top"),
    ("tool-result-content-empty", "a toolResult has an empty content array"),
    ("image-count", "more than 20 images in the request"),
    ("image-too-large", "an image over 3.75 MB decoded"),
]
MAX_TOOLS = 128
MAX_DESCRIPTION = 10240
MAX_IMAGES = 20
MAX_IMAGE_BYTES = 3840 * 1024
SIZE_RULE = "content-length-exceeds-threshold"

TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
IMAGE_FORMATS = ("jpeg", "png", "gif", "webp")
USER, ASSISTANT = "userInputMessage", "assistantResponseMessage"


def _require(cond, rule, detail):
    if not cond:
        raise Invalid(rule, detail)


def _opt(obj, key):
    """AWS JSON semantics: a null member is the same as an absent one."""
    return obj.get(key) if isinstance(obj, dict) else None


def _nonempty_str(value):
    return isinstance(value, str) and value != ""


def validate_generate(body):
    """Raise Invalid(rule, detail) if the body breaks a rule; rule order is fixed."""
    _require(isinstance(body, dict), "body-not-object", "top level is %s" % type(body).__name__)
    arn = _opt(body, "profileArn")
    _require(arn is None or isinstance(arn, str), "profile-arn-type", "profileArn not a string")
    state = body.get("conversationState")
    _require(isinstance(state, dict), "conversation-state-missing", "conversationState")
    _require(state.get("chatTriggerType") == "MANUAL", "chat-trigger-type",
             "chatTriggerType=%r" % (state.get("chatTriggerType"),))
    _require(_nonempty_str(state.get("conversationId")), "conversation-id", "conversationId")
    current = _opt(_opt(state, "currentMessage"), USER)
    _require(isinstance(current, dict), "current-message-missing",
             "currentMessage.userInputMessage")
    _check_user_message(current, "currentMessage", True)
    history = _history_roles(state)
    for index, (role, msg) in enumerate(history):
        where = "history[%d]" % index
        if role == USER:
            _check_user_message(msg, where, False)
        else:
            _check_assistant_message(msg, where)
    sequence = history + [(USER, current)]
    _check_unique_tool_use_ids(sequence)
    _check_tool_pairing(sequence)
    _check_history_tool_names(history, current)
    _check_limits(sequence)


def _has_empty_key(value):
    if isinstance(value, dict):
        return "" in value or any(_has_empty_key(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_empty_key(v) for v in value)
    return False


def _check_limits(sequence):
    """The section 3.3/12 limits, after the shape rules (so the shapes are known good)."""
    current = sequence[-1][1]
    tools = _opt(_opt(current, "userInputMessageContext"), "tools") or []
    _require(len(tools) <= MAX_TOOLS, "tool-count", "%d tools" % len(tools))
    names = set()
    for index, entry in enumerate(tools):
        spec = entry["toolSpecification"]
        label = "tools[%d]" % index
        name = spec["name"].casefold()
        _require(name not in names, "tool-name-duplicate", "%s.name=%r" % (label, spec["name"]))
        names.add(name)
        desc = spec["description"]
        _require(desc.strip() != "" and len(desc) <= MAX_DESCRIPTION,
                 "tool-description-invalid", "%s.description: %d characters" % (label, len(desc)))
        schema = spec["inputSchema"]["json"]
        required = schema.get("required", [])
        _require(schema.get("type") == "object"
                 and isinstance(schema.get("properties", {}), dict)
                 and isinstance(required, list) and all(isinstance(r, str) for r in required)
                 and isinstance(schema.get("additionalProperties", True), (bool, dict)),
                 "tool-schema-shape", label + ".inputSchema.json")
    images = 0
    for index, (role, msg) in enumerate(sequence):
        where = "currentMessage" if index == len(sequence) - 1 else "history[%d]" % index
        if role == ASSISTANT:
            for uindex, use in enumerate(_tool_uses(msg)):
                _require(not _has_empty_key(use["input"]), "tool-input-nested-empty-key",
                         "%s.toolUses[%d].input" % (where, uindex))
            continue
        for rindex, result in enumerate(
                _opt(_opt(msg, "userInputMessageContext"), "toolResults") or []):
            _require(len(result["content"]) > 0, "tool-result-content-empty",
                     "%s.toolResults[%d]" % (where, rindex))
        for iindex, image in enumerate(_opt(msg, "images") or []):
            images += 1
            _require(images <= MAX_IMAGES, "image-count", "%s.images[%d]" % (where, iindex))
            size = len(base64.b64decode(image["source"]["bytes"]))
            _require(size <= MAX_IMAGE_BYTES, "image-too-large",
                     "%s.images[%d]: %d bytes" % (where, iindex, size))


def _check_user_message(msg, where, is_current):
    content = msg.get("content")
    if is_current:
        _require(isinstance(content, str) and content.strip() != "", "current-content-empty",
                 "%s.content=%r" % (where, content if not isinstance(content, str)
                                    else content[:20]))
        _require(_nonempty_str(msg.get("modelId")), "model-id-missing", where + ".modelId")
        _require(isinstance(msg.get("origin"), str), "origin-missing", where + ".origin")
    else:
        _require(_nonempty_str(content), "history-user-content-empty", where + ".content")
    ctx = _opt(msg, "userInputMessageContext")
    _require(ctx is None or isinstance(ctx, dict), "context-shape", where + ".userInputMessageContext")
    for key in ("toolResults", "tools"):
        value = _opt(ctx, key)
        _require(value is None or isinstance(value, list), "context-shape",
                 "%s.userInputMessageContext.%s not an array" % (where, key))
    _check_images(_opt(msg, "images"), where)
    tools = _opt(ctx, "tools") or []
    if is_current:
        _check_tools(tools)
    else:
        _require(not tools, "history-user-has-tools", where + " carries tools")


def _check_images(images, where):
    if images is None:
        return
    _require(isinstance(images, list), "image-shape", where + ".images not an array")
    for index, image in enumerate(images):
        label = "%s.images[%d]" % (where, index)
        _require(isinstance(image, dict) and isinstance(image.get("source"), dict),
                 "image-shape", label)
        _require(image.get("format") in IMAGE_FORMATS, "image-format",
                 "%s.format=%r" % (label, image.get("format")))
        data = image["source"].get("bytes")
        _require(_nonempty_str(data) and _is_base64(data), "image-bytes", label + ".source.bytes")


def _is_base64(text):
    try:
        base64.b64decode(text.encode("ascii"), validate=True)
        return True
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False


def _check_tools(tools):
    for index, entry in enumerate(tools):
        label = "tools[%d]" % index
        _require(isinstance(entry, dict), "tool-spec-shape", label + " not an object")
        _require("cachePoint" not in entry, "tool-cache-point", label)
        spec = entry.get("toolSpecification")
        _require(isinstance(spec, dict), "tool-spec-shape", label + ".toolSpecification")
        name = spec.get("name")
        _require(isinstance(name, str), "tool-spec-shape", label + ".name")
        _require(isinstance(spec.get("description"), str), "tool-spec-shape",
                 label + ".description")
        schema = spec.get("inputSchema")
        _require(isinstance(schema, dict) and isinstance(schema.get("json"), dict),
                 "tool-spec-shape", label + ".inputSchema.json")
        _require(len(name) <= 64 and TOOL_NAME_RE.match(name) is not None,
                 "tool-name-invalid", "%s.name=%r" % (label, name[:80]))
        for key in ("required", "properties"):
            _require(not (key in schema["json"] and schema["json"][key] is None),
                     "tool-schema-null", "%s.inputSchema.json.%s is null" % (label, key))


def _history_roles(state):
    """Check history structure; return [(role, message)]."""
    history = _opt(state, "history")
    if history is None:
        return []
    _require(isinstance(history, list), "history-not-array", "history")
    _require(len(history) > 0, "history-empty", "history")
    roles = []
    for index, entry in enumerate(history):
        if is_cache_point(entry):
            continue  # prompt-caching marker between entries (doc/protocol.md section 12)
        keys = [k for k in (USER, ASSISTANT) if _opt(entry, k) is not None]
        _require(len(keys) == 1 and isinstance(entry[keys[0]], dict), "history-entry-shape",
                 "history[%d] has %s" % (index, keys or "neither role"))
        roles.append((keys[0], entry[keys[0]]))
    _require(roles, "history-empty", "history has only cachePoint entries")
    _require(roles[0][0] == USER, "history-first-not-user", "history[0]")
    for index in range(1, len(roles)):
        _require(roles[index][0] != roles[index - 1][0], "history-not-alternating",
                 "history[%d] repeats %s" % (index, roles[index][0]))
    _require(roles[-1][0] == ASSISTANT, "history-last-not-assistant", "history[-1]")
    return roles


def _tool_uses(msg):
    return _opt(msg, "toolUses") or []


def _check_assistant_message(msg, where):
    _require(_nonempty_str(msg.get("content")), "assistant-content-empty", where + ".content")
    uses = _opt(msg, "toolUses")
    _require(uses is None or isinstance(uses, list), "tool-use-shape", where + ".toolUses")
    for index, use in enumerate(uses or []):
        label = "%s.toolUses[%d]" % (where, index)
        _require(isinstance(use, dict) and _nonempty_str(use.get("toolUseId"))
                 and _nonempty_str(use.get("name")) and isinstance(use.get("input"), dict),
                 "tool-use-shape", label)
        _require("" not in use["input"], "tool-input-empty-key", label + ".input")


def _check_unique_tool_use_ids(sequence):
    seen = set()
    for role, msg in sequence:
        if role != ASSISTANT:
            continue
        for use in _tool_uses(msg):
            _require(use["toolUseId"] not in seen, "tool-use-duplicate-id", use["toolUseId"])
            seen.add(use["toolUseId"])


def _check_tool_result_shape(result, label):
    content = _opt(result, "content")
    _require(isinstance(result, dict) and _nonempty_str(result.get("toolUseId"))
             and isinstance(content, list) and all(isinstance(c, dict) for c in content)
             and result.get("status") in ("success", "error"), "tool-result-shape", label)


def _check_tool_pairing(sequence):
    """Each user message answers exactly the toolUses of the assistant before it."""
    for index, (role, msg) in enumerate(sequence):
        if role != USER:
            continue
        where = "currentMessage" if index == len(sequence) - 1 else "history[%d]" % index
        expected = [u["toolUseId"] for u in _tool_uses(sequence[index - 1][1])] if index else []
        answered = set()
        results = _opt(_opt(msg, "userInputMessageContext"), "toolResults") or []
        for rindex, result in enumerate(results):
            label = "%s.toolResults[%d]" % (where, rindex)
            _check_tool_result_shape(result, label)
            rid = result["toolUseId"]
            _require(rid not in answered, "tool-result-duplicate", "%s id %s" % (label, rid))
            _require(rid in expected, "tool-result-orphan", "%s id %s" % (label, rid))
            answered.add(rid)
        missing = [i for i in expected if i not in answered]
        _require(not missing, "tool-use-unanswered", "%s lacks results for %s" % (where, missing))


def _check_history_tool_names(history, current):
    used = {u["name"].casefold() for role, msg in history if role == ASSISTANT
            for u in _tool_uses(msg)}
    tools = _opt(_opt(current, "userInputMessageContext"), "tools") or []
    declared = {t["toolSpecification"]["name"].casefold() for t in tools}
    missing = sorted(used - declared)
    _require(not missing, "tool-missing-for-history-use", "undeclared tools %s" % missing)


# ------------------------------------------------------------------ state

class Account(object):
    """One mock credential: refresh token, issued access tokens, knobs."""

    def __init__(self, acct_id, spec):
        method = str(spec.get("authMethod") or "").lower()
        if not method:
            method = "idc" if spec.get("clientId") and spec.get("clientSecret") else "social"
        self.id = acct_id
        self.auth_method = "idc" if method in ("idc", "builder-id", "iam") else method
        self.refresh_token = spec.get("refreshToken")
        self.client_id = spec.get("clientId")
        self.client_secret = spec.get("clientSecret")
        self.profile_arn = spec.get("profileArn")
        self.expires_in = int(spec.get("expiresIn", 3600))
        self.rotate = bool(spec.get("rotate", True))
        self.omit_refresh_token = bool(spec.get("omitRefreshToken", False))
        self.refresh_delay_ms = int(spec.get("refreshDelayMs", 0))
        self.fail_refresh = None
        self.usage = {}
        self.refreshes = 0
        if spec.get("failRefresh"):
            self.set_fail_refresh(spec["failRefresh"])
        if spec.get("usage"):
            self.usage.update(spec["usage"])
        account_init_2026(self, spec)

    def update(self, spec):
        simple = {"profileArn": "profile_arn", "rotate": "rotate",
                  "omitRefreshToken": "omit_refresh_token", "clientId": "client_id",
                  "clientSecret": "client_secret"}
        for key, attr in simple.items():
            if key in spec:
                setattr(self, attr, spec[key])
        for key, attr in (("expiresIn", "expires_in"), ("refreshDelayMs", "refresh_delay_ms")):
            if key in spec:
                setattr(self, attr, int(spec[key]))
        if "failRefresh" in spec:
            self.set_fail_refresh(spec["failRefresh"])
        if isinstance(spec.get("usage"), dict):
            self.usage.update(spec["usage"])
        account_update_2026(self, spec)

    def set_fail_refresh(self, spec):
        if not spec:
            self.fail_refresh = None
            return
        self.fail_refresh = {"status": int(spec.get("status", 500)),
                             "body": spec.get("body", {"message": "Internal failure (mock)"}),
                             "times": int(spec.get("times", 1))}

    def take_failure(self):
        """Return (status, body) if a forced refresh failure is due."""
        fail = self.fail_refresh
        if not fail or fail["times"] == 0:
            return None
        if fail["times"] > 0:
            fail["times"] -= 1
        return fail["status"], fail["body"]

    def arn(self):
        if self.profile_arn:
            return self.profile_arn
        return DEFAULT_PROFILE_ARN if self.auth_method == "social" else None


def new_stats():
    return {"requests": 0, "generate": 0, "generate_ok": 0, "generate_rejected": 0,
            "auth_failures": 0, "refreshes": 0, "refreshes_ok": 0, "refreshes_failed": 0,
            "refreshes_by_token": {}, "refresh_inflight": 0, "refresh_peak_concurrency": 0,
            "usage": 0, "models": 0, "mcp": 0, "scripts_used": 0, "client_aborted": 0,
            "device_tokens": 0, "social_logins": 0}


class MockState(object):
    """Everything the mock remembers; guarded by one re-entrant lock."""

    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.accounts = {}
            self.refresh_index = {}    # valid refresh token -> account id
            self.tokens = {}           # access token -> {account, expires_at, revoked}
            self.scripts = []
            self.requests = []
            self.stats = new_stats()
            self.stats.update(HOST_STATS)
            self.settings = dict(DEFAULT_SETTINGS)
            self.clients = {}          # OIDC clientId -> clientSecret
            self.devices = {}          # deviceCode -> record
            self.login_codes = {}      # social login code -> record
            self.seq = 0

    def next_id(self, prefix):
        with self.lock:
            self.seq += 1
            return "%s-%d" % (prefix, self.seq)

    # -- accounts and tokens

    def add_account(self, spec):
        with self.lock:
            acct = Account(spec.get("id") or self.next_id("acct"), spec)
            if acct.id in self.accounts:
                raise ValueError("duplicate account id %s" % acct.id)
            self.accounts[acct.id] = acct
            if acct.refresh_token:
                self.refresh_index[acct.refresh_token] = acct.id
            if acct.client_id:
                self.clients.setdefault(acct.client_id, acct.client_secret)
            if spec.get("accessToken"):
                life = spec.get("accessTokenExpiresIn")
                self.grant_access(acct, spec["accessToken"], None if life is None else int(life))
            if acct.api_key:
                self.grant_access(acct, acct.api_key, None)  # API keys do not expire
            return acct

    def grant_access(self, acct, token, lifetime):
        with self.lock:
            expires = None if lifetime is None else time.time() + lifetime
            self.tokens[token] = {"account": acct.id, "expires_at": expires, "revoked": False}

    def check_access(self, token):
        """Return the account for a usable access token, else None."""
        with self.lock:
            info = self.tokens.get(token)
            if not info or info["revoked"]:
                return None
            if info["expires_at"] is not None and time.time() >= info["expires_at"]:
                return None
            return self.accounts.get(info["account"])

    def find_account(self, sel):
        """Look an account up by id, refreshToken (current) or accessToken."""
        with self.lock:
            if not isinstance(sel, dict):
                return None
            if sel.get("id") in self.accounts:
                return self.accounts[sel["id"]]
            if sel.get("refreshToken") in self.refresh_index:
                return self.accounts[self.refresh_index[sel["refreshToken"]]]
            for acct in self.accounts.values():
                if sel.get("refreshToken") and acct.refresh_token == sel["refreshToken"]:
                    return acct
            info = self.tokens.get(sel.get("accessToken"))
            return self.accounts.get(info["account"]) if info else None

    def account_json(self, acct):
        with self.lock:
            tokens = [t for t, i in self.tokens.items() if i["account"] == acct.id]
            valid = [t for t in tokens if self.check_access(t)]
            return {"id": acct.id, "authMethod": acct.auth_method,
                    "refreshToken": acct.refresh_token,
                    "refreshTokenValid": acct.refresh_token in self.refresh_index,
                    "accessTokens": tokens, "validAccessTokens": valid,
                    "clientId": acct.client_id, "profileArn": acct.arn(),
                    "expiresIn": acct.expires_in, "rotate": acct.rotate,
                    "refreshDelayMs": acct.refresh_delay_ms, "failRefresh": acct.fail_refresh,
                    "refreshes": acct.refreshes, "usage": acct.usage, **account_json_2026(acct)}

    def refresh(self, acct, presented):
        """Issue tokens for ``acct``; rotate the refresh token if configured."""
        with self.lock:
            access = new_access_token()
            self.grant_access(acct, access, acct.expires_in)
            if acct.rotate:
                self.refresh_index.pop(presented, None)
                acct.refresh_token = new_refresh_token()
                self.refresh_index[acct.refresh_token] = acct.id
            acct.refreshes += 1
            return access, acct.refresh_token

    def count_refresh(self, token):
        with self.lock:
            self.stats["refreshes"] += 1
            by_token = self.stats["refreshes_by_token"]
            by_token[token] = by_token.get(token, 0) + 1

    def refresh_window(self, delta):
        with self.lock:
            self.stats["refresh_inflight"] += delta
            self.stats["refresh_peak_concurrency"] = max(self.stats["refresh_peak_concurrency"],
                                                         self.stats["refresh_inflight"])

    def bump(self, key, delta=1):
        with self.lock:
            self.stats[key] += delta

    # -- scripts

    def add_script(self, spec):
        with self.lock:
            script = {"id": self.next_id("script"), "match": spec.get("match") or {},
                      "times": int(spec.get("times", 1)), "used": 0,
                      "response": spec["response"]}
            self.scripts.append(script)
            return script

    def take_script(self, endpoint, token, prompt, model):
        with self.lock:
            for script in self.scripts:
                if not _script_matches(script["match"], endpoint, token, prompt, model):
                    continue
                script["used"] += 1
                if script["times"] > 0:
                    script["times"] -= 1
                    if script["times"] == 0:
                        self.scripts.remove(script)
                self.stats["scripts_used"] += 1
                return script["id"], copy.deepcopy(script["response"])
            return None, None

    # -- request log

    def log_request(self, entry):
        with self.lock:
            entry["id"] = len(self.requests) + 1
            self.requests.append(entry)
            self.stats["requests"] += 1

    def note(self, entry, **fields):
        if entry is None:
            return
        with self.lock:
            entry.update(fields)


def _script_matches(match, endpoint, token, prompt, model):
    if match.get("endpoint", "generateAssistantResponse") != endpoint:
        return False
    if "token" in match and match["token"] != token:
        return False
    if "model" in match and match["model"] != model:
        return False
    if "prompt_contains" in match and (prompt is None or match["prompt_contains"] not in prompt):
        return False
    return True


def resolve_response(spec):
    """Expand a script response (preset merge, defaults); raise ValueError if bad."""
    if isinstance(spec, str):
        spec = {"preset": spec}
    if not isinstance(spec, dict):
        raise ValueError("response must be an object or a preset name")
    spec = dict(spec)
    preset = spec.pop("preset", None) or spec.pop("scenario", None)
    if preset is not None:
        base = SCENARIOS.get(normalize_name(preset))
        if base is None:
            raise ValueError("unknown preset %r" % (preset,))
        merged = dict(base)
        merged.update(spec)
        spec = merged
    spec.setdefault("kind", "text")
    if spec["kind"] not in KINDS:
        raise ValueError("unknown kind %r" % (spec["kind"],))
    return spec


def split_text(text, parts=3):
    size = max(1, -(-len(text) // parts))
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


# ------------------------------------------------------------------ responses

def usage_body(overrides):
    """getUsageLimits body (section 9.1) with per-account overrides."""
    if isinstance(overrides.get("response"), dict):
        return overrides["response"]
    o = overrides
    days = o.get("daysUntilReset", 20)
    reset = float(o.get("nextDateReset", time.time() + days * 86400))
    used = float(o.get("currentUsageWithPrecision", 12.5))
    limit = float(o.get("usageLimitWithPrecision", 1000))
    title = o.get("subscriptionTitle", "KIRO PRO")
    item = {"resourceType": "CREDIT", "displayName": "Credit", "displayNamePlural": "Credits",
            "unit": "CREDIT", "currency": "USD",
            "currentUsage": int(o.get("currentUsage", used)), "currentUsageWithPrecision": used,
            "usageLimit": int(o.get("usageLimit", limit)), "usageLimitWithPrecision": limit,
            "nextDateReset": reset, "overageRate": 0.04, "overageCap": 10000,
            "overageCapWithPrecision": 10000.0, "overageCharges": 0.0, "currentOverages": 0,
            "currentOveragesWithPrecision": 0.0, "bonuses": o.get("bonuses", [])}
    if o.get("freeTrialInfo") is not None:
        item["freeTrialInfo"] = o["freeTrialInfo"]
    plan = title.replace("KIRO ", "").replace("+", "_PLUS").replace(" ", "_")
    return {"nextDateReset": reset, "daysUntilReset": days,
            "subscriptionInfo": {"subscriptionTitle": title,
                                 "type": "Q_DEVELOPER_STANDALONE_" + plan,
                                 "subscriptionManagementTarget": "MANAGE",
                                 "overageCapability": "OVERAGE_CAPABLE",
                                 "upgradeCapability": "UPGRADE_CAPABLE"},
            "usageBreakdownList": [item],
            "overageConfiguration": {"overageStatus": o.get("overageStatus", "DISABLED")},
            "userInfo": {"email": o.get("email", "mock@example.com"),
                         "userId": o.get("userId", "mock-user-0001")},
            "limits": [], "usageBreakdown": None}


def model_entry(model_id, name, max_input, rate):
    return {"modelId": model_id, "modelName": name,
            "description": "%s (mock catalogue)" % name,
            "tokenLimits": {"maxInputTokens": max_input, "maxOutputTokens": 64000},
            "rateMultiplier": rate, "rateUnit": "Credit",
            "supportedInputTypes": ["TEXT", "IMAGE"]}


def web_search_results(query):
    now_ms = int(time.time() * 1000)
    results = [{"title": "%s - Overview" % query, "url": "https://example.com/search/1",
                "snippet": "An overview of %s from the mock search index." % query,
                "publishedDate": now_ms - 86400000, "id": "mock-result-1",
                "domain": "example.com", "maxVerbatimWordLimit": 25, "publicDomain": False},
               {"title": "%s - Details" % query, "url": "https://example.org/search/2",
                "snippet": "Detailed notes about %s." % query,
                "publishedDate": now_ms - 2 * 86400000, "id": "mock-result-2",
                "domain": "example.org", "maxVerbatimWordLimit": 25, "publicDomain": False}]
    return {"results": results, "totalResults": len(results), "query": query, "error": None}


class ClientGone(Exception):
    """The client closed the connection."""


class EventStream(object):
    """Writes one event-stream frame per HTTP chunk."""

    def __init__(self, handler):
        self.h = handler
        self.started = False

    def start(self):
        if self.started:
            return
        self.h.begin_response(200, [("Content-Type", "application/vnd.amazon.eventstream"),
                                    ("Transfer-Encoding", "chunked")])
        self.started = True

    def chunk(self, data):
        self.start()
        if data:
            self.h.write(b"%x\r\n" % len(data) + data + b"\r\n")

    def event(self, event_type, obj):
        self.chunk(es.event_frame(event_type, obj))

    def pause(self, ms):
        if ms and ms > 0 and self.h.wait_for_disconnect(ms / 1000.0):
            raise ClientGone()

    def finish(self):
        self.start()
        self.h.write(b"0\r\n\r\n")

    def drop(self):
        """Close the connection without the terminating chunk."""
        self.h.drop_connection()


def emit_text(stream, chunks, delay_ms=0):
    for index, text in enumerate(chunks):
        if index:
            stream.pause(delay_ms)
        stream.event("assistantResponseEvent", {"content": text})


def emit_trailer(stream, spec, default_on):
    """meteringEvent then contextUsageEvent, each optional."""
    metering = spec.get("metering", default_on)
    if metering is True:
        stream.event("meteringEvent", METERING)
    elif isinstance(metering, dict):
        stream.event("meteringEvent", metering)
    elif isinstance(metering, (int, float)) and metering is not False:
        stream.event("meteringEvent", dict(METERING, usage=metering))
    usage = context_usage_of(stream.h, spec.get(
        "context_usage", AUTO_CONTEXT_USAGE if default_on else None))
    if usage is not None:
        stream.event("contextUsageEvent", {"contextUsagePercentage": usage})
    emit_message_metadata(stream, spec)


def context_usage_of(handler, value):
    """A scenario's context_usage as a float: "auto" is the handler's counted request."""
    if value is None:
        return None
    if value == AUTO_CONTEXT_USAGE:
        return float(getattr(handler, "auto_context_usage", None) or DEFAULT_CONTEXT_USAGE)
    return float(value)


def tool_frames(tool):
    """The toolUseEvent payloads for one call: start, fragments, stop."""
    name = tool.get("name", "read_file")
    tid = tool.get("id") or ("tooluse_" + rand_str(22))
    if "input_fragments" in tool:
        fragments = list(tool["input_fragments"])
    else:
        text = compact(tool.get("input", {}))
        fragments = [text[:len(text) // 2], text[len(text) // 2:]]
    frames = [{"name": name, "toolUseId": tid, "input": ""}]
    frames += [{"name": name, "toolUseId": tid, "input": f} for f in fragments if f != ""]
    frames.append({"name": name, "toolUseId": tid, "stop": True})
    return frames


def interleave(sequences):
    out = []
    for index in range(max([len(s) for s in sequences] or [0])):
        out += [s[index] for s in sequences if index < len(s)]
    return out


def raw_header_value(value):
    """JSON header value: plain string/bool/int, or {"type": N, "value": V}
    (bytes as hex, uuid as text) for the other event-stream value types."""
    if not isinstance(value, dict):
        return value
    vtype, val = int(value["type"]), value.get("value")
    if vtype == es.TYPE_BYTES:
        val = bytes.fromhex(val)
    elif vtype == es.TYPE_UUID:
        val = uuid.UUID(val)
    return es.HeaderValue(vtype, val)


def raw_frame(spec):
    """Encode a raw frame spec: headers, payload/payload_hex, optional corruption."""
    headers = spec.get("headers", {})
    pairs = headers.items() if isinstance(headers, dict) else [tuple(h) for h in headers]
    headers = [(name, raw_header_value(value)) for name, value in pairs]
    if "payload_hex" in spec:
        payload = bytes.fromhex(spec["payload_hex"])
    elif isinstance(spec.get("payload"), (dict, list)):
        payload = es.json_payload(spec["payload"])
    else:
        payload = str(spec.get("payload", "")).encode("utf-8")
    frame = bytearray(es.encode_frame(headers, payload))
    if spec.get("corrupt") == "prelude":
        frame[9] ^= 0xFF
    elif spec.get("corrupt") == "message":
        frame[-1] ^= 0xFF
    return bytes.fromhex(spec.get("garbage_before", "")) + bytes(frame)


class Scenario(object):
    """Plays one resolved response spec on a handler."""

    def __init__(self, handler, spec, prompt):
        self.h = handler
        self.spec = spec
        self.prompt = prompt or ""
        self.stream = EventStream(handler)

    def run(self):
        delay = self.spec.get("first_byte_delay_ms", 0)
        if delay and self.h.wait_for_disconnect(delay / 1000.0):
            raise ClientGone()
        getattr(self, "kind_" + self.spec["kind"])()

    def chunks(self, default=None):
        chunks = self.spec.get("chunks")
        if chunks is not None:
            return list(chunks)
        if default is not None:
            return default
        return split_text("Hello from mock Kiro. You said: " + self.prompt[:200])

    def kind_text(self):
        emit_text(self.stream, self.chunks(), self.spec.get("delay_ms", 0))
        emit_trailer(self.stream, self.spec, True)
        self.stream.finish()

    def kind_thinking(self):
        emit_text(self.stream, self.chunks(list(THINKING_CHUNKS)), self.spec.get("delay_ms", 0))
        emit_trailer(self.stream, self.spec, True)
        self.stream.finish()

    def kind_slow(self):
        count = int(self.spec.get("count", 5))
        chunks = self.chunks(["chunk %d " % i for i in range(count)])
        emit_text(self.stream, chunks, self.spec.get("delay_ms", 200))
        emit_trailer(self.stream, self.spec, True)
        self.stream.finish()

    def kind_tool_use(self):
        delay = self.spec.get("delay_ms", 0)
        emit_text(self.stream, self.chunks(["Let me use a tool."]), delay)
        sequences = [tool_frames(t) for t in self.spec.get("tools", [])]
        frames = interleave(sequences) if self.spec.get("interleave") else sum(sequences, [])
        for payload in frames:
            self.stream.pause(delay)
            self.stream.event("toolUseEvent", payload)
        emit_trailer(self.stream, self.spec, True)
        self.stream.finish()

    def kind_reasoning(self):
        parts = self.spec.get("reasoning", ["The user wants a greeting.", " I will say hi."])
        signature = self.spec.get("signature", "mock-signature-" + "A" * 32)
        for index, text in enumerate(parts):
            payload = {"text": text}
            if index == len(parts) - 1 and signature is not None:
                payload["signature"] = signature
            self.stream.event("reasoningContentEvent", payload)
        emit_text(self.stream, self.chunks(["Hi there!"]), self.spec.get("delay_ms", 0))
        emit_trailer(self.stream, self.spec, True)
        self.stream.finish()

    def kind_exception(self):
        emit_text(self.stream, self.chunks(["partial"]), self.spec.get("delay_ms", 0))
        emit_trailer(self.stream, self.spec, False)
        payload = self.spec.get("payload", {"message": self.spec.get("message", "Too many requests")})
        self.stream.chunk(es.exception_frame(self.spec.get("exception_type", "ThrottlingException"),
                                             payload))
        self.stream.finish()

    def kind_error_frame(self):
        emit_text(self.stream, self.chunks(["partial"]), self.spec.get("delay_ms", 0))
        emit_trailer(self.stream, self.spec, False)
        message = self.spec.get("message", "An internal error occurred (mock)")
        self.stream.chunk(es.error_frame(self.spec.get("error_code", "InternalServerError"),
                                         message, self.spec.get("payload")))
        self.stream.finish()

    def kind_cutoff(self):
        emit_text(self.stream, self.chunks(["This answer is cut", " off"]),
                  self.spec.get("delay_ms", 0))
        emit_trailer(self.stream, self.spec, False)
        if self.spec.get("partial_frame"):
            frame = es.event_frame("assistantResponseEvent", {"content": "never completed"})
            self.stream.chunk(frame[:len(frame) // 2])
        self.h.note(cutoff=True)
        self.stream.drop()

    def kind_tool_cut(self):
        play_tool_cut(self, getattr(self.h, "generate_body", None) or {})

    def kind_empty(self):
        self.stream.start()
        emit_trailer(self.stream, self.spec, True)
        self.stream.finish()

    def kind_raw(self):
        if self.spec.get("garbage_before"):
            self.stream.chunk(bytes.fromhex(self.spec["garbage_before"]))
        for index, frame in enumerate(self.spec.get("frames", [])):
            if index:
                self.stream.pause(self.spec.get("delay_ms", 0))
            self.stream.chunk(raw_frame(frame))
        emit_trailer(self.stream, self.spec, False)
        self.stream.finish()

    def kind_http_error(self):
        self.h.send_error_body(int(self.spec.get("status", 500)),
                               self.spec.get("body", {"message": "mock error", "reason": None}),
                               self.spec.get("headers") or {}, self.spec.get("content_type"))

    def kind_hang(self):
        if self.spec.get("after_headers"):
            self.stream.start()
        if self.h.wait_for_disconnect(self.spec.get("max_ms", 600000) / 1000.0):
            raise ClientGone()
        self.stream.drop()


# ------------------------------------------------------------------ Cut-off tool calls
#
# kind "tool_cut": the answer stops in the middle of a tool call's input, and a
# continuation request (its history ends with an assistant turn holding the partial
# input) gets the rest as text. Keys:
#   tool, tool_id      the call's name (default Write) and toolUseId
#   input              the call's input object (default TOOL_CUT_WRITE, ~6 KB)
#   cut_at             where the first answer stops: a character offset into the compact
#                      input JSON, or "string" (inside content), "escape" (just after the
#                      backslash of an escape), "keys" (after the comma between two keys)
#   end                how it stops: "length" (messageMetadataEvent stopReason max_tokens),
#                      "exceeded" (ContentLengthExceededException), "eof" (no stop for the
#                      call), "drop" (the connection closes)
#   fragment           characters per toolUseEvent (default 500)
#   cont_max           characters per continuation answer (default: all the rest)
#   cont_end           how a continuation that stops short ends (default "length")
#   cont_fence         the continuation comes inside a ```json fence
#   cont_refuse        the continuation answers with unrelated text (never completes)
#   cont_recall        the continuation calls the tool again with the whole input
# A continuation request carries the #mock: marker only in its history: such requests
# get the preset found there (tool_cut_history_preset).

TOOL_CUT_WRITE = {
    "file_path": "/tmp/kiro-toolcont/big_module.py",
    "content": "".join(
        '# line %d: say "hi" \\ tab\there, caf\u00e9 {brackets} [x]\n'
        'print("value %d", {"k": [%d]})\n' % (i, i, i) for i in range(80)),
}


def _tool_cut_offset(text, cut_at):
    """A character offset into the compact input for a named cut point."""
    if isinstance(cut_at, int):
        return max(1, min(cut_at, len(text) - 1))
    start = text.find('"content":"') + len('"content":"')
    if cut_at == "keys":
        return text.find('","content"') + 2        # just after the comma
    if cut_at == "escape":
        return text.find("\\", start + len(text) // 3) + 1     # after a backslash
    cut = start + (len(text) - start) // 2        # "string": mid-content,
    while not text[cut - 1].isalpha():            # after a plain letter
        cut += 1
    return cut


def _tool_cut_end(stream, spec, how):
    if how == "drop":
        stream.h.note(cutoff=True)
        stream.drop()
        return
    if how == "exceeded":
        stream.chunk(es.exception_frame("ContentLengthExceededException",
                                        {"message": "Response exceeded the content length limit"}))
    elif how == "length":
        stream.event("messageMetadataEvent", {"stopReason": "max_tokens"})
    emit_trailer(stream, spec, True)
    stream.finish()


def tool_cut_history_preset(body):
    """The tool_cut preset named by a #mock: marker in a request's history, or None."""
    try:
        history = body["conversationState"].get("history") or []
    except (AttributeError, KeyError, TypeError):
        return None
    for entry in history:
        msg = entry.get("userInputMessage") if isinstance(entry, dict) else None
        content = msg.get("content") if isinstance(msg, dict) else None
        if not isinstance(content, str):
            continue
        for name in re.findall(r"#mock:([A-Za-z0-9_-]+)", content):
            preset = SCENARIOS.get(normalize_name(name))
            if preset is not None and preset.get("kind") == "tool_cut":
                return normalize_name(name)
    return None


def play_tool_cut(scenario, body):
    spec, stream = scenario.spec, scenario.stream
    full = compact(spec.get("input", TOOL_CUT_WRITE))
    history = (body.get("conversationState") or {}).get("history") or []
    last = history[-1].get("assistantResponseMessage") if history else None
    partial = last.get("content") if isinstance(last, dict) else None
    if isinstance(partial, str) and partial and full.startswith(partial) and \
            len(partial) < len(full):
        rest = full[len(partial):]
        scenario.h.note(tool_cut="continuation", have=len(partial))
        if spec.get("cont_refuse"):
            emit_text(stream, ["I cannot continue that."])
            return _tool_cut_end(stream, spec, "eof")
        if spec.get("cont_recall"):
            emit_text(stream, ["Calling it again."])
            name = spec.get("tool", "Write")
            for payload in tool_frames({"name": name, "input_fragments": split_text(full, 4)}):
                stream.event("toolUseEvent", payload)
            return _tool_cut_end(stream, spec, "eof")
        part = rest[:int(spec["cont_max"])] if spec.get("cont_max") else rest
        text = "```json\n" + part + "\n```" if spec.get("cont_fence") else part
        emit_text(stream, split_text(text, 3))
        return _tool_cut_end(stream, spec, spec.get("cont_end", "length")
                             if len(part) < len(rest) else "eof")
    cut = _tool_cut_offset(full, spec.get("cut_at", "string"))
    scenario.h.note(tool_cut="cut", at=cut)
    emit_text(stream, scenario.chunks(["I will write the file."]))
    name = spec.get("tool", "Write")
    tid = spec.get("tool_id") or ("tooluse_" + rand_str(22))
    stream.event("toolUseEvent", {"name": name, "toolUseId": tid, "input": ""})
    size = max(1, int(spec.get("fragment", 500)))
    for off in range(0, cut, size):
        stream.event("toolUseEvent", {"name": name, "toolUseId": tid,
                                      "input": full[off:min(off + size, cut)]})
    _tool_cut_end(stream, spec, spec.get("end", "length"))


SCENARIOS.update({
    "tool_cut": {"kind": "tool_cut"},
    "tool_cut_string": {"kind": "tool_cut", "cut_at": "string"},
    "tool_cut_escape": {"kind": "tool_cut", "cut_at": "escape"},
    "tool_cut_keys": {"kind": "tool_cut", "cut_at": "keys"},
    "tool_cut_eof": {"kind": "tool_cut", "end": "eof"},
    "tool_cut_exceeded": {"kind": "tool_cut", "end": "exceeded", "cut_at": "escape"},
    "tool_cut_drop": {"kind": "tool_cut", "end": "drop"},
    "tool_cut_twice": {"kind": "tool_cut", "cont_max": 2000},
    "tool_cut_fenced": {"kind": "tool_cut", "cont_fence": True},
    "tool_cut_refused": {"kind": "tool_cut", "cont_refuse": True},
    "tool_cut_recall": {"kind": "tool_cut", "cont_recall": True},
    "tool_cut_dropping": {"kind": "tool_cut", "end": "drop", "cont_max": 300, "cont_end": "drop"},
})


# ------------------------------------------------------------------ HTTP handler

UPSTREAM_OPS = {
    "generateAssistantResponse": ("POST", "op_generate"),
    "getUsageLimits": ("GET", "op_usage"),
    "ListAvailableModels": ("GET", "op_models"),
    "mcp": ("POST", "op_mcp"),
    "refreshToken": ("POST", "op_social_refresh"),
    "token": ("POST", "op_oidc_token"),
    "client/register": ("POST", "op_client_register"),
    "device_authorization": ("POST", "op_device_authorization"),
    "login": ("GET", "op_login"),
    "oauth/token": ("POST", "op_oauth_token"),
}


def route_upstream(path, body):
    """Map a request path (any prefix) to an UPSTREAM_OPS key, or None."""
    path = path.rstrip("/")
    if path.endswith("/oauth/token"):
        # An OIDC base URL ending in /oauth would also produce this path:
        # SSO-OIDC bodies carry grantType, social exchanges carry code_verifier.
        data, _ = parse_json(body)
        if isinstance(data, dict) and "grantType" in data and "code_verifier" not in data:
            return "token"
        return "oauth/token"
    if path.endswith("/client/register"):
        return "client/register"
    last = path.rsplit("/", 1)[-1]
    return last if last in UPSTREAM_OPS else None


class BadRequest(Exception):
    pass


# ------------------------------------------------------------------ 2026 stream events
#
# doc/protocol.md section 12: messageMetadataEvent carries tokenUsage with real cache
# figures, and prompt caching puts {"cachePoint":{"type":"default"}} entries in history.

# messageMetadataEvent tokenUsage defaults; totalTokens is recomputed from the parts.
TOKEN_USAGE = {"outputTokens": 12, "uncachedInputTokens": 60, "cacheReadInputTokens": 40,
               "cacheWriteInputTokens": 0, "contextUsagePercentage": AUTO_CONTEXT_USAGE}

SCENARIOS.update({
    "token_usage": {"kind": "text", "token_usage": True},
    "cache_hit": {"kind": "text", "token_usage": {"uncachedInputTokens": 10,
                                                  "cacheReadInputTokens": 90000,
                                                  "cacheWriteInputTokens": 0}},
})


def is_cache_point(entry):
    return isinstance(entry, dict) and set(entry) == {"cachePoint"} \
        and isinstance(entry["cachePoint"], dict)


def emit_message_metadata(stream, spec):
    """messageMetadataEvent {tokenUsage}: script option token_usage (true or fields)."""
    usage = spec.get("token_usage")
    if usage is None or usage is False:
        return
    fields = dict(TOKEN_USAGE)
    if spec.get("context_usage") is not None:
        fields["contextUsagePercentage"] = spec["context_usage"]
    if isinstance(usage, dict):
        fields.update(usage)
    if fields.get("contextUsagePercentage") is not None:
        fields["contextUsagePercentage"] = context_usage_of(stream.h,
                                                            fields["contextUsagePercentage"])
    if not (isinstance(usage, dict) and "totalTokens" in usage):
        fields["totalTokens"] = sum(int(fields.get(k) or 0) for k in (
            "outputTokens", "uncachedInputTokens", "cacheReadInputTokens",
            "cacheWriteInputTokens"))
    payload = {"tokenUsage": fields}
    if isinstance(spec.get("message_metadata"), dict):
        payload.update(spec["message_metadata"])
    stream.event("messageMetadataEvent", payload)


# ------------------------------------------------------------------ 2026 hosts and accounts
#
# doc/protocol.md section 12 ("Upstream changes reported during 2026"). A base URL
# whose first path segment is /runtime or /legacy picks the host; any other base URL
# keeps the behaviour above, so older tests are unaffected. README.md, "Two hosts".

HOSTS = ("runtime", "legacy")
# x-amz-target values the runtime host answers on POST / (AWS JSON style).
RUNTIME_TARGETS = {"KiroRuntimeService.GenerateAssistantResponse": "generateAssistantResponse"}
# Refused at the top level of a target-style body; the report says a top-level
# systemPrompt gives 400 and that the agent fields are refused there.
TARGET_REFUSED_FIELDS = ("agentMode", "agentContinuationId", "agentTaskType", "systemPrompt")
REQUEST_BODY_INVALID = {"message": "Improperly formed request.",
                        "reason": "REQUEST_BODY_INVALID"}
PROFILE_REQUIRED = {"message": "profileArn is required", "reason": None}
BUILDER_ID_UNSUPPORTED = {"message": "AWS Builder ID is not supported", "reason": None}
LEGACY_RETIRED = {"message": "Not Found: this endpoint has been retired", "reason": None}
UNKNOWN_OPERATION = {"__type": "UnknownOperationException", "message": None, "reason": None}
GENERATE_PROFILE_HEADER = "x-amzn-codewhisperer-profile-arn"
MCP_PROFILE_HEADER = "x-amzn-kiro-profile-arn"
API_KEY_PREFIX = "ksk_"
# Headers the report says the target style expects (the profile header has its own rule);
# None means any value. Enforced only with the setting target_require_headers.
TARGET_HEADERS = {"x-amzn-kiro-agent-mode": "spec", "x-amz-sso-bearer": None}

HOST_SETTINGS = {
    "runtime_path_style_invalid": False,  # POST /runtime/generateAssistantResponse -> 400
    "runtime_allow_idc": False,           # IdC accounts refused on the runtime host
    "legacy_retired": False,              # every /legacy request -> 404
    "target_refuse_state_fields": False,  # also refuse the agent fields in conversationState
    "target_refuse_body_profile": False,  # also refuse a top-level profileArn (its header has it)
    "target_require_headers": False,      # target style needs TARGET_HEADERS
}
DEFAULT_SETTINGS.update(HOST_SETTINGS)
# ListAvailableModels answers after this many ms (a refresh in flight while
# other requests finish: tests of who fetches a stale list).
DEFAULT_SETTINGS["models_delay_ms"] = 0
HOST_STATS = {"profiles": 0, "host_rejected": 0}
SCRIPT_ENDPOINTS += ("ListAvailableProfiles",)

# Host rules (X-Mock-Reason values), in the order they are checked.
HOST_RULES = [
    ("legacy-retired", "404: the legacy host is retired (setting legacy_retired)"),
    ("unknown-target", "400: POST / on the runtime host without a known x-amz-target"),
    ("token-type-mismatch", "403: an API key without tokentype: API_KEY, or (on the two "
                            "hosts) tokentype: API_KEY with an OAuth token"),
    ("runtime-path-style-invalid", "400 REQUEST_BODY_INVALID: path style generate while "
                                   "runtime_path_style_invalid is set"),
    ("runtime-idc-refused", "403 bearer-invalid: an IdC account on the runtime host "
                            "(unless runtime_allow_idc)"),
    ("target-header-missing", "400: a target-style request without x-amzn-kiro-agent-mode: "
                              "spec or x-amz-sso-bearer (setting target_require_headers)"),
    ("target-field-refused", "400: a target-style body with top-level agentMode, "
                             "agentContinuationId, agentTaskType or systemPrompt (or "
                             "profileArn: setting target_refuse_body_profile)"),
    ("idc-profile-arn", "403 bearer-invalid: an IdC account's request carries a profileArn"),
    ("profile-arn-required", "400 \"profileArn is required\": a social account's runtime "
                             "request without one"),
]

# 2026 catalogue: (modelId, modelName, maxInputTokens, maxOutputTokens, rate, caching).
# Mock values; the shape follows a ListAvailableModels answer quoted in kirodotdev/Kiro#7333.
MODELS_2026 = [
    ("auto", "Auto", 1000000, 64000, 1.0, True),
    ("claude-sonnet-4.5", "Claude Sonnet 4.5", 200000, 64000, 1.3, True),
    ("claude-sonnet-4.6", "Claude Sonnet 4.6", 1000000, 64000, 1.3, True),
    ("claude-haiku-4.5", "Claude Haiku 4.5", 200000, 64000, 0.4, True),
    ("claude-opus-4.6", "Claude Opus 4.6", 1000000, 64000, 2.2, True),
    ("claude-opus-4.7", "Claude Opus 4.7", 1000000, 64000, 2.2, True),
    ("claude-opus-4.8", "Claude Opus 4.8", 1000000, 128000, 2.2, True),
    ("claude-sonnet-5", "Claude Sonnet 5", 1000000, 128000, 1.3, True),
    ("claude-opus-5", "Claude Opus 5", 1000000, 128000, 2.2, True),
    ("deepseek-3.2", "DeepSeek 3.2", 164000, 32000, 0.25, False),
    ("glm-5", "GLM 5", 200000, 32000, 0.25, False),
    ("minimax-m2.1", "MiniMax M2.1", 196000, 32000, 0.15, False),
    ("minimax-m2.5", "MiniMax M2.5", 196000, 32000, 0.25, False),
    ("qwen3-coder-next", "Qwen3 Coder Next", 256000, 32000, 0.25, False),
]

SCENARIOS.update({
    "runtime_2026": {"kind": "reasoning", "metering": {"unit": "credit", "usage": 0.42},
                     "token_usage": True},
    "request_body_invalid": _http(400, REQUEST_BODY_INVALID),
    "profile_required": _http(400, PROFILE_REQUIRED),
})


def split_host(path):
    """("runtime"|"legacy", rest of the path) when the first segment names a host."""
    parts = path.split("/", 2)
    if len(parts) >= 2 and parts[1] in HOSTS:
        return parts[1], "/" + (parts[2] if len(parts) == 3 else "")
    return None, path


def check_api_key_spec(spec):
    key = spec.get("kiroApiKey")
    if key is not None and not (isinstance(key, str) and key.startswith(API_KEY_PREFIX)
                                and len(key) > len(API_KEY_PREFIX)):
        raise ValueError("kiroApiKey must be a string starting with %s" % API_KEY_PREFIX)
    for key in ("profiles", "models"):
        if spec.get(key) is not None and not isinstance(spec[key], list):
            raise ValueError("%s must be a list or null" % key)


def account_init_2026(acct, spec):
    """API-key accounts, ListAvailableProfiles answers and per-account models."""
    method = str(spec.get("authMethod") or "").lower()
    if method in ("api_key", "apikey", "api-key") or (spec.get("kiroApiKey") and not method):
        acct.auth_method = "api_key"
    acct.api_key = spec.get("kiroApiKey")
    acct.profiles = spec.get("profiles")
    acct.models = spec.get("models")


def account_update_2026(acct, spec):
    for key in ("profiles", "models"):
        if key in spec:
            check_api_key_spec({key: spec[key]})
            setattr(acct, key, spec[key])


def account_json_2026(acct):
    return {"kiroApiKey": acct.api_key, "profiles": account_profiles(acct),
            "models": acct.models}


def account_profiles(acct):
    """The ListAvailableProfiles list: the override, else one from the account's ARN."""
    if acct.profiles is not None:
        return acct.profiles
    arn = acct.arn()
    if not arn:
        return []
    return [{"arn": arn, "profileName": "KiroProfile-" + (arn.split(":")[3] or "us-east-1")}]


def model_entry_2026(item):
    """A catalogue entry from a MODELS_2026 row or a per-account control item."""
    if isinstance(item, (tuple, list)):
        model_id, name, max_in, max_out, rate, caching = item
        item = {"modelId": model_id, "modelName": name, "maxInputTokens": max_in,
                "maxOutputTokens": max_out, "rateMultiplier": rate, "promptCaching": caching}
    if not isinstance(item, dict) or not _nonempty_str(item.get("modelId")):
        raise ValueError("each model needs a modelId")
    if "tokenLimits" in item:
        return dict(item)  # a full entry: passed through as given
    name = item.get("modelName", item["modelId"])
    caching = item.get("promptCaching", True)
    entry = {"modelId": item["modelId"], "modelName": name,
             "description": item.get("description", "%s (mock catalogue)" % name),
             "tokenLimits": {"maxInputTokens": int(item.get("maxInputTokens", 200000)),
                             "maxOutputTokens": int(item.get("maxOutputTokens", 64000))},
             "rateMultiplier": item.get("rateMultiplier", 1.0), "rateUnit": "Credit",
             "supportedInputTypes": item.get("supportedInputTypes", ["TEXT", "IMAGE"])}
    if isinstance(caching, dict):
        entry["promptCaching"] = caching
    else:
        entry["promptCaching"] = {"supportsPromptCaching": bool(caching),
                                  "maximumCacheCheckpointsPerRequest": 4 if caching else 0,
                                  "minimumTokensPerCacheCheckpoint": 1024 if caching else 0}
    return entry


def _present(value):
    return value is not None and value != ""


class HostMixin(object):
    """Handler methods for the two hosts, profile rules, API keys and profiles."""

    def handle_host(self, host, rest, path, query, body):
        self.host = host
        target = self.headers.get("x-amz-target")
        self.style = "target" if rest.strip("/") == "" and self.command == "POST" else "path"
        if self.style == "target":
            op = RUNTIME_TARGETS.get(target) if host == "runtime" else None
        else:
            op = route_upstream(rest, body)
        self.entry = self.new_entry(path, op, query, body)
        if host == "legacy" and self.state.settings["legacy_retired"]:
            return self.refuse(404, "legacy-retired", path, LEGACY_RETIRED)
        if op is None and self.style == "target":
            return self.refuse(400, "unknown-target", "x-amz-target=%r" % (target,),
                               dict(UNKNOWN_OPERATION,
                                    message="Unknown operation %s" % (target,)))
        if op is None:
            return self.send_json(404, {"message": "Unknown operation: %s" % path,
                                        "reason": None})
        method, func = UPSTREAM_OPS[op]
        if self.command != method:
            return self.send_json(405, {"message": "Method %s not allowed for %s"
                                                   % (self.command, op), "reason": None})
        return getattr(self, func)(query, body)

    def request_traits(self, headers, query, parsed):
        """What the request log records about host, style and credentials."""
        auth = headers.get("authorization", "")
        if re.match(r"(?i)bearer\s+\S", auth):
            kind = "api_key" if headers.get("tokentype", "").upper() == "API_KEY" else "bearer"
        else:
            kind = None
        body_arn = parsed.get("profileArn") if isinstance(parsed, dict) else None
        return {"host": self.host, "style": self.style, "target": headers.get("x-amz-target"),
                "profile": {"body": body_arn, "header": headers.get(GENERATE_PROFILE_HEADER),
                            "mcp_header": headers.get(MCP_PROFILE_HEADER),
                            "query": query.get("profileArn")},
                "auth_kind": kind, "account_kind": None,
                "sso_bearer": "x-amz-sso-bearer" in headers}

    def token_type_matches(self, acct):
        """tokentype: API_KEY goes with API keys and, on the two hosts, only with them.
        Without a host prefix an OAuth token may carry it, as before (section 12)."""
        says_key = (self.headers.get("tokentype") or "").strip().upper() == "API_KEY"
        if acct.auth_method == "api_key":
            return says_key
        return not says_key or self.host is None

    def refuse(self, status, rule, detail, body):
        self.state.bump("host_rejected")
        self.note(validation={"ok": False, "rule": rule, "detail": detail})
        self.send_json(status, body, [("X-Mock-Reason", rule),
                                      ("X-Mock-Detail", re.sub(r"[\r\n]", " ", detail)[:300])])

    def host_allows(self, acct, op):
        """Host rules that need only the account; False once a refusal is sent."""
        if self.host != "runtime":
            return True
        settings = self.state.settings
        if op == "generateAssistantResponse" and self.style == "path" \
                and settings["runtime_path_style_invalid"]:
            self.refuse(400, "runtime-path-style-invalid", "path style generate",
                        REQUEST_BODY_INVALID)
            return False
        if acct.auth_method == "idc" and not settings["runtime_allow_idc"]:
            self.refuse(403, "runtime-idc-refused", "IdC account %s" % acct.id, BEARER_INVALID)
            return False
        return True

    def host_checks_generate(self, acct, body):
        if self.host is None or not isinstance(body, dict):
            return True
        if self.style == "target" and self.state.settings["target_require_headers"]:
            wrong = [name for name, want in TARGET_HEADERS.items()
                     if self.headers.get(name) is None
                     or (want is not None and self.headers.get(name) != want)]
            if wrong:
                self.refuse(400, "target-header-missing", ", ".join(wrong), IMPROPERLY_FORMED)
                return False
        if self.style == "target":
            refused = [k for k in TARGET_REFUSED_FIELDS if k in body]
            if self.state.settings["target_refuse_body_profile"] and "profileArn" in body:
                refused.append("profileArn")
            state = body.get("conversationState")
            if self.state.settings["target_refuse_state_fields"] and isinstance(state, dict):
                refused += ["conversationState." + k for k in TARGET_REFUSED_FIELDS
                            if k in state]
            if refused:
                self.refuse(400, "target-field-refused", ", ".join(refused), IMPROPERLY_FORMED)
                return False
        body_arn = _present(_opt(body, "profileArn"))
        header_arn = _present(self.headers.get(GENERATE_PROFILE_HEADER))
        styled = header_arn if self.style == "target" else body_arn
        return self.profile_rules(acct, body_arn or header_arn, styled)

    def host_checks_mcp(self, acct, body):
        if self.host is None:
            return True
        sources = [self.headers.get(MCP_PROFILE_HEADER), self.headers.get(GENERATE_PROFILE_HEADER),
                   _opt(body, "profileArn")]
        any_arn = any(_present(s) for s in sources)
        return self.profile_rules(acct, any_arn, any_arn)

    def profile_rules(self, acct, any_arn, styled_arn):
        """IdC + profileArn -> 403 (both hosts); social without one -> 400 (runtime)."""
        if acct.auth_method == "idc" and any_arn:
            self.refuse(403, "idc-profile-arn", "IdC account %s sent a profileArn" % acct.id,
                        BEARER_INVALID)
            return False
        if self.host == "runtime" and acct.auth_method == "social" and not styled_arn:
            where = "header " + GENERATE_PROFILE_HEADER if self.style == "target" \
                else "body profileArn"
            self.refuse(400, "profile-arn-required", "no " + where, PROFILE_REQUIRED)
            return False
        return True

    def model_catalogue(self, acct):
        if acct.models is not None:
            return [model_entry_2026(m) for m in acct.models]
        if self.host is not None:
            return [model_entry_2026(m) for m in MODELS_2026]
        return [model_entry(*m) for m in MODELS]

    def op_profiles(self, query, raw):
        """ListAvailableProfiles: social -> profiles, Builder ID -> 403 (section 12)."""
        self.state.bump("profiles")
        auth = self.authenticate()
        if auth is None:
            return
        body, err = parse_json(raw) if raw.strip() else ({}, None)
        if err is not None or not isinstance(body, dict):
            return self.send_json(400, {"message": "Malformed JSON body", "reason": None})
        spec = self.scripted("ListAvailableProfiles", auth[0])
        if spec and spec["kind"] == "http_error":
            return Scenario(self, spec, "").run()
        if auth[1].auth_method == "idc":
            return self.send_json(403, BUILDER_ID_UNSUPPORTED)
        profiles = account_profiles(auth[1])
        try:
            start = int(body.get("nextToken") or 0)
            size = max(int(body.get("maxResults") or len(profiles) or 1), 1)
        except (TypeError, ValueError):
            return self.send_json(400, {"message": "Invalid maxResults or nextToken",
                                        "reason": None})
        out = {"profiles": profiles[start:start + size], "nextToken": None}
        if start + size < len(profiles):
            out["nextToken"] = str(start + size)
        self.send_json(200, out)


UPSTREAM_OPS["ListAvailableProfiles"] = ("POST", "op_profiles")


# ------------------------------------------------------------------ web search (section 10)
#
# Scripted /mcp answers: a script with match {"endpoint": "mcp"} (prompt_contains is
# matched against the query) and a response of kind "mcp", or a #mock:<preset> marker
# in the query.  Fields of an "mcp" response: results (the list to return),
# rpc_error ({code, message}), is_error (true), text (the inner text verbatim), body
# (the whole HTTP body verbatim, a string).

SCENARIOS.update({
    "mcp_empty": {"kind": "mcp", "results": []},
    "mcp_rpc_error": {"kind": "mcp", "rpc_error": {"code": -32000,
                                                    "message": "search backend failed"}},
    "mcp_is_error": {"kind": "mcp", "is_error": True, "text": "search quota exceeded"},
    "mcp_garbage": {"kind": "mcp", "text": "{\"results\": [{\"title\": 7, \"url\": null}, 5, "},
    "mcp_not_json": {"kind": "mcp", "body": "<html>gateway timeout</html>"},
    "mcp_server_error": _http(500, {"message": "search is unavailable", "reason": None}),
    "mcp_many": {"kind": "mcp", "results": [
        {"title": "Result %d" % i, "url": "https://site%d.example.com/page" % (i % 7),
         "snippet": "Snippet number %d. " % i * 20, "domain": "site%d.example.com" % (i % 7)}
        for i in range(60)]},
})

SEARCH_TOOL_NAMES = ("web_search", "WebSearch")
SEARCH_TOOL_ID = "tooluse_MockSearch"


def mcp_query(body):
    """The query of a tools/call web_search body, or None."""
    params = body.get("params") if isinstance(body, dict) else None
    args = params.get("arguments") if isinstance(params, dict) else None
    query = args.get("query") if isinstance(args, dict) else None
    return query if isinstance(query, str) else None


def mcp_marker(query):
    for name in re.findall(r"#mock:([A-Za-z0-9_-]+)", query or ""):
        if normalize_name(name) in SCENARIOS and normalize_name(name).startswith("mcp_"):
            return resolve_response({"preset": name})
    return None


def _context(msg):
    ctx = msg.get("userInputMessageContext") if isinstance(msg, dict) else None
    return ctx if isinstance(ctx, dict) else {}


def web_search_turn(body):
    """The mock model's web search: when the request offers a web_search (or Claude
    Code's WebSearch) tool and a user message asks to "search (the web) for X", the model
    calls it with X
    until it has seen #mock:searches=N results (default 1), then answers citing the
    last result's first URL and quoting its first line."""
    try:
        state = body["conversationState"]
        current = state["currentMessage"]["userInputMessage"]
    except (KeyError, TypeError):
        return None
    tools = [t.get("toolSpecification", {}).get("name") for t in _context(current).get("tools") or []
             if isinstance(t, dict)]
    name = next((n for n in tools if n in SEARCH_TOOL_NAMES), None)
    if name is None:
        return None
    users = [h.get("userInputMessage") for h in state.get("history") or [] if isinstance(h, dict)]
    users = [u for u in users if isinstance(u, dict)] + [current]
    prompts = " ".join(str(u.get("content", "")) for u in users)
    # The newest user message that asks: "search (the web) for <query>".
    asks = [m for m in (re.search(r"(?i)\bsearch(?: the web)? for:?\s+\"?([^\"\n#]+)",
                                  str(u.get("content", ""))) for u in reversed(users)) if m]
    if not asks:
        return None
    results = [r for u in users for r in _context(u).get("toolResults") or []
               if isinstance(r, dict) and str(r.get("toolUseId", "")).startswith(SEARCH_TOOL_ID)]
    wanted = re.search(r"#mock:searches=(\d+)", prompts)
    if len(results) < (int(wanted.group(1)) if wanted else 1):
        query = asks[0].group(1).strip().rstrip(".?!") or "news"
        # An /mcp scenario marker in the prompt travels on in the query.
        query = " ".join([query] + re.findall(r"#mock:mcp_[A-Za-z0-9_-]+", prompts))
        return {"kind": "tool_use", "chunks": ["Let me search the web."], "tools": [
            {"name": name, "id": "%s%02d%s" % (SEARCH_TOOL_ID, len(results), rand_str(8)),
             "input_fragments": [compact({"query": query})]}]}
    last = results[-1]
    text = " ".join(c.get("text", "") for c in last.get("content") or [] if isinstance(c, dict))
    url = re.search(r"https?://[^\s\"')\]]+", text)
    first = text.strip().splitlines()[0][:200] if text.strip() else ""
    return {"kind": "text", "chunks": split_text(
        "Searched %d times. Source: %s. First line: %s" % (len(results),
                                                           url.group(0) if url else "none", first))}


def _send_mcp_scripted(self, body, spec):
    rid = body.get("id")
    if "body" in spec:
        return self.send_bytes(200, str(spec["body"]).encode(), "application/json")
    if spec.get("rpc_error") is not None:
        return self.send_json(200, {"id": rid, "jsonrpc": "2.0", "error": spec["rpc_error"]})
    if "text" in spec:
        text = str(spec["text"])
    else:
        query = mcp_query(body) or ""
        text = compact({"results": spec.get("results", []), "totalResults":
                        len(spec.get("results", [])), "query": query, "error": None})
    self.send_json(200, {"id": rid, "jsonrpc": "2.0", "result": {
        "content": [{"type": "text", "text": text}], "isError": bool(spec.get("is_error"))}})


HostMixin.send_mcp_scripted = _send_mcp_scripted


class Handler(HostMixin, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kiro-mock/1.0"

    def version_string(self):
        return self.server_version

    # -- plumbing

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    @property
    def state(self):
        return self.server.state

    def log_request(self, code="-", size="-"):
        pass  # one line per request is written by dispatch()

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            sys.stderr.write("kiro-mock: %s\n" % (fmt % args))

    def note(self, **fields):
        self.state.note(self.entry, **fields)

    def dispatch(self):
        self.entry = None
        self.host, self.style = None, "path"
        self.sent_status = None
        self.headers_sent = False
        started = time.time()
        try:
            self.handle_request()
        except ClientGone:
            self.close_connection = True
            if self.entry is not None and not self.entry["client_aborted"]:
                self.note(client_aborted=True)
                self.state.bump("client_aborted")
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            if not self.headers_sent:
                try:
                    self.send_json(500, {"message": "mock internal error"})
                except ClientGone:
                    pass
        finally:
            self.note(complete=True, duration_ms=int((time.time() - started) * 1000))
            self.log_message("%s %s -> %s%s", self.command, self.path, self.sent_status or "-",
                             " (client aborted)" if self.entry and self.entry["client_aborted"]
                             else "")

    def handle_request(self):
        url = urlsplit(self.path)
        try:
            body = self.read_body()
        except BadRequest as exc:
            self.close_connection = True
            self.send_json(400, {"message": "Bad request: %s" % exc})
            return
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if "/_mock/" in url.path + "/":
            ctl = url.path[url.path.index("/_mock") + len("/_mock"):].strip("/")
            return self.control(ctl, query, body)
        host, rest = split_host(url.path)
        if host is not None:
            return self.handle_host(host, rest, url.path, query, body)
        op = route_upstream(url.path, body)
        self.entry = self.new_entry(url.path, op, query, body)
        if op is None:
            return self.send_json(404, {"message": "Unknown operation: %s" % url.path,
                                        "reason": None})
        method, func = UPSTREAM_OPS[op]
        if self.command != method:
            return self.send_json(405, {"message": "Method %s not allowed for %s"
                                                   % (self.command, op), "reason": None})
        return getattr(self, func)(query, body)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            length = int(length)
        except ValueError:
            raise BadRequest("invalid Content-Length")
        if length < 0:
            raise BadRequest("invalid Content-Length")
        data = self.rfile.read(length)
        if len(data) != length:
            raise ClientGone()
        return data

    def read_chunked(self):
        out = bytearray()
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise ClientGone()
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size")
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline(8)

    def new_entry(self, path, op, query, body):
        parsed, err = parse_json(body) if body else (None, None)
        headers = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = headers[key] + ", " + value if key in headers else value
        entry = {"id": 0, "time": time.time(), "method": self.command, "path": path,
                 "op": op, "query": query, "headers": headers,
                 "body": parsed if err is None else body.decode("utf-8", "replace"),
                 "body_json_error": err, "body_bytes": len(body), "account": None,
                 "validation": None, "script": None, "scenario": None, "status": None,
                 "client_aborted": False, "cutoff": False, "complete": False,
                 "duration_ms": None}
        entry.update(self.request_traits(headers, query, parsed if err is None else None))
        self.state.log_request(entry)
        return entry

    # -- writing

    def write(self, data):
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (OSError, ValueError):
            raise ClientGone()

    def begin_response(self, status, headers):
        self.send_response(status)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers:
            self.send_header(name, value)
        try:
            self.end_headers()
        except (OSError, ValueError):
            raise ClientGone()
        self.headers_sent = True
        self.sent_status = status
        self.note(status=status)

    def send_bytes(self, status, data, content_type, headers=()):
        hdrs = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
        self.begin_response(status, hdrs + list(headers))
        if self.command != "HEAD":
            self.write(data)

    def send_json(self, status, obj, headers=()):
        self.send_bytes(status, compact(obj).encode("utf-8"), "application/json", headers)

    def send_error_body(self, status, body, headers, content_type=None):
        extra = list(headers.items())
        if isinstance(body, (dict, list)) or body is None:
            self.send_bytes(status, compact(body).encode("utf-8"),
                            content_type or "application/json", extra)
        else:
            self.send_bytes(status, str(body).encode("utf-8"), content_type or "text/plain", extra)

    def drop_connection(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def wait_for_disconnect(self, seconds):
        """Sleep up to ``seconds``; return True early if the client hangs up."""
        deadline = time.monotonic() + seconds
        sock = self.connection
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                readable, _, _ = select.select([sock], [], [], min(left, 0.2))
                if readable and not sock.recv(1, socket.MSG_PEEK):
                    return True
            except (OSError, ValueError):
                return True
            if readable:
                time.sleep(min(left, 0.05))  # pipelined data: cannot tell, keep waiting

    # -- upstream API

    def authenticate(self):
        """Return (token, account) or send 403 bearer-invalid and return None."""
        header = self.headers.get("Authorization", "")
        match = re.match(r"(?i)bearer\s+(\S+)\s*$", header)
        acct = self.state.check_access(match.group(1)) if match else None
        rule = "bearer-invalid"
        if acct is not None and not self.token_type_matches(acct):
            acct, rule = None, "token-type-mismatch"
        if acct is None:
            self.state.bump("auth_failures")
            self.note(validation={"ok": False, "rule": rule})
            self.send_json(403, BEARER_INVALID)
            return None
        self.note(account=acct.id, account_kind=acct.auth_method)
        return match.group(1), acct

    def scripted(self, endpoint, token, prompt=None, model=None):
        """Return a resolved script response for a non-stream endpoint, or None."""
        script_id, spec = self.state.take_script(endpoint, token, prompt, model)
        if spec is None:
            return None
        self.note(script=script_id)
        return resolve_response(spec)

    def reject(self, rule, detail, body=IMPROPERLY_FORMED):
        self.state.bump("generate_rejected")
        self.note(validation={"ok": False, "rule": rule, "detail": detail})
        safe = detail.encode("ascii", "backslashreplace").decode("ascii")
        safe = re.sub(r"[\r\n]", " ", safe)[:300]
        self.send_json(400, body, [("X-Mock-Reason", rule), ("X-Mock-Detail", safe)])

    def op_generate(self, query, raw):
        self.state.bump("generate")
        auth = self.authenticate()
        if auth is None or not self.host_allows(auth[1], "generateAssistantResponse"):
            return
        if len(raw) > self.state.settings["max_body_bytes"]:
            return self.reject(SIZE_RULE, "%d bytes" % len(raw), INPUT_TOO_LONG)
        body, err = parse_json(raw)
        if err is not None:
            return self.reject("body-not-json", err)
        if not self.host_checks_generate(auth[1], body):
            return
        try:
            validate_generate(body)
        except Invalid as exc:
            return self.reject(exc.rule, exc.detail)
        self.note(validation={"ok": True})
        current = body["conversationState"]["currentMessage"]["userInputMessage"]
        self.generate_body = body
        self.count_request(auth[1], body, current["modelId"])
        spec = self.choose_response(auth[0], current["content"], current["modelId"])
        if spec["kind"] != "http_error":
            self.state.bump("generate_ok")
        Scenario(self, spec, current["content"]).run()

    def count_request(self, acct, body, model_id):
        """The reference count of the request (tokentruth.py) and its share of the
        model's window (tokenLimits of the account's model list, else 200000)."""
        window = tokentruth.DEFAULT_WINDOW
        for entry in self.model_catalogue(acct):
            if entry.get("modelId") == model_id:
                limits = entry.get("tokenLimits") or {}
                if isinstance(limits.get("maxInputTokens"), int):
                    window = limits["maxInputTokens"]
        tokens = tokentruth.count(body)
        self.auto_context_usage = round(tokens * 100.0 / window, 6)
        self.note(reference_tokens=tokens, window=window)

    def choose_response(self, token, prompt, model):
        script_id, spec = self.state.take_script("generateAssistantResponse", token, prompt, model)
        if spec is not None:
            self.note(script=script_id)
            return resolve_response(spec)
        for name in re.findall(r"#mock:([A-Za-z0-9_-]+)", prompt):
            if normalize_name(name) in SCENARIOS \
                    and SCENARIOS[normalize_name(name)]["kind"] != "mcp":
                self.note(scenario=normalize_name(name))
                return resolve_response({"preset": name})
        cut = tool_cut_history_preset(getattr(self, "generate_body", None))
        if cut is not None:
            self.note(scenario=cut)
            return resolve_response({"preset": cut})
        searching = web_search_turn(getattr(self, "generate_body", None))
        if searching is not None:
            self.note(scenario="web_search_model")
            return resolve_response(searching)
        return resolve_response({"kind": "text"})

    def op_usage(self, query, raw):
        self.state.bump("usage")
        auth = self.authenticate()
        if auth is None or not self.host_allows(auth[1], "getUsageLimits"):
            return
        spec = self.scripted("getUsageLimits", auth[0])
        if spec and spec["kind"] == "http_error":
            return Scenario(self, spec, "").run()
        usage = dict(auth[1].usage)
        if isinstance(usage.get("error"), dict):
            err = usage["error"]
            return self.send_error_body(int(err.get("status", 500)), err.get("body"), {})
        self.send_json(200, usage_body(usage))

    def op_models(self, query, raw):
        self.state.bump("models")
        auth = self.authenticate()
        if auth is None or not self.host_allows(auth[1], "ListAvailableModels"):
            return
        spec = self.scripted("ListAvailableModels", auth[0])
        if spec and spec["kind"] == "http_error":
            return Scenario(self, spec, "").run()
        delay_ms = self.state.settings["models_delay_ms"]
        if delay_ms > 0:
            time.sleep(delay_ms / 1000.0)
        models = self.model_catalogue(auth[1])
        try:
            start = int(query.get("nextToken") or 0)
            size = int(query.get("maxResults") or len(models))
        except ValueError:
            return self.send_json(400, {"message": "Invalid maxResults or nextToken",
                                        "reason": None})
        body = {"models": models[start:start + max(size, 1)], "defaultModel": models[0]}
        if start + max(size, 1) < len(models):
            body["nextToken"] = str(start + max(size, 1))
        self.send_json(200, body)

    def op_mcp(self, query, raw):
        self.state.bump("mcp")
        auth = self.authenticate()
        if auth is None or not self.host_allows(auth[1], "mcp"):
            return
        body, err = parse_json(raw)
        if err is not None or not isinstance(body, dict):
            return self.send_json(400, {"message": "Malformed JSON-RPC request", "reason": None,
                                        "jsonrpc": "2.0", "id": None,
                                        "error": {"code": -32700, "message": "Parse error"}})
        if not self.host_checks_mcp(auth[1], body):
            return
        query_text = mcp_query(body)
        self.note(mcp_query=query_text)
        spec = self.scripted("mcp", auth[0], query_text) or mcp_marker(query_text)
        if spec and spec["kind"] == "http_error":
            return Scenario(self, spec, "").run()
        if spec and spec["kind"] == "mcp":
            return self.send_mcp_scripted(body, spec)
        self.send_json(200, self.mcp_answer(body))

    @staticmethod
    def mcp_answer(body):
        rid = body.get("id")

        def error(code, message):
            return {"id": rid, "jsonrpc": "2.0", "error": {"code": code, "message": message}}

        if body.get("jsonrpc") != "2.0" or body.get("method") != "tools/call":
            return error(-32601, "Method not found: %r" % (body.get("method"),))
        params = body.get("params") if isinstance(body.get("params"), dict) else {}
        if params.get("name") != "web_search":
            return error(-32602, "Unknown tool: %r" % (params.get("name"),))
        args = params.get("arguments") if isinstance(params.get("arguments"), dict) else {}
        query = args.get("query")
        if not isinstance(query, str) or not query.strip():
            return error(-32602, "Invalid params: query is required")
        text = compact(web_search_results(query))
        return {"id": rid, "jsonrpc": "2.0",
                "result": {"content": [{"type": "text", "text": text}], "isError": False}}

    # -- token endpoints

    def auth_json(self, raw):
        """Parse an auth-endpoint body; on error answer 400 and return None."""
        body, err = parse_json(raw)
        if err is not None or not isinstance(body, dict):
            self.send_json(400, {"error": "invalid_request",
                                 "error_description": "Malformed JSON body"})
            return None
        return body

    def run_refresh(self, acct, presented, build):
        """Common refresh path: delay window, forced failure, token issue."""
        self.state.refresh_window(+1)
        try:
            if acct.refresh_delay_ms:
                time.sleep(acct.refresh_delay_ms / 1000.0)
            with self.state.lock:
                failure = acct.take_failure()
                if failure is None and presented not in self.state.refresh_index:
                    failure = (400, INVALID_GRANT)  # rotated by a concurrent refresh
                if failure is None:
                    access, refresh = self.state.refresh(acct, presented)
        finally:
            self.state.refresh_window(-1)
        if failure is not None:
            self.state.bump("refreshes_failed")
            return self.send_error_body(failure[0], failure[1], {})
        self.state.bump("refreshes_ok")
        self.note(account=acct.id)
        self.send_json(200, build(access, refresh))

    def refresh_account(self, token, method):
        with self.state.lock:
            acct_id = self.state.refresh_index.get(token) if isinstance(token, str) else None
            acct = self.state.accounts.get(acct_id)
            return acct if acct is not None and acct.auth_method == method else None

    def op_social_refresh(self, query, raw):
        body = self.auth_json(raw)
        if body is None:
            return
        token = body.get("refreshToken")
        self.state.count_refresh(token if isinstance(token, str) else "")
        acct = self.refresh_account(token, "social")
        if acct is None:
            self.state.bump("refreshes_failed")
            return self.send_json(400, INVALID_GRANT)

        def build(access, refresh):
            out = {"accessToken": access, "expiresIn": acct.expires_in,
                   "profileArn": acct.arn()}
            if not acct.omit_refresh_token:
                out["refreshToken"] = refresh
            return out

        self.run_refresh(acct, token, build)

    def client_ok(self, body):
        with self.state.lock:
            cid = body.get("clientId")
            return (isinstance(cid, str) and cid in self.state.clients
                    and self.state.clients[cid] == body.get("clientSecret"))

    def op_oidc_token(self, query, raw):
        body = self.auth_json(raw)
        if body is None:
            return
        grant = body.get("grantType")
        if grant == "refresh_token":
            return self.oidc_refresh(body)
        if grant == DEVICE_GRANT:
            return self.device_token(body)
        self.send_json(400, {"error": "unsupported_grant_type",
                             "error_description": "grantType %r is not supported" % (grant,)})

    def oidc_refresh(self, body):
        token = body.get("refreshToken")
        self.state.count_refresh(token if isinstance(token, str) else "")
        if not self.client_ok(body):
            self.state.bump("refreshes_failed")
            return self.send_json(400, INVALID_CLIENT)
        acct = self.refresh_account(token, "idc")
        if acct is None or acct.client_id != body.get("clientId"):
            self.state.bump("refreshes_failed")
            return self.send_json(400, INVALID_GRANT)

        def build(access, refresh):
            out = {"accessToken": access, "expiresIn": acct.expires_in, "tokenType": "Bearer"}
            if not acct.omit_refresh_token:
                out["refreshToken"] = refresh
            if acct.profile_arn:
                out["profileArn"] = acct.profile_arn
            return out

        self.run_refresh(acct, token, build)

    def op_client_register(self, query, raw):
        body = self.auth_json(raw)
        if body is None:
            return
        if not _nonempty_str(body.get("clientName")) or body.get("clientType") != "public":
            return self.send_json(400, {"error": "invalid_request",
                                        "error_description": "clientName and clientType "
                                                            "\"public\" are required"})
        cid, secret = "mockclient-" + rand_str(22), "mocksecret-" + rand_str(80)
        with self.state.lock:
            self.state.clients[cid] = secret
        now = int(time.time())
        self.send_json(200, {"clientId": cid, "clientSecret": secret,
                             "clientIdIssuedAt": now, "clientSecretExpiresAt": now + 90 * 86400})

    def op_device_authorization(self, query, raw):
        body = self.auth_json(raw)
        if body is None:
            return
        if not self.client_ok(body):
            return self.send_json(400, INVALID_CLIENT)
        if not _nonempty_str(body.get("startUrl")):
            return self.send_json(400, {"error": "invalid_request",
                                        "error_description": "startUrl is required"})
        settings = self.state.settings
        code = rand_str(4, string.ascii_uppercase) + "-" + rand_str(4, string.ascii_uppercase)
        device = {"deviceCode": "mockdevice-" + rand_str(40), "userCode": code,
                  "clientId": body["clientId"], "approved": False, "denied": False,
                  "slowDown": int(settings["device_slow_down"]),
                  "expiresAt": time.time() + int(settings["device_expires_in"])}
        with self.state.lock:
            self.state.devices[device["deviceCode"]] = device
        uri = "https://view.awsapps.com/start/#/device"
        self.send_json(200, {"deviceCode": device["deviceCode"], "userCode": code,
                             "verificationUri": uri,
                             "verificationUriComplete": uri + "?user_code=" + code,
                             "expiresIn": int(settings["device_expires_in"]),
                             "interval": int(settings["device_interval"])})

    def device_token(self, body):
        if not self.client_ok(body):
            return self.send_json(400, INVALID_CLIENT)
        code = body.get("deviceCode")
        with self.state.lock:
            device = self.state.devices.get(code) if isinstance(code, str) else None
            error = self.device_error(device, body)
            if error is None:
                del self.state.devices[device["deviceCode"]]
        if error is not None:
            return self.send_json(400, {"error": error})
        self.state.bump("device_tokens")
        access, refresh = new_access_token(), new_refresh_token()
        acct = self.state.add_account({"authMethod": "idc", "refreshToken": refresh,
                                       "accessToken": access, "accessTokenExpiresIn": 3600,
                                       "clientId": body["clientId"],
                                       "clientSecret": body["clientSecret"]})
        self.note(account=acct.id)
        self.send_json(200, {"accessToken": access, "refreshToken": refresh,
                             "expiresIn": 3600, "tokenType": "Bearer"})

    @staticmethod
    def device_error(device, body):
        """OIDC error code for a device_code poll, or None when tokens are due."""
        if device is None or device["clientId"] != body.get("clientId"):
            return "invalid_grant"
        if time.time() >= device["expiresAt"]:
            return "expired_token"
        if device["denied"]:
            return "access_denied"
        if device["slowDown"] > 0:
            device["slowDown"] -= 1
            return "slow_down"
        return None if device["approved"] else "authorization_pending"

    def op_login(self, query, raw):
        required = ("redirect_uri", "code_challenge", "state")
        missing = [k for k in required if not query.get(k)]
        if query.get("idp") not in ("Google", "Github"):
            missing.append("idp (Google|Github)")
        if query.get("code_challenge_method") != "S256":
            missing.append("code_challenge_method=S256")
        if missing:
            return self.send_json(400, {"error": "invalid_request",
                                        "error_description": "bad or missing: " +
                                                             ", ".join(missing)})
        params = {"state": query["state"]}
        if self.state.settings.get("login_error"):
            params["error"] = self.state.settings["login_error"]
        else:
            params["code"] = "mockcode-" + rand_str(32)
            with self.state.lock:
                self.state.login_codes[params["code"]] = {
                    "challenge": query["code_challenge"], "redirect_uri": query["redirect_uri"],
                    "idp": query["idp"]}
        uri = query["redirect_uri"]
        location = uri + ("&" if "?" in uri else "?") + urlencode(params)
        self.send_bytes(302, b"", "text/plain", [("Location", location)])

    def op_oauth_token(self, query, raw):
        body = self.auth_json(raw)
        if body is None:
            return
        with self.state.lock:
            record = self.state.login_codes.pop(body.get("code"), None) \
                if isinstance(body.get("code"), str) else None
        if record is None or record["redirect_uri"] != body.get("redirect_uri"):
            return self.send_json(400, {"error": "invalid_grant",
                                        "error_description": "Invalid authorization code"})
        verifier = body.get("code_verifier")
        if not isinstance(verifier, str) or s256(verifier) != record["challenge"]:
            return self.send_json(400, {"error": "invalid_grant",
                                        "error_description": "PKCE verification failed"})
        self.state.bump("social_logins")
        access, refresh = new_access_token(), new_refresh_token()
        acct = self.state.add_account({"authMethod": "social", "refreshToken": refresh,
                                       "accessToken": access, "accessTokenExpiresIn": 3600})
        self.note(account=acct.id)
        self.send_json(200, {"accessToken": access, "refreshToken": refresh,
                             "profileArn": DEFAULT_PROFILE_ARN, "expiresIn": 3600})

    # -- control API

    def control(self, name, query, raw):
        route = CONTROL_ROUTES.get((self.command, name))
        if route is None:
            known = sorted({n for (_, n) in CONTROL_ROUTES})
            return self.send_json(404, {"error": "unknown control endpoint %s %s"
                                                 % (self.command, name), "known": known})
        body = None
        if self.command == "POST":
            body, err = parse_json(raw) if raw.strip() else ({}, None)
            if err is not None or not isinstance(body, dict):
                return self.send_json(400, {"error": "control body must be a JSON object"})
        try:
            status, answer = route(self.state, body, query)
        except (ValueError, TypeError, KeyError) as exc:
            status, answer = 400, {"error": "%s: %s" % (type(exc).__name__, exc)}
        self.send_json(status, answer)


# ------------------------------------------------------------------ control API

def _need_account(state, body):
    acct = state.find_account(body)
    if acct is None:
        raise KeyError("no account matches (give id, refreshToken or accessToken)")
    return acct


def ctl_health(state, body, query):
    return 200, {"ok": True}


def ctl_reset(state, body, query):
    state.reset()
    return 200, {"ok": True}


def ctl_add_account(state, body, query):
    if not (_nonempty_str(body.get("refreshToken")) or _nonempty_str(body.get("accessToken"))
            or _nonempty_str(body.get("kiroApiKey"))):
        raise ValueError("refreshToken, accessToken or kiroApiKey is required")
    check_api_key_spec(body)
    acct = state.add_account(body)
    return 200, state.account_json(acct)


def ctl_list_accounts(state, body, query):
    with state.lock:
        return 200, [state.account_json(a) for a in state.accounts.values()]


def ctl_update_account(state, body, query):
    acct = _need_account(state, body)
    with state.lock:
        acct.update(body.get("set", {}) if isinstance(body.get("set"), dict) else
                    {k: v for k, v in body.items() if k not in ("id", "accessToken", "refreshToken")})
        return 200, state.account_json(acct)


def ctl_fail_refresh(state, body, query):
    acct = _need_account(state, body)
    with state.lock:
        acct.set_fail_refresh({k: body[k] for k in ("status", "body", "times") if k in body})
        return 200, state.account_json(acct)


def ctl_usage(state, body, query):
    acct = _need_account(state, body)
    with state.lock:
        if body.get("clear"):
            acct.usage.clear()
        acct.usage.update({k: v for k, v in body.items()
                           if k not in ("id", "accessToken", "refreshToken", "clear")})
        return 200, state.account_json(acct)


def ctl_revoke(state, body, query):
    with state.lock:
        done = []
        token = body.get("accessToken")
        if token in state.tokens:
            state.tokens[token]["revoked"] = True
            done.append("accessToken")
        refresh = body.get("refreshToken")
        if refresh in state.refresh_index:
            del state.refresh_index[refresh]
            done.append("refreshToken")
        if not done:
            return 404, {"error": "token not known"}
        return 200, {"ok": True, "revoked": done}


def ctl_add_script(state, body, query):
    if "response" not in body:
        raise ValueError("response is required")
    times = int(body.get("times", 1))
    if times == 0 or times < -1:
        raise ValueError("times must be >= 1 or -1")
    match = body.get("match") or {}
    if not isinstance(match, dict):
        raise ValueError("match must be an object")
    if match.get("endpoint", "generateAssistantResponse") not in SCRIPT_ENDPOINTS:
        raise ValueError("match.endpoint must be one of %s" % (SCRIPT_ENDPOINTS,))
    for key in ("token", "prompt_contains", "model"):
        if key in match and not isinstance(match[key], str):
            raise ValueError("match.%s must be a string" % key)
    resolve_response(body["response"])  # reject bad presets/kinds now
    script = state.add_script(dict(body, times=times, match=match))
    return 200, script


def ctl_list_scripts(state, body, query):
    with state.lock:
        return 200, list(state.scripts)


def ctl_clear_scripts(state, body, query):
    with state.lock:
        state.scripts = []
    return 200, {"ok": True}


def ctl_requests(state, body, query):
    with state.lock:
        entries = state.requests
        if query.get("op"):
            entries = [e for e in entries if e["op"] == query["op"]]
        if query.get("since"):
            entries = [e for e in entries if e["id"] > int(query["since"])]
        return 200, json.loads(compact(entries))


def ctl_stats(state, body, query):
    with state.lock:
        return 200, json.loads(compact(state.stats))


def ctl_get_settings(state, body, query):
    with state.lock:
        return 200, dict(state.settings)


def ctl_set_settings(state, body, query):
    unknown = sorted(set(body) - set(DEFAULT_SETTINGS))
    if unknown:
        raise ValueError("unknown settings %s" % unknown)
    values = dict(body)
    for key, value in body.items():
        if isinstance(DEFAULT_SETTINGS[key], bool):
            if not isinstance(value, bool):
                raise ValueError("%s must be true or false" % key)
        elif isinstance(DEFAULT_SETTINGS[key], int):
            values[key] = int(value)
    with state.lock:
        state.settings.update(values)
        return 200, dict(state.settings)


def _find_device(state, body):
    for device in state.devices.values():
        if body.get("userCode") == device["userCode"] or body.get("deviceCode") == \
                device["deviceCode"]:
            return device
    raise KeyError("no pending device authorization matches")


def ctl_device_approve(state, body, query):
    with state.lock:
        device = _find_device(state, body)
        device["approved"] = True
        return 200, dict(device)


def ctl_device_deny(state, body, query):
    with state.lock:
        device = _find_device(state, body)
        device["denied"] = True
        return 200, dict(device)


def ctl_device_list(state, body, query):
    with state.lock:
        return 200, [dict(d) for d in state.devices.values()]


def ctl_scenarios(state, body, query):
    return 200, {"kinds": list(KINDS), "scenarios": SCENARIOS,
                 "validation_rules": [r for r, _ in VALIDATION_RULES] + [SIZE_RULE],
                 "host_rules": [r for r, _ in HOST_RULES]}


CONTROL_ROUTES = {
    ("GET", "health"): ctl_health,
    ("POST", "reset"): ctl_reset,
    ("POST", "accounts"): ctl_add_account,
    ("GET", "accounts"): ctl_list_accounts,
    ("POST", "accounts/update"): ctl_update_account,
    ("POST", "accounts/fail_refresh"): ctl_fail_refresh,
    ("POST", "accounts/usage"): ctl_usage,
    ("POST", "revoke"): ctl_revoke,
    ("POST", "script"): ctl_add_script,
    ("GET", "scripts"): ctl_list_scripts,
    ("POST", "scripts/clear"): ctl_clear_scripts,
    ("GET", "requests"): ctl_requests,
    ("GET", "stats"): ctl_stats,
    ("GET", "settings"): ctl_get_settings,
    ("POST", "settings"): ctl_set_settings,
    ("POST", "device/approve"): ctl_device_approve,
    ("POST", "device/deny"): ctl_device_deny,
    ("GET", "device"): ctl_device_list,
    ("GET", "scenarios"): ctl_scenarios,
}


def ctl_account_models(state, body, query):
    """Per-account ListAvailableModels list; "models": null restores the catalogue."""
    acct = _need_account(state, body)
    if "models" not in body:
        raise KeyError("models is required (a list, or null)")
    models = body["models"]
    check_api_key_spec({"models": models})
    for item in models or []:
        model_entry_2026(item)  # reject bad items now
    with state.lock:
        acct.models = models
        return 200, state.account_json(acct)


CONTROL_ROUTES[("POST", "accounts/models")] = ctl_account_models


# ------------------------------------------------------------------ server

class MockServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, state, quiet=False):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.state = state
        self.quiet = quiet
        ThreadingHTTPServer.__init__(self, address, Handler)


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as fh:
        fh.write("%d\n" % port)
    os.replace(tmp, path)


def _terminate(signum, frame):
    raise SystemExit(0)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Mock Kiro upstream for kiro-fcgi tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = kernel-chosen")
    parser.add_argument("--port-file", help="write the bound port here (atomically)")
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = parser.parse_args(argv)

    server = MockServer((args.host, args.port), MockState(), args.quiet)
    port = server.server_address[1]
    signal.signal(signal.SIGTERM, _terminate)
    if args.port_file:
        write_port_file(args.port_file, port)
    sys.stderr.write("kiro-mock: listening on %s:%d\n" % (args.host, port))
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        sys.stderr.write("kiro-mock: stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
