/* tokens.h: token counts and estimates (doc/protocol.md §5, §6.5). */
#ifndef TOKENS_H
#define TOKENS_H

#include <stddef.h>

#include "conv.h"

/*
 * kiro.rs's count: characters outside the Western ranges weigh 4 units,
 * others 1; tokens = units / 4, scaled up for short texts (x1.5 under 100,
 * x1.3 under 200, x1.25 under 300, x1.2 under 800).
 */
long	tokens_count_text(const char *s, size_t len);
/*
 * What Kiro adds to every request unseen, in tokens.  ASSUMPTIONS: no
 * capture of Kiro's own counts exists; tests/mock/tokentruth.py assumes the
 * same figures.  Its own system prompt; the tool-use preamble when tools
 * are offered; the wrapper of each tool definition, history entry or
 * current message, tool use and tool result; an image of about 1.15
 * megapixels (Anthropic's width x height / 750).
 */
#define TOKENS_KIRO_SYSTEM	3000
#define TOKENS_TOOLS_PREAMBLE	400
#define TOKENS_PER_TOOL		15
#define TOKENS_PER_MESSAGE	5
#define TOKENS_PER_TOOL_USE	10
#define TOKENS_PER_TOOL_RESULT	8
#define TOKENS_PER_IMAGE	1600

/*
 * The input tokens Kiro will report for this conversation's request (its
 * contextUsagePercentage x the window), hidden overhead included: the texts
 * kiro_req_build sends (system pair, history with its fillers, current
 * message, tool results, tool uses with their input JSON, tool names,
 * descriptions and normalised schemas, placeholders), each weighed by a
 * per-character-class model fitted against tests/mock/tokentruth.py and
 * biased about 2% high (under-reporting keeps clients from compacting),
 * plus the TOKENS_* figures above.  Linear in the conversation's size, no
 * serialisation; works on a conv history_repair has prepared or not (the
 * relay and count_tokens).  At least 1.
 */
long	tokens_count_conv(const struct conv *);
/*
 * One message's part of tokens_count_conv when it is in the history:
 * its texts, tool uses and results, and the per-message overheads,
 * without what the conversation adds once (Kiro's prompt, the tools,
 * fillers).  The parts of a conversation's messages add up to its
 * estimate less those, within a token per message (rounding).  For
 * truncation (overflow.c): linear in the message.
 */
long	tokens_count_msg(const struct conv_msg *);
/* Output tokens for one streamed text delta (CJK-aware, at least 1). */
long	tokens_count_output(const char *s, size_t len);
/* Output tokens for a tool-input fragment: (len + 3) / 4. */
long	tokens_count_tool_input(size_t len);
/*
 * Input tokens from contextUsagePercentage: pct * window / 100 (kiro.rs;
 * the percentage is taken to cover the input only).
 */
long	tokens_from_context_usage(double pct, long window);

#endif
