/* test-constrain.c: the constraint sink between relay and front end. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "constrain.h"
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

	buf_printf(&r->log, "finish %s %s\n", sink_stop_name(stop),
	    u->stop_sequence != NULL ? u->stop_sequence : "-");
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

/* One test's world: a conv, the inner sink, the wrapper. */
struct world {
	struct conv		 c;
	struct sink		 inner;
	struct rec		 r;
	struct constrain	*w;
	struct sink		*s;
};

static void
world_init(struct world *x)
{
	memset(x, 0, sizeof(*x));
	conv_init(&x->c);
	x->inner.ops = &rec_ops;
	x->inner.arg = &x->r;
	x->inner.streams = 1;
	x->r.sink = &x->inner;
}

static void
world_wrap(struct world *x, int64_t ping_ms)
{
	x->w = constrain_new(&x->c, &x->inner, ping_ms);
	ck_assert_ptr_nonnull(x->w);
	x->s = constrain_sink(x->w);
}

static void
world_free(struct world *x)
{
	constrain_free(x->w);
	conv_free(&x->c);
	buf_free(&x->r.log);
}

static int
w_start(struct world *x)
{
	struct sink_start	st;

	memset(&st, 0, sizeof(st));
	st.message_id = "msg_1";
	st.model = "m";
	return x->s->ops->start(x->s->arg, &st);
}

static int
w_text(struct world *x, const char *s)
{
	return x->s->ops->text(x->s->arg, s, strlen(s));
}

static int
w_tool(struct world *x, size_t i, const char *id, const char *name)
{
	int	rc;

	if ((rc = x->s->ops->tool_start(x->s->arg, i, id, name)) != 0)
		return rc;
	if ((rc = x->s->ops->tool_input(x->s->arg, i, "{}", 2)) != 0)
		return rc;
	return x->s->ops->tool_end(x->s->arg, i, "{}");
}

static int
w_finish(struct world *x, enum sink_stop stop)
{
	struct sink_usage	u = { .input_tokens = 1, .output_tokens = 2 };

	return x->s->ops->finish(x->s->arg, stop, &u);
}

static const char *
logged(struct world *x)
{
	return buf_cstr(&x->r.log);
}

START_TEST(constrain_nothing_to_enforce_is_null)
{
	struct world	x;

	world_init(&x);
	ck_assert_ptr_null(constrain_new(&x.c, &x.inner, 1000));
	conv_add_stop(&x.c, "");
	ck_assert_ptr_null(constrain_new(&x.c, &x.inner, 1000));
	ck_assert_ptr_null(constrain_instructions(&x.c));
	world_free(&x);
}
END_TEST

START_TEST(constrain_stop_sequence_halts_and_names_it)
{
	struct world	x;

	world_init(&x);
	conv_add_stop(&x.c, "###");
	world_wrap(&x, 60000);
	ck_assert_int_eq(w_start(&x), 0);
	/* Nothing reaches the client before content: start is deferred. */
	ck_assert_str_eq(logged(&x), "");
	ck_assert_int_eq(w_text(&x, "abc#"), 0);
	ck_assert_int_eq(w_text(&x, "#"), 0);
	ck_assert_int_eq(w_text(&x, "#tail"), SINK_HALT);
	/* After the match nothing passes; finish still does. */
	ck_assert_int_eq(w_text(&x, "more"), 0);
	ck_assert_int_eq(w_tool(&x, 0, "t1", "calc"), 0);
	ck_assert_int_eq(w_finish(&x, SINK_STOP_END_TURN), 0);
	ck_assert_str_eq(logged(&x), "start msg_1\ntext abc\n"
	    "finish stop_sequence ###\n");
	ck_assert_ptr_null(constrain_unmet(x.w));
	ck_assert_int_eq(constrain_stop(x.w), SINK_STOP_STOP_SEQUENCE);
	ck_assert_int_eq(x.s->committed, 1);
	world_free(&x);
}
END_TEST

START_TEST(constrain_stop_held_prefix_released_at_finish)
{
	struct world	x;

	world_init(&x);
	conv_add_stop(&x.c, "END");
	world_wrap(&x, 60000);
	w_start(&x);
	ck_assert_int_eq(w_text(&x, "the EN"), 0);
	ck_assert_int_eq(w_finish(&x, SINK_STOP_MAX_TOKENS), 0);
	ck_assert_str_eq(logged(&x), "start msg_1\ntext the \ntext EN\n"
	    "finish max_tokens -\n");
	world_free(&x);
}
END_TEST

START_TEST(constrain_any_holds_text_until_a_call)
{
	struct world	x;

	world_init(&x);
	x.c.tool_choice = CONV_TOOL_CHOICE_ANY;
	world_wrap(&x, 60000);
	w_start(&x);
	ck_assert_int_eq(w_text(&x, "Let me "), 0);
	ck_assert_int_eq(w_text(&x, "look."), 0);
	ck_assert_str_eq(logged(&x), "");
	ck_assert_int_eq(w_tool(&x, 0, "t1", "search"), 0);
	ck_assert_int_eq(w_text(&x, " Done."), 0);
	ck_assert_int_eq(w_finish(&x, SINK_STOP_TOOL_USE), 0);
	ck_assert_str_eq(logged(&x), "start msg_1\ntext Let me look.\n"
	    "tool_start 0 t1 search\ntool_input 0 {}\ntool_end 0 {}\n"
	    "text  Done.\nfinish tool_use -\n");
	ck_assert_ptr_null(constrain_unmet(x.w));
	world_free(&x);
}
END_TEST

START_TEST(constrain_any_unmet_may_retry_after_thinking)
{
	struct world	x;
	char		*note;

	world_init(&x);
	x.c.tool_choice = CONV_TOOL_CHOICE_ANY;
	world_wrap(&x, 60000);
	w_start(&x);
	ck_assert_int_eq(x.s->ops->thinking(x.s->arg, "hm", 2), 0);
	ck_assert_int_eq(x.s->ops->thinking_end(x.s->arg, NULL), 0);
	ck_assert_int_eq(w_text(&x, "No."), 0);
	ck_assert_int_eq(w_finish(&x, SINK_STOP_END_TURN), 0);
	/* The finish did not reach the client. */
	ck_assert_str_eq(logged(&x), "start msg_1\nthinking hm\n"
	    "thinking_end -\n");
	ck_assert_str_eq(constrain_unmet(x.w), "the model answered without "
	    "calling a tool, although tool_choice requires one");
	note = constrain_retry_note(x.w);
	ck_assert_ptr_nonnull(strstr(note, "rejected because the model "
	    "answered without calling a tool"));
	free(note);
	ck_assert_int_eq(constrain_retry(x.w), 1);
	/* The second answer continues the same response. */
	w_start(&x);
	ck_assert_ptr_null(constrain_unmet(x.w));
	ck_assert_int_eq(w_tool(&x, 0, "t2", "calc"), 0);
	ck_assert_int_eq(w_finish(&x, SINK_STOP_TOOL_USE), 0);
	ck_assert_str_eq(logged(&x), "start msg_1\nthinking hm\n"
	    "thinking_end -\ntool_start 0 t2 calc\ntool_input 0 {}\n"
	    "tool_end 0 {}\nfinish tool_use -\n");
	ck_assert_int_eq(x.r.resets, 0);
	world_free(&x);
}
END_TEST

START_TEST(constrain_named_tool_drops_others_and_renumbers)
{
	struct world	x;

	world_init(&x);
	x.c.tool_choice = CONV_TOOL_CHOICE_TOOL;
	x.c.tool_choice_name = xstrdup("calc");
	world_wrap(&x, 60000);
	w_start(&x);
	ck_assert_int_eq(w_tool(&x, 0, "t1", "search"), 0);
	ck_assert_int_eq(w_tool(&x, 1, "t2", "calc"), 0);
	ck_assert_int_eq(w_finish(&x, SINK_STOP_TOOL_USE), 0);
	ck_assert_str_eq(logged(&x), "start msg_1\ntool_start 0 t2 calc\n"
	    "tool_input 0 {}\ntool_end 0 {}\nfinish tool_use -\n");
	world_free(&x);

	/* Only the other tool: unmet, and the text never went out. */
	world_init(&x);
	x.c.tool_choice = CONV_TOOL_CHOICE_TOOL;
	x.c.tool_choice_name = xstrdup("calc");
	world_wrap(&x, 60000);
	w_start(&x);
	w_text(&x, "hi");
	ck_assert_int_eq(w_tool(&x, 0, "t1", "search"), 0);
	ck_assert_int_eq(w_finish(&x, SINK_STOP_TOOL_USE), 0);
	ck_assert_str_eq(logged(&x), "");
	ck_assert_str_eq(constrain_unmet(x.w), "the model answered without "
	    "calling the tool \"calc\" that tool_choice names");
	ck_assert_int_eq(constrain_retry(x.w), 1);
	world_free(&x);
}
END_TEST

START_TEST(constrain_single_call_and_none)
{
	struct world	x;

	world_init(&x);
	x.c.single_tool_call = 1;
	world_wrap(&x, 60000);
	w_start(&x);
	w_text(&x, "two calls");
	ck_assert_int_eq(w_tool(&x, 0, "t1", "a"), 0);
	ck_assert_int_eq(w_tool(&x, 1, "t2", "b"), 0);
	ck_assert_int_eq(w_finish(&x, SINK_STOP_TOOL_USE), 0);
	ck_assert_str_eq(logged(&x), "start msg_1\ntext two calls\n"
	    "tool_start 0 t1 a\ntool_input 0 {}\ntool_end 0 {}\n"
	    "finish tool_use -\n");
	/* Text reached the client: no retry is possible any more. */
	ck_assert_int_eq(constrain_retry(x.w), 0);
	world_free(&x);

	world_init(&x);
	x.c.tool_choice = CONV_TOOL_CHOICE_NONE;
	world_wrap(&x, 60000);
	w_start(&x);
	w_text(&x, "text");
	ck_assert_int_eq(w_tool(&x, 0, "t1", "a"), 0);
	ck_assert_int_eq(w_finish(&x, SINK_STOP_TOOL_USE), 0);
	/* Every call dropped: the answer ends as a turn, not tool use. */
	ck_assert_str_eq(logged(&x), "start msg_1\ntext text\n"
	    "finish end_turn -\n");
	world_free(&x);

	world_init(&x);
	x.c.tool_choice = CONV_TOOL_CHOICE_NONE;
	world_wrap(&x, 60000);
	w_start(&x);
	ck_assert_int_eq(w_tool(&x, 0, "t1", "a"), 0);
	ck_assert_int_eq(w_finish(&x, SINK_STOP_TOOL_USE), 0);
	ck_assert_str_eq(constrain_unmet(x.w), "the model called a tool, "
	    "although tool_choice is none");
	ck_assert_str_eq(logged(&x), "");
	world_free(&x);
}
END_TEST

static void
json_world(struct world *x, const char *schema)
{
	world_init(x);
	x->c.json_mode = 1;
	if (schema != NULL)
		ck_assert_int_eq(json_parse(schema, strlen(schema), 32,
		    &x->c.response_schema, NULL), KF_OK);
	world_wrap(x, 60000);
	w_start(x);
}

START_TEST(constrain_json_answers)
{
	struct world	x;
	const char	*schema = "{\"type\":\"object\",\"properties\":"
	    "{\"n\":{\"type\":\"integer\"}},\"required\":[\"n\"]}";

	json_world(&x, schema);
	w_text(&x, "Here:\n```json\n{\"n\":");
	w_text(&x, " 3}\n```\nbye");
	ck_assert_str_eq(logged(&x), "");
	ck_assert_int_eq(w_finish(&x, SINK_STOP_END_TURN), 0);
	ck_assert_str_eq(logged(&x), "start msg_1\ntext {\"n\": 3}\n"
	    "finish end_turn -\n");
	world_free(&x);

	json_world(&x, schema);
	w_text(&x, "{\"n\": \"three\"}");
	ck_assert_int_eq(w_finish(&x, SINK_STOP_END_TURN), 0);
	ck_assert_str_eq(constrain_unmet(x.w), "the answer's JSON does not "
	    "match the response schema: $.n: expected integer, got string");
	ck_assert_str_eq(logged(&x), "");
	world_free(&x);

	json_world(&x, NULL);
	w_text(&x, "I cannot.");
	ck_assert_int_eq(w_finish(&x, SINK_STOP_END_TURN), 0);
	ck_assert_str_eq(constrain_unmet(x.w), "the answer is not JSON");
	world_free(&x);

	json_world(&x, NULL);
	w_text(&x, "\"str\"");
	ck_assert_int_eq(w_finish(&x, SINK_STOP_END_TURN), 0);
	ck_assert_str_eq(constrain_unmet(x.w), "the answer's JSON is a string, "
	    "not an object");
	world_free(&x);

	/* A tool call ends JSON mode: the held text goes before it. */
	json_world(&x, schema);
	w_text(&x, "checking");
	ck_assert_int_eq(w_tool(&x, 0, "t1", "look"), 0);
	ck_assert_int_eq(w_finish(&x, SINK_STOP_TOOL_USE), 0);
	ck_assert_str_eq(logged(&x), "start msg_1\ntext checking\n"
	    "tool_start 0 t1 look\ntool_input 0 {}\ntool_end 0 {}\n"
	    "finish tool_use -\n");
	world_free(&x);
}
END_TEST

START_TEST(constrain_pings_while_text_is_held)
{
	struct world		x;
	struct timespec		ts = { 0, 5 * 1000000L };

	world_init(&x);
	x.c.json_mode = 1;
	world_wrap(&x, 1);
	w_start(&x);
	nanosleep(&ts, NULL);
	ck_assert_int_eq(w_text(&x, "{\"a\""), 0);
	/* The ping starts the response; the text stays held. */
	ck_assert_str_eq(logged(&x), "start msg_1\nping\n");
	nanosleep(&ts, NULL);
	ck_assert_int_eq(w_text(&x, ":1}"), 0);
	ck_assert_int_eq(w_finish(&x, SINK_STOP_END_TURN), 0);
	ck_assert_str_eq(logged(&x), "start msg_1\nping\nping\n"
	    "text {\"a\":1}\nfinish end_turn -\n");
	world_free(&x);

	/* A buffered sink is pinged before any answer starts: not started. */
	world_init(&x);
	x.inner.streams = 0;
	x.inner.ping_before_start = 1;
	x.c.json_mode = 1;
	world_wrap(&x, 1);
	ck_assert_int_eq(x.s->ops->ping(x.s->arg), 0);
	ck_assert_str_eq(logged(&x), "ping\n");
	w_start(&x);
	ck_assert_int_eq(x.s->ops->ping(x.s->arg), 0);
	ck_assert_str_eq(logged(&x), "ping\nstart msg_1\nping\n");
	world_free(&x);

	/* A sink that does not stream gets no pings. */
	world_init(&x);
	x.inner.streams = 0;
	x.c.json_mode = 1;
	world_wrap(&x, 1);
	w_start(&x);
	nanosleep(&ts, NULL);
	ck_assert_int_eq(w_text(&x, "{}"), 0);
	ck_assert_str_eq(logged(&x), "");
	world_free(&x);
}
END_TEST

START_TEST(constrain_reset_and_error_reach_the_inner_sink)
{
	struct world	x;

	world_init(&x);
	conv_add_stop(&x.c, "x");
	world_wrap(&x, 60000);
	ck_assert_ptr_nonnull(x.s->ops->reset);
	w_start(&x);
	w_text(&x, "ab");
	ck_assert_int_eq(x.s->committed, 1);
	x.s->ops->reset(x.s->arg);
	ck_assert_int_eq(x.r.resets, 1);
	ck_assert_int_eq(x.s->committed, 0);
	/* The next attempt starts the inner sink again. */
	w_start(&x);
	w_text(&x, "cd");
	ck_assert_int_eq(x.s->ops->error(x.s->arg, KF_EUPSTREAM, "cut"), 0);
	ck_assert_str_eq(logged(&x), "start msg_1\ntext cd\n"
	    "error upstream cut\n");
	world_free(&x);

	/* An inner sink that cannot reset: neither can the wrapper. */
	{
		static struct sink_ops	noreset;

		world_init(&x);
		noreset = rec_ops;
		noreset.reset = NULL;
		x.inner.ops = &noreset;
		x.c.single_tool_call = 1;
		world_wrap(&x, 60000);
		ck_assert_ptr_null(x.s->ops->reset);
		world_free(&x);
	}
}
END_TEST

START_TEST(constrain_instructions_text)
{
	struct conv	c;
	char		*t;

	conv_init(&c);
	c.tool_choice = CONV_TOOL_CHOICE_TOOL;
	c.tool_choice_name = xstrdup("calc");
	t = constrain_instructions(&c);
	ck_assert_str_eq(t, "You must call the tool \"calc\" in this answer; "
	    "do not answer with text alone and do not call any other tool.");
	free(t);
	c.json_mode = 1;
	t = constrain_instructions(&c);
	ck_assert_ptr_nonnull(strstr(t, "\nAnswer with one JSON value only"));
	ck_assert_ptr_nonnull(strstr(t, "must be an object"));
	free(t);
	conv_free(&c);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("constrain");
	TCase	*tc = tcase_create("constrain");

	tcase_add_test(tc, constrain_nothing_to_enforce_is_null);
	tcase_add_test(tc, constrain_stop_sequence_halts_and_names_it);
	tcase_add_test(tc, constrain_stop_held_prefix_released_at_finish);
	tcase_add_test(tc, constrain_any_holds_text_until_a_call);
	tcase_add_test(tc, constrain_any_unmet_may_retry_after_thinking);
	tcase_add_test(tc, constrain_named_tool_drops_others_and_renumbers);
	tcase_add_test(tc, constrain_single_call_and_none);
	tcase_add_test(tc, constrain_json_answers);
	tcase_add_test(tc, constrain_pings_while_text_is_held);
	tcase_add_test(tc, constrain_reset_and_error_reach_the_inner_sink);
	tcase_add_test(tc, constrain_instructions_text);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
