/* credfile.c: write rotated tokens back into the file a credential came from. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "cred.h"
#include "credfile.h"
#include "fileio.h"
#include "json.h"
#include "xmalloc.h"

#define CREDFILE_MAX	(4 * 1024 * 1024)

static int
matches(json_object *entry, const char *old_refresh_token)
{
	const char	*s;

	return json_object_is_type(entry, json_type_object) &&
	    json_get_str(entry, "refreshToken", &s) == 1 &&
	    strcmp(s, old_refresh_token) == 0;
}

static void
set_str(json_object *entry, const char *key, const char *value)
{
	if (value != NULL)
		json_object_object_add(entry, key, json_str(value));
}

enum kf_err
credfile_writeback(const char *path, const char *old_refresh_token,
    const struct cred *updated, char **cause)
{
	struct buf	 text = BUF_INIT, out = BUF_INIT;
	json_object	*root = NULL, *entry = NULL;
	char		*why = NULL, when[CLOCK_RFC3339_LEN];
	size_t		 i, n;
	enum kf_err	 er;

	if (old_refresh_token == NULL) {
		xsetprintf(cause, "%s: no refresh token to match", path);
		return KF_ENOTFOUND;
	}
	if ((er = fileio_read(path, CREDFILE_MAX, &text, &why)) != KF_OK) {
		xsetprintf(cause, "%s", why);
		goto out;
	}
	if ((er = json_parse(text.ptr, text.len, 32, &root, &why)) != KF_OK) {
		xsetprintf(cause, "%s: %s", path, why);
		goto out;
	}
	if (json_object_is_type(root, json_type_array)) {
		n = json_object_array_length(root);
		for (i = 0; i < n && entry == NULL; i++)
			if (matches(json_object_array_get_idx(root, i),
			    old_refresh_token))
				entry = json_object_array_get_idx(root, i);
	} else if (matches(root, old_refresh_token))
		entry = root;
	if (entry == NULL) {
		xsetprintf(cause, "%s: no entry has the old refresh token "
		    "(was the file edited?)", path);
		er = KF_ENOTFOUND;
		goto out;
	}
	set_str(entry, "accessToken", updated->access_token);
	set_str(entry, "refreshToken", updated->refresh_token);
	set_str(entry, "profileArn", updated->profile_arn);
	if (updated->expires_at != 0)
		set_str(entry, "expiresAt",
		    clock_rfc3339(updated->expires_at, when));
	buf_puts(&out, json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	buf_putc(&out, '\n');
	er = fileio_write_atomic(path, out.ptr, out.len, 0600, cause);
out:
	free(why);
	json_object_put(root);
	if (text.ptr != NULL)
		explicit_bzero(text.ptr, text.len);
	if (out.ptr != NULL)
		explicit_bzero(out.ptr, out.len);
	buf_free(&text);
	buf_free(&out);
	return er;
}
