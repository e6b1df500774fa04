/* fuzz-gemini.c: libFuzzer target: Gemini request parser to Kiro body. */
/*
 * Input: the body of a POST /v1beta/models/{model}:generateContent.  It
 * goes through the path of a real request up to the upstream call:
 * gemini_parse (fcgi/parse-gemini.c, with gemini-schema.c for the tool and
 * response schemas), then, when it parsed, history_repair and
 * kiro_req_build (shared/) with a fixed Kiro model id.  The same bytes are
 * also parsed as a countTokens body (for_count set, an unknown model).
 *
 * Invariants (abort when broken; ASan, UBSan and LeakSanitizer do the rest):
 *  - a parse error is KF_EINVAL with a cause; success leaves the model and
 *    its Kiro id, at least one message, and no empty message;
 *  - every TOOL_USE has an id and an object input; every TOOL_RESULT
 *    (a functionResponse) answers a TOOL_USE of the nearest model turn
 *    before it, and no call is answered twice (the pairing by name and
 *    order the parser promises);
 *  - every tool and the response schema are JSON objects, with no upper-case
 *    type name left in them;
 *  - tool_choice TOOL names a tool that is offered;
 *  - the rest of the path to Kiro keeps the rules of kiro-rules.c
 *    (fuzz_to_kiro: history_repair, kiro_req_build, and the checks Kiro is
 *    known to make on the body).
 */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "conv.h"
#include "err.h"
#include "gemini.h"
#include "json.h"
#include "kiro-rules.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_MODEL	"gemini-2.5-pro"
#define BODY_DEPTH	(JSON_MAX_DEPTH + 64)

/* No "type" in the tree is an upper-case JSON type name. */
static void
check_lower_types(json_object *v, int depth)
{
	const char	*t;
	size_t		 i;

	CHECK(depth < BODY_DEPTH);
	if (json_object_is_type(v, json_type_array)) {
		for (i = 0; i < json_object_array_length(v); i++)
			check_lower_types(json_object_array_get_idx(v, i),
			    depth + 1);
		return;
	}
	if (!json_object_is_type(v, json_type_object))
		return;
	json_object_object_foreach(v, key, val) {
		if (strcmp(key, "enum") == 0 || strcmp(key, "default") == 0 ||
		    strcmp(key, "example") == 0 || strcmp(key, "examples") == 0 ||
		    strcmp(key, "const") == 0)
			continue;
		if (strcmp(key, "type") == 0 &&
		    json_object_is_type(val, json_type_string)) {
			t = json_object_get_string(val);
			CHECK(strcmp(t, "STRING") != 0 && strcmp(t, "OBJECT") != 0 &&
			    strcmp(t, "INTEGER") != 0 && strcmp(t, "ARRAY") != 0 &&
			    strcmp(t, "NUMBER") != 0 && strcmp(t, "BOOLEAN") != 0);
		}
		check_lower_types(val, depth + 1);
	}
}

static void
check_conv(const struct conv *c)
{
	const struct conv_msg	*m, *prev;
	const struct conv_block	*b;
	size_t			 i, j, k, l, answers;
	int			 found;

	CHECK(c->model != NULL && c->kiro_model != NULL);
	CHECK(c->n_msgs > 0);
	for (i = 0; i < c->n_tools; i++) {
		CHECK(c->tools[i].name != NULL && *c->tools[i].name != '\0');
		CHECK(json_object_is_type(c->tools[i].schema, json_type_object));
		check_lower_types(c->tools[i].schema, 0);
	}
	if (c->response_schema != NULL) {
		CHECK(c->json_mode);
		check_lower_types(c->response_schema, 0);
	}
	if (c->tool_choice == CONV_TOOL_CHOICE_TOOL) {
		found = 0;
		for (i = 0; i < c->n_tools; i++)
			found |= strcmp(c->tools[i].name,
			    c->tool_choice_name) == 0;
		CHECK(found);
	}
	prev = NULL;
	for (i = 0; i < c->n_msgs; i++) {
		m = &c->msgs[i];
		CHECK(m->n_blocks > 0);
		for (j = 0; j < m->n_blocks; j++) {
			b = &m->blocks[j];
			if (b->type == CONV_BLOCK_TOOL_USE) {
				CHECK(b->id != NULL && b->name != NULL);
				CHECK(json_object_is_type(b->input,
				    json_type_object));
			}
			if (b->type != CONV_BLOCK_TOOL_RESULT)
				continue;
			CHECK(m->role == CONV_ROLE_USER && prev != NULL);
			found = 0;
			for (k = 0; k < prev->n_blocks; k++)
				found |= prev->blocks[k].type ==
				    CONV_BLOCK_TOOL_USE &&
				    strcmp(prev->blocks[k].id, b->id) == 0;
			CHECK(found);
			/* Answered once in the whole conversation. */
			answers = 0;
			for (k = 0; k < c->n_msgs; k++)
				for (l = 0; l < c->msgs[k].n_blocks; l++)
					answers += c->msgs[k].blocks[l].type ==
					    CONV_BLOCK_TOOL_RESULT &&
					    strcmp(c->msgs[k].blocks[l].id,
					    b->id) == 0;
			CHECK(answers == 1);
		}
		if (m->role == CONV_ROLE_ASSISTANT)
			prev = m;
	}
}

static void
run(const char *data, size_t size)
{
	struct conv		 conv;
	struct gemini_opts	 gopts;
	char			*cause = NULL;
	enum kf_err		 er;

	conv_init(&conv);
	er = gemini_parse(data, size, FUZZ_MODEL, 0, &conv, &gopts, &cause);
	if (er != KF_OK) {
		/* An unknown model is KF_ENOTFOUND (404 in every API). */
		CHECK((er == KF_EINVAL || er == KF_ENOTFOUND) &&
		    cause != NULL && *cause != '\0');
		goto out;
	}
	check_conv(&conv);
	fuzz_to_kiro(&conv, NULL);
out:
	free(cause);
	conv_free(&conv);

	/* countTokens: the same parser, any model. */
	cause = NULL;
	conv_init(&conv);
	er = gemini_parse(data, size, "no-such-model", 1, &conv, &gopts,
	    &cause);
	CHECK(er == KF_OK || (er == KF_EINVAL && cause != NULL));
	free(cause);
	conv_free(&conv);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run((const char *)data, size);
	return 0;
}
