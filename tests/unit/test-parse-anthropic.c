/* test-parse-anthropic.c: Anthropic Messages request bodies into the neutral conversation. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "anthropic.h"
#include "buf.h"
#include "conv.h"
#include "err.h"
#include "json.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * Covers anthropic_parse and anthropic_session_id (fcgi/parse-anthropic.c):
 * every content block type (text, image with each media type and each
 * refusal, tool_use, tool_result in all its forms, thinking, the skipped
 * redacted_thinking, server-tool records and unknown types as notes, text,
 * content and PDF documents, search results),
 * role "system" inside messages, system as string and array, tools and
 * tool_choice, thinking / output_config.effort / the -thinking model
 * suffix, metadata.user_id in both session forms, model resolution (and
 * its relaxation for count_tokens), and a table of wrong types whose
 * cause must start with the exact path of the offending field.
 */

#define MODEL		"\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100"
#define UUID_A		"0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
/* A 1x1 PNG. */
#define PNG_B64		"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4" \
	"nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="

/* Parses body into c (initialised here); the caller conv_frees c. */
static enum kf_err
parse(const char *body, int for_count, struct conv *c, char **cause)
{
	conv_init(c);
	return anthropic_parse(body, strlen(body), for_count, c, cause);
}

/* A body that must parse; returns the conv for inspection. */
static void
parse_ok(const char *body, struct conv *c)
{
	char		*why = NULL;
	enum kf_err	 er;

	er = parse(body, 0, c, &why);
	ck_assert_msg(er == KF_OK, "parse of %s failed: %s", body,
	    why != NULL ? why : "(no cause)");
	free(why);
}

/* A body with messages [{role user, content <content>}]. */
static char *
user_body(const char *content)
{
	return xasprintf("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":%s}]}", content);
}

/*
 * A body that must be refused with KF_EINVAL and a cause that begins with
 * "<path>:" -- the exact field, not a parent or a sibling.  Returns the
 * cause for further checks (caller frees).
 */
static char *
expect_einval_at(const char *body, int for_count, const char *path)
{
	struct conv	 c;
	char		*why = NULL;
	enum kf_err	 er;
	size_t		 n = strlen(path);

	er = parse(body, for_count, &c, &why);
	conv_free(&c);
	ck_assert_msg(er == KF_EINVAL, "%s: expected KF_EINVAL, got %d",
	    body, er);
	ck_assert_msg(why != NULL, "%s: no cause", body);
	ck_assert_msg(strncmp(why, path, n) == 0 && why[n] == ':',
	    "%s: cause \"%s\" does not name \"%s\"", body, why, path);
	return why;
}

static void
check_einval_at(const char *body, const char *path)
{
	free(expect_einval_at(body, 0, path));
}

/* ---- content blocks ---- */

START_TEST(parse_text_string_and_text_blocks)
{
	struct conv	c;

	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"hello\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
	    "\"text\",\"text\":\"one\"},{\"type\":\"text\",\"text\":\"two\"}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"\\u00e9\\n\\\"q\\\"\"}]}]}", &c);
	ck_assert_uint_eq(c.n_msgs, 3);
	ck_assert_int_eq(c.msgs[0].role, CONV_ROLE_USER);
	ck_assert_uint_eq(c.msgs[0].n_blocks, 1);
	ck_assert_int_eq(c.msgs[0].blocks[0].type, CONV_BLOCK_TEXT);
	ck_assert_str_eq(c.msgs[0].blocks[0].text, "hello");
	ck_assert_int_eq(c.msgs[1].role, CONV_ROLE_ASSISTANT);
	ck_assert_uint_eq(c.msgs[1].n_blocks, 2);
	ck_assert_str_eq(c.msgs[1].blocks[0].text, "one");
	ck_assert_str_eq(c.msgs[1].blocks[1].text, "two");
	ck_assert_str_eq(c.msgs[2].blocks[0].text, "\xc3\xa9\n\"q\"");
	ck_assert_str_eq(c.model, "claude-sonnet-4-5");
	ck_assert_str_eq(c.kiro_model, "claude-sonnet-4.5");
	ck_assert_int_eq(c.max_tokens, 100);
	ck_assert_int_eq(c.stream, 0);
	ck_assert_ptr_null(c.system);
	conv_free(&c);
}
END_TEST

START_TEST(parse_stream_flag)
{
	struct conv	c;

	parse_ok("{" MODEL ",\"stream\":true,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}", &c);
	ck_assert_int_eq(c.stream, 1);
	conv_free(&c);
	parse_ok("{" MODEL ",\"stream\":false,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"x\"}]}", &c);
	ck_assert_int_eq(c.stream, 0);
	conv_free(&c);
}
END_TEST

START_TEST(parse_image_base64_each_allowed_media_type)
{
	static const char *const types[] = {
		"image/jpeg", "image/png", "image/gif", "image/webp", NULL
	};
	struct conv	 c;
	char		*content, *body;
	size_t		 i;

	for (i = 0; types[i] != NULL; i++) {
		content = xasprintf("[{\"type\":\"image\",\"source\":{\"type\":"
		    "\"base64\",\"media_type\":\"%s\",\"data\":\"" PNG_B64
		    "\"}},{\"type\":\"text\",\"text\":\"what is it?\"}]",
		    types[i]);
		body = user_body(content);
		parse_ok(body, &c);
		ck_assert_uint_eq(c.msgs[0].n_blocks, 2);
		ck_assert_int_eq(c.msgs[0].blocks[0].type, CONV_BLOCK_IMAGE);
		ck_assert_str_eq(c.msgs[0].blocks[0].media_type, types[i]);
		ck_assert_str_eq(c.msgs[0].blocks[0].data, PNG_B64);
		ck_assert_int_eq(c.msgs[0].blocks[1].type, CONV_BLOCK_TEXT);
		conv_free(&c);
		free(body);
		free(content);
	}
}
END_TEST

START_TEST(parse_image_other_media_type_refused)
{
	char	*body, *why;

	body = user_body("[{\"type\":\"image\",\"source\":{\"type\":\"base64\","
	    "\"media_type\":\"image/bmp\",\"data\":\"" PNG_B64 "\"}}]");
	why = expect_einval_at(body, 0, "messages[0].content[0].source."
	    "media_type");
	ck_assert_ptr_nonnull(strstr(why, "image/bmp"));
	free(why);
	free(body);
}
END_TEST

START_TEST(parse_image_url_source_refused)
{
	char	*body, *why;

	body = user_body("[{\"type\":\"text\",\"text\":\"see\"},{\"type\":"
	    "\"image\",\"source\":{\"type\":\"url\",\"url\":"
	    "\"https://example.com/cat.png\"}}]");
	why = expect_einval_at(body, 0, "messages[0].content[1].source.type");
	ck_assert_ptr_nonnull(strstr(why, "base64"));
	free(why);
	free(body);
}
END_TEST

START_TEST(parse_image_bad_base64_refused)
{
	char	*body;

	body = user_body("[{\"type\":\"image\",\"source\":{\"type\":\"base64\","
	    "\"media_type\":\"image/png\",\"data\":\"not base64!\"}}]");
	check_einval_at(body, "messages[0].content[0].source.data");
	free(body);
	/* One stray character is not a whole quantum. */
	body = user_body("[{\"type\":\"image\",\"source\":{\"type\":\"base64\","
	    "\"media_type\":\"image/png\",\"data\":\"QUJDR\"}}]");
	check_einval_at(body, "messages[0].content[0].source.data");
	free(body);
}
END_TEST

/* A body whose one image decodes to exactly n bytes (unpadded base64). */
static char *
image_body_of(size_t decoded)
{
	struct buf	b = BUF_INIT;
	size_t		chars = decoded / 3 * 4 +
	    (decoded % 3 != 0 ? decoded % 3 + 1 : 0);
	char		*data;

	data = xmalloc(chars);
	memset(data, 'A', chars);
	buf_puts(&b, "{" MODEL ",\"messages\":[{\"role\":\"user\",\"content\":"
	    "[{\"type\":\"image\",\"source\":{\"type\":\"base64\","
	    "\"media_type\":\"image/png\",\"data\":\"");
	buf_append(&b, data, chars);
	buf_puts(&b, "\"}}]}]}");
	free(data);
	return buf_detach(&b);
}

START_TEST(parse_image_over_limit_refused)
{
	struct conv	 c;
	char		*body, *why;

	/* Exactly the limit is allowed; one byte more is not. */
	body = image_body_of(ANTHROPIC_MAX_IMAGE_BYTES);
	parse_ok(body, &c);
	ck_assert_int_eq(c.msgs[0].blocks[0].type, CONV_BLOCK_IMAGE);
	conv_free(&c);
	free(body);

	body = image_body_of(ANTHROPIC_MAX_IMAGE_BYTES + 1);
	why = expect_einval_at(body, 0, "messages[0].content[0].source.data");
	ck_assert_ptr_nonnull(strstr(why, "limit"));
	free(why);
	free(body);
}
END_TEST

START_TEST(parse_tool_use_with_and_without_input)
{
	struct conv		 c;
	struct conv_block	*b;
	json_object		*v;

	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"weather?\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
	    "\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
	    "\"input\":{\"city\":\"Paris\",\"days\":[1,2]}},{\"type\":"
	    "\"tool_use\",\"id\":\"toolu_2\",\"name\":\"now\"}]}]}", &c);
	ck_assert_uint_eq(c.msgs[1].n_blocks, 2);
	b = &c.msgs[1].blocks[0];
	ck_assert_int_eq(b->type, CONV_BLOCK_TOOL_USE);
	ck_assert_str_eq(b->id, "toolu_1");
	ck_assert_str_eq(b->name, "get_weather");
	ck_assert(json_object_is_type(b->input, json_type_object));
	ck_assert(json_object_object_get_ex(b->input, "city", &v));
	ck_assert_str_eq(json_object_get_string(v), "Paris");
	ck_assert(json_object_object_get_ex(b->input, "days", &v));
	ck_assert_uint_eq(json_object_array_length(v), 2);
	b = &c.msgs[1].blocks[1];
	ck_assert_int_eq(b->type, CONV_BLOCK_TOOL_USE);
	ck_assert_str_eq(b->id, "toolu_2");
	/* No input is an empty object, never NULL. */
	ck_assert_ptr_nonnull(b->input);
	ck_assert(json_object_is_type(b->input, json_type_object));
	ck_assert_int_eq(json_object_object_length(b->input), 0);
	conv_free(&c);
}
END_TEST

START_TEST(parse_tool_result_string_array_image_and_error)
{
	struct conv		 c;
	struct conv_block	*b;

	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"go\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
	    "\"tool_use\",\"id\":\"a\",\"name\":\"t\",\"input\":{}},{\"type\":"
	    "\"tool_use\",\"id\":\"b\",\"name\":\"t\",\"input\":{}},{\"type\":"
	    "\"tool_use\",\"id\":\"c\",\"name\":\"t\",\"input\":{}}]},"
	    "{\"role\":\"user\",\"content\":["
	    "{\"type\":\"tool_result\",\"tool_use_id\":\"a\",\"content\":"
	    "\"plain\"},"
	    "{\"type\":\"tool_result\",\"tool_use_id\":\"b\",\"content\":["
	    "{\"type\":\"text\",\"text\":\"first\"},{\"type\":\"image\","
	    "\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
	    "\"data\":\"" PNG_B64 "\"}},{\"type\":\"text\",\"text\":"
	    "\"second\"}]},"
	    "{\"type\":\"tool_result\",\"tool_use_id\":\"c\",\"is_error\":true,"
	    "\"content\":\"boom\"},"
	    "{\"type\":\"text\",\"text\":\"and?\"}]}]}", &c);
	ck_assert_uint_eq(c.msgs[2].n_blocks, 4);

	b = &c.msgs[2].blocks[0];
	ck_assert_int_eq(b->type, CONV_BLOCK_TOOL_RESULT);
	ck_assert_str_eq(b->id, "a");
	ck_assert_int_eq(b->is_error, 0);
	ck_assert_uint_eq(b->n_content, 1);
	ck_assert_int_eq(b->content[0].type, CONV_BLOCK_TEXT);
	ck_assert_str_eq(b->content[0].text, "plain");

	b = &c.msgs[2].blocks[1];
	ck_assert_str_eq(b->id, "b");
	ck_assert_uint_eq(b->n_content, 3);
	ck_assert_int_eq(b->content[0].type, CONV_BLOCK_TEXT);
	ck_assert_str_eq(b->content[0].text, "first");
	ck_assert_int_eq(b->content[1].type, CONV_BLOCK_IMAGE);
	ck_assert_str_eq(b->content[1].media_type, "image/png");
	ck_assert_str_eq(b->content[1].data, PNG_B64);
	ck_assert_int_eq(b->content[2].type, CONV_BLOCK_TEXT);
	ck_assert_str_eq(b->content[2].text, "second");

	b = &c.msgs[2].blocks[2];
	ck_assert_str_eq(b->id, "c");
	ck_assert_int_eq(b->is_error, 1);
	ck_assert_str_eq(b->content[0].text, "boom");

	ck_assert_int_eq(c.msgs[2].blocks[3].type, CONV_BLOCK_TEXT);
	conv_free(&c);
}
END_TEST

START_TEST(parse_tool_result_without_content_and_is_error_false)
{
	struct conv	c;

	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\",\"content\":["
	    "{\"type\":\"tool_result\",\"tool_use_id\":\"x\",\"is_error\":"
	    "false}]}]}", &c);
	ck_assert_int_eq(c.msgs[0].blocks[0].type, CONV_BLOCK_TOOL_RESULT);
	ck_assert_int_eq(c.msgs[0].blocks[0].is_error, 0);
	ck_assert_uint_eq(c.msgs[0].blocks[0].n_content, 0);
	conv_free(&c);
}
END_TEST

START_TEST(parse_thinking_with_and_without_signature)
{
	struct conv	c;

	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"q\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
	    "\"thinking\",\"thinking\":\"let me see\",\"signature\":"
	    "\"EqQBCkYIARgC\"},{\"type\":\"thinking\",\"thinking\":\"more\"},"
	    "{\"type\":\"text\",\"text\":\"answer\"}]}]}", &c);
	ck_assert_uint_eq(c.msgs[1].n_blocks, 3);
	ck_assert_int_eq(c.msgs[1].blocks[0].type, CONV_BLOCK_THINKING);
	ck_assert_str_eq(c.msgs[1].blocks[0].text, "let me see");
	ck_assert_str_eq(c.msgs[1].blocks[0].signature, "EqQBCkYIARgC");
	ck_assert_int_eq(c.msgs[1].blocks[1].type, CONV_BLOCK_THINKING);
	ck_assert_ptr_null(c.msgs[1].blocks[1].signature);
	ck_assert_str_eq(c.msgs[1].blocks[2].text, "answer");
	conv_free(&c);
}
END_TEST

START_TEST(parse_redacted_thinking_skipped)
{
	struct conv	c;

	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"q\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"before\"},{\"type\":\"redacted_thinking\",\"data\":"
	    "\"EmwKAhgBEgy\"},{\"type\":\"text\",\"text\":\"after\"}]}]}", &c);
	ck_assert_uint_eq(c.msgs[1].n_blocks, 2);
	ck_assert_str_eq(c.msgs[1].blocks[0].text, "before");
	ck_assert_str_eq(c.msgs[1].blocks[1].text, "after");
	conv_free(&c);
}
END_TEST

/*
 * The records of server tools (run by the real API) in an assistant turn
 * become notes in place, keeping the query, the results' titles and
 * URLs, fetched text, code and output; unknown block types a note too.
 */
START_TEST(parse_server_tool_blocks_become_notes)
{
	static const struct {
		const char	*block;
		const char	*want1, *want2;
	} cases[] = {
		{ "{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":"
		    "\"web_search\",\"input\":{\"query\":\"kiro pricing\"}}",
		    "[web search: query kiro pricing]", NULL },
		{ "{\"type\":\"web_search_tool_result\",\"tool_use_id\":"
		    "\"srvtoolu_1\",\"content\":[{\"type\":"
		    "\"web_search_result\",\"url\":\"https://kiro.dev/p\","
		    "\"title\":\"Pricing\",\"encrypted_content\":\"e\","
		    "\"page_age\":\"May 1, 2026\"}]}",
		    "Pricing - https://kiro.dev/p", "May 1, 2026" },
		{ "{\"type\":\"web_search_tool_result\",\"tool_use_id\":\"s\","
		    "\"content\":{\"type\":\"web_search_tool_result_error\","
		    "\"error_code\":\"max_uses_exceeded\"}}",
		    "[web search result]", "max_uses_exceeded" },
		{ "{\"type\":\"server_tool_use\",\"id\":\"s2\",\"name\":"
		    "\"web_fetch\",\"input\":{\"url\":\"https://a.example/\"}}",
		    "[web fetch: https://a.example/]", NULL },
		{ "{\"type\":\"web_fetch_tool_result\",\"tool_use_id\":\"s2\","
		    "\"content\":{\"type\":\"web_fetch_result\",\"url\":"
		    "\"https://a.example/\",\"content\":{\"type\":\"document\","
		    "\"source\":{\"type\":\"text\",\"media_type\":\"text/plain\","
		    "\"data\":\"Page body.\"},\"title\":\"A\"}}}",
		    "https://a.example/", "Page body." },
		{ "{\"type\":\"server_tool_use\",\"id\":\"s3\",\"name\":"
		    "\"code_execution\",\"input\":{\"code\":\"print(6*7)\"}}",
		    "[server tool code_execution]", "print(6*7)" },
		{ "{\"type\":\"code_execution_tool_result\",\"tool_use_id\":"
		    "\"s3\",\"content\":{\"type\":\"code_execution_result\","
		    "\"stdout\":\"42\",\"stderr\":\"\",\"return_code\":0}}",
		    "[code execution result]\n42", "exit code 0" },
		{ "{\"type\":\"bash_code_execution_tool_result\",\"tool_use_id\":"
		    "\"s4\",\"content\":{\"type\":\"bash_code_execution_result\","
		    "\"stdout\":\"\",\"stderr\":\"boom\",\"return_code\":1}}",
		    "boom", "exit code 1" },
		{ "{\"type\":\"mcp_tool_use\",\"id\":\"m\",\"name\":\"search\","
		    "\"server_name\":\"gh\",\"input\":{\"q\":\"bug\"}}",
		    "[MCP tool gh.search {\"q\":\"bug\"}]", NULL },
		{ "{\"type\":\"mcp_tool_result\",\"tool_use_id\":\"m\","
		    "\"is_error\":false,\"content\":[{\"type\":\"text\",\"text\":"
		    "\"3 issues\"}]}", "[mcp result]\n3 issues", NULL },
		{ "{\"type\":\"container_upload\",\"file_id\":\"file_7\"}",
		    "file_7", NULL },
		{ "{\"type\":\"hologram\",\"data\":{}}", "[hologram block]",
		    NULL },
	};
	struct conv	 c;
	char		*body;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		body = xasprintf("{" MODEL ",\"messages\":[{\"role\":\"user\","
		    "\"content\":\"q\"},{\"role\":\"assistant\",\"content\":["
		    "{\"type\":\"text\",\"text\":\"before\"},%s,{\"type\":"
		    "\"text\",\"text\":\"after\"}]}]}", cases[i].block);
		parse_ok(body, &c);
		ck_assert_msg(c.msgs[1].n_blocks == 3, "%s: %zu blocks",
		    cases[i].block, c.msgs[1].n_blocks);
		ck_assert_str_eq(c.msgs[1].blocks[0].text, "before");
		ck_assert_int_eq(c.msgs[1].blocks[1].type, CONV_BLOCK_TEXT);
		ck_assert_msg(strstr(c.msgs[1].blocks[1].text,
		    cases[i].want1) != NULL, "%s: note \"%s\" lacks \"%s\"",
		    cases[i].block, c.msgs[1].blocks[1].text, cases[i].want1);
		ck_assert_msg(cases[i].want2 == NULL ||
		    strstr(c.msgs[1].blocks[1].text, cases[i].want2) != NULL,
		    "%s: note \"%s\" lacks \"%s\"", cases[i].block,
		    c.msgs[1].blocks[1].text, cases[i].want2);
		ck_assert_str_eq(c.msgs[1].blocks[2].text, "after");
		conv_free(&c);
		free(body);
	}
}
END_TEST

START_TEST(parse_document_with_text_source_kept)
{
	struct conv	c;

	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\",\"content\":["
	    "{\"type\":\"document\",\"source\":{\"type\":\"text\","
	    "\"media_type\":\"text/plain\",\"data\":\"The grass is green.\"},"
	    "\"title\":\"facts\"},{\"type\":\"document\",\"source\":{\"type\":"
	    "\"content\",\"content\":[{\"type\":\"text\",\"text\":\"Sky: "
	    "blue.\"}]}},{\"type\":\"text\",\"text\":\"colour?\"}]}]}", &c);
	ck_assert_uint_eq(c.msgs[0].n_blocks, 3);
	ck_assert_int_eq(c.msgs[0].blocks[0].type, CONV_BLOCK_TEXT);
	ck_assert_str_eq(c.msgs[0].blocks[0].text,
	    "[document: facts]\nThe grass is green.");
	ck_assert_str_eq(c.msgs[0].blocks[1].text, "Sky: blue.");
	ck_assert_str_eq(c.msgs[0].blocks[2].text, "colour?");
	conv_free(&c);
}
END_TEST

/* A PDF Kiro cannot read is a note naming it, not a 400. */
START_TEST(parse_pdf_document_is_a_note)
{
	struct conv	 c;
	char		*body;

	body = user_body("[{\"type\":\"text\",\"text\":\"read\"},{\"type\":"
	    "\"document\",\"title\":\"spec\",\"source\":{\"type\":\"base64\","
	    "\"media_type\":\"application/pdf\",\"data\":\"JVBERi0xLjQK\"}}]");
	parse_ok(body, &c);
	ck_assert_uint_eq(c.msgs[0].n_blocks, 2);
	ck_assert_int_eq(c.msgs[0].blocks[1].type, CONV_BLOCK_TEXT);
	ck_assert_ptr_nonnull(strstr(c.msgs[0].blocks[1].text, "spec"));
	ck_assert_ptr_nonnull(strstr(c.msgs[0].blocks[1].text,
	    "application/pdf"));
	conv_free(&c);
	free(body);
}
END_TEST

/* search_result blocks keep their title, source and text. */
START_TEST(parse_search_results_readable)
{
	struct conv		 c;
	struct conv_block	*r;

	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\",\"content\":["
	    "{\"type\":\"search_result\",\"source\":\"https://d.example/a\","
	    "\"title\":\"Guide\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Step one.\"},{\"type\":\"text\",\"text\":\"Step two.\"}],"
	    "\"citations\":{\"enabled\":true}}]},"
	    "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":"
	    "\"t1\",\"name\":\"kb\",\"input\":{}}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
	    "\"tool_use_id\":\"t1\",\"content\":[{\"type\":\"search_result\","
	    "\"source\":\"https://d.example/b\",\"title\":\"FAQ\",\"content\":"
	    "[{\"type\":\"text\",\"text\":\"Yes.\"}]},{\"type\":"
	    "\"tool_reference\",\"tool_name\":\"deploy\"},{\"type\":"
	    "\"hologram\"}]}]}]}", &c);
	ck_assert_str_eq(c.msgs[0].blocks[0].text, "[search result: Guide "
	    "(https://d.example/a)]\nStep one.\nStep two.");
	r = &c.msgs[2].blocks[0];
	ck_assert_int_eq(r->type, CONV_BLOCK_TOOL_RESULT);
	ck_assert_uint_eq(r->n_content, 3);
	ck_assert_str_eq(r->content[0].text, "[search result: FAQ "
	    "(https://d.example/b)]\nYes.");
	ck_assert_str_eq(r->content[1].text, "[tool deploy]");
	ck_assert_str_eq(r->content[2].text, "[hologram content]");
	conv_free(&c);
}
END_TEST

/* ---- roles and system ---- */

START_TEST(parse_system_role_in_messages_becomes_user_text_in_place)
{
	struct conv	c;

	parse_ok("{" MODEL ",\"system\":\"top\",\"messages\":["
	    "{\"role\":\"user\",\"content\":\"one\"},"
	    "{\"role\":\"assistant\",\"content\":\"two\"},"
	    "{\"role\":\"system\",\"content\":\"be brief now\"},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"three\"}]}]}", &c);
	ck_assert_uint_eq(c.n_msgs, 4);
	ck_assert_int_eq(c.msgs[2].role, CONV_ROLE_USER);
	ck_assert_uint_eq(c.msgs[2].n_blocks, 1);
	ck_assert_int_eq(c.msgs[2].blocks[0].type, CONV_BLOCK_TEXT);
	ck_assert_str_eq(c.msgs[2].blocks[0].text, "be brief now");
	ck_assert_str_eq(c.msgs[3].blocks[0].text, "three");
	/* It does not move into the top-level system prompt. */
	ck_assert_str_eq(c.system, "top");
	conv_free(&c);
}
END_TEST

START_TEST(parse_role_other_refused)
{
	char	*why;

	why = expect_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"a\"},{\"role\":\"tool\",\"content\":\"b\"}]}", 0,
	    "messages[1].role");
	ck_assert_ptr_nonnull(strstr(why, "tool"));
	free(why);
}
END_TEST

START_TEST(parse_system_string_and_array)
{
	struct conv	c;

	parse_ok("{" MODEL ",\"system\":\"You are terse.\",\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"x\"}]}", &c);
	ck_assert_str_eq(c.system, "You are terse.");
	conv_free(&c);

	parse_ok("{" MODEL ",\"system\":[{\"type\":\"text\",\"text\":"
	    "\"Part one.\"},{\"type\":\"text\",\"text\":\"\"},{\"type\":"
	    "\"text\",\"text\":\"Part two.\",\"cache_control\":{\"type\":"
	    "\"ephemeral\"}}],\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}]}", &c);
	ck_assert_str_eq(c.system, "Part one.\nPart two.");
	conv_free(&c);

	/* Empty forms are no system prompt at all. */
	parse_ok("{" MODEL ",\"system\":\"\",\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"x\"}]}", &c);
	ck_assert_ptr_null(c.system);
	conv_free(&c);
	parse_ok("{" MODEL ",\"system\":[],\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"x\"}]}", &c);
	ck_assert_ptr_null(c.system);
	conv_free(&c);
}
END_TEST

/* cache_control marks the message or the system prompt (prompt caching). */
START_TEST(parse_cache_control_marks)
{
	struct conv	c;

	parse_ok("{" MODEL ",\"system\":[{\"type\":\"text\",\"text\":"
	    "\"S\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
	    "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"text\",\"text\":\"u1\"},{\"type\":\"image\",\"source\":"
	    "{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":"
	    "\"QUJD\"},\"cache_control\":{\"type\":\"ephemeral\","
	    "\"ttl\":\"1h\"}}]},{\"role\":\"assistant\",\"content\":"
	    "[{\"type\":\"text\",\"text\":\"a1\"}]},{\"role\":\"user\","
	    "\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\","
	    "\"content\":\"r\",\"cache_control\":{\"type\":"
	    "\"ephemeral\"}}]},{\"role\":\"assistant\",\"content\":"
	    "\"a2\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"u3\",\"cache_control\":null}]}]}", &c);
	ck_assert_int_eq(c.system_cache_point, 1);
	ck_assert_uint_eq(c.n_msgs, 5);
	ck_assert_int_eq(c.msgs[0].cache_point, 1);
	ck_assert_int_eq(c.msgs[1].cache_point, 0);
	ck_assert_int_eq(c.msgs[2].cache_point, 1);
	ck_assert_int_eq(c.msgs[3].cache_point, 0);
	ck_assert_int_eq(c.msgs[4].cache_point, 0);
	conv_free(&c);

	/* Without marks nothing is set. */
	parse_ok("{" MODEL ",\"system\":[{\"type\":\"text\",\"text\":"
	    "\"S\"}],\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}]}", &c);
	ck_assert_int_eq(c.system_cache_point, 0);
	ck_assert_int_eq(c.msgs[0].cache_point, 0);
	conv_free(&c);

	check_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"x\","
	    "\"cache_control\":\"ephemeral\"}]}]}",
	    "messages[0].content[0].cache_control");
	check_einval_at("{" MODEL ",\"system\":[{\"type\":\"text\","
	    "\"text\":\"S\",\"cache_control\":true}],\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"x\"}]}",
	    "system[0].cache_control");
}
END_TEST

/* ---- tools and tool_choice ---- */

START_TEST(parse_tools_custom_kept_server_tools_skipped)
{
	struct conv	 c;
	json_object	*v;

	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}],\"tools\":["
	    "{\"name\":\"get_weather\",\"description\":\"Weather.\","
	    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":"
	    "{\"type\":\"string\"}},\"required\":[\"city\"]}},"
	    "{\"type\":\"web_search_20250305\",\"name\":\"web_search\","
	    "\"max_uses\":5},"
	    "{\"type\":\"custom\",\"name\":\"calc\",\"input_schema\":"
	    "{\"type\":\"object\"}},"
	    "{\"type\":\"bash_20250124\",\"name\":\"bash\"},"
	    "{\"type\":\"text_editor_20250429\",\"name\":"
	    "\"str_replace_based_edit_tool\"}]}", &c);
	ck_assert_uint_eq(c.n_tools, 2);
	ck_assert_str_eq(c.tools[0].name, "get_weather");
	ck_assert_str_eq(c.tools[0].description, "Weather.");
	ck_assert(json_object_is_type(c.tools[0].schema, json_type_object));
	ck_assert(json_object_object_get_ex(c.tools[0].schema, "required",
	    &v));
	ck_assert_str_eq(c.tools[1].name, "calc");
	ck_assert_str_eq(c.tools[1].description, "");
	ck_assert(json_object_is_type(c.tools[1].schema, json_type_object));
	conv_free(&c);
}
END_TEST

START_TEST(parse_tool_missing_input_schema_refused)
{
	char	*why;

	why = expect_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"tools\":[{\"name\":\"ok\",\"input_schema\":"
	    "{}},{\"name\":\"broken\",\"description\":\"d\"}]}", 0,
	    "tools[1].input_schema");
	ck_assert_ptr_nonnull(strstr(why, "required"));
	free(why);
}
END_TEST

START_TEST(parse_tool_choice_every_type)
{
	static const struct {
		const char		*json;
		enum conv_tool_choice	 want;
		const char		*name;
		int			 single;
	} cases[] = {
		{ "", CONV_TOOL_CHOICE_AUTO, NULL, 0 },
		{ ",\"tool_choice\":{\"type\":\"auto\"}", CONV_TOOL_CHOICE_AUTO,
		    NULL, 0 },
		{ ",\"tool_choice\":{\"type\":\"any\","
		    "\"disable_parallel_tool_use\":true}", CONV_TOOL_CHOICE_ANY,
		    NULL, 1 },
		{ ",\"tool_choice\":{\"type\":\"auto\","
		    "\"disable_parallel_tool_use\":false}",
		    CONV_TOOL_CHOICE_AUTO, NULL, 0 },
		{ ",\"tool_choice\":{\"type\":\"none\"}", CONV_TOOL_CHOICE_NONE,
		    NULL, 0 },
		{ ",\"tool_choice\":{\"type\":\"tool\",\"name\":\"calc\"}",
		    CONV_TOOL_CHOICE_TOOL, "calc", 0 },
	};
	struct conv	 c;
	char		*body;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		body = xasprintf("{" MODEL ",\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}],\"tools\":[{\"name\":\"calc\","
		    "\"input_schema\":{}}]%s}", cases[i].json);
		parse_ok(body, &c);
		ck_assert_msg(c.tool_choice == cases[i].want, "%s",
		    cases[i].json);
		ck_assert_int_eq(c.single_tool_call, cases[i].single);
		if (cases[i].name == NULL)
			ck_assert_ptr_null(c.tool_choice_name);
		else
			ck_assert_str_eq(c.tool_choice_name, cases[i].name);
		conv_free(&c);
		free(body);
	}
	check_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"tool_choice\":{\"type\":\"tool\"}}",
	    "tool_choice.name");
	check_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"tool_choice\":{\"type\":\"sometimes\"}}",
	    "tool_choice.type");
	check_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"tool_choice\":{\"type\":\"any\","
	    "\"disable_parallel_tool_use\":\"yes\"}}",
	    "tool_choice.disable_parallel_tool_use");
}
END_TEST

/* any / tool must be satisfiable; a server tool's choice is left free. */
START_TEST(parse_tool_choice_needs_the_tool)
{
	struct conv	c;

	check_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"tool_choice\":{\"type\":\"any\"}}",
	    "tool_choice");
	check_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"tools\":[{\"name\":\"calc\","
	    "\"input_schema\":{}}],\"tool_choice\":{\"type\":\"tool\","
	    "\"name\":\"Calc\"}}", "tool_choice.name");
	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"tools\":[{\"name\":\"calc\","
	    "\"input_schema\":{}},{\"type\":\"web_search_20250305\","
	    "\"name\":\"web_search\"}],\"tool_choice\":{\"type\":\"tool\","
	    "\"name\":\"web_search\"}}", &c);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_AUTO);
	ck_assert_ptr_null(c.tool_choice_name);
	conv_free(&c);
	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"tools\":[{\"type\":"
	    "\"web_search_20250305\",\"name\":\"web_search\"}],"
	    "\"tool_choice\":{\"type\":\"any\"}}", &c);
	ck_assert_int_eq(c.tool_choice, CONV_TOOL_CHOICE_AUTO);
	ck_assert_uint_eq(c.n_tools, 0);
	conv_free(&c);
}
END_TEST

START_TEST(parse_output_format_json_schema)
{
	static const char *const forms[] = {
		"\"output_config\":{\"effort\":\"low\",\"format\":{\"type\":"
		    "\"json_schema\",\"schema\":{\"type\":\"object\"}}}",
		"\"output_format\":{\"type\":\"json_schema\",\"schema\":"
		    "{\"type\":\"object\"}}",
	};
	struct conv	 c;
	char		*body;
	const char	*t;
	size_t		 i;

	for (i = 0; i < 2; i++) {
		body = xasprintf("{" MODEL ",\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}],%s}", forms[i]);
		parse_ok(body, &c);
		ck_assert_int_eq(c.json_mode, 1);
		ck_assert_int_eq(json_get_str(c.response_schema, "type", &t), 1);
		ck_assert_str_eq(t, "object");
		conv_free(&c);
		free(body);
	}
	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"output_config\":{\"effort\":\"low\"}}", &c);
	ck_assert_int_eq(c.json_mode, 0);
	ck_assert_ptr_null(c.response_schema);
	conv_free(&c);
	check_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"output_config\":{\"format\":[]}}",
	    "output_config.format");
	check_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"output_config\":{\"format\":{\"type\":"
	    "\"text\"}}}", "output_config.format.type");
	check_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"output_format\":{\"type\":"
	    "\"json_schema\"}}", "output_format.schema");
	check_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"output_format\":{\"type\":"
	    "\"json_schema\",\"schema\":true}}", "output_format.schema");
}
END_TEST

START_TEST(parse_stop_sequences)
{
	struct conv	c;

	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"stop_sequences\":[\"END\",\"\",\"\\n\\n\"]}",
	    &c);
	ck_assert_uint_eq(c.n_stop, 2);		/* the empty one is ignored */
	ck_assert_str_eq(c.stop[0], "END");
	ck_assert_str_eq(c.stop[1], "\n\n");
	conv_free(&c);
	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}", &c);
	ck_assert_uint_eq(c.n_stop, 0);
	conv_free(&c);
	check_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"stop_sequences\":\"END\"}",
	    "stop_sequences");
	check_einval_at("{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"stop_sequences\":[\"a\",3]}",
	    "stop_sequences[1]");
}
END_TEST

/* The stop sequence caps (conv.h) name the sequence over them. */
START_TEST(parse_stop_sequences_capped)
{
	struct buf	 body = BUF_INIT;
	struct conv	 c;
	char		*why, big[CONV_MAX_STOP_BYTES + 2];
	size_t		 i;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&body, "{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"stop_sequences\":[\"a\",\"%s\"]}", big);
	why = expect_einval_at(body.ptr, 0, "stop_sequences[1]");
	ck_assert_str_eq(why, "stop_sequences[1]: at most 256 bytes, not 257");
	free(why);
	/* 256 bytes is fine. */
	buf_reset(&body);
	big[CONV_MAX_STOP_BYTES] = '\0';
	buf_printf(&body, "{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"stop_sequences\":[\"%s\"]}", big);
	parse_ok(body.ptr, &c);
	ck_assert_uint_eq(strlen(c.stop[0]), CONV_MAX_STOP_BYTES);
	conv_free(&c);
	/* 16 are fine, the 17th is named; empty ones do not count. */
	buf_reset(&body);
	buf_printf(&body, "{" MODEL ",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"stop_sequences\":[\"\"");
	for (i = 0; i < CONV_MAX_STOP; i++)
		buf_printf(&body, ",\"S%zu\"", i);
	buf_printf(&body, "]}");
	parse_ok(body.ptr, &c);
	ck_assert_uint_eq(c.n_stop, CONV_MAX_STOP);
	conv_free(&c);
	body.len -= 2;
	buf_printf(&body, ",\"S16\"]}");
	why = expect_einval_at(body.ptr, 0, "stop_sequences[17]");
	ck_assert_str_eq(why, "stop_sequences[17]: at most 16 stop sequences "
	    "are allowed");
	free(why);
	buf_free(&body);
}
END_TEST

/* ---- thinking ---- */

START_TEST(parse_thinking_enabled_adaptive_disabled)
{
	struct conv	c;

	parse_ok("{" MODEL ",\"thinking\":{\"type\":\"enabled\","
	    "\"budget_tokens\":4096},\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}", &c);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ENABLED);
	ck_assert_int_eq(c.thinking_budget, 4096);
	conv_free(&c);

	parse_ok("{" MODEL ",\"thinking\":{\"type\":\"adaptive\"},"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &c);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ADAPTIVE);
	ck_assert_ptr_null(c.thinking_effort);
	conv_free(&c);

	parse_ok("{" MODEL ",\"thinking\":{\"type\":\"disabled\"},"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &c);
	ck_assert_int_eq(c.thinking, CONV_THINKING_OFF);
	conv_free(&c);

	parse_ok("{" MODEL ",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}]}", &c);
	ck_assert_int_eq(c.thinking, CONV_THINKING_OFF);
	conv_free(&c);

	check_einval_at("{" MODEL ",\"thinking\":{\"type\":\"enabled\","
	    "\"budget_tokens\":-1},\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}", "thinking.budget_tokens");
	check_einval_at("{" MODEL ",\"thinking\":{\"type\":\"deep\"},"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	    "thinking.type");
}
END_TEST

START_TEST(parse_output_config_effort_max_becomes_high)
{
	static const struct {
		const char	*given;
		const char	*kept;
	} cases[] = {
		{ "low", "low" }, { "medium", "medium" }, { "high", "high" },
		{ "max", "high" },
	};
	struct conv	 c;
	char		*body;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		body = xasprintf("{" MODEL ",\"thinking\":{\"type\":"
		    "\"adaptive\"},\"output_config\":{\"effort\":\"%s\"},"
		    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
		    cases[i].given);
		parse_ok(body, &c);
		ck_assert_int_eq(c.thinking, CONV_THINKING_ADAPTIVE);
		ck_assert_str_eq(c.thinking_effort, cases[i].kept);
		conv_free(&c);
		free(body);
	}
	check_einval_at("{" MODEL ",\"output_config\":{\"effort\":"
	    "\"extreme\"},\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}]}", "output_config.effort");
}
END_TEST

START_TEST(parse_thinking_model_suffix)
{
	struct conv	c;

	/* Sonnet: thinking by budget (kiro.rs: 20000). */
	parse_ok("{\"model\":\"claude-sonnet-4-5-thinking\",\"max_tokens\":10,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &c);
	ck_assert_str_eq(c.kiro_model, "claude-sonnet-4.5");
	ck_assert_str_eq(c.model, "claude-sonnet-4-5-thinking");
	ck_assert_int_eq(c.thinking, CONV_THINKING_ENABLED);
	ck_assert_int_eq(c.thinking_budget, 20000);
	conv_free(&c);

	/* Opus 4.6: adaptive. */
	parse_ok("{\"model\":\"claude-opus-4-6-thinking\",\"max_tokens\":10,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &c);
	ck_assert_str_eq(c.kiro_model, "claude-opus-4.6");
	ck_assert_int_eq(c.thinking, CONV_THINKING_ADAPTIVE);
	conv_free(&c);

	/* The request's own thinking object decides over the name. */
	parse_ok("{\"model\":\"claude-sonnet-4-5-thinking\",\"max_tokens\":10,"
	    "\"thinking\":{\"type\":\"disabled\"},\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"x\"}]}", &c);
	ck_assert_int_eq(c.thinking, CONV_THINKING_OFF);
	conv_free(&c);
	parse_ok("{\"model\":\"claude-sonnet-4-5-thinking\",\"max_tokens\":10,"
	    "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048},"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &c);
	ck_assert_int_eq(c.thinking, CONV_THINKING_ENABLED);
	ck_assert_int_eq(c.thinking_budget, 2048);
	conv_free(&c);
}
END_TEST

/* ---- metadata and sessions ---- */

START_TEST(parse_metadata_user_id_json_session)
{
	struct conv	 c;
	char		*body, *uid;

	uid = xstrdup("{\\\"device_id\\\":\\\"d1\\\",\\\"account_uuid\\\":"
	    "\\\"\\\",\\\"session_id\\\":\\\"" UUID_A "\\\"}");
	body = xasprintf("{" MODEL ",\"metadata\":{\"user_id\":\"%s\"},"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", uid);
	parse_ok(body, &c);
	ck_assert_str_eq(c.session_id, UUID_A);
	/* The whole user_id is the stickiness key. */
	ck_assert_ptr_nonnull(c.session_key);
	ck_assert_ptr_nonnull(strstr(c.session_key, "\"device_id\""));
	conv_free(&c);
	free(body);
	free(uid);
}
END_TEST

START_TEST(parse_metadata_user_id_legacy_session)
{
	struct conv	c;

	parse_ok("{" MODEL ",\"metadata\":{\"user_id\":\"user_0a1b2c3d4e5f_"
	    "account__session_" UUID_A "\"},\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}", &c);
	ck_assert_str_eq(c.session_id, UUID_A);
	ck_assert_str_eq(c.session_key, "user_0a1b2c3d4e5f_account__session_"
	    UUID_A);
	conv_free(&c);

	/* A user_id without a session: a key, but no session id. */
	parse_ok("{" MODEL ",\"metadata\":{\"user_id\":\"alice\"},"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &c);
	ck_assert_str_eq(c.session_key, "alice");
	ck_assert_ptr_null(c.session_id);
	conv_free(&c);

	parse_ok("{" MODEL ",\"metadata\":{},\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"x\"}]}", &c);
	ck_assert_ptr_null(c.session_key);
	ck_assert_ptr_null(c.session_id);
	conv_free(&c);
}
END_TEST

START_TEST(session_id_forms)
{
	char	*s;

	ck_assert_ptr_null(anthropic_session_id(NULL));
	ck_assert_ptr_null(anthropic_session_id(""));
	ck_assert_ptr_null(anthropic_session_id("user_abc"));

	s = anthropic_session_id("{\"session_id\":\"" UUID_A "\"}");
	ck_assert_str_eq(s, UUID_A);
	free(s);
	s = anthropic_session_id("user_x_account__session_" UUID_A);
	ck_assert_str_eq(s, UUID_A);
	free(s);
	/* Only the 36 characters of the UUID, even with a tail. */
	s = anthropic_session_id("user_x_account__session_" UUID_A "_tail");
	ck_assert_str_eq(s, UUID_A);
	free(s);

	/* Not a UUID: wrong length, bad characters, dashes misplaced. */
	ck_assert_ptr_null(anthropic_session_id("user_session_0f1e2d3c"));
	ck_assert_ptr_null(anthropic_session_id("user_session_"
	    "0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0z"));
	ck_assert_ptr_null(anthropic_session_id("user_session_"
	    "0f1e2d3c4-b5a-4978-8a6b-5c4d3e2f1a0b"));
	ck_assert_ptr_null(anthropic_session_id("{\"session_id\":\"nope\"}"));
	ck_assert_ptr_null(anthropic_session_id("{\"session_id\":5}"));
	ck_assert_ptr_null(anthropic_session_id("{\"other\":\"" UUID_A
	    "\"}"));
	ck_assert_ptr_null(anthropic_session_id("{broken"));
}
END_TEST

/* ---- model ---- */

START_TEST(parse_model_resolution)
{
	static const struct {
		const char	*given;
		const char	*kiro;
	} cases[] = {
		{ "claude-opus-4-8", "claude-opus-4.8" },
		{ "claude-opus-4-1", "claude-opus-4.6" },
		{ "claude-sonnet-5", "claude-sonnet-5" },
		{ "claude-opus-4-5-20251101", "claude-opus-4.5" },
		{ "claude-sonnet-4-6", "claude-sonnet-4.6" },
		{ "claude-haiku-4-5-20251001", "claude-haiku-4.5" },
		{ "claude-sonnet-4.5", "claude-sonnet-4.5" },
		{ "auto", "auto" },
	};
	struct conv	 c;
	char		*body;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		body = xasprintf("{\"model\":\"%s\",\"max_tokens\":1,"
		    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
		    cases[i].given);
		parse_ok(body, &c);
		ck_assert_str_eq(c.model, cases[i].given);
		ck_assert_msg(c.kiro_model != NULL &&
		    strcmp(c.kiro_model, cases[i].kiro) == 0, "%s -> %s",
		    cases[i].given, c.kiro_model);
		conv_free(&c);
		free(body);
	}
}
END_TEST

START_TEST(parse_unknown_model_lists_models)
{
	char	*why;

	struct conv	 c;

	/* Not found (404 not_found_error), naming the field. */
	why = NULL;
	ck_assert_int_eq(parse("{\"model\":\"llama-3-70b\",\"max_tokens\":1,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 0, &c,
	    &why), KF_ENOTFOUND);
	conv_free(&c);
	ck_assert(strncmp(why, "model: ", 7) == 0);
	ck_assert_ptr_nonnull(strstr(why, "llama-3-70b"));
	ck_assert_ptr_nonnull(strstr(why, "claude-sonnet-4.5"));
	ck_assert_ptr_nonnull(strstr(why, "claude-opus-4.6"));
	free(why);
	/* A missing model is refused for /v1/messages. */
	free(expect_einval_at("{\"max_tokens\":1,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"x\"}]}", 0, "model"));
}
END_TEST

START_TEST(parse_for_count_accepts_missing_or_unknown_model)
{
	struct conv	 c;
	char		*why = NULL;
	const char	*missing = "{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}";
	const char	*unknown = "{\"model\":\"llama-3-70b\",\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"x\"}]}";

	ck_assert_int_eq(parse(missing, 1, &c, &why), KF_OK);
	ck_assert_ptr_null(c.model);
	ck_assert_ptr_null(c.kiro_model);
	ck_assert_uint_eq(c.n_msgs, 1);
	conv_free(&c);
	ck_assert_int_eq(parse(unknown, 1, &c, &why), KF_OK);
	ck_assert_str_eq(c.model, "llama-3-70b");
	ck_assert_ptr_null(c.kiro_model);
	conv_free(&c);
	ck_assert_ptr_null(why);
	/* Other fields are still checked. */
	free(expect_einval_at("{\"model\":5,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"x\"}]}", 1, "model"));
	free(expect_einval_at("{\"messages\":[{\"role\":\"user\","
	    "\"content\":5}]}", 1, "messages[0].content"));
}
END_TEST

/* ---- wrong types: the cause names the exact path ---- */

START_TEST(parse_wrong_types_name_the_path)
{
	static const struct {
		const char	*body;	/* after the opening "{" MODEL "," */
		const char	*path;
	} cases[] = {
		{ "\"messages\":{}", "messages" },
		{ "\"messages\":[\"hi\"]", "messages[0]" },
		{ "\"messages\":[{\"content\":\"x\"}]", "messages[0].role" },
		{ "\"messages\":[{\"role\":1,\"content\":\"x\"}]",
		    "messages[0].role" },
		{ "\"messages\":[{\"role\":\"user\"}]", "messages[0].content" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":5}]",
		    "messages[0].content" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
		    "{\"role\":\"assistant\",\"content\":[5]}]",
		    "messages[1].content[0]" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":"
		    "\"a\"}]}]", "messages[0].content[0].type" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":7}]}]",
		    "messages[0].content[0].type" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"text\",\"text\":5}]}]", "messages[0].content[0].text" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"text\"}]}]", "messages[0].content[0].text" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"image\",\"source\":\"x\"}]}]",
		    "messages[0].content[0].source" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
		    "{\"role\":\"user\",\"content\":[{\"type\":\"image\","
		    "\"source\":{\"type\":\"base64\",\"media_type\":"
		    "\"image/png\",\"data\":5}}]}]",
		    "messages[1].content[0].source.data" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
		    "7,\"data\":\"QUJD\"}}]}]",
		    "messages[0].content[0].source.media_type" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"image\",\"source\":{\"type\":9}}]}]",
		    "messages[0].content[0].source.type" },
		{ "\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
		    "\"tool_use\",\"id\":5,\"name\":\"n\"}]}]",
		    "messages[0].content[0].id" },
		{ "\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
		    "\"tool_use\",\"id\":\"i\"}]}]",
		    "messages[0].content[0].name" },
		{ "\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
		    "\"tool_use\",\"id\":\"i\",\"name\":\"n\",\"input\":\"{}\"}]}]",
		    "messages[0].content[0].input" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"tool_result\",\"content\":\"r\"}]}]",
		    "messages[0].content[0].tool_use_id" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"tool_result\",\"tool_use_id\":\"i\",\"is_error\":\"yes\"}]}]",
		    "messages[0].content[0].is_error" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"tool_result\",\"tool_use_id\":\"i\",\"content\":5}]}]",
		    "messages[0].content[0].content" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"tool_result\",\"tool_use_id\":\"i\",\"content\":[\"s\"]}]}]",
		    "messages[0].content[0].content[0]" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"tool_result\",\"tool_use_id\":\"i\",\"content\":[{\"type\":"
		    "\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":5}]}]}]",
		    "messages[0].content[0].content[1].text" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"tool_result\",\"tool_use_id\":\"i\",\"content\":[{\"type\":"
		    "7}]}]}]", "messages[0].content[0].content[0].type" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "[]}]}]", "messages[0].content[0].type" },
		{ "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"tool_result\",\"tool_use_id\":\"i\",\"content\":[{\"type\":"
		    "\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
		    "\"image/png\",\"data\":\"@@\"}}]}]}]",
		    "messages[0].content[0].content[0].source.data" },
		{ "\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
		    "\"thinking\",\"thinking\":5}]}]",
		    "messages[0].content[0].thinking" },
		{ "\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
		    "\"thinking\",\"thinking\":\"t\",\"signature\":5}]}]",
		    "messages[0].content[0].signature" },
		{ "\"system\":5,\"messages\":[{\"role\":\"user\",\"content\":"
		    "\"x\"}]", "system" },
		{ "\"system\":[\"x\"],\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}]", "system[0]" },
		{ "\"system\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":"
		    "\"text\",\"text\":5}],\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}]", "system[1].text" },
		{ "\"system\":[{\"type\":\"image\"}],\"messages\":[{\"role\":"
		    "\"user\",\"content\":\"x\"}]", "system[0].type" },
		{ "\"tools\":{},\"messages\":[{\"role\":\"user\",\"content\":"
		    "\"x\"}]", "tools" },
		{ "\"tools\":[5],\"messages\":[{\"role\":\"user\",\"content\":"
		    "\"x\"}]", "tools[0]" },
		{ "\"tools\":[{\"name\":5,\"input_schema\":{}}],\"messages\":"
		    "[{\"role\":\"user\",\"content\":\"x\"}]", "tools[0].name" },
		{ "\"tools\":[{\"type\":5,\"name\":\"n\",\"input_schema\":{}}],"
		    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]",
		    "tools[0].type" },
		{ "\"tools\":[{\"name\":\"n\",\"description\":5,\"input_schema\":"
		    "{}}],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]",
		    "tools[0].description" },
		{ "\"tools\":[{\"name\":\"a\",\"input_schema\":{}},{\"name\":"
		    "\"b\",\"input_schema\":\"{}\"}],\"messages\":[{\"role\":"
		    "\"user\",\"content\":\"x\"}]", "tools[1].input_schema" },
		{ "\"tool_choice\":\"auto\",\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}]", "tool_choice" },
		{ "\"tool_choice\":{\"type\":1},\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}]", "tool_choice.type" },
		{ "\"tool_choice\":{\"type\":\"tool\",\"name\":1},\"messages\":"
		    "[{\"role\":\"user\",\"content\":\"x\"}]",
		    "tool_choice.name" },
		{ "\"thinking\":true,\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}]", "thinking" },
		{ "\"thinking\":{},\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}]", "thinking.type" },
		{ "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":\"9\"},"
		    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]",
		    "thinking.budget_tokens" },
		{ "\"output_config\":[],\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}]", "output_config" },
		{ "\"output_config\":{\"effort\":3},\"messages\":[{\"role\":"
		    "\"user\",\"content\":\"x\"}]", "output_config.effort" },
		{ "\"metadata\":\"m\",\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}]", "metadata" },
		{ "\"metadata\":{\"user_id\":42},\"messages\":[{\"role\":"
		    "\"user\",\"content\":\"x\"}]", "metadata.user_id" },
		{ "\"stream\":\"yes\",\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}]", "stream" },
	};
	char	*body;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		body = xasprintf("{" MODEL ",%s}", cases[i].body);
		check_einval_at(body, cases[i].path);
		free(body);
	}
}
END_TEST

START_TEST(parse_top_level_wrong_types)
{
	check_einval_at("{\"model\":5,\"max_tokens\":1,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"x\"}]}", "model");
	check_einval_at("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":\"1\","
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	    "max_tokens");
	check_einval_at("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":0,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	    "max_tokens");
	check_einval_at("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1.5,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	    "max_tokens");
	check_einval_at("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1}",
	    "messages");
}
END_TEST

START_TEST(parse_body_not_an_object)
{
	static const char *const bodies[] = {
		"[]", "\"text\"", "42", "true", "{", "", "{\"model\":}", NULL
	};
	struct conv	 c;
	char		*why;
	size_t		 i;

	for (i = 0; bodies[i] != NULL; i++) {
		why = NULL;
		ck_assert_msg(parse(bodies[i], 0, &c, &why) == KF_EINVAL,
		    "%s accepted", bodies[i]);
		ck_assert_msg(why != NULL && *why != '\0', "%s: no cause",
		    bodies[i]);
		ck_assert_uint_eq(c.n_msgs, 0);
		conv_free(&c);
		free(why);
	}
	why = NULL;
	ck_assert_int_eq(parse("[1]", 0, &c, &why), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "object"));
	conv_free(&c);
	free(why);
}
END_TEST

START_TEST(parse_empty_messages_refused)
{
	char	*why;

	why = expect_einval_at("{" MODEL ",\"messages\":[]}", 0, "messages");
	ck_assert_ptr_nonnull(strstr(why, "at least one"));
	free(why);
	free(expect_einval_at("{\"messages\":[]}", 1, "messages"));
}
END_TEST

START_TEST(parse_cause_may_be_null)
{
	struct conv	c;

	conv_init(&c);
	ck_assert_int_eq(anthropic_parse("{\"messages\":5}", 14, 1, &c, NULL),
	    KF_EINVAL);
	conv_free(&c);
	conv_init(&c);
	ck_assert_int_eq(anthropic_parse("nope", 4, 1, &c, NULL), KF_EINVAL);
	conv_free(&c);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("parse-anthropic");
	TCase	*tc = tcase_create("blocks");
	TCase	*big = tcase_create("big");
	TCase	*fields = tcase_create("fields");

	tcase_add_test(tc, parse_text_string_and_text_blocks);
	tcase_add_test(tc, parse_stream_flag);
	tcase_add_test(tc, parse_image_base64_each_allowed_media_type);
	tcase_add_test(tc, parse_image_other_media_type_refused);
	tcase_add_test(tc, parse_image_url_source_refused);
	tcase_add_test(tc, parse_image_bad_base64_refused);
	tcase_add_test(tc, parse_tool_use_with_and_without_input);
	tcase_add_test(tc, parse_tool_result_string_array_image_and_error);
	tcase_add_test(tc, parse_tool_result_without_content_and_is_error_false);
	tcase_add_test(tc, parse_thinking_with_and_without_signature);
	tcase_add_test(tc, parse_redacted_thinking_skipped);
	tcase_add_test(tc, parse_server_tool_blocks_become_notes);
	tcase_add_test(tc, parse_document_with_text_source_kept);
	tcase_add_test(tc, parse_pdf_document_is_a_note);
	tcase_add_test(tc, parse_search_results_readable);
	suite_add_tcase(s, tc);

	/* About 28 MB of base64 twice: slow under valgrind. */
	tcase_add_test(big, parse_image_over_limit_refused);
	tcase_set_timeout(big, 600);
	suite_add_tcase(s, big);

	tcase_add_test(fields, parse_system_role_in_messages_becomes_user_text_in_place);
	tcase_add_test(fields, parse_role_other_refused);
	tcase_add_test(fields, parse_system_string_and_array);
	tcase_add_test(fields, parse_cache_control_marks);
	tcase_add_test(fields, parse_tools_custom_kept_server_tools_skipped);
	tcase_add_test(fields, parse_tool_missing_input_schema_refused);
	tcase_add_test(fields, parse_tool_choice_every_type);
	tcase_add_test(fields, parse_stop_sequences);
	tcase_add_test(fields, parse_stop_sequences_capped);
	tcase_add_test(fields, parse_tool_choice_needs_the_tool);
	tcase_add_test(fields, parse_output_format_json_schema);
	tcase_add_test(fields, parse_thinking_enabled_adaptive_disabled);
	tcase_add_test(fields, parse_output_config_effort_max_becomes_high);
	tcase_add_test(fields, parse_thinking_model_suffix);
	tcase_add_test(fields, parse_metadata_user_id_json_session);
	tcase_add_test(fields, parse_metadata_user_id_legacy_session);
	tcase_add_test(fields, session_id_forms);
	tcase_add_test(fields, parse_model_resolution);
	tcase_add_test(fields, parse_unknown_model_lists_models);
	tcase_add_test(fields, parse_for_count_accepts_missing_or_unknown_model);
	tcase_add_test(fields, parse_wrong_types_name_the_path);
	tcase_add_test(fields, parse_top_level_wrong_types);
	tcase_add_test(fields, parse_body_not_an_object);
	tcase_add_test(fields, parse_empty_messages_refused);
	tcase_add_test(fields, parse_cause_may_be_null);
	tcase_set_timeout(fields, 60);
	suite_add_tcase(s, fields);
	return tu_run(s);
}
