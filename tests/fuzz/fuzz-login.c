/* fuzz-login.c: libFuzzer target: the pasted / called-back redirect URL parser. */
/*
 * Input: the text a person pastes (or the target a browser requests), cut
 * at its first NUL as a line would be.  It is parsed against a fixed state.
 *
 * Invariants (abort when broken; ASan and LeakSanitizer do the rest):
 *  - KF_OK gives a non-empty code and no cause; anything else gives no
 *    code, a cause, and KF_EINVAL or (for ?error=) KF_ELOGIN;
 *  - KF_OK only when the text holds "state=" and "code=";
 *  - the answer is the same for the text with a newline and spaces around.
 */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "login.h"
#include "xmalloc.h"

#define STATE	"s7ate-XYZ_0123456789abcdefghijklmnopqrstuvw"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static enum kf_err
parse(const char *text, char **code)
{
	char		*why = NULL;
	enum kf_err	 er;

	er = login_parse_redirect(text, STATE, code, &why);
	if (er == KF_OK) {
		if (*code == NULL || **code == '\0' || why != NULL)
			abort();
	} else {
		if (*code != NULL || why == NULL || *why == '\0')
			abort();
		if (er != KF_EINVAL && er != KF_ELOGIN)
			abort();
	}
	free(why);
	return er;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*text, *padded, *code = NULL, *code2 = NULL;
	enum kf_err	 er, er2;

	text = xstrndup((const char *)data, size);
	er = parse(text, &code);
	if (er == KF_OK && (strstr(text, "state=") == NULL ||
	    strstr(text, "code=") == NULL))
		abort();
	padded = xasprintf("  %s \r\n", text);
	er2 = parse(padded, &code2);
	/* Trailing spaces belong to no value, so both agree. */
	if (er != er2 || (er == KF_OK && strcmp(code, code2) != 0))
		abort();
	free(code);
	free(code2);
	free(padded);
	free(text);
	return 0;
}
