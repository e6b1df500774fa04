/* test-confman.c: kiro-fcgi.conf(5) cannot drift from the parser's key table. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "buf.h"
#include "config.h"
#include "confman.h"
#include "testutil.h"
#include "xmalloc.h"

/*
 * The committed man/kiro-fcgi.conf.5 (from KIRO_SRCDIR) is what
 * gen-confman writes today; every key the walk names is one the parser
 * accepts and one the page lists, and the page lists no other; every
 * environment variable is in the page; the page's example configuration
 * parses without a warning.
 */

static char *
committed_page(void)
{
	const char	*src = getenv("KIRO_SRCDIR");
	char		*path, *text;

	path = xasprintf("%s/man/kiro-fcgi.conf.5", src != NULL ? src : ".");
	text = tu_read_file(path);
	ck_assert_msg(text != NULL, "cannot read %s (is KIRO_SRCDIR set?)",
	    path);
	free(path);
	return text;
}

START_TEST(committed_page_is_what_the_table_writes)
{
	struct buf	 page = BUF_INIT;
	char		*committed = committed_page();
	size_t		 i, line = 1;

	confman_write(&page);
	for (i = 0; i < page.len && committed[i] == page.ptr[i]; i++)
		if (page.ptr[i] == '\n')
			line++;
	ck_assert_msg(i == page.len && committed[i] == '\0',
	    "man/kiro-fcgi.conf.5 differs from the key table at line %zu: "
	    "run `make man' in the build tree and commit the page", line);
	buf_free(&page);
	free(committed);
}
END_TEST

struct names {
	char	*list[256];
	size_t	 n;
};

static void
collect(const struct config_doc *doc, void *arg)
{
	struct names	*names = arg;

	ck_assert_uint_lt(names->n, 256);
	ck_assert_msg(doc->text != NULL && doc->text[0] != '\0',
	    "%s has no description", doc->name);
	ck_assert_msg(doc->def != NULL, "%s has no default", doc->name);
	names->list[names->n++] = xstrdup(doc->name);
}

static void
names_free(struct names *names)
{
	size_t	i;

	for (i = 0; i < names->n; i++)
		free(names->list[i]);
}

/* {"a":{"b":null}} for "a.b": null keeps the default of any type. */
static char *
null_config(const char *name)
{
	struct buf	 json = BUF_INIT;
	const char	*dot = strchr(name, '.');

	if (dot == NULL)
		buf_printf(&json, "{\"%s\": null}", name);
	else
		buf_printf(&json, "{\"%.*s\": {\"%s\": null}}",
		    (int)(dot - name), name, dot + 1);
	return buf_detach(&json);
}

/* The warnings config_parse gives for a file holding just this key. */
static char *
parse_warnings(const char *json)
{
	struct config	*cfg = NULL;
	char		*warnings = NULL, *cause = NULL;

	ck_assert_msg(config_parse(json, strlen(json), "/tmp", &cfg,
	    &warnings, &cause) == KF_OK, "%s: %s", json, cause);
	config_free(cfg);
	return warnings;
}

START_TEST(every_documented_key_is_one_the_parser_knows)
{
	struct names	 names = { .n = 0 };
	char		*json, *warnings;
	size_t		 i;

	config_doc_walk(collect, &names);
	ck_assert_uint_gt(names.n, 50);
	for (i = 0; i < names.n; i++) {
		json = null_config(names.list[i]);
		warnings = parse_warnings(json);
		/* The kiro.rs keys are known, and said to mean nothing. */
		ck_assert_msg(warnings == NULL ||
		    strstr(warnings, "(kiro.rs)") != NULL, "%s: %s", json,
		    warnings);
		free(warnings);
		free(json);
	}
	/* The check can fail: a key the parser does not know warns. */
	warnings = parse_warnings("{\"history\": {\"noSuchKey\": null}}");
	ck_assert_ptr_nonnull(warnings);
	free(warnings);
	names_free(&names);
}
END_TEST

START_TEST(page_lists_exactly_the_parser_keys)
{
	struct names	 names = { .n = 0 };
	char		*page = committed_page(), *want, *p, *end;
	size_t		 i, listed = 0;
	int		 found;

	config_doc_walk(collect, &names);
	for (i = 0; i < names.n; i++) {
		want = xasprintf("\n.It Ic %s Pq ", names.list[i]);
		ck_assert_msg(strstr(page, want) != NULL,
		    "key %s is not in the page", names.list[i]);
		free(want);
	}
	for (p = page; (p = strstr(p, "\n.It Ic ")) != NULL; p = end) {
		p += strlen("\n.It Ic ");
		end = strchr(p, ' ');
		ck_assert_ptr_nonnull(end);
		found = 0;
		for (i = 0; i < names.n; i++)
			if (strlen(names.list[i]) == (size_t)(end - p) &&
			    strncmp(names.list[i], p, (size_t)(end - p)) == 0)
				found = 1;
		ck_assert_msg(found, "the page lists %.*s, which the parser "
		    "does not know", (int)(end - p), p);
		listed++;
	}
	ck_assert_uint_eq(listed, names.n);
	names_free(&names);
	free(page);
}
END_TEST

START_TEST(page_lists_every_environment_variable)
{
	struct names	 names = { .n = 0 };
	char		*page = committed_page(), *want;
	size_t		 i;

	config_env_walk(collect, &names);
	ck_assert_str_eq(names.list[0], CONFIG_ENV_PATH);
	ck_assert_uint_gt(names.n, 10);
	for (i = 0; i < names.n; i++) {
		want = xasprintf("\n.It Ev %s\n", names.list[i]);
		ck_assert_msg(strstr(page, want) != NULL,
		    "variable %s is not in the page", names.list[i]);
		free(want);
	}
	names_free(&names);
	free(page);
}
END_TEST

START_TEST(page_example_parses_without_warnings)
{
	char		*page = committed_page(), *start, *end, *warnings;

	start = strstr(page, "\n.Sh EXAMPLES\n");
	ck_assert_ptr_nonnull(start);
	start = strstr(start, "\n.Bd -literal\n");
	ck_assert_ptr_nonnull(start);
	start += strlen("\n.Bd -literal\n");
	end = strstr(start, "\n.Ed\n");
	ck_assert_ptr_nonnull(end);
	end[1] = '\0';
	ck_assert_ptr_null(strchr(start, '\\'));
	warnings = parse_warnings(start);
	ck_assert_msg(warnings == NULL, "example: %s", warnings);
	free(page);
}
END_TEST

START_TEST(defaults_come_from_the_parser)
{
	struct buf	 page = BUF_INIT;

	/* Numbers and names are read from config_new, not written twice. */
	confman_write(&page);
	ck_assert_ptr_nonnull(strstr(page.ptr, ".It Ic cooldownMaxSeconds "
	    "Pq \"\\&integer, at least 60\"\nDefault:\n.Cm \"\\&3600\" .\n"));
	ck_assert_ptr_nonnull(strstr(page.ptr, ".It Ic history.onOverflow "
	    "Pq \"\\&error | truncate | summarize\"\nDefault:\n"
	    ".Cm \"\\&error\" .\n"));
	ck_assert_ptr_nonnull(strstr(page.ptr, ".It Ic region Pq \"\\&string\"\n"
	    "Default:\n.Cm \"\\&" CONFIG_DEFAULT_REGION "\" .\n"));
	buf_free(&page);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("confman");
	TCase	*tc = tcase_create("confman");

	tcase_add_test(tc, committed_page_is_what_the_table_writes);
	tcase_add_test(tc, every_documented_key_is_one_the_parser_knows);
	tcase_add_test(tc, page_lists_exactly_the_parser_keys);
	tcase_add_test(tc, page_lists_every_environment_variable);
	tcase_add_test(tc, page_example_parses_without_warnings);
	tcase_add_test(tc, defaults_come_from_the_parser);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
