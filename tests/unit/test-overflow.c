/* test-overflow.c: truncating a conversation to the model's window. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "conv.h"
#include "err.h"
#include "history.h"
#include "json.h"
#include "kiro_req.h"
#include "overflow.h"
#include "preflight.h"
#include "store.h"
#include "tokens.h"
#include "xmalloc.h"

#include "convtest.h"
#include "testutil.h"

/*
 * Covers overflow_truncate's invariants on agent-like conversations (a
 * first instruction, then tool calls answered by tool results): the
 * result fits the budget and passes the pre-flight check, keeps the
 * system prompt and the first user message, drops the oldest turns
 * first, never keeps a tool_use without its result nor a result without
 * its use; a conversation that cannot fit is KF_ECONTEXT.  Also
 * overflow_budget / overflow_exceeds / overflow_cause / overflow_describe,
 * and summarize's parts: the messages split off in order, a stored
 * summary's turns recognised by their digest (and nothing else), the
 * summary pair put back keeping Kiro's rules, the transcript's cap, and
 * the store's records with their age limit.
 */

static const struct history_opts	hopts = {
	HISTORY_DEFAULT_MAX_IMAGE_MSGS
};

/* A text of n bytes: "<tag> xxxx..." (tag finds the turn again). */
static char *
filler(const char *tag, size_t n)
{
	char	*s;
	size_t	 len;

	s = xmalloc(n + 1);
	memset(s, 'x', n);
	len = strlen(tag);
	memcpy(s, tag, len < n ? len : n);
	s[n] = '\0';
	return s;
}

/*
 * System, "FIRST" user message, then turns 0..n-1: the assistant calls a
 * tool (id c<i>, with a little text), the user answers it with a result
 * of size bytes ("R<i>"); a last user text "LAST" after a final
 * assistant text.
 */
static void
agent_conv(struct conv *c, size_t turns, size_t size)
{
	struct conv_msg	*m;
	char		 id[32], tag[32], *text;
	size_t		 i;

	conv_init(c);
	c->system = xstrdup("You are a coding agent.");
	c->kiro_model = "claude-sonnet-4.5";
	add_tool(c, "Read", "Reads a file", "{\"type\":\"object\","
	    "\"properties\":{\"path\":{\"type\":\"string\"}}}");
	add_msg(c, CONV_ROLE_USER, "FIRST: fix the bug in main.c");
	for (i = 0; i < turns; i++) {
		snprintf(id, sizeof(id), "c%zu", i);
		snprintf(tag, sizeof(tag), "R%zu ", i);
		m = add_msg(c, CONV_ROLE_ASSISTANT, "Reading the next file.");
		add_tool_use(m, id, "Read", "{\"path\":\"main.c\"}");
		m = add_msg(c, CONV_ROLE_USER, NULL);
		text = filler(tag, size);
		add_tool_result(m, id, text, 0);
		free(text);
	}
	add_msg(c, CONV_ROLE_ASSISTANT, "Done reading.");
	add_msg(c, CONV_ROLE_USER, "LAST: now write the fix");
}

/* The first text of message i, or "". */
static const char *
first_text(const struct conv *c, size_t i)
{
	const struct conv_msg	*m = &c->msgs[i];
	size_t			 j;

	for (j = 0; j < m->n_blocks; j++) {
		if (m->blocks[j].type == CONV_BLOCK_TEXT)
			return m->blocks[j].text;
		if (m->blocks[j].type == CONV_BLOCK_TOOL_RESULT &&
		    m->blocks[j].n_content > 0)
			return m->blocks[j].content[0].text;
	}
	return "";
}

/*
 * Every tool_use is answered in the next message and every result
 * answers a use of the message before: the pairs are whole.
 */
static void
assert_pairs_intact(const struct conv *c)
{
	const struct conv_msg	*m, *next, *prev;
	size_t			 i, j, k;
	int			 found;

	for (i = 0; i < c->n_msgs; i++) {
		m = &c->msgs[i];
		for (j = 0; j < m->n_blocks; j++) {
			if (m->blocks[j].type == CONV_BLOCK_TOOL_USE) {
				ck_assert_uint_lt(i + 1, c->n_msgs);
				next = &c->msgs[i + 1];
				for (found = 0, k = 0; k < next->n_blocks; k++)
					if (next->blocks[k].type ==
					    CONV_BLOCK_TOOL_RESULT &&
					    strcmp(next->blocks[k].id,
					    m->blocks[j].id) == 0)
						found = 1;
				ck_assert_msg(found, "use %s unanswered",
				    m->blocks[j].id);
			}
			if (m->blocks[j].type == CONV_BLOCK_TOOL_RESULT) {
				ck_assert_uint_gt(i, 0);
				prev = &c->msgs[i - 1];
				for (found = 0, k = 0; k < prev->n_blocks; k++)
					if (prev->blocks[k].type ==
					    CONV_BLOCK_TOOL_USE &&
					    strcmp(prev->blocks[k].id,
					    m->blocks[j].id) == 0)
						found = 1;
				ck_assert_msg(found, "result %s orphaned",
				    m->blocks[j].id);
			}
		}
	}
}

static void
assert_passes_preflight(const struct conv *c)
{
	struct kiro_req_opts	opts;
	struct buf		body = BUF_INIT;
	char			*cause = NULL;
	enum preflight_rule	rule;
	json_object		*root;

	memset(&opts, 0, sizeof(opts));
	opts.model_id = c->kiro_model;
	ck_assert_int_eq(kiro_req_build(c, &opts, &body, NULL, &cause),
	    KF_OK);
	ck_assert_msg(preflight_check(body.ptr, body.len, c, NULL, &rule,
	    &cause) == KF_OK, "pre-flight: %s", cause);
	root = parse_or_die(body.ptr);
	ck_assert_str_eq(jstr(root, "conversationState.currentMessage."
	    "userInputMessage.modelId"), c->kiro_model);
	json_object_put(root);
	buf_free(&body);
}

START_TEST(overflow_budget_and_cause)
{
	char	*cause;

	ck_assert_int_eq(overflow_budget(200000), 196000);
	ck_assert_int_eq(overflow_budget(0), 1);
	ck_assert_int_eq(overflow_exceeds(196000, 200000), 0);
	ck_assert_int_eq(overflow_exceeds(196001, 200000), 1);
	/* An unknown window never refuses. */
	ck_assert_int_eq(overflow_exceeds(1000000, 0), 0);
	cause = overflow_cause(250123, 200000);
	ck_assert_str_eq(cause, "Context window is full: about 250123 tokens, "
	    "the model's window is 200000. Reduce the conversation history, "
	    "the system prompt or the tools.");
	free(cause);
}
END_TEST

START_TEST(overflow_describe_says_what_was_done)
{
	struct overflow_report	rep;
	char			out[96];

	memset(&rep, 0, sizeof(rep));
	ck_assert_str_eq(overflow_describe(&rep, out, sizeof(out)), "");
	rep.applied = 1;
	rep.mode = OVERFLOW_TRUNCATE;
	rep.dropped = 12;
	ck_assert_str_eq(overflow_describe(&rep, out, sizeof(out)),
	    "truncated; dropped=12");
	rep.mode = OVERFLOW_SUMMARIZE;
	rep.dropped = 0;
	rep.turns = 40;
	rep.cached = 1;
	ck_assert_str_eq(overflow_describe(&rep, out, sizeof(out)),
	    "summarized; turns=40; cached=yes");
	rep.cached = 0;
	ck_assert_str_eq(overflow_describe(&rep, out, sizeof(out)),
	    "summarized; turns=40; cached=no");
	rep.fell_back = 1;
	rep.dropped = 12;
	ck_assert_str_eq(overflow_describe(&rep, out, sizeof(out)),
	    "truncated; dropped=12; summary=failed");
	rep.fell_back = 0;
	ck_assert_str_eq(overflow_describe(&rep, out, sizeof(out)),
	    "summarized; turns=40; cached=no; dropped=12");
	rep.dropped = 0;
	ck_assert_str_eq(overflow_describe(&rep, out, sizeof(out)),
	    "summarized; turns=40; cached=no");
}
END_TEST

/* A conversation within the budget is left as it was. */
START_TEST(overflow_truncate_leaves_what_fits)
{
	struct conv	c;
	size_t		dropped = 99;
	long		est = 0;
	char		*cause = NULL;

	agent_conv(&c, 10, 400);
	ck_assert_int_eq(history_repair(&c, &hopts, &cause), KF_OK);
	ck_assert_int_eq(overflow_truncate(&c, tokens_count_conv(&c), 
	    &dropped, &est, &cause), KF_OK);
	ck_assert_uint_eq(dropped, 0);
	ck_assert_uint_eq(c.n_msgs, 23);
	ck_assert_int_eq(est, tokens_count_conv(&c));
	conv_free(&c);
}
END_TEST

/*
 * The invariants, for budgets from a little under the whole to little
 * more than what must stay.
 */
START_TEST(overflow_truncate_keeps_the_invariants)
{
	struct conv	c;
	size_t		dropped, i, turn;
	long		full, floor_tokens, budget, est = 0;
	char		*cause = NULL, want[32];
	const char	*t;
	int		pct = _i;

	/*
	 * What no cut removes (Kiro's own overhead, the system prompt, the
	 * first and last exchanges) plus pct of the rest.
	 */
	agent_conv(&c, 0, 800);
	ck_assert_int_eq(history_repair(&c, &hopts, &cause), KF_OK);
	floor_tokens = tokens_count_conv(&c);
	conv_free(&c);
	agent_conv(&c, 60, 800);
	ck_assert_int_eq(history_repair(&c, &hopts, &cause), KF_OK);
	full = tokens_count_conv(&c);
	budget = floor_tokens + (full - floor_tokens) * pct / 100;
	ck_assert_int_eq(overflow_truncate(&c, budget, &dropped, &est,
	    &cause), KF_OK);
	ck_assert_int_le(est, budget);
	ck_assert_int_eq(est, tokens_count_conv(&c));
	ck_assert_uint_gt(dropped, 0);
	ck_assert_uint_eq(c.n_msgs, 123 - dropped);
	/* Not much more than needed: the cut is the first that covers. */
	ck_assert_int_gt(est, budget - budget / 10 - 400);
	ck_assert_str_eq(c.system, "You are a coding agent.");
	ck_assert_uint_eq(c.n_tools, 1);
	ck_assert_str_eq(first_text(&c, 0), "FIRST: fix the bug in main.c");
	ck_assert_str_eq(first_text(&c, c.n_msgs - 1),
	    "LAST: now write the fix");
	/* The oldest went: the turns kept are the newest, in order. */
	turn = 60 - (c.n_msgs - 3) / 2;
	for (i = 2; i + 2 < c.n_msgs; i += 2, turn++) {
		snprintf(want, sizeof(want), "R%zu ", turn);
		t = first_text(&c, i);
		ck_assert_msg(strncmp(t, want, strlen(want)) == 0,
		    "message %zu: %.8s, not %s", i, t, want);
	}
	ck_assert_uint_eq(turn, 60);
	assert_pairs_intact(&c);
	assert_passes_preflight(&c);
	conv_free(&c);
}
END_TEST

/*
 * The shares truncation cuts by: each message's tokens_count_msg adds up
 * to the estimate less what the conversation costs with no history,
 * within a token per message (each part rounds up on its own).
 */
START_TEST(overflow_shares_add_up)
{
	struct conv	c, bare;
	long		sum = 0, whole, fixed;
	size_t		i;
	char		*cause = NULL;

	agent_conv(&c, 40, 900);
	ck_assert_int_eq(history_repair(&c, &hopts, &cause), KF_OK);
	whole = tokens_count_conv(&c);
	for (i = 0; i + 1 < c.n_msgs; i++)
		sum += tokens_count_msg(&c.msgs[i]);
	/* The same system prompt, tools and current message, no history. */
	agent_conv(&bare, 0, 900);
	while (bare.n_msgs > 1)
		conv_remove_msg(&bare, 0);
	fixed = tokens_count_conv(&bare);
	ck_assert_msg(labs(fixed + sum - whole) <= (long)c.n_msgs + 2,
	    "parts %ld + fixed %ld vs whole %ld", sum, fixed, whole);
	conv_free(&bare);
	conv_free(&c);
}
END_TEST

/* The current message answers the last call: that pair always stays. */
START_TEST(overflow_truncate_keeps_the_last_pair)
{
	struct conv	 c;
	struct conv_msg	*m;
	size_t		 dropped;
	long		 est = 0, budget;
	char		*cause = NULL;

	/* A budget a little over what must stay (Kiro's overhead included). */
	agent_conv(&c, 0, 800);
	budget = tokens_count_conv(&c) + 300;
	conv_free(&c);
	agent_conv(&c, 30, 800);
	conv_remove_msg(&c, c.n_msgs - 1);
	conv_remove_msg(&c, c.n_msgs - 1);
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "last", "Read", "{\"path\":\"x.c\"}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "last", "LAST RESULT", 0);
	ck_assert_int_eq(history_repair(&c, &hopts, &cause), KF_OK);
	ck_assert_int_eq(overflow_truncate(&c, budget, &dropped, &est,
	    &cause), KF_OK);
	ck_assert_uint_eq(c.n_msgs, 3);
	ck_assert_str_eq(first_text(&c, 0), "FIRST: fix the bug in main.c");
	ck_assert_str_eq(first_text(&c, 2), "LAST RESULT");
	assert_pairs_intact(&c);
	assert_passes_preflight(&c);
	conv_free(&c);
}
END_TEST

/* What must stay is over the budget: KF_ECONTEXT saying so. */
START_TEST(overflow_truncate_refuses_what_cannot_fit)
{
	struct conv	 c;
	size_t		 dropped;
	long		 est = 0;
	char		*cause = NULL, *big;

	agent_conv(&c, 20, 800);
	big = filler("huge", 40000);
	free(c.system);
	c.system = big;
	ck_assert_int_eq(history_repair(&c, &hopts, &cause), KF_OK);
	ck_assert_int_eq(overflow_truncate(&c, 5000, &dropped, &est,
	    &cause), KF_ECONTEXT);
	ck_assert_ptr_nonnull(strstr(cause, "Context window is full"));
	ck_assert_int_gt(est, 5000);
	/* Still a conversation Kiro takes, the system prompt whole. */
	ck_assert_ptr_eq(c.system, big);
	assert_pairs_intact(&c);
	assert_passes_preflight(&c);
	free(cause);
	conv_free(&c);

	/* One user message alone: nothing to drop. */
	conv_init(&c);
	c.kiro_model = "claude-sonnet-4.5";
	add_msg(&c, CONV_ROLE_USER, "only one message, and a long one at that");
	cause = NULL;
	est = 0;
	ck_assert_int_eq(overflow_truncate(&c, 1, &dropped, &est,
	    &cause), KF_ECONTEXT);
	ck_assert_uint_eq(c.n_msgs, 1);
	free(cause);
	conv_free(&c);
}
END_TEST

/* Many small turns: the per-message shares overshoot, rounds converge. */
START_TEST(overflow_truncate_many_small_turns)
{
	struct conv	c;
	size_t		dropped;
	long		budget, est = 0;
	char		*cause = NULL;

	agent_conv(&c, 500, 60);
	ck_assert_int_eq(history_repair(&c, &hopts, &cause), KF_OK);
	budget = tokens_count_conv(&c) / 3;
	ck_assert_int_eq(overflow_truncate(&c, budget, &dropped, &est,
	    &cause), KF_OK);
	ck_assert_int_le(est, budget);
	ck_assert_int_gt(est, budget / 2);
	assert_pairs_intact(&c);
	assert_passes_preflight(&c);
	conv_free(&c);
}
END_TEST

/* split, digest, take_prefix and insert_summary work together. */
START_TEST(overflow_summary_parts_fit_together)
{
	struct conv	c, again, old;
	size_t		dropped, n;
	long		est = 0;
	char		*cause = NULL, hex[65], other[65], *text;

	agent_conv(&c, 40, 800);
	agent_conv(&again, 40, 800);
	ck_assert_int_eq(history_repair(&c, &hopts, &cause), KF_OK);
	ck_assert_int_eq(history_repair(&again, &hopts, &cause), KF_OK);
	conv_init(&old);
	ck_assert_int_eq(overflow_split(&c, tokens_count_conv(&c) / 2, &old,
	    &dropped, &est, &cause), KF_OK);
	ck_assert_uint_eq(old.n_msgs, dropped);
	ck_assert_uint_gt(dropped, 10);
	/* In their order: the first turn's call comes first. */
	ck_assert_str_eq(old.msgs[0].blocks[1].id, "c0");
	overflow_digest(&old, old.n_msgs, hex);
	overflow_digest(&old, old.n_msgs - 1, other);
	ck_assert_str_ne(hex, other);

	/* The same session's next request: its oldest turns are known. */
	n = old.n_msgs;
	ck_assert_int_eq(overflow_take_prefix(&again, n, other, NULL), 0);
	ck_assert_int_eq(overflow_take_prefix(&again, n - 1, hex, NULL), 0);
	ck_assert_uint_eq(again.n_msgs, 83);
	ck_assert_int_eq(overflow_take_prefix(&again, n, hex, NULL), 1);
	ck_assert_uint_eq(again.n_msgs, c.n_msgs);
	ck_assert_int_eq(tokens_count_conv(&again), tokens_count_conv(&c));

	text = overflow_transcript(&old, 0, "the earlier summary", 0);
	ck_assert_ptr_nonnull(strstr(text, "Summary of what came before:\n"
	    "the earlier summary"));
	ck_assert_ptr_nonnull(strstr(text, "[called tool Read with "
	    "{\"path\":\"main.c\"}]"));
	ck_assert_ptr_nonnull(strstr(text, "R0 xxx"));
	free(text);
	/* Capped: the newest part stays. */
	text = overflow_transcript(&old, 0, NULL, 1000);
	ck_assert_uint_le(strlen(text), 1000 + 40);
	ck_assert_ptr_nonnull(strstr(text, "[the oldest part is left out]"));
	ck_assert_ptr_null(strstr(text, "R0 "));
	free(text);

	overflow_insert_summary(&c, "They read files.", n);
	ck_assert_str_eq(first_text(&c, 0), "FIRST: fix the bug in main.c");
	ck_assert_int_eq(c.msgs[1].role, CONV_ROLE_ASSISTANT);
	ck_assert_str_eq(first_text(&c, 2), "Summary of the earlier "
	    "conversation:\nThey read files.");
	ck_assert_int_eq(c.msgs[3].role, CONV_ROLE_ASSISTANT);
	ck_assert_int_eq(history_repair(&c, &hopts, &cause), KF_OK);
	assert_pairs_intact(&c);
	assert_passes_preflight(&c);
	conv_free(&old);
	conv_free(&again);
	conv_free(&c);
}
END_TEST

/* The store's records: found while young, by the session's first message. */
START_TEST(overflow_cache_finds_the_sessions_summary)
{
	struct store	*st = NULL;
	struct conv	 c, other;
	char		*root, *dir, *cause = NULL, *summary = NULL, hex[65];
	char		 want[65], anchor[65], other_anchor[65];
	size_t		 n = 0;
	const long	 now = 1800000000L;

	root = tu_tmpdir();
	dir = xasprintf("%s/state", root);
	ck_assert_int_eq(store_open(&st, dir, &cause), KF_OK);
	agent_conv(&c, 3, 100);
	agent_conv(&other, 3, 100);
	free(other.msgs[0].blocks[0].text);
	other.msgs[0].blocks[0].text = xstrdup("another session");
	ck_assert_int_eq(overflow_anchor(&c, anchor), 0);
	ck_assert_int_eq(overflow_anchor(&other, other_anchor), 0);
	ck_assert_str_ne(anchor, other_anchor);
	ck_assert_int_eq(overflow_cache_find(st, anchor, now, &n, hex,
	    &summary), KF_ENOTFOUND);
	overflow_digest(&c, 2, want);
	ck_assert_int_eq(overflow_cache_put(st, anchor, 12, want, "S1", now,
	    &cause), KF_OK);
	ck_assert_int_eq(overflow_cache_find(st, anchor, now + 10, &n, hex,
	    &summary), KF_OK);
	ck_assert_uint_eq(n, 12);
	ck_assert_str_eq(hex, want);
	ck_assert_str_eq(summary, "S1");
	free(summary);
	ck_assert_int_eq(overflow_cache_find(st, other_anchor, now + 10, &n,
	    hex, &summary), KF_ENOTFOUND);
	ck_assert_ptr_null(summary);
	ck_assert_int_eq(overflow_cache_find(st, anchor, now +
	    OVERFLOW_SUMMARY_TTL, &n, hex, &summary), KF_ENOTFOUND);
	store_close(st);
	conv_free(&c);
	conv_free(&other);
	tu_rmrf(root);
	free(dir);
	free(root);
}
END_TEST

static Suite *
overflow_suite(void)
{
	Suite	*s = suite_create("overflow");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, overflow_budget_and_cause);
	tcase_add_test(tc, overflow_describe_says_what_was_done);
	tcase_add_test(tc, overflow_truncate_leaves_what_fits);
	tcase_add_loop_test(tc, overflow_truncate_keeps_the_invariants, 5,
	    96);
	tcase_add_test(tc, overflow_truncate_keeps_the_last_pair);
	tcase_add_test(tc, overflow_shares_add_up);
	tcase_add_test(tc, overflow_truncate_refuses_what_cannot_fit);
	tcase_add_test(tc, overflow_truncate_many_small_turns);
	tcase_add_test(tc, overflow_summary_parts_fit_together);
	tcase_add_test(tc, overflow_cache_finds_the_sessions_summary);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(overflow_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
