/* tokens.h: token estimates where Kiro reports none (kiro-protocol.md §6.5). */
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
 * The input estimate of a request: system text, every text and thinking
 * block, tool results, and for each tool its name, description and schema
 * JSON; at least 1.
 */
long	tokens_count_conv(const struct conv *);
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
