"""Reference token count of a generateAssistantResponse body (Python 3 stdlib only).

A deterministic stand-in for Claude's tokenizer as Kiro counts a request, so that the
mock's contextUsagePercentage follows the request instead of being a constant, and the
gateway's estimator (shared/tokens.c) has something to be calibrated against. No real
capture of Kiro's counts exists: every figure below is an assumption, chosen to look like
a byte-level BPE on the kinds of text agents send.

Text: BPE-like pre-tokenisation (the pieces GPT-style tokenizers split on), then a cost
per piece:
  - a letter run, with the one space in front of it: 1 token per sub-word (camelCase
    humps), plus 1 per further 8 letters of a long sub-word; other alphabets (accented
    Latin, Greek, Cyrillic, ...) 1 per 3 letters;
  - CJK (Han, kana, Hangul, full-width forms): 1 token per character;
  - a group of 1 to 3 digits: 1 token;
  - a run of ASCII punctuation (JSON and code are dense): 1 per 2 characters; any other
    symbol (emoji, arrows, box drawing) 1 per character;
  - a run of whitespace: 1 per 4 characters (a single space before a word is free).

What Kiro sees in the body: the system/history/current message contents, each tool
result's texts and id, each tool use's id, name and compact input JSON, each tool's
name, description and compact inputSchema.json.

What Kiro adds unseen (ASSUMPTIONS, no capture exists):
  SYSTEM_PROMPT  3000 tokens: Kiro's own system prompt, on every request;
  TOOLS_PREAMBLE  400 tokens: the tool-use instructions, once when tools are offered;
  PER_TOOL         15 tokens: the wrapper around each tool definition;
  PER_MESSAGE       5 tokens: role markers of each history entry and the current message;
  PER_TOOL_USE     10 tokens, PER_TOOL_RESULT 8 tokens: their wrappers;
  PER_IMAGE      1600 tokens: an image of about 1.15 megapixels (Anthropic's w*h/750).
"""

import json
import re

SYSTEM_PROMPT = 3000
TOOLS_PREAMBLE = 400
PER_TOOL = 15
PER_MESSAGE = 5
PER_TOOL_USE = 10
PER_TOOL_RESULT = 8
PER_IMAGE = 1600
DEFAULT_WINDOW = 200000

# Pieces: a letter run (with one leading space), 1-3 digits, a punctuation run (with one
# leading space), underscores, whitespace (leaving the last space to the next word).
PIECE = re.compile(r" ?[^\W\d_]+|\d{1,3}| ?[^\s\w]+|_+|\s+(?!\S)|\s+")
SUBWORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[^A-Za-z]+")


def is_cjk(ch):
    o = ord(ch)
    return (0x3040 <= o <= 0x30FF or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or
            0xAC00 <= o <= 0xD7AF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF)


def _letters(run):
    cost, other = 0, 0
    for sub in SUBWORD.findall(run):
        if sub[0] < "\x80":
            cost += 1 + (len(sub) - 1) // 8
            continue
        for ch in sub:
            if is_cjk(ch):
                cost += 1
            else:
                other += 1
        cost += -(-other // 3)
        other = 0
    return cost


def _piece_cost(piece):
    first = piece[0]
    body = piece[1:] if first == " " and len(piece) > 1 and not piece[1].isspace() else piece
    head = body[0]
    if head.isspace():
        return -(-len(body) // 4)
    if head.isdigit() and head < "\x80":
        return 1
    if head == "_" or not head.isalnum():
        ascii_n = sum(1 for ch in body if ch < "\x80")
        return -(-ascii_n // 2) + (len(body) - ascii_n)
    if head.isdigit():            # a non-ASCII digit: one each
        return len(body)
    return _letters(body)


def text_tokens(text):
    """Tokens of one text."""
    if not isinstance(text, str) or not text:
        return 0
    return sum(_piece_cost(p) for p in PIECE.findall(text))


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _results(ctx):
    total = 0
    for res in ctx.get("toolResults") or []:
        if not isinstance(res, dict):
            continue
        total += PER_TOOL_RESULT + text_tokens(res.get("toolUseId"))
        for part in res.get("content") or []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                total += text_tokens(part["text"])
            elif isinstance(part, dict):
                total += text_tokens(compact(part))
    return total


def _user(msg):
    total = PER_MESSAGE + text_tokens(msg.get("content"))
    total += PER_IMAGE * len(msg.get("images") or [])
    ctx = msg.get("userInputMessageContext")
    if isinstance(ctx, dict):
        total += _results(ctx)
    return total


def _assistant(msg):
    total = PER_MESSAGE + text_tokens(msg.get("content"))
    for use in msg.get("toolUses") or []:
        if isinstance(use, dict):
            total += PER_TOOL_USE + text_tokens(use.get("toolUseId")) + \
                text_tokens(use.get("name")) + text_tokens(compact(use.get("input", {})))
    return total


def _tools(ctx):
    tools = ctx.get("tools") if isinstance(ctx, dict) else None
    if not tools:
        return 0
    total = TOOLS_PREAMBLE
    for tool in tools:
        spec = tool.get("toolSpecification") if isinstance(tool, dict) else None
        if not isinstance(spec, dict):
            continue
        schema = spec.get("inputSchema")
        schema = schema.get("json") if isinstance(schema, dict) else None
        total += PER_TOOL + text_tokens(spec.get("name")) + \
            text_tokens(spec.get("description")) + text_tokens(compact(schema or {}))
    return total


def count(body):
    """Input tokens Kiro would count for a generateAssistantResponse body (a dict)."""
    state = body.get("conversationState") if isinstance(body, dict) else None
    if not isinstance(state, dict):
        return 0
    total = SYSTEM_PROMPT
    for entry in state.get("history") or []:
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("userInputMessage"), dict):
            total += _user(entry["userInputMessage"])
        elif isinstance(entry.get("assistantResponseMessage"), dict):
            total += _assistant(entry["assistantResponseMessage"])
    current = (state.get("currentMessage") or {}).get("userInputMessage")
    if isinstance(current, dict):
        total += _user(current) + _tools(current.get("userInputMessageContext"))
    return total


def context_usage(body, window):
    """contextUsagePercentage for the body: reference tokens / window x 100."""
    window = window if isinstance(window, int) and window > 0 else DEFAULT_WINDOW
    return round(count(body) * 100.0 / window, 6)
