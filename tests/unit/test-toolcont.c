/* test-toolcont.c: the JSON-completeness scanner and the sink that holds cut tool calls. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "toolcont.h"
#include "conv.h"
#include "json.h"
#include "testutil.h"
#include "xmalloc.h"

/* The inner sink: one line per call; commits on start like a stream. */
struct rec {
	struct buf	 log;
	struct sink	*sink;
	int		 resets;
};

static int
r_start(void *arg, const struct sink_start *st)
{
	struct rec	*r = arg;

	buf_printf(&r->log, "start %s\n", st->message_id);
	r->sink->committed = 1;
	return 0;
}

static int
r_text(void *arg, const char *s, size_t n)
{
	struct rec	*r = arg;

	buf_puts(&r->log, "text ");
	buf_append(&r->log, s, n);
	buf_putc(&r->log, '\n');
	return 0;
}

static int
r_thinking(void *arg, const char *s, size_t n)
{
	struct rec	*r = arg;

	buf_puts(&r->log, "thinking ");
	buf_append(&r->log, s, n);
	buf_putc(&r->log, '\n');
	return 0;
}

static int
r_thinking_end(void *arg, const char *sig)
{
	struct rec	*r = arg;

	buf_printf(&r->log, "thinking_end %s\n", sig != NULL ? sig : "-");
	return 0;
}

static int
r_tool_start(void *arg, size_t i, const char *id, const char *name)
{
	struct rec	*r = arg;

	buf_printf(&r->log, "tool_start %zu %s %s\n", i, id, name);
	return 0;
}

static int
r_tool_input(void *arg, size_t i, const char *s, size_t n)
{
	struct rec	*r = arg;

	buf_printf(&r->log, "tool_input %zu %.*s\n", i, (int)n, s);
	return 0;
}

static int
r_tool_end(void *arg, size_t i, const char *input)
{
	struct rec	*r = arg;

	buf_printf(&r->log, "tool_end %zu %s\n", i, input);
	return 0;
}

static int
r_finish(void *arg, enum sink_stop stop, const struct sink_usage *u)
{
	struct rec	*r = arg;

	buf_printf(&r->log, "finish %s %ld\n", sink_stop_name(stop),
	    u->output_tokens);
	return 0;
}

static int
r_error(void *arg, enum kf_err er, const char *msg)
{
	struct rec	*r = arg;

	buf_printf(&r->log, "error %s %s\n", kf_err_name(er), msg);
	return 0;
}

static int
r_ping(void *arg)
{
	struct rec	*r = arg;

	buf_puts(&r->log, "ping\n");
	return 0;
}

static void
r_reset(void *arg)
{
	struct rec	*r = arg;

	r->resets++;
	buf_reset(&r->log);
	r->sink->committed = 0;
}

static const struct sink_ops rec_ops = {
	r_start, r_text, r_thinking, r_thinking_end, r_tool_start,
	r_tool_input, r_tool_end, r_finish, r_error, r_ping, r_reset, NULL,
};

/* ------------------------------------------------------------ scanner */

/* Scans text fed in pieces of step bytes (0: all at once). */
static enum toolcont_scan_state
scan_in_steps(const char *text, size_t step, size_t *end)
{
	struct toolcont_scan	sc;
	size_t			len = strlen(text), off, n;

	toolcont_scan_init(&sc);
	if (step == 0)
		step = len > 0 ? len : 1;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		(void)toolcont_scan_feed(&sc, text + off, n);
	}
	if (end != NULL)
		*end = sc.end;
	return sc.state;
}

/* Every split of text gives the same answer as one feed. */
static void
assert_scan(const char *text, enum toolcont_scan_state want, size_t want_end)
{
	size_t	step, end;

	for (step = 0; step <= strlen(text); step++) {
		ck_assert_msg(scan_in_steps(text, step, &end) == want,
		    "%s in steps of %zu", text, step);
		if (want == TOOLCONT_SCAN_DONE)
			ck_assert_uint_eq(end, want_end);
	}
}

START_TEST(scan_complete_objects)
{
	assert_scan("{}", TOOLCONT_SCAN_DONE, 2);
	assert_scan("  {\"a\":1}", TOOLCONT_SCAN_DONE, 9);
	assert_scan("{\"a\":[1,{\"b\":[]}],\"c\":true}", TOOLCONT_SCAN_DONE,
	    27);
	/* Brackets and quotes inside strings are text. */
	assert_scan("{\"s\":\"}]{[\\\"\"}", TOOLCONT_SCAN_DONE, 14);
	assert_scan("{\"u\":\"\\u00e9\\\\\"}", TOOLCONT_SCAN_DONE, 16);
	/* What follows the object is not part of it. */
	assert_scan("{\"a\":1}\n```", TOOLCONT_SCAN_DONE, 7);
}
END_TEST

START_TEST(scan_cut_inputs_need_more)
{
	const char	*full = "{\"file_path\":\"/tmp/x.py\",\"content\":"
			    "\"print(\\\"hi\\\")\\n\\u00e9 {[\"}";
	char		 part[128];
	size_t		 i, len = strlen(full);

	/* Every proper prefix of a complete object is incomplete. */
	for (i = 0; i < len; i++) {
		memcpy(part, full, i);
		part[i] = '\0';
		ck_assert_msg(scan_in_steps(part, 0, NULL) ==
		    TOOLCONT_SCAN_MORE, "prefix %zu", i);
		ck_assert_msg(scan_in_steps(part, 1, NULL) ==
		    TOOLCONT_SCAN_MORE, "prefix %zu by bytes", i);
	}
	assert_scan(full, TOOLCONT_SCAN_DONE, len);
}
END_TEST

START_TEST(scan_rejects_what_can_never_complete)
{
	assert_scan("[1]", TOOLCONT_SCAN_BAD, 0);
	assert_scan("x{}", TOOLCONT_SCAN_BAD, 0);
	assert_scan("{\"a\":[1}", TOOLCONT_SCAN_BAD, 0);
	assert_scan("{\"a\":\"line\nbreak\"}", TOOLCONT_SCAN_BAD, 0);
	assert_scan("{\"a\":\"\\x\"}", TOOLCONT_SCAN_BAD, 0);
	assert_scan("{\"a\":\"\\u12g4\"}", TOOLCONT_SCAN_BAD, 0);
	assert_scan("{\"a\":#}", TOOLCONT_SCAN_BAD, 0);
}
END_TEST

START_TEST(scan_depth_is_capped)
{
	struct buf	deep = BUF_INIT;
	size_t		i;

	buf_putc(&deep, '{');
	buf_puts(&deep, "\"a\":");
	for (i = 1; i < TOOLCONT_MAX_DEPTH; i++)
		buf_putc(&deep, '[');
	ck_assert_int_eq(scan_in_steps(deep.ptr, 0, NULL), TOOLCONT_SCAN_MORE);
	buf_putc(&deep, '[');
	ck_assert_int_eq(scan_in_steps(deep.ptr, 0, NULL), TOOLCONT_SCAN_BAD);
	buf_free(&deep);
}
END_TEST

/* A big Write fed byte by byte: each byte is looked at once. */
START_TEST(scan_large_input_bytewise)
{
	struct toolcont_scan	 sc;
	struct buf		 in = BUF_INIT;
	size_t			 i;

	buf_puts(&in, "{\"file_path\":\"/tmp/big\",\"content\":\"");
	for (i = 0; i < 200000; i++)
		buf_puts(&in, i % 7 == 0 ? "\\\"{" : "ab\\n");
	buf_puts(&in, "\"}");
	toolcont_scan_init(&sc);
	for (i = 0; i < in.len; i++)
		(void)toolcont_scan_feed(&sc, in.ptr + i, 1);
	ck_assert_int_eq(sc.state, TOOLCONT_SCAN_DONE);
	ck_assert_uint_eq(sc.end, in.len);
	ck_assert_uint_eq(sc.fed, in.len);
	buf_free(&in);
}
END_TEST

/* ------------------------------------------------------------ the sink */

struct world {
	struct conv	 c;
	struct sink	 inner;
	struct rec	 r;
	struct toolcont	*tc;
	struct sink	*s;
};

static void
world_init(struct world *x, int64_t ping_ms)
{
	struct conv_msg		*m;
	struct conv_block	*b;

	memset(x, 0, sizeof(*x));
	conv_init(&x->c);
	m = conv_add_msg(&x->c, CONV_ROLE_USER);
	b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
	b->text = xstrdup("write the file");
	x->inner.ops = &rec_ops;
	x->inner.arg = &x->r;
	x->inner.streams = 1;
	x->r.sink = &x->inner;
	x->tc = toolcont_new(&x->inner, ping_ms, 1);
	x->s = toolcont_sink(x->tc);
}

static void
world_free(struct world *x)
{
	toolcont_free(x->tc);
	conv_free(&x->c);
	buf_free(&x->r.log);
}

static void
w_start(struct world *x)
{
	struct sink_start	st;

	memset(&st, 0, sizeof(st));
	st.message_id = "msg_1";
	ck_assert_int_eq(x->s->ops->start(x->s->arg, &st), 0);
}

static void
w_finish(struct world *x, enum sink_stop stop, long out)
{
	struct sink_usage	u;

	memset(&u, 0, sizeof(u));
	u.input_tokens = 100;
	u.output_tokens = out;
	ck_assert_int_eq(x->s->ops->finish(x->s->arg, stop, &u), 0);
}

static void
w_input(struct world *x, size_t i, const char *s)
{
	ck_assert_int_eq(x->s->ops->tool_input(x->s->arg, i, s, strlen(s)),
	    0);
}

START_TEST(sink_complete_call_goes_out_whole_at_its_end)
{
	struct world	x;

	world_init(&x, 60000);
	w_start(&x);
	x.s->ops->text(x.s->arg, "Writing.", 8);
	x.s->ops->tool_start(x.s->arg, 0, "t1", "Write");
	w_input(&x, 0, "{\"file_path\":");
	w_input(&x, 0, "\"/a\"}");
	/* Nothing of the call before its end. */
	ck_assert_ptr_null(strstr(buf_cstr(&x.r.log), "tool_"));
	x.s->ops->tool_end(x.s->arg, 0, "{\"file_path\":\"/a\"}");
	x.s->ops->tool_start(x.s->arg, 1, "t2", "Noargs");
	x.s->ops->tool_end(x.s->arg, 1, "{}");
	w_finish(&x, SINK_STOP_TOOL_USE, 7);
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\ntext Writing.\n"
	    "tool_start 0 t1 Write\ntool_input 0 {\"file_path\":\n"
	    "tool_input 0 \"/a\"}\n"
	    "tool_end 0 {\"file_path\":\"/a\"}\n"
	    "tool_start 1 t2 Noargs\ntool_input 1 {}\ntool_end 1 {}\n"
	    "finish tool_use 7\n");
	ck_assert(!toolcont_pending(x.tc));
	ck_assert(toolcont_finished(x.tc));
	world_free(&x);
}
END_TEST

START_TEST(sink_cut_call_is_continued_and_spliced)
{
	struct world	x;
	size_t		base;
	char		*t;

	world_init(&x, 60000);
	w_start(&x);
	x.s->ops->tool_start(x.s->arg, 0, "t1", "Write");
	w_input(&x, 0, "{\"file_path\":\"/a\",\"content\":\"ab\\");
	ck_assert_int_eq(x.s->committed, 1);
	/* The relay closes the call with {} and finishes: held back. */
	x.s->ops->tool_end(x.s->arg, 0, "{}");
	w_finish(&x, SINK_STOP_MAX_TOKENS, 10);
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\n");
	ck_assert(toolcont_pending(x.tc));
	ck_assert(!toolcont_cut_broke(x.tc));
	ck_assert_str_eq(toolcont_cut_name(x.tc), "Write");
	ck_assert_uint_eq(toolcont_cut_bytes(x.tc), 32);

	base = toolcont_add_turns(x.tc, &x.c);
	ck_assert_uint_eq(base, 1);
	ck_assert_uint_eq(x.c.n_msgs, 3);
	ck_assert_int_eq(x.c.msgs[1].role, CONV_ROLE_ASSISTANT);
	ck_assert_str_eq(x.c.msgs[1].blocks[0].text,
	    "{\"file_path\":\"/a\",\"content\":\"ab\\");
	t = conv_msg_text(&x.c.msgs[2], "");
	ck_assert_ptr_nonnull(strstr(t, "\"Write\""));
	ck_assert_ptr_nonnull(strstr(t, "exactly where it stopped"));
	free(t);

	/* The continuation: its start is not repeated, a fence dropped. */
	w_start(&x);
	x.s->ops->text(x.s->arg, "``", 2);
	x.s->ops->text(x.s->arg, "`json\nn\\\"", 9);
	x.s->ops->thinking(x.s->arg, "hmm", 3);
	x.s->ops->tool_start(x.s->arg, 0, "t9", "Other");
	x.s->ops->text(x.s->arg, "cd\"}\n```\nDone.", 14);
	w_finish(&x, SINK_STOP_END_TURN, 5);
	toolcont_remove_turns(&x.c, base);
	ck_assert_uint_eq(x.c.n_msgs, 1);
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\n"
	    "tool_start 0 t1 Write\n"
	    "tool_input 0 {\"file_path\":\"/a\",\"content\":\"ab\\\n"
	    "tool_input 0 n\\\"\ntool_input 0 cd\"}\n"
	    "tool_end 0 {\"file_path\":\"/a\",\"content\":\"ab\\n\\\"cd\"}\n"
	    "finish tool_use 15\n");
	ck_assert(!toolcont_pending(x.tc));
	ck_assert_int_eq(toolcont_stop(x.tc), SINK_STOP_TOOL_USE);
	world_free(&x);
}
END_TEST

START_TEST(sink_continuation_may_need_another)
{
	struct world	x;
	size_t		base;

	world_init(&x, 60000);
	w_start(&x);
	x.s->ops->tool_start(x.s->arg, 0, "t1", "Write");
	w_input(&x, 0, "{\"a\":\"1");
	w_finish(&x, SINK_STOP_END_TURN, 1);
	base = toolcont_add_turns(x.tc, &x.c);
	x.s->ops->text(x.s->arg, "23", 2);
	w_finish(&x, SINK_STOP_MAX_TOKENS, 1);
	toolcont_remove_turns(&x.c, base);
	ck_assert(toolcont_pending(x.tc));
	ck_assert_uint_eq(toolcont_cut_bytes(x.tc), 9);
	base = toolcont_add_turns(x.tc, &x.c);
	ck_assert_str_eq(x.c.msgs[1].blocks[0].text, "{\"a\":\"123");
	x.s->ops->text(x.s->arg, "4\"}", 3);
	w_finish(&x, SINK_STOP_END_TURN, 1);
	toolcont_remove_turns(&x.c, base);
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\n"
	    "tool_start 0 t1 Write\ntool_input 0 {\"a\":\"1\n"
	    "tool_input 0 23\ntool_input 0 4\"}\n"
	    "tool_end 0 {\"a\":\"1234\"}\nfinish tool_use 3\n");
	world_free(&x);
}
END_TEST

START_TEST(sink_give_up_after_a_cut_is_max_tokens_without_the_call)
{
	struct world	x;
	char		*cause = NULL;

	world_init(&x, 60000);
	w_start(&x);
	x.s->ops->text(x.s->arg, "Hi", 2);
	x.s->ops->tool_start(x.s->arg, 0, "t0", "Read");
	w_input(&x, 0, "{\"p\":1}");
	x.s->ops->tool_end(x.s->arg, 0, "{\"p\":1}");
	x.s->ops->tool_start(x.s->arg, 1, "t1", "Write");
	w_input(&x, 1, "{\"content\":\"abc");
	w_finish(&x, SINK_STOP_TOOL_USE, 4);
	ck_assert(toolcont_pending(x.tc));
	ck_assert_int_eq(toolcont_give_up(x.tc, &cause), KF_OK);
	ck_assert_ptr_null(cause);
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\ntext Hi\n"
	    "tool_start 0 t0 Read\ntool_input 0 {\"p\":1}\n"
	    "tool_end 0 {\"p\":1}\nfinish max_tokens 4\n");
	ck_assert(!toolcont_pending(x.tc));
	ck_assert_int_eq(toolcont_stop(x.tc), SINK_STOP_MAX_TOKENS);
	world_free(&x);
}
END_TEST

START_TEST(sink_broken_stream_is_continued_or_its_error)
{
	struct world	x;
	char		*cause = NULL;
	size_t		 base;

	world_init(&x, 60000);
	w_start(&x);
	x.s->ops->tool_start(x.s->arg, 0, "t1", "Write");
	w_input(&x, 0, "{\"content\":\"abc");
	/* The relay reports a break into a committed sink: held back. */
	ck_assert_int_eq(x.s->ops->error(x.s->arg, KF_EUPSTREAM,
	    "Kiro's answer was cut off"), 0);
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\n");
	ck_assert(toolcont_pending(x.tc));
	ck_assert(toolcont_cut_broke(x.tc));
	/* The continuation breaks too, with nothing useful. */
	base = toolcont_add_turns(x.tc, &x.c);
	x.s->ops->error(x.s->arg, KF_EOVERLOADED, "Kiro is unavailable");
	toolcont_remove_turns(&x.c, base);
	ck_assert(toolcont_pending(x.tc));
	ck_assert_int_eq(toolcont_give_up(x.tc, &cause), KF_EOVERLOADED);
	ck_assert_str_eq(cause, "Kiro is unavailable");
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\n"
	    "error overloaded Kiro is unavailable\n");
	free(cause);
	world_free(&x);
}
END_TEST

START_TEST(sink_continuation_that_calls_the_tool_again)
{
	struct world	x;
	size_t		base;

	world_init(&x, 60000);
	w_start(&x);
	x.s->ops->tool_start(x.s->arg, 0, "t1", "Write");
	w_input(&x, 0, "{\"c\":\"ab");
	w_finish(&x, SINK_STOP_MAX_TOKENS, 2);
	/* First a call again that is cut too: still pending. */
	base = toolcont_add_turns(x.tc, &x.c);
	x.s->ops->tool_start(x.s->arg, 0, "t2", "Write");
	w_input(&x, 0, "{\"c\":\"a");
	w_finish(&x, SINK_STOP_MAX_TOKENS, 2);
	toolcont_remove_turns(&x.c, base);
	ck_assert(toolcont_pending(x.tc));
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\n");
	/* Then a whole one: it replaces the cut call, under its id. */
	base = toolcont_add_turns(x.tc, &x.c);
	x.s->ops->text(x.s->arg, "Sure.", 5);
	x.s->ops->tool_start(x.s->arg, 0, "t3", "Write");
	w_input(&x, 0, "{\"c\":");
	w_input(&x, 0, "\"abc\"}");
	x.s->ops->tool_end(x.s->arg, 0, "{\"c\":\"abc\"}");
	w_finish(&x, SINK_STOP_TOOL_USE, 3);
	toolcont_remove_turns(&x.c, base);
	ck_assert(!toolcont_pending(x.tc));
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\n"
	    "tool_start 0 t1 Write\ntool_input 0 {\"c\":\n"
	    "tool_input 0 \"abc\"}\ntool_end 0 {\"c\":\"abc\"}\n"
	    "finish tool_use 7\n");
	world_free(&x);
}
END_TEST

START_TEST(sink_continuation_that_starts_over_or_breaks_the_json)
{
	struct world	x;
	char		*cause = NULL;
	size_t		 base;

	world_init(&x, 60000);
	w_start(&x);
	x.s->ops->tool_start(x.s->arg, 0, "t1", "Write");
	w_input(&x, 0, "{\"c\":\"ab");
	w_finish(&x, SINK_STOP_MAX_TOKENS, 2);
	/* Spliced, this scans whole but is no JSON: never sent. */
	base = toolcont_add_turns(x.tc, &x.c);
	x.s->ops->text(x.s->arg, "\" \"x\"}", 6);
	w_finish(&x, SINK_STOP_END_TURN, 1);
	toolcont_remove_turns(&x.c, base);
	ck_assert(toolcont_pending(x.tc));
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\n");
	ck_assert_int_eq(toolcont_give_up(x.tc, &cause), KF_OK);
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\n"
	    "finish max_tokens 3\n");
	world_free(&x);

	/* The model starts the object over (in a fence): that is taken. */
	world_init(&x, 60000);
	w_start(&x);
	x.s->ops->tool_start(x.s->arg, 0, "t1", "Write");
	w_input(&x, 0, "{\"c\":\"ab");
	w_finish(&x, SINK_STOP_MAX_TOKENS, 2);
	base = toolcont_add_turns(x.tc, &x.c);
	x.s->ops->text(x.s->arg, "```json\n{\"c\":", 13);
	x.s->ops->text(x.s->arg, "\"abc\"}\n```", 10);
	w_finish(&x, SINK_STOP_END_TURN, 1);
	toolcont_remove_turns(&x.c, base);
	ck_assert(!toolcont_pending(x.tc));
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\n"
	    "tool_start 0 t1 Write\ntool_input 0 {\"c\":\n"
	    "tool_input 0 \"abc\"}\ntool_end 0 {\"c\":\"abc\"}\n"
	    "finish tool_use 3\n");
	world_free(&x);
}
END_TEST

START_TEST(sink_continuation_without_an_answer_is_its_error)
{
	struct world	x;
	char		*cause = NULL;
	size_t		 base;

	world_init(&x, 60000);
	w_start(&x);
	x.s->ops->tool_start(x.s->arg, 0, "t1", "Write");
	w_input(&x, 0, "{\"content\":\"abc");
	w_finish(&x, SINK_STOP_MAX_TOKENS, 3);
	/* No account could serve the continuation: no callback at all. */
	base = toolcont_add_turns(x.tc, &x.c);
	toolcont_remove_turns(&x.c, base);
	ck_assert(toolcont_pending(x.tc));
	toolcont_failed(x.tc, KF_ERATE, "no account can serve now");
	ck_assert_int_eq(toolcont_give_up(x.tc, &cause), KF_ERATE);
	ck_assert_str_eq(cause, "no account can serve now");
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\n"
	    "error rate_limited no account can serve now\n");
	free(cause);
	world_free(&x);
}
END_TEST

START_TEST(sink_break_after_the_rest_arrived_completes)
{
	struct world	x;
	size_t		 base;

	world_init(&x, 60000);
	w_start(&x);
	x.s->ops->tool_start(x.s->arg, 0, "t1", "Write");
	w_input(&x, 0, "{\"c\":\"a");
	x.s->ops->error(x.s->arg, KF_EUPSTREAM, "cut");
	base = toolcont_add_turns(x.tc, &x.c);
	x.s->ops->text(x.s->arg, "b\"}", 3);
	x.s->ops->error(x.s->arg, KF_EUPSTREAM, "cut again");
	toolcont_remove_turns(&x.c, base);
	ck_assert(!toolcont_pending(x.tc));
	ck_assert(toolcont_finished(x.tc));
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\n"
	    "tool_start 0 t1 Write\ntool_input 0 {\"c\":\"a\n"
	    "tool_input 0 b\"}\n"
	    "tool_end 0 {\"c\":\"ab\"}\nfinish tool_use 0\n");
	world_free(&x);
}
END_TEST

START_TEST(sink_errors_without_a_held_call_pass_through)
{
	struct world	x;

	world_init(&x, 60000);
	w_start(&x);
	x.s->ops->text(x.s->arg, "Hi", 2);
	x.s->ops->error(x.s->arg, KF_ERATE, "slow down");
	ck_assert(!toolcont_pending(x.tc));
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\ntext Hi\n"
	    "error rate_limited slow down\n");
	world_free(&x);
}
END_TEST

/* Past TOOLCONT_MAX_FRAGMENTS the last fragment grows; nothing is lost. */
START_TEST(sink_many_fragments_keep_the_whole_input)
{
	struct world	 x;
	struct buf	 joined = BUF_INIT;
	const char	*p, *q;
	size_t		 i, n = 0, total = TOOLCONT_MAX_FRAGMENTS + 1000;

	world_init(&x, 60000);
	w_start(&x);
	x.s->ops->tool_start(x.s->arg, 0, "t1", "Write");
	w_input(&x, 0, "{\"c\":\"");
	for (i = 0; i < total; i++)
		w_input(&x, 0, "ab");
	w_input(&x, 0, "\"}");
	x.s->ops->tool_end(x.s->arg, 0, "{}");
	for (p = buf_cstr(&x.r.log); (p = strstr(p, "tool_input 0 ")) != NULL;
	    p = q) {
		p += 13;
		q = strchr(p, '\n');
		buf_append(&joined, p, (size_t)(q - p));
		n++;
	}
	ck_assert_uint_eq(n, TOOLCONT_MAX_FRAGMENTS);
	ck_assert_uint_eq(joined.len, 6 + 2 * total + 2);
	ck_assert_int_eq(memcmp(joined.ptr + joined.len - 4, "ab\"}", 4), 0);
	buf_free(&joined);
	world_free(&x);
}
END_TEST

START_TEST(sink_pings_while_a_call_is_held_and_resets)
{
	struct world		x;
	struct timespec		ts = { 0, 3000000 };

	world_init(&x, 1);
	w_start(&x);
	x.s->ops->tool_start(x.s->arg, 0, "t1", "Write");
	nanosleep(&ts, NULL);
	w_input(&x, 0, "{\"a\":");
	/* One ping or more (a slow machine may ping at tool_start too). */
	ck_assert_int_eq(strncmp(buf_cstr(&x.r.log), "start msg_1\nping\n",
	    17), 0);
	ck_assert_ptr_null(strstr(buf_cstr(&x.r.log), "tool_"));
	/* Nothing held with input: a retry from scratch may forget it. */
	x.inner.committed = 0;
	x.s->ops->reset(x.s->arg);
	ck_assert_int_eq(x.r.resets, 1);
	ck_assert_int_eq(x.s->committed, 0);
	w_start(&x);
	w_finish(&x, SINK_STOP_END_TURN, 1);
	ck_assert_str_eq(buf_cstr(&x.r.log), "start msg_1\n"
	    "finish end_turn 1\n");
	world_free(&x);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("toolcont");
	TCase	*tc = tcase_create("toolcont");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, scan_complete_objects);
	tcase_add_test(tc, scan_cut_inputs_need_more);
	tcase_add_test(tc, scan_rejects_what_can_never_complete);
	tcase_add_test(tc, scan_depth_is_capped);
	tcase_add_test(tc, scan_large_input_bytewise);
	tcase_add_test(tc, sink_complete_call_goes_out_whole_at_its_end);
	tcase_add_test(tc, sink_cut_call_is_continued_and_spliced);
	tcase_add_test(tc, sink_continuation_may_need_another);
	tcase_add_test(tc, sink_give_up_after_a_cut_is_max_tokens_without_the_call);
	tcase_add_test(tc, sink_broken_stream_is_continued_or_its_error);
	tcase_add_test(tc, sink_continuation_that_calls_the_tool_again);
	tcase_add_test(tc, sink_continuation_that_starts_over_or_breaks_the_json);
	tcase_add_test(tc, sink_continuation_without_an_answer_is_its_error);
	tcase_add_test(tc, sink_break_after_the_rest_arrived_completes);
	tcase_add_test(tc, sink_errors_without_a_held_call_pass_through);
	tcase_add_test(tc, sink_many_fragments_keep_the_whole_input);
	tcase_add_test(tc, sink_pings_while_a_call_is_held_and_resets);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
