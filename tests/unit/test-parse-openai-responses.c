/* test-parse-openai-responses.c: Responses request bodies into the neutral conversation. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "conv.h"
#include "err.h"
#include "json.h"
#include "openai-responses.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * Covers openai_responses_parse (fcgi/parse-openai-responses.c): input as a
 * string and as items (messages of every role, content parts, function_call /
 * function_call_output, custom_tool_call / custom_tool_call_output,
 * reasoning dropped), consecutive items of one role sharing a message,
 * developer/system text before the first turn becoming the system
 * prompt, instructions, input_image through the fetch callback (its
 * failure, file_id refused), function and custom tools (the custom
 * schema with its grammar, the custom name list), hosted tools skipped,
 * tool_choice in every form, parallel_tool_calls, reasoning.effort,
 * text.format, max_output_tokens, stream, prompt_cache_key / user,
 * previous_response_id refused, the echo fields and their text as the
 * request spelled it (compact only), and a table of bad
 * fields whose cause and param name the field.  Bodies are written with
 * ' for " to keep them readable.
 */

#define M	"'model':'claude-sonnet-4-5',"
#define PNG_B64	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4" \
	"nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="

static int	fetch_calls;

/* A fake imgfetch: data:image/png URLs work, "bad" ones fail. */
static enum kf_err
fake_fetch(void *arg, const char *url, char **media_type, char **b64,
    char **cause)
{
	ck_assert_ptr_eq(arg, &fetch_calls);
	fetch_calls++;
	if (strncmp(url, "data:image/png;base64,", 22) == 0) {
		*media_type = xstrdup("image/png");
		*b64 = xstrdup(url + 22);
		return KF_OK;
	}
	*cause = xstrdup("could not fetch the image from example.com");
	return KF_EINVAL;
}

static char *
q(const char *s)
{
	char	*out = xstrdup(s), *p;

	for (p = out; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return out;
}

static enum kf_err
parse(const char *body, struct conv *c, struct openai_responses_req *r,
    char **cause, char **param)
{
	char		*b = q(body);
	enum kf_err	 er;

	conv_init(c);
	memset(r, 0, sizeof(*r));
	er = openai_responses_parse(b, strlen(b), c, r, fake_fetch,
	    &fetch_calls, cause, param);
	free(b);
	return er;
}

static void
parse_ok(const char *body, struct conv *c, struct openai_responses_req *r)
{
	char		*why = NULL, *param = NULL;
	enum kf_err	 er;

	er = parse(body, c, r, &why, &param);
	ck_assert_msg(er == KF_OK, "parse of %s failed: %s", body,
	    why != NULL ? why : "(no cause)");
	ck_assert_ptr_null(why);
	ck_assert_ptr_null(param);
}

static void
done(struct conv *c, struct openai_responses_req *r)
{
	conv_free(c);
	openai_responses_req_free(r);
}

/* A body that must fail with this param and a cause containing text. */
static void
parse_bad(const char *body, const char *want_param, const char *text)
{
	struct conv		 c;
	struct openai_responses_req	 r;
	char			*why = NULL, *param = NULL;
	enum kf_err		 er;

	er = parse(body, &c, &r, &why, &param);
	ck_assert_msg(er == KF_EINVAL, "%s parsed", body);
	ck_assert_msg(why != NULL && strstr(why, text) != NULL,
	    "%s: cause \"%s\" lacks \"%s\"", body, why ? why : "", text);
	if (want_param != NULL) {
		ck_assert_msg(param != NULL && strcmp(param, want_param) == 0,
		    "%s: param %s, want %s", body, param ? param : "(null)",
		    want_param);
		/* The cause starts with the same path. */
		ck_assert_msg(strncmp(why, want_param, strlen(want_param)) == 0,
		    "cause %s", why);
	}
	free(why);
	free(param);
	done(&c, &r);
}

START_TEST(input_string_is_one_user_message)
{
	struct conv		c;
	struct openai_responses_req	r;

	parse_ok("{" M "'input':'hi there','stream':true,"
	    "'max_output_tokens':321}", &c, &r);
	ck_assert_uint_eq(c.n_msgs, 1);
	ck_assert_int_eq(c.msgs[0].role, CONV_ROLE_USER);
	ck_assert_str_eq(c.msgs[0].blocks[0].text, "hi there");
	ck_assert_str_eq(c.model, "claude-sonnet-4-5");
	ck_assert_str_eq(c.kiro_model, "claude-sonnet-4.5");
	ck_assert_int_eq(c.stream, 1);
	ck_assert_int_eq(c.max_tokens, 321);
	ck_assert_int_eq(c.thinking, CONV_THINKING_OFF);
	ck_assert_int_eq(c.single_tool_call, 0);
	ck_assert_ptr_null(c.system);
	ck_assert_uint_eq(r.n_custom, 0);
	done(&c, &r);
}
END_TEST

START_TEST(messages_roles_and_parts)
{
	struct conv		c;
	struct openai_responses_req	r;

	parse_ok("{" M "'instructions':'Be brief.','input':["
	    "{'type':'message','role':'developer','content':[{'type':"
	    "'input_text','text':'Dev one'},{'type':'input_text','text':"
	    "'Dev two'}]},"
	    "{'role':'system','content':'Sys three'},"
	    "{'type':'message','role':'user','content':[{'type':'input_text',"
	    "'text':'q1'}]},"
	    "{'role':'assistant','content':[{'type':'output_text','text':"
	    "'a1'},{'type':'refusal','refusal':'no'}]},"
	    "{'role':'developer','content':'late rule'},"
	    "{'role':'user','content':'q2'}]}", &c, &r);
	ck_assert_str_eq(c.system, "Be brief.\nDev one\nDev two\nSys three");
	ck_assert_uint_eq(c.n_msgs, 3);
	ck_assert_int_eq(c.msgs[0].role, CONV_ROLE_USER);
	ck_assert_str_eq(c.msgs[0].blocks[0].text, "q1");
	ck_assert_int_eq(c.msgs[1].role, CONV_ROLE_ASSISTANT);
	ck_assert_uint_eq(c.msgs[1].n_blocks, 2);
	ck_assert_str_eq(c.msgs[1].blocks[0].text, "a1");
	ck_assert_str_eq(c.msgs[1].blocks[1].text, "no");
	/* A developer message mid-conversation stays in place as user text. */
	ck_assert_int_eq(c.msgs[2].role, CONV_ROLE_USER);
	ck_assert_uint_eq(c.msgs[2].n_blocks, 2);
	ck_assert_str_eq(c.msgs[2].blocks[0].text, "late rule");
	ck_assert_str_eq(c.msgs[2].blocks[1].text, "q2");
	done(&c, &r);
}
END_TEST

START_TEST(tool_call_round_trip)
{
	struct conv		 c;
	struct openai_responses_req	 r;
	struct conv_block	*b;
	const char		*s;

	parse_ok("{" M "'input':["
	    "{'role':'user','content':'do things'},"
	    "{'type':'reasoning','id':'rs_1','summary':[{'type':"
	    "'summary_text','text':'hmm'}],'encrypted_content':null},"
	    "{'type':'message','role':'assistant','content':[{'type':"
	    "'output_text','text':'Sure.'}]},"
	    "{'type':'function_call','id':'fc_1','call_id':'call_1','name':"
	    "'get_weather','arguments':'{\\'city\\':\\'Paris\\'}'},"
	    "{'type':'custom_tool_call','call_id':'call_2','name':"
	    "'apply_patch','input':'*** Begin Patch'},"
	    "{'type':'function_call','call_id':'call_3','name':'noargs',"
	    "'arguments':''},"
	    "{'type':'function_call_output','call_id':'call_1','output':"
	    "'sunny'},"
	    "{'type':'custom_tool_call_output','call_id':'call_2','output':"
	    "[{'type':'input_text','text':'ok'},{'type':'input_image',"
	    "'image_url':'data:image/png;base64," PNG_B64 "'}]},"
	    "{'type':'function_call_output','call_id':'call_3','output':''},"
	    "{'role':'user','content':'next'}]}", &c, &r);
	ck_assert_uint_eq(c.n_msgs, 3);
	/* The reasoning item is gone; text and calls are one turn. */
	ck_assert_int_eq(c.msgs[1].role, CONV_ROLE_ASSISTANT);
	ck_assert_uint_eq(c.msgs[1].n_blocks, 4);
	ck_assert_int_eq(c.msgs[1].blocks[0].type, CONV_BLOCK_TEXT);
	b = &c.msgs[1].blocks[1];
	ck_assert_int_eq(b->type, CONV_BLOCK_TOOL_USE);
	ck_assert_str_eq(b->id, "call_1");
	ck_assert_str_eq(b->name, "get_weather");
	ck_assert_int_eq(json_get_str(b->input, "city", &s), 1);
	ck_assert_str_eq(s, "Paris");
	b = &c.msgs[1].blocks[2];
	ck_assert_str_eq(b->id, "call_2");
	ck_assert_int_eq(json_get_str(b->input, "input", &s), 1);
	ck_assert_str_eq(s, "*** Begin Patch");
	b = &c.msgs[1].blocks[3];
	ck_assert(json_object_is_type(b->input, json_type_object));
	ck_assert_int_eq(json_object_object_length(b->input), 0);
	/* The outputs and the next text are one user turn. */
	ck_assert_int_eq(c.msgs[2].role, CONV_ROLE_USER);
	ck_assert_uint_eq(c.msgs[2].n_blocks, 4);
	b = &c.msgs[2].blocks[0];
	ck_assert_int_eq(b->type, CONV_BLOCK_TOOL_RESULT);
	ck_assert_str_eq(b->id, "call_1");
	ck_assert_uint_eq(b->n_content, 1);
	ck_assert_str_eq(b->content[0].text, "sunny");
	b = &c.msgs[2].blocks[1];
	ck_assert_str_eq(b->id, "call_2");
	ck_assert_uint_eq(b->n_content, 2);
	ck_assert_int_eq(b->content[1].type, CONV_BLOCK_IMAGE);
	ck_assert_str_eq(b->content[1].media_type, "image/png");
	ck_assert_str_eq(b->content[1].data, PNG_B64);
	ck_assert_str_eq(c.msgs[2].blocks[2].id, "call_3");
	ck_assert_str_eq(c.msgs[2].blocks[3].text, "next");
	done(&c, &r);
}
END_TEST

/* A block's text (a TEXT block, or a TOOL_RESULT's first content). */
static const char *
block_text(const struct conv_block *b)
{
	if (b->type == CONV_BLOCK_TOOL_RESULT)
		return b->n_content > 0 ? b->content[0].text : NULL;
	return b->text;
}

/* Asserts that block i of message m is a note containing each of want. */
static void
assert_note(const struct conv *c, size_t m, size_t i, const char *want1,
    const char *want2)
{
	const struct conv_block	*b;

	ck_assert_uint_lt(m, c->n_msgs);
	ck_assert_uint_lt(i, c->msgs[m].n_blocks);
	b = &c->msgs[m].blocks[i];
	ck_assert_int_eq(b->type, CONV_BLOCK_TEXT);
	ck_assert_msg(strstr(b->text, want1) != NULL, "note \"%s\" lacks "
	    "\"%s\"", b->text, want1);
	ck_assert_msg(want2 == NULL || strstr(b->text, want2) != NULL,
	    "note \"%s\" lacks \"%s\"", b->text, want2);
}

/*
 * A Codex history with the client-run tools' calls and outputs: each call
 * a tool use in the assistant turn, each output its result in the user
 * turn, paired by call_id.
 */
START_TEST(client_tool_items_are_tool_pairs)
{
	struct conv		 c;
	struct openai_responses_req	 r;
	struct conv_block	*b;
	json_object		*v;
	const char		*s;

	parse_ok("{" M "'input':["
	    "{'role':'user','content':'fix it'},"
	    "{'type':'local_shell_call','id':'lsh_1','call_id':'ls1',"
	    "'status':'completed','action':{'type':'exec','command':['ls',"
	    "'-l'],'working_directory':'/tmp','timeout_ms':1000,'env':{}}},"
	    "{'type':'shell_call','id':'sh_1','call_id':'sh1','status':"
	    "'completed','action':{'commands':['pwd'],'timeout_ms':500}},"
	    "{'type':'apply_patch_call','id':'ap_1','call_id':'ap1','status':"
	    "'completed','operation':{'type':'update_file','path':'a.c',"
	    "'diff':'@@ -1 +1 @@'}},"
	    "{'type':'computer_call','id':'cu_1','call_id':'cu1','action':"
	    "{'type':'click','x':1,'y':2},'pending_safety_checks':[],"
	    "'status':'completed'},"
	    "{'type':'tool_search_call','id':'ts_1','call_id':'ts1',"
	    "'execution':'client','status':'completed','arguments':{'query':"
	    "'deploy'}},"
	    "{'type':'local_shell_call_output','id':'ls1','output':'a.c\\n'},"
	    "{'type':'shell_call_output','call_id':'sh1','output':[{'stdout':"
	    "'/home','stderr':'warn','outcome':{'type':'exit','exit_code':2}}]},"
	    "{'type':'apply_patch_call_output','call_id':'ap1','status':"
	    "'failed','output':'no such file'},"
	    "{'type':'computer_call_output','call_id':'cu1','output':{'type':"
	    "'computer_screenshot','image_url':'data:image/png;base64,"
	    PNG_B64 "'}},"
	    "{'type':'tool_search_output','id':'tso_1','call_id':'ts1',"
	    "'execution':'client','status':'completed','tools':[{'type':"
	    "'function','name':'deploy','description':'Ship it'}]},"
	    "{'type':'custom_tool_call_output','call_id':'x9','output':'ok'}"
	    "]}", &c, &r);
	ck_assert_uint_eq(c.n_msgs, 3);
	ck_assert_int_eq(c.msgs[1].role, CONV_ROLE_ASSISTANT);
	ck_assert_uint_eq(c.msgs[1].n_blocks, 5);
	b = &c.msgs[1].blocks[0];
	ck_assert_int_eq(b->type, CONV_BLOCK_TOOL_USE);
	ck_assert_str_eq(b->id, "ls1");
	ck_assert_str_eq(b->name, "local_shell");
	/* The exec action's fields, without its type. */
	ck_assert_int_eq(json_get_arr(b->input, "command", &v), 1);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v,
	    1)), "-l");
	ck_assert_int_eq(json_get_str(b->input, "working_directory", &s), 1);
	ck_assert_int_eq(json_object_object_get_ex(b->input, "type", NULL), 0);
	b = &c.msgs[1].blocks[1];
	ck_assert_str_eq(b->name, "shell");
	ck_assert_str_eq(b->id, "sh1");
	ck_assert_int_eq(json_get_arr(b->input, "commands", &v), 1);
	b = &c.msgs[1].blocks[2];
	ck_assert_str_eq(b->name, "apply_patch");
	ck_assert_int_eq(json_get_str(b->input, "path", &s), 1);
	ck_assert_str_eq(s, "a.c");
	b = &c.msgs[1].blocks[3];
	ck_assert_str_eq(b->name, "computer");
	ck_assert_int_eq(json_get_str(b->input, "type", &s), 1);
	ck_assert_str_eq(s, "click");
	b = &c.msgs[1].blocks[4];
	ck_assert_str_eq(b->name, "tool_search");
	ck_assert_int_eq(json_get_str(b->input, "query", &s), 1);
	ck_assert_int_eq(c.msgs[2].role, CONV_ROLE_USER);
	ck_assert_uint_eq(c.msgs[2].n_blocks, 6);
	b = &c.msgs[2].blocks[0];
	ck_assert_int_eq(b->type, CONV_BLOCK_TOOL_RESULT);
	ck_assert_str_eq(b->id, "ls1");
	ck_assert_str_eq(block_text(b), "a.c\n");
	b = &c.msgs[2].blocks[1];
	ck_assert_str_eq(b->id, "sh1");
	ck_assert_ptr_nonnull(strstr(block_text(b), "/home"));
	ck_assert_ptr_nonnull(strstr(block_text(b), "warn"));
	ck_assert_ptr_nonnull(strstr(block_text(b), "exit code 2"));
	b = &c.msgs[2].blocks[2];
	ck_assert_str_eq(b->id, "ap1");
	ck_assert_int_eq(b->is_error, 1);
	ck_assert_str_eq(block_text(b), "no such file");
	b = &c.msgs[2].blocks[3];
	ck_assert_str_eq(b->id, "cu1");
	ck_assert_uint_eq(b->n_content, 1);
	ck_assert_int_eq(b->content[0].type, CONV_BLOCK_IMAGE);
	ck_assert_str_eq(b->content[0].data, PNG_B64);
	b = &c.msgs[2].blocks[4];
	ck_assert_str_eq(b->id, "ts1");
	ck_assert_ptr_nonnull(strstr(block_text(b), "deploy: Ship it"));
	ck_assert_str_eq(c.msgs[2].blocks[5].id, "x9");
	done(&c, &r);
}
END_TEST

/*
 * The records of OpenAI's hosted tools, and items that point at what
 * OpenAI stored, become notes keeping what the model can use.
 */
START_TEST(hosted_items_are_notes)
{
	struct conv		c;
	struct openai_responses_req	r;

	parse_ok("{" M "'input':["
	    "{'type':'item_reference','id':'msg_9'},"
	    "{'type':'compaction','id':'cmp_1','encrypted_content':'zz'},"
	    "{'role':'user','content':'look things up'},"
	    "{'type':'web_search_call','id':'ws_1','status':'completed',"
	    "'action':{'type':'search','query':'kiro pricing','sources':[{"
	    "'type':'url','url':'https://kiro.dev/pricing'}]}},"
	    "{'type':'web_search_call','id':'ws_2','status':'completed',"
	    "'action':{'type':'open_page','url':'https://a.example/'}},"
	    "{'type':'file_search_call','id':'fs_1','status':'completed',"
	    "'queries':['q one','q two'],'results':[{'filename':'notes.md',"
	    "'text':'the answer is 42','score':0.9}]},"
	    "{'type':'image_generation_call','id':'ig_1','status':'completed',"
	    "'result':'AAAA','revised_prompt':'a red fox'},"
	    "{'type':'image_generation_call','id':'ig_2','status':'completed',"
	    "'result':null},"
	    "{'type':'code_interpreter_call','id':'ci_1','status':'completed',"
	    "'container_id':'c1','code':'print(6*7)','outputs':[{'type':"
	    "'logs','logs':'42'}]},"
	    "{'type':'tool_search_call','id':'ts_1','call_id':null,"
	    "'execution':'server','status':'completed','arguments':{'query':"
	    "'deploy guide'}},"
	    "{'type':'tool_search_output','id':'tso_1','call_id':null,"
	    "'execution':'server','status':'completed','tools':[{'type':"
	    "'function','name':'read_guide','description':'Read it'}]},"
	    "{'type':'mcp_list_tools','id':'ml_1','server_label':'gh','tools':"
	    "[{'name':'search_issues','input_schema':{}}]},"
	    "{'type':'mcp_call','id':'mc_1','server_label':'gh','name':"
	    "'search_issues','arguments':'{\\'q\\':\\'bug\\'}',"
	    "'output':'3 issues','error':null},"
	    "{'type':'mcp_approval_request','id':'mr_1','server_label':'gh',"
	    "'name':'close_issue','arguments':'{}'},"
	    "{'type':'reasoning','id':'rs_1','summary':[]},"
	    "{'type':'mcp_approval_response','approval_request_id':'mr_1',"
	    "'approve':false,'reason':'not now'},"
	    "{'type':'additional_tools','role':'developer','tools':[]},"
	    "{'type':'hologram_call','id':'h1','role':'assistant'}"
	    "]}", &c, &r);
	ck_assert_uint_eq(c.n_msgs, 4);
	ck_assert_int_eq(c.msgs[0].role, CONV_ROLE_USER);
	assert_note(&c, 0, 0, "msg_9", "not available");
	assert_note(&c, 0, 1, "compacted", NULL);
	ck_assert_str_eq(c.msgs[0].blocks[2].text, "look things up");
	ck_assert_int_eq(c.msgs[1].role, CONV_ROLE_ASSISTANT);
	ck_assert_uint_eq(c.msgs[1].n_blocks, 11);
	assert_note(&c, 1, 0, "[web search: query kiro pricing]",
	    "https://kiro.dev/pricing");
	assert_note(&c, 1, 1, "https://a.example/", NULL);
	assert_note(&c, 1, 2, "q one; q two", "notes.md:\nthe answer is 42");
	assert_note(&c, 1, 3, "[image generated: a red fox]", NULL);
	assert_note(&c, 1, 4, "[image generated]", NULL);
	assert_note(&c, 1, 5, "print(6*7)", "42");
	assert_note(&c, 1, 6, "[tool search:", "deploy guide");
	assert_note(&c, 1, 7, "read_guide: Read it", NULL);
	assert_note(&c, 1, 8, "gh", "search_issues");
	assert_note(&c, 1, 9, "gh.search_issues({\"q\":\"bug\"})",
	    "3 issues");
	assert_note(&c, 1, 10, "approval requested", "gh.close_issue");
	/* The approval answer and an unknown item are the user's. */
	ck_assert_int_eq(c.msgs[2].role, CONV_ROLE_USER);
	assert_note(&c, 2, 0, "denied", "not now");
	assert_note(&c, 2, 1, "[additional_tools item]", NULL);
	/* An unknown item with an assistant role stays the assistant's. */
	ck_assert_int_eq(c.msgs[3].role, CONV_ROLE_ASSISTANT);
	assert_note(&c, 3, 0, "[hologram_call item]", NULL);
	done(&c, &r);
}
END_TEST

/*
 * Codex 0.169 (OpenAI provider) opens the input with a developer
 * additional_tools item and ends it with configuration_update: the
 * developer instructions after the first stay the system prompt.
 */
START_TEST(codex_unknown_items_keep_the_system_prompt)
{
	struct conv		c;
	struct openai_responses_req	r;

	parse_ok("{" M "'input':["
	    "{'type':'additional_tools','id':'at_1','role':'developer',"
	    "'tools':[{'type':'namespace','name':'functions','tools':[]}]},"
	    "{'type':'message','role':'developer','content':[{'type':"
	    "'input_text','text':'You are Codex.'}]},"
	    "{'type':'message','role':'user','content':[{'type':'input_text',"
	    "'text':'hi'}]},"
	    "{'type':'configuration_update','reasoning':{'effort':'low'}}]}",
	    &c, &r);
	ck_assert_str_eq(c.system, "[additional_tools item]\nYou are Codex.");
	ck_assert_uint_eq(c.n_msgs, 1);
	ck_assert_uint_eq(c.msgs[0].n_blocks, 2);
	ck_assert_str_eq(c.msgs[0].blocks[0].text, "hi");
	assert_note(&c, 0, 1, "[configuration_update item]", NULL);
	done(&c, &r);
}
END_TEST

/*
 * The function tools a tool search found are offered to Kiro, once each,
 * after the request's own tools (which win a name clash).
 */
START_TEST(tool_search_found_tools_are_offered)
{
	struct conv		c;
	struct openai_responses_req	r;
	json_object		*props;

	parse_ok("{" M "'input':["
	    "{'role':'user','content':'deploy'},"
	    "{'type':'tool_search_call','call_id':null,'execution':'server',"
	    "'arguments':{'query':'deploy'}},"
	    "{'type':'tool_search_output','call_id':null,'execution':"
	    "'server','tools':[{'type':'function','name':'read_guide',"
	    "'description':'Read it','parameters':{'type':'object',"
	    "'properties':{'path':{'type':'string'}}}},{'type':'function',"
	    "'name':'f','description':'shadowed'},{'type':'namespace','name':"
	    "'ns'},{'type':'function','name':'read_guide'}]},"
	    "{'type':'function_call','call_id':'c1','name':'read_guide',"
	    "'arguments':'{}'}],"
	    "'tools':[{'type':'function','name':'f','description':'mine'}]}",
	    &c, &r);
	ck_assert_uint_eq(c.n_tools, 2);
	ck_assert_str_eq(c.tools[0].name, "f");
	ck_assert_str_eq(c.tools[0].description, "mine");
	ck_assert_str_eq(c.tools[1].name, "read_guide");
	ck_assert_str_eq(c.tools[1].description, "Read it");
	ck_assert_int_eq(json_get_obj(c.tools[1].schema, "properties",
	    &props), 1);
	ck_assert(json_object_object_get_ex(props, "path", NULL));
	done(&c, &r);
}
END_TEST

/* A screenshot whose URL cannot be fetched is a note, not an error. */
START_TEST(screenshot_fetch_failure_is_a_note)
{
	struct conv		c;
	struct openai_responses_req	r;

	parse_ok("{" M "'input':["
	    "{'type':'computer_call','call_id':'cu1','action':{'type':"
	    "'screenshot'}},"
	    "{'type':'computer_call_output','call_id':'cu1','output':{'type':"
	    "'computer_screenshot','image_url':'https://bad.example/x.png'}},"
	    "{'type':'computer_call_output','call_id':'cu2','output':{'type':"
	    "'computer_screenshot','file_id':'file_1'}}]}", &c, &r);
	ck_assert_uint_eq(c.n_msgs, 2);
	ck_assert_uint_eq(c.msgs[1].n_blocks, 2);
	ck_assert_int_eq(c.msgs[1].blocks[0].content[0].type, CONV_BLOCK_TEXT);
	ck_assert_ptr_nonnull(strstr(block_text(&c.msgs[1].blocks[0]),
	    "screenshot"));
	ck_assert_ptr_nonnull(strstr(block_text(&c.msgs[1].blocks[1]),
	    "screenshot"));
	done(&c, &r);
}
END_TEST

/*
 * local_shell in tools is a function Kiro can call, named in the request
 * so its calls go back as local_shell_call items; the hosted tools go.
 */
START_TEST(local_shell_tool_is_callable)
{
	struct conv		c;
	struct openai_responses_req	r;
	json_object		*props, *v;

	parse_ok("{" M "'input':'x','tools':["
	    "{'type':'local_shell'},"
	    "{'type':'web_search_preview'},{'type':'image_generation'},"
	    "{'type':'tool_search'},{'type':'file_search','vector_store_ids':"
	    "['vs']},{'type':'code_interpreter','container':{'type':'auto'}},"
	    "{'type':'computer_use_preview','display_width':1,"
	    "'display_height':1,'environment':'linux'},"
	    "{'type':'mcp','server_label':'gh','server_url':'https://x'},"
	    "{'type':'function','name':'f'}],'tool_choice':'required'}",
	    &c, &r);
	ck_assert_uint_eq(c.n_tools, 2);
	ck_assert_str_eq(c.tools[0].name, "local_shell");
	ck_assert_int_eq(json_get_obj(c.tools[0].schema, "properties", &props),
	    1);
	ck_assert_int_eq(json_get_obj(props, "command", &v), 1);
	ck_assert_str_eq(c.tools[1].name, "f");
	ck_assert_int_eq(r.local_shell, 1);
	ck_assert_int_eq(openai_responses_is_custom(&r, "local_shell"), 0);
	done(&c, &r);
	/* allowed_tools names it by type. */
	parse_ok("{" M "'input':'x','tools':[{'type':'local_shell'},"
	    "{'type':'function','name':'f'}],'tool_choice':{'type':"
	    "'allowed_tools','mode':'auto','tools':[{'type':'local_shell'}]}}",
	    &c, &r);
	ck_assert_uint_eq(c.n_tools, 1);
	ck_assert_str_eq(c.tools[0].name, "local_shell");
	done(&c, &r);
}
END_TEST

START_TEST(images_through_fetch)
{
	struct conv		c;
	struct openai_responses_req	r;

	fetch_calls = 0;
	parse_ok("{" M "'input':[{'role':'user','content':["
	    "{'type':'input_text','text':'look'},{'type':'input_image',"
	    "'detail':'auto','image_url':'data:image/png;base64," PNG_B64
	    "'}]}]}", &c, &r);
	ck_assert_int_eq(fetch_calls, 1);
	ck_assert_uint_eq(c.msgs[0].n_blocks, 2);
	ck_assert_int_eq(c.msgs[0].blocks[1].type, CONV_BLOCK_IMAGE);
	ck_assert_str_eq(c.msgs[0].blocks[1].media_type, "image/png");
	ck_assert_str_eq(c.msgs[0].blocks[1].data, PNG_B64);
	done(&c, &r);
	parse_bad("{" M "'input':[{'role':'user','content':[{'type':"
	    "'input_image','image_url':'https://example.com/x.png'}]}]}",
	    "input[0].content[0].image_url", "could not fetch the image from "
	    "example.com");
	parse_bad("{" M "'input':[{'role':'user','content':[{'type':"
	    "'input_image','file_id':'file-1'}]}]}",
	    "input[0].content[0].file_id", "not supported");
	parse_bad("{" M "'input':[{'role':'user','content':[{'type':"
	    "'input_image'}]}]}", "input[0].content[0].image_url",
	    "field required");
	parse_bad("{" M "'input':[{'role':'developer','content':[{'type':"
	    "'input_image','image_url':'data:image/png;base64," PNG_B64
	    "'}]},{'role':'user','content':'x'}]}", "input[0].content",
	    "text only");
}
END_TEST

START_TEST(no_fetch_no_images)
{
	struct conv		 c;
	struct openai_responses_req	 r;
	const char		*body = "{\"model\":\"claude-sonnet-4-5\","
	    "\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"input_image\",\"image_url\":\"data:image/png;base64,AA==\"}]}]}";
	char			*why = NULL, *param = NULL;

	conv_init(&c);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(openai_responses_parse(body, strlen(body), &c, &r,
	    NULL, NULL, &why, &param), KF_EINVAL);
	ck_assert_str_eq(param, "input[0].content[0].image_url");
	free(why);
	free(param);
	done(&c, &r);
}
END_TEST

START_TEST(tools_function_custom_and_hosted)
{
	struct conv		 c;
	struct openai_responses_req	 r;
	json_object		*props, *input, *req;
	const char		*s;

	parse_ok("{" M "'input':'x','tools':["
	    "{'type':'function','name':'exec','description':'Run','strict':"
	    "false,'parameters':{'type':'object','properties':{'cmd':{'type':"
	    "'string'}}}},"
	    "{'type':'web_search','external_web_access':false},"
	    "{'type':'namespace','name':'multi','tools':[]},"
	    "{'type':'custom','name':'apply_patch','description':'Patch',"
	    "'format':{'type':'grammar','syntax':'lark','definition':"
	    "'start: hunk+'}},"
	    "{'type':'custom','name':'free'},"
	    "{'type':'function','name':'bare'}]}", &c, &r);
	ck_assert_uint_eq(c.n_tools, 4);
	ck_assert_str_eq(c.tools[0].name, "exec");
	ck_assert_str_eq(c.tools[0].description, "Run");
	ck_assert_int_eq(json_get_obj(c.tools[0].schema, "properties", &props),
	    1);
	ck_assert_str_eq(c.tools[1].name, "apply_patch");
	ck_assert_int_eq(json_get_obj(c.tools[1].schema, "properties", &props),
	    1);
	ck_assert_int_eq(json_get_obj(props, "input", &input), 1);
	ck_assert_int_eq(json_get_str(input, "type", &s), 1);
	ck_assert_str_eq(s, "string");
	ck_assert_int_eq(json_get_str(input, "description", &s), 1);
	ck_assert_ptr_nonnull(strstr(s, "lark grammar:\nstart: hunk+"));
	ck_assert_int_eq(json_get_arr(c.tools[1].schema, "required", &req), 1);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(req,
	    0)), "input");
	ck_assert_str_eq(c.tools[2].name, "free");
	ck_assert_str_eq(c.tools[2].description, "");
	ck_assert_str_eq(c.tools[3].name, "bare");
	ck_assert_int_eq(json_get_obj(c.tools[3].schema, "properties", &props),
	    1);
	ck_assert_uint_eq(r.n_custom, 2);
	ck_assert_int_eq(openai_responses_is_custom(&r, "apply_patch"), 1);
	ck_assert_int_eq(openai_responses_is_custom(&r, "free"), 1);
	ck_assert_int_eq(openai_responses_is_custom(&r, "exec"), 0);
	done(&c, &r);
}
END_TEST

START_TEST(tool_choice_forms)
{
	static const struct {
		const char		*json;
		enum conv_tool_choice	 want;
		const char		*name;
	} cases[] = {
		{ "'auto'", CONV_TOOL_CHOICE_AUTO, NULL },
		{ "'none'", CONV_TOOL_CHOICE_NONE, NULL },
		{ "'required'", CONV_TOOL_CHOICE_ANY, NULL },
		{ "{'type':'function','name':'exec'}", CONV_TOOL_CHOICE_TOOL,
		    "exec" },
		{ "{'type':'custom','name':'apply_patch'}",
		    CONV_TOOL_CHOICE_TOOL, "apply_patch" },
		{ "{'type':'allowed_tools','mode':'required','tools':"
		    "[{'type':'function','name':'exec'}]}",
		    CONV_TOOL_CHOICE_ANY, NULL },
		{ "{'type':'allowed_tools','mode':'auto','tools':[]}",
		    CONV_TOOL_CHOICE_AUTO, NULL },
	};
	struct conv		c;
	struct openai_responses_req	r;
	char			body[512];
	size_t			i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(body, sizeof(body), "{" M "'input':'x','tools':"
		    "[{'type':'function','name':'exec'},{'type':'custom',"
		    "'name':'apply_patch'}],'tool_choice':%s}",
		    cases[i].json);
		parse_ok(body, &c, &r);
		ck_assert_int_eq(c.tool_choice, cases[i].want);
		if (cases[i].name != NULL)
			ck_assert_str_eq(c.tool_choice_name, cases[i].name);
		else
			ck_assert_ptr_null(c.tool_choice_name);
		done(&c, &r);
	}
	parse_bad("{" M "'input':'x','tool_choice':'any'}", "tool_choice",
	    "must be none, auto, required");
	parse_bad("{" M "'input':'x','tool_choice':{'type':'function'}}",
	    "tool_choice.name", "field required");
	parse_bad("{" M "'input':'x','tool_choice':{'type':'hologram'}}",
	    "tool_choice.type", "\"hologram\"");
	/* A hosted tool's choice is left to the model; local_shell is named. */
	parse_ok("{" M "'input':'x','tools':[{'type':'mcp','server_label':"
	    "'gh'}],'tool_choice':{'type':'mcp','server_label':'gh'}}", &c, &r);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_AUTO);
	done(&c, &r);
	parse_ok("{" M "'input':'x','tool_choice':{'type':"
	    "'web_search_preview'}}", &c, &r);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_AUTO);
	done(&c, &r);
	parse_ok("{" M "'input':'x','tools':[{'type':'local_shell'}],"
	    "'tool_choice':{'type':'local_shell'}}", &c, &r);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_TOOL);
	ck_assert_str_eq(c.tool_choice_name, "local_shell");
	done(&c, &r);
	parse_bad("{" M "'input':'x','tool_choice':3}", "tool_choice",
	    "must be a string or an object");
	/* A choice no tool can satisfy (the relay would enforce it). */
	parse_bad("{" M "'input':'x','tool_choice':'required'}",
	    "tool_choice", "needs at least one tool");
	parse_bad("{" M "'input':'x','tool_choice':{'type':'allowed_tools',"
	    "'mode':'required','tools':[]}}", "tool_choice",
	    "needs at least one tool");
	parse_bad("{" M "'input':'x','tools':[{'type':'function','name':'ls'}],"
	    "'tool_choice':{'type':'allowed_tools','mode':'required','tools':"
	    "[]}}", "tool_choice", "needs at least one tool");
	parse_bad("{" M "'input':'x','tools':[{'type':'function','name':'ls'}],"
	    "'tool_choice':{'type':'allowed_tools','mode':'auto','tools':"
	    "[{'type':'function','name':'ls'},{'type':'function','name':"
	    "'rm'}]}}", "tool_choice.tools[1].name", "\"rm\"");
	parse_bad("{" M "'input':'x','tools':[{'type':'function','name':'ls'}],"
	    "'tool_choice':{'type':'allowed_tools','mode':'auto'}}",
	    "tool_choice.tools", "field required");
	parse_bad("{" M "'input':'x','tools':[{'type':'function','name':'ls'}],"
	    "'tool_choice':{'type':'allowed_tools','tools':[7]}}",
	    "tool_choice.tools[0]", "must be an object");
	parse_bad("{" M "'input':'x','tools':[{'type':'function','name':'ls'}],"
	    "'tool_choice':{'type':'allowed_tools','tools':[{'type':"
	    "'function'}]}}", "tool_choice.tools[0].name", "field required");
	/* allowed_tools: only the listed tools are offered. */
	parse_ok("{" M "'input':'x','tools':[{'type':'function','name':'ls'},"
	    "{'type':'custom','name':'apply_patch'},{'type':'function','name':"
	    "'cat'},{'type':'web_search'}],'tool_choice':{'type':"
	    "'allowed_tools','mode':'required','tools':[{'type':'function',"
	    "'name':'cat'},{'type':'web_search'},{'type':'custom','name':"
	    "'apply_patch'}]}}", &c, &r);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_ANY);
	ck_assert_uint_eq(c.n_tools, 2);
	ck_assert_str_eq(c.tools[0].name, "apply_patch");
	ck_assert_str_eq(c.tools[1].name, "cat");
	ck_assert_int_eq(openai_responses_is_custom(&r, "apply_patch"), 1);
	done(&c, &r);
	/* A custom tool left out is no longer custom. */
	parse_ok("{" M "'input':'x','tools':[{'type':'custom','name':'a'},"
	    "{'type':'custom','name':'b'},{'type':'custom','name':'c'}],"
	    "'tool_choice':{'type':'allowed_tools','mode':'auto','tools':"
	    "[{'type':'custom','name':'c'}]}}", &c, &r);
	ck_assert_uint_eq(c.n_tools, 1);
	ck_assert_uint_eq(r.n_custom, 1);
	ck_assert_str_eq(r.custom[0], "c");
	ck_assert_int_eq(openai_responses_is_custom(&r, "a"), 0);
	done(&c, &r);
	/* Only hosted tools allowed: the model decides. */
	parse_ok("{" M "'input':'x','tools':[{'type':'function','name':'ls'},"
	    "{'type':'web_search'}],'tool_choice':{'type':'allowed_tools',"
	    "'mode':'required','tools':[{'type':'web_search'}]}}", &c, &r);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_AUTO);
	ck_assert_uint_eq(c.n_tools, 0);
	done(&c, &r);
	parse_bad("{" M "'input':'x','tool_choice':{'type':'function',"
	    "'name':'exec'}}", "tool_choice.name", "\"exec\"");
	parse_bad("{" M "'input':'x','tools':[{'type':'function','name':"
	    "'ls'},{'type':'web_search'}],'tool_choice':{'type':'custom',"
	    "'name':'exec'}}", "tool_choice.name", "no function or custom");
	/* Only hosted tools: the model decides, as Kiro cannot run them. */
	parse_ok("{" M "'input':'x','tools':[{'type':'web_search'}],"
	    "'tool_choice':'required'}", &c, &r);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_AUTO);
	ck_assert_uint_eq(c.n_tools, 0);
	done(&c, &r);
	parse_ok("{" M "'input':'x','tool_choice':'none'}", &c, &r);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_NONE);
	done(&c, &r);
}
END_TEST

START_TEST(fields_parallel_reasoning_format_session)
{
	struct conv		 c;
	struct openai_responses_req	 r;
	const char		*s;

	parse_ok("{" M "'input':'x','parallel_tool_calls':false,"
	    "'reasoning':{'effort':'minimal','summary':'auto'},'text':"
	    "{'format':{'type':'json_schema','name':'out','schema':{'type':"
	    "'object'},'strict':true}},'prompt_cache_key':'pck-1','user':"
	    "'u-1','store':true,'include':['reasoning.encrypted_content']}",
	    &c, &r);
	ck_assert_int_eq(c.single_tool_call, 1);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ADAPTIVE);
	ck_assert_str_eq(c.thinking_effort, "low");
	ck_assert_int_eq(c.json_mode, 1);
	ck_assert_int_eq(json_get_str(c.response_schema, "type", &s), 1);
	ck_assert_str_eq(s, "object");
	ck_assert_str_eq(c.session_key, "pck-1");
	/* The echo keeps what a response repeats, not the rest. */
	ck_assert(json_object_object_get_ex(r.echo, "store", NULL));
	ck_assert(json_object_object_get_ex(r.echo, "reasoning", NULL));
	ck_assert(!json_object_object_get_ex(r.echo, "input", NULL));
	ck_assert(!json_object_object_get_ex(r.echo, "include", NULL));
	done(&c, &r);

	parse_ok("{" M "'input':'x','parallel_tool_calls':true,'reasoning':"
	    "{'effort':'xhigh'},'text':{'format':{'type':'json_object'}},"
	    "'user':'u-2'}", &c, &r);
	ck_assert_int_eq(c.single_tool_call, 0);
	ck_assert_str_eq(c.thinking_effort, "high");
	ck_assert_int_eq(c.json_mode, 1);
	ck_assert_ptr_null(c.response_schema);
	ck_assert_str_eq(c.session_key, "u-2");
	done(&c, &r);

	parse_ok("{" M "'input':'x','reasoning':{'effort':'medium'},'text':"
	    "{'format':{'type':'text'}}}", &c, &r);
	ck_assert_str_eq(c.thinking_effort, "medium");
	ck_assert_int_eq(c.json_mode, 0);
	done(&c, &r);

	parse_ok("{" M "'input':'x','reasoning':{'effort':'none'}}", &c, &r);
	ck_assert_int_eq(c.thinking, CONV_THINKING_OFF);
	done(&c, &r);

	/* Codex: a summary but no effort leaves thinking off. */
	parse_ok("{" M "'input':'x','reasoning':{'summary':'auto'}}", &c, &r);
	ck_assert_int_eq(c.thinking, CONV_THINKING_OFF);
	done(&c, &r);

	parse_ok("{'model':'claude-sonnet-4-5-thinking','input':'x'}", &c, &r);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ADAPTIVE);
	done(&c, &r);
}
END_TEST

/* The request's own text of an echoed field, or NULL. */
static const char *
echo_text(const struct openai_responses_req *r, const char *key)
{
	json_object	*v;

	ck_assert_ptr_nonnull(r->echo_text);
	if (!json_object_object_get_ex(r->echo_text, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/* Checks the text of key against want written with ' for ". */
static void
echo_text_is(const struct openai_responses_req *r, const char *key,
    const char *want)
{
	char	*w = q(want);

	ck_assert_ptr_nonnull(echo_text(r, key));
	ck_assert_str_eq(echo_text(r, key), w);
	free(w);
}

START_TEST(echo_text_is_the_request_spelling)
{
	struct conv		 c;
	struct openai_responses_req	 r;

	/* Compact: each echoed value as sent, escapes and all. */
	parse_ok("{" M "'input':'x','tools':[{'type':'function','name':'f',"
	    "'description':'say \\'hi\\'\\n','parameters':{'type':'object',"
	    "'properties':{'a':{'type':'number','minimum':1.50}}}}],"
	    "'instructions':'Be \\u00e9 brief.','store':true,"
	    "'metadata':{},'temperature':0.70,'max_output_tokens':100}",
	    &c, &r);
	echo_text_is(&r, "tools", "[{'type':'function','name':'f',"
	    "'description':'say \\'hi\\'\\n','parameters':{'type':'object',"
	    "'properties':{'a':{'type':'number','minimum':1.50}}}}]");
	echo_text_is(&r, "instructions", "'Be \\u00e9 brief.'");
	ck_assert_str_eq(echo_text(&r, "store"), "true");
	ck_assert_str_eq(echo_text(&r, "metadata"), "{}");
	ck_assert_str_eq(echo_text(&r, "temperature"), "0.70");
	ck_assert_str_eq(echo_text(&r, "max_output_tokens"), "100");
	ck_assert_ptr_null(echo_text(&r, "input"));
	ck_assert_ptr_null(echo_text(&r, "model"));
	done(&c, &r);

	/*
	 * White space around a value is fine, inside it (or a raw control
	 * byte in a string, which json-c accepts) leaves it to the tree;
	 * the last of a repeated key wins either way.
	 */
	parse_ok("{ " M " 'input' : 'x' , 'store' : false ,'tools':[ ],"
	    "'metadata':{'a': 1},'instructions':'a\tb','user':'u',"
	    "'user':'v','text':{},'text':{'format':{'type':'text'} } }",
	    &c, &r);
	ck_assert_str_eq(echo_text(&r, "store"), "false");
	ck_assert_ptr_null(echo_text(&r, "tools"));
	ck_assert_ptr_null(echo_text(&r, "metadata"));
	ck_assert_ptr_null(echo_text(&r, "instructions"));
	echo_text_is(&r, "user", "'v'");
	ck_assert_ptr_null(echo_text(&r, "text"));
	ck_assert(json_object_object_get_ex(r.echo, "tools", NULL));
	ck_assert(json_object_object_get_ex(r.echo, "text", NULL));
	done(&c, &r);

	/* An escaped key may name an echoed field: no text at all then. */
	parse_ok("{" M "'input':'x','store':true,'tool\\u0073':[]}", &c, &r);
	ck_assert_ptr_null(r.echo_text);
	ck_assert(json_object_object_get_ex(r.echo, "tools", NULL));
	done(&c, &r);
}
END_TEST

/*
 * The string scan that finds where each field ends reads 8 bytes at a
 * time: a quote, a backslash or a raw control byte is seen at every
 * offset in a word, next to UTF-8 bytes too.
 */
START_TEST(echo_text_stops_at_every_offset)
{
	struct conv		 c;
	struct openai_responses_req	 r;
	static const char *const	 stops[] = { "\\'", "\\\\", "\x01",
	    "\x1f" };
	struct buf		 body = BUF_INIT, want = BUF_INIT;
	size_t			 k, s;
	int			 loose;

	for (s = 0; s < sizeof(stops) / sizeof(stops[0]); s++)
		for (k = 0; k < 24; k++) {
			loose = stops[s][0] != '\\';
			buf_reset(&want);
			buf_printf(&want, "'%.*s%s\xc3\xa9%.*s'", (int)k,
			    "aaaaaaaaaaaaaaaaaaaaaaaa", stops[s],
			    (int)(23 - k), "bbbbbbbbbbbbbbbbbbbbbbb");
			buf_reset(&body);
			buf_printf(&body, "{" M "'input':'x','instructions':%s,"
			    "'user':'u'}", want.ptr);
			parse_ok(body.ptr, &c, &r);
			if (loose)
				ck_assert_ptr_null(echo_text(&r,
				    "instructions"));
			else
				echo_text_is(&r, "instructions", want.ptr);
			echo_text_is(&r, "user", "'u'");
			done(&c, &r);
		}
	buf_free(&body);
	buf_free(&want);
}
END_TEST

START_TEST(previous_response_id_refused)
{
	struct conv		c;
	struct openai_responses_req	r;

	parse_bad("{" M "'input':'x','previous_response_id':'resp_1'}",
	    "previous_response_id", "store:false");
	/* null is as good as absent. */
	parse_ok("{" M "'input':'x','previous_response_id':null}", &c, &r);
	done(&c, &r);
}
END_TEST

START_TEST(bad_fields_named)
{
	static const struct {
		const char	*body;
		const char	*param;
		const char	*text;
	} cases[] = {
		{ "{'input':'x'}", "model", "field required" },
		{ "{'model':5,'input':'x'}", "model", "must be a string" },
		{ "{" M "'input':5}", "input", "must be a string or an array" },
		{ "{" M "'stream':'yes','input':'x'}", "stream", "boolean" },
		{ "{" M "'store':1,'input':'x'}", "store", "boolean" },
		{ "{" M "'max_output_tokens':0,'input':'x'}",
		    "max_output_tokens", "positive" },
		{ "{" M "'parallel_tool_calls':1,'input':'x'}",
		    "parallel_tool_calls", "boolean" },
		{ "{" M "'instructions':[],'input':'x'}", "instructions",
		    "must be a string" },
		{ "{" M "'input':[]}", "input", "at least one" },
		{ "{" M "'input':[{'role':'developer','content':'x'}]}",
		    "input", "at least one" },
		{ "{" M "'input':[3]}", "input[0]", "must be an object" },
		{ "{" M "'input':[{'role':'bot','content':'x'}]}",
		    "input[0].role", "\"bot\"" },
		{ "{" M "'input':[{'role':'user'}]}", "input[0].content",
		    "field required" },
		{ "{" M "'input':[{'role':'user','content':[{'type':"
		    "'input_text'}]}]}", "input[0].content[0].text",
		    "field required" },
		{ "{" M "'input':[{'role':'user','content':[{'type':'audio'}]}"
		    "]}", "input[0].content[0].type", "\"audio\"" },
		{ "{" M "'input':[{'role':'user','content':[{'type':"
		    "'input_file','file_id':'f'}]}]}",
		    "input[0].content[0].type", "input_file" },
		{ "{" M "'input':[{'type':'function_call','name':'f',"
		    "'arguments':'{}'}]}", "input[0].call_id",
		    "field required" },
		{ "{" M "'input':[{'type':'function_call','call_id':'c',"
		    "'name':'f','arguments':'[1]'}]}", "input[0].arguments",
		    "JSON object" },
		{ "{" M "'input':[{'type':'function_call','call_id':'c',"
		    "'name':'f','arguments':'{'}]}", "input[0].arguments",
		    "JSON object" },
		{ "{" M "'input':[{'type':'custom_tool_call','call_id':'c',"
		    "'name':'f'}]}", "input[0].input", "field required" },
		{ "{" M "'input':[{'type':'function_call_output','call_id':"
		    "'c'}]}", "input[0].output", "field required" },
		{ "{" M "'input':[{'type':'function_call_output','call_id':"
		    "'c','output':7}]}", "input[0].output",
		    "must be a string or an array" },
		{ "{" M "'input':[{'type':'local_shell_call','action':{}}]}",
		    "input[0].call_id", "field required" },
		{ "{" M "'input':[{'type':'local_shell_call','call_id':'c',"
		    "'action':'ls'}]}", "input[0].action",
		    "must be an object" },
		{ "{" M "'input':[{'type':'local_shell_call_output','call_id':"
		    "'c','output':[]}]}", "input[0].output",
		    "must be a string" },
		{ "{" M "'input':[{'type':'local_shell_call_output','output':"
		    "'x'}]}", "input[0].id", "field required" },
		{ "{" M "'input':[{'type':'shell_call','call_id':'c'}]}",
		    "input[0].action", "field required" },
		{ "{" M "'input':[{'type':'shell_call_output','call_id':'c',"
		    "'output':5}]}", "input[0].output",
		    "must be a string or an array" },
		{ "{" M "'input':[{'type':'apply_patch_call','call_id':'c',"
		    "'operation':[]}]}", "input[0].operation",
		    "must be an object" },
		{ "{" M "'input':[{'type':'apply_patch_call_output','call_id':"
		    "7}]}", "input[0].call_id", "must be a string" },
		{ "{" M "'input':[{'type':'computer_call','call_id':'c'}]}",
		    "input[0].action", "field required" },
		{ "{" M "'input':[{'type':'computer_call_output','call_id':"
		    "'c','output':{'image_url':1}}]}",
		    "input[0].output.image_url", "must be a string" },
		{ "{" M "'input':[{'type':'tool_search_call','call_id':3}]}",
		    "input[0].call_id", "must be a string" },
		{ "{" M "'input':[{'type':'tool_search_output','tools':{}}]}",
		    "input[0].tools", "must be an array" },
		{ "{" M "'input':[{'type':5}]}", "input[0].type",
		    "must be a string" },
		{ "{" M "'input':'x','tools':{}}", "tools",
		    "must be an array" },
		{ "{" M "'input':'x','tools':[{'name':'f'}]}", "tools[0].type",
		    "field required" },
		{ "{" M "'input':'x','tools':[{'type':'function','name':''}]}",
		    "tools[0].name", "must not be empty" },
		{ "{" M "'input':'x','tools':[{'type':'function','name':'f',"
		    "'parameters':[]}]}", "tools[0].parameters",
		    "must be an object" },
		{ "{" M "'input':'x','tools':[{'type':'custom','name':'f',"
		    "'format':{'type':'regex'}}]}", "tools[0].format.type",
		    "\"regex\"" },
		{ "{" M "'input':'x','tools':[{'type':'custom','name':'f',"
		    "'format':{'type':'grammar'}}]}",
		    "tools[0].format.definition", "field required" },
		{ "{" M "'input':'x','reasoning':{'effort':'max'}}",
		    "reasoning.effort", "\"max\"" },
		{ "{" M "'input':'x','reasoning':1}", "reasoning",
		    "must be an object" },
		{ "{" M "'input':'x','text':{'format':{'type':'json_schema'}}}",
		    "text.format.schema", "field required" },
		{ "{" M "'input':'x','text':{'format':{'type':'yaml'}}}",
		    "text.format.type", "\"yaml\"" },
		{ "{" M "'input':'x','prompt_cache_key':1}", "prompt_cache_key",
		    "must be a string" },
		{ "[1]", "body", "JSON object" },
	};
	struct conv			 c;
	struct openai_responses_req	 r;
	char				*why = NULL, *param = NULL;
	size_t				 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_bad(cases[i].body, cases[i].param, cases[i].text);
	/* Not JSON: a cause, no param. */
	parse_bad("{'model'", NULL, "");
	/* An unknown model is not found (404 model_not_found). */
	ck_assert_int_eq(parse("{'model':'llama-nonsense-9','input':'x'}", &c,
	    &r, &why, &param), KF_ENOTFOUND);
	done(&c, &r);
	ck_assert_str_eq(param, "model");
	ck_assert_ptr_nonnull(strstr(why, "is not available"));
	free(why);
	free(param);
}
END_TEST

START_TEST(cause_and_param_may_be_null)
{
	struct conv		 c;
	struct openai_responses_req	 r;
	const char		*body = "{\"input\":3}";

	conv_init(&c);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(openai_responses_parse(body, strlen(body), &c, &r,
	    NULL, NULL, NULL, NULL), KF_EINVAL);
	ck_assert_int_eq(openai_responses_parse("{", 1, &c, &r, NULL, NULL,
	    NULL, NULL), KF_EINVAL);
	done(&c, &r);
}
END_TEST

/*
 * allowed_tools over many tools: the filter runs before the caps check, so
 * it must stay linear (it was tools x names, one move per tool removed,
 * and a search of the custom names for each).  The time is printed, not
 * asserted; the case's timeout stops a quadratic filter.
 */
#define MANY_TOOLS	40000

START_TEST(allowed_tools_many_tools)
{
	struct conv			 c;
	struct openai_responses_req	 r;
	struct buf			 body = BUF_INIT;
	struct timespec			 t0, t1;
	char				 want[32];
	size_t				 i;

	buf_printf(&body, "{" M "'input':'x','tools':[");
	/* f1, f5, f9, ... are custom tools, the others functions. */
	for (i = 0; i < MANY_TOOLS; i++)
		buf_printf(&body, "%s{'type':'%s','name':'f%zu'}", i ? "," : "",
		    i % 4 == 1 ? "custom" : "function", i);
	buf_printf(&body, "],'tool_choice':{'type':'allowed_tools','mode':"
	    "'auto','tools':[");
	/* Every odd one, from the last down, with each name twice. */
	for (i = MANY_TOOLS - 1; i < MANY_TOOLS; i -= 2)
		buf_printf(&body, "%s{'type':'%s','name':'f%zu'},"
		    "{'type':'%s','name':'f%zu'}",
		    i == MANY_TOOLS - 1 ? "" : ",",
		    i % 4 == 1 ? "custom" : "function", i,
		    i % 4 == 1 ? "custom" : "function", i);
	buf_printf(&body, "]}}");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	parse_ok(body.ptr, &c, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("parse-openai-responses: %d tools, %d allowed: %.1f ms\n",
	    MANY_TOOLS, MANY_TOOLS, (t1.tv_sec - t0.tv_sec) * 1e3 +
	    (t1.tv_nsec - t0.tv_nsec) / 1e6);
	/* The declared order is kept; the custom ones left out are gone. */
	ck_assert_uint_eq(c.n_tools, MANY_TOOLS / 2);
	for (i = 0; i < c.n_tools; i++) {
		snprintf(want, sizeof(want), "f%zu", 2 * i + 1);
		ck_assert_str_eq(c.tools[i].name, want);
	}
	ck_assert_uint_eq(r.n_custom, MANY_TOOLS / 4);
	for (i = 0; i < r.n_custom; i++) {
		snprintf(want, sizeof(want), "f%zu", 4 * i + 1);
		ck_assert_str_eq(r.custom[i], want);
	}
	done(&c, &r);
	buf_free(&body);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("parse-openai-responses");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, input_string_is_one_user_message);
	tcase_add_test(tc, messages_roles_and_parts);
	tcase_add_test(tc, tool_call_round_trip);
	tcase_add_test(tc, client_tool_items_are_tool_pairs);
	tcase_add_test(tc, hosted_items_are_notes);
	tcase_add_test(tc, screenshot_fetch_failure_is_a_note);
	tcase_add_test(tc, tool_search_found_tools_are_offered);
	tcase_add_test(tc, codex_unknown_items_keep_the_system_prompt);
	tcase_add_test(tc, local_shell_tool_is_callable);
	tcase_add_test(tc, images_through_fetch);
	tcase_add_test(tc, no_fetch_no_images);
	tcase_add_test(tc, tools_function_custom_and_hosted);
	tcase_add_test(tc, tool_choice_forms);
	tcase_add_test(tc, fields_parallel_reasoning_format_session);
	tcase_add_test(tc, echo_text_is_the_request_spelling);
	tcase_add_test(tc, echo_text_stops_at_every_offset);
	tcase_add_test(tc, previous_response_id_refused);
	tcase_add_test(tc, bad_fields_named);
	tcase_add_test(tc, cause_and_param_may_be_null);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("scale");
	tcase_add_test(tc, allowed_tools_many_tools);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
