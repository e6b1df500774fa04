/* test-preflight.c: the pre-flight check of Kiro bodies (doc/protocol.md §3.5). */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "anthropic.h"
#include "buf.h"
#include "conv.h"
#include "err.h"
#include "gemini.h"
#include "history.h"
#include "kiro_req.h"
#include "openai-chat.h"
#include "openai-responses.h"
#include "preflight.h"
#include "xmalloc.h"

#include "testutil.h"

/*
 * Covers preflight_check: one body breaking each rule of preflight.h
 * (alternation, tool pairing, empty content, tool defined, tool count,
 * name, description, schema, input, images, body size, history length,
 * shape), bodies kiro_req_build makes from repaired conversations passing,
 * and the client's path in the cause for conversations from the four
 * parsers (conv_src).
 */

/* String literals joined by commas: JOIN("a", "b") is "a" "," "b". */
#define J1(a)			a
#define J2(a, b)		a "," b
#define J3(a, b, c)		a "," J2(b, c)
#define J4(a, b, c, d)		a "," J3(b, c, d)
#define J5(a, b, c, d, e)	a "," J4(b, c, d, e)
#define J6(a, b, c, d, e, f)	a "," J5(b, c, d, e, f)
#define JOIN_N(_1, _2, _3, _4, _5, _6, n, ...)	n
#define JOIN(...)	JOIN_N(__VA_ARGS__, J6, J5, J4, J3, J2, J1)(__VA_ARGS__)

#define HEAD	"{\"conversationState\":{\"chatTriggerType\":\"MANUAL\"," \
		"\"conversationId\":\"c\","
#define UM(c)	"{\"content\":\"" c "\",\"modelId\":\"m\",\"origin\":\"AI_EDITOR\""
#define U(c)	"{\"userInputMessage\":" UM(c) "}}"
#define UR(c, results)	"{\"userInputMessage\":" UM(c) \
		",\"userInputMessageContext\":{\"toolResults\":[" results "]}}}"
#define A(c)	"{\"assistantResponseMessage\":{\"content\":\"" c "\"}}"
#define AU(c, uses)	"{\"assistantResponseMessage\":{\"content\":\"" c \
		"\",\"toolUses\":[" uses "]}}"
#define USE(id, name)	"{\"toolUseId\":\"" id "\",\"name\":\"" name \
		"\",\"input\":{}}"
#define RES(id)	"{\"toolUseId\":\"" id "\",\"content\":[{\"text\":\"r\"}]," \
		"\"status\":\"success\"}"
#define HIST(...)	"\"history\":[" JOIN(__VA_ARGS__) "],"
#define CUR(c, ctx)	"\"currentMessage\":{\"userInputMessage\":" UM(c) \
		",\"userInputMessageContext\":{" ctx "}}}}}"
#define SCHEMA	"{\"type\":\"object\",\"properties\":{},\"required\":[]}"
#define TOOL(name, desc, schema)	"{\"toolSpecification\":{\"name\":\"" \
		name "\",\"description\":\"" desc "\",\"inputSchema\":{\"json\":" \
		schema "}}}"
#define TOOLS(...)	"\"tools\":[" JOIN(__VA_ARGS__) "]"
#define PNG	"iVBORw0KGgo="

/* Checks body; want PREFLIGHT_OK, or the rule broken with text in cause. */
static void
expect(const char *body, const struct conv *conv,
    const struct preflight_limits *lim, enum preflight_rule want,
    const char *text)
{
	enum preflight_rule	 rule = PREFLIGHT__MAX;
	char			*cause = NULL;
	enum kf_err		 er;

	er = preflight_check(body, strlen(body), conv, lim, &rule, &cause);
	ck_assert_msg(rule == want, "rule %s, want %s (%s) for %s",
	    preflight_rule_name(rule), preflight_rule_name(want),
	    cause != NULL ? cause : "no cause", body);
	if (want == PREFLIGHT_OK)
		ck_assert_int_eq(er, KF_OK);
	else {
		ck_assert(er == KF_EINVAL || er == KF_ECONTEXT);
		ck_assert_ptr_nonnull(cause);
		ck_assert_msg(strstr(cause, preflight_rule_name(want)) != NULL,
		    "cause %s names no rule", cause);
		if (text != NULL)
			ck_assert_msg(strstr(cause, text) != NULL,
			    "cause \"%s\" lacks \"%s\"", cause, text);
	}
	free(cause);
}

static void
expect_rule(const char *body, enum preflight_rule want, const char *text)
{
	expect(body, NULL, NULL, want, text);
}

START_TEST(preflight_passes_a_well_formed_body)
{
	expect_rule(HEAD HIST(U("sys"), A("ok"), U("hi"),
	    AU(" ", USE("t1", "Bash")), UR("x", RES("t1")),
	    AU("done", USE("t2", "bash"))) CUR("go", "\"toolResults\":["
	    RES("t2") "]," TOOLS(TOOL("Bash", "Runs", SCHEMA))),
	    PREFLIGHT_OK, NULL);
	expect_rule(HEAD CUR("hi", ""), PREFLIGHT_OK, NULL);
}
END_TEST

START_TEST(preflight_alternation)
{
	expect_rule(HEAD HIST(A("a"), U("u"), A("b")) CUR("hi", ""),
	    PREFLIGHT_ALTERNATION, "history[0]: history must start with a "
	    "user message");
	expect_rule(HEAD HIST(U("a"), U("b"), A("c")) CUR("hi", ""),
	    PREFLIGHT_ALTERNATION, "history[1]: two user messages in a row");
	expect_rule(HEAD HIST(U("a"), A("b"), A("c")) CUR("hi", ""),
	    PREFLIGHT_ALTERNATION, "two assistant messages");
	expect_rule(HEAD HIST(U("a"), A("b"), U("c")) CUR("hi", ""),
	    PREFLIGHT_ALTERNATION, "end with an assistant message");
	/* cachePoints between messages are not messages. */
	expect_rule(HEAD HIST(U("a"), "{\"cachePoint\":{\"type\":\"default\"}}",
	    A("b")) CUR("hi", ""), PREFLIGHT_OK, NULL);
}
END_TEST

START_TEST(preflight_tool_pairing)
{
	/* A use the next user message does not answer. */
	expect_rule(HEAD HIST(U("a"), AU(" ", USE("t1", "Bash")), U("b"),
	    A("c")) CUR("hi", TOOLS(TOOL("Bash", "d", SCHEMA))),
	    PREFLIGHT_TOOL_PAIRING, "history[1]: tool use t1 is not answered");
	/* Unanswered by the current message. */
	expect_rule(HEAD HIST(U("a"), AU(" ", USE("t1", "Bash"))) CUR("hi",
	    TOOLS(TOOL("Bash", "d", SCHEMA))), PREFLIGHT_TOOL_PAIRING,
	    "tool use t1 is not answered");
	/* An orphan result. */
	expect_rule(HEAD HIST(U("a"), A("b")) CUR("hi", "\"toolResults\":["
	    RES("tx") "]"), PREFLIGHT_TOOL_PAIRING, "currentMessage: tool "
	    "result for tx has no matching tool use");
	/* A result answering an older turn. */
	expect_rule(HEAD HIST(U("a"), AU(" ", USE("t1", "Bash")),
	    UR("r", RES("t1")), A("b")) CUR("hi", "\"toolResults\":[" RES("t1")
	    "]," TOOLS(TOOL("Bash", "d", SCHEMA))), PREFLIGHT_TOOL_PAIRING,
	    "tool result for t1 has no matching");
	/* Two results for one use. */
	expect_rule(HEAD HIST(U("a"), AU(" ", USE("t1", "Bash"))) CUR("hi",
	    "\"toolResults\":[" RES("t1") "," RES("t1") "],"
	    TOOLS(TOOL("Bash", "d", SCHEMA))), PREFLIGHT_TOOL_PAIRING,
	    "a second tool result for t1");
	/* One id used twice. */
	expect_rule(HEAD HIST(U("a"), AU(" ", USE("t1", "Bash")),
	    UR("r", RES("t1")), AU(" ", USE("t1", "Bash"))) CUR("hi",
	    "\"toolResults\":[" RES("t1") "]," TOOLS(TOOL("Bash", "d",
	    SCHEMA))), PREFLIGHT_TOOL_PAIRING, "tool use id t1 is used twice");
}
END_TEST

START_TEST(preflight_empty_content)
{
	expect_rule(HEAD HIST(U("a"), A("")) CUR("hi", ""),
	    PREFLIGHT_EMPTY_CONTENT, "history[1]: an assistant message with "
	    "empty content");
	expect_rule(HEAD HIST(U(""), A("b")) CUR("hi", ""),
	    PREFLIGHT_EMPTY_CONTENT, "history[0]: a user message");
	expect_rule(HEAD CUR(" \\n ", ""), PREFLIGHT_EMPTY_CONTENT,
	    "currentMessage: a user message with empty content");
	expect_rule(HEAD HIST(U("a"), AU(" ", USE("t1", "Bash"))) CUR("hi",
	    "\"toolResults\":[{\"toolUseId\":\"t1\",\"content\":[],"
	    "\"status\":\"success\"}]," TOOLS(TOOL("Bash", "d", SCHEMA))),
	    PREFLIGHT_EMPTY_CONTENT, "tool result for t1 has no content");
}
END_TEST

START_TEST(preflight_tool_defined)
{
	expect_rule(HEAD HIST(U("a"), AU(" ", USE("t1", "Read"))) CUR("hi",
	    "\"toolResults\":[" RES("t1") "]," TOOLS(TOOL("Bash", "d",
	    SCHEMA))), PREFLIGHT_TOOL_DEFINED, "tools: tool Read is used in "
	    "the history but not defined");
	expect_rule(HEAD HIST(U("a"), AU(" ", USE("t1", "Read"))) CUR("hi",
	    "\"toolResults\":[" RES("t1") "]"), PREFLIGHT_TOOL_DEFINED, NULL);
}
END_TEST

/* A body with n tools named t0, t1, ... */
static char *
many_tools(size_t n)
{
	struct buf	b = BUF_INIT;
	size_t		i;

	buf_puts(&b, HEAD "\"currentMessage\":{\"userInputMessage\":"
	    UM("hi") ",\"userInputMessageContext\":{\"tools\":[");
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s{\"toolSpecification\":{\"name\":\"t%zu\","
		    "\"description\":\"d\",\"inputSchema\":{\"json\":" SCHEMA
		    "}}}", i > 0 ? "," : "", i);
	buf_puts(&b, "]}}}}}");
	return b.ptr;
}

START_TEST(preflight_tool_count)
{
	char	*body;

	body = many_tools(PREFLIGHT_DEFAULT_MAX_TOOLS);
	expect_rule(body, PREFLIGHT_OK, NULL);
	free(body);
	body = many_tools(PREFLIGHT_DEFAULT_MAX_TOOLS + 1);
	expect_rule(body, PREFLIGHT_TOOL_COUNT, "tools[128]: 129 tools, Kiro "
	    "takes at most 128");
	free(body);
}
END_TEST

START_TEST(preflight_tool_name)
{
	expect_rule(HEAD CUR("hi", TOOLS(TOOL("a234567890123456789012345678"
	    "9012345678901234567890123456789012345", "d", SCHEMA))),
	    PREFLIGHT_TOOL_NAME, "tools[0]: a tool name is 1 to 64 "
	    "characters, not 65");
	expect_rule(HEAD CUR("hi", TOOLS(TOOL("", "d", SCHEMA))),
	    PREFLIGHT_TOOL_NAME, "not 0");
	expect_rule(HEAD CUR("hi", TOOLS(TOOL("mcp.read", "d", SCHEMA))),
	    PREFLIGHT_TOOL_NAME, "tool name mcp.read has characters");
	expect_rule(HEAD CUR("hi", TOOLS(TOOL("Bash", "d", SCHEMA),
	    TOOL("bash", "d", SCHEMA))), PREFLIGHT_TOOL_NAME,
	    "tools[1]: tool bash is defined twice");
}
END_TEST

START_TEST(preflight_tool_description)
{
	struct buf	b = BUF_INIT;
	size_t		i;

	expect_rule(HEAD CUR("hi", TOOLS(TOOL("Bash", " ", SCHEMA))),
	    PREFLIGHT_TOOL_DESCRIPTION, "tool Bash has no description");
	/* Characters, not bytes: 10,240 two-byte characters pass. */
	buf_puts(&b, HEAD CUR("hi", TOOLS(TOOL("Bash", "@", SCHEMA))));
	buf_reset(&b);
	buf_puts(&b, HEAD "\"currentMessage\":{\"userInputMessage\":" UM("hi")
	    ",\"userInputMessageContext\":{\"tools\":[{\"toolSpecification\":"
	    "{\"name\":\"Bash\",\"description\":\"");
	for (i = 0; i < PREFLIGHT_TOOL_DESC_MAX; i++)
		buf_puts(&b, "\xc3\xa9");
	buf_puts(&b, "\",\"inputSchema\":{\"json\":" SCHEMA "}}}]}}}}}");
	expect_rule(b.ptr, PREFLIGHT_OK, NULL);
	buf_reset(&b);
	buf_puts(&b, HEAD "\"currentMessage\":{\"userInputMessage\":" UM("hi")
	    ",\"userInputMessageContext\":{\"tools\":[{\"toolSpecification\":"
	    "{\"name\":\"Bash\",\"description\":\"");
	for (i = 0; i <= PREFLIGHT_TOOL_DESC_MAX; i++)
		buf_puts(&b, "x");
	buf_puts(&b, "\",\"inputSchema\":{\"json\":" SCHEMA "}}}]}}}}}");
	expect_rule(b.ptr, PREFLIGHT_TOOL_DESCRIPTION, "is 10241 characters, "
	    "over 10240");
	buf_free(&b);
}
END_TEST

START_TEST(preflight_tool_schema)
{
	expect_rule(HEAD CUR("hi", TOOLS(TOOL("Bash", "d",
	    "{\"type\":\"object\",\"properties\":null}"))),
	    PREFLIGHT_TOOL_SCHEMA, "properties must be an object, not null");
	expect_rule(HEAD CUR("hi", TOOLS(TOOL("Bash", "d",
	    "{\"type\":\"object\",\"required\":null}"))),
	    PREFLIGHT_TOOL_SCHEMA, "required must be an array, not null");
	expect_rule(HEAD CUR("hi", TOOLS(TOOL("Bash", "d",
	    "{\"type\":\"object\",\"required\":[1]}"))),
	    PREFLIGHT_TOOL_SCHEMA, "must list names");
	expect_rule(HEAD CUR("hi", TOOLS(TOOL("Bash", "d",
	    "{\"type\":\"string\"}"))), PREFLIGHT_TOOL_SCHEMA,
	    "type must be \"object\", not \"string\"");
	expect_rule(HEAD CUR("hi", TOOLS(TOOL("Bash", "d",
	    "{\"type\":\"object\",\"additionalProperties\":\"no\"}"))),
	    PREFLIGHT_TOOL_SCHEMA, "additionalProperties must be a bool");
	expect_rule(HEAD CUR("hi", TOOLS(TOOL("Bash", "d", "[]"))),
	    PREFLIGHT_TOOL_SCHEMA, "must be an object");
}
END_TEST

START_TEST(preflight_tool_input)
{
	expect_rule(HEAD HIST(U("a"), AU(" ", "{\"toolUseId\":\"t1\","
	    "\"name\":\"Bash\",\"input\":{\"a\":[{\"\":1}]}}")) CUR("hi",
	    "\"toolResults\":[" RES("t1") "]," TOOLS(TOOL("Bash", "d",
	    SCHEMA))), PREFLIGHT_TOOL_INPUT, "without empty keys");
	expect_rule(HEAD HIST(U("a"), AU(" ", "{\"toolUseId\":\"t1\","
	    "\"name\":\"Bash\",\"input\":[]}")) CUR("hi", "\"toolResults\":["
	    RES("t1") "]," TOOLS(TOOL("Bash", "d", SCHEMA))),
	    PREFLIGHT_TOOL_INPUT, NULL);
}
END_TEST

#define IMG(format, bytes)	"{\"format\":\"" format "\",\"source\":" \
		"{\"bytes\":\"" bytes "\"}}"
#define CUR_IMAGES(...)	"\"currentMessage\":{\"userInputMessage\":" \
		UM("hi") ",\"images\":[" JOIN(__VA_ARGS__) "]}}}}"

START_TEST(preflight_images)
{
	struct preflight_limits	lim;
	struct buf		b = BUF_INIT;
	size_t			i;

	expect_rule(HEAD CUR_IMAGES(IMG("png", PNG)), PREFLIGHT_OK, NULL);
	expect_rule(HEAD CUR_IMAGES(IMG("bmp", PNG)), PREFLIGHT_IMAGE,
	    "image format \"bmp\" is not jpeg");
	expect_rule(HEAD CUR_IMAGES(IMG("png", "iVBORw0KGgo")),
	    PREFLIGHT_IMAGE, "not standard base64");
	expect_rule(HEAD CUR_IMAGES(IMG("png", "iVBO-w0KGgo=")),
	    PREFLIGHT_IMAGE, "not standard base64");
	preflight_limits_default(&lim);
	lim.max_image_bytes = 7;
	expect(HEAD CUR_IMAGES(IMG("png", PNG)), NULL, &lim, PREFLIGHT_IMAGE,
	    "image of 8 bytes, over the 7");
	/* The count is the request's: history images count too. */
	buf_puts(&b, HEAD HIST("{\"userInputMessage\":" UM("a") ",\"images\":["
	    IMG("png", PNG) "]}}", A("b")) "\"currentMessage\":"
	    "{\"userInputMessage\":" UM("hi") ",\"images\":[");
	for (i = 0; i < PREFLIGHT_DEFAULT_MAX_IMAGES; i++)
		buf_printf(&b, "%s" IMG("png", PNG), i > 0 ? "," : "");
	buf_puts(&b, "]}}}}");
	expect_rule(b.ptr, PREFLIGHT_IMAGE, "currentMessage: more than 20 "
	    "images in one request");
	buf_free(&b);
}
END_TEST

START_TEST(preflight_body_size)
{
	struct preflight_limits	 lim;
	const char		*body = HEAD CUR("hi", "");
	char			*cause = NULL;

	preflight_limits_default(&lim);
	lim.max_body_bytes = strlen(body);
	expect(body, NULL, &lim, PREFLIGHT_OK, NULL);
	lim.max_body_bytes--;
	expect(body, NULL, &lim, PREFLIGHT_BODY_SIZE, "Input is too long");
	ck_assert_int_eq(preflight_check(body, strlen(body), NULL, &lim, NULL,
	    &cause), KF_ECONTEXT);
	free(cause);
}
END_TEST

START_TEST(preflight_history_length)
{
	struct preflight_limits	 lim;
	const char		*body = HEAD HIST(U("a"), A("b"), U("c"),
				    A("d")) CUR("hi", "");

	preflight_limits_default(&lim);
	lim.max_history = 4;
	expect(body, NULL, &lim, PREFLIGHT_OK, NULL);
	lim.max_history = 3;
	expect(body, NULL, &lim, PREFLIGHT_HISTORY_LENGTH, "messages: 4 "
	    "history entries, the most Kiro is sent is 3");
}
END_TEST

START_TEST(preflight_shape)
{
	expect_rule("{\"conversationState\":", PREFLIGHT_SHAPE, "not JSON");
	expect_rule("[]", PREFLIGHT_SHAPE, "no conversationState");
	expect_rule("{\"conversationState\":{\"chatTriggerType\":\"AUTO\","
	    CUR("hi", ""), PREFLIGHT_SHAPE, "MANUAL");
	expect_rule(HEAD "\"history\":[]," CUR("hi", ""), PREFLIGHT_SHAPE,
	    "empty history");
	expect_rule(HEAD CUR("hi", TOOLS(TOOL("Bash", "d", SCHEMA),
	    "{\"cachePoint\":{\"type\":\"default\"}}")), PREFLIGHT_SHAPE,
	    "tools[1]: a tool is one toolSpecification");
	expect_rule(HEAD HIST("{\"userInputMessage\":" UM("a")
	    ",\"userInputMessageContext\":{" TOOLS(TOOL("Bash", "d", SCHEMA))
	    "}}}", A("b")) CUR("hi", ""), PREFLIGHT_SHAPE,
	    "only the current message may carry tools");
}
END_TEST

/*
 * Each message's fields are read in one walk of its keys: a field of the
 * wrong type, a null one and a cachePoint entry still read as before.
 */
START_TEST(message_fields_by_type)
{
	expect_rule(HEAD HIST(U("a"), "{\"cachePoint\":{\"type\":\"default\"}}",
	    A("b")) CUR("hi", ""), PREFLIGHT_OK, NULL);
	expect_rule(HEAD HIST("{\"userInputMessage\":[]}", A("b"))
	    CUR("hi", ""), PREFLIGHT_SHAPE, "a user or an assistant");
	expect_rule(HEAD HIST("{\"userInputMessage\":{\"content\":1}}",
	    A("b")) CUR("hi", ""), PREFLIGHT_EMPTY_CONTENT, "empty content");
	expect_rule(HEAD HIST("{\"userInputMessage\":" UM("a")
	    ",\"images\":{}}}", A("b")) CUR("hi", ""), PREFLIGHT_SHAPE,
	    "images must be an array");
	expect_rule(HEAD HIST("{\"userInputMessage\":" UM("a")
	    ",\"images\":null}}", A("b")) CUR("hi", ""), PREFLIGHT_OK, NULL);
	expect_rule(HEAD HIST("{\"userInputMessage\":" UM("a")
	    ",\"userInputMessageContext\":[]}}", A("b")) CUR("hi", ""),
	    PREFLIGHT_SHAPE, "userInputMessageContext must be an object");
	expect_rule(HEAD HIST(U("a"), "{\"assistantResponseMessage\":"
	    "{\"content\":\"b\",\"toolUses\":{}}}") CUR("hi", ""),
	    PREFLIGHT_SHAPE, "toolUses must be an array");
	expect_rule(HEAD HIST(U("a"), "{\"assistantResponseMessage\":"
	    "{\"content\":\"b\",\"toolUses\":null}}") CUR("hi", ""),
	    PREFLIGHT_OK, NULL);
	expect_rule(HEAD HIST(U("a"), AU("b", "7")) CUR("hi", ""),
	    PREFLIGHT_SHAPE, "needs a toolUseId and a name");
	expect_rule(HEAD HIST(U("a"), AU("b", "{\"toolUseId\":\"t1\","
	    "\"name\":\"Bash\",\"input\":null}")) CUR("hi", ""),
	    PREFLIGHT_TOOL_INPUT, "t1");
	expect_rule(HEAD HIST(U("a"), AU("b", USE("t1", "Bash")))
	    CUR("hi", "\"toolResults\":[7]," TOOLS(TOOL("Bash", "d", SCHEMA))),
	    PREFLIGHT_SHAPE, "needs a toolUseId");
	expect_rule(HEAD HIST(U("a"), AU("b", USE("t1", "Bash")))
	    CUR("hi", "\"toolResults\":[{\"toolUseId\":\"t1\","
	    "\"content\":[{\"text\":\"r\"}],\"status\":null}],"
	    TOOLS(TOOL("Bash", "d", SCHEMA))), PREFLIGHT_SHAPE,
	    "status must be success or error");
	expect_rule(HEAD HIST(U("a"), AU("b", USE("t1", "Bash")))
	    CUR("hi", "\"toolResults\":{}," TOOLS(TOOL("Bash", "d", SCHEMA))),
	    PREFLIGHT_SHAPE, "toolResults must be an array");
}
END_TEST

/* The Kiro body for a client request as the relay makes it. */
static enum preflight_rule
run_anthropic(const char *request, int repair, char **cause)
{
	struct history_opts	 hopts = { HISTORY_DEFAULT_MAX_IMAGE_MSGS };
	struct kiro_req_opts	 opts;
	struct conv		 conv;
	struct buf		 body = BUF_INIT;
	struct json_object	*tree = NULL;
	enum preflight_rule	 rule = PREFLIGHT__MAX, rule_tree;
	char			*cause_tree = NULL;

	conv_init(&conv);
	ck_assert_int_eq(anthropic_parse(request, strlen(request), 0, &conv,
	    cause), KF_OK);
	if (repair)
		ck_assert_int_eq(history_repair(&conv, &hopts, cause), KF_OK);
	memset(&opts, 0, sizeof(opts));
	opts.model_id = "claude-sonnet-4.5";
	opts.tree = &tree;
	ck_assert_int_eq(kiro_req_build(&conv, &opts, &body, NULL, cause),
	    KF_OK);
	(void)preflight_check(body.ptr, body.len, &conv, NULL, &rule, cause);
	/* The relay checks the tree the body was written from: the same. */
	ck_assert_ptr_nonnull(tree);
	(void)preflight_check_tree(tree, body.len, &conv, NULL, &rule_tree,
	    &cause_tree);
	ck_assert_int_eq(rule_tree, rule);
	if (rule != PREFLIGHT_OK)
		ck_assert_str_eq(cause_tree, *cause);
	free(cause_tree);
	json_object_put(tree);
	buf_free(&body);
	conv_free(&conv);
	return rule;
}

#define AREQ(msgs)	"{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":10," \
		"\"system\":\"be brief\",\"messages\":[" msgs "]}"
#define AUSE(id)	"{\"type\":\"tool_use\",\"id\":\"" id "\",\"name\":" \
		"\"Bash\",\"input\":{}}"
#define ARES(id)	"{\"type\":\"tool_result\",\"tool_use_id\":\"" id \
		"\",\"content\":\"out\"}"

START_TEST(preflight_names_the_anthropic_path)
{
	char	*cause = NULL;

	/* Hostile history: repaired, the body passes. */
	ck_assert_int_eq(run_anthropic(AREQ(
	    "{\"role\":\"user\",\"content\":[" ARES("toolu_x") "]},"
	    "{\"role\":\"assistant\",\"content\":\"\"},"
	    "{\"role\":\"assistant\",\"content\":[" AUSE("toolu_1") ","
	    AUSE("toolu_1") "]},"
	    "{\"role\":\"user\",\"content\":[" ARES("toolu_1") ","
	    ARES("toolu_1") "," ARES("toolu_2") "]}"), 1, &cause),
	    PREFLIGHT_OK);
	/* Unrepaired, each rule names the client's block. */
	ck_assert_int_eq(run_anthropic(AREQ(
	    "{\"role\":\"user\",\"content\":\"hi\"},"
	    "{\"role\":\"assistant\",\"content\":\"ok\"},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"a\"}," ARES("toolu_x") "]}"), 0, &cause),
	    PREFLIGHT_TOOL_PAIRING);
	ck_assert_msg(strstr(cause, "messages[2].content[1]: tool result for "
	    "toolu_x has no matching tool use") != NULL, "%s", cause);
	ck_assert_int_eq(run_anthropic(AREQ(
	    "{\"role\":\"user\",\"content\":\"hi\"},"
	    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"x\"}," AUSE("toolu_1") "]},"
	    "{\"role\":\"user\",\"content\":\"no result\"},"
	    "{\"role\":\"assistant\",\"content\":\"y\"},"
	    "{\"role\":\"user\",\"content\":\"z\"}"), 0, &cause),
	    PREFLIGHT_TOOL_PAIRING);
	ck_assert_msg(strstr(cause, "messages[1].content[1]: tool use toolu_1 "
	    "is not answered") != NULL, "%s", cause);
	free(cause);
}
END_TEST

/* The same through the Chat (which 1) or Responses (2) parser, unrepaired. */
static enum preflight_rule
run_openai(int which, const char *request, char **cause)
{
	struct kiro_req_opts		 opts;
	struct openai_chat_opts		 copts;
	struct openai_responses_req	 req;
	struct conv			 conv;
	struct buf			 body = BUF_INIT;
	enum preflight_rule		 rule = PREFLIGHT__MAX;
	char				*param = NULL;

	conv_init(&conv);
	memset(&req, 0, sizeof(req));
	if (which == 1)
		ck_assert_int_eq(openai_chat_parse(request, strlen(request),
		    NULL, &conv, &copts, cause, &param), KF_OK);
	else
		ck_assert_int_eq(openai_responses_parse(request,
		    strlen(request), &conv, &req, NULL, NULL, cause, &param),
		    KF_OK);
	memset(&opts, 0, sizeof(opts));
	opts.model_id = "claude-sonnet-4.5";
	ck_assert_int_eq(kiro_req_build(&conv, &opts, &body, NULL, cause),
	    KF_OK);
	(void)preflight_check(body.ptr, body.len, &conv, NULL, &rule, cause);
	openai_responses_req_free(&req);
	buf_free(&body);
	conv_free(&conv);
	free(param);
	return rule;
}

#define CALL(id)	"{\"id\":\"" id "\",\"type\":\"function\"," \
		"\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}"

START_TEST(preflight_names_the_openai_paths)
{
	char	*cause = NULL;

	ck_assert_int_eq(run_openai(1, "{\"model\":\"claude-sonnet-4-5\","
	    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
	    "{\"role\":\"assistant\",\"content\":\"x\",\"tool_calls\":["
	    CALL("call_1") "]},{\"role\":\"user\",\"content\":\"none\"},"
	    "{\"role\":\"assistant\",\"content\":\"y\"},"
	    "{\"role\":\"user\",\"content\":\"z\"}]}", &cause),
	    PREFLIGHT_TOOL_PAIRING);
	ck_assert_msg(strstr(cause, "messages[1].tool_calls[0]: tool use call_1 "
	    "is not answered") != NULL, "%s", cause);
	ck_assert_int_eq(run_openai(1, "{\"model\":\"claude-sonnet-4-5\","
	    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
	    "{\"role\":\"assistant\",\"content\":\"x\"},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_x\",\"content\":"
	    "\"r\"}]}", &cause), PREFLIGHT_TOOL_PAIRING);
	ck_assert_msg(strstr(cause, "messages[2]: tool result for call_x has "
	    "no matching tool use") != NULL, "%s", cause);
	ck_assert_int_eq(run_openai(2, "{\"model\":\"claude-sonnet-4-5\","
	    "\"input\":[{\"role\":\"user\",\"content\":\"hi\"},"
	    "{\"role\":\"assistant\",\"content\":\"x\"},"
	    "{\"type\":\"function_call_output\",\"call_id\":\"call_x\","
	    "\"output\":\"r\"}]}", &cause), PREFLIGHT_TOOL_PAIRING);
	ck_assert_msg(strstr(cause, "input[2]: tool result for call_x has "
	    "no matching tool use") != NULL, "%s", cause);
	free(cause);
}
END_TEST

START_TEST(preflight_names_image_and_tool_paths)
{
	struct buf	b = BUF_INIT;
	char		*cause = NULL;
	size_t		 i;

	buf_puts(&b, AREQ("{\"role\":\"user\",\"content\":\"a\"},"
	    "{\"role\":\"assistant\",\"content\":\"b\"},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"look\"}"));
	b.len -= 2;		/* reopen the content array */
	b.ptr[b.len] = '\0';
	for (i = 0; i <= PREFLIGHT_DEFAULT_MAX_IMAGES; i++)
		buf_puts(&b, ",{\"type\":\"image\",\"source\":{\"type\":"
		    "\"base64\",\"media_type\":\"image/png\",\"data\":\"" PNG
		    "\"}}");
	buf_puts(&b, "]}]}");
	ck_assert_int_eq(run_anthropic(b.ptr, 1, &cause), PREFLIGHT_IMAGE);
	ck_assert_msg(strstr(cause, "messages[2].content[21]: more than 20 "
	    "images") != NULL, "%s", cause);
	buf_free(&b);
	free(cause);
}
END_TEST

START_TEST(preflight_names_the_gemini_tool_path)
{
	struct history_opts	 hopts = { HISTORY_DEFAULT_MAX_IMAGE_MSGS };
	struct kiro_req_opts	 opts;
	struct gemini_opts	 gopts;
	struct conv		 conv;
	struct buf		 req = BUF_INIT, body = BUF_INIT;
	enum preflight_rule	 rule;
	char			*cause = NULL;
	size_t			 i;

	buf_puts(&req, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":"
	    "\"hi\"}]}],\"tools\":[{\"functionDeclarations\":[{\"name\":\"f\","
	    "\"description\":\"d\"}]},{\"functionDeclarations\":[");
	for (i = 0; i < 200; i++)
		buf_printf(&req, "%s{\"name\":\"g%zu\",\"description\":\"d\"}",
		    i > 0 ? "," : "", i);
	buf_puts(&req, "]}]}");
	conv_init(&conv);
	ck_assert_int_eq(gemini_parse(req.ptr, req.len, "gemini-2.5-pro", 0,
	    &conv, &gopts, &cause), KF_OK);
	ck_assert_int_eq(history_repair(&conv, &hopts, &cause), KF_OK);
	memset(&opts, 0, sizeof(opts));
	opts.model_id = "claude-sonnet-4.5";
	ck_assert_int_eq(kiro_req_build(&conv, &opts, &body, NULL, &cause),
	    KF_OK);
	ck_assert_int_eq(preflight_check(body.ptr, body.len, &conv, NULL,
	    &rule, &cause), KF_EINVAL);
	ck_assert_int_eq(rule, PREFLIGHT_TOOL_COUNT);
	ck_assert_msg(strstr(cause, "tools[1].functionDeclarations[127]: 201 "
	    "tools") != NULL, "%s", cause);
	buf_free(&req);
	buf_free(&body);
	conv_free(&conv);
	free(cause);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("preflight");
	TCase	*tc = tcase_create("preflight");

	tcase_add_test(tc, preflight_passes_a_well_formed_body);
	tcase_add_test(tc, preflight_alternation);
	tcase_add_test(tc, preflight_tool_pairing);
	tcase_add_test(tc, message_fields_by_type);
	tcase_add_test(tc, preflight_empty_content);
	tcase_add_test(tc, preflight_tool_defined);
	tcase_add_test(tc, preflight_tool_count);
	tcase_add_test(tc, preflight_tool_name);
	tcase_add_test(tc, preflight_tool_description);
	tcase_add_test(tc, preflight_tool_schema);
	tcase_add_test(tc, preflight_tool_input);
	tcase_add_test(tc, preflight_images);
	tcase_add_test(tc, preflight_body_size);
	tcase_add_test(tc, preflight_history_length);
	tcase_add_test(tc, preflight_shape);
	tcase_add_test(tc, preflight_names_the_anthropic_path);
	tcase_add_test(tc, preflight_names_image_and_tool_paths);
	tcase_add_test(tc, preflight_names_the_openai_paths);
	tcase_add_test(tc, preflight_names_the_gemini_tool_path);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
