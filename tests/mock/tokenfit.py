#!/usr/bin/python3
"""Fit the weights of the gateway's token estimate (shared/tokens.c) against tokentruth.py.

Not a test: run it by hand after changing tokentruth.py or the estimator's features, and
copy the printed table into tally_weights in shared/tokens.c.

    /usr/bin/python3 tests/mock/tokenfit.py

The corpus is the texts of the three client fixtures (system prompts, messages, tool names,
descriptions and compact schemas) and of 300 synthetic Claude Code tool turns (the
generator of tests/integration/test_token_counts.py, another seed than the test's).  The
features are the estimator's, computed here byte by byte (tokens.c computes the same ones
64 bytes at a time): words (letter runs and camelCase humps), ASCII letters, letters past
the 8th of a word, digit runs, digits, punctuation runs, punctuation, underscore runs,
whitespace runs other than one space before a word, their characters, then two fixed
weights: 1/3 per lead of a 2-byte UTF-8 character, 1 per longer lead (CJK, symbols).
Least squares on the tokens of each text; prints the weights in thousandths and the error
per kind of text.
"""

import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import tokentruth as tt  # noqa: E402
import test_token_counts as sessions  # noqa: E402

FIXTURES = os.path.join(HERE, "..", "fixtures")
LOWER, UPPER, DIGIT, PUNCT, UNDER, WIDE, OTHER, CONT, NONE, WS, BLANK, BLANK1 = range(12)
NAMES = ("WORDS LETTERS LONG NUMBERS DIGITS PUNCTS PUNCT UNDERSCORES SPACES SPACE "
         "OTHER WIDE").split()
FIXED = (333, 1000)


def byte_class(c):
    if 97 <= c <= 122:
        return LOWER
    if 65 <= c <= 90:
        return UPPER
    if 48 <= c <= 57:
        return DIGIT
    if c == 95:
        return UNDER
    if c == 32:
        return BLANK
    if 9 <= c <= 13:
        return WS
    if c < 0x80:
        return PUNCT
    if c < 0xC0:
        return CONT
    return OTHER if c < 0xE0 else WIDE


def features(text):
    pairs, prev, raw, bits, long_letters = {}, NONE, NONE, 0, 0
    for c in text.encode("utf-8"):
        k = byte_class(c)
        pairs[prev, k] = pairs.get((prev, k), 0) + 1
        bits = (bits << 1 | ((prev, k) in ((LOWER, LOWER), (UPPER, LOWER), (UPPER, UPPER)))) \
            & 0xFFFF
        long_letters += bits & 0xFF == 0xFF
        prev, raw = (BLANK1 if k == BLANK and raw < WS else k), k
    g = lambda a, b: pairs.get((a, b), 0)  # noqa: E731
    into = [sum(g(a, b) for a in range(12) if a != b) for b in range(12)]
    count = [sum(g(a, b) for a in range(12)) for b in range(12)]
    lone = sum(g(BLANK1, b) for b in (LOWER, UPPER, PUNCT, WIDE, OTHER))
    return [into[LOWER] + into[UPPER] - g(UPPER, LOWER), count[LOWER] + count[UPPER],
            long_letters, into[DIGIT], count[DIGIT], into[PUNCT], count[PUNCT], into[UNDER],
            into[WS] + into[BLANK] - g(WS, BLANK) - g(BLANK, WS) - g(BLANK1, WS) -
            g(BLANK1, BLANK) - lone, count[WS] + count[BLANK] - lone,
            count[OTHER], count[WIDE]]


def fixture_texts():
    texts = []
    cc = json.load(open(os.path.join(FIXTURES, "claude-code-first-request.json")))["body"]
    texts += [s["text"] for s in cc["system"]]
    for t in cc["tools"]:
        texts += [t["name"], t.get("description", ""), tt.compact(t.get("input_schema", {}))]
    for m in cc["messages"]:
        blocks = m["content"] if isinstance(m["content"], list) else \
            [{"type": "text", "text": m["content"]}]
        texts += [b["text"] for b in blocks if b.get("type") == "text"]
    cx = json.load(open(os.path.join(FIXTURES, "codex-request.json")))["body"]
    for item in cx["input"]:
        texts += [c["text"] for c in item.get("content", []) if "text" in c]
    for t in cx["tools"]:
        texts += [t.get("name", ""), t.get("description", ""), tt.compact(t.get("parameters", {}))]
    gm = json.load(open(os.path.join(FIXTURES, "gemini-cli-request.json")))["requests"][-1]["body"]
    texts += [p.get("text", "") for p in gm.get("systemInstruction", {}).get("parts", [])]
    for c in gm["contents"]:
        texts += [p.get("text", "") for p in c["parts"]]
    for tool in gm.get("tools", []):
        for fd in tool.get("functionDeclarations", []):
            texts += [fd["name"], fd.get("description", ""),
                      tt.compact(fd.get("parameters", fd.get("parametersJsonSchema", {})))]
    return texts


def session_texts(seed, turns):
    rnd, texts = random.Random(seed), []
    for n in range(turns):
        a, u = sessions.tool_turn(rnd, n)
        use = a["content"][1]
        texts += [a["content"][0]["text"], use["id"], use["name"], tt.compact(use["input"]),
                  u["content"][0]["content"]]
    return texts


def solve(rows, ys):
    k = len(rows[0])
    m = [[sum(r[i] * r[j] for r in rows) + (1e-6 if i == j else 0) for j in range(k)]
         for i in range(k)]
    v = [sum(r[i] * y for r, y in zip(rows, ys)) for i in range(k)]
    for i in range(k):
        p = max(range(i, k), key=lambda r: abs(m[r][i]))
        m[i], m[p], v[i], v[p] = m[p], m[i], v[p], v[i]
        for r in range(i + 1, k):
            f = m[r][i] / m[i][i]
            m[r] = [a - f * b for a, b in zip(m[r], m[i])]
            v[r] -= f * v[i]
    w = [0.0] * k
    for i in reversed(range(k)):
        w[i] = (v[i] - sum(m[i][c] * w[c] for c in range(i + 1, k))) / m[i][i]
    return w


def main():
    texts = [t for t in fixture_texts() + session_texts(7, 300) if t]
    rows = [features(t) for t in texts]
    ys = [tt.text_tokens(t) - (f[-2] * FIXED[0] + f[-1] * FIXED[1]) / 1000.0
          for t, f in zip(texts, rows)]
    weights = [round(w * 1000) for w in solve([f[:-2] for f in rows], ys)] + list(FIXED)
    for name, w in zip(NAMES, weights):
        print("%-12s %6d" % (name, w))
    print("static const long tally_weights[TF__MAX] = {\n\t%s\n};" %
          ", ".join(str(w) for w in weights))
    for label, group in (("fixtures", fixture_texts()), ("sessions", session_texts(99, 120))):
        true = sum(tt.text_tokens(t) for t in group)
        pred = sum(sum(a * b for a, b in zip(features(t), weights)) for t in group) / 1000.0
        print("%-9s reference %7d  fitted %9.0f  error %+.2f%%" %
              (label, true, pred, 100.0 * (pred - true) / true))


if __name__ == "__main__":
    main()
