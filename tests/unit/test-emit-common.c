/* test-emit-common.c: the emitters' shared plumbing: head, push, keep-alive, responses, open calls. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "buf.h"
#include "emit-common.h"
#include "out.h"
#include "sink.h"
#include "testutil.h"

#define SSE_HEAD	"Status: 200 OK\r\nContent-Type: text/event-stream\r\n" \
	"Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n\r\n"

static struct buf	 raw;
static struct out	 out;
static struct sink	 sink;

static void
setup(void)
{
	memset(&raw, 0, sizeof(raw));
	out_init_buf(&out, &raw);
	memset(&sink, 0, sizeof(sink));
}

static void
teardown(void)
{
	buf_free(&raw);
}

START_TEST(head_is_written_once_and_commits)
{
	int	sent = 0;

	ck_assert_int_eq(emit_stream_head(&out, &sink, &sent,
	    "text/event-stream"), 0);
	ck_assert_int_eq(sent, 1);
	ck_assert_int_eq(sink.committed, 1);
	ck_assert_int_eq(emit_stream_head(&out, &sink, &sent,
	    "application/json"), 0);
	ck_assert_str_eq(buf_cstr(&raw), SSE_HEAD);
}
END_TEST

START_TEST(head_to_a_gone_client_fails_uncommitted)
{
	int	sent = 0;

	out.failed = 1;
	ck_assert_int_eq(emit_stream_head(&out, &sink, &sent,
	    "text/event-stream"), -1);
	ck_assert_int_eq(sink.committed, 0);
	ck_assert_int_eq(raw.len, 0);
}
END_TEST

START_TEST(push_writes_and_empties_the_pending_bytes)
{
	struct buf	pending = BUF_INIT;

	buf_puts(&pending, "data: 1\n\n");
	ck_assert_int_eq(emit_push(&out, &sink, &pending), 0);
	ck_assert_int_eq(pending.len, 0);
	ck_assert_int_eq(sink.committed, 1);
	buf_puts(&pending, "data: 2\n\n");
	ck_assert_int_eq(emit_push(&out, &sink, &pending), 0);
	ck_assert_str_eq(buf_cstr(&raw), "data: 1\n\ndata: 2\n\n");
	/* A gone client: the bytes are dropped all the same. */
	out.failed = 1;
	buf_puts(&pending, "data: 3\n\n");
	ck_assert_int_eq(emit_push(&out, &sink, &pending), -1);
	ck_assert_int_eq(pending.len, 0);
	ck_assert_str_eq(buf_cstr(&raw), "data: 1\n\ndata: 2\n\n");
	buf_free(&pending);
}
END_TEST

/* An out that counts its flushes, and can refuse them (a gone client). */
static int	flushes, refuse_flush;

static int
counting_flush(void *arg)
{
	(void)arg;
	flushes++;
	return refuse_flush ? -1 : 0;
}

START_TEST(batch_makes_the_pushes_one_flush)
{
	struct buf	pending = BUF_INIT;
	int		i;

	out.flush = counting_flush;
	flushes = refuse_flush = 0;
	/* Unbatched: a flush per push. */
	buf_puts(&pending, "data: 0\n\n");
	ck_assert_int_eq(emit_push(&out, &sink, &pending), 0);
	ck_assert_int_eq(flushes, 1);
	/* Batched: the bytes are written at once, the flush waits. */
	ck_assert_int_eq(out_batch(&out, 1), 0);
	for (i = 1; i <= 3; i++) {
		buf_printf(&pending, "data: %d\n\n", i);
		ck_assert_int_eq(emit_push(&out, &sink, &pending), 0);
	}
	ck_assert_int_eq(flushes, 1);
	ck_assert_str_eq(buf_cstr(&raw), "data: 0\n\ndata: 1\n\ndata: 2\n\n"
	    "data: 3\n\n");
	ck_assert_int_eq(out_batch(&out, 0), 0);
	ck_assert_int_eq(flushes, 2);
	/* A batch with nothing pushed flushes nothing. */
	ck_assert_int_eq(out_batch(&out, 1), 0);
	ck_assert_int_eq(out_batch(&out, 0), 0);
	ck_assert_int_eq(flushes, 2);
	/* The batch's flush fails: the client is gone, and stays so. */
	refuse_flush = 1;
	ck_assert_int_eq(out_batch(&out, 1), 0);
	buf_puts(&pending, "data: 4\n\n");
	ck_assert_int_eq(emit_push(&out, &sink, &pending), 0);
	ck_assert_int_eq(out_batch(&out, 0), -1);
	ck_assert_int_eq(out.failed, 1);
	ck_assert_int_eq(out_batch(&out, 1), 0);
	ck_assert_int_eq(out_batch(&out, 0), -1);
	buf_free(&pending);
}
END_TEST

START_TEST(puts_flush_writes_a_keepalive)
{
	ck_assert_int_eq(emit_puts_flush(&out, &sink, ": keep-alive\n\n"), 0);
	ck_assert_str_eq(buf_cstr(&raw), ": keep-alive\n\n");
	ck_assert_int_eq(sink.committed, 1);
	out.failed = 1;
	ck_assert_int_eq(emit_puts_flush(&out, &sink, ": x\n\n"), -1);
}
END_TEST

START_TEST(json_answer_is_a_whole_response)
{
	struct buf	body = BUF_INIT;

	buf_puts(&body, "{\"a\":1}");
	ck_assert_int_eq(emit_json_answer(&out, &sink, &body), 0);
	ck_assert_str_eq(buf_cstr(&raw), "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n"
	    "{\"a\":1}");
	ck_assert_int_eq(sink.committed, 1);
	buf_free(&body);
}
END_TEST

START_TEST(json_response_adds_retry_after_when_positive)
{
	struct buf	body = BUF_INIT;

	buf_puts(&body, "{}");
	ck_assert_int_eq(emit_json_response(&out, 429, &body, 30), 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&raw), "Status: 429 "));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&raw),
	    "\r\nRetry-After: 30\r\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&raw), "\r\n\r\n{}"));
	buf_reset(&raw);
	out_init_buf(&out, &raw);
	ck_assert_int_eq(emit_json_response(&out, 503, &body, 0), 0);
	ck_assert_ptr_null(strstr(buf_cstr(&raw), "Retry-After"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&raw), "Status: 503 "));
	buf_free(&body);
}
END_TEST

/* x-kiro-context (out_context) goes in every head after it, one line. */
START_TEST(context_header_goes_in_the_head)
{
	struct buf	body = BUF_INIT;
	int		sent = 0;

	out_context(&out, "truncated; dropped=3");
	ck_assert_int_eq(emit_stream_head(&out, &sink, &sent,
	    "text/event-stream"), 0);
	ck_assert_str_eq(buf_cstr(&raw), "Status: 200 OK\r\n"
	    "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
	    "X-Accel-Buffering: no\r\nx-kiro-context: truncated; dropped=3"
	    "\r\n\r\n");
	buf_reset(&raw);
	buf_puts(&body, "{}");
	ck_assert_int_eq(emit_json_answer(&out, &sink, &body), 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&raw), "Content-Length: 2\r\n"
	    "x-kiro-context: truncated; dropped=3\r\n\r\n{}"));
	/* None, and never a second line. */
	buf_reset(&raw);
	out_context(&out, NULL);
	ck_assert_int_eq(emit_json_answer(&out, &sink, &body), 0);
	ck_assert_ptr_null(strstr(buf_cstr(&raw), "x-kiro-context"));
	buf_reset(&raw);
	out_context(&out, "a\r\nSet-Cookie: x");
	ck_assert_int_eq(emit_json_answer(&out, &sink, &body), 0);
	ck_assert_ptr_null(strstr(buf_cstr(&raw), "x-kiro-context"));
	ck_assert_ptr_null(strstr(buf_cstr(&raw), "Set-Cookie"));
	buf_free(&body);
}
END_TEST

/*
 * The head, piece by piece: status and reason, type, length, extra lines
 * and the context, in that order, the body counted without it; an extra
 * longer than head_write's stack room (out.c) gives the same bytes.
 */
START_TEST(head_has_every_piece_in_order)
{
	struct buf	 want = BUF_INIT, extra = BUF_INIT;
	char		 context[200];
	size_t		 i;

	memset(context, 'c', sizeof(context) - 1);
	context[sizeof(context) - 1] = '\0';
	out_context(&out, context);	/* cut to out.context's 95 bytes */
	ck_assert_int_eq(out_response(&out, 529, "application/json; x=1",
	    "A: 1\r\nB: 2\r\n", "{}", 2), 0);
	buf_puts(&want, "Status: 529 Overloaded\r\n"
	    "Content-Type: application/json; x=1\r\nContent-Length: 2\r\n"
	    "A: 1\r\nB: 2\r\nx-kiro-context: ");
	buf_append(&want, context, sizeof(out.context) - 1);
	buf_puts(&want, "\r\n\r\n{}");
	ck_assert_str_eq(buf_cstr(&raw), want.ptr);
	ck_assert_uint_eq(out.bytes, 2);
	ck_assert_int_eq(out.status, 529);

	/* No type, no length, an unknown status, 40 extra lines. */
	buf_reset(&raw);
	buf_reset(&want);
	out_init_buf(&out, &raw);
	for (i = 0; i < 40; i++)
		buf_printf(&extra, "X-Long-Header-%02zu: %s\r\n", i,
		    "0123456789abcdef");
	ck_assert_uint_gt(extra.len, 1024);
	ck_assert_int_eq(out_head(&out, 299, NULL, extra.ptr), 0);
	buf_puts(&want, "Status: 299 Status\r\n");
	buf_append(&want, extra.ptr, extra.len);
	buf_puts(&want, "\r\n");
	ck_assert_str_eq(buf_cstr(&raw), want.ptr);
	ck_assert_uint_eq(out.bytes, 0);
	buf_free(&want);
	buf_free(&extra);
}
END_TEST

START_TEST(sink_init_clears_the_rest)
{
	static const struct sink_ops	ops;
	struct sink			s;
	int				arg;

	memset(&s, 0xff, sizeof(s));
	emit_sink_init(&s, &ops, &arg, 1);
	ck_assert_ptr_eq(s.ops, &ops);
	ck_assert_ptr_eq(s.arg, &arg);
	ck_assert_int_eq(s.streams, 1);
	ck_assert_int_eq(s.committed, 0);
	ck_assert_int_eq(s.ping_before_start, 0);
	ck_assert_ptr_null(s.gone);
	emit_sink_init(&s, &ops, &arg, 0);
	ck_assert_int_eq(s.streams, 0);
}
END_TEST

START_TEST(calls_map_open_tool_calls)
{
	struct emit_calls	c;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(emit_calls_get(&c, 0), -1);
	/* Indexes may come out of order; the gaps are not open. */
	emit_calls_set(&c, 2, 7);
	ck_assert_int_eq(emit_calls_get(&c, 2), 7);
	ck_assert_int_eq(emit_calls_get(&c, 0), -1);
	ck_assert_int_eq(emit_calls_get(&c, 1), -1);
	ck_assert_int_eq(emit_calls_get(&c, 3), -1);
	emit_calls_set(&c, 0, 4);
	ck_assert_int_eq(emit_calls_get(&c, 0), 4);
	ck_assert_uint_eq(c.n, 3);
	emit_calls_close(&c, 2);
	ck_assert_int_eq(emit_calls_get(&c, 2), -1);
	emit_calls_close(&c, 99);	/* never opened: nothing happens */
	ck_assert_int_eq(emit_calls_get(&c, 0), 4);
	emit_calls_free(&c);
	ck_assert_ptr_null(c.at);
	ck_assert_uint_eq(c.n, 0);
	ck_assert_int_eq(emit_calls_get(&c, 0), -1);
	emit_calls_set(&c, 0, 1);	/* usable again after free */
	ck_assert_int_eq(emit_calls_get(&c, 0), 1);
	emit_calls_free(&c);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("emit-common");
	TCase	*tc = tcase_create("plumbing");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, head_is_written_once_and_commits);
	tcase_add_test(tc, head_to_a_gone_client_fails_uncommitted);
	tcase_add_test(tc, push_writes_and_empties_the_pending_bytes);
	tcase_add_test(tc, batch_makes_the_pushes_one_flush);
	tcase_add_test(tc, puts_flush_writes_a_keepalive);
	tcase_add_test(tc, json_answer_is_a_whole_response);
	tcase_add_test(tc, json_response_adds_retry_after_when_positive);
	tcase_add_test(tc, calls_map_open_tool_calls);
	tcase_add_test(tc, sink_init_clears_the_rest);
	tcase_add_test(tc, context_header_goes_in_the_head);
	tcase_add_test(tc, head_has_every_piece_in_order);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
