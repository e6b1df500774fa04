/* test-parse-gemini.c: Gemini generateContent bodies into the neutral conversation. */
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
#include "gemini.h"
#include "json.h"
#include "models.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * Covers gemini_parse (fcgi/parse-gemini.c) with Gemini model names, and
 * gemini_schema_to_json (fcgi/gemini-schema.c): roles user/model/function,
 * text, inlineData images (and refusals), thought parts, functionCall ids by
 * position and functionResponse pairing by name in order and by id (within
 * the model turn before it), executableCode / codeExecutionResult /
 * fileData / non-image data / unknown parts as notes,
 * systemInstruction as Content and string, functionDeclarations with
 * parameters (converted) and parametersJsonSchema, toolConfig modes and
 * allowedFunctionNames, generationConfig (maxOutputTokens, stopSequences,
 * JSON mode with responseSchema / responseJsonSchema, thinkingConfig), the
 * countTokens wrapper, model mapping, and a table of bad fields whose cause
 * must name the field's path.
 */

#define PNG_B64		"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4" \
	"nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
#define USER(text)	"{\"role\":\"user\",\"parts\":[{\"text\":\"" text "\"}]}"

static enum kf_err
parse(const char *body, const char *model, int for_count, struct conv *c,
    struct gemini_opts *o, char **cause)
{
	conv_init(c);
	return gemini_parse(body, strlen(body), model, for_count, c, o, cause);
}

static void
parse_ok(const char *body, struct conv *c, struct gemini_opts *o)
{
	char		*why = NULL;
	enum kf_err	 er;

	er = parse(body, "gemini-2.5-pro", 0, c, o, &why);
	ck_assert_msg(er == KF_OK, "parse of %s failed: %s", body,
	    why != NULL ? why : "(no cause)");
	free(why);
}

/* A body that must fail with a cause starting with prefix. */
static void
parse_bad(const char *body, const char *prefix)
{
	struct conv		 c;
	struct gemini_opts	 o;
	char			*why = NULL;
	enum kf_err		 er;

	er = parse(body, "gemini-2.5-pro", 0, &c, &o, &why);
	ck_assert_msg(er == KF_EINVAL, "%s: parsed", body);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strncmp(why, prefix, strlen(prefix)) == 0,
	    "%s: cause \"%s\" does not start with \"%s\"", body, why, prefix);
	free(why);
	conv_free(&c);
}

static char *
schema_str(const char *in)
{
	json_object	*src = NULL, *out;
	char		*s;

	ck_assert_int_eq(json_parse(in, strlen(in), 64, &src, NULL), KF_OK);
	out = gemini_schema_to_json(src);
	s = json_to_str(out);
	json_object_put(out);
	json_object_put(src);
	return s;
}

START_TEST(parse_text_roles_and_model)
{
	struct conv		c;
	struct gemini_opts	o;

	parse_ok("{\"contents\":[" USER("hi") ",{\"role\":\"model\",\"parts\":"
	    "[{\"text\":\"hello\"}]},{\"parts\":[{\"text\":\"a\"},{\"text\":"
	    "\"b\"}]}]}", &c, &o);
	ck_assert_uint_eq(c.n_msgs, 3);
	ck_assert_int_eq(c.msgs[0].role, CONV_ROLE_USER);
	ck_assert_int_eq(c.msgs[1].role, CONV_ROLE_ASSISTANT);
	ck_assert_int_eq(c.msgs[2].role, CONV_ROLE_USER);
	ck_assert_str_eq(c.msgs[1].blocks[0].text, "hello");
	ck_assert_uint_eq(c.msgs[2].n_blocks, 2);
	ck_assert_str_eq(c.msgs[2].blocks[1].text, "b");
	ck_assert_str_eq(c.model, "gemini-2.5-pro");
	ck_assert_str_eq(c.kiro_model, "claude-sonnet-4.5");
	ck_assert_int_eq(c.stream, 0);
	ck_assert_int_eq(c.thinking, CONV_THINKING_OFF);
	ck_assert_int_eq(o.include_thoughts, 0);
	ck_assert_ptr_null(c.system);
	conv_free(&c);
}
END_TEST

START_TEST(parse_system_instruction_forms)
{
	struct conv		c;
	struct gemini_opts	o;

	parse_ok("{\"systemInstruction\":{\"parts\":[{\"text\":\"one\"},"
	    "{\"text\":\"\"},{\"text\":\"two\"}]},\"contents\":[" USER("x")
	    "]}", &c, &o);
	ck_assert_str_eq(c.system, "one\ntwo");
	conv_free(&c);
	parse_ok("{\"systemInstruction\":\"plain\",\"contents\":[" USER("x")
	    "]}", &c, &o);
	ck_assert_str_eq(c.system, "plain");
	conv_free(&c);
	parse_bad("{\"systemInstruction\":{\"parts\":[{\"text\":1}]},"
	    "\"contents\":[" USER("x") "]}", "systemInstruction.parts[0].text");
	parse_bad("{\"systemInstruction\":5,\"contents\":[" USER("x") "]}",
	    "systemInstruction");
}
END_TEST

START_TEST(parse_inline_image)
{
	struct conv		c;
	struct gemini_opts	o;

	parse_ok("{\"contents\":[{\"role\":\"user\",\"parts\":[{\"inlineData\":"
	    "{\"mimeType\":\"image/PNG\",\"data\":\"" PNG_B64 "\"}},{\"text\":"
	    "\"what?\"}]}]}", &c, &o);
	ck_assert_uint_eq(c.msgs[0].n_blocks, 2);
	ck_assert_int_eq(c.msgs[0].blocks[0].type, CONV_BLOCK_IMAGE);
	ck_assert_str_eq(c.msgs[0].blocks[0].media_type, "image/png");
	ck_assert_str_eq(c.msgs[0].blocks[0].data, PNG_B64);
	conv_free(&c);
	/* URL-safe, unpadded base64 is rewritten to standard, padded. */
	parse_ok("{\"contents\":[{\"parts\":[{\"inlineData\":{\"mimeType\":"
	    "\"image/jpeg\",\"data\":\"_-8\"}}]}]}", &c, &o);
	ck_assert_str_eq(c.msgs[0].blocks[0].data, "/+8=");
	conv_free(&c);
	parse_bad("{\"contents\":[{\"parts\":[{\"inlineData\":{\"mimeType\":"
	    "\"image/png\",\"data\":\"!!!\"}}]}]}",
	    "contents[0].parts[0].inlineData.data");
	parse_bad("{\"contents\":[{\"parts\":[{\"inlineData\":{\"data\":"
	    "\"AAAA\"}}]}]}", "contents[0].parts[0].inlineData.mimeType");
	parse_bad("{\"contents\":[{\"parts\":[{\"fileData\":\"gs://x\"}]}]}",
	    "contents[0].parts[0].fileData: must be an object");
	parse_bad("{\"contents\":[{\"parts\":[{\"fileData\":{\"mimeType\":"
	    "\"image/png\"}}]}]}", "contents[0].parts[0].fileData.fileUri");
	parse_bad("{\"contents\":[{\"parts\":[{\"executableCode\":1}]}]}",
	    "contents[0].parts[0].executableCode: must be an object");
}
END_TEST

/*
 * Parts Kiro has no form for (Google's code runner, files in Google's
 * storage, audio and PDF data, kinds not known yet) become notes in
 * place; videoMetadata alone carries nothing.
 */
START_TEST(parse_google_parts_become_notes)
{
	struct conv		 c;
	struct gemini_opts	 o;
	struct conv_msg		*m;

	parse_ok("{\"contents\":[{\"role\":\"user\",\"parts\":["
	    "{\"text\":\"see\"},"
	    "{\"fileData\":{\"mimeType\":\"video/mp4\",\"fileUri\":"
	    "\"https://generativelanguage.googleapis.com/v1beta/files/abc\"},"
	    "\"videoMetadata\":{\"startOffset\":\"1s\"}},"
	    "{\"videoMetadata\":{\"fps\":2}},"
	    "{\"inlineData\":{\"mimeType\":\"audio/wav\",\"data\":"
	    "\"AAAA\"}},"
	    "{\"toolCall\":{\"name\":\"x\"}}]},"
	    "{\"role\":\"model\",\"parts\":["
	    "{\"executableCode\":{\"language\":\"PYTHON\",\"code\":"
	    "\"print(6*7)\"}},"
	    "{\"codeExecutionResult\":{\"outcome\":\"OUTCOME_OK\","
	    "\"output\":\"42\\n\"}},{\"text\":\"It is 42.\"}]}]}", &c, &o);
	ck_assert_uint_eq(c.n_msgs, 2);
	m = &c.msgs[0];
	ck_assert_uint_eq(m->n_blocks, 4);
	ck_assert_str_eq(m->blocks[0].text, "see");
	ck_assert_int_eq(m->blocks[1].type, CONV_BLOCK_TEXT);
	ck_assert_ptr_nonnull(strstr(m->blocks[1].text, "files/abc"));
	ck_assert_ptr_nonnull(strstr(m->blocks[1].text, "video/mp4"));
	ck_assert_ptr_nonnull(strstr(m->blocks[2].text, "audio/wav"));
	ck_assert_str_eq(m->blocks[3].text, "[toolCall part]");
	m = &c.msgs[1];
	ck_assert_uint_eq(m->n_blocks, 3);
	ck_assert_str_eq(m->blocks[0].text, "[code run (PYTHON)]\nprint(6*7)");
	ck_assert_str_eq(m->blocks[1].text, "[code result: OUTCOME_OK]\n42\n");
	ck_assert_str_eq(m->blocks[2].text, "It is 42.");
	conv_free(&c);
}
END_TEST

/*
 * A functionResponse answers a call of the model turn just before it,
 * even when an earlier turn used the same id (clients reuse them).
 */
START_TEST(parse_function_ids_reused_across_turns)
{
	struct conv		c;
	struct gemini_opts	o;

	parse_ok("{\"contents\":[" USER("x") ",{\"role\":\"model\",\"parts\":"
	    "[{\"functionCall\":{\"id\":\"t1\",\"name\":\"f\"}}]},{\"role\":"
	    "\"user\",\"parts\":[{\"functionResponse\":{\"id\":\"t1\","
	    "\"name\":\"f\"}}]},{\"role\":\"model\",\"parts\":["
	    "{\"functionCall\":{\"id\":\"t1\",\"name\":\"f\"}}]},{\"role\":"
	    "\"user\",\"parts\":[{\"functionResponse\":{\"id\":\"t1\","
	    "\"name\":\"f\",\"response\":{\"output\":\"second\"}}}]}]}",
	    &c, &o);
	ck_assert_uint_eq(c.n_msgs, 5);
	ck_assert_int_eq(c.msgs[4].blocks[0].type, CONV_BLOCK_TOOL_RESULT);
	ck_assert_str_eq(c.msgs[4].blocks[0].id, "t1");
	ck_assert_str_eq(c.msgs[4].blocks[0].content[0].text, "second");
	conv_free(&c);
}
END_TEST

START_TEST(parse_function_round_trip_by_name_in_order)
{
	struct conv		c;
	struct gemini_opts	o;
	struct conv_msg		*m, *r;

	parse_ok("{\"contents\":[" USER("read") ",{\"role\":\"model\","
	    "\"parts\":[{\"text\":\"ok\"},{\"functionCall\":{\"name\":\"read\","
	    "\"args\":{\"p\":\"/a\"}}},{\"functionCall\":{\"name\":\"list\"}},"
	    "{\"functionCall\":{\"name\":\"read\",\"args\":{\"p\":\"/b\"}}}]},"
	    "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":"
	    "\"read\",\"response\":{\"output\":\"A\"}}},{\"functionResponse\":"
	    "{\"name\":\"list\",\"response\":{\"files\":[1]}}},"
	    "{\"functionResponse\":{\"name\":\"read\",\"response\":{\"error\":"
	    "\"denied\"}}}]}]}", &c, &o);
	ck_assert_uint_eq(c.n_msgs, 3);
	m = &c.msgs[1];
	ck_assert_uint_eq(m->n_blocks, 4);
	ck_assert_int_eq(m->blocks[1].type, CONV_BLOCK_TOOL_USE);
	ck_assert_str_eq(m->blocks[1].id, "call_1_1");
	ck_assert_str_eq(m->blocks[2].id, "call_1_2");
	ck_assert_str_eq(m->blocks[3].id, "call_1_3");
	ck_assert_str_eq(m->blocks[2].name, "list");
	ck_assert(json_object_is_type(m->blocks[2].input, json_type_object));
	ck_assert_int_eq(json_object_object_length(m->blocks[2].input), 0);
	r = &c.msgs[2];
	ck_assert_uint_eq(r->n_blocks, 3);
	ck_assert_int_eq(r->blocks[0].type, CONV_BLOCK_TOOL_RESULT);
	/* The first "read" answers the first call, the second the third. */
	ck_assert_str_eq(r->blocks[0].id, "call_1_1");
	ck_assert_str_eq(r->blocks[1].id, "call_1_2");
	ck_assert_str_eq(r->blocks[2].id, "call_1_3");
	ck_assert_str_eq(r->blocks[0].content[0].text, "A");
	ck_assert_str_eq(r->blocks[1].content[0].text, "{\"files\":[1]}");
	ck_assert_int_eq(r->blocks[0].is_error, 0);
	ck_assert_int_eq(r->blocks[2].is_error, 1);
	conv_free(&c);
}
END_TEST

START_TEST(parse_function_ids_given)
{
	struct conv		c;
	struct gemini_opts	o;

	parse_ok("{\"contents\":[" USER("x") ",{\"role\":\"model\",\"parts\":"
	    "[{\"functionCall\":{\"id\":\"t1\",\"name\":\"f\"}},{\"functionCall\":"
	    "{\"id\":\"t2\",\"name\":\"f\"}}]},{\"role\":\"user\",\"parts\":["
	    "{\"functionResponse\":{\"id\":\"t2\",\"name\":\"f\",\"response\":"
	    "{}}},{\"functionResponse\":{\"id\":\"t1\",\"name\":\"f\"}}]}]}",
	    &c, &o);
	ck_assert_str_eq(c.msgs[1].blocks[0].id, "t1");
	ck_assert_str_eq(c.msgs[2].blocks[0].id, "t2");
	ck_assert_str_eq(c.msgs[2].blocks[1].id, "t1");
	conv_free(&c);
	/* A response with nothing to answer is refused, naming the part. */
	parse_bad("{\"contents\":[" USER("x") ",{\"role\":\"model\",\"parts\":"
	    "[{\"functionCall\":{\"name\":\"f\"}}]},{\"role\":\"user\",\"parts\":"
	    "[{\"functionResponse\":{\"name\":\"f\"}},{\"functionResponse\":"
	    "{\"name\":\"f\"}}]}]}", "contents[2].parts[1].functionResponse");
	/* An id answers once too. */
	parse_bad("{\"contents\":[" USER("x") ",{\"role\":\"model\",\"parts\":"
	    "[{\"functionCall\":{\"id\":\"t1\",\"name\":\"f\"}}]},{\"role\":"
	    "\"user\",\"parts\":[{\"functionResponse\":{\"id\":\"t1\",\"name\":"
	    "\"f\"}},{\"functionResponse\":{\"id\":\"t1\",\"name\":\"f\"}}]}]}",
	    "contents[2].parts[1].functionResponse");
	parse_bad("{\"contents\":[" USER("x") ",{\"role\":\"model\",\"parts\":"
	    "[{\"functionCall\":{\"name\":\"f\"}}]},{\"role\":\"user\",\"parts\":"
	    "[{\"functionResponse\":{\"name\":\"g\"}}]}]}",
	    "contents[2].parts[0].functionResponse");
	parse_bad("{\"contents\":[{\"role\":\"user\",\"parts\":[{\"functionCall\":"
	    "{\"name\":\"f\"}}]}]}", "contents[0].parts[0].functionCall");
	parse_bad("{\"contents\":[{\"role\":\"model\",\"parts\":["
	    "{\"functionCall\":{\"name\":\"f\",\"args\":[]}}]}]}",
	    "contents[0].parts[0].functionCall.args");
}
END_TEST

START_TEST(parse_function_role_and_thought_parts)
{
	struct conv		c;
	struct gemini_opts	o;

	parse_ok("{\"contents\":[" USER("x") ",{\"role\":\"model\",\"parts\":"
	    "[{\"text\":\"hmm\",\"thought\":true,\"thoughtSignature\":\"sig\"},"
	    "{\"functionCall\":{\"name\":\"f\"},\"thoughtSignature\":\"s2\"}]},"
	    "{\"role\":\"function\",\"parts\":[{\"functionResponse\":{\"name\":"
	    "\"f\",\"response\":{\"output\":\"done\"}}}]}]}", &c, &o);
	ck_assert_int_eq(c.msgs[1].blocks[0].type, CONV_BLOCK_THINKING);
	ck_assert_str_eq(c.msgs[1].blocks[0].text, "hmm");
	ck_assert_str_eq(c.msgs[1].blocks[0].signature, "sig");
	ck_assert_int_eq(c.msgs[2].role, CONV_ROLE_USER);
	ck_assert_str_eq(c.msgs[2].blocks[0].id, "call_1_1");
	conv_free(&c);
	/* A turn of nothing usable (a bare signature) is dropped. */
	parse_ok("{\"contents\":[" USER("x") ",{\"role\":\"model\",\"parts\":"
	    "[{\"thoughtSignature\":\"s\"}]}," USER("y") "]}", &c, &o);
	ck_assert_uint_eq(c.n_msgs, 2);
	conv_free(&c);
}
END_TEST

START_TEST(parse_tools_and_schema_conversion)
{
	struct conv		c;
	struct gemini_opts	o;
	char			*s;

	parse_ok("{\"contents\":[" USER("x") "],\"tools\":[{\"googleSearch\":"
	    "{}},{\"functionDeclarations\":[{\"name\":\"a\",\"description\":"
	    "\"A\",\"parameters\":{\"type\":\"OBJECT\",\"properties\":{\"n\":"
	    "{\"type\":\"INTEGER\"}}}},{\"name\":\"b\",\"parametersJsonSchema\":"
	    "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\"}}}},"
	    "{\"name\":\"c\"}]}]}", &c, &o);
	ck_assert_uint_eq(c.n_tools, 3);
	ck_assert_str_eq(c.tools[0].name, "a");
	ck_assert_str_eq(c.tools[0].description, "A");
	ck_assert_str_eq(c.tools[1].description, "");
	s = json_to_str(c.tools[0].schema);
	ck_assert_str_eq(s, "{\"type\":\"object\",\"properties\":{\"n\":"
	    "{\"type\":\"integer\"}}}");
	free(s);
	s = json_to_str(c.tools[2].schema);
	ck_assert_str_eq(s, "{\"type\":\"object\",\"properties\":{}}");
	free(s);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_AUTO);
	conv_free(&c);
	parse_bad("{\"contents\":[" USER("x") "],\"tools\":[{"
	    "\"functionDeclarations\":[{\"name\":\"a\",\"parameters\":{},"
	    "\"parametersJsonSchema\":{}}]}]}",
	    "tools[0].functionDeclarations[0]");
	parse_bad("{\"contents\":[" USER("x") "],\"tools\":[{"
	    "\"functionDeclarations\":[{\"name\":\"a\",\"parameters\":1}]}]}",
	    "tools[0].functionDeclarations[0].parameters");
	parse_bad("{\"contents\":[" USER("x") "],\"tools\":{}}", "tools");
}
END_TEST

START_TEST(schema_openapi_to_json_schema)
{
	char	*s;

	s = schema_str("{\"type\":\"OBJECT\",\"propertyOrdering\":[\"a\"],"
	    "\"properties\":{\"a\":{\"type\":\"STRING\",\"nullable\":true,"
	    "\"enum\":[\"X\",\"Y\"]},\"b\":{\"type\":\"ARRAY\",\"items\":"
	    "{\"type\":\"NUMBER\",\"format\":\"float\"}},\"type\":{\"type\":"
	    "\"BOOLEAN\",\"default\":{\"type\":\"STRING\"}},\"c\":{\"anyOf\":"
	    "[{\"type\":\"INTEGER\"},{\"type\":\"NULL\"}]}},\"required\":"
	    "[\"a\"]}");
	ck_assert_str_eq(s, "{\"type\":\"object\",\"properties\":{\"a\":"
	    "{\"type\":[\"string\",\"null\"],\"enum\":[\"X\",\"Y\"]},\"b\":"
	    "{\"type\":\"array\",\"items\":{\"type\":\"number\",\"format\":"
	    "\"float\"}},\"type\":{\"type\":\"boolean\",\"default\":{\"type\":"
	    "\"STRING\"}},\"c\":{\"anyOf\":[{\"type\":\"integer\"},{\"type\":"
	    "\"null\"}]}},\"required\":[\"a\"]}");
	free(s);
	/* JSON Schema passes as it is, but for upper-case type names. */
	s = schema_str("{\"type\":[\"STRING\",\"null\"],\"minLength\":1,"
	    "\"$defs\":{\"x\":{\"type\":\"object\"}}}");
	ck_assert_str_eq(s, "{\"type\":[\"string\",\"null\"],\"minLength\":1,"
	    "\"$defs\":{\"x\":{\"type\":\"object\"}}}");
	free(s);
	/* TYPE_UNSPECIFIED means any: no type at all. */
	s = schema_str("{\"type\":\"TYPE_UNSPECIFIED\",\"description\":\"d\"}");
	ck_assert_str_eq(s, "{\"description\":\"d\"}");
	free(s);
}
END_TEST

#define TOOLS2	"\"tools\":[{\"functionDeclarations\":[{\"name\":\"a\"}," \
	"{\"name\":\"b\"}]}]"

START_TEST(parse_tool_config_modes)
{
	struct conv		c;
	struct gemini_opts	o;

	parse_ok("{\"contents\":[" USER("x") "]," TOOLS2 ",\"toolConfig\":"
	    "{\"functionCallingConfig\":{\"mode\":\"NONE\"}}}", &c, &o);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_NONE);
	ck_assert_uint_eq(c.n_tools, 2);
	conv_free(&c);
	parse_ok("{\"contents\":[" USER("x") "]," TOOLS2 ",\"toolConfig\":"
	    "{\"functionCallingConfig\":{\"mode\":\"ANY\"}}}", &c, &o);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_ANY);
	conv_free(&c);
	parse_ok("{\"contents\":[" USER("x") "]," TOOLS2 ",\"toolConfig\":"
	    "{\"functionCallingConfig\":{\"mode\":\"any\","
	    "\"allowedFunctionNames\":[\"b\"]}}}", &c, &o);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_TOOL);
	ck_assert_str_eq(c.tool_choice_name, "b");
	ck_assert_uint_eq(c.n_tools, 1);
	ck_assert_str_eq(c.tools[0].name, "b");
	conv_free(&c);
	parse_ok("{\"contents\":[" USER("x") "]," TOOLS2 ",\"toolConfig\":"
	    "{\"functionCallingConfig\":{\"mode\":\"AUTO\","
	    "\"allowedFunctionNames\":[\"a\"]}}}", &c, &o);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_AUTO);
	ck_assert_uint_eq(c.n_tools, 1);
	ck_assert_str_eq(c.tools[0].name, "a");
	conv_free(&c);
	parse_bad("{\"contents\":[" USER("x") "]," TOOLS2 ",\"toolConfig\":"
	    "{\"functionCallingConfig\":{\"allowedFunctionNames\":[\"z\"]}}}",
	    "toolConfig.functionCallingConfig.allowedFunctionNames[0]");
	parse_bad("{\"contents\":[" USER("x") "],\"toolConfig\":"
	    "{\"functionCallingConfig\":{\"mode\":\"ANY\"}}}",
	    "toolConfig.functionCallingConfig.mode");
	parse_bad("{\"contents\":[" USER("x") "]," TOOLS2 ",\"toolConfig\":"
	    "{\"functionCallingConfig\":{\"mode\":\"ANY\","
	    "\"allowedFunctionNames\":[]}}}",
	    "toolConfig.functionCallingConfig.allowedFunctionNames: ANY");
	parse_bad("{\"contents\":[" USER("x") "]," TOOLS2 ",\"toolConfig\":"
	    "{\"functionCallingConfig\":{\"mode\":\"ANY\","
	    "\"allowedFunctionNames\":[\"a\",\"nope\"]}}}",
	    "toolConfig.functionCallingConfig.allowedFunctionNames[1]");
	parse_bad("{\"contents\":[" USER("x") "]," TOOLS2 ",\"toolConfig\":"
	    "{\"functionCallingConfig\":{\"mode\":\"MAYBE\"}}}",
	    "toolConfig.functionCallingConfig.mode");
}
END_TEST

/* generationConfig.stopSequences: conv's caps, by path. */
START_TEST(parse_stop_sequences_capped)
{
	struct buf	 body = BUF_INIT;
	char		 big[CONV_MAX_STOP_BYTES + 2];
	size_t		 i;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&body, "{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"stopSequences\":[\"%s\"]}}", big);
	parse_bad(body.ptr, "generationConfig.stopSequences[0]: at most 256 "
	    "bytes, not 257");
	buf_reset(&body);
	buf_printf(&body, "{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"stopSequences\":[\"S0\"");
	for (i = 1; i <= CONV_MAX_STOP; i++)
		buf_printf(&body, ",\"S%zu\"", i);
	buf_printf(&body, "]}}");
	parse_bad(body.ptr, "generationConfig.stopSequences[16]: at most 16 "
	    "stop sequences are allowed");
	buf_free(&body);
}
END_TEST

START_TEST(parse_generation_config)
{
	struct conv		c;
	struct gemini_opts	o;
	char			*s;

	parse_ok("{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"maxOutputTokens\":77,\"stopSequences\":[\"END\",\"\",\"##\"],"
	    "\"temperature\":0.2,\"topK\":3,\"responseMimeType\":"
	    "\"application/json\",\"responseSchema\":{\"type\":\"OBJECT\","
	    "\"properties\":{\"n\":{\"type\":\"INTEGER\"}}}}}", &c, &o);
	ck_assert_int_eq(c.max_tokens, 77);
	ck_assert_uint_eq(c.n_stop, 2);
	ck_assert_str_eq(c.stop[0], "END");
	ck_assert_str_eq(c.stop[1], "##");
	ck_assert_int_eq(c.json_mode, 1);
	s = json_to_str(c.response_schema);
	ck_assert_str_eq(s, "{\"type\":\"object\",\"properties\":{\"n\":"
	    "{\"type\":\"integer\"}}}");
	free(s);
	conv_free(&c);
	/* Gemini CLI's router call: responseJsonSchema with OpenAPI types. */
	parse_ok("{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"responseMimeType\":\"application/json\",\"responseJsonSchema\":"
	    "{\"type\":\"OBJECT\",\"properties\":{\"r\":{\"type\":\"STRING\"}},"
	    "\"required\":[\"r\"]}}}", &c, &o);
	s = json_to_str(c.response_schema);
	ck_assert_str_eq(s, "{\"type\":\"object\",\"properties\":{\"r\":"
	    "{\"type\":\"string\"}},\"required\":[\"r\"]}");
	free(s);
	conv_free(&c);
	parse_ok("{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"responseMimeType\":\"application/json\"}}", &c, &o);
	ck_assert_int_eq(c.json_mode, 1);
	ck_assert_ptr_null(c.response_schema);
	conv_free(&c);
	parse_ok("{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"responseMimeType\":\"text/plain\"}}", &c, &o);
	ck_assert_int_eq(c.json_mode, 0);
	conv_free(&c);
}
END_TEST

START_TEST(parse_thinking_config)
{
	struct conv		c;
	struct gemini_opts	o;

	parse_ok("{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"thinkingConfig\":{\"thinkingBudget\":4096}}}", &c, &o);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ENABLED);
	ck_assert_int_eq(c.thinking_budget, 4096);
	ck_assert_int_eq(o.include_thoughts, 0);
	conv_free(&c);
	parse_ok("{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"thinkingConfig\":{\"thinkingBudget\":-1,\"includeThoughts\":"
	    "true}}}", &c, &o);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ADAPTIVE);
	ck_assert_int_eq(o.include_thoughts, 1);
	conv_free(&c);
	parse_ok("{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"thinkingConfig\":{\"thinkingBudget\":0,\"includeThoughts\":"
	    "true}}}", &c, &o);
	ck_assert_int_eq(c.thinking, CONV_THINKING_OFF);
	ck_assert_int_eq(o.include_thoughts, 0);
	conv_free(&c);
	parse_ok("{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"thinkingConfig\":{\"thinkingLevel\":\"LOW\","
	    "\"includeThoughts\":true}}}", &c, &o);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ADAPTIVE);
	ck_assert_str_eq(c.thinking_effort, "low");
	conv_free(&c);
	parse_ok("{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"thinkingConfig\":{\"thinkingLevel\":\"high\"}}}", &c, &o);
	ck_assert_str_eq(c.thinking_effort, "high");
	ck_assert_int_eq(o.include_thoughts, 0);
	conv_free(&c);
	parse_ok("{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"thinkingConfig\":{\"includeThoughts\":true}}}", &c, &o);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ADAPTIVE);
	conv_free(&c);
	parse_bad("{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"thinkingConfig\":{\"thinkingBudget\":-5}}}",
	    "generationConfig.thinkingConfig.thinkingBudget");
	parse_bad("{\"contents\":[" USER("x") "],\"generationConfig\":"
	    "{\"thinkingConfig\":{\"thinkingLevel\":\"EXTREME\"}}}",
	    "generationConfig.thinkingConfig.thinkingLevel");
}
END_TEST

START_TEST(parse_models_and_count_wrapper)
{
	struct conv		 c;
	struct gemini_opts	 o;
	const struct model_info	*m;
	char			*why = NULL;
	int			 th;

	ck_assert_str_eq(models_resolve("gemini-2.5-flash", &th)->id,
	    "claude-haiku-4.5");
	ck_assert_str_eq(models_resolve("gemini-3.5-flash-lite",
	    &th)->id, "claude-haiku-4.5");
	ck_assert_str_eq(models_resolve("gemini-3.1-pro-preview",
	    &th)->id, "claude-sonnet-4.5");
	ck_assert_str_eq(models_resolve("claude-opus-4.6", &th)->id,
	    "claude-opus-4.6");
	ck_assert_ptr_null(models_resolve("llama-9", &th));
	ck_assert_int_eq(parse("{\"contents\":[" USER("x") "]}", "llama-9", 0, &c,
	    &o, &why), KF_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(why, "llama-9"));
	ck_assert_ptr_nonnull(strstr(why, models_list_text()));
	free(why);
	why = NULL;
	conv_free(&c);
	/* countTokens: any model, and the wrapped request. */
	ck_assert_int_eq(parse("{\"generateContentRequest\":{\"model\":"
	    "\"models/x\",\"contents\":[" USER("x") "]}}", "llama-9", 1, &c, &o,
	    &why), KF_OK);
	ck_assert_ptr_null(c.kiro_model);
	ck_assert_uint_eq(c.n_msgs, 1);
	conv_free(&c);
	m = models_resolve("claude-sonnet-4-5-thinking", &th);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(th, 1);
}
END_TEST

START_TEST(parse_bad_fields_name_the_path)
{
	static const struct {
		const char	*body;
		const char	*prefix;
	} cases[] = {
		{ "[]", "the request body must be a JSON object" },
		{ "{\"contents\":{}}", "contents: must be an array" },
		{ "{}", "contents: field required" },
		{ "{\"contents\":[]}", "contents: at least one" },
		{ "{\"contents\":[1]}", "contents[0]: must be an object" },
		{ "{\"contents\":[{\"role\":\"user\"}]}",
		    "contents[0].parts: field required" },
		{ "{\"contents\":[{\"role\":3,\"parts\":[]}]}",
		    "contents[0].role: must be a string" },
		{ "{\"contents\":[{\"role\":\"assistant\",\"parts\":[]}]}",
		    "contents[0].role" },
		{ "{\"contents\":[{\"parts\":[\"x\"]}]}",
		    "contents[0].parts[0]: must be an object" },
		{ "{\"contents\":[{\"parts\":[{\"text\":1}]}]}",
		    "contents[0].parts[0].text: must be a string" },
		{ "{\"contents\":[{\"parts\":[{\"thought\":\"y\",\"text\":\"a\"}]}]}",
		    "contents[0].parts[0].thought: must be a boolean" },
		{ "{\"contents\":[{\"parts\":[{}]}]}",
		    "contents[0].parts[0]: a part needs" },
		{ "{\"contents\":[{\"parts\":[{\"text\":\"\"}]}]}",
		    "contents: no part has any content" },
		{ "{\"contents\":[" USER("x") "],\"generationConfig\":[]}",
		    "generationConfig: must be an object" },
		{ "{\"contents\":[" USER("x") "],\"generationConfig\":"
		    "{\"maxOutputTokens\":\"9\"}}",
		    "generationConfig.maxOutputTokens" },
		{ "{\"contents\":[" USER("x") "],\"generationConfig\":"
		    "{\"stopSequences\":[1]}}",
		    "generationConfig.stopSequences[0]" },
		{ "{\"contents\":[" USER("x") "],\"generationConfig\":"
		    "{\"responseMimeType\":\"text/x.enum\"}}",
		    "generationConfig.responseMimeType" },
		{ "{\"contents\":[" USER("x") "],\"generationConfig\":"
		    "{\"responseSchema\":{\"type\":\"OBJECT\"}}}",
		    "generationConfig.responseSchema: needs responseMimeType" },
		{ "{\"contents\":[" USER("x") "],\"generationConfig\":"
		    "{\"thinkingConfig\":{\"includeThoughts\":1}}}",
		    "generationConfig.thinkingConfig.includeThoughts" },
		{ "{\"contents\":[" USER("x") "],\"toolConfig\":1}",
		    "toolConfig: must be an object" },
		{ "{\"contents\":[" USER("x") "],\"tools\":[{"
		    "\"functionDeclarations\":[{\"name\":\"\"}]}]}",
		    "tools[0].functionDeclarations[0].name" },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_bad(cases[i].body, cases[i].prefix);
	parse_bad("{\"contents\":[" USER("x") "]", "");
}
END_TEST

START_TEST(parse_cause_may_be_null)
{
	struct conv		c;
	struct gemini_opts	o;

	ck_assert_int_eq(parse("{\"contents\":5}", "gemini-2.5-pro", 0, &c, &o,
	    NULL), KF_EINVAL);
	conv_free(&c);
	ck_assert_int_eq(parse("{\"contents\":[" USER("x") "]}", "", 0, &c, &o,
	    NULL), KF_EINVAL);
	conv_free(&c);
}
END_TEST

/*
 * allowedFunctionNames over many tools: the filter runs before the caps
 * check, so it must stay linear (it was tools x names, one move per tool
 * removed).  The time is printed, not asserted; the case's timeout stops a
 * quadratic filter.
 */
#define MANY_TOOLS	40000

START_TEST(parse_allowed_names_many_tools)
{
	struct conv		 c;
	struct gemini_opts	 o;
	struct buf		 body = BUF_INIT;
	struct timespec		 t0, t1;
	char			 want[32];
	size_t			 i;

	buf_printf(&body, "{\"contents\":[" USER("x") "],\"tools\":"
	    "[{\"functionDeclarations\":[");
	for (i = 0; i < MANY_TOOLS; i++)
		buf_printf(&body, "%s{\"name\":\"f%zu\"}", i ? "," : "", i);
	buf_printf(&body, "]}],\"toolConfig\":{\"functionCallingConfig\":"
	    "{\"mode\":\"AUTO\",\"allowedFunctionNames\":[");
	/* Every odd one, from the last down, with each name twice. */
	for (i = MANY_TOOLS - 1; i < MANY_TOOLS; i -= 2)
		buf_printf(&body, "%s\"f%zu\",\"f%zu\"",
		    i == MANY_TOOLS - 1 ? "" : ",", i, i);
	buf_printf(&body, "]}}}");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	parse_ok(body.ptr, &c, &o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("parse-gemini: %d tools, %d allowed names: %.1f ms\n",
	    MANY_TOOLS, MANY_TOOLS, (t1.tv_sec - t0.tv_sec) * 1e3 +
	    (t1.tv_nsec - t0.tv_nsec) / 1e6);
	/* The declared order is kept, whatever the list's order. */
	ck_assert_uint_eq(c.n_tools, MANY_TOOLS / 2);
	for (i = 0; i < c.n_tools; i++) {
		snprintf(want, sizeof(want), "f%zu", 2 * i + 1);
		ck_assert_str_eq(c.tools[i].name, want);
		ck_assert_ptr_nonnull(c.tools[i].schema);
	}
	conv_free(&c);
	buf_free(&body);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("parse-gemini");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, parse_text_roles_and_model);
	tcase_add_test(tc, parse_system_instruction_forms);
	tcase_add_test(tc, parse_inline_image);
	tcase_add_test(tc, parse_google_parts_become_notes);
	tcase_add_test(tc, parse_function_ids_reused_across_turns);
	tcase_add_test(tc, parse_function_round_trip_by_name_in_order);
	tcase_add_test(tc, parse_function_ids_given);
	tcase_add_test(tc, parse_function_role_and_thought_parts);
	tcase_add_test(tc, parse_tools_and_schema_conversion);
	tcase_add_test(tc, schema_openapi_to_json_schema);
	tcase_add_test(tc, parse_tool_config_modes);
	tcase_add_test(tc, parse_generation_config);
	tcase_add_test(tc, parse_stop_sequences_capped);
	tcase_add_test(tc, parse_thinking_config);
	tcase_add_test(tc, parse_models_and_count_wrapper);
	tcase_add_test(tc, parse_bad_fields_name_the_path);
	tcase_add_test(tc, parse_cause_may_be_null);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("scale");
	tcase_add_test(tc, parse_allowed_names_many_tools);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
