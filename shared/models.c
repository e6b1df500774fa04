/* models.c: the Kiro model catalogue and client model names mapped onto it. */
#include "autoconfig.h"

#include <ctype.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "models.h"
#include "xmalloc.h"

/*
 * The fallback catalogue, used until an account's own ListAvailableModels
 * says otherwise.  Claude windows as kiro.rs assumes them (1M from the 4.6
 * models on; claude-sonnet-5 is served in us-east-1 only).  The non-Claude
 * models Kiro offers since 2026 get conservative windows: a window too
 * small makes a client compact early, one too large lets it overflow.
 */
static const struct model_info catalogue[] = {
	{ "auto", "Auto (Kiro chooses)", 200000, 64000, 1759276800, 0 },
	{ "claude-sonnet-5", "Claude Sonnet 5", 1000000, 64000, 1782777600, 0 },
	{ "claude-sonnet-4.6", "Claude Sonnet 4.6", 1000000, 64000,
	    1771891200, 0 },
	{ "claude-sonnet-4.5", "Claude Sonnet 4.5", 200000, 64000,
	    1759104000, 0 },
	{ "claude-sonnet-4", "Claude Sonnet 4", 200000, 64000, 1747699200, 0 },
	{ "claude-haiku-4.5", "Claude Haiku 4.5", 200000, 64000, 1760486400,
	    0 },
	{ "claude-opus-5", "Claude Opus 5", 1000000, 64000, 1795478400, 1 },
	{ "claude-opus-4.8", "Claude Opus 4.8", 1000000, 64000, 1785888000, 1 },
	{ "claude-opus-4.7", "Claude Opus 4.7", 1000000, 64000, 1776297600, 1 },
	{ "claude-opus-4.6", "Claude Opus 4.6", 1000000, 64000, 1770249600, 1 },
	{ "claude-opus-4.5", "Claude Opus 4.5", 200000, 64000, 1763942400, 0 },
	{ "deepseek-3.2", "DeepSeek 3.2", 128000, 32000, 1764547200, 0 },
	{ "glm-5", "GLM-5", 128000, 32000, 1770854400, 0 },
	{ "minimax-m2.1", "MiniMax M2.1", 128000, 32000, 1768435200, 0 },
	{ "minimax-m2.5", "MiniMax M2.5", 128000, 32000, 1772323200, 0 },
	{ "qwen3-coder-next", "Qwen3 Coder Next", 256000, 64000, 1770076800,
	    0 },
};
#define N_CATALOGUE (sizeof(catalogue) / sizeof(catalogue[0]))

/*
 * Common OpenAI and Gemini names, so that Codex CLI, Gemini CLI and the
 * SDKs work with their default model names.  Specific patterns first:
 * the first match wins.
 */
static const struct model_alias defaults[] = {
	{ "gpt-4o-mini*", "claude-haiku-4.5" },
	{ "gpt-4.1-mini*", "claude-haiku-4.5" },
	{ "gpt-4.1-nano*", "claude-haiku-4.5" },
	{ "gpt-3.5*", "claude-haiku-4.5" },
	{ "gpt-5*-mini*", "claude-haiku-4.5" },
	{ "gpt-5*-nano*", "claude-haiku-4.5" },
	{ "o[1-9]-mini*", "claude-sonnet-4.5" },
	{ "o[1-9]", "claude-opus-4.5" },
	{ "o[1-9]-*", "claude-opus-4.5" },
	{ "gpt-*", "claude-sonnet-4.5" },
	{ "chatgpt-*", "claude-sonnet-4.5" },
	{ "gemini-*flash*", "claude-haiku-4.5" },
	{ "gemini-*", "claude-sonnet-4.5" },
	/* Other spellings of the non-Claude models. */
	{ "deepseek-chat", "deepseek-3.2" },
	{ "deepseek-reasoner", "deepseek-3.2" },
	{ "deepseek-v3.2*", "deepseek-3.2" },
	{ "deepseek-3-2*", "deepseek-3.2" },
	{ "deepseek-3.2-*", "deepseek-3.2" },
	{ "glm-5-*", "glm-5" },
	{ "glm-5.0*", "glm-5" },
	{ "minimax-m2.1-*", "minimax-m2.1" },
	{ "minimax-m2-1*", "minimax-m2.1" },
	{ "minimax-m2.5-*", "minimax-m2.5" },
	{ "minimax-m2-5*", "minimax-m2.5" },
	{ "qwen3-coder*", "qwen3-coder-next" },
};
#define N_DEFAULTS (sizeof(defaults) / sizeof(defaults[0]))

/*
 * The operator's modelMap (models_use_map): an immutable copy that each
 * models_resolve holds a reference to, so that a new map can replace it
 * while other threads resolve with the old one, which is freed by the
 * last of them.
 */
struct user_map {
	unsigned		 refs;		/* under map_lock */
	size_t			 n;
	struct model_alias	*a;
};
static pthread_mutex_t		 map_lock = PTHREAD_MUTEX_INITIALIZER;
static struct user_map		*user_map;	/* NULL: no map */
/* Per thread: the map may change between two threads' errors. */
static __thread char		 list_text[2048];
/* The live lists (models_use_live), NULL: the built-in list alone. */
static models_live_fn		 live_fn;

const struct model_info *
models_catalogue(size_t *n)
{
	*n = N_CATALOGUE;
	return catalogue;
}

const struct model_info *
models_find_builtin(const char *id)
{
	size_t	i;

	for (i = 0; i < N_CATALOGUE; i++)
		if (strcasecmp(catalogue[i].id, id) == 0)
			return &catalogue[i];
	return NULL;
}

const struct model_info *
models_find(const char *id)
{
	const struct model_info	*m;

	if (live_fn != NULL && (m = live_fn(id)) != NULL)
		return m;
	return models_find_builtin(id);
}

void
models_use_live(models_live_fn fn)
{
	live_fn = fn;
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
 * The major version right after a family word ("sonnet-5", "opus5",
 * "opus-5-20261124"), or -1 when none or when it is followed by a minor
 * version ("opus-4-8") or more digits.
 */
static int
major_after(const char *name, const char *family)
{
	const char	*p;

	if ((p = strstr(name, family)) == NULL)
		return -1;
	p += strlen(family);
	if (*p == '-' || *p == '.')
		p++;
	if (!isdigit((unsigned char)p[0]) || isdigit((unsigned char)p[1]))
		return -1;
	/* "-8" or ".8" after it is a minor version; "-2026..." is a date. */
	if ((p[1] == '-' || p[1] == '.') && isdigit((unsigned char)p[2]) &&
	    !isdigit((unsigned char)p[3]))
		return -1;
	return p[0] - '0';
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

const struct model_alias *
models_defaults(size_t *n)
{
	*n = N_DEFAULTS;
	return defaults;
}

/* The target of the first alias whose pattern matches name, or NULL. */
static const struct model_info *
alias_lookup(const struct model_alias *map, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (fnmatch(map[i].pattern, name, FNM_CASEFOLD) == 0)
			return models_find(map[i].target);
	return NULL;
}

static struct user_map *
map_hold(void)
{
	struct user_map	*um;

	pthread_mutex_lock(&map_lock);
	if ((um = user_map) != NULL)
		um->refs++;
	pthread_mutex_unlock(&map_lock);
	return um;
}

static void
map_release(struct user_map *um)
{
	size_t	i;
	int	last;

	if (um == NULL)
		return;
	pthread_mutex_lock(&map_lock);
	last = --um->refs == 0;
	pthread_mutex_unlock(&map_lock);
	if (!last)
		return;
	for (i = 0; i < um->n; i++) {
		free(um->a[i].pattern);
		free(um->a[i].target);
	}
	free(um->a);
	free(um);
}

/* Step 1 of models_resolve, with one whole map. */
static const struct model_info *
user_lookup(const char *name)
{
	struct user_map		*um;
	const struct model_info	*m;

	if ((um = map_hold()) == NULL)
		return NULL;
	m = alias_lookup(um->a, um->n, name);
	map_release(um);
	return m;
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
	/* An explicit entry for the whole name wins over the suffix rule. */
	if ((m = user_lookup(low)) != NULL)
		return m;
	if (len > 9 && strcmp(low + len - 9, "-thinking") == 0) {
		*thinking = 1;
		low[len - 9] = '\0';
	}
	if ((m = user_lookup(low)) != NULL)
		return m;
	if ((m = models_find(low)) != NULL)
		return m;

	if (strstr(low, "sonnet") != NULL) {
		if (major_after(low, "sonnet") == 5)
			id = "claude-sonnet-5";
		else if (has_version(low, '4', '6'))
			id = "claude-sonnet-4.6";
		else if (is_sonnet_4_0(low))
			id = "claude-sonnet-4";
		else
			id = "claude-sonnet-4.5";
	} else if (strstr(low, "opus") != NULL) {
		/*
		 * Older and unversioned opus names go to 4.6, the newest opus
		 * that every account region was known to serve.
		 */
		if (major_after(low, "opus") == 5)
			id = "claude-opus-5";
		else if (has_version(low, '4', '8'))
			id = "claude-opus-4.8";
		else if (has_version(low, '4', '7'))
			id = "claude-opus-4.7";
		else if (has_version(low, '4', '5'))
			id = "claude-opus-4.5";
		else
			id = "claude-opus-4.6";
	} else if (strstr(low, "haiku") != NULL)
		id = "claude-haiku-4.5";
	if (id != NULL)
		return models_find(id);
	return alias_lookup(defaults, N_DEFAULTS, low);
}

static void
build_list_text(void)
{
	struct buf	 b = BUF_INIT;
	struct user_map	*um = map_hold();
	size_t		 i;

	for (i = 0; i < N_CATALOGUE; i++)
		buf_printf(&b, "%s%s", i > 0 ? ", " : "", catalogue[i].id);
	for (i = 0; um != NULL && i < um->n; i++)
		buf_printf(&b, ", %s", um->a[i].pattern);
	map_release(um);
	buf_puts(&b, " (and Claude names such as claude-sonnet-4-5-20250929, "
	    "claude-sonnet-5 or claude-opus-4-8, OpenAI names such as gpt-4o, "
	    "gpt-4o-mini, o3, gpt-5.1-codex, Gemini names such as "
	    "gemini-2.5-pro, gemini-2.5-flash; any of them with -thinking)");
	if (b.len >= sizeof(list_text)) {
		/* An operator's huge map: cut at a name boundary. */
		b.len = sizeof(list_text) - 5;
		while (b.len > 0 && b.ptr[b.len] != ',')
			b.len--;
		memcpy(b.ptr + b.len, ", ...", 6);
		b.len += 5;
	}
	memcpy(list_text, b.ptr, b.len);
	list_text[b.len] = '\0';
	buf_free(&b);
}

void
models_use_map(const struct model_alias *map, size_t n)
{
	struct user_map	*um = NULL, *old;
	size_t		 i;

	/* Allocate first: nothing is swapped until the copy is whole. */
	if (n > 0) {
		um = xcalloc(1, sizeof(*um));
		um->refs = 1;
		um->n = n;
		um->a = xcalloc(n, sizeof(*um->a));
		for (i = 0; i < n; i++) {
			um->a[i].pattern = xstrdup(map[i].pattern);
			um->a[i].target = xstrdup(map[i].target);
		}
	}
	pthread_mutex_lock(&map_lock);
	old = user_map;
	user_map = um;
	pthread_mutex_unlock(&map_lock);
	map_release(old);
}

size_t
models_map_copy(struct model_alias **out)
{
	struct user_map	*um = map_hold();
	size_t		 i, n = um != NULL ? um->n : 0;

	*out = n > 0 ? xcalloc(n, sizeof(**out)) : NULL;
	for (i = 0; i < n; i++) {
		(*out)[i].pattern = xstrdup(um->a[i].pattern);
		(*out)[i].target = xstrdup(um->a[i].target);
	}
	map_release(um);
	return n;
}

const char *
models_list_text(void)
{
	build_list_text();
	return list_text;
}
