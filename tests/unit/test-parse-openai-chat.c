/* test-parse-openai-chat.c: Chat Completions request bodies into the neutral conversation. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "conv.h"
#include "err.h"
#include "json.h"
#include "openai-chat.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * Covers openai_chat_parse (fcgi/parse-openai-chat.c): system and
 * developer messages (leading ones as the system prompt, later ones as
 * user text), user content as a string and as text / image_url parts
 * (data: URLs; http URLs refused without a fetch handle), assistant
 * tool_calls with their ids and arguments, tool messages merged into one
 * user turn with the text after them (the tool-call round trip), tools,
 * tool_choice in every form, parallel_tool_calls, stop, response_format,
 * reasoning_effort and -thinking names, max_tokens and
 * max_completion_tokens, stream_options.include_usage, the session key,
 * the refused options (n, logprobs, audio, legacy functions) and a table
 * of wrong types whose cause begins with the field's path, which is also
 * the param.  Bodies are written with ' for " to stay readable.
 */

#define M	"'model':'claude-sonnet-4-5'"
/* A 1x1 PNG. */
#define PNG_B64	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4" \
	"nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="

/* The body with every ' turned into ". */
static char *
dq(const char *s)
{
	char	*out = xstrdup(s), *p;

	for (p = out; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return out;
}

static enum kf_err
parse(const char *body, struct conv *c, struct openai_chat_opts *o,
    char **cause, char **param)
{
	char		*b = dq(body);
	enum kf_err	 er;

	conv_init(c);
	er = openai_chat_parse(b, strlen(b), NULL, c, o, cause, param);
	free(b);
	return er;
}

static void
parse_ok(const char *body, struct conv *c, struct openai_chat_opts *o)
{
	char	*why = NULL, *param = NULL;

	ck_assert_msg(parse(body, c, o, &why, &param) == KF_OK,
	    "%s: %s", body, why != NULL ? why : "(no cause)");
	ck_assert_ptr_null(why);
	ck_assert_ptr_null(param);
}

/* Refused with a cause "<path>: ..." and param path; returns the cause. */
static char *
refused_at(const char *body, const char *path)
{
	struct conv		 c;
	struct openai_chat_opts	 o;
	char			*why = NULL, *param = NULL;
	size_t			 n = strlen(path);

	ck_assert_int_eq(parse(body, &c, &o, &why, &param), KF_EINVAL);
	conv_free(&c);
	ck_assert_msg(why != NULL, "%s: no cause", body);
	ck_assert_msg(strncmp(why, path, n) == 0 && why[n] == ':',
	    "%s: cause \"%s\" does not name \"%s\"", body, why, path);
	ck_assert_msg(param != NULL && strcmp(param, path) == 0,
	    "%s: param \"%s\", want \"%s\"", body, param, path);
	free(param);
	return why;
}

static void
check_refused(const char *body, const char *path, const char *words)
{
	char	*why = refused_at(body, path);

	ck_assert_msg(words == NULL || strstr(why, words) != NULL,
	    "cause \"%s\" lacks \"%s\"", why, words);
	free(why);
}

START_TEST(minimal_string_content)
{
	struct conv		c;
	struct openai_chat_opts	o;

	parse_ok("{" M ",'messages':[{'role':'user','content':'hi'}]}", &c,
	    &o);
	ck_assert_str_eq(c.model, "claude-sonnet-4-5");
	ck_assert_str_eq(c.kiro_model, "claude-sonnet-4.5");
	ck_assert_uint_eq(c.n_msgs, 1);
	ck_assert_int_eq(c.msgs[0].role, CONV_ROLE_USER);
	ck_assert_str_eq(c.msgs[0].blocks[0].text, "hi");
	ck_assert_ptr_null(c.system);
	ck_assert_int_eq(c.stream, 0);
	ck_assert_int_eq(o.include_usage, 0);
	ck_assert_int_eq(c.max_tokens, 0);
	ck_assert_int_eq(c.thinking, CONV_THINKING_OFF);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_AUTO);
	ck_assert_int_eq(c.single_tool_call, 0);
	ck_assert_uint_eq(c.n_stop, 0);
	ck_assert_int_eq(c.json_mode, 0);
	conv_free(&c);
}
END_TEST

START_TEST(system_and_developer)
{
	struct conv		c;
	struct openai_chat_opts	o;

	parse_ok("{" M ",'messages':[{'role':'system','content':'be brief'},"
	    "{'role':'developer','content':[{'type':'text','text':'a'},"
	    "{'type':'text','text':'b'}]},{'role':'user','content':'q'},"
	    "{'role':'assistant','content':'r'},"
	    "{'role':'system','content':'late rule'}]}", &c, &o);
	ck_assert_str_eq(c.system, "be brief\na\nb");
	ck_assert_uint_eq(c.n_msgs, 3);
	ck_assert_int_eq(c.msgs[2].role, CONV_ROLE_USER);
	ck_assert_str_eq(c.msgs[2].blocks[0].text, "late rule");
	conv_free(&c);
}
END_TEST

START_TEST(user_parts_text_and_images)
{
	struct conv		c;
	struct openai_chat_opts	o;

	parse_ok("{" M ",'messages':[{'role':'user','content':["
	    "{'type':'text','text':'what is this?'},"
	    "{'type':'image_url','image_url':{'url':'data:image/png;base64,"
	    PNG_B64 "','detail':'low'}},"
	    "{'type':'image_url','image_url':'data:image/jpeg;base64,_-8A'}"
	    "]}]}", &c, &o);
	ck_assert_uint_eq(c.msgs[0].n_blocks, 3);
	ck_assert_int_eq(c.msgs[0].blocks[0].type, CONV_BLOCK_TEXT);
	ck_assert_int_eq(c.msgs[0].blocks[1].type, CONV_BLOCK_IMAGE);
	ck_assert_str_eq(c.msgs[0].blocks[1].media_type, "image/png");
	ck_assert_str_eq(c.msgs[0].blocks[1].data, PNG_B64);
	ck_assert_str_eq(c.msgs[0].blocks[2].media_type, "image/jpeg");
	ck_assert_str_eq(c.msgs[0].blocks[2].data, "/+8A");
	conv_free(&c);
}
END_TEST

START_TEST(image_errors_name_the_url)
{
	check_refused("{" M ",'messages':[{'role':'user','content':["
	    "{'type':'image_url','image_url':{'url':'https://example.com/a.png'"
	    "}}]}]}", "messages[0].content[0].image_url.url", "data: URL");
	check_refused("{" M ",'messages':[{'role':'user','content':["
	    "{'type':'text','text':'x'},{'type':'image_url','image_url':"
	    "{'url':'data:text/plain;base64,aGk='}}]}]}",
	    "messages[0].content[1].image_url.url", "not a supported image");
	check_refused("{" M ",'messages':[{'role':'user','content':["
	    "{'type':'image_url','image_url':{}}]}]}",
	    "messages[0].content[0].image_url.url", "field required");
	check_refused("{" M ",'messages':[{'role':'user','content':["
	    "{'type':'image_url'}]}]}", "messages[0].content[0].image_url",
	    "field required");
	check_refused("{" M ",'messages':[{'role':'user','content':["
	    "{'type':'input_audio','input_audio':{}}]}]}",
	    "messages[0].content[0].type", "\"input_audio\"");
}
END_TEST

/* The round trip: a call the model made, its result, the user's reply. */
START_TEST(tool_call_round_trip)
{
	struct conv		 c;
	struct openai_chat_opts	 o;
	struct conv_msg		*m;
	char			*args;

	parse_ok("{" M ",'messages':[{'role':'user','content':'weather?'},"
	    "{'role':'assistant','content':null,'tool_calls':["
	    "{'id':'call_A','type':'function','function':{'name':'get_weather',"
	    "'arguments':'{\\'city\\':\\'Paris\\'}'}},"
	    "{'id':'call_B','type':'function','function':{'name':'get_time',"
	    "'arguments':''}}]},"
	    "{'role':'tool','tool_call_id':'call_A','content':'sunny'},"
	    "{'role':'tool','tool_call_id':'call_B','content':[{'type':'text',"
	    "'text':'noon'}]},"
	    "{'role':'user','content':'thanks'}]}", &c, &o);
	ck_assert_uint_eq(c.n_msgs, 3);
	m = &c.msgs[1];
	ck_assert_int_eq(m->role, CONV_ROLE_ASSISTANT);
	ck_assert_uint_eq(m->n_blocks, 2);
	ck_assert_int_eq(m->blocks[0].type, CONV_BLOCK_TOOL_USE);
	ck_assert_str_eq(m->blocks[0].id, "call_A");
	ck_assert_str_eq(m->blocks[0].name, "get_weather");
	args = json_to_str(m->blocks[0].input);
	ck_assert_str_eq(args, "{\"city\":\"Paris\"}");
	free(args);
	ck_assert_str_eq(m->blocks[1].id, "call_B");
	ck_assert(json_object_is_type(m->blocks[1].input, json_type_object));
	ck_assert_int_eq(json_object_object_length(m->blocks[1].input), 0);
	m = &c.msgs[2];
	ck_assert_int_eq(m->role, CONV_ROLE_USER);
	ck_assert_uint_eq(m->n_blocks, 3);
	ck_assert_int_eq(m->blocks[0].type, CONV_BLOCK_TOOL_RESULT);
	ck_assert_str_eq(m->blocks[0].id, "call_A");
	ck_assert_str_eq(m->blocks[0].content[0].text, "sunny");
	ck_assert_str_eq(m->blocks[1].id, "call_B");
	ck_assert_str_eq(m->blocks[1].content[0].text, "noon");
	ck_assert_int_eq(m->blocks[2].type, CONV_BLOCK_TEXT);
	ck_assert_str_eq(m->blocks[2].text, "thanks");
	conv_free(&c);
}
END_TEST

START_TEST(assistant_text_with_tool_calls)
{
	struct conv		c;
	struct openai_chat_opts	o;

	parse_ok("{" M ",'messages':[{'role':'user','content':'a'},"
	    "{'role':'assistant','content':'let me look','tool_calls':["
	    "{'id':'c1','type':'function','function':{'name':'f',"
	    "'arguments':'{}'}}]},{'role':'tool','tool_call_id':'c1',"
	    "'content':''}]}", &c, &o);
	ck_assert_uint_eq(c.msgs[1].n_blocks, 2);
	ck_assert_str_eq(c.msgs[1].blocks[0].text, "let me look");
	ck_assert_int_eq(c.msgs[1].blocks[1].type, CONV_BLOCK_TOOL_USE);
	ck_assert_str_eq(c.msgs[2].blocks[0].content[0].text, "");
	conv_free(&c);
	check_refused("{" M ",'messages':[{'role':'assistant','tool_calls':["
	    "{'id':'c1','type':'function','function':{'name':'f',"
	    "'arguments':'[1]'}}]}]}",
	    "messages[0].tool_calls[0].function.arguments", "JSON object");
	check_refused("{" M ",'messages':[{'role':'assistant','tool_calls':["
	    "{'id':'c1','function':{'name':'f','arguments':'{oops'}}]}]}",
	    "messages[0].tool_calls[0].function.arguments", NULL);
	check_refused("{" M ",'messages':[{'role':'assistant','tool_calls':["
	    "{'type':'function','function':{'name':'f'}}]}]}",
	    "messages[0].tool_calls[0].id", "field required");
	check_refused("{" M ",'messages':[{'role':'tool','content':'x'}]}",
	    "messages[0].tool_call_id", "field required");
}
END_TEST

START_TEST(tools_and_tool_choice)
{
	struct conv		 c;
	struct openai_chat_opts	 o;
	char			*s;

	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tools':[{'type':'function','function':{'name':'get_weather',"
	    "'description':'Weather','parameters':{'type':'object',"
	    "'properties':{'city':{'type':'string'}},'required':['city']},"
	    "'strict':true}},{'type':'function','function':{'name':'ping'}}],"
	    "'tool_choice':'required','parallel_tool_calls':false}", &c, &o);
	ck_assert_uint_eq(c.n_tools, 2);
	ck_assert_str_eq(c.tools[0].name, "get_weather");
	ck_assert_str_eq(c.tools[0].description, "Weather");
	s = json_to_str(c.tools[0].schema);
	ck_assert_ptr_nonnull(strstr(s, "\"required\":[\"city\"]"));
	free(s);
	ck_assert_str_eq(c.tools[1].description, "");
	s = json_to_str(c.tools[1].schema);
	ck_assert_str_eq(s, "{\"type\":\"object\",\"properties\":{}}");
	free(s);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_ANY);
	ck_assert_int_eq(c.single_tool_call, 1);
	conv_free(&c);

	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tool_choice':'none','parallel_tool_calls':true}", &c, &o);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_NONE);
	ck_assert_int_eq(c.single_tool_call, 0);
	conv_free(&c);
	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tool_choice':'auto'}", &c, &o);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_AUTO);
	conv_free(&c);
	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tools':[{'type':'function','function':{'name':'ping'}}],"
	    "'tool_choice':{'type':'function','function':{'name':'ping'}}}",
	    &c, &o);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_TOOL);
	ck_assert_str_eq(c.tool_choice_name, "ping");
	conv_free(&c);

	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tool_choice':'any'}", "tool_choice", "\"any\"");
	/* A choice no tool can satisfy (the relay would enforce it). */
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tool_choice':'required'}", "tool_choice", "needs at least one");
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tools':[],'tool_choice':'required'}", "tool_choice", NULL);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tool_choice':{'type':'function','function':{'name':'ping'}}}",
	    "tool_choice.function.name", "no function named \"ping\"");
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tools':[{'type':'function','function':{'name':'pong'}}],"
	    "'tool_choice':{'type':'function','function':{'name':'ping'}}}",
	    "tool_choice.function.name", "\"ping\"");
	/* none needs no tools. */
	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tool_choice':'none'}", &c, &o);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_NONE);
	conv_free(&c);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tool_choice':{'type':'function','function':{}}}",
	    "tool_choice.function.name", "field required");
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tool_choice':{'type':'allowed_tools'}}", "tool_choice.type",
	    NULL);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tools':[{'type':'custom','custom':{'name':'x'}}]}",
	    "tools[0].type", "only \"function\"");
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tools':[{'type':'function','function':{'name':'x',"
	    "'parameters':[]}}]}", "tools[0].function.parameters", NULL);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'tools':[{'type':'function','function':{'description':'d'}}]}",
	    "tools[0].function.name", "field required");
}
END_TEST

/* Chat's stop: OpenAI's 4 sequences, and conv's byte cap, by path. */
START_TEST(stop_capped_with_param)
{
	struct buf	 body = BUF_INIT;
	char		*why, big[CONV_MAX_STOP_BYTES + 2];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&body, "{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'stop':'%s'}", big);
	why = refused_at(body.ptr, "stop");
	ck_assert_str_eq(why, "stop: at most 256 bytes, not 257");
	free(why);
	buf_reset(&body);
	buf_printf(&body, "{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'stop':['a','%s']}", big);
	check_refused(body.ptr, "stop[1]", "at most 256 bytes, not 257");
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'stop':['a','b','c','d','e']}", "stop", "at most 4 sequences");
	buf_free(&body);
}
END_TEST

START_TEST(stop_and_response_format)
{
	struct conv		 c;
	struct openai_chat_opts	 o;
	char			*s;

	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'stop':'END'}", &c, &o);
	ck_assert_uint_eq(c.n_stop, 1);
	ck_assert_str_eq(c.stop[0], "END");
	conv_free(&c);
	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'stop':['a','','b\\n','c'],'response_format':{'type':"
	    "'json_object'}}", &c, &o);
	ck_assert_uint_eq(c.n_stop, 3);
	ck_assert_str_eq(c.stop[2], "c");
	ck_assert_int_eq(c.json_mode, 1);
	ck_assert_ptr_null(c.response_schema);
	conv_free(&c);
	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'response_format':{'type':'json_schema','json_schema':{'name':"
	    "'w','schema':{'type':'object','properties':{'a':{'type':"
	    "'integer'}}},'strict':true}}}", &c, &o);
	ck_assert_int_eq(c.json_mode, 1);
	s = json_to_str(c.response_schema);
	ck_assert_str_eq(s, "{\"type\":\"object\",\"properties\":{\"a\":"
	    "{\"type\":\"integer\"}}}");
	free(s);
	conv_free(&c);
	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'response_format':{'type':'text'},'stop':null}", &c, &o);
	ck_assert_int_eq(c.json_mode, 0);
	ck_assert_uint_eq(c.n_stop, 0);
	conv_free(&c);

	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'stop':['1','2','3','4','5']}", "stop", "at most 4");
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'stop':['1',2]}", "stop[1]", "must be a string");
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'stop':7}", "stop", NULL);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'response_format':{'type':'xml'}}", "response_format.type", NULL);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'response_format':{'type':'json_schema'}}",
	    "response_format.json_schema", "field required");
}
END_TEST

START_TEST(thinking_from_effort_and_name)
{
	struct conv		c;
	struct openai_chat_opts	o;

	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'reasoning_effort':'high'}", &c, &o);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ENABLED);
	ck_assert_int_eq(c.thinking_budget, 20000);
	conv_free(&c);
	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'reasoning_effort':'low'}", &c, &o);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ENABLED);
	ck_assert_int_lt(c.thinking_budget, 20000);
	conv_free(&c);
	parse_ok("{'model':'claude-opus-4-6','messages':[{'role':'user',"
	    "'content':'x'}],'reasoning_effort':'medium'}", &c, &o);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ADAPTIVE);
	ck_assert_str_eq(c.thinking_effort, "medium");
	conv_free(&c);
	parse_ok("{'model':'claude-sonnet-4-5-thinking','messages':[{'role':"
	    "'user','content':'x'}]}", &c, &o);
	ck_assert_str_eq(c.kiro_model, "claude-sonnet-4.5");
	ck_assert_int_eq(c.thinking, CONV_THINKING_ENABLED);
	conv_free(&c);
	parse_ok("{'model':'claude-sonnet-4-5-thinking','messages':[{'role':"
	    "'user','content':'x'}],'reasoning_effort':'none'}", &c, &o);
	ck_assert_int_eq(c.thinking, CONV_THINKING_OFF);
	conv_free(&c);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'reasoning_effort':'max'}", "reasoning_effort", "\"max\"");
}
END_TEST

START_TEST(limits_stream_session)
{
	struct conv		c;
	struct openai_chat_opts	o;

	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'max_tokens':50,'stream':true,'stream_options':{'include_usage':"
	    "true},'user':'u1','temperature':0.2,'top_p':1,'seed':7,"
	    "'presence_penalty':0,'frequency_penalty':0,'n':1,"
	    "'logprobs':false,'store':false,'metadata':{'a':'b'}}", &c, &o);
	ck_assert_int_eq(c.max_tokens, 50);
	ck_assert_int_eq(c.stream, 1);
	ck_assert_int_eq(o.include_usage, 1);
	ck_assert_str_eq(c.session_key, "u1");
	conv_free(&c);
	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'max_completion_tokens':70,'max_tokens':50,'user':'u1',"
	    "'prompt_cache_key':'pk'}", &c, &o);
	ck_assert_int_eq(c.max_tokens, 70);
	ck_assert_str_eq(c.session_key, "pk");
	ck_assert_int_eq(c.stream, 0);
	conv_free(&c);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'max_tokens':0}", "max_tokens", "positive");
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'max_completion_tokens':'9'}", "max_completion_tokens", NULL);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'stream':'yes'}", "stream", "boolean");
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'stream_options':{'include_usage':1}}",
	    "stream_options.include_usage", NULL);
}
END_TEST

START_TEST(unsupported_options_refused)
{
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'n':2}", "n", "n must be 1");
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'logprobs':true}", "logprobs", NULL);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'top_logprobs':3}", "top_logprobs", NULL);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'modalities':['text','audio']}", "modalities", NULL);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'audio':{'voice':'alloy','format':'wav'}}", "audio", NULL);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'functions':[{'name':'f'}]}", "functions", "use tools");
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'function_call':'auto'}", "function_call", NULL);
	check_refused("{" M ",'messages':[{'role':'function','name':'f',"
	    "'content':'x'}]}", "messages[0].role", "legacy");
}
END_TEST

/* web_search_options offers the gateway's search; its fields are checked. */
START_TEST(web_search_options)
{
	struct conv		 c;
	struct openai_chat_opts	 o;

	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}]}", &c, &o);
	ck_assert_int_eq(c.web_search.enabled, 0);
	conv_free(&c);
	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'web_search_options':{}}", &c, &o);
	ck_assert_int_eq(c.web_search.enabled, 1);
	ck_assert_int_eq(c.web_search.only, 0);
	ck_assert_uint_eq(c.n_tools, 0);
	conv_free(&c);
	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'web_search_options':{'search_context_size':'high','user_location':"
	    "{'type':'approximate','approximate':{'city':'Lyon'}}}}", &c, &o);
	ck_assert_int_eq(c.web_search.enabled, 1);
	conv_free(&c);
	parse_ok("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'web_search_options':null}", &c, &o);
	ck_assert_int_eq(c.web_search.enabled, 0);
	conv_free(&c);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'web_search_options':true}", "web_search_options",
	    "must be an object");
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'web_search_options':{'search_context_size':'max'}}",
	    "web_search_options.search_context_size", "\"low\"");
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'web_search_options':{'search_context_size':3}}",
	    "web_search_options.search_context_size", NULL);
	check_refused("{" M ",'messages':[{'role':'user','content':'x'}],"
	    "'web_search_options':{'user_location':'Lyon'}}",
	    "web_search_options.user_location", "must be an object");
}
END_TEST

START_TEST(model_and_shape_errors)
{
	struct conv		 c;
	struct openai_chat_opts	 o;
	char			*why = NULL, *param = NULL;

	/* Not found (404 model_not_found), param model. */
	ck_assert_int_eq(parse("{'model':'no-such-model','messages':[{'role':"
	    "'user','content':'x'}]}", &c, &o, &why, &param), KF_ENOTFOUND);
	conv_free(&c);
	ck_assert_str_eq(param, "model");
	ck_assert_ptr_nonnull(strstr(why, "available models: "));
	free(why);
	free(param);
	why = param = NULL;
	check_refused("{'messages':[{'role':'user','content':'x'}]}", "model",
	    "field required");
	check_refused("{'model':7,'messages':[]}", "model", "string");
	check_refused("{" M "}", "messages", "field required");
	check_refused("{" M ",'messages':[]}", "messages", "at least one");
	check_refused("{" M ",'messages':[{'role':'system','content':'x'}]}",
	    "messages", "no user message");
	check_refused("{" M ",'messages':[{'role':'robot','content':'x'}]}",
	    "messages[0].role", "\"robot\"");
	check_refused("{" M ",'messages':[{'content':'x'}]}",
	    "messages[0].role", "field required");
	check_refused("{" M ",'messages':['hi']}", "messages[0]",
	    "must be an object");
	check_refused("{" M ",'messages':[{'role':'user'}]}",
	    "messages[0].content", "field required");
	check_refused("{" M ",'messages':[{'role':'user','content':5}]}",
	    "messages[0].content", NULL);
	check_refused("{" M ",'messages':[{'role':'user','content':[{'type':"
	    "'text'}]}]}", "messages[0].content[0].text", "field required");
	check_refused("{" M ",'messages':[{'role':'system','content':[{'type':"
	    "'image_url'}]}]}", "messages[0].content[0].type", "only text");
	/* Not JSON, or not an object: no param. */
	ck_assert_int_eq(parse("[1]", &c, &o, &why, &param), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "JSON object"));
	ck_assert_ptr_null(param);
	conv_free(&c);
	free(why);
	why = NULL;
	ck_assert_int_eq(parse("{", &c, &o, &why, &param), KF_EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_null(param);
	conv_free(&c);
	free(why);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("parse-openai-chat");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, minimal_string_content);
	tcase_add_test(tc, system_and_developer);
	tcase_add_test(tc, user_parts_text_and_images);
	tcase_add_test(tc, image_errors_name_the_url);
	tcase_add_test(tc, tool_call_round_trip);
	tcase_add_test(tc, assistant_text_with_tool_calls);
	tcase_add_test(tc, tools_and_tool_choice);
	tcase_add_test(tc, stop_and_response_format);
	tcase_add_test(tc, stop_capped_with_param);
	tcase_add_test(tc, thinking_from_effort_and_name);
	tcase_add_test(tc, limits_stream_session);
	tcase_add_test(tc, unsupported_options_refused);
	tcase_add_test(tc, web_search_options);
	tcase_add_test(tc, model_and_shape_errors);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
