/* test-golden.c: the four front ends make one Kiro request from one conversation. */
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
#include "imgfetch.h"
#include "json.h"
#include "kiro_req.h"
#include "openai-chat.h"
#include "openai-responses.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * tests/fixtures/golden/ holds one conversation (a system prompt, text
 * and an image, two tools, three tool calls over two assistant turns,
 * one of them parallel, and their results) spelled in each API's request
 * format: anthropic.json, chat.json, responses.json and gemini.json; and
 * kiro-body.json, the Kiro body it must become.  Each spelling goes the
 * way of a real request (its front end's parser, history_repair,
 * kiro_req_build with one conversationId) and its body must equal
 * kiro-body.json value for value (agentContinuationId, a fresh UUID per
 * request, is pinned to the conversationId).  So every commit keeps the promise
 * that a conversation reaches Kiro the same whichever API carried it,
 * and a change to what Kiro is sent shows here.  After a deliberate
 * change, KIRO_GOLDEN_PRINT=1 prints each body to rewrite the file from.
 */

#define CONVERSATION_ID	"00000000-0000-4000-8000-000000000000"
#define MODEL		"claude-sonnet-4-5"
#define MAX_FIXTURE	(1024 * 1024)

enum front {
	FRONT_ANTHROPIC,
	FRONT_CHAT,
	FRONT_RESPONSES,
	FRONT_GEMINI,
	FRONT__MAX
};

static const char *const	fixture[FRONT__MAX] = {
	"anthropic.json", "chat.json", "responses.json", "gemini.json",
};

/* The file under tests/fixtures/golden/, from the source tree. */
static char *
golden_path(const char *name)
{
	const char	*src = getenv("KIRO_SRCDIR");

	return xasprintf("%s/tests/fixtures/golden/%s", src != NULL ? src :
	    ".", name);
}

static char *
golden_read(const char *name, size_t *len)
{
	char	*path = golden_path(name), *text;

	text = tu_read_file(path);
	ck_assert_msg(text != NULL, "cannot read %s (is KIRO_SRCDIR set?)",
	    path);
	free(path);
	*len = strlen(text);
	ck_assert_uint_lt(*len, MAX_FIXTURE);
	return text;
}

/* The Responses route's image fetch, here for data: URLs only. */
static enum kf_err
fetch_data_url(void *arg, const char *url, char **media_type, char **b64,
    char **cause)
{
	(void)arg;
	return imgfetch(NULL, url, media_type, b64, cause);
}

static enum kf_err
front_parse(enum front f, const char *body, size_t len, struct conv *conv,
    char **cause)
{
	struct openai_chat_opts		 copts;
	struct openai_responses_req	 req;
	struct gemini_opts		 gopts;
	char				*param = NULL;
	enum kf_err			 er;

	switch (f) {
	case FRONT_ANTHROPIC:
		return anthropic_parse(body, len, 0, conv, cause);
	case FRONT_CHAT:
		er = openai_chat_parse(body, len, NULL, conv, &copts, cause,
		    &param);
		break;
	case FRONT_RESPONSES:
		memset(&req, 0, sizeof(req));
		er = openai_responses_parse(body, len, conv, &req,
		    fetch_data_url, NULL, cause, &param);
		openai_responses_req_free(&req);
		break;
	default:
		/* Gemini names the model in the path, not the body. */
		return gemini_parse(body, len, MODEL, 0, conv, &gopts, cause);
	}
	free(param);
	return er;
}

/* The Kiro body front end f makes of its fixture, parsed. */
static json_object *
kiro_body_of(enum front f)
{
	struct history_opts	 hopts;
	struct kiro_req_opts	 opts;
	struct kiro_toolmap	*map;
	struct conv		 conv;
	struct buf		 body = BUF_INIT;
	json_object		*tree = NULL, *state, *v;
	char			*req, *cause = NULL;
	size_t			 len;

	req = golden_read(fixture[f], &len);
	conv_init(&conv);
	ck_assert_msg(front_parse(f, req, len, &conv, &cause) == KF_OK,
	    "%s: %s", fixture[f], cause);
	memset(&hopts, 0, sizeof(hopts));
	hopts.max_image_msgs = HISTORY_DEFAULT_MAX_IMAGE_MSGS;
	ck_assert_msg(history_repair(&conv, &hopts, &cause) == KF_OK,
	    "%s: history_repair: %s", fixture[f], cause);
	memset(&opts, 0, sizeof(opts));
	opts.model_id = conv.kiro_model;
	opts.conversation_id = CONVERSATION_ID;
	map = kiro_toolmap_new();
	ck_assert_msg(kiro_req_build(&conv, &opts, &body, map, &cause) ==
	    KF_OK, "%s: kiro_req_build: %s", fixture[f], cause);
	if (getenv("KIRO_GOLDEN_PRINT") != NULL)
		printf("%s:\n%s\n", fixture[f], buf_cstr(&body));
	ck_assert_int_eq(json_parse(body.ptr, body.len, JSON_MAX_DEPTH + 64,
	    &tree, NULL), KF_OK);
	/* A fresh UUID per request: present, then pinned for the compare. */
	state = json_object_object_get(tree, "conversationState");
	ck_assert(json_object_object_get_ex(state, "agentContinuationId", &v));
	ck_assert_uint_eq(strlen(json_object_get_string(v)), 36);
	json_object_object_add(state, "agentContinuationId",
	    json_object_new_string(CONVERSATION_ID));
	kiro_toolmap_free(map);
	buf_free(&body);
	conv_free(&conv);
	free(req);
	return tree;
}

static void
check_front(enum front f)
{
	json_object	*want, *got;
	char		*text;
	size_t		 len;

	got = kiro_body_of(f);
	text = golden_read("kiro-body.json", &len);
	ck_assert_int_eq(json_parse(text, len, JSON_MAX_DEPTH + 64, &want,
	    NULL), KF_OK);
	free(text);
	ck_assert_msg(json_object_equal(got, want), "%s makes another Kiro "
	    "body than tests/fixtures/golden/kiro-body.json:\n%s", fixture[f],
	    json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(got);
	json_object_put(want);
}

START_TEST(anthropic_body)
{
	check_front(FRONT_ANTHROPIC);
}
END_TEST

START_TEST(chat_body)
{
	check_front(FRONT_CHAT);
}
END_TEST

START_TEST(responses_body)
{
	check_front(FRONT_RESPONSES);
}
END_TEST

START_TEST(gemini_body)
{
	check_front(FRONT_GEMINI);
}
END_TEST

/* The golden body is what the conversation says, not an empty shell. */
START_TEST(golden_body_holds_the_conversation)
{
	json_object	*want, *state, *history, *current, *ctx;
	char		*text;
	size_t		 len;

	text = golden_read("kiro-body.json", &len);
	ck_assert_int_eq(json_parse(text, len, JSON_MAX_DEPTH + 64, &want,
	    NULL), KF_OK);
	free(text);
	state = json_object_object_get(want, "conversationState");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(state,
	    "conversationId")), CONVERSATION_ID);
	/* The system prompt as pair 0, then two turns of tool calls. */
	history = json_object_object_get(state, "history");
	ck_assert_uint_eq(json_object_array_length(history), 6);
	ck_assert_ptr_nonnull(strstr(json_object_to_json_string(
	    json_object_array_get_idx(history, 0)), "careful assistant"));
	ck_assert_ptr_nonnull(strstr(json_object_to_json_string(
	    json_object_array_get_idx(history, 2)), "\"images\""));
	current = json_object_object_get(json_object_object_get(state,
	    "currentMessage"), "userInputMessage");
	ck_assert_ptr_nonnull(strstr(json_object_get_string(
	    json_object_object_get(current, "content")), "Go on."));
	ctx = json_object_object_get(current, "userInputMessageContext");
	ck_assert_uint_eq(json_object_array_length(json_object_object_get(ctx,
	    "tools")), 2);
	ck_assert_uint_eq(json_object_array_length(json_object_object_get(ctx,
	    "toolResults")), 2);
	json_object_put(want);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("golden");
	TCase	*tc = tcase_create("golden");

	tcase_add_test(tc, golden_body_holds_the_conversation);
	tcase_add_test(tc, anthropic_body);
	tcase_add_test(tc, chat_body);
	tcase_add_test(tc, responses_body);
	tcase_add_test(tc, gemini_body);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
