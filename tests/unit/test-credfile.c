/* test-credfile.c: rotated tokens written back into credentials files. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <check.h>

#include "credfile.h"
#include "cred.h"
#include "json.h"
#include "testutil.h"
#include "xmalloc.h"

static void
updated(struct cred *c)
{
	cred_init(c);
	c->access_token = xstrdup("aoaNEW");
	c->refresh_token = xstrdup("aorNEW");
	c->profile_arn = xstrdup("arn:new");
	c->expires_at = 1893456000;	/* 2030-01-01T00:00:00Z */
}

static json_object *
load(const char *path)
{
	json_object	*v = NULL;
	char		*text;

	ck_assert_ptr_nonnull(text = tu_read_file(path));
	ck_assert_int_eq(json_parse(text, strlen(text), 32, &v, NULL), KF_OK);
	free(text);
	return v;
}

START_TEST(credfile_array_entry_updated_others_kept)
{
	struct cred	 c;
	json_object	*v, *e0, *e1;
	const char	*s;
	char		*dir, *path, *why = NULL;
	struct stat	 st;
	mode_t		 old_mask;

	dir = tu_tmpdir();
	ck_assert_int_ne(asprintf(&path, "%s/creds.json", dir), -1);
	tu_write_file(path, "[{\"refreshToken\":\"aorOTHER\",\"priority\":1},"
	    "{\"refreshToken\":\"aorOLD\",\"custom\":\"kept\","
	    "\"machineId\":\"m\",\"accessToken\":\"aoaOLD\"}]");
	chmod(path, 0644);
	updated(&c);
	old_mask = umask(0);
	ck_assert_int_eq(credfile_writeback(path, "aorOLD", &c, &why), KF_OK);
	umask(old_mask);
	v = load(path);
	ck_assert(json_object_is_type(v, json_type_array));
	ck_assert_uint_eq(json_object_array_length(v), 2);
	e0 = json_object_array_get_idx(v, 0);
	e1 = json_object_array_get_idx(v, 1);
	ck_assert_int_eq(json_get_str(e0, "refreshToken", &s), 1);
	ck_assert_str_eq(s, "aorOTHER");
	ck_assert_int_eq(json_get_str(e1, "refreshToken", &s), 1);
	ck_assert_str_eq(s, "aorNEW");
	ck_assert_int_eq(json_get_str(e1, "accessToken", &s), 1);
	ck_assert_str_eq(s, "aoaNEW");
	ck_assert_int_eq(json_get_str(e1, "profileArn", &s), 1);
	ck_assert_str_eq(s, "arn:new");
	ck_assert_int_eq(json_get_str(e1, "expiresAt", &s), 1);
	ck_assert_str_eq(s, "2030-01-01T00:00:00Z");
	ck_assert_int_eq(json_get_str(e1, "custom", &s), 1);
	ck_assert_str_eq(s, "kept");
	json_object_put(v);
	/* Tokens are 0600 after the replace, whatever the umask or mode. */
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	cred_free(&c);
	tu_rmrf(dir);
	free(dir);
	free(path);
}
END_TEST

START_TEST(credfile_single_object_stays_an_object)
{
	struct cred	 c;
	json_object	*v;
	const char	*s;
	char		*dir, *path, *why = NULL;

	dir = tu_tmpdir();
	ck_assert_int_ne(asprintf(&path, "%s/kiro-auth-token.json", dir), -1);
	tu_write_file(path, "{\"refreshToken\":\"aorOLD\",\"provider\":"
	    "\"Google\",\"authMethod\":\"social\"}");
	updated(&c);
	ck_assert_int_eq(credfile_writeback(path, "aorOLD", &c, &why), KF_OK);
	v = load(path);
	ck_assert(json_object_is_type(v, json_type_object));
	ck_assert_int_eq(json_get_str(v, "refreshToken", &s), 1);
	ck_assert_str_eq(s, "aorNEW");
	ck_assert_int_eq(json_get_str(v, "provider", &s), 1);
	ck_assert_str_eq(s, "Google");
	json_object_put(v);
	cred_free(&c);
	tu_rmrf(dir);
	free(dir);
	free(path);
}
END_TEST

START_TEST(credfile_no_match_leaves_the_file_alone)
{
	struct cred	 c;
	char		*dir, *path, *before, *after, *why = NULL;

	dir = tu_tmpdir();
	ck_assert_int_ne(asprintf(&path, "%s/creds.json", dir), -1);
	tu_write_file(path, "[{\"refreshToken\":\"aorEDITED\"}]");
	before = tu_read_file(path);
	updated(&c);
	ck_assert_int_eq(credfile_writeback(path, "aorOLD", &c, &why),
	    KF_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(why, path));
	ck_assert_ptr_null(strstr(why, "aorNEW"));
	after = tu_read_file(path);
	ck_assert_str_eq(before, after);
	free(why);
	why = NULL;
	/* A broken file is reported, not overwritten. */
	tu_write_file(path, "[{\"refreshToken\":");
	ck_assert_int_ne(credfile_writeback(path, "aorOLD", &c, &why), KF_OK);
	free(after);
	after = tu_read_file(path);
	ck_assert_str_eq(after, "[{\"refreshToken\":");
	free(why);
	free(before);
	free(after);
	cred_free(&c);
	tu_rmrf(dir);
	free(dir);
	free(path);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("credfile");
	TCase	*tc = tcase_create("credfile");

	tcase_add_test(tc, credfile_array_entry_updated_others_kept);
	tcase_add_test(tc, credfile_single_object_stays_an_object);
	tcase_add_test(tc, credfile_no_match_leaves_the_file_alone);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
