/* history.c: repair a conversation so Kiro accepts it (§3.3). */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "conv.h"
#include "err.h"
#include "history.h"
#include "kiro_req.h"
#include "strset.h"
#include "xmalloc.h"

/*
 * Kiro takes only jpeg, png, gif and webp (§3.3.13).  Rewrites media_type to
 * its canonical spelling ("image/jpg" and any case count) and returns 1, or
 * returns 0 for anything else.
 */
static int
image_normalise(struct conv_block *b)
{
	const char	*format;

	if (b->data == NULL || b->data[0] == '\0' ||
	    (format = kiro_image_format(b->media_type)) == NULL)
		return 0;
	free(b->media_type);
	b->media_type = xasprintf("image/%s", format);
	return 1;
}

/* Removes "" keys at every depth; Kiro rejects them (§3.3.12, AIC). */
static void
input_sanitise(json_object *v)
{
	size_t	i, n;

	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			input_sanitise(json_object_array_get_idx(v, i));
		return;
	}
	if (!json_object_is_type(v, json_type_object))
		return;
	json_object_object_del(v, "");
	json_object_object_foreach(v, key, val) {
		(void)key;
		input_sanitise(val);
	}
}

/*
 * Every filter below keeps blocks in one pass: kept ones move down over the
 * dropped, so a message of n blocks costs O(n) however many go (removing
 * them one memmove at a time was quadratic).
 */

/* Keeps only TEXT and valid IMAGE blocks inside a tool result. */
static void
result_content_filter(struct conv_block *r)
{
	struct conv_block	*c;
	size_t			 i, out = 0;

	for (i = 0; i < r->n_content; i++) {
		c = &r->content[i];
		if (c->type == CONV_BLOCK_TEXT ||
		    (c->type == CONV_BLOCK_IMAGE && image_normalise(c)))
			r->content[out++] = *c;
		else
			conv_block_clear(c);
	}
	r->n_content = out;
}

/*
 * Drops what a message of its role cannot carry in Kiro: tool uses, images
 * and results on the wrong side, thinking in user turns, empty thinking,
 * bad images, tool blocks without an id or name.
 */
static void
msg_filter_blocks(struct conv_msg *m)
{
	struct conv_block	*b;
	size_t			 i, out = 0;
	int			 keep;

	for (i = 0; i < m->n_blocks; i++) {
		b = &m->blocks[i];
		keep = 0;
		switch (b->type) {
		case CONV_BLOCK_TEXT:
			keep = 1;
			break;
		case CONV_BLOCK_IMAGE:
			keep = m->role == CONV_ROLE_USER && image_normalise(b);
			break;
		case CONV_BLOCK_TOOL_USE:
			keep = m->role == CONV_ROLE_ASSISTANT &&
			    b->id != NULL && b->id[0] != '\0' &&
			    b->name != NULL && b->name[0] != '\0';
			if (keep)
				input_sanitise(b->input);
			break;
		case CONV_BLOCK_TOOL_RESULT:
			keep = m->role == CONV_ROLE_USER &&
			    b->id != NULL && b->id[0] != '\0';
			if (keep)
				result_content_filter(b);
			break;
		case CONV_BLOCK_THINKING:
			keep = m->role == CONV_ROLE_ASSISTANT &&
			    b->text != NULL && b->text[0] != '\0';
			break;
		default:
			break;
		}
		if (keep)
			m->blocks[out++] = *b;
		else
			conv_block_clear(b);
	}
	m->n_blocks = out;
}

/* Moves every block of src to the end of dst; src is left empty. */
static void
msg_take_blocks(struct conv_msg *dst, struct conv_msg *src)
{
	struct conv_block	*b;
	size_t			 i;

	for (i = 0; i < src->n_blocks; i++) {
		b = conv_msg_add_block(dst, src->blocks[i].type);
		*b = src->blocks[i];
	}
	free(src->blocks);
	src->blocks = NULL;
	src->n_blocks = src->cap_blocks = 0;
}

/*
 * Removes messages with no blocks (except the last: it is the user's turn
 * and kiro_req gives it placeholder content) and merges consecutive
 * messages of one role (§3.3.4), in one pass: each message kept moves down
 * once, each merged one hands its blocks over once.
 */
static void
compact(struct conv *c)
{
	struct conv_msg	*m;
	size_t		 i, out = 0;

	for (i = 0; i < c->n_msgs; i++) {
		m = &c->msgs[i];
		if (m->n_blocks == 0 && i + 1 < c->n_msgs)
			conv_msg_clear(m);
		else if (out > 0 && c->msgs[out - 1].role == m->role) {
			/* A cache point inside is best kept after it. */
			c->msgs[out - 1].cache_point |= m->cache_point;
			msg_take_blocks(&c->msgs[out - 1], m);
			conv_msg_clear(m);
		} else
			c->msgs[out++] = *m;
	}
	c->n_msgs = out;
}

/* The ids of the tool results in m. */
static void
result_ids(const struct conv_msg *m, struct strset *out)
{
	size_t	i;

	strset_free(out);
	for (i = 0; i < m->n_blocks; i++)
		if (m->blocks[i].type == CONV_BLOCK_TOOL_RESULT)
			strset_add(out, m->blocks[i].id);
}

/*
 * Kiro wants every toolUse answered in the very next user turn and every
 * toolResult to answer the turn just before it (§3.5).  On a compacted conv
 * (strict alternation, last message user):
 *  1. a tool use whose id the next message has no result for is dropped;
 *  2. a repeated tool use id keeps its first (answered) use;
 *  3. a result whose id the previous assistant turn does not use, or that
 *     repeats one already seen in its message, is dropped.
 * Dropping only ever removes uses or results with no partner, so the pairs
 * kept stay paired.
 */
static void
pair_tools(struct conv *c)
{
	struct strset		 ids = STRSET_INIT(0);
	struct strset		 seen = STRSET_INIT(0);
	struct conv_msg		*m, *next, *prev;
	struct conv_block	*b;
	size_t			 i, j, out;

	for (i = 0; i < c->n_msgs; i++) {
		m = &c->msgs[i];
		if (m->role != CONV_ROLE_ASSISTANT)
			continue;
		next = i + 1 < c->n_msgs ? &c->msgs[i + 1] : NULL;
		strset_free(&ids);
		if (next != NULL && next->role == CONV_ROLE_USER)
			result_ids(next, &ids);
		for (j = 0, out = 0; j < m->n_blocks; j++) {
			b = &m->blocks[j];
			if (b->type == CONV_BLOCK_TOOL_USE &&
			    (!strset_has(&ids, b->id) ||
			    strset_has(&seen, b->id))) {
				conv_block_clear(b);
				continue;
			}
			if (b->type == CONV_BLOCK_TOOL_USE)
				strset_add(&seen, b->id);
			m->blocks[out++] = *b;
		}
		m->n_blocks = out;
	}
	for (i = 0; i < c->n_msgs; i++) {
		m = &c->msgs[i];
		if (m->role != CONV_ROLE_USER)
			continue;
		prev = i > 0 ? &c->msgs[i - 1] : NULL;
		strset_free(&ids);
		if (prev != NULL && prev->role == CONV_ROLE_ASSISTANT)
			for (j = 0; j < prev->n_blocks; j++)
				if (prev->blocks[j].type == CONV_BLOCK_TOOL_USE)
					strset_add(&ids, prev->blocks[j].id);
		strset_free(&seen);
		for (j = 0, out = 0; j < m->n_blocks; j++) {
			b = &m->blocks[j];
			if (b->type == CONV_BLOCK_TOOL_RESULT &&
			    (!strset_has(&ids, b->id) ||
			    strset_has(&seen, b->id))) {
				conv_block_clear(b);
				continue;
			}
			if (b->type == CONV_BLOCK_TOOL_RESULT)
				strset_add(&seen, b->id);
			m->blocks[out++] = *b;
		}
		m->n_blocks = out;
	}
	strset_free(&ids);
	strset_free(&seen);
}

/*
 * Replaces the images of one block array by a single TEXT block where the
 * first of them was.
 */
static void
omit_images(struct conv_block *blocks, size_t *n)
{
	size_t	i, out, first = 0, count = 0;

	for (i = 0, out = 0; i < *n; i++) {
		if (blocks[i].type != CONV_BLOCK_IMAGE) {
			blocks[out++] = blocks[i];
			continue;
		}
		if (count++ == 0) {
			first = out;
			out++;		/* keep the slot for the text */
		}
		conv_block_clear(&blocks[i]);
	}
	if (count == 0)
		return;
	*n = out;
	memset(&blocks[first], 0, sizeof(blocks[first]));
	blocks[first].type = CONV_BLOCK_TEXT;
	blocks[first].text = xasprintf("[%zu image(s) omitted from history]",
	    count);
}

/* Keeps images only in the last opts->max_image_msgs messages (§3.3.13). */
static void
limit_images(struct conv *c, const struct history_opts *opts)
{
	struct conv_msg	*m;
	size_t		 i, j, keep;

	keep = opts != NULL ? opts->max_image_msgs : 0;
	if (keep == 0 || c->n_msgs <= keep)
		return;
	for (i = 0; i < c->n_msgs - keep; i++) {
		m = &c->msgs[i];
		for (j = 0; j < m->n_blocks; j++)
			if (m->blocks[j].type == CONV_BLOCK_TOOL_RESULT)
				omit_images(m->blocks[j].content,
				    &m->blocks[j].n_content);
		omit_images(m->blocks, &m->n_blocks);
	}
}

enum kf_err
history_repair(struct conv *c, const struct history_opts *opts, char **cause)
{
	size_t	i;

	/* No prefill: Kiro answers the last user turn (§3.3.1). */
	while (c->n_msgs > 0 &&
	    c->msgs[c->n_msgs - 1].role != CONV_ROLE_USER)
		conv_remove_msg(c, c->n_msgs - 1);
	if (c->n_msgs == 0) {
		xsetprintf(cause, "messages must contain at least one user "
		    "message");
		return KF_EINVAL;
	}
	for (i = 0; i < c->n_msgs; i++)
		msg_filter_blocks(&c->msgs[i]);
	compact(c);
	pair_tools(c);
	/*
	 * Pairing can empty a message; removing it and merging its neighbours
	 * keeps the pairs: an emptied user turn answered nothing, so the
	 * assistant before it has no tool uses left, and an emptied assistant
	 * turn used nothing, so the user turn after it has no results left.
	 */
	compact(c);
	limit_images(c, opts);
	return KF_OK;
}

/* A user message with something besides tool results starts a turn. */
static int
starts_turn(const struct conv_msg *m)
{
	size_t	i;

	if (m->role != CONV_ROLE_USER)
		return 0;
	for (i = 0; i < m->n_blocks; i++)
		if (m->blocks[i].type != CONV_BLOCK_TOOL_RESULT)
			return 1;
	return 0;
}

int
history_drop_oldest_turn(struct conv *c)
{
	size_t	i, n;

	if (c->n_msgs <= 1)
		return 0;
	for (n = 1; n + 1 < c->n_msgs && !starts_turn(&c->msgs[n]); n++)
		;
	/* One move for the whole turn, however many messages it had. */
	for (i = 0; i < n; i++)
		conv_msg_clear(&c->msgs[i]);
	memmove(&c->msgs[0], &c->msgs[n], (c->n_msgs - n) * sizeof(*c->msgs));
	c->n_msgs -= n;
	return 1;
}

/*
 * Kiro's wrapping, a little under what kiro_req writes, so that an
 * estimate rarely exceeds the bytes a message really adds: a user entry
 * ({"userInputMessage":{"content":..,"modelId":..,"origin":"AI_EDITOR"}}),
 * an assistant one, a tool use, a tool result, an image.
 */
#define EST_USER_MSG	80
#define EST_ASSISTANT_MSG	40
#define EST_TOOL_USES	14	/* ,"toolUses":[] */
#define EST_TOOL_USE	36
#define EST_RESULTS	70	/* placeholder content, context, toolResults */
#define EST_TOOL_RESULT	50
#define EST_IMAGE	35
#define EST_THINKING	25	/* its <thinking> tags */

/* The length of s as a JSON string, its escapes counted (NULL is 0). */
static size_t
json_str_bytes(const char *s)
{
	const unsigned char	*p;
	size_t			 n = 0;

	if (s == NULL)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p == '"' || *p == '\\' || *p == '\n' || *p == '\r' ||
		    *p == '\t' || *p == '\b' || *p == '\f')
			n += 2;
		else if (*p < 0x20)
			n += 6;		/* \u00XX */
		else
			n++;
	return n;
}

static size_t
block_bytes(const struct conv_block *b)
{
	size_t	n = 0, i;

	switch (b->type) {
	case CONV_BLOCK_TEXT:
		return json_str_bytes(b->text) + 2;
	case CONV_BLOCK_THINKING:
		return json_str_bytes(b->text) + EST_THINKING;
	case CONV_BLOCK_IMAGE:
		return (b->data != NULL ? strlen(b->data) : 0) + EST_IMAGE;
	case CONV_BLOCK_TOOL_USE:
		/* The input as kiro_req writes it (json_to_buf's flags). */
		if (b->input != NULL)
			n = strlen(json_object_to_json_string_ext(b->input,
			    JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE));
		return n + json_str_bytes(b->id) + json_str_bytes(b->name) +
		    EST_TOOL_USE;
	case CONV_BLOCK_TOOL_RESULT:
		for (i = 0; i < b->n_content; i++)
			n += block_bytes(&b->content[i]);
		return n + json_str_bytes(b->id) + EST_TOOL_RESULT;
	default:
		return 0;
	}
}

size_t
history_msg_bytes(const struct conv_msg *m)
{
	size_t	n, i;
	int	uses = 0, results = 0;

	n = m->role == CONV_ROLE_USER ? EST_USER_MSG : EST_ASSISTANT_MSG;
	for (i = 0; i < m->n_blocks; i++) {
		n += block_bytes(&m->blocks[i]);
		uses |= m->blocks[i].type == CONV_BLOCK_TOOL_USE;
		results |= m->blocks[i].type == CONV_BLOCK_TOOL_RESULT;
	}
	return n + (uses ? EST_TOOL_USES : 0) + (results ? EST_RESULTS : 0);
}

size_t
history_drop_oldest_bytes(struct conv *c, size_t excess, size_t budget)
{
	size_t	i, n, end, size, turns = 0, dropped = 0, left = 0;
	int	capped;

	if (c->n_msgs <= 1)
		return 0;
	for (i = 0; i < c->n_msgs; i++)
		left += history_msg_bytes(&c->msgs[i]);
	/*
	 * n is the first message kept.  A turn runs from n to the next
	 * message that starts one; the last message always stays.  Stop once
	 * the excess is covered, or, when the messages are estimated over the
	 * budget, once they are not: a small error on a huge excess could
	 * otherwise drop all the turns, where a rebuild catches what an
	 * estimate misses and dropping too much loses turns for good.
	 */
	capped = left > budget;
	n = 0;
	do {
		for (end = n + 1; end + 1 < c->n_msgs &&
		    !starts_turn(&c->msgs[end]); end++)
			;
		for (i = n; i < end; i++) {
			size = history_msg_bytes(&c->msgs[i]);
			dropped += size;
			left -= size;
		}
		n = end;
		turns++;
	} while (n + 1 < c->n_msgs && dropped < excess &&
	    (!capped || left > budget));
	/* One move for all the turns, however many there were. */
	for (i = 0; i < n; i++)
		conv_msg_clear(&c->msgs[i]);
	memmove(&c->msgs[0], &c->msgs[n], (c->n_msgs - n) * sizeof(*c->msgs));
	c->n_msgs -= n;
	return turns;
}

enum kf_err
history_build_within(struct conv *c, const struct history_opts *opts,
    const struct kiro_req_opts *kopts, size_t max_bytes, struct buf *body,
    struct kiro_toolmap *map, struct history_fit *fit, char **cause)
{
	struct history_fit	 none;
	size_t			 turns;
	enum kf_err		 er;

	if (fit == NULL)
		fit = &none;
	memset(fit, 0, sizeof(*fit));
	for (;;) {
		buf_reset(body);
		if ((er = kiro_req_build(c, kopts, body, map, cause)) != KF_OK)
			return er;
		fit->builds++;
		if (max_bytes == 0 || body->len <= max_bytes)
			return KF_OK;
		turns = history_drop_oldest_bytes(c, body->len - max_bytes,
		    max_bytes);
		if (turns == 0)
			return KF_OK;
		fit->turns_dropped += turns;
		if ((er = history_repair(c, opts, cause)) != KF_OK)
			return er;
	}
}
