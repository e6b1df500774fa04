/* test-models.c: unit tests for the model catalogue and name mapping. */
#include "autoconfig.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "models.h"
#include "xmalloc.h"

/*
 * Covers: the catalogue's exact ids in display order, their context
 * windows (1M for the Claude models from 4.6 on, 200k for older ones, the
 * non-Claude models' own) and sane other fields;
 * models_find on every id and on unknown ids; models_resolve on catalogue
 * ids, dated and dashed Claude names of every family and version
 * (doc/protocol.md section 3.2), Anthropic's "-0" aliases, upper case, the
 * "-thinking" suffix and its flag (also reset when absent), and names it
 * must refuse; models_list_text naming every id; a map replaced while
 * four threads resolve (each lookup sees one whole map) and
 * models_use_map keeping a copy of its own.
 */

static const struct {
	const char	*id;
	long		 window;
} expected_catalogue[] = {
	{ "auto", 200000 },
	{ "claude-sonnet-5", 1000000 },
	{ "claude-sonnet-4.6", 1000000 },
	{ "claude-sonnet-4.5", 200000 },
	{ "claude-sonnet-4", 200000 },
	{ "claude-haiku-4.5", 200000 },
	{ "claude-opus-5", 1000000 },
	{ "claude-opus-4.8", 1000000 },
	{ "claude-opus-4.7", 1000000 },
	{ "claude-opus-4.6", 1000000 },
	{ "claude-opus-4.5", 200000 },
	{ "deepseek-3.2", 128000 },
	{ "glm-5", 128000 },
	{ "minimax-m2.1", 128000 },
	{ "minimax-m2.5", 128000 },
	{ "qwen3-coder-next", 256000 },
};
#define N_EXPECTED	(sizeof(expected_catalogue) / \
			    sizeof(expected_catalogue[0]))

/* Asserts that name resolves to id with the given thinking flag. */
static void
assert_resolves(const char *name, const char *id, int thinking)
{
	const struct model_info	*m;
	int			 flag = 7;

	m = models_resolve(name, &flag);
	ck_assert_msg(m != NULL, "%s: not resolved", name);
	ck_assert_msg(strcmp(m->id, id) == 0, "%s: %s, want %s", name, m->id,
	    id);
	ck_assert_msg(flag == thinking, "%s: thinking %d, want %d", name,
	    flag, thinking);
}

static void
assert_unresolved(const char *name)
{
	const struct model_info	*m;
	int			 flag;

	m = models_resolve(name, &flag);
	ck_assert_msg(m == NULL, "%s: resolved to %s", name != NULL ? name :
	    "NULL", m != NULL ? m->id : "");
}

START_TEST(models_catalogue_is_exactly_the_seed_list)
{
	const struct model_info	*cat;
	size_t			 n, i;

	cat = models_catalogue(&n);
	ck_assert_ptr_nonnull(cat);
	ck_assert_uint_eq(n, N_EXPECTED);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(cat[i].id, expected_catalogue[i].id);
		ck_assert_msg(cat[i].context_window ==
		    expected_catalogue[i].window, "%s: window %ld", cat[i].id,
		    cat[i].context_window);
		ck_assert_ptr_nonnull(cat[i].display_name);
		ck_assert_uint_gt(strlen(cat[i].display_name), 0);
		ck_assert_int_gt(cat[i].max_output, 0);
		ck_assert_int_lt(cat[i].max_output, cat[i].context_window);
		/* After 2025-01-01, before 2030-01-01. */
		ck_assert_int_gt(cat[i].created, 1735689600L);
		ck_assert_int_lt(cat[i].created, 1893456000L);
	}
}
END_TEST

START_TEST(models_find_matches_catalogue_ids)
{
	const struct model_info	*cat;
	size_t			 n, i;

	cat = models_catalogue(&n);
	for (i = 0; i < n; i++)
		ck_assert_ptr_eq(models_find(cat[i].id), &cat[i]);
	ck_assert_ptr_null(models_find(""));
	ck_assert_ptr_null(models_find("claude-sonnet-4-5"));
	ck_assert_ptr_null(models_find("claude-sonnet"));
	ck_assert_ptr_null(models_find("claude-sonnet-4.5 "));
	ck_assert_ptr_null(models_find("gpt-4o"));
}
END_TEST

START_TEST(models_resolve_catalogue_ids_as_they_are)
{
	size_t	i;

	for (i = 0; i < N_EXPECTED; i++)
		assert_resolves(expected_catalogue[i].id,
		    expected_catalogue[i].id, 0);
}
END_TEST

START_TEST(models_resolve_sonnet_versions)
{
	assert_resolves("claude-sonnet-4-5-20250929", "claude-sonnet-4.5", 0);
	assert_resolves("claude-sonnet-4-5", "claude-sonnet-4.5", 0);
	assert_resolves("claude-sonnet-4-6", "claude-sonnet-4.6", 0);
	assert_resolves("claude-sonnet-4.6", "claude-sonnet-4.6", 0);
	assert_resolves("claude-sonnet-4-6-20260217", "claude-sonnet-4.6", 0);
	assert_resolves("claude-sonnet-4-20250514", "claude-sonnet-4", 0);
	assert_resolves("claude-sonnet-4", "claude-sonnet-4", 0);
	assert_resolves("claude-3-7-sonnet-20250219", "claude-sonnet-4.5", 0);
	assert_resolves("claude-3-7-sonnet-latest", "claude-sonnet-4.5", 0);
	assert_resolves("claude-3-5-sonnet-20241022", "claude-sonnet-4.5", 0);
	assert_resolves("sonnet", "claude-sonnet-4.5", 0);
	assert_resolves("claude-sonnet-5", "claude-sonnet-5", 0);
	assert_resolves("claude-sonnet-5-20260630", "claude-sonnet-5", 0);
	assert_resolves("Claude-Sonnet-5", "claude-sonnet-5", 0);
	/* A 5 that is a minor version or a date is not Sonnet 5. */
	assert_resolves("claude-sonnet-4-5", "claude-sonnet-4.5", 0);
	assert_resolves("claude-3-5-sonnet-20241022", "claude-sonnet-4.5", 0);
}
END_TEST

START_TEST(models_resolve_sonnet_4_0_alias)
{
	/* Anthropic's alias for claude-sonnet-4-20250514. */
	assert_resolves("claude-sonnet-4-0", "claude-sonnet-4", 0);
	assert_resolves("claude-sonnet-4.0", "claude-sonnet-4", 0);
	assert_resolves("claude-sonnet-4-0-thinking", "claude-sonnet-4", 1);
}
END_TEST

START_TEST(models_resolve_opus_versions)
{
	assert_resolves("claude-opus-4-8", "claude-opus-4.8", 0);
	assert_resolves("claude-opus-4.8", "claude-opus-4.8", 0);
	assert_resolves("claude-opus-4-7", "claude-opus-4.7", 0);
	assert_resolves("claude-opus-4-7-20260416", "claude-opus-4.7", 0);
	assert_resolves("claude-opus-5", "claude-opus-5", 0);
	assert_resolves("claude-opus-5-20261124", "claude-opus-5", 0);
	assert_resolves("opus-5", "claude-opus-5", 0);
	assert_resolves("claude-opus-4-6", "claude-opus-4.6", 0);
	assert_resolves("claude-opus-4-5-20251101", "claude-opus-4.5", 0);
	assert_resolves("claude-opus-4-5", "claude-opus-4.5", 0);
	assert_resolves("claude-opus-4.5", "claude-opus-4.5", 0);
	assert_resolves("claude-opus-4-1", "claude-opus-4.6", 0);
	assert_resolves("claude-opus-4-1-20250805", "claude-opus-4.6", 0);
	assert_resolves("claude-opus-4-20250514", "claude-opus-4.6", 0);
	assert_resolves("claude-opus-4-0", "claude-opus-4.6", 0);
	assert_resolves("claude-3-opus-20240229", "claude-opus-4.6", 0);
	assert_resolves("opus", "claude-opus-4.6", 0);
}
END_TEST

START_TEST(models_resolve_haiku_versions)
{
	assert_resolves("claude-haiku-4-5", "claude-haiku-4.5", 0);
	assert_resolves("claude-haiku-4-5-20251001", "claude-haiku-4.5", 0);
	assert_resolves("claude-3-5-haiku-20241022", "claude-haiku-4.5", 0);
	assert_resolves("claude-3-haiku-20240307", "claude-haiku-4.5", 0);
}
END_TEST

START_TEST(models_resolve_ignores_case)
{
	assert_resolves("CLAUDE-SONNET-4.5", "claude-sonnet-4.5", 0);
	assert_resolves("Claude-Sonnet-4-6", "claude-sonnet-4.6", 0);
	assert_resolves("CLAUDE-OPUS-4-5-20251101", "claude-opus-4.5", 0);
	assert_resolves("Claude-Haiku-4-5", "claude-haiku-4.5", 0);
	assert_resolves("AUTO", "auto", 0);
}
END_TEST

START_TEST(models_resolve_thinking_suffix_sets_flag)
{
	assert_resolves("claude-sonnet-4-5-thinking", "claude-sonnet-4.5", 1);
	assert_resolves("claude-sonnet-4.5-thinking", "claude-sonnet-4.5", 1);
	assert_resolves("claude-sonnet-4-20250514-thinking", "claude-sonnet-4",
	    1);
	assert_resolves("claude-sonnet-4-6-thinking", "claude-sonnet-4.6", 1);
	assert_resolves("claude-opus-4-5-20251101-thinking", "claude-opus-4.5",
	    1);
	assert_resolves("claude-opus-4-8-thinking", "claude-opus-4.8", 1);
	assert_resolves("claude-sonnet-5-thinking", "claude-sonnet-5", 1);
	assert_resolves("CLAUDE-HAIKU-4-5-THINKING", "claude-haiku-4.5", 1);
	assert_resolves("auto-thinking", "auto", 1);
	/* Only as a suffix. */
	assert_resolves("claude-thinking-sonnet-4-5", "claude-sonnet-4.5", 0);
}
END_TEST

START_TEST(models_resolve_refuses_unknown_names)
{
	char	long_name[300];

	assert_unresolved(NULL);
	assert_unresolved("");
	assert_unresolved("claude-instant-1");
	assert_unresolved("llama-3-70b");
	assert_unresolved("o");
	assert_unresolved("o3x");
	assert_unresolved("gpt4o");
	assert_unresolved("gemini");
	assert_unresolved("-thinking");
	assert_unresolved("thinking");
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_unresolved(long_name);
}
END_TEST

START_TEST(models_resolve_maps_openai_and_gemini_names)
{
	/* The examples, and what Codex and Gemini CLI send. */
	assert_resolves("gpt-4o", "claude-sonnet-4.5", 0);
	assert_resolves("gpt-4o-2024-08-06", "claude-sonnet-4.5", 0);
	assert_resolves("GPT-4o-mini", "claude-haiku-4.5", 0);
	assert_resolves("o1", "claude-opus-4.5", 0);
	assert_resolves("o3", "claude-opus-4.5", 0);
	assert_resolves("o3-2025-04-16", "claude-opus-4.5", 0);
	assert_resolves("o3-mini", "claude-sonnet-4.5", 0);
	assert_resolves("o4-mini-thinking", "claude-sonnet-4.5", 1);
	assert_resolves("gpt-4.1", "claude-sonnet-4.5", 0);
	assert_resolves("gpt-4.1-nano", "claude-haiku-4.5", 0);
	assert_resolves("gpt-3.5-turbo", "claude-haiku-4.5", 0);
	assert_resolves("gpt-5.1-codex", "claude-sonnet-4.5", 0);
	assert_resolves("gpt-5-mini", "claude-haiku-4.5", 0);
	assert_resolves("gpt-4o-thinking", "claude-sonnet-4.5", 1);
	assert_resolves("gemini-2.5-pro", "claude-sonnet-4.5", 0);
	assert_resolves("gemini-3.1-pro-preview", "claude-sonnet-4.5", 0);
	assert_resolves("gemini-2.5-flash", "claude-haiku-4.5", 0);
	assert_resolves("gemini-3.5-flash-lite", "claude-haiku-4.5", 0);
	/* -latest and Vertex spellings of Claude names. */
	assert_resolves("claude-3-7-sonnet-latest", "claude-sonnet-4.5", 0);
	assert_resolves("claude-haiku-4-5-latest", "claude-haiku-4.5", 0);
	assert_resolves("claude-sonnet-4-6-latest-thinking",
	    "claude-sonnet-4.6", 1);
	assert_resolves("claude-sonnet-4-5@20250929", "claude-sonnet-4.5", 0);
	/* Claude names are never caught by the OpenAI/Gemini patterns. */
	assert_resolves("claude-opus-4-5-20251101", "claude-opus-4.5", 0);
}
END_TEST

START_TEST(models_adaptive_thinking_is_opus_from_4_6)
{
	const struct model_info	*cat;
	size_t			 n, i;
	int			 want;

	cat = models_catalogue(&n);
	for (i = 0; i < n; i++) {
		want = strcmp(cat[i].id, "claude-opus-4.6") == 0 ||
		    strcmp(cat[i].id, "claude-opus-4.7") == 0 ||
		    strcmp(cat[i].id, "claude-opus-4.8") == 0 ||
		    strcmp(cat[i].id, "claude-opus-5") == 0;
		ck_assert_msg(cat[i].adaptive_thinking == want, "%s: %d",
		    cat[i].id, cat[i].adaptive_thinking);
	}
}
END_TEST

START_TEST(models_resolve_non_claude_models)
{
	/* Kiro's own ids, and the spellings their makers and peers use. */
	assert_resolves("deepseek-3.2", "deepseek-3.2", 0);
	assert_resolves("deepseek-v3.2", "deepseek-3.2", 0);
	assert_resolves("DeepSeek-V3.2-Exp", "deepseek-3.2", 0);
	assert_resolves("deepseek-chat", "deepseek-3.2", 0);
	assert_resolves("deepseek-reasoner-thinking", "deepseek-3.2", 1);
	assert_resolves("glm-5", "glm-5", 0);
	assert_resolves("GLM-5", "glm-5", 0);
	assert_resolves("minimax-m2.1", "minimax-m2.1", 0);
	assert_resolves("MiniMax-M2-1", "minimax-m2.1", 0);
	assert_resolves("minimax-m2.5", "minimax-m2.5", 0);
	assert_resolves("qwen3-coder-next", "qwen3-coder-next", 0);
	assert_resolves("qwen3-coder-plus", "qwen3-coder-next", 0);
	/* Near misses are not guessed. */
	assert_unresolved("deepseek-2");
	assert_unresolved("glm-4.6");
	assert_unresolved("minimax-m1");
}
END_TEST

START_TEST(models_operator_map_comes_first)
{
	static const struct model_alias map[] = {
		{ "gpt-4o", "claude-opus-4.6" },
		{ "my-team-*", "claude-haiku-4.5" },
		{ "claude-sonnet-4-5", "claude-sonnet-4.6" },
		{ "fast-thinking", "claude-sonnet-4" },
	};
	size_t	n;

	models_use_map(map, sizeof(map) / sizeof(map[0]));
	assert_resolves("gpt-4o", "claude-opus-4.6", 0);
	assert_resolves("GPT-4O-thinking", "claude-opus-4.6", 1);
	assert_resolves("my-team-coder", "claude-haiku-4.5", 0);
	assert_resolves("claude-sonnet-4-5", "claude-sonnet-4.6", 0);
	/* A whole-name entry wins over the -thinking suffix rule. */
	assert_resolves("fast-thinking", "claude-sonnet-4", 0);
	/* Names the map does not cover fall through to the usual rules. */
	assert_resolves("gpt-4o-mini", "claude-haiku-4.5", 0);
	assert_resolves("claude-sonnet-4-5-20250929", "claude-sonnet-4.5", 0);
	ck_assert_ptr_nonnull(strstr(models_list_text(), "my-team-*"));
	models_use_map(NULL, 0);
	assert_resolves("gpt-4o", "claude-sonnet-4.5", 0);
	ck_assert_ptr_null(strstr(models_list_text(), "my-team-*"));
	ck_assert_ptr_nonnull(models_defaults(&n));
	ck_assert_uint_gt(n, 5);
}
END_TEST

/* Threads resolving while the map is replaced (modelmap_sync's swap). */
#define SWAP_THREADS	4
#define SWAP_LOOKUPS	20000
#define SWAP_CHANGES	2000

static void *
resolve_loop(void *arg)
{
	const struct model_info	*m;
	long			*bad = arg;
	int			 i, thinking;

	for (i = 0; i < SWAP_LOOKUPS; i++) {
		m = models_resolve("swap-coder", &thinking);
		/* One whole map or the other, never a half or a freed one. */
		if (m == NULL || (strcmp(m->id, "claude-haiku-4.5") != 0 &&
		    strcmp(m->id, "claude-opus-4.6") != 0))
			(*bad)++;
	}
	return NULL;
}

START_TEST(models_map_swaps_while_threads_resolve)
{
	struct model_alias	 a[2], b[3], *copy = NULL;
	pthread_t		 t[SWAP_THREADS];
	long			 bad[SWAP_THREADS] = { 0 };
	size_t			 n, i;
	int			 k;

	a[0].pattern = xstrdup("swap-*");
	a[0].target = xstrdup("claude-haiku-4.5");
	a[1].pattern = xstrdup("other-*");
	a[1].target = xstrdup("auto");
	b[0].pattern = xstrdup("first-*");
	b[0].target = xstrdup("auto");
	b[1].pattern = xstrdup("swap-c*");
	b[1].target = xstrdup("claude-opus-4.6");
	b[2].pattern = xstrdup("swap-*");
	b[2].target = xstrdup("claude-haiku-4.5");
	models_use_map(a, 2);
	/* A copy: the caller's entries may go at once. */
	for (i = 0; i < 2; i++) {
		free(a[i].pattern);
		a[i].pattern = xstrdup("gone");
	}
	assert_resolves("swap-coder", "claude-haiku-4.5", 0);
	free(a[0].pattern);
	a[0].pattern = xstrdup("swap-*");
	for (k = 0; k < SWAP_THREADS; k++)
		ck_assert_int_eq(pthread_create(&t[k], NULL, resolve_loop,
		    &bad[k]), 0);
	for (k = 0; k < SWAP_CHANGES; k++)
		models_use_map(k % 2 == 0 ? b : a, k % 2 == 0 ? 3 : 2);
	models_use_map(b, 3);
	for (k = 0; k < SWAP_THREADS; k++) {
		ck_assert_int_eq(pthread_join(t[k], NULL), 0);
		ck_assert_int_eq(bad[k], 0);
	}
	assert_resolves("swap-coder", "claude-opus-4.6", 0);
	n = models_map_copy(&copy);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(copy[1].pattern, "swap-c*");
	ck_assert_str_eq(copy[1].target, "claude-opus-4.6");
	for (i = 0; i < n; i++) {
		free(copy[i].pattern);
		free(copy[i].target);
	}
	free(copy);
	models_use_map(NULL, 0);
	ck_assert_uint_eq(models_map_copy(&copy), 0);
	ck_assert_ptr_null(copy);
	for (i = 0; i < 2; i++) {
		free(a[i].pattern);
		free(a[i].target);
	}
	for (i = 0; i < 3; i++) {
		free(b[i].pattern);
		free(b[i].target);
	}
}
END_TEST

START_TEST(models_every_default_targets_the_catalogue)
{
	const struct model_alias	*d;
	size_t				 n, i;

	d = models_defaults(&n);
	for (i = 0; i < n; i++)
		ck_assert_msg(models_find(d[i].target) != NULL, "%s -> %s",
		    d[i].pattern, d[i].target);
}
END_TEST

/* 1 when id occurs in text as a whole word of a list. */
static int
has_word(const char *text, const char *id)
{
	const char	*p;
	size_t		 len = strlen(id);

	for (p = text; (p = strstr(p, id)) != NULL; p++)
		if ((p == text || p[-1] == ' ') && (p[len] == ',' ||
		    p[len] == ' ' || p[len] == '\0'))
			return 1;
	return 0;
}

START_TEST(models_list_text_names_every_id)
{
	const char	*text;
	size_t		 i;

	text = models_list_text();
	ck_assert_ptr_nonnull(text);
	for (i = 0; i < N_EXPECTED; i++)
		ck_assert_msg(has_word(text, expected_catalogue[i].id),
		    "%s missing from \"%s\"", expected_catalogue[i].id, text);
}
END_TEST

static Suite *
models_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("models");
	tc = tcase_create("catalogue");
	tcase_add_test(tc, models_catalogue_is_exactly_the_seed_list);
	tcase_add_test(tc, models_find_matches_catalogue_ids);
	tcase_add_test(tc, models_list_text_names_every_id);
	tcase_add_test(tc, models_map_swaps_while_threads_resolve);
	tcase_add_test(tc, models_resolve_maps_openai_and_gemini_names);
	tcase_add_test(tc, models_operator_map_comes_first);
	tcase_add_test(tc, models_every_default_targets_the_catalogue);
	suite_add_tcase(s, tc);

	tc = tcase_create("resolve");
	tcase_add_test(tc, models_resolve_catalogue_ids_as_they_are);
	tcase_add_test(tc, models_resolve_sonnet_versions);
	tcase_add_test(tc, models_resolve_sonnet_4_0_alias);
	tcase_add_test(tc, models_resolve_opus_versions);
	tcase_add_test(tc, models_resolve_haiku_versions);
	tcase_add_test(tc, models_resolve_ignores_case);
	tcase_add_test(tc, models_resolve_thinking_suffix_sets_flag);
	tcase_add_test(tc, models_resolve_refuses_unknown_names);
	tcase_add_test(tc, models_resolve_non_claude_models);
	tcase_add_test(tc, models_adaptive_thinking_is_opus_from_4_6);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(models_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
