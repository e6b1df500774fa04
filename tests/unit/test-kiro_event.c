/* test-kiro_event.c: unit tests of the Kiro event parser (protocol §5). */
/*
 * Covers: every event type of §5 (text, code, tool use with string, object
 * and array input, continuation frames without name, reasoning, metering,
 * context usage, metadata stop reasons, metrics, the 2026 tokenUsage of
 * messageMetadataEvent and metering's unit, message stop); wrapped
 * payloads; followupPrompt frames ignored; recognised-but-useless and
 * unknown types ignored with their name; exception frames (header,
 * __type, raw text) and error frames; bad JSON and wrong field types giving
 * KF_EUPSTREAM with a cause; flat payloads (read without a json-c tree)
 * and the same wrapped (read from the tree) giving the same event or error
 * for every event type and field type; a huge flat payload followed by
 * small ones; strings outliving the frame; a whole encoded
 * stream through the decoder.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "buf.h"
#include "err.h"
#include "eventstream.h"
#include "kiro_event.h"

static struct es_str
str(const char *s)
{
	struct es_str	v = { s, s == NULL ? 0 : strlen(s) };

	return v;
}

static struct es_frame
event_frame(const char *type, const char *payload)
{
	struct es_frame	f;

	memset(&f, 0, sizeof(f));
	f.message_type = ES_MSG_EVENT;
	f.event_type = str(type);
	f.content_type = str("application/json");
	f.payload = str(payload);
	return f;
}

/* Parses one event frame and expects KF_OK. */
static void
parse_ok(struct kiro_event_parser *kp, const char *type, const char *payload,
    struct kiro_event *ev)
{
	struct es_frame	 f = event_frame(type, payload);
	char		*cause = NULL;
	enum kf_err	 er;

	er = kiro_event_parse(kp, &f, ev, &cause);
	ck_assert_msg(er == KF_OK, "%s %s: %s", type, payload,
	    cause != NULL ? cause : "?");
	ck_assert_ptr_null(cause);
}

/* Parses one event frame, expects KF_EUPSTREAM, returns the cause. */
static char *
parse_bad(struct kiro_event_parser *kp, const char *type, const char *payload)
{
	struct es_frame		 f = event_frame(type, payload);
	struct kiro_event	 ev;
	char			*cause = NULL;

	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, &cause), KF_EUPSTREAM);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_nonnull(strstr(cause, type));
	return cause;
}

START_TEST(assistant_response_is_text)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;

	parse_ok(kp, "assistantResponseEvent", "{\"content\":\"Hello\","
	    "\"conversationId\":\"c1\",\"messageStatus\":\"IN_PROGRESS\"}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_TEXT);
	ck_assert_str_eq(ev.text, "Hello");
	ck_assert_uint_eq(ev.text_len, 5);
	ck_assert_ptr_null(ev.kind);
	ck_assert_ptr_null(ev.tool_use_id);
	ck_assert_ptr_null(ev.signature);

	/* Empty or absent content is an empty delta, still TEXT. */
	parse_ok(kp, "assistantResponseEvent", "{\"content\":\"\"}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_TEXT);
	ck_assert_str_eq(ev.text, "");
	ck_assert_uint_eq(ev.text_len, 0);
	parse_ok(kp, "assistantResponseEvent", "{}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_TEXT);
	ck_assert_uint_eq(ev.text_len, 0);

	/* A NUL inside the text is kept; the length says where it ends. */
	parse_ok(kp, "assistantResponseEvent", "{\"content\":\"a\\u0000b\"}",
	    &ev);
	ck_assert_uint_eq(ev.text_len, 3);
	ck_assert_int_eq(memcmp(ev.text, "a\0b", 4), 0);

	parse_ok(kp, "codeEvent", "{\"content\":\"int x;\"}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_TEXT);
	ck_assert_str_eq(ev.text, "int x;");
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(followup_prompt_ignored)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;

	parse_ok(kp, "assistantResponseEvent", "{\"content\":\"Try this\","
	    "\"followupPrompt\":{\"content\":\"x\",\"userIntent\":\"y\"}}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_IGNORED);
	ck_assert_str_eq(ev.kind, "assistantResponseEvent");
	ck_assert_ptr_null(ev.text);

	/* A null followupPrompt carries nothing. */
	parse_ok(kp, "assistantResponseEvent",
	    "{\"content\":\"ok\",\"followupPrompt\":null}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_TEXT);
	ck_assert_str_eq(ev.text, "ok");
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(tool_use_fragments)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;

	parse_ok(kp, "toolUseEvent", "{\"name\":\"read_file\",\"toolUseId\":"
	    "\"tooluse_AbC\",\"input\":\"\",\"stop\":false}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_TOOL_USE);
	ck_assert_str_eq(ev.tool_name, "read_file");
	ck_assert_str_eq(ev.tool_use_id, "tooluse_AbC");
	ck_assert_str_eq(ev.tool_input, "");
	ck_assert_uint_eq(ev.tool_input_len, 0);
	ck_assert_int_eq(ev.tool_stop, 0);
	ck_assert_ptr_null(ev.text);

	parse_ok(kp, "toolUseEvent", "{\"name\":\"read_file\",\"toolUseId\":"
	    "\"tooluse_AbC\",\"input\":\"{\\\"path\\\":\"}", &ev);
	ck_assert_str_eq(ev.tool_input, "{\"path\":");
	ck_assert_uint_eq(ev.tool_input_len, 8);

	/* The last frame: stop, often with no input. */
	parse_ok(kp, "toolUseEvent", "{\"name\":\"read_file\",\"toolUseId\":"
	    "\"tooluse_AbC\",\"stop\":true}", &ev);
	ck_assert_str_eq(ev.tool_input, "");
	ck_assert_int_eq(ev.tool_stop, 1);

	/* Continuation frames without a name (AIC). */
	parse_ok(kp, "toolUseEvent", "{\"toolUseId\":\"t2\",\"input\":\"1}\"}",
	    &ev);
	ck_assert_ptr_null(ev.tool_name);
	ck_assert_str_eq(ev.tool_use_id, "t2");
	ck_assert_str_eq(ev.tool_input, "1}");
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(tool_use_object_input)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;

	parse_ok(kp, "toolUseEvent", "{\"name\":\"n\",\"toolUseId\":\"t\","
	    "\"input\": { \"path\" : \"/tmp/a.txt\", \"n\": [1, 2.5, null] },"
	    "\"stop\":true}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_TOOL_USE);
	ck_assert_str_eq(ev.tool_input,
	    "{\"path\":\"/tmp/a.txt\",\"n\":[1,2.5,null]}");
	ck_assert_uint_eq(ev.tool_input_len, strlen(ev.tool_input));
	ck_assert_int_eq(ev.tool_stop, 1);

	parse_ok(kp, "toolUseEvent", "{\"toolUseId\":\"t\",\"input\":[]}", &ev);
	ck_assert_str_eq(ev.tool_input, "[]");
	parse_ok(kp, "toolUseEvent", "{\"toolUseId\":\"t\",\"input\":null}",
	    &ev);
	ck_assert_str_eq(ev.tool_input, "");
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(reasoning)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;

	parse_ok(kp, "reasoningContentEvent",
	    "{\"text\":\"Let me think\",\"signature\":\"c2ln\"}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_REASONING);
	ck_assert_str_eq(ev.text, "Let me think");
	ck_assert_uint_eq(ev.text_len, 12);
	ck_assert_str_eq(ev.signature, "c2ln");

	parse_ok(kp, "reasoningContentEvent", "{\"content\":\"alt\"}", &ev);
	ck_assert_str_eq(ev.text, "alt");
	ck_assert_ptr_null(ev.signature);

	/* A signature-only frame. */
	parse_ok(kp, "reasoningContentEvent", "{\"signature\":\"s\"}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_REASONING);
	ck_assert_uint_eq(ev.text_len, 0);
	ck_assert_str_eq(ev.signature, "s");
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(metering_and_context_usage)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;

	parse_ok(kp, "meteringEvent", "{\"unit\":\"credit\",\"unitPlural\":"
	    "\"credits\",\"usage\":0.0123}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_METERING);
	ck_assert_double_eq_tol(ev.value, 0.0123, 1e-12);

	parse_ok(kp, "contextUsageEvent", "{\"contextUsagePercentage\":1.25}",
	    &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_CONTEXT_USAGE);
	ck_assert_double_eq_tol(ev.value, 1.25, 1e-12);
	ck_assert_ptr_null(ev.kind);

	parse_ok(kp, "contextUsageEvent", "{\"contextUsagePercentage\":100}",
	    &ev);
	ck_assert_double_eq_tol(ev.value, 100.0, 1e-12);

	free(parse_bad(kp, "contextUsageEvent", "{}"));
	free(parse_bad(kp, "contextUsageEvent",
	    "{\"contextUsagePercentage\":\"42\"}"));
	free(parse_bad(kp, "meteringEvent", "{\"usage\":true}"));
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(metadata_stop_reason)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;

	parse_ok(kp, "metadataEvent", "{\"stopReason\":\"max_tokens\"}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_STOP_REASON);
	ck_assert_str_eq(ev.kind, "max_tokens");

	parse_ok(kp, "messageMetadataEvent", "{\"stop_reason\":\"end_turn\"}",
	    &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_STOP_REASON);
	ck_assert_str_eq(ev.kind, "end_turn");

	parse_ok(kp, "metadataEvent",
	    "{\"conversationId\":\"c\",\"utteranceId\":\"u\"}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_IGNORED);
	ck_assert_str_eq(ev.kind, "metadataEvent");
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(metrics)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;

	parse_ok(kp, "metricsEvent", "{\"inputTokens\":1200,\"outputTokens\":"
	    "34,\"totalTokens\":1234}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_METRICS);
	ck_assert_int_eq(ev.input_tokens, 1200);
	ck_assert_int_eq(ev.output_tokens, 34);

	parse_ok(kp, "metricsEvent", "{\"outputTokens\":7}", &ev);
	ck_assert_int_eq(ev.input_tokens, -1);
	ck_assert_int_eq(ev.output_tokens, 7);

	parse_ok(kp, "metricsEvent", "{}", &ev);
	ck_assert_int_eq(ev.input_tokens, -1);
	ck_assert_int_eq(ev.output_tokens, -1);

	free(parse_bad(kp, "metricsEvent", "{\"inputTokens\":\"5\"}"));
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(token_usage)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;

	/* doc/protocol.md §12: the 2026 messageMetadataEvent. */
	parse_ok(kp, "messageMetadataEvent", "{\"tokenUsage\":{"
	    "\"outputTokens\":12,\"totalTokens\":112,"
	    "\"uncachedInputTokens\":60,\"cacheReadInputTokens\":40,"
	    "\"cacheWriteInputTokens\":0,\"contextUsagePercentage\":1.5}}",
	    &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_TOKEN_USAGE);
	ck_assert_int_eq(ev.usage.output_tokens, 12);
	ck_assert_int_eq(ev.usage.total_tokens, 112);
	ck_assert_int_eq(ev.usage.uncached_input_tokens, 60);
	ck_assert_int_eq(ev.usage.cache_read_input_tokens, 40);
	ck_assert_int_eq(ev.usage.cache_write_input_tokens, 0);
	ck_assert_double_eq_tol(ev.usage.context_pct, 1.5, 1e-12);
	ck_assert_ptr_null(ev.kind);

	/* Absent figures are -1; a stop reason beside them is kept. */
	parse_ok(kp, "messageMetadataEvent", "{\"stopReason\":\"max_tokens\","
	    "\"tokenUsage\":{\"outputTokens\":5}}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_TOKEN_USAGE);
	ck_assert_str_eq(ev.kind, "max_tokens");
	ck_assert_int_eq(ev.usage.output_tokens, 5);
	ck_assert_int_eq(ev.usage.total_tokens, -1);
	ck_assert_int_eq(ev.usage.uncached_input_tokens, -1);
	ck_assert_int_eq(ev.usage.cache_read_input_tokens, -1);
	ck_assert_int_eq(ev.usage.cache_write_input_tokens, -1);
	ck_assert(ev.usage.context_pct < 0);

	/* Negative counts are not counts; 40.0 is one. */
	parse_ok(kp, "messageMetadataEvent", "{\"tokenUsage\":{"
	    "\"outputTokens\":-3,\"cacheReadInputTokens\":40.0}}", &ev);
	ck_assert_int_eq(ev.usage.output_tokens, -1);
	ck_assert_int_eq(ev.usage.cache_read_input_tokens, 40);
	free(parse_bad(kp, "messageMetadataEvent",
	    "{\"tokenUsage\":{\"cacheReadInputTokens\":1e300}}"));

	free(parse_bad(kp, "messageMetadataEvent",
	    "{\"tokenUsage\":{\"outputTokens\":\"12\"}}"));
	free(parse_bad(kp, "messageMetadataEvent", "{\"tokenUsage\":[1]}"));
	free(parse_bad(kp, "messageMetadataEvent",
	    "{\"tokenUsage\":{\"contextUsagePercentage\":\"x\"}}"));
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(metering_unit)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;

	/* The 2026 form: {unit, usage} without unitPlural. */
	parse_ok(kp, "meteringEvent", "{\"unit\":\"credit\",\"usage\":0.42}",
	    &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_METERING);
	ck_assert_double_eq_tol(ev.value, 0.42, 1e-12);
	ck_assert_str_eq(ev.kind, "credit");
	parse_ok(kp, "meteringEvent", "{\"usage\":1}", &ev);
	ck_assert_ptr_null(ev.kind);
	ck_assert_double_eq_tol(ev.value, 1.0, 1e-12);
	free(parse_bad(kp, "meteringEvent", "{\"usage\":-1}"));
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(message_stop)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;

	parse_ok(kp, "messageStopEvent", "", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_END);
	parse_ok(kp, "messageStopEvent", "{}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_END);
	ck_assert_ptr_null(ev.kind);
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(wrapped_payloads)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;

	parse_ok(kp, "assistantResponseEvent",
	    "{\"assistantResponseEvent\":{\"content\":\"Hi\"}}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_TEXT);
	ck_assert_str_eq(ev.text, "Hi");

	parse_ok(kp, "toolUseEvent", "{\"toolUseEvent\":{\"name\":\"x\","
	    "\"toolUseId\":\"t\",\"input\":\"{}\",\"stop\":true}}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_TOOL_USE);
	ck_assert_str_eq(ev.tool_name, "x");
	ck_assert_int_eq(ev.tool_stop, 1);

	parse_ok(kp, "contextUsageEvent", "{\"contextUsageEvent\":"
	    "{\"contextUsagePercentage\":3}}", &ev);
	ck_assert_double_eq_tol(ev.value, 3.0, 1e-12);

	/* Only a key equal to the event type unwraps. */
	parse_ok(kp, "assistantResponseEvent",
	    "{\"codeEvent\":{\"content\":\"no\"}}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_TEXT);
	ck_assert_uint_eq(ev.text_len, 0);
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(ignored_types)
{
	static const char *const	 types[] = { "codeReferenceEvent",
	    "followupPromptEvent", "supplementaryWebLinksEvent",
	    "invalidStateEvent", "brandNewEvent" };
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;
	size_t				 i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		parse_ok(kp, types[i], "{\"references\":[]}", &ev);
		ck_assert_int_eq(ev.type, KIRO_EV_IGNORED);
		ck_assert_str_eq(ev.kind, types[i]);
		/* Their payload is not even read. */
		parse_ok(kp, types[i], "not json", &ev);
		ck_assert_int_eq(ev.type, KIRO_EV_IGNORED);
	}
	/* No :event-type at all. */
	parse_ok(kp, NULL, "{}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_IGNORED);
	ck_assert_str_eq(ev.kind, "");
	kiro_event_parser_free(kp);
}
END_TEST

/*
 * The event types are found by length and bytes: each one is recognised,
 * and names one byte off (changed, cut, longer, another case) are
 * IGNORED with their own name, also right after a recognised frame
 * (the kind is copied only when asked for).
 */
START_TEST(event_type_names_exact)
{
	static const struct {
		const char		*name;
		const char		*payload;
		enum kiro_event_type	 type;
	} known[] = {
		{ "assistantResponseEvent", "{\"content\":\"a\"}",
		    KIRO_EV_TEXT },
		{ "codeEvent", "{\"content\":\"a\"}", KIRO_EV_TEXT },
		{ "toolUseEvent", "{\"toolUseId\":\"t\",\"name\":\"n\"}",
		    KIRO_EV_TOOL_USE },
		{ "reasoningContentEvent", "{\"text\":\"r\"}",
		    KIRO_EV_REASONING },
		{ "meteringEvent", "{\"usage\":1}", KIRO_EV_METERING },
		{ "contextUsageEvent", "{\"contextUsagePercentage\":2}",
		    KIRO_EV_CONTEXT_USAGE },
		{ "metadataEvent", "{\"stopReason\":\"x\"}",
		    KIRO_EV_STOP_REASON },
		{ "messageMetadataEvent", "{\"stopReason\":\"x\"}",
		    KIRO_EV_STOP_REASON },
		{ "metricsEvent", "{\"inputTokens\":1}", KIRO_EV_METRICS },
		{ "messageStopEvent", "", KIRO_EV_END },
	};
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;
	char				 near[64];
	size_t				 i, len;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		parse_ok(kp, known[i].name, known[i].payload, &ev);
		ck_assert_msg(ev.type == known[i].type, "%s", known[i].name);
		len = strlen(known[i].name);
		ck_assert_uint_lt(len + 2, sizeof(near));

		memcpy(near, known[i].name, len + 1);
		near[len - 1] = 'X';		/* last byte changed */
		parse_ok(kp, near, known[i].payload, &ev);
		ck_assert_int_eq(ev.type, KIRO_EV_IGNORED);
		ck_assert_str_eq(ev.kind, near);

		near[0] ^= 0x20;		/* the first's case */
		near[len - 1] = known[i].name[len - 1];
		parse_ok(kp, near, known[i].payload, &ev);
		ck_assert_int_eq(ev.type, KIRO_EV_IGNORED);
		ck_assert_str_eq(ev.kind, near);

		memcpy(near, known[i].name, len + 1);
		near[len - 1] = '\0';			/* cut */
		parse_ok(kp, near, known[i].payload, &ev);
		ck_assert_int_eq(ev.type, KIRO_EV_IGNORED);
		ck_assert_str_eq(ev.kind, near);

		memcpy(near, known[i].name, len);
		memcpy(near + len, "s", 2);		/* longer */
		parse_ok(kp, near, known[i].payload, &ev);
		ck_assert_int_eq(ev.type, KIRO_EV_IGNORED);
		ck_assert_str_eq(ev.kind, near);
	}
	/* metadata with nothing in it names its own type. */
	parse_ok(kp, "assistantResponseEvent", "{\"content\":\"a\"}", &ev);
	parse_ok(kp, "messageMetadataEvent", "{\"other\":1}", &ev);
	ck_assert_int_eq(ev.type, KIRO_EV_IGNORED);
	ck_assert_str_eq(ev.kind, "messageMetadataEvent");
	parse_ok(kp, "metadataEvent", "{\"other\":1}", &ev);
	ck_assert_str_eq(ev.kind, "metadataEvent");
	kiro_event_parser_free(kp);
}
END_TEST

/*
 * A parser reset between streams (the relay keeps one per thread) reads
 * the next stream as a new one would: a tree, a serialised input and a
 * copied kind are released, and nothing of the old frame shows.
 */
START_TEST(reset_parser_reads_like_a_new_one)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;
	int				 round;

	for (round = 0; round < 3; round++) {
		parse_ok(kp, "toolUseEvent", "{\"toolUseId\":\"t1\","
		    "\"name\":\"n\",\"input\":{\"a\":[1,2]},\"x\":{}}", &ev);
		ck_assert_int_eq(ev.type, KIRO_EV_TOOL_USE);
		ck_assert_str_eq(ev.tool_input, "{\"a\":[1,2]}");
		parse_ok(kp, "brandNewEvent", "{}", &ev);
		ck_assert_str_eq(ev.kind, "brandNewEvent");
		kiro_event_parser_reset(kp);
		parse_ok(kp, "assistantResponseEvent", "{\"content\":\"hi\"}",
		    &ev);
		ck_assert_int_eq(ev.type, KIRO_EV_TEXT);
		ck_assert_str_eq(ev.text, "hi");
		parse_ok(kp, "otherEvent", "{}", &ev);
		ck_assert_str_eq(ev.kind, "otherEvent");
		kiro_event_parser_reset(kp);
	}
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(exception_frames)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;
	struct es_frame			 f;

	memset(&f, 0, sizeof(f));
	f.message_type = ES_MSG_EXCEPTION;
	f.exception_type = str("ThrottlingException");
	f.payload = str("{\"message\":\"Too many requests\"}");
	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, NULL), KF_OK);
	ck_assert_int_eq(ev.type, KIRO_EV_EXCEPTION);
	ck_assert_str_eq(ev.kind, "ThrottlingException");
	ck_assert_str_eq(ev.text, "Too many requests");
	ck_assert_uint_eq(ev.text_len, 17);

	/* K2A style: __type (namespace cut off) and Message. */
	f.exception_type = str(NULL);
	f.payload = str("{\"__type\":\"com.amazon.coral.service#"
	    "ValidationException\",\"Message\":\"Improperly formed request.\"}");
	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, NULL), KF_OK);
	ck_assert_str_eq(ev.kind, "ValidationException");
	ck_assert_str_eq(ev.text, "Improperly formed request.");

	/* Raw text. */
	f.payload = str("Service unavailable");
	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, NULL), KF_OK);
	ck_assert_int_eq(ev.type, KIRO_EV_EXCEPTION);
	ck_assert_str_eq(ev.kind, "UnknownException");
	ck_assert_str_eq(ev.text, "Service unavailable");

	/* A JSON object without a message: the payload text. */
	f.exception_type = str("ContentLengthExceededException");
	f.payload = str("{\"reason\":\"x\"}");
	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, NULL), KF_OK);
	ck_assert_str_eq(ev.kind, "ContentLengthExceededException");
	ck_assert_str_eq(ev.text, "{\"reason\":\"x\"}");

	/* A JSON string payload is not an object: raw text too. */
	f.payload = str("\"quoted\"");
	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, NULL), KF_OK);
	ck_assert_str_eq(ev.text, "\"quoted\"");
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(error_frames)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;
	struct es_frame			 f;

	memset(&f, 0, sizeof(f));
	f.message_type = ES_MSG_ERROR;
	f.error_code = str("InternalFailure");
	f.error_message = str("it broke");
	f.payload = str("{\"ignored\":1}");
	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, NULL), KF_OK);
	ck_assert_int_eq(ev.type, KIRO_EV_ERROR);
	ck_assert_str_eq(ev.kind, "InternalFailure");
	ck_assert_str_eq(ev.text, "it broke");
	ck_assert_uint_eq(ev.text_len, 8);

	f.error_message = str(NULL);
	f.payload = str("payload text");
	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, NULL), KF_OK);
	ck_assert_str_eq(ev.text, "payload text");

	f.error_code = str(NULL);
	f.payload = str("");
	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, NULL), KF_OK);
	ck_assert_str_eq(ev.kind, "UnknownError");
	ck_assert_str_eq(ev.text, "");

	/* Some other message type. */
	f.message_type = ES_MSG_OTHER;
	f.event_type = str("x");
	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, NULL), KF_OK);
	ck_assert_int_eq(ev.type, KIRO_EV_IGNORED);
	ck_assert_str_eq(ev.kind, "x");
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(bad_json_is_upstream_error)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;
	struct es_frame			 f;
	char				*cause;

	cause = parse_bad(kp, "assistantResponseEvent", "{\"content\":");
	ck_assert_ptr_nonnull(strstr(cause, "JSON"));
	free(cause);
	cause = parse_bad(kp, "assistantResponseEvent", "[1,2]");
	ck_assert_ptr_nonnull(strstr(cause, "not an object"));
	free(cause);
	free(parse_bad(kp, "assistantResponseEvent", ""));
	free(parse_bad(kp, "assistantResponseEvent", "null"));
	free(parse_bad(kp, "assistantResponseEvent", "{} {}"));
	free(parse_bad(kp, "assistantResponseEvent", "{\"content\":42}"));
	free(parse_bad(kp, "codeEvent", "{\"content\":[]}"));
	free(parse_bad(kp, "toolUseEvent", "{\"name\":\"n\"}"));
	free(parse_bad(kp, "toolUseEvent", "{\"toolUseId\":5}"));
	free(parse_bad(kp, "toolUseEvent", "{\"toolUseId\":\"t\",\"name\":1}"));
	free(parse_bad(kp, "toolUseEvent", "{\"toolUseId\":\"t\",\"stop\":1}"));
	free(parse_bad(kp, "reasoningContentEvent", "{\"text\":{}}"));
	free(parse_bad(kp, "reasoningContentEvent", "{\"signature\":0}"));
	free(parse_bad(kp, "meteringEvent", "{\"usage\":\"0.1\""));

	/* A NULL cause is fine. */
	f = event_frame("toolUseEvent", "{");
	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, NULL), KF_EUPSTREAM);

	/* The parser is still good after errors. */
	parse_ok(kp, "assistantResponseEvent", "{\"content\":\"ok\"}", &ev);
	ck_assert_str_eq(ev.text, "ok");
	kiro_event_parser_free(kp);
}
END_TEST

START_TEST(strings_outlive_the_frame)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;
	struct es_frame			 f;
	char				*type, *payload, *code;

	type = strdup("brandNewEvent");
	payload = strdup("{}");
	f = event_frame(type, payload);
	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, NULL), KF_OK);
	memset(type, 'X', strlen(type));
	free(type);
	free(payload);
	ck_assert_str_eq(ev.kind, "brandNewEvent");

	type = strdup("assistantResponseEvent");
	payload = strdup("{\"content\":\"kept\"}");
	f = event_frame(type, payload);
	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, NULL), KF_OK);
	memset(payload, 'X', strlen(payload));
	free(type);
	free(payload);
	ck_assert_str_eq(ev.text, "kept");

	memset(&f, 0, sizeof(f));
	f.message_type = ES_MSG_ERROR;
	code = strdup("Code");
	payload = strdup("raw message");
	f.error_code = str(code);
	f.payload = str(payload);
	ck_assert_int_eq(kiro_event_parse(kp, &f, &ev, NULL), KF_OK);
	free(code);
	free(payload);
	ck_assert_str_eq(ev.kind, "Code");
	ck_assert_str_eq(ev.text, "raw message");
	kiro_event_parser_free(kp);
}
END_TEST

/* Collects a transcript of every event the decoder and parser produce. */
struct collect {
	struct kiro_event_parser	*kp;
	struct buf			 log;
	size_t				 n_errors;
};

static int
collect_frame(void *arg, const struct es_frame *f)
{
	struct collect		*c = arg;
	struct kiro_event	 ev;
	char			*cause = NULL;

	if (kiro_event_parse(c->kp, f, &ev, &cause) != KF_OK) {
		c->n_errors++;
		free(cause);
		return 0;
	}
	buf_printf(&c->log, "%s", kiro_event_type_name(ev.type));
	if (ev.text != NULL)
		buf_printf(&c->log, " text=%.*s", (int)ev.text_len, ev.text);
	if (ev.tool_use_id != NULL)
		buf_printf(&c->log, " id=%s name=%s input=%s stop=%d",
		    ev.tool_use_id, ev.tool_name != NULL ? ev.tool_name : "-",
		    ev.tool_input, ev.tool_stop);
	if (ev.kind != NULL)
		buf_printf(&c->log, " kind=%s", ev.kind);
	if (ev.type == KIRO_EV_METERING || ev.type == KIRO_EV_CONTEXT_USAGE)
		buf_printf(&c->log, " value=%g", ev.value);
	buf_putc(&c->log, '\n');
	return 0;
}

START_TEST(decoded_stream)
{
	const char *const	 n[] = { ":message-type", ":exception-type" };
	const char *const	 v[] = { "exception", "ThrottlingException" };
	struct buf		 b = BUF_INIT;
	struct collect		 c;
	struct es_decoder	*d;

	es_encode_event(&b, "assistantResponseEvent", "{\"content\":\"Hello\"}");
	es_encode_event(&b, "assistantResponseEvent",
	    "{\"content\":\", world!\"}");
	es_encode_event(&b, "toolUseEvent", "{\"name\":\"read_file\","
	    "\"toolUseId\":\"tu1\",\"input\":\"\",\"stop\":false}");
	es_encode_event(&b, "toolUseEvent", "{\"name\":\"read_file\","
	    "\"toolUseId\":\"tu1\",\"input\":\"{\\\"path\\\":\\\"/a\\\"}\","
	    "\"stop\":false}");
	es_encode_event(&b, "toolUseEvent", "{\"name\":\"read_file\","
	    "\"toolUseId\":\"tu1\",\"stop\":true}");
	es_encode_event(&b, "assistantResponseEvent", "{\"content\":");
	es_encode_event(&b, "meteringEvent", "{\"unit\":\"credit\","
	    "\"unitPlural\":\"credits\",\"usage\":0.0123}");
	es_encode_event(&b, "contextUsageEvent",
	    "{\"contextUsagePercentage\":1.25}");
	es_encode(&b, n, v, 2, "{\"message\":\"Too many requests\"}", 31);

	memset(&c, 0, sizeof(c));
	c.kp = kiro_event_parser_new();
	d = es_decoder_new(collect_frame, &c);
	ck_assert_int_eq(es_decoder_feed(d, b.ptr, b.len), ES_OK);
	ck_assert_uint_eq(c.n_errors, 1);
	ck_assert_str_eq(c.log.ptr,
	    "text text=Hello\n"
	    "text text=, world!\n"
	    "tool_use id=tu1 name=read_file input= stop=0\n"
	    "tool_use id=tu1 name=read_file input={\"path\":\"/a\"} stop=0\n"
	    "tool_use id=tu1 name=read_file input= stop=1\n"
	    "metering kind=credit value=0.0123\n"
	    "context_usage value=1.25\n"
	    "exception text=Too many requests kind=ThrottlingException\n");
	es_decoder_free(d);
	kiro_event_parser_free(c.kp);
	buf_free(&c.log);
	buf_free(&b);
}
END_TEST

START_TEST(type_names)
{
	ck_assert_str_eq(kiro_event_type_name(KIRO_EV_TEXT), "text");
	ck_assert_str_eq(kiro_event_type_name(KIRO_EV_IGNORED), "ignored");
	ck_assert_str_eq(kiro_event_type_name(KIRO_EV__MAX), "unknown");
	kiro_event_parser_free(NULL);
}
END_TEST

/* One event as text, every field, so two parses can be compared. */
static void
describe(struct buf *b, enum kf_err er, const struct kiro_event *ev,
    const char *cause)
{
	buf_printf(b, "er=%d type=%d len=%zu/%zu stop=%d v=%.17g in=%ld "
	    "out=%ld u=%ld,%ld,%ld,%ld,%ld,%.17g cause=%s", er, ev->type,
	    ev->text_len, ev->tool_input_len, ev->tool_stop, ev->value,
	    ev->input_tokens, ev->output_tokens, ev->usage.output_tokens,
	    ev->usage.total_tokens, ev->usage.uncached_input_tokens,
	    ev->usage.cache_read_input_tokens,
	    ev->usage.cache_write_input_tokens, ev->usage.context_pct,
	    cause != NULL ? cause : "-");
	buf_puts(b, " text=");
	if (ev->text != NULL)
		buf_append(b, ev->text, ev->text_len + 1);
	buf_printf(b, " input=");
	if (ev->tool_input != NULL)
		buf_append(b, ev->tool_input, ev->tool_input_len + 1);
	buf_printf(b, " id=%s name=%s sig=%s kind=%s",
	    ev->tool_use_id != NULL ? ev->tool_use_id : "(null)",
	    ev->tool_name != NULL ? ev->tool_name : "(null)",
	    ev->signature != NULL ? ev->signature : "(null)",
	    ev->kind != NULL ? ev->kind : "(null)");
}

/*
 * Flat payloads are read without a json-c tree; the same payload wrapped
 * as {"<eventType>":{...}} goes through the tree.  Both must give the same
 * event, or the same error, for every field type and awkward value.
 */
START_TEST(flat_and_tree_payloads_agree)
{
	static const char *const types[] = {
		"assistantResponseEvent", "codeEvent", "toolUseEvent",
		"reasoningContentEvent", "meteringEvent", "contextUsageEvent",
		"metadataEvent", "messageMetadataEvent", "metricsEvent",
	};
	static const char *const bodies[] = {
		"", "\"content\":\"Hi \\\"there\\\"\\n\\u00e9\\ud83d\\ude00\"",
		"\"content\":\"a\\u0000b\"", "\"content\":null",
		"\"content\":5", "\"content\":true", "\"content\":\"x\","
		    "\"content\":\"y\"", "\"content\":\"x\",\"followupPrompt\":"
		    "\"p\"", "\"content\":\"x\",\"followupPrompt\":null",
		"\"toolUseId\":\"t1\",\"name\":\"Read\",\"input\":\"{\\\"a\\\"\","
		    "\"stop\":false", "\"toolUseId\":\"t1\",\"stop\":true",
		"\"toolUseId\":\"t1\",\"input\":null,\"stop\":1",
		"\"toolUseId\":\"t1\",\"name\":7", "\"toolUseId\":5",
		"\"toolUseId\":\"t1\",\"input\":12", "\"toolUseId\":\"t1\","
		    "\"input\":1.50", "\"toolUseId\":\"t1\",\"input\":false",
		"\"text\":\"think\",\"signature\":\"sig\"",
		"\"text\":null,\"content\":\"c\"", "\"text\":1",
		"\"signature\":false", "\"unit\":\"credit\",\"usage\":0.01",
		"\"usage\":3", "\"usage\":-1", "\"usage\":\"1\"",
		"\"unit\":2,\"usage\":1", "\"usage\":1e-2",
		"\"contextUsagePercentage\":12.5",
		"\"contextUsagePercentage\":null", "\"stopReason\":\"end_turn\"",
		"\"stop_reason\":\"max_tokens\"", "\"stopReason\":\"\"",
		"\"stopReason\":3", "\"tokenUsage\":4", "\"tokenUsage\":null",
		"\"inputTokens\":10,\"outputTokens\":20",
		"\"inputTokens\":10.0,\"outputTokens\":-3",
		"\"inputTokens\":1.5", "\"inputTokens\":\"10\"",
		"\"inputTokens\":123456789012345678",
		"\"inputTokens\":1e3,\"outputTokens\":-0.0",
	};
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;
	struct es_frame			 f;
	struct buf			 flat = BUF_INIT, tree = BUF_INIT;
	struct buf			 payload = BUF_INIT;
	char				*cause;
	enum kf_err			 er;
	size_t				 t, i;

	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
			buf_reset(&flat);
			buf_reset(&tree);
			buf_reset(&payload);
			buf_printf(&payload, "{%s}", bodies[i]);
			f = event_frame(types[t], payload.ptr);
			cause = NULL;
			er = kiro_event_parse(kp, &f, &ev, &cause);
			describe(&flat, er, &ev, cause);
			free(cause);

			/* Wrapped: the tree path, unwrapped to the same. */
			buf_reset(&payload);
			buf_printf(&payload, "{\"%s\":{%s}}", types[t],
			    bodies[i]);
			f = event_frame(types[t], payload.ptr);
			cause = NULL;
			er = kiro_event_parse(kp, &f, &ev, &cause);
			describe(&tree, er, &ev, cause);
			free(cause);
			ck_assert_msg(flat.len == tree.len && memcmp(flat.ptr,
			    tree.ptr, flat.len) == 0, "%s {%s}:\n%s\nvs tree\n%s",
			    types[t], bodies[i], flat.ptr, tree.ptr);
		}
	buf_free(&flat);
	buf_free(&tree);
	buf_free(&payload);
	kiro_event_parser_free(kp);
}
END_TEST

/* A huge flat payload, then small ones: the arena is let go, not reused. */
START_TEST(huge_flat_payload_then_small)
{
	struct kiro_event_parser	*kp = kiro_event_parser_new();
	struct kiro_event		 ev;
	struct buf			 payload = BUF_INIT;
	size_t				 i;

	buf_puts(&payload, "{\"content\":\"");
	for (i = 0; i < 100000; i++)
		buf_putc(&payload, (char)('a' + i % 26));
	buf_puts(&payload, "\"}");
	parse_ok(kp, "assistantResponseEvent", payload.ptr, &ev);
	ck_assert_uint_eq(ev.text_len, 100000);
	ck_assert_int_eq(ev.text[99999], 'a' + 99999 % 26);
	parse_ok(kp, "assistantResponseEvent", "{\"content\":\"small\"}", &ev);
	ck_assert_str_eq(ev.text, "small");
	parse_ok(kp, "codeEvent", "{\"content\":\"again\"}", &ev);
	ck_assert_str_eq(ev.text, "again");
	buf_free(&payload);
	kiro_event_parser_free(kp);
}
END_TEST

static Suite *
kiro_event_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("kiro_event");
	tc = tcase_create("core");
	tcase_add_test(tc, assistant_response_is_text);
	tcase_add_test(tc, followup_prompt_ignored);
	tcase_add_test(tc, tool_use_fragments);
	tcase_add_test(tc, tool_use_object_input);
	tcase_add_test(tc, reasoning);
	tcase_add_test(tc, metering_and_context_usage);
	tcase_add_test(tc, metadata_stop_reason);
	tcase_add_test(tc, metrics);
	tcase_add_test(tc, token_usage);
	tcase_add_test(tc, metering_unit);
	tcase_add_test(tc, message_stop);
	tcase_add_test(tc, wrapped_payloads);
	tcase_add_test(tc, flat_and_tree_payloads_agree);
	tcase_add_test(tc, huge_flat_payload_then_small);
	tcase_add_test(tc, ignored_types);
	tcase_add_test(tc, event_type_names_exact);
	tcase_add_test(tc, reset_parser_reads_like_a_new_one);
	tcase_add_test(tc, exception_frames);
	tcase_add_test(tc, error_frames);
	tcase_add_test(tc, bad_json_is_upstream_error);
	tcase_add_test(tc, strings_outlive_the_frame);
	tcase_add_test(tc, decoded_stream);
	tcase_add_test(tc, type_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(kiro_event_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
