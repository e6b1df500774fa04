/* models.c: the Kiro model catalogue and client model names mapped onto it. */
#include "autoconfig.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "models.h"

/* Windows as kiro.rs assumes them (§3.2): 1M for the 4.6 models. */
static const struct model_info catalogue[] = {
	{ "auto", "Auto (Kiro chooses)", 200000, 64000, 1759276800 },
	{ "claude-sonnet-4.6", "Claude Sonnet 4.6", 1000000, 64000,
	    1771891200 },
	{ "claude-sonnet-4.5", "Claude Sonnet 4.5", 200000, 64000,
	    1759104000 },
	{ "claude-sonnet-4", "Claude Sonnet 4", 200000, 64000, 1747699200 },
	{ "claude-haiku-4.5", "Claude Haiku 4.5", 200000, 64000, 1760486400 },
	{ "claude-opus-4.6", "Claude Opus 4.6", 1000000, 64000, 1770249600 },
	{ "claude-opus-4.5", "Claude Opus 4.5", 200000, 64000, 1763942400 },
};
#define N_CATALOGUE (sizeof(catalogue) / sizeof(catalogue[0]))

const struct model_info *
models_catalogue(size_t *n)
{
	*n = N_CATALOGUE;
	return catalogue;
}

const struct model_info *
models_find(const char *id)
{
	size_t	i;

	for (i = 0; i < N_CATALOGUE; i++)
		if (strcasecmp(catalogue[i].id, id) == 0)
			return &catalogue[i];
	return NULL;
}

/* "4-5" or "4.5" anywhere in the name. */
static int
has_version(const char *name, char major, char minor)
{
	const char	*p;

	for (p = name; p[0] != '\0' && p[1] != '\0' && p[2] != '\0'; p++)
		if (p[0] == major && (p[1] == '-' || p[1] == '.') &&
		    p[2] == minor && !isdigit((unsigned char)p[3]) &&
		    (p == name || !isdigit((unsigned char)p[-1])))
			return 1;
	return 0;
}

/*
 * "sonnet-4", or Anthropic's alias "sonnet-4-0", ending the name or
 * followed by a -YYYYMMDD date.
 */
static int
is_sonnet_4_0(const char *name)
{
	const char	*p, *q;
	size_t		 i;

	if ((p = strstr(name, "sonnet-4")) == NULL)
		return 0;
	q = p + strlen("sonnet-4");
	if ((q[0] == '-' || q[0] == '.') && q[1] == '0' &&
	    !isdigit((unsigned char)q[2]))
		q += 2;
	if (*q == '\0')
		return 1;
	if (*q != '-')
		return 0;
	for (i = 1; i <= 8; i++)
		if (!isdigit((unsigned char)q[i]))
			return 0;
	return q[9] == '\0' || q[9] == '-';
}

const struct model_info *
models_resolve(const char *name, int *thinking)
{
	char		 low[128];
	size_t		 len, i;
	const char	*id = NULL;
	const struct model_info *m;

	*thinking = 0;
	if (name == NULL || (len = strlen(name)) == 0 || len >= sizeof(low))
		return NULL;
	for (i = 0; i <= len; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	if (len > 9 && strcmp(low + len - 9, "-thinking") == 0) {
		*thinking = 1;
		low[len - 9] = '\0';
	}
	if ((m = models_find(low)) != NULL)
		return m;

	if (strstr(low, "sonnet") != NULL) {
		if (has_version(low, '4', '6'))
			id = "claude-sonnet-4.6";
		else if (is_sonnet_4_0(low))
			id = "claude-sonnet-4";
		else
			id = "claude-sonnet-4.5";
	} else if (strstr(low, "opus") != NULL) {
		if (has_version(low, '4', '5'))
			id = "claude-opus-4.5";
		else
			id = "claude-opus-4.6";
	} else if (strstr(low, "haiku") != NULL)
		id = "claude-haiku-4.5";
	return id == NULL ? NULL : models_find(id);
}

const char *
models_list_text(void)
{
	return "auto, claude-sonnet-4.6, claude-sonnet-4.5, claude-sonnet-4, "
	    "claude-haiku-4.5, claude-opus-4.6, claude-opus-4.5 (and Claude "
	    "names such as claude-sonnet-4-5-20250929 or claude-opus-4-8)";
}
