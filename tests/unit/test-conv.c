/* test-conv.c: unit tests for the neutral conversation. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "conv.h"
#include "xmalloc.h"

/*
 * Covers: conv_init; conv_add_msg, conv_insert_msg (front, middle, end,
 * past the end) and conv_remove_msg (first, middle, last, out of range)
 * keeping order and contents through many reallocations;
 * conv_msg_add_block, conv_msg_remove_block and conv_block_add_content
 * likewise; zeroed new entries; conv_free, conv_remove_msg,
 * conv_msg_remove_block and conv_block_clear releasing exactly one
 * json_object reference each (checked with json_object_put's "freed"
 * answer on a reference the test keeps) and every string (valgrind);
 * conv_free leaving a reusable conv and accepting NULL;
 * conv_append_system joining with "\n"; conv_msg_text joining only TEXT
 * blocks; conv_role_name; conv_check_limits at and one past each cap
 * (tools, messages, blocks counted with tool result content, stop
 * sequences and their bytes), its cause naming the cap.
 */

static void
add_text(struct conv_msg *m, const char *text)
{
	conv_msg_add_block(m, CONV_BLOCK_TEXT)->text = xstrdup(text);
}

/* The first block's text of message i. */
static const char *
msg_text(const struct conv *c, size_t i)
{
	ck_assert_uint_lt(i, c->n_msgs);
	ck_assert_uint_ge(c->msgs[i].n_blocks, 1);
	return c->msgs[i].blocks[0].text;
}

/* A conv of n messages "m0".."m<n-1>", alternating user and assistant. */
static void
make_conv(struct conv *c, size_t n)
{
	char	name[32];
	size_t	i;

	conv_init(c);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "m%zu", i);
		add_text(conv_add_msg(c, i % 2 == 0 ? CONV_ROLE_USER :
		    CONV_ROLE_ASSISTANT), name);
	}
}

/* A JSON object with one key; the caller owns one reference. */
static json_object *
new_obj(const char *key)
{
	json_object	*o;

	o = json_object_new_object();
	json_object_object_add(o, key, json_object_new_int(1));
	return o;
}

START_TEST(conv_init_zeroes_everything)
{
	struct conv	c;

	memset(&c, 0xa5, sizeof(c));
	conv_init(&c);
	ck_assert_ptr_null(c.system);
	ck_assert_ptr_null(c.msgs);
	ck_assert_uint_eq(c.n_msgs, 0);
	ck_assert_ptr_null(c.tools);
	ck_assert_uint_eq(c.n_tools, 0);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_AUTO);
	ck_assert_int_eq(c.thinking, CONV_THINKING_OFF);
	ck_assert_ptr_null(c.model);
	ck_assert_ptr_null(c.kiro_model);
	ck_assert_int_eq(c.max_tokens, 0);
	ck_assert_int_eq(c.stream, 0);
	ck_assert_ptr_null(c.session_id);
	conv_free(&c);
}
END_TEST

START_TEST(conv_add_msg_keeps_order_and_contents)
{
	struct conv	 c;
	struct conv_msg	*m;
	char		 name[32];
	size_t		 i;

	make_conv(&c, 100);
	ck_assert_uint_eq(c.n_msgs, 100);
	ck_assert_uint_ge(c.cap_msgs, 100);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "m%zu", i);
		ck_assert_str_eq(msg_text(&c, i), name);
		ck_assert_int_eq(c.msgs[i].role, i % 2 == 0 ?
		    CONV_ROLE_USER : CONV_ROLE_ASSISTANT);
		ck_assert_uint_eq(c.msgs[i].n_blocks, 1);
	}
	m = conv_add_msg(&c, CONV_ROLE_ASSISTANT);
	ck_assert_ptr_eq(m, &c.msgs[100]);
	ck_assert_int_eq(m->role, CONV_ROLE_ASSISTANT);
	ck_assert_ptr_null(m->blocks);
	ck_assert_uint_eq(m->n_blocks, 0);
	conv_free(&c);
}
END_TEST

START_TEST(conv_insert_msg_places_message)
{
	struct conv	 c;
	struct conv_msg	*m;

	make_conv(&c, 3);			/* m0 m1 m2 */
	m = conv_insert_msg(&c, 0, CONV_ROLE_ASSISTANT);
	ck_assert_ptr_eq(m, &c.msgs[0]);
	ck_assert_uint_eq(m->n_blocks, 0);
	ck_assert_int_eq(m->role, CONV_ROLE_ASSISTANT);
	add_text(m, "front");			/* front m0 m1 m2 */
	add_text(conv_insert_msg(&c, 2, CONV_ROLE_USER), "mid");
	add_text(conv_insert_msg(&c, 5, CONV_ROLE_USER), "end");
	add_text(conv_insert_msg(&c, 1000, CONV_ROLE_USER), "past");
	ck_assert_uint_eq(c.n_msgs, 7);
	ck_assert_str_eq(msg_text(&c, 0), "front");
	ck_assert_str_eq(msg_text(&c, 1), "m0");
	ck_assert_str_eq(msg_text(&c, 2), "mid");
	ck_assert_str_eq(msg_text(&c, 3), "m1");
	ck_assert_str_eq(msg_text(&c, 4), "m2");
	ck_assert_str_eq(msg_text(&c, 5), "end");
	ck_assert_str_eq(msg_text(&c, 6), "past");
	ck_assert_int_eq(c.msgs[1].role, CONV_ROLE_USER);
	ck_assert_int_eq(c.msgs[3].role, CONV_ROLE_ASSISTANT);
	conv_free(&c);
}
END_TEST

START_TEST(conv_insert_msg_at_front_many_times)
{
	struct conv	c;
	char		name[32];
	size_t		i;

	conv_init(&c);
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "m%zu", i);
		add_text(conv_insert_msg(&c, 0, CONV_ROLE_USER), name);
	}
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "m%zu", 49 - i);
		ck_assert_str_eq(msg_text(&c, i), name);
	}
	conv_free(&c);
}
END_TEST

START_TEST(conv_remove_msg_shifts_the_rest)
{
	struct conv	c;

	make_conv(&c, 6);			/* m0 .. m5 */
	conv_remove_msg(&c, 0);			/* m1 m2 m3 m4 m5 */
	conv_remove_msg(&c, 2);			/* m1 m2 m4 m5 */
	conv_remove_msg(&c, 3);			/* m1 m2 m4 */
	conv_remove_msg(&c, 3);			/* out of range: no-op */
	conv_remove_msg(&c, 99);
	ck_assert_uint_eq(c.n_msgs, 3);
	ck_assert_str_eq(msg_text(&c, 0), "m1");
	ck_assert_str_eq(msg_text(&c, 1), "m2");
	ck_assert_str_eq(msg_text(&c, 2), "m4");
	ck_assert_int_eq(c.msgs[0].role, CONV_ROLE_ASSISTANT);
	ck_assert_int_eq(c.msgs[2].role, CONV_ROLE_USER);
	conv_remove_msg(&c, 0);
	conv_remove_msg(&c, 0);
	conv_remove_msg(&c, 0);
	ck_assert_uint_eq(c.n_msgs, 0);
	conv_remove_msg(&c, 0);
	ck_assert_uint_eq(c.n_msgs, 0);
	add_text(conv_add_msg(&c, CONV_ROLE_USER), "again");
	ck_assert_str_eq(msg_text(&c, 0), "again");
	conv_free(&c);
}
END_TEST

START_TEST(conv_msg_blocks_keep_order_and_type)
{
	struct conv		 c;
	struct conv_msg		*m;
	struct conv_block	*b;
	char			 name[32];
	size_t			 i;

	conv_init(&c);
	m = conv_add_msg(&c, CONV_ROLE_USER);
	for (i = 0; i < 40; i++) {
		b = conv_msg_add_block(m, (enum conv_block_type)(i %
		    CONV_BLOCK__MAX));
		ck_assert_ptr_eq(b, &m->blocks[i]);
		ck_assert_int_eq(b->type, (int)(i % CONV_BLOCK__MAX));
		ck_assert_ptr_null(b->text);
		ck_assert_ptr_null(b->input);
		ck_assert_ptr_null(b->content);
		ck_assert_uint_eq(b->n_content, 0);
		ck_assert_int_eq(b->is_error, 0);
		snprintf(name, sizeof(name), "b%zu", i);
		b->id = xstrdup(name);
	}
	ck_assert_uint_eq(m->n_blocks, 40);
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "b%zu", i);
		ck_assert_str_eq(m->blocks[i].id, name);
		ck_assert_int_eq(m->blocks[i].type, (int)(i % CONV_BLOCK__MAX));
	}
	conv_free(&c);
}
END_TEST

START_TEST(conv_msg_remove_block_shifts_the_rest)
{
	struct conv	 c;
	struct conv_msg	*m;

	conv_init(&c);
	m = conv_add_msg(&c, CONV_ROLE_ASSISTANT);
	add_text(m, "a");
	add_text(m, "b");
	add_text(m, "c");
	add_text(m, "d");
	conv_msg_remove_block(m, 1);		/* a c d */
	conv_msg_remove_block(m, 2);		/* a c */
	conv_msg_remove_block(m, 2);		/* no-op */
	conv_msg_remove_block(m, 500);
	ck_assert_uint_eq(m->n_blocks, 2);
	ck_assert_str_eq(m->blocks[0].text, "a");
	ck_assert_str_eq(m->blocks[1].text, "c");
	conv_msg_remove_block(m, 0);
	ck_assert_str_eq(m->blocks[0].text, "c");
	conv_msg_remove_block(m, 0);
	ck_assert_uint_eq(m->n_blocks, 0);
	add_text(m, "e");
	ck_assert_str_eq(m->blocks[0].text, "e");
	conv_free(&c);
}
END_TEST

START_TEST(conv_block_add_content_nests_in_tool_result)
{
	struct conv		 c;
	struct conv_block	*r, *t;
	char			 name[32];
	size_t			 i;

	conv_init(&c);
	r = conv_msg_add_block(conv_add_msg(&c, CONV_ROLE_USER),
	    CONV_BLOCK_TOOL_RESULT);
	r->id = xstrdup("toolu_1");
	r->is_error = 1;
	for (i = 0; i < 20; i++) {
		t = conv_block_add_content(r, i % 3 == 2 ? CONV_BLOCK_IMAGE :
		    CONV_BLOCK_TEXT);
		ck_assert_ptr_eq(t, &r->content[i]);
		ck_assert_ptr_null(t->text);
		snprintf(name, sizeof(name), "part%zu", i);
		if (t->type == CONV_BLOCK_IMAGE) {
			t->media_type = xstrdup("image/png");
			t->data = xstrdup(name);
		} else
			t->text = xstrdup(name);
	}
	ck_assert_uint_eq(r->n_content, 20);
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "part%zu", i);
		if (i % 3 == 2) {
			ck_assert_int_eq(r->content[i].type, CONV_BLOCK_IMAGE);
			ck_assert_str_eq(r->content[i].data, name);
		} else
			ck_assert_str_eq(r->content[i].text, name);
	}
	ck_assert_str_eq(r->id, "toolu_1");
	ck_assert_int_eq(r->is_error, 1);
	conv_free(&c);
}
END_TEST

START_TEST(conv_free_releases_json_references)
{
	struct conv		 c;
	struct conv_block	*b, *r;
	struct conv_tool	*t;
	json_object		*input, *schema, *inner;

	conv_init(&c);
	input = new_obj("path");
	schema = new_obj("type");
	inner = new_obj("nested");
	b = conv_msg_add_block(conv_add_msg(&c, CONV_ROLE_ASSISTANT),
	    CONV_BLOCK_TOOL_USE);
	b->id = xstrdup("toolu_1");
	b->name = xstrdup("Read");
	b->input = json_object_get(input);	/* the conv's reference */
	r = conv_msg_add_block(conv_add_msg(&c, CONV_ROLE_USER),
	    CONV_BLOCK_TOOL_RESULT);
	r->id = xstrdup("toolu_1");
	conv_block_add_content(r, CONV_BLOCK_TEXT)->input =
	    json_object_get(inner);
	t = conv_add_tool(&c);
	t->name = xstrdup("Read");
	t->description = xstrdup("Reads a file");
	t->schema = json_object_get(schema);

	conv_free(&c);
	/* Our reference is now the last: putting it frees the object. */
	ck_assert_int_eq(json_object_put(input), 1);
	ck_assert_int_eq(json_object_put(schema), 1);
	ck_assert_int_eq(json_object_put(inner), 1);
}
END_TEST

START_TEST(conv_removal_releases_json_references)
{
	struct conv		 c;
	struct conv_msg		*m;
	json_object		*a, *b, *keep;

	conv_init(&c);
	a = new_obj("a");
	b = new_obj("b");
	keep = new_obj("keep");
	m = conv_add_msg(&c, CONV_ROLE_ASSISTANT);
	conv_msg_add_block(m, CONV_BLOCK_TOOL_USE)->input = json_object_get(a);
	conv_msg_add_block(m, CONV_BLOCK_TOOL_USE)->input =
	    json_object_get(keep);
	conv_msg_add_block(conv_add_msg(&c, CONV_ROLE_ASSISTANT),
	    CONV_BLOCK_TOOL_USE)->input = json_object_get(b);

	conv_msg_remove_block(&c.msgs[0], 0);
	ck_assert_int_eq(json_object_put(a), 1);
	conv_remove_msg(&c, 1);
	ck_assert_int_eq(json_object_put(b), 1);
	/* The surviving block still holds its reference. */
	ck_assert_ptr_eq(c.msgs[0].blocks[0].input, keep);
	ck_assert_int_eq(json_object_put(json_object_get(keep)), 0);
	conv_free(&c);
	ck_assert_int_eq(json_object_put(keep), 1);
}
END_TEST

START_TEST(conv_block_clear_frees_and_zeroes)
{
	struct conv_block	 b;
	json_object		*in;

	memset(&b, 0, sizeof(b));
	b.type = CONV_BLOCK_TOOL_RESULT;
	b.id = xstrdup("x");
	b.text = xstrdup("t");
	b.signature = xstrdup("s");
	in = new_obj("i");
	b.input = json_object_get(in);
	conv_block_add_content(&b, CONV_BLOCK_TEXT)->text = xstrdup("c");
	conv_block_clear(&b);
	ck_assert_ptr_null(b.id);
	ck_assert_ptr_null(b.text);
	ck_assert_ptr_null(b.input);
	ck_assert_ptr_null(b.content);
	ck_assert_uint_eq(b.n_content, 0);
	ck_assert_int_eq(json_object_put(in), 1);
	conv_block_clear(NULL);
	conv_msg_clear(NULL);
}
END_TEST

START_TEST(conv_free_leaves_reusable_conv)
{
	struct conv	c;

	make_conv(&c, 10);
	conv_append_system(&c, "sys");
	c.model = xstrdup("claude-sonnet-4-5");
	c.tool_choice_name = xstrdup("Read");
	c.thinking_effort = xstrdup("high");
	c.session_key = xstrdup("key");
	c.session_id = xstrdup("id");
	c.request_id = xstrdup("req");
	c.max_tokens = 100;
	c.stream = 1;
	conv_add_tool(&c)->name = xstrdup("tool");
	conv_free(&c);
	ck_assert_ptr_null(c.msgs);
	ck_assert_uint_eq(c.n_msgs, 0);
	ck_assert_uint_eq(c.cap_msgs, 0);
	ck_assert_ptr_null(c.system);
	ck_assert_ptr_null(c.model);
	ck_assert_ptr_null(c.tools);
	ck_assert_uint_eq(c.n_tools, 0);
	ck_assert_int_eq(c.max_tokens, 0);
	ck_assert_int_eq(c.stream, 0);

	add_text(conv_add_msg(&c, CONV_ROLE_USER), "again");
	ck_assert_uint_eq(c.n_msgs, 1);
	conv_free(&c);
	conv_free(&c);
	conv_free(NULL);
}
END_TEST

START_TEST(conv_add_tool_keeps_order)
{
	struct conv		 c;
	struct conv_tool	*t;
	char			 name[32];
	size_t			 i;

	conv_init(&c);
	for (i = 0; i < 30; i++) {
		t = conv_add_tool(&c);
		ck_assert_ptr_null(t->name);
		ck_assert_ptr_null(t->schema);
		snprintf(name, sizeof(name), "tool%zu", i);
		t->name = xstrdup(name);
		t->schema = new_obj("type");
	}
	ck_assert_uint_eq(c.n_tools, 30);
	for (i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "tool%zu", i);
		ck_assert_str_eq(c.tools[i].name, name);
	}
	conv_free(&c);
}
END_TEST

START_TEST(conv_remove_tool_shifts)
{
	struct conv	c;
	char		name[32];
	size_t		i;

	conv_init(&c);
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "tool%zu", i);
		conv_add_tool(&c)->name = xstrdup(name);
		c.tools[i].description = xstrdup("d");
		c.tools[i].schema = new_obj("type");
	}
	conv_remove_tool(&c, 1);
	conv_remove_tool(&c, 2);	/* tool3, now last */
	conv_remove_tool(&c, 7);	/* out of range: nothing */
	ck_assert_uint_eq(c.n_tools, 2);
	ck_assert_str_eq(c.tools[0].name, "tool0");
	ck_assert_str_eq(c.tools[1].name, "tool2");
	conv_remove_tool(&c, 0);
	ck_assert_str_eq(c.tools[0].name, "tool2");
	/* The freed slot is reused. */
	conv_add_tool(&c)->name = xstrdup("new");
	ck_assert_uint_eq(c.n_tools, 2);
	ck_assert_str_eq(c.tools[1].name, "new");
	conv_free(&c);
}
END_TEST

START_TEST(conv_append_system_joins_with_newline)
{
	struct conv	c;

	conv_init(&c);
	conv_append_system(&c, NULL);
	ck_assert_ptr_null(c.system);
	conv_append_system(&c, "You are helpful.");
	ck_assert_str_eq(c.system, "You are helpful.");
	conv_append_system(&c, "Be brief.");
	ck_assert_str_eq(c.system, "You are helpful.\nBe brief.");
	conv_append_system(&c, NULL);
	ck_assert_str_eq(c.system, "You are helpful.\nBe brief.");
	conv_append_system(&c, "Line\nbreaks %s kept");
	ck_assert_str_eq(c.system,
	    "You are helpful.\nBe brief.\nLine\nbreaks %s kept");
	conv_free(&c);
}
END_TEST

START_TEST(conv_msg_text_joins_only_text_blocks)
{
	struct conv	 c;
	struct conv_msg	*m;
	char		*s;

	conv_init(&c);
	m = conv_add_msg(&c, CONV_ROLE_ASSISTANT);
	s = conv_msg_text(m, "|");
	ck_assert_str_eq(s, "");
	free(s);

	conv_msg_add_block(m, CONV_BLOCK_THINKING)->text = xstrdup("thought");
	add_text(m, "first");
	conv_msg_add_block(m, CONV_BLOCK_TOOL_USE)->name = xstrdup("Read");
	conv_msg_add_block(m, CONV_BLOCK_TEXT);		/* text NULL */
	add_text(m, "second");
	conv_msg_add_block(m, CONV_BLOCK_IMAGE)->data = xstrdup("QUJD");
	add_text(m, "third");
	s = conv_msg_text(m, "\n\n");
	ck_assert_str_eq(s, "first\n\nsecond\n\nthird");
	free(s);
	s = conv_msg_text(m, "");
	ck_assert_str_eq(s, "firstsecondthird");
	free(s);

	m = conv_add_msg(&c, CONV_ROLE_USER);
	conv_msg_add_block(m, CONV_BLOCK_THINKING)->text = xstrdup("only");
	s = conv_msg_text(m, "|");
	ck_assert_str_eq(s, "");
	free(s);
	conv_free(&c);
}
END_TEST

START_TEST(conv_role_name_names_roles)
{
	ck_assert_str_eq(conv_role_name(CONV_ROLE_USER), "user");
	ck_assert_str_eq(conv_role_name(CONV_ROLE_ASSISTANT), "assistant");
	ck_assert_str_eq(conv_role_name(CONV_ROLE__MAX), "unknown");
	ck_assert_str_eq(conv_role_name((enum conv_role)-1), "unknown");
}
END_TEST

/* KF_EINVAL and a cause holding want, or KF_OK when want is NULL. */
static void
assert_limits(const struct conv *c, const char *want)
{
	char	*cause = NULL;

	if (want == NULL) {
		ck_assert_int_eq(conv_check_limits(c, &cause), KF_OK);
		ck_assert_ptr_null(cause);
		return;
	}
	ck_assert_int_eq(conv_check_limits(c, &cause), KF_EINVAL);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, want) != NULL, "cause \"%s\" lacks \"%s\"",
	    cause, want);
	free(cause);
}

START_TEST(conv_limits_tools)
{
	struct conv	c;
	int		i;

	make_conv(&c, 1);
	for (i = 0; i < CONV_MAX_TOOLS; i++)
		conv_add_tool(&c)->name = xasprintf("t%d", i);
	assert_limits(&c, NULL);
	conv_add_tool(&c)->name = xstrdup("one_more");
	assert_limits(&c, "too many tools: 1001 (at most 1000 per request)");
	conv_free(&c);
}
END_TEST

START_TEST(conv_limits_messages)
{
	struct conv	c;

	make_conv(&c, CONV_MAX_MESSAGES);
	assert_limits(&c, NULL);
	conv_add_msg(&c, CONV_ROLE_USER);
	assert_limits(&c, "too many messages: 10001 (at most 10000 per "
	    "request)");
	conv_free(&c);
}
END_TEST

/* Blocks inside tool results count: 4 messages x 5000 blocks is the cap. */
START_TEST(conv_limits_blocks_count_tool_result_content)
{
	struct conv		 c;
	struct conv_msg		*m;
	struct conv_block	*r = NULL;
	size_t			 i, j;

	conv_init(&c);
	for (i = 0; i < 4; i++) {
		m = conv_add_msg(&c, i % 2 ? CONV_ROLE_ASSISTANT :
		    CONV_ROLE_USER);
		for (j = 0; j < CONV_MAX_BLOCKS / 4; j++)
			add_text(m, "x");
	}
	assert_limits(&c, NULL);
	/* One result holding one text: two blocks more than the cap. */
	conv_msg_remove_block(&c.msgs[0], 0);
	r = conv_msg_add_block(&c.msgs[0], CONV_BLOCK_TOOL_RESULT);
	r->id = xstrdup("toolu_1");
	conv_block_add_content(r, CONV_BLOCK_TEXT)->text = xstrdup("ok");
	assert_limits(&c, "too many content blocks: 20001 (at most 20000 per "
	    "request, counting those inside tool results)");
	conv_free(&c);
}
END_TEST

START_TEST(conv_limits_stop_sequences)
{
	struct conv	c;
	char		seq[CONV_MAX_STOP_BYTES + 2];
	int		i;

	make_conv(&c, 1);
	for (i = 0; i < CONV_MAX_STOP; i++) {
		snprintf(seq, sizeof(seq), "STOP%d", i);
		conv_add_stop(&c, seq);
	}
	assert_limits(&c, NULL);
	conv_add_stop(&c, "one more");
	assert_limits(&c, "too many stop sequences: 17 (at most 16)");
	conv_free(&c);

	make_conv(&c, 1);
	memset(seq, 'a', CONV_MAX_STOP_BYTES);
	seq[CONV_MAX_STOP_BYTES] = '\0';
	conv_add_stop(&c, "END");
	conv_add_stop(&c, seq);
	assert_limits(&c, NULL);
	seq[CONV_MAX_STOP_BYTES] = 'a';
	seq[CONV_MAX_STOP_BYTES + 1] = '\0';
	conv_add_stop(&c, seq);
	assert_limits(&c, "stop sequence 2 is 257 bytes long (at most 256 "
	    "bytes each)");
	conv_free(&c);
}
END_TEST

static Suite *
conv_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("conv");
	tc = tcase_create("messages");
	tcase_add_test(tc, conv_init_zeroes_everything);
	tcase_add_test(tc, conv_add_msg_keeps_order_and_contents);
	tcase_add_test(tc, conv_insert_msg_places_message);
	tcase_add_test(tc, conv_insert_msg_at_front_many_times);
	tcase_add_test(tc, conv_remove_msg_shifts_the_rest);
	tcase_add_test(tc, conv_msg_blocks_keep_order_and_type);
	tcase_add_test(tc, conv_msg_remove_block_shifts_the_rest);
	tcase_add_test(tc, conv_block_add_content_nests_in_tool_result);
	tcase_add_test(tc, conv_add_tool_keeps_order);
	tcase_add_test(tc, conv_remove_tool_shifts);
	suite_add_tcase(s, tc);

	tc = tcase_create("ownership");
	tcase_add_test(tc, conv_free_releases_json_references);
	tcase_add_test(tc, conv_removal_releases_json_references);
	tcase_add_test(tc, conv_block_clear_frees_and_zeroes);
	tcase_add_test(tc, conv_free_leaves_reusable_conv);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_test(tc, conv_append_system_joins_with_newline);
	tcase_add_test(tc, conv_msg_text_joins_only_text_blocks);
	tcase_add_test(tc, conv_role_name_names_roles);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, conv_limits_tools);
	tcase_add_test(tc, conv_limits_messages);
	tcase_add_test(tc, conv_limits_blocks_count_tool_result_content);
	tcase_add_test(tc, conv_limits_stop_sequences);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(conv_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
