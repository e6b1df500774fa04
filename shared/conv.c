/* conv.c: the neutral conversation every front end parses into. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "conv.h"
#include "xmalloc.h"

static const char *const role_names[CONV_ROLE__MAX] = {
	"user", "assistant"
};

void
conv_init(struct conv *c)
{
	memset(c, 0, sizeof(*c));
}

void
conv_block_clear(struct conv_block *b)
{
	size_t	i;

	if (b == NULL)
		return;
	free(b->text);
	free(b->signature);
	free(b->media_type);
	free(b->data);
	free(b->id);
	free(b->name);
	json_object_put(b->input);
	for (i = 0; i < b->n_content; i++)
		conv_block_clear(&b->content[i]);
	free(b->content);
	memset(b, 0, sizeof(*b));
}

void
conv_msg_clear(struct conv_msg *m)
{
	size_t	i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n_blocks; i++)
		conv_block_clear(&m->blocks[i]);
	free(m->blocks);
	memset(m, 0, sizeof(*m));
}

void
conv_free(struct conv *c)
{
	size_t	i;

	if (c == NULL)
		return;
	free(c->system);
	for (i = 0; i < c->n_msgs; i++)
		conv_msg_clear(&c->msgs[i]);
	free(c->msgs);
	for (i = 0; i < c->n_tools; i++) {
		free(c->tools[i].name);
		free(c->tools[i].description);
		json_object_put(c->tools[i].schema);
	}
	free(c->tools);
	free(c->tool_choice_name);
	free(c->model);
	free(c->thinking_effort);
	free(c->session_key);
	free(c->session_id);
	free(c->request_id);
	for (i = 0; i < c->n_stop; i++)
		free(c->stop[i]);
	free(c->stop);
	json_object_put(c->response_schema);
	for (i = 0; i < c->web_search.n_allowed; i++)
		free(c->web_search.allowed[i]);
	free(c->web_search.allowed);
	for (i = 0; i < c->web_search.n_blocked; i++)
		free(c->web_search.blocked[i]);
	free(c->web_search.blocked);
	conv_init(c);
}

enum kf_err
conv_add_search_domain(struct conv *c, int blocked, const char *domain,
    char **cause)
{
	char	***list = blocked ? &c->web_search.blocked :
		    &c->web_search.allowed;
	size_t	 *n = blocked ? &c->web_search.n_blocked :
		    &c->web_search.n_allowed;

	if (*n >= CONV_MAX_SEARCH_DOMAINS) {
		xsetprintf(cause, "%s_domains: at most %d domains",
		    blocked ? "blocked" : "allowed", CONV_MAX_SEARCH_DOMAINS);
		return KF_EINVAL;
	}
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = xstrdup(domain);
	return KF_OK;
}

struct conv_msg *
conv_insert_msg(struct conv *c, size_t i, enum conv_role role)
{
	struct conv_msg	*m;

	if (i > c->n_msgs)
		i = c->n_msgs;
	if (c->n_msgs == c->cap_msgs) {
		c->cap_msgs = c->cap_msgs == 0 ? 8 : c->cap_msgs * 2;
		c->msgs = xreallocarray(c->msgs, c->cap_msgs, sizeof(*c->msgs));
	}
	memmove(&c->msgs[i + 1], &c->msgs[i],
	    (c->n_msgs - i) * sizeof(*c->msgs));
	c->n_msgs++;
	m = &c->msgs[i];
	memset(m, 0, sizeof(*m));
	m->role = role;
	return m;
}

void
conv_add_stop(struct conv *c, const char *seq)
{
	if (seq == NULL || seq[0] == '\0')
		return;
	c->stop = xreallocarray(c->stop, c->n_stop + 1, sizeof(*c->stop));
	c->stop[c->n_stop++] = xstrdup(seq);
}

struct conv_msg *
conv_add_msg(struct conv *c, enum conv_role role)
{
	return conv_insert_msg(c, c->n_msgs, role);
}

void
conv_remove_msg(struct conv *c, size_t i)
{
	if (i >= c->n_msgs)
		return;
	conv_msg_clear(&c->msgs[i]);
	memmove(&c->msgs[i], &c->msgs[i + 1],
	    (c->n_msgs - i - 1) * sizeof(*c->msgs));
	c->n_msgs--;
}

static struct conv_block *
block_push(struct conv_block **arr, size_t *n, size_t *cap,
    enum conv_block_type type)
{
	struct conv_block	*b;

	if (*n == *cap) {
		*cap = *cap == 0 ? 4 : *cap * 2;
		*arr = xreallocarray(*arr, *cap, sizeof(**arr));
	}
	b = &(*arr)[(*n)++];
	memset(b, 0, sizeof(*b));
	b->type = type;
	return b;
}

struct conv_block *
conv_msg_add_block(struct conv_msg *m, enum conv_block_type type)
{
	return block_push(&m->blocks, &m->n_blocks, &m->cap_blocks, type);
}

struct conv_block *
conv_block_add_content(struct conv_block *b, enum conv_block_type type)
{
	return block_push(&b->content, &b->n_content, &b->cap_content, type);
}

void
conv_msg_remove_block(struct conv_msg *m, size_t i)
{
	if (i >= m->n_blocks)
		return;
	conv_block_clear(&m->blocks[i]);
	memmove(&m->blocks[i], &m->blocks[i + 1],
	    (m->n_blocks - i - 1) * sizeof(*m->blocks));
	m->n_blocks--;
}

struct conv_tool *
conv_add_tool(struct conv *c)
{
	struct conv_tool	*t;

	if (c->n_tools == c->cap_tools) {
		c->cap_tools = c->cap_tools == 0 ? 8 : c->cap_tools * 2;
		c->tools = xreallocarray(c->tools, c->cap_tools,
		    sizeof(*c->tools));
	}
	t = &c->tools[c->n_tools++];
	memset(t, 0, sizeof(*t));
	return t;
}

void
conv_remove_tool(struct conv *c, size_t i)
{
	if (i >= c->n_tools)
		return;
	free(c->tools[i].name);
	free(c->tools[i].description);
	json_object_put(c->tools[i].schema);
	memmove(&c->tools[i], &c->tools[i + 1],
	    (c->n_tools - i - 1) * sizeof(c->tools[0]));
	c->n_tools--;
}

void
conv_append_system(struct conv *c, const char *text)
{
	char	*joined;

	if (text == NULL)
		return;
	if (c->system == NULL) {
		c->system = xstrdup(text);
		return;
	}
	joined = xasprintf("%s\n%s", c->system, text);
	free(c->system);
	c->system = joined;
}

char *
conv_msg_text(const struct conv_msg *m, const char *sep)
{
	struct buf	out = BUF_INIT;
	size_t		i;
	int		first = 1;

	for (i = 0; i < m->n_blocks; i++) {
		if (m->blocks[i].type != CONV_BLOCK_TEXT ||
		    m->blocks[i].text == NULL)
			continue;
		if (!first)
			buf_puts(&out, sep);
		buf_puts(&out, m->blocks[i].text);
		first = 0;
	}
	return buf_detach(&out);
}

enum kf_err
conv_check_limits(const struct conv *c, char **cause)
{
	size_t	i, j, n_blocks = 0, len;

	if (c->n_tools > CONV_MAX_TOOLS) {
		xsetprintf(cause, "too many tools: %zu (at most %d per "
		    "request)", c->n_tools, CONV_MAX_TOOLS);
		return KF_EINVAL;
	}
	if (c->n_msgs > CONV_MAX_MESSAGES) {
		xsetprintf(cause, "too many messages: %zu (at most %d per "
		    "request)", c->n_msgs, CONV_MAX_MESSAGES);
		return KF_EINVAL;
	}
	for (i = 0; i < c->n_msgs; i++) {
		n_blocks += c->msgs[i].n_blocks;
		for (j = 0; j < c->msgs[i].n_blocks; j++)
			n_blocks += c->msgs[i].blocks[j].n_content;
	}
	if (n_blocks > CONV_MAX_BLOCKS) {
		xsetprintf(cause, "too many content blocks: %zu (at most %d "
		    "per request, counting those inside tool results)",
		    n_blocks, CONV_MAX_BLOCKS);
		return KF_EINVAL;
	}
	if (c->n_stop > CONV_MAX_STOP) {
		xsetprintf(cause, "too many stop sequences: %zu (at most %d)",
		    c->n_stop, CONV_MAX_STOP);
		return KF_EINVAL;
	}
	for (i = 0; i < c->n_stop; i++)
		if ((len = strlen(c->stop[i])) > CONV_MAX_STOP_BYTES) {
			xsetprintf(cause, "stop sequence %zu is %zu bytes long "
			    "(at most %d bytes each)", i, len,
			    CONV_MAX_STOP_BYTES);
			return KF_EINVAL;
		}
	return KF_OK;
}

const char *
conv_role_name(enum conv_role role)
{
	if ((unsigned)role >= CONV_ROLE__MAX)
		return "unknown";
	return role_names[role];
}

char *
conv_src_path(const struct conv *c, const struct conv_src *src, int tool,
    char *out, size_t size)
{
	const char	*items;
	int		 n;

	if (size == 0)
		return out;
	out[0] = '\0';
	if (src == NULL || src->item == 0)
		return out;
	items = tool ? (c->src_tools != NULL ? c->src_tools : "tools") :
	    (c->src_items != NULL ? c->src_items : "messages");
	if (src->part > 0 && src->part_key != NULL)
		n = snprintf(out, size, "%s[%zu].%s[%zu]", items,
		    src->item - 1, src->part_key, src->part - 1);
	else
		n = snprintf(out, size, "%s[%zu]", items, src->item - 1);
	if (n < 0 || (size_t)n >= size)
		out[0] = '\0';
	return out;
}

const struct conv_src *
conv_msg_src(const struct conv_msg *m)
{
	size_t	i;

	for (i = 0; i < m->n_blocks; i++)
		if (m->blocks[i].src.item > 0)
			return &m->blocks[i].src;
	return NULL;
}
