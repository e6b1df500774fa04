/* test-history.c: conversation repair before the Kiro request (§3.3). */
#include "autoconfig.h"

#include <ctype.h>
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
#include "xmalloc.h"

#include "convtest.h"

/*
 * Covers history_repair (prefill §3.3.1, merging §3.3.4, tool pairing
 * §3.3.7, input sanitising §3.3.12, images §3.3.13, role-misplaced blocks,
 * idempotence) and history_drop_oldest_turn (§3.3.16).  Each case asserts
 * the repaired conversation through a compact summary, and the rules also
 * through the parsed Kiro body that kiro_req_build makes from it.
 */

#define CUR	"conversationState.currentMessage.userInputMessage"
#define HIST	"conversationState.history"

static const struct history_opts	default_opts = {
	HISTORY_DEFAULT_MAX_IMAGE_MSGS
};

/* ---- building conversations ---- */

/*
 * The conversation as one line: "U[t:hi r:a(t:x,i:png)] A[h:why u:a]", one
 * letter per block (t text, i image, u tool use, r result, h thinking).
 * Caller frees.
 */
static char *
summary(const struct conv *c)
{
	struct buf			 out = BUF_INIT;
	const struct conv_block		*b, *in;
	size_t				 i, j, k;

	for (i = 0; i < c->n_msgs; i++) {
		buf_puts(&out, i > 0 ? " " : "");
		buf_puts(&out, c->msgs[i].role == CONV_ROLE_USER ? "U[" : "A[");
		for (j = 0; j < c->msgs[i].n_blocks; j++) {
			b = &c->msgs[i].blocks[j];
			buf_puts(&out, j > 0 ? " " : "");
			switch (b->type) {
			case CONV_BLOCK_TEXT:
				buf_printf(&out, "t:%s", b->text);
				break;
			case CONV_BLOCK_IMAGE:
				buf_printf(&out, "i:%s", b->media_type);
				break;
			case CONV_BLOCK_TOOL_USE:
				buf_printf(&out, "u:%s", b->id);
				break;
			case CONV_BLOCK_TOOL_RESULT:
				buf_printf(&out, "r:%s(", b->id);
				for (k = 0; k < b->n_content; k++) {
					in = &b->content[k];
					buf_puts(&out, k > 0 ? "," : "");
					if (in->type == CONV_BLOCK_TEXT)
						buf_printf(&out, "t:%s",
						    in->text);
					else
						buf_printf(&out, "i:%s",
						    in->media_type);
				}
				buf_puts(&out, ")");
				break;
			case CONV_BLOCK_THINKING:
				buf_printf(&out, "h:%s", b->text);
				break;
			default:
				buf_puts(&out, "?");
				break;
			}
		}
		buf_puts(&out, "]");
	}
	return buf_detach(&out);
}

static void
repair_ok(struct conv *c, const struct history_opts *opts)
{
	char	*cause = NULL;

	ck_assert_int_eq(history_repair(c, opts, &cause), KF_OK);
	ck_assert_ptr_null(cause);
}

#define ASSERT_SUMMARY(c, expect) do {					\
	char	*got_ = summary(c);					\
	ck_assert_str_eq(got_, expect);					\
	free(got_);							\
} while (0)

/* The parsed body kiro_req_build makes from an already repaired conv. */
static json_object *
body(const struct conv *c)
{
	struct kiro_req_opts	 opts = { "claude-sonnet-4.5", "cid",
	    NULL, 0, NULL };
	struct buf		 out = BUF_INIT;
	json_object		*root = NULL;
	char			*cause = NULL;

	ck_assert_int_eq(kiro_req_build(c, &opts, &out, NULL, &cause), KF_OK);
	ck_assert_int_eq(json_parse(out.ptr, out.len, JSON_MAX_DEPTH, &root,
	    &cause), KF_OK);
	buf_free(&out);
	return root;
}

/* ---- rule 1: prefill ---- */

START_TEST(history_prefill_trailing_assistants_dropped)
{
	struct conv	 c;
	json_object	*root;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "q");
	add_msg(&c, CONV_ROLE_ASSISTANT, "a");
	add_msg(&c, CONV_ROLE_USER, "q2");
	add_msg(&c, CONV_ROLE_ASSISTANT, "prefill one");
	add_msg(&c, CONV_ROLE_ASSISTANT, "{");
	repair_ok(&c, &default_opts);
	ASSERT_SUMMARY(&c, "U[t:q] A[t:a] U[t:q2]");
	root = body(&c);
	ck_assert_str_eq(jstr(root, CUR ".content"), "q2");
	ck_assert_uint_eq(jlen(root, HIST), 2);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

START_TEST(history_without_user_message_is_einval)
{
	struct conv	 c;
	char		*cause = NULL;

	conv_init(&c);
	ck_assert_int_eq(history_repair(&c, &default_opts, &cause),
	    KF_EINVAL);
	ck_assert_str_eq(cause, "messages must contain at least one user "
	    "message");
	add_msg(&c, CONV_ROLE_ASSISTANT, "a");
	add_msg(&c, CONV_ROLE_ASSISTANT, "b");
	ck_assert_int_eq(history_repair(&c, &default_opts, &cause),
	    KF_EINVAL);
	ck_assert_str_eq(cause, "messages must contain at least one user "
	    "message");
	free(cause);
	conv_free(&c);
}
END_TEST

/* ---- rule 4: merging ---- */

START_TEST(history_same_role_runs_merged_in_order)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "u1");
	m = add_msg(&c, CONV_ROLE_USER, "u2");
	add_image(m, "image/png", "QUJD");
	add_msg(&c, CONV_ROLE_ASSISTANT, "a1");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_thinking(m, "hmm");
	add_text(m, "a2");
	add_msg(&c, CONV_ROLE_USER, "u3");
	add_msg(&c, CONV_ROLE_USER, "u4");
	repair_ok(&c, &default_opts);
	ASSERT_SUMMARY(&c, "U[t:u1 t:u2 i:image/png] A[t:a1 h:hmm t:a2] "
	    "U[t:u3 t:u4]");
	root = body(&c);
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.content"),
	    "u1\nu2");
	ck_assert_str_eq(jstr(root, HIST ".1.assistantResponseMessage.content"),
	    "<thinking>hmm</thinking>\n\na1\n\na2");
	ck_assert_str_eq(jstr(root, CUR ".content"), "u3\nu4");
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* A prompt-cache mark inside a merged run stays on the merged message. */
START_TEST(history_merge_keeps_cache_points)
{
	struct conv	 c;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "u1")->cache_point = 1;
	add_msg(&c, CONV_ROLE_USER, "u2");
	add_msg(&c, CONV_ROLE_ASSISTANT, "a1");
	add_msg(&c, CONV_ROLE_ASSISTANT, "a2")->cache_point = 1;
	add_msg(&c, CONV_ROLE_USER, "u3");
	repair_ok(&c, &default_opts);
	ck_assert_uint_eq(c.n_msgs, 3);
	ck_assert_int_eq(c.msgs[0].cache_point, 1);
	ck_assert_int_eq(c.msgs[1].cache_point, 1);
	ck_assert_int_eq(c.msgs[2].cache_point, 0);
	conv_free(&c);
}
END_TEST

START_TEST(history_emptied_messages_removed_and_merged)
{
	struct conv	 c;
	struct conv_msg	*m;

	/* The middle user turn holds only an orphan result. */
	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "u1");
	add_msg(&c, CONV_ROLE_ASSISTANT, "a1");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "ghost", "x", 0);
	add_msg(&c, CONV_ROLE_ASSISTANT, "a2");
	conv_add_msg(&c, CONV_ROLE_USER);	/* no blocks at all */
	add_msg(&c, CONV_ROLE_ASSISTANT, "a3");
	add_msg(&c, CONV_ROLE_USER, "u4");
	repair_ok(&c, &default_opts);
	ASSERT_SUMMARY(&c, "U[t:u1] A[t:a1 t:a2 t:a3] U[t:u4]");
	conv_free(&c);

	/* The last user message stays even when repair empties it. */
	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "u1");
	add_msg(&c, CONV_ROLE_ASSISTANT, "a1");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "ghost", "x", 0);
	add_image(m, "image/tiff", "QUJD");
	repair_ok(&c, &default_opts);
	ASSERT_SUMMARY(&c, "U[t:u1] A[t:a1] U[]");
	conv_free(&c);
}
END_TEST

/* ---- rule 7: tool pairing ---- */

START_TEST(history_orphan_and_duplicate_results_dropped)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "go");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "a", "Read", "{}");
	add_tool_use(m, "b", "Read", "{}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "b", "B", 0);
	add_tool_result(m, "orphan", "O", 0);
	add_tool_result(m, "a", "A", 0);
	add_tool_result(m, "b", "B twice", 0);
	add_text(m, "next");
	repair_ok(&c, &default_opts);
	ASSERT_SUMMARY(&c, "U[t:go] A[u:a u:b] U[r:b(t:B) r:a(t:A) t:next]");
	root = body(&c);
	ck_assert_uint_eq(jlen(root,
	    CUR ".userInputMessageContext.toolResults"), 2);
	ck_assert_str_eq(jstr(root,
	    CUR ".userInputMessageContext.toolResults.0.toolUseId"), "b");
	ck_assert_str_eq(jstr(root,
	    CUR ".userInputMessageContext.toolResults.1.toolUseId"), "a");
	ck_assert_str_eq(jstr(root,
	    CUR ".userInputMessageContext.toolResults.0.content.0.text"), "B");
	json_object_put(root);
	conv_free(&c);
}
END_TEST

START_TEST(history_unanswered_tool_uses_dropped)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "go");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, "calling");
	add_tool_use(m, "a", "Read", "{}");
	add_tool_use(m, "lost", "Read", "{}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "a", "A", 0);
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "pending", "Read", "{}");	/* the current message ignores it */
	add_msg(&c, CONV_ROLE_USER, "never mind");
	repair_ok(&c, &default_opts);
	/* The emptied assistant turn goes; its neighbours merge. */
	ASSERT_SUMMARY(&c, "U[t:go] A[t:calling u:a] U[r:a(t:A) "
	    "t:never mind]");
	root = body(&c);
	ck_assert_uint_eq(jlen(root, HIST), 2);
	ck_assert_uint_eq(jlen(root,
	    HIST ".1.assistantResponseMessage.toolUses"), 1);
	ck_assert_str_eq(jstr(root,
	    HIST ".1.assistantResponseMessage.toolUses.0.toolUseId"), "a");
	ck_assert_str_eq(jstr(root, CUR ".content"), "never mind");
	ck_assert_str_eq(jstr(root,
	    CUR ".userInputMessageContext.toolResults.0.toolUseId"), "a");
	json_object_put(root);
	conv_free(&c);
}
END_TEST

START_TEST(history_repeated_tool_use_id_keeps_first)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "go");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "x", "Read", "{\"n\":1}");
	add_tool_use(m, "x", "Read", "{\"n\":2}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "x", "first", 0);
	m = add_msg(&c, CONV_ROLE_ASSISTANT, "again");
	add_tool_use(m, "x", "Read", "{\"n\":3}");
	m = add_msg(&c, CONV_ROLE_USER, "ok");
	add_tool_result(m, "x", "second", 0);
	repair_ok(&c, &default_opts);
	ASSERT_SUMMARY(&c, "U[t:go] A[u:x] U[r:x(t:first)] A[t:again] U[t:ok]");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(
	    c.msgs[1].blocks[0].input, "n")), 1);
	root = body(&c);
	ck_assert_uint_eq(jlen(root,
	    HIST ".1.assistantResponseMessage.toolUses"), 1);
	ck_assert_ptr_null(jpath(root,
	    HIST ".3.assistantResponseMessage.toolUses"));
	ck_assert_ptr_null(jpath(root,
	    CUR ".userInputMessageContext.toolResults"));
	json_object_put(root);
	conv_free(&c);
}
END_TEST

START_TEST(history_result_must_answer_previous_turn)
{
	struct conv	 c;
	struct conv_msg	*m;

	/* A result two turns late answers nothing Kiro can pair. */
	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "go");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "a", "Read", "{}");
	add_msg(&c, CONV_ROLE_USER, "wait");
	add_msg(&c, CONV_ROLE_ASSISTANT, "waiting");
	m = add_msg(&c, CONV_ROLE_USER, "late");
	add_tool_result(m, "a", "A", 0);
	repair_ok(&c, &default_opts);
	ASSERT_SUMMARY(&c, "U[t:go t:wait] A[t:waiting] U[t:late]");
	conv_free(&c);
}
END_TEST

/* ---- rule 12: tool input sanitising ---- */

START_TEST(history_tool_input_empty_keys_removed)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root, *expect;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "go");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "a", "Read", "{\"\":\"drop\",\"keep\":{\"\":[1],\"deep\":"
	    "[{\"\":{},\"z\":\"\"}]}}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "a", "A", 0);
	repair_ok(&c, &default_opts);
	expect = parse_or_die("{\"keep\":{\"deep\":[{\"z\":\"\"}]}}");
	ck_assert(json_object_equal(c.msgs[1].blocks[0].input, expect));
	root = body(&c);
	ck_assert(json_object_equal(jpath(root,
	    HIST ".1.assistantResponseMessage.toolUses.0.input"), expect));
	json_object_put(expect);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

/* ---- rule 13: images ---- */

START_TEST(history_unsupported_images_dropped_types_canonical)
{
	struct conv		 c;
	struct conv_msg		*m;
	struct conv_block	*r, *b;
	json_object		*root;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "go");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "a", "Read", "{}");
	m = add_msg(&c, CONV_ROLE_USER, "see");
	add_image(m, "image/jpg", "QUJD");
	add_image(m, "image/svg+xml", "QUJD");
	add_image(m, "Image/WebP", "QUJD");
	b = conv_msg_add_block(m, CONV_BLOCK_IMAGE);	/* no data */
	b->media_type = xstrdup("image/png");
	r = add_tool_result(m, "a", "A", 0);
	b = conv_block_add_content(r, CONV_BLOCK_IMAGE);
	b->media_type = xstrdup("image/heic");
	b->data = xstrdup("QUJD");
	b = conv_block_add_content(r, CONV_BLOCK_IMAGE);
	b->media_type = xstrdup("image/GIF");
	b->data = xstrdup("QUJD");
	repair_ok(&c, &default_opts);
	ASSERT_SUMMARY(&c, "U[t:go] A[u:a] U[t:see i:image/jpeg i:image/webp "
	    "r:a(t:A,i:image/gif)]");
	root = body(&c);
	ck_assert_uint_eq(jlen(root, CUR ".images"), 3);
	ck_assert_str_eq(jstr(root, CUR ".images.0.format"), "jpeg");
	ck_assert_str_eq(jstr(root, CUR ".images.1.format"), "webp");
	ck_assert_str_eq(jstr(root, CUR ".images.2.format"), "gif");
	json_object_put(root);
	conv_free(&c);
}
END_TEST

START_TEST(history_old_images_become_text)
{
	struct history_opts	 opts = { 2 };
	struct conv		 c;
	struct conv_msg		*m;
	struct conv_block	*r, *b;
	json_object		*root;

	conv_init(&c);
	m = add_msg(&c, CONV_ROLE_USER, "one");
	add_image(m, "image/png", "QUJD");
	add_text(m, "between");
	add_image(m, "image/gif", "QUJD");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "a", "Read", "{}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	r = add_tool_result(m, "a", "shot", 0);
	b = conv_block_add_content(r, CONV_BLOCK_IMAGE);
	b->media_type = xstrdup("image/png");
	b->data = xstrdup("QUJD");
	add_image(m, "image/png", "QUJD");
	add_msg(&c, CONV_ROLE_ASSISTANT, "nice");
	m = add_msg(&c, CONV_ROLE_USER, "last");
	add_image(m, "image/png", "QUJD");
	repair_ok(&c, &opts);
	ASSERT_SUMMARY(&c, "U[t:one t:[2 image(s) omitted from history] "
	    "t:between] A[u:a] U[r:a(t:shot,t:[1 image(s) omitted from "
	    "history]) t:[1 image(s) omitted from history]] A[t:nice] "
	    "U[t:last i:image/png]");
	root = body(&c);
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.content"),
	    "one\n[2 image(s) omitted from history]\nbetween");
	ck_assert_ptr_null(jpath(root, HIST ".0.userInputMessage.images"));
	ck_assert_ptr_null(jpath(root, HIST ".2.userInputMessage.images"));
	ck_assert_str_eq(jstr(root, HIST ".2.userInputMessage."
	    "userInputMessageContext.toolResults.0.content.1.text"),
	    "[1 image(s) omitted from history]");
	ck_assert_uint_eq(jlen(root, CUR ".images"), 1);
	json_object_put(root);
	conv_free(&c);
}
END_TEST

START_TEST(history_max_image_msgs_zero_keeps_every_image)
{
	struct history_opts	 opts = { 0 };
	struct conv		 c;
	struct conv_msg		*m;
	size_t			 i;

	conv_init(&c);
	for (i = 0; i < 10; i++) {
		m = add_msg(&c, CONV_ROLE_USER, "pic");
		add_image(m, "image/png", "QUJD");
		add_msg(&c, CONV_ROLE_ASSISTANT, "ok");
	}
	add_msg(&c, CONV_ROLE_USER, "end");
	repair_ok(&c, &opts);
	ck_assert_uint_eq(c.n_msgs, 21);
	for (i = 0; i < 20; i += 2) {
		ck_assert_uint_eq(c.msgs[i].n_blocks, 2);
		ck_assert_int_eq(c.msgs[i].blocks[1].type, CONV_BLOCK_IMAGE);
	}
	conv_free(&c);
}
END_TEST

/* ---- blocks on the wrong side, idempotence ---- */

START_TEST(history_misplaced_blocks_dropped)
{
	struct conv		 c;
	struct conv_msg		*m;
	struct conv_block	*b;

	conv_init(&c);
	m = add_msg(&c, CONV_ROLE_USER, "go");
	add_tool_use(m, "u-in-user", "Read", "{}");
	add_thinking(m, "user thought");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, "a");
	add_image(m, "image/png", "QUJD");
	add_tool_result(m, "r-in-assistant", "x", 0);
	add_thinking(m, "");
	b = conv_msg_add_block(m, CONV_BLOCK_TOOL_USE);	/* no id */
	b->name = xstrdup("Read");
	b = conv_msg_add_block(m, CONV_BLOCK_TOOL_USE);	/* no name */
	b->id = xstrdup("n");
	m = add_msg(&c, CONV_ROLE_USER, "end");
	b = conv_msg_add_block(m, CONV_BLOCK_TOOL_RESULT);	/* no id */
	repair_ok(&c, &default_opts);
	ASSERT_SUMMARY(&c, "U[t:go] A[t:a] U[t:end]");
	conv_free(&c);
}
END_TEST

START_TEST(history_repair_is_idempotent)
{
	struct conv	 c;
	struct conv_msg	*m;
	char		*once;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_ASSISTANT, "hello");
	add_msg(&c, CONV_ROLE_USER, "u1");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_image(m, "image/png", "QUJD");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "a", "Read", "{\"\":1}");
	add_tool_use(m, "b", "Read", "{}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "a", "A", 0);
	add_tool_result(m, "z", "Z", 0);
	add_msg(&c, CONV_ROLE_ASSISTANT, "done");
	add_msg(&c, CONV_ROLE_ASSISTANT, "prefill");
	repair_ok(&c, &default_opts);
	once = summary(&c);
	ck_assert_str_eq(once, "A[t:hello] U[t:u1 i:image/png] A[u:a] "
	    "U[r:a(t:A)]");
	repair_ok(&c, &default_opts);
	ASSERT_SUMMARY(&c, once);
	free(once);
	conv_free(&c);
}
END_TEST

/* ---- rule 16: dropping the oldest turn ---- */

START_TEST(history_drop_oldest_turn_takes_whole_exchange)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "t1");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "a", "Read", "{}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "a", "A", 0);
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "b", "Read", "{}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "b", "B", 0);
	add_msg(&c, CONV_ROLE_ASSISTANT, "t1 done");
	add_msg(&c, CONV_ROLE_USER, "t2");
	add_msg(&c, CONV_ROLE_ASSISTANT, "t2 done");
	m = add_msg(&c, CONV_ROLE_USER, "t3");
	repair_ok(&c, &default_opts);
	ck_assert_int_eq(history_drop_oldest_turn(&c), 1);
	ASSERT_SUMMARY(&c, "U[t:t2] A[t:t2 done] U[t:t3]");
	repair_ok(&c, &default_opts);
	root = body(&c);
	ck_assert_uint_eq(jlen(root, HIST), 2);
	ck_assert_str_eq(jstr(root, HIST ".0.userInputMessage.content"), "t2");
	ck_assert_str_eq(jstr(root, CUR ".content"), "t3");
	json_object_put(root);
	ck_assert_int_eq(history_drop_oldest_turn(&c), 1);
	ASSERT_SUMMARY(&c, "U[t:t3]");
	ck_assert_int_eq(history_drop_oldest_turn(&c), 0);
	ASSERT_SUMMARY(&c, "U[t:t3]");
	conv_free(&c);
}
END_TEST

START_TEST(history_drop_oldest_turn_keeps_last_message)
{
	struct conv	 c;
	struct conv_msg	*m;
	json_object	*root;

	/* The last message answers tools: it stays, repair orphans them. */
	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "t1");
	m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	add_tool_use(m, "a", "Read", "{}");
	m = add_msg(&c, CONV_ROLE_USER, NULL);
	add_tool_result(m, "a", "A", 0);
	ck_assert_int_eq(history_drop_oldest_turn(&c), 1);
	ASSERT_SUMMARY(&c, "U[r:a(t:A)]");
	repair_ok(&c, &default_opts);
	ASSERT_SUMMARY(&c, "U[]");
	root = body(&c);
	ck_assert_ptr_null(jpath(root, HIST));
	ck_assert_str_eq(jstr(root, CUR ".content"), "Continue");
	ck_assert_ptr_null(jpath(root, CUR ".userInputMessageContext."
	    "toolResults"));
	json_object_put(root);
	ck_assert_int_eq(history_drop_oldest_turn(&c), 0);
	conv_free(&c);

	conv_init(&c);
	ck_assert_int_eq(history_drop_oldest_turn(&c), 0);
	conv_free(&c);
}
END_TEST

/*
 * Thousands of blocks dropped from one turn, and thousands of emptied
 * messages, leave exactly the kept ones in their order (the filters keep
 * in one pass): uses 0..2999 in one turn, results for those not divisible
 * by 3 plus an orphan after each; then 2000 turns emptied by repair.
 */
START_TEST(history_many_drops_keep_order)
{
	struct conv		 c;
	struct conv_msg		*uses, *results, *m;
	char			 id[32];
	size_t			 i, n_kept;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "go");
	uses = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "u%zu", i);
		add_tool_use(uses, id, "Read", "{}");
	}
	results = add_msg(&c, CONV_ROLE_USER, NULL);
	for (i = 0; i < 3000; i++) {
		if (i % 3 == 0)
			continue;
		snprintf(id, sizeof(id), "u%zu", i);
		add_tool_result(results, id, "ok", 0);
		snprintf(id, sizeof(id), "ghost%zu", i);
		add_tool_result(results, id, "x", 0);
	}
	for (i = 0; i < 2000; i++) {
		m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
		add_thinking(m, "");		/* empty: dropped */
		m = add_msg(&c, CONV_ROLE_USER, NULL);
		add_tool_result(m, "nobody", "x", 0);
	}
	add_msg(&c, CONV_ROLE_USER, "done");
	repair_ok(&c, &default_opts);
	ck_assert_uint_eq(c.n_msgs, 3);
	ck_assert_uint_eq(c.msgs[1].n_blocks, 2000);
	ck_assert_uint_eq(c.msgs[2].n_blocks, 2001);
	for (i = 0, n_kept = 0; i < 3000; i++) {
		if (i % 3 == 0)
			continue;
		snprintf(id, sizeof(id), "u%zu", i);
		ck_assert_str_eq(c.msgs[1].blocks[n_kept].id, id);
		ck_assert_str_eq(c.msgs[2].blocks[n_kept].id, id);
		n_kept++;
	}
	ck_assert_str_eq(c.msgs[2].blocks[2000].text, "done");
	conv_free(&c);
}
END_TEST

/* A turn of many tool-result-only messages goes as one. */
START_TEST(history_drop_oldest_turn_takes_long_turn)
{
	struct conv	 c;
	struct conv_msg	*m;
	char		 id[32];
	size_t		 i;

	conv_init(&c);
	add_msg(&c, CONV_ROLE_USER, "t1");
	for (i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "u%zu", i);
		m = add_msg(&c, CONV_ROLE_ASSISTANT, NULL);
		add_tool_use(m, id, "Read", "{}");
		m = add_msg(&c, CONV_ROLE_USER, NULL);
		add_tool_result(m, id, "ok", 0);
	}
	add_msg(&c, CONV_ROLE_ASSISTANT, "a");
	add_msg(&c, CONV_ROLE_USER, "t2");
	ck_assert_int_eq(history_drop_oldest_turn(&c), 1);
	ASSERT_SUMMARY(&c, "U[t:t2]");
	conv_free(&c);
}
END_TEST

/* A conversation of n turns (tool round trips) and a last question. */
static void
long_conv(struct conv *c, size_t n)
{
	struct conv_msg	*m;
	char		 text[700], id[32], input[128];
	size_t		 i;

	conv_init(c);
	c->kiro_model = "claude-sonnet-4.5";
	/* What every build carries whatever the history: tools, system. */
	add_tool(c, "Read", "Reads a file", "{\"type\":\"object\","
	    "\"properties\":{\"path\":{\"type\":\"string\"}}}");
	memset(text, 'S', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	for (i = 0; i < 30; i++)
		conv_append_system(c, text);
	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "turn %zu: please look at \"the "
		    "file\"\n\tand tell me what it does.%0300d", i, 0);
		add_msg(c, CONV_ROLE_USER, text);
		m = add_msg(c, CONV_ROLE_ASSISTANT, "Let me look.");
		snprintf(id, sizeof(id), "tu_%zu", i);
		snprintf(input, sizeof(input), "{\"path\":\"/src/file_%zu.c\","
		    "\"why\":\"a \\\"quoted\\\" reason\"}", i);
		add_tool_use(m, id, "Read", input);
		m = add_msg(c, CONV_ROLE_USER, NULL);
		snprintf(text, sizeof(text), "int main(void) {\n\treturn "
		    "%zu;\n}\n%0500d", i, 0);
		add_tool_result(m, id, text, 0);
		snprintf(text, sizeof(text), "done %zu", i);
		add_msg(c, CONV_ROLE_ASSISTANT, text);
	}
	add_msg(c, CONV_ROLE_USER, "final question");
}

/* Every assistant entry's uses are what the next user entry answers. */
static void
assert_pairs_valid(json_object *root)
{
	json_object	*hist, *e, *uses, *res, *next;
	size_t		 i, j, n;

	hist = jpath(root, HIST);
	ck_assert_ptr_nonnull(hist);
	n = json_object_array_length(hist);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(hist, i);
		uses = jpath(e, "assistantResponseMessage.toolUses");
		res = jpath(e, "userInputMessage.userInputMessageContext."
		    "toolResults");
		/* The first user entry answers nothing (its turn was cut). */
		if (res != NULL)
			ck_assert_msg(i > 0 && jpath(json_object_array_get_idx(
			    hist, i - 1), "assistantResponseMessage.toolUses") !=
			    NULL, "history entry %zu: results answer nothing", i);
		if (uses == NULL)
			continue;
		next = i + 1 < n ? jpath(json_object_array_get_idx(hist,
		    i + 1), "userInputMessage.userInputMessageContext."
		    "toolResults") : jpath(root, CUR ".userInputMessageContext."
		    "toolResults");
		ck_assert_ptr_nonnull(next);
		ck_assert_uint_eq(json_object_array_length(next),
		    json_object_array_length(uses));
		for (j = 0; j < json_object_array_length(uses); j++)
			ck_assert_str_eq(jstr(json_object_array_get_idx(next, j),
			    "toolUseId"), jstr(json_object_array_get_idx(uses,
			    j), "toolUseId"));
	}
}

/*
 * Over the limit, the oldest turns go as many at once as the excess
 * covers: a few builds, not one per turn dropped; the body fits without
 * losing more than about a turn beyond what it must, the newest turns
 * stay, and the pairs are whole.
 */
START_TEST(history_build_within_fits_in_few_builds)
{
	struct kiro_req_opts	 opts = { "claude-sonnet-4.5", "cid", NULL,
	    0, NULL };
	struct history_fit	 fit;
	struct conv		 c;
	struct buf		 out = BUF_INIT;
	json_object		*root = NULL, *hist;
	char			*cause = NULL, want[32];
	size_t			 max = 100000, n_hist;

	long_conv(&c, 2000);
	repair_ok(&c, &default_opts);
	ck_assert_int_eq(history_build_within(&c, &default_opts, &opts, max,
	    &out, NULL, &fit, &cause), KF_OK);
	printf("history: 2000 turns into %zu bytes: %zu bytes, %zu builds, "
	    "%zu turns dropped\n", max, out.len, fit.builds,
	    fit.turns_dropped);
	ck_assert_uint_le(out.len, max);
	/* One turn is about 1.3 KB as Kiro gets it. */
	ck_assert_uint_gt(out.len, max - 3000);
	ck_assert_uint_le(fit.builds, 4);
	ck_assert_uint_eq(c.msgs[c.n_msgs - 1].n_blocks, 1);
	ck_assert_int_eq(json_parse(out.ptr, out.len, JSON_MAX_DEPTH, &root,
	    &cause), KF_OK);
	ck_assert_str_eq(jstr(root, CUR ".content"), "final question");
	hist = jpath(root, HIST);
	n_hist = json_object_array_length(hist);
	/* The newest turn kept, whole: its last answer ends the history. */
	ck_assert_str_eq(jstr(json_object_array_get_idx(hist, n_hist - 1),
	    "assistantResponseMessage.content"), "done 1999");
	snprintf(want, sizeof(want), "turn %zu:", fit.turns_dropped);
	ck_assert_msg(strncmp(jstr(json_object_array_get_idx(hist, 2),
	    "userInputMessage.content"), want, strlen(want)) == 0,
	    "the oldest turn kept is not %s", want);
	assert_pairs_valid(root);
	json_object_put(root);
	buf_free(&out);
	conv_free(&c);
}
END_TEST

/* Under the limit (or with none) nothing goes, in one build. */
START_TEST(history_build_within_leaves_what_fits)
{
	struct kiro_req_opts	 opts = { "claude-sonnet-4.5", "cid", NULL,
	    0, NULL };
	struct history_fit	 fit;
	struct conv		 c;
	struct buf		 out = BUF_INIT;
	char			*cause = NULL;
	size_t			 n_msgs;

	long_conv(&c, 50);
	repair_ok(&c, &default_opts);
	n_msgs = c.n_msgs;
	ck_assert_int_eq(history_build_within(&c, &default_opts, &opts, 0,
	    &out, NULL, &fit, &cause), KF_OK);
	ck_assert_uint_eq(fit.builds, 1);
	ck_assert_uint_eq(fit.turns_dropped, 0);
	ck_assert_int_eq(history_build_within(&c, &default_opts, &opts,
	    out.len, &out, NULL, &fit, &cause), KF_OK);
	ck_assert_uint_eq(fit.builds, 1);
	ck_assert_uint_eq(c.n_msgs, n_msgs);
	/* A limit nothing can meet leaves the last message alone. */
	ck_assert_int_eq(history_build_within(&c, &default_opts, &opts, 10,
	    &out, NULL, &fit, &cause), KF_OK);
	ck_assert_uint_eq(c.n_msgs, 1);
	ck_assert_uint_eq(fit.turns_dropped, 50);
	ck_assert_uint_le(fit.builds, 4);
	buf_free(&out);
	conv_free(&c);
}
END_TEST

/* It drops whole turns, at least one, and stops at the budget. */
START_TEST(history_drop_oldest_bytes_whole_turns)
{
	struct conv	c;
	size_t		turn, left, i;

	long_conv(&c, 10);
	repair_ok(&c, &default_opts);
	ck_assert_uint_eq(c.n_msgs, 41);
	turn = history_msg_bytes(&c.msgs[0]) + history_msg_bytes(&c.msgs[1]) +
	    history_msg_bytes(&c.msgs[2]) + history_msg_bytes(&c.msgs[3]);
	ck_assert_uint_gt(turn, 1000);
	/* Always one turn, all four of its messages. */
	ck_assert_uint_eq(history_drop_oldest_bytes(&c, 1, 0), 1);
	ck_assert_uint_eq(c.n_msgs, 37);
	ck_assert(strncmp(c.msgs[0].blocks[0].text, "turn 1: ", 8) == 0);
	/* Two turns and a byte cover the excess in three. */
	ck_assert_uint_eq(history_drop_oldest_bytes(&c, 2 * turn + 1, 0), 3);
	ck_assert_uint_eq(c.n_msgs, 25);
	/*
	 * Over the budget, it stops once under: here after one turn, where
	 * the excess alone would take them all.  Already under it, the
	 * excess decides (the body's other parts are over).
	 */
	for (left = 0, i = 0; i < c.n_msgs; i++)
		left += history_msg_bytes(&c.msgs[i]);
	ck_assert_uint_eq(history_drop_oldest_bytes(&c, 100 * turn,
	    left - 1), 1);
	ck_assert_uint_eq(c.n_msgs, 21);
	ck_assert_uint_eq(history_drop_oldest_bytes(&c, turn + 1,
	    100 * turn), 2);
	ck_assert_uint_eq(c.n_msgs, 13);
	ck_assert_uint_eq(history_drop_oldest_bytes(&c, 100 * turn, 0), 3);
	ck_assert_uint_eq(c.n_msgs, 1);
	ck_assert_uint_eq(history_drop_oldest_bytes(&c, 100 * turn, 0), 0);
	conv_free(&c);
}
END_TEST

static Suite *
history_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("history");
	tc = tcase_create("repair");
	tcase_add_test(tc, history_prefill_trailing_assistants_dropped);
	tcase_add_test(tc, history_without_user_message_is_einval);
	tcase_add_test(tc, history_same_role_runs_merged_in_order);
	tcase_add_test(tc, history_merge_keeps_cache_points);
	tcase_add_test(tc, history_emptied_messages_removed_and_merged);
	tcase_add_test(tc, history_orphan_and_duplicate_results_dropped);
	tcase_add_test(tc, history_unanswered_tool_uses_dropped);
	tcase_add_test(tc, history_repeated_tool_use_id_keeps_first);
	tcase_add_test(tc, history_result_must_answer_previous_turn);
	tcase_add_test(tc, history_tool_input_empty_keys_removed);
	tcase_add_test(tc, history_unsupported_images_dropped_types_canonical);
	tcase_add_test(tc, history_old_images_become_text);
	tcase_add_test(tc, history_max_image_msgs_zero_keeps_every_image);
	tcase_add_test(tc, history_misplaced_blocks_dropped);
	tcase_add_test(tc, history_repair_is_idempotent);
	tcase_add_test(tc, history_many_drops_keep_order);
	suite_add_tcase(s, tc);
	tc = tcase_create("trim");
	tcase_add_test(tc, history_drop_oldest_turn_takes_whole_exchange);
	tcase_add_test(tc, history_drop_oldest_turn_keeps_last_message);
	tcase_add_test(tc, history_drop_oldest_turn_takes_long_turn);
	tcase_add_test(tc, history_drop_oldest_bytes_whole_turns);
	tcase_add_test(tc, history_build_within_fits_in_few_builds);
	tcase_add_test(tc, history_build_within_leaves_what_fits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(history_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
