/* test-relay.c: the relay against the mock upstream: events, retries, failover. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "accounts.h"
#include "clock.h"
#include "config.h"
#include "conv.h"
#include "http.h"
#include "json.h"
#include "kiro_req.h"
#include "mocktest.h"
#include "pool.h"
#include "relay.h"
#include "store.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * Each test starts a mock upstream, a fresh store with N accounts that the
 * mock knows, runs one conversation through relay_run into a recording sink
 * and checks what the sink saw and what the mock received.
 */

/* A sink that writes one line per call into log. */
struct rec {
	struct buf	log;
	int		commit_on_start;	/* behave like a streaming sink */
	int		commit_on_ping;		/* like a buffered one */
	int		resets;
	int		refuse_batch;	/* batch(0) says the client is gone */
	struct sink	*sink;
};

static int
r_start(void *arg, const struct sink_start *s)
{
	struct rec	*r = arg;

	buf_printf(&r->log, "start %s thinking=%d\n", s->model, s->thinking);
	if (r->commit_on_start)
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

	buf_printf(&r->log, "tool_input %zu ", i);
	buf_append(&r->log, s, n);
	buf_putc(&r->log, '\n');
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

	buf_printf(&r->log, "finish %s in=%ld out=%ld read=%ld write=%ld\n",
	    sink_stop_name(stop), u->input_tokens, u->output_tokens,
	    u->cache_read_tokens, u->cache_write_tokens);
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
	if (r->commit_on_ping)
		r->sink->committed = 1;
	return 0;
}

static void
r_reset(void *arg)
{
	struct rec	*r = arg;

	r->resets++;
	buf_reset(&r->log);
}

static const struct sink_ops rec_ops = {
	r_start, r_text, r_thinking, r_thinking_end, r_tool_start,
	r_tool_input, r_tool_end, r_finish, r_error, r_ping, r_reset, NULL,
};

static void
rec_init(struct rec *r, struct sink *s, int streaming)
{
	memset(r, 0, sizeof(*r));
	memset(s, 0, sizeof(*s));
	s->ops = &rec_ops;
	s->arg = r;
	s->streams = streaming;
	r->commit_on_start = streaming;
	r->sink = s;
}

/* How many generateAssistantResponse calls the mock has seen. */
static long
generate_calls(void)
{
	return tu_mock_stat(&mock, "generate");
}

/* The text pieces the sink received, joined. */
static char *
joined_text(struct rec *r)
{
	struct buf	 text = BUF_INIT;
	const char	*p;

	for (p = buf_cstr(&r->log); (p = strstr(p, "text ")) != NULL; p += 5)
		if (p == r->log.ptr || p[-1] == '\n')
			buf_append(&text, p + 5, strcspn(p + 5, "\n"));
	return buf_detach(&text);
}

static enum kf_err
run(struct conv *c, struct sink *s, struct relay_result *res, char **why)
{
	struct relay_env	env;

	env.cfg = cfg;
	env.store = st;
	env.http = h;
	return relay_run(&env, c, s, res, why);
}

static long
account_disabled(long id)
{
	struct account	a;
	long		reason;

	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	reason = a.state.disabled;
	account_free(&a);
	return reason;
}

START_TEST(relay_text_reaches_the_sink)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL, *text;

	add_account("A", 0);
	/* The mock counts the request by default; a fixed 1.5% here. */
	script("{\"times\":1,\"response\":{\"kind\":\"text\","
	    "\"context_usage\":1.5}}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "start claude-sonnet-4-5 "
	    "thinking=0\n"));
	text = joined_text(&r);
	ck_assert_str_eq(text, "Hello from mock Kiro. You said: hi");
	free(text);
	/* 1.5% of a 200k window, from contextUsageEvent. */
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "finish end_turn in=3000 "));
	ck_assert_int_eq(res.account_id, 1);
	ck_assert_int_eq(res.attempts, 1);
	ck_assert_int_eq(generate_calls(), 1);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

/* sink.batch for the recording sink: "[" and "]" lines around a piece. */
static int
r_batch(void *arg, int begin)
{
	struct rec	*r = arg;

	buf_puts(&r->log, begin ? "[\n" : "]\n");
	return !begin && r->refuse_batch;
}

/*
 * Each piece of Kiro's stream is a batch: every event the sink gets
 * while the stream is read comes between a "[" and its "]", never
 * nested, so the front end can send them in one write.
 */
START_TEST(relay_brackets_each_piece_of_the_stream)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL, *text;
	const char		*p;
	int			 depth = 0, batches = 0, inside = 0;

	add_account("A", 0);
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	s.batch = r_batch;
	s.batch_arg = &r;
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	for (p = buf_cstr(&r.log); *p != '\0'; p += strcspn(p, "\n") + 1) {
		if (*p == '[') {
			ck_assert_int_eq(depth++, 0);
			batches++;
		} else if (*p == ']')
			ck_assert_int_eq(--depth, 0);
		else if (strncmp(p, "text ", 5) == 0) {
			ck_assert_int_eq(depth, 1);
			inside++;
		}
	}
	ck_assert_int_eq(depth, 0);
	ck_assert_int_ge(batches, 1);
	ck_assert_int_ge(inside, 1);
	text = joined_text(&r);
	ck_assert_str_eq(text, "Hello from mock Kiro. You said: hi");
	free(text);
	conv_free(&c);
	buf_free(&r.log);
	free(why);
}
END_TEST

/* A batch whose flush finds the client gone stops the answer there. */
START_TEST(relay_stops_when_a_batch_finds_the_client_gone)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	s.batch = r_batch;
	s.batch_arg = &r;
	r.refuse_batch = 1;
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_ECLIENTGONE);
	ck_assert_ptr_null(strstr(buf_cstr(&r.log), "finish "));
	ck_assert_int_eq(account_disabled(1), 0);
	conv_free(&c);
	buf_free(&r.log);
	free(why);
}
END_TEST

/*
 * Every estimate the relay makes: the test is linked with
 * -Wl,--wrap=tokens_count_conv (Makefile.am).
 */
static long	estimates;

long	__real_tokens_count_conv(const struct conv *);
long	__wrap_tokens_count_conv(const struct conv *);

long
__wrap_tokens_count_conv(const struct conv *c)
{
	estimates++;
	return __real_tokens_count_conv(c);
}

/*
 * The window check and the usage both need the estimate: one count,
 * also when the conversation needed repairs first (a trailing assistant
 * turn, an empty text), and the usage is still the estimate of what was
 * sent.
 */
START_TEST(relay_estimates_a_request_once)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL, want[64];
	long			tokens;
	int			repair;

	add_account("A", 0);
	for (repair = 0; repair < 2; repair++) {
		/* No contextUsageEvent: the usage is the estimate. */
		script("{\"times\":1,\"response\":{\"kind\":\"text\","
		    "\"context_usage\":null}}");
		simple_conv(&c, "hi");
		if (repair) {
			conv_msg_add_block(conv_add_msg(&c,
			    CONV_ROLE_ASSISTANT), CONV_BLOCK_TEXT)->text =
			    xstrdup("a prefill Kiro cannot take");
			conv_msg_add_block(&c.msgs[0], CONV_BLOCK_TEXT)->text =
			    xstrdup("");
		}
		rec_init(&r, &s, 1);
		estimates = 0;
		ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
		ck_assert_int_eq(estimates, 1);
		/* What was sent: the repaired conv, counted again here. */
		tokens = __real_tokens_count_conv(&c);
		(void)snprintf(want, sizeof(want), "finish end_turn in=%ld ",
		    tokens);
		ck_assert_msg(strstr(r.log.ptr, want) != NULL, "%s not in %s",
		    want, r.log.ptr);
		conv_free(&c);
		buf_free(&r.log);
	}
}
END_TEST

/* Store transactions (store_begin calls) one successful request took. */
static long
request_txns(const char *prompt)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;
	long			before;

	simple_conv(&c, prompt);
	rec_init(&r, &s, 0);
	before = (long)store_txn_count();
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	before = (long)store_txn_count() - before;
	ck_assert_int_eq(res.account_id, 1);
	conv_free(&c);
	buf_free(&r.log);
	return before;
}

/*
 * Every transaction is a flock and a GDBM open: once the account is
 * known (the first request rebuilds the pick index and learns the
 * account's profileArn, with a call to Kiro between its read and its
 * write), a request takes at most two, the pick's read and, for a new
 * session, its sticky write; the success itself is only a tally.
 */
START_TEST(relay_success_takes_at_most_two_store_transactions)
{
	long	n;

	add_account("A", 0);
	add_account("B", 1);
	script("{\"times\":3,\"response\":{\"kind\":\"text\"}}");
	(void)request_txns("hi");
	n = request_txns("a new session");
	ck_assert_msg(n <= 2, "a new session's request took %ld", n);
	n = request_txns("a new session");
	ck_assert_msg(n <= 2, "its next request took %ld", n);
}
END_TEST

START_TEST(relay_tool_names_are_mapped_back)
{
	struct conv		 c;
	struct conv_tool	*t;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			 short_name[KIRO_TOOL_NAME_MAX + 1], *json;
	const char		*long_name = "mcp__a_very_long_server_name__"
	    "and_an_even_longer_tool_name_that_goes_past_63_bytes";
	char			*why = NULL;

	add_account("A", 0);
	kiro_tool_name(long_name, short_name);
	ck_assert_int_lt(strlen(short_name), strlen(long_name));
	json = xasprintf("{\"times\":1,\"response\":{\"kind\":\"tool_use\","
	    "\"chunks\":[\"Using it.\"],\"tools\":[{\"name\":\"%s\",\"id\":"
	    "\"tooluse_1\",\"input_fragments\":[\"{\\\"a\\\":\",\"1}\"]}]}}",
	    short_name);
	script(json);
	free(json);
	simple_conv(&c, "use the tool");
	t = conv_add_tool(&c);
	t->name = xstrdup(long_name);
	t->description = xstrdup("d");
	ck_assert_int_eq(json_parse("{\"type\":\"object\"}", 17, 8, &t->schema,
	    NULL), KF_OK);
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	json = xasprintf("tool_start 0 tooluse_1 %s\n", long_name);
	ck_assert_msg(strstr(r.log.ptr, json) != NULL, "log: %s", r.log.ptr);
	free(json);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "tool_input 0 {\"a\":\n"));
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "tool_end 0 {\"a\":1}\n"));
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "finish tool_use "));
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_thinking_tags_become_thinking)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	struct buf		text = BUF_INIT;
	const char		*p;
	char			*why = NULL;

	add_account("A", 0);
	simple_conv(&c, "#mock:thinking");
	c.thinking = CONV_THINKING_ENABLED;
	c.thinking_budget = 4000;
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "thinking=1"));
	/* Join the pieces of each kind. */
	for (p = r.log.ptr; (p = strstr(p, "thinking ")) != NULL; p += 9)
		if (p == r.log.ptr || p[-1] == '\n')
			buf_append(&text, p + 9, strcspn(p + 9, "\n"));
	ck_assert_str_eq(buf_cstr(&text), "The user wants a greeting.");
	buf_reset(&text);
	for (p = r.log.ptr; (p = strstr(p, "\ntext ")) != NULL; p += 6)
		buf_append(&text, p + 6, strcspn(p + 6, "\n"));
	ck_assert_str_eq(buf_cstr(&text), "Hi there!");
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "thinking_end -\n"));
	buf_free(&text);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_native_reasoning_with_signature)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"times\":1,\"response\":{\"kind\":\"reasoning\","
	    "\"reasoning\":[\"step one\"],\"signature\":\"sig123\","
	    "\"chunks\":[\"Answer\"]}}");
	simple_conv(&c, "reason");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "thinking step one\n"));
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "thinking_end "));
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "text Answer\n"));
	ck_assert(strstr(r.log.ptr, "thinking_end ") <
	    strstr(r.log.ptr, "text Answer"));
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_kiro_token_usage_wins_over_estimates)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	/* tokenUsage 12 out, 60 uncached + 40 read + 0 written (§12). */
	simple_conv(&c, "#mock:token_usage");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_msg(strstr(r.log.ptr, "finish end_turn in=100 out=12 "
	    "read=40 write=0\n") != NULL, "log: %s", r.log.ptr);
	ck_assert_int_eq(res.input_tokens, 100);
	ck_assert_int_eq(res.output_tokens, 12);
	ck_assert_int_eq(res.cache_read_tokens, 40);
	ck_assert_int_eq(res.cache_write_tokens, 0);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_cache_figures_reach_the_sink)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"times\":1,\"response\":{\"kind\":\"text\","
	    "\"chunks\":[\"cached\"],\"token_usage\":{\"outputTokens\":3,"
	    "\"uncachedInputTokens\":10,\"cacheReadInputTokens\":90000,"
	    "\"cacheWriteInputTokens\":500}}}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 0);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_msg(strstr(r.log.ptr, "finish end_turn in=90510 out=3 "
	    "read=90000 write=500\n") != NULL, "log: %s", r.log.ptr);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_token_usage_total_without_parts)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	/* Only a total and the output: the input is the difference. */
	script("{\"times\":1,\"response\":{\"kind\":\"text\","
	    "\"chunks\":[\"x\"],\"token_usage\":{\"outputTokens\":7,"
	    "\"totalTokens\":507,\"uncachedInputTokens\":null,"
	    "\"cacheReadInputTokens\":null,\"cacheWriteInputTokens\":null}}}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_msg(strstr(r.log.ptr, "finish end_turn in=500 out=7 "
	    "read=0 write=0\n") != NULL, "log: %s", r.log.ptr);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_without_token_usage_reports_no_cache)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"times\":1,\"response\":{\"kind\":\"text\","
	    "\"context_usage\":1.5}}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_msg(strstr(r.log.ptr, "finish end_turn in=3000 ") != NULL &&
	    strstr(r.log.ptr, " read=0 write=0\n") != NULL, "log: %s",
	    r.log.ptr);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_credits_are_summed_over_attempts)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	/*
	 * The first answer is charged and then broken before any byte
	 * reached the client (a buffered sink): it is retried, and both
	 * answers' credits count.
	 */
	script("{\"times\":1,\"response\":{\"kind\":\"exception\","
	    "\"chunks\":[],\"metering\":{\"unit\":\"credit\","
	    "\"usage\":0.25}}}");
	script("{\"times\":1,\"response\":{\"kind\":\"text\","
	    "\"chunks\":[\"ok\"],\"metering\":{\"unit\":\"credit\","
	    "\"usage\":0.5}}}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 0);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(res.attempts, 2);
	ck_assert_int_eq(res.metered, 1);
	ck_assert_double_eq_tol(res.credits, 0.75, 1e-9);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_without_metering_has_no_credits)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"times\":1,\"response\":{\"kind\":\"text\","
	    "\"chunks\":[\"ok\"],\"metering\":false}}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(res.metered, 0);
	ck_assert_double_eq_tol(res.credits, 0, 1e-12);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_content_length_exceeded_is_max_tokens)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	simple_conv(&c, "#mock:content_length_exceeded");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "finish max_tokens "));
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_context_window_full_stop_reason)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	simple_conv(&c, "#mock:context_window_full");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_msg(strstr(r.log.ptr, "finish model_context_window_exceeded "
	    "in=200000") != NULL, "log: %s", r.log.ptr);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_throttling_is_retried_on_the_same_account)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	/* No other account could serve: the same one, with backoff. */
	add_account("A", 0);
	script("{\"times\":2,\"response\":\"throttle\"}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(res.account_id, 1);
	ck_assert_int_eq(res.attempts, 3);
	ck_assert_int_eq(generate_calls(), 3);
	ck_assert_int_eq(account_disabled(1), ACCOUNT_OK);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_throttling_cools_down_and_fails_over)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	struct account		a;
	char			*why = NULL;

	add_account("A", 0);
	add_account("B", 1);
	script("{\"times\":1,\"response\":\"throttle\"}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(res.account_id, 2);
	ck_assert_int_eq(res.attempts, 2);
	ck_assert_int_eq(generate_calls(), 2);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_OK);
	ck_assert_int_eq(a.state.throttles, 1);
	ck_assert_int_ge(a.state.cooldown_until, clock_now() + 59);
	account_free(&a);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_exception_frame_before_output_is_retried)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"times\":1,\"response\":{\"kind\":\"exception\","
	    "\"chunks\":[],\"exception_type\":\"ThrottlingException\","
	    "\"message\":\"slow down\"}}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(generate_calls(), 2);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "finish end_turn"));
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_server_errors_fail_over_after_three)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL;

	add_account("A", 0);
	add_account("B", 1);
	script("{\"match\":{\"token\":\"aoaA\"},\"times\":-1,"
	    "\"response\":\"server_error\"}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(res.account_id, 2);
	ck_assert_int_eq(generate_calls(), 4);	/* 3 on A, 1 on B */
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_gives_up_after_nine_attempts)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL;

	add_account("A", 0);
	add_account("B", 1);
	add_account("C", 2);
	add_account("D", 3);
	script("{\"times\":-1,\"response\":\"server_error\"}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_EOVERLOADED);
	ck_assert_int_eq(generate_calls(), 9);
	ck_assert_int_eq(res.attempts, 9);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(s.committed, 0);
	ck_assert_ptr_null(strstr(buf_cstr(&r.log), "start"));
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_quota_disables_and_fails_over)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL;

	add_account("A", 0);
	add_account("B", 1);
	script("{\"match\":{\"token\":\"aoaA\"},\"times\":-1,"
	    "\"response\":\"monthly_quota\"}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(res.account_id, 2);
	ck_assert_int_eq(generate_calls(), 2);
	ck_assert_int_eq(account_disabled(1), ACCOUNT_QUOTA_EXCEEDED);
	ck_assert_int_eq(account_disabled(2), ACCOUNT_OK);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_suspension_disables_and_fails_over)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL;

	add_account("A", 0);
	add_account("B", 1);
	script("{\"match\":{\"token\":\"aoaA\"},\"times\":-1,"
	    "\"response\":\"suspended\"}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(res.account_id, 2);
	ck_assert_int_eq(account_disabled(1), ACCOUNT_SUSPENDED);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_all_accounts_out_of_quota)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"times\":-1,\"response\":\"monthly_quota\"}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_EQUOTA);
	ck_assert_ptr_nonnull(strstr(why, "quota"));
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_bearer_invalid_forces_one_refresh)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	struct buf		 out = BUF_INIT;
	struct account		 a;
	char			*why = NULL;

	add_account("A", 0);
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/revoke",
	    "{\"accessToken\":\"aoaA\"}", &out), 200);
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(tu_mock_stat(&mock, "refreshes"), 1);
	ck_assert_int_eq(generate_calls(), 2);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_str_ne(a.cred.access_token, "aoaA");
	/* The rotated refresh token is what the store keeps now. */
	ck_assert_str_ne(a.cred.refresh_token, "aorA" TAIL);
	account_free(&a);
	buf_free(&out);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_bad_request_is_never_retried)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL;

	add_account("A", 0);
	add_account("B", 1);
	script("{\"times\":-1,\"response\":\"improperly_formed\"}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	/* A client error: no retry fixes it, so no 5xx either. */
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_EINVAL);
	ck_assert_int_eq(generate_calls(), 1);
	ck_assert_ptr_nonnull(strstr(why, "400"));
	ck_assert_ptr_nonnull(strstr(why, "Improperly formed request"));
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_context_full_is_a_client_error)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"times\":-1,\"response\":\"context_full\"}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_ECONTEXT);
	ck_assert_ptr_nonnull(strstr(why, "Context window is full"));
	ck_assert_int_eq(generate_calls(), 1);
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_empty_answer_is_retried)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"times\":1,\"response\":\"empty\"}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(generate_calls(), 2);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_cutoff_after_first_byte_ends_with_error)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"times\":1,\"response\":{\"kind\":\"cutoff\","
	    "\"chunks\":[\"partial answer\"]}}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_ne(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(generate_calls(), 1);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "text partial answer\n"));
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "\nerror "));
	ck_assert_ptr_null(strstr(r.log.ptr, "finish"));
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_cutoff_is_retried_while_nothing_was_sent)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL, *text;

	add_account("A", 0);
	script("{\"times\":1,\"response\":{\"kind\":\"cutoff\","
	    "\"chunks\":[\"partial answer\"],\"partial_frame\":true}}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 0);	/* a non-streaming sink commits nothing */
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(generate_calls(), 2);
	ck_assert_int_eq(r.resets, 1);
	ck_assert_ptr_null(strstr(r.log.ptr, "partial answer"));
	text = joined_text(&r);
	ck_assert_str_eq(text, "Hello from mock Kiro. You said: hi");
	free(text);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_dead_refresh_token_fails_over)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	struct store_txn	*txn;
	struct account		 a;
	struct buf		 out = BUF_INIT;
	char			*why = NULL;

	add_account("A", 0);
	add_account("B", 1);
	/* A's access token has expired and its refresh token is dead. */
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_load(txn, 1, &a, NULL), KF_OK);
	a.cred.expires_at = 1;
	ck_assert_int_eq(accounts_txn_save_cred(txn, &a.cred, NULL), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	account_free(&a);
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/revoke",
	    "{\"refreshToken\":\"aorA" TAIL "\"}", &out), 200);
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(res.account_id, 2);
	ck_assert_int_eq(account_disabled(1), ACCOUNT_INVALID_REFRESH_TOKEN);
	buf_free(&out);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_failure_after_pings_only_ends_with_error)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL;

	/* A buffered sink: pings commit it before any content. */
	cfg->ping_interval_seconds = 1;
	add_account("A", 0);
	script("{\"times\":-1,\"response\":{\"kind\":\"http_error\","
	    "\"status\":500,\"body\":{\"message\":\"down\"},"
	    "\"first_byte_delay_ms\":2500}}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 0);
	s.ping_before_start = 1;
	r.commit_on_ping = 1;
	ck_assert_int_ne(run(&c, &s, &res, &why), KF_OK);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&r.log), "ping\n"));
	ck_assert_int_eq(s.committed, 1);
	/* No retry once committed, and the stream says why it ends. */
	ck_assert_int_eq(generate_calls(), 1);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "\nerror overloaded "));
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_without_accounts_says_how_to_add_one)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL;

	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_ENOACCOUNT);
	ck_assert_ptr_nonnull(strstr(why, "kiroctl accounts import"));
	ck_assert_int_eq(generate_calls(), 0);
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

/* ---- failure accounting and the final error (issue 8) ---- */

static void
report_outcome(long id, enum pool_outcome outcome)
{
	struct account	a;

	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	ck_assert_int_eq(pool_report(st, cfg, &a, outcome, "earlier", NULL),
	    KF_OK);
	account_free(&a);
}

static long
failures_of(long id)
{
	struct account	a;
	long		n;

	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	n = a.state.failures;
	account_free(&a);
	return n;
}

START_TEST(relay_refusal_cured_by_refresh_is_no_failure)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	struct buf		 out = BUF_INIT;
	char			*why = NULL;

	/* Two failures already: one more would disable the account. */
	add_account("A", 0);
	report_outcome(1, POOL_FAILURE);
	report_outcome(1, POOL_FAILURE);
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/revoke",
	    "{\"accessToken\":\"aoaA\"}", &out), 200);
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(tu_mock_stat(&mock, "refreshes"), 1);
	ck_assert_int_eq(account_disabled(1), ACCOUNT_OK);
	ck_assert_int_eq(failures_of(1), 0);
	buf_free(&out);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_refusal_of_a_fresh_token_counts_once)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"times\":-1,\"response\":\"bearer_invalid\"}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_EUPSTREAM);
	ck_assert_int_eq(tu_mock_stat(&mock, "refreshes"), 1);
	ck_assert_int_eq(generate_calls(), 2);
	/* The first refusal was cured by nothing: only the second counts. */
	ck_assert_int_eq(failures_of(1), 1);
	ck_assert_ptr_null(strstr(why, "bearer token"));
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

/* A cooling down, B failing as scripted: the client learns B's failure. */
static void
last_failure_case(const char *response, int streaming, enum kf_err want,
    const char *says)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL, *json;

	add_account("A", 0);
	add_account("B", 1);
	report_outcome(1, POOL_THROTTLED);
	json = xasprintf("{\"times\":-1,\"response\":%s}", response);
	script(json);
	free(json);
	simple_conv(&c, "hi");
	rec_init(&r, &s, streaming);
	ck_assert_int_eq(run(&c, &s, &res, &why), want);
	ck_assert_int_eq(generate_calls(), 3);
	ck_assert_msg(strstr(why, says) != NULL, "why: %s", why);
	ck_assert_ptr_null(strstr(why, "account 1"));
	ck_assert_ptr_null(strstr(why, "cooling"));
	ck_assert_int_eq(res.retry_after, 0);
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}

START_TEST(relay_server_error_beats_another_accounts_cooldown)
{
	last_failure_case("\"server_error\"", 1, KF_EOVERLOADED, "HTTP 500");
}
END_TEST

START_TEST(relay_cut_stream_beats_another_accounts_cooldown)
{
	last_failure_case("{\"kind\":\"cutoff\",\"chunks\":[\"part\"],"
	    "\"partial_frame\":true}", 0, KF_EUPSTREAM, "cut off");
}
END_TEST

START_TEST(relay_throttling_everywhere_is_a_rate_error)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL;

	add_account("A", 0);
	add_account("B", 1);
	report_outcome(1, POOL_THROTTLED);
	script("{\"times\":-1,\"response\":\"throttle\"}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_ERATE);
	ck_assert_int_eq(generate_calls(), 3);
	/* A's cooldown is when an account may serve again. */
	ck_assert_int_ge(res.retry_after, 59);
	ck_assert_int_le(res.retry_after, 60);
	ck_assert_ptr_null(strstr(why, "account 1"));
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_dead_refresh_token_error_hides_the_detail)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	struct store_txn	*txn;
	struct account		 a;
	struct buf		 out = BUF_INIT;
	char			*why = NULL;

	add_account("A", 0);
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_load(txn, 1, &a, NULL), KF_OK);
	a.cred.expires_at = 1;
	ck_assert_int_eq(accounts_txn_save_cred(txn, &a.cred, NULL), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	account_free(&a);
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/revoke",
	    "{\"refreshToken\":\"aorA" TAIL "\"}", &out), 200);
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_ELOGIN);
	ck_assert_ptr_nonnull(strstr(why, "login"));
	ck_assert_ptr_null(strstr(why, "account 1"));
	ck_assert_ptr_null(strstr(why, "invalid_grant"));
	free(why);
	buf_free(&out);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_body_over_the_kiro_limit_never_goes_upstream)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL, *prompt;

	add_account("A", 0);
	cfg->max_kiro_body_bytes = 4000;
	prompt = xmalloc(5001);
	memset(prompt, 'x', 5000);
	prompt[5000] = '\0';
	simple_conv(&c, prompt);
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_ECONTEXT);
	ck_assert_int_eq(generate_calls(), 0);
	ck_assert_msg(strstr(why, "Input is too long") != NULL &&
	    strstr(why, "the limit is 4000") != NULL, "why: %s", why);
	ck_assert_int_eq(res.account_id, 0);
	free(why);
	why = NULL;
	conv_free(&c);
	/* Under the limit it is served as before. */
	prompt[1000] = '\0';
	simple_conv(&c, prompt);
	buf_free(&r.log);
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(generate_calls(), 1);
	free(prompt);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

/* ---- answer constraints (constrain.h) through the relay ---- */

static long
success_count(long id)
{
	struct account	a;
	long		n;

	ck_assert_int_eq(pool_flush(st, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	n = a.state.success_count;
	account_free(&a);
	return n;
}

START_TEST(relay_stop_sequence_ends_the_answer_early)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL, *text;
	int64_t			 t0;

	add_account("A", 0);
	/* Slow chunks: the transfer is stopped long before the last. */
	script("{\"match\":{},\"times\":1,\"response\":{\"kind\":\"slow\","
	    "\"chunks\":[\"one two \",\"th\",\"ree four\",\" five\",\" six\","
	    "\" seven\",\" eight\"],\"delay_ms\":500}}");
	simple_conv(&c, "count");
	conv_add_stop(&c, "three");
	conv_add_stop(&c, "five");
	rec_init(&r, &s, 1);
	t0 = clock_mono_ms();
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	/* The match comes at about 1 s; the whole answer would take 3 s. */
	ck_assert_int_lt(clock_mono_ms() - t0, 2500);
	text = joined_text(&r);
	ck_assert_str_eq(text, "one two ");
	free(text);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "finish stop_sequence "));
	ck_assert_int_eq(res.stop, SINK_STOP_STOP_SEQUENCE);
	ck_assert_int_eq(res.attempts, 1);
	ck_assert_int_eq(generate_calls(), 1);
	/* A success for the account, not a client that went away. */
	ck_assert_int_eq(success_count(1), 1);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

/* Stop sequences apply to the answer's text, not to its thinking. */
START_TEST(relay_stop_sequence_ignores_thinking)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL, *text;

	add_account("A", 0);
	simple_conv(&c, "#mock:thinking");
	c.thinking = CONV_THINKING_ENABLED;
	conv_add_stop(&c, "greeting");
	conv_add_stop(&c, " there");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, " a greeting."));
	text = joined_text(&r);
	ck_assert_str_eq(text, "Hi");
	free(text);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "finish stop_sequence "));
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

static void
tool_conv(struct conv *c, const char *prompt, enum conv_tool_choice choice)
{
	struct conv_tool	*t;
	const char		*names[] = { "calc", "search" };
	size_t			 i;

	simple_conv(c, prompt);
	for (i = 0; i < 2; i++) {
		t = conv_add_tool(c);
		t->name = xstrdup(names[i]);
		t->description = xstrdup(names[i]);
		t->schema = json_object_new_object();
	}
	c->tool_choice = choice;
	if (choice == CONV_TOOL_CHOICE_TOOL)
		c->tool_choice_name = xstrdup("search");
}

START_TEST(relay_tool_choice_any_satisfied_at_once)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"match\":{},\"times\":1,\"response\":{\"kind\":\"tool_use\","
	    "\"chunks\":[\"Let me \",\"compute.\"],\"tools\":[{\"name\":"
	    "\"calc\",\"id\":\"tu1\",\"input\":{\"x\":1}}]}}");
	tool_conv(&c, "add", CONV_TOOL_CHOICE_ANY);
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	/* The held text comes out whole, before the call. */
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "text Let me compute.\n"
	    "tool_start 0 tu1 calc\n"));
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "finish tool_use "));
	ck_assert_int_eq(generate_calls(), 1);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_tool_choice_retried_once_then_satisfied)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	struct buf		reqs = BUF_INIT;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"match\":{},\"times\":1,\"response\":{\"kind\":\"text\","
	    "\"chunks\":[\"I would rather chat.\"]}}");
	script("{\"match\":{},\"times\":1,\"response\":{\"kind\":\"tool_use\","
	    "\"chunks\":[],\"tools\":[{\"name\":\"calc\",\"id\":\"tu1\","
	    "\"input\":{}},{\"name\":\"search\",\"id\":\"tu2\",\"input\":"
	    "{\"q\":\"a\"}}]}}");
	tool_conv(&c, "find", CONV_TOOL_CHOICE_TOOL);
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	/* Nothing of the first answer; calc is not the named tool. */
	ck_assert_ptr_null(strstr(r.log.ptr, "rather chat"));
	ck_assert_ptr_null(strstr(r.log.ptr, "calc"));
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "tool_start 0 tu2 search\n"));
	ck_assert_int_eq(r.resets, 0);
	ck_assert_int_eq(generate_calls(), 2);
	ck_assert_int_eq(res.attempts, 2);
	/* The second request says why the first was refused. */
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/requests?op="
	    "generateAssistantResponse", NULL, &reqs), 200);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&reqs), "your previous answer "
	    "to this request was rejected because the model answered without "
	    "calling the tool"));
	buf_free(&reqs);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_tool_choice_never_satisfied_is_an_error)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"match\":{},\"times\":-1,\"response\":{\"kind\":\"text\","
	    "\"chunks\":[\"No tools today.\"]}}");
	tool_conv(&c, "add", CONV_TOOL_CHOICE_ANY);
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_EUPSTREAM);
	ck_assert_ptr_nonnull(strstr(why, "did not honour the request, even "
	    "when asked again: the model answered without calling a tool"));
	/* Nothing reached the client: the front end answers the error. */
	ck_assert_int_eq(s.committed, 0);
	ck_assert_str_eq(buf_cstr(&r.log), "");
	ck_assert_int_eq(generate_calls(), 2);
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_single_tool_call_drops_the_rest)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"match\":{},\"times\":1,\"response\":{\"kind\":\"tool_use\","
	    "\"chunks\":[],\"tools\":[{\"name\":\"calc\",\"id\":\"tu1\","
	    "\"input\":{}},{\"name\":\"search\",\"id\":\"tu2\",\"input\":{}}],"
	    "\"interleave\":true}}");
	tool_conv(&c, "both", CONV_TOOL_CHOICE_AUTO);
	c.single_tool_call = 1;
	rec_init(&r, &s, 0);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "tool_start 0 tu1 calc\n"));
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "tool_end 0 {}\n"));
	ck_assert_ptr_null(strstr(r.log.ptr, "search"));
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "finish tool_use "));
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_json_answer_validated_and_retried)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL, *text;
	const char		*schema;

	add_account("A", 0);
	script("{\"match\":{},\"times\":1,\"response\":{\"kind\":\"text\","
	    "\"chunks\":[\"{\\\"city\\\": 5}\"]}}");
	script("{\"match\":{},\"times\":1,\"response\":{\"kind\":\"text\","
	    "\"chunks\":[\"Sure:\\n```json\\n{\\\"city\\\":\",\" \\\"Paris\\\"}"
	    "\\n```\"]}}");
	simple_conv(&c, "where");
	c.json_mode = 1;
	schema = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
	    "\"string\"}},\"required\":[\"city\"]}";
	ck_assert_int_eq(json_parse(schema, strlen(schema), 16,
	    &c.response_schema, NULL), KF_OK);
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	text = joined_text(&r);
	ck_assert_str_eq(text, "{\"city\": \"Paris\"}");
	free(text);
	/* One text call: the JSON whole. */
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "\ntext {\"city\": "
	    "\"Paris\"}\nfinish end_turn "));
	ck_assert_int_eq(generate_calls(), 2);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_json_never_valid_is_an_error_after_thinking)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	script("{\"match\":{},\"times\":-1,\"response\":{\"kind\":\"reasoning\","
	    "\"reasoning\":[\"hmm\"],\"chunks\":[\"[1, 2]\"]}}");
	simple_conv(&c, "where");
	c.json_mode = 1;
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_EUPSTREAM);
	/* Thinking streamed, so the error goes into the stream. */
	ck_assert_int_eq(s.committed, 1);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "thinking hmm\n"));
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "error upstream the "
	    "model's answer did not honour the request, even when asked "
	    "again: the answer's JSON is an array, not an object\n"));
	ck_assert_ptr_null(strstr(r.log.ptr, "finish"));
	ck_assert_int_eq(generate_calls(), 2);
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

/* ---- routes: the two hosts of the mock (doc/protocol.md §12) ---- */

#define ROUTE_PROFILE	"arn:aws:codewhisperer:us-east-1:111112222233:" \
	"profile/MOCK"

static void
two_hosts(const char *legacy_base)
{
	free(cfg->api_base_url);
	cfg->api_base_url = xasprintf("%s/runtime", mock.base);
	free(cfg->legacy_api_base_url);
	cfg->legacy_api_base_url = legacy_base != NULL ?
	    xstrdup(legacy_base) : xasprintf("%s/legacy", mock.base);
}

static void
mock_settings(const char *json)
{
	struct buf	out = BUF_INIT;

	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/settings", json, &out),
	    200);
	buf_free(&out);
}

/* "host style" of the account's remembered route, or "none". */
static char *
remembered_route(long id)
{
	struct account	 a;
	char		*route;

	ck_assert_int_eq(accounts_get(st, id, &a, NULL), KF_OK);
	route = a.state.route_known ? xasprintf("%s %s",
	    config_api_host_name(a.state.route_host),
	    config_api_style_name(a.state.route_style)) : xstrdup("none");
	account_free(&a);
	return route;
}

static void
serve_once(const char *prompt)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL, *text;

	simple_conv(&c, prompt);
	rec_init(&r, &s, 1);
	ck_assert_msg(run(&c, &s, &res, &why) == KF_OK, "%s", why);
	text = joined_text(&r);
	ck_assert_ptr_nonnull(strstr(text, prompt));
	free(text);
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}

START_TEST(relay_path_style_refused_switches_to_target_and_remembers)
{
	char	*route;

	two_hosts(NULL);
	add_account("A", 0);
	ck_assert_int_eq(accounts_set_profile(st, 1, ROUTE_PROFILE, NULL),
	    KF_OK);
	/* The target style wants no profileArn in the body (relay.c). */
	mock_settings("{\"runtime_path_style_invalid\":true,"
	    "\"target_refuse_body_profile\":true}");
	serve_once("first");
	/* The refused path-style call, then the target-style one. */
	ck_assert_int_eq(generate_calls(), 2);
	ck_assert_int_eq(tu_mock_stat(&mock, "host_rejected"), 1);
	ck_assert_str_eq(route = remembered_route(1), "runtime target");
	free(route);
	/* Remembered: the next request goes straight to the target style. */
	serve_once("second");
	ck_assert_int_eq(generate_calls(), 3);
	ck_assert_int_eq(tu_mock_stat(&mock, "host_rejected"), 1);
}
END_TEST

START_TEST(relay_profile_required_falls_back_to_the_legacy_host)
{
	char	*route;

	struct buf	 out = BUF_INIT;

	two_hosts(NULL);
	add_account("A", 0);		/* no profileArn known */
	/* ListAvailableProfiles lists none: nothing to send. */
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/accounts/update",
	    "{\"accessToken\":\"aoaA\",\"profiles\":[]}", &out), 200);
	buf_free(&out);
	serve_once("no profile");
	ck_assert_int_eq(tu_mock_stat(&mock, "profiles"), 1);
	ck_assert_int_eq(generate_calls(), 2);
	ck_assert_str_eq(route = remembered_route(1), "legacy path");
	free(route);
}
END_TEST

START_TEST(relay_learns_a_missing_profile_before_the_runtime_host)
{
	struct account	 a;
	char		*route;

	two_hosts(NULL);
	add_account("A", 0);		/* imported without its profileArn */
	serve_once("learn it");
	serve_once("known now");
	ck_assert_int_eq(tu_mock_stat(&mock, "profiles"), 1);
	ck_assert_int_eq(generate_calls(), 2);
	ck_assert_int_eq(tu_mock_stat(&mock, "host_rejected"), 0);
	ck_assert_str_eq(route = remembered_route(1), "none");
	free(route);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_str_eq(a.cred.profile_arn, ROUTE_PROFILE);
	account_free(&a);
}
END_TEST

START_TEST(relay_unresolvable_legacy_host_falls_back_to_runtime)
{
	char	*route;

	/* RFC 6761: .invalid never resolves (the mock's README). */
	two_hosts("http://legacy.invalid:9/legacy");
	add_account("A", 0);
	ck_assert_int_eq(accounts_set_profile(st, 1, ROUTE_PROFILE, NULL),
	    KF_OK);
	ck_assert_int_eq(accounts_set_route(st, 1, API_HOST_LEGACY,
	    API_STYLE_PATH, 1, NULL), KF_OK);
	serve_once("legacy gone");
	ck_assert_int_eq(generate_calls(), 1);
	ck_assert_str_eq(route = remembered_route(1), "runtime path");
	free(route);
}
END_TEST

START_TEST(relay_a_plain_bad_request_switches_nothing)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	char			*why = NULL, *route;

	two_hosts(NULL);
	add_account("A", 0);
	ck_assert_int_eq(accounts_set_profile(st, 1, ROUTE_PROFILE, NULL),
	    KF_OK);
	script("{\"times\":-1,\"response\":\"improperly_formed\"}");
	simple_conv(&c, "hi");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_EINVAL);
	ck_assert_int_eq(generate_calls(), 1);
	ck_assert_str_eq(route = remembered_route(1), "none");
	free(route);
	free(why);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

/* The input a rec log's tool_end 0 line carries, parsed; NULL if none. */
static json_object *
tool_end_input(struct rec *r)
{
	json_object	*v = NULL;
	const char	*p;

	if ((p = strstr(buf_cstr(&r->log), "tool_end 0 ")) == NULL)
		return NULL;
	p += 11;
	if (json_parse(p, strcspn(p, "\n"), 64, &v, NULL) != KF_OK)
		return NULL;
	return v;
}

START_TEST(relay_cut_tool_call_is_continued_and_spliced)
{
	struct conv		 c;
	struct sink		 s;
	struct rec		 r;
	struct relay_result	 res;
	json_object		*v, *content;
	char			*why = NULL;

	add_account("A", 0);
	simple_conv(&c, "write it #mock:tool_cut_escape");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(generate_calls(), 2);
	ck_assert_int_eq(res.attempts, 2);
	ck_assert_int_eq(res.stop, SINK_STOP_TOOL_USE);
	ck_assert_msg((v = tool_end_input(&r)) != NULL, "log: %.300s",
	    r.log.ptr);
	ck_assert(json_object_object_get_ex(v, "content", &content));
	ck_assert_uint_gt(strlen(json_object_get_string(content)), 5000);
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "finish tool_use "));
	/* The continuation turns are gone again. */
	ck_assert_uint_eq(c.n_msgs, 1);
	json_object_put(v);
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_cut_tool_call_never_completed_is_max_tokens)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	simple_conv(&c, "write it #mock:tool_cut_refused");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(generate_calls(), 3);	/* toolContinuations 2 */
	ck_assert_int_eq(res.stop, SINK_STOP_MAX_TOKENS);
	ck_assert_ptr_null(strstr(r.log.ptr, "tool_"));
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "finish max_tokens "));
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

START_TEST(relay_cut_tool_call_without_continuations)
{
	struct conv		c;
	struct sink		s;
	struct rec		r;
	struct relay_result	res;
	char			*why = NULL;

	add_account("A", 0);
	cfg->tool_continuations = 0;
	simple_conv(&c, "write it #mock:tool_cut_string");
	rec_init(&r, &s, 1);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_OK);
	ck_assert_int_eq(generate_calls(), 1);
	ck_assert_int_eq(res.stop, SINK_STOP_MAX_TOKENS);
	ck_assert_ptr_null(strstr(r.log.ptr, "tool_"));
	ck_assert_ptr_nonnull(strstr(r.log.ptr, "finish max_tokens "));
	conv_free(&c);
	buf_free(&r.log);

	/* Not streamed, a dropped stream is retried from scratch as before. */
	simple_conv(&c, "write it #mock:tool_cut_drop");
	rec_init(&r, &s, 0);
	ck_assert_int_eq(run(&c, &s, &res, &why), KF_EUPSTREAM);
	ck_assert_int_eq(generate_calls(), 1 + RELAY_MAX_ATTEMPTS_PER_ACCOUNT);
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_null(strstr(r.log.ptr, "tool_"));
	free(why);
	cfg->tool_continuations = 2;
	conv_free(&c);
	buf_free(&r.log);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("relay");
	TCase	*tc = tcase_create("relay");

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, mock_setup, mock_teardown);
	tcase_add_test(tc, relay_text_reaches_the_sink);
	tcase_add_test(tc, relay_brackets_each_piece_of_the_stream);
	tcase_add_test(tc, relay_stops_when_a_batch_finds_the_client_gone);
	tcase_add_test(tc, relay_estimates_a_request_once);
	tcase_add_test(tc, relay_path_style_refused_switches_to_target_and_remembers);
	tcase_add_test(tc, relay_profile_required_falls_back_to_the_legacy_host);
	tcase_add_test(tc, relay_unresolvable_legacy_host_falls_back_to_runtime);
	tcase_add_test(tc, relay_learns_a_missing_profile_before_the_runtime_host);
	tcase_add_test(tc, relay_a_plain_bad_request_switches_nothing);
	tcase_add_test(tc, relay_success_takes_at_most_two_store_transactions);
	tcase_add_test(tc, relay_tool_names_are_mapped_back);
	tcase_add_test(tc, relay_thinking_tags_become_thinking);
	tcase_add_test(tc, relay_native_reasoning_with_signature);
	tcase_add_test(tc, relay_kiro_token_usage_wins_over_estimates);
	tcase_add_test(tc, relay_cache_figures_reach_the_sink);
	tcase_add_test(tc, relay_token_usage_total_without_parts);
	tcase_add_test(tc, relay_without_token_usage_reports_no_cache);
	tcase_add_test(tc, relay_credits_are_summed_over_attempts);
	tcase_add_test(tc, relay_without_metering_has_no_credits);
	tcase_add_test(tc, relay_content_length_exceeded_is_max_tokens);
	tcase_add_test(tc, relay_context_window_full_stop_reason);
	tcase_add_test(tc, relay_throttling_is_retried_on_the_same_account);
	tcase_add_test(tc, relay_throttling_cools_down_and_fails_over);
	tcase_add_test(tc, relay_exception_frame_before_output_is_retried);
	tcase_add_test(tc, relay_server_errors_fail_over_after_three);
	tcase_add_test(tc, relay_gives_up_after_nine_attempts);
	tcase_add_test(tc, relay_quota_disables_and_fails_over);
	tcase_add_test(tc, relay_suspension_disables_and_fails_over);
	tcase_add_test(tc, relay_all_accounts_out_of_quota);
	tcase_add_test(tc, relay_bearer_invalid_forces_one_refresh);
	tcase_add_test(tc, relay_bad_request_is_never_retried);
	tcase_add_test(tc, relay_context_full_is_a_client_error);
	tcase_add_test(tc, relay_empty_answer_is_retried);
	tcase_add_test(tc, relay_cutoff_after_first_byte_ends_with_error);
	tcase_add_test(tc, relay_cutoff_is_retried_while_nothing_was_sent);
	tcase_add_test(tc, relay_dead_refresh_token_fails_over);
	tcase_add_test(tc, relay_failure_after_pings_only_ends_with_error);
	tcase_add_test(tc, relay_without_accounts_says_how_to_add_one);
	tcase_add_test(tc, relay_refusal_cured_by_refresh_is_no_failure);
	tcase_add_test(tc, relay_refusal_of_a_fresh_token_counts_once);
	tcase_add_test(tc, relay_server_error_beats_another_accounts_cooldown);
	tcase_add_test(tc, relay_cut_stream_beats_another_accounts_cooldown);
	tcase_add_test(tc, relay_throttling_everywhere_is_a_rate_error);
	tcase_add_test(tc, relay_dead_refresh_token_error_hides_the_detail);
	tcase_add_test(tc, relay_body_over_the_kiro_limit_never_goes_upstream);
	tcase_add_test(tc, relay_stop_sequence_ends_the_answer_early);
	tcase_add_test(tc, relay_stop_sequence_ignores_thinking);
	tcase_add_test(tc, relay_tool_choice_any_satisfied_at_once);
	tcase_add_test(tc, relay_tool_choice_retried_once_then_satisfied);
	tcase_add_test(tc, relay_tool_choice_never_satisfied_is_an_error);
	tcase_add_test(tc, relay_single_tool_call_drops_the_rest);
	tcase_add_test(tc, relay_json_answer_validated_and_retried);
	tcase_add_test(tc, relay_json_never_valid_is_an_error_after_thinking);
	tcase_add_test(tc, relay_cut_tool_call_is_continued_and_spliced);
	tcase_add_test(tc, relay_cut_tool_call_never_completed_is_max_tokens);
	tcase_add_test(tc, relay_cut_tool_call_without_continuations);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
